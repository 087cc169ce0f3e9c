/* Rate-limit descriptors: what the route's and virtual host's rate_limits
 * (config/route.h xg_rate_limits) produce for one request, as Envoy's
 * RateLimitPolicy does. Each xg_rate_limit of the filter's stage yields one
 * descriptor, its actions' entries in order, or none when an action cannot
 * produce its entry (a missing header without skip_if_absent, a
 * header_value_match that does not match, ...). Both rate-limit filters read
 * them: local_ratelimit matches them against its configured descriptors,
 * ratelimit sends them to the rate limit service.
 *
 * Which lists are used (Envoy's VhRateLimitsOptions): the route's
 * (RouteAction.rate_limits) always; the virtual host's too when the route
 * sets include_vh_rate_limits or vh is INCLUDE; with OVERRIDE (the default)
 * the virtual host's only when the route has none (at any stage); IGNORE
 * never. Only forwarding routes have rate limits (a redirect or direct
 * response route yields none, as in Envoy).
 *
 * disable_key names an Envoy runtime key; xdsgate has no runtime layer, so
 * an entry with a disable_key always applies (Envoy's default when the key
 * is not set in its runtime). A descriptor whose every entry was skipped
 * (skip_if_absent) is left out: it could match no limit.
 * Worker thread; everything is allocated in the stream's arena. */
#ifndef XG_RATELIMIT_DESCRIPTOR_H
#define XG_RATELIMIT_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "config/route.h"
#include "core/arena.h"
#include "http/headers.h"

struct sockaddr;
struct xg_stream;

typedef struct xg_rl_entry {
    xg_hstr key;
    xg_hstr value;
} xg_rl_entry;

typedef struct xg_rl_descriptor {
    const xg_rl_entry *entries;
    uint32_t n;
} xg_rl_descriptor;

typedef struct xg_rl_descriptors {
    const xg_rl_descriptor *items;
    uint32_t n;
} xg_rl_descriptors;

typedef enum xg_vh_rl {
    XG_VH_RL_OVERRIDE, /* Envoy's default: the virtual host's when the route has none */
    XG_VH_RL_INCLUDE,
    XG_VH_RL_IGNORE,
} xg_vh_rl;

/* The descriptors stage produces for stream s's request (its headers as they
 * reach the calling filter, its trusted remote address, its route and picked
 * cluster), in s's arena. out is empty (n 0) when nothing applies. Keys and
 * values are borrowed from the route configuration, the request headers
 * or s's arena: valid while s lives (a filter that keeps them across an
 * asynchronous call needs nothing more). 0, or XG_ENOMEM. */
int xg_rl_descriptors_build(struct xg_stream *s, uint32_t stage, xg_vh_rl vh, xg_rl_descriptors *out);

/* What the actions read of one request; xg_rl_descriptors_build fills it
 * from the stream (tests fill it directly). */
typedef struct xg_rl_request {
    const xg_route *route;         /* NULL or not forwarding: no descriptors */
    const xg_vhost *vh;            /* its virtual host (NULL: none) */
    const xg_weighted_cluster *wc; /* the weighted cluster picked at route resolution, or NULL */
    const xg_headers *headers;     /* request headers (:path for the query) */
    const struct sockaddr *remote; /* trusted client address; NULL or not IP: remote address actions fail */
    const char *local_cluster;     /* source_cluster's value (--node-cluster); NULL: "" */
    xg_arena *arena;               /* where results are allocated */
} xg_rl_request;

/* The same over r. 0, or XG_ENOMEM. */
int xg_rl_descriptors_build_req(const xg_rl_request *r, uint32_t stage, xg_vh_rl vh, xg_rl_descriptors *out);

#endif
