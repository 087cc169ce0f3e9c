/* The router filter's retries: the retry state of a request, Envoy's
 * shouldRetry with the cluster's circuit breakers (num_retries, then
 * max_retries or the retry budget, whose unit is held from the decision
 * until the retried attempt's outcome), the jittered back-off, the per-try
 * and per-try idle timeouts (one libev timer at the earliest deadline), the
 * request body kept for retries up to the buffer limit (beyond it the
 * request is no longer retried, and one waiting for its retry is answered
 * 507), and the hosts already tried (previous_hosts). */
#include <string.h>

#include "core/error.h"
#include "filters/router_int.h"
#include "net/worker_listeners.h"
#include "upstream/breaker.h"
#include "upstream/outlier_report.h"
#include "upstream/resp_flags.h"

/* Host selection retries beyond this would only spin the balancer: a
 * predicate can reject at most the hosts already tried. */
#define MAX_HOST_SELECTION_RETRIES 64

static double now_of(const router *r)
{
    return ev_now(xg_stream_loop(r->base.stream)->ev);
}

static struct ev_loop *loop_of(const router *r)
{
    return xg_stream_loop(r->base.stream)->ev;
}

/* --- timers --- */

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents);

static void rearm(router *r)
{
    double d = 0, x[3] = {r->backoff ? r->backoff_at : 0, r->per_try_at,
                          r->per_try_idle > 0 && r->idle_seen > 0 ? r->idle_seen + r->per_try_idle : 0};
    for (int i = 0; i < 3; i++)
        if (x[i] > 0 && (d == 0 || x[i] < d))
            d = x[i];
    ev_timer_stop(loop_of(r), &r->timer);
    if (d == 0)
        return;
    double in = d - now_of(r);
    ev_timer_set(&r->timer, in > 0 ? in : 0, 0);
    ev_timer_start(loop_of(r), &r->timer);
}

void xg__router_per_try_start(router *r)
{
    double now = now_of(r);
    if (r->rs.per_try_timeout_ms > 0 && r->req_end && r->per_try_at == 0)
        r->per_try_at = now + (double)r->rs.per_try_timeout_ms / 1000.0;
    if (r->per_try_idle > 0)
        r->idle_seen = now;
    rearm(r);
}

void xg__router_activity(router *r)
{
    if (r->idle_seen > 0)
        r->idle_seen = now_of(r); /* the timer, when it fires early, re-arms from here */
}

void xg__router_per_try_stop(router *r)
{
    r->per_try_at = r->idle_seen = 0;
    if (r->timer_live)
        rearm(r);
}

void xg__router_timers_stop(router *r)
{
    r->backoff = false;
    r->backoff_at = r->per_try_at = r->idle_seen = 0;
    if (r->timer_live)
        ev_timer_stop(loop_of(r), &r->timer);
}

/* Envoy's onPerTryTimeoutCommon: the attempt is reset and retried as a
 * reset would be (5xx, gateway-error, reset...), or the answer is 504 UT
 * (UT,URX when retries ran out). */
static void per_try_expired(router *r, bool idle)
{
    xg_stream *s = r->base.stream;
    if (r->rt != NULL)
        ++*(idle ? &r->rt->stats.upstream_rq_per_try_idle_timeout : &r->rt->stats.upstream_rq_per_try_timeout);
    bool sent = r->up == NULL || xg_upstream_request_sent(r->up);
    /* Envoy: a per-try timeout counts on the host (outlier detection) when
     * the attempt had reached a connection there. */
    if (r->up != NULL && !r->up_done && xg_upstream_request_sent(r->up))
        xg_outlier_put_timeout(xg_upstream_request_host(r->up));
    xg__router_cancel_attempt(r);
    xg__router_per_try_stop(r);
    if (r->retrying && !r->resp_started &&
        xg__router_retry(r, xg_retry_would_on_reset(&r->rs, XG_RETRY_RESET_OTHER, sent), true) == XG_ROUTER_RETRY_YES)
        return;
    xg__router_retry_done(r);
    xg__router_timers_stop(r);
    const char *details = idle ? "upstream_per_try_idle_timeout" : "upstream_per_try_timeout";
    if (s->resp_started)
        xg_filter_reset_stream(&r->base, XG_RF_UT, details);
    else
        xg_filter_local_reply(&r->base, r->timeout_status, r->timeout_status == 504 ? "upstream request timeout" : NULL,
                              XG_RF_UT, details);
}

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    router *r = w->data;
    double now = ev_now(ev);
    if (r->backoff && now >= r->backoff_at) {
        r->backoff = false;
        r->backoff_at = 0;
        xg__router_attempt(r);
        return;
    }
    if (r->per_try_at > 0 && now >= r->per_try_at) {
        per_try_expired(r, false);
        return;
    }
    if (r->per_try_idle > 0 && r->idle_seen > 0 && now >= r->idle_seen + r->per_try_idle) {
        per_try_expired(r, true);
        return;
    }
    rearm(r);
}

/* --- decisions --- */

int xg__router_retry_init(router *r)
{
    xg_stream *s = r->base.stream;
    ev_init(&r->timer, on_timer);
    r->timer.data = r;
    r->timer_live = true;
    int rc = xg_retry_init(&r->rs, s->route->forward.retry, s->req, s->internal, &s->arena);
    if (r->rs.host_selection_retries > MAX_HOST_SELECTION_RETRIES)
        r->rs.host_selection_retries = MAX_HOST_SELECTION_RETRIES;
    r->per_try_idle = (double)r->rs.per_try_idle_timeout_ms / 1000.0;
    r->retrying = xg_retry_enabled(&r->rs);
    return rc;
}

/* Envoy's resetRetry: the unit taken for the previous retry goes back. */
static void release_unit(router *r)
{
    xg_cluster_rt *rt = r->hold_rt;
    if (rt == NULL)
        return;
    r->hold_rt = NULL;
    xg_breaker_dec(rt->breaker, r->priority, XG_BR_RETRIES);
    xg_cluster_rt_unref(rt);
}

static void schedule(router *r, bool timeout_retry)
{
    xg_worker_rt *w = xg_worker_rt_self();
    uint64_t ms = xg_retry_backoff_ms(&r->rs, w != NULL ? xg_rng_next(&w->rng) : (uint64_t)r->base.stream->random);
    r->timeout_retry = timeout_retry;
    r->backoff = true;
    r->backoff_at = now_of(r) + (double)ms / 1000.0;
    if (r->backoff_at <= 0)
        r->backoff_at = 1e-9;
    r->per_try_at = r->idle_seen = 0;
    rearm(r);
}

xg_router_retry xg__router_retry(router *r, bool would_retry, bool timeout_retry)
{
    xg_stream *s = r->base.stream;
    xg_cluster_rt *rt = r->rt;
    if (r->hold_rt != NULL && !would_retry)
        r->hold_rt->stats.upstream_rq_retry_success++;
    release_unit(r);
    if (!would_retry || rt == NULL)
        return XG_ROUTER_RETRY_NO;
    if (r->rs.remaining == 0) {
        rt->stats.upstream_rq_retry_limit_exceeded++;
        s->info.flags |= XG_RF_URX;
        return XG_ROUTER_RETRY_NO;
    }
    r->rs.remaining--;
    if (!xg_breaker_try_retry(rt->breaker, r->priority, &rt->cfg->thresholds[r->priority])) {
        rt->stats.upstream_rq_retry_overflow++;
        s->info.flags |= XG_RF_UO;
        return XG_ROUTER_RETRY_NO;
    }
    xg_cluster_rt_ref(rt);
    r->hold_rt = rt;
    rt->stats.upstream_rq_retry++;
    schedule(r, timeout_retry);
    return XG_ROUTER_RETRY_YES;
}

void xg__router_retry_done(router *r)
{
    r->retrying = false;
    r->trailers = NULL;
    xg_buf_dispose(&r->body);
    release_unit(r);
}

bool xg__router_keep(router *r, const char *p, size_t n)
{
    if (r->body.len + n <= r->body_limit && xg_buf_append(&r->body, p, n) == 0)
        return true;
    if (r->rt != NULL)
        r->rt->stats.retry_or_shadow_abandoned++;
    bool waiting = r->backoff;
    xg__router_retry_done(r);
    if (!waiting)
        return true;
    xg__router_timers_stop(r);
    xg_filter_local_reply(&r->base, 507, "exceeded request buffer limit while retrying upstream", 0,
                          "request_payload_exceeded_retry_buffer_limit");
    return false;
}

/* --- previous hosts --- */

void xg__router_tried(router *r, const xg_host *h)
{
    if (!r->rs.previous_hosts || h == NULL || xg__router_tried_before(r, h))
        return;
    if (r->n_tried == r->cap_tried) {
        uint32_t cap = r->cap_tried ? r->cap_tried * 2 : 4;
        uint64_t *v = xg_arena_alloc(&r->base.stream->arena, cap * sizeof *v);
        if (v == NULL)
            return; /* the predicate just knows fewer hosts */
        if (r->n_tried > 0)
            memcpy(v, r->tried, r->n_tried * sizeof *v);
        r->tried = v;
        r->cap_tried = cap;
    }
    r->tried[r->n_tried++] = h->hash;
}

bool xg__router_tried_before(const router *r, const xg_host *h)
{
    for (uint32_t i = 0; i < r->n_tried; i++)
        if (r->tried[i] == h->hash)
            return true;
    return false;
}
