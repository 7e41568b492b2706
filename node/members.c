/* members.c - adding members to a room's key domain, directly or by invite code (PROTOCOL.md 10).
 */
#include "node_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* How long an invite code stays redeemable. */
#define INVITE_TTL_MS (7ULL * 24 * 3600 * 1000)

typedef struct {
    rumor_node_t *n;
    rumor_txn_t *t;
    const uint8_t *member;
    uint8_t *body; /* member | role | n | grants */
    size_t n_grants;
    uint8_t *key; /* secret scratch for one room key */
    int err;
} grant_t;

/* Seals one held epoch key to the new member: key_id | epoch | key. */
static int grant_step(void *ctx, const uint8_t key_id[RUMOR_KEY_ID_BYTES], uint32_t epoch)
{
    grant_t *g = ctx;
    if (g->n_grants >= RUMOR_MAX_SEALED_KEYS) return 1;
    int rc = rumor_node_load_key(g->t, g->n, key_id, g->key);
    if (rc == RUMOR_ERR_NO_KEY) return 0; /* announced but never given to us */
    if (rc < 0) return rc;
    uint8_t plain[RUMOR_KEY_ID_BYTES + 4 + RUMOR_ROOM_KEY_BYTES];
    memcpy(plain, key_id, RUMOR_KEY_ID_BYTES);
    rumor_put_u32(plain + RUMOR_KEY_ID_BYTES, epoch);
    memcpy(plain + RUMOR_KEY_ID_BYTES + 4, g->key, RUMOR_ROOM_KEY_BYTES);
    rc = rumor_seal_to(g->body + ID + 2 + g->n_grants * RUMOR_SEALED_GRANT_BYTES, g->member, plain,
                       sizeof plain);
    rumor_wipe(plain, sizeof plain);
    if (rc < 0) return rc;
    g->n_grants++;
    return 0;
}

/* Checks that we may add `member` with `role` to the key room `domain`. */
static int may_add(rumor_txn_t *t, rumor_node_t *n, const uint8_t domain[ID],
                   const uint8_t member[ID], uint8_t role)
{
    rumor_store_room_t r;
    int rc = rumor_store_room_get(t, domain, &r);
    if (rc < 0) return rc;
    uint8_t mine = rumor_gossip_role(t, domain, n->pk);
    /* Someone who is a member already keeps its role: adding never changes one (PROTOCOL.md 7.2).
     */
    if (rumor_gossip_role(t, domain, member)) return RUMOR_ERR_EXISTS;
    /* A rotation seals to every member, at most RUMOR_MAX_MEMBERS (PROTOCOL.md 7.4). */
    if (rumor_store_member_count(t, domain) >= RUMOR_MAX_MEMBERS) return RUMOR_ERR_TOO_BIG;
    /* A private sub-room's first event builds on the events of the domain it was made in, which
     * only that domain's members can fetch: its members are members there too (PROTOCOL.md 7.2).
     * (The zero key stands for a stranger redeeming a code: checked when it redeems.) */
    if ((r.flags & RUMOR_ROOM_FLAG_PRIVATE) && !rumor_is_zero(member, ID)) {
        uint8_t outer[ID];
        if ((rc = rumor_gossip_creation_domain(t, domain, outer)) < 0) return rc;
        if (!rumor_is_zero(outer, ID) && !rumor_gossip_role(t, outer, member))
            return RUMOR_ERR_NO_KEY;
    }
    if (mine >= RUMOR_ROLE_ADMIN) return RUMOR_OK;
    if (!mine || role != RUMOR_ROLE_MEMBER || (r.flags & RUMOR_ROOM_FLAG_PRIVATE))
        return RUMOR_ERR_DENIED;
    return RUMOR_OK;
}

int rumor_node_member_add_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t room[ID],
                             const uint8_t member[ID], uint8_t role, uint8_t id_out[ID])
{
    uint8_t domain[ID], curve[32];
    if (role != RUMOR_ROLE_MEMBER && role != RUMOR_ROLE_ADMIN) return RUMOR_ERR_INVALID;
    if (rumor_curve_public(curve, member) < 0) return RUMOR_ERR_INVALID;
    if (!n->id) return RUMOR_ERR_PASSPHRASE;
    int rc = rumor_gossip_key_domain(t, room, domain);
    if (rc < 0) return rc;
    if ((rc = may_add(t, n, domain, member, role)) < 0) return rc;

    grant_t g = {.n = n, .t = t, .member = member};
    g.body = malloc(ID + 2 + RUMOR_MAX_SEALED_KEYS * RUMOR_SEALED_GRANT_BYTES);
    g.key = rumor_secret_alloc(RUMOR_ROOM_KEY_BYTES);
    if (!g.body || !g.key) {
        rc = RUMOR_ERR_NOMEM;
        goto out;
    }
    if ((rc = rumor_store_key_each(t, domain, grant_step, &g)) < 0) goto out;
    memcpy(g.body, member, ID);
    g.body[ID] = role;
    g.body[ID + 1] = (uint8_t)g.n_grants;
    post_t p = {.n = n,
                .type = RUMOR_EV_MEMBER_ADD,
                .plain = g.body,
                .plain_len = ID + 2 + g.n_grants * RUMOR_SEALED_GRANT_BYTES};
    memcpy(p.room, domain, ID);
    if ((rc = rumor_node_post_in(t, &p)) == RUMOR_OK && id_out) memcpy(id_out, p.id, ID);
out:
    free(g.body);
    rumor_secret_free(g.key);
    return rc;
}

typedef struct {
    rumor_node_t *n;
    const uint8_t *room, *member;
    uint8_t role;
    uint8_t id[ID];
} add_t;

static int add_fn(rumor_txn_t *t, void *ctx)
{
    add_t *a = ctx;
    return rumor_node_member_add_in(t, a->n, a->room, a->member, a->role, a->id);
}

int rumor_node_member_add(rumor_node_t *n, const uint8_t room[ID], const uint8_t member[ID],
                          uint8_t role, uint8_t id_out[ID])
{
    add_t a = {n, room, member, role, {0}};
    int rc = rumor_store_write(n->store, add_fn, &a);
    if (rc == RUMOR_OK && id_out) memcpy(id_out, a.id, ID);
    return rc;
}

/* ---- invites ------------------------------------------------------------------ */

static void token_hash(uint8_t out[ID], const uint8_t token[RUMOR_WIRE_TOKEN_BYTES])
{
    crypto_generichash(out, ID, token, RUMOR_WIRE_TOKEN_BYTES, NULL, 0);
}

typedef struct {
    rumor_node_t *n;
    rumor_invite_t *inv;
} invite_t;

static int invite_fn(rumor_txn_t *t, void *ctx)
{
    invite_t *c = ctx;
    uint8_t domain[ID], h[ID];
    int rc = rumor_gossip_key_domain(t, c->inv->room, domain);
    if (rc < 0) return rc;
    /* Whoever redeems the code is someone we do not know yet: check our rights for a stranger. */
    uint8_t nobody[ID] = {0};
    if ((rc = may_add(t, c->n, domain, nobody, c->inv->role)) < 0) return rc;
    memcpy(c->inv->room, domain, ID);
    token_hash(h, c->inv->token);
    return rumor_store_invite_put(t, h, domain, c->inv->role,
                                  (uint64_t)c->n->clock(c->n->clock_ctx) + INVITE_TTL_MS);
}

int rumor_node_invite_create(rumor_node_t *n, const uint8_t room[ID], uint8_t role,
                             const char *host, uint16_t port, char *code, size_t cap)
{
    rumor_invite_t inv = {.role = role, .port = port};
    if (strlen(host) > RUMOR_INVITE_HOST_MAX) return RUMOR_ERR_INVALID;
    memcpy(inv.room, room, ID);
    memcpy(inv.inviter, n->pk, ID);
    strcpy(inv.host, host);
    randombytes_buf(inv.token, sizeof inv.token);
    invite_t c = {n, &inv};
    int rc = rumor_store_write(n->store, invite_fn, &c);
    if (rc == RUMOR_OK) rc = rumor_invite_encode(&inv, code, cap);
    sodium_memzero(inv.token, sizeof inv.token);
    return rc;
}

typedef struct {
    rumor_node_t *n;
    const uint8_t *room, *token, *joiner;
    uint8_t status;
    uint8_t id[ID];
} redeem_t;

static int redeem_fn(rumor_txn_t *t, void *ctx)
{
    redeem_t *r = ctx;
    uint8_t h[ID], room[ID], role;
    uint64_t expires;
    token_hash(h, r->token);
    int rc = rumor_store_invite_take(t, h, room, &role, &expires);
    if (rc == RUMOR_ERR_NOT_FOUND || (rc == RUMOR_OK && memcmp(room, r->room, ID) != 0)) {
        r->status = RUMOR_JOIN_UNKNOWN;
        return RUMOR_ERR_NOT_FOUND; /* roll back: a wrong room must not burn the token */
    }
    if (rc < 0) return rc;
    if ((uint64_t)r->n->clock(r->n->clock_ctx) > expires) {
        r->status = RUMOR_JOIN_EXPIRED;
        return RUMOR_OK; /* commit: an expired token is gone for good */
    }
    rc = rumor_node_member_add_in(t, r->n, room, r->joiner, role, r->id);
    if (rc == RUMOR_ERR_EXISTS) {
        /* Already a member (a repeated join): nothing to add, the token is used. */
        r->status = RUMOR_JOIN_OK;
        memset(r->id, 0, ID);
        return RUMOR_OK;
    }
    if (rc < 0) {
        r->status = RUMOR_JOIN_FAILED;
        return rc;
    }
    r->status = RUMOR_JOIN_OK;
    return RUMOR_OK;
}

uint8_t rumor_node_invite_redeem(rumor_node_t *n, const uint8_t room[ID], const uint8_t *token,
                                 const uint8_t joiner[ID], uint8_t id_out[ID], bool *added)
{
    redeem_t r = {
        .n = n, .room = room, .token = token, .joiner = joiner, .status = RUMOR_JOIN_FAILED};
    int rc = rumor_store_write(n->store, redeem_fn, &r);
    *added = rc == RUMOR_OK && r.status == RUMOR_JOIN_OK && !rumor_is_zero(r.id, ID);
    if (*added) memcpy(id_out, r.id, ID);
    return rc == RUMOR_OK || r.status == RUMOR_JOIN_UNKNOWN ? r.status : RUMOR_JOIN_FAILED;
}

/* ---- removal, roles and key rotation (PROTOCOL.md 7.4, 7.7) ------------------------- */

typedef struct {
    rumor_txn_t *t;
    uint8_t *body;      /* KEY_EPOCH body being filled */
    const uint8_t *key; /* the new key */
    size_t n;
    int rc;
} seal_all_t;

static int seal_step(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    (void)role;
    seal_all_t *s = ctx;
    if (s->n >= RUMOR_MAX_MEMBERS) return s->rc = RUMOR_ERR_TOO_BIG;
    uint8_t *e = s->body + RUMOR_KEY_EPOCH_FIXED + s->n * RUMOR_EPOCH_ENTRY_BYTES;
    memcpy(e, pk, ID);
    int rc = rumor_seal_to(e + ID, pk, s->key, RUMOR_ROOM_KEY_BYTES);
    if (rc < 0) return s->rc = rc;
    s->n++;
    return 0;
}

int rumor_node_rotate_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t domain[ID],
                         uint8_t id_out[ID])
{
    rumor_store_room_t r;
    int rc = rumor_store_room_get(t, domain, &r);
    if (rc < 0) return rc;
    uint8_t *body = malloc(RUMOR_KEY_EPOCH_FIXED + RUMOR_MAX_MEMBERS * RUMOR_EPOCH_ENTRY_BYTES);
    uint8_t *key = rumor_secret_alloc(RUMOR_ROOM_KEY_BYTES);
    if (!body || !key) {
        rc = RUMOR_ERR_NOMEM;
        goto out;
    }
    rumor_room_key_generate(key);
    seal_all_t s = {t, body, key, 0, RUMOR_OK};
    rc = rumor_store_member_each(t, domain, seal_step, &s);
    if (rc == RUMOR_OK) rc = s.rc;
    if (rc < 0) goto out;
    rumor_put_u32(body, r.epoch + 1);
    rumor_put_u16(body + 4, (uint16_t)s.n);
    rumor_room_key_id(body + 6, key);
    post_t p = {.n = n,
                .type = RUMOR_EV_KEY_EPOCH,
                .plain = body,
                .plain_len = RUMOR_KEY_EPOCH_FIXED + s.n * RUMOR_EPOCH_ENTRY_BYTES};
    memcpy(p.room, domain, ID);
    if ((rc = rumor_node_post_in(t, &p)) < 0) goto out;
    /* The fold must have taken it: the new epoch is announced. */
    if (!rumor_store_epoch_announced(t, domain, r.epoch + 1, body + 6)) {
        rc = RUMOR_ERR_DENIED;
        goto out;
    }
    if (id_out) memcpy(id_out, p.id, ID);
out:
    free(body);
    rumor_secret_free(key);
    return rc;
}

typedef struct {
    rumor_node_t *n;
    const uint8_t *room, *member;
    uint8_t role;       /* MEMBER_ROLE: the new role; 0 for a removal */
    uint8_t ids[2][ID]; /* the events written */
    size_t n_ids;
} change_t;

static int change_fn(rumor_txn_t *t, void *ctx)
{
    change_t *c = ctx;
    rumor_node_t *n = c->n;
    uint8_t domain[ID];
    c->n_ids = 0; /* the store runs this again after growing its map */
    if (!n->id) return RUMOR_ERR_PASSPHRASE;
    int rc = rumor_gossip_key_domain(t, c->room, domain);
    if (rc < 0) return rc;
    uint8_t mine = rumor_gossip_role(t, domain, n->pk);
    uint8_t theirs = rumor_gossip_role(t, domain, c->member);
    bool self = memcmp(c->member, n->pk, ID) == 0;
    if (!theirs) return RUMOR_ERR_NOT_FOUND; /* (leaving: we are not a member) */
    if (!mine) return RUMOR_ERR_DENIED;
    uint8_t body[ID + 1];
    memcpy(body, c->member, ID);
    post_t p = {.n = n, .plain = body};
    memcpy(p.room, domain, ID);
    if (c->role) {
        if (theirs == c->role) return RUMOR_ERR_EXISTS;
        body[ID] = c->role;
        p.type = RUMOR_EV_MEMBER_ROLE;
        p.plain_len = ID + 1;
    } else {
        /* The owner does not leave a room others still use (PROTOCOL.md 7.5). */
        if (self && theirs == RUMOR_ROLE_OWNER && rumor_store_member_count(t, domain) > 1)
            return RUMOR_ERR_BUSY;
        p.type = RUMOR_EV_MEMBER_REMOVE;
        p.plain_len = ID;
    }
    if ((rc = rumor_node_post_in(t, &p)) < 0) return rc;
    memcpy(c->ids[c->n_ids++], p.id, ID);
    /* Refused by the fold (rank): roll the transaction back and say so. */
    if (rumor_gossip_role(t, domain, c->member) != c->role) return RUMOR_ERR_DENIED;
    /* A kick rotates the key in the same transaction; after a leave, those who stay do. */
    if (!c->role && !self && rumor_store_member_count(t, domain) > 0) {
        if ((rc = rumor_node_rotate_in(t, n, domain, c->ids[c->n_ids])) < 0) return rc;
        c->n_ids++;
    }
    return RUMOR_OK;
}

int rumor_node_member_change(rumor_node_t *n, const uint8_t room[ID], const uint8_t member[ID],
                             uint8_t role, uint8_t ids_out[2][ID], size_t *n_ids)
{
    if (role > RUMOR_ROLE_ADMIN) return RUMOR_ERR_INVALID;
    change_t c = {n, room, member, role, {{0}}, 0};
    int rc = rumor_store_write(n->store, change_fn, &c);
    if (rc == RUMOR_OK && ids_out) memcpy(ids_out, c.ids, sizeof c.ids);
    if (n_ids) *n_ids = rc == RUMOR_OK ? c.n_ids : 0;
    return rc;
}

/* ---- rotation after someone left ---------------------------------------------------- */

typedef struct {
    rumor_txn_t *t;
    const uint8_t *domain;
    uint8_t in_use[RUMOR_KEY_ID_BYTES]; /* the key senders use now (zero: epoch 0's) */
    bool epoch0;                        /* it is epoch 0's, announced by the root */
    bool removal_after;                 /* a removal took effect after it was announced */
    bool due;
    int rc;
} due_t;

/*
 * Newest first, down to the KEY_EPOCH of the key in use: due when a removal took effect
 * after it (the removed member held it, by that rotation or a grant since), or when it was
 * sealed to someone who is no member now (a rotation concurrent with a removal).
 */
static int due_step(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t type)
{
    (void)lamport;
    due_t *d = ctx;
    const uint8_t *b;
    size_t len;
    rumor_event_t ev;
    if (type != RUMOR_EV_KEY_EPOCH && type != RUMOR_EV_MEMBER_REMOVE) return 0;
    if ((d->rc = rumor_store_event_get(d->t, id, &b, &len)) < 0) return 1;
    if (rumor_event_decode(b, len, &ev) < 0) return d->rc = RUMOR_ERR_STORE, 1;
    if (type == RUMOR_EV_KEY_EPOCH) {
        if (d->epoch0 || memcmp(ev.key_id, d->in_use, RUMOR_KEY_ID_BYTES) != 0 ||
            !rumor_store_epoch_announced(d->t, d->domain, ev.epoch, ev.key_id))
            return 0;
        d->due = d->removal_after;
        for (unsigned i = 0; i < ev.n_entries && !d->due; i++) {
            uint8_t role;
            const uint8_t *pk = ev.entries + (size_t)i * RUMOR_EPOCH_ENTRY_BYTES;
            d->due = rumor_store_member_get(d->t, d->domain, pk, &role) != RUMOR_OK;
        }
        return 1;
    }
    if (rumor_gossip_removal_in_effect(d->t, d->domain, ev.target, id)) d->removal_after = true;
    return 0;
}

typedef struct {
    uint8_t best[ID];
    uint8_t rank;
    bool any;
} rotator_t;

static int rotator_step(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    rotator_t *r = ctx;
    if (!r->any || role > r->rank || (role == r->rank && memcmp(pk, r->best, ID) < 0)) {
        memcpy(r->best, pk, ID);
        r->rank = role;
        r->any = true;
    }
    return 0;
}

bool rumor_node_rotation_due(rumor_txn_t *t, rumor_node_t *n, const uint8_t domain[ID])
{
    due_t d = {t, domain, {0}, false, false, false, RUMOR_OK};
    uint32_t epoch = 0;
    if (rumor_store_epoch_newest(t, domain, &epoch, d.in_use) < 0) return false;
    d.epoch0 = epoch == 0;
    if (rumor_store_clog_each(t, domain, true, due_step, &d) < 0 || d.rc < 0) return false;
    if (d.epoch0) d.due = d.removal_after; /* everyone ever added holds epoch 0 */
    if (!d.due) return false;
    /* Those who stay rotate: the member of highest rank, then smallest key (PROTOCOL.md 7.7). */
    rotator_t r = {{0}, 0, false};
    rumor_store_member_each(t, domain, rotator_step, &r);
    return r.any && memcmp(r.best, n->pk, ID) == 0;
}

typedef struct {
    rumor_node_t *n;
    const uint8_t *domain;
    bool written;
    uint8_t id[ID];
} due_write_t;

static int rotate_due_fn(rumor_txn_t *t, void *ctx)
{
    due_write_t *w = ctx;
    if (!rumor_node_rotation_due(t, w->n, w->domain)) return RUMOR_OK;
    int rc = rumor_node_rotate_in(t, w->n, w->domain, w->id);
    w->written = rc == RUMOR_OK;
    return rc;
}

int rumor_node_rotate_if_due(rumor_node_t *n, const uint8_t domain[ID], bool *written,
                             uint8_t id_out[ID])
{
    due_write_t w = {n, domain, false, {0}};
    *written = false;
    if (!n->id) return RUMOR_OK;
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    bool due = rumor_node_rotation_due(t, n, domain);
    rumor_store_read_end(&t);
    if (!due) return RUMOR_OK;
    rc = rumor_store_write(n->store, rotate_due_fn, &w);
    *written = rc == RUMOR_OK && w.written;
    if (*written) memcpy(id_out, w.id, ID);
    return rc;
}
