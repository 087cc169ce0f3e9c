/* The resolver of STRICT_DNS and LOGICAL_DNS clusters, on the main thread:
 * it follows the published snapshots, resolves each DNS name of each DNS
 * cluster with the cluster's settings (dns_client.h), again every
 * dns_refresh_rate (the answer's TTL with respect_dns_ttl; after a failure
 * dns_failure_refresh_rate's jittered exponential backoff, else the refresh
 * rate), and whenever a name's addresses change posts the cluster's answers
 * to every worker (dns_hosts.h), the way snapshots are posted: workers
 * rebuild the cluster's hosts between requests, with no lock on the request
 * path. A failed lookup changes nothing: the last good addresses serve on.
 *
 * As Envoy: a LOGICAL_DNS answer without addresses is treated as a failure
 * (the logical host keeps its address); a STRICT_DNS name answered with no
 * address (NXDOMAIN, no record) has no host. A cluster update that keeps a
 * name keeps its addresses until the new lookup (made at once) answers. */
#ifndef XG_CLUSTER_DNS_MGR_H
#define XG_CLUSTER_DNS_MGR_H

#include <stdint.h>

#include "cluster/dns_hosts.h"
#include "config/snapshot.h"
#include "event/loop.h"
#include "event/workers.h"

typedef struct xg_dns_mgr xg_dns_mgr;

/* Receives a new answer set (one reference, taken over). */
typedef void (*xg_dns_deliver_fn)(void *arg, xg_dns_hosts *h);

typedef struct xg_dns_mgr_opts {
    xg_workers *workers;       /* answers go to each worker's cluster table (xg_clusters_current) */
    xg_dns_deliver_fn deliver; /* or here instead (tests) */
    void *deliver_arg;
    /* Also told every answer set, on the loop's thread, before it goes to
     * the workers (h borrowed for the call): for main-thread users of the
     * resolved hosts, such as active health checking. NULL: none. */
    void (*observe)(void *arg, const xg_dns_hosts *h);
    void *observe_arg;
    const char *resolv_conf; /* NULL: /etc/resolv.conf (checked for changes once a second at most) */
    uint64_t seed;           /* backoff jitter; 0: from the clock */
} xg_dns_mgr_opts;

/* A resolver on loop (the main thread's). 0 or XG_ENOMEM. */
int xg_dns_mgr_new(xg_loop *loop, const xg_dns_mgr_opts *o, xg_dns_mgr **out);
/* Any thread: s (the snapshot just given to the workers; a reference is
 * taken) is applied on the loop's thread. 0, or XG_ENOMEM / XG_EAGAIN (the
 * loop has finished). */
int xg_dns_mgr_update(xg_dns_mgr *m, xg_snapshot *s);
/* Loop thread: applies s now (NULL: no cluster). */
void xg_dns_mgr_apply(xg_dns_mgr *m, const xg_snapshot *s);
/* Loop thread: cancels every lookup and timer; nothing is posted any more. */
void xg_dns_mgr_stop(xg_dns_mgr *m);
/* Loop thread (or after the loop ended); NULL is a no-op. */
void xg_dns_mgr_free(xg_dns_mgr *m);

#endif
