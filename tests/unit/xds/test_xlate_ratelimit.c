/* Unit tests for envoy.filters.http.ratelimit's translation
 * (xds/xlate_ratelimit.c): Envoy's defaults, every field that changes
 * behaviour, the RateLimitPerRoute override, and the NACKs with their
 * field paths. */
#include <string.h>

#include "config/hcm.h"
#include "config/listener.h"
#include "config/ratelimit.h"
#include "core/error.h"
#include "xg_test.h"
#include "xlate_yaml.h"

static char err[1024];

#define RL_TYPE "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit"
#define PER_ROUTE_TYPE "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute"
#define L_RL(fields)                                                                                                   \
    "name: l1\naddress: {socket_address: {address: 0.0.0.0, port_value: 8080}}\nfilter_chains:\n"                      \
    "- filters:\n  - name: hcm\n    typed_config: {'@type': "                                                          \
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, "          \
    "stat_prefix: s, rds: {route_config_name: r, config_source: {ads: {}}}, http_filters: ["                           \
    "{name: rl, typed_config: {'@type': " RL_TYPE ", " fields "}}, "                                                   \
    "{name: router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]}\n"
#define SVC "rate_limit_service: {transport_api_version: V3, grpc_service: {envoy_grpc: {cluster_name: rls}}}"
#define FPATH "filter_chains[0].filters[0].typed_config.http_filters[0].typed_config."

static xg_res *rl(const char *yaml, const xg_ratelimit_config **out)
{
    xg_res *r = xy_xlate(XG_RES_LISTENER, "r", yaml, err, sizeof(err));
    *out = NULL;
    if (r != NULL) {
        const xg_hcm *h = ((const xg_listener *)r->body)->chains[0].hcm;
        if (h->n_filters == 2 && h->filters[0].kind == XG_HTTP_FILTER_RATELIMIT)
            *out = h->filters[0].translated;
    }
    return r;
}

static void nack(const char *yaml, const char *want)
{
    const xg_ratelimit_config *c;
    xg_res *r = rl(yaml, &c);
    if (CHECK(r == NULL))
        CHECK_STR(err, want);
    else
        xg_res_unref(r);
}

XG_TEST(defaults)
{
    const xg_ratelimit_config *c;
    xg_res *r = rl(L_RL("domain: d, " SVC), &c);
    if (!CHECK(r != NULL && c != NULL)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_STR(c->domain, "d");
    CHECK_EQ_INT(c->stage, 0);
    CHECK_EQ_INT(c->request_type, XG_RL_REQ_BOTH);
    CHECK_EQ_INT(c->timeout_ms, 20);
    CHECK(!c->failure_mode_deny);
    CHECK(!c->rate_limited_as_resource_exhausted);
    CHECK(!c->x_ratelimit_headers);
    CHECK(!c->disable_x_envoy_ratelimited_header);
    CHECK_EQ_INT(c->rate_limited_status, 429);
    CHECK_EQ_INT(c->status_on_error, 500);
    CHECK_EQ_INT(c->response_headers.n_add, 0);
    CHECK_EQ_INT(c->service.kind, XG_RLS_CLUSTER);
    CHECK_STR(c->service.cluster, "rls");
    CHECK_STR(c->service.authority, "rls");
    xg_res_unref(r);
}

XG_TEST(every_field)
{
    const xg_ratelimit_config *c;
    xg_res *r = rl(L_RL("domain: d, stage: 10, request_type: internal, timeout: 0.25s, failure_mode_deny: true, "
                        "rate_limited_as_resource_exhausted: true, enable_x_ratelimit_headers: DRAFT_VERSION_03, "
                        "disable_x_envoy_ratelimited_header: true, rate_limited_status: {code: ServiceUnavailable}, "
                        "status_on_error: {code: BadGateway}, stat_prefix: x, "
                        "response_headers_to_add: [{header: {key: x-rl, value: yes}}], "
                        "rate_limit_service: {transport_api_version: V3, grpc_service: {envoy_grpc: "
                        "{cluster_name: rls, authority: rls.example}, timeout: 1s}}"),
                   &c);
    if (!CHECK(r != NULL && c != NULL)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(c->stage, 10);
    CHECK_EQ_INT(c->request_type, XG_RL_REQ_INTERNAL);
    CHECK_EQ_INT(c->timeout_ms, 250);
    CHECK(c->failure_mode_deny && c->rate_limited_as_resource_exhausted && c->x_ratelimit_headers);
    CHECK(c->disable_x_envoy_ratelimited_header);
    CHECK_EQ_INT(c->rate_limited_status, 503);
    CHECK_EQ_INT(c->status_on_error, 502);
    CHECK_EQ_INT(c->response_headers.n_add, 1);
    CHECK_STR(c->service.authority, "rls.example");
    xg_res_unref(r);

    r = rl(L_RL("domain: d, request_type: external, rate_limited_status: {code: OK}, "
                "rate_limit_service: {transport_api_version: V3, grpc_service: {google_grpc: "
                "{target_uri: '127.0.0.1:8081', stat_prefix: rls}}}"),
           &c);
    if (CHECK(r != NULL && c != NULL)) {
        CHECK_EQ_INT(c->request_type, XG_RL_REQ_EXTERNAL);
        CHECK_EQ_INT(c->rate_limited_status, 429); /* below 400: Envoy's 429 */
        CHECK_EQ_INT(c->service.kind, XG_RLS_URI);
        CHECK_STR(c->service.uri, "127.0.0.1:8081");
        xg_res_unref(r);
    }
    r = rl(L_RL("domain: d, request_type: both, timeout: 0s, " SVC), &c);
    if (CHECK(r != NULL && c != NULL)) {
        CHECK_EQ_INT(c->timeout_ms, 0);
        xg_res_unref(r);
    }
}

XG_TEST(nacks)
{
    nack(L_RL(SVC), FPATH "domain: is required");
    nack(L_RL("domain: d, stage: 11, " SVC), FPATH "stage: must be at most 10, not 11");
    nack(L_RL("domain: d, request_type: all, " SVC),
         FPATH "request_type: must be \"internal\", \"external\" or \"both\", not \"all\"");
    nack(L_RL("domain: d"), FPATH "rate_limit_service: required");
    nack(L_RL("domain: d, rate_limit_service: {grpc_service: {envoy_grpc: {cluster_name: rls}}}"),
         FPATH "rate_limit_service.transport_api_version: must be V3 (Envoy refuses AUTO and V2)");
    nack(L_RL("domain: d, rate_limit_service: {transport_api_version: V3}"),
         FPATH "rate_limit_service.grpc_service: required");
    nack(L_RL("domain: d, rate_limit_service: {transport_api_version: V3, grpc_service: {}}"),
         FPATH "rate_limit_service.grpc_service: one of envoy_grpc or google_grpc is required");
    nack(L_RL("domain: d, rate_limit_service: {transport_api_version: V3, grpc_service: {envoy_grpc: {}}}"),
         FPATH "rate_limit_service.grpc_service.envoy_grpc.cluster_name: is required");
    nack(L_RL("domain: d, rate_limit_service: {transport_api_version: V3, grpc_service: {google_grpc: "
              "{target_uri: x, credentials_factory_name: f}}}"),
         FPATH "rate_limit_service.grpc_service.google_grpc.credentials_factory_name: not supported (plaintext gRPC "
               "only)");
    nack(L_RL("domain: d, rate_limit_service: {transport_api_version: V3, grpc_service: {envoy_grpc: "
              "{cluster_name: rls}, initial_metadata: [{key: a, value: b}]}}"),
         FPATH "rate_limit_service.grpc_service.initial_metadata: not supported");
    nack(L_RL("domain: d, rate_limited_status: {}, " SVC),
         FPATH "rate_limited_status: code 0 is not a defined HTTP status code");
    nack(L_RL("domain: d, timeout: -1s, " SVC), FPATH "timeout: must not be negative");
}

static xg_res *routes(const char *yaml)
{
    return xy_xlate(XG_RES_ROUTE_CONFIG, "r", yaml, err, sizeof(err));
}

XG_TEST(per_route)
{
    xg_res *r = routes("name: rc\nvirtual_hosts:\n- name: vh\n  domains: ['*']\n"
                       "  typed_per_filter_config:\n"
                       "    rl: {'@type': " PER_ROUTE_TYPE ", vh_rate_limits: IGNORE, domain: other}\n"
                       "  routes:\n  - match: {prefix: /}\n    route: {cluster: c}\n"
                       "    typed_per_filter_config:\n"
                       "      rl: {'@type': type.googleapis.com/envoy.config.route.v3.FilterConfig,\n"
                       "           config: {'@type': " PER_ROUTE_TYPE ", vh_rate_limits: INCLUDE, "
                       "override_option: INCLUDE_POLICY}}\n");
    if (!CHECK(r != NULL)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const xg_route_config *rc = r->body;
    const xg_vhost *vh = &rc->vhosts[0];
    const xg_typed_config *t = xg_typed_config_most_specific(rc, vh, NULL, "rl");
    if (CHECK(t != NULL && t->translated != NULL)) {
        const xg_ratelimit_per_route *p = t->translated;
        CHECK_EQ_INT(p->vh_rate_limits, 2);
        CHECK_STR(p->domain, "other");
    }
    t = xg_typed_config_most_specific(rc, vh, &vh->routes[0], "rl");
    if (CHECK(t != NULL && t->translated != NULL)) {
        const xg_ratelimit_per_route *p = t->translated;
        CHECK_EQ_INT(p->vh_rate_limits, 1);
        CHECK(p->domain == NULL);
    }
    xg_res_unref(r);

    r = routes("name: rc\ntyped_per_filter_config:\n  rl: {'@type': " PER_ROUTE_TYPE
               ", rate_limits: [{actions: [{generic_key: {descriptor_value: v}}]}]}\n");
    if (CHECK(r == NULL))
        CHECK_STR(err, "typed_per_filter_config[\"rl\"].rate_limits: not supported (use the route's or virtual "
                       "host's rate_limits)");
}
