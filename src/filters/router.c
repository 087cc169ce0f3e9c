/* The router filter (envoy.filters.http.router), always the last filter:
 * answers no-route (404 NR), direct_response and redirect routes; for a
 * forwarding route picks the cluster, applies the route's request
 * mutations and rewrites, starts the upstream request (upstream/upstream.h)
 * and streams both bodies with back-pressure; applies the response header
 * mutations; enforces the route timeout (504 UT); turns upstream failures
 * into Envoy's local replies (503 UH/UF/UO, 502 UPE) or a reset once the
 * response has started. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "http/stream.h"
#include "net/worker_listeners.h"
#include "router/header_mutation.h"
#include "router/route_action.h"
#include "router/route_match.h"
#include "router/route_timeout.h"
#include "upstream/resp_flags.h"
#include "upstream/upstream.h"

typedef struct router {
    xg_filter base; /* first */
    const xg_router_config *cfg;
    const xg_weighted_cluster *wc;
    xg_upstream_req *up;
    double t_up;      /* when the upstream request started */
    double timeout;   /* seconds, 0: none */
    size_t owed_req;  /* request bytes forwarded while the upstream side was full */
    size_t owed_resp; /* response bytes taken while the downstream was full */
    bool up_done;     /* the upstream request reached its terminal event (or was cancelled) */
    bool timer_started;
} router;

static bool suppress(const router *r)
{
    return r->cfg != NULL && r->cfg->suppress_envoy_headers;
}

static xg_hvar_ctx hvar_ctx(xg_stream *s, const xg_host *host)
{
    return xg_stream_hvar_ctx(s, host != NULL ? (const struct sockaddr *)&host->addr : NULL);
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
    xg_hvar_ctx ctx = hvar_ctx(s, NULL);
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
    r->up_done = true;
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
        xg_route_redirect_location(s->route, s->req, !suppress(r), &loc) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    return answer(r, d->status, d->body, d->body_len, &loc);
}

static xg_filter_status redirect(router *r)
{
    xg_stream *s = r->base.stream;
    xg_hstr loc;
    if (xg_route_redirect_location(s->route, s->req, !suppress(r), &loc) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    return answer(r, s->route->redirect.code, NULL, 0, &loc);
}

/* --- forwarding --- */

static const char *reset_text(xg_upstream_reset why)
{
    switch (why) {
    case XG_UPSTREAM_NO_HEALTHY_HOST:
        return "no healthy upstream";
    case XG_UPSTREAM_OVERFLOW:
        return "upstream connect error or disconnect/reset before headers. reset reason: overflow";
    case XG_UPSTREAM_CONNECT_FAILURE:
    case XG_UPSTREAM_CONNECT_TIMEOUT:
        return "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
    case XG_UPSTREAM_CONN_TERMINATION:
        return "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
    case XG_UPSTREAM_REMOTE_RESET:
        return "upstream connect error or disconnect/reset before headers. reset reason: remote reset";
    case XG_UPSTREAM_REFUSED:
        return "upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset";
    case XG_UPSTREAM_PROTOCOL_ERROR:
        return "upstream connect error or disconnect/reset before headers. reset reason: protocol error";
    default:
        return "upstream connect error or disconnect/reset before headers. reset reason: local reset";
    }
}

static void fail(router *r, xg_upstream_reset why, bool started)
{
    uint32_t flag = xg_upstream_reset_flag(why);
    const char *details = xg_upstream_reset_detail(why, started);
    if (started)
        xg_filter_reset_stream(&r->base, flag, details);
    else
        xg_filter_local_reply(&r->base, xg_upstream_reset_status(why), reset_text(why), flag, details);
}

static void start_timer(router *r)
{
    if (r->timer_started || r->up_done)
        return;
    r->timer_started = true;
    if (r->timeout > 0)
        xg_stream_set_route_timeout(r->base.stream, r->timeout);
}

static void note_host(router *r)
{
    xg_host *h = r->up != NULL ? xg_upstream_request_host(r->up) : NULL;
    if (h != NULL)
        snprintf(r->base.stream->info.upstream_host, sizeof(r->base.stream->info.upstream_host), "%s", h->addr_str);
}

static void up_headers(void *user, xg_headers *h, bool end_stream)
{
    router *r = user;
    xg_stream *s = r->base.stream;
    note_host(r);
    if (end_stream || h->status == 101) {
        r->up_done = end_stream;
        xg_stream_set_route_timeout(s, 0);
    }
    xg_hvar_ctx ctx = hvar_ctx(s, r->up != NULL ? xg_upstream_request_host(r->up) : NULL);
    int rc = xg_route_finalize_response(s->rc, s->vh, s->route, r->wc, h, &ctx);
    if (rc == 0 && !suppress(r)) {
        char ms[24];
        int n = snprintf(ms, sizeof(ms), "%.0f", (ev_now(xg_stream_loop(s)->ev) - r->t_up) * 1000);
        rc = xg_headers_set(h, "x-envoy-upstream-service-time", 29, ms, (size_t)n, true);
    }
    if (rc != 0) {
        if (!r->up_done)
            xg_upstream_cancel(r->up);
        r->up_done = true;
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
    if (end_stream) {
        r->up_done = true;
        xg_stream_set_route_timeout(s, 0);
    }
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
    r->up_done = true;
    xg_stream_set_route_timeout(r->base.stream, 0);
    xg_filter_encode_trailers(&r->base, t);
}

static void up_reset(void *user, xg_upstream_reset why, bool started)
{
    router *r = user;
    r->up_done = true;
    note_host(r);
    fail(r, why, started);
}

static void up_send_ready(void *user)
{
    router *r = user;
    size_t n = r->owed_req;
    r->owed_req = 0;
    xg_filter_request_consumed(&r->base, n);
}

static const xg_upstream_cbs up_cbs = {
    .on_headers = up_headers,
    .on_data = up_data,
    .on_trailers = up_trailers,
    .on_reset = up_reset,
    .on_send_ready = up_send_ready,
};

static int prepare_upstream_headers(router *r, const xg_route_target *t)
{
    xg_stream *s = r->base.stream;
    xg_hvar_ctx ctx = hvar_ctx(s, NULL);
    int rc = xg_route_finalize_request(s->rc, s->vh, s->route, t->weighted, s->req, &ctx, !suppress(r));
    xg_headers_remove(s->req, "x-envoy-expected-rq-timeout-ms", 30);
    if (rc == 0 && r->timeout > 0 && !suppress(r)) {
        char ms[24];
        int n = snprintf(ms, sizeof(ms), "%.0f", r->timeout * 1000);
        rc = xg_headers_add_copy(s->req, "x-envoy-expected-rq-timeout-ms", 30, ms, (size_t)n);
    }
    if (rc == 0)
        rc = xg_route_set_grpc_timeout(&s->route->forward, s->cfg->max_stream_duration_ms,
                                       (uint64_t)(r->timeout * 1000 + 0.5), s->req, s->is_grpc);
    return rc;
}

/* auto_host_rewrite, as Envoy's UpstreamRequest::onPoolReady: the chosen
 * host's hostname (EDS Endpoint.hostname) becomes :authority, the old one
 * going to x-forwarded-host with append_x_forwarded_host. A host without a
 * hostname leaves the request as it is. */
static int on_host(void *user, const xg_host *h, xg_headers *req)
{
    router *r = user;
    const xg_route_forward *fw = &r->base.stream->route->forward;
    if (fw->host_rewrite != XG_HOST_REWRITE_AUTO || h->hostname == NULL || h->hostname[0] == '\0')
        return 0;
    return xg_route_update_authority(req, h->hostname, strlen(h->hostname), fw->append_x_forwarded_host);
}

static xg_filter_status forward(router *r, bool end_stream)
{
    xg_stream *s = r->base.stream;
    xg_worker_rt *w = xg_worker_rt_self();
    xg_route_target t;
    if (xg_route_pick_cluster(s->route, s->req, s->random, &s->arena, &t) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    xg_cluster_rt *c =
        w != NULL && t.cluster[0] != '\0' ? xg_clusters_find(w->clusters, t.cluster, strlen(t.cluster)) : NULL;
    s->info.cluster = t.cluster;
    s->weighted = t.weighted; /* its response headers go on local replies too, as in Envoy */
    if (c == NULL) {
        xg_filter_local_reply(&r->base, t.not_found_code, NULL, XG_RF_NC, "cluster_not_found");
        return XG_FILTER_STOP;
    }
    r->wc = t.weighted;
    r->timeout = xg_route_timeout_ms(&s->route->forward, s->req, s->is_grpc) / 1000.0;
    if (prepare_upstream_headers(r, &t) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    xg_upstream_params p = {.cluster = c,
                            .headers = s->req,
                            .end_stream = end_stream,
                            .arena = &s->arena,
                            .cb = &up_cbs,
                            .user = r,
                            .downstream_proto = xg_stream_proto(s),
                            .on_host = on_host};
    xg_upstream_reset why;
    r->t_up = s->info.t_upstream = ev_now(xg_stream_loop(s)->ev);
    if (xg_upstream_request_start(&p, &r->up, &why) != 0) {
        r->up = NULL;
        r->up_done = true;
        fail(r, why, false);
        return XG_FILTER_STOP;
    }
    if (end_stream)
        start_timer(r);
    return XG_FILTER_STOP;
}

/* --- filter hooks --- */

static xg_filter_status decode_headers(xg_filter *f, xg_headers *h, bool end_stream)
{
    router *r = (router *)f;
    xg_stream *s = f->stream;
    if (s->route == NULL) {
        r->up_done = true;
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

static xg_filter_status decode_data(xg_filter *f, const char *p, size_t n, bool end_stream)
{
    router *r = (router *)f;
    if (r->up == NULL || r->up_done || xg_upstream_send_data(r->up, p, n, end_stream) != 0) {
        xg_filter_request_consumed(f, n);
        return XG_FILTER_CONTINUE;
    }
    if (xg_upstream_send_blocked(r->up))
        r->owed_req += n;
    else
        xg_filter_request_consumed(f, n);
    if (end_stream)
        start_timer(r);
    return XG_FILTER_CONTINUE;
}

static xg_filter_status decode_trailers(xg_filter *f, xg_headers *t)
{
    router *r = (router *)f;
    if (r->up != NULL && !r->up_done && xg_upstream_send_trailers(r->up, t) == 0)
        start_timer(r);
    return XG_FILTER_CONTINUE;
}

static void on_downstream_ready(xg_filter *f)
{
    router *r = (router *)f;
    if (r->owed_resp == 0 || r->up_done || xg_filter_downstream_blocked(f))
        return;
    size_t n = r->owed_resp;
    r->owed_resp = 0;
    xg_upstream_consumed(r->up, n);
}

static void on_destroy(xg_filter *f)
{
    router *r = (router *)f;
    if (r->up != NULL && !r->up_done)
        xg_upstream_cancel(r->up);
    r->up_done = true;
}

void xg__router_on_route_timeout(xg_filter *f)
{
    router *r = (router *)f;
    if (r->up != NULL && !r->up_done)
        xg_upstream_cancel(r->up);
    r->up_done = true;
    note_host(r);
    if (f->stream->resp_started)
        xg_filter_reset_stream(f, XG_RF_UT, "upstream_response_timeout");
    else
        xg_filter_local_reply(f, 504, "upstream request timeout", XG_RF_UT, "upstream_response_timeout");
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
    return &r->base;
}
