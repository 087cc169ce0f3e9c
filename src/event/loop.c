/* xg_loop: libev loop + cross-thread closure queue + deferred frees. */
#include <stdlib.h>

#include "core/assert.h"
#include "core/error.h"
#include "event/loop.h"

static void run_tasks(xg_loop_task *t)
{
    while (t != NULL) {
        xg_loop_task *next = t->next;
        bool owned = t->caller_owned; /* t may be gone once cb returns */
        t->cb(t->arg);
        if (!owned)
            free(t);
        t = next;
    }
}

/* Detaches the whole queue under the lock; close refuses later posts. */
static xg_loop_task *take_tasks(xg_loop *l, bool close, bool *stop)
{
    pthread_mutex_lock(&l->mu);
    xg_loop_task *t = l->head;
    l->head = NULL;
    l->tail = &l->head;
    if (close)
        l->closed = true;
    if (stop != NULL)
        *stop = l->stop;
    pthread_mutex_unlock(&l->mu);
    return t;
}

static void on_wake(struct ev_loop *ev, ev_async *w, int revents)
{
    xg_loop *l = w->data;
    bool stop = false;
    run_tasks(take_tasks(l, false, &stop));
    if (stop)
        ev_break(ev, EVBREAK_ALL);
}

static void run_deferred(xg_loop *l)
{
    while (l->deferred != NULL) {
        xg_deferred *d = l->deferred;
        l->deferred = NULL;
        while (d != NULL) {
            xg_deferred *next = d->next;
            d->free_cb(d);
            d = next;
        }
    }
}

static void on_reap(struct ev_loop *ev, ev_prepare *w, int revents)
{
    xg_loop *l = w->data;
    ev_prepare_stop(ev, w);
    run_deferred(l);
}

int xg_loop_init(xg_loop *l, unsigned flags)
{
    l->ev = (flags & XG_LOOP_DEFAULT) ? ev_default_loop(EVFLAG_AUTO) : ev_loop_new(EVFLAG_AUTO);
    if (l->ev == NULL)
        return XG_ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    l->head = NULL;
    l->tail = &l->head;
    l->closed = false;
    l->stop = false;
    l->deferred = NULL;
    ev_async_init(&l->wake, on_wake);
    l->wake.data = l;
    ev_async_start(l->ev, &l->wake);
    ev_prepare_init(&l->reap, on_reap);
    l->reap.data = l;
    return 0;
}

void xg_loop_run(xg_loop *l)
{
    ev_run(l->ev, 0);
    run_tasks(take_tasks(l, true, NULL));
    run_deferred(l);
}

/* Queues t (filled in); XG_EAGAIN when the loop has finished. */
static int enqueue(xg_loop *l, xg_loop_task *t)
{
    pthread_mutex_lock(&l->mu);
    if (l->closed) {
        pthread_mutex_unlock(&l->mu);
        return XG_EAGAIN;
    }
    *l->tail = t;
    l->tail = &t->next;
    /* Sent under the lock: once closed is set the owner may destroy the loop,
     * so no sender may still be about to touch it. */
    ev_async_send(l->ev, &l->wake);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

int xg_loop_post(xg_loop *l, xg_loop_cb cb, void *arg)
{
    xg_loop_task *t = malloc(sizeof(*t));
    if (t == NULL)
        return XG_ENOMEM;
    *t = (xg_loop_task){.cb = cb, .arg = arg};
    int rc = enqueue(l, t);
    if (rc != 0)
        free(t);
    return rc;
}

int xg_loop_post_task(xg_loop *l, xg_loop_task *t, xg_loop_cb cb, void *arg)
{
    *t = (xg_loop_task){.cb = cb, .arg = arg, .caller_owned = true};
    return enqueue(l, t);
}

void xg_loop_stop(xg_loop *l)
{
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    if (!l->closed)
        ev_async_send(l->ev, &l->wake);
    pthread_mutex_unlock(&l->mu);
}

void xg_loop_defer(xg_loop *l, xg_deferred *d, void (*free_cb)(xg_deferred *d))
{
    d->free_cb = free_cb;
    d->next = l->deferred;
    l->deferred = d;
    if (!ev_is_active(&l->reap))
        ev_prepare_start(l->ev, &l->reap);
}

void xg_loop_dispose(xg_loop *l)
{
    XG_ASSERT(l->ev != NULL);
    run_tasks(take_tasks(l, true, NULL));
    run_deferred(l);
    ev_async_stop(l->ev, &l->wake);
    ev_prepare_stop(l->ev, &l->reap);
    ev_loop_destroy(l->ev);
    l->ev = NULL;
    pthread_mutex_destroy(&l->mu);
}

void xg_timer_arm_lazy(struct ev_loop *ev, ev_timer *w, double in)
{
    if (in < 0)
        in = 0;
    if (ev_is_active(w)) {
        if (ev_timer_remaining(ev, w) <= in)
            return;
        ev_timer_stop(ev, w);
    }
    ev_timer_set(w, in, 0);
    ev_timer_start(ev, w);
}
