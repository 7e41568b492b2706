/*
 * config.c - the node's tunables (`rumor node --config FILE`): the defaults
 * of PROTOCOL.md section 9 and a parser for `key = value` files.
 *
 * The file format: one setting per line, `key = value`, with the key one of
 * RUMOR_CONFIG_KEYS (rumor_node.h), which also gives each key's default and
 * the values it accepts. Blank lines and lines whose first
 * non-blank character is '#' are ignored; a '#' after a value is part of the
 * value (a path may hold one). Whitespace around keys and values is trimmed.
 * A key given twice takes its last value. Numbers are plain decimal.
 */
#include "rumor_node.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What a value is and how it is checked (the kinds of RUMOR_CONFIG_KEYS). */
typedef enum { CFG_U32, CFG_BOOL, CFG_CHOICE, CFG_TEXT, CFG_REAL } cfg_kind_t;

/* What a CFG_TEXT value may hold besides fitting. */
typedef enum {
    CFG_RULE_NONE,
    CFG_RULE_PATH, /* not empty */
    CFG_RULE_CMD,  /* no control characters */
} cfg_rule_t;

typedef struct {
    const char *name;  /* the field's name, which is the key */
    cfg_kind_t kind;   /* how the value parses */
    size_t offset;     /* of the field in rumor_node_config_t */
    size_t size;       /* of the field */
    uint32_t min, max; /* CFG_U32: the accepted range */
    double lo, hi;     /* CFG_REAL: the accepted range */
    const char *words; /* CFG_CHOICE: the accepted values, space-separated */
    cfg_rule_t rule;   /* CFG_TEXT */
} cfg_key_t;

#define FIELD_SIZE(key) sizeof(((rumor_node_config_t *)0)->key)
#define FIELD_AT(key)                                                                              \
    .name = #key, .offset = offsetof(rumor_node_config_t, key), .size = FIELD_SIZE(key)

#define U32_KEY(key, def, lo, hi)       {FIELD_AT(key), .kind = CFG_U32, .min = lo, .max = hi},
#define BOOL_KEY(key, def)              {FIELD_AT(key), .kind = CFG_BOOL},
#define CHOICE_KEY(key, def, words_)    {FIELD_AT(key), .kind = CFG_CHOICE, .words = words_},
#define TEXT_KEY(key, def, size, rule_) {FIELD_AT(key), .kind = CFG_TEXT, .rule = CFG_RULE_##rule_},
#define REAL_KEY(key, def, lo_, hi_)    {FIELD_AT(key), .kind = CFG_REAL, .lo = lo_, .hi = hi_},

static const cfg_key_t cfg_keys[] = {
    RUMOR_CONFIG_KEYS(U32_KEY, BOOL_KEY, CHOICE_KEY, TEXT_KEY, REAL_KEY)};

#undef U32_KEY
#undef BOOL_KEY
#undef CHOICE_KEY
#undef TEXT_KEY
#undef REAL_KEY

#define CFG_KEY_COUNT (sizeof cfg_keys / sizeof cfg_keys[0])

/* A default must be a value the parser would accept, and a string's must fit its field. */
#define U32_CHECK(key, def, lo, hi) _Static_assert((lo) <= (def) && (def) <= (hi), #key);
#define BOOL_CHECK(key, def)
#define STR_CHECK(key, def, ...)                                                                   \
    _Static_assert(sizeof def <= FIELD_SIZE(key), #key ": default too long");
#define REAL_CHECK(...) /* (not an integer constant expression: test_node checks them) */
RUMOR_CONFIG_KEYS(U32_CHECK, BOOL_CHECK, STR_CHECK, STR_CHECK, REAL_CHECK)
#undef REAL_CHECK
#undef U32_CHECK
#undef BOOL_CHECK
#undef STR_CHECK

void rumor_node_config_defaults(rumor_node_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
#define SET_NUMBER(key, def, ...) cfg->key = (def);
#define SET_STRING(key, def, ...) memcpy(cfg->key, def, sizeof def);
    RUMOR_CONFIG_KEYS(SET_NUMBER, SET_NUMBER, SET_STRING, SET_STRING, SET_NUMBER)
#undef SET_NUMBER
#undef SET_STRING
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

/* True when `v` is one of the space-separated `words`. */
static bool is_one_of(span_t v, const char *words)
{
    for (const char *w = words;; w++) {
        size_t len = strcspn(w, " ");
        if (len == v.len && memcmp(w, v.p, len) == 0) return true;
        w += len;
        if (!*w) return false;
    }
}

/* Writes the space-separated `words` "a b c" as "a, b or c" (cut short to fit `cap`). */
static void list_words(const char *words, char *out, size_t cap)
{
    const char *last = strrchr(words, ' ');
    size_t at = 0;
    for (const char *w = words; at < cap; w++) {
        size_t len = strcspn(w, " ");
        const char *sep = w == words ? "" : w - 1 == last ? " or " : ", ";
        int n = snprintf(out + at, cap - at, "%s%.*s", sep, (int)len, w);
        if (n < 0) return;
        at += (size_t)n;
        w += len;
        if (!*w) return;
    }
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

/* Parses a decimal number: an optional minus, digits, and an optional fraction of up to 6 digits
 * ("-0.25", "10"), within [lo, hi]. No exponent, no locale. */
static bool parse_real(span_t v, double lo, double hi, double *out)
{
    size_t i = 0, digits = 0, frac = 0;
    bool neg = v.len && v.p[0] == '-';
    i += neg;
    uint64_t n = 0; /* the digits as one integer: at most 15, exact in a double */
    for (; i < v.len && v.p[i] >= '0' && v.p[i] <= '9' && digits < 9; i++, digits++)
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    if (!digits) return false;
    if (i < v.len && v.p[i] == '.') {
        for (i++; i < v.len && v.p[i] >= '0' && v.p[i] <= '9' && frac < 6; i++, frac++)
            n = n * 10 + (uint64_t)(v.p[i] - '0');
        if (!frac) return false;
    }
    if (i != v.len) return false;
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    double x = (double)n / scale[frac]; /* one rounding: "0.3" is 0.3 */
    if (neg) x = -x;
    if (x < lo || x > hi) return false;
    *out = x;
    return true;
}

/* Checks a CFG_TEXT value against its key's rule and size; RUMOR_OK or a failure. */
static int check_text(const cfg_key_t *k, span_t v, char *why, size_t why_cap, size_t line)
{
    if (k->rule == CFG_RULE_PATH && v.len == 0)
        return fail(why, why_cap, line, "%s: empty path", k->name);
    if (v.len >= k->size) {
        if (k->rule == CFG_RULE_PATH) return fail(why, why_cap, line, "%s: path too long", k->name);
        return fail(why, why_cap, line, "%s: longer than %zu bytes", k->name, k->size - 1);
    }
    if (k->rule == CFG_RULE_CMD) {
        for (size_t i = 0; i < v.len; i++)
            if ((unsigned char)v.p[i] < 0x20 || v.p[i] == 0x7f)
                return fail(why, why_cap, line, "%s: control characters", k->name);
        /* It travels to `chat` as a string (status, PROTOCOL.md 11). */
        if (!rumor_utf8_valid((const uint8_t *)v.p, v.len))
            return fail(why, why_cap, line, "%s: not UTF-8", k->name);
    }
    return RUMOR_OK;
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
    case CFG_REAL: {
        double x;
        if (!parse_real(v, k->lo, k->hi, &x))
            return fail(why, why_cap, line,
                        "%s: expected a decimal number (like -0.5) from %g to %g", k->name, k->lo,
                        k->hi);
        memcpy(field, &x, sizeof x);
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
    case CFG_CHOICE:
        /* The field holds all the words, so any one of them fits. */
        if (!is_one_of(v, k->words)) {
            char words[64];
            list_words(k->words, words, sizeof words);
            return fail(why, why_cap, line, "%s: expected %s", k->name, words);
        }
        break;
    case CFG_TEXT: {
        int rc = check_text(k, v, why, why_cap, line);
        if (rc < 0) return rc;
        break;
    }
    default: return fail(why, why_cap, line, "%s: cannot be set", k->name);
    }
    memcpy(field, v.p, v.len);
    field[v.len] = '\0';
    return RUMOR_OK;
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
    size_t gr = line_of(set_on, "score_graft"), go = line_of(set_on, "score_gossip"),
           pu = line_of(set_on, "score_publish"), gl = line_of(set_on, "score_graylist");
    if (c->score_gossip > c->score_graft)
        return fail(why, why_cap, max_line(gr, go), "score_gossip is above score_graft");
    if (c->score_publish > c->score_gossip)
        return fail(why, why_cap, max_line(go, pu), "score_publish is above score_gossip");
    if (c->score_graylist > c->score_publish)
        return fail(why, why_cap, max_line(pu, gl), "score_graylist is above score_publish");
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
