/*
 * config.c - the node's tunables (`rumor node --config FILE`): the defaults
 * of PROTOCOL.md section 9 and a parser for `key = value` files.
 *
 * The file format: one setting per line, `key = value`, with the key one of
 * rumor_node_config_t's field names. Blank lines and lines whose first
 * non-blank character is '#' are ignored; a '#' after a value is part of the
 * value (a path may hold one). Whitespace around keys and values is trimmed.
 * A key given twice takes its last value. Numbers are plain decimal.
 */
#include "rumor_node.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* What a value is and how it is checked. */
typedef enum { CFG_U32, CFG_BOOL, CFG_LOG_LEVEL, CFG_LOG_FORMAT, CFG_PATH, CFG_CMD } cfg_kind_t;

typedef struct {
    const char *name;  /* the field's name, which is the key */
    cfg_kind_t kind;   /* how the value parses */
    size_t offset;     /* of the field in rumor_node_config_t */
    uint32_t min, max; /* CFG_U32: the accepted range */
} cfg_key_t;

#define U32_KEY(field, lo, hi)                                                                     \
    {                                                                                              \
#field, CFG_U32, offsetof(rumor_node_config_t, field), lo, hi                              \
    }

/*
 * The ranges keep a node sane, not tuned: no timer fires faster than 10 ms,
 * no timeout exceeds a day, and nothing asks for more memory than a desktop
 * has to spare.
 */
static const cfg_key_t cfg_keys[] = {
    U32_KEY(d, 1, 64),
    U32_KEY(d_lo, 1, 64),
    U32_KEY(d_hi, 1, 64),
    U32_KEY(d_lazy, 0, 64),
    U32_KEY(heartbeat_ms, 10, 60000),
    U32_KEY(history_length, 1, 1000),
    U32_KEY(history_gossip, 1, 1000),
    U32_KEY(seen_max, 16, 10000000),
    U32_KEY(seen_ttl_ms, 1000, 86400000),
    U32_KEY(peers_target, 0, 1024),
    U32_KEY(peers_max, 1, 1024),
    U32_KEY(passive_max, 1, 65536),
    U32_KEY(peer_timeout_ms, 100, 86400000),
    U32_KEY(dial_timeout_ms, 100, 600000),
    U32_KEY(peer_queue, 1, 1000000),
    U32_KEY(peer_rate, 1, 1000000),
    U32_KEY(ban_ms, 0, 86400000),
    U32_KEY(hello_timeout_ms, 100, 600000),
    U32_KEY(inbound_max, 1, 65536),
    U32_KEY(handshakes_max, 4, 65536),
    U32_KEY(handshakes_per_addr, 1, 65536),
    U32_KEY(handshakes_per_key, 1, 64),
    U32_KEY(cands_per_source, 1, 65536),
    U32_KEY(hearsay_dials_per_min, 1, 60000),
    U32_KEY(author_events_per_s, 1, 1000000),
    U32_KEY(author_bytes_per_s, 16384, 2000000000),
    U32_KEY(peer_topic_bytes_per_s, 65536, 2000000000),
    U32_KEY(peer_bytes_per_s, 65536, 2000000000),
    U32_KEY(beacon_ms, 10, 60000),
    U32_KEY(beacon_port, 1, 65535),
    U32_KEY(batch_max, 1, 65536),
    U32_KEY(recon_interval_ms, 100, 86400000),
    U32_KEY(recon_rounds_max, 2, 255),
    U32_KEY(recon_window, 1, 64),
    U32_KEY(recon_jobs_max, 1, 4096),
    U32_KEY(pending_max, 4, 65536),
    U32_KEY(pending_ttl_ms, 100, 86400000),
    {"peer_exchange", CFG_BOOL, offsetof(rumor_node_config_t, peer_exchange), 0, 0},
    {"log_level", CFG_LOG_LEVEL, offsetof(rumor_node_config_t, log_level), 0, 0},
    {"log_format", CFG_LOG_FORMAT, offsetof(rumor_node_config_t, log_format), 0, 0},
    {"trace_file", CFG_PATH, offsetof(rumor_node_config_t, trace_file), 0, 0},
    {"notify_cmd", CFG_CMD, offsetof(rumor_node_config_t, notify_cmd), 0, 0},
};

#define CFG_KEY_COUNT (sizeof cfg_keys / sizeof cfg_keys[0])

static const char *const log_levels[] = {"error", "warn", "info", "debug"};
static const char *const log_formats[] = {"text", "json"};

void rumor_node_config_defaults(rumor_node_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->d = 6;
    cfg->d_lo = 4;
    cfg->d_hi = 12;
    cfg->d_lazy = 6;
    cfg->heartbeat_ms = 1000;
    cfg->history_length = 5;
    cfg->history_gossip = 3;
    cfg->seen_max = 65536;
    cfg->seen_ttl_ms = 120000;
    cfg->peers_target = 8;
    cfg->peers_max = 32;
    cfg->passive_max = 256;
    cfg->peer_timeout_ms = 10000;
    cfg->dial_timeout_ms = 5000;
    cfg->peer_queue = 1024;
    cfg->peer_rate = 2000;
    cfg->ban_ms = 60000;
    cfg->hello_timeout_ms = 5000;
    cfg->inbound_max = 256;
    cfg->handshakes_max = 64;
    cfg->handshakes_per_addr = 16;
    cfg->handshakes_per_key = 2;
    cfg->cands_per_source = 16;
    cfg->hearsay_dials_per_min = 20;
    cfg->author_events_per_s = 50;
    cfg->author_bytes_per_s = 256 << 10;
    cfg->peer_topic_bytes_per_s = 4 << 20;
    cfg->peer_bytes_per_s = 16 << 20;
    cfg->beacon_ms = 1000;
    cfg->beacon_port = 7470;
    cfg->batch_max = 256;
    cfg->recon_interval_ms = 30000;
    cfg->recon_rounds_max = 16;
    cfg->recon_window = 8;
    cfg->recon_jobs_max = 256;
    cfg->pending_max = 1024;
    cfg->pending_ttl_ms = 30000;
    cfg->peer_exchange = true;
    strcpy(cfg->log_level, "info");
    strcpy(cfg->log_format, "text");
    cfg->trace_file[0] = '\0';
}

/* A slice of the text: not NUL-terminated. */
typedef struct {
    const char *p;
    size_t len;
} span_t;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static span_t trim(span_t s)
{
    while (s.len && is_blank(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len && is_blank(s.p[s.len - 1])) s.len--;
    return s;
}

static bool span_is(span_t s, const char *word)
{
    return strlen(word) == s.len && memcmp(s.p, word, s.len) == 0;
}

/* Copies `v` into `out` (room for the longest of `choices`) when it is one of them. */
static bool take_choice(span_t v, const char *const *choices, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!span_is(v, choices[i])) continue;
        memcpy(out, v.p, v.len);
        out[v.len] = '\0';
        return true;
    }
    return false;
}

/* Records "line N: reason" in `why` (which may be NULL) and returns RUMOR_ERR_INVALID. */
__attribute__((format(printf, 4, 5))) static int fail(char *why, size_t why_cap, size_t line,
                                                      const char *fmt, ...)
{
    if (why && why_cap) {
        char reason[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        snprintf(why, why_cap, "line %zu: %s", line, reason);
    }
    return RUMOR_ERR_INVALID;
}

/* Parses a plain decimal number (no sign, no spaces) within [min, max]. */
static bool parse_u32(span_t v, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t n = 0;
    if (v.len == 0) return false;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return false;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
        if (n > max) return false;
    }
    if (n < min) return false;
    *out = (uint32_t)n;
    return true;
}

/* Applies one `key = value` setting to `cfg`; the key is known. */
static int apply(const cfg_key_t *k, span_t v, rumor_node_config_t *cfg, char *why, size_t why_cap,
                 size_t line)
{
    uint8_t *field = (uint8_t *)cfg + k->offset;
    switch (k->kind) {
    case CFG_U32: {
        uint32_t n;
        if (!parse_u32(v, k->min, k->max, &n))
            return fail(why, why_cap, line,
                        "%s: expected a decimal number from %" PRIu32 " to %" PRIu32, k->name,
                        k->min, k->max);
        memcpy(field, &n, sizeof n);
        return RUMOR_OK;
    }
    case CFG_BOOL: {
        bool b;
        if (span_is(v, "true"))
            b = true;
        else if (span_is(v, "false"))
            b = false;
        else
            return fail(why, why_cap, line, "%s: expected true or false", k->name);
        memcpy(field, &b, sizeof b);
        return RUMOR_OK;
    }
    case CFG_LOG_LEVEL:
        if (take_choice(v, log_levels, sizeof log_levels / sizeof log_levels[0], cfg->log_level))
            return RUMOR_OK;
        return fail(why, why_cap, line, "%s: expected error, warn, info or debug", k->name);
    case CFG_LOG_FORMAT:
        if (take_choice(v, log_formats, sizeof log_formats / sizeof log_formats[0],
                        cfg->log_format))
            return RUMOR_OK;
        return fail(why, why_cap, line, "%s: expected text or json", k->name);
    case CFG_CMD:
        if (v.len >= sizeof cfg->notify_cmd)
            return fail(why, why_cap, line, "%s: longer than %d bytes", k->name,
                        RUMOR_NOTIFY_CMD_MAX);
        for (size_t i = 0; i < v.len; i++)
            if ((unsigned char)v.p[i] < 0x20 || v.p[i] == 0x7f)
                return fail(why, why_cap, line, "%s: control characters", k->name);
        memcpy(cfg->notify_cmd, v.p, v.len);
        cfg->notify_cmd[v.len] = '\0';
        return RUMOR_OK;
    case CFG_PATH:
        if (v.len == 0) return fail(why, why_cap, line, "%s: empty path", k->name);
        if (v.len >= sizeof cfg->trace_file)
            return fail(why, why_cap, line, "%s: path too long", k->name);
        memcpy(cfg->trace_file, v.p, v.len);
        cfg->trace_file[v.len] = '\0';
        return RUMOR_OK;
    }
    return fail(why, why_cap, line, "%s: cannot be set", k->name);
}

static const cfg_key_t *find_key(span_t name)
{
    for (size_t i = 0; i < CFG_KEY_COUNT; i++)
        if (span_is(name, cfg_keys[i].name)) return &cfg_keys[i];
    return NULL;
}

/* Parses one non-blank, non-comment line. `set_on` records where each key was last set. */
static int parse_line(span_t s, rumor_node_config_t *cfg, size_t *set_on, char *why, size_t why_cap,
                      size_t line)
{
    const char *eq = memchr(s.p, '=', s.len);
    if (!eq) return fail(why, why_cap, line, "expected key = value");
    span_t key = trim((span_t){s.p, (size_t)(eq - s.p)});
    span_t value = trim((span_t){eq + 1, s.len - (size_t)(eq - s.p) - 1});
    if (key.len == 0) return fail(why, why_cap, line, "missing key before '='");
    const cfg_key_t *k = find_key(key);
    if (!k) {
        /* Quoted for a terminal: only printable ASCII, and not too much of it. */
        char name[33];
        size_t n = key.len < sizeof name - 1 ? key.len : sizeof name - 1;
        for (size_t i = 0; i < n; i++)
            name[i] = key.p[i] >= 0x20 && key.p[i] < 0x7f ? key.p[i] : '?';
        name[n] = '\0';
        return fail(why, why_cap, line, "unknown key '%s%s'", name, key.len > n ? "..." : "");
    }
    int rc = apply(k, value, cfg, why, why_cap, line);
    if (rc == RUMOR_OK) set_on[k - cfg_keys] = line;
    return rc;
}

/* The line that set `name` last, or 0 when it kept its default. */
static size_t line_of(const size_t *set_on, const char *name)
{
    for (size_t i = 0; i < CFG_KEY_COUNT; i++)
        if (strcmp(cfg_keys[i].name, name) == 0) return set_on[i];
    return 0;
}

static size_t max_line(size_t a, size_t b)
{
    return a > b ? a : b;
}

/*
 * The rules between keys, checked once the whole file is read. An error
 * names the last line that set one of the keys involved.
 */
static int check_relations(const rumor_node_config_t *c, const size_t *set_on, char *why,
                           size_t why_cap)
{
    size_t d = line_of(set_on, "d"), lo = line_of(set_on, "d_lo"), hi = line_of(set_on, "d_hi");
    if (c->d_lo > c->d) return fail(why, why_cap, max_line(d, lo), "d_lo is above d");
    if (c->d > c->d_hi) return fail(why, why_cap, max_line(d, hi), "d is above d_hi");
    size_t len = line_of(set_on, "history_length"), gos = line_of(set_on, "history_gossip");
    if (c->history_gossip > c->history_length)
        return fail(why, why_cap, max_line(len, gos), "history_gossip is above history_length");
    size_t target = line_of(set_on, "peers_target"), max = line_of(set_on, "peers_max");
    if (c->peers_target > c->peers_max)
        return fail(why, why_cap, max_line(target, max), "peers_target is above peers_max");
    size_t in = line_of(set_on, "inbound_max");
    if (c->peers_max > c->inbound_max)
        return fail(why, why_cap, max_line(max, in), "peers_max is above inbound_max");
    return RUMOR_OK;
}

int rumor_node_config_parse(const char *text, size_t len, rumor_node_config_t *cfg, char *why,
                            size_t why_cap)
{
    /* Parse into a copy, so a file with an error changes nothing. */
    rumor_node_config_t c = *cfg;
    size_t set_on[CFG_KEY_COUNT] = {0};
    size_t line = 0, pos = 0;
    if (why && why_cap) why[0] = '\0';

    while (pos < len) {
        line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        span_t s = {text + pos, end - pos};
        pos = nl ? end + 1 : len;
        if (memchr(s.p, '\0', s.len)) return fail(why, why_cap, line, "NUL byte");
        s = trim(s);
        if (s.len == 0 || s.p[0] == '#') continue;
        int rc = parse_line(s, &c, set_on, why, why_cap, line);
        if (rc < 0) return rc;
    }
    int rc = check_relations(&c, set_on, why, why_cap);
    if (rc < 0) return rc;
    *cfg = c;
    return RUMOR_OK;
}
