/* PLACEHOLDER (issue 6, being written): envoy.filters.http.local_ratelimit's
 * translation. Until then the filter is refused. */
#include "xds/xlate_int.h"

int xg__xlate_local_ratelimit(xg_xlate *x, const Google__Protobuf__Any *tc, struct xg_http_filter *out)
{
    (void)tc;
    (void)out;
    return xg_xlate_fail(x, "envoy.filters.http.local_ratelimit is not supported yet");
}

int xg__xlate_local_ratelimit_per_route(xg_xlate *x, const Google__Protobuf__Any *any, const void **out)
{
    (void)x;
    (void)any;
    *out = NULL;
    return 0;
}
