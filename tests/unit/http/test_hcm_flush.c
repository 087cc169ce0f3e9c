/* Unit tests for the batched downstream flush of the connection manager
 * (http/hcm.c): output that work outside the connection's own callbacks
 * produces (an upstream read, a timer) is written once, after the other
 * events of the loop pass: an HTTP/1 response head and body sent in two
 * steps leave in one write; the same from the loop's deferred frees still
 * goes out before the loop polls again; a connection that dies, or an hconn
 * that is freed, between the request for a flush and the flush is safe (ASan
 * build). A real connection over a socketpair and the real HTTP/1 codec; the
 * streams are fakes that record what the codec says. */
#include <stdlib.h>

#include "http/hcm.c"
#include "net/net_test.h"
#include "xg_test.h"

/* --- fake streams --- */

static xg_stream *cur;    /* the stream the request opened */
static bool got_headers;  /* its request headers arrived */
static int aborted, ended; /* streams torn down by the hconn / finished by the codec */

static void stream_gone(xg_stream *s)
{
    xg__hconn_stream_gone(s->hc, s);
    xg_arena_dispose(&s->arena);
    if (cur == s)
        cur = NULL;
    free(s);
}

xg_stream *xg__stream_new(xg_hconn *hc, uint32_t sid)
{
    xg_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    xg_arena_init(&s->arena, 0);
    s->hc = hc;
    s->sid = sid;
    s->next = hc->streams;
    if (hc->streams != NULL)
        hc->streams->prev = s;
    hc->streams = s;
    hc->n_streams++;
    hc->idle_since = 0;
    cur = s;
    return s;
}

void xg__stream_on_headers(xg_stream *s, xg_headers *h, bool end_stream)
{
    got_headers = true;
}

void xg__stream_on_data(xg_stream *s, const char *p, size_t n, bool end_stream)
{
}

void xg__stream_on_trailers(xg_stream *s, xg_headers *t)
{
}

void xg__stream_on_codec_end(xg_stream *s, bool reset, xg_reset_reason r)
{
    ended++;
    stream_gone(s);
}

void xg__stream_on_send_ready(xg_stream *s)
{
}

void xg__stream_on_codec_error(xg_stream *s, xg_codec_err kind, const char *detail)
{
}

void xg__stream_abort(xg_stream *s, uint32_t flags, const char *details)
{
    aborted++;
    stream_gone(s);
}

xg_worker_rt *xg_worker_rt_self(void)
{
    return NULL;
}

/* --- fixture: an hconn on one end of a socketpair, a client on the other --- */

typedef struct fixture {
    xg_loop loop;
    int client;
    xg_conn *c;
    xg_hconn *hc;
    xg_hcm cfg;
    xg_filter_chain chain;
} fixture;

static fixture F;

static bool setup(void)
{
    memset(&F, 0, sizeof F);
    cur = NULL;
    got_headers = false;
    aborted = ended = 0;
    if (!CHECK(xg_loop_init(&F.loop, 0) == 0))
        return false;
    int sv[2];
    if (!CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0))
        return false;
    nt_nonblock(sv[0], true);
    nt_nonblock(sv[1], true);
    F.client = sv[1];
    if (!CHECK(xg_conn_new(&F.loop, sv[0], &F.c) == 0))
        return false;
    F.cfg.codec = XG_CODEC_HTTP1;
    F.cfg.max_request_headers_kb = 60;
    F.cfg.max_headers_count = 100;
    F.cfg.h1.allow_absolute_url = true;
    F.chain.hcm = &F.cfg;
    xg_conn_start(F.c, 0);
    xg_hcm_on_conn(F.c, &F.chain, NULL);
    F.hc = F.c->owner;
    const char req[] = "GET / HTTP/1.1\r\nhost: a\r\n\r\n";
    if (!CHECK(write(F.client, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)))
        return false;
    return CHECK(nt_run_until(&F.loop, &got_headers, 5)) && CHECK(cur != NULL);
}

static void teardown(void)
{
    close(F.client);
    nt_run_for(&F.loop, 0.05);
    xg_loop_dispose(&F.loop);
}

/* A 200 with a 5-byte body, in two sends (head, then body) each followed
 * by a pump request, as the stream's sink does. */
static void respond_in_two_steps(void)
{
    xg_headers *h = xg_headers_new(&cur->arena);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    xg_headers_add_ref(h, "content-length", 14, "5", 1);
    CHECK_EQ_INT(xg_codec_send_headers(F.hc->codec, cur->sid, h, false), 0);
    xg__hconn_pump(F.hc);
    CHECK_EQ_INT(xg_codec_send_data(F.hc->codec, cur->sid, "hello", 5, true), 0);
    xg__hconn_pump(F.hc);
}

/* What the client can read now, without waiting. */
static size_t client_read_now(char *buf, size_t cap)
{
    ssize_t n = recv(F.client, buf, cap, MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}

static const char expected[] = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

/* --- head and body from one event: one write --- */

static uint32_t writes_before, writes_in_cb;
static size_t readable_in_cb;
static bool fired;

static void on_upstream_like(struct ev_loop *ev, ev_timer *w, int revents)
{
    char buf[256];
    writes_before = F.c->stats.writes;
    respond_in_two_steps();
    writes_in_cb = F.c->stats.writes - writes_before;
    readable_in_cb = client_read_now(buf, sizeof buf);
    fired = true;
}

XG_TEST(head_and_body_from_one_event_leave_in_one_write)
{
    if (!setup())
        return;
    ev_timer t;
    fired = false;
    ev_timer_init(&t, on_upstream_like, 0, 0);
    ev_timer_start(F.loop.ev, &t);
    CHECK(nt_run_until(&F.loop, &fired, 5));
    nt_run_for(&F.loop, 0.05);
    CHECK_EQ_INT(writes_in_cb, 0);  /* nothing written inside the event that produced it */
    CHECK_EQ_INT(readable_in_cb, 0);
    CHECK_EQ_INT(F.c->stats.writes - writes_before, 1);
    char buf[256] = {0};
    size_t n = client_read_now(buf, sizeof buf - 1);
    CHECK_EQ_INT(n, sizeof expected - 1); /* the whole response, from one write */
    CHECK(memcmp(buf, expected, sizeof expected - 1) == 0);
    CHECK_EQ_INT(ended, 1);
    teardown();
}

/* --- asked for from the loop's deferred frees: written before the next poll --- */

static xg_deferred late;
static bool ran_late;

static void send_late(xg_deferred *d)
{
    respond_in_two_steps();
    ran_late = true;
}

static void on_defer_send(struct ev_loop *ev, ev_timer *w, int revents)
{
    xg_loop_defer(&F.loop, &late, send_late);
    writes_before = F.c->stats.writes;
    fired = true;
}

XG_TEST(flush_asked_for_from_deferred_frees_goes_out_before_the_next_poll)
{
    if (!setup())
        return;
    ev_timer t;
    fired = ran_late = false;
    ev_timer_init(&t, on_defer_send, 0, 0);
    ev_timer_start(F.loop.ev, &t);
    CHECK(nt_run_until(&F.loop, &fired, 5));
    CHECK(!ran_late);
    /* One more round without blocking: the deferred work, then its flush,
     * both before the loop polls. */
    ev_run(F.loop.ev, EVRUN_NOWAIT);
    CHECK(ran_late);
    CHECK_EQ_INT(F.c->stats.writes - writes_before, 1);
    char buf[256] = {0};
    CHECK_EQ_INT(client_read_now(buf, sizeof buf - 1), sizeof expected - 1);
    teardown();
}

/* --- the conn dies between the request and the flush --- */

static void on_send_then_die(struct ev_loop *ev, ev_timer *w, int revents)
{
    respond_in_two_steps();
    xg_conn_kill(F.c, XG_CONN_RESET);
    fired = true;
}

XG_TEST(conn_dying_before_the_flush_is_safe)
{
    if (!setup())
        return;
    ev_timer t;
    fired = false;
    ev_timer_init(&t, on_send_then_die, 0, 0);
    ev_timer_start(F.loop.ev, &t);
    CHECK(nt_run_until(&F.loop, &fired, 5));
    nt_run_for(&F.loop, 0.05);
    char buf[256];
    CHECK_EQ_INT(client_read_now(buf, sizeof buf), 0); /* nothing went out on a dead conn */
    CHECK_EQ_INT(aborted + ended, 1);                   /* the stream was torn down once */
    teardown();
}

/* --- the hconn is freed between the request and the flush --- */

static void mark_late(xg_deferred *d)
{
    /* Runs in the loop's deferred round before the dead conn's on_close:
     * the hconn still has its conn and takes the request. */
    respond_in_two_steps();
    ran_late = true;
}

static void on_die_then_mark(struct ev_loop *ev, ev_timer *w, int revents)
{
    xg_conn_kill(F.c, XG_CONN_RESET);            /* its free (and on_close) deferred first... */
    xg_loop_defer(&F.loop, &late, mark_late);    /* ...so this runs before it (last in, first run) */
    fired = true;
}

XG_TEST(hconn_freed_before_the_flush_is_safe)
{
    if (!setup())
        return;
    ev_timer t;
    fired = ran_late = false;
    ev_timer_init(&t, on_die_then_mark, 0, 0);
    ev_timer_start(F.loop.ev, &t);
    CHECK(nt_run_until(&F.loop, &fired, 5));
    nt_run_for(&F.loop, 0.05); /* the pending flush must not touch the freed hconn (ASan) */
    CHECK(ran_late);
    CHECK_EQ_INT(aborted, 1);
    teardown();
}
