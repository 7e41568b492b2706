/*
 * agent.c - unlock once (PROTOCOL.md 11): while the home's node runs, a command that needs the
 * identity gets a delegated one, whose secret operations (signing, opening key grants and room
 * keys at rest) the node does over its owner-only control socket. The command reads and writes
 * the store itself as before; no passphrase is asked. One connection serves the whole command.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A secret operation waits this long for its answer. */
#define AGENT_TIMEOUT_MS 10000
/* Room keys opened, kept for the command (a log opens the same few keys for every message). */
#define KEYS_KEPT 64

typedef struct {
    uint8_t sealed[RUMOR_KEY_AT_REST_BYTES];
    uint8_t key[RUMOR_ROOM_KEY_BYTES];
} kept_key_t;

typedef struct {
    int fd;
    uint8_t *buf; /* the last answer, wiped after each */
    size_t cap;
    kept_key_t *kept; /* rumor_secret_alloc'd: KEYS_KEPT entries, filled in turn */
    size_t n_kept, next_kept;
} agent_conn_t;

static agent_conn_t conn = {.fd = -1};

static void agent_close(void)
{
    if (conn.buf) rumor_wipe(conn.buf, conn.cap);
    free(conn.buf);
    rumor_secret_free(conn.kept);
    if (conn.fd >= 0) close(conn.fd);
    conn = (agent_conn_t){.fd = -1};
}

/* Asks for `op` with `in` as field `in_key`; its answer's `out_key` (exactly `out_len` bytes, or
 * at most `out_len` when `got` is given) goes to `out`. */
static int agent_call(const char *op, const char *in_key, const uint8_t *in, size_t in_len,
                      const char *out_key, uint8_t *out, size_t out_len, size_t *got)
{
    if (conn.fd < 0) return RUMOR_ERR_IO;
    rumor_ctl_writer_t w;
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "op", op, strlen(op));
    rumor_ctl_put_bytes(&w, in_key, in, in_len);
    int rc = rumor_node_ctl_send(conn.fd, &w);
    rumor_ctl_writer_free(&w);
    rumor_ctl_record_t r;
    if (rc == RUMOR_OK)
        rc = rumor_node_ctl_recv(conn.fd, &conn.buf, &conn.cap, &r, AGENT_TIMEOUT_MS);
    bool broken = rc < 0; /* the link failed, or its answer cannot be trusted to be this one's */
    if (rc == RUMOR_OK) {
        const rumor_ctl_field_t *ok = rumor_ctl_get(&r, "ok"), *v = rumor_ctl_get(&r, out_key);
        const rumor_ctl_field_t *code = rumor_ctl_get(&r, "code");
        if (ok && ok->type == RUMOR_CTL_BOOL && !ok->b && code && code->type == RUMOR_CTL_U64 &&
            code->u > 0 && code->u < 1000) {
            rc = -(int)code->u; /* the node's own verdict: a key that does not open, say */
        } else if (!ok || ok->type != RUMOR_CTL_BOOL || !ok->b || !v ||
                   v->type != RUMOR_CTL_BYTES || (got ? v->s_len > out_len : v->s_len != out_len)) {
            broken = true;
        } else {
            memcpy(out, v->s, v->s_len);
            if (got) *got = v->s_len;
        }
    }
    if (conn.buf) rumor_wipe(conn.buf, conn.cap);
    if (broken) {
        /* Never read a late answer as the next one's: the command's later secrets fail. */
        agent_close();
        rc = RUMOR_ERR_IO;
    }
    return rc;
}

static int agent_sign(void *ctx, uint8_t sig[RUMOR_SIG_BYTES], const uint8_t *msg, size_t len)
{
    (void)ctx;
    return agent_call("sign", "data", msg, len, "sig", sig, RUMOR_SIG_BYTES, NULL);
}

static int agent_seal_open(void *ctx, uint8_t *out, const uint8_t *sealed, size_t sealed_len)
{
    (void)ctx;
    if (sealed_len < RUMOR_SEAL_OVERHEAD) return RUMOR_ERR_MALFORMED;
    return agent_call("seal_open", "data", sealed, sealed_len, "plain", out,
                      sealed_len - RUMOR_SEAL_OVERHEAD, NULL);
}

static int agent_key_open(void *ctx, uint8_t key[RUMOR_ROOM_KEY_BYTES], const uint8_t *sealed,
                          size_t sealed_len)
{
    (void)ctx;
    if (sealed_len != RUMOR_KEY_AT_REST_BYTES) return RUMOR_ERR_MALFORMED;
    for (size_t i = 0; i < conn.n_kept; i++)
        if (memcmp(conn.kept[i].sealed, sealed, sealed_len) == 0) {
            memcpy(key, conn.kept[i].key, RUMOR_ROOM_KEY_BYTES);
            return RUMOR_OK;
        }
    int rc =
        agent_call("key_open", "data", sealed, sealed_len, "key", key, RUMOR_ROOM_KEY_BYTES, NULL);
    if (rc == RUMOR_OK &&
        (conn.kept || (conn.kept = rumor_secret_alloc(KEYS_KEPT * sizeof *conn.kept)))) {
        kept_key_t *k = &conn.kept[conn.next_kept];
        memcpy(k->sealed, sealed, sealed_len);
        memcpy(k->key, key, RUMOR_ROOM_KEY_BYTES);
        conn.next_kept = (conn.next_kept + 1) % KEYS_KEPT;
        if (conn.n_kept < KEYS_KEPT) conn.n_kept++;
    }
    return rc;
}

static int agent_key_seal(void *ctx, uint8_t out[RUMOR_KEY_AT_REST_BYTES],
                          const uint8_t key[RUMOR_ROOM_KEY_BYTES])
{
    (void)ctx;
    return agent_call("key_seal", "key", key, RUMOR_ROOM_KEY_BYTES, "sealed", out,
                      RUMOR_KEY_AT_REST_BYTES, NULL);
}

static const rumor_agent_t agent = {agent_sign, agent_seal_open, agent_key_open, agent_key_seal};

/* True when the node on the connection says it is `pk`. */
static bool node_is(const uint8_t pk[RUMOR_ID_BYTES])
{
    rumor_ctl_writer_t w;
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "op", "status", 6);
    int rc = rumor_node_ctl_send(conn.fd, &w);
    rumor_ctl_writer_free(&w);
    rumor_ctl_record_t r;
    /* status may send no items; its final record names the node. */
    if (rc == RUMOR_OK)
        rc = rumor_node_ctl_recv(conn.fd, &conn.buf, &conn.cap, &r, AGENT_TIMEOUT_MS);
    if (rc < 0) return false;
    const rumor_ctl_field_t *id = rumor_ctl_get(&r, "id");
    char hex[RUMOR_ID_HEX + 1];
    uint8_t got[RUMOR_ID_BYTES];
    if (!id || id->type != RUMOR_CTL_STR || id->s_len != RUMOR_ID_HEX) return false;
    memcpy(hex, id->s, RUMOR_ID_HEX);
    hex[RUMOR_ID_HEX] = '\0';
    return rumor_hex_decode(got, sizeof got, hex) == RUMOR_OK &&
           memcmp(got, pk, RUMOR_ID_BYTES) == 0;
}

int agent_unlock(const cli_t *c, rumor_node_t *n)
{
    if (conn.fd < 0) {
        int rc = rumor_node_ctl_connect(c->home, &conn.fd);
        if (rc < 0) {
            conn.fd = -1;
            return RUMOR_ERR_NOT_FOUND;
        }
        static bool registered;
        if (!registered) atexit(agent_close);
        registered = true;
        if (!node_is(rumor_node_id(n))) {
            agent_close();
            return RUMOR_ERR_NOT_FOUND;
        }
    }
    rumor_identity_t *id = NULL;
    int rc = rumor_identity_delegated(rumor_node_id(n), &agent, NULL, &id);
    if (rc == RUMOR_OK) rc = rumor_node_adopt_identity(n, &id);
    rumor_identity_destroy(&id);
    return rc;
}
