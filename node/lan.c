/*
 * lan.c - LAN discovery by UDP beacons (PROTOCOL.md 9.6): one beacon a
 * second to the broadcast address of every IPv4 interface, and every valid
 * beacon heard becomes a candidate peer. Beacons are hints: the Curve
 * handshake proves who answers, so a forged one costs a failed dial.
 */
#include "daemon.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* Beacons taken per second at most (the rest are counted and dropped). */
#define BEACON_RATE 64

/* The daemon's beacons, from rumor_lan_start until both handles have closed. */
struct beacons {
    daemon_t *d;
    uv_udp_t udp;       /* bound to beacon_port: beacons in, and ours out */
    uv_timer_t timer;   /* sends ours every beacon_ms */
    double tokens;      /* beacons that may still be taken (BEACON_RATE a second) */
    uint64_t tokens_ms; /* loop time of the last refill */
    int open;           /* handles not closed yet */
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[512]; /* one loop thread; a datagram is handled before the next read */
    *buf = uv_buf_init(slab, sizeof slab);
}

static bool beacon_rate_ok(struct beacons *b)
{
    uint64_t now = rumor_daemon_loop_ms(b->d);
    b->tokens += (double)(now - b->tokens_ms) * BEACON_RATE / 1000.0;
    if (b->tokens > BEACON_RATE) b->tokens = BEACON_RATE;
    b->tokens_ms = now;
    if (b->tokens < 1.0) return false;
    b->tokens -= 1.0;
    return true;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    struct beacons *bs = h->data;
    daemon_t *d = bs->d;
    if (nread < 0 || !addr) return; /* an error, or nothing more to read */
    if (flags & UV_UDP_PARTIAL) {
        rumor_daemon_stats(d)->beacons_bad++;
        return;
    }
    if (!beacon_rate_ok(bs)) {
        rumor_daemon_stats(d)->beacons_dropped++;
        return;
    }
    rumor_beacon_t b;
    if (rumor_beacon_decode((const uint8_t *)buf->base, (size_t)nread, &b) < 0) {
        rumor_daemon_stats(d)->beacons_bad++;
        return;
    }
    if (memcmp(b.pk, rumor_node_id(rumor_daemon_node(d)), RUMOR_ID_BYTES) == 0)
        return; /* our own */
    char host[INET6_ADDRSTRLEN];
    if (addr->sa_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)addr, host, sizeof host);
    else
        uv_ip6_name((const struct sockaddr_in6 *)addr, host, sizeof host);
    rumor_daemon_stats(d)->beacons_in++;
    /* The datagram's address is the source: beacons from one address place few candidates. */
    uint8_t source[RUMOR_ID_BYTES] = {0};
    if (addr->sa_family == AF_INET)
        memcpy(source, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    else
        memcpy(source, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    rumor_daemon_candidate(d, b.pk, host, b.port, RUMOR_FOUND_LAN, source);
}

static void on_beacon_timer(uv_timer_t *t)
{
    struct beacons *bs = t->data;
    daemon_t *d = bs->d;
    rumor_beacon_t b = {.port = rumor_daemon_listen_port(d)};
    uint8_t wire[RUMOR_BEACON_BYTES];
    memcpy(b.pk, rumor_node_id(rumor_daemon_node(d)), RUMOR_ID_BYTES);
    rumor_beacon_encode(&b, wire);
    uv_interface_address_t *ifs;
    int n;
    if (uv_interface_addresses(&ifs, &n) < 0) return;
    for (int i = 0; i < n; i++) {
        if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET) continue;
        struct sockaddr_in to = ifs[i].address.address4;
        to.sin_addr.s_addr |= ~ifs[i].netmask.netmask4.sin_addr.s_addr;
        to.sin_port = htons((uint16_t)rumor_daemon_cfg(d)->beacon_port);
        uv_buf_t buf = uv_buf_init((char *)wire, sizeof wire);
        if (uv_udp_try_send(&bs->udp, &buf, 1, (const struct sockaddr *)&to) > 0)
            rumor_daemon_stats(d)->beacons_out++;
    }
    uv_free_interface_addresses(ifs, n);
}

int rumor_lan_start(daemon_t *d)
{
    struct beacons *bs = calloc(1, sizeof *bs);
    if (!bs) return RUMOR_ERR_NOMEM;
    *rumor_daemon_beacons_slot(d) = bs;
    bs->d = d;
    const rumor_node_config_t *cfg = rumor_daemon_cfg(d);
    struct sockaddr_in any;
    uv_ip4_addr("0.0.0.0", (int)cfg->beacon_port, &any);
    uv_udp_init(rumor_daemon_loop(d), &bs->udp);
    bs->udp.data = bs;
    bs->open++;
    int rc = uv_udp_bind(&bs->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR);
    if (rc == 0) rc = uv_udp_set_broadcast(&bs->udp, 1);
    if (rc == 0) rc = uv_udp_recv_start(&bs->udp, on_alloc, on_recv);
    if (rc < 0) {
        rumor_daemon_log(d, LOG_ERROR, "cannot listen for beacons on port %u: %s", cfg->beacon_port,
                         uv_strerror(rc));
        return RUMOR_ERR_IO;
    }
    uv_timer_init(rumor_daemon_loop(d), &bs->timer);
    bs->timer.data = bs;
    bs->open++;
    uv_timer_start(&bs->timer, on_beacon_timer, 0, cfg->beacon_ms);
    return RUMOR_OK;
}

/* The beacons' memory goes with the last of their handles. */
static void on_closed(uv_handle_t *h)
{
    struct beacons *bs = h->data;
    if (--bs->open == 0) free(bs);
}

void rumor_lan_stop(daemon_t *d)
{
    struct beacons **slot = rumor_daemon_beacons_slot(d), *bs = *slot;
    if (!bs) return;
    *slot = NULL;
    if (bs->timer.loop) uv_close((uv_handle_t *)&bs->timer, on_closed);
    uv_close((uv_handle_t *)&bs->udp, on_closed);
}
