/* Unit tests for the loop wrapper (src/event/loop.c): cross-thread posts,
 * stop, and deferred frees that run only after the current pass. */
#include <pthread.h>
#include <stdlib.h>

#include "core/error.h"
#include "event/loop.h"
#include "xg_test.h"

static void count(void *arg)
{
    (*(int *)arg)++;
}

XG_TEST(stop_before_run_returns_after_queued_closures)
{
    xg_loop l;
    int n = 0;
    if (!CHECK_EQ_INT(xg_loop_init(&l, 0), 0))
        return;
    CHECK_EQ_INT(xg_loop_post(&l, count, &n), 0);
    CHECK_EQ_INT(xg_loop_post(&l, count, &n), 0);
    xg_loop_stop(&l);
    xg_loop_run(&l);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(xg_loop_post(&l, count, &n), XG_EAGAIN);
    xg_loop_dispose(&l);
    CHECK_EQ_INT(n, 2);
}

typedef struct remote {
    xg_loop *loop;
    int n;
} remote;

static void *post_then_stop(void *arg)
{
    remote *r = arg;
    for (int i = 0; i < 500; i++)
        xg_loop_post(r->loop, count, &r->n);
    xg_loop_stop(r->loop);
    return NULL;
}

XG_TEST(another_thread_posts_and_stops)
{
    xg_loop l;
    pthread_t t;
    if (!CHECK_EQ_INT(xg_loop_init(&l, 0), 0))
        return;
    remote r = {.loop = &l};
    CHECK_EQ_INT(pthread_create(&t, NULL, post_then_stop, &r), 0);
    xg_loop_run(&l);
    pthread_join(t, NULL);
    CHECK_EQ_INT(r.n, 500);
    xg_loop_dispose(&l);
}

typedef struct victim {
    xg_deferred d; /* first member */
    int *freed;
} victim;

static void free_victim(xg_deferred *d)
{
    victim *v = (victim *)d;
    (*v->freed)++;
    free(v);
}

typedef struct defer_case {
    xg_loop *loop;
    int freed;
    int freed_during_cb; /* must stay 0: nothing is freed inside the callback that defers it */
} defer_case;

static void on_timer(struct ev_loop *ev, ev_timer *t, int revents)
{
    defer_case *c = t->data;
    for (int i = 0; i < 3; i++) {
        victim *v = malloc(sizeof(*v));
        v->freed = &c->freed;
        xg_loop_defer(c->loop, &v->d, free_victim);
    }
    c->freed_during_cb = c->freed;
}

static void check_then_stop(void *arg)
{
    xg_loop_stop(((defer_case *)arg)->loop);
}

static void on_second_timer(struct ev_loop *ev, ev_timer *t, int revents)
{
    defer_case *c = t->data;
    if (!CHECK_EQ_INT(c->freed, 3))
        c->freed = -100;
    xg_loop_post(c->loop, check_then_stop, c);
}

XG_TEST(deferred_frees_run_after_the_pass)
{
    xg_loop l;
    ev_timer t1, t2;
    if (!CHECK_EQ_INT(xg_loop_init(&l, 0), 0))
        return;
    defer_case c = {.loop = &l};
    ev_timer_init(&t1, on_timer, 0.001, 0);
    ev_timer_init(&t2, on_second_timer, 0.05, 0);
    t1.data = t2.data = &c;
    ev_timer_start(l.ev, &t1);
    ev_timer_start(l.ev, &t2);
    xg_loop_run(&l);
    CHECK_EQ_INT(c.freed_during_cb, 0);
    CHECK_EQ_INT(c.freed, 3);
    xg_loop_dispose(&l);
}

XG_TEST(dispose_runs_what_is_still_deferred)
{
    xg_loop l;
    int freed = 0;
    if (!CHECK_EQ_INT(xg_loop_init(&l, 0), 0))
        return;
    victim *v = malloc(sizeof(*v));
    v->freed = &freed;
    xg_loop_defer(&l, &v->d, free_victim);
    xg_loop_dispose(&l);
    CHECK_EQ_INT(freed, 1);
}

/* A closure whose task node lives inside the object the closure frees (the
 * rate limit client's answer): the loop must neither free nor touch the
 * node once the callback ran (ASan reports either). */
typedef struct carrier {
    xg_loop_task task;
    int *ran;
} carrier;

static void free_carrier(void *arg)
{
    carrier *c = arg;
    (*c->ran)++;
    free(c);
}

typedef struct task_poster {
    xg_loop *loop;
    int ran;
    int refused;
} task_poster;

static void *post_tasks_then_stop(void *arg)
{
    task_poster *p = arg;
    for (int i = 0; i < 200; i++) {
        carrier *c = malloc(sizeof(*c));
        c->ran = &p->ran;
        if (xg_loop_post_task(p->loop, &c->task, free_carrier, c) != 0) {
            p->refused++;
            free(c);
        }
    }
    xg_loop_stop(p->loop);
    return NULL;
}

XG_TEST(caller_owned_tasks_run_once_and_are_left_to_the_callback)
{
    xg_loop l;
    pthread_t t;
    if (!CHECK_EQ_INT(xg_loop_init(&l, 0), 0))
        return;
    task_poster p = {.loop = &l};
    CHECK_EQ_INT(pthread_create(&t, NULL, post_tasks_then_stop, &p), 0);
    xg_loop_run(&l);
    pthread_join(t, NULL);
    CHECK_EQ_INT(p.refused, 0);
    CHECK_EQ_INT(p.ran, 200);
    /* The loop has finished: refused, and the node is the caller's again. */
    carrier late = {.ran = &p.ran};
    CHECK_EQ_INT(xg_loop_post_task(&l, &late.task, free_carrier, &late), XG_EAGAIN);
    xg_loop_dispose(&l);
    CHECK_EQ_INT(p.ran, 200);
}

static void on_lazy(struct ev_loop *ev, ev_timer *w, int revents)
{
    (*(int *)w->data)++;
}

/* A later deadline leaves an armed timer alone; an earlier one restarts it;
 * an unarmed timer is started; in <= 0 fires at the next pass. */
XG_TEST(timer_arm_lazy_moves_only_earlier)
{
    xg_loop l;
    int fired = 0;
    if (!CHECK_EQ_INT(xg_loop_init(&l, 0), 0))
        return;
    ev_timer t;
    ev_init(&t, on_lazy);
    t.data = &fired;
    xg_timer_arm_lazy(l.ev, &t, 10);
    CHECK(ev_is_active(&t));
    CHECK(ev_timer_remaining(l.ev, &t) <= 10 && ev_timer_remaining(l.ev, &t) > 9);
    xg_timer_arm_lazy(l.ev, &t, 20); /* later: untouched */
    CHECK(ev_timer_remaining(l.ev, &t) <= 10);
    xg_timer_arm_lazy(l.ev, &t, 1); /* earlier: restarted */
    CHECK(ev_timer_remaining(l.ev, &t) <= 1);
    xg_timer_arm_lazy(l.ev, &t, -5); /* due: fires at the next pass */
    CHECK(ev_timer_remaining(l.ev, &t) <= 0);
    ev_run(l.ev, EVRUN_NOWAIT);
    CHECK_EQ_INT(fired, 1);
    CHECK(!ev_is_active(&t));
    xg_timer_arm_lazy(l.ev, &t, 0.001);
    CHECK(ev_is_active(&t));
    while (fired < 2)
        ev_run(l.ev, EVRUN_ONCE);
    CHECK_EQ_INT(fired, 2);
    xg_loop_dispose(&l);
}
