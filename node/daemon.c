/*
 * daemon.c - the running node: ZeroMQ links on a libuv loop, peers and the
 * partial view, and gossip dissemination (PROTOCOL.md 9 and 10.2).
 *
 * ZMQ_FD is edge-triggered: a readable FD means "look at ZMQ_EVENTS", and
 * any zmq call on the socket (a send included) may consume the edge. So a
 * socket is drained until ZMQ_EVENTS shows no POLLIN, and every send marks
 * its socket dirty so the idle handle drains it again.
 *
 * Events from peers are collected while sockets drain and validated in one
 * store transaction per burst (batch commits). A new valid event is pushed
 * to the mesh inside that transaction, before the commit: relays do not wait
 * for their disk. A node's own events are committed durably by the command
 * that made them before the node sees them (the outbox).
 */
#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define ID RUMOR_ID_BYTES

enum { ZSOCK_ROUTER = 1, ZSOCK_DEALER, ZSOCK_ZAP, ZSOCK_MONITOR };

/* How many frames one drain takes before yielding to the loop. */
#define DRAIN_BUDGET 512
/* Malformed frames and invalid events a peer may send before it is banned. */
#define MALFORMED_MAX 32
#define INVALID_MAX   256
#define BANS_MAX      256
/* Events a peer may have sent to it in answers (IWANT, SYNC) per heartbeat. */
#define ANSWER_BUDGET 1024
/* Peers dialed per heartbeat at most. */
#define DIALS_PER_BEAT 4
/* (Author, domain) and (peer, domain) pairs whose rates are kept (the least recently heard gives
 * way). */
#define RATES_TRACKED 1024
/* A peer whose EVENT frames are dropped this often over its byte rate is graylisted (the count
 * halves every heartbeat, so this is a sustained excess, not a burst). */
#define THROTTLED_MAX 256
/* Hearsay candidates dialed at once before hearsay_dials_per_min rations them. */
#define HEARSAY_DIAL_BURST 10.0
/* Ports tried from the default (7470) when it is taken. */
#define DEFAULT_PORT_TRIES 16
/* A join gives up after this long. */
#define JOIN_TIMEOUT_MS 60000
/* Rooms one join syncs at most (a key room and its shared sub-rooms). */
#define JOIN_ROOMS_MAX 256

const uint32_t rumor_latency_bounds_ms[RUMOR_LATENCY_BUCKETS - 1] = {1,   2,   5,   10,   20,  50,
                                                                     100, 200, 500, 1000, 5000};

const char *rumor_daemon_found_name(uint8_t found)
{
    switch (found) {
    case RUMOR_FOUND_BOOTSTRAP: return "bootstrap";
    case RUMOR_FOUND_LAN: return "lan";
    case RUMOR_FOUND_EXCHANGE: return "exchange";
    case RUMOR_FOUND_INBOUND: return "inbound";
    case RUMOR_FOUND_INVITE: return "invite";
    case RUMOR_FOUND_REMEMBERED: return "remembered";
    default: return "unknown";
    }
}

/* `ms` (wall clock) as ISO 8601 in UTC with milliseconds: 2026-12-07T09:45:12.345Z. */
static void iso_time(uint64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(out, 32, "%llu", (unsigned long long)ms);
        return;
    }
    snprintf(out + strlen(out), 8, ".%03uZ", (unsigned)(ms % 1000));
}

/* `s` as the inside of a JSON string: quotes, backslashes and control bytes escaped. */
static void json_escape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

void rumor_daemon_log(daemon_t *d, int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > d->log_level) return;
    char line[512], when[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    iso_time(rumor_now_ms(), when);
    if (d->log_json) {
        char esc[6 * sizeof line + 1];
        json_escape(line, esc, sizeof esc);
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", when, names[level],
                esc);
    } else {
        fprintf(stderr, "rumor node: %s %s: %s\n", when, names[level], line);
    }
}

static uint64_t now_ms(daemon_t *d)
{
    return uv_now(d->loop);
}

/* ---- peer events waiting for their batch transaction ---------------------------- */

typedef struct {
    uint8_t from[ID];  /* the peer it came from */
    bool by_sync;      /* an answer to our SYNC or a BATCH: stored, not forwarded */
    bool by_batch;     /* from a BATCH (anti-entropy) */
    bool forwarded;    /* pushed already (a transaction rerun must not push again) */
    bool retried;      /* came back from the pending set */
    bool stored;       /* stored by the current attempt of the transaction */
    uint8_t topic[ID]; /* its topic, once stored */
    uint64_t valid_ms; /* wall clock when it was found valid (and pushed on) */
    bool counted;      /* stats taken already */
    bool rated;        /* its rates were spent (PROTOCOL.md 9.7) */
    bool over_rate;    /* dropped over a rate: not stored, not seen */
    size_t len;
    uint8_t *frame; /* the whole EVENT frame: version | type | event */
} bentry_t;

struct batch {
    bentry_t *e;
    size_t n, cap;
    bool topics_changed; /* a create or membership change came in */
};

static struct batch *batch_new(size_t cap)
{
    struct batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cap = cap ? cap : 1;
    b->e = calloc(b->cap, sizeof *b->e);
    if (!b->e) {
        free(b);
        return NULL;
    }
    return b;
}

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->e[i].frame);
    b->n = 0;
}

static void batch_free(struct batch **b)
{
    if (!*b) return;
    batch_clear(*b);
    free((*b)->e);
    free(*b);
    *b = NULL;
}

/* ---- joins in progress ----------------------------------------------------------- */

enum { JOIN_DIAL, JOIN_SENT, JOIN_SYNC };

struct join {
    rumor_invite_t inv;
    rumor_join_done_fn done; /* NULL once cancelled */
    void *ctx;
    int state;
    uint64_t deadline_ms;
    uint8_t (*rooms)[ID]; /* rooms to sync: the key room, then its shared sub-rooms */
    size_t n_rooms, cur;
    uint64_t want_lamport; /* the cursor of the SYNC in flight */
    uint8_t want_id[ID];
    bool stalled; /* the inviter's answer budget ran out: ask again at the next heartbeat */
    struct join *next;
};

/* ---- sockets ---------------------------------------------------------------------- */

static void drain(zsock_t *zs);
static void process_batch(daemon_t *d);
static void reap(daemon_t *d);
static void on_idle(uv_idle_t *h);
static void engine_run(daemon_t *d);

static void mark_dirty(zsock_t *zs)
{
    if (!zs || zs->dirty) return;
    zs->dirty = true;
    zs->next = zs->d->dirty;
    zs->d->dirty = zs;
    uv_idle_start(&zs->d->idle, on_idle); /* a no-op when it runs already */
}

static void on_idle(uv_idle_t *h)
{
    daemon_t *d = h->data;
    zsock_t *list = d->dirty;
    d->dirty = NULL;
    while (list) {
        zsock_t *zs = list;
        list = zs->next;
        zs->dirty = false;
        zs->next = NULL;
        drain(zs);
    }
    process_batch(d);
    reap(d);
    if (!d->dirty) uv_idle_stop(&d->idle);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    zsock_t *zs = h->data;
    daemon_t *d = zs->d;
    drain(zs);
    process_batch(d);
    reap(d);
}

static void zsock_free_cb(uv_handle_t *h)
{
    free(h->data);
}

static void zsock_close(zsock_t **p)
{
    zsock_t *zs = *p;
    if (!zs) return;
    *p = NULL;
    daemon_t *d = zs->d;
    if (zs->dirty) {
        for (zsock_t **q = &d->dirty; *q; q = &(*q)->next)
            if (*q == zs) {
                *q = zs->next;
                break;
            }
    }
    /* uv_close stops polling the FD at once, so the socket may go before the handle. */
    uv_close((uv_handle_t *)&zs->poll, zsock_free_cb);
    zmq_close(zs->z);
    zs->z = NULL;
}

static zsock_t *zsock_open(daemon_t *d, int type, int kind)
{
    zsock_t *zs = calloc(1, sizeof *zs);
    if (!zs) return NULL;
    zs->d = d;
    zs->kind = kind;
    zs->z = zmq_socket(d->zctx, type);
    int fd;
    size_t sz = sizeof fd;
    if (!zs->z || zmq_getsockopt(zs->z, ZMQ_FD, &fd, &sz) < 0 ||
        uv_poll_init(d->loop, &zs->poll, fd) < 0) {
        if (zs->z) zmq_close(zs->z);
        free(zs);
        return NULL;
    }
    zs->poll.data = zs;
    int zero = 0;
    zmq_setsockopt(zs->z, ZMQ_LINGER, &zero, sizeof zero);
    uv_poll_start(&zs->poll, UV_READABLE, on_poll);
    return zs;
}

/* Socket options shared by every link socket. */
static void link_options(daemon_t *d, void *z, bool ipv6)
{
    int64_t max = RUMOR_WIRE_FRAME_MAX;
    int hwm = (int)d->cfg->peer_queue, hs = (int)d->cfg->dial_timeout_ms, v6 = ipv6;
    zmq_setsockopt(z, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt(z, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(z, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(z, ZMQ_HANDSHAKE_IVL, &hs, sizeof hs);
    zmq_setsockopt(z, ZMQ_IPV6, &v6, sizeof v6);
}

/* ---- peers ------------------------------------------------------------------------ */

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

static peer_t *peer_find(daemon_t *d, const uint8_t pk[ID])
{
    for (peer_t *p = d->peers; p; p = p->next)
        if (!p->closing && memcmp(p->pk, pk, ID) == 0) return p;
    return NULL;
}

static peer_t *peer_by_rid(daemon_t *d, const uint8_t *rid, size_t len)
{
    for (peer_t *p = d->peers; p; p = p->next)
        if (!p->closing && p->rid_len == len && memcmp(p->rid, rid, len) == 0) return p;
    return NULL;
}

static size_t live_peers(const daemon_t *d)
{
    size_t n = 0;
    for (const peer_t *p = d->peers; p; p = p->next) n += !p->closing;
    return n;
}

static peer_t *peer_new(daemon_t *d, const uint8_t pk[ID], uint8_t found)
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
    p->bytes = (rumor_gossip_bucket_t){2.0 * d->cfg->peer_bytes_per_s, now_ms(d)};
    p->budget = ANSWER_BUDGET;
    p->tokens_ms = now_ms(d);
    p->last_heard_ms = now_ms(d);
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
    rumor_put_u64(d->banned[slot] + 32, now_ms(d) + d->cfg->ban_ms);
}

static bool is_banned(daemon_t *d, const uint8_t curve[32])
{
    for (size_t i = 0; i < d->n_banned; i++)
        if (memcmp(d->banned[i], curve, 32) == 0 && rumor_get_u64(d->banned[i] + 32) > now_ms(d))
            return true;
    return false;
}

/* Takes a peer out of service now; its memory goes in reap() when no frame handler holds it. */
static void peer_drop(daemon_t *d, peer_t *p, const char *why, bool banned)
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

static void reap(daemon_t *d)
{
    for (peer_t **q = &d->peers; *q;) {
        peer_t *p = *q;
        if (!p->closing) {
            q = &p->next;
            continue;
        }
        *q = p->next;
        d->n_peers--;
        zsock_close(&p->out);
        free(p->subs);
        free(p->claimed);
        free(p->named);
        rumor_catchup_peer_free(p);
        free(p);
    }
}

/* Counts a frame that broke the protocol; too many and the peer is banned. */
static void misbehaved(daemon_t *d, peer_t *p, const char *what)
{
    d->stats.malformed++;
    if (!p) return;
    if (now_ms(d) - p->warn_ms >= 1000) {
        p->warn_ms = now_ms(d);
        rumor_daemon_log(d, LOG_WARN, "peer %s sent %s", p->hex8, what);
    }
    /* What it told us of other peers is the first to give way. */
    if (!p->malformed) rumor_gossip_cands_taint(d->cands, &d->n_cands, p->pk, false);
    if (++p->malformed > MALFORMED_MAX) peer_drop(d, p, "too many malformed frames", true);
}

enum { LINK_ANY, LINK_OUT, LINK_IN };

/* Sends one frame to a peer over the given link, or (LINK_ANY) whichever is up. */
static bool peer_send_on(daemon_t *d, peer_t *p, int link, const uint8_t *buf, size_t len)
{
    int rc;
    if (p->closing) return false;
    if (link != LINK_IN && p->out && p->out_ready && !p->out_stalled) {
        rc = zmq_send(p->out->z, buf, len, ZMQ_DONTWAIT);
        mark_dirty(p->out);
        if (rc < 0 && errno == EAGAIN && link == LINK_ANY && p->rid_len && p->in_ready) {
            /* Our DEALER takes nothing (its connection died with the peer's old process, or it
             * is full) while the peer talks to us on its own link: move over to that one. */
            p->out_stalled = true;
            return peer_send_on(d, p, LINK_IN, buf, len);
        }
    } else if (link != LINK_OUT && p->rid_len && p->in_ready) {
        rc = zmq_send(d->router->z, p->rid, p->rid_len, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        if (rc >= 0) rc = zmq_send(d->router->z, buf, len, ZMQ_DONTWAIT);
        mark_dirty(d->router);
    } else {
        return false;
    }
    if (rc < 0) {
        if (errno == EAGAIN) {
            d->stats.queue_drops++;
        } else {
            d->stats.unroutable++;
            if (errno == EHOSTUNREACH) p->in_ready = false, p->rid_len = 0;
        }
        return false;
    }
    d->stats.frames_out++;
    d->stats.bytes_out += len;
    return true;
}

static bool peer_send(daemon_t *d, peer_t *p, const uint8_t *buf, size_t len)
{
    return peer_send_on(d, p, LINK_ANY, buf, len);
}

bool rumor_daemon_send(daemon_t *d, peer_t *p, const uint8_t *buf, size_t len)
{
    return peer_send(d, p, buf, len);
}

static bool send_frame_on(daemon_t *d, peer_t *p, int link, const rumor_wire_frame_t *f)
{
    uint8_t buf[2 + 2 + RUMOR_WIRE_TOPICS_MAX * ID];
    size_t len = rumor_wire_encode(f, buf, sizeof buf);
    if (!len) {
        rumor_daemon_log(d, LOG_ERROR, "could not encode a frame of type %u", f->type);
        return false;
    }
    return peer_send_on(d, p, link, buf, len);
}

static bool send_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    return send_frame_on(d, p, LINK_ANY, f);
}

bool rumor_daemon_send_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    return send_frame(d, p, f);
}

static void hello_frame(daemon_t *d, rumor_wire_frame_t *f)
{
    memset(f, 0, sizeof *f);
    f->type = RUMOR_WIRE_HELLO;
    f->pk = rumor_node_id(d->node);
    f->port = d->listen_port;
    f->flags = d->cfg->peer_exchange ? 1 : 0;
}

/* Our SUB to `p`: the topics we name to it (peer_view), never more. */
static void send_sub(daemon_t *d, peer_t *p)
{
    size_t n = p->n_named < RUMOR_WIRE_TOPICS_MAX ? p->n_named : RUMOR_WIRE_TOPICS_MAX;
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_SUB, .ids = p->named, .n = n};
    if (send_frame(d, p, &f)) d->stats.sub_out++;
}

static void send_px(daemon_t *d, peer_t *to)
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
    if (f.n && send_frame(d, to, &f)) d->stats.peers_out++;
}

static void join_peer_ready(daemon_t *d, peer_t *p);
static void peer_view(daemon_t *d, peer_t *p, bool send_anyway);

/* Sends `pk`'s PROFILE event (its nick) to a peer, if we hold one. */
static void send_profile(daemon_t *d, rumor_txn_t *t, peer_t *p, const uint8_t pk[ID],
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
    peer_send(d, p, frame, len + 2);
}

/* A new peer learns our nick at once (profiles otherwise travel only when they change). */
static void send_own_profile(daemon_t *d, peer_t *p)
{
    rumor_txn_t *t;
    uint8_t *frame = malloc(RUMOR_WIRE_FRAME_MAX);
    if (frame && rumor_store_read_begin(d->node->store, &t) == RUMOR_OK) {
        send_profile(d, t, p, rumor_node_id(d->node), frame);
        rumor_store_read_end(&t);
    }
    free(frame);
}

/* A link finished its HELLO: the peer is in service. */
static void peer_ready(daemon_t *d, peer_t *p, bool was_ready)
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
    if (p->eh == RUMOR_ENGINE_NONE) p->eh = rumor_engine_peer_up(d->engine, p->pk, p);
    peer_view(d, p, true);
    send_px(d, p);
    if (!was_ready) send_own_profile(d, p);
    rumor_catchup_peer_ready(d, p);
    join_peer_ready(d, p);
    if (!was_ready) rumor_lan_peer_ready(d, p);
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
    rumor_gossip_cand_offer_t r = rumor_gossip_cand_offer(d->cands, &d->n_cands, &lim, &offer,
                                                          now_ms(d), randombytes_random());
    if (r >= RUMOR_GOSSIP_CAND_REFUSED_SOURCE) {
        d->stats.cands_refused++;
        return;
    }
    if (r != RUMOR_GOSSIP_CAND_KNOWN)
        rumor_daemon_log(d, LOG_DEBUG, "candidate %02x%02x%02x%02x at %s:%u (%s)", pk[0], pk[1],
                         pk[2], pk[3], host, port, rumor_daemon_found_name(found));
}

static void tell_peer(daemon_t *d, peer_t *p);

static peer_t *dial(daemon_t *d, cand_t *c);

size_t rumor_daemon_dial_found(daemon_t *d, uint8_t found)
{
    size_t dialed = 0;
    for (size_t i = 0; i < d->n_cands; i++) {
        cand_t *c = &d->cands[i];
        if (c->found != found || peer_find(d, c->pk)) continue;
        dialed += dial(d, c) != NULL;
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
        peer_t *p = peer_find(d, pk);
        return (p && rumor_daemon_peer_ready(p)) ||
               (rumor_gossip_cand_take_turn(c, now_ms(d)) && dial(d, c) != NULL);
    }
    return false;
}

static peer_t *dial(daemon_t *d, cand_t *c)
{
    uint8_t curve[32];
    if (rumor_curve_public(curve, c->pk) < 0 || is_banned(d, curve)) return NULL;
    peer_t *p = peer_find(d, c->pk);
    if (p && p->out) return p;
    bool v6 = strchr(c->host, ':') != NULL;
    char ep[RUMOR_INVITE_HOST_MAX + 32];
    snprintf(ep, sizeof ep, v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", c->host, c->port);
    zsock_t *zs = zsock_open(d, ZMQ_DEALER, ZSOCK_DEALER);
    if (!zs) return NULL;
    link_options(d, zs->z, v6);
    /* No silent reconnect: a new connection would need a new HELLO. A link that breaks goes
     * quiet, the peer is dropped after peer_timeout_ms and dialed again with HELLO. */
    int ivl = -1;
    zmq_setsockopt(zs->z, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(zs->z, ZMQ_CURVE_SERVERKEY, curve, 32);
    zmq_setsockopt(zs->z, ZMQ_CURVE_PUBLICKEY, d->curve_pk, 32);
    zmq_setsockopt(zs->z, ZMQ_CURVE_SECRETKEY, rumor_identity_curve_secret(d->node->id), 32);
    if (zmq_connect(zs->z, ep) < 0) {
        rumor_daemon_log(d, LOG_WARN, "cannot dial %s: %s", ep, zmq_strerror(errno));
        zsock_close(&zs);
        return NULL;
    }
    if (!p && !(p = peer_new(d, c->pk, c->found))) {
        zsock_close(&zs);
        return NULL;
    }
    snprintf(p->host, sizeof p->host, "%s", c->host);
    p->port = c->port;
    zs->peer = p;
    p->out = zs;
    p->dial_ms = now_ms(d);
    d->stats.dials++;
    /* HELLO waits in the pipe until the handshake completes. */
    rumor_wire_frame_t f;
    hello_frame(d, &f);
    uint8_t buf[64];
    size_t len = rumor_wire_encode(&f, buf, sizeof buf);
    if (zmq_send(zs->z, buf, len, ZMQ_DONTWAIT) >= 0) {
        d->stats.frames_out++;
        d->stats.bytes_out += len;
    }
    mark_dirty(zs);
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
    if (peer_find(d, peer)) return 0;
    for (size_t i = 0; i < d->n_cands; i++) {
        cand_t *c = &d->cands[i];
        if (memcmp(c->pk, peer, ID) != 0 || !rumor_gossip_cand_take_turn(c, w->now)) continue;
        if (dial(d, c)) d->stats.direct_dials++;
        break;
    }
    return 0;
}

/*
 * Direct messages are delivered live when the two nodes can reach each other: the sender's
 * node dials the other member at any address it learned (peers, beacons, exchange), beyond
 * the peer target, since only that node can take the conversation (PROTOCOL.md 7.9).
 */
static void dial_direct(daemon_t *d)
{
    direct_dial_t w = {d, now_ms(d)};
    rumor_node_dm_each(d->node, dial_direct_step, &w);
}

static void dial_some(daemon_t *d)
{
    size_t have = live_peers(d);
    if (have >= d->cfg->peers_target || !d->n_cands) return;
    size_t want = d->cfg->peers_target - have, dialed = 0;
    if (want > DIALS_PER_BEAT) want = DIALS_PER_BEAT;
    uint64_t now = now_ms(d);
    /* Bootstrap and invite peers first, then the rest from a random start. */
    for (int pass = 0; pass < 2 && dialed < want; pass++) {
        size_t start = randombytes_uniform((uint32_t)d->n_cands);
        for (size_t k = 0; k < d->n_cands && dialed < want; k++) {
            cand_t *c = &d->cands[(start + k) % d->n_cands];
            bool preferred = c->found == RUMOR_FOUND_BOOTSTRAP || c->found == RUMOR_FOUND_INVITE ||
                             c->found == RUMOR_FOUND_REMEMBERED;
            if ((pass == 0) != preferred || peer_find(d, c->pk) || c->next_ms > now) continue;
            /* Hearsay names any address: dialing it is rationed, so lies cannot aim us. */
            if (c->found == RUMOR_FOUND_EXCHANGE &&
                !rumor_gossip_bucket_take(&d->hearsay_dials, d->cfg->hearsay_dials_per_min / 60.0,
                                          HEARSAY_DIAL_BURST, now)) {
                d->stats.dials_limited++;
                continue;
            }
            if (!rumor_gossip_cand_take_turn(c, now)) continue;
            if (dial(d, c)) dialed++;
        }
    }
}

/* ---- topics and the mesh ---------------------------------------------------------- */

static int topic_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ID);
}

static topic_t *topic_find(daemon_t *d, const uint8_t id[ID])
{
    if (!d->n_topics) return NULL;
    return bsearch(id, d->topics, d->n_topics, sizeof *d->topics, topic_cmp);
}

static bool peer_subscribes(const peer_t *p, const uint8_t topic[ID])
{
    return p->n_subs && bsearch(topic, p->subs, p->n_subs, ID, topic_cmp) != NULL;
}

bool rumor_daemon_holds(daemon_t *d, const uint8_t topic[ID])
{
    return topic_find(d, topic) != NULL;
}

bool rumor_daemon_peer_subscribes(const peer_t *p, const uint8_t topic[ID])
{
    return peer_subscribes(p, topic);
}

static bool joining(daemon_t *d, const uint8_t topic[ID])
{
    for (struct join *j = d->joins; j; j = j->next)
        if (j->state == JOIN_SYNC && memcmp(j->inv.room, topic, ID) == 0) return true;
    return false;
}

typedef struct {
    uint8_t (*v)[ID];
    size_t n, cap;
} topic_list_t;

static int restoring_collect(void *ctx, const uint8_t domain[ID])
{
    topic_list_t *l = ctx;
    if (l->n < l->cap) memcpy(l->v[l->n++], domain, ID);
    return 0;
}

static int settle_restoring(rumor_txn_t *t, void *ctx)
{
    daemon_t *d = ctx;
    size_t left = 0;
    int rc = rumor_node_restoring_settle(t, rumor_node_id(d->node), &left);
    if (rc == RUMOR_OK)
        rumor_daemon_log(d, LOG_INFO, "restored memberships: %zu domain%s still to fetch", left,
                         left == 1 ? "" : "s");
    return rc;
}

/* The topics we subscribe to: the profile topic, the domain of every room we are a member of,
 * and the domains restored from a backup that we are still fetching. */
void rumor_daemon_resubscribe(daemon_t *d)
{
    rumor_txn_t *t;
    size_t n = 0, arrived = 0;
    uint8_t(*ids)[ID] = calloc(RUMOR_WIRE_TOPICS_MAX, ID);
    topic_list_t wanted = {calloc(RUMOR_WIRE_TOPICS_MAX, ID), 0, RUMOR_WIRE_TOPICS_MAX};
    if (!ids || !wanted.v || rumor_store_read_begin(d->node->store, &t) < 0) {
        free(ids);
        free(wanted.v);
        return;
    }
    /* Backups' domains first (counted: they leave their list once arrived), then told ones. */
    rumor_node_restoring_each(t, restoring_collect, &wanted);
    size_t n_restoring = wanted.n;
    for (size_t i = 0; i < d->told.n; i++) restoring_collect(&wanted, d->told.e[i].topic);
    int rc =
        rumor_gossip_subscriptions(t, rumor_node_id(d->node), (const uint8_t(*)[ID])wanted.v,
                                   wanted.n, n_restoring, ids, RUMOR_WIRE_TOPICS_MAX, &n, &arrived);
    rumor_store_read_end(&t);
    free(wanted.v);
    if (rc < 0) {
        free(ids);
        return;
    }
    if (arrived) rumor_store_write_as(d->node->store, RUMOR_STORE_BATCH, settle_restoring, d);
    bool same = n == d->n_topics;
    for (size_t i = 0; same && i < n; i++) same = memcmp(ids[i], d->topics[i].id, ID) == 0;
    if (same) {
        /* Memberships may have changed all the same: what each peer hears of, and counts for. */
        free(ids);
        for (peer_t *p = d->peers; p; p = p->next)
            if (rumor_daemon_peer_ready(p)) peer_view(d, p, false);
        return;
    }
    topic_t *nt = calloc(n, sizeof *nt);
    if (!nt) {
        free(ids);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(nt[i].id, ids[i], ID);
        topic_t *old = topic_find(d, ids[i]);
        nt[i].rights_changed = old ? old->rights_changed : true; /* new to us: look once */
    }
    if (rumor_engine_topics(d->engine, (const uint8_t *)ids, n) < 0) {
        free(ids);
        free(nt);
        return;
    }
    free(d->topics);
    d->topics = nt;
    d->n_topics = n;
    free(ids);
    rumor_daemon_log(d, LOG_INFO, "subscribed to %zu topic%s", d->n_topics - 1,
                     d->n_topics == 2 ? "" : "s");
    for (peer_t *p = d->peers; p; p = p->next)
        if (rumor_daemon_peer_ready(p)) {
            peer_view(d, p, false);
            tell_peer(d, p); /* a room or conversation just made may have it as a member */
        }
    rumor_engine_fill(d->engine);
    engine_run(d);
}

/* ---- events ----------------------------------------------------------------------- */

/* The topic an event travels in (section 9.3). RUMOR_ERR_NOT_FOUND for a room we do not hold. */
static int event_topic(rumor_txn_t *t, const rumor_event_t *ev, uint8_t topic[ID])
{
    if (ev->type == RUMOR_EV_PROFILE) {
        memset(topic, 0, ID);
        return RUMOR_OK;
    }
    if (rumor_is_zero(ev->room, ID)) {
        memcpy(topic, ev->id, ID);
        return RUMOR_OK;
    }
    return rumor_gossip_key_domain(t, ev->room, topic);
}

/*
 * Counts and traces a delivery and tells followers. Called only for events
 * that are committed (followers read them from the store): peer events once
 * their batch committed, own events (committed by the CLI) when flushed.
 */
static void record_delivery(daemon_t *d, const rumor_event_t *ev, const uint8_t *from,
                            uint64_t valid_ms)
{
    uint64_t now = rumor_now_ms();
    if (!valid_ms) valid_ms = now;
    if (ev->type == RUMOR_EV_MESSAGE && from) {
        uint64_t lat = now > ev->ts ? now - ev->ts : 0;
        size_t b = 0;
        while (b < RUMOR_LATENCY_BUCKETS - 1 && lat > rumor_latency_bounds_ms[b]) b++;
        d->latency[b]++;
    }
    if (d->trace) {
        char id[RUMOR_ID_HEX + 1], room[RUMOR_ID_HEX + 1], author[RUMOR_ID_HEX + 1];
        char src[RUMOR_ID_HEX + 1] = "self";
        rumor_hex_encode(id, ev->id, ID);
        rumor_hex_encode(room, ev->room, ID);
        rumor_hex_encode(author, ev->author, ID);
        if (from) rumor_hex_encode(src, from, ID);
        fprintf(d->trace,
                "{\"t_ms\":%llu,\"v_ms\":%llu,\"id\":\"%s\",\"room\":\"%s\",\"author\":\"%s\","
                "\"ts\":%llu,\"type\":%u,\"from\":\"%s\"}\n",
                (unsigned long long)now, (unsigned long long)valid_ms, id, room, author,
                (unsigned long long)ev->ts, ev->type, src);
    }
    if (ev->type == RUMOR_EV_MESSAGE) rumor_ctl_notify(d, ev->room, ev->id);
}

/* Asks for an event's missing parents (not stored, not pending) from the peer that sent it. */
static void ask_parents(daemon_t *d, rumor_txn_t *t, const rumor_event_t *ev, const uint8_t *from)
{
    uint8_t want[RUMOR_WIRE_IDS_MAX * ID];
    size_t n = 0;
    for (size_t k = 0; k < ev->n_parents && n < RUMOR_WIRE_IDS_MAX; k++) {
        const uint8_t *pid = ev->parents + k * ID;
        if (!rumor_store_event_has(t, pid) && !rumor_gossip_pending_has(&d->pending, pid))
            memcpy(want + ID * n++, pid, ID);
    }
    peer_t *p = peer_find(d, from);
    if (!n || !p || p->eh == RUMOR_ENGINE_NONE) return;
    rumor_engine_want(d->engine, p->eh, want, n, now_ms(d));
    engine_run(d);
}

/* Keeps an event whose parents are missing, and asks for them. */
static void keep_pending(daemon_t *d, rumor_txn_t *t, bentry_t *e, const rumor_event_t *ev)
{
    rumor_gossip_pend_t x = {.by_sync = e->by_sync, .by_batch = e->by_batch, .len = e->len};
    memcpy(x.id, ev->id, ID);
    memcpy(x.from, e->from, ID);
    /* Anyone can sign an event with made-up parents: one peer fills at most a quarter. */
    int rc = rumor_gossip_pending_add(&d->pending, &x, e->frame, now_ms(d));
    if (rc == RUMOR_ERR_BUSY) d->stats.pending_dropped++;
    if (rc == RUMOR_OK) ask_parents(d, t, ev, e->from);
}

/* Moves pending events whose parents are all stored now into the batch; returns how many. */
static size_t release_pending(daemon_t *d, rumor_txn_t *t)
{
    rumor_gossip_pending_t *p = &d->pending;
    struct batch *b = d->batch;
    size_t moved = 0;
    for (size_t i = 0; i < p->n;) {
        rumor_event_t ev;
        bool ready = rumor_event_decode(p->e[i].frame + 2, p->e[i].len - 2, &ev) == RUMOR_OK;
        for (size_t k = 0; ready && k < ev.n_parents; k++)
            ready = rumor_store_event_has(t, ev.parents + k * ID);
        if (!ready) {
            i++;
            continue;
        }
        if (b->n >= b->cap) {
            bentry_t *ne = realloc(b->e, 2 * b->cap * sizeof *ne);
            if (!ne) break;
            b->e = ne;
            b->cap *= 2;
        }
        bentry_t *e = &b->e[b->n++];
        memset(e, 0, sizeof *e);
        memcpy(e->from, p->e[i].from, ID);
        e->frame = p->e[i].frame;
        e->len = p->e[i].len;
        e->by_sync = p->e[i].by_sync;
        e->by_batch = p->e[i].by_batch;
        e->retried = true;
        rumor_gossip_pending_take(p, i, false);
        moved++;
    }
    return moved;
}

/* A pushed event `ev` from `from` was a duplicate: the engine learns of it (in tree mode the link
 * closed a cycle). Its topic is looked up only when the strategy needs it: duplicates are the
 * common case of gossipsub, and the seen cache spares them the store. */
static void duplicate(daemon_t *d, rumor_txn_t *t, const uint8_t from[ID], const rumor_event_t *ev,
                      const uint8_t *topic)
{
    peer_t *p = peer_find(d, from);
    uint8_t buf[ID];
    if (strcmp(d->cfg->strategy, "tree") != 0 || !p || p->eh == RUMOR_ENGINE_NONE) return;
    rumor_txn_t *own = NULL;
    if (!topic) {
        if (!t && rumor_store_read_begin(d->node->store, &own) < 0) return;
        if (event_topic(t ? t : own, ev, buf) == RUMOR_OK) topic = buf;
        if (own) rumor_store_read_end(&own);
    }
    if (topic) rumor_engine_duplicate(d->engine, p->eh, topic, ev->id, now_ms(d));
    engine_run(d);
}

/* Counts an invalid event once, against its sender too (too many and it is banned). */
static void count_invalid(daemon_t *d, bentry_t *e)
{
    if (e->counted) return;
    e->counted = true;
    d->stats.invalid++;
    peer_t *p = peer_find(d, e->from);
    if (p && ++p->invalid > INVALID_MAX) peer_drop(d, p, "too many invalid events", true);
}

/* A frame of `p`'s went over one of its rates: counted against it; a sustained excess graylists
 * it (PROTOCOL.md 9.7). */
static void peer_over_rate(daemon_t *d, peer_t *p)
{
    if (p && ++p->throttled > THROTTLED_MAX) {
        d->stats.graylisted++;
        peer_drop(d, p, "stayed over its byte rate", true);
    }
}

/*
 * Pushed events are rationed per peer and domain, then per author and domain (PROTOCOL.md 9.7):
 * past a rate they are dropped unseen, before their signature is checked, and come by catch-up.
 * Decided once per entry, so a rerun of the transaction spends nothing again.
 */
static bool over_rate(daemon_t *d, bentry_t *e, const rumor_event_t *ev, const uint8_t topic[ID])
{
    if (e->rated) return e->over_rate;
    e->rated = true;
    uint64_t now = now_ms(d);
    size_t bytes = e->len - 2;
    if (!rumor_gossip_quota_spend(&d->peer_topics, e->from, topic, bytes, now)) {
        d->stats.topic_throttled++;
        e->over_rate = true;
        peer_over_rate(d, peer_find(d, e->from));
    } else if (!rumor_gossip_quota_spend(&d->authors, ev->author, topic, bytes, now)) {
        d->stats.author_throttled++;
        e->over_rate = true;
    }
    return e->over_rate;
}

/*
 * Validates and stores a batch of peer events in one transaction, pushing
 * each new one on at once. The store may run this again from the start (a
 * grown map): everything here is either inside the transaction or guarded
 * by a flag of the entry; what must only follow a commit (seen cache,
 * message cache, trace, followers) happens in process_batch.
 */
static int batch_fn(rumor_txn_t *t, void *ctx)
{
    daemon_t *d = ctx;
    struct batch *b = d->batch;
    for (size_t i = 0; i < b->n; i++) b->e[i].stored = false;
    for (size_t i = 0;; i++) {
        /* After the batch, pending events whose parents just came are taken in the same
         * transaction. */
        if (i == b->n && (!d->pending.n || !release_pending(d, t))) break;
        bentry_t *e = &b->e[i];
        const uint8_t *buf = e->frame + 2;
        size_t len = e->len - 2;
        rumor_event_t ev;
        uint8_t topic[ID];
        if (rumor_event_decode(buf, len, &ev) < 0) {
            /* The frame decoder checked the size only: this is an invalid event. */
            count_invalid(d, e);
            continue;
        }
        if (rumor_engine_seen(d->engine, ev.id)) {
            if (!e->counted) {
                d->stats.duplicates++, d->stats.seen_hits++, e->counted = true;
                if (!e->by_sync && !e->retried) duplicate(d, t, e->from, &ev, NULL);
            }
            continue;
        }
        int rc = event_topic(t, &ev, topic);
        if (rc == RUMOR_ERR_NOT_FOUND && e->by_batch) {
            /* A catch-up event of a room whose create is still on its way: early, not foreign. */
            if (!e->counted && !e->retried) d->stats.missing_parent++;
            e->counted = true;
            keep_pending(d, t, e, &ev);
            continue;
        }
        if (rc == RUMOR_ERR_NOT_FOUND ||
            (rc == RUMOR_OK && !topic_find(d, topic) && !joining(d, topic))) {
            /* Not a topic we hold: without its room we cannot judge it. */
            if (!e->counted) d->stats.unsubscribed++, e->counted = true;
            continue;
        }
        if (rc < 0) return rc;
        if (!e->by_sync && !e->retried && over_rate(d, e, &ev, topic)) continue;
        rumor_gossip_counters_t c = {0};
        rc = rumor_gossip_ingest(t, d->node->id, buf, len, NULL, &c);
        if (rc == RUMOR_ERR_EXISTS) {
            /* A duplicate, or a PROFILE not kept (superseded, or a stranger's): not forwarded. */
            if (!e->counted) {
                e->counted = true;
                d->stats.profiles_superseded += c.superseded;
                d->stats.profiles_strangers += c.strangers;
                d->stats.duplicates += !c.superseded && !c.strangers;
                if (!c.superseded && !c.strangers && !e->by_sync && !e->retried)
                    duplicate(d, t, e->from, &ev, topic);
            }
            continue;
        }
        if (rc == RUMOR_ERR_MISSING_PARENT) {
            /* Signed and well-formed, but early: keep it and fetch what it builds on. */
            if (!e->counted && !e->retried) d->stats.missing_parent++;
            e->counted = true;
            keep_pending(d, t, e, &ev);
            continue;
        }
        if (rc == RUMOR_ERR_MALFORMED || rc == RUMOR_ERR_TOO_BIG || rc == RUMOR_ERR_BAD_SIGNATURE ||
            rc == RUMOR_ERR_DENIED) {
            count_invalid(d, e);
            continue;
        }
        if (rc < 0) return rc; /* the store failed: abort the transaction */
        /* Stored and relayed, but without effect (PROTOCOL.md 7.3): counted. */
        if (c.ignored) d->stats.ignored++;
        /* Any change of rights or of the tree may change what we subscribe to, and may make a
         * rotation due. */
        if (ev.type != RUMOR_EV_MESSAGE && ev.type != RUMOR_EV_PROFILE) {
            b->topics_changed = true;
            topic_t *tp = topic_find(d, topic);
            if (tp) tp->rights_changed = true;
        }
        if (!e->by_sync && !e->forwarded) {
            e->forwarded = true;
            peer_t *from = peer_find(d, e->from);
            rumor_engine_push(d->engine, topic, e->frame, e->len,
                              from ? from->eh : RUMOR_ENGINE_NONE);
            engine_run(d);
        }
        e->stored = true;
        e->valid_ms = rumor_now_ms();
        memcpy(e->topic, topic, ID);
    }
    return RUMOR_OK;
}

static void process_batch(daemon_t *d)
{
    struct batch *b = d->batch;
    if (!b->n) {
        rumor_catchup_committed(d);
        return;
    }
    b->topics_changed = false;
    int rc = rumor_store_write_as(d->node->store, RUMOR_STORE_BATCH, batch_fn, d);
    d->stats.commits++;
    if (rc < 0)
        rumor_daemon_log(d, LOG_ERROR, "storing %zu peer events failed: %s", b->n,
                         rumor_strerror(rc));
    for (size_t i = 0; rc == RUMOR_OK && i < b->n; i++) {
        bentry_t *e = &b->e[i];
        rumor_event_t ev;
        if (!e->stored || rumor_event_decode(e->frame + 2, e->len - 2, &ev) < 0) continue;
        d->stats.delivered++;
        if (e->retried) d->stats.pending_resolved++;
        if (e->by_batch) {
            d->stats.catchup_events_in++;
            rumor_catchup_stored(d, e->from);
        } else if (e->by_sync) {
            d->stats.sync_events_in++;
        }
        rumor_engine_saw(d->engine, ev.id, now_ms(d));
        if (!e->by_sync) rumor_engine_announce(d->engine, e->topic, ev.id);
        record_delivery(d, &ev, e->from, e->valid_ms);
    }
    /* Ids of events that were not stored must not block a later, good copy. */
    batch_clear(b);
    if (d->trace) fflush(d->trace);
    if (b->topics_changed) rumor_daemon_resubscribe(d);
    rumor_catchup_committed(d);
}

void rumor_daemon_queue_event(daemon_t *d, peer_t *p, const uint8_t *frame, size_t len, int origin)
{
    struct batch *b = d->batch;
    /* Most copies of an event are duplicates from other mesh peers: drop them here, before any
     * copy, transaction or signature check. */
    rumor_event_t ev;
    d->stats.received++;
    bool decoded = rumor_event_decode(frame + 2, len - 2, &ev) == RUMOR_OK;
    if (decoded && rumor_engine_seen(d->engine, ev.id)) {
        d->stats.duplicates++;
        d->stats.seen_hits++;
        if (origin == ORIGIN_PUSH) duplicate(d, NULL, p->pk, &ev, NULL);
        return;
    }
    if (b->n >= d->cfg->batch_max || b->n >= b->cap) process_batch(d);
    uint8_t *copy = malloc(len);
    if (!copy) return;
    memcpy(copy, frame, len);
    bentry_t *e = &b->e[b->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->from, p->pk, ID);
    e->by_sync = origin != ORIGIN_PUSH;
    e->by_batch = origin == ORIGIN_BATCH;
    e->frame = copy;
    e->len = len;
}

/* ---- own events: the outbox ------------------------------------------------------- */

/* Own events handed to peers per flush at most (the rest go at the next heartbeat). */
#define FLUSH_MAX 1024
/* Outbox entries looked at per flush at most. */
#define OUTBOX_SCAN_MAX 65536

typedef struct {
    uint64_t lamport;
    uint8_t id[ID];
} outbox_entry_t;

typedef struct {
    rumor_txn_t *t;
    outbox_entry_t *e;
    size_t n, cap;
} outbox_scan_t;

static int outbox_collect(void *ctx, const uint8_t id[ID])
{
    outbox_scan_t *o = ctx;
    const uint8_t *buf;
    size_t len;
    if (o->n >= o->cap) return 1;
    if (rumor_store_event_get(o->t, id, &buf, &len) < 0 || len < RUMOR_EVENT_FIXED) return 0;
    o->e[o->n].lamport = rumor_get_u64(buf + 66);
    memcpy(o->e[o->n].id, id, ID);
    o->n++;
    return 0;
}

/* Causal order: a parent has a smaller lamport than its children (section 4.1). */
static int outbox_cmp(const void *a, const void *b)
{
    const outbox_entry_t *x = a, *y = b;
    if (x->lamport != y->lamport) return x->lamport < y->lamport ? -1 : 1;
    return memcmp(x->id, y->id, ID);
}

typedef struct {
    outbox_entry_t *e;
    size_t n;
} unqueue_t;

static int unqueue_fn(rumor_txn_t *t, void *ctx)
{
    unqueue_t *u = ctx;
    for (size_t i = 0; i < u->n; i++) {
        int rc = rumor_store_outbox_del(t, u->e[i].id);
        if (rc < 0 && rc != RUMOR_ERR_NOT_FOUND) return rc;
    }
    return RUMOR_OK;
}

/*
 * Pushes own events from the outbox in causal order (the outbox is keyed by
 * id, which is no order at all), so receivers never get a child before its
 * parent, and removes those a peer took.
 */
void rumor_daemon_flush(daemon_t *d)
{
    rumor_txn_t *t;
    outbox_scan_t o = {.cap = OUTBOX_SCAN_MAX};
    uint8_t *frame = malloc(RUMOR_WIRE_FRAME_MAX);
    outbox_entry_t *sent = malloc(FLUSH_MAX * sizeof *sent);
    size_t n_sent = 0;
    bool topics_changed = false;
    o.e = malloc(o.cap * sizeof *o.e);
    if (!frame || !sent || !o.e || rumor_store_read_begin(d->node->store, &t) < 0) goto out;
    o.t = t;
    rumor_store_outbox_each(t, outbox_collect, &o);
    qsort(o.e, o.n, sizeof *o.e, outbox_cmp);
    for (size_t i = 0; i < o.n && i < FLUSH_MAX; i++) {
        const uint8_t *buf;
        size_t len;
        rumor_event_t ev;
        uint8_t topic[ID];
        if (rumor_store_event_get(t, o.e[i].id, &buf, &len) < 0 || len > RUMOR_EVENT_MAX ||
            rumor_event_decode(buf, len, &ev) < 0 || event_topic(t, &ev, topic) < 0)
            continue;
        frame[0] = RUMOR_WIRE_VERSION;
        frame[1] = RUMOR_WIRE_EVENT;
        memcpy(frame + 2, buf, len);
        if (!rumor_engine_seen(d->engine, ev.id)) {
            rumor_engine_saw(d->engine, ev.id, now_ms(d));
            record_delivery(d, &ev, NULL, 0);
            topics_changed |= ev.type == RUMOR_EV_ROOM_CREATE || ev.type == RUMOR_EV_MEMBER_ADD ||
                              ev.type == RUMOR_EV_MEMBER_REMOVE;
        }
        rumor_engine_push(d->engine, topic, frame, len + 2, RUMOR_ENGINE_NONE);
        uint64_t forwarded = d->stats.forwarded;
        engine_run(d);
        if (d->stats.forwarded > forwarded) {
            /* Announced (IHAVE) only once it is out, in the order it went out. */
            rumor_engine_announce(d->engine, topic, ev.id);
            d->stats.published++;
            sent[n_sent++] = o.e[i];
        }
    }
    rumor_store_read_end(&t);
    if (n_sent) {
        unqueue_t u = {sent, n_sent};
        rumor_store_write_as(d->node->store, RUMOR_STORE_BATCH, unqueue_fn, &u);
    }
out:
    free(o.e);
    free(sent);
    free(frame);
    if (topics_changed) rumor_daemon_resubscribe(d);
}

/* ---- joining ---------------------------------------------------------------------- */

static void join_finish(daemon_t *d, struct join *j, int rc)
{
    for (struct join **q = &d->joins; *q; q = &(*q)->next)
        if (*q == j) {
            *q = j->next;
            break;
        }
    if (rc == RUMOR_OK) rumor_daemon_resubscribe(d);
    if (j->done) j->done(j->ctx, rc, j->inv.room);
    rumor_daemon_log(d, rc == RUMOR_OK ? LOG_INFO : LOG_WARN, "join of %02x%02x%02x%02x: %s",
                     j->inv.room[0], j->inv.room[1], j->inv.room[2], j->inv.room[3],
                     rc == RUMOR_OK ? "done" : rumor_strerror(rc));
    sodium_memzero(j->inv.token, sizeof j->inv.token);
    free(j->rooms);
    free(j);
}

static void join_send_sync(daemon_t *d, struct join *j, peer_t *p, uint64_t lamport,
                           const uint8_t *after)
{
    static const uint8_t zero[ID];
    j->want_lamport = lamport;
    memcpy(j->want_id, after ? after : zero, ID);
    j->stalled = false;
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_SYNC,
                            .topic = j->rooms[j->cur],
                            .lamport = lamport,
                            .cursor_id = after ? after : zero,
                            .max = RUMOR_WIRE_SYNC_MAX};
    if (send_frame(d, p, &f)) d->stats.sync_out++;
}

static void join_peer_ready(daemon_t *d, peer_t *p)
{
    for (struct join *j = d->joins; j; j = j->next) {
        if (j->state != JOIN_DIAL || memcmp(j->inv.inviter, p->pk, ID) != 0) continue;
        rumor_wire_frame_t f = {
            .type = RUMOR_WIRE_JOIN, .topic = j->inv.room, .token = j->inv.token};
        if (send_frame(d, p, &f)) j->state = JOIN_SENT;
    }
}

int rumor_daemon_join(daemon_t *d, const rumor_invite_t *inv, rumor_join_done_fn done, void *ctx)
{
    if (memcmp(inv->inviter, rumor_node_id(d->node), ID) == 0) return RUMOR_ERR_INVALID;
    struct join *j = calloc(1, sizeof *j);
    if (!j || !(j->rooms = calloc(JOIN_ROOMS_MAX, ID))) {
        free(j);
        return RUMOR_ERR_NOMEM;
    }
    j->inv = *inv;
    j->done = done;
    j->ctx = ctx;
    j->state = JOIN_DIAL;
    j->deadline_ms = now_ms(d) + JOIN_TIMEOUT_MS;
    memcpy(j->rooms[0], inv->room, ID);
    j->n_rooms = 1;
    j->next = d->joins;
    d->joins = j;
    rumor_daemon_candidate(d, inv->inviter, inv->host, inv->port, RUMOR_FOUND_INVITE, NULL);
    peer_t *p = peer_find(d, inv->inviter);
    if (p && rumor_daemon_peer_ready(p)) {
        join_peer_ready(d, p);
    } else if (!p) {
        for (size_t i = 0; i < d->n_cands; i++)
            if (memcmp(d->cands[i].pk, inv->inviter, ID) == 0) dial(d, &d->cands[i]);
    }
    return RUMOR_OK;
}

void rumor_daemon_join_cancel(daemon_t *d, void *ctx)
{
    for (struct join *j = d->joins; j; j = j->next)
        if (j->ctx == ctx) j->done = NULL;
}

typedef struct {
    struct join *j;
    rumor_txn_t *t;
    int depth;
} subroom_walk_t;

/* Queues the shared sub-rooms of a synced room (private ones are their own domains). */
static int subroom_step(void *ctx, const rumor_store_room_t *r)
{
    subroom_walk_t *w = ctx;
    if (!rumor_gossip_is_key_room(r) && w->j->n_rooms < JOIN_ROOMS_MAX) {
        bool dup = false;
        for (size_t i = 0; i < w->j->n_rooms && !dup; i++)
            dup = memcmp(w->j->rooms[i], r->id, ID) == 0;
        if (!dup) memcpy(w->j->rooms[w->j->n_rooms++], r->id, ID);
    }
    return 0;
}

static void on_sync_end(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    struct join *j = d->joins;
    for (; j; j = j->next)
        if (j->state == JOIN_SYNC && memcmp(j->inv.inviter, p->pk, ID) == 0 &&
            memcmp(j->rooms[j->cur], f->topic, ID) == 0)
            break;
    if (!j) return;   /* an answer nobody waits for */
    process_batch(d); /* the events of this answer come first */
    if (f->status) {
        if (f->lamport == j->want_lamport && memcmp(f->cursor_id, j->want_id, ID) == 0) {
            j->stalled = true; /* no progress: the inviter's budget is spent for this beat */
            return;
        }
        j->deadline_ms = now_ms(d) + JOIN_TIMEOUT_MS; /* a long history is fine while it moves */
        join_send_sync(d, j, p, f->lamport, f->cursor_id);
        return;
    }
    rumor_txn_t *t;
    if (rumor_store_read_begin(d->node->store, &t) == RUMOR_OK) {
        subroom_walk_t w = {j, t, 0};
        rumor_store_room_children(t, j->rooms[j->cur], subroom_step, &w);
        rumor_store_read_end(&t);
    }
    if (++j->cur < j->n_rooms) {
        join_send_sync(d, j, p, 0, NULL);
        return;
    }
    join_finish(d, j, RUMOR_OK);
}

static void on_joined(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    for (struct join *j = d->joins; j; j = j->next) {
        if (j->state != JOIN_SENT || memcmp(j->inv.inviter, p->pk, ID) != 0 ||
            memcmp(j->inv.room, f->topic, ID) != 0)
            continue;
        if (f->status != RUMOR_JOIN_OK) {
            join_finish(d, j,
                        f->status == RUMOR_JOIN_FAILED ? RUMOR_ERR_DENIED : RUMOR_ERR_NOT_FOUND);
            return;
        }
        j->state = JOIN_SYNC;
        /* The inviter holds us as a member now, so it keeps and relays our profile (9.7). */
        send_own_profile(d, p);
        join_send_sync(d, j, p, 0, NULL);
        return;
    }
}

static void on_join(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    uint8_t id[ID];
    bool added = false;
    d->stats.join_in++;
    uint8_t status = rumor_node_invite_redeem(d->node, f->topic, f->token, p->pk, id, &added);
    if (added) {
        d->stats.members_added++;
        rumor_daemon_log(d, LOG_INFO, "peer %s joined by invite", p->hex8);
        rumor_daemon_flush(d);
    } else if (status != RUMOR_JOIN_OK) {
        rumor_daemon_log(d, LOG_WARN, "peer %s: invite refused (status %u)", p->hex8, status);
    }
    rumor_wire_frame_t r = {.type = RUMOR_WIRE_JOINED, .topic = f->topic, .status = status};
    send_frame(d, p, &r);
}

typedef struct {
    daemon_t *d;
    peer_t *p;
    rumor_txn_t *t;
    uint8_t *frame;
    size_t sent, max;
    uint64_t last_lamport;
    uint8_t last_id[ID];
    uint64_t from_lamport; /* the asker's cursor */
    uint8_t from_id[ID];
} sync_walk_t;

static int sync_step(void *ctx, uint64_t lamport, const uint8_t id[ID])
{
    sync_walk_t *w = ctx;
    /* The domain set walk starts at the cursor, which was sent already. */
    if (lamport == w->from_lamport && memcmp(id, w->from_id, ID) == 0) return 0;
    if (w->sent >= w->max || !w->p->budget) return 1; /* there is more */
    const uint8_t *buf;
    size_t len;
    if (rumor_store_event_get(w->t, id, &buf, &len) < 0 || len > RUMOR_EVENT_MAX) return 0;
    memcpy(w->frame + 2, buf, len);
    if (peer_send(w->d, w->p, w->frame, len + 2)) w->d->stats.sync_events_out++;
    w->p->budget--;
    w->sent++;
    w->last_lamport = lamport;
    memcpy(w->last_id, id, ID);
    return 0;
}

typedef struct {
    daemon_t *d;
    peer_t *p;
    rumor_txn_t *t;
    uint8_t *frame;
} profiles_walk_t;

static int member_profile(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    (void)role;
    profiles_walk_t *w = ctx;
    send_profile(w->d, w->t, w->p, pk, w->frame);
    return 0;
}

static void on_sync(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    rumor_txn_t *t;
    d->stats.sync_in++;
    sync_walk_t w = {
        .d = d, .p = p, .max = f->max, .last_lamport = f->lamport, .from_lamport = f->lamport};
    memcpy(w.last_id, f->cursor_id, ID);
    memcpy(w.from_id, f->cursor_id, ID);
    int more = 0;
    if (!(w.frame = malloc(RUMOR_WIRE_FRAME_MAX))) return;
    w.frame[0] = RUMOR_WIRE_VERSION;
    w.frame[1] = RUMOR_WIRE_EVENT;
    if (rumor_store_read_begin(d->node->store, &t) == RUMOR_OK) {
        w.t = t;
        /* Only members of the room's key domain may read its history. */
        if (rumor_gossip_role(t, f->topic, p->pk)) {
            /* The whole key domain, sub-rooms included, in (lamport, id) order: parents first. */
            more = rumor_store_dlog_from(t, f->topic, f->lamport, f->cursor_id, sync_step, &w) == 1;
            /* With a key room's history come its members' nicks (before SYNC_END). */
            profiles_walk_t pw = {d, p, t, w.frame};
            if (!more && f->lamport == 0) rumor_store_member_each(t, f->topic, member_profile, &pw);
        }
        rumor_store_read_end(&t);
    }
    free(w.frame);
    rumor_wire_frame_t r = {.type = RUMOR_WIRE_SYNC_END,
                            .topic = f->topic,
                            .lamport = w.last_lamport,
                            .cursor_id = w.last_id,
                            .status = (uint8_t)more};
    send_frame(d, p, &r);
}

/* ---- frames ----------------------------------------------------------------------- */

/* The events `ids` a peer asked for (IWANT), of the topics it takes, within its answer budget. */
static void serve(daemon_t *d, peer_t *p, const uint8_t *ids, size_t n)
{
    rumor_txn_t *t;
    uint8_t *frame = malloc(RUMOR_WIRE_FRAME_MAX);
    if (!frame || rumor_store_read_begin(d->node->store, &t) < 0) {
        free(frame);
        return;
    }
    frame[0] = RUMOR_WIRE_VERSION;
    frame[1] = RUMOR_WIRE_EVENT;
    for (size_t i = 0; i < n && p->budget; i++) {
        const uint8_t *buf;
        size_t len;
        rumor_event_t ev;
        uint8_t topic[ID];
        if (rumor_store_event_get(t, ids + i * ID, &buf, &len) < 0 || len > RUMOR_EVENT_MAX ||
            rumor_event_decode(buf, len, &ev) < 0 || event_topic(t, &ev, topic) < 0 ||
            !peer_subscribes(p, topic))
            continue;
        memcpy(frame + 2, buf, len);
        if (peer_send(d, p, frame, len + 2)) d->stats.iwant_served++;
        p->budget--;
    }
    rumor_store_read_end(&t);
    free(frame);
}

/* Carries out what the engine decided: frames to send, events to serve. */
static void engine_run(daemon_t *d)
{
    rumor_engine_action_t a;
    while (rumor_engine_next(d->engine, &a)) {
        peer_t *p = a.user;
        if (!p || p->closing) continue;
        if (a.type == RUMOR_ENGINE_SERVE) {
            serve(d, p, a.ids, a.n);
            continue;
        }
        if (!peer_send(d, p, a.buf, a.len)) continue;
        switch (a.count) {
        case RUMOR_ENGINE_COUNT_FORWARDED: d->stats.forwarded++; break;
        case RUMOR_ENGINE_COUNT_GRAFT: d->stats.graft_out++; break;
        case RUMOR_ENGINE_COUNT_PRUNE: d->stats.prune_out++; break;
        case RUMOR_ENGINE_COUNT_IHAVE: d->stats.ihave_out++; break;
        case RUMOR_ENGINE_COUNT_IWANT: d->stats.iwant_out++; break;
        default: break;
        }
    }
}

/* The engine's question for an IHAVE: do we hold the event (stored, or waiting for parents)? */
static bool engine_has(void *ctx, const uint8_t id[ID])
{
    daemon_t *d = ctx;
    return rumor_gossip_pending_has(&d->pending, id) ||
           (d->engine_txn && rumor_store_event_has(d->engine_txn, id));
}

/* A GRAFT, PRUNE, IHAVE or IWANT: the engine decides. */
static void on_dissemination(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    switch (f->type) {
    case RUMOR_WIRE_GRAFT: d->stats.graft_in++; break;
    case RUMOR_WIRE_PRUNE: d->stats.prune_in++; break;
    case RUMOR_WIRE_IHAVE: d->stats.ihave_in++; break;
    default: d->stats.iwant_in++; break;
    }
    if (p->eh == RUMOR_ENGINE_NONE) return;
    bool reads = f->type == RUMOR_WIRE_IHAVE;
    if (reads && rumor_store_read_begin(d->node->store, &d->engine_txn) < 0) return;
    rumor_engine_frame(d->engine, p->eh, f, now_ms(d));
    if (reads) rumor_store_read_end(&d->engine_txn);
    engine_run(d);
}

/*
 * What a peer should hear of memberships (gossip/told.c decides): a domain our store holds it
 * as a member of that its SUB lacks (INVITED: `room invite --member` or a new conversation
 * waits for it), or, for a domain it subscribes to but was removed from, its removal (members
 * do not reconcile with it). Only members hear of a domain, so strangers learn nothing.
 */
static void tell_peer(daemon_t *d, peer_t *p)
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
        bool claims = p->n_claimed && bsearch(id, p->claimed, p->n_claimed, ID, topic_cmp);
        if (!claims) {
            rumor_wire_frame_t f = {.type = RUMOR_WIRE_INVITED, .topic = id};
            if (rumor_gossip_tell_invited(t, id, p->pk) && send_frame(d, p, &f))
                d->stats.invited_out++;
        } else if (rumor_gossip_removal_to_tell(t, id, p->pk, removal) == RUMOR_OK &&
                   rumor_store_event_get(t, removal, &buf, &len) == RUMOR_OK &&
                   len <= RUMOR_EVENT_MAX) {
            frame[0] = RUMOR_WIRE_VERSION;
            frame[1] = RUMOR_WIRE_EVENT;
            memcpy(frame + 2, buf, len);
            if (peer_send(d, p, frame, len + 2)) d->stats.removals_told++;
        }
    }
    rumor_store_read_end(&t);
    free(frame);
}

/* A peer says a membership waits for us: fetch it while the told table keeps it. */
static void on_invited(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    d->stats.invited_in++;
    if (topic_find(d, f->topic)) return;
    int rc = rumor_gossip_told_offer(&d->told, f->topic, p->pk, now_ms(d));
    if (rc == RUMOR_ERR_TOO_BIG) d->stats.invited_dropped++;
    if (rc != RUMOR_OK) return;
    char hex[9];
    rumor_hex_encode(hex, f->topic, 4);
    rumor_daemon_log(d, LOG_INFO, "peer %s: a membership of %s waits for us; fetching it", p->hex8,
                     hex);
    rumor_daemon_resubscribe(d);
}

/* Gives up told memberships that expired, and forgets those that arrived. */
static void invited_expire(daemon_t *d)
{
    rumor_txn_t *t;
    size_t given_up = 0;
    if (!d->told.n || rumor_store_read_begin(d->node->store, &t) < 0) return;
    rumor_gossip_told_expire(&d->told, t, rumor_node_id(d->node), now_ms(d), &given_up);
    rumor_store_read_end(&t);
    if (given_up) rumor_daemon_resubscribe(d);
}

/*
 * What we name to `p` and which of its claims count (gossip/told.c decides, PROTOCOL.md 9.3):
 * its subscriptions are the topics it claims that we would name to it, so a stranger is told
 * of no topic and is sent, pushed or grafted nothing whatever it claims. A change of what we
 * name is sent (as is everything when `send_anyway`).
 */
static void peer_view(daemon_t *d, peer_t *p, bool send_anyway)
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
        rumor_engine_peer_topics(d->engine, p->eh, p->subs, p->n_subs);
        engine_run(d);
    }
    /* A membership learned just now opens its domain to the peer: reconcile without waiting. */
    if (grew && p->subs_known) rumor_catchup_on_sub(d, p);
out:
    free(held);
    free(named);
    free(subs);
}

static void on_sub(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    d->stats.sub_in++;
    uint8_t *claimed = f->n ? malloc(f->n * ID) : NULL;
    if (f->n && !claimed) return;
    if (f->n) memcpy(claimed, f->ids, f->n * ID);
    free(p->claimed);
    p->claimed = claimed;
    p->n_claimed = f->n;
    peer_view(d, p, false);
    p->subs_known = true;
    rumor_catchup_on_sub(d, p);
    tell_peer(d, p);
}

static void on_peers(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
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

/* Takes a token from the peer's bucket; false when it is over its rate. */
static bool rate_ok(daemon_t *d, peer_t *p)
{
    uint64_t now = now_ms(d);
    double cap = 2.0 * d->cfg->peer_rate;
    p->tokens += (double)(now - p->tokens_ms) * d->cfg->peer_rate / 1000.0;
    if (p->tokens > cap) p->tokens = cap;
    p->tokens_ms = now;
    if (p->tokens < 1.0) {
        d->stats.rate_limited++;
        return false;
    }
    p->tokens -= 1.0;
    return true;
}

/* Handles one frame from a peer whose link finished HELLO; `link` is the one it came on. */
static void on_frame(daemon_t *d, peer_t *p, int link, const uint8_t *buf, size_t len)
{
    rumor_wire_frame_t f;
    if (!rate_ok(d, p)) return;
    p->last_heard_ms = now_ms(d);
    if (rumor_wire_decode(buf, len, &f) < 0) {
        misbehaved(d, p, "a malformed frame");
        return;
    }
    switch (f.type) {
    case RUMOR_WIRE_HELLO: d->stats.hello_in++; break; /* a repeat: nothing new */
    case RUMOR_WIRE_PING: {
        d->stats.ping_in++;
        rumor_wire_frame_t r = {.type = RUMOR_WIRE_PONG, .nonce = f.nonce};
        send_frame_on(d, p, link, &r); /* the link that asked is the one being measured */
        break;
    }
    case RUMOR_WIRE_PONG:
        d->stats.pong_in++;
        if (f.nonce == p->ping_nonce && p->ping_sent_us) {
            p->rtt_us = uv_hrtime() / 1000 - p->ping_sent_us;
            p->ping_sent_us = 0;
        }
        break;
    case RUMOR_WIRE_SUB: on_sub(d, p, &f); break;
    case RUMOR_WIRE_GRAFT:
    case RUMOR_WIRE_PRUNE:
    case RUMOR_WIRE_IHAVE:
    case RUMOR_WIRE_IWANT: on_dissemination(d, p, &f); break;
    case RUMOR_WIRE_EVENT: {
        bool by_sync = false;
        for (struct join *j = d->joins; j && !by_sync; j = j->next)
            by_sync = j->state == JOIN_SYNC && memcmp(j->inv.inviter, p->pk, ID) == 0;
        /* A join's history comes as fast as the inviter sends it; anything else is rationed. */
        if (!by_sync && !rumor_gossip_bucket_spend(&p->bytes, (double)len, d->cfg->peer_bytes_per_s,
                                                   2.0 * d->cfg->peer_bytes_per_s, now_ms(d))) {
            d->stats.throttled++;
            peer_over_rate(d, p);
            break;
        }
        rumor_daemon_queue_event(d, p, buf, len, by_sync ? ORIGIN_SYNC : ORIGIN_PUSH);
        break;
    }
    case RUMOR_WIRE_PEERS: on_peers(d, p, &f); break;
    case RUMOR_WIRE_JOIN: on_join(d, p, &f); break;
    case RUMOR_WIRE_JOINED: on_joined(d, p, &f); break;
    case RUMOR_WIRE_SYNC: on_sync(d, p, &f); break;
    case RUMOR_WIRE_SYNC_END: on_sync_end(d, p, &f); break;
    case RUMOR_WIRE_RECON:
    case RUMOR_WIRE_BATCH:
    case RUMOR_WIRE_CREDIT: rumor_catchup_on_frame(d, p, &f, len); break;
    case RUMOR_WIRE_INVITED: on_invited(d, p, &f); break;
    case RUMOR_WIRE_LAN_CODE:
    case RUMOR_WIRE_LAN_INVITE: rumor_lan_on_frame(d, p, &f); break;
    default: misbehaved(d, p, "an unknown frame"); break;
    }
}

/*
 * A full node still takes newcomers (an invitee must reach its inviter): it
 * drops a random peer that dialed us and is in no mesh, so the partial view
 * keeps turning over. False when every peer is in use.
 */
static bool make_room(daemon_t *d)
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
    peer_drop(d, victim, "making room for a newcomer", false);
    return true;
}

/* The first frame on an inbound link: HELLO, bound to the key the handshake authenticated. */
static void on_inbound_hello(daemon_t *d, const uint8_t *rid, size_t rid_len, zmq_msg_t *msg)
{
    rumor_wire_frame_t f;
    const uint8_t *buf = zmq_msg_data(msg);
    size_t len = zmq_msg_size(msg);
    if (rumor_wire_decode(buf, len, &f) < 0) {
        misbehaved(d, NULL, "a malformed frame before HELLO");
        return;
    }
    if (f.type != RUMOR_WIRE_HELLO) {
        /* A link whose peer we dropped (its TCP connection stays until it gives up on us). */
        d->stats.orphan_frames++;
        return;
    }
    const char *user = zmq_msg_gets(msg, "User-Id");
    const char *addr = zmq_msg_gets(msg, "Peer-Address");
    int fd = zmq_msg_get(msg, ZMQ_SRCFD);
    uint8_t curve[32];
    char hex[65];
    if (user && memcmp(f.pk, rumor_node_id(d->node), ID) == 0) {
        /* Only a holder of our key completes the handshake with it: the same identity runs on
         * another node (a restored backup beside the original). Peers know a node by its key,
         * so the two cannot share a mesh; say so plainly rather than leave the other waiting. */
        d->stats.self_links++;
        if (now_ms(d) - d->self_warn_ms >= 1000 || !d->self_warn_ms) {
            d->self_warn_ms = now_ms(d);
            rumor_daemon_log(d, LOG_WARN,
                             "a node at %s holds this node's own identity: one identity is "
                             "running on two nodes; stop one of them (link dropped)",
                             addr ? addr : "an unknown address");
        }
        rumor_inbound_refuse(d, fd);
        return;
    }
    if (!user || rumor_curve_public(curve, f.pk) < 0) {
        misbehaved(d, NULL, "a HELLO with a bad key");
        rumor_inbound_refuse(d, fd);
        return;
    }
    rumor_hex_encode(hex, curve, 32);
    if (strcmp(hex, user) != 0) {
        misbehaved(d, NULL, "a HELLO naming a key it does not hold");
        rumor_inbound_refuse(d, fd);
        return;
    }
    /* A banned key's HELLO on a link that stayed open is refused, and the link closed. */
    if (is_banned(d, curve)) {
        d->stats.zap_denied++;
        rumor_inbound_refuse(d, fd);
        return;
    }
    d->stats.hello_in++;
    peer_t *p = peer_find(d, f.pk);
    bool was_ready = p && rumor_daemon_peer_ready(p);
    if (!p) {
        if (live_peers(d) >= d->cfg->peers_max && !make_room(d)) {
            rumor_daemon_log(d, LOG_DEBUG, "inbound link refused: %zu peers already",
                             live_peers(d));
            rumor_inbound_refuse(d, fd);
            return;
        }
        if (!(p = peer_new(d, f.pk, RUMOR_FOUND_INBOUND))) return;
        snprintf(p->host, sizeof p->host, "%s", addr ? addr : "");
        p->port = f.port;
    }
    if (rid_len > sizeof p->rid) return;
    rumor_inbound_hello(d, fd, curve);
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    p->in_ready = true;
    p->px = f.flags & 1;
    p->last_heard_ms = now_ms(d);
    rumor_wire_frame_t r;
    hello_frame(d, &r);
    send_frame_on(d, p, LINK_IN, &r); /* the answer goes back on the link that said HELLO */
    peer_ready(d, p, was_ready);
}

static void router_message(daemon_t *d, zmq_msg_t *rid, zmq_msg_t *msg)
{
    const uint8_t *r = zmq_msg_data(rid);
    size_t rl = zmq_msg_size(rid);
    d->stats.frames_in++;
    d->stats.bytes_in += zmq_msg_size(msg);
    peer_t *p = peer_by_rid(d, r, rl);
    if (!p) {
        on_inbound_hello(d, r, rl, msg);
        return;
    }
    on_frame(d, p, LINK_IN, zmq_msg_data(msg), zmq_msg_size(msg));
}

static void dealer_message(daemon_t *d, peer_t *p, zmq_msg_t *msg)
{
    const uint8_t *buf = zmq_msg_data(msg);
    size_t len = zmq_msg_size(msg);
    d->stats.frames_in++;
    d->stats.bytes_in += len;
    p->out_heard_ms = now_ms(d);
    if (!p->out_ready) {
        rumor_wire_frame_t f;
        if (rumor_wire_decode(buf, len, &f) < 0 || f.type != RUMOR_WIRE_HELLO ||
            memcmp(f.pk, p->pk, ID) != 0) {
            misbehaved(d, p, "a bad HELLO");
            return;
        }
        d->stats.hello_in++;
        bool was_ready = rumor_daemon_peer_ready(p);
        p->out_ready = true;
        p->px = f.flags & 1;
        if (f.port) p->port = f.port;
        p->last_heard_ms = now_ms(d);
        peer_ready(d, p, was_ready);
        return;
    }
    on_frame(d, p, LINK_OUT, buf, len);
}

/* ZAP (RFC 27): accept every Curve key that is not banned; its hex is the user id. */
static void zap_request(daemon_t *d)
{
    zmq_msg_t part[8];
    size_t n = 0;
    int more = 1;
    while (more && n < 8) {
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], d->zap->z, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part[n]);
            goto out;
        }
        more = zmq_msg_more(&part[n]);
        n++;
    }
    if (n < 7 || more) goto out; /* libzmq never sends this; nothing to answer */
    char status[4] = "400", user[65] = "";
    if (zmq_msg_size(&part[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&part[6]);
        char address[64] = "";
        if (zmq_msg_size(&part[3]) < sizeof address)
            memcpy(address, zmq_msg_data(&part[3]), zmq_msg_size(&part[3]));
        if (!is_banned(d, key) && rumor_inbound_admit(d, address, key)) {
            memcpy(status, "200", 4);
            rumor_hex_encode(user, key, 32);
        } else {
            d->stats.zap_denied++;
        }
    }
    const char *text = status[0] == '2' ? "OK" : "banned";
    zmq_send(d->zap->z, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(d->zap->z, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    zmq_send(d->zap->z, status, 3, ZMQ_SNDMORE);
    zmq_send(d->zap->z, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(d->zap->z, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(d->zap->z, "", 0, 0);
    mark_dirty(d->zap);
out:
    for (size_t i = 0; i < n; i++) zmq_msg_close(&part[i]);
    /* A multi-part request longer than 8 parts: drop the rest. */
    while (more) {
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, d->zap->z, ZMQ_DONTWAIT) < 0)
            more = 0;
        else
            more = zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
}

/* Reads and drops the rest of a multi-part message. */
static void skip_parts(void *z)
{
    int more = 1;
    while (more) {
        zmq_msg_t x;
        zmq_msg_init(&x);
        more = zmq_msg_recv(&x, z, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
}

static void drain(zsock_t *zs)
{
    daemon_t *d = zs->d;
    /* A BATCH counts for its events, so a catch-up leaves the loop time for the control
     * socket (status shows its progress) and the other peers. */
    d->drain_cost = 0;
    for (int budget = 0; budget + d->drain_cost < DRAIN_BUDGET; budget++) {
        if (!zs->z || (zs->peer && zs->peer->closing)) return;
        uint32_t events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(zs->z, ZMQ_EVENTS, &events, &sz) < 0 || !(events & ZMQ_POLLIN)) return;
        if (zs->kind == ZSOCK_ZAP) {
            zap_request(d);
            continue;
        }
        if (zs->kind == ZSOCK_MONITOR) {
            rumor_inbound_monitor(d, zs->z);
            continue;
        }
        zmq_msg_t a, b;
        zmq_msg_init(&a);
        if (zmq_msg_recv(&a, zs->z, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&a);
            return;
        }
        if (zs->kind == ZSOCK_ROUTER) {
            zmq_msg_init(&b);
            if (!zmq_msg_more(&a) || zmq_msg_recv(&b, zs->z, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&a);
                zmq_msg_close(&b);
                continue;
            }
            if (zmq_msg_more(&b)) {
                skip_parts(zs->z);
                peer_t *p = peer_by_rid(d, zmq_msg_data(&a), zmq_msg_size(&a));
                misbehaved(d, p, "a multi-part message");
            } else {
                router_message(d, &a, &b);
            }
            zmq_msg_close(&b);
        } else {
            if (zmq_msg_more(&a)) {
                skip_parts(zs->z);
                misbehaved(d, zs->peer, "a multi-part message");
            } else {
                dealer_message(d, zs->peer, &a);
            }
        }
        zmq_msg_close(&a);
    }
    mark_dirty(zs); /* budget spent: come back after the loop has looked around */
}

/* ---- heartbeat -------------------------------------------------------------------- */

static void join_timeouts(daemon_t *d)
{
    for (struct join *j = d->joins, *next; j; j = next) {
        next = j->next;
        if (now_ms(d) > j->deadline_ms) {
            join_finish(d, j, RUMOR_ERR_BUSY);
            continue;
        }
        peer_t *p = peer_find(d, j->inv.inviter);
        if (p && j->stalled) join_send_sync(d, j, p, j->want_lamport, j->want_id);
        if (!p && j->state == JOIN_DIAL) {
            /* An earlier dial to the inviter failed: a join does not wait out its back-off. */
            for (size_t i = 0; i < d->n_cands; i++)
                if (memcmp(d->cands[i].pk, j->inv.inviter, ID) == 0) dial(d, &d->cands[i]);
        }
    }
}

/*
 * After someone left a key domain, the member that stays with the highest rank (then the
 * smallest key) writes the rotation that shuts the leaver out (PROTOCOL.md 7.7). The outbox
 * flush below gossips it.
 */
static void rotate_due(daemon_t *d)
{
    for (size_t i = 0; i < d->n_topics; i++) {
        /* Only where rights changed since the last look; never the profile topic. */
        if (!d->topics[i].rights_changed || rumor_is_zero(d->topics[i].id, ID)) continue;
        d->topics[i].rights_changed = false;
        bool written = false;
        uint8_t id[ID];
        int rc = rumor_node_rotate_if_due(d->node, d->topics[i].id, &written, id);
        if (rc < 0) {
            rumor_daemon_log(d, LOG_WARN, "key rotation failed: %s", rumor_strerror(rc));
        } else if (written) {
            d->stats.rotations++;
            char hex[9];
            rumor_hex_encode(hex, d->topics[i].id, 4);
            rumor_daemon_log(d, LOG_INFO, "room %s: a member left; rotated its key", hex);
        }
    }
}

static void on_heartbeat(uv_timer_t *h)
{
    daemon_t *d = h->data;
    uint64_t now = now_ms(d);
    d->heartbeats++;
    mark_dirty(d->monitor);
    rumor_inbound_heartbeat(d);
    for (peer_t *p = d->peers; p; p = p->next) {
        if (p->closing) continue;
        if (!rumor_daemon_peer_ready(p)) {
            if (!p->out) {
                /* Its only link (inbound) went away. */
                peer_drop(d, p, "link closed", false);
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
                peer_drop(d, p, "no answer", false);
            }
            continue;
        }
        p->throttled /= 2;
        if (now - p->last_heard_ms > d->cfg->peer_timeout_ms) {
            peer_drop(d, p, "silent", false);
            continue;
        }
        p->budget = ANSWER_BUDGET;
        if (p->out_stalled && now - p->out_heard_ms > 2 * (uint64_t)d->cfg->heartbeat_ms) {
            /* Refusing sends and silent: its connection died (the peer restarted). */
            rumor_daemon_log(d, LOG_INFO, "peer %s: our link to it stalled; using its link to us",
                             p->hex8);
            zsock_close(&p->out);
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
        send_frame(d, p, &f);
    }
    reap(d);
    rumor_engine_tick(d->engine, now);
    engine_run(d);
    rumor_catchup_heartbeat(d);
    if (d->heartbeats % 10 == 0)
        for (peer_t *p = d->peers; p; p = p->next)
            if (rumor_daemon_peer_ready(p)) {
                send_px(d, p);
                tell_peer(d, p); /* memberships written since it connected */
            }
    if (d->heartbeats % 60 == 0) rumor_book_seen(d);
    rumor_lan_heartbeat(d);
    dial_some(d);
    dial_direct(d);
    rotate_due(d);
    invited_expire(d);
    rumor_txn_t *t;
    uint64_t pending = 0;
    if (rumor_store_read_begin(d->node->store, &t) == RUMOR_OK) {
        pending = rumor_store_outbox_count(t);
        rumor_store_read_end(&t);
    }
    if (pending) rumor_daemon_flush(d);
    d->stats.pending_dropped +=
        rumor_gossip_pending_expire(&d->pending, now, d->cfg->pending_ttl_ms);
    join_timeouts(d);
}

/* ---- start and stop --------------------------------------------------------------- */

static void on_signal(uv_signal_t *h, int sig)
{
    daemon_t *d = h->data;
    rumor_daemon_log(d, LOG_INFO, "signal %d: shutting down", sig);
    d->stopping = true;
    uv_stop(d->loop);
}

int rumor_node_parse_hostport(const char *s, char host[RUMOR_INVITE_HOST_MAX + 1], uint16_t *port)
{
    const char *colon, *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') return RUMOR_ERR_INVALID;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return RUMOR_ERR_INVALID;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl > RUMOR_INVITE_HOST_MAX) return RUMOR_ERR_INVALID;
    memcpy(host, h, hl);
    host[hl] = '\0';
    uint8_t a[16];
    if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
        return RUMOR_ERR_INVALID;
    const char *ps = colon + 1;
    if (!*ps || strlen(ps) > 5) return RUMOR_ERR_INVALID;
    unsigned long v = 0;
    for (const char *c = ps; *c; c++) {
        if (*c < '0' || *c > '9') return RUMOR_ERR_INVALID;
        v = v * 10 + (unsigned long)(*c - '0');
    }
    if (v > 65535) return RUMOR_ERR_INVALID;
    *port = (uint16_t)v;
    return RUMOR_OK;
}

int rumor_node_parse_peer(const char *s, uint8_t pk[ID], char host[RUMOR_INVITE_HOST_MAX + 1],
                          uint16_t *port)
{
    const char *at = strchr(s, '@');
    char hex[RUMOR_ID_HEX + 1];
    uint8_t curve[32];
    if (!at || at - s != RUMOR_ID_HEX) return RUMOR_ERR_INVALID;
    memcpy(hex, s, RUMOR_ID_HEX);
    hex[RUMOR_ID_HEX] = '\0';
    if (rumor_hex_decode(pk, ID, hex) < 0 || rumor_curve_public(curve, pk) < 0)
        return RUMOR_ERR_INVALID;
    int rc = rumor_node_parse_hostport(at + 1, host, port);
    if (rc == RUMOR_OK && *port == 0) rc = RUMOR_ERR_INVALID;
    return rc;
}

static int take_lock(daemon_t *d)
{
    const char *home = d->node->home;
    size_t n = strlen(home) + 32;
    char *path = malloc(n);
    if (!path) return RUMOR_ERR_NOMEM;
    snprintf(path, n, "%s/node.lock", home);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    free(path);
    if (d->lock_fd < 0) return RUMOR_ERR_IO;
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        close(d->lock_fd);
        d->lock_fd = -1;
        return errno == EWOULDBLOCK ? RUMOR_ERR_BUSY : RUMOR_ERR_IO;
    }
    return RUMOR_OK;
}

static int open_links(daemon_t *d, const char *listen)
{
    char host[RUMOR_INVITE_HOST_MAX + 1] = "0.0.0.0";
    uint16_t port = 7470;
    if (listen && rumor_node_parse_hostport(listen, host, &port) < 0) return RUMOR_ERR_INVALID;
    if (!(d->zctx = zmq_ctx_new())) return RUMOR_ERR_NOMEM;
    zmq_ctx_set(d->zctx, ZMQ_IO_THREADS, 1);
    zmq_ctx_set(d->zctx, ZMQ_BLOCKY, 0);
    if (rumor_curve_public(d->curve_pk, rumor_node_id(d->node)) < 0) return RUMOR_ERR_CRYPTO;

    /* The ZAP handler must be bound before any Curve server socket. */
    if (!(d->zap = zsock_open(d, ZMQ_REP, ZSOCK_ZAP))) return RUMOR_ERR_NOMEM;
    if (zmq_bind(d->zap->z, "inproc://zeromq.zap.01") < 0) return RUMOR_ERR_IO;

    if (!(d->router = zsock_open(d, ZMQ_ROUTER, ZSOCK_ROUTER))) return RUMOR_ERR_NOMEM;
    /* Which connections come and go, by descriptor: the only handle ZeroMQ gives on one
     * connection of a ROUTER (inbound.c). */
    if (zmq_socket_monitor(d->router->z, "inproc://rumor.links",
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) < 0 ||
        !(d->monitor = zsock_open(d, ZMQ_PAIR, ZSOCK_MONITOR)))
        return RUMOR_ERR_NOMEM;
    int deep = 100000;
    zmq_setsockopt(d->monitor->z, ZMQ_RCVHWM, &deep, sizeof deep);
    if (zmq_connect(d->monitor->z, "inproc://rumor.links") < 0) return RUMOR_ERR_IO;
    mark_dirty(d->monitor); /* ZMQ_FD signals edges: look once after connecting */
    bool v6 = strchr(host, ':') != NULL;
    link_options(d, d->router->z, v6);
    int one = 1;
    zmq_setsockopt(d->router->z, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(d->router->z, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(d->router->z, ZMQ_CURVE_SECRETKEY, rumor_identity_curve_secret(d->node->id), 32);
    zmq_setsockopt(d->router->z, ZMQ_ZAP_DOMAIN, "rumor", 5);
    char ep[RUMOR_INVITE_HOST_MAX + 32];
    /* The default port taken (a second node on this host): the next free one, announced. A port
     * the user named is theirs: its failure is reported. */
    for (uint16_t tries = listen ? 1 : DEFAULT_PORT_TRIES;; tries--) {
        if (port)
            snprintf(ep, sizeof ep, v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", host, port);
        else
            snprintf(ep, sizeof ep, v6 ? "tcp://[%s]:*" : "tcp://%s:*", host);
        if (zmq_bind(d->router->z, ep) == 0) break;
        int err = errno;
        if (err != EADDRINUSE || tries <= 1) {
            rumor_daemon_log(d, LOG_ERROR, "cannot listen on %s: %s", ep, zmq_strerror(err));
            return RUMOR_ERR_IO;
        }
        rumor_daemon_log(d, LOG_WARN, "port %u is taken (another node on this host?): trying %u",
                         port, port + 1);
        port++;
    }
    char last[256];
    size_t ll = sizeof last;
    if (zmq_getsockopt(d->router->z, ZMQ_LAST_ENDPOINT, last, &ll) == 0) {
        const char *c = strrchr(last, ':');
        if (c) port = (uint16_t)atoi(c + 1);
    }
    snprintf(d->listen_host, sizeof d->listen_host, "%s", host);
    d->listen_port = port;
    return RUMOR_OK;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, h->type == UV_POLL ? zsock_free_cb : NULL);
}

static uint32_t engine_uniform(void *ctx, uint32_t upper)
{
    (void)ctx;
    return randombytes_uniform(upper);
}

/* The daemon's tables (engine, batch, pending, candidates, bans, rates); no socket. */
static int tables_open(daemon_t *d)
{
    const rumor_node_config_t *cfg = d->cfg;
    rumor_engine_opts_t eo = {.d = cfg->d,
                              .d_lo = cfg->d_lo,
                              .d_hi = cfg->d_hi,
                              .d_lazy = cfg->d_lazy,
                              .history_length = cfg->history_length,
                              .history_gossip = cfg->history_gossip,
                              .seen_max = cfg->seen_max,
                              .seen_ttl_ms = cfg->seen_ttl_ms,
                              .strategy = (uint8_t)rumor_strategy_parse(cfg->strategy),
                              .repair_ms = cfg->heartbeat_ms / 4,
                              .uniform = engine_uniform,
                              .has = engine_has,
                              .has_ctx = d};
    d->engine = rumor_engine_new(&eo);
    d->batch = batch_new(cfg->batch_max);
    d->cands = calloc(cfg->passive_max + 1, sizeof *d->cands);
    d->hearsay_dials = (rumor_gossip_bucket_t){HEARSAY_DIAL_BURST, 0};
    rumor_gossip_rate_t author_events = {cfg->author_events_per_s, 10.0 * cfg->author_events_per_s};
    rumor_gossip_rate_t author_bytes = {cfg->author_bytes_per_s, 10.0 * cfg->author_bytes_per_s};
    rumor_gossip_rate_t topic_bytes = {cfg->peer_topic_bytes_per_s,
                                       2.0 * cfg->peer_topic_bytes_per_s};
    d->banned = calloc(BANS_MAX, sizeof *d->banned);
    if (!d->engine || !d->batch || !d->cands || !d->banned ||
        rumor_gossip_pending_init(&d->pending, cfg->pending_max) < 0 ||
        rumor_catchup_start(d) < 0 || rumor_inbound_init(d) < 0 ||
        rumor_gossip_quota_init(&d->authors, RATES_TRACKED, author_events, author_bytes) < 0 ||
        rumor_gossip_quota_init(&d->peer_topics, RATES_TRACKED, (rumor_gossip_rate_t){0, 0},
                                topic_bytes) < 0)
        return RUMOR_ERR_NOMEM;
    return RUMOR_OK;
}

/* Frees what tables_open made, and the daemon. */
static void tables_close(daemon_t *d)
{
    rumor_catchup_stop(d);
    rumor_inbound_free(d);
    rumor_gossip_quota_free(&d->authors);
    rumor_gossip_quota_free(&d->peer_topics);
    rumor_lan_free(d);
    rumor_engine_free(&d->engine);
    batch_free(&d->batch);
    rumor_gossip_pending_free(&d->pending);
    free(d->cands);
    free(d->banned);
    free(d->topics);
    free(d);
}

int rumor_node_run(rumor_node_t *node, const rumor_node_run_t *opt)
{
    static const char *levels[] = {"error", "warn", "info", "debug"};
    if (!node->id) return RUMOR_ERR_PASSPHRASE;
    daemon_t *d = calloc(1, sizeof *d);
    uv_loop_t loop;
    int rc = RUMOR_OK;
    if (!d) return RUMOR_ERR_NOMEM;
    d->node = node;
    d->cfg = opt->cfg;
    d->lock_fd = -1;
    d->log_level = LOG_INFO;
    for (int i = 0; i < 4; i++)
        if (strcmp(opt->cfg->log_level, levels[i]) == 0) d->log_level = i;
    d->log_json = strcmp(opt->cfg->log_format, "json") == 0;
    d->lan = opt->lan;
    d->start_ms = rumor_now_ms();
    signal(SIGPIPE, SIG_IGN);
    /* libzmq's I/O thread would otherwise get a malloc arena of its own: hundreds of nodes share a
     * machine, and an idle node should stay small. */
    mallopt(M_ARENA_MAX, 1);
    if (uv_loop_init(&loop) < 0) {
        free(d);
        return RUMOR_ERR_NOMEM;
    }
    d->loop = &loop;
    uv_idle_init(&loop, &d->idle);
    d->idle.data = d;
    if ((rc = tables_open(d)) < 0) goto out;
    if ((rc = take_lock(d)) < 0) goto out;
    if (opt->cfg->trace_file[0] && !(d->trace = fopen(opt->cfg->trace_file, "a"))) {
        rumor_daemon_log(d, LOG_ERROR, "cannot open the trace file");
        rc = RUMOR_ERR_IO;
        goto out;
    }
    for (size_t i = 0; i < opt->n_peers; i++) {
        uint8_t pk[ID];
        char host[RUMOR_INVITE_HOST_MAX + 1];
        uint16_t port;
        if (rumor_node_parse_peer(opt->peers[i], pk, host, &port) < 0) {
            rc = RUMOR_ERR_INVALID;
            goto out;
        }
        rumor_daemon_candidate(d, pk, host, port, RUMOR_FOUND_BOOTSTRAP, NULL);
    }
    if ((rc = open_links(d, opt->listen)) < 0) goto out;
    rumor_book_load(d);
    if ((rc = rumor_ctl_start(d)) < 0) goto out;
    if (d->lan && (rc = rumor_lan_start(d)) < 0) goto out;
    rumor_daemon_resubscribe(d);

    uv_signal_init(&loop, &d->sigint);
    uv_signal_init(&loop, &d->sigterm);
    d->sigint.data = d->sigterm.data = d;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_timer_init(&loop, &d->heartbeat);
    d->heartbeat.data = d;
    uv_timer_start(&d->heartbeat, on_heartbeat, 0, opt->cfg->heartbeat_ms);
    char id[RUMOR_ID_HEX + 1];
    rumor_hex_encode(id, rumor_node_id(node), ID);
    rumor_daemon_log(d, LOG_INFO, "listening on %s:%u as %s%s", d->listen_host, d->listen_port, id,
                     d->lan ? ", LAN discovery on" : "");

    uv_run(&loop, UV_RUN_DEFAULT);
    process_batch(d);
    rc = RUMOR_OK;
out:
    while (d->joins) join_finish(d, d->joins, RUMOR_ERR_BUSY);
    rumor_ctl_stop(d);
    rumor_lan_stop(d);
    for (peer_t *p = d->peers; p; p = p->next) p->closing = true;
    reap(d);
    if (d->router) zmq_socket_monitor(d->router->z, NULL, 0);
    zsock_close(&d->monitor);
    zsock_close(&d->router);
    zsock_close(&d->zap);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (d->zctx) zmq_ctx_term(d->zctx);
    if (d->trace) fclose(d->trace);
    if (d->lock_fd >= 0) close(d->lock_fd);
    tables_close(d);
    return rc;
}

/* ---- offline: the frame handlers without sockets (tests/fuzz/fuzz_handlers.c) -------- */

int rumor_daemon_offline_open(rumor_node_t *node, const rumor_node_config_t *cfg, daemon_t **out)
{
    *out = NULL;
    if (!node->id) return RUMOR_ERR_PASSPHRASE;
    daemon_t *d = calloc(1, sizeof *d);
    uv_loop_t *loop = calloc(1, sizeof *loop);
    if (!d || !loop || uv_loop_init(loop) < 0) {
        free(d);
        free(loop);
        return RUMOR_ERR_NOMEM;
    }
    d->node = node;
    d->cfg = cfg;
    d->lock_fd = -1;
    d->log_level = LOG_ERROR;
    d->loop = loop;
    d->start_ms = rumor_now_ms();
    int rc = tables_open(d);
    if (rc < 0) {
        uv_loop_close(loop);
        free(loop);
        tables_close(d);
        return rc;
    }
    rumor_daemon_resubscribe(d);
    *out = d;
    return RUMOR_OK;
}

peer_t *rumor_daemon_offline_peer(daemon_t *d, const uint8_t pk[ID])
{
    peer_t *p = peer_new(d, pk, RUMOR_FOUND_INBOUND);
    if (!p) return NULL;
    p->in_ready = true; /* with no routing id: what is sent to it goes nowhere */
    peer_ready(d, p, false);
    return p;
}

void rumor_daemon_offline_frame(daemon_t *d, peer_t *p, const uint8_t *buf, size_t len)
{
    d->stats.frames_in++;
    if (!p->closing) on_frame(d, p, LINK_IN, buf, len);
    process_batch(d);
}

void rumor_daemon_offline_close(daemon_t **dp)
{
    daemon_t *d = *dp;
    if (!d) return;
    *dp = NULL;
    process_batch(d);
    while (d->joins) join_finish(d, d->joins, RUMOR_ERR_BUSY);
    for (peer_t *p = d->peers; p; p = p->next) p->closing = true;
    reap(d);
    uv_loop_t *loop = d->loop;
    tables_close(d);
    uv_loop_close(loop);
    free(loop);
}
