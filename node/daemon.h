/*
 * daemon.h - private to node/: the running node (PROTOCOL.md 9-11), shared by
 * daemon.c (start and stop, heartbeat, topics, the engine's wiring), links.c
 * (sockets), peers.c (the peer table and dialing), join.c (invites), events.c
 * (the batch transaction and the outbox), inbound.c, catchup.c, book.c, lan.c,
 * lanjoin.c and control.c. One daemon per process, on one libuv loop and thread.
 */
#ifndef RUMOR_DAEMON_H
#define RUMOR_DAEMON_H

#include "node_internal.h"

#include <stdio.h>
#include <uv.h>

/* Counters reported by `stats`, in the order they are printed. */
#define RUMOR_DAEMON_STATS(X)                                                                      \
    X(received)            /* events offered by peers */                                           \
    X(delivered)           /* new, valid events stored (from peers) */                             \
    X(published)           /* own events handed to the mesh */                                     \
    X(duplicates)          /* events we already had (seen cache or store) */                       \
    X(seen_hits)           /* of the duplicates: caught by the seen cache */                       \
    X(profiles_superseded) /* PROFILEs older than the one held of their author (dropped) */        \
    X(profiles_strangers)  /* PROFILEs of authors we have no reason to know (dropped) */           \
    X(invalid)             /* events that failed validation */                                     \
    X(missing_parent) /* events that arrived before a parent (kept pending, parents asked for) */  \
    X(ignored)        /* valid events without effect when stored: rights lacking, a cycle, a       \
                         rotation leaving a member out, a removed member's post (PROTOCOL 7.3) */  \
    X(pending_resolved)     /* pending events stored once their parents came */                    \
    X(pending_dropped)      /* pending events given up (too many, or parents never came) */        \
    X(unsubscribed)         /* events of topics we do not hold */                                  \
    X(forwarded)            /* EVENT frames pushed on to mesh peers */                             \
    X(frames_in)            /* frames received */                                                  \
    X(frames_out)           /* frames sent */                                                      \
    X(bytes_in)             /* their bytes */                                                      \
    X(bytes_out)            /* frame bytes sent */                                                 \
    X(malformed)            /* frames that broke section 9.2 */                                    \
    X(orphan_frames)        /* well-formed frames on links of peers we dropped (ignored) */        \
    X(rate_limited)         /* frames dropped by a peer's rate limit */                            \
    X(throttled)            /* EVENT frames dropped over peer_bytes_per_s */                       \
    X(graylisted)           /* peers dropped and banned for staying over that rate */              \
    X(score_banned)         /* of those: peers whose score fell below score_graylist */            \
    X(pruned_by_score)      /* mesh peers pruned for scoring below score_graft */                  \
    X(opportunistic_grafts) /* peers grafted because a mesh's median score was low */              \
    X(backoff_grafts)       /* GRAFTs refused within a PRUNE's back-off (a penalty) */             \
    X(broken_promises)      /* IHAVEs whose ids did not come when asked for (a penalty) */         \
    X(author_throttled)     /* pushed events over their author's rate in a domain (catch-up) */    \
    X(topic_throttled)      /* pushed events over their peer's byte rate in a domain (catch-up) */ \
    X(queue_drops)          /* frames dropped: a peer's send queue was full */                     \
    X(unroutable)           /* frames to a link that had gone */                                   \
    X(hello_in)             /* HELLO frames */                                                     \
    X(self_links)           /* HELLOs naming our own key: this identity runs on another node */    \
    X(ping_in)              /* PING frames */                                                      \
    X(pong_in)              /* PONG frames */                                                      \
    X(sub_in)               /* SUB frames received */                                              \
    X(sub_out)              /* SUB frames sent */                                                  \
    X(graft_in)             /* GRAFT received */                                                   \
    X(graft_out)            /* GRAFT sent */                                                       \
    X(prune_in)             /* PRUNE received */                                                   \
    X(prune_out)            /* PRUNE sent */                                                       \
    X(ihave_in)             /* IHAVE received */                                                   \
    X(ihave_out)            /* IHAVE sent */                                                       \
    X(iwant_in)             /* IWANT received */                                                   \
    X(iwant_out)            /* IWANT sent */                                                       \
    X(iwant_served)         /* events sent in answer to IWANT */                                   \
    X(peers_in)             /* PEERS frames received */                                            \
    X(peers_out)            /* PEERS frames sent */                                                \
    X(join_in)              /* JOIN requests answered */                                           \
    X(members_added)        /* MEMBER_ADD authored for joiners */                                  \
    X(rotations)            /* KEY_EPOCH authored after a member left */                           \
    X(invited_out)          /* INVITED frames sent: a membership waits for the peer */             \
    X(invited_in)           /* INVITED frames received */                                          \
    X(lan_codes_sent)       /* LAN_CODE proofs sent for a typed LAN code (PROTOCOL.md 10.3) */     \
    X(lan_codes_answered)   /* LAN_CODEs that matched one of our open codes: the invite went */    \
    X(lan_codes_wrong)      /* LAN_CODEs that matched none while codes were open */                \
    X(lan_codes_limited)    /* LAN_CODEs past the tries allowed (3/min per address, 30 in all) */  \
    X(lan_codes_bad)        /* LAN_INVITEs that did not prove the code, or named another invite */ \
    X(invited_dropped)      /* of those, not followed: too many told, or by that peer */           \
    X(direct_dials)         /* dials to the other member of a direct conversation */               \
    X(removals_told)        /* removals pushed to a removed member still subscribed */             \
    X(sync_in)              /* SYNC requests answered */                                           \
    X(sync_out)             /* SYNC requests sent */                                               \
    X(sync_events_out)      /* events sent in answer to SYNC */                                    \
    X(sync_events_in)       /* events received by SYNC that were new */                            \
    X(peers_connected)      /* links that completed HELLO */                                       \
    X(peers_dropped)        /* peers dropped (silence, errors, misbehaviour) */                    \
    X(peers_banned)         /* of those: banned for misbehaviour */                                \
    X(dials)                /* outgoing dials */                                                   \
    X(dial_failures)        /* dials that never reached HELLO */                                   \
    X(dials_limited)        /* hearsay candidates not dialed yet: hearsay_dials_per_min */         \
    X(cands_refused)        /* candidates not taken: per source, endpoint taken, or full */        \
    X(zap_denied)           /* handshakes refused by the ZAP handler */                            \
    X(handshakes_refused)   /* of those: over the limits of handshakes waiting for HELLO */        \
    X(links_silent)         /* connections closed for not saying HELLO in hello_timeout_ms */      \
    X(links_refused)        /* connections closed at once: inbound_max reached */                  \
    X(links_replaced)       /* older links closed by a new HELLO of the same key */                \
    X(beacons_in)           /* beacons taken */                                                    \
    X(beacons_out)          /* beacons sent */                                                     \
    X(beacons_bad)          /* datagrams on the beacon port that were not beacons */               \
    X(beacons_dropped)      /* beacons over the rate limit */                                      \
    X(ctl_requests)         /* control requests */                                                 \
    X(ctl_bad)              /* malformed control requests or foreign users */                      \
    X(agent_ops)            /* secret operations done for the CLI (PROTOCOL.md 11, unlock once) */ \
    X(commits)              /* store transactions for peer events */                               \
    X(recon_opened)         /* anti-entropy exchanges we opened */                                 \
    X(recon_done)           /* exchanges that ended settled (on our side) */                       \
    X(recon_in)             /* RECON frames received */                                            \
    X(recon_out)            /* RECON frames sent */                                                \
    X(recon_bytes_in)       /* their bytes */                                                      \
    X(recon_bytes_out)      /* bytes of RECON frames sent */                                       \
    X(recon_refused)        /* RECON/BATCH for a topic we do not hold or a peer not a member */    \
    X(recon_limited)        /* opening RECON over the rate limit */                                \
    X(recon_aborted)        /* RECON past recon_rounds_max */                                      \
    X(recon_timeouts)       /* exchanges that went silent */                                       \
    X(recon_jobs_dropped)   /* ranges to send dropped: the peer's queue was full */                \
    X(batch_in)             /* BATCH frames received */                                            \
    X(batch_out)            /* BATCH frames sent */                                                \
    X(batch_bytes_in)       /* their bytes */                                                      \
    X(batch_bytes_out)      /* bytes of BATCH frames sent */                                       \
    X(batch_events_in)      /* events received in BATCH frames */                                  \
    X(batch_events_out)     /* events sent in BATCH frames */                                      \
    X(batch_event_bytes_in) /* their event bytes */                                                \
    X(batch_event_bytes_out) /* event bytes sent in BATCH frames */                                \
    X(catchup_events_in)     /* events from BATCH frames that were new */                          \
    X(batch_too_big)         /* events too big for a BATCH frame (left to parent fetches) */       \
    X(credit_in)             /* CREDIT frames received */                                          \
    X(credit_out)            /* CREDIT frames sent */                                              \
    X(credit_probes)         /* BATCH frames sent without credit after a long wait (lost credit) */

typedef struct {
#define RUMOR_STAT_FIELD_(name) uint64_t name;
    RUMOR_DAEMON_STATS(RUMOR_STAT_FIELD_)
#undef RUMOR_STAT_FIELD_
} rumor_daemon_stats_t;

/* Delivery latency buckets (author's timestamp to delivery), upper bounds in ms. */
#define RUMOR_LATENCY_BUCKETS 12
extern const uint32_t rumor_latency_bounds_ms[RUMOR_LATENCY_BUCKETS - 1];

/* How a peer was found: rumor_found_t (gossip). */
const char *rumor_daemon_found_name(uint8_t found);

typedef struct daemon daemon_t;
typedef struct peer peer_t;
typedef struct ctl_client ctl_client_t;

/* A ZeroMQ socket watched by the loop. */
typedef struct zsock {
    void *z;            /* the ZeroMQ socket */
    uv_poll_t poll;     /* on its ZMQ_FD */
    daemon_t *d;        /* owner */
    peer_t *peer;       /* the peer of an outgoing DEALER; NULL for ROUTER and ZAP */
    int kind;           /* ZSOCK_* */
    bool dirty;         /* must be drained again (ZMQ_FD is edge-triggered) */
    struct zsock *next; /* in the dirty list */
} zsock_t;

struct peer {
    uint8_t pk[RUMOR_ID_BYTES];
    uint8_t curve[32];                    /* its Curve key (the handshake's) */
    char hex8[17];                        /* first 8 bytes in hex, for logs */
    char host[RUMOR_INVITE_HOST_MAX + 1]; /* where it listens (or its link's address) */
    uint16_t port;                        /* its listen port, 0 when unknown */
    uint8_t found;                        /* found_t */
    zsock_t *out;                         /* our DEALER to it, or NULL */
    bool out_ready;                       /* its HELLO came back over `out` */
    bool out_stalled;       /* `out` refused a send: closed at the next heartbeat if it is silent */
    uint64_t out_heard_ms;  /* loop time of its last frame on `out` */
    uint64_t dial_ms;       /* when `out` was opened */
    uint8_t rid[256];       /* routing id of its link to our ROUTER */
    size_t rid_len;         /* 0: no inbound link */
    bool in_ready;          /* its HELLO arrived on the inbound link */
    uint64_t since_ms;      /* wall clock when it became ready */
    uint64_t last_heard_ms; /* loop time of its last frame */
    uint64_t rtt_us;        /* last round-trip time */
    uint64_t ping_nonce, ping_sent_us; /* the outstanding PING */
    uint8_t *subs; /* its topics that count: claimed and named, sorted (n_subs x 32) */
    size_t n_subs;
    uint8_t *claimed; /* the topics its last SUB named, sorted */
    size_t n_claimed;
    uint8_t *named; /* the topics our SUB names to it (gossip/told.c), sorted */
    size_t n_named;
    bool subs_known;             /* it sent a SUB (its subscriptions are known) */
    bool px;                     /* takes part in peer exchange */
    rumor_gossip_bucket_t bytes; /* EVENT bytes it may still send (peer_bytes_per_s) */
    uint32_t throttled;          /* frames dropped over that rate, halved every heartbeat */
    double tokens;               /* rate limit bucket */
    uint64_t tokens_ms;          /* last refill */
    uint32_t malformed, invalid; /* misbehaviour so far */
    uint32_t budget;             /* events it may still be sent in answers this heartbeat */
    uint64_t warn_ms;            /* last warning logged about it */
    bool closing;                /* dropped; freed after the current batch */
    rumor_engine_peer_t eh;      /* its handle in the engine once ready, else RUMOR_ENGINE_NONE */
    struct catchup *cu;          /* anti-entropy state (catchup.c), or NULL */
    peer_t *next;
};

/* A candidate peer (the passive view, gossip/cands.c). */
typedef rumor_gossip_cand_t cand_t;

/* One topic we subscribe to (its mesh is the engine's). */
typedef struct {
    uint8_t id[RUMOR_ID_BYTES];
    bool rights_changed; /* a control event was stored since the last check for a rotation due */
} topic_t;

struct daemon {
    rumor_node_t *node;
    const rumor_node_config_t *cfg;
    uv_loop_t *loop;
    int log_level;
    bool log_json; /* log_format = json: one JSON object per line */
    FILE *trace;   /* deliveries as JSON Lines, or NULL */
    uint64_t start_ms;

    /* links */
    void *zctx;
    zsock_t *router, *zap;
    zsock_t *dirty; /* sockets to drain again */
    uv_idle_t idle; /* drains dirty sockets */
    uint8_t curve_pk[32];
    char listen_host[RUMOR_INVITE_HOST_MAX + 1];
    uint16_t listen_port;
    peer_t *peers;
    size_t n_peers;
    cand_t *cands;
    size_t n_cands;
    rumor_gossip_bucket_t hearsay_dials; /* dials of candidates learned by exchange */
    rumor_gossip_quota_t authors; /* pushed events relayed per author and domain (PROTOCOL 9.7) */
    rumor_gossip_quota_t peer_topics;      /* pushed event bytes taken per peer and domain */
    uint8_t (*banned)[RUMOR_ID_BYTES + 8]; /* curve key | until (loop ms) */
    size_t n_banned;
    uint64_t self_warn_ms;      /* loop time of the last warning about our own identity elsewhere */
    zsock_t *monitor;           /* events of the ROUTER's connections (inbound.c) */
    rumor_gossip_links_t links; /* inbound connections and handshakes (gossip/links.c) */
    uint8_t (*known)[32];       /* Curve keys of everyone known, sorted (inbound.c) */
    size_t n_known;
    uint64_t known_ms;        /* loop time `known` was built */
    uint64_t inbound_warn_ms; /* loop time of the last warning about refused handshakes */
    rumor_gossip_told_t told; /* memberships peers told us of (INVITED), being fetched */

    /* dissemination */
    topic_t *topics; /* sorted by id */
    size_t n_topics;
    rumor_engine_t *engine;  /* dissemination: meshes, caches (gossip/engine.c) */
    rumor_txn_t *engine_txn; /* the read transaction the engine's `has` asks, while it runs */
    struct batch *batch;
    rumor_gossip_pending_t pending; /* events waiting for their parents */
    uint64_t heartbeats;
    uv_timer_t heartbeat;
    uv_timer_t expiry;  /* the engine's next expiry (a tree repair due) */
    bool expiry_on;     /* `expiry` is initialized (not in offline mode) */
    uint64_t expiry_at; /* when it is armed for, loop ms; 0: not armed */

    /* LAN */
    bool lan;
    uv_udp_t udp;
    uv_timer_t beacon_timer;
    double beacon_tokens;
    uint64_t beacon_tokens_ms;

    /* control */
    uv_pipe_t ctl;
    ctl_client_t *clients;
    char *sock_path;
    int lock_fd;
    struct join *joins;
    rumor_lancodes_t *lancodes; /* our open LAN codes (PROTOCOL.md 10.3), NULL until one */
    struct lan_join *lan_joins; /* LAN codes typed here, being asked of the LAN */

    uv_signal_t sigint, sigterm;
    bool stopping;

    struct catchup_ctx *cx; /* anti-entropy scratch space */
    uint32_t drain_cost;    /* work the current drain did beyond its frames (BATCH events) */

    rumor_daemon_stats_t stats;
    uint64_t latency[RUMOR_LATENCY_BUCKETS];
};

/* Logs one line on stderr at `level` (0 error .. 3 debug). */
void rumor_daemon_log(daemon_t *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define LOG_ERROR 0
#define LOG_WARN  1
#define LOG_INFO  2
#define LOG_DEBUG 3

/* Loop time in ms, which timers, rates and back-offs count in (rumor_now_ms is the wall clock). */
static inline uint64_t rumor_daemon_loop_ms(const daemon_t *d)
{
    return uv_now(d->loop);
}

/* Where a peer event came from: pushed, a SYNC answer, a BATCH (the last two are not forwarded). */
enum { ORIGIN_PUSH, ORIGIN_SYNC, ORIGIN_BATCH };
/* The link a frame goes on: whichever is up (our DEALER first), our DEALER, or the peer's link to
 * our ROUTER. */
enum { LINK_ANY, LINK_OUT, LINK_IN };

/* ---- daemon.c: start and stop, the heartbeat, our topics, the engine, frame dispatch --------- */

/* Re-reads the rooms we hold and announces a changed subscription set. */
void rumor_daemon_resubscribe(daemon_t *d);
/* Orders two ids (RUMOR_ID_BYTES each), for bsearch and qsort. */
int rumor_daemon_id_cmp(const void *a, const void *b);
/* The topic `id` if we subscribe to it, else NULL. */
topic_t *rumor_daemon_topic(daemon_t *d, const uint8_t id[RUMOR_ID_BYTES]);
bool rumor_daemon_holds(daemon_t *d, const uint8_t topic[RUMOR_ID_BYTES]);
bool rumor_daemon_peer_subscribes(const peer_t *p, const uint8_t topic[RUMOR_ID_BYTES]);
/* Carries out what the engine decided: frames to send, events to serve. */
void rumor_daemon_engine_run(daemon_t *d);
/* Handles one frame from a peer whose link finished HELLO; `link` is the one it came on. */
void rumor_daemon_on_frame(daemon_t *d, peer_t *p, int link, const uint8_t *buf, size_t len);

/*
 * For the frame-handler fuzz target (tests/fuzz/fuzz_handlers.c) only: a daemon with its tables
 * and the node's store but no socket and no running loop. Frames from a peer are handled as the
 * loop would handle them (and the batch committed); whatever the node would send goes nowhere,
 * and nothing is dialed.
 */
int rumor_daemon_offline_open(rumor_node_t *node, const rumor_node_config_t *cfg, daemon_t **out);
/* A peer that said HELLO on an inbound link. */
peer_t *rumor_daemon_offline_peer(daemon_t *d, const uint8_t pk[RUMOR_ID_BYTES]);
void rumor_daemon_offline_frame(daemon_t *d, peer_t *p, const uint8_t *buf, size_t len);
void rumor_daemon_offline_close(daemon_t **d);

/* ---- links.c: ZeroMQ sockets on the loop, HELLO, sending on a peer's link -------------------- */

/* Opens the ZAP handler, the ROUTER listening on `listen` ("host:port"; NULL: port 7470 or the
 * next free one) and its monitor. */
int rumor_links_open(daemon_t *d, const char *listen);
/* Closes the ROUTER, its monitor and the ZAP handler (after the peers' DEALERs). */
void rumor_links_close(daemon_t *d);
/* For uv_walk at the end: closes a handle still open (a socket's poll frees its zsock_t). */
void rumor_links_close_handle(uv_handle_t *h, void *arg);
/* Ends the ZeroMQ context, once every socket is closed. */
void rumor_links_term(daemon_t *d);
/* Has the idle handle drain a socket again (ZMQ_FD is edge-triggered, and sends eat edges). */
void rumor_links_mark_dirty(zsock_t *zs);
/* Closes a socket and sets *p to NULL; its memory goes with its poll handle. */
void rumor_links_sock_close(zsock_t **p);
/* A DEALER dialing host:port, whose server must hold Curve key `curve`; NULL (logged) if not. */
zsock_t *rumor_links_connect(daemon_t *d, const char *host, uint16_t port, const uint8_t curve[32]);
/* Queues our HELLO on a new DEALER: it goes once the handshake completes. */
void rumor_links_hello(daemon_t *d, zsock_t *zs);
/* Sends one frame to a peer on whichever link is up; false when it did not go (counted). */
bool rumor_daemon_send(daemon_t *d, peer_t *p, const uint8_t *buf, size_t len);
/* Encodes and sends a small frame (not RECON or BATCH). */
bool rumor_daemon_send_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f);
/* rumor_daemon_send_frame on the link `link` (LINK_*). */
bool rumor_links_send_frame_on(daemon_t *d, peer_t *p, int link, const rumor_wire_frame_t *f);

/* ---- peers.c: the peer table, candidates and dialing, peer exchange, views ------------------- */

/* Allocates the candidates and the bans; rumor_peers_close frees them (also after a failure). */
int rumor_peers_open(daemon_t *d);
void rumor_peers_close(daemon_t *d);
/* A link of the peer finished HELLO, and it is not being dropped. */
bool rumor_daemon_peer_ready(const peer_t *p);
size_t rumor_daemon_peer_count(const daemon_t *d);
/* The peer of key `pk` that is not being dropped, or NULL. */
peer_t *rumor_peers_find(daemon_t *d, const uint8_t pk[RUMOR_ID_BYTES]);
/* The peer whose link to our ROUTER has routing id `rid`, or NULL. */
peer_t *rumor_peers_by_rid(daemon_t *d, const uint8_t *rid, size_t len);
/* How many peers are not being dropped, ready or not. */
size_t rumor_peers_live(const daemon_t *d);
/* Adds a peer to the table (`found`: RUMOR_FOUND_*); NULL when out of memory. */
peer_t *rumor_peers_new(daemon_t *d, const uint8_t pk[RUMOR_ID_BYTES], uint8_t found);
/* Whether Curve key `curve` is banned now. */
bool rumor_peers_banned(daemon_t *d, const uint8_t curve[32]);
/* Takes a peer out of service now (and bans it); its memory goes in rumor_peers_reap. */
void rumor_peers_drop(daemon_t *d, peer_t *p, const char *why, bool banned);
/* Frees the dropped peers: called when no frame handler holds one. */
void rumor_peers_reap(daemon_t *d);
/* Counts a frame that broke the protocol (`p` may be NULL); too many and the peer is banned. */
void rumor_peers_misbehaved(daemon_t *d, peer_t *p, const char *what);
/* Counts an invalid event against the peer `from`; too many and it is banned. */
void rumor_peers_invalid(daemon_t *d, const uint8_t from[RUMOR_ID_BYTES]);
/* True when the peer's score fell below score_graylist (PROTOCOL.md 9.8): it is dropped and
 * banned (counted score_banned), and none of its frames is read any more. */
bool rumor_peers_graylisted(daemon_t *d, peer_t *p);
/* A frame of `p` (may be NULL) went over one of its rates; a sustained excess graylists it. */
void rumor_peers_over_rate(daemon_t *d, peer_t *p);
/* Drops a peer that dialed us to take a newcomer; false when every peer is in use. */
bool rumor_peers_make_room(daemon_t *d);
/* A link finished its HELLO (`was_ready`: another one had): the peer is in service. */
void rumor_peers_up(daemon_t *d, peer_t *p, bool was_ready);
/* Sends `pk`'s PROFILE, if we hold one; `frame` is scratch of RUMOR_WIRE_FRAME_MAX bytes. */
void rumor_peers_send_profile(daemon_t *d, rumor_txn_t *t, peer_t *p,
                              const uint8_t pk[RUMOR_ID_BYTES], uint8_t *frame);
/* Sends our own PROFILE (our nick) to a peer. */
void rumor_peers_send_own_profile(daemon_t *d, peer_t *p);
/* Sends a peer a sample of our peers that take part in peer exchange (PEERS). */
void rumor_peers_send_px(daemon_t *d, peer_t *to);
/* The peers' part of the heartbeat at loop time `now`. */
void rumor_peers_heartbeat(daemon_t *d, uint64_t now);
/* Offers a candidate peer; `source` (32 bytes, may be NULL) is who said so (gossip/cands.c). */
void rumor_daemon_candidate(daemon_t *d, const uint8_t pk[RUMOR_ID_BYTES], const char *host,
                            uint16_t port, uint8_t found, const uint8_t *source);
/* Dials every candidate found `found` that is not linked (whatever its back-off); how many. */
size_t rumor_daemon_dial_found(daemon_t *d, uint8_t found);
/* `peer add` on a running node: the peer becomes a candidate of the user's word and is dialed at
 * once, whatever its back-off; false when it could not be. */
bool rumor_daemon_dial_now(daemon_t *d, const uint8_t pk[RUMOR_ID_BYTES], const char *host,
                           uint16_t port);
/* Dials a candidate unless it is banned; its peer (linked already, or dialing), or NULL. */
peer_t *rumor_peers_dial(daemon_t *d, cand_t *c);
/* Dials candidates while we have fewer peers than peers_target (a few per heartbeat). */
void rumor_peers_dial_some(daemon_t *d);
/* Dials the other member of each direct conversation that is not linked. */
void rumor_peers_dial_direct(daemon_t *d);
/* Tells a peer of the memberships that wait for it (INVITED) and of its removals. */
void rumor_peers_tell(daemon_t *d, peer_t *p);
/* Works out what we name to `p` and which of its claims count; a change (or `send_anyway`)
 * sends our SUB. */
void rumor_peers_view(daemon_t *d, peer_t *p, bool send_anyway);
/* Gives up told memberships that expired, and forgets those that arrived. */
void rumor_peers_invited_expire(daemon_t *d);
/* The SUB, PEERS and INVITED frames. */
void rumor_peers_on_sub(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f);
void rumor_peers_on_peers(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f);
void rumor_peers_on_invited(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f);

/* ---- join.c: redeeming an invite (JOIN, JOINED, SYNC, SYNC_END), and answering them ---------- */

/* Starts redeeming an invite; done(ctx, rc, room) is called once. */
typedef void (*rumor_join_done_fn)(void *ctx, int rc, const uint8_t room[RUMOR_ID_BYTES]);
int rumor_daemon_join(daemon_t *d, const rumor_invite_t *inv, rumor_join_done_fn done, void *ctx);
/* Forgets a pending join's callback (its client went away). */
void rumor_daemon_join_cancel(daemon_t *d, void *ctx);
/* A peer is in service: a join waiting for it as its inviter sends JOIN. */
void rumor_join_peer_ready(daemon_t *d, peer_t *p);
/* A JOIN, JOINED, SYNC or SYNC_END frame. */
void rumor_join_on_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f);
/* Whether a join is fetching the history of `topic` (its events count before we subscribe). */
bool rumor_join_syncing(daemon_t *d, const uint8_t topic[RUMOR_ID_BYTES]);
/* Whether a join is fetching history from the peer `pk` (its EVENT frames are not rationed). */
bool rumor_join_syncing_from(daemon_t *d, const uint8_t pk[RUMOR_ID_BYTES]);
/* Joins past their time fail; a stalled SYNC asks again; an inviter not linked is dialed. */
void rumor_join_heartbeat(daemon_t *d);
/* Ends every join with RUMOR_ERR_BUSY: the node stops. */
void rumor_join_stop(daemon_t *d);

/* ---- events.c: peer events in batch transactions, events waiting for parents, the outbox ----- */

/* Allocates the batch, the pending set and the rates; rumor_events_close frees them (also after a
 * failure). */
int rumor_events_open(daemon_t *d);
void rumor_events_close(daemon_t *d);
/* The topic an event travels in (section 9.3). RUMOR_ERR_NOT_FOUND for a room we do not hold. */
int rumor_events_topic(rumor_txn_t *t, const rumor_event_t *ev, uint8_t topic[RUMOR_ID_BYTES]);
/* Queues an EVENT frame (version | type | event) from a peer for the next batch transaction. */
void rumor_daemon_queue_event(daemon_t *d, peer_t *p, const uint8_t *frame, size_t len, int origin);
/* Validates and stores the queued peer events in one transaction, pushing each new one on. */
void rumor_events_process_batch(daemon_t *d);
/* Gossips the outbox now (the CLI stored events). */
void rumor_daemon_flush(daemon_t *d);

/* Remembered peers (book.c, PROTOCOL.md 9.4): offered as candidates at start; written when a
 * peer's HELLO completes, when a dial of it fails, and for the linked peers now and then. */
void rumor_book_load(daemon_t *d);
void rumor_book_linked(daemon_t *d, const peer_t *p);
void rumor_book_failed(daemon_t *d, const peer_t *p);
void rumor_book_seen(daemon_t *d);

/* LAN codes (lanjoin.c, PROTOCOL.md 10.3): open one for an invite; join by one typed here (done
 * is called once, as for rumor_daemon_join); the frames; a new peer is asked; timeouts. */
int rumor_lan_open(daemon_t *d, const char *invite, char code[RUMOR_LANCODE_CHARS + 1]);
int rumor_lan_join(daemon_t *d, const char *code, rumor_join_done_fn done, void *ctx);
void rumor_lan_on_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f);
void rumor_lan_peer_ready(daemon_t *d, peer_t *p);
void rumor_lan_heartbeat(daemon_t *d);
void rumor_lan_cancel(daemon_t *d, void *ctx);
void rumor_lan_free(daemon_t *d);

/* inbound.c: bounded inbound links (PROTOCOL.md 9.5) */
int rumor_inbound_init(daemon_t *d);
void rumor_inbound_free(daemon_t *d);
/* Reads one event from the ROUTER's monitor socket `z`. */
void rumor_inbound_monitor(daemon_t *d, void *z);
/* The ZAP decision for a handshake from `address` (text) with Curve key `curve`. */
bool rumor_inbound_admit(daemon_t *d, const char *address, const uint8_t curve[32]);
/* HELLO came on descriptor `fd` from `curve` and was taken; an older link of that key closes. */
void rumor_inbound_hello(daemon_t *d, int fd, const uint8_t curve[32]);
/* Closes the link of a HELLO that was refused. */
void rumor_inbound_refuse(daemon_t *d, int fd);
/* Closes the inbound link of a peer being dropped. */
void rumor_inbound_close_peer(daemon_t *d, const peer_t *p);
/* Closes the connections that have not said HELLO in time. */
void rumor_inbound_heartbeat(daemon_t *d);

/* catchup.c: anti-entropy (PROTOCOL.md 12) */
int rumor_catchup_start(daemon_t *d);
void rumor_catchup_stop(daemon_t *d);
void rumor_catchup_peer_free(peer_t *p);
/* A peer finished HELLO: it gets our initial credit. */
void rumor_catchup_peer_ready(daemon_t *d, peer_t *p);
/* A peer's SUB came: exchanges on the topics we share may open. */
void rumor_catchup_on_sub(daemon_t *d, peer_t *p);
/* A RECON, BATCH or CREDIT frame of `len` bytes. */
void rumor_catchup_on_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f, size_t len);
/* An event from a BATCH of `from` was stored. */
void rumor_catchup_stored(daemon_t *d, const uint8_t from[RUMOR_ID_BYTES]);
/* A batch transaction committed: credit goes back, finished catch-ups are reported. */
void rumor_catchup_committed(daemon_t *d);
void rumor_catchup_heartbeat(daemon_t *d);
typedef struct {
    uint64_t peers_in, events_in, remaining_in; /* catch-ups from peers that run */
    uint64_t peers_out, remaining_out;          /* peers we are sending to */
    uint64_t exchanges;                         /* RECON exchanges that run */
} rumor_catchup_progress_t;
void rumor_catchup_progress(daemon_t *d, rumor_catchup_progress_t *out);

/* control.c */
int rumor_ctl_start(daemon_t *d);
void rumor_ctl_stop(daemon_t *d);
/* Tells following clients that `id` of `room` was delivered. */
void rumor_ctl_notify(daemon_t *d, const uint8_t room[RUMOR_ID_BYTES],
                      const uint8_t id[RUMOR_ID_BYTES]);

/* lan.c */
int rumor_lan_start(daemon_t *d);
void rumor_lan_stop(daemon_t *d);

#endif
