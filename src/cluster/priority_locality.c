/* Locality-weighted balancing within one host set (priority.h): Envoy's
 * effective locality weight, an EDF schedule over localities, a balancer per
 * locality; and the locality-normalised host weights of the hash-based
 * policies. Built off the request path (reconcile, health changes). */
#include <stdlib.h>
#include <string.h>

#include "cluster/priority.h"
#include "core/error.h"

void xg_locality_lb_free(xg_locality_lb *l)
{
    if (l == NULL)
        return;
    for (uint32_t i = 0; l->loc != NULL && i < l->n; i++) {
        xg_lb_destroy(l->loc[i].lb);
        xg_lb_destroy(l->loc[i].lb_degraded);
    }
    if (l->loc != NULL && l->n > 0)
        free(l->loc[0].healthy); /* one array for every locality's subsets */
    free(l->loc);
    free(l->w);
    xg_edf_dispose(&l->sched);
    xg_edf_dispose(&l->sched_degraded);
    free(l);
}

/* Points each locality's subset into its slice of buf (sized by the counts
 * already taken) and fills it from src[0..n), keeping config order. */
static void split(xg_locality_lb *l, xg_host *const *src, uint32_t n, bool degraded, xg_host **buf)
{
    for (uint32_t i = 0; i < l->n; i++) {
        xg_locality *c = &l->loc[i];
        uint32_t *cnt = degraded ? &c->n_degraded : &c->n_healthy;
        *(degraded ? &c->degraded : &c->healthy) = buf;
        buf += *cnt;
        *cnt = 0; /* now the fill cursor */
    }
    for (uint32_t k = 0; k < n; k++) {
        xg_locality *c = &l->loc[src[k]->locality < l->n ? src[k]->locality : 0];
        if (degraded)
            c->degraded[c->n_degraded++] = src[k];
        else
            c->healthy[c->n_healthy++] = src[k];
    }
}

static int split_hosts(xg_locality_lb *l, const xg_host_set *s)
{
    xg_host **buf = malloc(((size_t)s->n_healthy + s->n_degraded + 1) * sizeof *buf);
    if (buf == NULL)
        return XG_ENOMEM;
    for (uint32_t k = 0; k < s->n_healthy; k++)
        l->loc[s->healthy[k]->locality < l->n ? s->healthy[k]->locality : 0].n_healthy++;
    for (uint32_t k = 0; k < s->n_degraded; k++)
        l->loc[s->degraded[k]->locality < l->n ? s->degraded[k]->locality : 0].n_degraded++;
    split(l, s->healthy, s->n_healthy, false, buf);
    split(l, s->degraded, s->n_degraded, true, buf + s->n_healthy);
    return 0;
}

static int build_lbs(xg_locality_lb *l, const xg_prio_cfg *cfg, xg_locality_lb *prev)
{
    for (uint32_t i = 0; i < l->n; i++) {
        xg_locality *c = &l->loc[i];
        xg_locality *p = prev != NULL && i < prev->n ? &prev->loc[i] : NULL;
        xg_lb_hosts h = {c->healthy, NULL, c->n_healthy}, d = {c->degraded, NULL, c->n_degraded};
        if (c->n_healthy > 0 && cfg->vt->init(&c->lb, cfg->lb, &h, p ? p->lb : NULL, cfg->rng) != 0)
            return XG_ENOMEM;
        if (c->n_degraded > 0 && cfg->vt->init(&c->lb_degraded, cfg->lb, &d, p ? p->lb_degraded : NULL, cfg->rng) != 0)
            return XG_ENOMEM;
    }
    return 0;
}

/* Envoy's effectiveLocalityWeight: the weight scaled by availability
 * (overprovisioned, capped at 1), for each locality. */
static void effective_weights(xg_locality_lb *l, const xg_host_set *s)
{
    uint32_t *count = calloc(l->n, sizeof *count);
    for (uint32_t k = 0; count != NULL && k < s->n; k++)
        if (s->hosts[k]->locality < l->n && !(s->hosts[k]->flags & XG_HOST_F_PENDING_FIRST_HC))
            count[s->hosts[k]->locality]++;
    for (uint32_t i = 0; i < l->n; i++) {
        double c = count != NULL ? count[i] : 0, f = s->overprovisioning / 100.0, w = s->locality_weights[i];
        double ah = c > 0 ? f * l->loc[i].n_healthy / c : 0, ad = c > 0 ? f * l->loc[i].n_degraded / c : 0;
        l->w[i] = w * (ah < 1.0 ? ah : 1.0);
        l->w_degraded[i] = w * (ad < 1.0 ? ad : 1.0);
    }
    free(count);
}

static int schedule(xg_edf *e, const double *w, uint32_t n, xg_rng *rng)
{
    if (xg_edf_init(e, n) != 0)
        return XG_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        if (w[i] > 0)
            xg_edf_add(e, i, 1.0 / w[i]);
    xg_edf_heapify(e);
    if (e->n > 0) /* workers start at different localities */
        xg_edf_skip(e, w, xg_rng_below(rng, e->n));
    return 0;
}

int xg_locality_lb_build(xg_host_set *s, const xg_prio_cfg *c)
{
    xg_locality_lb *prev = s->loc, *l = calloc(1, sizeof *l);
    s->loc = NULL;
    int rc = XG_ENOMEM;
    if (l == NULL || s->n_localities == 0)
        goto done;
    l->n = s->n_localities;
    l->loc = calloc(l->n, sizeof *l->loc);
    l->w = malloc(2 * (size_t)l->n * sizeof *l->w);
    if (l->loc == NULL || l->w == NULL || split_hosts(l, s) != 0)
        goto done;
    l->w_degraded = l->w + l->n;
    effective_weights(l, s);
    if (build_lbs(l, c, prev) != 0 || schedule(&l->sched, l->w, l->n, c->rng) != 0 ||
        schedule(&l->sched_degraded, l->w_degraded, l->n, c->rng) != 0)
        goto done;
    s->loc = l;
    l = NULL;
    rc = 0;
done:
    xg_locality_lb_free(l);
    xg_locality_lb_free(prev);
    return s->n_localities == 0 ? 0 : rc;
}

xg_host *xg_locality_lb_pick(xg_locality_lb *l, bool degraded, const xg_lb_ctx *ctx)
{
    xg_edf *e = degraded ? &l->sched_degraded : &l->sched;
    if (e->n == 0)
        return NULL;
    const double *w = degraded ? l->w_degraded : l->w;
    xg_locality *c = &l->loc[xg_edf_pick(e, w[xg_edf_top(e)])];
    xg_lb *lb = degraded ? c->lb_degraded : c->lb;
    return lb != NULL ? xg_lb_pick(lb, ctx) : NULL;
}

uint32_t xg_locality_host_weights(const xg_host_set *s, xg_host *const *hosts, uint32_t n, xg_host **out_hosts,
                                  double *out_w)
{
    uint64_t lsum = 0;
    for (uint32_t i = 0; i < s->n_localities; i++)
        lsum += s->locality_weights[i];
    uint32_t k = 0;
    for (uint32_t loc = 0; lsum > 0 && loc < s->n_localities; loc++) {
        uint64_t hsum = 0;
        for (uint32_t i = 0; i < n; i++)
            hsum += hosts[i]->locality == loc ? hosts[i]->weight : 0;
        for (uint32_t i = 0; s->locality_weights[loc] > 0 && i < n; i++) {
            if (hosts[i]->locality != loc)
                continue;
            out_hosts[k] = hosts[i];
            out_w[k++] = (double)hosts[i]->weight * ((double)s->locality_weights[loc] / (double)lsum) / (double)hsum;
        }
    }
    return k;
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static bool same_locality(const xg_locality_endpoints *a, const xg_locality_endpoints *b)
{
    return a->priority == b->priority && same_str(a->region, b->region) && same_str(a->zone, b->zone) &&
           same_str(a->sub_zone, b->sub_zone);
}

/* Each assignment locality's index in its priority's locality table. */
static void number_localities(xg_host_set *sets, uint32_t n_sets, const xg_endpoints *eps, uint32_t *idx)
{
    for (size_t l = 0; l < eps->n_localities; l++) {
        const xg_locality_endpoints *loc = &eps->localities[l];
        idx[l] = UINT32_MAX;
        for (size_t k = 0; k < l && idx[l] == UINT32_MAX; k++)
            if (same_locality(&eps->localities[k], loc))
                idx[l] = idx[k];
        if (idx[l] == UINT32_MAX && loc->priority < n_sets)
            idx[l] = sets[loc->priority].n_localities++;
    }
}

int xg_prio_localities(xg_host_set *sets, uint32_t n_sets, const xg_endpoints *eps, uint32_t **loc_index)
{
    *loc_index = NULL;
    for (uint32_t p = 0; p < n_sets; p++)
        sets[p].overprovisioning = eps != NULL && eps->overprovisioning_factor > 0 ? eps->overprovisioning_factor : 140;
    if (eps == NULL || eps->n_localities == 0)
        return 0;
    uint32_t *idx = malloc(eps->n_localities * sizeof *idx);
    if (idx == NULL)
        return XG_ENOMEM;
    *loc_index = idx;
    number_localities(sets, n_sets, eps, idx);
    for (uint32_t p = 0; p < n_sets; p++) {
        uint32_t n = sets[p].n_localities;
        if (n > 0 && (sets[p].locality_weights = calloc(n, sizeof *sets[p].locality_weights)) == NULL)
            return XG_ENOMEM;
    }
    for (size_t l = 0; l < eps->n_localities; l++) {
        const xg_locality_endpoints *loc = &eps->localities[l];
        if (loc->weight > 0 && loc->priority < n_sets)
            sets[loc->priority].locality_weights[idx[l]] = loc->weight; /* the last one given wins */
    }
    return 0;
}
