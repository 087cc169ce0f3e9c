/* Per-worker current snapshot and the publish closure. */
#include "config/snapshot_publish.h"
#include "core/error.h"

/* The only mutable per-thread state of the config layer: each worker's
 * current snapshot (one reference), swapped only on that worker's thread. */
static __thread xg_snapshot *current;

xg_snapshot *xg_worker_snapshot(void)
{
    return current;
}

void xg_worker_snapshot_swap(xg_snapshot *s)
{
    xg_snapshot *old = current;
    current = s;
    xg_snapshot_unref(old);
}

/* Runs on the worker: arg carries the reference posted for this worker. */
static void on_publish(void *arg)
{
    xg_worker_snapshot_swap(arg);
}

int xg_snapshot_publish(xg_workers *ws, xg_snapshot *s)
{
    int first_err = 0;
    for (unsigned i = 0; i < xg_workers_count(ws); i++) {
        if (s != NULL)
            xg_snapshot_ref(s);
        int rc = xg_worker_post(xg_workers_get(ws, i), on_publish, s);
        if (rc != 0) {
            xg_snapshot_unref(s);
            if (rc != XG_EAGAIN && first_err == 0)
                first_err = rc;
        }
    }
    return first_err;
}
