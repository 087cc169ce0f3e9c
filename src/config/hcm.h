/* A translated HttpConnectionManager network filter: codec and limits,
 * timeouts, header handling (XFF, request ids, path normalization), the HTTP
 * filter chain in order, and where routes come from (RDS by name, or an inline
 * route config). Built by src/xds/xlate_hcm.c inside its listener's arena;
 * every default is resolved here (docs/xds-fields.md lists them), so the data
 * path reads plain values. Durations in milliseconds, 0 = disabled. */
#ifndef XG_CONFIG_HCM_H
#define XG_CONFIG_HCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/matcher.h"
#include "config/route.h"

typedef enum xg_codec_type {
    XG_CODEC_AUTO, /* HTTP/2 by ALPN "h2" or the h2c preface, else HTTP/1.1 */
    XG_CODEC_HTTP1,
    XG_CODEC_HTTP2,
} xg_codec_type;

typedef enum xg_http_filter_kind {
    XG_HTTP_FILTER_ROUTER,
    XG_HTTP_FILTER_LOCAL_RATELIMIT, /* envoy.filters.http.local_ratelimit (config/local_ratelimit.h) */
    XG_HTTP_FILTER_RATELIMIT,       /* reserved for issue 6 */
    XG_HTTP_FILTER_BUFFER,          /* envoy.filters.http.buffer */
} xg_http_filter_kind;

/* envoy.extensions.filters.http.buffer.v3.Buffer, and BufferPerRoute (the
 * translated form of a typed_per_filter_config entry). */
typedef struct xg_buffer_config {
    bool disabled;              /* BufferPerRoute.disabled */
    uint32_t max_request_bytes; /* > 0 unless disabled */
} xg_buffer_config;

/* envoy.extensions.filters.http.router.v3.Router. */
typedef struct xg_router_config {
    bool dynamic_stats; /* default true */
    bool suppress_envoy_headers;
    const xg_lstr *strict_check_headers;
    size_t n_strict_check_headers;
    bool respect_expected_rq_timeout;
    bool suppress_grpc_request_failure_code_stats;
} xg_router_config;

typedef struct xg_http_filter {
    const char *name;         /* HttpFilter.name, informational */
    xg_http_filter_kind kind; /* chosen by the typed_config's type, never by name */
    bool disabled;            /* off unless a route enables it through typed_per_filter_config */
    xg_typed_config config;   /* the typed_config (a TypedStruct already converted to binary) */
    const void *translated;   /* ROUTER: const xg_router_config *; BUFFER: const xg_buffer_config *;
                               * LOCAL_RATELIMIT: const xg_local_ratelimit_config * */
} xg_http_filter;

typedef enum xg_server_header {
    XG_SERVER_HEADER_OVERWRITE,
    XG_SERVER_HEADER_APPEND_IF_ABSENT,
    XG_SERVER_HEADER_PASS_THROUGH,
} xg_server_header;

typedef enum xg_fcc {
    XG_FCC_SANITIZE,
    XG_FCC_FORWARD_ONLY,
    XG_FCC_APPEND_FORWARD,
    XG_FCC_SANITIZE_SET,
    XG_FCC_ALWAYS_FORWARD_ONLY,
} xg_fcc;

typedef enum xg_escaped_slashes {
    XG_ESCAPED_SLASHES_KEEP_UNCHANGED, /* also IMPLEMENTATION_SPECIFIC_DEFAULT, as in Envoy */
    XG_ESCAPED_SLASHES_REJECT_REQUEST,
    XG_ESCAPED_SLASHES_UNESCAPE_AND_REDIRECT,
    XG_ESCAPED_SLASHES_UNESCAPE_AND_FORWARD,
} xg_escaped_slashes;

typedef enum xg_underscores {
    XG_UNDERSCORES_ALLOW,
    XG_UNDERSCORES_REJECT_REQUEST,
    XG_UNDERSCORES_DROP_HEADER,
} xg_underscores;

typedef struct xg_hcm_upgrade {
    xg_lstr type; /* lowercase */
    bool enabled; /* default true */
} xg_hcm_upgrade;

/* Http2ProtocolOptions with defaults resolved (edge-safe where Envoy's are not). */
typedef struct xg_hcm_h2_options {
    uint32_t hpack_table_size;               /* 4096 */
    uint32_t max_concurrent_streams;         /* 100 (Envoy: 2^31-1) */
    uint32_t initial_stream_window_size;     /* 65536 (Envoy: 256 MiB) */
    uint32_t initial_connection_window_size; /* 1048576 (Envoy: 256 MiB) */
    bool allow_connect;
    uint32_t max_outbound_frames;                                  /* 10000 */
    uint32_t max_outbound_control_frames;                          /* 1000 */
    uint32_t max_consecutive_inbound_frames_with_empty_payload;    /* 1 */
    uint32_t max_inbound_priority_frames_per_stream;               /* 100 */
    uint32_t max_inbound_window_update_frames_per_data_frame_sent; /* 10 */
    xg_tristate override_stream_error_on_invalid_http_message;
    uint64_t keepalive_interval_ms; /* 0: no PING keepalive */
    uint64_t keepalive_timeout_ms;
    uint32_t keepalive_jitter_percent; /* default 15 */
    uint64_t keepalive_connection_idle_interval_ms;
} xg_hcm_h2_options;

/* Http1ProtocolOptions. */
typedef struct xg_h1_options {
    bool allow_absolute_url; /* default true */
    bool accept_http_10;
    const char *default_host_for_http_10; /* "" when not set */
    bool proper_case_headers;             /* header_key_format.proper_case_words */
    bool enable_trailers;
    bool allow_chunked_length;
    xg_tristate override_stream_error_on_invalid_http_message;
} xg_h1_options;

typedef enum xg_route_source {
    XG_ROUTES_RDS,    /* by name: rds_name, resolved by the snapshot */
    XG_ROUTES_INLINE, /* route_config below */
} xg_route_source;

typedef struct xg_hcm {
    xg_codec_type codec;
    const char *stat_prefix;

    xg_route_source routes;
    const char *rds_name; /* RDS: the RouteConfiguration's name */
    uint64_t
        rds_initial_fetch_timeout_ms;    /* RDS: config_source.initial_fetch_timeout; default 15000, 0 = wait forever */
    const xg_route_config *route_config; /* INLINE */

    const xg_http_filter *filters; /* in order; the router is last */
    size_t n_filters;

    /* limits */
    uint32_t max_request_headers_kb;      /* default 60, max 8192 */
    uint32_t max_headers_count;           /* default 100 */
    uint32_t max_requests_per_connection; /* 0: unlimited */
    xg_underscores headers_with_underscores;

    /* timeouts, milliseconds; 0 disables */
    uint64_t idle_timeout_ms;            /* connection idle: default 3600000 */
    uint64_t max_connection_duration_ms; /* default 0 */
    uint64_t max_stream_duration_ms;     /* default 0 */
    uint64_t stream_idle_timeout_ms;     /* default 300000 */
    uint64_t request_timeout_ms;         /* default 0 */
    uint64_t request_headers_timeout_ms; /* default 0 */
    uint64_t drain_timeout_ms;           /* default 5000 */
    uint64_t delayed_close_timeout_ms;   /* default 1000 */

    /* addresses and forwarding headers */
    bool use_remote_address; /* default false */
    uint32_t xff_num_trusted_hops;
    bool skip_xff_append;
    const char *via; /* "" when not set */
    /* Internal (trusted) client ranges; when internal_address_config is not
     * set: RFC 1918, loopback and unique-local v6, Envoy's long-standing default. */
    const xg_cidr *internal_ranges;
    size_t n_internal_ranges;
    bool internal_unix_sockets;
    bool represent_ipv4_remote_address_as_ipv4_mapped_ipv6;
    bool append_x_forwarded_port;

    /* request id */
    bool generate_request_id; /* default true */
    bool preserve_external_request_id;
    bool always_set_request_id_in_response;

    /* server header and scheme */
    const char *server_name; /* default "xdsgate" */
    xg_server_header server_header;
    const char *scheme_to_overwrite; /* NULL, "http" or "https" */
    bool scheme_match_upstream;
    bool add_user_agent;

    /* client certificates */
    xg_fcc forward_client_cert;
    bool set_cc_subject, set_cc_cert, set_cc_chain, set_cc_dns, set_cc_uri;

    /* path and host handling */
    bool normalize_path; /* default true (edge); Envoy's default is false */
    bool merge_slashes;
    xg_escaped_slashes escaped_slashes;
    bool strip_matching_host_port;
    bool strip_any_host_port;
    bool strip_trailing_host_dot;

    /* protocol behaviour */
    bool proxy_100_continue;
    bool stream_error_on_invalid_http_message; /* default false */
    bool append_local_overload;
    bool add_proxy_protocol_connection_state; /* default true */
    const xg_hcm_upgrade *upgrades;
    size_t n_upgrades;
    xg_h1_options h1;
    xg_hcm_h2_options h2;
} xg_hcm;

#endif
