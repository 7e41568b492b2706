/*
 * sim.c - N gossip engines (gossip/engine.h) in one process, on a virtual clock: links with
 * latency, loss and bandwidth, heartbeats, publishers, churn, partitions and a model of
 * anti-entropy. A node does with each frame what node/daemon.c does, with a validity oracle
 * in place of signatures and stores, and a table of what each node holds in place of LMDB.
 *
 * Everything random comes from streams derived from the scenario's seed: one per node (the
 * engine's `uniform`), one for the topology, one for the network (latency, loss, catch-up
 * peers) and one for the scenario (publishers, churn, partitions, invalid messages). Ties in
 * time go by queue order. So a seed gives the same run, to the byte.
 */
#include "sim.h"

#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ID        RUMOR_ID_BYTES
#define US_PER_MS 1000ULL

/* Stream labels (any distinct numbers). */
enum {
    RNG_NODE = 1,
    RNG_TOPO,
    RNG_NET,
    RNG_SCENARIO,
    RNG_ID,
    RNG_TOPIC,
    RNG_PK,
    RNG_CPU,
    RNG_HOSTILE
};

/* Dials a node under its peer target makes per heartbeat (the daemon's DIALS_PER_BEAT). */
#define DIALS_PER_BEAT 4
/* Random picks per link wanted before a dial gives up (a full or cut-off network). */
#define DIAL_TRIES 64

/* The modelled set reconciliation (README.md), with the frame sizes of PROTOCOL.md 12.2: a
 * frame of 16 FINGERPRINT ranges (the opening one, and each cut), and the one-SKIP frame that
 * settles an exchange. */
#define RECON_HEAD_BYTES  (2 + ID + 1 + 1)
#define RECON_BOUND_BYTES (8 + ID)
#define RECON_CUT_BYTES                                                                            \
    (RECON_HEAD_BYTES + RUMOR_RECON_SPLIT * (RECON_BOUND_BYTES + 1 + 4 + RUMOR_RECON_FP_BYTES))
#define RECON_SETTLED_BYTES (RECON_HEAD_BYTES + RECON_BOUND_BYTES + 1)
#define RECON_ROUNDS_MAX    16

/* A PRUNE's back-off (PROTOCOL.md 9.8), should the score defaults give none. */
#define BACKOFF_MS_DEFAULT 60000
/* Addresses: honest node i has 10.0.0.0 + i + 1; hostile ones share 198.18.0.0 + k. */
#define ADDR_HONEST  0x0a000000u
#define ADDR_HOSTILE 0xc6120000u

/* Frame buffers in flight come from free lists of powers of two, 64 bytes up. */
#define POOL_CLASSES 12
#define POOL_HEAD    8 /* before the bytes: length, class */

/* What a queued event is. Frames arrive on half-link `a` of generation `b` at node `c`;
 * the others name a node, a message or a timed line in `a`. */
typedef enum {
    EV_FRAME = 1, /* a GRAFT/PRUNE/IHAVE/IWANT arrives: p its bytes (pool_take) */
    EV_EVENT,     /* an EVENT frame arrives: v the message, hops its hop count */
    EV_CATCHUP,   /* modelled catch-up events arrive: p message indices, p[0] how many */
    EV_HEARTBEAT, /* a node */
    EV_RECON,     /* a node's anti-entropy round */
    EV_PUBLISH,   /* a message */
    EV_AT,        /* a timed line starts */
    EV_RETURN,    /* a node comes back */
    EV_HEAL,      /* a timed line's partition heals */
    EV_CPU,       /* cores: a core is done with a frame of node a */
    EV_KEEP,      /* cores: a modelled keepalive frame waiting for the node's turn */
    EV_ATTACK,    /* hostile nodes start withholding (sybil: they arrive) */
    EV_ARRIVE,    /* a node not there at the start comes up (coldboot's honest nodes) */
    EV_SAMPLE,    /* the hostile share of honest meshes is sampled */
    EV_END,
} ev_kind_t;

typedef struct {
    sim_t *sim;
    rumor_engine_t *eng; /* NULL while offline */
    uint64_t rng;        /* the engine's stream */
    uint32_t idx;
    uint32_t *adj; /* its links */
    uint32_t deg, cap_adj;
    uint32_t held;    /* messages held */
    uint64_t busy_us; /* process_us: it handles frames until then */
    uint32_t beats;   /* heartbeats (keepalive: every 5th pings, every 10th sends PEERS) */
    /* cores: frames taken off its links, waiting for a core (a ring) */
    sim_ev_t *inq;
    uint32_t inq_head, inq_n, inq_cap;
    uint32_t runq_pos; /* its place in the run queue + 1; 0: not in it */
    bool running;      /* a core works on its first frame */
    bool up;
    uint8_t side;  /* of the partition */
    uint32_t addr; /* its IPv4 address, for peer scores' colocation term (P6) */
    /* After a return: when, how many messages were out then, how many of those it lacks. */
    bool catching;
    uint64_t back_us;
    uint32_t back_k, back_missing;
} node_t;

/*
 * A link between node[0] and node[1]. Half-link h = 2 * link + s is the link as node[s] sees
 * it: the engine's `user` for the peer is h + 1, and frames on h travel from node[s] to
 * node[1 - s].
 */
typedef struct {
    uint32_t node[2];
    rumor_engine_peer_t handle[2]; /* at node[s], the handle of node[1 - s] */
    uint64_t busy_us[2];           /* direction s serializes until then */
    uint64_t last_us[2];           /* the last arrival in direction s: frames keep their order */
    uint32_t lat_us;               /* drawn once, with latency_sample = link */
    uint32_t gen;                  /* bumped when the link goes down: frames in flight are lost */
    uint32_t heard_ms[2];          /* node[s] last handled a frame of node[1 - s] (keepalive) */
    uint32_t graft_ms[2];          /* a hostile node[s] grafts node[1 - s] again from then on */
    bool up;
} link_t;

struct sim {
    const sim_scenario_t *sc;
    uint32_t n, m; /* nodes, messages */
    node_t *nodes;
    link_t *links;
    uint32_t n_links, cap_links;
    uint32_t *free_links;
    uint32_t n_free;
    /* By message, then node: the nodes a message is reaching are close together. */
    uint8_t *hop;  /* m x n: 0 not held, else hops + 1 */
    uint32_t *lat; /* m x n: microseconds from publication to delivery */
    /* By node, then message: a node's messages are close together (catch-up compares them). */
    uint64_t *held;              /* n x words: bit m of node x */
    uint64_t *live;              /* words: valid messages published */
    size_t words;                /* per node */
    uint8_t *pool[POOL_CLASSES]; /* free frame buffers by size class */
    uint8_t *ids;                /* m x 32 */
    uint32_t *map;               /* open addressing, id -> index + 1 */
    uint64_t map_mask;
    uint8_t *topics; /* sorted */
    sim_msg_t *msgs;
    uint32_t published; /* messages whose publication time has come */
    uint32_t *pubset;   /* the fixed publishers */
    uint32_t *pick;     /* room for n node indices (churn, partitions) */
    sim_queue_t q;
    uint64_t now;
    uint64_t end_us;
    uint64_t rng_topo, rng_net, rng_scn, rng_cpu;
    uint32_t *runq; /* cores: nodes with frames waiting and no core */
    uint32_t n_runq;
    uint32_t cores_idle;
    double ln_mu, ln_sigma; /* lognormal latency */
    uint8_t *frame;         /* the EVENT frame a node pushes */
    rumor_wire_frame_t wf;  /* a decoded control frame (large: kept here, not on the stack) */
    bool cut_active;
    uint8_t cut_mode;
    uint32_t (*cut)[2]; /* links a partition took down, restored at the heal */
    size_t n_cut, cap_cut;
    sim_heal_t heals[SIM_AT_MAX];
    size_t n_heals;
    uint64_t *catchup;
    size_t n_catchup, cap_catchup;
    /* Attacks: each node's role, and whether hostile nodes withhold now. */
    uint8_t *role;
    bool attacking;
    uint32_t backoff_ms; /* a PRUNE's back-off, that polite hostile nodes wait out */
    bool failed;
    char why[256];
    sim_result_t r; /* the counters */
};

static void failf(sim_t *s, const char *fmt, ...)
{
    if (s->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    s->failed = true;
}

static inline uint64_t now_ms(const sim_t *s)
{
    return s->now / US_PER_MS;
}

static inline size_t cell(const sim_t *s, uint32_t node, uint32_t msg)
{
    return (size_t)msg * s->n + node;
}

static inline uint64_t *held_row(const sim_t *s, uint32_t node)
{
    return s->held + (size_t)node * s->words;
}

/* An invalid event a hostile node makes up carries the index one past the last message. */
static inline uint32_t junk_msg(const sim_t *s)
{
    return s->m;
}

static inline bool is_hostile(const sim_t *s, uint32_t node)
{
    return s->role[node] == SIM_ROLE_HOSTILE;
}

/* A hostile node that withholds now: it forwards nothing and serves nothing. */
static inline bool withholds(const sim_t *s, uint32_t node)
{
    return s->attacking && is_hostile(s, node);
}

/* ---- frame buffers ------------------------------------------------------------------- */

/* Room for `len` bytes (whose length it keeps), or NULL. */
static uint8_t *pool_take(sim_t *s, size_t len)
{
    unsigned k = 0;
    while (k + 1 < POOL_CLASSES && ((size_t)64 << k) < len + POOL_HEAD) k++;
    if (((size_t)64 << k) < len + POOL_HEAD) return NULL;
    uint8_t *b = s->pool[k];
    if (b) {
        memcpy(&s->pool[k], b + POOL_HEAD, sizeof b);
    } else if (!(b = malloc((size_t)64 << k))) {
        return NULL;
    }
    uint32_t head[2] = {(uint32_t)len, k};
    memcpy(b, head, sizeof head);
    return b + POOL_HEAD;
}

static size_t pool_len(const uint8_t *bytes)
{
    uint32_t len;
    memcpy(&len, bytes - POOL_HEAD, sizeof len);
    return len;
}

static void pool_give(sim_t *s, uint8_t *bytes)
{
    uint8_t *b = bytes - POOL_HEAD;
    uint32_t head[2];
    memcpy(head, b, sizeof head);
    memcpy(bytes, &s->pool[head[1]], sizeof b);
    s->pool[head[1]] = b;
}

/* Frees what an event owns. */
static void ev_drop(sim_t *s, sim_ev_t *ev)
{
    if (ev->kind == EV_FRAME)
        pool_give(s, ev->p);
    else if (ev->kind == EV_CATCHUP)
        free(ev->p);
}

static inline const uint8_t *topic_of(const sim_t *s, uint32_t msg)
{
    return s->topics + (size_t)(msg % s->sc->topics) * ID;
}

static void queue(sim_t *s, sim_ev_t *ev)
{
    if (sim_queue_push(&s->q, ev) < 0) {
        ev_drop(s, ev);
        failf(s, "the event queue is full or out of memory (%zu events)", s->q.n);
    }
}

static void at_time(sim_t *s, uint64_t t, uint8_t kind, uint32_t a)
{
    sim_ev_t ev = {.t = t, .kind = kind, .a = a};
    queue(s, &ev);
}

/* ---- ids --------------------------------------------------------------------------- */

static void make_id(uint64_t seed, uint64_t label, uint64_t index, uint8_t out[ID])
{
    uint64_t st = sim_stream(seed, label, index);
    for (int i = 0; i < ID / 8; i++) rumor_put_u64(out + 8 * i, sim_next64(&st));
}

/* The index of message `id`, or UINT32_MAX. */
static uint32_t lookup(const sim_t *s, const uint8_t id[ID])
{
    for (uint64_t i = rumor_get_u64(id) & s->map_mask, k = 0; k <= s->map_mask;
         i = (i + 1) & s->map_mask, k++) {
        uint32_t v = s->map[i];
        if (!v) return UINT32_MAX;
        if (memcmp(s->ids + (size_t)(v - 1) * ID, id, ID) == 0) return v - 1;
    }
    return UINT32_MAX;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ID);
}

/* ---- the engine's callbacks ------------------------------------------------------------ */

static uint32_t node_uniform(void *ctx, uint32_t upper)
{
    node_t *x = ctx;
    return sim_below(&x->rng, upper);
}

/* The node's store: does it hold the event? */
static bool node_has(void *ctx, const uint8_t id[ID])
{
    node_t *x = ctx;
    const sim_t *s = x->sim;
    uint32_t m = lookup(s, id);
    return m != UINT32_MAX && s->hop[cell(s, x->idx, m)];
}

static int engine_open(sim_t *s, node_t *x)
{
    const sim_scenario_t *sc = s->sc;
    rumor_engine_opts_t o = {.d = sc->d,
                             .d_lo = sc->d_lo,
                             .d_hi = sc->d_hi,
                             .d_lazy = sc->d_lazy,
                             .history_length = sc->history_length,
                             .history_gossip = sc->history_gossip,
                             .seen_max = sc->seen_max,
                             .seen_ttl_ms = sc->seen_ttl_ms,
                             .strategy = sc->strategy,
                             .repair_ms = sc->heartbeat_ms / 4, /* as node/daemon.c sets it */
                             .uniform = node_uniform,
                             .uniform_ctx = x,
                             .has = node_has,
                             .has_ctx = x};
    rumor_engine_score_defaults(&o.score);
    o.score.on = sc->score;
    if (is_hostile(s, x->idx)) {
        /* A hostile node keeps no scores, accepts every GRAFT and announces to every peer
         * outside its mesh. Its engine grafts no one (d_lo 0): hostile_beat does, minding
         * back-offs or not as the scenario says. */
        o.score.on = false;
        o.d = o.d_hi = o.d_lazy = RUMOR_ENGINE_MESH_MAX;
        o.d_lo = 0;
    }
    x->eng = rumor_engine_new(&o);
    if (!x->eng || rumor_engine_topics(x->eng, s->topics, sc->topics) < 0) {
        failf(s, "the engine of node %u could not be made", x->idx);
        return -1;
    }
    return 0;
}

/* ---- links ----------------------------------------------------------------------------- */

static uint64_t draw_latency(sim_t *s)
{
    const sim_dist_t *d = &s->sc->latency;
    double v = d->a;
    if (d->kind == SIM_LAT_UNIFORM) {
        v = d->a + (d->b - d->a) * sim_unit(&s->rng_net);
    } else if (d->kind == SIM_LAT_NORMAL || d->kind == SIM_LAT_LOGNORMAL) {
        /* Box-Muller: u1 in (0, 1]. */
        double u1 = 1.0 - sim_unit(&s->rng_net), u2 = sim_unit(&s->rng_net);
        double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        v = d->kind == SIM_LAT_NORMAL ? d->a + d->b * z : exp(s->ln_mu + s->ln_sigma * z);
    }
    if (!(v > 0)) return 0;
    return v > 3.6e9 ? 3600000000ULL : (uint64_t)llround(v);
}

static bool crosses(const sim_t *s, const link_t *l)
{
    return s->nodes[l->node[0]].side != s->nodes[l->node[1]].side;
}

static void count(sim_t *s, int kind, uint64_t frames, uint64_t bytes)
{
    s->r.frames[kind] += frames;
    s->r.bytes[kind] += bytes;
}

/*
 * Puts `len` bytes on half-link `h`, no earlier than `at`: they wait for the frames before
 * them to serialize, may be lost, and arrive a latency later, never before an earlier frame
 * of the same direction. `ev` says what arrives; what it owns is taken.
 */
static void send_on(sim_t *s, uint32_t h, uint64_t at, size_t len, sim_ev_t *ev)
{
    const sim_scenario_t *sc = s->sc;
    link_t *l = &s->links[h >> 1];
    unsigned d = h & 1;
    if (s->cut_active && s->cut_mode == SIM_CUT_DROP && crosses(s, l)) {
        s->r.lost_cut++;
        ev_drop(s, ev);
        return;
    }
    uint64_t start = at > l->busy_us[d] ? at : l->busy_us[d];
    uint64_t tx = sc->bandwidth ? (len * 8 * 1000000ULL + sc->bandwidth - 1) / sc->bandwidth : 0;
    l->busy_us[d] = start + tx;
    if (sc->loss > 0 && sim_unit(&s->rng_net) < sc->loss) {
        s->r.lost_loss++;
        ev_drop(s, ev);
        return;
    }
    uint64_t t = start + tx + (sc->latency_per_link ? l->lat_us : draw_latency(s));
    if (t < l->last_us[d]) t = l->last_us[d];
    l->last_us[d] = t;
    ev->t = t;
    ev->a = h;
    ev->b = l->gen;
    ev->c = l->node[1 - d];
    queue(s, ev);
}

static void send_event(sim_t *s, uint32_t h, uint32_t msg, uint8_t hops, int kind)
{
    sim_ev_t ev = {.kind = EV_EVENT, .hops = hops, .v = msg};
    count(s, kind, 1, s->sc->event_bytes);
    send_on(s, h, s->now, s->sc->event_bytes, &ev);
}

/* The events of `ids` the node holds, as EVENT frames to the peer (the daemon's serve). */
static void serve(sim_t *s, node_t *x, uint32_t h, const uint8_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t m = lookup(s, ids + i * ID);
        if (m == UINT32_MAX) continue;
        uint8_t held = s->hop[cell(s, x->idx, m)];
        if (held) send_event(s, h, m, (uint8_t)(held - 1), SIM_F_SERVED);
    }
}

static int frame_kind(uint8_t type)
{
    switch (type) {
    case RUMOR_WIRE_GRAFT: return SIM_F_GRAFT;
    case RUMOR_WIRE_PRUNE: return SIM_F_PRUNE;
    case RUMOR_WIRE_IHAVE: return SIM_F_IHAVE;
    case RUMOR_WIRE_IWANT: return SIM_F_IWANT;
    default: return -1;
    }
}

/* Puts a control frame (GRAFT, PRUNE, IHAVE, IWANT: `len` bytes, copied) on half-link `h`. */
static void send_frame(sim_t *s, uint32_t h, const uint8_t *buf, size_t len)
{
    int kind = len >= 2 ? frame_kind(buf[1]) : -1;
    uint8_t *copy = kind >= 0 ? pool_take(s, len) : NULL;
    if (!copy) {
        if (kind >= 0) failf(s, "out of memory (frames in flight)");
        return;
    }
    memcpy(copy, buf, len);
    count(s, kind, 1, len);
    sim_ev_t ev = {.kind = EV_FRAME, .p = copy};
    send_on(s, h, s->now, len, &ev);
}

/* Carries out what the node's engine decided (the daemon's engine_run). */
static void run(sim_t *s, node_t *x)
{
    rumor_engine_action_t a;
    while (rumor_engine_next(x->eng, &a)) {
        if (!a.user) continue; /* its peer went down meanwhile */
        uint32_t h = (uint32_t)((uintptr_t)a.user - 1);
        const link_t *l = &s->links[h >> 1];
        if (!l->up || l->node[h & 1] != x->idx) {
            failf(s, "node %u: an action for a link it does not have", x->idx);
            continue;
        }
        if (a.type == RUMOR_ENGINE_DROP) {
            /* The node drops and bans it; here its frames stay unread (graylisted) instead. */
            s->r.attack.score_drops++;
            continue;
        }
        if (a.type == RUMOR_ENGINE_SERVE) {
            if (withholds(s, x->idx))
                s->r.attack.withheld_served += a.n;
            else
                serve(s, x, h, a.ids, a.n);
            continue;
        }
        if (a.len >= SIM_EVENT_HEADER && a.buf[1] == RUMOR_WIRE_EVENT) {
            /* In flight, an EVENT is kept as what its bytes say; nothing else differs. */
            if (withholds(s, x->idx))
                s->r.attack.withheld_events++;
            else
                send_event(s, h, rumor_get_u32(a.buf + 2), a.buf[2 + 4 + ID], SIM_F_EVENT);
            continue;
        }
        send_frame(s, h, a.buf, a.len);
    }
}

static bool linked(const sim_t *s, const node_t *x, uint32_t y)
{
    for (uint32_t i = 0; i < x->deg; i++) {
        const link_t *l = &s->links[x->adj[i]];
        if (l->node[0] == y || l->node[1] == y) return true;
    }
    return false;
}

static int adj_add(sim_t *s, node_t *x, uint32_t link)
{
    if (x->deg == x->cap_adj) {
        uint32_t cap = x->cap_adj ? 2 * x->cap_adj : 8;
        uint32_t *a = realloc(x->adj, cap * sizeof *a);
        if (!a) {
            failf(s, "out of memory (links)");
            return -1;
        }
        x->adj = a;
        x->cap_adj = cap;
    }
    x->adj[x->deg++] = link;
    return 0;
}

static void adj_remove(node_t *x, uint32_t link)
{
    for (uint32_t i = 0; i < x->deg; i++)
        if (x->adj[i] == link) {
            /* Keep the order: the catch-up peer is drawn by position. */
            memmove(x->adj + i, x->adj + i + 1, (x->deg - i - 1) * sizeof *x->adj);
            x->deg--;
            return;
        }
}

/* Links two nodes: each engine hears of the other and of its topics (both hold them all). */
static void link_up(sim_t *s, uint32_t a, uint32_t b)
{
    uint32_t li;
    if (s->n_free) {
        li = s->free_links[--s->n_free];
    } else {
        if (s->n_links == s->cap_links) {
            uint32_t cap = s->cap_links ? 2 * s->cap_links : 1024;
            link_t *nl = realloc(s->links, cap * sizeof *nl);
            uint32_t *nf = nl ? realloc(s->free_links, cap * sizeof *nf) : NULL;
            if (nl) s->links = nl;
            if (!nl || !nf) {
                failf(s, "out of memory (links)");
                return;
            }
            s->free_links = nf;
            s->cap_links = cap;
        }
        li = s->n_links++;
        s->links[li].gen = 0;
    }
    link_t *l = &s->links[li];
    uint32_t gen = l->gen;
    memset(l, 0, sizeof *l);
    l->gen = gen;
    l->node[0] = a;
    l->node[1] = b;
    l->up = true;
    l->heard_ms[0] = l->heard_ms[1] = (uint32_t)now_ms(s); /* each heard the other's HELLO */
    if (s->sc->latency_per_link) l->lat_us = (uint32_t)draw_latency(s);
    if (adj_add(s, &s->nodes[a], li) < 0 || adj_add(s, &s->nodes[b], li) < 0) return;
    for (unsigned k = 0; k < 2; k++) {
        uint8_t pk[ID];
        make_id(s->sc->seed, RNG_PK, l->node[1 - k], pk);
        rumor_engine_t *eng = s->nodes[l->node[k]].eng;
        l->handle[k] = rumor_engine_peer_up(eng, pk, (void *)(uintptr_t)(2 * li + k + 1));
        if (l->handle[k] == RUMOR_ENGINE_NONE) {
            failf(s, "out of memory (an engine's peers)");
            return;
        }
        uint8_t addr[4];
        rumor_put_u32(addr, s->nodes[l->node[1 - k]].addr);
        rumor_engine_peer_addr(eng, l->handle[k], addr, sizeof addr);
        /* Every simulated node is a member of the topics (P5), as mesh peers are on a node. */
        rumor_engine_peer_trust(eng, l->handle[k], true);
    }
    for (unsigned k = 0; k < 2 && !s->failed; k++) {
        node_t *x = &s->nodes[l->node[k]];
        rumor_engine_peer_topics(x->eng, l->handle[k], s->topics, s->sc->topics);
        run(s, x);
    }
}

/* Takes a link down on both sides; frames in flight on it are lost. */
static void link_down(sim_t *s, uint32_t li)
{
    link_t *l = &s->links[li];
    l->up = false;
    l->gen++;
    for (unsigned k = 0; k < 2; k++) {
        node_t *x = &s->nodes[l->node[k]];
        adj_remove(x, li);
        if (x->eng) {
            rumor_engine_peer_down(x->eng, l->handle[k]);
            run(s, x);
        }
    }
    s->free_links[s->n_free++] = li;
}

/* The links an attack allows: hostile nodes never link to each other (it serves no attack),
 * and an eclipse's link to its victims only. */
static bool link_allowed(const sim_t *s, uint32_t a, uint32_t b)
{
    bool ha = is_hostile(s, a), hb = is_hostile(s, b);
    if (ha == hb) return !ha;
    return s->sc->attack != SIM_ATTACK_ECLIPSE || s->role[ha ? b : a] == SIM_ROLE_VICTIM;
}

static bool may_link(const sim_t *s, const node_t *x, uint32_t y)
{
    const node_t *o = &s->nodes[y];
    return y != x->idx && o->up && o->deg < s->sc->peers_max && !linked(s, x, y) &&
           !(s->cut_active && o->side != x->side) && link_allowed(s, x->idx, y);
}

/* The links a node dials until it has them: hostile ones may want more, an eclipse's victims
 * fewer; an eclipse's hostile nodes take the victims' links at the start (setup_links) and dial
 * no other. */
static uint32_t peers_target(const sim_t *s, const node_t *x)
{
    const sim_scenario_t *sc = s->sc;
    if (s->role[x->idx] == SIM_ROLE_VICTIM && sc->victim_peers) return sc->victim_peers;
    if (!is_hostile(s, x->idx)) return sc->peers;
    if (sc->attack == SIM_ATTACK_ECLIPSE) return 0;
    return sc->hostile_peers ? sc->hostile_peers : sc->peers;
}

/* Dials random nodes until the node has its peer target of links, at most `max` new ones. */
static void dial(sim_t *s, node_t *x, uint32_t max)
{
    uint32_t target = peers_target(s, x);
    uint32_t want = x->deg < target ? target - x->deg : 0;
    if (want > max) want = max;
    uint32_t made = 0;
    for (uint32_t tries = 0; made < want && tries < DIAL_TRIES * want && !s->failed; tries++) {
        uint32_t y = sim_below(&s->rng_topo, s->n);
        if (!may_link(s, x, y)) continue;
        link_up(s, x->idx, y);
        made++;
    }
}

/* setup = sequential: node i, started after nodes 0..i-1, dials only those (bench_mesh.py
 * starts its nodes one after the other, each with links to earlier ones). */
static void dial_earlier(sim_t *s, node_t *x)
{
    uint32_t want = x->idx < s->sc->peers ? x->idx : s->sc->peers;
    want = x->deg < want ? want - x->deg : 0;
    uint32_t made = 0;
    for (uint32_t tries = 0; made < want && tries < DIAL_TRIES * want && !s->failed; tries++) {
        uint32_t y = sim_below(&s->rng_topo, x->idx);
        if (!may_link(s, x, y)) continue;
        link_up(s, x->idx, y);
        made++;
    }
}

/* ---- events ----------------------------------------------------------------------------- */

/* The node holds everything published before its return: its catch-up time. */
static void caught_up(sim_t *s, node_t *x)
{
    x->catching = false;
    if (s->n_catchup == s->cap_catchup) {
        size_t cap = s->cap_catchup ? 2 * s->cap_catchup : 64;
        uint64_t *c = realloc(s->catchup, cap * sizeof *c);
        if (!c) {
            failf(s, "out of memory (catch-up times)");
            return;
        }
        s->catchup = c;
        s->cap_catchup = cap;
    }
    s->catchup[s->n_catchup++] = s->now - x->back_us;
}

/* Node `x` holds message `msg` now, `hops` from its publisher. */
static void deliver(sim_t *s, node_t *x, uint32_t msg, uint8_t hops, bool by_recon)
{
    size_t k = cell(s, x->idx, msg);
    uint64_t lat = s->now - s->msgs[msg].publish_us;
    s->hop[k] = (uint8_t)(hops + 1);
    s->lat[k] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    held_row(s, x->idx)[msg >> 6] |= 1ULL << (msg & 63);
    x->held++;
    s->r.deliveries++;
    if (by_recon) {
        s->r.by_recon++;
        s->msgs[msg].by_recon++;
    } else {
        s->r.hop_hist[hops]++;
        if (msg >= s->sc->window_from) s->r.window_hop_hist[hops]++;
    }
    if (x->catching && msg < x->back_k && --x->back_missing == 0) caught_up(s, x);
    for (size_t i = 0; i < s->n_heals; i++) {
        sim_heal_t *hl = &s->heals[i];
        if (hl->missing && msg < hl->k && (hl->nodes[x->idx >> 3] >> (x->idx & 7) & 1) &&
            --hl->missing == 0)
            hl->converged = s->now - hl->heal_us;
    }
}

/* Writes the EVENT frame of `msg` as the node relays it. */
static void frame_for(sim_t *s, uint32_t msg, uint8_t hops)
{
    rumor_put_u32(s->frame + 2, msg);
    memcpy(s->frame + 2 + 4, s->ids + (size_t)msg * ID, ID);
    s->frame[2 + 4 + ID] = hops;
}

/* An EVENT frame from peer `from` (the daemon's queue_event, batch_fn and process_batch). */
static void on_event(sim_t *s, node_t *x, rumor_engine_peer_t from, uint32_t msg, uint8_t hops)
{
    if (msg > s->m) return;
    if (msg == junk_msg(s) || !s->msgs[msg].valid) {
        /* The checks failed: dropped, and held against its sender (the daemon's count_invalid;
         * P4 of the peer's score). */
        s->r.invalid_dropped++;
        s->r.attack.invalid_reported += !is_hostile(s, x->idx);
        rumor_engine_invalid(x->eng, from);
        run(s, x);
        return;
    }
    sim_msg_t *g = &s->msgs[msg];
    const uint8_t *id = s->ids + (size_t)msg * ID;
    if (rumor_engine_seen(x->eng, id) || s->hop[cell(s, x->idx, msg)]) {
        s->r.duplicates++;
        g->dups++;
        /* A copy pushed by a peer outside the node's mesh (eager set): a sender with an empty
         * mesh pushing to D peers, or a link eager on its side only. */
        s->r.duplicates_unmeshed += !rumor_engine_meshed(x->eng, from);
        /* The daemon tells the engine of a pushed duplicate when it wants them: in tree mode the
         * link closed a cycle; with scores, a copy from a mesh peer counts as its delivery. */
        if (rumor_engine_wants_duplicates(x->eng)) {
            rumor_engine_duplicate(x->eng, from, topic_of(s, msg), id, now_ms(s));
            run(s, x);
        }
        return;
    }
    uint8_t mine = hops < 254 ? hops + 1 : 254;
    deliver(s, x, msg, mine, false);
    const uint8_t *topic = topic_of(s, msg);
    frame_for(s, msg, mine);
    /* An empty mesh (eager set): the engine pushes to up to D subscribed peers instead. */
    s->r.relays_meshless +=
        s->sc->strategy != RUMOR_STRATEGY_FLOOD && !rumor_engine_mesh_size(x->eng, topic);
    /* A hostile node that withholds goes through the motions: run() drops the pushes. */
    rumor_engine_push(x->eng, topic, s->frame, s->sc->event_bytes, from);
    run(s, x);
    rumor_engine_saw(x->eng, id, now_ms(s));
    if (!withholds(s, x->idx) || s->sc->hostile_ihave) rumor_engine_announce(x->eng, topic, id);
}

static void on_frame(sim_t *s, const sim_ev_t *ev)
{
    link_t *l = &s->links[ev->a >> 1];
    if (!l->up || l->gen != ev->b) {
        if (ev->kind == EV_CATCHUP)
            s->r.lost_recon++;
        else
            s->r.lost_down++;
        return;
    }
    unsigned to = 1 - (ev->a & 1);
    node_t *x = &s->nodes[l->node[to]];
    rumor_engine_peer_t from = l->handle[to];
    if (s->sc->keepalive) l->heard_ms[to] = (uint32_t)now_ms(s);
    if (ev->kind != EV_CATCHUP && !is_hostile(s, x->idx) && rumor_engine_graylisted(x->eng, from)) {
        s->r.attack.graylisted_frames++; /* dropped unread (PROTOCOL.md 9.8) */
        return;
    }
    if (ev->kind == EV_EVENT) {
        on_event(s, x, from, (uint32_t)ev->v, ev->hops);
    } else if (ev->kind == EV_FRAME) {
        if (rumor_wire_decode(ev->p, pool_len(ev->p), &s->wf) < 0 || frame_kind(s->wf.type) < 0)
            return;
        /* A hostile node grafts a peer that pruned it again after the back-off, or at once. */
        if (s->wf.type == RUMOR_WIRE_PRUNE && is_hostile(s, x->idx))
            l->graft_ms[to] = (uint32_t)now_ms(s) + (s->sc->hostile_backoff ? s->backoff_ms : 0);
        rumor_engine_frame(x->eng, from, &s->wf, now_ms(s));
        run(s, x);
    } else {
        /* Catch-up (modelled): stored, seen and fetched, neither pushed nor announced (the
         * daemon's by_sync). */
        uint32_t peer = l->node[1 - to];
        const uint32_t *list = ev->p;
        for (uint32_t i = 1; i <= list[0]; i++) {
            uint32_t m = list[i];
            if (s->hop[cell(s, x->idx, m)]) continue;
            uint8_t h = s->hop[cell(s, peer, m)];
            deliver(s, x, m, h < 254 ? h : 254, true);
            rumor_engine_saw(x->eng, s->ids + (size_t)m * ID, now_ms(s));
            /* Pulled, not pushed: a pushed copy later shows no cycle (tree mode). */
            rumor_engine_fetched(x->eng, s->ids + (size_t)m * ID, now_ms(s));
        }
    }
}

/*
 * process_us: a node handles one frame at a time; what a frame makes it send goes out when it
 * is done with it. With cores = 0 each node has a CPU of its own: a frame is taken off its link
 * once the node is done with the frames before it. With cores = K all nodes share K cores, as
 * the processes of a lab machine do: a node with frames waiting is runnable, and a core that
 * comes free serves a random runnable node (an OS scheduler's order, not the frames').
 */
/*
 * A process that waited for a core reads its links in its own order, not in the order the
 * frames came: the frame it handles next is the first waiting of a random one of its links
 * (drawn by frame, so a busy link is read more often). It moves to the head of the queue; a
 * link's frames keep their order.
 */
static void cpu_pick(sim_t *s, node_t *x)
{
    uint32_t cap = x->inq_cap, h = x->inq_head;
    uint32_t j = sim_below(&s->rng_cpu, x->inq_n);
    const sim_ev_t *e = &x->inq[(h + j) % cap];
    for (uint32_t i = 0; i < j; i++) {
        const sim_ev_t *o = &x->inq[(h + i) % cap];
        if ((o->kind == EV_KEEP) == (e->kind == EV_KEEP) && o->a == e->a) {
            j = i;
            break;
        }
    }
    sim_ev_t first = x->inq[(h + j) % cap];
    for (uint32_t i = j; i > 0; i--) x->inq[(h + i) % cap] = x->inq[(h + i - 1) % cap];
    x->inq[h] = first;
}

/* How long the node takes to handle a frame: process_us, and process_event_us more for an
 * event it does not hold yet (checked, stored, pushed on); a modelled job says. */
static uint64_t cost(const sim_t *s, const node_t *x, const sim_ev_t *ev)
{
    if (ev->kind == EV_KEEP) return ev->v;
    uint64_t c = s->sc->process_us;
    if (ev->kind == EV_EVENT && ev->v < s->m && s->msgs[ev->v].valid &&
        !s->hop[cell(s, x->idx, (uint32_t)ev->v)])
        c += s->sc->process_event_us;
    return c;
}

static void cpu_dispatch(sim_t *s)
{
    while (s->cores_idle && s->n_runq && !s->failed) {
        uint32_t k = sim_below(&s->rng_cpu, s->n_runq);
        node_t *x = &s->nodes[s->runq[k]];
        s->runq[k] = s->runq[--s->n_runq];
        s->nodes[s->runq[k]].runq_pos = k + 1;
        x->runq_pos = 0;
        x->running = true;
        s->cores_idle--;
        cpu_pick(s, x);
        s->r.process_wait_us += s->now - x->inq[x->inq_head].t;
        at_time(s, s->now + cost(s, x, &x->inq[x->inq_head]), EV_CPU, x->idx);
    }
}

static void cpu_runnable(sim_t *s, node_t *x)
{
    if (x->running || x->runq_pos) return;
    s->runq[s->n_runq++] = x->idx;
    x->runq_pos = s->n_runq;
}

/* Cores: puts a frame (or a modelled one) in the node's queue, stamped with when it came. */
static void cpu_queue(sim_t *s, node_t *x, const sim_ev_t *ev)
{
    if (x->inq_n == x->inq_cap) {
        uint32_t cap = x->inq_cap ? 2 * x->inq_cap : 16;
        sim_ev_t *q = malloc(cap * sizeof *q);
        if (!q) {
            failf(s, "out of memory (frames waiting for a core)");
            return;
        }
        for (uint32_t i = 0; i < x->inq_n; i++) q[i] = x->inq[(x->inq_head + i) % x->inq_cap];
        free(x->inq);
        x->inq = q;
        x->inq_head = 0;
        x->inq_cap = cap;
    }
    sim_ev_t *e = &x->inq[(x->inq_head + x->inq_n++) % x->inq_cap];
    *e = *ev;
    e->t = s->now;
    e->taken = true;
    cpu_runnable(s, x);
    cpu_dispatch(s);
}

static void on_frame(sim_t *s, const sim_ev_t *ev);

/* Cores: a core is done with the node's first frame: it is handled now. */
static void on_cpu(sim_t *s, node_t *x)
{
    sim_ev_t ev = x->inq[x->inq_head];
    x->inq_head = (x->inq_head + 1) % x->inq_cap;
    x->inq_n--;
    x->running = false;
    s->cores_idle++;
    s->r.processed++;
    if (ev.kind != EV_KEEP) on_frame(s, &ev);
    ev_drop(s, &ev);
    if (x->inq_n) cpu_runnable(s, x);
    cpu_dispatch(s);
}

/* A frame arrives: true when it was taken for later (it owns ev's bytes now). */
static bool take(sim_t *s, sim_ev_t *ev)
{
    const link_t *l = &s->links[ev->a >> 1];
    if (!l->up || l->gen != ev->b) return false; /* lost: on_frame counts it */
    node_t *x = &s->nodes[ev->c];
    if (s->sc->cores) {
        cpu_queue(s, x, ev);
        return true;
    }
    uint64_t start = x->busy_us > s->now ? x->busy_us : s->now;
    x->busy_us = start + cost(s, x, ev);
    s->r.processed++;
    s->r.process_wait_us += start - s->now;
    sim_ev_t again = *ev;
    again.t = x->busy_us;
    again.taken = true;
    queue(s, &again);
    return true;
}

/* A modelled frame the node handles (keepalive): it takes the node's time too. */
static void busy(sim_t *s, node_t *x, uint64_t cost)
{
    if (!cost) return;
    if (s->sc->cores) {
        sim_ev_t ev = {.kind = EV_KEEP, .v = cost};
        cpu_queue(s, x, &ev);
        return;
    }
    x->busy_us = (x->busy_us > s->now ? x->busy_us : s->now) + cost;
}

/* PEERS: 3 bytes and an entry of 39 (an IPv4 address) for each of up to 16 other peers. */
#define PEERS_ENTRY_BYTES (ID + 1 + 4 + 2)
#define PEERS_MAX_LISTED  16
#define PING_BYTES        (2 + 8)

/*
 * keepalive (modelled, node/peers.c and daemon.c at each heartbeat): a peer the node has not
 * heard from for two heartbeats, or every peer at every fifth heartbeat, is sent PING and
 * answers PONG; every tenth heartbeat each peer is sent PEERS (up to 16 of the node's other
 * peers). Counted and timed (heard, process_us) but not carried: they arrive at once and are
 * never lost, but in drop mode across a cut.
 */
static void keepalive(sim_t *s, node_t *x)
{
    uint32_t now = (uint32_t)now_ms(s), quiet = 2 * s->sc->heartbeat_ms;
    x->beats++;
    uint32_t listed = x->deg > PEERS_MAX_LISTED ? PEERS_MAX_LISTED : x->deg - 1;
    for (uint32_t i = 0; i < x->deg; i++) {
        link_t *l = &s->links[x->adj[i]];
        unsigned me = l->node[0] == x->idx ? 0 : 1;
        node_t *y = &s->nodes[l->node[1 - me]];
        bool cut = s->cut_active && s->cut_mode == SIM_CUT_DROP && crosses(s, l);
        if (now - l->heard_ms[me] >= quiet || x->beats % 5 == 0) {
            count(s, SIM_F_PING, 1, PING_BYTES);
            if (cut) {
                s->r.lost_cut++;
            } else {
                count(s, SIM_F_PING, 1, PING_BYTES); /* the PONG */
                l->heard_ms[1 - me] = l->heard_ms[me] = now;
                busy(s, y, s->sc->process_us);
                busy(s, x, s->sc->process_us);
            }
        }
        if (x->beats % 10 == 0 && listed) {
            count(s, SIM_F_PEERS, 1, 3 + PEERS_ENTRY_BYTES * listed);
            if (cut) {
                s->r.lost_cut++;
            } else {
                l->heard_ms[1 - me] = now;
                busy(s, y, s->sc->process_us);
            }
        }
    }
}

/*
 * Anti-entropy, modelled (README.md): the node reconciles with one random linked peer and
 * receives the messages the peer holds that it lacks, costed as a set-reconciliation
 * exchange of PROTOCOL.md 12 and delivered after its rounds.
 */
static void on_recon(sim_t *s, node_t *x)
{
    const sim_scenario_t *sc = s->sc;
    if (!x->up || !x->deg) return;
    uint32_t li = x->adj[sim_below(&s->rng_net, x->deg)];
    link_t *l = &s->links[li];
    unsigned me = l->node[0] == x->idx ? 0 : 1;
    const node_t *y = &s->nodes[l->node[1 - me]];
    if (s->cut_active && s->cut_mode == SIM_CUT_DROP && crosses(s, l)) {
        count(s, SIM_F_RECON, 1, RECON_CUT_BYTES);
        s->r.lost_cut++;
        return;
    }
    if (!is_hostile(s, x->idx) && rumor_engine_graylisted(x->eng, l->handle[me])) {
        s->r.attack.graylisted_frames++; /* its RECON answer would be dropped unread */
        return;
    }
    const uint64_t *mine = held_row(s, x->idx), *theirs = held_row(s, y->idx);
    size_t words = (s->published + 63) / 64;
    uint32_t n = 0;
    /* A hostile node that withholds claims to hold what the asker holds. */
    for (size_t w = 0; w < words && !withholds(s, y->idx); w++)
        n += (uint32_t)__builtin_popcountll(theirs[w] & ~mine[w]);
    if (!n) {
        count(s, SIM_F_RECON, 2, RECON_CUT_BYTES + RECON_SETTLED_BYTES);
        return;
    }
    uint32_t *list = malloc(((size_t)n + 1) * sizeof *list);
    if (!list) {
        failf(s, "out of memory (catch-up)");
        return;
    }
    list[0] = n;
    for (size_t w = 0, k = 1; w < words; w++)
        for (uint64_t d = theirs[w] & ~mine[w]; d; d &= d - 1)
            list[k++] = (uint32_t)(w * 64 + (unsigned)__builtin_ctzll(d));
    /* Ranges cut 16 ways until a side lists at most 32 ids; the ids listed; the settling. */
    uint64_t rounds = 2;
    for (uint64_t cap = RUMOR_RECON_LIST_MAX; cap < y->held && rounds < RECON_ROUNDS_MAX;
         cap *= RUMOR_RECON_SPLIT)
        rounds++;
    count(s, SIM_F_RECON, 2 * rounds,
          (2 * rounds - 1) * RECON_CUT_BYTES + RECON_SETTLED_BYTES + (uint64_t)ID * n);
    size_t entry = RUMOR_BATCH_ENTRY_BYTES + sc->event_bytes - 2;
    size_t per = (RUMOR_BATCH_FRAME_MAX - RUMOR_BATCH_HEADER_BYTES) / entry;
    if (per < 1) per = 1;
    uint64_t batches = (n + per - 1) / per;
    uint64_t bytes = batches * RUMOR_BATCH_HEADER_BYTES + (uint64_t)n * entry;
    count(s, SIM_F_BATCH, batches, bytes);
    /* The exchange takes 2 x rounds - 1 one-way trips before the events set out. */
    uint64_t trip = sc->latency_per_link ? l->lat_us : draw_latency(s);
    sim_ev_t ev = {.kind = EV_CATCHUP, .p = list};
    send_on(s, 2 * li + (1 - me), s->now + (2 * rounds - 1) * trip, bytes, &ev);
}

/* Hostile nodes publish nothing: delivery is measured on honest nodes' messages. */
static bool may_publish(const sim_t *s, const node_t *x)
{
    return x->up && !is_hostile(s, x->idx);
}

static node_t *pick_publisher(sim_t *s, uint32_t msg)
{
    uint32_t p = s->sc->publishers;
    for (uint32_t k = 0; p && k < p; k++) {
        node_t *x = &s->nodes[s->pubset[(msg + k) % p]];
        if (may_publish(s, x)) return x;
    }
    for (uint32_t k = 0; k < DIAL_TRIES; k++) {
        node_t *x = &s->nodes[sim_below(&s->rng_scn, s->n)];
        if (may_publish(s, x)) return x;
    }
    for (uint32_t i = 0; i < s->n; i++)
        if (may_publish(s, &s->nodes[i])) return &s->nodes[i];
    return NULL;
}

/* An own event (the daemon's flush): seen, pushed with no sender, announced once it went out. */
static void on_publish(sim_t *s, uint32_t msg)
{
    sim_msg_t *g = &s->msgs[msg];
    s->published = msg + 1;
    if (msg == s->sc->window_from) {
        /* bench/bench_mesh.py counts frames from just before the first publication (of its
         * messages: those before window_from warm the meshes up). */
        s->r.window_open = true;
        s->r.window_us = s->now;
        memcpy(s->r.frames_pre, s->r.frames, sizeof s->r.frames);
        memcpy(s->r.bytes_pre, s->r.bytes, sizeof s->r.bytes);
        s->r.deliveries_pre = s->r.deliveries;
        s->r.duplicates_pre = s->r.duplicates;
        /* The meshes (or eager sets) of the first topic as publishing starts. */
        for (uint32_t i = 0; i < s->n; i++) {
            if (!s->nodes[i].up) continue;
            size_t m = rumor_engine_mesh_size(s->nodes[i].eng, s->topics);
            s->r.mesh_sum += m;
            s->r.mesh_nodes++;
            s->r.mesh_below_lo += m < s->sc->d_lo;
        }
    }
    node_t *x = pick_publisher(s, msg);
    if (!x) return;
    g->publisher = x->idx;
    g->publish_us = s->now;
    const uint8_t *id = s->ids + (size_t)msg * ID, *topic = topic_of(s, msg);
    if (g->valid) {
        size_t k = cell(s, x->idx, msg);
        s->hop[k] = 1;
        s->lat[k] = 0;
        held_row(s, x->idx)[msg >> 6] |= 1ULL << (msg & 63);
        s->live[msg >> 6] |= 1ULL << (msg & 63);
        x->held++;
        rumor_engine_saw(x->eng, id, now_ms(s));
    }
    frame_for(s, msg, 0);
    uint64_t before = s->r.frames[SIM_F_EVENT];
    rumor_engine_push(x->eng, topic, s->frame, s->sc->event_bytes, RUMOR_ENGINE_NONE);
    run(s, x);
    if (g->valid && s->r.frames[SIM_F_EVENT] > before) rumor_engine_announce(x->eng, topic, id);
}

/* ---- churn and partitions ---------------------------------------------------------------- */

/* How many of `of` nodes a timed line names. */
static uint32_t amount(const sim_at_t *a, uint32_t of)
{
    uint64_t n = a->is_share ? (uint64_t)llround(a->share * of) : a->count;
    return n > of ? of : (uint32_t)n;
}

/* Draws `k` of the `n` indices in s->pick to its front. */
static void draw(sim_t *s, uint32_t n, uint32_t k)
{
    for (uint32_t i = 0; i < k; i++) {
        uint32_t j = i + sim_below(&s->rng_scn, n - i);
        uint32_t t = s->pick[i];
        s->pick[i] = s->pick[j];
        s->pick[j] = t;
    }
}

/* Valid messages published so far that node `i` lacks. */
static uint64_t missing(const sim_t *s, uint32_t i)
{
    const uint64_t *row = held_row(s, i);
    uint64_t n = 0;
    for (size_t w = 0; w < (s->published + 63) / 64; w++)
        n += (uint64_t)__builtin_popcountll(s->live[w] & ~row[w]);
    return n;
}

static void node_leave(sim_t *s, node_t *x)
{
    while (x->deg && !s->failed) link_down(s, x->adj[x->deg - 1]);
    rumor_engine_free(&x->eng);
    x->up = false;
    if (x->catching) s->r.catchup_open++;
    x->catching = false;
    s->r.leaves++;
}

/* A node back from being offline: a new engine (a restarted process), its store kept. */
static void node_return(sim_t *s, node_t *x)
{
    if (x->up || engine_open(s, x) < 0) return;
    x->up = true;
    s->r.returns++;
    dial(s, x, UINT32_MAX);
    rumor_engine_fill(x->eng);
    run(s, x);
    x->back_us = s->now;
    x->back_k = s->published;
    x->back_missing = (uint32_t)missing(s, x->idx);
    x->catching = true;
    if (!x->back_missing) caught_up(s, x);
}

static void on_churn(sim_t *s, const sim_at_t *a)
{
    uint32_t up = 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->nodes[i].up) s->pick[up++] = i;
    uint32_t k = amount(a, s->n);
    if (k > up) k = up;
    draw(s, up, k);
    for (uint32_t i = 0; i < k && !s->failed; i++) {
        node_leave(s, &s->nodes[s->pick[i]]);
        at_time(s, s->now + a->for_us, EV_RETURN, s->pick[i]);
    }
}

static void on_partition(sim_t *s, uint32_t line)
{
    const sim_at_t *a = &s->sc->at[line];
    for (uint32_t i = 0; i < s->n; i++) {
        s->pick[i] = i;
        s->nodes[i].side = 0;
    }
    uint32_t k = amount(a, s->n);
    draw(s, s->n, k);
    for (uint32_t i = 0; i < k; i++) s->nodes[s->pick[i]].side = 1;
    s->cut_active = true;
    s->cut_mode = a->cut_mode;
    if (a->cut_mode == SIM_CUT_DOWN)
        for (uint32_t li = 0; li < s->n_links && !s->failed; li++) {
            link_t *l = &s->links[li];
            if (!l->up || !crosses(s, l)) continue;
            if (s->n_cut == s->cap_cut) {
                size_t cap = s->cap_cut ? 2 * s->cap_cut : 256;
                uint32_t(*c)[2] = realloc(s->cut, cap * sizeof *c);
                if (!c) {
                    failf(s, "out of memory (cut links)");
                    return;
                }
                s->cut = c;
                s->cap_cut = cap;
            }
            s->cut[s->n_cut][0] = l->node[0];
            s->cut[s->n_cut][1] = l->node[1];
            s->n_cut++;
            link_down(s, li);
        }
    at_time(s, a->until_us, EV_HEAL, line);
}

static void on_heal(sim_t *s, uint32_t line)
{
    s->cut_active = false;
    for (size_t i = 0; i < s->n_cut && !s->failed; i++) {
        node_t *x = &s->nodes[s->cut[i][0]];
        if (x->up && may_link(s, x, s->cut[i][1])) link_up(s, x->idx, s->cut[i][1]);
    }
    s->n_cut = 0;
    sim_heal_t *h = &s->heals[s->n_heals];
    h->at_us = s->sc->at[line].at_us;
    h->heal_us = s->now;
    h->k = s->published;
    h->converged = UINT64_MAX;
    h->nodes = calloc((s->n + 7) / 8, 1);
    if (!h->nodes) {
        failf(s, "out of memory (heal)");
        return;
    }
    s->n_heals++;
    for (uint32_t i = 0; i < s->n; i++) {
        if (!s->nodes[i].up) continue;
        h->nodes[i >> 3] |= (uint8_t)(1 << (i & 7));
        h->missing += missing(s, i);
    }
    if (!h->missing) h->converged = 0;
}

/* ---- attacks (README.md, "Attacks") ---------------------------------------------------------- */

static double share(uint64_t part, uint64_t of)
{
    return of ? (double)part / of : 0.0;
}

/* The honest nodes' mesh places (peers meshed in some topic) and the hostile nodes' part. */
static void mesh_share(const sim_t *s, sim_mesh_share_t *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < s->n; i++) {
        const node_t *x = &s->nodes[i];
        if (!x->up || is_hostile(s, i)) continue;
        out->nodes++;
        bool victim = s->role[i] == SIM_ROLE_VICTIM;
        for (uint32_t k = 0; k < x->deg; k++) {
            const link_t *l = &s->links[x->adj[k]];
            unsigned me = l->node[0] == i ? 0 : 1;
            if (!rumor_engine_meshed(x->eng, l->handle[me])) continue;
            bool bad = is_hostile(s, l->node[1 - me]);
            out->places++;
            out->hostile += bad;
            out->victim_places += victim;
            out->victim_hostile += victim && bad;
        }
    }
}

/* Keeps the sample where hostile nodes held the largest share of honest mesh places. */
static void on_sample(sim_t *s)
{
    sim_mesh_share_t now, *peak = &s->r.attack.peak;
    mesh_share(s, &now);
    if (share(now.hostile, now.places) > share(peak->hostile, peak->places)) *peak = now;
}

/* A hostile node's heartbeat: it grafts every honest peer whose mesh it is not in (when polite,
 * not within a PRUNE's back-off) and, while it attacks, sends each honest peer hostile_invalid
 * invalid events. Whether it is in a mesh is read off the peer's engine: the attacker would
 * know it from the PRUNE it did or did not get. */
static void hostile_beat(sim_t *s, node_t *x)
{
    uint8_t buf[2 + ID];
    uint32_t now = (uint32_t)now_ms(s);
    for (uint32_t i = 0; i < x->deg && !s->failed; i++) {
        uint32_t li = x->adj[i];
        link_t *l = &s->links[li];
        unsigned me = l->node[0] == x->idx ? 0 : 1;
        const node_t *y = &s->nodes[l->node[1 - me]];
        uint32_t h = 2 * li + me;
        if (now >= l->graft_ms[me] && !rumor_engine_meshed(y->eng, l->handle[1 - me])) {
            for (uint32_t t = 0; t < s->sc->topics; t++) {
                rumor_wire_frame_t f = {.type = RUMOR_WIRE_GRAFT, .topic = s->topics + t * ID};
                size_t len = rumor_wire_encode(&f, buf, sizeof buf);
                if (len) send_frame(s, h, buf, len);
            }
            s->r.attack.eager_grafts++;
        }
        for (uint32_t k = 0; s->attacking && k < s->sc->hostile_invalid; k++) {
            send_event(s, h, junk_msg(s), 0, SIM_F_EVENT);
            s->r.attack.invalid_sent++;
        }
    }
}

/* A node that was not there at the start comes up: it dials its links and fills its meshes. */
static void node_arrive(sim_t *s, node_t *x)
{
    if (x->up || engine_open(s, x) < 0) return;
    x->up = true;
    dial(s, x, UINT32_MAX);
    rumor_engine_fill(x->eng);
    run(s, x);
    if (is_hostile(s, x->idx)) hostile_beat(s, x);
}

/* The attack starts: hostile nodes withhold from now on (a Sybil flood's arrive now). */
static void on_attack(sim_t *s)
{
    mesh_share(s, &s->r.attack.at_attack);
    s->attacking = true;
    if (s->sc->attack != SIM_ATTACK_SYBIL) return;
    for (uint32_t i = 0; i < s->n && !s->failed; i++)
        if (is_hostile(s, i)) node_arrive(s, &s->nodes[i]);
}

/* What the honest engines made of their peers by the end: counters, scores, graylists. */
static void attack_finish(sim_t *s)
{
    sim_attack_result_t *a = &s->r.attack;
    mesh_share(s, &a->at_end);
    for (uint32_t i = 0; i < s->n; i++) {
        const node_t *x = &s->nodes[i];
        if (!x->up || is_hostile(s, i)) continue;
        rumor_engine_counters_t c;
        rumor_engine_counters(x->eng, &c);
        a->pruned_by_score += c.pruned_by_score;
        a->opportunistic_grafts += c.opportunistic_grafts;
        a->backoff_grafts += c.backoff_grafts;
        a->broken_promises += c.broken_promises;
        for (uint32_t k = 0; k < x->deg; k++) {
            const link_t *l = &s->links[x->adj[k]];
            unsigned me = l->node[0] == i ? 0 : 1;
            bool bad = is_hostile(s, l->node[1 - me]);
            rumor_engine_score_t sc;
            if (rumor_engine_score(x->eng, l->handle[me], &sc)) {
                *(bad ? &a->score_hostile_sum : &a->score_honest_sum) += sc.score;
                *(bad ? &a->score_hostile_n : &a->score_honest_n) += 1;
            }
            a->hostile_graylisted += bad && rumor_engine_graylisted(x->eng, l->handle[me]);
        }
    }
}

/* Draws the hostile nodes, then the eclipse's victims among the others, from a stream of their
 * own (a scenario without them draws as before), and gives every node its address. */
static void choose_roles(sim_t *s)
{
    const sim_scenario_t *sc = s->sc;
    uint64_t rng = sim_stream(sc->seed, RNG_HOSTILE, 0);
    uint32_t k = sim_hostile_count(sc);
    uint32_t v = k && sc->attack == SIM_ATTACK_ECLIPSE ? sc->victims : 0;
    for (uint32_t i = 0; i < s->n; i++) s->pick[i] = i;
    for (uint32_t i = 0; i < k + v; i++) {
        uint32_t j = i + sim_below(&rng, s->n - i);
        uint32_t t = s->pick[i];
        s->pick[i] = s->pick[j];
        s->pick[j] = t;
        s->role[s->pick[i]] = i < k ? SIM_ROLE_HOSTILE : SIM_ROLE_VICTIM;
    }
    s->r.attack.hostile = k;
    s->r.attack.victims = v;
    for (uint32_t i = 0, rank = 0; i < s->n; i++)
        s->nodes[i].addr = is_hostile(s, i) && sc->hostile_addrs
                               ? ADDR_HOSTILE + rank++ % sc->hostile_addrs
                               : ADDR_HONEST + i + 1;
}

/* Whether a node is up from the start: a Sybil flood arrives later, and a cold boot's honest
 * nodes join after the hostile ones. */
static bool present_at_start(const sim_t *s, uint32_t i)
{
    switch (s->sc->attack) {
    case SIM_ATTACK_SYBIL: return !is_hostile(s, i);
    case SIM_ATTACK_COLDBOOT: return is_hostile(s, i);
    default: return true;
    }
}

/* The links at the start: every node up dials in index order (setup = sequential: earlier
 * nodes only). An eclipse's victims dial first and the hostile nodes then take the rest of
 * their links, before any other honest node can. */
static void setup_links(sim_t *s)
{
    if (s->sc->attack == SIM_ATTACK_ECLIPSE) {
        for (uint32_t i = 0; i < s->n && !s->failed; i++)
            if (s->role[i] == SIM_ROLE_VICTIM) dial(s, &s->nodes[i], UINT32_MAX);
        for (uint32_t h = 0; h < s->n && !s->failed; h++)
            for (uint32_t i = 0; is_hostile(s, h) && i < s->n && !s->failed; i++)
                if (s->role[i] == SIM_ROLE_VICTIM && may_link(s, &s->nodes[h], i)) link_up(s, h, i);
    }
    for (uint32_t i = 0; i < s->n && !s->failed; i++) {
        if (!s->nodes[i].up) continue;
        if (s->sc->setup_sequential)
            dial_earlier(s, &s->nodes[i]);
        else
            dial(s, &s->nodes[i], UINT32_MAX);
    }
}

/* Schedules the attack; returns when its last scheduled part happens (0: none). */
static uint64_t schedule_attack(sim_t *s)
{
    const sim_scenario_t *sc = s->sc;
    if (!s->r.attack.hostile) return 0;
    uint64_t hb = (uint64_t)sc->heartbeat_ms * US_PER_MS;
    at_time(s, hb, EV_SAMPLE, 0);
    if (sc->attack != SIM_ATTACK_COLDBOOT) {
        at_time(s, sc->attack_at_us, EV_ATTACK, 0);
        return sc->attack_at_us;
    }
    s->attacking = true;
    uint64_t rng = sim_stream(sc->seed, RNG_HOSTILE, 1), last = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (is_hostile(s, i)) continue;
        uint64_t t = sc->join_us ? (uint64_t)(sim_unit(&rng) * (double)sc->join_us) : 0;
        at_time(s, t, EV_ARRIVE, i);
        if (t > last) last = t;
    }
    return last;
}

/* ---- set-up and the run ------------------------------------------------------------------- */

static int setup_tables(sim_t *s)
{
    const sim_scenario_t *sc = s->sc;
    size_t cells = (size_t)s->n * s->m;
    s->nodes = calloc(s->n, sizeof *s->nodes);
    s->hop = calloc(cells, 1);
    s->lat = calloc(cells, sizeof *s->lat);
    s->words = ((size_t)s->m + 63) / 64;
    s->held = calloc((size_t)s->n * s->words, sizeof *s->held);
    s->live = calloc(s->words, sizeof *s->live);
    s->ids = malloc((size_t)s->m * ID);
    s->msgs = calloc(s->m, sizeof *s->msgs);
    s->pick = malloc((size_t)s->n * sizeof *s->pick);
    s->runq = sc->cores ? malloc((size_t)s->n * sizeof *s->runq) : NULL;
    s->topics = malloc((size_t)sc->topics * ID);
    s->frame = calloc(sc->event_bytes, 1);
    s->pubset = sc->publishers ? malloc(sc->publishers * sizeof *s->pubset) : NULL;
    s->role = calloc(s->n, 1);
    uint64_t slots = 16;
    while (slots < 2ULL * s->m) slots <<= 1;
    s->map = calloc(slots, sizeof *s->map);
    s->map_mask = slots - 1;
    if (!s->nodes || !s->hop || !s->lat || !s->held || !s->live || !s->ids || !s->msgs ||
        !s->pick || !s->topics || !s->frame || (sc->publishers && !s->pubset) || !s->map ||
        (sc->cores && !s->runq) || !s->role)
        return -1;
    s->frame[0] = RUMOR_WIRE_VERSION;
    s->frame[1] = RUMOR_WIRE_EVENT;
    for (uint32_t i = 0; i < s->m; i++) {
        uint8_t *id = s->ids + (size_t)i * ID;
        make_id(sc->seed, RNG_ID, i, id);
        uint64_t j = rumor_get_u64(id) & s->map_mask;
        while (s->map[j]) j = (j + 1) & s->map_mask; /* half empty: ends */
        s->map[j] = i + 1;
        s->msgs[i].publisher = UINT32_MAX;
        s->msgs[i].valid = !(sc->invalid > 0 && sim_unit(&s->rng_scn) < sc->invalid);
    }
    for (uint32_t t = 0; t < sc->topics; t++) make_id(sc->seed, RNG_TOPIC, t, s->topics + t * ID);
    qsort(s->topics, sc->topics, ID, id_cmp);
    if (sc->publishers) {
        for (uint32_t i = 0; i < s->n; i++) s->pick[i] = i;
        draw(s, s->n, sc->publishers);
        memcpy(s->pubset, s->pick, sc->publishers * sizeof *s->pubset);
    }
    return 0;
}

sim_t *sim_new(const sim_scenario_t *sc, char *why, size_t why_cap)
{
    sim_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    s->sc = sc;
    s->n = sc->nodes;
    s->m = sc->messages;
    s->rng_topo = sim_stream(sc->seed, RNG_TOPO, 0);
    s->rng_net = sim_stream(sc->seed, RNG_NET, 0);
    s->rng_scn = sim_stream(sc->seed, RNG_SCENARIO, 0);
    s->rng_cpu = sim_stream(sc->seed, RNG_CPU, 0);
    s->cores_idle = sc->cores;
    if (sc->latency.kind == SIM_LAT_LOGNORMAL) {
        double v = log(1.0 + (sc->latency.b * sc->latency.b) / (sc->latency.a * sc->latency.a));
        s->ln_sigma = sqrt(v);
        s->ln_mu = log(sc->latency.a) - v / 2;
    }
    if (setup_tables(s) < 0) {
        snprintf(why, why_cap, "out of memory (tables of %u nodes x %u messages)", s->n, s->m);
        sim_free(&s);
        return NULL;
    }
    rumor_engine_score_opts_t so;
    rumor_engine_score_defaults(&so);
    s->backoff_ms = so.backoff_ms ? so.backoff_ms : BACKOFF_MS_DEFAULT;
    choose_roles(s);
    for (uint32_t i = 0; i < s->n && !s->failed; i++) {
        node_t *x = &s->nodes[i];
        x->sim = s;
        x->idx = i;
        x->rng = sim_stream(sc->seed, RNG_NODE, i);
        if (!present_at_start(s, i)) continue;
        x->up = true;
        engine_open(s, x);
    }
    /* Every node dials until it has `peers` links, as the daemon does up to peers_target. */
    setup_links(s);
    for (uint32_t i = 0; i < s->n && !s->failed; i++) {
        if (!s->nodes[i].up) continue;
        rumor_engine_fill(s->nodes[i].eng);
        run(s, &s->nodes[i]);
    }
    for (uint32_t li = 0; li < s->n_links; li++) s->r.links_start += s->links[li].up;
    for (uint32_t i = 0; i < s->n; i++) s->r.degree_sum_start += s->nodes[i].deg;
    /* The median degree (a counting pass: degrees are at most peers_max). */
    uint32_t below = 0;
    for (uint32_t d = 0; d <= sc->peers_max && !s->r.degree_median_start; d++) {
        for (uint32_t i = 0; i < s->n; i++) below += s->nodes[i].deg == d;
        if (2 * below >= s->n) s->r.degree_median_start = d ? d : 1;
    }
    /* Heartbeats and catch-up rounds at a random phase, publications, timed lines, the end. */
    uint64_t hb = (uint64_t)sc->heartbeat_ms * US_PER_MS, ri = sc->recon_interval_ms * US_PER_MS;
    for (uint32_t i = 0; i < s->n; i++) {
        at_time(s, sim_below(&s->rng_scn, (uint32_t)hb), EV_HEARTBEAT, i);
        if (ri) at_time(s, sim_below(&s->rng_scn, (uint32_t)ri), EV_RECON, i);
    }
    uint64_t last = 0;
    for (uint32_t i = 0; i < s->m; i++) {
        last = sc->start_us + (uint64_t)llround((double)i * 1e6 / sc->rate);
        at_time(s, last, EV_PUBLISH, i);
    }
    for (size_t i = 0; i < sc->n_at; i++) {
        const sim_at_t *a = &sc->at[i];
        uint64_t done = a->kind == SIM_AT_CHURN ? a->at_us + a->for_us : a->until_us;
        if (done > last) last = done;
        at_time(s, a->at_us, EV_AT, (uint32_t)i);
    }
    uint64_t attack_done = schedule_attack(s);
    if (attack_done > last) last = attack_done;
    s->end_us = last + sc->drain_us < sc->duration_us ? last + sc->drain_us : sc->duration_us;
    at_time(s, s->end_us, EV_END, 0);
    if (s->failed) {
        snprintf(why, why_cap, "%s", s->why);
        sim_free(&s);
    }
    return s;
}

/*
 * Most of a run's time is spent waiting for memory: each frame lands on a link, a node and its
 * engine at random places. While one event is handled, the next one's link and node are
 * fetched; after it, the engine of that node (whose address the node holds).
 */
static void prefetch_next(const sim_t *s, bool engine)
{
    const sim_ev_t *nx = sim_queue_peek(&s->q);
    if (!nx) return;
    if (nx->kind != EV_FRAME && nx->kind != EV_EVENT && nx->kind != EV_CATCHUP) return;
    const node_t *x = &s->nodes[nx->c];
    if (engine) {
        __builtin_prefetch(x->eng);
        return;
    }
    __builtin_prefetch(&s->links[nx->a >> 1]);
    __builtin_prefetch(x);
}

int sim_run(sim_t *s, char *why, size_t why_cap)
{
    const sim_scenario_t *sc = s->sc;
    uint64_t hb = (uint64_t)sc->heartbeat_ms * US_PER_MS, ri = sc->recon_interval_ms * US_PER_MS;
    sim_ev_t ev;
    while (!s->failed && s->r.events < sc->events_max && sim_queue_pop(&s->q, &ev)) {
        if (ev.kind == EV_END) break;
        s->now = ev.t;
        s->r.events++;
        prefetch_next(s, false);
        node_t *x = ev.kind == EV_HEARTBEAT || ev.kind == EV_RECON || ev.kind == EV_RETURN
                        ? &s->nodes[ev.a]
                        : NULL;
        switch (ev.kind) {
        case EV_FRAME:
        case EV_EVENT:
            if ((sc->process_us || sc->process_event_us) && !ev.taken && take(s, &ev))
                continue; /* it owns ev's bytes */
            on_frame(s, &ev);
            break;
        case EV_CATCHUP: on_frame(s, &ev); break;
        case EV_HEARTBEAT:
            if (x->up) {
                busy(s, x, sc->heartbeat_us);
                if (sc->keepalive) keepalive(s, x);
                dial(s, x, DIALS_PER_BEAT);
                rumor_engine_tick(x->eng, now_ms(s));
                run(s, x);
                if (is_hostile(s, x->idx)) hostile_beat(s, x);
            }
            at_time(s, s->now + hb, EV_HEARTBEAT, ev.a);
            break;
        case EV_RECON:
            on_recon(s, x);
            at_time(s, s->now + ri, EV_RECON, ev.a);
            break;
        case EV_PUBLISH: on_publish(s, ev.a); break;
        case EV_AT:
            if (sc->at[ev.a].kind == SIM_AT_CHURN)
                on_churn(s, &sc->at[ev.a]);
            else
                on_partition(s, ev.a);
            break;
        case EV_RETURN: node_return(s, x); break;
        case EV_HEAL: on_heal(s, ev.a); break;
        case EV_CPU: on_cpu(s, &s->nodes[ev.a]); break;
        case EV_ATTACK: on_attack(s); break;
        case EV_ARRIVE: node_arrive(s, &s->nodes[ev.a]); break;
        case EV_SAMPLE:
            on_sample(s);
            at_time(s, s->now + hb, EV_SAMPLE, 0);
            break;
        default: break;
        }
        ev_drop(s, &ev);
        prefetch_next(s, true);
    }
    s->r.stopped_early = s->r.events >= sc->events_max;
    s->r.end_us = s->r.stopped_early ? s->now : s->end_us;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->nodes[i].catching) s->r.catchup_open++;
    if (s->r.attack.hostile && !s->failed) attack_finish(s);
    if (s->failed) {
        snprintf(why, why_cap, "%s", s->why);
        return -1;
    }
    return 0;
}

void sim_result(const sim_t *s, sim_result_t *r)
{
    *r = s->r;
    r->sc = s->sc;
    r->nodes = s->n;
    r->messages = s->m;
    r->published = s->published;
    r->msgs = s->msgs;
    r->hop = s->hop;
    r->lat = s->lat;
    r->catchup_us = s->catchup;
    r->n_catchup = s->n_catchup;
    r->heals = s->heals;
    r->n_heals = s->n_heals;
    r->attack.role = s->role;
    r->attack.attack_us = !r->attack.hostile                     ? UINT64_MAX
                          : s->sc->attack == SIM_ATTACK_COLDBOOT ? 0
                                                                 : s->sc->attack_at_us;
    r->nodes_up_end = 0;
    for (uint32_t i = 0; i < s->n; i++) r->nodes_up_end += s->nodes[i].up;
}

uint64_t sim_free_engines(sim_t *s)
{
    struct mallinfo2 before = mallinfo2();
    for (uint32_t i = 0; i < s->n; i++) rumor_engine_free(&s->nodes[i].eng);
    struct mallinfo2 after = mallinfo2();
    return before.uordblks + before.hblkhd - after.uordblks - after.hblkhd;
}

void sim_free(sim_t **sp)
{
    sim_t *s = *sp;
    if (!s) return;
    *sp = NULL;
    sim_ev_t ev;
    while (sim_queue_pop(&s->q, &ev)) ev_drop(s, &ev);
    for (uint32_t i = 0; s->nodes && i < s->n; i++) {
        node_t *x = &s->nodes[i];
        for (uint32_t k = 0; k < x->inq_n; k++) ev_drop(s, &x->inq[(x->inq_head + k) % x->inq_cap]);
    }
    for (unsigned k = 0; k < POOL_CLASSES; k++)
        while (s->pool[k]) {
            uint8_t *b = s->pool[k];
            memcpy(&s->pool[k], b + POOL_HEAD, sizeof b);
            free(b);
        }
    sim_queue_free(&s->q);
    for (uint32_t i = 0; s->nodes && i < s->n; i++) {
        rumor_engine_free(&s->nodes[i].eng);
        free(s->nodes[i].adj);
        free(s->nodes[i].inq);
    }
    for (size_t i = 0; i < s->n_heals; i++) free(s->heals[i].nodes);
    free(s->nodes);
    free(s->links);
    free(s->free_links);
    free(s->hop);
    free(s->lat);
    free(s->held);
    free(s->live);
    free(s->ids);
    free(s->map);
    free(s->topics);
    free(s->msgs);
    free(s->pubset);
    free(s->pick);
    free(s->runq);
    free(s->frame);
    free(s->cut);
    free(s->catchup);
    free(s->role);
    free(s);
}
