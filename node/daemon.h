/*
 * daemon.h - private to node/: the running node (PROTOCOL.md 9-11). One daemon per process, on
 * one libuv loop and thread. Its structures are daemon_core.h's, known only to the files that own
 * them (daemon.c, links.c, peers.c, events.c, join.c); the edge modules (inbound.c, catchup.c,
 * book.c, lan.c, lanjoin.c, control.c) see daemon_t and peer_t as opaque and use the functions
 * declared here. Each edge module's entry points, which the core calls, are at the end.
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

/* Logs one line on stderr at `level` (0 error .. 3 debug). */
void rumor_daemon_log(daemon_t *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define LOG_ERROR 0
#define LOG_WARN  1
#define LOG_INFO  2
#define LOG_DEBUG 3

/* Where a peer event came from: pushed, a SYNC answer, a BATCH (the last two are not forwarded). */
enum { ORIGIN_PUSH, ORIGIN_SYNC, ORIGIN_BATCH };

/* ---- the daemon and its peers, seen from the edge modules -------------------------------------
 * The layouts of daemon_t and peer_t are daemon_core.h's. The functions below are how inbound.c,
 * catchup.c, book.c, lan.c, lanjoin.c and control.c read them; the pointers they return belong to
 * the daemon (or the peer) and live as long as it does. */

rumor_node_t *rumor_daemon_node(daemon_t *d);
/* The node's open store. */
rumor_store_t *rumor_daemon_store(daemon_t *d);
const rumor_node_config_t *rumor_daemon_cfg(const daemon_t *d);
uv_loop_t *rumor_daemon_loop(daemon_t *d);
/* Loop time in ms, which timers, rates and back-offs count in (rumor_now_ms is the wall clock). */
uint64_t rumor_daemon_loop_ms(const daemon_t *d);
/* Wall-clock ms since the daemon started. */
uint64_t rumor_daemon_uptime_ms(const daemon_t *d);
/* The counters, which every module adds to. */
rumor_daemon_stats_t *rumor_daemon_stats(daemon_t *d);
/* The delivery latency histogram: RUMOR_LATENCY_BUCKETS counts. */
const uint64_t *rumor_daemon_latency(const daemon_t *d);
/* Copies the counters the engine keeps itself into the stats (pruned_by_score and the like). */
void rumor_daemon_stats_from_engine(daemon_t *d);
/* The address the ROUTER listens on (its host may be a wildcard). */
const char *rumor_daemon_listen_host(const daemon_t *d);
uint16_t rumor_daemon_listen_port(const daemon_t *d);
/* Whether LAN discovery is on. */
bool rumor_daemon_lan_on(const daemon_t *d);
/* The topics we subscribe to, sorted by id: how many, and the id of the i-th. */
size_t rumor_daemon_topic_count(const daemon_t *d);
const uint8_t *rumor_daemon_topic_id(const daemon_t *d, size_t i);
/* Whether a peer told us of a membership in `topic` (INVITED) that is being fetched. */
bool rumor_daemon_told_of(daemon_t *d, const uint8_t topic[RUMOR_ID_BYTES]);
/* The candidate peers (the passive view): how many, and the key of the i-th. */
size_t rumor_daemon_cand_count(const daemon_t *d);
const uint8_t *rumor_daemon_cand_pk(const daemon_t *d, size_t i);
/* Whether `p` was found `found` (RUMOR_FOUND_*), or a candidate of its key was. */
bool rumor_daemon_found_as(const daemon_t *d, const peer_t *p, uint8_t found);
/* Adds `cost` frames' worth of work to the current drain of the sockets (a BATCH is many). */
void rumor_daemon_add_drain_cost(daemon_t *d, uint32_t cost);

/* The peer table, dropped peers included (see rumor_peer_dropped): the first peer, then each
 * next one; NULL at the end. */
peer_t *rumor_daemon_peers(daemon_t *d);
peer_t *rumor_peer_next(const peer_t *p);
/* Dropped: out of service, freed once no frame handler holds it. */
bool rumor_peer_dropped(const peer_t *p);
/* Its identity key (RUMOR_ID_BYTES) and Curve key (32 bytes). */
const uint8_t *rumor_peer_pk(const peer_t *p);
const uint8_t *rumor_peer_curve(const peer_t *p);
/* The first 8 bytes of its key in hex, for logs. */
const char *rumor_peer_hex8(const peer_t *p);
/* Where it listens (or its link's address), and its listen port (0 when unknown). */
const char *rumor_peer_host(const peer_t *p);
uint16_t rumor_peer_port(const peer_t *p);
/* How it was found (RUMOR_FOUND_*). */
uint8_t rumor_peer_found(const peer_t *p);
/* What `peers` reports of a peer in service. */
typedef struct {
    const char *direction;      /* the links that finished HELLO: "out", "in" or "both" */
    uint64_t rtt_us;            /* last round-trip time */
    uint64_t since_ms;          /* wall clock when it came into service */
    size_t n_topics;            /* its topics that count */
    bool scored;                /* the engine scores it: `score` and `graylisted` are set */
    rumor_engine_score_t score; /* this node's own view (PROTOCOL.md 9.8) */
    bool graylisted;            /* its score is below score_graylist */
} rumor_peer_info_t;
void rumor_daemon_peer_info(daemon_t *d, const peer_t *p, rumor_peer_info_t *out);

/* State an edge module keeps on the daemon or on a peer, NULL until the module sets it; only
 * that module knows its layout. */
struct catchup **rumor_peer_catchup_slot(peer_t *p);         /* catchup.c */
struct catchup_ctx **rumor_daemon_catchup_slot(daemon_t *d); /* catchup.c */
struct inbound **rumor_daemon_inbound_slot(daemon_t *d);     /* inbound.c */
struct beacons **rumor_daemon_beacons_slot(daemon_t *d);     /* lan.c */
struct ctl_server **rumor_daemon_ctl_slot(daemon_t *d);      /* control.c */
rumor_lancodes_t **rumor_daemon_lancodes_slot(daemon_t *d);  /* lanjoin.c: our open LAN codes */
struct lan_join **rumor_daemon_lan_joins_slot(daemon_t *d);  /* lanjoin.c: codes typed here */

/* ---- daemon.c: start and stop, the heartbeat, our topics, the engine, frame dispatch --------- */

/* Re-reads the rooms we hold and announces a changed subscription set. */
void rumor_daemon_resubscribe(daemon_t *d);
bool rumor_daemon_holds(daemon_t *d, const uint8_t topic[RUMOR_ID_BYTES]);
bool rumor_daemon_peer_subscribes(const peer_t *p, const uint8_t topic[RUMOR_ID_BYTES]);

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

/* Sends one frame to a peer on whichever link is up; false when it did not go (counted). */
bool rumor_daemon_send(daemon_t *d, peer_t *p, const uint8_t *buf, size_t len);
/* Encodes and sends a small frame (not RECON or BATCH). */
bool rumor_daemon_send_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f);

/* ---- peers.c: the peer table, candidates and dialing, peer exchange, views ------------------- */

/* A link of the peer finished HELLO, and it is not being dropped. */
bool rumor_daemon_peer_ready(const peer_t *p);
size_t rumor_daemon_peer_count(const daemon_t *d);
/* Offers a candidate peer; `source` (32 bytes, may be NULL) is who said so (gossip/cands.c). */
void rumor_daemon_candidate(daemon_t *d, const uint8_t pk[RUMOR_ID_BYTES], const char *host,
                            uint16_t port, uint8_t found, const uint8_t *source);
/* Dials every candidate found `found` that is not linked (whatever its back-off); how many. */
size_t rumor_daemon_dial_found(daemon_t *d, uint8_t found);
/* `peer add` on a running node: the peer becomes a candidate of the user's word and is dialed at
 * once, whatever its back-off; false when it could not be. */
bool rumor_daemon_dial_now(daemon_t *d, const uint8_t pk[RUMOR_ID_BYTES], const char *host,
                           uint16_t port);

/* ---- join.c: redeeming an invite (JOIN, JOINED, SYNC, SYNC_END), and answering them ---------- */

/* Starts redeeming an invite; done(ctx, rc, room) is called once. */
typedef void (*rumor_join_done_fn)(void *ctx, int rc, const uint8_t room[RUMOR_ID_BYTES]);
int rumor_daemon_join(daemon_t *d, const rumor_invite_t *inv, rumor_join_done_fn done, void *ctx);
/* Forgets a pending join's callback (its client went away). */
void rumor_daemon_join_cancel(daemon_t *d, void *ctx);

/* ---- events.c: peer events in batch transactions, events waiting for parents, the outbox ----- */

/* Queues an EVENT frame (version | type | event) from a peer for the next batch transaction. */
void rumor_daemon_queue_event(daemon_t *d, peer_t *p, const uint8_t *frame, size_t len, int origin);
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
