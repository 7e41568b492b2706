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

/* Everything needed to sign one event inside a write transaction. */
typedef struct {
    rumor_node_t *n;
    uint8_t type;
    uint8_t room[RUMOR_ID_BYTES]; /* the event's room field */
    const uint8_t *plain;         /* plain body prefix */
    size_t plain_len;
    const uint8_t *text; /* boxed plaintext, or NULL for no box */
    size_t text_len;
    const uint8_t *box_key;     /* key for the box; NULL: the room's domain key */
    uint8_t id[RUMOR_ID_BYTES]; /* out: the event id */
} post_t;

/* Builds, signs and ingests one event inside `t`, and queues it in the outbox. */
int rumor_node_post_in(rumor_txn_t *t, post_t *p);
/* Opens the room key named `key_id` into `key` (secret memory of the caller). */
int rumor_node_load_key(rumor_txn_t *t, rumor_node_t *n, const uint8_t key_id[RUMOR_KEY_ID_BYTES],
                        uint8_t *key);
/* Reads stored event `eid`, verifies it again and decrypts its box into `pt` (capacity `cap`, NUL
 * added); *type gets its type. RUMOR_ERR_BAD_SIGNATURE when it was altered, RUMOR_ERR_NO_KEY or
 * RUMOR_ERR_DECRYPT when it cannot be read. */
int rumor_node_open_event_box(rumor_txn_t *t, rumor_node_t *n, const uint8_t eid[RUMOR_ID_BYTES],
                              char *pt, size_t cap, size_t *pt_len, uint8_t *type);

/* Adds `member` to the key domain of `room` inside `t` (see rumor_node_member_add). */
int rumor_node_member_add_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t room[RUMOR_ID_BYTES],
                             const uint8_t member[RUMOR_ID_BYTES], uint8_t role,
                             uint8_t id_out[RUMOR_ID_BYTES]);
/* Checks message text: 1 to RUMOR_TEXT_MAX bytes of UTF-8 without NUL. */
int rumor_node_text_check(const char *text, size_t len);
/* Posts a message in `room` inside `t` (we must be a member) and marks it read. */
int rumor_node_send_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t room[RUMOR_ID_BYTES],
                       const char *text, size_t len, uint8_t id_out[RUMOR_ID_BYTES]);
/* The conversation with `peer` inside `t` (see rumor_node_dm_find). */
int rumor_node_dm_find_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t peer[RUMOR_ID_BYTES],
                          uint8_t room[RUMOR_ID_BYTES]);
/* Writes a KEY_EPOCH of `domain`: a fresh key sealed to every current member. */
int rumor_node_rotate_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t domain[RUMOR_ID_BYTES],
                         uint8_t id_out[RUMOR_ID_BYTES]);
/*
 * True when a removal took effect after the newest rotation of `domain` and
 * this node is the one that rotates (PROTOCOL.md 7.7).
 */
bool rumor_node_rotation_due(rumor_txn_t *t, rumor_node_t *n, const uint8_t domain[RUMOR_ID_BYTES]);
/*
 * Redeems an invite token for `joiner` (the key its link authenticated):
 * returns a RUMOR_JOIN_* status; *added tells whether a MEMBER_ADD (id_out)
 * was authored and must be gossiped.
 */
uint8_t rumor_node_invite_redeem(rumor_node_t *n, const uint8_t room[RUMOR_ID_BYTES],
                                 const uint8_t *token, const uint8_t joiner[RUMOR_ID_BYTES],
                                 uint8_t id_out[RUMOR_ID_BYTES], bool *added);

/* Checks a nick: UTF-8, 1..RUMOR_NICK_MAX bytes, no control characters. */
int rumor_node_check_nick(const char *nick);

/* The verified nick of `pk` inside `t` ("" when it has none); see rumor_node_nick_of. */
int rumor_node_nick_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t pk[RUMOR_ID_BYTES],
                       char out[RUMOR_NICK_MAX + 1]);
/* rumor_node_person inside `t`. */
int rumor_node_person_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t pk[RUMOR_ID_BYTES],
                         rumor_node_person_t *out);

/*
 * Key domains restored from a backup whose membership the store does not
 * hold yet (PROTOCOL.md 5.4, meta `restoring`): the node subscribes to them
 * and reconciles them with any peer until their events make it a member.
 */
/* Calls cb for each restoring domain in id order; a non-zero return stops and is returned. */
int rumor_node_restoring_each(rumor_txn_t *t, rumor_store_id_fn cb, void *ctx);
bool rumor_node_restoring_has(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES]);
/* Drops the domains that now have `self` as a member; *left (may be NULL) gets how many remain. */
int rumor_node_restoring_settle(rumor_txn_t *t, const uint8_t self[RUMOR_ID_BYTES], size_t *left);

#endif
