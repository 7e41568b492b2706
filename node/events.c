/*
 * events.c - events into the store and out to the mesh (PROTOCOL.md 9.3, 9.7): peer events,
 * events waiting for their parents, and the node's own events from the outbox.
 *
 * Events from peers are collected while sockets drain and validated in one
 * store transaction per burst (batch commits). A new valid event is pushed
 * to the mesh inside that transaction, before the commit: relays do not wait
 * for their disk. A node's own events are committed durably by the command
 * that made them before the node sees them (the outbox).
 */
#include "daemon_core.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* (Author, domain) and (peer, domain) pairs whose rates are kept (the least recently heard gives
 * way). */
#define RATES_TRACKED 1024

/* ---- peer events waiting for their batch transaction ---------------------------- */

typedef struct {
    uint8_t from[ID];  /* the peer it came from */
    bool by_sync;      /* an answer to our SYNC or a BATCH: stored, not forwarded */
    bool by_batch;     /* from a BATCH (anti-entropy) */
    bool forwarded;    /* pushed already (a transaction rerun must not push again) */
    bool retried;      /* came back from the pending set */
    bool stored;       /* stored by the current attempt of the transaction */
    uint8_t topic[ID]; /* its topic, once stored */
    uint64_t valid_ms; /* wall clock when it was found valid (and pushed on) */
    bool counted;      /* stats taken already */
    bool rated;        /* its rates were spent (PROTOCOL.md 9.7) */
    bool over_rate;    /* dropped over a rate: not stored, not seen */
    size_t len;
    uint8_t *frame; /* the whole EVENT frame: version | type | event */
} bentry_t;

struct batch {
    bentry_t *e;
    size_t n, cap;
    bool topics_changed; /* a create or membership change came in */
};

static struct batch *batch_new(size_t cap)
{
    struct batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cap = cap ? cap : 1;
    b->e = calloc(b->cap, sizeof *b->e);
    if (!b->e) {
        free(b);
        return NULL;
    }
    return b;
}

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->e[i].frame);
    b->n = 0;
}

static void batch_free(struct batch **b)
{
    if (!*b) return;
    batch_clear(*b);
    free((*b)->e);
    free(*b);
    *b = NULL;
}

int rumor_events_open(daemon_t *d)
{
    const rumor_node_config_t *cfg = d->cfg;
    rumor_gossip_rate_t author_events = {cfg->author_events_per_s, 10.0 * cfg->author_events_per_s};
    rumor_gossip_rate_t author_bytes = {cfg->author_bytes_per_s, 10.0 * cfg->author_bytes_per_s};
    rumor_gossip_rate_t topic_bytes = {cfg->peer_topic_bytes_per_s,
                                       2.0 * cfg->peer_topic_bytes_per_s};
    d->batch = batch_new(cfg->batch_max);
    if (!d->batch || rumor_gossip_pending_init(&d->pending, cfg->pending_max) < 0 ||
        rumor_gossip_quota_init(&d->authors, RATES_TRACKED, author_events, author_bytes) < 0 ||
        rumor_gossip_quota_init(&d->peer_topics, RATES_TRACKED, (rumor_gossip_rate_t){0, 0},
                                topic_bytes) < 0)
        return RUMOR_ERR_NOMEM;
    return RUMOR_OK;
}

void rumor_events_close(daemon_t *d)
{
    rumor_gossip_quota_free(&d->authors);
    rumor_gossip_quota_free(&d->peer_topics);
    batch_free(&d->batch);
    rumor_gossip_pending_free(&d->pending);
}

/* ---- events ----------------------------------------------------------------------- */

/* The topic an event travels in (section 9.3). RUMOR_ERR_NOT_FOUND for a room we do not hold. */
int rumor_events_topic(rumor_txn_t *t, const rumor_event_t *ev, uint8_t topic[ID])
{
    if (ev->type == RUMOR_EV_PROFILE) {
        memset(topic, 0, ID);
        return RUMOR_OK;
    }
    if (rumor_is_zero(ev->room, ID)) {
        memcpy(topic, ev->id, ID);
        return RUMOR_OK;
    }
    return rumor_gossip_key_domain(t, ev->room, topic);
}

/*
 * Counts and traces a delivery and tells followers. Called only for events
 * that are committed (followers read them from the store): peer events once
 * their batch committed, own events (committed by the CLI) when flushed.
 */
static void record_delivery(daemon_t *d, const rumor_event_t *ev, const uint8_t *from,
                            uint64_t valid_ms)
{
    uint64_t now = rumor_now_ms();
    if (!valid_ms) valid_ms = now;
    if (ev->type == RUMOR_EV_MESSAGE && from) {
        uint64_t lat = now > ev->ts ? now - ev->ts : 0;
        size_t b = 0;
        while (b < RUMOR_LATENCY_BUCKETS - 1 && lat > rumor_latency_bounds_ms[b]) b++;
        d->latency[b]++;
    }
    if (d->trace) {
        char id[RUMOR_ID_HEX + 1], room[RUMOR_ID_HEX + 1], author[RUMOR_ID_HEX + 1];
        char src[RUMOR_ID_HEX + 1] = "self";
        rumor_hex_encode(id, ev->id, ID);
        rumor_hex_encode(room, ev->room, ID);
        rumor_hex_encode(author, ev->author, ID);
        if (from) rumor_hex_encode(src, from, ID);
        fprintf(d->trace,
                "{\"t_ms\":%llu,\"v_ms\":%llu,\"id\":\"%s\",\"room\":\"%s\",\"author\":\"%s\","
                "\"ts\":%llu,\"type\":%u,\"from\":\"%s\"}\n",
                (unsigned long long)now, (unsigned long long)valid_ms, id, room, author,
                (unsigned long long)ev->ts, ev->type, src);
    }
    if (ev->type == RUMOR_EV_MESSAGE) rumor_ctl_notify(d, ev->room, ev->id);
}

/* Asks for an event's missing parents (not stored, not pending) from the peer that sent it. */
static void ask_parents(daemon_t *d, rumor_txn_t *t, const rumor_event_t *ev, const uint8_t *from)
{
    uint8_t want[RUMOR_WIRE_IDS_MAX * ID];
    size_t n = 0;
    for (size_t k = 0; k < ev->n_parents && n < RUMOR_WIRE_IDS_MAX; k++) {
        const uint8_t *pid = ev->parents + k * ID;
        if (!rumor_store_event_has(t, pid) && !rumor_gossip_pending_has(&d->pending, pid))
            memcpy(want + ID * n++, pid, ID);
    }
    peer_t *p = rumor_peers_find(d, from);
    if (!n || !p || p->eh == RUMOR_ENGINE_NONE) return;
    rumor_engine_want(d->engine, p->eh, want, n, rumor_daemon_loop_ms(d));
    rumor_daemon_engine_run(d);
}

/* Keeps an event whose parents are missing, indexed by them, and asks for them. */
static void keep_pending(daemon_t *d, rumor_txn_t *t, bentry_t *e, const rumor_event_t *ev)
{
    rumor_gossip_pend_t x = {.by_sync = e->by_sync, .by_batch = e->by_batch, .len = e->len};
    memcpy(x.id, ev->id, ID);
    memcpy(x.from, e->from, ID);
    for (size_t k = 0; k < ev->n_parents && x.n_missing < RUMOR_MAX_PARENTS; k++)
        if (!rumor_store_event_has(t, ev->parents + k * ID))
            memcpy(x.missing[x.n_missing++], ev->parents + k * ID, ID);
    /* Anyone can sign an event with made-up parents: one peer fills at most a quarter. */
    int rc = rumor_gossip_pending_add(&d->pending, &x, e->frame, rumor_daemon_loop_ms(d));
    if (rc == RUMOR_ERR_BUSY) d->stats.pending_dropped++;
    if (rc == RUMOR_OK) ask_parents(d, t, ev, e->from);
}

/* Event `id` was stored: the pending events that waited for it alone join the batch (in the same
 * transaction); returns how many. */
static size_t release_pending(daemon_t *d, const uint8_t id[ID])
{
    struct batch *b = d->batch;
    rumor_gossip_pend_t out[16];
    size_t moved = 0, n;
    do {
        n = rumor_gossip_pending_arrived(&d->pending, id, out, 16);
        for (size_t i = 0; i < n; i++) {
            if (b->n >= b->cap) {
                bentry_t *ne = realloc(b->e, 2 * b->cap * sizeof *ne);
                if (!ne) {
                    free(out[i].frame); /* anti-entropy fetches it again */
                    d->stats.pending_dropped++;
                    continue;
                }
                b->e = ne;
                b->cap *= 2;
            }
            bentry_t *e = &b->e[b->n++];
            memset(e, 0, sizeof *e);
            memcpy(e->from, out[i].from, ID);
            e->frame = out[i].frame;
            e->len = out[i].len;
            e->by_sync = out[i].by_sync;
            e->by_batch = out[i].by_batch;
            e->retried = true;
            moved++;
        }
    } while (n == 16);
    return moved;
}

/* A pushed event `ev` from `from` was a duplicate: the engine learns of it (in tree mode the link
 * closed a cycle). Its topic is looked up only when the strategy needs it: duplicates are the
 * common case of gossipsub, and the seen cache spares them the store. */
static void duplicate(daemon_t *d, rumor_txn_t *t, const uint8_t from[ID], const rumor_event_t *ev,
                      const uint8_t *topic)
{
    peer_t *p = rumor_peers_find(d, from);
    uint8_t buf[ID];
    if (!rumor_engine_wants_duplicates(d->engine) || !p || p->eh == RUMOR_ENGINE_NONE) return;
    rumor_txn_t *own = NULL;
    if (!topic) {
        if (!t && rumor_store_read_begin(d->node->store, &own) < 0) return;
        if (rumor_events_topic(t ? t : own, ev, buf) == RUMOR_OK) topic = buf;
        if (own) rumor_store_read_end(&own);
    }
    if (topic) rumor_engine_duplicate(d->engine, p->eh, topic, ev->id, rumor_daemon_loop_ms(d));
    rumor_daemon_engine_run(d);
}

/* Counts an invalid event once, against its sender too (too many and it is banned). `intrinsic`:
 * the event itself is bad (malformed, too big, a bad signature), which no honest node relays; a
 * refusal by the rules may be our store lagging behind the sender's, and costs no score. */
static void count_invalid(daemon_t *d, bentry_t *e, bool intrinsic)
{
    if (e->counted) return;
    e->counted = true;
    d->stats.invalid++;
    rumor_peers_invalid(d, e->from, intrinsic);
}

/*
 * Pushed events are rationed per peer and domain, then per author and domain (PROTOCOL.md 9.7):
 * past a rate they are dropped unseen, before their signature is checked, and come by catch-up.
 * Decided once per entry, so a rerun of the transaction spends nothing again.
 */
static bool over_rate(daemon_t *d, bentry_t *e, const rumor_event_t *ev, const uint8_t topic[ID])
{
    if (e->rated) return e->over_rate;
    e->rated = true;
    uint64_t now = rumor_daemon_loop_ms(d);
    size_t bytes = e->len - 2;
    if (!rumor_gossip_quota_spend(&d->peer_topics, e->from, topic, bytes, now)) {
        d->stats.topic_throttled++;
        e->over_rate = true;
        rumor_peers_over_rate(d, rumor_peers_find(d, e->from));
    } else if (!rumor_gossip_quota_spend(&d->authors, ev->author, topic, bytes, now)) {
        d->stats.author_throttled++;
        e->over_rate = true;
    }
    return e->over_rate;
}

/*
 * Validates and stores a batch of peer events in one transaction, pushing
 * each new one on at once. The store may run this again from the start (a
 * grown map): everything here is either inside the transaction or guarded
 * by a flag of the entry; what must only follow a commit (seen cache,
 * message cache, trace, followers) happens in process_batch.
 */
static int batch_fn(rumor_txn_t *t, void *ctx)
{
    daemon_t *d = ctx;
    struct batch *b = d->batch;
    for (size_t i = 0; i < b->n; i++) b->e[i].stored = false;
    for (size_t i = 0;; i++) {
        /* Pending events whose parents came are appended as they come (release_pending). */
        if (i == b->n) break;
        bentry_t *e = &b->e[i];
        const uint8_t *buf = e->frame + 2;
        size_t len = e->len - 2;
        rumor_event_t ev;
        uint8_t topic[ID];
        if (rumor_event_decode(buf, len, &ev) < 0) {
            /* The frame decoder checked the size only: this is an invalid event. */
            count_invalid(d, e, true);
            continue;
        }
        if (rumor_engine_seen(d->engine, ev.id)) {
            if (!e->counted) {
                d->stats.duplicates++, d->stats.seen_hits++, e->counted = true;
                if (!e->by_sync && !e->retried) duplicate(d, t, e->from, &ev, NULL);
            }
            continue;
        }
        int rc = rumor_events_topic(t, &ev, topic);
        if (rc == RUMOR_ERR_NOT_FOUND && e->by_batch) {
            /* A catch-up event of a room whose create is still on its way: early, not foreign. */
            if (!e->counted && !e->retried) d->stats.missing_parent++;
            e->counted = true;
            keep_pending(d, t, e, &ev);
            continue;
        }
        if (rc == RUMOR_ERR_NOT_FOUND ||
            (rc == RUMOR_OK && !rumor_daemon_topic(d, topic) && !rumor_join_syncing(d, topic))) {
            /* Not a topic we hold: without its room we cannot judge it. */
            if (!e->counted) d->stats.unsubscribed++, e->counted = true;
            continue;
        }
        if (rc < 0) return rc;
        if (!e->by_sync && !e->retried && over_rate(d, e, &ev, topic)) continue;
        rumor_gossip_counters_t c = {0};
        rc = rumor_gossip_ingest(t, d->node->id, buf, len, NULL, &c);
        if (rc == RUMOR_ERR_EXISTS) {
            /* A duplicate, or a PROFILE not kept (superseded, or a stranger's): not forwarded. */
            if (!e->counted) {
                e->counted = true;
                d->stats.profiles_superseded += c.superseded;
                d->stats.profiles_strangers += c.strangers;
                d->stats.duplicates += !c.superseded && !c.strangers;
                if (!c.superseded && !c.strangers && !e->by_sync && !e->retried)
                    duplicate(d, t, e->from, &ev, topic);
            }
            continue;
        }
        if (rc == RUMOR_ERR_MISSING_PARENT) {
            /* Signed and well-formed, but early: keep it and fetch what it builds on. */
            if (!e->counted && !e->retried) d->stats.missing_parent++;
            e->counted = true;
            keep_pending(d, t, e, &ev);
            continue;
        }
        if (rc == RUMOR_ERR_MALFORMED || rc == RUMOR_ERR_TOO_BIG || rc == RUMOR_ERR_BAD_SIGNATURE ||
            rc == RUMOR_ERR_DENIED) {
            count_invalid(d, e, rc != RUMOR_ERR_DENIED);
            continue;
        }
        if (rc < 0) return rc; /* the store failed: abort the transaction */
        /* Stored and relayed, but without effect (PROTOCOL.md 7.3): counted. */
        if (c.ignored) d->stats.ignored++;
        /* Any change of rights or of the tree may change what we subscribe to, and may make a
         * rotation due. */
        if (ev.type != RUMOR_EV_MESSAGE && ev.type != RUMOR_EV_PROFILE) {
            b->topics_changed = true;
            topic_t *tp = rumor_daemon_topic(d, topic);
            if (tp) tp->rights_changed = true;
        }
        if (!e->by_sync && !e->forwarded) {
            e->forwarded = true;
            peer_t *from = rumor_peers_find(d, e->from);
            rumor_engine_push(d->engine, topic, e->frame, e->len,
                              from ? from->eh : RUMOR_ENGINE_NONE);
            rumor_daemon_engine_run(d);
        }
        e->stored = true;
        e->valid_ms = rumor_now_ms();
        memcpy(e->topic, topic, ID);
        if (d->pending.n) release_pending(d, ev.id);
    }
    return RUMOR_OK;
}

void rumor_events_process_batch(daemon_t *d)
{
    struct batch *b = d->batch;
    if (!b->n) {
        rumor_catchup_committed(d);
        return;
    }
    b->topics_changed = false;
    int rc = rumor_store_write_as(d->node->store, RUMOR_STORE_BATCH, batch_fn, d);
    d->stats.commits++;
    if (rc < 0)
        rumor_daemon_log(d, LOG_ERROR, "storing %zu peer events failed: %s", b->n,
                         rumor_strerror(rc));
    for (size_t i = 0; rc == RUMOR_OK && i < b->n; i++) {
        bentry_t *e = &b->e[i];
        rumor_event_t ev;
        if (!e->stored || rumor_event_decode(e->frame + 2, e->len - 2, &ev) < 0) continue;
        d->stats.delivered++;
        if (e->retried) d->stats.pending_resolved++;
        if (e->by_batch) {
            d->stats.catchup_events_in++;
            rumor_catchup_stored(d, e->from);
        } else if (e->by_sync) {
            d->stats.sync_events_in++;
        }
        rumor_engine_saw(d->engine, ev.id, rumor_daemon_loop_ms(d));
        if (!e->by_sync) rumor_engine_announce(d->engine, e->topic, ev.id);
        if (e->by_sync) rumor_engine_fetched(d->engine, ev.id, rumor_daemon_loop_ms(d));
        record_delivery(d, &ev, e->from, e->valid_ms);
    }
    /* Ids of events that were not stored must not block a later, good copy. */
    batch_clear(b);
    if (d->trace) fflush(d->trace);
    if (b->topics_changed) rumor_daemon_resubscribe(d);
    rumor_catchup_committed(d);
}

void rumor_daemon_queue_event(daemon_t *d, peer_t *p, const uint8_t *frame, size_t len, int origin)
{
    struct batch *b = d->batch;
    /* Most copies of an event are duplicates from other mesh peers: drop them here, before any
     * copy, transaction or signature check. */
    rumor_event_t ev;
    d->stats.received++;
    bool decoded = rumor_event_decode(frame + 2, len - 2, &ev) == RUMOR_OK;
    /* Whoever announced it kept its promise, whatever becomes of this copy (pending, over a
     * quota, refused): an invalid one costs its sender instead (P4). */
    if (decoded && origin == ORIGIN_PUSH) rumor_engine_arrived(d->engine, ev.id);
    if (decoded && rumor_engine_seen(d->engine, ev.id)) {
        d->stats.duplicates++;
        d->stats.seen_hits++;
        if (origin == ORIGIN_PUSH) duplicate(d, NULL, p->pk, &ev, NULL);
        return;
    }
    if (b->n >= d->cfg->batch_max || b->n >= b->cap) rumor_events_process_batch(d);
    uint8_t *copy = malloc(len);
    if (!copy) return;
    memcpy(copy, frame, len);
    bentry_t *e = &b->e[b->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->from, p->pk, ID);
    e->by_sync = origin != ORIGIN_PUSH;
    e->by_batch = origin == ORIGIN_BATCH;
    e->frame = copy;
    e->len = len;
}

/* ---- own events: the outbox ------------------------------------------------------- */

/* Own events handed to peers per flush at most (the rest go at the next heartbeat). */
#define FLUSH_MAX 1024

/* Outbox entries looked at per flush at most. */
#define OUTBOX_SCAN_MAX 65536

typedef struct {
    uint64_t lamport;
    uint8_t id[ID];
} outbox_entry_t;

typedef struct {
    rumor_txn_t *t;
    outbox_entry_t *e;
    size_t n, cap;
} outbox_scan_t;

static int outbox_collect(void *ctx, const uint8_t id[ID])
{
    outbox_scan_t *o = ctx;
    const uint8_t *buf;
    size_t len;
    if (o->n >= o->cap) return 1;
    if (rumor_store_event_get(o->t, id, &buf, &len) < 0 || len < RUMOR_EVENT_FIXED) return 0;
    o->e[o->n].lamport = rumor_get_u64(buf + 66);
    memcpy(o->e[o->n].id, id, ID);
    o->n++;
    return 0;
}

/* Causal order: a parent has a smaller lamport than its children (section 4.1). */
static int outbox_cmp(const void *a, const void *b)
{
    const outbox_entry_t *x = a, *y = b;
    if (x->lamport != y->lamport) return x->lamport < y->lamport ? -1 : 1;
    return memcmp(x->id, y->id, ID);
}

typedef struct {
    outbox_entry_t *e;
    size_t n;
} unqueue_t;

static int unqueue_fn(rumor_txn_t *t, void *ctx)
{
    unqueue_t *u = ctx;
    for (size_t i = 0; i < u->n; i++) {
        int rc = rumor_store_outbox_del(t, u->e[i].id);
        if (rc < 0 && rc != RUMOR_ERR_NOT_FOUND) return rc;
    }
    return RUMOR_OK;
}

/*
 * Pushes own events from the outbox in causal order (the outbox is keyed by
 * id, which is no order at all), so receivers never get a child before its
 * parent, and removes those a peer took.
 */
void rumor_daemon_flush(daemon_t *d)
{
    rumor_txn_t *t;
    outbox_scan_t o = {.cap = OUTBOX_SCAN_MAX};
    uint8_t *frame = malloc(RUMOR_WIRE_FRAME_MAX);
    outbox_entry_t *sent = malloc(FLUSH_MAX * sizeof *sent);
    size_t n_sent = 0;
    bool topics_changed = false;
    o.e = malloc(o.cap * sizeof *o.e);
    if (!frame || !sent || !o.e || rumor_store_read_begin(d->node->store, &t) < 0) goto out;
    o.t = t;
    rumor_store_outbox_each(t, outbox_collect, &o);
    qsort(o.e, o.n, sizeof *o.e, outbox_cmp);
    for (size_t i = 0; i < o.n && i < FLUSH_MAX; i++) {
        const uint8_t *buf;
        size_t len;
        rumor_event_t ev;
        uint8_t topic[ID];
        if (rumor_store_event_get(t, o.e[i].id, &buf, &len) < 0 || len > RUMOR_EVENT_MAX ||
            rumor_event_decode(buf, len, &ev) < 0 || rumor_events_topic(t, &ev, topic) < 0)
            continue;
        frame[0] = RUMOR_WIRE_VERSION;
        frame[1] = RUMOR_WIRE_EVENT;
        memcpy(frame + 2, buf, len);
        if (!rumor_engine_seen(d->engine, ev.id)) {
            rumor_engine_saw(d->engine, ev.id, rumor_daemon_loop_ms(d));
            record_delivery(d, &ev, NULL, 0);
            topics_changed |= ev.type == RUMOR_EV_ROOM_CREATE || ev.type == RUMOR_EV_MEMBER_ADD ||
                              ev.type == RUMOR_EV_MEMBER_REMOVE;
        }
        rumor_engine_push(d->engine, topic, frame, len + 2, RUMOR_ENGINE_NONE);
        uint64_t forwarded = d->stats.forwarded;
        rumor_daemon_engine_run(d);
        if (d->stats.forwarded > forwarded) {
            /* Announced (IHAVE) only once it is out, in the order it went out. */
            rumor_engine_announce(d->engine, topic, ev.id);
            d->stats.published++;
            sent[n_sent++] = o.e[i];
        }
    }
    rumor_store_read_end(&t);
    if (n_sent) {
        unqueue_t u = {sent, n_sent};
        rumor_store_write_as(d->node->store, RUMOR_STORE_BATCH, unqueue_fn, &u);
    }
out:
    free(o.e);
    free(sent);
    free(frame);
    if (topics_changed) rumor_daemon_resubscribe(d);
}
