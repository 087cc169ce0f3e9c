/* The HttpConnectionManager's route source (RDS over ADS, or an inline route
 * config) and its HTTP filter chain. Filters are identified by their
 * typed_config type (a TypedStruct by its inner type), never by name; the
 * router must be present and last; a filter xdsgate lacks is a NACK unless it
 * is_optional, in which case it is left out and a warning is recorded. */
#include <string.h>

#include "config/hcm.h"
#include "core/error.h"
#include "envoy/extensions/filters/http/buffer/v3/buffer.pb-c.h"
#include "envoy/extensions/filters/http/router/v3/router.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "xds/xlate_int.h"

typedef Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager pb_hcm;
typedef Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpFilter pb_http_filter;
typedef Envoy__Extensions__Filters__Http__Router__V3__Router pb_router;
typedef Envoy__Extensions__Filters__Http__Buffer__V3__Buffer pb_buffer;
typedef Envoy__Extensions__Filters__Http__Buffer__V3__BufferPerRoute pb_buffer_per_route;

#define CSS(x) ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_##x
#define ROUTE_SPEC(x)                                                                                                  \
    ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__ROUTE_SPECIFIER_##x

#define ROUTER_TYPE "envoy.extensions.filters.http.router.v3.Router"
#define BUFFER_TYPE "envoy.extensions.filters.http.buffer.v3.Buffer"
#define BUFFER_PER_ROUTE_TYPE "envoy.extensions.filters.http.buffer.v3.BufferPerRoute"
#define LOCAL_RL_TYPE "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
#define RL_TYPE "envoy.extensions.filters.http.ratelimit.v3.RateLimit"
#define RL_PER_ROUTE_TYPE "envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute"

/* --- route source --- */

/* xdsgate has one xDS stream (ADS): a resource can only come from there. */
static int config_source(xg_xlate *x, const Envoy__Config__Core__V3__ConfigSource *cs, uint64_t *fetch_timeout_ms)
{
    if (cs == NULL)
        return xg_xlate_fail(x, "required (use ads: {})");
    switch (cs->config_source_specifier_case) {
    case CSS(ADS):
    case CSS(SELF):
        break;
    case CSS(API_CONFIG_SOURCE):
        return xg_xlate_fail(x, "api_config_source is not supported: xdsgate takes every resource over its one ADS "
                                "stream; use ads: {}");
    case CSS(PATH_CONFIG_SOURCE):
        return xg_xlate_fail(x, "path_config_source is not supported: xdsgate takes every resource over its one ADS "
                                "stream; use ads: {}");
    default:
        return xg_xlate_fail(x, "one of ads or self is required");
    }
    if (cs->resource_api_version == ENVOY__CONFIG__CORE__V3__API_VERSION__V2)
        return xg__fail_at(x, "resource_api_version", "V2 is not supported");
    return xg__xlate_duration_ms(x, "initial_fetch_timeout", cs->initial_fetch_timeout, 15000, fetch_timeout_ms);
}

static int rds(xg_xlate *x, const Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__Rds *pb, xg_hcm *out)
{
    size_t mark = xg_xlate_push(x, "rds");
    if (pb->route_config_name[0] == '\0')
        return xg__fail_at(x, "route_config_name", "must not be empty");
    size_t m2 = xg_xlate_push(x, "config_source");
    int rc = config_source(x, pb->config_source, &out->rds_initial_fetch_timeout_ms);
    if (rc < 0)
        return rc;
    xg_xlate_pop(x, m2);
    out->routes = XG_ROUTES_RDS;
    if ((out->rds_name = xg_xlate_strdup(x, pb->route_config_name)) == NULL)
        return XG_ENOMEM;
    xg_xlate_pop(x, mark);
    return xg_xlate_dep(x, XG_RES_ROUTE_CONFIG, pb->route_config_name);
}

int xg__xlate_hcm_routes(xg_xlate *x, const pb_hcm *pb, xg_hcm *out)
{
    if (pb->route_specifier_case == ROUTE_SPEC(RDS))
        return rds(x, pb->rds, out);
    if (pb->route_specifier_case != ROUTE_SPEC(ROUTE_CONFIG))
        return xg_xlate_fail(x, "one of rds or route_config is required");
    size_t mark = xg_xlate_push(x, "route_config");
    out->routes = XG_ROUTES_INLINE;
    int rc = xg__xlate_route_config_into(x, pb->route_config, true, &out->route_config);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* --- the router --- */

static int router_strict_headers(xg_xlate *x, const pb_router *pb, xg_router_config *out)
{
    static const char *const allowed[] = {"x-envoy-upstream-rq-timeout-ms", "x-envoy-upstream-rq-per-try-timeout-ms",
                                          "x-envoy-max-retries", "x-envoy-retry-grpc-on", "x-envoy-retry-on"};
    size_t n = pb->n_strict_check_headers;
    xg_lstr *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
            ok = ok || strcmp(pb->strict_check_headers[i], allowed[k]) == 0;
        if (!ok) {
            xg_xlate_push(x, "strict_check_headers");
            xg_xlate_push_index(x, i);
            return xg_xlate_fail(x,
                                 "\"%s\" cannot be checked (only the x-envoy-upstream-rq-*, x-envoy-max-retries "
                                 "and x-envoy-retry-* headers)",
                                 pb->strict_check_headers[i]);
        }
        v[i] = (xg_lstr){xg_xlate_strdup(x, pb->strict_check_headers[i]), strlen(pb->strict_check_headers[i])};
        if (v[i].s == NULL)
            return XG_ENOMEM;
    }
    out->strict_check_headers = v;
    out->n_strict_check_headers = n;
    return 0;
}

int xg__xlate_typed_filter(xg_xlate *x, const Google__Protobuf__Any *tc, const ProtobufCMessageDescriptor *d,
                           xg__filter_fields_fn fields, size_t size, int kind, xg_http_filter *out)
{
    ProtobufCMessage *pb = NULL;
    void *cfg = xg_xlate_alloc(x, size);
    if (cfg == NULL)
        return XG_ENOMEM;
    memset(cfg, 0, size);
    int rc = xg__xlate_unpack_typed(x, "typed_config", tc, d, &pb);
    if (rc < 0)
        return rc;
    size_t mark = xg_xlate_push(x, "typed_config");
    rc = fields(x, pb, cfg);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    protobuf_c_message_free_unpacked(pb, NULL);
    out->kind = (xg_http_filter_kind)kind;
    out->translated = cfg;
    return rc;
}

static int router_fields(xg_xlate *x, const ProtobufCMessage *m, void *out)
{
    const pb_router *pb = (const pb_router *)m;
    xg_router_config *r = out;
    r->dynamic_stats = xg__bool_or(pb->dynamic_stats, true);
    r->suppress_envoy_headers = pb->suppress_envoy_headers;
    r->respect_expected_rq_timeout = pb->respect_expected_rq_timeout;
    r->suppress_grpc_request_failure_code_stats = pb->suppress_grpc_request_failure_code_stats;
    if (pb->n_upstream_log > 0)
        return xg__fail_at(x, "upstream_log", XG__NO_ACCESS_LOG, "upstream_log");
    return router_strict_headers(x, pb, r);
}

static int router(xg_xlate *x, const Google__Protobuf__Any *tc, xg_http_filter *out)
{
    return xg__xlate_typed_filter(x, tc, &envoy__extensions__filters__http__router__v3__router__descriptor, router_fields,
                        sizeof(xg_router_config), XG_HTTP_FILTER_ROUTER, out);
}

/* --- the buffer filter --- */

static int buffer_fields(xg_xlate *x, const pb_buffer *pb, xg_buffer_config *out)
{
    if (pb->max_request_bytes == NULL || pb->max_request_bytes->value == 0)
        return xg__fail_at(x, "max_request_bytes", "is required and must be greater than 0");
    out->max_request_bytes = pb->max_request_bytes->value;
    return 0;
}

static int buffer_filter_fields(xg_xlate *x, const ProtobufCMessage *pb, void *out)
{
    return buffer_fields(x, (const pb_buffer *)pb, out);
}

static int buffer(xg_xlate *x, const Google__Protobuf__Any *tc, xg_http_filter *out)
{
    return xg__xlate_typed_filter(x, tc, &envoy__extensions__filters__http__buffer__v3__buffer__descriptor, buffer_filter_fields,
                        sizeof(xg_buffer_config), XG_HTTP_FILTER_BUFFER, out);
}

static int buffer_per_route(xg_xlate *x, const Google__Protobuf__Any *any, const void **out)
{
    pb_buffer_per_route *pb = NULL;
    xg_buffer_config *b = xg_xlate_alloc(x, sizeof(*b));
    if (b == NULL)
        return XG_ENOMEM;
    int rc =
        xg__xlate_unpack_typed(x, "", any, &envoy__extensions__filters__http__buffer__v3__buffer_per_route__descriptor,
                               (ProtobufCMessage **)&pb);
    if (rc < 0)
        return rc;
    switch (pb->override_case) {
    case ENVOY__EXTENSIONS__FILTERS__HTTP__BUFFER__V3__BUFFER_PER_ROUTE__OVERRIDE_DISABLED:
        b->disabled = true;
        rc = pb->disabled ? 0 : xg__fail_at(x, "disabled", "must be true when set");
        break;
    case ENVOY__EXTENSIONS__FILTERS__HTTP__BUFFER__V3__BUFFER_PER_ROUTE__OVERRIDE_BUFFER: {
        size_t mark = xg_xlate_push(x, "buffer");
        rc = buffer_fields(x, pb->buffer, b);
        if (rc == 0)
            xg_xlate_pop(x, mark);
        break;
    }
    default:
        rc = xg_xlate_fail(x, "one of disabled or buffer is required");
    }
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    *out = b;
    return rc;
}

int xg__xlate_filter_per_route(xg_xlate *x, const char *type_name, const Google__Protobuf__Any *any,
                               xg_typed_config *tc)
{
    tc->translated = NULL;
    tc->translated_type = NULL;
    if (strcmp(type_name, BUFFER_PER_ROUTE_TYPE) == 0) {
        tc->translated_type = BUFFER_PER_ROUTE_TYPE;
        return buffer_per_route(x, any, &tc->translated);
    }
    if (strcmp(type_name, LOCAL_RL_TYPE) == 0) {
        tc->translated_type = LOCAL_RL_TYPE;
        return xg__xlate_local_ratelimit_per_route(x, any, &tc->translated);
    }
    if (strcmp(type_name, RL_PER_ROUTE_TYPE) == 0) {
        tc->translated_type = RL_PER_ROUTE_TYPE;
        return xg__xlate_ratelimit_per_route(x, any, &tc->translated);
    }
    return 0;
}

/* --- the filter chain --- */

/* Returns 1 when the filter is to be left out (optional and unsupported). */
static int http_filter(xg_xlate *x, const pb_http_filter *pb, xg__warnings *w, xg_http_filter *out)
{
    const Google__Protobuf__Any *tc = pb->typed_config;
    if (pb->name[0] == '\0')
        return xg__fail_at(x, "name", "must not be empty");
    if (tc == NULL && !pb->is_optional)
        return xg_xlate_fail(x, "HTTP filter \"%s\" has no typed_config and is not optional", pb->name);
    if (tc == NULL)
        return xg__warn(x, w, "optional HTTP filter \"%s\" has no typed_config; skipped", pb->name) < 0 ? XG_ENOMEM : 1;
    int rc = xg__xlate_typed_config(x, NULL, tc, &out->config);
    if (rc < 0)
        return rc;
    const char *type = out->config.type_name;
    if ((out->name = xg_xlate_strdup(x, pb->name)) == NULL)
        return XG_ENOMEM;
    out->disabled = pb->disabled;
    if (strcmp(type, ROUTER_TYPE) == 0)
        return router(x, tc, out);
    if (strcmp(type, BUFFER_TYPE) == 0)
        return buffer(x, tc, out);
    if (strcmp(type, LOCAL_RL_TYPE) == 0)
        return xg__xlate_local_ratelimit(x, tc, out);
    if (strcmp(type, RL_TYPE) == 0)
        return xg__xlate_ratelimit(x, tc, out);
    if (!pb->is_optional)
        return xg_xlate_fail(x, "HTTP filter \"%s\" has unknown type \"%s\" and is not optional", pb->name,
                             out->config.type_url);
    rc = xg__warn(x, w, "optional HTTP filter \"%s\" (type \"%s\") is not supported; skipped", pb->name,
                  out->config.type_url);
    return rc < 0 ? rc : 1;
}

/* The router must be configured, last, and enabled (Envoy: terminal filters cannot be disabled). */
static int check_router_last(xg_xlate *x, const xg_http_filter *v, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (v[i].kind == XG_HTTP_FILTER_ROUTER)
            return xg_xlate_fail(x, "the router (HTTP filter \"%s\") must be the last HTTP filter", v[i].name);
    if (n == 0)
        return xg_xlate_fail(x, "no HTTP filter: the chain must end with the router (" ROUTER_TYPE ")");
    if (v[n - 1].kind != XG_HTTP_FILTER_ROUTER)
        return xg_xlate_fail(x, "the last HTTP filter must be the router (" ROUTER_TYPE "), not \"%s\"", v[n - 1].name);
    if (v[n - 1].disabled)
        return xg_xlate_fail(x, "the router (HTTP filter \"%s\") cannot be disabled", v[n - 1].name);
    return 0;
}

int xg__xlate_http_filters(xg_xlate *x, const pb_hcm *pb, xg__warnings *w, xg_hcm *out)
{
    size_t n = pb->n_http_filters, k = 0;
    xg_http_filter *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "http_filters");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        memset(&v[k], 0, sizeof(v[k]));
        int rc = http_filter(x, pb->http_filters[i], w, &v[k]);
        if (rc < 0)
            return rc;
        k += (rc == 0);
        xg_xlate_pop(x, m2);
    }
    int rc = check_router_last(x, v, k);
    if (rc < 0)
        return rc;
    xg_xlate_pop(x, mark);
    out->filters = v;
    out->n_filters = k;
    return 0;
}
