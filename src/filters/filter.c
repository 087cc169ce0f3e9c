/* The HTTP filter registry: configured filter kind -> instance factory.
 * Issue 6 adds the rate-limit filters here. */
#include "filters/filter.h"

xg_filter_create_fn xg_filter_factory(xg_http_filter_kind kind)
{
    switch (kind) {
    case XG_HTTP_FILTER_ROUTER:
        return xg_router_filter_create;
    default:
        return NULL;
    }
}
