/*
 * peers.c - the peers of the running node (PROTOCOL.md 9.4-9.6): the peer table with its bans
 * and misbehaviour counts; candidates and dialing; peer exchange; and each peer's view, what it
 * is told of our topics and memberships and which of its own count.
 */
#include "daemon_core.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* Malformed frames and invalid events a peer may send before it is banned. */
#define MALFORMED_MAX 32
#define INVALID_MAX   256
#define BANS_MAX      256
/* Events a peer may have sent to it in answers (IWANT, SYNC) per heartbeat. */
#define ANSWER_BUDGET 1024
/* Peers dialed per heartbeat at most. */
#define DIALS_PER_BEAT 4
/* A peer whose EVENT frames are dropped this often over its byte rate is graylisted (the count
 * halves every heartbeat, so this is a sustained excess, not a burst). */
#define THROTTLED_MAX 256
/* Hearsay candidates dialed at once before hearsay_dials_per_min rations them. */
#define HEARSAY_DIAL_BURST 10.0

int rumor_peers_open(daemon_t *d)
{
    d->cands = calloc(d->cfg->passive_max + 1, sizeof *d->cands);
    d->hearsay_dials = (rumor_gossip_bucket_t){HEARSAY_DIAL_BURST, 0};
    d->banned = calloc(BANS_MAX, sizeof *d->banned);
    return d->cands && d->banned ? RUMOR_OK : RUMOR_ERR_NOMEM;
}

void rumor_peers_close(daemon_t *d)
{
    free(d->cands);
    free(d->banned);
}

/* ---- the peer table --------------------------------------------------------------- */

bool rumor_daemon_peer_ready(const peer_t *p)
{
    return !p->closing && (p->out_ready || p->in_ready);
}

size_t rumor_daemon_peer_count(const daemon_t *d)
{
    size_t n = 0;
    for (const peer_t *p = d->peers; p; p = p->next) n += rumor_daemon_peer_ready(p);
    return n;
}

peer_t *rumor_peers_find(daemon_t *d, const uint8_t pk[ID])
{
    for (peer_t *p = d->peers; p; p = p->next)
        if (!p->closing && memcmp(p->pk, pk, ID) == 0) return p;
    return NULL;
}

peer_t *rumor_peers_by_rid(daemon_t *d, const uint8_t *rid, size_t len)
{
    for (peer_t *p = d->peers; p; p = p->next)
        if (!p->closing && p->rid_len == len && memcmp(p->rid, rid, len) == 0) return p;
    return NULL;
}

size_t rumor_peers_live(const daemon_t *d)
{
    size_t n = 0;
    for (const peer_t *p = d->peers; p; p = p->next) n += !p->closing;
    return n;
}

peer_t *rumor_peers_new(daemon_t *d, const uint8_t pk[ID], uint8_t found)
{
    peer_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    memcpy(p->pk, pk, ID);
    if (rumor_curve_public(p->curve, pk) < 0) {
        free(p);
        return NULL;
    }
    rumor_hex_encode(p->hex8, pk, 8);
    p->found = found;
    p->eh = RUMOR_ENGINE_NONE;
    p->tokens = 2.0 * d->cfg->peer_rate;
    p->bytes = (rumor_gossip_bucket_t){2.0 * d->cfg->peer_bytes_per_s, rumor_daemon_loop_ms(d)};
    p->budget = ANSWER_BUDGET;
    p->tokens_ms = rumor_daemon_loop_ms(d);
    p->last_heard_ms = rumor_daemon_loop_ms(d);
    p->next = d->peers;
    d->peers = p;
    d->n_peers++;
    return p;
}

static void ban(daemon_t *d, const uint8_t pk[ID])
{
    uint8_t curve[32];
    if (rumor_curve_public(curve, pk) < 0) return;
    size_t slot = d->n_banned < BANS_MAX ? d->n_banned++ : (size_t)randombytes_uniform(BANS_MAX);
    memcpy(d->banned[slot], curve, 32);
    rumor_put_u64(d->banned[slot] + 32, rumor_daemon_loop_ms(d) + d->cfg->ban_ms);
}

bool rumor_peers_banned(daemon_t *d, const uint8_t curve[32])
{
    for (size_t i = 0; i < d->n_banned; i++)
        if (memcmp(d->banned[i], curve, 32) == 0 &&
            rumor_get_u64(d->banned[i] + 32) > rumor_daemon_loop_ms(d))
            return true;
    return false;
}

/* Takes a peer out of service now; its memory goes in rumor_peers_reap() when no frame handler
 * holds it. */
void rumor_peers_drop(daemon_t *d, peer_t *p, const char *why, bool banned)
{
    if (p->closing) return;
    bool was_ready = rumor_daemon_peer_ready(p);
    p->closing = true;
    if (p->rid_len) rumor_inbound_close_peer(d, p);
    if (p->eh != RUMOR_ENGINE_NONE) rumor_engine_peer_down(d->engine, p->eh);
    p->eh = RUMOR_ENGINE_NONE;
    if (was_ready || banned) {
        d->stats.peers_dropped++;
        rumor_daemon_log(d, banned ? LOG_WARN : LOG_INFO, "peer %s dropped: %s%s", p->hex8, why,
                         banned ? " (banned)" : "");
    }
    if (banned) {
        d->stats.peers_banned++;
        ban(d, p->pk);
        rumor_gossip_cands_taint(d->cands, &d->n_cands, p->pk, true); /* its hearsay goes too */
    }
}

void rumor_peers_reap(daemon_t *d)
{
    for (peer_t **q = &d->peers; *q;) {
        peer_t *p = *q;
        if (!p->closing) {
            q = &p->next;
            continue;
        }
        *q = p->next;
        d->n_peers--;
        rumor_links_sock_close(&p->out);
        free(p->subs);
        free(p->claimed);
        free(p->named);
        rumor_catchup_peer_free(p);
        free(p);
    }
}

bool rumor_peers_graylisted(daemon_t *d, peer_t *p)
{
    if (p->closing || p->eh == RUMOR_ENGINE_NONE || !rumor_engine_graylisted(d->engine, p->eh))
        return false;
    d->stats.score_banned++;
    rumor_peers_drop(d, p, "its score fell below score_graylist", true);
    return true;
}

/* Counts a frame that broke the protocol; too many and the peer is banned. */
void rumor_peers_misbehaved(daemon_t *d, peer_t *p, const char *what)
{
    d->stats.malformed++;
    if (!p) return;
    if (p->eh != RUMOR_ENGINE_NONE) rumor_engine_misbehaved(d->engine, p->eh);
    if (rumor_peers_graylisted(d, p)) return;
    if (rumor_daemon_loop_ms(d) - p->warn_ms >= 1000) {
        p->warn_ms = rumor_daemon_loop_ms(d);
        rumor_daemon_log(d, LOG_WARN, "peer %s sent %s", p->hex8, what);
    }
    /* What it told us of other peers is the first to give way. */
    if (!p->malformed) rumor_gossip_cands_taint(d->cands, &d->n_cands, p->pk, false);
    if (++p->malformed > MALFORMED_MAX) rumor_peers_drop(d, p, "too many malformed frames", true);
}

void rumor_peers_invalid(daemon_t *d, const uint8_t from[ID], bool intrinsic)
{
    peer_t *p = rumor_peers_find(d, from);
    if (p && intrinsic && p->eh != RUMOR_ENGINE_NONE) rumor_engine_invalid(d->engine, p->eh);
    if (p && rumor_peers_graylisted(d, p)) return;
    if (p && ++p->invalid > INVALID_MAX) rumor_peers_drop(d, p, "too many invalid events", true);
}

/* A frame of `p`'s went over one of its rates: counted against it; a sustained excess graylists
 * it (PROTOCOL.md 9.7). */
void rumor_peers_over_rate(daemon_t *d, peer_t *p)
{
    if (p && ++p->throttled > THROTTLED_MAX) {
        d->stats.graylisted++;
        rumor_peers_drop(d, p, "stayed over its byte rate", true);
    }
}

/*
 * A full node still takes newcomers (an invitee must reach its inviter): it
 * drops a random peer that dialed us and is in no mesh, so the partial view
 * keeps turning over. False when every peer is in use.
 */
bool rumor_peers_make_room(daemon_t *d)
{
    peer_t *victim = NULL;
    /* A peer in no mesh first; failing that any peer that dialed us (its meshes heal). */
    for (int pass = 0; pass < 2 && !victim; pass++) {
        uint32_t seen = 0;
        for (peer_t *p = d->peers; p; p = p->next) {
            if (p->closing || p->out) continue;
            if (pass == 0 && p->eh != RUMOR_ENGINE_NONE && rumor_engine_meshed(d->engine, p->eh))
                continue;
            if (randombytes_uniform(++seen) == 0) victim = p;
        }
    }
    if (!victim) return false;
    rumor_peers_drop(d, victim, "making room for a newcomer", false);
    return true;
}

/* ---- a peer in service ------------------------------------------------------------ */

/* Our SUB to `p`: the topics we name to it (peer_view), never more. */
static void send_sub(daemon_t *d, peer_t *p)
{
    size_t n = p->n_named < RUMOR_WIRE_TOPICS_MAX ? p->n_named : RUMOR_WIRE_TOPICS_MAX;
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_SUB, .ids = p->named, .n = n};
    if (rumor_daemon_send_frame(d, p, &f)) d->stats.sub_out++;
}

void rumor_peers_send_px(daemon_t *d, peer_t *to)
{
    if (!d->cfg->peer_exchange || !to->px) return;
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_PEERS};
    /* Reservoir-sample up to 16 connected peers that listen and take part. */
    size_t seen = 0;
    for (peer_t *p = d->peers; p; p = p->next) {
        if (p == to || !rumor_daemon_peer_ready(p) || !p->px || !p->port) continue;
        rumor_wire_peer_t e = {.port = p->port};
        memcpy(e.pk, p->pk, ID);
        if (inet_pton(AF_INET, p->host, e.addr) == 1)
            e.family = 4;
        else if (inet_pton(AF_INET6, p->host, e.addr) == 1)
            e.family = 6;
        else
            continue;
        seen++;
        if (f.n < RUMOR_WIRE_PEERS_MAX) {
            f.peers[f.n++] = e;
        } else {
            uint32_t j = randombytes_uniform((uint32_t)seen);
            if (j < RUMOR_WIRE_PEERS_MAX) f.peers[j] = e;
        }
    }
    if (f.n && rumor_daemon_send_frame(d, to, &f)) d->stats.peers_out++;
}

/* Sends `pk`'s PROFILE event (its nick) to a peer, if we hold one. */
void rumor_peers_send_profile(daemon_t *d, rumor_txn_t *t, peer_t *p, const uint8_t pk[ID],
                              uint8_t *frame)
{
    rumor_store_profile_t prof;
    const uint8_t *buf;
    size_t len;
    if (rumor_store_profile_get(t, pk, &prof) < 0 ||
        rumor_store_event_get(t, prof.set_by.event, &buf, &len) < 0 || len > RUMOR_EVENT_MAX)
        return;
    frame[0] = RUMOR_WIRE_VERSION;
    frame[1] = RUMOR_WIRE_EVENT;
    memcpy(frame + 2, buf, len);
    rumor_daemon_send(d, p, frame, len + 2);
}

/* A new peer learns our nick at once (profiles otherwise travel only when they change). */
void rumor_peers_send_own_profile(daemon_t *d, peer_t *p)
{
    rumor_txn_t *t;
    uint8_t *frame = malloc(RUMOR_WIRE_FRAME_MAX);
    if (frame && rumor_store_read_begin(d->node->store, &t) == RUMOR_OK) {
        rumor_peers_send_profile(d, t, p, rumor_node_id(d->node), frame);
        rumor_store_read_end(&t);
    }
    free(frame);
}

/* The peer's address counts toward colocation (PROTOCOL.md 9.8 P6), unless it is loopback: nodes
 * on one machine are the user's own, and tests and benches run many there. */
static void score_addr(daemon_t *d, const peer_t *p)
{
    uint8_t a[16];
    if (p->eh == RUMOR_ENGINE_NONE) return;
    if (inet_pton(AF_INET, p->host, a) == 1) {
        if (a[0] != 127) rumor_engine_peer_addr(d->engine, p->eh, a, 4);
    } else if (inet_pton(AF_INET6, p->host, a) == 1) {
        static const uint8_t loop6[16] = {[15] = 1};
        if (memcmp(a, loop6, 16) != 0) rumor_engine_peer_addr(d->engine, p->eh, a, 16);
    }
}

/* A link finished its HELLO: the peer is in service. */
void rumor_peers_up(daemon_t *d, peer_t *p, bool was_ready)
{
    if (!was_ready) {
        p->since_ms = rumor_now_ms();
        d->stats.peers_connected++;
        rumor_daemon_log(d, LOG_INFO, "peer %s connected (%s, %s:%u)", p->hex8,
                         rumor_daemon_found_name(p->found), p->host, p->port);
        for (size_t i = 0; i < d->n_cands; i++)
            if (memcmp(d->cands[i].pk, p->pk, ID) == 0) d->cands[i].backoff_ms = 0;
        rumor_book_linked(d, p);
    }
    if (p->eh == RUMOR_ENGINE_NONE) {
        p->eh = rumor_engine_peer_up(d->engine, p->pk, p);
        score_addr(d, p);
    }
    rumor_peers_view(d, p, true);
    rumor_peers_send_px(d, p);
    if (!was_ready) rumor_peers_send_own_profile(d, p);
    rumor_catchup_peer_ready(d, p);
    rumor_join_peer_ready(d, p);
    if (!was_ready) rumor_lan_peer_ready(d, p);
}

/*
 * The peers' heartbeat: dials that got no answer and silent peers are dropped, rates and answer
 * budgets renew, a stalled link gives way to the peer's own, quiet peers are pinged; then the
 * dropped peers are freed.
 */
void rumor_peers_heartbeat(daemon_t *d, uint64_t now)
{
    for (peer_t *p = d->peers; p; p = p->next) {
        if (p->closing) continue;
        if (!rumor_daemon_peer_ready(p)) {
            if (!p->out) {
                /* Its only link (inbound) went away. */
                rumor_peers_drop(d, p, "link closed", false);
            } else if (now - p->dial_ms > d->cfg->dial_timeout_ms) {
                d->stats.dial_failures++;
                rumor_daemon_log(d, LOG_DEBUG, "dial to %s:%u (%s) failed", p->host, p->port,
                                 p->hex8);
                for (size_t i = 0; i < d->n_cands; i++) {
                    cand_t *c = &d->cands[i];
                    /* Hearsay that never answers makes room for other candidates. */
                    if (memcmp(c->pk, p->pk, ID) == 0 && c->found == RUMOR_FOUND_EXCHANGE &&
                        ++c->failures >= 3) {
                        d->cands[i] = d->cands[--d->n_cands];
                        break;
                    }
                }
                rumor_book_failed(d, p);
                rumor_peers_drop(d, p, "no answer", false);
            }
            continue;
        }
        p->throttled /= 2;
        if (now - p->last_heard_ms > d->cfg->peer_timeout_ms) {
            rumor_peers_drop(d, p, "silent", false);
            continue;
        }
        p->budget = ANSWER_BUDGET;
        if (p->out_stalled && now - p->out_heard_ms > 2 * (uint64_t)d->cfg->heartbeat_ms) {
            /* Refusing sends and silent: its connection died (the peer restarted). */
            rumor_daemon_log(d, LOG_INFO, "peer %s: our link to it stalled; using its link to us",
                             p->hex8);
            rumor_links_sock_close(&p->out);
            p->out_ready = p->out_stalled = false;
        } else {
            p->out_stalled = false; /* only full, and alive: try it again */
        }
        /* Any frame shows a peer is alive: ping only one quiet for two heartbeats (and every
         * fifth heartbeat anyway, to keep its round-trip time fresh). Idle meshes of hundreds of
         * nodes then cost a quarter of the frames. */
        if (now - p->last_heard_ms < 2 * (uint64_t)d->cfg->heartbeat_ms && d->heartbeats % 5)
            continue;
        rumor_wire_frame_t f = {.type = RUMOR_WIRE_PING};
        randombytes_buf(&f.nonce, sizeof f.nonce);
        p->ping_nonce = f.nonce;
        p->ping_sent_us = uv_hrtime() / 1000;
        rumor_daemon_send_frame(d, p, &f);
    }
    rumor_peers_reap(d);
}

/* ---- candidates and dialing ------------------------------------------------------- */

void rumor_daemon_candidate(daemon_t *d, const uint8_t pk[ID], const char *host, uint16_t port,
                            uint8_t found, const uint8_t *source)
{
    if (memcmp(pk, rumor_node_id(d->node), ID) == 0 || !port) return;
    uint8_t curve[32];
    if (rumor_curve_public(curve, pk) < 0) return;
    cand_t offer = {.port = port, .found = found};
    memcpy(offer.pk, pk, ID);
    snprintf(offer.host, sizeof offer.host, "%s", host);
    if (source) memcpy(offer.source, source, ID);
    rumor_gossip_cand_limits_t lim = {d->cfg->passive_max, d->cfg->cands_per_source};
    rumor_gossip_cand_offer_t r = rumor_gossip_cand_offer(
        d->cands, &d->n_cands, &lim, &offer, rumor_daemon_loop_ms(d), randombytes_random());
    if (r >= RUMOR_GOSSIP_CAND_REFUSED_SOURCE) {
        d->stats.cands_refused++;
        return;
    }
    if (r != RUMOR_GOSSIP_CAND_KNOWN)
        rumor_daemon_log(d, LOG_DEBUG, "candidate %02x%02x%02x%02x at %s:%u (%s)", pk[0], pk[1],
                         pk[2], pk[3], host, port, rumor_daemon_found_name(found));
}

size_t rumor_daemon_dial_found(daemon_t *d, uint8_t found)
{
    size_t dialed = 0;
    for (size_t i = 0; i < d->n_cands; i++) {
        cand_t *c = &d->cands[i];
        if (c->found != found || rumor_peers_find(d, c->pk)) continue;
        dialed += rumor_peers_dial(d, c) != NULL;
    }
    return dialed;
}

bool rumor_daemon_dial_now(daemon_t *d, const uint8_t pk[ID], const char *host, uint16_t port)
{
    rumor_daemon_candidate(d, pk, host, port, RUMOR_FOUND_BOOTSTRAP, NULL);
    for (size_t i = 0; i < d->n_cands; i++) {
        cand_t *c = &d->cands[i];
        if (memcmp(c->pk, pk, ID) != 0) continue;
        /* The user's word: a new address, and no back-off. */
        snprintf(c->host, sizeof c->host, "%s", host);
        c->port = port;
        c->found = RUMOR_FOUND_BOOTSTRAP;
        c->next_ms = 0;
        c->backoff_ms = 0;
        peer_t *p = rumor_peers_find(d, pk);
        return (p && rumor_daemon_peer_ready(p)) ||
               (rumor_gossip_cand_take_turn(c, rumor_daemon_loop_ms(d)) &&
                rumor_peers_dial(d, c) != NULL);
    }
    return false;
}

peer_t *rumor_peers_dial(daemon_t *d, cand_t *c)
{
    uint8_t curve[32];
    if (rumor_curve_public(curve, c->pk) < 0 || rumor_peers_banned(d, curve)) return NULL;
    peer_t *p = rumor_peers_find(d, c->pk);
    if (p && p->out) return p;
    zsock_t *zs = rumor_links_connect(d, c->host, c->port, curve);
    if (!zs) return NULL;
    if (!p && !(p = rumor_peers_new(d, c->pk, c->found))) {
        rumor_links_sock_close(&zs);
        return NULL;
    }
    snprintf(p->host, sizeof p->host, "%s", c->host);
    p->port = c->port;
    zs->peer = p;
    p->out = zs;
    p->dial_ms = rumor_daemon_loop_ms(d);
    d->stats.dials++;
    rumor_links_hello(d, zs);
    return p;
}

typedef struct {
    daemon_t *d;
    uint64_t now;
} direct_dial_t;

/* A conversation's other member not connected: dial it at the address we learned of it. */
static int dial_direct_step(void *ctx, const uint8_t room[ID], const uint8_t peer[ID])
{
    (void)room;
    direct_dial_t *w = ctx;
    daemon_t *d = w->d;
    if (rumor_peers_find(d, peer)) return 0;
    for (size_t i = 0; i < d->n_cands; i++) {
        cand_t *c = &d->cands[i];
        if (memcmp(c->pk, peer, ID) != 0 || !rumor_gossip_cand_take_turn(c, w->now)) continue;
        if (rumor_peers_dial(d, c)) d->stats.direct_dials++;
        break;
    }
    return 0;
}

/*
 * Direct messages are delivered live when the two nodes can reach each other: the sender's
 * node dials the other member at any address it learned (peers, beacons, exchange), beyond
 * the peer target, since only that node can take the conversation (PROTOCOL.md 7.9).
 */
void rumor_peers_dial_direct(daemon_t *d)
{
    direct_dial_t w = {d, rumor_daemon_loop_ms(d)};
    rumor_node_dm_each(d->node, dial_direct_step, &w);
}

void rumor_peers_dial_some(daemon_t *d)
{
    size_t have = rumor_peers_live(d);
    if (have >= d->cfg->peers_target || !d->n_cands) return;
    size_t want = d->cfg->peers_target - have, dialed = 0;
    if (want > DIALS_PER_BEAT) want = DIALS_PER_BEAT;
    uint64_t now = rumor_daemon_loop_ms(d);
    /* Bootstrap and invite peers first, then the rest from a random start. */
    for (int pass = 0; pass < 2 && dialed < want; pass++) {
        size_t start = randombytes_uniform((uint32_t)d->n_cands);
        for (size_t k = 0; k < d->n_cands && dialed < want; k++) {
            cand_t *c = &d->cands[(start + k) % d->n_cands];
            bool preferred = c->found == RUMOR_FOUND_BOOTSTRAP || c->found == RUMOR_FOUND_INVITE ||
                             c->found == RUMOR_FOUND_REMEMBERED;
            if ((pass == 0) != preferred || rumor_peers_find(d, c->pk) || c->next_ms > now)
                continue;
            /* Hearsay names any address: dialing it is rationed, so lies cannot aim us. */
            if (c->found == RUMOR_FOUND_EXCHANGE &&
                !rumor_gossip_bucket_take(&d->hearsay_dials, d->cfg->hearsay_dials_per_min / 60.0,
                                          HEARSAY_DIAL_BURST, now)) {
                d->stats.dials_limited++;
                continue;
            }
            if (!rumor_gossip_cand_take_turn(c, now)) continue;
            if (rumor_peers_dial(d, c)) dialed++;
        }
    }
}

/* ---- peer exchange and views ------------------------------------------------------ */

void rumor_peers_on_peers(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    d->stats.peers_in++;
    if (!d->cfg->peer_exchange) return;
    for (size_t i = 0; i < f->n; i++) {
        char host[INET6_ADDRSTRLEN];
        const rumor_wire_peer_t *e = &f->peers[i];
        if (!inet_ntop(e->family == 4 ? AF_INET : AF_INET6, e->addr, host, sizeof host)) continue;
        rumor_daemon_candidate(d, e->pk, host, e->port, RUMOR_FOUND_EXCHANGE, p->pk);
    }
}

/*
 * What a peer should hear of memberships (gossip/told.c decides): a domain our store holds it
 * as a member of that its SUB lacks (INVITED: `room invite --member` or a new conversation
 * waits for it), or, for a domain it subscribes to but was removed from, its removal (members
 * do not reconcile with it). Only members hear of a domain, so strangers learn nothing.
 */
void rumor_peers_tell(daemon_t *d, peer_t *p)
{
    rumor_txn_t *t;
    uint8_t *frame = malloc(RUMOR_WIRE_FRAME_MAX);
    if (!frame || !p->subs_known || rumor_store_read_begin(d->node->store, &t) < 0) {
        free(frame);
        return;
    }
    for (size_t i = 0; i < d->n_topics; i++) {
        const uint8_t *id = d->topics[i].id, *buf;
        uint8_t removal[ID];
        size_t len;
        bool claims =
            p->n_claimed && bsearch(id, p->claimed, p->n_claimed, ID, rumor_daemon_id_cmp);
        if (!claims) {
            rumor_wire_frame_t f = {.type = RUMOR_WIRE_INVITED, .topic = id};
            if (rumor_gossip_tell_invited(t, id, p->pk) && rumor_daemon_send_frame(d, p, &f))
                d->stats.invited_out++;
        } else if (rumor_gossip_removal_to_tell(t, id, p->pk, removal) == RUMOR_OK &&
                   rumor_store_event_get(t, removal, &buf, &len) == RUMOR_OK &&
                   len <= RUMOR_EVENT_MAX) {
            frame[0] = RUMOR_WIRE_VERSION;
            frame[1] = RUMOR_WIRE_EVENT;
            memcpy(frame + 2, buf, len);
            if (rumor_daemon_send(d, p, frame, len + 2)) d->stats.removals_told++;
        }
    }
    rumor_store_read_end(&t);
    free(frame);
}

/* A peer says a membership waits for us: fetch it while the told table keeps it. */
void rumor_peers_on_invited(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    d->stats.invited_in++;
    if (rumor_daemon_topic(d, f->topic)) return;
    int rc = rumor_gossip_told_offer(&d->told, f->topic, p->pk, rumor_daemon_loop_ms(d));
    if (rc == RUMOR_ERR_TOO_BIG) d->stats.invited_dropped++;
    if (rc != RUMOR_OK) return;
    char hex[9];
    rumor_hex_encode(hex, f->topic, 4);
    rumor_daemon_log(d, LOG_INFO, "peer %s: a membership of %s waits for us; fetching it", p->hex8,
                     hex);
    rumor_daemon_resubscribe(d);
}

/* Gives up told memberships that expired, and forgets those that arrived. */
void rumor_peers_invited_expire(daemon_t *d)
{
    rumor_txn_t *t;
    size_t given_up = 0;
    if (!d->told.n || rumor_store_read_begin(d->node->store, &t) < 0) return;
    rumor_gossip_told_expire(&d->told, t, rumor_node_id(d->node), rumor_daemon_loop_ms(d),
                             &given_up);
    rumor_store_read_end(&t);
    if (given_up) rumor_daemon_resubscribe(d);
}

/*
 * What we name to `p` and which of its claims count (gossip/told.c decides, PROTOCOL.md 9.3):
 * its subscriptions are the topics it claims that we would name to it, so a stranger is told
 * of no topic and is sent, pushed or grafted nothing whatever it claims. A change of what we
 * name is sent (as is everything when `send_anyway`).
 */
void rumor_peers_view(daemon_t *d, peer_t *p, bool send_anyway)
{
    uint8_t(*held)[ID] = malloc((d->n_topics + 1) * ID);
    uint8_t(*named)[ID] = malloc((d->n_topics + 1) * ID);
    uint8_t *subs = malloc((d->n_topics + 1) * ID);
    rumor_txn_t *t = NULL;
    size_t n = 0, k = 0;
    if (!held || !named || !subs || rumor_store_read_begin(d->node->store, &t) < 0) goto out;
    for (size_t i = 0; i < d->n_topics; i++) memcpy(held[i], d->topics[i].id, ID);
    int rc = rumor_gossip_topics_for(t, p->pk, (const uint8_t(*)[ID])held, d->n_topics, &d->told,
                                     named, &n);
    rumor_store_read_end(&t);
    if (rc < 0) goto out;
    bool changed = n != p->n_named || (n && memcmp(named, p->named, n * ID) != 0);
    if (changed) {
        free(p->named);
        p->named = (uint8_t *)named;
        p->n_named = n;
        named = NULL;
    }
    if (changed || send_anyway) send_sub(d, p);
    bool grew;
    k = rumor_gossip_topics_counted(p->claimed, p->n_claimed, p->named, p->n_named, p->subs,
                                    p->n_subs, subs, &grew);
    free(p->subs);
    p->subs = subs;
    p->n_subs = k;
    subs = NULL;
    /* A topic we hold that is short of peers takes the newcomer now, not at the next heartbeat. */
    if (p->eh != RUMOR_ENGINE_NONE) {
        /* Our word of it (P5): we name topics only to members of our domains and contacts. */
        rumor_engine_peer_trust(d->engine, p->eh, p->n_named > 0);
        rumor_engine_peer_topics(d->engine, p->eh, p->subs, p->n_subs);
        rumor_daemon_engine_run(d);
    }
    /* A membership learned just now opens its domain to the peer: reconcile without waiting. */
    if (grew && p->subs_known) rumor_catchup_on_sub(d, p);
out:
    free(held);
    free(named);
    free(subs);
}

void rumor_peers_on_sub(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    d->stats.sub_in++;
    uint8_t *claimed = f->n ? malloc(f->n * ID) : NULL;
    if (f->n && !claimed) return;
    if (f->n) memcpy(claimed, f->ids, f->n * ID);
    free(p->claimed);
    p->claimed = claimed;
    p->n_claimed = f->n;
    rumor_peers_view(d, p, false);
    p->subs_known = true;
    rumor_catchup_on_sub(d, p);
    rumor_peers_tell(d, p);
}

/* ---- the peer table seen from the edge modules (daemon.h) ----------------------------- */

size_t rumor_daemon_cand_count(const daemon_t *d)
{
    return d->n_cands;
}

const uint8_t *rumor_daemon_cand_pk(const daemon_t *d, size_t i)
{
    return d->cands[i].pk;
}

bool rumor_daemon_found_as(const daemon_t *d, const peer_t *p, uint8_t found)
{
    if (p->found == found) return true;
    for (size_t i = 0; i < d->n_cands; i++)
        if (d->cands[i].found == found && memcmp(d->cands[i].pk, p->pk, ID) == 0) return true;
    return false;
}

peer_t *rumor_daemon_peers(daemon_t *d)
{
    return d->peers;
}

peer_t *rumor_peer_next(const peer_t *p)
{
    return p->next;
}

bool rumor_peer_dropped(const peer_t *p)
{
    return p->closing;
}

const uint8_t *rumor_peer_pk(const peer_t *p)
{
    return p->pk;
}

const uint8_t *rumor_peer_curve(const peer_t *p)
{
    return p->curve;
}

const char *rumor_peer_hex8(const peer_t *p)
{
    return p->hex8;
}

const char *rumor_peer_host(const peer_t *p)
{
    return p->host;
}

uint16_t rumor_peer_port(const peer_t *p)
{
    return p->port;
}

uint8_t rumor_peer_found(const peer_t *p)
{
    return p->found;
}

void rumor_daemon_peer_info(daemon_t *d, const peer_t *p, rumor_peer_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->direction = p->out_ready && p->in_ready ? "both" : p->out_ready ? "out" : "in";
    out->rtt_us = p->rtt_us;
    out->since_ms = p->since_ms;
    out->n_topics = p->n_subs;
    out->scored = p->eh != RUMOR_ENGINE_NONE && rumor_engine_score(d->engine, p->eh, &out->score);
    if (out->scored) out->graylisted = rumor_engine_graylisted(d->engine, p->eh);
}

struct catchup **rumor_peer_catchup_slot(peer_t *p)
{
    return &p->cu;
}
