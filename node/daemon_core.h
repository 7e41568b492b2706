/*
 * daemon_core.h - private to the files that own the running node's structures: daemon.c (start
 * and stop, heartbeat, topics, the engine's wiring), links.c (sockets), peers.c (the peer table
 * and dialing), join.c (invites) and events.c (the batch transaction and the outbox). The edge
 * modules (inbound.c, catchup.c, book.c, lan.c, lanjoin.c, control.c) include daemon.h only and
 * reach these structures through its functions.
 */
#ifndef RUMOR_DAEMON_CORE_H
#define RUMOR_DAEMON_CORE_H

#include "daemon.h"

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
    uint64_t self_warn_ms;    /* loop time of the last warning about our own identity elsewhere */
    zsock_t *monitor;         /* events of the ROUTER's connections (inbound.c) */
    struct inbound *inbound;  /* inbound.c's state: connections, handshakes, known keys */
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
    bool lan;                /* LAN discovery is on */
    struct beacons *beacons; /* lan.c's state: the beacon socket and timer, or NULL */

    /* control */
    struct ctl_server *ctl; /* control.c's state: the socket and its clients, or NULL */
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

/* The link a frame goes on: whichever is up (our DEALER first), our DEALER, or the peer's link to
 * our ROUTER. */
enum { LINK_ANY, LINK_OUT, LINK_IN };

/* ---- daemon.c: start and stop, the heartbeat, our topics, the engine, frame dispatch --------- */
/* Orders two ids (RUMOR_ID_BYTES each), for bsearch and qsort. */
int rumor_daemon_id_cmp(const void *a, const void *b);
/* The topic `id` if we subscribe to it, else NULL. */
topic_t *rumor_daemon_topic(daemon_t *d, const uint8_t id[RUMOR_ID_BYTES]);
/* Carries out what the engine decided: frames to send, events to serve. */
void rumor_daemon_engine_run(daemon_t *d);
/* Handles one frame from a peer whose link finished HELLO; `link` is the one it came on. */
void rumor_daemon_on_frame(daemon_t *d, peer_t *p, int link, const uint8_t *buf, size_t len);
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
/* rumor_daemon_send_frame on the link `link` (LINK_*). */
bool rumor_links_send_frame_on(daemon_t *d, peer_t *p, int link, const rumor_wire_frame_t *f);
/* ---- peers.c: the peer table, candidates and dialing, peer exchange, views ------------------- */

/* Allocates the candidates and the bans; rumor_peers_close frees them (also after a failure). */
int rumor_peers_open(daemon_t *d);
void rumor_peers_close(daemon_t *d);
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
/* Counts an invalid event against the peer `from`; too many and it is banned. `intrinsic` (bad in
 * itself, not refused by the rules): it costs the peer score too (P4). */
void rumor_peers_invalid(daemon_t *d, const uint8_t from[RUMOR_ID_BYTES], bool intrinsic);
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
/* Validates and stores the queued peer events in one transaction, pushing each new one on. */
void rumor_events_process_batch(daemon_t *d);

#endif
