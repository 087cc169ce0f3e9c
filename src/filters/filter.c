/* The HTTP filter registry (configured filter kind -> instance factory) and
 * the per-route config lookup every filter shares. Issue 6 adds the
 * rate-limit filters here. */
#include "filters/filter.h"
#include "http/stream.h"

xg_filter_create_fn xg_filter_factory(xg_http_filter_kind kind)
{
    switch (kind) {
    case XG_HTTP_FILTER_ROUTER:
        return xg_router_filter_create;
    case XG_HTTP_FILTER_BUFFER:
        return xg_buffer_filter_create;
    default:
        return NULL;
    }
}

/* Envoy's order, most specific first. The weighted cluster level (issue 6)
 * is not looked at: the cluster is picked by the router, after the filters
 * before it have run. */
const xg_typed_config *xg_filter_per_route_config(const xg_filter *f)
{
    const xg_stream *s = f->stream;
    const char *name = f->config->name;
    const xg_typed_config *tc = NULL;
    if (s->route != NULL)
        tc = xg_typed_config_find(&s->route->per_filter, name);
    if (tc == NULL && s->vh != NULL)
        tc = xg_typed_config_find(&s->vh->per_filter, name);
    if (tc == NULL && s->rc != NULL)
        tc = xg_typed_config_find(&s->rc->per_filter, name);
    return tc;
}
