/* HTTP/2 server codec: paired with the client codec in memory for normal
 * exchanges, and fed crafted frames by a hostile peer for the limits: flow
 * control back-pressure, max concurrent streams, rapid reset, CONTINUATION
 * and PING floods, HEADERS on an idle lower stream id, header limits. */
#include "codec/codec.h"
#include "core/error.h"
#include "h2_util.h"
#include "xg_test.h"

static towner S, C;
static xg_arena A;

static void start_server(const xg_codec_opts *o)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    towner_init(&S);
    CHECK_EQ_INT(xg_http2_server_new(&S.c, o ? o : &d, &t_cbs, &S), 0);
}

static void start_pair(const xg_codec_opts *so, const xg_codec_opts *co)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    start_server(so);
    towner_init(&C);
    xg_arena_init(&A, 0);
    CHECK_EQ_INT(xg_http2_client_new(&C.c, co ? co : &d, &t_cbs, &C), 0);
}

static void stop(void)
{
    towner_dispose(&S);
    if (C.c != NULL)
        towner_dispose(&C);
    memset(&C, 0, sizeof C);
    xg_arena_dispose(&A);
}

static xg_headers *request(const char *method, const char *path)
{
    xg_headers *h = xg_headers_new(&A);
    xg_headers_set_pseudo(h, ":method", 7, method, strlen(method));
    xg_headers_set_pseudo(h, ":scheme", 7, "https", 5);
    xg_headers_set_pseudo(h, ":path", 5, path, strlen(path));
    xg_headers_set_pseudo(h, ":authority", 10, "example.com", 11);
    return h;
}

static xg_headers *response(const char *status)
{
    xg_headers *h = xg_headers_new(&A);
    xg_headers_set_pseudo(h, ":status", 7, status, 3);
    return h;
}

XG_TEST(request_response_with_trailers)
{
    start_pair(NULL, NULL);
    xg_headers *rq = request("POST", "/svc/Method");
    xg_headers_add_ref(rq, "content-type", 12, "application/grpc", 16);
    xg_headers_add_ref(rq, "te", 2, "trailers", 8);
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, rq, false, &sid), 0);
    CHECK_EQ_INT(sid, 1);
    CHECK_EQ_INT(xg_codec_send_data(C.c, sid, "ping", 4, true), 0);
    pump(&C, &S);
    CHECK_STR(LOG(&S), "begin 1;headers 1 POST scheme=https auth=example.com path=/svc/Method "
                       "content-type=application/grpc te=trailers;data 1 [ping];data 1 [] END;");
    CHECK_EQ_INT(S.last_headers->version, 20);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, 1, response("200"), false), 0);
    CHECK_EQ_INT(xg_codec_send_data(S.c, 1, "pong", 4, false), 0);
    xg_headers *t = xg_headers_new(&A);
    xg_headers_add_ref(t, "grpc-status", 11, "0", 1);
    CHECK_EQ_INT(xg_codec_send_trailers(S.c, 1, t), 0);
    pump(&C, &S);
    CHECK_STR(LOG(&C), "headers 1 200;data 1 [pong];trailers 1 grpc-status=0;close 1;");
    CHECK(strstr(LOG(&S), "close 1;") != NULL);
    CHECK_EQ_INT(xg_codec_active_streams(S.c), 0);
    CHECK_EQ_INT(xg_codec_active_streams(C.c), 0);
    CHECK(!xg_codec_should_close(S.c));
    stop();
}

XG_TEST(multiplexed_streams_and_informational)
{
    start_pair(NULL, NULL);
    uint32_t a, b;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("GET", "/a"), true, &a), 0);
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("GET", "/b"), true, &b), 0);
    pump(&C, &S);
    CHECK_EQ_INT(xg_codec_active_streams(S.c), 2);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, b, response("103"), false), 0);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, b, response("204"), true), 0);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, a, response("200"), false), 0);
    CHECK_EQ_INT(xg_codec_send_data(S.c, a, "A", 1, true), 0);
    pump(&C, &S);
    CHECK(strstr(LOG(&C), "headers 3 103;headers 3 204 END;close 3;") != NULL);
    CHECK(strstr(LOG(&C), "headers 1 200;data 1 [A];data 1 [] END;close 1;") != NULL);
    stop();
}

XG_TEST(flow_control_back_pressure)
{
    xg_codec_opts so;
    xg_codec_opts_init(&so);
    start_pair(&so, NULL);
    S.consume_now = 0;
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("POST", "/up"), false, &sid), 0);
    static char big[300000];
    memset(big, 'x', sizeof big);
    CHECK_EQ_INT(xg_codec_send_data(C.c, sid, big, sizeof big, true), 0);
    pump(&C, &S);
    /* count what the server owner got */
    size_t got = 0;
    for (const char *p = LOG(&S); (p = strstr(p, "data 1 [")) != NULL; p++)
        got += strspn(p + 8, "x");
    CHECK_EQ_INT(got, 65536); /* exactly the stream window, nothing more until consumed */
    CHECK(xg_codec_pending(C.c, sid) > 0);
    xg_codec_consumed(S.c, sid, got);
    pump(&C, &S);
    size_t got2 = 0;
    for (const char *p = LOG(&S); (p = strstr(p, "data 1 [")) != NULL; p++)
        got2 += strspn(p + 8, "x");
    CHECK(got2 > got);
    CHECK(got2 <= 2 * 65536);
    /* consume everything as it comes: the whole body arrives */
    S.consume_now = 1;
    for (int i = 0; i < 20 && strstr(LOG(&S), "END") == NULL; i++) {
        xg_codec_consumed(S.c, sid, 1u << 30);
        pump(&C, &S);
    }
    got2 = 0;
    for (const char *p = LOG(&S); (p = strstr(p, "data 1 [")) != NULL; p++)
        got2 += strspn(p + 8, "x");
    CHECK_EQ_INT(got2, sizeof big);
    CHECK(strstr(LOG(&S), "data 1 [] END;") != NULL);
    stop();
}

XG_TEST(send_side_waits_for_peer_window)
{
    start_pair(NULL, NULL);
    C.consume_now = 0;
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("GET", "/down"), true, &sid), 0);
    pump(&C, &S);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, sid, response("200"), false), 0);
    static char big[200000];
    memset(big, 'y', sizeof big);
    CHECK_EQ_INT(xg_codec_send_data(S.c, sid, big, sizeof big, true), 0);
    pump(&C, &S);
    /* the client codec's stream window (64 KiB) bounds what the server may send */
    CHECK_EQ_INT(xg_codec_pending(S.c, sid), sizeof big - 65536);
    CHECK(strstr(LOG(&S), "ready") == NULL);
    for (int i = 0; i < 10; i++) {
        xg_codec_consumed(C.c, sid, 1u << 30);
        pump(&C, &S);
    }
    CHECK(strstr(LOG(&S), "ready 1;") != NULL);
    stop();
}

/* Before the client acknowledged our SETTINGS, streams past the limit are
 * refused one by one (REFUSED_STREAM: safe to retry); after, exceeding the
 * advertised limit is a connection PROTOCOL_ERROR (nghttp2's and Envoy's
 * behaviour; RFC 9113 §5.1.2). */
XG_TEST(max_concurrent_streams_refused)
{
    xg_codec_opts so;
    xg_codec_opts_init(&so);
    so.max_concurrent_streams = 3;
    start_server(&so);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    xg_buf_append(&in, PREFACE, 24);
    frame(&in, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
    const char *kv[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    for (uint32_t sid = 1; sid <= 9; sid += 2)
        headers_frame(&in, d, sid, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, kv);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    drain(&S);
    CHECK_EQ_INT(xg_codec_active_streams(S.c), 3);
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_RST_STREAM, NGHTTP2_REFUSED_STREAM, NULL), 2);
    CHECK(strstr(LOG(&S), "begin 7") == NULL);
    CHECK(!xg_codec_should_close(S.c));
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();

    start_server(&so);
    xg_buf_init(&in);
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    for (uint32_t sid = 1; sid <= 7; sid += 2)
        headers_frame(&in, d, sid, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, kv);
    feed_buf(&S, &in);
    drain(&S);
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_GOAWAY, NGHTTP2_PROTOCOL_ERROR, NULL), 1);
    CHECK(strstr(LOG(&S), "begin 7") == NULL);
    CHECK(strstr(LOG(&S), "reset 1 connection_failure;") != NULL);
    CHECK(xg_codec_should_close(S.c));
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

/* Opens stream sid and resets it at once, as a rapid-reset attacker does. */
static void open_and_reset(xg_buf *in, nghttp2_hd_deflater *d, uint32_t sid)
{
    const char *kv[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    headers_frame(in, d, sid, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, kv);
    rst_frame(in, sid, NGHTTP2_CANCEL);
}

XG_TEST(rapid_reset_goaway)
{
    start_server(NULL);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    int rc = 0;
    uint32_t sid = 1;
    for (int i = 0; i < 1000 && rc == 0; i++, sid += 2) {
        open_and_reset(&in, d, sid);
        rc = feed_buf(&S, &in);
        drain(&S);
    }
    CHECK(rc < 0);
    CHECK(sid < 2 * 150); /* caught by the premature-reset ratio after ~100 streams */
    CHECK_EQ_INT(S.last_err, XG_CERR_FLOOD);
    CHECK(xg_codec_should_close(S.c));
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_GOAWAY, NGHTTP2_ENHANCE_YOUR_CALM, NULL), 1);
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(answered_streams_reset_late_are_fine)
{
    start_server(NULL);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    const char *kv[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    xg_arena_init(&A, 0);
    for (uint32_t sid = 1; sid < 2 * 300; sid += 2) {
        headers_frame(&in, d, sid, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, kv);
        CHECK_EQ_INT(feed_buf(&S, &in), 0);
        xg_codec_send_headers(S.c, sid, response("200"), true);
        drain(&S);
        rst_frame(&in, sid, NGHTTP2_NO_ERROR);
        CHECK_EQ_INT(feed_buf(&S, &in), 0);
    }
    CHECK(!xg_codec_should_close(S.c));
    CHECK_EQ_INT(S.errors, 0);
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(continuation_flood)
{
    start_server(NULL);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    const char *kv[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    headers_frame(&in, d, 1, 0, kv); /* no END_HEADERS */
    uint8_t blk[64];
    const char *x[] = {"x-pad", "0123456789", NULL};
    size_t n = hpack(d, blk, sizeof blk, x);
    for (int i = 0; i < 100; i++)
        frame(&in, NGHTTP2_CONTINUATION, 0, 1, blk, n);
    CHECK(feed_buf(&S, &in) < 0);
    drain(&S);
    CHECK(xg_codec_should_close(S.c));
    CHECK(strstr(LOG(&S), "headers 1") == NULL);
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_GOAWAY, ~0u, NULL), 1);
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(headers_on_idle_lower_stream_id)
{
    start_server(NULL);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    const char *kv[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    headers_frame(&in, d, 5, NGHTTP2_FLAG_END_HEADERS, kv);
    headers_frame(&in, d, 3, NGHTTP2_FLAG_END_HEADERS, kv); /* idle, lower than 5: RFC 9113 §5.1.1 */
    feed_buf(&S, &in);
    drain(&S);
    uint32_t last = 0;
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_GOAWAY, NGHTTP2_PROTOCOL_ERROR, &last), 1);
    CHECK_EQ_INT(last, 5);
    CHECK(strstr(LOG(&S), "begin 3") == NULL);
    CHECK(strstr(LOG(&S), "reset 5 connection_failure;") != NULL);
    CHECK_EQ_INT(S.last_err, XG_CERR_PROTOCOL);
    CHECK(xg_codec_should_close(S.c));
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(ping_flood)
{
    start_server(NULL);
    xg_buf in;
    xg_buf_init(&in);
    handshake(&S);
    uint8_t payload[8] = {0};
    for (int i = 0; i < 3000; i++)
        frame(&in, NGHTTP2_PING, 0, 0, payload, 8);
    CHECK(feed_buf(&S, &in) < 0); /* we never read the ACKs: nghttp2 stops queueing */
    CHECK_EQ_INT(S.last_err, XG_CERR_FLOOD);
    CHECK(xg_codec_should_close(S.c));
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(empty_data_flood)
{
    start_server(NULL);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    const char *kv[] = {":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    headers_frame(&in, d, 1, NGHTTP2_FLAG_END_HEADERS, kv);
    for (int i = 0; i < 10; i++)
        frame(&in, NGHTTP2_DATA, 0, 1, NULL, 0);
    CHECK(feed_buf(&S, &in) < 0);
    CHECK_EQ_INT(S.last_err, XG_CERR_FLOOD);
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(header_limits_and_authority)
{
    xg_codec_opts so;
    xg_codec_opts_init(&so);
    so.max_headers_count = 4;
    start_server(&so);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    const char *many[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "x1", "1",
                          "x2",      "2",   "x3",      "3",    "x4",    "4", "x5",         "5", NULL};
    headers_frame(&in, d, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, many);
    const char *clash[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "host", "b", NULL};
    headers_frame(&in, d, 3, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, clash);
    const char *hostonly[] = {":method", "GET", ":scheme", "http", ":path", "/", "host", "h.example", NULL};
    headers_frame(&in, d, 5, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, hostonly);
    const char *cookies[] = {":method", "GET",    ":scheme", "http",   ":path", "/", ":authority",
                             "a",       "cookie", "a=1",     "cookie", "b=2",   NULL};
    headers_frame(&in, d, 7, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, cookies);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    CHECK_STR(LOG(&S), "begin 1;error 1 431;begin 3;error 3 400;begin 5;headers 5 GET scheme=http auth=h.example "
                       "path=/ END;begin 7;headers 7 GET scheme=http auth=a path=/ cookie=a=1; b=2 END;");
    xg_arena_init(&A, 0);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, 1, response("431"), true), 0); /* the owner answers */
    drain(&S);
    CHECK(strstr(LOG(&S), "close 1;") != NULL);
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

/* With stream_error_on_invalid_http_message: only the offending stream is
 * reset (the default, a connection error, is in test_http2_limits.c). */
XG_TEST(malformed_request_reset)
{
    xg_codec_opts so;
    xg_codec_opts_init(&so);
    so.stream_error_on_invalid_http_message = true;
    start_server(&so);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    const char *conn[] = {":method",    "GET", ":scheme",    "http",  ":path", "/",
                          ":authority", "a",   "connection", "close", NULL};
    headers_frame(&in, d, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, conn);
    const char *nopath[] = {":method", "GET", ":scheme", "http", ":authority", "a", NULL};
    headers_frame(&in, d, 3, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, nopath);
    const char *upper[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "X-Up", "1", NULL};
    headers_frame(&in, d, 5, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, upper);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    drain(&S);
    CHECK(strstr(LOG(&S), "headers") == NULL);
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_RST_STREAM, NGHTTP2_PROTOCOL_ERROR, NULL), 3);
    CHECK(!xg_codec_should_close(S.c));
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(graceful_goaway_two_phase)
{
    start_pair(NULL, NULL);
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("GET", "/"), true, &sid), 0);
    pump(&C, &S);
    xg_codec_goaway(S.c, XG_GOAWAY_NOTICE);
    pump(&C, &S);
    CHECK(strstr(LOG(&C), "goaway 2147483647 0;") != NULL);
    CHECK_EQ_INT(xg_codec_capacity(C.c), 0); /* the pool stops using it */
    xg_codec_goaway(S.c, XG_GOAWAY_FINAL);
    pump(&C, &S);
    CHECK(strstr(LOG(&C), "goaway 1 0;") != NULL);
    CHECK(!xg_codec_should_close(S.c)); /* stream 1 still in flight */
    CHECK_EQ_INT(xg_codec_send_headers(S.c, sid, response("200"), true), 0);
    pump(&C, &S);
    CHECK(strstr(LOG(&C), "headers 1 200 END;close 1;") != NULL);
    CHECK(xg_codec_should_close(S.c));
    stop();
}

XG_TEST(peer_eof_resets_streams)
{
    start_pair(NULL, NULL);
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("GET", "/"), true, &sid), 0);
    pump(&C, &S);
    size_t used;
    xg_codec_feed(S.c, NULL, 0, &used);
    CHECK(strstr(LOG(&S), "reset 1 connection_termination;") != NULL);
    CHECK(xg_codec_should_close(S.c));
    stop();
}

XG_TEST(bad_preface)
{
    start_server(NULL);
    const char *junk = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t used;
    CHECK(xg_codec_feed(S.c, junk, strlen(junk), &used) < 0);
    CHECK(xg_codec_should_close(S.c));
    stop();
}

XG_TEST(trailers_on_lower_open_stream_are_legal)
{
    start_server(NULL);
    xg_buf in;
    xg_buf_init(&in);
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    handshake(&S);
    const char *kv[] = {":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    headers_frame(&in, d, 1, NGHTTP2_FLAG_END_HEADERS, kv);
    headers_frame(&in, d, 3, NGHTTP2_FLAG_END_HEADERS, kv);
    const char *tr[] = {"x-t", "1", NULL};
    headers_frame(&in, d, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, tr); /* below 3, but open */
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    drain(&S);
    CHECK(strstr(LOG(&S), "trailers 1 x-t=1;") != NULL);
    CHECK(!xg_codec_should_close(S.c));
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_GOAWAY, ~0u, NULL), 0);
    /* a reset stream's late frames are ignored, not a connection error */
    xg_codec_reset(S.c, 3, XG_RESET_LOCAL);
    drain(&S);
    headers_frame(&in, d, 3, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, tr);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    drain(&S);
    CHECK(!xg_codec_should_close(S.c));
    CHECK(strstr(LOG(&S), "trailers 3") == NULL);
    /* skipping ids is allowed; coming back to a skipped one is not */
    const char *g[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    headers_frame(&in, d, 9, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, g);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    headers_frame(&in, d, 7, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, g);
    feed_buf(&S, &in);
    drain(&S);
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_GOAWAY, NGHTTP2_PROTOCOL_ERROR, NULL), 1);
    CHECK(xg_codec_should_close(S.c));
    nghttp2_hd_deflate_del(d);
    xg_buf_dispose(&in);
    stop();
}

XG_TEST(abort_forgets_streams)
{
    start_pair(NULL, NULL);
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("GET", "/"), true, &sid), 0);
    pump(&C, &S);
    xg_buf_reset(&S.log);
    xg_codec_goaway(S.c, XG_GOAWAY_ABORT);
    CHECK_EQ_INT(xg_codec_active_streams(S.c), 0);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, sid, response("200"), true), XG_EINVAL);
    pump(&C, &S);
    CHECK_STR(LOG(&S), "");
    CHECK(xg_codec_should_close(S.c));
    CHECK(strstr(LOG(&C), "goaway 1 0;") != NULL);
    stop();
}

/* As Envoy's connection manager does on every protocol: "expect:
 * 100-continue" is answered at once and not passed on. */
XG_TEST(expect_100_continue_answered)
{
    start_pair(NULL, NULL);
    xg_headers *rq = request("POST", "/up");
    xg_headers_add_ref(rq, "expect", 6, "100-continue", 12);
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, rq, false, &sid), 0);
    pump(&C, &S);
    CHECK_STR(LOG(&S), "begin 1;headers 1 POST scheme=https auth=example.com path=/up;");
    CHECK_STR(LOG(&C), "headers 1 100;");
    /* without a body to wait for, no 100 */
    xg_headers *get = request("GET", "/");
    xg_headers_add_ref(get, "expect", 6, "100-continue", 12);
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, get, true, &sid), 0);
    pump(&C, &S);
    CHECK(strstr(LOG(&S), "headers 3 GET scheme=https auth=example.com path=/ END;") != NULL);
    CHECK(strstr(LOG(&C), "headers 3") == NULL);
    stop();

    xg_codec_opts so;
    xg_codec_opts_init(&so);
    so.auto_100_continue = false; /* the owner sees Expect and answers itself */
    start_pair(&so, NULL);
    rq = request("POST", "/up");
    xg_headers_add_ref(rq, "expect", 6, "100-continue", 12);
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, rq, false, &sid), 0);
    pump(&C, &S);
    CHECK(strstr(LOG(&S), "expect=100-continue;") != NULL);
    CHECK_STR(LOG(&C), "");
    stop();
}
