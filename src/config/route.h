/* A translated RouteConfiguration (RDS, or inline in an HttpConnectionManager)
 * as the router sees it: virtual hosts with a compiled domain index, routes in
 * order with their matchers and actions, header mutations, retry and hash
 * policies, rate-limit descriptors and raw per-filter configs. Built by
 * src/xds/xlate_route*.c; immutable, in the owning resource's arena; regexes
 * are compiled and freed with the arena. Durations are milliseconds; a
 * uint64_t duration of XG_MS_UNSET means "not set, inherit". */
#ifndef XG_CONFIG_ROUTE_H
#define XG_CONFIG_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/matcher.h"
#include "config/strmap.h"

#define XG_MS_UNSET UINT64_MAX

/* --- raw extension configs (typed_per_filter_config, HTTP filter configs) --- */

/* An Any kept as received, for the HTTP filter framework (issue 6) to
 * translate per filter type: type_url names the message, value holds its
 * serialized bytes. A TypedStruct has already been converted: type_url is
 * its inner type and value the binary encoding of its Struct. */
typedef struct xg_typed_config {
    const char *key;       /* the map key (filter name) for typed_per_filter_config; else NULL */
    const char *type_url;  /* e.g. "type.googleapis.com/envoy.config.route.v3.FilterConfig" */
    const char *type_name; /* type_url after the last '/' */
    const uint8_t *value;
    size_t len;
    /* For a per-route config of a filter xdsgate has, its translated form
     * (xds/xlate_hcm_filters.c: xg__xlate_filter_per_route) and the type it
     * came from (also when wrapped in a FilterConfig); else both NULL. */
    const void *translated;
    const char *translated_type; /* static, e.g. "envoy.extensions.filters.http.buffer.v3.BufferPerRoute" */
    bool disables; /* an envoy.config.route.v3.FilterConfig with disabled: true (the filter is off here) */
} xg_typed_config;

/* typed_per_filter_config of a route config, vhost, route or weighted cluster,
 * sorted by key (strcmp) for bsearch. */
typedef struct xg_typed_config_map {
    const xg_typed_config *items;
    size_t n;
} xg_typed_config_map;

/* The entry for filter name key, or NULL. */
const xg_typed_config *xg_typed_config_find(const xg_typed_config_map *m, const char *key);

struct xg_route_config;
struct xg_vhost;
struct xg_route;
/* The most specific typed_per_filter_config entry for the HTTP filter named
 * name: the route's, else the virtual host's, else the route
 * configuration's (any of the three may be NULL); NULL when none has one. */
const xg_typed_config *xg_typed_config_most_specific(const struct xg_route_config *rc, const struct xg_vhost *vh,
                                                     const struct xg_route *rt, const char *name);
struct xg_weighted_cluster;
/* The same, with the weighted cluster picked for the request (NULL: none)
 * as the most specific level, as Envoy: weighted cluster, route, virtual
 * host, route configuration. */
const xg_typed_config *xg_typed_config_for(const struct xg_route_config *rc, const struct xg_vhost *vh,
                                           const struct xg_route *rt, const struct xg_weighted_cluster *wc,
                                           const char *name);

/* --- header mutations --- */

typedef enum xg_header_append {
    XG_HEADER_APPEND_IF_EXISTS_OR_ADD, /* default; also the deprecated append: true */
    XG_HEADER_ADD_IF_ABSENT,
    XG_HEADER_OVERWRITE_IF_EXISTS_OR_ADD, /* the deprecated append: false */
    XG_HEADER_OVERWRITE_IF_EXISTS,
} xg_header_append;

/* Envoy's header value command operators ("%DOWNSTREAM_REMOTE_ADDRESS%"),
 * the subset xdsgate substitutes; any other operator is a NACK. */
typedef enum xg_header_var {
    XG_HVAR_LITERAL, /* text: plain bytes ("%%" already turned into "%") */
    XG_HVAR_DOWNSTREAM_REMOTE_ADDRESS,
    XG_HVAR_DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT,
    XG_HVAR_DOWNSTREAM_REMOTE_PORT,
    XG_HVAR_DOWNSTREAM_DIRECT_REMOTE_ADDRESS,
    XG_HVAR_DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT,
    XG_HVAR_DOWNSTREAM_LOCAL_ADDRESS,
    XG_HVAR_DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT,
    XG_HVAR_DOWNSTREAM_LOCAL_PORT,
    XG_HVAR_UPSTREAM_REMOTE_ADDRESS,
    XG_HVAR_UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT,
    XG_HVAR_REQUESTED_SERVER_NAME,
    XG_HVAR_PROTOCOL, /* "HTTP/1.1", "HTTP/2" */
    XG_HVAR_HOSTNAME, /* this machine's host name */
    XG_HVAR_REQ,      /* %REQ(name)%: the request header's value; text holds the lowercase name */
    XG_HVAR_COUNT,
} xg_header_var;

typedef struct xg_header_part {
    xg_header_var var;
    xg_lstr text; /* LITERAL: the bytes; REQ: the header name; else empty */
} xg_header_part;

/* One HeaderValueOption. */
typedef struct xg_header_add {
    xg_lstr name;  /* lowercase; never a ':' pseudo-header or host */
    xg_lstr value; /* the raw configured value (with "%VARS%" as written) */
    /* The value split into literal and variable parts; NULL (n_parts 0) when the
     * value has no '%' at all: then value is used as is. */
    const xg_header_part *parts;
    size_t n_parts;
    xg_header_append append;
    bool keep_empty_value; /* false: a value that expands to "" is not added */
} xg_header_add;

typedef struct xg_header_mutations {
    const xg_header_add *add;
    size_t n_add;
    const xg_lstr *remove; /* lowercase names */
    size_t n_remove;
} xg_header_mutations;

/* --- match --- */

typedef enum xg_header_match_kind {
    XG_HEADER_MATCH_STRING,  /* string_match (and the deprecated safe_regex_match, as a REGEX StringMatcher) */
    XG_HEADER_MATCH_RANGE,   /* range_match: the value parses as an int64 in [start, end) */
    XG_HEADER_MATCH_PRESENT, /* present_match, or no specifier at all (Envoy: presence) */
} xg_header_match_kind;

typedef struct xg_header_matcher {
    xg_lstr name; /* lowercase; may be a pseudo-header such as ":method" */
    xg_header_match_kind kind;
    xg_string_matcher string;
    int64_t range_start, range_end;
    bool present; /* PRESENT: true = must be present, false = must be absent */
    bool invert;
    bool treat_missing_as_empty; /* a missing header is matched as "" */
} xg_header_matcher;

typedef struct xg_query_matcher {
    xg_lstr name;   /* as written (query parameter names are case-sensitive) */
    bool is_string; /* string_match; else a presence test */
    xg_string_matcher string;
    bool present; /* !is_string: true = must be present, false = must be absent */
} xg_query_matcher;

typedef enum xg_path_match_kind {
    XG_PATH_PREFIX,
    XG_PATH_EXACT,
    XG_PATH_REGEX,            /* safe_regex, full match on the path without query; case_sensitive does not apply */
    XG_PATH_SEPARATED_PREFIX, /* equals the prefix, or the prefix followed by '/' (or '?' / end) */
    XG_PATH_CONNECT,          /* connect_matcher: CONNECT requests only */
} xg_path_match_kind;

/* Tri-state for optional booleans in matchers. */
typedef enum xg_tristate { XG_UNSET = -1, XG_FALSE = 0, XG_TRUE = 1 } xg_tristate;

/* Field order in the per-route structs keeps padding out: a route table
 * holds tens of thousands of them. */
typedef struct xg_route_match {
    xg_path_match_kind kind;
    /* runtime_fraction.default_value as parts per million (runtime_key is not
     * consulted); 1000000 when not set. */
    uint32_t fraction_ppm;
    /* PREFIX / EXACT / SEPARATED_PREFIX: the literal, lowercased when
     * !case_sensitive — the key a path index (hash for EXACT, trie for the
     * prefixes) is built from without re-translation. */
    xg_lstr path;
    const xg_regex *regex; /* REGEX */
    const xg_header_matcher *headers;
    size_t n_headers;
    const xg_query_matcher *query;
    size_t n_query;
    xg_tristate tls_presented, tls_validated;
    bool case_sensitive; /* default true */
    bool has_fraction;
    bool grpc; /* content-type application/grpc* only */
} xg_route_match;

/* --- retry, hash, rate limits --- */

enum {
    XG_RETRY_5XX = 1u << 0,
    XG_RETRY_GATEWAY_ERROR = 1u << 1,
    XG_RETRY_RESET = 1u << 2,
    XG_RETRY_RESET_BEFORE_REQUEST = 1u << 3,
    XG_RETRY_CONNECT_FAILURE = 1u << 4,
    XG_RETRY_ENVOY_RATELIMITED = 1u << 5,
    XG_RETRY_RETRIABLE_4XX = 1u << 6,
    XG_RETRY_REFUSED_STREAM = 1u << 7,
    XG_RETRY_RETRIABLE_STATUS_CODES = 1u << 8,
    XG_RETRY_RETRIABLE_HEADERS = 1u << 9,
    XG_RETRY_HTTP3_POST_CONNECT_FAILURE = 1u << 10,
    XG_RETRY_GRPC_CANCELLED = 1u << 16,
    XG_RETRY_GRPC_DEADLINE_EXCEEDED = 1u << 17,
    XG_RETRY_GRPC_INTERNAL = 1u << 18,
    XG_RETRY_GRPC_RESOURCE_EXHAUSTED = 1u << 19,
    XG_RETRY_GRPC_UNAVAILABLE = 1u << 20,
};

typedef struct xg_retry_policy {
    uint32_t retry_on;                         /* XG_RETRY_* bits */
    uint32_t num_retries;                      /* default 1 */
    uint64_t per_try_timeout_ms;               /* 0: none (the route timeout applies) */
    uint64_t per_try_idle_timeout_ms;          /* 0: none */
    bool previous_hosts;                       /* retry_host_predicate envoy.retry_host_predicates.previous_hosts */
    int64_t host_selection_retry_max_attempts; /* default 1 */
    const uint16_t *retriable_status_codes;
    size_t n_retriable_status_codes;
    uint64_t backoff_base_ms; /* default 25 */
    uint64_t backoff_max_ms;  /* default 10 x base */
    const xg_header_matcher *retriable_headers;
    size_t n_retriable_headers;
    const xg_header_matcher *retriable_request_headers;
    size_t n_retriable_request_headers;
} xg_retry_policy;

typedef enum xg_hash_kind {
    XG_HASH_HEADER,
    XG_HASH_COOKIE,
    XG_HASH_SOURCE_IP,
    XG_HASH_QUERY_PARAMETER,
} xg_hash_kind;

typedef struct xg_cookie_attribute {
    const char *name;
    const char *value;
} xg_cookie_attribute;

typedef struct xg_hash_policy {
    xg_hash_kind kind;
    bool terminal;
    xg_lstr name;             /* HEADER: lowercase header name; COOKIE / QUERY_PARAMETER: the name */
    const xg_regex *rewrite;  /* HEADER: regex_rewrite pattern, or NULL */
    const char *substitution; /* HEADER: regex_rewrite substitution */
    bool cookie_generate;     /* COOKIE: ttl set, so a missing cookie is generated */
    uint64_t cookie_ttl_ms;   /* COOKIE: 0 = session cookie */
    const char *cookie_path;  /* COOKIE: "" when not set */
    const xg_cookie_attribute *cookie_attributes;
    size_t n_cookie_attributes;
} xg_hash_policy;

typedef enum xg_rl_action_kind {
    XG_RL_SOURCE_CLUSTER,
    XG_RL_DESTINATION_CLUSTER,
    XG_RL_REQUEST_HEADERS,
    XG_RL_REMOTE_ADDRESS,
    XG_RL_GENERIC_KEY,
    XG_RL_HEADER_VALUE_MATCH,
    XG_RL_MASKED_REMOTE_ADDRESS,
    XG_RL_QUERY_PARAMETER_VALUE_MATCH,
    XG_RL_QUERY_PARAMETERS,
} xg_rl_action_kind;

/* One RateLimit.Action; descriptor keys carry Envoy's defaults already
 * ("source_cluster", "destination_cluster", "remote_address", "generic_key",
 * "header_match", "masked_remote_address", "query_match"). */
typedef struct xg_rl_action {
    xg_rl_action_kind kind;
    const char *descriptor_key;
    const char *descriptor_value;     /* GENERIC_KEY, *_VALUE_MATCH */
    xg_lstr header_name;              /* REQUEST_HEADERS: lowercase */
    xg_lstr query_name;               /* QUERY_PARAMETERS: as written (case-sensitive) */
    bool skip_if_absent;              /* REQUEST_HEADERS, QUERY_PARAMETERS */
    bool expect_match;                /* *_VALUE_MATCH: default true */
    const xg_header_matcher *headers; /* HEADER_VALUE_MATCH */
    size_t n_headers;
    const xg_query_matcher *query; /* QUERY_PARAMETER_VALUE_MATCH */
    size_t n_query;
    uint8_t v4_prefix_len; /* MASKED_REMOTE_ADDRESS: default 32 */
    uint8_t v6_prefix_len; /* MASKED_REMOTE_ADDRESS: default 128 */
} xg_rl_action;

typedef struct xg_rate_limit {
    uint32_t stage;          /* 0..10 */
    const char *disable_key; /* "" when not set */
    const xg_rl_action *actions;
    size_t n_actions;
} xg_rate_limit;

typedef struct xg_rate_limits {
    const xg_rate_limit *items;
    size_t n;
} xg_rate_limits;

/* --- actions --- */

typedef struct xg_regex_rewrite {
    const xg_regex *pattern; /* NULL: not set */
    const char *substitution;
} xg_regex_rewrite;

typedef struct xg_weighted_cluster {
    const char *name;       /* NULL when cluster_header is used */
    xg_lstr cluster_header; /* lowercase; empty when name is used */
    uint32_t weight;
    xg_header_mutations request_headers, response_headers;
    const char *host_rewrite_literal; /* NULL: none */
    xg_typed_config_map per_filter;
} xg_weighted_cluster;

typedef enum xg_cluster_spec_kind {
    XG_CLUSTER_NAME,
    XG_CLUSTER_HEADER,
    XG_CLUSTER_WEIGHTED,
} xg_cluster_spec_kind;

typedef enum xg_host_rewrite_kind {
    XG_HOST_REWRITE_NONE,
    XG_HOST_REWRITE_LITERAL,
    XG_HOST_REWRITE_AUTO,   /* the selected upstream host's hostname */
    XG_HOST_REWRITE_HEADER, /* value of a request header */
    XG_HOST_REWRITE_PATH_REGEX,
} xg_host_rewrite_kind;

typedef struct xg_upgrade {
    xg_lstr type; /* lowercase: "websocket", "connect", ... */
    bool enabled;
    bool connect_allow_post; /* RouteAction.UpgradeConfig.connect_config.allow_post */
    bool has_connect_config;
} xg_upgrade;

/* The part of a RouteAction most routes never set: cluster_header and
 * weighted clusters, rewrites, rate limits, hash policies, upgrades, gRPC
 * and stream-duration timeouts. A route that sets none of them points at
 * xg_route_forward_cold_default, so a plain prefix -> cluster route costs
 * nothing here; the translation allocates a block only for a route that
 * sets something. */
typedef struct xg_route_forward_cold {
    xg_lstr cluster_header;              /* HEADER: lowercase */
    const xg_weighted_cluster *weighted; /* WEIGHTED: n_weighted entries, total_weight > 0 */
    size_t n_weighted;
    uint64_t total_weight;
    xg_lstr weighted_random_header; /* WeightedCluster.header_name, or empty */

    const char *prefix_rewrite; /* NULL: none */
    xg_regex_rewrite regex_rewrite;
    const char *host_rewrite_literal;
    xg_lstr host_rewrite_header;
    xg_regex_rewrite host_rewrite_path_regex;

    xg_rate_limits rate_limits;
    const xg_hash_policy *hash_policies;
    size_t n_hash_policies;
    const xg_upgrade *upgrades;
    size_t n_upgrades;
    uint64_t max_stream_duration_ms;     /* XG_MS_UNSET: not set */
    uint64_t grpc_timeout_header_max_ms; /* XG_MS_UNSET: not set; 0: no cap */
    uint64_t grpc_timeout_header_offset_ms;
    uint64_t max_grpc_timeout_ms;    /* deprecated field; XG_MS_UNSET: not set */
    uint64_t grpc_timeout_offset_ms; /* deprecated field; 0 when not set */

    xg_host_rewrite_kind host_rewrite;
    xg_tristate include_vh_rate_limits;
    uint16_t cluster_not_found_code; /* 503 (default), 404 or 500 */
    bool append_x_forwarded_host;
    /* RouteAction.max_stream_duration is set (even empty): Envoy's "new"
     * timeouts, under which max_grpc_timeout and grpc_timeout_offset are
     * ignored (router/route_timeout.h). */
    bool has_max_stream_duration;
} xg_route_forward_cold;

/* Nothing set: no rewrites, policies or gRPC timeouts, cluster_not_found 503. */
extern const xg_route_forward_cold xg_route_forward_cold_default;

/* RouteAction: forward to a cluster. What every forwarded request reads is
 * inline; the rest is in *cold. */
typedef struct xg_route_forward {
    const char *cluster;      /* NAME */
    uint64_t timeout_ms;      /* default 15000; 0 = no timeout */
    uint64_t idle_timeout_ms; /* XG_MS_UNSET: the HCM's stream_idle_timeout; 0 disables */
    /* The effective retry policy: the route's own, else the virtual host's; NULL: no retries. */
    const xg_retry_policy *retry;
    const xg_route_forward_cold *cold; /* never NULL; &xg_route_forward_cold_default when nothing is set */
    xg_cluster_spec_kind cluster_kind;
    bool high_priority; /* priority HIGH */
} xg_route_forward;

typedef enum xg_redirect_path_kind {
    XG_REDIRECT_PATH_KEEP,
    XG_REDIRECT_PATH_REPLACE, /* path_redirect */
    XG_REDIRECT_PATH_PREFIX,  /* prefix_rewrite */
    XG_REDIRECT_PATH_REGEX,   /* regex_rewrite */
} xg_redirect_path_kind;

typedef struct xg_redirect {
    const char *scheme; /* NULL: keep; "https" for https_redirect; lowercase */
    const char *host;   /* NULL: keep */
    uint16_t port;      /* 0: keep (or the scheme's default after a scheme change, as Envoy) */
    xg_redirect_path_kind path_kind;
    const char *path; /* REPLACE / PREFIX */
    xg_regex_rewrite regex;
    uint16_t code; /* 301 (default), 302, 303, 307, 308 */
    bool strip_query;
} xg_redirect;

typedef struct xg_direct_response {
    uint16_t status;     /* 200..599 */
    const uint8_t *body; /* NULL: no body */
    size_t body_len;
} xg_direct_response;

typedef enum xg_route_action_kind {
    XG_ROUTE_FORWARD,
    XG_ROUTE_REDIRECT,
    XG_ROUTE_DIRECT_RESPONSE,
} xg_route_action_kind;

/* The part of a route, whatever its action, that most routes never set. */
typedef struct xg_route_cold {
    xg_header_mutations request_headers, response_headers;
    xg_typed_config_map per_filter;
    uint32_t per_request_buffer_limit_bytes; /* 0: the virtual host's (then the listener's) */
} xg_route_cold;

/* No header mutations, no per-filter configs, no buffer limit of its own. */
extern const xg_route_cold xg_route_cold_default;

/* A route table holds tens of thousands of these: what matching and
 * forwarding read on every request is inline, the rarely set rest behind
 * the two cold pointers (forward.cold and cold), shared when empty. */
typedef struct xg_route {
    const char *name;        /* "" when not set */
    const char *stat_prefix; /* "" when not set */
    uint32_t index;          /* position in its virtual host */
    xg_route_action_kind action;
    xg_route_match match;
    union {
        xg_route_forward forward;
        xg_redirect redirect;
        xg_direct_response direct;
    };
    const xg_route_cold *cold; /* never NULL; &xg_route_cold_default when nothing is set */
} xg_route;

/* --- virtual hosts and the route configuration --- */

typedef enum xg_tls_requirement {
    XG_TLS_REQUIRE_NONE,
    XG_TLS_REQUIRE_EXTERNAL_ONLY,
    XG_TLS_REQUIRE_ALL,
} xg_tls_requirement;

typedef struct xg_vhost {
    const char *name;
    const xg_lstr *domains; /* lowercase, as written ("*", "*.example.com", "api.*") */
    size_t n_domains;
    const xg_route *routes; /* in order: the first route that matches wins */
    size_t n_routes;
    xg_tls_requirement require_tls;
    xg_rate_limits rate_limits;
    xg_header_mutations request_headers, response_headers;
    xg_typed_config_map per_filter;
    const xg_retry_policy *retry; /* NULL: none (routes already point at theirs) */
    bool include_request_attempt_count;
    bool include_attempt_count_in_response;
    bool include_is_timeout_retry_header;
    uint32_t per_request_buffer_limit_bytes; /* 0: the listener's */
} xg_vhost;

/* Suffix ("*.example.com" -> ".example.com") or prefix ("api.*" -> "api.")
 * wildcard domains of one length, for Envoy's "longest wildcard first". */
typedef struct xg_domain_group {
    size_t len;
    xg_strmap map; /* the literal part -> const xg_vhost * (case-insensitive) */
} xg_domain_group;

/* Virtual host selection in Envoy's order: exact domain, then suffix
 * wildcards longest first, then prefix wildcards longest first, then "*". */
typedef struct xg_domain_index {
    xg_strmap exact;               /* case-insensitive host -> const xg_vhost * */
    const xg_domain_group *suffix; /* longest first */
    size_t n_suffix;
    const xg_domain_group *prefix; /* longest first */
    size_t n_prefix;
    const xg_vhost *any; /* the "*" virtual host, or NULL */
} xg_domain_index;

typedef struct xg_route_config {
    const char *name;
    const xg_vhost *vhosts;
    size_t n_vhosts;
    xg_domain_index domains;
    const xg_lstr *internal_only_headers; /* lowercase */
    size_t n_internal_only_headers;
    xg_header_mutations request_headers, response_headers;
    bool most_specific_header_mutations_wins;
    /* Envoy's default: true for a route config inline in an HCM, false over
     * RDS. Checking cluster names needs the cluster table: the snapshot builder's job. */
    bool validate_clusters;
    uint32_t max_direct_response_body_size_bytes; /* default 4096 */
    bool ignore_port_in_host_matching;
    bool ignore_path_parameters_in_path_matching;
    xg_typed_config_map per_filter;
    /* The router's compiled path index (router/route_index.h), set by
     * xg_route_index_build right after translation; NULL: routes are scanned
     * in order. */
    const struct xg_route_index *index;
} xg_route_config;

/* The virtual host for a Host/:authority value host[0..len) (case-insensitive;
 * the caller strips the port when it should be ignored), or NULL. Thread-safe,
 * allocation-free. */
const xg_vhost *xg_route_config_find_vhost(const xg_route_config *rc, const char *host, size_t len);

#endif
