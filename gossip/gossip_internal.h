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

#endif
