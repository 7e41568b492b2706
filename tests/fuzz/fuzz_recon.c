/*
 * fuzz_recon.c - libFuzzer target for anti-entropy (PROTOCOL.md 12): the
 * RECON, BATCH and CREDIT frames and the reconciliation engine (gossip/recon.c)
 * answering them from a real LMDB store.
 *
 * The store is made once at start-up: alice's top-level room with about a
 * hundred messages (some of them concurrent, so items share a lamport), a
 * non-private sub-room (the same key domain) and a private one (a domain of
 * its own). Inputs only read it.
 *
 * Input layout: ctl[1] ‖ frame.
 *   ctl & 0x01 replaces a RECON's topic by the seeded room's id, so the
 *              answer walks real items (the fuzzer could not guess the id);
 *   (ctl >> 1) & 0x07 is how many items a job walk takes per call (0: all),
 *              so walks stop and resume where they stopped.
 *
 * The frame goes through rumor_wire_decode (fuzz_frame checks refusals). Then:
 *   RECON:  rumor_recon_answer in a read transaction, with a sink whose job
 *           callback walks each job to its end with rumor_recon_job_walk and
 *           whose want callback checks what it is asked for. The answer must
 *           hold 1..RUMOR_RECON_RANGES_MAX ranges, encode (rumor_recon_frame,
 *           rumor_wire_encode) to at most RUMOR_WIRE_FRAME_MAX bytes, decode
 *           again to the same bytes, and, answered by the same store, end the
 *           exchange with nothing to send or ask (both sides hold one set).
 *   BATCH:  rumor_wire_batch_next walks exactly n entries of 1..RUMOR_EVENT_MAX
 *           bytes that fill the frame.
 *   CREDIT: n is 1..RUMOR_CREDIT_MAX.
 * A broken contract aborts so libFuzzer keeps the input.
 *
 * Everything random is made deterministic (see det_random_buf), so the store,
 * its ids and therefore the meaning of a saved input are the same in every
 * run and in the replay build.
 */
#include "det_random.h"
#include "rumor_gossip.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

/* The libFuzzer interface. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The replay driver's interface (replay_main.c): hands over each built-in seed. */
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

/* Bits of the ctl byte. */
#define CTL_ROOM         0x01
#define CTL_CHUNK_SHIFT  1
#define CTL_CHUNK_MASK   0x07
#define CTL_CHUNK(chunk) ((uint8_t)((chunk) << CTL_CHUNK_SHIFT))

/* The seeded history. */
#define ROOM_MESSAGES    100 /* messages in the room; every 10th has a concurrent sibling */
#define SUB_MESSAGES     8   /* in the non-private sub-room */
#define PRIVATE_MESSAGES 4   /* in the private sub-room */
#define ITEMS_MAX        256 /* capacity of the list of the room's domain items */

/* The wall clock every seeded event carries (informative only). */
#define FUZZ_TS UINT64_C(1700000000000)

/* Everything built once at start-up and shared by all inputs. */
static struct {
    char dir[PATH_MAX];                /* temporary directory of the store */
    rumor_store_t *store;              /* the seeded store */
    rumor_identity_t *alice;           /* author of every seeded event */
    uint8_t key[RUMOR_ROOM_KEY_BYTES]; /* the key of every box (ingest never opens them) */
    uint8_t room[ID];                  /* the top-level room: the topic of the seeds */
    uint8_t sub[ID];                   /* its non-private sub-room */
    uint8_t priv[ID];                  /* its private sub-room */
    rumor_bound_t items[ITEMS_MAX];    /* the room's domain items, in order */
    size_t n_items;
    uint8_t body[RUMOR_EVENT_MAX];
    uint8_t encoded[RUMOR_EVENT_MAX];
    /* Scratch of one input (large, so not on the stack). */
    rumor_wire_frame_t in, back, again;
    rumor_recon_msg_t answer, answer2;
    uint8_t frame[RUMOR_WIRE_FRAME_MAX], reencoded[RUMOR_WIRE_FRAME_MAX];
} world;

/* Stops the run so libFuzzer records the input: a contract of the library was broken. */
static void fuzz_fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_recon: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

/* ---- deterministic randomness ------------------------------------------- */

/* Randomness is deterministic (det_random.h), keyed by this target's name. */

/* ---- the seeded store ----------------------------------------------------- */

/* Signs an event of alice's with the given parents and clock; a box of `text` when not NULL. */
static size_t make_event(uint8_t type, const uint8_t room[ID], const uint8_t *parents,
                         uint8_t n_parents, uint64_t lamport, const uint8_t *plain,
                         size_t plain_len, const void *text, size_t text_len)
{
    uint8_t ad[RUMOR_EVENT_AD_BYTES];
    rumor_event_draft_t d = {.type = type,
                             .ts = FUZZ_TS,
                             .lamport = lamport,
                             .n_parents = n_parents,
                             .parents = parents};
    memcpy(d.room, room, ID);
    if (plain_len) memcpy(world.body, plain, plain_len);
    d.body_len = plain_len;
    if (text) {
        size_t box_len = 0;
        rumor_event_ad(ad, type, room, rumor_identity_public(world.alice));
        int rc = rumor_box_seal(world.body + d.body_len, sizeof world.body - d.body_len, &box_len,
                                world.key, ad, sizeof ad, text, text_len);
        if (rc < 0) fuzz_fail("cannot seal a seeded box", rc);
        d.body_len += box_len;
    }
    d.body = world.body;
    size_t len = 0;
    int rc = rumor_event_encode(world.encoded, sizeof world.encoded, &len, NULL, &d, world.alice);
    if (rc < 0) fuzz_fail("cannot encode a seeded event", rc);
    return len;
}

/* Ingests the event in world.encoded for good; `id` (may be NULL) gets its id. */
static void seed_ingest(rumor_txn_t *t, size_t len, uint8_t id[ID])
{
    rumor_event_t ev;
    int rc = rumor_gossip_ingest(t, NULL, world.encoded, len, &ev, NULL);
    if (rc < 0) fuzz_fail("a seeded event does not validate", rc);
    if (id) memcpy(id, ev.id, ID);
}

/* A ROOM_CREATE under `parent` (zero: top level), as its first event there. */
static void seed_create(rumor_txn_t *t, const uint8_t parent[ID], bool is_private, const char *name,
                        uint8_t id[ID])
{
    static const uint8_t zero[ID];
    uint8_t parents[RUMOR_MAX_PARENTS * ID], n = 0,
                                             flags = is_private ? RUMOR_ROOM_FLAG_PRIVATE : 0;
    uint64_t lamport = 1;
    if (memcmp(parent, zero, ID) != 0) {
        int rc = rumor_gossip_next_parents(t, parent, parents, &n, &lamport);
        if (rc < 0) fuzz_fail("no heads for a seeded create", rc);
    }
    uint8_t text[1 + 32];
    size_t nl = strlen(name);
    text[0] = (uint8_t)nl;
    memcpy(text + 1, name, nl);
    size_t len =
        make_event(RUMOR_EV_ROOM_CREATE, parent, parents, n, lamport, &flags, 1, text, 1 + nl);
    seed_ingest(t, len, id);
}

/* `count` messages in `room`; with `siblings`, every 10th comes with a concurrent one. */
static void seed_messages(rumor_txn_t *t, const uint8_t room[ID], int count, bool siblings)
{
    for (int i = 0; i < count; i++) {
        uint8_t parents[RUMOR_MAX_PARENTS * ID], n = 0;
        uint64_t lamport = 0;
        char text[32];
        int rc = rumor_gossip_next_parents(t, room, parents, &n, &lamport);
        if (rc < 0) fuzz_fail("no heads for a seeded message", rc);
        int copies = siblings && i % 10 == 9 ? 2 : 1;
        /* Both copies name the same heads, so they carry the same lamport. */
        for (int c = 0; c < copies; c++) {
            int tl = snprintf(text, sizeof text, "message %d.%d", i, c);
            size_t len =
                make_event(RUMOR_EV_MESSAGE, room, parents, n, lamport, NULL, 0, text, (size_t)tl);
            seed_ingest(t, len, NULL);
        }
    }
}

static int seed_store(rumor_txn_t *t, void *ctx)
{
    static const uint8_t zero[ID];
    (void)ctx;
    seed_create(t, zero, false, "lan", world.room);
    seed_messages(t, world.room, ROOM_MESSAGES / 2, true);
    seed_create(t, world.room, false, "general", world.sub);
    seed_messages(t, world.sub, SUB_MESSAGES, false);
    seed_create(t, world.room, true, "secret", world.priv);
    seed_messages(t, world.priv, PRIVATE_MESSAGES, false);
    seed_messages(t, world.room, ROOM_MESSAGES - ROOM_MESSAGES / 2, true);
    return RUMOR_OK;
}

static int list_item(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    (void)ctx;
    if (world.n_items == ITEMS_MAX) fuzz_fail("more seeded items than expected", RUMOR_ERR_STORE);
    world.items[world.n_items].lamport = lamport;
    memcpy(world.items[world.n_items++].id, id, ID);
    return 0;
}

/* ---- one input ------------------------------------------------------------ */

/* What the sink of one answer sees. */
typedef struct {
    rumor_txn_t *t;
    const uint8_t *topic;
    unsigned chunk; /* items per job walk call (0: all) */
    bool strict;    /* answering our own answer: nothing may be queued or asked for */
    /* the job being walked */
    const rumor_recon_job_t *job;
    size_t taken_now; /* items taken by the current walk call */
    size_t taken;     /* items taken by the job so far */
    rumor_bound_t last;
} sink_t;

static bool is_listed(const uint8_t *ids, size_t k, const uint8_t id[ID])
{
    for (size_t i = 0; i < k; i++)
        if (memcmp(ids + i * ID, id, ID) == 0) return true;
    return false;
}

/* One item a job sends: in its range, not listed by the peer, after the one before. */
static int take_item(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    sink_t *s = ctx;
    const rumor_recon_job_t *j = s->job;
    if (s->chunk && s->taken_now == s->chunk) return 1; /* stop here; the next call resumes */
    rumor_bound_t b = {.lamport = lamport};
    memcpy(b.id, id, ID);
    if (rumor_bound_cmp(&b, &j->lo) < 0 ||
        (!rumor_bound_is_top(&j->hi) && rumor_bound_cmp(&b, &j->hi) >= 0))
        fuzz_fail("a job walked an item outside its range", RUMOR_OK);
    if (is_listed(j->excl, j->n_excl, id) != j->only)
        fuzz_fail(j->only ? "a job walked an item the peer did not ask for"
                          : "a job walked an item the peer listed",
                  0);
    if (s->taken && rumor_bound_cmp(&b, &s->last) <= 0)
        fuzz_fail("a job walked items out of order or twice", RUMOR_OK);
    if (++s->taken > j->total) fuzz_fail("a job walked more items than it counted", RUMOR_OK);
    s->last = b;
    s->taken_now++;
    return 0;
}

static int on_job(void *ctx, const rumor_recon_job_t *job)
{
    sink_t *s = ctx;
    if (s->strict) fuzz_fail("our own answer queued events for us", RUMOR_OK);
    if (memcmp(job->topic, s->topic, ID) != 0) fuzz_fail("a job for another topic", RUMOR_OK);
    if (job->total == 0 || job->sent || job->started || job->n_excl > RUMOR_RECON_IDS_MAX)
        fuzz_fail("a job starts in a bad state", RUMOR_OK);
    if (!rumor_bound_is_top(&job->hi) && rumor_bound_cmp(&job->lo, &job->hi) >= 0)
        fuzz_fail("a job with an empty range", RUMOR_OK);

    /* The callee keeps a copy and walks it, maybe over many calls. */
    rumor_recon_job_t j = *job;
    s->job = &j;
    s->taken = 0;
    bool done = false;
    for (uint64_t calls = 0; !done; calls++) {
        if (calls > (uint64_t)job->total + 1) fuzz_fail("a job walk does not end", RUMOR_OK);
        s->taken_now = 0;
        int rc = rumor_recon_job_walk(s->t, &j, take_item, s, &done);
        if (rc < 0) fuzz_fail("a job walk failed", rc);
        if (!done && s->taken_now == 0) fuzz_fail("a job walk stopped without progress", rc);
    }
    if (s->taken != job->total || j.sent != job->total)
        fuzz_fail("a job sent a different count than it counted", RUMOR_OK);
    s->job = NULL;
    return RUMOR_OK;
}

static void on_want(void *ctx, const uint8_t *ids, size_t n)
{
    sink_t *s = ctx;
    if (s->strict) fuzz_fail("our own answer made us ask for events", RUMOR_OK);
    if (n == 0 || n > RUMOR_RECON_IDS_MAX) fuzz_fail("asked for too many (or no) ids", (int)n);
    for (size_t i = 0; i < n; i++)
        if (rumor_store_event_has(s->t, ids + i * ID))
            fuzz_fail("asked for an event we hold", RUMOR_OK);
}

/* Encodes an answer; it must fit a frame and decode to the same bytes into `back`. */
static size_t encode_answer(const rumor_recon_msg_t *m, rumor_wire_frame_t *back)
{
    rumor_wire_frame_t f;
    rumor_recon_frame(m, &f);
    size_t len = rumor_wire_encode(&f, world.frame, sizeof world.frame);
    if (len == 0 || len > RUMOR_WIRE_FRAME_MAX) fuzz_fail("an answer does not encode", (int)len);
    int rc = rumor_wire_decode(world.frame, len, back);
    if (rc != RUMOR_OK) fuzz_fail("an encoded answer does not decode", rc);
    if (back->n != m->n || back->round != m->round || memcmp(back->topic, m->topic, ID) != 0 ||
        rumor_wire_encode(back, world.reencoded, sizeof world.reencoded) != len ||
        memcmp(world.reencoded, world.frame, len) != 0)
        fuzz_fail("an encoded answer decodes differently", RUMOR_OK);
    return len;
}

static void check_recon(rumor_wire_frame_t *in, uint8_t ctl)
{
    if (ctl & CTL_ROOM) in->topic = world.room;
    rumor_txn_t *t = NULL;
    int rc = rumor_store_read_begin(world.store, &t);
    if (rc < 0) fuzz_fail("cannot read the store", rc);

    sink_t s = {.t = t, .topic = in->topic, .chunk = (ctl >> CTL_CHUNK_SHIFT) & CTL_CHUNK_MASK};
    rumor_recon_sink_t sink = {on_job, on_want, &s};
    rumor_recon_msg_t *out = &world.answer;
    rc = rumor_recon_answer(t, in, out, &sink);
    if (rc != 0 && rc != 1) fuzz_fail("unexpected answer result", rc);
    if (out->n == 0 || out->n > RUMOR_RECON_RANGES_MAX)
        fuzz_fail("an answer with too many (or no) ranges", (int)out->n);
    if (out->round != (uint8_t)(in->round + 1) || memcmp(out->topic, in->topic, ID) != 0)
        fuzz_fail("an answer with the wrong round or topic", RUMOR_OK);
    if (rc == 0 && (out->n != 1 || out->r[0].mode != RUMOR_RECON_SKIP))
        fuzz_fail("an exchange ended with ranges left to settle", RUMOR_OK);
    encode_answer(out, &world.back);

    /* The same store on the other side holds the same set: everything settles at once. */
    sink_t s2 = {.t = t, .topic = in->topic, .strict = true};
    rumor_recon_sink_t sink2 = {on_job, on_want, &s2};
    rc = rumor_recon_answer(t, &world.back, &world.answer2, &sink2);
    if (rc != 0) fuzz_fail("our own answer does not end the exchange", rc);
    encode_answer(&world.answer2, &world.again);
    rumor_store_read_end(&t);
}

static void check_batch(const rumor_wire_frame_t *f)
{
    size_t pos = 0, count = 0, len = 0;
    const uint8_t *ev = NULL;
    while (rumor_wire_batch_next(f, &pos, &ev, &len)) {
        if (++count > f->n) fuzz_fail("a BATCH holds more entries than it counts", (int)count);
        if (len < 1 || len > RUMOR_EVENT_MAX) fuzz_fail("a BATCH entry of a bad length", (int)len);
        if (ev < f->event || len > (size_t)(f->event + f->event_len - ev))
            fuzz_fail("a BATCH entry points outside the frame", RUMOR_OK);
    }
    if (count != f->n || pos != f->event_len)
        fuzz_fail("a BATCH walk does not cover its entries", (int)count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    rumor_wire_frame_t *f = &world.in;
    if (rumor_wire_decode(data + 1, size - 1, f) != RUMOR_OK) return 0;
    switch (f->type) {
    case RUMOR_WIRE_RECON: check_recon(f, data[0]); break;
    case RUMOR_WIRE_BATCH: check_batch(f); break;
    case RUMOR_WIRE_CREDIT:
        if (f->n < 1 || f->n > RUMOR_CREDIT_MAX) fuzz_fail("a CREDIT out of range", (int)f->n);
        break;
    default: break;
    }
    return 0;
}

/* ---- start-up and seeds ----------------------------------------------------- */

static void remove_world(void)
{
    rumor_store_close(&world.store);
    if (world.dir[0]) {
        static const char *const files[] = {"data.mdb", "lock.mdb"};
        char path[PATH_MAX + 16];
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", world.dir, files[i]);
            unlink(path);
        }
        rmdir(world.dir);
        world.dir[0] = '\0';
    }
    rumor_identity_destroy(&world.alice);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Must precede sodium_init (inside rumor_crypto_init), which fixes the random source. */
    det_random_label("rumor fuzz_recon random stream");
    if (randombytes_set_implementation(&det_random) != 0 || rumor_crypto_init() < 0)
        fuzz_fail("cannot initialise libsodium", RUMOR_ERR_CRYPTO);

    const char *tmp = getenv("TMPDIR");
    snprintf(world.dir, sizeof world.dir, "%s/rumor-fuzz-recon-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(world.dir)) {
        world.dir[0] = '\0';
        fuzz_fail("cannot make a temporary directory", RUMOR_ERR_IO);
    }
    atexit(remove_world);
    int rc = rumor_store_open(world.dir, NULL, &world.store);
    if (rc < 0) fuzz_fail("cannot open the store", rc);

    uint8_t seed[RUMOR_SEED_BYTES];
    static const char label[] = "fuzz_recon alice";
    rumor_crypto_hash(seed, (const uint8_t *)label, sizeof label - 1);
    if ((rc = rumor_identity_from_seed(seed, &world.alice)) < 0)
        fuzz_fail("cannot make an identity", rc);
    static const char key_label[] = "fuzz_recon room key";
    rumor_crypto_hash(world.key, (const uint8_t *)key_label, sizeof key_label - 1);
    if ((rc = rumor_store_write(world.store, seed_store, NULL)) < 0)
        fuzz_fail("cannot seed the store", rc);

    rumor_txn_t *t;
    static const uint8_t zero[ID];
    if ((rc = rumor_store_read_begin(world.store, &t)) < 0) fuzz_fail("cannot read the store", rc);
    rc = rumor_store_dlog_from(t, world.room, 0, zero, list_item, NULL);
    rumor_store_read_end(&t);
    if (rc < 0) fuzz_fail("cannot list the room's items", rc);
    /* The create, the messages and their siblings, the sub-room's create and messages, and the
     * private room's create (which is in both domains). */
    size_t expect = 1 + ROOM_MESSAGES + ROOM_MESSAGES / 10 + 1 + SUB_MESSAGES + 1;
    if (world.n_items != expect) fuzz_fail("the room's set is not what was seeded", rc);
    return 0;
}

/* Emits ctl ‖ the encoding of `f` under `name`. */
static void emit_frame(fuzz_seed_fn emit, void *ctx, const char *name, uint8_t ctl,
                       const rumor_wire_frame_t *f)
{
    static uint8_t buf[1 + RUMOR_WIRE_FRAME_MAX];
    buf[0] = ctl;
    size_t n = rumor_wire_encode(f, buf + 1, sizeof buf - 1);
    if (n == 0) fuzz_fail("cannot encode a seed frame", RUMOR_ERR_INVALID);
    emit(ctx, name, buf, 1 + n);
}

static void emit_msg(fuzz_seed_fn emit, void *ctx, const char *name, uint8_t ctl,
                     const rumor_recon_msg_t *m)
{
    rumor_wire_frame_t f;
    rumor_recon_frame(m, &f);
    emit_frame(emit, ctx, name, ctl, &f);
}

/*
 * What the seeds are built in: apart from the scratch of one input, since the
 * replay driver runs each seed as it is handed over.
 */
static struct {
    rumor_recon_range_t r[RUMOR_RECON_RANGES_MAX];
    rumor_recon_msg_t msg;
    uint8_t ids[RUMOR_RECON_FRAME_IDS * ID];
    uint8_t entries[RUMOR_WIRE_FRAME_MAX];
} seeds;

/* A RECON of `n` ranges about `topic` in `f`, its ranges zeroed for the caller to fill. */
static rumor_recon_range_t *recon_start(rumor_wire_frame_t *f, const uint8_t *topic, size_t n)
{
    memset(seeds.r, 0, sizeof seeds.r);
    *f = (rumor_wire_frame_t){.type = RUMOR_WIRE_RECON, .topic = topic, .n = n, .ranges = seeds.r};
    return seeds.r;
}

/*
 * The built-in seeds (LLVMFuzzerInitialize must have run): RECON frames over
 * the seeded room's real bounds and ids, the store's own opening and answers,
 * a BATCH of real events and a CREDIT.
 */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    static const uint8_t zero[ID];
    uint8_t *ids = seeds.ids;
    uint8_t other[ID];
    memset(other, 0x77, ID);
    rumor_wire_frame_t f;
    rumor_recon_range_t *g;
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(world.store, &t);
    if (rc < 0) fuzz_fail("cannot read the store", rc);
    rumor_recon_sink_t none = {NULL, NULL, NULL};

    /* The store's own opening: 16 fingerprints at real bounds. Forced and chunked too. */
    if ((rc = rumor_recon_open(t, world.room, &seeds.msg)) < 0) fuzz_fail("cannot open", rc);
    emit_msg(emit, ctx, "seed-open-16", 0, &seeds.msg);
    memcpy(seeds.msg.topic, zero, ID);
    emit_msg(emit, ctx, "seed-open-forced-chunk-3", CTL_ROOM | CTL_CHUNK(3), &seeds.msg);

    /* One IDS range at the top bound, empty: "send me everything" (one job of it all). */
    g = recon_start(&f, world.room, 1);
    rumor_bound_top(&g[0].upper);
    g[0].mode = RUMOR_RECON_IDS;
    emit_frame(emit, ctx, "seed-ids-top-empty", CTL_CHUNK(1), &f);

    /* One IDS range at the top bound of 64 ids: 60 of ours (skipping some) and 4 we lack. */
    g = recon_start(&f, world.room, 1);
    rumor_bound_top(&g[0].upper);
    g[0].mode = RUMOR_RECON_IDS;
    g[0].k = RUMOR_RECON_IDS_MAX;
    g[0].ids = ids;
    for (size_t i = 0; i < 60; i++) memcpy(ids + i * ID, world.items[2 * i].id, ID);
    for (size_t i = 60; i < RUMOR_RECON_IDS_MAX; i++) memset(ids + i * ID, (int)(0xe0 + i), ID);
    emit_frame(emit, ctx, "seed-ids-top-64", CTL_CHUNK(5), &f);

    /* 16 fingerprint ranges at real bounds that match nothing: cut, listed or settled. */
    g = recon_start(&f, world.room, RUMOR_RECON_SPLIT);
    for (size_t i = 0; i < RUMOR_RECON_SPLIT; i++) {
        g[i].upper = world.items[(i + 1) * world.n_items / (RUMOR_RECON_SPLIT + 1)];
        g[i].mode = RUMOR_RECON_FINGERPRINT;
        g[i].count = i == 3 ? 0 : (uint32_t)(40 + i); /* count 0: "I hold nothing here" */
        memset(g[i].fp, (int)(0x10 + i), sizeof g[i].fp);
    }
    rumor_bound_top(&g[RUMOR_RECON_SPLIT - 1].upper);
    emit_frame(emit, ctx, "seed-fp-16", 0, &f);
    f.topic = other;
    emit_frame(emit, ctx, "seed-fp-16-other-topic", 0, &f);
    f.topic = world.room;
    /* And the store's answer to that (round 1): what the fuzzer's peer would get back. */
    if ((rc = rumor_recon_answer(t, &f, &seeds.msg, &none)) < 0) fuzz_fail("cannot answer", rc);
    emit_msg(emit, ctx, "seed-fp-16-answer", CTL_CHUNK(2), &seeds.msg);

    /* 64 fingerprints that match nothing (the hostile test): the answer must stay in a frame. */
    g = recon_start(&f, world.room, RUMOR_RECON_RANGES_MAX);
    for (size_t i = 0; i < RUMOR_RECON_RANGES_MAX; i++) {
        g[i].upper.lamport = 2 * i + 2;
        g[i].mode = RUMOR_RECON_FINGERPRINT;
        g[i].count = 7;
        memset(g[i].fp, 0x5a, sizeof g[i].fp);
    }
    rumor_bound_top(&g[RUMOR_RECON_RANGES_MAX - 1].upper);
    emit_frame(emit, ctx, "seed-fp-64", 0, &f);

    /* The most ids a frame holds: 16 IDS ranges of 64, ours and unknown ones, at real bounds. */
    g = recon_start(&f, world.room, RUMOR_RECON_SPLIT);
    for (size_t i = 0; i < RUMOR_RECON_SPLIT; i++) {
        g[i].upper = world.items[(i + 1) * world.n_items / (RUMOR_RECON_SPLIT + 1)];
        g[i].mode = RUMOR_RECON_IDS;
        g[i].k = RUMOR_RECON_IDS_MAX;
        g[i].ids = ids + i * RUMOR_RECON_IDS_MAX * ID;
        for (size_t j = 0; j < RUMOR_RECON_IDS_MAX; j++) {
            uint8_t *id = ids + (i * RUMOR_RECON_IDS_MAX + j) * ID;
            if (j % 2)
                memcpy(id, world.items[(i * 7 + j) % world.n_items].id, ID);
            else
                memset(id, (int)(i * 16 + j / 2), ID);
        }
    }
    rumor_bound_top(&g[RUMOR_RECON_SPLIT - 1].upper);
    emit_frame(emit, ctx, "seed-ids-1024", CTL_CHUNK(7), &f);

    /* Every mode in one frame, and a lone SKIP (which ends the exchange). */
    g = recon_start(&f, zero, 4);
    g[0].upper = world.items[10];
    g[0].mode = RUMOR_RECON_SKIP;
    g[1].upper = world.items[40];
    g[1].mode = RUMOR_RECON_FINGERPRINT;
    g[1].count = 30;
    g[2].upper = world.items[50];
    g[2].mode = RUMOR_RECON_IDS;
    g[2].k = 5;
    g[2].ids = ids;
    for (size_t i = 0; i < 5; i++) memcpy(ids + i * ID, world.items[40 + 2 * i].id, ID);
    rumor_bound_top(&g[3].upper);
    g[3].mode = RUMOR_RECON_FINGERPRINT;
    g[3].count = 1;
    emit_frame(emit, ctx, "seed-modes-forced", CTL_ROOM, &f);
    g = recon_start(&f, world.room, 1);
    rumor_bound_top(&g[0].upper);
    emit_frame(emit, ctx, "seed-skip", 0, &f);

    /* A BATCH of the room's first three events, as a catch-up sends them. */
    size_t used = 0;
    for (size_t i = 0; i < 3; i++) {
        const uint8_t *ev;
        size_t len;
        if ((rc = rumor_store_event_get(t, world.items[i].id, &ev, &len)) < 0)
            fuzz_fail("a seeded event is missing", rc);
        rumor_put_u32(seeds.entries + used, (uint32_t)len);
        memcpy(seeds.entries + used + RUMOR_BATCH_ENTRY_BYTES, ev, len);
        used += RUMOR_BATCH_ENTRY_BYTES + len;
    }
    rumor_store_read_end(&t);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_BATCH,
                             .topic = world.room,
                             .remaining = 118,
                             .n = 3,
                             .event = seeds.entries,
                             .event_len = used};
    emit_frame(emit, ctx, "seed-batch-3", 0, &f);
    f = (rumor_wire_frame_t){.type = RUMOR_WIRE_CREDIT, .n = 8};
    emit_frame(emit, ctx, "seed-credit", 0, &f);
}
