/* A translated envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
 * (the HTTP filter's config, or the same message as a typed_per_filter_config
 * entry, which replaces the filter's config on that route / virtual host /
 * route configuration). Built by src/xds/xlate_local_ratelimit.c in the
 * resource's arena with every default resolved; read by
 * src/filters/local_ratelimit.c on the workers.
 *
 * Each limit (the default token bucket and each descriptor's) holds one
 * reference to a process-wide bucket (ratelimit/token_bucket.h), taken at
 * translation and released when the resource's arena goes. Its registry key
 * is "<resource type>/<resource name>/<field path of the config>|<entries>|
 * <max>/<per fill>/<interval>": a new version of the resource that keeps a
 * limit where it was keeps its bucket and tokens; a changed limit gets a
 * fresh bucket; other limits are untouched. In per-connection mode the
 * registered bucket's tokens are not used: id (the hash of the same key)
 * names each connection's own bucket, and the registration says whether a
 * config still has that limit (xg_tbucket_alive). */
#ifndef XG_CONFIG_LOCAL_RATELIMIT_H
#define XG_CONFIG_LOCAL_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/route.h"
#include "ratelimit/descriptor.h"
#include "ratelimit/token_bucket.h"

typedef struct xg_lrl_limit {
    xg_tb_params p;
    xg_tbucket *shared; /* its registered bucket (tokens unused in per-connection mode) */
    uint64_t id;        /* hash of the registry key */
} xg_lrl_limit;

/* A LocalRateLimitDescriptor: matches a request descriptor with exactly these
 * entries, in order. */
typedef struct xg_lrl_descriptor {
    const xg_lstr *keys, *values;
    uint32_t n;
    xg_lrl_limit limit;
} xg_lrl_descriptor;

typedef struct xg_local_ratelimit_config {
    bool has_bucket;    /* token_bucket set: the default limit */
    xg_lrl_limit limit; /* the default limit when has_bucket */
    /* In Envoy's consumption order: strictest fill rate (tokens_per_fill per
     * whole second of fill_interval) first, stable for ties. */
    const xg_lrl_descriptor *descriptors;
    uint32_t n_descriptors;
    uint32_t enabled_ppm;                 /* filter_enabled.default_value (absent: 0, Envoy's "0 % for safety") */
    uint32_t enforced_ppm;                /* filter_enforced.default_value (absent: 0) */
    uint16_t status;                      /* default 429; configured codes < 400 become 429 */
    xg_header_mutations response_headers; /* response_headers_to_add (local replies) */
    xg_header_mutations request_headers;  /* request_headers_to_add_when_not_enforced */
    uint32_t stage;                       /* 0..10 */
    xg_vh_rl vh_rate_limits;
    bool per_connection;         /* local_rate_limit_per_downstream_connection */
    bool always_consume_default; /* always_consume_default_token_bucket, default true */
    bool x_ratelimit_headers;    /* enable_x_ratelimit_headers: DRAFT_VERSION_03 */
    bool resource_exhausted;     /* rate_limited_as_resource_exhausted */
} xg_local_ratelimit_config;

#endif
