/* home.c - a node's home: identity file, store, and opening/unlocking them. */
#include "node_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_NAME "identity.key"
#define STORE_NAME   "store"

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
    for (;;) {
        if (n == cap) {
            uint8_t extra;
            ssize_t r = read(fd, &extra, 1);
            if (r != 0) rc = r < 0 ? RUMOR_ERR_IO : RUMOR_ERR_MALFORMED;
            break;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = RUMOR_ERR_IO;
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return rc;
}

/* Writes `path` so that it either holds all of `buf` or does not change: temp file, fsync, rename.
 */
static int write_file_atomic(const char *dir, const char *path, const uint8_t *buf, size_t len,
                             bool excl)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return RUMOR_ERR_INVALID;
    if (excl && access(path, F_OK) == 0) return RUMOR_ERR_EXISTS;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return RUMOR_ERR_IO;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int rc = off == len && fsync(fd) == 0 ? RUMOR_OK : RUMOR_ERR_IO;
    if (close(fd) != 0) rc = RUMOR_ERR_IO;
    if (rc == RUMOR_OK) {
        /* link() fails if the target appeared meanwhile, so `excl` never overwrites. */
        if (excl) {
            if (link(tmp, path) != 0) rc = errno == EEXIST ? RUMOR_ERR_EXISTS : RUMOR_ERR_IO;
            unlink(tmp);
        } else if (rename(tmp, path) != 0) {
            rc = RUMOR_ERR_IO;
        }
    }
    if (rc != RUMOR_OK) unlink(tmp);
    if (rc == RUMOR_OK && dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return rc;
}

static char *dir_of(const char *path)
{
    char *d = strdup(path);
    if (!d) return NULL;
    char *slash = strrchr(d, '/');
    if (!slash) {
        strcpy(d, ".");
    } else if (slash == d) {
        d[1] = '\0';
    } else {
        *slash = '\0';
    }
    return d;
}

/* Undo record for a failed init: what we created, so we remove exactly that. */
typedef struct {
    bool made_home;  /* we made the home directory */
    bool made_store; /* we made the store directory */
} created_t;

static void undo_created(const char *home, const created_t *c)
{
    char p[PATH_MAX];
    if (c->made_store) {
        if (join(p, sizeof p, home, STORE_NAME "/data.mdb") == 0) unlink(p);
        if (join(p, sizeof p, home, STORE_NAME "/lock.mdb") == 0) unlink(p);
        if (join(p, sizeof p, home, STORE_NAME) == 0) rmdir(p);
    }
    if (c->made_home) rmdir(home);
}

static int make_dir(const char *path, bool *made)
{
    *made = false;
    if (mkdir(path, 0700) == 0) {
        *made = true;
        return RUMOR_OK;
    }
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

static int open_store(rumor_node_t *n)
{
    char p[PATH_MAX];
    int rc = join(p, sizeof p, n->home, STORE_NAME);
    if (rc < 0) return rc;
    return rumor_store_open(p, NULL, &n->store);
}

/* Shared by init and import: make the home around an identity and its key file image. */
static int make_home(const char *home, rumor_identity_t **idp,
                     const uint8_t keyfile[RUMOR_KEYFILE_BYTES], const char *nick)
{
    char kpath[PATH_MAX], spath[PATH_MAX];
    created_t made = {0};
    rumor_node_t *n = NULL;
    int rc = join(kpath, sizeof kpath, home, KEYFILE_NAME);
    if (rc == RUMOR_OK) rc = join(spath, sizeof spath, home, STORE_NAME);
    if (rc < 0) return rc;
    if (access(kpath, F_OK) == 0) return RUMOR_ERR_EXISTS;

    if ((rc = make_dir(home, &made.made_home)) < 0) goto out;
    if ((rc = make_dir(spath, &made.made_store)) < 0) goto out;
    if ((rc = node_new(home, &n)) < 0) goto out;
    if ((rc = open_store(n)) < 0) goto out;
    n->id = *idp;
    *idp = NULL;
    memcpy(n->pk, rumor_identity_public(n->id), RUMOR_ID_BYTES);
    if (nick && (rc = rumor_node_set_nick(n, nick)) < 0) goto out;
    /* The key file last: a home with a key file is a complete home. */
    rc = write_file_atomic(home, kpath, keyfile, RUMOR_KEYFILE_BYTES, true);
    /* The home holds secrets: only its owner may enter it. */
    if (rc == RUMOR_OK && chmod(home, 0700) != 0) rc = RUMOR_ERR_IO;
out:
    if (n) rumor_node_close(&n);
    if (rc < 0) undo_created(home, &made);
    return rc;
}

int rumor_node_init_home(const char *home, const char *nick, const rumor_passphrase_t *pass,
                         uint8_t id_out[RUMOR_ID_BYTES])
{
    rumor_identity_t *id = NULL;
    uint8_t keyfile[RUMOR_KEYFILE_BYTES];
    int rc = rumor_crypto_init();
    if (rc < 0) return rc;
    if (nick && (rc = rumor_node_check_nick(nick)) < 0) return rc;
    if ((rc = rumor_identity_generate(&id)) < 0) return rc;
    rc = rumor_keyfile_seal(id, pass ? pass->pass : NULL, pass ? pass->len : 0, 0, 0, keyfile);
    if (rc == RUMOR_OK) {
        memcpy(id_out, rumor_identity_public(id), RUMOR_ID_BYTES);
        rc = make_home(home, &id, keyfile, nick);
    }
    rumor_identity_destroy(&id);
    rumor_wipe(keyfile, sizeof keyfile);
    return rc;
}

int rumor_node_import_home(const char *home, const char *file, const rumor_passphrase_t *pass,
                           uint8_t id_out[RUMOR_ID_BYTES])
{
    uint8_t keyfile[RUMOR_KEYFILE_BYTES + 1];
    size_t len = 0;
    rumor_identity_t *id = NULL;
    int rc = rumor_crypto_init();
    if (rc < 0) return rc;
    if ((rc = read_small_file(file, keyfile, sizeof keyfile, &len)) < 0) goto out;
    if ((rc = rumor_keyfile_open(keyfile, len, pass ? pass->pass : NULL, pass ? pass->len : 0,
                                 &id)) < 0)
        goto out;
    memcpy(id_out, rumor_identity_public(id), RUMOR_ID_BYTES);
    rc = make_home(home, &id, keyfile, NULL);
out:
    rumor_identity_destroy(&id);
    rumor_wipe(keyfile, sizeof keyfile);
    return rc;
}

int rumor_node_open(const char *home, rumor_node_t **out)
{
    char kpath[PATH_MAX];
    uint8_t keyfile[RUMOR_KEYFILE_BYTES + 1];
    size_t len = 0;
    rumor_node_t *n = NULL;
    int rc = rumor_crypto_init();
    if (rc == RUMOR_OK) rc = join(kpath, sizeof kpath, home, KEYFILE_NAME);
    if (rc == RUMOR_OK) rc = read_small_file(kpath, keyfile, sizeof keyfile, &len);
    if (rc == RUMOR_ERR_NOT_FOUND) rc = RUMOR_ERR_NO_IDENTITY;
    if (rc == RUMOR_OK) rc = node_new(home, &n);
    if (rc == RUMOR_OK) rc = rumor_keyfile_inspect(keyfile, len, n->pk, &n->is_protected);
    /* An unprotected key file holds the seed in clear: keep it in locked memory only. */
    if (rc == RUMOR_OK && !(n->keyfile = sodium_malloc(RUMOR_KEYFILE_BYTES))) rc = RUMOR_ERR_NOMEM;
    if (rc == RUMOR_OK) memcpy(n->keyfile, keyfile, RUMOR_KEYFILE_BYTES);
    rumor_wipe(keyfile, sizeof keyfile);
    if (rc == RUMOR_OK) rc = open_store(n);
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
    sodium_free(n->keyfile);
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

int rumor_node_export_identity(rumor_node_t *n, const char *path, const rumor_passphrase_t *pass)
{
    if (!n->id) return RUMOR_ERR_PASSPHRASE;
    if (!pass || !pass->pass) return RUMOR_ERR_INVALID;
    uint8_t keyfile[RUMOR_KEYFILE_BYTES];
    int rc = rumor_keyfile_seal(n->id, pass->pass, pass->len, 0, 0, keyfile);
    char *dir = dir_of(path);
    if (!dir) rc = RUMOR_ERR_NOMEM;
    if (rc == RUMOR_OK) rc = write_file_atomic(dir, path, keyfile, sizeof keyfile, true);
    free(dir);
    rumor_wipe(keyfile, sizeof keyfile);
    return rc;
}
