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

/* ---- wire frames (PROTOCOL.md 9.2) and LAN beacons (9.6) ---------------------- */

#define RUMOR_WIRE_VERSION     1
#define RUMOR_WIRE_FRAME_MAX   (RUMOR_EVENT_MAX + 64)
#define RUMOR_WIRE_TOPICS_MAX  256
#define RUMOR_WIRE_IDS_MAX     64
#define RUMOR_WIRE_PEERS_MAX   16
#define RUMOR_WIRE_SYNC_MAX    256
#define RUMOR_WIRE_TOKEN_BYTES 16
#define RUMOR_BEACON_BYTES     40

typedef enum {
    RUMOR_WIRE_HELLO = 1,
    RUMOR_WIRE_PING = 2,
    RUMOR_WIRE_PONG = 3,
    RUMOR_WIRE_SUB = 4,
    RUMOR_WIRE_GRAFT = 5,
    RUMOR_WIRE_PRUNE = 6,
    RUMOR_WIRE_EVENT = 7,
    RUMOR_WIRE_IHAVE = 8,
    RUMOR_WIRE_IWANT = 9,
    RUMOR_WIRE_PEERS = 10,
    RUMOR_WIRE_JOIN = 11,
    RUMOR_WIRE_JOINED = 12,
    RUMOR_WIRE_SYNC = 13,
    RUMOR_WIRE_SYNC_END = 14,
} rumor_wire_type_t;

/* JOINED status (PROTOCOL.md 9.2). */
#define RUMOR_JOIN_OK      0
#define RUMOR_JOIN_UNKNOWN 1
#define RUMOR_JOIN_EXPIRED 2
#define RUMOR_JOIN_FAILED  3

/* A peer address as carried by PEERS. */
typedef struct {
    uint8_t pk[RUMOR_ID_BYTES];
    uint8_t family;   /* 4 or 6 */
    uint8_t addr[16]; /* 4 bytes used for IPv4 */
    uint16_t port;    /* never 0 */
} rumor_wire_peer_t;

/*
 * One decoded frame. Pointers are views into the decoded buffer (valid while
 * it is); fields not used by `type` are zero. For encoding, fill the fields
 * the type uses.
 */
typedef struct {
    uint8_t type;             /* rumor_wire_type_t */
    const uint8_t *pk;        /* HELLO: sender's public key [32] */
    uint16_t port;            /* HELLO: sender's listen port (0: none) */
    uint8_t flags;            /* HELLO: bit 0 peer exchange */
    uint64_t nonce;           /* PING, PONG */
    const uint8_t *topic;     /* GRAFT, PRUNE, IHAVE: topic; JOIN, JOINED, SYNC, SYNC_END: room */
    const uint8_t *ids;       /* SUB: topics; IHAVE, IWANT: event ids; n x 32 bytes */
    size_t n;                 /* count of ids, topics or peers */
    const uint8_t *event;     /* EVENT: the event bytes */
    size_t event_len;         /* EVENT: their length (1..RUMOR_EVENT_MAX) */
    const uint8_t *token;     /* JOIN: token [16] */
    uint8_t status;           /* JOINED: status; SYNC_END: more (0 or 1) */
    uint64_t lamport;         /* SYNC: after_lamport; SYNC_END: last_lamport */
    const uint8_t *cursor_id; /* SYNC: after_id; SYNC_END: last_id [32] */
    uint16_t max;             /* SYNC: 1..RUMOR_WIRE_SYNC_MAX */
    rumor_wire_peer_t peers[RUMOR_WIRE_PEERS_MAX]; /* PEERS, decoded (copied) */
} rumor_wire_frame_t;

/*
 * Decodes one frame. RUMOR_ERR_MALFORMED for anything section 9.2 does not
 * allow (wrong version, unknown type, wrong size, SUB topics not strictly
 * ascending, counts out of range, bad family or port 0 in PEERS, status or
 * more out of range), RUMOR_ERR_TOO_BIG beyond RUMOR_WIRE_FRAME_MAX.
 */
int rumor_wire_decode(const uint8_t *buf, size_t len, rumor_wire_frame_t *f);
/*
 * Encodes `f` into `out` (capacity `cap`). Returns the length, or 0 when `f`
 * breaks a rule of section 9.2 or does not fit.
 */
size_t rumor_wire_encode(const rumor_wire_frame_t *f, uint8_t *out, size_t cap);

typedef struct {
    uint8_t pk[RUMOR_ID_BYTES];
    uint16_t port; /* the sender's listen port, never 0 */
} rumor_beacon_t;

void rumor_beacon_encode(const rumor_beacon_t *b, uint8_t out[RUMOR_BEACON_BYTES]);
/* RUMOR_ERR_MALFORMED unless `len` bytes are exactly a version-1 beacon. */
int rumor_beacon_decode(const uint8_t *buf, size_t len, rumor_beacon_t *b);

#endif
