/* event.c - the signed event envelope: decode, verify, encode (PROTOCOL.md 2). */
#include "rumor_crypto.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Parses the type-specific body (PROTOCOL.md 2.3); the body must be consumed exactly. */
static int decode_body(rumor_event_t *ev)
{
    rumor_reader_t r = {ev->body, ev->body_len};
    const uint8_t *p;
    bool room_zero = rumor_is_zero(ev->room, RUMOR_ID_BYTES);

    switch (ev->type) {
    case RUMOR_EV_ROOM_CREATE:
        if (!(p = rumor_take(&r, 1))) return RUMOR_ERR_MALFORMED;
        ev->flags = p[0];
        if (ev->flags & ~(RUMOR_ROOM_FLAG_PRIVATE | RUMOR_ROOM_FLAG_DIRECT))
            return RUMOR_ERR_MALFORMED;
        /* A direct conversation is a version-2 top-level room, nothing else. */
        if ((ev->flags & RUMOR_ROOM_FLAG_DIRECT) &&
            (!room_zero || (ev->flags & RUMOR_ROOM_FLAG_PRIVATE) ||
             ev->version != RUMOR_EVENT_VERSION))
            return RUMOR_ERR_MALFORMED;
        /* name_len | name (>= 1 byte) inside: at least 2 bytes of plaintext. */
        if (r.left < RUMOR_BOX_OVERHEAD + 2) return RUMOR_ERR_MALFORMED;
        ev->box = rumor_take(&r, r.left);
        ev->box_len = ev->body_len - 1;
        break;
    case RUMOR_EV_MESSAGE:
    case RUMOR_EV_ROOM_RENAME:
    case RUMOR_EV_ROOM_TOPIC:
        if (room_zero) return RUMOR_ERR_MALFORMED;
        if (r.left < RUMOR_BOX_OVERHEAD + (ev->type == RUMOR_EV_ROOM_TOPIC ? 0 : 1))
            return RUMOR_ERR_MALFORMED;
        ev->box_len = r.left;
        ev->box = rumor_take(&r, r.left);
        break;
    case RUMOR_EV_PROFILE:
        /* Version 1 only: its meaning never changed, so it has one encoding (PROTOCOL.md 7.2). */
        if (!room_zero || ev->n_parents || ev->version != RUMOR_EVENT_VERSION_V1)
            return RUMOR_ERR_MALFORMED;
        if (!(p = rumor_take(&r, 1))) return RUMOR_ERR_MALFORMED;
        ev->nick_len = p[0];
        if (ev->nick_len == 0 || ev->nick_len > RUMOR_NICK_MAX) return RUMOR_ERR_MALFORMED;
        if (!(ev->nick = rumor_take(&r, ev->nick_len))) return RUMOR_ERR_MALFORMED;
        if (!rumor_utf8_valid_line(ev->nick, ev->nick_len)) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_EV_ROOM_MOVE:
        if (room_zero || !(ev->target = rumor_take(&r, RUMOR_ID_BYTES))) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_EV_MEMBER_ADD:
        if (room_zero || !(ev->target = rumor_take(&r, RUMOR_ID_BYTES))) return RUMOR_ERR_MALFORMED;
        if (!(p = rumor_take(&r, 2))) return RUMOR_ERR_MALFORMED;
        ev->role = p[0];
        ev->n_entries = p[1];
        if (ev->role != RUMOR_ROLE_MEMBER && ev->role != RUMOR_ROLE_ADMIN)
            return RUMOR_ERR_MALFORMED;
        if (ev->n_entries > RUMOR_MAX_SEALED_KEYS) return RUMOR_ERR_MALFORMED;
        if (!(ev->entries = rumor_take(&r, (size_t)ev->n_entries * RUMOR_SEALED_GRANT_BYTES)))
            return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_EV_MEMBER_REMOVE:
        if (room_zero || !(ev->target = rumor_take(&r, RUMOR_ID_BYTES))) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_EV_MEMBER_ROLE:
        if (room_zero || ev->version < RUMOR_EVENT_VERSION) return RUMOR_ERR_MALFORMED;
        if (!(ev->target = rumor_take(&r, RUMOR_ID_BYTES)) || !(p = rumor_take(&r, 1)))
            return RUMOR_ERR_MALFORMED;
        ev->role = p[0];
        if (ev->role != RUMOR_ROLE_MEMBER && ev->role != RUMOR_ROLE_ADMIN)
            return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_EV_KEY_EPOCH:
        if (room_zero || !(p = rumor_take(&r, RUMOR_KEY_EPOCH_FIXED))) return RUMOR_ERR_MALFORMED;
        ev->epoch = rumor_get_u32(p);
        ev->n_entries = rumor_get_u16(p + 4);
        ev->key_id = p + 6;
        if (ev->epoch == 0 || ev->n_entries == 0 || ev->n_entries > RUMOR_MAX_MEMBERS)
            return RUMOR_ERR_MALFORMED;
        if (!(ev->entries = rumor_take(&r, (size_t)ev->n_entries * RUMOR_EPOCH_ENTRY_BYTES)))
            return RUMOR_ERR_MALFORMED;
        break;
    default: return RUMOR_ERR_MALFORMED;
    }
    return r.left == 0 ? RUMOR_OK : RUMOR_ERR_MALFORMED;
}

int rumor_event_decode(const uint8_t *buf, size_t len, rumor_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    if (len > RUMOR_EVENT_MAX) return RUMOR_ERR_TOO_BIG;
    rumor_reader_t r = {buf, len};
    const uint8_t *p = rumor_take(&r, RUMOR_EVENT_FIXED);
    if (!p) return RUMOR_ERR_MALFORMED;
    ev->version = p[0];
    ev->type = p[1];
    if (ev->version != RUMOR_EVENT_VERSION && ev->version != RUMOR_EVENT_VERSION_V1)
        return RUMOR_ERR_MALFORMED;
    memcpy(ev->room, p + 2, RUMOR_ID_BYTES);
    memcpy(ev->author, p + 34, RUMOR_ID_BYTES);
    ev->lamport = rumor_get_u64(p + 66);
    ev->ts = rumor_get_u64(p + 74);
    ev->n_parents = p[82];
    if (ev->lamport == 0 || ev->n_parents > RUMOR_MAX_PARENTS) return RUMOR_ERR_MALFORMED;
    if (!(ev->parents = rumor_take(&r, (size_t)ev->n_parents * RUMOR_ID_BYTES)))
        return RUMOR_ERR_MALFORMED;
    for (unsigned i = 1; i < ev->n_parents; i++) /* strictly ascending: sorted, no duplicates */
        if (memcmp(ev->parents + (i - 1) * RUMOR_ID_BYTES, ev->parents + i * RUMOR_ID_BYTES,
                   RUMOR_ID_BYTES) >= 0)
            return RUMOR_ERR_MALFORMED;
    if (!(p = rumor_take(&r, 4))) return RUMOR_ERR_MALFORMED;
    ev->body_len = rumor_get_u32(p);
    if (!(ev->body = rumor_take(&r, ev->body_len))) return RUMOR_ERR_MALFORMED;
    ev->signed_bytes = buf;
    ev->signed_len = len - r.left;
    if (!(ev->sig = rumor_take(&r, RUMOR_SIG_BYTES)) || r.left != 0) return RUMOR_ERR_MALFORMED;
    ev->encoded_len = len;
    int rc = decode_body(ev);
    if (rc < 0) return rc;
    rumor_crypto_hash(ev->id, ev->signed_bytes, ev->signed_len);
    return RUMOR_OK;
}

int rumor_event_verify(const rumor_event_t *ev)
{
    if (crypto_sign_verify_detached(ev->sig, ev->signed_bytes, ev->signed_len, ev->author) != 0)
        return RUMOR_ERR_BAD_SIGNATURE;
    return RUMOR_OK;
}

void rumor_event_ad(uint8_t ad[RUMOR_EVENT_AD_BYTES], uint8_t type,
                    const uint8_t room[RUMOR_ID_BYTES], const uint8_t author[RUMOR_ID_BYTES])
{
    ad[0] = RUMOR_BOX_AD_VERSION;
    ad[1] = type;
    memcpy(ad + 2, room, RUMOR_ID_BYTES);
    memcpy(ad + 34, author, RUMOR_ID_BYTES);
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, RUMOR_ID_BYTES);
}

int rumor_event_encode(uint8_t *out, size_t cap, size_t *out_len, uint8_t ev_id[RUMOR_ID_BYTES],
                       const rumor_event_draft_t *d, const rumor_identity_t *id)
{
    if (d->n_parents > RUMOR_MAX_PARENTS) return RUMOR_ERR_INVALID;
    size_t plen = (size_t)d->n_parents * RUMOR_ID_BYTES;
    size_t need = RUMOR_EVENT_FIXED + plen + 4 + d->body_len + RUMOR_SIG_BYTES;
    if (d->body_len > RUMOR_EVENT_MAX || need > RUMOR_EVENT_MAX) return RUMOR_ERR_TOO_BIG;
    if (need > cap) return RUMOR_ERR_TOO_BIG;

    if (d->version && d->version != RUMOR_EVENT_VERSION && d->version != RUMOR_EVENT_VERSION_V1)
        return RUMOR_ERR_INVALID;
    out[0] = d->version                    ? d->version
             : d->type == RUMOR_EV_PROFILE ? RUMOR_EVENT_VERSION_V1
                                           : RUMOR_EVENT_VERSION;
    out[1] = d->type;
    memcpy(out + 2, d->room, RUMOR_ID_BYTES);
    memcpy(out + 34, rumor_identity_public(id), RUMOR_ID_BYTES);
    rumor_put_u64(out + 66, d->lamport);
    rumor_put_u64(out + 74, d->ts);
    out[82] = d->n_parents;
    uint8_t *p = out + RUMOR_EVENT_FIXED;
    if (plen) {
        memcpy(p, d->parents, plen);
        qsort(p, d->n_parents, RUMOR_ID_BYTES, cmp_id);
        for (unsigned i = 1; i < d->n_parents; i++)
            if (memcmp(p + (i - 1) * RUMOR_ID_BYTES, p + i * RUMOR_ID_BYTES, RUMOR_ID_BYTES) == 0)
                return RUMOR_ERR_INVALID;
    }
    p += plen;
    rumor_put_u32(p, (uint32_t)d->body_len);
    p += 4;
    if (d->body_len) memcpy(p, d->body, d->body_len);
    p += d->body_len;
    size_t signed_len = (size_t)(p - out);
    int rc = rumor_identity_sign(id, p, out, signed_len);
    if (rc < 0) return rc;
    if (ev_id) rumor_crypto_hash(ev_id, out, signed_len);
    *out_len = need;
    return RUMOR_OK;
}

const char *rumor_event_type_name(uint8_t type)
{
    switch (type) {
    case RUMOR_EV_ROOM_CREATE: return "room_create";
    case RUMOR_EV_MESSAGE: return "message";
    case RUMOR_EV_PROFILE: return "profile";
    case RUMOR_EV_ROOM_RENAME: return "room_rename";
    case RUMOR_EV_ROOM_MOVE: return "room_move";
    case RUMOR_EV_ROOM_TOPIC: return "room_topic";
    case RUMOR_EV_MEMBER_ADD: return "member_add";
    case RUMOR_EV_MEMBER_REMOVE: return "member_remove";
    case RUMOR_EV_KEY_EPOCH: return "key_epoch";
    case RUMOR_EV_MEMBER_ROLE: return "member_role";
    }
    return "unknown";
}
