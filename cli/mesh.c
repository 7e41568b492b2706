/*
 * mesh.c - the commands that run the node or talk to it over its control
 * socket (PROTOCOL.md 11): node, status (running), peers, stats, peer add,
 * room invite/join, log --follow, chat.
 */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

/* Largest config file read. */
#define CONFIG_MAX (1 << 20)
/* --peer given at most this many times. */
#define PEERS_MAX 64
/* How long a request may take (a join waits for the room's history). */
#define CTL_TIMEOUT_MS  10000
#define JOIN_TIMEOUT_MS 120000

static int not_running(void)
{
    return cli_fail(1, "the node is not running on this home; start it with 'rumor node'");
}

typedef int (*record_fn)(void *ctx, const rumor_ctl_record_t *r);

/*
 * Sends a request (op plus the fields in `extra`, which is consumed) and reads
 * the answer: item records go to `item`, the final one to `final`. Returns
 * RUMOR_ERR_NOT_FOUND (nothing printed) when no node runs, 0 on success, or
 * an exit status once the error is printed.
 */
static int ctl_request(const cli_t *c, rumor_ctl_writer_t *w, record_fn item, record_fn final,
                       void *ctx, int timeout_ms)
{
    int fd, rc = rumor_node_ctl_connect(c->home, &fd);
    if (rc == RUMOR_ERR_NOT_FOUND) {
        rumor_ctl_writer_free(w);
        return rc;
    }
    if (rc < 0) {
        rumor_ctl_writer_free(w);
        return cli_fail(1, "cannot reach the node's control socket: %s", rumor_strerror(rc));
    }
    rc = rumor_node_ctl_send(fd, w);
    rumor_ctl_writer_free(w);
    uint8_t *buf = NULL;
    size_t cap = 0;
    while (rc == RUMOR_OK) {
        rumor_ctl_record_t r;
        if ((rc = rumor_node_ctl_recv(fd, &buf, &cap, &r, timeout_ms)) < 0) break;
        const rumor_ctl_field_t *ok = rumor_ctl_get(&r, "ok");
        if (!ok) {
            if (item && (rc = item(ctx, &r)) != 0) break;
            continue;
        }
        if (ok->type == RUMOR_CTL_BOOL && ok->b) {
            rc = final ? final(ctx, &r) : 0;
        } else {
            const rumor_ctl_field_t *e = rumor_ctl_get(&r, "error");
            rc = cli_fail(1, "the node says: %.*s",
                          e && e->type == RUMOR_CTL_STR ? (int)e->s_len : 7,
                          e && e->type == RUMOR_CTL_STR ? e->s : "failure");
        }
        break;
    }
    if (rc == RUMOR_ERR_BUSY)
        rc = cli_fail(1, "the node did not answer in time");
    else if (rc < 0)
        rc = cli_fail(1, "lost the node's control socket: %s", rumor_strerror(rc));
    free(buf);
    close(fd);
    return rc;
}

static void writer_op(rumor_ctl_writer_t *w, const char *op)
{
    rumor_ctl_writer_init(w);
    rumor_ctl_put_str(w, "op", op, strlen(op));
}

/* Prints a record's fields (but `ok`) as the members of a JSON object, after `extra` if any. */
static void record_json_fields(const rumor_ctl_record_t *r, const char *extra)
{
    bool first = true;
    if (extra) {
        fputs(extra, stdout);
        first = false;
    }
    for (size_t i = 0; i < r->n; i++) {
        const rumor_ctl_field_t *f = &r->f[i];
        if (strcmp(f->key, "ok") == 0 || f->type == RUMOR_CTL_BYTES) continue;
        if (!first) fputc(',', stdout);
        first = false;
        json_str(stdout, f->key);
        fputc(':', stdout);
        if (f->type == RUMOR_CTL_U64)
            printf("%llu", (unsigned long long)f->u);
        else if (f->type == RUMOR_CTL_F64)
            printf("%.15g", f->f);
        else if (f->type == RUMOR_CTL_BOOL)
            fputs(f->b ? "true" : "false", stdout);
        else
            json_str_n(stdout, f->s, f->s_len);
    }
}

/* Prints a record's fields (but `ok`) as one JSON object. */
static void record_json(const rumor_ctl_record_t *r, const char *extra)
{
    fputc('{', stdout);
    record_json_fields(r, extra);
    fputc('}', stdout);
}

/* Prints a record's fields (but `ok`) as "key: value" lines. */
static void record_text(const rumor_ctl_record_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const rumor_ctl_field_t *f = &r->f[i];
        if (strcmp(f->key, "ok") == 0 || f->type == RUMOR_CTL_BYTES) continue;
        printf("%-22s ", f->key);
        if (f->type == RUMOR_CTL_U64)
            printf("%llu", (unsigned long long)f->u);
        else if (f->type == RUMOR_CTL_F64)
            printf("%.15g", f->f);
        else if (f->type == RUMOR_CTL_BOOL)
            fputs(f->b ? "yes" : "no", stdout);
        else
            term_text(stdout, f->s, f->s_len);
        fputc('\n', stdout);
    }
}

static const char *str_field(const rumor_ctl_record_t *r, const char *key, char *out, size_t cap)
{
    const rumor_ctl_field_t *f = rumor_ctl_get(r, key);
    if (!f || f->type != RUMOR_CTL_STR || f->s_len >= cap) return NULL;
    memcpy(out, f->s, f->s_len);
    out[f->s_len] = '\0';
    return out;
}

static uint64_t u64_field(const rumor_ctl_record_t *r, const char *key)
{
    const rumor_ctl_field_t *f = rumor_ctl_get(r, key);
    return f && f->type == RUMOR_CTL_U64 ? f->u : 0;
}

/* ---- node ------------------------------------------------------------------------ */

static int load_config(const char *file, rumor_node_config_t *cfg)
{
    FILE *f = fopen(file, "rb");
    if (!f) return cli_fail(1, "cannot open the config file %s: %s", file, strerror(errno));
    char *text = malloc(CONFIG_MAX + 1);
    size_t len = text ? fread(text, 1, CONFIG_MAX + 1, f) : 0;
    bool bad = !text || ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return cli_fail(1, "cannot read the config file %s", file);
    }
    if (len > CONFIG_MAX) {
        free(text);
        return cli_fail(1, "the config file %s is over %d bytes", file, CONFIG_MAX);
    }
    char why[160] = "";
    int rc = rumor_node_config_parse(text, len, cfg, why, sizeof why);
    free(text);
    if (rc < 0) return cli_fail(1, "config file %s: %s", file, why[0] ? why : rumor_strerror(rc));
    return 0;
}

int cmd_node(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_NODE;
    const char *peers[PEERS_MAX], *listen = NULL, *config = NULL, *log_format = NULL;
    size_t n_peers = 0;
    bool lan = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool takes = strcmp(a, "--listen") == 0 || strcmp(a, "--peer") == 0 ||
                     strcmp(a, "--config") == 0 || strcmp(a, "--log-format") == 0;
        if (takes && i + 1 >= argc)
            return cli_fail(EXIT_USAGE, "%s needs a value; usage: %s", a, usage);
        if (strcmp(a, "--listen") == 0) {
            listen = argv[++i];
        } else if (strcmp(a, "--config") == 0) {
            config = argv[++i];
        } else if (strcmp(a, "--log-format") == 0) {
            log_format = argv[++i];
            if (strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0)
                return cli_fail(EXIT_USAGE, "--log-format takes text or json, not '%s'",
                                log_format);
        } else if (strcmp(a, "--peer") == 0) {
            if (n_peers >= PEERS_MAX)
                return cli_fail(EXIT_USAGE, "at most %d --peer options", PEERS_MAX);
            peers[n_peers++] = argv[++i];
        } else if (strcmp(a, "--no-lan") == 0) {
            lan = false;
        } else {
            return cli_fail(EXIT_USAGE, "unexpected argument '%s'; usage: %s", a, usage);
        }
    }
    char host[RUMOR_INVITE_HOST_MAX + 1];
    uint16_t port;
    uint8_t pk[ID];
    if (listen && rumor_node_parse_hostport(listen, host, &port) < 0)
        return cli_fail(EXIT_USAGE, "--listen takes HOST:PORT with an IP address, not '%s'",
                        listen);
    for (size_t i = 0; i < n_peers; i++)
        if (rumor_node_parse_peer(peers[i], pk, host, &port) < 0)
            return cli_fail(EXIT_USAGE,
                            "--peer takes PUBKEY@HOST:PORT (64 hex characters, an IP address, a "
                            "port), not '%s'",
                            peers[i]);
    rumor_node_config_t cfg;
    rumor_node_config_defaults(&cfg);
    int rc;
    if (config && (rc = load_config(config, &cfg))) return rc;
    if (log_format) snprintf(cfg.log_format, sizeof cfg.log_format, "%s", log_format);
    rumor_node_t *n;
    /* The node holds the identity itself: always by the passphrase, never by another node. */
    if ((rc = open_node(c, false, &n))) return rc;
    if ((rc = unlock_identity(c, n, NULL))) {
        rumor_node_close(&n);
        return rc;
    }
    rumor_node_run_t opt = {
        .listen = listen, .peers = peers, .n_peers = n_peers, .lan = lan, .cfg = &cfg};
    rc = rumor_node_run(n, &opt);
    rumor_node_close(&n);
    switch (rc) {
    case RUMOR_OK: return 0;
    case RUMOR_ERR_BUSY: return cli_fail(1, "a node already runs on %s", c->home);
    case RUMOR_ERR_IO:
        return cli_fail(1, "cannot start the node: a port or file could not be opened (see the "
                           "log above)");
    case RUMOR_ERR_TOO_BIG:
        return cli_fail(1, "the home path %s is too long for the control socket", c->home);
    }
    return node_error(c, NULL, rc, "run the node");
}

/* ---- status, peers, stats -------------------------------------------------------- */

static int status_final(void *ctx, const rumor_ctl_record_t *r)
{
    bool json = *(bool *)ctx;
    if (json) {
        char extra[64];
        snprintf(extra, sizeof extra, "\"running\":true,\"uptime_s\":%llu",
                 (unsigned long long)(u64_field(r, "uptime_ms") / 1000));
        record_json(r, extra);
        fputc('\n', stdout);
    } else {
        fputs("node                   running\n", stdout);
        record_text(r);
    }
    return 0;
}

int status_running(const cli_t *c, bool json)
{
    rumor_ctl_writer_t w;
    writer_op(&w, "status");
    return ctl_request(c, &w, NULL, status_final, &json, CTL_TIMEOUT_MS);
}

static int address_final(void *ctx, const rumor_ctl_record_t *r)
{
    bool json = *(bool *)ctx;
    char addr[256];
    if (!str_field(r, "address", addr, sizeof addr)) return 0;
    if (json)
        json_str(stdout, addr);
    else
        printf("address: %s\n", addr);
    return 0;
}

void print_addresses(const cli_t *c, bool json)
{
    rumor_ctl_writer_t w;
    writer_op(&w, "status");
    ctl_request(c, &w, NULL, address_final, &json, CTL_TIMEOUT_MS);
}

typedef struct {
    bool json;
    size_t n;
    const cli_t *c;
    rumor_node_t *node; /* names the peers */
} peers_out_t;

static int peer_item(void *ctx, const rumor_ctl_record_t *r)
{
    peers_out_t *o = ctx;
    char id[RUMOR_ID_HEX + 1];
    uint8_t pk[ID];
    rumor_node_person_t who;
    if (!str_field(r, "id", id, sizeof id) || strlen(id) != RUMOR_ID_HEX ||
        rumor_hex_decode(pk, ID, id) < 0)
        return cli_fail(1, "the node listed a peer without a valid id");
    int rc = rumor_node_person(o->node, pk, &who);
    if (rc < 0) return node_error(o->c, o->node, rc, "name a peer");
    if (o->json) {
        fputs(o->n ? ",{" : "[{", stdout); /* '[' with the first: nothing when no node answers */
        record_json_fields(r, NULL);
        json_person(stdout, who.nick, who.name, who.verified);
        fputc('}', stdout);
    } else {
        char addr[128], found[32], dir[16];
        printf("%.16s  %-22s %-9s %-4s rtt %.1f ms  ", id,
               str_field(r, "address", addr, sizeof addr) ? addr : "?",
               str_field(r, "found", found, sizeof found) ? found : "?",
               str_field(r, "direction", dir, sizeof dir) ? dir : "?",
               (double)u64_field(r, "rtt_us") / 1000.0);
        term_text(stdout, who.name, strlen(who.name));
        fputc('\n', stdout);
    }
    o->n++;
    return 0;
}

int cmd_peers(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_PEERS, *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    peers_out_t o = {json, 0, c, NULL};
    if ((rc = open_node(c, false, &o.node))) return rc;
    rumor_ctl_writer_t w;
    writer_op(&w, "peers");
    rc = ctl_request(c, &w, peer_item, NULL, &o, CTL_TIMEOUT_MS);
    rumor_node_close(&o.node);
    if (rc == RUMOR_ERR_NOT_FOUND) return not_running();
    if (json && rc == 0)
        fputs(o.n ? "]\n" : "[]\n", stdout);
    else if (rc == 0 && o.n == 0)
        fputs("no peers connected\n", stdout);
    return rc;
}

static int stats_final(void *ctx, const rumor_ctl_record_t *r)
{
    if (*(bool *)ctx) {
        record_json(r, NULL);
        fputc('\n', stdout);
    } else {
        record_text(r);
    }
    return 0;
}

int cmd_stats(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_STATS, *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    rumor_ctl_writer_t w;
    writer_op(&w, "stats");
    rc = ctl_request(c, &w, NULL, stats_final, &json, CTL_TIMEOUT_MS);
    return rc == RUMOR_ERR_NOT_FOUND ? not_running() : rc;
}

void notify_node(const cli_t *c)
{
    rumor_ctl_writer_t w;
    writer_op(&w, "flush");
    int rc = ctl_request(c, &w, NULL, NULL, NULL, CTL_TIMEOUT_MS);
    (void)rc; /* the node gossips the outbox on its next heartbeat anyway */
}

int cmd_peer(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_PEER_ADD, *pos[2];
    int np, rc = parse(argc, argv, NULL, pos, 2, 2, &np, usage);
    if (rc) return rc;
    if (strcmp(pos[0], "add") != 0) return cli_fail(EXIT_USAGE, "usage: %s", usage);
    uint8_t pk[ID];
    char host[RUMOR_INVITE_HOST_MAX + 1];
    uint16_t port;
    if (rumor_node_parse_peer(pos[1], pk, host, &port) < 0)
        return cli_fail(EXIT_USAGE,
                        "a peer is PUBKEY@HOST:PORT (64 hex characters, an IP address, a port), "
                        "not '%s'",
                        pos[1]);
    rumor_node_t *n;
    if ((rc = open_node(c, false, &n))) return rc;
    rc = rumor_node_peer_add(n, pk, host, port);
    rumor_node_close(&n);
    if (rc < 0) return node_error(c, NULL, rc, "remember the peer");
    /* A running node dials it at once; a stopped one at its next start. */
    rumor_ctl_writer_t w;
    writer_op(&w, "dial");
    rumor_ctl_put_str(&w, "peer", pos[1], strlen(pos[1]));
    rc = ctl_request(c, &w, NULL, NULL, NULL, CTL_TIMEOUT_MS);
    return rc == RUMOR_ERR_NOT_FOUND ? 0 : rc;
}

/* ---- invites ---------------------------------------------------------------------- */

typedef struct {
    char host[RUMOR_INVITE_HOST_MAX + 1];
    uint16_t port;
} where_t;

static int where_final(void *ctx, const rumor_ctl_record_t *r)
{
    where_t *w = ctx;
    if (!str_field(r, "host", w->host, sizeof w->host))
        return cli_fail(1, "the node gave no address");
    w->port = (uint16_t)u64_field(r, "port");
    return 0;
}

static int lan_code_final(void *ctx, const rumor_ctl_record_t *r)
{
    (void)ctx;
    char code[RUMOR_NODE_LAN_CODE_CHARS + 1];
    if (!str_field(r, "code", code, sizeof code) || strlen(code) != RUMOR_NODE_LAN_CODE_CHARS)
        return cli_fail(1, "the node gave no LAN code");
    printf("%.4s-%.4s-%.4s\n", code, code + 4, code + 8);
    fprintf(stderr,
            "valid for 10 minutes, once; on this LAN, type: rumor room join %.4s-%.4s-%.4s\n", code,
            code + 4, code + 8);
    rumor_wipe(code, sizeof code);
    return 0;
}

/* Hands a new invite to the running node, which prints a LAN code for it (PROTOCOL.md 10.3). */
static int print_lan_code(const cli_t *c, const char *invite)
{
    rumor_ctl_writer_t w;
    writer_op(&w, "lan_code");
    rumor_ctl_put_str(&w, "invite", invite, strlen(invite));
    int rc = ctl_request(c, &w, NULL, lan_code_final, NULL, CTL_TIMEOUT_MS);
    return rc == RUMOR_ERR_NOT_FOUND ? cli_fail(1, "a LAN code needs your running node") : rc;
}

int cmd_room_invite(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ROOM_INVITE, *pos[1];
    const char *member = NULL, *role_s = NULL;
    bool lan = false;
    opt_t opts[] = {{"--member", true, &member, NULL},
                    {"--role", true, &role_s, NULL},
                    {"--lan", false, NULL, &lan},
                    {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    uint8_t role = RUMOR_ROLE_MEMBER, pk[ID];
    if (role_s && strcmp(role_s, "admin") == 0)
        role = RUMOR_ROLE_ADMIN;
    else if (role_s && strcmp(role_s, "member") != 0)
        return cli_fail(EXIT_USAGE, "--role is member or admin; usage: %s", usage);
    if (lan && member)
        return cli_fail(EXIT_USAGE, "--lan and --member exclude each other; usage: %s", usage);
    where_t where = {0};
    if (!member) {
        rumor_ctl_writer_t w;
        writer_op(&w, "status");
        rc = ctl_request(c, &w, NULL, where_final, &where, CTL_TIMEOUT_MS);
        if (rc == RUMOR_ERR_NOT_FOUND)
            return cli_fail(1, "an invite code names your running node, so the invitee can reach "
                               "it; start it with 'rumor node'");
        if (rc) return rc;
    }
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc; /* room names are encrypted */
    uint8_t room[ID];
    if ((rc = resolve_room(c, n, pos[0], room))) goto out;
    if (member && (rc = resolve_peer(c, n, member, pk))) goto out;
    if (member) {
        uint8_t id[ID];
        rc = rumor_node_member_add(n, room, pk, role, id);
        if (rc == RUMOR_OK) print_id_line(id);
    } else {
        char code[RUMOR_INVITE_CODE_MAX];
        rc = rumor_node_invite_create(n, room, role, where.host, where.port, code, sizeof code);
        if (rc == RUMOR_OK && lan)
            rc = print_lan_code(c, code);
        else if (rc == RUMOR_OK)
            puts(code);
        rumor_wipe(code, sizeof code);
    }
    if (rc == RUMOR_ERR_DENIED)
        rc = cli_fail(1,
                      "you may not invite to '%s': members invite members to shared rooms; only "
                      "admins invite admins or to private rooms",
                      pos[0]);
    else if (rc == RUMOR_ERR_EXISTS)
        rc = cli_fail(1, "that identity is already a member of '%s' with that role", pos[0]);
    else if (rc == RUMOR_ERR_INVALID)
        rc = cli_fail(1, "that is not a valid public key");
    else if (rc == RUMOR_ERR_NO_KEY && member)
        rc = cli_fail(1,
                      "%s is not a member of the room '%s' sits in; members of a private "
                      "sub-room are members there too (invite them to it first)",
                      member, pos[0]);
    else if (rc == RUMOR_ERR_TOO_BIG)
        rc = cli_fail(1, "'%s' has %d members, the most a key rotation seals to", pos[0],
                      RUMOR_MAX_MEMBERS);
    else if (rc < 0)
        rc = node_error(c, n, rc, "invite");
out:
    rumor_node_close(&n);
    if (rc == 0 && member) notify_node(c);
    return rc;
}

static int joined_final(void *ctx, const rumor_ctl_record_t *r)
{
    (void)ctx;
    char room[RUMOR_ID_HEX + 1];
    if (!str_field(r, "room", room, sizeof room)) return cli_fail(1, "the node gave no room");
    puts(room);
    return 0;
}

int cmd_room_join(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ROOM_JOIN, *pos[1];
    int np, rc = parse(argc, argv, NULL, pos, 1, 1, &np, usage);
    if (rc) return rc;
    const char *arg = pos[0];
    while (*arg == ' ' || *arg == '\t' || *arg == '\n') arg++;
    if (rumor_node_is_lan_code(arg)) {
        /* A LAN code (PROTOCOL.md 10.3): the node asks the LAN for the invite, then joins. */
        rumor_ctl_writer_t w;
        writer_op(&w, "join_lan");
        rumor_ctl_put_str(&w, "code", arg, strlen(arg));
        /* The LAN's answer (30 s at most), then a join (60 s), each checked per heartbeat. */
        rc = ctl_request(c, &w, NULL, joined_final, NULL, JOIN_TIMEOUT_MS);
        return rc == RUMOR_ERR_NOT_FOUND
                   ? cli_fail(1, "joining needs your running node; start it with 'rumor node'")
                   : rc;
    }
    if (strncmp(arg, RUMOR_INVITE_PREFIX, strlen(RUMOR_INVITE_PREFIX)) == 0) {
        rumor_invite_t inv;
        if (rumor_invite_decode(pos[0], strlen(pos[0]), &inv) < 0)
            return cli_fail(1, "this invite code is damaged or incomplete; ask for it again");
        memset(&inv, 0, sizeof inv);
        rumor_ctl_writer_t w;
        writer_op(&w, "join");
        rumor_ctl_put_str(&w, "code", pos[0], strlen(pos[0]));
        rc = ctl_request(c, &w, NULL, joined_final, NULL, JOIN_TIMEOUT_MS);
        return rc == RUMOR_ERR_NOT_FOUND
                   ? cli_fail(1, "joining needs your running node; start it with 'rumor node'")
                   : rc;
    }
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc; /* room names are encrypted */
    uint8_t room[ID];
    rumor_node_room_t info;
    if ((rc = resolve_room(c, n, pos[0], room)) == 0) {
        rc = rumor_node_room_get(n, room, &info);
        if (rc < 0)
            rc = room_error(c, n, pos[0], rc);
        else if (!info.my_role)
            rc = cli_fail(1, "no membership of '%s' waits for you; ask a member for an invite code",
                          pos[0]);
        else
            print_id_line(room);
    }
    rumor_node_close(&n);
    return rc;
}

/* ---- following -------------------------------------------------------------------- */

int follow_open(const cli_t *c, const uint8_t *room)
{
    int fd, rc = rumor_node_ctl_connect(c->home, &fd);
    if (rc < 0) return -1;
    rumor_ctl_writer_t w;
    writer_op(&w, "follow");
    if (room) {
        char hex[RUMOR_ID_HEX + 1];
        rumor_hex_encode(hex, room, ID);
        rumor_ctl_put_str(&w, "room", hex, RUMOR_ID_HEX);
    }
    rc = rumor_node_ctl_send(fd, &w);
    rumor_ctl_writer_free(&w);
    uint8_t *buf = NULL;
    size_t cap = 0;
    rumor_ctl_record_t r;
    if (rc == RUMOR_OK) rc = rumor_node_ctl_recv(fd, &buf, &cap, &r, CTL_TIMEOUT_MS);
    const rumor_ctl_field_t *ok = rc == RUMOR_OK ? rumor_ctl_get(&r, "ok") : NULL;
    free(buf);
    if (!ok || ok->type != RUMOR_CTL_BOOL || !ok->b) {
        close(fd);
        cli_fail(1, "the node refused to stream messages");
        return -2;
    }
    return fd;
}

int next_notification(int fd, uint8_t **buf, size_t *cap, uint8_t id[ID], uint8_t room[ID])
{
    rumor_ctl_record_t r;
    char hex[RUMOR_ID_HEX + 1];
    int rc = rumor_node_ctl_recv(fd, buf, cap, &r, -1);
    if (rc == RUMOR_ERR_IO) return cli_fail(1, "the node stopped");
    if (rc < 0) return cli_fail(1, "lost the node's control socket: %s", rumor_strerror(rc));
    if (!str_field(&r, "id", hex, sizeof hex) || rumor_hex_decode(id, ID, hex) < 0 ||
        !str_field(&r, "room", hex, sizeof hex) || rumor_hex_decode(room, ID, hex) < 0)
        return cli_fail(1, "the node sent a notification without an id");
    return 0;
}

int follow_room(const cli_t *c, rumor_node_t *n, const uint8_t room[ID], log_out_t *o, int fd)
{
    uint8_t *buf = NULL, id[ID], from[ID];
    size_t cap = 0;
    int rc;
    (void)room;
    while ((rc = next_notification(fd, &buf, &cap, id, from)) == 0) {
        if (log_out_was_shown(o, id)) continue;
        rc = rumor_node_message(n, id, print_message, o);
        if (rc == RUMOR_ERR_BAD_SIGNATURE) {
            rc = node_error(c, n, rc, "read a message");
            break;
        }
        if (fflush(stdout) != 0) {
            rc = cli_fail(1, "cannot write output: %s", strerror(errno));
            break;
        }
    }
    free(buf);
    return rc;
}

/*
 * `room kick ROOM PEER`, `room leave ROOM` and `room role ROOM PEER admin|member`.
 * `what` completes "you may not ..." and "cannot ..." before the room's name:
 * "remove that member from", "leave".
 */
static int member_change(const cli_t *c, const char *room_arg, const char *peer, uint8_t role,
                         const char *what)
{
    rumor_node_t *n;
    int rc = open_node(c, true, &n);
    if (rc) return rc;
    uint8_t room[ID], pk[ID], ids[2][ID];
    size_t n_ids = 0;
    bool leave = peer == NULL;
    if ((rc = resolve_room(c, n, room_arg, room))) goto out;
    if (leave)
        memcpy(pk, rumor_node_id(n), ID);
    else if ((rc = resolve_peer(c, n, peer, pk)))
        goto out;
    if (!leave && !role && memcmp(pk, rumor_node_id(n), ID) == 0) {
        rc =
            cli_fail(1, "you cannot kick yourself; to leave '%s' use 'rumor room leave'", room_arg);
        goto out;
    }
    rc = rumor_node_member_change(n, room, pk, role, ids, &n_ids);
    if (rc == RUMOR_OK) {
        for (size_t i = 0; i < n_ids; i++) print_id_line(ids[i]);
    } else if (rc == RUMOR_ERR_NOT_FOUND && leave) {
        rc = cli_fail(1, "you are not a member of '%s'", room_arg);
    } else if (rc == RUMOR_ERR_NOT_FOUND) {
        rc = cli_fail(1, "%s is not a member of '%s'", peer, room_arg);
    } else if (rc == RUMOR_ERR_EXISTS) {
        rc = cli_fail(1, "%s is already %s of '%s'", peer,
                      role == RUMOR_ROLE_ADMIN ? "an admin" : "a member", room_arg);
    } else if (rc == RUMOR_ERR_BUSY) {
        rc = cli_fail(1,
                      "you own '%s' and others still use it; the owner cannot leave a room "
                      "with other members (kick them first)",
                      room_arg);
    } else if (rc == RUMOR_ERR_DENIED) {
        rc = cli_fail(1,
                      "you may not %s '%s': only admins and the owner may, never against a "
                      "higher rank (owner > admin > member)",
                      what, room_arg);
    } else {
        char doing[RUMOR_PATH_MAX + 64];
        snprintf(doing, sizeof doing, "%s '%s'", what, room_arg);
        rc = node_error(c, n, rc, doing);
    }
out:
    rumor_node_close(&n);
    if (rc == 0) notify_node(c);
    return rc;
}

int cmd_room_kick(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ROOM_KICK, *pos[2];
    int np, rc = parse(argc, argv, NULL, pos, 2, 2, &np, usage);
    if (rc) return rc;
    return member_change(c, pos[0], pos[1], 0, "remove that member from");
}

int cmd_room_leave(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ROOM_LEAVE, *pos[1];
    int np, rc = parse(argc, argv, NULL, pos, 1, 1, &np, usage);
    if (rc) return rc;
    return member_change(c, pos[0], NULL, 0, "leave");
}

int cmd_room_role(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ROOM_ROLE, *pos[3];
    int np, rc = parse(argc, argv, NULL, pos, 3, 3, &np, usage);
    if (rc) return rc;
    uint8_t role;
    if (strcmp(pos[2], "admin") == 0)
        role = RUMOR_ROLE_ADMIN;
    else if (strcmp(pos[2], "member") == 0)
        role = RUMOR_ROLE_MEMBER;
    else
        return cli_fail(EXIT_USAGE, "the role is admin or member; usage: %s", usage);
    return member_change(c, pos[0], pos[1], role, "change that member's role in");
}
