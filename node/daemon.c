/*
 * daemon.c - the running node (PROTOCOL.md 9-11): its start and stop, the heartbeat, the topics
 * it subscribes to, the dissemination engine's wiring, each frame of a peer handed to its
 * handler, logging, and an offline daemon for the frame-handler fuzz target.
 *
 * The rest of the running node: links.c (ZeroMQ sockets and HELLO), peers.c (the peer table,
 * candidates, peer exchange, views), join.c (invites and SYNC), events.c (the batch transaction
 * and the outbox), inbound.c, catchup.c, book.c, lan.c, lanjoin.c and control.c.
 */
#include "daemon_core.h"

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

#define ID RUMOR_ID_BYTES

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

/* ---- topics and the mesh ---------------------------------------------------------- */

int rumor_daemon_id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ID);
}

topic_t *rumor_daemon_topic(daemon_t *d, const uint8_t id[ID])
{
    if (!d->n_topics) return NULL;
    return bsearch(id, d->topics, d->n_topics, sizeof *d->topics, rumor_daemon_id_cmp);
}

bool rumor_daemon_holds(daemon_t *d, const uint8_t topic[ID])
{
    return rumor_daemon_topic(d, topic) != NULL;
}

bool rumor_daemon_peer_subscribes(const peer_t *p, const uint8_t topic[ID])
{
    return p->n_subs && bsearch(topic, p->subs, p->n_subs, ID, rumor_daemon_id_cmp) != NULL;
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
            if (rumor_daemon_peer_ready(p)) rumor_peers_view(d, p, false);
        return;
    }
    topic_t *nt = calloc(n, sizeof *nt);
    if (!nt) {
        free(ids);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(nt[i].id, ids[i], ID);
        topic_t *old = rumor_daemon_topic(d, ids[i]);
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
            rumor_peers_view(d, p, false);
            rumor_peers_tell(d, p); /* a room or conversation just made may have it as a member */
        }
    rumor_engine_fill(d->engine);
    rumor_daemon_engine_run(d);
}

/* ---- the engine ------------------------------------------------------------------- */

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
            rumor_event_decode(buf, len, &ev) < 0 || rumor_events_topic(t, &ev, topic) < 0 ||
            !rumor_daemon_peer_subscribes(p, topic))
            continue;
        memcpy(frame + 2, buf, len);
        if (rumor_daemon_send(d, p, frame, len + 2)) d->stats.iwant_served++;
        p->budget--;
    }
    rumor_store_read_end(&t);
    free(frame);
}

/* The engine's expiry is due (a tree repair): it does what is due, and its actions go out. */
static void on_expiry(uv_timer_t *h)
{
    daemon_t *d = h->data;
    d->expiry_at = 0;
    rumor_engine_expire(d->engine, rumor_daemon_loop_ms(d));
    rumor_daemon_engine_run(d);
}

/* Arms the timer for the engine's next expiry, when it changed. */
static void arm_expiry(daemon_t *d)
{
    uint64_t next = rumor_engine_next_expiry(d->engine);
    if (!d->expiry_on || next == UINT64_MAX || next == d->expiry_at) return;
    uint64_t now = rumor_daemon_loop_ms(d);
    d->expiry_at = next;
    uv_timer_start(&d->expiry, on_expiry, next > now ? next - now : 0, 0);
}

/* Carries out what the engine decided: frames to send, events to serve, peers to drop; then arms
 * the timer for its next expiry. */
void rumor_daemon_engine_run(daemon_t *d)
{
    rumor_engine_action_t a;
    while (rumor_engine_next(d->engine, &a)) {
        peer_t *p = a.user;
        if (!p || p->closing) continue;
        if (a.type == RUMOR_ENGINE_SERVE) {
            serve(d, p, a.ids, a.n);
            continue;
        }
        if (a.type == RUMOR_ENGINE_DROP) { /* PROTOCOL.md 9.8: not heard again */
            d->stats.score_banned++;
            rumor_peers_drop(d, p, "its score fell below score_graylist", true);
            continue;
        }
        if (!rumor_daemon_send(d, p, a.buf, a.len)) continue;
        switch (a.count) {
        case RUMOR_ENGINE_COUNT_FORWARDED: d->stats.forwarded++; break;
        case RUMOR_ENGINE_COUNT_GRAFT: d->stats.graft_out++; break;
        case RUMOR_ENGINE_COUNT_PRUNE: d->stats.prune_out++; break;
        case RUMOR_ENGINE_COUNT_IHAVE: d->stats.ihave_out++; break;
        case RUMOR_ENGINE_COUNT_IWANT: d->stats.iwant_out++; break;
        default: break;
        }
    }
    arm_expiry(d);
}

/* The engine's question: do we hold the event (stored)? An IHAVE's ids are looked up in one read
 * transaction (engine_txn); a lone question (a tree repair due) opens its own. The pending set is
 * not scanned for each id a peer names; a pending event asked for again is a duplicate. */
static bool engine_has(void *ctx, const uint8_t id[ID])
{
    daemon_t *d = ctx;
    if (d->engine_txn) return rumor_store_event_has(d->engine_txn, id);
    rumor_txn_t *t;
    if (rumor_store_read_begin(d->node->store, &t) < 0) return false;
    bool has = rumor_store_event_has(t, id);
    rumor_store_read_end(&t);
    return has;
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
    rumor_engine_frame(d->engine, p->eh, f, rumor_daemon_loop_ms(d));
    if (reads) rumor_store_read_end(&d->engine_txn);
    rumor_daemon_engine_run(d);
}

/* ---- frames ----------------------------------------------------------------------- */

/* Takes a token from the peer's bucket; false when it is over its rate. */
static bool rate_ok(daemon_t *d, peer_t *p)
{
    uint64_t now = rumor_daemon_loop_ms(d);
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
void rumor_daemon_on_frame(daemon_t *d, peer_t *p, int link, const uint8_t *buf, size_t len)
{
    rumor_wire_frame_t f;
    if (rumor_peers_graylisted(d, p)) return; /* its frame unread */
    if (!rate_ok(d, p)) return;
    p->last_heard_ms = rumor_daemon_loop_ms(d);
    if (rumor_wire_decode(buf, len, &f) < 0) {
        rumor_peers_misbehaved(d, p, "a malformed frame");
        return;
    }
    switch (f.type) {
    case RUMOR_WIRE_HELLO: d->stats.hello_in++; break; /* a repeat: nothing new */
    case RUMOR_WIRE_PING: {
        d->stats.ping_in++;
        rumor_wire_frame_t r = {.type = RUMOR_WIRE_PONG, .nonce = f.nonce};
        /* The link that asked is the one being measured. */
        rumor_links_send_frame_on(d, p, link, &r);
        break;
    }
    case RUMOR_WIRE_PONG:
        d->stats.pong_in++;
        if (f.nonce == p->ping_nonce && p->ping_sent_us) {
            p->rtt_us = uv_hrtime() / 1000 - p->ping_sent_us;
            p->ping_sent_us = 0;
        }
        break;
    case RUMOR_WIRE_SUB: rumor_peers_on_sub(d, p, &f); break;
    case RUMOR_WIRE_GRAFT:
    case RUMOR_WIRE_PRUNE:
    case RUMOR_WIRE_IHAVE:
    case RUMOR_WIRE_IWANT: on_dissemination(d, p, &f); break;
    case RUMOR_WIRE_EVENT: {
        bool by_sync = rumor_join_syncing_from(d, p->pk);
        /* A join's history comes as fast as the inviter sends it; anything else is rationed. */
        if (!by_sync &&
            !rumor_gossip_bucket_spend(&p->bytes, (double)len, d->cfg->peer_bytes_per_s,
                                       2.0 * d->cfg->peer_bytes_per_s, rumor_daemon_loop_ms(d))) {
            d->stats.throttled++;
            rumor_peers_over_rate(d, p);
            break;
        }
        rumor_daemon_queue_event(d, p, buf, len, by_sync ? ORIGIN_SYNC : ORIGIN_PUSH);
        break;
    }
    case RUMOR_WIRE_PEERS: rumor_peers_on_peers(d, p, &f); break;
    case RUMOR_WIRE_JOIN:
    case RUMOR_WIRE_JOINED:
    case RUMOR_WIRE_SYNC:
    case RUMOR_WIRE_SYNC_END: rumor_join_on_frame(d, p, &f); break;
    case RUMOR_WIRE_RECON:
    case RUMOR_WIRE_BATCH:
    case RUMOR_WIRE_CREDIT: rumor_catchup_on_frame(d, p, &f, len); break;
    case RUMOR_WIRE_INVITED: rumor_peers_on_invited(d, p, &f); break;
    case RUMOR_WIRE_LAN_CODE:
    case RUMOR_WIRE_LAN_INVITE: rumor_lan_on_frame(d, p, &f); break;
    default: rumor_peers_misbehaved(d, p, "an unknown frame"); break;
    }
}

/* ---- heartbeat -------------------------------------------------------------------- */

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
    uint64_t now = rumor_daemon_loop_ms(d);
    d->heartbeats++;
    rumor_links_mark_dirty(d->monitor);
    rumor_inbound_heartbeat(d);
    rumor_peers_heartbeat(d, now);
    rumor_engine_tick(d->engine, now);
    rumor_daemon_engine_run(d);
    rumor_catchup_heartbeat(d);
    if (d->heartbeats % 10 == 0)
        for (peer_t *p = d->peers; p; p = p->next)
            if (rumor_daemon_peer_ready(p)) {
                rumor_peers_send_px(d, p);
                rumor_peers_tell(d, p); /* memberships written since it connected */
            }
    if (d->heartbeats % 60 == 0) rumor_book_seen(d);
    rumor_lan_heartbeat(d);
    rumor_peers_dial_some(d);
    rumor_peers_dial_direct(d);
    rotate_due(d);
    rumor_peers_invited_expire(d);
    rumor_txn_t *t;
    uint64_t pending = 0;
    if (rumor_store_read_begin(d->node->store, &t) == RUMOR_OK) {
        pending = rumor_store_outbox_count(t);
        rumor_store_read_end(&t);
    }
    if (pending) rumor_daemon_flush(d);
    d->stats.pending_dropped +=
        rumor_gossip_pending_expire(&d->pending, now, d->cfg->pending_ttl_ms);
    rumor_join_heartbeat(d);
}

/* ---- start and stop --------------------------------------------------------------- */

static void on_signal(uv_signal_t *h, int sig)
{
    daemon_t *d = h->data;
    rumor_daemon_log(d, LOG_INFO, "signal %d: shutting down", sig);
    d->stopping = true;
    uv_stop(d->loop);
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
    eo.score = (rumor_engine_score_opts_t){.on = cfg->score,
                                           .w1 = cfg->score_w1,
                                           .w2 = cfg->score_w2,
                                           .w3 = cfg->score_w3,
                                           .w3b = cfg->score_w3b,
                                           .w4 = cfg->score_w4,
                                           .w5 = cfg->score_w5,
                                           .w6 = cfg->score_w6,
                                           .w7 = cfg->score_w7,
                                           .graft = cfg->score_graft,
                                           .gossip = cfg->score_gossip,
                                           .publish = cfg->score_publish,
                                           .graylist = cfg->score_graylist,
                                           .opportunistic = cfg->score_opportunistic,
                                           .ip_max = cfg->score_ip_max,
                                           .d_score = cfg->score_d,
                                           .backoff_ms = cfg->score_backoff_ms};
    d->engine = rumor_engine_new(&eo);
    if (!d->engine || rumor_events_open(d) < 0 || rumor_peers_open(d) < 0 ||
        rumor_catchup_start(d) < 0 || rumor_inbound_init(d) < 0)
        return RUMOR_ERR_NOMEM;
    return RUMOR_OK;
}

/* Frees what tables_open made, and the daemon. */
static void tables_close(daemon_t *d)
{
    rumor_catchup_stop(d);
    rumor_inbound_free(d);
    rumor_lan_free(d);
    rumor_engine_free(&d->engine);
    rumor_events_close(d);
    rumor_peers_close(d);
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
    if ((rc = rumor_links_open(d, opt->listen)) < 0) goto out;
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
    uv_timer_init(&loop, &d->expiry);
    d->expiry.data = d;
    d->expiry_on = true;
    char id[RUMOR_ID_HEX + 1];
    rumor_hex_encode(id, rumor_node_id(node), ID);
    rumor_daemon_log(d, LOG_INFO, "listening on %s:%u as %s%s", d->listen_host, d->listen_port, id,
                     d->lan ? ", LAN discovery on" : "");

    uv_run(&loop, UV_RUN_DEFAULT);
    rumor_events_process_batch(d);
    rc = RUMOR_OK;
out:
    rumor_join_stop(d);
    rumor_ctl_stop(d);
    rumor_lan_stop(d);
    for (peer_t *p = d->peers; p; p = p->next) p->closing = true;
    rumor_peers_reap(d);
    rumor_links_close(d);
    uv_walk(&loop, rumor_links_close_handle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    rumor_links_term(d);
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
    peer_t *p = rumor_peers_new(d, pk, RUMOR_FOUND_INBOUND);
    if (!p) return NULL;
    p->in_ready = true; /* with no routing id: what is sent to it goes nowhere */
    rumor_peers_up(d, p, false);
    return p;
}

void rumor_daemon_offline_frame(daemon_t *d, peer_t *p, const uint8_t *buf, size_t len)
{
    d->stats.frames_in++;
    if (!p->closing) rumor_daemon_on_frame(d, p, LINK_IN, buf, len);
    rumor_events_process_batch(d);
}

void rumor_daemon_offline_close(daemon_t **dp)
{
    daemon_t *d = *dp;
    if (!d) return;
    *dp = NULL;
    rumor_events_process_batch(d);
    rumor_join_stop(d);
    for (peer_t *p = d->peers; p; p = p->next) p->closing = true;
    rumor_peers_reap(d);
    uv_loop_t *loop = d->loop;
    tables_close(d);
    uv_loop_close(loop);
    free(loop);
}
