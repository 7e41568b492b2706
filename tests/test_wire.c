/*
 * test_wire.c - unit tests of the bytes a node takes from outside: peer
 * frames and LAN beacons (PROTOCOL.md 9.2, 9.6), control records (11),
 * invite codes (10.1) and the configuration file.
 *
 * Every valid frame is also cut at every length and extended by a byte: what
 * still decodes must re-encode to exactly the bytes it came from.
 */
#include "rumor_gossip.h"
#include "rumor_node.h"
#include "test.h"

#include <sodium.h>

#define ID RUMOR_ID_BYTES

/* ---- helpers ------------------------------------------------------------------------------- */

/* Decodes a hex string of any even length into `out` (capacity `cap`); returns its length. */
static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex) / 2;
    if (n > cap || rumor_hex_decode(out, n, hex) != RUMOR_OK) {
        fprintf(stderr, "bad test vector %s\n", hex);
        exit(2);
    }
    return n;
}

/* An id whose bytes are all `b`. */
static const uint8_t *id_of(uint8_t b)
{
    static uint8_t ids[256][ID];
    memset(ids[b], b, ID);
    return ids[b];
}

/* Encodes `f`, decodes the result, and checks that it re-encodes to the same bytes. */
static size_t round_trip(const rumor_wire_frame_t *f, uint8_t *out, size_t cap,
                         rumor_wire_frame_t *back)
{
    size_t len = rumor_wire_encode(f, out, cap);
    CHECK(len > 0);
    if (len == 0) return 0;
    CHECK_EQ_INT(rumor_wire_decode(out, len, back), RUMOR_OK);
    CHECK_EQ_INT(back->type, f->type);
    static uint8_t again[RUMOR_WIRE_FRAME_MAX];
    size_t len2 = rumor_wire_encode(back, again, sizeof again);
    CHECK_EQ_INT(len2, len);
    CHECK_EQ_MEM(again, out, len);
    return len;
}

/* Every cut of a valid frame fails or re-encodes to exactly the cut; so does one more byte. */
static void check_cuts(const uint8_t *frame, size_t len)
{
    static uint8_t buf[RUMOR_WIRE_FRAME_MAX + 1], again[RUMOR_WIRE_FRAME_MAX];
    rumor_wire_frame_t f;
    memcpy(buf, frame, len);
    for (size_t cut = 0; cut <= len + 1 && cut <= RUMOR_WIRE_FRAME_MAX; cut++) {
        if (cut == len) continue;
        if (cut == len + 1) buf[len] = 0x00;
        int rc = rumor_wire_decode(buf, cut, &f);
        if (rc != RUMOR_OK) {
            CHECK_EQ_INT(rc, RUMOR_ERR_MALFORMED);
            CHECK_EQ_INT(f.type, 0);
            continue;
        }
        /* Only an EVENT frame's body may have another length. */
        CHECK_EQ_INT(f.type, RUMOR_WIRE_EVENT);
        size_t n = rumor_wire_encode(&f, again, sizeof again);
        CHECK_EQ_INT(n, cut);
        CHECK_EQ_MEM(again, buf, cut);
    }
}

/* ---- frames -------------------------------------------------------------------------------- */

static void test_wire_round_trip(void)
{
    static uint8_t out[RUMOR_WIRE_FRAME_MAX], event[RUMOR_EVENT_MAX];
    uint8_t topics[3 * ID], ids[RUMOR_WIRE_IDS_MAX * ID];
    rumor_wire_frame_t f, b;
    size_t len;

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_HELLO;
    f.pk = id_of(0xa1);
    f.port = 7470;
    f.flags = 1;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 2 + ID + 3);
    CHECK_EQ_MEM(b.pk, id_of(0xa1), ID);
    CHECK_EQ_INT(b.port, 7470);
    CHECK_EQ_INT(b.flags, 1);
    check_cuts(out, len);
    f.port = 0;
    f.flags = 0;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(b.port, 0);
    CHECK_EQ_INT(b.flags, 0);

    uint8_t types[] = {RUMOR_WIRE_PING, RUMOR_WIRE_PONG};
    for (size_t i = 0; i < 2; i++) {
        memset(&f, 0, sizeof f);
        f.type = types[i];
        f.nonce = UINT64_C(0x0102030405060708) + i;
        len = round_trip(&f, out, sizeof out, &b);
        CHECK_EQ_INT(len, 10);
        CHECK(b.nonce == f.nonce);
        check_cuts(out, len);
    }

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_SUB;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 4);
    CHECK_EQ_INT(b.n, 0);
    CHECK(b.ids == NULL);
    memcpy(topics, id_of(0x00), ID);
    memcpy(topics + ID, id_of(0x10), ID);
    memcpy(topics + 2 * ID, id_of(0xff), ID);
    f.ids = topics;
    f.n = 3;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 4 + 3 * ID);
    CHECK_EQ_INT(b.n, 3);
    CHECK_EQ_MEM(b.ids, topics, sizeof topics);
    check_cuts(out, len);

    /* The largest subscription set: 256 topics, ascending by their last two bytes. */
    static uint8_t many[RUMOR_WIRE_TOPICS_MAX * ID];
    memset(many, 0, sizeof many);
    for (size_t i = 0; i < RUMOR_WIRE_TOPICS_MAX; i++)
        rumor_put_u16(many + i * ID + ID - 2, (uint16_t)i);
    f.ids = many;
    f.n = RUMOR_WIRE_TOPICS_MAX;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 4 + RUMOR_WIRE_TOPICS_MAX * ID);
    check_cuts(out, len);

    uint8_t graft_types[] = {RUMOR_WIRE_GRAFT, RUMOR_WIRE_PRUNE, RUMOR_WIRE_INVITED};
    for (size_t i = 0; i < 3; i++) {
        memset(&f, 0, sizeof f);
        f.type = graft_types[i];
        f.topic = id_of(0x42);
        len = round_trip(&f, out, sizeof out, &b);
        CHECK_EQ_INT(len, 2 + ID);
        CHECK_EQ_MEM(b.topic, id_of(0x42), ID);
        check_cuts(out, len);
    }

    memset(&f, 0, sizeof f);
    for (size_t i = 0; i < sizeof event; i++) event[i] = (uint8_t)(i * 7);
    f.type = RUMOR_WIRE_EVENT;
    f.event = event;
    f.event_len = 1;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 3);
    CHECK_EQ_INT(b.event_len, 1);
    f.event_len = 300;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(b.event_len, 300);
    CHECK_EQ_MEM(b.event, event, 300);
    check_cuts(out, len);
    f.event_len = RUMOR_EVENT_MAX;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 2 + RUMOR_EVENT_MAX);
    CHECK_EQ_INT(b.event_len, RUMOR_EVENT_MAX);

    for (size_t i = 0; i < RUMOR_WIRE_IDS_MAX; i++) memset(ids + i * ID, (int)(0x80 - i), ID);
    size_t counts[] = {1, 2, RUMOR_WIRE_IDS_MAX};
    for (size_t k = 0; k < 3; k++) {
        memset(&f, 0, sizeof f);
        f.type = RUMOR_WIRE_IHAVE;
        f.topic = id_of(0x07);
        f.ids = ids;
        f.n = counts[k];
        len = round_trip(&f, out, sizeof out, &b);
        CHECK_EQ_INT(len, 2 + ID + 1 + counts[k] * ID);
        CHECK_EQ_INT(b.n, counts[k]);
        CHECK_EQ_MEM(b.topic, id_of(0x07), ID);
        CHECK_EQ_MEM(b.ids, ids, counts[k] * ID);
        if (k < 2) check_cuts(out, len);
        f.type = RUMOR_WIRE_IWANT;
        f.topic = NULL;
        len = round_trip(&f, out, sizeof out, &b);
        CHECK_EQ_INT(len, 2 + 1 + counts[k] * ID);
        CHECK(b.topic == NULL);
        CHECK_EQ_MEM(b.ids, ids, counts[k] * ID);
        if (k < 2) check_cuts(out, len);
    }

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_PEERS;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 3);
    CHECK_EQ_INT(b.n, 0);
    for (size_t i = 0; i < RUMOR_WIRE_PEERS_MAX; i++) {
        rumor_wire_peer_t *p = &f.peers[i];
        memcpy(p->pk, id_of((uint8_t)(0x30 + i)), ID);
        p->family = i % 2 ? 6 : 4;
        for (size_t j = 0; j < (i % 2 ? 16u : 4u); j++) p->addr[j] = (uint8_t)(i + j + 1);
        p->port = (uint16_t)(1000 + i);
    }
    f.n = RUMOR_WIRE_PEERS_MAX;
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 3 + 8 * (ID + 7) + 8 * (ID + 19));
    CHECK_EQ_INT(b.n, RUMOR_WIRE_PEERS_MAX);
    CHECK_EQ_MEM(b.peers, f.peers, sizeof f.peers);
    check_cuts(out, len);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_JOIN;
    f.topic = id_of(0x55);
    f.token = id_of(0x66);
    len = round_trip(&f, out, sizeof out, &b);
    CHECK_EQ_INT(len, 2 + ID + RUMOR_WIRE_TOKEN_BYTES);
    CHECK_EQ_MEM(b.topic, id_of(0x55), ID);
    CHECK_EQ_MEM(b.token, id_of(0x66), RUMOR_WIRE_TOKEN_BYTES);
    check_cuts(out, len);

    for (uint8_t status = 0; status <= 3; status++) {
        memset(&f, 0, sizeof f);
        f.type = RUMOR_WIRE_JOINED;
        f.topic = id_of(0x55);
        f.status = status;
        len = round_trip(&f, out, sizeof out, &b);
        CHECK_EQ_INT(len, 2 + ID + 1);
        CHECK_EQ_INT(b.status, status);
        check_cuts(out, len);
    }

    uint16_t maxes[] = {1, 100, RUMOR_WIRE_SYNC_MAX};
    for (size_t i = 0; i < 3; i++) {
        memset(&f, 0, sizeof f);
        f.type = RUMOR_WIRE_SYNC;
        f.topic = id_of(0x77);
        f.lamport = UINT64_MAX - i;
        f.cursor_id = id_of(0x88);
        f.max = maxes[i];
        len = round_trip(&f, out, sizeof out, &b);
        CHECK_EQ_INT(len, 2 + ID + 8 + ID + 2);
        CHECK(b.lamport == UINT64_MAX - i);
        CHECK_EQ_MEM(b.cursor_id, id_of(0x88), ID);
        CHECK_EQ_INT(b.max, maxes[i]);
        check_cuts(out, len);
    }

    for (uint8_t more = 0; more <= 1; more++) {
        memset(&f, 0, sizeof f);
        f.type = RUMOR_WIRE_SYNC_END;
        f.topic = id_of(0x77);
        f.lamport = 12345;
        f.cursor_id = id_of(0x99);
        f.status = more;
        len = round_trip(&f, out, sizeof out, &b);
        CHECK_EQ_INT(len, 2 + ID + 8 + ID + 1);
        CHECK(b.lamport == 12345);
        CHECK_EQ_INT(b.status, more);
        check_cuts(out, len);
    }
}

static void test_wire_known_answers(void)
{
    uint8_t want[128], out[128], pk[ID];
    rumor_wire_frame_t f;
    for (int i = 0; i < ID; i++) pk[i] = (uint8_t)i;

    /* HELLO from pk 00..1f, listening on 7470, taking part in peer exchange. */
    size_t n = unhex(want, sizeof want,
                     "0101"
                     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                     "1d2e01");
    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_HELLO;
    f.pk = pk;
    f.port = 7470;
    f.flags = 1;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), n);
    CHECK_EQ_MEM(out, want, n);
    CHECK_EQ_INT(rumor_wire_decode(want, n, &f), RUMOR_OK);
    CHECK_EQ_MEM(f.pk, pk, ID);

    /* PEERS: aa..aa at 192.168.1.20:7470 and bb..bb at [::1]:7471. */
    n = unhex(want, sizeof want,
              "010a02"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "04c0a801141d2e"
              "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
              "06000000000000000000000000000000011d2f");
    CHECK_EQ_INT(n, 93);
    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_PEERS;
    f.n = 2;
    memcpy(f.peers[0].pk, id_of(0xaa), ID);
    f.peers[0].family = 4;
    memcpy(f.peers[0].addr, "\xc0\xa8\x01\x14", 4);
    f.peers[0].port = 7470;
    memcpy(f.peers[1].pk, id_of(0xbb), ID);
    f.peers[1].family = 6;
    f.peers[1].addr[15] = 1;
    f.peers[1].port = 7471;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), n);
    CHECK_EQ_MEM(out, want, n);
    rumor_wire_frame_t d;
    CHECK_EQ_INT(rumor_wire_decode(want, n, &d), RUMOR_OK);
    CHECK_EQ_INT(d.n, 2);
    CHECK_EQ_MEM(d.peers, f.peers, sizeof f.peers);
}

/* Decodes hex and expects `rc`. */
static void expect_hex(const char *hex, int rc)
{
    uint8_t buf[1024];
    rumor_wire_frame_t f;
    size_t n = unhex(buf, sizeof buf, hex);
    int got = rumor_wire_decode(buf, n, &f);
    CHECK_EQ_INT(got, rc);
    if (got != rc) fprintf(stderr, "    frame: %s\n", hex);
    if (got != RUMOR_OK) CHECK_EQ_INT(f.type, 0);
}

/* A hex string of `n` copies of the byte `b` (static; one at a time). */
static const char *rep(uint8_t b, size_t n)
{
    static char s[2 * 4096 + 1];
    char one[3];
    snprintf(one, sizeof one, "%02x", b);
    for (size_t i = 0; i < n; i++) memcpy(s + 2 * i, one, 2);
    s[2 * n] = '\0';
    return s;
}

/* Joins up to four hex pieces (static; one at a time). */
static const char *cat(const char *a, const char *b, const char *c, const char *d)
{
    static char s[4 * 4096 + 1];
    snprintf(s, sizeof s, "%s%s%s%s", a, b, c, d);
    return s;
}

static void test_wire_malformed(void)
{
    static uint8_t big[RUMOR_WIRE_FRAME_MAX + 2];
    rumor_wire_frame_t f;
    char id[2 * ID + 1], tok[2 * 16 + 1];
    snprintf(id, sizeof id, "%s", rep(0x11, ID));
    snprintf(tok, sizeof tok, "%s", rep(0x22, 16));

    /* Too short for a header, other versions, unknown types. */
    CHECK_EQ_INT(rumor_wire_decode(big, 0, &f), RUMOR_ERR_MALFORMED);
    expect_hex("01", RUMOR_ERR_MALFORMED);
    expect_hex("0002"
               "0000000000000000",
               RUMOR_ERR_MALFORMED);
    expect_hex("0202"
               "0000000000000000",
               RUMOR_ERR_MALFORMED);
    expect_hex("ff02"
               "0000000000000000",
               RUMOR_ERR_MALFORMED);
    expect_hex("0100", RUMOR_ERR_MALFORMED);
    expect_hex("010f"
               "0000000000000000",
               RUMOR_ERR_MALFORMED);
    expect_hex("01ff", RUMOR_ERR_MALFORMED);

    /* HELLO: only flag bit 0. */
    expect_hex(cat("0101", id, "1d2e", "01"), RUMOR_OK);
    expect_hex(cat("0101", id, "1d2e", "02"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0101", id, "1d2e", "80"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0101", id, "1d2e", "0100"), RUMOR_ERR_MALFORMED);

    /* PING with trailing bytes. */
    expect_hex("0102"
               "0102030405060708"
               "00",
               RUMOR_ERR_MALFORMED);

    /* SUB: counts, order, exact size. */
    expect_hex("0104"
               "0000",
               RUMOR_OK);
    expect_hex("0104"
               "00",
               RUMOR_ERR_MALFORMED);
    expect_hex(cat("0104"
                   "0001",
                   id, "", ""),
               RUMOR_OK);
    expect_hex(cat("0104"
                   "0002",
                   id, id, ""),
               RUMOR_ERR_MALFORMED);
    expect_hex(cat("0104"
                   "0002",
                   rep(0x12, ID), "", ""),
               RUMOR_ERR_MALFORMED);
    {
        char two[4 * ID + 1];
        snprintf(two, sizeof two, "%s", rep(0x12, ID));
        snprintf(two + 2 * ID, sizeof two - 2 * ID, "%s", rep(0x11, ID));
        expect_hex(cat("0104"
                       "0002",
                       two, "", ""),
                   RUMOR_ERR_MALFORMED); /* descending */
        snprintf(two, sizeof two, "%s", rep(0x11, ID));
        snprintf(two + 2 * ID, sizeof two - 2 * ID, "%s", rep(0x12, ID));
        expect_hex(cat("0104"
                       "0002",
                       two, "", ""),
                   RUMOR_OK);
        expect_hex(cat("0104"
                       "0002",
                       two, "00", ""),
                   RUMOR_ERR_MALFORMED);
        expect_hex(cat("0104"
                       "0003",
                       two, "", ""),
                   RUMOR_ERR_MALFORMED);
    }
    /* 257 topics (ascending, so only the count is wrong). */
    big[0] = 1;
    big[1] = RUMOR_WIRE_SUB;
    rumor_put_u16(big + 2, RUMOR_WIRE_TOPICS_MAX + 1);
    memset(big + 4, 0, (RUMOR_WIRE_TOPICS_MAX + 1) * ID);
    for (size_t i = 0; i <= RUMOR_WIRE_TOPICS_MAX; i++)
        rumor_put_u16(big + 4 + i * ID + ID - 2, (uint16_t)i);
    CHECK_EQ_INT(rumor_wire_decode(big, 4 + (RUMOR_WIRE_TOPICS_MAX + 1) * ID, &f),
                 RUMOR_ERR_MALFORMED);
    rumor_put_u16(big + 2, RUMOR_WIRE_TOPICS_MAX);
    CHECK_EQ_INT(rumor_wire_decode(big, 4 + RUMOR_WIRE_TOPICS_MAX * ID, &f), RUMOR_OK);
    rumor_put_u16(big + 2, 0xffff);
    CHECK_EQ_INT(rumor_wire_decode(big, 4 + RUMOR_WIRE_TOPICS_MAX * ID, &f), RUMOR_ERR_MALFORMED);

    /* GRAFT, PRUNE: exactly a topic. */
    expect_hex(cat("0105", id, "", ""), RUMOR_OK);
    expect_hex(cat("0105", id, "00", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0106", rep(0x11, ID - 1), "", ""), RUMOR_ERR_MALFORMED);
    /* INVITED: exactly a topic too; 19 is unknown. */
    expect_hex(cat("0112", id, "", ""), RUMOR_OK);
    expect_hex(cat("0112", id, "00", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0113", id, "", ""), RUMOR_ERR_MALFORMED);

    /* EVENT: 1..RUMOR_EVENT_MAX bytes. */
    expect_hex("0107", RUMOR_ERR_MALFORMED);
    expect_hex("010700", RUMOR_OK);
    big[0] = 1;
    big[1] = RUMOR_WIRE_EVENT;
    CHECK_EQ_INT(rumor_wire_decode(big, 2 + RUMOR_EVENT_MAX, &f), RUMOR_OK);
    CHECK_EQ_INT(rumor_wire_decode(big, 2 + RUMOR_EVENT_MAX + 1, &f), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_wire_decode(big, RUMOR_WIRE_FRAME_MAX, &f), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_wire_decode(big, RUMOR_WIRE_FRAME_MAX + 1, &f), RUMOR_ERR_TOO_BIG);
    CHECK_EQ_INT(rumor_wire_decode(big, sizeof big, &f), RUMOR_ERR_TOO_BIG);
    CHECK_EQ_INT(f.type, 0);

    /* IHAVE, IWANT: 1..64 ids. */
    expect_hex(cat("0108", id, "01", id), RUMOR_OK);
    expect_hex(cat("0108", id, "00", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0108", id, "02", id), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0108", id, "01", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0109", "01", id, ""), RUMOR_OK);
    expect_hex(cat("0109", "01", id, "ff"), RUMOR_ERR_MALFORMED);
    expect_hex("0109"
               "00",
               RUMOR_ERR_MALFORMED);
    expect_hex("0109", RUMOR_ERR_MALFORMED);
    big[1] = RUMOR_WIRE_IWANT;
    big[2] = RUMOR_WIRE_IDS_MAX;
    CHECK_EQ_INT(rumor_wire_decode(big, 3 + RUMOR_WIRE_IDS_MAX * ID, &f), RUMOR_OK);
    big[2] = RUMOR_WIRE_IDS_MAX + 1;
    CHECK_EQ_INT(rumor_wire_decode(big, 3 + (RUMOR_WIRE_IDS_MAX + 1) * ID, &f),
                 RUMOR_ERR_MALFORMED);
    big[1] = RUMOR_WIRE_IHAVE;
    big[2 + ID] = RUMOR_WIRE_IDS_MAX + 1;
    CHECK_EQ_INT(rumor_wire_decode(big, 3 + ID + (RUMOR_WIRE_IDS_MAX + 1) * ID, &f),
                 RUMOR_ERR_MALFORMED);

    /* PEERS: 0..16 entries, family 4 or 6, port not 0. */
    expect_hex("010a00", RUMOR_OK);
    expect_hex("010a", RUMOR_ERR_MALFORMED);
    expect_hex("010a0000", RUMOR_ERR_MALFORMED);
    expect_hex(cat("010a01", id, "047f0000011d2e", ""), RUMOR_OK);
    expect_hex(cat("010a01", id, "047f0000010000", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010a01", id, "057f0000011d2e", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010a01", id, "007f0000011d2e", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010a01", id, "067f0000011d2e", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010a01", id, "047f0000011d2e", "00"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010a02", id, "047f0000011d2e", ""), RUMOR_ERR_MALFORMED);
    big[1] = RUMOR_WIRE_PEERS;
    for (size_t n = RUMOR_WIRE_PEERS_MAX; n <= RUMOR_WIRE_PEERS_MAX + 1; n++) {
        big[2] = (uint8_t)n;
        for (size_t i = 0; i < n; i++) {
            uint8_t *e = big + 3 + i * (ID + 7);
            memset(e, 0x33, ID);
            e[ID] = 4;
            memcpy(e + ID + 1, "\x0a\x00\x00\x01\x1d\x2e", 6);
        }
        CHECK_EQ_INT(rumor_wire_decode(big, 3 + n * (ID + 7), &f),
                     n <= RUMOR_WIRE_PEERS_MAX ? RUMOR_OK : RUMOR_ERR_MALFORMED);
    }

    /* JOIN, JOINED. */
    expect_hex(cat("010b", id, tok, ""), RUMOR_OK);
    expect_hex(cat("010b", id, tok, "00"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010b", id, rep(0x22, 15), ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010c", id, "03", ""), RUMOR_OK);
    expect_hex(cat("010c", id, "04", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010c", id, "ff", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010c", id, "", ""), RUMOR_ERR_MALFORMED);

    /* SYNC: max 1..256; SYNC_END: more 0 or 1. */
    char cursor[2 * (ID + 8) + 1];
    snprintf(cursor, sizeof cursor, "%s%s", "0000000000000005", id);
    expect_hex(cat("010d", id, cursor, "0001"), RUMOR_OK);
    expect_hex(cat("010d", id, cursor, "0100"), RUMOR_OK);
    expect_hex(cat("010d", id, cursor, "0000"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010d", id, cursor, "0101"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010d", id, cursor, "ffff"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010d", id, cursor, "000100"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010e", id, cursor, "01"), RUMOR_OK);
    expect_hex(cat("010e", id, cursor, "02"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010e", id, cursor, "0100"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010e", id, cursor, ""), RUMOR_ERR_MALFORMED);
}

static void test_wire_decode_zeroes(void)
{
    uint8_t buf[16];
    rumor_wire_frame_t f;
    size_t n = unhex(buf, sizeof buf,
                     "0102"
                     "0102030405060708");
    memset(&f, 0xff, sizeof f);
    CHECK_EQ_INT(rumor_wire_decode(buf, n, &f), RUMOR_OK);
    rumor_wire_frame_t want;
    memset(&want, 0, sizeof want);
    want.type = RUMOR_WIRE_PING;
    want.nonce = UINT64_C(0x0102030405060708);
    CHECK_EQ_MEM(&f, &want, sizeof f);
    /* A refused frame leaves the frame zeroed too. */
    buf[1] = 0x7f;
    memset(&f, 0xff, sizeof f);
    CHECK_EQ_INT(rumor_wire_decode(buf, n, &f), RUMOR_ERR_MALFORMED);
    memset(&want, 0, sizeof want);
    CHECK_EQ_MEM(&f, &want, sizeof f);
}

static void test_wire_encode_rejects(void)
{
    uint8_t out[256], two[2 * ID], token[16] = {0};
    rumor_wire_frame_t f;

    memset(&f, 0, sizeof f);
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0); /* type 0 */
    f.type = 15;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);
    f.type = RUMOR_WIRE_HELLO; /* no pk */
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);
    f.pk = id_of(1);
    f.flags = 2;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);
    f.flags = 1;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 2 + ID + 3);
    /* Every capacity short of the frame fails. */
    for (size_t cap = 0; cap < 2 + ID + 3; cap++) CHECK_EQ_INT(rumor_wire_encode(&f, out, cap), 0);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_SUB;
    memcpy(two, id_of(2), ID);
    memcpy(two + ID, id_of(1), ID);
    f.ids = two;
    f.n = 2;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0); /* descending */
    memcpy(two + ID, id_of(2), ID);
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0); /* equal */
    f.n = 1;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 4 + ID);
    f.n = RUMOR_WIRE_TOPICS_MAX + 1;
    static uint8_t many[(RUMOR_WIRE_TOPICS_MAX + 1) * ID];
    for (size_t i = 0; i <= RUMOR_WIRE_TOPICS_MAX; i++)
        rumor_put_u16(many + i * ID + ID - 2, (uint16_t)i);
    f.ids = many;
    static uint8_t big_out[RUMOR_WIRE_FRAME_MAX];
    CHECK_EQ_INT(rumor_wire_encode(&f, big_out, sizeof big_out), 0);
    f.ids = NULL;
    f.n = 1;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_GRAFT;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_EVENT;
    f.event = out;
    CHECK_EQ_INT(rumor_wire_encode(&f, big_out, sizeof big_out), 0);
    f.event_len = RUMOR_EVENT_MAX + 1;
    static uint8_t ev[RUMOR_EVENT_MAX + 1];
    f.event = ev;
    CHECK_EQ_INT(rumor_wire_encode(&f, big_out, sizeof big_out), 0);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_IHAVE;
    f.ids = many;
    f.n = 1;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0); /* no topic */
    f.topic = id_of(3);
    f.n = 0;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);
    f.type = RUMOR_WIRE_IWANT;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);
    f.n = RUMOR_WIRE_IDS_MAX + 1;
    CHECK_EQ_INT(rumor_wire_encode(&f, big_out, sizeof big_out), 0);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_PEERS;
    f.n = 1;
    f.peers[0].family = 4;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0); /* port 0 */
    f.peers[0].port = 1;
    f.peers[0].family = 5;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);
    f.peers[0].family = 6;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 3 + ID + 19);
    f.n = RUMOR_WIRE_PEERS_MAX + 1;
    CHECK_EQ_INT(rumor_wire_encode(&f, big_out, sizeof big_out), 0);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_JOIN;
    f.topic = id_of(4);
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0); /* no token */
    f.token = token;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 2 + ID + 16);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_JOINED;
    f.topic = id_of(4);
    f.status = 4;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_SYNC;
    f.topic = id_of(4);
    f.cursor_id = id_of(5);
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0); /* max 0 */
    f.max = RUMOR_WIRE_SYNC_MAX + 1;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);
    f.max = RUMOR_WIRE_SYNC_MAX;
    f.cursor_id = NULL;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);

    memset(&f, 0, sizeof f);
    f.type = RUMOR_WIRE_SYNC_END;
    f.topic = id_of(4);
    f.cursor_id = id_of(5);
    f.status = 2;
    CHECK_EQ_INT(rumor_wire_encode(&f, out, sizeof out), 0);
}

/* ---- beacons ------------------------------------------------------------------------------- */

/* RECON, BATCH and CREDIT (PROTOCOL.md 12.2). */
static void test_wire_recon_batch_credit(void)
{
    char topic[2 * ID + 1], top[2 * 40 + 1], idh[2 * ID + 1];
    snprintf(topic, sizeof topic, "%s", rep(0x33, ID));
    snprintf(top, sizeof top, "%s", rep(0xff, 40));
    snprintf(idh, sizeof idh, "%s", rep(0x44, ID));

    /* CREDIT: 1..64. */
    expect_hex("01110001", RUMOR_OK);
    expect_hex("01110040", RUMOR_OK);
    expect_hex("01110000", RUMOR_ERR_MALFORMED);
    expect_hex("01110041", RUMOR_ERR_MALFORMED);
    expect_hex("0111000100", RUMOR_ERR_MALFORMED);
    expect_hex("011100", RUMOR_ERR_MALFORMED);

    /* RECON: one SKIP to the top; the last bound must be the top; n >= 1; modes 0..3. */
    char r[6][2 * (40 + 2 + ID) + 1];
    snprintf(r[0], sizeof r[0], "%s00", top);           /* SKIP */
    snprintf(r[1], sizeof r[1], "%s00", rep(0xfe, 40)); /* SKIP, not to the top */
    snprintf(r[2], sizeof r[2], "%s0301%s", top, idh);  /* NEED of one id */
    snprintf(r[3], sizeof r[3], "%s0200", top);         /* empty IDS */
    snprintf(r[4], sizeof r[4], "%s04", top);           /* mode 4 */
    snprintf(r[5], sizeof r[5], "%s0302%s", top, idh);  /* NEED of two, one given */
    expect_hex(cat("010f", topic, "0001", r[0]), RUMOR_OK);
    expect_hex(cat("010f", topic, "0000", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010f", topic, "0001", r[1]), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010f", topic, "0301", r[2]), RUMOR_OK);
    expect_hex(cat("010f", topic, "0001", r[3]), RUMOR_OK);
    expect_hex(cat("010f", topic, "0001", r[4]), RUMOR_ERR_MALFORMED);
    expect_hex(cat("010f", topic, "0001", r[5]), RUMOR_ERR_MALFORMED);
    char trail[sizeof r[0] + 2];
    snprintf(trail, sizeof trail, "%s00", r[0]); /* a trailing byte */
    expect_hex(cat("010f", topic, "0001", trail), RUMOR_ERR_MALFORMED);

    /* Bounds strictly ascending; the top only last. */
    rumor_recon_range_t g[3];
    memset(g, 0, sizeof g);
    g[0].upper.lamport = 5;
    g[1].upper.lamport = 3;
    rumor_bound_top(&g[2].upper);
    g[1].mode = RUMOR_RECON_FINGERPRINT;
    g[1].count = 9;
    rumor_wire_frame_t f = {.type = RUMOR_WIRE_RECON, .topic = id_of(3), .n = 3, .ranges = g};
    uint8_t buf[4096];
    CHECK_EQ_INT(rumor_wire_encode(&f, buf, sizeof buf), 0);
    g[1].upper.lamport = 5; /* equal to the one before: not ascending either */
    CHECK_EQ_INT(rumor_wire_encode(&f, buf, sizeof buf), 0);
    g[1].upper.id[0] = 1; /* (5, 01..) > (5, 00..) */
    size_t len = rumor_wire_encode(&f, buf, sizeof buf);
    CHECK(len > 0);
    rumor_wire_frame_t d;
    CHECK_EQ_INT(rumor_wire_decode(buf, len, &d), RUMOR_OK);
    CHECK_EQ_INT(d.n, 3);
    CHECK_EQ_INT(d.ranges[1].count, 9);
    buf[2 + ID + 2 + 7] = 6; /* the first bound's lamport becomes 6 > (5, 01..) */
    CHECK_EQ_INT(rumor_wire_decode(buf, len, &d), RUMOR_ERR_MALFORMED);

    /* More than 64 ids in a range, or 1,536 in a frame, is malformed. */
    static uint8_t many[(RUMOR_RECON_IDS_MAX + 1) * ID];
    static rumor_recon_range_t wide[RUMOR_RECON_RANGES_MAX];
    memset(wide, 0, sizeof wide);
    rumor_bound_top(&wide[0].upper);
    wide[0].mode = RUMOR_RECON_NEED;
    wide[0].k = RUMOR_RECON_IDS_MAX + 1;
    wide[0].ids = many;
    rumor_wire_frame_t w = {.type = RUMOR_WIRE_RECON, .topic = id_of(3), .n = 1, .ranges = wide};
    static uint8_t big[RUMOR_WIRE_FRAME_MAX];
    CHECK_EQ_INT(rumor_wire_encode(&w, big, sizeof big), 0);
    wide[0].k = RUMOR_RECON_IDS_MAX;
    CHECK(rumor_wire_encode(&w, big, sizeof big) > 0);
    w.n = RUMOR_RECON_FRAME_IDS / RUMOR_RECON_IDS_MAX + 1; /* 25 full lists: 1,600 ids */
    for (size_t i = 0; i < w.n; i++) {
        wide[i] = wide[0];
        memset(&wide[i].upper, 0, sizeof wide[i].upper);
        wide[i].upper.lamport = i + 1;
    }
    rumor_bound_top(&wide[w.n - 1].upper);
    CHECK_EQ_INT(rumor_wire_encode(&w, big, sizeof big), 0);
    w.n--;
    rumor_bound_top(&wide[w.n - 1].upper);
    len = rumor_wire_encode(&w, big, sizeof big);
    CHECK(len > 0 && len <= RUMOR_WIRE_FRAME_MAX);
    CHECK_EQ_INT(rumor_wire_decode(big, len, &d), RUMOR_OK);

    /* BATCH: n >= 1 entries of 1..65,536 bytes that fill the frame exactly. */
    expect_hex(cat("0110", topic, "000000070001", "00000003aabbcc"), RUMOR_OK);
    expect_hex(cat("0110", topic, "000000070002", "00000003aabbcc00000001dd"), RUMOR_OK);
    expect_hex(cat("0110", topic, "000000070000", ""), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0110", topic, "000000070001", "00000000"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0110", topic, "000000070001", "00000003aabb"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0110", topic, "000000070001", "00000003aabbccdd"), RUMOR_ERR_MALFORMED);
    expect_hex(cat("0110", topic, "000000070002", "00000003aabbcc"), RUMOR_ERR_MALFORMED);
    uint8_t entries[] = {0, 0, 0, 2, 0xaa, 0xbb, 0, 0, 0, 1, 0xcc};
    rumor_wire_frame_t b = {.type = RUMOR_WIRE_BATCH,
                            .topic = id_of(3),
                            .remaining = 77,
                            .n = 2,
                            .event = entries,
                            .event_len = sizeof entries};
    len = rumor_wire_encode(&b, buf, sizeof buf);
    CHECK_EQ_INT(len, RUMOR_BATCH_HEADER_BYTES + sizeof entries);
    CHECK_EQ_INT(rumor_wire_decode(buf, len, &d), RUMOR_OK);
    CHECK_EQ_INT(d.remaining, 77);
    size_t pos = 0, elen, seen = 0;
    const uint8_t *ev;
    while (rumor_wire_batch_next(&d, &pos, &ev, &elen)) {
        CHECK_EQ_INT(elen, seen ? 1 : 2);
        CHECK_EQ_INT(ev[0], seen ? 0xcc : 0xaa);
        seen++;
    }
    CHECK_EQ_INT(seen, 2);
    b.n = 3; /* the entries do not say 3 */
    CHECK_EQ_INT(rumor_wire_encode(&b, buf, sizeof buf), 0);
}

static void test_beacon(void)
{
    uint8_t out[RUMOR_BEACON_BYTES], want[64], buf[64];
    rumor_beacon_t b, back;
    for (int i = 0; i < ID; i++) b.pk[i] = (uint8_t)(0xe0 ^ i);
    b.port = 7470;
    rumor_beacon_encode(&b, out);
    size_t n = unhex(want, sizeof want,
                     "52554d520100"
                     "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
                     "1d2e");
    CHECK_EQ_INT(n, RUMOR_BEACON_BYTES);
    CHECK_EQ_MEM(out, want, RUMOR_BEACON_BYTES);
    CHECK_EQ_INT(rumor_beacon_decode(out, sizeof out, &back), RUMOR_OK);
    CHECK_EQ_MEM(back.pk, b.pk, ID);
    CHECK_EQ_INT(back.port, 7470);

    memcpy(buf, out, sizeof out);
    buf[40] = 0;
    CHECK_EQ_INT(rumor_beacon_decode(buf, 39, &back), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_beacon_decode(buf, 41, &back), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(rumor_beacon_decode(buf, 0, &back), RUMOR_ERR_MALFORMED);
    static const size_t bad_at[] = {0, 3, 4, 5};
    for (size_t i = 0; i < sizeof bad_at / sizeof bad_at[0]; i++) {
        memcpy(buf, out, sizeof out);
        buf[bad_at[i]] ^= 0x02;
        CHECK_EQ_INT(rumor_beacon_decode(buf, RUMOR_BEACON_BYTES, &back), RUMOR_ERR_MALFORMED);
        CHECK_EQ_INT(back.port, 0);
    }
    memcpy(buf, out, sizeof out);
    buf[38] = buf[39] = 0; /* port 0 */
    CHECK_EQ_INT(rumor_beacon_decode(buf, RUMOR_BEACON_BYTES, &back), RUMOR_ERR_MALFORMED);
    buf[39] = 1;
    CHECK_EQ_INT(rumor_beacon_decode(buf, RUMOR_BEACON_BYTES, &back), RUMOR_OK);
    CHECK_EQ_INT(back.port, 1);
}

/* ---- control records ----------------------------------------------------------------------- */

/* Finishes `w` and decodes its body into `r`; returns the decode result. */
static int finish_and_decode(rumor_ctl_writer_t *w, rumor_ctl_record_t *r)
{
    const uint8_t *msg;
    size_t len;
    int rc = rumor_ctl_writer_finish(w, &msg, &len);
    if (rc != RUMOR_OK) return rc;
    CHECK(len >= 5);
    CHECK_EQ_INT(rumor_get_u32(msg), len - 4);
    return rumor_ctl_decode(msg + 4, len - 4, r);
}

static void test_ctl_round_trip(void)
{
    rumor_ctl_writer_t w;
    rumor_ctl_record_t r;
    const uint8_t *msg;
    size_t len;

    /* No fields: just the count. */
    rumor_ctl_writer_init(&w);
    CHECK_EQ_INT(rumor_ctl_writer_finish(&w, &msg, &len), RUMOR_OK);
    CHECK_EQ_INT(len, 5);
    CHECK_EQ_MEM(msg, "\0\0\0\1\0", 5);
    CHECK_EQ_INT(rumor_ctl_decode(msg + 4, len - 4, &r), RUMOR_OK);
    CHECK_EQ_INT(r.n, 0);
    CHECK(rumor_ctl_get(&r, "op") == NULL);
    rumor_ctl_writer_free(&w);
    CHECK(w.buf == NULL);

    /* Known answer: {op: "status", ok: true, n: 258}. */
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "op", "status", 6);
    rumor_ctl_put_bool(&w, "ok", true);
    rumor_ctl_put_u64(&w, "n", 258);
    CHECK_EQ_INT(rumor_ctl_writer_finish(&w, &msg, &len), RUMOR_OK);
    uint8_t want[64];
    size_t n = unhex(want, sizeof want,
                     "0000001f"
                     "03"
                     "73026f70"
                     "00000006"
                     "737461747573"
                     "62026f6b"
                     "01"
                     "75016e"
                     "0000000000000102");
    CHECK_EQ_INT(len, n);
    CHECK_EQ_MEM(msg, want, n);
    CHECK_EQ_INT(rumor_ctl_decode(msg + 4, len - 4, &r), RUMOR_OK);
    CHECK_EQ_INT(r.n, 3);
    const rumor_ctl_field_t *op = rumor_ctl_get(&r, "op");
    CHECK(op && op->type == RUMOR_CTL_STR && op->s_len == 6 && memcmp(op->s, "status", 6) == 0);
    const rumor_ctl_field_t *ok = rumor_ctl_get(&r, "ok");
    CHECK(ok && ok->type == RUMOR_CTL_BOOL && ok->b);
    const rumor_ctl_field_t *num = rumor_ctl_get(&r, "n");
    CHECK(num && num->type == RUMOR_CTL_U64 && num->u == 258);
    CHECK(rumor_ctl_get(&r, "o") == NULL);
    CHECK(rumor_ctl_get(&r, "opx") == NULL);
    rumor_ctl_writer_free(&w);

    /* Every kind of value at its edges, 64 fields. */
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_u64(&w, "zero", 0);
    rumor_ctl_put_u64(&w, "max", UINT64_MAX);
    rumor_ctl_put_bool(&w, "no", false);
    rumor_ctl_put_str(&w, "empty", NULL, 0);
    rumor_ctl_put_str(&w, "utf8", "h\xc3\xa9llo \xf0\x9f\x91\x8b", 11);
    rumor_ctl_put_str(&w, "abcdefghijklmnopqrstuvwxyz_01234", "32", 2);
    for (int i = 6; i < RUMOR_CTL_FIELDS_MAX; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        rumor_ctl_put_u64(&w, key, (uint64_t)i);
    }
    CHECK_EQ_INT(finish_and_decode(&w, &r), RUMOR_OK);
    CHECK_EQ_INT(r.n, RUMOR_CTL_FIELDS_MAX);
    CHECK(rumor_ctl_get(&r, "zero")->u == 0);
    CHECK(rumor_ctl_get(&r, "max")->u == UINT64_MAX);
    CHECK(!rumor_ctl_get(&r, "no")->b);
    CHECK_EQ_INT(rumor_ctl_get(&r, "empty")->s_len, 0);
    CHECK_EQ_INT(rumor_ctl_get(&r, "utf8")->s_len, 11);
    CHECK_EQ_INT(rumor_ctl_get(&r, "abcdefghijklmnopqrstuvwxyz_01234")->s_len, 2);
    CHECK(rumor_ctl_get(&r, "k63")->u == 63);
    CHECK_EQ_STR(r.f[63].key, "k63");
    rumor_ctl_writer_free(&w);

    /* The largest strings, up to the message limit. */
    static char text[RUMOR_CTL_STR_MAX];
    memset(text, 'x', sizeof text);
    rumor_ctl_writer_init(&w);
    for (int i = 0; i < 15; i++) {
        char key[8];
        snprintf(key, sizeof key, "s%d", i);
        rumor_ctl_put_str(&w, key, text, sizeof text);
    }
    CHECK_EQ_INT(finish_and_decode(&w, &r), RUMOR_OK);
    CHECK_EQ_INT(r.n, 15);
    CHECK_EQ_INT(rumor_ctl_get(&r, "s14")->s_len, RUMOR_CTL_STR_MAX);
    rumor_ctl_writer_free(&w);
}

/* Decodes hex as a record body and expects `rc`. */
static void expect_ctl(const char *hex, int rc)
{
    uint8_t buf[512];
    rumor_ctl_record_t r;
    size_t n = unhex(buf, sizeof buf, hex);
    int got = rumor_ctl_decode(buf, n, &r);
    CHECK_EQ_INT(got, rc);
    if (got != rc) fprintf(stderr, "    record: %s\n", hex);
    if (got != RUMOR_OK) CHECK_EQ_INT(r.n, 0);
}

static void test_ctl_malformed(void)
{
    rumor_ctl_record_t r;
    uint8_t buf[1] = {0};
    CHECK_EQ_INT(rumor_ctl_decode(buf, 0, &r), RUMOR_ERR_MALFORMED);
    expect_ctl("00", RUMOR_OK);
    expect_ctl("0000", RUMOR_ERR_MALFORMED); /* trailing byte */
    expect_ctl("01", RUMOR_ERR_MALFORMED);   /* a field is missing */
    expect_ctl("41", RUMOR_ERR_MALFORMED);   /* 65 fields */
    expect_ctl("ff", RUMOR_ERR_MALFORMED);   /* 255 fields */
    expect_ctl("01"
               "62016101",
               RUMOR_OK); /* a: true */
    expect_ctl("01"
               "62016100",
               RUMOR_OK); /* a: false */
    expect_ctl("01"
               "62016102",
               RUMOR_ERR_MALFORMED); /* bool 2 */
    expect_ctl("01"
               "620161",
               RUMOR_ERR_MALFORMED); /* bool missing */
    expect_ctl("01"
               "78016101",
               RUMOR_ERR_MALFORMED); /* type 'x' */
    expect_ctl("01"
               "00016101",
               RUMOR_ERR_MALFORMED); /* type 0 */
    expect_ctl("01"
               "620001",
               RUMOR_ERR_MALFORMED); /* empty key */
    expect_ctl("01"
               "62014101",
               RUMOR_ERR_MALFORMED); /* 'A' */
    expect_ctl("01"
               "62012d01",
               RUMOR_ERR_MALFORMED); /* '-' */
    expect_ctl("01"
               "62010001",
               RUMOR_ERR_MALFORMED); /* NUL in a key */
    expect_ctl("01"
               "6202616101",
               RUMOR_OK); /* aa */
    expect_ctl("01"
               "6203616101",
               RUMOR_ERR_MALFORMED); /* key runs past */
    expect_ctl("02"
               "62016101"
               "62016100",
               RUMOR_ERR_MALFORMED); /* duplicate */
    expect_ctl("02"
               "62016101"
               "75016100000000000000ff",
               RUMOR_ERR_MALFORMED);
    expect_ctl("02"
               "62016101"
               "75016200000000000000ff",
               RUMOR_OK);
    expect_ctl("01"
               "7501610000000000000000",
               RUMOR_OK);
    expect_ctl("01"
               "75016100000000000000",
               RUMOR_ERR_MALFORMED); /* 7-byte u64 */
    expect_ctl("01"
               "750161000000000000000000",
               RUMOR_ERR_MALFORMED);
    expect_ctl("01"
               "7301610000000161",
               RUMOR_OK);
    expect_ctl("01"
               "73016100000000",
               RUMOR_OK);
    expect_ctl("01"
               "73016100000002"
               "61",
               RUMOR_ERR_MALFORMED); /* string runs past */
    expect_ctl("01"
               "73016100000001"
               "ff",
               RUMOR_ERR_MALFORMED); /* not UTF-8 */
    expect_ctl("01"
               "73016100000002"
               "c0af",
               RUMOR_ERR_MALFORMED); /* overlong */
    expect_ctl("01"
               "73016100000003"
               "eda080",
               RUMOR_ERR_MALFORMED); /* surrogate */
    expect_ctl("01"
               "73016100000001"
               "00",
               RUMOR_OK); /* NUL is UTF-8 */
    expect_ctl("01"
               "730161ffffffff",
               RUMOR_ERR_MALFORMED);
    expect_ctl("01"
               "73016100010001",
               RUMOR_ERR_MALFORMED); /* 65,537 (and short) */

    /* A key of 33 characters. */
    char hex[256];
    snprintf(hex, sizeof hex,
             "01"
             "6221%s"
             "01",
             rep(0x61, 33));
    expect_ctl(hex, RUMOR_ERR_MALFORMED);
    snprintf(hex, sizeof hex,
             "01"
             "6220%s"
             "01",
             rep(0x61, 32));
    expect_ctl(hex, RUMOR_OK);

    /* A string of 65,537 bytes, complete. */
    static uint8_t big[1 + 2 + 1 + 4 + RUMOR_CTL_STR_MAX + 1];
    memcpy(big,
           "\x01"
           "s\x01"
           "a",
           4);
    rumor_put_u32(big + 4, RUMOR_CTL_STR_MAX + 1);
    memset(big + 8, 'y', RUMOR_CTL_STR_MAX + 1);
    CHECK_EQ_INT(rumor_ctl_decode(big, sizeof big, &r), RUMOR_ERR_MALFORMED);
    rumor_put_u32(big + 4, RUMOR_CTL_STR_MAX);
    CHECK_EQ_INT(rumor_ctl_decode(big, sizeof big - 1, &r), RUMOR_OK);
    CHECK_EQ_INT(r.f[0].s_len, RUMOR_CTL_STR_MAX);

    /* Every cut of a valid record fails. */
    uint8_t rec[64];
    size_t n = unhex(rec, sizeof rec,
                     "03"
                     "73026f70"
                     "00000006"
                     "737461747573"
                     "62026f6b"
                     "01"
                     "75016e"
                     "0000000000000102");
    CHECK_EQ_INT(rumor_ctl_decode(rec, n, &r), RUMOR_OK);
    for (size_t cut = 0; cut < n; cut++) {
        CHECK_EQ_INT(rumor_ctl_decode(rec, cut, &r), RUMOR_ERR_MALFORMED);
        CHECK_EQ_INT(r.n, 0);
    }
}

static void test_ctl_writer_limits(void)
{
    rumor_ctl_writer_t w;
    const uint8_t *msg;
    size_t len;

    static const char *const bad_keys[] = {"",     "Op", "op-x",
                                           "op x", "é",  "abcdefghijklmnopqrstuvwxyz_012345"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        rumor_ctl_writer_init(&w);
        rumor_ctl_put_u64(&w, bad_keys[i], 1);
        CHECK_EQ_INT(w.err, RUMOR_ERR_INVALID);
        CHECK_EQ_INT(rumor_ctl_writer_finish(&w, &msg, &len), RUMOR_ERR_INVALID);
        CHECK(msg == NULL);
        CHECK_EQ_INT(len, 0);
        rumor_ctl_writer_free(&w);
    }
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_bool(&w, NULL, true);
    CHECK_EQ_INT(w.err, RUMOR_ERR_INVALID);
    rumor_ctl_writer_free(&w);

    /* Duplicates, whatever their types; the first error sticks. */
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "a", "x", 1);
    rumor_ctl_put_u64(&w, "b", 1);
    rumor_ctl_put_bool(&w, "c", true);
    rumor_ctl_put_u64(&w, "ab", 1);
    CHECK_EQ_INT(w.err, RUMOR_OK);
    rumor_ctl_put_bool(&w, "b", true);
    CHECK_EQ_INT(w.err, RUMOR_ERR_INVALID);
    rumor_ctl_put_str(&w, "d", "\xff", 1);
    CHECK_EQ_INT(w.err, RUMOR_ERR_INVALID);
    CHECK_EQ_INT(w.n, 4);
    rumor_ctl_writer_free(&w);
    static const char *const dups[] = {"a", "b", "c", "ab"};
    for (size_t i = 0; i < 4; i++) {
        rumor_ctl_writer_init(&w);
        rumor_ctl_put_str(&w, "a", "x", 1);
        rumor_ctl_put_u64(&w, "b", 1);
        rumor_ctl_put_bool(&w, "c", true);
        rumor_ctl_put_u64(&w, "ab", 1);
        rumor_ctl_put_str(&w, dups[i], "", 0);
        CHECK_EQ_INT(w.err, RUMOR_ERR_INVALID);
        rumor_ctl_writer_free(&w);
    }

    /* Strings: UTF-8, length, NULL. */
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "s", "\xc0\xaf", 2);
    CHECK_EQ_INT(w.err, RUMOR_ERR_BAD_UTF8);
    rumor_ctl_writer_free(&w);
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "s", NULL, 1);
    CHECK_EQ_INT(w.err, RUMOR_ERR_INVALID);
    rumor_ctl_writer_free(&w);
    static char text[RUMOR_CTL_STR_MAX + 1];
    memset(text, 'z', sizeof text);
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "s", text, sizeof text);
    CHECK_EQ_INT(w.err, RUMOR_ERR_TOO_BIG);
    rumor_ctl_writer_free(&w);

    /* 65 fields. */
    rumor_ctl_writer_init(&w);
    for (int i = 0; i <= RUMOR_CTL_FIELDS_MAX; i++) {
        char key[16];
        snprintf(key, sizeof key, "f%d", i);
        rumor_ctl_put_bool(&w, key, i & 1);
        CHECK_EQ_INT(w.err, i < RUMOR_CTL_FIELDS_MAX ? RUMOR_OK : RUMOR_ERR_TOO_BIG);
    }
    CHECK_EQ_INT(rumor_ctl_writer_finish(&w, &msg, &len), RUMOR_ERR_TOO_BIG);
    rumor_ctl_writer_free(&w);

    /* More than 1 MiB in all: the 16th full string does not fit. */
    rumor_ctl_writer_init(&w);
    for (int i = 0; i < 16; i++) {
        char key[8];
        snprintf(key, sizeof key, "s%d", i);
        rumor_ctl_put_str(&w, key, text, RUMOR_CTL_STR_MAX);
        CHECK_EQ_INT(w.err, i < 15 ? RUMOR_OK : RUMOR_ERR_TOO_BIG);
    }
    CHECK(w.len <= 4 + RUMOR_CTL_MSG_MAX);
    CHECK_EQ_INT(rumor_ctl_writer_finish(&w, &msg, &len), RUMOR_ERR_TOO_BIG);
    rumor_ctl_writer_free(&w);
    CHECK(w.buf == NULL && w.len == 0 && w.n == 0 && w.err == 0);

    /* The body may be exactly 1 MiB, not a byte more. */
    size_t fixed = 1 + 15 * (2 + 3 + 4 + RUMOR_CTL_STR_MAX) + (2 + 3 + 4);
    size_t room = RUMOR_CTL_MSG_MAX - fixed;
    for (size_t extra = 0; extra <= 1; extra++) {
        rumor_ctl_writer_init(&w);
        for (int i = 0; i < 15; i++) {
            char key[8];
            snprintf(key, sizeof key, "s%02d", i);
            rumor_ctl_put_str(&w, key, text, RUMOR_CTL_STR_MAX);
        }
        rumor_ctl_put_str(&w, "end", text, room + extra);
        int rc = rumor_ctl_writer_finish(&w, &msg, &len);
        CHECK_EQ_INT(rc, extra ? RUMOR_ERR_TOO_BIG : RUMOR_OK);
        if (rc == RUMOR_OK) {
            rumor_ctl_record_t *r = malloc(sizeof *r);
            CHECK_EQ_INT(len, 4 + RUMOR_CTL_MSG_MAX);
            CHECK_EQ_INT(rumor_ctl_decode(msg + 4, len - 4, r), RUMOR_OK);
            CHECK_EQ_INT(r->n, 16);
            /* One byte more is too long (and trailing). */
            uint8_t *over = malloc(RUMOR_CTL_MSG_MAX + 1);
            memcpy(over, msg + 4, RUMOR_CTL_MSG_MAX);
            over[RUMOR_CTL_MSG_MAX] = 0;
            CHECK_EQ_INT(rumor_ctl_decode(over, RUMOR_CTL_MSG_MAX + 1, r), RUMOR_ERR_MALFORMED);
            free(over);
            free(r);
        }
        rumor_ctl_writer_free(&w);
    }
}

/* ---- invite codes -------------------------------------------------------------------------- */

static rumor_invite_t make_invite(uint8_t seed, uint8_t role, uint16_t port, const char *host)
{
    rumor_invite_t inv;
    memset(&inv, 0, sizeof inv);
    memset(inv.room, seed, ID);
    memset(inv.inviter, seed + 1, ID);
    memset(inv.token, seed + 2, sizeof inv.token);
    inv.role = role;
    inv.port = port;
    snprintf(inv.host, sizeof inv.host, "%s", host);
    return inv;
}

static void check_invite_eq(const rumor_invite_t *a, const rumor_invite_t *b)
{
    CHECK_EQ_MEM(a->room, b->room, ID);
    CHECK_EQ_MEM(a->inviter, b->inviter, ID);
    CHECK_EQ_MEM(a->token, b->token, sizeof a->token);
    CHECK_EQ_INT(a->role, b->role);
    CHECK_EQ_INT(a->port, b->port);
    CHECK_EQ_STR(a->host, b->host);
}

/* Wraps `bin` as a code (prefix and unpadded base64url), for hand-made payloads. */
static void wrap_code(char out[RUMOR_INVITE_CODE_MAX + 64], const uint8_t *bin, size_t len)
{
    strcpy(out, RUMOR_INVITE_PREFIX);
    sodium_bin2base64(out + strlen(RUMOR_INVITE_PREFIX),
                      RUMOR_INVITE_CODE_MAX + 64 - strlen(RUMOR_INVITE_PREFIX), bin, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int decode_str(const char *code, rumor_invite_t *inv)
{
    return rumor_invite_decode(code, strlen(code), inv);
}

static void test_invite_round_trip(void)
{
    char code[RUMOR_INVITE_CODE_MAX];
    rumor_invite_t back;
    static const char *const hosts[] = {"192.168.1.2",
                                        "10.0.0.1",
                                        "255.255.255.255",
                                        "::1",
                                        "fe80::1",
                                        "2001:db8::42",
                                        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        rumor_invite_t inv = make_invite((uint8_t)(0x10 * i), (uint8_t)(1 + i % 2),
                                         (uint16_t)(1 + 9000 * i), hosts[i]);
        CHECK_EQ_INT(rumor_invite_encode(&inv, code, sizeof code), RUMOR_OK);
        CHECK(strncmp(code, RUMOR_INVITE_PREFIX, strlen(RUMOR_INVITE_PREFIX)) == 0);
        CHECK_EQ_INT(decode_str(code, &back), RUMOR_OK);
        check_invite_eq(&inv, &back);
    }

    /* Known answers: IPv4, and IPv6 with the '-' and '_' of base64url. */
    rumor_invite_t inv = make_invite(0x11, RUMOR_ROLE_MEMBER, 7470, "192.168.1.2");
    memset(inv.inviter, 0x22, ID);
    memset(inv.token, 0x33, sizeof inv.token);
    CHECK_EQ_INT(rumor_invite_encode(&inv, code, sizeof code), RUMOR_OK);
    CHECK_EQ_STR(code, "rumor-invite:ARERERERERERERERERERERERERERERERERERERERERERIiIiIiIiIiIiI"
                       "iIiIiIiIiIiIiIiIiIiIiIiIiIiIiIzMzMzMzMzMzMzMzMzMzMzAR0uCzE5Mi4xNjguMS4y");
    memset(inv.room, 0xfe, ID);
    memset(inv.inviter, 0xfb, ID);
    memset(inv.token, 0xff, sizeof inv.token);
    inv.role = RUMOR_ROLE_ADMIN;
    inv.port = 65535;
    strcpy(inv.host, "::1");
    CHECK_EQ_INT(rumor_invite_encode(&inv, code, sizeof code), RUMOR_OK);
    const char *v6 = "rumor-invite:Af7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7--_v7-_v7-_v7-_v7-"
                     "_v7-_v7-_v7-_v7-_v7-_v7-_v_____________________Av__Azo6MQ";
    CHECK_EQ_STR(code, v6);
    CHECK_EQ_INT(decode_str(v6, &back), RUMOR_OK);
    check_invite_eq(&inv, &back);

    /* Surrounding ASCII whitespace is fine. */
    char padded[RUMOR_INVITE_CODE_MAX + 16];
    snprintf(padded, sizeof padded, " \t\r\n%s\r\n \v\f", v6);
    CHECK_EQ_INT(decode_str(padded, &back), RUMOR_OK);
    check_invite_eq(&inv, &back);
    /* The length is what counts, not a NUL. */
    snprintf(padded, sizeof padded, "%sXYZ", v6);
    CHECK_EQ_INT(rumor_invite_decode(padded, strlen(v6), &back), RUMOR_OK);

    /* The exact capacity works, one byte less does not. */
    size_t need = strlen(v6) + 1;
    CHECK_EQ_INT(rumor_invite_encode(&inv, code, need), RUMOR_OK);
    CHECK_EQ_INT(rumor_invite_encode(&inv, code, need - 1), RUMOR_ERR_TOO_BIG);
}

static void test_invite_malformed(void)
{
    char code[RUMOR_INVITE_CODE_MAX + 64], good[RUMOR_INVITE_CODE_MAX];
    rumor_invite_t inv = make_invite(0x21, RUMOR_ROLE_MEMBER, 7470, "10.1.2.3"), back;
    CHECK_EQ_INT(rumor_invite_encode(&inv, good, sizeof good), RUMOR_OK);
    size_t good_len = strlen(good);

    /* Encoding refuses a bad invite. */
    rumor_invite_t bad = inv;
    bad.role = 0;
    CHECK_EQ_INT(rumor_invite_encode(&bad, code, sizeof code), RUMOR_ERR_INVALID);
    bad.role = 3;
    CHECK_EQ_INT(rumor_invite_encode(&bad, code, sizeof code), RUMOR_ERR_INVALID);
    bad = inv;
    bad.port = 0;
    CHECK_EQ_INT(rumor_invite_encode(&bad, code, sizeof code), RUMOR_ERR_INVALID);
    static const char *const bad_hosts[] = {
        "", "localhost", "example.com", "1.2.3", "1.2.3.4:80", "[::1]", " 1.2.3.4", "fe80::1%eth0"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        bad = inv;
        snprintf(bad.host, sizeof bad.host, "%s", bad_hosts[i]);
        CHECK_EQ_INT(rumor_invite_encode(&bad, code, sizeof code), RUMOR_ERR_INVALID);
    }
    bad = inv;
    memset(bad.host, '1', sizeof bad.host); /* not terminated */
    CHECK_EQ_INT(rumor_invite_encode(&bad, code, sizeof code), RUMOR_ERR_INVALID);

    /* Prefix. */
    CHECK_EQ_INT(rumor_invite_decode(good, 0, &back), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(decode_str("rumor-invite:", &back), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(decode_str("   ", &back), RUMOR_ERR_MALFORMED);
    snprintf(code, sizeof code, "%s", good);
    code[0] = 'R';
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    snprintf(code, sizeof code, "%s", good + 1);
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    snprintf(code, sizeof code, "rumor-invite: %s", good + strlen(RUMOR_INVITE_PREFIX));
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    CHECK_EQ_INT(decode_str(good + strlen(RUMOR_INVITE_PREFIX), &back), RUMOR_ERR_MALFORMED);

    /* Every cut of the code, and one character more, fails. */
    for (size_t cut = 0; cut < good_len; cut++)
        CHECK_EQ_INT(rumor_invite_decode(good, cut, &back), RUMOR_ERR_MALFORMED);
    static const char extra[] = "AQgw-_=";
    for (size_t i = 0; i < sizeof extra - 1; i++) {
        snprintf(code, sizeof code, "%s%c", good, extra[i]);
        CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    }

    /* Characters outside base64url, inner whitespace, padding, other whitespace. */
    static const char swap[] = "+/= \t.\x80";
    for (size_t i = 0; i < sizeof swap - 1; i++) {
        snprintf(code, sizeof code, "%s", good);
        code[good_len - 5] = swap[i];
        CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    }
    /* Every byte outside ASCII, where the room id is (so any value there would do). */
    for (int c = 0x80; c <= 0xff; c++) {
        snprintf(code, sizeof code, "%s", good);
        code[strlen(RUMOR_INVITE_PREFIX) + 4] = (char)c;
        CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    }
    snprintf(code, sizeof code, "%s==", good);
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    snprintf(code, sizeof code, "\x01%s", good);
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    snprintf(code, sizeof code, "%s\xc2\xa0", good); /* U+00A0 is not ASCII whitespace */
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
    snprintf(code, sizeof code, "%s", good);
    code[good_len] = '\0';
    CHECK_EQ_INT(rumor_invite_decode(code, good_len + 1, &back), RUMOR_ERR_MALFORMED);

    /* Hand-made payloads: each breaks one rule. */
    uint8_t bin[200];
    size_t off_role = 1 + 2 * ID + 16, off_port = off_role + 1, off_hlen = off_port + 2;
    size_t base = off_hlen + 1;
    memset(bin, 0, sizeof bin);
    bin[0] = 1;
    memset(bin + 1, 0x21, ID);
    memset(bin + 1 + ID, 0x22, ID);
    memset(bin + 1 + 2 * ID, 0x23, 16);
    bin[off_role] = RUMOR_ROLE_MEMBER;
    rumor_put_u16(bin + off_port, 7470);
    bin[off_hlen] = 8;
    memcpy(bin + base, "10.1.2.3", 8);
    wrap_code(code, bin, base + 8);
    CHECK_EQ_STR(code, good);
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_OK);
    check_invite_eq(&inv, &back);

    struct {
        size_t at;
        uint8_t value;
        size_t len; /* of the payload */
    } cases[] = {
        {0, 0, base + 8},           /* version 0 */
        {0, 2, base + 8},           /* version 2 */
        {off_role, 0, base + 8},    /* role 0 */
        {off_role, 3, base + 8},    /* role 3 */
        {off_port, 0, base + 8},    /* (with the next) port 0 */
        {off_hlen, 0, base},        /* empty host */
        {off_hlen, 9, base + 8},    /* host_len past the end */
        {off_hlen, 7, base + 8},    /* one byte after the host */
        {off_hlen, 65, base + 65},  /* host too long */
        {base + 3, '\0', base + 8}, /* NUL in the host */
        {base + 7, 'x', base + 8},  /* not an address */
        {base, ' ', base + 8},      /* space in the host */
        {off_hlen, 8, base + 7},    /* short */
        {off_hlen, 8, base + 9},    /* long */
        {off_hlen, 8, 10},          /* far too short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t m[200];
        memcpy(m, bin, sizeof m);
        m[cases[i].at] = cases[i].value;
        if (i == 4) m[off_port + 1] = 0;
        if (cases[i].at == off_hlen && cases[i].value == 65) memset(m + base, '1', 65);
        wrap_code(code, m, cases[i].len);
        int rc = decode_str(code, &back);
        CHECK_EQ_INT(rc, RUMOR_ERR_MALFORMED);
        if (rc != RUMOR_ERR_MALFORMED) fprintf(stderr, "    case %zu\n", i);
        CHECK_EQ_INT(back.role, 0);
        CHECK_EQ_STR(back.host, "");
    }

    /* A non-zero leftover in the last base64 character is not canonical. */
    inv = make_invite(0x21, RUMOR_ROLE_MEMBER, 7470, "10.1.2.34");
    CHECK_EQ_INT(rumor_invite_encode(&inv, code, sizeof code), RUMOR_OK);
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_OK);
    good_len = strlen(code);
    CHECK(good_len % 4 != 0);
    char *last = &code[good_len - 1];
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t pos = (size_t)(strchr(alphabet, *last) - alphabet);
    *last = alphabet[pos ^ 1];
    CHECK_EQ_INT(decode_str(code, &back), RUMOR_ERR_MALFORMED);
}

/* ---- configuration ------------------------------------------------------------------------- */

static void check_defaults(const rumor_node_config_t *c)
{
    CHECK_EQ_INT(c->d, 6);
    CHECK_EQ_INT(c->d_lo, 4);
    CHECK_EQ_INT(c->d_hi, 12);
    CHECK_EQ_INT(c->d_lazy, 6);
    CHECK_EQ_INT(c->heartbeat_ms, 1000);
    CHECK_EQ_INT(c->history_length, 5);
    CHECK_EQ_INT(c->history_gossip, 3);
    CHECK_EQ_INT(c->seen_max, 65536);
    CHECK_EQ_INT(c->seen_ttl_ms, 120000);
    CHECK_EQ_INT(c->peers_target, 8);
    CHECK_EQ_INT(c->peers_max, 32);
    CHECK_EQ_INT(c->passive_max, 256);
    CHECK_EQ_INT(c->peer_timeout_ms, 10000);
    CHECK_EQ_INT(c->dial_timeout_ms, 5000);
    CHECK_EQ_INT(c->peer_queue, 1024);
    CHECK_EQ_INT(c->peer_rate, 2000);
    CHECK_EQ_INT(c->ban_ms, 60000);
    CHECK_EQ_INT(c->beacon_ms, 1000);
    CHECK_EQ_INT(c->beacon_port, 7470);
    CHECK_EQ_INT(c->batch_max, 256);
    CHECK_EQ_INT(c->recon_interval_ms, 30000);
    CHECK_EQ_INT(c->recon_rounds_max, 16);
    CHECK_EQ_INT(c->recon_window, 8);
    CHECK_EQ_INT(c->recon_jobs_max, 256);
    CHECK_EQ_INT(c->pending_max, 1024);
    CHECK_EQ_INT(c->pending_ttl_ms, 30000);
    CHECK(c->peer_exchange);
    CHECK_EQ_STR(c->log_level, "info");
    CHECK_EQ_STR(c->trace_file, "");
}

static int parse_str(const char *text, rumor_node_config_t *c, char *why, size_t why_cap)
{
    return rumor_node_config_parse(text, strlen(text), c, why, why_cap);
}

static void test_config_defaults(void)
{
    rumor_node_config_t c;
    memset(&c, 0xff, sizeof c);
    rumor_node_config_defaults(&c);
    check_defaults(&c);
    char why[128] = "x";
    CHECK_EQ_INT(parse_str("", &c, why, sizeof why), RUMOR_OK);
    CHECK_EQ_STR(why, "");
    CHECK_EQ_INT(parse_str("\n\n# only comments\n   \t\n  # indented\n", &c, why, sizeof why),
                 RUMOR_OK);
    check_defaults(&c);
}

/* The score keys: decimal numbers with a sign and a fraction, within their ranges; thresholds in
 * order; the defaults are the engine's (PROTOCOL.md 9.8). */
static void test_config_score_keys(void)
{
    rumor_node_config_t c;
    char why[160];
    rumor_node_config_defaults(&c);
    rumor_engine_score_opts_t e;
    rumor_engine_score_defaults(&e);
    CHECK(c.score); /* on unless turned off */
    CHECK(c.score_w1 == e.w1 && c.score_w2 == e.w2 && c.score_w3 == e.w3 && c.score_w3b == e.w3b);
    CHECK(c.score_w4 == e.w4 && c.score_w5 == e.w5 && c.score_w6 == e.w6 && c.score_w7 == e.w7);
    CHECK(c.score_graft == e.graft && c.score_gossip == e.gossip && c.score_publish == e.publish);
    CHECK(c.score_graylist == e.graylist && c.score_opportunistic == e.opportunistic);
    CHECK(c.score_ip_max == e.ip_max && c.score_d == e.d_score &&
          c.score_backoff_ms == e.backoff_ms);
    CHECK_EQ_INT(parse_str("score = true\nscore_w1 = 0.5\nscore_w4 = -2.25\nscore_graft = -1\n"
                           "score_gossip = -20.000001\nscore_graylist = -1000\n",
                           &c, why, sizeof why),
                 RUMOR_OK);
    CHECK(c.score);
    CHECK(c.score_w1 == 0.5);
    CHECK(c.score_w4 == -2.25);
    CHECK(c.score_graft == -1.0);
    CHECK(c.score_gossip < -20.0 && c.score_gossip > -20.00001);
    CHECK(c.score_graylist == -1000.0);
    static const char *bad[] = {
        "score_w1 = -0.1",                       /* a reward cannot be negative */
        "score_w4 = 1",                          /* a penalty cannot be positive */
        "score_w2 = 1e3",                        /* no exponent */
        "score_w2 = .5",                         /* digits first */
        "score_w2 = 1.",                         /* a fraction has digits */
        "score_w2 = 0.1234567",                  /* up to 6 of them */
        "score_w2 = +1",                         /* no plus */
        "score_w2 = 1,5",                        /* no comma */
        "score_w2 = ",                           /* a value */
        "score_gossip = 1",                      /* at most 0 */
        "score_graft = -20\nscore_gossip = -10", /* gossip above graft */
        "score_publish = -5",                    /* above gossip (-10) */
        "score_graylist = -40",                  /* above publish (-50) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rumor_node_config_t d;
        rumor_node_config_defaults(&d);
        CHECK_EQ_INT(parse_str(bad[i], &d, why, sizeof why), RUMOR_ERR_INVALID);
        CHECK(strstr(why, "score_") != NULL);
    }
}

static void test_config_every_key(void)
{
    rumor_node_config_t c;
    char why[128];
    rumor_node_config_defaults(&c);
    const char *text = "# every key\n"
                       "d = 8\n"
                       "d_lo = 5\n"
                       "d_hi = 16\n"
                       "d_lazy = 0\n"
                       "heartbeat_ms = 250\n"
                       "history_length = 7\n"
                       "history_gossip = 2\n"
                       "seen_max = 1000\n"
                       "seen_ttl_ms = 30000\n"
                       "peers_target = 3\n"
                       "peers_max = 9\n"
                       "passive_max = 100\n"
                       "peer_timeout_ms = 3000\n"
                       "dial_timeout_ms = 700\n"
                       "peer_queue = 10\n"
                       "peer_rate = 50\n"
                       "ban_ms = 0\n"
                       "beacon_ms = 500\n"
                       "beacon_port = 17470\n"
                       "batch_max = 1\n"
                       "recon_interval_ms = 5000\n"
                       "recon_rounds_max = 3\n"
                       "recon_window = 64\n"
                       "recon_jobs_max = 2\n"
                       "pending_max = 16\n"
                       "pending_ttl_ms = 100\n"
                       "peer_exchange = false\n"
                       "log_level = debug\n"
                       "trace_file = /tmp/rumor trace#1.jsonl\n";
    CHECK_EQ_INT(parse_str(text, &c, why, sizeof why), RUMOR_OK);
    CHECK_EQ_INT(c.d, 8);
    CHECK_EQ_INT(c.d_lo, 5);
    CHECK_EQ_INT(c.d_hi, 16);
    CHECK_EQ_INT(c.d_lazy, 0);
    CHECK_EQ_INT(c.heartbeat_ms, 250);
    CHECK_EQ_INT(c.history_length, 7);
    CHECK_EQ_INT(c.history_gossip, 2);
    CHECK_EQ_INT(c.seen_max, 1000);
    CHECK_EQ_INT(c.seen_ttl_ms, 30000);
    CHECK_EQ_INT(c.peers_target, 3);
    CHECK_EQ_INT(c.peers_max, 9);
    CHECK_EQ_INT(c.passive_max, 100);
    CHECK_EQ_INT(c.peer_timeout_ms, 3000);
    CHECK_EQ_INT(c.dial_timeout_ms, 700);
    CHECK_EQ_INT(c.peer_queue, 10);
    CHECK_EQ_INT(c.peer_rate, 50);
    CHECK_EQ_INT(c.ban_ms, 0);
    CHECK_EQ_INT(c.beacon_ms, 500);
    CHECK_EQ_INT(c.beacon_port, 17470);
    CHECK_EQ_INT(c.batch_max, 1);
    CHECK_EQ_INT(c.recon_interval_ms, 5000);
    CHECK_EQ_INT(c.recon_rounds_max, 3);
    CHECK_EQ_INT(c.recon_window, 64);
    CHECK_EQ_INT(c.recon_jobs_max, 2);
    CHECK_EQ_INT(c.pending_max, 16);
    CHECK_EQ_INT(c.pending_ttl_ms, 100);
    CHECK(!c.peer_exchange);
    CHECK_EQ_STR(c.log_level, "debug");
    CHECK_EQ_STR(c.trace_file, "/tmp/rumor trace#1.jsonl");

    /* Layout: CRLF, tabs, no spaces, no final newline, the last of a duplicate wins. */
    CHECK_EQ_INT(parse_str("log_level=warn\r\n\tpeer_exchange\t=\ttrue\t\r\n"
                           "beacon_port=1\nbeacon_port = 65535\nlog_level = error",
                           &c, why, sizeof why),
                 RUMOR_OK);
    CHECK_EQ_STR(c.log_level, "error");
    CHECK(c.peer_exchange);
    CHECK_EQ_INT(c.beacon_port, 65535);
    CHECK_EQ_INT(parse_str("log_level = info\nlog_level = warn\n", &c, why, sizeof why), RUMOR_OK);
    CHECK_EQ_STR(c.log_level, "warn");
    CHECK_EQ_INT(parse_str("peer_queue = 0001000000", &c, why, sizeof why), RUMOR_OK);
    CHECK_EQ_INT(c.peer_queue, 1000000);

    /* The text is not a C string: only `len` bytes count. */
    const char *longer = "batch_max = 12345 and more";
    CHECK_EQ_INT(rumor_node_config_parse(longer, 17, &c, why, sizeof why), RUMOR_OK);
    CHECK_EQ_INT(c.batch_max, 12345);

    /* The longest path fits; a path with '=' keeps it. */
    static char text_path[4200];
    int n = snprintf(text_path, sizeof text_path, "trace_file = ");
    memset(text_path + n, 'p', 4095);
    text_path[n + 4095] = '\0';
    CHECK_EQ_INT(parse_str(text_path, &c, why, sizeof why), RUMOR_OK);
    CHECK_EQ_INT(strlen(c.trace_file), 4095);
    CHECK_EQ_INT(parse_str("trace_file = a=b", &c, why, sizeof why), RUMOR_OK);
    CHECK_EQ_STR(c.trace_file, "a=b");
}

/* Parses `text` over the defaults and expects RUMOR_ERR_INVALID with `why` == `want`. */
static void expect_config_error(const char *text, const char *want)
{
    rumor_node_config_t c, before;
    char why[256];
    rumor_node_config_defaults(&c);
    before = c;
    CHECK_EQ_INT(parse_str(text, &c, why, sizeof why), RUMOR_ERR_INVALID);
    CHECK_EQ_STR(why, want);
    /* A file with an error changes nothing. */
    CHECK_EQ_MEM(&c, &before, sizeof c);
}

static void test_config_errors(void)
{
    expect_config_error("d = 7\nbogus = 1\n", "line 2: unknown key 'bogus'");
    expect_config_error("\n\n\nD = 6\n", "line 4: unknown key 'D'");
    expect_config_error("d_lo_ = 6\n", "line 1: unknown key 'd_lo_'");
    expect_config_error("a\x1b[31m = 6\n", "line 1: unknown key 'a?[31m'");
    expect_config_error("abcdefghijklmnopqrstuvwxyzabcdefghijkl = 1",
                        "line 1: unknown key 'abcdefghijklmnopqrstuvwxyzabcdef...'");
    expect_config_error("# c\nd 6\n", "line 2: expected key = value");
    expect_config_error("= 6\n", "line 1: missing key before '='");
    expect_config_error("d =\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d = 6x\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d = -1\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d = +6\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d = 0x6\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d = 6 # six\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d = 6 6\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d = 0\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d = 65\n", "line 1: d: expected a decimal number from 1 to 64");
    expect_config_error("d_lazy = 65\n", "line 1: d_lazy: expected a decimal number from 0 to 64");
    expect_config_error("heartbeat_ms = 9\n",
                        "line 1: heartbeat_ms: expected a decimal number from 10 to 60000");
    expect_config_error("heartbeat_ms = 60001\n",
                        "line 1: heartbeat_ms: expected a decimal number from 10 to 60000");
    expect_config_error("beacon_port = 0\n",
                        "line 1: beacon_port: expected a decimal number from 1 to 65535");
    expect_config_error("beacon_port = 65536\n",
                        "line 1: beacon_port: expected a decimal number from 1 to 65535");
    expect_config_error("peer_queue = 99999999999999999999999999\n",
                        "line 1: peer_queue: expected a decimal number from 1 to 1000000");
    expect_config_error("seen_max = 15\n",
                        "line 1: seen_max: expected a decimal number from 16 to 10000000");
    expect_config_error("recon_window = 65\n",
                        "line 1: recon_window: expected a decimal number from 1 to 64");
    expect_config_error("recon_rounds_max = 1\n",
                        "line 1: recon_rounds_max: expected a decimal number from 2 to 255");
    expect_config_error("batch_max = 65537\n",
                        "line 1: batch_max: expected a decimal number from 1 to 65536");
    expect_config_error("peer_exchange = yes\n", "line 1: peer_exchange: expected true or false");
    expect_config_error("peer_exchange = TRUE\n", "line 1: peer_exchange: expected true or false");
    expect_config_error("peer_exchange =\n", "line 1: peer_exchange: expected true or false");
    expect_config_error("log_level = trace\n",
                        "line 1: log_level: expected error, warn, info or debug");
    expect_config_error("log_level = Info\n",
                        "line 1: log_level: expected error, warn, info or debug");
    expect_config_error("trace_file =   \n", "line 1: trace_file: empty path");

    static char long_path[4200];
    int n = snprintf(long_path, sizeof long_path, "\ntrace_file = ");
    memset(long_path + n, 'p', 4096);
    long_path[n + 4096] = '\0';
    expect_config_error(long_path, "line 2: trace_file: path too long");

    /* NUL bytes, wherever they are. */
    rumor_node_config_t c;
    char why[64];
    rumor_node_config_defaults(&c);
    CHECK_EQ_INT(rumor_node_config_parse("d = 6\nd = 7\0\n", 13, &c, why, sizeof why),
                 RUMOR_ERR_INVALID);
    CHECK_EQ_STR(why, "line 2: NUL byte");
    CHECK_EQ_INT(rumor_node_config_parse("# \0\n", 4, &c, why, sizeof why), RUMOR_ERR_INVALID);
    CHECK_EQ_STR(why, "line 1: NUL byte");
    CHECK_EQ_INT(rumor_node_config_parse("trace_file = a\0b", 16, &c, why, sizeof why),
                 RUMOR_ERR_INVALID);
    CHECK_EQ_INT(c.d, 6);
    /* notify_cmd travels to `chat` as a string: it must be UTF-8. */
    CHECK_EQ_INT(parse_str("notify_cmd = notify-send \xff\xfe", &c, why, sizeof why),
                 RUMOR_ERR_INVALID);
    CHECK_EQ_STR(why, "line 1: notify_cmd: not UTF-8");
    CHECK_EQ_INT(parse_str("notify_cmd = notify-send \xc3\xa9t\xc3\xa9", &c, why, sizeof why),
                 RUMOR_OK);

    /* `why` may be NULL or small. */
    CHECK_EQ_INT(parse_str("bogus = 1", &c, NULL, 0), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(parse_str("bogus = 1", &c, why, 0), RUMOR_ERR_INVALID);
    CHECK_EQ_INT(parse_str("bogus = 1", &c, why, 8), RUMOR_ERR_INVALID);
    CHECK_EQ_STR(why, "line 1:");
}

static void test_config_watermarks(void)
{
    rumor_node_config_t c;
    char why[128];

    expect_config_error("d = 3\n", "line 1: d_lo is above d");
    expect_config_error("d = 13\n", "line 1: d is above d_hi");
    expect_config_error("d_lo = 7\n", "line 1: d_lo is above d");
    expect_config_error("d_hi = 5\n", "line 1: d is above d_hi");
    expect_config_error("d_hi = 5\n# fine so far\nd = 4\nd_lo = 5\n", "line 4: d_lo is above d");
    expect_config_error("history_gossip = 6\n", "line 1: history_gossip is above history_length");
    expect_config_error("peers_max = 7\n", "line 1: peers_target is above peers_max");

    /* The rule holds for the file as a whole, not line by line. */
    rumor_node_config_defaults(&c);
    CHECK_EQ_INT(parse_str("d = 2\nd_lo = 1\nd_hi = 2\n", &c, why, sizeof why), RUMOR_OK);
    CHECK_EQ_INT(c.d_lo, 1);
    CHECK_EQ_INT(c.d, 2);
    CHECK_EQ_INT(c.d_hi, 2);
    rumor_node_config_defaults(&c);
    CHECK_EQ_INT(parse_str("d_hi = 64\nd = 64\nd_lo = 64\nd_lazy = 64\n", &c, why, sizeof why),
                 RUMOR_OK);
    CHECK_EQ_INT(c.d_lo, 64);
    rumor_node_config_defaults(&c);
    CHECK_EQ_INT(parse_str("d_lo = 1\nd = 1\nd_hi = 1\n", &c, why, sizeof why), RUMOR_OK);
    rumor_node_config_defaults(&c);
    CHECK_EQ_INT(parse_str("history_length = 1\nhistory_gossip = 1\npeers_target = 0\n"
                           "peers_max = 1\n",
                           &c, why, sizeof why),
                 RUMOR_OK);
}

int main(void)
{
    if (sodium_init() < 0) return 2;

    RUN(test_wire_round_trip);
    RUN(test_wire_known_answers);
    RUN(test_wire_malformed);
    RUN(test_wire_decode_zeroes);
    RUN(test_wire_encode_rejects);
    RUN(test_wire_recon_batch_credit);
    RUN(test_beacon);
    RUN(test_ctl_round_trip);
    RUN(test_ctl_malformed);
    RUN(test_ctl_writer_limits);
    RUN(test_invite_round_trip);
    RUN(test_invite_malformed);
    RUN(test_config_defaults);
    RUN(test_config_every_key);
    RUN(test_config_score_keys);
    RUN(test_config_errors);
    RUN(test_config_watermarks);
    return test_report("wire");
}
