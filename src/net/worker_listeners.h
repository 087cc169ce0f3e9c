/* The data plane's reaction to a new snapshot, and each worker's runtime.
 *
 * The publisher (xds thread, or whichever thread publishes) builds the
 * listener set for a snapshot (TLS contexts, listening sockets: net/listener.h)
 * and posts (snapshot, set) to every worker. Each worker then, in one loop
 * callback: swaps its current snapshot, reconciles its cluster runtime
 * (cluster/cluster.h: hosts and pools that stay keep their state), and
 * applies the listener set (new addresses start accepting, unchanged ones
 * keep their sockets and connections, changed or removed ones drain).
 * Publishing NULL tears every worker's data plane down (shutdown). A
 * certificate file that changes on disk rebuilds the set alone.
 *
 * Streams pin the snapshot they start on through a per-worker pin (a plain
 * counter on the worker), so the request path never touches the snapshot's
 * atomic reference count. */
#ifndef XG_NET_WORKER_LISTENERS_H
#define XG_NET_WORKER_LISTENERS_H

#include <stdint.h>

#include "cluster/cluster.h"
#include "cluster/rng.h"
#include "config/snapshot.h"
#include "event/loop.h"
#include "event/workers.h"
#include "net/listener.h"

/* One worker's reference to one snapshot, shared by the streams that started
 * on it. Worker thread only. */
typedef struct xg_snap_pin {
    xg_snapshot *snap; /* one reference (atomic), dropped with the pin */
    uint32_t users;    /* streams holding the pin, plus one while it is current */
} xg_snap_pin;

/* The data plane of one worker. */
typedef struct xg_worker_rt {
    xg_loop *loop;
    unsigned id;
    xg_listeners *listeners;
    xg_clusters *clusters;
    xg_snap_pin *pin;         /* the current snapshot's pin, NULL before the first */
    xg_listener_set *applied; /* the set last applied (referenced) */
    xg_rng rng;               /* request ids, per-request random values */
    double date_at;           /* the second the cached Date header was made for */
    char date[40];            /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    char hostname[256];       /* this machine's name, for %HOSTNAME% in header values */
    const char *local_cluster; /* xg_listener_opts.local_cluster ("" when none); owned by the data plane */
} xg_worker_rt;

/* The calling worker's runtime, or NULL (no snapshot published yet, or not
 * a worker thread). */
xg_worker_rt *xg_worker_rt_self(void);

/* Takes a pin on the calling worker's current snapshot; NULL when there is
 * none. Release with xg_snap_pin_release on the same worker. */
xg_snap_pin *xg_worker_pin(void);
void xg_snap_pin_release(xg_snap_pin *p);

/* The current HTTP Date header value (cached per second). */
const char *xg_worker_date(xg_worker_rt *w);

typedef struct xg_dataplane xg_dataplane;

/* The publisher for workers ws: connections the listeners accept go to cb
 * (the HTTP connection manager). o: listener options (NULL: defaults);
 * with o->watch_loop the certificate files of listener TLS contexts are
 * watched there and a change rebuilds the listeners (xg_dataplane_refresh).
 * 0 or XG_ENOMEM. */
int xg_dataplane_new(xg_workers *ws, const xg_listener_opts *o, xg_listener_conn_cb cb, void *cb_arg,
                     xg_dataplane **out);
/* Any thread (publishes are serialised): builds the listener set for s and gives every
 * worker (s, set). A set that cannot be built (a port in use, bad TLS
 * material) is logged and the previous listeners stay. s NULL (shutdown,
 * before the workers stop): every worker drops its snapshot and frees its
 * data plane, closing every connection, downstream and upstream; the call
 * waits (at most 5 s) until they are done. 0 or the first error of a post. */
int xg_dataplane_publish(xg_dataplane *dp, xg_snapshot *s);
/* Any thread (the file watch calls it on the main thread): rebuilds the
 * listener set from the snapshot last published, reading every
 * certificate file again, and gives it to the workers. Unchanged Listener
 * resources keep their sockets and connections; new handshakes use the new
 * TLS contexts. A set that cannot be built is logged and the previous one
 * stays. Publishes and refreshes take turns. 0. */
int xg_dataplane_refresh(xg_dataplane *dp);
/* After the workers have stopped and the watch loop has finished. */
void xg_dataplane_free(xg_dataplane *dp);

#endif
