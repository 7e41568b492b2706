/*
 * catchup.c - anti-entropy on the running node (PROTOCOL.md 12): opening
 * and answering RECON exchanges, sending what a peer lacks in BATCH frames
 * paced by its CREDIT, taking BATCH frames in, and reporting progress.
 *
 * The reconciliation itself (ranges, fingerprints, what to send) is
 * gossip/recon.c; this file holds the per-peer state around it:
 * exchanges per topic, the queue of ranges to send, credit both ways.
 */
#include "daemon.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* An exchange that hears nothing for this long is over. */
#define EXCHANGE_TIMEOUT_MS 10000
/* A running catch-up logs its progress this often. */
#define PROGRESS_LOG_MS 5000
/* Openings a peer may make per topic and heartbeat. */
#define OPENS_PER_BEAT 4
/* With ranges to send and no credit for this long, one BATCH goes as a probe: credit lost
 * with a link that closed (frames it held) would otherwise stop the transfer for good. */
#define CREDIT_PROBE_MS 5000
/* A catch-up that hears no BATCH for this long is over (its sender went away). */
#define CATCHUP_STALL_MS 30000
/* Ranges an exchange may hold before it ends, as a multiple of recon_jobs_max. */
#define HELD_FACTOR 4
/* Topics a catch-up remembers as having brought news (to pass on to other peers). */
#define FRESH_MAX 8

/* One (peer, topic) exchange. */
typedef struct {
    uint8_t topic[ID];
    bool active;             /* an exchange runs */
    bool forced;             /* open at next_ms even when the peer is the opener */
    uint64_t last_ms;        /* its last frame, loop time */
    uint64_t next_ms;        /* when we open next (0: as soon as we may) */
    uint64_t opens_ms;       /* start of the heartbeat in which the peer's openings are counted */
    uint32_t opens;          /* openings by the peer in it */
    rumor_recon_job_t *held; /* ranges it settled so far, sent in order when it ends */
    size_t n_held;
    uint8_t sent_round; /* the round of our last RECON in it: only the next is answered */
} xchg_t;

struct catchup {
    xchg_t *x;
    size_t n_x, cap_x;
    rumor_recon_job_t *jobs; /* ranges to send, in order; jobs[0] is being sent */
    size_t n_jobs;
    uint32_t credit;    /* BATCH frames we may send it */
    uint64_t credit_ms; /* when credit last came (or was probed) */
    uint32_t owed;      /* its BATCH frames we took in and have not granted back */
    /* Our catch-up from it. */
    bool in_active;
    bool in_feeding; /* a BATCH's events are being queued (a commit may come in between) */
    uint64_t in_events, in_new, in_start_ms, in_log_ms, in_last_ms;
    uint32_t in_remaining;
    uint8_t fresh[FRESH_MAX][ID]; /* topics its batches brought */
    size_t n_fresh;
};

static void release(daemon_t *d, struct catchup *cu, xchg_t *x);

/* Scratch space shared by all peers (one loop, one thread). */
struct catchup_ctx {
    rumor_recon_msg_t msg;
    uint8_t frame[RUMOR_WIRE_FRAME_MAX];
    uint8_t event_frame[RUMOR_WIRE_FRAME_MAX];
};

int rumor_catchup_start(daemon_t *d)
{
    struct catchup_ctx **cx = rumor_daemon_catchup_slot(d);
    *cx = calloc(1, sizeof **cx);
    return *cx ? RUMOR_OK : RUMOR_ERR_NOMEM;
}

void rumor_catchup_stop(daemon_t *d)
{
    struct catchup_ctx **cx = rumor_daemon_catchup_slot(d);
    free(*cx);
    *cx = NULL;
}

/* The scratch space, between rumor_catchup_start and rumor_catchup_stop. */
static struct catchup_ctx *scratch(daemon_t *d)
{
    return *rumor_daemon_catchup_slot(d);
}

/* A peer's anti-entropy state, or NULL when it has none yet. */
static struct catchup *peer_state(peer_t *p)
{
    return *rumor_peer_catchup_slot(p);
}

/* A peer's anti-entropy state, made on first use; NULL when out of memory. */
static struct catchup *state(peer_t *p)
{
    struct catchup **cu = rumor_peer_catchup_slot(p);
    if (!*cu) *cu = calloc(1, sizeof **cu);
    return *cu;
}

void rumor_catchup_peer_free(peer_t *p)
{
    struct catchup **slot = rumor_peer_catchup_slot(p), *cu = *slot;
    if (!cu) return;
    for (size_t i = 0; i < cu->n_x; i++) free(cu->x[i].held);
    free(cu->x);
    free(cu->jobs);
    free(cu);
    *slot = NULL;
}

static xchg_t *exchange(struct catchup *cu, const uint8_t topic[ID])
{
    for (size_t i = 0; i < cu->n_x; i++)
        if (memcmp(cu->x[i].topic, topic, ID) == 0) return &cu->x[i];
    if (cu->n_x == cu->cap_x) {
        size_t cap = cu->cap_x ? 2 * cu->cap_x : 8;
        xchg_t *nx = realloc(cu->x, cap * sizeof *nx);
        if (!nx) return NULL;
        cu->x = nx;
        cu->cap_x = cap;
    }
    xchg_t *x = &cu->x[cu->n_x++];
    memset(x, 0, sizeof *x);
    memcpy(x->topic, topic, ID);
    return x;
}

/* Of two peers, the one with the smaller key opens (12.3). */
static bool we_open(daemon_t *d, const peer_t *p)
{
    return memcmp(rumor_node_id(rumor_daemon_node(d)), rumor_peer_pk(p), ID) < 0;
}

static bool send_recon(daemon_t *d, peer_t *p, const rumor_recon_msg_t *m)
{
    rumor_wire_frame_t f;
    rumor_recon_frame(m, &f);
    size_t len = rumor_wire_encode(&f, scratch(d)->frame, sizeof scratch(d)->frame);
    if (!len) {
        rumor_daemon_log(d, LOG_ERROR, "could not encode a RECON frame");
        return false;
    }
    if (!rumor_daemon_send(d, p, scratch(d)->frame, len)) return false;
    rumor_daemon_stats(d)->recon_out++;
    rumor_daemon_stats(d)->recon_bytes_out += len;
    return true;
}

static void open_exchange(daemon_t *d, peer_t *p, xchg_t *x)
{
    rumor_txn_t *t;
    if (rumor_store_read_begin(rumor_daemon_store(d), &t) < 0) return;
    int rc = rumor_recon_open(t, x->topic, &scratch(d)->msg);
    rumor_store_read_end(&t);
    uint64_t now = rumor_daemon_loop_ms(d);
    x->next_ms = now + rumor_daemon_cfg(d)->recon_interval_ms;
    x->forced = false;
    if (rc < 0 || !send_recon(d, p, &scratch(d)->msg)) return;
    x->active = true;
    x->sent_round = 0;
    x->last_ms = now;
    rumor_daemon_stats(d)->recon_opened++;
    rumor_daemon_log(d, LOG_DEBUG, "exchange with %s opened (%zu ranges)", rumor_peer_hex8(p),
                     scratch(d)->msg.n);
}

/* Opens the exchanges that are due with one peer. */
static void open_due(daemon_t *d, peer_t *p)
{
    struct catchup *cu = state(p);
    if (!cu || !rumor_daemon_peer_ready(p)) return;
    uint64_t now = rumor_daemon_loop_ms(d);
    bool opener = we_open(d, p);
    for (size_t i = 0; i < rumor_daemon_topic_count(d); i++) {
        const uint8_t *topic = rumor_daemon_topic_id(d, i);
        if (rumor_is_zero(topic, ID) || !rumor_daemon_peer_subscribes(p, topic)) continue;
        xchg_t *x = exchange(cu, topic);
        if (!x) return;
        if (x->active && now - x->last_ms > EXCHANGE_TIMEOUT_MS) {
            release(d, cu, x);
            rumor_daemon_stats(d)->recon_timeouts++;
        }
        if (x->active || (!opener && !x->forced) || now < x->next_ms) continue;
        bool sending = false; /* what the last exchange found is still going out */
        for (size_t j = 0; j < cu->n_jobs && !sending; j++)
            sending = memcmp(cu->jobs[j].topic, topic, ID) == 0;
        if (!sending) open_exchange(d, p, x);
    }
}

void rumor_catchup_peer_ready(daemon_t *d, peer_t *p)
{
    struct catchup *cu = state(p);
    if (!cu) return;
    /* Every HELLO may come from a new process of the peer (a restart while our side still
     * held the old link): it starts with no credit from us and no exchange. Credit is capped
     * on the sender's side, so granting it again costs nothing; an exchange older than a
     * heartbeat belonged to the old process. */
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_CREDIT, .n = rumor_daemon_cfg(d)->recon_window};
    if (rumor_daemon_send_frame(d, p, &f)) rumor_daemon_stats(d)->credit_out++;
    uint64_t now = rumor_daemon_loop_ms(d);
    for (size_t i = 0; i < cu->n_x; i++) {
        xchg_t *x = &cu->x[i];
        if (x->active && now - x->last_ms > rumor_daemon_cfg(d)->heartbeat_ms) release(d, cu, x);
        x->next_ms = 0;
    }
}

void rumor_catchup_on_sub(daemon_t *d, peer_t *p)
{
    open_due(d, p);
}

/* ---- sending what a peer lacks ----------------------------------------------------- */

/*
 * A range the peer lacks waits in its exchange until the exchange ends:
 * rounds settle the newest ranges first (the peer holds nothing there) and
 * the one where both sides' histories meet last, but the events must go in
 * the order of 12.1, parents first, or the peer holds them as early.
 */
static int hold_job(void *ctx, const rumor_recon_job_t *job)
{
    peer_t *p = ((void **)ctx)[0];
    daemon_t *d = ((void **)ctx)[1];
    xchg_t *x = ((void **)ctx)[2];
    struct catchup *cu = peer_state(p);
    (void)cu;
    if (x->n_held >= HELD_FACTOR * (size_t)rumor_daemon_cfg(d)->recon_jobs_max) {
        rumor_daemon_stats(d)->recon_jobs_dropped++;
        x->forced = true; /* a new exchange finds it once the rest went out */
        x->next_ms = 0;
        return RUMOR_OK;
    }
    rumor_recon_job_t *nj = realloc(x->held, (x->n_held + 1) * sizeof *nj);
    if (!nj) return RUMOR_OK;
    x->held = nj;
    x->held[x->n_held++] = *job;
    return RUMOR_OK;
}

static int job_cmp(const void *a, const void *b)
{
    return rumor_bound_cmp(&((const rumor_recon_job_t *)a)->lo,
                           &((const rumor_recon_job_t *)b)->lo);
}

static bool queued(const struct catchup *cu, const rumor_recon_job_t *j)
{
    for (size_t i = 0; i < cu->n_jobs; i++)
        if (memcmp(cu->jobs[i].topic, j->topic, ID) == 0 &&
            rumor_bound_cmp(&cu->jobs[i].lo, &j->lo) == 0 &&
            rumor_bound_cmp(&cu->jobs[i].hi, &j->hi) == 0)
            return true;
    return false;
}

/*
 * The exchange ended: its ranges join the send queue in order, up to
 * recon_jobs_max in all. The lowest are kept: the others build on them,
 * and the next exchange finds what was left out.
 */
static void release(daemon_t *d, struct catchup *cu, xchg_t *x)
{
    x->active = false;
    if (!x->n_held) return;
    qsort(x->held, x->n_held, sizeof *x->held, job_cmp);
    rumor_recon_job_t *nj = realloc(cu->jobs, (cu->n_jobs + x->n_held) * sizeof *nj);
    if (nj) {
        cu->jobs = nj;
        for (size_t i = 0; i < x->n_held; i++) {
            if (queued(cu, &x->held[i])) continue; /* a repeat of a range still going out */
            if (cu->n_jobs >= rumor_daemon_cfg(d)->recon_jobs_max) {
                /* The rest waits for a new exchange, opened once these have gone out. */
                rumor_daemon_stats(d)->recon_jobs_dropped += x->n_held - i;
                x->forced = true;
                x->next_ms = 0;
                break;
            }
            cu->jobs[cu->n_jobs++] = x->held[i];
        }
    }
    free(x->held);
    x->held = NULL;
    x->n_held = 0;
}

static void want_ids(void *ctx, const uint8_t *ids, size_t n)
{
    peer_t *p = ((void **)ctx)[0];
    daemon_t *d = ((void **)ctx)[1];
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_IWANT, .ids = ids, .n = n};
    if (n && n <= RUMOR_WIRE_IDS_MAX && rumor_daemon_send_frame(d, p, &f))
        rumor_daemon_stats(d)->iwant_out++;
}

typedef struct {
    daemon_t *d;
    rumor_txn_t *t;
    uint8_t *out; /* the frame being filled */
    size_t used, cap;
    size_t n;          /* entries */
    uint64_t ev_bytes; /* their event bytes */
} fill_t;

static bool append(fill_t *c, const uint8_t *ev, size_t len)
{
    /* (used never exceeds cap, so this difference cannot wrap.) */
    if (c->n >= UINT16_MAX || c->cap - c->used < RUMOR_BATCH_ENTRY_BYTES + len) return false;
    rumor_put_u32(c->out + c->used, (uint32_t)len);
    memcpy(c->out + c->used + RUMOR_BATCH_ENTRY_BYTES, ev, len);
    c->used += RUMOR_BATCH_ENTRY_BYTES + len;
    c->n++;
    c->ev_bytes += len;
    return true;
}

static int fill_item(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    (void)lamport;
    fill_t *c = ctx;
    const uint8_t *ev;
    size_t len;
    if (rumor_store_event_get(c->t, id, &ev, &len) < 0) return 0; /* gone: skip it */
    if (c->cap - c->used < RUMOR_BATCH_ENTRY_BYTES + len) {
        if (c->n) return 1; /* the next frame takes it */
        /* Too big for any BATCH (12.2): the peer fetches it as a missing parent instead. */
        rumor_daemon_stats(c->d)->batch_too_big++;
        return 0;
    }
    append(c, ev, len);
    /* A new member's nick comes with its admission (12.4), when there is room. */
    rumor_event_t view;
    rumor_store_profile_t prof;
    const uint8_t *pev;
    size_t plen;
    if (ev[1] == RUMOR_EV_MEMBER_ADD && rumor_event_decode(ev, len, &view) == RUMOR_OK &&
        rumor_store_profile_get(c->t, view.target, &prof) == RUMOR_OK &&
        rumor_store_event_get(c->t, prof.set_by.event, &pev, &plen) == RUMOR_OK)
        append(c, pev, plen);
    return 0;
}

static uint32_t remaining(const struct catchup *cu)
{
    uint64_t n = 0;
    for (size_t i = 0; i < cu->n_jobs; i++)
        if (cu->jobs[i].total > cu->jobs[i].sent) n += cu->jobs[i].total - cu->jobs[i].sent;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void pop_job(struct catchup *cu)
{
    memmove(cu->jobs, cu->jobs + 1, (cu->n_jobs - 1) * sizeof *cu->jobs);
    cu->n_jobs--;
}

typedef struct {
    const uint8_t *frame; /* a BATCH frame as sent */
    size_t len;
    const uint8_t *self;
} unqueue_own_t;

/* Own events that went out in a BATCH have been handed to a peer: they leave the outbox. */
static int unqueue_own(rumor_txn_t *t, void *ctx)
{
    unqueue_own_t *u = ctx;
    rumor_wire_frame_t f;
    if (rumor_wire_decode(u->frame, u->len, &f) < 0) return RUMOR_OK;
    size_t pos = 0, len;
    const uint8_t *ev;
    while (rumor_wire_batch_next(&f, &pos, &ev, &len)) {
        rumor_event_t view;
        if (rumor_event_decode(ev, len, &view) < 0 || memcmp(view.author, u->self, ID) != 0)
            continue;
        int rc = rumor_store_outbox_del(t, view.id);
        if (rc < 0) return rc;
    }
    return RUMOR_OK;
}

/* Sends BATCH frames while the peer's credit lasts. */
static void pump(daemon_t *d, peer_t *p)
{
    struct catchup *cu = peer_state(p);
    while (cu && cu->credit && cu->n_jobs && !rumor_peer_dropped(p)) {
        rumor_txn_t *t;
        if (rumor_store_read_begin(rumor_daemon_store(d), &t) < 0) return;
        uint8_t topic[ID];
        memcpy(topic, cu->jobs[0].topic, ID);
        fill_t c = {.d = d,
                    .t = t,
                    .out = scratch(d)->frame,
                    .used = RUMOR_BATCH_HEADER_BYTES,
                    .cap = RUMOR_BATCH_FRAME_MAX};
        int rc = RUMOR_OK;
        bool outbox = rumor_store_outbox_count(t) > 0;
        /* The jobs as they were, to put back if the frame cannot be sent. */
        rumor_recon_job_t *saved = NULL;
        size_t n_saved = 0, popped = 0;
        while (cu->n_jobs && memcmp(cu->jobs[0].topic, topic, ID) == 0) {
            rumor_recon_job_t *ns = realloc(saved, (n_saved + 1) * sizeof *ns);
            if (!ns) {
                rc = RUMOR_ERR_NOMEM;
                break;
            }
            saved = ns;
            saved[n_saved++] = cu->jobs[0];
            bool done = false;
            rc = rumor_recon_job_walk(t, &cu->jobs[0], fill_item, &c, &done);
            if (rc < 0 || !done) break;
            pop_job(cu);
            popped++;
        }
        rumor_store_read_end(&t);
        if (rc == RUMOR_ERR_NOMEM) {
            free(saved);
            return; /* the heartbeat tries again */
        }
        if (rc < 0) {
            rumor_daemon_log(d, LOG_ERROR, "reading events for %s failed: %s", rumor_peer_hex8(p),
                             rumor_strerror(rc));
            free(saved);
            if (cu->n_jobs) pop_job(cu);
            continue;
        }
        if (!c.n) { /* the range held nothing (any more) */
            free(saved);
            continue;
        }
        rumor_wire_frame_t f = {
            .type = RUMOR_WIRE_BATCH, .topic = topic, .remaining = remaining(cu), .n = c.n};
        /* The entries are already in place behind the header: write the header around them. */
        scratch(d)->frame[0] = RUMOR_WIRE_VERSION;
        scratch(d)->frame[1] = RUMOR_WIRE_BATCH;
        memcpy(scratch(d)->frame + 2, topic, ID);
        rumor_put_u32(scratch(d)->frame + 2 + ID, f.remaining);
        rumor_put_u16(scratch(d)->frame + 2 + ID + 4, (uint16_t)c.n);
        if (!rumor_daemon_send(d, p, scratch(d)->frame, c.used)) {
            /* Not sent: the walk goes back to where it was, for the next try. */
            if (n_saved > popped) cu->jobs[0] = saved[n_saved - 1];
            rumor_recon_job_t *nj =
                popped ? realloc(cu->jobs, (cu->n_jobs + popped) * sizeof *nj) : cu->jobs;
            if (nj) {
                cu->jobs = nj;
                memmove(cu->jobs + popped, cu->jobs, cu->n_jobs * sizeof *nj);
                memcpy(cu->jobs, saved, popped * sizeof *nj);
                cu->n_jobs += popped;
            }
            free(saved);
            return;
        }
        free(saved);
        if (outbox) {
            unqueue_own_t u = {scratch(d)->frame, c.used, rumor_node_id(rumor_daemon_node(d))};
            rumor_store_write_as(rumor_daemon_store(d), RUMOR_STORE_BATCH, unqueue_own, &u);
        }
        cu->credit--;
        rumor_daemon_stats(d)->batch_out++;
        rumor_daemon_stats(d)->batch_events_out += c.n;
        rumor_daemon_stats(d)->batch_bytes_out += c.used;
        rumor_daemon_stats(d)->batch_event_bytes_out += c.ev_bytes;
    }
}

/* ---- frames ------------------------------------------------------------------------ */

static void on_recon(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    struct catchup *cu = state(p);
    rumor_daemon_stats(d)->recon_in++;
    if (!cu) return;
    if (!rumor_daemon_holds(d, f->topic) || rumor_is_zero(f->topic, ID)) {
        rumor_daemon_stats(d)->recon_refused++;
        return;
    }
    xchg_t *x = exchange(cu, f->topic);
    if (!x) return;
    uint64_t now = rumor_daemon_loop_ms(d);
    if (f->round >= rumor_daemon_cfg(d)->recon_rounds_max) {
        /* What it settled so far goes out; a fresh exchange takes up the rest soon (histories
         * that differ all over the order can take more rounds than one exchange allows). */
        rumor_daemon_stats(d)->recon_aborted++;
        release(d, cu, x);
        x->forced = true;
        x->next_ms = now + rumor_daemon_cfg(d)->heartbeat_ms;
        pump(d, p);
        return;
    }
    if (f->round == 0 && x->active && x->sent_round == 0 && we_open(d, p)) {
        /* Both opened at once: ours stands (the peer, not the opener, drops its own). */
        rumor_daemon_stats(d)->recon_limited++;
        return;
    }
    if (f->round == 0) {
        /* Each opening costs a walk of the topic: a few per peer and topic per heartbeat. */
        if (now - x->opens_ms >= rumor_daemon_cfg(d)->heartbeat_ms) x->opens_ms = now, x->opens = 0;
        if (++x->opens > OPENS_PER_BEAT) {
            rumor_daemon_stats(d)->recon_limited++;
            return;
        }
    } else if (!x->active || f->round != (uint8_t)(x->sent_round + 1)) {
        /* Only the answer to our last frame is taken: anything else would be a free walk. */
        rumor_daemon_stats(d)->recon_limited++;
        return;
    }
    rumor_txn_t *t;
    if (rumor_store_read_begin(rumor_daemon_store(d), &t) < 0) return;
    uint8_t role;
    /* A domain restored from a backup has no members in our store yet to judge the peer by; we
     * hold only what members sent us of it (PROTOCOL.md 5.4). */
    if (rumor_store_member_get(t, f->topic, rumor_peer_pk(p), &role) != RUMOR_OK &&
        !rumor_node_restoring_has(t, f->topic) && !rumor_daemon_told_of(d, f->topic)) {
        rumor_store_read_end(&t);
        rumor_daemon_stats(d)->recon_refused++;
        return;
    }
    void *ctx[3] = {p, d, x};
    rumor_recon_sink_t sink = {hold_job, want_ids, ctx};
    int rc = rumor_recon_answer(t, f, &scratch(d)->msg, &sink);
    rumor_store_read_end(&t);
    x->last_ms = now;
    rumor_daemon_log(d, LOG_DEBUG, "RECON round %u from %s (%zu ranges): %d, %zu ranges back",
                     f->round, rumor_peer_hex8(p), f->n, rc, scratch(d)->msg.n);
    bool ending = f->n == 1 && f->ranges[0].mode == RUMOR_RECON_SKIP;
    if (rc == 1 && send_recon(d, p, &scratch(d)->msg)) {
        x->active = true;
        x->sent_round = scratch(d)->msg.round;
    } else {
        if (rc < 0)
            rumor_daemon_log(d, LOG_ERROR, "answering %s's RECON failed: %s", rumor_peer_hex8(p),
                             rumor_strerror(rc));
        /* Settled. The all-SKIP answer tells the peer so (and is itself never answered). */
        if (rc == 0) rumor_daemon_stats(d)->recon_done++;
        if (rc == 0 && !ending) send_recon(d, p, &scratch(d)->msg);
        release(d, cu, x);
    }
    pump(d, p);
}

static void on_batch(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f, size_t len)
{
    struct catchup *cu = state(p);
    if (!cu) return;
    rumor_daemon_stats(d)->batch_in++;
    rumor_daemon_stats(d)->batch_bytes_in += len;
    cu->owed++;
    if (!rumor_daemon_holds(d, f->topic)) {
        rumor_daemon_stats(d)->recon_refused++;
        return;
    }
    uint64_t now = rumor_daemon_loop_ms(d); /* the loop's monotonic clock, not the wall */
    cu->in_last_ms = now;
    if (!cu->in_active) {
        cu->in_active = true;
        cu->in_start_ms = cu->in_log_ms = now;
        cu->in_events = cu->in_new = 0;
        if (f->remaining)
            rumor_daemon_log(d, LOG_INFO, "catching up from %s: %zu events, %u more to come",
                             rumor_peer_hex8(p), f->n, f->remaining);
    } else if (now - cu->in_log_ms >= PROGRESS_LOG_MS) {
        cu->in_log_ms = now;
        rumor_daemon_log(d, LOG_INFO, "catching up from %s: %llu events in, %u to come",
                         rumor_peer_hex8(p), (unsigned long long)cu->in_events, f->remaining);
    }
    /* Set before the events go in: a full batch commits in the middle of this loop. */
    cu->in_remaining = f->remaining;
    uint8_t *ef = scratch(d)->event_frame;
    ef[0] = RUMOR_WIRE_VERSION;
    ef[1] = RUMOR_WIRE_EVENT;
    size_t pos = 0, elen;
    const uint8_t *ev;
    cu->in_feeding = true;
    rumor_daemon_add_drain_cost(d, f->n); /* a BATCH is many frames' worth of work for the loop */
    while (rumor_wire_batch_next(f, &pos, &ev, &elen)) {
        memcpy(ef + 2, ev, elen);
        rumor_daemon_stats(d)->batch_events_in++;
        rumor_daemon_stats(d)->batch_event_bytes_in += elen;
        cu->in_events++;
        rumor_daemon_queue_event(d, p, ef, elen + 2, ORIGIN_BATCH);
    }
    cu->in_feeding = false;
    size_t i = 0;
    while (i < cu->n_fresh && memcmp(cu->fresh[i], f->topic, ID) != 0) i++;
    if (i == cu->n_fresh && cu->n_fresh < FRESH_MAX) memcpy(cu->fresh[cu->n_fresh++], f->topic, ID);
}

void rumor_catchup_on_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f, size_t len)
{
    switch (f->type) {
    case RUMOR_WIRE_RECON:
        rumor_daemon_stats(d)->recon_bytes_in += len;
        on_recon(d, p, f);
        break;
    case RUMOR_WIRE_BATCH: on_batch(d, p, f, len); break;
    case RUMOR_WIRE_CREDIT: {
        struct catchup *cu = state(p);
        rumor_daemon_stats(d)->credit_in++;
        if (!cu) return;
        /* Credit only paces our sending; a peer cannot make us hold more than the cap. */
        cu->credit = cu->credit + f->n > RUMOR_CREDIT_MAX ? RUMOR_CREDIT_MAX : cu->credit + f->n;
        cu->credit_ms = rumor_daemon_loop_ms(d);
        pump(d, p);
        break;
    }
    default: break;
    }
}

/* A stored catch-up event: counted for its peer's progress. */
void rumor_catchup_stored(daemon_t *d, const uint8_t from[ID])
{
    (void)d;
    for (peer_t *p = rumor_daemon_peers(d); p; p = rumor_peer_next(p))
        if (peer_state(p) && memcmp(rumor_peer_pk(p), from, ID) == 0) {
            peer_state(p)->in_new++;
            return;
        }
}

/* Other peers may lack what a catch-up brought: reconcile those topics with them now. */
static void pass_on(daemon_t *d, peer_t *from)
{
    struct catchup *cu = peer_state(from);
    for (peer_t *p = rumor_daemon_peers(d); p; p = rumor_peer_next(p)) {
        if (p == from || !rumor_daemon_peer_ready(p) || !state(p)) continue;
        for (size_t i = 0; i < cu->n_fresh; i++) {
            if (!rumor_daemon_peer_subscribes(p, cu->fresh[i])) continue;
            xchg_t *x = exchange(peer_state(p), cu->fresh[i]);
            /* (One running now may have summed its ranges before the news: another follows.) */
            if (x) x->forced = true, x->next_ms = 0;
        }
    }
}

void rumor_catchup_committed(daemon_t *d)
{
    uint64_t now = rumor_daemon_loop_ms(d);
    for (peer_t *p = rumor_daemon_peers(d); p; p = rumor_peer_next(p)) {
        struct catchup *cu = peer_state(p);
        if (!cu || rumor_peer_dropped(p)) continue;
        while (cu->owed) {
            uint32_t n = cu->owed > RUMOR_CREDIT_MAX ? RUMOR_CREDIT_MAX : cu->owed;
            rumor_wire_frame_t f = {.type = RUMOR_WIRE_CREDIT, .n = n};
            if (!rumor_daemon_send_frame(d, p, &f)) break;
            rumor_daemon_stats(d)->credit_out++;
            cu->owed -= n;
        }
        if (cu->in_active && !cu->in_feeding && cu->in_remaining == 0) {
            cu->in_active = false;
            rumor_daemon_log(d, cu->in_events >= 100 ? LOG_INFO : LOG_DEBUG,
                             "caught up from %s: %llu events (%llu new) in %llu ms",
                             rumor_peer_hex8(p), (unsigned long long)cu->in_events,
                             (unsigned long long)cu->in_new,
                             (unsigned long long)(now - cu->in_start_ms));
            if (cu->in_new) pass_on(d, p);
            cu->n_fresh = 0;
        }
    }
}

void rumor_catchup_heartbeat(daemon_t *d)
{
    uint64_t now = rumor_daemon_loop_ms(d);
    for (peer_t *p = rumor_daemon_peers(d); p; p = rumor_peer_next(p)) {
        struct catchup *cu = peer_state(p);
        if (rumor_peer_dropped(p) || !rumor_daemon_peer_ready(p)) continue;
        if (cu && !cu->credit && cu->n_jobs && now - cu->credit_ms > CREDIT_PROBE_MS) {
            cu->credit = 1;
            cu->credit_ms = now;
            rumor_daemon_stats(d)->credit_probes++;
        }
        if (cu && cu->in_active && now - cu->in_last_ms > CATCHUP_STALL_MS) {
            cu->in_active = false;
            rumor_daemon_log(
                d, LOG_WARN, "catch-up from %s stopped: %llu events in, %u were still to come",
                rumor_peer_hex8(p), (unsigned long long)cu->in_events, cu->in_remaining);
        }
        open_due(d, p);
        pump(d, p);
    }
}

void rumor_catchup_progress(daemon_t *d, rumor_catchup_progress_t *out)
{
    memset(out, 0, sizeof *out);
    for (peer_t *p = rumor_daemon_peers(d); p; p = rumor_peer_next(p)) {
        struct catchup *cu = peer_state(p);
        if (!cu || rumor_peer_dropped(p)) continue;
        if (cu->in_active) {
            out->peers_in++;
            out->events_in += cu->in_events;
            out->remaining_in += cu->in_remaining;
        }
        if (cu->n_jobs) {
            out->peers_out++;
            out->remaining_out += remaining(cu);
        }
        for (size_t i = 0; i < cu->n_x; i++) out->exchanges += cu->x[i].active;
    }
}
