/*
 * book.c - remembered peers (PROTOCOL.md 9.4): the record a node keeps of each peer it was
 * linked to, which entry a newcomer replaces, which are forgotten, and in which order they are
 * dialed at start. Functions of the entries and `now`; the node reads and writes the store.
 */
#include "gossip_internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT        1
#define FIXED_BYTES   22 /* format, found, seen, linked, fails, port */
#define FORGET_FAILS  16
#define FORGET_AGE_MS (7ull * 24 * 3600 * 1000)

static bool host_literal(const char *host)
{
    uint8_t a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* The form before format 1: `host:port`, IPv6 in brackets. */
static int decode_text(const uint8_t *v, size_t len, rumor_gossip_known_t *k)
{
    char text[RUMOR_STORE_PEER_MAX + 1];
    if (len > RUMOR_STORE_PEER_MAX) return RUMOR_ERR_MALFORMED;
    memcpy(text, v, len);
    text[len] = '\0';
    if (strlen(text) != len) return RUMOR_ERR_MALFORMED;
    char *colon = strrchr(text, ':');
    if (!colon || colon == text || !colon[1] || strlen(colon + 1) > 5) return RUMOR_ERR_MALFORMED;
    unsigned long port = 0;
    for (const char *c = colon + 1; *c; c++) {
        if (*c < '0' || *c > '9') return RUMOR_ERR_MALFORMED;
        port = port * 10 + (unsigned long)(*c - '0');
    }
    if (port == 0 || port > 65535) return RUMOR_ERR_MALFORMED;
    *colon = '\0';
    char *host = text;
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']') return RUMOR_ERR_MALFORMED;
        host[n - 1] = '\0';
        host++;
        if (!strchr(host, ':')) return RUMOR_ERR_MALFORMED;
    } else if (strchr(host, ':')) {
        return RUMOR_ERR_MALFORMED;
    }
    if (strlen(host) > RUMOR_GOSSIP_HOST_MAX || !host_literal(host)) return RUMOR_ERR_MALFORMED;
    memcpy(k->host, host, strlen(host) + 1);
    k->port = (uint16_t)port;
    k->found = RUMOR_FOUND_BOOTSTRAP;
    return RUMOR_OK;
}

int rumor_gossip_known_decode(const uint8_t *v, size_t len, rumor_gossip_known_t *k)
{
    uint8_t pk[RUMOR_ID_BYTES];
    memcpy(pk, k->pk, sizeof pk);
    memset(k, 0, sizeof *k);
    memcpy(k->pk, pk, sizeof pk);
    int rc;
    if (len && v[0] != FORMAT) {
        rc = decode_text(v, len, k);
    } else if (len <= FIXED_BYTES || len > FIXED_BYTES + RUMOR_GOSSIP_HOST_MAX) {
        rc = RUMOR_ERR_MALFORMED;
    } else {
        rumor_reader_t r = {v + 1, len - 1};
        k->found = *rumor_take(&r, 1);
        k->seen_ms = rumor_get_u64(rumor_take(&r, 8));
        k->linked_ms = rumor_get_u64(rumor_take(&r, 8));
        k->fails = rumor_get_u16(rumor_take(&r, 2));
        k->port = rumor_get_u16(rumor_take(&r, 2));
        memcpy(k->host, r.p, r.left);
        k->host[r.left] = '\0';
        rc = k->found >= RUMOR_FOUND_BOOTSTRAP && k->found <= RUMOR_FOUND_INVITE && k->port &&
                     strlen(k->host) == r.left && host_literal(k->host)
                 ? RUMOR_OK
                 : RUMOR_ERR_MALFORMED;
    }
    if (rc < 0) {
        memset(k, 0, sizeof *k);
        memcpy(k->pk, pk, sizeof pk);
    }
    return rc;
}

size_t rumor_gossip_known_encode(const rumor_gossip_known_t *k, uint8_t out[RUMOR_KNOWN_MAX])
{
    size_t host_len = strnlen(k->host, RUMOR_GOSSIP_HOST_MAX + 1);
    if (!host_len || host_len > RUMOR_GOSSIP_HOST_MAX || !k->port) return 0;
    out[0] = FORMAT;
    out[1] = k->found;
    rumor_put_u64(out + 2, k->seen_ms);
    rumor_put_u64(out + 10, k->linked_ms);
    rumor_put_u16(out + 18, k->fails);
    rumor_put_u16(out + 20, k->port);
    memcpy(out + FIXED_BYTES, k->host, host_len);
    return FIXED_BYTES + host_len;
}

static bool strangers_claim(uint8_t found)
{
    return found == RUMOR_FOUND_EXCHANGE || found == RUMOR_FOUND_INBOUND;
}

/* True when `a` is a worse entry to keep than `b`: more failures, then linked longer ago. */
static bool worse(const rumor_gossip_known_t *a, const rumor_gossip_known_t *b)
{
    if (a->fails != b->fails) return a->fails > b->fails;
    return a->linked_ms < b->linked_ms;
}

size_t rumor_gossip_book_place(const rumor_gossip_known_t *book, size_t n, uint8_t found)
{
    size_t strangers = 0, worst = SIZE_MAX, worst_stranger = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (book[i].found == RUMOR_FOUND_BOOTSTRAP) continue;
        if (worst == SIZE_MAX || worse(&book[i], &book[worst])) worst = i;
        if (!strangers_claim(book[i].found)) continue;
        strangers++;
        if (worst_stranger == SIZE_MAX || worse(&book[i], &book[worst_stranger]))
            worst_stranger = i;
    }
    if (strangers_claim(found)) {
        if (strangers < RUMOR_BOOK_MAX / 2 && n < RUMOR_BOOK_MAX) return n;
        return worst_stranger;
    }
    return n < RUMOR_BOOK_MAX ? n : worst;
}

bool rumor_gossip_known_forgotten(const rumor_gossip_known_t *k, uint64_t now)
{
    return k->found != RUMOR_FOUND_BOOTSTRAP && k->fails >= FORGET_FAILS &&
           now > k->linked_ms + FORGET_AGE_MS;
}

static int best_first(const void *x, const void *y)
{
    const rumor_gossip_known_t *a = x, *b = y;
    if (a->linked_ms != b->linked_ms) return a->linked_ms > b->linked_ms ? -1 : 1;
    if (a->fails != b->fails) return a->fails < b->fails ? -1 : 1;
    return memcmp(a->pk, b->pk, RUMOR_ID_BYTES);
}

void rumor_gossip_book_sort(rumor_gossip_known_t *book, size_t n)
{
    if (n > 1) qsort(book, n, sizeof *book, best_first);
}
