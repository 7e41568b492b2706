/*
 * bench_ingest.c - how fast one core takes in chat messages, against how
 * fast it can check their signatures.
 *
 * It pre-generates a valid history: alice creates a top-level room and adds
 * the other authors as members (with real sealed key grants), then the
 * authors post N MESSAGE events of ~100 bytes of text in turn, each naming
 * the room's heads as parents. The events are made by ingesting them into a
 * scratch store, keeping their encoded bytes. Then, on one thread pinned to
 * one CPU, it measures:
 *
 *   (a) crypto_sign_verify_detached over each event's signed bytes: the
 *       ceiling, since every new event needs one signature check;
 *   (b) the ingest path into a fresh LMDB store: per event
 *       rumor_gossip_ingest (decode, duplicate check, signature, causality,
 *       rules, store) and rumor_box_open with the room key, as a member
 *       displaying it would; B events per write transaction, committed as a
 *       node commits events from peers (RUMOR_STORE_BATCH: pages synced, meta
 *       page not), or with --durable as it commits its own sends (every
 *       commit fully synced);
 *
 * and, to show where the time goes, decode alone, box opening alone, and the
 * commit cost per batch. It prints figures and never judges them: (b)/(a)
 * is printed against the 70% target for the reader to compare. Each figure
 * is the best of --runs runs, in wall time and in process CPU time.
 */
#define _GNU_SOURCE /* sched_getcpu, sched_setaffinity */

#include "rumor_gossip.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

#define DEFAULT_EVENTS  20000
#define DEFAULT_BATCH   256
#define DEFAULT_AUTHORS 4
#define DEFAULT_RUNS    3
/* Bounds on the options, to refuse typos rather than to allocate gigabytes. */
#define MAX_EVENTS  10000000
#define MAX_BATCH   1000000
#define MAX_AUTHORS 64
#define MAX_RUNS    100
/* Plaintext bytes of every message. */
#define TEXT_BYTES 100
/* The ratio (b)/(a) the ingest path aims for, in percent. */
#define TARGET_PERCENT 70.0
/* The author whose node receives the history: a member, not the creator, so its key was granted. */
#define RECEIVER 1
/* Events per transaction while generating the history (not timed). */
#define GENERATE_BATCH 1024
/*
 * Map bytes reserved per event in the timed store: generous, so that no
 * batch is rolled back and rerun to grow the map while the clock runs.
 */
#define MAP_BYTES_PER_EVENT 4096
/* The wall clock the events carry (informative only). */
#define BENCH_TS UINT64_C(1700000000000)

/* ---- clocks --------------------------------------------------------------- */

/* A moment, or a duration, on both clocks, in seconds. */
typedef struct {
    double wall; /* CLOCK_MONOTONIC */
    double cpu;  /* CLOCK_PROCESS_CPUTIME_ID: user + system time of this process */
} times_t;

static double read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_now(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

static times_t times_now(void)
{
    return (times_t){wall_now(), read_clock(CLOCK_PROCESS_CPUTIME_ID)};
}

static times_t times_since(times_t start)
{
    times_t now = times_now();
    return (times_t){now.wall - start.wall, now.cpu - start.cpu};
}

static void times_add(times_t *sum, times_t d)
{
    sum->wall += d.wall;
    sum->cpu += d.cpu;
}

/* Keeps the faster of two measurements of the same work, clock by clock. */
static void times_best(times_t *best, times_t d)
{
    if (best->wall == 0 || d.wall < best->wall) best->wall = d.wall;
    if (best->cpu == 0 || d.cpu < best->cpu) best->cpu = d.cpu;
}

/* ---- failures and temporary stores ---------------------------------------- */

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_ingest: %s: %s\n", what, rumor_strerror(rc));
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) die("allocating", RUMOR_ERR_NOMEM);
    return p;
}

/* A store in a directory of its own, removed with it. */
typedef struct {
    char dir[PATH_MAX];
    rumor_store_t *store;
} temp_store_t;

static void temp_store_open(temp_store_t *ts, const char *parent, size_t map_bytes)
{
    rumor_store_options_t opt = {.initial_map_bytes = map_bytes};
    if (snprintf(ts->dir, sizeof ts->dir, "%s/rumor-bench-XXXXXX", parent) >= (int)sizeof ts->dir)
        die("temporary directory name", RUMOR_ERR_INVALID);
    if (!mkdtemp(ts->dir)) {
        fprintf(stderr, "bench_ingest: mkdtemp in %s: %s\n", parent, strerror(errno));
        exit(1);
    }
    int rc = rumor_store_open(ts->dir, &opt, &ts->store);
    if (rc < 0) die("opening the store", rc);
}

static void temp_store_remove(temp_store_t *ts)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[PATH_MAX + 16];
    rumor_store_close(&ts->store);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", ts->dir, files[i]);
        unlink(path);
    }
    rmdir(ts->dir);
}

/* ---- the history ---------------------------------------------------------- */

/* Encoded events, back to back in one buffer. */
typedef struct {
    uint8_t *bytes; /* all events */
    size_t used;    /* bytes filled */
    size_t cap;     /* bytes allocated */
    size_t *offset; /* start of event i */
    size_t *len;    /* length of event i */
    size_t n;       /* events kept */
} history_t;

static void history_init(history_t *h, size_t events, size_t bytes_each)
{
    h->cap = events * bytes_each;
    h->bytes = xmalloc(h->cap);
    h->offset = xmalloc(events * sizeof *h->offset);
    h->len = xmalloc(events * sizeof *h->len);
    h->used = h->n = 0;
}

static void history_free(history_t *h)
{
    free(h->bytes);
    free(h->offset);
    free(h->len);
}

static const uint8_t *history_event(const history_t *h, size_t i)
{
    return h->bytes + h->offset[i];
}

/* Forgets events n and later: a batch that was rolled back is made again. */
static void history_truncate(history_t *h, size_t n)
{
    h->used = n ? h->offset[n - 1] + h->len[n - 1] : 0;
    h->n = n;
}

static void history_keep(history_t *h, const uint8_t *ev, size_t len)
{
    if (h->cap - h->used < len) {
        h->cap = 2 * h->cap + len;
        uint8_t *grown = realloc(h->bytes, h->cap);
        if (!grown) die("allocating", RUMOR_ERR_NOMEM);
        h->bytes = grown;
    }
    memcpy(h->bytes + h->used, ev, len);
    h->offset[h->n] = h->used;
    h->len[h->n] = len;
    h->used += len;
    h->n++;
}

/* Who writes, and the room they write in. */
typedef struct {
    rumor_identity_t **authors; /* authors[0] (alice) creates the room; all are members */
    int n_authors;
    uint8_t *room_key;  /* sodium_malloc'd: the room's epoch-0 key */
    uint8_t room[ID];   /* the room, once created */
    history_t setup;    /* create + member adds: ingested before timing */
    history_t messages; /* the N timed MESSAGE events */
} world_t;

/*
 * Signs an event of `type` in the world's room (or, for ROOM_CREATE, a new
 * top-level room) with the room's heads as parents and body plain ‖
 * box(text), ingests it into `t` and keeps its bytes in `h`. Returns the
 * ingest result: a store error such as a full map goes back to
 * rumor_store_write, which grows the map and runs the batch again.
 */
static int post(rumor_txn_t *t, world_t *w, history_t *h, const rumor_identity_t *author,
                uint8_t type, const uint8_t *plain, size_t plain_len, const uint8_t *text,
                size_t text_len)
{
    static uint8_t body[RUMOR_EVENT_MAX], out[RUMOR_EVENT_MAX];
    uint8_t parents[RUMOR_MAX_PARENTS * ID], ad[RUMOR_EVENT_AD_BYTES];
    rumor_event_draft_t d = {.type = type, .ts = BENCH_TS, .lamport = 1};
    bool top_create = type == RUMOR_EV_ROOM_CREATE;
    size_t box_len = 0, len;
    int rc;

    if (!top_create) {
        memcpy(d.room, w->room, ID);
        if ((rc = rumor_gossip_next_parents(t, w->room, parents, &d.n_parents, &d.lamport)) < 0)
            return rc;
        d.parents = parents;
    }
    if (plain_len) memcpy(body, plain, plain_len);
    if (text) {
        rumor_event_ad(ad, type, d.room, rumor_identity_public(author));
        rc = rumor_box_seal(body + plain_len, sizeof body - plain_len, &box_len, w->room_key, ad,
                            sizeof ad, text, text_len);
        if (rc < 0) die("sealing a box", rc);
    }
    d.body = body;
    d.body_len = plain_len + box_len;
    rc = rumor_event_encode(out, sizeof out, &len, top_create ? w->room : NULL, &d, author);
    if (rc < 0) die("encoding an event", rc);
    if ((rc = rumor_gossip_ingest(t, NULL, out, len, NULL, NULL)) < 0) return rc;
    history_keep(h, out, len);
    return RUMOR_OK;
}

/* The room: alice creates it and adds every other author with a grant of the room key. */
static int generate_setup(rumor_txn_t *t, void *ctx)
{
    world_t *w = ctx;
    uint8_t create_text[1 + 16], add[ID + 2 + RUMOR_SEALED_GRANT_BYTES];
    uint8_t grant[RUMOR_KEY_ID_BYTES + 4 + RUMOR_ROOM_KEY_BYTES];
    static const uint8_t no_flags = 0;
    static const char name[] = "bench";

    history_truncate(&w->setup, 0);
    create_text[0] = sizeof name - 1;
    memcpy(create_text + 1, name, sizeof name - 1);
    int rc = post(t, w, &w->setup, w->authors[0], RUMOR_EV_ROOM_CREATE, &no_flags, 1, create_text,
                  sizeof name);
    if (rc < 0) return rc;

    rumor_room_key_id(grant, w->room_key);
    rumor_put_u32(grant + RUMOR_KEY_ID_BYTES, 0); /* epoch 0 */
    memcpy(grant + RUMOR_KEY_ID_BYTES + 4, w->room_key, RUMOR_ROOM_KEY_BYTES);
    for (int i = 1; i < w->n_authors && rc == RUMOR_OK; i++) {
        const uint8_t *member = rumor_identity_public(w->authors[i]);
        memcpy(add, member, ID);
        add[ID] = RUMOR_ROLE_MEMBER;
        add[ID + 1] = 1; /* one grant */
        if ((rc = rumor_seal_to(add + ID + 2, member, grant, sizeof grant)) < 0)
            die("sealing a grant", rc);
        rc = post(t, w, &w->setup, w->authors[0], RUMOR_EV_MEMBER_ADD, add, sizeof add, NULL, 0);
    }
    sodium_memzero(grant, sizeof grant);
    return rc;
}

/* Message i's text: a numbered line padded with prose to exactly TEXT_BYTES. */
static void message_text(uint8_t out[TEXT_BYTES], size_t i, int author)
{
    static const char prose[] = "the quick brown fox jumps over the lazy dog while the gossip "
                                "mesh carries every word to every member of the room ";
    char head[48];
    int n = snprintf(head, sizeof head, "message %zu from author %d: ", i, author);
    size_t used = (size_t)n < TEXT_BYTES ? (size_t)n : TEXT_BYTES;
    memcpy(out, head, used);
    memcpy(out + used, prose, TEXT_BYTES - used);
}

/* Where generate_messages has got to (a batch may be rerun when the map grows). */
typedef struct {
    world_t *w;
    size_t total; /* messages wanted */
    size_t done;  /* messages committed */
    size_t upto;  /* this batch ends here */
} generate_t;

static int generate_messages(rumor_txn_t *t, void *ctx)
{
    generate_t *g = ctx;
    uint8_t text[TEXT_BYTES];
    history_truncate(&g->w->messages, g->done);
    int rc = RUMOR_OK;
    for (size_t i = g->done; i < g->upto && rc == RUMOR_OK; i++) {
        int a = (int)(i % (size_t)g->w->n_authors);
        message_text(text, i, a);
        rc = post(t, g->w, &g->w->messages, g->w->authors[a], RUMOR_EV_MESSAGE, NULL, 0, text,
                  sizeof text);
    }
    return rc;
}

static void generate(world_t *w, size_t n_events, const char *tmp)
{
    temp_store_t scratch;
    temp_store_open(&scratch, tmp, 0);
    history_init(&w->setup, (size_t)w->n_authors, 512);
    history_init(&w->messages, n_events, 512);
    int rc = rumor_store_write(scratch.store, generate_setup, w);
    if (rc < 0) die("generating the room", rc);
    generate_t g = {w, n_events, 0, 0};
    while (g.done < g.total) {
        g.upto = g.done + GENERATE_BATCH < g.total ? g.done + GENERATE_BATCH : g.total;
        if ((rc = rumor_store_write(scratch.store, generate_messages, &g)) < 0)
            die("generating messages", rc);
        g.done = g.upto;
    }
    temp_store_remove(&scratch);
}

/* ---- (a) and the breakdown: one step at a time ---------------------------- */

/* Every event decoded once, outside the clock, for the steps that need a view. */
static rumor_event_t *decode_all(const history_t *h)
{
    rumor_event_t *views = xmalloc(h->n * sizeof *views);
    for (size_t i = 0; i < h->n; i++) {
        int rc = rumor_event_decode(history_event(h, i), h->len[i], &views[i]);
        if (rc < 0) die("decoding a generated event", rc);
    }
    return views;
}

/* (a): Ed25519 alone, straight from libsodium, over exactly the bytes ingest verifies. */
static times_t time_verify(const history_t *h, const rumor_event_t *views)
{
    times_t start = times_now();
    for (size_t i = 0; i < h->n; i++) {
        const rumor_event_t *ev = &views[i];
        if (crypto_sign_verify_detached(ev->sig, ev->signed_bytes, ev->signed_len, ev->author) != 0)
            die("a generated event does not verify", RUMOR_ERR_BAD_SIGNATURE);
    }
    return times_since(start);
}

/* Structure checks plus the BLAKE2b id: what ingest does before the signature. */
static times_t time_decode(const history_t *h)
{
    rumor_event_t ev;
    times_t start = times_now();
    for (size_t i = 0; i < h->n; i++)
        if (rumor_event_decode(history_event(h, i), h->len[i], &ev) < 0)
            die("decoding a generated event", RUMOR_ERR_MALFORMED);
    return times_since(start);
}

/* Opens one event's box; returns the rumor_box_open result. */
static int open_box(const rumor_event_t *ev, const uint8_t *key, uint8_t *pt, size_t *pt_len)
{
    uint8_t ad[RUMOR_EVENT_AD_BYTES];
    rumor_event_ad(ad, ev->type, ev->room, ev->author);
    return rumor_box_open(pt, pt_len, key, ad, sizeof ad, ev->box, ev->box_len);
}

static times_t time_decrypt(const history_t *h, const rumor_event_t *views, const uint8_t *key)
{
    uint8_t pt[RUMOR_EVENT_MAX];
    size_t pt_len;
    times_t start = times_now();
    for (size_t i = 0; i < h->n; i++)
        if (open_box(&views[i], key, pt, &pt_len) < 0) die("opening a box", RUMOR_ERR_DECRYPT);
    return times_since(start);
}

/* ---- (b) the ingest path -------------------------------------------------- */

/* One run of (b) and where its time went. */
typedef struct {
    times_t total;       /* every batch, from before rumor_store_write to after it */
    times_t in_txn;      /* inside the write callbacks */
    double ingest_wall;  /* inside rumor_gossip_ingest */
    double decrypt_wall; /* inside the key check and rumor_box_open */
    size_t batches;      /* rumor_store_write calls */
    size_t reruns;       /* callbacks run again after the map grew */
} ingest_run_t;

/* One batch: what the write callback needs, and what it measured. */
typedef struct {
    const history_t *h;
    const rumor_identity_t *self;       /* the receiving node: a member, not the creator */
    const uint8_t *key;                 /* the room key, as the member holds it */
    uint8_t key_id[RUMOR_KEY_ID_BYTES]; /* its id, which every box names */
    size_t first, end;                  /* events [first, end) */
    uint8_t *pt;                        /* plaintext buffer */
    int attempts;                       /* callback runs for this batch */
    rumor_gossip_counters_t counters;   /* this batch's ingest counters */
    times_t in_txn;                     /* callback span */
    double ingest_wall, decrypt_wall;   /* as in ingest_run_t, for this batch */
} batch_t;

static int ingest_batch(rumor_txn_t *t, void *ctx)
{
    batch_t *b = ctx;
    times_t start = times_now();
    /* A rerun after the map grew starts the batch over: count only the run that commits. */
    memset(&b->counters, 0, sizeof b->counters);
    b->ingest_wall = b->decrypt_wall = 0;
    b->attempts++;
    for (size_t i = b->first; i < b->end; i++) {
        rumor_event_t ev;
        size_t pt_len;
        double t0 = wall_now();
        int rc = rumor_gossip_ingest(t, b->self, history_event(b->h, i), b->h->len[i], &ev,
                                     &b->counters);
        double t1 = wall_now();
        if (rc < 0) return rc;
        /* A member picks the key by the id the box names; here it is always the one it holds. */
        if (sodium_memcmp(ev.box, b->key_id, RUMOR_KEY_ID_BYTES) != 0) return RUMOR_ERR_NO_KEY;
        if ((rc = open_box(&ev, b->key, b->pt, &pt_len)) < 0) return rc;
        double t2 = wall_now();
        b->ingest_wall += t1 - t0;
        b->decrypt_wall += t2 - t1;
    }
    b->in_txn = times_since(start);
    return RUMOR_OK;
}

/* The room key as the receiving member holds it: granted to it, sealed at rest in its store. */
static void load_member_key(rumor_store_t *s, const world_t *w, const rumor_identity_t *self,
                            uint8_t *key, uint8_t key_id[RUMOR_KEY_ID_BYTES])
{
    rumor_txn_t *t;
    uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES];
    int rc = rumor_store_read_begin(s, &t);
    if (rc < 0) die("reading the store", rc);
    if ((rc = rumor_store_key_current(t, w->room, key_id, NULL)) < 0 ||
        (rc = rumor_store_key_get(t, key_id, NULL, NULL, sealed)) < 0)
        die("the member holds no room key", rc);
    if ((rc = rumor_key_at_rest_open(key, self, sealed, sizeof sealed)) < 0)
        die("opening the room key", rc);
    rumor_store_read_end(&t);
}

static int ingest_setup(rumor_txn_t *t, void *ctx)
{
    batch_t *b = ctx;
    for (size_t i = 0; i < b->h->n; i++) {
        int rc = rumor_gossip_ingest(t, b->self, history_event(b->h, i), b->h->len[i], NULL, NULL);
        if (rc < 0) return rc;
    }
    return RUMOR_OK;
}

/* (b): every message into a fresh store, B per transaction. */
static ingest_run_t time_ingest(const world_t *w, size_t batch_size,
                                rumor_store_durability_t durability, const char *tmp)
{
    ingest_run_t run = {0};
    temp_store_t ts;
    const rumor_identity_t *self = w->authors[RECEIVER];
    uint8_t *key = sodium_malloc(RUMOR_ROOM_KEY_BYTES);
    uint8_t *pt = xmalloc(RUMOR_EVENT_MAX);
    if (!key) die("allocating", RUMOR_ERR_NOMEM);

    temp_store_open(&ts, tmp, RUMOR_STORE_MAP_INITIAL + w->messages.n * MAP_BYTES_PER_EVENT);
    batch_t b = {.h = &w->setup, .self = self, .key = key, .pt = pt};
    int rc = rumor_store_write(ts.store, ingest_setup, &b);
    if (rc < 0) die("ingesting the room's setup", rc);
    load_member_key(ts.store, w, self, key, b.key_id);

    b.h = &w->messages;
    uint64_t delivered = 0;
    for (size_t first = 0; first < w->messages.n; first += batch_size) {
        b.first = first;
        b.end = first + batch_size < w->messages.n ? first + batch_size : w->messages.n;
        b.attempts = 0;
        times_t start = times_now();
        if ((rc = rumor_store_write_as(ts.store, durability, ingest_batch, &b)) < 0)
            die("ingesting", rc);
        times_add(&run.total, times_since(start));
        times_add(&run.in_txn, b.in_txn);
        run.ingest_wall += b.ingest_wall;
        run.decrypt_wall += b.decrypt_wall;
        run.batches++;
        run.reruns += (size_t)(b.attempts - 1);
        delivered += b.counters.delivered;
    }
    if (delivered != w->messages.n) die("not every message was delivered", RUMOR_ERR_INVALID);
    temp_store_remove(&ts);
    sodium_free(key);
    free(pt);
    return run;
}

/* ---- report ----------------------------------------------------------------- */

typedef struct {
    size_t events, batch, runs;
    int authors;
    int cpu;                         /* the CPU the thread is pinned to, or -1 */
    double event_bytes;              /* mean encoded size */
    times_t verify, decode, decrypt; /* best per clock, over all events */
    times_t ingest_best;             /* (b): best total per clock */
    /*
     * The run whose (b) had the best wall time, with the verify and decode
     * times of that same run: the breakdown subtracts them from its ingest
     * time, and figures from one run share the machine's conditions.
     */
    ingest_run_t ingest;
    times_t ingest_run_verify, ingest_run_decode;
    rumor_store_durability_t durability; /* how batches are committed */
} report_t;

static double rate(size_t n, double seconds)
{
    return seconds > 0 ? (double)n / seconds : 0;
}

static double us_per(double seconds, size_t n)
{
    return n ? seconds * 1e6 / (double)n : 0;
}

static void print_report(const report_t *r, const char *tmp)
{
    const ingest_run_t *in = &r->ingest;
    size_t n = r->events;
    double verify_eps = rate(n, r->verify.wall), verify_eps_cpu = rate(n, r->verify.cpu);
    double ingest_eps = rate(n, r->ingest_best.wall), ingest_eps_cpu = rate(n, r->ingest_best.cpu);
    double commit_wall = in->total.wall - in->in_txn.wall,
           commit_cpu = in->total.cpu - in->in_txn.cpu;
    double decode_us = us_per(r->ingest_run_decode.wall, n);
    double verify_us = us_per(r->ingest_run_verify.wall, n);
    double ingest_us = us_per(in->ingest_wall, n);
    double loop_us = us_per(in->in_txn.wall - in->ingest_wall - in->decrypt_wall, n);

    printf("bench_ingest: %zu MESSAGE events (%.0f bytes each, %d-byte texts) from %d authors,\n"
           "  batches of %zu, best of %zu run(s), one thread on cpu %d, store under %s\n"
           "  (%s)\n\n",
           n, r->event_bytes, TEXT_BYTES, r->authors, r->batch, r->runs, r->cpu, tmp,
           r->durability == RUMOR_STORE_DURABLE
               ? "--durable: every commit fully synced, as for the node's own sends"
               : "commits as for events from peers: pages synced, LMDB meta page not");
    printf("%-44s %12s %12s\n", "", "events/s", "events/s");
    printf("%-44s %12s %12s\n", "", "(wall)", "(cpu)");
    printf("%-44s %12.0f %12.0f\n", "(a) signature verify (Ed25519, libsodium)", verify_eps,
           verify_eps_cpu);
    printf("%-44s %12.0f %12.0f\n", "(b) ingest + decrypt + commit", ingest_eps, ingest_eps_cpu);
    printf("%-44s %11.1f%% %11.1f%%   (target %.0f%%)\n", "(b)/(a)",
           100.0 * ingest_eps / verify_eps, 100.0 * ingest_eps_cpu / verify_eps_cpu,
           TARGET_PERCENT);
    printf("\nsteps alone, over the same events:\n");
    printf("%-44s %12.0f %12.0f\n", "  decode (structure + BLAKE2b id)", rate(n, r->decode.wall),
           rate(n, r->decode.cpu));
    printf("%-44s %12.0f %12.0f\n", "  box open (XChaCha20-Poly1305)", rate(n, r->decrypt.wall),
           rate(n, r->decrypt.cpu));
    printf("\nwhere (b)'s time goes, per event (wall, best run):\n");
    printf("  %-42s %8.2f us\n", "rumor_gossip_ingest", ingest_us);
    printf("  %-42s %8.2f us\n", "  of which decode (step alone, same run)", decode_us);
    printf("  %-42s %8.2f us\n", "  of which signature ((a), same run)", verify_us);
    printf("  %-42s %8.2f us\n", "  rest: dup check, causality, rules, store",
           ingest_us - decode_us - verify_us);
    printf("  %-42s %8.2f us\n", "box key check + rumor_box_open", us_per(in->decrypt_wall, n));
    printf("  %-42s %8.2f us\n", "transaction begin + commit", us_per(commit_wall, n));
    printf("  %-42s %8.2f us\n", "timing and loop overhead", loop_us);
    printf("  %-42s %8.2f us\n", "total", us_per(in->total.wall, n));
    printf("commit per batch of %zu: %.3f ms wall, %.3f ms cpu (%zu batches, %zu reruns)\n",
           r->batch, 1e3 * commit_wall / (double)in->batches,
           1e3 * commit_cpu / (double)in->batches, in->batches, in->reruns);
}

static void print_json(const report_t *r)
{
    const ingest_run_t *in = &r->ingest;
    size_t n = r->events;
    double verify_eps = rate(n, r->verify.wall), verify_eps_cpu = rate(n, r->verify.cpu);
    double ingest_eps = rate(n, r->ingest_best.wall), ingest_eps_cpu = rate(n, r->ingest_best.cpu);
    printf(
        "{\"bench\":\"ingest\",\"durable\":%s,\"events\":%zu,\"batch\":%zu,\"authors\":%d,\"runs\":"
        "%zu,"
        "\"text_bytes\":%d,\"event_bytes\":%.0f,"
        "\"verify_eps\":%.0f,\"verify_eps_cpu\":%.0f,"
        "\"ingest_eps\":%.0f,\"ingest_eps_cpu\":%.0f,"
        "\"ratio_pct\":%.1f,\"ratio_pct_cpu\":%.1f,\"target_pct\":%.0f,"
        "\"decode_eps\":%.0f,\"decode_eps_cpu\":%.0f,\"decrypt_eps\":%.0f,\"decrypt_eps_cpu\":%.0f,"
        "\"ingest_call_us\":%.2f,\"decrypt_call_us\":%.2f,"
        "\"commit_ms_per_batch\":%.3f,\"commit_cpu_ms_per_batch\":%.3f,\"reruns\":%zu}\n",
        r->durability == RUMOR_STORE_DURABLE ? "true" : "false", n, r->batch, r->authors, r->runs,
        TEXT_BYTES, r->event_bytes, verify_eps, verify_eps_cpu, ingest_eps, ingest_eps_cpu,
        100.0 * ingest_eps / verify_eps, 100.0 * ingest_eps_cpu / verify_eps_cpu, TARGET_PERCENT,
        rate(n, r->decode.wall), rate(n, r->decode.cpu), rate(n, r->decrypt.wall),
        rate(n, r->decrypt.cpu), us_per(in->ingest_wall, n), us_per(in->decrypt_wall, n),
        1e3 * (in->total.wall - in->in_txn.wall) / (double)in->batches,
        1e3 * (in->total.cpu - in->in_txn.cpu) / (double)in->batches, in->reruns);
}

/* ---- main --------------------------------------------------------------------- */

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--events N] [--batch B] [--authors K] [--runs R] [--dir DIR] [--durable] "
            "[--json]\n"
            "  --events N   MESSAGE events to ingest (default %d)\n"
            "  --batch B    events per write transaction (default %d)\n"
            "  --authors K  authors posting in turn, all members, K >= 2 (default %d)\n"
            "  --runs R     repeat each measurement, keep the best (default %d)\n"
            "  --dir DIR    where the temporary stores go (default $TMPDIR or /tmp)\n"
            "  --durable    sync every commit fully, as for the node's own sends\n"
            "  --json       also print the figures as one JSON line\n",
            argv0, DEFAULT_EVENTS, DEFAULT_BATCH, DEFAULT_AUTHORS, DEFAULT_RUNS);
    exit(2);
}

/* Parses a positive count no larger than `max`, or exits with the usage. */
static size_t parse_count(const char *s, size_t max, const char *argv0)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || errno || *end || v == 0 || v > max) usage(argv0);
    return (size_t)v;
}

/* Keeps the thread on the CPU it runs on, so it measures one core. Returns the CPU or -1. */
static int pin_to_one_cpu(void)
{
    int cpu = sched_getcpu();
    cpu_set_t set;
    if (cpu < 0) return -1;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? cpu : -1;
}

int main(int argc, char **argv)
{
    report_t r = {.events = DEFAULT_EVENTS,
                  .batch = DEFAULT_BATCH,
                  .runs = DEFAULT_RUNS,
                  .authors = DEFAULT_AUTHORS,
                  .durability = RUMOR_STORE_BATCH};
    const char *tmp = getenv("TMPDIR");
    bool json = false;
    if (!tmp || !*tmp) tmp = "/tmp";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(arg, "--durable") == 0) {
            r.durability = RUMOR_STORE_DURABLE;
            continue;
        }
        if (!val) usage(argv[0]);
        i++; /* every other option takes a value */
        if (strcmp(arg, "--events") == 0) {
            r.events = parse_count(val, MAX_EVENTS, argv[0]);
        } else if (strcmp(arg, "--batch") == 0) {
            r.batch = parse_count(val, MAX_BATCH, argv[0]);
        } else if (strcmp(arg, "--authors") == 0) {
            r.authors = (int)parse_count(val, MAX_AUTHORS, argv[0]);
        } else if (strcmp(arg, "--runs") == 0) {
            r.runs = parse_count(val, MAX_RUNS, argv[0]);
        } else if (strcmp(arg, "--dir") == 0) {
            tmp = val;
        } else {
            usage(argv[0]);
        }
    }
    if (r.authors <= RECEIVER) usage(argv[0]); /* the receiver must be one of the members */
    if (rumor_crypto_init() < 0) die("initialising libsodium", RUMOR_ERR_CRYPTO);
    r.cpu = pin_to_one_cpu();

    world_t w = {.n_authors = r.authors};
    w.authors = xmalloc((size_t)r.authors * sizeof *w.authors);
    for (int i = 0; i < r.authors; i++) {
        uint8_t seed[RUMOR_SEED_BYTES];
        char label[32];
        snprintf(label, sizeof label, "bench author %d", i);
        rumor_crypto_hash(seed, (const uint8_t *)label, strlen(label));
        int rc = rumor_identity_from_seed(seed, &w.authors[i]);
        if (rc < 0) die("making an identity", rc);
    }
    if (!(w.room_key = sodium_malloc(RUMOR_ROOM_KEY_BYTES))) die("allocating", RUMOR_ERR_NOMEM);
    rumor_room_key_generate(w.room_key);

    fprintf(stderr, "bench_ingest: generating %zu events...\n", r.events);
    generate(&w, r.events, tmp);
    r.event_bytes = (double)w.messages.used / (double)w.messages.n;
    rumor_event_t *views = decode_all(&w.messages);

    for (size_t run = 0; run < r.runs; run++) {
        fprintf(stderr, "bench_ingest: run %zu of %zu\n", run + 1, r.runs);
        times_t verify = time_verify(&w.messages, views);
        times_t decode = time_decode(&w.messages);
        times_best(&r.verify, verify);
        times_best(&r.decode, decode);
        times_best(&r.decrypt, time_decrypt(&w.messages, views, w.room_key));
        ingest_run_t in = time_ingest(&w, r.batch, r.durability, tmp);
        times_best(&r.ingest_best, in.total);
        if (r.ingest.total.wall == 0 || in.total.wall < r.ingest.total.wall) {
            r.ingest = in;
            r.ingest_run_verify = verify;
            r.ingest_run_decode = decode;
        }
    }
    print_report(&r, tmp);
    if (json) print_json(&r);

    free(views);
    history_free(&w.setup);
    history_free(&w.messages);
    for (int i = 0; i < r.authors; i++) rumor_identity_destroy(&w.authors[i]);
    free(w.authors);
    sodium_free(w.room_key);
    return 0;
}
