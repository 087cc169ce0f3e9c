/* HTTP/2 client codec (upstream pools): the server's SETTINGS bound how many
 * streams the pool may open, GOAWAY stops reuse and refuses the streams the
 * server never processed, peer resets and malformed responses end streams. */
#include <stdlib.h>

#include "codec/codec.h"
#include "core/error.h"
#include "h2_util.h"
#include "xg_test.h"

static towner C, S;
static xg_arena A;

static void start_with(bool stream_error)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    d.stream_error_on_invalid_http_message = stream_error;
    towner_init(&C);
    xg_arena_init(&A, 0);
    CHECK_EQ_INT(xg_http2_client_new(&C.c, &d, &t_cbs, &C), 0);
}

static void start(void)
{
    start_with(false);
}

static void start_pair(uint32_t server_streams)
{
    xg_codec_opts so;
    xg_codec_opts_init(&so);
    so.max_concurrent_streams = server_streams;
    start();
    towner_init(&S);
    CHECK_EQ_INT(xg_http2_server_new(&S.c, &so, &t_cbs, &S), 0);
}

static void stop(void)
{
    towner_dispose(&C);
    if (S.c != NULL)
        towner_dispose(&S);
    memset(&S, 0, sizeof S);
    xg_arena_dispose(&A);
}

static xg_headers *get(const char *path)
{
    xg_headers *h = xg_headers_new(&A);
    xg_headers_set_pseudo(h, ":method", 7, "GET", 3);
    xg_headers_set_pseudo(h, ":scheme", 7, "http", 4);
    xg_headers_set_pseudo(h, ":path", 5, path, strlen(path));
    xg_headers_set_pseudo(h, ":authority", 10, "up", 2);
    return h;
}

static uint32_t open_stream(const char *path)
{
    uint32_t sid = 0;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, get(path), true, &sid), 0);
    return sid;
}

XG_TEST(server_settings_bound_capacity)
{
    start_pair(2);
    CHECK_EQ_INT(xg_codec_capacity(C.c), 100); /* nghttp2's assumption before SETTINGS */
    pump(&C, &S);
    CHECK_EQ_INT(xg_codec_capacity(C.c), 2);
    uint32_t a = open_stream("/a");
    open_stream("/b");
    CHECK_EQ_INT(xg_codec_capacity(C.c), 0);
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, get("/c"), true, &sid), XG_EAGAIN);
    pump(&C, &S);
    xg_headers *r = xg_headers_new(&A);
    xg_headers_set_pseudo(r, ":status", 7, "200", 3);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, a, r, true), 0);
    pump(&C, &S);
    CHECK(strstr(LOG(&C), "headers 1 200 END;close 1;") != NULL);
    CHECK_EQ_INT(xg_codec_capacity(C.c), 1);
    stop();
}

/* A hostile or plain server scripted frame by frame. */
static void server_says(xg_buf *b)
{
    CHECK_EQ_INT(feed_buf(&C, b), 0);
    drain(&C);
}

XG_TEST(goaway_refuses_unprocessed_streams)
{
    start();
    uint32_t a = open_stream("/a"), b = open_stream("/b");
    drain(&C);
    CHECK_EQ_INT(a, 1);
    CHECK_EQ_INT(b, 3);
    xg_buf in;
    xg_buf_init(&in);
    frame(&in, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
    uint8_t ga[8] = {0, 0, 0, 1, 0, 0, 0, 0}; /* last stream 1, NO_ERROR */
    frame(&in, NGHTTP2_GOAWAY, 0, 0, ga, 8);
    server_says(&in);
    CHECK_STR(LOG(&C), "goaway 1 0;reset 3 refused_stream;");
    CHECK_EQ_INT(xg_codec_capacity(C.c), 0);
    CHECK(!xg_codec_should_close(C.c)); /* stream 1 still completes */
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    const char *st[] = {":status", "200", NULL};
    headers_frame(&in, d, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, st);
    server_says(&in);
    CHECK(strstr(LOG(&C), "headers 1 200 END;close 1;") != NULL);
    CHECK(xg_codec_should_close(C.c));
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

/* With stream_error_on_invalid_http_message, a malformed response ends only
 * its stream and the connection stays usable. */
XG_TEST(peer_reset_and_malformed_responses)
{
    start_with(true);
    uint32_t a = open_stream("/a"), b = open_stream("/b"), c = open_stream("/c");
    drain(&C);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    frame(&in, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
    rst_frame(&in, a, NGHTTP2_INTERNAL_ERROR);
    const char *nostatus[] = {"x", "1", NULL};
    headers_frame(&in, d, b, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, nostatus);
    const char *hop[] = {":status", "200", "transfer-encoding", "chunked", NULL};
    headers_frame(&in, d, c, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, hop);
    server_says(&in);
    CHECK(strstr(LOG(&C), "reset 1 remote_reset;") != NULL);
    CHECK(strstr(LOG(&C), "reset 3 protocol_error;") != NULL);
    CHECK(strstr(LOG(&C), "reset 5 protocol_error;") != NULL);
    CHECK(strstr(LOG(&C), "headers") == NULL);
    CHECK(!xg_codec_should_close(C.c));
    CHECK_EQ_INT(xg_codec_active_streams(C.c), 0);
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

/* Envoy's default: a malformed response is a connection error; every
 * stream on the connection ends and the pool must not reuse it. */
XG_TEST(malformed_response_closes_connection_by_default)
{
    start();
    uint32_t a = open_stream("/a"), b = open_stream("/b");
    drain(&C);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    frame(&in, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
    const char *hop[] = {":status", "200", "connection", "close", NULL};
    headers_frame(&in, d, a, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, hop);
    CHECK(feed_buf(&C, &in) < 0);
    CHECK(strstr(LOG(&C), "error 0 0;") != NULL);
    CHECK(strstr(LOG(&C), "reset 1 connection_failure;") != NULL);
    CHECK(strstr(LOG(&C), "reset 3 connection_failure;") != NULL);
    CHECK(strstr(LOG(&C), "headers") == NULL);
    CHECK(xg_codec_should_close(C.c));
    CHECK_EQ_INT(xg_codec_capacity(C.c), 0);
    drain(&C);
    CHECK_EQ_INT(count_frames(&C.wire, NGHTTP2_GOAWAY, NGHTTP2_PROTOCOL_ERROR, NULL), 1);
    (void)b;
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(response_headers_too_large)
{
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.max_headers_count = 2;
    towner_init(&C);
    xg_arena_init(&A, 0);
    CHECK_EQ_INT(xg_http2_client_new(&C.c, &o, &t_cbs, &C), 0);
    uint32_t a = open_stream("/a");
    drain(&C);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    frame(&in, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
    const char *many[] = {":status", "200", "a", "1", "b", "2", "c", "3", NULL};
    headers_frame(&in, d, a, NGHTTP2_FLAG_END_HEADERS, many);
    server_says(&in);
    CHECK_STR(LOG(&C), "error 1 0;reset 1 protocol_error;");
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(request_body_and_trailers_upstream)
{
    start_pair(100);
    xg_headers *h = get("/grpc");
    xg_headers_set_field(h, &h->method, "POST", 4);
    xg_headers_add_ref(h, "te", 2, "trailers", 8);
    xg_headers_add_ref(h, "connection", 10, "keep-alive", 10); /* never on HTTP/2 */
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, h, false, &sid), 0);
    CHECK_EQ_INT(xg_codec_send_data(C.c, sid, "msg", 3, false), 0);
    xg_headers *t = xg_headers_new(&A);
    xg_headers_add_ref(t, "x-checksum", 10, "abc", 3);
    CHECK_EQ_INT(xg_codec_send_trailers(C.c, sid, t), 0);
    pump(&C, &S);
    CHECK_STR(LOG(&S), "begin 1;headers 1 POST scheme=http auth=up path=/grpc te=trailers;data 1 [msg];"
                       "trailers 1 x-checksum=abc;");
    stop();
}

XG_TEST(local_goaway_and_eof)
{
    start_pair(100);
    pump(&C, &S);
    open_stream("/a");
    xg_codec_goaway(C.c, XG_GOAWAY_FINAL);
    CHECK_EQ_INT(xg_codec_capacity(C.c), 0);
    pump(&C, &S);
    size_t used;
    xg_codec_feed(C.c, NULL, 0, &used);
    CHECK(strstr(LOG(&C), "reset 1 connection_termination;") != NULL);
    CHECK(xg_codec_should_close(C.c));
    stop();
}

XG_TEST(reset_before_headers_left)
{
    start_pair(100);
    xg_arena *a = malloc(sizeof *a);
    xg_arena_init(a, 0);
    uint32_t sid, keep;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, a, get("/gone"), false, &sid), 0);
    CHECK_EQ_INT(xg_codec_send_data(C.c, sid, "x", 1, false), 0);
    xg_codec_reset(C.c, sid, XG_RESET_LOCAL);
    xg_arena_dispose(a); /* the owner may free the stream's arena right after reset() */
    free(a);
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, get("/kept"), true, &keep), 0);
    pump(&C, &S);
    CHECK(strstr(LOG(&S), "path=/kept END;") != NULL);
    CHECK(strstr(LOG(&S), "path=/gone") == NULL); /* nghttp2 cancels a request still queued */
    CHECK(strstr(LOG(&C), " 1 ") == NULL);        /* no callback for the reset stream */
    CHECK(!xg_codec_should_close(C.c));
    stop();
}
