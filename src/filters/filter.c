/* The HTTP filter registry (configured filter kind -> instance factory) and
 * the per-route config lookup every filter shares. */
#include "filters/filter.h"
#include "http/stream.h"

xg_filter_create_fn xg_filter_factory(xg_http_filter_kind kind)
{
    switch (kind) {
    case XG_HTTP_FILTER_ROUTER:
        return xg_router_filter_create;
    case XG_HTTP_FILTER_BUFFER:
        return xg_buffer_filter_create;
    case XG_HTTP_FILTER_LOCAL_RATELIMIT:
        return xg_local_ratelimit_filter_create;
    case XG_HTTP_FILTER_RATELIMIT:
        return xg_ratelimit_filter_create;
    default:
        return NULL;
    }
}

/* The weighted cluster is picked when the route is resolved, before any
 * filter runs, so its level counts for every filter (as in Envoy). */
const xg_typed_config *xg_filter_per_route_config(const xg_filter *f)
{
    const xg_stream *s = f->stream;
    return xg_typed_config_for(s->rc, s->vh, s->route, s->weighted, f->config->name);
}
