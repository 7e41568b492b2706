/*
 * pending.c - events waiting for their parents (PROTOCOL.md 9.5): a bounded set of EVENT frames
 * whose parents are not stored yet. One peer fills at most a quarter of it (anyone can sign an
 * event with made-up parents), and an entry older than the caller's time to live is dropped.
 * Decisions on the set, as functions of what is offered and `now`; the node checks the store.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

int rumor_gossip_pending_init(rumor_gossip_pending_t *p, size_t max)
{
    memset(p, 0, sizeof *p);
    if (!max) return RUMOR_ERR_INVALID;
    if (!(p->e = calloc(max, sizeof *p->e))) return RUMOR_ERR_NOMEM;
    p->max = max;
    return RUMOR_OK;
}

void rumor_gossip_pending_free(rumor_gossip_pending_t *p)
{
    while (p->n) rumor_gossip_pending_take(p, 0, true);
    free(p->e);
    memset(p, 0, sizeof *p);
}

bool rumor_gossip_pending_has(const rumor_gossip_pending_t *p, const uint8_t id[ID])
{
    for (size_t i = 0; i < p->n; i++)
        if (memcmp(p->e[i].id, id, ID) == 0) return true;
    return false;
}

int rumor_gossip_pending_add(rumor_gossip_pending_t *p, const rumor_gossip_pend_t *x,
                             const uint8_t *frame, uint64_t now)
{
    if (rumor_gossip_pending_has(p, x->id)) return RUMOR_ERR_EXISTS;
    size_t mine = 0;
    for (size_t i = 0; i < p->n; i++) mine += memcmp(p->e[i].from, x->from, ID) == 0;
    if (p->n >= p->max || mine >= (p->max + 3) / 4) return RUMOR_ERR_BUSY;
    uint8_t *copy = malloc(x->len);
    if (!copy) return RUMOR_ERR_NOMEM;
    memcpy(copy, frame, x->len);
    rumor_gossip_pend_t *e = &p->e[p->n++];
    *e = *x;
    e->frame = copy;
    e->added_ms = now;
    return RUMOR_OK;
}

void rumor_gossip_pending_take(rumor_gossip_pending_t *p, size_t i, bool free_frame)
{
    if (free_frame) free(p->e[i].frame);
    p->e[i] = p->e[--p->n];
}

size_t rumor_gossip_pending_expire(rumor_gossip_pending_t *p, uint64_t now, uint64_t ttl_ms)
{
    size_t dropped = 0;
    for (size_t i = 0; i < p->n;) {
        if (now - p->e[i].added_ms > ttl_ms) {
            rumor_gossip_pending_take(p, i, true);
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}
