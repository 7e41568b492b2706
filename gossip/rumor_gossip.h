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
    uint64_t received;   /* events offered */
    uint64_t delivered;  /* valid, new, stored */
    uint64_t duplicates; /* already stored (dropped before the signature check) */
    uint64_t superseded; /* PROFILEs older than the author's stored one (dropped the same way) */
    uint64_t strangers;  /* PROFILEs of authors the node has no reason to know (dropped) */
    uint64_t invalid;    /* dropped: malformed, bad signature, causality or rules */
    uint64_t missing_parent; /* of the invalid: a parent not (yet) stored */
    uint64_t ignored;        /* of the delivered: without effect when they arrived (PROTOCOL.md
                                7.3: rights the author lacked, a cycle, a rotation that left out a
                                member, a removed member's post) */
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
 * Set in a room record's flags (never in an event) while the fold does not
 * show the room: its ROOM_CREATE was ignored or filtered (PROTOCOL.md 7.3).
 */
#define RUMOR_ROOM_FLAG_HIDDEN 0x80

/*
 * Graph walks that rumor_gossip_shown keeps across the messages of one read
 * (a `log`), so that a removed member's many messages cost one walk, not one
 * each. Owned by the caller; valid for one read transaction.
 */
typedef struct rumor_gossip_walks rumor_gossip_walks_t;
rumor_gossip_walks_t *rumor_gossip_walks_new(void);
/* Frees *w and sets it to NULL. Accepts NULL. */
void rumor_gossip_walks_destroy(rumor_gossip_walks_t **w);

/*
 * True when a MESSAGE is shown (PROTOCOL.md 7.3): its author is a member at
 * its place in the fold, and it is not concurrent with its author's removal.
 * `walks` (may be NULL) is reused across calls. RUMOR_OK with *shown set, or
 * a store error.
 */
int rumor_gossip_shown(rumor_txn_t *t, const rumor_event_t *ev, rumor_gossip_walks_t *walks,
                       bool *shown);
/*
 * The cheap half of rumor_gossip_shown: the author is a member at the
 * message's place (no graph walk). False means not shown; true may still be
 * hidden as concurrent with a removal.
 */
int rumor_gossip_member_at(rumor_txn_t *t, const rumor_event_t *ev, bool *member);

/*
 * Recomputes everything derived from the events after a migration asked for
 * it (rumor_store_rebuild_needed): domain heads, control logs, admissions and
 * every domain's fold. `self` (may be NULL) picks up its keys again.
 */
int rumor_gossip_rebuild(rumor_txn_t *t, const rumor_identity_t *self);

/*
 * The key room whose members and keys `room` uses (itself, or its nearest
 * key-room ancestor): the store's rule, rumor_store_key_domain, with its depth
 * limit. RUMOR_ERR_NOT_FOUND for an unknown room.
 */
int rumor_gossip_key_domain(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                            uint8_t domain[RUMOR_ID_BYTES]);
/* Whether a shared room `room` of key domain `domain` fits under `target` (a room of the same
 * domain) as the fold judges a move (PROTOCOL.md 7.4): not below itself, and its shared subtree
 * within the depth limit. */
typedef enum {
    RUMOR_GOSSIP_MOVE_FITS = 0,
    RUMOR_GOSSIP_MOVE_CYCLE,    /* target is the room or below it */
    RUMOR_GOSSIP_MOVE_TOO_DEEP, /* the subtree would go past RUMOR_MAX_DEPTH */
} rumor_gossip_move_shape_t;
rumor_gossip_move_shape_t rumor_gossip_move_shape(rumor_txn_t *t,
                                                  const uint8_t room[RUMOR_ID_BYTES],
                                                  const uint8_t target[RUMOR_ID_BYTES],
                                                  const uint8_t domain[RUMOR_ID_BYTES]);

/*
 * The key domain `room` was created in: that of its ROOM_CREATE's `room` field
 * (all zero for a top-level room). Creation facts never change. RUMOR_ERR_DENIED
 * when the room's create is not stored.
 */
int rumor_gossip_creation_domain(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                                 uint8_t domain[RUMOR_ID_BYTES]);
/* True when `room` has its own members and keys (top-level or private; the store's rule). */
bool rumor_gossip_is_key_room(const rumor_store_room_t *room);
/* The rank of `pk` in the key domain of `room`: RUMOR_ROLE_* (owner 3), or 0 for none. */
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
 * Fills `parents` (capacity RUMOR_MAX_PARENTS) with the heads of the room's key domain
 * and *lamport with the clock a new event in the room must carry.
 */
int rumor_gossip_next_parents(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint8_t *parents,
                              uint8_t *n_parents, uint64_t *lamport);

/* ---- memberships told between nodes (PROTOCOL.md 9.2 INVITED, 7.5; told.c) ---- */

/* True when `peer` should be told (INVITED) of `topic`: our store holds it as a member. The
 * caller tells only a peer whose SUB lacks the topic. */
bool rumor_gossip_tell_invited(rumor_txn_t *t, const uint8_t topic[RUMOR_ID_BYTES],
                               const uint8_t peer[RUMOR_ID_BYTES]);
/*
 * The removal to push to `peer`, still subscribed to `domain` though the fold removed it there
 * (members do not reconcile with it): its last removal, when it was admitted once, is no member
 * now, and was not added since. RUMOR_ERR_NOT_FOUND when there is nothing to tell.
 */
int rumor_gossip_removal_to_tell(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES],
                                 const uint8_t peer[RUMOR_ID_BYTES],
                                 uint8_t removal[RUMOR_ID_BYTES]);
/* True when the MEMBER_REMOVE `removal` of `target` took effect in the domain's fold. */
bool rumor_gossip_removal_in_effect(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES],
                                    const uint8_t target[RUMOR_ID_BYTES],
                                    const uint8_t removal[RUMOR_ID_BYTES]);

/* Memberships peers told us of, fetched until they arrive or expire: at most
 * RUMOR_GOSSIP_TOLD_MAX, RUMOR_GOSSIP_TOLD_PER_PEER from one peer, each for
 * RUMOR_GOSSIP_TOLD_TTL_MS (renewed when told again). A lie costs little. */
#define RUMOR_GOSSIP_TOLD_MAX      64
#define RUMOR_GOSSIP_TOLD_PER_PEER 4
#define RUMOR_GOSSIP_TOLD_TTL_MS   (10 * 60 * 1000)
typedef struct {
    uint8_t topic[RUMOR_ID_BYTES];
    uint8_t from[RUMOR_ID_BYTES]; /* the peer that told us */
    uint64_t until_ms;            /* when it is given up */
} rumor_gossip_told_entry_t;
typedef struct {
    rumor_gossip_told_entry_t e[RUMOR_GOSSIP_TOLD_MAX];
    size_t n;
} rumor_gossip_told_t;

/* Takes a told membership: RUMOR_OK when new, RUMOR_ERR_EXISTS when known (renewed),
 * RUMOR_ERR_TOO_BIG when over a limit (not taken), RUMOR_ERR_INVALID for the zero topic. */
int rumor_gossip_told_offer(rumor_gossip_told_t *told, const uint8_t topic[RUMOR_ID_BYTES],
                            const uint8_t from[RUMOR_ID_BYTES], uint64_t now_ms);
bool rumor_gossip_told_has(const rumor_gossip_told_t *told, const uint8_t topic[RUMOR_ID_BYTES]);
/* Drops the told memberships that arrived (`self` is a member now) or expired; *given_up gets how
 * many expired without arriving. */
int rumor_gossip_told_expire(rumor_gossip_told_t *told, rumor_txn_t *t,
                             const uint8_t self[RUMOR_ID_BYTES], uint64_t now_ms, size_t *given_up);

/*
 * The topics a node subscribes to (PROTOCOL.md 9.3), sorted: the profile topic (zero), the key
 * domain of every room `self` is a member of, and each `wanted` domain (restored from a backup,
 * or told of) whose membership has not arrived yet. *arrived counts those of the first
 * `n_counted` wanted that have arrived. At most `cap` topics.
 */
int rumor_gossip_subscriptions(rumor_txn_t *t, const uint8_t self[RUMOR_ID_BYTES],
                               const uint8_t (*wanted)[RUMOR_ID_BYTES], size_t n_wanted,
                               size_t n_counted, uint8_t (*out)[RUMOR_ID_BYTES], size_t cap,
                               size_t *n, size_t *arrived);

/*
 * The topics a node names to `peer` in its SUB, and the only ones it honours from the peer's SUB
 * (PROTOCOL.md 9.3): of the sorted `held` topics, each domain our store holds the peer as a
 * member of; each wanted domain without events that the peer told us of, or that nobody told
 * us of (a backup's); and the profile topic when the peer is a member of a held domain or a
 * contact. `out` (capacity n_held) is sorted.
 */
int rumor_gossip_topics_for(rumor_txn_t *t, const uint8_t peer[RUMOR_ID_BYTES],
                            const uint8_t (*held)[RUMOR_ID_BYTES], size_t n_held,
                            const rumor_gossip_told_t *told, uint8_t (*out)[RUMOR_ID_BYTES],
                            size_t *n);

/* ---- the id caches of dissemination (PROTOCOL.md 9.3; caches.c) ---- */

/* Seen cache: ids offered lately, kept for `ttl_ms` in two generations of up to `max`. */
typedef struct rumor_gossip_seen rumor_gossip_seen_t;
rumor_gossip_seen_t *rumor_gossip_seen_new(size_t max);
void rumor_gossip_seen_free(rumor_gossip_seen_t **s);
bool rumor_gossip_seen_has(const rumor_gossip_seen_t *s, const uint8_t id[RUMOR_ID_BYTES]);
void rumor_gossip_seen_add(rumor_gossip_seen_t *s, const uint8_t id[RUMOR_ID_BYTES], uint64_t now);
/* Forgets the older generation once half of `ttl_ms` has passed since the last turn. */
void rumor_gossip_seen_expire(rumor_gossip_seen_t *s, uint64_t ttl_ms, uint64_t now);

/* Message cache: (topic, id) of the events of the last `windows` heartbeats (4,096 a window). */
typedef struct rumor_gossip_mcache rumor_gossip_mcache_t;
rumor_gossip_mcache_t *rumor_gossip_mcache_new(size_t windows);
void rumor_gossip_mcache_free(rumor_gossip_mcache_t **m);
void rumor_gossip_mcache_add(rumor_gossip_mcache_t *m, const uint8_t topic[RUMOR_ID_BYTES],
                             const uint8_t id[RUMOR_ID_BYTES]);
/* A heartbeat: a new window starts, the oldest is forgotten. */
void rumor_gossip_mcache_shift(rumor_gossip_mcache_t *m);
/* Fills `ids` (room for RUMOR_WIRE_IDS_MAX) with the topic's newest ids of the last
 * `gossip_windows` heartbeats, listed oldest first (an IWANT answering the IHAVE keeps that
 * order, so events come back parents first); returns how many. */
size_t rumor_gossip_mcache_recent(const rumor_gossip_mcache_t *m, size_t gossip_windows,
                                  const uint8_t topic[RUMOR_ID_BYTES], uint8_t *ids);

/* ---- events waiting for their parents (PROTOCOL.md 9.5; pending.c) ---- */

typedef struct {
    uint8_t id[RUMOR_ID_BYTES];
    uint8_t from[RUMOR_ID_BYTES]; /* the peer it came from */
    bool by_sync, by_batch;       /* its origin, kept for when it is released */
    uint8_t *frame;               /* the EVENT frame (the set's own copy) */
    size_t len;
    uint64_t added_ms;
    uint8_t missing[RUMOR_MAX_PARENTS][RUMOR_ID_BYTES]; /* the parents it waits for */
    uint8_t n_missing;
} rumor_gossip_pend_t;
typedef struct {
    rumor_gossip_pend_t *e;
    size_t n, max;
    /* How many entries wait for each parent (by prefix; open addressing, 0 is empty): an
     * event stored that nobody waits for costs one lookup. */
    uint64_t *waited_key;
    uint32_t *waited_n;
    size_t waited_cap, waited_used;
} rumor_gossip_pending_t;
int rumor_gossip_pending_init(rumor_gossip_pending_t *p, size_t max);
/* Frees every frame held, and the set. */
void rumor_gossip_pending_free(rumor_gossip_pending_t *p);
bool rumor_gossip_pending_has(const rumor_gossip_pending_t *p, const uint8_t id[RUMOR_ID_BYTES]);
/* Keeps a copy of `frame` (x->len bytes) with x's id, sender, origin and missing parents
 * (x->missing; an entry without one is never released, and waits out its time), at `now`.
 * RUMOR_ERR_EXISTS when held, RUMOR_ERR_BUSY when the set is full or the sender holds a quarter
 * of it already (the caller counts a drop), RUMOR_ERR_NOMEM. */
int rumor_gossip_pending_add(rumor_gossip_pending_t *p, const rumor_gossip_pend_t *x,
                             const uint8_t *frame, uint64_t now);
/* Removes entry i (the last takes its place); its frame is freed, or handed to the caller. */
void rumor_gossip_pending_take(rumor_gossip_pending_t *p, size_t i, bool free_frame);
/* Event `id` was stored: the entries that waited for it alone leave the set, into `out` (room for
 * `cap`; their frames are the caller's now); an entry that waits for more stays, waiting for
 * less. Returns how many left. */
size_t rumor_gossip_pending_arrived(rumor_gossip_pending_t *p, const uint8_t id[RUMOR_ID_BYTES],
                                    rumor_gossip_pend_t *out, size_t cap);
/* Drops the entries kept longer than `ttl_ms`; returns how many. */
size_t rumor_gossip_pending_expire(rumor_gossip_pending_t *p, uint64_t now, uint64_t ttl_ms);

/* ---- candidate peers: the passive view (PROTOCOL.md 9.4; cands.c) ---- */

#define RUMOR_GOSSIP_HOST_MAX 64
/* How a candidate or peer was found. */
typedef enum {
    RUMOR_FOUND_BOOTSTRAP = 1, /* --peer, peer add: the user's word */
    RUMOR_FOUND_LAN,           /* a beacon */
    RUMOR_FOUND_EXCHANGE,      /* hearsay: a peer's PEERS frame */
    RUMOR_FOUND_INBOUND,       /* it dialed us */
    RUMOR_FOUND_INVITE,        /* the inviter named in an invite */
    RUMOR_FOUND_REMEMBERED,    /* the node's own record of a peer it was linked to (book.c) */
} rumor_found_t;
typedef struct {
    uint8_t pk[RUMOR_ID_BYTES];
    char host[RUMOR_GOSSIP_HOST_MAX + 1];
    uint16_t port;
    uint8_t found;                  /* rumor_found_t */
    uint8_t source[RUMOR_ID_BYTES]; /* who said so: the peer (hearsay), the beacon's address
                                       (LAN, 16 bytes), zero for the user's */
    bool tainted;                   /* its source misbehaved: the first to go */
    uint64_t next_ms;               /* loop time before which it is not dialed */
    uint32_t backoff_ms;            /* next back-off after a failure */
    uint32_t failures;              /* dials that never reached HELLO */
    uint64_t beacon_ms;             /* loop time of its last beacon */
} rumor_gossip_cand_t;
typedef struct {
    uint32_t max;            /* candidates kept (passive_max) */
    uint32_t per_source_max; /* hearsay from one peer, or beacons from one address */
} rumor_gossip_cand_limits_t;
typedef enum {
    RUMOR_GOSSIP_CAND_TAKEN = 0,        /* added */
    RUMOR_GOSSIP_CAND_REPLACED,         /* added in the place of a worse one */
    RUMOR_GOSSIP_CAND_KNOWN,            /* its key is a candidate already (updated) */
    RUMOR_GOSSIP_CAND_REFUSED_SOURCE,   /* its source placed per_source_max already */
    RUMOR_GOSSIP_CAND_REFUSED_ENDPOINT, /* hearsay naming an endpoint a candidate holds */
    RUMOR_GOSSIP_CAND_REFUSED_FULL,     /* full, and nothing may give way */
} rumor_gossip_cand_offer_t;
/*
 * Offers a candidate (pk, host, port, found, source filled) to the table `cands` of *n entries
 * (capacity lim->max): a known key is updated (the user's word beats a beacon's, a beacon's
 * beats hearsay; a beacon after a silence cuts its back-off), a new one is placed under the
 * limits. `rnd` breaks ties.
 */
rumor_gossip_cand_offer_t rumor_gossip_cand_offer(rumor_gossip_cand_t *cands, size_t *n,
                                                  const rumor_gossip_cand_limits_t *lim,
                                                  const rumor_gossip_cand_t *offer, uint64_t now,
                                                  uint32_t rnd);
/* The hearsay `source` placed: marked tainted (misbehaviour), or forgotten (a ban). Returns how
 * many. */
size_t rumor_gossip_cands_taint(rumor_gossip_cand_t *cands, size_t *n,
                                const uint8_t source[RUMOR_ID_BYTES], bool forget);
/* True when `c` may be dialed at `now`; its back-off then doubles (1 s to 60 s). */
bool rumor_gossip_cand_take_turn(rumor_gossip_cand_t *c, uint64_t now);

/* ---- remembered peers (PROTOCOL.md 9.4; book.c) ---- */

#define RUMOR_BOOK_MAX  256                          /* entries a node remembers */
#define RUMOR_KNOWN_MAX (22 + RUMOR_GOSSIP_HOST_MAX) /* an encoded entry's bytes at most */
typedef struct {
    uint8_t pk[RUMOR_ID_BYTES];
    uint8_t found;      /* how it was first found: RUMOR_FOUND_BOOTSTRAP..RUMOR_FOUND_INVITE */
    uint64_t seen_ms;   /* wall clock when last seen linked */
    uint64_t linked_ms; /* wall clock of its last HELLO */
    uint16_t fails;     /* dials failed since then */
    uint16_t port;
    char host[RUMOR_GOSSIP_HOST_MAX + 1]; /* an IP literal */
} rumor_gossip_known_t;
/* Decodes a stored entry of either form into `k` (whose pk the caller set, and which keeps it);
 * RUMOR_ERR_MALFORMED, with the rest zeroed, when it is neither. */
int rumor_gossip_known_decode(const uint8_t *v, size_t len, rumor_gossip_known_t *k);
/* Encodes `k`; returns its length, 0 when it has no host or port. */
size_t rumor_gossip_known_encode(const rumor_gossip_known_t *k, uint8_t out[RUMOR_KNOWN_MAX]);
/* Where a newcomer found `found` goes in a book of `n` entries it is not in: n (appended), the
 * index of the entry it replaces, or SIZE_MAX when it is not remembered. */
size_t rumor_gossip_book_place(const rumor_gossip_known_t *book, size_t n, uint8_t found);
/* True when `k` is to be forgotten at wall-clock `now`. */
bool rumor_gossip_known_forgotten(const rumor_gossip_known_t *k, uint64_t now);
/* Orders a book best first: linked most recently, then fewest failures. */
void rumor_gossip_book_sort(rumor_gossip_known_t *book, size_t n);

/* A token bucket: `per_s` tokens a second up to `burst`; true when one was taken. Start it with
 * tokens = burst and ms = now. */
typedef struct {
    double tokens;
    uint64_t ms;
} rumor_gossip_bucket_t;
bool rumor_gossip_bucket_take(rumor_gossip_bucket_t *b, double per_s, double burst, uint64_t now);
/* The same for `cost` tokens at once. */
bool rumor_gossip_bucket_spend(rumor_gossip_bucket_t *b, double cost, double per_s, double burst,
                               uint64_t now);

/* ---- LAN codes: invites people can type (PROTOCOL.md 10.3; lancode.c) ---- */

#define RUMOR_LANCODE_CHARS       12
#define RUMOR_LANCODE_NONCE_BYTES 16
#define RUMOR_LANCODE_TTL_MS      (10 * 60 * 1000)
#define RUMOR_LANCODES_MAX        16  /* open codes a node keeps */
#define RUMOR_LANCODE_INVITE_MAX  255 /* the invite's code text (10.1) */
#define RUMOR_LANCODE_ADDRS       64  /* source addresses whose tries are counted */
/* LAN_INVITE status. */
#define RUMOR_LANCODE_OK       0
#define RUMOR_LANCODE_NO_MATCH 1
#define RUMOR_LANCODE_LIMITED  2

/* 12 random characters of Crockford's base32. */
void rumor_lancode_generate(char out[RUMOR_LANCODE_CHARS + 1]);
/* A code as typed (any case, dashes and spaces, O for 0, I and L for 1) in its 12 characters;
 * RUMOR_ERR_INVALID when it is not one. */
int rumor_lancode_normalize(const char *in, char out[RUMOR_LANCODE_CHARS + 1]);
/* K = BLAKE2b-256("rumor-lan-code" | code). */
void rumor_lancode_key(const char code[RUMOR_LANCODE_CHARS + 1], uint8_t key[RUMOR_ID_BYTES]);
/* The proof a LAN_CODE carries from `from` to `to`. */
void rumor_lancode_proof(const uint8_t key[RUMOR_ID_BYTES], const uint8_t from[RUMOR_ID_BYTES],
                         const uint8_t to[RUMOR_ID_BYTES],
                         const uint8_t nonce[RUMOR_LANCODE_NONCE_BYTES],
                         uint8_t proof[RUMOR_ID_BYTES]);

/* The proof a LAN_INVITE carries from the inviter `from` to the joiner `to`, binding its answer
 * to the code, the joiner's nonce and the invite. */
void rumor_lancode_answer_proof(const uint8_t key[RUMOR_ID_BYTES],
                                const uint8_t from[RUMOR_ID_BYTES],
                                const uint8_t to[RUMOR_ID_BYTES],
                                const uint8_t nonce[RUMOR_LANCODE_NONCE_BYTES], const char *invite,
                                size_t invite_len, uint8_t proof[RUMOR_ID_BYTES]);

/* The inviter's open codes and the tries it allows. Zero it to start. */
typedef struct {
    struct {
        uint8_t key[RUMOR_ID_BYTES];
        char invite[RUMOR_LANCODE_INVITE_MAX + 1];
        uint64_t expires_ms;
    } open[RUMOR_LANCODES_MAX];
    size_t n;
    struct {
        uint8_t addr[16];
        rumor_gossip_bucket_t tries;
    } addrs[RUMOR_LANCODE_ADDRS];
    size_t n_addrs;
    rumor_gossip_bucket_t all;
} rumor_lancodes_t;
/* Opens a code (its key) for `invite` (a code text of 10.1) for RUMOR_LANCODE_TTL_MS; a full
 * table gives the place of the code that expires first. */
int rumor_lancodes_add(rumor_lancodes_t *t, const uint8_t key[RUMOR_ID_BYTES], const char *invite,
                       uint64_t now);
/* Codes still open at `now`. */
size_t rumor_lancodes_open(rumor_lancodes_t *t, uint64_t now);
/* Judges a LAN_CODE from `from` at `addr` (16 bytes, IPv4 mapped) to us (`self`): RUMOR_LANCODE_OK
 * with the invite copied out and the answer's proof made (the code is then spent), _NO_MATCH, or
 * _LIMITED (3 tries a minute from one address, 30 in all; a node with no open code answers
 * _NO_MATCH at once). */
uint8_t rumor_lancodes_check(rumor_lancodes_t *t, const uint8_t addr[16],
                             const uint8_t from[RUMOR_ID_BYTES], const uint8_t self[RUMOR_ID_BYTES],
                             const uint8_t nonce[RUMOR_LANCODE_NONCE_BYTES],
                             const uint8_t proof[RUMOR_ID_BYTES], uint64_t now,
                             char invite[RUMOR_LANCODE_INVITE_MAX + 1],
                             uint8_t answer[RUMOR_ID_BYTES]);

/* ---- rates per key and domain: authors, peers (PROTOCOL.md 9.7; quota.c) ---- */

typedef struct {
    uint8_t key[RUMOR_ID_BYTES], scope[RUMOR_ID_BYTES];
    rumor_gossip_bucket_t events, bytes;
} rumor_gossip_quota_entry_t;
/* A rate of 0 is not limited. */
typedef struct {
    double per_s, burst;
} rumor_gossip_rate_t;
typedef struct {
    rumor_gossip_quota_entry_t *e;
    size_t n, cap;
    rumor_gossip_rate_t events, bytes;
} rumor_gossip_quota_t;
int rumor_gossip_quota_init(rumor_gossip_quota_t *q, size_t cap, rumor_gossip_rate_t events,
                            rumor_gossip_rate_t bytes);
void rumor_gossip_quota_free(rumor_gossip_quota_t *q);
/* Spends one event and `bytes` bytes of the buckets of (`key`, `scope`) (a new pair, or one that
 * took the place of the pair heard from least recently, starts full); false, spending nothing,
 * when either has too little left. */
bool rumor_gossip_quota_spend(rumor_gossip_quota_t *q, const uint8_t key[RUMOR_ID_BYTES],
                              const uint8_t scope[RUMOR_ID_BYTES], size_t bytes, uint64_t now);

/* The topics of a peer's that count: those it claims (sorted) that we name to it (sorted), into
 * `out` (room for the smaller list); *grew is true when one is not in `before` (sorted). */
size_t rumor_gossip_topics_counted(const uint8_t *claimed, size_t n_claimed, const uint8_t *named,
                                   size_t n_named, const uint8_t *before, size_t n_before,
                                   uint8_t *out, bool *grew);

/* ---- inbound links before and after HELLO (PROTOCOL.md 9.5; links.c) ---- */

typedef struct {
    uint32_t inbound_max;      /* inbound connections tracked at once (the descriptor bound) */
    uint32_t pending_max;      /* handshakes let through whose HELLO has not come */
    uint32_t per_addr_max;     /* of those, from one source address (strangers) */
    uint32_t per_key_max;      /* of those, of one key */
    uint32_t hello_timeout_ms; /* a connection silent this long after accept is closed */
} rumor_gossip_link_limits_t;
typedef struct {
    uint8_t addr[16]; /* source address, IPv4 mapped into IPv6 */
    uint8_t key[32];  /* the Curve key the handshake authenticated */
    bool known;       /* a key the node knows (peer, candidate, member, contact) */
    uint64_t since_ms;
} rumor_gossip_grant_t;
typedef struct {
    int fd;           /* the connection's descriptor (a name here; the transport owns it) */
    uint8_t addr[16]; /* source address */
    uint8_t key[32];  /* after HELLO: whose link it is */
    bool hello;       /* said HELLO: a peer's link */
    bool closing;     /* asked to close, not yet reported closed */
    uint64_t since_ms;
} rumor_gossip_link_t;
typedef struct {
    rumor_gossip_link_limits_t lim;
    rumor_gossip_link_t *links; /* lim.inbound_max */
    size_t n_links;
    rumor_gossip_grant_t *grants; /* lim.pending_max */
    size_t n_grants;
} rumor_gossip_links_t;

int rumor_gossip_links_init(rumor_gossip_links_t *l, const rumor_gossip_link_limits_t *lim);
void rumor_gossip_links_free(rumor_gossip_links_t *l);

typedef enum {
    RUMOR_GOSSIP_ADMIT = 0,
    RUMOR_GOSSIP_DENY_KEY,  /* that key holds per_key_max handshakes without HELLO */
    RUMOR_GOSSIP_DENY_ADDR, /* that address holds per_addr_max (strangers only) */
    RUMOR_GOSSIP_DENY_FULL, /* strangers hold their share (3/4) of pending_max, or all is full
                               of known keys */
} rumor_gossip_admit_t;
/* A handshake from `addr` with `key` asks to be let through (the ZAP decision); when admitted it
 * holds a grant until its HELLO or hello_timeout_ms. A known key may take a stranger's grant. */
rumor_gossip_admit_t rumor_gossip_link_admit(rumor_gossip_links_t *l, const uint8_t addr[16],
                                             const uint8_t key[32], bool known, uint64_t now);
/* A connection was accepted; false when the table is full and it must be closed at once. */
bool rumor_gossip_link_accepted(rumor_gossip_links_t *l, int fd, const uint8_t addr[16],
                                uint64_t now);
/* HELLO came on `fd` from `key`: its grants end and the link is a peer's. Returns the
 * descriptor of the key's older link (its address in older_addr), which the node closes (one
 * inbound link per key), or -1. */
int rumor_gossip_link_hello(rumor_gossip_links_t *l, int fd, const uint8_t key[32], uint64_t now,
                            uint8_t older_addr[16]);
/* The transport reports `fd` closed. */
void rumor_gossip_link_closed(rumor_gossip_links_t *l, int fd);
/* The descriptor of `key`'s inbound link after HELLO (its address in addr), or -1. */
int rumor_gossip_link_fd(const rumor_gossip_links_t *l, const uint8_t key[32], uint8_t addr[16]);
/* Fills `out` with the connections that did not say HELLO within hello_timeout_ms (each given
 * once; the node closes them) and returns how many. */
size_t rumor_gossip_links_silent(rumor_gossip_links_t *l, uint64_t now, rumor_gossip_link_t *out,
                                 size_t cap);
/* Connections accepted that have not said HELLO. */
size_t rumor_gossip_links_pending(const rumor_gossip_links_t *l);

/* ---- wire frames (PROTOCOL.md 9.2) and LAN beacons (9.6) ---------------------- */

#define RUMOR_WIRE_VERSION     1
#define RUMOR_WIRE_FRAME_MAX   (RUMOR_EVENT_MAX + 64)
#define RUMOR_WIRE_TOPICS_MAX  256
#define RUMOR_WIRE_IDS_MAX     64
#define RUMOR_WIRE_PEERS_MAX   16
#define RUMOR_WIRE_SYNC_MAX    256
#define RUMOR_WIRE_TOKEN_BYTES 16
#define RUMOR_BEACON_BYTES     40
/* Anti-entropy (PROTOCOL.md 12.2). */
#define RUMOR_RECON_RANGES_MAX 128
#define RUMOR_RECON_IDS_MAX    64   /* ids in one IDS range */
#define RUMOR_RECON_FRAME_IDS  1536 /* ids in all IDS ranges of one frame */
#define RUMOR_RECON_FP_BYTES   16
#define RUMOR_CREDIT_MAX       64

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
    RUMOR_WIRE_RECON = 15,
    RUMOR_WIRE_BATCH = 16,
    RUMOR_WIRE_CREDIT = 17,
    RUMOR_WIRE_INVITED = 18,    /* a membership waits for the receiver (PROTOCOL.md 9.2) */
    RUMOR_WIRE_LAN_CODE = 19,   /* a LAN code's proof (PROTOCOL.md 10.3) */
    RUMOR_WIRE_LAN_INVITE = 20, /* its answer */
} rumor_wire_type_t;

/* RECON range modes (PROTOCOL.md 12.2). */
#define RUMOR_RECON_SKIP        0
#define RUMOR_RECON_FINGERPRINT 1
#define RUMOR_RECON_IDS         2
#define RUMOR_RECON_NEED        3 /* the listed ids the sender lacks: send them */

/* A point of the order of 12.1: (lamport, id). The top bound is all ones. */
typedef struct {
    uint64_t lamport;
    uint8_t id[RUMOR_ID_BYTES];
} rumor_bound_t;

/* One RECON range: [previous upper, upper). */
typedef struct {
    rumor_bound_t upper;
    uint8_t mode;                     /* RUMOR_RECON_* */
    uint32_t count;                   /* FINGERPRINT */
    uint8_t fp[RUMOR_RECON_FP_BYTES]; /* FINGERPRINT */
    size_t k;                         /* IDS: how many */
    const uint8_t *ids;               /* IDS: k x 32 bytes */
} rumor_recon_range_t;

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
    uint8_t type;      /* rumor_wire_type_t */
    const uint8_t *pk; /* HELLO: sender's public key [32] */
    uint16_t port;     /* HELLO: sender's listen port (0: none) */
    uint8_t flags;     /* HELLO: bit 0 peer exchange */
    uint64_t nonce;    /* PING, PONG */
    const uint8_t
        *topic; /* GRAFT, PRUNE, IHAVE, INVITED: topic; JOIN, JOINED, SYNC, SYNC_END: room */
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
    uint8_t round;                                 /* RECON */
    rumor_recon_range_t *ranges;                   /* RECON: n ranges (decode fills `range_buf`) */
    rumor_recon_range_t range_buf[RUMOR_RECON_RANGES_MAX];
    const uint8_t *lan_nonce; /* LAN_CODE, LAN_INVITE: nonce [16] */
    const uint8_t *proof;     /* LAN_CODE; LAN_INVITE, status 0: proof [32] */
    const uint8_t *invite;    /* LAN_INVITE, status 0: the invite's code text */
    size_t invite_len;        /* 1..RUMOR_LANCODE_INVITE_MAX */
    uint32_t remaining;       /* BATCH: events the sender still has queued; topic: the topic,
                                 event/event_len: the n entries (len[4] | event), n: their count;
                                 CREDIT: n */
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

/*
 * Walks the entries of a decoded BATCH: *pos starts at 0; each call sets
 * *ev and *len to the next event and returns true, false after the last.
 */
bool rumor_wire_batch_next(const rumor_wire_frame_t *f, size_t *pos, const uint8_t **ev,
                           size_t *len);
/* The bytes of a BATCH frame before its entries, and per entry before the event. */
#define RUMOR_BATCH_HEADER_BYTES (2 + RUMOR_ID_BYTES + 4 + 2)
#define RUMOR_BATCH_ENTRY_BYTES  4
/* A BATCH is no larger than the largest EVENT frame: CurveZMQ's own framing must stay within
 * every link's message limit (RUMOR_WIRE_FRAME_MAX). */
#define RUMOR_BATCH_FRAME_MAX (2 + RUMOR_EVENT_MAX)

typedef struct {
    uint8_t pk[RUMOR_ID_BYTES];
    uint16_t port; /* the sender's listen port, never 0 */
} rumor_beacon_t;

/* ---- anti-entropy (PROTOCOL.md 12) --------------------------------------------- */

/* A differing range is cut into this many; a side with at most LIST_MAX items lists them. */
#define RUMOR_RECON_SPLIT    16
#define RUMOR_RECON_LIST_MAX 32

/* Sets the top bound (lamport 2^64-1, id all ones), which a range ending there includes. */
void rumor_bound_top(rumor_bound_t *b);
bool rumor_bound_is_top(const rumor_bound_t *b);
int rumor_bound_cmp(const rumor_bound_t *a, const rumor_bound_t *b);

/* A RECON frame being built: its ranges and the ids their IDS lists point into. */
typedef struct {
    uint8_t topic[RUMOR_ID_BYTES];
    uint8_t round;
    size_t n;
    rumor_recon_range_t r[RUMOR_RECON_RANGES_MAX];
    size_t n_ids;
    uint8_t ids[RUMOR_RECON_FRAME_IDS * RUMOR_ID_BYTES];
} rumor_recon_msg_t;

/* Events to send a peer: the topic's items in [lo, hi) except `excl` (what it listed), or
 * with `only`, just those in `excl` (what it said it needs). */
typedef struct {
    uint8_t topic[RUMOR_ID_BYTES];
    rumor_bound_t lo, hi;
    uint8_t excl[RUMOR_RECON_IDS_MAX * RUMOR_ID_BYTES];
    size_t n_excl;
    bool only;          /* send only the listed ids */
    uint32_t total;     /* items it covers (when it was made) */
    uint32_t sent;      /* items walked so far */
    rumor_bound_t next; /* where the walk resumes */
    bool started;       /* `next` was sent already */
} rumor_recon_job_t;

/* Where an answer puts what it found: a range to send (copied by the callee), ids to ask for. */
typedef struct {
    int (*job)(void *ctx, const rumor_recon_job_t *job);
    void (*want)(void *ctx, const uint8_t *ids, size_t n);
    void *ctx;
} rumor_recon_sink_t;

/* The opening RECON (round 0) of an exchange about `topic`. */
int rumor_recon_open(rumor_txn_t *t, const uint8_t topic[RUMOR_ID_BYTES], rumor_recon_msg_t *out);
/*
 * Answers a decoded RECON frame (PROTOCOL.md 12.3): fills `out` and reports
 * settled ranges to `sink`. Returns 1 when `out` is to be sent, 0 when the
 * exchange ended (nothing to send), or a store error.
 */
int rumor_recon_answer(rumor_txn_t *t, const rumor_wire_frame_t *in, rumor_recon_msg_t *out,
                       const rumor_recon_sink_t *sink);
/* Points `f` at `m` for rumor_wire_encode (f is valid while m is). */
void rumor_recon_frame(const rumor_recon_msg_t *m, rumor_wire_frame_t *f);
/*
 * Walks a job from where it stopped: fn(ctx, lamport, id) for each item to
 * send, in order, until fn returns 1 (that item not taken; the walk stops
 * there) or the job is done (*done set).
 */
int rumor_recon_job_walk(rumor_txn_t *t, rumor_recon_job_t *job, rumor_store_item_fn fn, void *ctx,
                         bool *done);

void rumor_beacon_encode(const rumor_beacon_t *b, uint8_t out[RUMOR_BEACON_BYTES]);
/* RUMOR_ERR_MALFORMED unless `len` bytes are exactly a version-1 beacon. */
int rumor_beacon_decode(const uint8_t *buf, size_t len, rumor_beacon_t *b);

/* Dissemination without I/O. */
#include "engine.h"

#endif
