/*
 * codec.c - the control socket's records (PROTOCOL.md 11) and invite codes
 * (PROTOCOL.md 10.1): both come from outside the node (another process, a
 * user's paste), so every length is checked before it is read.
 */
#include "rumor_gossip.h"
#include "rumor_node.h"

#include <arpa/inet.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* The message's len[4] prefix. */
#define CTL_PREFIX_BYTES 4
/* A string value's len[4]. */
#define CTL_STR_LEN_BYTES 4
/* type[1] ‖ key_len[1] in front of every key. */
#define CTL_FIELD_HEAD_BYTES 2

/* True when `key[0..len)` is 1..RUMOR_CTL_KEY_MAX bytes of [a-z0-9_]. */
static bool ctl_key_valid(const char *key, size_t len)
{
    if (len == 0 || len > RUMOR_CTL_KEY_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

/* Decodes one field at `r` into `fld`. */
static int decode_field(rumor_reader_t *r, rumor_ctl_field_t *fld)
{
    const uint8_t *p = rumor_take(r, CTL_FIELD_HEAD_BYTES);
    if (!p) return RUMOR_ERR_MALFORMED;
    fld->type = p[0];
    size_t key_len = p[1];
    const uint8_t *key = rumor_take(r, key_len);
    if (!key || !ctl_key_valid((const char *)key, key_len)) return RUMOR_ERR_MALFORMED;
    memcpy(fld->key, key, key_len);
    fld->key[key_len] = '\0';

    switch (fld->type) {
    case RUMOR_CTL_U64:
        if (!(p = rumor_take(r, 8))) return RUMOR_ERR_MALFORMED;
        fld->u = rumor_get_u64(p);
        break;
    case RUMOR_CTL_STR:
        if (!(p = rumor_take(r, CTL_STR_LEN_BYTES))) return RUMOR_ERR_MALFORMED;
        fld->s_len = rumor_get_u32(p);
        if (fld->s_len > RUMOR_CTL_STR_MAX) return RUMOR_ERR_MALFORMED;
        if (!(p = rumor_take(r, fld->s_len))) return RUMOR_ERR_MALFORMED;
        if (!rumor_utf8_valid(p, fld->s_len)) return RUMOR_ERR_MALFORMED;
        fld->s = (const char *)p;
        break;
    case RUMOR_CTL_BYTES:
        if (!(p = rumor_take(r, CTL_STR_LEN_BYTES))) return RUMOR_ERR_MALFORMED;
        fld->s_len = rumor_get_u32(p);
        if (fld->s_len > RUMOR_CTL_BYTES_MAX) return RUMOR_ERR_MALFORMED;
        if (!(p = rumor_take(r, fld->s_len))) return RUMOR_ERR_MALFORMED;
        fld->s = (const char *)p;
        break;
    case RUMOR_CTL_BOOL:
        if (!(p = rumor_take(r, 1)) || p[0] > 1) return RUMOR_ERR_MALFORMED;
        fld->b = p[0] == 1;
        break;
    case RUMOR_CTL_F64: {
        if (!(p = rumor_take(r, 8))) return RUMOR_ERR_MALFORMED;
        uint64_t bits = rumor_get_u64(p);
        memcpy(&fld->f, &bits, sizeof fld->f);
        if (!isfinite(fld->f)) return RUMOR_ERR_MALFORMED;
        break;
    }
    default: return RUMOR_ERR_MALFORMED;
    }
    return RUMOR_OK;
}

int rumor_ctl_decode(const uint8_t *buf, size_t len, rumor_ctl_record_t *r)
{
    memset(r, 0, sizeof *r);
    if (len > RUMOR_CTL_MSG_MAX) return RUMOR_ERR_MALFORMED;
    rumor_reader_t rd = {buf, len};
    const uint8_t *p = rumor_take(&rd, 1);
    if (!p || p[0] > RUMOR_CTL_FIELDS_MAX) return RUMOR_ERR_MALFORMED;
    size_t n = p[0];
    int rc = RUMOR_OK;
    for (size_t i = 0; i < n && rc == RUMOR_OK; i++) {
        rc = decode_field(&rd, &r->f[i]);
        for (size_t j = 0; j < i && rc == RUMOR_OK; j++)
            if (strcmp(r->f[j].key, r->f[i].key) == 0) rc = RUMOR_ERR_MALFORMED;
    }
    if (rc == RUMOR_OK && rd.left != 0) rc = RUMOR_ERR_MALFORMED;
    if (rc < 0) {
        memset(r, 0, sizeof *r);
        return rc;
    }
    r->n = n;
    return RUMOR_OK;
}

const rumor_ctl_field_t *rumor_ctl_get(const rumor_ctl_record_t *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].key, key) == 0) return &r->f[i];
    return NULL;
}

/* ---- the writer ---------------------------------------------------------------- */

/* The whole message: the prefix and the largest body section 11 allows. */
#define CTL_WRITER_MAX (CTL_PREFIX_BYTES + RUMOR_CTL_MSG_MAX)
/* The first allocation: enough for most answers without growing. */
#define CTL_WRITER_INITIAL 256

void rumor_ctl_writer_init(rumor_ctl_writer_t *w)
{
    memset(w, 0, sizeof *w);
}

/*
 * Makes room for `n` more bytes and returns where they go, or NULL after
 * recording the error. The first call also lays down the prefix and the
 * field count, which finish fills in.
 */
static uint8_t *writer_grow(rumor_ctl_writer_t *w, size_t n)
{
    if (w->err) return NULL;
    if (!w->buf) {
        if (!(w->buf = malloc(CTL_WRITER_INITIAL))) {
            w->err = RUMOR_ERR_NOMEM;
            return NULL;
        }
        w->cap = CTL_WRITER_INITIAL;
        memset(w->buf, 0, CTL_PREFIX_BYTES + 1);
        w->len = CTL_PREFIX_BYTES + 1;
    }
    if (n > CTL_WRITER_MAX - w->len) {
        w->err = RUMOR_ERR_TOO_BIG;
        return NULL;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap;
        while (cap < w->len + n) cap *= 2;
        if (cap > CTL_WRITER_MAX) cap = CTL_WRITER_MAX;
        uint8_t *grown = realloc(w->buf, cap);
        if (!grown) {
            w->err = RUMOR_ERR_NOMEM;
            return NULL;
        }
        w->buf = grown;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

/* True when a field already written is named `key` (the buffer is well formed: we wrote it). */
static bool writer_has_key(const rumor_ctl_writer_t *w, const char *key, size_t key_len)
{
    size_t off = CTL_PREFIX_BYTES + 1;
    for (size_t i = 0; i < w->n; i++) {
        uint8_t type = w->buf[off];
        size_t len = w->buf[off + 1];
        const uint8_t *name = w->buf + off + CTL_FIELD_HEAD_BYTES;
        if (len == key_len && memcmp(name, key, len) == 0) return true;
        off += CTL_FIELD_HEAD_BYTES + len;
        if (type == RUMOR_CTL_U64 || type == RUMOR_CTL_F64)
            off += 8;
        else if (type == RUMOR_CTL_STR || type == RUMOR_CTL_BYTES)
            off += CTL_STR_LEN_BYTES + rumor_get_u32(w->buf + off);
        else
            off += 1;
    }
    return false;
}

/* Writes a field's type and key and returns where its `value_len` bytes of value go. */
static uint8_t *writer_field(rumor_ctl_writer_t *w, uint8_t type, const char *key, size_t value_len)
{
    if (w->err) return NULL;
    size_t key_len = key ? strnlen(key, RUMOR_CTL_KEY_MAX + 1) : 0;
    if (!ctl_key_valid(key, key_len)) {
        w->err = RUMOR_ERR_INVALID;
        return NULL;
    }
    if (w->n >= RUMOR_CTL_FIELDS_MAX) {
        w->err = RUMOR_ERR_TOO_BIG;
        return NULL;
    }
    if (w->buf && writer_has_key(w, key, key_len)) {
        w->err = RUMOR_ERR_INVALID;
        return NULL;
    }
    uint8_t *p = writer_grow(w, CTL_FIELD_HEAD_BYTES + key_len + value_len);
    if (!p) return NULL;
    p[0] = type;
    p[1] = (uint8_t)key_len;
    memcpy(p + CTL_FIELD_HEAD_BYTES, key, key_len);
    w->n++;
    return p + CTL_FIELD_HEAD_BYTES + key_len;
}

void rumor_ctl_put_u64(rumor_ctl_writer_t *w, const char *key, uint64_t v)
{
    uint8_t *p = writer_field(w, RUMOR_CTL_U64, key, 8);
    if (p) rumor_put_u64(p, v);
}

void rumor_ctl_put_str(rumor_ctl_writer_t *w, const char *key, const char *s, size_t len)
{
    if (w->err) return;
    if (!s && len) {
        w->err = RUMOR_ERR_INVALID;
        return;
    }
    if (len > RUMOR_CTL_STR_MAX) {
        w->err = RUMOR_ERR_TOO_BIG;
        return;
    }
    if (!rumor_utf8_valid((const uint8_t *)s, len)) {
        w->err = RUMOR_ERR_BAD_UTF8;
        return;
    }
    uint8_t *p = writer_field(w, RUMOR_CTL_STR, key, CTL_STR_LEN_BYTES + len);
    if (!p) return;
    rumor_put_u32(p, (uint32_t)len);
    if (len) memcpy(p + CTL_STR_LEN_BYTES, s, len);
}

void rumor_ctl_put_bytes(rumor_ctl_writer_t *w, const char *key, const uint8_t *b, size_t len)
{
    if (w->err) return;
    if ((!b && len) || len > RUMOR_CTL_BYTES_MAX) {
        w->err = !b && len ? RUMOR_ERR_INVALID : RUMOR_ERR_TOO_BIG;
        return;
    }
    uint8_t *p = writer_field(w, RUMOR_CTL_BYTES, key, CTL_STR_LEN_BYTES + len);
    if (!p) return;
    rumor_put_u32(p, (uint32_t)len);
    if (len) memcpy(p + CTL_STR_LEN_BYTES, b, len);
}

void rumor_ctl_put_bool(rumor_ctl_writer_t *w, const char *key, bool v)
{
    uint8_t *p = writer_field(w, RUMOR_CTL_BOOL, key, 1);
    if (p) p[0] = v ? 1 : 0;
}

void rumor_ctl_put_f64(rumor_ctl_writer_t *w, const char *key, double v)
{
    if (!w->err && !isfinite(v)) w->err = RUMOR_ERR_INVALID;
    uint8_t *p = writer_field(w, RUMOR_CTL_F64, key, 8);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (p) rumor_put_u64(p, bits);
}

int rumor_ctl_writer_finish(rumor_ctl_writer_t *w, const uint8_t **msg, size_t *len)
{
    *msg = NULL;
    *len = 0;
    /* A record without fields still has its count byte. */
    if (!w->buf) writer_grow(w, 0);
    if (w->err) return w->err;
    rumor_put_u32(w->buf, (uint32_t)(w->len - CTL_PREFIX_BYTES));
    w->buf[CTL_PREFIX_BYTES] = (uint8_t)w->n;
    *msg = w->buf;
    *len = w->len;
    return RUMOR_OK;
}

void rumor_ctl_writer_free(rumor_ctl_writer_t *w)
{
    if (w->buf) rumor_wipe(w->buf, w->cap); /* it may have carried a secret (an agent's answer) */
    free(w->buf);
    memset(w, 0, sizeof *w);
}

/* ---- invite codes (PROTOCOL.md 10.1) ---------------------------------------------- */

#define INVITE_VERSION    1
#define INVITE_PREFIX_LEN (sizeof RUMOR_INVITE_PREFIX - 1)
/* version[1] ‖ room[32] ‖ inviter[32] ‖ token[16] ‖ role[1] ‖ port[2] ‖ host_len[1] */
#define INVITE_FIXED_BYTES (1 + ID + ID + 16 + 1 + 2 + 1)
#define INVITE_BIN_MAX     (INVITE_FIXED_BYTES + RUMOR_INVITE_HOST_MAX)
#define INVITE_B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* True when `host` (NUL-terminated) is an IPv4 or IPv6 literal. */
static bool host_is_literal(const char *host)
{
    uint8_t addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

int rumor_invite_encode(const rumor_invite_t *inv, char *out, size_t cap)
{
    size_t host_len = strnlen(inv->host, sizeof inv->host);
    if (host_len == 0 || host_len > RUMOR_INVITE_HOST_MAX || !host_is_literal(inv->host) ||
        (inv->role != RUMOR_ROLE_MEMBER && inv->role != RUMOR_ROLE_ADMIN) || inv->port == 0)
        return RUMOR_ERR_INVALID;

    uint8_t bin[INVITE_BIN_MAX];
    uint8_t *p = bin;
    *p++ = INVITE_VERSION;
    memcpy(p, inv->room, ID);
    p += ID;
    memcpy(p, inv->inviter, ID);
    p += ID;
    memcpy(p, inv->token, sizeof inv->token);
    p += sizeof inv->token;
    *p++ = inv->role;
    rumor_put_u16(p, inv->port);
    p += 2;
    *p++ = (uint8_t)host_len;
    memcpy(p, inv->host, host_len);
    p += host_len;
    size_t bin_len = (size_t)(p - bin);

    /* sodium_base64_ENCODED_LEN counts the NUL. */
    size_t b64_size = sodium_base64_ENCODED_LEN(bin_len, INVITE_B64_VARIANT);
    if (cap < INVITE_PREFIX_LEN + b64_size) return RUMOR_ERR_TOO_BIG;
    memcpy(out, RUMOR_INVITE_PREFIX, INVITE_PREFIX_LEN);
    sodium_bin2base64(out + INVITE_PREFIX_LEN, b64_size, bin, bin_len, INVITE_B64_VARIANT);
    return RUMOR_OK;
}

/*
 * True when `s[0..len)` is all base64url alphabet. libsodium 1.0.18 reads
 * every byte from 0x80 up as 'A' where char is signed, so its decoder alone
 * would take codes that do not re-encode the same.
 */
static bool b64url_alphabet_only(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int rumor_invite_decode(const char *code, size_t len, rumor_invite_t *inv)
{
    memset(inv, 0, sizeof *inv);
    while (len && is_ascii_space(code[0])) {
        code++;
        len--;
    }
    while (len && is_ascii_space(code[len - 1])) len--;
    if (len < INVITE_PREFIX_LEN || memcmp(code, RUMOR_INVITE_PREFIX, INVITE_PREFIX_LEN) != 0)
        return RUMOR_ERR_MALFORMED;
    const char *b64 = code + INVITE_PREFIX_LEN;
    size_t b64_len = len - INVITE_PREFIX_LEN;
    /* The longest valid payload, without the NUL sodium_base64_ENCODED_LEN counts. */
    if (b64_len > sodium_base64_ENCODED_LEN(INVITE_BIN_MAX, INVITE_B64_VARIANT) - 1)
        return RUMOR_ERR_MALFORMED;
    if (!b64url_alphabet_only(b64, b64_len)) return RUMOR_ERR_MALFORMED;

    uint8_t bin[INVITE_BIN_MAX];
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, sizeof bin, b64, b64_len, NULL, &bin_len, &end,
                          INVITE_B64_VARIANT) != 0 ||
        end != b64 + b64_len)
        return RUMOR_ERR_MALFORMED;
    if (bin_len < INVITE_FIXED_BYTES) return RUMOR_ERR_MALFORMED;

    const uint8_t *p = bin;
    if (*p++ != INVITE_VERSION) return RUMOR_ERR_MALFORMED;
    rumor_invite_t v;
    memset(&v, 0, sizeof v);
    memcpy(v.room, p, ID);
    p += ID;
    memcpy(v.inviter, p, ID);
    p += ID;
    memcpy(v.token, p, sizeof v.token);
    p += sizeof v.token;
    v.role = *p++;
    v.port = rumor_get_u16(p);
    p += 2;
    size_t host_len = *p++;
    if (v.role != RUMOR_ROLE_MEMBER && v.role != RUMOR_ROLE_ADMIN) return RUMOR_ERR_MALFORMED;
    if (v.port == 0 || host_len == 0 || host_len > RUMOR_INVITE_HOST_MAX)
        return RUMOR_ERR_MALFORMED;
    if (bin_len != INVITE_FIXED_BYTES + host_len) return RUMOR_ERR_MALFORMED;
    /* A NUL inside would hide trailing bytes from inet_pton. */
    if (memchr(p, '\0', host_len)) return RUMOR_ERR_MALFORMED;
    memcpy(v.host, p, host_len);
    v.host[host_len] = '\0';
    if (!host_is_literal(v.host)) return RUMOR_ERR_MALFORMED;
    *inv = v;
    return RUMOR_OK;
}

bool rumor_node_is_lan_code(const char *s)
{
    char norm[RUMOR_LANCODE_CHARS + 1];
    bool is = rumor_lancode_normalize(s, norm) == RUMOR_OK;
    rumor_wipe(norm, sizeof norm);
    return is;
}
