/*
 * fuzz_beacon.c - libFuzzer target for the LAN beacon decoder (PROTOCOL.md
 * 9.6): a refused datagram leaves the beacon zeroed; an accepted one has a
 * port and re-encodes to exactly its 40 bytes. A breach aborts so libFuzzer
 * keeps the input.
 */
#include "rumor_gossip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The libFuzzer interface. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The replay driver's interface (replay_main.c): hands over each built-in seed. */
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

static void fuzz_fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_beacon: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const rumor_beacon_t zero;
    rumor_beacon_t b;
    uint8_t out[RUMOR_BEACON_BYTES];

    int rc = rumor_beacon_decode(data, size, &b);
    if (rc != RUMOR_OK) {
        if (rc != RUMOR_ERR_MALFORMED) fuzz_fail("unexpected decode result", rc);
        if (memcmp(&b, &zero, sizeof b) != 0) fuzz_fail("a refused beacon is not zeroed", rc);
        return 0;
    }
    if (size != RUMOR_BEACON_BYTES || b.port == 0)
        fuzz_fail("accepted a beacon of the wrong size or without a port", rc);
    rumor_beacon_encode(&b, out);
    if (memcmp(out, data, RUMOR_BEACON_BYTES) != 0)
        fuzz_fail("a decoded beacon re-encodes differently", RUMOR_OK);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* A valid beacon, one with port 0, one with flags set, and one a byte short. */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    rumor_beacon_t b;
    uint8_t buf[RUMOR_BEACON_BYTES];
    for (int i = 0; i < RUMOR_ID_BYTES; i++) b.pk[i] = (uint8_t)(0xe0 ^ i);
    b.port = 7470;
    rumor_beacon_encode(&b, buf);
    emit(ctx, "seed-valid", buf, sizeof buf);
    emit(ctx, "seed-short", buf, sizeof buf - 1);
    buf[5] = 1;
    emit(ctx, "seed-flags", buf, sizeof buf);
    b.port = 0;
    rumor_beacon_encode(&b, buf);
    emit(ctx, "seed-port-zero", buf, sizeof buf);
}
