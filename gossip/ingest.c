/* ingest.c - validation and state folding of events (PROTOCOL.md 3 and 4). */
#include "rumor_gossip.h"

#include <string.h>

#define ID RUMOR_ID_BYTES

/* The store keeps what crypto makes: their sizes must agree. */
_Static_assert(RUMOR_STORE_KEY_SEALED_BYTES == RUMOR_KEY_AT_REST_BYTES, "sealed key size");
_Static_assert(RUMOR_STORE_KEY_ID_BYTES == RUMOR_KEY_ID_BYTES, "key id size");
_Static_assert(RUMOR_STORE_NICK_MAX == RUMOR_NICK_MAX, "nick size");

bool rumor_gossip_is_key_room(const rumor_store_room_t *room)
{
    return rumor_is_zero(room->parent, ID) || (room->flags & RUMOR_ROOM_FLAG_PRIVATE);
}

int rumor_gossip_key_domain(rumor_txn_t *t, const uint8_t room[ID], uint8_t domain[ID])
{
    uint8_t cur[ID];
    memcpy(cur, room, ID);
    for (int depth = 0; depth <= RUMOR_MAX_DEPTH + 1; depth++) {
        rumor_store_room_t r;
        int rc = rumor_store_room_get(t, cur, &r);
        if (rc < 0) return rc;
        if (rumor_gossip_is_key_room(&r)) {
            memcpy(domain, cur, ID);
            return RUMOR_OK;
        }
        memcpy(cur, r.parent, ID);
    }
    return RUMOR_ERR_STORE; /* deeper than any valid tree: the store is inconsistent */
}

uint8_t rumor_gossip_role(rumor_txn_t *t, const uint8_t room[ID], const uint8_t pk[ID])
{
    uint8_t domain[ID], role = 0;
    if (rumor_gossip_key_domain(t, room, domain) < 0) return 0;
    if (rumor_store_member_get(t, domain, pk, &role) < 0) return 0;
    return role;
}

/* Depth of `room` (a top-level room is 1), or -1 when unknown or too deep. */
static int room_depth(rumor_txn_t *t, const uint8_t room[ID])
{
    uint8_t cur[ID];
    memcpy(cur, room, ID);
    for (int depth = 1; depth <= RUMOR_MAX_DEPTH; depth++) {
        rumor_store_room_t r;
        if (rumor_store_room_get(t, cur, &r) < 0) return -1;
        if (rumor_is_zero(r.parent, ID)) return depth;
        memcpy(cur, r.parent, ID);
    }
    return -1;
}

/* True when `room` is `ancestor` or lies below it. */
static bool is_within(rumor_txn_t *t, const uint8_t room[ID], const uint8_t ancestor[ID])
{
    uint8_t cur[ID];
    memcpy(cur, room, ID);
    for (int depth = 0; depth <= RUMOR_MAX_DEPTH + 1 && !rumor_is_zero(cur, ID); depth++) {
        if (memcmp(cur, ancestor, ID) == 0) return true;
        rumor_store_room_t r;
        if (rumor_store_room_get(t, cur, &r) < 0) return false;
        memcpy(cur, r.parent, ID);
    }
    return false;
}

/* Height of the subtree under `room` (a leaf is 1), bounded by the depth limit. */
static int subtree_height(rumor_txn_t *t, const uint8_t room[ID], int budget);

typedef struct {
    rumor_txn_t *t; /* transaction */
    int budget;     /* levels left to explore */
    int best;       /* tallest child subtree */
} height_walk_t;

static int height_step(void *ctx, const rumor_store_room_t *child)
{
    height_walk_t *w = ctx;
    int h = subtree_height(w->t, child->id, w->budget);
    if (h > w->best) w->best = h;
    return 0;
}

static int subtree_height(rumor_txn_t *t, const uint8_t room[ID], int budget)
{
    if (budget <= 0) return RUMOR_MAX_DEPTH + 1;
    height_walk_t w = {t, budget - 1, 0};
    rumor_store_room_children(t, room, height_step, &w);
    return 1 + w.best;
}

/* Which room's history an event belongs to for causality and heads. */
static void event_home(const rumor_event_t *ev, uint8_t home[ID])
{
    if (ev->type == RUMOR_EV_ROOM_CREATE && rumor_is_zero(ev->room, ID))
        memcpy(home, ev->id, ID);
    else
        memcpy(home, ev->room, ID);
}

/* Rule 3 of PROTOCOL.md: parents are stored events of the room; lamport = 1 + max. */
static int check_causality(rumor_txn_t *t, const rumor_event_t *ev)
{
    bool top_create = ev->type == RUMOR_EV_ROOM_CREATE && rumor_is_zero(ev->room, ID);
    if (ev->type == RUMOR_EV_PROFILE) return ev->n_parents == 0 ? RUMOR_OK : RUMOR_ERR_MALFORMED;
    if (top_create) return ev->n_parents == 0 && ev->lamport == 1 ? RUMOR_OK : RUMOR_ERR_MALFORMED;
    if (ev->n_parents == 0) return RUMOR_ERR_MALFORMED;
    uint64_t max = 0;
    for (unsigned i = 0; i < ev->n_parents; i++) {
        const uint8_t *pid = ev->parents + (size_t)i * ID;
        const uint8_t *pb;
        size_t plen;
        int rc = rumor_store_event_get(t, pid, &pb, &plen);
        if (rc == RUMOR_ERR_NOT_FOUND) return RUMOR_ERR_MISSING_PARENT;
        if (rc < 0) return rc;
        if (plen < RUMOR_EVENT_FIXED) return RUMOR_ERR_STORE;
        /* The parent is in the room, or is the room's own create event. */
        bool same_room = memcmp(pb + 2, ev->room, ID) == 0;
        bool is_create_of_room = pb[1] == RUMOR_EV_ROOM_CREATE && memcmp(pid, ev->room, ID) == 0;
        if (!same_room && !is_create_of_room) return RUMOR_ERR_DENIED;
        uint64_t l = rumor_get_u64(pb + 66);
        if (l > max) max = l;
    }
    return ev->lamport == max + 1 ? RUMOR_OK : RUMOR_ERR_MALFORMED;
}

/* Rule 4 of PROTOCOL.md: the room's authorisation rules. */
static int check_rules(rumor_txn_t *t, const rumor_event_t *ev)
{
    rumor_store_room_t room;
    int rc;
    uint8_t role;

    if (ev->type == RUMOR_EV_PROFILE) return RUMOR_OK;
    if (ev->type == RUMOR_EV_ROOM_CREATE && rumor_is_zero(ev->room, ID)) return RUMOR_OK;
    if ((rc = rumor_store_room_get(t, ev->room, &room)) < 0)
        return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_DENIED : rc;
    role = rumor_gossip_role(t, ev->room, ev->author);

    switch (ev->type) {
    case RUMOR_EV_ROOM_CREATE: {
        int depth = room_depth(t, ev->room);
        if (depth < 0 || depth >= RUMOR_MAX_DEPTH) return RUMOR_ERR_DENIED;
        return role ? RUMOR_OK : RUMOR_ERR_DENIED;
    }
    case RUMOR_EV_MESSAGE: return role ? RUMOR_OK : RUMOR_ERR_DENIED;
    case RUMOR_EV_ROOM_RENAME:
    case RUMOR_EV_ROOM_TOPIC: return role == RUMOR_ROLE_ADMIN ? RUMOR_OK : RUMOR_ERR_DENIED;
    case RUMOR_EV_ROOM_MOVE: {
        if (role != RUMOR_ROLE_ADMIN) return RUMOR_ERR_DENIED;
        bool private_room = room.flags & RUMOR_ROOM_FLAG_PRIVATE;
        if (rumor_is_zero(ev->target, ID)) return private_room ? RUMOR_OK : RUMOR_ERR_DENIED;
        if (rumor_is_zero(room.parent, ID) && !private_room) return RUMOR_ERR_DENIED;
        rumor_store_room_t np;
        if (rumor_store_room_get(t, ev->target, &np) < 0) return RUMOR_ERR_DENIED;
        if (is_within(t, ev->target, ev->room)) return RUMOR_ERR_DENIED;
        if (private_room) {
            /* Its own domain wherever it goes; the mover must belong where it puts it. */
            if (!rumor_gossip_role(t, ev->target, ev->author)) return RUMOR_ERR_DENIED;
        } else {
            /* A shared room never changes key domain (PROTOCOL.md 3, 7). */
            uint8_t from[ID], to[ID];
            if (rumor_gossip_key_domain(t, ev->room, from) < 0 ||
                rumor_gossip_key_domain(t, ev->target, to) < 0 || memcmp(from, to, ID) != 0)
                return RUMOR_ERR_DENIED;
        }
        int depth = room_depth(t, ev->target);
        if (depth < 0 || depth + subtree_height(t, ev->room, RUMOR_MAX_DEPTH) > RUMOR_MAX_DEPTH)
            return RUMOR_ERR_DENIED;
        return RUMOR_OK;
    }
    case RUMOR_EV_MEMBER_ADD:
        if (!rumor_gossip_is_key_room(&room)) return RUMOR_ERR_DENIED;
        if (role == RUMOR_ROLE_ADMIN) return RUMOR_OK; /* adds, promotes, demotes */
        /* A member may invite to a shared room, but not change anyone's role. */
        if (role == RUMOR_ROLE_MEMBER && ev->role == RUMOR_ROLE_MEMBER &&
            !(room.flags & RUMOR_ROOM_FLAG_PRIVATE) && !rumor_gossip_role(t, ev->room, ev->target))
            return RUMOR_OK;
        return RUMOR_ERR_DENIED;
    case RUMOR_EV_MEMBER_REMOVE:
        if (!rumor_gossip_is_key_room(&room)) return RUMOR_ERR_DENIED;
        if (role == RUMOR_ROLE_ADMIN) return RUMOR_OK;
        return role && memcmp(ev->target, ev->author, ID) == 0 ? RUMOR_OK : RUMOR_ERR_DENIED;
    case RUMOR_EV_KEY_EPOCH:
        if (!rumor_gossip_is_key_room(&room) || !role) return RUMOR_ERR_DENIED;
        /* Exactly the next epoch: a member cannot jump ahead of rotations still to come. */
        return ev->epoch == room.epoch + 1 ? RUMOR_OK : RUMOR_ERR_DENIED;
    }
    return RUMOR_ERR_MALFORMED;
}

/* (lamport, id) of `ev` is later than the register `r`. */
static bool lww_newer(const rumor_event_t *ev, const rumor_store_lww_t *r)
{
    if (ev->lamport != r->lamport) return ev->lamport > r->lamport;
    return memcmp(ev->id, r->event, ID) > 0;
}

static void lww_set(rumor_store_lww_t *r, const rumor_event_t *ev)
{
    r->lamport = ev->lamport;
    memcpy(r->event, ev->id, ID);
}

int rumor_gossip_keep_key(rumor_txn_t *t, const rumor_identity_t *self, const uint8_t room[ID],
                          uint32_t epoch, const uint8_t key[RUMOR_ROOM_KEY_BYTES])
{
    uint8_t key_id[RUMOR_KEY_ID_BYTES], sealed[RUMOR_KEY_AT_REST_BYTES];
    rumor_room_key_id(key_id, key);
    if (!rumor_store_epoch_announced(t, room, epoch, key_id)) return RUMOR_ERR_DENIED;
    rumor_key_at_rest_seal(sealed, self, key);
    return rumor_store_key_put(t, key_id, room, epoch, sealed);
}

/* Keeps a key handed to us if the room announced it; an unannounced one is skipped, not fatal. */
static int keep(rumor_txn_t *t, const rumor_identity_t *self, const uint8_t room[ID],
                uint32_t epoch, const uint8_t *key)
{
    int rc = rumor_gossip_keep_key(t, self, room, epoch, key);
    return rc == RUMOR_ERR_DENIED ? RUMOR_OK : rc;
}

/*
 * Picks up the room keys an event hands to `self` (MEMBER_ADD grants,
 * KEY_EPOCH entries). Only keys the room announced are kept (PROTOCOL.md 4.4).
 */
static int take_keys(rumor_txn_t *t, const rumor_identity_t *self, const rumor_event_t *ev)
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
            if (rumor_seal_open(plain, self, e, RUMOR_SEALED_GRANT_BYTES) < 0) continue;
            rumor_room_key_id(key_id, key);
            if (!rumor_secret_equal(key_id, plain, RUMOR_KEY_ID_BYTES)) continue; /* mislabelled */
            rc = keep(t, self, ev->room, rumor_get_u32(plain + RUMOR_KEY_ID_BYTES), key);
        }
    } else if (ev->type == RUMOR_EV_KEY_EPOCH) {
        for (unsigned i = 0; i < ev->n_entries && rc == RUMOR_OK; i++) {
            const uint8_t *e = ev->entries + (size_t)i * RUMOR_EPOCH_ENTRY_BYTES;
            if (memcmp(e, me, ID) != 0) continue;
            if (rumor_seal_open(plain, self, e + ID, RUMOR_EPOCH_ENTRY_BYTES - ID) < 0) continue;
            rc = keep(t, self, ev->room, ev->epoch, plain);
        }
    }
    rumor_secret_free(plain);
    return rc;
}

/* Folds a valid event into the room state (PROTOCOL.md 4.2). */
static int apply(rumor_txn_t *t, const rumor_identity_t *self, const rumor_event_t *ev)
{
    int rc;
    uint8_t home[ID];
    event_home(ev, home);

    if (ev->type == RUMOR_EV_PROFILE) {
        rumor_store_profile_t p;
        rc = rumor_store_profile_get(t, ev->author, &p);
        if (rc < 0 && rc != RUMOR_ERR_NOT_FOUND) return rc;
        if (rc == RUMOR_OK && !lww_newer(ev, &p.set_by)) return RUMOR_OK;
        lww_set(&p.set_by, ev);
        memcpy(p.nick, ev->nick, ev->nick_len);
        p.nick[ev->nick_len] = '\0';
        return rumor_store_profile_put(t, ev->author, &p);
    }

    if ((rc = rumor_store_log_add(t, home, ev->lamport, ev->id, ev->type)) < 0) return rc;
    if ((rc = rumor_store_heads_advance(t, home, ev->id, ev->lamport, ev->parents, ev->n_parents)) <
        0)
        return rc;
    /* The key domain's set for anti-entropy (PROTOCOL.md 12.1); a top-level create opens its own.
     */
    uint8_t domain[ID];
    if (rumor_is_zero(ev->room, ID))
        memcpy(domain, ev->id, ID);
    else if ((rc = rumor_gossip_key_domain(t, ev->room, domain)) < 0)
        return rc;
    if ((rc = rumor_store_dlog_add(t, domain, ev->lamport, ev->id)) < 0) return rc;

    if (ev->type == RUMOR_EV_ROOM_CREATE) {
        rumor_store_room_t r = {0};
        memcpy(r.id, ev->id, ID);
        memcpy(r.parent, ev->room, ID);
        r.flags = ev->flags;
        memcpy(r.creator, ev->author, ID);
        r.created_ts = ev->ts;
        lww_set(&r.name, ev);
        lww_set(&r.topic, ev);
        lww_set(&r.place, ev);
        if ((rc = rumor_store_room_put(t, &r)) < 0) return rc;
        if (!rumor_is_zero(ev->room, ID)) {
            /* A sub-room's create is also the first event of the new room. */
            if ((rc = rumor_store_log_add(t, ev->id, ev->lamport, ev->id, ev->type)) < 0) return rc;
            if ((rc = rumor_store_heads_advance(t, ev->id, ev->id, ev->lamport, NULL, 0)) < 0)
                return rc;
            /* A private room is a domain of its own, and its create is in its set too. */
            if ((ev->flags & RUMOR_ROOM_FLAG_PRIVATE) &&
                (rc = rumor_store_dlog_add(t, ev->id, ev->lamport, ev->id)) < 0)
                return rc;
        }
        if (!rumor_gossip_is_key_room(&r)) return RUMOR_OK;
        /* A key room's create box is sealed under its epoch-0 key: that announces the key. */
        uint8_t key_id[RUMOR_KEY_ID_BYTES];
        if ((rc = rumor_box_key_id(ev->box, ev->box_len, key_id)) < 0) return rc;
        if ((rc = rumor_store_epoch_announce(t, ev->id, 0, key_id)) < 0) return rc;
        return rumor_store_member_put(t, ev->id, ev->author, RUMOR_ROLE_ADMIN);
    }

    rumor_store_room_t room;
    if ((rc = rumor_store_room_get(t, ev->room, &room)) < 0) return rc;
    switch (ev->type) {
    case RUMOR_EV_MESSAGE: room.messages++; break;
    case RUMOR_EV_ROOM_RENAME:
        if (lww_newer(ev, &room.name)) lww_set(&room.name, ev);
        break;
    case RUMOR_EV_ROOM_TOPIC:
        if (lww_newer(ev, &room.topic)) lww_set(&room.topic, ev);
        break;
    case RUMOR_EV_ROOM_MOVE:
        /* A move that would now make a cycle is ignored (PROTOCOL.md 4.2). */
        if (lww_newer(ev, &room.place) && !is_within(t, ev->target, ev->room)) {
            lww_set(&room.place, ev);
            memcpy(room.parent, ev->target, ID);
        }
        break;
    case RUMOR_EV_MEMBER_ADD:
        if ((rc = rumor_store_member_put(t, ev->room, ev->target, ev->role)) < 0) return rc;
        break;
    case RUMOR_EV_MEMBER_REMOVE:
        if ((rc = rumor_store_member_del(t, ev->room, ev->target)) < 0) return rc;
        break;
    case RUMOR_EV_KEY_EPOCH:
        if (ev->epoch > room.epoch) room.epoch = ev->epoch;
        if ((rc = rumor_store_epoch_announce(t, ev->room, ev->epoch, ev->key_id)) < 0) return rc;
        break;
    }
    if ((rc = rumor_store_room_put(t, &room)) < 0) return rc;
    if (self && (ev->type == RUMOR_EV_MEMBER_ADD || ev->type == RUMOR_EV_KEY_EPOCH))
        return take_keys(t, self, ev);
    return RUMOR_OK;
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
    if (rc == RUMOR_OK) rc = rumor_event_verify(ev);
    if (rc == RUMOR_OK) rc = check_causality(t, ev);
    if (rc == RUMOR_OK) rc = check_rules(t, ev);
    if (rc < 0) {
        if (c && is_invalid(rc)) {
            c->invalid++;
            if (rc == RUMOR_ERR_MISSING_PARENT) c->missing_parent++;
        }
        return rc;
    }
    if ((rc = rumor_store_event_put(t, ev->id, buf, len)) < 0) return rc;
    if ((rc = apply(t, self, ev)) < 0) return rc;
    if (c) c->delivered++;
    return RUMOR_OK;
}

int rumor_gossip_next_parents(rumor_txn_t *t, const uint8_t room[ID], uint8_t *parents,
                              uint8_t *n_parents, uint64_t *lamport)
{
    size_t n = 0;
    int rc = rumor_store_heads_get(t, room, parents, RUMOR_MAX_PARENTS, &n, NULL);
    if (rc < 0) return rc;
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
