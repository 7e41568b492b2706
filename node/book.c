/*
 * book.c - the node's side of gossip/book.c (PROTOCOL.md 9.4, remembered peers): it reads the
 * store's `peers` table at start and offers the entries as candidates, and writes an entry when
 * a peer's HELLO completes, when a dial of it fails, and now and then while it stays linked.
 * What to keep, replace and forget is gossip's decision.
 */
#include "daemon.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES
/* Entries read at most: the book's own, and room for older `peer add` entries. */
#define READ_MAX (2 * RUMOR_BOOK_MAX)

typedef struct {
    rumor_gossip_known_t *e;
    size_t n;
    size_t malformed;
} book_t;

static int collect(void *ctx, const uint8_t pk[ID], const uint8_t *v, size_t len)
{
    book_t *b = ctx;
    if (b->n >= READ_MAX) return 1;
    rumor_gossip_known_t *k = &b->e[b->n];
    memcpy(k->pk, pk, ID);
    if (rumor_gossip_known_decode(v, len, k) < 0)
        b->malformed++;
    else
        b->n++;
    return 0;
}

static int book_read(rumor_txn_t *t, book_t *b)
{
    b->n = b->malformed = 0;
    if (!b->e && !(b->e = calloc(READ_MAX, sizeof *b->e))) return RUMOR_ERR_NOMEM;
    int rc = rumor_store_peer_each(t, collect, b);
    return rc < 0 ? rc : RUMOR_OK;
}

static rumor_gossip_known_t *book_find(book_t *b, const uint8_t pk[ID])
{
    for (size_t i = 0; i < b->n; i++)
        if (memcmp(b->e[i].pk, pk, ID) == 0) return &b->e[i];
    return NULL;
}

static int book_put(rumor_txn_t *t, const rumor_gossip_known_t *k)
{
    uint8_t v[RUMOR_KNOWN_MAX];
    size_t len = rumor_gossip_known_encode(k, v);
    return len ? rumor_store_peer_put(t, k->pk, v, len) : RUMOR_OK;
}

void rumor_book_load(daemon_t *d)
{
    book_t b = {0};
    rumor_txn_t *t;
    if (rumor_store_read_begin(rumor_daemon_store(d), &t) < 0) return;
    int rc = book_read(t, &b);
    rumor_store_read_end(&t);
    if (rc < 0) {
        free(b.e);
        return;
    }
    if (b.malformed)
        rumor_daemon_log(d, LOG_WARN, "%zu remembered peers could not be read: ignored",
                         b.malformed);
    rumor_gossip_book_sort(b.e, b.n);
    /* The user's word always; the rest in half the candidate places at most, so that the LAN and
     * exchange still find room. */
    const rumor_node_config_t *cfg = rumor_daemon_cfg(d);
    size_t offered = 0, max = cfg->passive_max / 2 ? cfg->passive_max / 2 : 1;
    uint64_t now = rumor_now_ms();
    for (size_t i = 0; i < b.n; i++) {
        rumor_gossip_known_t *k = &b.e[i];
        bool users = k->found == RUMOR_FOUND_BOOTSTRAP;
        if ((!users && offered >= max) || rumor_gossip_known_forgotten(k, now)) continue;
        uint8_t found =
            k->found == RUMOR_FOUND_BOOTSTRAP ? RUMOR_FOUND_BOOTSTRAP : RUMOR_FOUND_REMEMBERED;
        rumor_daemon_candidate(d, k->pk, k->host, k->port, found, NULL);
        offered += !users;
    }
    rumor_daemon_log(d, LOG_DEBUG, "%zu remembered peers offered of %zu", offered, b.n);
    free(b.e);
}

typedef enum { BOOK_LINKED, BOOK_FAILED, BOOK_SEEN } book_what_t;

typedef struct {
    daemon_t *d;
    book_what_t what;
    const peer_t *p; /* BOOK_LINKED, BOOK_FAILED */
    uint64_t now;
    book_t b;
} book_op_t;

/* The kind of a first record of `p`: how it was found, as the book counts it. */
static uint8_t first_found(const peer_t *p)
{
    if (rumor_peer_found(p) >= RUMOR_FOUND_BOOTSTRAP && rumor_peer_found(p) <= RUMOR_FOUND_INVITE)
        return rumor_peer_found(p);
    return RUMOR_FOUND_INBOUND; /* remembered once, forgotten since: a claim like any other */
}

static int book_fn(rumor_txn_t *t, void *ctx)
{
    book_op_t *op = ctx;
    int rc = book_read(t, &op->b);
    if (rc < 0) return rc;
    if (op->what == BOOK_SEEN) {
        for (peer_t *p = rumor_daemon_peers(op->d); p && rc == RUMOR_OK; p = rumor_peer_next(p)) {
            rumor_gossip_known_t *k = book_find(&op->b, rumor_peer_pk(p));
            if (!k || rumor_peer_dropped(p) || !rumor_daemon_peer_ready(p)) continue;
            k->seen_ms = op->now;
            rc = book_put(t, k);
        }
        return rc;
    }
    const peer_t *p = op->p;
    rumor_gossip_known_t *k = book_find(&op->b, rumor_peer_pk(p));
    if (op->what == BOOK_FAILED) {
        if (!k) return RUMOR_OK;
        if (k->fails < UINT16_MAX) k->fails++;
        return rumor_gossip_known_forgotten(k, op->now) ? rumor_store_peer_del(t, k->pk)
                                                        : book_put(t, k);
    }
    if (!rumor_peer_port(p) || !rumor_peer_host(p)[0])
        return RUMOR_OK; /* it does not listen: nothing to dial */
    rumor_gossip_known_t fresh = {.found = first_found(p)};
    if (!k) {
        size_t at = rumor_gossip_book_place(op->b.e, op->b.n, fresh.found);
        if (at == SIZE_MAX) return RUMOR_OK;
        if (at < op->b.n && (rc = rumor_store_peer_del(t, op->b.e[at].pk)) < 0) return rc;
        memcpy(fresh.pk, rumor_peer_pk(p), ID);
        k = &fresh;
    }
    snprintf(k->host, sizeof k->host, "%s", rumor_peer_host(p));
    k->port = rumor_peer_port(p);
    k->seen_ms = k->linked_ms = op->now;
    k->fails = 0;
    return book_put(t, k);
}

static void book_write(daemon_t *d, book_what_t what, const peer_t *p)
{
    book_op_t op = {.d = d, .what = what, .p = p, .now = rumor_now_ms()};
    int rc = rumor_store_write(rumor_daemon_store(d), book_fn, &op);
    free(op.b.e);
    if (rc < 0) rumor_daemon_log(d, LOG_WARN, "remembering peers failed: %s", rumor_strerror(rc));
}

void rumor_book_linked(daemon_t *d, const peer_t *p)
{
    book_write(d, BOOK_LINKED, p);
}

void rumor_book_failed(daemon_t *d, const peer_t *p)
{
    book_write(d, BOOK_FAILED, p);
}

void rumor_book_seen(daemon_t *d)
{
    book_write(d, BOOK_SEEN, NULL);
}
