/*
 * engine.c - dissemination without I/O (engine.h, PROTOCOL.md 9.3): topics and their meshes,
 * peers and the topics of theirs that count, the seen and message caches, and a queue of
 * actions for the caller. Every decision here is a function of the inputs, `now` and the
 * random numbers the options give.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

typedef struct {
    uint8_t pk[ID];
    void *user;
    uint8_t *topics; /* the topics of its that count, sorted */
    size_t n_topics;
    bool used;
    bool dropped; /* a DROP action went out for it */
} epeer_t;

typedef struct {
    uint8_t id[ID];
    rumor_engine_peer_t mesh[RUMOR_ENGINE_MESH_MAX];
    uint32_t n_mesh;
} etopic_t;

/* Tree mode: an id announced by a lazy peer that the eager links have not brought yet. If it is
 * still missing at `due_ms`, the tree is repaired through that peer. */
#define MISSING_MAX 256
/* Ids asked for (IWANT) that are remembered, and for how long. */
#define ASKED_MAX    4096
#define ASKED_TTL_MS 60000
typedef struct {
    uint8_t id[ID];
    uint8_t topic[ID];
    rumor_engine_peer_t from;
    uint64_t due_ms;
} emissing_t;

/* A queued action: its bytes are the caller's (`ext`) or at `off` in the arena. */
typedef struct {
    rumor_engine_action_t a;
    const uint8_t *ext;
    size_t off;
} eaction_t;

struct rumor_engine {
    rumor_engine_opts_t o;
    epeer_t *peers; /* slots; a handle is an index */
    size_t n_peers, cap_peers;
    etopic_t *topics; /* sorted by id */
    size_t n_topics;
    rumor_gossip_seen_t *seen;
    rumor_gossip_seen_t *asked; /* ids asked for by IWANT lately: their copies prune nothing */
    rumor_gossip_mcache_t *mcache;
    eaction_t *q;
    size_t q_head, q_n, q_cap;
    uint8_t *arena; /* bytes of queued frames and id lists */
    size_t arena_len, arena_cap;
    emissing_t *missing; /* tree mode: ids announced, not yet arrived */
    size_t n_missing;
    rumor_score_t *score; /* NULL while scoring is off */
    rumor_engine_counters_t counters;
    uint64_t now;   /* the latest `now` an input gave */
    uint64_t ticks; /* heartbeats so far */
};

static void drop_if_graylisted(rumor_engine_t *e, rumor_engine_peer_t p);

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ID);
}

rumor_engine_t *rumor_engine_new(const rumor_engine_opts_t *opts)
{
    if (!opts->uniform || !opts->d || opts->d > RUMOR_ENGINE_MESH_MAX ||
        opts->d_lo > RUMOR_ENGINE_MESH_MAX || opts->d_hi > RUMOR_ENGINE_MESH_MAX)
        return NULL;
    rumor_engine_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->o = *opts;
    e->seen = rumor_gossip_seen_new(opts->seen_max);
    e->asked = rumor_gossip_seen_new(ASKED_MAX);
    e->mcache = rumor_gossip_mcache_new(opts->history_length);
    if (opts->score.on) e->score = rumor_score_new(&opts->score);
    if (!e->seen || !e->asked || !e->mcache || (opts->score.on && !e->score)) rumor_engine_free(&e);
    return e;
}

void rumor_engine_free(rumor_engine_t **ep)
{
    rumor_engine_t *e = *ep;
    if (!e) return;
    *ep = NULL;
    for (size_t i = 0; i < e->n_peers; i++) free(e->peers[i].topics);
    free(e->peers);
    free(e->topics);
    rumor_gossip_seen_free(&e->seen);
    rumor_gossip_seen_free(&e->asked);
    rumor_gossip_mcache_free(&e->mcache);
    free(e->q);
    free(e->arena);
    free(e->missing);
    rumor_score_free(&e->score);
    free(e);
}

/* ---- the action queue ---- */

bool rumor_engine_next(rumor_engine_t *e, rumor_engine_action_t *a)
{
    if (e->q_head == e->q_n) {
        e->q_head = e->q_n = 0;
        e->arena_len = 0;
        return false;
    }
    eaction_t *x = &e->q[e->q_head++];
    *a = x->a;
    const uint8_t *bytes = x->ext ? x->ext : e->arena + x->off;
    if (a->type == RUMOR_ENGINE_SEND)
        a->buf = bytes;
    else
        a->ids = bytes;
    return true;
}

/* Room for `len` more bytes in the arena; its offset, or SIZE_MAX. */
static size_t arena_take(rumor_engine_t *e, size_t len)
{
    if (e->q_head == e->q_n) e->q_head = e->q_n = e->arena_len = 0; /* all taken: start over */
    if (e->arena_len + len > e->arena_cap) {
        size_t cap = e->arena_cap ? e->arena_cap : 512;
        while (cap < e->arena_len + len) cap *= 2;
        uint8_t *na = realloc(e->arena, cap);
        if (!na) return SIZE_MAX;
        e->arena = na;
        e->arena_cap = cap;
    }
    size_t off = e->arena_len;
    e->arena_len += len;
    return off;
}

/* Queues an action; its bytes were placed before (arena_take) or are the caller's. */
static eaction_t *queue(rumor_engine_t *e, uint8_t type, uint8_t count, rumor_engine_peer_t p)
{
    if (e->q_head == e->q_n) e->q_head = e->q_n = 0;
    if (e->q_n == e->q_cap) {
        size_t cap = e->q_cap ? 2 * e->q_cap : 64;
        eaction_t *nq = realloc(e->q, cap * sizeof *nq);
        if (!nq) return NULL;
        e->q = nq;
        e->q_cap = cap;
    }
    eaction_t *x = &e->q[e->q_n++];
    memset(x, 0, sizeof *x);
    x->a.type = type;
    x->a.count = count;
    x->a.peer = p;
    x->a.user = e->peers[p].user;
    return x;
}

/* Queues frame `f` for peer `p`, encoded in the arena. */
/* Encodes `f` into the arena: its offset and length, or length 0. */
static size_t encode(rumor_engine_t *e, const rumor_wire_frame_t *f, size_t *off)
{
    uint8_t buf[64 + RUMOR_WIRE_IDS_MAX * ID];
    size_t len = rumor_wire_encode(f, buf, sizeof buf);
    if (!len || (*off = arena_take(e, len)) == SIZE_MAX) return 0;
    memcpy(e->arena + *off, buf, len);
    return len;
}

/* Queues the encoded frame at `off` for peer `p`. */
static void send_encoded(rumor_engine_t *e, rumor_engine_peer_t p, size_t off, size_t len,
                         uint8_t count)
{
    eaction_t *x = queue(e, RUMOR_ENGINE_SEND, count, p);
    if (!x) return;
    x->off = off;
    x->a.len = len;
}

static void send_frame(rumor_engine_t *e, rumor_engine_peer_t p, const rumor_wire_frame_t *f,
                       uint8_t count)
{
    size_t off, len = encode(e, f, &off);
    if (len) send_encoded(e, p, off, len, count);
}

/* ---- peers ---- */

static bool live(const rumor_engine_t *e, rumor_engine_peer_t p)
{
    return p < e->n_peers && e->peers[p].used;
}

rumor_engine_peer_t rumor_engine_peer_up(rumor_engine_t *e, const uint8_t pk[ID], void *user)
{
    size_t i = 0;
    while (i < e->n_peers && e->peers[i].used) i++;
    if (i == e->n_peers) {
        if (e->n_peers == e->cap_peers) {
            size_t cap = e->cap_peers ? 2 * e->cap_peers : 8;
            epeer_t *np = realloc(e->peers, cap * sizeof *np);
            if (!np) return RUMOR_ENGINE_NONE;
            e->peers = np;
            e->cap_peers = cap;
        }
        e->n_peers++;
    }
    epeer_t *x = &e->peers[i];
    memset(x, 0, sizeof *x);
    if (e->score && rumor_score_up(e->score, (uint32_t)i, pk) < 0) {
        while (e->n_peers && !e->peers[e->n_peers - 1].used) e->n_peers--;
        return RUMOR_ENGINE_NONE;
    }
    memcpy(x->pk, pk, ID);
    x->user = user;
    x->used = true;
    return (rumor_engine_peer_t)i;
}

static bool in_mesh(const etopic_t *t, rumor_engine_peer_t p)
{
    for (size_t i = 0; i < t->n_mesh; i++)
        if (t->mesh[i] == p) return true;
    return false;
}

/* Whether the strategy keeps meshes (gossipsub's, or tree's eager sets). */
static bool meshes(const rumor_engine_t *e)
{
    return e->o.strategy != RUMOR_STRATEGY_FLOOD;
}

static bool tree(const rumor_engine_t *e)
{
    return e->o.strategy == RUMOR_STRATEGY_TREE;
}

/* Scores of meshes (P1, P3) and back-offs are gossipsub's: a tree's links come and go by
 * design, and a tree child brings nothing. */
static bool score_meshes(const rumor_engine_t *e)
{
    return e->score && !tree(e);
}

/* The peer's score; 0 while scoring is off. */
static double score(const rumor_engine_t *e, rumor_engine_peer_t p)
{
    return e->score ? rumor_score_of(e->score, p, NULL) : 0;
}

static void mesh_remove(rumor_engine_t *e, etopic_t *t, rumor_engine_peer_t p)
{
    for (size_t i = 0; i < t->n_mesh; i++)
        if (t->mesh[i] == p) {
            t->mesh[i] = t->mesh[--t->n_mesh];
            if (score_meshes(e)) rumor_score_mesh(e->score, p, t->id, false);
            return;
        }
}

void rumor_engine_peer_down(rumor_engine_t *e, rumor_engine_peer_t p)
{
    if (!live(e, p)) return;
    for (size_t i = 0; i < e->n_topics; i++) mesh_remove(e, &e->topics[i], p);
    if (e->score) rumor_score_down(e->score, p, e->now);
    for (size_t i = 0; i < e->n_missing;) /* its announcements: the handle may be given again */
        if (e->missing[i].from == p)
            e->missing[i] = e->missing[--e->n_missing];
        else
            i++;
    free(e->peers[p].topics);
    memset(&e->peers[p], 0, sizeof e->peers[p]);
    /* Actions still queued for it go nowhere. */
    for (size_t i = e->q_head; i < e->q_n; i++)
        if (e->q[i].a.peer == p) e->q[i].a.user = NULL;
    while (e->n_peers && !e->peers[e->n_peers - 1].used) e->n_peers--;
}

bool rumor_engine_subscribes(const rumor_engine_t *e, rumor_engine_peer_t p,
                             const uint8_t topic[ID])
{
    if (!live(e, p)) return false;
    const epeer_t *x = &e->peers[p];
    return x->n_topics && bsearch(topic, x->topics, x->n_topics, ID, id_cmp) != NULL;
}

static etopic_t *topic_find(const rumor_engine_t *e, const uint8_t id[ID])
{
    if (!e->n_topics) return NULL;
    return bsearch(id, e->topics, e->n_topics, sizeof *e->topics, id_cmp);
}

bool rumor_engine_wants_duplicates(const rumor_engine_t *e)
{
    return tree(e) || e->score;
}

bool rumor_engine_meshed(const rumor_engine_t *e, rumor_engine_peer_t p)
{
    for (size_t i = 0; i < e->n_topics; i++)
        if (in_mesh(&e->topics[i], p)) return true;
    return false;
}

size_t rumor_engine_mesh_size(const rumor_engine_t *e, const uint8_t topic[ID])
{
    const etopic_t *t = topic_find(e, topic);
    return t ? t->n_mesh : 0;
}

/* ---- meshes ---- */

static void shuffle(rumor_engine_t *e, rumor_engine_peer_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = e->o.uniform(e->o.uniform_ctx, (uint32_t)i);
        rumor_engine_peer_t x = a[i - 1];
        a[i - 1] = a[j];
        a[j] = x;
    }
}

/* Adds `p` to the mesh of `t`; a newcomer missed what was pushed, so it hears the recent ids. */
static void mesh_add(rumor_engine_t *e, etopic_t *t, rumor_engine_peer_t p)
{
    uint8_t ids[RUMOR_WIRE_IDS_MAX * ID];
    if (t->n_mesh >= RUMOR_ENGINE_MESH_MAX || in_mesh(t, p)) return;
    t->mesh[t->n_mesh++] = p;
    if (score_meshes(e)) rumor_score_mesh(e->score, p, t->id, true);
    size_t n = rumor_gossip_mcache_recent(e->mcache, e->o.history_gossip, t->id, ids);
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_IHAVE, .topic = t->id, .ids = ids, .n = n};
    if (n) send_frame(e, p, &f, RUMOR_ENGINE_COUNT_IHAVE);
}

/* A PRUNE that answers our GRAFT within REFUSAL_MS is a refusal (the peer's mesh is full): we
 * ask that peer again after REFUSAL_RETRY_MS, not after the back-off, and it holds nothing
 * against us. A PRUNE of a link that was in both meshes starts the back-off on both sides. */
#define REFUSAL_MS       2000
#define REFUSAL_RETRY_MS 10000

static void graft(rumor_engine_t *e, etopic_t *t, rumor_engine_peer_t p)
{
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_GRAFT, .topic = t->id};
    mesh_add(e, t, p);
    send_frame(e, p, &f, RUMOR_ENGINE_COUNT_GRAFT);
    if (score_meshes(e)) rumor_score_grafted(e->score, p, t->id, e->now);
}

/* Refuses a GRAFT of `t` from `p` (PRUNE), with no back-off: it may ask again later. */
static void refuse(rumor_engine_t *e, const etopic_t *t, rumor_engine_peer_t p)
{
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_PRUNE, .topic = t->id};
    send_frame(e, p, &f, RUMOR_ENGINE_COUNT_PRUNE);
}

/* Sends PRUNE of `t` to `p`; in gossipsub mode, neither side grafts the other again within the
 * back-off. */
static void prune(rumor_engine_t *e, const etopic_t *t, rumor_engine_peer_t p)
{
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_PRUNE, .topic = t->id};
    send_frame(e, p, &f, RUMOR_ENGINE_COUNT_PRUNE);
    if (score_meshes(e))
        rumor_score_backoff(e->score, p, t->id, e->now + e->o.score.backoff_ms, true);
}

/* Whether `p` may join the mesh of `t` by our GRAFT: its score is not below `graft` and no PRUNE
 * between us is within its back-off. */
static bool graftable(const rumor_engine_t *e, const etopic_t *t, rumor_engine_peer_t p)
{
    if (!e->score) return true;
    if (score_meshes(e) && rumor_score_waits(e->score, p, t->id, e->now)) return false;
    return score(e, p) >= e->o.score.graft;
}

/* Up to RUMOR_ENGINE_MESH_MAX subscribed peers of `t` outside its mesh, in random order: those
 * that may be grafted (`for_graft`), or those that take gossip (score not below `gossip`). */
static size_t outside(rumor_engine_t *e, const etopic_t *t, rumor_engine_peer_t *out,
                      bool for_graft)
{
    size_t n = 0;
    for (rumor_engine_peer_t p = 0; p < e->n_peers && n < RUMOR_ENGINE_MESH_MAX; p++) {
        if (!e->peers[p].used || !rumor_engine_subscribes(e, p, t->id) || in_mesh(t, p)) continue;
        if (for_graft ? !graftable(e, t, p) : e->score && score(e, p) < e->o.score.gossip) continue;
        out[n++] = p;
    }
    shuffle(e, out, n);
    return n;
}

/* Grafts subscribed peers into one topic's mesh until it has D. */
static void mesh_fill(rumor_engine_t *e, etopic_t *t)
{
    rumor_engine_peer_t cand[RUMOR_ENGINE_MESH_MAX];
    size_t n = outside(e, t, cand, true);
    for (size_t k = 0; k < n && t->n_mesh < e->o.d; k++) graft(e, t, cand[k]);
}

int rumor_strategy_parse(const char *name)
{
    static const char *names[] = {"gossipsub", "flood", "tree"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

void rumor_engine_fill(rumor_engine_t *e)
{
    if (!meshes(e) || tree(e)) return;
    for (size_t i = 0; i < e->n_topics; i++)
        if (e->topics[i].n_mesh < e->o.d_lo) mesh_fill(e, &e->topics[i]);
}

int rumor_engine_topics(rumor_engine_t *e, const uint8_t *topics, size_t n)
{
    etopic_t *nt = n ? calloc(n, sizeof *nt) : NULL;
    if (n && !nt) return RUMOR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const etopic_t *old = topic_find(e, topics + i * ID);
        if (old)
            nt[i] = *old;
        else
            memcpy(nt[i].id, topics + i * ID, ID);
    }
    free(e->topics);
    e->topics = nt;
    e->n_topics = n;
    return RUMOR_OK;
}

int rumor_engine_peer_topics(rumor_engine_t *e, rumor_engine_peer_t p, const uint8_t *topics,
                             size_t n)
{
    if (!live(e, p)) return RUMOR_ERR_INVALID;
    uint8_t *copy = n ? malloc(n * ID) : NULL;
    if (n && !copy) return RUMOR_ERR_NOMEM;
    if (n) memcpy(copy, topics, n * ID);
    epeer_t *x = &e->peers[p];
    uint8_t *old = x->topics;
    size_t n_old = x->n_topics;
    x->topics = copy;
    x->n_topics = n;
    for (size_t i = 0; i < e->n_topics; i++) {
        etopic_t *t = &e->topics[i];
        bool known = n_old && bsearch(t->id, old, n_old, ID, id_cmp);
        if (!rumor_engine_subscribes(e, p, t->id)) {
            mesh_remove(e, t, p);
        } else if (tree(e)) {
            /* A subscription new to us makes the link eager (its node does the same, so no
             * GRAFT); one known already keeps what duplicates and repairs made of it. */
            if (!known && !in_mesh(t, p) && t->n_mesh < RUMOR_ENGINE_MESH_MAX)
                t->mesh[t->n_mesh++] = p;
        } else if (meshes(e) && t->n_mesh < e->o.d_lo && !in_mesh(t, p) && graftable(e, t, p)) {
            /* A topic short of peers takes the newcomer now, not at the next heartbeat. */
            graft(e, t, p);
        }
    }
    free(old);
    return RUMOR_OK;
}

/* ---- frames ---- */

static void on_graft(rumor_engine_t *e, rumor_engine_peer_t p, const rumor_wire_frame_t *f)
{
    etopic_t *t = topic_find(e, f->topic);
    if (!meshes(e) || !t || in_mesh(t, p)) return;
    if (score_meshes(e) && rumor_score_strict(e->score, p, t->id, e->now)) {
        rumor_score_penalty(e->score, p); /* P7: it was told to wait */
        e->counters.backoff_grafts++;
        prune(e, t, p);
        return;
    }
    /* A peer scoring below `graft` is not taken, and waits the back-off. */
    if (e->score && score(e, p) < e->o.score.graft) {
        prune(e, t, p);
        return;
    }
    /* Accepting up to D (not D_hi, as gossipsub does) keeps the degree, and so the duplicates,
     * near D: up to D_hi gave 28% more duplicates in the simulator (bench/sim/RESULTS.md). A
     * full mesh refuses without a back-off: the peer asks again in REFUSAL_RETRY_MS. A tree
     * takes every graft (a repair). */
    if ((!tree(e) && t->n_mesh >= e->o.d) || t->n_mesh >= RUMOR_ENGINE_MESH_MAX ||
        !rumor_engine_subscribes(e, p, f->topic)) {
        refuse(e, t, p);
        return;
    }
    mesh_add(e, t, p);
}

void rumor_engine_want(rumor_engine_t *e, rumor_engine_peer_t p, const uint8_t *ids, size_t n,
                       uint64_t now)
{
    if (!n || !live(e, p)) return;
    if (n > RUMOR_WIRE_IDS_MAX) n = RUMOR_WIRE_IDS_MAX;
    for (size_t i = 0; i < n; i++) rumor_gossip_seen_add(e->asked, ids + i * ID, now);
    rumor_wire_frame_t r = {.type = RUMOR_WIRE_IWANT, .ids = ids, .n = n};
    send_frame(e, p, &r, RUMOR_ENGINE_COUNT_IWANT);
}

static void missing_add(rumor_engine_t *e, const uint8_t id[ID], const uint8_t topic[ID],
                        rumor_engine_peer_t from, uint64_t due)
{
    size_t mine = 0;
    for (size_t i = 0; i < e->n_missing; i++) {
        if (memcmp(e->missing[i].id, id, ID) == 0) return; /* the first announcer is asked */
        mine += e->missing[i].from == from;
    }
    if (!e->missing && !(e->missing = malloc(MISSING_MAX * sizeof *e->missing))) return;
    /* Anyone may announce ids that do not exist: one peer holds at most a quarter. */
    if (e->n_missing == MISSING_MAX || mine >= MISSING_MAX / 4) return; /* left to catch-up */
    emissing_t *m = &e->missing[e->n_missing++];
    memcpy(m->id, id, ID);
    memcpy(m->topic, topic, ID);
    m->from = from;
    m->due_ms = due;
}

/* Tree mode: ids announced that did not come by the repair time are asked of their announcer,
 * whose link becomes eager (GRAFT): the tree did not bring them. */
static void missing_expire(rumor_engine_t *e, uint64_t now)
{
    /* Due ids still missing, grouped by announcer: one IWANT (and one GRAFT) each. */
    while (e->n_missing) {
        rumor_engine_peer_t from = RUMOR_ENGINE_NONE;
        uint8_t topic[ID], want[RUMOR_WIRE_IDS_MAX * ID];
        size_t n = 0;
        for (size_t i = 0; i < e->n_missing;) {
            emissing_t *m = &e->missing[i];
            bool mine =
                from == RUMOR_ENGINE_NONE || (m->from == from && memcmp(m->topic, topic, ID) == 0);
            if (m->due_ms > now || !mine || n == RUMOR_WIRE_IDS_MAX) {
                i++;
                continue;
            }
            if (from == RUMOR_ENGINE_NONE) from = m->from, memcpy(topic, m->topic, ID);
            bool arrived = rumor_gossip_seen_has(e->seen, m->id) ||
                           (e->o.has && e->o.has(e->o.has_ctx, m->id));
            if (!arrived) memcpy(want + ID * n++, m->id, ID);
            *m = e->missing[--e->n_missing];
        }
        if (from == RUMOR_ENGINE_NONE) break; /* nothing due */
        etopic_t *t = topic_find(e, topic);
        /* Only a peer that still takes the topic is asked, and made eager. */
        if (!n || !t || !rumor_engine_subscribes(e, from, topic)) continue;
        rumor_engine_want(e, from, want, n, now);
        for (size_t k = 0; e->score && k < n; k++)
            rumor_score_promise(e->score, from, want + k * ID);
        if (!in_mesh(t, from)) mesh_add(e, t, from);
        rumor_wire_frame_t g = {.type = RUMOR_WIRE_GRAFT, .topic = t->id};
        send_frame(e, from, &g, RUMOR_ENGINE_COUNT_GRAFT); /* even if eager here: both agree */
    }
}

static void on_ihave(rumor_engine_t *e, rumor_engine_peer_t p, const rumor_wire_frame_t *f,
                     uint64_t now)
{
    etopic_t *t = topic_find(e, f->topic);
    if (!t || !rumor_engine_subscribes(e, p, f->topic)) return;
    if (e->score && score(e, p) < e->o.score.gossip) return;
    uint8_t want[RUMOR_WIRE_IDS_MAX * ID];
    size_t n = 0;
    for (size_t i = 0; i < f->n && n < RUMOR_WIRE_IDS_MAX; i++) {
        const uint8_t *id = f->ids + i * ID;
        if (rumor_gossip_seen_has(e->seen, id) || (e->o.has && e->o.has(e->o.has_ctx, id)))
            continue;
        if (tree(e)) {
            /* It may be on its way down the tree: give the eager links until the repair time. */
            missing_add(e, id, t->id, p, now + e->o.repair_ms);
            continue;
        }
        memcpy(want + ID * n++, id, ID);
        if (e->score) rumor_score_promise(e->score, p, id);
    }
    rumor_engine_want(e, p, want, n, now);
}

static void on_iwant(rumor_engine_t *e, rumor_engine_peer_t p, const rumor_wire_frame_t *f)
{
    if (!f->n || (e->score && score(e, p) < e->o.score.gossip)) return;
    size_t off = arena_take(e, f->n * ID);
    if (off == SIZE_MAX) return;
    memcpy(e->arena + off, f->ids, f->n * ID);
    eaction_t *x = queue(e, RUMOR_ENGINE_SERVE, RUMOR_ENGINE_COUNT_NONE, p);
    if (!x) return;
    x->off = off;
    x->a.n = f->n;
}

void rumor_engine_frame(rumor_engine_t *e, rumor_engine_peer_t p, const rumor_wire_frame_t *f,
                        uint64_t now)
{
    if (!live(e, p)) return;
    e->now = now;
    if (rumor_engine_graylisted(e, p)) return;
    if (e->n_missing) missing_expire(e, now); /* repairs due do not wait for the heartbeat */
    switch (f->type) {
    case RUMOR_WIRE_GRAFT: on_graft(e, p, f); break;
    case RUMOR_WIRE_PRUNE: {
        etopic_t *t = topic_find(e, f->topic);
        if (!t) break;
        mesh_remove(e, t, p);
        if (!score_meshes(e)) break;
        /* Its back-off binds us too: no GRAFT of it to this topic until it ends (a refusal of
         * our GRAFT: until we may ask again). */
        uint64_t since = now > REFUSAL_MS ? now - REFUSAL_MS : 0;
        bool refusal = rumor_score_grafted_since(e->score, p, t->id, since);
        rumor_score_backoff(e->score, p, t->id,
                            now + (refusal ? REFUSAL_RETRY_MS : e->o.score.backoff_ms), false);
        break;
    }
    case RUMOR_WIRE_IHAVE: on_ihave(e, p, f, now); break;
    case RUMOR_WIRE_IWANT: on_iwant(e, p, f); break;
    default: break;
    }
}

/* ---- events ---- */

bool rumor_engine_seen(const rumor_engine_t *e, const uint8_t id[ID])
{
    return rumor_gossip_seen_has(e->seen, id);
}

void rumor_engine_saw(rumor_engine_t *e, const uint8_t id[ID], uint64_t now)
{
    rumor_gossip_seen_add(e->seen, id, now);
    if (e->score) rumor_score_delivered(e->score, id); /* whoever promised it kept it */
}

static void send_event(rumor_engine_t *e, rumor_engine_peer_t p, const uint8_t *frame, size_t len)
{
    eaction_t *x = queue(e, RUMOR_ENGINE_SEND, RUMOR_ENGINE_COUNT_FORWARDED, p);
    if (!x) return;
    x->ext = frame;
    x->a.len = len;
}

size_t rumor_engine_push(rumor_engine_t *e, const uint8_t topic[ID], const uint8_t *frame,
                         size_t len, rumor_engine_peer_t from)
{
    const etopic_t *t = topic_find(e, topic);
    size_t sent = 0;
    if (e->score && from != RUMOR_ENGINE_NONE) rumor_score_first(e->score, from, topic);
    /* Own events skip peers below `publish`. */
    bool own = from == RUMOR_ENGINE_NONE && e->score;
    if (meshes(e) && t && t->n_mesh) {
        for (size_t i = 0; i < t->n_mesh; i++) {
            /* (A mesh holds only subscribed peers; checked again, as nothing else is sent.) */
            if (t->mesh[i] == from || !rumor_engine_subscribes(e, t->mesh[i], topic)) continue;
            if (own && score(e, t->mesh[i]) < e->o.score.publish) continue;
            send_event(e, t->mesh[i], frame, len);
            sent++;
        }
        return sent;
    }
    /* No mesh (yet, or by strategy): subscribed peers, up to D of them while gossiping. */
    size_t max = meshes(e) ? e->o.d : SIZE_MAX;
    for (rumor_engine_peer_t p = 0; p < e->n_peers && sent < max; p++) {
        if (p == from || !e->peers[p].used || !rumor_engine_subscribes(e, p, topic)) continue;
        if (e->score && score(e, p) < (own ? e->o.score.publish : e->o.score.graylist)) continue;
        send_event(e, p, frame, len);
        sent++;
    }
    return sent;
}

void rumor_engine_duplicate(rumor_engine_t *e, rumor_engine_peer_t from, const uint8_t topic[ID],
                            const uint8_t id[ID], uint64_t now)
{
    e->now = now;
    if (e->score) {
        rumor_score_copy(e->score, from, topic); /* a mesh delivery all the same (P3) */
        rumor_score_delivered(e->score, id);
    }
    etopic_t *t = topic_find(e, topic);
    if (!tree(e) || !t || !rumor_engine_subscribes(e, from, topic)) return;
    /* The profile topic's events go to every peer on HELLO, whatever the links: no cycle. */
    if (rumor_is_zero(topic, ID)) return;
    /* One of its copies was asked for (a parent, a repair, a catch-up): no cycle shown. */
    if (rumor_gossip_seen_has(e->asked, id)) return;
    /* Answered whatever our view of the link: a PRUNE that was lost, or a link eager on its side
     * only, would otherwise go on pushing copies. */
    mesh_remove(e, t, from);
    prune(e, t, from);
}

void rumor_engine_fetched(rumor_engine_t *e, const uint8_t id[ID], uint64_t now)
{
    rumor_gossip_seen_add(e->asked, id, now);
}

void rumor_engine_announce(rumor_engine_t *e, const uint8_t topic[ID], const uint8_t id[ID])
{
    rumor_gossip_mcache_add(e->mcache, topic, id);
}

/* ---- the heartbeat ---- */

/* Sorts peers by score, best first (insertion sort: a mesh is small). */
static void by_score(const rumor_engine_t *e, rumor_engine_peer_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        rumor_engine_peer_t x = a[i];
        double v = score(e, x);
        size_t j = i;
        for (; j > 0 && score(e, a[j - 1]) < v; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Back to D: the best d_score peers by score stay, the rest of the places go at random. */
static void mesh_trim(rumor_engine_t *e, etopic_t *t)
{
    size_t keep = 0;
    if (e->score) {
        by_score(e, t->mesh, t->n_mesh);
        keep = e->o.score.d_score < e->o.d ? e->o.score.d_score : e->o.d;
    }
    shuffle(e, t->mesh + keep, t->n_mesh - keep);
    while (t->n_mesh > e->o.d) {
        rumor_engine_peer_t p = t->mesh[t->n_mesh - 1];
        mesh_remove(e, t, p);
        prune(e, t, p);
    }
}

/* Mesh peers scoring below `graft` go (PRUNE). */
static void prune_by_score(rumor_engine_t *e, etopic_t *t)
{
    for (size_t k = 0; k < t->n_mesh;) {
        rumor_engine_peer_t p = t->mesh[k];
        if (score(e, p) >= e->o.score.graft) {
            k++;
            continue;
        }
        mesh_remove(e, t, p);
        prune(e, t, p);
        e->counters.pruned_by_score++;
    }
}

/* Every OPPORTUNISTIC_TICKS heartbeats, a mesh whose median score is below `opportunistic` grafts
 * up to two peers scoring above that median: a mesh held by peers that bring little gets better
 * ones even while it is full. */
#define OPPORTUNISTIC_TICKS 60
static void graft_opportunistic(rumor_engine_t *e, etopic_t *t)
{
    if (t->n_mesh < 2) return;
    rumor_engine_peer_t sorted[RUMOR_ENGINE_MESH_MAX], cand[RUMOR_ENGINE_MESH_MAX];
    memcpy(sorted, t->mesh, t->n_mesh * sizeof *sorted);
    by_score(e, sorted, t->n_mesh);
    double median = score(e, sorted[t->n_mesh / 2]);
    if (median >= e->o.score.opportunistic) return;
    size_t n = outside(e, t, cand, true), grafted = 0;
    for (size_t k = 0; k < n && grafted < 2; k++)
        if (score(e, cand[k]) > median) {
            graft(e, t, cand[k]);
            grafted++;
            e->counters.opportunistic_grafts++;
        }
}

static void mesh_maintain(rumor_engine_t *e)
{
    for (size_t i = 0; i < e->n_topics; i++) {
        etopic_t *t = &e->topics[i];
        if (tree(e)) {
            /* A tree keeps what duplicates left it, but never no link at all. */
            rumor_engine_peer_t cand[RUMOR_ENGINE_MESH_MAX];
            if (!t->n_mesh && outside(e, t, cand, true)) graft(e, t, cand[0]);
            continue;
        }
        if (e->score) prune_by_score(e, t);
        if (t->n_mesh < e->o.d_lo)
            mesh_fill(e, t);
        else if (t->n_mesh > e->o.d_hi)
            mesh_trim(e, t);
        if (e->score && e->ticks % OPPORTUNISTIC_TICKS == 0) graft_opportunistic(e, t);
    }
}

/* IHAVE to up to D_lazy subscribed peers outside the mesh, of the ids of the last
 * history_gossip heartbeats. */
static void emit_ihave(rumor_engine_t *e)
{
    uint8_t ids[RUMOR_WIRE_IDS_MAX * ID];
    rumor_engine_peer_t cand[RUMOR_ENGINE_MESH_MAX];
    for (size_t i = 0; i < e->n_topics; i++) {
        etopic_t *t = &e->topics[i];
        size_t n = rumor_gossip_mcache_recent(e->mcache, e->o.history_gossip, t->id, ids);
        if (!n) continue;
        size_t nc = outside(e, t, cand, false);
        rumor_wire_frame_t f = {.type = RUMOR_WIRE_IHAVE, .topic = t->id, .ids = ids, .n = n};
        size_t off, len = nc && e->o.d_lazy ? encode(e, &f, &off) : 0; /* once for all */
        for (size_t k = 0; len && k < nc && k < e->o.d_lazy; k++)
            send_encoded(e, cand[k], off, len, RUMOR_ENGINE_COUNT_IHAVE);
    }
}

uint64_t rumor_engine_next_expiry(const rumor_engine_t *e)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < e->n_missing; i++)
        if (e->missing[i].due_ms < next) next = e->missing[i].due_ms;
    return next;
}

void rumor_engine_expire(rumor_engine_t *e, uint64_t now)
{
    e->now = now;
    if (e->n_missing) missing_expire(e, now);
}

void rumor_engine_tick(rumor_engine_t *e, uint64_t now)
{
    e->now = now;
    e->ticks++;
    if (e->score) {
        rumor_score_tick(e->score); /* broken promises count now */
        for (rumor_engine_peer_t p = 0; p < e->n_peers; p++)
            if (e->peers[p].used) drop_if_graylisted(e, p);
    }
    if (meshes(e)) {
        mesh_maintain(e);
        emit_ihave(e);
    }
    if (e->n_missing) missing_expire(e, now);
    rumor_gossip_mcache_shift(e->mcache);
    rumor_gossip_seen_expire(e->seen, e->o.seen_ttl_ms, now);
    rumor_gossip_seen_expire(e->asked, ASKED_TTL_MS, now);
}

/* ---- peer scores ---- */

void rumor_engine_score_defaults(rumor_engine_score_opts_t *o)
{
    *o = (rumor_engine_score_opts_t){
        .on = true,
        .w1 = 0.01,
        .w2 = 1,
        .w3 = -1,
        .w3b = -1,
        .w4 = -10,
        .w5 = 1,
        .w6 = -1,
        .w7 = -1,
        .graft = 0,
        .gossip = -10,
        .publish = -50,
        .graylist = -80,
        .opportunistic = 1,
        .ip_max = 4,
        .d_score = 4,
        .backoff_ms = 60000,
    };
}

void rumor_engine_arrived(rumor_engine_t *e, const uint8_t id[ID])
{
    if (e->score) rumor_score_delivered(e->score, id);
}

void rumor_engine_peer_addr(rumor_engine_t *e, rumor_engine_peer_t p, const uint8_t *addr,
                            size_t len)
{
    if (e->score && live(e, p)) rumor_score_addr(e->score, p, addr, len);
}

void rumor_engine_peer_trust(rumor_engine_t *e, rumor_engine_peer_t p, bool trusted)
{
    if (e->score && live(e, p)) rumor_score_trust(e->score, p, trusted);
}

/* Queues DROP for a peer whose score fell below the graylist, once. */
static void drop_if_graylisted(rumor_engine_t *e, rumor_engine_peer_t p)
{
    if (e->peers[p].dropped || !rumor_engine_graylisted(e, p)) return;
    e->peers[p].dropped = true;
    queue(e, RUMOR_ENGINE_DROP, RUMOR_ENGINE_COUNT_NONE, p);
}

void rumor_engine_invalid(rumor_engine_t *e, rumor_engine_peer_t p)
{
    if (!e->score || !live(e, p)) return;
    rumor_score_invalid(e->score, p);
    drop_if_graylisted(e, p);
}

void rumor_engine_misbehaved(rumor_engine_t *e, rumor_engine_peer_t p)
{
    if (!e->score || !live(e, p)) return;
    rumor_score_penalty(e->score, p);
    drop_if_graylisted(e, p);
}

bool rumor_engine_graylisted(const rumor_engine_t *e, rumor_engine_peer_t p)
{
    return e->score && live(e, p) && score(e, p) < e->o.score.graylist;
}

bool rumor_engine_score(const rumor_engine_t *e, rumor_engine_peer_t p, rumor_engine_score_t *out)
{
    memset(out, 0, sizeof *out);
    if (!e->score || !live(e, p)) return false;
    rumor_score_of(e->score, p, out);
    return true;
}

void rumor_engine_counters(const rumor_engine_t *e, rumor_engine_counters_t *out)
{
    *out = e->counters;
    if (e->score) out->broken_promises = rumor_score_broken_promises(e->score);
}
