/*
 * ingest.c - admission and indexing of events (PROTOCOL.md 3, 7.2, 7.3). What
 * an admitted event does to room state is the fold's (fold.c).
 */
#include "gossip_internal.h"

#include <string.h>

#define ID RUMOR_ID_BYTES
/* Walks up the tree cross key domains; each domain is at most RUMOR_MAX_DEPTH deep. */
#define WALK_MAX (RUMOR_MAX_DEPTH * (RUMOR_MAX_DEPTH + 1))

/* The store keeps what crypto makes: their sizes must agree. */
_Static_assert(RUMOR_STORE_KEY_SEALED_BYTES == RUMOR_KEY_AT_REST_BYTES, "sealed key size");
_Static_assert(RUMOR_STORE_KEY_ID_BYTES == RUMOR_KEY_ID_BYTES, "key id size");
_Static_assert(RUMOR_STORE_NICK_MAX == RUMOR_NICK_MAX, "nick size");
/* The key-domain rule is the store's (rumor_store_key_domain): it must read the protocol's. */
_Static_assert(RUMOR_STORE_ROOM_PRIVATE == RUMOR_ROOM_FLAG_PRIVATE, "private room flag");
_Static_assert(RUMOR_STORE_MAX_DEPTH == RUMOR_MAX_DEPTH, "depth limit");

bool rumor_gossip_is_key_room(const rumor_store_room_t *room)
{
    return rumor_store_room_is_key_room(room);
}

bool rumor_gossip_is_control(uint8_t type)
{
    return type != RUMOR_EV_MESSAGE && type != RUMOR_EV_PROFILE;
}

int rumor_gossip_load(rumor_txn_t *t, const uint8_t id[ID], rumor_event_t *ev)
{
    const uint8_t *b;
    size_t n;
    int rc = rumor_store_event_get(t, id, &b, &n);
    if (rc < 0) return rc;
    return rumor_event_decode(b, n, ev) == RUMOR_OK ? RUMOR_OK : RUMOR_ERR_STORE;
}

int rumor_gossip_key_domain(rumor_txn_t *t, const uint8_t room[ID], uint8_t domain[ID])
{
    return rumor_store_key_domain(t, room, domain);
}

uint8_t rumor_gossip_role(rumor_txn_t *t, const uint8_t room[ID], const uint8_t pk[ID])
{
    uint8_t domain[ID], role = 0;
    if (rumor_gossip_key_domain(t, room, domain) < 0) return 0;
    if (rumor_store_member_get(t, domain, pk, &role) < 0) return 0;
    return role;
}

/* The key domain an event belongs to (a top-level create opens its own). */
static int event_domain(rumor_txn_t *t, const rumor_event_t *ev, uint8_t domain[ID])
{
    if (rumor_is_zero(ev->room, ID)) {
        memcpy(domain, ev->id, ID);
        return RUMOR_OK;
    }
    int rc = rumor_gossip_key_domain(t, ev->room, domain);
    return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_DENIED : rc;
}

/*
 * Levels from `room` up its creation chain (each ROOM_CREATE's `room`) to the
 * key room `domain` (which is level 1), or -1 beyond RUMOR_MAX_DEPTH. Creation
 * facts never change, so neither does the answer (PROTOCOL.md 7.3).
 */
static int creation_depth(rumor_txn_t *t, const uint8_t room[ID], const uint8_t domain[ID])
{
    uint8_t cur[ID];
    memcpy(cur, room, ID);
    for (int depth = 1; depth <= RUMOR_MAX_DEPTH; depth++) {
        if (memcmp(cur, domain, ID) == 0) return depth;
        const uint8_t *b;
        size_t n;
        if (rumor_store_event_get(t, cur, &b, &n) < 0 || n < RUMOR_EVENT_FIXED) return -1;
        memcpy(cur, b + 2, ID);
        if (rumor_is_zero(cur, ID)) return -1;
    }
    return -1;
}

int rumor_gossip_creation_domain(rumor_txn_t *t, const uint8_t room[ID], uint8_t domain[ID])
{
    const uint8_t *b;
    size_t n;
    int rc = rumor_store_event_get(t, room, &b, &n);
    if (rc < 0) return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_DENIED : rc;
    if (n < RUMOR_EVENT_FIXED) return RUMOR_ERR_STORE;
    if (rumor_is_zero(b + 2, ID)) {
        memset(domain, 0, ID);
        return RUMOR_OK;
    }
    rc = rumor_gossip_key_domain(t, b + 2, domain);
    return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_DENIED : rc;
}

/*
 * Causality (PROTOCOL.md 3 rule 3, 7.2): every parent is stored; in version
 * 2 it is in the event's domain (or is the domain's root); in version 1 it
 * is an event of the same room or the room's create. lamport = 1 + max.
 */
static int check_causality(rumor_txn_t *t, const rumor_event_t *ev)
{
    bool top_create = ev->type == RUMOR_EV_ROOM_CREATE && rumor_is_zero(ev->room, ID);
    if (ev->type == RUMOR_EV_PROFILE) return ev->n_parents == 0 ? RUMOR_OK : RUMOR_ERR_MALFORMED;
    if (top_create) return ev->n_parents == 0 && ev->lamport == 1 ? RUMOR_OK : RUMOR_ERR_MALFORMED;
    if (ev->n_parents == 0) return RUMOR_ERR_MALFORMED;
    uint64_t max = 0, lamports[RUMOR_MAX_PARENTS];
    for (unsigned i = 0; i < ev->n_parents; i++) {
        const uint8_t *pid = ev->parents + (size_t)i * ID;
        const uint8_t *pb;
        size_t plen;
        int rc = rumor_store_event_get(t, pid, &pb, &plen);
        if (rc == RUMOR_ERR_NOT_FOUND) return RUMOR_ERR_MISSING_PARENT;
        if (rc < 0) return rc;
        if (plen < RUMOR_EVENT_FIXED) return RUMOR_ERR_STORE;
        if (ev->version == RUMOR_EVENT_VERSION_V1) {
            bool same_room = memcmp(pb + 2, ev->room, ID) == 0;
            bool is_create_of_room =
                pb[1] == RUMOR_EV_ROOM_CREATE && memcmp(pid, ev->room, ID) == 0;
            if (!same_room && !is_create_of_room) return RUMOR_ERR_DENIED;
        }
        lamports[i] = rumor_get_u64(pb + 66);
        if (lamports[i] > max) max = lamports[i];
    }
    if (ev->lamport != max + 1) return RUMOR_ERR_MALFORMED;
    if (ev->version == RUMOR_EVENT_VERSION_V1) return RUMOR_OK;
    uint8_t domain[ID];
    int rc = event_domain(t, ev, domain);
    if (rc < 0) return rc;
    for (unsigned i = 0; i < ev->n_parents; i++) {
        const uint8_t *pid = ev->parents + (size_t)i * ID;
        if (memcmp(pid, domain, ID) != 0 && !rumor_store_dlog_has(t, domain, lamports[i], pid))
            return RUMOR_ERR_DENIED;
    }
    return RUMOR_OK;
}

/*
 * Admission (PROTOCOL.md 7.3): monotone facts only, so every node that holds
 * an event's past gives it the same verdict, whatever else it holds.
 */
static int check_admission(rumor_txn_t *t, const rumor_event_t *ev)
{
    rumor_store_room_t room;
    uint8_t domain[ID];
    int rc;

    if (ev->type == RUMOR_EV_PROFILE) return RUMOR_OK;
    if (ev->type == RUMOR_EV_ROOM_CREATE && rumor_is_zero(ev->room, ID)) return RUMOR_OK;
    if ((rc = rumor_store_room_get(t, ev->room, &room)) < 0)
        return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_DENIED : rc;
    if ((rc = rumor_gossip_key_domain(t, ev->room, domain)) < 0) return rc;
    if (!rumor_store_admitted(t, domain, ev->author)) return RUMOR_ERR_DENIED;

    switch (ev->type) {
    case RUMOR_EV_ROOM_CREATE: {
        int depth = creation_depth(t, ev->room, domain);
        return depth > 0 && depth < RUMOR_MAX_DEPTH ? RUMOR_OK : RUMOR_ERR_DENIED;
    }
    case RUMOR_EV_MESSAGE:
    case RUMOR_EV_ROOM_RENAME:
    case RUMOR_EV_ROOM_TOPIC: return RUMOR_OK;
    case RUMOR_EV_ROOM_MOVE: {
        uint8_t from[ID], to[ID];
        bool private_room = room.flags & RUMOR_ROOM_FLAG_PRIVATE;
        if ((rc = rumor_gossip_creation_domain(t, ev->room, from)) < 0) return rc;
        if (rumor_is_zero(from, ID)) return RUMOR_ERR_DENIED; /* a top-level key room stays */
        if (rumor_is_zero(ev->target, ID)) return private_room ? RUMOR_OK : RUMOR_ERR_DENIED;
        if (memcmp(ev->target, ev->room, ID) == 0) return RUMOR_ERR_DENIED;
        rumor_store_room_t np;
        if ((rc = rumor_store_room_get(t, ev->target, &np)) < 0)
            return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_DENIED : rc;
        if ((rc = rumor_gossip_key_domain(t, ev->target, to)) < 0) return rc;
        /* A room never changes key domain (PROTOCOL.md 3): a shared room stays under rooms of
         * its own domain, a private one under rooms of the domain it was created in. */
        if (memcmp(to, private_room ? from : domain, ID) != 0) return RUMOR_ERR_DENIED;
        return rumor_store_admitted(t, to, ev->author) ? RUMOR_OK : RUMOR_ERR_DENIED;
    }
    case RUMOR_EV_MEMBER_ADD:
    case RUMOR_EV_MEMBER_REMOVE:
    case RUMOR_EV_MEMBER_ROLE:
    case RUMOR_EV_KEY_EPOCH: return memcmp(domain, ev->room, ID) == 0 ? RUMOR_OK : RUMOR_ERR_DENIED;
    }
    return RUMOR_ERR_MALFORMED;
}

int rumor_gossip_room_init(rumor_txn_t *t, const rumor_event_t *ev, bool root)
{
    rumor_store_room_t r;
    int rc = rumor_store_room_get(t, ev->id, &r);
    if (rc != RUMOR_ERR_NOT_FOUND) return rc;
    memset(&r, 0, sizeof r);
    memcpy(r.id, ev->id, ID);
    memcpy(r.parent, ev->room, ID);
    r.flags = ev->flags | (root && rumor_is_zero(ev->room, ID) ? 0 : RUMOR_ROOM_FLAG_HIDDEN);
    memcpy(r.creator, ev->author, ID);
    r.created_ts = ev->ts;
    r.name.lamport = r.topic.lamport = r.place.lamport = ev->lamport;
    memcpy(r.name.event, ev->id, ID);
    memcpy(r.topic.event, ev->id, ID);
    memcpy(r.place.event, ev->id, ID);
    return rumor_store_room_put(t, &r);
}

/* Adds (lamport, id) to a domain's sets: every event to dlog, control events to clog. */
static int index_in(rumor_txn_t *t, const uint8_t domain[ID], const rumor_event_t *ev, bool as_root)
{
    int rc = rumor_store_dlog_add(t, domain, ev->lamport, ev->id);
    if (rc == RUMOR_OK)
        rc = rumor_store_heads_advance(t, domain, ev->id, ev->lamport, as_root ? NULL : ev->parents,
                                       as_root ? 0 : ev->n_parents);
    if (rc == RUMOR_OK && rumor_gossip_is_control(ev->type))
        rc = rumor_store_clog_add(t, domain, ev->lamport, ev->id, ev->type);
    if (rc == RUMOR_OK && as_root) rc = rumor_store_admit(t, domain, ev->author);
    if (rc == RUMOR_OK && ev->type == RUMOR_EV_MEMBER_ADD)
        rc = rumor_store_admit(t, domain, ev->target);
    return rc;
}

/*
 * Records an admitted event in the room logs and domain sets, then folds it (PROTOCOL.md 7.3).
 * *took tells whether it took effect (a control event) or is shown (a message) on arrival.
 */
static int record(rumor_txn_t *t, const rumor_identity_t *self, const rumor_event_t *ev, bool *took)
{
    *took = true;
    int rc;
    if (ev->type == RUMOR_EV_PROFILE) {
        rumor_store_profile_t p;
        rc = rumor_store_profile_get(t, ev->author, &p);
        if (rc < 0 && rc != RUMOR_ERR_NOT_FOUND) return rc;
        if (rc == RUMOR_OK &&
            (ev->lamport < p.set_by.lamport ||
             (ev->lamport == p.set_by.lamport && memcmp(ev->id, p.set_by.event, ID) <= 0)))
            return RUMOR_OK;
        p.set_by.lamport = ev->lamport;
        memcpy(p.set_by.event, ev->id, ID);
        memcpy(p.nick, ev->nick, ev->nick_len);
        p.nick[ev->nick_len] = '\0';
        return rumor_store_profile_put(t, ev->author, &p);
    }

    bool top_create = ev->type == RUMOR_EV_ROOM_CREATE && rumor_is_zero(ev->room, ID);
    bool private_create =
        ev->type == RUMOR_EV_ROOM_CREATE && !top_create && (ev->flags & RUMOR_ROOM_FLAG_PRIVATE);
    uint8_t domain[ID];
    if ((rc = rumor_store_log_add(t, top_create ? ev->id : ev->room, ev->lamport, ev->id,
                                  ev->type)) < 0)
        return rc;
    if ((rc = event_domain(t, ev, domain)) < 0) return rc;
    if ((rc = index_in(t, domain, ev, top_create)) < 0) return rc;
    if (ev->type == RUMOR_EV_ROOM_CREATE) {
        if ((rc = rumor_gossip_room_init(t, ev, top_create)) < 0) return rc;
        /* A sub-room's create is also the first event of the new room. */
        if (!top_create && (rc = rumor_store_log_add(t, ev->id, ev->lamport, ev->id, ev->type)) < 0)
            return rc;
        /* A private room is a domain of its own, rooted at its create (PROTOCOL.md 7.2). */
        if (private_create && (rc = index_in(t, ev->id, ev, true)) < 0) return rc;
    }
    if (ev->type == RUMOR_EV_MESSAGE) {
        /* Every stored message counts (a function of the set, as everything derived is); the
         * unread count therefore includes hidden ones. */
        rumor_store_room_t room;
        if ((rc = rumor_store_room_get(t, ev->room, &room)) < 0) return rc;
        room.messages++;
        if ((rc = rumor_store_room_put(t, &room)) < 0) return rc;
        /* Counted as ignored by the cheap test: a flood must not buy graph walks on ingest;
         * what `log` shows is decided when it is read. */
        return rumor_gossip_member_at(t, ev, took);
    }
    if ((rc = rumor_gossip_fold_event(t, self, domain, ev, took)) < 0) return rc;
    if (private_create) return rumor_gossip_fold_event(t, self, ev->id, ev, NULL);
    return RUMOR_OK;
}

typedef struct {
    rumor_txn_t *t;
    const uint8_t *author;
    bool found;
} admitted_walk_t;

static int admitted_step(void *ctx, const uint8_t domain[ID])
{
    admitted_walk_t *w = ctx;
    w->found = rumor_store_admitted(w->t, domain, w->author);
    return w->found;
}

/*
 * PROFILE quotas (PROTOCOL.md 9.7): a node keeps one profile per author, the newest in
 * (lamport, id), and only of an author it has a reason to know: itself, a contact, or an author
 * admitted to a domain it holds. Anything else is dropped like a duplicate: not stored, not
 * forwarded, not invalid (every node sends its own profile to each peer it meets, strangers
 * included).
 *
 * First, before the signature is checked: is it newer than the one held? *old gets the held
 * profile's event, if any.
 */
static int profile_newer(rumor_txn_t *t, const rumor_event_t *ev, rumor_gossip_counters_t *c,
                         uint8_t old[ID], bool *had_old)
{
    rumor_store_profile_t p;
    int rc = rumor_store_profile_get(t, ev->author, &p);
    if (rc < 0 && rc != RUMOR_ERR_NOT_FOUND) return rc;
    *had_old = rc == RUMOR_OK;
    if (!*had_old) return RUMOR_OK;
    if (ev->lamport < p.set_by.lamport ||
        (ev->lamport == p.set_by.lamport && memcmp(ev->id, p.set_by.event, ID) <= 0)) {
        if (c) c->superseded++;
        return RUMOR_ERR_EXISTS;
    }
    memcpy(old, p.set_by.event, ID);
    return RUMOR_OK;
}

/* Then, once it verified, for an author with no profile held: do we know the author? */
static int profile_author_known(rumor_txn_t *t, const rumor_identity_t *self,
                                const rumor_event_t *ev, rumor_gossip_counters_t *c)
{
    if (self && memcmp(rumor_identity_public(self), ev->author, ID) == 0) return RUMOR_OK;
    char name[RUMOR_STORE_NICK_MAX + 1];
    if (rumor_store_contact_get(t, ev->author, name) == RUMOR_OK) return RUMOR_OK;
    admitted_walk_t w = {t, ev->author, false};
    int rc = rumor_store_dlog_domains(t, admitted_step, &w);
    if (rc < 0) return rc;
    if (w.found) return RUMOR_OK;
    if (c) c->strangers++;
    return RUMOR_ERR_EXISTS;
}

static bool is_invalid(int rc)
{
    return rc == RUMOR_ERR_MALFORMED || rc == RUMOR_ERR_TOO_BIG || rc == RUMOR_ERR_BAD_SIGNATURE ||
           rc == RUMOR_ERR_MISSING_PARENT || rc == RUMOR_ERR_DENIED;
}

int rumor_gossip_ingest(rumor_txn_t *t, const rumor_identity_t *self, const uint8_t *buf,
                        size_t len, rumor_event_t *out, rumor_gossip_counters_t *c)
{
    rumor_event_t local;
    rumor_event_t *ev = out ? out : &local;
    if (c) c->received++;
    int rc = rumor_event_decode(buf, len, ev);
    if (rc == RUMOR_OK && rumor_store_event_has(t, ev->id)) {
        /* Duplicates are dropped before the (costly) signature check. */
        if (c) c->duplicates++;
        return RUMOR_ERR_EXISTS;
    }
    uint8_t old_profile[ID];
    bool had_profile = false;
    if (rc == RUMOR_OK && ev->type == RUMOR_EV_PROFILE &&
        (rc = profile_newer(t, ev, c, old_profile, &had_profile)) < 0)
        return rc;
    if (rc == RUMOR_OK) rc = rumor_event_verify(ev);
    if (rc == RUMOR_OK && ev->type == RUMOR_EV_PROFILE && !had_profile &&
        (rc = profile_author_known(t, self, ev, c)) < 0)
        return rc;
    if (rc == RUMOR_OK) rc = check_causality(t, ev);
    if (rc == RUMOR_OK) rc = check_admission(t, ev);
    if (rc < 0) {
        if (c && is_invalid(rc)) {
            c->invalid++;
            if (rc == RUMOR_ERR_MISSING_PARENT) c->missing_parent++;
        }
        return rc;
    }
    if ((rc = rumor_store_event_put(t, ev->id, buf, len)) < 0) return rc;
    if (had_profile && (rc = rumor_store_event_drop(t, old_profile)) < 0) return rc;
    bool took;
    if ((rc = record(t, self, ev, &took)) < 0) return rc;
    if (c) {
        c->delivered++;
        if (!took) c->ignored++;
    }
    return RUMOR_OK;
}

int rumor_gossip_next_parents(rumor_txn_t *t, const uint8_t room[ID], uint8_t *parents,
                              uint8_t *n_parents, uint64_t *lamport)
{
    uint8_t domain[ID];
    size_t n = 0;
    int rc = rumor_gossip_key_domain(t, room, domain);
    if (rc < 0) return rc;
    if ((rc = rumor_store_heads_get(t, domain, parents, RUMOR_MAX_PARENTS, &n, NULL)) < 0)
        return rc;
    if (n == 0) return RUMOR_ERR_NOT_FOUND;
    /* lamport must be 1 + the largest *named* parent; the newest heads are kept first. */
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *pb;
        size_t plen;
        if ((rc = rumor_store_event_get(t, parents + i * ID, &pb, &plen)) < 0) return rc;
        if (plen < RUMOR_EVENT_FIXED) return RUMOR_ERR_STORE;
        uint64_t l = rumor_get_u64(pb + 66);
        if (l > max) max = l;
    }
    *n_parents = (uint8_t)n;
    *lamport = max + 1;
    return RUMOR_OK;
}

/* ---- rebuild after a migration (PROTOCOL.md 7.6) ---------------------------------- */

typedef struct {
    rumor_txn_t *t;
    const rumor_identity_t *self;
    uint8_t domain[ID];
    int rc;
} rebuild_t;

static int rebuild_item(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    (void)lamport;
    rebuild_t *r = ctx;
    rumor_event_t ev;
    int rc = rumor_gossip_load(r->t, id, &ev);
    if (rc < 0) return rc;
    bool root = memcmp(ev.id, r->domain, ID) == 0;
    /* As index_in, without touching dlog, which this walk reads. */
    rc = rumor_store_heads_advance(r->t, r->domain, ev.id, ev.lamport, root ? NULL : ev.parents,
                                   root ? 0 : ev.n_parents);
    if (rc == RUMOR_OK && rumor_gossip_is_control(ev.type))
        rc = rumor_store_clog_add(r->t, r->domain, ev.lamport, ev.id, ev.type);
    if (rc == RUMOR_OK && root) rc = rumor_store_admit(r->t, r->domain, ev.author);
    if (rc == RUMOR_OK && ev.type == RUMOR_EV_MEMBER_ADD)
        rc = rumor_store_admit(r->t, r->domain, ev.target);
    return rc;
}

static int rebuild_domain(void *ctx, const uint8_t domain[ID])
{
    rebuild_t *r = ctx;
    memcpy(r->domain, domain, ID);
    int rc = rumor_store_heads_clear(r->t, domain);
    if (rc == RUMOR_OK)
        rc = rumor_store_dlog_from(r->t, domain, 0, (const uint8_t[ID]){0}, rebuild_item, r);
    return rc;
}

static int refold_domain(void *ctx, const uint8_t domain[ID])
{
    rebuild_t *r = ctx;
    return rumor_gossip_fold_event(r->t, r->self, domain, NULL, NULL);
}

int rumor_gossip_rebuild(rumor_txn_t *t, const rumor_identity_t *self)
{
    rebuild_t r = {t, self, {0}, 0};
    int rc = rumor_store_dlog_domains(t, rebuild_domain, &r);
    if (rc == RUMOR_OK) rc = rumor_store_dlog_domains(t, refold_domain, &r);
    if (rc == RUMOR_OK) rc = rumor_store_rebuild_done(t);
    return rc;
}
