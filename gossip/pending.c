/*
 * pending.c - events waiting for their parents (PROTOCOL.md 9.5): a bounded set of EVENT frames
 * whose parents are not stored yet. One peer fills at most a quarter of it (anyone can sign an
 * event with made-up parents), and an entry older than the caller's time to live is dropped.
 * Entries are indexed by the parents they wait for: a stored event releases exactly the
 * entries that waited for it alone, and one nobody waited for costs a lookup.
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
    free(p->waited_key);
    free(p->waited_n);
    memset(p, 0, sizeof *p);
}

/* The 8-byte prefix the waited table knows a parent by (never 0). */
static uint64_t pending_key(const uint8_t id[ID])
{
    uint64_t k;
    memcpy(&k, id, 8);
    return k ? k : 1;
}

/* The slot of `k` in the waited table, or of the empty slot where it would go. */
static size_t waited_slot(const rumor_gossip_pending_t *p, uint64_t k)
{
    size_t i = (size_t)(k ^ (k >> 29)) & (p->waited_cap - 1);
    while (p->waited_key[i] && p->waited_key[i] != k) i = (i + 1) & (p->waited_cap - 1);
    return i;
}

static uint32_t waited_count(const rumor_gossip_pending_t *p, uint64_t k)
{
    if (!p->waited_cap) return 0;
    size_t i = waited_slot(p, k);
    return p->waited_key[i] ? p->waited_n[i] : 0;
}

/* Rebuilds the table from the entries (keys whose count fell to 0 leave it), with room to grow. */
static int waited_rebuild(rumor_gossip_pending_t *p, size_t extra)
{
    size_t need = extra, cap = 64;
    for (size_t i = 0; i < p->n; i++) need += p->e[i].n_missing;
    while (cap < 4 * need) cap <<= 1;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint32_t *counts = calloc(cap, sizeof *counts);
    if (!keys || !counts) {
        free(keys);
        free(counts);
        return RUMOR_ERR_NOMEM;
    }
    free(p->waited_key);
    free(p->waited_n);
    p->waited_key = keys;
    p->waited_n = counts;
    p->waited_cap = cap;
    p->waited_used = 0;
    for (size_t i = 0; i < p->n; i++)
        for (size_t k = 0; k < p->e[i].n_missing; k++) {
            uint64_t key = pending_key(p->e[i].missing[k]);
            size_t s = waited_slot(p, key);
            if (!p->waited_key[s]) p->waited_key[s] = key, p->waited_used++;
            p->waited_n[s]++;
        }
    return RUMOR_OK;
}

static void waited_change(rumor_gossip_pending_t *p, uint64_t k, int delta)
{
    if (!p->waited_cap) return;
    size_t s = waited_slot(p, k);
    if (!p->waited_key[s]) p->waited_key[s] = k, p->waited_used++;
    p->waited_n[s] = (uint32_t)((int64_t)p->waited_n[s] + delta);
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
    if (x->n_missing > RUMOR_MAX_PARENTS) return RUMOR_ERR_INVALID;
    /* Room for its parents in the table: at most half full, or rebuilt. */
    if ((!p->waited_cap || 2 * (p->waited_used + x->n_missing) > p->waited_cap) &&
        waited_rebuild(p, x->n_missing) < 0)
        return RUMOR_ERR_NOMEM;
    uint8_t *copy = malloc(x->len);
    if (!copy) return RUMOR_ERR_NOMEM;
    memcpy(copy, frame, x->len);
    rumor_gossip_pend_t *e = &p->e[p->n++];
    *e = *x;
    e->frame = copy;
    e->added_ms = now;
    for (size_t k = 0; k < e->n_missing; k++) waited_change(p, pending_key(e->missing[k]), +1);
    return RUMOR_OK;
}

size_t rumor_gossip_pending_arrived(rumor_gossip_pending_t *p, const uint8_t id[ID],
                                    rumor_gossip_pend_t *out, size_t cap)
{
    uint64_t k = pending_key(id);
    if (!waited_count(p, k)) return 0;
    size_t n = 0;
    for (size_t i = 0; i < p->n;) {
        rumor_gossip_pend_t *e = &p->e[i];
        bool waits = false;
        for (size_t j = 0; j < e->n_missing && !waits; j++)
            if (memcmp(e->missing[j], id, ID) == 0) { /* the whole id: a prefix may collide */
                memcpy(e->missing[j], e->missing[--e->n_missing], ID);
                waited_change(p, k, -1);
                waits = true;
            }
        if (waits && !e->n_missing && n < cap) {
            out[n++] = *e;
            rumor_gossip_pending_take(p, i, false);
            continue;
        }
        if (waits && !e->n_missing) { /* no room in `out`: it waits on, told again later */
            memcpy(e->missing[e->n_missing++], id, ID);
            waited_change(p, k, +1);
        }
        i++;
    }
    return n;
}

void rumor_gossip_pending_take(rumor_gossip_pending_t *p, size_t i, bool free_frame)
{
    for (size_t k = 0; k < p->e[i].n_missing; k++)
        waited_change(p, pending_key(p->e[i].missing[k]), -1);
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
