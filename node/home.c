/* home.c - a node's home: identity file, store, and opening/unlocking them. */
#include "node_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_NAME "identity.key"
#define STORE_NAME   "store"
/* The store remembers whose it is, so a key file and a store never get mixed up. */
#define OWNER_META "owner"
/* A key file image and one extra byte, to tell a too-long file. */
#define KEYFILE_READ (RUMOR_KEYFILE_BYTES + 1)

static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? RUMOR_ERR_INVALID : RUMOR_OK;
}

/* Reads a whole small file (at most `cap` bytes; RUMOR_ERR_MALFORMED when larger). */
static int read_small_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? RUMOR_ERR_NOT_FOUND : RUMOR_ERR_IO;
    size_t n = 0;
    int rc = RUMOR_OK;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = RUMOR_ERR_IO;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return rc;
}

/* Reads a key file image into locked memory (it may hold a seed in clear). */
static int read_keyfile(const char *path, uint8_t **out, size_t *len)
{
    uint8_t *buf = rumor_secret_alloc(KEYFILE_READ);
    if (!buf) return RUMOR_ERR_NOMEM;
    int rc = read_small_file(path, buf, KEYFILE_READ, len);
    if (rc < 0) {
        rumor_secret_free(buf);
        return rc;
    }
    *out = buf;
    return RUMOR_OK;
}

/* The directory part of a path ("." for a bare name). NULL when out of memory. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/*
 * Creates `path` holding exactly `buf`, never replacing anything already there
 * (file, directory or symlink): a private temporary file made with mkstemp in
 * the same directory, synced, then link()ed into place, which fails if the
 * name exists. A crash leaves either no file or the whole file.
 */
static int write_new_file(const char *path, const uint8_t *buf, size_t len)
{
    char tmp[PATH_MAX];
    if (!*path || path[strlen(path) - 1] == '/') return RUMOR_ERR_INVALID;
    char *dir = dir_of(path);
    if (!dir) return RUMOR_ERR_NOMEM;
    int rc = RUMOR_OK;
    /* A short temporary name, so any legal file name can be the target. */
    if (snprintf(tmp, sizeof tmp, "%s/.rumor-XXXXXX", dir) >= (int)sizeof tmp) {
        rc = RUMOR_ERR_INVALID;
        goto out;
    }
    int fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0) {
        rc = errno == ENOENT ? RUMOR_ERR_NOT_FOUND : RUMOR_ERR_IO;
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (off != len || fsync(fd) != 0) rc = RUMOR_ERR_IO;
    if (close(fd) != 0) rc = RUMOR_ERR_IO;
    if (rc == RUMOR_OK && link(tmp, path) != 0)
        rc = errno == EEXIST ? RUMOR_ERR_EXISTS : RUMOR_ERR_IO;
    unlink(tmp);
    if (rc == RUMOR_OK) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0) rc = RUMOR_ERR_IO;
        if (dfd >= 0) close(dfd);
    }
out:
    free(dir);
    return rc;
}

/* What a failed init made, so that exactly that is removed. */
typedef struct {
    bool made_home;    /* we made the home directory */
    bool made_keyfile; /* we wrote the key file */
    bool made_store;   /* we made the store directory */
} created_t;

static void undo_created(const char *home, const created_t *c)
{
    char p[PATH_MAX];
    if (c->made_store) {
        if (join(p, sizeof p, home, STORE_NAME "/data.mdb") == 0) unlink(p);
        if (join(p, sizeof p, home, STORE_NAME "/lock.mdb") == 0) unlink(p);
        if (join(p, sizeof p, home, STORE_NAME) == 0) rmdir(p);
    }
    if (c->made_keyfile && join(p, sizeof p, home, KEYFILE_NAME) == 0) unlink(p);
    if (c->made_home) rmdir(home);
}

/* Makes a private directory; *made tells whether it is new. */
static int make_dir(const char *path, bool *made)
{
    *made = false;
    if (mkdir(path, 0700) == 0) {
        *made = true;
        return RUMOR_OK;
    }
    if (errno == ENOENT) return RUMOR_ERR_NOT_FOUND; /* its parent does not exist */
    if (errno != EEXIST) return RUMOR_ERR_IO;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return RUMOR_ERR_IO;
    return RUMOR_OK;
}

static uint64_t system_clock(void *ctx)
{
    (void)ctx;
    return rumor_now_ms();
}

void rumor_node_set_clock(rumor_node_t *n, rumor_clock_fn clock, void *ctx)
{
    n->clock = clock ? clock : system_clock;
    n->clock_ctx = ctx;
}

static int node_new(const char *home, rumor_node_t **out)
{
    rumor_node_t *n = calloc(1, sizeof *n);
    if (!n) return RUMOR_ERR_NOMEM;
    n->clock = system_clock;
    n->home = strdup(home);
    if (!n->home) {
        free(n);
        return RUMOR_ERR_NOMEM;
    }
    *out = n;
    return RUMOR_OK;
}

/* Opens the home's store, making its directory if an init stopped before it. */
static int open_store(rumor_node_t *n)
{
    char p[PATH_MAX];
    bool made;
    int rc = join(p, sizeof p, n->home, STORE_NAME);
    if (rc == RUMOR_OK) rc = make_dir(p, &made);
    if (rc < 0) return rc;
    return rumor_store_open(p, NULL, &n->store);
}

/* The identity the store was made for; RUMOR_ERR_NOT_FOUND for a store without one. */
static int store_owner(rumor_node_t *n, uint8_t owner[RUMOR_ID_BYTES])
{
    rumor_txn_t *t;
    size_t len = 0;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    rc = rumor_store_meta_get(t, OWNER_META, owner, RUMOR_ID_BYTES, &len);
    rumor_store_read_end(&t);
    if (rc == RUMOR_OK && len != RUMOR_ID_BYTES) rc = RUMOR_ERR_STORE;
    return rc;
}

static int put_owner(rumor_txn_t *t, void *ctx)
{
    return rumor_store_meta_put(t, OWNER_META, ctx, RUMOR_ID_BYTES);
}

/*
 * Makes sure the node's store is its own: one naming this identity is; an
 * empty one without an owner (from an init that stopped early) is claimed;
 * anything else belongs to another identity.
 */
static int claim_store(rumor_node_t *n)
{
    uint8_t owner[RUMOR_ID_BYTES];
    int rc = store_owner(n, owner);
    if (rc == RUMOR_OK)
        return memcmp(owner, n->pk, RUMOR_ID_BYTES) == 0 ? RUMOR_OK : RUMOR_ERR_FOREIGN_STORE;
    if (rc != RUMOR_ERR_NOT_FOUND) return rc;
    rumor_txn_t *t;
    if ((rc = rumor_store_read_begin(n->store, &t)) < 0) return rc;
    uint64_t events = rumor_store_event_count(t);
    rumor_store_read_end(&t);
    if (events) return RUMOR_ERR_FOREIGN_STORE;
    return rumor_store_write(n->store, put_owner, n->pk);
}

/*
 * Shared by init and import: makes the home around an identity and its key
 * file image. The key file comes first: a crash after it leaves a home that
 * opens (its store is made or claimed on the next open), and of two inits
 * racing for one home only the one that wrote the key file goes on. A store
 * already in the home is kept only if it is this identity's or empty.
 */
static int make_home(const char *home, rumor_identity_t **idp, const uint8_t *keyfile,
                     const char *nick)
{
    char kpath[PATH_MAX], spath[PATH_MAX];
    created_t made = {0};
    rumor_node_t *n = NULL;
    int rc = join(kpath, sizeof kpath, home, KEYFILE_NAME);
    if (rc == RUMOR_OK) rc = join(spath, sizeof spath, home, STORE_NAME);
    if (rc < 0) return rc;
    if (access(kpath, F_OK) == 0) return RUMOR_ERR_EXISTS;

    if ((rc = make_dir(home, &made.made_home)) < 0) goto out;
    if ((rc = write_new_file(kpath, keyfile, RUMOR_KEYFILE_BYTES)) < 0) goto out;
    made.made_keyfile = true;
    if ((rc = make_dir(spath, &made.made_store)) < 0) goto out;
    if ((rc = node_new(home, &n)) < 0) goto out;
    if ((rc = open_store(n)) < 0) goto out;
    n->id = *idp;
    *idp = NULL;
    memcpy(n->pk, rumor_identity_public(n->id), RUMOR_ID_BYTES);
    if ((rc = claim_store(n)) < 0) goto out;
    if (nick && (rc = rumor_node_set_nick(n, nick)) < 0) goto out;
    /* The home holds secrets: only its owner may enter it. */
    if (chmod(home, 0700) != 0) rc = RUMOR_ERR_IO;
out:
    if (n) rumor_node_close(&n);
    if (rc < 0) undo_created(home, &made);
    return rc;
}

bool rumor_node_home_has_identity(const char *home)
{
    char kpath[PATH_MAX];
    return join(kpath, sizeof kpath, home, KEYFILE_NAME) == RUMOR_OK && access(kpath, F_OK) == 0;
}

int rumor_node_inspect_backup(const char *file, bool *is_protected)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = rumor_crypto_init();
    if (rc == RUMOR_OK) rc = read_keyfile(file, &buf, &len);
    if (rc == RUMOR_OK) rc = rumor_keyfile_inspect(buf, len, NULL, is_protected);
    rumor_secret_free(buf);
    return rc;
}

int rumor_node_init_home(const char *home, const char *nick, const rumor_passphrase_t *pass,
                         uint8_t id_out[RUMOR_ID_BYTES])
{
    rumor_identity_t *id = NULL;
    uint8_t *keyfile = NULL;
    int rc = rumor_crypto_init();
    if (rc < 0) return rc;
    if (nick && (rc = rumor_node_check_nick(nick)) < 0) return rc;
    if (!(keyfile = rumor_secret_alloc(RUMOR_KEYFILE_BYTES))) return RUMOR_ERR_NOMEM;
    if ((rc = rumor_identity_generate(&id)) < 0) goto out;
    rc = rumor_keyfile_seal(id, pass ? pass->pass : NULL, pass ? pass->len : 0, 0, 0, keyfile);
    if (rc < 0) goto out;
    memcpy(id_out, rumor_identity_public(id), RUMOR_ID_BYTES);
    rc = make_home(home, &id, keyfile, nick);
out:
    rumor_identity_destroy(&id);
    rumor_secret_free(keyfile);
    return rc;
}

int rumor_node_import_home(const char *home, const char *file, const rumor_passphrase_t *pass,
                           uint8_t id_out[RUMOR_ID_BYTES])
{
    uint8_t *keyfile = NULL;
    size_t len = 0;
    rumor_identity_t *id = NULL;
    int rc = rumor_crypto_init();
    if (rc == RUMOR_OK) rc = read_keyfile(file, &keyfile, &len);
    if (rc == RUMOR_OK)
        rc = rumor_keyfile_open(keyfile, len, pass ? pass->pass : NULL, pass ? pass->len : 0, &id);
    if (rc == RUMOR_OK) {
        memcpy(id_out, rumor_identity_public(id), RUMOR_ID_BYTES);
        rc = make_home(home, &id, keyfile, NULL);
    }
    rumor_identity_destroy(&id);
    rumor_secret_free(keyfile);
    return rc;
}

int rumor_node_open(const char *home, rumor_node_t **out)
{
    char kpath[PATH_MAX];
    size_t len = 0;
    rumor_node_t *n = NULL;
    int rc = rumor_crypto_init();
    if (rc == RUMOR_OK) rc = join(kpath, sizeof kpath, home, KEYFILE_NAME);
    if (rc == RUMOR_OK) rc = node_new(home, &n);
    /* The image stays in locked memory: an unprotected key file holds the seed in clear. */
    if (rc == RUMOR_OK) rc = read_keyfile(kpath, &n->keyfile, &len);
    if (rc == RUMOR_ERR_NOT_FOUND) rc = RUMOR_ERR_NO_IDENTITY;
    if (rc == RUMOR_OK) rc = rumor_keyfile_inspect(n->keyfile, len, n->pk, &n->is_protected);
    if (rc == RUMOR_OK) rc = open_store(n);
    if (rc == RUMOR_OK) rc = claim_store(n);
    if (rc < 0) {
        rumor_node_close(&n);
        return rc;
    }
    *out = n;
    return RUMOR_OK;
}

void rumor_node_close(rumor_node_t **np)
{
    if (!np || !*np) return;
    rumor_node_t *n = *np;
    rumor_store_close(&n->store);
    rumor_identity_destroy(&n->id);
    rumor_secret_free(n->keyfile);
    free(n->home);
    free(n);
    *np = NULL;
}

bool rumor_node_is_protected(const rumor_node_t *n)
{
    return n->is_protected;
}

int rumor_node_unlock(rumor_node_t *n, const rumor_passphrase_t *pass)
{
    if (n->id) return RUMOR_OK;
    if (!n->keyfile) return RUMOR_ERR_NO_IDENTITY;
    return rumor_keyfile_open(n->keyfile, RUMOR_KEYFILE_BYTES, pass ? pass->pass : NULL,
                              pass ? pass->len : 0, &n->id);
}

const uint8_t *rumor_node_id(const rumor_node_t *n)
{
    return n->pk;
}

const uint8_t *rumor_node_tampered_event(const rumor_node_t *n)
{
    return n->has_tampered ? n->tampered : NULL;
}

int rumor_node_export_identity(rumor_node_t *n, const char *path, const rumor_passphrase_t *pass)
{
    if (!n->id) return RUMOR_ERR_PASSPHRASE;
    if (!pass || !pass->pass || !*path) return RUMOR_ERR_INVALID;
    uint8_t keyfile[RUMOR_KEYFILE_BYTES]; /* sealed under the passphrase: nothing secret in it */
    int rc = rumor_keyfile_seal(n->id, pass->pass, pass->len, 0, 0, keyfile);
    if (rc == RUMOR_OK) rc = write_new_file(path, keyfile, sizeof keyfile);
    return rc;
}
