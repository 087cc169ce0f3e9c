/* HTTP/1.1 client codec: request serialization (lengths, chunked, upgrade),
 * response parsing (1xx, HEAD, 204/304, close-delimited, trailers), reuse
 * signals and the responses that make a connection unusable. */
#include "codec/codec.h"
#include "core/error.h"
#include "towner.h"
#include "xg_test.h"

static towner O;
static xg_arena A;

static void start(const xg_codec_opts *opts)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    towner_init(&O);
    xg_arena_init(&A, 0);
    CHECK_EQ_INT(xg_http1_client_new(&O.c, opts ? opts : &d, &t_cbs, &O), 0);
}

static void stop(void)
{
    towner_dispose(&O);
    xg_arena_dispose(&A);
}

static xg_headers *req(const char *method, const char *path)
{
    xg_headers *h = xg_headers_new(&A);
    xg_headers_set_pseudo(h, ":method", 7, method, strlen(method));
    xg_headers_set_pseudo(h, ":path", 5, path, strlen(path));
    xg_headers_set_pseudo(h, ":authority", 10, "up.example", 10);
    return h;
}

static uint32_t send_req(xg_headers *h, bool end)
{
    uint32_t sid = 0;
    CHECK_EQ_INT(xg_codec_send_request(O.c, &O, &A, h, end, &sid), 0);
    drain(&O);
    return sid;
}

static size_t feeds(const char *s)
{
    size_t used = 0;
    CHECK_EQ_INT(xg_codec_feed(O.c, s, strlen(s), &used), 0);
    return used;
}

XG_TEST(get_and_reuse)
{
    start(NULL);
    CHECK_EQ_INT(xg_codec_capacity(O.c), 1);
    xg_headers *h = req("GET", "/x");
    xg_headers_add_ref(h, "accept", 6, "*/*", 3);
    xg_headers_add_ref(h, "connection", 10, "keep-alive", 10); /* the codec's own business */
    uint32_t sid = send_req(h, true);
    CHECK_EQ_INT(sid, 1);
    CHECK_STR(WIRE(&O), "GET /x HTTP/1.1\r\nhost: up.example\r\naccept: */*\r\n\r\n");
    CHECK_EQ_INT(xg_codec_capacity(O.c), 0);
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: s\r\n\r\nhi";
    CHECK_EQ_INT(feeds(resp), strlen(resp));
    CHECK_STR(LOG(&O), "headers 1 200 content-length=2 server=s;data 1 [hi];data 1 [] END;close 1;");
    CHECK_EQ_INT(xg_codec_capacity(O.c), 1);
    reset_logs(&O);
    sid = send_req(req("GET", "/y"), true);
    CHECK_EQ_INT(sid, 2);
    feeds("HTTP/1.1 204 No Content\r\n\r\n");
    CHECK_STR(LOG(&O), "headers 2 204 END;close 2;");
    CHECK_EQ_INT(xg_codec_capacity(O.c), 1);
    stop();
}

XG_TEST(post_lengths_and_chunked)
{
    start(NULL);
    send_req(req("POST", "/p"), true); /* no body: content-length: 0 */
    CHECK_STR(WIRE(&O), "POST /p HTTP/1.1\r\nhost: up.example\r\ncontent-length: 0\r\n\r\n");
    feeds("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    reset_logs(&O);

    uint32_t sid = send_req(req("POST", "/c"), false); /* unknown length: chunked */
    CHECK_EQ_INT(xg_codec_send_data(O.c, sid, "abc", 3, false), 0);
    xg_headers *t = xg_headers_new(&A);
    xg_headers_add_ref(t, "x-t", 3, "1", 1);
    CHECK_EQ_INT(xg_codec_send_trailers(O.c, sid, t), 0);
    drain(&O);
    CHECK_STR(WIRE(&O), "POST /c HTTP/1.1\r\nhost: up.example\r\ntransfer-encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n");
    feeds("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    reset_logs(&O);

    xg_headers *h = req("PUT", "/l");
    xg_headers_add_ref(h, "content-length", 14, "4", 1);
    sid = send_req(h, false);
    CHECK_EQ_INT(xg_codec_send_data(O.c, sid, "abcd", 4, true), 0);
    drain(&O);
    CHECK_STR(WIRE(&O), "PUT /l HTTP/1.1\r\nhost: up.example\r\ncontent-length: 4\r\n\r\nabcd");
    stop();
}

XG_TEST(informational_then_final)
{
    start(NULL);
    send_req(req("POST", "/"), false);
    feeds("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
    CHECK_STR(LOG(&O), "headers 1 100;headers 1 103 link=</a>;");
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, "x", 1, true), 0);
    feeds("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n");
    CHECK_STR(LOG(&O), "headers 1 100;headers 1 103 link=</a>;headers 1 200;data 1 [z];data 1 [] END;close 1;");
    stop();
}

XG_TEST(head_and_304_without_body)
{
    start(NULL);
    send_req(req("HEAD", "/"), true);
    feeds("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    CHECK_STR(LOG(&O), "headers 1 200 content-length=1000 END;close 1;");
    CHECK_EQ_INT(xg_codec_capacity(O.c), 1);
    reset_logs(&O);
    send_req(req("GET", "/"), true);
    feeds("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
    CHECK_STR(LOG(&O), "headers 2 304 content-length=10 END;close 2;");
    stop();
}

XG_TEST(close_delimited_body)
{
    start(NULL);
    send_req(req("GET", "/"), true);
    feeds("HTTP/1.1 200 OK\r\n\r\nsome");
    feeds(" more");
    size_t used;
    CHECK_EQ_INT(xg_codec_feed(O.c, NULL, 0, &used), 0);
    CHECK_STR(LOG(&O), "headers 1 200;data 1 [some];data 1 [ more];data 1 [] END;close 1;");
    CHECK(xg_codec_should_close(O.c));
    CHECK_EQ_INT(xg_codec_capacity(O.c), 0);
    stop();
}

XG_TEST(connection_close_response_not_reused)
{
    start(NULL);
    send_req(req("GET", "/"), true);
    feeds("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx");
    CHECK(xg_codec_should_close(O.c));
    CHECK_EQ_INT(xg_codec_capacity(O.c), 0);
    stop();

    start(NULL);
    send_req(req("GET", "/"), true);
    feeds("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx");
    CHECK(xg_codec_should_close(O.c));
    stop();
}

XG_TEST(trailers_in_response)
{
    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.enable_trailers = true;
    start(&op);
    send_req(req("POST", "/g"), true);
    feeds("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nGrpc-Status: 0\r\n\r\n");
    CHECK_STR(LOG(&O), "headers 1 200;data 1 [ok];trailers 1 grpc-status=0;close 1;");
    stop();
}

XG_TEST(bad_responses_reset)
{
    const char *bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "garbage\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start(NULL);
        send_req(req("GET", "/"), true);
        feeds(bad[i]);
        if (!CHECK(strstr(LOG(&O), "reset 1 protocol_error;") != NULL))
            fprintf(stderr, "  case %zu: %s\n", i, LOG(&O));
        CHECK(strstr(LOG(&O), "END") == NULL);
        CHECK(xg_codec_should_close(O.c));
        CHECK_EQ_INT(xg_codec_capacity(O.c), 0);
        stop();
    }
}

XG_TEST(unsolicited_and_trailing_bytes)
{
    start(NULL);
    feeds("HTTP/1.1 200 OK\r\n\r\n");
    CHECK(xg_codec_should_close(O.c));
    CHECK_STR(LOG(&O), "");
    stop();

    start(NULL);
    send_req(req("GET", "/"), true);
    feeds("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n");
    CHECK_STR(LOG(&O), "headers 1 200 content-length=1;data 1 [x];data 1 [] END;close 1;");
    CHECK(xg_codec_should_close(O.c)); /* never parsed as the next response */
    stop();
}

XG_TEST(eof_before_response_end)
{
    start(NULL);
    send_req(req("GET", "/"), true);
    feeds("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    size_t used;
    xg_codec_feed(O.c, NULL, 0, &used);
    CHECK_STR(LOG(&O), "headers 1 200 content-length=10;data 1 [abc];reset 1 connection_termination;");
    stop();

    start(NULL);
    send_req(req("GET", "/"), true);
    xg_codec_feed(O.c, NULL, 0, &used);
    CHECK_STR(LOG(&O), "reset 1 connection_termination;");
    stop();
}

XG_TEST(upgrade_tunnel)
{
    start(NULL);
    xg_headers *h = req("GET", "/ws");
    xg_headers_add_ref(h, "upgrade", 7, "websocket", 9);
    uint32_t sid = send_req(h, false);
    CHECK_STR(WIRE(&O), "GET /ws HTTP/1.1\r\nhost: up.example\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n");
    CHECK_EQ_INT(xg_codec_send_data(O.c, sid, "x", 1, false), XG_EINVAL); /* not before the 101 */
    feeds("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframe1");
    CHECK_STR(LOG(&O), "headers 1 101 upgrade=websocket;data 1 [frame1];");
    reset_logs(&O);
    CHECK_EQ_INT(xg_codec_send_data(O.c, sid, "up", 2, false), 0);
    drain(&O);
    CHECK_STR(WIRE(&O), "up");
    size_t used;
    xg_codec_feed(O.c, NULL, 0, &used);
    CHECK_STR(LOG(&O), "data 1 [] END;close 1;");
    stop();

    start(NULL); /* refused upgrade: a normal response */
    h = req("GET", "/ws");
    xg_headers_add_ref(h, "upgrade", 7, "websocket", 9);
    send_req(h, false);
    feeds("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    CHECK_STR(LOG(&O), "headers 1 403 content-length=0 END;close 1;");
    CHECK(xg_codec_should_close(O.c)); /* the request side never ended */
    stop();
}

XG_TEST(back_pressure_window)
{
    xg_codec_opts op;
    xg_codec_opts_init(&op);
    op.stream_window = 3;
    start(&op);
    O.consume_now = 0;
    send_req(req("GET", "/"), true);
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabcdefgh";
    size_t used = feeds(resp);
    CHECK_EQ_INT(used, strlen(resp) - 5);
    CHECK(!xg_codec_can_feed(O.c));
    xg_codec_consumed(O.c, 1, 3);
    used += feeds(resp + used);
    xg_codec_consumed(O.c, 1, 3);
    used += feeds(resp + used);
    CHECK_EQ_INT(used, strlen(resp));
    CHECK_STR(LOG(&O), "headers 1 200 content-length=8;data 1 [abc];data 1 [def];data 1 [gh];data 1 [] END;close 1;");
    stop();
}

XG_TEST(invalid_requests_refused)
{
    start(NULL);
    uint32_t sid;
    xg_headers *h = req("GET", "/a b");
    CHECK_EQ_INT(xg_codec_send_request(O.c, &O, &A, h, true, &sid), XG_EINVAL);
    h = req("GET", "/");
    xg_headers_add_ref(h, "x", 1, "a\r\nb", 4);
    CHECK_EQ_INT(xg_codec_send_request(O.c, &O, &A, h, true, &sid), XG_EINVAL);
    drain(&O);
    CHECK_STR(WIRE(&O), "");
    CHECK_EQ_INT(xg_codec_capacity(O.c), 1);
    send_req(req("GET", "/"), true);
    CHECK_EQ_INT(xg_codec_send_request(O.c, &O, &A, req("GET", "/"), true, &sid), XG_EAGAIN);
    stop();
}
