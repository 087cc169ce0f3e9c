/* xDS type URLs. */
#include <string.h>

#include "core/error.h"
#include "xds/xds_type.h"

static const char *const type_urls[XG_XDS_NTYPES] = {
    "type.googleapis.com/envoy.config.listener.v3.Listener",
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
};

const char *xg_xds_type_url(xg_xds_type t)
{
    return type_urls[t];
}

const char *xg_xds_type_abbrev(xg_xds_type t)
{
    static const char *const abbrev[XG_XDS_NTYPES] = {"LDS", "RDS", "CDS", "EDS", "SDS"};
    return abbrev[t];
}

int xg_xds_type_from_url(const char *url, xg_xds_type *out)
{
    for (int t = 0; t < XG_XDS_NTYPES; t++) {
        if (strcmp(url, type_urls[t]) == 0) {
            *out = (xg_xds_type)t;
            return 0;
        }
    }
    return XG_ENOENT;
}

bool xg_xds_type_is_wildcard(xg_xds_type t)
{
    return t == XG_XDS_LDS || t == XG_XDS_CDS;
}
