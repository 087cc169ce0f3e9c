/* RANDOM: a uniformly random host, O(1). As in Envoy, endpoint weights are
 * not consulted (locality weights still choose the locality first). */
#include <stdlib.h>

#include "cluster/lb.h"
#include "core/error.h"

typedef struct rnd {
    xg_lb base;
    xg_rng *rng;
    size_t n;
    xg_host *hosts[]; /* n */
} rnd;

static xg_host *rnd_pick(xg_lb *lb, const xg_lb_ctx *ctx)
{
    rnd *b = (rnd *)lb;
    return b->hosts[xg_rng_below(b->rng, b->n)];
}

static void rnd_destroy(xg_lb *lb)
{
    free(lb);
}

static int rnd_init(xg_lb **out, const xg_lb_config *cfg, const xg_lb_hosts *in, xg_lb *prev, xg_rng *rng)
{
    rnd *b = malloc(sizeof *b + in->n * sizeof b->hosts[0]);
    if (b == NULL)
        return XG_ENOMEM;
    b->base.vt = &xg_lb_random;
    b->rng = rng;
    b->n = in->n;
    for (size_t i = 0; i < in->n; i++)
        b->hosts[i] = in->hosts[i];
    *out = &b->base;
    return 0;
}

const xg_lb_vt xg_lb_random = {
    .name = "random",
    .init = rnd_init,
    .pick = rnd_pick,
    .destroy = rnd_destroy,
};
