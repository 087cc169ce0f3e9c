/* The worker side of outlier detection: each upstream request's outcome is
 * counted on its host (xg_host.od, this worker only: no lock, no shared
 * atomic), as Envoy's DetectorHostMonitor counts it:
 *
 *  - an HTTP status (a gRPC trailers-only response: its grpc-status mapped
 *    to HTTP): 5xx extends the consecutive-5xx run, 502/503/504 also the
 *    gateway-failure run, anything else ends both;
 *  - a reset or failed connect, and the router's timeout: with
 *    split_external_local_origin_errors they extend the local-origin run
 *    (a response ends it); without, they count as 503 and 504;
 *  - overflow (circuit breakers) is not the host's fault and is not counted.
 *
 * "Consecutive" across workers: each worker counts its own runs and reports
 * a run to the main thread's detector (health_mgr.h) each time it grows by
 * max(1, threshold / workers) and when it reaches the threshold; a run
 * ended by a success after having been reported is reported as 0. The
 * detector sums the latest run of every worker, so a host failing on every
 * worker is ejected after about threshold errors in all, and one failing on
 * one worker after threshold errors there; a success on one worker does not
 * end another worker's run (Envoy's shared counter would). Reports are rare
 * (a few per error run), never one per request.
 *
 * The interval counts (requests, successes) are taken by the detector at
 * each outlier_detection.interval (xg_outlier_collect). Worker thread. */
#ifndef XG_UPSTREAM_OUTLIER_REPORT_H
#define XG_UPSTREAM_OUTLIER_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "http/headers.h"
#include "upstream/upstream.h"

/* Where reports go: set once by the main thread's detector before traffic
 * flows; read-only afterwards. */
typedef struct xg_outlier_sink {
    unsigned n_workers; /* >= 1 */
    /* A worker: h's runs (XG_OD_RUN_*) under reset epoch. Must not block. */
    void (*runs)(void *arg, const xg_host *h, const uint32_t runs[3], uint32_t epoch);
    /* A worker: the cluster of a health-checked host had its first request here. */
    void (*traffic)(void *arg, const char *cluster);
    void *arg;
} xg_outlier_sink;

/* s is copied; NULL: reports are dropped (tests, shutdown). */
void xg_outlier_set_sink(const xg_outlier_sink *s);

/* The final response headers of a request to h (end_stream: no body
 * follows; a trailers-only gRPC answer then counts by its grpc-status). */
void xg_outlier_put_response(xg_host *h, const xg_headers *resp, bool end_stream);
/* The request to h failed before or during its response (not OVERFLOW). */
void xg_outlier_put_reset(xg_host *h, xg_upstream_reset why);
/* The route timeout fired before h answered. */
void xg_outlier_put_timeout(xg_host *h);

/* The HTTP status Envoy maps a gRPC status to (grpc/http-grpc-status-mapping). */
int xg_grpc_to_http_status(int grpc_status);

/* A worker applying the detector's counter reset for h: the runs in mask
 * (1 << XG_OD_RUN_*) restart from 0, epoch is the new reset epoch. */
void xg_outlier_reset_runs(xg_host *h, uint32_t mask, uint32_t epoch);

/* One host's interval counts, as collected. */
typedef struct xg_outlier_counts {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint32_t total, success, local_total, local_success;
} xg_outlier_counts;

/* Copies the interval counts of rt's hosts into out (room for rt->n_hosts)
 * and zeroes them; returns how many were written. */
uint32_t xg_outlier_collect(xg_cluster_rt *rt, xg_outlier_counts *out);

#endif
