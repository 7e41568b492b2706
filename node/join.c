/*
 * join.c - redeeming an invite (PROTOCOL.md 10.2): JOIN to the inviter, its JOINED, then the
 * history of the room's key domain by SYNC until SYNC_END says there is no more; and the
 * inviter's side, which answers JOIN and SYNC.
 */
#include "daemon_core.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* A join gives up after this long. */
#define JOIN_TIMEOUT_MS 60000

/* Rooms one join syncs at most (a key room and its shared sub-rooms). */
#define JOIN_ROOMS_MAX 256

enum { JOIN_DIAL, JOIN_SENT, JOIN_SYNC };

struct join {
    rumor_invite_t inv;
    rumor_join_done_fn done; /* NULL once cancelled */
    void *ctx;
    int state;
    uint64_t deadline_ms;
    uint8_t (*rooms)[ID]; /* rooms to sync: the key room, then its shared sub-rooms */
    size_t n_rooms, cur;
    uint64_t want_lamport; /* the cursor of the SYNC in flight */
    uint8_t want_id[ID];
    bool stalled; /* the inviter's answer budget ran out: ask again at the next heartbeat */
    struct join *next;
};

/* ---- joining ---------------------------------------------------------------------- */

static void join_finish(daemon_t *d, struct join *j, int rc)
{
    for (struct join **q = &d->joins; *q; q = &(*q)->next)
        if (*q == j) {
            *q = j->next;
            break;
        }
    if (rc == RUMOR_OK) rumor_daemon_resubscribe(d);
    if (j->done) j->done(j->ctx, rc, j->inv.room);
    rumor_daemon_log(d, rc == RUMOR_OK ? LOG_INFO : LOG_WARN, "join of %02x%02x%02x%02x: %s",
                     j->inv.room[0], j->inv.room[1], j->inv.room[2], j->inv.room[3],
                     rc == RUMOR_OK ? "done" : rumor_strerror(rc));
    sodium_memzero(j->inv.token, sizeof j->inv.token);
    free(j->rooms);
    free(j);
}

static void join_send_sync(daemon_t *d, struct join *j, peer_t *p, uint64_t lamport,
                           const uint8_t *after)
{
    static const uint8_t zero[ID];
    j->want_lamport = lamport;
    memcpy(j->want_id, after ? after : zero, ID);
    j->stalled = false;
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_SYNC,
                            .topic = j->rooms[j->cur],
                            .lamport = lamport,
                            .cursor_id = after ? after : zero,
                            .max = RUMOR_WIRE_SYNC_MAX};
    if (rumor_daemon_send_frame(d, p, &f)) d->stats.sync_out++;
}

void rumor_join_peer_ready(daemon_t *d, peer_t *p)
{
    for (struct join *j = d->joins; j; j = j->next) {
        if (j->state != JOIN_DIAL || memcmp(j->inv.inviter, p->pk, ID) != 0) continue;
        rumor_wire_frame_t f = {
            .type = RUMOR_WIRE_JOIN, .topic = j->inv.room, .token = j->inv.token};
        if (rumor_daemon_send_frame(d, p, &f)) j->state = JOIN_SENT;
    }
}

int rumor_daemon_join(daemon_t *d, const rumor_invite_t *inv, rumor_join_done_fn done, void *ctx)
{
    if (memcmp(inv->inviter, rumor_node_id(d->node), ID) == 0) return RUMOR_ERR_INVALID;
    struct join *j = calloc(1, sizeof *j);
    if (!j || !(j->rooms = calloc(JOIN_ROOMS_MAX, ID))) {
        free(j);
        return RUMOR_ERR_NOMEM;
    }
    j->inv = *inv;
    j->done = done;
    j->ctx = ctx;
    j->state = JOIN_DIAL;
    j->deadline_ms = rumor_daemon_loop_ms(d) + JOIN_TIMEOUT_MS;
    memcpy(j->rooms[0], inv->room, ID);
    j->n_rooms = 1;
    j->next = d->joins;
    d->joins = j;
    rumor_daemon_candidate(d, inv->inviter, inv->host, inv->port, RUMOR_FOUND_INVITE, NULL);
    peer_t *p = rumor_peers_find(d, inv->inviter);
    if (p && rumor_daemon_peer_ready(p)) {
        rumor_join_peer_ready(d, p);
    } else if (!p) {
        for (size_t i = 0; i < d->n_cands; i++)
            if (memcmp(d->cands[i].pk, inv->inviter, ID) == 0) rumor_peers_dial(d, &d->cands[i]);
    }
    return RUMOR_OK;
}

void rumor_daemon_join_cancel(daemon_t *d, void *ctx)
{
    for (struct join *j = d->joins; j; j = j->next)
        if (j->ctx == ctx) j->done = NULL;
}

bool rumor_join_syncing(daemon_t *d, const uint8_t topic[ID])
{
    for (struct join *j = d->joins; j; j = j->next)
        if (j->state == JOIN_SYNC && memcmp(j->inv.room, topic, ID) == 0) return true;
    return false;
}

bool rumor_join_syncing_from(daemon_t *d, const uint8_t pk[ID])
{
    for (struct join *j = d->joins; j; j = j->next)
        if (j->state == JOIN_SYNC && memcmp(j->inv.inviter, pk, ID) == 0) return true;
    return false;
}

typedef struct {
    struct join *j;
    rumor_txn_t *t;
    int depth;
} subroom_walk_t;

/* Queues the shared sub-rooms of a synced room (private ones are their own domains). */
static int subroom_step(void *ctx, const rumor_store_room_t *r)
{
    subroom_walk_t *w = ctx;
    if (!rumor_gossip_is_key_room(r) && w->j->n_rooms < JOIN_ROOMS_MAX) {
        bool dup = false;
        for (size_t i = 0; i < w->j->n_rooms && !dup; i++)
            dup = memcmp(w->j->rooms[i], r->id, ID) == 0;
        if (!dup) memcpy(w->j->rooms[w->j->n_rooms++], r->id, ID);
    }
    return 0;
}

static void on_sync_end(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    struct join *j = d->joins;
    for (; j; j = j->next)
        if (j->state == JOIN_SYNC && memcmp(j->inv.inviter, p->pk, ID) == 0 &&
            memcmp(j->rooms[j->cur], f->topic, ID) == 0)
            break;
    if (!j) return;                /* an answer nobody waits for */
    rumor_events_process_batch(d); /* the events of this answer come first */
    if (f->status) {
        if (f->lamport == j->want_lamport && memcmp(f->cursor_id, j->want_id, ID) == 0) {
            j->stalled = true; /* no progress: the inviter's budget is spent for this beat */
            return;
        }
        j->deadline_ms =
            rumor_daemon_loop_ms(d) + JOIN_TIMEOUT_MS; /* a long history is fine while it moves */
        join_send_sync(d, j, p, f->lamport, f->cursor_id);
        return;
    }
    rumor_txn_t *t;
    if (rumor_store_read_begin(d->node->store, &t) == RUMOR_OK) {
        subroom_walk_t w = {j, t, 0};
        rumor_store_room_children(t, j->rooms[j->cur], subroom_step, &w);
        rumor_store_read_end(&t);
    }
    if (++j->cur < j->n_rooms) {
        join_send_sync(d, j, p, 0, NULL);
        return;
    }
    join_finish(d, j, RUMOR_OK);
}

static void on_joined(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    for (struct join *j = d->joins; j; j = j->next) {
        if (j->state != JOIN_SENT || memcmp(j->inv.inviter, p->pk, ID) != 0 ||
            memcmp(j->inv.room, f->topic, ID) != 0)
            continue;
        if (f->status != RUMOR_JOIN_OK) {
            join_finish(d, j,
                        f->status == RUMOR_JOIN_FAILED ? RUMOR_ERR_DENIED : RUMOR_ERR_NOT_FOUND);
            return;
        }
        j->state = JOIN_SYNC;
        /* The inviter holds us as a member now, so it keeps and relays our profile (9.7). */
        rumor_peers_send_own_profile(d, p);
        join_send_sync(d, j, p, 0, NULL);
        return;
    }
}

void rumor_join_heartbeat(daemon_t *d)
{
    for (struct join *j = d->joins, *next; j; j = next) {
        next = j->next;
        if (rumor_daemon_loop_ms(d) > j->deadline_ms) {
            join_finish(d, j, RUMOR_ERR_BUSY);
            continue;
        }
        peer_t *p = rumor_peers_find(d, j->inv.inviter);
        if (p && j->stalled) join_send_sync(d, j, p, j->want_lamport, j->want_id);
        if (!p && j->state == JOIN_DIAL) {
            /* An earlier dial to the inviter failed: a join does not wait out its back-off. */
            for (size_t i = 0; i < d->n_cands; i++)
                if (memcmp(d->cands[i].pk, j->inv.inviter, ID) == 0)
                    rumor_peers_dial(d, &d->cands[i]);
        }
    }
}

void rumor_join_stop(daemon_t *d)
{
    while (d->joins) join_finish(d, d->joins, RUMOR_ERR_BUSY);
}

/* ---- the inviter's side ----------------------------------------------------------- */

static void on_join(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    uint8_t id[ID];
    bool added = false;
    d->stats.join_in++;
    uint8_t status = rumor_node_invite_redeem(d->node, f->topic, f->token, p->pk, id, &added);
    if (added) {
        d->stats.members_added++;
        rumor_daemon_log(d, LOG_INFO, "peer %s joined by invite", p->hex8);
        rumor_daemon_flush(d);
    } else if (status != RUMOR_JOIN_OK) {
        rumor_daemon_log(d, LOG_WARN, "peer %s: invite refused (status %u)", p->hex8, status);
    }
    rumor_wire_frame_t r = {.type = RUMOR_WIRE_JOINED, .topic = f->topic, .status = status};
    rumor_daemon_send_frame(d, p, &r);
}

typedef struct {
    daemon_t *d;
    peer_t *p;
    rumor_txn_t *t;
    uint8_t *frame;
    size_t sent, max;
    uint64_t last_lamport;
    uint8_t last_id[ID];
    uint64_t from_lamport; /* the asker's cursor */
    uint8_t from_id[ID];
} sync_walk_t;

static int sync_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    sync_walk_t *w = ctx;
    /* The domain set walk starts at the cursor, which was sent already. */
    if (lamport == w->from_lamport && memcmp(id, w->from_id, ID) == 0) return 0;
    if (w->sent >= w->max || !w->p->budget) return 1; /* there is more */
    const uint8_t *buf;
    size_t len;
    if (rumor_store_event_get(w->t, id, &buf, &len) < 0 || len > RUMOR_EVENT_MAX) return 0;
    memcpy(w->frame + 2, buf, len);
    if (rumor_daemon_send(w->d, w->p, w->frame, len + 2)) w->d->stats.sync_events_out++;
    w->p->budget--;
    w->sent++;
    w->last_lamport = lamport;
    memcpy(w->last_id, id, ID);
    return 0;
}

typedef struct {
    daemon_t *d;
    peer_t *p;
    rumor_txn_t *t;
    uint8_t *frame;
} profiles_walk_t;

static int member_profile(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    (void)role;
    profiles_walk_t *w = ctx;
    rumor_peers_send_profile(w->d, w->t, w->p, pk, w->frame);
    return 0;
}

static void on_sync(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    rumor_txn_t *t;
    d->stats.sync_in++;
    sync_walk_t w = {
        .d = d, .p = p, .max = f->max, .last_lamport = f->lamport, .from_lamport = f->lamport};
    memcpy(w.last_id, f->cursor_id, ID);
    memcpy(w.from_id, f->cursor_id, ID);
    int more = 0;
    if (!(w.frame = malloc(RUMOR_WIRE_FRAME_MAX))) return;
    w.frame[0] = RUMOR_WIRE_VERSION;
    w.frame[1] = RUMOR_WIRE_EVENT;
    if (rumor_store_read_begin(d->node->store, &t) == RUMOR_OK) {
        w.t = t;
        /* Only members of the room's key domain may read its history. */
        if (rumor_gossip_role(t, f->topic, p->pk)) {
            /* The whole key domain, sub-rooms included, in (lamport, id) order: parents first. */
            more = rumor_store_dlog_from(t, f->topic, f->lamport, f->cursor_id, sync_step, &w) == 1;
            /* With a key room's history come its members' nicks (before SYNC_END). */
            profiles_walk_t pw = {d, p, t, w.frame};
            if (!more && f->lamport == 0) rumor_store_member_each(t, f->topic, member_profile, &pw);
        }
        rumor_store_read_end(&t);
    }
    free(w.frame);
    rumor_wire_frame_t r = {.type = RUMOR_WIRE_SYNC_END,
                            .topic = f->topic,
                            .lamport = w.last_lamport,
                            .cursor_id = w.last_id,
                            .status = (uint8_t)more};
    rumor_daemon_send_frame(d, p, &r);
}

void rumor_join_on_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    switch (f->type) {
    case RUMOR_WIRE_JOIN: on_join(d, p, f); break;
    case RUMOR_WIRE_JOINED: on_joined(d, p, f); break;
    case RUMOR_WIRE_SYNC: on_sync(d, p, f); break;
    case RUMOR_WIRE_SYNC_END: on_sync_end(d, p, f); break;
    default: break;
    }
}
