/*
 * fuzz_ctl.c - libFuzzer target for the control record decoder (PROTOCOL.md
 * 11). The input is a record body (without its len[4] prefix).
 *
 * A refused record leaves no fields behind. An accepted one is rebuilt field
 * by field with the writer, which must accept it and produce exactly the
 * input behind a len[4] prefix that counts it; every field must be found by
 * rumor_ctl_get. A breach aborts so libFuzzer keeps the input.
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
    fprintf(stderr, "fuzz_ctl: %s (rc %d, %s)\n", what, rc, rumor_err_name(rc));
    abort();
}

/* Writes every field of `r` into `w`, in order. */
static void rebuild(rumor_ctl_writer_t *w, const rumor_ctl_record_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const rumor_ctl_field_t *f = &r->f[i];
        switch (f->type) {
        case RUMOR_CTL_U64: rumor_ctl_put_u64(w, f->key, f->u); break;
        case RUMOR_CTL_STR: rumor_ctl_put_str(w, f->key, f->s, f->s_len); break;
        case RUMOR_CTL_BYTES:
            rumor_ctl_put_bytes(w, f->key, (const uint8_t *)f->s, f->s_len);
            break;
        case RUMOR_CTL_BOOL: rumor_ctl_put_bool(w, f->key, f->b); break;
        case RUMOR_CTL_F64: rumor_ctl_put_f64(w, f->key, f->f); break;
        default: fuzz_fail("decoded a field of an unknown type", RUMOR_OK);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rumor_ctl_record_t r;
    int rc = rumor_ctl_decode(data, size, &r);
    if (rc != RUMOR_OK) {
        if (rc != RUMOR_ERR_MALFORMED) fuzz_fail("unexpected decode result", rc);
        if (r.n != 0) fuzz_fail("a refused record has fields", rc);
        return 0;
    }
    if (r.n > RUMOR_CTL_FIELDS_MAX) fuzz_fail("too many fields", RUMOR_OK);
    for (size_t i = 0; i < r.n; i++) {
        const rumor_ctl_field_t *f = &r.f[i];
        if (rumor_ctl_get(&r, f->key) != f) fuzz_fail("a field is not found by its key", RUMOR_OK);
        if ((f->type == RUMOR_CTL_STR || f->type == RUMOR_CTL_BYTES) &&
            (f->s_len > (f->type == RUMOR_CTL_STR ? RUMOR_CTL_STR_MAX : RUMOR_CTL_BYTES_MAX) ||
             (const uint8_t *)f->s < data ||
             f->s_len > (size_t)(data + size - (const uint8_t *)f->s)))
            fuzz_fail("a string points outside the record", RUMOR_OK);
    }

    rumor_ctl_writer_t w;
    const uint8_t *msg;
    size_t len;
    rumor_ctl_writer_init(&w);
    rebuild(&w, &r);
    rc = rumor_ctl_writer_finish(&w, &msg, &len);
    if (rc != RUMOR_OK) fuzz_fail("the writer refuses a decoded record", rc);
    if (len != size + 4 || rumor_get_u32(msg) != size || memcmp(msg + 4, data, size) != 0)
        fuzz_fail("a decoded record is rebuilt differently", RUMOR_OK);
    rumor_ctl_writer_free(&w);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Hands over the body of the writer's message as a seed. */
static void emit_writer(fuzz_seed_fn emit, void *ctx, const char *name, rumor_ctl_writer_t *w)
{
    const uint8_t *msg;
    size_t len;
    int rc = rumor_ctl_writer_finish(w, &msg, &len);
    if (rc != RUMOR_OK) fuzz_fail("cannot build a seed record", rc);
    emit(ctx, name, msg + 4, len - 4);
    rumor_ctl_writer_free(w);
}

/* Requests and answers as the node sees them, an empty record, and a few refused ones. */
void fuzz_seeds(fuzz_seed_fn emit, void *ctx)
{
    rumor_ctl_writer_t w;

    rumor_ctl_writer_init(&w);
    emit_writer(emit, ctx, "seed-empty", &w);

    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "op", "status", 6);
    emit_writer(emit, ctx, "seed-op-status", &w);

    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "op", "join", 4);
    rumor_ctl_put_str(&w, "code", "rumor-invite:AQ", 15);
    emit_writer(emit, ctx, "seed-op-join", &w);

    rumor_ctl_writer_init(&w);
    rumor_ctl_put_bool(&w, "ok", true);
    rumor_ctl_put_u64(&w, "peers", 3);
    rumor_ctl_put_u64(&w, "uptime_ms", UINT64_C(123456789));
    rumor_ctl_put_str(&w, "id", "d\xc3\xa9j\xc3\xa0 \xf0\x9f\x91\x8b", 11);
    emit_writer(emit, ctx, "seed-final-ok", &w);

    rumor_ctl_writer_init(&w);
    rumor_ctl_put_bool(&w, "ok", false);
    rumor_ctl_put_str(&w, "error", "not found", 9);
    rumor_ctl_put_u64(&w, "code", 8);
    emit_writer(emit, ctx, "seed-final-error", &w);

    static const uint8_t duplicate[] = {2, 'b', 1, 'a', 1, 'b', 1, 'a', 0};
    emit(ctx, "seed-duplicate", duplicate, sizeof duplicate);
    static const uint8_t bad_utf8[] = {1, 's', 1, 'a', 0, 0, 0, 2, 0xc0, 0xaf};
    emit(ctx, "seed-bad-utf8", bad_utf8, sizeof bad_utf8);
    static const uint8_t bad_key[] = {1, 'u', 1, 'A', 0, 0, 0, 0, 0, 0, 0, 1};
    emit(ctx, "seed-bad-key", bad_key, sizeof bad_key);
}
