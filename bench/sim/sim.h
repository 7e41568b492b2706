/*
 * sim.h - rumor-sim's parts (bench/sim/README.md): the scenario (scenario.c), the queue of
 * timed events (queue.c), the simulation of N gossip engines (sim.c) and its reports
 * (report.c). Internal to bench/sim; one thread; no socket, no store, no clock but the
 * virtual one (the wall clock is read only for the `host` figures).
 */
#ifndef RUMOR_SIM_H
#define RUMOR_SIM_H

#include "rumor_gossip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- random streams: splitmix64 (no libc rand, no time) ---------------------------- */

static inline uint64_t sim_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t sim_next64(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return sim_mix64(*s);
}

/* An independent stream: the seed, a label for what it drives, and an index (a node's). */
static inline uint64_t sim_stream(uint64_t seed, uint64_t label, uint64_t index)
{
    return sim_mix64(sim_mix64(seed ^ sim_mix64(label + 0x9e3779b97f4a7c15ULL)) + index);
}

/* Uniform below `upper` (>= 1) by a 64x64 multiply: no rejection loop, bias below 2^-32. */
static inline uint32_t sim_below(uint64_t *s, uint32_t upper)
{
    return (uint32_t)(((unsigned __int128)sim_next64(s) * upper) >> 64);
}

/* Uniform in [0, 1). */
static inline double sim_unit(uint64_t *s)
{
    return (double)(sim_next64(s) >> 11) * 0x1.0p-53;
}

/* ---- the scenario (scenario.c) ------------------------------------------------------- */

typedef enum {
    SIM_LAT_CONST = 0, /* a */
    SIM_LAT_UNIFORM,   /* a..b */
    SIM_LAT_NORMAL,    /* mean a, sd b, clamped at 0 */
    SIM_LAT_LOGNORMAL, /* mean a, sd b (of the distribution itself, not of its log) */
} sim_lat_kind_t;

typedef struct {
    uint8_t kind; /* sim_lat_kind_t */
    double a, b;  /* microseconds */
} sim_dist_t;

typedef enum {
    SIM_AT_CHURN = 1, /* nodes leave at `at_us` and come back `for_us` later */
    SIM_AT_PARTITION, /* a share of nodes is cut off from the rest from `at_us` to `until_us` */
} sim_at_kind_t;

typedef enum {
    SIM_CUT_DOWN = 0, /* links across the cut are taken down (and restored at the heal) */
    SIM_CUT_DROP,     /* links stay up but drop every frame (no new link crosses either) */
} sim_cut_mode_t;

typedef struct {
    uint8_t kind;     /* sim_at_kind_t */
    uint8_t cut_mode; /* sim_cut_mode_t, PARTITION */
    bool is_share;    /* how many nodes: `share` of all, else `count` */
    double share;     /* 0..1 */
    uint32_t count;
    uint64_t at_us;    /* when */
    uint64_t for_us;   /* CHURN: how long the nodes stay away */
    uint64_t until_us; /* PARTITION: when it heals */
    size_t line;       /* in the scenario file, for messages */
} sim_at_t;

/* Hostile nodes' attacks (README.md, "Attacks"): the gossipsub v1.1 evaluation's. */
typedef enum {
    SIM_ATTACK_NONE = 0,
    SIM_ATTACK_SYBIL,    /* they arrive at attack_at with many links each, graft and withhold */
    SIM_ATTACK_ECLIPSE,  /* they fill the victims' links from the start, withhold at attack_at */
    SIM_ATTACK_FLASH,    /* linked from the start, honest until attack_at, then all withhold */
    SIM_ATTACK_COLDBOOT, /* present and withholding from t = 0; honest nodes join over join */
} sim_attack_t;

/* Timed lines a scenario may hold. */
#define SIM_AT_MAX 64

/* Everything a run depends on; the defaults are the node's (node/rumor_node.h). */
typedef struct {
    uint64_t seed;
    uint32_t nodes;
    uint32_t peers;     /* links a node dials until it has them (the node's peers_target) */
    uint32_t peers_max; /* links a node accepts at most */
    uint32_t topics;    /* every node holds them all; message i is of topic i mod topics */
    uint8_t strategy;   /* rumor_strategy_t (gossipsub, flood, tree) */
    uint32_t d, d_lo, d_hi, d_lazy;
    uint32_t heartbeat_ms;
    uint32_t history_length, history_gossip;
    uint32_t seen_max, seen_ttl_ms;
    sim_dist_t latency;
    bool latency_per_link; /* drawn once per link, else per frame (order kept per direction) */
    double loss;           /* per frame, 0..1 */
    uint64_t bandwidth;    /* bits per second per link direction; 0: unlimited */
    uint32_t messages;
    double rate;                /* messages per second, in total */
    uint32_t publishers;        /* 0: a random node per message; k: k random nodes in turn */
    uint64_t start_us;          /* the first publication */
    uint32_t event_bytes;       /* an EVENT frame's size */
    double invalid;             /* share of messages the validity oracle refuses */
    uint32_t recon_interval_ms; /* 0: no anti-entropy */
    uint64_t process_us;        /* a node handles one frame at a time, each taking so long */
    uint64_t process_event_us;  /* and this much more for an event it does not hold yet */
    uint64_t heartbeat_us;      /* a heartbeat's own work (timers, store reads) */
    uint32_t cores;             /* 0: each node has a CPU; K: all share K cores (process_us) */
    bool keepalive;             /* the daemon's PING, PONG and PEERS frames, modelled */
    bool setup_sequential;      /* node i dials only nodes 0..i-1 at set-up */
    uint32_t window_from;       /* the publication window opens at this message's */
    uint64_t drain_us;    /* after the last publication or timed line, the run goes on so long */
    uint64_t duration_us; /* hard limit of simulated time */
    uint64_t events_max;  /* hard limit of events handled */
    bool score;           /* honest nodes keep peer scores (PROTOCOL.md 9.8, its defaults) */
    /* Hostile nodes (README.md, "Attacks"). */
    double hostile;           /* share of the nodes */
    uint8_t attack;           /* sim_attack_t */
    uint64_t attack_at_us;    /* withholding starts (sybil: they arrive); coldboot: ignored, 0 */
    uint32_t hostile_peers;   /* links each hostile node dials (0: peers) */
    uint32_t victims;         /* eclipse: honest nodes whose links they fill */
    uint32_t victim_peers;    /* eclipse: links a victim dials itself (0: peers) */
    uint32_t hostile_addrs;   /* addresses they share (0: one each); honest nodes have one each */
    bool hostile_ihave;       /* they announce (IHAVE) the events they withhold */
    bool hostile_backoff;     /* they wait out a PRUNE's back-off before grafting again */
    uint32_t hostile_invalid; /* invalid events each sends each honest peer per heartbeat */
    uint64_t join_us;         /* coldboot: honest nodes come up at random within this */
    uint64_t recovery_us;     /* the `late` window opens this long after the attack starts */
    sim_at_t at[SIM_AT_MAX];
    size_t n_at;
} sim_scenario_t;

/* Fewest bytes of a synthetic EVENT frame: version, type, index (4), id (32), hops (1). */
#define SIM_EVENT_HEADER (2 + 4 + RUMOR_ID_BYTES + 1)

void sim_scenario_defaults(sim_scenario_t *sc);
/*
 * Reads scenario text over `sc` (`name` names it in messages). Returns 0, or -1 with a
 * one-line reason in `why` (with the line number).
 */
int sim_scenario_parse(sim_scenario_t *sc, const char *name, const char *text, size_t len,
                       char *why, size_t why_cap);
/* One `key = value` (a --set); 0 or -1 with `why`. */
int sim_scenario_set(sim_scenario_t *sc, const char *kv, char *why, size_t why_cap);
/* How many nodes `hostile` makes hostile. */
uint32_t sim_hostile_count(const sim_scenario_t *sc);
/* The rules between keys, checked once all are read; 0 or -1 with `why`. */
int sim_scenario_check(const sim_scenario_t *sc, char *why, size_t why_cap);

/* ---- the queue of timed events (queue.c) --------------------------------------------- */

/* One timed event; ties in time go by `seq` (the order they were queued), so runs repeat. */
typedef struct {
    uint64_t t;   /* microseconds */
    uint64_t seq; /* given by the queue */
    union {
        void *p;    /* owned bytes (control frames, catch-up lists), freed by sim.c */
        uint64_t v; /* or a value (an EVENT frame's message) */
    };
    uint32_t a, b, c; /* sim.c's, by kind */
    uint8_t kind;     /* sim.c's ev_kind_t */
    uint8_t hops;     /* EVENT frames */
    bool taken;       /* a frame the node has taken off its link (process_us): handled now */
} sim_ev_t;

/* A heap key: time, then sequence number and slab slot (seq << SLOT_BITS | slot). */
typedef struct {
    uint64_t t;
    uint64_t sx;
} sim_qkey_t;

#define SIM_QUEUE_SLOT_BITS 24
/* Events queued at once at most (16,777,216). */
#define SIM_QUEUE_SLOTS_MAX (1ULL << SIM_QUEUE_SLOT_BITS)

typedef struct {
    sim_qkey_t *k; /* the heap */
    size_t n, cap;
    sim_ev_t *slab; /* the events, by slot */
    uint32_t *free; /* free slots */
    size_t n_free, slots, slab_cap;
    uint64_t seq;
} sim_queue_t;

/* 0, or -1 when out of memory (or 16,777,216 events queued at once, or 2^40 queued in all). */
int sim_queue_push(sim_queue_t *q, sim_ev_t *ev);
/* The earliest event, left in the queue; NULL when empty. */
const sim_ev_t *sim_queue_peek(const sim_queue_t *q);
/* The earliest event; false when the queue is empty. */
bool sim_queue_pop(sim_queue_t *q, sim_ev_t *ev);
void sim_queue_free(sim_queue_t *q);

/* ---- the run (sim.c) ----------------------------------------------------------------- */

/* Frame kinds counted (the engine's counters, plus the modelled catch-up). */
typedef enum {
    SIM_F_EVENT = 0, /* EVENT pushed (or published) */
    SIM_F_SERVED,    /* EVENT sent for an IWANT */
    SIM_F_GRAFT,
    SIM_F_PRUNE,
    SIM_F_IHAVE,
    SIM_F_IWANT,
    SIM_F_RECON, /* modelled set reconciliation */
    SIM_F_BATCH, /* events it sent, modelled */
    SIM_F_PING,  /* PING and PONG (keepalive), modelled */
    SIM_F_PEERS, /* peer exchange (keepalive), modelled */
    SIM_F_KINDS
} sim_frame_kind_t;

typedef struct {
    uint64_t at_us, heal_us;
    uint32_t k;         /* messages published before the heal */
    uint64_t missing;   /* (node up at the heal, valid message < k) pairs not yet held */
    uint64_t converged; /* microseconds after the heal; UINT64_MAX: not within the run */
    uint8_t *nodes;     /* bit set of the nodes up at the heal */
} sim_heal_t;

typedef struct {
    uint32_t publisher; /* UINT32_MAX: not published (no node was up) */
    uint64_t publish_us;
    bool valid;
    uint32_t dups;     /* duplicate copies of it that nodes received */
    uint32_t by_recon; /* nodes that got it by catch-up */
} sim_msg_t;

/* A node's part in an attack. */
typedef enum {
    SIM_ROLE_HONEST = 0,
    SIM_ROLE_VICTIM, /* honest, and the eclipse's target */
    SIM_ROLE_HOSTILE,
} sim_role_t;

/* Hostile nodes' shares of the honest nodes' mesh places (first topic), sampled. */
typedef struct {
    uint64_t nodes;                         /* honest nodes up */
    uint64_t places;                        /* mesh members summed over them */
    uint64_t hostile;                       /* of those, hostile nodes */
    uint64_t victim_places, victim_hostile; /* the same for the victims' meshes */
} sim_mesh_share_t;

/* What the attack left (report.c adds the delivery windows from the tables). */
typedef struct {
    const uint8_t *role;        /* by node: sim_role_t */
    uint32_t hostile, victims;  /* how many */
    uint64_t attack_us;         /* when withholding started (UINT64_MAX: never) */
    uint64_t graylisted_frames; /* frames honest nodes dropped unread from graylisted peers */
    uint64_t score_drops;       /* DROP actions: peers an engine graylisted (the node bans them) */
    uint64_t withheld_events;   /* EVENT pushes hostile nodes' engines asked for, not sent */
    uint64_t withheld_served;   /* events asked by IWANT they did not serve */
    uint64_t eager_grafts;      /* GRAFTs they sent beyond their engines' own */
    uint64_t invalid_sent;      /* invalid events they sent */
    uint64_t invalid_reported;  /* rumor_engine_invalid calls at honest nodes */
    sim_mesh_share_t at_attack, peak, at_end; /* peak: the sample of the highest share */
    /* Summed over honest nodes at the end (rumor_engine_counters). */
    uint64_t pruned_by_score, opportunistic_grafts, backoff_grafts, broken_promises;
    /* Scores honest nodes gave their hostile and their honest peers at the end. */
    double score_hostile_sum, score_honest_sum;
    uint64_t score_hostile_n, score_honest_n;
    uint64_t hostile_graylisted; /* (honest node, hostile peer) pairs graylisted at the end */
} sim_attack_result_t;

typedef struct sim sim_t;

/* Builds the network of `sc` (kept by pointer). NULL with `why` when out of memory. */
sim_t *sim_new(const sim_scenario_t *sc, char *why, size_t why_cap);
/* Runs to the end; 0, or -1 with `why` (out of memory, an engine refused). */
int sim_run(sim_t *s, char *why, size_t why_cap);
void sim_free(sim_t **s);

/* What the run leaves for report.c. */
typedef struct {
    const sim_scenario_t *sc;
    uint32_t nodes, messages, published;
    const sim_msg_t *msgs;
    const uint8_t *hop;   /* messages x nodes: 0 not held, else hops + 1 (capped at 255) */
    const uint32_t *lat;  /* messages x nodes: microseconds from publication to delivery */
    uint64_t links_start; /* links after set-up */
    uint64_t degree_sum_start;
    uint32_t degree_median_start; /* the lower median */
    uint64_t frames[SIM_F_KINDS], bytes[SIM_F_KINDS];
    /* The counters when the first message was published (frames of the publication window
     * are the difference, as bench/bench_mesh.py counts them). */
    uint64_t frames_pre[SIM_F_KINDS], bytes_pre[SIM_F_KINDS];
    uint64_t deliveries_pre, duplicates_pre;
    uint64_t mesh_sum, mesh_nodes, mesh_below_lo; /* meshes of the first topic then */
    uint64_t window_us;                           /* when the window opened */
    uint64_t window_hop_hist[256];                /* deliveries by gossip of its messages */
    bool window_open;
    uint64_t processed, process_wait_us; /* frames handled with process_us, and their waits */
    uint64_t lost_loss, lost_cut, lost_down, lost_recon;
    uint64_t deliveries, by_recon, duplicates, invalid_dropped;
    uint64_t duplicates_unmeshed; /* of the duplicates: from a peer outside the node's mesh */
    uint64_t relays_meshless;     /* deliveries pushed on with an empty mesh (to D peers) */
    uint64_t hop_hist[256];       /* deliveries by gossip, by hops */
    uint64_t leaves, returns;
    const uint64_t *catchup_us; /* one per return that caught up */
    size_t n_catchup;
    uint64_t catchup_open; /* returns that had not caught up when the run ended or left again */
    const sim_heal_t *heals;
    size_t n_heals;
    uint64_t events, end_us;
    uint32_t nodes_up_end;
    bool stopped_early; /* events_max was reached */
    sim_attack_result_t attack;
} sim_result_t;

void sim_result(const sim_t *s, sim_result_t *r);
/* Frees every engine and returns the heap bytes that freed (call once, after sim_result). */
uint64_t sim_free_engines(sim_t *s);

/* ---- reports (report.c) -------------------------------------------------------------- */

typedef struct {
    bool wall; /* print the `host` object (wall clock, memory): not repeatable */
    double wall_s;
    uint64_t rss_base_kb, rss_peak_kb;
    uint64_t engine_bytes;
    const char *scenario_name;
} sim_host_t;

/* JSON Lines, one per message. 0 or -1 (write error). */
int sim_report_records(const sim_result_t *r, FILE *f);
/* The JSON summary. 0 or -1. */
int sim_report_summary(const sim_result_t *r, const sim_host_t *h, FILE *f);

#endif
