/*
 * cands.c - the passive view (PROTOCOL.md 9.4): which candidate peers a node keeps, which it
 * replaces when full, when one may be dialed again, and how fast hearsay may be dialed at all.
 * Decisions on the table the caller owns, as functions of what is offered and `now`; the node
 * dials.
 *
 * Hearsay (PEERS frames) and beacons are claims anyone can make, so each source may place a
 * bounded number of candidates, one endpoint holds one hearsay key, and a full table gives
 * the user's peers and the LAN's the places of hearsay, the worst first: from a source that
 * misbehaved, then the most failed.
 */
#include "gossip_internal.h"

#include <stdio.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

static bool user_given(uint8_t found)
{
    return found == RUMOR_FOUND_BOOTSTRAP || found == RUMOR_FOUND_INVITE;
}

/* How readily a candidate gives up its place: higher goes first. */
static uint32_t eviction_rank(const rumor_gossip_cand_t *c)
{
    if (c->found != RUMOR_FOUND_EXCHANGE) return 0;
    return 1 + (c->tainted ? 1000 : 0) + (c->failures < 999 ? c->failures : 999);
}

/* May `c` give its place to a newcomer of kind `found`? Hearsay gives way to the user's peers
 * and the LAN's; failed or tainted hearsay to other hearsay too; a LAN or remembered candidate
 * only to the user's own. Nothing displaces the user's peers. */
static bool gives_way(const rumor_gossip_cand_t *c, uint8_t found)
{
    uint32_t r = eviction_rank(c);
    if (found == RUMOR_FOUND_EXCHANGE) return r >= 2;
    if (found == RUMOR_FOUND_LAN) return r >= 1;
    return r >= 1 || c->found == RUMOR_FOUND_LAN || c->found == RUMOR_FOUND_REMEMBERED;
}

/* The candidate to replace for a newcomer of kind `found` (the highest rank, ties at random),
 * or n when none may go. */
static size_t victim(const rumor_gossip_cand_t *cands, size_t n, uint8_t found, uint32_t rnd)
{
    size_t best = n, ties = 0;
    uint32_t best_rank = 0;
    for (size_t i = 0; i < n; i++) {
        if (!gives_way(&cands[i], found)) continue;
        uint32_t r = eviction_rank(&cands[i]);
        if (best == n || r > best_rank) {
            best = i;
            best_rank = r;
            ties = 1;
            continue;
        }
        rnd = rnd * 1103515245u + 12345u;
        if (r == best_rank && (rnd >> 8) % ++ties == 0) best = i;
    }
    return best;
}

/* Candidates of kind `found` that `source` placed. */
static size_t placed_by(const rumor_gossip_cand_t *cands, size_t n, uint8_t found,
                        const uint8_t source[ID])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += cands[i].found == found && memcmp(cands[i].source, source, ID) == 0;
    return k;
}

/* Hearsay holds the endpoint host:port. */
static bool endpoint_taken(const rumor_gossip_cand_t *cands, size_t n, const char *host,
                           uint16_t port)
{
    for (size_t i = 0; i < n; i++)
        if (cands[i].found == RUMOR_FOUND_EXCHANGE && cands[i].port == port &&
            strcmp(cands[i].host, host) == 0)
            return true;
    return false;
}

rumor_gossip_cand_offer_t rumor_gossip_cand_offer(rumor_gossip_cand_t *cands, size_t *n,
                                                  const rumor_gossip_cand_limits_t *lim,
                                                  const rumor_gossip_cand_t *offer, uint64_t now,
                                                  uint32_t rnd)
{
    for (size_t i = 0; i < *n; i++) {
        rumor_gossip_cand_t *c = &cands[i];
        if (memcmp(c->pk, offer->pk, ID) != 0) continue;
        /* The user's word beats a beacon's, a beacon's beats hearsay, within the limits. */
        bool takes_over = user_given(offer->found);
        if (c->found == RUMOR_FOUND_EXCHANGE && offer->found == RUMOR_FOUND_LAN)
            takes_over = placed_by(cands, *n, RUMOR_FOUND_LAN, offer->source) < lim->per_source_max;
        if (c->found == RUMOR_FOUND_EXCHANGE && offer->found == RUMOR_FOUND_EXCHANGE)
            takes_over = !endpoint_taken(cands, *n, offer->host, offer->port);
        if (takes_over) {
            snprintf(c->host, sizeof c->host, "%s", offer->host);
            c->port = offer->port;
            if (offer->found != RUMOR_FOUND_EXCHANGE) {
                c->found = offer->found;
                memcpy(c->source, offer->source, ID);
                c->tainted = false;
            }
        }
        /* Beacons coming back after a silence show the candidate is in reach again (devices
         * meeting after a partition): its back-off from failed dials ends within two seconds.
         * A node that answers beacons but refuses us keeps its back-off. */
        if (offer->found == RUMOR_FOUND_LAN) {
            if (now - c->beacon_ms > 3000 && c->next_ms > now + 2000) {
                c->next_ms = now + 2000;
                c->backoff_ms = 1000;
            }
            c->beacon_ms = now;
        }
        return RUMOR_GOSSIP_CAND_KNOWN;
    }
    /* One endpoint answers with one key: hearsay naming a taken endpoint is a lie or stale, and
     * many keys at one address would make us dial it many times. */
    if (offer->found == RUMOR_FOUND_EXCHANGE && endpoint_taken(cands, *n, offer->host, offer->port))
        return RUMOR_GOSSIP_CAND_REFUSED_ENDPOINT;
    if ((offer->found == RUMOR_FOUND_EXCHANGE || offer->found == RUMOR_FOUND_LAN) &&
        placed_by(cands, *n, offer->found, offer->source) >= lim->per_source_max)
        return RUMOR_GOSSIP_CAND_REFUSED_SOURCE;
    size_t slot = *n;
    bool replaced = *n >= lim->max;
    if (replaced) {
        slot = victim(cands, *n, offer->found, rnd);
        if (slot == *n) return RUMOR_GOSSIP_CAND_REFUSED_FULL;
    } else {
        (*n)++;
    }
    rumor_gossip_cand_t *c = &cands[slot];
    *c = *offer;
    c->next_ms = 0;
    c->backoff_ms = 0;
    c->failures = 0;
    c->tainted = false;
    c->beacon_ms = offer->found == RUMOR_FOUND_LAN ? now : 0;
    return replaced ? RUMOR_GOSSIP_CAND_REPLACED : RUMOR_GOSSIP_CAND_TAKEN;
}

size_t rumor_gossip_cands_taint(rumor_gossip_cand_t *cands, size_t *n, const uint8_t source[ID],
                                bool forget)
{
    size_t hit = 0;
    for (size_t i = 0; i < *n;) {
        rumor_gossip_cand_t *c = &cands[i];
        if (c->found != RUMOR_FOUND_EXCHANGE || memcmp(c->source, source, ID) != 0) {
            i++;
            continue;
        }
        hit++;
        if (forget) {
            *c = cands[--*n];
            continue;
        }
        c->tainted = true;
        i++;
    }
    return hit;
}

bool rumor_gossip_cand_take_turn(rumor_gossip_cand_t *c, uint64_t now)
{
    if (c->next_ms > now) return false;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 1000;
    if (c->backoff_ms > 60000) c->backoff_ms = 60000;
    c->next_ms = now + c->backoff_ms;
    return true;
}

bool rumor_gossip_bucket_take(rumor_gossip_bucket_t *b, double per_s, double burst, uint64_t now)
{
    return rumor_gossip_bucket_spend(b, 1.0, per_s, burst, now);
}
