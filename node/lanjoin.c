/*
 * lanjoin.c - the node's side of LAN codes (PROTOCOL.md 10.3, gossip/lancode.c). As inviter it
 * keeps the open codes and answers LAN_CODE; as joiner it sends a proof of the typed code to
 * every peer it reaches through beacons until one answers with the invite, which it then
 * redeems like any other (10.2).
 */
#include "daemon.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES
/* A LAN join gives up after this long. */
#define LAN_JOIN_MS 30000
/* Peers one LAN join asks at most. */
#define LAN_ASKED_MAX 64
/* When every peer asked said no, a LAN join still waits this long for others to be reached. */
#define LAN_GRACE_MS 3000

struct lan_join {
    uint8_t key[ID];
    rumor_join_done_fn done; /* NULL once cancelled */
    void *ctx;
    uint64_t started_ms, deadline_ms;
    struct {
        uint8_t pk[ID];
        uint8_t nonce[RUMOR_LANCODE_NONCE_BYTES];
        bool answered;
    } asked[LAN_ASKED_MAX];
    size_t n_asked;
    size_t n_refused; /* peers that answered: no such code (or an answer that did not prove it) */
    bool limited;     /* an inviter said: too many tries */
    struct lan_join *next;
};

static uint64_t now_ms(daemon_t *d)
{
    return rumor_daemon_loop_ms(d);
}

int rumor_lan_open(daemon_t *d, const char *invite, char code[RUMOR_LANCODE_CHARS + 1])
{
    uint8_t key[ID];
    rumor_invite_t inv;
    if (rumor_invite_decode(invite, strlen(invite), &inv) < 0) return RUMOR_ERR_INVALID;
    rumor_wipe(&inv, sizeof inv);
    rumor_lancodes_t **codes = rumor_daemon_lancodes_slot(d);
    if (!*codes && !(*codes = calloc(1, sizeof **codes))) return RUMOR_ERR_NOMEM;
    rumor_lancode_generate(code);
    rumor_lancode_key(code, key);
    int rc = rumor_lancodes_add(*codes, key, invite, now_ms(d));
    rumor_wipe(key, sizeof key);
    if (rc == RUMOR_OK) rumor_daemon_log(d, LOG_INFO, "a LAN code is open for 10 minutes");
    return rc;
}

/* True when `p` was found on the LAN: it dialed by a beacon, or a beacon named its key. */
static bool on_lan(const daemon_t *d, const peer_t *p)
{
    return rumor_daemon_found_as(d, p, RUMOR_FOUND_LAN);
}

/* Sends `j`'s proof to `p`, once per peer, and only on the LAN. */
static void ask(daemon_t *d, struct lan_join *j, peer_t *p)
{
    if (!j->done || !on_lan(d, p)) return;
    for (size_t i = 0; i < j->n_asked; i++)
        if (memcmp(j->asked[i].pk, rumor_peer_pk(p), ID) == 0) return;
    if (j->n_asked >= LAN_ASKED_MAX) return;
    uint8_t *nonce = j->asked[j->n_asked].nonce, proof[ID];
    memcpy(j->asked[j->n_asked].pk, rumor_peer_pk(p), ID);
    j->asked[j->n_asked++].answered = false;
    rumor_crypto_random(nonce, RUMOR_LANCODE_NONCE_BYTES);
    rumor_lancode_proof(j->key, rumor_node_id(rumor_daemon_node(d)), rumor_peer_pk(p), nonce,
                        proof);
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_LAN_CODE, .lan_nonce = nonce, .proof = proof};
    if (rumor_daemon_send_frame(d, p, &f)) rumor_daemon_stats(d)->lan_codes_sent++;
}

static void ask_everyone(daemon_t *d, struct lan_join *j)
{
    for (peer_t *p = rumor_daemon_peers(d); p; p = rumor_peer_next(p))
        if (!rumor_peer_dropped(p) && rumor_daemon_peer_ready(p)) ask(d, j, p);
}

int rumor_lan_join(daemon_t *d, const char *code, rumor_join_done_fn done, void *ctx)
{
    char norm[RUMOR_LANCODE_CHARS + 1];
    if (rumor_lancode_normalize(code, norm) < 0) return RUMOR_ERR_INVALID;
    struct lan_join *j = calloc(1, sizeof *j);
    if (!j) return RUMOR_ERR_NOMEM;
    rumor_lancode_key(norm, j->key);
    rumor_wipe(norm, sizeof norm);
    j->done = done;
    j->ctx = ctx;
    j->started_ms = now_ms(d);
    j->deadline_ms = j->started_ms + LAN_JOIN_MS;
    struct lan_join **joins = rumor_daemon_lan_joins_slot(d);
    j->next = *joins;
    *joins = j;
    ask_everyone(d, j);
    rumor_daemon_dial_found(d, RUMOR_FOUND_LAN);
    return RUMOR_OK;
}

static void lan_join_free(daemon_t *d, struct lan_join *j)
{
    for (struct lan_join **pp = rumor_daemon_lan_joins_slot(d); *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    rumor_wipe(j, sizeof *j);
    free(j);
}

void rumor_lan_peer_ready(daemon_t *d, peer_t *p)
{
    for (struct lan_join *j = *rumor_daemon_lan_joins_slot(d); j; j = j->next) ask(d, j, p);
}

void rumor_lan_heartbeat(daemon_t *d)
{
    uint64_t now = now_ms(d);
    for (struct lan_join *j = *rumor_daemon_lan_joins_slot(d), *next; j; j = next) {
        next = j->next;
        /* Every peer reached said no, and the LAN had time to be dialed: no need to wait on. */
        bool all_refused =
            j->n_asked && j->n_refused >= j->n_asked && now >= j->started_ms + LAN_GRACE_MS;
        if (now < j->deadline_ms && j->done && !all_refused) {
            rumor_daemon_dial_found(d, RUMOR_FOUND_LAN);
            continue;
        }
        if (j->done) j->done(j->ctx, j->limited ? RUMOR_ERR_BUSY : RUMOR_ERR_NOT_FOUND, NULL);
        lan_join_free(d, j);
    }
}

void rumor_lan_cancel(daemon_t *d, void *ctx)
{
    for (struct lan_join *j = *rumor_daemon_lan_joins_slot(d); j; j = j->next)
        if (j->ctx == ctx) j->done = NULL;
}

void rumor_lan_free(daemon_t *d)
{
    struct lan_join **joins = rumor_daemon_lan_joins_slot(d);
    while (*joins) lan_join_free(d, *joins);
    rumor_lancodes_t **codes = rumor_daemon_lancodes_slot(d);
    if (*codes) rumor_wipe(*codes, sizeof **codes);
    free(*codes);
    *codes = NULL;
}

/* The link's address as 16 bytes (IPv4 mapped); all zero when it cannot be read. */
static void link_addr(const peer_t *p, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET6, rumor_peer_host(p), out) == 1) return;
    uint8_t v4[4];
    if (inet_pton(AF_INET, rumor_peer_host(p), v4) == 1) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, v4, 4);
    }
}

static void on_code(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    char invite[RUMOR_LANCODE_INVITE_MAX + 1] = "";
    uint8_t addr[16], answer[ID];
    link_addr(p, addr);
    uint8_t status = RUMOR_LANCODE_NO_MATCH;
    /* Only the LAN may try: a remote peer spends none of the tries the LAN's joiners need. */
    rumor_lancodes_t *codes = *rumor_daemon_lancodes_slot(d);
    if (codes && on_lan(d, p))
        status =
            rumor_lancodes_check(codes, addr, rumor_peer_pk(p), rumor_node_id(rumor_daemon_node(d)),
                                 f->lan_nonce, f->proof, now_ms(d), invite, answer);
    if (status == RUMOR_LANCODE_LIMITED) rumor_daemon_stats(d)->lan_codes_limited++;
    if (status == RUMOR_LANCODE_NO_MATCH && codes && codes->n)
        rumor_daemon_stats(d)->lan_codes_wrong++;
    rumor_wire_frame_t r = {
        .type = RUMOR_WIRE_LAN_INVITE, .status = status, .lan_nonce = f->lan_nonce};
    if (status == RUMOR_LANCODE_OK) {
        rumor_daemon_stats(d)->lan_codes_answered++;
        r.proof = answer;
        r.invite = (const uint8_t *)invite;
        r.invite_len = strlen(invite);
        rumor_daemon_log(d, LOG_INFO, "peer %s typed our LAN code: it gets the invite",
                         rumor_peer_hex8(p));
    }
    rumor_daemon_send_frame(d, p, &r);
    rumor_wipe(invite, sizeof invite);
}

static void on_invite(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    for (struct lan_join *j = *rumor_daemon_lan_joins_slot(d); j; j = j->next) {
        size_t a = j->n_asked;
        /* An answer to a nonce we sent this peer, once. */
        for (size_t i = 0; i < j->n_asked && a == j->n_asked; i++)
            if (!j->asked[i].answered && memcmp(j->asked[i].pk, rumor_peer_pk(p), ID) == 0 &&
                memcmp(j->asked[i].nonce, f->lan_nonce, RUMOR_LANCODE_NONCE_BYTES) == 0)
                a = i;
        if (a == j->n_asked || !j->done) continue;
        j->asked[a].answered = true;
        if (f->status == RUMOR_LANCODE_LIMITED) j->limited = true;
        if (f->status != RUMOR_LANCODE_OK) {
            j->n_refused++;
            return;
        }
        /* The answer must prove the code too, and the invite must be the answering node's own:
         * a node that does not know the code cannot make us take its invite. */
        uint8_t want[ID];
        rumor_invite_t inv;
        rumor_lancode_answer_proof(j->key, rumor_peer_pk(p), rumor_node_id(rumor_daemon_node(d)),
                                   f->lan_nonce, (const char *)f->invite, f->invite_len, want);
        if (!rumor_secret_equal(want, f->proof, ID) ||
            rumor_invite_decode((const char *)f->invite, f->invite_len, &inv) < 0 ||
            memcmp(inv.inviter, rumor_peer_pk(p), ID) != 0) {
            rumor_daemon_stats(d)->lan_codes_bad++;
            j->n_refused++;
            return;
        }
        rumor_join_done_fn done = j->done;
        void *ctx = j->ctx;
        lan_join_free(d, j);
        int rc = rumor_daemon_join(d, &inv, done, ctx);
        rumor_wipe(&inv, sizeof inv);
        if (rc < 0) done(ctx, rc, NULL);
        return;
    }
}

void rumor_lan_on_frame(daemon_t *d, peer_t *p, const rumor_wire_frame_t *f)
{
    if (f->type == RUMOR_WIRE_LAN_CODE)
        on_code(d, p, f);
    else
        on_invite(d, p, f);
}
