/*
 * caches.c - the two id caches of dissemination (PROTOCOL.md 9.3): the seen cache, which drops
 * duplicates before their signature is checked, and the message cache, which lists the ids of
 * the last heartbeats for IHAVE. Memory only, driven by `now`; bounded by their sizes.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* Ids kept per heartbeat window of the message cache. */
#define MCACHE_WINDOW_MAX 4096

/* ---- seen cache: two generations of 64-bit id prefixes ------------------------- */

/*
 * Ids are hashes, so their first 8 bytes are as good as the id for a cache
 * that only decides "skip before the signature check": a peer cannot choose
 * an id prefix equal to a future honest event's. Zero marks an empty slot.
 * A generation starts small and doubles up to `max` slots, so an idle node
 * (or one of thousands in bench/sim) holds little.
 */
#define SEEN_START 64

struct rumor_gossip_seen {
    uint64_t *gen[2]; /* current, previous */
    size_t cap[2];    /* their slots (powers of two) */
    size_t max;       /* slots a generation may grow to */
    size_t count;     /* entries in the current one */
    uint64_t rotated_ms;
};

static uint64_t seen_key(const uint8_t id[ID])
{
    uint64_t k;
    memcpy(&k, id, 8);
    return k ? k : 1;
}

rumor_gossip_seen_t *rumor_gossip_seen_new(size_t max)
{
    rumor_gossip_seen_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->max = 16;
    while (s->max < max) s->max <<= 1;
    s->cap[0] = s->cap[1] = s->max < SEEN_START ? s->max : SEEN_START;
    s->gen[0] = calloc(s->cap[0], 8);
    s->gen[1] = calloc(s->cap[1], 8);
    if (!s->gen[0] || !s->gen[1]) {
        free(s->gen[0]);
        free(s->gen[1]);
        free(s);
        return NULL;
    }
    return s;
}

void rumor_gossip_seen_free(rumor_gossip_seen_t **s)
{
    if (!*s) return;
    free((*s)->gen[0]);
    free((*s)->gen[1]);
    free(*s);
    *s = NULL;
}

static bool gen_has(const uint64_t *g, size_t cap, uint64_t k)
{
    for (size_t i = k & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (g[i] == k) return true;
        if (g[i] == 0) return false;
    }
}

bool rumor_gossip_seen_has(const rumor_gossip_seen_t *s, const uint8_t id[ID])
{
    uint64_t k = seen_key(id);
    return gen_has(s->gen[0], s->cap[0], k) || gen_has(s->gen[1], s->cap[1], k);
}

static void gen_put(uint64_t *g, size_t cap, uint64_t k)
{
    for (size_t i = k & (cap - 1);; i = (i + 1) & (cap - 1))
        if (g[i] == 0 || g[i] == k) {
            g[i] = k;
            return;
        }
}

/* Starts a new generation; the previous one is forgotten. */
static void seen_rotate(rumor_gossip_seen_t *s, uint64_t now)
{
    size_t cap = s->max < SEEN_START ? s->max : SEEN_START;
    uint64_t *fresh = calloc(cap, 8);
    if (!fresh) return; /* keep the old generations; inserts stop at half load */
    free(s->gen[1]);
    s->gen[1] = s->gen[0];
    s->cap[1] = s->cap[0];
    s->gen[0] = fresh;
    s->cap[0] = cap;
    s->count = 0;
    s->rotated_ms = now;
}

/* Doubles the current generation; false when it is at `max` or memory ran out. */
static bool seen_grow(rumor_gossip_seen_t *s)
{
    if (s->cap[0] >= s->max) return false;
    size_t cap = 2 * s->cap[0];
    uint64_t *g = calloc(cap, 8);
    if (!g) return false;
    for (size_t i = 0; i < s->cap[0]; i++)
        if (s->gen[0][i]) gen_put(g, cap, s->gen[0][i]);
    free(s->gen[0]);
    s->gen[0] = g;
    s->cap[0] = cap;
    return true;
}

void rumor_gossip_seen_add(rumor_gossip_seen_t *s, const uint8_t id[ID], uint64_t now)
{
    uint64_t k = seen_key(id);
    if (gen_has(s->gen[0], s->cap[0], k)) return;
    if (s->count >= s->cap[0] / 2 && !seen_grow(s)) seen_rotate(s, now);
    if (s->count >= s->cap[0] / 2) return;
    gen_put(s->gen[0], s->cap[0], k);
    s->count++;
}

void rumor_gossip_seen_expire(rumor_gossip_seen_t *s, uint64_t ttl_ms, uint64_t now)
{
    if (now - s->rotated_ms > ttl_ms / 2) seen_rotate(s, now);
}

/* ---- message cache: ids per heartbeat window, for IHAVE ------------------------- */

typedef struct {
    uint8_t topic[ID];
    uint8_t id[ID];
} mentry_t;

struct rumor_gossip_mcache {
    size_t windows;  /* history_length */
    mentry_t **win;  /* win[0] is the current heartbeat */
    size_t *n, *cap; /* entries and room per window (room grows by doubling) */
};

rumor_gossip_mcache_t *rumor_gossip_mcache_new(size_t windows)
{
    rumor_gossip_mcache_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->windows = windows ? windows : 1;
    m->win = calloc(m->windows, sizeof *m->win);
    m->n = calloc(m->windows, sizeof *m->n);
    m->cap = calloc(m->windows, sizeof *m->cap);
    if (!m->win || !m->n || !m->cap) {
        free(m->win);
        free(m->n);
        free(m->cap);
        free(m);
        return NULL;
    }
    return m;
}

void rumor_gossip_mcache_free(rumor_gossip_mcache_t **m)
{
    if (!*m) return;
    for (size_t i = 0; i < (*m)->windows; i++) free((*m)->win[i]);
    free((*m)->win);
    free((*m)->n);
    free((*m)->cap);
    free(*m);
    *m = NULL;
}

void rumor_gossip_mcache_add(rumor_gossip_mcache_t *m, const uint8_t topic[ID],
                             const uint8_t id[ID])
{
    if (m->n[0] >= MCACHE_WINDOW_MAX) return;
    if (m->n[0] == m->cap[0]) {
        size_t cap = m->cap[0] ? 2 * m->cap[0] : 16;
        mentry_t *w = realloc(m->win[0], cap * sizeof *w);
        if (!w) return;
        m->win[0] = w;
        m->cap[0] = cap;
    }
    memcpy(m->win[0][m->n[0]].topic, topic, ID);
    memcpy(m->win[0][m->n[0]].id, id, ID);
    m->n[0]++;
}

void rumor_gossip_mcache_shift(rumor_gossip_mcache_t *m)
{
    mentry_t *last = m->win[m->windows - 1];
    size_t last_cap = m->cap[m->windows - 1];
    memmove(m->win + 1, m->win, (m->windows - 1) * sizeof *m->win);
    memmove(m->n + 1, m->n, (m->windows - 1) * sizeof *m->n);
    memmove(m->cap + 1, m->cap, (m->windows - 1) * sizeof *m->cap);
    m->win[0] = last;
    m->cap[0] = last_cap;
    m->n[0] = 0;
}

size_t rumor_gossip_mcache_recent(const rumor_gossip_mcache_t *m, size_t gossip_windows,
                                  const uint8_t topic[ID], uint8_t *ids)
{
    size_t windows = gossip_windows < m->windows ? gossip_windows : m->windows;
    size_t n = 0;
    for (size_t w = 0; w < windows && n < RUMOR_WIRE_IDS_MAX; w++)
        for (size_t k = m->n[w]; k > 0 && n < RUMOR_WIRE_IDS_MAX; k--)
            if (memcmp(m->win[w][k - 1].topic, topic, ID) == 0)
                memcpy(ids + ID * n++, m->win[w][k - 1].id, ID);
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t tmp[ID];
        memcpy(tmp, ids + ID * i, ID);
        memcpy(ids + ID * i, ids + ID * (n - 1 - i), ID);
        memcpy(ids + ID * (n - 1 - i), tmp, ID);
    }
    return n;
}
