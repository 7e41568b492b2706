/* crypto.c - identities, key files, room keys and boxes (PROTOCOL.md 1, 2.2, 4.4, 5). */
#include "crypto_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct rumor_identity {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES]; /* public key, the rumor id */
    uint8_t *sk;  /* sodium_malloc'd: 64-byte Ed25519 secret key (seed | pk) */
    uint8_t *xsk; /* sodium_malloc'd: X25519 secret key for opening sealed keys */
    uint8_t *stk; /* sodium_malloc'd: store key for keys at rest */
    /* A delegated identity (no secret here): the agent does each secret operation. */
    const rumor_agent_t *agent;
    void *agent_ctx;
};

#define KF_OFF_VERSION   8
#define KF_OFF_PROT      9
#define KF_OFF_PK        10
#define KF_OFF_OPS       42
#define KF_OFF_MEM       50
#define KF_OFF_SALT      58
#define KF_OFF_NONCE     74
#define KF_OFF_CT        98
#define KF_VERSION       1
#define KF_PROT_NONE     0
#define KF_PROT_ARGON2ID 1

int rumor_crypto_init(void)
{
    return sodium_init() < 0 ? RUMOR_ERR_CRYPTO : RUMOR_OK;
}

void *rumor_secret_alloc(size_t len)
{
    return sodium_malloc(len);
}

void rumor_secret_free(void *p)
{
    sodium_free(p);
}

void rumor_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

bool rumor_secret_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

int rumor_identity_from_seed(const uint8_t seed[RUMOR_SEED_BYTES], rumor_identity_t **out)
{
    rumor_identity_t *id = calloc(1, sizeof *id);
    if (!id) return RUMOR_ERR_NOMEM;
    id->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    id->xsk = sodium_malloc(crypto_scalarmult_curve25519_BYTES);
    id->stk = sodium_malloc(crypto_secretbox_KEYBYTES);
    if (!id->sk || !id->xsk || !id->stk) {
        rumor_identity_destroy(&id);
        return RUMOR_ERR_NOMEM;
    }
    crypto_sign_seed_keypair(id->pk, id->sk, seed);
    if (crypto_sign_ed25519_sk_to_curve25519(id->xsk, id->sk) != 0) {
        rumor_identity_destroy(&id);
        return RUMOR_ERR_CRYPTO;
    }
    crypto_kdf_derive_from_key(id->stk, crypto_secretbox_KEYBYTES, 1, "rumorsto", seed);
    *out = id;
    return RUMOR_OK;
}

int rumor_identity_generate(rumor_identity_t **out)
{
    uint8_t *seed = sodium_malloc(RUMOR_SEED_BYTES);
    if (!seed) return RUMOR_ERR_NOMEM;
    randombytes_buf(seed, RUMOR_SEED_BYTES);
    int rc = rumor_identity_from_seed(seed, out);
    sodium_free(seed); /* sodium_free wipes before freeing */
    return rc;
}

void rumor_identity_destroy(rumor_identity_t **idp)
{
    if (!idp || !*idp) return;
    rumor_identity_t *id = *idp;
    sodium_free(id->sk);
    sodium_free(id->xsk);
    sodium_free(id->stk);
    sodium_memzero(id, sizeof *id);
    free(id);
    *idp = NULL;
}

int rumor_identity_delegated(const uint8_t pk[RUMOR_ID_BYTES], const rumor_agent_t *agent,
                             void *ctx, rumor_identity_t **out)
{
    if (!agent || !agent->sign || !agent->seal_open || !agent->key_open || !agent->key_seal)
        return RUMOR_ERR_INVALID;
    rumor_identity_t *id = calloc(1, sizeof *id);
    if (!id) return RUMOR_ERR_NOMEM;
    memcpy(id->pk, pk, RUMOR_ID_BYTES);
    id->agent = agent;
    id->agent_ctx = ctx;
    *out = id;
    return RUMOR_OK;
}

bool rumor_identity_is_delegated(const rumor_identity_t *id)
{
    return id->agent != NULL;
}

const uint8_t *rumor_identity_public(const rumor_identity_t *id)
{
    return id->pk;
}

int rumor_identity_seed(const rumor_identity_t *id, uint8_t seed[RUMOR_SEED_BYTES])
{
    if (!id->sk) return RUMOR_ERR_PASSPHRASE; /* delegated: the seed stays with the agent */
    memcpy(seed, id->sk, RUMOR_SEED_BYTES);   /* sk starts with the seed */
    return RUMOR_OK;
}

const uint8_t *rumor_identity_curve_secret(const rumor_identity_t *id)
{
    return id->xsk;
}

int rumor_curve_public(uint8_t out[32], const uint8_t pk[RUMOR_ID_BYTES])
{
    return crypto_sign_ed25519_pk_to_curve25519(out, pk) == 0 ? RUMOR_OK : RUMOR_ERR_INVALID;
}

int rumor_identity_sign(const rumor_identity_t *id, uint8_t sig[RUMOR_SIG_BYTES],
                        const uint8_t *msg, size_t len)
{
    if (id->agent) return id->agent->sign(id->agent_ctx, sig, msg, len);
    crypto_sign_detached(sig, NULL, msg, len, id->sk);
    return RUMOR_OK;
}

/* ---- key files ---------------------------------------------------------- */

int rumor_keyfile_seal(const rumor_identity_t *id, const char *pass, size_t pass_len,
                       uint64_t opslimit, uint64_t memlimit, uint8_t out[RUMOR_KEYFILE_BYTES])
{
    memset(out, 0, RUMOR_KEYFILE_BYTES);
    if (!id->sk) return RUMOR_ERR_PASSPHRASE; /* delegated: the seed stays with the agent */
    memcpy(out, RUMOR_KEYFILE_MAGIC, 8);
    out[KF_OFF_VERSION] = KF_VERSION;
    memcpy(out + KF_OFF_PK, id->pk, RUMOR_ID_BYTES);
    if (!pass) {
        out[KF_OFF_PROT] = KF_PROT_NONE;
        memcpy(out + KF_OFF_CT, id->sk, RUMOR_SEED_BYTES); /* sk starts with the seed */
        return RUMOR_OK;
    }
    if (!opslimit) opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    if (!memlimit) memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    out[KF_OFF_PROT] = KF_PROT_ARGON2ID;
    rumor_put_u64(out + KF_OFF_OPS, opslimit);
    rumor_put_u64(out + KF_OFF_MEM, memlimit);
    randombytes_buf(out + KF_OFF_SALT, crypto_pwhash_SALTBYTES);
    randombytes_buf(out + KF_OFF_NONCE, RUMOR_NONCE_BYTES);

    int rc = RUMOR_OK;
    uint8_t *kek = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    if (!kek) return RUMOR_ERR_NOMEM;
    if (crypto_pwhash(kek, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, pass_len,
                      out + KF_OFF_SALT, opslimit, (size_t)memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        rc = RUMOR_ERR_NOMEM; /* Argon2 fails only when it cannot get its memory */
        goto out;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + KF_OFF_CT, NULL, id->sk, RUMOR_SEED_BYTES, out,
                                               KF_OFF_CT, NULL, out + KF_OFF_NONCE, kek);
out:
    sodium_free(kek);
    return rc;
}

int rumor_keyfile_inspect(const uint8_t *buf, size_t len, uint8_t pk[RUMOR_ID_BYTES],
                          bool *is_protected)
{
    if (len != RUMOR_KEYFILE_BYTES || memcmp(buf, RUMOR_KEYFILE_MAGIC, 8) != 0 ||
        buf[KF_OFF_VERSION] != KF_VERSION)
        return RUMOR_ERR_MALFORMED;
    uint8_t prot = buf[KF_OFF_PROT];
    uint64_t ops = rumor_get_u64(buf + KF_OFF_OPS), mem = rumor_get_u64(buf + KF_OFF_MEM);
    if (prot == KF_PROT_NONE) {
        /* Unprotected: every field but the seed is zero, so one file has one meaning. */
        if (ops || mem || !rumor_is_zero(buf + KF_OFF_SALT, KF_OFF_CT - KF_OFF_SALT) ||
            !rumor_is_zero(buf + KF_OFF_CT + RUMOR_SEED_BYTES, RUMOR_MAC_BYTES))
            return RUMOR_ERR_MALFORMED;
    } else if (prot == KF_PROT_ARGON2ID) {
        if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
            mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
            return RUMOR_ERR_MALFORMED;
    } else {
        return RUMOR_ERR_MALFORMED;
    }
    if (pk) memcpy(pk, buf + KF_OFF_PK, RUMOR_ID_BYTES);
    if (is_protected) *is_protected = prot == KF_PROT_ARGON2ID;
    return RUMOR_OK;
}

int rumor_keyfile_open(const uint8_t *buf, size_t len, const char *pass, size_t pass_len,
                       rumor_identity_t **out)
{
    bool prot;
    int rc = rumor_keyfile_inspect(buf, len, NULL, &prot);
    if (rc < 0) return rc;
    uint8_t *seed = sodium_malloc(RUMOR_SEED_BYTES);
    uint8_t *kek = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    rumor_identity_t *id = NULL;
    if (!seed || !kek) {
        rc = RUMOR_ERR_NOMEM;
        goto out;
    }
    if (!prot) {
        memcpy(seed, buf + KF_OFF_CT, RUMOR_SEED_BYTES);
    } else {
        if (!pass) {
            rc = RUMOR_ERR_PASSPHRASE;
            goto out;
        }
        if (crypto_pwhash(kek, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, pass_len,
                          buf + KF_OFF_SALT, rumor_get_u64(buf + KF_OFF_OPS),
                          (size_t)rumor_get_u64(buf + KF_OFF_MEM),
                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
            rc = RUMOR_ERR_NOMEM;
            goto out;
        }
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(seed, NULL, NULL, buf + KF_OFF_CT,
                                                       RUMOR_SEED_BYTES + RUMOR_MAC_BYTES, buf,
                                                       KF_OFF_CT, buf + KF_OFF_NONCE, kek) != 0) {
            rc = RUMOR_ERR_PASSPHRASE;
            goto out;
        }
    }
    rc = rumor_identity_from_seed(seed, &id);
    if (rc < 0) goto out;
    if (sodium_memcmp(id->pk, buf + KF_OFF_PK, RUMOR_ID_BYTES) != 0) {
        rumor_identity_destroy(&id);
        rc = RUMOR_ERR_MALFORMED;
        goto out;
    }
    *out = id;
out:
    sodium_free(seed);
    sodium_free(kek);
    return rc;
}

/* ---- hashing, keys, boxes ---------------------------------------------- */

void rumor_crypto_hash(uint8_t out[RUMOR_ID_BYTES], const uint8_t *in, size_t len)
{
    crypto_generichash(out, RUMOR_ID_BYTES, in, len, NULL, 0);
}

void rumor_crypto_mac(uint8_t out[RUMOR_ID_BYTES], const uint8_t key[RUMOR_ID_BYTES],
                      const uint8_t *in, size_t len)
{
    crypto_generichash(out, RUMOR_ID_BYTES, in, len, key, RUMOR_ID_BYTES);
}

void rumor_crypto_random(uint8_t *buf, size_t len)
{
    randombytes_buf(buf, len);
}

void rumor_room_key_generate(uint8_t key[RUMOR_ROOM_KEY_BYTES])
{
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
}

void rumor_room_key_id(uint8_t out[RUMOR_KEY_ID_BYTES], const uint8_t key[RUMOR_ROOM_KEY_BYTES])
{
    static const char label[] = "rumor-key-id";
    uint8_t h[RUMOR_ID_BYTES];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_generichash_update(&st, key, RUMOR_ROOM_KEY_BYTES);
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(out, h, RUMOR_KEY_ID_BYTES);
    sodium_memzero(&st, sizeof st);
}

int rumor_box_seal(uint8_t *out, size_t cap, size_t *out_len,
                   const uint8_t key[RUMOR_ROOM_KEY_BYTES], const uint8_t *ad, size_t ad_len,
                   const uint8_t *pt, size_t pt_len)
{
    if (cap < RUMOR_BOX_OVERHEAD || cap - RUMOR_BOX_OVERHEAD < pt_len) return RUMOR_ERR_TOO_BIG;
    rumor_room_key_id(out, key);
    uint8_t *nonce = out + RUMOR_KEY_ID_BYTES;
    randombytes_buf(nonce, RUMOR_NONCE_BYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + RUMOR_NONCE_BYTES, &clen, pt, pt_len, ad,
                                               ad_len, NULL, nonce, key);
    *out_len = RUMOR_KEY_ID_BYTES + RUMOR_NONCE_BYTES + (size_t)clen;
    return RUMOR_OK;
}

int rumor_box_key_id(const uint8_t *box, size_t box_len, uint8_t key_id[RUMOR_KEY_ID_BYTES])
{
    if (box_len < RUMOR_BOX_OVERHEAD) return RUMOR_ERR_MALFORMED;
    memcpy(key_id, box, RUMOR_KEY_ID_BYTES);
    return RUMOR_OK;
}

int rumor_box_open(uint8_t *pt, size_t *pt_len, const uint8_t key[RUMOR_ROOM_KEY_BYTES],
                   const uint8_t *ad, size_t ad_len, const uint8_t *box, size_t box_len)
{
    if (box_len < RUMOR_BOX_OVERHEAD) return RUMOR_ERR_MALFORMED;
    const uint8_t *nonce = box + RUMOR_KEY_ID_BYTES;
    const uint8_t *ct = nonce + RUMOR_NONCE_BYTES;
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL, ct,
                                                   box_len - RUMOR_KEY_ID_BYTES - RUMOR_NONCE_BYTES,
                                                   ad, ad_len, nonce, key) != 0)
        return RUMOR_ERR_DECRYPT;
    *pt_len = (size_t)plen;
    return RUMOR_OK;
}

int rumor_seal_to(uint8_t *out, const uint8_t pk[RUMOR_ID_BYTES], const uint8_t *msg, size_t len)
{
    uint8_t xpk[crypto_box_PUBLICKEYBYTES];
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, pk) != 0) return RUMOR_ERR_INVALID;
    if (crypto_box_seal(out, msg, len, xpk) != 0) return RUMOR_ERR_CRYPTO;
    return RUMOR_OK;
}

int rumor_seal_open(uint8_t *out, const rumor_identity_t *id, const uint8_t *sealed,
                    size_t sealed_len)
{
    uint8_t xpk[crypto_box_PUBLICKEYBYTES];
    if (sealed_len < RUMOR_SEAL_OVERHEAD) return RUMOR_ERR_MALFORMED;
    if (id->agent) return id->agent->seal_open(id->agent_ctx, out, sealed, sealed_len);
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, id->pk) != 0) return RUMOR_ERR_CRYPTO;
    if (crypto_box_seal_open(out, sealed, sealed_len, xpk, id->xsk) != 0) return RUMOR_ERR_DECRYPT;
    return RUMOR_OK;
}

int rumor_key_at_rest_seal(uint8_t out[RUMOR_KEY_AT_REST_BYTES], const rumor_identity_t *id,
                           const uint8_t key[RUMOR_ROOM_KEY_BYTES])
{
    if (id->agent) return id->agent->key_seal(id->agent_ctx, out, key);
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, key, RUMOR_ROOM_KEY_BYTES, out,
                          id->stk);
    return RUMOR_OK;
}

int rumor_key_at_rest_open(uint8_t key[RUMOR_ROOM_KEY_BYTES], const rumor_identity_t *id,
                           const uint8_t *sealed, size_t sealed_len)
{
    if (sealed_len != RUMOR_KEY_AT_REST_BYTES) return RUMOR_ERR_MALFORMED;
    if (id->agent) return id->agent->key_open(id->agent_ctx, key, sealed, sealed_len);
    if (crypto_secretbox_open_easy(key, sealed + crypto_secretbox_NONCEBYTES,
                                   sealed_len - crypto_secretbox_NONCEBYTES, sealed, id->stk) != 0)
        return RUMOR_ERR_DECRYPT;
    return RUMOR_OK;
}
