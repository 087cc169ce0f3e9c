/* libFuzzer target for the HTTP/2 server codec: a valid client preface and
 * SETTINGS, then the fuzz input as frames, fed in slices; requests are
 * answered with a small response with trailers, body bytes consumed as they
 * arrive. The first byte picks the slice size (bits 2-7), stream errors for
 * invalid messages (bit 0), and tight flood limits with output drained only
 * after every other feed, a peer that reads slowly (bit 1); otherwise output
 * is drained after every feed; every fourth slice is followed by a trim
 * (xg_codec_trim). Run: make fuzz [FUZZ_TIME=seconds] (builds both
 * targets with clang and runs each on a scratch corpus seeded from
 * tests/fuzz/corpus/http2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "core/assert.h"

typedef struct fz {
    xg_codec *c;
    int open; /* streams begun and not yet terminal; each owns a heap arena (its user pointer) */
} fz;

static void answer(fz *f, uint32_t sid, const char *status)
{
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a), *t = xg_headers_new(&a);
    if (h != NULL && t != NULL && xg_headers_set_pseudo(h, ":status", 7, status, 3) == 0 &&
        xg_codec_send_headers(f->c, sid, h, false) == 0 && xg_codec_send_data(f->c, sid, "ok", 2, false) == 0) {
        xg_headers_add_ref(t, "grpc-status", 11, "0", 1);
        xg_codec_send_trailers(f->c, sid, t);
    }
    xg_arena_dispose(&a);
}

static int on_begin(void *owner, uint32_t sid, void **user, xg_arena **arena)
{
    fz *f = owner;
    xg_arena *a = malloc(sizeof *a);
    if (a == NULL)
        return -1;
    xg_arena_init(a, 0);
    f->open++;
    *user = a;
    *arena = a;
    return 0;
}

static void on_headers(void *owner, void *user, uint32_t sid, xg_headers *h, bool end)
{
    XG_ASSERT(h->method.len > 0 && h->authority.len + h->path.len > 0);
    answer(owner, sid, "200");
}

static void on_data(void *owner, void *user, uint32_t sid, const char *p, size_t n, bool end)
{
    if (n > 0)
        xg_codec_consumed(((fz *)owner)->c, sid, n);
}

/* Terminal callbacks: the codec is done with the stream, so is its arena. */
static void on_close(void *owner, void *user, uint32_t sid)
{
    ((fz *)owner)->open--;
    xg_arena_dispose(user);
    free(user);
}

static void on_reset(void *owner, void *user, uint32_t sid, xg_reset_reason r)
{
    on_close(owner, user, sid);
}

static void on_error(void *owner, void *user, uint32_t sid, xg_codec_err kind, const char *detail)
{
    if (sid != 0)
        answer(owner, sid, "400");
}

static const xg_codec_cbs cbs = {
    .on_stream_begin = on_begin,
    .on_headers = on_headers,
    .on_data = on_data,
    .on_stream_close = on_close,
    .on_stream_reset = on_reset,
    .on_error = on_error,
};

static void drain(fz *f)
{
    struct iovec iov[4];
    while (xg_codec_output(f->c, iov, 4) > 0)
        xg_codec_output_done(f->c, iov[0].iov_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char start[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
    static fz f;
    xg_codec_opts o;
    size_t used;
    if (size == 0)
        return 0;
    memset(&f, 0, sizeof f);
    xg_codec_opts_init(&o);
    bool tight = data[0] & 2;
    o.stream_error_on_invalid_http_message = data[0] & 1;
    if (tight) {
        o.max_outbound_frames = 16;
        o.max_outbound_control_frames = 8;
        o.max_empty_frames = 0;
        o.max_priority_per_stream = 1;
        o.max_window_updates_per_data = 1;
    }
    if (xg_http2_server_new(&f.c, &o, &cbs, &f) != 0)
        return 0;
    xg_codec_feed(f.c, start, sizeof start - 1, &used);
    drain(&f);
    size_t slice = (size_t)(data[0] >> 2) * 16 + 1;
    for (size_t off = 1, k = 0; off < size; k++) {
        size_t n = size - off < slice ? size - off : slice;
        if (xg_codec_feed(f.c, (const char *)data + off, n, &used) < 0)
            break;
        off += n;
        if (!tight || k % 2 == 1)
            drain(&f);
        if (k % 4 == 3) /* an idle spell's trim, here also mid-traffic: it must never lose a byte */
            (void)xg_codec_trim(f.c);
    }
    xg_codec_feed(f.c, NULL, 0, &used);
    drain(&f);
    XG_ASSERT(f.open == 0);
    xg_codec_free(f.c);
    return 0;
}
