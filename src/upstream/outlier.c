/* Outlier detection's decisions and statistics (outlier.h), following
 * Envoy's DetectorImpl: ejectHost, checkHostForUneject, onIntervalTimer and
 * processSuccessRateEjections. */
#include <math.h>
#include <stdlib.h>

#include "upstream/outlier.h"

const char *xg_od_type_name(xg_od_type t)
{
    static const char *const names[] = {
        [XG_OD_CONSECUTIVE_5XX] = "consecutive_5xx",
        [XG_OD_CONSECUTIVE_GATEWAY_FAILURE] = "consecutive_gateway_failure",
        [XG_OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE] = "consecutive_local_origin_failure",
        [XG_OD_SUCCESS_RATE] = "success_rate",
        [XG_OD_SUCCESS_RATE_LOCAL_ORIGIN] = "success_rate_local_origin",
        [XG_OD_FAILURE_PERCENTAGE] = "failure_percentage",
        [XG_OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN] = "failure_percentage_local_origin",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

void xg_od_host_init(xg_od_host *h)
{
    *h = (xg_od_host){.last_unejection_ms = -1, .success_rate = -1, .local_success_rate = -1};
}

uint32_t xg_od_runs_detect(const xg_outlier *cfg, const uint32_t runs[XG_OD_NRUNS])
{
    uint32_t mask = 0;
    if (cfg->consecutive_5xx > 0 && runs[XG_OD_RUN_5XX] >= cfg->consecutive_5xx)
        mask |= 1u << XG_OD_RUN_5XX;
    if (cfg->consecutive_gateway_failure > 0 && runs[XG_OD_RUN_GATEWAY] >= cfg->consecutive_gateway_failure)
        mask |= 1u << XG_OD_RUN_GATEWAY;
    if (cfg->split_external_local_origin_errors && cfg->consecutive_local_origin_failure > 0 &&
        runs[XG_OD_RUN_LOCAL] >= cfg->consecutive_local_origin_failure)
        mask |= 1u << XG_OD_RUN_LOCAL;
    return mask;
}

xg_od_type xg_od_run_type(int run)
{
    return run == XG_OD_RUN_5XX       ? XG_OD_CONSECUTIVE_5XX
           : run == XG_OD_RUN_GATEWAY ? XG_OD_CONSECUTIVE_GATEWAY_FAILURE
                                      : XG_OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE;
}

uint32_t xg_od_enforcing(const xg_outlier *cfg, xg_od_type t)
{
    switch (t) {
    case XG_OD_CONSECUTIVE_5XX:
        return cfg->enforcing_consecutive_5xx;
    case XG_OD_CONSECUTIVE_GATEWAY_FAILURE:
        return cfg->enforcing_consecutive_gateway_failure;
    case XG_OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE:
        return cfg->enforcing_consecutive_local_origin_failure;
    case XG_OD_SUCCESS_RATE:
        return cfg->enforcing_success_rate;
    case XG_OD_SUCCESS_RATE_LOCAL_ORIGIN:
        return cfg->enforcing_local_origin_success_rate;
    case XG_OD_FAILURE_PERCENTAGE:
        return cfg->enforcing_failure_percentage;
    default:
        return cfg->enforcing_failure_percentage_local_origin;
    }
}

bool xg_od_enforced(const xg_outlier *cfg, xg_od_type t, xg_rng *rng)
{
    uint32_t pct = xg_od_enforcing(cfg, t);
    return pct >= 100 || (pct > 0 && xg_rng_below(rng, 100) < pct);
}

bool xg_od_may_eject(const xg_outlier *cfg, uint32_t n_ejected, uint32_t n_hosts)
{
    if (n_hosts == 0)
        return false;
    if (cfg->always_eject_one_host && n_ejected == 0)
        return true;
    uint32_t max = cfg->max_ejection_percent > 100 ? 100 : cfg->max_ejection_percent;
    return 100.0 * (double)(n_ejected + 1) / (double)n_hosts <= (double)max;
}

void xg_od_eject(xg_od_host *h, const xg_outlier *cfg, int64_t now, xg_rng *rng)
{
    h->ejected = true;
    h->num_ejections++;
    h->last_ejection_ms = now;
    h->jitter_ms = (int64_t)(xg_rng_next(rng) % (uint64_t)(cfg->max_ejection_time_jitter_ms + 1));
    if ((int64_t)h->backoff * cfg->base_ejection_time_ms < cfg->max_ejection_time_ms + cfg->base_ejection_time_ms)
        h->backoff++;
}

int64_t xg_od_ejection_ms(const xg_od_host *h, const xg_outlier *cfg)
{
    int64_t t = (int64_t)h->backoff * cfg->base_ejection_time_ms;
    return (t < cfg->max_ejection_time_ms ? t : cfg->max_ejection_time_ms) + h->jitter_ms;
}

bool xg_od_uneject_due(const xg_od_host *h, const xg_outlier *cfg, int64_t now)
{
    return h->ejected && xg_od_ejection_ms(h, cfg) <= now - h->last_ejection_ms;
}

void xg_od_uneject(xg_od_host *h, int64_t now)
{
    h->ejected = false;
    h->last_unejection_ms = now;
}

void xg_od_decay(xg_od_host *h, const xg_outlier *cfg, int64_t now)
{
    if (!h->ejected && h->last_unejection_ms >= 0 && now - h->last_unejection_ms >= cfg->interval_ms && h->backoff > 0)
        h->backoff--;
}

void xg_od_sr_threshold(const double *rates, size_t n, double factor, double *mean, double *threshold)
{
    double sum = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        sum += rates[i];
    *mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        var += (rates[i] - *mean) * (rates[i] - *mean);
    *threshold = *mean - factor * sqrt(var / (double)n);
}

/* A host's rate and volume for the interval; false when it had no request. */
static bool rate_of(xg_od_host *h, bool local, double *rate, uint64_t *volume)
{
    uint64_t total = local ? h->local_total : h->total, ok = local ? h->local_success : h->success;
    if (total == 0)
        return false;
    *rate = 100.0 * (double)ok / (double)total;
    *volume = total;
    return true;
}

/* Success-rate outliers among the valid hosts idx[0..nv) with rates r. */
static size_t sr_outliers(const xg_outlier *cfg, const size_t *idx, const double *r, size_t nv, bool local,
                          xg_od_candidate *out, double *mean, double *thr)
{
    size_t k = 0;
    if (nv == 0 || nv < cfg->success_rate_minimum_hosts)
        return 0;
    xg_od_sr_threshold(r, nv, cfg->success_rate_stdev_factor / 1000.0, mean, thr);
    for (size_t i = 0; i < nv; i++)
        if (r[i] < *thr)
            out[k++] = (xg_od_candidate){idx[i], local ? XG_OD_SUCCESS_RATE_LOCAL_ORIGIN : XG_OD_SUCCESS_RATE};
    return k;
}

/* The success-rate-valid hosts (volume >= success_rate_request_volume):
 * their indexes and rates; every non-ejected host with the volume for
 * either test gets its rate recorded. */
static size_t sr_valid(const xg_outlier *cfg, xg_od_host *const *hosts, size_t n, bool local, size_t *idx,
                       double *rates)
{
    uint64_t min_volume = cfg->success_rate_request_volume < cfg->failure_percentage_request_volume
                              ? cfg->success_rate_request_volume
                              : cfg->failure_percentage_request_volume;
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        double r;
        uint64_t vol;
        if (hosts[i]->ejected || !rate_of(hosts[i], local, &r, &vol))
            continue;
        if (vol >= min_volume)
            *(local ? &hosts[i]->local_success_rate : &hosts[i]->success_rate) = r;
        if (vol >= cfg->success_rate_request_volume) {
            idx[nv] = i;
            rates[nv++] = r;
        }
    }
    return nv;
}

/* Failure-percentage candidates, appended at out[k]. */
static size_t fp_outliers(const xg_outlier *cfg, xg_od_host *const *hosts, size_t n, bool local, xg_od_candidate *out,
                          size_t k)
{
    size_t nf = 0, first = k;
    for (size_t i = 0; i < n; i++) {
        double r;
        uint64_t vol;
        if (hosts[i]->ejected || !rate_of(hosts[i], local, &r, &vol) || vol < cfg->failure_percentage_request_volume)
            continue;
        nf++;
        if (100.0 - r >= cfg->failure_percentage_threshold)
            out[k++] = (xg_od_candidate){i, local ? XG_OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN : XG_OD_FAILURE_PERCENTAGE};
    }
    return nf > 0 && nf >= cfg->failure_percentage_minimum_hosts ? k : first;
}

size_t xg_od_interval(const xg_outlier *cfg, xg_od_host *const *hosts, size_t n, bool local, xg_od_candidate *out,
                      double *mean, double *threshold)
{
    *mean = *threshold = -1;
    for (size_t i = 0; i < n; i++)
        *(local ? &hosts[i]->local_success_rate : &hosts[i]->success_rate) = -1;
    if (n == 0 || (n < cfg->success_rate_minimum_hosts && n < cfg->failure_percentage_minimum_hosts))
        return 0;
    size_t *idx = malloc(n * sizeof *idx);
    double *rates = malloc(n * sizeof *rates);
    size_t k = 0;
    if (idx != NULL && rates != NULL) {
        size_t nv = sr_valid(cfg, hosts, n, local, idx, rates);
        k = sr_outliers(cfg, idx, rates, nv, local, out, mean, threshold);
        k = fp_outliers(cfg, hosts, n, local, out, k);
    }
    free(idx);
    free(rates);
    return k;
}
