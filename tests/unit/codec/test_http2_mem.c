/* nghttp2's per-session allocator and the idle trim: big blocks page-aligned
 * and tracked, small ones plain; trim gives back zero blocks and, when no
 * frame is in flight, the frame buffer; a trimmed session keeps working; an
 * idle connection after a 64 KiB response and after 50 concurrent streams
 * holds none of those pages (mincore); response bodies wait in pool blocks. */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "codec/codec.h"
#include "codec/http2_int.h"
#include "core/bufpool.h"
#include "core/error.h"
#include "h2_util.h"
#include "xg_test.h"

static size_t page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static int tracked(const xg__h2_mem *m)
{
    int n = 0;
    for (int i = 0; i < XG__H2_MEM_SLOTS; i++)
        n += m->big[i].p != NULL;
    return n;
}

/* Resident pages among the page-rounded blocks of m. */
static size_t resident(const xg__h2_mem *m)
{
    size_t n = 0;
    for (int i = 0; i < XG__H2_MEM_SLOTS; i++) {
        if (m->big[i].p == NULL)
            continue;
        size_t pages = (m->big[i].len + page() - 1) / page();
        unsigned char v[64];
        if (pages > sizeof v || mincore(m->big[i].p, pages * page(), v) != 0)
            return SIZE_MAX;
        for (size_t k = 0; k < pages; k++)
            n += v[k] & 1;
    }
    return n;
}

XG_TEST(big_blocks_aligned_and_tracked)
{
    xg__h2_mem m;
    nghttp2_mem mem;
    xg__h2_mem_init(&m, &mem);
    void *u = mem.mem_user_data;
    char *small = mem.malloc(100, u);
    char *big = mem.malloc(XG__H2_FRAMEBUF_LEN, u);
    char *zero = mem.calloc(256, 16, u);
    CHECK(small != NULL && big != NULL && zero != NULL);
    CHECK_EQ_INT((uintptr_t)big % page(), 0);
    CHECK_EQ_INT((uintptr_t)zero % page(), 0);
    CHECK_EQ_INT(tracked(&m), 2);
    CHECK_EQ_INT(zero[4095], 0);
    memset(big, 'x', XG__H2_FRAMEBUF_LEN);
    /* A tracked block moved by realloc keeps its bytes and its tracking. */
    char *moved = mem.realloc(big, XG__H2_FRAMEBUF_LEN + 5000, u);
    CHECK(moved != NULL && moved[0] == 'x' && moved[XG__H2_FRAMEBUF_LEN - 1] == 'x');
    CHECK_EQ_INT((uintptr_t)moved % page(), 0);
    CHECK_EQ_INT(tracked(&m), 2);
    small = mem.realloc(small, 200, u);
    CHECK_EQ_INT(tracked(&m), 2);
    /* Slots run out: big blocks still come, untracked. */
    void *more[3];
    for (int i = 0; i < 3; i++)
        more[i] = mem.malloc(8192, u);
    CHECK_EQ_INT(tracked(&m), XG__H2_MEM_SLOTS);
    for (int i = 0; i < 3; i++)
        mem.free(more[i], u);
    CHECK_EQ_INT(tracked(&m), 2);
    CHECK(mem.calloc(SIZE_MAX / 2, 4, u) == NULL);
    mem.free(NULL, u);
    mem.free(moved, u);
    mem.free(zero, u);
    mem.free(small, u);
    CHECK_EQ_INT(tracked(&m), 0);
}

XG_TEST(trim_gives_back_zeros_and_idle_frames_only)
{
    xg__h2_mem m;
    nghttp2_mem mem;
    xg__h2_mem_init(&m, &mem);
    void *u = mem.mem_user_data;
    m.creating = true; /* the frame buffer is made while the session is */
    char *frames = mem.malloc(XG__H2_FRAMEBUF_LEN, u);
    m.creating = false;
    char *zero = mem.calloc(1, 4096, u);
    char *live = mem.malloc(4096, u);
    /* The same size later (an HPACK entry with a 16,353-byte value): live data. */
    char *entry = mem.malloc(XG__H2_FRAMEBUF_LEN, u);
    memset(frames, 'f', XG__H2_FRAMEBUF_LEN);
    memset(live, 'l', 4096);
    memset(entry, 'e', XG__H2_FRAMEBUF_LEN);
    /* Frames in flight: only the block of zeros goes. */
    CHECK_EQ_INT(xg__h2_mem_trim(&m, false), 4096);
    CHECK(frames[100] == 'f' && live[100] == 'l' && zero[100] == 0);
    CHECK_EQ_INT(xg__h2_mem_trim(&m, true), 4096 + (XG__H2_FRAMEBUF_LEN + page() - 1) / page() * page());
    CHECK(live[4095] == 'l' && zero[0] == 0 && frames[0] == 0);
    CHECK(entry[0] == 'e' && entry[XG__H2_FRAMEBUF_LEN - 1] == 'e');
    mem.free(entry, u);
    /* Still usable: the pages come back on first touch. */
    frames[XG__H2_FRAMEBUF_LEN - 1] = 'z';
    CHECK(frames[XG__H2_FRAMEBUF_LEN - 1] == 'z');
    mem.free(frames, u);
    mem.free(zero, u);
    mem.free(live, u);
}

/* --- a real connection --- */

static towner S, C;
static xg_arena A;

static xg_headers *request(const char *path)
{
    xg_headers *h = xg_headers_new(&A);
    xg_headers_set_pseudo(h, ":method", 7, "GET", 3);
    xg_headers_set_pseudo(h, ":scheme", 7, "http", 4);
    xg_headers_set_pseudo(h, ":path", 5, path, strlen(path));
    xg_headers_set_pseudo(h, ":authority", 10, "bench", 5);
    return h;
}

static xg_headers *response(void)
{
    xg_headers *h = xg_headers_new(&A);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    xg_headers_add_ref(h, "server", 6, "envoy", 5);
    return h;
}

static void start_with(uint32_t hpack_table_size)
{
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    if (hpack_table_size != 0)
        o.hpack_table_size = hpack_table_size;
    towner_init(&S);
    towner_init(&C);
    xg_arena_init(&A, 0);
    CHECK_EQ_INT(xg_http2_server_new(&S.c, &o, &t_cbs, &S), 0);
    CHECK_EQ_INT(xg_http2_client_new(&C.c, &o, &t_cbs, &C), 0);
}

static void start(void)
{
    start_with(0);
}

static void stop(void)
{
    towner_dispose(&S);
    towner_dispose(&C);
    xg_arena_dispose(&A);
}

/* n concurrent GETs, each answered with body bytes of body. */
static void exchange(int n, size_t body)
{
    static char buf[65536];
    uint32_t sid[64];
    memset(buf, 'b', sizeof buf);
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("/"), true, &sid[i]), 0);
    pump(&C, &S);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(xg_codec_send_headers(S.c, sid[i], response(), body == 0), 0);
        if (body > 0)
            CHECK_EQ_INT(xg_codec_send_data(S.c, sid[i], buf, body, true), 0);
    }
    pump(&C, &S);
    CHECK_EQ_INT(xg_codec_active_streams(S.c), 0);
    CHECK_EQ_INT(xg_codec_active_streams(C.c), 0);
}

static void check_idle_trim(const char *what)
{
    xg__h2 *h = (xg__h2 *)S.c;
    CHECK(resident(&h->mem) > 0);
    size_t given = xg_codec_trim(S.c);
    /* the frame buffer (16 KiB + 10, page-rounded) and the stream map's 4 KiB table */
    if (!CHECK(given >= 5 * page() + 4096))
        fprintf(stderr, "  %s: trim gave %zu bytes\n", what, given);
    CHECK_EQ_INT(resident(&h->mem), 0);
    CHECK(h->out.cap == 0);
}

XG_TEST(idle_connection_after_large_response_and_many_streams)
{
    start();
    exchange(1, 65536);
    CHECK(strstr(LOG(&C), "data 1 [] END;close 1;") != NULL || strstr(LOG(&C), "close 1;") != NULL);
    check_idle_trim("64 KiB response");
    /* Trimmed, the session carries on: pages fault back in, zeroed. */
    reset_logs(&C);
    exchange(50, 100); /* towner keeps 64 stream arenas */
    CHECK(strstr(LOG(&C), "close 101;") != NULL);
    check_idle_trim("50 concurrent streams");
    reset_logs(&C);
    exchange(1, 0);
    CHECK(strstr(LOG(&C), "headers 103 200 server=envoy END;close 103;") != NULL);
    /* The client codec trims as well. */
    CHECK(xg_codec_trim(C.c) > 0);
    stop();
}

XG_TEST(no_trim_while_output_waits)
{
    start();
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("/"), true, &sid), 0);
    pump(&C, &S);
    CHECK_EQ_INT(xg_codec_send_headers(S.c, sid, response(), true), 0);
    struct iovec iov[4];
    CHECK(xg_codec_output(S.c, iov, 4) == 1);
    /* Half written: nothing is given back, and the rest still goes out intact. */
    size_t used = 0;
    xg_codec_feed(C.c, iov[0].iov_base, 3, &used);
    xg_codec_output_done(S.c, 3);
    CHECK_EQ_INT(xg_codec_trim(S.c), 0);
    pump(&C, &S);
    CHECK(strstr(LOG(&C), "headers 1 200 server=envoy END;close 1;") != NULL);
    stop();
}

/* A response's body waits in a pool block, given back once nghttp2 took it
 * all; a queue that outgrows the block moves to the heap with its bytes. */
XG_TEST(send_queue_in_a_pool_block_while_queued)
{
    start();
    uint32_t sid;
    CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, request("/"), true, &sid), 0);
    pump(&C, &S);
    size_t base = xg_bufpool_thread_stats().in_use;
    CHECK_EQ_INT(xg_codec_send_headers(S.c, sid, response(), false), 0);
    CHECK_EQ_INT(xg_codec_send_data(S.c, sid, "head", 4, false), 0);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, base + 1);
    pump(&C, &S);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, base);
    static char big[20000];
    memset(big, 'x', sizeof big);
    CHECK_EQ_INT(xg_codec_send_data(S.c, sid, "more", 4, false), 0);
    CHECK_EQ_INT(xg_codec_send_data(S.c, sid, big, sizeof big, false), 0);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, base);
    CHECK_EQ_INT(xg_codec_pending(S.c, sid), 4 + sizeof big);
    CHECK_EQ_INT(xg_codec_send_data(S.c, sid, "tail", 4, true), 0);
    pump(&C, &S);
    size_t xs = 0;
    for (const char *p = LOG(&C); *p; p++)
        xs += *p == 'x';
    CHECK_EQ_INT(xs, sizeof big);
    CHECK(strstr(LOG(&C), "[head]") != NULL && strstr(LOG(&C), "[morexxx") != NULL);
    CHECK(strstr(LOG(&C), "xxxtail]") != NULL && strstr(LOG(&C), "close 1;") != NULL);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, base);
    stop();
}

/* With a large hpack_table_size, a header value of 16,353 bytes makes an
 * HPACK table entry exactly as big as nghttp2's frame buffer; the entry stays
 * in both tables between requests, and an idle trim must leave it whole: the
 * next request that refers to it by index still carries the value. */
XG_TEST(trim_keeps_an_hpack_entry_the_size_of_the_frame_buffer)
{
    enum { VLEN = XG__H2_FRAMEBUF_LEN - 40 - 1 };
    static char value[VLEN];
    memset(value, 'v', VLEN);
    start_with(65536);
    for (int round = 0; round < 2; round++) {
        xg_headers *h = request("/");
        xg_headers_add_ref(h, "a", 1, value, VLEN);
        uint32_t sid;
        reset_logs(&S);
        CHECK_EQ_INT(xg_codec_send_request(C.c, &C, &A, h, true, &sid), 0);
        pump(&C, &S);
        const char *log = LOG(&S);
        const char *at = strstr(log, " a=v");
        CHECK(at != NULL && strspn(at + 3, "v") == VLEN);
        CHECK_EQ_INT(xg_codec_send_headers(S.c, sid, response(), true), 0);
        pump(&C, &S);
        xg_codec_trim(S.c);
        xg_codec_trim(C.c);
    }
    stop();
}
