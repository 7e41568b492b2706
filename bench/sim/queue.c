/*
 * queue.c - the timed events of a run: a 4-ary min-heap of keys (time, sequence number) over a
 * slab of the events themselves. The sequence number is the order events were queued, so two
 * events at the same microsecond always come out in the same order and a seed gives the same
 * run.
 *
 * The heap moves 16-byte keys only, and each node's four children share one cache line (the
 * array is offset so that they start on a 64-byte boundary): a pop touches a line per level.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#define ARITY 4
/* Keys before the root, so that children 4i+1..4i+4 fill one 64-byte line. */
#define KEY_OFFSET 3
#define LINE       64

static inline bool before(const sim_qkey_t *x, const sim_qkey_t *y)
{
    return x->t < y->t || (x->t == y->t && x->sx < y->sx);
}

static int grow_keys(sim_queue_t *q)
{
    size_t cap = q->cap ? 2 * q->cap : 1024;
    size_t bytes = (cap + KEY_OFFSET) * sizeof(sim_qkey_t);
    sim_qkey_t *base = aligned_alloc(LINE, (bytes + LINE - 1) / LINE * LINE);
    if (!base) return -1;
    if (q->n) memcpy(base + KEY_OFFSET, q->k, q->n * sizeof *q->k);
    free(q->k ? q->k - KEY_OFFSET : NULL);
    q->k = base + KEY_OFFSET;
    q->cap = cap;
    return 0;
}

/* A free slot of the slab, or UINT32_MAX. */
static uint32_t slot_take(sim_queue_t *q)
{
    if (q->n_free) return q->free[--q->n_free];
    if (q->slots == q->slab_cap) {
        size_t cap = q->slab_cap ? 2 * q->slab_cap : 1024;
        if (cap > SIM_QUEUE_SLOTS_MAX) return UINT32_MAX;
        sim_ev_t *slab = realloc(q->slab, cap * sizeof *slab);
        if (!slab) return UINT32_MAX;
        q->slab = slab;
        uint32_t *fr = realloc(q->free, cap * sizeof *fr);
        if (!fr) return UINT32_MAX;
        q->free = fr;
        q->slab_cap = cap;
    }
    return (uint32_t)q->slots++;
}

int sim_queue_push(sim_queue_t *q, sim_ev_t *ev)
{
    if (q->seq >> (64 - SIM_QUEUE_SLOT_BITS)) return -1; /* 2^40 events: never in practice */
    if (q->n == q->cap && grow_keys(q) < 0) return -1;
    uint32_t slot = slot_take(q);
    if (slot == UINT32_MAX) return -1;
    ev->seq = q->seq++;
    q->slab[slot] = *ev;
    sim_qkey_t key = {ev->t, ev->seq << SIM_QUEUE_SLOT_BITS | slot};
    size_t i = q->n++;
    while (i > 0) {
        size_t up = (i - 1) / ARITY;
        if (!before(&key, &q->k[up])) break;
        q->k[i] = q->k[up];
        i = up;
    }
    q->k[i] = key;
    return 0;
}

bool sim_queue_pop(sim_queue_t *q, sim_ev_t *ev)
{
    if (!q->n) return false;
    uint32_t slot = (uint32_t)(q->k[0].sx & ((1ULL << SIM_QUEUE_SLOT_BITS) - 1));
    *ev = q->slab[slot];
    q->free[q->n_free++] = slot;
    sim_qkey_t last = q->k[--q->n];
    size_t n = q->n, i = 0;
    for (;;) {
        size_t first = ARITY * i + 1;
        if (first >= n) break;
        size_t best = first, end = first + ARITY < n ? first + ARITY : n;
        for (size_t c = first + 1; c < end; c++)
            if (before(&q->k[c], &q->k[best])) best = c;
        if (!before(&q->k[best], &last)) break;
        q->k[i] = q->k[best];
        i = best;
    }
    if (n) q->k[i] = last;
    return true;
}

const sim_ev_t *sim_queue_peek(const sim_queue_t *q)
{
    if (!q->n) return NULL;
    return &q->slab[q->k[0].sx & ((1ULL << SIM_QUEUE_SLOT_BITS) - 1)];
}

void sim_queue_free(sim_queue_t *q)
{
    free(q->k ? q->k - KEY_OFFSET : NULL);
    free(q->slab);
    free(q->free);
    memset(q, 0, sizeof *q);
}
