/* A translated Listener: the addresses to bind, the filter chains with their
 * compiled filter_chain_match, each chain's TLS context and its
 * HttpConnectionManager, and socket-level settings. Built by
 * src/xds/xlate_listener.c; immutable, in the resource's arena. */
#ifndef XG_CONFIG_LISTENER_H
#define XG_CONFIG_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/hcm.h"
#include "config/matcher.h"

struct xg_tls_context; /* config/tls.h */

/* One address to listen on (TCP only). */
typedef struct xg_listener_addr {
    struct sockaddr_storage ss; /* AF_INET or AF_INET6, port set */
    socklen_t len;
    bool ipv4_compat; /* "::" with ipv4_compat: a dual-stack socket (IPV6_V6ONLY off) */
    /* Canonical "1.2.3.4:80" / "[::1]:80": equal texts mean equal addresses,
     * which is how duplicate addresses across listeners are found. */
    char text[64];
} xg_listener_addr;

typedef enum xg_transport_proto {
    XG_TRANSPORT_ANY,        /* transport_protocol "" */
    XG_TRANSPORT_RAW_BUFFER, /* "raw_buffer": not TLS (as detected by tls_inspector) */
    XG_TRANSPORT_TLS,        /* "tls" */
} xg_transport_proto;

typedef enum xg_source_type {
    XG_SOURCE_ANY,
    XG_SOURCE_SAME_IP_OR_LOOPBACK,
    XG_SOURCE_EXTERNAL,
} xg_source_type;

/* A server_names entry: "example.com" (exact) or "*.example.com" (any name
 * ending in ".example.com", longest wildcard wins). Lowercase. */
typedef struct xg_server_name {
    xg_lstr name; /* exact: the name; wildcard: the suffix with its dot (".example.com") */
    bool wildcard;
} xg_server_name;

/* FilterChainMatch; an empty list or zero value means "any". Envoy's
 * selection order: destination_port, prefix_ranges (longest), server_names
 * (exact, then longest wildcard), transport_protocol, application_protocols,
 * source_type, source_prefix_ranges (longest), source_ports. */
typedef struct xg_filter_chain_match {
    uint16_t destination_port; /* 0: any */
    const xg_cidr *prefix_ranges;
    size_t n_prefix_ranges;
    const xg_server_name *server_names;
    size_t n_server_names;
    xg_transport_proto transport;
    const xg_lstr *alpn; /* application_protocols */
    size_t n_alpn;
    xg_source_type source_type;
    const xg_cidr *source_prefix_ranges;
    size_t n_source_prefix_ranges;
    const uint16_t *source_ports;
    size_t n_source_ports;
} xg_filter_chain_match;

/* envoy.filters.network.connection_limit: the chain holds at most
 * max_connections connections at once, counted across every worker. A
 * connection over the limit is not read and is closed, after delay_ms when
 * set. The count itself is runtime state (net/conn_limit.h). */
typedef struct xg_conn_limit_cfg {
    const char *stat_prefix;
    uint64_t max_connections; /* >= 1 */
    uint64_t delay_ms;        /* 0: close at once */
    bool enabled;             /* runtime_enabled.default_value (the runtime key is not consulted); default true */
} xg_conn_limit_cfg;

typedef struct xg_filter_chain {
    const char *name; /* "" when not set */
    int index;        /* position in filter_chains; -1 for default_filter_chain */
    xg_filter_chain_match match;
    const struct xg_tls_context *tls;             /* NULL: plaintext */
    uint64_t transport_socket_connect_timeout_ms; /* TLS handshake deadline; 0: none */
    const xg_conn_limit_cfg *conn_limit;          /* NULL: no connection_limit filter */
    const xg_hcm *hcm;                            /* the chain's terminal network filter */
} xg_filter_chain;

typedef enum xg_drain_type {
    XG_DRAIN_DEFAULT,
    XG_DRAIN_MODIFY_ONLY,
} xg_drain_type;

typedef enum xg_socket_state {
    XG_SOCKET_STATE_PREBIND,
    XG_SOCKET_STATE_BOUND,
    XG_SOCKET_STATE_LISTENING,
} xg_socket_state;

/* A raw setsockopt from socket_options. */
typedef struct xg_socket_option {
    int level;
    int name;
    bool is_int;
    int int_value;
    const uint8_t *buf; /* !is_int */
    size_t buf_len;
    xg_socket_state state;
} xg_socket_option;

typedef struct xg_listener {
    const char *name;
    const char *stat_prefix; /* "" when not set */
    /* address first, then additional_addresses in order; at least one. */
    const xg_listener_addr *addrs;
    size_t n_addrs;
    const xg_filter_chain *chains;
    size_t n_chains;
    const xg_filter_chain *default_chain; /* NULL: a connection no chain matches is closed */

    /* listener filters: only envoy.filters.listener.tls_inspector exists */
    bool tls_inspector;
    uint32_t tls_inspector_buffer_size;   /* initial_read_buffer_size; default 64 KiB */
    uint64_t listener_filters_timeout_ms; /* default 15000; 0: none */
    bool continue_on_listener_filters_timeout;

    uint32_t per_connection_buffer_limit_bytes; /* default 32 KiB (edge; Envoy: 1 MiB) */
    xg_drain_type drain_type;
    bool freebind;
    const xg_socket_option *socket_options;
    size_t n_socket_options;
    uint32_t tcp_fast_open_queue_length; /* 0: off */
    bool enable_reuse_port;              /* default true */
    uint32_t tcp_backlog_size;           /* 0: the system's somaxconn */
    uint32_t max_accept_per_event;       /* 0: accept all pending */
    bool ignore_global_conn_limit;
    int traffic_direction; /* 0 unspecified, 1 inbound, 2 outbound; informational */

    /* Things accepted but not applied (optional filters xdsgate lacks), one
     * "path: what" line each, for the log and /xds. */
    const char *const *warnings;
    size_t n_warnings;
} xg_listener;

#endif
