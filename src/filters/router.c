/* The router filter (envoy.filters.http.router), always the last filter:
 * answers no-route (404 NR), direct_response and redirect routes; for a
 * forwarding route picks the cluster, works out the timeouts and the retry
 * state (the route's, and for internal requests the x-envoy-* control
 * headers, which are removed from every request), applies the route's
 * request mutations and rewrites, and hands over to the attempts
 * (router_upstream.c, router_retry.c); streams the request body with
 * back-pressure, keeping it for retries up to the buffer limit; enforces
 * the route timeout (504 UT). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "filters/router_int.h"
#include "net/worker_listeners.h"
#include "router/header_mutation.h"
#include "router/route_action.h"
#include "router/route_match.h"
#include "router/route_timeout.h"
#include "upstream/outlier_report.h"
#include "upstream/resp_flags.h"

bool xg__router_suppress(const router *r)
{
    return r->cfg != NULL && r->cfg->suppress_envoy_headers;
}

/* --- complete answers: direct responses and redirects --- */

static int answer_headers(router *r, int status, size_t body_len, const xg_hstr *location, xg_headers **out)
{
    xg_stream *s = r->base.stream;
    xg_headers *h = xg_headers_new(&s->arena);
    char st[8], cl[24];
    int n = snprintf(st, sizeof(st), "%d", status), m = snprintf(cl, sizeof(cl), "%zu", body_len);
    if (h == NULL || xg_headers_set_pseudo(h, ":status", 7, st, (size_t)n) != 0)
        return XG_ENOMEM;
    int rc = body_len > 0 ? xg_headers_add_ref(h, "content-type", 12, "text/plain", 10) : 0;
    if (rc == 0)
        rc = xg_headers_add_copy(h, "content-length", 14, cl, (size_t)m);
    if (rc == 0 && location != NULL && location->len > 0)
        rc = xg_headers_add_ref(h, "location", 8, location->s, location->len);
    xg_hvar_ctx ctx = xg_stream_hvar_ctx(s, NULL);
    if (rc == 0)
        rc = xg_route_finalize_response(s->rc, s->vh, s->route, NULL, h, &ctx);
    *out = h;
    return rc;
}

static xg_filter_status answer(router *r, int status, const uint8_t *body, size_t len, const xg_hstr *location)
{
    xg_stream *s = r->base.stream;
    xg_headers *h;
    if (answer_headers(r, status, len, location, &h) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    s->info.details = "direct_response";
    s->info.local_reply = true;
    bool with_body = len > 0 && !s->is_head;
    xg_filter_encode_headers(&r->base, h, !with_body);
    if (with_body && !s->ended)
        xg_filter_encode_data(&r->base, (const char *)body, len, true);
    return XG_FILTER_STOP;
}

static xg_filter_status direct(router *r)
{
    xg_stream *s = r->base.stream;
    const xg_direct_response *d = &s->route->direct;
    xg_hstr loc = {0};
    if (xg_route_direct_has_location(d->status) &&
        xg_route_redirect_location(s->route, s->req, !xg__router_suppress(r), &loc) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    return answer(r, d->status, d->body, d->body_len, &loc);
}

static xg_filter_status redirect(router *r)
{
    xg_stream *s = r->base.stream;
    xg_hstr loc;
    if (xg_route_redirect_location(s->route, s->req, !xg__router_suppress(r), &loc) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    return answer(r, s->route->redirect.code, NULL, 0, &loc);
}

/* --- forwarding: the request's control headers --- */

void xg__router_start_timer(router *r)
{
    const xg_stream *s = r->base.stream;
    if (r->timer_started || s->resp_complete || s->ended)
        return;
    r->timer_started = true;
    if (r->timeout > 0)
        xg_stream_set_route_timeout(r->base.stream, r->timeout);
}

static bool header_u64(const xg_headers *h, const char *name, uint64_t *v)
{
    const xg_header *e = xg_headers_get(h, name, strlen(name));
    return e != NULL && xg_parse_uint64(e->value, e->value_len, v);
}

/* Envoy's strict_check_headers: a listed x-envoy-* header the request
 * carries must be valid (integers; known retry conditions). Returns the
 * first invalid one, or NULL. */
static const xg_header *strict_check(const router *r, const xg_headers *h)
{
    for (size_t i = 0; r->cfg != NULL && i < r->cfg->n_strict_check_headers; i++) {
        const xg_lstr *name = &r->cfg->strict_check_headers[i];
        const xg_header *e = xg_headers_get(h, name->s, name->len);
        uint64_t v;
        bool ok = true, grpc = strcmp(name->s, "x-envoy-retry-grpc-on") == 0;
        if (e == NULL)
            continue;
        if (grpc || strcmp(name->s, "x-envoy-retry-on") == 0)
            xg_retry_on_parse(e->value, e->value_len, grpc, &ok);
        else
            ok = xg_parse_uint64(e->value, e->value_len, &v);
        if (!ok)
            return e;
    }
    return NULL;
}

static bool strict_reject(router *r)
{
    xg_stream *s = r->base.stream;
    const xg_header *e = s->internal ? strict_check(r, s->req) : NULL;
    if (e == NULL)
        return false;
    char *body = xg_arena_alloc(&s->arena, e->name_len + e->value_len + 40);
    char *details = xg_arena_alloc(&s->arena, e->name_len + 40);
    if (body == NULL || details == NULL) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return true;
    }
    sprintf(body, "invalid header '%.*s' with value '%.*s'", (int)e->name_len, e->name, (int)e->value_len, e->value);
    sprintf(details, "request_headers_failed_strict_check{%.*s}", (int)e->name_len, e->name);
    xg_filter_local_reply(&r->base, 400, body, XG_RF_IH, details);
    return true;
}

/* Envoy's FilterUtility::finalTimeout: the route's timeout, which an
 * internal request may replace with x-envoy-upstream-rq-timeout-ms (or, with
 * respect_expected_rq_timeout, x-envoy-expected-rq-timeout-ms); a per-try
 * timeout not below it is dropped. */
static void timeouts(router *r)
{
    xg_stream *s = r->base.stream;
    uint64_t ms = xg_route_timeout_ms(&s->route->forward, s->req, s->is_grpc), v;
    bool respect = r->cfg != NULL && r->cfg->respect_expected_rq_timeout;
    if (s->internal && respect && xg_headers_get(s->req, "x-envoy-expected-rq-timeout-ms", 30) != NULL) {
        if (header_u64(s->req, "x-envoy-expected-rq-timeout-ms", &v))
            ms = v;
    } else if (s->internal && header_u64(s->req, "x-envoy-upstream-rq-timeout-ms", &v)) {
        ms = v;
    }
    if (s->internal && xg_headers_get(s->req, "x-envoy-upstream-rq-timeout-alt-response", 40) != NULL)
        r->timeout_status = 204;
    if (r->rs.per_try_timeout_ms >= ms && ms != 0)
        r->rs.per_try_timeout_ms = 0;
    r->timeout_ms = ms;
    r->timeout = (double)ms / 1000.0;
}

/* The router's control headers never go upstream (Envoy consumes them from
 * internal requests; the connection manager strips them from external
 * ones). */
static bool is_control_header(const char *name, size_t len)
{
    static const xg_lstr timeouts[] = {{"x-envoy-upstream-rq-timeout-ms", 30},
                                       {"x-envoy-upstream-rq-timeout-alt-response", 40},
                                       {"x-envoy-expected-rq-timeout-ms", 30}};
    for (size_t i = 0; i < xg_n_retry_request_headers; i++)
        if (xg_hdr_name_eq(name, len, xg_retry_request_headers[i].s, xg_retry_request_headers[i].len))
            return true;
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++)
        if (xg_hdr_name_eq(name, len, timeouts[i].s, timeouts[i].len))
            return true;
    return false;
}

/* One pass over the request: every control header starts with x-envoy-,
 * which most requests have none of (ten lookups by name cost more). */
static void strip_control_headers(xg_headers *h)
{
    for (uint32_t i = 0; i < h->n;) {
        const xg_header *e = &h->v[i];
        if (e->name_len > 8 && xg_hdr_name_eq(e->name, 8, "x-envoy-", 8) && is_control_header(e->name, e->name_len))
            xg_headers_remove_at(h, i);
        else
            i++;
    }
}

/* The per-request buffer limit for retries: the decoder buffer limit (the
 * listener's per_connection_buffer_limit_bytes, or a buffer filter's),
 * lowered by the route's (else the virtual host's)
 * per_request_buffer_limit_bytes. */
static uint32_t body_limit(const xg_stream *s)
{
    uint32_t lim = s->route->cold->per_request_buffer_limit_bytes;
    if (lim == 0 && s->vh != NULL)
        lim = s->vh->per_request_buffer_limit_bytes;
    return lim != 0 && lim < s->dec_limit ? lim : s->dec_limit;
}

static int prepare_upstream_headers(router *r, const xg_route_target *t)
{
    xg_stream *s = r->base.stream;
    xg_hvar_ctx ctx = xg_stream_hvar_ctx(s, NULL);
    int rc = xg_route_finalize_request(s->rc, s->vh, s->route, t->weighted, s->req, &ctx, !xg__router_suppress(r));
    strip_control_headers(s->req);
    if (rc == 0 && s->vh != NULL && s->vh->include_request_attempt_count)
        rc = xg_headers_set(s->req, "x-envoy-attempt-count", 21, "1", 1, false);
    if (s->vh != NULL && s->vh->include_attempt_count_in_response)
        s->attempt_count = 1;
    return rc;
}

static xg_filter_status forward(router *r, bool end_stream)
{
    xg_stream *s = r->base.stream;
    xg_worker_rt *w = xg_worker_rt_self();
    xg_route_target t;
    /* The weighted cluster was picked when the route was resolved (hcm_request.c). */
    if (xg_route_target_of(s->route, s->weighted, s->req, &s->arena, &t) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    xg_cluster_rt *c =
        w != NULL && t.cluster[0] != '\0' ? xg_clusters_find(w->clusters, t.cluster, strlen(t.cluster)) : NULL;
    s->info.cluster = t.cluster;
    if (c == NULL) {
        xg_filter_local_reply(&r->base, t.not_found_code, NULL, XG_RF_NC, "cluster_not_found");
        return XG_FILTER_STOP;
    }
    if (strict_reject(r))
        return XG_FILTER_STOP;
    r->wc = t.weighted;
    r->cluster_name = t.cluster;
    r->priority = s->route->forward.high_priority ? XG_PRIORITY_HIGH : XG_PRIORITY_DEFAULT;
    r->body_limit = body_limit(s);
    r->req_end = end_stream;
    if (end_stream)
        r->t_req_end = ev_now(xg_stream_loop(s)->ev);
    /* The route's hash, before the route's request mutations (Envoy). */
    xg_hash_input hin = {s->req, (const struct sockaddr *)&s->remote, xg_stream_local(s), &s->arena};
    const xg_route_forward_cold *fw = s->route->forward.cold;
    int rc = xg_hash_policy_for(fw->hash_policies, fw->n_hash_policies, xg_lb_policy_hashed(c->cfg->lb.policy), &hin,
                                &r->hash);
    if (rc == 0)
        rc = xg__router_retry_init(r);
    if (rc == 0) {
        timeouts(r);
        rc = prepare_upstream_headers(r, &t);
    }
    if (rc != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    s->info.t_upstream = ev_now(xg_stream_loop(s)->ev);
    xg__router_attempt(r);
    if (end_stream)
        xg__router_start_timer(r);
    return XG_FILTER_STOP;
}

/* --- filter hooks --- */

static xg_filter_status decode_headers(xg_filter *f, xg_headers *h, bool end_stream)
{
    router *r = (router *)f;
    xg_stream *s = f->stream;
    if (s->route == NULL) {
        xg_filter_local_reply(f, 404, NULL, XG_RF_NR, "route_not_found");
        return XG_FILTER_STOP;
    }
    switch (s->route->action) {
    case XG_ROUTE_DIRECT_RESPONSE:
        return direct(r);
    case XG_ROUTE_REDIRECT:
        return redirect(r);
    default:
        return forward(r, end_stream);
    }
}

static void request_ended(router *r)
{
    r->req_end = true;
    r->t_req_end = ev_now(xg_stream_loop(r->base.stream)->ev);
    xg__router_start_timer(r);
    if (r->up != NULL && !r->up_done)
        xg__router_per_try_start(r);
}

static xg_filter_status decode_data(xg_filter *f, const char *p, size_t n, bool end_stream)
{
    router *r = (router *)f;
    if (r->cluster_name == NULL || (r->up_done && !r->backoff)) {
        xg_filter_request_consumed(f, n); /* nothing will read it (answered, or the response is done) */
        return XG_FILTER_CONTINUE;
    }
    if (r->retrying && !xg__router_keep(r, p, n))
        return XG_FILTER_STOP;
    r->owed_req += n;
    if (r->up != NULL && !r->up_done) {
        if (xg_upstream_send_data(r->up, p, n, end_stream) == 0)
            xg__router_activity(r);
        xg__router_ack(r);
    }
    if (end_stream)
        request_ended(r);
    return XG_FILTER_CONTINUE;
}

static xg_filter_status decode_trailers(xg_filter *f, xg_headers *t)
{
    router *r = (router *)f;
    if (r->cluster_name == NULL || (r->up_done && !r->backoff))
        return XG_FILTER_CONTINUE;
    if (r->retrying)
        r->trailers = t;
    if (r->up != NULL && !r->up_done)
        (void)xg_upstream_send_trailers(r->up, t); /* a failure shows as the attempt's reset */
    request_ended(r);
    return XG_FILTER_CONTINUE;
}

static void on_downstream_ready(xg_filter *f)
{
    router *r = (router *)f;
    if (r->owed_resp == 0 || r->up == NULL || r->up_done || xg_filter_downstream_blocked(f))
        return;
    size_t n = r->owed_resp;
    r->owed_resp = 0;
    xg_upstream_consumed(r->up, n);
}

static void on_destroy(xg_filter *f)
{
    router *r = (router *)f;
    xg__router_cancel_attempt(r);
    xg__router_retry_done(r);
    xg__router_timers_stop(r);
    if (r->rt != NULL)
        xg_cluster_rt_unref(r->rt);
    r->rt = NULL;
}

void xg__router_on_route_timeout(xg_filter *f)
{
    router *r = (router *)f;
    xg_stream *s = f->stream;
    if (r->rt != NULL)
        r->rt->stats.upstream_rq_timeout++;
    /* Envoy: a timeout before the answer counts on the host, once the
     * request had a connection there (one still queued in the pool, e.g. at
     * max_connections, says nothing about the host). */
    if (r->up != NULL && !r->up_done && !r->resp_started && xg_upstream_request_sent(r->up))
        xg_outlier_put_timeout(xg_upstream_request_host(r->up));
    xg__router_cancel_attempt(r);
    xg__router_retry_done(r);
    xg__router_timers_stop(r);
    if (s->resp_started)
        xg_filter_reset_stream(f, XG_RF_UT, "upstream_response_timeout");
    else
        xg_filter_local_reply(f, r->timeout_status, r->timeout_status == 504 ? "upstream request timeout" : NULL,
                              XG_RF_UT, "upstream_response_timeout");
}

static const xg_filter_vt router_vt = {
    .name = "envoy.filters.http.router",
    .decode_headers = decode_headers,
    .decode_data = decode_data,
    .decode_trailers = decode_trailers,
    .on_downstream_ready = on_downstream_ready,
    .on_destroy = on_destroy,
};

xg_filter *xg_router_filter_create(xg_stream *s, const xg_http_filter *cfg)
{
    router *r = xg_arena_alloc(&s->arena, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->base.vt = &router_vt;
    r->cfg = cfg->translated;
    r->up_done = true;
    r->timeout_status = 504;
    xg_buf_init(&r->body);
    return &r->base;
}
