/* HTTP/2 abuse limits with Envoy's semantics (http2_limits.c), fed crafted
 * frames by a hostile peer: invalid HTTP messages as connection errors (the
 * default) or stream errors (stream_error_on_invalid_http_message), empty
 * frames, PRIORITY and WINDOW_UPDATE floods, and frames queued for a peer
 * that does not read (max_outbound_frames, max_outbound_control_frames). */
#include "codec/codec.h"
#include "core/error.h"
#include "h2_util.h"
#include "xg_test.h"

static towner S;
static xg_buf in;
static nghttp2_hd_deflater *D;

static const char *GET[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", NULL};

/* A server codec with o (defaults when NULL) past the handshake. */
static void start(const xg_codec_opts *o)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    towner_init(&S);
    CHECK_EQ_INT(xg_http2_server_new(&S.c, o ? o : &d, &t_cbs, &S), 0);
    xg_buf_init(&in);
    nghttp2_hd_deflate_new(&D, 4096);
    handshake(&S);
    drain(&S);
}

static void stop(void)
{
    nghttp2_hd_deflate_del(D);
    xg_buf_dispose(&in);
    towner_dispose(&S);
}

static int goaways(uint32_t code)
{
    return count_frames(&S.wire, NGHTTP2_GOAWAY, code, NULL);
}

/* Feeding what the test queued breaks a flood limit: GOAWAY(ENHANCE_YOUR_CALM). */
static void flooded(void)
{
    CHECK(feed_buf(&S, &in) < 0);
    CHECK_EQ_INT(S.last_err, XG_CERR_FLOOD);
    drain(&S);
    CHECK_EQ_INT(goaways(NGHTTP2_ENHANCE_YOUR_CALM), 1);
    CHECK(xg_codec_should_close(S.c));
}

/* --- invalid HTTP messages --- */

typedef struct bad_req {
    const char *name;
    const char *kv[16];
    const char *body; /* DATA with END_STREAM after HEADERS when set */
} bad_req;

static const bad_req BAD[] = {
    {"uppercase name", {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "X-Up", "1", NULL}, NULL},
    {"connection-specific",
     {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "keep-alive", "1"},
     NULL},
    {"te gzip", {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "te", "gzip", NULL}, NULL},
    {"no :path", {":method", "GET", ":scheme", "http", ":authority", "a", NULL}, NULL},
    {"content-length vs DATA",
     {":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a", "content-length", "10", NULL},
     "abc"},
};

/* Stream 1 is a good request still in flight; stream 3 is bad. */
static int send_bad(const bad_req *b)
{
    headers_frame(&in, D, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, GET);
    headers_frame(&in, D, 3, NGHTTP2_FLAG_END_HEADERS | (b->body ? 0 : NGHTTP2_FLAG_END_STREAM),
                  (const char **)(uintptr_t)b->kv);
    if (b->body != NULL)
        frame(&in, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 3, b->body, strlen(b->body));
    int rc = feed_buf(&S, &in);
    drain(&S);
    return rc;
}

XG_TEST(invalid_message_is_a_connection_error_by_default)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        start(NULL);
        int rc = send_bad(&BAD[i]);
        if (goaways(NGHTTP2_PROTOCOL_ERROR) != 1)
            fprintf(stderr, "case: %s\n", BAD[i].name);
        CHECK_EQ_INT(goaways(NGHTTP2_PROTOCOL_ERROR), 1);
        /* a header fault stops the input at once; nghttp2 finds a body
         * fault as it sends RST_STREAM, and the GOAWAY follows it */
        if (BAD[i].body == NULL) {
            CHECK(rc < 0);
            CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_RST_STREAM, ~0u, NULL), 0);
        }
        CHECK_EQ_INT(S.last_err, XG_CERR_PROTOCOL);
        CHECK(strstr(LOG(&S), "reset 1 connection_failure;") != NULL); /* the good one goes too */
        CHECK(xg_codec_should_close(S.c));
        stop();
    }
}

XG_TEST(invalid_message_resets_only_its_stream_when_configured)
{
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.stream_error_on_invalid_http_message = true;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        start(&o);
        CHECK_EQ_INT(send_bad(&BAD[i]), 0);
        CHECK_EQ_INT(goaways(~0u), 0);
        uint32_t sid = 0;
        CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_RST_STREAM, NGHTTP2_PROTOCOL_ERROR, &sid), 1);
        CHECK_EQ_INT(sid, 3);
        CHECK_EQ_INT(xg_codec_active_streams(S.c), 1); /* stream 1 lives on */
        CHECK(!xg_codec_should_close(S.c));
        stop();
    }
}

/* --- inbound floods --- */

static int empty_data(int n)
{
    for (int i = 0; i < n; i++)
        frame(&in, NGHTTP2_DATA, 0, 1, NULL, 0);
    return feed_buf(&S, &in);
}

XG_TEST(consecutive_empty_frames)
{
    const char *post[] = {":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a", NULL};
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.max_empty_frames = 3;
    start(&o);
    headers_frame(&in, D, 1, NGHTTP2_FLAG_END_HEADERS, post);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    CHECK_EQ_INT(empty_data(3), 0);
    frame(&in, NGHTTP2_DATA, 0, 1, "x", 1); /* a payload ends the run */
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    CHECK_EQ_INT(empty_data(3), 0);
    CHECK(empty_data(1) < 0);
    CHECK_EQ_INT(S.last_err, XG_CERR_FLOOD);
    drain(&S);
    CHECK_EQ_INT(goaways(NGHTTP2_ENHANCE_YOUR_CALM), 1);
    stop();

    o.max_empty_frames = 0; /* the first one is too many */
    start(&o);
    headers_frame(&in, D, 1, NGHTTP2_FLAG_END_HEADERS, post);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    CHECK(empty_data(1) < 0);
    stop();
}

XG_TEST(empty_continuation_frames)
{
    start(NULL); /* default: one empty frame in a row */
    headers_frame(&in, D, 1, 0, GET);
    frame(&in, NGHTTP2_CONTINUATION, 0, 1, NULL, 0);
    frame(&in, NGHTTP2_CONTINUATION, 0, 1, NULL, 0);
    flooded();
    CHECK(strstr(LOG(&S), "headers 1") == NULL);
    stop();
}

static void priority(uint32_t sid)
{
    uint8_t p[5] = {0, 0, 0, 0, 15};
    frame(&in, NGHTTP2_PRIORITY, 0, sid, p, 5);
}

XG_TEST(priority_frames_per_stream)
{
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.max_priority_per_stream = 2;
    start(&o);
    priority(101);
    priority(103);
    CHECK_EQ_INT(feed_buf(&S, &in), 0); /* 2 x (1 + 0 streams) */
    priority(105);
    flooded();
    stop();

    start(&o);
    headers_frame(&in, D, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, GET);
    for (int i = 0; i < 4; i++)
        priority(101);
    CHECK_EQ_INT(feed_buf(&S, &in), 0); /* 2 x (1 + 1 stream) */
    priority(101);
    flooded();
    stop();
}

static void window_update(uint32_t sid)
{
    uint8_t p[4] = {0, 0, 0, 1};
    frame(&in, NGHTTP2_WINDOW_UPDATE, 0, sid, p, 4);
}

XG_TEST(window_updates_per_data_frame_sent)
{
    start(NULL);
    for (int i = 0; i < 5; i++)
        window_update(0);
    CHECK_EQ_INT(feed_buf(&S, &in), 0); /* 5 + 2 x (0 + 10 x 0) */
    window_update(0);
    flooded();
    stop();

    start(NULL);
    xg_arena a;
    xg_arena_init(&a, 0);
    headers_frame(&in, D, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, GET);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    xg_headers *r = xg_headers_new(&a);
    xg_headers_set_pseudo(r, ":status", 7, "200", 3);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, 1, r, false), 0);
    CHECK_EQ_INT(xg_codec_send_data(S.c, 1, "x", 1, true), 0);
    drain(&S); /* one DATA frame sent */
    for (int i = 0; i < 27; i++)
        window_update(0);
    CHECK_EQ_INT(feed_buf(&S, &in), 0); /* 5 + 2 x (1 + 10 x 1) */
    window_update(0);
    flooded();
    xg_arena_dispose(&a);
    stop();
}

/* --- a peer that does not read --- */

static void pings(int n)
{
    uint8_t payload[8] = {0};
    for (int i = 0; i < n; i++)
        frame(&in, NGHTTP2_PING, 0, 0, payload, 8);
}

XG_TEST(outbound_frames_queued_for_the_peer)
{
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.max_outbound_frames = 20;
    start(&o);
    pings(20);
    CHECK_EQ_INT(feed_buf(&S, &in), 0); /* 20 PING ACKs wait: at the limit */
    pings(1);
    flooded();
    stop();

    /* written out in time: no flood however many */
    start(&o);
    for (int i = 0; i < 10; i++) {
        pings(15);
        CHECK_EQ_INT(feed_buf(&S, &in), 0);
        drain(&S);
    }
    stop();
}

XG_TEST(outbound_frames_from_the_owners_answers)
{
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.max_outbound_frames = 5;
    start(&o);
    xg_arena a;
    xg_arena_init(&a, 0);
    for (uint32_t sid = 1; sid <= 11; sid += 2)
        headers_frame(&in, D, sid, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, GET);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    xg_headers *r = xg_headers_new(&a);
    xg_headers_set_pseudo(r, ":status", 7, "204", 3);
    for (uint32_t sid = 1; sid <= 11; sid += 2)
        CHECK_EQ_INT(xg_codec_send_headers(S.c, sid, r, true), 0);
    drain(&S); /* six responses queued at once, the limit is five */
    CHECK_EQ_INT(S.last_err, XG_CERR_FLOOD);
    CHECK_EQ_INT(goaways(NGHTTP2_ENHANCE_YOUR_CALM), 1);
    CHECK(xg_codec_should_close(S.c));
    xg_arena_dispose(&a);
    stop();
}

XG_TEST(outbound_control_frames)
{
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.max_outbound_control_frames = 10;
    start(&o);
    pings(10);
    CHECK_EQ_INT(feed_buf(&S, &in), 0);
    pings(10);
    flooded();
    stop();
}

/* RST_STREAMs count as control frames too (Envoy): here the stream errors a
 * client provokes with invalid requests it never reads the answers to. */
XG_TEST(outbound_rst_stream_frames)
{
    const char *bad[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "X-Up", "1", NULL};
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.stream_error_on_invalid_http_message = true;
    o.max_outbound_control_frames = 10;
    start(&o);
    for (uint32_t sid = 1; sid <= 19; sid += 2)
        headers_frame(&in, D, sid, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, bad);
    CHECK_EQ_INT(feed_buf(&S, &in), 0); /* 10 RST_STREAMs wait */
    drain(&S);
    CHECK_EQ_INT(count_frames(&S.wire, NGHTTP2_RST_STREAM, NGHTTP2_PROTOCOL_ERROR, NULL), 10);
    for (uint32_t sid = 21; sid <= 41; sid += 2) /* written out: the count starts again */
        headers_frame(&in, D, sid, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, bad);
    flooded();
    stop();
}
