/*
 * fuzz_backup.c - libFuzzer target for the backup reader (PROTOCOL.md 5.4):
 * the clear header (rumor_backup_inspect), the sealed file
 * (rumor_backup_open), and the payload under the seal
 * (rumor_backup_decode), which only a passphrase holder could otherwise
 * reach.
 *
 * Every input is tried both as a whole file and as a payload. A payload that
 * decodes must encode again to the very same bytes (the encoding is
 * canonical), and must seal and open again to the same content. A file is
 * opened with the harness's passphrase only when it asks for the cheapest
 * Argon2id; others are opened without one, which must fail before any
 * hashing. A breach of the contract in rumor_crypto.h aborts so libFuzzer
 * keeps the input.
 */
#include "rumor_crypto.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Offsets of the Argon2id limits in a backup (PROTOCOL.md 5.4). */
#define BACKUP_OFF_OPSLIMIT 41
#define BACKUP_OFF_MEMLIMIT 49

/* The passphrase the harness tries, and seals its own seeds under. */
#define FUZZ_PASS     "fuzz"
#define FUZZ_PASS_LEN (sizeof FUZZ_PASS - 1)

/* The libFuzzer interface. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The replay driver's interface (replay_main.c): hands over each built-in seed. */
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

static void fuzz_fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_backup: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

static bool costs_minimum(const uint8_t *buf)
{
    return rumor_get_u64(buf + BACKUP_OFF_OPSLIMIT) == crypto_pwhash_OPSLIMIT_MIN &&
           rumor_get_u64(buf + BACKUP_OFF_MEMLIMIT) == crypto_pwhash_MEMLIMIT_MIN;
}

/* Two backups hold the same domains, keys and contacts, in the same order. */
static bool same_backup(const rumor_backup_t *a, const rumor_backup_t *b)
{
    if (rumor_backup_domain_count(a) != rumor_backup_domain_count(b) ||
        rumor_backup_key_count(a) != rumor_backup_key_count(b) ||
        rumor_backup_contact_count(a) != rumor_backup_contact_count(b))
        return false;
    for (size_t i = 0; i < rumor_backup_domain_count(a); i++)
        if (memcmp(rumor_backup_domain(a, i), rumor_backup_domain(b, i), RUMOR_ID_BYTES) != 0)
            return false;
    for (size_t i = 0; i < rumor_backup_key_count(a); i++)
        if (sodium_memcmp(rumor_backup_key(a, i), rumor_backup_key(b, i),
                          sizeof(rumor_backup_key_t)) != 0)
            return false;
    for (size_t i = 0; i < rumor_backup_contact_count(a); i++) {
        const rumor_backup_contact_t *x = rumor_backup_contact(a, i),
                                     *y = rumor_backup_contact(b, i);
        if (memcmp(x->pk, y->pk, RUMOR_ID_BYTES) != 0 || strcmp(x->name, y->name) != 0)
            return false;
    }
    return true;
}

/* A decoded payload must re-encode to `data` exactly, and survive a seal and an open. */
static void check_decoded(rumor_identity_t *id, rumor_backup_t *b, const uint8_t *data, size_t size)
{
    uint8_t *again = sodium_malloc(size ? size : 1), *file = NULL;
    size_t len = 0, file_len = 0;
    rumor_identity_t *id2 = NULL;
    rumor_backup_t *b2 = NULL;
    if (!again) fuzz_fail("out of memory", RUMOR_ERR_NOMEM);
    int rc = rumor_backup_encode(b, id, again, size, &len);
    if (rc < 0) fuzz_fail("a decoded payload does not encode", rc);
    if (len != size || memcmp(again, data, size) != 0)
        fuzz_fail("a decoded payload re-encodes differently", RUMOR_OK);
    rc = rumor_backup_seal(b, id, FUZZ_PASS, FUZZ_PASS_LEN, crypto_pwhash_OPSLIMIT_MIN,
                           crypto_pwhash_MEMLIMIT_MIN, &file, &file_len);
    if (rc < 0) fuzz_fail("a decoded payload does not seal", rc);
    if ((rc = rumor_backup_open(file, file_len, FUZZ_PASS, FUZZ_PASS_LEN, &id2, &b2)) < 0)
        fuzz_fail("a sealed backup does not open", rc);
    if (memcmp(rumor_identity_public(id), rumor_identity_public(id2), RUMOR_ID_BYTES) != 0 ||
        !same_backup(b, b2))
        fuzz_fail("a sealed backup opens to something else", RUMOR_OK);
    free(file);
    sodium_free(again);
    rumor_identity_destroy(&id2);
    rumor_backup_destroy(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pk[RUMOR_ID_BYTES];
    rumor_identity_t *id = NULL;
    rumor_backup_t *b = NULL;

    /* As a whole file. */
    int inspect_rc = rumor_backup_inspect(data, size, pk);
    int rc = rumor_backup_open(data, size, NULL, 0, &id, &b);
    if (inspect_rc < 0) {
        if (inspect_rc != RUMOR_ERR_MALFORMED) fuzz_fail("unexpected inspect result", inspect_rc);
        if (rc != RUMOR_ERR_MALFORMED) fuzz_fail("open accepts what inspect refuses", rc);
    } else {
        if (rc != RUMOR_ERR_PASSPHRASE) fuzz_fail("a backup opens without a passphrase", rc);
        if (costs_minimum(data)) {
            rc = rumor_backup_open(data, size, FUZZ_PASS, FUZZ_PASS_LEN, &id, &b);
            if (rc != RUMOR_OK && rc != RUMOR_ERR_PASSPHRASE && rc != RUMOR_ERR_MALFORMED)
                fuzz_fail("unexpected open result (passphrase)", rc);
            if (rc == RUMOR_OK && memcmp(rumor_identity_public(id), pk, RUMOR_ID_BYTES) != 0)
                fuzz_fail("opened identity differs from the header's key", RUMOR_OK);
        }
    }
    if ((rc < 0) != (id == NULL) || (rc < 0) != (b == NULL))
        fuzz_fail("open's outputs disagree with its result", rc);
    rumor_identity_destroy(&id);
    rumor_backup_destroy(&b);

    /* As the payload under the seal. */
    rc = rumor_backup_decode(data, size, NULL, &id, &b);
    if (rc != RUMOR_OK && rc != RUMOR_ERR_MALFORMED) fuzz_fail("unexpected decode result", rc);
    if ((rc < 0) != (id == NULL) || (rc < 0) != (b == NULL))
        fuzz_fail("decode's outputs disagree with its result", rc);
    if (rc == RUMOR_OK) check_decoded(id, b, data, size);
    rumor_identity_destroy(&id);
    rumor_backup_destroy(&b);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (rumor_crypto_init() < 0) fuzz_fail("cannot initialise libsodium", RUMOR_ERR_CRYPTO);
    return 0;
}

/* A backup with two domains (one without keys), three keys and two contacts. */
static rumor_backup_t *seed_backup(void)
{
    rumor_backup_t *b = NULL;
    uint8_t room[RUMOR_ID_BYTES], key[RUMOR_ROOM_KEY_BYTES], pk[RUMOR_ID_BYTES];
    int rc = rumor_backup_new(&b);
    for (uint32_t i = 0; rc == RUMOR_OK && i < 3; i++) {
        memset(room, i < 2 ? 0x11 : 0x22, sizeof room);
        memset(key, (int)(0x40 + i), sizeof key);
        rc = rumor_backup_add_key(b, room, i, key);
    }
    memset(room, 0x33, sizeof room);
    if (rc == RUMOR_OK) rc = rumor_backup_add_domain(b, room);
    memset(pk, 0x55, sizeof pk);
    if (rc == RUMOR_OK) rc = rumor_backup_add_contact(b, pk, "bob");
    memset(pk, 0x66, sizeof pk);
    if (rc == RUMOR_OK) rc = rumor_backup_add_contact(b, pk, "carol \xc3\xa9");
    if (rc < 0) fuzz_fail("cannot build the seed backup", rc);
    return b;
}

/*
 * The built-in seeds (LLVMFuzzerInitialize must have run): payloads (full
 * and empty), files at the minimum cost under the harness's passphrase and
 * under another one, and a truncated file.
 */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    uint8_t seed[RUMOR_SEED_BYTES];
    uint8_t *pt = sodium_malloc(4096), *file = NULL;
    size_t len = 0;
    rumor_identity_t *id = NULL;
    rumor_backup_t *full = seed_backup(), *empty = NULL;
    rumor_crypto_hash(seed, (const uint8_t *)"fuzz_backup", strlen("fuzz_backup"));
    int rc = pt ? rumor_identity_from_seed(seed, &id) : RUMOR_ERR_NOMEM;
    if (rc == RUMOR_OK) rc = rumor_backup_new(&empty);
    if (rc < 0) fuzz_fail("cannot set up the seeds", rc);

    if ((rc = rumor_backup_encode(full, id, pt, 4096, &len)) < 0) fuzz_fail("encode", rc);
    emit(ctx, "seed-payload", pt, len);
    emit(ctx, "seed-payload-truncated", pt, len - 1);
    if ((rc = rumor_backup_encode(empty, id, pt, 4096, &len)) < 0) fuzz_fail("encode", rc);
    emit(ctx, "seed-payload-empty", pt, len);

    rc = rumor_backup_seal(full, id, FUZZ_PASS, FUZZ_PASS_LEN, crypto_pwhash_OPSLIMIT_MIN,
                           crypto_pwhash_MEMLIMIT_MIN, &file, &len);
    if (rc < 0) fuzz_fail("seal", rc);
    emit(ctx, "seed-file-min-cost", file, len);
    emit(ctx, "seed-file-truncated", file, len - 1);
    free(file);
    rc = rumor_backup_seal(empty, id, "another passphrase", 18, crypto_pwhash_OPSLIMIT_MIN,
                           crypto_pwhash_MEMLIMIT_MIN, &file, &len);
    if (rc < 0) fuzz_fail("seal", rc);
    emit(ctx, "seed-file-other-pass", file, len);
    free(file);

    rumor_backup_destroy(&full);
    rumor_backup_destroy(&empty);
    rumor_identity_destroy(&id);
    sodium_free(pt);
    sodium_memzero(seed, sizeof seed);
}
