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
/* Key domains restored from a backup, still to be fetched (PROTOCOL.md 5.4). */
#define RESTORING_META "restoring"
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

/*
 * Reads a key file (PROTOCOL.md 5.1) or a backup (5.4) into locked memory (an
 * unprotected key file holds a seed in clear). RUMOR_ERR_MALFORMED for a file
 * larger than any backup.
 */
static int read_backup(const char *path, uint8_t **out, size_t *len)
{
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT ? RUMOR_ERR_NOT_FOUND : RUMOR_ERR_IO;
    if (!S_ISREG(st.st_mode)) return RUMOR_ERR_IO;
    if ((uint64_t)st.st_size > RUMOR_BACKUP_MAX) return RUMOR_ERR_MALFORMED;
    /* One byte more than the file had, to tell a file that grew meanwhile. */
    size_t cap = (size_t)st.st_size + 1;
    uint8_t *buf = rumor_secret_alloc(cap);
    if (!buf) return RUMOR_ERR_NOMEM;
    int rc = read_small_file(path, buf, cap, len);
    if (rc == RUMOR_OK && *len == cap) rc = RUMOR_ERR_MALFORMED;
    if (rc < 0) {
        rumor_secret_free(buf);
        return rc;
    }
    *out = buf;
    return RUMOR_OK;
}

static bool is_keyfile(const uint8_t *buf, size_t len)
{
    return len >= 8 && memcmp(buf, RUMOR_KEYFILE_MAGIC, 8) == 0;
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
/* Writes `buf` to `path` through a temporary file in its directory, synced: a new file (never
 * over one, RUMOR_ERR_EXISTS), or with `replace` in the place of the old one by rename(2), so the
 * path holds the old bytes or the new ones, never a part. */
static int write_file(const char *path, const uint8_t *buf, size_t len, bool replace)
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
    if (rc == RUMOR_OK && replace && rename(tmp, path) != 0) rc = RUMOR_ERR_IO;
    if (rc == RUMOR_OK && !replace && link(tmp, path) != 0)
        rc = errno == EEXIST ? RUMOR_ERR_EXISTS : RUMOR_ERR_IO;
    if (!replace || rc != RUMOR_OK) unlink(tmp);
    if (rc == RUMOR_OK) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* After a rename the new file is in place already: a failed directory sync only leaves
         * the old name's durability to the next sync, so it is not the caller's failure. */
        if ((dfd < 0 || fsync(dfd) != 0) && !replace) rc = RUMOR_ERR_IO;
        if (dfd >= 0) close(dfd);
    }
out:
    free(dir);
    return rc;
}

static int write_new_file(const char *path, const uint8_t *buf, size_t len)
{
    return write_file(path, buf, len, false);
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
/* Everything of a backup (PROTOCOL.md 5.4) that goes into the new store, in one transaction. */
static int restore_step(rumor_txn_t *t, void *ctx)
{
    void **args = ctx;
    const rumor_node_t *n = args[0];
    const rumor_backup_t *b = args[1];
    uint8_t sealed[RUMOR_KEY_AT_REST_BYTES];
    int rc = RUMOR_OK;
    for (size_t i = 0; rc == RUMOR_OK && i < rumor_backup_key_count(b); i++) {
        const rumor_backup_key_t *k = rumor_backup_key(b, i);
        /* Sealed again under this store's key: nothing secret is on disk in clear. */
        if ((rc = rumor_key_at_rest_seal(sealed, n->id, k->key)) == RUMOR_OK)
            rc = rumor_store_key_put(t, k->key_id, k->room, k->epoch, sealed);
    }
    for (size_t i = 0; rc == RUMOR_OK && i < rumor_backup_contact_count(b); i++) {
        const rumor_backup_contact_t *c = rumor_backup_contact(b, i);
        rc = rumor_store_contact_put(t, c->pk, c->name);
    }
    /* The backup lists its domains ascending and once each, as `restoring` keeps them. */
    size_t nd = rumor_backup_domain_count(b);
    uint8_t *list = malloc(nd ? nd * RUMOR_ID_BYTES : 1);
    if (!list) return RUMOR_ERR_NOMEM;
    for (size_t i = 0; i < nd; i++)
        memcpy(list + i * RUMOR_ID_BYTES, rumor_backup_domain(b, i), RUMOR_ID_BYTES);
    if (rc == RUMOR_OK) rc = rumor_store_meta_put(t, RESTORING_META, list, nd * RUMOR_ID_BYTES);
    free(list);
    return rc;
}

static int make_home(const char *home, rumor_identity_t **idp, const uint8_t *keyfile,
                     const char *nick, const rumor_backup_t *restore)
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
    if (restore) {
        void *args[2] = {n, (void *)restore};
        if ((rc = rumor_store_write(n->store, restore_step, args)) < 0) goto out;
    }
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
    if (rc == RUMOR_OK) rc = read_backup(file, &buf, &len);
    if (rc == RUMOR_OK && is_keyfile(buf, len)) {
        rc = rumor_keyfile_inspect(buf, len, NULL, is_protected);
    } else if (rc == RUMOR_OK) {
        rc = rumor_backup_inspect(buf, len, NULL);
        *is_protected = true; /* a backup always is */
    }
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
    rc = make_home(home, &id, keyfile, nick, NULL);
out:
    rumor_identity_destroy(&id);
    rumor_secret_free(keyfile);
    return rc;
}

int rumor_node_import_home(const char *home, const char *file, const rumor_passphrase_t *pass,
                           uint8_t id_out[RUMOR_ID_BYTES])
{
    uint8_t *buf = NULL, *keyfile = NULL;
    size_t len = 0;
    rumor_identity_t *id = NULL;
    rumor_backup_t *b = NULL;
    const char *pw = pass ? pass->pass : NULL;
    size_t pw_len = pass ? pass->len : 0;
    int rc = rumor_crypto_init();
    if (rc == RUMOR_OK) rc = read_backup(file, &buf, &len);
    if (rc < 0) goto out;
    if (is_keyfile(buf, len)) {
        /* A bare key file (what export wrote before backups): the identity only, kept as it is. */
        if ((rc = rumor_keyfile_open(buf, len, pw, pw_len, &id)) < 0) goto out;
        memcpy(id_out, rumor_identity_public(id), RUMOR_ID_BYTES);
        rc = make_home(home, &id, buf, NULL, NULL);
        goto out;
    }
    if ((rc = rumor_backup_open(buf, len, pw, pw_len, &id, &b)) < 0) goto out;
    /* The new home's key file is sealed under the backup's passphrase, with a fresh salt. */
    if (!(keyfile = rumor_secret_alloc(RUMOR_KEYFILE_BYTES))) {
        rc = RUMOR_ERR_NOMEM;
        goto out;
    }
    if ((rc = rumor_keyfile_seal(id, pw, pw_len, 0, 0, keyfile)) < 0) goto out;
    memcpy(id_out, rumor_identity_public(id), RUMOR_ID_BYTES);
    rc = make_home(home, &id, keyfile, NULL, b);
out:
    rumor_identity_destroy(&id);
    rumor_backup_destroy(&b);
    rumor_secret_free(keyfile);
    rumor_secret_free(buf);
    return rc;
}

static int rebuild_step(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    return rumor_store_rebuild_needed(t) ? rumor_gossip_rebuild(t, NULL) : RUMOR_OK;
}

/* A migration may ask for what is derived from events to be computed again (PROTOCOL.md 7.6). */
static int rebuild_if_needed(rumor_node_t *n)
{
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    bool needed = rumor_store_rebuild_needed(t);
    rumor_store_read_end(&t);
    return needed ? rumor_store_write(n->store, rebuild_step, NULL) : RUMOR_OK;
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
    if (rc == RUMOR_OK) rc = rebuild_if_needed(n);
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

int rumor_node_change_passphrase(rumor_node_t *n, const rumor_passphrase_t *pass)
{
    if (!n->id) return RUMOR_ERR_PASSPHRASE;
    if (rumor_identity_is_delegated(n->id)) return RUMOR_ERR_PASSPHRASE;
    char kpath[PATH_MAX];
    uint8_t *keyfile = rumor_secret_alloc(RUMOR_KEYFILE_BYTES);
    if (!keyfile) return RUMOR_ERR_NOMEM;
    int rc =
        rumor_keyfile_seal(n->id, pass ? pass->pass : NULL, pass ? pass->len : 0, 0, 0, keyfile);
    if (rc == RUMOR_OK) rc = join(kpath, sizeof kpath, n->home, KEYFILE_NAME);
    if (rc == RUMOR_OK) rc = write_file(kpath, keyfile, RUMOR_KEYFILE_BYTES, true);
    if (rc == RUMOR_OK) {
        memcpy(n->keyfile, keyfile, RUMOR_KEYFILE_BYTES);
        n->is_protected = pass != NULL;
    }
    rumor_secret_free(keyfile);
    return rc;
}

int rumor_node_adopt_identity(rumor_node_t *n, rumor_identity_t **id)
{
    if (n->id) return RUMOR_OK;
    if (!*id || memcmp(rumor_identity_public(*id), n->pk, RUMOR_ID_BYTES) != 0)
        return RUMOR_ERR_INVALID;
    n->id = *id;
    *id = NULL;
    return RUMOR_OK;
}

const uint8_t *rumor_node_id(const rumor_node_t *n)
{
    return n->pk;
}

const uint8_t *rumor_node_tampered_event(const rumor_node_t *n)
{
    return n->has_tampered ? n->tampered : NULL;
}

/* ---- restoring domains (PROTOCOL.md 5.4) --------------------------------------- */

/* The `restoring` list into a new array (*out, malloc'd; NULL and 0 when empty). */
static int restoring_load(rumor_txn_t *t, uint8_t (**out)[RUMOR_ID_BYTES], size_t *n)
{
    size_t cap = (size_t)RUMOR_BACKUP_DOMAINS_MAX * RUMOR_ID_BYTES, len = 0;
    *out = NULL;
    *n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return RUMOR_ERR_NOMEM;
    int rc = rumor_store_meta_get(t, RESTORING_META, buf, cap, &len);
    if (rc == RUMOR_ERR_NOT_FOUND || (rc == RUMOR_OK && len == 0)) {
        free(buf);
        return RUMOR_OK;
    }
    if (rc == RUMOR_OK && len % RUMOR_ID_BYTES) rc = RUMOR_ERR_STORE;
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = (uint8_t(*)[RUMOR_ID_BYTES])buf;
    *n = len / RUMOR_ID_BYTES;
    return RUMOR_OK;
}

int rumor_node_restoring_each(rumor_txn_t *t, rumor_store_id_fn cb, void *ctx)
{
    uint8_t(*list)[RUMOR_ID_BYTES];
    size_t n;
    int rc = restoring_load(t, &list, &n);
    for (size_t i = 0; rc == RUMOR_OK && i < n; i++) rc = cb(ctx, list[i]);
    free(list);
    return rc;
}

bool rumor_node_restoring_has(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES])
{
    uint8_t(*list)[RUMOR_ID_BYTES];
    size_t n;
    bool found = false;
    if (restoring_load(t, &list, &n) < 0) return false;
    for (size_t i = 0; i < n && !found; i++) found = memcmp(list[i], domain, RUMOR_ID_BYTES) == 0;
    free(list);
    return found;
}

int rumor_node_restoring_settle(rumor_txn_t *t, const uint8_t self[RUMOR_ID_BYTES], size_t *left)
{
    uint8_t(*list)[RUMOR_ID_BYTES];
    size_t n, kept = 0;
    int rc = restoring_load(t, &list, &n);
    if (rc < 0) return rc;
    /* A domain whose events made us a member again is an ordinary one from now on. */
    for (size_t i = 0; i < n; i++)
        if (!rumor_gossip_role(t, list[i], self)) memmove(list[kept++], list[i], RUMOR_ID_BYTES);
    if (kept != n) rc = rumor_store_meta_put(t, RESTORING_META, list, kept * RUMOR_ID_BYTES);
    free(list);
    if (left) *left = kept;
    return rc;
}

/* ---- backups (PROTOCOL.md 5.4) ------------------------------------------------- */

typedef struct {
    rumor_txn_t *t;
    rumor_node_t *n;
    rumor_backup_t *b;
    const uint8_t *domain; /* whose keys are being added */
    uint8_t *key;          /* secret memory for one key */
    int depth;
} export_t;

static int export_key(void *ctx, const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES], uint32_t epoch)
{
    export_t *x = ctx;
    int rc = rumor_node_load_key(x->t, x->n, key_id, x->key);
    if (rc == RUMOR_OK) rc = rumor_backup_add_key(x->b, x->domain, epoch, x->key);
    rumor_wipe(x->key, RUMOR_ROOM_KEY_BYTES);
    return rc;
}

/* A domain and every key the store holds of it. */
static int export_domain(void *ctx, const uint8_t domain[RUMOR_ID_BYTES])
{
    export_t *x = ctx;
    int rc = rumor_backup_add_domain(x->b, domain);
    x->domain = domain;
    if (rc == RUMOR_OK) rc = rumor_store_key_each(x->t, domain, export_key, x);
    return rc;
}

/* The key rooms of the tree that have us as a member. */
static int export_room(void *ctx, const rumor_store_room_t *r)
{
    export_t *x = ctx;
    int rc = RUMOR_OK;
    if (rumor_gossip_is_key_room(r) && rumor_gossip_role(x->t, r->id, x->n->pk))
        rc = export_domain(x, r->id);
    if (rc != RUMOR_OK || x->depth >= RUMOR_MAX_DEPTH) return rc;
    x->depth++;
    rc = rumor_store_room_children(x->t, r->id, export_room, x);
    x->depth--;
    return rc;
}

static int export_contact(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], const char *name)
{
    export_t *x = ctx;
    return rumor_backup_add_contact(x->b, pk, name);
}

int rumor_node_export_identity(rumor_node_t *n, const char *path, const rumor_passphrase_t *pass)
{
    static const uint8_t top[RUMOR_ID_BYTES];
    rumor_txn_t *t = NULL;
    uint8_t *file = NULL;
    size_t len = 0;
    export_t x = {.n = n};
    if (!n->id) return RUMOR_ERR_PASSPHRASE;
    if (!pass || !pass->pass || !*path) return RUMOR_ERR_INVALID;
    int rc = rumor_backup_new(&x.b);
    if (rc < 0) return rc;
    if (!(x.key = rumor_secret_alloc(RUMOR_ROOM_KEY_BYTES))) {
        rc = RUMOR_ERR_NOMEM;
        goto out;
    }
    if ((rc = rumor_store_read_begin(n->store, &t)) < 0) goto out;
    x.t = t;
    rc = rumor_store_room_children(t, top, export_room, &x);
    if (rc == RUMOR_OK) rc = rumor_node_restoring_each(t, export_domain, &x);
    if (rc == RUMOR_OK) rc = rumor_store_contact_each(t, export_contact, &x);
    rumor_store_read_end(&t);
    if (rc < 0) goto out;
    /* Sealed under the passphrase: nothing secret in the file. */
    if ((rc = rumor_backup_seal(x.b, n->id, pass->pass, pass->len, 0, 0, &file, &len)) < 0)
        goto out;
    rc = write_new_file(path, file, len);
out:
    free(file);
    rumor_secret_free(x.key);
    rumor_backup_destroy(&x.b);
    return rc;
}
