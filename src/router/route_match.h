/* Route selection on a worker: the virtual host for a request's :authority,
 * Envoy's require_tls redirect, and the first route (in configuration order)
 * whose match accepts the request: path (prefix, exact, safe_regex,
 * path_separated_prefix, connect_matcher; case_sensitive), header matchers,
 * query parameter matchers, runtime_fraction, grpc and tls_context. Pure
 * functions over an immutable route configuration and one request; the only
 * allocations (the parsed query, joined header values) come from the
 * request's arena. */
#ifndef XG_ROUTER_ROUTE_MATCH_H
#define XG_ROUTER_ROUTE_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "config/route.h"
#include "core/arena.h"
#include "http/headers.h"

typedef struct xg_query_param {
    xg_hstr name;
    xg_hstr value; /* "" for "?flag" */
} xg_query_param;

/* One request as route matching sees it. Initialise with xg_route_req_init;
 * the lazily computed parts (the path to match, the parsed query) are cached
 * here, so one request is parsed once however many routes are tried. */
typedef struct xg_route_req {
    const xg_headers *headers; /* after the connection manager's path sanitising; borrowed */
    xg_arena *arena;           /* the stream's arena */
    /* One random value per request, as Envoy's stream id: runtime_fraction
     * (value % 1000000 < parts per million) and weighted cluster selection. */
    uint64_t random;
    bool tls_presented; /* downstream TLS with a client certificate presented */
    bool tls_validated; /* ... and verified */
    int err;            /* XG_ENOMEM once an allocation failed: routes stop matching */

    /* Cached by the matcher; do not set. */
    xg_hstr path;       /* :path without query/fragment (and ";params" when the config says so) */
    bool path_ready;    /* path computed for ignore_params below */
    bool ignore_params; /* what path was computed for */
    bool query_parsed;
    uint32_t n_query;
    const xg_query_param *query;
} xg_route_req;

/* Starts matching state for request headers h (borrowed, as is a). */
void xg_route_req_init(xg_route_req *q, const xg_headers *h, xg_arena *a, uint64_t random);

/* The virtual host for the request's :authority (Envoy's precedence: exact,
 * longest suffix wildcard, longest prefix wildcard, "*"). The port is part of
 * the host unless the config says ignore_port_in_host_matching. NULL: no
 * virtual host (404, response flag NR). Borrowed from rc. */
const xg_vhost *xg_route_find_vhost(const xg_route_config *rc, const xg_headers *h);

/* Envoy's require_tls: true when the request must be answered with a 301 to
 * https (xg_route_tls_redirect_location) instead of being routed. The scheme
 * is x-forwarded-proto (which the connection manager sets), else :scheme;
 * EXTERNAL_ONLY spares requests carrying "x-envoy-internal: true". */
bool xg_route_needs_tls_redirect(const xg_vhost *vh, const xg_headers *h);

/* The first route of vh (non-NULL, from xg_route_find_vhost on the same rc)
 * that matches, using rc's compiled index when it has one
 * (router/route_index.h), else scanning in order. NULL: no route (404, NR),
 * or q->err is set. Borrowed from rc. */
const xg_route *xg_route_find(const xg_route_config *rc, const xg_vhost *vh, xg_route_req *q);

/* The same by scanning every route in order: the reference the index must
 * agree with (tests, benchmarks). */
const xg_route *xg_route_find_linear(const xg_route_config *rc, const xg_vhost *vh, xg_route_req *q);

/* True when route r (of a virtual host of rc) matches the request. */
bool xg_route_matches(const xg_route_config *rc, const xg_route *r, xg_route_req *q);

/* The path route matching uses for q under rc (cached). s NULL: the request
 * has no :path (CONNECT), so only connect_matcher routes can match. */
xg_hstr xg_route_req_path(const xg_route_config *rc, xg_route_req *q);

/* Envoy's gRPC request test: content-type "application/grpc" or
 * "application/grpc+..." (not grpc-web), and a :path. */
bool xg_route_is_grpc(const xg_headers *h);

/* One header matcher against h (Envoy's HeaderUtility::matchHeaders):
 * several headers of that name are matched as their values joined with ","
 * (joined in a when needed; *err gets XG_ENOMEM if that fails). Also used
 * by retry and rate-limit policies. */
bool xg_header_matcher_match(const xg_header_matcher *m, const xg_headers *h, xg_arena *a, int *err);

/* The first value of request header name (lowercase; ':' pseudo-headers
 * too), as %REQ(x)%, cluster_header and host_rewrite_header read it. False
 * when absent. */
bool xg_request_header_first(const xg_headers *h, const char *name, size_t len, xg_hstr *out);

/* The query parameters of q's :path, parsed once: split at '&', then at the
 * first '=', not percent-decoded (as Envoy's route matching). Borrowed from
 * the arena; NULL with *n 0 when there is no query (or on ENOMEM: q->err). */
const xg_query_param *xg_route_req_query(xg_route_req *q, uint32_t *n);

/* absl::SimpleAtoi for int64 / uint64, which Envoy uses for range_match and
 * weighted cluster header values: optional ASCII whitespace around, an
 * optional sign ('-' only for signed), decimal digits, no overflow. */
bool xg_parse_int64(const char *s, size_t len, int64_t *out);
bool xg_parse_uint64(const char *s, size_t len, uint64_t *out);

#endif
