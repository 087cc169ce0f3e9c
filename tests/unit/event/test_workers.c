/* Unit tests for worker threads (src/event/workers.c): closures run on their
 * own worker's thread, stop runs what was accepted and joins cleanly. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/error.h"
#include "event/workers.h"
#include "xg_test.h"

#define NWORKERS 4
#define PER_WORKER 100

typedef struct seen {
    xg_worker *expect;
    int runs;
    int wrong_worker;
    pthread_t thread;
    int threads_seen; /* how many distinct thread ids this worker's closures saw */
} seen;

static void record(void *arg)
{
    seen *s = arg;
    if (xg_worker_self() != s->expect)
        s->wrong_worker++;
    if (s->runs == 0 || !pthread_equal(s->thread, pthread_self()))
        s->threads_seen++;
    s->thread = pthread_self();
    s->runs++;
}

XG_TEST(closures_run_on_their_own_worker_thread)
{
    xg_workers *ws = NULL;
    seen s[NWORKERS] = {0};
    if (!CHECK_EQ_INT(xg_workers_new(NWORKERS, &ws), 0))
        return;
    CHECK_EQ_INT(xg_workers_count(ws), NWORKERS);
    CHECK_EQ_INT(xg_workers_start(ws), 0);
    for (unsigned i = 0; i < NWORKERS; i++) {
        s[i].expect = xg_workers_get(ws, i);
        CHECK_EQ_INT(xg_worker_id(s[i].expect), i);
        for (int k = 0; k < PER_WORKER; k++)
            CHECK_EQ_INT(xg_worker_post(s[i].expect, record, &s[i]), 0);
    }
    /* stop runs every accepted closure before joining, so the counts are final after it */
    xg_workers_stop(ws);
    for (unsigned i = 0; i < NWORKERS; i++) {
        CHECK_EQ_INT(s[i].runs, PER_WORKER);
        CHECK_EQ_INT(s[i].wrong_worker, 0);
        CHECK_EQ_INT(s[i].threads_seen, 1);
        CHECK(!pthread_equal(s[i].thread, pthread_self()));
        for (unsigned j = 0; j < i; j++)
            CHECK(!pthread_equal(s[i].thread, s[j].thread));
    }
    CHECK(xg_worker_self() == NULL);
    xg_workers_free(ws);
}

XG_TEST(post_after_stop_is_refused_and_caller_keeps_ownership)
{
    xg_workers *ws = NULL;
    seen s = {0};
    if (!CHECK_EQ_INT(xg_workers_new(1, &ws), 0))
        return;
    CHECK_EQ_INT(xg_workers_start(ws), 0);
    xg_workers_stop(ws);
    xg_workers_stop(ws); /* idempotent */
    CHECK_EQ_INT(xg_worker_post(xg_workers_get(ws, 0), record, &s), XG_EAGAIN);
    xg_workers_free(ws);
    CHECK_EQ_INT(s.runs, 0);
}

XG_TEST(zero_workers_is_invalid)
{
    xg_workers *ws = NULL;
    CHECK_EQ_INT(xg_workers_new(0, &ws), XG_EINVAL);
    CHECK(ws == NULL);
}

XG_TEST(free_without_start_still_runs_accepted_closures)
{
    xg_workers *ws = NULL;
    seen s = {0};
    if (!CHECK_EQ_INT(xg_workers_new(2, &ws), 0))
        return;
    s.expect = NULL; /* no worker thread: runs on the freeing thread */
    CHECK_EQ_INT(xg_worker_post(xg_workers_get(ws, 1), record, &s), 0);
    xg_workers_free(ws);
    CHECK_EQ_INT(s.runs, 1);
}

typedef struct poster {
    xg_worker *target;
    int *counter; /* touched only on the target worker's thread */
    int failures;
} poster;

static void bump(void *arg)
{
    (*(int *)arg)++;
}

static void *post_many(void *arg)
{
    poster *p = arg;
    for (int i = 0; i < 1000; i++)
        if (xg_worker_post(p->target, bump, p->counter) != 0)
            p->failures++;
    return NULL;
}

XG_TEST(many_threads_post_to_one_worker)
{
    xg_workers *ws = NULL;
    int counter = 0;
    pthread_t t[4];
    poster p[4];
    if (!CHECK_EQ_INT(xg_workers_new(1, &ws), 0))
        return;
    CHECK_EQ_INT(xg_workers_start(ws), 0);
    for (int i = 0; i < 4; i++) {
        p[i] = (poster){.target = xg_workers_get(ws, 0), .counter = &counter};
        CHECK_EQ_INT(pthread_create(&t[i], NULL, post_many, &p[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(p[i].failures, 0);
    }
    xg_workers_stop(ws);
    CHECK_EQ_INT(counter, 4000);
    xg_workers_free(ws);
}

static void post_to_next(void *arg);

typedef struct relay {
    xg_workers *ws;
    int hops;
    int wrong_thread;
    int done; /* 1 when finished, -1 when a post failed; atomic: polled by the test thread */
} relay;

/* Each hop runs on worker hops % n and posts the next hop to the next worker. */
static void post_to_next(void *arg)
{
    relay *r = arg;
    unsigned n = xg_workers_count(r->ws);
    if (xg_worker_self() != xg_workers_get(r->ws, (unsigned)r->hops % n))
        r->wrong_thread++;
    if (++r->hops == 50) {
        __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
        return;
    }
    if (xg_worker_post(xg_workers_get(r->ws, (unsigned)r->hops % n), post_to_next, r) != 0)
        __atomic_store_n(&r->done, -1, __ATOMIC_RELEASE);
}

static void wait_done(relay *r)
{
    /* The relay finishes on its own; poll with a bound instead of a condition variable. */
    for (int i = 0; i < 5000 && __atomic_load_n(&r->done, __ATOMIC_ACQUIRE) == 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

XG_TEST(workers_post_to_each_other)
{
    xg_workers *ws = NULL;
    if (!CHECK_EQ_INT(xg_workers_new(3, &ws), 0))
        return;
    relay r = {.ws = ws};
    CHECK_EQ_INT(xg_workers_start(ws), 0);
    CHECK_EQ_INT(xg_worker_post(xg_workers_get(ws, 0), post_to_next, &r), 0);
    wait_done(&r);
    xg_workers_stop(ws);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.hops, 50);
    CHECK_EQ_INT(r.wrong_thread, 0);
    xg_workers_free(ws);
}
