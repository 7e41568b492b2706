/*
 * fuzz_links.c - libFuzzer target for the node's bounded tables (PROTOCOL.md 9.4, 9.5, 9.7):
 * the input is a script of what peers and the transport do (handshakes, accepts, HELLOs,
 * closes, time passing, candidates offered by sources, taints, spends against rates), played
 * on gossip/links.c, gossip/cands.c and gossip/quota.c. After every step the limits must hold:
 * no table beyond its size, no key beyond its handshakes, no source beyond its candidates, one
 * hearsay key per endpoint, no key twice, no descriptor twice. A breach aborts so libFuzzer
 * keeps the input.
 */
#include "rumor_gossip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

#define CANDS_MAX 12

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_links: %s\n", what);
    abort();
}

static void check_links(const rumor_gossip_links_t *l)
{
    if (l->n_links > l->lim.inbound_max) fuzz_fail("more links than inbound_max");
    if (l->n_grants > l->lim.pending_max) fuzz_fail("more grants than pending_max");
    for (size_t i = 0; i < l->n_grants; i++) {
        size_t same = 0;
        for (size_t j = 0; j < l->n_grants; j++)
            same += memcmp(l->grants[i].key, l->grants[j].key, 32) == 0;
        if (same > l->lim.per_key_max) fuzz_fail("a key holds more grants than per_key_max");
    }
    for (size_t i = 0; i < l->n_links; i++)
        for (size_t j = i + 1; j < l->n_links; j++)
            if (l->links[i].fd == l->links[j].fd) fuzz_fail("a descriptor tracked twice");
}

static void check_cands(const rumor_gossip_cand_t *c, size_t n,
                        const rumor_gossip_cand_limits_t *lim)
{
    if (n > lim->max) fuzz_fail("more candidates than the table holds");
    for (size_t i = 0; i < n; i++) {
        size_t same_source = 0;
        for (size_t j = 0; j < n; j++) {
            if (i != j && memcmp(c[i].pk, c[j].pk, ID) == 0) fuzz_fail("a candidate key twice");
            if (i != j && c[i].found == RUMOR_FOUND_EXCHANGE &&
                c[j].found == RUMOR_FOUND_EXCHANGE && c[i].port == c[j].port &&
                strcmp(c[i].host, c[j].host) == 0)
                fuzz_fail("two hearsay keys at one endpoint");
            same_source += c[j].found == c[i].found && memcmp(c[i].source, c[j].source, ID) == 0;
        }
        if ((c[i].found == RUMOR_FOUND_EXCHANGE || c[i].found == RUMOR_FOUND_LAN) &&
            same_source > lim->per_source_max)
            fuzz_fail("a source placed more than per_source_max");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rumor_gossip_links_t l;
    rumor_gossip_link_limits_t ll = {.inbound_max = 6,
                                     .pending_max = 5,
                                     .per_addr_max = 2,
                                     .per_key_max = 2,
                                     .hello_timeout_ms = 50};
    if (rumor_gossip_links_init(&l, &ll) != RUMOR_OK) fuzz_fail("init");
    rumor_gossip_quota_t q;
    if (rumor_gossip_quota_init(&q, 3, (rumor_gossip_rate_t){2.0, 4.0},
                                (rumor_gossip_rate_t){100.0, 300.0}) != RUMOR_OK)
        fuzz_fail("quota init");
    rumor_gossip_cand_t cands[CANDS_MAX];
    size_t n_cands = 0;
    rumor_gossip_cand_limits_t cl = {CANDS_MAX, 3};
    uint64_t now = 1;
    size_t i = 0;
    while (i + 4 <= size) {
        uint8_t op = data[i] % 9, a = data[i + 1], b = data[i + 2], c = data[i + 3];
        i += 4;
        uint8_t addr[16] = {0}, key[32];
        addr[15] = a % 4;
        memset(key, b % 8, sizeof key);
        switch (op) {
        case 0: rumor_gossip_link_admit(&l, addr, key, c & 1, now); break;
        case 1: rumor_gossip_link_accepted(&l, c % 12, addr, now); break;
        case 2: {
            uint8_t older[16];
            int fd = rumor_gossip_link_hello(&l, c % 12, key, now, older);
            if (fd == c % 12) fuzz_fail("a HELLO names its own link as the older one");
            break;
        }
        case 3: rumor_gossip_link_closed(&l, c % 12); break;
        case 4: {
            now += c;
            rumor_gossip_link_t out[8];
            size_t k = rumor_gossip_links_silent(&l, now, out, 8);
            for (size_t j = 0; j < k; j++)
                if (out[j].hello) fuzz_fail("a link that said HELLO called silent");
            break;
        }
        case 5:
        case 6: {
            rumor_gossip_cand_t o = {.port = (uint16_t)(1 + c % 4), .found = (uint8_t)(1 + a % 5)};
            memset(o.pk, b % 16, ID);
            snprintf(o.host, sizeof o.host, "10.0.0.%u", (unsigned)(c >> 4) % 3);
            memset(o.source, a >> 4, ID);
            rumor_gossip_cand_offer_t r =
                rumor_gossip_cand_offer(cands, &n_cands, &cl, &o, now, (uint32_t)(a * 31 + c));
            if (r > RUMOR_GOSSIP_CAND_REFUSED_FULL) fuzz_fail("an unknown offer result");
            if (op == 6 && n_cands) rumor_gossip_cand_take_turn(&cands[c % n_cands], now);
            break;
        }
        case 7: {
            uint8_t source[ID];
            memset(source, a >> 4, ID);
            rumor_gossip_cands_taint(cands, &n_cands, source, c & 1);
            break;
        }
        case 8: {
            uint8_t scope[ID];
            memset(scope, a % 3, ID);
            rumor_gossip_quota_spend(&q, key, scope, (size_t)c * 2, now);
            break;
        }
        }
        check_links(&l);
        check_cands(cands, n_cands, &cl);
        if (q.n > q.cap) fuzz_fail("more rate entries than the table holds");
    }
    rumor_gossip_links_free(&l);
    rumor_gossip_quota_free(&q);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* A handshake flood from one address, a HELLO story, and a candidate flood from one source. */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    uint8_t buf[256];
    size_t n = 0;
    for (uint8_t k = 0; k < 12; k++) {
        uint8_t step[4] = {0, 1, k, 0};
        memcpy(buf + n, step, 4);
        n += 4;
    }
    emit(ctx, "seed-handshakes", buf, n);
    static const uint8_t story[] = {1, 1, 0, 3, 0, 1, 2, 0, 2, 1, 2, 3,  1, 1, 0, 4,
                                    2, 1, 2, 4, 3, 0, 0, 3, 4, 0, 0, 60, 3, 0, 0, 4};
    emit(ctx, "seed-story", story, sizeof story);
    n = 0;
    for (uint8_t k = 0; k < 20; k++) {
        uint8_t step[4] = {5, 0x12, k, (uint8_t)(k * 17)};
        memcpy(buf + n, step, 4);
        n += 4;
    }
    uint8_t taint[4] = {7, 0x12, 0, 0};
    memcpy(buf + n, taint, 4);
    emit(ctx, "seed-hearsay", buf, n + 4);
}
