/* Unit tests for the HTTP/1.1 side of the upstream pools (src/upstream/):
 * against a real blocking HTTP/1.1 server thread on 127.0.0.1 they check
 * keep-alive reuse, Connection: close, resets before and after the response
 * started, connect refused and connect timeout (UF), the idle timeout,
 * max_requests_per_connection, concurrency (a connection per request),
 * cancel, overflow (UO), no healthy host (UH), draining a removed host, the
 * hop-by-hop rules on the wire, and bounded memory both ways while 64 MiB
 * bodies stream through. */
#include <errno.h>
#include <fcntl.h>

#include "core/bufpool.h"
#include "upstream/h1_server.h"
#include "upstream/upstream_util.h"
#include "xg_test.h"

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
    return atomic_load(&((h1srv *)arg)->requests) >= 1;
}

static bool three_requests(void *arg)
{
    return atomic_load(&((h1srv *)arg)->requests) >= 3;
}

/* One GET to path; returns after it finished (or 5 s). */
static void get(tenv *e, rec *c, const char *path)
{
    rec_init(c, e, "GET", path);
    if (rec_start(c, true) == 0)
        tenv_run(e, rec_finished, c, 5);
}

XG_TEST(keep_alive_connection_is_reused)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec a, b;
    get(&e, &a, "/ok");
    CHECK(a.ended && !a.reset && a.resp && a.resp->status == 200 && body_is(&a, "hello"));
    get(&e, &b, "/ok");
    CHECK(b.ended && b.resp && b.resp->status == 200 && body_is(&b, "hello"));
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    CHECK_EQ_INT(atomic_load(&s.requests), 2);
    xg_pool *p = tenv_pool(&e);
    CHECK(p != NULL && p->cx_total == 1 && p->ready.n == 1);
    CHECK_EQ_INT(e.rt->stats.upstream_rq_total, 2);
    CHECK_EQ_INT(e.rt->sets[0].hosts[0]->active_requests, 0);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", s.port);
    CHECK_STR(a.end_host, want);                  /* the host is known to the terminal callback... */
    CHECK(xg_upstream_request_host(a.r) == NULL); /* ...and released after it */
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(connection_close_means_a_new_connection)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec a, b;
    get(&e, &a, "/close");
    CHECK(a.ended && a.resp && a.resp->status == 200 && body_is(&a, "bye"));
    /* The response said close: no connection is idle in the pool. */
    tenv_spin(&e, 0.02);
    CHECK_EQ_INT(tenv_pool(&e)->ready.n, 0);
    get(&e, &b, "/ok");
    CHECK(b.ended && b.resp && b.resp->status == 200);
    CHECK_EQ_INT(atomic_load(&s.conns), 2);
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(upstream_closing_mid_response_is_uc)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec a, b, c;
    get(&e, &a, "/partial");
    CHECK(a.reset && !a.ended && a.reset_started);
    CHECK_EQ_INT(a.reason, XG_UPSTREAM_CONN_TERMINATION);
    CHECK_EQ_INT(xg_upstream_reset_flag(a.reason), XG_RF_UC);
    CHECK_STR(xg_upstream_reset_detail(a.reason, true),
              "upstream_reset_after_response_started{connection_termination}");
    CHECK_EQ_INT(a.received, 10);
    get(&e, &b, "/drop");
    CHECK(b.reset && !b.reset_started && b.resp == NULL);
    CHECK_EQ_INT(b.reason, XG_UPSTREAM_CONN_TERMINATION);
    CHECK_EQ_INT(xg_upstream_reset_status(b.reason), 503);
    /* The pool recovers: a fresh connection serves the next request. */
    get(&e, &c, "/ok");
    CHECK(c.ended && c.resp && c.resp->status == 200);
    CHECK_EQ_INT(atomic_load(&s.conns), 3);
    rec_dispose(&a);
    rec_dispose(&b);
    rec_dispose(&c);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&in, sizeof in);
    socklen_t len = sizeof in;
    getsockname(fd, (struct sockaddr *)&in, &len);
    close(fd);
    return ntohs(in.sin_port);
}

XG_TEST(connect_refused_is_uf_and_fails_the_queue)
{
    tenv e;
    tenv_init(&e);
    tenv_local(&e, closed_port(), NULL);
    rec a, b;
    rec_init(&a, &e, "GET", "/ok");
    rec_init(&b, &e, "GET", "/ok");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK_EQ_INT(rec_start(&b, true), 0);
    CHECK(!a.reset && !b.reset); /* never from inside start */
    rec *both[] = {&a, &b, NULL};
    CHECK(tenv_run(&e, all_finished, both, 5));
    CHECK(a.reset && b.reset && !a.reset_started);
    CHECK_EQ_INT(a.reason, XG_UPSTREAM_CONNECT_FAILURE);
    CHECK_EQ_INT(b.reason, XG_UPSTREAM_CONNECT_FAILURE);
    CHECK_EQ_INT(xg_upstream_reset_flag(a.reason), XG_RF_UF);
    CHECK(strncmp(a.end_host, "127.0.0.1:", 10) == 0); /* the access log names the failed host */
    CHECK(e.rt->stats.upstream_cx_connect_fail >= 1);
    CHECK_EQ_INT(e.rt->sets[0].hosts[0]->active_requests, 0);
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
}

/* A listener whose accept queue is full: further SYNs are dropped, so a
 * connect to it hangs until its timeout. The fillers stay open. */
static uint16_t blackhole(int *lfd, int fillers[4])
{
    *lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(*lfd, (struct sockaddr *)&in, sizeof in);
    listen(*lfd, 0);
    socklen_t len = sizeof in;
    getsockname(*lfd, (struct sockaddr *)&in, &len);
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&in, sizeof in);
    }
    usleep(50000);
    return ntohs(in.sin_port);
}

static void fast_connect_timeout(xg_cluster *c)
{
    c->connect_timeout_ms = 200;
}

XG_TEST(connect_timeout_is_uf_with_its_own_detail)
{
    int lfd, fillers[4];
    uint16_t port = blackhole(&lfd, fillers);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, port, fast_connect_timeout);
    rec a;
    rec_init(&a, &e, "GET", "/ok");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    ev_tstamp t0 = ev_time();
    CHECK(tenv_run(&e, rec_finished, &a, 5));
    double took = ev_time() - t0;
    CHECK(a.reset && a.reason == XG_UPSTREAM_CONNECT_TIMEOUT);
    CHECK(took >= 0.15 && took < 2.0);
    CHECK_EQ_INT(xg_upstream_reset_flag(a.reason), XG_RF_UF);
    CHECK_STR(xg_upstream_reset_detail(a.reason, false), "upstream_reset_before_response_started{connection_timeout}");
    CHECK_EQ_INT(e.rt->stats.upstream_cx_connect_timeout, 1);
    rec_dispose(&a);
    tenv_dispose(&e);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
}

static void short_idle(xg_cluster *c)
{
    c->http.idle_timeout_ms = 1000; /* long enough that a loaded machine's stall does not reach it early */
}

static bool idle_closed(void *arg)
{
    return ((tenv *)arg)->rt->stats.upstream_cx_idle_timeout == 1;
}

static bool no_open_conns(void *arg)
{
    return atomic_load(&((h1srv *)arg)->open_conns) == 0;
}

XG_TEST(idle_timeout_closes_idle_connections)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, short_idle);
    rec a;
    get(&e, &a, "/ok");
    CHECK(a.ended);
    CHECK_EQ_INT(tenv_pool(&e)->ready.n, 1);
    tenv_spin(&e, 0.1);
    CHECK_EQ_INT(tenv_pool(&e)->ready.n, 1); /* not before its time */
    CHECK(tenv_run(&e, idle_closed, &e, 3));
    CHECK_EQ_INT(tenv_pool(&e)->ready.n, 0);
    CHECK(tenv_run(&e, no_open_conns, &s, 2));
    CHECK_EQ_INT(atomic_load(&s.conns_ended), 1);
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

static void two_per_conn(xg_cluster *c)
{
    c->http.max_requests_per_connection = 2;
}

XG_TEST(max_requests_per_connection)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, two_per_conn);
    rec r[3];
    for (int i = 0; i < 3; i++) {
        get(&e, &r[i], "/ok");
        CHECK(r[i].ended && r[i].resp && r[i].resp->status == 200);
    }
    CHECK_EQ_INT(atomic_load(&s.conns), 2);
    CHECK_EQ_INT(e.rt->stats.upstream_cx_max_requests, 1);
    for (int i = 0; i < 3; i++)
        rec_dispose(&r[i]);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(concurrent_requests_get_a_connection_each_then_reuse_them)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec r[4];
    rec *all[] = {&r[0], &r[1], &r[2], NULL};
    for (int i = 0; i < 3; i++) {
        rec_init(&r[i], &e, "GET", "/hold");
        CHECK_EQ_INT(rec_start(&r[i], true), 0);
    }
    CHECK(tenv_run(&e, three_requests, &s, 5));
    CHECK_EQ_INT(atomic_load(&s.conns), 3);
    CHECK(!all_finished(all));
    atomic_store(&s.release, 1);
    CHECK(tenv_run(&e, all_finished, all, 5));
    for (int i = 0; i < 3; i++)
        CHECK(r[i].ended && body_is(&r[i], "held"));
    CHECK_EQ_INT(tenv_pool(&e)->ready.n, 3);
    get(&e, &r[3], "/ok");
    CHECK(r[3].ended);
    CHECK_EQ_INT(atomic_load(&s.conns), 3);
    for (int i = 0; i < 4; i++)
        rec_dispose(&r[i]);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

static bool ended_conns(void *arg)
{
    return atomic_load(&((h1srv *)arg)->conns_ended) >= 1;
}

XG_TEST(cancel_closes_a_half_done_http1_exchange)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec a, b;
    rec_init(&a, &e, "GET", "/hold");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK(tenv_run(&e, served_one, &s, 5));
    xg_upstream_cancel(a.r);
    xg_upstream_cancel(a.r); /* idempotent */
    CHECK(xg_upstream_request_host(a.r) == NULL);
    atomic_store(&s.release, 1);
    CHECK(tenv_run(&e, ended_conns, &s, 2));
    CHECK(!a.ended && !a.reset); /* no callback after cancel */
    CHECK_EQ_INT(e.rt->stats.upstream_rq_tx_reset, 1);
    rec_dispose(&a); /* the router may free the request right after cancel */
    get(&e, &b, "/ok");
    CHECK(b.ended && b.resp->status == 200);
    CHECK_EQ_INT(atomic_load(&s.conns), 2);
    rec_dispose(&b);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

static void one_conn_one_pending(xg_cluster *c)
{
    c->thresholds[XG_PRIORITY_DEFAULT].max_connections = 1;
    c->thresholds[XG_PRIORITY_DEFAULT].max_pending_requests = 1;
}

/* healthy_panic_threshold 0: an unhealthy-only cluster has no host. */
static void no_panic(xg_cluster *c)
{
    c->lb.healthy_panic_threshold = 0;
}

XG_TEST(overflow_is_uo_and_no_healthy_host_is_uh)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, one_conn_one_pending);
    rec a, b, c;
    rec_init(&a, &e, "GET", "/hold");
    rec_init(&b, &e, "GET", "/ok");
    rec_init(&c, &e, "GET", "/ok");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK(tenv_run(&e, served_one, &s, 2)); /* a holds the only connection */
    CHECK_EQ_INT(rec_start(&b, true), 0);   /* b waits: the one pending slot */
    CHECK_EQ_INT(rec_start(&c, true), XG_EAGAIN);
    CHECK_EQ_INT(c.why, XG_UPSTREAM_OVERFLOW);
    CHECK_EQ_INT(xg_upstream_reset_flag(c.why), XG_RF_UO);
    CHECK_EQ_INT(e.rt->stats.upstream_rq_pending_overflow, 1);
    atomic_store(&s.release, 1);
    rec *ab[] = {&a, &b, NULL};
    CHECK(tenv_run(&e, all_finished, ab, 5));
    CHECK(a.ended && b.ended && body_is(&b, "hello"));
    CHECK_EQ_INT(atomic_load(&s.conns), 1); /* b waited for a's connection */

    tep sick = {"127.0.0.1", s.port, 1, XG_HEALTH_UNHEALTHY, 0};
    tenv_cluster(&e, &sick, 1, no_panic); /* with panic mode (Envoy's default) it would be used */
    rec d;
    rec_init(&d, &e, "GET", "/ok");
    CHECK_EQ_INT(rec_start(&d, true), XG_ENOENT);
    CHECK_EQ_INT(d.why, XG_UPSTREAM_NO_HEALTHY_HOST);
    CHECK_EQ_INT(xg_upstream_reset_flag(d.why), XG_RF_UH);
    CHECK_STR(xg_upstream_reset_detail(d.why, false), "no_healthy_upstream");
    rec_dispose(&a);
    rec_dispose(&b);
    rec_dispose(&c);
    rec_dispose(&d);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(removed_host_drains_its_pool)
{
    h1srv s, t;
    h1srv_start(&s);
    h1srv_start(&t);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec a, b;
    get(&e, &a, "/ok");
    CHECK(a.ended && tenv_pool(&e)->ready.n == 1);
    /* An update replaces the host: its idle connection closes. */
    tenv_local(&e, t.port, NULL);
    CHECK(tenv_run(&e, ended_conns, &s, 2));
    get(&e, &b, "/ok");
    CHECK(b.ended && b.resp->status == 200);
    CHECK_EQ_INT(atomic_load(&t.conns), 1);
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h1srv_stop(&s);
    h1srv_stop(&t);
}

XG_TEST(hop_by_hop_headers_never_reach_the_upstream)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec a;
    rec_init(&a, &e, "GET", "/ok");
    xg_headers *h = a.req;
    xg_headers_add_copy(h, "connection", 10, "keep-alive, x-secret", 20);
    xg_headers_add_copy(h, "keep-alive", 10, "timeout=5", 9);
    xg_headers_add_copy(h, "proxy-connection", 16, "keep-alive", 10);
    xg_headers_add_copy(h, "x-secret", 8, "1", 1);
    xg_headers_add_copy(h, "te", 2, "gzip, trailers", 14);
    xg_headers_add_copy(h, "upgrade", 7, "h2c", 3);
    xg_headers_add_copy(h, "x-kept", 6, "yes", 3);
    xg_headers_remove_id(h, XG_HDR_UPGRADE); /* the downstream side let no upgrade through */
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK(tenv_run(&e, rec_finished, &a, 5));
    char head[4096];
    h1srv_last_head(&s, head, sizeof head);
    CHECK(strstr(head, "GET /ok HTTP/1.1\r\n") == head);
    CHECK(strstr(head, "host: example.com\r\n") != NULL);
    CHECK(strstr(head, "x-kept: yes\r\n") != NULL);
    /* (te: the HTTP/1 codec writes no TE at all; "te: trailers" reaches HTTP/2 upstreams.) */
    CHECK(strcasestr(head, "gzip") == NULL);
    CHECK(strcasestr(head, "keep-alive") == NULL);
    CHECK(strcasestr(head, "x-secret") == NULL);
    CHECK(strcasestr(head, "proxy-connection") == NULL);
    CHECK(strcasestr(head, "connection:") == NULL);
    CHECK(strcasestr(head, "upgrade") == NULL);
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

/* --- the on_host hook (the router's auto_host_rewrite) --- */

static void named_endpoint(xg_cluster *c)
{
    ((xg_lb_endpoint *)c->load_assignment->localities[0].endpoints)->hostname = "backend.internal";
}

typedef struct hooked {
    int calls;
    int ret;
    const xg_host *host;
} hooked;

static hooked hook_state;

static int to_hostname(void *user, const xg_host *h, xg_headers *req)
{
    hook_state.calls++;
    hook_state.host = h;
    if (hook_state.ret != 0)
        return hook_state.ret;
    return h->hostname != NULL ? xg_headers_set_field(req, &req->authority, h->hostname, strlen(h->hostname)) : 0;
}

static int start_hooked(rec *c)
{
    xg_upstream_params p = {.cluster = c->e->rt,
                            .headers = c->req,
                            .end_stream = true,
                            .arena = &c->arena,
                            .cb = &rec_cbs,
                            .user = c,
                            .on_host = to_hostname};
    c->start_rc = xg_upstream_request_start(&p, &c->r, &c->why);
    return c->start_rc;
}

XG_TEST(on_host_edits_the_headers_before_they_leave)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, named_endpoint);
    memset(&hook_state, 0, sizeof hook_state);
    rec a, b, c;
    char head[4096];
    /* A new connection, then an idle keep-alive one (the headers go out
     * inside start): both carry the edit. */
    rec *two[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        rec *x = two[i];
        rec_init(x, &e, "GET", "/ok");
        CHECK_EQ_INT(start_hooked(x), 0);
        CHECK(tenv_run(&e, rec_finished, x, 5));
        CHECK(x->ended && x->resp && x->resp->status == 200);
        h1srv_last_head(&s, head, sizeof head);
        CHECK(strstr(head, "host: backend.internal\r\n") != NULL);
        CHECK(strstr(head, "example.com") == NULL);
    }
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    CHECK_EQ_INT(hook_state.calls, 2);
    CHECK(hook_state.host == e.rt->sets[0].hosts[0]);
    /* A failing hook fails the start with its code; no callback, nothing held. */
    hook_state.ret = XG_ENOMEM;
    rec_init(&c, &e, "GET", "/ok");
    CHECK_EQ_INT(start_hooked(&c), XG_ENOMEM);
    tenv_spin(&e, 0.05);
    CHECK(!c.ended && !c.reset);
    CHECK_EQ_INT(e.rt->sets[0].hosts[0]->active_requests, 0);
    CHECK_EQ_INT(atomic_load(&s.requests), 2);
    rec_dispose(&a);
    rec_dispose(&b);
    rec_dispose(&c);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

/* --- 64 MiB both ways --- */

#define BIG (64L << 20)

typedef struct uploader {
    rec *c;
    long sent;
    size_t max_buffered;
    size_t max_blocks;
    uint32_t sum;
    ev_idle idle;
    tenv *e;
} uploader;

/* The "downstream": writes 16 KiB chunks while the upstream is not blocked. */
static void pump_upload(uploader *u)
{
    static char chunk[16384];
    while (u->sent < BIG && !xg_upstream_send_blocked(u->c->r) && !u->c->reset) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = (char)((u->sent + (long)i) * 7);
        for (size_t i = 0; i < sizeof chunk; i++)
            u->sum = u->sum * 31 + (uint8_t)chunk[i];
        u->sent += (long)sizeof chunk;
        CHECK_EQ_INT(xg_upstream_send_data(u->c->r, chunk, sizeof chunk, u->sent == BIG), 0);
        size_t b = xg_upstream_request_buffered(u->c->r);
        u->max_buffered = b > u->max_buffered ? b : u->max_buffered;
        size_t blocks = xg_bufpool_thread_stats().in_use;
        u->max_blocks = blocks > u->max_blocks ? blocks : u->max_blocks;
    }
}

static void on_idle(struct ev_loop *ev, ev_idle *w, int revents)
{
    uploader *u = w->data;
    pump_upload(u);
    if (u->sent == BIG || u->c->reset || xg_upstream_send_blocked(u->c->r))
        ev_idle_stop(ev, w);
}

static void up_ready(void *user)
{
    rec *c = user;
    uploader *u = (uploader *)c->body.data; /* stashed below */
    c->send_ready++;
    ev_idle_start(u->e->loop.ev, &u->idle);
}

static const xg_upstream_cbs up_cbs = {r_headers, r_data, r_trailers, r_reset, up_ready};

XG_TEST(upload_64mib_streams_with_bounded_buffers)
{
    h1srv s;
    h1srv_start(&s);
    atomic_store(&s.slow_read, 20);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec a;
    rec_init(&a, &e, "POST", "/echo");
    uploader u = {.c = &a, .e = &e};
    ev_idle_init(&u.idle, on_idle);
    u.idle.data = &u;
    a.keep_body = false;
    a.body.data = (char *)&u; /* the callback's way back to u (never appended: keep_body is off) */
    xg_upstream_params p = {.cluster = e.rt, .headers = a.req, .arena = &a.arena, .cb = &up_cbs, .user = &a};
    CHECK_EQ_INT(xg_upstream_request_start(&p, &a.r, &a.why), 0);
    ev_idle_start(e.loop.ev, &u.idle);
    CHECK(tenv_run(&e, rec_finished, &a, 60));
    a.body.data = NULL;
    CHECK(a.ended && a.resp && a.resp->status == 200);
    CHECK_EQ_INT(u.sent, BIG);
    CHECK_EQ_INT(atomic_load(&s.echo_bytes), BIG);
    char want[64];
    snprintf(want, sizeof want, "%ld %u", BIG, u.sum);
    xg_buf_dispose(&a.body);
    CHECK(a.received == strlen(want));
    /* Never more than about one send limit held for the request, and only a
     * handful of pool blocks in use however large the body. The codec counts
     * what it queued: one 16 KiB chunk past a level just under the limit,
     * plus that chunk's framing (the body is chunked) and the request head. */
    if (!CHECK(u.max_buffered <= XG_UPSTREAM_SEND_LIMIT + 16384 + 512))
        fprintf(stderr, "  max buffered %zu\n", u.max_buffered);
    CHECK(u.max_blocks <= 8);
    CHECK(a.send_ready > 10); /* the slow reader really pushed back */
    char head[4096];
    h1srv_last_head(&s, head, sizeof head);
    CHECK(strstr(head, "transfer-encoding: chunked\r\n") != NULL); /* length unknown */
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

typedef struct slow_reader {
    rec *c;
    ev_timer t;
} slow_reader;

/* The "downstream" takes the delivered bytes a little later each time. */
static void on_drain_tick(struct ev_loop *ev, ev_timer *w, int revents)
{
    slow_reader *sr = w->data;
    if (sr->c->unconsumed > 0 && !sr->c->reset) {
        size_t n = sr->c->unconsumed;
        sr->c->unconsumed = 0;
        xg_upstream_consumed(sr->c->r, n);
    }
}

XG_TEST(download_64mib_streams_with_bounded_buffers)
{
    h1srv s;
    h1srv_start(&s);
    atomic_store(&s.big_len, BIG);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec a;
    rec_init(&a, &e, "GET", "/big");
    a.consume_now = false;
    a.keep_body = false;
    slow_reader sr = {.c = &a};
    ev_timer_init(&sr.t, on_drain_tick, 0.0005, 0.0005);
    sr.t.data = &sr;
    ev_timer_start(e.loop.ev, &sr.t);
    CHECK_EQ_INT(rec_start(&a, true), 0);
    CHECK(tenv_run(&e, rec_finished, &a, 60));
    ev_timer_stop(e.loop.ev, &sr.t);
    CHECK(a.ended && !a.reset);
    CHECK_EQ_INT(a.received, BIG);
    CHECK(a.pattern_ok);
    /* The codec never delivers more than its 64 KiB window ahead of the reader. */
    CHECK(a.max_unconsumed <= 65536);
    CHECK(xg_bufpool_thread_stats().in_use <= 4);
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

/* Three requests in flight at once on a pool that keeps max_idle idle
 * connections; peak_window < 0 forgets the peak at once. */
static void three_at_once(tenv *e, h1srv *s, rec r[3], uint32_t max_idle, double peak_window)
{
    rec *all[] = {&r[0], &r[1], &r[2], NULL};
    for (int i = 0; i < 3; i++) {
        rec_init(&r[i], e, "GET", "/hold");
        CHECK_EQ_INT(rec_start(&r[i], true), 0);
    }
    tenv_pool(e)->max_idle = max_idle;
    tenv_pool(e)->peak_window = peak_window;
    atomic_store(&s->release, 1);
    CHECK(tenv_run(e, all_finished, all, 5));
    CHECK_EQ_INT(atomic_load(&s->conns), 3);
}

XG_TEST(idle_connections_beyond_max_idle_close)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec r[3];
    three_at_once(&e, &s, r, 2, -1);
    CHECK_EQ_INT(tenv_pool(&e)->ready.n, 2);
    CHECK(tenv_run(&e, ended_conns, &s, 2)); /* the third was closed */
    for (int i = 0; i < 3; i++)
        rec_dispose(&r[i]);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

/* Within the window the pool keeps as many idle connections as were in use
 * at once, even beyond max_idle: the next burst finds them open. */
XG_TEST(idle_connections_up_to_the_recent_peak_stay)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, NULL);
    rec r[3];
    three_at_once(&e, &s, r, 2, XG_POOL_PEAK_WINDOW);
    CHECK_EQ_INT(tenv_pool(&e)->ready.n, 3);
    CHECK_EQ_INT(tenv_pool(&e)->peak_in_use, 3);
    rec again[3];
    three_at_once(&e, &s, again, 2, XG_POOL_PEAK_WINDOW);
    CHECK_EQ_INT(tenv_pool(&e)->ready.n, 3); /* the same three connections served the second burst */
    for (int i = 0; i < 3; i++) {
        rec_dispose(&r[i]);
        rec_dispose(&again[i]);
    }
    tenv_dispose(&e);
    h1srv_stop(&s);
}

static void to_h2(xg_cluster *c)
{
    c->http.protocol = XG_UPSTREAM_HTTP2;
}

XG_TEST(an_update_that_keeps_the_endpoint_keeps_its_connections)
{
    h1srv s, t;
    h1srv_start(&s);
    h1srv_start(&t);
    tenv e;
    tenv_init(&e);
    tep one[] = {{"127.0.0.1", s.port, 1, XG_HEALTH_HEALTHY, 0}};
    tenv_cluster(&e, one, 1, NULL);
    rec a, b;
    get(&e, &a, "/ok");
    xg_pool *p = tenv_pool(&e);
    CHECK(a.ended && p->ready.n == 1);
    /* A new config generation: the endpoint stays (with a new weight), another
     * joins. The warm connection survives and serves the next request. */
    tep two[] = {{"127.0.0.1", s.port, 3, XG_HEALTH_HEALTHY, 0}, {"127.0.0.1", t.port, 1, XG_HEALTH_DRAINING, 0}};
    tenv_cluster(&e, two, 2, NULL);
    CHECK(tenv_pool(&e) == p && p->ready.n == 1 && !p->draining);
    get(&e, &b, "/ok");
    CHECK(b.ended && b.resp->status == 200);
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    CHECK_EQ_INT(atomic_load(&t.conns), 0);
    /* A protocol change (HTTP/1.1 -> HTTP/2) makes new pools: the old one drains. */
    tenv_cluster(&e, two, 2, to_h2);
    CHECK(tenv_run(&e, ended_conns, &s, 2));
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h1srv_stop(&s);
    h1srv_stop(&t);
}
