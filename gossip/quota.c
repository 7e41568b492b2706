/*
 * quota.c - rates per key and domain (PROTOCOL.md 9.7): a bounded table of token buckets, one
 * pair (events, bytes) per (author or peer, domain), for the live traffic a node relays. A pair
 * it has not heard from for a while gives its place to a new one (the one heard from least
 * recently); a new pair starts with full buckets.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

static void refill(rumor_gossip_bucket_t *b, double per_s, double burst, uint64_t now)
{
    if (now > b->ms) b->tokens += (double)(now - b->ms) * per_s / 1000.0;
    if (b->tokens > burst) b->tokens = burst;
    b->ms = now;
}

bool rumor_gossip_bucket_spend(rumor_gossip_bucket_t *b, double cost, double per_s, double burst,
                               uint64_t now)
{
    refill(b, per_s, burst, now);
    if (b->tokens < cost) return false;
    b->tokens -= cost;
    return true;
}

int rumor_gossip_quota_init(rumor_gossip_quota_t *q, size_t cap, rumor_gossip_rate_t events,
                            rumor_gossip_rate_t bytes)
{
    memset(q, 0, sizeof *q);
    if (!cap) return RUMOR_ERR_INVALID;
    if (!(q->e = calloc(cap, sizeof *q->e))) return RUMOR_ERR_NOMEM;
    q->cap = cap;
    q->events = events;
    q->bytes = bytes;
    return RUMOR_OK;
}

void rumor_gossip_quota_free(rumor_gossip_quota_t *q)
{
    free(q->e);
    memset(q, 0, sizeof *q);
}

bool rumor_gossip_quota_spend(rumor_gossip_quota_t *q, const uint8_t key[ID],
                              const uint8_t scope[ID], size_t bytes, uint64_t now)
{
    rumor_gossip_quota_entry_t *e = NULL, *oldest = NULL;
    for (size_t i = 0; i < q->n && !e; i++) {
        if (memcmp(q->e[i].key, key, ID) == 0 && memcmp(q->e[i].scope, scope, ID) == 0)
            e = &q->e[i];
        else if (!oldest || q->e[i].events.ms < oldest->events.ms)
            oldest = &q->e[i];
    }
    if (!e) {
        e = q->n < q->cap ? &q->e[q->n++] : oldest;
        memcpy(e->key, key, ID);
        memcpy(e->scope, scope, ID);
        e->events = (rumor_gossip_bucket_t){q->events.burst, now};
        e->bytes = (rumor_gossip_bucket_t){q->bytes.burst, now};
    }
    refill(&e->events, q->events.per_s, q->events.burst, now);
    refill(&e->bytes, q->bytes.per_s, q->bytes.burst, now);
    bool events_ok = q->events.per_s <= 0 || e->events.tokens >= 1.0;
    bool bytes_ok = q->bytes.per_s <= 0 || e->bytes.tokens >= (double)bytes;
    if (!events_ok || !bytes_ok) return false;
    if (q->events.per_s > 0) e->events.tokens -= 1.0;
    if (q->bytes.per_s > 0) e->bytes.tokens -= (double)bytes;
    return true;
}
