/* PLACEHOLDER (issue 6, being written): descriptors from route rate_limits. */
#include "ratelimit/descriptor.h"

int xg_rl_descriptors_build(struct xg_stream *s, uint32_t stage, xg_vh_rl vh, xg_rl_descriptors *out)
{
    (void)s;
    (void)stage;
    (void)vh;
    out->items = NULL;
    out->n = 0;
    return 0;
}
