/*
 * control.c - the control socket (PROTOCOL.md 11): the node's side on the
 * libuv loop, and the CLI's blocking side.
 */
#define _GNU_SOURCE /* struct ucred */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

/* A follower whose unread output passes this is too slow and is dropped. */
#define FOLLOW_QUEUE_MAX ((size_t)4 << 20)

typedef struct ctl_client ctl_client_t;

struct ctl_client {
    uv_pipe_t pipe;
    daemon_t *d;
    uint8_t *buf; /* bytes read, not yet handled */
    size_t len, cap;
    bool follow;      /* streams deliveries */
    bool follow_room; /* only those of `room` */
    uint8_t room[ID];
    bool closing;
    ctl_client_t *next;
};

/* The control socket, from rumor_ctl_start until its handle has closed. */
struct ctl_server {
    uv_pipe_t pipe;        /* listening on `path` */
    daemon_t *d;           /* owner */
    ctl_client_t *clients; /* connected clients */
    char *path;            /* the socket file: <home>/node.sock */
};

static struct ctl_server *server_of(daemon_t *d)
{
    return *rumor_daemon_ctl_slot(d);
}

typedef struct {
    uv_write_t req;
    size_t len;
    uint8_t data[]; /* the message */
} wreq_t;

static void client_free(uv_handle_t *h)
{
    ctl_client_t *c = h->data;
    if (c->buf) rumor_wipe(c->buf, c->cap); /* requests may have carried room keys (key_seal) */
    free(c->buf);
    free(c);
}

static void client_close(ctl_client_t *c)
{
    if (c->closing) return;
    c->closing = true;
    daemon_t *d = c->d;
    for (ctl_client_t **q = &server_of(d)->clients; *q; q = &(*q)->next)
        if (*q == c) {
            *q = c->next;
            break;
        }
    rumor_daemon_join_cancel(d, c);
    rumor_lan_cancel(d, c);
    uv_close((uv_handle_t *)&c->pipe, client_free);
}

static void write_done(uv_write_t *req, int status)
{
    (void)status;
    wreq_t *r = (wreq_t *)req;
    rumor_wipe(r->data, r->len); /* an agent's answer may be a room key */
    free(r);
}

/* Sends the writer's message; on failure the client is closed. */
static void client_send(ctl_client_t *c, rumor_ctl_writer_t *w)
{
    const uint8_t *msg;
    size_t len;
    if (c->closing) goto out;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > FOLLOW_QUEUE_MAX) {
        /* A client that does not read its answers does not get to grow our memory. */
        rumor_daemon_log(c->d, LOG_WARN, "a control client reads too slowly: dropped");
        client_close(c);
        goto out;
    }
    if (rumor_ctl_writer_finish(w, &msg, &len) < 0) {
        /* A reply we cannot build is our bug: say so rather than leave the client waiting. */
        rumor_daemon_log(c->d, LOG_ERROR, "a control reply could not be encoded");
        rumor_ctl_writer_free(w);
        rumor_ctl_writer_init(w);
        rumor_ctl_put_bool(w, "ok", false);
        rumor_ctl_put_str(w, "error", "reply too large", 15);
        if (rumor_ctl_writer_finish(w, &msg, &len) < 0) goto out;
    }
    wreq_t *r = malloc(sizeof *r + len);
    if (!r) {
        client_close(c);
        goto out;
    }
    memcpy(r->data, msg, len);
    r->len = len;
    uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)len);
    if (uv_write(&r->req, (uv_stream_t *)&c->pipe, &b, 1, write_done) < 0) {
        free(r);
        client_close(c);
    }
out:
    rumor_ctl_writer_free(w);
}

static void send_error(ctl_client_t *c, int rc, const char *why)
{
    rumor_ctl_writer_t w;
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_bool(&w, "ok", false);
    rumor_ctl_put_str(&w, "error", why, strlen(why));
    rumor_ctl_put_u64(&w, "code", (uint64_t)-rc);
    client_send(c, &w);
}

static void put_hex(rumor_ctl_writer_t *w, const char *key, const uint8_t *id)
{
    char hex[RUMOR_ID_HEX + 1];
    rumor_hex_encode(hex, id, ID);
    rumor_ctl_put_str(w, key, hex, RUMOR_ID_HEX);
}

/* The host to give others: the listen host, or for a wildcard the first LAN address. */
static void advertised_host(daemon_t *d, char *out, size_t cap)
{
    snprintf(out, cap, "%s", rumor_daemon_listen_host(d));
    if (strcmp(rumor_daemon_listen_host(d), "0.0.0.0") != 0 &&
        strcmp(rumor_daemon_listen_host(d), "::") != 0)
        return;
    snprintf(out, cap, "127.0.0.1");
    uv_interface_address_t *ifs;
    int n;
    if (uv_interface_addresses(&ifs, &n) < 0) return;
    for (int i = 0; i < n; i++)
        if (!ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET) {
            uv_ip4_name(&ifs[i].address.address4, out, cap);
            break;
        }
    uv_free_interface_addresses(ifs, n);
}

static void op_status(ctl_client_t *c)
{
    daemon_t *d = c->d;
    rumor_ctl_writer_t w;
    char host[RUMOR_INVITE_HOST_MAX + 1], buf[RUMOR_ID_HEX + RUMOR_INVITE_HOST_MAX + 16];
    char id[RUMOR_ID_HEX + 1];
    rumor_node_counts_t counts = {0};
    rumor_node_counts(rumor_daemon_node(d), &counts);
    rumor_hex_encode(id, rumor_node_id(rumor_daemon_node(d)), ID);
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_bool(&w, "ok", true);
    rumor_ctl_put_str(&w, "id", id, RUMOR_ID_HEX);
    bool v6 = strchr(rumor_daemon_listen_host(d), ':') != NULL;
    snprintf(buf, sizeof buf, v6 ? "[%s]:%u" : "%s:%u", rumor_daemon_listen_host(d),
             rumor_daemon_listen_port(d));
    rumor_ctl_put_str(&w, "listen", buf, strlen(buf));
    advertised_host(d, host, sizeof host);
    v6 = strchr(host, ':') != NULL;
    snprintf(buf, sizeof buf, v6 ? "%s@[%s]:%u" : "%s@%s:%u", id, host,
             rumor_daemon_listen_port(d));
    rumor_ctl_put_str(&w, "address", buf, strlen(buf));
    rumor_ctl_put_str(&w, "host", host, strlen(host));
    rumor_ctl_put_u64(&w, "port", rumor_daemon_listen_port(d));
    rumor_ctl_put_u64(&w, "peers", rumor_daemon_peer_count(d));
    rumor_ctl_put_u64(&w, "candidates", rumor_daemon_cand_count(d));
    rumor_ctl_put_u64(&w, "rooms", counts.rooms);
    rumor_ctl_put_u64(&w, "events", counts.events);
    rumor_ctl_put_u64(&w, "outbox", counts.outbox);
    rumor_ctl_put_u64(&w, "topics",
                      rumor_daemon_topic_count(d) ? rumor_daemon_topic_count(d) - 1 : 0);
    rumor_ctl_put_bool(&w, "lan", rumor_daemon_lan_on(d));
    if (rumor_daemon_cfg(d)->notify_cmd[0])
        rumor_ctl_put_str(&w, "notify_cmd", rumor_daemon_cfg(d)->notify_cmd,
                          strlen(rumor_daemon_cfg(d)->notify_cmd));
    rumor_catchup_progress_t cp;
    rumor_catchup_progress(d, &cp);
    rumor_ctl_put_u64(&w, "catchup_peers", cp.peers_in);
    rumor_ctl_put_u64(&w, "catchup_events", cp.events_in);
    rumor_ctl_put_u64(&w, "catchup_remaining", cp.remaining_in);
    rumor_ctl_put_u64(&w, "sending_peers", cp.peers_out);
    rumor_ctl_put_u64(&w, "sending_remaining", cp.remaining_out);
    rumor_ctl_put_u64(&w, "exchanges", cp.exchanges);
    rumor_ctl_put_u64(&w, "uptime_ms", rumor_daemon_uptime_ms(d));
    rumor_ctl_put_u64(&w, "pid", (uint64_t)getpid());
    client_send(c, &w);
}

static void op_peers(ctl_client_t *c)
{
    daemon_t *d = c->d;
    for (peer_t *p = rumor_daemon_peers(d); p; p = rumor_peer_next(p)) {
        if (!rumor_daemon_peer_ready(p)) continue;
        rumor_ctl_writer_t w;
        char addr[RUMOR_INVITE_HOST_MAX + 16];
        bool v6 = strchr(rumor_peer_host(p), ':') != NULL;
        snprintf(addr, sizeof addr, v6 ? "[%s]:%u" : "%s:%u", rumor_peer_host(p),
                 rumor_peer_port(p));
        rumor_ctl_writer_init(&w);
        put_hex(&w, "id", rumor_peer_pk(p));
        rumor_ctl_put_str(&w, "address", addr, strlen(addr));
        const char *found = rumor_daemon_found_name(rumor_peer_found(p));
        rumor_ctl_put_str(&w, "found", found, strlen(found));
        rumor_peer_info_t info;
        rumor_daemon_peer_info(d, p, &info);
        rumor_ctl_put_str(&w, "direction", info.direction, strlen(info.direction));
        rumor_ctl_put_u64(&w, "rtt_us", info.rtt_us);
        rumor_ctl_put_u64(&w, "since_ms", info.since_ms);
        rumor_ctl_put_u64(&w, "topics", info.n_topics);
        if (info.scored) {
            const rumor_engine_score_t *sc = &info.score;
            /* Scores are this node's own view, never sent to anyone (PROTOCOL.md 9.8). */
            rumor_ctl_put_f64(&w, "score", sc->score);
            rumor_ctl_put_f64(&w, "score_p1", sc->p1);
            rumor_ctl_put_f64(&w, "score_p2", sc->p2);
            rumor_ctl_put_f64(&w, "score_p3", sc->p3);
            rumor_ctl_put_f64(&w, "score_p3b", sc->p3b);
            rumor_ctl_put_f64(&w, "score_p4", sc->p4);
            rumor_ctl_put_f64(&w, "score_p5", sc->p5);
            rumor_ctl_put_f64(&w, "score_p6", sc->p6);
            rumor_ctl_put_f64(&w, "score_p7", sc->p7);
            rumor_ctl_put_bool(&w, "graylisted", info.graylisted);
        }
        client_send(c, &w);
    }
    rumor_ctl_writer_t w;
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_bool(&w, "ok", true);
    client_send(c, &w);
}

/*
 * A config string as a string field, or as bytes when it is not UTF-8 (a
 * path may be any bytes), so that it never fails the record.
 */
static void put_text(rumor_ctl_writer_t *w, const char *key, const char *s)
{
    size_t len = strlen(s);
    if (rumor_utf8_valid((const uint8_t *)s, len))
        rumor_ctl_put_str(w, key, s, len);
    else
        rumor_ctl_put_bytes(w, key, (const uint8_t *)s, len);
}

/*
 * `stats` answers in one record (PROTOCOL.md 11): ok, the counters, the
 * latency buckets, peers, and every config key as param_<key>.
 */
#define COUNT_ONE_(...) +1
enum { STATS_COUNTERS = 0 RUMOR_DAEMON_STATS(COUNT_ONE_) };
enum {
    CONFIG_KEYS = 0 RUMOR_CONFIG_KEYS(COUNT_ONE_, COUNT_ONE_, COUNT_ONE_, COUNT_ONE_, COUNT_ONE_)
};
#undef COUNT_ONE_
_Static_assert(1 + STATS_COUNTERS + RUMOR_LATENCY_BUCKETS + 1 + CONFIG_KEYS <= RUMOR_CTL_FIELDS_MAX,
               "stats must fit one control record");
#define KEY_FITS_(key, ...)                                                                        \
    _Static_assert(sizeof "param_" #key - 1 <= RUMOR_CTL_KEY_MAX, "param_" #key " is too long");
RUMOR_CONFIG_KEYS(KEY_FITS_, KEY_FITS_, KEY_FITS_, KEY_FITS_, KEY_FITS_)
#undef KEY_FITS_

static void op_stats(ctl_client_t *c)
{
    daemon_t *d = c->d;
    const rumor_node_config_t *cfg = rumor_daemon_cfg(d);
    rumor_daemon_stats_from_engine(d); /* the engine counts some itself */
    const rumor_daemon_stats_t *stats = rumor_daemon_stats(d);
    const uint64_t *latency = rumor_daemon_latency(d);
    rumor_ctl_writer_t w;
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_bool(&w, "ok", true);
#define RUMOR_STAT_PUT_(name) rumor_ctl_put_u64(&w, #name, stats->name);
    RUMOR_DAEMON_STATS(RUMOR_STAT_PUT_)
#undef RUMOR_STAT_PUT_
    char key[32];
    for (size_t i = 0; i < RUMOR_LATENCY_BUCKETS; i++) {
        if (i < RUMOR_LATENCY_BUCKETS - 1)
            snprintf(key, sizeof key, "latency_le_%ums", rumor_latency_bounds_ms[i]);
        else
            snprintf(key, sizeof key, "latency_over_%ums",
                     rumor_latency_bounds_ms[RUMOR_LATENCY_BUCKETS - 2]);
        rumor_ctl_put_u64(&w, key, latency[i]);
    }
    rumor_ctl_put_u64(&w, "peers", rumor_daemon_peer_count(d));
#define PUT_U32_(key, ...)  rumor_ctl_put_u64(&w, "param_" #key, cfg->key);
#define PUT_BOOL_(key, ...) rumor_ctl_put_bool(&w, "param_" #key, cfg->key);
#define PUT_TEXT_(key, ...) put_text(&w, "param_" #key, cfg->key);
#define PUT_REAL_(key, ...) rumor_ctl_put_f64(&w, "param_" #key, cfg->key);
    RUMOR_CONFIG_KEYS(PUT_U32_, PUT_BOOL_, PUT_TEXT_, PUT_TEXT_, PUT_REAL_)
#undef PUT_REAL_
#undef PUT_U32_
#undef PUT_BOOL_
#undef PUT_TEXT_
    client_send(c, &w);
}

static void join_done(void *ctx, int rc, const uint8_t room[ID])
{
    ctl_client_t *c = ctx;
    if (rc < 0) {
        send_error(c, rc,
                   rc == RUMOR_ERR_NOT_FOUND ? "the inviter does not know this invite (used or "
                                               "wrong code)"
                   : rc == RUMOR_ERR_BUSY    ? "the inviter could not be reached in time"
                                             : rumor_strerror(rc));
        return;
    }
    rumor_ctl_writer_t w;
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_bool(&w, "ok", true);
    put_hex(&w, "room", room);
    client_send(c, &w);
}

/* A join by a LAN code: the LAN's answer first, then the join itself (10.2). */
static void lan_join_done(void *ctx, int rc, const uint8_t room[ID])
{
    ctl_client_t *c = ctx;
    if (rc == RUMOR_ERR_NOT_FOUND && !room)
        send_error(c, rc,
                   "no node on this LAN answered to this code in 30 s: check the code, that it is "
                   "less than 10 minutes old, and that the inviter's node runs here");
    else if (rc == RUMOR_ERR_BUSY && !room)
        send_error(c, rc, "the inviter's node saw too many tries: wait a minute and try again");
    else
        join_done(ctx, rc, room);
}

/* The largest sealed message `seal_open` opens (a key grant is far smaller). */
#define AGENT_SEALED_MAX 1024

/*
 * Unlock once (PROTOCOL.md 11): a secret operation for the CLI of the node's own user, with the
 * node's identity. The seed never leaves; what is answered is what the operation makes.
 */
static void agent_op(ctl_client_t *c, const char *op, const rumor_ctl_record_t *r)
{
    daemon_t *d = c->d;
    const rumor_identity_t *id = rumor_daemon_node(d)->id;
    bool seal = strcmp(op, "key_seal") == 0;
    const rumor_ctl_field_t *in = rumor_ctl_get(r, seal ? "key" : "data");
    if (!in || in->type != RUMOR_CTL_BYTES) {
        send_error(c, RUMOR_ERR_MALFORMED, "agent: missing bytes");
        return;
    }
    const uint8_t *data = (const uint8_t *)in->s;
    size_t len = in->s_len;
    uint8_t *out = rumor_secret_alloc(AGENT_SEALED_MAX);
    if (!out) {
        send_error(c, RUMOR_ERR_NOMEM, rumor_strerror(RUMOR_ERR_NOMEM));
        return;
    }
    const char *key = NULL;
    size_t out_len = 0;
    int rc = RUMOR_ERR_INVALID;
    if (strcmp(op, "sign") == 0) {
        key = "sig", out_len = RUMOR_SIG_BYTES;
        rc = rumor_identity_sign(id, out, data, len);
    } else if (strcmp(op, "seal_open") == 0) {
        key = "plain", out_len = len - RUMOR_SEAL_OVERHEAD;
        rc = len < RUMOR_SEAL_OVERHEAD || len > AGENT_SEALED_MAX
                 ? RUMOR_ERR_INVALID
                 : rumor_seal_open(out, id, data, len);
    } else if (strcmp(op, "key_open") == 0) {
        key = "key", out_len = RUMOR_ROOM_KEY_BYTES;
        rc = rumor_key_at_rest_open(out, id, data, len);
    } else if (seal) {
        key = "sealed", out_len = RUMOR_KEY_AT_REST_BYTES;
        rc =
            len == RUMOR_ROOM_KEY_BYTES ? rumor_key_at_rest_seal(out, id, data) : RUMOR_ERR_INVALID;
    }
    if (rc < 0) {
        send_error(c, rc, rumor_strerror(rc));
    } else {
        rumor_daemon_stats(d)->agent_ops++;
        rumor_ctl_writer_t w;
        rumor_ctl_writer_init(&w);
        rumor_ctl_put_bool(&w, "ok", true);
        rumor_ctl_put_bytes(&w, key, out, out_len);
        client_send(c, &w);
    }
    rumor_secret_free(out);
}

static void handle(ctl_client_t *c, const rumor_ctl_record_t *r)
{
    daemon_t *d = c->d;
    const rumor_ctl_field_t *op = rumor_ctl_get(r, "op");
    rumor_daemon_stats(d)->ctl_requests++;
    if (!op || op->type != RUMOR_CTL_STR) {
        rumor_daemon_stats(d)->ctl_bad++;
        send_error(c, RUMOR_ERR_MALFORMED, "request without an op");
        return;
    }
#define IS(name) (op->s_len == strlen(name) && memcmp(op->s, name, op->s_len) == 0)
    if (IS("status")) {
        op_status(c);
    } else if (IS("peers")) {
        op_peers(c);
    } else if (IS("stats")) {
        op_stats(c);
    } else if (IS("flush")) {
        rumor_daemon_flush(d);
        rumor_daemon_resubscribe(d);
        rumor_ctl_writer_t w;
        rumor_ctl_writer_init(&w);
        rumor_ctl_put_bool(&w, "ok", true);
        client_send(c, &w);
    } else if (IS("follow")) {
        const rumor_ctl_field_t *room = rumor_ctl_get(r, "room");
        if (room) {
            char hex[RUMOR_ID_HEX + 1];
            if (room->type != RUMOR_CTL_STR || room->s_len != RUMOR_ID_HEX) {
                send_error(c, RUMOR_ERR_INVALID, "follow: bad room");
                return;
            }
            memcpy(hex, room->s, RUMOR_ID_HEX);
            hex[RUMOR_ID_HEX] = '\0';
            if (rumor_hex_decode(c->room, ID, hex) < 0) {
                send_error(c, RUMOR_ERR_INVALID, "follow: bad room");
                return;
            }
            c->follow_room = true;
        }
        c->follow = true;
        rumor_ctl_writer_t w;
        rumor_ctl_writer_init(&w);
        rumor_ctl_put_bool(&w, "ok", true);
        client_send(c, &w);
    } else if (IS("sign") || IS("seal_open") || IS("key_open") || IS("key_seal")) {
        char name[16];
        snprintf(name, sizeof name, "%.*s", (int)op->s_len, op->s);
        agent_op(c, name, r);
    } else if (IS("dial")) {
        const rumor_ctl_field_t *peer = rumor_ctl_get(r, "peer");
        char text[RUMOR_ID_HEX + RUMOR_INVITE_HOST_MAX + 16];
        uint8_t pk[ID];
        char host[RUMOR_INVITE_HOST_MAX + 1];
        uint16_t port;
        if (!peer || peer->type != RUMOR_CTL_STR || peer->s_len >= sizeof text) {
            send_error(c, RUMOR_ERR_MALFORMED, "dial: bad peer");
            return;
        }
        memcpy(text, peer->s, peer->s_len);
        text[peer->s_len] = '\0';
        if (rumor_node_parse_peer(text, pk, host, &port) < 0) {
            send_error(c, RUMOR_ERR_INVALID, "dial: bad peer");
            return;
        }
        bool dialing = rumor_daemon_dial_now(d, pk, host, port);
        rumor_ctl_writer_t w;
        rumor_ctl_writer_init(&w);
        rumor_ctl_put_bool(&w, "ok", true);
        rumor_ctl_put_bool(&w, "dialing", dialing);
        client_send(c, &w);
    } else if (IS("lan_code")) {
        const rumor_ctl_field_t *inv = rumor_ctl_get(r, "invite");
        char code[RUMOR_LANCODE_CHARS + 1], inv_s[RUMOR_LANCODE_INVITE_MAX + 1];
        if (!inv || inv->type != RUMOR_CTL_STR || inv->s_len >= sizeof inv_s) {
            send_error(c, RUMOR_ERR_MALFORMED, "lan_code: no invite");
            return;
        }
        snprintf(inv_s, sizeof inv_s, "%.*s", (int)inv->s_len, inv->s);
        int rc = rumor_lan_open(d, inv_s, code);
        rumor_wipe(inv_s, sizeof inv_s);
        if (rc < 0) {
            send_error(c, rc, "lan_code: not an invite code");
            return;
        }
        rumor_ctl_writer_t w;
        rumor_ctl_writer_init(&w);
        rumor_ctl_put_bool(&w, "ok", true);
        rumor_ctl_put_str(&w, "code", code, RUMOR_LANCODE_CHARS);
        client_send(c, &w);
        rumor_wipe(code, sizeof code);
    } else if (IS("join_lan")) {
        const rumor_ctl_field_t *code = rumor_ctl_get(r, "code");
        char code_s[64];
        if (!code || code->type != RUMOR_CTL_STR || code->s_len >= sizeof code_s) {
            send_error(c, RUMOR_ERR_MALFORMED, "not a LAN code");
            return;
        }
        snprintf(code_s, sizeof code_s, "%.*s", (int)code->s_len, code->s);
        int rc = rumor_lan_join(d, code_s, lan_join_done, c);
        rumor_wipe(code_s, sizeof code_s);
        if (rc < 0) send_error(c, rc, "not a LAN code");
    } else if (IS("join")) {
        const rumor_ctl_field_t *code = rumor_ctl_get(r, "code");
        rumor_invite_t inv;
        if (!code || code->type != RUMOR_CTL_STR ||
            rumor_invite_decode(code->s, code->s_len, &inv) < 0) {
            send_error(c, RUMOR_ERR_MALFORMED, "not an invite code");
            return;
        }
        int rc = rumor_daemon_join(d, &inv, join_done, c);
        sodium_memzero(&inv, sizeof inv);
        if (rc < 0)
            send_error(c, rc,
                       rc == RUMOR_ERR_INVALID
                           ? "the inviter is this identity's own node (here, or the same identity "
                             "running elsewhere): an identity cannot invite itself"
                           : rumor_strerror(rc));
    } else {
        rumor_daemon_stats(d)->ctl_bad++;
        send_error(c, RUMOR_ERR_INVALID, "unknown op");
    }
#undef IS
}

void rumor_ctl_notify(daemon_t *d, const uint8_t room[ID], const uint8_t id[ID])
{
    struct ctl_server *s = server_of(d);
    if (!s) return;
    for (ctl_client_t *c = s->clients, *next; c; c = next) {
        next = c->next;
        if (!c->follow || (c->follow_room && memcmp(c->room, room, ID) != 0)) continue;
        if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > FOLLOW_QUEUE_MAX) {
            rumor_daemon_log(d, LOG_WARN, "a follower reads too slowly: dropped");
            client_close(c);
            continue;
        }
        rumor_ctl_writer_t w;
        rumor_ctl_writer_init(&w);
        put_hex(&w, "id", id);
        put_hex(&w, "room", room);
        client_send(c, &w);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    ctl_client_t *c = h->data;
    size_t want = c->len + 65536;
    if (want > 4 + RUMOR_CTL_MSG_MAX + 65536) want = 4 + RUMOR_CTL_MSG_MAX + 65536;
    if (c->cap < want) {
        uint8_t *nb = realloc(c->buf, want);
        if (nb) {
            c->buf = nb;
            c->cap = want;
        }
    }
    *buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    ctl_client_t *c = s->data;
    if (nread < 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)nread;
    while (!c->closing && c->len >= 4) {
        uint32_t mlen = rumor_get_u32(c->buf);
        if (mlen == 0 || mlen > RUMOR_CTL_MSG_MAX) {
            rumor_daemon_stats(c->d)->ctl_bad++;
            send_error(c, RUMOR_ERR_TOO_BIG, "bad request length");
            client_close(c);
            return;
        }
        if (c->len < 4 + (size_t)mlen) break;
        rumor_ctl_record_t r;
        if (rumor_ctl_decode(c->buf + 4, mlen, &r) < 0) {
            rumor_daemon_stats(c->d)->ctl_bad++;
            send_error(c, RUMOR_ERR_MALFORMED, "malformed request");
            client_close(c);
            return;
        }
        handle(c, &r);
        memmove(c->buf, c->buf + 4 + mlen, c->len - 4 - mlen);
        c->len -= 4 + mlen;
        rumor_wipe(c->buf + c->len, 4 + mlen); /* what was handled, a room key maybe, is gone */
    }
    if (!c->closing && c->len >= c->cap) client_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct ctl_server *s = server->data;
    daemon_t *d = s->d;
    if (status < 0) return;
    ctl_client_t *c = calloc(1, sizeof *c);
    if (!c) return;
    c->d = d;
    uv_pipe_init(rumor_daemon_loop(d), &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        uv_close((uv_handle_t *)&c->pipe, client_free);
        return;
    }
    /* The socket file is private to the owner; check the caller's uid anyway. */
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != getuid()) {
        rumor_daemon_stats(d)->ctl_bad++;
        rumor_daemon_log(d, LOG_WARN, "control connection from another user refused");
        uv_close((uv_handle_t *)&c->pipe, client_free);
        return;
    }
    c->next = s->clients;
    s->clients = c;
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static char *sock_path(const char *home)
{
    size_t n = strlen(home) + sizeof "/node.sock";
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/node.sock", home);
    return p;
}

int rumor_ctl_start(daemon_t *d)
{
    struct sockaddr_un sa;
    struct ctl_server *s = calloc(1, sizeof *s);
    if (!s) return RUMOR_ERR_NOMEM;
    *rumor_daemon_ctl_slot(d) = s;
    s->d = d;
    if (!(s->path = sock_path(rumor_daemon_node(d)->home))) return RUMOR_ERR_NOMEM;
    if (strlen(s->path) >= sizeof sa.sun_path) {
        rumor_daemon_log(d, LOG_ERROR, "the home path is too long for a control socket");
        return RUMOR_ERR_TOO_BIG;
    }
    /* We hold the home's lock: a socket file left here is from a node that died. */
    unlink(s->path);
    uv_pipe_init(rumor_daemon_loop(d), &s->pipe, 0);
    s->pipe.data = s;
    mode_t old = umask(0077);
    int rc = uv_pipe_bind(&s->pipe, s->path);
    umask(old);
    if (rc == 0 && chmod(s->path, 0600) < 0) rc = UV_EPERM;
    if (rc < 0 || uv_listen((uv_stream_t *)&s->pipe, 16, on_connection) < 0) {
        rumor_daemon_log(d, LOG_ERROR, "cannot open the control socket: %s", uv_strerror(rc));
        return RUMOR_ERR_IO;
    }
    return RUMOR_OK;
}

static void server_free(uv_handle_t *h)
{
    free(h->data);
}

void rumor_ctl_stop(daemon_t *d)
{
    struct ctl_server **slot = rumor_daemon_ctl_slot(d), *s = *slot;
    if (!s) return;
    while (s->clients) client_close(s->clients);
    if (s->path) {
        if (uv_is_active((uv_handle_t *)&s->pipe)) unlink(s->path);
        free(s->path);
    }
    *slot = NULL;
    if (s->pipe.loop)
        uv_close((uv_handle_t *)&s->pipe, server_free); /* its memory goes with its handle */
    else
        free(s);
}

/* ---- the CLI's side ----------------------------------------------------------------- */

int rumor_node_ctl_connect(const char *home, int *fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char *path = sock_path(home);
    if (!path) return RUMOR_ERR_NOMEM;
    if (strlen(path) >= sizeof sa.sun_path) {
        free(path);
        return RUMOR_ERR_NOT_FOUND;
    }
    strcpy(sa.sun_path, path);
    free(path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return RUMOR_ERR_IO;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(s);
        return e == ENOENT || e == ECONNREFUSED ? RUMOR_ERR_NOT_FOUND : RUMOR_ERR_IO;
    }
    *fd = s;
    return RUMOR_OK;
}

int rumor_node_ctl_send(int fd, rumor_ctl_writer_t *w)
{
    const uint8_t *msg;
    size_t len;
    int rc = rumor_ctl_writer_finish(w, &msg, &len);
    if (rc < 0) return rc;
    while (len) {
        ssize_t n = send(fd, msg, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return RUMOR_ERR_IO;
        msg += n;
        len -= (size_t)n;
    }
    return RUMOR_OK;
}

static int read_full(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
    while (len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, timeout_ms);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) return RUMOR_ERR_BUSY;
        if (pr < 0) return RUMOR_ERR_IO;
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return RUMOR_ERR_IO;
        buf += n;
        len -= (size_t)n;
    }
    return RUMOR_OK;
}

int rumor_node_ctl_recv(int fd, uint8_t **buf, size_t *cap, rumor_ctl_record_t *r, int timeout_ms)
{
    uint8_t hdr[4];
    int rc = read_full(fd, hdr, 4, timeout_ms);
    if (rc < 0) return rc;
    uint32_t len = rumor_get_u32(hdr);
    if (len == 0 || len > RUMOR_CTL_MSG_MAX) return RUMOR_ERR_MALFORMED;
    if (*cap < len) {
        uint8_t *nb = realloc(*buf, len);
        if (!nb) return RUMOR_ERR_NOMEM;
        *buf = nb;
        *cap = len;
    }
    if ((rc = read_full(fd, *buf, len, timeout_ms)) < 0) return rc;
    return rumor_ctl_decode(*buf, len, r);
}
