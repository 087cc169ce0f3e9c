/* Unit tests for the decode direction of the filter chain (http/stream_pipe.c)
 * with buffering (XG_FILTER_STOP_AND_BUFFER) and the buffer filter
 * (filters/buffer.c) on top of it: the body is acknowledged to the client
 * while it is held, the filters after the buffering one see the headers,
 * every byte in order and the end only once the request is complete, a
 * content-length is added, 413 past the limit, plain STOP still holds
 * without acknowledging, and the bytes acknowledged early are not
 * acknowledged twice when the last filter consumes them. The stream's
 * surroundings (codec, connection, local replies) are recorded by fakes. */
#include <string.h>

#include "http/stream_pipe.c"
#include "xg_test.h"

/* --- fakes for the stream's surroundings --- */

static size_t acked; /* bytes acknowledged to the codec */
static int reply_status;
static const char *reply_details;

void xg__stream_consumed(xg_stream *s, size_t n)
{
    if (n > s->rx_owed)
        n = s->rx_owed;
    s->rx_owed -= (uint32_t)n;
    acked += n;
}

void xg__stream_local_reply(xg_stream *s, int from, int status, const char *body, uint32_t flags, const char *details)
{
    reply_status = status;
    reply_details = details;
    s->dec_abandoned = true;
}

void xg__stream_sink_headers(xg_stream *s, xg_headers *h, bool end_stream)
{
}
void xg__stream_sink_data(xg_stream *s, const char *p, size_t n, bool end_stream)
{
}
void xg__stream_sink_trailers(xg_stream *s, xg_headers *t)
{
}
void xg__stream_on_send_ready(xg_stream *s)
{
}
void xg__stream_reset(xg_stream *s, uint32_t flags, const char *details)
{
}
void xg__hconn_pump(xg_hconn *hc)
{
}

static const xg_typed_config *per_route;
const xg_typed_config *xg_filter_per_route_config(const xg_filter *f)
{
    return per_route;
}

/* --- a recording last filter (the router's place) --- */

typedef struct sink {
    xg_filter base;
    bool headers, ended, trailers;
    char body[4096];
    size_t n;
    bool consume; /* acknowledges what it gets, as the router does once it is sent upstream */
} sink;

static xg_filter_status sink_headers(xg_filter *f, xg_headers *h, bool end)
{
    sink *k = (sink *)f;
    k->headers = true;
    k->ended = end;
    return XG_FILTER_CONTINUE;
}

static xg_filter_status sink_data(xg_filter *f, const char *p, size_t n, bool end)
{
    sink *k = (sink *)f;
    CHECK(k->headers); /* never body before headers */
    memcpy(k->body + k->n, p, n);
    k->n += n;
    k->ended = end;
    if (k->consume)
        xg_filter_request_consumed(f, n);
    return XG_FILTER_CONTINUE;
}

static xg_filter_status sink_trailers(xg_filter *f, xg_headers *t)
{
    ((sink *)f)->trailers = true;
    return XG_FILTER_CONTINUE;
}

static const xg_filter_vt sink_vt = {
    .name = "sink", .decode_headers = sink_headers, .decode_data = sink_data, .decode_trailers = sink_trailers};

/* A filter that stops the headers (plain STOP: an asynchronous check). */
static xg_filter_status stop_headers(xg_filter *f, xg_headers *h, bool end)
{
    return XG_FILTER_STOP;
}
static const xg_filter_vt stopper_vt = {.name = "stopper", .decode_headers = stop_headers};

/* --- fixture: [buffer or stopper, sink] on one stream --- */

typedef struct fixture {
    xg_hconn hc;
    xg_stream s;
    xg_http_filter cfg;
    xg_buffer_config bc;
    xg_filter *first;
    sink k;
    xg_filter *chain[2];
} fixture;

static void setup(fixture *f, const xg_filter_vt *first_vt, uint32_t max_bytes)
{
    memset(f, 0, sizeof(*f));
    acked = 0;
    reply_status = 0;
    reply_details = NULL;
    per_route = NULL;
    xg_arena_init(&f->s.arena, 4096);
    xg_buf_init(&f->s.dec.bytes);
    xg_buf_init(&f->s.enc.bytes);
    f->s.hc = &f->hc;
    f->s.dec_limit = 32768;
    f->s.req = xg_headers_new(&f->s.arena);
    f->bc.max_request_bytes = max_bytes;
    f->cfg = (xg_http_filter){.name = "envoy.filters.http.buffer", .kind = XG_HTTP_FILTER_BUFFER, .translated = &f->bc};
    f->first =
        first_vt != NULL ? xg_arena_calloc(&f->s.arena, 1, sizeof(xg_filter)) : xg_buffer_filter_create(&f->s, &f->cfg);
    if (first_vt != NULL)
        f->first->vt = first_vt;
    f->first->stream = &f->s;
    f->first->config = &f->cfg;
    f->first->index = 0;
    f->k.base = (xg_filter){.vt = &sink_vt, .stream = &f->s, .index = 1};
    f->chain[0] = f->first;
    f->chain[1] = &f->k.base;
    f->s.filters = f->chain;
    f->s.n_filters = 2;
}

static void teardown(fixture *f)
{
    xg__pipe_dispose(&f->s.dec);
    xg__pipe_dispose(&f->s.enc);
    xg_arena_dispose(&f->s.arena);
}

/* The codec delivering n body bytes. */
static void data(fixture *f, const char *p, size_t n, bool end)
{
    f->s.rx_owed += (uint32_t)n;
    xg__pipe_decode_data(&f->s, p, n, end);
}

static const char *content_length(fixture *f)
{
    const xg_header *h = xg_headers_get_id(f->s.req, XG_HDR_CONTENT_LENGTH);
    static char v[32];
    if (h == NULL)
        return NULL;
    snprintf(v, sizeof(v), "%.*s", (int)h->value_len, h->value);
    return v;
}

XG_TEST(buffer_holds_until_complete_and_acknowledges_meanwhile)
{
    fixture f;
    setup(&f, NULL, 1000);
    xg__pipe_decode_headers(&f.s, false);
    CHECK(!f.k.headers);
    data(&f, "hello ", 6, false);
    data(&f, "big ", 4, false);
    CHECK(!f.k.headers && f.k.n == 0);
    CHECK_EQ_INT(acked, 10); /* the client's window reopened although nothing went on */
    data(&f, "world", 5, true);
    CHECK(f.k.headers && f.k.ended);
    CHECK_EQ_INT(f.k.n, 15);
    CHECK(memcmp(f.k.body, "hello big world", 15) == 0);
    CHECK_STR(content_length(&f), "15");
    teardown(&f);
}

XG_TEST(buffered_bytes_are_not_acknowledged_twice)
{
    fixture f;
    setup(&f, NULL, 1000);
    f.k.consume = true;
    xg__pipe_decode_headers(&f.s, false);
    data(&f, "0123456789", 10, false);
    CHECK_EQ_INT(acked, 10);
    data(&f, "abc", 3, true); /* completes the request: 13 bytes reach the sink, which consumes them */
    CHECK_EQ_INT(f.k.n, 13);
    CHECK_EQ_INT(f.s.rx_preacked, 0);
    CHECK_EQ_INT(acked, 13); /* the last 3 once, by the sink; the 10 held ones not again */
    CHECK_EQ_INT(f.s.rx_owed, 0);
    teardown(&f);
}

XG_TEST(existing_content_length_is_kept)
{
    fixture f;
    setup(&f, NULL, 1000);
    xg_headers_set(f.s.req, "content-length", 14, "4", 1, false);
    xg__pipe_decode_headers(&f.s, false);
    data(&f, "abcd", 4, true);
    CHECK_STR(content_length(&f), "4");
    CHECK_EQ_INT(f.s.req->n, 1);
    teardown(&f);
}

XG_TEST(over_the_limit_is_413_and_nothing_goes_on)
{
    fixture f;
    setup(&f, NULL, 8);
    xg__pipe_decode_headers(&f.s, false);
    data(&f, "12345", 5, false);
    CHECK_EQ_INT(reply_status, 0);
    data(&f, "6789", 4, false); /* 9 > 8 */
    CHECK_EQ_INT(reply_status, 413);
    CHECK_STR(reply_details, "request_payload_too_large");
    CHECK(!f.k.headers && f.k.n == 0);
    teardown(&f);
}

XG_TEST(exactly_the_limit_passes)
{
    fixture f;
    setup(&f, NULL, 8);
    xg__pipe_decode_headers(&f.s, false);
    data(&f, "1234", 4, false);
    data(&f, "5678", 4, true);
    CHECK_EQ_INT(reply_status, 0);
    CHECK_EQ_INT(f.k.n, 8);
    teardown(&f);
}

XG_TEST(trailers_end_the_buffering)
{
    fixture f;
    setup(&f, NULL, 1000);
    xg__pipe_decode_headers(&f.s, false);
    data(&f, "abc", 3, false);
    xg_headers *t = xg_headers_new(&f.s.arena);
    xg__pipe_decode_trailers(&f.s, t);
    CHECK(f.k.headers && f.k.trailers);
    CHECK_EQ_INT(f.k.n, 3);
    CHECK_STR(content_length(&f), "3");
    teardown(&f);
}

XG_TEST(header_only_request_is_not_held)
{
    fixture f;
    setup(&f, NULL, 1000);
    xg__pipe_decode_headers(&f.s, true);
    CHECK(f.k.headers && f.k.ended);
    CHECK(content_length(&f) == NULL);
    teardown(&f);
}

XG_TEST(per_route_disabled_streams_through)
{
    fixture f;
    setup(&f, NULL, 4);
    xg_buffer_config off = {.disabled = true};
    xg_typed_config tc = {.translated = &off,
                          .translated_type = "envoy.extensions.filters.http.buffer.v3.BufferPerRoute"};
    per_route = &tc;
    xg__pipe_decode_headers(&f.s, false);
    CHECK(f.k.headers);
    data(&f, "more than four", 14, false);
    CHECK_EQ_INT(f.k.n, 14);
    CHECK_EQ_INT(reply_status, 0);
    CHECK(content_length(&f) == NULL);
    teardown(&f);
}

XG_TEST(per_route_limit_replaces_the_filters)
{
    fixture f;
    setup(&f, NULL, 4);
    xg_buffer_config big = {.max_request_bytes = 100};
    xg_typed_config tc = {.translated = &big,
                          .translated_type = "envoy.extensions.filters.http.buffer.v3.BufferPerRoute"};
    per_route = &tc;
    xg__pipe_decode_headers(&f.s, false);
    data(&f, "0123456789", 10, true);
    CHECK_EQ_INT(reply_status, 0);
    CHECK_EQ_INT(f.k.n, 10);
    CHECK_EQ_INT(f.s.dec_limit, 100);
    teardown(&f);
}

XG_TEST(plain_stop_holds_without_acknowledging)
{
    fixture f;
    setup(&f, &stopper_vt, 0);
    xg__pipe_decode_headers(&f.s, false);
    data(&f, "abcdef", 6, false);
    CHECK_EQ_INT(acked, 0); /* back-pressure: the window stays closed */
    CHECK(!f.k.headers);
    xg_filter_continue_decoding(f.first);
    CHECK(f.k.headers);
    CHECK_EQ_INT(f.k.n, 6);
    data(&f, "gh", 2, true);
    CHECK_EQ_INT(f.k.n, 8);
    CHECK(f.k.ended);
    teardown(&f);
}
