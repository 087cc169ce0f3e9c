/* What a matched route tells the router filter to do, with Envoy's
 * semantics: the cluster to forward to (cluster, cluster_header,
 * weighted_clusters), the request as it goes upstream (header mutations in
 * Envoy's order, host rewrite, prefix/regex path rewrite with
 * x-envoy-original-path), the Location of a redirect, and the response
 * header mutations. Timeouts and policies are plain fields of
 * xg_route_forward (config/route.h). Runs on a worker; allocates only from
 * the stream's arena. */
#ifndef XG_ROUTER_ROUTE_ACTION_H
#define XG_ROUTER_ROUTE_ACTION_H

#include <stdbool.h>
#include <stdint.h>

#include "config/route.h"
#include "core/arena.h"
#include "http/headers.h"
#include "router/header_mutation.h"

/* The upstream cluster of a forward route. */
typedef struct xg_route_target {
    /* NUL-terminated; "" when cluster_header names a header the request
     * lacks. The caller looks the name up in its snapshot; an unknown (or
     * empty) name is answered with not_found_code and response flag NC
     * (Envoy's cluster_not_found_response_code, default 503). */
    const char *cluster;
    const xg_weighted_cluster *weighted; /* the chosen weighted_clusters entry, or NULL */
    uint16_t not_found_code;
} xg_route_target;

/* Picks the cluster of forward route r for request h: cluster; the first
 * value of cluster_header; or the weighted_clusters entry for
 * (random % total_weight), where random is the request's random value or,
 * when header_name is configured and the request carries exactly one such
 * header holding an unsigned integer, that value. Names from headers are
 * copied into a. 0 or XG_ENOMEM (XG_EINVAL for a route that does not forward). */
int xg_route_pick_cluster(const xg_route *r, const xg_headers *h, uint64_t random, xg_arena *a, xg_route_target *out);

/* The two halves of xg_route_pick_cluster. The weighted_clusters entry is
 * chosen when the route is resolved, before the HTTP filters run (as
 * Envoy), so that its typed_per_filter_config applies to every filter and
 * rate-limit descriptors see it: xg_route_pick_weighted gives it (NULL
 * when r is not a forward route with weighted_clusters). The router then
 * turns the route and that pick into the target with xg_route_target_of,
 * reading cluster_header values from the headers as they reach it. */
const xg_weighted_cluster *xg_route_pick_weighted(const xg_route *r, const xg_headers *h, uint64_t random);
int xg_route_target_of(const xg_route *r, const xg_weighted_cluster *wc, const xg_headers *h, xg_arena *a,
                       xg_route_target *out);

/* Turns the request headers into what goes upstream, in Envoy's order
 * (RouteEntryImplBase::finalizeRequestHeaders): the weighted cluster's
 * header mutations and host_rewrite_literal; the route's, virtual host's
 * and route configuration's request header mutations (most specific first,
 * or last with most_specific_header_mutations_wins); the route's host
 * rewrite (literal, header, path regex; append_x_forwarded_host); then the
 * path rewrite (prefix_rewrite of the matched prefix, or regex_rewrite of
 * the path without query; the query is kept), recording the original
 * :path in x-envoy-original-path when original_path_header (the router's
 * !suppress_envoy_headers). auto_host_rewrite is left to the upstream layer
 * (xg_route_update_authority with the host's hostname). ctx->request must be
 * h. 0 or XG_ENOMEM. */
int xg_route_finalize_request(const xg_route_config *rc, const xg_vhost *vh, const xg_route *r,
                              const xg_weighted_cluster *wc, xg_headers *h, const xg_hvar_ctx *ctx,
                              bool original_path_header);

/* The response header mutations for a response to a request routed by r
 * (forwarded, redirect or direct response): the weighted cluster's first,
 * then route, virtual host, route configuration (reversed with
 * most_specific_header_mutations_wins). wc may be NULL. 0 or XG_ENOMEM. */
int xg_route_finalize_response(const xg_route_config *rc, const xg_vhost *vh, const xg_route *r,
                               const xg_weighted_cluster *wc, xg_headers *resp, const xg_hvar_ctx *ctx);

/* Sets :authority to host, first appending the old one to x-forwarded-host
 * when append_xfh (Envoy's Utility::updateAuthority). 0 or XG_ENOMEM. */
int xg_route_update_authority(xg_headers *h, const char *host, size_t len, bool append_xfh);

/* The request path after route r's prefix_rewrite / regex_rewrite (those of
 * the RouteAction, or of the RedirectAction for a redirect route); *out is
 * h's path when r rewrites nothing (*rewritten false). In a. */
int xg_route_rewritten_path(const xg_route *r, const xg_headers *h, xg_arena *a, xg_hstr *out, bool *rewritten);

/* The redirect of redirect route r (Envoy's RouteEntryImplBase::newPath):
 * applies the redirect's prefix/regex rewrite to the request's :path first
 * (as Envoy's router does, recording x-envoy-original-path when
 * original_path_header), then builds "scheme://host[:port]/path" from the
 * redirect's scheme/https, host, port, path and strip_query, the request's
 * :scheme and :authority otherwise (a default port is dropped when the
 * scheme changes, x-forwarded-proto telling the old scheme). Also gives the
 * Location Envoy adds to a direct_response with status 201 or 3xx (no
 * redirect settings: the request's own URL). *location is NUL-terminated in
 * h's arena. 0 or XG_ENOMEM. */
int xg_route_redirect_location(const xg_route *r, xg_headers *h, bool original_path_header, xg_hstr *location);

/* True when a direct_response of this status carries a Location (201, 3xx). */
bool xg_route_direct_has_location(uint16_t status);

/* The 301 Location of a require_tls redirect: "https://" :authority :path. */
int xg_route_tls_redirect_location(const xg_headers *h, xg_arena *a, xg_hstr *location);

/* Removes the route configuration's internal_only_headers from an external
 * request's headers (the connection manager calls this when the downstream
 * is not internal, as Envoy's cleanInternalHeaders). */
void xg_route_strip_internal_only(const xg_route_config *rc, xg_headers *h);

#endif
