/*
 * dm.c - direct conversations (PROTOCOL.md 7.9): a top-level room flagged
 * DIRECT whose owner adds exactly one other member. Its topic, keys, catch-up
 * and delivery are every room's; the node dials the other member when it
 * knows an address, and the INVITED frame tells the other member's node of
 * the conversation the first time they meet.
 */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

typedef struct {
    rumor_txn_t *t;
    const uint8_t *me, *peer; /* peer NULL: every conversation */
    uint8_t found[ID];
    bool any;
    rumor_node_dm_fn cb; /* rumor_node_dm_each */
    void *ctx;
} dm_walk_t;

/* The other member of a direct room of ours, or false. */
static bool dm_other(rumor_txn_t *t, const rumor_store_room_t *r, const uint8_t me[ID],
                     uint8_t other[ID]);

typedef struct {
    const uint8_t *me;
    uint8_t other[ID];
    int n, mine;
} pair_t;

static int pair_step(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    (void)role;
    pair_t *p = ctx;
    p->n++;
    if (memcmp(pk, p->me, ID) == 0)
        p->mine++;
    else
        memcpy(p->other, pk, ID);
    return p->n > 2 ? 1 : 0;
}

static bool dm_other(rumor_txn_t *t, const rumor_store_room_t *r, const uint8_t me[ID],
                     uint8_t other[ID])
{
    if (!(r->flags & RUMOR_ROOM_FLAG_DIRECT) || (r->flags & RUMOR_ROOM_FLAG_HIDDEN)) return false;
    pair_t p = {.me = me};
    if (rumor_store_member_each(t, r->id, pair_step, &p) < 0) return false;
    if (p.n != 2 || p.mine != 1) return false;
    memcpy(other, p.other, ID);
    return true;
}

static int find_step(void *ctx, const rumor_store_room_t *r)
{
    dm_walk_t *w = ctx;
    uint8_t other[ID];
    if (!dm_other(w->t, r, w->me, other)) return 0;
    if (w->cb) return w->cb(w->ctx, r->id, other);
    if (memcmp(other, w->peer, ID) != 0) return 0;
    /* Both may have started one at once: the smallest id is the conversation. */
    if (!w->any || memcmp(r->id, w->found, ID) < 0) memcpy(w->found, r->id, ID);
    w->any = true;
    return 0;
}

int rumor_node_dm_find_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t peer[ID], uint8_t room[ID])
{
    uint8_t top[ID] = {0};
    dm_walk_t w = {.t = t, .me = n->pk, .peer = peer};
    int rc = rumor_store_room_children(t, top, find_step, &w);
    if (rc < 0) return rc;
    if (!w.any) return RUMOR_ERR_NOT_FOUND;
    memcpy(room, w.found, ID);
    return RUMOR_OK;
}

int rumor_node_dm_find(rumor_node_t *n, const uint8_t peer[ID], uint8_t room[ID])
{
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    rc = rumor_node_dm_find_in(t, n, peer, room);
    rumor_store_read_end(&t);
    return rc;
}

int rumor_node_dm_each(rumor_node_t *n, rumor_node_dm_fn cb, void *ctx)
{
    rumor_txn_t *t;
    uint8_t top[ID] = {0};
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    dm_walk_t w = {.t = t, .me = n->pk, .cb = cb, .ctx = ctx};
    rc = rumor_store_room_children(t, top, find_step, &w);
    rumor_store_read_end(&t);
    return rc;
}

typedef struct {
    rumor_node_t *n;
    const uint8_t *peer;
    const char *text;
    size_t len;
    uint8_t id[ID]; /* the message written */
} dm_t;

/* Starts the conversation: a DIRECT top-level room, then the other member added with its key. */
static int dm_start(rumor_txn_t *t, dm_t *c, uint8_t room[ID])
{
    rumor_node_t *n = c->n;
    static const uint8_t name[] = {2, 'd', 'm'}; /* name_len | name: never shown in the tree */
    uint8_t flags = RUMOR_ROOM_FLAG_DIRECT, zero[ID] = {0};
    uint8_t *key = rumor_secret_alloc(RUMOR_ROOM_KEY_BYTES);
    if (!key) return RUMOR_ERR_NOMEM;
    rumor_room_key_generate(key);
    post_t p = {.n = n,
                .type = RUMOR_EV_ROOM_CREATE,
                .plain = &flags,
                .plain_len = 1,
                .text = name,
                .text_len = sizeof name,
                .box_key = key};
    memcpy(p.room, zero, ID);
    int rc = rumor_node_post_in(t, &p);
    if (rc == RUMOR_OK) rc = rumor_gossip_keep_key(t, n->id, p.id, 0, key);
    rumor_secret_free(key);
    if (rc < 0) return rc;
    memcpy(room, p.id, ID);
    uint8_t added[ID];
    return rumor_node_member_add_in(t, n, room, c->peer, RUMOR_ROLE_MEMBER, added);
}

static int dm_fn(rumor_txn_t *t, void *ctx)
{
    dm_t *c = ctx;
    uint8_t room[ID];
    if (!c->n->id) return RUMOR_ERR_PASSPHRASE;
    int rc = rumor_node_dm_find_in(t, c->n, c->peer, room);
    if (rc == RUMOR_ERR_NOT_FOUND) rc = dm_start(t, c, room);
    if (rc < 0) return rc;
    return rumor_node_send_in(t, c->n, room, c->text, c->len, c->id);
}

int rumor_node_dm_send(rumor_node_t *n, const uint8_t peer[ID], const char *text, size_t len,
                       uint8_t id_out[ID])
{
    uint8_t curve[32];
    if (memcmp(peer, n->pk, ID) == 0 || rumor_curve_public(curve, peer) < 0)
        return RUMOR_ERR_INVALID;
    int rc = rumor_node_text_check(text, len);
    if (rc < 0) return rc;
    dm_t c = {.n = n, .peer = peer, .text = text, .len = len};
    if ((rc = rumor_store_write(n->store, dm_fn, &c)) == RUMOR_OK) memcpy(id_out, c.id, ID);
    return rc;
}
