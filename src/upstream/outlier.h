/* Outlier detection's decisions, as Envoy's DetectorImpl makes them: which
 * consecutive-error runs trigger, whether another host may be ejected
 * (max_ejection_percent, always_eject_one_host), the enforcing_* dice, how
 * long an ejection lasts (base_ejection_time times the ejection multiplier,
 * capped by max_ejection_time, plus jitter), when the multiplier decays, and
 * the success-rate and failure-percentage statistics of one interval. Pure:
 * no I/O, no clock (times are milliseconds from any monotonic origin); the
 * main thread's detector (outlier_mgr.c) drives it. */
#ifndef XG_UPSTREAM_OUTLIER_H
#define XG_UPSTREAM_OUTLIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/rng.h"
#include "config/cluster.h"

/* The consecutive-error runs a worker counts per host (outlier_report.h). */
enum { XG_OD_RUN_5XX, XG_OD_RUN_GATEWAY, XG_OD_RUN_LOCAL, XG_OD_NRUNS };

/* Why a host is ejected (Envoy's OutlierEjectionType, same names in logs). */
typedef enum xg_od_type {
    XG_OD_CONSECUTIVE_5XX,
    XG_OD_CONSECUTIVE_GATEWAY_FAILURE,
    XG_OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE,
    XG_OD_SUCCESS_RATE,
    XG_OD_SUCCESS_RATE_LOCAL_ORIGIN,
    XG_OD_FAILURE_PERCENTAGE,
    XG_OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN,
} xg_od_type;

/* "consecutive_5xx", "success_rate", ... never NULL. */
const char *xg_od_type_name(xg_od_type t);

/* The detector's view of one host (main thread). */
typedef struct xg_od_host {
    bool ejected;               /* FAILED_OUTLIER_CHECK */
    uint32_t num_ejections;     /* ever */
    uint32_t backoff;           /* the ejection-time multiplier */
    int64_t last_ejection_ms;   /* valid once num_ejections > 0 */
    int64_t last_unejection_ms; /* -1: never unejected */
    int64_t jitter_ms;          /* drawn at the last ejection */
    /* the last complete interval, summed over the workers */
    uint64_t total, success;             /* external origin (HTTP status) */
    uint64_t local_total, local_success; /* local origin (split mode only) */
    double success_rate;                 /* percent, -1: not computed this interval */
    double local_success_rate;
} xg_od_host;

void xg_od_host_init(xg_od_host *h);

/* The consecutive-error types whose runs (summed over the workers) reached
 * their thresholds: a mask of 1 << XG_OD_RUN_*. A threshold of 0 never
 * triggers. The local-origin run counts only in split mode. */
uint32_t xg_od_runs_detect(const xg_outlier *cfg, const uint32_t runs[XG_OD_NRUNS]);
/* The ejection type of a run. */
xg_od_type xg_od_run_type(int run);

/* The enforcing_* percentage for a type. */
uint32_t xg_od_enforcing(const xg_outlier *cfg, xg_od_type t);
/* The enforcing dice: true with probability enforcing/100. */
bool xg_od_enforced(const xg_outlier *cfg, xg_od_type t, xg_rng *rng);
/* May one more host be ejected now, with n_ejected of n_hosts out?
 * Envoy: (n_ejected + 1) / n_hosts <= max_ejection_percent, or none is out
 * and always_eject_one_host. */
bool xg_od_may_eject(const xg_outlier *cfg, uint32_t n_ejected, uint32_t n_hosts);

/* Ejects h at now: the multiplier grows (while base x multiplier < max +
 * base) and a jitter in [0, max_ejection_time_jitter] is drawn. */
void xg_od_eject(xg_od_host *h, const xg_outlier *cfg, int64_t now, xg_rng *rng);
/* How long the current ejection lasts: min(base x multiplier, max) + jitter. */
int64_t xg_od_ejection_ms(const xg_od_host *h, const xg_outlier *cfg);
/* True when h is ejected and its time is up at now. */
bool xg_od_uneject_due(const xg_od_host *h, const xg_outlier *cfg, int64_t now);
void xg_od_uneject(xg_od_host *h, int64_t now);
/* End of an interval: a host back in rotation for at least one interval
 * has its multiplier lowered by one. */
void xg_od_decay(xg_od_host *h, const xg_outlier *cfg, int64_t now);

/* Mean and ejection threshold (mean - factor x stdev, the population
 * standard deviation) of n >= 1 success rates. */
void xg_od_sr_threshold(const double *rates, size_t n, double factor, double *mean, double *threshold);

/* One success-rate or failure-percentage candidate. */
typedef struct xg_od_candidate {
    size_t index; /* into the hosts given */
    xg_od_type type;
} xg_od_candidate;

/* The success-rate and failure-percentage outcome of one interval for the
 * external (local false) or local-origin counts of hosts[0..n): fills each
 * non-ejected host's success rate (when it has the volume for either test),
 * *mean and *threshold (-1 when success-rate ejection did not run), and
 * writes the ejection candidates to out (room for 2n) in Envoy's order:
 * success-rate outliers first, then hosts at or above
 * failure_percentage_threshold. Returns the count (0 when out of memory:
 * the interval is skipped). */
size_t xg_od_interval(const xg_outlier *cfg, xg_od_host *const *hosts, size_t n, bool local, xg_od_candidate *out,
                      double *mean, double *threshold);

#endif
