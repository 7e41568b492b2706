/*
 * fuzz_keyfile.c - libFuzzer target for the key file reader (PROTOCOL.md 5.1):
 * rumor_keyfile_inspect, and rumor_keyfile_open without a passphrase and
 * with a fixed one.
 *
 * A key file names its own Argon2id cost. The reader caps it at the
 * SENSITIVE levels, which still take seconds and a gigabyte per call, so the
 * passphrase is tried only on files that ask for the minimum cost; every
 * other file is opened without one (which must fail before any hashing).
 *
 * Each result is checked against the contract in rumor_crypto.h; a breach
 * aborts so libFuzzer keeps the input.
 */
#include "rumor_crypto.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Offsets of the Argon2id limits in a key file (PROTOCOL.md 5.1). */
#define KEYFILE_OFF_OPSLIMIT 42
#define KEYFILE_OFF_MEMLIMIT 50

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
    fprintf(stderr, "fuzz_keyfile: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

/* True when the file asks for the cheapest Argon2id, which the harness can afford. */
static bool costs_minimum(const uint8_t *buf)
{
    return rumor_get_u64(buf + KEYFILE_OFF_OPSLIMIT) == crypto_pwhash_OPSLIMIT_MIN &&
           rumor_get_u64(buf + KEYFILE_OFF_MEMLIMIT) == crypto_pwhash_MEMLIMIT_MIN;
}

/*
 * An opened identity must be the one the file names, and must seal into a
 * file that opens again to the same identity (unprotected, so no hashing).
 */
static void check_opened(rumor_identity_t **id, const uint8_t pk[RUMOR_ID_BYTES])
{
    uint8_t again[RUMOR_KEYFILE_BYTES], pk2[RUMOR_ID_BYTES];
    bool prot = true;
    rumor_identity_t *id2 = NULL;
    if (memcmp(rumor_identity_public(*id), pk, RUMOR_ID_BYTES) != 0)
        fuzz_fail("opened identity differs from the file's public key", RUMOR_OK);
    int rc = rumor_keyfile_seal(*id, NULL, 0, 0, 0, again);
    if (rc < 0) fuzz_fail("cannot re-seal an opened identity", rc);
    if ((rc = rumor_keyfile_inspect(again, sizeof again, pk2, &prot)) < 0 || prot ||
        memcmp(pk2, pk, RUMOR_ID_BYTES) != 0)
        fuzz_fail("a re-sealed key file does not inspect the same", rc);
    if ((rc = rumor_keyfile_open(again, sizeof again, NULL, 0, &id2)) < 0)
        fuzz_fail("a re-sealed key file does not open", rc);
    if (memcmp(rumor_identity_public(id2), pk, RUMOR_ID_BYTES) != 0)
        fuzz_fail("a re-sealed key file opens to another identity", RUMOR_OK);
    sodium_memzero(again, sizeof again);
    rumor_identity_destroy(&id2);
    rumor_identity_destroy(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pk[RUMOR_ID_BYTES];
    bool prot = false;
    rumor_identity_t *id = NULL;

    int inspect_rc = rumor_keyfile_inspect(data, size, pk, &prot);
    /* Without a passphrase: never any hashing, so every input can afford it. */
    int rc = rumor_keyfile_open(data, size, NULL, 0, &id);
    if (inspect_rc < 0) {
        if (inspect_rc != RUMOR_ERR_MALFORMED) fuzz_fail("unexpected inspect result", inspect_rc);
        if (rc != RUMOR_ERR_MALFORMED) fuzz_fail("open accepts what inspect refuses", rc);
        return 0;
    }
    if (prot && rc != RUMOR_ERR_PASSPHRASE)
        fuzz_fail("a protected file opens without a passphrase", rc);
    if (!prot && rc != RUMOR_OK && rc != RUMOR_ERR_MALFORMED)
        fuzz_fail("unexpected open result (no passphrase)", rc);
    if (rc == RUMOR_OK) check_opened(&id, pk);
    if (id) fuzz_fail("a failed open left an identity behind", rc);

    if (prot && costs_minimum(data)) {
        rc = rumor_keyfile_open(data, size, FUZZ_PASS, FUZZ_PASS_LEN, &id);
        if (rc != RUMOR_OK && rc != RUMOR_ERR_PASSPHRASE && rc != RUMOR_ERR_MALFORMED)
            fuzz_fail("unexpected open result (passphrase)", rc);
        if (rc == RUMOR_OK) check_opened(&id, pk);
        if (id) fuzz_fail("a failed open left an identity behind", rc);
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (rumor_crypto_init() < 0) fuzz_fail("cannot initialise libsodium", RUMOR_ERR_CRYPTO);
    return 0;
}

/*
 * The built-in seeds (LLVMFuzzerInitialize must have run): an unprotected
 * file, files at the minimum cost under the harness's passphrase and under
 * another one, a file at the default cost, and a truncated file.
 */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    static const struct {
        const char *name;
        const char *pass; /* NULL: unprotected */
        uint64_t opslimit, memlimit;
    } seeds[] = {
        {"seed-unprotected", NULL, 0, 0},
        {"seed-min-cost", FUZZ_PASS, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN},
        {"seed-min-cost-other-pass", "not the harness passphrase", crypto_pwhash_OPSLIMIT_MIN,
         crypto_pwhash_MEMLIMIT_MIN},
        {"seed-default-cost", FUZZ_PASS, crypto_pwhash_OPSLIMIT_INTERACTIVE,
         crypto_pwhash_MEMLIMIT_INTERACTIVE},
    };
    uint8_t seed[RUMOR_SEED_BYTES], file[RUMOR_KEYFILE_BYTES];
    rumor_identity_t *id = NULL;
    rumor_crypto_hash(seed, (const uint8_t *)"fuzz_keyfile", strlen("fuzz_keyfile"));
    int rc = rumor_identity_from_seed(seed, &id);
    if (rc < 0) fuzz_fail("cannot make identity", rc);
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        const char *pass = seeds[i].pass;
        rc = rumor_keyfile_seal(id, pass, pass ? strlen(pass) : 0, seeds[i].opslimit,
                                seeds[i].memlimit, file);
        if (rc < 0) fuzz_fail("cannot seal a seed key file", rc);
        emit(ctx, seeds[i].name, file, sizeof file);
    }
    emit(ctx, "seed-truncated", file, sizeof file - 1);
    rumor_identity_destroy(&id);
    sodium_memzero(seed, sizeof seed);
}
