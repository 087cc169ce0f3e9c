/* HTTP/1 output by reference: body bytes in the block a connection is
 * announcing are queued as pool-block references, written in order with the
 * owned head and chunk framing, counted in pending() for back-pressure, and
 * their blocks go back once written, or when the codec drops its output. */
#include <stdlib.h>

#include "codec/codec.h"
#include "codec/http1_int.h"
#include "core/bufpool.h"
#include "core/error.h"
#include "towner.h"
#include "xg_test.h"

static towner O;
static xg_arena A;

static void start_server(void)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    towner_init(&O);
    xg_arena_init(&A, 0);
    CHECK_EQ_INT(xg_http1_server_new(&O.c, &d, &t_cbs, &O), 0);
    const char *req = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t used = 0;
    CHECK_EQ_INT(xg_codec_feed(O.c, req, strlen(req), &used), 0);
    reset_logs(&O);
}

static void stop(void)
{
    towner_dispose(&O);
    xg_arena_dispose(&A);
    xg_bufpool_lend_close();
    xg_bufpool_stats st = xg_bufpool_thread_stats();
    CHECK_EQ_INT(st.in_use + st.big_in_use, 0);
    xg_bufpool_trim();
}

/* Response headers: a content-length, or chunked when len is NULL. */
static void respond(const char *len)
{
    xg_headers *h = xg_headers_new(&A);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    if (len != NULL)
        xg_headers_add_ref(h, "content-length", 14, len, strlen(len));
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, false), 0);
}

/* A big block as a connection would hold it while announcing it, filled
 * with a pattern that starts at seed. */
static char *lendable_block(int seed)
{
    char *b = xg_bufpool_get_big();
    for (size_t i = 0; i < XG_BUFPOOL_BIG; i++)
        b[i] = (char)('a' + (seed + i) % 26);
    xg_bufpool_lend_open(b);
    return b;
}

/* The owned head and each body piece are iovecs of their own, the body
 * ones pointing into the blocks; a partial write moves through them. */
XG_TEST(body_goes_out_by_reference_after_the_head)
{
    start_server();
    size_t half = XG_BUFPOOL_BIG / 2;
    char len[16];
    snprintf(len, sizeof len, "%zu", 2 * half + 100);
    respond(len);
    size_t head = xg_codec_pending(O.c, 1);
    char *b1 = lendable_block(0);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b1 + 10, half + 100, false), 0);
    CHECK(xg_bufpool_shared(b1));
    char *b2 = lendable_block(7);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b2, half, true), 0);
    CHECK_EQ_INT(xg_codec_pending(O.c, 1), head + 2 * half + 100);
    struct iovec iov[8];
    size_t k = xg_codec_output(O.c, iov, 8);
    CHECK_EQ_INT(k, 3);
    CHECK_EQ_INT(iov[0].iov_len, head);
    CHECK(iov[1].iov_base == b1 + 10 && iov[1].iov_len == half + 100);
    CHECK(iov[2].iov_base == b2 && iov[2].iov_len == half);
    CHECK_EQ_INT(xg_codec_output(O.c, iov, 2), 2); /* max is respected */
    /* The owner's share goes (its conn reads on elsewhere): the bytes stay. */
    xg_bufpool_put_big(b1);
    xg_bufpool_put_big(b2);
    xg_bufpool_lend_close();
    k = xg_codec_output(O.c, iov, 8);
    xg_buf_append(&O.wire, iov[0].iov_base, head);
    xg_buf_append(&O.wire, iov[1].iov_base, 5);
    xg_codec_output_done(O.c, head + 5);
    k = xg_codec_output(O.c, iov, 8);
    CHECK(k == 2 && iov[0].iov_base == b1 + 15 && iov[0].iov_len == half + 95);
    drain(&O);
    CHECK_EQ_INT(xg_codec_pending(O.c, 1), 0);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 0);
    const char *w = WIRE(&O);
    CHECK(strncmp(w, "HTTP/1.1 200 OK\r\ncontent-length: ", 33) == 0);
    CHECK_EQ_INT(O.wire.len, head + 2 * half + 100);
    bool same = true;
    for (size_t i = 0; i < half + 100; i++)
        same = same && w[head + i] == (char)('a' + (10 + i) % 26);
    for (size_t i = 0; i < half; i++)
        same = same && w[head + half + 100 + i] == (char)('a' + (7 + i) % 26);
    CHECK(same);
    stop();
}

/* Chunk framing around a referenced piece stays in order. */
XG_TEST(chunked_body_by_reference_keeps_its_framing)
{
    start_server();
    respond(NULL);
    size_t head = xg_codec_pending(O.c, 1);
    char *b = lendable_block(0);
    size_t n = XG_BUFPOOL_BIG / 2;
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b, n, false), 0);
    CHECK(xg_bufpool_shared(b));
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, "tail", 4, true), 0);
    xg_bufpool_put_big(b);
    drain(&O);
    const char *w = WIRE(&O) + head;
    char line[16];
    int ll = snprintf(line, sizeof line, "%zx\r\n", n);
    CHECK(strncmp(w, line, (size_t)ll) == 0);
    CHECK(memcmp(w + ll, "abcdef", 6) == 0);
    CHECK_STR(w + ll + n, "\r\n4\r\ntail\r\n0\r\n\r\n");
    stop();
}

/* Pieces smaller than half the block, bytes elsewhere, and bytes with no
 * block open are copied. */
XG_TEST(small_pieces_and_other_memory_are_copied)
{
    start_server();
    respond("30000");
    char *b = lendable_block(0);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b, 10000, false), 0);
    CHECK(!xg_bufpool_shared(b));
    char *heap = calloc(1, 20000);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, heap, 10000, false), 0);
    xg_bufpool_lend_close();
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b, 10000, true), 0);
    CHECK(!xg_bufpool_shared(b));
    struct iovec iov[8];
    CHECK_EQ_INT(xg_codec_output(O.c, iov, 8), 1);
    xg_bufpool_put_big(b);
    drain(&O);
    free(heap);
    stop();
}

/* pending() counts referenced bytes: the limit blocks the stream and
 * on_send_ready comes once less than half of it is left. */
XG_TEST(back_pressure_counts_referenced_bytes)
{
    start_server();
    respond("200000");
    size_t head = xg_codec_pending(O.c, 1);
    char *b = lendable_block(0);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b, XG_BUFPOOL_BIG, false), 0);
    xg_bufpool_put_big(b);
    xg_bufpool_lend_close();
    CHECK_EQ_INT(xg_codec_pending(O.c, 1), head + XG_BUFPOOL_BIG);
    size_t half_limit = 65536 / 2; /* the default send_buffer_limit's */
    xg_codec_output_done(O.c, head + XG_BUFPOOL_BIG - half_limit - 100);
    CHECK(strstr(LOG(&O), "ready") == NULL);
    xg_codec_output_done(O.c, 200);
    CHECK(strstr(LOG(&O), "ready 1;") != NULL);
    CHECK_EQ_INT(xg_codec_pending(O.c, 1), half_limit - 100);
    stop(); /* freeing the codec puts the block it still held */
}

/* An abort drops referenced blocks with the rest of the output. */
XG_TEST(abort_releases_referenced_blocks)
{
    start_server();
    char len[16];
    snprintf(len, sizeof len, "%d", XG_BUFPOOL_BIG);
    respond(len);
    char *b = lendable_block(0);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b, XG_BUFPOOL_BIG, true), 0);
    xg_bufpool_put_big(b);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 1);
    xg_codec_goaway(O.c, XG_GOAWAY_ABORT);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 0);
    CHECK(!xg_codec_want_write(O.c));
    stop();
}

/* A full span queue falls back to copying, in order. */
XG_TEST(full_span_queue_copies_in_order)
{
    start_server();
    size_t half = XG_BUFPOOL_BIG / 2, pieces = 2 * XG__H1_SPANS;
    char len[16];
    snprintf(len, sizeof len, "%zu", pieces * half);
    respond(len);
    size_t head = xg_codec_pending(O.c, 1);
    char *b = lendable_block(0);
    for (size_t i = 0; i < pieces; i++)
        CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b + (i % 2) * half, half, i + 1 == pieces), 0);
    xg_bufpool_lend_close();
    xg_bufpool_put_big(b);
    struct iovec iov[16];
    CHECK(xg_codec_output(O.c, iov, 16) <= XG__H1_SPANS);
    drain(&O);
    CHECK_EQ_INT(O.wire.len, head + pieces * half);
    bool same = true;
    for (size_t i = 0; i < pieces * half; i++)
        same = same && O.wire.data[head + i] == (char)('a' + (i % XG_BUFPOOL_BIG) % 26);
    CHECK(same);
    stop();
}

/* Client role: a request refused part way while the previous request's
 * body is still queued by reference writes nothing of itself. */
XG_TEST(refused_request_after_a_referenced_body_writes_nothing)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    towner_init(&O);
    xg_arena_init(&A, 0);
    CHECK_EQ_INT(xg_http1_client_new(&O.c, &d, &t_cbs, &O), 0);
    xg_headers *h = xg_headers_new(&A);
    xg_headers_set_pseudo(h, ":method", 7, "POST", 4);
    xg_headers_set_pseudo(h, ":path", 5, "/", 1);
    xg_headers_set_pseudo(h, ":authority", 10, "up", 2);
    char len[16];
    snprintf(len, sizeof len, "%d", XG_BUFPOOL_BIG / 2);
    xg_headers_add_ref(h, "content-length", 14, len, strlen(len));
    uint32_t sid = 0;
    CHECK_EQ_INT(xg_codec_send_request(O.c, &O, &A, h, false, &sid), 0);
    size_t head = xg_codec_pending(O.c, sid);
    char *b = lendable_block(0);
    CHECK_EQ_INT(xg_codec_send_data(O.c, sid, b, XG_BUFPOOL_BIG / 2, true), 0);
    xg_bufpool_lend_close();
    xg_bufpool_put_big(b);
    /* The response comes before the body is written; the next request has
     * a value that would split it. */
    const char *resp = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    size_t used = 0;
    CHECK_EQ_INT(xg_codec_feed(O.c, resp, strlen(resp), &used), 0);
    struct iovec iov[8];
    (void)xg_codec_output(O.c, iov, 8); /* the stream's close is reported here */
    xg_headers *bad = xg_headers_new(&A);
    xg_headers_set_pseudo(bad, ":method", 7, "GET", 3);
    xg_headers_set_pseudo(bad, ":path", 5, "/", 1);
    xg_headers_set_pseudo(bad, ":authority", 10, "up", 2);
    xg_headers_add_ref(bad, "x-bad", 5, "a\r\nb", 4);
    CHECK_EQ_INT(xg_codec_send_request(O.c, &O, &A, bad, true, &sid), XG_EINVAL);
    drain(&O);
    CHECK_EQ_INT(O.wire.len, head + XG_BUFPOOL_BIG / 2);
    CHECK(strncmp(WIRE(&O), "POST / HTTP/1.1\r\n", 17) == 0);
    stop();
}

/* The start of a long body in a read block, too short to lend, is copied
 * without sizing the buffer for the whole body (the rest goes by
 * reference); bytes from elsewhere still size it once. */
XG_TEST(sliver_of_a_read_block_does_not_size_the_buffer)
{
    start_server();
    respond("1000000");
    char *b = lendable_block(0);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, b, 1000, false), 0);
    CHECK(((xg__h1 *)O.c)->out.cap < 16384);
    xg_bufpool_lend_close();
    static char other[20000];
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, other, sizeof other, false), 0);
    CHECK(((xg__h1 *)O.c)->out.cap >= 65536);
    xg_bufpool_put_big(b);
    stop();
}
