/* Unit tests for the HTTP/2 side of the upstream pools (src/upstream/)
 * against an independent nghttp2 server thread on 127.0.0.1 (h2c prior
 * knowledge): many concurrent streams on one connection, the server's stream
 * limit (refused streams retried on a second connection), GOAWAY after a
 * response and with a stream in flight above last_stream_id, RST_STREAM (UR),
 * trailers, cancel (RST_STREAM, the connection stays), a dying connection
 * (UC), the request headers on the wire, and a bounded upload. */
#include "upstream/h2_server.h"
#include "upstream/upstream_util.h"
#include "xg_test.h"

static void h2(xg_cluster *c)
{
    c->http.protocol = XG_UPSTREAM_HTTP2;
}

static bool all_finished(void *arg)
{
    rec **rs = arg;
    for (; *rs != NULL; rs++)
        if (!rec_finished(*rs))
            return false;
    return true;
}

static bool served_one(void *arg)
{
    return atomic_load(&((h2srv *)arg)->requests) >= 1;
}

static void get(tenv *e, rec *c, const char *path)
{
    rec_init(c, e, "GET", path);
    if (rec_start(c, true) == 0)
        tenv_run(e, rec_finished, c, 5);
}

XG_TEST(sequential_requests_share_one_connection)
{
    h2srv s;
    h2srv_start(&s, 100);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec r[3];
    for (int i = 0; i < 3; i++) {
        get(&e, &r[i], "/ok");
        CHECK(r[i].ended && r[i].resp && r[i].resp->status == 200 && body_is(&r[i], "hello"));
    }
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    CHECK_EQ_INT(atomic_load(&s.requests), 3);
    CHECK_EQ_INT(tenv_pool(&e)->proto, XG_PROTO_HTTP2);
    for (int i = 0; i < 3; i++)
        rec_dispose(&r[i]);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

XG_TEST(concurrent_streams_multiplex_on_one_connection)
{
    enum { N = 20 };
    h2srv s;
    h2srv_start(&s, 100);
    s.hold_target = N; /* the server answers only once all N are open at once */
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec r[N];
    rec *all[N + 1];
    for (int i = 0; i < N; i++) {
        rec_init(&r[i], &e, "GET", "/hold");
        CHECK_EQ_INT(rec_start(&r[i], true), 0);
        all[i] = &r[i];
    }
    all[N] = NULL;
    CHECK(tenv_run(&e, all_finished, all, 5));
    for (int i = 0; i < N; i++)
        CHECK(r[i].ended && body_is(&r[i], "held"));
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    CHECK_EQ_INT(atomic_load(&s.max_open_streams), N);
    for (int i = 0; i < N; i++)
        rec_dispose(&r[i]);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

static bool two_conns(void *arg)
{
    return atomic_load(&((h2srv *)arg)->conns) == 2;
}

XG_TEST(stream_limit_spills_to_a_second_connection)
{
    h2srv s;
    h2srv_start(&s, 2);
    s.hold_target = 1000; /* held until released */
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec r[4];
    rec *all[] = {&r[0], &r[1], &r[2], &r[3], NULL};
    for (int i = 0; i < 4; i++) {
        rec_init(&r[i], &e, "GET", "/hold");
        CHECK_EQ_INT(rec_start(&r[i], true), 0);
    }
    /* All four go out before the server's SETTINGS arrive; it refuses two,
     * which are retried on a second connection as the first is full. */
    CHECK(tenv_run(&e, two_conns, &s, 5));
    tenv_spin(&e, 0.05);
    CHECK(!all_finished(all));
    atomic_store(&s.release, 1);
    CHECK(tenv_run(&e, all_finished, all, 5));
    for (int i = 0; i < 4; i++)
        CHECK(r[i].ended && !r[i].reset && body_is(&r[i], "held"));
    CHECK_EQ_INT(atomic_load(&s.conns), 2);
    CHECK(atomic_load(&s.max_open_streams) <= 2);
    for (int i = 0; i < 4; i++)
        rec_dispose(&r[i]);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

XG_TEST(goaway_stops_new_streams_on_that_connection)
{
    h2srv s;
    h2srv_start(&s, 100);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec a, b, c;
    get(&e, &a, "/goaway");
    CHECK(a.ended && body_is(&a, "bye"));
    tenv_spin(&e, 0.05);
    get(&e, &b, "/ok");
    CHECK(b.ended && body_is(&b, "hello"));
    CHECK_EQ_INT(atomic_load(&s.conns), 2);
    get(&e, &c, "/ok");
    CHECK(c.ended);
    CHECK_EQ_INT(atomic_load(&s.conns), 2);
    CHECK_EQ_INT(tenv_pool(&e)->busy.n + tenv_pool(&e)->ready.n, 1); /* the GOAWAY one is gone */
    rec_dispose(&a);
    rec_dispose(&b);
    rec_dispose(&c);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

XG_TEST(goaway_refused_stream_is_retried_on_a_new_connection)
{
    h2srv s;
    h2srv_start(&s, 100);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec a, b;
    rec_init(&a, &e, "GET", "/gw-first");
    rec_init(&b, &e, "GET", "/ok");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK_EQ_INT(rec_start(&b, true), 0);
    rec *both[] = {&a, &b, NULL};
    CHECK(tenv_run(&e, all_finished, both, 5));
    CHECK(a.ended && body_is(&a, "first"));
    CHECK(b.ended && !b.reset && body_is(&b, "hello"));
    CHECK_EQ_INT(atomic_load(&s.conns), 2);
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

XG_TEST(rst_stream_is_ur_and_the_connection_stays)
{
    h2srv s;
    h2srv_start(&s, 100);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec a, b;
    get(&e, &a, "/rst");
    CHECK(a.reset && !a.reset_started);
    CHECK_EQ_INT(a.reason, XG_UPSTREAM_REMOTE_RESET);
    CHECK_EQ_INT(xg_upstream_reset_flag(a.reason), XG_RF_UR);
    CHECK_EQ_INT(e.rt->stats.upstream_rq_rx_reset, 1);
    get(&e, &b, "/ok");
    CHECK(b.ended && body_is(&b, "hello"));
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

XG_TEST(trailers_end_the_response)
{
    h2srv s;
    h2srv_start(&s, 100);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec a;
    get(&e, &a, "/trailers");
    CHECK(a.ended && !a.reset && body_is(&a, "data"));
    if (CHECK(a.trailers != NULL)) {
        const xg_header *g = xg_headers_get(a.trailers, "grpc-status", 11);
        CHECK(g != NULL && g->value_len == 1 && g->value[0] == '0');
    }
    rec_dispose(&a);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

static bool got_reset(void *arg)
{
    return atomic_load(&((h2srv *)arg)->resets_seen) >= 1;
}

XG_TEST(cancel_resets_the_stream_and_keeps_the_connection)
{
    h2srv s;
    h2srv_start(&s, 100);
    s.hold_target = 1000; /* never answered */
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec a, b;
    rec_init(&a, &e, "GET", "/hold");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK(tenv_run(&e, served_one, &s, 5));
    xg_upstream_cancel(a.r);
    rec_dispose(&a);
    CHECK(tenv_run(&e, got_reset, &s, 2));
    get(&e, &b, "/ok");
    CHECK(b.ended && body_is(&b, "hello"));
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    rec_dispose(&b);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

XG_TEST(dying_connection_is_uc_for_every_stream)
{
    h2srv s;
    h2srv_start(&s, 100);
    s.hold_target = 1000;
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec a, b;
    rec_init(&a, &e, "GET", "/hold");
    rec_init(&b, &e, "GET", "/die");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK(tenv_run(&e, served_one, &s, 5));
    CHECK_EQ_INT(rec_start(&b, true), 0);
    rec *both[] = {&a, &b, NULL};
    CHECK(tenv_run(&e, all_finished, both, 5));
    CHECK(a.reset && b.reset);
    CHECK_EQ_INT(a.reason, XG_UPSTREAM_CONN_TERMINATION);
    CHECK_EQ_INT(b.reason, XG_UPSTREAM_CONN_TERMINATION);
    CHECK_EQ_INT(xg_upstream_reset_flag(a.reason), XG_RF_UC);
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

XG_TEST(request_headers_on_the_wire)
{
    h2srv s;
    h2srv_start(&s, 100);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec a;
    rec_init(&a, &e, "GET", "/ok");
    xg_headers *h = a.req;
    h->authority = (xg_hstr){0}; /* an HTTP/1 request whose Host was not folded */
    xg_headers_add_copy(h, "host", 4, "h1.example", 10);
    xg_headers_add_copy(h, "connection", 10, "x-hop", 5);
    xg_headers_add_copy(h, "x-hop", 5, "1", 1);
    xg_headers_add_copy(h, "te", 2, "trailers", 8);
    xg_headers_add_copy(h, "transfer-encoding", 17, "chunked", 7);
    xg_headers_add_copy(h, "upgrade", 7, "websocket", 9);
    xg_headers_add_copy(h, "x-kept", 6, "yes", 3);
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK(tenv_run(&e, rec_finished, &a, 5));
    CHECK(a.ended && body_is(&a, "hello"));
    char hd[2048];
    h2srv_last_headers(&s, hd, sizeof hd);
    CHECK(strstr(hd, ":authority: h1.example\n") != NULL);
    CHECK(strstr(hd, ":scheme: http\n") != NULL);
    CHECK(strstr(hd, "te: trailers\n") != NULL);
    CHECK(strstr(hd, "x-kept: yes\n") != NULL);
    CHECK(strstr(hd, "\nhost:") == NULL);
    CHECK(strstr(hd, "x-hop") == NULL);
    CHECK(strstr(hd, "connection") == NULL);
    CHECK(strstr(hd, "transfer-encoding") == NULL);
    CHECK(strstr(hd, "upgrade") == NULL);
    rec_dispose(&a);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

#define UP (16L << 20)

typedef struct upl {
    rec *c;
    long sent;
    size_t max_buffered;
} upl;

static void push(upl *u)
{
    static char chunk[16384];
    while (u->sent < UP && !xg_upstream_send_blocked(u->c->r) && !u->c->reset) {
        u->sent += (long)sizeof chunk;
        CHECK_EQ_INT(xg_upstream_send_data(u->c->r, chunk, sizeof chunk, u->sent == UP), 0);
        size_t b = xg_upstream_request_buffered(u->c->r);
        u->max_buffered = b > u->max_buffered ? b : u->max_buffered;
    }
}

static upl *the_upl;

static void upl_ready(void *user)
{
    ((rec *)user)->send_ready++;
    push(the_upl);
}

static const xg_upstream_cbs upl_cbs = {r_headers, r_data, r_trailers, r_reset, upl_ready};

XG_TEST(upload_streams_within_the_send_limit)
{
    h2srv s;
    h2srv_start(&s, 100);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, h2);
    rec a;
    rec_init(&a, &e, "POST", "/echo");
    upl u = {.c = &a};
    the_upl = &u;
    xg_upstream_params p = {.cluster = e.rt, .headers = a.req, .arena = &a.arena, .cb = &upl_cbs, .user = &a};
    CHECK_EQ_INT(xg_upstream_request_start(&p, &a.r, &a.why), 0);
    push(&u); /* staged while connecting, until blocked */
    CHECK(xg_upstream_send_blocked(a.r));
    CHECK(tenv_run(&e, rec_finished, &a, 30));
    CHECK(a.ended && !a.reset);
    CHECK_EQ_INT(u.sent, UP);
    CHECK_EQ_INT(atomic_load(&s.echo_bytes), UP);
    char want[32];
    snprintf(want, sizeof want, "%ld", UP);
    CHECK(body_is(&a, want));
    CHECK(u.max_buffered <= XG_UPSTREAM_SEND_LIMIT + 16384);
    CHECK(a.send_ready > 10); /* it really waited for room, many times */
    rec_dispose(&a);
    tenv_dispose(&e);
    h2srv_stop(&s);
}
