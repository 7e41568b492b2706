/*
 * lancode.c - LAN codes (PROTOCOL.md 10.3): invites people can type. The code, its key and the
 * proof that names both ends of a link; the inviter's table of open codes and how it rations
 * tries. Functions of their inputs and `now`; the node sends and receives.
 */
#include "gossip_internal.h"

#include <string.h>

#define ID RUMOR_ID_BYTES

/* Crockford's base32: no I, L, O, U. */
static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#define TRIES_PER_ADDR_PER_MIN 3.0
#define TRIES_PER_MIN          30.0

void rumor_lancode_generate(char out[RUMOR_LANCODE_CHARS + 1])
{
    uint8_t r[RUMOR_LANCODE_CHARS];
    rumor_crypto_random(r, sizeof r);
    for (size_t i = 0; i < RUMOR_LANCODE_CHARS; i++) out[i] = alphabet[r[i] & 31];
    out[RUMOR_LANCODE_CHARS] = '\0';
    rumor_wipe(r, sizeof r);
}

int rumor_lancode_normalize(const char *in, char out[RUMOR_LANCODE_CHARS + 1])
{
    size_t n = 0;
    for (const char *c = in; *c; c++) {
        char ch = *c;
        if (ch == '-' || ch == ' ') continue;
        if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
        if (ch == 'O') ch = '0';
        if (ch == 'I' || ch == 'L') ch = '1';
        if (!strchr(alphabet, ch) || ch == '\0' || n >= RUMOR_LANCODE_CHARS)
            return RUMOR_ERR_INVALID;
        out[n++] = ch;
    }
    if (n != RUMOR_LANCODE_CHARS) return RUMOR_ERR_INVALID;
    out[n] = '\0';
    return RUMOR_OK;
}

void rumor_lancode_key(const char code[RUMOR_LANCODE_CHARS + 1], uint8_t key[ID])
{
    uint8_t buf[14 + RUMOR_LANCODE_CHARS];
    memcpy(buf, "rumor-lan-code", 14);
    memcpy(buf + 14, code, RUMOR_LANCODE_CHARS);
    rumor_crypto_hash(key, buf, sizeof buf);
    rumor_wipe(buf, sizeof buf);
}

void rumor_lancode_proof(const uint8_t key[ID], const uint8_t from[ID], const uint8_t to[ID],
                         const uint8_t nonce[RUMOR_LANCODE_NONCE_BYTES], uint8_t proof[ID])
{
    uint8_t buf[ID + ID + RUMOR_LANCODE_NONCE_BYTES];
    memcpy(buf, from, ID);
    memcpy(buf + ID, to, ID);
    memcpy(buf + 2 * ID, nonce, RUMOR_LANCODE_NONCE_BYTES);
    rumor_crypto_mac(proof, key, buf, sizeof buf);
}

void rumor_lancode_answer_proof(const uint8_t key[ID], const uint8_t from[ID], const uint8_t to[ID],
                                const uint8_t nonce[RUMOR_LANCODE_NONCE_BYTES], const char *invite,
                                size_t invite_len, uint8_t proof[ID])
{
    uint8_t buf[3 + ID + ID + RUMOR_LANCODE_NONCE_BYTES + RUMOR_LANCODE_INVITE_MAX];
    if (invite_len > RUMOR_LANCODE_INVITE_MAX) invite_len = RUMOR_LANCODE_INVITE_MAX;
    memcpy(buf, "inv", 3);
    memcpy(buf + 3, from, ID);
    memcpy(buf + 3 + ID, to, ID);
    memcpy(buf + 3 + 2 * ID, nonce, RUMOR_LANCODE_NONCE_BYTES);
    memcpy(buf + 3 + 2 * ID + RUMOR_LANCODE_NONCE_BYTES, invite, invite_len);
    rumor_crypto_mac(proof, key, buf, 3 + 2 * ID + RUMOR_LANCODE_NONCE_BYTES + invite_len);
    rumor_wipe(buf, sizeof buf);
}

/* Forgets the codes that expired. */
static void expire(rumor_lancodes_t *t, uint64_t now)
{
    for (size_t i = 0; i < t->n;) {
        if (now < t->open[i].expires_ms) {
            i++;
            continue;
        }
        rumor_wipe(&t->open[i], sizeof t->open[i]);
        t->open[i] = t->open[--t->n];
    }
}

int rumor_lancodes_add(rumor_lancodes_t *t, const uint8_t key[ID], const char *invite, uint64_t now)
{
    size_t len = strlen(invite);
    if (len == 0 || len > RUMOR_LANCODE_INVITE_MAX) return RUMOR_ERR_INVALID;
    expire(t, now);
    size_t at = t->n;
    if (at == RUMOR_LANCODES_MAX) {
        /* Full: the code that expires first gives its place. */
        at = 0;
        for (size_t i = 1; i < t->n; i++)
            if (t->open[i].expires_ms < t->open[at].expires_ms) at = i;
    } else {
        t->n++;
    }
    memcpy(t->open[at].key, key, ID);
    memcpy(t->open[at].invite, invite, len + 1);
    t->open[at].expires_ms = now + RUMOR_LANCODE_TTL_MS;
    return RUMOR_OK;
}

size_t rumor_lancodes_open(rumor_lancodes_t *t, uint64_t now)
{
    expire(t, now);
    return t->n;
}

/* The bucket of one source address (the least recently used gives its place). */
static rumor_gossip_bucket_t *addr_bucket(rumor_lancodes_t *t, const uint8_t addr[16], uint64_t now)
{
    size_t oldest = 0;
    for (size_t i = 0; i < t->n_addrs; i++) {
        if (memcmp(t->addrs[i].addr, addr, 16) == 0) return &t->addrs[i].tries;
        if (t->addrs[i].tries.ms < t->addrs[oldest].tries.ms) oldest = i;
    }
    size_t at = t->n_addrs < RUMOR_LANCODE_ADDRS ? t->n_addrs++ : oldest;
    memcpy(t->addrs[at].addr, addr, 16);
    t->addrs[at].tries = (rumor_gossip_bucket_t){TRIES_PER_ADDR_PER_MIN, now};
    return &t->addrs[at].tries;
}

uint8_t rumor_lancodes_check(rumor_lancodes_t *t, const uint8_t addr[16], const uint8_t from[ID],
                             const uint8_t self[ID], const uint8_t nonce[RUMOR_LANCODE_NONCE_BYTES],
                             const uint8_t proof[ID], uint64_t now,
                             char invite[RUMOR_LANCODE_INVITE_MAX + 1], uint8_t answer[ID])
{
    invite[0] = '\0';
    expire(t, now);
    if (!t->n) return RUMOR_LANCODE_NO_MATCH;
    if (!t->all.ms) t->all = (rumor_gossip_bucket_t){TRIES_PER_MIN, now};
    if (!rumor_gossip_bucket_take(addr_bucket(t, addr, now), TRIES_PER_ADDR_PER_MIN / 60.0,
                                  TRIES_PER_ADDR_PER_MIN, now) ||
        !rumor_gossip_bucket_take(&t->all, TRIES_PER_MIN / 60.0, TRIES_PER_MIN, now))
        return RUMOR_LANCODE_LIMITED;
    for (size_t i = 0; i < t->n; i++) {
        uint8_t want[ID];
        rumor_lancode_proof(t->open[i].key, from, self, nonce, want);
        if (!rumor_secret_equal(want, proof, ID)) continue;
        memcpy(invite, t->open[i].invite, strlen(t->open[i].invite) + 1);
        rumor_lancode_answer_proof(t->open[i].key, self, from, nonce, invite, strlen(invite),
                                   answer);
        /* Once: the code is spent. */
        rumor_wipe(&t->open[i], sizeof t->open[i]);
        t->open[i] = t->open[--t->n];
        return RUMOR_LANCODE_OK;
    }
    return RUMOR_LANCODE_NO_MATCH;
}
