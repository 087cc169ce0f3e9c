/* A translated envoy.filters.http.ratelimit (the global rate limit filter)
 * and its per-route RateLimitPerRoute: which rate limit service to ask, how
 * long to wait, and what to answer. Built by src/xds/xlate_ratelimit.c in
 * its listener's (or route configuration's) arena with every default
 * resolved (docs/xds-fields.md), read by src/filters/ratelimit.c. */
#ifndef XG_CONFIG_RATELIMIT_H
#define XG_CONFIG_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/route.h"

typedef enum xg_rl_request_type {
    XG_RL_REQ_BOTH, /* "both" or "" (Envoy's default) */
    XG_RL_REQ_INTERNAL,
    XG_RL_REQ_EXTERNAL,
} xg_rl_request_type;

/* Where the RateLimitService lives (RateLimitServiceConfig.grpc_service). */
typedef enum xg_rls_target_kind {
    XG_RLS_CLUSTER, /* envoy_grpc.cluster_name: the cluster's current hosts */
    XG_RLS_URI,     /* google_grpc.target_uri, handed to the gRPC core as is */
} xg_rls_target_kind;

typedef struct xg_rls_service {
    xg_rls_target_kind kind;
    const char *cluster;   /* CLUSTER: the CDS cluster's name */
    const char *authority; /* CLUSTER: envoy_grpc.authority, else the cluster name (as Envoy) */
    const char *uri;       /* URI */
} xg_rls_service;

typedef struct xg_ratelimit_config {
    const char *domain; /* required, non-empty */
    uint32_t stage;     /* 0..10 */
    xg_rl_request_type request_type;
    uint64_t timeout_ms; /* default 20; 0: no deadline (as Envoy: an explicit 0 s) */
    bool failure_mode_deny;
    bool rate_limited_as_resource_exhausted;
    bool x_ratelimit_headers; /* enable_x_ratelimit_headers: DRAFT_VERSION_03 */
    bool disable_x_envoy_ratelimited_header;
    uint16_t rate_limited_status; /* default 429; a configured code below 400 becomes 429 */
    uint16_t status_on_error;     /* default 500 */
    /* response_headers_to_add: on rate-limited responses only (Envoy). */
    xg_header_mutations response_headers;
    xg_rls_service service;
} xg_ratelimit_config;

/* RateLimitPerRoute (the translated form of a typed_per_filter_config entry). */
typedef struct xg_ratelimit_per_route {
    uint32_t vh_rate_limits; /* descriptor.h xg_vh_rl */
    const char *domain;      /* NULL: the filter's */
} xg_ratelimit_per_route;

#endif
