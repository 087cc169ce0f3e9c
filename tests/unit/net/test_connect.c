/* Upstream connects on loopback: success (IPv4 and IPv6), refused, the
 * connect timeout (a listener that never accepts, its backlog full, drops
 * further SYNs), and cancel. TLS connects are in test_tls_ctx.c. */
#include <stdlib.h>

#include "core/error.h"
#include "net/connect.h"
#include "net/net_test.h"
#include "xg_test.h"

typedef struct result {
    bool done;
    int status, calls;
    xg_conn *c;
} result;

static void on_result(xg_conn *c, int status, void *arg)
{
    result *r = arg;
    r->done = true;
    r->status = status;
    r->c = c;
    r->calls++;
}

static int start(xg_loop *l, const struct sockaddr *sa, socklen_t len, double timeout, result *r, xg_connect **req)
{
    xg_connect_opts o = {.timeout = timeout};
    return xg_connect_start(l, sa, len, &o, on_result, r, req);
}

XG_TEST(connect_ok_v4)
{
    xg_loop loop;
    xg_loop_init(&loop, 0);
    int lfd = nt_listen4(8);
    struct sockaddr_in sa = nt_addr4(nt_port_of(lfd));
    result r = {0};
    xg_connect *req;
    CHECK_EQ_INT(start(&loop, (struct sockaddr *)&sa, sizeof(sa), 2, &r, &req), 0);
    CHECK(!r.done); /* never from inside start */
    CHECK(nt_run_until(&loop, &r.done, 2));
    CHECK_EQ_INT(r.status, 0);
    if (CHECK(r.c != NULL)) {
        CHECK(xg_conn_ready(r.c));
        CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&r.c->peer)->sin_port), nt_port_of(lfd));
        int s = accept(lfd, NULL, NULL);
        CHECK_EQ_INT(xg_conn_send(r.c, "hi", 2), 0);
        CHECK_EQ_INT(xg_conn_flush(r.c), 0);
        char b[2];
        CHECK_EQ_INT(nt_read_some(s, b, 2, 1, NULL), 2);
        xg_conn_close(r.c, XG_CLOSE_ABORT);
        close(s);
    }
    nt_run_for(&loop, 0.01);
    CHECK_EQ_INT(r.calls, 1);
    close(lfd);
    xg_loop_dispose(&loop);
}

XG_TEST(connect_ok_v6)
{
    int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 8) != 0) {
        fprintf(stderr, "no IPv6 loopback here; skipped\n");
        if (lfd >= 0)
            close(lfd);
        return;
    }
    sa.sin6_port = htons(nt_port_of(lfd));
    xg_loop loop;
    xg_loop_init(&loop, 0);
    result r = {0};
    xg_connect *req;
    CHECK_EQ_INT(start(&loop, (struct sockaddr *)&sa, sizeof(sa), 2, &r, &req), 0);
    CHECK(nt_run_until(&loop, &r.done, 2));
    CHECK_EQ_INT(r.status, 0);
    if (r.c != NULL)
        xg_conn_close(r.c, XG_CLOSE_ABORT);
    close(lfd);
    xg_loop_dispose(&loop);
}

XG_TEST(connect_refused)
{
    xg_loop loop;
    xg_loop_init(&loop, 0);
    struct sockaddr_in sa = nt_addr4(nt_free_port());
    result r = {0};
    xg_connect *req;
    CHECK_EQ_INT(start(&loop, (struct sockaddr *)&sa, sizeof(sa), 2, &r, &req), 0);
    CHECK(nt_run_until(&loop, &r.done, 2));
    CHECK_EQ_INT(r.status, -ECONNREFUSED);
    CHECK(r.c == NULL);
    xg_loop_dispose(&loop);
}

/* A listener with backlog 0 that never accepts: once its queue is full the
 * kernel drops new SYNs, so a connect hangs until our deadline. */
static int full_listener(int *fillers, int n)
{
    int lfd = nt_listen4(0);
    struct sockaddr_in sa = nt_addr4(nt_port_of(lfd));
    for (int i = 0; i < n; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fillers[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    usleep(50000);
    return lfd;
}

XG_TEST(connect_timeout)
{
    int fillers[4];
    int lfd = full_listener(fillers, 4);
    struct sockaddr_in sa = nt_addr4(nt_port_of(lfd));
    xg_loop loop;
    xg_loop_init(&loop, 0);
    result r = {0};
    xg_connect *req;
    double t0 = ev_time();
    CHECK_EQ_INT(start(&loop, (struct sockaddr *)&sa, sizeof(sa), 0.2, &r, &req), 0);
    CHECK(nt_run_until(&loop, &r.done, 3));
    double took = ev_time() - t0;
    CHECK_EQ_INT(r.status, -ETIMEDOUT);
    CHECK(took >= 0.15 && took < 1.5);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
    xg_loop_dispose(&loop);
}

XG_TEST(connect_cancel)
{
    int fillers[4];
    int lfd = full_listener(fillers, 4);
    struct sockaddr_in sa = nt_addr4(nt_port_of(lfd));
    xg_loop loop;
    xg_loop_init(&loop, 0);
    result r = {0};
    xg_connect *req;
    CHECK_EQ_INT(start(&loop, (struct sockaddr *)&sa, sizeof(sa), 0.1, &r, &req), 0);
    nt_run_for(&loop, 0.02);
    xg_connect_cancel(req);
    nt_run_for(&loop, 0.2);
    CHECK_EQ_INT(r.calls, 0);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
    xg_loop_dispose(&loop);
}
