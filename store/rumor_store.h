/*
 * rumor_store.h - the node's local store: one LMDB environment in the home
 * holding events (bodies stay encrypted), the per-room log, heads, the room
 * tree, members, sealed room keys, profiles, peers and the outbox.
 *
 * The store keeps what it is given; it does not interpret events or judge
 * them (that is gossip's job) and knows nothing of sockets.
 *
 * Transactions: every write goes through rumor_store_write(), which runs a
 * callback inside one LMDB write transaction and commits it before
 * returning. When the map is full the transaction is aborted, the map
 * grown, and the callback run again from the start: a callback must keep
 * every effect inside the transaction (or be safe to repeat). Readers use
 * rumor_store_read_begin()/rumor_store_read_end().
 *
 * Durability: RUMOR_STORE_DURABLE commits are on disk when the call returns
 * (what the user is told is stored). RUMOR_STORE_BATCH commits write and
 * sync their pages but not LMDB's meta page, saving one flush: a power cut
 * may undo the last such transactions, but never corrupts the store and
 * never undoes a later durable one (LMDB's MDB_NOMETASYNC). Use it for
 * events from peers, which can be fetched again.
 *
 * Threading: a store may be shared by threads (MDB_NOTLS); a transaction
 * belongs to the thread that began it. Only one process writes at a time
 * (LMDB's writer lock); readers never block.
 */
#ifndef RUMOR_STORE_H
#define RUMOR_STORE_H

#include "rumor_common.h"

/* The schema this build writes. A store with a higher one is refused. */
#define RUMOR_STORE_SCHEMA 4
/* Initial map size; it doubles on MDB_MAP_FULL up to RUMOR_STORE_MAP_MAX. */
#define RUMOR_STORE_MAP_INITIAL      ((size_t)8 << 20)
#define RUMOR_STORE_MAP_MAX          ((size_t)1 << 40)
#define RUMOR_STORE_KEY_SEALED_BYTES 72
#define RUMOR_STORE_KEY_ID_BYTES     8
#define RUMOR_STORE_NICK_MAX         64

typedef struct rumor_store rumor_store_t;
typedef struct rumor_txn rumor_txn_t;

typedef struct {
    size_t initial_map_bytes; /* 0: RUMOR_STORE_MAP_INITIAL */
    bool read_only;           /* open without creating or migrating */
} rumor_store_options_t;

/*
 * Opens (creating when needed) the store in directory `dir`, which must exist.
 * Returns RUMOR_ERR_SCHEMA_NEWER for a store written by a newer rumor, and
 * RUMOR_ERR_STORE when LMDB refuses. *out is owned by the caller.
 */
int rumor_store_open(const char *dir, const rumor_store_options_t *opt, rumor_store_t **out);
/* Closes the store and sets *s = NULL. No transaction may be open. */
void rumor_store_close(rumor_store_t **s);
/* The schema version found on disk when opened (after any migration). */
uint32_t rumor_store_schema(const rumor_store_t *s);
/* Current map size in bytes (grows on demand). */
size_t rumor_store_map_size(const rumor_store_t *s);

typedef int (*rumor_store_write_fn)(rumor_txn_t *txn, void *ctx);
typedef enum {
    RUMOR_STORE_DURABLE = 0, /* on disk before the call returns */
    RUMOR_STORE_BATCH = 1,   /* pages synced, meta page not: the last commits may be undone */
} rumor_store_durability_t;
/* Runs fn(txn, ctx) in one write transaction and commits it durably. */
int rumor_store_write(rumor_store_t *s, rumor_store_write_fn fn, void *ctx);
/* The same with a chosen durability. */
int rumor_store_write_as(rumor_store_t *s, rumor_store_durability_t durability,
                         rumor_store_write_fn fn, void *ctx);
/* Makes every committed transaction durable. */
int rumor_store_sync(rumor_store_t *s);
int rumor_store_read_begin(rumor_store_t *s, rumor_txn_t **txn);
void rumor_store_read_end(rumor_txn_t **txn);

/* ---- meta (small named values) ----------------------------------------- */
int rumor_store_meta_get(rumor_txn_t *t, const char *key, void *buf, size_t cap, size_t *len);
int rumor_store_meta_put(rumor_txn_t *t, const char *key, const void *val, size_t len);

/* ---- events -------------------------------------------------------------- */
/* Stores an encoded event under its id. RUMOR_ERR_EXISTS if already there. */
int rumor_store_event_put(rumor_txn_t *t, const uint8_t id[RUMOR_ID_BYTES], const uint8_t *buf,
                          size_t len);
/* Gets an event; *buf points into the map and is valid until the txn ends. */
int rumor_store_event_get(rumor_txn_t *t, const uint8_t id[RUMOR_ID_BYTES], const uint8_t **buf,
                          size_t *len);
bool rumor_store_event_has(rumor_txn_t *t, const uint8_t id[RUMOR_ID_BYTES]);
/* Deletes an event's bytes: only a PROFILE superseded by a newer one of its author (events of
 * rooms are never deleted). RUMOR_OK when it was not there. */
int rumor_store_event_drop(rumor_txn_t *t, const uint8_t id[RUMOR_ID_BYTES]);
uint64_t rumor_store_event_count(rumor_txn_t *t);

/* ---- per-room log, ordered by (lamport, id) ------------------------------ */
int rumor_store_log_add(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint64_t lamport,
                        const uint8_t id[RUMOR_ID_BYTES], uint8_t type);
/* Calls cb for the room's log entries in order (or newest first with reverse). cb returns
 * non-zero to stop, and that value is returned. */
typedef int (*rumor_store_log_fn)(void *ctx, uint64_t lamport, const uint8_t id[RUMOR_ID_BYTES],
                                  uint8_t type);
/* Like rumor_store_log_each (in order), starting after the entry (lamport, after_id). */
int rumor_store_log_after(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint64_t lamport,
                          const uint8_t after_id[RUMOR_ID_BYTES], rumor_store_log_fn cb, void *ctx);
int rumor_store_log_each(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], bool reverse,
                         rumor_store_log_fn cb, void *ctx);

/* ---- domain sets: a key domain's events by (lamport, id) (PROTOCOL.md 12.1) ---- */
/* Adds (lamport, id) to the domain's set (again: no change). */
int rumor_store_dlog_add(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES], uint64_t lamport,
                         const uint8_t id[RUMOR_ID_BYTES]);
typedef int (*rumor_store_item_fn)(void *ctx, uint64_t lamport, const uint8_t id[RUMOR_ID_BYTES]);
/* Calls cb for the domain's items from (lamport, id) on, that one included, in order, until cb
 * returns non-zero (which is returned). */
int rumor_store_dlog_from(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES], uint64_t lamport,
                          const uint8_t id[RUMOR_ID_BYTES], rumor_store_item_fn cb, void *ctx);

/* True when (lamport, id) is in the domain's set. */
bool rumor_store_dlog_has(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES], uint64_t lamport,
                          const uint8_t id[RUMOR_ID_BYTES]);
typedef int (*rumor_store_id_fn)(void *ctx, const uint8_t id[RUMOR_ID_BYTES]);
/* Calls cb once for each domain that has a set, in id order. */
int rumor_store_dlog_domains(rumor_txn_t *t, rumor_store_id_fn cb, void *ctx);

/*
 * Rebuild (PROTOCOL.md 7.6): a migration that changes what is derived from
 * events sets a mark; gossip rebuilds and then clears it.
 */
bool rumor_store_rebuild_needed(rumor_txn_t *t);
int rumor_store_rebuild_done(rumor_txn_t *t);

/* ---- control log: a key domain's control events by (lamport, id) (PROTOCOL.md 7.3) ---- */
int rumor_store_clog_add(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES], uint64_t lamport,
                         const uint8_t id[RUMOR_ID_BYTES], uint8_t type);
/* Calls cb for the domain's control events in order (or newest first with reverse). */
int rumor_store_clog_each(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES], bool reverse,
                          rumor_store_log_fn cb, void *ctx);

/* ---- admissions: who was ever admitted to a key domain (monotone) ---------- */
int rumor_store_admit(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES],
                      const uint8_t pk[RUMOR_ID_BYTES]);
bool rumor_store_admitted(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES],
                          const uint8_t pk[RUMOR_ID_BYTES]);
/* Marks `pk` as having lost a right in some fold of the domain (monotone; see gossip/fold.c). */
int rumor_store_mark_loser(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES],
                           const uint8_t pk[RUMOR_ID_BYTES]);
bool rumor_store_is_loser(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES],
                          const uint8_t pk[RUMOR_ID_BYTES]);

/* ---- heads: the key domain's events that no stored event names as a parent ---- */
/* Forgets the domain's heads (before a rebuild). */
int rumor_store_heads_clear(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES]);
/* Fills up to `max` heads (newest lamport first) and the largest head lamport. */
int rumor_store_heads_get(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint8_t *ids,
                          size_t max, size_t *n, uint64_t *max_lamport);
/* Adds `id` as a head and removes the given parents from the room's heads. */
int rumor_store_heads_advance(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                              const uint8_t id[RUMOR_ID_BYTES], uint64_t lamport,
                              const uint8_t *parents, size_t n_parents);

/* ---- rooms and the tree ------------------------------------------------- */
/* A last-writer-wins register: the event that set a field, by (lamport, id). */
typedef struct {
    uint64_t lamport;
    uint8_t event[RUMOR_ID_BYTES];
} rumor_store_lww_t;

typedef struct {
    uint8_t id[RUMOR_ID_BYTES];     /* room id = its ROOM_CREATE event id */
    uint8_t parent[RUMOR_ID_BYTES]; /* zero for a top-level room */
    uint8_t flags;                  /* RUMOR_ROOM_FLAG_* from the create event */
    uint8_t creator[RUMOR_ID_BYTES];
    uint64_t created_ts;     /* create event's wall clock, ms */
    rumor_store_lww_t name;  /* event whose box holds the current name */
    rumor_store_lww_t topic; /* event whose box holds the current topic */
    rumor_store_lww_t place; /* event that set the current parent */
    uint32_t epoch;          /* newest key epoch known (key rooms) */
    uint64_t messages;       /* MESSAGE events in the room */
} rumor_store_room_t;

int rumor_store_room_get(rumor_txn_t *t, const uint8_t id[RUMOR_ID_BYTES],
                         rumor_store_room_t *room);
/* Inserts or updates a room, keeping the parent→child index in step. */
int rumor_store_room_put(rumor_txn_t *t, const rumor_store_room_t *room);
/* Calls cb for each child of `parent` (zero: the top-level rooms), in id order. */
typedef int (*rumor_store_room_fn)(void *ctx, const rumor_store_room_t *room);
int rumor_store_room_children(rumor_txn_t *t, const uint8_t parent[RUMOR_ID_BYTES],
                              rumor_store_room_fn cb, void *ctx);
uint64_t rumor_store_room_count(rumor_txn_t *t);

/*
 * Key domains (PROTOCOL.md 4.3): a top-level room and a private sub-room are key rooms, with
 * their own members and keys; any other room belongs to the key domain of its nearest key-room
 * ancestor. The rule reads only room records, so it lives here; gossip and the store's own
 * migrations both use it.
 */
/* The room flag that makes a sub-room a key room: the event format's RUMOR_ROOM_FLAG_PRIVATE. */
#define RUMOR_STORE_ROOM_PRIVATE 0x01
/* Levels of a key domain, its key room being level 1: the protocol's RUMOR_MAX_DEPTH (7.3). */
#define RUMOR_STORE_MAX_DEPTH 16
/*
 * The deepest level of its key domain at which a stored room can lie, and so how far the walk
 * up goes. A room the fold shows lies within RUMOR_STORE_MAX_DEPTH levels (PROTOCOL.md 7.4), and
 * a move keeps the subtree it takes along within them. A room the fold does not show keeps its
 * record under its creation parent, which may be a room moved to the last level. Rooms below
 * that level each lie under their creation parent, so their levels down the creation chain
 * (7.3) grow by one a level, from 3 at the least (the room on the last level is not the key
 * room) to RUMOR_STORE_MAX_DEPTH at the most: RUMOR_STORE_MAX_DEPTH - 2 more levels.
 */
#define RUMOR_STORE_DOMAIN_LEVELS (2 * RUMOR_STORE_MAX_DEPTH - 2)

/* True when `room` has its own members and keys (top-level or private). */
bool rumor_store_room_is_key_room(const rumor_store_room_t *room);
/*
 * Sets `domain` to the key domain of `room`: the room itself when it is a key room, else its
 * nearest key-room ancestor, at most RUMOR_STORE_DOMAIN_LEVELS levels up (the room itself
 * counting as one). RUMOR_ERR_NOT_FOUND when `room`, or an ancestor in a broken store, is not
 * stored; RUMOR_ERR_STORE when the walk finds no key room within that many levels (a cycle or a
 * broken store).
 */
int rumor_store_key_domain(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                           uint8_t domain[RUMOR_ID_BYTES]);

/* ---- members of key rooms ----------------------------------------------- */
/* *role gets RUMOR_ROLE_* ; RUMOR_ERR_NOT_FOUND when not a member. */
int rumor_store_member_get(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                           const uint8_t pk[RUMOR_ID_BYTES], uint8_t *role);
int rumor_store_member_put(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                           const uint8_t pk[RUMOR_ID_BYTES], uint8_t role);
int rumor_store_member_del(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                           const uint8_t pk[RUMOR_ID_BYTES]);
typedef int (*rumor_store_member_fn)(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], uint8_t role);
int rumor_store_member_each(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                            rumor_store_member_fn cb, void *ctx);
uint64_t rumor_store_member_count(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES]);
/* Forgets what the fold derived for a domain: members, their history and announced epochs. */
int rumor_store_member_clear(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES]);
/* The fold's membership history: `pk` has `role` (0: none) from the control event (lamport, id). */
int rumor_store_mhist_put(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES],
                          const uint8_t pk[RUMOR_ID_BYTES], uint64_t lamport,
                          const uint8_t id[RUMOR_ID_BYTES], uint8_t role);
/* Calls cb(lamport, id, role) for pk's history in the domain, in order. */
int rumor_store_mhist_each(rumor_txn_t *t, const uint8_t domain[RUMOR_ID_BYTES],
                           const uint8_t pk[RUMOR_ID_BYTES], rumor_store_log_fn cb, void *ctx);

/* ---- room keys (sealed at rest by the caller) --------------------------- */
int rumor_store_key_put(rumor_txn_t *t, const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES],
                        const uint8_t room[RUMOR_ID_BYTES], uint32_t epoch,
                        const uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES]);
/* Gets a key by id; `room` and `epoch` may be NULL. */
int rumor_store_key_get(rumor_txn_t *t, const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES],
                        uint8_t room[RUMOR_ID_BYTES], uint32_t *epoch,
                        uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES]);
/* The key id of the room's newest epoch. RUMOR_ERR_NOT_FOUND when it has none. */
int rumor_store_key_current(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES],
                            uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES], uint32_t *epoch);
/* Calls cb for each key of the room, newest epoch first. */
typedef int (*rumor_store_key_fn)(void *ctx, const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES],
                                  uint32_t epoch);
int rumor_store_key_each(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], rumor_store_key_fn cb,
                         void *ctx);

/*
 * Key epochs announced by the room's own events (its ROOM_CREATE box for
 * epoch 0, KEY_EPOCH events after). Keys handed to us are kept only for
 * announced (room, epoch, key id) triples, so a member cannot slip others a
 * key the room never announced.
 */
int rumor_store_epoch_announce(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint32_t epoch,
                               const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES]);
/* The newest announced epoch of the room and, of its keys, the greatest key id (the one senders
 * use, PROTOCOL.md 4.4). RUMOR_ERR_NOT_FOUND when none is announced. */
int rumor_store_epoch_newest(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint32_t *epoch,
                             uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES]);
bool rumor_store_epoch_announced(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint32_t epoch,
                                 const uint8_t key_id[RUMOR_STORE_KEY_ID_BYTES]);

/* ---- profiles (public nicks) -------------------------------------------- */
typedef struct {
    rumor_store_lww_t set_by;            /* the PROFILE event in force */
    char nick[RUMOR_STORE_NICK_MAX + 1]; /* NUL-terminated */
} rumor_store_profile_t;
int rumor_store_profile_get(rumor_txn_t *t, const uint8_t pk[RUMOR_ID_BYTES],
                            rumor_store_profile_t *p);
int rumor_store_profile_put(rumor_txn_t *t, const uint8_t pk[RUMOR_ID_BYTES],
                            const rumor_store_profile_t *p);

/* ---- read markers, peers, outbox ---------------------------------------- */
int rumor_store_read_mark_get(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint64_t *seen);
int rumor_store_read_mark_put(rumor_txn_t *t, const uint8_t room[RUMOR_ID_BYTES], uint64_t seen);
/* Remembered peers: the value is gossip's record (PROTOCOL.md 9.4), 1..RUMOR_STORE_PEER_MAX
 * bytes, opaque here. */
#define RUMOR_STORE_PEER_MAX 128
int rumor_store_peer_put(rumor_txn_t *t, const uint8_t pk[RUMOR_ID_BYTES], const uint8_t *v,
                         size_t len);
int rumor_store_peer_del(rumor_txn_t *t, const uint8_t pk[RUMOR_ID_BYTES]);
typedef int (*rumor_store_peer_fn)(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], const uint8_t *v,
                                   size_t len);
int rumor_store_peer_each(rumor_txn_t *t, rumor_store_peer_fn cb, void *ctx);
int rumor_store_outbox_add(rumor_txn_t *t, const uint8_t id[RUMOR_ID_BYTES]);
int rumor_store_outbox_del(rumor_txn_t *t, const uint8_t id[RUMOR_ID_BYTES]);
uint64_t rumor_store_outbox_count(rumor_txn_t *t);
/* Calls cb for each outbox id (in id order); a non-zero return stops the walk and is returned. */
int rumor_store_outbox_each(rumor_txn_t *t, rumor_store_id_fn cb, void *ctx);

/* ---- contacts: the user's own names for keys (petnames) ------------------ */
/* Sets the name of `pk` (1 to RUMOR_STORE_NICK_MAX bytes; the caller checks it is unique). */
int rumor_store_contact_put(rumor_txn_t *t, const uint8_t pk[RUMOR_ID_BYTES], const char *name);
int rumor_store_contact_get(rumor_txn_t *t, const uint8_t pk[RUMOR_ID_BYTES],
                            char name[RUMOR_STORE_NICK_MAX + 1]);
int rumor_store_contact_del(rumor_txn_t *t, const uint8_t pk[RUMOR_ID_BYTES]);
/* Calls cb(pk, name) for each contact in key order. */
typedef int (*rumor_store_contact_fn)(void *ctx, const uint8_t pk[RUMOR_ID_BYTES],
                                      const char *name);
int rumor_store_contact_each(rumor_txn_t *t, rumor_store_contact_fn cb, void *ctx);

/* ---- invites (PROTOCOL.md 10.1) ---------------------------------------- */
/* Remembers an invite under the hash of its token. */
int rumor_store_invite_put(rumor_txn_t *t, const uint8_t token_hash[RUMOR_ID_BYTES],
                           const uint8_t room[RUMOR_ID_BYTES], uint8_t role, uint64_t expires_ms);
/* Finds and deletes an invite (each is used once). RUMOR_ERR_NOT_FOUND when unknown. */
int rumor_store_invite_take(rumor_txn_t *t, const uint8_t token_hash[RUMOR_ID_BYTES],
                            uint8_t room[RUMOR_ID_BYTES], uint8_t *role, uint64_t *expires_ms);

/* ---- lookups by hex prefix ---------------------------------------------- */
typedef enum { RUMOR_STORE_ROOMS, RUMOR_STORE_EVENTS, RUMOR_STORE_PROFILES } rumor_store_table_t;
/*
 * Finds the one id in `table` whose hex starts with `prefix` (>= 1 hex chars).
 * Returns RUMOR_ERR_NOT_FOUND, RUMOR_ERR_AMBIGUOUS, or RUMOR_OK with *out set.
 */
int rumor_store_find_prefix(rumor_txn_t *t, rumor_store_table_t table, const char *prefix,
                            uint8_t out[RUMOR_ID_BYTES]);

#endif
