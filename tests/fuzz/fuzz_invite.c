/*
 * fuzz_invite.c - libFuzzer target for the invite code decoder (PROTOCOL.md
 * 10.1). The input is the text of a code.
 *
 * A refused code leaves the invite zeroed. An accepted one must re-encode,
 * the new code must be the input without its surrounding whitespace (the
 * encoding is canonical), and it must decode again to the same invite. A
 * breach aborts so libFuzzer keeps the input.
 */
#include "rumor_node.h"

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
    fprintf(stderr, "fuzz_invite: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

static bool is_ascii_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const rumor_invite_t zero;
    rumor_invite_t inv, again;
    char code[RUMOR_INVITE_CODE_MAX];

    int rc = rumor_invite_decode((const char *)data, size, &inv);
    if (rc != RUMOR_OK) {
        if (rc != RUMOR_ERR_MALFORMED) fuzz_fail("unexpected decode result", rc);
        if (memcmp(&inv, &zero, sizeof inv) != 0) fuzz_fail("a refused invite is not zeroed", rc);
        return 0;
    }
    if ((rc = rumor_invite_encode(&inv, code, sizeof code)) != RUMOR_OK)
        fuzz_fail("a decoded invite does not encode", rc);

    size_t start = 0, end = size;
    while (start < end && is_ascii_space(data[start])) start++;
    while (end > start && is_ascii_space(data[end - 1])) end--;
    if (strlen(code) != end - start || memcmp(code, data + start, end - start) != 0)
        fuzz_fail("a decoded invite re-encodes differently", RUMOR_OK);

    if ((rc = rumor_invite_decode(code, strlen(code), &again)) != RUMOR_OK)
        fuzz_fail("a re-encoded invite does not decode", rc);
    if (memcmp(&inv, &again, sizeof inv) != 0)
        fuzz_fail("a re-encoded invite decodes to another invite", RUMOR_OK);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Valid codes for IPv4 and IPv6 hosts, one with whitespace around it, and refused ones. */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    static const struct {
        const char *name;
        const char *host;
        uint8_t role;
    } seeds[] = {
        {"seed-ipv4", "192.168.1.20", RUMOR_ROLE_MEMBER},
        {"seed-ipv6", "fe80::1", RUMOR_ROLE_ADMIN},
        {"seed-ipv6-mapped", "::ffff:10.0.0.1", RUMOR_ROLE_MEMBER},
    };
    char code[RUMOR_INVITE_CODE_MAX], padded[RUMOR_INVITE_CODE_MAX + 8];
    rumor_invite_t inv;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        memset(&inv, 0, sizeof inv);
        memset(inv.room, (int)(0x10 + i), sizeof inv.room);
        memset(inv.inviter, (int)(0x20 + i), sizeof inv.inviter);
        memset(inv.token, (int)(0x30 + i), sizeof inv.token);
        inv.role = seeds[i].role;
        inv.port = 7470;
        snprintf(inv.host, sizeof inv.host, "%s", seeds[i].host);
        int rc = rumor_invite_encode(&inv, code, sizeof code);
        if (rc != RUMOR_OK) fuzz_fail("cannot encode a seed invite", rc);
        emit(ctx, seeds[i].name, (const uint8_t *)code, strlen(code));
    }
    snprintf(padded, sizeof padded, " \t%s\r\n", code);
    emit(ctx, "seed-whitespace", (const uint8_t *)padded, strlen(padded));
    code[strlen(code) - 1] = '\0';
    emit(ctx, "seed-truncated", (const uint8_t *)code, strlen(code));
    static const char prefix_only[] = RUMOR_INVITE_PREFIX;
    emit(ctx, "seed-prefix-only", (const uint8_t *)prefix_only, sizeof prefix_only - 1);
}
