/*
 * told.c - what nodes tell each other of memberships (PROTOCOL.md 9.2 INVITED, 7.5): which
 * peer to tell of which domain, which of a removed member's removals to push it, and the table
 * of memberships peers told us of. Decisions only, as functions of the store, the peer and
 * `now`; the node sends and subscribes.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

bool rumor_gossip_tell_invited(rumor_txn_t *t, const uint8_t topic[ID], const uint8_t peer[ID])
{
    uint8_t role;
    return !rumor_is_zero(topic, ID) && rumor_store_member_get(t, topic, peer, &role) == RUMOR_OK;
}

typedef struct {
    uint8_t id[ID];       /* the last removal seen */
    bool removed;         /* and no add after it */
    const uint8_t *probe; /* rumor_gossip_removal_in_effect: this removal */
    bool probe_found;
} removal_walk_t;

static int removal_step(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t role)
{
    (void)lamport;
    removal_walk_t *w = ctx;
    if (role == 0) {
        memcpy(w->id, id, ID);
        if (w->probe && memcmp(id, w->probe, ID) == 0) w->probe_found = true;
    }
    w->removed = role == 0;
    return 0;
}

bool rumor_gossip_removal_in_effect(rumor_txn_t *t, const uint8_t domain[ID],
                                    const uint8_t target[ID], const uint8_t removal[ID])
{
    removal_walk_t w = {.probe = removal};
    return rumor_store_mhist_each(t, domain, target, removal_step, &w) == RUMOR_OK && w.probe_found;
}

int rumor_gossip_removal_to_tell(rumor_txn_t *t, const uint8_t domain[ID], const uint8_t peer[ID],
                                 uint8_t removal[ID])
{
    uint8_t role;
    if (rumor_is_zero(domain, ID)) return RUMOR_ERR_NOT_FOUND;
    if (rumor_store_member_get(t, domain, peer, &role) == RUMOR_OK) return RUMOR_ERR_NOT_FOUND;
    if (!rumor_store_admitted(t, domain, peer)) return RUMOR_ERR_NOT_FOUND;
    removal_walk_t w = {0};
    int rc = rumor_store_mhist_each(t, domain, peer, removal_step, &w);
    if (rc < 0) return rc;
    if (!w.removed) return RUMOR_ERR_NOT_FOUND;
    memcpy(removal, w.id, ID);
    return RUMOR_OK;
}

/* ---- memberships peers told us of ------------------------------------------------ */

bool rumor_gossip_told_has(const rumor_gossip_told_t *told, const uint8_t topic[ID])
{
    for (size_t i = 0; i < told->n; i++)
        if (memcmp(told->e[i].topic, topic, ID) == 0) return true;
    return false;
}

int rumor_gossip_told_offer(rumor_gossip_told_t *told, const uint8_t topic[ID],
                            const uint8_t from[ID], uint64_t now_ms)
{
    if (rumor_is_zero(topic, ID)) return RUMOR_ERR_INVALID;
    size_t from_it = 0;
    for (size_t i = 0; i < told->n; i++) {
        if (memcmp(told->e[i].topic, topic, ID) == 0) {
            told->e[i].until_ms = now_ms + RUMOR_GOSSIP_TOLD_TTL_MS;
            return RUMOR_ERR_EXISTS;
        }
        from_it += memcmp(told->e[i].from, from, ID) == 0;
    }
    if (told->n >= RUMOR_GOSSIP_TOLD_MAX || from_it >= RUMOR_GOSSIP_TOLD_PER_PEER)
        return RUMOR_ERR_TOO_BIG;
    rumor_gossip_told_entry_t *e = &told->e[told->n++];
    memcpy(e->topic, topic, ID);
    memcpy(e->from, from, ID);
    e->until_ms = now_ms + RUMOR_GOSSIP_TOLD_TTL_MS;
    return RUMOR_OK;
}

int rumor_gossip_told_expire(rumor_gossip_told_t *told, rumor_txn_t *t, const uint8_t self[ID],
                             uint64_t now_ms, size_t *given_up)
{
    *given_up = 0;
    for (size_t i = 0; i < told->n;) {
        bool arrived = rumor_gossip_role(t, told->e[i].topic, self) != 0;
        if (arrived || now_ms > told->e[i].until_ms) {
            if (!arrived) (*given_up)++;
            told->e[i] = told->e[--told->n];
        } else {
            i++;
        }
    }
    return RUMOR_OK;
}

/* ---- what a node subscribes to --------------------------------------------------- */

typedef struct {
    rumor_txn_t *t;
    const uint8_t *self;
    uint8_t (*out)[ID];
    size_t n, cap;
    int depth;
} subs_walk_t;

static void subs_add(subs_walk_t *w, const uint8_t topic[ID])
{
    for (size_t i = 0; i < w->n; i++)
        if (memcmp(w->out[i], topic, ID) == 0) return;
    if (w->n < w->cap) memcpy(w->out[w->n++], topic, ID);
}

static int subs_step(void *ctx, const rumor_store_room_t *r)
{
    subs_walk_t *w = ctx;
    uint8_t domain[ID];
    if (rumor_gossip_key_domain(w->t, r->id, domain) == RUMOR_OK &&
        rumor_gossip_role(w->t, r->id, w->self))
        subs_add(w, domain);
    if (w->depth >= RUMOR_MAX_DEPTH * RUMOR_MAX_DEPTH) return 0;
    w->depth++;
    int rc = rumor_store_room_children(w->t, r->id, subs_step, w);
    w->depth--;
    return rc;
}

static int topic_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ID);
}

int rumor_gossip_subscriptions(rumor_txn_t *t, const uint8_t self[ID], const uint8_t (*wanted)[ID],
                               size_t n_wanted, size_t n_counted, uint8_t (*out)[ID], size_t cap,
                               size_t *n, size_t *arrived)
{
    subs_walk_t w = {t, self, out, 0, cap, 0};
    uint8_t zero[ID] = {0};
    *arrived = 0;
    subs_add(&w, zero); /* the profile topic */
    int rc = rumor_store_room_children(t, zero, subs_step, &w);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n_wanted; i++) {
        if (rumor_gossip_role(t, wanted[i], self)) {
            if (i < n_counted) (*arrived)++; /* the walk of the rooms has it now */
            continue;
        }
        subs_add(&w, wanted[i]);
    }
    qsort(out, w.n, ID, topic_cmp);
    *n = w.n;
    return RUMOR_OK;
}

/*
 * The topics a node names to `peer` in SUB, and the only ones whose SUB from that peer it
 * honours (PROTOCOL.md 9.3): a held domain of which our store holds the peer as a member; a
 * domain we only want (no events yet) when the peer told us of it, or when nobody did (a
 * backup's); the profile topic when the peer is a member of a held domain or a contact. A
 * stranger is named nothing of ours, and nothing of ours it claims is honoured.
 */
int rumor_gossip_topics_for(rumor_txn_t *t, const uint8_t peer[ID], const uint8_t (*held)[ID],
                            size_t n_held, const rumor_gossip_told_t *told, uint8_t (*out)[ID],
                            size_t *n)
{
    size_t k = 0;
    bool profile_topic = false, member_somewhere = false;
    for (size_t i = 0; i < n_held; i++) {
        const uint8_t *h = held[i];
        if (rumor_is_zero(h, ID)) {
            profile_topic = true;
            continue;
        }
        rumor_store_room_t room;
        uint8_t role;
        int rc = rumor_store_room_get(t, h, &room);
        bool named;
        if (rc == RUMOR_OK) {
            rc = rumor_store_member_get(t, h, peer, &role);
            if (rc < 0 && rc != RUMOR_ERR_NOT_FOUND) return rc;
            named = rc == RUMOR_OK;
            member_somewhere |= named;
        } else if (rc == RUMOR_ERR_NOT_FOUND) {
            bool told_by_peer = false, told_at_all = false;
            for (size_t j = 0; told && j < told->n; j++) {
                if (memcmp(told->e[j].topic, h, ID) != 0) continue;
                told_at_all = true;
                told_by_peer |= memcmp(told->e[j].from, peer, ID) == 0;
            }
            named = told_by_peer || !told_at_all;
        } else {
            return rc;
        }
        if (named) memcpy(out[k++], h, ID);
    }
    if (profile_topic && !member_somewhere) {
        char name[RUMOR_STORE_NICK_MAX + 1];
        profile_topic = rumor_store_contact_get(t, peer, name) == RUMOR_OK;
    }
    if (profile_topic) {
        /* The zero topic sorts first. */
        memmove(out[1], out[0], k * ID);
        memset(out[0], 0, ID);
        k++;
    }
    *n = k;
    return RUMOR_OK;
}

size_t rumor_gossip_topics_counted(const uint8_t *claimed, size_t n_claimed, const uint8_t *named,
                                   size_t n_named, const uint8_t *before, size_t n_before,
                                   uint8_t *out, bool *grew)
{
    size_t i = 0, j = 0, b = 0, k = 0;
    *grew = false;
    while (i < n_claimed && j < n_named) {
        int c = memcmp(claimed + i * ID, named + j * ID, ID);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            const uint8_t *id = named + j * ID;
            while (b < n_before && memcmp(before + b * ID, id, ID) < 0) b++;
            *grew |= b == n_before || memcmp(before + b * ID, id, ID) != 0;
            memcpy(out + ID * k++, id, ID);
            i++;
            j++;
        }
    }
    return k;
}
