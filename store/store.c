/* store.c - the LMDB-backed local store (see rumor_store.h for the contract). */
#include "rumor_store.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID               RUMOR_ID_BYTES
#define WRITE_ATTEMPTS   24
#define ROOM_REC_VERSION 1
/* version | parent | flags | creator | created ts | 3 registers of 40 | epoch | messages */
#define ROOM_REC_BYTES 206

/* The named databases, in one place so open and lookups agree. */
#define STORE_DBS(X)                                                                               \
    X(meta, 0)      /* name -> small value; holds "schema" */                                      \
    X(events, 0)    /* event id -> encoded event (bodies encrypted) */                             \
    X(log, 0)       /* room | lamport | id -> type */                                              \
    X(heads, 0)     /* room | id -> lamport */                                                     \
    X(rooms, 0)     /* room id -> room record */                                                   \
    X(children, 0)  /* parent | child -> "" (parent zero: top-level) */                            \
    X(members, 0)   /* key room | public key -> role */                                            \
    X(keys, 0)      /* key id -> room | epoch | sealed key */                                      \
    X(room_keys, 0) /* room | epoch | key id -> "" : keys we hold */                               \
    X(epochs, 0)    /* room | epoch | key id -> "" : keys the room announced */                    \
    X(profiles, 0)  /* public key -> lamport | event id | nick_len | nick */                       \
    X(reads, 0)     /* room -> messages seen (read marker) */                                      \
    X(peers, 0)     /* public key -> "host:port" */                                                \
    X(outbox, 0)    /* event id -> "" : own events not yet handed to a peer */                     \
    X(invites, 0)   /* BLAKE2b(token) -> room | role | expiry ms */                                \
    X(dlog, 0)      /* key domain | lamport | id -> "" : the domain's set (schema 3) */            \
    X(clog, 0)      /* key domain | lamport | id -> type : its control events (schema 4) */        \
    X(admitted, 0)  /* key domain | public key -> "" : admissions, monotone (schema 4) */          \
    X(mhist, 0)     /* key domain | public key | lamport | id -> role : the fold's history */      \
    X(contacts, 0)  /* public key -> petname (schema 4) */

struct rumor_store {
    MDB_env *env;    /* the LMDB environment */
    size_t map_size; /* current map size */
    uint32_t schema; /* schema version on disk */
#define STORE_DBI_FIELD_(name, flags) MDB_dbi name;
    STORE_DBS(STORE_DBI_FIELD_)
#undef STORE_DBI_FIELD_
};

struct rumor_txn {
    MDB_txn *txn;     /* the LMDB transaction */
    rumor_store_t *s; /* its store */
};

static int map_err(int mrc)
{
    switch (mrc) {
    case MDB_SUCCESS: return RUMOR_OK;
    case MDB_NOTFOUND: return RUMOR_ERR_NOT_FOUND;
    case MDB_KEYEXIST: return RUMOR_ERR_EXISTS;
    case MDB_MAP_FULL: return RUMOR_ERR_MAP_FULL;
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID: return RUMOR_ERR_STORE;
    }
    return RUMOR_ERR_STORE;
}

static MDB_val val(const void *p, size_t n)
{
    MDB_val v = {n, (void *)p};
    return v;
}

static int put(rumor_txn_t *t, MDB_dbi dbi, const void *k, size_t kn, const void *v, size_t vn,
               unsigned flags)
{
    MDB_val key = val(k, kn), data = val(v, vn);
    return map_err(mdb_put(t->txn, dbi, &key, &data, flags));
}

static int get(rumor_txn_t *t, MDB_dbi dbi, const void *k, size_t kn, MDB_val *out)
{
    MDB_val key = val(k, kn);
    return map_err(mdb_get(t->txn, dbi, &key, out));
}

static int del(rumor_txn_t *t, MDB_dbi dbi, const void *k, size_t kn)
{
    MDB_val key = val(k, kn);
    int rc = map_err(mdb_del(t->txn, dbi, &key, NULL));
    return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_OK : rc;
}

static uint64_t entries(rumor_txn_t *t, MDB_dbi dbi)
{
    MDB_stat st;
    return mdb_stat(t->txn, dbi, &st) == 0 ? st.ms_entries : 0;
}

/*
 * Walks the keys that start with `prefix`, forward or backward, calling
 * fn(ctx, key, val) until it returns non-zero (which is then returned).
 */
typedef int (*walk_fn)(void *ctx, const MDB_val *k, const MDB_val *v);
static int walk_prefix(rumor_txn_t *t, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
                       bool reverse, walk_fn fn, void *ctx)
{
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, dbi, &c);
    if (mrc) return map_err(mrc);
    uint8_t seek[ID + 64];
    MDB_val k, v;
    int rc = RUMOR_OK;
    if (!reverse) {
        k = val(prefix, plen);
        mrc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    } else {
        /* Seek just past the prefix range, then step back. */
        memcpy(seek, prefix, plen);
        memset(seek + plen, 0xff, 64);
        k = val(seek, plen + 64);
        mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (mrc == MDB_NOTFOUND)
            mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
        else if (mrc == 0)
            mrc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    }
    while (mrc == 0) {
        if (k.mv_size < plen || (plen && memcmp(k.mv_data, prefix, plen) != 0)) {
            if (reverse) {
                /* Keys longer than the seek key can sort after it; skip them back. */
                if (memcmp(k.mv_data, prefix, k.mv_size < plen ? k.mv_size : plen) > 0) {
                    mrc = mdb_cursor_get(c, &k, &v, MDB_PREV);
                    continue;
                }
            }
            break;
        }
        rc = fn(ctx, &k, &v);
        if (rc) break;
        mrc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
    }
    if (mrc && mrc != MDB_NOTFOUND) rc = map_err(mrc);
    mdb_cursor_close(c);
    return rc;
}

/* ---- open, schema, transactions ---------------------------------------- */

typedef struct {
    rumor_txn_t *t;
    uint8_t domain[ID];
} dlog_fill_t;

static int dlog_fill_step(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t type)
{
    (void)type;
    dlog_fill_t *f = ctx;
    return rumor_store_dlog_add(f->t, f->domain, lamport, id);
}

static int dlog_fill_room(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    dlog_fill_t *f = ctx;
    if (k->mv_size != ID) return RUMOR_ERR_STORE;
    /* The room is stored: a missing ancestor means a broken store. */
    int rc = rumor_store_key_domain(f->t, k->mv_data, f->domain);
    if (rc < 0) return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_STORE : rc;
    return rumor_store_log_each(f->t, k->mv_data, false, dlog_fill_step, f);
}

/* 2 -> 3: each room's log entries, under the room's key domain, make `dlog`. */
static int migrate_dlog(rumor_txn_t *t)
{
    dlog_fill_t f = {.t = t};
    return walk_prefix(t, t->s->rooms, NULL, 0, false, dlog_fill_room, &f);
}

/*
 * 3 -> 4: heads are kept per key domain now, and `clog`, `admitted` and
 * `mhist` are derived from the events. The store cannot interpret events, so
 * it clears the old heads and asks gossip for a rebuild (rumor_store_rebuild_*).
 */
static int migrate_rebuild(rumor_txn_t *t)
{
    int mrc = mdb_drop(t->txn, t->s->heads, 0);
    if (mrc) return map_err(mrc);
    return rumor_store_meta_put(t, "rebuild", "\1", 1);
}

/*
 * Migrations from schema N to N+1 live here, indexed by N. 1 -> 2 added the
 * `invites` table, which opening creates: nothing to convert. 2 -> 3 fills
 * `dlog` from `log`. 3 -> 4 asks for a rebuild.
 */
typedef int (*migration_fn)(rumor_txn_t *t);
static const migration_fn migrations[RUMOR_STORE_SCHEMA] = {NULL, NULL, migrate_dlog,
                                                            migrate_rebuild};

/* What opening needs from the schema check, and what it reports back. */
typedef struct {
    bool read_only; /* must not write */
    bool wrote;     /* set when the check stamped or migrated the store */
} schema_ctx_t;

static int schema_check(rumor_txn_t *t, schema_ctx_t *c)
{
    uint8_t buf[4];
    size_t n = 0;
    uint32_t found;
    int rc = rumor_store_meta_get(t, "schema", buf, sizeof buf, &n);
    if (rc == RUMOR_ERR_NOT_FOUND) {
        if (entries(t, t->s->events) || entries(t, t->s->rooms)) return RUMOR_ERR_STORE;
        found = RUMOR_STORE_SCHEMA;
        if (c->read_only) {
            t->s->schema = found;
            return RUMOR_OK;
        }
        rumor_put_u32(buf, found);
        if ((rc = rumor_store_meta_put(t, "schema", buf, 4)) < 0) return rc;
        c->wrote = true;
    } else if (rc < 0) {
        return rc;
    } else {
        if (n != 4) return RUMOR_ERR_STORE;
        found = rumor_get_u32(buf);
    }
    if (found > RUMOR_STORE_SCHEMA) return RUMOR_ERR_SCHEMA_NEWER;
    if (found == 0) return RUMOR_ERR_STORE;
    while (found < RUMOR_STORE_SCHEMA) {
        if (c->read_only) return RUMOR_ERR_STORE;
        if (migrations[found] && (rc = migrations[found](t)) < 0) return rc;
        found++;
        rumor_put_u32(buf, found);
        if ((rc = rumor_store_meta_put(t, "schema", buf, 4)) < 0) return rc;
        c->wrote = true;
    }
    t->s->schema = found;
    return RUMOR_OK;
}

/* Reads the schema stamp without creating anything: 0 for a new store. */
static int peek_schema(MDB_txn *txn, uint32_t *schema)
{
    MDB_dbi meta;
    MDB_val k = val("schema", 6), v;
    *schema = 0;
    int mrc = mdb_dbi_open(txn, "meta", 0, &meta);
    if (mrc == MDB_NOTFOUND) return RUMOR_OK;
    if (mrc) return map_err(mrc);
    mrc = mdb_get(txn, meta, &k, &v);
    if (mrc == MDB_NOTFOUND) return RUMOR_OK;
    if (mrc) return map_err(mrc);
    if (v.mv_size != 4) return RUMOR_ERR_STORE;
    *schema = rumor_get_u32(v.mv_data);
    return RUMOR_OK;
}

static int grow(rumor_store_t *s);

/* Takes the map size another process grew the store to (no transaction of ours may be open). */
static int adopt_map(rumor_store_t *s)
{
    if (mdb_env_set_mapsize(s->env, 0)) return MDB_PANIC;
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == 0) s->map_size = info.me_mapsize;
    return MDB_SUCCESS;
}

/*
 * mdb_txn_begin, taking another process's growth of the map (MDB_MAP_RESIZED)
 * as often as it happens: a node grows its store while CLIs open it, and a
 * growth between our open and our first transaction is normal, not an error.
 * Bounded: each retry follows a real growth, which doubles the map.
 */
static int txn_begin(rumor_store_t *s, unsigned flags, MDB_txn **txn)
{
    int mrc = MDB_MAP_RESIZED;
    for (int attempt = 0; attempt < 64 && mrc == MDB_MAP_RESIZED; attempt++) {
        mrc = mdb_txn_begin(s->env, NULL, flags, txn);
        if (mrc == MDB_MAP_RESIZED) {
            int arc = adopt_map(s);
            if (arc) return arc;
        }
    }
    return mrc;
}

int rumor_store_open(const char *dir, const rumor_store_options_t *opt, rumor_store_t **out)
{
    rumor_store_options_t defaults = {0};
    if (!opt) opt = &defaults;
    rumor_store_t *s = calloc(1, sizeof *s);
    if (!s) return RUMOR_ERR_NOMEM;
    s->map_size = opt->initial_map_bytes ? opt->initial_map_bytes : RUMOR_STORE_MAP_INITIAL;
    int rc = RUMOR_ERR_STORE;
    MDB_txn *txn = NULL;
    if (mdb_env_create(&s->env)) goto fail;
    if (mdb_env_set_maxdbs(s->env, 32) || mdb_env_set_mapsize(s->env, s->map_size)) goto fail;
    /* NOMETASYNC: durable writes sync the meta page themselves (rumor_store_write_as). */
    unsigned flags = MDB_NOTLS | (opt->read_only ? MDB_RDONLY : MDB_NOMETASYNC);
    if (mdb_env_open(s->env, dir, flags, 0600)) goto fail;
    {
        /* A store grown by another process has a larger map: adopt it. */
        MDB_envinfo info;
        if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->map_size &&
            adopt_map(s) != MDB_SUCCESS)
            goto fail;
    }
    /*
     * One transaction: refuse a newer schema before anything is created, then
     * open (creating) the tables, then stamp or migrate. A refusal or a crash
     * leaves the store exactly as it was. A migration that fills the map
     * (one fills a new table) is run again in a map twice the size.
     */
    for (int attempt = 0;; attempt++) {
        if (txn_begin(s, opt->read_only ? MDB_RDONLY : 0, &txn)) goto fail;
        uint32_t on_disk;
        if ((rc = peek_schema(txn, &on_disk)) < 0) goto fail;
        if (on_disk > RUMOR_STORE_SCHEMA) {
            rc = RUMOR_ERR_SCHEMA_NEWER;
            goto fail;
        }
        unsigned dflags = opt->read_only ? 0 : MDB_CREATE;
        rc = RUMOR_OK;
        /* (Creating a new table can fill the map too.) */
#define STORE_DBI_OPEN_(name, f)                                                                   \
    if (rc == RUMOR_OK) rc = map_err(mdb_dbi_open(txn, #name, dflags | (f), &s->name));
        STORE_DBS(STORE_DBI_OPEN_)
#undef STORE_DBI_OPEN_
        schema_ctx_t sc = {opt->read_only, false};
        rumor_txn_t t = {txn, s};
        if (rc == RUMOR_OK) rc = schema_check(&t, &sc);
        /* Committing a read-only transaction too keeps its table handles for the store's life. */
        if (rc == RUMOR_OK) {
            rc = map_err(mdb_txn_commit(txn));
            txn = NULL;
        }
        if (rc == RUMOR_ERR_MAP_FULL && !opt->read_only && attempt < WRITE_ATTEMPTS) {
            if (txn) mdb_txn_abort(txn);
            txn = NULL;
            if ((rc = grow(s)) < 0) goto fail;
            continue;
        }
        if (rc == RUMOR_OK && sc.wrote) rc = rumor_store_sync(s);
        if (rc < 0) goto fail;
        break;
    }
    *out = s;
    return RUMOR_OK;
fail:
    if (rc == RUMOR_ERR_NOT_FOUND)
        rc = RUMOR_ERR_STORE; /* a read-only open of a store lacking tables */
    if (txn) mdb_txn_abort(txn);
    if (s->env) mdb_env_close(s->env);
    free(s);
    return rc < 0 ? rc : RUMOR_ERR_STORE;
}

void rumor_store_close(rumor_store_t **sp)
{
    if (!sp || !*sp) return;
    mdb_env_close((*sp)->env);
    free(*sp);
    *sp = NULL;
}

uint32_t rumor_store_schema(const rumor_store_t *s)
{
    return s->schema;
}

size_t rumor_store_map_size(const rumor_store_t *s)
{
    return s->map_size;
}

static int grow(rumor_store_t *s)
{
    if (s->map_size >= RUMOR_STORE_MAP_MAX) return RUMOR_ERR_MAP_FULL;
    size_t next = s->map_size * 2;
    if (mdb_env_set_mapsize(s->env, next)) return RUMOR_ERR_STORE;
    s->map_size = next;
    return RUMOR_OK;
}

int rumor_store_sync(rumor_store_t *s)
{
    return mdb_env_sync(s->env, 1) == 0 ? RUMOR_OK : RUMOR_ERR_IO;
}

int rumor_store_write(rumor_store_t *s, rumor_store_write_fn fn, void *ctx)
{
    return rumor_store_write_as(s, RUMOR_STORE_DURABLE, fn, ctx);
}

int rumor_store_write_as(rumor_store_t *s, rumor_store_durability_t durability,
                         rumor_store_write_fn fn, void *ctx)
{
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        rumor_txn_t t = {NULL, s};
        int mrc = txn_begin(s, 0, &t.txn);
        if (mrc) return map_err(mrc);
        int rc = fn(&t, ctx);
        if (rc == RUMOR_OK) {
            rc = map_err(mdb_txn_commit(t.txn));
            /* The commit synced the data pages; a durable write also flushes the meta page. */
            if (rc == RUMOR_OK && durability == RUMOR_STORE_DURABLE) rc = rumor_store_sync(s);
            if (rc == RUMOR_OK || rc == RUMOR_ERR_IO) return rc;
        } else {
            mdb_txn_abort(t.txn);
        }
        if (rc != RUMOR_ERR_MAP_FULL) return rc;
        if ((rc = grow(s)) < 0) return rc;
    }
    return RUMOR_ERR_MAP_FULL;
}

int rumor_store_read_begin(rumor_store_t *s, rumor_txn_t **out)
{
    rumor_txn_t *t = calloc(1, sizeof *t);
    if (!t) return RUMOR_ERR_NOMEM;
    t->s = s;
    int mrc = txn_begin(s, MDB_RDONLY, &t->txn);
    if (mrc) {
        free(t);
        return map_err(mrc);
    }
    *out = t;
    return RUMOR_OK;
}

void rumor_store_read_end(rumor_txn_t **tp)
{
    if (!tp || !*tp) return;
    mdb_txn_abort((*tp)->txn);
    free(*tp);
    *tp = NULL;
}

/* ---- meta ----------------------------------------------------------------- */

int rumor_store_meta_get(rumor_txn_t *t, const char *key, void *buf, size_t cap, size_t *len)
{
    MDB_val v;
    int rc = get(t, t->s->meta, key, strlen(key), &v);
    if (rc < 0) return rc;
    if (v.mv_size > cap) return RUMOR_ERR_TOO_BIG;
    memcpy(buf, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return RUMOR_OK;
}

int rumor_store_meta_put(rumor_txn_t *t, const char *key, const void *v, size_t len)
{
    return put(t, t->s->meta, key, strlen(key), v, len, 0);
}

/* ---- events --------------------------------------------------------------- */

int rumor_store_event_put(rumor_txn_t *t, const uint8_t id[ID], const uint8_t *buf, size_t len)
{
    return put(t, t->s->events, id, ID, buf, len, MDB_NOOVERWRITE);
}

int rumor_store_event_get(rumor_txn_t *t, const uint8_t id[ID], const uint8_t **buf, size_t *len)
{
    MDB_val v;
    int rc = get(t, t->s->events, id, ID, &v);
    if (rc < 0) return rc;
    *buf = v.mv_data;
    *len = v.mv_size;
    return RUMOR_OK;
}

int rumor_store_event_drop(rumor_txn_t *t, const uint8_t id[ID])
{
    return del(t, t->s->events, id, ID);
}

bool rumor_store_event_has(rumor_txn_t *t, const uint8_t id[ID])
{
    MDB_val v;
    return get(t, t->s->events, id, ID, &v) == RUMOR_OK;
}

uint64_t rumor_store_event_count(rumor_txn_t *t)
{
    return entries(t, t->s->events);
}

/* ---- log ------------------------------------------------------------------ */

/* A cursor position: prefix [32] | lamport [8] | id [32]. */
static void seek_key(uint8_t out[2 * ID + 8], const uint8_t prefix[ID], uint64_t lamport,
                     const uint8_t id[ID])
{
    memcpy(out, prefix, ID);
    rumor_put_u64(out + ID, lamport);
    memcpy(out + ID + 8, id, ID);
}

int rumor_store_log_add(rumor_txn_t *t, const uint8_t room[ID], uint64_t lamport,
                        const uint8_t id[ID], uint8_t type)
{
    uint8_t k[2 * ID + 8];
    seek_key(k, room, lamport, id);
    return put(t, t->s->log, k, sizeof k, &type, 1, 0);
}

typedef struct {
    rumor_store_log_fn cb; /* caller's callback */
    void *ctx;             /* its context */
} log_walk_t;

static int log_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    log_walk_t *w = ctx;
    if (k->mv_size != ID + 8 + ID || v->mv_size != 1) return RUMOR_ERR_STORE;
    const uint8_t *p = k->mv_data;
    return w->cb(w->ctx, rumor_get_u64(p + ID), p + ID + 8, *(const uint8_t *)v->mv_data);
}

int rumor_store_log_each(rumor_txn_t *t, const uint8_t room[ID], bool reverse,
                         rumor_store_log_fn cb, void *ctx)
{
    log_walk_t w = {cb, ctx};
    return walk_prefix(t, t->s->log, room, ID, reverse, log_step, &w);
}

/*
 * Walks `dbi` from the first key at or past `seek` (`len` bytes; past it only
 * when `after`) while keys start with its first `plen` bytes, calling
 * fn(ctx, key, val) until it returns non-zero (which is then returned).
 */
static int walk_from(rumor_txn_t *t, MDB_dbi dbi, const uint8_t *seek, size_t len, size_t plen,
                     bool after, walk_fn fn, void *ctx)
{
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, dbi, &c);
    if (mrc) return map_err(mrc);
    MDB_val k = val(seek, len), v;
    int rc = RUMOR_OK;
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (after && mrc == 0 && k.mv_size == len && memcmp(k.mv_data, seek, len) == 0)
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    while (mrc == 0 && k.mv_size >= plen && memcmp(k.mv_data, seek, plen) == 0) {
        if ((rc = fn(ctx, &k, &v)) != 0) break;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (mrc && mrc != MDB_NOTFOUND) rc = map_err(mrc);
    mdb_cursor_close(c);
    return rc;
}

int rumor_store_log_after(rumor_txn_t *t, const uint8_t room[ID], uint64_t lamport,
                          const uint8_t after_id[ID], rumor_store_log_fn cb, void *ctx)
{
    uint8_t seek[2 * ID + 8];
    seek_key(seek, room, lamport, after_id);
    log_walk_t w = {cb, ctx};
    /* The cursor itself was sent already: start after it. */
    return walk_from(t, t->s->log, seek, sizeof seek, ID, true, log_step, &w);
}

/* ---- domain sets (anti-entropy) ------------------------------------------- */

int rumor_store_dlog_add(rumor_txn_t *t, const uint8_t domain[ID], uint64_t lamport,
                         const uint8_t id[ID])
{
    uint8_t k[2 * ID + 8];
    seek_key(k, domain, lamport, id);
    return put(t, t->s->dlog, k, sizeof k, "", 0, 0);
}

typedef struct {
    rumor_store_item_fn cb;
    void *ctx;
} dlog_walk_t;

static int dlog_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    dlog_walk_t *w = ctx;
    if (k->mv_size != 2 * ID + 8) return RUMOR_ERR_STORE;
    const uint8_t *p = k->mv_data;
    return w->cb(w->ctx, rumor_get_u64(p + ID), p + ID + 8);
}

int rumor_store_dlog_from(rumor_txn_t *t, const uint8_t domain[ID], uint64_t lamport,
                          const uint8_t id[ID], rumor_store_item_fn cb, void *ctx)
{
    uint8_t seek[2 * ID + 8];
    seek_key(seek, domain, lamport, id);
    dlog_walk_t w = {cb, ctx};
    return walk_from(t, t->s->dlog, seek, sizeof seek, ID, false, dlog_step, &w);
}

/* ---- heads ---------------------------------------------------------------- */

typedef struct {
    uint8_t *ids;       /* output ids */
    size_t max;         /* capacity in ids */
    size_t n;           /* filled */
    uint64_t *lamports; /* lamport of each kept id */
    uint64_t max_lamport;
} heads_walk_t;

static int heads_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    heads_walk_t *w = ctx;
    if (k->mv_size != 2 * ID || v->mv_size != 8) return RUMOR_ERR_STORE;
    uint64_t l = rumor_get_u64(v->mv_data);
    const uint8_t *id = (const uint8_t *)k->mv_data + ID;
    if (l > w->max_lamport) w->max_lamport = l;
    if (!w->max) return 0;
    /* Keep the `max` newest heads, newest first (insertion into a small sorted array). */
    size_t pos = w->n;
    while (pos > 0 && w->lamports[pos - 1] < l) pos--;
    if (pos >= w->max) return 0;
    size_t last = w->n < w->max ? w->n : w->max - 1;
    memmove(w->ids + (pos + 1) * ID, w->ids + pos * ID, (last - pos) * ID);
    memmove(w->lamports + pos + 1, w->lamports + pos, (last - pos) * sizeof *w->lamports);
    memcpy(w->ids + pos * ID, id, ID);
    w->lamports[pos] = l;
    if (w->n < w->max) w->n++;
    return 0;
}

int rumor_store_heads_get(rumor_txn_t *t, const uint8_t room[ID], uint8_t *ids, size_t max,
                          size_t *n, uint64_t *max_lamport)
{
    uint64_t lamports[64];
    if (max > 64) max = 64;
    heads_walk_t w = {ids, max, 0, lamports, 0};
    int rc = walk_prefix(t, t->s->heads, room, ID, false, heads_step, &w);
    if (rc < 0) return rc;
    *n = w.n;
    if (max_lamport) *max_lamport = w.max_lamport;
    return RUMOR_OK;
}

int rumor_store_heads_advance(rumor_txn_t *t, const uint8_t room[ID], const uint8_t id[ID],
                              uint64_t lamport, const uint8_t *parents, size_t n_parents)
{
    uint8_t k[2 * ID], l[8];
    memcpy(k, room, ID);
    for (size_t i = 0; i < n_parents; i++) {
        memcpy(k + ID, parents + i * ID, ID);
        int rc = del(t, t->s->heads, k, sizeof k);
        if (rc < 0) return rc;
    }
    memcpy(k + ID, id, ID);
    rumor_put_u64(l, lamport);
    return put(t, t->s->heads, k, sizeof k, l, 8, 0);
}

/* ---- rooms ------------------------------------------------------------------ */

static uint8_t *put_lww(uint8_t *p, const rumor_store_lww_t *r)
{
    rumor_put_u64(p, r->lamport);
    memcpy(p + 8, r->event, ID);
    return p + 8 + ID;
}

static const uint8_t *get_lww(const uint8_t *p, rumor_store_lww_t *r)
{
    r->lamport = rumor_get_u64(p);
    memcpy(r->event, p + 8, ID);
    return p + 8 + ID;
}

static void room_encode(uint8_t out[ROOM_REC_BYTES], const rumor_store_room_t *r)
{
    uint8_t *p = out;
    _Static_assert(ROOM_REC_BYTES == 1 + 32 + 1 + 32 + 8 + 3 * 40 + 4 + 8, "room record layout");
    *p++ = ROOM_REC_VERSION;
    memcpy(p, r->parent, ID), p += ID;
    *p++ = r->flags;
    memcpy(p, r->creator, ID), p += ID;
    rumor_put_u64(p, r->created_ts), p += 8;
    p = put_lww(p, &r->name);
    p = put_lww(p, &r->topic);
    p = put_lww(p, &r->place);
    rumor_put_u32(p, r->epoch), p += 4;
    rumor_put_u64(p, r->messages);
}

static int room_decode(const MDB_val *v, const uint8_t id[ID], rumor_store_room_t *r)
{
    if (v->mv_size != ROOM_REC_BYTES) return RUMOR_ERR_STORE;
    const uint8_t *p = v->mv_data;
    if (*p++ != ROOM_REC_VERSION) return RUMOR_ERR_STORE;
    memset(r, 0, sizeof *r);
    memcpy(r->id, id, ID);
    memcpy(r->parent, p, ID), p += ID;
    r->flags = *p++;
    memcpy(r->creator, p, ID), p += ID;
    r->created_ts = rumor_get_u64(p), p += 8;
    p = get_lww(p, &r->name);
    p = get_lww(p, &r->topic);
    p = get_lww(p, &r->place);
    r->epoch = rumor_get_u32(p), p += 4;
    r->messages = rumor_get_u64(p);
    return RUMOR_OK;
}

int rumor_store_room_get(rumor_txn_t *t, const uint8_t id[ID], rumor_store_room_t *room)
{
    MDB_val v;
    int rc = get(t, t->s->rooms, id, ID, &v);
    return rc < 0 ? rc : room_decode(&v, id, room);
}

int rumor_store_room_put(rumor_txn_t *t, const rumor_store_room_t *room)
{
    rumor_store_room_t old;
    uint8_t k[2 * ID];
    int rc = rumor_store_room_get(t, room->id, &old);
    if (rc == RUMOR_OK && memcmp(old.parent, room->parent, ID) != 0) {
        memcpy(k, old.parent, ID);
        memcpy(k + ID, room->id, ID);
        if ((rc = del(t, t->s->children, k, sizeof k)) < 0) return rc;
    } else if (rc < 0 && rc != RUMOR_ERR_NOT_FOUND) {
        return rc;
    }
    bool placed = rc == RUMOR_OK && memcmp(old.parent, room->parent, ID) == 0;
    uint8_t rec[ROOM_REC_BYTES];
    room_encode(rec, room);
    if ((rc = put(t, t->s->rooms, room->id, ID, rec, sizeof rec, 0)) < 0) return rc;
    if (placed) return RUMOR_OK; /* the child index already says so */
    memcpy(k, room->parent, ID);
    memcpy(k + ID, room->id, ID);
    return put(t, t->s->children, k, sizeof k, "", 0, 0);
}

typedef struct {
    rumor_txn_t *t;         /* transaction to read rooms in */
    rumor_store_room_fn cb; /* caller's callback */
    void *ctx;              /* its context */
} children_walk_t;

static int children_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    children_walk_t *w = ctx;
    if (k->mv_size != 2 * ID) return RUMOR_ERR_STORE;
    rumor_store_room_t room;
    int rc = rumor_store_room_get(w->t, (const uint8_t *)k->mv_data + ID, &room);
    if (rc < 0) return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_STORE : rc;
    return w->cb(w->ctx, &room);
}

int rumor_store_room_children(rumor_txn_t *t, const uint8_t parent[ID], rumor_store_room_fn cb,
                              void *ctx)
{
    children_walk_t w = {t, cb, ctx};
    return walk_prefix(t, t->s->children, parent, ID, false, children_step, &w);
}

uint64_t rumor_store_room_count(rumor_txn_t *t)
{
    return entries(t, t->s->rooms);
}

bool rumor_store_room_is_key_room(const rumor_store_room_t *room)
{
    return rumor_is_zero(room->parent, ID) || (room->flags & RUMOR_STORE_ROOM_PRIVATE);
}

int rumor_store_key_domain(rumor_txn_t *t, const uint8_t room[ID], uint8_t domain[ID])
{
    uint8_t cur[ID];
    memcpy(cur, room, ID);
    for (int level = 1; level <= RUMOR_STORE_DOMAIN_LEVELS; level++) {
        rumor_store_room_t r;
        int rc = rumor_store_room_get(t, cur, &r);
        if (rc < 0) return rc;
        if (rumor_store_room_is_key_room(&r)) {
            memcpy(domain, cur, ID);
            return RUMOR_OK;
        }
        memcpy(cur, r.parent, ID);
    }
    return RUMOR_ERR_STORE; /* deeper than any tree the fold makes: a cycle or a broken store */
}

/* ---- members ---------------------------------------------------------------- */

static void pair_key(uint8_t k[2 * ID], const uint8_t a[ID], const uint8_t b[ID])
{
    memcpy(k, a, ID);
    memcpy(k + ID, b, ID);
}

int rumor_store_member_get(rumor_txn_t *t, const uint8_t room[ID], const uint8_t pk[ID],
                           uint8_t *role)
{
    uint8_t k[2 * ID];
    MDB_val v;
    pair_key(k, room, pk);
    int rc = get(t, t->s->members, k, sizeof k, &v);
    if (rc < 0) return rc;
    if (v.mv_size != 1) return RUMOR_ERR_STORE;
    *role = *(const uint8_t *)v.mv_data;
    return RUMOR_OK;
}

int rumor_store_member_put(rumor_txn_t *t, const uint8_t room[ID], const uint8_t pk[ID],
                           uint8_t role)
{
    uint8_t k[2 * ID];
    pair_key(k, room, pk);
    return put(t, t->s->members, k, sizeof k, &role, 1, 0);
}

int rumor_store_member_del(rumor_txn_t *t, const uint8_t room[ID], const uint8_t pk[ID])
{
    uint8_t k[2 * ID];
    pair_key(k, room, pk);
    return del(t, t->s->members, k, sizeof k);
}

typedef struct {
    rumor_store_member_fn cb; /* caller's callback */
    void *ctx;                /* its context */
    uint64_t n;               /* members counted */
} member_walk_t;

static int member_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    member_walk_t *w = ctx;
    if (k->mv_size != 2 * ID || v->mv_size != 1) return RUMOR_ERR_STORE;
    w->n++;
    return w->cb ? w->cb(w->ctx, (const uint8_t *)k->mv_data + ID, *(const uint8_t *)v->mv_data)
                 : 0;
}

int rumor_store_member_each(rumor_txn_t *t, const uint8_t room[ID], rumor_store_member_fn cb,
                            void *ctx)
{
    member_walk_t w = {cb, ctx, 0};
    return walk_prefix(t, t->s->members, room, ID, false, member_step, &w);
}

uint64_t rumor_store_member_count(rumor_txn_t *t, const uint8_t room[ID])
{
    member_walk_t w = {NULL, NULL, 0};
    walk_prefix(t, t->s->members, room, ID, false, member_step, &w);
    return w.n;
}

/* ---- keys ------------------------------------------------------------------- */

#define KEY_REC_BYTES (ID + 4 + RUMOR_STORE_KEY_SEALED_BYTES)

int rumor_store_key_put(rumor_txn_t *t, const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES],
                        const uint8_t room[ID], uint32_t epoch,
                        const uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES])
{
    uint8_t rec[KEY_REC_BYTES], k[ID + 4 + 8];
    memcpy(rec, room, ID);
    rumor_put_u32(rec + ID, epoch);
    memcpy(rec + ID + 4, sealed, RUMOR_STORE_KEY_SEALED_BYTES);
    int rc = put(t, t->s->keys, key_id, 8, rec, sizeof rec, 0);
    if (rc < 0) return rc;
    memcpy(k, room, ID);
    rumor_put_u32(k + ID, epoch);
    memcpy(k + ID + 4, key_id, 8);
    return put(t, t->s->room_keys, k, sizeof k, "", 0, 0);
}

int rumor_store_key_get(rumor_txn_t *t, const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES],
                        uint8_t room[ID], uint32_t *epoch,
                        uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES])
{
    MDB_val v;
    int rc = get(t, t->s->keys, key_id, 8, &v);
    if (rc < 0) return rc;
    if (v.mv_size != KEY_REC_BYTES) return RUMOR_ERR_STORE;
    const uint8_t *p = v.mv_data;
    if (room) memcpy(room, p, ID);
    if (epoch) *epoch = rumor_get_u32(p + ID);
    if (sealed) memcpy(sealed, p + ID + 4, RUMOR_STORE_KEY_SEALED_BYTES);
    return RUMOR_OK;
}

typedef struct {
    rumor_store_key_fn cb; /* caller's callback, or NULL to just take the first */
    void *ctx;
    uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES]; /* first key seen */
    uint32_t epoch;
    bool found;
} key_walk_t;

static int key_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    key_walk_t *w = ctx;
    if (k->mv_size != ID + 4 + 8) return RUMOR_ERR_STORE;
    const uint8_t *p = k->mv_data;
    if (!w->cb) {
        memcpy(w->key_id, p + ID + 4, 8);
        w->epoch = rumor_get_u32(p + ID);
        w->found = true;
        return 1;
    }
    return w->cb(w->ctx, p + ID + 4, rumor_get_u32(p + ID));
}

int rumor_store_key_current(rumor_txn_t *t, const uint8_t room[ID],
                            uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES], uint32_t *epoch)
{
    key_walk_t w = {0};
    int rc = walk_prefix(t, t->s->room_keys, room, ID, true, key_step, &w);
    if (rc < 0) return rc;
    if (!w.found) return RUMOR_ERR_NOT_FOUND;
    memcpy(key_id, w.key_id, 8);
    if (epoch) *epoch = w.epoch;
    return RUMOR_OK;
}

int rumor_store_key_each(rumor_txn_t *t, const uint8_t room[ID], rumor_store_key_fn cb, void *ctx)
{
    key_walk_t w = {cb, ctx, {0}, 0, false};
    return walk_prefix(t, t->s->room_keys, room, ID, true, key_step, &w);
}

/* ---- announced key epochs --------------------------------------------------- */

static void epoch_key(uint8_t k[ID + 4 + RUMOR_STORE_KEY_ID_BYTES], const uint8_t room[ID],
                      uint32_t epoch, const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES])
{
    memcpy(k, room, ID);
    rumor_put_u32(k + ID, epoch);
    memcpy(k + ID + 4, key_id, RUMOR_STORE_KEY_ID_BYTES);
}

int rumor_store_epoch_announce(rumor_txn_t *t, const uint8_t room[ID], uint32_t epoch,
                               const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES])
{
    uint8_t k[ID + 4 + RUMOR_STORE_KEY_ID_BYTES];
    epoch_key(k, room, epoch, key_id);
    return put(t, t->s->epochs, k, sizeof k, "", 0, 0);
}

static int newest_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    uint8_t *out = ctx; /* epoch [4] | key id [8] */
    if (k->mv_size != ID + 4 + RUMOR_STORE_KEY_ID_BYTES) return RUMOR_ERR_STORE;
    memcpy(out, (const uint8_t *)k->mv_data + ID, 4 + RUMOR_STORE_KEY_ID_BYTES);
    return 1;
}

int rumor_store_epoch_newest(rumor_txn_t *t, const uint8_t room[ID], uint32_t *epoch,
                             uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES])
{
    uint8_t out[4 + RUMOR_STORE_KEY_ID_BYTES] = {0}; /* set when rc is 1 (gcc -O3 cannot tell) */
    int rc = walk_prefix(t, t->s->epochs, room, ID, true, newest_step, out);
    if (rc < 0) return rc;
    if (rc == 0) return RUMOR_ERR_NOT_FOUND;
    *epoch = rumor_get_u32(out);
    memcpy(key_id, out + 4, RUMOR_STORE_KEY_ID_BYTES);
    return RUMOR_OK;
}

bool rumor_store_epoch_announced(rumor_txn_t *t, const uint8_t room[ID], uint32_t epoch,
                                 const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES])
{
    uint8_t k[ID + 4 + RUMOR_STORE_KEY_ID_BYTES];
    MDB_val v;
    epoch_key(k, room, epoch, key_id);
    return get(t, t->s->epochs, k, sizeof k, &v) == RUMOR_OK;
}

/* ---- profiles ------------------------------------------------------------------ */

int rumor_store_profile_get(rumor_txn_t *t, const uint8_t pk[ID], rumor_store_profile_t *p)
{
    MDB_val v;
    int rc = get(t, t->s->profiles, pk, ID, &v);
    if (rc < 0) return rc;
    const uint8_t *b = v.mv_data;
    if (v.mv_size < 8 + ID + 1 || v.mv_size != 8 + ID + 1 + (size_t)b[8 + ID] ||
        b[8 + ID] > RUMOR_STORE_NICK_MAX)
        return RUMOR_ERR_STORE;
    get_lww(b, &p->set_by);
    memcpy(p->nick, b + 8 + ID + 1, b[8 + ID]);
    p->nick[b[8 + ID]] = '\0';
    return RUMOR_OK;
}

int rumor_store_profile_put(rumor_txn_t *t, const uint8_t pk[ID], const rumor_store_profile_t *p)
{
    uint8_t rec[8 + ID + 1 + RUMOR_STORE_NICK_MAX];
    size_t n = strnlen(p->nick, RUMOR_STORE_NICK_MAX + 1);
    if (n > RUMOR_STORE_NICK_MAX) return RUMOR_ERR_TOO_BIG;
    put_lww(rec, &p->set_by);
    rec[8 + ID] = (uint8_t)n;
    memcpy(rec + 8 + ID + 1, p->nick, n);
    return put(t, t->s->profiles, pk, ID, rec, 8 + ID + 1 + n, 0);
}

/* ---- read markers, peers, outbox ------------------------------------------------ */

int rumor_store_read_mark_get(rumor_txn_t *t, const uint8_t room[ID], uint64_t *seen)
{
    MDB_val v;
    int rc = get(t, t->s->reads, room, ID, &v);
    if (rc == RUMOR_ERR_NOT_FOUND) {
        *seen = 0;
        return RUMOR_OK;
    }
    if (rc < 0) return rc;
    if (v.mv_size != 8) return RUMOR_ERR_STORE;
    *seen = rumor_get_u64(v.mv_data);
    return RUMOR_OK;
}

int rumor_store_read_mark_put(rumor_txn_t *t, const uint8_t room[ID], uint64_t seen)
{
    uint8_t b[8];
    rumor_put_u64(b, seen);
    return put(t, t->s->reads, room, ID, b, 8, 0);
}

int rumor_store_peer_put(rumor_txn_t *t, const uint8_t pk[ID], const uint8_t *v, size_t len)
{
    if (len == 0 || len > RUMOR_STORE_PEER_MAX) return RUMOR_ERR_INVALID;
    return put(t, t->s->peers, pk, ID, v, len, 0);
}

int rumor_store_peer_del(rumor_txn_t *t, const uint8_t pk[ID])
{
    return del(t, t->s->peers, pk, ID);
}

typedef struct {
    rumor_store_peer_fn cb; /* caller's callback */
    void *ctx;              /* its context */
} peer_walk_t;

static int peer_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    peer_walk_t *w = ctx;
    if (k->mv_size != ID || v->mv_size == 0 || v->mv_size > RUMOR_STORE_PEER_MAX)
        return RUMOR_ERR_STORE;
    return w->cb(w->ctx, k->mv_data, v->mv_data, v->mv_size);
}

int rumor_store_peer_each(rumor_txn_t *t, rumor_store_peer_fn cb, void *ctx)
{
    peer_walk_t w = {cb, ctx};
    return walk_prefix(t, t->s->peers, NULL, 0, false, peer_step, &w);
}

int rumor_store_outbox_add(rumor_txn_t *t, const uint8_t id[ID])
{
    return put(t, t->s->outbox, id, ID, "", 0, 0);
}

int rumor_store_outbox_del(rumor_txn_t *t, const uint8_t id[ID])
{
    return del(t, t->s->outbox, id, ID);
}

uint64_t rumor_store_outbox_count(rumor_txn_t *t)
{
    return entries(t, t->s->outbox);
}

typedef struct {
    rumor_store_id_fn cb; /* caller's callback */
    void *ctx;            /* its context */
} id_walk_t;

static int id_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    id_walk_t *w = ctx;
    if (k->mv_size != ID) return RUMOR_ERR_STORE;
    return w->cb(w->ctx, k->mv_data);
}

int rumor_store_outbox_each(rumor_txn_t *t, rumor_store_id_fn cb, void *ctx)
{
    id_walk_t w = {cb, ctx};
    return walk_prefix(t, t->s->outbox, NULL, 0, false, id_step, &w);
}

/* ---- invites ------------------------------------------------------------------------ */

#define INVITE_VALUE (ID + 1 + 8)

int rumor_store_invite_put(rumor_txn_t *t, const uint8_t token_hash[ID], const uint8_t room[ID],
                           uint8_t role, uint64_t expires_ms)
{
    uint8_t v[INVITE_VALUE];
    memcpy(v, room, ID);
    v[ID] = role;
    rumor_put_u64(v + ID + 1, expires_ms);
    return put(t, t->s->invites, token_hash, ID, v, sizeof v, 0);
}

int rumor_store_invite_take(rumor_txn_t *t, const uint8_t token_hash[ID], uint8_t room[ID],
                            uint8_t *role, uint64_t *expires_ms)
{
    MDB_val v;
    int rc = get(t, t->s->invites, token_hash, ID, &v);
    if (rc < 0) return rc;
    if (v.mv_size != INVITE_VALUE) return RUMOR_ERR_STORE;
    memcpy(room, v.mv_data, ID);
    *role = ((const uint8_t *)v.mv_data)[ID];
    *expires_ms = rumor_get_u64((const uint8_t *)v.mv_data + ID + 1);
    return del(t, t->s->invites, token_hash, ID);
}

/* ---- prefix lookups ----------------------------------------------------------------- */

typedef struct {
    const char *prefix; /* hex prefix, lowercase */
    size_t plen;        /* its length */
    uint8_t found[ID];  /* first match */
    int matches;        /* matches so far (stops at 2) */
} prefix_walk_t;

static int prefix_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    prefix_walk_t *w = ctx;
    char hex[2 * ID + 1];
    if (k->mv_size != ID) return RUMOR_ERR_STORE;
    rumor_hex_encode(hex, k->mv_data, ID);
    if (strncmp(hex, w->prefix, w->plen) != 0) return 1;
    if (w->matches++ == 0) memcpy(w->found, k->mv_data, ID);
    return w->matches >= 2 ? 1 : 0;
}

int rumor_store_find_prefix(rumor_txn_t *t, rumor_store_table_t table, const char *prefix,
                            uint8_t out[RUMOR_ID_BYTES])
{
    if (!rumor_hex_is_prefix(prefix)) return RUMOR_ERR_INVALID;
    MDB_dbi dbi = table == RUMOR_STORE_ROOMS    ? t->s->rooms
                  : table == RUMOR_STORE_EVENTS ? t->s->events
                                                : t->s->profiles;
    prefix_walk_t w = {0};
    char lower[2 * ID + 1];
    size_t n = strlen(prefix);
    for (size_t i = 0; i < n; i++) lower[i] = (char)(prefix[i] | 0x20); /* hex digits: a-f */
    lower[n] = '\0';
    w.prefix = lower;
    w.plen = n;
    /* The seek key: the prefix's whole bytes, then its odd nibble, zero-padded. */
    uint8_t seek[ID] = {0};
    char padded[2 * ID + 1];
    memset(padded, '0', 2 * ID);
    memcpy(padded, lower, n);
    padded[2 * ID] = '\0';
    if (rumor_hex_decode(seek, ID, padded) < 0) return RUMOR_ERR_INVALID;
    /* walk_prefix with an empty prefix walks everything; start at the seek key instead. */
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, dbi, &c);
    if (mrc) return map_err(mrc);
    MDB_val k = val(seek, ID), v;
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    int rc = 0;
    while (mrc == 0 && (rc = prefix_step(&w, &k, &v)) == 0)
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    mdb_cursor_close(c);
    if (rc < 0) return rc;
    if (mrc && mrc != MDB_NOTFOUND) return map_err(mrc);
    if (w.matches == 0) return RUMOR_ERR_NOT_FOUND;
    if (w.matches > 1) return RUMOR_ERR_AMBIGUOUS;
    memcpy(out, w.found, ID);
    return RUMOR_OK;
}

/* ---- helpers for tables rewritten whole ------------------------------------ */

/* Deletes every key of `dbi` that starts with `prefix`. */
static int clear_prefix(rumor_txn_t *t, MDB_dbi dbi, const uint8_t *prefix, size_t plen)
{
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, dbi, &c);
    if (mrc) return map_err(mrc);
    MDB_val k = val(prefix, plen), v;
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        if ((mrc = mdb_cursor_del(c, 0)) != 0) break;
        k = val(prefix, plen);
        mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(c);
    return mrc && mrc != MDB_NOTFOUND ? map_err(mrc) : RUMOR_OK;
}

bool rumor_store_rebuild_needed(rumor_txn_t *t)
{
    uint8_t b[1];
    size_t n = 0;
    return rumor_store_meta_get(t, "rebuild", b, sizeof b, &n) == RUMOR_OK && n == 1 && b[0];
}

int rumor_store_rebuild_done(rumor_txn_t *t)
{
    MDB_val k = val("rebuild", 7);
    int rc = map_err(mdb_del(t->txn, t->s->meta, &k, NULL));
    return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_OK : rc;
}

bool rumor_store_dlog_has(rumor_txn_t *t, const uint8_t domain[ID], uint64_t lamport,
                          const uint8_t id[ID])
{
    uint8_t k[2 * ID + 8];
    MDB_val v;
    seek_key(k, domain, lamport, id);
    return get(t, t->s->dlog, k, sizeof k, &v) == RUMOR_OK;
}

typedef struct {
    rumor_store_id_fn cb;
    void *ctx;
    uint8_t last[ID];
    bool any;
} domain_walk_t;

static int domain_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    domain_walk_t *w = ctx;
    if (k->mv_size != 2 * ID + 8) return RUMOR_ERR_STORE;
    if (w->any && memcmp(w->last, k->mv_data, ID) == 0) return 0;
    memcpy(w->last, k->mv_data, ID);
    w->any = true;
    return w->cb(w->ctx, w->last);
}

int rumor_store_dlog_domains(rumor_txn_t *t, rumor_store_id_fn cb, void *ctx)
{
    domain_walk_t w = {cb, ctx, {0}, false};
    return walk_prefix(t, t->s->dlog, NULL, 0, false, domain_step, &w);
}

int rumor_store_heads_clear(rumor_txn_t *t, const uint8_t domain[ID])
{
    return clear_prefix(t, t->s->heads, domain, ID);
}

/* ---- control log ------------------------------------------------------------- */

int rumor_store_clog_add(rumor_txn_t *t, const uint8_t domain[ID], uint64_t lamport,
                         const uint8_t id[ID], uint8_t type)
{
    uint8_t k[2 * ID + 8];
    seek_key(k, domain, lamport, id);
    return put(t, t->s->clog, k, sizeof k, &type, 1, 0);
}

typedef struct {
    rumor_store_log_fn cb;
    void *ctx;
} clog_walk_t;

static int clog_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    clog_walk_t *w = ctx;
    if (k->mv_size != 2 * ID + 8 || v->mv_size != 1) return RUMOR_ERR_STORE;
    const uint8_t *p = k->mv_data;
    return w->cb(w->ctx, rumor_get_u64(p + ID), p + ID + 8, *(const uint8_t *)v->mv_data);
}

int rumor_store_clog_each(rumor_txn_t *t, const uint8_t domain[ID], bool reverse,
                          rumor_store_log_fn cb, void *ctx)
{
    clog_walk_t w = {cb, ctx};
    return walk_prefix(t, t->s->clog, domain, ID, reverse, clog_step, &w);
}

/* ---- admissions ---------------------------------------------------------------- */

int rumor_store_admit(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t pk[ID])
{
    uint8_t k[2 * ID];
    pair_key(k, domain, pk);
    int rc = put(t, t->s->admitted, k, sizeof k, "", 0, MDB_NOOVERWRITE);
    return rc == RUMOR_ERR_EXISTS ? RUMOR_OK : rc; /* keep the loser mark */
}

int rumor_store_mark_loser(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t pk[ID])
{
    uint8_t k[2 * ID];
    pair_key(k, domain, pk);
    return put(t, t->s->admitted, k, sizeof k, "L", 1, 0);
}

bool rumor_store_is_loser(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t pk[ID])
{
    uint8_t k[2 * ID];
    MDB_val v;
    pair_key(k, domain, pk);
    return get(t, t->s->admitted, k, sizeof k, &v) == RUMOR_OK && v.mv_size == 1;
}

bool rumor_store_admitted(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t pk[ID])
{
    uint8_t k[2 * ID];
    MDB_val v;
    pair_key(k, domain, pk);
    return get(t, t->s->admitted, k, sizeof k, &v) == RUMOR_OK;
}

/* ---- the fold's results: members, membership history, announced epochs ---------- */

int rumor_store_member_clear(rumor_txn_t *t, const uint8_t domain[ID])
{
    int rc = clear_prefix(t, t->s->members, domain, ID);
    if (rc == RUMOR_OK) rc = clear_prefix(t, t->s->mhist, domain, ID);
    if (rc == RUMOR_OK) rc = clear_prefix(t, t->s->epochs, domain, ID);
    return rc;
}

static void mhist_key(uint8_t k[3 * ID + 8], const uint8_t domain[ID], const uint8_t pk[ID],
                      uint64_t lamport, const uint8_t id[ID])
{
    memcpy(k, domain, ID);
    memcpy(k + ID, pk, ID);
    rumor_put_u64(k + 2 * ID, lamport);
    memcpy(k + 2 * ID + 8, id, ID);
}

int rumor_store_mhist_put(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t pk[ID],
                          uint64_t lamport, const uint8_t id[ID], uint8_t role)
{
    uint8_t k[3 * ID + 8];
    mhist_key(k, domain, pk, lamport, id);
    return put(t, t->s->mhist, k, sizeof k, &role, 1, 0);
}

typedef struct {
    rumor_store_log_fn cb;
    void *ctx;
} mhist_walk_t;

static int mhist_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    mhist_walk_t *w = ctx;
    if (k->mv_size != 3 * ID + 8 || v->mv_size != 1) return RUMOR_ERR_STORE;
    const uint8_t *p = k->mv_data;
    return w->cb(w->ctx, rumor_get_u64(p + 2 * ID), p + 2 * ID + 8, *(const uint8_t *)v->mv_data);
}

int rumor_store_mhist_each(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t pk[ID],
                           rumor_store_log_fn cb, void *ctx)
{
    uint8_t prefix[2 * ID];
    pair_key(prefix, domain, pk);
    mhist_walk_t w = {cb, ctx};
    return walk_prefix(t, t->s->mhist, prefix, sizeof prefix, false, mhist_step, &w);
}

/* ---- contacts ------------------------------------------------------------------ */

int rumor_store_contact_put(rumor_txn_t *t, const uint8_t pk[ID], const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > RUMOR_STORE_NICK_MAX) return RUMOR_ERR_INVALID;
    return put(t, t->s->contacts, pk, ID, name, n, 0);
}

int rumor_store_contact_get(rumor_txn_t *t, const uint8_t pk[ID],
                            char name[RUMOR_STORE_NICK_MAX + 1])
{
    MDB_val v;
    int rc = get(t, t->s->contacts, pk, ID, &v);
    if (rc < 0) return rc;
    if (v.mv_size == 0 || v.mv_size > RUMOR_STORE_NICK_MAX) return RUMOR_ERR_STORE;
    memcpy(name, v.mv_data, v.mv_size);
    name[v.mv_size] = '\0';
    return RUMOR_OK;
}

int rumor_store_contact_del(rumor_txn_t *t, const uint8_t pk[ID])
{
    return del(t, t->s->contacts, pk, ID);
}

typedef struct {
    rumor_store_contact_fn cb;
    void *ctx;
} contact_walk_t;

static int contact_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    contact_walk_t *w = ctx;
    char name[RUMOR_STORE_NICK_MAX + 1];
    if (k->mv_size != ID || v->mv_size == 0 || v->mv_size > RUMOR_STORE_NICK_MAX)
        return RUMOR_ERR_STORE;
    memcpy(name, v->mv_data, v->mv_size);
    name[v->mv_size] = '\0';
    return w->cb(w->ctx, k->mv_data, name);
}

int rumor_store_contact_each(rumor_txn_t *t, rumor_store_contact_fn cb, void *ctx)
{
    contact_walk_t w = {cb, ctx};
    return walk_prefix(t, t->s->contacts, NULL, 0, false, contact_step, &w);
}
