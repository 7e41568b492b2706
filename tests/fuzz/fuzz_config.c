/*
 * fuzz_config.c - libFuzzer target for the configuration parser
 * (`rumor node --config FILE`). The input is the file's text.
 *
 * The parser runs over the defaults. A refused file must say why, naming a
 * line, and change nothing; an accepted one must leave a configuration that
 * keeps every rule: d_lo <= d <= d_hi, d_lazy <= 64, a known log level, and
 * terminated strings. A breach aborts so libFuzzer keeps the input.
 */
#include "rumor_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The libFuzzer interface. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The replay driver's interface (replay_main.c): hands over each built-in seed. */
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

static void fuzz_fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_config: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

static void check_config(const rumor_node_config_t *c)
{
    if (!(c->d_lo <= c->d && c->d <= c->d_hi) || c->d_lo == 0 || c->d_lazy > 64)
        fuzz_fail("the mesh degrees break their rules", RUMOR_OK);
    if (c->history_gossip > c->history_length || c->peers_target > c->peers_max)
        fuzz_fail("the history or peer limits break their rules", RUMOR_OK);
    if (c->heartbeat_ms < 10 || c->beacon_port == 0 || c->beacon_port > 65535 ||
        c->peer_queue == 0 || c->seen_max < 16 || c->batch_max == 0)
        fuzz_fail("a value is out of its range", RUMOR_OK);
    if (strcmp(c->log_level, "error") != 0 && strcmp(c->log_level, "warn") != 0 &&
        strcmp(c->log_level, "info") != 0 && strcmp(c->log_level, "debug") != 0)
        fuzz_fail("an unknown log level", RUMOR_OK);
    if (!memchr(c->trace_file, '\0', sizeof c->trace_file))
        fuzz_fail("trace_file is not terminated", RUMOR_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rumor_node_config_t cfg, before;
    char why[256];

    rumor_node_config_defaults(&cfg);
    before = cfg;
    memset(why, 'x', sizeof why);
    int rc = rumor_node_config_parse((const char *)data, size, &cfg, why, sizeof why);
    if (rc != RUMOR_OK) {
        if (rc != RUMOR_ERR_INVALID) fuzz_fail("unexpected parse result", rc);
        if (!memchr(why, '\0', sizeof why) || strncmp(why, "line ", 5) != 0)
            fuzz_fail("a refusal does not name its line", rc);
        if (memcmp(&cfg, &before, sizeof cfg) != 0) fuzz_fail("a refused file changed", rc);
        /* Without a place for the reason it must fail the same way. */
        if (rumor_node_config_parse((const char *)data, size, &cfg, NULL, 0) != rc)
            fuzz_fail("the result depends on `why`", rc);
        return 0;
    }
    check_config(&cfg);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void emit_text(fuzz_seed_fn emit, void *ctx, const char *name, const char *text)
{
    emit(ctx, name, (const uint8_t *)text, strlen(text));
}

/* A file setting every key, layouts that parse, and a few refused ones. */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    emit_text(emit, ctx, "seed-every-key",
              "# every key\n"
              "d = 8\nd_lo = 5\nd_hi = 16\nd_lazy = 6\nheartbeat_ms = 700\n"
              "history_length = 5\nhistory_gossip = 3\nseen_max = 65536\nseen_ttl_ms = 120000\n"
              "peers_target = 8\npeers_max = 32\npassive_max = 256\npeer_timeout_ms = 10000\n"
              "dial_timeout_ms = 5000\npeer_queue = 1024\npeer_rate = 2000\nban_ms = 60000\n"
              "beacon_ms = 1000\nbeacon_port = 7470\nbatch_max = 256\npeer_exchange = false\n"
              "log_level = debug\ntrace_file = /tmp/rumor-trace.jsonl\n");
    emit_text(emit, ctx, "seed-layout",
              "\r\n  # comment\r\n\tlog_level=warn\t\r\nd=6\nd = 7\npeer_exchange = true");
    emit_text(emit, ctx, "seed-empty", "");
    emit_text(emit, ctx, "seed-watermarks", "d = 3\n");
    emit_text(emit, ctx, "seed-unknown-key", "mesh = 6\n");
    emit_text(emit, ctx, "seed-bad-number", "heartbeat_ms = 1e3\n");
    static const char nul[] = "d = 6\n\0\n";
    emit(ctx, "seed-nul", (const uint8_t *)nul, sizeof nul - 1);
}
