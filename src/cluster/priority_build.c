/* A host set's balancers and the per-request pick across priorities,
 * panic mode and localities (priority.h). Building runs on the worker when
 * hosts or health change; picking is the request path. */
#include <stdlib.h>

#include "cluster/priority.h"
#include "core/error.h"

/* Envoy weights localities only when the assignment gives some locality of
 * the priority a load_balancing_weight. */
static bool locality_weighted(const xg_host_set *s, const xg_prio_cfg *c)
{
    if (!c->lb->locality_weighted)
        return false;
    for (uint32_t i = 0; i < s->n_localities; i++)
        if (s->locality_weights[i] > 0)
            return true;
    return false;
}

/* A balancer over hosts[0..n) in *slot, replacing (and freeing) the one
 * there. The hashed policies get locality-normalised weights when the set
 * is locality weighted (hosts of weightless localities are left out). */
static int build_lb(const xg_host_set *s, const xg_prio_cfg *c, xg_lb **slot, xg_host *const *hosts, uint32_t n)
{
    xg_lb *prev = *slot;
    xg_lb_hosts in = {hosts, NULL, n};
    xg_host **fh = NULL;
    double *fw = NULL;
    int rc = 0;
    *slot = NULL;
    if (n > 0 && xg_lb_policy_hashed(c->lb->policy) && locality_weighted(s, c)) {
        fh = malloc(n * sizeof *fh);
        fw = malloc(n * sizeof *fw);
        if (fh == NULL || fw == NULL)
            rc = XG_ENOMEM;
        else
            in = (xg_lb_hosts){fh, fw, xg_locality_host_weights(s, hosts, n, fh, fw)};
    }
    if (rc == 0 && in.n > 0)
        rc = c->vt->init(slot, c->lb, &in, prev, c->rng);
    free(fh);
    free(fw);
    xg_lb_destroy(prev);
    return rc;
}

static void classify(xg_host_set *s)
{
    s->n_healthy = s->n_degraded = s->n_excluded = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        xg_host *h = s->hosts[i];
        if (xg_host_healthy(h))
            s->healthy[s->n_healthy++] = h;
        else if (xg_host_degraded(h))
            s->degraded[s->n_degraded++] = h;
        if (h->flags & XG_HOST_F_PENDING_FIRST_HC)
            s->n_excluded++;
    }
}

int xg_prio_set_rebuild(xg_host_set *s, const xg_prio_cfg *c)
{
    classify(s);
    int rc = build_lb(s, c, &s->lb, s->healthy, s->n_healthy);
    if (rc != 0)
        s->n_healthy = 0;
    int rc2 = build_lb(s, c, &s->lb_degraded, s->degraded, s->n_degraded);
    if (rc2 != 0)
        s->n_degraded = 0;
    int rc3 = 0;
    if (!xg_lb_policy_hashed(c->lb->policy) && locality_weighted(s, c)) {
        rc3 = xg_locality_lb_build(s, c);
    } else {
        xg_locality_lb_free(s->loc);
        s->loc = NULL;
    }
    return rc != 0 ? rc : rc2 != 0 ? rc2 : rc3;
}

int xg_prio_rebalance(xg_host_set *sets, uint32_t n, const xg_prio_cfg *c)
{
    if (n == 0)
        return 0;
    double t = c->lb->healthy_panic_threshold;
    xg_prio_update(sets, n, t >= 100 ? 100 : t > 0 ? (uint32_t)t : 0);
    int first = 0;
    for (uint32_t i = 0; i < n; i++) {
        xg_host_set *s = &sets[i];
        int rc = s->panic ? build_lb(s, c, &s->lb_all, s->hosts, s->n) : 0;
        if (!s->panic) {
            xg_lb_destroy(s->lb_all);
            s->lb_all = NULL;
        }
        first = first != 0 ? first : rc;
    }
    return first;
}

void xg_prio_set_dispose(xg_host_set *s)
{
    xg_lb_destroy(s->lb);
    xg_lb_destroy(s->lb_degraded);
    xg_lb_destroy(s->lb_all);
    xg_locality_lb_free(s->loc);
    s->lb = s->lb_degraded = s->lb_all = NULL;
    s->loc = NULL;
}

xg_host *xg_prio_pick(xg_host_set *sets, uint32_t n, bool hashed, xg_rng *rng, const xg_lb_ctx *ctx)
{
    if (n == 0)
        return NULL;
    xg_lb_ctx c = ctx != NULL ? *ctx : (xg_lb_ctx){0};
    if (hashed && !c.has_hash) { /* no hash policy matched: a random point, as Envoy */
        c.hash = xg_rng_next(rng);
        c.has_hash = true;
    }
    bool degraded;
    xg_host_set *s = &sets[xg_prio_choose(sets, n, hashed ? c.hash : xg_rng_next(rng), &degraded)];
    if (s->panic && s->lb_all != NULL)
        return xg_lb_pick(s->lb_all, &c);
    if (s->loc != NULL) {
        xg_host *h = xg_locality_lb_pick(s->loc, degraded, &c);
        if (h != NULL)
            return h;
    }
    xg_lb *lb = degraded ? s->lb_degraded : s->lb;
    return lb != NULL ? xg_lb_pick(lb, &c) : NULL;
}

void xg_prio_set_hand_over(xg_host_set *to, xg_host_set *from)
{
    to->lb = from->lb;
    to->lb_degraded = from->lb_degraded;
    to->lb_all = from->lb_all;
    to->loc = from->loc;
    from->lb = from->lb_degraded = from->lb_all = NULL;
    from->loc = NULL;
}
