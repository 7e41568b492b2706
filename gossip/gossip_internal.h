/* gossip_internal.h - what ingest.c and fold.c share inside the gossip module. */
#ifndef RUMOR_GOSSIP_INTERNAL_H
#define RUMOR_GOSSIP_INTERNAL_H

#include "rumor_gossip.h"

/* Events whose effect the fold decides (PROTOCOL.md 7.3). */
bool rumor_gossip_is_control(uint8_t type);
/* Reads and decodes a stored event (no signature check: it was checked when stored). */
int rumor_gossip_load(rumor_txn_t *t, const uint8_t id[RUMOR_ID_BYTES], rumor_event_t *ev);
/* Makes the room record of a ROOM_CREATE when it is missing (hidden until a fold shows it). */
int rumor_gossip_room_init(rumor_txn_t *t, const rumor_event_t *create, bool root);
/*
 * Folds `ev`, a control event of `domain` just stored, into the domain's state: on top of it
 * when that gives the same result as a full fold, else by a full fold (PROTOCOL.md 7.3).
 * With `ev` NULL, folds the whole domain. *took (may be NULL) tells whether `ev` took effect.
 */
int rumor_gossip_fold_event(rumor_txn_t *t, const rumor_identity_t *self,
                            const uint8_t domain[RUMOR_ID_BYTES], const rumor_event_t *ev,
                            bool *took);
/* Keeps the keys an effective grant or epoch hands to `self`. */
int rumor_gossip_take_keys(rumor_txn_t *t, const rumor_identity_t *self, const rumor_event_t *ev);

/* ---- peer scores (score.c, PROTOCOL.md 9.8), kept by engine.c by peer handle ---- */
typedef struct rumor_score rumor_score_t;
rumor_score_t *rumor_score_new(const rumor_engine_score_opts_t *o);
void rumor_score_free(rumor_score_t **s);
/* Peer `p` is up (a penalty it left with within the hour comes back) or gone. */
int rumor_score_up(rumor_score_t *s, uint32_t p, const uint8_t pk[RUMOR_ID_BYTES]);
void rumor_score_down(rumor_score_t *s, uint32_t p, uint64_t now);
void rumor_score_addr(rumor_score_t *s, uint32_t p, const uint8_t *addr, size_t len);
void rumor_score_trust(rumor_score_t *s, uint32_t p, bool trusted);
/* Peer `p` joined (`in`) or left the mesh of `topic`. */
void rumor_score_mesh(rumor_score_t *s, uint32_t p, const uint8_t topic[RUMOR_ID_BYTES], bool in);
/* A new valid event of `topic` came first from peer `p`, or a copy did. */
void rumor_score_first(rumor_score_t *s, uint32_t p, const uint8_t topic[RUMOR_ID_BYTES]);
void rumor_score_copy(rumor_score_t *s, uint32_t p, const uint8_t topic[RUMOR_ID_BYTES]);
void rumor_score_invalid(rumor_score_t *s, uint32_t p);
void rumor_score_penalty(rumor_score_t *s, uint32_t p);
/* We graft `p` to `topic` no sooner than `until`; `ours` (a back-off we started by pruning it):
 * its GRAFT before then is a penalty too. */
void rumor_score_backoff(rumor_score_t *s, uint32_t p, const uint8_t topic[RUMOR_ID_BYTES],
                         uint64_t until, bool ours);
/* We sent `p` GRAFT of `topic` at `now`; whether we did at `since` or later. */
void rumor_score_grafted(rumor_score_t *s, uint32_t p, const uint8_t topic[RUMOR_ID_BYTES],
                         uint64_t now);
bool rumor_score_grafted_since(const rumor_score_t *s, uint32_t p,
                               const uint8_t topic[RUMOR_ID_BYTES], uint64_t since);
/* Whether we wait before grafting `p` to `topic` at `now`; whether its GRAFT is a penalty. */
bool rumor_score_waits(const rumor_score_t *s, uint32_t p, const uint8_t topic[RUMOR_ID_BYTES],
                       uint64_t now);
bool rumor_score_strict(const rumor_score_t *s, uint32_t p, const uint8_t topic[RUMOR_ID_BYTES],
                        uint64_t now);
/* `p` was asked for `id` (it announced it); the id's arrival, from anyone, keeps the promise. */
void rumor_score_promise(rumor_score_t *s, uint32_t p, const uint8_t id[RUMOR_ID_BYTES]);
void rumor_score_delivered(rumor_score_t *s, const uint8_t id[RUMOR_ID_BYTES]);
/* A heartbeat: broken promises become penalties, the terms decay. */
void rumor_score_tick(rumor_score_t *s);
uint64_t rumor_score_broken_promises(const rumor_score_t *s);
/* The score of `p` (0 for none), and its terms into `out` (may be NULL). */
double rumor_score_of(const rumor_score_t *s, uint32_t p, rumor_engine_score_t *out);

#endif
