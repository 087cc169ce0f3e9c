/* Lookups on translated route configurations (config/route.h): virtual host
 * selection by domain and per-filter config by filter name; the shared cold
 * blocks of routes that set nothing rare. */
#include <stdlib.h>
#include <string.h>

#include "config/route.h"

/* The cold blocks of every route that sets nothing rare: read-only, shared by
 * all snapshots. A field added to either struct needs its default here. */
const xg_route_forward_cold xg_route_forward_cold_default = {
    .max_stream_duration_ms = XG_MS_UNSET,
    .grpc_timeout_header_max_ms = XG_MS_UNSET,
    .max_grpc_timeout_ms = XG_MS_UNSET,
    .host_rewrite = XG_HOST_REWRITE_NONE,
    .include_vh_rate_limits = XG_UNSET,
    .cluster_not_found_code = 503,
};

const xg_route_cold xg_route_cold_default = {0};

const xg_vhost *xg_route_config_find_vhost(const xg_route_config *rc, const char *host, size_t len)
{
    const xg_domain_index *d = &rc->domains;
    const xg_vhost *vh = xg_strmap_get(&d->exact, host, len);
    if (vh != NULL)
        return vh;
    /* A wildcard stands for at least one character, as in Envoy. */
    for (size_t i = 0; i < d->n_suffix; i++)
        if (d->suffix[i].len < len &&
            (vh = xg_strmap_get(&d->suffix[i].map, host + len - d->suffix[i].len, d->suffix[i].len)) != NULL)
            return vh;
    for (size_t i = 0; i < d->n_prefix; i++)
        if (d->prefix[i].len < len && (vh = xg_strmap_get(&d->prefix[i].map, host, d->prefix[i].len)) != NULL)
            return vh;
    return d->any;
}

static int cmp_key(const void *key, const void *item)
{
    return strcmp(key, ((const xg_typed_config *)item)->key);
}

const xg_typed_config *xg_typed_config_find(const xg_typed_config_map *m, const char *key)
{
    return m->n ? bsearch(key, m->items, m->n, sizeof(*m->items), cmp_key) : NULL;
}

const xg_typed_config *xg_typed_config_most_specific(const xg_route_config *rc, const xg_vhost *vh,
                                                     const xg_route *rt, const char *name)
{
    return xg_typed_config_for(rc, vh, rt, NULL, name);
}

const xg_typed_config *xg_typed_config_for(const xg_route_config *rc, const xg_vhost *vh, const xg_route *rt,
                                           const xg_weighted_cluster *wc, const char *name)
{
    const xg_typed_config *tc = wc != NULL ? xg_typed_config_find(&wc->per_filter, name) : NULL;
    if (tc == NULL && rt != NULL)
        tc = xg_typed_config_find(&rt->cold->per_filter, name);
    if (tc == NULL && vh != NULL)
        tc = xg_typed_config_find(&vh->per_filter, name);
    if (tc == NULL && rc != NULL)
        tc = xg_typed_config_find(&rc->per_filter, name);
    return tc;
}
