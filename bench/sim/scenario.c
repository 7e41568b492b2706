/*
 * scenario.c - rumor-sim's scenario files (bench/sim/README.md): `key = value` lines like the
 * node's config, and timed lines (`at 30s churn 10% for 20s`, `at 40s partition 50% until
 * 70s`). Every value is checked against its range; a bad line is a one-line reason with its
 * number, never a partly read scenario.
 */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Longest line, and longest word in it, a scenario may hold. */
#define LINE_MAX_BYTES 1024
#define WORDS_MAX      8

#define US_PER_MS 1000ULL
#define US_PER_S  1000000ULL
#define HOUR_US   (3600ULL * US_PER_S)

void sim_scenario_defaults(sim_scenario_t *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->seed = 1;
    sc->nodes = 50;
    sc->peers = 8;
    sc->peers_max = 32;
    sc->topics = 1;
    sc->strategy = RUMOR_STRATEGY_GOSSIPSUB;
    sc->d = 6;
    sc->d_lo = 4;
    sc->d_hi = 12;
    sc->d_lazy = 6;
    sc->heartbeat_ms = 1000;
    sc->history_length = 5;
    sc->history_gossip = 3;
    sc->seen_max = 65536;
    sc->seen_ttl_ms = 120000;
    sc->latency = (sim_dist_t){SIM_LAT_UNIFORM, 100, 300};
    sc->messages = 200;
    sc->rate = 20;
    sc->start_us = 5 * US_PER_S;
    sc->event_bytes = 300;
    sc->recon_interval_ms = 30000;
    sc->drain_us = 10 * US_PER_S;
    sc->duration_us = 24 * HOUR_US;
    sc->events_max = 20000000000ULL;
    sc->attack_at_us = 30 * US_PER_S;
    sc->victims = 1;
    sc->hostile_ihave = true;
    sc->hostile_backoff = true;
    sc->join_us = 10 * US_PER_S;
    sc->recovery_us = 30 * US_PER_S;
}

static int fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- values --------------------------------------------------------------------------- */

/* A whole decimal number from `min` to `max`. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)s[0])) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* A finite decimal number with an optional suffix from `units`, which it scales by. */
typedef struct {
    const char *suffix;
    double scale;
} unit_t;

static int parse_scaled(const char *s, const unit_t *units, double *out)
{
    if (!isdigit((unsigned char)s[0]) && s[0] != '.') return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0) return -1;
    for (const unit_t *u = units; u->suffix; u++)
        if (strcmp(end, u->suffix) == 0) {
            *out = v * u->scale;
            return isfinite(*out) ? 0 : -1;
        }
    return -1;
}

/* A time: us, ms, s or m (minutes), or a bare number of milliseconds; in microseconds. */
static int parse_time(const char *s, uint64_t max_us, uint64_t *out)
{
    static const unit_t units[] = {{"us", 1},
                                   {"ms", US_PER_MS},
                                   {"s", US_PER_S},
                                   {"m", 60.0 * US_PER_S},
                                   {"h", (double)HOUR_US},
                                   {"", US_PER_MS},
                                   {NULL, 0}};
    double v;
    if (parse_scaled(s, units, &v) < 0 || v > (double)max_us) return -1;
    *out = (uint64_t)llround(v);
    return 0;
}

/* A share: `10%` or a fraction `0.1`, from 0 to 1. */
static int parse_share(const char *s, double *out)
{
    static const unit_t units[] = {{"%", 0.01}, {"", 1}, {NULL, 0}};
    if (parse_scaled(s, units, out) < 0 || *out > 1) return -1;
    return 0;
}

/* Bits per second: bit, kbit, mbit, gbit (per second), or a bare number of bits. */
static int parse_bandwidth(const char *s, uint64_t *out)
{
    static const unit_t units[] = {{"bit", 1},    {"kbit", 1e3}, {"mbit", 1e6},
                                   {"gbit", 1e9}, {"", 1},       {NULL, 0}};
    double v;
    if (parse_scaled(s, units, &v) < 0 || v > 1e12) return -1;
    *out = (uint64_t)llround(v);
    return 0;
}

/* Splits `line` in place at blanks; the number of words, or -1 when there are too many. */
static int split(char *line, char **w, int max)
{
    int n = 0;
    for (char *p = line;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) return n;
        if (n == max) return -1;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = 0;
    }
}

/* `const X` | `uniform LO HI` | `normal MEAN SD` | `lognormal MEAN SD`, times as parse_time. */
static int parse_latency(const char *v, sim_dist_t *out)
{
    char copy[LINE_MAX_BYTES + 1], *w[WORDS_MAX];
    snprintf(copy, sizeof copy, "%s", v);
    int n = split(copy, w, WORDS_MAX);
    uint64_t a, b = 0;
    const uint64_t max = 60 * US_PER_S;
    if (n < 2 || parse_time(w[1], max, &a) < 0) return -1;
    if (strcmp(w[0], "const") == 0 && n == 2) {
        *out = (sim_dist_t){SIM_LAT_CONST, (double)a, 0};
        return 0;
    }
    if (n != 3 || parse_time(w[2], max, &b) < 0) return -1;
    if (strcmp(w[0], "uniform") == 0 && a <= b)
        *out = (sim_dist_t){SIM_LAT_UNIFORM, (double)a, (double)b};
    else if (strcmp(w[0], "normal") == 0)
        *out = (sim_dist_t){SIM_LAT_NORMAL, (double)a, (double)b};
    else if (strcmp(w[0], "lognormal") == 0 && a > 0)
        *out = (sim_dist_t){SIM_LAT_LOGNORMAL, (double)a, (double)b};
    else
        return -1;
    return 0;
}

/* ---- keys ----------------------------------------------------------------------------- */

typedef enum {
    K_U32,      /* a number min..max */
    K_U64,      /* a number min..max */
    K_TIME,     /* a time, min..max microseconds */
    K_US,       /* the same, but a bare number is microseconds */
    K_SHARE,    /* 0..1 or a percentage */
    K_RATE,     /* a number above 0, at most max */
    K_BITS,     /* bits per second */
    K_STRATEGY, /* gossipsub | flood | tree */
    K_BOOL,     /* on | off */
    K_SETUP,    /* random | sequential */
    K_LATENCY,  /* a distribution */
    K_SAMPLE,   /* frame | link */
    K_ATTACK,   /* none | sybil | eclipse | flash | coldboot */
} kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t off;
    uint64_t min, max;
    const char *want; /* what the value must be, for the message */
} skey_t;

#define F(field) offsetof(sim_scenario_t, field)
static const skey_t keys[] = {
    {"seed", K_U64, F(seed), 0, UINT64_MAX, "a number"},
    {"nodes", K_U32, F(nodes), 2, 1000000, "2..1000000"},
    {"peers", K_U32, F(peers), 1, 1024, "1..1024"},
    {"peers_max", K_U32, F(peers_max), 1, 1024, "1..1024"},
    {"topics", K_U32, F(topics), 1, 256, "1..256"},
    {"strategy", K_STRATEGY, F(strategy), 0, 0, "gossipsub, flood or tree"},
    {"d", K_U32, F(d), 1, 64, "1..64"},
    {"d_lo", K_U32, F(d_lo), 1, 64, "1..64"},
    {"d_hi", K_U32, F(d_hi), 1, 64, "1..64"},
    {"d_lazy", K_U32, F(d_lazy), 0, 64, "0..64"},
    {"heartbeat_ms", K_U32, F(heartbeat_ms), 10, 60000, "10..60000"},
    {"history_length", K_U32, F(history_length), 1, 1000, "1..1000"},
    {"history_gossip", K_U32, F(history_gossip), 1, 1000, "1..1000"},
    {"seen_max", K_U32, F(seen_max), 16, 10000000, "16..10000000"},
    {"seen_ttl_ms", K_U32, F(seen_ttl_ms), 1000, 86400000, "1000..86400000"},
    {"latency", K_LATENCY, F(latency), 0, 0,
     "const X, uniform LO HI, normal MEAN SD or lognormal MEAN SD (times up to 60s)"},
    {"latency_sample", K_SAMPLE, F(latency_per_link), 0, 0, "frame or link"},
    {"loss", K_SHARE, F(loss), 0, 0, "a share 0..1 or 0%..100%"},
    {"bandwidth", K_BITS, F(bandwidth), 0, 0, "bits per second (bit, kbit, mbit, gbit), 0 none"},
    {"messages", K_U32, F(messages), 1, 10000000, "1..10000000"},
    {"rate", K_RATE, F(rate), 0, 1000000, "above 0, at most 1000000 a second"},
    {"publishers", K_U32, F(publishers), 0, 1000000, "0 (any node) or a count of nodes"},
    {"start", K_TIME, F(start_us), 0, 24 * HOUR_US, "a time up to 24h"},
    {"event_bytes", K_U32, F(event_bytes), SIM_EVENT_HEADER, RUMOR_EVENT_MAX + 2, "39..65538"},
    {"invalid", K_SHARE, F(invalid), 0, 0, "a share 0..1 or 0%..100%"},
    {"recon_interval_ms", K_U32, F(recon_interval_ms), 0, 86400000, "0 (off) or up to 86400000"},
    {"process_us", K_US, F(process_us), 0, US_PER_S, "microseconds (or a time) up to 1s"},
    {"process_event_us", K_US, F(process_event_us), 0, US_PER_S,
     "microseconds (or a time) up to 1s"},
    {"heartbeat_us", K_US, F(heartbeat_us), 0, US_PER_S, "microseconds (or a time) up to 1s"},
    {"keepalive", K_BOOL, F(keepalive), 0, 0, "on or off"},
    {"setup", K_SETUP, F(setup_sequential), 0, 0, "random or sequential"},
    {"window_from", K_U32, F(window_from), 0, 10000000, "a message index"},
    {"cores", K_U32, F(cores), 0, 4096, "0 (a CPU per node) or 1..4096 shared"},
    {"drain", K_TIME, F(drain_us), 0, 24 * HOUR_US, "a time up to 24h"},
    {"duration", K_TIME, F(duration_us), 1, 24 * HOUR_US, "a time up to 24h"},
    {"events_max", K_U64, F(events_max), 1, UINT64_MAX, "a number above 0"},
    {"score", K_BOOL, F(score), 0, 0, "on or off"},
    {"hostile", K_SHARE, F(hostile), 0, 0, "a share 0..1 or 0%..100%"},
    {"attack", K_ATTACK, F(attack), 0, 0, "none, sybil, eclipse, flash or coldboot"},
    {"attack_at", K_TIME, F(attack_at_us), 0, 24 * HOUR_US, "a time up to 24h"},
    {"hostile_peers", K_U32, F(hostile_peers), 0, 1024, "0 (peers) or 1..1024"},
    {"victims", K_U32, F(victims), 1, 1000000, "1..1000000"},
    {"victim_peers", K_U32, F(victim_peers), 0, 1024, "0 (peers) or 1..1024"},
    {"hostile_addrs", K_U32, F(hostile_addrs), 0, 1000000, "0 (one each) or 1..1000000"},
    {"hostile_ihave", K_BOOL, F(hostile_ihave), 0, 0, "on or off"},
    {"hostile_backoff", K_BOOL, F(hostile_backoff), 0, 0, "on or off"},
    {"hostile_invalid", K_U32, F(hostile_invalid), 0, 64, "0..64"},
    {"join", K_TIME, F(join_us), 0, 24 * HOUR_US, "a time up to 24h"},
    {"recovery", K_TIME, F(recovery_us), 0, 24 * HOUR_US, "a time up to 24h"},
};
#undef F

static const skey_t *key_find(const char *name)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

/* Sets `key` from the text `v` (trimmed); -1 when the value is refused. */
static int key_set(sim_scenario_t *sc, const skey_t *k, char *v)
{
    char *field = (char *)sc + k->off;
    uint64_t u;
    double d;
    switch (k->kind) {
    case K_U32:
        if (parse_u64(v, k->min, k->max, &u) < 0) return -1;
        *(uint32_t *)field = (uint32_t)u;
        return 0;
    case K_U64:
        if (parse_u64(v, k->min, k->max, &u) < 0) return -1;
        *(uint64_t *)field = u;
        return 0;
    case K_TIME:
        if (parse_time(v, k->max, &u) < 0 || u < k->min) return -1;
        *(uint64_t *)field = u;
        return 0;
    case K_US: {
        size_t n = strlen(v);
        int rc = n && isdigit((unsigned char)v[n - 1]) ? parse_u64(v, k->min, k->max, &u)
                                                       : parse_time(v, k->max, &u);
        if (rc < 0 || u < k->min) return -1;
        *(uint64_t *)field = u;
        return 0;
    }
    case K_SHARE:
        if (parse_share(v, &d) < 0) return -1;
        *(double *)field = d;
        return 0;
    case K_RATE: {
        static const unit_t units[] = {{"", 1}, {NULL, 0}};
        if (parse_scaled(v, units, &d) < 0 || d <= 0 || d > (double)k->max) return -1;
        *(double *)field = d;
        return 0;
    }
    case K_BITS:
        if (parse_bandwidth(v, &u) < 0) return -1;
        *(uint64_t *)field = u;
        return 0;
    case K_STRATEGY: {
        int st = rumor_strategy_parse(v);
        if (st < 0) return -1;
        *(uint8_t *)field = (uint8_t)st;
        return 0;
    }
    case K_BOOL:
        if (strcmp(v, "on") == 0)
            *(bool *)field = true;
        else if (strcmp(v, "off") == 0)
            *(bool *)field = false;
        else
            return -1;
        return 0;
    case K_SETUP:
        if (strcmp(v, "random") == 0)
            *(bool *)field = false;
        else if (strcmp(v, "sequential") == 0)
            *(bool *)field = true;
        else
            return -1;
        return 0;
    case K_LATENCY: return parse_latency(v, (sim_dist_t *)field);
    case K_ATTACK: {
        static const char *const names[] = {"none", "sybil", "eclipse", "flash", "coldboot"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(v, names[i]) == 0) {
                *(uint8_t *)field = (uint8_t)i;
                return 0;
            }
        return -1;
    }
    case K_SAMPLE:
        if (strcmp(v, "frame") == 0)
            *(bool *)field = false;
        else if (strcmp(v, "link") == 0)
            *(bool *)field = true;
        else
            return -1;
        return 0;
    }
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

/* `key = value`; `where` prefixes the message ("FILE:LINE" or "--set"). */
static int assign(sim_scenario_t *sc, char *line, const char *where, char *why, size_t cap)
{
    char *eq = strchr(line, '=');
    if (!eq) return fail(why, cap, "%s: expected `key = value` or an `at` line", where);
    *eq = 0;
    char *name = trim(line), *v = trim(eq + 1);
    const skey_t *k = key_find(name);
    if (!k) return fail(why, cap, "%s: unknown key `%.64s`", where, name);
    if (!*v) return fail(why, cap, "%s: %s wants a value", where, k->name);
    if (key_set(sc, k, v) == 0) return 0;
    if (k->kind == K_STRATEGY)
        return fail(why, cap, "%s: strategy `%.64s` is not simulated (gossipsub, flood or tree)",
                    where, v);
    return fail(why, cap, "%s: %s = %.64s: want %s", where, k->name, v, k->want);
}

/* How many nodes: `N%` or a share below 1 with a dot, else a whole count. */
static int parse_amount(const char *s, sim_at_t *at)
{
    uint64_t n;
    if (strchr(s, '%') || strchr(s, '.')) {
        at->is_share = true;
        return parse_share(s, &at->share);
    }
    if (parse_u64(s, 1, 1000000, &n) < 0) return -1;
    at->count = (uint32_t)n;
    return 0;
}

/*
 * at TIME churn AMOUNT for TIME
 * at TIME partition AMOUNT until TIME [down|drop]
 */
static int timed(sim_scenario_t *sc, char *line, size_t lineno, const char *where, char *why,
                 size_t cap)
{
    char *w[WORDS_MAX];
    int n = split(line, w, WORDS_MAX);
    sim_at_t at = {.line = lineno};
    const uint64_t max = 24 * HOUR_US;
    if (sc->n_at == SIM_AT_MAX)
        return fail(why, cap, "%s: more than %d timed lines", where, SIM_AT_MAX);
    if (n < 3 || parse_time(w[1], max, &at.at_us) < 0)
        return fail(why, cap, "%s: expected `at TIME churn|partition ...`", where);
    if (strcmp(w[2], "churn") == 0) {
        at.kind = SIM_AT_CHURN;
        if (n != 6 || parse_amount(w[3], &at) < 0 || strcmp(w[4], "for") != 0 ||
            parse_time(w[5], max, &at.for_us) < 0 || at.for_us == 0)
            return fail(why, cap, "%s: expected `at TIME churn N|P%% for TIME`", where);
    } else if (strcmp(w[2], "partition") == 0) {
        at.kind = SIM_AT_PARTITION;
        if ((n != 6 && n != 7) || parse_amount(w[3], &at) < 0 || strcmp(w[4], "until") != 0 ||
            parse_time(w[5], max, &at.until_us) < 0)
            return fail(why, cap, "%s: expected `at TIME partition N|P%% until TIME [down|drop]`",
                        where);
        if (at.until_us <= at.at_us)
            return fail(why, cap, "%s: a partition must heal after it starts", where);
        if (n == 7 && strcmp(w[6], "drop") == 0)
            at.cut_mode = SIM_CUT_DROP;
        else if (n == 7 && strcmp(w[6], "down") != 0)
            return fail(why, cap, "%s: partition mode `%.32s`: want down or drop", where, w[6]);
    } else {
        return fail(why, cap, "%s: unknown timed action `%.32s` (churn, partition)", where, w[2]);
    }
    sc->at[sc->n_at++] = at;
    return 0;
}

int sim_scenario_parse(sim_scenario_t *sc, const char *name, const char *text, size_t len,
                       char *why, size_t why_cap)
{
    sim_scenario_t tmp = *sc;
    char line[LINE_MAX_BYTES + 1];
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        char where[256];
        snprintf(where, sizeof where, "%.200s:%zu", name, lineno);
        if (n > LINE_MAX_BYTES)
            return fail(why, why_cap, "%s: line longer than %d bytes", where, LINE_MAX_BYTES);
        memcpy(line, text + pos, n);
        line[n] = 0;
        pos += n + (nl != NULL);
        if (memchr(line, 0, n)) return fail(why, why_cap, "%s: a NUL byte in the line", where);
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *l = trim(line);
        if (!*l) continue;
        int rc = strncmp(l, "at ", 3) == 0 || strncmp(l, "at\t", 3) == 0
                     ? timed(&tmp, l, lineno, where, why, why_cap)
                     : assign(&tmp, l, where, why, why_cap);
        if (rc < 0) return -1;
    }
    *sc = tmp;
    return 0;
}

int sim_scenario_set(sim_scenario_t *sc, const char *kv, char *why, size_t why_cap)
{
    char line[LINE_MAX_BYTES + 1];
    if (strlen(kv) > LINE_MAX_BYTES) return fail(why, why_cap, "--set: value too long");
    strcpy(line, kv);
    return assign(sc, line, "--set", why, why_cap);
}

/* Hostile nodes: an attack names what they do, and honest nodes must remain to be attacked. */
static int check_attack(const sim_scenario_t *sc, char *why, size_t why_cap)
{
    uint32_t hostile = sim_hostile_count(sc), honest = sc->nodes - hostile;
    if ((sc->attack == SIM_ATTACK_NONE) != (hostile == 0))
        return fail(why, why_cap, "hostile (%u nodes) and attack go together: both or neither",
                    hostile);
    if (!hostile) return 0;
    if (honest < 2) return fail(why, why_cap, "hostile leaves fewer than 2 honest nodes");
    uint32_t hp = sc->hostile_peers ? sc->hostile_peers : sc->peers;
    if (hp > sc->peers_max || hp >= honest)
        return fail(why, why_cap,
                    "hostile_peers (%u) is above peers_max or not below the honest nodes (%u)", hp,
                    honest);
    if (sc->victim_peers > sc->peers_max)
        return fail(why, why_cap, "victim_peers (%u) is above peers_max", sc->victim_peers);
    if (sc->attack == SIM_ATTACK_ECLIPSE && sc->victims >= honest)
        return fail(why, why_cap, "victims (%u) is not below the %u honest nodes", sc->victims,
                    honest);
    return 0;
}

uint32_t sim_hostile_count(const sim_scenario_t *sc)
{
    return (uint32_t)llround(sc->hostile * sc->nodes);
}

int sim_scenario_check(const sim_scenario_t *sc, char *why, size_t why_cap)
{
    if (sc->d_lo > sc->d) return fail(why, why_cap, "d_lo (%u) is above d (%u)", sc->d_lo, sc->d);
    if (sc->d > sc->d_hi) return fail(why, why_cap, "d (%u) is above d_hi (%u)", sc->d, sc->d_hi);
    if (sc->history_gossip > sc->history_length)
        return fail(why, why_cap, "history_gossip is above history_length");
    if (sc->peers >= sc->nodes)
        return fail(why, why_cap, "peers (%u) must be below nodes (%u)", sc->peers, sc->nodes);
    if (sc->peers > sc->peers_max)
        return fail(why, why_cap, "peers (%u) is above peers_max (%u)", sc->peers, sc->peers_max);
    if (sc->window_from >= sc->messages)
        return fail(why, why_cap, "window_from (%u) is not below messages (%u)", sc->window_from,
                    sc->messages);
    if (sc->publishers > sc->nodes)
        return fail(why, why_cap, "publishers (%u) is above nodes (%u)", sc->publishers, sc->nodes);
    /* The per-(node, message) tables take 5 bytes an entry. */
    if ((uint64_t)sc->nodes * sc->messages > 600000000ULL)
        return fail(why, why_cap, "nodes x messages above 600,000,000 (3 GB of tables)");
    if (check_attack(sc, why, why_cap) < 0) return -1;
    if (sc->messages / sc->rate > 24.0 * 3600)
        return fail(why, why_cap, "messages / rate is above 24h of publishing");
    for (size_t i = 0; i < sc->n_at; i++) {
        const sim_at_t *a = &sc->at[i];
        if (!a->is_share && a->count > sc->nodes)
            return fail(why, why_cap, "line %zu: %u nodes of %u", a->line, a->count, sc->nodes);
        for (size_t j = 0; j < i && a->kind == SIM_AT_PARTITION; j++) {
            const sim_at_t *b = &sc->at[j];
            if (b->kind == SIM_AT_PARTITION && a->at_us < b->until_us && b->at_us < a->until_us)
                return fail(why, why_cap, "line %zu: partitions overlap (one at a time)", a->line);
        }
    }
    return 0;
}
