/* Unit tests for the circuit breakers (src/upstream/breaker.c and their use
 * in the pools): one breaker per cluster name for the whole process, exact
 * limits under contention from several threads, the retry budget formula,
 * and through real pools against a blocking HTTP/1.1 server: max_requests
 * (requests past it fail with UO and the server never sees more), shared by
 * two workers' cluster tables, max_connections (a request waits for a
 * connection; a pool without any may still open one, as in Envoy), and the
 * HIGH priority's own thresholds. */
#include <pthread.h>

#include "upstream/breaker.h"
#include "upstream/h1_server.h"
#include "upstream/upstream_util.h"
#include "xg_test.h"

XG_TEST(one_breaker_per_cluster_name)
{
    uint32_t live = xg_breaker_live();
    xg_breaker *a = xg_breaker_get("alpha"), *a2 = xg_breaker_get("alpha"), *b = xg_breaker_get("beta");
    CHECK(a != NULL && a == a2 && b != NULL && b != a);
    CHECK_EQ_INT(xg_breaker_live(), live + 2);
    CHECK(xg_breaker_try(a, XG_PRIORITY_DEFAULT, XG_BR_REQUESTS, 1));
    CHECK(!xg_breaker_try(a2, XG_PRIORITY_DEFAULT, XG_BR_REQUESTS, 1)); /* the same count */
    CHECK(xg_breaker_try(a, XG_PRIORITY_HIGH, XG_BR_REQUESTS, 1));      /* each priority has its own */
    CHECK(xg_breaker_try(b, XG_PRIORITY_DEFAULT, XG_BR_REQUESTS, 1));
    xg_breaker_inc(a, XG_PRIORITY_DEFAULT, XG_BR_REQUESTS); /* past the limit on purpose */
    CHECK_EQ_INT(xg_breaker_count(a, XG_PRIORITY_DEFAULT, XG_BR_REQUESTS), 2);
    xg_breaker_dec(a, XG_PRIORITY_DEFAULT, XG_BR_REQUESTS);
    xg_breaker_dec(a, XG_PRIORITY_DEFAULT, XG_BR_REQUESTS);
    xg_breaker_dec(a, XG_PRIORITY_HIGH, XG_BR_REQUESTS);
    xg_breaker_dec(b, XG_PRIORITY_DEFAULT, XG_BR_REQUESTS);
    xg_breaker_unref(a);
    CHECK_EQ_INT(xg_breaker_live(), live + 2); /* a2 still holds alpha */
    xg_breaker_unref(a2);
    xg_breaker_unref(b);
    CHECK_EQ_INT(xg_breaker_live(), live);
    /* NULL limits nothing */
    CHECK(xg_breaker_try(NULL, 0, XG_BR_REQUESTS, 0));
    CHECK_EQ_INT(xg_breaker_count(NULL, 0, XG_BR_REQUESTS), 0);
}

XG_TEST(retry_budget_replaces_max_retries)
{
    xg_breaker *b = xg_breaker_get("budget");
    xg_cb_thresholds t = {.max_retries = 3, .retry_budget_percent = 20, .retry_budget_min_concurrency = 3};
    CHECK_EQ_INT(xg_breaker_retry_max(b, 0, &t), 3);
    t.has_retry_budget = true;
    for (int i = 0; i < 40; i++)
        xg_breaker_inc(b, 0, XG_BR_REQUESTS);
    for (int i = 0; i < 10; i++)
        xg_breaker_inc(b, 0, XG_BR_PENDING);
    CHECK_EQ_INT(xg_breaker_retry_max(b, 0, &t), 10); /* 20 % of 50 active and pending */
    t.retry_budget_min_concurrency = 12;
    CHECK_EQ_INT(xg_breaker_retry_max(b, 0, &t), 12); /* never below min_retry_concurrency */
    int taken = 0;
    while (xg_breaker_try_retry(b, 0, &t))
        taken++;
    CHECK_EQ_INT(taken, 12);
    for (int i = 0; i < 12; i++)
        xg_breaker_dec(b, 0, XG_BR_RETRIES);
    for (int i = 0; i < 40; i++)
        xg_breaker_dec(b, 0, XG_BR_REQUESTS);
    for (int i = 0; i < 10; i++)
        xg_breaker_dec(b, 0, XG_BR_PENDING);
    xg_breaker_unref(b);
}

/* --- contention: several threads, one limit --- */

typedef struct race {
    xg_breaker *b;
    atomic_int inside, max_inside, denied;
} race;

static void *racer(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 200000; i++) {
        if (!xg_breaker_try(r->b, 0, XG_BR_REQUESTS, 3)) {
            atomic_fetch_add(&r->denied, 1);
            continue;
        }
        int now = atomic_fetch_add(&r->inside, 1) + 1, seen = atomic_load(&r->max_inside);
        while (now > seen && !atomic_compare_exchange_weak(&r->max_inside, &seen, now))
            ;
        atomic_fetch_sub(&r->inside, 1);
        xg_breaker_dec(r->b, 0, XG_BR_REQUESTS);
    }
    return NULL;
}

XG_TEST(limit_holds_across_threads)
{
    race r = {.b = xg_breaker_get("race")};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, racer, &r);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&r.max_inside) <= 3);
    CHECK(atomic_load(&r.max_inside) >= 1);
    CHECK_EQ_INT(xg_breaker_count(r.b, 0, XG_BR_REQUESTS), 0);
    xg_breaker_unref(r.b);
}

/* --- through the pools --- */

static bool served(void *arg)
{
    void **v = arg;
    return atomic_load(&((h1srv *)v[0])->requests) >= (int)(intptr_t)v[1];
}

static bool all_finished(void *arg)
{
    rec **rs = arg;
    for (; *rs != NULL; rs++)
        if (!rec_finished(*rs))
            return false;
    return true;
}

static void two_requests(xg_cluster *c)
{
    c->thresholds[XG_PRIORITY_DEFAULT].max_requests = 2;
    c->thresholds[XG_PRIORITY_HIGH].max_requests = 1;
}

static int start_prio(rec *c, int prio)
{
    xg_upstream_params p = {.cluster = c->e->rt,
                            .headers = c->req,
                            .end_stream = true,
                            .arena = &c->arena,
                            .cb = &rec_cbs,
                            .user = c,
                            .priority = prio};
    c->start_rc = xg_upstream_request_start(&p, &c->r, &c->why);
    return c->start_rc;
}

XG_TEST(max_requests_overflow_is_uo)
{
    h1srv s;
    h1srv_start(&s);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, two_requests);
    rec q[4];
    for (int i = 0; i < 4; i++) {
        rec_init(&q[i], &e, "GET", "/hold");
        CHECK_EQ_INT(rec_start(&q[i], true), 0); /* all wait for connections */
    }
    rec *all[] = {&q[0], &q[1], &q[2], &q[3], NULL};
    void *two[] = {&s, (void *)(intptr_t)2};
    CHECK(tenv_run(&e, served, two, 5));
    tenv_spin(&e, 0.3); /* the other connections come up: their requests find the limit */
    CHECK_EQ_INT(atomic_load(&s.requests), 2);
    int uo = 0;
    for (int i = 0; i < 4; i++)
        uo += q[i].reset && q[i].reason == XG_UPSTREAM_OVERFLOW && !q[i].reset_started;
    CHECK_EQ_INT(uo, 2);
    CHECK_EQ_INT(e.rt->stats.upstream_rq_pending_overflow, 2);
    CHECK_EQ_INT(xg_breaker_count(e.rt->breaker, 0, XG_BR_REQUESTS), 2);
    /* HIGH has its own limit of 1 */
    rec h1, h2;
    rec_init(&h1, &e, "GET", "/hold");
    rec_init(&h2, &e, "GET", "/hold");
    CHECK_EQ_INT(start_prio(&h1, XG_PRIORITY_HIGH), 0);
    void *three[] = {&s, (void *)(intptr_t)3};
    CHECK(tenv_run(&e, served, three, 5));
    CHECK_EQ_INT(start_prio(&h2, XG_PRIORITY_HIGH), 0);
    tenv_spin(&e, 0.3);
    CHECK(h2.reset && h2.reason == XG_UPSTREAM_OVERFLOW);
    CHECK_EQ_INT(xg_breaker_count(e.rt->breaker, XG_PRIORITY_HIGH, XG_BR_REQUESTS), 1);
    atomic_store(&s.release, 1);
    CHECK(tenv_run(&e, all_finished, all, 5));
    rec *highs[] = {&h1, NULL};
    CHECK(tenv_run(&e, all_finished, highs, 5));
    CHECK(h1.ended && q[0].ended + q[1].ended + q[2].ended + q[3].ended == 2);
    CHECK_EQ_INT(xg_breaker_count(e.rt->breaker, 0, XG_BR_REQUESTS), 0);
    CHECK_EQ_INT(xg_breaker_count(e.rt->breaker, 0, XG_BR_PENDING), 0);
    for (int i = 0; i < 4; i++)
        rec_dispose(&q[i]);
    rec_dispose(&h1);
    rec_dispose(&h2);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

static void one_request(xg_cluster *c)
{
    c->thresholds[XG_PRIORITY_DEFAULT].max_requests = 1;
}

/* Two workers' cluster tables share the count: the limit is process-wide. */
XG_TEST(limits_are_shared_by_workers)
{
    uint32_t live = xg_breaker_live();
    h1srv s;
    h1srv_start(&s);
    tenv w1, w2;
    tenv_init(&w1);
    tenv_init(&w2);
    tenv_local(&w1, s.port, one_request);
    tenv_local(&w2, s.port, one_request);
    CHECK(w1.rt != w2.rt);
    rec a, b;
    rec_init(&a, &w1, "GET", "/hold");
    rec_init(&b, &w2, "GET", "/ok");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    void *one[] = {&s, (void *)(intptr_t)1};
    CHECK(tenv_run(&w1, served, one, 5));
    CHECK_EQ_INT(rec_start(&b, true), 0);
    CHECK(w1.rt->breaker != NULL && w1.rt->breaker == w2.rt->breaker);
    CHECK(tenv_run(&w2, rec_finished, &b, 5));
    CHECK(b.reset && b.reason == XG_UPSTREAM_OVERFLOW);
    atomic_store(&s.release, 1);
    CHECK(tenv_run(&w1, rec_finished, &a, 5) && a.ended);
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&w1);
    tenv_dispose(&w2);
    CHECK_EQ_INT(xg_breaker_live(), live); /* the last worker letting go frees it */
    h1srv_stop(&s);
}

static void one_connection(xg_cluster *c)
{
    c->thresholds[XG_PRIORITY_DEFAULT].max_connections = 1;
}

XG_TEST(max_connections_queues_and_a_pool_may_always_open_one)
{
    h1srv s;
    h1srv_start(&s);
    tenv w1, w2;
    tenv_init(&w1);
    tenv_init(&w2);
    tenv_local(&w1, s.port, one_connection);
    tenv_local(&w2, s.port, one_connection);
    rec a, b, c;
    rec_init(&a, &w1, "GET", "/hold");
    rec_init(&b, &w1, "GET", "/ok");
    rec_init(&c, &w2, "GET", "/ok");
    CHECK_EQ_INT(rec_start(&a, true), 0);
    void *one[] = {&s, (void *)(intptr_t)1};
    CHECK(tenv_run(&w1, served, one, 5));
    CHECK_EQ_INT(rec_start(&b, true), 0); /* waits: the cluster's one connection is busy */
    tenv_spin(&w1, 0.2);
    CHECK(!rec_finished(&b));
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    CHECK(w1.rt->stats.upstream_cx_overflow >= 1);
    CHECK_EQ_INT(rec_start(&c, true), 0); /* w2's pool has no connection: it opens one anyway */
    CHECK(tenv_run(&w2, rec_finished, &c, 5) && c.ended && c.resp->status == 200);
    atomic_store(&s.release, 1);
    rec *ab[] = {&a, &b, NULL};
    CHECK(tenv_run(&w1, all_finished, ab, 5));
    CHECK(a.ended && b.ended && body_is(&b, "hello"));
    CHECK_EQ_INT(atomic_load(&s.conns), 2); /* b reused a's connection */
    xg_pool *p = tenv_pool(&w1);
    CHECK(p != NULL && p->cx_total == 1);
    char head[4096];
    h1srv_last_head(&s, head, sizeof head);
    CHECK(strncmp(head, "GET /ok", 7) == 0);
    rec_dispose(&a);
    rec_dispose(&b);
    rec_dispose(&c);
    tenv_dispose(&w1);
    tenv_dispose(&w2);
    h1srv_stop(&s);
}
