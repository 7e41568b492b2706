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
