/* node_internal.h - private to node/: the node object and helpers shared by its files. */
#ifndef RUMOR_NODE_INTERNAL_H
#define RUMOR_NODE_INTERNAL_H

#include "rumor_gossip.h"
#include "rumor_node.h"
#include "rumor_store.h"

struct rumor_node {
    char *home;                       /* home directory */
    rumor_store_t *store;             /* the open store */
    rumor_identity_t *id;             /* unlocked identity, or NULL */
    uint8_t pk[RUMOR_ID_BYTES];       /* public key, known without unlocking */
    bool is_protected;                /* key file sealed under a passphrase */
    uint8_t *keyfile;                 /* key file image in rumor_secret_alloc memory */
    rumor_gossip_counters_t counters; /* what ingest saw in this process */
    rumor_clock_fn clock;             /* wall clock for event timestamps */
    uint8_t tampered[RUMOR_ID_BYTES]; /* last stored event that failed verification */
    bool has_tampered;                /* whether `tampered` is set */
    void *clock_ctx;                  /* its context */
};

/* Checks a nick: UTF-8, 1..RUMOR_NICK_MAX bytes, no control characters. */
int rumor_node_check_nick(const char *nick);

#endif
