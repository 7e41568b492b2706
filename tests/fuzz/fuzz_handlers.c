/*
 * fuzz_handlers.c - libFuzzer target for the running node's frame handlers (PROTOCOL.md 9, 12):
 * the dispatch from a frame to its handler, against real state. Each input runs on a fresh
 * copy of one home (an owner, a room tree, a message, a member added by key) opened by an
 * offline daemon (node/daemon.h: its tables and store, no socket, nothing dialed); the input
 * is a script of frames, each from the member or from a stranger:
 *
 *     repeat: who[1] (bit 0: 0 member, 1 stranger) | len[2] | frame[len]
 *
 * Sanitizers catch what goes wrong in the handlers; afterwards the store must still open and
 * hold at least what the home held.
 */
#include "daemon.h"
#include "det_random.h"
#include "rumor_gossip.h"
#include "rumor_node.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

static char template_home[256], work_home[300];
static uint8_t room[ID], general[ID], message[ID], member[ID], stranger[ID];
static uint64_t events_held;
static rumor_node_config_t cfg;

static void fuzz_fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_handlers: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

/* Copies the regular files of `from` into `to` (made), one level of directories deep. */
static void copy_tree(const char *from, const char *to, int depth)
{
    if (mkdir(to, 0700) < 0) fuzz_fail("mkdir", RUMOR_ERR_IO);
    DIR *dir = opendir(from);
    if (!dir) fuzz_fail("opendir", RUMOR_ERR_IO);
    struct dirent *e;
    static char buf[1 << 16];
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        struct stat st;
        if (stat(a, &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 2) copy_tree(a, b, depth + 1);
            continue;
        }
        int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0) fuzz_fail("copy", RUMOR_ERR_IO);
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) fuzz_fail("copy", RUMOR_ERR_IO);
        close(in);
        close(out);
    }
    closedir(dir);
}

static void remove_tree(const char *path, int depth)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char a[600];
            snprintf(a, sizeof a, "%s/%s", path, e->d_name);
            struct stat st;
            if (depth < 2 && stat(a, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(a, depth + 1);
            else
                unlink(a);
        }
        closedir(dir);
    }
    rmdir(path);
}

static uint64_t count_events(rumor_node_t *n)
{
    rumor_node_counts_t c = {0};
    if (rumor_node_counts(n, &c) != RUMOR_OK) fuzz_fail("counts", RUMOR_ERR_STORE);
    return c.events;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    det_random_calls = 0;
    remove_tree(work_home, 0);
    copy_tree(template_home, work_home, 0);
    rumor_node_t *n = NULL;
    int rc = rumor_node_open(work_home, &n);
    if (rc == RUMOR_OK) rc = rumor_node_unlock(n, NULL);
    if (rc != RUMOR_OK) fuzz_fail("open the home", rc);
    daemon_t *d = NULL;
    if ((rc = rumor_daemon_offline_open(n, &cfg, &d)) != RUMOR_OK) fuzz_fail("daemon", rc);
    peer_t *who[2] = {rumor_daemon_offline_peer(d, member), rumor_daemon_offline_peer(d, stranger)};
    if (!who[0] || !who[1]) fuzz_fail("peers", RUMOR_ERR_NOMEM);
    size_t i = 0;
    while (i + 3 <= size) {
        size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
        peer_t *p = who[data[i] & 1];
        i += 3;
        if (len > size - i) len = size - i;
        rumor_daemon_offline_frame(d, p, data + i, len);
        i += len;
    }
    rumor_daemon_offline_close(&d);
    if (count_events(n) < events_held) fuzz_fail("events were lost", RUMOR_ERR_STORE);
    rumor_node_close(&n);
    return 0;
}

static char base_dir[200];

static void cleanup(void)
{
    remove_tree(work_home, 0);
    remove_tree(template_home, 0);
    rmdir(base_dir);
}

static uint64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return UINT64_C(1767225600000);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    det_random_label("rumor fuzz_handlers random stream");
    randombytes_set_implementation(&det_random);
    if (rumor_crypto_init() < 0) fuzz_fail("crypto", RUMOR_ERR_CRYPTO);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(base_dir, sizeof base_dir, "%s/fuzz_handlers.XXXXXX", tmp);
    if (!mkdtemp(base_dir)) fuzz_fail("mkdtemp", RUMOR_ERR_IO);
    snprintf(template_home, sizeof template_home, "%s/template", base_dir);
    snprintf(work_home, sizeof work_home, "%s/work", base_dir);
    atexit(cleanup);
    uint8_t seed[RUMOR_SEED_BYTES], id[ID];
    rumor_identity_t *m = NULL, *s = NULL;
    memset(seed, 0x33, sizeof seed);
    if (rumor_identity_from_seed(seed, &m) != RUMOR_OK) fuzz_fail("identity", RUMOR_ERR_CRYPTO);
    memset(seed, 0x44, sizeof seed);
    if (rumor_identity_from_seed(seed, &s) != RUMOR_OK) fuzz_fail("identity", RUMOR_ERR_CRYPTO);
    memcpy(member, rumor_identity_public(m), ID);
    memcpy(stranger, rumor_identity_public(s), ID);
    rumor_identity_destroy(&m);
    rumor_identity_destroy(&s);

    rumor_node_t *n = NULL;
    int rc = rumor_node_init_home(template_home, "owner", NULL, id);
    if (rc == RUMOR_OK) rc = rumor_node_open(template_home, &n);
    if (rc == RUMOR_OK) rc = rumor_node_unlock(n, NULL);
    /* A fixed clock and random stream: the same home, and so the same ids, on every run. */
    if (rc == RUMOR_OK) rumor_node_set_clock(n, fixed_clock, NULL);
    if (rc == RUMOR_OK) rc = rumor_node_room_create(n, "lan", false, NULL, room);
    if (rc == RUMOR_OK) rc = rumor_node_room_create(n, "lan/general", false, NULL, general);
    if (rc == RUMOR_OK) rc = rumor_node_send(n, general, "hello", 5, message);
    if (rc == RUMOR_OK) rc = rumor_node_member_add(n, room, member, RUMOR_ROLE_MEMBER, id);
    if (rc != RUMOR_OK) fuzz_fail("template home", rc);
    events_held = count_events(n);

    rumor_node_close(&n);
    rumor_node_config_defaults(&cfg);
    cfg.seen_max = 1024;
    cfg.pending_max = 64;
    strcpy(cfg.log_level, "error");
    return 0;
}

/* Appends one frame of the script. */
static size_t put(uint8_t *buf, size_t at, uint8_t who, const rumor_wire_frame_t *f)
{
    uint8_t frame[2048];
    size_t len = rumor_wire_encode(f, frame, sizeof frame);
    if (!len) fuzz_fail("seed frame", RUMOR_ERR_INVALID);
    buf[at] = who;
    buf[at + 1] = (uint8_t)(len >> 8);
    buf[at + 2] = (uint8_t)len;
    memcpy(buf + at + 3, frame, len);
    return at + 3 + len;
}

/* What a member and a stranger say to a node: subscriptions, grafts, lazy announcements and
 * requests, a join with a bad token, a catch-up request, an invitation hint, peer exchange. */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    static uint8_t buf[16384];
    uint8_t zero[ID] = {0}, topics[2 * ID], ids[2 * ID], token[16] = {0};
    memcpy(topics, zero, ID);
    memcpy(topics + ID, room, ID);
    memcpy(ids, message, ID);
    memcpy(ids + ID, general, ID);
    for (uint8_t who = 0; who < 2; who++) {
        size_t at = 0;
        rumor_wire_frame_t f = {.type = RUMOR_WIRE_SUB, .ids = topics, .n = 2};
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){.type = RUMOR_WIRE_GRAFT, .topic = room};
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){.type = RUMOR_WIRE_IHAVE, .topic = room, .ids = ids, .n = 2};
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){.type = RUMOR_WIRE_IWANT, .ids = ids, .n = 2};
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){
            .type = RUMOR_WIRE_SYNC, .topic = room, .cursor_id = zero, .max = 16};
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){.type = RUMOR_WIRE_JOIN, .topic = room, .token = token};
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){.type = RUMOR_WIRE_INVITED, .topic = general};
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){.type = RUMOR_WIRE_PEERS, .n = 1};
        memcpy(f.peers[0].pk, member, ID);
        f.peers[0].family = 4;
        f.peers[0].addr[0] = 127;
        f.peers[0].addr[3] = 1;
        f.peers[0].port = 7470;
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){.type = RUMOR_WIRE_PRUNE, .topic = room};
        at = put(buf, at, who, &f);
        f = (rumor_wire_frame_t){.type = RUMOR_WIRE_PING, .nonce = 7};
        at = put(buf, at, who, &f);
        emit(ctx, who ? "seed-stranger" : "seed-member", buf, at);
    }
}
