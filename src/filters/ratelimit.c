/* The global rate limit filter (envoy.filters.http.ratelimit): asks the
 * RateLimitService about the request's descriptors (the route's and virtual
 * host's rate_limits of the filter's stage) and holds the request until the
 * answer comes back on this worker. OK: the request goes on with the
 * service's request headers, and the response later gets the service's
 * response headers (and x-ratelimit-* when enabled). OVER_LIMIT: a local
 * reply, 429 by default, with x-envoy-ratelimited (flag RL). An error or a
 * timeout lets the request through, or answers status_on_error (500) with
 * flag RLSE when failure_mode_deny. A RateLimitPerRoute may change the
 * virtual host option and the domain for a route. */
#include <stdio.h>
#include <string.h>

#include "cluster/cluster.h"
#include "config/ratelimit.h"
#include "core/error.h"
#include "core/log.h"
#include "http/stream.h"
#include "ratelimit/descriptor.h"
#include "ratelimit/rls_client.h"
#include "ratelimit/rls_headers.h"
#include "ratelimit/rls_target.h"
#include "upstream/resp_flags.h"

#define PER_ROUTE_TYPE "envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute"
#define GRPC_RESOURCE_EXHAUSTED "8"
#define TARGET_MAX 2048

typedef Envoy__Service__Ratelimit__V3__RateLimitResponse__DescriptorStatus pb_status;

typedef struct rl_filter {
    xg_filter base; /* first */
    const xg_ratelimit_config *cfg;
    xg_rls_call *call;    /* in flight, else NULL */
    xg_headers *resp_add; /* for the response (service's, x-ratelimit-*, x-envoy-ratelimited), or NULL */
    bool replying;        /* our own local reply is going through encode_headers */
    bool grpc_exhausted;  /* that reply is RESOURCE_EXHAUSTED for gRPC */
} rl_filter;

static const xg_ratelimit_per_route *per_route(const xg_filter *f)
{
    const xg_typed_config *tc = xg_filter_per_route_config(f);
    if (tc != NULL && tc->translated_type != NULL && strcmp(tc->translated_type, PER_ROUTE_TYPE) == 0)
        return tc->translated;
    return NULL;
}

static bool type_applies(const xg_ratelimit_config *c, const xg_stream *s)
{
    return c->request_type == XG_RL_REQ_BOTH || (c->request_type == XG_RL_REQ_INTERNAL) == s->internal;
}

/* --- headers the service sends --- */

/* Our own x-ratelimit-* entries (valid names, values we printed). */
static int add_own(xg_headers *h, const char *k, const char *v)
{
    return xg_headers_add_copy(h, k, strlen(k), v, strlen(v));
}

static uint32_t unit_seconds(int unit)
{
    static const uint32_t secs[] = {0, 1, 60, 3600, 86400, 2592000, 31536000};
    return unit >= 0 && unit < (int)(sizeof(secs) / sizeof(secs[0])) ? secs[unit] : 0;
}

/* x-ratelimit-* (draft 03) as Envoy makes them: the status with a limit
 * and the fewest remaining gives limit, remaining and reset; every status
 * with a limit adds its quota policy ("10, 10;w=1;name=\"x\""). */
static int x_ratelimit(xg_headers *h, const xg_rls_response *resp)
{
    const pb_status *min = NULL;
    char policy[512] = "";
    size_t pl = 0;
    for (size_t i = 0; i < resp->n_statuses; i++) {
        const pb_status *st = resp->statuses[i];
        if (st->current_limit == NULL)
            continue;
        if (min == NULL || st->limit_remaining < min->limit_remaining)
            min = st;
        uint32_t w = unit_seconds(st->current_limit->unit);
        if (w == 0 || pl >= sizeof(policy))
            continue;
        int n = snprintf(policy + pl, sizeof(policy) - pl, ", %u;w=%u", st->current_limit->requests_per_unit, w);
        pl += n > 0 ? (size_t)n : 0;
        if (pl < sizeof(policy) && st->current_limit->name[0] != '\0') {
            n = snprintf(policy + pl, sizeof(policy) - pl, ";name=\"%s\"", st->current_limit->name);
            pl += n > 0 ? (size_t)n : 0;
        }
    }
    if (min == NULL)
        return 0;
    char v[640];
    int n = snprintf(v, sizeof(v), "%u%s", min->current_limit->requests_per_unit, policy);
    int rc = add_own(h, "x-ratelimit-limit", n > 0 && (size_t)n < sizeof(v) ? v : "");
    snprintf(v, sizeof(v), "%u", min->limit_remaining);
    if (rc == 0)
        rc = add_own(h, "x-ratelimit-remaining", v);
    snprintf(v, sizeof(v), "%lld",
             (long long)(min->duration_until_reset != NULL ? min->duration_until_reset->seconds : 0));
    if (rc == 0)
        rc = add_own(h, "x-ratelimit-reset", v);
    return rc;
}

/* The service's headers for both directions, screened (rls_headers.h). */
typedef struct service_headers {
    xg_rls_hdr *req, *resp;
    uint32_t n_req, n_resp;
} service_headers;

/* 0, XG_ERANGE (more than the connection manager allows on a request: a
 * service error) or XG_ENOMEM. */
static int screen_headers(rl_filter *r, const xg_rls_response *resp, service_headers *out)
{
    xg_stream *s = r->base.stream;
    uint32_t max_n = s->cfg->max_headers_count, max_bytes = s->cfg->max_request_headers_kb * 1024u;
    int rc = xg_rls_headers_screen(&s->arena, resp->request_headers_to_add, resp->n_request_headers_to_add, max_n,
                                   max_bytes, true, &out->req, &out->n_req);
    if (rc == 0)
        rc = xg_rls_headers_screen(&s->arena, resp->response_headers_to_add, resp->n_response_headers_to_add, max_n,
                                   max_bytes, false, &out->resp, &out->n_resp);
    return rc;
}

/* What the response will carry from this answer; 0 or -1 (no memory). */
static int collect_response_headers(rl_filter *r, const xg_rls_response *resp, const service_headers *sh)
{
    xg_stream *s = r->base.stream;
    if (sh->n_resp == 0 && !r->cfg->x_ratelimit_headers)
        return 0;
    r->resp_add = xg_headers_new(&s->arena);
    if (r->resp_add == NULL)
        return -1;
    for (uint32_t i = 0; i < sh->n_resp; i++)
        if (xg_headers_add_ref(r->resp_add, sh->resp[i].name, sh->resp[i].nlen, sh->resp[i].value, sh->resp[i].vlen) !=
            0)
            return -1;
    return r->cfg->x_ratelimit_headers ? x_ratelimit(r->resp_add, resp) : 0;
}

/* The service key for logs. */
static const char *service_key(const rl_filter *r)
{
    const xg_rls_service *svc = &r->cfg->service;
    return svc->kind == XG_RLS_URI ? svc->uri : svc->cluster;
}

/* Fail-open (or deny) must show in the log: a warning per service at most
 * every XG_RLS_WARN_EVERY_S seconds, whatever the request rate. */
static void warn_service(const rl_filter *r, const char *why)
{
    uint32_t held = 0;
    if (!xg_rls_warn_due(r->cfg->service.kind == XG_RLS_URI, service_key(r), &held)) {
        xg_log_debug("rate limit service %s: %s", service_key(r), why);
        return;
    }
    xg_log_warn("rate limit service %s %s: %s; requests are %s (%u similar warnings suppressed)",
                r->cfg->service.kind == XG_RLS_URI ? "target" : "cluster", service_key(r), why,
                r->cfg->failure_mode_deny ? "denied" : "allowed", held);
}

/* An unusable answer or no answer: allowed, or status_on_error. */
static void service_error(rl_filter *r, const char *why)
{
    warn_service(r, why);
    if (r->cfg->failure_mode_deny)
        xg_filter_local_reply(&r->base, r->cfg->status_on_error, NULL, XG_RF_RLSE, "rate_limiter_error");
    else
        xg_filter_continue_decoding(&r->base);
}

/* --- the answer --- */

static void over_limit(rl_filter *r, const xg_rls_response *resp)
{
    xg_stream *s = r->base.stream;
    if (!r->cfg->disable_x_envoy_ratelimited_header) {
        if (r->resp_add == NULL)
            r->resp_add = xg_headers_new(&s->arena);
        if (r->resp_add == NULL || xg_headers_add_ref(r->resp_add, "x-envoy-ratelimited", 19, "true", 4) != 0) {
            xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
            return;
        }
    }
    char *body = NULL;
    if (resp->raw_body.len > 0) { /* a NUL inside ends it: the local reply takes text */
        body = xg_arena_alloc(&s->arena, resp->raw_body.len + 1);
        if (body != NULL) {
            memcpy(body, resp->raw_body.data, resp->raw_body.len);
            body[resp->raw_body.len] = '\0';
        }
    }
    r->replying = true;
    r->grpc_exhausted = r->cfg->rate_limited_as_resource_exhausted;
    xg_filter_local_reply_seen(&r->base, r->cfg->rate_limited_status, body, XG_RF_RL, "request_rate_limited");
}

static void on_answer(void *arg, const xg_rls_result *res)
{
    rl_filter *r = arg;
    xg_stream *s = r->base.stream;
    r->call = NULL;
    /* Something else answered meanwhile (the connection manager's request or
     * idle timeout): a reply of ours now would reset the one on its way. */
    if (s->resp_started || s->reply_busy || s->dec_abandoned)
        return;
    if (res->code == XG_RLS_ERROR) {
        service_error(r, res->error);
        return;
    }
    service_headers sh = {0};
    int rc = screen_headers(r, res->resp, &sh);
    if (rc == XG_ERANGE) {
        service_error(r, "the answer's headers exceed the connection manager's header limits");
        return;
    }
    if (rc != 0 || collect_response_headers(r, res->resp, &sh) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return;
    }
    if (res->code == XG_RLS_OVER_LIMIT) {
        over_limit(r, res->resp);
        return;
    }
    if (xg_rls_headers_set(s->req, sh.req, sh.n_req) != 0) {
        xg_filter_local_reply(&r->base, 500, NULL, 0, "internal_error");
        return;
    }
    xg_filter_continue_decoding(&r->base);
}

/* --- the call --- */

/* Where the service is for this request; NULL with *why set when it cannot be reached. */
static const char *target(const xg_rls_service *svc, char *buf, size_t n, const char **why)
{
    if (svc->kind == XG_RLS_URI)
        return svc->uri;
    xg_clusters *cs = xg_clusters_current();
    xg_cluster_rt *rt = cs != NULL ? xg_clusters_find(cs, svc->cluster, strlen(svc->cluster)) : NULL;
    if (rt == NULL) {
        *why = "its cluster is not configured";
        return NULL;
    }
    if (rt->cfg->tls != NULL) {
        *why = "its cluster uses TLS, which the rate limit client does not support";
        return NULL;
    }
    if (xg_rls_cluster_target(rt, buf, n) != 0) {
        *why = "its cluster has no host";
        return NULL;
    }
    return buf;
}

/* The call could not start: as an error answer, at once. */
static xg_filter_status start_failed(rl_filter *r, const char *why)
{
    warn_service(r, why);
    if (!r->cfg->failure_mode_deny)
        return XG_FILTER_CONTINUE;
    xg_filter_local_reply(&r->base, r->cfg->status_on_error, NULL, XG_RF_RLSE, "rate_limiter_error");
    return XG_FILTER_STOP;
}

static xg_filter_status decode_headers(xg_filter *f, xg_headers *h, bool end_stream)
{
    rl_filter *r = (rl_filter *)f;
    xg_stream *s = f->stream;
    (void)h;
    (void)end_stream;
    if (!type_applies(r->cfg, s))
        return XG_FILTER_CONTINUE;
    const xg_ratelimit_per_route *pr = per_route(f);
    xg_rl_descriptors d;
    if (xg_rl_descriptors_build(s, r->cfg->stage, pr != NULL ? (xg_vh_rl)pr->vh_rate_limits : XG_VH_RL_OVERRIDE, &d) !=
        0) {
        xg_filter_local_reply(f, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    if (d.n == 0)
        return XG_FILTER_CONTINUE;
    char buf[TARGET_MAX];
    const char *why = NULL;
    const xg_rls_service *svc = &r->cfg->service;
    xg_rls_dest dest = {.uri = svc->kind == XG_RLS_URI,
                        .key = svc->kind == XG_RLS_URI ? svc->uri : svc->cluster,
                        .target = target(svc, buf, sizeof(buf), &why),
                        .authority = svc->kind == XG_RLS_URI ? NULL : svc->authority};
    if (dest.target == NULL)
        return start_failed(r, why);
    const char *domain = pr != NULL && pr->domain != NULL ? pr->domain : r->cfg->domain;
    if (xg_rls_call_start(&dest, domain, &d, r->cfg->timeout_ms, xg_stream_loop(s), on_answer, r, &r->call) != 0)
        return start_failed(r, "the call could not start");
    return XG_FILTER_STOP;
}

static xg_filter_status encode_headers(xg_filter *f, xg_headers *h, bool end_stream)
{
    rl_filter *r = (rl_filter *)f;
    (void)end_stream;
    if (r->resp_add != NULL) {
        /* The service's content-type replaces the local reply's (Envoy). */
        if (r->replying && xg_headers_get_id(r->resp_add, XG_HDR_CONTENT_TYPE) != NULL)
            xg_headers_remove_id(h, XG_HDR_CONTENT_TYPE);
        for (uint32_t i = 0; i < r->resp_add->n; i++) {
            const xg_header *e = &r->resp_add->v[i];
            if (xg_headers_add_ref(h, e->name, e->name_len, e->value, e->value_len) != 0)
                break;
        }
        r->resp_add = NULL;
    }
    if (r->replying && r->cfg->response_headers.n_add > 0) {
        xg_hvar_ctx ctx = xg_stream_hvar_ctx(f->stream, NULL);
        if (xg_header_mutations_apply(&r->cfg->response_headers, h, &ctx) != 0)
            xg_log_debug("rate limit: response_headers_to_add left out (no memory)");
    }
    if (r->replying && r->grpc_exhausted && f->stream->is_grpc)
        xg_headers_set(h, "grpc-status", 11, GRPC_RESOURCE_EXHAUSTED, 1, false);
    r->replying = false;
    return XG_FILTER_CONTINUE;
}

static void on_destroy(xg_filter *f)
{
    rl_filter *r = (rl_filter *)f;
    if (r->call != NULL)
        xg_rls_call_cancel(r->call);
    r->call = NULL;
}

static const xg_filter_vt ratelimit_vt = {
    .name = "envoy.filters.http.ratelimit",
    .decode_headers = decode_headers,
    .encode_headers = encode_headers,
    .on_destroy = on_destroy,
};

xg_filter *xg_ratelimit_filter_create(struct xg_stream *s, const xg_http_filter *cfg)
{
    rl_filter *r = xg_arena_calloc(&s->arena, 1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->base.vt = &ratelimit_vt;
    r->cfg = cfg->translated;
    return &r->base;
}
