/*
 * access.c - the daemon seen from the edge modules (daemon.h): what catchup.c, control.c, lan.c,
 * lanjoin.c, inbound.c and book.c may read of daemon_t, whose layout is daemon_core.h's. No
 * decision lives here.
 */
#include "daemon_core.h"

#include <string.h>

#define ID RUMOR_ID_BYTES

/* ---- the daemon seen from the edge modules (daemon.h) --------------------------------- */

rumor_node_t *rumor_daemon_node(daemon_t *d)
{
    return d->node;
}

rumor_store_t *rumor_daemon_store(daemon_t *d)
{
    return d->node->store;
}

const rumor_node_config_t *rumor_daemon_cfg(const daemon_t *d)
{
    return d->cfg;
}

uv_loop_t *rumor_daemon_loop(daemon_t *d)
{
    return d->loop;
}

uint64_t rumor_daemon_loop_ms(const daemon_t *d)
{
    return uv_now(d->loop);
}

uint64_t rumor_daemon_uptime_ms(const daemon_t *d)
{
    return rumor_now_ms() - d->start_ms;
}

rumor_daemon_stats_t *rumor_daemon_stats(daemon_t *d)
{
    return &d->stats;
}

const uint64_t *rumor_daemon_latency(const daemon_t *d)
{
    return d->latency;
}

void rumor_daemon_stats_from_engine(daemon_t *d)
{
    rumor_engine_counters_t ec;
    rumor_engine_counters(d->engine, &ec);
    d->stats.pruned_by_score = ec.pruned_by_score;
    d->stats.opportunistic_grafts = ec.opportunistic_grafts;
    d->stats.backoff_grafts = ec.backoff_grafts;
    d->stats.broken_promises = ec.broken_promises;
}

const char *rumor_daemon_listen_host(const daemon_t *d)
{
    return d->listen_host;
}

uint16_t rumor_daemon_listen_port(const daemon_t *d)
{
    return d->listen_port;
}

bool rumor_daemon_lan_on(const daemon_t *d)
{
    return d->lan;
}

size_t rumor_daemon_topic_count(const daemon_t *d)
{
    return d->n_topics;
}

const uint8_t *rumor_daemon_topic_id(const daemon_t *d, size_t i)
{
    return d->topics[i].id;
}

bool rumor_daemon_told_of(daemon_t *d, const uint8_t topic[ID])
{
    return rumor_gossip_told_has(&d->told, topic);
}

void rumor_daemon_add_drain_cost(daemon_t *d, uint32_t cost)
{
    d->drain_cost += cost;
}

struct catchup_ctx **rumor_daemon_catchup_slot(daemon_t *d)
{
    return &d->cx;
}

struct inbound **rumor_daemon_inbound_slot(daemon_t *d)
{
    return &d->inbound;
}

struct beacons **rumor_daemon_beacons_slot(daemon_t *d)
{
    return &d->beacons;
}

struct ctl_server **rumor_daemon_ctl_slot(daemon_t *d)
{
    return &d->ctl;
}

rumor_lancodes_t **rumor_daemon_lancodes_slot(daemon_t *d)
{
    return &d->lancodes;
}

struct lan_join **rumor_daemon_lan_joins_slot(daemon_t *d)
{
    return &d->lan_joins;
}
