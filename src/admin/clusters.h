/* GET /clusters: every cluster of the current config with its hosts, in
 * Envoy's text format (cluster::address::stat::value): per-host health
 * flags (healthy, or /failed_active_hc/failed_outlier_check/... in Envoy's
 * order), weight, locality, priority, outlier detection's success rate and
 * request counts, active health-check results; per-cluster circuit breaker
 * thresholds and outlier statistics. Main thread. */
#ifndef XG_ADMIN_CLUSTERS_H
#define XG_ADMIN_CLUSTERS_H

#include "admin/admin.h"
#include "core/buf.h"
#include "upstream/health_mgr.h"

/* Registers GET /clusters on a, reading m (both outlive the route). 0,
 * XG_EEXIST or XG_ENOMEM. */
int xg_clusters_admin_register(xg_admin *a, xg_health_mgr *m);

/* The lines of one cluster, appended to out. 0 or XG_ENOMEM. */
int xg_clusters_text(const xg_health_view_cluster *c, xg_buf *out);

/* A host's health flags as Envoy prints them: "healthy" or
 * "/failed_active_hc/failed_outlier_check...", into out (NUL-terminated). */
void xg_clusters_health_flags(const xg_health_view_host *h, char *out, size_t n);

#endif
