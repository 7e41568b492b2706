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
 * Creates a home from a backup (PROTOCOL.md 5.4) that opens with `pass`: the
 * identity (its key file sealed under `pass`), the room keys (sealed again
 * under the new store key), the contacts, and the key domains its node then
 * subscribes to and fetches from peers. A bare key file (5.1, what export
 * wrote before) is kept as it is. RUMOR_ERR_EXISTS when the home has an
 * identity; RUMOR_ERR_PASSPHRASE for a wrong passphrase or an altered backup,
 * RUMOR_ERR_MALFORMED for a file that is neither. On failure nothing is left behind.
 */
int rumor_node_import_home(const char *home, const char *file, const rumor_passphrase_t *pass,
                           uint8_t id_out[RUMOR_ID_BYTES]);

/* True when `home` holds an identity (a key file). */
bool rumor_node_home_has_identity(const char *home);
/*
 * Checks that `file` is a rumor key file or backup and tells whether it is
 * sealed under a passphrase (a backup always is). RUMOR_ERR_NOT_FOUND,
 * RUMOR_ERR_IO, or RUMOR_ERR_MALFORMED when it is neither (PROTOCOL.md 5.1, 5.4).
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
/* Seals the unlocked identity under a new passphrase (NULL: unprotected) and puts the new key file
 * in the place of the old one atomically (PROTOCOL.md 5.1). RUMOR_ERR_PASSPHRASE unless unlocked
 * with the passphrase here (a delegated identity has no seed to seal). */
int rumor_node_change_passphrase(rumor_node_t *node, const rumor_passphrase_t *pass);
/* Gives the node an identity (a delegated one, PROTOCOL.md 11), which it then owns (*id is set to
 * NULL); RUMOR_ERR_INVALID when it is not the home's. A node already unlocked keeps its own. */
int rumor_node_adopt_identity(rumor_node_t *node, rumor_identity_t **id);
const uint8_t *rumor_node_id(const rumor_node_t *node);
/* A message whose clock is later than the reader's by more than this is shown at the reader's
 * clock, marked (PROTOCOL.md 9.7). */
#define RUMOR_CLOCK_SKEW_MS (5 * 60 * 1000)

/* Replaces the wall clock used for event timestamps (tests drive time with it). */
void rumor_node_set_clock(rumor_node_t *node, rumor_clock_fn clock, void *ctx);
/* The node's own nick ("" when it has none). */
void rumor_node_nick(rumor_node_t *node, char out[RUMOR_NICK_MAX + 1]);
/* The nick of any identity, "" when unknown. */
void rumor_node_nick_of(rumor_node_t *node, const uint8_t pk[RUMOR_ID_BYTES],
                        char out[RUMOR_NICK_MAX + 1]);
/*
 * Writes a backup (PROTOCOL.md 5.4) to a new file `path` (refuses to
 * overwrite), sealed under `pass`: the identity, every key of the key domains
 * it belongs to (and of those still being restored), and the contacts.
 */
int rumor_node_export_identity(rumor_node_t *node, const char *path,
                               const rumor_passphrase_t *pass);

/* Posts a signed PROFILE with the new nick. */
int rumor_node_set_nick(rumor_node_t *node, const char *nick);

/* ---- people: contacts and the names shown for keys -------------------------- */

/* The longest contact name (a petname: the user's own name for a key), in bytes. */
#define RUMOR_CONTACT_NAME_MAX 64
/* The longest name shown for a person: a nick, '~' and a key prefix (of up to a whole key). */
#define RUMOR_PERSON_NAME_MAX (RUMOR_NICK_MAX + 1 + RUMOR_ID_HEX)

/*
 * How a person is shown. A contact is shown by the user's own name for it,
 * and this node's identity by its own nick: both are `verified`. Anyone else
 * chose their nick themselves, so it proves nothing: it is shown followed by
 * '~' and a prefix of their key ("alice~84475a13"), or as the prefix alone
 * when they have no nick. The prefix has 8 hex characters, more when another
 * known profile's key shares them, so two people with the same nick never
 * look the same.
 */
typedef struct {
    char name[RUMOR_PERSON_NAME_MAX + 1]; /* what to show */
    char nick[RUMOR_NICK_MAX + 1];        /* their self-chosen nick, "" when none */
    bool verified;                        /* a contact, or ourselves */
} rumor_node_person_t;

/*
 * Fills `out` for the key `pk` (see rumor_node_person_t). This is the one
 * place display names are made; every command that names a person uses it.
 * RUMOR_ERR_BAD_SIGNATURE when their stored profile event was altered.
 */
int rumor_node_person(rumor_node_t *node, const uint8_t pk[RUMOR_ID_BYTES],
                      rumor_node_person_t *out);

/*
 * Resolves PEER (SPEC section 2) to a public key: 64 hex characters are that
 * key (known or not); 8 to 63 hex characters are a prefix that must match
 * exactly one known key (this identity, profiles, room members, bootstrap
 * peers, contacts); anything else, shorter hex included, is a contact name.
 * A contact name never shadows a key prefix: names of 8 or more hex
 * characters are refused by rumor_node_contact_add. Returns RUMOR_OK,
 * RUMOR_ERR_AMBIGUOUS for a prefix of several keys, RUMOR_ERR_NOT_FOUND when
 * nothing matches. Needs no unlocked identity.
 */
int rumor_node_resolve_peer(rumor_node_t *node, const char *peer, uint8_t pk[RUMOR_ID_BYTES]);

/*
 * Checks a contact name: 1 to RUMOR_CONTACT_NAME_MAX bytes of UTF-8
 * (RUMOR_ERR_TOO_BIG, RUMOR_ERR_BAD_UTF8), and RUMOR_ERR_INVALID for an
 * empty name, control characters, a space at either end, a '~' (it marks
 * unverified nicks), or 8 or more hex characters (they name keys).
 */
int rumor_node_contact_check_name(const char *name);
/*
 * Names `pk` `name` (replacing an earlier name for it) in one durable
 * transaction. The name errors of rumor_node_contact_check_name;
 * RUMOR_ERR_EXISTS when another key has that name; RUMOR_ERR_DENIED for this
 * node's own key (it is shown by its own nick). Works with the node running.
 */
int rumor_node_contact_add(rumor_node_t *node, const uint8_t pk[RUMOR_ID_BYTES], const char *name);
/* Forgets the contact `name`; `pk` (may be NULL) gets its key. RUMOR_ERR_NOT_FOUND when none. */
int rumor_node_contact_remove(rumor_node_t *node, const char *name, uint8_t pk[RUMOR_ID_BYTES]);
/* Calls cb for every contact, in key order; `who` has the name given and their own nick. */
typedef int (*rumor_node_person_fn)(void *ctx, const uint8_t pk[RUMOR_ID_BYTES],
                                    const rumor_node_person_t *who);
int rumor_node_contact_each(rumor_node_t *node, rumor_node_person_fn cb, void *ctx);

/* ---- direct conversations (PROTOCOL.md 7.9) ---------------------------------- */

/*
 * Sends `len` bytes of UTF-8 text to `peer` alone: in the conversation with it,
 * which is started (a DIRECT room, the peer added with its key) when there is
 * none. One durable transaction; id_out gets the message id. RUMOR_ERR_INVALID
 * for our own key or a key that is not a valid point.
 */
/* True when `pk` is someone this node knows: a contact, a profile, a peer or a room member. */
bool rumor_node_peer_known(rumor_node_t *node, const uint8_t pk[RUMOR_ID_BYTES]);
int rumor_node_dm_send(rumor_node_t *node, const uint8_t peer[RUMOR_ID_BYTES], const char *text,
                       size_t len, uint8_t id_out[RUMOR_ID_BYTES]);
/* The conversation with `peer` (its room id); RUMOR_ERR_NOT_FOUND when there is none. */
int rumor_node_dm_find(rumor_node_t *node, const uint8_t peer[RUMOR_ID_BYTES],
                       uint8_t room[RUMOR_ID_BYTES]);
typedef int (*rumor_node_dm_fn)(void *ctx, const uint8_t room[RUMOR_ID_BYTES],
                                const uint8_t peer[RUMOR_ID_BYTES]);
/* Calls cb for every conversation (room id, the other member), in room id order. */
int rumor_node_dm_each(rumor_node_t *node, rumor_node_dm_fn cb, void *ctx);

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
/*
 * Checks a room name that this node is about to write (create, rename): the
 * rule of PROTOCOL.md 2.2 for names a node writes. 1 to RUMOR_NAME_MAX bytes
 * of UTF-8 (RUMOR_ERR_TOO_BIG, RUMOR_ERR_BAD_UTF8); RUMOR_ERR_INVALID for an
 * empty name, an ASCII character other than a letter, a digit, '-', '_' or
 * '.', a space, control or invisible character, a leading '-', "." or "..".
 * Names in peers' events are not judged by it: they are only shown.
 */
int rumor_node_room_check_name(const char *name);
/* Creates a room at `path` (its parent must exist). `topic` may be NULL.
 * RUMOR_ERR_BAD_PATH for a malformed path; the errors of
 * rumor_node_room_check_name for its last name; RUMOR_ERR_INVALID,
 * RUMOR_ERR_TOO_BIG or RUMOR_ERR_BAD_UTF8 for a bad topic. */
int rumor_node_room_create(rumor_node_t *node, const char *path, bool is_private, const char *topic,
                           uint8_t id_out[RUMOR_ID_BYTES]);
int rumor_node_room_get(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES],
                        rumor_node_room_t *room);
/* Calls cb for every room, depth first, siblings by name. */
typedef int (*rumor_node_room_fn)(void *ctx, const rumor_node_room_t *room);
int rumor_node_room_walk(rumor_node_t *node, rumor_node_room_fn cb, void *ctx);
/* `who` is how the member is shown (rumor_node_person). */
typedef int (*rumor_node_member_fn)(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], uint8_t role,
                                    const rumor_node_person_t *who);
int rumor_node_room_members(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES],
                            rumor_node_member_fn cb, void *ctx);
/* Renames a room (the errors of rumor_node_room_check_name for a bad name). */
int rumor_node_room_rename(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES], const char *name);
int rumor_node_room_topic(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES], const char *topic);

/*
 * Why rumor_node_room_move refused a move (PROTOCOL.md 3 item 4, 7.4), in the
 * order the reasons are looked for.
 */
typedef enum {
    RUMOR_MOVE_REFUSED = 0,  /* none of those below: the fold ignored it (a hidden target) */
    RUMOR_MOVE_NOT_ADMIN,    /* we are not an admin or the owner of the room */
    RUMOR_MOVE_ROOT,         /* the room was created at the top level: a tree's root stays */
    RUMOR_MOVE_CYCLE,        /* the new parent is the room itself or lies inside it */
    RUMOR_MOVE_OTHER_DOMAIN, /* a shared room would leave its key domain (rooms sharing its key) */
    RUMOR_MOVE_OTHER_TREE,   /* a private room would leave the domain it was created in */
    RUMOR_MOVE_NOT_MEMBER_THERE, /* we were never a member of the new parent's key domain */
    RUMOR_MOVE_TOO_DEEP, /* its subtree would end over RUMOR_MAX_DEPTH levels below its key room */
} rumor_node_move_why_t;

/*
 * Moves under `parent` (NULL: to the top level). RUMOR_ERR_DENIED when the
 * rules refuse it, with the reason in *why (may be NULL); RUMOR_ERR_EXISTS
 * when a room of its name is there already. Nothing is written on a refusal.
 */
int rumor_node_room_move(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES],
                         const uint8_t *parent, rumor_node_move_why_t *why);

/*
 * Adds `member` to the key domain of `room` with `role` (RUMOR_ROLE_*), sealing
 * every epoch key we hold to it (a MEMBER_ADD). Admins may add anyone; members
 * may add a non-member as a member to a room that is not private
 * (RUMOR_ERR_DENIED otherwise); RUMOR_ERR_EXISTS when it already has that role.
 */
int rumor_node_member_add(rumor_node_t *node, const uint8_t room[RUMOR_ID_BYTES],
                          const uint8_t member[RUMOR_ID_BYTES], uint8_t role,
                          uint8_t id_out[RUMOR_ID_BYTES]);
/*
 * Removes `member` from the key domain of `room` (role 0: `room kick`, or
 * `room leave` when it is ourselves) or gives it `role` (`room role`), in one
 * durable transaction. A kick also writes a KEY_EPOCH sealed to everyone who
 * stays (PROTOCOL.md 7.7). ids_out gets the events written (*n_ids of them).
 * RUMOR_ERR_NOT_FOUND: not a member; RUMOR_ERR_DENIED: the rules refuse it
 * (rank); RUMOR_ERR_EXISTS: it has that role already; RUMOR_ERR_BUSY: the
 * owner leaving a room others still use.
 */
int rumor_node_member_change(rumor_node_t *node, const uint8_t room[RUMOR_ID_BYTES],
                             const uint8_t member[RUMOR_ID_BYTES], uint8_t role,
                             uint8_t ids_out[2][RUMOR_ID_BYTES], size_t *n_ids);
/*
 * Writes the rotation that a removal made due, when this node is the one to
 * write it (PROTOCOL.md 7.7). *written tells whether it did (id_out then set).
 */
int rumor_node_rotate_if_due(rumor_node_t *node, const uint8_t domain[RUMOR_ID_BYTES],
                             bool *written, uint8_t id_out[RUMOR_ID_BYTES]);

/*
 * Stores a single-use invite to the key domain of `room` and writes its code
 * (PROTOCOL.md 10.1) naming this node at host:port. Same rights as
 * rumor_node_member_add for a newcomer.
 */
int rumor_node_invite_create(rumor_node_t *node, const uint8_t room[RUMOR_ID_BYTES], uint8_t role,
                             const char *host, uint16_t port, char *code, size_t cap);

/* ---- messages ------------------------------------------------------------- */

/* Validates and posts `len` bytes of UTF-8 text; returns after the commit. */
int rumor_node_send(rumor_node_t *node, const uint8_t room[RUMOR_ID_BYTES], const char *text,
                    size_t len, uint8_t id_out[RUMOR_ID_BYTES]);

typedef struct {
    uint8_t id[RUMOR_ID_BYTES];
    uint8_t room[RUMOR_ID_BYTES];
    uint8_t author[RUMOR_ID_BYTES];
    const char *nick;    /* author's self-chosen nick, "" when unknown */
    const char *name;    /* how the author is shown (rumor_node_person_t) */
    bool verified;       /* the author is a contact, or ourselves */
    uint64_t ts;         /* author's clock, ms, never later than the reader's (PROTOCOL.md 9.7) */
    uint64_t ts_claimed; /* the author's clock as written, when later than the reader's; else 0 */
    uint64_t lamport;
    const char *text; /* decrypted text, NUL-terminated; NULL when unreadable */
    size_t text_len;
} rumor_node_message_t;

/*
 * Calls cb for the room's last `limit` messages (0: all) in causal order,
 * re-verifying each event, and marks them read. RUMOR_ERR_BAD_SIGNATURE
 * when a stored event fails verification (rumor_node_tampered_event() names it);
 * RUMOR_ERR_NO_KEY, before any message, when this node holds no key of the
 * room's key domain, so that none of its messages could be read. (A message
 * under a key we lack, in a room we can read, comes with text NULL.)
 */
typedef int (*rumor_node_message_fn)(void *ctx, const rumor_node_message_t *msg);
int rumor_node_log(rumor_node_t *node, const uint8_t room[RUMOR_ID_BYTES], uint64_t limit,
                   rumor_node_message_fn cb, void *ctx);

/*
 * Calls cb once for the stored message `id`, re-verified and decrypted as in
 * rumor_node_log (RUMOR_ERR_NOT_FOUND when it is not stored).
 */
int rumor_node_message(rumor_node_t *node, const uint8_t id[RUMOR_ID_BYTES],
                       rumor_node_message_fn cb, void *ctx);

/* Remembers a peer of the user's word (an IP literal and a port, checked by the caller) for
 * every later start (PROTOCOL.md 9.4). */
int rumor_node_peer_add(rumor_node_t *node, const uint8_t pk[RUMOR_ID_BYTES], const char *host,
                        uint16_t port);

/* Numbers for `status`. */
typedef struct {
    uint64_t rooms;
    uint64_t events;
    uint64_t outbox;
    uint32_t schema;
} rumor_node_counts_t;
int rumor_node_counts(rumor_node_t *node, rumor_node_counts_t *out);

/* ---- control records (PROTOCOL.md 11) ---------------------------------------- */

#define RUMOR_CTL_FIELDS_MAX 192
/* A notify_cmd (config) at most: a program and its arguments, split on spaces. */
#define RUMOR_NOTIFY_CMD_MAX 1024
#define RUMOR_CTL_KEY_MAX    32
#define RUMOR_CTL_STR_MAX    65536
#define RUMOR_CTL_BYTES_MAX  131072
#define RUMOR_CTL_MSG_MAX    ((size_t)1 << 20)

typedef enum {
    RUMOR_CTL_U64 = 'u',
    RUMOR_CTL_STR = 's',
    RUMOR_CTL_BYTES = 'x',
    RUMOR_CTL_BOOL = 'b',
    RUMOR_CTL_F64 = 'f'
} rumor_ctl_type_t;

typedef struct {
    char key[RUMOR_CTL_KEY_MAX + 1]; /* NUL-terminated */
    uint8_t type;                    /* rumor_ctl_type_t */
    uint64_t u;                      /* RUMOR_CTL_U64 */
    bool b;                          /* RUMOR_CTL_BOOL */
    double f;                        /* RUMOR_CTL_F64: finite */
    const char *s; /* RUMOR_CTL_STR, RUMOR_CTL_BYTES: view into the record, not NUL-terminated */
    size_t s_len;
} rumor_ctl_field_t;

typedef struct {
    size_t n;
    rumor_ctl_field_t f[RUMOR_CTL_FIELDS_MAX];
} rumor_ctl_record_t;

/*
 * Decodes one record body (without its len[4] prefix). RUMOR_ERR_MALFORMED
 * for anything section 11 does not allow (bad key characters, duplicate
 * keys, unknown type, bool not 0/1, string not UTF-8 or too long, trailing
 * bytes, too many fields).
 */
int rumor_ctl_decode(const uint8_t *buf, size_t len, rumor_ctl_record_t *r);
/* The field named `key`, or NULL. */
const rumor_ctl_field_t *rumor_ctl_get(const rumor_ctl_record_t *r, const char *key);

/*
 * Builds one message (len[4] prefix included). Functions record the first
 * error (no memory, bad key, too big) in `err` and do nothing after it.
 * Owns `buf`; release with rumor_ctl_writer_free.
 */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    size_t n; /* fields so far */
    int err;
} rumor_ctl_writer_t;

void rumor_ctl_writer_init(rumor_ctl_writer_t *w);
void rumor_ctl_put_u64(rumor_ctl_writer_t *w, const char *key, uint64_t v);
void rumor_ctl_put_str(rumor_ctl_writer_t *w, const char *key, const char *s, size_t len);
void rumor_ctl_put_bytes(rumor_ctl_writer_t *w, const char *key, const uint8_t *b, size_t len);
void rumor_ctl_put_bool(rumor_ctl_writer_t *w, const char *key, bool v);
/* A finite number (NaN and infinities are RUMOR_ERR_INVALID). */
void rumor_ctl_put_f64(rumor_ctl_writer_t *w, const char *key, double v);
/* Finishes the message: *msg, *len point into w->buf (still owned by w). */
int rumor_ctl_writer_finish(rumor_ctl_writer_t *w, const uint8_t **msg, size_t *len);
void rumor_ctl_writer_free(rumor_ctl_writer_t *w);

/* ---- invite codes (PROTOCOL.md 10.1) ----------------------------------------- */

#define RUMOR_INVITE_PREFIX   "rumor-invite:"
#define RUMOR_INVITE_HOST_MAX 64
#define RUMOR_INVITE_CODE_MAX 256

typedef struct {
    uint8_t room[RUMOR_ID_BYTES];
    uint8_t inviter[RUMOR_ID_BYTES];
    uint8_t token[16];
    uint8_t role; /* RUMOR_ROLE_MEMBER or RUMOR_ROLE_ADMIN */
    uint16_t port;
    char host[RUMOR_INVITE_HOST_MAX + 1]; /* IPv4 or IPv6 literal */
} rumor_invite_t;

/* Writes the code (NUL-terminated) into out; RUMOR_ERR_INVALID for a bad invite. */
int rumor_invite_encode(const rumor_invite_t *inv, char *out, size_t cap);
/* Parses a code (surrounding whitespace allowed); RUMOR_ERR_MALFORMED otherwise. */
int rumor_invite_decode(const char *code, size_t len, rumor_invite_t *inv);
#define RUMOR_NODE_LAN_CODE_CHARS 12
/* True when `s` reads as a LAN code (PROTOCOL.md 10.3: 12 characters of Crockford's base32, any
 * case, dashes and spaces aside). */
bool rumor_node_is_lan_code(const char *s);

/* ---- configuration (rumor node --config FILE) --------------------------------- */

/*
 * Every config key, once: from this list come the fields of rumor_node_config_t,
 * their defaults (PROTOCOL.md section 9), the keys the parser takes with the
 * values it accepts, and the `param_<key>` fields of `stats`. The kinds:
 *
 *   U32(key, default, min, max)     a plain decimal number from min to max
 *   BOOL(key, default)              true or false
 *   CHOICE(key, default, words)     one of the space-separated words
 *   TEXT(key, default, size, rule)  fewer than `size` bytes; rule PATH: not
 *                                   empty, CMD: no control characters
 *
 * A rate allows a burst of twice itself; an author's rates allow ten
 * seconds' worth, hearsay dials 10. The ranges keep a node sane, not tuned:
 * no timer fires faster than 10 ms, no timeout exceeds a day, and nothing
 * asks for more memory than a desktop has to spare.
 */
#define RUMOR_CONFIG_KEYS(U32, BOOL, CHOICE, TEXT, REAL)                                           \
    CHOICE(strategy, "gossipsub", "gossipsub flood tree")   /* dissemination (PROTOCOL 9.3) */     \
    U32(d, 6, 1, 64)                                        /* mesh degree */                      \
    U32(d_lo, 4, 1, 64)                                     /* graft below it */                   \
    U32(d_hi, 12, 1, 64)                                    /* prune above it */                   \
    U32(d_lazy, 6, 0, 64)                                   /* lazy fan-out (IHAVE) */             \
    U32(heartbeat_ms, 1000, 10, 60000)                      /* the mesh's tick */                  \
    U32(history_length, 5, 1, 1000)                         /* heartbeats of ids for IWANT */      \
    U32(history_gossip, 3, 1, 1000)                         /* heartbeats of ids in IHAVE */       \
    U32(seen_max, 65536, 16, 10000000)                      /* seen-cache entries */               \
    U32(seen_ttl_ms, 120000, 1000, 86400000)                /* and how long one is kept */         \
    U32(peers_target, 8, 0, 1024)                           /* peers to dial */                    \
    U32(peers_max, 32, 1, 1024)                             /* peers in all, inbound too */        \
    U32(passive_max, 256, 1, 65536)                         /* candidates kept */                  \
    U32(peer_timeout_ms, 10000, 100, 86400000)              /* silence before a drop */            \
    U32(dial_timeout_ms, 5000, 100, 600000)                 /* a dial's time to HELLO */           \
    U32(peer_queue, 1024, 1, 1000000)                       /* ZMQ_SNDHWM per link */              \
    U32(peer_rate, 2000, 1, 1000000)                        /* frames per second per peer */       \
    U32(ban_ms, 60000, 0, 86400000)                         /* a misbehaving peer's ban */         \
    U32(hello_timeout_ms, 5000, 100, 600000)                /* an accepted link's time to HELLO */ \
    U32(inbound_max, 256, 1, 65536)                         /* links at once, HELLO or not */      \
    U32(handshakes_max, 64, 4, 65536)                       /* handshakes waiting for HELLO */     \
    U32(handshakes_per_addr, 16, 1, 65536)                  /* per address, of unknown keys */     \
    U32(handshakes_per_key, 2, 1, 64)                       /* of those, per key */                \
    U32(cands_per_source, 16, 1, 65536)                     /* candidates one source places */     \
    U32(hearsay_dials_per_min, 20, 1, 60000)                /* dials of hearsay candidates */      \
    U32(author_events_per_s, 50, 1, 1000000)                /* pushed, per author and domain */    \
    U32(author_bytes_per_s, 256 << 10, 16384, 2000000000)   /* and their bytes */                  \
    U32(peer_topic_bytes_per_s, 4 << 20, 65536, 2000000000) /* pushed, per peer and domain */      \
    U32(peer_bytes_per_s, 16 << 20, 65536, 2000000000)      /* EVENT frame bytes per peer */       \
    U32(beacon_ms, 1000, 10, 60000)                         /* between LAN beacons */              \
    U32(beacon_port, 7470, 1, 65535)                        /* UDP */                              \
    U32(batch_max, 256, 1, 65536)                           /* peer events per transaction */      \
    U32(recon_interval_ms, 30000, 100, 86400000)            /* per peer and topic */               \
    U32(recon_rounds_max, 16, 2, 255)                       /* RECON rounds per exchange */        \
    U32(recon_window, 8, 1, 64)                             /* BATCH frames in flight to us */     \
    U32(recon_jobs_max, 256, 1, 4096)                       /* ranges queued per peer */           \
    U32(pending_max, 1024, 4, 65536)                        /* events awaiting parents */          \
    U32(pending_ttl_ms, 30000, 100, 86400000)               /* and how long one waits */           \
    BOOL(peer_exchange, true)                               /* PEERS: swap candidates */           \
    BOOL(score, true)                                       /* peer scores (PROTOCOL 9.8) */       \
    REAL(score_w1, 0.01, 0, 100)                            /* P1: time in a mesh */               \
    REAL(score_w2, 1, 0, 100)                               /* P2: first deliveries */             \
    REAL(score_w3, -1, -100, 0)                             /* P3: mesh delivery deficit */        \
    REAL(score_w3b, -1, -100, 0)                            /* P3b: deficit left with */           \
    REAL(score_w4, -10, -1000, 0)                           /* P4: invalid events */               \
    REAL(score_w5, 1, 0, 100)                               /* P5: a member or contact */          \
    REAL(score_w6, -1, -100, 0)                             /* P6: peers on one address */         \
    REAL(score_w7, -1, -100, 0)                             /* P7: behaviour penalties */          \
    REAL(score_graft, 0, -10000, 10000)                     /* below: not in meshes */             \
    REAL(score_gossip, -10, -10000, 0)                      /* below: no IHAVE/IWANT */            \
    REAL(score_publish, -50, -10000, 0)                     /* below: own events not pushed */     \
    REAL(score_graylist, -80, -10000, 0)                    /* below: frames dropped */            \
    REAL(score_opportunistic, 1, -10000, 10000)             /* a mesh median below: graft more */  \
    U32(score_ip_max, 4, 1, 65536)                          /* peers on one address before P6 */   \
    U32(score_d, 4, 0, 64)                                  /* mesh places kept by score */        \
    U32(score_backoff_ms, 60000, 0, 86400000)               /* after a PRUNE, no GRAFT */          \
    CHOICE(log_level, "info", "error warn info debug")      /* of the log on stderr */             \
    CHOICE(log_format, "text", "text json")                 /* json: an object per line */         \
    TEXT(trace_file, "", 4096, PATH)                        /* JSON Lines of deliveries */         \
    TEXT(notify_cmd, "", RUMOR_NOTIFY_CMD_MAX + 1, CMD)     /* run by chat: a DM, a mention */

#define RUMOR_CONFIG_U32_(key, def, min, max)    uint32_t key;
#define RUMOR_CONFIG_BOOL_(key, def)             bool key;
#define RUMOR_CONFIG_CHOICE_(key, def, words)    char key[sizeof words];
#define RUMOR_CONFIG_TEXT_(key, def, size, rule) char key[size];
#define RUMOR_CONFIG_REAL_(key, def, min, max)   double key;
typedef struct {
    RUMOR_CONFIG_KEYS(RUMOR_CONFIG_U32_, RUMOR_CONFIG_BOOL_, RUMOR_CONFIG_CHOICE_,
                      RUMOR_CONFIG_TEXT_, RUMOR_CONFIG_REAL_)
} rumor_node_config_t;
#undef RUMOR_CONFIG_REAL_
#undef RUMOR_CONFIG_U32_
#undef RUMOR_CONFIG_BOOL_
#undef RUMOR_CONFIG_CHOICE_
#undef RUMOR_CONFIG_TEXT_

/* Fills `cfg` with the defaults of PROTOCOL.md section 9. */
void rumor_node_config_defaults(rumor_node_config_t *cfg);
/*
 * Parses `key = value` lines (# comments, blank lines) over `cfg`. Unknown
 * keys, values RUMOR_CONFIG_KEYS does not accept, and breaches of the rules
 * between keys (d_lo <= d <= d_hi, history_gossip <= history_length,
 * peers_target <= peers_max <= inbound_max) are RUMOR_ERR_INVALID with a
 * one-line reason in `why` (with the line number); `cfg` is then unchanged.
 */
int rumor_node_config_parse(const char *text, size_t len, rumor_node_config_t *cfg, char *why,
                            size_t why_cap);

/* ---- running the node (PROTOCOL.md 9) ------------------------------------------ */

typedef struct {
    const char *listen;       /* "HOST:PORT" (IPv6 as [HOST]:PORT); NULL: 0.0.0.0:7470 */
    const char *const *peers; /* bootstrap peers, "PUBKEY@HOST:PORT" */
    size_t n_peers;
    bool lan; /* LAN beacons */
    const rumor_node_config_t *cfg;
} rumor_node_run_t;

/*
 * Runs the node on the calling thread until SIGINT or SIGTERM: the mesh, LAN
 * discovery, and the control socket. Needs an unlocked identity. Returns
 * RUMOR_ERR_BUSY when another node runs on the home, RUMOR_ERR_INVALID for a
 * bad listen or peer address, RUMOR_ERR_IO when a port cannot be bound.
 */
int rumor_node_run(rumor_node_t *node, const rumor_node_run_t *opt);

/* Parses "HOST:PORT" or "[HOST]:PORT" with an IP literal HOST; RUMOR_ERR_INVALID otherwise. */
int rumor_node_parse_hostport(const char *s, char host[RUMOR_INVITE_HOST_MAX + 1], uint16_t *port);
/* Parses "PUBKEY@HOST:PORT" (PUBKEY: 64 hex characters); RUMOR_ERR_INVALID otherwise. */
int rumor_node_parse_peer(const char *s, uint8_t pk[RUMOR_ID_BYTES],
                          char host[RUMOR_INVITE_HOST_MAX + 1], uint16_t *port);

/*
 * The CLI's side of the control socket. rumor_node_ctl_connect returns
 * RUMOR_ERR_NOT_FOUND when no node runs on `home`. rumor_node_ctl_recv reads
 * one record into *buf (grown as needed; the caller frees it) and decodes it
 * into r, which points into *buf; timeout_ms < 0 waits for ever.
 * RUMOR_ERR_IO when the node went away.
 */
int rumor_node_ctl_connect(const char *home, int *fd);
int rumor_node_ctl_send(int fd, rumor_ctl_writer_t *w);
int rumor_node_ctl_recv(int fd, uint8_t **buf, size_t *cap, rumor_ctl_record_t *r, int timeout_ms);

#endif
