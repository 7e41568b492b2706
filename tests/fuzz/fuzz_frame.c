/*
 * fuzz_frame.c - libFuzzer target for the peer frame decoder (PROTOCOL.md 9.2, 12.2).
 *
 * Every input goes through rumor_wire_decode. A refused input must be
 * refused as malformed (or too big, beyond RUMOR_WIRE_FRAME_MAX) and leave
 * the frame zeroed; an accepted one must point only into the input, and must
 * re-encode to exactly the bytes it came from (the encoding is canonical),
 * and not into a buffer one byte short. A breach aborts so libFuzzer keeps
 * the input.
 */
#include "rumor_gossip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* The libFuzzer interface. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The replay driver's interface (replay_main.c): hands over each built-in seed. */
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

static void fuzz_fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_frame: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

/* True when [p, p + n) lies inside [data, data + size) (or p is NULL and n is 0). */
static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    if (!p) return n == 0;
    return p >= data && p <= data + size && n <= (size_t)(data + size - p);
}

static void check_views(const rumor_wire_frame_t *f, const uint8_t *data, size_t size)
{
    if (!inside(f->pk, f->pk ? ID : 0, data, size) ||
        !inside(f->topic, f->topic ? ID : 0, data, size) ||
        !inside(f->ids, f->ids ? f->n * ID : 0, data, size) ||
        !inside(f->event, f->event_len, data, size) ||
        !inside(f->token, f->token ? RUMOR_WIRE_TOKEN_BYTES : 0, data, size) ||
        !inside(f->cursor_id, f->cursor_id ? ID : 0, data, size) ||
        !inside(f->lan_nonce, f->lan_nonce ? RUMOR_LANCODE_NONCE_BYTES : 0, data, size) ||
        !inside(f->proof, f->proof ? ID : 0, data, size) ||
        !inside(f->invite, f->invite_len, data, size))
        fuzz_fail("a decoded view points outside the frame", RUMOR_OK);
    /* RECON ranges are copied into the frame; only their id lists point into the input. */
    if (f->type == RUMOR_WIRE_RECON && f->ranges != f->range_buf)
        fuzz_fail("a decoded RECON does not use its own range buffer", RUMOR_OK);
    for (size_t i = 0; f->type == RUMOR_WIRE_RECON && i < f->n; i++)
        if (!inside(f->ranges[i].ids, f->ranges[i].ids ? f->ranges[i].k * ID : 0, data, size))
            fuzz_fail("a decoded RECON id list points outside the frame", RUMOR_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[RUMOR_WIRE_FRAME_MAX];
    static const rumor_wire_frame_t zero;
    rumor_wire_frame_t f;

    int rc = rumor_wire_decode(data, size, &f);
    if (rc != RUMOR_OK) {
        if (size > RUMOR_WIRE_FRAME_MAX ? rc != RUMOR_ERR_TOO_BIG : rc != RUMOR_ERR_MALFORMED)
            fuzz_fail("unexpected decode result", rc);
        if (memcmp(&f, &zero, sizeof f) != 0) fuzz_fail("a refused frame is not zeroed", rc);
        return 0;
    }
    if (f.type < RUMOR_WIRE_HELLO || f.type > RUMOR_WIRE_LAN_INVITE)
        fuzz_fail("decoded an unknown type", RUMOR_OK);
    check_views(&f, data, size);

    size_t n = rumor_wire_encode(&f, out, sizeof out);
    if (n != size || memcmp(out, data, size) != 0)
        fuzz_fail("a decoded frame re-encodes differently", RUMOR_OK);
    if (rumor_wire_encode(&f, out, size - 1) != 0)
        fuzz_fail("a frame was encoded into a buffer too small for it", RUMOR_OK);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Encodes `f` and hands it over as a seed. */
static void emit_frame(fuzz_seed_fn emit, void *ctx, const char *name, const rumor_wire_frame_t *f)
{
    static uint8_t buf[RUMOR_WIRE_FRAME_MAX];
    size_t n = rumor_wire_encode(f, buf, sizeof buf);
    if (n == 0) fuzz_fail("cannot encode a seed frame", RUMOR_ERR_INVALID);
    emit(ctx, name, buf, n);
}

/* One valid frame of every type (two of the counted ones), and a few refused ones. */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    uint8_t a[ID], b[ID], ids[3 * ID], event[200];
    memset(a, 0xa1, ID);
    memset(b, 0xb2, ID);
    for (size_t i = 0; i < sizeof ids; i++) ids[i] = (uint8_t)(i / ID * 0x40 + 1);
    for (size_t i = 0; i < sizeof event; i++) event[i] = (uint8_t)i;
    rumor_wire_frame_t f;

    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_HELLO, .pk = a, .port = 7470, .flags = 1};
    emit_frame(emit, ctx, "seed-hello", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_LAN_CODE, .lan_nonce = ids, .proof = b};
    emit_frame(emit, ctx, "seed-lan-code", &f);
    static const char invite[] = "rumor-invite:AQID";
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_LAN_INVITE,
                             .status = RUMOR_LANCODE_OK,
                             .lan_nonce = ids,
                             .proof = a,
                             .invite = (const uint8_t *)invite,
                             .invite_len = sizeof invite - 1};
    emit_frame(emit, ctx, "seed-lan-invite", &f);
    f = (rumor_wire_frame_t){
        .type = RUMOR_WIRE_LAN_INVITE, .status = RUMOR_LANCODE_LIMITED, .lan_nonce = ids};
    emit_frame(emit, ctx, "seed-lan-invite-limited", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_PING, .nonce = UINT64_C(0x0102030405060708)};
    emit_frame(emit, ctx, "seed-ping", &f);
    f.type = RUMOR_WIRE_PONG;
    emit_frame(emit, ctx, "seed-pong", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_SUB};
    emit_frame(emit, ctx, "seed-sub-empty", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_SUB, .ids = ids, .n = 3};
    emit_frame(emit, ctx, "seed-sub-3", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_GRAFT, .topic = a};
    emit_frame(emit, ctx, "seed-graft", &f);
    f.type = RUMOR_WIRE_PRUNE;
    emit_frame(emit, ctx, "seed-prune", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_EVENT, .event = event, .event_len = sizeof event};
    emit_frame(emit, ctx, "seed-event", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_IHAVE, .topic = a, .ids = ids, .n = 3};
    emit_frame(emit, ctx, "seed-ihave", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_IWANT, .ids = ids, .n = 1};
    emit_frame(emit, ctx, "seed-iwant", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_PEERS};
    emit_frame(emit, ctx, "seed-peers-empty", &f);
    f.n = 2;
    memcpy(f.peers[0].pk, a, ID);
    f.peers[0].family = 4;
    memcpy(f.peers[0].addr, "\xc0\xa8\x01\x14", 4);
    f.peers[0].port = 7470;
    memcpy(f.peers[1].pk, b, ID);
    f.peers[1].family = 6;
    f.peers[1].addr[15] = 1;
    f.peers[1].port = 7471;
    emit_frame(emit, ctx, "seed-peers-2", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_JOIN, .topic = a, .token = b};
    emit_frame(emit, ctx, "seed-join", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_JOINED, .topic = a, .status = 2};
    emit_frame(emit, ctx, "seed-joined", &f);
    f = (rumor_wire_frame_t){
        .type = RUMOR_WIRE_SYNC, .topic = a, .lamport = 42, .cursor_id = b, .max = 256};
    emit_frame(emit, ctx, "seed-sync", &f);
    f = (rumor_wire_frame_t){
        .type = RUMOR_WIRE_SYNC_END, .topic = a, .lamport = 42, .cursor_id = b, .status = 1};
    emit_frame(emit, ctx, "seed-sync-end", &f);

    /* Anti-entropy (12.2): a RECON of every range mode, a BATCH of two events, a CREDIT. */
    rumor_recon_range_t *g = calloc(RUMOR_RECON_RANGES_MAX, sizeof *g);
    if (!g) fuzz_fail("out of memory", RUMOR_ERR_NOMEM);
    g[0].upper.lamport = 7;
    memcpy(g[0].upper.id, b, ID);
    g[0].mode = RUMOR_RECON_SKIP;
    g[1].upper.lamport = 42;
    g[1].mode = RUMOR_RECON_FINGERPRINT;
    g[1].count = 33;
    memset(g[1].fp, 0xf1, sizeof g[1].fp);
    g[2].upper.lamport = 43;
    memcpy(g[2].upper.id, a, ID);
    g[2].mode = RUMOR_RECON_IDS;
    g[2].k = 3;
    g[2].ids = ids;
    rumor_bound_top(&g[3].upper);
    g[3].mode = RUMOR_RECON_IDS; /* k = 0: "send me everything here" */
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_RECON, .topic = a, .round = 1, .n = 4, .ranges = g};
    emit_frame(emit, ctx, "seed-recon-modes", &f);
    memset(g, 0, sizeof *g);
    rumor_bound_top(&g[0].upper);
    g[0].mode = RUMOR_RECON_SKIP;
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_RECON, .topic = b, .n = 1, .ranges = g};
    emit_frame(emit, ctx, "seed-recon-skip", &f);
    /* The largest range count: 64 fingerprints, the last at the top bound. */
    for (size_t i = 0; i < RUMOR_RECON_RANGES_MAX; i++) {
        memset(&g[i], 0, sizeof g[i]);
        g[i].upper.lamport = 2 * i + 2;
        g[i].upper.id[0] = (uint8_t)i;
        g[i].mode = RUMOR_RECON_FINGERPRINT;
        g[i].count = (uint32_t)i + 1;
        memset(g[i].fp, (int)i, sizeof g[i].fp);
    }
    rumor_bound_top(&g[RUMOR_RECON_RANGES_MAX - 1].upper);
    f = (rumor_wire_frame_t){
        .type = RUMOR_WIRE_RECON, .topic = a, .n = RUMOR_RECON_RANGES_MAX, .ranges = g};
    emit_frame(emit, ctx, "seed-recon-fp-64", &f);
    free(g);
    /* Entries are len[4] | event; the events need not be valid events here. */
    uint8_t entries[2 * RUMOR_BATCH_ENTRY_BYTES + 100 + 1];
    rumor_put_u32(entries, 100);
    memcpy(entries + RUMOR_BATCH_ENTRY_BYTES, event, 100);
    rumor_put_u32(entries + RUMOR_BATCH_ENTRY_BYTES + 100, 1);
    entries[sizeof entries - 1] = 0x5a;
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_BATCH,
                             .topic = a,
                             .remaining = 9,
                             .n = 2,
                             .event = entries,
                             .event_len = sizeof entries};
    emit_frame(emit, ctx, "seed-batch-2", &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_CREDIT, .n = 8};
    emit_frame(emit, ctx, "seed-credit", &f);

    static const uint8_t bad_version[] = {2, RUMOR_WIRE_PING, 0, 0, 0, 0, 0, 0, 0, 0};
    emit(ctx, "seed-bad-version", bad_version, sizeof bad_version);
    static const uint8_t bad_type[] = {1, 19, 0};
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_INVITED, .topic = a};
    emit_frame(emit, ctx, "seed-invited", &f);
    emit(ctx, "seed-bad-type", bad_type, sizeof bad_type);
    static const uint8_t short_frame[] = {1};
    emit(ctx, "seed-short", short_frame, sizeof short_frame);
}
