/* Worker threads, one libev loop each. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "event/workers.h"

struct xg_worker {
    xg_loop loop;
    pthread_t thread;
    unsigned id;
    bool running; /* thread started and not yet joined; owner thread only */
};

struct xg_workers {
    unsigned n;
    xg_worker w[];
};

/* Per-thread: which worker this thread is, for code that runs on any thread. */
static __thread xg_worker *self_worker;

int xg_workers_new(unsigned n, xg_workers **out)
{
    if (n == 0)
        return XG_EINVAL;
    xg_workers *ws = calloc(1, sizeof(*ws) + n * sizeof(ws->w[0]));
    if (ws == NULL)
        return XG_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        ws->w[i].id = i;
        if (xg_loop_init(&ws->w[i].loop, 0) != 0) {
            ws->n = i;
            xg_workers_free(ws);
            return XG_ENOMEM;
        }
    }
    ws->n = n;
    *out = ws;
    return 0;
}

static void *worker_main(void *arg)
{
    xg_worker *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "worker-%u", w->id);
    xg_log_set_thread_name(name);
    pthread_setname_np(pthread_self(), name); /* for top -H, gdb and /proc */
    self_worker = w;
    xg_log_debug("worker %u running", w->id);
    xg_loop_run(&w->loop);
    xg_log_debug("worker %u finished", w->id);
    self_worker = NULL;
    return NULL;
}

int xg_workers_start(xg_workers *ws)
{
    sigset_t all, old;
    int rc = 0;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; i < ws->n && rc == 0; i++) {
        rc = -pthread_create(&ws->w[i].thread, NULL, worker_main, &ws->w[i]);
        ws->w[i].running = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        xg_workers_stop(ws);
    return rc;
}

void xg_workers_stop(xg_workers *ws)
{
    for (unsigned i = 0; i < ws->n; i++)
        if (ws->w[i].running)
            xg_loop_stop(&ws->w[i].loop);
    for (unsigned i = 0; i < ws->n; i++) {
        if (!ws->w[i].running)
            continue;
        int rc = pthread_join(ws->w[i].thread, NULL);
        XG_ASSERT(rc == 0);
        ws->w[i].running = false;
    }
}

void xg_workers_free(xg_workers *ws)
{
    if (ws == NULL)
        return;
    xg_workers_stop(ws);
    for (unsigned i = 0; i < ws->n; i++)
        xg_loop_dispose(&ws->w[i].loop);
    free(ws);
}

unsigned xg_workers_count(const xg_workers *ws)
{
    return ws->n;
}

xg_worker *xg_workers_get(xg_workers *ws, unsigned i)
{
    XG_ASSERT(i < ws->n);
    return &ws->w[i];
}

int xg_worker_post(xg_worker *w, xg_loop_cb cb, void *arg)
{
    return xg_loop_post(&w->loop, cb, arg);
}

unsigned xg_worker_id(const xg_worker *w)
{
    return w->id;
}

xg_loop *xg_worker_loop(xg_worker *w)
{
    return &w->loop;
}

xg_worker *xg_worker_self(void)
{
    return self_worker;
}
