/* envoy.filters.http.ratelimit's translation: the RateLimit filter config
 * and the RateLimitPerRoute override, with Envoy's defaults and validation
 * rules (domain required, stage <= 10, request_type one of
 * internal/external/both, the V3 transport, a gRPC service xdsgate can
 * reach). What xdsgate cannot honour is a NACK naming the field. */
#include <string.h>

#include "config/hcm.h"
#include "config/ratelimit.h"
#include "core/error.h"
#include "envoy/config/core/v3/grpc_service.pb-c.h"
#include "envoy/config/ratelimit/v3/rls.pb-c.h"
#include "envoy/extensions/filters/http/ratelimit/v3/rate_limit.pb-c.h"
#include "envoy/type/v3/http_status.pb-c.h"
#include "xds/xlate_int.h"

typedef Envoy__Extensions__Filters__Http__Ratelimit__V3__RateLimit pb_rl;
typedef Envoy__Extensions__Filters__Http__Ratelimit__V3__RateLimitPerRoute pb_rl_per_route;
typedef Envoy__Config__Ratelimit__V3__RateLimitServiceConfig pb_rls_config;
typedef Envoy__Config__Core__V3__GrpcService pb_grpc_service;

#define MAX_STAGE 10
#define DEFAULT_TIMEOUT_MS 20

/* An HttpStatus: a defined, non-zero code (Envoy's validation), else fall
 * back below 400 as Envoy does. */
static int http_status(xg_xlate *x, const char *field, const Envoy__Type__V3__HttpStatus *pb, uint16_t def,
                       uint16_t *out)
{
    *out = def;
    if (pb == NULL)
        return 0;
    if (pb->code == 0 ||
        protobuf_c_enum_descriptor_get_value(&envoy__type__v3__status_code__descriptor, pb->code) == NULL)
        return xg__fail_at(x, field, "code %d is not a defined HTTP status code", (int)pb->code);
    if (pb->code >= 400)
        *out = (uint16_t)pb->code;
    return 0;
}

static int envoy_grpc(xg_xlate *x, const Envoy__Config__Core__V3__GrpcService__EnvoyGrpc *pb, xg_rls_service *out)
{
    if (pb->cluster_name[0] == '\0')
        return xg__fail_at(x, "cluster_name", "is required");
    if (pb->retry_policy != NULL)
        return xg__fail_at(x, "retry_policy", "not supported (the rate limit call is never retried)");
    if (pb->max_receive_message_length != NULL)
        return xg__fail_at(x, "max_receive_message_length", "not supported");
    out->kind = XG_RLS_CLUSTER;
    out->cluster = xg_xlate_strdup(x, pb->cluster_name);
    out->authority = xg_xlate_strdup(x, pb->authority[0] != '\0' ? pb->authority : pb->cluster_name);
    return out->cluster != NULL && out->authority != NULL ? 0 : XG_ENOMEM;
}

static int google_grpc(xg_xlate *x, const Envoy__Config__Core__V3__GrpcService__GoogleGrpc *pb, xg_rls_service *out)
{
    if (pb->target_uri[0] == '\0')
        return xg__fail_at(x, "target_uri", "is required");
    if (pb->credentials_factory_name[0] != '\0' || pb->config != NULL)
        return xg__fail_at(x, "credentials_factory_name", "not supported (plaintext gRPC only)");
    if (pb->per_stream_buffer_limit_bytes != NULL)
        return xg__fail_at(x, "per_stream_buffer_limit_bytes", "not supported");
    if (pb->channel_args != NULL && pb->channel_args->n_args > 0)
        return xg__fail_at(x, "channel_args", "not supported");
    out->kind = XG_RLS_URI;
    out->uri = xg_xlate_strdup(x, pb->target_uri);
    return out->uri != NULL ? 0 : XG_ENOMEM;
}

static int grpc_service(xg_xlate *x, const pb_grpc_service *pb, xg_rls_service *out)
{
    if (pb == NULL)
        return xg_xlate_fail(x, "required");
    if (pb->n_initial_metadata > 0)
        return xg__fail_at(x, "initial_metadata", "not supported");
    if (pb->retry_policy != NULL)
        return xg__fail_at(x, "retry_policy", "not supported (the rate limit call is never retried)");
    /* grpc_service.timeout: as in Envoy, the filter's own timeout bounds the call. */
    size_t mark;
    int rc;
    switch (pb->target_specifier_case) {
    case ENVOY__CONFIG__CORE__V3__GRPC_SERVICE__TARGET_SPECIFIER_ENVOY_GRPC:
        mark = xg_xlate_push(x, "envoy_grpc");
        rc = envoy_grpc(x, pb->envoy_grpc, out);
        break;
    case ENVOY__CONFIG__CORE__V3__GRPC_SERVICE__TARGET_SPECIFIER_GOOGLE_GRPC:
        mark = xg_xlate_push(x, "google_grpc");
        rc = google_grpc(x, pb->google_grpc, out);
        break;
    default:
        return xg_xlate_fail(x, "one of envoy_grpc or google_grpc is required");
    }
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

static int rls_config(xg_xlate *x, const pb_rls_config *pb, xg_rls_service *out)
{
    if (pb == NULL)
        return xg_xlate_fail(x, "required");
    if (pb->transport_api_version != ENVOY__CONFIG__CORE__V3__API_VERSION__V3)
        return xg__fail_at(x, "transport_api_version", "must be V3 (Envoy refuses AUTO and V2)");
    size_t mark = xg_xlate_push(x, "grpc_service");
    int rc = grpc_service(x, pb->grpc_service, out);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

static int request_type(xg_xlate *x, const char *s, xg_rl_request_type *out)
{
    if (s[0] == '\0' || strcmp(s, "both") == 0)
        *out = XG_RL_REQ_BOTH;
    else if (strcmp(s, "internal") == 0)
        *out = XG_RL_REQ_INTERNAL;
    else if (strcmp(s, "external") == 0)
        *out = XG_RL_REQ_EXTERNAL;
    else
        return xg__fail_at(x, "request_type", "must be \"internal\", \"external\" or \"both\", not \"%s\"", s);
    return 0;
}

static int x_ratelimit_headers(xg_xlate *x, int v, bool *out)
{
    switch (v) {
    case ENVOY__EXTENSIONS__FILTERS__HTTP__RATELIMIT__V3__RATE_LIMIT__XRATE_LIMIT_HEADERS_RFCVERSION__OFF:
        *out = false;
        return 0;
    case ENVOY__EXTENSIONS__FILTERS__HTTP__RATELIMIT__V3__RATE_LIMIT__XRATE_LIMIT_HEADERS_RFCVERSION__DRAFT_VERSION_03:
        *out = true;
        return 0;
    default:
        return xg__fail_at(x, "enable_x_ratelimit_headers", "unknown value %d", v);
    }
}

static int fields(xg_xlate *x, const pb_rl *pb, xg_ratelimit_config *out)
{
    if (pb->domain[0] == '\0')
        return xg__fail_at(x, "domain", "is required");
    if (pb->stage > MAX_STAGE)
        return xg__fail_at(x, "stage", "must be at most %d, not %u", MAX_STAGE, pb->stage);
    out->domain = xg_xlate_strdup(x, pb->domain);
    if (out->domain == NULL)
        return XG_ENOMEM;
    out->stage = pb->stage;
    out->failure_mode_deny = pb->failure_mode_deny;
    out->rate_limited_as_resource_exhausted = pb->rate_limited_as_resource_exhausted;
    out->disable_x_envoy_ratelimited_header = pb->disable_x_envoy_ratelimited_header;
    int rc = request_type(x, pb->request_type, &out->request_type);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "timeout", pb->timeout, DEFAULT_TIMEOUT_MS, &out->timeout_ms);
    if (rc == 0)
        rc = x_ratelimit_headers(x, pb->enable_x_ratelimit_headers, &out->x_ratelimit_headers);
    if (rc == 0)
        rc = http_status(x, "rate_limited_status", pb->rate_limited_status, 429, &out->rate_limited_status);
    if (rc == 0)
        rc = http_status(x, "status_on_error", pb->status_on_error, 500, &out->status_on_error);
    if (rc == 0 && out->status_on_error < 400)
        out->status_on_error = 500;
    if (rc == 0 && pb->n_response_headers_to_add > 10)
        rc = xg__fail_at(x, "response_headers_to_add", "at most 10 entries");
    if (rc == 0)
        rc = xg__xlate_header_mutations(x, "response_headers_to_add", pb->response_headers_to_add,
                                        pb->n_response_headers_to_add, "response_headers_to_add", NULL, 0,
                                        &out->response_headers);
    if (rc != 0)
        return rc;
    size_t mark = xg_xlate_push(x, "rate_limit_service");
    rc = rls_config(x, pb->rate_limit_service, &out->service);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

static int filter_fields(xg_xlate *x, const ProtobufCMessage *pb, void *out)
{
    return fields(x, (const pb_rl *)pb, out);
}

int xg__xlate_ratelimit(xg_xlate *x, const Google__Protobuf__Any *tc, struct xg_http_filter *out)
{
    return xg__xlate_typed_filter(x, tc, &envoy__extensions__filters__http__ratelimit__v3__rate_limit__descriptor,
                                  filter_fields, sizeof(xg_ratelimit_config), XG_HTTP_FILTER_RATELIMIT, out);
}

static int per_route_fields(xg_xlate *x, const pb_rl_per_route *pb, xg_ratelimit_per_route *out)
{
    switch (pb->vh_rate_limits) {
    case ENVOY__EXTENSIONS__FILTERS__HTTP__RATELIMIT__V3__RATE_LIMIT_PER_ROUTE__VH_RATE_LIMITS_OPTIONS__OVERRIDE:
    case ENVOY__EXTENSIONS__FILTERS__HTTP__RATELIMIT__V3__RATE_LIMIT_PER_ROUTE__VH_RATE_LIMITS_OPTIONS__INCLUDE:
    case ENVOY__EXTENSIONS__FILTERS__HTTP__RATELIMIT__V3__RATE_LIMIT_PER_ROUTE__VH_RATE_LIMITS_OPTIONS__IGNORE:
        out->vh_rate_limits = (uint32_t)pb->vh_rate_limits; /* same numbering as xg_vh_rl */
        break;
    default:
        return xg__fail_at(x, "vh_rate_limits", "unknown value %d", (int)pb->vh_rate_limits);
    }
    /* override_option is not implemented by Envoy either (hidden in its API):
     * any defined value is accepted and has no effect. */
    if (protobuf_c_enum_descriptor_get_value(
            &envoy__extensions__filters__http__ratelimit__v3__rate_limit_per_route__override_options__descriptor,
            pb->override_option) == NULL)
        return xg__fail_at(x, "override_option", "unknown value %d", (int)pb->override_option);
    if (pb->n_rate_limits > 0)
        return xg__fail_at(x, "rate_limits", "not supported (use the route's or virtual host's rate_limits)");
    if (pb->domain[0] != '\0') {
        out->domain = xg_xlate_strdup(x, pb->domain);
        if (out->domain == NULL)
            return XG_ENOMEM;
    }
    return 0;
}

int xg__xlate_ratelimit_per_route(xg_xlate *x, const Google__Protobuf__Any *any, const void **out)
{
    pb_rl_per_route *pb = NULL;
    xg_ratelimit_per_route *c = xg_xlate_alloc(x, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    memset(c, 0, sizeof(*c));
    int rc = xg__xlate_unpack_typed(x, "", any,
                                    &envoy__extensions__filters__http__ratelimit__v3__rate_limit_per_route__descriptor,
                                    (ProtobufCMessage **)&pb);
    if (rc < 0)
        return rc;
    rc = per_route_fields(x, pb, c);
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    *out = c;
    return rc;
}
