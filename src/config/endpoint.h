/* A translated ClusterLoadAssignment: a cluster's endpoints grouped by
 * locality and priority, with their health, weights and the overprovisioning
 * and drop policy. The same struct serves EDS resources and the inline
 * load_assignment of STATIC and DNS clusters. Built by
 * src/xds/xlate_endpoint.c; immutable, in the owning resource's arena.
 *
 * Runtime state (health-check results, outlier ejections, pooled connections)
 * is kept outside, keyed by cluster name and xg_lb_endpoint address. */
#ifndef XG_CONFIG_ENDPOINT_H
#define XG_CONFIG_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* envoy.config.core.v3.HealthStatus, same values. */
typedef enum xg_health_status {
    XG_HEALTH_UNKNOWN = 0,
    XG_HEALTH_HEALTHY = 1,
    XG_HEALTH_UNHEALTHY = 2,
    XG_HEALTH_DRAINING = 3,
    XG_HEALTH_TIMEOUT = 4,
    XG_HEALTH_DEGRADED = 5,
} xg_health_status;

typedef struct xg_lb_endpoint {
    const char *host; /* socket_address.address as given: an IP literal, or a DNS name (DNS clusters only) */
    uint16_t port;    /* 1..65535 */
    bool is_ip;       /* host is an IP literal and addr/addrlen hold it (with port) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *hostname;    /* Endpoint.hostname (auto_host_rewrite, health-check Host), or NULL */
    xg_health_status health; /* EDS health_status; UNKNOWN counts as healthy until checked */
    uint32_t weight;         /* load_balancing_weight, default 1, >= 1 */
    uint16_t hc_port;        /* health_check_config.port_value; 0 = the endpoint's port */
    const char *hc_hostname; /* health_check_config.hostname, or NULL */
    bool hc_disabled;        /* health_check_config.disable_active_health_check */
} xg_lb_endpoint;

typedef struct xg_locality_endpoints {
    const char *region; /* Locality; "" when absent */
    const char *zone;
    const char *sub_zone;
    uint32_t weight;   /* load_balancing_weight; 0 = not set (locality weighting then gives it no load) */
    uint32_t priority; /* 0 (highest) .. 128 */
    xg_lb_endpoint *endpoints;
    size_t n_endpoints;
} xg_locality_endpoints;

/* Policy.drop_overloads: drop numerator/denominator of requests, per category. */
typedef struct xg_drop_overload {
    const char *category;
    uint32_t numerator;   /* clamped to denominator */
    uint32_t denominator; /* 100, 10000 or 1000000 */
} xg_drop_overload;

typedef struct xg_endpoints {
    const char *cluster_name;
    xg_locality_endpoints *localities; /* in the order given; priorities may come in any order */
    size_t n_localities;
    uint32_t n_priorities; /* highest priority used + 1 (0 when there are no localities); gaps allowed as in Envoy */
    size_t n_endpoints;    /* total over all localities */
    uint32_t overprovisioning_factor; /* percent, default 140 */
    int64_t endpoint_stale_after_ms;  /* 0 = never stale */
    xg_drop_overload *drop_overloads;
    size_t n_drop_overloads;
} xg_endpoints;

#endif
