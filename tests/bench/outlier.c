/* Benchmark (make bench, not a test): what outlier detection costs a
 * request on the worker (upstream/outlier_report.h). Each upstream response
 * is counted on its host: a plain per-worker counter update, and, only when
 * a run of consecutive errors grows by a step, a report to the main thread.
 * Measures xg_outlier_put_response for a cluster without outlier detection
 * (one branch), with it and all 200s, with it and a 5xx every tenth
 * response (runs end early: no report), and with every response a 5xx on 2
 * workers' thresholds (a report every 2 errors, here to a sink that only
 * counts; the real one allocates and posts). Prints nanoseconds per call. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "upstream/outlier_report.h"

#define N 20000000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static unsigned long reports;

static void count_runs(void *arg, const xg_host *h, const uint32_t runs[3], uint32_t epoch)
{
    reports++;
}

static double run(xg_host *h, const xg_headers *ok, const xg_headers *bad, int every_bad)
{
    double t0 = now_ns();
    for (long i = 0; i < N; i++)
        xg_outlier_put_response(h, every_bad > 0 && i % every_bad == 0 ? bad : ok, false);
    return (now_ns() - t0) / N;
}

int main(void)
{
    xg_outlier od = {.consecutive_5xx = 5, .consecutive_gateway_failure = 5, .interval_ms = 10000};
    xg_cluster cfg = {.name = "c"};
    xg_cluster_rt rt = {.name = "c", .cfg = &cfg};
    xg_host h = {.cluster = &rt};
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers ok, bad;
    xg_headers_init(&ok, &a);
    xg_headers_init(&bad, &a);
    ok.status = 200;
    bad.status = 503;
    xg_outlier_set_sink(&(xg_outlier_sink){.n_workers = 2, .runs = count_runs});
    printf("outlier detection off:              %5.2f ns/response\n", run(&h, &ok, &bad, 0));
    cfg.outlier = &od;
    printf("on, all 200:                        %5.2f ns/response\n", run(&h, &ok, &bad, 0));
    double t = run(&h, &ok, &bad, 10);
    printf("on, a 503 every 10th:               %5.2f ns/response (%lu reports)\n", t, reports);
    reports = 0;
    t = run(&h, &ok, &bad, 1);
    printf("on, all 503 (a report every 2nd):   %5.2f ns/response (%lu reports)\n", t, reports);
    xg_arena_dispose(&a);
    return 0;
}
