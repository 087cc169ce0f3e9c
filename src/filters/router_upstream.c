/* One upstream attempt of the router filter: the per-attempt request
 * headers (x-envoy-attempt-count, x-envoy-is-timeout-retry, the expected
 * timeout), the start (host pick with the previous_hosts predicate, the
 * body and trailers kept for retries), the response callbacks (a response
 * or reset a retry condition covers goes to router_retry.c; anything else is
 * the answer), and Envoy's local replies for failures (503 UH/UF/UC/UR/UO,
 * 502 UPE, "retried and the latest reset reason" once retried) or a reset
 * once the response has started. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "filters/router_int.h"
#include "net/worker_listeners.h"
#include "router/route_action.h"
#include "router/route_timeout.h"
#include "upstream/resp_flags.h"

static double now_of(const router *r)
{
    return ev_now(xg_stream_loop(r->base.stream)->ev);
}

/* --- failures --- */

static const char *reset_reason(xg_upstream_reset why)
{
    switch (why) {
    case XG_UPSTREAM_OVERFLOW:
        return "overflow";
    case XG_UPSTREAM_CONNECT_FAILURE:
    case XG_UPSTREAM_CONNECT_TIMEOUT:
        return "connection failure";
    case XG_UPSTREAM_CONN_TERMINATION:
        return "connection termination";
    case XG_UPSTREAM_REMOTE_RESET:
        return "remote reset";
    case XG_UPSTREAM_REFUSED:
        return "remote refused stream reset";
    case XG_UPSTREAM_PROTOCOL_ERROR:
        return "protocol error";
    default:
        return "local reset";
    }
}

/* A TLS failure behind a connection failure, or NULL. */
static const char *transport_failure(const router *r, xg_upstream_reset why)
{
    return why == XG_UPSTREAM_CONNECT_FAILURE ? r->up_failure : NULL;
}

/* Envoy's body for a failure before the response: "upstream connect error or
 * disconnect/reset before headers. [retried and the latest ]reset reason: X
 * [, transport failure reason: TLS error: Y]". */
static const char *failure_body(router *r, xg_upstream_reset why)
{
    static const char head[] = "upstream connect error or disconnect/reset before headers. ";
    if (why == XG_UPSTREAM_NO_HEALTHY_HOST)
        return "no healthy upstream";
    const char *retried = r->attempt > 1 ? "retried and the latest " : "", *reason = reset_reason(why);
    const char *tls = transport_failure(r, why);
    size_t n = sizeof head + strlen(retried) + strlen(reason) + (tls ? strlen(tls) : 0) + 64;
    char *b = xg_arena_alloc(&r->base.stream->arena, n);
    if (b != NULL)
        snprintf(b, n, "%s%sreset reason: %s%s%s", head, retried, reason,
                 tls ? ", transport failure reason: TLS error: " : "", tls ? tls : "");
    return b;
}

/* Envoy's details with the transport failure reason, spaces as '_':
 * "upstream_reset_before_response_started{connection_failure,TLS_error:_...}". */
static const char *failure_details(router *r, xg_upstream_reset why, bool started)
{
    const char *base = xg_upstream_reset_detail(why, started), *tls = transport_failure(r, why);
    size_t n = strlen(base);
    char *d = tls != NULL && n > 0 ? xg_arena_alloc(&r->base.stream->arena, n + strlen(tls) + 16) : NULL;
    if (d == NULL)
        return base;
    int k = snprintf(d, n + strlen(tls) + 16, "%.*s,TLS_error:_%s}", (int)(n - 1), base, tls);
    for (int i = (int)n; i < k; i++)
        if (d[i] == ' ')
            d[i] = '_';
    return d;
}

void xg__router_fail(router *r, xg_upstream_reset why, bool started)
{
    xg__router_retry_done(r);
    xg__router_timers_stop(r);
    uint32_t flag = xg_upstream_reset_flag(why);
    const char *details = failure_details(r, why, started);
    if (started)
        xg_filter_reset_stream(&r->base, flag, details);
    else
        xg_filter_local_reply(&r->base, xg_upstream_reset_status(why), failure_body(r, why), flag, details);
}

static xg_retry_reset retry_reset_of(xg_upstream_reset why)
{
    switch (why) {
    case XG_UPSTREAM_CONNECT_FAILURE:
    case XG_UPSTREAM_CONNECT_TIMEOUT:
        return XG_RETRY_RESET_CONNECT_FAILURE;
    case XG_UPSTREAM_REFUSED:
        return XG_RETRY_RESET_REFUSED_STREAM;
    case XG_UPSTREAM_OVERFLOW:
        return XG_RETRY_RESET_OVERFLOW;
    default:
        return XG_RETRY_RESET_OTHER;
    }
}

/* The attempt ended without a response (sent: request bytes may have
 * reached the upstream): retried when a condition covers it, else the
 * answer. No healthy host is never retried (Envoy answers at once). */
static void attempt_failed(router *r, xg_upstream_reset why, bool sent)
{
    r->up = NULL;
    r->up_done = true;
    xg__router_per_try_stop(r);
    if (r->retrying && why != XG_UPSTREAM_NO_HEALTHY_HOST &&
        xg__router_retry(r, xg_retry_would_on_reset(&r->rs, retry_reset_of(why), sent), false) == XG_ROUTER_RETRY_YES)
        return;
    xg__router_fail(r, why, false);
}

void xg__router_cancel_attempt(router *r)
{
    if (r->up != NULL && !r->up_done)
        xg_upstream_cancel(r->up);
    r->up = NULL;
    r->up_done = true;
}

void xg__router_ack(router *r)
{
    if (r->owed_req == 0 || r->backoff || (r->up != NULL && !r->up_done && xg_upstream_send_blocked(r->up)))
        return;
    size_t n = r->owed_req;
    r->owed_req = 0;
    xg_filter_request_consumed(&r->base, n);
}

/* --- response callbacks --- */

static void note_host(router *r)
{
    xg_host *h = r->up != NULL ? xg_upstream_request_host(r->up) : NULL;
    if (h != NULL) {
        _Static_assert(sizeof r->base.stream->info.upstream_host >= sizeof h->addr_str, "upstream_host too short");
        size_t n = strnlen(h->addr_str, sizeof h->addr_str - 1);
        memcpy(r->base.stream->info.upstream_host, h->addr_str, n);
        r->base.stream->info.upstream_host[n] = '\0';
    }
}

/* The attempt's response ended (or the response was handed on for good). */
static void attempt_complete(router *r)
{
    r->up_done = true;
    xg__router_per_try_stop(r);
    xg_stream_set_route_timeout(r->base.stream, 0);
}

/* Envoy's response-side x-envoy-* headers: the upstream service time (from
 * the end of the request, only once it ended) and the attempt count. */
static int envoy_response_headers(router *r, xg_headers *h)
{
    xg_stream *s = r->base.stream;
    int rc = 0;
    if (r->req_end && !xg__router_suppress(r)) {
        /* Rounded to the nearest ms as "%.0f" would (llrint: ties to even), no
         * floating-point formatting per request; never negative (ev_now
         * follows the wall clock). */
        double t = (now_of(r) - r->t_req_end) * 1000;
        char ms[XG_HDR_U64_MAX];
        size_t n = xg_hdr_u64(ms, t > 0 ? (uint64_t)llrint(t) : 0);
        rc = xg_headers_set(h, "x-envoy-upstream-service-time", 29, ms, n, true);
    }
    if (rc == 0 && s->vh != NULL && s->vh->include_attempt_count_in_response) {
        char n[XG_HDR_U64_MAX];
        size_t len = xg_hdr_u64(n, r->attempt);
        rc = xg_headers_set(h, "x-envoy-attempt-count", 21, n, len, true);
    }
    return rc;
}

static void up_headers(void *user, xg_headers *h, bool end_stream)
{
    router *r = user;
    xg_stream *s = r->base.stream;
    note_host(r);
    xg__router_activity(r);
    int err = 0;
    if (r->retrying &&
        xg__router_retry(r, xg_retry_would_on_headers(&r->rs, h, &s->arena, &err), false) == XG_ROUTER_RETRY_YES) {
        if (!end_stream)
            xg_upstream_cancel(r->up);
        r->up = NULL;
        r->up_done = true;
        return;
    }
    xg__router_retry_done(r);
    r->resp_started = true;
    if (end_stream)
        attempt_complete(r);
    else if (h->status == 101)
        xg_stream_set_route_timeout(s, 0);
    xg_hvar_ctx ctx = xg_stream_hvar_ctx(s, (const struct sockaddr *)&xg_upstream_request_host(r->up)->addr);
    int rc = xg_route_finalize_response(s->rc, s->vh, s->route, r->wc, h, &ctx);
    if (rc == 0)
        rc = envoy_response_headers(r, h);
    if (rc == 0)
        rc = xg_hash_policy_set_cookies(&r->hash, h); /* a generated hash cookie */
    if (rc != 0 || err != 0) {
        xg__router_cancel_attempt(r);
        xg__router_timers_stop(r);
        xg_filter_reset_stream(&r->base, XG_RF_LR, "internal_error");
        return;
    }
    s->info.details = "via_upstream";
    xg_filter_encode_headers(&r->base, h, end_stream);
}

static void up_data(void *user, const char *p, size_t n, bool end_stream)
{
    router *r = user;
    xg_stream *s = r->base.stream;
    if (end_stream)
        attempt_complete(r);
    else
        xg__router_activity(r);
    xg_filter_encode_data(&r->base, p, n, end_stream);
    if (r->up_done || s->ended)
        return;
    if (xg_filter_downstream_blocked(&r->base))
        r->owed_resp += n;
    else
        xg_upstream_consumed(r->up, n);
}

static void up_trailers(void *user, xg_headers *t)
{
    router *r = user;
    attempt_complete(r);
    xg_filter_encode_trailers(&r->base, t);
}

static void up_reset(void *user, xg_upstream_reset why, bool started)
{
    router *r = user;
    r->up_failure = xg_upstream_request_failure(r->up);
    note_host(r);
    if (!started) {
        attempt_failed(r, why, xg_upstream_request_sent(r->up));
        return;
    }
    r->up = NULL;
    r->up_done = true;
    xg__router_fail(r, why, true);
}

static void up_send_ready(void *user)
{
    router *r = user;
    xg__router_activity(r);
    xg__router_ack(r);
}

static const xg_upstream_cbs up_cbs = {
    .on_headers = up_headers,
    .on_data = up_data,
    .on_trailers = up_trailers,
    .on_reset = up_reset,
    .on_send_ready = up_send_ready,
};

/* --- starting an attempt --- */

/* auto_host_rewrite, as Envoy's UpstreamRequest::onPoolReady: the chosen
 * host's hostname (EDS Endpoint.hostname) becomes :authority, the old one
 * going to x-forwarded-host with append_x_forwarded_host. A host without a
 * hostname leaves the request as it is. */
static int on_host(void *user, const xg_host *h, xg_headers *req)
{
    router *r = user;
    const xg_route_forward_cold *fw = r->base.stream->route->forward.cold;
    if (fw->host_rewrite != XG_HOST_REWRITE_AUTO || h->hostname == NULL || h->hostname[0] == '\0')
        return 0;
    return xg_route_update_authority(req, h->hostname, strlen(h->hostname), fw->append_x_forwarded_host);
}

static bool reject_host(void *user, const xg_host *h)
{
    return xg__router_tried_before(user, h);
}

/* Envoy's setTimeoutHeaders for this attempt: the upstream is told the
 * per-try timeout, else the route timeout, less the time since the request
 * ended (at least 1 ms), in x-envoy-expected-rq-timeout-ms (unless
 * suppress_envoy_headers) and, for gRPC under max_grpc_timeout, grpc-timeout. */
static int timeout_headers(router *r)
{
    xg_stream *s = r->base.stream;
    uint64_t elapsed = r->req_end ? (uint64_t)((now_of(r) - r->t_req_end) * 1000) : 0;
    uint64_t expected = r->rs.per_try_timeout_ms != 0 ? r->rs.per_try_timeout_ms : r->timeout_ms;
    if (expected > 0 && r->timeout_ms > 0)
        expected =
            elapsed >= r->timeout_ms ? 1 : (expected < r->timeout_ms - elapsed ? expected : r->timeout_ms - elapsed);
    int rc = 0;
    if (expected > 0 && !xg__router_suppress(r)) {
        char ms[XG_HDR_U64_MAX];
        size_t n = xg_hdr_u64(ms, expected);
        rc = xg_headers_set(s->req, "x-envoy-expected-rq-timeout-ms", 30, ms, n, true);
    }
    if (rc == 0)
        rc =
            xg_route_set_grpc_timeout(&s->route->forward, s->cfg->max_stream_duration_ms, expected, s->req, s->is_grpc);
    return rc;
}

/* The headers only a retry carries: the attempt count and, with
 * include_is_timeout_retry_header, whether a per-try timeout caused it. */
static int retry_headers(router *r)
{
    xg_stream *s = r->base.stream;
    int rc = 0;
    if (s->vh != NULL && s->vh->include_request_attempt_count) {
        char n[XG_HDR_U64_MAX];
        size_t len = xg_hdr_u64(n, r->attempt);
        rc = xg_headers_set(s->req, "x-envoy-attempt-count", 21, n, len, true);
    }
    if (rc == 0 && s->vh != NULL && s->vh->include_is_timeout_retry_header)
        rc = xg_headers_set(s->req, "x-envoy-is-timeout-retry", 24, r->timeout_retry ? "true" : "false",
                            r->timeout_retry ? 4 : 5, false);
    if (s->attempt_count > 0)
        s->attempt_count = r->attempt;
    return rc;
}

/* The attempt's cluster, looked up again by name: a retry may find the
 * cluster updated (or gone: Envoy then answers no healthy upstream). */
static xg_cluster_rt *cluster_of(router *r)
{
    xg_worker_rt *w = xg_worker_rt_self();
    xg_cluster_rt *c = w != NULL ? xg_clusters_find(w->clusters, r->cluster_name, strlen(r->cluster_name)) : NULL;
    if (c != NULL && c != r->rt) {
        xg_cluster_rt_ref(c);
        if (r->rt != NULL)
            xg_cluster_rt_unref(r->rt);
        r->rt = c;
    }
    return c;
}

/* Sends what the request has so far to the new attempt (the first one has
 * nothing yet). */
static void replay(router *r)
{
    bool end = r->req_end && r->trailers == NULL;
    if (r->body.len > 0)
        (void)xg_upstream_send_data(r->up, r->body.data, r->body.len, end); /* failures show as the attempt's reset */
    if (r->req_end && r->trailers != NULL)
        (void)xg_upstream_send_trailers(r->up, r->trailers);
    xg__router_ack(r);
}

void xg__router_attempt(router *r)
{
    xg_stream *s = r->base.stream;
    xg_cluster_rt *c = cluster_of(r);
    r->attempt++;
    if (c == NULL) {
        xg__router_fail(r, XG_UPSTREAM_NO_HEALTHY_HOST, false);
        return;
    }
    if ((r->attempt > 1 && retry_headers(r) != 0) || timeout_headers(r) != 0) {
        xg__router_fail(r, XG_UPSTREAM_LOCAL_RESET, false);
        return;
    }
    xg_upstream_params p = {.cluster = c,
                            .headers = s->req,
                            .end_stream = r->req_end && r->body.len == 0 && r->trailers == NULL,
                            .arena = &s->arena,
                            .cb = &up_cbs,
                            .user = r,
                            .downstream_proto = xg_stream_proto(s),
                            .on_host = on_host,
                            .priority = r->priority,
                            .reject_host = r->rs.previous_hosts && r->n_tried > 0 ? reject_host : NULL,
                            .host_selection_retries = r->rs.host_selection_retries,
                            .lb = {.hash = r->hash.hash, .has_hash = r->hash.has_hash}};
    xg_upstream_reset why;
    xg_upstream_req *up = NULL;
    r->up_done = false;
    r->t_up = now_of(r);
    if (xg_upstream_request_start(&p, &up, &why) != 0) {
        attempt_failed(r, why, false);
        return;
    }
    r->up = up;
    xg__router_tried(r, xg_upstream_request_host(up));
    xg__router_per_try_start(r);
    replay(r);
}
