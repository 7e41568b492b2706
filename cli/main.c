/* main.c - the `rumor` command line (SPEC section 2). A thin user of node/. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define STDIN_MAX  (RUMOR_TEXT_MAX + 1)

/* What every command gets: the home and the global options. */
typedef struct {
    const char *home;            /* resolved home directory */
    const char *passphrase_file; /* --passphrase-file, or NULL */
} cli_t;

/* One option a command accepts. */
typedef struct {
    const char *name;   /* "--json" */
    bool has_arg;       /* takes a value */
    const char **value; /* where the value goes (has_arg) */
    bool *flag;         /* set when present (no arg) */
} opt_t;

#define MAX_POS 8

/* ---- messages ------------------------------------------------------------ */

static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("rumor: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* Parses argv into options and positionals. Returns 0, or EXIT_USAGE with a message. */
static int parse(int argc, char **argv, const opt_t *opts, const char **pos, int min_pos,
                 int max_pos, int *n_pos, const char *usage)
{
    bool only_pos = false;
    *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const opt_t *o = opts;
            for (; o && o->name; o++)
                if (strcmp(o->name, a) == 0) break;
            if (!o || !o->name) return fail(EXIT_USAGE, "unknown option %s; usage: %s", a, usage);
            if (o->has_arg) {
                if (i + 1 >= argc) return fail(EXIT_USAGE, "%s needs a value; usage: %s", a, usage);
                *o->value = argv[++i];
            } else {
                *o->flag = true;
            }
            continue;
        }
        if (*n_pos >= max_pos)
            return fail(EXIT_USAGE, "unexpected argument '%s'; usage: %s", a, usage);
        pos[(*n_pos)++] = a;
    }
    if (*n_pos < min_pos) return fail(EXIT_USAGE, "missing argument; usage: %s", usage);
    return 0;
}

static void print_id_hex(FILE *f, const uint8_t id[RUMOR_ID_BYTES])
{
    char hex[RUMOR_ID_HEX + 1];
    rumor_hex_encode(hex, id, RUMOR_ID_BYTES);
    fputs(hex, f);
}

/* ---- opening the home ------------------------------------------------------ */

static int open_error(const cli_t *c, int rc)
{
    switch (rc) {
    case RUMOR_ERR_NO_IDENTITY:
        return fail(1, "no identity in %s; create one with 'rumor init'", c->home);
    case RUMOR_ERR_MALFORMED:
        return fail(1,
                    "%s/identity.key is not a valid rumor key file (corrupted or truncated); "
                    "restore it with 'rumor id import BACKUP'",
                    c->home);
    case RUMOR_ERR_SCHEMA_NEWER:
        return fail(1, "the store in %s was written by a newer rumor; upgrade rumor to open it",
                    c->home);
    case RUMOR_ERR_PASSPHRASE: return fail(1, "wrong passphrase for %s/identity.key", c->home);
    case RUMOR_ERR_STORE:
        return fail(1, "cannot open the store in %s/store: %s", c->home, rumor_strerror(rc));
    }
    return fail(1, "cannot open %s: %s", c->home, rumor_strerror(rc));
}

/* Opens the home; with `unlock`, also unlocks the identity with a passphrase. */
static int open_node(const cli_t *c, bool unlock, rumor_node_t **out)
{
    int rc = rumor_node_open(c->home, out);
    if (rc < 0) return open_error(c, rc);
    if (!unlock) return 0;
    cli_pass_t p = {0};
    if (rumor_node_is_protected(*out)) {
        rc = cli_pass_get(&p, c->passphrase_file, "Passphrase: ", false);
        if (rc == RUMOR_ERR_NOT_FOUND) {
            rumor_node_close(out);
            return fail(1, "the identity is protected by a passphrase: set RUMOR_PASSPHRASE, "
                           "pass --passphrase-file F, or run on a terminal");
        }
        if (rc < 0) {
            rumor_node_close(out);
            return 1;
        }
    }
    rc = rumor_node_unlock(*out, p.buf ? &p.pass : NULL);
    cli_pass_free(&p);
    if (rc < 0) {
        rumor_node_close(out);
        return open_error(c, rc);
    }
    return 0;
}

static int room_error(const char *name, int rc)
{
    switch (rc) {
    case RUMOR_ERR_NOT_FOUND: return fail(1, "no room '%s'; see 'rumor room list'", name);
    case RUMOR_ERR_AMBIGUOUS:
        return fail(1, "'%s' names more than one room; use a longer id prefix", name);
    }
    return fail(1, "cannot find room '%s': %s", name, rumor_strerror(rc));
}

static int resolve_room(rumor_node_t *n, const char *name, uint8_t id[RUMOR_ID_BYTES])
{
    int rc = rumor_node_room_resolve(n, name, id);
    return rc < 0 ? room_error(name, rc) : 0;
}

/* ---- init, id, nick ------------------------------------------------------- */

static int cmd_init(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor init [--nick NAME] [--no-passphrase] [--passphrase-file F]";
    const char *nick = NULL, *pos[1];
    bool no_pass = false;
    const char *pfile = c->passphrase_file;
    opt_t opts[] = {{"--nick", true, &nick, NULL},
                    {"--no-passphrase", false, NULL, &no_pass},
                    {"--passphrase-file", true, &pfile, NULL},
                    {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    if (access(c->home, F_OK) == 0) {
        char kpath[PATH_MAX];
        snprintf(kpath, sizeof kpath, "%s/identity.key", c->home);
        if (access(kpath, F_OK) == 0)
            return fail(1, "%s already holds an identity; refusing to overwrite it", c->home);
    }
    cli_pass_t p = {0};
    if (!no_pass) {
        rc = cli_pass_get(&p, pfile, "New passphrase: ", true);
        if (rc == RUMOR_ERR_NOT_FOUND)
            return fail(1,
                        "no passphrase: set RUMOR_PASSPHRASE, pass --passphrase-file F, run on a "
                        "terminal, or use --no-passphrase for an unattended node");
        if (rc < 0) return 1;
    }
    uint8_t id[RUMOR_ID_BYTES];
    rc = rumor_node_init_home(c->home, nick, no_pass ? NULL : &p.pass, id);
    cli_pass_free(&p);
    if (rc == RUMOR_ERR_EXISTS)
        return fail(1, "%s already holds an identity; refusing to overwrite it", c->home);
    if (rc == RUMOR_ERR_INVALID || rc == RUMOR_ERR_TOO_BIG || rc == RUMOR_ERR_BAD_UTF8)
        return fail(1, "invalid nick: 1 to %d bytes of UTF-8 without control characters",
                    RUMOR_NICK_MAX);
    if (rc < 0) return fail(1, "cannot create %s: %s", c->home, rumor_strerror(rc));
    print_id_hex(stdout, id);
    fputc('\n', stdout);
    return 0;
}

static int cmd_id_export(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor id export FILE [--passphrase-file F]", *pos[1];
    const char *pfile = c->passphrase_file;
    opt_t opts[] = {{"--passphrase-file", true, &pfile, NULL}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    cli_t c2 = *c;
    c2.passphrase_file = pfile;
    rumor_node_t *n;
    if ((rc = open_node(&c2, true, &n))) return rc;
    cli_pass_t p = {0};
    rc = cli_pass_get(&p, pfile, "Passphrase for the backup: ", true);
    if (rc == RUMOR_ERR_NOT_FOUND) {
        rumor_node_close(&n);
        return fail(1,
                    "a backup needs a passphrase: set RUMOR_PASSPHRASE, pass --passphrase-file F, "
                    "or run on a terminal");
    }
    if (rc == RUMOR_OK)
        rc = rumor_node_export_identity(n, pos[0], &p.pass);
    else
        rc = 1;
    cli_pass_free(&p);
    rumor_node_close(&n);
    if (rc == RUMOR_ERR_EXISTS) return fail(1, "%s exists; refusing to overwrite it", pos[0]);
    if (rc < 0) return fail(1, "cannot write %s: %s", pos[0], rumor_strerror(rc));
    return rc ? 1 : 0;
}

static int cmd_id_import(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor id import FILE [--passphrase-file F]", *pos[1];
    const char *pfile = c->passphrase_file;
    opt_t opts[] = {{"--passphrase-file", true, &pfile, NULL}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    char kpath[PATH_MAX];
    snprintf(kpath, sizeof kpath, "%s/identity.key", c->home);
    if (access(kpath, F_OK) == 0)
        return fail(1, "%s already holds an identity; refusing to overwrite it", c->home);
    if (access(pos[0], R_OK) != 0) return fail(1, "cannot read %s: %s", pos[0], strerror(errno));
    cli_pass_t p = {0};
    rc = cli_pass_get(&p, pfile, "Passphrase of the backup: ", false);
    if (rc == RUMOR_ERR_NOT_FOUND)
        return fail(
            1, "the backup needs its passphrase: set RUMOR_PASSPHRASE, pass --passphrase-file F, "
               "or run on a terminal");
    if (rc < 0) return 1;
    uint8_t id[RUMOR_ID_BYTES];
    rc = rumor_node_import_home(c->home, pos[0], &p.pass, id);
    cli_pass_free(&p);
    switch (rc) {
    case RUMOR_OK: break;
    case RUMOR_ERR_PASSPHRASE: return fail(1, "wrong passphrase for %s", pos[0]);
    case RUMOR_ERR_MALFORMED:
        return fail(1, "%s is not a rumor identity backup (corrupted or truncated)", pos[0]);
    case RUMOR_ERR_EXISTS:
        return fail(1, "%s already holds an identity; refusing to overwrite it", c->home);
    default: return fail(1, "cannot import %s: %s", pos[0], rumor_strerror(rc));
    }
    print_id_hex(stdout, id);
    fputc('\n', stdout);
    return 0;
}

static int cmd_id(const cli_t *c, int argc, char **argv)
{
    if (argc > 0 && strcmp(argv[0], "export") == 0) return cmd_id_export(c, argc - 1, argv + 1);
    if (argc > 0 && strcmp(argv[0], "import") == 0) return cmd_id_import(c, argc - 1, argv + 1);
    const char *usage = "rumor id [--json] | rumor id export FILE | rumor id import FILE", *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, false, &n))) return rc;
    char nick[RUMOR_NICK_MAX + 1];
    rumor_node_nick(n, nick);
    if (json) {
        fputs("{\"id\":", stdout);
        json_id(stdout, rumor_node_id(n));
        fputs(",\"nick\":", stdout);
        json_str(stdout, nick);
        fputs(",\"addresses\":[],\"protected\":", stdout);
        fputs(rumor_node_is_protected(n) ? "true" : "false", stdout);
        fputs("}\n", stdout);
    } else {
        print_id_hex(stdout, rumor_node_id(n));
        fputc('\n', stdout);
        if (nick[0]) {
            fputs("nick: ", stdout);
            term_text(stdout, nick, strlen(nick));
            fputc('\n', stdout);
        }
    }
    rumor_node_close(&n);
    return 0;
}

static int cmd_nick(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor nick NAME", *pos[1];
    int np, rc = parse(argc, argv, NULL, pos, 1, 1, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    rc = rumor_node_set_nick(n, pos[0]);
    rumor_node_close(&n);
    if (rc == RUMOR_ERR_INVALID || rc == RUMOR_ERR_TOO_BIG || rc == RUMOR_ERR_BAD_UTF8)
        return fail(1, "invalid nick: 1 to %d bytes of UTF-8 without control characters",
                    RUMOR_NICK_MAX);
    if (rc < 0) return fail(1, "cannot set the nick: %s", rumor_strerror(rc));
    return 0;
}

/* ---- rooms ---------------------------------------------------------------- */

static int edit_error(const char *what, const char *room, int rc)
{
    switch (rc) {
    case RUMOR_ERR_DENIED: return fail(1, "you may not %s '%s': only its admins can", what, room);
    case RUMOR_ERR_EXISTS: return fail(1, "a room of that name already exists there");
    case RUMOR_ERR_INVALID:
    case RUMOR_ERR_TOO_BIG:
    case RUMOR_ERR_BAD_UTF8:
        return fail(
            1,
            "invalid name or topic: names are 1 to %d bytes without '/' or control characters, "
            "topics at most %d bytes",
            RUMOR_NAME_MAX, RUMOR_TOPIC_MAX);
    }
    return fail(1, "cannot %s '%s': %s", what, room, rumor_strerror(rc));
}

static int cmd_room_create(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor room create PATH [--private] [--topic TEXT]", *pos[1], *topic = NULL;
    bool priv = false;
    opt_t opts[] = {{"--private", false, NULL, &priv},
                    {"--topic", true, &topic, NULL},
                    {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    uint8_t id[RUMOR_ID_BYTES];
    rc = rumor_node_room_create(n, pos[0], priv, topic, id);
    rumor_node_close(&n);
    if (rc == RUMOR_ERR_NOT_FOUND || rc == RUMOR_ERR_AMBIGUOUS) {
        const char *slash = strrchr(pos[0], '/');
        return fail(1, "the parent room '%.*s' %s", (int)(slash ? slash - pos[0] : 0), pos[0],
                    rc == RUMOR_ERR_NOT_FOUND ? "does not exist; create it first" : "is ambiguous");
    }
    if (rc == RUMOR_ERR_DENIED)
        return fail(1, "you are not a member of the parent room of '%s'", pos[0]);
    if (rc == RUMOR_ERR_EXISTS) return fail(1, "a room '%s' already exists", pos[0]);
    if (rc < 0) return edit_error("create", pos[0], rc);
    print_id_hex(stdout, id);
    fputc('\n', stdout);
    return 0;
}

/* Rooms collected for drawing the tree. */
typedef struct {
    rumor_node_room_t *v;
    size_t n, cap;
} rooms_t;

static int collect_room(void *ctx, const rumor_node_room_t *r)
{
    rooms_t *rs = ctx;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        rumor_node_room_t *v = realloc(rs->v, cap * sizeof *v);
        if (!v) return RUMOR_ERR_NOMEM;
        rs->v = v;
        rs->cap = cap;
    }
    rs->v[rs->n++] = *r;
    return 0;
}

static void room_json(const rumor_node_room_t *r)
{
    fputs("{\"id\":", stdout);
    json_id(stdout, r->id);
    fputs(",\"path\":", stdout);
    json_str(stdout, r->path);
    fputs(",\"name\":", stdout);
    json_str(stdout, r->name);
    fputs(",\"parent\":", stdout);
    if (r->depth)
        json_id(stdout, r->parent);
    else
        fputs("null", stdout);
    fputs(",\"topic\":", stdout);
    json_str(stdout, r->topic);
    printf(",\"private\":%s,\"readable\":%s,\"depth\":%d,\"members\":%llu,\"messages\":%llu,"
           "\"unread\":%llu,"
           "\"key_epoch\":%u",
           r->is_private ? "true" : "false", r->readable ? "true" : "false", r->depth,
           (unsigned long long)r->members, (unsigned long long)r->messages,
           (unsigned long long)r->unread, r->epoch);
}

static int cmd_room_list(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor room list [--json]", *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    rooms_t rs = {0};
    rc = rumor_node_room_walk(n, collect_room, &rs);
    rumor_node_close(&n);
    if (rc < 0) {
        free(rs.v);
        return fail(1, "cannot list rooms: %s", rumor_strerror(rc));
    }
    if (json) {
        fputs("{\"rooms\":[", stdout);
        for (size_t i = 0; i < rs.n; i++) {
            if (i) fputc(',', stdout);
            room_json(&rs.v[i]);
            fputc('}', stdout);
        }
        fputs("]}\n", stdout);
    } else if (rs.n == 0) {
        puts("no rooms yet; create one with 'rumor room create NAME'");
    } else {
        /* more[d]: the ancestor at depth d has siblings still to come, so its bar continues. */
        bool more[RUMOR_MAX_DEPTH + 1] = {0};
        for (size_t i = 0; i < rs.n; i++) {
            const rumor_node_room_t *r = &rs.v[i];
            bool last = true;
            for (size_t j = i + 1; j < rs.n && rs.v[j].depth >= r->depth; j++)
                if (rs.v[j].depth == r->depth) {
                    last = false;
                    break;
                }
            for (int d = 1; d < r->depth; d++) fputs(more[d] ? "│   " : "    ", stdout);
            if (r->depth > 0) fputs(last ? "└── " : "├── ", stdout);
            if (r->depth <= RUMOR_MAX_DEPTH) more[r->depth] = !last;
            if (r->readable)
                term_text(stdout, r->name, strlen(r->name));
            else
                fputs("(unreadable)", stdout);
            if (r->is_private) fputs(" [private]", stdout);
            printf("  (%llu member%s", (unsigned long long)r->members, r->members == 1 ? "" : "s");
            if (r->unread) printf(", %llu unread", (unsigned long long)r->unread);
            fputs(")\n", stdout);
        }
    }
    free(rs.v);
    return 0;
}

static const char *role_name(uint8_t role)
{
    return role == RUMOR_ROLE_ADMIN ? "admin" : role == RUMOR_ROLE_MEMBER ? "member" : "none";
}

typedef struct {
    bool json;
    int count;
} members_out_t;

static int print_member(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], uint8_t role, const char *nick)
{
    members_out_t *m = ctx;
    if (m->json) {
        fputs(m->count++ ? ",{\"id\":" : "{\"id\":", stdout);
        json_id(stdout, pk);
        fputs(",\"nick\":", stdout);
        json_str(stdout, nick);
        printf(",\"role\":\"%s\"}", role_name(role));
    } else {
        fputs("  ", stdout);
        print_id_hex(stdout, pk);
        printf("  %-6s  ", role_name(role));
        term_text(stdout, nick, strlen(nick));
        fputc('\n', stdout);
    }
    return 0;
}

static int cmd_room_info(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor room info ROOM [--json]", *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    uint8_t id[RUMOR_ID_BYTES];
    rumor_node_room_t r;
    if ((rc = resolve_room(n, pos[0], id))) goto out;
    if ((rc = rumor_node_room_get(n, id, &r)) < 0) {
        rc = room_error(pos[0], rc);
        goto out;
    }
    members_out_t m = {json, 0};
    if (json) {
        room_json(&r);
        fputs(",\"members_list\":[", stdout);
        rumor_node_room_members(n, id, print_member, &m);
        fputs("]}\n", stdout);
    } else {
        fputs("id:        ", stdout);
        print_id_hex(stdout, r.id);
        fputs("\npath:      ", stdout);
        term_text(stdout, r.path, strlen(r.path));
        fputs("\ntopic:     ", stdout);
        term_text(stdout, r.topic, strlen(r.topic));
        printf("\nprivate:   %s\nkey epoch: %u\nmessages:  %llu\nmembers:   %llu\n",
               r.is_private ? "yes" : "no", r.epoch, (unsigned long long)r.messages,
               (unsigned long long)r.members);
        rumor_node_room_members(n, id, print_member, &m);
    }
    rc = 0;
out:
    rumor_node_close(&n);
    return rc;
}

/* rename, topic and move share their shape: ROOM VALUE. */
static int cmd_room_edit(const cli_t *c, int argc, char **argv, const char *what)
{
    char usage[96];
    snprintf(usage, sizeof usage, "rumor room %s ROOM %s", what,
             strcmp(what, "move") == 0     ? "PARENT|/"
             : strcmp(what, "rename") == 0 ? "NAME"
                                           : "TEXT");
    const char *pos[2];
    int np, rc = parse(argc, argv, NULL, pos, 2, 2, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    uint8_t id[RUMOR_ID_BYTES], parent[RUMOR_ID_BYTES];
    if ((rc = resolve_room(n, pos[0], id))) goto out;
    if (strcmp(what, "rename") == 0) {
        rc = rumor_node_room_rename(n, id, pos[1]);
    } else if (strcmp(what, "topic") == 0) {
        rc = rumor_node_room_topic(n, id, pos[1]);
    } else if (strcmp(pos[1], "/") == 0) {
        rc = rumor_node_room_move(n, id, NULL);
    } else {
        if ((rc = resolve_room(n, pos[1], parent))) goto out;
        rc = rumor_node_room_move(n, id, parent);
    }
    if (rc == RUMOR_ERR_DENIED && strcmp(what, "move") == 0)
        rc = fail(
            1,
            "cannot move '%s' there: you must be its admin, the new parent must not be inside it, "
            "and a shared room stays in its key domain (only a private room may move to another "
            "tree or to the top level)",
            pos[0]);
    else if (rc < 0)
        rc = edit_error(what, pos[0], rc);
out:
    rumor_node_close(&n);
    return rc;
}

static int cmd_room(const cli_t *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp(sub, "create") == 0) return cmd_room_create(c, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0) return cmd_room_list(c, argc - 1, argv + 1);
    if (strcmp(sub, "info") == 0) return cmd_room_info(c, argc - 1, argv + 1);
    if (strcmp(sub, "rename") == 0 || strcmp(sub, "topic") == 0 || strcmp(sub, "move") == 0)
        return cmd_room_edit(c, argc - 1, argv + 1, sub);
    if (strcmp(sub, "invite") == 0 || strcmp(sub, "join") == 0 || strcmp(sub, "leave") == 0 ||
        strcmp(sub, "kick") == 0)
        return fail(1, "'room %s' needs the gossip mesh, which this build does not have yet", sub);
    return fail(EXIT_USAGE,
                "usage: rumor room create|list|info|move|rename|topic ...; see 'rumor help'");
}

/* ---- send and log --------------------------------------------------------- */

static int read_stdin(char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    while (n < cap) {
        size_t r = fread(buf + n, 1, cap - n, stdin);
        if (r == 0) break;
        n += r;
    }
    if (ferror(stdin)) return RUMOR_ERR_IO;
    *len = n;
    return RUMOR_OK;
}

static int cmd_send(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor send ROOM TEXT|-", *pos[2];
    int np, rc = parse(argc, argv, NULL, pos, 2, 2, &np, usage);
    if (rc) return rc;
    char *buf = NULL;
    const char *text = pos[1];
    size_t len = strlen(text);
    if (strcmp(text, "-") == 0) {
        if (!(buf = malloc(STDIN_MAX + 1))) return fail(1, "out of memory");
        if (read_stdin(buf, STDIN_MAX + 1, &len) < 0) {
            free(buf);
            return fail(1, "cannot read standard input: %s", strerror(errno));
        }
        /* A final newline from `echo` or a file is not part of the message. */
        if (len > 0 && len <= STDIN_MAX && buf[len - 1] == '\n') len--;
        text = buf;
    }
    if (len > RUMOR_TEXT_MAX) {
        free(buf);
        return fail(1, "message is %s%zu bytes, over the limit of %d bytes",
                    len > STDIN_MAX ? "over " : "", len > STDIN_MAX ? (size_t)STDIN_MAX : len,
                    RUMOR_TEXT_MAX);
    }
    if (len == 0) {
        free(buf);
        return fail(1, "empty message; nothing sent");
    }
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) {
        free(buf);
        return rc;
    }
    uint8_t room[RUMOR_ID_BYTES], id[RUMOR_ID_BYTES];
    if ((rc = resolve_room(n, pos[0], room)) == 0) {
        rc = rumor_node_send(n, room, text, len, id);
        if (rc == RUMOR_ERR_BAD_UTF8)
            rc = fail(1, "message is not valid UTF-8 text; nothing sent");
        else if (rc == RUMOR_ERR_DENIED)
            rc = fail(1, "you are not a member of '%s'; nothing sent", pos[0]);
        else if (rc == RUMOR_ERR_NO_KEY)
            rc = fail(1, "no key for '%s' on this node; nothing sent", pos[0]);
        else if (rc < 0)
            rc = fail(1, "cannot send: %s", rumor_strerror(rc));
        else {
            print_id_hex(stdout, id);
            fputc('\n', stdout);
        }
    }
    rumor_node_close(&n);
    free(buf);
    return rc;
}

typedef struct {
    bool json;
    const char *path;
} log_out_t;

static int print_message(void *ctx, const rumor_node_message_t *m)
{
    log_out_t *o = ctx;
    if (o->json) {
        fputs("{\"id\":", stdout);
        json_id(stdout, m->id);
        fputs(",\"room\":", stdout);
        json_id(stdout, m->room);
        fputs(",\"path\":", stdout);
        json_str(stdout, o->path);
        fputs(",\"author\":", stdout);
        json_id(stdout, m->author);
        fputs(",\"nick\":", stdout);
        json_str(stdout, m->nick);
        printf(",\"ts\":%llu,\"lamport\":%llu,\"text\":", (unsigned long long)m->ts,
               (unsigned long long)m->lamport);
        if (m->text)
            json_str_n(stdout, m->text, m->text_len);
        else
            fputs("null", stdout);
        fputs("}\n", stdout);
        return 0;
    }
    time_t secs = (time_t)(m->ts / 1000);
    struct tm tm;
    char when[32];
    localtime_r(&secs, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    printf("[%s] ", when);
    if (m->nick[0])
        term_text(stdout, m->nick, strlen(m->nick));
    else {
        char hex[RUMOR_ID_HEX + 1];
        rumor_hex_encode(hex, m->author, RUMOR_ID_BYTES);
        printf("%.8s", hex);
    }
    fputs(": ", stdout);
    if (m->text)
        term_text(stdout, m->text, m->text_len);
    else
        fputs("(cannot decrypt: no key for this message)", stdout);
    fputc('\n', stdout);
    return 0;
}

static int cmd_log(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor log ROOM [--limit N] [--json]", *pos[1], *limit_s = NULL;
    bool json = false, follow = false;
    opt_t opts[] = {{"--json", false, NULL, &json},
                    {"--limit", true, &limit_s, NULL},
                    {"--follow", false, NULL, &follow},
                    {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    unsigned long long limit = 0;
    if (limit_s) {
        char *end;
        errno = 0;
        limit = strtoull(limit_s, &end, 10);
        if (errno || *end || !*limit_s || limit_s[0] == '-' || limit == 0)
            return fail(EXIT_USAGE, "--limit takes a positive number; usage: %s", usage);
    }
    if (follow) return fail(1, "--follow needs a running node, which this build does not have yet");
    if (pos[0][0] == '@')
        return fail(1, "direct messages need the gossip mesh, which this build does not have yet");
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    uint8_t room[RUMOR_ID_BYTES], bad[RUMOR_ID_BYTES];
    rumor_node_room_t info;
    if ((rc = resolve_room(n, pos[0], room))) goto out;
    if ((rc = rumor_node_room_get(n, room, &info)) < 0) {
        rc = room_error(pos[0], rc);
        goto out;
    }
    log_out_t o = {json, info.path};
    rc = rumor_node_log(n, room, limit, print_message, &o, bad);
    fflush(stdout);
    if (rc == RUMOR_ERR_BAD_SIGNATURE) {
        char hex[RUMOR_ID_HEX + 1];
        rumor_hex_encode(hex, bad, RUMOR_ID_BYTES);
        rc = fail(
            1, "event %.16s in the store fails verification: the store was altered outside rumor",
            hex);
    } else if (rc < 0) {
        rc = fail(1, "cannot read the log: %s", rumor_strerror(rc));
    }
out:
    rumor_node_close(&n);
    return rc;
}

/* ---- status, peers -------------------------------------------------------- */

static int cmd_status(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor status [--json]", *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, false, &n))) return rc;
    rumor_node_counts_t k;
    rc = rumor_node_counts(n, &k);
    if (rc < 0) {
        rumor_node_close(&n);
        return fail(1, "cannot read the store: %s", rumor_strerror(rc));
    }
    if (json) {
        fputs("{\"running\":false,\"id\":", stdout);
        json_id(stdout, rumor_node_id(n));
        printf(",\"listen\":null,\"peers\":0,\"rooms\":%llu,\"events\":%llu,\"outbox\":%llu,"
               "\"uptime_s\":0,"
               "\"schema\":%u}\n",
               (unsigned long long)k.rooms, (unsigned long long)k.events,
               (unsigned long long)k.outbox, k.schema);
    } else {
        fputs("node:    not running\nid:      ", stdout);
        print_id_hex(stdout, rumor_node_id(n));
        printf("\nrooms:   %llu\nevents:  %llu\noutbox:  %llu (waiting to be gossiped)\n",
               (unsigned long long)k.rooms, (unsigned long long)k.events,
               (unsigned long long)k.outbox);
    }
    rumor_node_close(&n);
    return 0;
}

static int not_yet(const cli_t *c, int argc, char **argv)
{
    (void)c;
    (void)argc;
    (void)argv;
    return fail(1, "this command needs the gossip mesh, which this build does not have yet");
}

/* ---- help and dispatch ------------------------------------------------------ */

typedef struct {
    const char *name;
    int (*fn)(const cli_t *c, int argc, char **argv);
    const char *usage;
    const char *summary;
} command_t;

static int cmd_help(const cli_t *c, int argc, char **argv);

static const command_t commands[] = {
    {"init", cmd_init, "init [--nick NAME] [--no-passphrase] [--passphrase-file F]",
     "create the home, a new identity (sealed under a passphrase) and the store"},
    {"id", cmd_id, "id [--json] | id export FILE | id import FILE",
     "show this identity; back it up encrypted, or restore it into a new home"},
    {"nick", cmd_nick, "nick NAME", "set your display name (a signed, public profile event)"},
    {"room", cmd_room,
     "room create PATH [--private] [--topic TEXT] | list [--json] | info ROOM [--json]\n"
     "         | move ROOM PARENT|/ | rename ROOM NAME | topic ROOM TEXT",
     "create rooms and sub-rooms, show the tree, edit it (admins)"},
    {"send", cmd_send, "send ROOM TEXT|-",
     "post a message ('-' reads standard input); prints its id once stored"},
    {"log", cmd_log, "log ROOM [--limit N] [--json]", "history of a room in causal order"},
    {"status", cmd_status, "status [--json]", "whether the node runs, and what the store holds"},
    {"node", not_yet, "node [--listen HOST:PORT] [--peer PUBKEY@HOST:PORT]... [--no-lan]",
     "run the node (not in this build yet)"},
    {"peers", not_yet, "peers [--json]", "connected peers (not in this build yet)"},
    {"peer", not_yet, "peer add PUBKEY@HOST:PORT",
     "remember a bootstrap peer (not in this build yet)"},
    {"dm", not_yet, "dm PUBKEY TEXT|-", "direct message (not in this build yet)"},
    {"chat", not_yet, "chat ROOM", "interactive chat (not in this build yet)"},
    {"stats", not_yet, "stats [--json]", "protocol counters (not in this build yet)"},
    {"help", cmd_help, "help [COMMAND]", "this help, or one command's"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static void usage_all(FILE *f)
{
    fputs("usage: rumor [--home DIR] [--passphrase-file F] COMMAND ...\n\n"
          "A peer-to-peer, end-to-end encrypted chat node. DIR defaults to $RUMOR_HOME, else "
          "~/.rumor.\n"
          "The passphrase comes from RUMOR_PASSPHRASE, --passphrase-file F, or a prompt on the "
          "terminal.\n\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRooms are named by path (lan/general) or by an id prefix of 8+ hex characters.\n"
          "Read commands take --json. Exit status: 0 ok, 2 usage error, 1 any other failure.\n"
          "'rumor COMMAND --help' shows one command.\n",
          f);
}

static void usage_one(FILE *f, const command_t *cmd)
{
    fprintf(f, "usage: rumor %s\n\n%s\n", cmd->usage, cmd->summary);
}

static int cmd_help(const cli_t *c, int argc, char **argv)
{
    (void)c;
    if (argc > 0) {
        const command_t *cmd = find_command(argv[0]);
        if (!cmd) return fail(EXIT_USAGE, "unknown command '%s'; see 'rumor help'", argv[0]);
        usage_one(stdout, cmd);
        return 0;
    }
    usage_all(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    cli_t c = {0};
    static char home_buf[PATH_MAX];
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 || strcmp(argv[i], "--passphrase-file") == 0) {
            if (i + 1 >= argc)
                return fail(EXIT_USAGE, "%s needs a value; see 'rumor help'", argv[i]);
            if (argv[i][2] == 'h')
                c.home = argv[++i];
            else
                c.passphrase_file = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_all(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            puts("rumor 0.1.0");
            return 0;
        } else if (argv[i][0] == '-') {
            return fail(EXIT_USAGE, "unknown option %s; see 'rumor help'", argv[i]);
        } else {
            break;
        }
    }
    if (i >= argc) return fail(EXIT_USAGE, "no command given; see 'rumor help'");
    const command_t *cmd = find_command(argv[i]);
    if (!cmd) return fail(EXIT_USAGE, "unknown command '%s'; see 'rumor help'", argv[i]);
    for (int k = i + 1; k < argc; k++) {
        if (strcmp(argv[k], "--") == 0) break;
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            usage_one(stdout, cmd);
            return 0;
        }
    }
    if (!c.home) c.home = getenv("RUMOR_HOME");
    if (!c.home || !*c.home) {
        const char *h = getenv("HOME");
        if (!h || !*h) return fail(1, "no home: pass --home DIR or set RUMOR_HOME or HOME");
        if (snprintf(home_buf, sizeof home_buf, "%s/.rumor", h) >= (int)sizeof home_buf)
            return fail(1, "HOME is too long");
        c.home = home_buf;
    }
    if (strlen(c.home) > PATH_MAX - 64) return fail(1, "home path is too long");
    int rc = cmd->fn(&c, argc - i - 1, argv + i + 1);
    if (fflush(stdout) != 0) return fail(1, "cannot write output: %s", strerror(errno));
    return rc;
}
