/* PLACEHOLDER (issue 6, being written): the local rate limit filter. */
#include "filters/filter.h"

xg_filter *xg_local_ratelimit_filter_create(struct xg_stream *s, const xg_http_filter *cfg)
{
    (void)s;
    (void)cfg;
    return NULL;
}
