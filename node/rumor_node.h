/*
 * rumor_node.h - a rumor node's home: its identity, its store and the
 * operations a user performs on them (create rooms, post, read the log).
 * Later it will also run the gossip mesh; the CLI only talks to this header.
 *
 * A home holds `identity.key` (PROTOCOL.md 5.1, mode 0600) and `store/`
 * (the LMDB environment), in a directory of mode 0700.
 *
 * Ownership: rumor_node_open() returns a node the caller closes with
 * rumor_node_close(), which wipes the identity. Strings handed to callbacks
 * are valid only during the call.
 *
 * Threading: one node per thread; several processes may open the same home
 * (LMDB serialises writers).
 */
#ifndef RUMOR_NODE_H
#define RUMOR_NODE_H

#include "rumor_common.h"
#include "rumor_crypto.h"

/* The longest room path accepted ("a/b/c"), in bytes. */
#define RUMOR_PATH_MAX ((RUMOR_NAME_MAX + 1) * 16)

typedef struct rumor_node rumor_node_t;

/* A passphrase, or none (pass == NULL means an unprotected identity). */
typedef struct {
    const char *pass; /* not NUL-terminated necessarily */
    size_t len;
} rumor_passphrase_t;

/*
 * Creates a home with a new identity and an empty store. The home directory
 * may exist but must not hold an identity (RUMOR_ERR_EXISTS). `nick` may be
 * NULL. On failure nothing that was created is left behind.
 */
int rumor_node_init_home(const char *home, const char *nick, const rumor_passphrase_t *pass,
                         uint8_t id_out[RUMOR_ID_BYTES]);
/*
 * Creates a home from an exported key file: the file must open with `pass`.
 * It is kept as it is (same passphrase). RUMOR_ERR_EXISTS when the home has an identity.
 */
int rumor_node_import_home(const char *home, const char *file, const rumor_passphrase_t *pass,
                           uint8_t id_out[RUMOR_ID_BYTES]);

/* True when `home` holds an identity (a key file). */
bool rumor_node_home_has_identity(const char *home);
/*
 * Checks that `file` is a rumor key file or backup and tells whether it is
 * sealed under a passphrase. RUMOR_ERR_NOT_FOUND, RUMOR_ERR_IO, or
 * RUMOR_ERR_MALFORMED when it is not a version-1 key file.
 */
int rumor_node_inspect_backup(const char *file, bool *is_protected);

/* Opens a home without unlocking the identity. RUMOR_ERR_NO_IDENTITY when there is none. */
int rumor_node_open(const char *home, rumor_node_t **out);
void rumor_node_close(rumor_node_t **node);
/* True when the identity is sealed under a passphrase. */
bool rumor_node_is_protected(const rumor_node_t *node);
/* Unlocks the identity (RUMOR_ERR_PASSPHRASE when wrong); does nothing once unlocked. Needed by
 * every operation below that signs or decrypts. */
int rumor_node_unlock(rumor_node_t *node, const rumor_passphrase_t *pass);
const uint8_t *rumor_node_id(const rumor_node_t *node);
/* Replaces the wall clock used for event timestamps (tests drive time with it). */
void rumor_node_set_clock(rumor_node_t *node, rumor_clock_fn clock, void *ctx);
/* The node's own nick ("" when it has none). */
void rumor_node_nick(rumor_node_t *node, char out[RUMOR_NICK_MAX + 1]);
/* The nick of any identity, "" when unknown. */
void rumor_node_nick_of(rumor_node_t *node, const uint8_t pk[RUMOR_ID_BYTES],
                        char out[RUMOR_NICK_MAX + 1]);
/* Writes the identity to a new file `path` (refuses to overwrite), sealed under `pass`. */
int rumor_node_export_identity(rumor_node_t *node, const char *path,
                               const rumor_passphrase_t *pass);

/* Posts a signed PROFILE with the new nick. */
int rumor_node_set_nick(rumor_node_t *node, const char *nick);

/* ---- rooms ---------------------------------------------------------------- */

typedef struct {
    uint8_t id[RUMOR_ID_BYTES];
    uint8_t parent[RUMOR_ID_BYTES]; /* zero: top-level */
    uint8_t domain[RUMOR_ID_BYTES]; /* key room whose members and keys it uses */
    char name[RUMOR_NAME_MAX + 1];  /* "" when it cannot be decrypted */
    char topic[RUMOR_TOPIC_MAX + 1];
    char path[RUMOR_PATH_MAX + 1]; /* names joined by '/' */
    bool is_private;               /* created --private */
    bool readable;                 /* we hold its key */
    int depth;                     /* 0 for a top-level room */
    uint64_t members;              /* members of its key domain */
    uint64_t messages;
    uint64_t unread; /* messages since the last `log` */
    uint32_t epoch;  /* newest key epoch of its domain */
    uint8_t my_role; /* RUMOR_ROLE_*, 0 when not a member */
} rumor_node_room_t;

/*
 * The id of the last stored event that failed its signature or id check while
 * this node read it (operations then return RUMOR_ERR_BAD_SIGNATURE), or NULL.
 */
const uint8_t *rumor_node_tampered_event(const rumor_node_t *node);

/* Resolves a path ("lan/general") or an id prefix of >= 8 hex characters.
 * RUMOR_ERR_BAD_PATH for a malformed path (empty part, leading or trailing '/'),
 * RUMOR_ERR_NOT_FOUND / RUMOR_ERR_AMBIGUOUS otherwise. */
int rumor_node_room_resolve(rumor_node_t *node, const char *name, uint8_t id[RUMOR_ID_BYTES]);
/* Creates a room at `path` (its parent must exist). `topic` may be NULL.
 * RUMOR_ERR_BAD_PATH for a malformed path, RUMOR_ERR_INVALID for a bad name or topic. */
int rumor_node_room_create(rumor_node_t *node, const char *path, bool is_private, const char *topic,
                           uint8_t id_out[RUMOR_ID_BYTES]);
int rumor_node_room_get(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES],
                        rumor_node_room_t *room);
/* Calls cb for every room, depth first, siblings by name. */
typedef int (*rumor_node_room_fn)(void *ctx, const rumor_node_room_t *room);
int rumor_node_room_walk(rumor_node_t *node, rumor_node_room_fn cb, void *ctx);
typedef int (*rumor_node_member_fn)(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], uint8_t role,
                                    const char *nick);
int rumor_node_room_members(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES],
                            rumor_node_member_fn cb, void *ctx);
int rumor_node_room_rename(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES], const char *name);
int rumor_node_room_topic(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES], const char *topic);
/* Moves under `parent` (NULL: to the top level). */
int rumor_node_room_move(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES],
                         const uint8_t *parent);

/* ---- messages ------------------------------------------------------------- */

/* Validates and posts `len` bytes of UTF-8 text; returns after the commit. */
int rumor_node_send(rumor_node_t *node, const uint8_t room[RUMOR_ID_BYTES], const char *text,
                    size_t len, uint8_t id_out[RUMOR_ID_BYTES]);

typedef struct {
    uint8_t id[RUMOR_ID_BYTES];
    uint8_t room[RUMOR_ID_BYTES];
    uint8_t author[RUMOR_ID_BYTES];
    const char *nick; /* author's nick, "" when unknown */
    uint64_t ts;      /* author's clock, ms */
    uint64_t lamport;
    const char *text; /* decrypted text, NUL-terminated; NULL when unreadable */
    size_t text_len;
} rumor_node_message_t;

/*
 * Calls cb for the room's last `limit` messages (0: all) in causal order,
 * re-verifying each event, and marks them read. RUMOR_ERR_BAD_SIGNATURE
 * when a stored event fails verification (rumor_node_tampered_event() names it).
 */
typedef int (*rumor_node_message_fn)(void *ctx, const rumor_node_message_t *msg);
int rumor_node_log(rumor_node_t *node, const uint8_t room[RUMOR_ID_BYTES], uint64_t limit,
                   rumor_node_message_fn cb, void *ctx);

/* Numbers for `status`. */
typedef struct {
    uint64_t rooms;
    uint64_t events;
    uint64_t outbox;
    uint32_t schema;
} rumor_node_counts_t;
int rumor_node_counts(rumor_node_t *node, rumor_node_counts_t *out);

#endif
