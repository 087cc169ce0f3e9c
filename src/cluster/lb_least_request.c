/* LEAST_REQUEST, as Envoy: with equal weights, "power of N choices": sample
 * choice_count hosts at random (with replacement) and take the one with the
 * fewest active requests, O(choice_count) per pick; with different weights,
 * an EDF schedule whose weights are scaled down by load at pick time,
 * weight / (active_requests + 1)^active_request_bias, O(log n) per pick (a
 * busy host is picked less often but never drains completely). */
#include <math.h>
#include <stdlib.h>

#include "cluster/lb.h"
#include "cluster/lb_edf.h"
#include "core/error.h"

typedef struct lr {
    xg_lb base;
    xg_rng *rng;
    size_t n;
    uint32_t choices;
    bool weighted;
    double bias;
    xg_host **hosts;
    xg_edf sched; /* weighted */
} lr;

static xg_host *pick_n_choices(lr *b)
{
    xg_host *best = b->hosts[xg_rng_below(b->rng, b->n)];
    for (uint32_t c = 1; c < b->choices; c++) {
        xg_host *h = b->hosts[xg_rng_below(b->rng, b->n)];
        if (h->active_requests < best->active_requests)
            best = h;
    }
    return best;
}

/* Envoy's hostWeight(): bias 1 is a plain division, 0 ignores the load. */
static double load_weight(const lr *b, const xg_host *h)
{
    double w = (double)h->weight, active = (double)h->active_requests + 1.0;
    if (b->bias == 1.0)
        return w / active;
    return b->bias == 0.0 ? w : w / pow(active, b->bias);
}

static xg_host *lr_pick(xg_lb *lb, const xg_lb_ctx *ctx)
{
    lr *b = (lr *)lb;
    if (!b->weighted)
        return pick_n_choices(b);
    xg_host *h = b->hosts[xg_edf_top(&b->sched)];
    xg_edf_pick(&b->sched, load_weight(b, h));
    return h;
}

static void lr_destroy(xg_lb *lb)
{
    lr *b = (lr *)lb;
    free(b->hosts);
    xg_edf_dispose(&b->sched);
    free(b);
}

static int init_weighted(lr *b)
{
    if (xg_edf_init(&b->sched, (uint32_t)b->n) != 0)
        return XG_ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        xg_edf_add(&b->sched, (uint32_t)i, 1.0 / load_weight(b, b->hosts[i]));
    xg_edf_heapify(&b->sched);
    /* Workers start at different points of the schedule. */
    for (uint64_t k = xg_rng_below(b->rng, b->n); k > 0; k--)
        xg_edf_pick(&b->sched, load_weight(b, b->hosts[xg_edf_top(&b->sched)]));
    return 0;
}

static int lr_init(xg_lb **out, const xg_lb_config *cfg, const xg_lb_hosts *in, xg_lb *prev, xg_rng *rng)
{
    lr *b = calloc(1, sizeof *b);
    if (b == NULL)
        return XG_ENOMEM;
    b->base.vt = &xg_lb_least_request;
    b->rng = rng;
    b->n = in->n;
    b->choices = cfg->choice_count >= 2 ? cfg->choice_count : 2;
    b->bias = cfg->active_request_bias >= 0.0 ? cfg->active_request_bias : 1.0; /* NaN too */
    int rc = XG_ENOMEM;
    if ((b->hosts = malloc(b->n * sizeof *b->hosts)) == NULL)
        goto fail;
    for (size_t i = 0; i < b->n; i++) {
        b->hosts[i] = in->hosts[i];
        b->weighted |= in->hosts[i]->weight != in->hosts[0]->weight;
    }
    if (b->weighted && (rc = init_weighted(b)) != 0)
        goto fail;
    *out = &b->base;
    return 0;
fail:
    lr_destroy(&b->base);
    return rc;
}

const xg_lb_vt xg_lb_least_request = {
    .name = "least_request",
    .init = lr_init,
    .pick = lr_pick,
    .destroy = lr_destroy,
};
