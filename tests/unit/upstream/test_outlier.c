/* Outlier detection's decisions (upstream/outlier.c) and the worker-side
 * counting (upstream/outlier_report.c): consecutive runs and their reports,
 * max_ejection_percent, the enforcing dice, the ejection multiplier and its
 * decay, success-rate and failure-percentage math (Envoy's worked example),
 * gRPC status mapping, interval collection. Fixed seeds. */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>

#include "upstream/outlier.h"
#include "upstream/outlier_report.h"
#include "xg_test.h"

/* Envoy's defaults (config/cluster.h), as xlate_cluster_hc.c fills them. */
static xg_outlier od_defaults(void)
{
    return (xg_outlier){.consecutive_5xx = 5,
                        .interval_ms = 10000,
                        .base_ejection_time_ms = 30000,
                        .max_ejection_time_ms = 300000,
                        .max_ejection_percent = 10,
                        .enforcing_consecutive_5xx = 100,
                        .enforcing_success_rate = 100,
                        .success_rate_minimum_hosts = 5,
                        .success_rate_request_volume = 100,
                        .success_rate_stdev_factor = 1900,
                        .consecutive_gateway_failure = 5,
                        .enforcing_consecutive_gateway_failure = 0,
                        .consecutive_local_origin_failure = 5,
                        .enforcing_consecutive_local_origin_failure = 100,
                        .enforcing_local_origin_success_rate = 100,
                        .failure_percentage_threshold = 85,
                        .enforcing_failure_percentage = 0,
                        .failure_percentage_minimum_hosts = 5,
                        .failure_percentage_request_volume = 50,
                        .successful_active_health_check_uneject_host = true};
}

/* --- decisions --- */

XG_TEST(runs_detect)
{
    xg_outlier o = od_defaults();
    uint32_t runs[XG_OD_NRUNS] = {4, 4, 9};
    CHECK_EQ_INT(xg_od_runs_detect(&o, runs), 0); /* local runs count only in split mode */
    runs[XG_OD_RUN_5XX] = 5;
    CHECK_EQ_INT(xg_od_runs_detect(&o, runs), 1u << XG_OD_RUN_5XX);
    runs[XG_OD_RUN_GATEWAY] = 6;
    o.split_external_local_origin_errors = true;
    CHECK_EQ_INT(xg_od_runs_detect(&o, runs),
                 (1u << XG_OD_RUN_5XX) | (1u << XG_OD_RUN_GATEWAY) | (1u << XG_OD_RUN_LOCAL));
    o.consecutive_5xx = 0; /* 0 never triggers */
    CHECK_EQ_INT(xg_od_runs_detect(&o, runs) & (1u << XG_OD_RUN_5XX), 0);
    CHECK_EQ_INT(xg_od_run_type(XG_OD_RUN_GATEWAY), XG_OD_CONSECUTIVE_GATEWAY_FAILURE);
}

XG_TEST(max_ejection_percent)
{
    xg_outlier o = od_defaults();
    /* Envoy: (ejected + 1) / hosts <= max%: the default 10% ejects nothing below 10 hosts */
    CHECK(!xg_od_may_eject(&o, 0, 2));
    CHECK(!xg_od_may_eject(&o, 0, 9));
    CHECK(xg_od_may_eject(&o, 0, 10));
    CHECK(!xg_od_may_eject(&o, 1, 10));
    o.max_ejection_percent = 50;
    CHECK(xg_od_may_eject(&o, 0, 2));
    CHECK(!xg_od_may_eject(&o, 1, 2));
    CHECK(xg_od_may_eject(&o, 0, 3));
    CHECK(!xg_od_may_eject(&o, 1, 3)); /* 67% > 50% */
    o.max_ejection_percent = 0;
    o.always_eject_one_host = true;
    CHECK(xg_od_may_eject(&o, 0, 3));
    CHECK(!xg_od_may_eject(&o, 1, 3));
    CHECK(!xg_od_may_eject(&o, 0, 0));
}

XG_TEST(enforcing_dice)
{
    xg_outlier o = od_defaults();
    xg_rng rng;
    xg_rng_seed(&rng, 99);
    int yes = 0;
    for (int i = 0; i < 1000; i++)
        yes += xg_od_enforced(&o, XG_OD_CONSECUTIVE_5XX, &rng);
    CHECK_EQ_INT(yes, 1000);
    yes = 0;
    for (int i = 0; i < 1000; i++)
        yes += xg_od_enforced(&o, XG_OD_CONSECUTIVE_GATEWAY_FAILURE, &rng); /* default 0 */
    CHECK_EQ_INT(yes, 0);
    CHECK_EQ_INT(xg_od_enforcing(&o, XG_OD_FAILURE_PERCENTAGE), 0);
    o.enforcing_success_rate = 30;
    yes = 0;
    for (int i = 0; i < 10000; i++)
        yes += xg_od_enforced(&o, XG_OD_SUCCESS_RATE, &rng);
    CHECK(yes > 2700 && yes < 3300);
}

XG_TEST(ejection_time_grows_with_ejections_and_caps)
{
    xg_outlier o = od_defaults();
    xg_rng rng;
    xg_rng_seed(&rng, 1);
    xg_od_host h;
    xg_od_host_init(&h);
    int64_t now = 1000;
    xg_od_eject(&h, &o, now, &rng);
    CHECK(h.ejected);
    CHECK_EQ_INT(xg_od_ejection_ms(&h, &o), 30000);
    CHECK(!xg_od_uneject_due(&h, &o, now + 29999));
    CHECK(xg_od_uneject_due(&h, &o, now + 30000));
    xg_od_uneject(&h, now + 30000);
    CHECK(!xg_od_uneject_due(&h, &o, now + 40000));
    /* ejected again at once: twice the base */
    xg_od_eject(&h, &o, now + 30000, &rng);
    CHECK_EQ_INT(xg_od_ejection_ms(&h, &o), 60000);
    for (int i = 0; i < 20; i++) {
        xg_od_uneject(&h, now);
        xg_od_eject(&h, &o, now, &rng);
    }
    CHECK_EQ_INT(xg_od_ejection_ms(&h, &o), 300000); /* max_ejection_time */
    CHECK_EQ_INT(h.backoff, 11);                     /* stops growing once base x n >= max + base */
    CHECK_EQ_INT(h.num_ejections, 22);
}

XG_TEST(multiplier_decays_one_per_healthy_interval)
{
    xg_outlier o = od_defaults();
    xg_rng rng;
    xg_rng_seed(&rng, 1);
    xg_od_host h;
    xg_od_host_init(&h);
    xg_od_eject(&h, &o, 0, &rng);
    xg_od_decay(&h, &o, 5000); /* still ejected: no decay */
    CHECK_EQ_INT(h.backoff, 1);
    xg_od_uneject(&h, 30000);
    xg_od_eject(&h, &o, 30000, &rng);
    xg_od_uneject(&h, 90000);
    CHECK_EQ_INT(h.backoff, 2);
    xg_od_decay(&h, &o, 95000); /* back for less than an interval */
    CHECK_EQ_INT(h.backoff, 2);
    xg_od_decay(&h, &o, 100000);
    CHECK_EQ_INT(h.backoff, 1);
    xg_od_decay(&h, &o, 110000);
    CHECK_EQ_INT(h.backoff, 0);
    xg_od_decay(&h, &o, 120000);
    CHECK_EQ_INT(h.backoff, 0);
    xg_od_eject(&h, &o, 120000, &rng);
    CHECK_EQ_INT(xg_od_ejection_ms(&h, &o), 30000);
}

XG_TEST(ejection_jitter_bounds)
{
    xg_outlier o = od_defaults();
    o.max_ejection_time_jitter_ms = 1000;
    xg_rng rng;
    xg_rng_seed(&rng, 5);
    int64_t hi = 0;
    for (int i = 0; i < 500; i++) {
        xg_od_host h;
        xg_od_host_init(&h);
        xg_od_eject(&h, &o, 0, &rng);
        int64_t t = xg_od_ejection_ms(&h, &o);
        CHECK(t >= 30000 && t <= 31000);
        hi = t > hi ? t : hi;
    }
    CHECK(hi > 30900);
}

XG_TEST(success_rate_threshold_envoy_example)
{
    /* Envoy's comment: {50, 100, 100, 100, 100}: mean 90, stdev 20, with factor 1.9 threshold 52 */
    double r[] = {50, 100, 100, 100, 100}, mean, thr;
    xg_od_sr_threshold(r, 5, 1.9, &mean, &thr);
    CHECK(fabs(mean - 90) < 1e-9);
    CHECK(fabs(thr - 52) < 1e-9);
}

static void set_counts(xg_od_host *h, uint64_t total, uint64_t ok)
{
    xg_od_host_init(h);
    h->total = total;
    h->success = ok;
}

XG_TEST(interval_success_rate_ejection)
{
    xg_outlier o = od_defaults();
    xg_od_host hs[6], *v[6];
    for (int i = 0; i < 6; i++)
        v[i] = &hs[i];
    set_counts(&hs[0], 200, 200);
    set_counts(&hs[1], 200, 200);
    set_counts(&hs[2], 200, 200);
    set_counts(&hs[3], 200, 200);
    set_counts(&hs[4], 200, 100); /* 50% */
    set_counts(&hs[5], 99, 0);    /* below success_rate_request_volume: ignored, no rate shown */
    xg_od_candidate out[12];
    double mean, thr;
    size_t k = xg_od_interval(&o, v, 6, false, out, &mean, &thr);
    CHECK(fabs(mean - 90) < 1e-9);
    CHECK(fabs(thr - 52) < 1e-9);
    CHECK_EQ_INT(k, 2);
    CHECK_EQ_INT(out[0].index, 4);
    CHECK_EQ_INT(out[0].type, XG_OD_SUCCESS_RATE);
    /* hs[5] fails 100% of 99 >= failure_percentage_request_volume (50): a
     * failure-percentage candidate (enforcing_failure_percentage decides later) */
    CHECK_EQ_INT(out[1].index, 5);
    CHECK_EQ_INT(out[1].type, XG_OD_FAILURE_PERCENTAGE);
    CHECK(fabs(hs[4].success_rate - 50) < 1e-9);
    CHECK(hs[5].success_rate == 0);
    /* with only 4 success-rate-valid hosts (< success_rate_minimum_hosts) no success-rate ejection */
    hs[0].ejected = true;
    k = xg_od_interval(&o, v, 6, false, out, &mean, &thr);
    CHECK_EQ_INT(k, 1);
    CHECK_EQ_INT(out[0].type, XG_OD_FAILURE_PERCENTAGE);
    CHECK(mean == -1 && thr == -1);
    CHECK(hs[0].success_rate == -1); /* ejected hosts get no rate */
}

XG_TEST(interval_failure_percentage)
{
    xg_outlier o = od_defaults();
    o.success_rate_minimum_hosts = 100; /* success rate off */
    o.failure_percentage_minimum_hosts = 3;
    xg_od_host hs[3], *v[3] = {&hs[0], &hs[1], &hs[2]};
    set_counts(&hs[0], 60, 60);
    set_counts(&hs[1], 60, 9);  /* 85% failures: at the threshold */
    set_counts(&hs[2], 60, 10); /* 83.3%: below */
    xg_od_candidate out[6];
    double mean, thr;
    size_t k = xg_od_interval(&o, v, 3, false, out, &mean, &thr);
    CHECK_EQ_INT(k, 1);
    CHECK_EQ_INT(out[0].index, 1);
    CHECK_EQ_INT(out[0].type, XG_OD_FAILURE_PERCENTAGE);
    /* a host under failure_percentage_request_volume makes the count too small */
    hs[2].total = 49;
    k = xg_od_interval(&o, v, 3, false, out, &mean, &thr);
    CHECK_EQ_INT(k, 0);
    /* local origin counts are separate */
    set_counts(&hs[2], 60, 60);
    hs[0].local_total = hs[1].local_total = hs[2].local_total = 100;
    hs[0].local_success = hs[1].local_success = 100;
    k = xg_od_interval(&o, v, 3, true, out, &mean, &thr);
    CHECK_EQ_INT(k, 1);
    CHECK_EQ_INT(out[0].index, 2);
    CHECK_EQ_INT(out[0].type, XG_OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN);
}

/* --- worker-side counting --- */

typedef struct seen_report {
    uint32_t runs[3];
    uint32_t epoch;
} seen_report;

static seen_report reports[64];
static int n_reports, n_traffic;

static void fake_runs(void *arg, const xg_host *h, const uint32_t runs[3], uint32_t epoch)
{
    if (n_reports < 64)
        reports[n_reports++] = (seen_report){{runs[0], runs[1], runs[2]}, epoch};
}

static void fake_traffic(void *arg, const char *cluster)
{
    n_traffic++;
}

static xg_outlier tcfg;
static xg_cluster ccfg;
static xg_cluster_rt rt;
static xg_host host;
static xg_host *tab[8];

static void setup(unsigned workers)
{
    tcfg = od_defaults();
    ccfg = (xg_cluster){.name = "c", .outlier = &tcfg};
    rt = (xg_cluster_rt){.name = "c", .cfg = &ccfg, .tab = tab, .tab_mask = 7, .n_hosts = 1};
    host = (xg_host){.cluster = &rt};
    struct sockaddr_in *in = (struct sockaddr_in *)&host.addr;
    in->sin_family = AF_INET;
    in->sin_port = htons(80);
    host.addrlen = sizeof *in;
    memset(tab, 0, sizeof tab);
    tab[3] = &host;
    n_reports = n_traffic = 0;
    xg_outlier_sink s = {.n_workers = workers, .runs = fake_runs, .traffic = fake_traffic};
    xg_outlier_set_sink(&s);
}

static xg_headers resp(xg_arena *a, int status)
{
    xg_headers h;
    xg_headers_init(&h, a);
    h.status = (uint16_t)status;
    return h;
}

XG_TEST(one_worker_reports_at_the_threshold)
{
    setup(1);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers r500 = resp(&a, 500), r200 = resp(&a, 200);
    for (int i = 0; i < 4; i++)
        xg_outlier_put_response(&host, &r500, true);
    CHECK_EQ_INT(n_reports, 0);
    xg_outlier_put_response(&host, &r500, true);
    CHECK_EQ_INT(n_reports, 1);
    CHECK_EQ_INT(reports[0].runs[0], 5);
    CHECK_EQ_INT(reports[0].runs[1], 0); /* 500 is not a gateway failure */
    /* a success after a reported run reports the end of it */
    xg_outlier_put_response(&host, &r200, true);
    CHECK_EQ_INT(n_reports, 2);
    CHECK_EQ_INT(reports[1].runs[0], 0);
    /* and another success reports nothing */
    xg_outlier_put_response(&host, &r200, true);
    CHECK_EQ_INT(n_reports, 2);
    CHECK_EQ_INT(host.od.total, 7);
    CHECK_EQ_INT(host.od.success, 2);
    xg_arena_dispose(&a);
}

XG_TEST(two_workers_report_every_half_threshold)
{
    setup(2);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers r503 = resp(&a, 503), r500 = resp(&a, 500);
    xg_outlier_put_response(&host, &r503, true);
    CHECK_EQ_INT(n_reports, 0);
    xg_outlier_put_response(&host, &r503, true); /* step = 5 / 2 = 2: one report for both runs */
    CHECK_EQ_INT(n_reports, 1);
    CHECK_EQ_INT(reports[0].runs[0], 2);
    CHECK_EQ_INT(reports[0].runs[1], 2); /* 503 is a gateway failure too */
    /* a 500 ends the gateway run (reported: told 2), extends 5xx */
    xg_outlier_put_response(&host, &r500, true);
    CHECK_EQ_INT(n_reports, 2);
    CHECK_EQ_INT(reports[1].runs[0], 3);
    CHECK_EQ_INT(reports[1].runs[1], 0);
    xg_outlier_put_response(&host, &r500, true); /* 4: a step */
    xg_outlier_put_response(&host, &r500, true); /* 5: the threshold */
    CHECK_EQ_INT(n_reports, 4);
    CHECK_EQ_INT(reports[3].runs[0], 5);
    xg_arena_dispose(&a);
}

/* Past the threshold a worker stays quiet: the main thread has the run and
 * restarts it (new epoch) whether or not it could eject; before, 8 workers
 * and a threshold of 5 meant one post per failed request. */
XG_TEST(no_report_past_the_threshold_until_the_run_restarts)
{
    setup(8);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers r500 = resp(&a, 500);
    for (int i = 0; i < 5; i++)
        xg_outlier_put_response(&host, &r500, true); /* step 5 / 8 -> 1: a report each, up to 5 */
    CHECK_EQ_INT(n_reports, 5);
    for (int i = 0; i < 50; i++)
        xg_outlier_put_response(&host, &r500, true);
    CHECK_EQ_INT(n_reports, 5);
    xg_outlier_reset_runs(&host, 1u << XG_OD_RUN_5XX, 2); /* the main thread restarted the run */
    xg_outlier_put_response(&host, &r500, true);
    CHECK_EQ_INT(n_reports, 6);
    CHECK_EQ_INT(reports[5].runs[0], 1);
    CHECK_EQ_INT(reports[5].epoch, 2);
    xg_arena_dispose(&a);
}

XG_TEST(resets_and_timeouts_count_as_503_and_504_or_local)
{
    setup(1);
    xg_outlier_put_reset(&host, XG_UPSTREAM_CONNECT_FAILURE);
    xg_outlier_put_timeout(&host);
    xg_outlier_put_reset(&host, XG_UPSTREAM_OVERFLOW); /* not the host's fault */
    CHECK_EQ_INT(host.od.total, 2);
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_5XX], 2);
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_GATEWAY], 2);
    setup(1);
    tcfg.split_external_local_origin_errors = true;
    xg_outlier_put_reset(&host, XG_UPSTREAM_CONN_TERMINATION);
    xg_outlier_put_timeout(&host);
    CHECK_EQ_INT(host.od.total, 0);
    CHECK_EQ_INT(host.od.local_total, 2);
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_LOCAL], 2);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers r502 = resp(&a, 502);
    xg_outlier_put_response(&host, &r502, true); /* the connection worked: the local run ends */
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_LOCAL], 0);
    CHECK_EQ_INT(host.od.local_success, 1);
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_GATEWAY], 1);
    xg_arena_dispose(&a);
}

XG_TEST(grpc_trailers_only_status_counts)
{
    setup(1);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers h = resp(&a, 200);
    xg_headers_add_copy(&h, "content-type", 12, "application/grpc", 16);
    xg_headers_add_copy(&h, "grpc-status", 11, "14", 2); /* UNAVAILABLE -> 503 */
    xg_outlier_put_response(&host, &h, true);
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_GATEWAY], 1);
    xg_outlier_put_response(&host, &h, false); /* with a body: the status is the HTTP one */
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_5XX], 0);
    CHECK_EQ_INT(xg_grpc_to_http_status(0), 200);
    CHECK_EQ_INT(xg_grpc_to_http_status(4), 504);
    CHECK_EQ_INT(xg_grpc_to_http_status(16), 401);
    CHECK_EQ_INT(xg_grpc_to_http_status(99), 500);
    xg_arena_dispose(&a);
}

XG_TEST(reset_runs_and_collect)
{
    setup(1);
    xg_outlier_put_reset(&host, XG_UPSTREAM_CONNECT_FAILURE);
    xg_outlier_reset_runs(&host, 1u << XG_OD_RUN_5XX, 7);
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_5XX], 0);
    CHECK_EQ_INT(host.od.run[XG_OD_RUN_GATEWAY], 1);
    CHECK_EQ_INT(host.od.epoch, 7);
    xg_outlier_counts c[1];
    CHECK_EQ_INT(xg_outlier_collect(&rt, c), 1);
    CHECK_EQ_INT(c[0].total, 1);
    CHECK_EQ_INT(c[0].success, 0);
    CHECK_EQ_INT(host.od.total, 0);
    CHECK_EQ_INT(xg_outlier_collect(&rt, c), 1);
    CHECK_EQ_INT(c[0].total, 0);
}

XG_TEST(traffic_is_told_once_for_health_checked_clusters)
{
    setup(1);
    xg_outlier_put_timeout(&host);
    CHECK_EQ_INT(n_traffic, 0); /* no health checks */
    xg_health_check hc = {0};
    ccfg.health_checks = &hc;
    ccfg.n_health_checks = 1;
    ccfg.outlier = NULL;
    xg_outlier_put_timeout(&host);
    xg_outlier_put_timeout(&host);
    CHECK_EQ_INT(n_traffic, 1);
    CHECK_EQ_INT(host.od.total, 1); /* only the first timeout, when the cluster had outlier detection */
}
