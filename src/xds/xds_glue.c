/* Production wiring of the xDS client state: the real translators behind one
 * signature, and the transport operations over an xg_ads. Kept apart from
 * the state so that unit tests can run the state with fakes of both. */
#include "xds/xds_state.h"

static int xl_listener(xg_xlate *x, const ProtobufCMessage *m)
{
    return xg_xlate_listener(x, (const Envoy__Config__Listener__V3__Listener *)m);
}

static int xl_route_config(xg_xlate *x, const ProtobufCMessage *m)
{
    return xg_xlate_route_config(x, (const Envoy__Config__Route__V3__RouteConfiguration *)m);
}

static int xl_cluster(xg_xlate *x, const ProtobufCMessage *m)
{
    return xg_xlate_cluster(x, (const Envoy__Config__Cluster__V3__Cluster *)m);
}

static int xl_endpoints(xg_xlate *x, const ProtobufCMessage *m)
{
    return xg_xlate_endpoints(x, (const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)m);
}

static int xl_secret(xg_xlate *x, const ProtobufCMessage *m)
{
    return xg_xlate_secret(x, (const Envoy__Extensions__TransportSockets__Tls__V3__Secret *)m);
}

const xg_xds_xlate_fn *xg_xds_default_xlate(void)
{
    static const xg_xds_xlate_fn table[XG_XDS_NTYPES] = {
        [XG_XDS_LDS] = xl_listener,  [XG_XDS_RDS] = xl_route_config, [XG_XDS_CDS] = xl_cluster,
        [XG_XDS_EDS] = xl_endpoints, [XG_XDS_SDS] = xl_secret,
    };
    return table;
}

static int ads_subscribe(void *ctx, xg_xds_type t, const char *const *names, size_t n)
{
    return xg_ads_subscribe(ctx, t, names, n);
}

static int ads_post(void *ctx, uint32_t delay_ms, void (*fn)(void *arg), void *arg)
{
    return xg_ads_post(ctx, delay_ms, fn, arg);
}

xg_xds_transport xg_xds_ads_transport(xg_ads *a)
{
    return (xg_xds_transport){.subscribe = ads_subscribe, .post = ads_post, .ctx = a};
}
