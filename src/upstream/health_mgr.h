/* Active health checking and outlier detection, on the main thread (never
 * on a worker). The manager follows every published snapshot: for each
 * cluster it keeps the hosts (keyed by cluster name and endpoint address, so
 * health and ejection state survive config updates for endpoints that
 * remain), runs one checker per host when the cluster has health_checks
 * (health_probe.h, health_sm.h) and an outlier detector when it has
 * outlier_detection (outlier.h).
 *
 * Results reach the workers without locks on the request path: when a
 * host's health flags (XG_HOST_F_HEALTH_MASK) change, the main thread posts
 * the new values, keyed by cluster name and address, to every worker's
 * queue (the same mechanism as snapshot publishes); each worker sets the
 * flags on its own host objects and rebuilds that cluster's balancers
 * (xg_cluster_hosts_changed). Because a publish reaches the workers before
 * it reaches the manager (xg_health_mgr_publish is called after the
 * workers' post), the state the manager sends after a snapshot always
 * lands on hosts the worker already has. Request outcomes come back the
 * other way (outlier_report.h): rare run reports, and per-host counts the
 * manager collects from every worker at each outlier_detection.interval.
 *
 * New hosts of a cluster with health checks start failed (out of rotation)
 * until their first check passes, as Envoy's do; with
 * common_lb_config.ignore_new_hosts_until_first_hc they are also marked
 * pending. Hosts of EDS clusters come from their ClusterLoadAssignment,
 * those of DNS clusters from the resolver's answers (xg_health_mgr_dns). */
#ifndef XG_UPSTREAM_HEALTH_MGR_H
#define XG_UPSTREAM_HEALTH_MGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cluster.h"
#include "config/snapshot.h"
#include "event/loop.h"
#include "event/workers.h"

struct xg_dns_hosts; /* cluster/dns_hosts.h */

typedef struct xg_health_mgr xg_health_mgr;

/* A manager on the main loop main, posting to the workers of ws (both
 * borrowed, outliving it). Installs itself as the outlier report sink.
 * Main thread, before the first publish. 0 or XG_ENOMEM. */
int xg_health_mgr_new(xg_loop *main, xg_workers *ws, xg_health_mgr **out);
/* Any thread: s is the snapshot just published to the workers (the call
 * takes its own reference; NULL is ignored). Applied on the main loop. */
void xg_health_mgr_publish(xg_health_mgr *m, xg_snapshot *s);
/* Main thread (the DNS resolver's observe hook, cluster/dns_mgr.h): the
 * latest answer of a STRICT_DNS or LOGICAL_DNS cluster (borrowed; the
 * manager takes its own reference). Its hosts are checked and tracked like
 * any other; a LOGICAL_DNS cluster's one host keeps its health when its
 * address moves. arg is the manager. */
void xg_health_mgr_dns(void *arg, const struct xg_dns_hosts *h);
/* Main thread: stops every check and timer and drops the reports that
 * still come (shutdown). Idempotent. */
void xg_health_mgr_stop(xg_health_mgr *m);
/* After the workers and the main loop have stopped. NULL is fine. */
void xg_health_mgr_free(xg_health_mgr *m);

/* --- the /clusters view (admin, main thread) --- */

typedef struct xg_health_view_host {
    const char *addr;     /* "ip:port" */
    const char *hostname; /* Endpoint.hostname or "" */
    const char *region, *zone, *sub_zone;
    uint32_t weight, priority;
    xg_health_status eds_health;
    uint32_t flags;        /* XG_HOST_F_HEALTH_MASK bits (cluster/host.h) */
    bool hc_timeout;       /* failed active health checking with a timeout last */
    bool hc_checked;       /* the cluster has health checks and this host is checked */
    uint64_t hc_successes; /* checks that passed / failed */
    uint64_t hc_failures;
    bool od;                /* outlier detection on */
    uint32_t num_ejections; /* ever */
    double success_rate;    /* last interval, percent; -1 when not computed */
    double local_origin_success_rate;
    uint64_t rq_total, rq_success, rq_error; /* as collected by outlier detection */
} xg_health_view_host;

typedef struct xg_health_view_cluster {
    const char *name;
    const xg_cluster *cfg;
    /* outlier detection's last interval: -1 when not computed */
    double success_rate_average, success_rate_ejection_threshold;
    double local_origin_success_rate_average, local_origin_success_rate_ejection_threshold;
    const xg_health_view_host *hosts;
    size_t n_hosts;
} xg_health_view_cluster;

/* Calls cb once per cluster of the current snapshot, in name order. The
 * views are borrowed for the call. 0 or XG_ENOMEM. */
int xg_health_mgr_view(xg_health_mgr *m, void (*cb)(void *arg, const xg_health_view_cluster *c), void *arg);

#endif
