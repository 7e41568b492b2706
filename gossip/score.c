/*
 * score.c - peer scores (PROTOCOL.md 9.8): what a node saw of each peer, per topic and in all,
 * as terms P1..P7 that decay at each heartbeat, and the score they sum to. Used by engine.c
 * only; a function of its inputs (nothing here reads a clock: ticks are heartbeats).
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/* The shape of the terms (PROTOCOL.md 9.8). */
#define P1_CAP          100.0 /* heartbeats in a mesh that count */
#define P2_CAP          10.0  /* first deliveries, decayed */
#define P2_DECAY        0.7
#define P3_DECAY        0.7  /* of mesh deliveries and of a topic's traffic */
#define P3_SHARE        0.1  /* of a topic's traffic a mesh peer must bring */
#define P3_MAX          20.0 /* the deficit's term at its worst */
#define P3_ACTIVATION   10   /* heartbeats in a mesh before deficits count */
#define P3_TRAFFIC      3.0  /* a topic's decayed traffic below which nobody is short */
#define P3_COPIES       2.5  /* mesh copies per new event at or above which nobody is short */
#define P3B_DECAY       0.97
#define P4_DECAY        0.99
#define P7_DECAY        0.9
#define DECAY_ZERO      0.01 /* a decayed value below it is 0 */
#define PROMISES_MAX    256  /* IWANTs awaited */
#define RETAIN_MAX      256  /* scores of peers gone, kept for their return */
#define RETAIN_TICKS    3600 /* and for how many heartbeats */
#define PEER_TOPICS_MAX 64   /* topic records per peer */

typedef struct {
    uint8_t topic[ID];
    bool meshed;
    uint32_t mesh_ticks;   /* heartbeats in the mesh since it joined */
    double first;          /* P2: first deliveries, decayed */
    double dlv;            /* mesh deliveries (first or copies), decayed */
    double fail;           /* P3b */
    uint64_t wait_until;   /* we do not graft it before (a back-off either way, or a refusal) */
    uint64_t strict_until; /* its GRAFT before is a penalty (a back-off we started) */
    uint64_t grafted_ms;   /* when we last sent it GRAFT (0: never) */
} stopic_t;

typedef struct {
    bool used;
    uint8_t pk[ID];
    uint8_t addr[16];
    uint8_t addr_len; /* 0: none known (P6 does not count it) */
    bool trusted;     /* P5 */
    double invalid;   /* P4, decayed */
    double penalty;   /* P7, decayed */
    stopic_t *topics;
    size_t n_topics;
} speer_t;

typedef struct {
    uint8_t id[ID];
    double traffic; /* new valid events first brought by a peer, decayed */
    double copies;  /* copies of them mesh peers brought (first or not), decayed */
} straffic_t;

typedef struct {
    uint8_t id[ID];
    uint32_t peer;
    uint64_t tick; /* when asked */
} spromise_t;

/* What a peer gone leaves behind: its penalties and its topic records (P3b, back-offs). */
typedef struct {
    uint8_t pk[ID];
    double invalid, penalty;
    stopic_t *topics; /* owned */
    size_t n_topics;
    uint64_t tick; /* when it went */
} sretained_t;

struct rumor_score {
    rumor_engine_score_opts_t o;
    speer_t *peers; /* by the engine's handle */
    size_t n_peers;
    straffic_t *traffic;
    size_t n_traffic;
    spromise_t promises[PROMISES_MAX];
    size_t n_promises;
    sretained_t retained[RETAIN_MAX];
    size_t n_retained;
    uint64_t tick;
    uint64_t broken_promises;
};

rumor_score_t *rumor_score_new(const rumor_engine_score_opts_t *o)
{
    rumor_score_t *s = calloc(1, sizeof *s);
    if (s) s->o = *o;
    return s;
}

void rumor_score_free(rumor_score_t **sp)
{
    rumor_score_t *s = *sp;
    if (!s) return;
    *sp = NULL;
    for (size_t i = 0; i < s->n_peers; i++) free(s->peers[i].topics);
    for (size_t i = 0; i < s->n_retained; i++) free(s->retained[i].topics);
    free(s->peers);
    free(s->traffic);
    free(s);
}

/* Forgets retained record `i`. */
static void retained_drop(rumor_score_t *s, size_t i)
{
    free(s->retained[i].topics);
    s->retained[i] = s->retained[--s->n_retained];
}

static speer_t *peer(const rumor_score_t *s, uint32_t p)
{
    return p < s->n_peers && s->peers[p].used ? &s->peers[p] : NULL;
}

/* The peer's record of `topic`; made when `make` (NULL when full or out of memory). */
static stopic_t *ptopic(speer_t *x, const uint8_t topic[ID], bool make)
{
    for (size_t i = 0; i < x->n_topics; i++)
        if (memcmp(x->topics[i].topic, topic, ID) == 0) return &x->topics[i];
    if (!make || x->n_topics == PEER_TOPICS_MAX) return NULL;
    stopic_t *nt = realloc(x->topics, (x->n_topics + 1) * sizeof *nt);
    if (!nt) return NULL;
    x->topics = nt;
    stopic_t *t = &x->topics[x->n_topics++];
    memset(t, 0, sizeof *t);
    memcpy(t->topic, topic, ID);
    return t;
}

static straffic_t *traffic(rumor_score_t *s, const uint8_t topic[ID], bool make)
{
    for (size_t i = 0; i < s->n_traffic; i++)
        if (memcmp(s->traffic[i].id, topic, ID) == 0) return &s->traffic[i];
    if (!make) return NULL;
    straffic_t *nt = realloc(s->traffic, (s->n_traffic + 1) * sizeof *nt);
    if (!nt) return NULL;
    s->traffic = nt;
    straffic_t *t = &s->traffic[s->n_traffic++];
    memset(t, 0, sizeof *t);
    memcpy(t->id, topic, ID);
    return t;
}

int rumor_score_up(rumor_score_t *s, uint32_t p, const uint8_t pk[ID])
{
    if (p >= s->n_peers) {
        speer_t *np = realloc(s->peers, (p + 1) * sizeof *np);
        if (!np) return RUMOR_ERR_NOMEM;
        memset(np + s->n_peers, 0, (p + 1 - s->n_peers) * sizeof *np);
        s->peers = np;
        s->n_peers = p + 1;
    }
    speer_t *x = &s->peers[p];
    free(x->topics);
    memset(x, 0, sizeof *x);
    x->used = true;
    memcpy(x->pk, pk, ID);
    /* A peer back within the hour takes up its penalties and back-offs where it left them. */
    for (size_t i = 0; i < s->n_retained; i++) {
        sretained_t *r = &s->retained[i];
        if (memcmp(r->pk, pk, ID) != 0) continue;
        x->invalid = r->invalid;
        x->penalty = r->penalty;
        x->topics = r->topics;
        x->n_topics = r->n_topics;
        r->topics = NULL;
        retained_drop(s, i);
        break;
    }
    return RUMOR_OK;
}

/* What a retained record weighs: the least weighty goes first when the list is full. */
static double weight(const sretained_t *r)
{
    double w = r->invalid + r->penalty;
    for (size_t i = 0; i < r->n_topics; i++) w += r->topics[i].fail;
    return w;
}

void rumor_score_down(rumor_score_t *s, uint32_t p, uint64_t now)
{
    speer_t *x = peer(s, p);
    if (!x) return;
    /* Only a member's or contact's record is kept: a stranger holds no mesh place, the node bans
     * it by key, and keys are free, so strangers could flush the list. */
    bool keep = x->trusted && (x->invalid >= 1 || x->penalty >= 1);
    for (size_t i = 0; i < x->n_topics; i++) {
        stopic_t *t = &x->topics[i];
        keep |= x->trusted && (t->fail >= 1 || t->strict_until > now);
        /* What was its time in meshes and its deliveries does not outlive the link. */
        t->meshed = false;
        t->mesh_ticks = 0;
        t->first = t->dlv = 0;
        t->grafted_ms = 0;
    }
    if (keep) {
        sretained_t kept = {.invalid = x->invalid,
                            .penalty = x->penalty,
                            .topics = x->topics, /* handed over */
                            .n_topics = x->n_topics,
                            .tick = s->tick};
        memcpy(kept.pk, x->pk, ID);
        x->topics = NULL;
        size_t k = s->n_retained;
        if (k == RETAIN_MAX) { /* the least weighty makes room, if lighter */
            k = 0;
            for (size_t i = 1; i < RETAIN_MAX; i++)
                if (weight(&s->retained[i]) < weight(&s->retained[k])) k = i;
            if (weight(&s->retained[k]) < weight(&kept)) {
                free(s->retained[k].topics);
                s->retained[k] = kept;
            } else {
                free(kept.topics);
            }
        } else {
            s->retained[s->n_retained++] = kept;
        }
    }
    for (size_t i = 0; i < s->n_promises;) /* its promises: the handle may be given again */
        if (s->promises[i].peer == p)
            s->promises[i] = s->promises[--s->n_promises];
        else
            i++;
    free(x->topics);
    memset(x, 0, sizeof *x);
}

void rumor_score_addr(rumor_score_t *s, uint32_t p, const uint8_t *addr, size_t len)
{
    speer_t *x = peer(s, p);
    if (!x || len > sizeof x->addr) return;
    memcpy(x->addr, addr, len);
    x->addr_len = (uint8_t)len;
}

void rumor_score_trust(rumor_score_t *s, uint32_t p, bool trusted)
{
    speer_t *x = peer(s, p);
    if (x) x->trusted = trusted;
}

/* P3 of one topic: how far below its share of the topic's traffic a mesh peer brought, 0 to
 * P3_MAX (squared, so that a little short costs little). */
static double deficit(const rumor_score_t *s, const stopic_t *t)
{
    /* A newcomer has time to bring its share; one that left a mesh short before has none. */
    if (!t->meshed || (t->mesh_ticks < P3_ACTIVATION && t->fail < 1)) return 0;
    const straffic_t *tr = NULL;
    for (size_t i = 0; i < s->n_traffic && !tr; i++)
        if (memcmp(s->traffic[i].id, t->topic, ID) == 0) tr = &s->traffic[i];
    if (!tr || tr->traffic < P3_TRAFFIC) return 0; /* a quiet topic: nobody is short */
    /* While the mesh brings each event several times, a peer that brings little costs us
     * nothing: it may be one that everything reaches through us first (we are its best path),
     * which we cannot tell from one that withholds. Only a mesh that fails us judges. */
    if (tr->copies >= P3_COPIES * tr->traffic) return 0;
    double want = P3_SHARE * tr->traffic;
    if (t->dlv >= want) return 0;
    double r = 1 - t->dlv / want;
    return P3_MAX * r * r;
}

void rumor_score_mesh(rumor_score_t *s, uint32_t p, const uint8_t topic[ID], bool in)
{
    speer_t *x = peer(s, p);
    stopic_t *t = x ? ptopic(x, topic, in) : NULL;
    if (!t || t->meshed == in) return;
    if (!in) t->fail += deficit(s, t); /* what it owed the mesh stays with it (P3b) */
    t->meshed = in;
    t->mesh_ticks = 0;
    t->dlv = 0;
}

void rumor_score_first(rumor_score_t *s, uint32_t p, const uint8_t topic[ID])
{
    straffic_t *tr = traffic(s, topic, true);
    if (tr) tr->traffic += 1;
    speer_t *x = peer(s, p);
    stopic_t *t = x ? ptopic(x, topic, true) : NULL;
    if (!t) return;
    if (t->first + 1 <= P2_CAP) t->first += 1;
    if (t->meshed) {
        t->dlv += 1;
        if (tr) tr->copies += 1;
    }
}

void rumor_score_copy(rumor_score_t *s, uint32_t p, const uint8_t topic[ID])
{
    speer_t *x = peer(s, p);
    stopic_t *t = x ? ptopic(x, topic, false) : NULL;
    if (!t || !t->meshed) return;
    t->dlv += 1;
    straffic_t *tr = traffic(s, topic, false);
    if (tr) tr->copies += 1;
}

void rumor_score_invalid(rumor_score_t *s, uint32_t p)
{
    speer_t *x = peer(s, p);
    if (x) x->invalid += 1;
}

void rumor_score_penalty(rumor_score_t *s, uint32_t p)
{
    speer_t *x = peer(s, p);
    if (x) x->penalty += 1;
}

void rumor_score_backoff(rumor_score_t *s, uint32_t p, const uint8_t topic[ID], uint64_t until,
                         bool ours)
{
    speer_t *x = peer(s, p);
    stopic_t *t = x ? ptopic(x, topic, true) : NULL;
    if (!t) return;
    if (t->wait_until < until) t->wait_until = until;
    if (ours && t->strict_until < until) t->strict_until = until;
}

void rumor_score_grafted(rumor_score_t *s, uint32_t p, const uint8_t topic[ID], uint64_t now)
{
    speer_t *x = peer(s, p);
    stopic_t *t = x ? ptopic(x, topic, true) : NULL;
    if (t) t->grafted_ms = now ? now : 1;
}

bool rumor_score_grafted_since(const rumor_score_t *s, uint32_t p, const uint8_t topic[ID],
                               uint64_t since)
{
    speer_t *x = peer(s, p);
    stopic_t *t = x ? ptopic(x, topic, false) : NULL;
    return t && t->grafted_ms && t->grafted_ms >= since;
}

bool rumor_score_waits(const rumor_score_t *s, uint32_t p, const uint8_t topic[ID], uint64_t now)
{
    speer_t *x = peer(s, p);
    stopic_t *t = x ? ptopic(x, topic, false) : NULL;
    return t && t->wait_until > now;
}

bool rumor_score_strict(const rumor_score_t *s, uint32_t p, const uint8_t topic[ID], uint64_t now)
{
    speer_t *x = peer(s, p);
    stopic_t *t = x ? ptopic(x, topic, false) : NULL;
    return t && t->strict_until > now;
}

void rumor_score_promise(rumor_score_t *s, uint32_t p, const uint8_t id[ID])
{
    if (!peer(s, p) || s->n_promises == PROMISES_MAX) return; /* beyond: not held to it */
    size_t mine = 0; /* one peer holds at most a quarter of the table */
    for (size_t i = 0; i < s->n_promises; i++) mine += s->promises[i].peer == p;
    if (mine >= PROMISES_MAX / 4) return;
    spromise_t *x = &s->promises[s->n_promises++];
    memcpy(x->id, id, ID);
    x->peer = p;
    x->tick = s->tick;
}

void rumor_score_delivered(rumor_score_t *s, const uint8_t id[ID])
{
    for (size_t i = 0; i < s->n_promises;)
        if (memcmp(s->promises[i].id, id, ID) == 0)
            s->promises[i] = s->promises[--s->n_promises];
        else
            i++;
}

static double decay(double v, double f)
{
    v *= f;
    return v < DECAY_ZERO ? 0 : v;
}

void rumor_score_tick(rumor_score_t *s)
{
    s->tick++;
    /* Ids asked for a whole heartbeat ago and still missing: one penalty per peer that
     * promised any of them (a lost frame costs one, a liar one every heartbeat). */
    uint32_t broke[PROMISES_MAX];
    size_t n_broke = 0;
    for (size_t i = 0; i < s->n_promises;) {
        spromise_t *x = &s->promises[i];
        if (x->tick + 2 > s->tick) {
            i++;
            continue;
        }
        bool listed = false;
        for (size_t k = 0; k < n_broke && !listed; k++) listed = broke[k] == x->peer;
        if (!listed) broke[n_broke++] = x->peer;
        s->promises[i] = s->promises[--s->n_promises];
    }
    for (size_t k = 0; k < n_broke; k++) {
        rumor_score_penalty(s, broke[k]);
        s->broken_promises++;
    }
    for (size_t i = 0; i < s->n_traffic; i++) {
        s->traffic[i].traffic = decay(s->traffic[i].traffic, P3_DECAY);
        s->traffic[i].copies = decay(s->traffic[i].copies, P3_DECAY);
    }
    for (size_t i = 0; i < s->n_peers; i++) {
        speer_t *x = &s->peers[i];
        if (!x->used) continue;
        x->invalid = decay(x->invalid, P4_DECAY);
        x->penalty = decay(x->penalty, P7_DECAY);
        for (size_t k = 0; k < x->n_topics; k++) {
            stopic_t *t = &x->topics[k];
            if (t->meshed && t->mesh_ticks < UINT32_MAX) t->mesh_ticks++;
            t->first = decay(t->first, P2_DECAY);
            t->dlv = decay(t->dlv, P3_DECAY);
            t->fail = decay(t->fail, P3B_DECAY);
        }
    }
    for (size_t i = 0; i < s->n_retained;)
        if (s->retained[i].tick + RETAIN_TICKS < s->tick)
            retained_drop(s, i);
        else
            i++;
}

uint64_t rumor_score_broken_promises(const rumor_score_t *s)
{
    return s->broken_promises;
}

/* Members and contacts beyond ip_max on the peer's address (an IPv6 one by its /64), 0 when it
 * has none. Strangers are not counted: keys are free, and a stranger holds no mesh place. */
static double colocated(const rumor_score_t *s, const speer_t *x)
{
    if (!x->addr_len) return 0;
    size_t cmp = x->addr_len == 16 ? 8 : x->addr_len, same = 0;
    for (size_t i = 0; i < s->n_peers; i++) {
        const speer_t *y = &s->peers[i];
        same += y->used && (y->trusted || y == x) && y->addr_len == x->addr_len &&
                memcmp(y->addr, x->addr, cmp) == 0;
    }
    return same > s->o.ip_max ? (double)(same - s->o.ip_max) : 0;
}

double rumor_score_of(const rumor_score_t *s, uint32_t p, rumor_engine_score_t *out)
{
    rumor_engine_score_t v = {0};
    const speer_t *x = peer(s, p);
    if (!x) {
        if (out) *out = v;
        return 0;
    }
    for (size_t k = 0; k < x->n_topics; k++) {
        const stopic_t *t = &x->topics[k];
        if (t->meshed) {
            double ticks = t->mesh_ticks;
            v.p1 += ticks < P1_CAP ? ticks : P1_CAP;
            v.p3 += deficit(s, t);
        }
        v.p2 += t->first;
        v.p3b += t->fail;
    }
    v.p4 = x->invalid * x->invalid;
    v.p5 = x->trusted ? 1 : 0;
    double c = colocated(s, x);
    v.p6 = c * c;
    v.p7 = x->penalty * x->penalty;
    const rumor_engine_score_opts_t *o = &s->o;
    v.score = o->w1 * v.p1 + o->w2 * v.p2 + o->w3 * v.p3 + o->w3b * v.p3b + o->w4 * v.p4 +
              o->w5 * v.p5 + o->w6 * v.p6 + o->w7 * v.p7;
    if (out) *out = v;
    return v.score;
}
