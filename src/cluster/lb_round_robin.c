/* ROUND_ROBIN: plain rotation when every host has the same weight (O(1) per
 * pick), earliest-deadline-first scheduling when weights differ (Envoy's
 * choice: O(log n) per pick, each host picked in proportion to its weight,
 * interleaved rather than in bursts). Each worker starts at a random point so
 * that N workers do not all send their first request to the same host. A
 * rebuild keeps the rotation going: the cursor, or each remaining host's
 * distance to its next deadline. */
#include <stdlib.h>

#include "cluster/lb.h"
#include "cluster/lb_edf.h"
#include "core/error.h"

typedef struct rr {
    xg_lb base;
    xg_rng *rng;
    size_t n;
    bool weighted;
    size_t cursor; /* unweighted */
    xg_host **hosts;
    double *w;    /* weighted: each host's weight */
    xg_edf sched; /* weighted */
} rr;

static xg_host *rr_pick(xg_lb *lb, const xg_lb_ctx *ctx)
{
    rr *b = (rr *)lb;
    if (!b->weighted) {
        xg_host *h = b->hosts[b->cursor];
        b->cursor = b->cursor + 1 == b->n ? 0 : b->cursor + 1;
        return h;
    }
    uint32_t i = xg_edf_top(&b->sched);
    return b->hosts[xg_edf_pick(&b->sched, b->w[i])];
}

static void rr_destroy(xg_lb *lb)
{
    rr *b = (rr *)lb;
    free(b->hosts);
    free(b->w);
    xg_edf_dispose(&b->sched);
    free(b);
}

static bool all_equal(const xg_lb_hosts *in)
{
    for (size_t i = 1; i < in->n; i++)
        if (xg_lb_weight(in, i) != xg_lb_weight(in, 0))
            return false;
    return true;
}

/* Marks every host of prev with its remaining distance to its deadline. */
static void carry_out(const rr *prev, uint64_t mark, bool clear)
{
    for (uint32_t i = 0; i < prev->sched.n; i++) {
        const xg_edf_entry *e = &prev->sched.heap[i];
        prev->hosts[e->idx]->lb_mark = clear ? 0 : mark;
        prev->hosts[e->idx]->lb_carry = e->deadline - prev->sched.now;
    }
}

static int init_weighted(rr *b, const xg_lb_hosts *in, const rr *prev)
{
    b->w = malloc(b->n * sizeof *b->w);
    if (b->w == NULL || xg_edf_init(&b->sched, (uint32_t)b->n) != 0)
        return XG_ENOMEM;
    uint64_t mark = (uintptr_t)b;
    bool carry = prev != NULL && prev->weighted;
    if (carry)
        carry_out(prev, mark, false);
    for (size_t i = 0; i < b->n; i++) {
        xg_host *h = b->hosts[i];
        b->w[i] = xg_lb_weight(in, i);
        xg_edf_add(&b->sched, (uint32_t)i, h->lb_mark == mark ? h->lb_carry : 1.0 / b->w[i]);
    }
    if (carry)
        carry_out(prev, mark, true);
    xg_edf_heapify(&b->sched);
    /* A fresh balancer skips a random number of picks: workers start apart. */
    if (prev == NULL)
        xg_edf_skip(&b->sched, b->w, xg_rng_below(b->rng, b->n));
    return 0;
}

static int rr_init(xg_lb **out, const xg_lb_config *cfg, const xg_lb_hosts *in, xg_lb *prev_lb, xg_rng *rng)
{
    const rr *prev = (prev_lb != NULL && prev_lb->vt == &xg_lb_round_robin) ? (const rr *)prev_lb : NULL;
    rr *b = calloc(1, sizeof *b);
    if (b == NULL)
        return XG_ENOMEM;
    b->base.vt = &xg_lb_round_robin;
    b->rng = rng;
    b->n = in->n;
    b->weighted = !all_equal(in);
    int rc = XG_ENOMEM;
    if ((b->hosts = malloc(b->n * sizeof *b->hosts)) == NULL)
        goto fail;
    for (size_t i = 0; i < b->n; i++)
        b->hosts[i] = in->hosts[i];
    if (b->weighted && (rc = init_weighted(b, in, prev)) != 0)
        goto fail;
    if (!b->weighted)
        b->cursor = (prev != NULL && !prev->weighted) ? prev->cursor % b->n : xg_rng_below(rng, b->n);
    *out = &b->base;
    return 0;
fail:
    rr_destroy(&b->base);
    return rc;
}

const xg_lb_vt xg_lb_round_robin = {
    .name = "round_robin",
    .init = rr_init,
    .pick = rr_pick,
    .destroy = rr_destroy,
};
