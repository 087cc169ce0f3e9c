/* The active health-check state machine of one host and its check
 * intervals, following Envoy's ActiveHealthCheckSession (handleSuccess,
 * setUnhealthy, interval, intervalWithJitter). */
#include "upstream/health_sm.h"

const char *xg_hc_result_name(xg_hc_result r)
{
    switch (r) {
    case XG_HC_OK:
        return "ok";
    case XG_HC_FAIL:
        return "failed";
    case XG_HC_FAIL_RETRIABLE:
        return "retriable";
    case XG_HC_FAIL_NETWORK:
        return "network";
    default:
        return "timeout";
    }
}

void xg_hc_state_init(xg_hc_state *s, bool failed, bool pending)
{
    *s = (xg_hc_state){.failed = failed, .pending = pending, .first_check = true};
}

/* The first result ever clears "pending" and always counts as a change, so
 * that the balancers stop excluding the host. */
static xg_hc_transition clear_pending(xg_hc_state *s, xg_hc_transition t)
{
    if (!s->pending)
        return t;
    s->pending = false;
    return XG_HC_CHANGED;
}

static xg_hc_transition put_success(xg_hc_state *s, const xg_health_check *hc)
{
    xg_hc_transition t = XG_HC_UNCHANGED;
    s->n_unhealthy = 0;
    s->successes++;
    if (s->failed) {
        /* The very first result decides at once (Envoy: faster start-up). */
        if (s->first_check || ++s->n_healthy >= hc->healthy_threshold) {
            s->failed = false;
            s->timed_out = false;
            s->n_healthy = 0;
            t = XG_HC_CHANGED;
        } else {
            t = XG_HC_PENDING;
        }
    }
    return clear_pending(s, t);
}

static xg_hc_transition put_failure(xg_hc_state *s, const xg_health_check *hc, xg_hc_result r)
{
    xg_hc_transition t = XG_HC_UNCHANGED;
    bool network = r == XG_HC_FAIL_NETWORK || r == XG_HC_FAIL_TIMEOUT;
    s->n_healthy = 0;
    s->failures++;
    if (!s->failed) {
        /* A wrong answer fails at once; network trouble and retriable
         * statuses need unhealthy_threshold in a row. */
        if ((!network && r != XG_HC_FAIL_RETRIABLE) || ++s->n_unhealthy >= hc->unhealthy_threshold) {
            s->failed = true;
            s->n_unhealthy = 0;
            t = XG_HC_CHANGED;
        } else {
            t = XG_HC_PENDING;
        }
    }
    s->timed_out = r == XG_HC_FAIL_TIMEOUT && s->failed;
    return clear_pending(s, t);
}

xg_hc_transition xg_hc_state_put(xg_hc_state *s, const xg_health_check *hc, xg_hc_result r)
{
    xg_hc_transition t = r == XG_HC_OK ? put_success(s, hc) : put_failure(s, hc, r);
    s->first_check = false;
    return t;
}

static int64_t with_jitter(int64_t base, const xg_health_check *hc, xg_rng *rng)
{
    uint64_t pct = (uint64_t)hc->interval_jitter_percent * (uint64_t)base / 100;
    int64_t ms = base;
    if (pct > 0)
        ms += (int64_t)(xg_rng_next(rng) % pct);
    if (hc->interval_jitter_ms > 0)
        ms += (int64_t)(xg_rng_next(rng) % (uint64_t)hc->interval_jitter_ms);
    return ms > 0 ? ms : 1; /* never 0: no busy loop */
}

int64_t xg_hc_interval_ms(const xg_health_check *hc, bool ok, xg_hc_transition t, bool traffic, xg_rng *rng)
{
    int64_t base;
    if (!traffic)
        base = ok && t != XG_HC_PENDING ? hc->no_traffic_healthy_interval_ms : hc->no_traffic_interval_ms;
    else if (!ok)
        base = t == XG_HC_PENDING ? hc->unhealthy_edge_interval_ms : hc->unhealthy_interval_ms;
    else
        base = t == XG_HC_PENDING ? hc->healthy_edge_interval_ms : hc->interval_ms;
    return with_jitter(base, hc, rng);
}

int64_t xg_hc_initial_delay_ms(const xg_health_check *hc, xg_rng *rng)
{
    if (hc->initial_jitter_ms <= 0)
        return 0;
    return (int64_t)(xg_rng_next(rng) % (uint64_t)hc->initial_jitter_ms);
}
