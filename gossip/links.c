/*
 * links.c - the inbound links of a node before and after HELLO (PROTOCOL.md 9.5): which
 * handshakes to let through, which connections to close because they never said HELLO, and
 * which older link a key's new HELLO replaces. Decisions only, as functions of the table, the
 * source address, the key and `now`; the node accepts, refuses and closes.
 *
 * Two records: a *grant* is a handshake the node let through (ZAP) whose HELLO has not come; a
 * *link* is an accepted connection, known by its descriptor. Grants bound what one address,
 * one key and all strangers together may hold open; links bound the descriptors and carry the
 * HELLO deadline.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

int rumor_gossip_links_init(rumor_gossip_links_t *l, const rumor_gossip_link_limits_t *lim)
{
    memset(l, 0, sizeof *l);
    l->lim = *lim;
    if (!l->lim.inbound_max || !l->lim.pending_max) return RUMOR_ERR_INVALID;
    l->links = calloc(l->lim.inbound_max, sizeof *l->links);
    l->grants = calloc(l->lim.pending_max, sizeof *l->grants);
    if (!l->links || !l->grants) {
        rumor_gossip_links_free(l);
        return RUMOR_ERR_NOMEM;
    }
    return RUMOR_OK;
}

void rumor_gossip_links_free(rumor_gossip_links_t *l)
{
    free(l->links);
    free(l->grants);
    l->links = NULL;
    l->grants = NULL;
    l->n_links = l->n_grants = 0;
}

static void grants_expire(rumor_gossip_links_t *l, uint64_t now)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n_grants; i++)
        if (now - l->grants[i].since_ms < l->lim.hello_timeout_ms) l->grants[w++] = l->grants[i];
    l->n_grants = w;
}

rumor_gossip_admit_t rumor_gossip_link_admit(rumor_gossip_links_t *l, const uint8_t addr[16],
                                             const uint8_t key[32], bool known, uint64_t now)
{
    grants_expire(l, now);
    size_t from_addr = 0, of_key = 0;
    for (size_t i = 0; i < l->n_grants; i++) {
        if (memcmp(l->grants[i].addr, addr, 16) == 0) from_addr++;
        if (memcmp(l->grants[i].key, key, 32) == 0) of_key++;
    }
    if (of_key >= l->lim.per_key_max) return RUMOR_GOSSIP_DENY_KEY;
    /* Known keys (peers, candidates, members, contacts) keep their slots: strangers are held
     * to a share of the table, so a flood of fresh keys cannot lock out the people we know. */
    size_t strangers_max = l->lim.pending_max - l->lim.pending_max / 4;
    if (!known && l->n_grants >= strangers_max) return RUMOR_GOSSIP_DENY_FULL;
    if (!known && from_addr >= l->lim.per_addr_max) return RUMOR_GOSSIP_DENY_ADDR;
    if (l->n_grants >= l->lim.pending_max) {
        /* Full of grants and a known key asks: it takes the oldest stranger's place. */
        size_t oldest = l->n_grants;
        for (size_t i = 0; i < l->n_grants; i++)
            if (!l->grants[i].known &&
                (oldest == l->n_grants || l->grants[i].since_ms < l->grants[oldest].since_ms))
                oldest = i;
        if (oldest == l->n_grants) return RUMOR_GOSSIP_DENY_FULL;
        l->grants[oldest] = l->grants[--l->n_grants];
    }
    rumor_gossip_grant_t *g = &l->grants[l->n_grants++];
    memcpy(g->addr, addr, 16);
    memcpy(g->key, key, 32);
    g->known = known;
    g->since_ms = now;
    return RUMOR_GOSSIP_ADMIT;
}

static rumor_gossip_link_t *link_find(rumor_gossip_links_t *l, int fd)
{
    for (size_t i = 0; i < l->n_links; i++)
        if (l->links[i].fd == fd) return &l->links[i];
    return NULL;
}

bool rumor_gossip_link_accepted(rumor_gossip_links_t *l, int fd, const uint8_t addr[16],
                                uint64_t now)
{
    rumor_gossip_link_t *k = link_find(l, fd);
    if (k) {
        /* Its HELLO was read before the accept was reported: keep what HELLO said. */
        memcpy(k->addr, addr, 16);
        return true;
    }
    if (l->n_links >= l->lim.inbound_max) return false;
    k = &l->links[l->n_links++];
    memset(k, 0, sizeof *k);
    k->fd = fd;
    memcpy(k->addr, addr, 16);
    k->since_ms = now;
    return true;
}

int rumor_gossip_link_hello(rumor_gossip_links_t *l, int fd, const uint8_t key[32], uint64_t now,
                            uint8_t older_addr[16])
{
    size_t w = 0;
    for (size_t i = 0; i < l->n_grants; i++)
        if (memcmp(l->grants[i].key, key, 32) != 0) l->grants[w++] = l->grants[i];
    l->n_grants = w;
    int older = -1;
    for (size_t i = 0; i < l->n_links; i++)
        if (l->links[i].hello && l->links[i].fd != fd && memcmp(l->links[i].key, key, 32) == 0) {
            older = l->links[i].fd;
            memcpy(older_addr, l->links[i].addr, 16);
        }
    rumor_gossip_link_t *k = link_find(l, fd);
    if (!k) {
        /* HELLO read before its accept was reported; the table may be full of strangers. */
        if (l->n_links >= l->lim.inbound_max) return older;
        k = &l->links[l->n_links++];
        memset(k, 0, sizeof *k);
        k->fd = fd;
        k->since_ms = now;
    }
    k->hello = true;
    memcpy(k->key, key, 32);
    return older;
}

void rumor_gossip_link_closed(rumor_gossip_links_t *l, int fd)
{
    for (size_t i = 0; i < l->n_links; i++) {
        if (l->links[i].fd != fd) continue;
        l->links[i] = l->links[--l->n_links];
        return;
    }
}

int rumor_gossip_link_fd(const rumor_gossip_links_t *l, const uint8_t key[32], uint8_t addr[16])
{
    for (size_t i = 0; i < l->n_links; i++) {
        if (!l->links[i].hello || memcmp(l->links[i].key, key, 32) != 0) continue;
        memcpy(addr, l->links[i].addr, 16);
        return l->links[i].fd;
    }
    return -1;
}

size_t rumor_gossip_links_silent(rumor_gossip_links_t *l, uint64_t now, rumor_gossip_link_t *out,
                                 size_t cap)
{
    size_t n = 0;
    grants_expire(l, now);
    for (size_t i = 0; i < l->n_links && n < cap; i++) {
        rumor_gossip_link_t *k = &l->links[i];
        if (k->hello || now - k->since_ms < l->lim.hello_timeout_ms) continue;
        if (k->closing) {
            /* Asked once; it leaves when its close is reported. A report that never came (the
             * monitor dropped it) must not hold the slot for ever. */
            if (now - k->since_ms >= 4 * (uint64_t)l->lim.hello_timeout_ms) {
                *k = l->links[--l->n_links];
                i--; /* look at the one moved here (unsigned wrap, then ++) */
            }
            continue;
        }
        k->closing = true;
        out[n++] = *k;
    }
    return n;
}

size_t rumor_gossip_links_pending(const rumor_gossip_links_t *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n_links; i++) n += !l->links[i].hello;
    return n;
}
