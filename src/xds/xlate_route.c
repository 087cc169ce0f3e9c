/* RouteConfiguration translation (RDS, and inline route configs of an
 * HttpConnectionManager through the same code): virtual hosts with Envoy's
 * domain rules compiled into a lookup index, routes in order, header
 * mutations, and raw typed_per_filter_config maps. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "router/route_index.h"
#include "xds/pb_registry.h"
#include "xds/xlate_int.h"

typedef Envoy__Config__Route__V3__RouteConfiguration pb_route_config;
typedef Envoy__Config__Route__V3__VirtualHost pb_vhost;
typedef Envoy__Config__Route__V3__Route pb_route;

#define RT(x) ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_##x

/* --- typed_per_filter_config --- */

static int cmp_typed_config(const void *a, const void *b)
{
    return strcmp(((const xg_typed_config *)a)->key, ((const xg_typed_config *)b)->key);
}

/* Envoy rejects a per-filter config whose type it does not know, unless it is
 * wrapped in a FilterConfig with is_optional. Known = in xdsgate's proto set. */
static int check_per_filter_type(xg_xlate *x, const Google__Protobuf__Any *any, xg_typed_config *tc)
{
    if (strcmp(tc->type_name, "envoy.config.route.v3.FilterConfig") != 0) {
        if (xg_pb_find_type(tc->type_name) == NULL)
            return xg_xlate_fail(x, "type \"%s\" is not supported", tc->type_url);
        return xg__xlate_filter_per_route(x, tc->type_name, any, tc);
    }
    Envoy__Config__Route__V3__FilterConfig *fc = NULL;
    int rc = xg__xlate_unpack_typed(x, "", any, &envoy__config__route__v3__filter_config__descriptor,
                                    (ProtobufCMessage **)&fc);
    if (rc < 0)
        return rc;
    tc->disables = fc->disabled;
    const char *inner = fc->config ? xg__any_type_name(fc->config) : "";
    if (fc->config != NULL && !fc->is_optional && xg_pb_find_type(inner) == NULL)
        rc = xg__fail_at(x, "config", "type \"%s\" is not supported and the FilterConfig is not optional",
                         fc->config->type_url);
    else if (fc->config != NULL) {
        size_t mark = xg_xlate_push(x, "config");
        const char *eff = xg__xlate_effective_type(x, fc->config, &rc); /* a TypedStruct's inner type */
        if (eff != NULL)
            rc = xg__xlate_filter_per_route(x, eff, fc->config, tc);
        if (rc == 0)
            xg_xlate_pop(x, mark);
    }
    protobuf_c_message_free_unpacked(&fc->base, NULL);
    return rc;
}

int xg__xlate_per_filter(xg_xlate *x, const xg__pb_tpfc_entry *const *pb, size_t n, xg_typed_config_map *out)
{
    xg_typed_config *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "typed_per_filter_config");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg__pbpath_key(&x->path, pb[i]->key);
        if (pb[i]->key[0] == '\0')
            return xg_xlate_fail(x, "the filter name must not be empty");
        if (pb[i]->value == NULL)
            return xg_xlate_fail(x, "a typed config is required");
        int rc = xg__xlate_typed_config(x, pb[i]->key, pb[i]->value, &v[i]);
        if (rc == 0)
            rc = check_per_filter_type(x, pb[i]->value, &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_typed_config);
    out->items = v;
    out->n = n;
    return 0;
}

/* --- routes --- */

static int route_action(xg_xlate *x, const pb_route *pb, const xg__route_ctx *ctx, xg_route *out)
{
    size_t mark;
    int rc;
    switch (pb->action_case) {
    case RT(ROUTE):
        out->action = XG_ROUTE_FORWARD;
        mark = xg_xlate_push(x, "route");
        rc = xg__xlate_route_forward(x, pb->route, ctx, &out->forward);
        break;
    case RT(REDIRECT):
        out->action = XG_ROUTE_REDIRECT;
        mark = xg_xlate_push(x, "redirect");
        rc = xg__xlate_redirect(x, pb->redirect, &out->redirect);
        break;
    case RT(DIRECT_RESPONSE):
        out->action = XG_ROUTE_DIRECT_RESPONSE;
        mark = xg_xlate_push(x, "direct_response");
        rc = xg__xlate_direct_response(x, pb->direct_response, ctx, &out->direct);
        break;
    default:
        return xg_xlate_fail(x, "one of route, redirect or direct_response is required");
    }
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* A decorator only names the route's tracing span: accepted, no effect until
 * xdsgate traces; operation is still required, as in Envoy. */
static int decorator(xg_xlate *x, const Envoy__Config__Route__V3__Decorator *pb)
{
    if (pb == NULL || pb->operation[0] != '\0')
        return 0;
    xg_xlate_push(x, "decorator");
    return xg__fail_at(x, "operation", "must not be empty");
}

static int route(xg_xlate *x, const pb_route *pb, const xg__route_ctx *ctx, xg_route *out)
{
    out->name = xg_xlate_strdup(x, pb->name);
    out->stat_prefix = xg_xlate_strdup(x, pb->stat_prefix);
    if (out->name == NULL || out->stat_prefix == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "match");
    int rc = xg__xlate_route_match(x, pb->match, &out->match);
    if (rc < 0)
        return rc;
    xg_xlate_pop(x, mark);
    if ((rc = route_action(x, pb, ctx, out)) < 0 || (rc = decorator(x, pb->decorator)) < 0)
        return rc;
    xg_route_cold c; /* a byte copy of the default, compared with it by xg__xlate_cold */
    memcpy(&c, &xg_route_cold_default, sizeof(c));
    c.per_request_buffer_limit_bytes = xg__u32_or(pb->per_request_buffer_limit_bytes, 0);
    rc = xg__xlate_header_mutations(x, "request_headers_to_add", pb->request_headers_to_add,
                                    pb->n_request_headers_to_add, "request_headers_to_remove",
                                    pb->request_headers_to_remove, pb->n_request_headers_to_remove, &c.request_headers);
    if (rc == 0)
        rc = xg__xlate_header_mutations(x, "response_headers_to_add", pb->response_headers_to_add,
                                        pb->n_response_headers_to_add, "response_headers_to_remove",
                                        pb->response_headers_to_remove, pb->n_response_headers_to_remove,
                                        &c.response_headers);
    if (rc == 0)
        rc = xg__xlate_per_filter(x, (const xg__pb_tpfc_entry *const *)pb->typed_per_filter_config,
                                  pb->n_typed_per_filter_config, &c.per_filter);
    if (rc == 0 && (out->cold = xg__xlate_cold(x, &c, &xg_route_cold_default, sizeof(c))) == NULL)
        rc = XG_ENOMEM;
    return rc;
}

static int routes(xg_xlate *x, const pb_vhost *pb, const xg__route_ctx *ctx, xg_vhost *out)
{
    size_t n = pb->n_routes;
    xg_route *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "routes");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        v[i].index = (uint32_t)i;
        int rc = route(x, pb->routes[i], ctx, &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    out->routes = v;
    out->n_routes = n;
    return 0;
}

/* --- virtual hosts --- */

/* Envoy's domain forms: "*", "*suffix", "prefix*" or an exact name; a '*'
 * anywhere else could never match and is rejected. Stored lowercase. */
static int domain(xg_xlate *x, const char *d, xg_lstr *out)
{
    size_t len = strlen(d);
    if (len == 0)
        return xg_xlate_fail(x, "a domain must not be empty");
    if (!xg__valid_header_value(d, len))
        return xg_xlate_fail(x, "domain \"%s\" contains CR, LF or NUL", d);
    const char *star = strchr(d, '*');
    if (star != NULL && len > 1 &&
        ((star != d && star != d + len - 1) || (d[0] == '*' && d[len - 1] == '*') || strchr(star + 1, '*')))
        return xg_xlate_fail(x,
                             "domain \"%s\": a wildcard '*' is allowed only alone (\"*\"), at the start "
                             "(\"*.example.com\") or at the end (\"example.*\")",
                             d);
    char *low = xg_xlate_strdup(x, d);
    if (low == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < len; i++)
        low[i] = (low[i] >= 'A' && low[i] <= 'Z') ? (char)(low[i] + ('a' - 'A')) : low[i];
    *out = (xg_lstr){low, len};
    return 0;
}

static int domains(xg_xlate *x, const pb_vhost *pb, xg_vhost *out)
{
    size_t n = pb->n_domains;
    if (n == 0)
        return xg__fail_at(x, "domains", "at least one domain is required");
    xg_lstr *v = xg_arena_calloc(&x->res->arena, n, sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "domains");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = domain(x, pb->domains[i], &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    out->domains = v;
    out->n_domains = n;
    return 0;
}

static int vhost_unsupported(xg_xlate *x, const pb_vhost *pb)
{
    if (pb->name[0] == '\0')
        return xg__fail_at(x, "name", "must not be empty");
    if ((unsigned)pb->require_tls > 2)
        return xg__fail_at(x, "require_tls", "unknown value %d", (int)pb->require_tls);
    if (pb->hedge_policy != NULL)
        return xg__fail_at(x, "hedge_policy", "not supported");
    if (pb->n_request_mirror_policies > 0)
        return xg__fail_at(x, "request_mirror_policies", "not supported yet");
    if (pb->cors != NULL)
        return xg__fail_at(x, "cors", "%s", XG__DEPRECATED_CORS);
    return 0;
}

static int vhost_policies(xg_xlate *x, const pb_vhost *pb, xg_vhost *out)
{
    int rc = 0;
    if (pb->retry_policy != NULL) {
        size_t mark = xg_xlate_push(x, "retry_policy");
        if ((rc = xg__xlate_retry_policy(x, pb->retry_policy, &out->retry)) < 0)
            return rc;
        xg_xlate_pop(x, mark);
    }
    if ((rc = xg__xlate_rate_limits(x, pb->rate_limits, pb->n_rate_limits, &out->rate_limits)) < 0)
        return rc;
    rc = xg__xlate_header_mutations(x, "request_headers_to_add", pb->request_headers_to_add,
                                    pb->n_request_headers_to_add, "request_headers_to_remove",
                                    pb->request_headers_to_remove, pb->n_request_headers_to_remove,
                                    &out->request_headers);
    if (rc == 0)
        rc = xg__xlate_header_mutations(x, "response_headers_to_add", pb->response_headers_to_add,
                                        pb->n_response_headers_to_add, "response_headers_to_remove",
                                        pb->response_headers_to_remove, pb->n_response_headers_to_remove,
                                        &out->response_headers);
    if (rc == 0)
        rc = xg__xlate_per_filter(x, (const xg__pb_tpfc_entry *const *)pb->typed_per_filter_config,
                                  pb->n_typed_per_filter_config, &out->per_filter);
    return rc;
}

static int vhost(xg_xlate *x, const pb_vhost *pb, const xg__route_ctx *rc_ctx, xg_vhost *out)
{
    int rc = vhost_unsupported(x, pb);
    if (rc < 0)
        return rc;
    if ((out->name = xg_xlate_strdup(x, pb->name)) == NULL)
        return XG_ENOMEM;
    out->require_tls = (xg_tls_requirement)pb->require_tls;
    out->include_request_attempt_count = pb->include_request_attempt_count;
    out->include_attempt_count_in_response = pb->include_attempt_count_in_response;
    out->include_is_timeout_retry_header = pb->include_is_timeout_retry_header;
    out->per_request_buffer_limit_bytes = xg__u32_or(pb->per_request_buffer_limit_bytes, 0);
    /* virtual_clusters only name request classes for stats: accepted, no effect. */
    if ((rc = domains(x, pb, out)) < 0 || (rc = vhost_policies(x, pb, out)) < 0)
        return rc;
    xg__route_ctx ctx = *rc_ctx;
    ctx.vh_retry = out->retry;
    return routes(x, pb, &ctx, out);
}

/* --- route configuration --- */

static int config_fields(xg_xlate *x, const pb_route_config *pb, bool inline_rc, xg_route_config *rc_out)
{
    if (pb->n_request_mirror_policies > 0)
        return xg__fail_at(x, "request_mirror_policies", "not supported yet");
    rc_out->most_specific_header_mutations_wins = pb->most_specific_header_mutations_wins;
    rc_out->validate_clusters = xg__bool_or(pb->validate_clusters, inline_rc);
    rc_out->max_direct_response_body_size_bytes = xg__u32_or(pb->max_direct_response_body_size_bytes, 4096);
    rc_out->ignore_port_in_host_matching = pb->ignore_port_in_host_matching;
    rc_out->ignore_path_parameters_in_path_matching = pb->ignore_path_parameters_in_path_matching;
    size_t n = pb->n_internal_only_headers;
    xg_lstr *h = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*h)) : NULL;
    if (n && h == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "internal_only_headers");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = xg__xlate_header_name(x, pb->internal_only_headers[i], false, &h[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    rc_out->internal_only_headers = h;
    rc_out->n_internal_only_headers = n;
    return 0;
}

static int config_headers(xg_xlate *x, const pb_route_config *pb, xg_route_config *out)
{
    int rc = xg__xlate_header_mutations(x, "request_headers_to_add", pb->request_headers_to_add,
                                        pb->n_request_headers_to_add, "request_headers_to_remove",
                                        pb->request_headers_to_remove, pb->n_request_headers_to_remove,
                                        &out->request_headers);
    if (rc == 0)
        rc = xg__xlate_header_mutations(x, "response_headers_to_add", pb->response_headers_to_add,
                                        pb->n_response_headers_to_add, "response_headers_to_remove",
                                        pb->response_headers_to_remove, pb->n_response_headers_to_remove,
                                        &out->response_headers);
    if (rc == 0)
        rc = xg__xlate_per_filter(x, (const xg__pb_tpfc_entry *const *)pb->typed_per_filter_config,
                                  pb->n_typed_per_filter_config, &out->per_filter);
    return rc;
}

static int vhosts(xg_xlate *x, const pb_route_config *pb, xg__nameset *clusters, xg_route_config *out)
{
    xg__route_ctx ctx = {.max_body = out->max_direct_response_body_size_bytes, .clusters = clusters};
    size_t n = pb->n_virtual_hosts;
    xg_vhost *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "virtual_hosts");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = vhost(x, pb->virtual_hosts[i], &ctx, &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    out->vhosts = v;
    out->n_vhosts = n;
    return 0;
}

int xg__xlate_route_config_into(xg_xlate *x, const Envoy__Config__Route__V3__RouteConfiguration *pb, bool inline_rc,
                                const xg_route_config **out)
{
    xg_route_config *rc_out = xg_xlate_alloc(x, sizeof(*rc_out));
    if (rc_out == NULL || (rc_out->name = xg_xlate_strdup(x, pb->name)) == NULL)
        return XG_ENOMEM;
    int rc = config_fields(x, pb, inline_rc, rc_out);
    if (rc == 0)
        rc = config_headers(x, pb, rc_out);
    xg__nameset clusters = {0};
    if (rc == 0)
        rc = vhosts(x, pb, &clusters, rc_out);
    xg__nameset_dispose(&clusters);
    if (rc == 0)
        rc = xg__build_domain_index(x, pb, rc_out);
    if (rc == 0) /* the path index, built once here so workers never compile anything */
        rc = xg_route_index_build(rc_out, &x->res->arena);
    *out = rc_out;
    return rc;
}

int xg_xlate_route_config(xg_xlate *x, const Envoy__Config__Route__V3__RouteConfiguration *pb)
{
    const xg_route_config *rc_out = NULL;
    int rc = xg__xlate_route_config_into(x, pb, false, &rc_out);
    if (rc == 0)
        x->res->body = (void *)rc_out;
    return rc;
}
