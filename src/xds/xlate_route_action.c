/* Route actions: RouteAction (cluster, cluster_header, weighted_clusters,
 * rewrites, timeouts, policies), RedirectAction and DirectResponseAction.
 * Every named cluster is recorded as a dependency (XG_RES_CLUSTER). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "envoy/config/route/v3/route_components.pb-c.h"
#include "xds/xlate_int.h"

typedef Envoy__Config__Route__V3__RouteAction pb_route_action;
typedef Envoy__Config__Route__V3__WeightedCluster pb_weighted;
typedef Envoy__Config__Route__V3__WeightedCluster__ClusterWeight pb_cluster_weight;
typedef Envoy__Config__Route__V3__RedirectAction pb_redirect;
typedef Envoy__Config__Route__V3__DirectResponseAction pb_direct;

#define CS(x) ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_##x
#define HR(x) ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HOST_REWRITE_SPECIFIER_##x
#define RS(x) ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__SCHEME_REWRITE_SPECIFIER_##x
#define RP(x) ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_##x
#define DS(x) ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_##x

bool xg__metadata_set(const Envoy__Config__Core__V3__Metadata *m)
{
    return m != NULL && (m->n_filter_metadata > 0 || m->n_typed_filter_metadata > 0);
}

/* A string that becomes (part of) a header value: no CR, LF or NUL. */
static int header_value_str(xg_xlate *x, const char *field, const char *v, const char **out)
{
    if (!xg__valid_header_value(v, strlen(v))) {
        xg_xlate_push(x, field);
        return xg_xlate_fail(x, "must not contain CR, LF or NUL");
    }
    *out = xg_xlate_strdup(x, v);
    return *out ? 0 : XG_ENOMEM;
}

static int cluster_name(xg_xlate *x, const xg__route_ctx *ctx, const char *field, const char *name, const char **out)
{
    if (name[0] == '\0') {
        xg_xlate_push(x, field);
        return xg_xlate_fail(x, "must not be empty");
    }
    *out = xg_xlate_strdup(x, name);
    if (*out == NULL)
        return XG_ENOMEM;
    /* Thousands of routes name the same clusters: dedupe by hash before xg_xlate_dep's linear scan. */
    int fresh = xg__nameset_add(ctx->clusters, *out);
    return fresh <= 0 ? fresh : xg_xlate_dep(x, XG_RES_CLUSTER, name);
}

static int cluster_header(xg_xlate *x, const char *field, const char *name, xg_lstr *out)
{
    size_t mark = xg_xlate_push(x, field);
    int rc = xg__xlate_header_name(x, name, false, out);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* --- weighted clusters --- */

static int cluster_weight(xg_xlate *x, const xg__route_ctx *ctx, const pb_cluster_weight *pb, xg_weighted_cluster *out)
{
    int rc = 0;
    if (pb->name[0] != '\0' && pb->cluster_header[0] != '\0')
        return xg_xlate_fail(x, "only one of name and cluster_header may be set");
    if (pb->name[0] != '\0')
        rc = cluster_name(x, ctx, "name", pb->name, &out->name);
    else if (pb->cluster_header[0] != '\0')
        rc = cluster_header(x, "cluster_header", pb->cluster_header, &out->cluster_header);
    else
        return xg_xlate_fail(x, "one of name or cluster_header is required");
    if (rc < 0)
        return rc;
    out->weight = xg__u32_or(pb->weight, 0);
    if (xg__metadata_set(pb->metadata_match))
        return xg__fail_at(x, "metadata_match", "not supported (no subset load balancing)");
    if (pb->host_rewrite_specifier_case != 0 &&
        (rc = header_value_str(x, "host_rewrite_literal", pb->host_rewrite_literal, &out->host_rewrite_literal)) < 0)
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

static int weighted_clusters(xg_xlate *x, const xg__route_ctx *ctx, const pb_weighted *pb, xg_route_forward_cold *out)
{
    size_t n = pb->n_clusters;
    if (n == 0)
        return xg__fail_at(x, "clusters", "at least one cluster is required");
    xg_weighted_cluster *v = xg_arena_calloc(&x->res->arena, n, sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t mark = xg_xlate_push(x, "clusters");
        xg_xlate_push_index(x, i);
        int rc = cluster_weight(x, ctx, pb->clusters[i], &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, mark);
        out->total_weight += v[i].weight;
    }
    if (out->total_weight == 0)
        return xg__fail_at(x, "clusters", "the sum of weights must be greater than 0");
    if (out->total_weight > UINT32_MAX)
        return xg__fail_at(x, "clusters", "the sum of weights must not exceed 4294967295");
    if (pb->random_value_specifier_case != 0 &&
        cluster_header(x, "header_name", pb->header_name, &out->weighted_random_header) < 0)
        return XG_EINVAL;
    out->weighted = v;
    out->n_weighted = n;
    return 0;
}

static int cluster_specifier(xg_xlate *x, const xg__route_ctx *ctx, const pb_route_action *pb, xg_route_forward *out,
                             xg_route_forward_cold *cold)
{
    size_t mark;
    int rc;
    switch (pb->cluster_specifier_case) {
    case CS(CLUSTER):
        out->cluster_kind = XG_CLUSTER_NAME;
        return cluster_name(x, ctx, "cluster", pb->cluster, &out->cluster);
    case CS(CLUSTER_HEADER):
        out->cluster_kind = XG_CLUSTER_HEADER;
        return cluster_header(x, "cluster_header", pb->cluster_header, &cold->cluster_header);
    case CS(WEIGHTED_CLUSTERS):
        out->cluster_kind = XG_CLUSTER_WEIGHTED;
        mark = xg_xlate_push(x, "weighted_clusters");
        if ((rc = weighted_clusters(x, ctx, pb->weighted_clusters, cold)) == 0)
            xg_xlate_pop(x, mark);
        return rc;
    default:
        return xg_xlate_fail(x, "one of cluster, cluster_header or weighted_clusters is required");
    }
}

/* --- rewrites --- */

static int path_rewrites(xg_xlate *x, const pb_route_action *pb, xg_route_forward_cold *out)
{
    if (pb->prefix_rewrite[0] != '\0' && pb->regex_rewrite != NULL)
        return xg_xlate_fail(x, "only one of prefix_rewrite and regex_rewrite may be set");
    if (pb->prefix_rewrite[0] != '\0')
        return header_value_str(x, "prefix_rewrite", pb->prefix_rewrite, &out->prefix_rewrite);
    if (pb->regex_rewrite == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "regex_rewrite");
    int rc = xg__xlate_regex_rewrite(x, pb->regex_rewrite, &out->regex_rewrite);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

static int host_rewrite(xg_xlate *x, const pb_route_action *pb, xg_route_forward_cold *out)
{
    size_t mark;
    int rc;
    switch (pb->host_rewrite_specifier_case) {
    case HR(HOST_REWRITE_LITERAL):
        out->host_rewrite = XG_HOST_REWRITE_LITERAL;
        return header_value_str(x, "host_rewrite_literal", pb->host_rewrite_literal, &out->host_rewrite_literal);
    case HR(AUTO_HOST_REWRITE):
        out->host_rewrite = pb->auto_host_rewrite->value ? XG_HOST_REWRITE_AUTO : XG_HOST_REWRITE_NONE;
        return 0;
    case HR(HOST_REWRITE_HEADER):
        out->host_rewrite = XG_HOST_REWRITE_HEADER;
        return cluster_header(x, "host_rewrite_header", pb->host_rewrite_header, &out->host_rewrite_header);
    case HR(HOST_REWRITE_PATH_REGEX):
        out->host_rewrite = XG_HOST_REWRITE_PATH_REGEX;
        mark = xg_xlate_push(x, "host_rewrite_path_regex");
        if ((rc = xg__xlate_regex_rewrite(x, pb->host_rewrite_path_regex, &out->host_rewrite_path_regex)) == 0)
            xg_xlate_pop(x, mark);
        return rc;
    default:
        out->host_rewrite = XG_HOST_REWRITE_NONE;
        return 0;
    }
}

/* --- upgrades, timeouts --- */

static int route_upgrades(xg_xlate *x, const pb_route_action *pb, xg_route_forward_cold *out)
{
    size_t n = pb->n_upgrade_configs;
    xg_upgrade *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const Envoy__Config__Route__V3__RouteAction__UpgradeConfig *u = pb->upgrade_configs[i];
        size_t mark = xg_xlate_push(x, "upgrade_configs");
        xg_xlate_push_index(x, i);
        int rc = xg__xlate_upgrade_type(x, u->upgrade_type, v, sizeof(*v), i, &v[i].type);
        if (rc < 0)
            return rc;
        v[i].enabled = xg__bool_or(u->enabled, true);
        v[i].has_connect_config = u->connect_config != NULL;
        v[i].connect_allow_post = u->connect_config != NULL && u->connect_config->allow_post;
        if (u->connect_config != NULL && strcmp(v[i].type.s, "connect") != 0)
            return xg__fail_at(x, "connect_config", "only valid for the CONNECT upgrade, not \"%s\"", u->upgrade_type);
        xg_xlate_pop(x, mark);
    }
    out->upgrades = v;
    out->n_upgrades = n;
    return 0;
}

static int route_timeouts(xg_xlate *x, const pb_route_action *pb, xg_route_forward *fw, xg_route_forward_cold *out)
{
    int rc = xg__xlate_duration_ms(x, "timeout", pb->timeout, 15000, &fw->timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "idle_timeout", pb->idle_timeout, XG_MS_UNSET, &fw->idle_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "max_grpc_timeout", pb->max_grpc_timeout, XG_MS_UNSET, &out->max_grpc_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "grpc_timeout_offset", pb->grpc_timeout_offset, 0, &out->grpc_timeout_offset_ms);
    out->max_stream_duration_ms = out->grpc_timeout_header_max_ms = XG_MS_UNSET;
    const Envoy__Config__Route__V3__RouteAction__MaxStreamDuration *msd = pb->max_stream_duration;
    if (rc < 0 || msd == NULL)
        return rc;
    out->has_max_stream_duration = true;
    /* Envoy's "new" timeouts drop the route timeout; xdsgate keeps one the
     * route sets explicitly, but the 15 s default never cuts a gRPC stream
     * configured this way (docs/routing.md, Differences from Envoy). */
    if (pb->timeout == NULL)
        fw->timeout_ms = 0;
    size_t mark = xg_xlate_push(x, "max_stream_duration");
    rc = xg__xlate_duration_ms(x, "max_stream_duration", msd->max_stream_duration, XG_MS_UNSET,
                               &out->max_stream_duration_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "grpc_timeout_header_max", msd->grpc_timeout_header_max, XG_MS_UNSET,
                                   &out->grpc_timeout_header_max_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "grpc_timeout_header_offset", msd->grpc_timeout_header_offset, 0,
                                   &out->grpc_timeout_header_offset_ms);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* Fields of RouteAction that xdsgate has in proto/ but does not implement. */
static int route_unsupported(xg_xlate *x, const pb_route_action *pb)
{
    if (xg__metadata_set(pb->metadata_match))
        return xg__fail_at(x, "metadata_match", "not supported (no subset load balancing)");
    if (pb->n_request_mirror_policies > 0)
        return xg__fail_at(x, "request_mirror_policies", "not supported yet");
    if (pb->internal_redirect_policy != NULL)
        return xg__fail_at(x, "internal_redirect_policy", "not supported");
    if (pb->hedge_policy != NULL)
        return xg__fail_at(x, "hedge_policy", "not supported");
    if (pb->cors != NULL)
        return xg__fail_at(x, "cors", "%s", XG__DEPRECATED_CORS);
    if ((unsigned)pb->cluster_not_found_response_code > 2)
        return xg__fail_at(x, "cluster_not_found_response_code", "unknown value %d",
                           (int)pb->cluster_not_found_response_code);
    if ((unsigned)pb->priority > 1)
        return xg__fail_at(x, "priority", "unknown value %d", (int)pb->priority);
    return 0;
}

static int route_policies(xg_xlate *x, const pb_route_action *pb, const xg__route_ctx *ctx, xg_route_forward *fw,
                          xg_route_forward_cold *out)
{
    int rc = 0;
    fw->retry = ctx->vh_retry;
    if (pb->retry_policy != NULL) {
        size_t mark = xg_xlate_push(x, "retry_policy");
        if ((rc = xg__xlate_retry_policy(x, pb->retry_policy, &fw->retry)) < 0)
            return rc;
        xg_xlate_pop(x, mark);
    }
    if ((rc = xg__xlate_rate_limits(x, pb->rate_limits, pb->n_rate_limits, &out->rate_limits)) < 0)
        return rc;
    out->include_vh_rate_limits = pb->include_vh_rate_limits == NULL  ? XG_UNSET
                                  : pb->include_vh_rate_limits->value ? XG_TRUE
                                                                      : XG_FALSE;
    return xg__xlate_hash_policies(x, pb->hash_policy, pb->n_hash_policy, &out->hash_policies, &out->n_hash_policies);
}

const void *xg__xlate_cold(xg_xlate *x, const void *block, const void *dflt, size_t size)
{
    if (memcmp(block, dflt, size) == 0)
        return dflt;
    return xg_arena_memdup(&x->res->arena, block, size);
}

int xg__xlate_route_forward(xg_xlate *x, const Envoy__Config__Route__V3__RouteAction *pb, const xg__route_ctx *ctx,
                            xg_route_forward *out)
{
    static const uint16_t not_found_codes[] = {503, 404, 500};
    /* Filled from a byte copy of the default, so an unset field (and padding)
     * compares equal to it below. */
    xg_route_forward_cold c;
    memcpy(&c, &xg_route_forward_cold_default, sizeof(c));
    int rc = route_unsupported(x, pb);
    if (rc == 0)
        rc = cluster_specifier(x, ctx, pb, out, &c);
    if (rc < 0)
        return rc;
    c.cluster_not_found_code = not_found_codes[pb->cluster_not_found_response_code];
    out->high_priority = pb->priority == ENVOY__CONFIG__CORE__V3__ROUTING_PRIORITY__HIGH;
    c.append_x_forwarded_host = pb->append_x_forwarded_host;
    if ((rc = path_rewrites(x, pb, &c)) == 0 && (rc = host_rewrite(x, pb, &c)) == 0 &&
        (rc = route_timeouts(x, pb, out, &c)) == 0 && (rc = route_upgrades(x, pb, &c)) == 0)
        rc = route_policies(x, pb, ctx, out, &c);
    if (rc == 0 && (out->cold = xg__xlate_cold(x, &c, &xg_route_forward_cold_default, sizeof(c))) == NULL)
        rc = XG_ENOMEM;
    return rc;
}

/* --- redirect --- */

static int redirect_scheme(xg_xlate *x, const pb_redirect *pb, xg_redirect *out)
{
    if (pb->scheme_rewrite_specifier_case == RS(HTTPS_REDIRECT)) {
        out->scheme = pb->https_redirect ? "https" : NULL;
        return 0;
    }
    if (pb->scheme_rewrite_specifier_case != RS(SCHEME_REDIRECT) || pb->scheme_redirect[0] == '\0')
        return 0;
    char *s = xg_xlate_strdup(x, pb->scheme_redirect);
    if (s == NULL)
        return XG_ENOMEM;
    for (char *p = s; *p; p++) {
        *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p + ('a' - 'A')) : *p;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')) {
            xg_xlate_push(x, "scheme_redirect");
            return xg_xlate_fail(x, "\"%s\" is not a URI scheme", pb->scheme_redirect);
        }
    }
    out->scheme = s;
    return 0;
}

static int redirect_path(xg_xlate *x, const pb_redirect *pb, xg_redirect *out)
{
    size_t mark;
    int rc;
    switch (pb->path_rewrite_specifier_case) {
    case RP(PATH_REDIRECT):
        out->path_kind = XG_REDIRECT_PATH_REPLACE;
        return header_value_str(x, "path_redirect", pb->path_redirect, &out->path);
    case RP(PREFIX_REWRITE):
        out->path_kind = XG_REDIRECT_PATH_PREFIX;
        return header_value_str(x, "prefix_rewrite", pb->prefix_rewrite, &out->path);
    case RP(REGEX_REWRITE):
        out->path_kind = XG_REDIRECT_PATH_REGEX;
        mark = xg_xlate_push(x, "regex_rewrite");
        if ((rc = xg__xlate_regex_rewrite(x, pb->regex_rewrite, &out->regex)) == 0)
            xg_xlate_pop(x, mark);
        return rc;
    default:
        out->path_kind = XG_REDIRECT_PATH_KEEP;
        return 0;
    }
}

int xg__xlate_redirect(xg_xlate *x, const Envoy__Config__Route__V3__RedirectAction *pb, xg_redirect *out)
{
    static const uint16_t codes[] = {301, 302, 303, 307, 308};
    if ((unsigned)pb->response_code > 4)
        return xg__fail_at(x, "response_code", "unknown value %d", (int)pb->response_code);
    out->code = codes[pb->response_code];
    out->strip_query = pb->strip_query;
    if (pb->port_redirect > 65535)
        return xg__fail_at(x, "port_redirect", "%u is not a port (1-65535)", pb->port_redirect);
    out->port = (uint16_t)pb->port_redirect;
    int rc = redirect_scheme(x, pb, out);
    if (rc == 0 && pb->host_redirect[0] != '\0')
        rc = header_value_str(x, "host_redirect", pb->host_redirect, &out->host);
    return rc < 0 ? rc : redirect_path(x, pb, out);
}

/* --- direct response --- */

static int read_file(xg_xlate *x, const char *path, uint32_t max, xg_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return xg_xlate_fail(x, "cannot read \"%s\": %s", path, strerror(errno));
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = xg_buf_append(out, chunk, n);
        if (rc == 0 && out->len > max)
            rc = xg_xlate_fail(x, "\"%s\" is larger than max_direct_response_body_size_bytes (%u)", path, max);
    }
    if (rc == 0 && ferror(f))
        rc = xg_xlate_fail(x, "cannot read \"%s\": %s", path, strerror(errno));
    fclose(f);
    return rc;
}

static int body_source(xg_xlate *x, const Envoy__Config__Core__V3__DataSource *pb, uint32_t max, xg_buf *out)
{
    const char *env;
    if (pb->watched_directory != NULL)
        return xg__fail_at(x, "watched_directory", "not supported for direct_response bodies");
    switch (pb->specifier_case) {
    case DS(FILENAME):
        xg_xlate_push(x, "filename");
        return read_file(x, pb->filename, max, out);
    case DS(INLINE_BYTES):
        return xg_buf_append(out, pb->inline_bytes.data, pb->inline_bytes.len);
    case DS(INLINE_STRING):
        return xg_buf_puts(out, pb->inline_string);
    case DS(ENVIRONMENT_VARIABLE):
        if ((env = getenv(pb->environment_variable)) == NULL) {
            xg_xlate_push(x, "environment_variable");
            return xg_xlate_fail(x, "$%s is not set", pb->environment_variable);
        }
        return xg_buf_puts(out, env);
    default:
        return xg_xlate_fail(x, "one of filename, inline_bytes, inline_string or environment_variable is required");
    }
}

int xg__xlate_direct_response(xg_xlate *x, const Envoy__Config__Route__V3__DirectResponseAction *pb,
                              const xg__route_ctx *ctx, xg_direct_response *out)
{
    if (pb->status < 200 || pb->status > 599)
        return xg__fail_at(x, "status", "%u is not in 200-599", pb->status);
    out->status = (uint16_t)pb->status;
    if (pb->body == NULL)
        return 0;
    xg_buf b;
    xg_buf_init(&b);
    size_t mark = xg_xlate_push(x, "body");
    int rc = body_source(x, pb->body, ctx->max_body, &b);
    if (rc == 0 && b.len > ctx->max_body)
        rc = xg_xlate_fail(x, "body is %zu bytes, more than max_direct_response_body_size_bytes (%u)", b.len,
                           ctx->max_body);
    if (rc == 0) {
        out->body = xg_arena_memdup(&x->res->arena, b.len ? b.data : "", b.len);
        out->body_len = b.len;
        rc = out->body ? 0 : XG_ENOMEM;
        xg_xlate_pop(x, mark);
    }
    xg_buf_dispose(&b);
    return rc;
}
