/*
 * main.c - rumor-sim: runs a scenario (bench/sim/README.md) over N gossip engines in one
 * process and prints what it found. No socket, no store: the network and the stores are
 * simulated, the engines are the node's own.
 *
 *   rumor-sim SCENARIO [--seed N] [--set key=value ...] [--records FILE] [--summary FILE]
 *             [--no-wall]
 *
 * Exit 0 when the run completed, 1 when it failed (out of memory), 2 for bad input (a
 * one-line `rumor-sim: ...` on stderr).
 */
#include "sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* A scenario file larger than this is refused. */
#define SCENARIO_MAX_BYTES (1 << 20)
#define SETS_MAX           256

static const char usage[] =
    "usage: rumor-sim SCENARIO [--seed N] [--set key=value ...] [--records FILE]\n"
    "                 [--summary FILE] [--no-wall]\n"
    "Runs the scenario's nodes (the node's gossip engine each) on a simulated network and\n"
    "prints a JSON summary; --records writes one JSON line per message. --no-wall leaves out\n"
    "the host figures (wall clock, memory) so the output of a seed is the same every time.\n"
    "See bench/sim/README.md for the scenario format.\n";

static int die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rumor-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* The file's bytes (NUL-terminated, *len without it), or NULL with `why`. */
static char *slurp(const char *path, size_t *len, char *why, size_t cap)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f) {
        snprintf(why, cap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(SCENARIO_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SCENARIO_MAX_BYTES + 1, f) : 0;
    if (!buf)
        snprintf(why, cap, "out of memory");
    else if (ferror(f))
        snprintf(why, cap, "%s: read error", path);
    else if (n > SCENARIO_MAX_BYTES)
        snprintf(why, cap, "%s: larger than %d bytes", path, SCENARIO_MAX_BYTES);
    else {
        fclose(f);
        buf[n] = 0;
        *len = n;
        return buf;
    }
    fclose(f);
    free(buf);
    return NULL;
}

static uint64_t max_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss : 0;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *records = NULL, *summary = NULL, *seed = NULL;
    const char *sets[SETS_MAX];
    size_t n_sets = 0;
    bool wall = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--no-wall") == 0) {
            wall = false;
        } else if (strcmp(a, "--seed") == 0 && more) {
            seed = argv[++i];
        } else if (strcmp(a, "--set") == 0 && more) {
            if (n_sets == SETS_MAX) return die(2, "more than %d --set", SETS_MAX);
            sets[n_sets++] = argv[++i];
        } else if (strcmp(a, "--records") == 0 && more) {
            records = argv[++i];
        } else if (strcmp(a, "--summary") == 0 && more) {
            summary = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return die(2, "unknown or incomplete option `%.64s` (see --help)", a);
        } else if (!path) {
            path = a;
        } else {
            return die(2, "one scenario at a time (`%.64s`)", a);
        }
    }
    if (!path) return die(2, "no scenario file (see --help)");

    char why[512];
    size_t len;
    char *text = slurp(path, &len, why, sizeof why);
    if (!text) return die(2, "%s", why);
    static sim_scenario_t sc;
    sim_scenario_defaults(&sc);
    int rc = sim_scenario_parse(&sc, path, text, len, why, sizeof why);
    free(text);
    if (rc < 0) return die(2, "%s", why);
    for (size_t i = 0; i < n_sets; i++)
        if (sim_scenario_set(&sc, sets[i], why, sizeof why) < 0) return die(2, "%s", why);
    if (seed) {
        char kv[128];
        snprintf(kv, sizeof kv, "seed = %.100s", seed);
        if (sim_scenario_set(&sc, kv, why, sizeof why) < 0)
            return die(2, "--seed %.100s: want a number up to 2^64-1", seed);
    }
    if (sim_scenario_check(&sc, why, sizeof why) < 0) return die(2, "%s: %s", path, why);

    FILE *rf = records ? fopen(records, "w") : NULL;
    if (records && !rf) return die(2, "%s: %s", records, strerror(errno));
    FILE *sf = summary ? fopen(summary, "w") : stdout;
    if (!sf) {
        if (rf) fclose(rf);
        return die(2, "%s: %s", summary, strerror(errno));
    }

    double t0 = seconds();
    sim_host_t host = {.wall = wall, .rss_base_kb = max_rss_kb()};
    const char *base = strrchr(path, '/');
    host.scenario_name = base ? base + 1 : path;
    int code = 0;
    sim_t *s = sim_new(&sc, why, sizeof why);
    if (!s || sim_run(s, why, sizeof why) < 0) {
        code = die(1, "%s", why);
        goto out;
    }
    sim_result_t r;
    sim_result(s, &r);
    host.rss_peak_kb = max_rss_kb();
    if (rf && sim_report_records(&r, rf) < 0) {
        code = die(1, "%s: write error", records);
        goto out;
    }
    host.engine_bytes = sim_free_engines(s);
    host.wall_s = seconds() - t0;
    if (sim_report_summary(&r, &host, sf) < 0) code = die(1, "writing the summary failed");
out:
    sim_free(&s);
    if (rf && fclose(rf) != 0 && !code) code = die(1, "%s: write error", records);
    if (sf != stdout && fclose(sf) != 0 && !code) code = die(1, "%s: write error", summary);
    return code;
}
