/* A translated CDS Cluster: discovery type, load-balancing policy, active
 * health checks, outlier detection, circuit breakers, upstream HTTP protocol
 * options, upstream TLS and DNS settings, with Envoy's defaults filled in.
 * Built by src/xds/xlate_cluster*.c; immutable, in the owning resource's
 * arena. Durations are in milliseconds. */
#ifndef XG_CONFIG_CLUSTER_H
#define XG_CONFIG_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/endpoint.h"
#include "config/tls.h"

typedef enum xg_cluster_type {
    XG_CLUSTER_STATIC,
    XG_CLUSTER_STRICT_DNS,
    XG_CLUSTER_LOGICAL_DNS,
    XG_CLUSTER_EDS,
} xg_cluster_type;

typedef enum xg_lb_policy {
    XG_LB_ROUND_ROBIN,
    XG_LB_LEAST_REQUEST,
    XG_LB_RANDOM,
    XG_LB_RING_HASH,
    XG_LB_MAGLEV,
} xg_lb_policy;

/* The load balancer, from lb_policy + *_lb_config + common_lb_config, or from
 * the first supported entry of load_balancing_policy. */
typedef struct xg_lb_config {
    xg_lb_policy policy;
    uint32_t choice_count;          /* LEAST_REQUEST: default 2, >= 2 */
    double active_request_bias;     /* LEAST_REQUEST with unequal weights: default 1.0, >= 0 */
    uint64_t ring_min;              /* RING_HASH: default 1024 */
    uint64_t ring_max;              /* RING_HASH: default 8388608, >= ring_min */
    uint64_t maglev_table_size;     /* MAGLEV: default 65537, prime */
    double healthy_panic_threshold; /* percent, default 50; 0 disables panic mode */
    bool locality_weighted;         /* locality_weighted_lb_config: honour locality weights */
    bool ignore_new_hosts_until_first_hc;
    bool close_connections_on_host_set_change;
    int64_t update_merge_window_ms; /* default 1000 */
} xg_lb_config;

/* HealthCheck.Payload: text is hex in the proto and decoded here. */
typedef struct xg_hc_payload {
    const uint8_t *data;
    size_t len;
} xg_hc_payload;

/* A header a health checker adds; append_action as in HeaderValueOption. */
typedef enum xg_hc_append {
    XG_HC_APPEND_IF_EXISTS_OR_ADD = 0,
    XG_HC_ADD_IF_ABSENT = 1,
    XG_HC_OVERWRITE_IF_EXISTS_OR_ADD = 2,
    XG_HC_OVERWRITE_IF_EXISTS = 3,
} xg_hc_append;

typedef struct xg_hc_header {
    const char *key; /* lower-cased */
    const char *value;
    xg_hc_append append;
    bool keep_empty_value;
} xg_hc_header;

typedef struct xg_status_range {
    int64_t start; /* inclusive, >= 100 */
    int64_t end;   /* exclusive, <= 600 */
} xg_status_range;

typedef enum xg_hc_kind {
    XG_HC_HTTP,
    XG_HC_TCP,
    XG_HC_GRPC,
} xg_hc_kind;

typedef enum xg_hc_codec {
    XG_HC_CODEC_HTTP1,
    XG_HC_CODEC_HTTP2,
} xg_hc_codec;

typedef struct xg_health_check {
    xg_hc_kind kind;
    int64_t timeout_ms;  /* > 0 */
    int64_t interval_ms; /* > 0 */
    int64_t initial_jitter_ms;
    int64_t interval_jitter_ms;
    uint32_t interval_jitter_percent;
    uint32_t unhealthy_threshold;
    uint32_t healthy_threshold;
    uint16_t alt_port;                      /* 0: the endpoint's (health-check) port */
    bool reuse_connection;                  /* default true */
    int64_t no_traffic_interval_ms;         /* default 60000 */
    int64_t no_traffic_healthy_interval_ms; /* default no_traffic_interval */
    int64_t unhealthy_interval_ms;          /* default interval */
    int64_t unhealthy_edge_interval_ms;     /* default unhealthy_interval */
    int64_t healthy_edge_interval_ms;       /* default interval */
    bool always_log_failures;
    bool always_log_success;
    const char *event_log_path; /* health check events appended as JSON lines; NULL: none */
    const char **tls_alpn; /* tls_options.alpn_protocols */
    size_t n_tls_alpn;

    /* XG_HC_HTTP */
    const char *http_host; /* NULL: the cluster name (Envoy) */
    const char *http_path;
    const char *http_method; /* "GET" default */
    xg_hc_codec http_codec;
    xg_status_range *expected_statuses; /* default [200, 201) */
    size_t n_expected_statuses;
    xg_status_range *retriable_statuses;
    size_t n_retriable_statuses;
    xg_hc_header *request_headers_to_add;
    size_t n_request_headers_to_add;
    const char **request_headers_to_remove;
    size_t n_request_headers_to_remove;

    /* XG_HC_TCP: send (len 0 = connect only) and receive fragments expected in order */
    xg_hc_payload tcp_send;
    xg_hc_payload *tcp_receive;
    size_t n_tcp_receive;

    /* XG_HC_GRPC (grpc.health.v1.Health/Check) */
    const char *grpc_service_name; /* "" = the whole server */
    const char *grpc_authority;    /* NULL: the cluster name */
    xg_hc_header *grpc_initial_metadata;
    size_t n_grpc_initial_metadata;
} xg_health_check;

/* CircuitBreakers.Thresholds for one RoutingPriority. */
typedef struct xg_cb_thresholds {
    uint32_t max_connections;              /* default 1024 */
    uint32_t max_pending_requests;         /* default 1024 */
    uint32_t max_requests;                 /* default 1024 */
    uint32_t max_retries;                  /* default 3 */
    bool has_retry_budget;                 /* retry_budget present: it replaces max_retries */
    double retry_budget_percent;           /* default 20 */
    uint32_t retry_budget_min_concurrency; /* default 3 */
    bool track_remaining;
} xg_cb_thresholds;

enum { XG_PRIORITY_DEFAULT = 0, XG_PRIORITY_HIGH = 1, XG_N_PRIORITIES = 2 };

/* OutlierDetection with Envoy's defaults (percentages 0..100). */
typedef struct xg_outlier {
    uint32_t consecutive_5xx;                            /* 5 */
    int64_t interval_ms;                                 /* 10000 */
    int64_t base_ejection_time_ms;                       /* 30000 */
    int64_t max_ejection_time_ms;                        /* 300000, >= base_ejection_time */
    int64_t max_ejection_time_jitter_ms;                 /* 0 */
    uint32_t max_ejection_percent;                       /* 10 */
    uint32_t enforcing_consecutive_5xx;                  /* 100 */
    uint32_t enforcing_success_rate;                     /* 100 */
    uint32_t success_rate_minimum_hosts;                 /* 5 */
    uint32_t success_rate_request_volume;                /* 100 */
    uint32_t success_rate_stdev_factor;                  /* 1900 (divided by 1000) */
    uint32_t consecutive_gateway_failure;                /* 5 */
    uint32_t enforcing_consecutive_gateway_failure;      /* 0 */
    bool split_external_local_origin_errors;             /* false */
    uint32_t consecutive_local_origin_failure;           /* 5 */
    uint32_t enforcing_consecutive_local_origin_failure; /* 100 */
    uint32_t enforcing_local_origin_success_rate;        /* 100 */
    uint32_t failure_percentage_threshold;               /* 85 */
    uint32_t enforcing_failure_percentage;               /* 0 */
    uint32_t enforcing_failure_percentage_local_origin;  /* 0 */
    uint32_t failure_percentage_minimum_hosts;           /* 5 */
    uint32_t failure_percentage_request_volume;          /* 50 */
    bool successful_active_health_check_uneject_host;    /* true */
    bool always_eject_one_host;                          /* false */
} xg_outlier;

typedef enum xg_upstream_proto {
    XG_UPSTREAM_HTTP1,          /* default, and explicit_http_config.http_protocol_options */
    XG_UPSTREAM_HTTP2,          /* explicit_http_config.http2_protocol_options */
    XG_UPSTREAM_AUTO,           /* auto_config: ALPN h2 then http/1.1 (needs upstream TLS) */
    XG_UPSTREAM_USE_DOWNSTREAM, /* use_downstream_protocol_config */
} xg_upstream_proto;

/* Http2ProtocolOptions for upstream connections. Zero means "not set: the
 * data path's default" for the fields whose valid range excludes zero. */
typedef struct xg_h2_options {
    bool has_hpack_table_size;
    uint32_t hpack_table_size;
    uint32_t max_concurrent_streams;         /* 0 or 1..2147483647 */
    uint32_t initial_stream_window_size;     /* 0 or 65535..2147483647 */
    uint32_t initial_connection_window_size; /* 0 or 65535..2147483647 */
    uint32_t max_outbound_frames;            /* 0 = default */
    uint32_t max_outbound_control_frames;
    uint32_t max_consecutive_inbound_frames_with_empty_payload;
    uint32_t max_inbound_priority_frames_per_stream;
    uint32_t max_inbound_window_update_frames_per_data_frame_sent;
} xg_h2_options;

/* envoy.extensions.upstreams.http.v3.HttpProtocolOptions. */
typedef struct xg_http_protocol_options {
    xg_upstream_proto protocol;
    xg_h2_options h2;                     /* for HTTP2, AUTO and USE_DOWNSTREAM */
    int64_t idle_timeout_ms;              /* common: default 3600000 (1 h); 0 disables */
    int64_t max_connection_duration_ms;   /* 0 = unlimited */
    int64_t max_stream_duration_ms;       /* 0 = unlimited */
    uint32_t max_headers_count;           /* default 100 */
    uint32_t max_requests_per_connection; /* 0 = unlimited */
    bool auto_sni;
    bool auto_san_validation;
    const char *override_auto_sni_header; /* or NULL: :authority / Host */
} xg_http_protocol_options;

typedef enum xg_dns_family {
    XG_DNS_AUTO = 0, /* v6, falling back to v4 */
    XG_DNS_V4_ONLY = 1,
    XG_DNS_V6_ONLY = 2,
    XG_DNS_V4_PREFERRED = 3,
    XG_DNS_ALL = 4,
} xg_dns_family;

/* Where a DNS cluster's lookups go: Cluster.typed_dns_resolver_config
 * (CaresDnsResolverConfig), the deprecated dns_resolution_config or
 * dns_resolvers + use_tcp_for_dns_lookups; none: the system's
 * (/etc/resolv.conf). Search domains, ndots, timeouts and attempts always
 * come from the system's settings. */
typedef struct xg_dns_resolver_config {
    struct sockaddr_storage *resolvers; /* IP literals with their ports (0 given: 53) */
    size_t n_resolvers;
    bool resolvers_as_fallback; /* use_resolvers_as_fallback: only when the system has no nameserver */
    bool use_tcp;               /* dns_resolver_options.use_tcp_for_dns_lookups */
    bool no_default_search_domain;
    bool filter_unroutable_families; /* drop addresses of a family no interface has */
    uint32_t udp_max_queries;        /* accepted: every query has its own socket (0: unset) */
} xg_dns_resolver_config;

typedef struct xg_cluster {
    const char *name;
    const char *alt_stat_name; /* or NULL */
    xg_cluster_type type;
    const char *eds_service_name;               /* EDS: the ClusterLoadAssignment to fetch (service_name or name) */
    int64_t eds_initial_fetch_timeout_ms;       /* EDS: default 15000; 0 = wait forever */
    int64_t connect_timeout_ms;                 /* default 5000, > 0 */
    uint32_t per_connection_buffer_limit_bytes; /* default 1 MiB */
    xg_lb_config lb;
    const xg_endpoints *load_assignment; /* STATIC / DNS: the inline endpoints; EDS: NULL */
    xg_health_check *health_checks;
    size_t n_health_checks;
    xg_cb_thresholds thresholds[XG_N_PRIORITIES]; /* indexed by XG_PRIORITY_* */
    const xg_outlier *outlier;                    /* NULL: outlier detection off */
    xg_http_protocol_options http;                /* defaults when the cluster has none */
    bool has_http_protocol_options;
    const xg_tls_context *tls;           /* NULL: plaintext (raw_buffer) */
    int64_t dns_refresh_rate_ms;         /* default 5000 */
    int64_t dns_failure_refresh_base_ms; /* 0: dns_refresh_rate */
    int64_t dns_failure_refresh_max_ms;  /* 0: 10 x base */
    bool respect_dns_ttl;
    xg_dns_family dns_lookup_family;
    xg_dns_resolver_config dns_resolver; /* STRICT_DNS / LOGICAL_DNS */
    bool wait_for_warm_on_init;  /* default true */
    int64_t cleanup_interval_ms; /* default 5000 */
    bool has_tcp_keepalive;      /* upstream_connection_options.tcp_keepalive present: SO_KEEPALIVE on */
    uint32_t keepalive_probes;   /* 0 = the system's */
    uint32_t keepalive_time_s;
    uint32_t keepalive_interval_s;
    bool close_connections_on_host_health_failure;
    bool ignore_health_on_host_removal;
} xg_cluster;

#endif
