/* HTTP/1.1 server codec: requests in, responses out, pipelining order,
 * chunked both ways, 100-continue, upgrade, back-pressure, and every
 * smuggling vector rejected with the right status and nothing delivered. */
#include "codec/codec.h"
#include "codec/http1_park.h"
#include "core/error.h"
#include "towner.h"
#include "xg_test.h"

static towner O;

static void start(const xg_codec_opts *opts)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    towner_init(&O);
    CHECK_EQ_INT(xg_http1_server_new(&O.c, opts ? opts : &d, &t_cbs, &O), 0);
}

static size_t feed(const char *s, size_t n)
{
    size_t used = 0;
    CHECK_EQ_INT(xg_codec_feed(O.c, s, n, &used), 0);
    return used;
}

static size_t feeds(const char *s)
{
    return feed(s, strlen(s));
}

static void respond(uint32_t sid, const char *status, const char *body, bool with_len)
{
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, status, 3);
    char len[24];
    snprintf(len, sizeof len, "%zu", strlen(body));
    if (with_len)
        xg_headers_add_copy(h, "content-length", 14, len, strlen(len));
    xg_headers_add_ref(h, "x-r", 3, "1", 1);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, sid, h, body[0] == '\0' && with_len), 0);
    if (body[0] != '\0' || !with_len)
        CHECK_EQ_INT(xg_codec_send_data(O.c, sid, body, strlen(body), true), 0);
    xg_arena_dispose(&a);
    drain(&O);
}

/* Feeds a bad request and expects exactly "begin; error <status>" and no headers or data. */
static void expect_reject(const char *req, size_t n, int status)
{
    start(NULL);
    feed(req, n);
    char want[64];
    snprintf(want, sizeof want, "begin 1;error 1 %d;", status);
    if (!CHECK_STR(LOG(&O), want))
        fprintf(stderr, "  request: %.*s\n", (int)n, req);
    respond(1, status == 431 ? "431" : status == 501 ? "501" : status == 426 ? "426" : "400", "", true);
    CHECK(xg_codec_should_close(O.c));
    CHECK(strstr(WIRE(&O), "connection: close\r\n") != NULL);
    towner_dispose(&O);
}

#define REJECT(s, status) expect_reject(s, sizeof(s) - 1, status)

XG_TEST(simple_get_keep_alive)
{
    start(NULL);
    const char *req = "GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
    CHECK_EQ_INT(feeds(req), strlen(req));
    CHECK_STR(LOG(&O), "begin 1;headers 1 GET auth=example.com path=/a?b user-agent=t END;");
    CHECK_EQ_INT(O.last_headers->version, 11);
    reset_logs(&O);
    respond(1, "200", "hello", true);
    CHECK_STR(WIRE(&O), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-r: 1\r\n\r\nhello");
    CHECK_STR(LOG(&O), "close 1;");
    CHECK(!xg_codec_should_close(O.c));
    CHECK(xg_codec_can_feed(O.c));
    towner_dispose(&O);
}

XG_TEST(post_content_length_body_split)
{
    start(NULL);
    feeds("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234");
    feeds("56789");
    CHECK_STR(LOG(&O), "begin 1;headers 1 POST auth=h path=/u content-length=10;data 1 [01234];data 1 [56789];"
                       "data 1 [] END;");
    towner_dispose(&O);
}

XG_TEST(chunked_request_and_trailers)
{
    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.enable_trailers = true;
    start(&op);
    feeds("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n"
          "Grpc-Status: 0\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;headers 1 POST auth=h path=/;data 1 [abc];data 1 [de];trailers 1 grpc-status=0;");
    towner_dispose(&O);

    start(NULL); /* trailers off (Envoy's default): parsed and dropped */
    feeds("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX: y\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;headers 1 POST auth=h path=/;data 1 [a];data 1 [] END;");
    towner_dispose(&O);
}

XG_TEST(chunked_response_when_no_length)
{
    start(NULL);
    feeds("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    reset_logs(&O);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    xg_headers_add_ref(h, "connection", 10, "x-hop", 5); /* hop-by-hop: never copied */
    xg_headers_add_ref(h, "transfer-encoding", 17, "gzip", 4);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, false), 0);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, "hello", 5, false), 0);
    xg_headers *t = xg_headers_new(&a);
    xg_headers_add_ref(t, "grpc-status", 11, "0", 1);
    CHECK_EQ_INT(xg_codec_send_trailers(O.c, 1, t), 0);
    drain(&O);
    CHECK_STR(WIRE(&O),
              "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\ngrpc-status: 0\r\n\r\n");
    CHECK_STR(LOG(&O), "close 1;");
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, "x", 1, true), XG_EINVAL); /* finished stream */
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

XG_TEST(pipelining_in_order)
{
    start(NULL);
    const char *two = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t first = strlen("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
    size_t used = feeds(two);
    CHECK_EQ_INT(used, first); /* the second request waits unread */
    CHECK_STR(LOG(&O), "begin 1;headers 1 GET auth=h path=/1 END;");
    CHECK(!xg_codec_can_feed(O.c));
    CHECK_EQ_INT(feeds(two + used), 0);
    reset_logs(&O);
    respond(1, "200", "one", true);
    CHECK(xg_codec_can_feed(O.c));
    CHECK_EQ_INT(feeds(two + used), strlen(two) - used);
    CHECK_STR(LOG(&O), "close 1;begin 2;headers 2 GET auth=h path=/2 END;");
    respond(2, "200", "two", true);
    CHECK(strstr(WIRE(&O), "one") < strstr(WIRE(&O), "two"));
    towner_dispose(&O);
}

XG_TEST(connection_close_and_http10)
{
    start(NULL);
    feeds("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    respond(1, "200", "x", true);
    CHECK(strstr(WIRE(&O), "connection: close\r\n") != NULL);
    CHECK(xg_codec_should_close(O.c));
    towner_dispose(&O);

    REJECT("GET / HTTP/1.0\r\nHost: h\r\n\r\n", 426);

    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.accept_http_10 = true;
    op.default_host_for_http_10 = "dflt";
    start(&op);
    feeds("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;headers 1 GET auth=dflt path=/ END;");
    respond(1, "200", "body", false); /* no length: close-delimited for 1.0 */
    CHECK_STR(WIRE(&O), "HTTP/1.1 200 OK\r\nx-r: 1\r\nconnection: close\r\n\r\nbody");
    CHECK(xg_codec_should_close(O.c));
    towner_dispose(&O);

    start(&op);
    feeds("GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
    respond(1, "200", "b", true);
    CHECK(strstr(WIRE(&O), "connection: keep-alive\r\n") != NULL);
    CHECK(!xg_codec_should_close(O.c));
    towner_dispose(&O);
}

XG_TEST(absolute_form_and_targets)
{
    start(NULL);
    feeds("GET HTTP://Example.com:8080?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;headers 1 GET scheme=http auth=Example.com:8080 path=/?q=1 END;");
    towner_dispose(&O);

    start(NULL);
    feeds("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;headers 1 OPTIONS auth=h path=* END;");
    towner_dispose(&O);

    REJECT("GET ftp://a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REJECT("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REJECT("GET http://u@a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REJECT("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400);

    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.allow_absolute_url = false;
    start(&op);
    feeds("GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;error 1 400;");
    towner_dispose(&O);
}

XG_TEST(smuggling_vectors_rejected)
{
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400);    /* obs-fold */
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400);   /* obs-fold, tab */
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX:\r\n b\r\n\r\n", 400);      /* fold after an empty value */
    REJECT("GET / HTTP/1.1\nHost: h\n\n", 400);                        /* bare LF */
    REJECT("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400);            /* bare LF inside */
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 400);       /* NUL */
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400);       /* bare CR */
    REJECT("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);                 /* space before colon */
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n", 400); /* space in name */
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX\"y: x\r\n\r\n", 400);       /* non-token name */
    REJECT("GET / HTTP/1.1\r\n\r\n", 400);                             /* missing Host */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);       /* two Hosts */
    REJECT("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);                /* bad Host */
    REJECT("GET /\r\n\r\n", 400);                                      /* HTTP/0.9 */
    REJECT("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400); /* leading whitespace line */
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
    REJECT("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

XG_TEST(bad_chunk_size_after_headers)
{
    /* Framing errors inside the body come after the headers were delivered:
     * the owner still gets the error before any bad byte and answers 400. */
    const char *bad[] = {"3x\r\nabc\r\n0\r\n\r\n", "-1\r\n", "fffffffffffffffff\r\n", "3\r\nabcX\r\n", " 3\r\nabc\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start(NULL);
        feeds("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
        reset_logs(&O);
        feeds(bad[i]);
        const char *log = LOG(&O);
        CHECK(strstr(log, "error 1 400;") != NULL);
        CHECK(strstr(log, "END") == NULL);
        respond(1, "400", "", true);
        CHECK(xg_codec_should_close(O.c));
        towner_dispose(&O);
    }
}

XG_TEST(bytes_after_a_rejected_request_are_dropped)
{
    start(NULL);
    const char *req = "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK_EQ_INT(feeds(req), strlen(req));
    CHECK_STR(LOG(&O), "begin 1;error 1 400;");
    feeds("GET /again HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;error 1 400;");
    towner_dispose(&O);
}

XG_TEST(header_limits_431)
{
    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.max_headers_count = 3;
    start(&op);
    feeds("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;error 1 431;");
    towner_dispose(&O);

    op.max_headers_count = 100;
    op.max_headers_kb = 1;
    start(&op);
    char big[2048];
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: h\r\nX: %01100d\r\n\r\n", 0);
    feed(big, (size_t)n);
    CHECK_STR(LOG(&O), "begin 1;error 1 431;");
    towner_dispose(&O);

    start(&op); /* a long URL counts too */
    n = snprintf(big, sizeof big, "GET /%01100d HTTP/1.1\r\nHost: h\r\n\r\n", 0);
    feed(big, (size_t)n);
    CHECK_STR(LOG(&O), "begin 1;error 1 431;");
    towner_dispose(&O);
}

XG_TEST(hop_by_hop_stripped_from_requests)
{
    start(NULL);
    feeds("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n"
          "Proxy-Connection: x\r\nTE: trailers, deflate\r\nUpgrade: foo\r\nX-End: 2\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;headers 1 GET auth=h path=/ x-end=2 te=trailers END;");
    towner_dispose(&O);
}

XG_TEST(expect_100_continue)
{
    start(NULL);
    feeds("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    drain(&O);
    CHECK_STR(WIRE(&O), "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;headers 1 POST auth=h path=/ content-length=2;");
    towner_dispose(&O);

    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.auto_100_continue = false;
    start(&op);
    feeds("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    drain(&O);
    CHECK_STR(WIRE(&O), "");
    CHECK_STR(LOG(&O), "begin 1;headers 1 POST auth=h path=/ expect=100-continue content-length=2;");
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "100", 3);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, false), 0);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, false), 0); /* a second 100 is not repeated */
    drain(&O);
    CHECK_STR(WIRE(&O), "HTTP/1.1 100 Continue\r\n\r\n");
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

XG_TEST(upgrade_websocket_tunnel)
{
    start(NULL);
    feeds("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
          "Sec-WebSocket-Key: k\r\n\r\nEARLY");
    CHECK_STR(LOG(&O), "begin 1;headers 1 GET auth=h path=/ws upgrade=websocket sec-websocket-key=k;");
    reset_logs(&O);
    CHECK(!xg_codec_can_feed(O.c));
    CHECK_EQ_INT(feeds("EARLY"), 0);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "101", 3);
    xg_headers_add_ref(h, "upgrade", 7, "websocket", 9);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, false), 0);
    drain(&O);
    CHECK_STR(WIRE(&O), "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n");
    CHECK_EQ_INT(feeds("EARLY"), 5);
    CHECK_EQ_INT(feed("\x81\x00 raw", 6), 6);
    CHECK_STR(LOG(&O), "data 1 [EARLY];data 1 [\x81];"); /* %.*s stops at the NUL */
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, "back", 4, false), 0);
    drain(&O);
    CHECK(strstr(WIRE(&O), "\r\n\r\nback") != NULL);
    reset_logs(&O);
    feed(NULL, 0);
    CHECK_STR(LOG(&O), "data 1 [] END;");
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, NULL, 0, true), 0);
    drain(&O);
    CHECK_STR(LOG(&O), "data 1 [] END;close 1;");
    CHECK(xg_codec_should_close(O.c));
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

XG_TEST(upgrade_refused_closes)
{
    start(NULL);
    feeds("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    reset_logs(&O);
    respond(1, "403", "no", true);
    CHECK(strncmp(WIRE(&O), "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
    CHECK_STR(LOG(&O), "close 1;");
    CHECK(xg_codec_should_close(O.c));
    towner_dispose(&O);

    start(NULL); /* h2c upgrades are served as plain HTTP/1.1 */
    feeds("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
          "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
    CHECK_STR(LOG(&O), "begin 1;headers 1 GET auth=h path=/ END;");
    respond(1, "200", "", true);
    CHECK(!xg_codec_should_close(O.c));
    towner_dispose(&O);

    REJECT("POST / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 1\r\n\r\nx",
           400);
}

XG_TEST(back_pressure_window)
{
    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.stream_window = 4;
    start(&op);
    O.consume_now = 0;
    const char *req = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
    size_t hdr = strlen(req) - 10;
    size_t used = feeds(req);
    CHECK_EQ_INT(used, hdr + 4);
    CHECK(!xg_codec_can_feed(O.c));
    CHECK_EQ_INT(feeds(req + used), 0);
    xg_codec_consumed(O.c, 1, 3);
    CHECK(xg_codec_can_feed(O.c));
    used += feeds(req + used);
    CHECK_EQ_INT(used, hdr + 7);
    xg_codec_consumed(O.c, 1, 100);
    used += feeds(req + used);
    CHECK_EQ_INT(used, strlen(req));
    CHECK_STR(LOG(&O), "begin 1;headers 1 POST auth=h path=/ content-length=10;data 1 [0123];data 1 [456];"
                       "data 1 [789];data 1 [] END;");
    towner_dispose(&O);
}

XG_TEST(send_buffer_ready_callback)
{
    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.send_buffer_limit = 64;
    start(&op);
    feeds("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    reset_logs(&O);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, false), 0);
    char chunk[100];
    memset(chunk, 'x', sizeof chunk);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, chunk, sizeof chunk, false), 0);
    CHECK(xg_codec_pending(O.c, 1) >= 64);
    drain(&O);
    CHECK_STR(LOG(&O), "ready 1;");
    CHECK_EQ_INT(xg_codec_pending(O.c, 1), 0);
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

XG_TEST(head_and_204_have_no_body)
{
    start(NULL);
    feeds("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
    reset_logs(&O);
    respond(1, "200", "ignored", true);
    CHECK_STR(WIRE(&O), "HTTP/1.1 200 OK\r\ncontent-length: 7\r\nx-r: 1\r\n\r\n");
    CHECK(!xg_codec_should_close(O.c));
    towner_dispose(&O);

    start(NULL);
    feeds("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    reset_logs(&O);
    respond(1, "204", "", false);
    CHECK_STR(WIRE(&O), "HTTP/1.1 204 No Content\r\nx-r: 1\r\n\r\n");
    towner_dispose(&O);
}

XG_TEST(response_splitting_refused)
{
    start(NULL);
    feeds("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    xg_headers_add_ref(h, "x", 1, "a\r\nSet-Cookie: evil", 19);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, true), XG_EINVAL);
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

XG_TEST(early_response_closes_connection)
{
    start(NULL);
    feeds("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc");
    reset_logs(&O);
    respond(1, "413", "big", true);
    CHECK_STR(LOG(&O), "close 1;");
    CHECK(xg_codec_should_close(O.c));
    feeds("more body");
    CHECK_STR(LOG(&O), "close 1;");
    towner_dispose(&O);
}

XG_TEST(eof_mid_request_resets)
{
    start(NULL);
    feeds("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc");
    reset_logs(&O);
    feed(NULL, 0);
    CHECK_STR(LOG(&O), "reset 1 connection_termination;");
    CHECK(xg_codec_should_close(O.c));
    towner_dispose(&O);

    start(NULL);
    feed(NULL, 0);
    CHECK_STR(LOG(&O), "");
    CHECK(xg_codec_should_close(O.c));
    towner_dispose(&O);
}

XG_TEST(byte_by_byte)
{
    start(NULL);
    const char *req = "POST /p HTTP/1.1\r\nHost: h\r\nX-A:  v  w \r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n0\r\n\r\n";
    for (size_t i = 0; i < strlen(req); i++)
        CHECK_EQ_INT(feed(req + i, 1), 1);
    const char *log = LOG(&O);
    CHECK(strncmp(log, "begin 1;headers 1 POST auth=h path=/p x-a=v  w;data 1 [a];data 1 [b];data 1 [c];", 80) == 0);
    CHECK(strstr(log, "data 1 [] END;") != NULL);
    towner_dispose(&O);

    /* obs-fold split across feeds is still caught */
    start(NULL);
    const char *fold = "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n";
    for (size_t i = 0; i < strlen(fold); i++)
        feed(fold + i, 1);
    CHECK_STR(LOG(&O), "begin 1;error 1 400;");
    towner_dispose(&O);
}

XG_TEST(goaway_closes_after_current)
{
    start(NULL);
    feeds("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    xg_codec_goaway(O.c, XG_GOAWAY_NOTICE);
    respond(1, "200", "x", true);
    CHECK(strstr(WIRE(&O), "connection: close\r\n") != NULL);
    CHECK(xg_codec_should_close(O.c));
    towner_dispose(&O);
}

/* Between requests a keep-alive codec says it is idle (its owner may free
 * it); while a request is open, output is queued or the connection is
 * closing, it does not. A codec taken from the spares parses the next
 * request as a fresh one, with no trace of the last. */
XG_TEST(idle_between_requests_and_reuse)
{
    start(NULL);
    CHECK(xg_http1_server_idle(O.c));
    feeds("GET /a HTTP/1.1\r\nHost: h\r\nX-Long: 0123456789\r\n\r\n");
    CHECK(!xg_http1_server_idle(O.c)); /* a stream is open */
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    xg_headers_add_ref(h, "content-length", 14, "0", 1);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, true), 0);
    xg_arena_dispose(&a);
    CHECK(!xg_http1_server_idle(O.c)); /* output queued */
    drain(&O);
    CHECK(xg_http1_server_idle(O.c));
    xg_codec *old = O.c;
    towner_dispose(&O);

    start(NULL); /* the spare comes back */
    CHECK(O.c == old);
    CHECK(xg_http1_server_idle(O.c));
    feeds("POST /b HTTP/1.1\r\nHost: g\r\nContent-Length: 2\r\n\r\nhi");
    CHECK_STR(LOG(&O), "begin 1;headers 1 POST auth=g path=/b content-length=2;data 1 [hi];data 1 [] END;");
    towner_dispose(&O);

    start(NULL);
    xg_codec_goaway(O.c, XG_GOAWAY_NOTICE);
    CHECK(!xg_http1_server_idle(O.c)); /* closing */
    towner_dispose(&O);

    start(NULL);
    size_t used;
    CHECK_EQ_INT(xg_codec_feed(O.c, NULL, 0, &used), 0);
    CHECK(!xg_http1_server_idle(O.c)); /* the peer left */
    towner_dispose(&O);

    start(NULL);
    feeds("GET / HT");
    CHECK(!xg_http1_server_idle(O.c)); /* half a request line */
    towner_dispose(&O);
}

/* Spares follow the recent peak of codecs in use: a burst leaves at most
 * that many, and two trims with nothing in use bring them down to the
 * small floor. */
XG_TEST(spares_follow_the_recent_peak)
{
    xg_http1_server_spares_free();
    enum { N = 40 };
    xg_codec *c[N];
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    towner_init(&O);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(xg_http1_server_new(&c[i], &d, &t_cbs, &O), 0);
    for (int i = 0; i < N; i++)
        xg_codec_free(c[i]);
    size_t kept = xg_http1_server_spares_trim(); /* the burst's peak still counts */
    CHECK(kept <= N);
    CHECK(kept > 8);
    kept = xg_http1_server_spares_trim(); /* a quiet period: down to the floor */
    CHECK(kept <= 8);
    xg_http1_server_spares_free();
    CHECK_EQ_INT(xg_http1_server_spares_trim(), 0);
    towner_dispose(&O);
}
