/*
 * test_store.c - unit tests of the LMDB store: schema, durability, map growth,
 * rollback, and every table's contract (rumor_store.h). Each test works on a
 * real LMDB environment in its own temporary directory.
 */
#include "rumor_crypto.h" /* role and flag names only: the store keeps them as plain bytes */
#include "rumor_store.h"
#include "test.h"

#include <lmdb.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

typedef struct {
    char dir[256];    /* temporary directory holding the environment */
    rumor_store_t *s; /* the open store */
} fixture_t;

static void fx_open(fixture_t *f)
{
    test_tmpdir(f->dir);
    f->s = NULL;
    if (rumor_store_open(f->dir, NULL, &f->s) != RUMOR_OK || !f->s) {
        fprintf(stderr, "cannot open a store in %s\n", f->dir);
        exit(2);
    }
}

static void fx_close(fixture_t *f)
{
    rumor_store_close(&f->s);
    test_rmdir(f->dir);
}

static rumor_txn_t *rd(rumor_store_t *s)
{
    rumor_txn_t *t = NULL;
    if (rumor_store_read_begin(s, &t) != RUMOR_OK) {
        fprintf(stderr, "cannot begin a read transaction\n");
        exit(2);
    }
    return t;
}

/* An id of 32 equal bytes with its last byte set apart, so neighbours differ in one place. */
static void make_id(uint8_t id[ID], uint8_t fill, uint8_t last)
{
    memset(id, fill, ID);
    id[ID - 1] = last;
}

/* An id from a (possibly partial) hex string, zero-padded. */
static void hex_id(uint8_t id[ID], const char *hex)
{
    char full[RUMOR_ID_HEX + 1];
    memset(full, '0', RUMOR_ID_HEX);
    full[RUMOR_ID_HEX] = '\0';
    memcpy(full, hex, strlen(hex));
    if (rumor_hex_decode(id, ID, full) != RUMOR_OK) exit(2);
}

/* ---- open, schema, durability ---------------------------------------------------------------- */

static int put_sample(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    uint8_t id[ID], room[ID], pk[ID], kid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES];
    make_id(id, 0xe1, 0);
    make_id(room, 0x70, 0);
    make_id(pk, 0x0a, 0);
    memset(sealed, 0x5e, sizeof sealed);
    rumor_store_room_t r = {.flags = 1, .epoch = 3, .messages = 9};
    memcpy(r.id, room, ID);
    int rc;
    if ((rc = rumor_store_event_put(t, id, (const uint8_t *)"event bytes", 11)) < 0) return rc;
    if ((rc = rumor_store_room_put(t, &r)) < 0) return rc;
    if ((rc = rumor_store_member_put(t, room, pk, RUMOR_ROLE_MEMBER)) < 0) return rc;
    if ((rc = rumor_store_key_put(t, kid, room, 3, sealed)) < 0) return rc;
    if ((rc = rumor_store_peer_put(t, pk, (const uint8_t *)"192.0.2.1:7000",
                                   strlen("192.0.2.1:7000"))) < 0)
        return rc;
    return rumor_store_meta_put(t, "note", "kept", 4);
}

/* Checks what put_sample wrote. */
static void check_sample(rumor_store_t *s)
{
    uint8_t id[ID], room[ID], pk[ID], kid[8] = {1, 2, 3, 4, 5, 6, 7, 8}, got_room[ID];
    uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES], want_sealed[RUMOR_STORE_KEY_SEALED_BYTES];
    make_id(id, 0xe1, 0);
    make_id(room, 0x70, 0);
    make_id(pk, 0x0a, 0);
    memset(want_sealed, 0x5e, sizeof want_sealed);
    rumor_txn_t *t = rd(s);
    const uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_EQ_INT(rumor_store_event_get(t, id, &buf, &len), RUMOR_OK);
    CHECK(len == 11 && buf && memcmp(buf, "event bytes", 11) == 0);
    rumor_store_room_t r;
    CHECK_EQ_INT(rumor_store_room_get(t, room, &r), RUMOR_OK);
    CHECK_EQ_INT(r.epoch, 3);
    CHECK_EQ_INT(r.messages, 9);
    uint8_t role = 0;
    CHECK_EQ_INT(rumor_store_member_get(t, room, pk, &role), RUMOR_OK);
    CHECK_EQ_INT(role, RUMOR_ROLE_MEMBER);
    uint32_t epoch = 0;
    CHECK_EQ_INT(rumor_store_key_get(t, kid, got_room, &epoch, sealed), RUMOR_OK);
    CHECK_EQ_MEM(got_room, room, ID);
    CHECK_EQ_INT(epoch, 3);
    CHECK_EQ_MEM(sealed, want_sealed, sizeof sealed);
    char note[8];
    CHECK_EQ_INT(rumor_store_meta_get(t, "note", note, sizeof note, &len), RUMOR_OK);
    CHECK(len == 4 && memcmp(note, "kept", 4) == 0);
    rumor_store_read_end(&t);
    CHECK(t == NULL);
}

static void test_open_creates_schema(void)
{
    fixture_t f;
    fx_open(&f);
    CHECK_EQ_INT(rumor_store_schema(f.s), RUMOR_STORE_SCHEMA);
    CHECK_EQ_INT(RUMOR_STORE_SCHEMA, 4);
    CHECK_EQ_INT(rumor_store_map_size(f.s), RUMOR_STORE_MAP_INITIAL);
    rumor_txn_t *t = rd(f.s);
    uint8_t v[8];
    size_t n = 0;
    CHECK_EQ_INT(rumor_store_meta_get(t, "schema", v, sizeof v, &n), RUMOR_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(rumor_get_u32(v), RUMOR_STORE_SCHEMA);
    CHECK_EQ_INT(rumor_store_meta_get(t, "schema", v, 3, &n), RUMOR_ERR_TOO_BIG);
    CHECK_EQ_INT(rumor_store_meta_get(t, "absent", v, sizeof v, &n), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_store_event_count(t), 0);
    CHECK_EQ_INT(rumor_store_room_count(t), 0);
    CHECK_EQ_INT(rumor_store_outbox_count(t), 0);
    rumor_store_read_end(&t);
    fx_close(&f);
    CHECK(f.s == NULL);

    /* The directory must exist: the store never creates a home by accident. */
    rumor_store_t *s = NULL;
    CHECK(rumor_store_open("/nonexistent/rumor-store-test", NULL, &s) < 0);
    CHECK(s == NULL);
}

static void test_reopen_keeps_data(void)
{
    fixture_t f;
    fx_open(&f);
    CHECK_EQ_INT(rumor_store_write(f.s, put_sample, NULL), RUMOR_OK);
    check_sample(f.s);
    rumor_store_close(&f.s);

    CHECK_EQ_INT(rumor_store_open(f.dir, NULL, &f.s), RUMOR_OK);
    if (!f.s) return;
    CHECK_EQ_INT(rumor_store_schema(f.s), RUMOR_STORE_SCHEMA);
    check_sample(f.s);
    rumor_store_close(&f.s);

    /* A read-only open sees the same data. */
    rumor_store_options_t ro = {.read_only = true};
    CHECK_EQ_INT(rumor_store_open(f.dir, &ro, &f.s), RUMOR_OK);
    if (f.s) check_sample(f.s);
    fx_close(&f);
}

static int write_then_fail_fn(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    int rc = rumor_store_meta_put(t, "batch", "x", 1);
    return rc < 0 ? rc : RUMOR_ERR_INVALID;
}

/*
 * A batch commit (meta page not synced) is committed all the same: visible at once, kept across
 * a reopen, and made durable by rumor_store_sync. (A power cut cannot be staged here; LMDB's
 * MDB_NOMETASYNC contract is that it may undo the last such commits without corrupting.)
 */
static void test_batch_commits(void)
{
    fixture_t f;
    fx_open(&f);
    CHECK_EQ_INT(rumor_store_write_as(f.s, RUMOR_STORE_BATCH, put_sample, NULL), RUMOR_OK);
    check_sample(f.s);
    CHECK_EQ_INT(rumor_store_sync(f.s), RUMOR_OK);
    rumor_store_close(&f.s);
    CHECK_EQ_INT(rumor_store_open(f.dir, NULL, &f.s), RUMOR_OK);
    if (f.s) check_sample(f.s);
    /* A failing batch callback leaves nothing, exactly like a durable one. */
    CHECK_EQ_INT(rumor_store_write_as(f.s, RUMOR_STORE_BATCH, write_then_fail_fn, NULL),
                 RUMOR_ERR_INVALID);
    rumor_txn_t *t = rd(f.s);
    char note[8];
    size_t len = 0;
    CHECK_EQ_INT(rumor_store_meta_get(t, "batch", note, sizeof note, &len), RUMOR_ERR_NOT_FOUND);
    rumor_store_read_end(&t);
    fx_close(&f);
}

static int set_schema_99(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    uint8_t v[4];
    rumor_put_u32(v, 99);
    return rumor_store_meta_put(t, "schema", v, sizeof v);
}

/* BLAKE2b of a whole file, to tell whether anything in it changed. */
static void hash_file(const char *path, uint8_t out[32])
{
    crypto_generichash_state st;
    uint8_t buf[65536];
    size_t n;
    FILE *fp = fopen(path, "rb");
    memset(out, 0, 32);
    if (!fp) return;
    crypto_generichash_init(&st, NULL, 0, 32);
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) crypto_generichash_update(&st, buf, n);
    fclose(fp);
    crypto_generichash_final(&st, out, 32);
}

static void test_schema_newer_refused(void)
{
    fixture_t f;
    fx_open(&f);
    CHECK_EQ_INT(rumor_store_write(f.s, put_sample, NULL), RUMOR_OK);
    CHECK_EQ_INT(rumor_store_write(f.s, set_schema_99, NULL), RUMOR_OK);
    rumor_store_close(&f.s);
    {
        /* A newer rumor might have dropped a table: opening must not create it again. */
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        MDB_dbi outbox;
        CHECK_EQ_INT(mdb_env_create(&env), 0);
        CHECK_EQ_INT(mdb_env_set_maxdbs(env, 16), 0);
        CHECK_EQ_INT(mdb_env_open(env, f.dir, 0, 0600), 0);
        CHECK_EQ_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
        CHECK_EQ_INT(mdb_dbi_open(txn, "outbox", 0, &outbox), 0);
        CHECK_EQ_INT(mdb_drop(txn, outbox, 1), 0);
        CHECK_EQ_INT(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
    }

    char data[300];
    uint8_t before[32], after[32];
    snprintf(data, sizeof data, "%s/data.mdb", f.dir);
    hash_file(data, before);

    rumor_store_t *s = NULL;
    CHECK_EQ_INT(rumor_store_open(f.dir, NULL, &s), RUMOR_ERR_SCHEMA_NEWER);
    CHECK(s == NULL);
    rumor_store_options_t ro = {.read_only = true};
    CHECK_EQ_INT(rumor_store_open(f.dir, &ro, &s), RUMOR_ERR_SCHEMA_NEWER);
    CHECK(s == NULL);
    rumor_store_close(&s);

    /* Nothing was migrated, rewritten or lost: the file is byte for byte the same. */
    hash_file(data, after);
    CHECK_EQ_MEM(before, after, sizeof before);

    /* And with LMDB itself: the newer schema and the data are still there. */
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta, events;
    CHECK_EQ_INT(mdb_env_create(&env), 0);
    CHECK_EQ_INT(mdb_env_set_maxdbs(env, 16), 0);
    CHECK_EQ_INT(mdb_env_open(env, f.dir, MDB_RDONLY, 0600), 0);
    CHECK_EQ_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    CHECK_EQ_INT(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    CHECK_EQ_INT(mdb_dbi_open(txn, "events", 0, &events), 0);
    MDB_val k = {6, "schema"}, v = {0, NULL};
    CHECK_EQ_INT(mdb_get(txn, meta, &k, &v), 0);
    CHECK(v.mv_size == 4 && rumor_get_u32(v.mv_data) == 99);
    MDB_stat st;
    CHECK_EQ_INT(mdb_stat(txn, events, &st), 0);
    CHECK_EQ_INT(st.ms_entries, 1);
    MDB_dbi outbox;
    CHECK_EQ_INT(mdb_dbi_open(txn, "outbox", 0, &outbox), MDB_NOTFOUND);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    test_rmdir(f.dir);
}

/* ---- migration 2 -> 3: the per-domain dlog -----------------------------------------------------
 */

/* One log entry of the migration's rooms: which room's log, and the entry. */
typedef struct {
    char room; /* 'R', 'S', 'P' or 'T' */
    uint64_t lamport;
    uint8_t fill, last; /* the id: make_id(fill, last) */
    uint8_t type;
} mig_entry_t;

/*
 * A top-level room R with a non-private sub-room S and a private sub-room P,
 * and a second top-level room T, as ingest logs them: each event in its
 * room's log, and a sub-room's create in its parent's log and its own.
 * Lamports interleave across R and S, and some share a lamport, so the
 * domain's order is (lamport, id) and not the order of either log.
 */
#define MIG_R 0x52
#define MIG_S 0x53
#define MIG_P 0x50
#define MIG_T 0x54
static const mig_entry_t MIG_LOG[] = {
    {'R', 1, MIG_R, 0, RUMOR_EV_ROOM_CREATE}, {'R', 2, 0xa1, 0, RUMOR_EV_MESSAGE},
    {'R', 3, MIG_S, 0, RUMOR_EV_ROOM_CREATE}, {'R', 4, 0xa2, 0, RUMOR_EV_MESSAGE},
    {'R', 4, 0xa0, 0, RUMOR_EV_MESSAGE},      {'R', 5, MIG_P, 0, RUMOR_EV_ROOM_CREATE},
    {'R', 9, 0xa3, 0, RUMOR_EV_MESSAGE},      {'S', 3, MIG_S, 0, RUMOR_EV_ROOM_CREATE},
    {'S', 4, 0xa1, 1, RUMOR_EV_MESSAGE},      {'S', 6, 0x0b, 2, RUMOR_EV_MESSAGE},
    {'S', 9, 0xff, 3, RUMOR_EV_MESSAGE},      {'P', 5, MIG_P, 0, RUMOR_EV_ROOM_CREATE},
    {'P', 6, 0xc1, 0, RUMOR_EV_MESSAGE},      {'P', 7, 0xc2, 0, RUMOR_EV_MESSAGE},
    {'T', 1, MIG_T, 0, RUMOR_EV_ROOM_CREATE}, {'T', 2, 0xd1, 0, RUMOR_EV_MESSAGE},
};
#define N_MIG_LOG (sizeof MIG_LOG / sizeof MIG_LOG[0])

/* R's domain after the migration: R's and S's entries, each once (S's create), in order. */
static const mig_entry_t MIG_DLOG_R[] = {
    {'R', 1, MIG_R, 0, 0}, {'R', 2, 0xa1, 0, 0}, {'R', 3, MIG_S, 0, 0}, {'R', 4, 0xa0, 0, 0},
    {'R', 4, 0xa1, 1, 0},  {'R', 4, 0xa2, 0, 0}, {'R', 5, MIG_P, 0, 0}, {'R', 6, 0x0b, 2, 0},
    {'R', 9, 0xa3, 0, 0},  {'R', 9, 0xff, 3, 0},
};
/* P's domain: P's own entries, its create included. */
static const mig_entry_t MIG_DLOG_P[] = {
    {'P', 5, MIG_P, 0, 0}, {'P', 6, 0xc1, 0, 0}, {'P', 7, 0xc2, 0, 0}};
static const mig_entry_t MIG_DLOG_T[] = {{'T', 1, MIG_T, 0, 0}, {'T', 2, 0xd1, 0, 0}};

static void mig_room_id(char room, uint8_t id[ID])
{
    make_id(id, room == 'R' ? MIG_R : room == 'S' ? MIG_S : room == 'P' ? MIG_P : MIG_T, 0);
}

static int put_schema2_rooms(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    static const struct {
        char room, parent;
        uint8_t flags;
    } rooms[] = {{'R', 0, 0}, {'S', 'R', 0}, {'P', 'R', RUMOR_ROOM_FLAG_PRIVATE}, {'T', 0, 0}};
    int rc;
    for (size_t i = 0; i < sizeof rooms / sizeof rooms[0]; i++) {
        rumor_store_room_t r = {.flags = rooms[i].flags};
        mig_room_id(rooms[i].room, r.id);
        if (rooms[i].parent) mig_room_id(rooms[i].parent, r.parent);
        if ((rc = rumor_store_room_put(t, &r)) < 0) return rc;
    }
    for (size_t i = 0; i < N_MIG_LOG; i++) {
        uint8_t room[ID], id[ID];
        mig_room_id(MIG_LOG[i].room, room);
        make_id(id, MIG_LOG[i].fill, MIG_LOG[i].last);
        if ((rc = rumor_store_log_add(t, room, MIG_LOG[i].lamport, id, MIG_LOG[i].type)) < 0)
            return rc;
    }
    /* A stray item: gone with the table, so only the migration fills the new one. */
    uint8_t room[ID], stray[ID];
    mig_room_id('R', room);
    make_id(stray, 0xee, 0xee);
    return rumor_store_dlog_add(t, room, 3, stray);
}

typedef struct {
    uint64_t lamport[32];
    uint8_t ids[32][ID];
    size_t n;
} dlog_seen_t;

static int collect_dlog(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    dlog_seen_t *d = ctx;
    if (d->n == 32) return 9;
    d->lamport[d->n] = lamport;
    memcpy(d->ids[d->n++], id, ID);
    return 0;
}

/* The domain's items from (lamport, id) on must be want[from..n), in that order. */
static void check_dlog(rumor_store_t *s, char domain, const mig_entry_t *want, size_t n,
                       size_t from)
{
    static const uint8_t zero[ID];
    uint8_t room[ID], id[ID];
    mig_room_id(domain, room);
    dlog_seen_t d = {.n = 0};
    rumor_txn_t *t = rd(s);
    if (from == 0) {
        CHECK_EQ_INT(rumor_store_dlog_from(t, room, 0, zero, collect_dlog, &d), RUMOR_OK);
    } else {
        make_id(id, want[from].fill, want[from].last);
        CHECK_EQ_INT(rumor_store_dlog_from(t, room, want[from].lamport, id, collect_dlog, &d),
                     RUMOR_OK);
    }
    rumor_store_read_end(&t);
    CHECK_EQ_INT(d.n, n - from);
    for (size_t i = 0; i < d.n && from + i < n; i++) {
        make_id(id, want[from + i].fill, want[from + i].last);
        CHECK_EQ_INT(d.lamport[i], want[from + i].lamport);
        CHECK_EQ_MEM(d.ids[i], id, ID);
    }
}

static void check_migrated(rumor_store_t *s)
{
    CHECK_EQ_INT(rumor_store_schema(s), 4);
    uint8_t v[8];
    size_t n = 0;
    rumor_txn_t *t = rd(s);
    CHECK_EQ_INT(rumor_store_meta_get(t, "schema", v, sizeof v, &n), RUMOR_OK);
    CHECK(n == 4 && rumor_get_u32(v) == 4);
    /* 3 -> 4 leaves the derived state to gossip's rebuild (PROTOCOL.md 7.6). */
    CHECK(rumor_store_rebuild_needed(t));
    rumor_store_read_end(&t);
    size_t nr = sizeof MIG_DLOG_R / sizeof MIG_DLOG_R[0];
    size_t np = sizeof MIG_DLOG_P / sizeof MIG_DLOG_P[0];
    check_dlog(s, 'R', MIG_DLOG_R, nr, 0);
    check_dlog(s, 'R', MIG_DLOG_R, nr, 4); /* from an item, that one included */
    check_dlog(s, 'P', MIG_DLOG_P, np, 0);
    check_dlog(s, 'T', MIG_DLOG_T, sizeof MIG_DLOG_T / sizeof MIG_DLOG_T[0], 0);
    /* S is not a key domain: its entries are under R. */
    check_dlog(s, 'S', NULL, 0, 0);
}

/* Makes the (closed) store in `dir` a schema-2 store: no `dlog` table, stamp 2. */
static void stamp_schema2(const char *dir)
{
    {
        /* Make it a schema-2 store: no `dlog` table at all, and the stamp says 2. */
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        MDB_dbi dlog, meta;
        uint8_t two[4];
        rumor_put_u32(two, 2);
        MDB_val k = {6, "schema"}, v = {sizeof two, two};
        CHECK_EQ_INT(mdb_env_create(&env), 0);
        CHECK_EQ_INT(mdb_env_set_maxdbs(env, 16), 0);
        CHECK_EQ_INT(mdb_env_open(env, dir, 0, 0600), 0);
        CHECK_EQ_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
        CHECK_EQ_INT(mdb_dbi_open(txn, "dlog", 0, &dlog), 0);
        CHECK_EQ_INT(mdb_drop(txn, dlog, 1), 0);
        CHECK_EQ_INT(mdb_dbi_open(txn, "meta", 0, &meta), 0);
        CHECK_EQ_INT(mdb_put(txn, meta, &k, &v, 0), 0);
        CHECK_EQ_INT(mdb_txn_commit(txn), 0);
        CHECK_EQ_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
        CHECK_EQ_INT(mdb_dbi_open(txn, "dlog", 0, &dlog), MDB_NOTFOUND);
        mdb_txn_abort(txn);
        mdb_env_close(env);
    }
}

static void test_migrate_2_to_3(void)
{
    fixture_t f;
    fx_open(&f);
    CHECK_EQ_INT(rumor_store_write(f.s, put_schema2_rooms, NULL), RUMOR_OK);
    rumor_store_close(&f.s);
    stamp_schema2(f.dir);
    /* Opening migrates: the table is made and filled from the logs, and stamped 3. */
    CHECK_EQ_INT(rumor_store_open(f.dir, NULL, &f.s), RUMOR_OK);
    if (!f.s) return;
    check_migrated(f.s);
    /* A migrated store opens as it is. */
    rumor_store_close(&f.s);
    CHECK_EQ_INT(rumor_store_open(f.dir, NULL, &f.s), RUMOR_OK);
    if (f.s) check_migrated(f.s);
    fx_close(&f);
}

#define MIGRATE_ENTRIES 20000

static int put_big_log(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    rumor_store_room_t r = {0};
    memset(r.id, 0x42, ID);
    int rc = rumor_store_room_put(t, &r);
    for (uint32_t i = 0; rc == RUMOR_OK && i < MIGRATE_ENTRIES; i++) {
        uint8_t id[ID];
        memset(id, 0, ID);
        rumor_put_u32(id, i * 2654435761u); /* spread over the key space, as hashes are */
        rumor_put_u32(id + 4, i);
        rc = rumor_store_log_add(t, r.id, 1 + i / 3, id, RUMOR_EV_MESSAGE);
    }
    return rc;
}

static int count_item(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    (void)lamport;
    (void)id;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The migration writes a table as large as `log` inside the opening transaction: a store whose
 * map has no room for it must still open (the map grows), not fail for good. */
static void test_migrate_grows_the_map(void)
{
    char dir[256];
    test_tmpdir(dir);
    rumor_store_t *s = NULL;
    rumor_store_options_t opt = {.initial_map_bytes = 64 << 10};
    CHECK_EQ_INT(rumor_store_open(dir, &opt, &s), RUMOR_OK);
    if (!s) return;
    CHECK_EQ_INT(rumor_store_write(s, put_big_log, NULL), RUMOR_OK);
    size_t before = rumor_store_map_size(s);
    rumor_store_close(&s);
    stamp_schema2(dir);
    CHECK_EQ_INT(rumor_store_open(dir, &opt, &s), RUMOR_OK);
    if (!s) return;
    CHECK_EQ_INT(rumor_store_schema(s), 4);
    CHECK(rumor_store_map_size(s) > before);
    uint8_t room[ID], zero[ID] = {0};
    memset(room, 0x42, ID);
    uint64_t n = 0;
    rumor_txn_t *t = rd(s);
    CHECK_EQ_INT(rumor_store_dlog_from(t, room, 0, zero, count_item, &n), RUMOR_OK);
    rumor_store_read_end(&t);
    CHECK_EQ_INT(n, MIGRATE_ENTRIES);
    rumor_store_close(&s);
    test_rmdir(dir);
}

/* ---- map growth and rollback ----------------------------------------------------------------- */

#define BIG_EVENTS_PER_TXN 80
#define BIG_TXNS           4
#define BIG_EVENT_BYTES    65536

typedef struct {
    int round;    /* which transaction this is */
    int calls;    /* how many times the callback ran, over all rounds */
    uint8_t *buf; /* scratch for one event */
} big_t;

static void big_event(uint8_t *buf, uint8_t id[ID], int round, int i)
{
    memset(id, 0x77, ID);
    id[0] = (uint8_t)round;
    id[1] = (uint8_t)i;
    for (size_t j = 0; j < BIG_EVENT_BYTES; j++) buf[j] = (uint8_t)(round * 131 + i * 7 + j);
}

static int write_big(rumor_txn_t *t, void *ctx)
{
    big_t *b = ctx;
    b->calls++;
    for (int i = 0; i < BIG_EVENTS_PER_TXN; i++) {
        uint8_t id[ID];
        big_event(b->buf, id, b->round, i);
        int rc = rumor_store_event_put(t, id, b->buf, BIG_EVENT_BYTES);
        if (rc < 0) return rc;
    }
    return RUMOR_OK;
}

static void test_map_growth(void)
{
    char dir[256];
    test_tmpdir(dir);
    rumor_store_t *s = NULL;
    rumor_store_options_t opt = {.initial_map_bytes = 64 << 10};
    CHECK_EQ_INT(rumor_store_open(dir, &opt, &s), RUMOR_OK);
    if (!s) return;
    CHECK_EQ_INT(rumor_store_map_size(s), 64 << 10);

    big_t b = {0, 0, malloc(BIG_EVENT_BYTES)};
    if (!b.buf) exit(2);
    for (b.round = 0; b.round < BIG_TXNS; b.round++)
        CHECK_EQ_INT(rumor_store_write(s, write_big, &b), RUMOR_OK);
    /* The map was full mid-transaction, so some callbacks ran again from the start. */
    CHECK(b.calls > BIG_TXNS);
    size_t total = (size_t)BIG_TXNS * BIG_EVENTS_PER_TXN * BIG_EVENT_BYTES;
    CHECK(rumor_store_map_size(s) >= total);

    /* Every event is there exactly once, with its own bytes. */
    uint8_t *want = malloc(BIG_EVENT_BYTES);
    if (!want) exit(2);
    rumor_txn_t *t = rd(s);
    CHECK_EQ_INT(rumor_store_event_count(t), BIG_TXNS * BIG_EVENTS_PER_TXN);
    int bad = 0;
    for (int r = 0; r < BIG_TXNS; r++) {
        for (int i = 0; i < BIG_EVENTS_PER_TXN; i++) {
            uint8_t id[ID];
            const uint8_t *got = NULL;
            size_t len = 0;
            big_event(want, id, r, i);
            if (rumor_store_event_get(t, id, &got, &len) != RUMOR_OK || len != BIG_EVENT_BYTES ||
                memcmp(got, want, len) != 0)
                bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    rumor_store_read_end(&t);
    rumor_store_close(&s);

    /* Reopened with the small initial size, the map covers the data and still grows on demand. */
    CHECK_EQ_INT(rumor_store_open(dir, &opt, &s), RUMOR_OK);
    if (s) {
        CHECK(rumor_store_map_size(s) >= total);
        b.round = BIG_TXNS;
        CHECK_EQ_INT(rumor_store_write(s, write_big, &b), RUMOR_OK);
        t = rd(s);
        CHECK_EQ_INT(rumor_store_event_count(t), (BIG_TXNS + 1) * BIG_EVENTS_PER_TXN);
        rumor_store_read_end(&t);
    }
    rumor_store_close(&s);
    free(want);
    free(b.buf);
    test_rmdir(dir);
}

static int count_write(rumor_txn_t *t, void *ctx)
{
    (*(int *)ctx)++;
    return rumor_store_meta_put(t, "probe", "1", 1);
}

/*
 * A node grows its store while CLIs open it and read or write (issue 10 F3): a child process
 * doubles the map again and again while this one opens, reads, writes and closes the store;
 * not one of those may fail with a store error.
 */
static void test_growth_by_another_process(void)
{
    char dir[256];
    test_tmpdir(dir);
    rumor_store_t *s = NULL;
    rumor_store_options_t opt = {.initial_map_bytes = 64 << 10};
    CHECK_EQ_INT(rumor_store_open(dir, &opt, &s), RUMOR_OK);
    rumor_store_close(&s);
    pid_t child = fork();
    if (child < 0) exit(2);
    if (child == 0) {
        /* The grower: big transactions from a small map, as a node taking a flood does. */
        rumor_store_t *g = NULL;
        if (rumor_store_open(dir, &opt, &g) != RUMOR_OK) _exit(3);
        big_t b = {0, 0, malloc(BIG_EVENT_BYTES)};
        if (!b.buf) _exit(2);
        for (b.round = 0; b.round < 12; b.round++)
            if (rumor_store_write_as(g, RUMOR_STORE_BATCH, write_big, &b) != RUMOR_OK) _exit(4);
        free(b.buf);
        rumor_store_close(&g);
        _exit(0);
    }
    int opened = 0, failed = 0, status = -1;
    pid_t done = 0;
    for (int i = 0; i < 2000 && (done = waitpid(child, &status, WNOHANG)) == 0; i++) {
        int calls = 0;
        int rc = rumor_store_open(dir, &opt, &s);
        if (rc == RUMOR_OK) {
            rumor_txn_t *t = NULL;
            rc = rumor_store_read_begin(s, &t);
            rumor_store_read_end(&t);
            /* A small write of our own from the map we opened with (it may be stale). */
            if (rc == RUMOR_OK) rc = rumor_store_write(s, count_write, &calls);
            rumor_store_close(&s);
        }
        opened++;
        if (rc != RUMOR_OK) failed++;
    }
    if (done == 0 && waitpid(child, &status, 0) != child) status = -1;
    CHECK_EQ_INT(status, 0);
    CHECK(opened > 0);
    CHECK_EQ_INT(failed, 0);
    test_rmdir(dir);
}

static int write_then_fail(rumor_txn_t *t, void *ctx)
{
    int *calls = ctx;
    uint8_t id[ID], room[ID];
    (*calls)++;
    make_id(id, 0x31, 0);
    make_id(room, 0x32, 0);
    rumor_store_room_t r = {0};
    memcpy(r.id, room, ID);
    int rc = rumor_store_event_put(t, id, (const uint8_t *)"x", 1);
    if (rc == RUMOR_OK) rc = rumor_store_room_put(t, &r);
    if (rc == RUMOR_OK) rc = rumor_store_outbox_add(t, id);
    if (rc == RUMOR_OK) rc = rumor_store_meta_put(t, "half", "done", 4);
    return rc < 0 ? rc : RUMOR_ERR_DENIED;
}

static void test_write_error_rolls_back(void)
{
    fixture_t f;
    fx_open(&f);
    int calls = 0;
    CHECK_EQ_INT(rumor_store_write(f.s, write_then_fail, &calls), RUMOR_ERR_DENIED);
    CHECK_EQ_INT(calls, 1); /* an error other than a full map is not retried */
    uint8_t id[ID], room[ID], v[8];
    size_t n;
    make_id(id, 0x31, 0);
    make_id(room, 0x32, 0);
    rumor_txn_t *t = rd(f.s);
    CHECK(!rumor_store_event_has(t, id));
    CHECK_EQ_INT(rumor_store_event_count(t), 0);
    CHECK_EQ_INT(rumor_store_room_count(t), 0);
    CHECK_EQ_INT(rumor_store_outbox_count(t), 0);
    CHECK_EQ_INT(rumor_store_meta_get(t, "half", v, sizeof v, &n), RUMOR_ERR_NOT_FOUND);
    rumor_store_room_t r;
    CHECK_EQ_INT(rumor_store_room_get(t, room, &r), RUMOR_ERR_NOT_FOUND);
    rumor_store_read_end(&t);
    fx_close(&f);
}

static int put_event_twice(rumor_txn_t *t, void *ctx)
{
    int *second = ctx;
    uint8_t id[ID];
    make_id(id, 0x44, 0);
    int rc = rumor_store_event_put(t, id, (const uint8_t *)"first", 5);
    if (rc < 0) return rc;
    *second = rumor_store_event_put(t, id, (const uint8_t *)"second", 6);
    return RUMOR_OK;
}

static void test_events_are_immutable(void)
{
    fixture_t f;
    fx_open(&f);
    int second = 0;
    CHECK_EQ_INT(rumor_store_write(f.s, put_event_twice, &second), RUMOR_OK);
    CHECK_EQ_INT(second, RUMOR_ERR_EXISTS);
    uint8_t id[ID], other[ID];
    make_id(id, 0x44, 0);
    make_id(other, 0x44, 1);
    rumor_txn_t *t = rd(f.s);
    const uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_EQ_INT(rumor_store_event_get(t, id, &buf, &len), RUMOR_OK);
    CHECK(len == 5 && memcmp(buf, "first", 5) == 0);
    CHECK(rumor_store_event_has(t, id));
    CHECK(!rumor_store_event_has(t, other));
    CHECK_EQ_INT(rumor_store_event_get(t, other, &buf, &len), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_store_event_count(t), 1);
    rumor_store_read_end(&t);
    fx_close(&f);
}

/* ---- the per-room log ------------------------------------------------------------------------ */

typedef struct {
    uint64_t lamport;
    uint8_t id_fill;
    uint8_t type;
} log_entry_t;

/* Room R and its immediate neighbours in key order, plus the very last possible room. */
static void log_rooms(uint8_t r[ID], uint8_t before[ID], uint8_t after[ID], uint8_t last[ID])
{
    make_id(r, 0x50, 0x01);
    make_id(before, 0x50, 0x00);
    make_id(after, 0x50, 0x02);
    memset(last, 0xff, ID);
}

/* Given out of order on purpose; lamports straddle byte boundaries. */
static const log_entry_t LOG_R[] = {
    {256, 0x10, 2}, {2, 0xff, 2}, {UINT64_MAX, 0xfe, 4}, {1, 0x09, 1},
    {255, 0x80, 2}, {2, 0x01, 6}, {65536, 0x20, 2},
};
/* The same entries sorted by (lamport, id). */
static const log_entry_t LOG_R_SORTED[] = {
    {1, 0x09, 1},   {2, 0x01, 6},     {2, 0xff, 2},          {255, 0x80, 2},
    {256, 0x10, 2}, {65536, 0x20, 2}, {UINT64_MAX, 0xfe, 4},
};
#define N_LOG (sizeof LOG_R / sizeof LOG_R[0])

static int fill_logs(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    uint8_t r[ID], before[ID], after[ID], last[ID], id[ID];
    int rc = RUMOR_OK;
    log_rooms(r, before, after, last);
    for (size_t i = 0; i < N_LOG && rc == RUMOR_OK; i++) {
        memset(id, LOG_R[i].id_fill, ID);
        rc = rumor_store_log_add(t, r, LOG_R[i].lamport, id, LOG_R[i].type);
    }
    /* Neighbours whose entries sort right at R's edges. */
    memset(id, 0xff, ID);
    if (rc == RUMOR_OK) rc = rumor_store_log_add(t, before, UINT64_MAX, id, 2);
    memset(id, 0x00, ID);
    if (rc == RUMOR_OK) rc = rumor_store_log_add(t, after, 0, id, 2);
    if (rc == RUMOR_OK) rc = rumor_store_log_add(t, last, 5, id, 2);
    memset(id, 0xff, ID);
    if (rc == RUMOR_OK) rc = rumor_store_log_add(t, last, 7, id, 2);
    return rc;
}

typedef struct {
    log_entry_t got[16];
    uint8_t ids[16][ID];
    size_t n;
    size_t stop_after; /* 0: never stop */
} log_seen_t;

static int collect_log(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t type)
{
    log_seen_t *s = ctx;
    if (s->n < 16) {
        s->got[s->n].lamport = lamport;
        s->got[s->n].id_fill = id[0];
        s->got[s->n].type = type;
        memcpy(s->ids[s->n], id, ID);
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

static void check_entry(const log_entry_t *got, const uint8_t id[ID], const log_entry_t *want)
{
    uint8_t want_id[ID];
    memset(want_id, want->id_fill, ID);
    CHECK_EQ_INT(got->lamport, want->lamport);
    CHECK_EQ_MEM(id, want_id, ID);
    CHECK_EQ_INT(got->type, want->type);
}

static void test_log_order(void)
{
    fixture_t f;
    fx_open(&f);
    CHECK_EQ_INT(rumor_store_write(f.s, fill_logs, NULL), RUMOR_OK);
    uint8_t r[ID], before[ID], after[ID], last[ID], empty[ID];
    log_rooms(r, before, after, last);
    make_id(empty, 0x60, 0);
    rumor_txn_t *t = rd(f.s);

    log_seen_t fwd = {0};
    CHECK_EQ_INT(rumor_store_log_each(t, r, false, collect_log, &fwd), RUMOR_OK);
    CHECK_EQ_INT(fwd.n, N_LOG);
    for (size_t i = 0; i < N_LOG && i < fwd.n; i++)
        check_entry(&fwd.got[i], fwd.ids[i], &LOG_R_SORTED[i]);

    log_seen_t rev = {0};
    CHECK_EQ_INT(rumor_store_log_each(t, r, true, collect_log, &rev), RUMOR_OK);
    CHECK_EQ_INT(rev.n, N_LOG);
    for (size_t i = 0; i < N_LOG && i < rev.n; i++)
        check_entry(&rev.got[i], rev.ids[i], &LOG_R_SORTED[N_LOG - 1 - i]);

    /* A callback's non-zero return stops the walk and is handed back. */
    log_seen_t stop = {.stop_after = 2};
    CHECK_EQ_INT(rumor_store_log_each(t, r, true, collect_log, &stop), 7);
    CHECK_EQ_INT(stop.n, 2);

    /* The neighbours keep to themselves, including the last room of the key space. */
    log_seen_t b = {0}, a = {0}, l = {0}, e = {0};
    CHECK_EQ_INT(rumor_store_log_each(t, before, true, collect_log, &b), RUMOR_OK);
    CHECK_EQ_INT(b.n, 1);
    CHECK_EQ_INT(rumor_store_log_each(t, after, false, collect_log, &a), RUMOR_OK);
    CHECK_EQ_INT(a.n, 1);
    CHECK_EQ_INT(rumor_store_log_each(t, last, true, collect_log, &l), RUMOR_OK);
    CHECK_EQ_INT(l.n, 2);
    if (l.n == 2) CHECK(l.got[0].lamport == 7 && l.got[1].lamport == 5);
    CHECK_EQ_INT(rumor_store_log_each(t, empty, true, collect_log, &e), RUMOR_OK);
    CHECK_EQ_INT(rumor_store_log_each(t, empty, false, collect_log, &e), RUMOR_OK);
    CHECK_EQ_INT(e.n, 0);
    rumor_store_read_end(&t);
    fx_close(&f);
}

/* ---- heads ----------------------------------------------------------------------------------- */

typedef struct {
    int step; /* which advance to perform */
} heads_step_t;

static int advance(rumor_txn_t *t, void *ctx)
{
    heads_step_t *h = ctx;
    uint8_t room[ID], e[6][ID], parents[2 * ID];
    make_id(room, 0x90, 0);
    for (int i = 0; i < 6; i++) make_id(e[i], (uint8_t)(0xa0 + i), 0);
    switch (h->step) {
    case 0: return rumor_store_heads_advance(t, room, e[0], 1, NULL, 0);
    case 1: return rumor_store_heads_advance(t, room, e[1], 2, e[0], 1);
    case 2: return rumor_store_heads_advance(t, room, e[2], 2, e[0], 1); /* concurrent with e1 */
    case 3:
        memcpy(parents, e[1], ID);
        memcpy(parents + ID, e[2], ID);
        return rumor_store_heads_advance(t, room, e[3], 3, parents, 2);
    }
    return RUMOR_ERR_INVALID;
}

static void expect_heads(rumor_store_t *s, size_t want_n, const uint8_t *want_fills,
                         uint64_t want_max)
{
    uint8_t room[ID], ids[16 * ID];
    size_t n = 99;
    uint64_t max = 0;
    make_id(room, 0x90, 0);
    rumor_txn_t *t = rd(s);
    CHECK_EQ_INT(rumor_store_heads_get(t, room, ids, 16, &n, &max), RUMOR_OK);
    CHECK_EQ_INT(n, want_n);
    CHECK_EQ_INT(max, want_max);
    for (size_t i = 0; i < n && i < want_n; i++) CHECK_EQ_INT(ids[i * ID], want_fills[i]);
    rumor_store_read_end(&t);
}

static int many_heads(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    uint8_t room[ID], id[ID];
    make_id(room, 0x91, 0);
    /* Heads with lamports 5, 9, 7, 1, 9 in id order. */
    static const uint64_t lamports[] = {5, 9, 7, 1, 9};
    for (int i = 0; i < 5; i++) {
        make_id(id, (uint8_t)(0x10 + i), 0);
        int rc = rumor_store_heads_advance(t, room, id, lamports[i], NULL, 0);
        if (rc < 0) return rc;
    }
    return RUMOR_OK;
}

static void test_heads(void)
{
    fixture_t f;
    fx_open(&f);
    heads_step_t h = {0};
    expect_heads(f.s, 0, NULL, 0);
    CHECK_EQ_INT(rumor_store_write(f.s, advance, &h), RUMOR_OK);
    expect_heads(f.s, 1, (const uint8_t[]){0xa0}, 1);
    h.step = 1;
    CHECK_EQ_INT(rumor_store_write(f.s, advance, &h), RUMOR_OK);
    expect_heads(f.s, 1, (const uint8_t[]){0xa1}, 2);
    h.step = 2; /* names e0, already gone: the fork now has two heads */
    CHECK_EQ_INT(rumor_store_write(f.s, advance, &h), RUMOR_OK);
    size_t n = 0;
    uint8_t room[ID], ids[4 * ID];
    make_id(room, 0x90, 0);
    rumor_txn_t *t = rd(f.s);
    CHECK_EQ_INT(rumor_store_heads_get(t, room, ids, 4, &n, NULL), RUMOR_OK);
    CHECK_EQ_INT(n, 2);
    CHECK(n == 2 && ((ids[0] == 0xa1 && ids[ID] == 0xa2) || (ids[0] == 0xa2 && ids[ID] == 0xa1)));
    rumor_store_read_end(&t);
    h.step = 3; /* merges both */
    CHECK_EQ_INT(rumor_store_write(f.s, advance, &h), RUMOR_OK);
    expect_heads(f.s, 1, (const uint8_t[]){0xa3}, 3);

    /* Newest first, truncated to the caller's capacity, max lamport over all heads. */
    CHECK_EQ_INT(rumor_store_write(f.s, many_heads, NULL), RUMOR_OK);
    make_id(room, 0x91, 0);
    t = rd(f.s);
    uint64_t max = 0;
    CHECK_EQ_INT(rumor_store_heads_get(t, room, ids, 4, &n, &max), RUMOR_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(max, 9);
    /* Lamports 9, 9, 7, 5: the two 9s (0x11, 0x14) in either order, then 0x12 and 0x10. */
    CHECK(ids[0] == 0x11 || ids[0] == 0x14);
    CHECK(ids[ID] == 0x11 || ids[ID] == 0x14);
    CHECK_EQ_INT(ids[2 * ID], 0x12);
    CHECK_EQ_INT(ids[3 * ID], 0x10);
    CHECK_EQ_INT(rumor_store_heads_get(t, room, ids, 1, &n, &max), RUMOR_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(ids[0] == 0x11 || ids[0] == 0x14);
    CHECK_EQ_INT(rumor_store_heads_get(t, room, NULL, 0, &n, &max), RUMOR_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(max, 9);
    rumor_store_read_end(&t);
    fx_close(&f);
}

/* ---- rooms and the tree ---------------------------------------------------------------------- */

static void sample_room(rumor_store_room_t *r, uint8_t fill, const uint8_t parent[ID])
{
    memset(r, 0, sizeof *r);
    make_id(r->id, fill, 0);
    memcpy(r->parent, parent, ID);
    r->flags = RUMOR_ROOM_FLAG_PRIVATE;
    make_id(r->creator, 0xc0, fill);
    r->created_ts = 1700000000000ull + fill;
    r->name = (rumor_store_lww_t){.lamport = 3};
    make_id(r->name.event, 0xd1, fill);
    r->topic = (rumor_store_lww_t){.lamport = 4};
    make_id(r->topic.event, 0xd2, fill);
    r->place = (rumor_store_lww_t){.lamport = UINT64_MAX};
    make_id(r->place.event, 0xd3, fill);
    r->epoch = 0x01020304;
    r->messages = 0x0102030405060708ull;
}

typedef struct {
    rumor_store_room_t rooms[4];
    size_t n;
} rooms_t;

static int put_rooms(rumor_txn_t *t, void *ctx)
{
    rooms_t *rs = ctx;
    for (size_t i = 0; i < rs->n; i++) {
        int rc = rumor_store_room_put(t, &rs->rooms[i]);
        if (rc < 0) return rc;
    }
    return RUMOR_OK;
}

typedef struct {
    uint8_t ids[8][ID];
    size_t n;
} children_t;

static int collect_child(void *ctx, const rumor_store_room_t *room)
{
    children_t *c = ctx;
    if (c->n < 8) memcpy(c->ids[c->n], room->id, ID);
    c->n++;
    return 0;
}

static children_t children_of(rumor_store_t *s, const uint8_t parent[ID])
{
    children_t c = {.n = 0};
    rumor_txn_t *t = rd(s);
    CHECK_EQ_INT(rumor_store_room_children(t, parent, collect_child, &c), RUMOR_OK);
    rumor_store_read_end(&t);
    return c;
}

static void test_rooms_and_children(void)
{
    fixture_t f;
    fx_open(&f);
    uint8_t zero[ID] = {0};
    rooms_t rs = {.n = 3};
    sample_room(&rs.rooms[0], 0x40, zero);           /* A, top level */
    sample_room(&rs.rooms[1], 0x42, rs.rooms[0].id); /* C under A */
    sample_room(&rs.rooms[2], 0x41, rs.rooms[0].id); /* B under A */
    CHECK_EQ_INT(rumor_store_write(f.s, put_rooms, &rs), RUMOR_OK);

    rumor_txn_t *t = rd(f.s);
    rumor_store_room_t got;
    CHECK_EQ_INT(rumor_store_room_get(t, rs.rooms[1].id, &got), RUMOR_OK);
    CHECK_EQ_MEM(&got.id, rs.rooms[1].id, ID);
    CHECK_EQ_MEM(got.parent, rs.rooms[0].id, ID);
    CHECK_EQ_INT(got.flags, RUMOR_ROOM_FLAG_PRIVATE);
    CHECK_EQ_MEM(got.creator, rs.rooms[1].creator, ID);
    CHECK_EQ_INT(got.created_ts, rs.rooms[1].created_ts);
    CHECK_EQ_INT(got.name.lamport, 3);
    CHECK_EQ_MEM(got.name.event, rs.rooms[1].name.event, ID);
    CHECK_EQ_INT(got.topic.lamport, 4);
    CHECK_EQ_MEM(got.topic.event, rs.rooms[1].topic.event, ID);
    CHECK(got.place.lamport == UINT64_MAX);
    CHECK_EQ_MEM(got.place.event, rs.rooms[1].place.event, ID);
    CHECK_EQ_INT(got.epoch, 0x01020304);
    CHECK(got.messages == 0x0102030405060708ull);
    CHECK_EQ_INT(rumor_store_room_count(t), 3);
    uint8_t absent[ID];
    make_id(absent, 0x43, 0);
    CHECK_EQ_INT(rumor_store_room_get(t, absent, &got), RUMOR_ERR_NOT_FOUND);
    rumor_store_read_end(&t);

    children_t top = children_of(f.s, zero), under_a = children_of(f.s, rs.rooms[0].id);
    CHECK_EQ_INT(top.n, 1);
    CHECK_EQ_MEM(top.ids[0], rs.rooms[0].id, ID);
    CHECK_EQ_INT(under_a.n, 2); /* in id order: B (0x41) before C (0x42) */
    CHECK_EQ_MEM(under_a.ids[0], rs.rooms[2].id, ID);
    CHECK_EQ_MEM(under_a.ids[1], rs.rooms[1].id, ID);

    /* Moving B under C: the index follows, and B is listed exactly once. */
    rooms_t mv = {.n = 1};
    mv.rooms[0] = rs.rooms[2];
    memcpy(mv.rooms[0].parent, rs.rooms[1].id, ID);
    CHECK_EQ_INT(rumor_store_write(f.s, put_rooms, &mv), RUMOR_OK);
    under_a = children_of(f.s, rs.rooms[0].id);
    children_t under_c = children_of(f.s, rs.rooms[1].id);
    CHECK_EQ_INT(under_a.n, 1);
    CHECK_EQ_MEM(under_a.ids[0], rs.rooms[1].id, ID);
    CHECK_EQ_INT(under_c.n, 1);
    CHECK_EQ_MEM(under_c.ids[0], rs.rooms[2].id, ID);

    /* An update that keeps the parent leaves the index alone. */
    mv.rooms[0].messages = 1;
    CHECK_EQ_INT(rumor_store_write(f.s, put_rooms, &mv), RUMOR_OK);
    under_c = children_of(f.s, rs.rooms[1].id);
    CHECK_EQ_INT(under_c.n, 1);
    t = rd(f.s);
    CHECK_EQ_INT(rumor_store_room_count(t), 3);
    rumor_store_read_end(&t);
    fx_close(&f);
}

/* Fills a stretch of stack with `v`, so whatever runs next in that space starts from known junk. */
static __attribute__((noinline)) void paint_stack(uint8_t v)
{
    volatile uint8_t junk[16384];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = v;
}

typedef struct {
    uint8_t paint;        /* stack junk to leave before writing */
    rumor_store_room_t r; /* the room to write */
} painted_put_t;

static int painted_put(rumor_txn_t *t, void *ctx)
{
    painted_put_t *p = ctx;
    paint_stack(p->paint);
    return rumor_store_room_put(t, &p->r);
}

/* The raw bytes of the room record for `id`, read with LMDB itself (the store must be closed). */
static size_t raw_room_record(const char *dir, const uint8_t id[ID], uint8_t *out, size_t cap)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_val k = {ID, (void *)id}, v = {0, NULL};
    size_t n = 0;
    if (mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 &&
        mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0 &&
        mdb_dbi_open(txn, "rooms", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0 &&
        v.mv_size <= cap) {
        memcpy(out, v.mv_data, v.mv_size);
        n = v.mv_size;
    }
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    return n;
}

static void test_room_record_is_deterministic(void)
{
    /*
     * The same room written twice must leave the same bytes on disk, whatever happened to be
     * on the stack: a record that carries uninitialised memory leaks process memory (which
     * may have held keys) into the store file.
     */
    fixture_t f;
    fx_open(&f);
    uint8_t zero[ID] = {0}, first[512], second[512];
    painted_put_t p = {.paint = 0x00};
    sample_room(&p.r, 0x40, zero);
    CHECK_EQ_INT(rumor_store_write(f.s, painted_put, &p), RUMOR_OK);
    rumor_store_close(&f.s);
    size_t n1 = raw_room_record(f.dir, p.r.id, first, sizeof first);

    CHECK_EQ_INT(rumor_store_open(f.dir, NULL, &f.s), RUMOR_OK);
    p.paint = 0xa5;
    CHECK_EQ_INT(rumor_store_write(f.s, painted_put, &p), RUMOR_OK);
    rumor_store_close(&f.s);
    size_t n2 = raw_room_record(f.dir, p.r.id, second, sizeof second);

    CHECK(n1 > 0);
    CHECK_EQ_INT(n1, n2);
    if (n1 == n2 && memcmp(first, second, n1) != 0) {
        size_t i = 0;
        while (first[i] == second[i]) i++;
        fprintf(stderr, "  room record of %zu bytes differs from byte %zu on (stack junk)\n", n1,
                i);
    }
    CHECK_EQ_MEM(first, second, n1);
    test_rmdir(f.dir);
}

/* ---- members, keys, profiles ----------------------------------------------------------------- */

typedef struct {
    int step;
} step_t;

static void member_ids(uint8_t room[ID], uint8_t other_room[ID], uint8_t a[ID], uint8_t b[ID],
                       uint8_t c[ID])
{
    make_id(room, 0x20, 1);
    make_id(other_room, 0x20, 2);
    make_id(a, 0xa1, 0);
    make_id(b, 0xb2, 0);
    make_id(c, 0xc3, 0);
}

static int edit_members(rumor_txn_t *t, void *ctx)
{
    step_t *s = ctx;
    uint8_t room[ID], other[ID], a[ID], b[ID], c[ID];
    int rc = RUMOR_OK;
    member_ids(room, other, a, b, c);
    switch (s->step) {
    case 0:
        if ((rc = rumor_store_member_put(t, room, b, RUMOR_ROLE_MEMBER)) < 0) return rc;
        if ((rc = rumor_store_member_put(t, room, a, RUMOR_ROLE_ADMIN)) < 0) return rc;
        return rumor_store_member_put(t, other, c, RUMOR_ROLE_MEMBER);
    case 1: return rumor_store_member_put(t, room, b, RUMOR_ROLE_ADMIN);
    case 2:
        if ((rc = rumor_store_member_del(t, room, b)) < 0) return rc;
        return rumor_store_member_del(t, room, b); /* removing twice is fine */
    }
    return RUMOR_ERR_INVALID;
}

typedef struct {
    uint8_t pks[4][ID];
    uint8_t roles[4];
    size_t n;
} members_seen_t;

static int collect_member(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    members_seen_t *m = ctx;
    if (m->n < 4) {
        memcpy(m->pks[m->n], pk, ID);
        m->roles[m->n] = role;
    }
    m->n++;
    return 0;
}

static void test_members(void)
{
    fixture_t f;
    fx_open(&f);
    uint8_t room[ID], other[ID], a[ID], b[ID], c[ID], role = 0;
    member_ids(room, other, a, b, c);
    step_t s = {0};
    CHECK_EQ_INT(rumor_store_write(f.s, edit_members, &s), RUMOR_OK);
    rumor_txn_t *t = rd(f.s);
    CHECK_EQ_INT(rumor_store_member_get(t, room, a, &role), RUMOR_OK);
    CHECK_EQ_INT(role, RUMOR_ROLE_ADMIN);
    CHECK_EQ_INT(rumor_store_member_get(t, room, b, &role), RUMOR_OK);
    CHECK_EQ_INT(role, RUMOR_ROLE_MEMBER);
    CHECK_EQ_INT(rumor_store_member_get(t, room, c, &role), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_store_member_get(t, other, a, &role), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_store_member_count(t, room), 2);
    CHECK_EQ_INT(rumor_store_member_count(t, other), 1);
    members_seen_t m = {.n = 0};
    CHECK_EQ_INT(rumor_store_member_each(t, room, collect_member, &m), RUMOR_OK);
    CHECK_EQ_INT(m.n, 2);
    CHECK_EQ_MEM(m.pks[0], a, ID); /* in key order */
    CHECK_EQ_INT(m.roles[0], RUMOR_ROLE_ADMIN);
    CHECK_EQ_MEM(m.pks[1], b, ID);
    CHECK_EQ_INT(m.roles[1], RUMOR_ROLE_MEMBER);
    rumor_store_read_end(&t);

    s.step = 1; /* promote b */
    CHECK_EQ_INT(rumor_store_write(f.s, edit_members, &s), RUMOR_OK);
    t = rd(f.s);
    CHECK_EQ_INT(rumor_store_member_get(t, room, b, &role), RUMOR_OK);
    CHECK_EQ_INT(role, RUMOR_ROLE_ADMIN);
    CHECK_EQ_INT(rumor_store_member_count(t, room), 2);
    rumor_store_read_end(&t);

    s.step = 2; /* remove b */
    CHECK_EQ_INT(rumor_store_write(f.s, edit_members, &s), RUMOR_OK);
    t = rd(f.s);
    CHECK_EQ_INT(rumor_store_member_get(t, room, b, &role), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_store_member_count(t, room), 1);
    CHECK_EQ_INT(rumor_store_member_count(t, other), 1);
    rumor_store_read_end(&t);
    fx_close(&f);
}

/* Key id for epoch e: 8 bytes "k" ‖ e, so ids do not sort like epochs. */
static void key_id_for(uint8_t kid[8], uint32_t e)
{
    memset(kid, 0, 8);
    kid[0] = (uint8_t)(0xf0 - e % 200);
    rumor_put_u32(kid + 4, e);
}

static void key_rooms(uint8_t r[ID], uint8_t before[ID], uint8_t after[ID], uint8_t bare[ID])
{
    make_id(r, 0x30, 0x05);
    make_id(before, 0x30, 0x04);
    make_id(after, 0x30, 0x06);
    make_id(bare, 0x30, 0x07); /* no keys, but a lower neighbour that has some */
}

static const uint32_t EPOCHS[] = {2, 0, 256, 1, 255};

static int put_keys(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    uint8_t r[ID], before[ID], after[ID], bare[ID], kid[8], sealed[RUMOR_STORE_KEY_SEALED_BYTES];
    key_rooms(r, before, after, bare);
    int rc = RUMOR_OK;
    for (size_t i = 0; i < sizeof EPOCHS / sizeof EPOCHS[0] && rc == RUMOR_OK; i++) {
        key_id_for(kid, EPOCHS[i]);
        memset(sealed, (int)EPOCHS[i], sizeof sealed);
        rc = rumor_store_key_put(t, kid, r, EPOCHS[i], sealed);
    }
    key_id_for(kid, 1000);
    if (rc == RUMOR_OK) rc = rumor_store_key_put(t, kid, after, 1000, sealed);
    key_id_for(kid, 7);
    if (rc == RUMOR_OK) rc = rumor_store_key_put(t, kid, before, 7, sealed);
    return rc;
}

typedef struct {
    uint32_t epochs[8];
    size_t n;
} keys_seen_t;

static int collect_key(void *ctx, const uint8_t kid[8], uint32_t epoch)
{
    keys_seen_t *k = ctx;
    uint8_t want[8];
    key_id_for(want, epoch);
    CHECK_EQ_MEM(kid, want, 8);
    if (k->n < 8) k->epochs[k->n] = epoch;
    k->n++;
    return 0;
}

static void test_keys(void)
{
    fixture_t f;
    fx_open(&f);
    CHECK_EQ_INT(rumor_store_write(f.s, put_keys, NULL), RUMOR_OK);
    uint8_t r[ID], before[ID], after[ID], bare[ID], kid[8], want[8], room[ID];
    uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES], want_sealed[RUMOR_STORE_KEY_SEALED_BYTES];
    uint32_t epoch = 0;
    key_rooms(r, before, after, bare);
    rumor_txn_t *t = rd(f.s);

    /* The current key is the highest epoch, not the last written nor the highest id. */
    CHECK_EQ_INT(rumor_store_key_current(t, r, kid, &epoch), RUMOR_OK);
    CHECK_EQ_INT(epoch, 256);
    key_id_for(want, 256);
    CHECK_EQ_MEM(kid, want, 8);

    keys_seen_t seen = {.n = 0};
    CHECK_EQ_INT(rumor_store_key_each(t, r, collect_key, &seen), RUMOR_OK);
    CHECK_EQ_INT(seen.n, 5);
    static const uint32_t newest_first[] = {256, 255, 2, 1, 0};
    for (size_t i = 0; i < 5 && i < seen.n; i++) CHECK_EQ_INT(seen.epochs[i], newest_first[i]);

    key_id_for(kid, 255);
    memset(want_sealed, 255, sizeof want_sealed);
    CHECK_EQ_INT(rumor_store_key_get(t, kid, room, &epoch, sealed), RUMOR_OK);
    CHECK_EQ_MEM(room, r, ID);
    CHECK_EQ_INT(epoch, 255);
    CHECK_EQ_MEM(sealed, want_sealed, sizeof sealed);
    CHECK_EQ_INT(rumor_store_key_get(t, kid, NULL, NULL, NULL), RUMOR_OK);
    key_id_for(kid, 3);
    CHECK_EQ_INT(rumor_store_key_get(t, kid, room, &epoch, sealed), RUMOR_ERR_NOT_FOUND);

    /* Neighbouring rooms keep their own keys. */
    CHECK_EQ_INT(rumor_store_key_current(t, after, kid, &epoch), RUMOR_OK);
    CHECK_EQ_INT(epoch, 1000);
    CHECK_EQ_INT(rumor_store_key_current(t, before, kid, NULL), RUMOR_OK);
    key_id_for(want, 7);
    CHECK_EQ_MEM(kid, want, 8);
    CHECK_EQ_INT(rumor_store_key_current(t, bare, kid, &epoch), RUMOR_ERR_NOT_FOUND);
    seen.n = 0;
    CHECK_EQ_INT(rumor_store_key_each(t, bare, collect_key, &seen), RUMOR_OK);
    CHECK_EQ_INT(seen.n, 0);
    rumor_store_read_end(&t);
    fx_close(&f);
}

typedef struct {
    uint8_t pk[ID];
    rumor_store_profile_t p;
    int rc; /* result of the put */
} profile_put_t;

static int put_profile(rumor_txn_t *t, void *ctx)
{
    profile_put_t *pp = ctx;
    pp->rc = rumor_store_profile_put(t, pp->pk, &pp->p);
    return RUMOR_OK;
}

static void test_profiles(void)
{
    fixture_t f;
    fx_open(&f);
    profile_put_t pp = {.p = {.set_by = {.lamport = 12}}};
    make_id(pp.pk, 0x61, 0);
    make_id(pp.p.set_by.event, 0x62, 0);
    strcpy(pp.p.nick, "na\xc3\xafve");
    CHECK_EQ_INT(rumor_store_write(f.s, put_profile, &pp), RUMOR_OK);
    CHECK_EQ_INT(pp.rc, RUMOR_OK);

    rumor_store_profile_t got;
    memset(&got, 0x7f, sizeof got);
    rumor_txn_t *t = rd(f.s);
    CHECK_EQ_INT(rumor_store_profile_get(t, pp.pk, &got), RUMOR_OK);
    CHECK_EQ_STR(got.nick, "na\xc3\xafve");
    CHECK_EQ_INT(got.set_by.lamport, 12);
    CHECK_EQ_MEM(got.set_by.event, pp.p.set_by.event, ID);
    uint8_t nobody[ID];
    make_id(nobody, 0x63, 0);
    CHECK_EQ_INT(rumor_store_profile_get(t, nobody, &got), RUMOR_ERR_NOT_FOUND);
    rumor_store_read_end(&t);

    /* The longest nick fits; one that fills the buffer without a NUL does not. */
    memset(pp.p.nick, 'n', RUMOR_STORE_NICK_MAX);
    pp.p.nick[RUMOR_STORE_NICK_MAX] = '\0';
    CHECK_EQ_INT(rumor_store_write(f.s, put_profile, &pp), RUMOR_OK);
    CHECK_EQ_INT(pp.rc, RUMOR_OK);
    t = rd(f.s);
    CHECK_EQ_INT(rumor_store_profile_get(t, pp.pk, &got), RUMOR_OK);
    CHECK_EQ_INT(strlen(got.nick), RUMOR_STORE_NICK_MAX);
    rumor_store_read_end(&t);
    memset(pp.p.nick, 'n', sizeof pp.p.nick);
    CHECK_EQ_INT(rumor_store_write(f.s, put_profile, &pp), RUMOR_OK);
    CHECK_EQ_INT(pp.rc, RUMOR_ERR_TOO_BIG);
    fx_close(&f);
}

/* ---- read marks, peers, outbox --------------------------------------------------------------- */

static int edit_small_tables(rumor_txn_t *t, void *ctx)
{
    step_t *s = ctx;
    uint8_t room[ID], p1[ID], p2[ID], e[3][ID];
    make_id(room, 0x71, 0);
    make_id(p1, 0x81, 0);
    make_id(p2, 0x82, 0);
    for (int i = 0; i < 3; i++) make_id(e[i], (uint8_t)(0xe0 + i), 0);
    int rc = RUMOR_OK;
    if (s->step == 0) {
        if ((rc = rumor_store_read_mark_put(t, room, 5)) < 0) return rc;
        if ((rc = rumor_store_peer_put(t, p2, (const uint8_t *)"[2001:db8::1]:7001",
                                       strlen("[2001:db8::1]:7001"))) < 0)
            return rc;
        if ((rc = rumor_store_peer_put(t, p1, (const uint8_t *)"192.0.2.1:7000",
                                       strlen("192.0.2.1:7000"))) < 0)
            return rc;
        for (int i = 0; i < 3 && rc == RUMOR_OK; i++) rc = rumor_store_outbox_add(t, e[i]);
        if (rc == RUMOR_OK) rc = rumor_store_outbox_add(t, e[0]); /* queued once only */
        return rc;
    }
    if ((rc = rumor_store_read_mark_put(t, room, 7)) < 0) return rc;
    if ((rc = rumor_store_peer_put(t, p1, (const uint8_t *)"198.51.100.2:7100",
                                   strlen("198.51.100.2:7100"))) < 0)
        return rc;
    if ((rc = rumor_store_outbox_del(t, e[1])) < 0) return rc;
    uint8_t never[ID];
    make_id(never, 0xef, 0);
    return rumor_store_outbox_del(t, never);
}

typedef struct {
    uint8_t pks[4][ID];
    char addrs[4][64];
    size_t n;
} peers_seen_t;

static int collect_peer(void *ctx, const uint8_t pk[ID], const uint8_t *v, size_t len)
{
    peers_seen_t *p = ctx;
    if (p->n < 4) {
        memcpy(p->pks[p->n], pk, ID);
        snprintf(p->addrs[p->n], sizeof p->addrs[0], "%.*s", (int)len, (const char *)v);
    }
    p->n++;
    return 0;
}

static void test_marks_peers_outbox(void)
{
    fixture_t f;
    fx_open(&f);
    uint8_t room[ID], other[ID], p1[ID], p2[ID];
    make_id(room, 0x71, 0);
    make_id(other, 0x72, 0);
    make_id(p1, 0x81, 0);
    make_id(p2, 0x82, 0);
    uint64_t seen = 99;
    rumor_txn_t *t = rd(f.s);
    CHECK_EQ_INT(rumor_store_read_mark_get(t, room, &seen), RUMOR_OK);
    CHECK_EQ_INT(seen, 0); /* never read: nothing seen */
    rumor_store_read_end(&t);

    step_t s = {0};
    CHECK_EQ_INT(rumor_store_write(f.s, edit_small_tables, &s), RUMOR_OK);
    t = rd(f.s);
    CHECK_EQ_INT(rumor_store_read_mark_get(t, room, &seen), RUMOR_OK);
    CHECK_EQ_INT(seen, 5);
    CHECK_EQ_INT(rumor_store_read_mark_get(t, other, &seen), RUMOR_OK);
    CHECK_EQ_INT(seen, 0);
    peers_seen_t peers = {.n = 0};
    CHECK_EQ_INT(rumor_store_peer_each(t, collect_peer, &peers), RUMOR_OK);
    CHECK_EQ_INT(peers.n, 2);
    CHECK_EQ_MEM(peers.pks[0], p1, ID);
    CHECK_EQ_STR(peers.addrs[0], "192.0.2.1:7000");
    CHECK_EQ_MEM(peers.pks[1], p2, ID);
    CHECK_EQ_STR(peers.addrs[1], "[2001:db8::1]:7001");
    CHECK_EQ_INT(rumor_store_outbox_count(t), 3);
    rumor_store_read_end(&t);

    s.step = 1;
    CHECK_EQ_INT(rumor_store_write(f.s, edit_small_tables, &s), RUMOR_OK);
    t = rd(f.s);
    CHECK_EQ_INT(rumor_store_read_mark_get(t, room, &seen), RUMOR_OK);
    CHECK_EQ_INT(seen, 7);
    peers.n = 0;
    CHECK_EQ_INT(rumor_store_peer_each(t, collect_peer, &peers), RUMOR_OK);
    CHECK_EQ_INT(peers.n, 2);
    CHECK_EQ_STR(peers.addrs[0], "198.51.100.2:7100");
    CHECK_EQ_INT(rumor_store_outbox_count(t), 2);
    rumor_store_read_end(&t);
    fx_close(&f);
}

/* ---- lookups by prefix ----------------------------------------------------------------------- */

static const char *const PREFIX_ROOMS[] = {"ab12cd", "ab12ce", "ab34", "0f", "ff"};

static int fill_prefix_tables(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    int rc = RUMOR_OK;
    for (size_t i = 0; i < 5 && rc == RUMOR_OK; i++) {
        rumor_store_room_t r = {0};
        hex_id(r.id, PREFIX_ROOMS[i]);
        if (i == 4) memset(r.id, 0xff, ID); /* the very last id */
        rc = rumor_store_room_put(t, &r);
    }
    uint8_t id[ID];
    hex_id(id, "1234");
    if (rc == RUMOR_OK) rc = rumor_store_event_put(t, id, (const uint8_t *)"e", 1);
    rumor_store_profile_t p = {.nick = "bob"};
    hex_id(id, "ab99");
    if (rc == RUMOR_OK) rc = rumor_store_profile_put(t, id, &p);
    return rc;
}

static void expect_prefix(rumor_txn_t *t, rumor_store_table_t table, const char *prefix, int want,
                          const char *want_hex)
{
    uint8_t out[ID], want_id[ID];
    memset(out, 0, ID);
    int rc = rumor_store_find_prefix(t, table, prefix, out);
    if (rc != want) fprintf(stderr, "  (prefix \"%s\")\n", prefix);
    CHECK_EQ_INT(rc, want);
    if (want == RUMOR_OK && want_hex) {
        hex_id(want_id, want_hex);
        if (strcmp(want_hex, "ff") == 0) memset(want_id, 0xff, ID);
        CHECK_EQ_MEM(out, want_id, ID);
    }
}

static void test_find_prefix(void)
{
    fixture_t f;
    fx_open(&f);
    CHECK_EQ_INT(rumor_store_write(f.s, fill_prefix_tables, NULL), RUMOR_OK);
    rumor_txn_t *t = rd(f.s);
    const rumor_store_table_t R = RUMOR_STORE_ROOMS;

    expect_prefix(t, R, "ee", RUMOR_ERR_NOT_FOUND, NULL);
    expect_prefix(t, R, "ab12cf", RUMOR_ERR_NOT_FOUND, NULL);
    expect_prefix(t, R, "1", RUMOR_ERR_NOT_FOUND, NULL);
    expect_prefix(t, R, "ab", RUMOR_ERR_AMBIGUOUS, NULL);
    expect_prefix(t, R, "a", RUMOR_ERR_AMBIGUOUS, NULL);
    expect_prefix(t, R, "ab12c", RUMOR_ERR_AMBIGUOUS, NULL);
    expect_prefix(t, R, "ab12cd", RUMOR_OK, "ab12cd");
    expect_prefix(t, R, "ab12ce", RUMOR_OK, "ab12ce");
    expect_prefix(t, R, "ab3", RUMOR_OK, "ab34"); /* odd length */
    expect_prefix(t, R, "0", RUMOR_OK, "0f");     /* one nibble */
    expect_prefix(t, R, "f", RUMOR_OK, "ff");     /* the last key */
    expect_prefix(t, R, "ffff", RUMOR_OK, "ff");
    expect_prefix(t, R, "AB12CD", RUMOR_OK, "ab12cd"); /* upper case */
    expect_prefix(t, R, "aB12cE", RUMOR_OK, "ab12ce");
    expect_prefix(t, R, "AB3", RUMOR_OK, "ab34");

    /* A whole id, and a whole id that differs in its last nibble. */
    char full[RUMOR_ID_HEX + 2];
    uint8_t id[ID];
    hex_id(id, "ab12cd");
    rumor_hex_encode(full, id, ID);
    expect_prefix(t, R, full, RUMOR_OK, "ab12cd");
    full[RUMOR_ID_HEX - 1] = '1';
    expect_prefix(t, R, full, RUMOR_ERR_NOT_FOUND, NULL);

    /* Not hex, empty, too long. */
    expect_prefix(t, R, "xyz", RUMOR_ERR_INVALID, NULL);
    expect_prefix(t, R, "ab-1", RUMOR_ERR_INVALID, NULL);
    expect_prefix(t, R, "", RUMOR_ERR_INVALID, NULL);
    memset(full, 'a', RUMOR_ID_HEX + 1);
    full[RUMOR_ID_HEX + 1] = '\0';
    expect_prefix(t, R, full, RUMOR_ERR_INVALID, NULL);

    /* Each table is searched on its own. */
    expect_prefix(t, RUMOR_STORE_EVENTS, "12", RUMOR_OK, "1234");
    expect_prefix(t, RUMOR_STORE_EVENTS, "ab", RUMOR_ERR_NOT_FOUND, NULL);
    expect_prefix(t, RUMOR_STORE_PROFILES, "ab9", RUMOR_OK, "ab99");
    expect_prefix(t, RUMOR_STORE_PROFILES, "ab1", RUMOR_ERR_NOT_FOUND, NULL);
    rumor_store_read_end(&t);
    fx_close(&f);
}

int main(void)
{
    if (sodium_init() < 0) return 2;
    RUN(test_open_creates_schema);
    RUN(test_reopen_keeps_data);
    RUN(test_batch_commits);
    RUN(test_schema_newer_refused);
    RUN(test_migrate_2_to_3);
    RUN(test_migrate_grows_the_map);
    RUN(test_map_growth);
    RUN(test_growth_by_another_process);
    RUN(test_write_error_rolls_back);
    RUN(test_events_are_immutable);
    RUN(test_log_order);
    RUN(test_heads);
    RUN(test_rooms_and_children);
    RUN(test_room_record_is_deterministic);
    RUN(test_members);
    RUN(test_keys);
    RUN(test_profiles);
    RUN(test_find_prefix);
    RUN(test_marks_peers_outbox);
    return test_report("store");
}
