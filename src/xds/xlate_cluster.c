/* CDS Cluster -> xg_cluster: discovery type, EDS source (recorded as an
 * XG_RES_ENDPOINTS dependency), timeouts and buffer limits, inline endpoints
 * for STATIC and DNS clusters, DNS settings, upstream TLS and connection
 * options, with Envoy's defaults. The load balancer, health checks, breakers,
 * outlier detection, protocol options and DNS settings are in
 * xlate_cluster_{lb,hc,proto,dns}.c. */
#include <string.h>

#include "config/cluster.h"
#include "core/error.h"
#include "xds/xlate_ces.h"

typedef Envoy__Config__Cluster__V3__Cluster pb_cluster;
#define CL(c) ENVOY__CONFIG__CLUSTER__V3__CLUSTER__##c

static int discovery_type(xg_xlate *x, const pb_cluster *pb, xg_cluster *c)
{
    if (pb->cluster_discovery_type_case == CL(CLUSTER_DISCOVERY_TYPE_CLUSTER_TYPE))
        return xg__ces_fail_at(x, "cluster_type", "custom cluster types are not supported");
    if (pb->cluster_discovery_type_case != CL(CLUSTER_DISCOVERY_TYPE_TYPE)) {
        c->type = XG_CLUSTER_STATIC;
        return 0;
    }
    switch (pb->type) {
    case CL(DISCOVERY_TYPE__STATIC):
        c->type = XG_CLUSTER_STATIC;
        return 0;
    case CL(DISCOVERY_TYPE__STRICT_DNS):
        c->type = XG_CLUSTER_STRICT_DNS;
        return 0;
    case CL(DISCOVERY_TYPE__LOGICAL_DNS):
        c->type = XG_CLUSTER_LOGICAL_DNS;
        return 0;
    case CL(DISCOVERY_TYPE__EDS):
        c->type = XG_CLUSTER_EDS;
        return 0;
    default:
        return xg__ces_fail_at(x, "type", "%s is not supported (STATIC, STRICT_DNS, LOGICAL_DNS, EDS are)",
                               pb->type == CL(DISCOVERY_TYPE__ORIGINAL_DST) ? "ORIGINAL_DST" : "this value");
    }
}

/* EDS: the ClusterLoadAssignment to subscribe to, over ADS. */
static int eds_config(xg_xlate *x, const pb_cluster *pb, xg_cluster *c)
{
    const Envoy__Config__Cluster__V3__Cluster__EdsClusterConfig *e = pb->eds_cluster_config;
    if (e == NULL)
        return xg__ces_fail_at(x, "eds_cluster_config", "required for an EDS cluster (eds_config: {ads: {}})");
    size_t mark = xg_xlate_push(x, "eds_cluster_config");
    int rc = xg__ces_ads_source(x, "eds_config", e->eds_config, &c->eds_initial_fetch_timeout_ms);
    xg_xlate_pop(x, mark);
    const char *service = e->service_name[0] != '\0' ? e->service_name : pb->name;
    if (rc == 0 && (c->eds_service_name = xg_xlate_strdup(x, service)) == NULL)
        rc = XG_ENOMEM;
    return rc ? rc : xg_xlate_dep(x, XG_RES_ENDPOINTS, service);
}

/* STATIC and DNS clusters carry their endpoints inline; EDS ones must not. */
static int load_assignment(xg_xlate *x, const pb_cluster *pb, xg_cluster *c)
{
    const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *la = pb->load_assignment;
    if (c->type == XG_CLUSTER_EDS) {
        if (la != NULL && (la->n_endpoints > 0 || la->n_named_endpoints > 0))
            return xg__ces_fail_at(x, "load_assignment", "an EDS cluster takes its endpoints from EDS, not inline");
        return 0;
    }
    if (la == NULL)
        return xg__ces_fail_at(x, "load_assignment", "required for a %s cluster",
                               c->type == XG_CLUSTER_STATIC ? "STATIC" : "DNS");
    xg_endpoints *e = NULL;
    size_t mark = xg_xlate_push(x, "load_assignment");
    int rc = xg__xlate_cla(x, la, c->type != XG_CLUSTER_STATIC, &e);
    if (rc == 0 && c->type == XG_CLUSTER_LOGICAL_DNS && (e->n_localities != 1 || e->n_endpoints != 1))
        rc = xg_xlate_fail(x, "a LOGICAL_DNS cluster needs exactly one locality with exactly one lb_endpoint");
    xg_xlate_pop(x, mark);
    c->load_assignment = e;
    return rc;
}

static int connection_options(xg_xlate *x, const pb_cluster *pb, xg_cluster *c)
{
    if (pb->upstream_bind_config != NULL)
        return xg__ces_fail_at(x, "upstream_bind_config", "not supported");
    const Envoy__Config__Cluster__V3__UpstreamConnectionOptions *o = pb->upstream_connection_options;
    if (o == NULL)
        return 0;
    if (o->set_local_interface_name_on_upstream_connections)
        return xg__ces_fail_at(x, "upstream_connection_options.set_local_interface_name_on_upstream_connections",
                               "not supported");
    if (o->happy_eyeballs_config != NULL)
        return xg__ces_fail_at(x, "upstream_connection_options.happy_eyeballs_config", "not supported");
    if (o->tcp_keepalive != NULL) {
        c->has_tcp_keepalive = true;
        c->keepalive_probes = xg__ces_u32(o->tcp_keepalive->keepalive_probes, 0);
        c->keepalive_time_s = xg__ces_u32(o->tcp_keepalive->keepalive_time, 0);
        c->keepalive_interval_s = xg__ces_u32(o->tcp_keepalive->keepalive_interval, 0);
    }
    return 0;
}

static int transport_socket(xg_xlate *x, const pb_cluster *pb, xg_cluster *c)
{
    if (pb->n_transport_socket_matches > 0)
        return xg__ces_fail_at(x, "transport_socket_matches",
                               "not supported (xdsgate uses the cluster's one transport_socket for every endpoint)");
    xg_tls_context *tls = NULL;
    size_t mark = xg_xlate_push(x, "transport_socket");
    int rc = xg_xlate_transport_socket(x, pb->transport_socket, false, &tls);
    xg_xlate_pop(x, mark);
    c->tls = tls;
    /* As in Envoy: automatic protocol selection is done by ALPN, so needs TLS. */
    if (rc == 0 && c->http.protocol == XG_UPSTREAM_AUTO && tls == NULL)
        rc = xg__ces_fail_at(x, "typed_extension_protocol_options",
                             "auto_config selects the protocol by ALPN and needs a TLS transport_socket");
    return rc;
}

/* Scalars with their defaults. */
static int basics(xg_xlate *x, const pb_cluster *pb, xg_cluster *c)
{
    if (pb->name[0] == '\0')
        return xg__ces_fail_at(x, "name", "required");
    if ((c->name = xg_xlate_strdup(x, pb->name)) == NULL)
        return XG_ENOMEM;
    if (pb->alt_stat_name[0] != '\0' && (c->alt_stat_name = xg_xlate_strdup(x, pb->alt_stat_name)) == NULL)
        return XG_ENOMEM;
    c->per_connection_buffer_limit_bytes = xg__ces_u32(pb->per_connection_buffer_limit_bytes, 1024 * 1024);
    c->wait_for_warm_on_init = xg__ces_bool(pb->wait_for_warm_on_init, true);
    c->close_connections_on_host_health_failure = pb->close_connections_on_host_health_failure;
    c->ignore_health_on_host_removal = pb->ignore_health_on_host_removal;
    int rc =
        xg__ces_duration(x, "connect_timeout", pb->connect_timeout, 5000, XG__DUR_POSITIVE, &c->connect_timeout_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "cleanup_interval", pb->cleanup_interval, 5000, XG__DUR_POSITIVE,
                              &c->cleanup_interval_ms);
    return rc;
}

int xg_xlate_cluster(xg_xlate *x, const pb_cluster *pb)
{
    xg_cluster *c = xg_xlate_alloc(x, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    int rc = basics(x, pb, c);
    if (rc == 0)
        rc = discovery_type(x, pb, c);
    if (rc == 0 && c->type == XG_CLUSTER_EDS)
        rc = eds_config(x, pb, c);
    if (rc == 0)
        rc = load_assignment(x, pb, c);
    if (rc == 0)
        rc = xg__xlate_cluster_lb(x, pb, &c->lb);
    if (rc == 0)
        rc = xg__xlate_health_checks(x, pb, c);
    if (rc == 0)
        rc = xg__xlate_circuit_breakers(x, pb->circuit_breakers, c);
    if (rc == 0)
        rc = xg__xlate_outlier(x, pb->outlier_detection, c);
    if (rc == 0)
        rc = xg__xlate_protocol_options(x, pb, c);
    if (rc == 0)
        rc = transport_socket(x, pb, c);
    if (rc == 0)
        rc = xg__xlate_cluster_dns(x, pb, c);
    if (rc == 0)
        rc = connection_options(x, pb, c);
    if (rc == 0)
        x->res->body = c;
    return rc;
}
