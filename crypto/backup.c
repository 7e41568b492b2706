/* backup.c - the backup file: identity, room keys and contacts under a passphrase (PROTOCOL.md
 * 5.4). */
#include "crypto_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define BK_OFF_VERSION 8
#define BK_OFF_PK      9
#define BK_OFF_OPS     41
#define BK_OFF_MEM     49
#define BK_OFF_SALT    57
#define BK_OFF_NONCE   73
#define BK_VERSION     1
/* epoch | key_id | key */
#define BK_KEY_ENTRY (4 + RUMOR_KEY_ID_BYTES + RUMOR_ROOM_KEY_BYTES)
/* room | n_keys */
#define BK_DOMAIN_FIXED (RUMOR_ID_BYTES + 2)
/* pk | name_len, then at least one byte of name */
#define BK_CONTACT_MIN (RUMOR_ID_BYTES + 1 + 1)

struct rumor_backup {
    uint8_t (*domains)[RUMOR_ID_BYTES]; /* malloc'd key rooms (ids are not secret) */
    size_t n_domains, cap_domains;      /* used and allocated entries */
    rumor_backup_key_t *keys;           /* sodium_malloc'd: the room keys */
    size_t n_keys, cap_keys;            /* used and allocated entries */
    rumor_backup_contact_t *contacts;   /* malloc'd petnames */
    size_t n_contacts, cap_contacts;    /* used and allocated entries */
};

int rumor_backup_new(rumor_backup_t **out)
{
    rumor_backup_t *b = calloc(1, sizeof *b);
    if (!b) return RUMOR_ERR_NOMEM;
    *out = b;
    return RUMOR_OK;
}

void rumor_backup_destroy(rumor_backup_t **bp)
{
    if (!bp || !*bp) return;
    rumor_backup_t *b = *bp;
    free(b->domains);
    sodium_free(b->keys); /* wipes the keys */
    free(b->contacts);
    free(b);
    *bp = NULL;
}

/* Room for one more entry in a malloc'd array of `size`-byte entries. */
static int grow(void **arr, size_t *cap, size_t n, size_t size, size_t max)
{
    if (n < *cap) return RUMOR_OK;
    if (n >= max) return RUMOR_ERR_TOO_BIG;
    size_t ncap = *cap ? 2 * *cap : 16;
    if (ncap > max) ncap = max;
    void *p = realloc(*arr, ncap * size);
    if (!p) return RUMOR_ERR_NOMEM;
    *arr = p;
    *cap = ncap;
    return RUMOR_OK;
}

/* The same for the keys, which live in secret memory (no realloc: copy, then wipe the old). */
static int grow_keys(rumor_backup_t *b)
{
    if (b->n_keys < b->cap_keys) return RUMOR_OK;
    if (b->n_keys >= RUMOR_BACKUP_KEYS_MAX) return RUMOR_ERR_TOO_BIG;
    size_t ncap = b->cap_keys ? 2 * b->cap_keys : 16;
    if (ncap > RUMOR_BACKUP_KEYS_MAX) ncap = RUMOR_BACKUP_KEYS_MAX;
    rumor_backup_key_t *k = sodium_malloc(ncap * sizeof *k);
    if (!k) return RUMOR_ERR_NOMEM;
    if (b->n_keys) memcpy(k, b->keys, b->n_keys * sizeof *k);
    sodium_free(b->keys);
    b->keys = k;
    b->cap_keys = ncap;
    return RUMOR_OK;
}

int rumor_backup_add_domain(rumor_backup_t *b, const uint8_t room[RUMOR_ID_BYTES])
{
    /* A domain's keys may come first; one added twice is kept once when encoded. */
    int rc = grow((void **)&b->domains, &b->cap_domains, b->n_domains, RUMOR_ID_BYTES,
                  (size_t)RUMOR_BACKUP_DOMAINS_MAX + RUMOR_BACKUP_KEYS_MAX);
    if (rc < 0) return rc;
    memcpy(b->domains[b->n_domains++], room, RUMOR_ID_BYTES);
    return RUMOR_OK;
}

int rumor_backup_add_key(rumor_backup_t *b, const uint8_t room[RUMOR_ID_BYTES], uint32_t epoch,
                         const uint8_t key[RUMOR_ROOM_KEY_BYTES])
{
    int rc = grow_keys(b);
    if (rc < 0) return rc;
    rumor_backup_key_t *k = &b->keys[b->n_keys];
    memcpy(k->room, room, RUMOR_ID_BYTES);
    k->epoch = epoch;
    memcpy(k->key, key, RUMOR_ROOM_KEY_BYTES);
    rumor_room_key_id(k->key_id, key);
    b->n_keys++;
    return rumor_backup_add_domain(b, room);
}

/* A contact name as 5.4 allows it: 1..RUMOR_BACKUP_NAME_MAX bytes of UTF-8, no controls. */
static bool name_valid(const uint8_t *name, size_t len)
{
    return len >= 1 && len <= RUMOR_BACKUP_NAME_MAX && rumor_utf8_valid_line(name, len);
}

int rumor_backup_add_contact(rumor_backup_t *b, const uint8_t pk[RUMOR_ID_BYTES], const char *name)
{
    size_t len = strlen(name);
    if (!name_valid((const uint8_t *)name, len)) return RUMOR_ERR_INVALID;
    int rc = grow((void **)&b->contacts, &b->cap_contacts, b->n_contacts, sizeof *b->contacts,
                  RUMOR_BACKUP_CONTACTS_MAX);
    if (rc < 0) return rc;
    rumor_backup_contact_t *c = &b->contacts[b->n_contacts++];
    memcpy(c->pk, pk, RUMOR_ID_BYTES);
    memcpy(c->name, name, len + 1);
    return RUMOR_OK;
}

size_t rumor_backup_domain_count(const rumor_backup_t *b)
{
    return b->n_domains;
}

const uint8_t *rumor_backup_domain(const rumor_backup_t *b, size_t i)
{
    return i < b->n_domains ? b->domains[i] : NULL;
}

size_t rumor_backup_key_count(const rumor_backup_t *b)
{
    return b->n_keys;
}

const rumor_backup_key_t *rumor_backup_key(const rumor_backup_t *b, size_t i)
{
    return i < b->n_keys ? &b->keys[i] : NULL;
}

size_t rumor_backup_contact_count(const rumor_backup_t *b)
{
    return b->n_contacts;
}

const rumor_backup_contact_t *rumor_backup_contact(const rumor_backup_t *b, size_t i)
{
    return i < b->n_contacts ? &b->contacts[i] : NULL;
}

/* ---- the payload ---------------------------------------------------------- */

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, RUMOR_ID_BYTES);
}

/* The order of 5.4: room, then epoch, then key id. */
static int key_cmp(const void *pa, const void *pb)
{
    const rumor_backup_key_t *a = pa, *b = pb;
    int c = memcmp(a->room, b->room, RUMOR_ID_BYTES);
    if (c) return c;
    if (a->epoch != b->epoch) return a->epoch < b->epoch ? -1 : 1;
    return memcmp(a->key_id, b->key_id, RUMOR_KEY_ID_BYTES);
}

/*
 * Puts the backup in the canonical order of 5.4, keeping one of each domain
 * and of each key (the same key added twice). Two contacts with one key are
 * RUMOR_ERR_INVALID: which name was meant cannot be known.
 */
static int canonicalise(rumor_backup_t *b)
{
    size_t n = 0;
    /* qsort of an empty (NULL) array is undefined: sort only what is there. */
    if (b->n_domains) qsort(b->domains, b->n_domains, RUMOR_ID_BYTES, id_cmp);
    for (size_t i = 0; i < b->n_domains; i++)
        if (n == 0 || memcmp(b->domains[n - 1], b->domains[i], RUMOR_ID_BYTES) != 0)
            memmove(b->domains[n++], b->domains[i], RUMOR_ID_BYTES);
    b->n_domains = n;
    if (b->n_keys) qsort(b->keys, b->n_keys, sizeof *b->keys, key_cmp);
    n = 0;
    for (size_t i = 0; i < b->n_keys; i++)
        if (n == 0 || key_cmp(&b->keys[n - 1], &b->keys[i]) != 0) {
            if (n != i) b->keys[n] = b->keys[i];
            n++;
        }
    for (size_t i = n; i < b->n_keys; i++) sodium_memzero(&b->keys[i], sizeof b->keys[i]);
    b->n_keys = n;
    if (b->n_contacts) qsort(b->contacts, b->n_contacts, sizeof *b->contacts, id_cmp);
    for (size_t i = 1; i < b->n_contacts; i++)
        if (memcmp(b->contacts[i - 1].pk, b->contacts[i].pk, RUMOR_ID_BYTES) == 0)
            return RUMOR_ERR_INVALID;
    if (b->n_domains > RUMOR_BACKUP_DOMAINS_MAX) return RUMOR_ERR_TOO_BIG;
    return RUMOR_OK;
}

/* The payload's length; the backup must be canonical. */
static size_t payload_len(const rumor_backup_t *b)
{
    size_t len =
        RUMOR_SEED_BYTES + 2 + b->n_domains * BK_DOMAIN_FIXED + b->n_keys * BK_KEY_ENTRY + 2;
    for (size_t i = 0; i < b->n_contacts; i++)
        len += RUMOR_ID_BYTES + 1 + strlen(b->contacts[i].name);
    return len;
}

int rumor_backup_encode(rumor_backup_t *b, const rumor_identity_t *id, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    int rc = canonicalise(b);
    if (rc < 0) return rc;
    size_t len = payload_len(b);
    if (len > cap) return RUMOR_ERR_TOO_BIG;
    uint8_t *p = out;
    if ((rc = rumor_identity_seed(id, p)) < 0) return rc;
    p += RUMOR_SEED_BYTES;
    rumor_put_u16(p, (uint16_t)b->n_domains);
    p += 2;
    size_t k = 0;
    for (size_t d = 0; d < b->n_domains; d++) {
        size_t first = k;
        while (k < b->n_keys && memcmp(b->keys[k].room, b->domains[d], RUMOR_ID_BYTES) == 0) k++;
        /* add_key adds its domain too, so keys and domains walk in step. */
        if (k - first > UINT16_MAX) return RUMOR_ERR_TOO_BIG;
        memcpy(p, b->domains[d], RUMOR_ID_BYTES);
        rumor_put_u16(p + RUMOR_ID_BYTES, (uint16_t)(k - first));
        p += BK_DOMAIN_FIXED;
        for (size_t i = first; i < k; i++) {
            rumor_put_u32(p, b->keys[i].epoch);
            memcpy(p + 4, b->keys[i].key_id, RUMOR_KEY_ID_BYTES);
            memcpy(p + 4 + RUMOR_KEY_ID_BYTES, b->keys[i].key, RUMOR_ROOM_KEY_BYTES);
            p += BK_KEY_ENTRY;
        }
    }
    if (k != b->n_keys) return RUMOR_ERR_INVALID; /* a key whose domain was not listed */
    rumor_put_u16(p, (uint16_t)b->n_contacts);
    p += 2;
    for (size_t i = 0; i < b->n_contacts; i++) {
        size_t nl = strlen(b->contacts[i].name);
        memcpy(p, b->contacts[i].pk, RUMOR_ID_BYTES);
        p[RUMOR_ID_BYTES] = (uint8_t)nl;
        memcpy(p + RUMOR_ID_BYTES + 1, b->contacts[i].name, nl);
        p += RUMOR_ID_BYTES + 1 + nl;
    }
    *out_len = (size_t)(p - out);
    return RUMOR_OK;
}

/*
 * One pass over a payload after the seed. With b == NULL it only checks and
 * counts (*n_keys); with b it fills b, whose arrays the first pass sized.
 * Every read is bounds-checked; every count is checked against the bytes that
 * remain before it is used.
 */
static int parse_payload(rumor_reader_t *r, rumor_backup_t *b, size_t *n_keys)
{
    const uint8_t *p, *prev_room = NULL;
    size_t keys = 0;
    if (!(p = rumor_take(r, 2))) return RUMOR_ERR_MALFORMED;
    size_t n_domains = rumor_get_u16(p);
    if (n_domains > RUMOR_BACKUP_DOMAINS_MAX || n_domains > r->left / BK_DOMAIN_FIXED)
        return RUMOR_ERR_MALFORMED;
    for (size_t d = 0; d < n_domains; d++) {
        const uint8_t *room = rumor_take(r, RUMOR_ID_BYTES);
        const uint8_t *np = rumor_take(r, 2);
        if (!room || !np) return RUMOR_ERR_MALFORMED;
        if (prev_room && memcmp(prev_room, room, RUMOR_ID_BYTES) >= 0) return RUMOR_ERR_MALFORMED;
        prev_room = room;
        size_t nk = rumor_get_u16(np);
        if (nk > r->left / BK_KEY_ENTRY || nk > RUMOR_BACKUP_KEYS_MAX - keys)
            return RUMOR_ERR_MALFORMED;
        if (b) memcpy(b->domains[b->n_domains++], room, RUMOR_ID_BYTES);
        const uint8_t *prev = NULL;
        for (size_t i = 0; i < nk; i++) {
            const uint8_t *e = rumor_take(r, BK_KEY_ENTRY);
            uint8_t kid[RUMOR_KEY_ID_BYTES];
            if (!e) return RUMOR_ERR_MALFORMED;
            /* Strictly ascending by (epoch, key id): the 12 bytes compare as one big number. */
            if (prev && memcmp(prev, e, 4 + RUMOR_KEY_ID_BYTES) >= 0) return RUMOR_ERR_MALFORMED;
            prev = e;
            rumor_room_key_id(kid, e + 4 + RUMOR_KEY_ID_BYTES);
            if (memcmp(kid, e + 4, RUMOR_KEY_ID_BYTES) != 0) return RUMOR_ERR_MALFORMED;
            if (b) {
                rumor_backup_key_t *k = &b->keys[b->n_keys++];
                memcpy(k->room, room, RUMOR_ID_BYTES);
                k->epoch = rumor_get_u32(e);
                memcpy(k->key_id, e + 4, RUMOR_KEY_ID_BYTES);
                memcpy(k->key, e + 4 + RUMOR_KEY_ID_BYTES, RUMOR_ROOM_KEY_BYTES);
            }
        }
        keys += nk;
    }
    if (!(p = rumor_take(r, 2))) return RUMOR_ERR_MALFORMED;
    size_t n_contacts = rumor_get_u16(p);
    if (n_contacts > RUMOR_BACKUP_CONTACTS_MAX || n_contacts > r->left / BK_CONTACT_MIN)
        return RUMOR_ERR_MALFORMED;
    const uint8_t *prev_pk = NULL;
    for (size_t i = 0; i < n_contacts; i++) {
        const uint8_t *pk = rumor_take(r, RUMOR_ID_BYTES), *nl = rumor_take(r, 1), *name;
        if (!pk || !nl || !(name = rumor_take(r, *nl))) return RUMOR_ERR_MALFORMED;
        if (prev_pk && memcmp(prev_pk, pk, RUMOR_ID_BYTES) >= 0) return RUMOR_ERR_MALFORMED;
        prev_pk = pk;
        if (!name_valid(name, *nl)) return RUMOR_ERR_MALFORMED;
        if (b) {
            rumor_backup_contact_t *c = &b->contacts[b->n_contacts++];
            memcpy(c->pk, pk, RUMOR_ID_BYTES);
            memcpy(c->name, name, *nl);
            c->name[*nl] = '\0';
        }
    }
    if (r->left) return RUMOR_ERR_MALFORMED;
    *n_keys = keys;
    return RUMOR_OK;
}

/* Sizes the arrays of an empty backup for what the first pass counted. */
static int size_backup(rumor_backup_t *b, size_t n_domains, size_t n_keys, size_t n_contacts)
{
    /* One entry at least, so that an empty backup still holds valid pointers. */
    b->domains = malloc((n_domains ? n_domains : 1) * RUMOR_ID_BYTES);
    b->keys = sodium_malloc((n_keys ? n_keys : 1) * sizeof *b->keys);
    b->contacts = malloc((n_contacts ? n_contacts : 1) * sizeof *b->contacts);
    if (!b->domains || !b->keys || !b->contacts) return RUMOR_ERR_NOMEM;
    b->cap_domains = n_domains ? n_domains : 1;
    b->cap_keys = n_keys ? n_keys : 1;
    b->cap_contacts = n_contacts ? n_contacts : 1;
    return RUMOR_OK;
}

int rumor_backup_decode(const uint8_t *buf, size_t len, const uint8_t pk[RUMOR_ID_BYTES],
                        rumor_identity_t **id_out, rumor_backup_t **out)
{
    rumor_reader_t r = {buf, len};
    rumor_identity_t *id = NULL;
    rumor_backup_t *b = NULL;
    size_t n_keys = 0;
    const uint8_t *seed = rumor_take(&r, RUMOR_SEED_BYTES);
    int rc = seed ? parse_payload(&r, NULL, &n_keys) : RUMOR_ERR_MALFORMED;
    if (rc < 0) goto out;
    /* Checked: the counts are the first bytes after the seed, and every later one was too. */
    size_t n_domains = rumor_get_u16(buf + RUMOR_SEED_BYTES);
    size_t off = RUMOR_SEED_BYTES + 2;
    for (size_t d = 0; d < n_domains; d++)
        off += BK_DOMAIN_FIXED + rumor_get_u16(buf + off + RUMOR_ID_BYTES) * BK_KEY_ENTRY;
    size_t n_contacts = rumor_get_u16(buf + off);
    if ((rc = rumor_identity_from_seed(seed, &id)) < 0) goto out;
    if (pk && sodium_memcmp(rumor_identity_public(id), pk, RUMOR_ID_BYTES) != 0) {
        rc = RUMOR_ERR_MALFORMED;
        goto out;
    }
    if ((rc = rumor_backup_new(&b)) < 0) goto out;
    if ((rc = size_backup(b, n_domains, n_keys, n_contacts)) < 0) goto out;
    r = (rumor_reader_t){buf + RUMOR_SEED_BYTES, len - RUMOR_SEED_BYTES};
    if ((rc = parse_payload(&r, b, &n_keys)) < 0) goto out;
    *id_out = id;
    *out = b;
    id = NULL;
    b = NULL;
out:
    rumor_identity_destroy(&id);
    rumor_backup_destroy(&b);
    return rc;
}

/* ---- the sealed file -------------------------------------------------------- */

int rumor_backup_inspect(const uint8_t *buf, size_t len, uint8_t pk[RUMOR_ID_BYTES])
{
    if (len < RUMOR_BACKUP_MIN || len > RUMOR_BACKUP_MAX ||
        memcmp(buf, RUMOR_BACKUP_MAGIC, 8) != 0 || buf[BK_OFF_VERSION] != BK_VERSION)
        return RUMOR_ERR_MALFORMED;
    uint64_t ops = rumor_get_u64(buf + BK_OFF_OPS), mem = rumor_get_u64(buf + BK_OFF_MEM);
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
        return RUMOR_ERR_MALFORMED;
    if (pk) memcpy(pk, buf + BK_OFF_PK, RUMOR_ID_BYTES);
    return RUMOR_OK;
}

/* The key that seals a backup: Argon2id of the passphrase and the header's salt and limits. */
static int backup_kek(uint8_t *kek, const uint8_t *hdr, const char *pass, size_t pass_len)
{
    if (crypto_pwhash(kek, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, pass_len,
                      hdr + BK_OFF_SALT, rumor_get_u64(hdr + BK_OFF_OPS),
                      (size_t)rumor_get_u64(hdr + BK_OFF_MEM), crypto_pwhash_ALG_ARGON2ID13) != 0)
        return RUMOR_ERR_NOMEM; /* Argon2 fails only when it cannot get its memory */
    return RUMOR_OK;
}

int rumor_backup_seal(rumor_backup_t *b, const rumor_identity_t *id, const char *pass,
                      size_t pass_len, uint64_t opslimit, uint64_t memlimit, uint8_t **out,
                      size_t *out_len)
{
    uint8_t *pt = NULL, *kek = NULL, *file = NULL;
    size_t pt_len = 0;
    if (!pass) return RUMOR_ERR_INVALID;
    if (!opslimit) opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    if (!memlimit) memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    int rc = canonicalise(b);
    if (rc < 0) return rc;
    size_t cap = payload_len(b);
    if (cap > RUMOR_BACKUP_MAX - RUMOR_BACKUP_HEADER_BYTES - RUMOR_MAC_BYTES)
        return RUMOR_ERR_TOO_BIG;
    pt = sodium_malloc(cap);
    kek = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    file = malloc(RUMOR_BACKUP_HEADER_BYTES + cap + RUMOR_MAC_BYTES);
    if (!pt || !kek || !file) {
        rc = RUMOR_ERR_NOMEM;
        goto out;
    }
    if ((rc = rumor_backup_encode(b, id, pt, cap, &pt_len)) < 0) goto out;
    memcpy(file, RUMOR_BACKUP_MAGIC, 8);
    file[BK_OFF_VERSION] = BK_VERSION;
    memcpy(file + BK_OFF_PK, rumor_identity_public(id), RUMOR_ID_BYTES);
    rumor_put_u64(file + BK_OFF_OPS, opslimit);
    rumor_put_u64(file + BK_OFF_MEM, memlimit);
    randombytes_buf(file + BK_OFF_SALT, crypto_pwhash_SALTBYTES);
    randombytes_buf(file + BK_OFF_NONCE, RUMOR_NONCE_BYTES);
    /* The encoder refuses what the reader refuses, limits included. */
    if ((rc = rumor_backup_inspect(file, RUMOR_BACKUP_HEADER_BYTES + pt_len + RUMOR_MAC_BYTES,
                                   NULL)) < 0) {
        rc = RUMOR_ERR_INVALID;
        goto out;
    }
    if ((rc = backup_kek(kek, file, pass, pass_len)) < 0) goto out;
    crypto_aead_xchacha20poly1305_ietf_encrypt(file + RUMOR_BACKUP_HEADER_BYTES, NULL, pt, pt_len,
                                               file, RUMOR_BACKUP_HEADER_BYTES, NULL,
                                               file + BK_OFF_NONCE, kek);
    *out = file;
    *out_len = RUMOR_BACKUP_HEADER_BYTES + pt_len + RUMOR_MAC_BYTES;
    file = NULL;
out:
    sodium_free(pt);
    sodium_free(kek);
    free(file);
    return rc;
}

int rumor_backup_open(const uint8_t *buf, size_t len, const char *pass, size_t pass_len,
                      rumor_identity_t **id, rumor_backup_t **out)
{
    uint8_t pk[RUMOR_ID_BYTES];
    int rc = rumor_backup_inspect(buf, len, pk);
    if (rc < 0) return rc;
    if (!pass) return RUMOR_ERR_PASSPHRASE;
    size_t pt_len = len - RUMOR_BACKUP_HEADER_BYTES - RUMOR_MAC_BYTES;
    uint8_t *pt = sodium_malloc(pt_len);
    uint8_t *kek = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    if (!pt || !kek) {
        rc = RUMOR_ERR_NOMEM;
        goto out;
    }
    if ((rc = backup_kek(kek, buf, pass, pass_len)) < 0) goto out;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, NULL, NULL, buf + RUMOR_BACKUP_HEADER_BYTES, len - RUMOR_BACKUP_HEADER_BYTES, buf,
            RUMOR_BACKUP_HEADER_BYTES, buf + BK_OFF_NONCE, kek) != 0) {
        rc = RUMOR_ERR_PASSPHRASE;
        goto out;
    }
    rc = rumor_backup_decode(pt, pt_len, pk, id, out);
out:
    sodium_free(pt);
    sodium_free(kek);
    return rc;
}
