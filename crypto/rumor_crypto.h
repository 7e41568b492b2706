/*
 * rumor_crypto.h - identities, key files, room keys, encrypted boxes and the
 * signed event envelope (PROTOCOL.md sections 1, 2 and 5).
 *
 * This module is pure: it never touches files, sockets or the clock. Secret
 * material lives in sodium_malloc'd (locked, guarded) memory and is wiped on
 * every path.
 *
 * Threading: call rumor_crypto_init() once; afterwards every function is
 * thread-safe on distinct objects.
 */
#ifndef RUMOR_CRYPTO_H
#define RUMOR_CRYPTO_H

#include "rumor_common.h"

#if defined(__GNUC__)
#define RUMOR_MUST_CHECK __attribute__((warn_unused_result))
#else
#define RUMOR_MUST_CHECK
#endif

#define RUMOR_SIG_BYTES      64
#define RUMOR_SEED_BYTES     32
#define RUMOR_ROOM_KEY_BYTES 32
#define RUMOR_KEY_ID_BYTES   8
#define RUMOR_NONCE_BYTES    24
#define RUMOR_MAC_BYTES      16
/* key_id | nonce | tag: what a box adds to its plaintext. */
#define RUMOR_BOX_OVERHEAD (RUMOR_KEY_ID_BYTES + RUMOR_NONCE_BYTES + RUMOR_MAC_BYTES)
/* crypto_box_seal of n bytes is n + 48. */
#define RUMOR_SEAL_OVERHEAD 48
/* A room key sealed for storage at rest: nonce | secretbox(key). */
#define RUMOR_KEY_AT_REST_BYTES (24 + 16 + RUMOR_ROOM_KEY_BYTES)

#define RUMOR_KEYFILE_BYTES 146
#define RUMOR_KEYFILE_MAGIC "RUMORKEY"

/* Events are written as version 2 (PROTOCOL.md 7.2), PROFILE as version 1; both are read. */
#define RUMOR_EVENT_VERSION    2
#define RUMOR_EVENT_VERSION_V1 1
/* The first byte of a box's associated data: the box format, unchanged since version 1. */
#define RUMOR_BOX_AD_VERSION 1
#define RUMOR_EVENT_MAX      65536
#define RUMOR_MAX_PARENTS    16
/* version | type | room | author | lamport | ts | n_parents */
#define RUMOR_EVENT_FIXED 83
/* The box's associated data: version | type | room | author. */
#define RUMOR_EVENT_AD_BYTES  66
#define RUMOR_TEXT_MAX        16384
#define RUMOR_NAME_MAX        64
#define RUMOR_TOPIC_MAX       512
#define RUMOR_NICK_MAX        64
#define RUMOR_MAX_SEALED_KEYS 64
#define RUMOR_MAX_MEMBERS     512
/* The room tree is at most this many levels deep. */
#define RUMOR_MAX_DEPTH 16
/* MEMBER_ADD entry: seal(key_id | epoch | key) */
#define RUMOR_SEALED_GRANT_BYTES                                                                   \
    (RUMOR_KEY_ID_BYTES + 4 + RUMOR_ROOM_KEY_BYTES + RUMOR_SEAL_OVERHEAD)
/* KEY_EPOCH body before its entries: epoch | n | key_id */
#define RUMOR_KEY_EPOCH_FIXED (4 + 2 + RUMOR_KEY_ID_BYTES)
/* KEY_EPOCH entry: member | seal(key) */
#define RUMOR_EPOCH_ENTRY_BYTES (RUMOR_ID_BYTES + RUMOR_ROOM_KEY_BYTES + RUMOR_SEAL_OVERHEAD)

typedef enum {
    RUMOR_EV_ROOM_CREATE = 1,
    RUMOR_EV_MESSAGE = 2,
    RUMOR_EV_PROFILE = 3,
    RUMOR_EV_ROOM_RENAME = 4,
    RUMOR_EV_ROOM_MOVE = 5,
    RUMOR_EV_ROOM_TOPIC = 6,
    RUMOR_EV_MEMBER_ADD = 7,
    RUMOR_EV_MEMBER_REMOVE = 8,
    RUMOR_EV_KEY_EPOCH = 9,
    RUMOR_EV_MEMBER_ROLE = 10, /* version 2 only */
} rumor_event_type_t;

#define RUMOR_ROOM_FLAG_PRIVATE 0x01
/* A direct conversation: a top-level room of exactly two members (version 2, PROTOCOL.md 7.9). */
#define RUMOR_ROOM_FLAG_DIRECT 0x02
#define RUMOR_ROLE_MEMBER      1
#define RUMOR_ROLE_ADMIN       2
/* The key room's creator; never carried by an event (PROTOCOL.md 7.4). */
#define RUMOR_ROLE_OWNER 3

/*
 * Initialises libsodium. Returns RUMOR_OK or RUMOR_ERR_CRYPTO. Randomness comes
 * from libsodium's randombytes, which tests and fuzzers make deterministic with
 * randombytes_set_implementation() before this call.
 */
int rumor_crypto_init(void);

/* ---- memory for secrets ------------------------------------------------- */

/* Locked, guarded memory for a secret (NULL when out of memory); free with rumor_secret_free. */
void *rumor_secret_alloc(size_t len);
/* Wipes and frees what rumor_secret_alloc returned. Accepts NULL. */
void rumor_secret_free(void *p);
/* Wipes `len` bytes in a way the compiler cannot drop. */
void rumor_wipe(void *p, size_t len);
/* Constant-time equality of two secrets of `len` bytes. */
bool rumor_secret_equal(const void *a, const void *b, size_t len);

/* ---- identity ---------------------------------------------------------- */

/* An Ed25519 identity. The secret half is in sodium_malloc'd memory. */
typedef struct rumor_identity rumor_identity_t;

/* Makes a new random identity. *out is owned by the caller (rumor_identity_destroy). */
int rumor_identity_generate(rumor_identity_t **out);
/* Rebuilds an identity from its 32-byte seed. */
int rumor_identity_from_seed(const uint8_t seed[RUMOR_SEED_BYTES], rumor_identity_t **out);
/* Wipes and frees *id and sets *id = NULL. Accepts NULL. */
void rumor_identity_destroy(rumor_identity_t **id);
/* The public key (the rumor id). Valid while `id` lives. */
const uint8_t *rumor_identity_public(const rumor_identity_t *id);
/*
 * The X25519 (Curve) key pair of an identity, used as its CurveZMQ link key
 * (PROTOCOL.md 9.1). The secret is a view into the identity's secret memory,
 * valid while `id` lives.
 */
const uint8_t *rumor_identity_curve_secret(const rumor_identity_t *id);
/* Converts an Ed25519 public key to its X25519 key; RUMOR_ERR_INVALID when it is not a valid point.
 */
int rumor_curve_public(uint8_t out[32], const uint8_t pk[RUMOR_ID_BYTES]);
/* Signs `len` bytes of `msg` into `sig`; fails only for a delegated identity whose agent does. */
int rumor_identity_sign(const rumor_identity_t *id, uint8_t sig[RUMOR_SIG_BYTES],
                        const uint8_t *msg, size_t len);

/*
 * A delegated identity keeps no secret: each secret operation is asked of an agent (the
 * running node, PROTOCOL.md 11), which answers RUMOR_OK or an error. The seed cannot be had
 * from it, so key files and backups cannot be sealed with it, and it has no Curve secret.
 */
typedef struct {
    int (*sign)(void *ctx, uint8_t sig[RUMOR_SIG_BYTES], const uint8_t *msg, size_t len);
    int (*seal_open)(void *ctx, uint8_t *out, const uint8_t *sealed, size_t sealed_len);
    int (*key_open)(void *ctx, uint8_t key[RUMOR_ROOM_KEY_BYTES], const uint8_t *sealed,
                    size_t sealed_len);
    int (*key_seal)(void *ctx, uint8_t out[RUMOR_KEY_AT_REST_BYTES],
                    const uint8_t key[RUMOR_ROOM_KEY_BYTES]);
} rumor_agent_t;
int rumor_identity_delegated(const uint8_t pk[RUMOR_ID_BYTES], const rumor_agent_t *agent,
                             void *ctx, rumor_identity_t **out);
bool rumor_identity_is_delegated(const rumor_identity_t *id);

/*
 * Seals the identity in a key file image (PROTOCOL.md 5.1). With pass == NULL
 * the file is unprotected and `out` then holds the seed in clear: keep it in
 * rumor_secret_alloc memory. opslimit/memlimit 0 pick the interactive defaults.
 */
int rumor_keyfile_seal(const rumor_identity_t *id, const char *pass, size_t pass_len,
                       uint64_t opslimit, uint64_t memlimit, uint8_t out[RUMOR_KEYFILE_BYTES]);
/*
 * Reads the public part of a key file image without a passphrase.
 * Returns RUMOR_ERR_MALFORMED for anything that is not a version-1 key file.
 */
int rumor_keyfile_inspect(const uint8_t *buf, size_t len, uint8_t pk[RUMOR_ID_BYTES],
                          bool *is_protected);
/*
 * Opens a key file image. Returns RUMOR_ERR_PASSPHRASE when the passphrase is
 * wrong (or the file was altered), RUMOR_ERR_MALFORMED when it is not a key file.
 */
RUMOR_MUST_CHECK int rumor_keyfile_open(const uint8_t *buf, size_t len, const char *pass,
                                        size_t pass_len, rumor_identity_t **out);

/* ---- hashing, keys, boxes ---------------------------------------------- */

/* BLAKE2b-256 of `len` bytes. */
void rumor_crypto_hash(uint8_t out[RUMOR_ID_BYTES], const uint8_t *in, size_t len);
/* BLAKE2b-256 of `len` bytes keyed with `key` (a MAC). */
void rumor_crypto_mac(uint8_t out[RUMOR_ID_BYTES], const uint8_t key[RUMOR_ID_BYTES],
                      const uint8_t *in, size_t len);
/* Fills `buf` with random bytes. */
void rumor_crypto_random(uint8_t *buf, size_t len);
/* A fresh random room key. */
void rumor_room_key_generate(uint8_t key[RUMOR_ROOM_KEY_BYTES]);
/* The public name of a room key (PROTOCOL.md 4.4). */
void rumor_room_key_id(uint8_t out[RUMOR_KEY_ID_BYTES], const uint8_t key[RUMOR_ROOM_KEY_BYTES]);

/*
 * Encrypts `pt` into a box (PROTOCOL.md 2.2) written to `out` (capacity
 * `cap` >= pt_len + RUMOR_BOX_OVERHEAD). *out_len gets the box length.
 */
int rumor_box_seal(uint8_t *out, size_t cap, size_t *out_len,
                   const uint8_t key[RUMOR_ROOM_KEY_BYTES], const uint8_t *ad, size_t ad_len,
                   const uint8_t *pt, size_t pt_len);
/* The key id a box names, or RUMOR_ERR_MALFORMED when it is too short to be a box. */
int rumor_box_key_id(const uint8_t *box, size_t box_len, uint8_t key_id[RUMOR_KEY_ID_BYTES]);
/*
 * Decrypts a box into `pt` (capacity >= box_len - RUMOR_BOX_OVERHEAD).
 * Returns RUMOR_ERR_DECRYPT when the key is wrong or the box was altered.
 */
RUMOR_MUST_CHECK int rumor_box_open(uint8_t *pt, size_t *pt_len,
                                    const uint8_t key[RUMOR_ROOM_KEY_BYTES], const uint8_t *ad,
                                    size_t ad_len, const uint8_t *box, size_t box_len);

/* Seals `len` bytes to the holder of Ed25519 key `pk`; `out` gets len + RUMOR_SEAL_OVERHEAD bytes.
 */
int rumor_seal_to(uint8_t *out, const uint8_t pk[RUMOR_ID_BYTES], const uint8_t *msg, size_t len);
/* Opens a sealed message meant for `id`; `out` gets sealed_len - RUMOR_SEAL_OVERHEAD bytes. */
RUMOR_MUST_CHECK int rumor_seal_open(uint8_t *out, const rumor_identity_t *id,
                                     const uint8_t *sealed, size_t sealed_len);

/* Seals a room key for storage under the identity's store key (PROTOCOL.md 5.2). */
RUMOR_MUST_CHECK int rumor_key_at_rest_seal(uint8_t out[RUMOR_KEY_AT_REST_BYTES],
                                            const rumor_identity_t *id,
                                            const uint8_t key[RUMOR_ROOM_KEY_BYTES]);
RUMOR_MUST_CHECK int rumor_key_at_rest_open(uint8_t key[RUMOR_ROOM_KEY_BYTES],
                                            const rumor_identity_t *id, const uint8_t *sealed,
                                            size_t sealed_len);

/* ---- backups (PROTOCOL.md 5.4) ----------------------------------------- */

#define RUMOR_BACKUP_MAGIC "RUMORBAK"
/* magic | version | public key | opslimit | memlimit | salt | nonce */
#define RUMOR_BACKUP_HEADER_BYTES 97
/* The smallest payload: seed | n_domains (0) | n_contacts (0). */
#define RUMOR_BACKUP_PAYLOAD_MIN (RUMOR_SEED_BYTES + 2 + 2)
#define RUMOR_BACKUP_MIN         (RUMOR_BACKUP_HEADER_BYTES + RUMOR_MAC_BYTES + RUMOR_BACKUP_PAYLOAD_MIN)
/* Larger than any valid backup (the limits below add up to about 3.3 MiB). */
#define RUMOR_BACKUP_MAX          ((size_t)4 << 20)
#define RUMOR_BACKUP_DOMAINS_MAX  4096
#define RUMOR_BACKUP_KEYS_MAX     65536
#define RUMOR_BACKUP_CONTACTS_MAX 4096
#define RUMOR_BACKUP_NAME_MAX     64

/* One room key of a backup. Lives in the backup's secret memory. */
typedef struct {
    uint8_t room[RUMOR_ID_BYTES];       /* the key domain (a key room's id) */
    uint32_t epoch;                     /* the key's epoch */
    uint8_t key_id[RUMOR_KEY_ID_BYTES]; /* rumor_room_key_id of `key` */
    uint8_t key[RUMOR_ROOM_KEY_BYTES];  /* the key */
} rumor_backup_key_t;

/* One contact (petname) of a backup. */
typedef struct {
    uint8_t pk[RUMOR_ID_BYTES];           /* whom it names */
    char name[RUMOR_BACKUP_NAME_MAX + 1]; /* NUL-terminated UTF-8 */
} rumor_backup_contact_t;

/*
 * What a backup holds besides the identity: key domains, their keys (in
 * rumor_secret_alloc memory, wiped by rumor_backup_destroy) and contacts.
 * Made empty by rumor_backup_new, or filled by rumor_backup_open/_decode,
 * which list everything in the canonical order of 5.4.
 */
typedef struct rumor_backup rumor_backup_t;

int rumor_backup_new(rumor_backup_t **out);
/* Wipes and frees *b and sets *b = NULL. Accepts NULL. */
void rumor_backup_destroy(rumor_backup_t **b);
/* Adds a key domain (again: kept once). RUMOR_ERR_TOO_BIG past the limits. */
int rumor_backup_add_domain(rumor_backup_t *b, const uint8_t room[RUMOR_ID_BYTES]);
/* Adds a key of `room` (and `room` as a domain); the key id is computed. */
int rumor_backup_add_key(rumor_backup_t *b, const uint8_t room[RUMOR_ID_BYTES], uint32_t epoch,
                         const uint8_t key[RUMOR_ROOM_KEY_BYTES]);
/* Adds a contact; RUMOR_ERR_INVALID for a name 5.4 refuses. */
int rumor_backup_add_contact(rumor_backup_t *b, const uint8_t pk[RUMOR_ID_BYTES], const char *name);
size_t rumor_backup_domain_count(const rumor_backup_t *b);
const uint8_t *rumor_backup_domain(const rumor_backup_t *b, size_t i);
size_t rumor_backup_key_count(const rumor_backup_t *b);
const rumor_backup_key_t *rumor_backup_key(const rumor_backup_t *b, size_t i);
size_t rumor_backup_contact_count(const rumor_backup_t *b);
const rumor_backup_contact_t *rumor_backup_contact(const rumor_backup_t *b, size_t i);

/*
 * Seals `id` and `b` into a new backup file image (*out, malloc'd, freed by
 * the caller; nothing in it is readable without `pass`). Puts `b` in
 * canonical order first. opslimit/memlimit 0 pick the interactive defaults.
 * RUMOR_ERR_INVALID for two contacts of one key or limits 5.4 refuses,
 * RUMOR_ERR_TOO_BIG past the counts of 5.4.
 */
int rumor_backup_seal(rumor_backup_t *b, const rumor_identity_t *id, const char *pass,
                      size_t pass_len, uint64_t opslimit, uint64_t memlimit, uint8_t **out,
                      size_t *out_len);
/*
 * Checks a backup image's clear header without a passphrase and gives its
 * public key (`pk` may be NULL). RUMOR_ERR_MALFORMED when it is not a backup.
 */
int rumor_backup_inspect(const uint8_t *buf, size_t len, uint8_t pk[RUMOR_ID_BYTES]);
/*
 * Opens a backup image: *id and *b are the caller's. RUMOR_ERR_PASSPHRASE
 * when the passphrase is wrong or the file was altered, RUMOR_ERR_MALFORMED
 * when it is not a backup.
 */
RUMOR_MUST_CHECK int rumor_backup_open(const uint8_t *buf, size_t len, const char *pass,
                                       size_t pass_len, rumor_identity_t **id, rumor_backup_t **b);
/*
 * The payload codec under the seal, for tests and fuzzers. Encode puts `b` in
 * canonical order and writes the payload (which holds the seed and the keys:
 * `out` must be rumor_secret_alloc memory). Decode checks every rule of 5.4
 * (and, when `pk` is not NULL, that the seed is that key's) and returns
 * RUMOR_ERR_MALFORMED for anything else.
 */
int rumor_backup_encode(rumor_backup_t *b, const rumor_identity_t *id, uint8_t *out, size_t cap,
                        size_t *out_len);
RUMOR_MUST_CHECK int rumor_backup_decode(const uint8_t *buf, size_t len,
                                         const uint8_t pk[RUMOR_ID_BYTES], rumor_identity_t **id,
                                         rumor_backup_t **b);

/* ---- events ------------------------------------------------------------ */

/*
 * A decoded event: a view into the caller's buffer, which must outlive it.
 * Body fields are filled according to `type`; the others are zero/NULL.
 */
typedef struct {
    uint8_t version;                /* RUMOR_EVENT_VERSION or RUMOR_EVENT_VERSION_V1 */
    uint8_t type;                   /* rumor_event_type_t */
    uint8_t room[RUMOR_ID_BYTES];   /* room, or zero (top-level create, profile) */
    uint8_t author[RUMOR_ID_BYTES]; /* signer's public key */
    uint64_t lamport;               /* Lamport clock */
    uint64_t ts;                    /* author's wall clock, ms */
    uint8_t n_parents;              /* number of parent ids */
    const uint8_t *parents;         /* n_parents * 32 bytes, ascending */
    const uint8_t *body;            /* the whole body */
    uint32_t body_len;              /* its length */
    const uint8_t *sig;             /* 64-byte signature */
    const uint8_t *signed_bytes;    /* == start of the buffer */
    size_t signed_len;              /* bytes covered by the signature */
    size_t encoded_len;             /* signed_len + 64 */
    uint8_t id[RUMOR_ID_BYTES];     /* BLAKE2b-256 of the signed bytes (set by decode) */
    /* body views */
    uint8_t flags;      /* ROOM_CREATE */
    const uint8_t *box; /* CREATE, MESSAGE, RENAME, TOPIC */
    size_t box_len;
    const uint8_t *nick; /* PROFILE */
    uint8_t nick_len;
    const uint8_t *target; /* MEMBER_ADD/REMOVE/ROLE: member; ROOM_MOVE: new parent */
    uint8_t role;          /* MEMBER_ADD, MEMBER_ROLE */
    uint32_t epoch;        /* KEY_EPOCH */
    const uint8_t *key_id; /* KEY_EPOCH: the new key's id (RUMOR_KEY_ID_BYTES) */
    uint16_t n_entries;    /* MEMBER_ADD grants, KEY_EPOCH entries */
    const uint8_t *entries;
} rumor_event_t;

/*
 * Checks the structure of `len` bytes (PROTOCOL.md 2) and fills `ev` with a
 * view of them, including the id. Does NOT check the signature.
 * Returns RUMOR_ERR_MALFORMED or RUMOR_ERR_TOO_BIG on bad input.
 */
int rumor_event_decode(const uint8_t *buf, size_t len, rumor_event_t *ev);
/* Verifies the signature of a decoded event. RUMOR_ERR_BAD_SIGNATURE on failure. */
RUMOR_MUST_CHECK int rumor_event_verify(const rumor_event_t *ev);
/* Fills the 66-byte associated data for the event's box. */
void rumor_event_ad(uint8_t ad[RUMOR_EVENT_AD_BYTES], uint8_t type,
                    const uint8_t room[RUMOR_ID_BYTES], const uint8_t author[RUMOR_ID_BYTES]);

/* What an author fills in to make an event. Parents need not be sorted. */
typedef struct {
    uint8_t version; /* 0: the version written for `type` (PROTOCOL.md 7.2); else 1 or 2 */
    uint8_t type;
    uint8_t room[RUMOR_ID_BYTES];
    uint64_t lamport;
    uint64_t ts;
    uint8_t n_parents;
    const uint8_t *parents; /* n_parents * 32 bytes */
    const uint8_t *body;
    size_t body_len;
} rumor_event_draft_t;

/*
 * Encodes and signs a draft by `id` into `out` (capacity `cap`), sorting the
 * parents. *out_len gets the encoded length; `ev_id` (may be NULL) the id.
 */
int rumor_event_encode(uint8_t *out, size_t cap, size_t *out_len, uint8_t ev_id[RUMOR_ID_BYTES],
                       const rumor_event_draft_t *draft, const rumor_identity_t *id);

/* A short lowercase name for an event type ("message"), or "unknown". */
const char *rumor_event_type_name(uint8_t type);

#endif
