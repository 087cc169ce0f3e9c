/* A thin wrapper over one libev loop: the loop itself, a queue of closures
 * other threads post to it, and deferred frees run at the end of a pass.
 * Every xdsgate thread that has a loop (main, each worker) owns one xg_loop. */
#ifndef XG_EVENT_LOOP_H
#define XG_EVENT_LOOP_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>

typedef void (*xg_loop_cb)(void *arg);

/* One queued closure. xg_loop_post allocates it; xg_loop_post_task takes
 * one embedded in the caller's object, so that a post to a live loop
 * cannot fail for want of memory. */
typedef struct xg_loop_task {
    struct xg_loop_task *next;
    xg_loop_cb cb;
    void *arg;
    bool caller_owned; /* the loop never frees it; cb may free the object holding it */
} xg_loop_task;

/* Embed in an object that must outlive the callback that closes it (libuv's
 * rule: never free an object inside its own callback). */
typedef struct xg_deferred {
    struct xg_deferred *next;
    void (*free_cb)(struct xg_deferred *d);
} xg_deferred;

typedef struct xg_loop {
    struct ev_loop *ev;
    ev_async wake;   /* posts and stop requests from any thread */
    ev_prepare reap; /* runs deferred frees before the loop blocks again */
    /* The post queue is a mutex-guarded list: it carries config publishes,
     * admin requests and stop, and the answers of the rate limit service
     * (ratelimit/rls_client.c: one per checked request, next to a gRPC
     * round trip that costs far more); plain requests never touch the lock. */
    pthread_mutex_t mu;
    xg_loop_task *head;    /* guarded by mu */
    xg_loop_task **tail;   /* guarded by mu */
    bool closed;           /* guarded by mu: posts are refused once the loop has finished */
    bool stop;             /* guarded by mu */
    xg_deferred *deferred; /* loop thread only */
} xg_loop;

enum {
    XG_LOOP_DEFAULT = 1 << 0, /* libev's default loop: the main thread's, the one that owns signals */
};

/* Creates the libev loop. 0 or XG_ENOMEM. */
int xg_loop_init(xg_loop *l, unsigned flags);
/* Runs on the calling thread until xg_loop_stop(). Before returning it closes
 * the queue and runs every closure already accepted, on this thread. */
void xg_loop_run(xg_loop *l);
/* Any thread: cb(arg) will run once on the loop's thread. 0, XG_ENOMEM, or
 * XG_EAGAIN when the loop has finished (then the caller still owns arg). */
int xg_loop_post(xg_loop *l, xg_loop_cb cb, void *arg);
/* Same with t in the caller's memory, which must stay valid until cb runs
 * (cb may free it): 0, or XG_EAGAIN when the loop has finished (then t and
 * arg are the caller's again). Never fails for a loop that still runs. */
int xg_loop_post_task(xg_loop *l, xg_loop_task *t, xg_loop_cb cb, void *arg);
/* Any thread: makes xg_loop_run return after the closures queued so far. */
void xg_loop_stop(xg_loop *l);
/* Loop thread: free_cb(d) runs after the current pass, before the loop blocks. */
void xg_loop_defer(xg_loop *l, xg_deferred *d, void (*free_cb)(xg_deferred *d));
/* After xg_loop_run returned (or was never called): runs what is still
 * queued or deferred, then destroys the libev loop. */
void xg_loop_dispose(xg_loop *l);

/* Arms the one-shot timer w to fire within `in` seconds (now when in <= 0),
 * lazily: a timer already due no later is left alone, and only an earlier
 * deadline restarts it. Deadlines that move later with every request (idle
 * timeouts, a route timeout cleared by the response) then cost no timer-heap
 * work per request; the price is that w may fire early, so its callback must
 * check its deadlines against the time and arm again for what is left
 * (libev's lazy timeout pattern). Loop thread only. */
void xg_timer_arm_lazy(struct ev_loop *ev, ev_timer *w, double in);

#endif
