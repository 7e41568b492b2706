/*
 * links.c - the node's ZeroMQ links on the libuv loop (PROTOCOL.md 9.1, 9.5): the ROUTER that
 * peers dial, one DEALER per peer we dial, the ZAP handler and the ROUTER's monitor; the HELLO
 * that opens a link; frames sent on a peer's link.
 *
 * ZMQ_FD is edge-triggered: a readable FD means "look at ZMQ_EVENTS", and
 * any zmq call on the socket (a send included) may consume the edge. So a
 * socket is drained until ZMQ_EVENTS shows no POLLIN, and every send marks
 * its socket dirty so the idle handle drains it again.
 */
#include "daemon_core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ID RUMOR_ID_BYTES

enum { ZSOCK_ROUTER = 1, ZSOCK_DEALER, ZSOCK_ZAP, ZSOCK_MONITOR };

/* How many frames one drain takes before yielding to the loop. */
#define DRAIN_BUDGET 512

/* Ports tried from the default (7470) when it is taken. */
#define DEFAULT_PORT_TRIES 16

/* ---- sockets ---------------------------------------------------------------------- */

static void drain(zsock_t *zs);
static void on_idle(uv_idle_t *h);

void rumor_links_mark_dirty(zsock_t *zs)
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
    rumor_events_process_batch(d);
    rumor_peers_reap(d);
    if (!d->dirty) uv_idle_stop(&d->idle);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    zsock_t *zs = h->data;
    daemon_t *d = zs->d;
    drain(zs);
    rumor_events_process_batch(d);
    rumor_peers_reap(d);
}

static void zsock_free_cb(uv_handle_t *h)
{
    free(h->data);
}

void rumor_links_sock_close(zsock_t **p)
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

/* ---- sending ---------------------------------------------------------------------- */

/* Sends one frame to a peer over the given link, or (LINK_ANY) whichever is up. */
static bool peer_send_on(daemon_t *d, peer_t *p, int link, const uint8_t *buf, size_t len)
{
    int rc;
    if (p->closing) return false;
    if (link != LINK_IN && p->out && p->out_ready && !p->out_stalled) {
        rc = zmq_send(p->out->z, buf, len, ZMQ_DONTWAIT);
        rumor_links_mark_dirty(p->out);
        if (rc < 0 && errno == EAGAIN && link == LINK_ANY && p->rid_len && p->in_ready) {
            /* Our DEALER takes nothing (its connection died with the peer's old process, or it
             * is full) while the peer talks to us on its own link: move over to that one. */
            p->out_stalled = true;
            return peer_send_on(d, p, LINK_IN, buf, len);
        }
    } else if (link != LINK_OUT && p->rid_len && p->in_ready) {
        rc = zmq_send(d->router->z, p->rid, p->rid_len, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        if (rc >= 0) rc = zmq_send(d->router->z, buf, len, ZMQ_DONTWAIT);
        rumor_links_mark_dirty(d->router);
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

bool rumor_daemon_send(daemon_t *d, peer_t *p, const uint8_t *buf, size_t len)
{
    return peer_send_on(d, p, LINK_ANY, buf, len);
}

bool rumor_links_send_frame_on(daemon_t *d, peer_t *p, int link, const rumor_wire_frame_t *f)
{
    uint8_t buf[2 + 2 + RUMOR_WIRE_TOPICS_MAX * ID];
    size_t len = rumor_wire_encode(f, buf, sizeof buf);
    if (!len) {
        rumor_daemon_log(d, LOG_ERROR, "could not encode a frame of type %u", f->type);
        return false;
    }
    return peer_send_on(d, p, link, buf, len);
}

bool rumor_daemon_send_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    return rumor_links_send_frame_on(d, p, LINK_ANY, f);
}

static void hello_frame(daemon_t *d, rumor_wire_frame_t *f)
{
    memset(f, 0, sizeof *f);
    f->type = RUMOR_WIRE_HELLO;
    f->pk = rumor_node_id(d->node);
    f->port = d->listen_port;
    f->flags = d->cfg->peer_exchange ? 1 : 0;
}

/* ---- dialing ---------------------------------------------------------------------- */

zsock_t *rumor_links_connect(daemon_t *d, const char *host, uint16_t port, const uint8_t curve[32])
{
    bool v6 = strchr(host, ':') != NULL;
    char ep[RUMOR_INVITE_HOST_MAX + 32];
    snprintf(ep, sizeof ep, v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", host, port);
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
        rumor_links_sock_close(&zs);
        return NULL;
    }
    return zs;
}

void rumor_links_hello(daemon_t *d, zsock_t *zs)
{
    /* HELLO waits in the pipe until the handshake completes. */
    rumor_wire_frame_t f;
    hello_frame(d, &f);
    uint8_t buf[64];
    size_t len = rumor_wire_encode(&f, buf, sizeof buf);
    if (zmq_send(zs->z, buf, len, ZMQ_DONTWAIT) >= 0) {
        d->stats.frames_out++;
        d->stats.bytes_out += len;
    }
    rumor_links_mark_dirty(zs);
}

/* ---- receiving -------------------------------------------------------------------- */

/* The first frame on an inbound link: HELLO, bound to the key the handshake authenticated. */
static void on_inbound_hello(daemon_t *d, const uint8_t *rid, size_t rid_len, zmq_msg_t *msg)
{
    rumor_wire_frame_t f;
    const uint8_t *buf = zmq_msg_data(msg);
    size_t len = zmq_msg_size(msg);
    if (rumor_wire_decode(buf, len, &f) < 0) {
        rumor_peers_misbehaved(d, NULL, "a malformed frame before HELLO");
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
        if (rumor_daemon_loop_ms(d) - d->self_warn_ms >= 1000 || !d->self_warn_ms) {
            d->self_warn_ms = rumor_daemon_loop_ms(d);
            rumor_daemon_log(d, LOG_WARN,
                             "a node at %s holds this node's own identity: one identity is "
                             "running on two nodes; stop one of them (link dropped)",
                             addr ? addr : "an unknown address");
        }
        rumor_inbound_refuse(d, fd);
        return;
    }
    if (!user || rumor_curve_public(curve, f.pk) < 0) {
        rumor_peers_misbehaved(d, NULL, "a HELLO with a bad key");
        rumor_inbound_refuse(d, fd);
        return;
    }
    rumor_hex_encode(hex, curve, 32);
    if (strcmp(hex, user) != 0) {
        rumor_peers_misbehaved(d, NULL, "a HELLO naming a key it does not hold");
        rumor_inbound_refuse(d, fd);
        return;
    }
    /* A banned key's HELLO on a link that stayed open is refused, and the link closed. */
    if (rumor_peers_banned(d, curve)) {
        d->stats.zap_denied++;
        rumor_inbound_refuse(d, fd);
        return;
    }
    d->stats.hello_in++;
    peer_t *p = rumor_peers_find(d, f.pk);
    bool was_ready = p && rumor_daemon_peer_ready(p);
    if (!p) {
        if (rumor_peers_live(d) >= d->cfg->peers_max && !rumor_peers_make_room(d)) {
            rumor_daemon_log(d, LOG_DEBUG, "inbound link refused: %zu peers already",
                             rumor_peers_live(d));
            rumor_inbound_refuse(d, fd);
            return;
        }
        if (!(p = rumor_peers_new(d, f.pk, RUMOR_FOUND_INBOUND))) return;
        snprintf(p->host, sizeof p->host, "%s", addr ? addr : "");
        p->port = f.port;
    }
    if (rid_len > sizeof p->rid) return;
    rumor_inbound_hello(d, fd, curve);
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    p->in_ready = true;
    p->px = f.flags & 1;
    p->last_heard_ms = rumor_daemon_loop_ms(d);
    rumor_wire_frame_t r;
    hello_frame(d, &r);
    rumor_links_send_frame_on(d, p, LINK_IN,
                              &r); /* the answer goes back on the link that said HELLO */
    rumor_peers_up(d, p, was_ready);
}

static void router_message(daemon_t *d, zmq_msg_t *rid, zmq_msg_t *msg)
{
    const uint8_t *r = zmq_msg_data(rid);
    size_t rl = zmq_msg_size(rid);
    d->stats.frames_in++;
    d->stats.bytes_in += zmq_msg_size(msg);
    peer_t *p = rumor_peers_by_rid(d, r, rl);
    if (!p) {
        on_inbound_hello(d, r, rl, msg);
        return;
    }
    rumor_daemon_on_frame(d, p, LINK_IN, zmq_msg_data(msg), zmq_msg_size(msg));
}

static void dealer_message(daemon_t *d, peer_t *p, zmq_msg_t *msg)
{
    const uint8_t *buf = zmq_msg_data(msg);
    size_t len = zmq_msg_size(msg);
    d->stats.frames_in++;
    d->stats.bytes_in += len;
    p->out_heard_ms = rumor_daemon_loop_ms(d);
    if (!p->out_ready) {
        rumor_wire_frame_t f;
        if (rumor_wire_decode(buf, len, &f) < 0 || f.type != RUMOR_WIRE_HELLO ||
            memcmp(f.pk, p->pk, ID) != 0) {
            rumor_peers_misbehaved(d, p, "a bad HELLO");
            return;
        }
        d->stats.hello_in++;
        bool was_ready = rumor_daemon_peer_ready(p);
        p->out_ready = true;
        p->px = f.flags & 1;
        if (f.port) p->port = f.port;
        p->last_heard_ms = rumor_daemon_loop_ms(d);
        rumor_peers_up(d, p, was_ready);
        return;
    }
    rumor_daemon_on_frame(d, p, LINK_OUT, buf, len);
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
        if (!rumor_peers_banned(d, key) && rumor_inbound_admit(d, address, key)) {
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
    rumor_links_mark_dirty(d->zap);
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
                peer_t *p = rumor_peers_by_rid(d, zmq_msg_data(&a), zmq_msg_size(&a));
                rumor_peers_misbehaved(d, p, "a multi-part message");
            } else {
                router_message(d, &a, &b);
            }
            zmq_msg_close(&b);
        } else {
            if (zmq_msg_more(&a)) {
                skip_parts(zs->z);
                rumor_peers_misbehaved(d, zs->peer, "a multi-part message");
            } else {
                dealer_message(d, zs->peer, &a);
            }
        }
        zmq_msg_close(&a);
    }
    rumor_links_mark_dirty(zs); /* budget spent: come back after the loop has looked around */
}

/* ---- opening and closing ---------------------------------------------------------- */

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

int rumor_links_open(daemon_t *d, const char *listen)
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
    rumor_links_mark_dirty(d->monitor); /* ZMQ_FD signals edges: look once after connecting */
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

void rumor_links_close(daemon_t *d)
{
    if (d->router) zmq_socket_monitor(d->router->z, NULL, 0);
    rumor_links_sock_close(&d->monitor);
    rumor_links_sock_close(&d->router);
    rumor_links_sock_close(&d->zap);
}

void rumor_links_close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, h->type == UV_POLL ? zsock_free_cb : NULL);
}

void rumor_links_term(daemon_t *d)
{
    if (d->zctx) zmq_ctx_term(d->zctx);
}
