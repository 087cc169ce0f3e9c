/* Publishing snapshots to the worker threads, and each worker's current
 * snapshot. A publish posts one reference to every worker's loop; the worker
 * swaps its pointer when the closure runs (at the top of its next loop
 * iteration) and drops the reference it held. A request pins the snapshot it
 * started on with xg_snapshot_ref, so one request never mixes generations. */
#ifndef XG_CONFIG_SNAPSHOT_PUBLISH_H
#define XG_CONFIG_SNAPSHOT_PUBLISH_H

#include "config/snapshot.h"
#include "event/workers.h"

/* Worker thread only: the snapshot this worker serves now, or NULL before the
 * first publish. Borrowed: valid until the current loop callback returns;
 * whoever keeps it longer (a request) takes its own reference. */
xg_snapshot *xg_worker_snapshot(void);

/* Worker thread only: makes s the current snapshot, taking over the one
 * reference the caller gives (NULL: none), and drops the previous one. For
 * publishers that post their own closure (net/worker_listeners.c). */
void xg_worker_snapshot_swap(xg_snapshot *s);

/* Any thread: gives every worker a reference to s (the caller keeps its own);
 * s NULL makes every worker drop its snapshot (shutdown). A worker whose loop
 * has finished is skipped. 0, or the first error of a post (XG_ENOMEM). */
int xg_snapshot_publish(xg_workers *ws, xg_snapshot *s);

#endif
