/*
 * engine.h - dissemination without I/O (PROTOCOL.md 9.3): the mesh of each topic, GRAFT and
 * PRUNE, pushes, IHAVE and IWANT, and the seen and message caches, driven by what the caller
 * tells it and handing back what to send. It opens no socket, reads no store and no clock:
 * time comes in as `now` (ms, any monotonic origin) and randomness through its options, so
 * the same inputs give the same outputs (bench/sim runs thousands of engines in one process).
 *
 * Inputs: a peer up or down, its subscriptions, the topics held, a GRAFT, PRUNE, IHAVE or
 * IWANT from a peer, an event found new and valid (pushed on), an event stored, and a tick.
 * Outputs: actions, taken one by one with rumor_engine_next() after each input: send bytes to
 * a peer, or serve it stored events by id. A peer is the caller's pointer (`user`); the engine
 * names it by a handle.
 *
 * Included by rumor_gossip.h; not thread-safe (one engine, one thread).
 */
#ifndef RUMOR_GOSSIP_ENGINE_H
#define RUMOR_GOSSIP_ENGINE_H

#include "rumor_gossip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rumor_engine rumor_engine_t;
/* A peer's handle; RUMOR_ENGINE_NONE names no peer (an own event). */
typedef uint32_t rumor_engine_peer_t;
#define RUMOR_ENGINE_NONE UINT32_MAX
/* Peers in one topic's mesh at most. */
#define RUMOR_ENGINE_MESH_MAX 64

/* How new events spread (config `strategy`). */
typedef enum {
    RUMOR_STRATEGY_GOSSIPSUB = 0, /* a mesh of degree D per topic, IHAVE to D_lazy others */
    RUMOR_STRATEGY_FLOOD,         /* every subscribed peer, no mesh and no IHAVE (a baseline) */
    RUMOR_STRATEGY_TREE,          /* Plumtree: eager links pruned to a tree, lazy IHAVE repairs */
} rumor_strategy_t;
/* The strategy named `name` (gossipsub, flood, tree); -1 for none. */
int rumor_strategy_parse(const char *name);

/* Peer scores (PROTOCOL.md 9.8): weights of the terms P1..P7 and the thresholds, from high to
 * low. `on` false: no score is kept and every peer counts as 0 (behaviour as before 9.8). */
typedef struct {
    bool on;
    double w1, w2, w3, w3b, w4, w5, w6, w7; /* weights (w3, w3b, w4, w6, w7 negative) */
    double graft;         /* below: never grafted, pruned from meshes at the heartbeat */
    double gossip;        /* below: no IHAVE to it, and its IHAVE and IWANT are ignored */
    double publish;       /* below: own events are not pushed to it */
    double graylist;      /* below: every frame from it is dropped unread */
    double opportunistic; /* a mesh whose median is below it grafts two better peers */
    uint32_t ip_max;      /* members on one address (an IPv6 /64) before P6 counts */
    uint32_t d_score;     /* peers kept by score when a mesh is pruned back to D */
    uint32_t backoff_ms;  /* after a PRUNE, no GRAFT of the topic for so long (its GRAFT inside
                           * a back-off we started is a penalty); a refusal waits 10 s */
} rumor_engine_score_opts_t;
/* The defaults of PROTOCOL.md 9.8 (on). */
void rumor_engine_score_defaults(rumor_engine_score_opts_t *o);

typedef struct {
    uint32_t d, d_lo, d_hi, d_lazy; /* mesh degree, its watermarks, IHAVE fan-out */
    uint32_t history_length;        /* heartbeats of ids the message cache keeps */
    uint32_t history_gossip;        /* of those, announced in IHAVE */
    uint32_t seen_max, seen_ttl_ms; /* the seen cache */
    uint8_t strategy;               /* rumor_strategy_t */
    uint32_t repair_ms;             /* tree: time an announced id has to come by the tree */
    /* A uniform random number below `upper` (>= 1). */
    uint32_t (*uniform)(void *ctx, uint32_t upper);
    void *uniform_ctx;
    /* True when the caller holds event `id` (stored): an IHAVE of it is not answered with
     * IWANT, nor is a tree repair made for it. The seen cache is asked first. */
    bool (*has)(void *ctx, const uint8_t id[RUMOR_ID_BYTES]);
    void *has_ctx;
    rumor_engine_score_opts_t score;
} rumor_engine_opts_t;

/* Which counter a sent frame counts toward (the caller keeps its counters). */
typedef enum {
    RUMOR_ENGINE_COUNT_NONE = 0,
    RUMOR_ENGINE_COUNT_FORWARDED, /* an EVENT pushed on (or an own event published) */
    RUMOR_ENGINE_COUNT_GRAFT,
    RUMOR_ENGINE_COUNT_PRUNE,
    RUMOR_ENGINE_COUNT_IHAVE,
    RUMOR_ENGINE_COUNT_IWANT,
} rumor_engine_count_t;

typedef enum {
    RUMOR_ENGINE_SEND = 1, /* send `buf` (`len` bytes, a whole frame) to `peer` */
    RUMOR_ENGINE_SERVE,    /* send `peer` the stored events `ids` (n x 32) of topics it takes */
    RUMOR_ENGINE_DROP,     /* drop `peer` and ban it: its score fell below the graylist */
} rumor_engine_act_type_t;

/* An action. `buf` and `ids` are valid until the next input to the engine. */
typedef struct {
    uint8_t type;  /* rumor_engine_act_type_t */
    uint8_t count; /* rumor_engine_count_t: what to count when the send went out */
    rumor_engine_peer_t peer;
    void *user;         /* the peer's pointer, as given to rumor_engine_peer_up */
    const uint8_t *buf; /* SEND */
    size_t len;
    const uint8_t *ids; /* SERVE */
    size_t n;
} rumor_engine_action_t;

/* NULL when out of memory or the options are unusable (d, d_lo, d_hi above the mesh bound,
 * no `uniform`). */
rumor_engine_t *rumor_engine_new(const rumor_engine_opts_t *opts);
void rumor_engine_free(rumor_engine_t **e);

/* Takes the next action; false when there is none. Take them all after each input. */
bool rumor_engine_next(rumor_engine_t *e, rumor_engine_action_t *a);

/* ---- peers and topics ---- */

/* A peer is linked (its HELLO came): its handle, or RUMOR_ENGINE_NONE when out of memory. */
rumor_engine_peer_t rumor_engine_peer_up(rumor_engine_t *e, const uint8_t pk[RUMOR_ID_BYTES],
                                         void *user);
/* A peer is gone: it leaves every mesh; its handle may be given again. */
void rumor_engine_peer_down(rumor_engine_t *e, rumor_engine_peer_t p);
/* The topics of the peer's that count (sorted, n x 32; PROTOCOL.md 9.3). It leaves the meshes of
 * topics it lost; a topic held whose mesh is below D_lo grafts it at once (in tree mode, a topic
 * new to the peer makes its link eager). */
int rumor_engine_peer_topics(rumor_engine_t *e, rumor_engine_peer_t p, const uint8_t *topics,
                             size_t n);
bool rumor_engine_subscribes(const rumor_engine_t *e, rumor_engine_peer_t p,
                             const uint8_t topic[RUMOR_ID_BYTES]);
/* True when the peer is in the mesh of some topic. */
bool rumor_engine_meshed(const rumor_engine_t *e, rumor_engine_peer_t p);
size_t rumor_engine_mesh_size(const rumor_engine_t *e, const uint8_t topic[RUMOR_ID_BYTES]);

/* The topics held (sorted, n x 32). Meshes of topics kept stay; new topics start empty (call
 * rumor_engine_fill once the peers' topics are told again). */
int rumor_engine_topics(rumor_engine_t *e, const uint8_t *topics, size_t n);
/* Grafts subscribed peers into every mesh below D_lo, up to D. */
void rumor_engine_fill(rumor_engine_t *e);

/* ---- frames and events ---- */

/* A GRAFT, PRUNE, IHAVE or IWANT from peer `p` (other types are ignored). */
void rumor_engine_frame(rumor_engine_t *e, rumor_engine_peer_t p, const rumor_wire_frame_t *f,
                        uint64_t now);

/* True when `id` was offered lately (the seen cache): a copy is a duplicate. */
bool rumor_engine_seen(const rumor_engine_t *e, const uint8_t id[RUMOR_ID_BYTES]);
/* Remembers `id` as seen at `now`. */
void rumor_engine_saw(rumor_engine_t *e, const uint8_t id[RUMOR_ID_BYTES], uint64_t now);
/* Event `frame` (a whole EVENT frame) of `topic` is new and valid: it is pushed to the topic's
 * mesh (while the mesh is empty, to up to D subscribed peers) except `from`, which is
 * RUMOR_ENGINE_NONE for an own event. The SEND actions point into `frame`. Returns how many. */
size_t rumor_engine_push(rumor_engine_t *e, const uint8_t topic[RUMOR_ID_BYTES],
                         const uint8_t *frame, size_t len, rumor_engine_peer_t from);
/* A pushed EVENT `id` of `topic` from `from` was a duplicate (seen or held). In tree mode the
 * link closed a cycle: `from` leaves the eager set and is sent PRUNE, unless `id` was asked for. */
void rumor_engine_duplicate(rumor_engine_t *e, rumor_engine_peer_t from,
                            const uint8_t topic[RUMOR_ID_BYTES], const uint8_t id[RUMOR_ID_BYTES],
                            uint64_t now);
/* True when duplicates are worth reporting: the strategy prunes on them (tree), or scores count
 * them as mesh deliveries (P3). */
bool rumor_engine_wants_duplicates(const rumor_engine_t *e);
/* Event `id` came by a pull (catch-up, a join's history): a pushed copy of it later shows no
 * cycle. */
void rumor_engine_fetched(rumor_engine_t *e, const uint8_t id[RUMOR_ID_BYTES], uint64_t now);
/* Asks peer `p` for events `ids` (n x 32, at most RUMOR_WIRE_IDS_MAX) with IWANT: the parents an
 * event waits for. Copies of asked ids prune no link. */
void rumor_engine_want(rumor_engine_t *e, rumor_engine_peer_t p, const uint8_t *ids, size_t n,
                       uint64_t now);
/* Event `id` of `topic` is stored (and was sent on): it is announced in IHAVE for the next
 * history_gossip heartbeats, in the order of these calls. */
void rumor_engine_announce(rumor_engine_t *e, const uint8_t topic[RUMOR_ID_BYTES],
                           const uint8_t id[RUMOR_ID_BYTES]);

/* The earliest time at which the engine has something to do before the next heartbeat (a tree
 * repair due), or UINT64_MAX for none: call rumor_engine_expire then. */
uint64_t rumor_engine_next_expiry(const rumor_engine_t *e);
/* Does what is due at `now` (tree repairs). */
void rumor_engine_expire(rumor_engine_t *e, uint64_t now);

/* A heartbeat at `now`: meshes back within D_lo..D_hi (a tree's: one link when it has none), IHAVE
 * to D_lazy peers outside each mesh, tree repairs that are due, the message cache shifts, the
 * seen cache ages. */
void rumor_engine_tick(rumor_engine_t *e, uint64_t now);

/* ---- peer scores (PROTOCOL.md 9.8); all of these are no-ops while scoring is off ---- */

/* A copy of event `id` came (decoded, not yet checked): an IHAVE of it was a promise kept. */
void rumor_engine_arrived(rumor_engine_t *e, const uint8_t id[RUMOR_ID_BYTES]);

/* The peer's address (4 or 16 bytes), for P6: members sharing one address beyond ip_max. */
void rumor_engine_peer_addr(rumor_engine_t *e, rumor_engine_peer_t p, const uint8_t *addr,
                            size_t len);
/* The node's own word of the peer (P5): a contact or a member of a held domain. */
void rumor_engine_peer_trust(rumor_engine_t *e, rumor_engine_peer_t p, bool trusted);
/* The peer sent an event bad in itself (malformed, too big, a bad signature: P4); not a refusal
 * by the rules, which may be our store lagging. */
void rumor_engine_invalid(rumor_engine_t *e, rumor_engine_peer_t p);
/* The peer sent a malformed or unwanted frame (P7). */
void rumor_engine_misbehaved(rumor_engine_t *e, rumor_engine_peer_t p);
/* True when the peer's score is below the graylist: drop its frames unread (a DROP action for it
 * comes once, after the input that took it there). */
bool rumor_engine_graylisted(const rumor_engine_t *e, rumor_engine_peer_t p);

typedef struct {
    double score;                           /* the sum, weighted */
    double p1, p2, p3, p3b, p4, p5, p6, p7; /* the terms, unweighted, summed over topics */
} rumor_engine_score_t;
/* The peer's score and its terms; false (all zero) for no such peer or scoring off. */
bool rumor_engine_score(const rumor_engine_t *e, rumor_engine_peer_t p, rumor_engine_score_t *out);

typedef struct {
    uint64_t pruned_by_score;      /* mesh peers pruned for a score below `graft` */
    uint64_t opportunistic_grafts; /* peers grafted because a mesh's median was low */
    uint64_t backoff_grafts;       /* GRAFTs refused within a back-off we started (a penalty) */
    uint64_t broken_promises;      /* IHAVEs whose ids did not come when asked for */
} rumor_engine_counters_t;
void rumor_engine_counters(const rumor_engine_t *e, rumor_engine_counters_t *out);

#endif
