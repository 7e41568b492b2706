/*
 * fold.c - what admitted events do (PROTOCOL.md 7.3, 7.4): each key domain's
 * control events replayed in (lamport, id) order against the state at their
 * place, with strong removal; and whether a message is shown.
 *
 * The fold's state lives in the store tables it rewrites (members, mhist,
 * announced epochs, room records), so a fold is one pass of reads and writes
 * inside the caller's transaction, and its result depends only on the events.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID       RUMOR_ID_BYTES
#define WALK_MAX (RUMOR_MAX_DEPTH * (RUMOR_MAX_DEPTH + 1))

/* ---- a set of ids (open addressing; the zero id marks a free slot) ------------ */

typedef struct {
    uint8_t (*slot)[ID]; /* cap slots */
    size_t cap;          /* a power of two, or 0 */
    size_t n;            /* ids held */
} idset_t;

static size_t idset_pos(const idset_t *s, const uint8_t id[ID])
{
    size_t h;
    memcpy(&h, id, sizeof h); /* ids are hashes: any bytes are well spread */
    return h & (s->cap - 1);
}

static bool idset_has(const idset_t *s, const uint8_t id[ID])
{
    if (!s->cap) return false;
    for (size_t i = idset_pos(s, id);; i = (i + 1) & (s->cap - 1)) {
        if (memcmp(s->slot[i], id, ID) == 0) return true;
        if (rumor_is_zero(s->slot[i], ID)) return false;
    }
}

static int idset_add(idset_t *s, const uint8_t id[ID])
{
    if (rumor_is_zero(id, ID)) return RUMOR_OK;
    if (2 * (s->n + 1) > s->cap) {
        idset_t bigger = {NULL, s->cap ? 2 * s->cap : 64, 0};
        if (!(bigger.slot = calloc(bigger.cap, ID))) return RUMOR_ERR_NOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (!rumor_is_zero(s->slot[i], ID)) idset_add(&bigger, s->slot[i]);
        free(s->slot);
        *s = bigger;
    }
    size_t i = idset_pos(s, id);
    for (; !rumor_is_zero(s->slot[i], ID); i = (i + 1) & (s->cap - 1))
        if (memcmp(s->slot[i], id, ID) == 0) return RUMOR_OK;
    memcpy(s->slot[i], id, ID);
    s->n++;
    return RUMOR_OK;
}

static void idset_free(idset_t *s)
{
    free(s->slot);
    memset(s, 0, sizeof *s);
}

/*
 * Adds to `anc` every ancestor of `from` whose lamport is at least `min`
 * (the graph below that cannot lead back up to such an event).
 */
static int ancestors(rumor_txn_t *t, const uint8_t from[ID], uint64_t min, idset_t *anc)
{
    size_t cap = 64, n = 0;
    uint8_t(*stack)[ID] = malloc(cap * ID);
    if (!stack) return RUMOR_ERR_NOMEM;
    memcpy(stack[n++], from, ID);
    int rc = RUMOR_OK;
    bool first = true;
    while (n > 0 && rc == RUMOR_OK) {
        uint8_t id[ID];
        memcpy(id, stack[--n], ID);
        const uint8_t *b;
        size_t len;
        if ((rc = rumor_store_event_get(t, id, &b, &len)) < 0) break;
        if (len < RUMOR_EVENT_FIXED || len < RUMOR_EVENT_FIXED + (size_t)b[82] * ID) {
            rc = RUMOR_ERR_STORE;
            break;
        }
        if (!first) {
            if (rumor_get_u64(b + 66) < min || idset_has(anc, id)) continue;
            if ((rc = idset_add(anc, id)) < 0) break;
        }
        first = false;
        for (unsigned i = 0; i < b[82]; i++) {
            const uint8_t *p = b + RUMOR_EVENT_FIXED + (size_t)i * ID;
            if (idset_has(anc, p)) continue;
            if (n == cap) {
                void *more = realloc(stack, 2 * cap * ID);
                if (!more) {
                    rc = RUMOR_ERR_NOMEM;
                    break;
                }
                stack = more;
                cap *= 2;
            }
            memcpy(stack[n++], p, ID);
        }
    }
    free(stack);
    return rc;
}

typedef struct {
    rumor_txn_t *t;
    const uint8_t *from;
    idset_t *set;
    int rc;
} desc_walk_t;

static int desc_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    (void)lamport;
    desc_walk_t *w = ctx;
    if (memcmp(id, w->from, ID) == 0) return 0;
    const uint8_t *b;
    size_t len;
    if ((w->rc = rumor_store_event_get(w->t, id, &b, &len)) < 0) return 1;
    if (len < RUMOR_EVENT_FIXED || len < RUMOR_EVENT_FIXED + (size_t)b[82] * ID)
        return w->rc = RUMOR_ERR_STORE, 1;
    for (unsigned i = 0; i < b[82]; i++) {
        const uint8_t *p = b + RUMOR_EVENT_FIXED + (size_t)i * ID;
        if (memcmp(p, w->from, ID) == 0 || idset_has(w->set, p)) {
            if ((w->rc = idset_add(w->set, id)) < 0) return 1;
            break;
        }
    }
    return 0;
}

/*
 * Adds to `desc` every event of `domain` that descends from `from` (at lamport `lamport`):
 * one pass forward over the domain's set, whose order puts parents before children.
 */
static int descendants(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t from[ID],
                       uint64_t lamport, idset_t *desc)
{
    desc_walk_t w = {t, from, desc, RUMOR_OK};
    int rc = rumor_store_dlog_from(t, domain, lamport, from, desc_step, &w);
    return rc < 0 ? rc : w.rc;
}

/* *yes = `a` (at lamport la) is an ancestor of `b`. */
static int is_ancestor(rumor_txn_t *t, const uint8_t a[ID], uint64_t la, const uint8_t b[ID],
                       bool *yes)
{
    idset_t anc = {0};
    int rc = ancestors(t, b, la, &anc);
    *yes = rc == RUMOR_OK && idset_has(&anc, a);
    idset_free(&anc);
    return rc;
}

/* ---- the domain's control events ------------------------------------------------- */

typedef struct {
    uint64_t lamport;
    uint8_t id[ID];
    uint8_t type;
    uint8_t author[ID];
    bool filtered; /* removed by strong removal (PROTOCOL.md 7.3) */
} ctl_t;

typedef struct {
    ctl_t *v;
    size_t n, cap;
} ctl_list_t;

typedef struct {
    rumor_txn_t *t;
    ctl_list_t *list;
} load_t;

static int load_step(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t type)
{
    load_t *l = ctx;
    ctl_list_t *c = l->list;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        ctl_t *v = realloc(c->v, cap * sizeof *v);
        if (!v) return RUMOR_ERR_NOMEM;
        c->v = v;
        c->cap = cap;
    }
    const uint8_t *b;
    size_t len;
    int rc = rumor_store_event_get(l->t, id, &b, &len);
    if (rc < 0) return rc;
    if (len < RUMOR_EVENT_FIXED) return RUMOR_ERR_STORE;
    ctl_t *e = &c->v[c->n++];
    e->lamport = lamport;
    memcpy(e->id, id, ID);
    e->type = type;
    memcpy(e->author, b + 34, ID);
    e->filtered = false;
    return 0;
}

/* A removal or demotion that took effect: the event's index and whom it took a right from. */
typedef struct {
    size_t at;
    uint8_t who[ID];
    bool demotion;
} loss_t;

typedef struct {
    rumor_txn_t *t;
    const uint8_t *domain;
    loss_t *loss; /* effective removals and demotions of this pass */
    size_t n_loss, cap_loss;
    idset_t keys_for_me;  /* effective grants and epochs that may hold keys for us */
    const uint8_t *me;    /* our key, or NULL */
    const uint8_t *watch; /* an event whose verdict the caller wants, or NULL */
    bool watched_ok;      /* it took effect in the last pass */
} pass_t;

static uint8_t rank(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t pk[ID])
{
    uint8_t role = 0;
    if (rumor_store_member_get(t, domain, pk, &role) < 0) return 0;
    return role;
}

/* Levels from `room` up to its key room `domain` (level 1), or -1 when not below it. */
static int depth_in_domain(rumor_txn_t *t, const uint8_t room[ID], const uint8_t domain[ID])
{
    uint8_t cur[ID];
    memcpy(cur, room, ID);
    for (int depth = 1; depth <= RUMOR_MAX_DEPTH; depth++) {
        if (memcmp(cur, domain, ID) == 0) return depth;
        rumor_store_room_t r;
        if (rumor_store_room_get(t, cur, &r) < 0 || rumor_is_zero(r.parent, ID)) return -1;
        memcpy(cur, r.parent, ID);
    }
    return -1;
}

/* True when `room` is `ancestor` or lies below it. */
static bool is_within(rumor_txn_t *t, const uint8_t room[ID], const uint8_t ancestor[ID])
{
    uint8_t cur[ID];
    memcpy(cur, room, ID);
    for (int depth = 0; depth <= WALK_MAX && !rumor_is_zero(cur, ID); depth++) {
        if (memcmp(cur, ancestor, ID) == 0) return true;
        rumor_store_room_t r;
        if (rumor_store_room_get(t, cur, &r) < 0) return false;
        memcpy(cur, r.parent, ID);
    }
    return false;
}

static int subtree_height(rumor_txn_t *t, const uint8_t room[ID], int budget);

typedef struct {
    rumor_txn_t *t;
    int budget;
    int best;
} height_walk_t;

static int height_step(void *ctx, const rumor_store_room_t *child)
{
    height_walk_t *w = ctx;
    if (child->flags & RUMOR_ROOM_FLAG_PRIVATE) return 0; /* a domain of its own */
    /* Not in the tree at this place: its create comes later in the fold, or was ignored. A
     * pass starts every create's record hidden, so counting it would judge a move by events
     * after it, and a full fold would disagree with one on top (PROTOCOL.md 7.4). */
    if (child->flags & RUMOR_ROOM_FLAG_HIDDEN) return 0;
    int h = subtree_height(w->t, child->id, w->budget);
    if (h > w->best) w->best = h;
    return 0;
}

/* Height of the shown shared subtree under `room` (a leaf is 1), bounded by the depth limit. */
static int subtree_height(rumor_txn_t *t, const uint8_t room[ID], int budget)
{
    if (budget <= 0) return RUMOR_MAX_DEPTH + 1;
    height_walk_t w = {t, budget - 1, 0};
    rumor_store_room_children(t, room, height_step, &w);
    return 1 + w.best;
}

rumor_gossip_move_shape_t rumor_gossip_move_shape(rumor_txn_t *t, const uint8_t room[ID],
                                                  const uint8_t target[ID],
                                                  const uint8_t domain[ID])
{
    if (is_within(t, target, room)) return RUMOR_GOSSIP_MOVE_CYCLE;
    int depth = depth_in_domain(t, target, domain);
    return depth > 0 && depth + subtree_height(t, room, RUMOR_MAX_DEPTH) <= RUMOR_MAX_DEPTH
               ? RUMOR_GOSSIP_MOVE_FITS
               : RUMOR_GOSSIP_MOVE_TOO_DEEP;
}

/* The member entry of a KEY_EPOCH for `pk`, or NULL. */
static const uint8_t *epoch_entry(const rumor_event_t *ev, const uint8_t pk[ID])
{
    for (unsigned i = 0; i < ev->n_entries; i++) {
        const uint8_t *e = ev->entries + (size_t)i * RUMOR_EPOCH_ENTRY_BYTES;
        if (memcmp(e, pk, ID) == 0) return e;
    }
    return NULL;
}

typedef struct {
    uint64_t lamport; /* the event that began the current membership */
    uint8_t id[ID];
    uint8_t last; /* role after the last entry */
} since_t;

static int since_step(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t role)
{
    since_t *s = ctx;
    if (s->last == 0 && role != 0) {
        s->lamport = lamport;
        memcpy(s->id, id, ID);
    }
    s->last = role;
    return 0;
}

typedef struct {
    rumor_txn_t *t;
    const uint8_t *domain;
    const rumor_event_t *ev;
    since_t *left_out; /* members the rotation leaves out, with the start of their membership */
    size_t n, cap;
    bool complete; /* false once a member it must cover is known to be left out */
    int rc;
} cover_t;

static int cover_step(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    (void)role;
    cover_t *c = ctx;
    if (epoch_entry(c->ev, pk)) return 0;
    since_t s = {0};
    int rc = rumor_store_mhist_each(c->t, c->domain, pk, since_step, &s);
    if (rc < 0) return c->rc = rc;
    if (memcmp(s.id, c->domain, ID) == 0) { /* the owner, a member since the root */
        c->complete = false;
        return 1;
    }
    if (s.lamport >= c->ev->lamport) return 0; /* began after it: cannot be in its past */
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        since_t *v = realloc(c->left_out, cap * sizeof *v);
        if (!v) return c->rc = RUMOR_ERR_NOMEM;
        c->left_out = v;
        c->cap = cap;
    }
    c->left_out[c->n++] = s;
    return 0;
}

/*
 * Whether a rotation seals to every member at its place whose membership began in its past
 * (PROTOCOL.md 7.4). Members added concurrently could not have been sealed to. One walk of the
 * rotation's past, down to the oldest start among those it leaves out, answers for all.
 */
static int covers(rumor_txn_t *t, const uint8_t domain[ID], const rumor_event_t *ev, bool *ok)
{
    cover_t c = {t, domain, ev, NULL, 0, 0, true, RUMOR_OK};
    int rc = rumor_store_member_each(t, domain, cover_step, &c);
    if (rc >= 0 && c.rc < 0) rc = c.rc;
    if (rc >= 0 && c.complete && c.n) {
        uint64_t min = c.left_out[0].lamport;
        for (size_t i = 1; i < c.n; i++)
            if (c.left_out[i].lamport < min) min = c.left_out[i].lamport;
        idset_t anc = {0};
        rc = ancestors(t, ev->id, min, &anc);
        for (size_t i = 0; rc >= 0 && i < c.n && c.complete; i++)
            if (idset_has(&anc, c.left_out[i].id)) c.complete = false;
        idset_free(&anc);
    }
    free(c.left_out);
    *ok = c.complete;
    return rc < 0 ? rc : RUMOR_OK;
}

/* Whether `ev` takes effect at its place in the fold (PROTOCOL.md 7.4). */
static int judge(pass_t *p, const rumor_event_t *ev, bool *ok)
{
    rumor_txn_t *t = p->t;
    const uint8_t *domain = p->domain;
    uint8_t r = rank(t, domain, ev->author), tr = 0;
    rumor_store_room_t room, target;
    int rc;
    *ok = false;
    if (ev->type == RUMOR_EV_MEMBER_ADD || ev->type == RUMOR_EV_MEMBER_ROLE ||
        ev->type == RUMOR_EV_MEMBER_REMOVE)
        tr = rank(t, domain, ev->target);

    rumor_store_room_t key_room;
    if ((rc = rumor_store_room_get(t, domain, &key_room)) < 0) return rc;
    /* A direct conversation: its owner adds one other member, and that is all (PROTOCOL.md 7.9). */
    if ((key_room.flags & RUMOR_ROOM_FLAG_DIRECT) && memcmp(ev->id, domain, ID) != 0) {
        if (ev->type == RUMOR_EV_ROOM_CREATE || ev->type == RUMOR_EV_MEMBER_ROLE) return RUMOR_OK;
        if (ev->type == RUMOR_EV_MEMBER_ADD && !tr &&
            (r != RUMOR_ROLE_OWNER || rumor_store_member_count(t, domain) != 1))
            return RUMOR_OK;
    }

    switch (ev->type) {
    case RUMOR_EV_ROOM_CREATE: {
        if (memcmp(ev->id, domain, ID) == 0) return *ok = true, RUMOR_OK; /* the root */
        if (r < RUMOR_ROLE_MEMBER) return RUMOR_OK;
        if ((rc = rumor_store_room_get(t, ev->room, &room)) < 0) return rc;
        /* Whether the domain's own key room is shown is its parent domain's business: only
         * this domain's rooms are judged here, so the verdict depends on its events alone. */
        if (memcmp(ev->room, domain, ID) != 0 && (room.flags & RUMOR_ROOM_FLAG_HIDDEN))
            return RUMOR_OK;
        int depth = depth_in_domain(t, ev->room, domain);
        *ok = depth > 0 && depth < RUMOR_MAX_DEPTH;
        return RUMOR_OK;
    }
    case RUMOR_EV_ROOM_RENAME:
    case RUMOR_EV_ROOM_TOPIC: *ok = r >= RUMOR_ROLE_ADMIN; return RUMOR_OK;
    case RUMOR_EV_ROOM_MOVE:
        if (r < RUMOR_ROLE_ADMIN) return RUMOR_OK;
        if (memcmp(ev->room, domain, ID) == 0) return *ok = true, RUMOR_OK; /* a private room */
        if ((rc = rumor_store_room_get(t, ev->target, &target)) < 0) return rc;
        if (memcmp(ev->target, domain, ID) != 0 && (target.flags & RUMOR_ROOM_FLAG_HIDDEN))
            return RUMOR_OK;
        *ok = rumor_gossip_move_shape(t, ev->room, ev->target, domain) == RUMOR_GOSSIP_MOVE_FITS;
        return RUMOR_OK;
    case RUMOR_EV_MEMBER_ADD:
        if (r < RUMOR_ROLE_MEMBER) return RUMOR_OK;
        if (tr) return *ok = true, RUMOR_OK; /* keys only; a role never changes here */
        /* A rotation must be able to seal to every member (PROTOCOL.md 7.4). */
        if (rumor_store_member_count(t, domain) >= RUMOR_MAX_MEMBERS) return RUMOR_OK;
        if (r >= RUMOR_ROLE_ADMIN) return *ok = ev->role <= r, RUMOR_OK;
        if ((rc = rumor_store_room_get(t, domain, &room)) < 0) return rc;
        *ok = ev->role == RUMOR_ROLE_MEMBER && !(room.flags & RUMOR_ROOM_FLAG_PRIVATE);
        return RUMOR_OK;
    case RUMOR_EV_MEMBER_ROLE:
        *ok = r >= RUMOR_ROLE_ADMIN && tr && tr != RUMOR_ROLE_OWNER && r >= tr && ev->role <= r;
        return RUMOR_OK;
    case RUMOR_EV_MEMBER_REMOVE:
        *ok = tr && (memcmp(ev->author, ev->target, ID) == 0 ||
                     (r >= RUMOR_ROLE_ADMIN && r >= tr && tr != RUMOR_ROLE_OWNER));
        return RUMOR_OK;
    case RUMOR_EV_KEY_EPOCH: {
        if (r < RUMOR_ROLE_MEMBER) return RUMOR_OK;
        if ((rc = rumor_store_room_get(t, domain, &room)) < 0) return rc;
        if (ev->epoch != room.epoch + 1 && !(ev->epoch == room.epoch && room.epoch >= 1))
            return RUMOR_OK;
        return covers(t, domain, ev, ok);
    }
    }
    return RUMOR_OK;
}

static int add_loss(pass_t *p, size_t at, const uint8_t who[ID], bool demotion)
{
    if (p->n_loss == p->cap_loss) {
        size_t cap = p->cap_loss ? 2 * p->cap_loss : 8;
        loss_t *v = realloc(p->loss, cap * sizeof *v);
        if (!v) return RUMOR_ERR_NOMEM;
        p->loss = v;
        p->cap_loss = cap;
    }
    /* Remembered for good: an event of a loser is never folded on top (fold_event). */
    int rc = rumor_store_mark_loser(p->t, p->domain, who);
    if (rc < 0) return rc;
    loss_t *l = &p->loss[p->n_loss++];
    l->at = at;
    memcpy(l->who, who, ID);
    l->demotion = demotion;
    return RUMOR_OK;
}

static int set_member(pass_t *p, const rumor_event_t *ev, const uint8_t pk[ID], uint8_t role)
{
    int rc = role ? rumor_store_member_put(p->t, p->domain, pk, role)
                  : rumor_store_member_del(p->t, p->domain, pk);
    if (rc == RUMOR_OK) rc = rumor_store_mhist_put(p->t, p->domain, pk, ev->lamport, ev->id, role);
    return rc;
}

/* Applies an event that took effect at index `at` of the fold. */
static int apply(pass_t *p, size_t at, const rumor_event_t *ev)
{
    rumor_txn_t *t = p->t;
    rumor_store_room_t room;
    int rc;
    bool root = memcmp(ev->id, p->domain, ID) == 0;
    uint8_t role;

    if (ev->type == RUMOR_EV_ROOM_CREATE) {
        if (root) {
            uint8_t key_id[RUMOR_KEY_ID_BYTES];
            if ((rc = rumor_box_key_id(ev->box, ev->box_len, key_id)) < 0) return RUMOR_ERR_STORE;
            if ((rc = rumor_store_epoch_announce(t, p->domain, 0, key_id)) < 0) return rc;
            return set_member(p, ev, ev->author, RUMOR_ROLE_OWNER);
        }
        if ((rc = rumor_store_room_get(t, ev->id, &room)) < 0) return rc;
        room.flags &= (uint8_t)~RUMOR_ROOM_FLAG_HIDDEN;
        return rumor_store_room_put(t, &room);
    }
    switch (ev->type) {
    case RUMOR_EV_ROOM_RENAME:
    case RUMOR_EV_ROOM_TOPIC:
    case RUMOR_EV_ROOM_MOVE: {
        if ((rc = rumor_store_room_get(t, ev->room, &room)) < 0) return rc;
        rumor_store_lww_t *reg = ev->type == RUMOR_EV_ROOM_RENAME  ? &room.name
                                 : ev->type == RUMOR_EV_ROOM_TOPIC ? &room.topic
                                                                   : &room.place;
        reg->lamport = ev->lamport;
        memcpy(reg->event, ev->id, ID);
        if (ev->type == RUMOR_EV_ROOM_MOVE) memcpy(room.parent, ev->target, ID);
        return rumor_store_room_put(t, &room);
    }
    case RUMOR_EV_MEMBER_ADD:
        if (p->me && memcmp(ev->target, p->me, ID) == 0 &&
            (rc = idset_add(&p->keys_for_me, ev->id)) < 0)
            return rc;
        if (rank(t, p->domain, ev->target)) return RUMOR_OK;
        return set_member(p, ev, ev->target, ev->role);
    case RUMOR_EV_MEMBER_ROLE:
        role = rank(t, p->domain, ev->target);
        if (role == ev->role) return RUMOR_OK;
        if ((rc = set_member(p, ev, ev->target, ev->role)) < 0) return rc;
        return ev->role < role ? add_loss(p, at, ev->target, true) : RUMOR_OK;
    case RUMOR_EV_MEMBER_REMOVE:
        if ((rc = set_member(p, ev, ev->target, 0)) < 0) return rc;
        return add_loss(p, at, ev->target, false);
    case RUMOR_EV_KEY_EPOCH:
        if ((rc = rumor_store_room_get(t, p->domain, &room)) < 0) return rc;
        if (ev->epoch > room.epoch) room.epoch = ev->epoch;
        if ((rc = rumor_store_room_put(t, &room)) < 0) return rc;
        if (p->me && epoch_entry(ev, p->me) && (rc = idset_add(&p->keys_for_me, ev->id)) < 0)
            return rc;
        return rumor_store_epoch_announce(t, p->domain, ev->epoch, ev->key_id);
    }
    return RUMOR_OK;
}

/* Puts a room record back as its create made it, keeping its message count. */
static int reset_room(rumor_txn_t *t, const rumor_event_t *create, bool shared_fields, bool hidden)
{
    rumor_store_room_t r;
    int rc = rumor_gossip_room_init(t, create, false);
    if (rc == RUMOR_OK) rc = rumor_store_room_get(t, create->id, &r);
    if (rc < 0) return rc;
    if (shared_fields) {
        memcpy(r.parent, create->room, ID);
        r.flags = (uint8_t)((r.flags & RUMOR_ROOM_FLAG_HIDDEN) | create->flags);
        r.name.lamport = r.topic.lamport = r.place.lamport = create->lamport;
        memcpy(r.name.event, create->id, ID);
        memcpy(r.topic.event, create->id, ID);
        memcpy(r.place.event, create->id, ID);
        r.epoch = 0;
    }
    if (hidden) r.flags |= RUMOR_ROOM_FLAG_HIDDEN;
    return rumor_store_room_put(t, &r);
}

/* Empties the domain's derived state before a pass. */
static int reset(rumor_txn_t *t, const uint8_t domain[ID], const ctl_list_t *list)
{
    int rc = rumor_store_member_clear(t, domain);
    for (size_t i = 0; i < list->n && rc == RUMOR_OK; i++) {
        if (list->v[i].type != RUMOR_EV_ROOM_CREATE) continue;
        rumor_event_t ev;
        if ((rc = rumor_gossip_load(t, list->v[i].id, &ev)) < 0) break;
        bool root = memcmp(ev.id, domain, ID) == 0;
        bool private_room = ev.flags & RUMOR_ROOM_FLAG_PRIVATE;
        /* The root's fields are this domain's; whether it is shown is its parent domain's.
         * A private sub-room's fields are its own domain's; whether it is shown is ours. */
        if (root)
            rc = reset_room(t, &ev, true, false);
        else
            rc = reset_room(t, &ev, !private_room, true);
    }
    return rc;
}

static int run_pass(pass_t *p, ctl_list_t *list)
{
    int rc = reset(p->t, p->domain, list);
    p->n_loss = 0;
    p->watched_ok = false;
    for (size_t i = 0; i < list->n && rc == RUMOR_OK; i++) {
        if (list->v[i].filtered) continue;
        rumor_event_t ev;
        bool ok;
        if ((rc = rumor_gossip_load(p->t, list->v[i].id, &ev)) < 0) break;
        if ((rc = judge(p, &ev, &ok)) < 0) break;
        if (ok && p->watch && memcmp(p->watch, ev.id, ID) == 0) p->watched_ok = true;
        if (ok) rc = apply(p, i, &ev);
    }
    return rc;
}

/* What a demoted admin may no longer have done concurrently with its demotion. */
static bool admin_only(rumor_txn_t *t, const ctl_t *c)
{
    switch (c->type) {
    case RUMOR_EV_ROOM_RENAME:
    case RUMOR_EV_ROOM_TOPIC:
    case RUMOR_EV_ROOM_MOVE:
    case RUMOR_EV_MEMBER_ROLE: return true;
    case RUMOR_EV_MEMBER_ADD:
    case RUMOR_EV_MEMBER_REMOVE: {
        rumor_event_t ev;
        if (rumor_gossip_load(t, c->id, &ev) < 0) return true;
        if (ev.type == RUMOR_EV_MEMBER_REMOVE) return memcmp(ev.target, ev.author, ID) != 0;
        return ev.role >= RUMOR_ROLE_ADMIN;
    }
    }
    return false;
}

/*
 * The past and the future of each loss, computed once per fold: the graph does not change
 * while a fold runs, and every pass asks again about the same losses.
 */
typedef struct {
    uint8_t id[ID];
    idset_t before, after;
} loss_sets_t;

typedef struct {
    loss_sets_t *v;
    size_t n, cap;
} loss_cache_t;

static void loss_cache_free(loss_cache_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        idset_free(&c->v[i].before);
        idset_free(&c->v[i].after);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

static int loss_sets(pass_t *p, loss_cache_t *c, const ctl_list_t *list, const ctl_t *at,
                     loss_sets_t **out)
{
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->v[i].id, at->id, ID) == 0) return *out = &c->v[i], RUMOR_OK;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        loss_sets_t *v = realloc(c->v, cap * sizeof *v);
        if (!v) return RUMOR_ERR_NOMEM;
        c->v = v;
        c->cap = cap;
    }
    loss_sets_t *s = &c->v[c->n++];
    memset(s, 0, sizeof *s);
    memcpy(s->id, at->id, ID);
    *out = s;
    /* One walk back down to the oldest control event, one pass forward from the loss. */
    int rc = ancestors(p->t, at->id, list->v[0].lamport, &s->before);
    if (rc == RUMOR_OK) rc = descendants(p->t, p->domain, at->id, at->lamport, &s->after);
    return rc;
}

/* Strong removal: marks the losers' events concurrent with their loss. *more = any new. */
static int filter(pass_t *p, ctl_list_t *list, loss_cache_t *cache, bool *more)
{
    *more = false;
    for (size_t k = 0; k < p->n_loss; k++) {
        const loss_t *l = &p->loss[k];
        const ctl_t *at = &list->v[l->at];
        loss_sets_t *sets = NULL;
        int rc = RUMOR_OK;
        for (size_t j = 0; j < list->n && rc == RUMOR_OK; j++) {
            ctl_t *c = &list->v[j];
            if (j == l->at || c->filtered || memcmp(c->author, l->who, ID) != 0) continue;
            if (l->demotion && !admin_only(p->t, c)) continue;
            if (!sets && (rc = loss_sets(p, cache, list, at, &sets)) < 0) break;
            bool related = idset_has(j < l->at ? &sets->before : &sets->after, c->id);
            if (!related) {
                c->filtered = true;
                *more = true;
            }
        }
        if (rc < 0) return rc;
    }
    return RUMOR_OK;
}

typedef struct {
    rumor_txn_t *t;
    const rumor_identity_t *self;
    int rc;
} keys_ctx_t;

static int full_fold(rumor_txn_t *t, const rumor_identity_t *self, const uint8_t domain[ID],
                     const uint8_t *watch, bool *took)
{
    ctl_list_t list = {0};
    load_t l = {t, &list};
    pass_t p = {t,     domain, NULL, 0, 0, {0}, self ? rumor_identity_public(self) : NULL,
                watch, false};
    loss_cache_t cache = {0};
    int rc = rumor_store_clog_each(t, domain, false, load_step, &l);
    /* Each pass filters at least one more event or is the last: at most n + 1 passes. */
    for (size_t pass = 0; rc == RUMOR_OK && pass <= list.n; pass++) {
        bool more;
        idset_free(&p.keys_for_me);
        if ((rc = run_pass(&p, &list)) < 0) break;
        if ((rc = filter(&p, &list, &cache, &more)) < 0 || !more) break;
    }
    loss_cache_free(&cache);
    for (size_t i = 0; rc == RUMOR_OK && self && i < p.keys_for_me.cap; i++) {
        if (rumor_is_zero(p.keys_for_me.slot[i], ID)) continue;
        rumor_event_t ev;
        if ((rc = rumor_gossip_load(t, p.keys_for_me.slot[i], &ev)) == RUMOR_OK)
            rc = rumor_gossip_take_keys(t, self, &ev);
    }
    if (took) *took = p.watched_ok;
    idset_free(&p.keys_for_me);
    free(p.loss);
    free(list.v);
    return rc;
}

typedef struct {
    uint8_t id[ID];
    bool any;
} last_t;

static int last_step(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t type)
{
    (void)lamport, (void)type;
    last_t *l = ctx;
    memcpy(l->id, id, ID);
    l->any = true;
    return 1;
}

int rumor_gossip_fold_event(rumor_txn_t *t, const rumor_identity_t *self, const uint8_t domain[ID],
                            const rumor_event_t *ev, bool *took)
{
    if (took) *took = true;
    if (!ev) return full_fold(t, self, domain, NULL, NULL);
    /*
     * On top of the fold when it sorts last, takes no right away, and its author lost no right
     * in any pass of any fold of the domain so far: then no pass can filter it, every pass
     * ends as before with it judged last, and the result is the full fold's (PROTOCOL.md 7.3).
     */
    last_t last = {{0}, false};
    int rc = rumor_store_clog_each(t, domain, true, last_step, &last);
    if (rc < 0) return rc;
    bool on_top = last.any && memcmp(last.id, ev->id, ID) == 0 &&
                  ev->type != RUMOR_EV_MEMBER_REMOVE && ev->type != RUMOR_EV_MEMBER_ROLE &&
                  memcmp(ev->id, domain, ID) != 0 && !rumor_store_is_loser(t, domain, ev->author);
    if (!on_top) return full_fold(t, self, domain, ev->id, took);
    pass_t p = {t, domain, NULL, 0, 0, {0}, self ? rumor_identity_public(self) : NULL, NULL, false};
    bool ok;
    if (ev->type == RUMOR_EV_ROOM_CREATE) {
        /* Its record starts hidden, as a pass would start it. */
        bool private_room = ev->flags & RUMOR_ROOM_FLAG_PRIVATE;
        if ((rc = reset_room(t, ev, !private_room, true)) < 0) return rc;
    }
    if ((rc = judge(&p, ev, &ok)) == RUMOR_OK && ok) rc = apply(&p, 0, ev);
    if (took) *took = ok;
    if (rc == RUMOR_OK && self && p.keys_for_me.n) rc = rumor_gossip_take_keys(t, self, ev);
    idset_free(&p.keys_for_me);
    free(p.loss);
    return rc;
}

/* ---- keys handed to us ------------------------------------------------------------ */

int rumor_gossip_keep_key(rumor_txn_t *t, const rumor_identity_t *self, const uint8_t room[ID],
                          uint32_t epoch, const uint8_t key[RUMOR_ROOM_KEY_BYTES])
{
    uint8_t key_id[RUMOR_KEY_ID_BYTES], sealed[RUMOR_KEY_AT_REST_BYTES];
    rumor_room_key_id(key_id, key);
    if (!rumor_store_epoch_announced(t, room, epoch, key_id)) return RUMOR_ERR_DENIED;
    /* A delegated identity's agent can fail (its node went away): never store what it did not
     * seal. */
    int rc = rumor_key_at_rest_seal(sealed, self, key);
    return rc < 0 ? rc : rumor_store_key_put(t, key_id, room, epoch, sealed);
}

/* Keeps a key handed to us if the room announced it; an unannounced one is skipped, not fatal. */
static int keep(rumor_txn_t *t, const rumor_identity_t *self, const uint8_t room[ID],
                uint32_t epoch, const uint8_t *key)
{
    int rc = rumor_gossip_keep_key(t, self, room, epoch, key);
    return rc == RUMOR_ERR_DENIED ? RUMOR_OK : rc;
}

int rumor_gossip_take_keys(rumor_txn_t *t, const rumor_identity_t *self, const rumor_event_t *ev)
{
    const uint8_t *me = rumor_identity_public(self);
    uint8_t *plain = rumor_secret_alloc(RUMOR_KEY_ID_BYTES + 4 + RUMOR_ROOM_KEY_BYTES);
    if (!plain) return RUMOR_ERR_NOMEM;
    uint8_t key_id[RUMOR_KEY_ID_BYTES];
    int rc = RUMOR_OK;
    if (ev->type == RUMOR_EV_MEMBER_ADD && memcmp(ev->target, me, ID) == 0) {
        for (unsigned i = 0; i < ev->n_entries && rc == RUMOR_OK; i++) {
            const uint8_t *e = ev->entries + (size_t)i * RUMOR_SEALED_GRANT_BYTES;
            const uint8_t *key = plain + RUMOR_KEY_ID_BYTES + 4;
            int orc = rumor_seal_open(plain, self, e, RUMOR_SEALED_GRANT_BYTES);
            /* Not for us, or sealed wrong; any other failure (an agent's) is the caller's. */
            if (orc == RUMOR_ERR_DECRYPT || orc == RUMOR_ERR_MALFORMED) continue;
            if (orc < 0) {
                rc = orc;
                break;
            }
            rumor_room_key_id(key_id, key);
            if (!rumor_secret_equal(key_id, plain, RUMOR_KEY_ID_BYTES)) continue; /* mislabelled */
            rc = keep(t, self, ev->room, rumor_get_u32(plain + RUMOR_KEY_ID_BYTES), key);
        }
    } else if (ev->type == RUMOR_EV_KEY_EPOCH) {
        const uint8_t *e = epoch_entry(ev, me);
        int orc = e ? rumor_seal_open(plain, self, e + ID, RUMOR_EPOCH_ENTRY_BYTES - ID)
                    : RUMOR_ERR_DECRYPT;
        if (orc == RUMOR_OK)
            rc = keep(t, self, ev->room, ev->epoch, plain);
        else if (orc != RUMOR_ERR_DECRYPT && orc != RUMOR_ERR_MALFORMED)
            rc = orc;
    }
    rumor_secret_free(plain);
    return rc;
}

/* ---- messages -------------------------------------------------------------------- */

typedef struct {
    uint64_t lamport; /* the message's place */
    const uint8_t *id;
    uint8_t role; /* the author's role just before it */
    struct {
        uint64_t lamport;
        uint8_t id[ID];
    } removal[8]; /* the author's removals (the first few) */
    size_t n_removal;
    bool many; /* more removals than fit: treat as not shown */
} place_t;

static bool before(uint64_t la, const uint8_t *a, uint64_t lb, const uint8_t *b)
{
    return la != lb ? la < lb : memcmp(a, b, ID) < 0;
}

static int place_step(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t role)
{
    place_t *p = ctx;
    if (before(lamport, id, p->lamport, p->id)) p->role = role;
    if (role == 0) {
        if (p->n_removal == sizeof p->removal / sizeof p->removal[0]) {
            p->many = true;
            return 1;
        }
        p->removal[p->n_removal].lamport = lamport;
        memcpy(p->removal[p->n_removal++].id, id, ID);
    }
    return 0;
}

/*
 * The pasts of removals, kept across the messages of one read: a removed member's messages
 * written before its removal are each asked "is it in the removal's past?", and one walk,
 * deepened by halving when a message lies below it, answers them all.
 */
#define WALKS_MAX 16
struct rumor_gossip_walks {
    struct {
        uint8_t id[ID]; /* the removal */
        uint64_t min;   /* anc holds its ancestors down to this lamport */
        idset_t anc;
        idset_t desc; /* what descends from it in its domain, once have_desc */
        bool have_desc;
    } w[WALKS_MAX];
    size_t n, next; /* entries in use; the one to reuse when full */
};

rumor_gossip_walks_t *rumor_gossip_walks_new(void)
{
    return calloc(1, sizeof(rumor_gossip_walks_t));
}

void rumor_gossip_walks_destroy(rumor_gossip_walks_t **wp)
{
    if (!wp || !*wp) return;
    for (size_t i = 0; i < (*wp)->n; i++) {
        idset_free(&(*wp)->w[i].anc);
        idset_free(&(*wp)->w[i].desc);
    }
    free(*wp);
    *wp = NULL;
}

/* The entry of the removal `r`, made (or reused, oldest first) when missing. */
static size_t walk_entry(rumor_gossip_walks_t *walks, const uint8_t r[ID])
{
    size_t i = 0;
    while (i < walks->n && memcmp(walks->w[i].id, r, ID) != 0) i++;
    if (i < walks->n) return i;
    if (walks->n < WALKS_MAX) {
        walks->n++;
    } else {
        i = walks->next;
        walks->next = (walks->next + 1) % WALKS_MAX;
        idset_free(&walks->w[i].anc);
        idset_free(&walks->w[i].desc);
    }
    memcpy(walks->w[i].id, r, ID);
    walks->w[i].min = UINT64_MAX;
    walks->w[i].have_desc = false;
    return i;
}

/* *yes = the message `m` descends from the removal `r` (at lamport lr) of `domain`. */
static int after_removal(rumor_txn_t *t, rumor_gossip_walks_t *walks, const uint8_t domain[ID],
                         const uint8_t r[ID], uint64_t lr, const uint8_t m[ID], uint64_t lm,
                         bool *yes)
{
    if (!walks) return is_ancestor(t, r, lr, m, yes);
    (void)lm;
    size_t i = walk_entry(walks, r);
    if (!walks->w[i].have_desc) {
        int rc = descendants(t, domain, r, lr, &walks->w[i].desc);
        if (rc < 0) {
            idset_free(&walks->w[i].desc);
            return rc;
        }
        walks->w[i].have_desc = true;
    }
    *yes = idset_has(&walks->w[i].desc, m);
    return RUMOR_OK;
}

/* *yes = the message (at lamport lm) is in the past of the removal `r` (at lamport lr). */
static int in_past_of(rumor_txn_t *t, rumor_gossip_walks_t *walks, const uint8_t r[ID], uint64_t lr,
                      const uint8_t m[ID], uint64_t lm, bool *yes)
{
    if (!walks) return is_ancestor(t, m, lm, r, yes);
    size_t i = walk_entry(walks, r);
    if (lm < walks->w[i].min) {
        /* Deeper than walked: go to half the depth asked, so few walks serve a whole log. */
        uint64_t min = walks->w[i].min == UINT64_MAX ? lm : lm / 2;
        if (lr < min) min = lr;
        idset_free(&walks->w[i].anc);
        walks->w[i].min = min;
        int rc = ancestors(t, r, min, &walks->w[i].anc);
        if (rc < 0) {
            walks->w[i].min = UINT64_MAX;
            return rc;
        }
    }
    *yes = idset_has(&walks->w[i].anc, m);
    return RUMOR_OK;
}

/* `deep`: also decide, by walking the graph, what the author's removals make of it. */
static int shown(rumor_txn_t *t, const rumor_event_t *ev, rumor_gossip_walks_t *walks, bool deep,
                 bool *out)
{
    uint8_t domain[ID];
    *out = false;
    int rc = rumor_gossip_key_domain(t, ev->room, domain);
    if (rc < 0) return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_OK : rc;
    place_t p = {ev->lamport, ev->id, 0, {{0, {0}}}, 0, false};
    if ((rc = rumor_store_mhist_each(t, domain, ev->author, place_step, &p)) < 0) return rc;
    if (p.role == 0 || p.many) return RUMOR_OK;
    for (size_t i = 0; deep && i < p.n_removal; i++) {
        bool related;
        if (before(p.removal[i].lamport, p.removal[i].id, ev->lamport, ev->id))
            rc = after_removal(t, walks, domain, p.removal[i].id, p.removal[i].lamport, ev->id,
                               ev->lamport, &related);
        else
            rc = in_past_of(t, walks, p.removal[i].id, p.removal[i].lamport, ev->id, ev->lamport,
                            &related);
        if (rc < 0) return rc;
        if (!related) return RUMOR_OK; /* concurrent with a removal of its author */
    }
    *out = true;
    return RUMOR_OK;
}

int rumor_gossip_shown(rumor_txn_t *t, const rumor_event_t *ev, rumor_gossip_walks_t *walks,
                       bool *out)
{
    return shown(t, ev, walks, true, out);
}

int rumor_gossip_member_at(rumor_txn_t *t, const rumor_event_t *ev, bool *out)
{
    return shown(t, ev, NULL, false, out);
}
