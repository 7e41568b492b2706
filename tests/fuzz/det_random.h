/*
 * det_random.h - libsodium's random source replaced by a ChaCha20 stream under
 * `det_random_key` with a call counter as nonce, for test harnesses and fuzz
 * targets: box nonces, sealed-box ephemeral keys and keys at rest, and so
 * event ids, come out the same for the same key and calls. Install it with
 * randombytes_set_implementation(&det_random) before rumor_crypto_init().
 * Only a test harness may do this.
 */
#ifndef RUMOR_DET_RANDOM_H
#define RUMOR_DET_RANDOM_H

#include "rumor_common.h"

#include <sodium.h>
#include <string.h>

/* The stream's key (set it, then det_random_restart) and its position. */
static uint8_t det_random_key[crypto_stream_chacha20_KEYBYTES];
static uint64_t det_random_calls;

static void det_random_buf(void *const buf, const size_t size)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    rumor_put_u64(nonce, det_random_calls++);
    crypto_stream_chacha20(buf, size, nonce, det_random_key);
}

static uint32_t det_random_u32(void)
{
    uint8_t b[4];
    det_random_buf(b, sizeof b);
    return rumor_get_u32(b);
}

static const char *det_random_name(void)
{
    return "rumor-test-deterministic";
}

static randombytes_implementation det_random = {
    .implementation_name = det_random_name,
    .random = det_random_u32,
    .buf = det_random_buf,
};

/* Keys the stream with `label` (at most 32 bytes, zero padded) and starts it again. */
static inline void det_random_label(const char *label)
{
    size_t n = strlen(label);
    memset(det_random_key, 0, sizeof det_random_key);
    memcpy(det_random_key, label, n < sizeof det_random_key ? n : sizeof det_random_key);
    det_random_calls = 0;
}

#endif
