/*
 * report.c - what a run found: JSON Lines per message (--records) and a JSON summary. Every
 * figure is a function of the run alone, printed from integers (or from doubles computed the
 * same way each time), so one seed gives the same bytes; only the `host` object (wall clock
 * and memory) differs between runs, and --no-wall leaves it out.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

/* Sorts `n` values with `tmp` (room for n) by four byte-wide counting passes. */
static void radix_sort(uint32_t *v, uint32_t *tmp, size_t n)
{
    if (n < 64) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = v[i];
            size_t j = i;
            for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    for (unsigned shift = 0; shift < 32; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < n; i++) cnt[((v[i] >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++) cnt[b + 1] += cnt[b];
        for (size_t i = 0; i < n; i++) tmp[cnt[(v[i] >> shift) & 0xff]++] = v[i];
        memcpy(v, tmp, n * sizeof *v);
    }
}

/* Nearest rank: the smallest value with at least `pct` per cent of values at or below it. */
static uint64_t rank(const uint32_t *sorted, size_t n, unsigned pct)
{
    if (!n) return 0;
    size_t k = ((uint64_t)pct * n + 99) / 100;
    return sorted[k ? k - 1 : 0];
}

static uint64_t rank64(const uint64_t *sorted, size_t n, unsigned pct)
{
    if (!n) return 0;
    size_t k = ((uint64_t)pct * n + 99) / 100;
    return sorted[k ? k - 1 : 0];
}

/* Microseconds as milliseconds with three decimals. */
static void ms(FILE *f, uint64_t us)
{
    fprintf(f, "%llu.%03llu", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
}

/* The deliveries of each message (not its publisher's own), grouped: latencies in `lat`,
 * message m's at [start[m], start[m + 1]). */
typedef struct {
    uint32_t *lat;
    uint8_t *hops_max;
    uint64_t *start; /* messages + 1 */
    size_t n;
} groups_t;

static int group(const sim_result_t *r, groups_t *g)
{
    uint32_t nn = r->nodes, m = r->messages;
    memset(g, 0, sizeof *g);
    g->start = calloc((size_t)m + 1, sizeof *g->start);
    g->hops_max = calloc(m ? m : 1, 1);
    if (!g->start || !g->hops_max) return -1;
    for (uint32_t k = 0; k < m; k++) {
        const uint8_t *row = r->hop + (size_t)k * nn;
        uint64_t n = 0;
        for (uint32_t i = 0; i < nn; i++) n += row[i] != 0;
        g->start[k + 1] =
            g->start[k] + n - (r->msgs[k].publisher < nn && row[r->msgs[k].publisher]);
    }
    g->n = g->start[m];
    g->lat = malloc((g->n ? g->n : 1) * sizeof *g->lat);
    if (!g->lat) return -1;
    for (uint32_t k = 0; k < m; k++) {
        const uint8_t *row = r->hop + (size_t)k * nn;
        const uint32_t *lrow = r->lat + (size_t)k * nn;
        uint64_t at = g->start[k];
        for (uint32_t i = 0; i < nn; i++) {
            if (!row[i] || r->msgs[k].publisher == i) continue;
            g->lat[at++] = lrow[i];
            if (row[i] - 1 > g->hops_max[k]) g->hops_max[k] = (uint8_t)(row[i] - 1);
        }
    }
    return 0;
}

static void groups_free(groups_t *g)
{
    free(g->lat);
    free(g->hops_max);
    free(g->start);
}

int sim_report_records(const sim_result_t *r, FILE *f)
{
    groups_t g;
    uint32_t *tmp = NULL;
    int rc = -1;
    if (group(r, &g) < 0 || !(tmp = malloc((r->nodes + 1) * sizeof *tmp))) goto out;
    for (uint32_t k = 0; k < r->messages; k++) {
        const sim_msg_t *msg = &r->msgs[k];
        uint32_t *v = g.lat + g.start[k];
        size_t n = g.start[k + 1] - g.start[k];
        radix_sort(v, tmp, n);
        fprintf(f, "{\"index\":%u,\"publisher\":", k);
        if (msg->publisher == UINT32_MAX) {
            fprintf(f, "null,\"publish_ms\":null");
        } else {
            fprintf(f, "%u,\"publish_ms\":", msg->publisher);
            ms(f, msg->publish_us);
        }
        fprintf(f, ",\"valid\":%s,\"reached\":%zu,\"by_catchup\":%u,\"duplicates\":%u",
                msg->valid ? "true" : "false", n, msg->by_recon, msg->dups);
        fprintf(f, ",\"latency_p50_ms\":");
        ms(f, rank(v, n, 50));
        fprintf(f, ",\"latency_p90_ms\":");
        ms(f, rank(v, n, 90));
        fprintf(f, ",\"latency_max_ms\":");
        ms(f, n ? v[n - 1] : 0);
        fprintf(f, ",\"hops_max\":%u}\n", g.hops_max[k]);
    }
    rc = ferror(f) ? -1 : 0;
out:
    free(tmp);
    groups_free(&g);
    return rc;
}

static const char *const kind_names[SIM_F_KINDS] = {
    "event", "event_served", "graft", "prune", "ihave", "iwant", "recon", "batch", "ping", "peers",
};

/* Counts `v` less `pre` (NULL: none) per node and message, in total and by kind. */
static void per_node_msg(FILE *f, const char *indent, const char *name, const uint64_t *v,
                         const uint64_t *pre, double div)
{
    uint64_t total = 0, d[SIM_F_KINDS];
    for (int k = 0; k < SIM_F_KINDS; k++) total += d[k] = v[k] - (pre ? pre[k] : 0);
    fprintf(f, "%s\"%s\": {\"total\": %.4f", indent, name, total / div);
    for (int k = 0; k < SIM_F_KINDS; k++) fprintf(f, ", \"%s\": %.4f", kind_names[k], d[k] / div);
    fprintf(f, "},\n");
}

/* `"hops": {max, mean, histogram}` of deliveries by gossip, by hops. */
static void hops(FILE *f, const char *indent, const uint64_t *hist)
{
    int hmax = 0;
    uint64_t hsum = 0, hn = 0;
    for (int k = 0; k < 256; k++)
        if (hist[k]) {
            hmax = k;
            hsum += (uint64_t)k * hist[k];
            hn += hist[k];
        }
    fprintf(f, "%s\"hops\": {\"max\": %d, \"mean\": %.3f, \"histogram\": [", indent, hmax,
            hn ? (double)hsum / hn : 0.0);
    for (int k = 0; k <= hmax; k++)
        fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)hist[k]);
    fprintf(f, "]},\n");
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void time_text(FILE *f, double us)
{
    fprintf(f, "%.0fus", us);
}

static void scenario_params(FILE *f, const sim_scenario_t *sc)
{
    static const char *const lat_names[] = {"const", "uniform", "normal", "lognormal"};
    fprintf(f,
            "  \"params\": {\"peers\": %u, \"peers_max\": %u, \"d\": %u, \"d_lo\": %u, "
            "\"d_hi\": %u, \"d_lazy\": %u, \"heartbeat_ms\": %u, \"history_length\": %u, "
            "\"history_gossip\": %u, \"seen_max\": %u, \"seen_ttl_ms\": %u, \"latency\": \"%s ",
            sc->peers, sc->peers_max, sc->d, sc->d_lo, sc->d_hi, sc->d_lazy, sc->heartbeat_ms,
            sc->history_length, sc->history_gossip, sc->seen_max, sc->seen_ttl_ms,
            lat_names[sc->latency.kind]);
    time_text(f, sc->latency.a);
    if (sc->latency.kind != SIM_LAT_CONST) {
        fputc(' ', f);
        time_text(f, sc->latency.b);
    }
    fprintf(f,
            "\", \"latency_sample\": \"%s\", \"loss\": %.6f, \"bandwidth_bps\": %llu, "
            "\"event_bytes\": %u, \"rate\": %.3f, \"publishers\": %u, \"start_ms\": ",
            sc->latency_per_link ? "link" : "frame", sc->loss, (unsigned long long)sc->bandwidth,
            sc->event_bytes, sc->rate, sc->publishers);
    ms(f, sc->start_us);
    fprintf(f,
            ", \"invalid\": %.6f, \"recon_interval_ms\": %u, \"process_us\": %llu, "
            "\"process_event_us\": %llu, \"heartbeat_us\": %llu, \"cores\": %u, "
            "\"keepalive\": %s, \"setup\": \"%s\", \"window_from\": %u, \"drain_ms\": ",
            sc->invalid, sc->recon_interval_ms, (unsigned long long)sc->process_us,
            (unsigned long long)sc->process_event_us, (unsigned long long)sc->heartbeat_us,
            sc->cores, sc->keepalive ? "true" : "false",
            sc->setup_sequential ? "sequential" : "random", sc->window_from);
    ms(f, sc->drain_us);
    fprintf(f, ", \"timed_lines\": %zu, \"score\": %s},\n", sc->n_at, sc->score ? "true" : "false");
}

/* ---- attacks ---- */

/* Deliveries to honest nodes (or to the victims only) of valid messages published in
 * [from, to), not counting their publishers; the latencies of those delivered go in `lat`. */
typedef struct {
    uint32_t messages;
    uint64_t expected, delivered;
    size_t n_lat;
} window_t;

static void window(const sim_result_t *r, uint64_t from, uint64_t to, bool victims_only,
                   window_t *w, uint32_t *lat)
{
    const uint8_t *role = r->attack.role;
    memset(w, 0, sizeof *w);
    for (uint32_t k = 0; k < r->messages; k++) {
        const sim_msg_t *msg = &r->msgs[k];
        if (msg->publisher == UINT32_MAX || !msg->valid || msg->publish_us < from ||
            msg->publish_us >= to || role[msg->publisher] == SIM_ROLE_HOSTILE)
            continue;
        w->messages++;
        const uint8_t *row = r->hop + (size_t)k * r->nodes;
        const uint32_t *lrow = r->lat + (size_t)k * r->nodes;
        for (uint32_t i = 0; i < r->nodes; i++) {
            bool counted = victims_only ? role[i] == SIM_ROLE_VICTIM : role[i] != SIM_ROLE_HOSTILE;
            if (!counted || i == msg->publisher) continue;
            w->expected++;
            if (!row[i]) continue;
            w->delivered++;
            lat[w->n_lat++] = lrow[i];
        }
    }
}

/* `"NAME": {messages, expected, delivered, ratio, latency_p99_ms}`; null figures when empty. */
static void window_json(FILE *f, const char *name, const sim_result_t *r, uint64_t from,
                        uint64_t to, bool victims_only, uint32_t *lat, uint32_t *tmp)
{
    window_t w;
    window(r, from, to, victims_only, &w, lat);
    radix_sort(lat, tmp, w.n_lat);
    fprintf(f,
            "\"%s\": {\"messages\": %u, \"expected\": %llu, \"delivered\": %llu, \"ratio\": ", name,
            w.messages, (unsigned long long)w.expected, (unsigned long long)w.delivered);
    if (w.expected)
        fprintf(f, "%.6f", (double)w.delivered / w.expected);
    else
        fprintf(f, "null");
    fprintf(f, ", \"latency_p99_ms\": ");
    if (w.n_lat)
        ms(f, rank(lat, w.n_lat, 99));
    else
        fprintf(f, "null");
    fprintf(f, "}");
}

/* part / of with four decimals; null when `of` is 0. */
static void ratio_json(FILE *f, uint64_t part, uint64_t of)
{
    if (of)
        fprintf(f, "%.4f", (double)part / of);
    else
        fprintf(f, "null");
}

/* The `attack` object: honest delivery before the attack, during it and late in it (from
 * `recovery` after its start), the victims' own, and what the engines made of the attackers. */
static int attack_json(FILE *f, const sim_result_t *r, size_t deliveries)
{
    static const char *const names[] = {"none", "sybil", "eclipse", "flash", "coldboot"};
    const sim_scenario_t *sc = r->sc;
    const sim_attack_result_t *a = &r->attack;
    uint32_t *lat = malloc((deliveries + 1) * sizeof *lat);
    uint32_t *tmp = malloc((deliveries + 1) * sizeof *tmp);
    if (!lat || !tmp) {
        free(lat);
        free(tmp);
        return -1;
    }
    uint64_t at = a->attack_us, late = at + sc->recovery_us;
    fprintf(f, "  \"attack\": {\"kind\": \"%s\", \"hostile\": %u, \"victims\": %u, \"at_ms\": ",
            sc->attack < 5 ? names[sc->attack] : "?", a->hostile, a->victims);
    ms(f, at);
    fprintf(f, ", \"late_from_ms\": ");
    ms(f, late);
    fprintf(f,
            ", \"hostile_peers\": %u, \"hostile_addrs\": %u, \"hostile_ihave\": %s, "
            "\"hostile_backoff\": %s, \"hostile_invalid\": %u, \"victim_peers\": %u, "
            "\"join_ms\": ",
            sc->hostile_peers ? sc->hostile_peers : sc->peers, sc->hostile_addrs,
            sc->hostile_ihave ? "true" : "false", sc->hostile_backoff ? "true" : "false",
            sc->hostile_invalid, a->victims && sc->victim_peers ? sc->victim_peers : sc->peers);
    ms(f, sc->attack == SIM_ATTACK_COLDBOOT ? sc->join_us : 0);
    fprintf(f, ",\n    \"honest\": {");
    window_json(f, "before", r, 0, at, false, lat, tmp);
    fprintf(f, ", ");
    window_json(f, "during", r, at, UINT64_MAX, false, lat, tmp);
    fprintf(f, ", ");
    window_json(f, "late", r, late, UINT64_MAX, false, lat, tmp);
    fprintf(f, "},\n    \"victims\": ");
    if (a->victims) {
        fprintf(f, "{");
        window_json(f, "before", r, 0, at, true, lat, tmp);
        fprintf(f, ", ");
        window_json(f, "during", r, at, UINT64_MAX, true, lat, tmp);
        fprintf(f, ", ");
        window_json(f, "late", r, late, UINT64_MAX, true, lat, tmp);
        fprintf(f, "}");
    } else {
        fprintf(f, "null");
    }
    fprintf(f, ",\n    \"mesh_hostile_share\": {\"at_attack\": ");
    ratio_json(f, a->at_attack.hostile, a->at_attack.places);
    fprintf(f, ", \"peak\": ");
    ratio_json(f, a->peak.hostile, a->peak.places);
    fprintf(f, ", \"end\": ");
    ratio_json(f, a->at_end.hostile, a->at_end.places);
    fprintf(f, ", \"victims_at_attack\": ");
    ratio_json(f, a->at_attack.victim_hostile, a->at_attack.victim_places);
    fprintf(f, ", \"victims_end\": ");
    ratio_json(f, a->at_end.victim_hostile, a->at_end.victim_places);
    fprintf(f, ", \"honest_mesh_mean_end\": ");
    ratio_json(f, a->at_end.places, a->at_end.nodes);
    fprintf(
        f,
        "},\n    \"graylisted_frames\": %llu, \"score_drops\": %llu, \"withheld_events\": %llu, "
        "\"withheld_served\": %llu, \"eager_grafts\": %llu, \"invalid_sent\": %llu, "
        "\"invalid_reported\": %llu,\n",
        (unsigned long long)a->graylisted_frames, (unsigned long long)a->score_drops,
        (unsigned long long)a->withheld_events, (unsigned long long)a->withheld_served,
        (unsigned long long)a->eager_grafts, (unsigned long long)a->invalid_sent,
        (unsigned long long)a->invalid_reported);
    fprintf(f,
            "    \"engines\": {\"pruned_by_score\": %llu, \"opportunistic_grafts\": %llu, "
            "\"backoff_grafts\": %llu, \"broken_promises\": %llu},\n",
            (unsigned long long)a->pruned_by_score, (unsigned long long)a->opportunistic_grafts,
            (unsigned long long)a->backoff_grafts, (unsigned long long)a->broken_promises);
    fprintf(f, "    \"scores_at_end\": {\"hostile_mean\": ");
    if (a->score_hostile_n)
        fprintf(f, "%.4f", a->score_hostile_sum / a->score_hostile_n);
    else
        fprintf(f, "null");
    fprintf(f, ", \"honest_mean\": ");
    if (a->score_honest_n)
        fprintf(f, "%.4f", a->score_honest_sum / a->score_honest_n);
    else
        fprintf(f, "null");
    fprintf(f, ", \"hostile_graylisted\": %llu}\n  },\n",
            (unsigned long long)a->hostile_graylisted);
    free(lat);
    free(tmp);
    return 0;
}

int sim_report_summary(const sim_result_t *r, const sim_host_t *h, FILE *f)
{
    const sim_scenario_t *sc = r->sc;
    groups_t g;
    uint32_t *tmp = NULL;
    uint64_t *cu = NULL;
    int rc = -1;
    if (group(r, &g) < 0 || !(tmp = malloc((g.n ? g.n : 1) * sizeof *tmp))) goto out;
    uint64_t valid = 0, expected = 0, everywhere = 0;
    for (uint32_t k = 0; k < r->messages; k++) {
        const sim_msg_t *msg = &r->msgs[k];
        if (msg->publisher == UINT32_MAX || !msg->valid) continue;
        valid++;
        expected += r->nodes - 1;
        everywhere += g.start[k + 1] - g.start[k] == r->nodes - 1;
    }
    uint64_t delivered = g.n, lacking = 0;
    uint8_t *lacks = calloc(r->nodes, 1);
    if (!lacks) goto out;
    for (uint32_t k = 0; k < r->messages; k++) {
        const sim_msg_t *msg = &r->msgs[k];
        const uint8_t *row = r->hop + (size_t)k * r->nodes;
        if (msg->publisher == UINT32_MAX || !msg->valid) continue;
        for (uint32_t i = 0; i < r->nodes; i++) lacks[i] |= !row[i];
    }
    for (uint32_t i = 0; i < r->nodes; i++) lacking += lacks[i];
    free(lacks);
    radix_sort(g.lat, tmp, g.n);

    fprintf(f, "{\n  \"simulator\": \"rumor-sim\",\n");
    fprintf(f, "  \"scenario\": ");
    json_string(f, h->scenario_name);
    fprintf(f, ",\n");
    fprintf(f, "  \"seed\": %llu,\n", (unsigned long long)sc->seed);
    fprintf(f,
            "  \"nodes\": %u,\n  \"links\": %llu,\n  \"degree_mean\": %.3f,\n  \"degree_median\": "
            "%u,\n",
            r->nodes, (unsigned long long)r->links_start, (double)r->degree_sum_start / r->nodes,
            r->degree_median_start);
    static const char *const strategies[] = {"gossipsub", "flood", "tree"};
    fprintf(f, "  \"topics\": %u,\n  \"strategy\": \"%s\",\n", sc->topics,
            sc->strategy < 3 ? strategies[sc->strategy] : "?");
    scenario_params(f, sc);
    fprintf(f, "  \"validation\": \"oracle\",\n  \"catchup\": \"modelled\",\n");
    fprintf(f, "  \"messages\": %u,\n  \"published\": %u,\n  \"valid\": %llu,\n", r->messages,
            r->published, (unsigned long long)valid);
    fprintf(f,
            "  \"delivery\": {\"expected\": %llu, \"delivered\": %llu, \"ratio\": %.6f, "
            "\"by_gossip\": %llu, \"by_catchup\": %llu, \"messages_everywhere\": %llu, "
            "\"nodes_missing_some\": %llu},\n",
            (unsigned long long)expected, (unsigned long long)delivered,
            expected ? (double)delivered / expected : 1.0,
            (unsigned long long)(r->deliveries - r->by_recon), (unsigned long long)r->by_recon,
            (unsigned long long)everywhere, (unsigned long long)lacking);
    fprintf(f, "  \"latency_ms\": {\"p50\": ");
    ms(f, rank(g.lat, g.n, 50));
    fprintf(f, ", \"p90\": ");
    ms(f, rank(g.lat, g.n, 90));
    fprintf(f, ", \"p99\": ");
    ms(f, rank(g.lat, g.n, 99));
    fprintf(f, ", \"max\": ");
    ms(f, g.n ? g.lat[g.n - 1] : 0);
    fprintf(f, "},\n");
    fprintf(f, "  \"duplicates_per_delivery\": %.4f,\n",
            r->deliveries ? (double)r->duplicates / r->deliveries : 0.0);
    fprintf(f, "  \"duplicates_from_outside_mesh\": %.4f,\n",
            r->deliveries ? (double)r->duplicates_unmeshed / r->deliveries : 0.0);
    fprintf(f, "  \"relayed_with_empty_mesh\": %.4f,\n",
            r->deliveries ? (double)r->relays_meshless / r->deliveries : 0.0);
    fprintf(f, "  \"invalid_dropped\": %llu,\n", (unsigned long long)r->invalid_dropped);
    double div = (double)r->nodes * (r->published ? r->published : 1);
    per_node_msg(f, "  ", "frames_per_node_per_message", r->frames, NULL, div);
    per_node_msg(f, "  ", "bytes_per_node_per_message", r->bytes, NULL, div);
    /* From the publication of message window_from (0: the first) to the end, as
     * bench/bench_mesh.py counts frames. */
    uint32_t wmsgs = r->published > sc->window_from ? r->published - sc->window_from : 0;
    double wdiv = (double)r->nodes * (wmsgs ? wmsgs : 1);
    fprintf(f, "  \"publish_window\": {\n    \"messages\": %u, \"from_ms\": ", wmsgs);
    ms(f, r->window_open ? r->window_us : r->end_us);
    fprintf(f, ", \"to_ms\": ");
    ms(f, r->end_us);
    fprintf(f, ", \"mesh_mean\": %.3f, \"meshes_below_d_lo\": %llu,\n",
            r->mesh_nodes ? (double)r->mesh_sum / r->mesh_nodes : 0.0,
            (unsigned long long)r->mesh_below_lo);
    const uint64_t *fpre = r->window_open ? r->frames_pre : r->frames;
    const uint64_t *bpre = r->window_open ? r->bytes_pre : r->bytes;
    per_node_msg(f, "    ", "frames_per_node_per_message", r->frames, fpre, wdiv);
    per_node_msg(f, "    ", "bytes_per_node_per_message", r->bytes, bpre, wdiv);
    hops(f, "    ", r->window_hop_hist);
    fprintf(f, "    \"duplicates_per_delivery\": %.4f\n  },\n",
            r->deliveries - r->deliveries_pre
                ? (double)(r->duplicates - r->duplicates_pre) / (r->deliveries - r->deliveries_pre)
                : 0.0);
    fprintf(f, "  \"process\": {\"frames\": %llu, \"wait_ms_mean\": %.4f},\n",
            (unsigned long long)r->processed,
            r->processed ? r->process_wait_us / 1000.0 / r->processed : 0.0);
    fprintf(f,
            "  \"frames_lost\": {\"loss\": %llu, \"partition\": %llu, \"link_down\": %llu, "
            "\"catchup_lists\": %llu},\n",
            (unsigned long long)r->lost_loss, (unsigned long long)r->lost_cut,
            (unsigned long long)r->lost_down, (unsigned long long)r->lost_recon);
    hops(f, "  ", r->hop_hist);
    fprintf(f, "  \"partitions\": [");
    for (size_t i = 0; i < r->n_heals; i++) {
        const sim_heal_t *hl = &r->heals[i];
        fprintf(f, "%s{\"at_ms\": ", i ? ", " : "");
        ms(f, hl->at_us);
        fprintf(f, ", \"heal_ms\": ");
        ms(f, hl->heal_us);
        fprintf(f, ", \"convergence_ms\": ");
        if (hl->converged == UINT64_MAX)
            fprintf(f, "null");
        else
            ms(f, hl->converged);
        fprintf(f, ", \"pairs_missing_at_end\": %llu}", (unsigned long long)hl->missing);
    }
    fprintf(f, "],\n");
    cu = malloc((r->n_catchup ? r->n_catchup : 1) * sizeof *cu);
    if (!cu) goto out;
    if (r->n_catchup) memcpy(cu, r->catchup_us, r->n_catchup * sizeof *cu);
    for (size_t i = 1; i < r->n_catchup; i++) { /* few: one per return */
        uint64_t x = cu[i];
        size_t j = i;
        for (; j > 0 && cu[j - 1] > x; j--) cu[j] = cu[j - 1];
        cu[j] = x;
    }
    fprintf(f,
            "  \"churn\": {\"leaves\": %llu, \"returns\": %llu, \"caught_up\": %zu, "
            "\"not_caught_up\": %llu, \"catchup_ms\": {\"p50\": ",
            (unsigned long long)r->leaves, (unsigned long long)r->returns, r->n_catchup,
            (unsigned long long)r->catchup_open);
    if (r->n_catchup)
        ms(f, rank64(cu, r->n_catchup, 50));
    else
        fprintf(f, "null");
    fprintf(f, ", \"max\": ");
    if (r->n_catchup)
        ms(f, cu[r->n_catchup - 1]);
    else
        fprintf(f, "null");
    fprintf(f, "}},\n");
    if (r->attack.hostile && attack_json(f, r, g.n) < 0) goto out;
    fprintf(f, "  \"nodes_up_at_end\": %u,\n  \"simulated_ms\": ", r->nodes_up_end);
    ms(f, r->end_us);
    fprintf(f, ",\n  \"events_simulated\": %llu,\n  \"stopped_early\": %s",
            (unsigned long long)r->events, r->stopped_early ? "true" : "false");
    if (h->wall) {
        double base = h->rss_base_kb, peak = h->rss_peak_kb;
        fprintf(f,
                ",\n  \"host\": {\"wall_s\": %.3f, \"peak_rss_mb\": %.1f, "
                "\"rss_before_nodes_mb\": %.1f, \"kb_per_node\": %.2f, "
                "\"engine_heap_kb_per_node\": %.2f}",
                h->wall_s, peak / 1024, base / 1024, (peak - base) / r->nodes,
                h->engine_bytes / 1024.0 / r->nodes);
    }
    fprintf(f, "\n}\n");
    rc = ferror(f) ? -1 : 0;
out:
    free(cu);
    free(tmp);
    groups_free(&g);
    return rc;
}
