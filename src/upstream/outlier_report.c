/* Per-worker outlier-detection counting (outlier_report.h): runs of
 * consecutive errors, interval counts, and the rare reports to the main
 * thread's detector. One branch for clusters without outlier detection. */
#include <stdlib.h>
#include <string.h>

#include "upstream/outlier.h"
#include "upstream/outlier_report.h"

/* Written once by the main thread before any worker reads it (the snapshot
 * publish that starts traffic is posted after, through a locked queue). */
static xg_outlier_sink sink;

void xg_outlier_set_sink(const xg_outlier_sink *s)
{
    if (s != NULL)
        sink = *s;
    else
        memset(&sink, 0, sizeof sink);
}

int xg_grpc_to_http_status(int grpc_status)
{
    static const short map[] = {200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401};
    return grpc_status >= 0 && (size_t)grpc_status < sizeof map / sizeof map[0] ? map[grpc_status] : 500;
}

/* The first outcome on this worker for a health-checked cluster: the
 * checker now uses its traffic intervals. */
static void note_traffic(xg_cluster_rt *rt)
{
    if (rt->hc_traffic_told || rt->cfg == NULL || rt->cfg->n_health_checks == 0)
        return;
    rt->hc_traffic_told = true;
    if (sink.traffic != NULL)
        sink.traffic(sink.arg, rt->name);
}

static uint32_t threshold_of(const xg_outlier *cfg, int run)
{
    return run == XG_OD_RUN_5XX       ? cfg->consecutive_5xx
           : run == XG_OD_RUN_GATEWAY ? cfg->consecutive_gateway_failure
                                      : cfg->consecutive_local_origin_failure;
}

static void report(xg_host *h)
{
    xg_host_outcomes *o = &h->od;
    memcpy(o->told, o->run, sizeof o->told);
    if (sink.runs != NULL)
        sink.runs(sink.arg, h, o->run, o->epoch);
}

/* A run grew: due for a report at each step of threshold / workers and at
 * the threshold itself, never past it: the main thread has heard this run
 * reach the threshold and restarts it (a new epoch) whether or not it could
 * eject, so the errors in between need no post each. */
static bool bump(xg_host *h, const xg_outlier *cfg, int run)
{
    uint32_t thr = threshold_of(cfg, run), n = ++h->od.run[run];
    uint32_t step = sink.n_workers > 1 ? thr / sink.n_workers : thr;
    return thr > 0 && n <= thr && (n == thr || n % (step > 0 ? step : 1) == 0);
}

/* A run ended; due only if the detector had heard of the run. */
static bool end_run(xg_host *h, int run)
{
    h->od.run[run] = 0;
    return h->od.told[run] > 0;
}

/* One report per outcome at most, carrying every run. */
static void put_status(xg_host *h, const xg_outlier *cfg, int status)
{
    bool due;
    h->od.total++;
    if (status >= 500 && status <= 599) {
        due = status >= 502 && status <= 504 ? bump(h, cfg, XG_OD_RUN_GATEWAY) : end_run(h, XG_OD_RUN_GATEWAY);
        due = bump(h, cfg, XG_OD_RUN_5XX) || due;
    } else {
        h->od.success++;
        due = end_run(h, XG_OD_RUN_5XX);
        due = end_run(h, XG_OD_RUN_GATEWAY) || due;
    }
    if (due)
        report(h);
}

static void put_local(xg_host *h, const xg_outlier *cfg, bool ok)
{
    h->od.local_total++;
    h->od.local_success += ok;
    if (ok ? end_run(h, XG_OD_RUN_LOCAL) : bump(h, cfg, XG_OD_RUN_LOCAL))
        report(h);
}

static int grpc_status_of(const xg_headers *resp)
{
    const xg_header *ct = xg_headers_get_id(resp, XG_HDR_CONTENT_TYPE);
    const xg_header *gs = xg_headers_get(resp, "grpc-status", 11);
    if (ct == NULL || gs == NULL || ct->value_len < 16 || strncmp(ct->value, "application/grpc", 16) != 0)
        return -1;
    int v = 0;
    for (size_t i = 0; i < gs->value_len && i < 4; i++) {
        if (gs->value[i] < '0' || gs->value[i] > '9')
            return 2; /* UNKNOWN */
        v = v * 10 + (gs->value[i] - '0');
    }
    return v;
}

void xg_outlier_put_response(xg_host *h, const xg_headers *resp, bool end_stream)
{
    xg_cluster_rt *rt = h->cluster;
    note_traffic(rt);
    const xg_outlier *cfg = rt->cfg != NULL ? rt->cfg->outlier : NULL;
    if (cfg == NULL)
        return;
    int status = resp->status;
    if (end_stream && status == 200) {
        int g = grpc_status_of(resp);
        if (g >= 0)
            status = xg_grpc_to_http_status(g);
    }
    if (cfg->split_external_local_origin_errors)
        put_local(h, cfg, true);
    put_status(h, cfg, status);
}

/* A failure of the connection or of the wait, not an answer: local origin
 * in split mode, else counted as status (Envoy's 503 / 504). */
static void put_local_failure(xg_host *h, int status)
{
    xg_cluster_rt *rt = h->cluster;
    note_traffic(rt);
    const xg_outlier *cfg = rt->cfg != NULL ? rt->cfg->outlier : NULL;
    if (cfg != NULL && cfg->split_external_local_origin_errors)
        put_local(h, cfg, false);
    else if (cfg != NULL)
        put_status(h, cfg, status);
}

void xg_outlier_put_reset(xg_host *h, xg_upstream_reset why)
{
    if (why != XG_UPSTREAM_OVERFLOW && why != XG_UPSTREAM_NO_HEALTHY_HOST)
        put_local_failure(h, 503);
}

void xg_outlier_put_timeout(xg_host *h)
{
    put_local_failure(h, 504);
}

void xg_outlier_reset_runs(xg_host *h, uint32_t mask, uint32_t epoch)
{
    for (int i = 0; i < XG_OD_NRUNS; i++) {
        if (mask & (1u << i))
            h->od.run[i] = h->od.told[i] = 0;
    }
    h->od.epoch = epoch;
}

uint32_t xg_outlier_collect(xg_cluster_rt *rt, xg_outlier_counts *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; rt->tab != NULL && i <= rt->tab_mask; i++) {
        xg_host *h = rt->tab[i];
        if (h == NULL)
            continue;
        xg_outlier_counts *c = &out[n++];
        memcpy(&c->addr, &h->addr, h->addrlen);
        c->addrlen = h->addrlen;
        c->total = h->od.total;
        c->success = h->od.success;
        c->local_total = h->od.local_total;
        c->local_success = h->od.local_success;
        h->od.total = h->od.success = h->od.local_total = h->od.local_success = 0;
    }
    return n;
}
