/*
 * messages.c - what a user writes and reads in rooms (PROTOCOL.md 4): room keys and boxes,
 * posting (every event this node authors goes through rumor_node_post_in), nicks, messages and
 * the log, each stored event verified again before it is shown.
 */
#include "node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

int rumor_node_check_nick(const char *nick)
{
    size_t len = strlen(nick);
    if (len == 0) return RUMOR_ERR_INVALID;
    if (len > RUMOR_NICK_MAX) return RUMOR_ERR_TOO_BIG;
    if (!rumor_utf8_valid((const uint8_t *)nick, len)) return RUMOR_ERR_BAD_UTF8;
    if (!rumor_utf8_valid_line((const uint8_t *)nick, len)) return RUMOR_ERR_INVALID;
    return RUMOR_OK;
}

/* ---- keys and boxes ------------------------------------------------------- */

/* Opens the room key named `key_id` into `key` (secret memory of the caller). */
int rumor_node_load_key(rumor_txn_t *t, rumor_node_t *n, const uint8_t key_id[RUMOR_KEY_ID_BYTES],
                        uint8_t *key)
{
    uint8_t sealed[RUMOR_STORE_KEY_SEALED_BYTES];
    if (!n->id) return RUMOR_ERR_PASSPHRASE;
    int rc = rumor_store_key_get(t, key_id, NULL, NULL, sealed);
    if (rc == RUMOR_ERR_NOT_FOUND) return RUMOR_ERR_NO_KEY;
    if (rc < 0) return rc;
    return rumor_key_at_rest_open(key, n->id, sealed, sizeof sealed) < 0 ? RUMOR_ERR_NO_KEY
                                                                         : RUMOR_OK;
}

typedef struct {
    rumor_txn_t *t;
    const uint8_t *domain;
    uint8_t key_id[RUMOR_KEY_ID_BYTES];
    bool found;
} newest_t;

static int newest_step(void *ctx, const uint8_t key_id[RUMOR_KEY_ID_BYTES], uint32_t epoch)
{
    newest_t *w = ctx;
    /* A key whose rotation the fold ignored is not announced: others cannot read under it. */
    if (!rumor_store_epoch_announced(w->t, w->domain, epoch, key_id)) return 0;
    memcpy(w->key_id, key_id, RUMOR_KEY_ID_BYTES);
    w->found = true;
    return 1;
}

/* The newest announced key we hold for the key domain of `room` (PROTOCOL.md 4.4, 7.7). */
static int domain_key(rumor_txn_t *t, rumor_node_t *n, const uint8_t room[ID], uint8_t *key)
{
    uint8_t domain[ID];
    int rc = rumor_gossip_key_domain(t, room, domain);
    if (rc < 0) return rc;
    newest_t w = {t, domain, {0}, false};
    if ((rc = rumor_store_key_each(t, domain, newest_step, &w)) < 0) return rc;
    if (!w.found) return RUMOR_ERR_NO_KEY;
    return rumor_node_load_key(t, n, w.key_id, key);
}

/*
 * Reads a stored event and checks it again: the bytes must decode, hash to
 * the id they are stored under, and carry a valid signature. The store is
 * outside rumor's control (a disk, a backup), so nothing read from it is
 * shown unchecked. A failure is remembered for rumor_node_tampered_event().
 */
static int read_verified(rumor_txn_t *t, rumor_node_t *n, const uint8_t eid[ID], rumor_event_t *ev)
{
    const uint8_t *buf;
    size_t len;
    int rc = rumor_store_event_get(t, eid, &buf, &len);
    if (rc < 0) return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_STORE : rc;
    if (rumor_event_decode(buf, len, ev) < 0 || memcmp(ev->id, eid, ID) != 0 ||
        rumor_event_verify(ev) < 0) {
        memcpy(n->tampered, eid, ID);
        n->has_tampered = true;
        return RUMOR_ERR_BAD_SIGNATURE;
    }
    return RUMOR_OK;
}

/*
 * Decrypts the box of an event already read and verified into `pt` (capacity
 * `cap`, NUL added). RUMOR_ERR_NO_KEY / RUMOR_ERR_DECRYPT when it cannot be read.
 */
static int open_box(rumor_txn_t *t, rumor_node_t *n, const rumor_event_t *ev, char *pt, size_t cap,
                    size_t *pt_len)
{
    uint8_t key_id[RUMOR_KEY_ID_BYTES], ad[RUMOR_EVENT_AD_BYTES];
    if (!ev->box || rumor_box_key_id(ev->box, ev->box_len, key_id) < 0) return RUMOR_ERR_MALFORMED;
    if (ev->box_len - RUMOR_BOX_OVERHEAD >= cap) return RUMOR_ERR_TOO_BIG;
    uint8_t *key = rumor_secret_alloc(RUMOR_ROOM_KEY_BYTES);
    if (!key) return RUMOR_ERR_NOMEM;
    int rc = rumor_node_load_key(t, n, key_id, key);
    if (rc == RUMOR_OK) {
        rumor_event_ad(ad, ev->type, ev->room, ev->author);
        rc = rumor_box_open((uint8_t *)pt, pt_len, key, ad, sizeof ad, ev->box, ev->box_len);
    }
    rumor_secret_free(key);
    if (rc < 0) return rc;
    pt[*pt_len] = '\0';
    return RUMOR_OK;
}

/*
 * Reads stored event `eid`, verifies it and decrypts its box (see open_box);
 * *type gets the event type. RUMOR_ERR_BAD_SIGNATURE when it was altered.
 */
int rumor_node_open_event_box(rumor_txn_t *t, rumor_node_t *n, const uint8_t eid[ID], char *pt,
                              size_t cap, size_t *pt_len, uint8_t *type)
{
    rumor_event_t ev;
    int rc = read_verified(t, n, eid, &ev);
    if (rc == RUMOR_OK) rc = open_box(t, n, &ev, pt, cap, pt_len);
    if (rc == RUMOR_OK) *type = ev.type;
    return rc;
}

/* ---- posting ---------------------------------------------------------------- */

int rumor_node_post_in(rumor_txn_t *t, post_t *p)
{
    rumor_node_t *n = p->n;
    uint8_t parents[RUMOR_MAX_PARENTS * ID], ad[RUMOR_EVENT_AD_BYTES];
    rumor_event_draft_t d = {0};
    int rc = RUMOR_OK;
    uint8_t *body = malloc(RUMOR_EVENT_MAX), *out = malloc(RUMOR_EVENT_MAX);
    uint8_t *key = rumor_secret_alloc(RUMOR_ROOM_KEY_BYTES);
    if (!body || !out || !key) {
        rc = RUMOR_ERR_NOMEM;
        goto out;
    }
    if (!n->id) {
        rc = RUMOR_ERR_PASSPHRASE;
        goto out;
    }
    d.type = p->type;
    memcpy(d.room, p->room, ID);
    d.ts = n->clock(n->clock_ctx);
    if (p->type == RUMOR_EV_PROFILE) {
        rumor_store_profile_t prof;
        int prc = rumor_store_profile_get(t, n->pk, &prof);
        d.lamport = prc == RUMOR_OK ? prof.set_by.lamport + 1 : 1;
    } else if (rumor_is_zero(p->room, ID)) {
        d.lamport = 1;
    } else {
        if ((rc = rumor_gossip_next_parents(t, p->room, parents, &d.n_parents, &d.lamport)) < 0)
            goto out;
        d.parents = parents;
    }
    if (p->plain_len > RUMOR_EVENT_MAX) {
        rc = RUMOR_ERR_TOO_BIG;
        goto out;
    }
    if (p->plain_len) memcpy(body, p->plain, p->plain_len);
    d.body_len = p->plain_len;
    if (p->text) {
        size_t box_len;
        if (p->box_key)
            memcpy(key, p->box_key, RUMOR_ROOM_KEY_BYTES);
        else if ((rc = domain_key(t, n, p->room, key)) < 0)
            goto out;
        rumor_event_ad(ad, p->type, p->room, n->pk);
        rc = rumor_box_seal(body + d.body_len, RUMOR_EVENT_MAX - d.body_len, &box_len, key, ad,
                            sizeof ad, p->text, p->text_len);
        if (rc < 0) goto out;
        d.body_len += box_len;
    }
    d.body = body;
    size_t len;
    if ((rc = rumor_event_encode(out, RUMOR_EVENT_MAX, &len, p->id, &d, n->id)) < 0) goto out;
    if ((rc = rumor_gossip_ingest(t, n->id, out, len, NULL, &n->counters)) < 0) goto out;
    rc = rumor_store_outbox_add(t, p->id);
out:
    free(body);
    free(out);
    rumor_secret_free(key);
    return rc;
}

static int post_fn(rumor_txn_t *t, void *ctx)
{
    return rumor_node_post_in(t, ctx);
}

int rumor_node_set_nick(rumor_node_t *n, const char *nick)
{
    int rc = rumor_node_check_nick(nick);
    if (rc < 0) return rc;
    uint8_t plain[1 + RUMOR_NICK_MAX];
    plain[0] = (uint8_t)strlen(nick);
    memcpy(plain + 1, nick, plain[0]);
    post_t p = {.n = n, .type = RUMOR_EV_PROFILE, .plain = plain, .plain_len = 1u + plain[0]};
    return rumor_store_write(n->store, post_fn, &p);
}

/*
 * The nick of `pk` ("" when it has none), taken from its signed PROFILE event,
 * which is verified again: the profiles table only says which event is current.
 */
int rumor_node_nick_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t pk[ID],
                       char out[RUMOR_NICK_MAX + 1])
{
    rumor_store_profile_t p;
    rumor_event_t ev;
    out[0] = '\0';
    int rc = rumor_store_profile_get(t, pk, &p);
    if (rc == RUMOR_ERR_NOT_FOUND) return RUMOR_OK;
    if (rc < 0) return rc;
    if ((rc = read_verified(t, n, p.set_by.event, &ev)) < 0) return rc;
    if (ev.type != RUMOR_EV_PROFILE || memcmp(ev.author, pk, ID) != 0) return RUMOR_ERR_STORE;
    memcpy(out, ev.nick, ev.nick_len);
    out[ev.nick_len] = '\0';
    return RUMOR_OK;
}

void rumor_node_nick_of(rumor_node_t *n, const uint8_t pk[ID], char out[RUMOR_NICK_MAX + 1])
{
    rumor_txn_t *t;
    out[0] = '\0';
    if (rumor_store_read_begin(n->store, &t) < 0) return;
    if (rumor_node_nick_in(t, n, pk, out) < 0) out[0] = '\0'; /* log and info report it */
    rumor_store_read_end(&t);
}

void rumor_node_nick(rumor_node_t *n, char out[RUMOR_NICK_MAX + 1])
{
    rumor_node_nick_of(n, n->pk, out);
}

/* ---- messages ------------------------------------------------------------------- */

int rumor_node_text_check(const char *text, size_t len)
{
    if (len == 0) return RUMOR_ERR_INVALID;
    if (len > RUMOR_TEXT_MAX) return RUMOR_ERR_TOO_BIG;
    if (memchr(text, '\0', len) || !rumor_utf8_valid((const uint8_t *)text, len))
        return RUMOR_ERR_BAD_UTF8;
    return RUMOR_OK;
}

int rumor_node_send_in(rumor_txn_t *t, rumor_node_t *n, const uint8_t room[ID], const char *text,
                       size_t len, uint8_t id_out[ID])
{
    rumor_store_room_t r;
    int rc = rumor_store_room_get(t, room, &r);
    if (rc < 0) return rc;
    if (!rumor_gossip_role(t, room, n->pk)) return RUMOR_ERR_DENIED;
    post_t p = {.n = n, .type = RUMOR_EV_MESSAGE, .text = (const uint8_t *)text, .text_len = len};
    memcpy(p.room, room, ID);
    if ((rc = rumor_node_post_in(t, &p)) < 0) return rc;
    memcpy(id_out, p.id, ID);
    /* One's own message is never unread: move the read marker past it. */
    uint64_t seen = 0;
    if ((rc = rumor_store_read_mark_get(t, room, &seen)) < 0) return rc;
    return rumor_store_read_mark_put(t, room, seen + 1);
}

typedef struct {
    rumor_node_t *n;
    const uint8_t *room;
    const char *text;
    size_t len;
    uint8_t id[ID];
} send_t;

static int send_fn(rumor_txn_t *t, void *ctx)
{
    send_t *s = ctx;
    return rumor_node_send_in(t, s->n, s->room, s->text, s->len, s->id);
}

int rumor_node_send(rumor_node_t *n, const uint8_t room[ID], const char *text, size_t len,
                    uint8_t id_out[ID])
{
    int rc = rumor_node_text_check(text, len);
    if (rc < 0) return rc;
    send_t s = {n, room, text, len, {0}};
    rc = rumor_store_write(n->store, send_fn, &s);
    if (rc == RUMOR_OK) memcpy(id_out, s.id, ID);
    return rc;
}

typedef struct {
    rumor_txn_t *t;
    rumor_node_t *n;
    uint64_t limit; /* messages wanted (0: all) */
    uint8_t *ids;   /* collected ids, newest first (with a limit) */
    size_t count;
    rumor_node_message_fn cb;
    void *ctx;
    char *text;                  /* decrypt buffer */
    rumor_gossip_walks_t *walks; /* graph walks reused across the log's messages */
} log_t;

/* Re-verifies one stored message and hands it to the caller. */
static int show_message(log_t *l, const uint8_t id[ID])
{
    rumor_event_t ev;
    int rc = read_verified(l->t, l->n, id, &ev);
    if (rc < 0) return rc;
    rumor_node_person_t who;
    if ((rc = rumor_node_person_in(l->t, l->n, ev.author, &who)) < 0) return rc;
    rumor_node_message_t m = {.nick = who.nick,
                              .name = who.name,
                              .verified = who.verified,
                              .ts = ev.ts,
                              .lamport = ev.lamport};
    /* A clock is the author's claim and orders nothing; one from the future is shown as now. */
    uint64_t now = (uint64_t)l->n->clock(l->n->clock_ctx);
    if (ev.ts > now + RUMOR_CLOCK_SKEW_MS) {
        m.ts_claimed = ev.ts;
        m.ts = now;
    }
    memcpy(m.id, id, ID);
    memcpy(m.room, ev.room, ID);
    memcpy(m.author, ev.author, ID);
    size_t tl;
    /* The event is verified already: only its box is left to open. */
    if (open_box(l->t, l->n, &ev, l->text, RUMOR_TEXT_MAX + 1, &tl) == RUMOR_OK &&
        rumor_utf8_valid((const uint8_t *)l->text, tl)) {
        m.text = l->text;
        m.text_len = tl;
    }
    return l->cb(l->ctx, &m);
}

/*
 * Whether the fold shows a stored message (PROTOCOL.md 7.3) in *shown. A store or memory error
 * is returned, not taken for "hidden": a log that cannot judge a message fails instead of
 * leaving it out while exiting 0. `walks` (may be NULL) carries graph walks across the
 * messages of one read.
 */
static int message_shown(rumor_txn_t *t, const uint8_t id[ID], rumor_gossip_walks_t *walks,
                         bool *shown)
{
    const uint8_t *buf;
    size_t len;
    rumor_event_t ev;
    *shown = false;
    int rc = rumor_store_event_get(t, id, &buf, &len);
    if (rc < 0) return rc == RUMOR_ERR_NOT_FOUND ? RUMOR_ERR_STORE : rc;
    if (rumor_event_decode(buf, len, &ev) < 0) return RUMOR_ERR_BAD_SIGNATURE; /* altered */
    return rumor_gossip_shown(t, &ev, walks, shown);
}

static int log_step(void *ctx, uint64_t lamport, const uint8_t id[ID], uint8_t type)
{
    (void)lamport;
    log_t *l = ctx;
    bool shown;
    if (type != RUMOR_EV_MESSAGE) return 0;
    int rc = message_shown(l->t, id, l->walks, &shown);
    if (rc < 0 || !shown) return rc;
    if (!l->limit) return show_message(l, id);
    memcpy(l->ids + l->count * ID, id, ID);
    return ++l->count >= l->limit ? 1 : 0;
}

/* RUMOR_OK when we hold a key of the room's key domain; RUMOR_ERR_NO_KEY when we hold none, and
 * so could read none of its messages (never a member, or the keys are gone). */
static int holds_domain_key(rumor_txn_t *t, rumor_node_t *n, const uint8_t room[ID])
{
    uint8_t *key = rumor_secret_alloc(RUMOR_ROOM_KEY_BYTES);
    if (!key) return RUMOR_ERR_NOMEM;
    int rc = domain_key(t, n, room, key);
    rumor_secret_free(key);
    return rc;
}

typedef struct {
    const uint8_t *room;
    uint64_t seen;
} mark_t;

static int mark_fn(rumor_txn_t *t, void *ctx)
{
    mark_t *m = ctx;
    uint64_t old = 0;
    int rc = rumor_store_read_mark_get(t, m->room, &old);
    if (rc < 0 || old >= m->seen) return rc;
    return rumor_store_read_mark_put(t, m->room, m->seen);
}

int rumor_node_log(rumor_node_t *n, const uint8_t room[ID], uint64_t limit,
                   rumor_node_message_fn cb, void *ctx)
{
    rumor_txn_t *t;
    rumor_store_room_t r;
    if (limit > 1000000) limit = 1000000;
    log_t l = {.n = n, .limit = limit, .cb = cb, .ctx = ctx};
    l.text = malloc(RUMOR_TEXT_MAX + 1);
    l.ids = limit ? malloc(limit * ID) : NULL;
    l.walks = rumor_gossip_walks_new();
    if (!l.text || (limit && !l.ids) || !l.walks) {
        free(l.text);
        free(l.ids);
        rumor_gossip_walks_destroy(&l.walks);
        return RUMOR_ERR_NOMEM;
    }
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) goto out;
    l.t = t;
    rc = rumor_store_room_get(t, room, &r);
    /* Without a key of its domain nothing of the room can be read: say so, not print nothing. */
    if (rc == RUMOR_OK) rc = holds_domain_key(t, n, room);
    if (rc == RUMOR_OK) rc = rumor_store_log_each(t, room, limit != 0, log_step, &l);
    if (rc == 1) rc = RUMOR_OK;
    for (size_t i = l.count; rc == RUMOR_OK && i > 0; i--)
        rc = show_message(&l, l.ids + (i - 1) * ID);
    rumor_gossip_walks_destroy(&l.walks); /* its walks belong to this transaction */
    rumor_store_read_end(&t);
    if (rc == RUMOR_OK) {
        mark_t m = {room, r.messages};
        rc = rumor_store_write(n->store, mark_fn, &m);
    }
out:
    rumor_gossip_walks_destroy(&l.walks);
    free(l.text);
    free(l.ids);
    return rc;
}

int rumor_node_message(rumor_node_t *n, const uint8_t id[ID], rumor_node_message_fn cb, void *ctx)
{
    rumor_txn_t *t;
    log_t l = {.n = n, .cb = cb, .ctx = ctx};
    if (!(l.text = malloc(RUMOR_TEXT_MAX + 1))) return RUMOR_ERR_NOMEM;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc == RUMOR_OK) {
        l.t = t;
        bool shown = false;
        rc = !rumor_store_event_has(t, id) ? RUMOR_ERR_NOT_FOUND
                                           : message_shown(t, id, NULL, &shown);
        if (rc == RUMOR_OK && shown) rc = show_message(&l, id);
        rumor_store_read_end(&t);
    }
    free(l.text);
    return rc;
}
