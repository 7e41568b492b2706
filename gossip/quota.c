/*
 * quota.c - rates per key (PROTOCOL.md 9.7): a bounded table of token buckets, one per author
 * or peer, for the live traffic a node relays. A key it has not seen for a while gives its
 * place to a new one (the one heard from least recently); a new key starts with a full bucket.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

bool rumor_gossip_bucket_spend(rumor_gossip_bucket_t *b, double cost, double per_s, double burst,
                               uint64_t now)
{
    if (now > b->ms) b->tokens += (double)(now - b->ms) * per_s / 1000.0;
    if (b->tokens > burst) b->tokens = burst;
    b->ms = now;
    if (b->tokens < cost) return false;
    b->tokens -= cost;
    return true;
}

int rumor_gossip_quota_init(rumor_gossip_quota_t *q, size_t cap, double per_s, double burst)
{
    memset(q, 0, sizeof *q);
    if (!cap) return RUMOR_ERR_INVALID;
    if (!(q->e = calloc(cap, sizeof *q->e))) return RUMOR_ERR_NOMEM;
    q->cap = cap;
    q->per_s = per_s;
    q->burst = burst;
    return RUMOR_OK;
}

void rumor_gossip_quota_free(rumor_gossip_quota_t *q)
{
    free(q->e);
    memset(q, 0, sizeof *q);
}

bool rumor_gossip_quota_spend(rumor_gossip_quota_t *q, const uint8_t key[ID], double cost,
                              uint64_t now)
{
    rumor_gossip_quota_entry_t *e = NULL, *oldest = NULL;
    for (size_t i = 0; i < q->n && !e; i++) {
        if (memcmp(q->e[i].key, key, ID) == 0)
            e = &q->e[i];
        else if (!oldest || q->e[i].bucket.ms < oldest->bucket.ms)
            oldest = &q->e[i];
    }
    if (!e) {
        e = q->n < q->cap ? &q->e[q->n++] : oldest;
        memcpy(e->key, key, ID);
        e->bucket = (rumor_gossip_bucket_t){q->burst, now};
    }
    return rumor_gossip_bucket_spend(&e->bucket, cost, q->per_s, q->burst, now);
}
