/*
 * rumor_gossip.h - the protocol engine: every event, whether made by the
 * local user or received from a peer, enters through rumor_gossip_ingest(),
 * which validates it (PROTOCOL.md section 3) and, when valid, stores it and
 * folds it into the room state (section 4).
 *
 * The wire side (peers, mesh, IHAVE/IWANT) will live here too; gossip uses
 * the store and crypto modules and never opens LMDB itself.
 *
 * Threading: functions take a store transaction and are as thread-safe as
 * that transaction (one thread per transaction).
 */
#ifndef RUMOR_GOSSIP_H
#define RUMOR_GOSSIP_H

#include "rumor_crypto.h"
#include "rumor_store.h"

/* What happened to events offered to ingest, for `stats`. */
typedef struct {
    uint64_t received;       /* events offered */
    uint64_t delivered;      /* valid, new, stored */
    uint64_t duplicates;     /* already stored (dropped before the signature check) */
    uint64_t invalid;        /* dropped: malformed, bad signature, causality or rules */
    uint64_t missing_parent; /* of the invalid: a parent not (yet) stored */
} rumor_gossip_counters_t;

/*
 * Validates `len` bytes as an event and, when valid and new, stores and
 * applies it inside `t`. `self` (may be NULL) receives room keys sealed to
 * it. `ev` (may be NULL) gets the decoded view, pointing into `buf`.
 * Returns RUMOR_OK; RUMOR_ERR_EXISTS for a duplicate; RUMOR_ERR_MALFORMED,
 * RUMOR_ERR_TOO_BIG, RUMOR_ERR_BAD_SIGNATURE, RUMOR_ERR_MISSING_PARENT or
 * RUMOR_ERR_DENIED for an invalid event (nothing stored); other errors come
 * from the store and mean the transaction must be aborted.
 */
int rumor_gossip_ingest(rumor_txn_t *t, const rumor_identity_t *self, const uint8_t *buf,
                        size_t len, rumor_event_t *ev, rumor_gossip_counters_t *counters);

/*
 * The key room whose members and keys `room` uses (itself, or its nearest
 * key-room ancestor). RUMOR_ERR_NOT_FOUND for an unknown room.
 */
int rumor_gossip_key_domain(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                            uint8_t domain[RUMOR_ID_BYTES]);
/* True when `room` has its own members and keys (top-level or private). */
bool rumor_gossip_is_key_room(const rumor_store_room_t *room);
/* The role of `pk` in the key domain of `room`: RUMOR_ROLE_*, or 0 for none. */
uint8_t rumor_gossip_role(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                          const uint8_t pk[RUMOR_ID_BYTES]);

/*
 * Keeps a room key for `self`, sealed at rest under its store key, if the
 * room announced it for `epoch` (PROTOCOL.md 4.4); RUMOR_ERR_DENIED if not.
 */
int rumor_gossip_keep_key(rumor_txn_t *t, const rumor_identity_t *self,
                          const uint8_t room[RUMOR_ID_BYTES], uint32_t epoch,
                          const uint8_t key[RUMOR_ROOM_KEY_BYTES]);

/*
 * Fills `parents` (capacity RUMOR_MAX_PARENTS) with the room's current heads
 * and *lamport with the clock a new event in the room must carry.
 */
int rumor_gossip_next_parents(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint8_t *parents,
                              uint8_t *n_parents, uint64_t *lamport);

#endif
