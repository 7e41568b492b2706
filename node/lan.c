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

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[512]; /* one loop thread; a datagram is handled before the next read */
    *buf = uv_buf_init(slab, sizeof slab);
}

static bool beacon_rate_ok(daemon_t *d)
{
    uint64_t now = uv_now(d->loop);
    d->beacon_tokens += (double)(now - d->beacon_tokens_ms) * BEACON_RATE / 1000.0;
    if (d->beacon_tokens > BEACON_RATE) d->beacon_tokens = BEACON_RATE;
    d->beacon_tokens_ms = now;
    if (d->beacon_tokens < 1.0) return false;
    d->beacon_tokens -= 1.0;
    return true;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    daemon_t *d = h->data;
    if (nread < 0 || !addr) return; /* an error, or nothing more to read */
    if (flags & UV_UDP_PARTIAL) {
        d->stats.beacons_bad++;
        return;
    }
    if (!beacon_rate_ok(d)) {
        d->stats.beacons_dropped++;
        return;
    }
    rumor_beacon_t b;
    if (rumor_beacon_decode((const uint8_t *)buf->base, (size_t)nread, &b) < 0) {
        d->stats.beacons_bad++;
        return;
    }
    if (memcmp(b.pk, rumor_node_id(d->node), RUMOR_ID_BYTES) == 0) return; /* our own */
    char host[INET6_ADDRSTRLEN];
    if (addr->sa_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)addr, host, sizeof host);
    else
        uv_ip6_name((const struct sockaddr_in6 *)addr, host, sizeof host);
    d->stats.beacons_in++;
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
    daemon_t *d = t->data;
    rumor_beacon_t b = {.port = d->listen_port};
    uint8_t wire[RUMOR_BEACON_BYTES];
    memcpy(b.pk, rumor_node_id(d->node), RUMOR_ID_BYTES);
    rumor_beacon_encode(&b, wire);
    uv_interface_address_t *ifs;
    int n;
    if (uv_interface_addresses(&ifs, &n) < 0) return;
    for (int i = 0; i < n; i++) {
        if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET) continue;
        struct sockaddr_in to = ifs[i].address.address4;
        to.sin_addr.s_addr |= ~ifs[i].netmask.netmask4.sin_addr.s_addr;
        to.sin_port = htons((uint16_t)d->cfg->beacon_port);
        uv_buf_t buf = uv_buf_init((char *)wire, sizeof wire);
        if (uv_udp_try_send(&d->udp, &buf, 1, (const struct sockaddr *)&to) > 0)
            d->stats.beacons_out++;
    }
    uv_free_interface_addresses(ifs, n);
}

int rumor_lan_start(daemon_t *d)
{
    struct sockaddr_in any;
    uv_ip4_addr("0.0.0.0", (int)d->cfg->beacon_port, &any);
    uv_udp_init(d->loop, &d->udp);
    d->udp.data = d;
    int rc = uv_udp_bind(&d->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR);
    if (rc == 0) rc = uv_udp_set_broadcast(&d->udp, 1);
    if (rc == 0) rc = uv_udp_recv_start(&d->udp, on_alloc, on_recv);
    if (rc < 0) {
        rumor_daemon_log(d, LOG_ERROR, "cannot listen for beacons on port %u: %s",
                         d->cfg->beacon_port, uv_strerror(rc));
        return RUMOR_ERR_IO;
    }
    uv_timer_init(d->loop, &d->beacon_timer);
    d->beacon_timer.data = d;
    uv_timer_start(&d->beacon_timer, on_beacon_timer, 0, d->cfg->beacon_ms);
    return RUMOR_OK;
}

void rumor_lan_stop(daemon_t *d)
{
    if (d->udp.loop && !uv_is_closing((uv_handle_t *)&d->udp))
        uv_close((uv_handle_t *)&d->udp, NULL);
    if (d->beacon_timer.loop && !uv_is_closing((uv_handle_t *)&d->beacon_timer))
        uv_close((uv_handle_t *)&d->beacon_timer, NULL);
}
