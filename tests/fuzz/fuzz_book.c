/*
 * fuzz_book.c - libFuzzer target for a remembered peer's stored record (PROTOCOL.md 9.4,
 * gossip/book.c), read back from the store's `peers` table: a refused record leaves the entry
 * zeroed but its key; an accepted one has a port and an IP literal, and re-encodes to a record
 * that decodes to the same entry (byte for byte when it was already of format 1). A breach
 * aborts so libFuzzer keeps the input.
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

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_book: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rumor_gossip_known_t k, again, zero;
    memset(&zero, 0, sizeof zero);
    memset(zero.pk, 0x5a, sizeof zero.pk);
    memcpy(k.pk, zero.pk, sizeof k.pk);
    if (rumor_gossip_known_decode(data, size, &k) != RUMOR_OK) {
        if (memcmp(&k, &zero, sizeof k) != 0) fuzz_fail("a refused record is not zeroed");
        return 0;
    }
    if (!k.port || !k.host[0] || k.found < RUMOR_FOUND_BOOTSTRAP || k.found > RUMOR_FOUND_INVITE ||
        memcmp(k.pk, zero.pk, sizeof k.pk) != 0)
        fuzz_fail("accepted a record without a port, a host or a kind, or lost its key");
    uint8_t out[RUMOR_KNOWN_MAX];
    size_t len = rumor_gossip_known_encode(&k, out);
    if (!len) fuzz_fail("an accepted record does not encode");
    if (data[0] == 1 && (len != size || memcmp(out, data, size) != 0))
        fuzz_fail("a record of format 1 re-encodes differently");
    memcpy(again.pk, zero.pk, sizeof again.pk);
    if (rumor_gossip_known_decode(out, len, &again) != RUMOR_OK ||
        memcmp(&again, &k, sizeof k) != 0)
        fuzz_fail("a re-encoded record decodes differently");
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Both forms, IPv4 and IPv6, and a record a byte short. */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    emit(ctx, "seed-text-v4", (const uint8_t *)"192.0.2.1:7470", 14);
    emit(ctx, "seed-text-v6", (const uint8_t *)"[2001:db8::1]:7470", 18);
    rumor_gossip_known_t k = {.found = RUMOR_FOUND_INVITE,
                              .seen_ms = 1796000000500ull,
                              .linked_ms = 1796000000000ull,
                              .fails = 2,
                              .port = 7470};
    snprintf(k.host, sizeof k.host, "%s", "fe80::1");
    uint8_t out[RUMOR_KNOWN_MAX];
    size_t len = rumor_gossip_known_encode(&k, out);
    emit(ctx, "seed-v6", out, len);
    emit(ctx, "seed-short", out, len - 1);
    snprintf(k.host, sizeof k.host, "%s", "10.1.2.3");
    len = rumor_gossip_known_encode(&k, out);
    emit(ctx, "seed-v4", out, len);
}
