/* The five xDS resource types xdsgate subscribes to, and their type URLs. The
 * enum order is the order of config/resource.h's xg_res_type. */
#ifndef XG_XDS_XDS_TYPE_H
#define XG_XDS_XDS_TYPE_H

#include <stdbool.h>

#include "config/resource.h"

typedef xg_res_type xg_xds_type;
#define XG_XDS_LDS XG_RES_LISTENER
#define XG_XDS_RDS XG_RES_ROUTE_CONFIG
#define XG_XDS_CDS XG_RES_CLUSTER
#define XG_XDS_EDS XG_RES_ENDPOINTS
#define XG_XDS_SDS XG_RES_SECRET
#define XG_XDS_NTYPES XG_RES_NTYPES

/* "type.googleapis.com/envoy.config.listener.v3.Listener", ... */
const char *xg_xds_type_url(xg_xds_type t);
/* "LDS", "RDS", "CDS", "EDS", "SDS". */
const char *xg_xds_type_abbrev(xg_xds_type t);
/* Maps a type URL to its type; XG_ENOENT for anything else. */
int xg_xds_type_from_url(const char *url, xg_xds_type *out);
/* LDS and CDS are wildcard subscriptions; the others are by name. */
bool xg_xds_type_is_wildcard(xg_xds_type t);

#endif
