/* Worker threads: N threads, each running its own xg_loop. Workers share
 * nothing mutable; other threads reach a worker only by posting a closure to
 * its loop (config publish, shutdown), never on the request path. */
#ifndef XG_EVENT_WORKERS_H
#define XG_EVENT_WORKERS_H

#include <stdbool.h>

#include "event/loop.h"

typedef struct xg_worker xg_worker;
typedef struct xg_workers xg_workers;

/* Creates n workers with their loops but no threads yet. 0, XG_EINVAL (n is
 * 0) or XG_ENOMEM; *out is owned by the caller (xg_workers_free). */
int xg_workers_new(unsigned n, xg_workers **out);
/* Starts one thread per worker with every signal blocked, so signals reach
 * only the main loop. On failure the threads already started are stopped
 * and joined. 0 or a negative errno. */
int xg_workers_start(xg_workers *ws);
/* Any thread: asks every worker loop to finish (each runs the closures it
 * already accepted), then joins the threads. Idempotent. */
void xg_workers_stop(xg_workers *ws);
/* Stops and joins if still running, then frees the loops and ws. */
void xg_workers_free(xg_workers *ws);
unsigned xg_workers_count(const xg_workers *ws);
/* Borrowed; valid until xg_workers_free. i < count. */
xg_worker *xg_workers_get(xg_workers *ws, unsigned i);

/* Any thread: cb(arg) runs on w's thread. Same contract as xg_loop_post. */
int xg_worker_post(xg_worker *w, xg_loop_cb cb, void *arg);
unsigned xg_worker_id(const xg_worker *w);
/* Worker thread only: its loop. */
xg_loop *xg_worker_loop(xg_worker *w);
/* The worker the calling thread runs, or NULL on a non-worker thread. */
xg_worker *xg_worker_self(void);

#endif
