/*
 * inbound.c - the node's side of gossip/links.c (PROTOCOL.md 9.5, bounded links): it learns of
 * accepted and closed connections from a monitor of the ROUTER socket, asks the table at each
 * handshake (ZAP) and HELLO, and closes the connections the table gives up on.
 *
 * ZeroMQ has no call to close one connection of a ROUTER. The node shuts down the connection's
 * socket (shutdown(2), never close(2)): libzmq reads the end of the stream, closes the
 * descriptor itself and reports it. A descriptor is only shut down after checking it is still
 * an accepted connection of our listening port from the address the table holds, so a number
 * libzmq has reused meanwhile is left alone.
 */
#include "daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#define KNOWN_TTL_MS 30000
#define KNOWN_MAX    16384

/* What this module keeps on the daemon, from rumor_inbound_init to rumor_inbound_free. */
struct inbound {
    rumor_gossip_links_t links; /* inbound connections and handshakes (gossip/links.c) */
    uint8_t (*known)[32];       /* Curve keys of everyone known, sorted */
    size_t n_known;
    uint64_t known_ms; /* loop time `known` was built */
    uint64_t warn_ms;  /* loop time of the last warning about refused handshakes */
};

static struct inbound *state(daemon_t *d)
{
    return *rumor_daemon_inbound_slot(d);
}

/* The address of a socket name as 16 bytes (IPv4 mapped into IPv6); false for other families. */
static bool sockaddr_addr(const struct sockaddr_storage *ss, uint8_t out[16], uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
        if (port) *port = ntohs(in->sin_port);
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        memcpy(out, &in6->sin6_addr, 16);
        if (port) *port = ntohs(in6->sin6_port);
        return true;
    }
    return false;
}

/* The source address ZAP names (text) as 16 bytes; false when it does not parse. */
static bool text_addr(const char *s, uint8_t out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return true;
    }
    return inet_pton(AF_INET6, s, out) == 1;
}

static bool fd_peer(int fd, uint8_t addr[16])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return getpeername(fd, (struct sockaddr *)&ss, &len) == 0 && sockaddr_addr(&ss, addr, NULL);
}

/* Shuts down `fd` if it is still an accepted connection of ours (from `addr`, when given). */
static void close_fd(daemon_t *d, int fd, const uint8_t *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    uint8_t local[16], peer[16];
    uint16_t port = 0;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        !sockaddr_addr(&ss, local, &port) || port != rumor_daemon_listen_port(d))
        return;
    if (!fd_peer(fd, peer) || (addr && memcmp(peer, addr, 16) != 0)) return;
    shutdown(fd, SHUT_RDWR);
}

int rumor_inbound_init(daemon_t *d)
{
    struct inbound *ib = calloc(1, sizeof *ib);
    if (!ib) return RUMOR_ERR_NOMEM;
    *rumor_daemon_inbound_slot(d) = ib;
    const rumor_node_config_t *cfg = rumor_daemon_cfg(d);
    rumor_gossip_link_limits_t lim = {
        .inbound_max = cfg->inbound_max,
        .pending_max = cfg->handshakes_max,
        .per_addr_max = cfg->handshakes_per_addr,
        .per_key_max = cfg->handshakes_per_key,
        .hello_timeout_ms = cfg->hello_timeout_ms,
    };
    return rumor_gossip_links_init(&ib->links, &lim);
}

void rumor_inbound_free(daemon_t *d)
{
    struct inbound *ib = state(d);
    if (!ib) return;
    *rumor_daemon_inbound_slot(d) = NULL;
    rumor_gossip_links_free(&ib->links);
    free(ib->known);
    free(ib);
}

void rumor_inbound_monitor(daemon_t *d, void *z)
{
    zmq_msg_t ev, ep;
    zmq_msg_init(&ev);
    zmq_msg_init(&ep);
    if (zmq_msg_recv(&ev, z, ZMQ_DONTWAIT) < 0) goto out;
    if (zmq_msg_more(&ev) && zmq_msg_recv(&ep, z, ZMQ_DONTWAIT) < 0) goto out;
    if (zmq_msg_size(&ev) != 6) goto out;
    const uint8_t *b = zmq_msg_data(&ev);
    uint16_t event;
    uint32_t value;
    memcpy(&event, b, 2);
    memcpy(&value, b + 2, 4);
    int fd = (int)value;
    if (event == ZMQ_EVENT_ACCEPTED) {
        uint8_t addr[16] = {0};
        if (!fd_peer(fd, addr)) goto out; /* already gone */
        if (!rumor_gossip_link_accepted(&state(d)->links, fd, addr, rumor_daemon_loop_ms(d))) {
            rumor_daemon_stats(d)->links_refused++;
            close_fd(d, fd, addr);
        }
    } else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED) {
        rumor_gossip_link_closed(&state(d)->links, fd);
    }
out:
    zmq_msg_close(&ev);
    zmq_msg_close(&ep);
}

static int known_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void known_add(struct inbound *ib, size_t cap, const uint8_t pk[RUMOR_ID_BYTES])
{
    if (ib->n_known < cap && rumor_curve_public(ib->known[ib->n_known], pk) == RUMOR_OK)
        ib->n_known++;
}

static int known_member(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], uint8_t role)
{
    (void)role;
    known_add(ctx, KNOWN_MAX, pk);
    return 0;
}

static int known_contact(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], const char *name)
{
    (void)name;
    known_add(ctx, KNOWN_MAX, pk);
    return 0;
}

static int known_remembered(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], const uint8_t *v,
                            size_t len)
{
    (void)v, (void)len;
    known_add(ctx, KNOWN_MAX, pk);
    return 0;
}

/* The Curve keys of everyone the node knows: members of its domains, contacts, stored and
 * candidate peers. Rebuilt at most every KNOWN_TTL_MS, and only when a handshake needs it. */
static void known_refresh(daemon_t *d)
{
    struct inbound *ib = state(d);
    uint64_t now = rumor_daemon_loop_ms(d);
    if (ib->known && now - ib->known_ms < KNOWN_TTL_MS) return;
    if (!ib->known && !(ib->known = malloc(KNOWN_MAX * sizeof *ib->known))) return;
    ib->known_ms = now;
    ib->n_known = 0;
    for (size_t i = 0; i < rumor_daemon_cand_count(d); i++)
        known_add(ib, KNOWN_MAX, rumor_daemon_cand_pk(d, i));
    rumor_txn_t *t = NULL;
    if (rumor_store_read_begin(rumor_daemon_store(d), &t) == RUMOR_OK) {
        for (size_t i = 0; i < rumor_daemon_topic_count(d); i++)
            rumor_store_member_each(t, rumor_daemon_topic_id(d, i), known_member, ib);
        rumor_store_contact_each(t, known_contact, ib);
        rumor_store_peer_each(t, known_remembered, ib);
        rumor_store_read_end(&t);
    }
    qsort(ib->known, ib->n_known, sizeof *ib->known, known_cmp);
}

static bool key_known(daemon_t *d, const uint8_t curve[32])
{
    for (peer_t *p = rumor_daemon_peers(d); p; p = rumor_peer_next(p))
        if (!rumor_peer_dropped(p) && memcmp(rumor_peer_curve(p), curve, 32) == 0) return true;
    known_refresh(d);
    struct inbound *ib = state(d);
    return ib->known && bsearch(curve, ib->known, ib->n_known, sizeof *ib->known, known_cmp);
}

bool rumor_inbound_admit(daemon_t *d, const char *address, const uint8_t curve[32])
{
    uint8_t addr[16] = {0};
    if (!text_addr(address, addr)) memset(addr, 0, 16); /* all unparsable sources share one */
    struct inbound *ib = state(d);
    uint64_t now = rumor_daemon_loop_ms(d);
    rumor_gossip_admit_t a = rumor_gossip_link_admit(&ib->links, addr, curve, false, now);
    if ((a == RUMOR_GOSSIP_DENY_FULL || a == RUMOR_GOSSIP_DENY_ADDR) && key_known(d, curve))
        a = rumor_gossip_link_admit(&ib->links, addr, curve, true, now);
    if (a == RUMOR_GOSSIP_ADMIT) return true;
    rumor_daemon_stats(d)->handshakes_refused++;
    if (now - ib->warn_ms >= 1000) {
        ib->warn_ms = now;
        rumor_daemon_log(d, LOG_WARN, "handshake from %s refused: %s", address,
                         a == RUMOR_GOSSIP_DENY_KEY    ? "that key has handshakes waiting for HELLO"
                         : a == RUMOR_GOSSIP_DENY_ADDR ? "that address has too many waiting"
                                                       : "too many handshakes waiting");
    }
    return false;
}

void rumor_inbound_hello(daemon_t *d, int fd, const uint8_t curve[32])
{
    if (fd < 0) return;
    uint8_t addr[16];
    int older = rumor_gossip_link_hello(&state(d)->links, fd, curve, rumor_daemon_loop_ms(d), addr);
    if (older >= 0) {
        rumor_daemon_stats(d)->links_replaced++;
        close_fd(d, older, addr);
    }
}

void rumor_inbound_refuse(daemon_t *d, int fd)
{
    close_fd(d, fd, NULL); /* the link a frame was just read from */
}

void rumor_inbound_close_peer(daemon_t *d, const peer_t *p)
{
    uint8_t addr[16];
    int fd = rumor_gossip_link_fd(&state(d)->links, rumor_peer_curve(p), addr);
    if (fd >= 0) close_fd(d, fd, addr);
}

void rumor_inbound_heartbeat(daemon_t *d)
{

    rumor_gossip_link_t silent[256];
    size_t n = rumor_gossip_links_silent(&state(d)->links, rumor_daemon_loop_ms(d), silent, 256);
    for (size_t i = 0; i < n; i++) {
        rumor_daemon_stats(d)->links_silent++;
        close_fd(d, silent[i].fd, silent[i].addr);
    }
}
