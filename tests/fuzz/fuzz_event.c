/*
 * fuzz_event.c - libFuzzer target for the event decoder and the whole
 * validation path (PROTOCOL.md sections 2 and 3).
 *
 * Every input goes through rumor_event_decode, rumor_event_verify and then
 * rumor_gossip_ingest against a real LMDB store that holds a small seeded
 * room, so fuzzed events can name real parents and reach the causality and
 * authorisation rules. Ingest runs inside rumor_store_write with a callback
 * that always asks for a rollback, so the store is the same for every input
 * and a crash reproduces from its input alone.
 *
 * Input layout: op[1] ‖ payload.
 *   op & 0x7f, modulo (TEMPLATE_COUNT + 1), picks the mode:
 *     0: the payload is the event;
 *     k: the payload is XORed over template k-1, a valid event of the seeded
 *        room built at start-up (bytes beyond the template are appended), so
 *        the fuzzer starts from deep, well-formed events of every type.
 *   op & 0x80 re-signs the result when it decodes and its author is one of
 *   the harness's identities, so mutated fields get past the signature check
 *   into causality, rules and state folding.
 *
 * Besides crashes and sanitizer reports, it aborts (so libFuzzer keeps the
 * input) when a documented contract breaks: a decoded view points outside
 * the event; a valid event re-encoded by its author differs from its bytes;
 * ingest returns an undocumented result, accepts what does not decode and
 * verify, counts differently from what it returns, or takes the same event
 * twice.
 *
 * Everything random is made deterministic (see det_random_buf), so the seeded
 * store, the templates and therefore the meaning of a saved input are the
 * same in every run and in the replay build.
 */
#include "det_random.h"
#include "rumor_gossip.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

/* The libFuzzer interface. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The replay driver's interface (replay_main.c): hands over each built-in seed. */
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

/* Bit of the op byte that asks for re-signing. */
#define OP_RESIGN 0x80
/* Bits of the op byte that pick the mode. */
#define OP_MODE_MASK 0x7f
/* Mode 0: the payload is the event itself. */
#define MODE_RAW 0

/* A value no rumor function returns: the write callback's request to roll back. */
#define FUZZ_ROLLBACK (-1000)

/* The wall clock every harness event carries (informative only, so any fixed value does). */
#define FUZZ_TS UINT64_C(1700000000000)

/*
 * The identities the harness signs with: alice creates the seeded room, bob
 * is a member and the node's own identity, carol is not (yet) a member.
 */
enum { WHO_ALICE, WHO_BOB, WHO_CAROL, WHO_COUNT };

/* The templates: one valid event of each type, plus a few variants. */
enum {
    T_SUBROOM_CREATE,
    T_MESSAGE,
    T_PROFILE,
    T_RENAME,
    T_MOVE,
    T_TOPIC,
    T_MEMBER_ADD,
    T_MEMBER_INVITE,
    T_MEMBER_REMOVE,
    T_KEY_EPOCH,
    T_SUBROOM_MESSAGE,
    T_TOP_CREATE,
    TEMPLATE_COUNT
};

static const char *const template_names[TEMPLATE_COUNT] = {
    [T_SUBROOM_CREATE] = "subroom-create",
    [T_MESSAGE] = "message",
    [T_PROFILE] = "profile",
    [T_RENAME] = "rename",
    [T_MOVE] = "move",
    [T_TOPIC] = "topic",
    [T_MEMBER_ADD] = "member-add",
    [T_MEMBER_INVITE] = "member-invite",
    [T_MEMBER_REMOVE] = "member-remove",
    [T_KEY_EPOCH] = "key-epoch",
    [T_SUBROOM_MESSAGE] = "subroom-message",
    [T_TOP_CREATE] = "top-create",
};

/* An encoded event owned by the harness. */
typedef struct {
    uint8_t *bytes; /* malloc'd, exactly `len` bytes */
    size_t len;
} blob_t;

/* Everything built once at start-up and shared by all inputs. */
static struct {
    char dir[PATH_MAX];                 /* temporary directory of the store */
    rumor_store_t *store;               /* the seeded store */
    rumor_identity_t *who[WHO_COUNT];   /* fixed-seed identities */
    uint8_t *room_key;                  /* sodium_malloc'd: epoch-0 key of `room` */
    uint8_t room[ID];                   /* seeded top-level room, created by alice */
    uint8_t subroom[ID];                /* its non-private sub-room, which has one of its own */
    blob_t templates[TEMPLATE_COUNT];   /* valid events against the seeded store */
    uint8_t body[RUMOR_EVENT_MAX];      /* body of an event being made */
    uint8_t encoded[RUMOR_EVENT_MAX];   /* an event being made, or re-encoded */
    uint8_t plaintext[RUMOR_EVENT_MAX]; /* an opened box */
} world;

/* Stops the run so libFuzzer records the input: a contract of the library was broken. */
static void fuzz_fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_event: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

/* ---- deterministic randomness ------------------------------------------- */

/* Randomness is deterministic (det_random.h), keyed by this target's name. */

/* ---- building events ------------------------------------------------------ */

/* A 32-byte secret derived from a label, so the harness's keys are fixed and named. */
static void secret_from_label(uint8_t out[32], const char *label)
{
    rumor_crypto_hash(out, (const uint8_t *)label, strlen(label));
}

static rumor_identity_t *identity_from_label(const char *label)
{
    uint8_t seed[RUMOR_SEED_BYTES];
    rumor_identity_t *id = NULL;
    secret_from_label(seed, label);
    if (rumor_identity_from_seed(seed, &id) < 0) fuzz_fail("cannot make identity", RUMOR_ERR_NOMEM);
    sodium_memzero(seed, sizeof seed);
    return id;
}

static const rumor_identity_t *identity_for(const uint8_t pk[ID])
{
    for (int i = 0; i < WHO_COUNT; i++)
        if (memcmp(rumor_identity_public(world.who[i]), pk, ID) == 0) return world.who[i];
    return NULL;
}

/* What an event is made of before it is signed. */
typedef struct {
    const rumor_identity_t *author;
    uint8_t type;
    const uint8_t *room; /* the event's room field; NULL for zero */
    const void *plain;   /* body bytes before the box */
    size_t plain_len;
    const void *text; /* plaintext of the box, or NULL for a body without one */
    size_t text_len;
    const uint8_t *key; /* the box's key */
} spec_t;

/*
 * Signs the event `s` describes, naming the current heads of its room as
 * parents (none for a top-level create or a profile), into a new blob.
 */
static blob_t make_event(rumor_txn_t *t, const spec_t *s)
{
    static const uint8_t zero[ID];
    uint8_t parents[RUMOR_MAX_PARENTS * ID], ad[RUMOR_EVENT_AD_BYTES];
    const uint8_t *room = s->room ? s->room : zero;
    rumor_event_draft_t d = {.type = s->type, .ts = FUZZ_TS, .lamport = 1};
    int rc;

    memcpy(d.room, room, ID);
    if (s->room && s->type != RUMOR_EV_PROFILE) {
        rc = rumor_gossip_next_parents(t, room, parents, &d.n_parents, &d.lamport);
        if (rc < 0) fuzz_fail("no heads for a seeded event", rc);
        d.parents = parents;
    }
    if (s->plain_len) memcpy(world.body, s->plain, s->plain_len);
    d.body_len = s->plain_len;
    if (s->text) {
        size_t box_len;
        rumor_event_ad(ad, s->type, room, rumor_identity_public(s->author));
        rc = rumor_box_seal(world.body + d.body_len, sizeof world.body - d.body_len, &box_len,
                            s->key, ad, sizeof ad, s->text, s->text_len);
        if (rc < 0) fuzz_fail("cannot seal a seeded box", rc);
        d.body_len += box_len;
    }
    d.body = world.body;

    blob_t b = {NULL, 0};
    rc = rumor_event_encode(world.encoded, sizeof world.encoded, &b.len, NULL, &d, s->author);
    if (rc < 0) fuzz_fail("cannot encode a seeded event", rc);
    if (!(b.bytes = malloc(b.len))) fuzz_fail("out of memory", RUMOR_ERR_NOMEM);
    memcpy(b.bytes, world.encoded, b.len);
    return b;
}

/* MEMBER_ADD body: member ‖ role ‖ n=1 ‖ seal(key_id ‖ epoch ‖ key) to the member. */
static size_t member_add_body(uint8_t *out, const uint8_t member[ID], uint8_t role,
                              const uint8_t *key, uint32_t epoch)
{
    uint8_t grant[RUMOR_KEY_ID_BYTES + 4 + RUMOR_ROOM_KEY_BYTES];
    memcpy(out, member, ID);
    out[ID] = role;
    out[ID + 1] = 1;
    rumor_room_key_id(grant, key);
    rumor_put_u32(grant + RUMOR_KEY_ID_BYTES, epoch);
    memcpy(grant + RUMOR_KEY_ID_BYTES + 4, key, RUMOR_ROOM_KEY_BYTES);
    int rc = rumor_seal_to(out + ID + 2, member, grant, sizeof grant);
    if (rc < 0) fuzz_fail("cannot seal a grant", rc);
    sodium_memzero(grant, sizeof grant);
    return ID + 2 + RUMOR_SEALED_GRANT_BYTES;
}

/* KEY_EPOCH body: epoch ‖ n ‖ key_id ‖ n × (member ‖ seal(key)), one entry per identity. */
static size_t key_epoch_body(uint8_t *out, uint32_t epoch, const uint8_t *key)
{
    uint8_t *p = out + RUMOR_KEY_EPOCH_FIXED;
    rumor_put_u32(out, epoch);
    rumor_put_u16(out + 4, WHO_COUNT);
    rumor_room_key_id(out + 6, key);
    for (int i = 0; i < WHO_COUNT; i++, p += RUMOR_EPOCH_ENTRY_BYTES) {
        const uint8_t *pk = rumor_identity_public(world.who[i]);
        memcpy(p, pk, ID);
        int rc = rumor_seal_to(p + ID, pk, key, RUMOR_ROOM_KEY_BYTES);
        if (rc < 0) fuzz_fail("cannot seal an epoch key", rc);
    }
    return (size_t)(p - out);
}

/* Box plaintext of a ROOM_CREATE: name_len ‖ name ‖ topic. */
static size_t create_text(uint8_t *out, const char *name, const char *topic)
{
    size_t nl = strlen(name), tl = strlen(topic);
    out[0] = (uint8_t)nl;
    memcpy(out + 1, name, nl);
    memcpy(out + 1 + nl, topic, tl);
    return 1 + nl + tl;
}

/* Makes an event and ingests it for good: the seeded room's history. */
static void seed_event(rumor_txn_t *t, const spec_t *s, uint8_t id_out[ID])
{
    blob_t b = make_event(t, s);
    rumor_event_t ev;
    int rc = rumor_gossip_ingest(t, world.who[WHO_BOB], b.bytes, b.len, &ev, NULL);
    if (rc < 0) fuzz_fail("a seeded event does not validate", rc);
    if (id_out) memcpy(id_out, ev.id, ID);
    free(b.bytes);
}

/*
 * The seeded store: alice creates a top-level room, adds bob as a member
 * (with a real grant of the room key), creates a non-private sub-room with a
 * sub-room of its own (so a move has a subtree to measure) and posts a
 * message.
 */
static int seed_store(rumor_txn_t *t, void *ctx)
{
    (void)ctx;
    static const uint8_t no_flags = 0;
    static const char hello[] = "hello, seeded room";
    const rumor_identity_t *alice = world.who[WHO_ALICE], *bob = world.who[WHO_BOB];
    uint8_t text[1 + RUMOR_NAME_MAX + RUMOR_TOPIC_MAX], add[ID + 2 + RUMOR_SEALED_GRANT_BYTES];
    size_t n;

    n = create_text(text, "lan", "the seeded room");
    seed_event(t,
               &(spec_t){.author = alice,
                         .type = RUMOR_EV_ROOM_CREATE,
                         .plain = &no_flags,
                         .plain_len = 1,
                         .text = text,
                         .text_len = n,
                         .key = world.room_key},
               world.room);
    n = member_add_body(add, rumor_identity_public(bob), RUMOR_ROLE_MEMBER, world.room_key, 0);
    seed_event(t,
               &(spec_t){.author = alice,
                         .type = RUMOR_EV_MEMBER_ADD,
                         .room = world.room,
                         .plain = add,
                         .plain_len = n},
               NULL);
    n = create_text(text, "general", "");
    seed_event(t,
               &(spec_t){.author = alice,
                         .type = RUMOR_EV_ROOM_CREATE,
                         .room = world.room,
                         .plain = &no_flags,
                         .plain_len = 1,
                         .text = text,
                         .text_len = n,
                         .key = world.room_key},
               world.subroom);
    n = create_text(text, "random", "");
    seed_event(t,
               &(spec_t){.author = alice,
                         .type = RUMOR_EV_ROOM_CREATE,
                         .room = world.subroom,
                         .plain = &no_flags,
                         .plain_len = 1,
                         .text = text,
                         .text_len = n,
                         .key = world.room_key},
               NULL);
    seed_event(t,
               &(spec_t){.author = alice,
                         .type = RUMOR_EV_MESSAGE,
                         .room = world.room,
                         .text = hello,
                         .text_len = sizeof hello - 1,
                         .key = world.room_key},
               NULL);
    return RUMOR_OK;
}

/* One valid event of each kind against the seeded store (made, not stored). */
static void build_templates(rumor_txn_t *t)
{
    static const uint8_t private_flags = RUMOR_ROOM_FLAG_PRIVATE, no_flags = 0;
    static const char msg[] = "a message to mutate", sub_msg[] = "a message in the sub-room";
    static const char new_name[] = "lan2", new_topic[] = "a new topic";
    static const char nick[] = "\x05"
                               "alice"; /* nick_len ‖ nick */
    const rumor_identity_t *alice = world.who[WHO_ALICE], *bob = world.who[WHO_BOB];
    const uint8_t *bob_pk = rumor_identity_public(bob);
    uint8_t key2[RUMOR_ROOM_KEY_BYTES], text[1 + RUMOR_NAME_MAX + RUMOR_TOPIC_MAX];
    uint8_t add[ID + 2 + RUMOR_SEALED_GRANT_BYTES],
        epoch[RUMOR_KEY_EPOCH_FIXED + WHO_COUNT * RUMOR_EPOCH_ENTRY_BYTES];
    blob_t *tp = world.templates;
    size_t n;

    /* A private sub-room and a new top-level room box their create under a key of their own. */
    secret_from_label(key2, "fuzz_event second room key");
    n = create_text(text, "secret", "a private sub-room");
    tp[T_SUBROOM_CREATE] = make_event(t, &(spec_t){.author = alice,
                                                   .type = RUMOR_EV_ROOM_CREATE,
                                                   .room = world.room,
                                                   .plain = &private_flags,
                                                   .plain_len = 1,
                                                   .text = text,
                                                   .text_len = n,
                                                   .key = key2});
    tp[T_MESSAGE] = make_event(t, &(spec_t){.author = alice,
                                            .type = RUMOR_EV_MESSAGE,
                                            .room = world.room,
                                            .text = msg,
                                            .text_len = sizeof msg - 1,
                                            .key = world.room_key});
    tp[T_PROFILE] = make_event(t, &(spec_t){.author = alice,
                                            .type = RUMOR_EV_PROFILE,
                                            .plain = nick,
                                            .plain_len = sizeof nick - 1});
    tp[T_RENAME] = make_event(t, &(spec_t){.author = alice,
                                           .type = RUMOR_EV_ROOM_RENAME,
                                           .room = world.room,
                                           .text = new_name,
                                           .text_len = sizeof new_name - 1,
                                           .key = world.room_key});
    /* Moving the sub-room under its own parent is a valid (if idle) move. */
    tp[T_MOVE] = make_event(t, &(spec_t){.author = alice,
                                         .type = RUMOR_EV_ROOM_MOVE,
                                         .room = world.subroom,
                                         .plain = world.room,
                                         .plain_len = ID});
    tp[T_TOPIC] = make_event(t, &(spec_t){.author = alice,
                                          .type = RUMOR_EV_ROOM_TOPIC,
                                          .room = world.room,
                                          .text = new_topic,
                                          .text_len = sizeof new_topic - 1,
                                          .key = world.room_key});
    /* Bob is the node's identity, so ingesting this opens the grant and stores the key. */
    n = member_add_body(add, bob_pk, RUMOR_ROLE_ADMIN, world.room_key, 0);
    tp[T_MEMBER_ADD] = make_event(t, &(spec_t){.author = alice,
                                               .type = RUMOR_EV_MEMBER_ADD,
                                               .room = world.room,
                                               .plain = add,
                                               .plain_len = n});
    /* A member inviting a member to a room that is not private: the rule's non-admin branch. */
    n = member_add_body(add, rumor_identity_public(world.who[WHO_CAROL]), RUMOR_ROLE_MEMBER,
                        world.room_key, 0);
    tp[T_MEMBER_INVITE] = make_event(t, &(spec_t){.author = bob,
                                                  .type = RUMOR_EV_MEMBER_ADD,
                                                  .room = world.room,
                                                  .plain = add,
                                                  .plain_len = n});
    /* A member leaving: the rule's non-admin branch. */
    tp[T_MEMBER_REMOVE] = make_event(t, &(spec_t){.author = bob,
                                                  .type = RUMOR_EV_MEMBER_REMOVE,
                                                  .room = world.room,
                                                  .plain = bob_pk,
                                                  .plain_len = ID});
    n = key_epoch_body(epoch, 1, key2);
    tp[T_KEY_EPOCH] = make_event(t, &(spec_t){.author = alice,
                                              .type = RUMOR_EV_KEY_EPOCH,
                                              .room = world.room,
                                              .plain = epoch,
                                              .plain_len = n});
    tp[T_SUBROOM_MESSAGE] = make_event(t, &(spec_t){.author = bob,
                                                    .type = RUMOR_EV_MESSAGE,
                                                    .room = world.subroom,
                                                    .text = sub_msg,
                                                    .text_len = sizeof sub_msg - 1,
                                                    .key = world.room_key});
    n = create_text(text, "bobs", "");
    tp[T_TOP_CREATE] = make_event(t, &(spec_t){.author = bob,
                                               .type = RUMOR_EV_ROOM_CREATE,
                                               .plain = &no_flags,
                                               .plain_len = 1,
                                               .text = text,
                                               .text_len = n,
                                               .key = key2});
    sodium_memzero(key2, sizeof key2);
}

/* ---- one input ------------------------------------------------------------ */

/* What the rollback callback saw. */
typedef struct {
    const uint8_t *buf; /* the event bytes */
    size_t len;
    int first_rc;                     /* ingest of the bytes */
    rumor_gossip_counters_t counters; /* what that ingest counted */
    int again_rc;                     /* the same bytes offered again in the same transaction */
} attempt_t;

static int ingest_then_rollback(rumor_txn_t *t, void *ctx)
{
    attempt_t *a = ctx;
    memset(&a->counters, 0, sizeof a->counters); /* a rerun starts over */
    a->first_rc = rumor_gossip_ingest(t, world.who[WHO_BOB], a->buf, a->len, NULL, &a->counters);
    /* A full map is the store's business: let it grow the map and run us again. */
    if (a->first_rc == RUMOR_ERR_MAP_FULL) return a->first_rc;
    a->again_rc = rumor_gossip_ingest(t, world.who[WHO_BOB], a->buf, a->len, NULL, NULL);
    return FUZZ_ROLLBACK;
}

/* The results rumor_gossip_ingest documents for an invalid event (nothing stored). */
static bool is_invalid_rc(int rc)
{
    return rc == RUMOR_ERR_MALFORMED || rc == RUMOR_ERR_TOO_BIG || rc == RUMOR_ERR_BAD_SIGNATURE ||
           rc == RUMOR_ERR_MISSING_PARENT || rc == RUMOR_ERR_DENIED;
}

/* Every result rumor_gossip_ingest documents for an event on a healthy store. */
static bool ingest_rc_expected(int rc)
{
    return rc == RUMOR_OK || rc == RUMOR_ERR_EXISTS || is_invalid_rc(rc);
}

/* The counters of one ingest must tell what its result tells. */
static void check_counters(const attempt_t *a)
{
    const rumor_gossip_counters_t *c = &a->counters;
    int rc = a->first_rc;
    if (c->received != 1 || c->delivered != (rc == RUMOR_OK) ||
        c->duplicates != (rc == RUMOR_ERR_EXISTS) || c->invalid != is_invalid_rc(rc) ||
        c->missing_parent != (rc == RUMOR_ERR_MISSING_PARENT))
        fuzz_fail("ingest counters disagree with its result", rc);
}

/* True when [p, p + n) lies inside [buf, buf + len). */
static bool view_inside(const uint8_t *buf, size_t len, const uint8_t *p, size_t n)
{
    uintptr_t b = (uintptr_t)buf, q = (uintptr_t)p;
    return q >= b && q - b <= len && n <= len - (q - b);
}

/* Every view a decoded event holds must point into the bytes it was decoded from. */
static void check_views(const uint8_t *buf, size_t len, const rumor_event_t *ev)
{
    static const size_t entry_bytes[] = {[RUMOR_EV_MEMBER_ADD] = RUMOR_SEALED_GRANT_BYTES,
                                         [RUMOR_EV_KEY_EPOCH] = RUMOR_EPOCH_ENTRY_BYTES};
    bool ok = ev->signed_bytes == buf && ev->encoded_len == len &&
              ev->signed_len + RUMOR_SIG_BYTES == len &&
              view_inside(buf, len, ev->parents, (size_t)ev->n_parents * ID) &&
              view_inside(buf, len, ev->body, ev->body_len) &&
              view_inside(buf, len, ev->sig, RUMOR_SIG_BYTES);
    if (ev->box) ok = ok && view_inside(ev->body, ev->body_len, ev->box, ev->box_len);
    if (ev->nick) ok = ok && view_inside(ev->body, ev->body_len, ev->nick, ev->nick_len);
    if (ev->target) ok = ok && view_inside(ev->body, ev->body_len, ev->target, ID);
    if (ev->key_id) ok = ok && view_inside(ev->body, ev->body_len, ev->key_id, RUMOR_KEY_ID_BYTES);
    if (ev->entries)
        ok = ok && ev->type < sizeof entry_bytes / sizeof entry_bytes[0] &&
             view_inside(ev->body, ev->body_len, ev->entries,
                         (size_t)ev->n_entries * entry_bytes[ev->type]);
    if (!ok) fuzz_fail("a decoded view points outside the event", RUMOR_ERR_MALFORMED);
}

/*
 * A valid event that its author re-encodes from the decoded view must come
 * out as the same bytes: Ed25519 signatures are deterministic.
 */
static void check_round_trip(const uint8_t *buf, size_t len, const rumor_event_t *ev)
{
    const rumor_identity_t *author = identity_for(ev->author);
    if (!author) return;
    rumor_event_draft_t d = {.version = ev->version,
                             .type = ev->type,
                             .lamport = ev->lamport,
                             .ts = ev->ts,
                             .n_parents = ev->n_parents,
                             .parents = ev->parents,
                             .body = ev->body,
                             .body_len = ev->body_len};
    memcpy(d.room, ev->room, ID);
    size_t out_len = 0;
    uint8_t id[ID];
    int rc = rumor_event_encode(world.encoded, sizeof world.encoded, &out_len, id, &d, author);
    if (rc < 0) fuzz_fail("a valid event does not re-encode", rc);
    if (out_len != len || memcmp(world.encoded, buf, len) != 0 || memcmp(id, ev->id, ID) != 0)
        fuzz_fail("a valid event re-encodes to different bytes", RUMOR_ERR_MALFORMED);
}

/* Opens the event's box with the seeded room's key, as a member displaying it would. */
static void try_open_box(const rumor_event_t *ev)
{
    uint8_t ad[RUMOR_EVENT_AD_BYTES];
    size_t pt_len = 0;
    rumor_event_ad(ad, ev->type, ev->room, ev->author);
    int rc = rumor_box_open(world.plaintext, &pt_len, world.room_key, ad, sizeof ad, ev->box,
                            ev->box_len);
    if (rc == RUMOR_OK && pt_len != ev->box_len - RUMOR_BOX_OVERHEAD)
        fuzz_fail("an opened box has the wrong length", rc);
    if (rc != RUMOR_OK && rc != RUMOR_ERR_DECRYPT) fuzz_fail("unexpected box_open result", rc);
}

/* Builds the event an input stands for into a new buffer of exactly its length. */
static uint8_t *input_event(const uint8_t *data, size_t size, size_t *len)
{
    uint8_t op = data[0];
    const uint8_t *payload = data + 1;
    size_t n = size - 1;
    unsigned mode = (op & OP_MODE_MASK) % (TEMPLATE_COUNT + 1);
    uint8_t *buf;

    if (mode == MODE_RAW) {
        *len = n;
        if (!(buf = malloc(n ? n : 1))) return NULL;
        memcpy(buf, payload, n);
    } else {
        const blob_t *tmpl = &world.templates[mode - 1];
        *len = n > tmpl->len ? n : tmpl->len;
        if (!(buf = malloc(*len))) return NULL;
        memcpy(buf, tmpl->bytes, tmpl->len);
        for (size_t i = 0; i < n; i++) buf[i] = i < tmpl->len ? buf[i] ^ payload[i] : payload[i];
    }
    if (op & OP_RESIGN) {
        rumor_event_t ev;
        const rumor_identity_t *signer;
        if (rumor_event_decode(buf, *len, &ev) == RUMOR_OK && (signer = identity_for(ev.author)))
            rumor_identity_sign(signer, buf + ev.signed_len, buf, ev.signed_len);
    }
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t len;
    uint8_t *buf = input_event(data, size, &len);
    if (!buf) fuzz_fail("out of memory", RUMOR_ERR_NOMEM);

    rumor_event_t ev;
    int decode_rc = rumor_event_decode(buf, len, &ev), verify_rc = RUMOR_ERR_MALFORMED;
    if (decode_rc == RUMOR_OK) {
        check_views(buf, len, &ev);
        verify_rc = rumor_event_verify(&ev);
        if (verify_rc == RUMOR_OK) check_round_trip(buf, len, &ev);
        if (ev.box) try_open_box(&ev);
    } else if (decode_rc != RUMOR_ERR_MALFORMED && decode_rc != RUMOR_ERR_TOO_BIG) {
        fuzz_fail("unexpected decode result", decode_rc);
    }

    attempt_t a = {.buf = buf, .len = len};
    int rc = rumor_store_write(world.store, ingest_then_rollback, &a);
    if (rc != FUZZ_ROLLBACK) fuzz_fail("the store failed under ingest", rc);
    if (!ingest_rc_expected(a.first_rc)) fuzz_fail("unexpected ingest result", a.first_rc);
    check_counters(&a);
    if (a.first_rc == RUMOR_OK && (decode_rc != RUMOR_OK || verify_rc != RUMOR_OK))
        fuzz_fail("ingest accepted an event that does not decode and verify", a.first_rc);
    if (a.first_rc == RUMOR_OK && a.again_rc != RUMOR_ERR_EXISTS)
        fuzz_fail("an event ingested twice is not a duplicate", a.again_rc);
    free(buf);
    return 0;
}

/* ---- start-up and seeds ----------------------------------------------------- */

static void remove_world(void)
{
    rumor_store_close(&world.store);
    if (world.dir[0]) {
        static const char *const files[] = {"data.mdb", "lock.mdb"};
        char path[PATH_MAX + 16];
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", world.dir, files[i]);
            unlink(path);
        }
        rmdir(world.dir);
        world.dir[0] = '\0';
    }
    for (int i = 0; i < TEMPLATE_COUNT; i++) free(world.templates[i].bytes);
    for (int i = 0; i < WHO_COUNT; i++) rumor_identity_destroy(&world.who[i]);
    sodium_free(world.room_key);
    world.room_key = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Must precede sodium_init (inside rumor_crypto_init), which fixes the random source. */
    det_random_label("rumor fuzz_event random stream");
    if (randombytes_set_implementation(&det_random) != 0 || rumor_crypto_init() < 0)
        fuzz_fail("cannot initialise libsodium", RUMOR_ERR_CRYPTO);

    const char *tmp = getenv("TMPDIR");
    snprintf(world.dir, sizeof world.dir, "%s/rumor-fuzz-event-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(world.dir)) {
        world.dir[0] = '\0';
        fuzz_fail("cannot make a temporary directory", RUMOR_ERR_IO);
    }
    atexit(remove_world);
    int rc = rumor_store_open(world.dir, NULL, &world.store);
    if (rc < 0) fuzz_fail("cannot open the store", rc);

    world.who[WHO_ALICE] = identity_from_label("fuzz_event alice");
    world.who[WHO_BOB] = identity_from_label("fuzz_event bob");
    world.who[WHO_CAROL] = identity_from_label("fuzz_event carol");
    if (!(world.room_key = sodium_malloc(RUMOR_ROOM_KEY_BYTES)))
        fuzz_fail("out of memory", RUMOR_ERR_NOMEM);
    secret_from_label(world.room_key, "fuzz_event room key");
    if ((rc = rumor_store_write(world.store, seed_store, NULL)) < 0)
        fuzz_fail("cannot seed the store", rc);

    rumor_txn_t *t;
    if ((rc = rumor_store_read_begin(world.store, &t)) < 0) fuzz_fail("cannot read the store", rc);
    build_templates(t);
    rumor_store_read_end(&t);

    /* Every template must be a valid event, or the mutate mode starts from nowhere. */
    for (int i = 0; i < TEMPLATE_COUNT; i++) {
        attempt_t a = {.buf = world.templates[i].bytes, .len = world.templates[i].len};
        rc = rumor_store_write(world.store, ingest_then_rollback, &a);
        if (rc != FUZZ_ROLLBACK || a.first_rc != RUMOR_OK) {
            fprintf(stderr, "fuzz_event: template %s: ", template_names[i]);
            fuzz_fail("does not validate", rc != FUZZ_ROLLBACK ? rc : a.first_rc);
        }
    }
    return 0;
}

/* Emits op ‖ payload under `name`. */
static void emit_op(fuzz_seed_fn emit, void *ctx, const char *name, uint8_t op,
                    const uint8_t *payload, size_t n)
{
    uint8_t *seed = malloc(1 + n);
    if (!seed) fuzz_fail("out of memory", RUMOR_ERR_NOMEM);
    seed[0] = op;
    if (n) memcpy(seed + 1, payload, n);
    emit(ctx, name, seed, 1 + n);
    free(seed);
}

/*
 * The built-in seeds (LLVMFuzzerInitialize must have run): each template raw,
 * as an empty XOR mask, and re-signed; plus a few malformed events.
 */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    char name[64];
    for (int i = 0; i < TEMPLATE_COUNT; i++) {
        const blob_t *tp = &world.templates[i];
        uint8_t mode = (uint8_t)(i + 1);
        snprintf(name, sizeof name, "seed-raw-%s", template_names[i]);
        emit_op(emit, ctx, name, MODE_RAW, tp->bytes, tp->len);
        snprintf(name, sizeof name, "seed-xor-%s", template_names[i]);
        emit_op(emit, ctx, name, mode, NULL, 0);
        snprintf(name, sizeof name, "seed-resign-%s", template_names[i]);
        emit_op(emit, ctx, name, OP_RESIGN | mode, NULL, 0);
    }
    const blob_t *msg = &world.templates[T_MESSAGE];
    emit_op(emit, ctx, "seed-raw-empty", MODE_RAW, NULL, 0);
    emit_op(emit, ctx, "seed-raw-truncated", MODE_RAW, msg->bytes, msg->len - 1);
    /* XOR masks: the first byte lands on the version (1 ^ 3 = 2); the last on the signature. */
    static const uint8_t version_mask[] = {0x03};
    emit_op(emit, ctx, "seed-xor-bad-version", (uint8_t)(T_MESSAGE + 1), version_mask,
            sizeof version_mask);
    uint8_t *bad_sig = calloc(1, msg->len);
    if (!bad_sig) fuzz_fail("out of memory", RUMOR_ERR_NOMEM);
    bad_sig[msg->len - 1] = 0x01;
    emit_op(emit, ctx, "seed-xor-bad-signature", (uint8_t)(T_MESSAGE + 1), bad_sig, msg->len);
    free(bad_sig);
}
