/* libFuzzer target for the HTTP/1.1 server codec: the input is split into
 * feeds at varying points (the first byte picks the slice size), every
 * request or error is answered at once with a small response, output is
 * drained, and the connection ends with EOF. Invariants are XG_ASSERTs;
 * ASan/UBSan catch the rest.
 *
 * Run: make fuzz [FUZZ_TIME=seconds] (builds both
 * targets with clang and runs each on a scratch corpus seeded from
 * tests/fuzz/corpus/http1). */
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"
#include "core/assert.h"

typedef struct fz {
    xg_codec *c;
    xg_arena arena;
    int open; /* streams begun and not yet terminal */
} fz;

static void answer(fz *f, uint32_t sid, const char *status)
{
    xg_headers *h = xg_headers_new(&f->arena);
    if (h == NULL || xg_headers_set_pseudo(h, ":status", 7, status, 3) != 0)
        return;
    xg_headers_add_ref(h, "content-length", 14, "2", 1);
    if (xg_codec_send_headers(f->c, sid, h, false) == 0)
        xg_codec_send_data(f->c, sid, "ok", 2, true);
}

static int on_begin(void *owner, uint32_t sid, void **user, xg_arena **arena)
{
    fz *f = owner;
    f->open++;
    *user = f;
    *arena = &f->arena;
    return 0;
}

static void on_headers(void *owner, void *user, uint32_t sid, xg_headers *h, bool end)
{
    XG_ASSERT(h->method.len > 0);
    XG_ASSERT(h->authority.len > 0 || h->method_id == XG_METHOD_CONNECT);
    for (uint32_t i = 0; i < h->n; i++) {
        XG_ASSERT(xg_hdr_is_token(h->v[i].name, h->v[i].name_len));
        XG_ASSERT(xg_hdr_value_ok(h->v[i].value, h->v[i].value_len));
    }
    answer(owner, sid, "200");
}

static void on_data(void *owner, void *user, uint32_t sid, const char *p, size_t n, bool end)
{
    fz *f = owner;
    if (n > 0)
        xg_codec_consumed(f->c, sid, n);
}

static void on_terminal(void *owner, void *user, uint32_t sid)
{
    ((fz *)owner)->open--;
}

static void on_reset(void *owner, void *user, uint32_t sid, xg_reset_reason r)
{
    ((fz *)owner)->open--;
}

static void on_error(void *owner, void *user, uint32_t sid, xg_codec_err kind, const char *detail)
{
    XG_ASSERT(sid == 0 || xg_codec_err_status(kind) != 0);
    if (sid != 0)
        answer(owner, sid, "400");
}

static const xg_codec_cbs cbs = {
    .on_stream_begin = on_begin,
    .on_headers = on_headers,
    .on_data = on_data,
    .on_stream_close = on_terminal,
    .on_stream_reset = on_reset,
    .on_error = on_error,
};

static void drain(fz *f)
{
    struct iovec iov[4];
    size_t k;
    while ((k = xg_codec_output(f->c, iov, 4)) > 0)
        xg_codec_output_done(f->c, iov[0].iov_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {0};
    xg_codec_opts o;
    if (size == 0)
        return 0;
    xg_codec_opts_init(&o);
    o.stream_window = 64;
    o.accept_http_10 = data[0] & 0x80;
    o.enable_trailers = data[0] & 0x40;
    size_t slice = (data[0] & 0x3f) + 1;
    xg_arena_init(&f.arena, 0);
    if (xg_http1_server_new(&f.c, &o, &cbs, &f) != 0)
        return 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    for (int guard = 0; p < end && guard < 100000; guard++) {
        size_t n = (size_t)(end - p) < slice ? (size_t)(end - p) : slice, used = 0;
        if (xg_codec_feed(f.c, p, n, &used) < 0)
            break;
        XG_ASSERT(used <= n);
        p += used;
        drain(&f);
        if (used == 0 && !xg_codec_can_feed(f.c))
            break;
    }
    size_t used;
    xg_codec_feed(f.c, NULL, 0, &used);
    drain(&f);
    XG_ASSERT(f.open >= 0 && f.open <= 1);
    xg_codec_free(f.c);
    xg_arena_dispose(&f.arena);
    return 0;
}
