/* cli.h - private to cli/: error lines, JSON output and passphrase sources. */
#ifndef RUMOR_CLI_H
#define RUMOR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rumor_node.h"

#if defined(__GNUC__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

/*
 * Prints "rumor: MESSAGE" as exactly one line on stderr and returns `code`.
 * Control characters in the message (a room name, a file name typed by the
 * user) become '?', so hostile input can neither add lines nor drive the
 * terminal.
 */
int cli_fail(int code, const char *fmt, ...) CLI_PRINTF(2, 3);

/* Writes `len` bytes as a JSON string (quotes included), escaping as RFC 8259 requires. */
void json_str_n(FILE *f, const char *s, size_t len);
void json_str(FILE *f, const char *s);
/* Writes an id as a JSON string of 64 hex characters. */
void json_id(FILE *f, const uint8_t id[32]);
/* Writes text for a terminal: control characters other than newline and tab become '?'. */
void term_text(FILE *f, const char *s, size_t len);

/* A passphrase read from a file, the environment or the terminal (locked memory). */
typedef struct {
    char *buf;               /* rumor_secret_alloc'd, NUL-terminated; NULL when none */
    rumor_passphrase_t pass; /* points into buf */
    bool typed;              /* typed at the terminal prompt (not from a file or the environment) */
} cli_pass_t;

/*
 * Gets a passphrase from `file` (its first line) when given, else from
 * RUMOR_PASSPHRASE (then wiped and removed from the environment), else from a
 * no-echo prompt on the terminal (twice when `confirm`). Returns RUMOR_OK,
 * RUMOR_ERR_NOT_FOUND (nothing printed) when there is no source at all, or
 * another error after printing its one `rumor: ` line. Free with cli_pass_free.
 */
int cli_pass_get(cli_pass_t *p, const char *file, const char *prompt, bool confirm);
/* Wipes and frees the passphrase; accepts one that was never filled. */
void cli_pass_free(cli_pass_t *p);

/* ---- shared by the command files (main.c, mesh.c) ---------------------------- */

#define EXIT_USAGE 2

/* What every command gets: the home and the global options. */
typedef struct {
    const char *home;            /* resolved home directory */
    const char *passphrase_file; /* --passphrase-file, or NULL */
} cli_t;

/* Unlock once (PROTOCOL.md 11, agent.c): when the home's node runs, gives `n` a delegated identity
 * whose secret operations the node does; RUMOR_ERR_NOT_FOUND when no node of this identity runs. */
int agent_unlock(const cli_t *c, rumor_node_t *n);

/* One option a command accepts. */
typedef struct {
    const char *name;   /* "--json" */
    bool has_arg;       /* takes a value */
    const char **value; /* where the value goes (has_arg) */
    bool *flag;         /* set when present (no arg) */
} opt_t;

/*
 * Every command's usage, in one place: `rumor help`, `rumor COMMAND --help` and
 * the command's own usage errors all print these, so they cannot drift apart.
 * Each names every option its command takes (parse() checks that in debug
 * builds). `rumor node` keeps its own, beside its option loop in mesh.c.
 */
#define USAGE_INIT           "init [--nick NAME] [--no-passphrase] [--passphrase-file F]"
#define USAGE_ID             "id [--json]"
#define USAGE_ID_EXPORT      "id export FILE [--passphrase-file F]"
#define USAGE_ID_IMPORT      "id import FILE [--passphrase-file F]"
#define USAGE_NICK           "nick NAME"
#define USAGE_ROOM_CREATE    "room create PATH [--private] [--topic TEXT]"
#define USAGE_ROOM_LIST      "room list [--json]"
#define USAGE_ROOM_INFO      "room info ROOM [--json]"
#define USAGE_ROOM_MOVE      "room move ROOM PARENT|/"
#define USAGE_ROOM_RENAME    "room rename ROOM NAME"
#define USAGE_ROOM_TOPIC     "room topic ROOM TEXT"
#define USAGE_ROOM_INVITE    "room invite ROOM [--member PEER] [--role member|admin] [--lan]"
#define USAGE_ROOM_JOIN      "room join CODE|LANCODE|ROOM"
#define USAGE_ROOM_KICK      "room kick ROOM PEER"
#define USAGE_ROOM_LEAVE     "room leave ROOM"
#define USAGE_ROOM_ROLE      "room role ROOM PEER admin|member"
#define USAGE_SEND           "send ROOM TEXT|-"
#define USAGE_DM             "dm PEER TEXT|-"
#define USAGE_LOG            "log ROOM|@PEER [--limit N] [--follow] [--json]"
#define USAGE_STATUS         "status [--json]"
#define USAGE_PEERS          "peers [--json]"
#define USAGE_PEER_ADD       "peer add PUBKEY@HOST:PORT"
#define USAGE_CONTACT_ADD    "contact add PUBKEY NAME"
#define USAGE_CONTACT_LIST   "contact list [--json]"
#define USAGE_CONTACT_REMOVE "contact remove NAME"
#define USAGE_CHAT           "chat ROOM|@PEER"
#define USAGE_STATS          "stats [--json]"
#define USAGE_HELP           "help [COMMAND]"
#define USAGE_NODE                                                                                 \
    "node [--listen HOST:PORT] [--peer PUBKEY@HOST:PORT]... [--no-lan] [--config FILE] "           \
    "[--log-format text|json]"
#define USAGE_PASSWD "passwd [--new-passphrase-file F | --no-passphrase]"

/*
 * Parses argv into options and positionals. `usage` is the command's line
 * ("rumor " USAGE_...), printed with every usage error. Returns 0, or
 * EXIT_USAGE with a message.
 */
int parse(int argc, char **argv, const opt_t *opts, const char **pos, int min_pos, int max_pos,
          int *n_pos, const char *usage);
/* Parses a count: plain decimal digits, from 1 to `max`. */
bool parse_count(const char *s, unsigned long long max, unsigned long long *out);
void print_id_line(const uint8_t id[RUMOR_ID_BYTES]);
/* One `rumor:` line for a node error; `doing` completes "cannot ...". Returns 1. */
int node_error(const cli_t *c, const rumor_node_t *n, int rc, const char *doing);
int room_error(const cli_t *c, const rumor_node_t *n, const char *name, int rc);
int send_error(const cli_t *c, const rumor_node_t *n, const char *room, int rc);
/* Opens the home (and unlocks the identity with `unlock`); returns 0 or the exit status. */
int open_node(const cli_t *c, bool unlock, rumor_node_t **out);
int unlock_identity(const cli_t *c, rumor_node_t *n, cli_pass_t *keep);
int resolve_room(const cli_t *c, rumor_node_t *n, const char *name, uint8_t id[RUMOR_ID_BYTES]);

/* people.c: PEER arguments (a key, a prefix of 8+ hex characters, or a contact name). */
int peer_error(const cli_t *c, const rumor_node_t *n, const char *peer, int rc);
/* Resolves PEER with rumor_node_resolve_peer; returns 0 or 1 once the error is printed. */
int resolve_peer(const cli_t *c, rumor_node_t *n, const char *peer, uint8_t pk[RUMOR_ID_BYTES]);
/* Writes a person's JSON fields: ,"nick":...,"name":...,"verified":... (rumor_node_person_t). */
void json_person(FILE *f, const char *nick, const char *name, bool verified);
int cmd_contact(const cli_t *c, int argc, char **argv);

/* How `log` prints messages, and the last ones it printed (so --follow shows none twice). */
#define LOG_RECENT 256
typedef struct {
    bool json;
    bool color; /* authors' names in a colour of their own (chat on a terminal) */
    const char *path;
    uint8_t recent[LOG_RECENT][RUMOR_ID_BYTES];
    size_t n_recent; /* messages printed so far (the ring holds the last LOG_RECENT) */
} log_out_t;
int print_message(void *ctx, const rumor_node_message_t *m);
bool log_out_was_shown(const log_out_t *o, const uint8_t id[RUMOR_ID_BYTES]);

/* mesh.c: commands that talk to the running node. */
int cmd_node(const cli_t *c, int argc, char **argv);
int cmd_peers(const cli_t *c, int argc, char **argv);
int cmd_peer(const cli_t *c, int argc, char **argv);
int cmd_passwd(const cli_t *c, int argc, char **argv);
int cmd_stats(const cli_t *c, int argc, char **argv);
int cmd_chat(const cli_t *c, int argc, char **argv);
int cmd_room_invite(const cli_t *c, int argc, char **argv);
int cmd_room_kick(const cli_t *c, int argc, char **argv);
int cmd_room_leave(const cli_t *c, int argc, char **argv);
int cmd_room_role(const cli_t *c, int argc, char **argv);
int cmd_room_join(const cli_t *c, int argc, char **argv);
/* Prints the running node's status (JSON or text); RUMOR_ERR_NOT_FOUND when none runs. */
int status_running(const cli_t *c, bool json);
/* Prints the running node's address: a JSON array item, or an "address:" line (nothing when it
 * is not running). */
void print_addresses(const cli_t *c, bool json);
/* Follows a room after its history was printed (log --follow). */
int follow_room(const cli_t *c, rumor_node_t *n, const uint8_t room[RUMOR_ID_BYTES], log_out_t *o,
                int fd);
/* Opens a follow stream on the running node before history is printed; -1 when none runs. */
int follow_open(const cli_t *c, const uint8_t *room);
/* Reads one notification of a `follow` connection: the event id and its room. 0, or an exit
 * status once printed. */
int next_notification(int fd, uint8_t **buf, size_t *cap, uint8_t id[RUMOR_ID_BYTES],
                      uint8_t room[RUMOR_ID_BYTES]);
/* Tells a running node that new own events wait in the outbox (best effort). */
void notify_node(const cli_t *c);

#endif
