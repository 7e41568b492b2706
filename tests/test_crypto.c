/*
 * test_crypto.c - unit tests of the common helpers (errors, hex, UTF-8) and
 * of the crypto module: identities, key files, boxes, sealed keys, keys at
 * rest and the signed event envelope (PROTOCOL.md sections 1, 2 and 5).
 *
 * Everything runs against the real libsodium. Expected values are computed
 * independently of rumor (directly with libsodium, or pinned from another
 * Ed25519/BLAKE2b implementation) so a test cannot agree with a bug.
 */
#define _GNU_SOURCE /* memmem */
#include "rumor_common.h"
#include "rumor_crypto.h"
#include "test.h"

#include <sodium.h>

#define ID RUMOR_ID_BYTES

/* Argon2id at its cheapest: the key file tests run it hundreds of times. */
#define CHEAP_OPS ((uint64_t)crypto_pwhash_OPSLIMIT_MIN)
#define CHEAP_MEM ((uint64_t)crypto_pwhash_MEMLIMIT_MIN)

static const char PASS[] = "correct horse battery staple";

/* Key file offsets (PROTOCOL.md 5.1), spelled out here so the test checks the documented layout. */
enum {
    KF_VERSION = 8,
    KF_PROT = 9,
    KF_PK = 10,
    KF_OPS = 42,
    KF_MEM = 50,
    KF_SALT = 58,
    KF_CT = 98
};

/* The seed 00 01 02 ... 1f, and its Ed25519 public key as computed by OpenSSL. */
static void kat_seed(uint8_t seed[RUMOR_SEED_BYTES])
{
    for (int i = 0; i < RUMOR_SEED_BYTES; i++) seed[i] = (uint8_t)i;
}
static const char KAT_PK_HEX[] = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";

static rumor_identity_t *identity_from_byte(uint8_t b)
{
    uint8_t seed[RUMOR_SEED_BYTES];
    rumor_identity_t *id = NULL;
    memset(seed, b, sizeof seed);
    if (rumor_identity_from_seed(seed, &id) != RUMOR_OK) {
        fprintf(stderr, "cannot make an identity\n");
        exit(2);
    }
    return id;
}

/* True when two identities hold the same secret key: Ed25519 signatures are deterministic. */
static bool same_secret(const rumor_identity_t *a, const rumor_identity_t *b)
{
    static const uint8_t msg[] = "which key signed this?";
    uint8_t sa[RUMOR_SIG_BYTES], sb[RUMOR_SIG_BYTES];
    rumor_identity_sign(a, sa, msg, sizeof msg);
    rumor_identity_sign(b, sb, msg, sizeof msg);
    return memcmp(sa, sb, sizeof sa) == 0;
}

/* ---- common: errors, hex, UTF-8 -------------------------------------------------------------- */

static void test_error_strings(void)
{
    const char *msgs[64];
    int codes[64], n = 0;
#define CHECK_ONE_(name, code, msg)                                                                \
    CHECK_EQ_INT(RUMOR_##name, code);                                                              \
    CHECK(RUMOR_##name < 0);                                                                       \
    CHECK_EQ_STR(rumor_err_name(RUMOR_##name), "RUMOR_" #name);                                    \
    CHECK_EQ_STR(rumor_strerror(RUMOR_##name), msg);                                               \
    CHECK(strcmp(rumor_strerror(RUMOR_##name), "unknown error") != 0);                             \
    if (n < 64) {                                                                                  \
        codes[n] = RUMOR_##name;                                                                   \
        msgs[n++] = rumor_strerror(RUMOR_##name);                                                  \
    }
    RUMOR_ERRNO_MAP(CHECK_ONE_)
#undef CHECK_ONE_
    CHECK(n > 0);
    /* A user sees the message and scripts see the code: neither may be shared by two errors. */
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            CHECK(codes[i] != codes[j]);
            CHECK(strcmp(msgs[i], msgs[j]) != 0);
        }
    }
    CHECK_EQ_STR(rumor_err_name(RUMOR_OK), "RUMOR_OK");
    CHECK_EQ_STR(rumor_strerror(RUMOR_OK), "ok");
    CHECK_EQ_STR(rumor_strerror(-999), "unknown error");
    CHECK_EQ_STR(rumor_err_name(-999), "RUMOR_ERR_UNKNOWN");
    CHECK_EQ_STR(rumor_strerror(1), "unknown error");
    CHECK_EQ_STR(rumor_err_name(1), "RUMOR_ERR_UNKNOWN");
}

static void test_hex(void)
{
    const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char hex[2 * sizeof bytes + 1];
    uint8_t back[sizeof bytes];

    rumor_hex_encode(hex, bytes, sizeof bytes);
    CHECK_EQ_STR(hex, "00017f80abff");
    CHECK_EQ_INT(rumor_hex_decode(back, sizeof back, hex), RUMOR_OK);
    CHECK_EQ_MEM(back, bytes, sizeof bytes);
    CHECK_EQ_INT(rumor_hex_decode(back, sizeof back, "00017F80ABFF"), RUMOR_OK);
    CHECK_EQ_MEM(back, bytes, sizeof bytes);

    rumor_hex_encode(hex, bytes, 0);
    CHECK_EQ_STR(hex, "");
    CHECK_EQ_INT(rumor_hex_decode(back, 2, "0g"), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_hex_decode(back, 2, "g000"), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_hex_decode(back, 2, "00 1"), RUMOR_ERR_MALFORMED);
    /* A string shorter than 2*len stops at its NUL instead of reading past it. */
    CHECK_EQ_INT(rumor_hex_decode(back, 3, "0001"), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_hex_decode(back, 3, "00010"), RUMOR_ERR_MALFORMED);

    char full[RUMOR_ID_HEX + 2];
    memset(full, 'a', RUMOR_ID_HEX);
    full[RUMOR_ID_HEX] = '\0';
    CHECK(rumor_hex_is_prefix("a"));
    CHECK(rumor_hex_is_prefix("0123456789abcdefABCDEF"));
    CHECK(rumor_hex_is_prefix(full));
    full[RUMOR_ID_HEX] = 'a';
    full[RUMOR_ID_HEX + 1] = '\0';
    CHECK(!rumor_hex_is_prefix(full));
    CHECK(!rumor_hex_is_prefix(""));
    CHECK(!rumor_hex_is_prefix("abcg"));
    CHECK(!rumor_hex_is_prefix("ab cd"));
    CHECK(!rumor_hex_is_prefix("lan/general"));
}

#define UTF8_OK(lit)  CHECK(rumor_utf8_valid((const uint8_t *)(lit), sizeof(lit) - 1))
#define UTF8_BAD(lit) CHECK(!rumor_utf8_valid((const uint8_t *)(lit), sizeof(lit) - 1))

static void test_utf8(void)
{
    UTF8_OK("");
    UTF8_OK("plain ascii");
    UTF8_OK("caf\xc3\xa9");      /* U+00E9 */
    UTF8_OK("\xc2\x80");         /* U+0080, smallest two-byte */
    UTF8_OK("\xdf\xbf");         /* U+07FF */
    UTF8_OK("\xe0\xa0\x80");     /* U+0800, smallest three-byte */
    UTF8_OK("\xed\x9f\xbf");     /* U+D7FF, just below the surrogates */
    UTF8_OK("\xee\x80\x80");     /* U+E000, just above them */
    UTF8_OK("\xef\xbf\xbf");     /* U+FFFF */
    UTF8_OK("\xf0\x90\x80\x80"); /* U+10000, smallest four-byte */
    UTF8_OK("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
    UTF8_OK("\xf0\x9f\x98\x80 smile");

    /* Overlong encodings: a second spelling of a character must never pass a filter. */
    UTF8_BAD("\xc0\x80");
    UTF8_BAD("\xc0\xaf"); /* the classic overlong '/' */
    UTF8_BAD("\xc1\xbf");
    UTF8_BAD("\xe0\x80\x80");
    UTF8_BAD("\xe0\x80\xaf");
    UTF8_BAD("\xe0\x9f\xbf");
    UTF8_BAD("\xf0\x80\x80\x80");
    UTF8_BAD("\xf0\x8f\xbf\xbf");
    /* UTF-16 surrogates. */
    UTF8_BAD("\xed\xa0\x80");
    UTF8_BAD("\xed\xbf\xbf");
    UTF8_BAD("a\xed\xb2\x80z");
    /* Beyond U+10FFFF, and lead bytes that can only start such sequences. */
    UTF8_BAD("\xf4\x90\x80\x80");
    UTF8_BAD("\xf5\x80\x80\x80");
    UTF8_BAD("\xf7\xbf\xbf\xbf");
    UTF8_BAD("\xf8\x88\x80\x80\x80");
    UTF8_BAD("\xff");
    /* Truncated sequences, at the end and in the middle. */
    UTF8_BAD("\xc3");
    UTF8_BAD("\xe2\x82");
    UTF8_BAD("\xf0\x9f\x98");
    UTF8_BAD("\xe2\x82z");
    UTF8_BAD("\xf0\x9f\x98 ");
    /* Stray continuation bytes. */
    UTF8_BAD("\x80");
    UTF8_BAD("ab\xbf");

    /* The length is honoured: a valid prefix of an invalid buffer is valid. */
    CHECK(rumor_utf8_valid((const uint8_t *)"ok\xff", 2));
    CHECK(!rumor_utf8_valid((const uint8_t *)"\xe2\x82\xac", 2));

    /* Lines (nicks, names, topics) also refuse C0, DEL and C1 controls. */
    CHECK(rumor_utf8_valid_line((const uint8_t *)"alice \xc2\xa0 b", 10));
    CHECK(!rumor_utf8_valid_line((const uint8_t *)"a\nb", 3));
    CHECK(!rumor_utf8_valid_line((const uint8_t *)"a\tb", 3));
    CHECK(!rumor_utf8_valid_line((const uint8_t *)"a\x7f", 2));
    CHECK(!rumor_utf8_valid_line((const uint8_t *)"\xc2\x80", 2));
    CHECK(!rumor_utf8_valid_line((const uint8_t *)"\xc2\x9b[2J", 5));
    CHECK(!rumor_utf8_valid_line((const uint8_t *)"\xc0\x80", 2));
}

/* ---- identities ------------------------------------------------------------------------------ */

static void test_identity_known_answer(void)
{
    uint8_t seed[RUMOR_SEED_BYTES], pk[ID], sk[crypto_sign_SECRETKEYBYTES], want[ID];
    kat_seed(seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    CHECK_EQ_INT(rumor_hex_decode(want, ID, KAT_PK_HEX), RUMOR_OK);
    CHECK_EQ_MEM(pk, want, ID);

    rumor_identity_t *id = NULL, *again = NULL;
    CHECK_EQ_INT(rumor_identity_from_seed(seed, &id), RUMOR_OK);
    CHECK_EQ_INT(rumor_identity_from_seed(seed, &again), RUMOR_OK);
    if (!id || !again) return;
    CHECK_EQ_MEM(rumor_identity_public(id), pk, ID);
    CHECK_EQ_MEM(rumor_identity_public(again), pk, ID);

    /* Its signatures verify under the public key with plain libsodium. */
    static const uint8_t msg[] = "hello";
    uint8_t sig[RUMOR_SIG_BYTES];
    rumor_identity_sign(id, sig, msg, sizeof msg);
    CHECK_EQ_INT(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    uint8_t ref[RUMOR_SIG_BYTES];
    crypto_sign_detached(ref, NULL, msg, sizeof msg, sk);
    CHECK_EQ_MEM(sig, ref, sizeof sig);

    rumor_identity_t *other = identity_from_byte(0x42);
    CHECK(memcmp(rumor_identity_public(other), pk, ID) != 0);

    rumor_identity_t *g1 = NULL, *g2 = NULL;
    CHECK_EQ_INT(rumor_identity_generate(&g1), RUMOR_OK);
    CHECK_EQ_INT(rumor_identity_generate(&g2), RUMOR_OK);
    if (g1 && g2) CHECK(memcmp(rumor_identity_public(g1), rumor_identity_public(g2), ID) != 0);

    rumor_identity_destroy(&id);
    CHECK(id == NULL);
    rumor_identity_destroy(&id); /* destroying twice is harmless */
    rumor_identity_destroy(&again);
    rumor_identity_destroy(&other);
    rumor_identity_destroy(&g1);
    rumor_identity_destroy(&g2);
}

/* ---- key files ------------------------------------------------------------------------------- */

static void test_keyfile_round_trip(void)
{
    rumor_identity_t *id = identity_from_byte(1), *back = NULL;
    uint8_t kf[RUMOR_KEYFILE_BYTES], pk[ID];
    bool prot = false;

    CHECK_EQ_INT(rumor_keyfile_seal(id, PASS, strlen(PASS), CHEAP_OPS, CHEAP_MEM, kf), RUMOR_OK);
    CHECK_EQ_MEM(kf, "RUMORKEY", 8);
    CHECK_EQ_INT(kf[KF_VERSION], 1);
    CHECK_EQ_INT(kf[KF_PROT], 1);
    CHECK_EQ_INT(rumor_get_u64(kf + KF_OPS), CHEAP_OPS);
    CHECK_EQ_INT(rumor_get_u64(kf + KF_MEM), CHEAP_MEM);
    /* The public key is readable without the passphrase; the seed is not. */
    CHECK_EQ_INT(rumor_keyfile_inspect(kf, sizeof kf, pk, &prot), RUMOR_OK);
    CHECK_EQ_MEM(pk, rumor_identity_public(id), ID);
    CHECK(prot);
    uint8_t seed[RUMOR_SEED_BYTES];
    memset(seed, 1, sizeof seed);
    CHECK(memmem(kf, sizeof kf, seed, sizeof seed) == NULL);

    CHECK_EQ_INT(rumor_keyfile_open(kf, sizeof kf, PASS, strlen(PASS), &back), RUMOR_OK);
    if (back) {
        CHECK_EQ_MEM(rumor_identity_public(back), rumor_identity_public(id), ID);
        CHECK(same_secret(back, id));
    }
    rumor_identity_destroy(&back);

    /* Wrong, missing, truncated-by-one and empty passphrases. */
    CHECK_EQ_INT(rumor_keyfile_open(kf, sizeof kf, "wrong", 5, &back), RUMOR_ERR_PASSPHRASE);
    CHECK(back == NULL);
    CHECK_EQ_INT(rumor_keyfile_open(kf, sizeof kf, NULL, 0, &back), RUMOR_ERR_PASSPHRASE);
    CHECK_EQ_INT(rumor_keyfile_open(kf, sizeof kf, PASS, strlen(PASS) - 1, &back),
                 RUMOR_ERR_PASSPHRASE);
    CHECK_EQ_INT(rumor_keyfile_open(kf, sizeof kf, "", 0, &back), RUMOR_ERR_PASSPHRASE);
    CHECK(back == NULL);

    /* Two seals of the same identity use fresh salts and nonces. */
    uint8_t kf2[RUMOR_KEYFILE_BYTES];
    CHECK_EQ_INT(rumor_keyfile_seal(id, PASS, strlen(PASS), CHEAP_OPS, CHEAP_MEM, kf2), RUMOR_OK);
    CHECK(memcmp(kf + KF_SALT, kf2 + KF_SALT, RUMOR_KEYFILE_BYTES - KF_SALT) != 0);
    rumor_identity_destroy(&id);
}

static void test_keyfile_default_cost(void)
{
    /* Limits of 0 must mean the interactive defaults, never "as cheap as possible". */
    rumor_identity_t *id = identity_from_byte(2);
    uint8_t kf[RUMOR_KEYFILE_BYTES];
    CHECK_EQ_INT(rumor_keyfile_seal(id, PASS, strlen(PASS), 0, 0, kf), RUMOR_OK);
    CHECK_EQ_INT(rumor_get_u64(kf + KF_OPS), crypto_pwhash_OPSLIMIT_INTERACTIVE);
    CHECK_EQ_INT(rumor_get_u64(kf + KF_MEM), crypto_pwhash_MEMLIMIT_INTERACTIVE);
    rumor_identity_destroy(&id);
}

static void test_keyfile_unprotected(void)
{
    rumor_identity_t *id = identity_from_byte(3), *back = NULL;
    uint8_t kf[RUMOR_KEYFILE_BYTES], pk[ID];
    bool prot = true;

    CHECK_EQ_INT(rumor_keyfile_seal(id, NULL, 0, 0, 0, kf), RUMOR_OK);
    CHECK_EQ_INT(kf[KF_PROT], 0);
    CHECK_EQ_INT(rumor_get_u64(kf + KF_OPS), 0);
    CHECK_EQ_INT(rumor_get_u64(kf + KF_MEM), 0);
    uint8_t seed[RUMOR_SEED_BYTES], zero[RUMOR_MAC_BYTES] = {0};
    memset(seed, 3, sizeof seed);
    CHECK_EQ_MEM(kf + KF_CT, seed, sizeof seed);
    CHECK_EQ_MEM(kf + KF_CT + RUMOR_SEED_BYTES, zero, sizeof zero);
    CHECK_EQ_INT(rumor_keyfile_inspect(kf, sizeof kf, pk, &prot), RUMOR_OK);
    CHECK(!prot);
    CHECK_EQ_MEM(pk, rumor_identity_public(id), ID);

    /* No passphrase is needed, and one given by mistake is ignored. */
    CHECK_EQ_INT(rumor_keyfile_open(kf, sizeof kf, NULL, 0, &back), RUMOR_OK);
    if (back) CHECK(same_secret(back, id));
    rumor_identity_destroy(&back);
    CHECK_EQ_INT(rumor_keyfile_open(kf, sizeof kf, PASS, strlen(PASS), &back), RUMOR_OK);
    rumor_identity_destroy(&back);

    /*
     * Every single-byte change is rejected: without a passphrase the salt, nonce and limits
     * must be zero, so one file has one meaning, and a changed seed must not load as a new
     * identity.
     */
    int rejected = 0;
    for (size_t i = 0; i < sizeof kf; i++) {
        uint8_t bad[RUMOR_KEYFILE_BYTES];
        memcpy(bad, kf, sizeof kf);
        bad[i] ^= 0x01;
        int rc = rumor_keyfile_open(bad, sizeof bad, NULL, 0, &back);
        CHECK_EQ_INT(rc, RUMOR_ERR_MALFORMED);
        CHECK(back == NULL);
        rumor_identity_destroy(&back);
        if (rc == RUMOR_ERR_MALFORMED) rejected++;
    }
    CHECK_EQ_INT(rejected, RUMOR_KEYFILE_BYTES);
    rumor_identity_destroy(&id);
}

static void test_keyfile_every_flip_rejected(void)
{
    rumor_identity_t *id = identity_from_byte(4);
    uint8_t kf[RUMOR_KEYFILE_BYTES];
    CHECK_EQ_INT(rumor_keyfile_seal(id, PASS, strlen(PASS), CHEAP_OPS, CHEAP_MEM, kf), RUMOR_OK);

    /* Each position gets a one-bit change and a whole-byte inversion. */
    static const uint8_t masks[] = {0x01, 0xff};
    int opened = 0, odd_errors = 0;
    for (size_t m = 0; m < sizeof masks; m++) {
        for (size_t i = 0; i < sizeof kf; i++) {
            uint8_t bad[RUMOR_KEYFILE_BYTES];
            rumor_identity_t *back = NULL;
            memcpy(bad, kf, sizeof kf);
            bad[i] ^= masks[m];
            int rc = rumor_keyfile_open(bad, sizeof bad, PASS, strlen(PASS), &back);
            if (rc == RUMOR_OK) {
                opened++;
                fprintf(stderr, "  flip 0x%02x at %zu opened the key file\n", masks[m], i);
            } else if (rc != RUMOR_ERR_MALFORMED && rc != RUMOR_ERR_PASSPHRASE) {
                odd_errors++;
                fprintf(stderr, "  flip 0x%02x at %zu: %s\n", masks[m], i, rumor_err_name(rc));
            }
            CHECK(back == NULL || rc == RUMOR_OK);
            rumor_identity_destroy(&back);
        }
    }
    CHECK_EQ_INT(opened, 0);
    CHECK_EQ_INT(odd_errors, 0);
    rumor_identity_destroy(&id);
}

static void test_keyfile_bad_lengths(void)
{
    rumor_identity_t *id = identity_from_byte(5), *back = NULL;
    uint8_t kf[RUMOR_KEYFILE_BYTES + 1];
    CHECK_EQ_INT(rumor_keyfile_seal(id, NULL, 0, 0, 0, kf), RUMOR_OK);
    kf[RUMOR_KEYFILE_BYTES] = 0;
    int wrong = 0;
    for (size_t len = 0; len < RUMOR_KEYFILE_BYTES; len++) {
        if (rumor_keyfile_open(kf, len, NULL, 0, &back) != RUMOR_ERR_MALFORMED) wrong++;
        if (rumor_keyfile_inspect(kf, len, NULL, NULL) != RUMOR_ERR_MALFORMED) wrong++;
        rumor_identity_destroy(&back);
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(rumor_keyfile_open(kf, sizeof kf, NULL, 0, &back), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_keyfile_inspect(kf, sizeof kf, NULL, NULL), RUMOR_ERR_MALFORMED);
    CHECK(back == NULL);
    rumor_identity_destroy(&id);
}

static void test_keyfile_absurd_cost(void)
{
    /*
     * The limits sit inside the associated data, so if Argon2 ran on an altered header
     * the result would be RUMOR_ERR_PASSPHRASE (or RUMOR_ERR_NOMEM). RUMOR_ERR_MALFORMED
     * shows the header was refused before any hashing was attempted.
     */
    rumor_identity_t *id = identity_from_byte(6), *back = NULL;
    uint8_t kf[RUMOR_KEYFILE_BYTES];
    CHECK_EQ_INT(rumor_keyfile_seal(id, PASS, strlen(PASS), CHEAP_OPS, CHEAP_MEM, kf), RUMOR_OK);
    const struct {
        uint64_t ops, mem;
    } cases[] = {
        {crypto_pwhash_OPSLIMIT_SENSITIVE + 1, CHEAP_MEM},
        {UINT64_MAX, CHEAP_MEM},
        {CHEAP_OPS, (uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE + 1},
        {CHEAP_OPS, (uint64_t)1 << 40},
        {CHEAP_OPS, UINT64_MAX},
        {0, CHEAP_MEM},
        {CHEAP_OPS, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t bad[RUMOR_KEYFILE_BYTES];
        memcpy(bad, kf, sizeof kf);
        rumor_put_u64(bad + KF_OPS, cases[i].ops);
        rumor_put_u64(bad + KF_MEM, cases[i].mem);
        CHECK_EQ_INT(rumor_keyfile_inspect(bad, sizeof bad, NULL, NULL), RUMOR_ERR_MALFORMED);
        CHECK_EQ_INT(rumor_keyfile_open(bad, sizeof bad, PASS, strlen(PASS), &back),
                     RUMOR_ERR_MALFORMED);
        CHECK(back == NULL);
    }
    /* An unprotected file must not carry limits or a tag either. */
    uint8_t plain[RUMOR_KEYFILE_BYTES];
    CHECK_EQ_INT(rumor_keyfile_seal(id, NULL, 0, 0, 0, plain), RUMOR_OK);
    plain[KF_OPS + 7] = 1;
    CHECK_EQ_INT(rumor_keyfile_inspect(plain, sizeof plain, NULL, NULL), RUMOR_ERR_MALFORMED);
    rumor_identity_destroy(&id);
}

/* ---- boxes, sealed keys, keys at rest -------------------------------------------------------- */

static void test_box(void)
{
    uint8_t key[RUMOR_ROOM_KEY_BYTES], other[RUMOR_ROOM_KEY_BYTES], ad[RUMOR_EVENT_AD_BYTES];
    uint8_t room[ID], author[ID];
    static const char text[] = "the meeting moved to thursday";
    const size_t tl = sizeof text - 1;
    uint8_t box[128], pt[128], kid[RUMOR_KEY_ID_BYTES], want_kid[RUMOR_KEY_ID_BYTES];
    size_t box_len = 0, pt_len = 0;

    rumor_room_key_generate(key);
    rumor_room_key_generate(other);
    memset(room, 0x11, ID);
    memset(author, 0x22, ID);
    rumor_event_ad(ad, RUMOR_EV_MESSAGE, room, author);
    CHECK_EQ_INT(ad[0], RUMOR_BOX_AD_VERSION); /* the box format, for both event versions */
    CHECK_EQ_INT(ad[1], RUMOR_EV_MESSAGE);
    CHECK_EQ_MEM(ad + 2, room, ID);
    CHECK_EQ_MEM(ad + 2 + ID, author, ID);

    CHECK_EQ_INT(
        rumor_box_seal(box, sizeof box, &box_len, key, ad, sizeof ad, (const uint8_t *)text, tl),
        RUMOR_OK);
    CHECK_EQ_INT(box_len, tl + RUMOR_BOX_OVERHEAD);
    CHECK(memmem(box, box_len, text, tl) == NULL);
    CHECK_EQ_INT(rumor_box_key_id(box, box_len, kid), RUMOR_OK);
    rumor_room_key_id(want_kid, key);
    CHECK_EQ_MEM(kid, want_kid, sizeof kid);

    CHECK_EQ_INT(rumor_box_open(pt, &pt_len, key, ad, sizeof ad, box, box_len), RUMOR_OK);
    CHECK_EQ_INT(pt_len, tl);
    CHECK_EQ_MEM(pt, text, tl);

    /* The wrong key, or the box replayed under another type, room or author. */
    CHECK_EQ_INT(rumor_box_open(pt, &pt_len, other, ad, sizeof ad, box, box_len),
                 RUMOR_ERR_DECRYPT);
    for (size_t i = 0; i < sizeof ad; i++) {
        uint8_t bad_ad[RUMOR_EVENT_AD_BYTES];
        memcpy(bad_ad, ad, sizeof ad);
        bad_ad[i] ^= 0x80;
        CHECK_EQ_INT(rumor_box_open(pt, &pt_len, key, bad_ad, sizeof bad_ad, box, box_len),
                     RUMOR_ERR_DECRYPT);
    }
    /* The key id is only a hint for choosing the key; nonce, ciphertext and tag are sealed. */
    int opened = 0;
    for (size_t i = RUMOR_KEY_ID_BYTES; i < box_len; i++) {
        uint8_t bad[128];
        memcpy(bad, box, box_len);
        bad[i] ^= 0x01;
        if (rumor_box_open(pt, &pt_len, key, ad, sizeof ad, bad, box_len) != RUMOR_ERR_DECRYPT)
            opened++;
    }
    CHECK_EQ_INT(opened, 0);
    CHECK_EQ_INT(rumor_box_open(pt, &pt_len, key, ad, sizeof ad, box, box_len - 1),
                 RUMOR_ERR_DECRYPT);
    CHECK_EQ_INT(rumor_box_open(pt, &pt_len, key, ad, sizeof ad, box, RUMOR_BOX_OVERHEAD - 1),
                 RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_box_key_id(box, RUMOR_BOX_OVERHEAD - 1, kid), RUMOR_ERR_MALFORMED);

    /* Fresh nonces: the same text twice gives different boxes. */
    uint8_t box2[128];
    size_t box2_len = 0;
    CHECK_EQ_INT(
        rumor_box_seal(box2, sizeof box2, &box2_len, key, ad, sizeof ad, (const uint8_t *)text, tl),
        RUMOR_OK);
    CHECK(box2_len == box_len && memcmp(box2, box, box_len) != 0);

    /* An empty plaintext (an empty topic) still authenticates. */
    CHECK_EQ_INT(rumor_box_seal(box2, sizeof box2, &box2_len, key, ad, sizeof ad, NULL, 0),
                 RUMOR_OK);
    CHECK_EQ_INT(box2_len, RUMOR_BOX_OVERHEAD);
    CHECK_EQ_INT(rumor_box_open(pt, &pt_len, key, ad, sizeof ad, box2, box2_len), RUMOR_OK);
    CHECK_EQ_INT(pt_len, 0);

    /* The capacity is respected. */
    CHECK_EQ_INT(rumor_box_seal(box2, tl + RUMOR_BOX_OVERHEAD - 1, &box2_len, key, ad, sizeof ad,
                                (const uint8_t *)text, tl),
                 RUMOR_ERR_TOO_BIG);
    CHECK_EQ_INT(
        rumor_box_seal(box2, RUMOR_BOX_OVERHEAD - 1, &box2_len, key, ad, sizeof ad, NULL, 0),
        RUMOR_ERR_TOO_BIG);
}

static void test_seal_to(void)
{
    rumor_identity_t *bob = identity_from_byte(7), *eve = identity_from_byte(8);
    uint8_t grant[RUMOR_KEY_ID_BYTES + 4 + RUMOR_ROOM_KEY_BYTES];
    uint8_t sealed[sizeof grant + RUMOR_SEAL_OVERHEAD], out[sizeof grant];
    rumor_crypto_random(grant, sizeof grant);

    CHECK_EQ_INT(rumor_seal_to(sealed, rumor_identity_public(bob), grant, sizeof grant), RUMOR_OK);
    CHECK_EQ_INT(sizeof sealed, RUMOR_SEALED_GRANT_BYTES);
    CHECK_EQ_INT(rumor_seal_open(out, bob, sealed, sizeof sealed), RUMOR_OK);
    CHECK_EQ_MEM(out, grant, sizeof grant);
    CHECK_EQ_INT(rumor_seal_open(out, eve, sealed, sizeof sealed), RUMOR_ERR_DECRYPT);

    int opened = 0;
    for (size_t i = 0; i < sizeof sealed; i++) {
        uint8_t bad[sizeof sealed];
        memcpy(bad, sealed, sizeof sealed);
        bad[i] ^= 0x01;
        if (rumor_seal_open(out, bob, bad, sizeof bad) != RUMOR_ERR_DECRYPT) opened++;
    }
    CHECK_EQ_INT(opened, 0);
    CHECK_EQ_INT(rumor_seal_open(out, bob, sealed, RUMOR_SEAL_OVERHEAD - 1), RUMOR_ERR_MALFORMED);
    rumor_identity_destroy(&bob);
    rumor_identity_destroy(&eve);
}

static void test_key_at_rest(void)
{
    rumor_identity_t *me = identity_from_byte(9), *other = identity_from_byte(10);
    uint8_t key[RUMOR_ROOM_KEY_BYTES], back[RUMOR_ROOM_KEY_BYTES];
    uint8_t sealed[RUMOR_KEY_AT_REST_BYTES], sealed2[RUMOR_KEY_AT_REST_BYTES];
    rumor_room_key_generate(key);

    CHECK_EQ_INT(RUMOR_KEY_AT_REST_BYTES, 24 + 16 + 32); /* nonce ‖ tag ‖ key, PROTOCOL.md 5.2 */
    CHECK_EQ_INT(rumor_key_at_rest_seal(sealed, me, key), RUMOR_OK);
    CHECK(memmem(sealed, sizeof sealed, key, sizeof key) == NULL);
    CHECK_EQ_INT(rumor_key_at_rest_open(back, me, sealed, sizeof sealed), RUMOR_OK);
    CHECK_EQ_MEM(back, key, sizeof key);

    /* The store key comes from the seed: the same identity reloaded later still opens it. */
    rumor_identity_t *reloaded = identity_from_byte(9);
    memset(back, 0, sizeof back);
    CHECK_EQ_INT(rumor_key_at_rest_open(back, reloaded, sealed, sizeof sealed), RUMOR_OK);
    CHECK_EQ_MEM(back, key, sizeof key);

    CHECK_EQ_INT(rumor_key_at_rest_open(back, other, sealed, sizeof sealed), RUMOR_ERR_DECRYPT);
    CHECK_EQ_INT(rumor_key_at_rest_open(back, me, sealed, sizeof sealed - 1), RUMOR_ERR_MALFORMED);
    int opened = 0;
    for (size_t i = 0; i < sizeof sealed; i++) {
        uint8_t bad[sizeof sealed];
        memcpy(bad, sealed, sizeof sealed);
        bad[i] ^= 0x01;
        if (rumor_key_at_rest_open(back, me, bad, sizeof bad) != RUMOR_ERR_DECRYPT) opened++;
    }
    CHECK_EQ_INT(opened, 0);
    CHECK_EQ_INT(rumor_key_at_rest_seal(sealed2, me, key), RUMOR_OK);
    CHECK(memcmp(sealed, sealed2, sizeof sealed) != 0);
    rumor_identity_destroy(&me);
    rumor_identity_destroy(&other);
    rumor_identity_destroy(&reloaded);
}

static void test_room_key_id(void)
{
    uint8_t k1[RUMOR_ROOM_KEY_BYTES], k2[RUMOR_ROOM_KEY_BYTES];
    uint8_t a[RUMOR_KEY_ID_BYTES], b[RUMOR_KEY_ID_BYTES], c[RUMOR_KEY_ID_BYTES];
    rumor_room_key_generate(k1);
    rumor_room_key_generate(k2);
    CHECK(memcmp(k1, k2, sizeof k1) != 0);
    rumor_room_key_id(a, k1);
    rumor_room_key_id(b, k1);
    rumor_room_key_id(c, k2);
    CHECK_EQ_MEM(a, b, sizeof a);
    CHECK(memcmp(a, c, sizeof a) != 0);

    /* PROTOCOL.md 4.4: first 8 bytes of BLAKE2b-256("rumor-key-id" ‖ key). */
    uint8_t in[12 + RUMOR_ROOM_KEY_BYTES], h[32];
    memcpy(in, "rumor-key-id", 12);
    memcpy(in + 12, k1, sizeof k1);
    crypto_generichash(h, sizeof h, in, sizeof in, NULL, 0);
    CHECK_EQ_MEM(a, h, sizeof a);
    CHECK(memcmp(a, k1, sizeof a) != 0);
}

/* ---- events ---------------------------------------------------------------------------------- */

/* Decodes an event that must be valid. On failure the check fails and the caller stops, since
 * the views in `ev` are then NULL. */
#define DECODES(buf, len, ev) decodes((buf), (len), (ev), __LINE__)
static bool decodes(const uint8_t *buf, size_t len, rumor_event_t *ev, int line)
{
    int rc = rumor_event_decode(buf, len, ev);
    test_checks++;
    if (rc != RUMOR_OK) {
        test_failures++;
        fprintf(stderr, "%s:%d: decode failed: %s\n", __FILE__, line, rumor_err_name(rc));
    }
    return rc == RUMOR_OK;
}

/* Lays out an event by hand from PROTOCOL.md 2.1, independently of rumor_event_encode. */
static size_t layout(uint8_t *out, uint8_t version, uint8_t type, const uint8_t room[ID],
                     const uint8_t author[ID], uint64_t lamport, uint64_t ts, uint8_t n_parents,
                     const uint8_t *parents, const uint8_t *body, uint32_t body_len)
{
    size_t off = 0;
    out[off++] = version;
    out[off++] = type;
    memcpy(out + off, room, ID), off += ID;
    memcpy(out + off, author, ID), off += ID;
    rumor_put_u64(out + off, lamport), off += 8;
    rumor_put_u64(out + off, ts), off += 8;
    out[off++] = n_parents;
    if (n_parents) memcpy(out + off, parents, (size_t)n_parents * ID);
    off += (size_t)n_parents * ID;
    rumor_put_u32(out + off, body_len), off += 4;
    if (body_len) memcpy(out + off, body, body_len);
    off += body_len;
    return off; /* the signed length; the caller appends the signature */
}

/* Encodes a draft; returns the length, 0 on failure. */
static size_t encode(uint8_t *out, size_t cap, const rumor_identity_t *id, uint8_t type,
                     const uint8_t room[ID], const uint8_t *parents, uint8_t n_parents,
                     const uint8_t *body, size_t body_len, uint8_t ev_id[ID])
{
    rumor_event_draft_t d = {.type = type,
                             .lamport = 5,
                             .ts = 1234,
                             .n_parents = n_parents,
                             .parents = parents,
                             .body = body,
                             .body_len = body_len};
    memcpy(d.room, room, ID);
    size_t len = 0;
    int rc = rumor_event_encode(out, cap, &len, ev_id, &d, id);
    return rc == RUMOR_OK ? len : 0;
}

/* A body that passes for a box of `pt_len` plaintext bytes (decode does not open boxes). */
static size_t fake_box(uint8_t *out, size_t pt_len)
{
    size_t n = RUMOR_BOX_OVERHEAD + pt_len;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(i * 7 + 1);
    return n;
}

static void test_event_known_answer(void)
{
    /* The vector: a version-2 message, fixed seed, room 11..11, lamport 7, ts 1700000000000,
     * two parents given out of order, a 53-byte body (3*i); id and signature pinned from
     * Python's hashlib and the cryptography package (OpenSSL). */
    static const char want_id_hex[] =
        "fd8b7a984d868c8d80fb9fabbbdc00f0f4ff4b84f4d7dc9edd5f27c4ad59d398";
    static const char want_sig_hex[] =
        "2c4240b89ff7df43805ed5bf0c5ccf96bcaa64fcdc3b8f6cdd6b57353f6a9ef8"
        "f4c04e15b216a95b730e7a9e95f682922a9ce49381b5bf1ad7ca82f18bd9bb08";
    uint8_t seed[RUMOR_SEED_BYTES], pk[ID], sk[crypto_sign_SECRETKEYBYTES];
    kat_seed(seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    rumor_identity_t *id = NULL;
    CHECK_EQ_INT(rumor_identity_from_seed(seed, &id), RUMOR_OK);
    if (!id) return;

    uint8_t room[ID], parents[2 * ID], sorted[2 * ID], body[53];
    memset(room, 0x11, ID);
    memset(parents, 0xbb, ID);
    memset(parents + ID, 0xaa, ID);
    memcpy(sorted, parents + ID, ID);
    memcpy(sorted + ID, parents, ID);
    for (size_t i = 0; i < sizeof body; i++) body[i] = (uint8_t)(3 * i);

    rumor_event_draft_t d = {.type = RUMOR_EV_MESSAGE,
                             .lamport = 7,
                             .ts = 1700000000000ull,
                             .n_parents = 2,
                             .parents = parents,
                             .body = body,
                             .body_len = sizeof body};
    memcpy(d.room, room, ID);
    uint8_t out[512], ev_id[ID];
    size_t len = 0;
    CHECK_EQ_INT(rumor_event_encode(out, sizeof out, &len, ev_id, &d, id), RUMOR_OK);
    CHECK_EQ_INT(len, 268); /* 83 + 2*32 + 4 + 53 + 64 */

    uint8_t want[512], want_hash[ID], want_sig[RUMOR_SIG_BYTES], pinned[ID];
    size_t signed_len = layout(want, 2, RUMOR_EV_MESSAGE, room, pk, 7, 1700000000000ull, 2, sorted,
                               body, sizeof body);
    CHECK_EQ_INT(signed_len, len - RUMOR_SIG_BYTES);
    CHECK_EQ_MEM(out, want, signed_len);
    crypto_generichash(want_hash, ID, want, signed_len, NULL, 0);
    CHECK_EQ_MEM(ev_id, want_hash, ID);
    CHECK_EQ_INT(rumor_hex_decode(pinned, ID, want_id_hex), RUMOR_OK);
    CHECK_EQ_MEM(ev_id, pinned, ID);
    crypto_sign_detached(want_sig, NULL, want, signed_len, sk);
    CHECK_EQ_MEM(out + signed_len, want_sig, RUMOR_SIG_BYTES);
    CHECK_EQ_INT(rumor_hex_decode(want_sig, RUMOR_SIG_BYTES, want_sig_hex), RUMOR_OK);
    CHECK_EQ_MEM(out + signed_len, want_sig, RUMOR_SIG_BYTES);

    rumor_event_t ev;
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_MEM(ev.id, pinned, ID);
    CHECK_EQ_INT(rumor_event_verify(&ev), RUMOR_OK);
done:
    rumor_identity_destroy(&id);
}

static void test_event_round_trip(void)
{
    rumor_identity_t *id = identity_from_byte(11);
    uint8_t room[ID], parents[3 * ID], body[64], out[1024], ev_id[ID];
    memset(room, 0x5a, ID);
    /* Given in descending order: encode must sort them. */
    memset(parents, 0x30, ID);
    memset(parents + ID, 0x20, ID);
    memset(parents + 2 * ID, 0x10, ID);
    size_t body_len = fake_box(body, 9);

    rumor_event_draft_t d = {.type = RUMOR_EV_MESSAGE,
                             .lamport = 42,
                             .ts = 1700000000123ull,
                             .n_parents = 3,
                             .parents = parents,
                             .body = body,
                             .body_len = body_len};
    memcpy(d.room, room, ID);
    size_t len = 0;
    CHECK_EQ_INT(rumor_event_encode(out, sizeof out, &len, ev_id, &d, id), RUMOR_OK);
    CHECK_EQ_INT(len, RUMOR_EVENT_FIXED + 3 * ID + 4 + body_len + RUMOR_SIG_BYTES);

    rumor_event_t ev;
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_INT(ev.version, RUMOR_EVENT_VERSION);
    CHECK_EQ_INT(ev.type, RUMOR_EV_MESSAGE);
    CHECK_EQ_MEM(ev.room, room, ID);
    CHECK_EQ_MEM(ev.author, rumor_identity_public(id), ID);
    CHECK_EQ_INT(ev.lamport, 42);
    CHECK_EQ_INT(ev.ts, 1700000000123ull);
    CHECK_EQ_INT(ev.n_parents, 3);
    CHECK_EQ_MEM(ev.parents, parents + 2 * ID, ID);
    CHECK_EQ_MEM(ev.parents + ID, parents + ID, ID);
    CHECK_EQ_MEM(ev.parents + 2 * ID, parents, ID);
    CHECK_EQ_INT(ev.body_len, body_len);
    CHECK_EQ_MEM(ev.body, body, body_len);
    CHECK(ev.box == ev.body);
    CHECK_EQ_INT(ev.box_len, body_len);
    CHECK(ev.signed_bytes == out);
    CHECK_EQ_INT(ev.signed_len, len - RUMOR_SIG_BYTES);
    CHECK_EQ_INT(ev.encoded_len, len);
    CHECK(ev.sig == out + len - RUMOR_SIG_BYTES);
    CHECK_EQ_MEM(ev.id, ev_id, ID);
    CHECK_EQ_INT(rumor_event_verify(&ev), RUMOR_OK);

    /* Encode refuses what decode would refuse. */
    uint8_t dup[2 * ID];
    memset(dup, 0x77, sizeof dup);
    d.parents = dup;
    d.n_parents = 2;
    CHECK_EQ_INT(rumor_event_encode(out, sizeof out, &len, NULL, &d, id), RUMOR_ERR_INVALID);
    uint8_t many[(RUMOR_MAX_PARENTS + 1) * ID];
    for (int i = 0; i <= RUMOR_MAX_PARENTS; i++) memset(many + i * ID, i + 1, ID);
    d.parents = many;
    d.n_parents = RUMOR_MAX_PARENTS + 1;
    CHECK_EQ_INT(rumor_event_encode(out, sizeof out, &len, NULL, &d, id), RUMOR_ERR_INVALID);
    d.n_parents = RUMOR_MAX_PARENTS;
    CHECK_EQ_INT(rumor_event_encode(out, sizeof out, &len, NULL, &d, id), RUMOR_OK);
    CHECK_EQ_INT(rumor_event_decode(out, len, &ev), RUMOR_OK);
    CHECK_EQ_INT(ev.n_parents, RUMOR_MAX_PARENTS);
    CHECK_EQ_INT(rumor_event_encode(out, len - 1, &len, NULL, &d, id), RUMOR_ERR_TOO_BIG);
done:
    rumor_identity_destroy(&id);
}

static void test_event_bodies(void)
{
    /* Each type's body decodes into its fields (PROTOCOL.md 2.3). */
    rumor_identity_t *id = identity_from_byte(12);
    uint8_t room[ID], zero[ID] = {0}, parent[ID], body[1024], out[2048];
    rumor_event_t ev;
    size_t len;
    memset(room, 0x33, ID);
    memset(parent, 0x44, ID);

    body[0] = RUMOR_ROOM_FLAG_PRIVATE;
    size_t bl = 1 + fake_box(body + 1, 2);
    len = encode(out, sizeof out, id, RUMOR_EV_ROOM_CREATE, zero, NULL, 0, body, bl, NULL);
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_INT(ev.flags, RUMOR_ROOM_FLAG_PRIVATE);
    CHECK(ev.box == ev.body + 1);
    CHECK_EQ_INT(ev.box_len, bl - 1);

    body[0] = 5;
    memcpy(body + 1, "alice", 5);
    len = encode(out, sizeof out, id, RUMOR_EV_PROFILE, zero, NULL, 0, body, 6, NULL);
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_INT(ev.nick_len, 5);
    CHECK_EQ_MEM(ev.nick, "alice", 5);

    len = encode(out, sizeof out, id, RUMOR_EV_ROOM_MOVE, room, parent, 1, zero, ID, NULL);
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_MEM(ev.target, zero, ID);

    len = encode(out, sizeof out, id, RUMOR_EV_ROOM_TOPIC, room, parent, 1, body, fake_box(body, 0),
                 NULL);
    CHECK_EQ_INT(rumor_event_decode(out, len, &ev), RUMOR_OK); /* an empty topic is allowed */

    memset(body, 0x66, ID);
    body[ID] = RUMOR_ROLE_ADMIN;
    body[ID + 1] = 2;
    memset(body + ID + 2, 0x99, 2 * RUMOR_SEALED_GRANT_BYTES);
    bl = ID + 2 + 2 * RUMOR_SEALED_GRANT_BYTES;
    len = encode(out, sizeof out, id, RUMOR_EV_MEMBER_ADD, room, parent, 1, body, bl, NULL);
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_MEM(ev.target, body, ID);
    CHECK_EQ_INT(ev.role, RUMOR_ROLE_ADMIN);
    CHECK_EQ_INT(ev.n_entries, 2);
    CHECK(ev.entries == ev.body + ID + 2);

    len = encode(out, sizeof out, id, RUMOR_EV_MEMBER_REMOVE, room, parent, 1, body, ID, NULL);
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_MEM(ev.target, body, ID);

    rumor_put_u32(body, 3);
    rumor_put_u16(body + 4, 1);
    memset(body + 6, 0x4b, RUMOR_KEY_ID_BYTES);
    memset(body + RUMOR_KEY_EPOCH_FIXED, 0x55, RUMOR_EPOCH_ENTRY_BYTES);
    len = encode(out, sizeof out, id, RUMOR_EV_KEY_EPOCH, room, parent, 1, body,
                 RUMOR_KEY_EPOCH_FIXED + RUMOR_EPOCH_ENTRY_BYTES, NULL);
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_INT(ev.epoch, 3);
    CHECK_EQ_INT(ev.n_entries, 1);
    CHECK(ev.key_id == ev.body + 6);
    CHECK(ev.entries == ev.body + RUMOR_KEY_EPOCH_FIXED);
done:
    CHECK_EQ_STR(rumor_event_type_name(RUMOR_EV_MESSAGE), "message");
    CHECK_EQ_STR(rumor_event_type_name(RUMOR_EV_KEY_EPOCH), "key_epoch");
    CHECK_EQ_STR(rumor_event_type_name(0), "unknown");
    CHECK_EQ_STR(rumor_event_type_name(RUMOR_EV_MEMBER_ROLE), "member_role");
    CHECK_EQ_STR(rumor_event_type_name(11), "unknown");
    rumor_identity_destroy(&id);
}

/* Encodes `body` as an event of `type` and expects decode to refuse it as malformed. */
static void expect_bad_body(const rumor_identity_t *id, uint8_t type, const uint8_t room[ID],
                            uint8_t n_parents, const uint8_t *body, size_t body_len, int line)
{
    uint8_t out[4096], parents[ID];
    memset(parents, 0x01, ID);
    size_t len = encode(out, sizeof out, id, type, room, n_parents ? parents : NULL, n_parents,
                        body, body_len, NULL);
    rumor_event_t ev;
    int rc = len ? rumor_event_decode(out, len, &ev) : -1000;
    if (rc != RUMOR_ERR_MALFORMED)
        fprintf(stderr, "  (body case at line %d: %s)\n", line, rumor_err_name(rc));
    CHECK_EQ_INT(rc, RUMOR_ERR_MALFORMED);
}
#define BAD_BODY(type, room, np, body, len) expect_bad_body(id, type, room, np, body, len, __LINE__)

static void test_event_decode_rejects_bodies(void)
{
    rumor_identity_t *id = identity_from_byte(13);
    uint8_t room[ID], zero[ID] = {0}, b[2048];
    memset(room, 0x33, ID);

    /* PROFILE: zero room, no parents, nick 1..64 bytes of UTF-8 without controls. */
    b[0] = 5;
    memcpy(b + 1, "alice", 5);
    BAD_BODY(RUMOR_EV_PROFILE, room, 0, b, 6);
    BAD_BODY(RUMOR_EV_PROFILE, zero, 1, b, 6);
    BAD_BODY(RUMOR_EV_PROFILE, zero, 0, b, 7); /* a byte after the nick */
    BAD_BODY(RUMOR_EV_PROFILE, zero, 0, b, 5); /* the nick runs past the body */
    memcpy(b + 1, "al\nce", 5);
    BAD_BODY(RUMOR_EV_PROFILE, zero, 0, b, 6);
    memcpy(b + 1, "al\x1b[m", 5);
    BAD_BODY(RUMOR_EV_PROFILE, zero, 0, b, 6);
    b[0] = 2;
    memcpy(b + 1, "\xc0\xaf", 2);
    BAD_BODY(RUMOR_EV_PROFILE, zero, 0, b, 3);
    b[0] = 0;
    BAD_BODY(RUMOR_EV_PROFILE, zero, 0, b, 1);
    b[0] = RUMOR_NICK_MAX + 1;
    memset(b + 1, 'n', RUMOR_NICK_MAX + 1);
    BAD_BODY(RUMOR_EV_PROFILE, zero, 0, b, RUMOR_NICK_MAX + 2);

    /* MEMBER_ADD: role 1 or 2, at most 64 grants, exactly n grants. */
    memset(b, 0x66, ID);
    b[ID] = 3;
    b[ID + 1] = 0;
    BAD_BODY(RUMOR_EV_MEMBER_ADD, room, 1, b, ID + 2);
    b[ID] = 0;
    BAD_BODY(RUMOR_EV_MEMBER_ADD, room, 1, b, ID + 2);
    b[ID] = RUMOR_ROLE_MEMBER;
    BAD_BODY(RUMOR_EV_MEMBER_ADD, zero, 1, b, ID + 2);
    b[ID + 1] = 1;
    BAD_BODY(RUMOR_EV_MEMBER_ADD, room, 1, b, ID + 2 + RUMOR_SEALED_GRANT_BYTES - 1);
    BAD_BODY(RUMOR_EV_MEMBER_ADD, room, 1, b, ID + 2 + RUMOR_SEALED_GRANT_BYTES + 1);
    b[ID + 1] = RUMOR_MAX_SEALED_KEYS + 1;
    BAD_BODY(RUMOR_EV_MEMBER_ADD, room, 1, b, ID + 2);
    BAD_BODY(RUMOR_EV_MEMBER_ADD, room, 1, b, ID + 1);

    /* KEY_EPOCH: epoch >= 1, 1..512 entries, exactly n entries. */
    const size_t kf = RUMOR_KEY_EPOCH_FIXED;
    rumor_put_u32(b, 0);
    rumor_put_u16(b + 4, 1);
    memset(b + kf, 0x55, RUMOR_EPOCH_ENTRY_BYTES);
    BAD_BODY(RUMOR_EV_KEY_EPOCH, room, 1, b, kf + RUMOR_EPOCH_ENTRY_BYTES);
    rumor_put_u32(b, 1);
    rumor_put_u16(b + 4, 0);
    BAD_BODY(RUMOR_EV_KEY_EPOCH, room, 1, b, kf);
    rumor_put_u16(b + 4, RUMOR_MAX_MEMBERS + 1);
    BAD_BODY(RUMOR_EV_KEY_EPOCH, room, 1, b, kf);
    rumor_put_u16(b + 4, 2);
    BAD_BODY(RUMOR_EV_KEY_EPOCH, room, 1, b, kf + RUMOR_EPOCH_ENTRY_BYTES);
    rumor_put_u16(b + 4, 1);
    BAD_BODY(RUMOR_EV_KEY_EPOCH, zero, 1, b, kf + RUMOR_EPOCH_ENTRY_BYTES);
    BAD_BODY(RUMOR_EV_KEY_EPOCH, room, 1, b, kf - 1);

    /* ROOM_CREATE: only the private and direct flags (direct: top level, not private), and a
     * box with at least name_len and one byte. */
    b[0] = 0x04;
    size_t bl = 1 + fake_box(b + 1, 2);
    BAD_BODY(RUMOR_EV_ROOM_CREATE, zero, 0, b, bl);
    b[0] = RUMOR_ROOM_FLAG_DIRECT | RUMOR_ROOM_FLAG_PRIVATE;
    BAD_BODY(RUMOR_EV_ROOM_CREATE, zero, 0, b, bl);
    b[0] = RUMOR_ROOM_FLAG_DIRECT;
    BAD_BODY(RUMOR_EV_ROOM_CREATE, room, 1, b, bl);
    b[0] = 0x81;
    BAD_BODY(RUMOR_EV_ROOM_CREATE, zero, 0, b, bl);
    b[0] = 0;
    BAD_BODY(RUMOR_EV_ROOM_CREATE, zero, 0, b, 1 + fake_box(b + 1, 1));
    BAD_BODY(RUMOR_EV_ROOM_CREATE, zero, 0, b, 0);

    /* Boxed types need a room and a whole box. */
    bl = fake_box(b, 4);
    BAD_BODY(RUMOR_EV_MESSAGE, zero, 1, b, bl);
    BAD_BODY(RUMOR_EV_MESSAGE, room, 1, b, RUMOR_BOX_OVERHEAD);
    BAD_BODY(RUMOR_EV_ROOM_RENAME, room, 1, b, RUMOR_BOX_OVERHEAD);
    BAD_BODY(RUMOR_EV_ROOM_TOPIC, room, 1, b, RUMOR_BOX_OVERHEAD - 1);
    BAD_BODY(RUMOR_EV_ROOM_TOPIC, zero, 1, b, bl);

    /* Fixed-size bodies must be exactly their size. */
    BAD_BODY(RUMOR_EV_ROOM_MOVE, room, 1, b, ID - 1);
    BAD_BODY(RUMOR_EV_ROOM_MOVE, room, 1, b, ID + 1);
    BAD_BODY(RUMOR_EV_ROOM_MOVE, zero, 1, b, ID);
    BAD_BODY(RUMOR_EV_MEMBER_REMOVE, room, 1, b, ID + 1);
    BAD_BODY(RUMOR_EV_MEMBER_REMOVE, zero, 1, b, ID);

    /* Types outside 1..9. */
    BAD_BODY(0, room, 1, b, bl);
    BAD_BODY(10, room, 1, b, bl);
    BAD_BODY(255, room, 1, b, bl);
    rumor_identity_destroy(&id);
}

static void test_event_decode_rejects_envelopes(void)
{
    rumor_identity_t *id = identity_from_byte(14);
    uint8_t room[ID], parents[2 * ID], body[64], out[1024], bad[1024];
    rumor_event_t ev;
    memset(room, 0x21, ID);
    memset(parents, 0x01, ID);
    memset(parents + ID, 0x02, ID);
    size_t bl = fake_box(body, 8);
    size_t len = encode(out, sizeof out, id, RUMOR_EV_MESSAGE, room, parents, 2, body, bl, NULL);
    CHECK(len > 0);
    CHECK_EQ_INT(rumor_event_decode(out, len, &ev), RUMOR_OK);

    /* Every truncation, down to nothing. */
    int accepted = 0;
    for (size_t n = 0; n < len; n++)
        if (rumor_event_decode(out, n, &ev) != RUMOR_ERR_MALFORMED) accepted++;
    CHECK_EQ_INT(accepted, 0);

    /* A trailing byte. */
    memcpy(bad, out, len);
    bad[len] = 0;
    CHECK_EQ_INT(rumor_event_decode(bad, len + 1, &ev), RUMOR_ERR_MALFORMED);

    /* Other versions (1 and 2 are read). */
    memcpy(bad, out, len);
    bad[0] = 3;
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);
    bad[0] = 0;
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);

    /* Lamport 0 cannot follow any parent. */
    memcpy(bad, out, len);
    rumor_put_u64(bad + 66, 0);
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);

    /* Parents out of order, and the same parent twice. */
    memcpy(bad, out, len);
    memcpy(bad + RUMOR_EVENT_FIXED, parents + ID, ID);
    memcpy(bad + RUMOR_EVENT_FIXED + ID, parents, ID);
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);
    memcpy(bad + RUMOR_EVENT_FIXED, parents, ID);
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);

    /* body_len that overruns the event, by one and by a lot. */
    size_t bl_off = RUMOR_EVENT_FIXED + 2 * ID;
    memcpy(bad, out, len);
    rumor_put_u32(bad + bl_off, (uint32_t)bl + 1);
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);
    rumor_put_u32(bad + bl_off, (uint32_t)bl + RUMOR_SIG_BYTES);
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);
    rumor_put_u32(bad + bl_off, UINT32_MAX);
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);
    rumor_put_u32(bad + bl_off, (uint32_t)bl - 1);
    CHECK_EQ_INT(rumor_event_decode(bad, len, &ev), RUMOR_ERR_MALFORMED);

    /* 17 parents, laid out by hand since encode refuses them. */
    uint8_t many[(RUMOR_MAX_PARENTS + 1) * ID], big[2048];
    for (int i = 0; i <= RUMOR_MAX_PARENTS; i++) memset(many + i * ID, i + 1, ID);
    size_t sl = layout(big, 1, RUMOR_EV_MESSAGE, room, rumor_identity_public(id), 2, 0,
                       RUMOR_MAX_PARENTS + 1, many, body, (uint32_t)bl);
    memset(big + sl, 0, RUMOR_SIG_BYTES);
    CHECK_EQ_INT(rumor_event_decode(big, sl + RUMOR_SIG_BYTES, &ev), RUMOR_ERR_MALFORMED);
    sl = layout(big, 1, RUMOR_EV_MESSAGE, room, rumor_identity_public(id), 2, 0, RUMOR_MAX_PARENTS,
                many, body, (uint32_t)bl);
    memset(big + sl, 0, RUMOR_SIG_BYTES);
    CHECK_EQ_INT(rumor_event_decode(big, sl + RUMOR_SIG_BYTES, &ev), RUMOR_OK);
    rumor_identity_destroy(&id);
}

static void test_event_size_limit(void)
{
    rumor_identity_t *id = identity_from_byte(15);
    uint8_t room[ID], parent[ID];
    memset(room, 0x21, ID);
    memset(parent, 0x01, ID);
    uint8_t *body = malloc(RUMOR_EVENT_MAX), *out = malloc(RUMOR_EVENT_MAX + 2);
    if (!body || !out) exit(2);

    /* The largest event that fits exactly RUMOR_EVENT_MAX bytes decodes. */
    size_t max_body = RUMOR_EVENT_MAX - RUMOR_EVENT_FIXED - ID - 4 - RUMOR_SIG_BYTES;
    fake_box(body, max_body - RUMOR_BOX_OVERHEAD);
    size_t len = encode(out, RUMOR_EVENT_MAX + 2, id, RUMOR_EV_MESSAGE, room, parent, 1, body,
                        max_body, NULL);
    CHECK_EQ_INT(len, RUMOR_EVENT_MAX);
    rumor_event_t ev;
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_INT(rumor_event_verify(&ev), RUMOR_OK);

    /* One byte more is refused by encode, and by decode before it parses anything. */
    rumor_event_draft_t d = {.type = RUMOR_EV_MESSAGE,
                             .lamport = 2,
                             .n_parents = 1,
                             .parents = parent,
                             .body = body,
                             .body_len = max_body + 1};
    memcpy(d.room, room, ID);
    size_t n = 0;
    CHECK_EQ_INT(rumor_event_encode(out, RUMOR_EVENT_MAX + 2, &n, NULL, &d, id), RUMOR_ERR_TOO_BIG);
    size_t sl = layout(out, 1, RUMOR_EV_MESSAGE, room, rumor_identity_public(id), 2, 0, 1, parent,
                       body, (uint32_t)(max_body + 1));
    memset(out + sl, 0, RUMOR_SIG_BYTES);
    CHECK_EQ_INT(sl + RUMOR_SIG_BYTES, RUMOR_EVENT_MAX + 1);
    CHECK_EQ_INT(rumor_event_decode(out, RUMOR_EVENT_MAX + 1, &ev), RUMOR_ERR_TOO_BIG);
    CHECK_EQ_INT(rumor_event_decode(out, SIZE_MAX, &ev), RUMOR_ERR_TOO_BIG);
done:
    free(body);
    free(out);
    rumor_identity_destroy(&id);
}

static void test_event_verify(void)
{
    rumor_identity_t *id = identity_from_byte(16), *other = identity_from_byte(17);
    uint8_t room[ID], parent[ID], body[64], out[512], bad[512];
    memset(room, 0x21, ID);
    memset(parent, 0x01, ID);
    size_t bl = fake_box(body, 8);
    size_t len = encode(out, sizeof out, id, RUMOR_EV_MESSAGE, room, parent, 1, body, bl, NULL);
    rumor_event_t ev;
    if (!DECODES(out, len, &ev)) goto done;
    CHECK_EQ_INT(rumor_event_verify(&ev), RUMOR_OK);

    /* Every single bit of the signature matters. */
    int verified = 0;
    for (size_t bit = 0; bit < 8 * RUMOR_SIG_BYTES; bit++) {
        memcpy(bad, out, len);
        bad[len - RUMOR_SIG_BYTES + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (rumor_event_decode(bad, len, &ev) != RUMOR_OK || rumor_event_verify(&ev) == RUMOR_OK)
            verified++;
    }
    CHECK_EQ_INT(verified, 0);

    /* A flipped bit of the body still decodes, changes the id, and fails verification. */
    uint8_t first_id[ID];
    if (!DECODES(out, len, &ev)) goto done;
    memcpy(first_id, ev.id, ID);
    size_t body_off = RUMOR_EVENT_FIXED + ID + 4;
    memcpy(bad, out, len);
    bad[body_off + bl - 1] ^= 0x04;
    if (!DECODES(bad, len, &ev)) goto done;
    CHECK(memcmp(ev.id, first_id, ID) != 0);
    CHECK_EQ_INT(rumor_event_verify(&ev), RUMOR_ERR_BAD_SIGNATURE);

    /* The same bytes claimed by another author. */
    memcpy(bad, out, len);
    memcpy(bad + 34, rumor_identity_public(other), ID);
    if (!DECODES(bad, len, &ev)) goto done;
    CHECK_EQ_INT(rumor_event_verify(&ev), RUMOR_ERR_BAD_SIGNATURE);

    /* The clock is signed too. */
    memcpy(bad, out, len);
    bad[73] ^= 0x01;
    if (!DECODES(bad, len, &ev)) goto done;
    CHECK_EQ_INT(rumor_event_verify(&ev), RUMOR_ERR_BAD_SIGNATURE);
done:
    rumor_identity_destroy(&id);
    rumor_identity_destroy(&other);
}

/* The test vector printed in PROTOCOL.md section 8: byte for byte. */
static void test_protocol_vector(void)
{
    static const char want_pk[] =
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
    static const char want_event[] =
        "0103000000000000000000000000000000000000000000000000000000000000000003a107bff3ce10be"
        "1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b800000000000000010000019b76daa8000000"
        "00000605616c69636564156b78f22bbb69d088d29914ce0b04d426dcbddf7afaa54c204d4789b038c836"
        "83aec8c4c5712ab667e922e6aaeaf1a799f43ba29f9bc5a22c68a0d355470a";
    static const char want_id[] =
        "282c03a8d878fa5ef3ff796ada31a2585c0e43518ca91aa846004536cf3c7531";
    uint8_t seed[RUMOR_SEED_BYTES];
    kat_seed(seed);
    rumor_identity_t *id = NULL;
    CHECK_EQ_INT(rumor_identity_from_seed(seed, &id), RUMOR_OK);
    if (!id) return;
    uint8_t body[] = {5, 'a', 'l', 'i', 'c', 'e'}, out[256], eid[RUMOR_ID_BYTES];
    rumor_event_draft_t d = {.type = RUMOR_EV_PROFILE,
                             .lamport = 1,
                             .ts = UINT64_C(1767225600000),
                             .body = body,
                             .body_len = sizeof body};
    size_t len = 0;
    char hex[2 * sizeof out + 1];
    CHECK_EQ_INT(rumor_event_encode(out, sizeof out, &len, eid, &d, id), RUMOR_OK);
    rumor_hex_encode(hex, rumor_identity_public(id), RUMOR_ID_BYTES);
    CHECK_EQ_STR(hex, want_pk);
    CHECK_EQ_INT(len, (sizeof want_event - 1) / 2);
    rumor_hex_encode(hex, out, len);
    CHECK_EQ_STR(hex, want_event);
    rumor_hex_encode(hex, eid, RUMOR_ID_BYTES);
    CHECK_EQ_STR(hex, want_id);
    rumor_event_t ev;
    CHECK_EQ_INT(rumor_event_decode(out, len, &ev), RUMOR_OK);
    CHECK_EQ_INT(rumor_event_verify(&ev), RUMOR_OK);
    rumor_identity_destroy(&id);
}

int main(void)
{
    if (rumor_crypto_init() != RUMOR_OK) return 2;
    RUN(test_protocol_vector);
    RUN(test_error_strings);
    RUN(test_hex);
    RUN(test_utf8);
    RUN(test_identity_known_answer);
    RUN(test_keyfile_round_trip);
    RUN(test_keyfile_default_cost);
    RUN(test_keyfile_unprotected);
    RUN(test_keyfile_every_flip_rejected);
    RUN(test_keyfile_bad_lengths);
    RUN(test_keyfile_absurd_cost);
    RUN(test_box);
    RUN(test_seal_to);
    RUN(test_key_at_rest);
    RUN(test_room_key_id);
    RUN(test_event_known_answer);
    RUN(test_event_round_trip);
    RUN(test_event_bodies);
    RUN(test_event_decode_rejects_bodies);
    RUN(test_event_decode_rejects_envelopes);
    RUN(test_event_size_limit);
    RUN(test_event_verify);
    return test_report("crypto");
}
