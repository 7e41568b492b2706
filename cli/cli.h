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

#endif
