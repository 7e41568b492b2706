/*
 * test_node.c - unit tests of the node facade (rumor_node.h): homes and
 * identities, rooms and paths, posting and reading, and that a tampered store
 * is caught. Every test uses real homes in temporary directories.
 */
#include "rumor_crypto.h"
#include "rumor_gossip.h"
#include "rumor_node.h"
#include "rumor_store.h"
#include "test.h"

#include <lmdb.h>
#include <sys/stat.h>

#define ID RUMOR_ID_BYTES

static const rumor_passphrase_t PASS = {"correct horse battery staple", 28};
static const rumor_passphrase_t WRONG = {"correct horse battery stapler", 29};

/* A scratch directory for homes, and helpers to name things in it. */
typedef struct {
    char dir[256];
    char home[300];
} fx_t;

static void fx_init(fx_t *f)
{
    test_tmpdir(f->dir);
    snprintf(f->home, sizeof f->home, "%s/home", f->dir);
}

static void path_in(const fx_t *f, char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", f->dir, name);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static uint64_t fixed_clock(void *ctx)
{
    return *(const uint64_t *)ctx;
}

/* A new unprotected home with nick "alice", opened and unlocked. */
static rumor_node_t *fresh_node(fx_t *f, uint8_t id[ID])
{
    rumor_node_t *n = NULL;
    fx_init(f);
    if (rumor_node_init_home(f->home, "alice", NULL, id) != RUMOR_OK ||
        rumor_node_open(f->home, &n) != RUMOR_OK || rumor_node_unlock(n, NULL) != RUMOR_OK) {
        fprintf(stderr, "cannot make a home in %s\n", f->home);
        exit(2);
    }
    return n;
}

static uint64_t events_of(rumor_node_t *n)
{
    rumor_node_counts_t c = {0};
    CHECK_EQ_INT(rumor_node_counts(n, &c), RUMOR_OK);
    return c.events;
}

static rumor_node_room_t room_get(rumor_node_t *n, const uint8_t id[ID])
{
    rumor_node_room_t r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(rumor_node_room_get(n, id, &r), RUMOR_OK);
    return r;
}

/* ---- homes and identities -------------------------------------------------------------------- */

/* The event the node last found altered, or 32 zero bytes when none. */
static const uint8_t *tampered(const rumor_node_t *n)
{
    static const uint8_t none[ID];
    const uint8_t *id = rumor_node_tampered_event(n);
    return id ? id : none;
}

static void test_init_unprotected_home(void)
{
    fx_t f;
    fx_init(&f);
    uint8_t id[ID] = {0}, again[ID] = {0};
    CHECK(!exists(f.home));
    CHECK_EQ_INT(rumor_node_init_home(f.home, "alice", NULL, id), RUMOR_OK);
    CHECK(!rumor_is_zero(id, ID));

    /* The home holds secrets: owner-only directory and key file. */
    char key[400];
    struct stat st;
    snprintf(key, sizeof key, "%s/identity.key", f.home);
    CHECK(stat(f.home, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_EQ_INT(st.st_size, RUMOR_KEYFILE_BYTES);

    rumor_node_t *n = NULL;
    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (!n) return;
    CHECK(!rumor_node_is_protected(n));
    CHECK_EQ_MEM(rumor_node_id(n), id, ID);
    CHECK_EQ_INT(rumor_node_unlock(n, NULL), RUMOR_OK);
    char nick[RUMOR_NICK_MAX + 1];
    rumor_node_nick(n, nick);
    CHECK_EQ_STR(nick, "alice");
    rumor_node_counts_t c = {0};
    CHECK_EQ_INT(rumor_node_counts(n, &c), RUMOR_OK);
    CHECK_EQ_INT(c.schema, RUMOR_STORE_SCHEMA);
    CHECK_EQ_INT(c.rooms, 0);
    CHECK_EQ_INT(c.events, 1); /* the PROFILE with the nick */
    rumor_node_close(&n);
    CHECK(n == NULL);

    /* A second init never replaces the identity, nor touches the store. */
    CHECK_EQ_INT(rumor_node_init_home(f.home, "mallory", NULL, again), RUMOR_ERR_EXISTS);
    CHECK_EQ_INT(rumor_node_init_home(f.home, NULL, &PASS, again), RUMOR_ERR_EXISTS);
    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (n) {
        CHECK_EQ_MEM(rumor_node_id(n), id, ID);
        CHECK(!rumor_node_is_protected(n));
        rumor_node_nick(n, nick);
        CHECK_EQ_STR(nick, "alice");
        CHECK_EQ_INT(events_of(n), 1);
    }
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

static void test_init_in_existing_directory(void)
{
    /* The home may exist (empty); it is then closed to everyone but its owner. */
    fx_t f;
    fx_init(&f);
    uint8_t id[ID];
    struct stat st;
    CHECK_EQ_INT(mkdir(f.home, 0755), 0);
    CHECK_EQ_INT(chmod(f.home, 0755), 0);
    CHECK_EQ_INT(rumor_node_init_home(f.home, NULL, NULL, id), RUMOR_OK);
    CHECK(stat(f.home, &st) == 0 && (st.st_mode & 0777) == 0700);
    rumor_node_t *n = NULL;
    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (n) CHECK_EQ_MEM(rumor_node_id(n), id, ID);
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

static void test_init_failures_leave_nothing(void)
{
    fx_t f;
    fx_init(&f);
    uint8_t id[ID];
    rumor_node_t *n = NULL;
    /* A directory without an identity is not a home. */
    CHECK_EQ_INT(rumor_node_open(f.dir, &n), RUMOR_ERR_NO_IDENTITY);
    CHECK(n == NULL);
    /* A bad nick is refused before anything is created. */
    CHECK(rumor_node_init_home(f.home, "two\nlines", NULL, id) < 0);
    CHECK(rumor_node_init_home(f.home, "", NULL, id) < 0);
    CHECK(!exists(f.home));
    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_ERR_NO_IDENTITY);
    test_rmdir(f.dir);
}

static void test_init_protected_home(void)
{
    fx_t f;
    fx_init(&f);
    uint8_t id[ID], room[ID];
    CHECK_EQ_INT(rumor_node_init_home(f.home, NULL, &PASS, id), RUMOR_OK);
    rumor_node_t *n = NULL;
    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (!n) return;
    CHECK(rumor_node_is_protected(n));
    CHECK_EQ_MEM(rumor_node_id(n), id, ID); /* the id is known before unlocking */

    /* Locked: nothing can be signed, and nothing is stored. */
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, room), RUMOR_ERR_PASSPHRASE);
    CHECK_EQ_INT(events_of(n), 0);

    CHECK_EQ_INT(rumor_node_unlock(n, &WRONG), RUMOR_ERR_PASSPHRASE);
    CHECK_EQ_INT(rumor_node_unlock(n, NULL), RUMOR_ERR_PASSPHRASE);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, room), RUMOR_ERR_PASSPHRASE);
    CHECK_EQ_INT(rumor_node_unlock(n, &PASS), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, room), RUMOR_OK);
    rumor_node_room_t r = room_get(n, room);
    CHECK_EQ_STR(r.name, "lan");
    CHECK(r.readable);
    rumor_node_close(&n);

    /* After a restart the room key, sealed at rest, opens only with the identity. */
    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (n) {
        r = room_get(n, room);
        CHECK_EQ_STR(r.name, ""); /* locked: the name cannot be read */
        CHECK(!r.readable);
        CHECK_EQ_INT(rumor_node_unlock(n, &PASS), RUMOR_OK);
        r = room_get(n, room);
        CHECK_EQ_STR(r.name, "lan");
    }
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

static void test_export_import(void)
{
    fx_t f;
    uint8_t id[ID], imported[ID] = {0};
    rumor_node_t *n = fresh_node(&f, id);
    char file[400], home2[400], home3[400];
    path_in(&f, file, sizeof file, "alice.key");
    path_in(&f, home2, sizeof home2, "home2");
    path_in(&f, home3, sizeof home3, "home3");

    CHECK_EQ_INT(rumor_node_export_identity(n, file, NULL), RUMOR_ERR_INVALID);
    CHECK(!exists(file));
    CHECK_EQ_INT(rumor_node_export_identity(n, file, &PASS), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_export_identity(n, file, &PASS), RUMOR_ERR_EXISTS); /* no overwrite */
    rumor_node_close(&n);

    /* A damaged file imports nothing and leaves no home behind. */
    char cut[400];
    static uint8_t kf[1 << 16];
    path_in(&f, cut, sizeof cut, "cut.key");
    FILE *fp = fopen(file, "rb");
    size_t got = fp ? fread(kf, 1, sizeof kf, fp) : 0;
    if (fp) fclose(fp);
    CHECK(got > RUMOR_KEYFILE_BYTES); /* a backup: the identity, room keys and contacts */
    fp = fopen(cut, "wb");
    if (fp) {
        fwrite(kf, 1, got - 1, fp);
        fclose(fp);
    }
    CHECK_EQ_INT(rumor_node_import_home(home3, cut, &PASS, imported), RUMOR_ERR_MALFORMED);
    CHECK(!exists(home3));

    /* The wrong passphrase imports nothing either. */
    CHECK_EQ_INT(rumor_node_import_home(home3, file, &WRONG, imported), RUMOR_ERR_PASSPHRASE);
    CHECK(!exists(home3));
    /* A home that has an identity keeps it. */
    CHECK_EQ_INT(rumor_node_import_home(f.home, file, &PASS, imported), RUMOR_ERR_EXISTS);

    CHECK_EQ_INT(rumor_node_import_home(home2, file, &PASS, imported), RUMOR_OK);
    CHECK_EQ_MEM(imported, id, ID);
    CHECK_EQ_INT(rumor_node_open(home2, &n), RUMOR_OK);
    if (n) {
        CHECK_EQ_MEM(rumor_node_id(n), id, ID);
        CHECK(rumor_node_is_protected(n)); /* kept as exported, under its passphrase */
        CHECK_EQ_INT(rumor_node_unlock(n, &WRONG), RUMOR_ERR_PASSPHRASE);
        CHECK_EQ_INT(rumor_node_unlock(n, &PASS), RUMOR_OK);
        /* It is the same identity: it signs as alice. */
        uint8_t room[ID];
        CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, room), RUMOR_OK);
        rumor_node_room_t r = room_get(n, room);
        CHECK_EQ_INT(r.my_role, RUMOR_ROLE_OWNER);
    }
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

/* ---- rooms ----------------------------------------------------------------------------------- */

static void test_room_create_and_resolve(void)
{
    fx_t f;
    uint8_t me[ID], lan[ID], general[ID], wan[ID], wgen[ID], got[ID];
    rumor_node_t *n = fresh_node(&f, me);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, "local network", lan), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/general", false, NULL, general), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "wan", false, NULL, wan), RUMOR_OK);
    /* The same name is fine under another parent. */
    CHECK_EQ_INT(rumor_node_room_create(n, "wan/general", false, NULL, wgen), RUMOR_OK);
    CHECK(memcmp(general, wgen, ID) != 0);

    CHECK_EQ_INT(rumor_node_room_resolve(n, "lan", got), RUMOR_OK);
    CHECK_EQ_MEM(got, lan, ID);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "lan/general", got), RUMOR_OK);
    CHECK_EQ_MEM(got, general, ID);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "wan/general", got), RUMOR_OK);
    CHECK_EQ_MEM(got, wgen, ID);

    /* By id: any prefix of 8 or more hex characters, either case. */
    char hex[RUMOR_ID_HEX + 1], prefix[9];
    rumor_hex_encode(hex, general, ID);
    memcpy(prefix, hex, 8);
    prefix[8] = '\0';
    CHECK_EQ_INT(rumor_node_room_resolve(n, prefix, got), RUMOR_OK);
    CHECK_EQ_MEM(got, general, ID);
    CHECK_EQ_INT(rumor_node_room_resolve(n, hex, got), RUMOR_OK);
    CHECK_EQ_MEM(got, general, ID);
    for (int i = 0; i < 8; i++)
        if (prefix[i] >= 'a') prefix[i] = (char)(prefix[i] - 'a' + 'A');
    CHECK_EQ_INT(rumor_node_room_resolve(n, prefix, got), RUMOR_OK);
    CHECK_EQ_MEM(got, general, ID);
    prefix[7] = '\0'; /* seven characters are too few to be an id */
    CHECK_EQ_INT(rumor_node_room_resolve(n, prefix, got), RUMOR_ERR_NOT_FOUND);

    CHECK_EQ_INT(rumor_node_room_resolve(n, "nope", got), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "lan/nope", got), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "general", got), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "", got), RUMOR_ERR_BAD_PATH);

    /* What the user sees of a room. */
    rumor_node_room_t r = room_get(n, general);
    CHECK_EQ_STR(r.name, "general");
    CHECK_EQ_STR(r.path, "lan/general");
    CHECK_EQ_INT(r.depth, 1);
    CHECK_EQ_MEM(r.parent, lan, ID);
    CHECK_EQ_MEM(r.domain, lan, ID);
    CHECK(!r.is_private);
    CHECK(r.readable);
    CHECK_EQ_INT(r.my_role, RUMOR_ROLE_OWNER);
    CHECK_EQ_INT(r.members, 1);
    r = room_get(n, lan);
    CHECK_EQ_STR(r.topic, "local network");
    CHECK_EQ_STR(r.path, "lan");
    CHECK_EQ_INT(r.depth, 0);

    rumor_node_counts_t c = {0};
    CHECK_EQ_INT(rumor_node_counts(n, &c), RUMOR_OK);
    CHECK_EQ_INT(c.rooms, 4);
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

static void test_room_create_refusals(void)
{
    fx_t f;
    uint8_t me[ID], id[ID];
    rumor_node_t *n = fresh_node(&f, me);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, id), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/general", false, NULL, id), RUMOR_OK);
    uint64_t before = events_of(n);

    /* Siblings have distinct names, at the top and below. */
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, id), RUMOR_ERR_EXISTS);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/general", true, NULL, id), RUMOR_ERR_EXISTS);
    /* The parent must exist. */
    CHECK_EQ_INT(rumor_node_room_create(n, "nope/x", false, NULL, id), RUMOR_ERR_NOT_FOUND);
    /* Names: not empty, no controls, at most RUMOR_NAME_MAX bytes of UTF-8. */
    char longname[RUMOR_NAME_MAX + 2];
    memset(longname, 'n', RUMOR_NAME_MAX + 1);
    longname[RUMOR_NAME_MAX + 1] = '\0';
    CHECK_EQ_INT(rumor_node_room_create(n, longname, false, NULL, id), RUMOR_ERR_TOO_BIG);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/", false, NULL, id), RUMOR_ERR_BAD_PATH);
    CHECK_EQ_INT(rumor_node_room_create(n, "", false, NULL, id), RUMOR_ERR_BAD_PATH);
    CHECK_EQ_INT(rumor_node_room_create(n, "bell\a", false, NULL, id), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(rumor_node_room_create(n, "caf\xc3", false, NULL, id), RUMOR_ERR_BAD_UTF8);
    CHECK_EQ_INT(rumor_node_room_create(n, "ok", false, "two\nlines", id), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(events_of(n), before);

    longname[RUMOR_NAME_MAX] = '\0'; /* exactly the limit is fine */
    CHECK_EQ_INT(rumor_node_room_create(n, longname, false, NULL, id), RUMOR_OK);
    rumor_node_room_t r = room_get(n, id);
    CHECK_EQ_STR(r.name, longname);
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

typedef struct {
    char paths[8][RUMOR_PATH_MAX + 1];
    size_t n;
} walk_t;

static int collect_path(void *ctx, const rumor_node_room_t *room)
{
    walk_t *w = ctx;
    if (w->n < 8) snprintf(w->paths[w->n], sizeof w->paths[0], "%s", room->path);
    w->n++;
    return 0;
}

static void test_room_walk(void)
{
    fx_t f;
    uint8_t me[ID], id[ID];
    rumor_node_t *n = fresh_node(&f, me);
    /* Created out of name order. */
    static const char *const paths[] = {"wan", "lan", "lan/zeta", "lan/alpha", "lan/alpha/deep"};
    for (size_t i = 0; i < 5; i++)
        CHECK_EQ_INT(rumor_node_room_create(n, paths[i], false, NULL, id), RUMOR_OK);
    walk_t w = {.n = 0};
    CHECK_EQ_INT(rumor_node_room_walk(n, collect_path, &w), RUMOR_OK);
    CHECK_EQ_INT(w.n, 5);
    static const char *const want[] = {"lan", "lan/alpha", "lan/alpha/deep", "lan/zeta", "wan"};
    for (size_t i = 0; i < 5 && i < w.n; i++) CHECK_EQ_STR(w.paths[i], want[i]);
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

static void test_rename_topic_move(void)
{
    fx_t f;
    uint8_t me[ID], lan[ID], general[ID], dev[ID], ops[ID], got[ID];
    rumor_node_t *n = fresh_node(&f, me);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, lan), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/general", false, NULL, general), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/dev", false, NULL, dev), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/ops", true, NULL, ops), RUMOR_OK);

    /* Rename: the new path resolves, the old one no longer does. */
    CHECK_EQ_INT(rumor_node_room_rename(n, general, "chat"), RUMOR_OK);
    rumor_node_room_t r = room_get(n, general);
    CHECK_EQ_STR(r.name, "chat");
    CHECK_EQ_STR(r.path, "lan/chat");
    CHECK_EQ_INT(rumor_node_room_resolve(n, "lan/chat", got), RUMOR_OK);
    CHECK_EQ_MEM(got, general, ID);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "lan/general", got), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_node_room_rename(n, general, "dev"), RUMOR_ERR_EXISTS);
    CHECK_EQ_INT(rumor_node_room_rename(n, general, "a/b"), RUMOR_ERR_INVALID);
    /* A name is one path segment (PROTOCOL.md 2.2). */
    const char *bad[] = {"bad name!",
                         "a b",
                         "-x",
                         ".",
                         "..",
                         "tab\t",
                         "nbsp\xc2\xa0x",
                         "zw\xe2\x80\x8bx",
                         "rtl\xe2\x80\xaex",
                         "semi;colon",
                         "q\"uote"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(rumor_node_room_check_name(bad[i]), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(rumor_node_room_check_name("caf\xc3"), RUMOR_ERR_BAD_UTF8);
    CHECK_EQ_INT(rumor_node_room_rename(n, general, "bad name!"), RUMOR_ERR_INVALID);
    const char *good[] = {"a",
                          "lan",
                          "Dev-2.0_x",
                          ".hidden",
                          "x-",
                          "caf\xc3\xa9",
                          "\xe6\x97\xa5\xe6\x9c\xac",
                          "\xd0\xba\xd0\xbe\xd1\x82"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_EQ_INT(rumor_node_room_check_name(good[i]), RUMOR_OK);
    CHECK_EQ_STR(room_get(n, general).name, "chat");

    CHECK_EQ_INT(rumor_node_room_topic(n, general, "what's up \xe2\x9c\x8c"), RUMOR_OK);
    CHECK_EQ_STR(room_get(n, general).topic, "what's up \xe2\x9c\x8c");
    CHECK_EQ_INT(rumor_node_room_topic(n, general, ""), RUMOR_OK);
    CHECK_EQ_STR(room_get(n, general).topic, "");

    /* Move dev under chat: its path follows. */
    CHECK_EQ_INT(rumor_node_room_move(n, dev, general, NULL), RUMOR_OK);
    r = room_get(n, dev);
    CHECK_EQ_MEM(r.parent, general, ID);
    CHECK_EQ_STR(r.path, "lan/chat/dev");
    CHECK_EQ_INT(r.depth, 2);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "lan/chat/dev", got), RUMOR_OK);
    CHECK_EQ_MEM(got, dev, ID);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "lan/dev", got), RUMOR_ERR_NOT_FOUND);

    /* Not into its own subtree, and only private rooms go to the top; each refusal says why. */
    rumor_node_move_why_t why = RUMOR_MOVE_REFUSED;
    uint64_t events = events_of(n);
    CHECK_EQ_INT(rumor_node_room_move(n, general, dev, &why), RUMOR_ERR_DENIED);
    CHECK_EQ_INT(why, RUMOR_MOVE_CYCLE);
    CHECK_EQ_INT(rumor_node_room_move(n, general, general, &why), RUMOR_ERR_DENIED);
    CHECK_EQ_INT(why, RUMOR_MOVE_CYCLE);
    CHECK_EQ_INT(rumor_node_room_move(n, general, NULL, &why), RUMOR_ERR_DENIED);
    CHECK_EQ_INT(why, RUMOR_MOVE_OTHER_DOMAIN);
    CHECK_EQ_INT(rumor_node_room_move(n, lan, general, &why), RUMOR_ERR_DENIED);
    CHECK_EQ_INT(why, RUMOR_MOVE_ROOT);
    CHECK_EQ_INT(rumor_node_room_move(n, general, ops, &why), RUMOR_ERR_DENIED);
    CHECK_EQ_INT(why, RUMOR_MOVE_OTHER_DOMAIN);
    CHECK_EQ_INT(events_of(n), events); /* a refusal writes nothing */
    CHECK_EQ_STR(room_get(n, general).path, "lan/chat");
    CHECK_EQ_INT(rumor_node_room_move(n, ops, NULL, NULL), RUMOR_OK);
    r = room_get(n, ops);
    CHECK_EQ_STR(r.path, "ops");
    CHECK_EQ_INT(r.depth, 0);
    CHECK(r.is_private);
    CHECK_EQ_MEM(r.domain, ops, ID);
    CHECK_EQ_INT(rumor_node_room_resolve(n, "ops", got), RUMOR_OK);

    /* A move may not put two rooms of the same name side by side. */
    uint8_t dev2[ID];
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/dev", false, NULL, dev2), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_move(n, dev2, general, NULL), RUMOR_ERR_EXISTS);
    CHECK_EQ_STR(room_get(n, dev2).path, "lan/dev");
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

/* ---- messages -------------------------------------------------------------------------------- */

typedef struct {
    char texts[8][64];
    char nicks[8][RUMOR_NICK_MAX + 1];
    uint64_t lamports[8];
    uint64_t ts[8];
    uint8_t ids[8][ID];
    size_t lens[8];
    bool author_ok;
    const uint8_t *author;
    size_t n;
    const char *big; /* an expected long text, compared in full */
    bool big_ok;
} log_seen_t;

static int collect_message(void *ctx, const rumor_node_message_t *m)
{
    log_seen_t *s = ctx;
    if (s->n < 8) {
        snprintf(s->texts[s->n], sizeof s->texts[0], "%s", m->text ? m->text : "(unreadable)");
        snprintf(s->nicks[s->n], sizeof s->nicks[0], "%s", m->nick);
        s->lamports[s->n] = m->lamport;
        s->ts[s->n] = m->ts;
        s->lens[s->n] = m->text_len;
        memcpy(s->ids[s->n], m->id, ID);
    }
    if (s->author && memcmp(m->author, s->author, ID) != 0) s->author_ok = false;
    if (s->big && m->text && m->text_len == strlen(s->big) && strcmp(m->text, s->big) == 0)
        s->big_ok = true;
    s->n++;
    return 0;
}

static int last_claim(void *ctx, const rumor_node_message_t *m)
{
    uint64_t *v = ctx;
    v[0] = m->ts;
    v[1] = m->ts_claimed;
    return 0;
}

/* A clock from the future is the author's claim: shown at the reader's clock, marked (F7). */
static void test_future_clock_is_clamped(void)
{
    fx_t f;
    uint8_t me[ID], lan[ID], id[ID];
    rumor_node_t *n = fresh_node(&f, me);
    uint64_t now = 1700000000000ull, got[2] = {0, 0};
    rumor_node_set_clock(n, fixed_clock, &now);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, lan), RUMOR_OK);
    uint64_t ahead = UINT64_C(1) << 62;
    uint64_t then = now;
    now = ahead;
    CHECK_EQ_INT(rumor_node_send(n, lan, "from the future", 15, id), RUMOR_OK);
    now = then;
    CHECK_EQ_INT(rumor_node_log(n, lan, 0, last_claim, got), RUMOR_OK);
    CHECK_EQ_INT(got[0], then);
    CHECK_EQ_INT(got[1], ahead);
    /* Within the allowed skew, a clock is shown as written. */
    now = then + 60000;
    CHECK_EQ_INT(rumor_node_send(n, lan, "a minute ahead", 14, id), RUMOR_OK);
    now = then;
    CHECK_EQ_INT(rumor_node_log(n, lan, 0, last_claim, got), RUMOR_OK);
    CHECK_EQ_INT(got[0], then + 60000);
    CHECK_EQ_INT(got[1], 0);
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

static void test_send_and_log(void)
{
    fx_t f;
    uint8_t me[ID], lan[ID], msg[3][ID], id_unused[ID];
    rumor_node_t *n = fresh_node(&f, me);
    uint64_t now = 1700000000000ull;
    rumor_node_set_clock(n, fixed_clock, &now);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, lan), RUMOR_OK);
    static const char *const texts[] = {"first", "second \xf0\x9f\x8e\x89", "third"};
    for (int i = 0; i < 3; i++) {
        now += 1000;
        CHECK_EQ_INT(rumor_node_send(n, lan, texts[i], strlen(texts[i]), msg[i]), RUMOR_OK);
    }
    rumor_node_room_t r = room_get(n, lan);
    CHECK_EQ_INT(r.messages, 3);
    CHECK_EQ_INT(r.unread, 0); /* one's own messages are never unread */

    log_seen_t s = {.author = me, .author_ok = true};
    CHECK_EQ_INT(rumor_node_log(n, lan, 0, collect_message, &s), RUMOR_OK);
    CHECK_EQ_INT(s.n, 3);
    for (size_t i = 0; i < 3 && i < s.n; i++) {
        CHECK_EQ_STR(s.texts[i], texts[i]);
        CHECK_EQ_INT(s.lens[i], strlen(texts[i]));
        CHECK_EQ_STR(s.nicks[i], "alice");
        CHECK_EQ_MEM(s.ids[i], msg[i], ID);
        CHECK_EQ_INT(s.ts[i], 1700000000000ull + 1000 * (i + 1));
        if (i) CHECK(s.lamports[i] > s.lamports[i - 1]);
    }
    CHECK(s.author_ok);

    /* The last two, still oldest first. */
    log_seen_t last = {.n = 0};
    CHECK_EQ_INT(rumor_node_log(n, lan, 2, collect_message, &last), RUMOR_OK);
    CHECK_EQ_INT(last.n, 2);
    CHECK_EQ_STR(last.texts[0], texts[1]);
    CHECK_EQ_STR(last.texts[1], texts[2]);
    log_seen_t more = {.n = 0};
    CHECK_EQ_INT(rumor_node_log(n, lan, 10, collect_message, &more), RUMOR_OK);
    CHECK_EQ_INT(more.n, 3);
    CHECK_EQ_STR(more.texts[0], texts[0]);

    /* A private room has its own key, and its creator reads it. */
    uint8_t ops[ID];
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/ops", true, NULL, ops), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_send(n, ops, "secret", 6, id_unused), RUMOR_OK);
    log_seen_t in_ops = {.n = 0};
    CHECK_EQ_INT(rumor_node_log(n, ops, 0, collect_message, &in_ops), RUMOR_OK);
    CHECK_EQ_INT(in_ops.n, 1);
    CHECK_EQ_STR(in_ops.texts[0], "secret");

    /* Messages in a sub-room stay in the sub-room. */
    uint8_t sub[ID], id[ID];
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/general", false, NULL, sub), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_send(n, sub, "elsewhere", 9, id), RUMOR_OK);
    log_seen_t in_sub = {.n = 0}, in_lan = {.n = 0};
    CHECK_EQ_INT(rumor_node_log(n, sub, 0, collect_message, &in_sub), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_log(n, lan, 0, collect_message, &in_lan), RUMOR_OK);
    CHECK_EQ_INT(in_sub.n, 1);
    CHECK_EQ_STR(in_sub.texts[0], "elsewhere");
    CHECK_EQ_INT(in_lan.n, 3);
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

static void test_send_refusals(void)
{
    fx_t f;
    uint8_t me[ID], lan[ID], id[ID];
    rumor_node_t *n = fresh_node(&f, me);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, lan), RUMOR_OK);
    uint64_t before = events_of(n);
    char *big = malloc(RUMOR_TEXT_MAX + 2);
    if (!big) exit(2);
    memset(big, 'x', RUMOR_TEXT_MAX + 1);
    big[RUMOR_TEXT_MAX + 1] = '\0';

    CHECK_EQ_INT(rumor_node_send(n, lan, "", 0, id), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(rumor_node_send(n, lan, "bad \xc3\x28", 6, id), RUMOR_ERR_BAD_UTF8);
    CHECK_EQ_INT(rumor_node_send(n, lan, "\xed\xa0\x80", 3, id), RUMOR_ERR_BAD_UTF8);
    CHECK_EQ_INT(rumor_node_send(n, lan, "nul\0inside", 10, id), RUMOR_ERR_BAD_UTF8);
    CHECK_EQ_INT(rumor_node_send(n, lan, big, RUMOR_TEXT_MAX + 1, id), RUMOR_ERR_TOO_BIG);
    uint8_t nowhere[ID];
    memset(nowhere, 0x42, ID);
    CHECK_EQ_INT(rumor_node_send(n, nowhere, "hello?", 6, id), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(events_of(n), before);
    CHECK_EQ_INT(room_get(n, lan).messages, 0);

    /* Exactly RUMOR_TEXT_MAX bytes go through and come back whole. */
    big[RUMOR_TEXT_MAX] = '\0';
    CHECK_EQ_INT(rumor_node_send(n, lan, big, RUMOR_TEXT_MAX, id), RUMOR_OK);
    CHECK_EQ_INT(events_of(n), before + 1);
    log_seen_t s = {.big = big};
    CHECK_EQ_INT(rumor_node_log(n, lan, 0, collect_message, &s), RUMOR_OK);
    CHECK_EQ_INT(s.n, 1);
    CHECK(s.big_ok);
    free(big);
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

/*
 * Rewrites stored event `id` with LMDB directly (the store itself never overwrites): flips the
 * byte `from_end` bytes before its end, or, with `other`, puts the bytes of event `other` there.
 */
static int tamper_event(const char *home, const uint8_t id[ID], size_t from_end,
                        const uint8_t *other)
{
    char dir[400];
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_val k = {ID, (void *)id}, v;
    int rc = -1;
    snprintf(dir, sizeof dir, "%s/store", home);
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) || mdb_env_open(env, dir, 0, 0600))
        goto out;
    if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, "events", 0, &dbi)) goto out;
    if (other) {
        MDB_val ok = {ID, (void *)other};
        if (mdb_get(txn, dbi, &ok, &v)) goto out;
        from_end = SIZE_MAX; /* no flip: the other event goes in as it is */
    } else if (mdb_get(txn, dbi, &k, &v) || v.mv_size <= from_end) {
        goto out;
    }
    uint8_t *copy = malloc(v.mv_size);
    if (!copy) goto out;
    memcpy(copy, v.mv_data, v.mv_size);
    if (from_end != SIZE_MAX) copy[v.mv_size - 1 - from_end] ^= 0x01;
    MDB_val nv = {v.mv_size, copy};
    rc = mdb_put(txn, dbi, &k, &nv, 0);
    free(copy);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
out:
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    return rc;
}

static void test_tampered_event_is_caught(void)
{
    fx_t f;
    uint8_t me[ID], lan[ID], first[ID], second[ID];
    rumor_node_t *n = fresh_node(&f, me);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, lan), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_send(n, lan, "genuine", 7, first), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_send(n, lan, "pay alice 10", 12, second), RUMOR_OK);
    rumor_node_close(&n);

    /* One bit of the second message's ciphertext, just before the signature. */
    CHECK_EQ_INT(tamper_event(f.home, second, RUMOR_SIG_BYTES, NULL), 0);

    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (!n) return;
    CHECK_EQ_INT(rumor_node_unlock(n, NULL), RUMOR_OK);
    log_seen_t s = {.n = 0};
    CHECK_EQ_INT(rumor_node_log(n, lan, 0, collect_message, &s), RUMOR_ERR_BAD_SIGNATURE);
    CHECK_EQ_MEM(tampered(n), second, ID);
    CHECK(s.n <= 1); /* the altered text is never handed out */
    if (s.n == 1) CHECK_EQ_STR(s.texts[0], "genuine");
    rumor_node_close(&n);

    /* A flipped signature bit is caught the same way. */
    CHECK_EQ_INT(tamper_event(f.home, first, 3, NULL), 0);
    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (n) {
        CHECK_EQ_INT(rumor_node_unlock(n, NULL), RUMOR_OK);
        s.n = 0;
        CHECK_EQ_INT(rumor_node_log(n, lan, 0, collect_message, &s), RUMOR_ERR_BAD_SIGNATURE);
        CHECK_EQ_MEM(tampered(n), first, ID);
        CHECK_EQ_INT(s.n, 0);
    }
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

static void test_substituted_event_is_caught(void)
{
    /* A genuine, validly signed event stored under another event's id is no less a forgery. */
    fx_t f;
    uint8_t me[ID], lan[ID], first[ID], second[ID];
    rumor_node_t *n = fresh_node(&f, me);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, lan), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_send(n, lan, "yes", 3, first), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_send(n, lan, "no", 2, second), RUMOR_OK);
    rumor_node_close(&n);
    CHECK_EQ_INT(tamper_event(f.home, second, 0, first), 0);

    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (n) {
        CHECK_EQ_INT(rumor_node_unlock(n, NULL), RUMOR_OK);
        log_seen_t s = {.n = 0};
        CHECK_EQ_INT(rumor_node_log(n, lan, 0, collect_message, &s), RUMOR_ERR_BAD_SIGNATURE);
        CHECK_EQ_MEM(tampered(n), second, ID);
        CHECK_EQ_INT(s.n, 1); /* "yes" once, never twice */
    }
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

/* What Bob's node would have sent to Alice's: his nick, and a message in a room she made. */
typedef struct {
    const rumor_identity_t *alice, *bob;
    uint8_t room[ID];
} visit_t;

/* Signs an event by `author` in `room` on top of the room's heads and ingests it. */
static int sign_and_ingest(rumor_txn_t *t, const rumor_identity_t *author, uint8_t type,
                           const uint8_t room[ID], const uint8_t *body, size_t body_len)
{
    uint8_t parents[RUMOR_MAX_PARENTS * ID], out[1024];
    rumor_event_draft_t d = {.type = type,
                             .ts = 1700000005000ull,
                             .lamport = 1,
                             .parents = parents,
                             .body = body,
                             .body_len = body_len};
    memcpy(d.room, room, ID);
    int rc = RUMOR_OK;
    if (!rumor_is_zero(room, ID))
        rc = rumor_gossip_next_parents(t, room, parents, &d.n_parents, &d.lamport);
    size_t len = 0;
    if (rc == RUMOR_OK) rc = rumor_event_encode(out, sizeof out, &len, NULL, &d, author);
    if (rc == RUMOR_OK) rc = rumor_gossip_ingest(t, NULL, out, len, NULL, NULL);
    return rc;
}

static int bob_visits(rumor_txn_t *t, void *ctx)
{
    visit_t *v = ctx;
    const uint8_t zero[ID] = {0};
    uint8_t body[256], kid[RUMOR_KEY_ID_BYTES], sealed[RUMOR_STORE_KEY_SEALED_BYTES];
    uint8_t key[RUMOR_ROOM_KEY_BYTES], ad[RUMOR_EVENT_AD_BYTES];

    /* Alice adds Bob (her node would have signed this; the test holds her seed). */
    memcpy(body, rumor_identity_public(v->bob), ID);
    body[ID] = RUMOR_ROLE_MEMBER;
    body[ID + 1] = 0;
    int rc = sign_and_ingest(t, v->alice, RUMOR_EV_MEMBER_ADD, v->room, body, ID + 2);
    if (rc < 0) return rc;
    memcpy(body, "\3bob", 4);
    if ((rc = sign_and_ingest(t, v->bob, RUMOR_EV_PROFILE, zero, body, 4)) < 0) return rc;

    /* Bob writes with the room's key, which the test reads from Alice's store. */
    if ((rc = rumor_store_key_current(t, v->room, kid, NULL)) < 0) return rc;
    if ((rc = rumor_store_key_get(t, kid, NULL, NULL, sealed)) < 0) return rc;
    if ((rc = rumor_key_at_rest_open(key, v->alice, sealed, sizeof sealed)) < 0) return rc;
    rumor_event_ad(ad, RUMOR_EV_MESSAGE, v->room, rumor_identity_public(v->bob));
    size_t bl = 0;
    rc = rumor_box_seal(body, sizeof body, &bl, key, ad, sizeof ad, (const uint8_t *)"hi alice", 8);
    if (rc == RUMOR_OK) rc = sign_and_ingest(t, v->bob, RUMOR_EV_MESSAGE, v->room, body, bl);
    return rc;
}

static void test_messages_from_others(void)
{
    fx_t f;
    fx_init(&f);
    uint8_t seed[RUMOR_SEED_BYTES], id[ID], lan[ID], mine[ID];
    rumor_identity_t *alice = NULL, *bob = NULL;
    memset(seed, 0xa1, sizeof seed);
    CHECK_EQ_INT(rumor_identity_from_seed(seed, &alice), RUMOR_OK);
    memset(seed, 0xb0, sizeof seed);
    CHECK_EQ_INT(rumor_identity_from_seed(seed, &bob), RUMOR_OK);
    if (!alice || !bob) exit(2);

    /* Alice's home from a key file the test made, so the test can also sign as her. */
    char file[400];
    uint8_t kf[RUMOR_KEYFILE_BYTES];
    path_in(&f, file, sizeof file, "alice.key");
    CHECK_EQ_INT(rumor_keyfile_seal(alice, NULL, 0, 0, 0, kf), RUMOR_OK);
    FILE *fp = fopen(file, "wb");
    CHECK(fp && fwrite(kf, 1, sizeof kf, fp) == sizeof kf);
    if (fp) fclose(fp);
    CHECK_EQ_INT(rumor_node_import_home(f.home, file, NULL, id), RUMOR_OK);
    CHECK_EQ_MEM(id, rumor_identity_public(alice), ID);

    rumor_node_t *n = NULL;
    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (!n) exit(2);
    CHECK_EQ_INT(rumor_node_unlock(n, NULL), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, lan), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_send(n, lan, "hi bob", 6, mine), RUMOR_OK);
    rumor_node_close(&n);

    /* Bob's events arrive in Alice's store, as gossip would deliver them. */
    char store_dir[400];
    snprintf(store_dir, sizeof store_dir, "%s/store", f.home);
    rumor_store_t *s = NULL;
    CHECK_EQ_INT(rumor_store_open(store_dir, NULL, &s), RUMOR_OK);
    visit_t v = {alice, bob, {0}};
    memcpy(v.room, lan, ID);
    if (s) CHECK_EQ_INT(rumor_store_write(s, bob_visits, &v), RUMOR_OK);
    rumor_store_close(&s);

    CHECK_EQ_INT(rumor_node_open(f.home, &n), RUMOR_OK);
    if (!n) exit(2);
    CHECK_EQ_INT(rumor_node_unlock(n, NULL), RUMOR_OK);
    rumor_node_room_t r = room_get(n, lan);
    CHECK_EQ_INT(r.messages, 2);
    CHECK_EQ_INT(r.unread, 1);
    CHECK_EQ_INT(r.members, 2);
    log_seen_t seen = {.n = 0};
    CHECK_EQ_INT(rumor_node_log(n, lan, 0, collect_message, &seen), RUMOR_OK);
    CHECK_EQ_INT(seen.n, 2);
    CHECK_EQ_STR(seen.texts[0], "hi bob");
    CHECK_EQ_STR(seen.nicks[0], "");
    CHECK_EQ_STR(seen.texts[1], "hi alice");
    CHECK_EQ_STR(seen.nicks[1], "bob");
    CHECK_EQ_INT(room_get(n, lan).unread, 0); /* reading marks it read */
    char nick[RUMOR_NICK_MAX + 1];
    rumor_node_nick_of(n, rumor_identity_public(bob), nick);
    CHECK_EQ_STR(nick, "bob");
    rumor_node_close(&n);
    rumor_identity_destroy(&alice);
    rumor_identity_destroy(&bob);
    test_rmdir(f.dir);
}

typedef struct {
    uint8_t pk[ID];
    uint8_t role;
    char nick[RUMOR_NICK_MAX + 1];
    size_t n;
} member_seen_t;

static int collect_member(void *ctx, const uint8_t pk[ID], uint8_t role,
                          const rumor_node_person_t *who)
{
    member_seen_t *m = ctx;
    memcpy(m->pk, pk, ID);
    m->role = role;
    snprintf(m->nick, sizeof m->nick, "%s", who->nick);
    m->n++;
    return 0;
}

static void test_nick_and_members(void)
{
    fx_t f;
    uint8_t me[ID], lan[ID], sub[ID];
    rumor_node_t *n = fresh_node(&f, me);
    char nick[RUMOR_NICK_MAX + 1];
    CHECK_EQ_INT(rumor_node_set_nick(n, "alice \xc3\xa0 la plage"), RUMOR_OK);
    rumor_node_nick(n, nick);
    CHECK_EQ_STR(nick, "alice \xc3\xa0 la plage");
    CHECK(rumor_node_set_nick(n, "bad\x1b[31m") < 0);
    CHECK(rumor_node_set_nick(n, "") < 0);
    rumor_node_nick(n, nick);
    CHECK_EQ_STR(nick, "alice \xc3\xa0 la plage");
    uint8_t stranger[ID];
    memset(stranger, 0x17, ID);
    rumor_node_nick_of(n, stranger, nick);
    CHECK_EQ_STR(nick, "");

    CHECK_EQ_INT(rumor_node_room_create(n, "lan", false, NULL, lan), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_room_create(n, "lan/general", false, NULL, sub), RUMOR_OK);
    member_seen_t m = {.n = 0};
    CHECK_EQ_INT(rumor_node_room_members(n, sub, collect_member, &m), RUMOR_OK);
    CHECK_EQ_INT(m.n, 1);
    CHECK_EQ_MEM(m.pk, me, ID);
    CHECK_EQ_INT(m.role, RUMOR_ROLE_OWNER);
    CHECK_EQ_STR(m.nick, "alice \xc3\xa0 la plage");
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

/* Contacts, PEER resolution and the names shown for keys (node/contacts.c). */
static void test_contacts_and_names(void)
{
    fx_t f;
    uint8_t me[ID], bob[ID], got[ID];
    char hex[RUMOR_ID_HEX + 1], prefix[RUMOR_ID_HEX + 1];
    rumor_node_t *n = fresh_node(&f, me);
    memset(bob, 0, ID);
    bob[0] = 0x84;
    bob[1] = 0x47;
    bob[2] = 0x5a;
    bob[3] = 0x13;
    bob[31] = 0x01;
    rumor_hex_encode(hex, bob, ID);
    rumor_node_person_t who;
    CHECK_EQ_INT(rumor_node_person(n, me, &who), RUMOR_OK);
    CHECK_EQ_STR(who.name, "alice");
    CHECK(who.verified);
    CHECK_EQ_INT(rumor_node_person(n, bob, &who), RUMOR_OK);
    CHECK_EQ_STR(who.name, "84475a13");
    CHECK(!who.verified);
    /* A whole key resolves, known or not; a prefix only of a known key. */
    CHECK_EQ_INT(rumor_node_resolve_peer(n, hex, got), RUMOR_OK);
    CHECK_EQ_MEM(got, bob, ID);
    CHECK_EQ_INT(rumor_node_resolve_peer(n, "84475a13", got), RUMOR_ERR_NOT_FOUND);
    rumor_hex_encode(prefix, me, ID);
    prefix[8] = '\0';
    CHECK_EQ_INT(rumor_node_resolve_peer(n, prefix, got), RUMOR_OK);
    CHECK_EQ_MEM(got, me, ID);
    /* Names: checked, unique, never for oneself. */
    CHECK_EQ_INT(rumor_node_contact_add(n, bob, "deadbeef"), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(rumor_node_contact_add(n, bob, "a~b"), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(rumor_node_contact_add(n, bob, ""), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(rumor_node_contact_add(n, me, "me"), RUMOR_ERR_DENIED);
    CHECK_EQ_INT(rumor_node_contact_add(n, bob, "cafe"), RUMOR_OK);
    CHECK_EQ_INT(rumor_node_resolve_peer(n, "84475a13", got), RUMOR_OK);
    CHECK_EQ_MEM(got, bob, ID);
    CHECK_EQ_INT(rumor_node_resolve_peer(n, "cafe", got), RUMOR_OK);
    CHECK_EQ_MEM(got, bob, ID);
    CHECK_EQ_INT(rumor_node_resolve_peer(n, "bob", got), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_node_person(n, bob, &who), RUMOR_OK);
    CHECK_EQ_STR(who.name, "cafe");
    CHECK(who.verified);
    uint8_t other[ID];
    memcpy(other, bob, ID);
    other[31] = 0x02;
    CHECK_EQ_INT(rumor_node_contact_add(n, other, "cafe"), RUMOR_ERR_EXISTS);
    CHECK_EQ_INT(rumor_node_contact_add(n, other, "carol"), RUMOR_OK);
    /* Two contacts share the first 8 hex characters. */
    CHECK_EQ_INT(rumor_node_resolve_peer(n, "84475a13", got), RUMOR_ERR_AMBIGUOUS);
    CHECK_EQ_INT(rumor_node_contact_remove(n, "cafe", got), RUMOR_OK);
    CHECK_EQ_MEM(got, bob, ID);
    CHECK_EQ_INT(rumor_node_contact_remove(n, "cafe", got), RUMOR_ERR_NOT_FOUND);
    CHECK_EQ_INT(rumor_node_resolve_peer(n, "84475a13", got), RUMOR_OK);
    CHECK_EQ_MEM(got, other, ID);
    rumor_node_close(&n);
    test_rmdir(f.dir);
}

int main(void)
{
    if (rumor_crypto_init() != RUMOR_OK) return 2;
    RUN(test_init_unprotected_home);
    RUN(test_init_in_existing_directory);
    RUN(test_init_failures_leave_nothing);
    RUN(test_init_protected_home);
    RUN(test_export_import);
    RUN(test_room_create_and_resolve);
    RUN(test_room_create_refusals);
    RUN(test_rename_topic_move);
    RUN(test_send_and_log);
    RUN(test_future_clock_is_clamped);
    RUN(test_send_refusals);
    RUN(test_messages_from_others);
    RUN(test_tampered_event_is_caught);
    RUN(test_substituted_event_is_caught);
    RUN(test_nick_and_members);
    RUN(test_contacts_and_names);
    RUN(test_room_walk);
    return test_report("node");
}
