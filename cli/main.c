/* main.c - the `rumor` command line (SPEC section 2). A thin user of node/. */
#include "cli.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STDIN_MAX (RUMOR_TEXT_MAX + 1)
/* rumor_node_log holds `limit` ids in memory: the largest --limit accepted. */
#define LIMIT_MAX 1000000ULL

#ifndef NDEBUG
/* True when `usage` names every option of `opts` (as a whole word: "--limit" is not "--limits"). */
static bool usage_names_options(const char *usage, const opt_t *opts)
{
    for (const opt_t *o = opts; o && o->name; o++) {
        size_t len = strlen(o->name);
        const char *at = usage;
        while ((at = strstr(at, o->name)) && (at[len] == '-' || (at[len] >= 'a' && at[len] <= 'z')))
            at += len;
        if (!at) return false;
    }
    return true;
}
#endif

/* Parses argv into options and positionals. Returns 0, or EXIT_USAGE with a message. */
int parse(int argc, char **argv, const opt_t *opts, const char **pos, int min_pos, int max_pos,
          int *n_pos, const char *usage)
{
    bool only_pos = false;
    /* A usage error shows the usage: it must name every option (cli.h, USAGE_...). */
    assert(usage_names_options(usage, opts));
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
            if (!o || !o->name)
                return cli_fail(EXIT_USAGE, "unknown option %s; usage: %s", a, usage);
            if (o->has_arg) {
                if (i + 1 >= argc)
                    return cli_fail(EXIT_USAGE, "%s needs a value; usage: %s", a, usage);
                *o->value = argv[++i];
            } else {
                *o->flag = true;
            }
            continue;
        }
        if (*n_pos >= max_pos)
            return cli_fail(EXIT_USAGE, "unexpected argument '%s'; usage: %s", a, usage);
        pos[(*n_pos)++] = a;
    }
    if (*n_pos < min_pos) return cli_fail(EXIT_USAGE, "missing argument; usage: %s", usage);
    return 0;
}

/* Parses a count: plain decimal digits (no sign, no spaces), from 1 to `max`. */
bool parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (unsigned)(*s - '0');
        if (v > max) return false;
    }
    *out = v;
    return v > 0;
}

static void print_id_hex(FILE *f, const uint8_t id[RUMOR_ID_BYTES])
{
    char hex[RUMOR_ID_HEX + 1];
    rumor_hex_encode(hex, id, RUMOR_ID_BYTES);
    fputs(hex, f);
}

void print_id_line(const uint8_t id[RUMOR_ID_BYTES])
{
    print_id_hex(stdout, id);
    fputc('\n', stdout);
}

/* ---- what went wrong -------------------------------------------------------- */

/* A stored event failed verification: name it when the node knows which. */
static int tampered(const rumor_node_t *n)
{
    const uint8_t *id = n ? rumor_node_tampered_event(n) : NULL;
    if (!id)
        return cli_fail(1, "an event in the store fails verification: the store was altered "
                           "outside rumor");
    char hex[RUMOR_ID_HEX + 1];
    rumor_hex_encode(hex, id, RUMOR_ID_BYTES);
    return cli_fail(
        1, "event %.16s in the store fails verification: the store was altered outside rumor", hex);
}

/*
 * The one line for a node error whose meaning does not depend on the command;
 * every command maps its own codes first and ends here. `doing` completes
 * "cannot ..." for the rest ("send to 'lan'"). `n` may be NULL.
 */
int node_error(const cli_t *c, const rumor_node_t *n, int rc, const char *doing)
{
    switch (rc) {
    case RUMOR_ERR_BAD_SIGNATURE: return tampered(n);
    case RUMOR_ERR_NO_IDENTITY:
        return cli_fail(1, "no identity in %s; create one with 'rumor init'", c->home);
    case RUMOR_ERR_SCHEMA_NEWER:
        return cli_fail(1, "the store in %s was written by a newer rumor; upgrade rumor to open it",
                        c->home);
    case RUMOR_ERR_FOREIGN_STORE:
        return cli_fail(1, "%s/store belongs to another identity; use another home or remove it",
                        c->home);
    case RUMOR_ERR_PASSPHRASE:
        return cli_fail(1, "wrong passphrase for the identity in %s", c->home);
    }
    return cli_fail(1, "cannot %s: %s", doing, rumor_strerror(rc));
}

/* Errors of opening the home and unlocking its identity. */
static int open_error(const cli_t *c, int rc)
{
    char doing[PATH_MAX + 16];
    if (rc == RUMOR_ERR_MALFORMED)
        return cli_fail(1,
                        "the identity in %s is not a valid rumor key file (corrupted or "
                        "truncated); restore it with 'rumor id import BACKUP'",
                        c->home);
    snprintf(doing, sizeof doing, "open %s", c->home);
    return node_error(c, NULL, rc, doing);
}

static int already_has_identity(const cli_t *c)
{
    return cli_fail(1, "%s already holds an identity; refusing to overwrite it", c->home);
}

/* Errors of making a home (init, import). */
static int create_home_error(const cli_t *c, int rc)
{
    char doing[PATH_MAX + 16];
    if (rc == RUMOR_ERR_EXISTS) return already_has_identity(c);
    if (rc == RUMOR_ERR_NOT_FOUND)
        return cli_fail(1, "cannot create %s: its parent directory does not exist", c->home);
    snprintf(doing, sizeof doing, "create %s", c->home);
    return node_error(c, NULL, rc, doing);
}

/* The codes the node returns for bad text typed by the user (a nick, a room name, a topic), and
 * only for it. */
static bool is_text_error(int rc)
{
    return rc == RUMOR_ERR_INVALID || rc == RUMOR_ERR_TOO_BIG || rc == RUMOR_ERR_BAD_UTF8;
}

static int invalid_nick(void)
{
    return cli_fail(1, "invalid nick: 1 to %d bytes of UTF-8 without control characters",
                    RUMOR_NICK_MAX);
}

/* Errors about a room the user named by path or id. */
int room_error(const cli_t *c, const rumor_node_t *n, const char *name, int rc)
{
    char doing[RUMOR_PATH_MAX + 64];
    switch (rc) {
    case RUMOR_ERR_NOT_FOUND: return cli_fail(1, "no room '%s'; see 'rumor room list'", name);
    case RUMOR_ERR_AMBIGUOUS:
        return cli_fail(1, "'%s' names more than one room; use a longer id prefix", name);
    case RUMOR_ERR_BAD_PATH:
        return cli_fail(1, "invalid room path '%s': names joined by '/', none empty", name);
    }
    snprintf(doing, sizeof doing, "find room '%s'", name);
    return node_error(c, n, rc, doing);
}

/* A room name refused by rumor_node_room_check_name (PROTOCOL.md 2.2). */
static int invalid_room_name(const char *name)
{
    return cli_fail(1,
                    "invalid room name '%s': 1 to %d bytes of letters (any script), digits, '-', "
                    "'_' and '.', not starting with '-'; no spaces or other punctuation",
                    name, RUMOR_NAME_MAX);
}

/*
 * Errors of an edit of the tree (create, rename, topic, move) that all of them
 * share. `doing` completes "you may not ..." and "cannot ..." before the
 * room's name: "rename", "set the topic of".
 */
static int edit_error(const cli_t *c, const rumor_node_t *n, const char *doing, const char *room,
                      int rc)
{
    char what[RUMOR_PATH_MAX + 64];
    switch (rc) {
    case RUMOR_ERR_DENIED:
        return cli_fail(1, "you may not %s '%s': only its admins can", doing, room);
    case RUMOR_ERR_EXISTS: return cli_fail(1, "a room of that name already exists there");
    case RUMOR_ERR_INVALID:
    case RUMOR_ERR_TOO_BIG:
    case RUMOR_ERR_BAD_UTF8:
        return cli_fail(1, "invalid topic: at most %d bytes of UTF-8 without control characters",
                        RUMOR_TOPIC_MAX);
    }
    snprintf(what, sizeof what, "%s '%s'", doing, room);
    return node_error(c, n, rc, what);
}

/* ---- opening the home ------------------------------------------------------ */

/*
 * Gets a passphrase; when there is no source at all, says so with `need`
 * ("the backup needs its passphrase") and the sources, then `also` (another
 * way out, or ""). Returns 0, or 1 once the one error line is printed.
 */
static int get_pass(cli_pass_t *p, const char *file, const char *prompt, bool confirm,
                    const char *need, const char *also)
{
    int rc = cli_pass_get(p, file, prompt, confirm);
    if (rc == RUMOR_ERR_NOT_FOUND)
        return cli_fail(1,
                        "%s: pass --passphrase-file F, set RUMOR_PASSPHRASE, or run on a "
                        "terminal%s",
                        need, also);
    return rc < 0 ? 1 : 0;
}

/*
 * Unlocks the identity, asking for its passphrase when it is protected. With
 * `keep`, the passphrase is handed to the caller (who frees it); otherwise it
 * is wiped here.
 */
int unlock_identity(const cli_t *c, rumor_node_t *n, cli_pass_t *keep)
{
    cli_pass_t p = {0};
    int rc = 0;
    if (rumor_node_is_protected(n))
        rc = get_pass(&p, c->passphrase_file, "Passphrase: ", false,
                      "the identity is protected by a passphrase", "");
    if (rc == 0) {
        int urc = rumor_node_unlock(n, p.buf ? &p.pass : NULL);
        if (urc < 0) rc = open_error(c, urc);
    }
    if (keep && rc == 0)
        *keep = p;
    else
        cli_pass_free(&p);
    return rc;
}

/* Opens the home; with `unlock`, also unlocks the identity: a protected one by the running node
 * when there is one (unlock once, agent.c), else with the passphrase. An unprotected identity is
 * opened here, so that its commands never depend on the node staying up. */
int open_node(const cli_t *c, bool unlock, rumor_node_t **out)
{
    int rc = rumor_node_open(c->home, out);
    if (rc < 0) return open_error(c, rc);
    if (!unlock || (rumor_node_is_protected(*out) && agent_unlock(c, *out) == RUMOR_OK)) return 0;
    if ((rc = unlock_identity(c, *out, NULL)) != 0) rumor_node_close(out);
    return rc;
}

int resolve_room(const cli_t *c, rumor_node_t *n, const char *name, uint8_t id[RUMOR_ID_BYTES])
{
    if (name[0] == '@') {
        /* @PEER: the direct conversation with PEER (a key, a prefix or a contact name). */
        uint8_t pk[RUMOR_ID_BYTES];
        int rc = resolve_peer(c, n, name + 1, pk);
        if (rc) return rc;
        rc = rumor_node_dm_find(n, pk, id);
        if (rc == RUMOR_ERR_NOT_FOUND)
            return cli_fail(1, "no conversation with %s yet; start one with 'rumor dm %s TEXT'",
                            name + 1, name + 1);
        return rc < 0 ? node_error(c, n, rc, "find the conversation") : 0;
    }
    int rc = rumor_node_room_resolve(n, name, id);
    return rc < 0 ? room_error(c, n, name, rc) : 0;
}

/* ---- init, id, nick ------------------------------------------------------- */

static int cmd_init(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_INIT;
    const char *nick = NULL, *pos[1];
    bool no_pass = false;
    const char *pfile = c->passphrase_file;
    opt_t opts[] = {{"--nick", true, &nick, NULL},
                    {"--no-passphrase", false, NULL, &no_pass},
                    {"--passphrase-file", true, &pfile, NULL},
                    {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    if (rumor_node_home_has_identity(c->home)) return already_has_identity(c);
    cli_pass_t p = {0};
    if (!no_pass &&
        (rc = get_pass(&p, pfile, "New passphrase: ", true, "a new identity needs a passphrase",
                       "; or use --no-passphrase for an unattended node")))
        return rc;
    uint8_t id[RUMOR_ID_BYTES];
    rc = rumor_node_init_home(c->home, nick, no_pass ? NULL : &p.pass, id);
    cli_pass_free(&p);
    if (rc < 0) return nick && is_text_error(rc) ? invalid_nick() : create_home_error(c, rc);
    print_id_line(id);
    return 0;
}

static int cmd_id_export(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ID_EXPORT, *pos[1];
    const char *pfile = c->passphrase_file;
    opt_t opts[] = {{"--passphrase-file", true, &pfile, NULL}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    cli_t c2 = *c;
    c2.passphrase_file = pfile;
    rumor_node_t *n = NULL;
    cli_pass_t home_pass = {0}, typed = {0};
    const cli_pass_t *backup = &home_pass;
    if ((rc = open_node(&c2, false, &n))) return rc;
    if ((rc = unlock_identity(&c2, n, &home_pass))) goto out;
    /* A passphrase from a file or the environment seals the backup too; a typed one is asked
     * again, with a confirmation, as is one for an unprotected identity. */
    if (!home_pass.buf || home_pass.typed) {
        if ((rc = get_pass(&typed, pfile, "Passphrase for the backup: ", true,
                           "a backup needs a passphrase", "")))
            goto out;
        backup = &typed;
    }
    rc = rumor_node_export_identity(n, pos[0], &backup->pass);
    if (rc == RUMOR_ERR_EXISTS)
        rc = cli_fail(1, "%s exists; refusing to overwrite it", pos[0]);
    else if (rc == RUMOR_ERR_NOT_FOUND)
        rc = cli_fail(1, "cannot write %s: its directory does not exist", pos[0]);
    else if (rc < 0)
        rc = node_error(&c2, n, rc, "write the backup");
out:
    cli_pass_free(&home_pass);
    cli_pass_free(&typed);
    rumor_node_close(&n);
    return rc;
}

/* Errors about a backup file being read. */
static int backup_error(const cli_t *c, const char *file, int rc)
{
    char doing[PATH_MAX + 16];
    switch (rc) {
    case RUMOR_ERR_NOT_FOUND: return cli_fail(1, "cannot read %s: no such file", file);
    case RUMOR_ERR_IO: return cli_fail(1, "cannot read %s: check that it is readable", file);
    case RUMOR_ERR_MALFORMED:
        return cli_fail(1, "%s is not a rumor identity backup (corrupted or truncated)", file);
    case RUMOR_ERR_PASSPHRASE:
        return cli_fail(1, "wrong passphrase for %s (or the file was altered)", file);
    }
    snprintf(doing, sizeof doing, "import %s", file);
    return node_error(c, NULL, rc, doing);
}

static int cmd_id_import(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ID_IMPORT, *pos[1];
    const char *pfile = c->passphrase_file;
    opt_t opts[] = {{"--passphrase-file", true, &pfile, NULL}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    if (rumor_node_home_has_identity(c->home)) return already_has_identity(c);
    bool is_protected = false;
    if ((rc = rumor_node_inspect_backup(pos[0], &is_protected)) < 0)
        return backup_error(c, pos[0], rc);
    cli_pass_t p = {0};
    if (is_protected && (rc = get_pass(&p, pfile, "Passphrase of the backup: ", false,
                                       "the backup needs its passphrase", "")))
        return rc;
    uint8_t id[RUMOR_ID_BYTES];
    rc = rumor_node_import_home(c->home, pos[0], p.buf ? &p.pass : NULL, id);
    cli_pass_free(&p);
    if (rc == RUMOR_ERR_PASSPHRASE || rc == RUMOR_ERR_MALFORMED) return backup_error(c, pos[0], rc);
    if (rc < 0) return create_home_error(c, rc);
    print_id_line(id);
    return 0;
}

static int cmd_id(const cli_t *c, int argc, char **argv)
{
    if (argc > 0 && strcmp(argv[0], "export") == 0) return cmd_id_export(c, argc - 1, argv + 1);
    if (argc > 0 && strcmp(argv[0], "import") == 0) return cmd_id_import(c, argc - 1, argv + 1);
    const char *usage = "rumor " USAGE_ID, *pos[1];
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
        fputs(",\"addresses\":[", stdout);
        print_addresses(c, true);
        fputs("],\"protected\":", stdout);
        fputs(rumor_node_is_protected(n) ? "true" : "false", stdout);
        fputs("}\n", stdout);
    } else {
        print_id_line(rumor_node_id(n));
        if (nick[0]) {
            fputs("nick: ", stdout);
            term_text(stdout, nick, strlen(nick));
            fputc('\n', stdout);
        }
        print_addresses(c, false);
    }
    rumor_node_close(&n);
    return 0;
}

static int cmd_nick(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_NICK, *pos[1];
    int np, rc = parse(argc, argv, NULL, pos, 1, 1, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    rc = rumor_node_set_nick(n, pos[0]);
    if (rc < 0) rc = is_text_error(rc) ? invalid_nick() : node_error(c, n, rc, "set the nick");
    rumor_node_close(&n);
    if (rc == 0) notify_node(c);
    return rc;
}

/* ---- rooms ---------------------------------------------------------------- */

static int create_error(const cli_t *c, const rumor_node_t *n, const char *path, int rc)
{
    const char *slash = strrchr(path, '/');
    int parent_len = (int)(slash ? slash - path : 0);
    switch (rc) {
    case RUMOR_ERR_NOT_FOUND:
        return cli_fail(1, "the parent room '%.*s' does not exist; create it first", parent_len,
                        path);
    case RUMOR_ERR_AMBIGUOUS:
        return cli_fail(1, "the parent room '%.*s' names more than one room", parent_len, path);
    case RUMOR_ERR_DENIED:
        return cli_fail(1,
                        "cannot create '%s': you must be a member of the parent room, and the "
                        "tree is at most %d levels deep",
                        path, RUMOR_MAX_DEPTH);
    case RUMOR_ERR_EXISTS: return cli_fail(1, "a room '%s' already exists", path);
    case RUMOR_ERR_TOO_BIG:
        if (strlen(path) > RUMOR_PATH_MAX)
            return cli_fail(1, "room path is too long (at most %d bytes)", RUMOR_PATH_MAX);
        break;
    case RUMOR_ERR_BAD_PATH: return room_error(c, n, path, rc);
    }
    /* The name and the topic share their error codes: the name is checked again to tell. */
    const char *name = slash ? slash + 1 : path;
    if (is_text_error(rc) && rumor_node_room_check_name(name) < 0) return invalid_room_name(name);
    return edit_error(c, n, "create", path, rc);
}

static int cmd_room_create(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ROOM_CREATE, *pos[1], *topic = NULL;
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
    if (rc < 0)
        rc = create_error(c, n, pos[0], rc);
    else
        print_id_line(id);
    rumor_node_close(&n);
    if (rc == 0) notify_node(c);
    return rc;
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

/* A direct conversation, for `room list`. */
typedef struct {
    uint8_t room[RUMOR_ID_BYTES], peer[RUMOR_ID_BYTES];
    rumor_node_person_t who;
    uint64_t messages, unread;
} convo_t;

typedef struct {
    rumor_node_t *n;
    convo_t *v;
    size_t n_v, cap;
    int rc;
} convos_t;

static int collect_convo(void *ctx, const uint8_t room[RUMOR_ID_BYTES],
                         const uint8_t peer[RUMOR_ID_BYTES])
{
    convos_t *cs = ctx;
    if (cs->n_v == cs->cap) {
        size_t cap = cs->cap ? 2 * cs->cap : 8;
        convo_t *v = realloc(cs->v, cap * sizeof *v);
        if (!v) return RUMOR_ERR_NOMEM;
        cs->v = v;
        cs->cap = cap;
    }
    convo_t *x = &cs->v[cs->n_v++];
    memcpy(x->room, room, RUMOR_ID_BYTES);
    memcpy(x->peer, peer, RUMOR_ID_BYTES);
    x->messages = x->unread = 0;
    return 0;
}

/* Names and counts of the conversations (read after the walk, outside its transaction). */
static int describe_convos(convos_t *cs)
{
    for (size_t i = 0; i < cs->n_v; i++) {
        convo_t *x = &cs->v[i];
        rumor_node_room_t r;
        int rc = rumor_node_person(cs->n, x->peer, &x->who);
        if (rc == RUMOR_OK) rc = rumor_node_room_get(cs->n, x->room, &r);
        if (rc < 0) return rc;
        x->messages = r.messages;
        x->unread = r.unread;
    }
    return RUMOR_OK;
}

static int cmd_room_list(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ROOM_LIST, *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    rooms_t rs = {0};
    convos_t cs = {n, NULL, 0, 0, 0};
    rc = rumor_node_room_walk(n, collect_room, &rs);
    if (rc == RUMOR_OK) rc = rumor_node_dm_each(n, collect_convo, &cs);
    if (rc == RUMOR_OK) rc = describe_convos(&cs);
    if (rc < 0) rc = node_error(c, n, rc, "list rooms");
    rumor_node_close(&n);
    if (rc) {
        free(rs.v);
        free(cs.v);
        return rc;
    }
    if (json) {
        fputs("{\"rooms\":[", stdout);
        for (size_t i = 0; i < rs.n; i++) {
            if (i) fputc(',', stdout);
            room_json(&rs.v[i]);
            fputc('}', stdout);
        }
        /* Direct conversations, in their own section (SPEC 2: `dm`, `log @PEER`). */
        fputs("],\"direct\":[", stdout);
        for (size_t i = 0; i < cs.n_v; i++) {
            const convo_t *x = &cs.v[i];
            fputs(i ? ",{\"room\":" : "{\"room\":", stdout);
            json_id(stdout, x->room);
            fputs(",\"peer\":", stdout);
            json_id(stdout, x->peer);
            json_person(stdout, x->who.nick, x->who.name, x->who.verified);
            printf(",\"messages\":%llu,\"unread\":%llu}", (unsigned long long)x->messages,
                   (unsigned long long)x->unread);
        }
        fputs("]}\n", stdout);
    } else if (rs.n == 0 && cs.n_v == 0) {
        puts("no rooms yet; create one with 'rumor room create NAME'");
    } else {
        /* more[d]: the ancestor at depth d has siblings still to come, so its bar continues. */
        bool more[RUMOR_MAX_DEPTH * RUMOR_MAX_DEPTH + 1] = {0};
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
            if (r->depth <= RUMOR_MAX_DEPTH * RUMOR_MAX_DEPTH) more[r->depth] = !last;
            if (r->readable)
                term_text(stdout, r->name, strlen(r->name));
            else
                fputs("(unreadable)", stdout);
            if (r->is_private) fputs(" [private]", stdout);
            printf("  (%llu member%s", (unsigned long long)r->members, r->members == 1 ? "" : "s");
            if (r->unread) printf(", %llu unread", (unsigned long long)r->unread);
            fputs(")\n", stdout);
        }
        if (cs.n_v) puts(rs.n ? "\ndirect messages:" : "direct messages:");
        for (size_t i = 0; i < cs.n_v; i++) {
            const convo_t *x = &cs.v[i];
            fputc('@', stdout);
            term_text(stdout, x->who.name, strlen(x->who.name));
            printf("  (%llu message%s", (unsigned long long)x->messages,
                   x->messages == 1 ? "" : "s");
            if (x->unread) printf(", %llu unread", (unsigned long long)x->unread);
            fputs(")\n", stdout);
        }
    }
    free(rs.v);
    free(cs.v);
    return 0;
}

static const char *role_name(uint8_t role)
{
    return role == RUMOR_ROLE_OWNER    ? "owner"
           : role == RUMOR_ROLE_ADMIN  ? "admin"
           : role == RUMOR_ROLE_MEMBER ? "member"
                                       : "none";
}

typedef struct {
    bool json;
    int count;
} members_out_t;

static int print_member(void *ctx, const uint8_t pk[RUMOR_ID_BYTES], uint8_t role,
                        const rumor_node_person_t *who)
{
    members_out_t *m = ctx;
    if (m->json) {
        fputs(m->count++ ? ",{\"id\":" : "{\"id\":", stdout);
        json_id(stdout, pk);
        json_person(stdout, who->nick, who->name, who->verified);
        printf(",\"role\":\"%s\"}", role_name(role));
    } else {
        fputs("  ", stdout);
        print_id_hex(stdout, pk);
        printf("  %-6s  ", role_name(role));
        term_text(stdout, who->name, strlen(who->name));
        fputc('\n', stdout);
    }
    return 0;
}

static int cmd_room_info(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_ROOM_INFO, *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    uint8_t id[RUMOR_ID_BYTES];
    rumor_node_room_t r;
    if ((rc = resolve_room(c, n, pos[0], id))) goto out;
    if ((rc = rumor_node_room_get(n, id, &r)) < 0) {
        rc = room_error(c, n, pos[0], rc);
        goto out;
    }
    members_out_t m = {json, 0};
    if (json) {
        room_json(&r);
        fputs(",\"members_list\":[", stdout);
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
    }
    rc = rumor_node_room_members(n, id, print_member, &m);
    if (json) fputs("]}\n", stdout);
    if (rc < 0) rc = node_error(c, n, rc, "list the members");
out:
    rumor_node_close(&n);
    return rc;
}

/* Why a move was refused, in one line (rumor_node_move_why_t). */
static int move_error(const char *room, const char *parent, rumor_node_move_why_t why)
{
    const char *to = parent ? parent : "the top level";
    switch (why) {
    case RUMOR_MOVE_NOT_ADMIN:
        return cli_fail(1, "you may not move '%s': only its admins can", room);
    case RUMOR_MOVE_ROOT:
        return cli_fail(1,
                        "cannot move '%s': it was created at the top level, and the root of a "
                        "tree never moves",
                        room);
    case RUMOR_MOVE_CYCLE:
        return cli_fail(1, "cannot move '%s' into '%s': that is the room itself or inside it", room,
                        to);
    case RUMOR_MOVE_OTHER_DOMAIN:
        if (!parent)
            return cli_fail(1,
                            "cannot move '%s' to the top level: only a private room can go there; "
                            "a shared room stays in the tree of the room whose key it uses",
                            room);
        return cli_fail(1,
                        "cannot move '%s' into '%s': a shared room stays in the tree of the room "
                        "whose key it uses (its top-level room, or the private room it is in)",
                        room, to);
    case RUMOR_MOVE_OTHER_TREE:
        return cli_fail(1,
                        "cannot move '%s' into '%s': a private room moves only to the top level "
                        "or under a room of the tree it was created in",
                        room, to);
    case RUMOR_MOVE_NOT_MEMBER_THERE:
        return cli_fail(1, "cannot move '%s' into '%s': you are not a member there", room, to);
    case RUMOR_MOVE_TOO_DEEP:
        return cli_fail(1,
                        "cannot move '%s' into '%s': the tree under its top-level or private room "
                        "would be more than %d levels deep",
                        room, to, RUMOR_MAX_DEPTH);
    case RUMOR_MOVE_REFUSED: break;
    }
    return cli_fail(1, "cannot move '%s' there: the room's rules do not allow it", room);
}

/* rename, topic and move share their shape: ROOM VALUE. */
static int cmd_room_edit(const cli_t *c, int argc, char **argv, const char *what)
{
    bool is_move = strcmp(what, "move") == 0, is_rename = strcmp(what, "rename") == 0;
    const char *usage = is_move     ? "rumor " USAGE_ROOM_MOVE
                        : is_rename ? "rumor " USAGE_ROOM_RENAME
                                    : "rumor " USAGE_ROOM_TOPIC;
    const char *pos[2];
    int np, rc = parse(argc, argv, NULL, pos, 2, 2, &np, usage);
    if (rc) return rc;
    bool to_top = is_move && strcmp(pos[1], "/") == 0;
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    uint8_t id[RUMOR_ID_BYTES], parent[RUMOR_ID_BYTES];
    rumor_node_move_why_t why = RUMOR_MOVE_REFUSED;
    if ((rc = resolve_room(c, n, pos[0], id))) goto out;
    if (is_rename)
        rc = rumor_node_room_rename(n, id, pos[1]);
    else if (!is_move)
        rc = rumor_node_room_topic(n, id, pos[1]);
    else if (to_top || (rc = resolve_room(c, n, pos[1], parent)) == 0)
        rc = rumor_node_room_move(n, id, to_top ? NULL : parent, &why);
    else
        goto out;
    if (rc == RUMOR_ERR_DENIED && is_move)
        rc = move_error(pos[0], to_top ? NULL : pos[1], why);
    else if (is_rename && is_text_error(rc))
        rc = invalid_room_name(pos[1]);
    else if (rc < 0)
        rc = edit_error(c, n,
                        is_rename ? "rename"
                        : is_move ? "move"
                                  : "set the topic of",
                        pos[0], rc);
out:
    rumor_node_close(&n);
    if (rc == 0) notify_node(c);
    return rc;
}

static int cmd_room_edit_move(const cli_t *c, int argc, char **argv)
{
    return cmd_room_edit(c, argc, argv, "move");
}

static int cmd_room_edit_rename(const cli_t *c, int argc, char **argv)
{
    return cmd_room_edit(c, argc, argv, "rename");
}

static int cmd_room_edit_topic(const cli_t *c, int argc, char **argv)
{
    return cmd_room_edit(c, argc, argv, "topic");
}

typedef int (*command_fn)(const cli_t *c, int argc, char **argv);

/* A sub-command: `room create`, `room list`, ... */
typedef struct {
    const char *name;
    command_fn fn;
    const char *usage; /* without "rumor " */
} sub_t;

/* The `room` sub-commands: dispatch, `room --help` and the list of a usage error come from here. */
static const sub_t room_subs[] = {
    {"create", cmd_room_create, USAGE_ROOM_CREATE},
    {"list", cmd_room_list, USAGE_ROOM_LIST},
    {"info", cmd_room_info, USAGE_ROOM_INFO},
    {"move", cmd_room_edit_move, USAGE_ROOM_MOVE},
    {"rename", cmd_room_edit_rename, USAGE_ROOM_RENAME},
    {"topic", cmd_room_edit_topic, USAGE_ROOM_TOPIC},
    {"invite", cmd_room_invite, USAGE_ROOM_INVITE},
    {"join", cmd_room_join, USAGE_ROOM_JOIN},
    {"kick", cmd_room_kick, USAGE_ROOM_KICK},
    {"leave", cmd_room_leave, USAGE_ROOM_LEAVE},
    {"role", cmd_room_role, USAGE_ROOM_ROLE},
};
#define N_ROOM_SUBS (sizeof room_subs / sizeof room_subs[0])

static int cmd_room(const cli_t *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    char names[128] = "";
    for (size_t i = 0; i < N_ROOM_SUBS; i++) {
        if (strcmp(sub, room_subs[i].name) == 0) return room_subs[i].fn(c, argc - 1, argv + 1);
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? "|" : "", room_subs[i].name);
    }
    return cli_fail(EXIT_USAGE, "%s%s%susage: rumor room %s ...; see 'rumor room --help'",
                    *sub ? "unknown room command '" : "", sub, *sub ? "'; " : "", names);
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

int send_error(const cli_t *c, const rumor_node_t *n, const char *room, int rc)
{
    char doing[RUMOR_PATH_MAX + 64];
    switch (rc) {
    case RUMOR_ERR_BAD_UTF8: return cli_fail(1, "message is not valid UTF-8 text; nothing sent");
    case RUMOR_ERR_DENIED: return cli_fail(1, "you are not a member of '%s'; nothing sent", room);
    case RUMOR_ERR_NO_KEY: return cli_fail(1, "no key for '%s' on this node; nothing sent", room);
    case RUMOR_ERR_INVALID: return cli_fail(1, "%s is not a valid public key; nothing sent", room);
    }
    snprintf(doing, sizeof doing, "send to '%s'", room);
    return node_error(c, n, rc, doing);
}

/*
 * The text of `send` and `dm`: the argument, or standard input for "-". *buf (freed by the
 * caller) holds what was read. Returns 0, or the exit status of a one-line error.
 */
static int message_text(const char *arg, char **buf, const char **text, size_t *len)
{
    *buf = NULL;
    *text = arg;
    *len = strlen(arg);
    if (strcmp(arg, "-") == 0) {
        if (!(*buf = malloc(STDIN_MAX + 1))) return cli_fail(1, "out of memory for the message");
        if (read_stdin(*buf, STDIN_MAX + 1, len) < 0)
            return cli_fail(1, "cannot read standard input: %s", strerror(errno));
        /* A final newline from `echo` or a file is not part of the message. */
        if (*len > 0 && *len <= STDIN_MAX && (*buf)[*len - 1] == '\n') (*len)--;
        *text = *buf;
    }
    /* Standard input is read to one byte past the longest message and its newline, so how far
     * past the limit it goes is not known; an argument's length is. */
    if (*buf && *len > STDIN_MAX)
        return cli_fail(1, "message is over the limit of %d bytes; nothing sent", RUMOR_TEXT_MAX);
    if (*len > RUMOR_TEXT_MAX)
        return cli_fail(1, "message is %zu bytes, over the limit of %d bytes; nothing sent", *len,
                        RUMOR_TEXT_MAX);
    if (*len == 0) return cli_fail(1, "empty message; nothing sent");
    return 0;
}

/* The one the direct message goes to: a known key other than ours. */
static int dm_peer(const cli_t *c, rumor_node_t *n, const char *peer, uint8_t pk[RUMOR_ID_BYTES])
{
    int rc = resolve_peer(c, n, peer, pk);
    if (rc) return rc;
    if (memcmp(pk, rumor_node_id(n), RUMOR_ID_BYTES) == 0)
        return cli_fail(1, "that is your own key; a direct message goes to someone else");
    if (!rumor_node_peer_known(n, pk))
        return cli_fail(1,
                        "no one known has the key %s; meet them in a room or name them first "
                        "with 'rumor contact add KEY NAME'",
                        peer);
    return 0;
}

/* `send ROOM TEXT|-` and `dm PEER TEXT|-`: one path, two ways to name where the text goes. */
static int post_text(const cli_t *c, int argc, char **argv, bool direct)
{
    const char *usage = direct ? "rumor " USAGE_DM : "rumor " USAGE_SEND, *pos[2];
    const char *text;
    int np, rc = parse(argc, argv, NULL, pos, 2, 2, &np, usage);
    if (rc) return rc;
    char *buf;
    size_t len;
    rumor_node_t *n = NULL;
    uint8_t to[RUMOR_ID_BYTES], id[RUMOR_ID_BYTES];
    if ((rc = message_text(pos[1], &buf, &text, &len)) || (rc = open_node(c, true, &n))) goto out;
    if (direct) {
        if ((rc = dm_peer(c, n, pos[0], to))) goto out;
        rc = rumor_node_dm_send(n, to, text, len, id);
    } else {
        if ((rc = resolve_room(c, n, pos[0], to))) goto out;
        rc = rumor_node_send(n, to, text, len, id);
    }
    if (rc < 0) {
        rc = send_error(c, n, pos[0], rc);
    } else {
        print_id_line(id);
        notify_node(c);
    }
out:
    rumor_node_close(&n);
    free(buf);
    return rc;
}

static int cmd_send(const cli_t *c, int argc, char **argv)
{
    return post_text(c, argc, argv, false);
}

static int cmd_dm(const cli_t *c, int argc, char **argv)
{
    return post_text(c, argc, argv, true);
}

/* Writes the author's timestamp as local time, or as milliseconds when it has no calendar date. */
static void print_when(uint64_t ts)
{
    time_t secs = (time_t)(ts / 1000);
    struct tm tm;
    char when[64];
    if ((uint64_t)secs == ts / 1000 && localtime_r(&secs, &tm) &&
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) > 0)
        printf("[%s] ", when);
    else
        printf("[%llu ms] ", (unsigned long long)ts);
}

bool log_out_was_shown(const log_out_t *o, const uint8_t id[RUMOR_ID_BYTES])
{
    size_t n = o->n_recent < LOG_RECENT ? o->n_recent : LOG_RECENT;
    for (size_t i = 0; i < n; i++)
        if (memcmp(o->recent[i], id, RUMOR_ID_BYTES) == 0) return true;
    return false;
}

int print_message(void *ctx, const rumor_node_message_t *m)
{
    log_out_t *o = ctx;
    memcpy(o->recent[o->n_recent++ % LOG_RECENT], m->id, RUMOR_ID_BYTES);
    if (o->json) {
        fputs("{\"id\":", stdout);
        json_id(stdout, m->id);
        fputs(",\"room\":", stdout);
        json_id(stdout, m->room);
        fputs(",\"path\":", stdout);
        json_str(stdout, o->path);
        fputs(",\"author\":", stdout);
        json_id(stdout, m->author);
        json_person(stdout, m->nick, m->name, m->verified);
        printf(",\"ts\":%llu,", (unsigned long long)m->ts);
        if (m->ts_claimed) printf("\"ts_claimed\":%llu,", (unsigned long long)m->ts_claimed);
        printf("\"lamport\":%llu,\"text\":", (unsigned long long)m->lamport);
        if (m->text)
            json_str_n(stdout, m->text, m->text_len);
        else
            fputs("null", stdout);
        fputs("}\n", stdout);
        return 0;
    }
    print_when(m->ts);
    if (m->ts_claimed) fputs("(clock ahead) ", stdout);
    /* A colour per author, from its key: the same person looks the same everywhere. */
    if (o->color) printf("\033[1;%dm", 31 + m->author[0] % 6);
    term_text(stdout, m->name, strlen(m->name));
    if (o->color) fputs("\033[0m", stdout);
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
    const char *usage = "rumor " USAGE_LOG, *pos[1], *limit_s = NULL;
    bool json = false, follow = false;
    opt_t opts[] = {{"--json", false, NULL, &json},
                    {"--limit", true, &limit_s, NULL},
                    {"--follow", false, NULL, &follow},
                    {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 1, 1, &np, usage);
    if (rc) return rc;
    unsigned long long limit = 0;
    if (limit_s && !parse_count(limit_s, LIMIT_MAX, &limit))
        return cli_fail(EXIT_USAGE, "--limit takes a number from 1 to %llu; usage: %s", LIMIT_MAX,
                        usage);
    rumor_node_t *n;
    if ((rc = open_node(c, true, &n))) return rc;
    uint8_t room[RUMOR_ID_BYTES];
    rumor_node_room_t info;
    if ((rc = resolve_room(c, n, pos[0], room))) goto out;
    if ((rc = rumor_node_room_get(n, room, &info)) < 0) {
        rc = room_error(c, n, pos[0], rc);
        goto out;
    }
    log_out_t o = {.json = json, .path = info.path};
    /* Following starts before the history is read, so nothing falls between the two. */
    int fd = -1;
    if (follow && (fd = follow_open(c, room)) < 0) {
        rc = fd == -2 ? 1
                      : cli_fail(1, "--follow needs the running node; start it with 'rumor node'");
        goto out;
    }
    /* A tampered event is named by rumor_node_tampered_event(), so no `bad` buffer. */
    rc = rumor_node_log(n, room, limit, print_message, &o);
    fflush(stdout);
    if (rc == RUMOR_ERR_NO_KEY)
        rc = cli_fail(
            1, "cannot read '%s': this node holds none of its keys (only its members can)", pos[0]);
    else if (rc < 0)
        rc = node_error(c, n, rc, "read the log");
    if (rc == 0 && follow) rc = follow_room(c, n, room, &o, fd);
    if (fd >= 0) close(fd);
out:
    rumor_node_close(&n);
    return rc;
}

/* ---- status, peers -------------------------------------------------------- */

static int cmd_status(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_STATUS, *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    if ((rc = status_running(c, json)) != RUMOR_ERR_NOT_FOUND) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, false, &n))) return rc;
    rumor_node_counts_t k;
    rc = rumor_node_counts(n, &k);
    if (rc < 0) {
        rc = node_error(c, n, rc, "read the store");
        rumor_node_close(&n);
        return rc;
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

/* ---- help and dispatch ------------------------------------------------------ */

typedef struct {
    const char *name;
    command_fn fn;
    const char *usage; /* without "rumor "; one line per form; NULL: its sub-commands' (room) */
    const char *summary;
} command_t;

static int cmd_help(const cli_t *c, int argc, char **argv);

static const command_t commands[] = {
    {"init", cmd_init, USAGE_INIT,
     "create the home, a new identity (sealed under a passphrase) and the store"},
    {"id", cmd_id, USAGE_ID "\n" USAGE_ID_EXPORT "\n" USAGE_ID_IMPORT,
     "show this identity; back it up encrypted (with its rooms' keys and contacts), or restore "
     "it into a new home"},
    {"nick", cmd_nick, USAGE_NICK, "set your display name (a signed, public profile event)"},
    {"room", cmd_room, NULL,
     "create rooms and sub-rooms, show the tree, edit it (admins), invite and join; remove "
     "members or leave (the key rotates), change roles (owner > admin > member)"},
    {"send", cmd_send, USAGE_SEND,
     "post a message ('-' reads standard input); prints its id once stored"},
    {"dm", cmd_dm, USAGE_DM,
     "a direct message to one person, end-to-end encrypted to the two of you; read it with "
     "'log @PEER' or 'chat @PEER'"},
    {"log", cmd_log, USAGE_LOG,
     "history of a room in causal order; --follow then shows new messages (running node)"},
    {"status", cmd_status, USAGE_STATUS, "whether the node runs, and what the store holds"},
    {"node", cmd_node, USAGE_NODE,
     "run the node in the foreground until SIGINT/SIGTERM (logs on stderr); while it runs, "
     "other commands need no passphrase"},
    {"peers", cmd_peers, USAGE_PEERS, "the running node's connected peers"},
    {"peer", cmd_peer, USAGE_PEER_ADD,
     "remember a peer for every start; a running node dials it at once"},
    {"passwd", cmd_passwd, USAGE_PASSWD,
     "seal the identity under a new passphrase (the key file is replaced atomically)"},
    {"contact", cmd_contact, USAGE_CONTACT_ADD "\n" USAGE_CONTACT_LIST "\n" USAGE_CONTACT_REMOVE,
     "your own names for people, shown instead of their self-chosen nicks (alice~84475a13)"},
    {"chat", cmd_chat, USAGE_CHAT, "interactive: history, live messages, typed lines are sent"},
    {"stats", cmd_stats, USAGE_STATS, "the running node's protocol counters"},
    {"help", cmd_help, USAGE_HELP, "this help, or one command's"},
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
          "The passphrase comes from --passphrase-file F (its first line), else RUMOR_PASSPHRASE,\n"
          "else a no-echo prompt on the terminal.\n\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRooms are named by path (lan/general) or by an id prefix of 8+ hex characters.\n"
          "PEER is a public key, a prefix of 8+ hex characters of a known one, or a contact name.\n"
          "Nicks are chosen by their owners: they are shown with a key prefix (alice~84475a13);\n"
          "contacts are shown by the names you gave them.\n"
          "Read commands take --json. Exit status: 0 ok, 2 usage error, 1 any other failure.\n"
          "'rumor COMMAND --help' shows one command.\n",
          f);
}

/* The i-th usage line of a command (NULL past the last), and its length. */
static const char *usage_line(const command_t *cmd, size_t i, int *len)
{
    if (!cmd->usage) { /* room: the forms are its sub-commands' */
        if (i >= N_ROOM_SUBS) return NULL;
        *len = (int)strlen(room_subs[i].usage);
        return room_subs[i].usage;
    }
    const char *s = cmd->usage;
    for (; i > 0 && s; i--) s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL;
    if (!s) return NULL;
    *len = (int)strcspn(s, "\n");
    return s;
}

/* True when usage line `s` is the form of sub-command `sub` ("room leave ROOM" for "leave"). */
static bool usage_is_of(const char *s, int len, const command_t *cmd, const char *sub)
{
    size_t cl = strlen(cmd->name), sl = strlen(sub), n = (size_t)len;
    return n >= cl + 1 + sl && strncmp(s, cmd->name, cl) == 0 && s[cl] == ' ' &&
           strncmp(s + cl + 1, sub, sl) == 0 && (n == cl + 1 + sl || s[cl + 1 + sl] == ' ');
}

/* `rumor COMMAND --help`, or `rumor COMMAND SUB --help` (`sub` not NULL): only SUB's forms when it
 * names one, else every form of the command. */
static void usage_one(FILE *f, const command_t *cmd, const char *sub)
{
    const char *s;
    int len;
    bool only = false;
    for (size_t i = 0; sub && (s = usage_line(cmd, i, &len)); i++)
        only = only || usage_is_of(s, len, cmd, sub);
    const char *lead = "usage:";
    for (size_t i = 0; (s = usage_line(cmd, i, &len)); i++) {
        if (only && !usage_is_of(s, len, cmd, sub)) continue;
        fprintf(f, "%s rumor %.*s\n", lead, len, s);
        lead = "      ";
    }
    fprintf(f, "\n%s\n", cmd->summary);
}

static int cmd_help(const cli_t *c, int argc, char **argv)
{
    (void)c;
    if (argc > 0) {
        const command_t *cmd = find_command(argv[0]);
        if (!cmd) return cli_fail(EXIT_USAGE, "unknown command '%s'; see 'rumor help'", argv[0]);
        usage_one(stdout, cmd, argc > 1 ? argv[1] : NULL);
        return 0;
    }
    usage_all(stdout);
    return 0;
}

/*
 * Sets c->home: `flag` (--home), else $RUMOR_HOME, else ~/.rumor (an empty
 * RUMOR_HOME counts as unset; an empty --home is a usage error). Returns 0, or
 * the exit status once the message is printed. `buf` holds a built path.
 */
static int resolve_home(cli_t *c, const char *flag, char *buf, size_t cap)
{
    if (flag && !*flag)
        return cli_fail(EXIT_USAGE,
                        "--home needs a directory, not an empty string; see 'rumor help'");
    c->home = flag ? flag : getenv("RUMOR_HOME");
    if (!c->home || !*c->home) {
        const char *h = getenv("HOME");
        if (!h || !*h) return cli_fail(1, "no home: pass --home DIR or set RUMOR_HOME or HOME");
        if (snprintf(buf, cap, "%s/.rumor", h) >= (int)cap) return cli_fail(1, "HOME is too long");
        c->home = buf;
    }
    if (strlen(c->home) > PATH_MAX - 64) return cli_fail(1, "home path is too long");
    return 0;
}

int main(int argc, char **argv)
{
    cli_t c = {0};
    static char home_buf[PATH_MAX];
    const char *home_flag = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 || strcmp(argv[i], "--passphrase-file") == 0) {
            if (i + 1 >= argc)
                return cli_fail(EXIT_USAGE, "%s needs a value; see 'rumor help'", argv[i]);
            if (argv[i][2] == 'h')
                home_flag = argv[++i];
            else
                c.passphrase_file = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_all(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            puts("rumor 0.1.0");
            return 0;
        } else if (argv[i][0] == '-') {
            return cli_fail(EXIT_USAGE, "unknown option %s; see 'rumor help'", argv[i]);
        } else {
            break;
        }
    }
    if (i >= argc) return cli_fail(EXIT_USAGE, "no command given; see 'rumor help'");
    const command_t *cmd = find_command(argv[i]);
    if (!cmd) return cli_fail(EXIT_USAGE, "unknown command '%s'; see 'rumor help'", argv[i]);
    /*
     * `rumor COMMAND --help`, or `rumor COMMAND SUB --help` for the commands with sub-commands:
     * only there. Further on, "-h" and "--help" are arguments (a message, a name, a topic):
     * `rumor send ROOM -h` used to print the usage and exit 0 having sent nothing.
     */
    int k = i + 1;
    if (k < argc && argv[k][0] != '-' &&
        (cmd->fn == cmd_room || cmd->fn == cmd_id || cmd->fn == cmd_contact || cmd->fn == cmd_peer))
        k++;
    if (k < argc && (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)) {
        usage_one(stdout, cmd, k > i + 1 ? argv[i + 1] : NULL);
        return 0;
    }
    /* Help needs no home, so it works where none can be found. */
    int rc = cmd->fn == cmd_help ? 0 : resolve_home(&c, home_flag, home_buf, sizeof home_buf);
    if (rc) return rc;
    rc = cmd->fn(&c, argc - i - 1, argv + i + 1);
    /* Output that did not reach its reader is a failure (a full disk, a closed pipe). */
    int flushed = fflush(stdout);
    if ((flushed != 0 || ferror(stdout)) && rc == 0)
        return cli_fail(1, "cannot write output: %s",
                        flushed != 0 ? strerror(errno) : "write error");
    return rc;
}
