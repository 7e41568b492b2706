/*
 * rumor_common.h - what every rumor module shares: the error codes, id sizes,
 * hex ids, UTF-8 checks and big-endian byte helpers.
 *
 * Threading: every function here is pure and thread-safe.
 */
#ifndef RUMOR_COMMON_H
#define RUMOR_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Size of every id: public keys, event ids, room ids. */
#define RUMOR_ID_BYTES 32
/* An id as lowercase hex, without the terminating NUL. */
#define RUMOR_ID_HEX 64
/* The shortest id prefix a user may type. */
#define RUMOR_ID_PREFIX_MIN 8

/*
 * Every failure in rumor, as X(name, code, message). RUMOR_OK is 0 and
 * failures are negative, so `if (rc < 0)` reads as "failed".
 */
#define RUMOR_ERRNO_MAP(X)                                                                         \
    X(ERR_NOMEM, -1, "out of memory")                                                              \
    X(ERR_IO, -2, "input/output error")                                                            \
    X(ERR_MALFORMED, -3, "malformed data")                                                         \
    X(ERR_TOO_BIG, -4, "too large")                                                                \
    X(ERR_BAD_SIGNATURE, -5, "signature or id does not verify")                                    \
    X(ERR_DECRYPT, -6, "cannot decrypt")                                                           \
    X(ERR_PASSPHRASE, -7, "wrong passphrase")                                                      \
    X(ERR_NOT_FOUND, -8, "not found")                                                              \
    X(ERR_AMBIGUOUS, -9, "ambiguous name or id prefix")                                            \
    X(ERR_EXISTS, -10, "already exists")                                                           \
    X(ERR_DENIED, -11, "not allowed by the room's rules")                                          \
    X(ERR_SCHEMA_NEWER, -12, "store was written by a newer rumor")                                 \
    X(ERR_STORE, -13, "store error")                                                               \
    X(ERR_MAP_FULL, -14, "store map is full")                                                      \
    X(ERR_NO_IDENTITY, -15, "no identity in this home")                                            \
    X(ERR_BAD_UTF8, -16, "text is not valid UTF-8")                                                \
    X(ERR_INVALID, -17, "invalid argument")                                                        \
    X(ERR_MISSING_PARENT, -18, "a parent event is missing")                                        \
    X(ERR_CRYPTO, -19, "cryptographic failure")                                                    \
    X(ERR_NO_KEY, -20, "no key for this room")                                                     \
    X(ERR_BUSY, -21, "resource busy")                                                              \
    X(ERR_FOREIGN_STORE, -22, "the store belongs to another identity")                             \
    X(ERR_BAD_PATH, -23, "malformed room path")

typedef enum {
    RUMOR_OK = 0,
#define RUMOR_ERR_ENUM_(name, code, msg) RUMOR_##name = (code),
    RUMOR_ERRNO_MAP(RUMOR_ERR_ENUM_)
#undef RUMOR_ERR_ENUM_
} rumor_err_t;

/* A static, human-readable message for `err` ("unknown error" if not one of ours). */
const char *rumor_strerror(int err);
/* The symbolic name of `err` ("RUMOR_ERR_MALFORMED"), for logs and JSON. */
const char *rumor_err_name(int err);

/* Writes 2*len lowercase hex characters and a NUL to `out` (size >= 2*len + 1). */
void rumor_hex_encode(char *out, const uint8_t *in, size_t len);
/*
 * Decodes exactly `len` bytes from the first 2*len characters of `hex`.
 * Returns RUMOR_OK, or RUMOR_ERR_MALFORMED on a non-hex character.
 */
int rumor_hex_decode(uint8_t *out, size_t len, const char *hex);
/* True when `s` is 1..64 lowercase-or-uppercase hex characters and nothing else. */
bool rumor_hex_is_prefix(const char *s);

/* True when `s[0..len)` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool rumor_utf8_valid(const uint8_t *s, size_t len);
/* True when `s` is valid UTF-8 without C0/C1 control characters or DEL. */
bool rumor_utf8_valid_line(const uint8_t *s, size_t len);

static inline void rumor_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void rumor_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline void rumor_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline uint16_t rumor_get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t rumor_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rumor_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

/*
 * A bounds-checked reader for parsers of outside bytes: rumor_take returns
 * the next `n` bytes and advances, or NULL (and stays put) when fewer remain.
 */
typedef struct {
    const uint8_t *p; /* next unread byte */
    size_t left;      /* bytes that remain */
} rumor_reader_t;

static inline const uint8_t *rumor_take(rumor_reader_t *r, size_t n)
{
    if (r->left < n) return NULL;
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

/* True when all `len` bytes are zero. */
bool rumor_is_zero(const uint8_t *p, size_t len);

/* Milliseconds since the Unix epoch from the real-time clock. */
uint64_t rumor_now_ms(void);

/*
 * A clock as modules receive it, so tests can drive time: returns
 * milliseconds since the Unix epoch. `ctx` is the caller's.
 */
typedef uint64_t (*rumor_clock_fn)(void *ctx);

#endif
