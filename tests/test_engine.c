/*
 * test_engine.c - the dissemination engine (gossip/engine.c) on its own: no socket, no store,
 * a clock that is a number and a seeded random number generator. Each test drives inputs and
 * checks the actions that come out, as a peer would see them on the wire.
 */
#include "rumor_gossip.h"
#include "test.h"

#define ID RUMOR_ID_BYTES

/* xorshift64*: the engine's randomness, seeded. */
static uint32_t uniform(void *ctx, uint32_t upper)
{
    uint64_t *s = ctx;
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 2685821657736338717ULL) >> 32) % upper;
}

/* Ids the "store" holds, for the engine's `has`. */
typedef struct {
    uint8_t ids[16][ID];
    size_t n;
} held_t;

static bool has(void *ctx, const uint8_t id[ID])
{
    held_t *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (memcmp(h->ids[i], id, ID) == 0) return true;
    return false;
}

static uint64_t seed;
static held_t held;

static rumor_engine_t *engine_with(uint8_t strategy, uint64_t s, bool scored)
{
    seed = s;
    rumor_engine_opts_t o = {.d = 6,
                             .d_lo = 4,
                             .d_hi = 12,
                             .d_lazy = 3,
                             .history_length = 5,
                             .history_gossip = 3,
                             .seen_max = 1024,
                             .seen_ttl_ms = 120000,
                             .strategy = strategy,
                             .repair_ms = 500,
                             .uniform = uniform,
                             .uniform_ctx = &seed,
                             .has = has,
                             .has_ctx = &held};
    if (scored) rumor_engine_score_defaults(&o.score);
    rumor_engine_t *e = rumor_engine_new(&o);
    if (!e) exit(2);
    return e;
}

static rumor_engine_t *engine(uint8_t strategy, uint64_t s)
{
    return engine_with(strategy, s, false);
}

/* What one peer was sent, by frame type, in the actions taken. */
typedef struct {
    size_t frames[RUMOR_WIRE_LAN_INVITE + 1];
    size_t serve, served_ids, drops;
    uint8_t last_ids[RUMOR_WIRE_IDS_MAX * ID];
    size_t n_last_ids;
} sent_t;

#define PEERS 40
static sent_t sent[PEERS];
static int users[PEERS];

/* Takes every action, decoding each frame as its peer would. */
static size_t drain(rumor_engine_t *e)
{
    rumor_engine_action_t a;
    size_t n = 0;
    while (rumor_engine_next(e, &a)) {
        n++;
        CHECK(a.user != NULL);
        if (!a.user) continue;
        sent_t *s = &sent[(int *)a.user - users];
        if (a.type == RUMOR_ENGINE_SERVE) {
            s->serve++;
            s->served_ids += a.n;
            continue;
        }
        if (a.type == RUMOR_ENGINE_DROP) {
            s->drops++;
            continue;
        }
        rumor_wire_frame_t f;
        int rc = rumor_wire_decode(a.buf, a.len, &f);
        CHECK_EQ_INT(rc, RUMOR_OK);
        s->frames[f.type]++;
        if (f.type == RUMOR_WIRE_IHAVE || f.type == RUMOR_WIRE_IWANT) {
            memcpy(s->last_ids, f.ids, f.n * ID);
            s->n_last_ids = f.n;
        }
    }
    return n;
}

static void reset_sent(void)
{
    memset(sent, 0, sizeof sent);
}

static size_t total(int type)
{
    size_t n = 0;
    for (int i = 0; i < PEERS; i++) n += sent[i].frames[type];
    return n;
}

/* `n` peers up, every one subscribed to `topic`; handles in h. */
static void peers_up(rumor_engine_t *e, size_t n, const uint8_t topic[ID], rumor_engine_peer_t *h)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t pk[ID];
        memset(pk, (int)i + 1, ID);
        h[i] = rumor_engine_peer_up(e, pk, &users[i]);
        CHECK(h[i] != RUMOR_ENGINE_NONE);
        CHECK_EQ_INT(rumor_engine_peer_topics(e, h[i], topic, 1), RUMOR_OK);
    }
}

/* Meshes fill to D and stay within D_lo..D_hi as peers come and go; GRAFT past D is answered
 * with PRUNE; a PRUNE takes a peer out. */
static void test_mesh_degrees(void)
{
    uint8_t topic[ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x77, ID);
    rumor_engine_t *e = engine(RUMOR_STRATEGY_GOSSIPSUB, 1);
    CHECK_EQ_INT(rumor_engine_topics(e, topic, 1), RUMOR_OK);
    reset_sent();
    peers_up(e, 30, topic, h);
    /* The first comers are grafted at once, while the mesh is below D_lo. */
    drain(e);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 4);
    CHECK_EQ_INT(total(RUMOR_WIRE_GRAFT), 4);
    rumor_engine_fill(e); /* below D_lo no longer: nothing */
    CHECK_EQ_INT(drain(e), 0);
    /* A GRAFT from outside is taken up to D, then answered with PRUNE. */
    int pruned = 0;
    for (int i = 10; i < 20; i++) {
        rumor_wire_frame_t g = {.type = RUMOR_WIRE_GRAFT, .topic = topic};
        reset_sent();
        rumor_engine_frame(e, h[i], &g, 0);
        drain(e);
        pruned += sent[i].frames[RUMOR_WIRE_PRUNE] == 1;
    }
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 6);
    CHECK_EQ_INT(pruned, 8);
    /* Peers go; the heartbeat grafts back to D once below D_lo, never above D_hi. */
    uint64_t now = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 30; i++)
            if (uniform(&seed, 4) == 0 && i % 3 == round % 3) {
                rumor_engine_peer_down(e, h[i]);
                uint8_t pk[ID];
                memset(pk, i + 1, ID);
                h[i] = rumor_engine_peer_up(e, pk, &users[i]);
                rumor_engine_peer_topics(e, h[i], topic, 1);
            }
        rumor_engine_tick(e, now += 1000);
        drain(e);
        size_t m = rumor_engine_mesh_size(e, topic);
        CHECK(m >= 4 && m <= 12);
    }
    /* A PRUNE takes the peer out; a peer that loses the topic leaves the mesh. */
    size_t before = rumor_engine_mesh_size(e, topic);
    for (int i = 0; i < 30; i++) {
        rumor_wire_frame_t pr = {.type = RUMOR_WIRE_PRUNE, .topic = topic};
        rumor_engine_frame(e, h[i], &pr, now);
        rumor_engine_peer_topics(e, h[i], NULL, 0);
    }
    drain(e);
    CHECK(before > 0);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 0);
    CHECK(!rumor_engine_meshed(e, h[0]));
    /* A topic not held is no mesh: GRAFT of it is ignored. */
    uint8_t other[ID];
    memset(other, 0x78, ID);
    rumor_wire_frame_t g = {.type = RUMOR_WIRE_GRAFT, .topic = other};
    rumor_engine_frame(e, h[0], &g, now);
    CHECK_EQ_INT(drain(e), 0);
    rumor_engine_free(&e);
}

/* New events go to the mesh but not back to their sender; with no mesh, to up to D subscribed
 * peers; in flood mode to every subscribed peer. */
static void test_push(void)
{
    uint8_t topic[ID], frame[64] = {RUMOR_WIRE_VERSION, RUMOR_WIRE_EVENT};
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x55, ID);
    rumor_engine_t *e = engine(RUMOR_STRATEGY_GOSSIPSUB, 2);
    /* Not held yet: no mesh, so up to D subscribed peers. */
    peers_up(e, 20, topic, h);
    reset_sent();
    CHECK_EQ_INT(rumor_engine_push(e, topic, frame, sizeof frame, RUMOR_ENGINE_NONE), 6);
    drain(e);
    CHECK_EQ_INT(total(RUMOR_WIRE_EVENT), 6);
    rumor_engine_topics(e, topic, 1);
    rumor_engine_fill(e);
    drain(e);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 6);
    /* A mesh peer's event goes to the other five. */
    rumor_engine_peer_t from = RUMOR_ENGINE_NONE;
    for (int i = 0; i < 20 && from == RUMOR_ENGINE_NONE; i++)
        if (rumor_engine_meshed(e, h[i])) from = h[i];
    reset_sent();
    CHECK_EQ_INT(rumor_engine_push(e, topic, frame, sizeof frame, from), 5);
    drain(e);
    CHECK_EQ_INT(total(RUMOR_WIRE_EVENT), 5);
    CHECK_EQ_INT(sent[from].frames[RUMOR_WIRE_EVENT], 0);
    /* Another topic's event goes to none of them. */
    uint8_t other[ID];
    memset(other, 0x56, ID);
    CHECK_EQ_INT(rumor_engine_push(e, other, frame, sizeof frame, RUMOR_ENGINE_NONE), 0);
    rumor_engine_free(&e);

    e = engine(RUMOR_STRATEGY_FLOOD, 3);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 20, topic, h);
    rumor_engine_fill(e);
    reset_sent();
    CHECK_EQ_INT(drain(e), 0); /* no mesh, no GRAFT */
    CHECK_EQ_INT(rumor_engine_push(e, topic, frame, sizeof frame, h[3]), 19);
    drain(e);
    CHECK_EQ_INT(sent[3].frames[RUMOR_WIRE_EVENT], 0);
    CHECK_EQ_INT(total(RUMOR_WIRE_EVENT), 19);
    rumor_engine_free(&e);
}

/* IHAVE is answered with IWANT for what is neither seen nor held, only in a topic held and
 * taken by the peer; IWANT is handed out as ids to serve; announced ids go in IHAVE to D_lazy
 * peers outside the mesh for history_gossip heartbeats, oldest first. */
static void test_ihave_iwant(void)
{
    uint8_t topic[ID], other[ID], ids[4 * ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x44, ID);
    memset(other, 0x45, ID);
    for (int i = 0; i < 4; i++) memset(ids + i * ID, 0xa0 + i, ID);
    rumor_engine_t *e = engine(RUMOR_STRATEGY_GOSSIPSUB, 4);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 12, topic, h);
    drain(e);
    held.n = 1;
    memcpy(held.ids[0], ids + ID, ID); /* the second is stored */
    rumor_engine_saw(e, ids, 0);       /* the first was seen */
    reset_sent();
    rumor_wire_frame_t ih = {.type = RUMOR_WIRE_IHAVE, .topic = topic, .ids = ids, .n = 4};
    rumor_engine_frame(e, h[0], &ih, 0);
    drain(e);
    CHECK_EQ_INT(sent[0].frames[RUMOR_WIRE_IWANT], 1);
    CHECK_EQ_INT(sent[0].n_last_ids, 2);
    CHECK_EQ_MEM(sent[0].last_ids, ids + 2 * ID, 2 * ID);
    /* Not a topic held, or not one the peer takes: nothing. */
    ih.topic = other;
    rumor_engine_frame(e, h[0], &ih, 0);
    ih.topic = topic;
    rumor_engine_peer_topics(e, h[1], other, 1);
    rumor_engine_frame(e, h[1], &ih, 0);
    reset_sent();
    CHECK_EQ_INT(drain(e), 0);
    /* IWANT: the ids to serve, whatever they are (the caller checks topics and budget). */
    rumor_wire_frame_t iw = {.type = RUMOR_WIRE_IWANT, .ids = ids, .n = 3};
    rumor_engine_frame(e, h[2], &iw, 0);
    drain(e);
    CHECK_EQ_INT(sent[2].serve, 1);
    CHECK_EQ_INT(sent[2].served_ids, 3);

    /* Announced ids: IHAVE to D_lazy (3) peers outside the mesh, for history_gossip beats. */
    held.n = 0;
    rumor_engine_peer_topics(e, h[1], topic, 1);
    rumor_engine_fill(e);
    drain(e);
    rumor_engine_announce(e, topic, ids);
    rumor_engine_announce(e, topic, ids + ID);
    uint64_t now = 0;
    for (int beat = 0; beat < 5; beat++) {
        reset_sent();
        rumor_engine_tick(e, now += 1000);
        drain(e);
        size_t ihaves = 0;
        for (int i = 0; i < 12; i++) {
            if (!sent[i].frames[RUMOR_WIRE_IHAVE]) continue;
            ihaves++;
            CHECK(!rumor_engine_meshed(e, h[i]));
            CHECK_EQ_INT(sent[i].n_last_ids, 2);
            CHECK_EQ_MEM(sent[i].last_ids, ids, 2 * ID); /* oldest first */
        }
        CHECK_EQ_INT(ihaves, beat < 3 ? 3 : 0);
    }
    held.n = 0;
    rumor_engine_free(&e);
}

/* Tree mode (Plumtree): every subscribed peer starts eager without a GRAFT; a duplicate prunes
 * its sender; an IHAVE of something missing grafts the announcer back; a GRAFT is always taken;
 * a topic left with no eager link grafts one at the heartbeat. */
static void test_tree(void)
{
    uint8_t topic[ID], frame[48] = {RUMOR_WIRE_VERSION, RUMOR_WIRE_EVENT}, id[ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x66, ID);
    memset(id, 0x67, ID);
    rumor_engine_t *e = engine(RUMOR_STRATEGY_TREE, 6);
    rumor_engine_topics(e, topic, 1);
    reset_sent();
    peers_up(e, 10, topic, h);
    rumor_engine_fill(e);
    CHECK_EQ_INT(drain(e), 0); /* no GRAFT: both ends make the link eager */
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 10);
    CHECK_EQ_INT(rumor_engine_push(e, topic, frame, sizeof frame, h[0]), 9);
    drain(e);
    /* Duplicates from 1..8 prune those links: the event comes by 0 and 9 only. */
    reset_sent();
    for (int i = 1; i < 9; i++) rumor_engine_duplicate(e, h[i], topic, frame, 0);
    /* Lazy here but pushing (a PRUNE lost, or eager on its side only): answered again. */
    rumor_engine_duplicate(e, h[1], topic, frame, 0);
    drain(e);
    CHECK_EQ_INT(total(RUMOR_WIRE_PRUNE), 9);
    CHECK_EQ_INT(sent[1].frames[RUMOR_WIRE_PRUNE], 2);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 2);
    CHECK_EQ_INT(rumor_engine_push(e, topic, frame, sizeof frame, h[0]), 1);
    drain(e);
    /* An IHAVE from a lazy peer of an id neither seen nor held: the tree has until the repair
     * time to bring it; then IWANT, and the link is eager. */
    reset_sent();
    rumor_wire_frame_t ih = {.type = RUMOR_WIRE_IHAVE, .topic = topic, .ids = id, .n = 1};
    rumor_engine_frame(e, h[5], &ih, 1000);
    rumor_engine_frame(e, h[6], &ih, 1001); /* the first announcer is the one asked */
    CHECK_EQ_INT(drain(e), 0);
    rumor_engine_tick(e, 1499);
    drain(e);
    CHECK_EQ_INT(total(RUMOR_WIRE_IWANT), 0);
    rumor_engine_tick(e, 1500);
    drain(e);
    CHECK_EQ_INT(sent[5].frames[RUMOR_WIRE_IWANT], 1);
    CHECK_EQ_INT(sent[5].frames[RUMOR_WIRE_GRAFT], 1);
    CHECK_EQ_INT(total(RUMOR_WIRE_IWANT), 1);
    CHECK(rumor_engine_meshed(e, h[5]));
    CHECK(!rumor_engine_meshed(e, h[6]));
    /* Arrived in time (seen): no IWANT and no repair. */
    uint8_t id2[ID];
    memset(id2, 0x68, ID);
    ih.ids = id2;
    rumor_engine_frame(e, h[6], &ih, 2000);
    rumor_engine_saw(e, id2, 2100);
    reset_sent();
    rumor_engine_tick(e, 3000);
    drain(e);
    CHECK_EQ_INT(total(RUMOR_WIRE_IWANT), 0);
    CHECK(!rumor_engine_meshed(e, h[6]));
    /* GRAFTs are taken past D. */
    for (int i = 1; i < 9; i++) {
        rumor_wire_frame_t g = {.type = RUMOR_WIRE_GRAFT, .topic = topic};
        rumor_engine_frame(e, h[i], &g, 0);
    }
    reset_sent();
    drain(e);
    CHECK_EQ_INT(total(RUMOR_WIRE_PRUNE), 0);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 10);
    /* Nor does a pushed copy of an id that came by catch-up. */
    uint8_t pulled[ID];
    memset(pulled, 0x6b, ID);
    rumor_engine_fetched(e, pulled, 3000);
    reset_sent();
    rumor_engine_duplicate(e, h[4], topic, pulled, 3001);
    CHECK_EQ_INT(drain(e), 0);
    CHECK(rumor_engine_meshed(e, h[4]));
    CHECK(rumor_engine_wants_duplicates(e));
    /* A copy of an id asked for (a parent) shows no cycle: no prune. */
    uint8_t asked[ID];
    memset(asked, 0x69, ID);
    rumor_engine_want(e, h[2], asked, 1, 3000);
    rumor_engine_duplicate(e, h[3], topic, asked, 3001);
    drain(e);
    CHECK_EQ_INT(sent[2].frames[RUMOR_WIRE_IWANT], 1);
    CHECK_EQ_INT(total(RUMOR_WIRE_PRUNE), 0);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 10);
    /* A repair never reaches a peer that no longer takes the topic (a removed member), nor a
     * peer gone whose handle went to another; one announcer holds a quarter of the table. */
    uint8_t lie[ID];
    memset(lie, 0x6a, ID);
    for (int i = 1; i < 9; i++) {
        rumor_wire_frame_t pr = {.type = RUMOR_WIRE_PRUNE, .topic = topic};
        rumor_engine_frame(e, h[i], &pr, 5000);
    }
    ih.ids = lie;
    rumor_engine_frame(e, h[7], &ih, 5000);
    rumor_engine_peer_topics(e, h[7], NULL, 0);
    lie[1] = 0x01;
    rumor_engine_frame(e, h[8], &ih, 5000);
    rumor_engine_peer_down(e, h[8]);
    uint8_t pk8[ID];
    memset(pk8, 0x99, ID);
    CHECK_EQ_INT(rumor_engine_peer_up(e, pk8, &users[8]), h[8]); /* the handle, given again */
    rumor_engine_peer_topics(e, h[8], topic, 1);
    reset_sent();
    rumor_engine_tick(e, 6000);
    drain(e);
    CHECK_EQ_INT(sent[7].frames[RUMOR_WIRE_IWANT] + sent[7].frames[RUMOR_WIRE_GRAFT], 0);
    CHECK_EQ_INT(sent[8].frames[RUMOR_WIRE_IWANT] + sent[8].frames[RUMOR_WIRE_GRAFT], 0);
    CHECK(!rumor_engine_meshed(e, h[7]));
    uint8_t many[RUMOR_WIRE_IDS_MAX * ID];
    for (int k = 0; k < RUMOR_WIRE_IDS_MAX; k++) memset(many + k * ID, 0x80 + k, ID);
    rumor_wire_frame_t ihm = {.type = RUMOR_WIRE_IHAVE, .topic = topic, .ids = many, .n = 64};
    for (int r = 0; r < 4; r++) {
        for (int k = 0; k < RUMOR_WIRE_IDS_MAX; k++) many[k * ID + 1] = (uint8_t)r;
        rumor_engine_frame(e, h[2], &ihm, 7000); /* 256 made-up ids from one peer */
    }
    ih.ids = id2;
    id2[1] = 0x42; /* a real one, from another */
    rumor_engine_frame(e, h[3], &ih, 7000);
    reset_sent();
    rumor_engine_tick(e, 8000);
    drain(e);
    CHECK_EQ_INT(sent[2].frames[RUMOR_WIRE_IWANT], 1); /* its quarter (64), in one IWANT */
    CHECK_EQ_INT(sent[2].n_last_ids, 64);
    CHECK_EQ_INT(sent[3].frames[RUMOR_WIRE_IWANT], 1);
    CHECK_EQ_INT(sent[3].frames[RUMOR_WIRE_GRAFT], 1);

    /* Pruned by everyone: the heartbeat grafts one link back, and only one. */
    for (int i = 0; i < 10; i++) {
        rumor_wire_frame_t pr = {.type = RUMOR_WIRE_PRUNE, .topic = topic};
        rumor_engine_frame(e, h[i], &pr, 0);
    }
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 0);
    reset_sent();
    rumor_engine_tick(e, 4000);
    drain(e);
    CHECK_EQ_INT(total(RUMOR_WIRE_GRAFT), 1);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 1);
    rumor_engine_free(&e);

    /* Gossipsub ignores duplicates (no prune); flood has no mesh to prune. */
    e = engine(RUMOR_STRATEGY_GOSSIPSUB, 7);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 10, topic, h);
    rumor_engine_fill(e);
    drain(e);
    reset_sent();
    for (int i = 0; i < 10; i++) rumor_engine_duplicate(e, h[i], topic, frame, 0);
    CHECK_EQ_INT(drain(e), 0);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 4); /* grafted while below D_lo */
    CHECK(!rumor_engine_wants_duplicates(e));
    rumor_engine_free(&e);
    CHECK_EQ_INT(rumor_strategy_parse("tree"), RUMOR_STRATEGY_TREE);
    CHECK_EQ_INT(rumor_strategy_parse("flood"), RUMOR_STRATEGY_FLOOD);
    CHECK_EQ_INT(rumor_strategy_parse("gossipsub"), RUMOR_STRATEGY_GOSSIPSUB);
    CHECK_EQ_INT(rumor_strategy_parse("plumtree"), -1);
}

/* The pending set (gossip/pending.c): an event stored releases exactly the entries that waited
 * for it alone; limits hold (a quarter per peer); expiry by `now`. */
static void test_pending_release(void)
{
    rumor_gossip_pending_t p;
    CHECK_EQ_INT(rumor_gossip_pending_init(&p, 8), RUMOR_OK);
    uint8_t frame[40] = {RUMOR_WIRE_VERSION, RUMOR_WIRE_EVENT}, a[ID], b[ID], c[ID];
    memset(a, 0xa1, ID);
    memset(b, 0xb2, ID);
    memset(c, 0xc3, ID);
    /* x waits for a and b; y for a; z for c. */
    rumor_gossip_pend_t x = {.len = sizeof frame}, out[8];
    memset(x.from, 1, ID);
    memset(x.id, 0x01, ID);
    memcpy(x.missing[0], a, ID);
    memcpy(x.missing[1], b, ID);
    x.n_missing = 2;
    CHECK_EQ_INT(rumor_gossip_pending_add(&p, &x, frame, 100), RUMOR_OK);
    memset(x.from, 2, ID);
    memset(x.id, 0x02, ID);
    x.n_missing = 1;
    CHECK_EQ_INT(rumor_gossip_pending_add(&p, &x, frame, 100), RUMOR_OK);
    memset(x.from, 3, ID);
    memset(x.id, 0x03, ID);
    memcpy(x.missing[0], c, ID);
    CHECK_EQ_INT(rumor_gossip_pending_add(&p, &x, frame, 100), RUMOR_OK);
    /* Nobody waits for b alone: nothing leaves; a releases y, and x waits for b only now. */
    uint8_t none[ID];
    memset(none, 0xee, ID);
    CHECK_EQ_INT(rumor_gossip_pending_arrived(&p, none, out, 8), 0);
    CHECK_EQ_INT(rumor_gossip_pending_arrived(&p, a, out, 8), 1);
    CHECK_EQ_INT(out[0].id[0], 0x02);
    free(out[0].frame);
    CHECK_EQ_INT(p.n, 2);
    CHECK_EQ_INT(rumor_gossip_pending_arrived(&p, a, out, 8), 0); /* told once is enough */
    CHECK_EQ_INT(rumor_gossip_pending_arrived(&p, b, out, 8), 1);
    CHECK_EQ_INT(out[0].id[0], 0x01);
    free(out[0].frame);
    CHECK(rumor_gossip_pending_has(&p, x.id));
    /* A quarter per peer: peer 3 holds z, and may add one more of 8 (2 in all). */
    memcpy(x.missing[0], c, ID);
    memset(x.id, 0x04, ID);
    CHECK_EQ_INT(rumor_gossip_pending_add(&p, &x, frame, 150), RUMOR_OK);
    memset(x.id, 0x05, ID);
    CHECK_EQ_INT(rumor_gossip_pending_add(&p, &x, frame, 150), RUMOR_ERR_BUSY);
    /* Expiry: z (100) goes at 201 with a TTL of 100; the one of 150 stays, and c releases it. */
    CHECK_EQ_INT((int)rumor_gossip_pending_expire(&p, 201, 100), 1);
    CHECK_EQ_INT(rumor_gossip_pending_arrived(&p, c, out, 8), 1);
    CHECK_EQ_INT(out[0].id[0], 0x04);
    free(out[0].frame);
    CHECK_EQ_INT(p.n, 0);
    /* An id sharing a waited parent's 8-byte prefix releases nothing. */
    uint8_t twin[ID];
    memcpy(twin, a, ID);
    twin[31] ^= 1;
    memset(x.id, 0x06, ID);
    memcpy(x.missing[0], a, ID);
    x.n_missing = 1;
    CHECK_EQ_INT(rumor_gossip_pending_add(&p, &x, frame, 300), RUMOR_OK);
    CHECK_EQ_INT(rumor_gossip_pending_arrived(&p, twin, out, 8), 0);
    CHECK_EQ_INT(rumor_gossip_pending_arrived(&p, a, out, 8), 1);
    free(out[0].frame);
    /* Many waiting, many arriving: the index stays right through rebuilds. */
    for (int i = 0; i < 8; i++) {
        uint8_t par[ID];
        memset(par, 0x40 + i, ID);
        memset(x.from, 0x10 + i, ID);
        memset(x.id, 0x20 + i, ID);
        memcpy(x.missing[0], par, ID);
        x.n_missing = 1;
        CHECK_EQ_INT(rumor_gossip_pending_add(&p, &x, frame, 300), RUMOR_OK);
    }
    size_t released = 0;
    for (int i = 7; i >= 0; i--) {
        uint8_t par[ID];
        memset(par, 0x40 + i, ID);
        size_t k = rumor_gossip_pending_arrived(&p, par, out, 8);
        CHECK_EQ_INT(k, 1);
        for (size_t j = 0; j < k; j++) {
            CHECK_EQ_INT(out[j].id[0], 0x20 + i);
            free(out[j].frame);
        }
        released += k;
    }
    CHECK_EQ_INT(released, 8);
    rumor_gossip_pending_free(&p);
}

/* The seen cache: kept for the TTL, grows only as used, bounded by seen_max. */
static void test_seen(void)
{
    rumor_engine_t *e = engine(RUMOR_STRATEGY_GOSSIPSUB, 5);
    uint8_t id[ID];
    memset(id, 0x99, ID);
    rumor_engine_saw(e, id, 1000);
    CHECK(rumor_engine_seen(e, id));
    rumor_engine_tick(e, 1000 + 60001); /* half the TTL: one turn, still there */
    CHECK(rumor_engine_seen(e, id));
    rumor_engine_tick(e, 1000 + 120003);
    CHECK(!rumor_engine_seen(e, id));
    /* Up to seen_max / 2 ids are held in one generation (1024 slots, grown from 64). */
    uint8_t x[ID] = {0};
    for (uint32_t i = 1; i <= 512; i++) {
        rumor_put_u32(x, i);
        rumor_engine_saw(e, x, 200000);
    }
    size_t kept = 0;
    for (uint32_t i = 1; i <= 512; i++) {
        rumor_put_u32(x, i);
        kept += rumor_engine_seen(e, x);
    }
    CHECK_EQ_INT(kept, 512);
    /* Two more generations' worth: the first ones are forgotten. */
    for (uint32_t i = 513; i <= 1600; i++) {
        rumor_put_u32(x, i);
        rumor_engine_saw(e, x, 200000);
    }
    rumor_put_u32(x, 1);
    CHECK(!rumor_engine_seen(e, x));
    rumor_put_u32(x, 1600);
    CHECK(rumor_engine_seen(e, x));
    rumor_engine_free(&e);
}

/* Same inputs, same seed: the same actions, byte for byte. */
static void run_script(uint64_t s, uint8_t *log, size_t cap, size_t *len)
{
    uint8_t topic[ID], frame[40] = {RUMOR_WIRE_VERSION, RUMOR_WIRE_EVENT};
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x31, ID);
    rumor_engine_t *e = engine(RUMOR_STRATEGY_GOSSIPSUB, s);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 25, topic, h);
    *len = 0;
    uint64_t now = 0;
    for (int beat = 0; beat < 10; beat++) {
        uint8_t id[ID];
        memset(id, beat + 1, ID);
        rumor_engine_push(e, topic, frame, sizeof frame, h[beat]);
        rumor_engine_announce(e, topic, id);
        rumor_engine_peer_down(e, h[beat + 10]);
        rumor_engine_tick(e, now += 1000);
        rumor_engine_action_t a;
        while (rumor_engine_next(e, &a)) {
            if (*len + 8 + a.len > cap) break;
            rumor_put_u32(log + *len, a.peer);
            rumor_put_u32(log + *len + 4, (uint32_t)a.len);
            memcpy(log + *len + 8, a.buf, a.len);
            *len += 8 + a.len;
        }
    }
    rumor_engine_free(&e);
}

static void test_deterministic(void)
{
    static uint8_t a[1 << 20], b[1 << 20], c[1 << 20];
    size_t la, lb, lc;
    run_script(42, a, sizeof a, &la);
    run_script(42, b, sizeof b, &lb);
    run_script(43, c, sizeof c, &lc);
    CHECK(la > 1000);
    CHECK_EQ_INT(la, lb);
    CHECK_EQ_MEM(a, b, la);
    CHECK(la != lc || memcmp(a, c, la) != 0); /* the seed matters */
}

/* ---- peer scores (PROTOCOL.md 9.8) ---- */

/* Event `k`'s id: distinct for each k. */
static void event_id(uint32_t k, uint8_t id[ID])
{
    memset(id, 0xE0, ID);
    rumor_put_u32(id, k);
}

/* Runs `beats` heartbeats of 10 new events each, every one brought by each mesh peer not in
 * `quiet` (a set of handles, n_quiet of them); the first such peer's copy is the first. */
static void mesh_traffic(rumor_engine_t *e, const uint8_t topic[ID], const rumor_engine_peer_t *h,
                         size_t n, const rumor_engine_peer_t *quiet, size_t n_quiet, int beats,
                         uint64_t *now, uint32_t *k)
{
    uint8_t frame[64] = {RUMOR_WIRE_VERSION, RUMOR_WIRE_EVENT}, id[ID];
    for (int beat = 0; beat < beats; beat++) {
        for (int m = 0; m < 10; m++, (*k)++) {
            event_id(*k, id);
            bool first = true;
            for (size_t i = 0; i < n; i++) {
                bool silent = false;
                for (size_t q = 0; q < n_quiet; q++) silent |= quiet[q] == h[i];
                if (!rumor_engine_meshed(e, h[i]) || silent) continue;
                if (first) {
                    rumor_engine_saw(e, id, *now);
                    rumor_engine_push(e, topic, frame, sizeof frame, h[i]);
                    first = false;
                } else {
                    rumor_engine_duplicate(e, h[i], topic, id, *now);
                }
            }
        }
        rumor_engine_tick(e, *now += 1000);
        drain(e);
    }
}

/* A mesh that brings each event several times judges nobody: a peer that brings nothing may be
 * one that everything reaches through us first. A mesh that fails us (three of four places held
 * by peers that bring nothing of a busy topic) prunes them once their time to bring is over,
 * counted; they are not grafted back, and the peer that brings stays. */
static void test_score_withholder(void)
{
    uint8_t topic[ID];
    rumor_engine_peer_t h[PEERS], quiet[3];
    memset(topic, 0x31, ID);
    rumor_engine_t *e = engine_with(RUMOR_STRATEGY_GOSSIPSUB, 11, true);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 4, topic, h); /* below D_lo: all four grafted */
    drain(e);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 4);
    uint64_t now = 0;
    uint32_t k = 0;
    mesh_traffic(e, topic, h, 4, h, 1, 30, &now, &k); /* h[0] quiet, three bring: fine */
    CHECK(rumor_engine_meshed(e, h[0]));
    rumor_engine_score_t sc;
    CHECK(rumor_engine_score(e, h[0], &sc));
    CHECK(sc.p3 == 0.0);
    memcpy(quiet, h + 1, sizeof quiet); /* now three quiet, h[0] brings */
    mesh_traffic(e, topic, h, 4, quiet, 3, 1, &now, &k);
    for (int i = 1; i < 4; i++) CHECK(rumor_engine_meshed(e, h[i])); /* in the mesh for long */
    mesh_traffic(e, topic, h, 4, quiet, 3, 20, &now, &k);
    rumor_engine_counters_t c;
    rumor_engine_counters(e, &c);
    CHECK(c.pruned_by_score >= 3);
    CHECK(rumor_engine_meshed(e, h[0]));
    CHECK(rumor_engine_score(e, h[0], &sc));
    CHECK(sc.score > 0);
    CHECK(sc.p1 > 0);
    for (int i = 1; i < 4; i++) {
        CHECK(!rumor_engine_meshed(e, h[i]));
        CHECK(rumor_engine_score(e, h[i], &sc));
        CHECK(sc.score < 0);
        CHECK(sc.p3b > 0);
        CHECK(!rumor_engine_graylisted(e, h[i])); /* only its mesh place is lost */
    }
    rumor_engine_free(&e);
}

/* A PRUNE from a peer makes us wait its back-off before we graft it (its own GRAFT is welcome).
 * A peer we pruned that grafts inside our back-off pays for it (P7), is refused with PRUNE and
 * counted; after the back-off it is taken; a reconnect washes none of it. */
static void test_score_backoff(void)
{
    uint8_t topic[ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x32, ID);
    rumor_engine_t *e = engine_with(RUMOR_STRATEGY_GOSSIPSUB, 12, true);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 3, topic, h); /* below D_lo: all grafted at once */
    for (int i = 0; i < 3; i++) rumor_engine_peer_trust(e, h[i], true);
    drain(e);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 3);
    rumor_wire_frame_t pr = {.type = RUMOR_WIRE_PRUNE, .topic = topic};
    rumor_wire_frame_t g = {.type = RUMOR_WIRE_GRAFT, .topic = topic};
    rumor_engine_frame(e, h[0], &pr, 10000);
    reset_sent();
    rumor_engine_tick(e, 11000); /* below D_lo: fills, but not with h[0] */
    drain(e);
    CHECK_EQ_INT(sent[0].frames[RUMOR_WIRE_GRAFT], 0);
    CHECK(!rumor_engine_meshed(e, h[0]));
    rumor_engine_frame(e, h[0], &g, 12000); /* it changed its mind: taken, no penalty */
    drain(e);
    CHECK(rumor_engine_meshed(e, h[0]));
    rumor_engine_counters_t c;
    rumor_engine_counters(e, &c);
    CHECK_EQ_INT(c.backoff_grafts, 0);

    /* h[1] misbehaves: below score_graft, pruned at the heartbeat; its GRAFT then costs it. */
    rumor_engine_misbehaved(e, h[1]);
    rumor_engine_misbehaved(e, h[1]);
    uint64_t now = 13000;
    rumor_engine_tick(e, now);
    drain(e);
    CHECK(!rumor_engine_meshed(e, h[1]));
    reset_sent();
    rumor_engine_frame(e, h[1], &g, now + 1000);
    drain(e);
    CHECK_EQ_INT(sent[1].frames[RUMOR_WIRE_PRUNE], 1);
    rumor_engine_counters(e, &c);
    CHECK_EQ_INT(c.backoff_grafts, 1);
    rumor_engine_score_t sc;
    rumor_engine_score(e, h[1], &sc);
    CHECK(sc.p7 > 2);
    /* A reconnect washes nothing: still inside the back-off, its GRAFT costs it again. */
    uint8_t pk[ID];
    memset(pk, 2, ID);
    rumor_engine_peer_down(e, h[1]);
    h[1] = rumor_engine_peer_up(e, pk, &users[1]);
    rumor_engine_peer_topics(e, h[1], topic, 1);
    rumor_engine_peer_trust(e, h[1], true);
    reset_sent();
    rumor_engine_frame(e, h[1], &g, now + 2000);
    drain(e);
    CHECK_EQ_INT(sent[1].frames[RUMOR_WIRE_PRUNE], 1);
    rumor_engine_counters(e, &c);
    CHECK_EQ_INT(c.backoff_grafts, 2);
    /* Its penalties decay; once the back-off of its last refusal is over, it is grafted. */
    for (int i = 0; i < 90 && !rumor_engine_meshed(e, h[1]); i++) {
        rumor_engine_tick(e, now += 1000);
        drain(e);
    }
    CHECK(rumor_engine_meshed(e, h[1]));
    CHECK(now >= 13000 + 2000 + 60000);
    rumor_engine_free(&e);
}

/* Invalid events (P4, squared) graylist a peer: its frames are ignored (an IWANT is not served)
 * and nothing more is pushed to it. */
static void test_score_invalid(void)
{
    uint8_t topic[ID], frame[64] = {RUMOR_WIRE_VERSION, RUMOR_WIRE_EVENT}, id[ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x33, ID);
    rumor_engine_t *e = engine_with(RUMOR_STRATEGY_FLOOD, 13, true);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 3, topic, h);
    event_id(1, id);
    rumor_wire_frame_t w = {.type = RUMOR_WIRE_IWANT, .ids = id, .n = 1};
    reset_sent();
    rumor_engine_frame(e, h[1], &w, 0);
    drain(e);
    CHECK_EQ_INT(sent[1].serve, 1);
    rumor_engine_invalid(e, h[1]);
    rumor_engine_invalid(e, h[1]);
    CHECK(!rumor_engine_graylisted(e, h[1])); /* -40: no gossip, but frames still read */
    rumor_engine_invalid(e, h[1]);
    CHECK(rumor_engine_graylisted(e, h[1])); /* -90 */
    reset_sent();
    drain(e);
    CHECK_EQ_INT(sent[1].drops, 1); /* the caller drops it, once */
    rumor_engine_invalid(e, h[1]);
    rumor_engine_tick(e, 0);
    drain(e);
    CHECK_EQ_INT(sent[1].drops, 1);
    reset_sent();
    rumor_engine_frame(e, h[1], &w, 0);
    CHECK_EQ_INT(rumor_engine_push(e, topic, frame, sizeof frame, RUMOR_ENGINE_NONE), 2);
    drain(e);
    CHECK_EQ_INT(sent[1].serve, 0);
    CHECK_EQ_INT(sent[1].frames[RUMOR_WIRE_EVENT], 0);
    CHECK_EQ_INT(sent[2].frames[RUMOR_WIRE_EVENT], 1);
    /* Leaving and coming back does not wash it: a member's penalty is kept by key. */
    uint8_t pk[ID];
    memset(pk, 2, ID);
    rumor_engine_peer_trust(e, h[1], true);
    rumor_engine_peer_down(e, h[1]);
    h[1] = rumor_engine_peer_up(e, pk, &users[1]);
    CHECK(rumor_engine_graylisted(e, h[1]));
    /* It decays: ×0.99 a heartbeat, so three invalid events weigh below the graylist in a while. */
    uint64_t now = 0;
    int beats = 0;
    while (rumor_engine_graylisted(e, h[1]) && beats < 1000) {
        rumor_engine_tick(e, now += 1000);
        drain(e);
        beats++;
    }
    CHECK(beats > 5 && beats < 200);
    rumor_engine_free(&e);
}

/* An IHAVE whose ids do not come when asked for is a broken promise (P7), one a heartbeat at
 * most; a kept one costs nothing. */
static void test_score_promises(void)
{
    uint8_t topic[ID], ids[2 * ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x34, ID);
    rumor_engine_t *e = engine_with(RUMOR_STRATEGY_GOSSIPSUB, 14, true);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 2, topic, h);
    drain(e);
    held.n = 0;
    event_id(100, ids);
    event_id(101, ids + ID);
    rumor_wire_frame_t ih = {.type = RUMOR_WIRE_IHAVE, .topic = topic, .ids = ids, .n = 2};
    reset_sent();
    rumor_engine_frame(e, h[0], &ih, 0);
    rumor_engine_frame(e, h[1], &ih, 0);
    drain(e);
    CHECK_EQ_INT(sent[0].frames[RUMOR_WIRE_IWANT], 1);
    rumor_engine_saw(e, ids, 10); /* one came; the other never does */
    rumor_engine_tick(e, 1000);
    rumor_engine_tick(e, 2000);
    rumor_engine_tick(e, 3000);
    drain(e);
    rumor_engine_counters_t c;
    rumor_engine_counters(e, &c);
    CHECK_EQ_INT(c.broken_promises, 2); /* each peer once */
    rumor_engine_score_t sc;
    rumor_engine_score(e, h[0], &sc);
    CHECK(sc.p7 > 0.5);
    /* A liar that announces fresh ids every heartbeat pays every heartbeat, until its score is
     * below score_gossip and its IHAVEs go unasked. */
    uint64_t now = 3000;
    for (uint32_t k = 0; k < 20; k++) {
        event_id(1000 + k, ids);
        rumor_wire_frame_t lie = {.type = RUMOR_WIRE_IHAVE, .topic = topic, .ids = ids, .n = 1};
        rumor_engine_frame(e, h[1], &lie, now);
        rumor_engine_tick(e, now += 1000);
        drain(e);
    }
    rumor_engine_score(e, h[1], &sc);
    CHECK(sc.score < -5);
    rumor_engine_counters(e, &c);
    CHECK(c.broken_promises >= 5);
    rumor_engine_free(&e);
}

/* Members on one address (an IPv6 /64) beyond ip_max cost each of them (P6, squared); other
 * addresses and strangers do not. */
static void test_score_colocation(void)
{
    uint8_t topic[ID], a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, [15] = 1}, v6b[16];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x35, ID);
    rumor_engine_t *e = engine_with(RUMOR_STRATEGY_GOSSIPSUB, 15, true);
    peers_up(e, 14, topic, h);
    for (int i = 0; i < 6; i++) {
        rumor_engine_peer_addr(e, h[i], a, 4);
        rumor_engine_peer_trust(e, h[i], true);
    }
    rumor_engine_peer_addr(e, h[6], b, 4);
    rumor_engine_peer_trust(e, h[6], true);
    rumor_engine_score_t sc;
    rumor_engine_score(e, h[0], &sc);
    CHECK(sc.p6 == 4.0);     /* (6 - 4)^2 */
    CHECK(sc.score == -3.0); /* and P5 */
    rumor_engine_score(e, h[6], &sc);
    CHECK(sc.p6 == 0.0);
    CHECK(sc.p5 == 1.0);
    CHECK(sc.score == 1.0);
    /* Strangers on one address cost nobody (keys are free); members in one IPv6 /64 count. */
    for (int i = 7; i < 14; i++) rumor_engine_peer_addr(e, h[i], b, 4);
    rumor_engine_score(e, h[7], &sc);
    CHECK(sc.p6 == 0.0);
    rumor_engine_score(e, h[6], &sc);
    CHECK(sc.p6 == 0.0);
    for (int i = 7; i < 13; i++) {
        memcpy(v6b, v6a, 16);
        v6b[15] = (uint8_t)i; /* another host of the same /64 */
        rumor_engine_peer_addr(e, h[i], v6b, 16);
        rumor_engine_peer_trust(e, h[i], true);
    }
    rumor_engine_score(e, h[7], &sc);
    CHECK(sc.p6 == 4.0);
    rumor_engine_free(&e);
}

/* Tree repairs are due at a time the caller learns (next_expiry) and runs (expire) between
 * heartbeats; with none due, there is no expiry. */
static void test_expiry(void)
{
    uint8_t topic[ID], id[ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x37, ID);
    rumor_engine_t *e = engine(RUMOR_STRATEGY_TREE, 17);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 2, topic, h);
    drain(e);
    held.n = 0;
    CHECK(rumor_engine_next_expiry(e) == UINT64_MAX);
    event_id(7, id);
    rumor_wire_frame_t ih = {.type = RUMOR_WIRE_IHAVE, .topic = topic, .ids = id, .n = 1};
    rumor_engine_frame(e, h[1], &ih, 1000);
    CHECK(rumor_engine_next_expiry(e) == 1500); /* repair_ms later */
    reset_sent();
    rumor_engine_expire(e, 1499);
    drain(e);
    CHECK_EQ_INT(sent[1].frames[RUMOR_WIRE_IWANT], 0);
    rumor_engine_expire(e, 1500);
    drain(e);
    CHECK_EQ_INT(sent[1].frames[RUMOR_WIRE_IWANT], 1);
    CHECK_EQ_INT(sent[1].frames[RUMOR_WIRE_GRAFT], 1);
    CHECK(rumor_engine_next_expiry(e) == UINT64_MAX);
    rumor_engine_free(&e);
}

/* A full mesh refuses a GRAFT without a back-off: the peer may ask again, unpunished. A PRUNE
 * that answers our GRAFT is such a refusal: we ask again 10 s later, not 60 s. */
static void test_score_refusal(void)
{
    uint8_t topic[ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x38, ID);
    rumor_engine_t *e = engine_with(RUMOR_STRATEGY_GOSSIPSUB, 18, true);
    rumor_engine_topics(e, topic, 1);
    peers_up(e, 8, topic, h); /* four grafted at once (below D_lo) */
    rumor_wire_frame_t g = {.type = RUMOR_WIRE_GRAFT, .topic = topic};
    for (int i = 0; i < 8 && rumor_engine_mesh_size(e, topic) < 6; i++)
        if (!rumor_engine_meshed(e, h[i])) rumor_engine_frame(e, h[i], &g, 5000); /* to D */
    drain(e);
    CHECK_EQ_INT(rumor_engine_mesh_size(e, topic), 6);
    rumor_engine_peer_t out = RUMOR_ENGINE_NONE;
    for (int i = 0; i < 8 && out == RUMOR_ENGINE_NONE; i++)
        if (!rumor_engine_meshed(e, h[i])) out = h[i];
    for (int i = 0; i < 3; i++) {
        reset_sent();
        rumor_engine_frame(e, out, &g, 6000 + i);
        drain(e);
        CHECK_EQ_INT(sent[out].frames[RUMOR_WIRE_PRUNE], 1);
    }
    rumor_engine_counters_t c;
    rumor_engine_counters(e, &c);
    CHECK_EQ_INT(c.backoff_grafts, 0);
    rumor_engine_score_t sc;
    rumor_engine_score(e, out, &sc);
    CHECK(sc.p7 == 0.0);
    rumor_engine_free(&e);

    /* Our side: a mesh below D_lo grafts, is refused at once, and asks again 10 s later. */
    e = engine_with(RUMOR_STRATEGY_GOSSIPSUB, 19, true);
    rumor_engine_topics(e, topic, 1);
    reset_sent();
    rumor_engine_tick(e, 10000);
    peers_up(e, 1, topic, h); /* grafted at once (below D_lo) */
    drain(e);
    CHECK_EQ_INT(sent[0].frames[RUMOR_WIRE_GRAFT], 1);
    rumor_wire_frame_t pr = {.type = RUMOR_WIRE_PRUNE, .topic = topic};
    rumor_engine_frame(e, h[0], &pr, 10100);
    uint64_t now = 10100;
    while (!rumor_engine_meshed(e, h[0]) && now < 80000) {
        rumor_engine_tick(e, now += 1000);
        drain(e);
    }
    CHECK_EQ_INT(now, 20100); /* at the first heartbeat 10 s after the refusal */
    rumor_engine_free(&e);
}

/* With scoring off every peer scores 0 and nothing is graylisted. */
static void test_score_off(void)
{
    uint8_t topic[ID];
    rumor_engine_peer_t h[PEERS];
    memset(topic, 0x36, ID);
    rumor_engine_t *e = engine(RUMOR_STRATEGY_GOSSIPSUB, 16);
    peers_up(e, 2, topic, h);
    for (int i = 0; i < 10; i++) rumor_engine_invalid(e, h[0]);
    rumor_engine_score_t sc;
    CHECK(!rumor_engine_score(e, h[0], &sc));
    CHECK(sc.score == 0.0);
    CHECK(!rumor_engine_graylisted(e, h[0]));
    CHECK(!rumor_engine_wants_duplicates(e));
    rumor_engine_free(&e);
}

int main(void)
{
    if (rumor_crypto_init() != RUMOR_OK) return 2;
    RUN(test_mesh_degrees);
    RUN(test_push);
    RUN(test_ihave_iwant);
    RUN(test_tree);
    RUN(test_pending_release);
    RUN(test_seen);
    RUN(test_deterministic);
    RUN(test_score_withholder);
    RUN(test_score_backoff);
    RUN(test_score_invalid);
    RUN(test_score_promises);
    RUN(test_score_colocation);
    RUN(test_score_refusal);
    RUN(test_score_off);
    RUN(test_expiry);
    return test_report("test_engine");
}
