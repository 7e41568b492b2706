/*
 * contacts.c - people: the user's own names for keys (contacts, or petnames),
 * the one function that makes the name shown for a key, and PEER resolution
 * (SPEC section 2).
 *
 * A nick is chosen by its owner and proves nothing, so it is never shown
 * alone: only a contact's name (chosen by the user) and this node's own nick
 * are shown bare, and are called verified.
 */
#include "node_internal.h"

#include <stdio.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

_Static_assert(RUMOR_CONTACT_NAME_MAX == RUMOR_STORE_NICK_MAX,
               "the store keeps contact names of up to RUMOR_CONTACT_NAME_MAX bytes");

/* ---- names ------------------------------------------------------------------ */

int rumor_node_contact_check_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0) return RUMOR_ERR_INVALID;
    if (len > RUMOR_CONTACT_NAME_MAX) return RUMOR_ERR_TOO_BIG;
    if (!rumor_utf8_valid((const uint8_t *)name, len)) return RUMOR_ERR_BAD_UTF8;
    if (!rumor_utf8_valid_line((const uint8_t *)name, len)) return RUMOR_ERR_INVALID;
    /* "bob" and "bob " would look the same; "x~12345678" would look unverified. */
    if (name[0] == ' ' || name[len - 1] == ' ' || strchr(name, '~')) return RUMOR_ERR_INVALID;
    /* A name that reads as a key prefix would shadow the key it could be. */
    if (len >= RUMOR_ID_PREFIX_MIN && rumor_hex_is_prefix(name)) return RUMOR_ERR_INVALID;
    return RUMOR_OK;
}

/* The shortest prefix length, from RUMOR_ID_PREFIX_MIN up, that no other known profile shares. */
static int prefix_len(rumor_txn_t *t, const char hex[RUMOR_ID_HEX + 1], size_t *len)
{
    char prefix[RUMOR_ID_HEX + 1];
    uint8_t found[ID];
    size_t n = RUMOR_ID_PREFIX_MIN;
    for (; n < RUMOR_ID_HEX; n++) {
        memcpy(prefix, hex, n);
        prefix[n] = '\0';
        int rc = rumor_store_find_prefix(t, RUMOR_STORE_PROFILES, prefix, found);
        if (rc == RUMOR_OK || rc == RUMOR_ERR_NOT_FOUND) break;
        if (rc != RUMOR_ERR_AMBIGUOUS) return rc;
    }
    *len = n;
    return RUMOR_OK;
}

int rumor_node_person_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t pk[ID],
                         rumor_node_person_t *out)
{
    char hex[RUMOR_ID_HEX + 1];
    size_t plen = RUMOR_ID_PREFIX_MIN;
    memset(out, 0, sizeof *out);
    int rc = rumor_node_nick_in(t, n, pk, out->nick);
    if (rc < 0) return rc;
    if (memcmp(pk, n->pk, ID) == 0 && out->nick[0]) {
        memcpy(out->name, out->nick, strlen(out->nick) + 1);
        out->verified = true;
        return RUMOR_OK;
    }
    rc = rumor_store_contact_get(t, pk, out->name);
    if (rc == RUMOR_OK) {
        out->verified = true;
        return RUMOR_OK;
    }
    if (rc != RUMOR_ERR_NOT_FOUND) return rc;
    out->verified = memcmp(pk, n->pk, ID) == 0; /* ourselves without a nick */
    rumor_hex_encode(hex, pk, ID);
    if ((rc = prefix_len(t, hex, &plen)) < 0) return rc;
    snprintf(out->name, sizeof out->name, "%s%s%.*s", out->nick, out->nick[0] ? "~" : "", (int)plen,
             hex);
    return RUMOR_OK;
}

int rumor_node_person(rumor_node_t *n, const uint8_t pk[ID], rumor_node_person_t *out)
{
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    rc = rumor_node_person_in(t, n, pk, out);
    rumor_store_read_end(&t);
    return rc;
}

/* ---- resolving PEER ---------------------------------------------------------- */

/* Known keys that start with a hex prefix; the walk stops at the second distinct one. */
typedef struct {
    rumor_txn_t *t;
    char prefix[RUMOR_ID_HEX + 1]; /* lowercase */
    size_t len;
    uint8_t found[ID]; /* the first match */
    int matches;       /* distinct matches, up to 2 */
    int depth;         /* of the room tree walk */
} match_t;

/* Counts `pk` if it starts with the prefix; returns 1 (stop) once two distinct keys do. */
static int match_key(match_t *m, const uint8_t pk[ID])
{
    char hex[RUMOR_ID_HEX + 1];
    rumor_hex_encode(hex, pk, ID);
    if (memcmp(hex, m->prefix, m->len) != 0) return 0;
    if (m->matches == 0) {
        memcpy(m->found, pk, ID);
        m->matches = 1;
    } else if (memcmp(m->found, pk, ID) != 0) {
        m->matches = 2;
    }
    return m->matches > 1 ? 1 : 0;
}

static int match_named(void *ctx, const uint8_t pk[ID], const char *s)
{
    (void)s;
    return match_key(ctx, pk);
}

static int match_remembered(void *ctx, const uint8_t pk[ID], const uint8_t *v, size_t len)
{
    (void)v, (void)len;
    return match_key(ctx, pk);
}

static int match_member(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    (void)role;
    return match_key(ctx, pk);
}

/* Every room's members (only key rooms have any), the tree walked from the top down. */
static int match_room(void *ctx, const rumor_store_room_t *r)
{
    match_t *m = ctx;
    int rc = rumor_store_member_each(m->t, r->id, match_member, m);
    if (rc || m->depth >= RUMOR_MAX_DEPTH) return rc;
    m->depth++;
    rc = rumor_store_room_children(m->t, r->id, match_room, m);
    m->depth--;
    return rc;
}

static int match_prefix(rumor_txn_t *t, rumor_node_t *n, const char *prefix, uint8_t out[ID])
{
    match_t m = {.t = t, .len = strlen(prefix)};
    uint8_t top[ID] = {0};
    for (size_t i = 0; i < m.len; i++) m.prefix[i] = (char)(prefix[i] | 0x20); /* hex: a-f */
    int rc = rumor_store_find_prefix(t, RUMOR_STORE_PROFILES, m.prefix, m.found);
    if (rc == RUMOR_OK) m.matches = 1;
    if (rc == RUMOR_ERR_AMBIGUOUS) return rc;
    if (rc < 0 && rc != RUMOR_ERR_NOT_FOUND) return rc;
    rc = match_key(&m, n->pk);
    if (rc == 0) rc = rumor_store_contact_each(t, match_named, &m);
    if (rc == 0) rc = rumor_store_peer_each(t, match_remembered, &m);
    if (rc == 0) rc = rumor_store_room_children(t, top, match_room, &m);
    if (rc < 0) return rc;
    if (m.matches == 0) return RUMOR_ERR_NOT_FOUND;
    if (m.matches > 1) return RUMOR_ERR_AMBIGUOUS;
    memcpy(out, m.found, ID);
    return RUMOR_OK;
}

typedef struct {
    const char *name;
    uint8_t pk[ID];
    bool found;
} by_name_t;

static int find_name(void *ctx, const uint8_t pk[ID], const char *name)
{
    by_name_t *b = ctx;
    if (strcmp(name, b->name) != 0) return 0;
    memcpy(b->pk, pk, ID);
    b->found = true;
    return 1;
}

/* The key of the contact `name`: RUMOR_OK or RUMOR_ERR_NOT_FOUND. */
static int contact_key(rumor_txn_t *t, const char *name, uint8_t pk[ID])
{
    by_name_t b = {.name = name};
    int rc = rumor_store_contact_each(t, find_name, &b);
    if (rc < 0) return rc;
    if (!b.found) return RUMOR_ERR_NOT_FOUND;
    memcpy(pk, b.pk, ID);
    return RUMOR_OK;
}

bool rumor_node_peer_known(rumor_node_t *n, const uint8_t pk[ID])
{
    char hex[RUMOR_ID_HEX + 1];
    uint8_t found[ID];
    rumor_txn_t *t;
    rumor_hex_encode(hex, pk, ID);
    if (rumor_store_read_begin(n->store, &t) < 0) return false;
    /* Known = a prefix match of the whole key: a profile, a contact, a peer or a member. */
    bool known = match_prefix(t, n, hex, found) == RUMOR_OK;
    rumor_store_read_end(&t);
    return known;
}

int rumor_node_resolve_peer(rumor_node_t *n, const char *peer, uint8_t pk[ID])
{
    size_t len = strlen(peer);
    bool hex = rumor_hex_is_prefix(peer);
    if (hex && len == RUMOR_ID_HEX) return rumor_hex_decode(pk, ID, peer);
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    if (hex && len >= RUMOR_ID_PREFIX_MIN)
        rc = match_prefix(t, n, peer, pk);
    else
        rc = contact_key(t, peer, pk);
    rumor_store_read_end(&t);
    return rc;
}

/* ---- the contact book --------------------------------------------------------- */

typedef struct {
    const uint8_t *pk;
    const char *name;
    uint8_t removed[ID]; /* remove: the key that had the name */
} contact_op_t;

static int add_fn(rumor_txn_t *t, void *ctx)
{
    contact_op_t *op = ctx;
    uint8_t holder[ID];
    int rc = contact_key(t, op->name, holder);
    if (rc == RUMOR_OK) return memcmp(holder, op->pk, ID) == 0 ? RUMOR_OK : RUMOR_ERR_EXISTS;
    if (rc != RUMOR_ERR_NOT_FOUND) return rc;
    return rumor_store_contact_put(t, op->pk, op->name);
}

int rumor_node_contact_add(rumor_node_t *n, const uint8_t pk[ID], const char *name)
{
    int rc = rumor_node_contact_check_name(name);
    if (rc < 0) return rc;
    if (memcmp(pk, n->pk, ID) == 0) return RUMOR_ERR_DENIED;
    contact_op_t op = {.pk = pk, .name = name};
    return rumor_store_write(n->store, add_fn, &op);
}

static int remove_fn(rumor_txn_t *t, void *ctx)
{
    contact_op_t *op = ctx;
    int rc = contact_key(t, op->name, op->removed);
    return rc < 0 ? rc : rumor_store_contact_del(t, op->removed);
}

int rumor_node_contact_remove(rumor_node_t *n, const char *name, uint8_t pk[ID])
{
    contact_op_t op = {.name = name};
    int rc = rumor_store_write(n->store, remove_fn, &op);
    if (rc == RUMOR_OK && pk) memcpy(pk, op.removed, ID);
    return rc;
}

typedef struct {
    rumor_txn_t *t;
    rumor_node_t *n;
    rumor_node_person_fn cb;
    void *ctx;
} each_t;

static int each_step(void *ctx, const uint8_t pk[ID], const char *name)
{
    each_t *e = ctx;
    rumor_node_person_t who = {.verified = true};
    int rc = rumor_node_nick_in(e->t, e->n, pk, who.nick);
    if (rc < 0) return rc;
    memcpy(who.name, name, strlen(name) + 1);
    return e->cb(e->ctx, pk, &who);
}

int rumor_node_contact_each(rumor_node_t *n, rumor_node_person_fn cb, void *ctx)
{
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    each_t e = {t, n, cb, ctx};
    rc = rumor_store_contact_each(t, each_step, &e);
    rumor_store_read_end(&t);
    return rc;
}
