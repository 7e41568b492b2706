/*
 * fuzz_fold.c - libFuzzer target for membership and the room tree under
 * concurrency (PROTOCOL.md 7): admission in gossip/ingest.c, then the
 * per-domain fold with strong removal in gossip/fold.c.
 *
 * The input is a script. Four authors (fixed-seed identities) each own a
 * real LMDB store; a fifth identity, the outsider, never signs and is only
 * ever named. Before the script, author 0 creates a top-level room (room 0).
 * Each operation then makes one event by one author, or lets authors sync.
 * Every event goes through rumor_gossip_ingest, first on its author's store
 * (with the author as `self`, so grants and rotations are opened); an event
 * that store refuses is kept anyway, as a hostile peer would send it.
 *
 * Script layout, one operation after another (a missing byte reads as 0):
 *   op[1]: author = op & 3; kind = (op >> 2) % KIND_COUNT.
 *   SYNC:     from[1]: the author takes what `from & 3` holds (itself: all).
 *   SYNC_ALL: every author takes everything any author holds.
 *   an event: room[1] ‖ pmode[1] ‖ [picks] ‖ type bytes.
 *     room: a room made so far, index (room & 0x7f) mod count. Membership
 *       and KEY_EPOCH events go to that room's key domain as the author's
 *       store sees it, or with room & 0x80 to the room itself.
 *     pmode & 0x80 clear: parents are the domain's heads in the author's
 *       store (rumor_gossip_next_parents; no op when it lacks the room).
 *     pmode & 0x80 set: 1 + (pmode & 3) pick bytes follow, each choosing a
 *       parent among the events the author's store holds in the domain (with
 *       pmode & 0x40: among every event made); lamport is 1 + their largest.
 *       Back-dated and concurrent events come from here.
 *   MESSAGE, ROOM_RENAME, ROOM_TOPIC: no more bytes.
 *   ROOM_CREATE: flags[1]: bit 0 private, bit 1 top-level (room ignored).
 *   ROOM_MOVE:   target[1]: 0xff zero (top level), 0xfe an unknown id, 0xfd
 *                the newest event's id (not a room), else a room by index.
 *   MEMBER_ADD:  member[1] ‖ role[1]; MEMBER_ROLE the same; MEMBER_REMOVE
 *                member[1]. member & 7: 0-3 an author, 4 the outsider, 5-7
 *                author member & 3; MEMBER_ADD with member & 0x80 carries no
 *                grant (else one grant of epoch 0). role: role & 3 (0 and 3 are
 *                malformed), or the raw byte when role & 0x80.
 *   KEY_EPOCH:   epoch[1] ‖ mask[1]. epoch >> 6: 0 the current epoch + 1
 *                (as the author's store sees it), 1 the current one, 2 the
 *                current + 2, 3 the raw value epoch & 0x3f. mask & 0x20: sealed
 *                to the members the author's store shows; else to the authors
 *                of bits 0-3. mask & 0x10 adds the outsider.
 *
 * After the script, checked (abort on violation, so libFuzzer keeps the input):
 *   1. ingest returns only RUMOR_OK, RUMOR_ERR_EXISTS or an invalid-event code;
 *   2. every event made, delivered to a fresh store in the order made and to
 *      another in reverse order (passes until nothing moves), gives the same
 *      digest: which events are stored; each room's record (parent, flags,
 *      name, topic and place registers, epoch, message count); the members of
 *      each room; for each room's log, its entries and which messages
 *      rumor_gossip_shown says are shown; and which rotations were announced;
 *   3. rumor_gossip_rebuild on the forward store changes nothing in it;
 *   4. each author's store, given every event it lacks, gives that digest too.
 * FUZZ_FOLD_TRACE=1 in the environment prints the script as it runs and the
 * digests compared.
 *
 * The six stores (four authors, two verifiers) are opened once. One input
 * runs inside one write transaction on each, all six nested, and every one is
 * rolled back at the end, so each input starts from empty stores and a saved
 * input reproduces alone. Everything random is deterministic and restarts
 * with each input (det_random_buf).
 */
#include "det_random.h"
#include "rumor_gossip.h"

#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

/* The libFuzzer interface. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The replay driver's interface (replay_main.c): hands over each built-in seed. */
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

#define AUTHORS   4
#define OUTSIDER  AUTHORS /* who[OUTSIDER]: named, never signs */
#define V_FORWARD AUTHORS /* store index of the verifier fed in the order made */
#define V_REVERSE (AUTHORS + 1)
#define STORES    (AUTHORS + 2)

#define POOL_MAX  96  /* events made by one input (the rest of the script is ignored) */
#define ROOMS_MAX 32  /* rooms a script can name */
#define OPS_MAX   192 /* operations read from one input */
#define PICKS_MAX 4   /* parents picked by hand */

/* A value no rumor function returns: the write callback's request to roll back. */
#define FUZZ_ROLLBACK (-1000)
/* The wall clock of the first event of an input (informative only). */
#define FUZZ_TS UINT64_C(1700000000000)
/* Room for the digest of one store: far more than POOL_MAX events can fill. */
#define DIGEST_MAX ((size_t)1 << 18)

enum {
    K_SYNC,
    K_SYNC_ALL,
    K_MESSAGE,
    K_CREATE,
    K_RENAME,
    K_MOVE,
    K_TOPIC,
    K_MEMBER_ADD,
    K_MEMBER_REMOVE,
    K_MEMBER_ROLE,
    K_KEY_EPOCH,
    KIND_COUNT
};

static const char *const kind_names[KIND_COUNT] = {
    "sync",  "sync-all", "message", "create", "rename",    "move",
    "topic", "add",      "remove",  "role",   "key-epoch",
};

/* Bits of the script bytes (see the layout above). */
#define PMODE_PICK       0x80
#define PMODE_ANY        0x40
#define ROOM_RAW         0x80
#define CREATE_PRIVATE   0x01
#define CREATE_TOP       0x02
#define TARGET_ZERO      0xff
#define TARGET_UNKNOWN   0xfe
#define TARGET_NEWEST    0xfd
#define MEMBER_NO_GRANT  0x80
#define ROLE_RAW         0x80
#define MASK_MEMBERS     0x20
#define MASK_OUTSIDER    0x10
#define EPOCH_MODE_SHIFT 6

/* One event made by the script. */
typedef struct {
    uint8_t *buf; /* malloc'd, exactly `len` bytes */
    size_t len;
    uint8_t id[ID];
    uint64_t lamport;
    uint8_t type;
    unsigned author;
} item_t;

/* Everything built once at start-up, and the scratch of one input. */
static struct {
    char dir[256];                      /* temporary directory holding the stores */
    char sub[STORES][272];              /* one directory per store */
    rumor_store_t *store[STORES];       /* authors 0-3, then the two verifiers */
    rumor_identity_t *who[AUTHORS + 1]; /* fixed-seed identities, the outsider last */
    uint8_t key[RUMOR_ROOM_KEY_BYTES];  /* the key of every box and grant */
    uint8_t unknown[ID];                /* an id nothing has */
    bool trace;                         /* FUZZ_FOLD_TRACE */
    /* One input. */
    rumor_txn_t *t[STORES]; /* the open write transaction of each store */
    const uint8_t *data;
    size_t size, pos;
    item_t pool[POOL_MAX];
    size_t n_pool;
    uint8_t rooms[ROOMS_MAX][ID];
    size_t n_rooms;
    uint64_t clock;
    uint32_t keys_made;
    int script_rc; /* what the innermost callback found */
    uint8_t body[RUMOR_EVENT_MAX];
    uint8_t encoded[RUMOR_EVENT_MAX];
    char digest[3][DIGEST_MAX];
    size_t digest_len[3];
} world;

/* Stops the run so libFuzzer records the input: a property of the fold was broken. */
static void fuzz_fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_fold: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

static void trace(const char *fmt, ...)
{
    if (!world.trace) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* ---- deterministic randomness ------------------------------------------- */

/* Randomness is deterministic (det_random.h), keyed by this target's name. */

/* ---- names for the trace and the digest ------------------------------------ */

/* "e12" for an event made by this input, else the first bytes in hex. */
static const char *ev_name(const uint8_t id[ID], char out[24])
{
    for (size_t i = 0; i < world.n_pool; i++)
        if (memcmp(world.pool[i].id, id, ID) == 0) {
            snprintf(out, 24, "e%zu", i);
            return out;
        }
    if (rumor_is_zero(id, ID)) return strcpy(out, "zero");
    out[0] = '#';
    rumor_hex_encode(out + 1, id, 4);
    return out;
}

/* "A0".."A3", "X" (the outsider), or hex. */
static const char *pk_name(const uint8_t pk[ID], char out[24])
{
    for (unsigned i = 0; i <= AUTHORS; i++)
        if (memcmp(rumor_identity_public(world.who[i]), pk, ID) == 0) {
            if (i == OUTSIDER) return strcpy(out, "X");
            snprintf(out, 24, "A%u", i);
            return out;
        }
    out[0] = '#';
    rumor_hex_encode(out + 1, pk, 4);
    return out;
}

/* ---- ingest and delivery ------------------------------------------------------ */

static bool is_invalid_rc(int rc)
{
    return rc == RUMOR_ERR_MALFORMED || rc == RUMOR_ERR_TOO_BIG || rc == RUMOR_ERR_BAD_SIGNATURE ||
           rc == RUMOR_ERR_MISSING_PARENT || rc == RUMOR_ERR_DENIED;
}

/* Property 1: an event offered to a healthy store is stored, a duplicate, or invalid. */
static int ingest(unsigned s, const item_t *it, const rumor_identity_t *self)
{
    int rc = rumor_gossip_ingest(world.t[s], self, it->buf, it->len, NULL, NULL);
    if (rc != RUMOR_OK && rc != RUMOR_ERR_EXISTS && !is_invalid_rc(rc)) {
        char n[24];
        fprintf(stderr, "fuzz_fold: ingest of %s into store %u\n", ev_name(it->id, n), s);
        fuzz_fail("ingest failed with a store error", rc);
    }
    return rc;
}

/* True when the store holds every parent of the item (else ingest would say MISSING_PARENT). */
static bool parents_present(unsigned s, const item_t *it)
{
    rumor_event_t ev;
    if (rumor_event_decode(it->buf, it->len, &ev) < 0) return true; /* ingest refuses it at once */
    for (unsigned i = 0; i < ev.n_parents; i++)
        if (!rumor_store_event_has(world.t[s], ev.parents + (size_t)i * ID)) return false;
    return true;
}

/*
 * Offers pool items to store `s` in the given order, in passes until a pass
 * stores nothing. To keep a reverse order cheap, a pass skips an item whose
 * parents are not all stored, and one refused as DENIED until a control event
 * was stored since; but the last pass offers every item left, so what ends
 * stored is exactly the fixpoint of plain passes.
 */
static size_t deliver(unsigned s, const size_t *order, size_t n, const rumor_identity_t *self)
{
    bool done[POOL_MAX] = {false};
    uint64_t denied_at[POOL_MAX], generation = 1;
    size_t total = 0;
    bool full = false;
    memset(denied_at, 0, sizeof denied_at);
    for (;;) {
        size_t progress = 0;
        for (size_t i = 0; i < n; i++) {
            if (done[i]) continue;
            const item_t *it = &world.pool[order[i]];
            if (!full && (denied_at[i] == generation || !parents_present(s, it))) continue;
            int rc = ingest(s, it, self);
            if (rc == RUMOR_OK || rc == RUMOR_ERR_EXISTS) {
                done[i] = true;
                progress++;
                if (rc == RUMOR_OK && it->type != RUMOR_EV_MESSAGE) generation++;
            } else if (rc == RUMOR_ERR_DENIED) {
                denied_at[i] = generation;
            }
        }
        total += progress;
        if (progress) {
            full = false;
        } else if (full) {
            break;
        } else {
            full = true;
        }
    }
    return total;
}

/* Author `a` takes the pool items store `from` holds and it does not. */
static void sync_from(unsigned a, unsigned from)
{
    size_t order[POOL_MAX] = {0}, n = 0;
    for (size_t i = 0; i < world.n_pool; i++)
        if (rumor_store_event_has(world.t[from], world.pool[i].id) &&
            !rumor_store_event_has(world.t[a], world.pool[i].id))
            order[n++] = i;
    size_t got = deliver(a, order, n, world.who[a]);
    if (n) trace("  A%u takes %zu of %zu from A%u\n", a, got, n, from);
}

/* ---- making events ------------------------------------------------------------ */

/* The next script byte, 0 past the end. */
static uint8_t take(void)
{
    return world.pos < world.size ? world.data[world.pos++] : 0;
}

static bool is_top_create(uint8_t type, const uint8_t room[ID])
{
    return type == RUMOR_EV_ROOM_CREATE && rumor_is_zero(room, ID);
}

/* Where an event of author `a` in `room` goes: its key domain in a's store, or the room. */
static void domain_of(unsigned a, const uint8_t room[ID], uint8_t domain[ID])
{
    if (rumor_gossip_key_domain(world.t[a], room, domain) < 0) memcpy(domain, room, ID);
}

/* How the parents of the next event are chosen. */
typedef struct {
    uint8_t mode;
    uint8_t picks[PICKS_MAX];
    unsigned n_picks;
} parents_t;

static void take_parents(parents_t *p)
{
    p->mode = take();
    p->n_picks = 0;
    if (p->mode & PMODE_PICK) {
        p->n_picks = 1 + (p->mode & 3u);
        for (unsigned i = 0; i < p->n_picks; i++) p->picks[i] = take();
    }
}

/*
 * Fills the draft's parents and lamport: the heads of the room's domain in
 * a's store, or picked events. False when there are none to name.
 */
static bool choose_parents(unsigned a, const uint8_t room[ID], const parents_t *p,
                           rumor_event_draft_t *d, uint8_t parents[RUMOR_MAX_PARENTS * ID])
{
    if (!(p->mode & PMODE_PICK))
        return rumor_gossip_next_parents(world.t[a], room, parents, &d->n_parents, &d->lamport) ==
               RUMOR_OK;
    size_t cand[POOL_MAX], n = 0;
    uint8_t domain[ID];
    domain_of(a, room, domain);
    for (size_t i = 0; i < world.n_pool; i++) {
        const item_t *it = &world.pool[i];
        if ((p->mode & PMODE_ANY) || memcmp(it->id, domain, ID) == 0 ||
            rumor_store_dlog_has(world.t[a], domain, it->lamport, it->id))
            cand[n++] = i;
    }
    if (n == 0)
        for (size_t i = 0; i < world.n_pool; i++) cand[n++] = i;
    uint64_t max = 0;
    d->n_parents = 0;
    for (unsigned k = 0; k < p->n_picks; k++) {
        const item_t *it = &world.pool[cand[p->picks[k] % n]];
        bool dup = false;
        for (unsigned j = 0; j < d->n_parents; j++)
            dup = dup || memcmp(parents + (size_t)j * ID, it->id, ID) == 0;
        if (dup) continue;
        memcpy(parents + (size_t)d->n_parents++ * ID, it->id, ID);
        if (it->lamport > max) max = it->lamport;
    }
    d->lamport = max + 1;
    return d->n_parents > 0;
}

/*
 * Signs an event of author `a`, adds it to the pool and offers it to a's
 * store. `text` (may be NULL) is sealed in a box after the `plain` bytes.
 */
static void make(unsigned a, uint8_t type, const uint8_t room[ID], const parents_t *p,
                 const uint8_t *plain, size_t plain_len, const void *text, size_t text_len)
{
    uint8_t parents[RUMOR_MAX_PARENTS * ID], ad[RUMOR_EVENT_AD_BYTES];
    rumor_event_draft_t d = {.type = type, .ts = world.clock++, .lamport = 1};
    char n1[24];
    memcpy(d.room, room, ID);
    if (world.n_pool == POOL_MAX) return;
    if (!is_top_create(type, room)) {
        if (!choose_parents(a, room, p, &d, parents)) {
            trace("  (no parents: not made)\n");
            return;
        }
        d.parents = parents;
    }
    if (plain_len) memcpy(world.body, plain, plain_len);
    d.body_len = plain_len;
    if (text) {
        size_t box_len = 0;
        rumor_event_ad(ad, type, room, rumor_identity_public(world.who[a]));
        int rc = rumor_box_seal(world.body + d.body_len, sizeof world.body - d.body_len, &box_len,
                                world.key, ad, sizeof ad, text, text_len);
        if (rc < 0) fuzz_fail("cannot seal a box", rc);
        d.body_len += box_len;
    }
    d.body = world.body;

    item_t *it = &world.pool[world.n_pool];
    int rc =
        rumor_event_encode(world.encoded, sizeof world.encoded, &it->len, it->id, &d, world.who[a]);
    if (rc < 0) fuzz_fail("cannot encode an event", rc);
    if (!(it->buf = malloc(it->len))) fuzz_fail("out of memory", RUMOR_ERR_NOMEM);
    memcpy(it->buf, world.encoded, it->len);
    it->lamport = d.lamport;
    it->type = type;
    it->author = a;
    world.n_pool++;
    if (type == RUMOR_EV_ROOM_CREATE && world.n_rooms < ROOMS_MAX)
        memcpy(world.rooms[world.n_rooms++], it->id, ID);

    rc = ingest(a, it, world.who[a]);
    if (world.trace) {
        char n2[24];
        fprintf(stderr, "  e%zu = %s by A%u in %s, lamport %llu, parents", world.n_pool - 1,
                rumor_event_type_name(type), a, ev_name(room, n1), (unsigned long long)d.lamport);
        for (unsigned i = 0; i < d.n_parents; i++)
            fprintf(stderr, " %s", ev_name(parents + (size_t)i * ID, n2));
        fprintf(stderr, ": %s\n", rc == RUMOR_OK ? "stored" : rumor_err_name(rc));
    }
}

/* A member byte: an author, or the outsider. */
static const uint8_t *member_pk(uint8_t m)
{
    unsigned i = m & 7u;
    return rumor_identity_public(world.who[i == OUTSIDER ? OUTSIDER : (i & 3u)]);
}

static uint8_t role_byte(uint8_t r)
{
    return (r & ROLE_RAW) ? r : (uint8_t)(r & 3u);
}

/* Box plaintext of a ROOM_CREATE: name_len ‖ name ‖ topic. */
static size_t create_text(uint8_t *out, size_t n)
{
    int nl = snprintf((char *)out + 1, 16, "r%zu", n);
    out[0] = (uint8_t)nl;
    memcpy(out + 1 + nl, "a topic", 7);
    return 1 + (size_t)nl + 7;
}

typedef struct {
    const uint8_t *pk[AUTHORS + 1];
    size_t n;
} members_t;

static int member_step(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    (void)role;
    members_t *m = ctx;
    for (unsigned i = 0; i <= AUTHORS && m->n < AUTHORS + 1; i++)
        if (memcmp(rumor_identity_public(world.who[i]), pk, ID) == 0)
            m->pk[m->n++] = rumor_identity_public(world.who[i]);
    return 0;
}

/* The body of a KEY_EPOCH of author `a` in `room` (see the layout above). */
static size_t key_epoch_body(unsigned a, const uint8_t room[ID], uint8_t e, uint8_t mask)
{
    rumor_store_room_t r;
    uint32_t current = rumor_store_room_get(world.t[a], room, &r) == RUMOR_OK ? r.epoch : 0, epoch;
    switch (e >> EPOCH_MODE_SHIFT) {
    case 0: epoch = current + 1; break;
    case 1: epoch = current; break;
    case 2: epoch = current + 2; break;
    default: epoch = e & 0x3fu; break;
    }
    members_t m = {{NULL}, 0};
    if (mask & MASK_MEMBERS) {
        rumor_store_member_each(world.t[a], room, member_step, &m);
    } else {
        for (unsigned i = 0; i < AUTHORS; i++)
            if (mask & (1u << i)) m.pk[m.n++] = rumor_identity_public(world.who[i]);
    }
    if ((mask & MASK_OUTSIDER) && m.n <= AUTHORS)
        m.pk[m.n++] = rumor_identity_public(world.who[OUTSIDER]);

    uint8_t key[RUMOR_ROOM_KEY_BYTES], label[16];
    memcpy(label, "fuzz_fold key", 13);
    rumor_put_u16(label + 13, (uint16_t)world.keys_made++);
    rumor_crypto_hash(key, label, 15);
    uint8_t *p = world.body + RUMOR_KEY_EPOCH_FIXED;
    rumor_put_u32(world.body, epoch);
    rumor_put_u16(world.body + 4, (uint16_t)m.n);
    rumor_room_key_id(world.body + 6, key);
    for (size_t i = 0; i < m.n; i++, p += RUMOR_EPOCH_ENTRY_BYTES) {
        memcpy(p, m.pk[i], ID);
        int rc = rumor_seal_to(p + ID, m.pk[i], key, sizeof key);
        if (rc < 0) fuzz_fail("cannot seal an epoch key", rc);
    }
    return (size_t)(p - world.body);
}

/* One operation of the script. */
static void step(void)
{
    static const uint8_t zero[ID];
    uint8_t op = take(), plain[ID + 2 + RUMOR_SEALED_GRANT_BYTES], text[32];
    unsigned a = op & 3u, kind = (op >> 2) % KIND_COUNT;
    char n1[24];

    if (kind == K_SYNC) {
        unsigned from = take() & 3u;
        trace("A%u sync from A%u\n", a, from);
        for (unsigned b = 0; b < AUTHORS; b++)
            if (b != a && (from == a || b == from)) sync_from(a, b);
        return;
    }
    if (kind == K_SYNC_ALL) {
        trace("sync all\n");
        for (unsigned x = 0; x < AUTHORS; x++)
            for (unsigned b = 0; b < AUTHORS; b++)
                if (b != x) sync_from(x, b);
        return;
    }

    uint8_t r = take();
    const uint8_t *room = world.rooms[(r & 0x7fu) % world.n_rooms];
    uint8_t domain[ID];
    parents_t p;
    take_parents(&p);
    trace("A%u %s (room %s)\n", a, kind_names[kind], ev_name(room, n1));

    switch (kind) {
    case K_MESSAGE:
        snprintf((char *)text, sizeof text, "m%llu", (unsigned long long)world.clock);
        make(a, RUMOR_EV_MESSAGE, room, &p, NULL, 0, text, strlen((char *)text));
        return;
    case K_CREATE: {
        uint8_t f = take(), flags = f & CREATE_PRIVATE;
        uint8_t body[48];
        size_t n = create_text(body, world.n_rooms);
        make(a, RUMOR_EV_ROOM_CREATE, (f & CREATE_TOP) ? zero : room, &p, &flags, 1, body, n);
        return;
    }
    case K_RENAME:
    case K_TOPIC:
        snprintf((char *)text, sizeof text, "t%llu", (unsigned long long)world.clock);
        make(a, kind == K_RENAME ? RUMOR_EV_ROOM_RENAME : RUMOR_EV_ROOM_TOPIC, room, &p, NULL, 0,
             text, strlen((char *)text));
        return;
    case K_MOVE: {
        uint8_t tb = take();
        const uint8_t *target = tb == TARGET_ZERO      ? zero
                                : tb == TARGET_UNKNOWN ? world.unknown
                                : tb == TARGET_NEWEST  ? world.pool[world.n_pool - 1].id
                                                       : world.rooms[tb % world.n_rooms];
        make(a, RUMOR_EV_ROOM_MOVE, room, &p, target, ID, NULL, 0);
        return;
    }
    default: break;
    }

    /* Membership and rotations go to the key domain (or, asked, to the room as it is). */
    if (r & ROOM_RAW)
        memcpy(domain, room, ID);
    else
        domain_of(a, room, domain);
    switch (kind) {
    case K_MEMBER_ADD: {
        uint8_t m = take();
        const uint8_t *pk = member_pk(m);
        memcpy(plain, pk, ID);
        plain[ID] = role_byte(take());
        plain[ID + 1] = 0;
        size_t n = ID + 2;
        if (!(m & MEMBER_NO_GRANT)) {
            uint8_t grant[RUMOR_KEY_ID_BYTES + 4 + RUMOR_ROOM_KEY_BYTES];
            rumor_room_key_id(grant, world.key);
            rumor_put_u32(grant + RUMOR_KEY_ID_BYTES, 0);
            memcpy(grant + RUMOR_KEY_ID_BYTES + 4, world.key, RUMOR_ROOM_KEY_BYTES);
            if (rumor_seal_to(plain + n, pk, grant, sizeof grant) < 0)
                fuzz_fail("cannot seal a grant", RUMOR_ERR_CRYPTO);
            plain[ID + 1] = 1;
            n += RUMOR_SEALED_GRANT_BYTES;
        }
        trace("  member %s role %u\n", pk_name(pk, n1), plain[ID]);
        make(a, RUMOR_EV_MEMBER_ADD, domain, &p, plain, n, NULL, 0);
        return;
    }
    case K_MEMBER_REMOVE:
        memcpy(plain, member_pk(take()), ID);
        trace("  member %s\n", pk_name(plain, n1));
        make(a, RUMOR_EV_MEMBER_REMOVE, domain, &p, plain, ID, NULL, 0);
        return;
    case K_MEMBER_ROLE:
        memcpy(plain, member_pk(take()), ID);
        plain[ID] = role_byte(take());
        trace("  member %s role %u\n", pk_name(plain, n1), plain[ID]);
        make(a, RUMOR_EV_MEMBER_ROLE, domain, &p, plain, ID + 1, NULL, 0);
        return;
    case K_KEY_EPOCH: {
        uint8_t e = take(), mask = take();
        /* The body is built in world.body, which make() fills again: keep a copy. */
        static uint8_t epoch_body[RUMOR_KEY_EPOCH_FIXED + (AUTHORS + 1) * RUMOR_EPOCH_ENTRY_BYTES];
        size_t n = key_epoch_body(a, domain, e, mask);
        memcpy(epoch_body, world.body, n);
        trace("  epoch %u, %u entries\n", rumor_get_u32(epoch_body), rumor_get_u16(epoch_body + 4));
        make(a, RUMOR_EV_KEY_EPOCH, domain, &p, epoch_body, n, NULL, 0);
        return;
    }
    }
}

/* ---- the digest ------------------------------------------------------------- */

typedef struct {
    rumor_txn_t *t;
    char *out;
    size_t len;
} digest_t;

static void put(digest_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->out + d->len, DIGEST_MAX - d->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= DIGEST_MAX - d->len) fuzz_fail("digest too long", RUMOR_ERR_TOO_BIG);
    d->len += (size_t)n;
}

static int digest_member(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    char n[24];
    put(ctx, "  member %s %u\n", pk_name(pk, n), role);
    return 0;
}

static int digest_log(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t type)
{
    digest_t *d = ctx;
    char n[24];
    put(d, "  log %llu %s %s", (unsigned long long)lamport, ev_name(id, n),
        rumor_event_type_name(type));
    if (type == RUMOR_EV_MESSAGE) {
        const uint8_t *b;
        size_t len;
        rumor_event_t ev;
        bool shown = false;
        int rc = rumor_store_event_get(d->t, id, &b, &len);
        if (rc < 0) fuzz_fail("a logged message is not stored", rc);
        if ((rc = rumor_event_decode(b, len, &ev)) < 0)
            fuzz_fail("a stored event does not decode", rc);
        if ((rc = rumor_gossip_shown(d->t, &ev, NULL, &shown)) < 0) fuzz_fail("shown failed", rc);
        put(d, " %s", shown ? "shown" : "hidden");
    }
    put(d, "\n");
    return 0;
}

static void lww(digest_t *d, const char *what, const rumor_store_lww_t *r)
{
    char n[24];
    put(d, " %s %s@%llu", what, ev_name(r->event, n), (unsigned long long)r->lamport);
}

/* Everything PROTOCOL.md 7 says every store with the same events must agree on. */
static void digest(unsigned s, unsigned slot)
{
    digest_t d = {world.t[s], world.digest[slot], 0};
    char n[24];
    put(&d, "stored:");
    for (size_t i = 0; i < world.n_pool; i++)
        if (rumor_store_event_has(d.t, world.pool[i].id)) put(&d, " e%zu", i);
    put(&d, "\n");
    for (size_t i = 0; i < world.n_rooms; i++) {
        rumor_store_room_t r;
        put(&d, "room %s:", ev_name(world.rooms[i], n));
        int rc = rumor_store_room_get(d.t, world.rooms[i], &r);
        if (rc == RUMOR_ERR_NOT_FOUND) {
            put(&d, " none\n");
            continue;
        }
        if (rc < 0) fuzz_fail("cannot read a room", rc);
        put(&d, " parent %s flags %02x epoch %u messages %llu", ev_name(r.parent, n), r.flags,
            r.epoch, (unsigned long long)r.messages);
        lww(&d, "name", &r.name);
        lww(&d, "topic", &r.topic);
        lww(&d, "place", &r.place);
        put(&d, "\n");
        if ((rc = rumor_store_member_each(d.t, world.rooms[i], digest_member, &d)) < 0)
            fuzz_fail("cannot list members", rc);
        if ((rc = rumor_store_log_each(d.t, world.rooms[i], false, digest_log, &d)) < 0)
            fuzz_fail("cannot walk a log", rc);
    }
    for (size_t i = 0; i < world.n_pool; i++) {
        rumor_event_t ev;
        if (world.pool[i].type != RUMOR_EV_KEY_EPOCH ||
            rumor_event_decode(world.pool[i].buf, world.pool[i].len, &ev) < 0)
            continue;
        if (rumor_store_epoch_announced(d.t, ev.room, ev.epoch, ev.key_id))
            put(&d, "announced e%zu (epoch %u)\n", i, ev.epoch);
    }
    world.digest_len[slot] = d.len;
}

/* Aborts, showing both digests and where they part, unless they agree. */
static void compare(unsigned a_slot, unsigned b_slot, const char *what)
{
    const char *a = world.digest[a_slot], *b = world.digest[b_slot];
    size_t la = world.digest_len[a_slot], lb = world.digest_len[b_slot];
    if (la == lb && memcmp(a, b, la) == 0) return;
    size_t i = 0;
    while (i < la && i < lb && a[i] == b[i]) i++;
    while (i > 0 && a[i - 1] != '\n') i--;
    fprintf(stderr, "fuzz_fold: %s\n--- expected (first difference at line starting \"%.60s\")\n",
            what, a + i);
    fprintf(stderr, "%.*s--- got\n%.*s---\n", (int)la, a, (int)lb, b);
    fuzz_fail("stores that hold the same events disagree", RUMOR_ERR_STORE);
}

/* ---- one input ------------------------------------------------------------- */

static void check_convergence(void)
{
    size_t order[POOL_MAX] = {0};
    for (size_t i = 0; i < world.n_pool; i++) order[i] = i;
    trace("verify: forward\n");
    deliver(V_FORWARD, order, world.n_pool, NULL);
    for (size_t i = 0; i < world.n_pool; i++) order[i] = world.n_pool - 1 - i;
    trace("verify: reverse\n");
    deliver(V_REVERSE, order, world.n_pool, NULL);

    digest(V_FORWARD, 0);
    if (world.trace) fprintf(stderr, "digest (forward)\n%s", world.digest[0]);
    digest(V_REVERSE, 1);
    compare(0, 1, "the reverse order differs from the forward order");

    /* Everything derived, rebuilt from the events alone (as after a migration). */
    int rc = rumor_gossip_rebuild(world.t[V_FORWARD], world.who[0]);
    if (rc < 0) fuzz_fail("rebuild failed", rc);
    digest(V_FORWARD, 1);
    compare(0, 1, "rebuild changed the forward store");

    /* The authors' own stores, folded in the order things happened, once they have it all. */
    for (unsigned a = 0; a < AUTHORS; a++) {
        size_t n = 0;
        for (size_t i = 0; i < world.n_pool; i++)
            if (!rumor_store_event_has(world.t[a], world.pool[i].id)) order[n++] = i;
        deliver(a, order, n, world.who[a]);
        digest(a, 1);
        char what[64];
        snprintf(what, sizeof what, "author %u's store differs from the forward order", a);
        compare(0, 1, what);
    }
}

static void run_script(void)
{
    static const uint8_t zero[ID];
    uint8_t flags = 0, body[48];
    size_t n = create_text(body, 0);
    trace("A0 creates room 0\n");
    make(0, RUMOR_EV_ROOM_CREATE, zero, NULL, &flags, 1, body, n);
    for (unsigned ops = 0; ops < OPS_MAX && world.pos < world.size && world.n_pool < POOL_MAX;
         ops++)
        step();
    check_convergence();
}

/* Opens a write transaction on store `level` and the ones after it, then runs the script. */
static int nest(rumor_txn_t *t, void *ctx)
{
    unsigned level = *(const unsigned *)ctx;
    world.t[level] = t;
    if (level + 1 < STORES) {
        unsigned next = level + 1;
        int rc = rumor_store_write(world.store[next], nest, &next);
        if (rc != FUZZ_ROLLBACK) fuzz_fail("a store failed to open a transaction", rc);
    } else {
        run_script();
    }
    world.t[level] = NULL;
    return FUZZ_ROLLBACK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    world.data = data;
    world.size = size;
    world.pos = 0;
    world.n_pool = world.n_rooms = 0;
    world.clock = FUZZ_TS;
    world.keys_made = 0;
    det_random_calls = 0;
    trace("==== input of %zu bytes\n", size);

    unsigned first = 0;
    int rc = rumor_store_write(world.store[0], nest, &first);
    if (rc != FUZZ_ROLLBACK) fuzz_fail("a store failed to open a transaction", rc);
    for (size_t i = 0; i < world.n_pool; i++) free(world.pool[i].buf);
    world.n_pool = 0;
    return 0;
}

/* ---- start-up and seeds ----------------------------------------------------- */

static void remove_world(void)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[300];
    for (unsigned s = 0; s < STORES; s++) {
        rumor_store_close(&world.store[s]);
        if (!world.sub[s][0]) continue;
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", world.sub[s], files[i]);
            unlink(path);
        }
        rmdir(world.sub[s]);
        world.sub[s][0] = '\0';
    }
    if (world.dir[0]) rmdir(world.dir);
    world.dir[0] = '\0';
    for (unsigned i = 0; i <= AUTHORS; i++) rumor_identity_destroy(&world.who[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Must precede sodium_init (inside rumor_crypto_init), which fixes the random source. */
    det_random_label("rumor fuzz_fold random stream");
    if (randombytes_set_implementation(&det_random) != 0 || rumor_crypto_init() < 0)
        fuzz_fail("cannot initialise libsodium", RUMOR_ERR_CRYPTO);
    const char *t = getenv("FUZZ_FOLD_TRACE");
    world.trace = t && *t && strcmp(t, "0") != 0;

    /* tmpfs when there is one: the property is about logic, not disks. */
    const char *tmp = getenv("TMPDIR");
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmp && *tmp ? tmp : "/tmp";
    snprintf(world.dir, sizeof world.dir, "%s/rumor-fuzz-fold-XXXXXX", base);
    if (!mkdtemp(world.dir)) {
        world.dir[0] = '\0';
        fuzz_fail("cannot make a temporary directory", RUMOR_ERR_IO);
    }
    atexit(remove_world);
    rumor_store_options_t opt = {.initial_map_bytes = (size_t)64 << 20};
    for (unsigned s = 0; s < STORES; s++) {
        snprintf(world.sub[s], sizeof world.sub[s], "%s/%u", world.dir, s);
        if (mkdir(world.sub[s], 0700) != 0) {
            world.sub[s][0] = '\0';
            fuzz_fail("cannot make a store directory", RUMOR_ERR_IO);
        }
        int rc = rumor_store_open(world.sub[s], &opt, &world.store[s]);
        if (rc < 0) fuzz_fail("cannot open a store", rc);
    }
    for (unsigned i = 0; i <= AUTHORS; i++) {
        char label[32];
        uint8_t seed[RUMOR_SEED_BYTES];
        snprintf(label, sizeof label, "fuzz_fold identity %u", i);
        rumor_crypto_hash(seed, (const uint8_t *)label, strlen(label));
        if (rumor_identity_from_seed(seed, &world.who[i]) < 0)
            fuzz_fail("cannot make an identity", RUMOR_ERR_CRYPTO);
    }
    rumor_crypto_hash(world.key, (const uint8_t *)"fuzz_fold box key", 17);
    rumor_crypto_hash(world.unknown, (const uint8_t *)"fuzz_fold unknown id", 20);
    return 0;
}

/* Script bytes: an operation byte for author `a` and `kind`. */
#define OP(a, kind) ((uint8_t)(((kind) << 2) | (a)))
/* Parents: the heads; or n picked among the author's events of the domain. */
#define HEADS    0x00
#define PICK(n)  ((uint8_t)(PMODE_PICK | ((n)-1)))
#define A_MEMBER 1
#define A_ADMIN  2

#define SEED(name, ...)                                                                            \
    do {                                                                                           \
        static const uint8_t s_[] = {__VA_ARGS__};                                                 \
        emit(ctx, name, s_, sizeof s_);                                                            \
    } while (0)

/*
 * The built-in seeds (replay_fold --write-seeds DIR writes them). Room 0 is
 * the room author 0 makes first; event 0 is its create.
 */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    /* A member removed while it posts: concurrent and back-dated posts, a rotation after. */
    SEED("seed-remove", OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_MEMBER,       /* A1 member */
         OP(0, K_MEMBER_ADD), 0, HEADS, 2, A_ADMIN,                       /* A2 admin */
         OP(0, K_SYNC_ALL), OP(1, K_MESSAGE), 0, HEADS,                   /* A1 posts */
         OP(0, K_SYNC_ALL), OP(0, K_MEMBER_REMOVE), 0, HEADS, 1,          /* A0 removes A1 */
         OP(1, K_MESSAGE), 0, HEADS,                                      /* concurrent post */
         OP(1, K_MESSAGE), 0, PICK(1), 0,                                 /* back-dated onto e0 */
         OP(0, K_KEY_EPOCH), 0, HEADS, 0x00, MASK_MEMBERS,                /* rotation */
         OP(2, K_SYNC), 0, OP(2, K_MESSAGE), 0, HEADS, OP(0, K_SYNC_ALL), /* A2 sees it, posts */
         OP(1, K_MESSAGE), 0, HEADS);                                     /* after learning of it */

    /* Two admins remove each other at once; each posts and renames after. */
    SEED("seed-mutual-removal", OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_ADMIN,       /* A1 admin */
         OP(0, K_MEMBER_ADD), 0, HEADS, 2, A_ADMIN, OP(0, K_SYNC_ALL),           /* A2 admin */
         OP(1, K_MEMBER_REMOVE), 0, HEADS, 2,                                    /* A1 removes A2 */
         OP(2, K_MEMBER_REMOVE), 0, HEADS, 1,                                    /* A2 removes A1 */
         OP(1, K_MESSAGE), 0, HEADS, OP(2, K_MESSAGE), 0, HEADS,                 /* both post */
         OP(2, K_RENAME), 0, HEADS, OP(1, K_TOPIC), 0, HEADS, OP(0, K_SYNC_ALL), /* edits */
         OP(0, K_MESSAGE), 0, HEADS, OP(1, K_MESSAGE), 0, HEADS, OP(2, K_MESSAGE), 0, HEADS);

    /* An admin demoted while it edits: rename, topic, an admin add and a removal concurrently. */
    SEED("seed-demotion", OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_ADMIN,      /* A1 admin */
         OP(0, K_MEMBER_ADD), 0, HEADS, 2, A_MEMBER, OP(0, K_SYNC_ALL),   /* A2 member */
         OP(0, K_MEMBER_ROLE), 0, HEADS, 1, A_MEMBER,                     /* A0 demotes A1 */
         OP(1, K_RENAME), 0, HEADS, OP(1, K_TOPIC), 0, HEADS,             /* concurrent edits */
         OP(1, K_MEMBER_ADD), 0, HEADS, 3, A_ADMIN,                       /* A3 as admin */
         OP(1, K_MEMBER_REMOVE), 0, HEADS, 2, OP(1, K_MESSAGE), 0, HEADS, /* kicks A2 */
         OP(0, K_SYNC_ALL), OP(1, K_RENAME), 0, HEADS,                    /* after: fails */
         OP(0, K_MEMBER_ROLE), 0, HEADS, 1, A_ADMIN, OP(1, K_TOPIC), 0, HEADS);

    /* Rooms moved under each other at once (a cycle); moves to the top, an unknown id, an event. */
    SEED("seed-move-cycle", OP(0, K_CREATE), 0, HEADS, 0,              /* room 1 */
         OP(0, K_CREATE), 0, HEADS, 0,                                 /* room 2 */
         OP(0, K_CREATE), 1, HEADS, 0,                                 /* room 3 under 1 */
         OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_ADMIN, OP(0, K_SYNC_ALL), /* A1 admin */
         OP(0, K_MOVE), 1, HEADS, 2,                                   /* 1 under 2 */
         OP(1, K_MOVE), 2, HEADS, 3,                                   /* 2 under 3 (in 1) */
         OP(1, K_MOVE), 3, HEADS, 0,                                   /* 3 under 0 */
         OP(0, K_MOVE), 2, HEADS, TARGET_ZERO, OP(0, K_MOVE), 2, HEADS,
         TARGET_UNKNOWN,                                            /* refused */
         OP(0, K_MOVE), 2, HEADS, TARGET_NEWEST, OP(0, K_SYNC_ALL), /* not a room */
         OP(1, K_MOVE), 1, HEADS, 1, OP(0, K_MOVE), 3, PICK(2), 3, 4, 2, OP(1, K_SYNC), 0);

    /* Concurrent rotations: both +1, one leaving a member out, a replay, a jump, raw epochs. */
    SEED("seed-rotations", OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_MEMBER,        /* A1 */
         OP(0, K_MEMBER_ADD), 0, HEADS, 2, A_MEMBER, OP(0, K_SYNC_ALL),       /* A2 */
         OP(1, K_KEY_EPOCH), 0, HEADS, 0x00, MASK_MEMBERS,                    /* A1: epoch 1 */
         OP(2, K_KEY_EPOCH), 0, HEADS, 0x00, MASK_MEMBERS,                    /* A2: epoch 1 */
         OP(0, K_KEY_EPOCH), 0, HEADS, 0x00, 0x03,                            /* leaves A2 out */
         OP(0, K_SYNC_ALL), OP(0, K_KEY_EPOCH), 0, HEADS, 0x40, MASK_MEMBERS, /* current */
         OP(1, K_KEY_EPOCH), 0, HEADS, 0x80, MASK_MEMBERS,                    /* current + 2 */
         OP(2, K_KEY_EPOCH), 0, HEADS, 0xc2, MASK_MEMBERS | MASK_OUTSIDER,    /* raw 2 */
         OP(0, K_MEMBER_ADD), 0, HEADS, 3, A_MEMBER,                          /* concurrent add */
         OP(1, K_KEY_EPOCH), 0, HEADS, 0x00, MASK_MEMBERS,                    /* misses A3 */
         OP(0, K_SYNC_ALL), OP(3, K_KEY_EPOCH), 0, HEADS, 0x00, MASK_MEMBERS);

    /* A private sub-room: its own members, an invite by a member (refused), a removal. */
    SEED("seed-private", OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_MEMBER, OP(0, K_SYNC_ALL), /* A1 */
         OP(1, K_CREATE), 0, HEADS, CREATE_PRIVATE,                        /* room 1: A1's */
         OP(1, K_MEMBER_ADD), 1, HEADS, 2, A_MEMBER,                       /* A1 owns it */
         OP(1, K_MEMBER_ADD), 1, HEADS, 3, A_ADMIN, OP(1, K_SYNC), 2,      /* A3 admin */
         OP(2, K_SYNC), 1, OP(2, K_MEMBER_ADD), 1, HEADS, 0, A_MEMBER,     /* member invites */
         OP(2, K_CREATE), 1, HEADS, 0,                                     /* room 2 in 1 */
         OP(2, K_MESSAGE), 2, HEADS, OP(0, K_MEMBER_REMOVE), 0, HEADS, 1,  /* A1 out of 0 */
         OP(1, K_MOVE), 1, HEADS, TARGET_ZERO, OP(1, K_MESSAGE), 1, HEADS, /* to the top */
         OP(3, K_SYNC), 1, OP(3, K_MEMBER_REMOVE), 1, HEADS, 1,            /* admin vs owner */
         OP(0, K_SYNC_ALL), OP(0, K_MEMBER_ADD), ROOM_RAW | 2, HEADS, 0, A_MEMBER);

    /* Leaving and coming back; adds with bad roles; the outsider; an unadmitted author. */
    SEED("seed-leave-readd", OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_ADMIN, OP(0, K_SYNC_ALL), /* A1 */
         OP(1, K_MEMBER_REMOVE), 0, HEADS, 1,                                    /* A1 leaves */
         OP(1, K_MESSAGE), 0, HEADS, OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_MEMBER, /* re-added */
         OP(0, K_MEMBER_ADD), 0, HEADS, 4, A_MEMBER,                             /* the outsider */
         OP(0, K_MEMBER_ADD), 0, HEADS, 2, 3,           /* role 3: malformed */
         OP(0, K_MEMBER_ROLE), 0, HEADS, 0, A_MEMBER,   /* demote the owner */
         OP(3, K_MESSAGE), 0, PICK(1), 0,               /* never admitted */
         OP(0, K_SYNC_ALL), OP(1, K_MESSAGE), 0, HEADS, /* A1 posts */
         OP(0, K_MEMBER_REMOVE), 0, HEADS, 0, OP(1, K_MESSAGE), 0, HEADS);

    /* A removed admin back-dates control events onto old parents, after it learned of it. */
    SEED("seed-backdate", OP(0, K_MEMBER_ADD), 0, HEADS, 1, A_ADMIN,         /* A1 admin */
         OP(0, K_CREATE), 0, HEADS, 0, OP(0, K_SYNC_ALL),                    /* room 1 */
         OP(0, K_MEMBER_REMOVE), 0, HEADS, 1, OP(0, K_SYNC_ALL),             /* A1 removed */
         OP(1, K_MEMBER_ADD), 0, PICK(1), 1, 2, A_ADMIN,                     /* onto e1 */
         OP(1, K_RENAME), 0, PICK(2), 0, 1, OP(1, K_MOVE), 1, PICK(1), 2, 0, /* back-dated */
         OP(1, K_MEMBER_REMOVE), 0, PICK(1), 1, 0,                           /* remove the owner */
         OP(1, K_KEY_EPOCH), 0, PICK(1), 1, 0x00, 0x0f,                      /* a rotation */
         OP(1, K_MESSAGE), 1, PICK(1), 2, OP(2, K_SYNC), 1,                  /* A2 takes it all */
         OP(2, K_MESSAGE), 0, HEADS, OP(1, K_CREATE), 0, PICK(1), 0, CREATE_TOP);

    /* A chain of sub-rooms to the depth limit and one past it; moves that would pass it. */
    SEED("seed-deep", OP(0, K_CREATE), 0, HEADS, 0, OP(0, K_CREATE), 1, HEADS, 0, /* rooms 1, 2 */
         OP(0, K_CREATE), 2, HEADS, 0, OP(0, K_CREATE), 3, HEADS, 0,              /* 3, 4 */
         OP(0, K_CREATE), 4, HEADS, 0, OP(0, K_CREATE), 5, HEADS, 0,              /* 5, 6 */
         OP(0, K_CREATE), 6, HEADS, 0, OP(0, K_CREATE), 7, HEADS, 0,              /* 7, 8 */
         OP(0, K_CREATE), 8, HEADS, 0, OP(0, K_CREATE), 9, HEADS, 0,              /* 9, 10 */
         OP(0, K_CREATE), 10, HEADS, 0, OP(0, K_CREATE), 11, HEADS, 0,            /* 11, 12 */
         OP(0, K_CREATE), 12, HEADS, 0, OP(0, K_CREATE), 13, HEADS, 0,            /* 13, 14 */
         OP(0, K_CREATE), 14, HEADS, 0, OP(0, K_CREATE), 15, HEADS, 0, /* 15, 16 too deep */
         OP(0, K_CREATE), 0, HEADS, 0, OP(0, K_CREATE), 17, HEADS, 0,  /* 17, 18 in it */
         OP(0, K_MOVE), 17, HEADS, 14, OP(0, K_MOVE), 1, HEADS, 17);
}
