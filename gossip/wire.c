/*
 * wire.c - the peer frames of PROTOCOL.md 9.2 and the LAN beacon of 9.6.
 *
 * The decoder checks every length before it reads and accepts exactly what
 * section 9.2 allows; the encoder refuses what the decoder would refuse, so a
 * frame that decodes re-encodes to the same bytes.
 */
#include "rumor_gossip.h"

#include <string.h>

#define ID RUMOR_ID_BYTES

/* version[1] ‖ type[1] */
#define WIRE_HEADER_BYTES 2
/* HELLO: pk[32] ‖ port[2] ‖ flags[1] */
#define WIRE_HELLO_BYTES (ID + 2 + 1)
/* The only HELLO flag: the sender takes part in peer exchange. */
#define WIRE_HELLO_FLAG_EXCHANGE 0x01
/* PING, PONG: nonce[8] */
#define WIRE_NONCE_BYTES 8
/* SYNC: room[32] ‖ after_lamport[8] ‖ after_id[32] ‖ max[2] */
#define WIRE_SYNC_BYTES (ID + 8 + ID + 2)
/* SYNC_END: room[32] ‖ last_lamport[8] ‖ last_id[32] ‖ more[1] */
#define WIRE_SYNC_END_BYTES (ID + 8 + ID + 1)
/* A PEERS entry: pk[32] ‖ family[1] ‖ addr[4 or 16] ‖ port[2] */
#define WIRE_PEER_FIXED_BYTES (ID + 1 + 2)

/* A RECON range before its payload: upper bound [40] | mode [1] */
#define WIRE_RANGE_BYTES (8 + ID + 1)

#define BEACON_MAGIC   "RUMR"
#define BEACON_VERSION 1

/* True when the `n` ids of 32 bytes at `ids` are strictly ascending. */
static bool ids_ascending(const uint8_t *ids, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (memcmp(ids + (i - 1) * ID, ids + i * ID, ID) >= 0) return false;
    return true;
}

/* The address bytes a PEERS entry of `family` carries, or 0 for an unknown family. */
static size_t family_addr_bytes(uint8_t family)
{
    return family == 4 ? 4 : family == 6 ? 16 : 0;
}

static int decode_peers(rumor_reader_t *r, rumor_wire_frame_t *f)
{
    const uint8_t *p;
    if (!(p = rumor_take(r, 1))) return RUMOR_ERR_MALFORMED;
    f->n = p[0];
    if (f->n > RUMOR_WIRE_PEERS_MAX) return RUMOR_ERR_MALFORMED;
    for (size_t i = 0; i < f->n; i++) {
        rumor_wire_peer_t *peer = &f->peers[i];
        if (!(p = rumor_take(r, ID + 1))) return RUMOR_ERR_MALFORMED;
        memcpy(peer->pk, p, ID);
        peer->family = p[ID];
        size_t addr_len = family_addr_bytes(peer->family);
        if (addr_len == 0 || !(p = rumor_take(r, addr_len + 2))) return RUMOR_ERR_MALFORMED;
        memcpy(peer->addr, p, addr_len);
        peer->port = rumor_get_u16(p + addr_len);
        if (peer->port == 0) return RUMOR_ERR_MALFORMED;
    }
    return RUMOR_OK;
}

/* The rules of 12.2 on a RECON's ranges, shared by decoder and encoder. */
static bool ranges_valid(const rumor_recon_range_t *r, size_t n)
{
    if (n == 0 || n > RUMOR_RECON_RANGES_MAX || !r) return false;
    size_t ids = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && rumor_bound_cmp(&r[i - 1].upper, &r[i].upper) >= 0) return false;
        if (r[i].mode > RUMOR_RECON_NEED) return false;
        if (r[i].mode == RUMOR_RECON_IDS || r[i].mode == RUMOR_RECON_NEED) {
            if (r[i].k > RUMOR_RECON_IDS_MAX || (r[i].k && !r[i].ids)) return false;
            ids += r[i].k;
        }
    }
    return ids <= RUMOR_RECON_FRAME_IDS && rumor_bound_is_top(&r[n - 1].upper);
}

static int decode_recon(rumor_reader_t *r, rumor_wire_frame_t *f)
{
    const uint8_t *p;
    if (!(p = rumor_take(r, ID + 2))) return RUMOR_ERR_MALFORMED;
    f->topic = p;
    f->round = p[ID];
    f->n = p[ID + 1];
    if (f->n == 0 || f->n > RUMOR_RECON_RANGES_MAX) return RUMOR_ERR_MALFORMED;
    f->ranges = f->range_buf;
    for (size_t i = 0; i < f->n; i++) {
        rumor_recon_range_t *g = &f->ranges[i];
        if (!(p = rumor_take(r, WIRE_RANGE_BYTES))) return RUMOR_ERR_MALFORMED;
        g->upper.lamport = rumor_get_u64(p);
        memcpy(g->upper.id, p + 8, ID);
        g->mode = p[8 + ID];
        if (g->mode == RUMOR_RECON_FINGERPRINT) {
            if (!(p = rumor_take(r, 4 + RUMOR_RECON_FP_BYTES))) return RUMOR_ERR_MALFORMED;
            g->count = rumor_get_u32(p);
            memcpy(g->fp, p + 4, RUMOR_RECON_FP_BYTES);
        } else if (g->mode == RUMOR_RECON_IDS || g->mode == RUMOR_RECON_NEED) {
            if (!(p = rumor_take(r, 1))) return RUMOR_ERR_MALFORMED;
            g->k = p[0];
            if (g->k > RUMOR_RECON_IDS_MAX) return RUMOR_ERR_MALFORMED;
            if (g->k && !(g->ids = rumor_take(r, g->k * ID))) return RUMOR_ERR_MALFORMED;
        } else if (g->mode != RUMOR_RECON_SKIP) {
            return RUMOR_ERR_MALFORMED;
        }
    }
    return ranges_valid(f->ranges, f->n) ? RUMOR_OK : RUMOR_ERR_MALFORMED;
}

/* True when `len` bytes are exactly `n` BATCH entries, each len[4] | 1..RUMOR_EVENT_MAX bytes. */
static bool entries_valid(const uint8_t *buf, size_t len, size_t n)
{
    rumor_reader_t r = {buf, len};
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rumor_take(&r, RUMOR_BATCH_ENTRY_BYTES);
        if (!p) return false;
        uint32_t elen = rumor_get_u32(p);
        if (elen == 0 || elen > RUMOR_EVENT_MAX || !rumor_take(&r, elen)) return false;
    }
    return r.left == 0;
}

static int decode_batch(rumor_reader_t *r, rumor_wire_frame_t *f)
{
    const uint8_t *p;
    if (!(p = rumor_take(r, ID + 4 + 2))) return RUMOR_ERR_MALFORMED;
    f->topic = p;
    f->remaining = rumor_get_u32(p + ID);
    f->n = rumor_get_u16(p + ID + 4);
    if (f->n == 0) return RUMOR_ERR_MALFORMED;
    f->event = r->p;
    f->event_len = r->left;
    if (!entries_valid(f->event, f->event_len, f->n)) return RUMOR_ERR_MALFORMED;
    rumor_take(r, r->left);
    return RUMOR_OK;
}

bool rumor_wire_batch_next(const rumor_wire_frame_t *f, size_t *pos, const uint8_t **ev,
                           size_t *len)
{
    /* The decoder checked every length, so this walk stays inside the entries. */
    if (f->type != RUMOR_WIRE_BATCH || *pos + RUMOR_BATCH_ENTRY_BYTES > f->event_len) return false;
    uint32_t n = rumor_get_u32(f->event + *pos);
    if (n > f->event_len - *pos - RUMOR_BATCH_ENTRY_BYTES) return false;
    *ev = f->event + *pos + RUMOR_BATCH_ENTRY_BYTES;
    *len = n;
    *pos += RUMOR_BATCH_ENTRY_BYTES + n;
    return true;
}

/* Parses the body of `f->type`; the body must be consumed exactly. */
static int decode_body(rumor_reader_t *r, rumor_wire_frame_t *f)
{
    const uint8_t *p;

    switch (f->type) {
    case RUMOR_WIRE_HELLO:
        if (!(p = rumor_take(r, WIRE_HELLO_BYTES))) return RUMOR_ERR_MALFORMED;
        f->pk = p;
        f->port = rumor_get_u16(p + ID);
        f->flags = p[ID + 2];
        if (f->flags & ~WIRE_HELLO_FLAG_EXCHANGE) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_PING:
    case RUMOR_WIRE_PONG:
        if (!(p = rumor_take(r, WIRE_NONCE_BYTES))) return RUMOR_ERR_MALFORMED;
        f->nonce = rumor_get_u64(p);
        break;
    case RUMOR_WIRE_SUB:
        if (!(p = rumor_take(r, 2))) return RUMOR_ERR_MALFORMED;
        f->n = rumor_get_u16(p);
        if (f->n > RUMOR_WIRE_TOPICS_MAX) return RUMOR_ERR_MALFORMED;
        if (f->n) {
            if (!(f->ids = rumor_take(r, f->n * ID))) return RUMOR_ERR_MALFORMED;
            if (!ids_ascending(f->ids, f->n)) return RUMOR_ERR_MALFORMED;
        }
        break;
    case RUMOR_WIRE_GRAFT:
    case RUMOR_WIRE_PRUNE:
    case RUMOR_WIRE_INVITED:
        if (!(f->topic = rumor_take(r, ID))) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_EVENT:
        if (r->left == 0 || r->left > RUMOR_EVENT_MAX) return RUMOR_ERR_MALFORMED;
        f->event_len = r->left;
        f->event = rumor_take(r, r->left);
        break;
    case RUMOR_WIRE_IHAVE:
    case RUMOR_WIRE_IWANT:
        if (f->type == RUMOR_WIRE_IHAVE && !(f->topic = rumor_take(r, ID)))
            return RUMOR_ERR_MALFORMED;
        if (!(p = rumor_take(r, 1))) return RUMOR_ERR_MALFORMED;
        f->n = p[0];
        if (f->n == 0 || f->n > RUMOR_WIRE_IDS_MAX) return RUMOR_ERR_MALFORMED;
        if (!(f->ids = rumor_take(r, f->n * ID))) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_PEERS: return decode_peers(r, f);
    case RUMOR_WIRE_JOIN:
        if (!(f->topic = rumor_take(r, ID))) return RUMOR_ERR_MALFORMED;
        if (!(f->token = rumor_take(r, RUMOR_WIRE_TOKEN_BYTES))) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_JOINED:
        if (!(p = rumor_take(r, ID + 1))) return RUMOR_ERR_MALFORMED;
        f->topic = p;
        f->status = p[ID];
        if (f->status > RUMOR_JOIN_FAILED) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_SYNC:
        if (!(p = rumor_take(r, WIRE_SYNC_BYTES))) return RUMOR_ERR_MALFORMED;
        f->topic = p;
        f->lamport = rumor_get_u64(p + ID);
        f->cursor_id = p + ID + 8;
        f->max = rumor_get_u16(p + ID + 8 + ID);
        if (f->max == 0 || f->max > RUMOR_WIRE_SYNC_MAX) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_SYNC_END:
        if (!(p = rumor_take(r, WIRE_SYNC_END_BYTES))) return RUMOR_ERR_MALFORMED;
        f->topic = p;
        f->lamport = rumor_get_u64(p + ID);
        f->cursor_id = p + ID + 8;
        f->status = p[ID + 8 + ID];
        if (f->status > 1) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_RECON: return decode_recon(r, f);
    case RUMOR_WIRE_BATCH: return decode_batch(r, f);
    case RUMOR_WIRE_CREDIT:
        if (!(p = rumor_take(r, 2))) return RUMOR_ERR_MALFORMED;
        f->n = rumor_get_u16(p);
        if (f->n == 0 || f->n > RUMOR_CREDIT_MAX) return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_LAN_CODE:
        if (!(f->lan_nonce = rumor_take(r, RUMOR_LANCODE_NONCE_BYTES)) ||
            !(f->proof = rumor_take(r, ID)))
            return RUMOR_ERR_MALFORMED;
        break;
    case RUMOR_WIRE_LAN_INVITE:
        if (!(p = rumor_take(r, 1))) return RUMOR_ERR_MALFORMED;
        f->status = p[0];
        if (f->status > RUMOR_LANCODE_LIMITED) return RUMOR_ERR_MALFORMED;
        if (!(f->lan_nonce = rumor_take(r, RUMOR_LANCODE_NONCE_BYTES))) return RUMOR_ERR_MALFORMED;
        if (f->status == RUMOR_LANCODE_OK) {
            if (!(f->proof = rumor_take(r, ID))) return RUMOR_ERR_MALFORMED;
            if (r->left == 0 || r->left > RUMOR_LANCODE_INVITE_MAX) return RUMOR_ERR_MALFORMED;
            f->invite_len = r->left;
            f->invite = rumor_take(r, r->left);
        }
        break;
    default: return RUMOR_ERR_MALFORMED;
    }
    return RUMOR_OK;
}

int rumor_wire_decode(const uint8_t *buf, size_t len, rumor_wire_frame_t *f)
{
    memset(f, 0, sizeof *f);
    if (len > RUMOR_WIRE_FRAME_MAX) return RUMOR_ERR_TOO_BIG;
    rumor_reader_t r = {buf, len};
    const uint8_t *hdr = rumor_take(&r, WIRE_HEADER_BYTES);
    if (!hdr || hdr[0] != RUMOR_WIRE_VERSION) return RUMOR_ERR_MALFORMED;
    f->type = hdr[1];
    int rc = decode_body(&r, f);
    if (rc == RUMOR_OK && r.left != 0) rc = RUMOR_ERR_MALFORMED;
    /* A refused frame leaves nothing half-decoded behind. */
    if (rc < 0) memset(f, 0, sizeof *f);
    return rc;
}

/* ---- encoding ---------------------------------------------------------------- */

/* A bounds-checked writer: a put that does not fit marks the writer failed. */
typedef struct {
    uint8_t *p;  /* next free byte */
    size_t left; /* room that remains */
    bool failed; /* a put did not fit */
} writer_t;

static uint8_t *put(writer_t *w, size_t n)
{
    if (w->failed || w->left < n) {
        w->failed = true;
        return NULL;
    }
    uint8_t *p = w->p;
    w->p += n;
    w->left -= n;
    return p;
}

static void put_bytes(writer_t *w, const uint8_t *src, size_t n)
{
    uint8_t *p = put(w, n);
    if (p && n) memcpy(p, src, n);
}

static void put_u8(writer_t *w, uint8_t v)
{
    uint8_t *p = put(w, 1);
    if (p) p[0] = v;
}

static void put_u16(writer_t *w, uint16_t v)
{
    uint8_t *p = put(w, 2);
    if (p) rumor_put_u16(p, v);
}

static void put_u64(writer_t *w, uint64_t v)
{
    uint8_t *p = put(w, 8);
    if (p) rumor_put_u64(p, v);
}

/* True when `f` carries everything its type needs, within the rules of 9.2. */
static bool frame_valid(const rumor_wire_frame_t *f)
{
    switch (f->type) {
    case RUMOR_WIRE_HELLO: return f->pk && !(f->flags & ~WIRE_HELLO_FLAG_EXCHANGE);
    case RUMOR_WIRE_PING:
    case RUMOR_WIRE_PONG: return true;
    case RUMOR_WIRE_SUB:
        return f->n <= RUMOR_WIRE_TOPICS_MAX && (f->n == 0 || f->ids) &&
               (f->n == 0 || ids_ascending(f->ids, f->n));
    case RUMOR_WIRE_GRAFT:
    case RUMOR_WIRE_PRUNE:
    case RUMOR_WIRE_INVITED: return f->topic != NULL;
    case RUMOR_WIRE_EVENT: return f->event && f->event_len >= 1 && f->event_len <= RUMOR_EVENT_MAX;
    case RUMOR_WIRE_IHAVE:
        if (!f->topic) return false;
        /* fall through */
    case RUMOR_WIRE_IWANT: return f->ids && f->n >= 1 && f->n <= RUMOR_WIRE_IDS_MAX;
    case RUMOR_WIRE_PEERS:
        if (f->n > RUMOR_WIRE_PEERS_MAX) return false;
        for (size_t i = 0; i < f->n; i++)
            if (family_addr_bytes(f->peers[i].family) == 0 || f->peers[i].port == 0) return false;
        return true;
    case RUMOR_WIRE_JOIN: return f->topic && f->token;
    case RUMOR_WIRE_JOINED: return f->topic && f->status <= RUMOR_JOIN_FAILED;
    case RUMOR_WIRE_SYNC:
        return f->topic && f->cursor_id && f->max >= 1 && f->max <= RUMOR_WIRE_SYNC_MAX;
    case RUMOR_WIRE_SYNC_END: return f->topic && f->cursor_id && f->status <= 1;
    case RUMOR_WIRE_RECON: return f->topic && ranges_valid(f->ranges, f->n);
    case RUMOR_WIRE_BATCH:
        return f->topic && f->event && f->n >= 1 && f->n <= UINT16_MAX &&
               entries_valid(f->event, f->event_len, f->n);
    case RUMOR_WIRE_CREDIT: return f->n >= 1 && f->n <= RUMOR_CREDIT_MAX;
    case RUMOR_WIRE_LAN_CODE: return f->lan_nonce && f->proof;
    case RUMOR_WIRE_LAN_INVITE:
        if (!f->lan_nonce) return false;
        if (f->status != RUMOR_LANCODE_OK) return f->status <= RUMOR_LANCODE_LIMITED;
        return f->proof && f->invite && f->invite_len >= 1 &&
               f->invite_len <= RUMOR_LANCODE_INVITE_MAX;
    default: return false;
    }
}

static void encode_body(writer_t *w, const rumor_wire_frame_t *f)
{
    switch (f->type) {
    case RUMOR_WIRE_HELLO:
        put_bytes(w, f->pk, ID);
        put_u16(w, f->port);
        put_u8(w, f->flags);
        break;
    case RUMOR_WIRE_PING:
    case RUMOR_WIRE_PONG: put_u64(w, f->nonce); break;
    case RUMOR_WIRE_SUB:
        put_u16(w, (uint16_t)f->n);
        put_bytes(w, f->ids, f->n * ID);
        break;
    case RUMOR_WIRE_GRAFT:
    case RUMOR_WIRE_PRUNE:
    case RUMOR_WIRE_INVITED: put_bytes(w, f->topic, ID); break;
    case RUMOR_WIRE_EVENT: put_bytes(w, f->event, f->event_len); break;
    case RUMOR_WIRE_IHAVE:
    case RUMOR_WIRE_IWANT:
        if (f->type == RUMOR_WIRE_IHAVE) put_bytes(w, f->topic, ID);
        put_u8(w, (uint8_t)f->n);
        put_bytes(w, f->ids, f->n * ID);
        break;
    case RUMOR_WIRE_PEERS:
        put_u8(w, (uint8_t)f->n);
        for (size_t i = 0; i < f->n; i++) {
            const rumor_wire_peer_t *peer = &f->peers[i];
            put_bytes(w, peer->pk, ID);
            put_u8(w, peer->family);
            put_bytes(w, peer->addr, family_addr_bytes(peer->family));
            put_u16(w, peer->port);
        }
        break;
    case RUMOR_WIRE_JOIN:
        put_bytes(w, f->topic, ID);
        put_bytes(w, f->token, RUMOR_WIRE_TOKEN_BYTES);
        break;
    case RUMOR_WIRE_JOINED:
        put_bytes(w, f->topic, ID);
        put_u8(w, f->status);
        break;
    case RUMOR_WIRE_SYNC:
        put_bytes(w, f->topic, ID);
        put_u64(w, f->lamport);
        put_bytes(w, f->cursor_id, ID);
        put_u16(w, f->max);
        break;
    case RUMOR_WIRE_SYNC_END:
        put_bytes(w, f->topic, ID);
        put_u64(w, f->lamport);
        put_bytes(w, f->cursor_id, ID);
        put_u8(w, f->status);
        break;
    case RUMOR_WIRE_RECON:
        put_bytes(w, f->topic, ID);
        put_u8(w, f->round);
        put_u8(w, (uint8_t)f->n);
        for (size_t i = 0; i < f->n; i++) {
            const rumor_recon_range_t *g = &f->ranges[i];
            put_u64(w, g->upper.lamport);
            put_bytes(w, g->upper.id, ID);
            put_u8(w, g->mode);
            if (g->mode == RUMOR_RECON_FINGERPRINT) {
                uint8_t *p = put(w, 4);
                if (p) rumor_put_u32(p, g->count);
                put_bytes(w, g->fp, RUMOR_RECON_FP_BYTES);
            } else if (g->mode == RUMOR_RECON_IDS || g->mode == RUMOR_RECON_NEED) {
                put_u8(w, (uint8_t)g->k);
                put_bytes(w, g->ids, g->k * ID);
            }
        }
        break;
    case RUMOR_WIRE_BATCH: {
        put_bytes(w, f->topic, ID);
        uint8_t *p = put(w, 4);
        if (p) rumor_put_u32(p, f->remaining);
        put_u16(w, (uint16_t)f->n);
        put_bytes(w, f->event, f->event_len);
        break;
    }
    case RUMOR_WIRE_CREDIT: put_u16(w, (uint16_t)f->n); break;
    case RUMOR_WIRE_LAN_CODE:
        put_bytes(w, f->lan_nonce, RUMOR_LANCODE_NONCE_BYTES);
        put_bytes(w, f->proof, ID);
        break;
    case RUMOR_WIRE_LAN_INVITE:
        put_u8(w, f->status);
        put_bytes(w, f->lan_nonce, RUMOR_LANCODE_NONCE_BYTES);
        if (f->status == RUMOR_LANCODE_OK) {
            put_bytes(w, f->proof, ID);
            put_bytes(w, f->invite, f->invite_len);
        }
        break;
    default: w->failed = true; break;
    }
}

size_t rumor_wire_encode(const rumor_wire_frame_t *f, uint8_t *out, size_t cap)
{
    if (!frame_valid(f)) return 0;
    writer_t w = {out, cap, false};
    put_u8(&w, RUMOR_WIRE_VERSION);
    put_u8(&w, f->type);
    encode_body(&w, f);
    return w.failed ? 0 : cap - w.left;
}

/* ---- LAN beacons (PROTOCOL.md 9.6) ---------------------------------------------- */

void rumor_beacon_encode(const rumor_beacon_t *b, uint8_t out[RUMOR_BEACON_BYTES])
{
    memcpy(out, BEACON_MAGIC, 4);
    out[4] = BEACON_VERSION;
    out[5] = 0; /* flags */
    memcpy(out + 6, b->pk, ID);
    rumor_put_u16(out + 6 + ID, b->port);
}

int rumor_beacon_decode(const uint8_t *buf, size_t len, rumor_beacon_t *b)
{
    memset(b, 0, sizeof *b);
    if (len != RUMOR_BEACON_BYTES || memcmp(buf, BEACON_MAGIC, 4) != 0 ||
        buf[4] != BEACON_VERSION || buf[5] != 0)
        return RUMOR_ERR_MALFORMED;
    uint16_t port = rumor_get_u16(buf + 6 + ID);
    if (port == 0) return RUMOR_ERR_MALFORMED;
    memcpy(b->pk, buf + 6, ID);
    b->port = port;
    return RUMOR_OK;
}
