/* cli.h - private to cli/: JSON output and passphrase sources. */
#ifndef RUMOR_CLI_H
#define RUMOR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rumor_node.h"

/* Writes `len` bytes as a JSON string (quotes included), escaping as RFC 8259 requires. */
void json_str_n(FILE *f, const char *s, size_t len);
void json_str(FILE *f, const char *s);
/* Writes an id as a JSON string of 64 hex characters. */
void json_id(FILE *f, const uint8_t id[32]);
/* Writes text for a terminal: control characters other than newline and tab become '?'. */
void term_text(FILE *f, const char *s, size_t len);

/* A passphrase read from the environment, a file or the terminal (sodium memory). */
typedef struct {
    char *buf;               /* sodium_malloc'd, NUL-terminated */
    rumor_passphrase_t pass; /* points into buf */
} cli_pass_t;

/*
 * Gets a passphrase from RUMOR_PASSPHRASE, else `file` (first line), else a
 * no-echo prompt on the terminal (twice when `confirm`). Returns RUMOR_OK,
 * RUMOR_ERR_NOT_FOUND when no source is available, or another error with a
 * message already printed.
 */
int cli_pass_get(cli_pass_t *p, const char *file, const char *prompt, bool confirm);
void cli_pass_free(cli_pass_t *p);

#endif
