/*
 * recon.c - anti-entropy by range-based set reconciliation (PROTOCOL.md 12).
 *
 * A topic's set is its `dlog` in the store: (lamport, id) items in order.
 * Both sides run the same stateless rule on each RECON frame: compare each
 * range with their own items there, settle it (SKIP), list it (IDS) or cut
 * it into RUMOR_RECON_SPLIT ranges of equal count (FINGERPRINT). An IDS
 * range tells the receiver exactly what the other side holds there, so it
 * queues what the other lacks (a job) and asks for what it lacks itself.
 *
 * Every range is a cursor walk of the store: O(items in range) per round,
 * constant memory (a cut walks twice: count, then cut).
 */
#include "rumor_gossip.h"

#include <sodium.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* A walk callback's "past the range" (stops the walk, not an error). */
#define WALK_PAST 2

static const rumor_bound_t BOTTOM = {0, {0}};

void rumor_bound_top(rumor_bound_t *b)
{
    b->lamport = UINT64_MAX;
    memset(b->id, 0xff, ID);
}

bool rumor_bound_is_top(const rumor_bound_t *b)
{
    if (b->lamport != UINT64_MAX) return false;
    for (size_t i = 0; i < ID; i++)
        if (b->id[i] != 0xff) return false;
    return true;
}

int rumor_bound_cmp(const rumor_bound_t *a, const rumor_bound_t *b)
{
    if (a->lamport != b->lamport) return a->lamport < b->lamport ? -1 : 1;
    return memcmp(a->id, b->id, ID);
}

/* True when item (lamport, id) is below `hi` (the top bound includes itself). */
static bool below(uint64_t lamport, const uint8_t id[ID], const rumor_bound_t *hi)
{
    if (rumor_bound_is_top(hi)) return true;
    if (lamport != hi->lamport) return lamport < hi->lamport;
    return memcmp(id, hi->id, ID) < 0;
}

/* ---- fingerprints ------------------------------------------------------------- */

typedef struct {
    uint8_t sum[32]; /* sum of ids as little-endian integers, mod 2^256 */
    uint64_t count;
} acc_t;

static void acc_add(acc_t *a, const uint8_t id[ID])
{
    unsigned carry = 0;
    for (size_t i = 0; i < 32; i++) {
        unsigned v = (unsigned)a->sum[i] + id[i] + carry;
        a->sum[i] = (uint8_t)v;
        carry = v >> 8;
    }
    a->count++;
}

static void acc_fingerprint(const acc_t *a, uint8_t fp[RUMOR_RECON_FP_BYTES])
{
    uint8_t in[32 + 8], out[32];
    memcpy(in, a->sum, 32);
    rumor_put_u64(in + 32, a->count);
    crypto_generichash(out, sizeof out, in, sizeof in, NULL, 0);
    memcpy(fp, out, RUMOR_RECON_FP_BYTES);
}

/* ---- walking a range ----------------------------------------------------------- */

typedef int (*item_fn)(void *ctx, uint64_t lamport, const uint8_t id[ID]);

typedef struct {
    const rumor_bound_t *hi;
    item_fn fn;
    void *ctx;
} range_walk_t;

static int range_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    range_walk_t *w = ctx;
    if (!below(lamport, id, w->hi)) return WALK_PAST;
    return w->fn(w->ctx, lamport, id);
}

/* Calls fn for the topic's items in [lo, hi), in order, until it returns non-zero. */
static int range_walk(rumor_txn_t *t, const uint8_t topic[ID], const rumor_bound_t *lo,
                      const rumor_bound_t *hi, item_fn fn, void *ctx)
{
    range_walk_t w = {hi, fn, ctx};
    int rc = rumor_store_dlog_from(t, topic, lo->lamport, lo->id, range_step, &w);
    return rc == WALK_PAST ? 0 : rc;
}

static int acc_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    (void)lamport;
    acc_add(ctx, id);
    return 0;
}

static int range_acc(rumor_txn_t *t, const uint8_t topic[ID], const rumor_bound_t *lo,
                     const rumor_bound_t *hi, acc_t *a)
{
    memset(a, 0, sizeof *a);
    return range_walk(t, topic, lo, hi, acc_step, a);
}

/* ---- building a RECON -------------------------------------------------------------- */

static bool msg_room(const rumor_recon_msg_t *m, size_t ranges)
{
    return m->n + ranges <= RUMOR_RECON_RANGES_MAX;
}

/* Appends a range; neighbouring SKIPs merge. */
static rumor_recon_range_t *msg_add(rumor_recon_msg_t *m, const rumor_bound_t *upper, uint8_t mode)
{
    if (mode == RUMOR_RECON_SKIP && m->n && m->r[m->n - 1].mode == RUMOR_RECON_SKIP) {
        m->r[m->n - 1].upper = *upper;
        return &m->r[m->n - 1];
    }
    rumor_recon_range_t *g = &m->r[m->n++];
    memset(g, 0, sizeof *g);
    g->upper = *upper;
    g->mode = mode;
    return g;
}

static void msg_fingerprint(rumor_recon_msg_t *m, const rumor_bound_t *upper, const acc_t *a)
{
    rumor_recon_range_t *g = msg_add(m, upper, RUMOR_RECON_FINGERPRINT);
    g->count = a->count > UINT32_MAX ? UINT32_MAX : (uint32_t)a->count;
    acc_fingerprint(a, g->fp);
}

typedef struct {
    rumor_recon_msg_t *m;
    rumor_recon_range_t *g;
} list_t;

static int list_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    (void)lamport;
    list_t *l = ctx;
    if (l->g->k >= RUMOR_RECON_IDS_MAX || l->m->n_ids >= RUMOR_RECON_FRAME_IDS)
        return RUMOR_ERR_STORE; /* more items than counted: the store changed under us */
    memcpy(l->m->ids + l->m->n_ids * ID, id, ID);
    l->m->n_ids++;
    l->g->k++;
    return 0;
}

/* An IDS range of our `count` (<= RUMOR_RECON_LIST_MAX) items in [lo, hi). */
static int msg_list(rumor_txn_t *t, rumor_recon_msg_t *m, const rumor_bound_t *lo,
                    const rumor_bound_t *hi)
{
    rumor_recon_range_t *g = msg_add(m, hi, RUMOR_RECON_IDS);
    g->ids = m->ids + m->n_ids * ID;
    list_t l = {m, g};
    return range_walk(t, m->topic, lo, hi, list_step, &l);
}

typedef struct {
    rumor_recon_msg_t *m;
    uint64_t count, i; /* items in the range; index of the next one */
    size_t parts;      /* how many sub-ranges */
    size_t part;       /* the sub-range being summed */
    acc_t acc;
} cut_t;

static int cut_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    cut_t *c = ctx;
    /* Sub-range j starts at item floor(j * count / SPLIT). */
    uint64_t next_start = (uint64_t)(c->part + 1) * c->count / c->parts;
    if (c->part + 1 < c->parts && c->i == next_start) {
        rumor_bound_t b = {.lamport = lamport};
        memcpy(b.id, id, ID);
        msg_fingerprint(c->m, &b, &c->acc);
        memset(&c->acc, 0, sizeof c->acc);
        c->part++;
    }
    acc_add(&c->acc, id);
    c->i++;
    return 0;
}

/* Our `count` (> parts) items of [lo, hi) cut into `parts` ranges of equal count. */
static int msg_cut(rumor_txn_t *t, rumor_recon_msg_t *m, const rumor_bound_t *lo,
                   const rumor_bound_t *hi, uint64_t count, size_t parts)
{
    cut_t c = {.m = m, .count = count, .parts = parts};
    int rc = range_walk(t, m->topic, lo, hi, cut_step, &c);
    if (rc < 0) return rc;
    msg_fingerprint(m, hi, &c.acc);
    return RUMOR_OK;
}

/*
 * Our side of [lo, hi) that differs from the peer's: a list or a cut.
 * Returns 1 (nothing added) when neither fits the frame with one range
 * kept free for the tail (see rumor_recon_answer).
 */
static int msg_differs(rumor_txn_t *t, rumor_recon_msg_t *m, const rumor_bound_t *lo,
                       const rumor_bound_t *hi, const acc_t *mine, size_t parts)
{
    if (mine->count == 0 && m->n && m->r[m->n - 1].mode == RUMOR_RECON_IDS &&
        m->r[m->n - 1].k == 0) {
        m->r[m->n - 1].upper = *hi; /* empty lists side by side are one empty list */
        return RUMOR_OK;
    }
    if (mine->count <= RUMOR_RECON_LIST_MAX) {
        if (m->n_ids + mine->count > RUMOR_RECON_FRAME_IDS || !msg_room(m, 2)) return 1;
        return msg_list(t, m, lo, hi);
    }
    if (!msg_room(m, parts + 1)) return 1;
    return msg_cut(t, m, lo, hi, mine->count, parts);
}

/* The rest of the order, [lo, top), as one fingerprint of ours: the frame is full. */
static int msg_tail(rumor_txn_t *t, rumor_recon_msg_t *m, const rumor_bound_t *lo)
{
    rumor_bound_t top;
    rumor_bound_top(&top);
    acc_t mine;
    int rc = range_acc(t, m->topic, lo, &top, &mine);
    if (rc < 0) return rc;
    msg_fingerprint(m, &top, &mine);
    return RUMOR_OK;
}

int rumor_recon_open(rumor_txn_t *t, const uint8_t topic[ID], rumor_recon_msg_t *out)
{
    memset(out, 0, offsetof(rumor_recon_msg_t, ids));
    memcpy(out->topic, topic, ID);
    rumor_bound_t top;
    rumor_bound_top(&top);
    acc_t mine;
    int rc = range_acc(t, topic, &BOTTOM, &top, &mine);
    if (rc < 0) return rc;
    rc = msg_differs(t, out, &BOTTOM, &top, &mine, RUMOR_RECON_SPLIT);
    return rc < 0 ? rc : RUMOR_OK; /* an empty frame has room for either */
}

/* ---- answering a RECON ---------------------------------------------------------- */

typedef struct {
    const rumor_recon_range_t *g; /* the peer's list */
    rumor_recon_job_t *job;
} job_count_t;

static bool listed(const uint8_t *ids, size_t k, const uint8_t id[ID])
{
    for (size_t i = 0; i < k; i++)
        if (memcmp(ids + i * ID, id, ID) == 0) return true;
    return false;
}

/* True when a job sends this item: not listed, or with `only`, listed. */
static bool job_takes(const rumor_recon_job_t *j, const uint8_t id[ID])
{
    return listed(j->excl, j->n_excl, id) == j->only;
}

static int job_count_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    (void)lamport;
    job_count_t *c = ctx;
    if (job_takes(c->job, id)) c->job->total++;
    return 0;
}

/* Queues, for the peer, our items of [lo, hi) not in `ids` (or, with `only`, in `ids`). */
static int queue(rumor_txn_t *t, const uint8_t topic[ID], const rumor_bound_t *lo,
                 const rumor_bound_t *hi, const uint8_t *ids, size_t k, bool only,
                 const rumor_recon_sink_t *sink)
{
    rumor_recon_job_t job;
    memset(&job, 0, sizeof job);
    memcpy(job.topic, topic, ID);
    job.lo = *lo;
    job.hi = *hi;
    job.next = *lo;
    if (k) memcpy(job.excl, ids, k * ID);
    job.n_excl = k;
    job.only = only;
    job_count_t c = {NULL, &job};
    int rc = range_walk(t, topic, lo, hi, job_count_step, &c);
    if (rc < 0) return rc;
    if (job.total && sink->job && (rc = sink->job(sink->ctx, &job)) < 0) return rc;
    return RUMOR_OK;
}

/*
 * The peer listed all it holds in [lo, hi): queue what it lacks, and put the
 * listed ids we lack in `need` (*n_need of them) for a NEED range, so they
 * come back in the peer's BATCH stream, in order.
 */
static int settle(rumor_txn_t *t, const uint8_t topic[ID], const rumor_bound_t *lo,
                  const rumor_bound_t *hi, const uint8_t *ids, size_t k,
                  const rumor_recon_sink_t *sink, uint8_t *need, size_t *n_need)
{
    int rc = queue(t, topic, lo, hi, ids, k, false, sink);
    if (rc < 0) return rc;
    *n_need = 0;
    for (size_t i = 0; i < k; i++)
        if (!rumor_store_event_has(t, ids + i * ID))
            memcpy(need + ID * (*n_need)++, ids + i * ID, ID);
    return RUMOR_OK;
}

int rumor_recon_answer(rumor_txn_t *t, const rumor_wire_frame_t *in, rumor_recon_msg_t *out,
                       const rumor_recon_sink_t *sink)
{
    memset(out, 0, offsetof(rumor_recon_msg_t, ids));
    if (in->type != RUMOR_WIRE_RECON || !in->ranges || !in->topic || in->n == 0 ||
        in->n > RUMOR_RECON_RANGES_MAX)
        return RUMOR_ERR_MALFORMED;
    for (size_t i = 0; i < in->n; i++)
        if (in->ranges[i].k > RUMOR_RECON_IDS_MAX) return RUMOR_ERR_MALFORMED;
    memcpy(out->topic, in->topic, ID);
    out->round = (uint8_t)(in->round + 1);
    int rc;

    /* First pass: our side of every FINGERPRINT range, and how many differ and need a cut. The
     * cut is then as fine as the frame allows for all of them (16, down to 2), so every
     * differing range moves on in this round, not only the first few. */
    acc_t mine[RUMOR_RECON_RANGES_MAX];
    size_t cuts = 0, others = 0;
    rumor_bound_t lo = BOTTOM;
    for (size_t i = 0; i < in->n; i++) {
        const rumor_recon_range_t *g = &in->ranges[i];
        memset(&mine[i], 0, sizeof mine[i]);
        if (g->mode == RUMOR_RECON_FINGERPRINT &&
            (rc = range_acc(t, out->topic, &lo, &g->upper, &mine[i])) < 0)
            return rc;
        uint8_t fp[RUMOR_RECON_FP_BYTES];
        acc_fingerprint(&mine[i], fp);
        bool differs = g->mode == RUMOR_RECON_FINGERPRINT && g->count &&
                       !(mine[i].count == g->count && memcmp(fp, g->fp, sizeof fp) == 0);
        if (differs && mine[i].count > RUMOR_RECON_LIST_MAX)
            cuts++;
        else
            others++;
        lo = g->upper;
    }
    size_t parts = RUMOR_RECON_SPLIT;
    if (cuts) {
        size_t room = RUMOR_RECON_RANGES_MAX - 1 > others ? RUMOR_RECON_RANGES_MAX - 1 - others : 0;
        parts = room / cuts;
        if (parts > RUMOR_RECON_SPLIT) parts = RUMOR_RECON_SPLIT;
        if (parts < 2) parts = 2;
    }

    lo = BOTTOM;
    for (size_t i = 0; i < in->n; i++) {
        const rumor_recon_range_t *g = &in->ranges[i];
        const rumor_bound_t *hi = &g->upper;
        /* One range stays free: when the frame is full, the rest of the order goes back as
         * one fingerprint of ours (the tail), so every answer fits a frame and every round
         * settles or cuts at least its first differing range: the exchange cannot stall. */
        /* (An IDS may answer with a NEED, which does not merge.) */
        bool merges =
            out->n && out->r[out->n - 1].mode == RUMOR_RECON_SKIP && g->mode != RUMOR_RECON_IDS;
        if (!merges && !msg_room(out, 2)) {
            if ((rc = msg_tail(t, out, &lo)) < 0) return rc;
            break;
        }
        if (g->mode == RUMOR_RECON_SKIP) {
            msg_add(out, hi, RUMOR_RECON_SKIP);
        } else if (g->mode == RUMOR_RECON_IDS) {
            uint8_t need[RUMOR_RECON_IDS_MAX * ID];
            size_t n = 0;
            if ((rc = settle(t, out->topic, &lo, hi, g->ids, g->k, sink, need, &n)) < 0) return rc;
            if (!n) {
                msg_add(out, hi, RUMOR_RECON_SKIP);
            } else if (out->n_ids + n <= RUMOR_RECON_FRAME_IDS) {
                rumor_recon_range_t *r = msg_add(out, hi, RUMOR_RECON_NEED);
                r->ids = out->ids + out->n_ids * ID;
                memcpy(out->ids + out->n_ids * ID, need, n * ID);
                r->k = n;
                out->n_ids += n;
            } else {
                /* No room for the ids in this frame: ask for them the plain way. */
                if (sink->want) sink->want(sink->ctx, need, n);
                msg_add(out, hi, RUMOR_RECON_SKIP);
            }
        } else if (g->mode == RUMOR_RECON_NEED) {
            if ((rc = queue(t, out->topic, &lo, hi, g->ids, g->k, true, sink)) < 0) return rc;
            msg_add(out, hi, RUMOR_RECON_SKIP);
        } else {
            uint8_t fp[RUMOR_RECON_FP_BYTES];
            acc_fingerprint(&mine[i], fp);
            if (mine[i].count == g->count && memcmp(fp, g->fp, sizeof fp) == 0) {
                msg_add(out, hi, RUMOR_RECON_SKIP);
            } else if (g->count == 0) {
                /* The peer holds nothing here: all of ours is what it lacks. */
                if ((rc = queue(t, out->topic, &lo, hi, NULL, 0, false, sink)) < 0) return rc;
                msg_add(out, hi, RUMOR_RECON_SKIP);
            } else if ((rc = msg_differs(t, out, &lo, hi, &mine[i], parts)) != 0) {
                if (rc < 0) return rc;
                if ((rc = msg_tail(t, out, &lo)) < 0) return rc;
                break;
            }
        }
        lo = *hi;
    }
    /* All settled: the exchange ends here (the caller still says so, once). */
    return out->n == 1 && out->r[0].mode == RUMOR_RECON_SKIP ? 0 : 1;
}

void rumor_recon_frame(const rumor_recon_msg_t *m, rumor_wire_frame_t *f)
{
    memset(f, 0, offsetof(rumor_wire_frame_t, range_buf));
    f->type = RUMOR_WIRE_RECON;
    f->topic = m->topic;
    f->round = m->round;
    f->n = m->n;
    f->ranges = (rumor_recon_range_t *)m->r;
}

/* ---- sending a job ------------------------------------------------------------------ */

typedef struct {
    rumor_recon_job_t *job;
    rumor_store_item_fn fn;
    void *ctx;
    bool stopped;
} job_walk_t;

static int job_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    job_walk_t *w = ctx;
    rumor_recon_job_t *j = w->job;
    if (j->started && lamport == j->next.lamport && memcmp(id, j->next.id, ID) == 0) return 0;
    if (!job_takes(j, id)) return 0;
    int rc = w->fn(w->ctx, lamport, id);
    if (rc) {
        w->stopped = true;
        return rc;
    }
    j->next.lamport = lamport;
    memcpy(j->next.id, id, ID);
    j->started = true;
    j->sent++;
    return 0;
}

int rumor_recon_job_walk(rumor_txn_t *t, rumor_recon_job_t *job, rumor_store_item_fn fn, void *ctx,
                         bool *done)
{
    job_walk_t w = {job, fn, ctx, false};
    int rc = range_walk(t, job->topic, &job->next, &job->hi, job_step, &w);
    *done = !w.stopped && rc >= 0;
    return rc < 0 ? rc : RUMOR_OK;
}
