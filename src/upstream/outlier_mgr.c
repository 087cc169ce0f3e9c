/* Outlier detection on the main thread: consecutive-error runs reported by
 * the workers (summed per host), the interval timer (ejection time over,
 * collecting every worker's counts, success-rate and failure-percentage
 * ejection, the ejection multiplier's decay), and ejecting and returning
 * hosts within max_ejection_percent. Decisions are outlier.h's. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "upstream/health_int.h"

#define ALL_RUNS ((1u << XG_OD_NRUNS) - 1)

/* The workers' runs in mask restart from 0 (posted with the next update;
 * reports from before carry the old epoch and are dropped). */
static void restart_runs(hm_host *h, uint32_t mask)
{
    h->reset_mask |= mask;
    h->epoch++;
    for (unsigned w = 0; w < h->c->m->n_workers; w++)
        for (int r = 0; r < XG_OD_NRUNS; r++)
            if (mask & (1u << r))
                h->runs[w][r] = 0;
    xg__hm_mark_dirty(h);
}

static void eject(hm_host *h, xg_od_type type, int64_t now)
{
    hm_cluster *c = h->c;
    const xg_outlier *cfg = c->cfg->outlier;
    if (h->od.ejected)
        return;
    if (!xg_od_may_eject(cfg, c->n_ejected, c->n_hosts)) {
        xg_log_info("outlier detection: cluster %s host %s not ejected (%s): max_ejection_percent %u%% reached",
                    c->name, h->addr_str, xg_od_type_name(type), cfg->max_ejection_percent);
        return;
    }
    if (!xg_od_enforced(cfg, type, &c->m->rng)) {
        xg_log_info("outlier detection: cluster %s host %s detected (%s), not enforced (enforcing %u%%)", c->name,
                    h->addr_str, xg_od_type_name(type), xg_od_enforcing(cfg, type));
        return;
    }
    xg_od_eject(&h->od, cfg, now, &c->m->rng);
    c->n_ejected++;
    xg_log_warn("outlier detection: cluster %s host %s ejected (%s) for %lld ms (ejection %u)", c->name, h->addr_str,
                xg_od_type_name(type), (long long)xg_od_ejection_ms(&h->od, cfg), h->od.num_ejections);
    xg__hm_set_flags(h, h->flags | XG_HOST_F_OUTLIER_EJECTED);
    restart_runs(h, ALL_RUNS);
}

void xg__od_uneject(hm_host *h, int64_t now, const char *why)
{
    if (!h->od.ejected)
        return;
    xg_od_uneject(&h->od, now);
    h->c->n_ejected--;
    xg_log_info("outlier detection: cluster %s host %s returns to rotation (%s)", h->c->name, h->addr_str, why);
    xg__hm_set_flags(h, h->flags & ~(uint32_t)XG_HOST_F_OUTLIER_EJECTED);
    restart_runs(h, ALL_RUNS); /* as Envoy: a host back in rotation starts its counts afresh */
}

void xg__od_on_runs(hm_host *h, unsigned w, const uint32_t runs[XG_OD_NRUNS], uint32_t epoch)
{
    const xg_outlier *cfg = h->c->cfg->outlier;
    if (cfg == NULL || h->od.ejected || epoch != h->epoch || w >= h->c->m->n_workers)
        return;
    memcpy(h->runs[w], runs, sizeof h->runs[w]);
    uint32_t sum[XG_OD_NRUNS] = {0};
    for (unsigned i = 0; i < h->c->m->n_workers; i++)
        for (int r = 0; r < XG_OD_NRUNS; r++)
            sum[r] += h->runs[i][r];
    uint32_t mask = xg_od_runs_detect(cfg, sum);
    if (mask == 0)
        return;
    /* Envoy's order: a gateway failure is counted (and posted) before the 5xx. */
    static const int order[] = {XG_OD_RUN_GATEWAY, XG_OD_RUN_5XX, XG_OD_RUN_LOCAL};
    int64_t now = xg__hm_now_ms(h->c->m);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (mask & (1u << order[i]))
            eject(h, xg_od_run_type(order[i]), now);
    if (!h->od.ejected)
        restart_runs(h, mask); /* detected: that count starts over, ejected or not (Envoy) */
}

/* --- the interval --- */

static void add_counts(hm_host *h, bool split)
{
    h->od.total = h->c_total;
    h->od.success = h->c_success;
    h->od.local_total = h->c_local_total;
    h->od.local_success = h->c_local_success;
    uint64_t local_fail = split ? h->c_local_total - h->c_local_success : 0;
    h->rq_total += h->c_total + local_fail;
    h->rq_success += h->c_success;
    h->rq_error += h->c_total - h->c_success + local_fail;
    h->c_total = h->c_success = h->c_local_total = h->c_local_success = 0;
}

static void eject_candidates(hm_cluster *c, bool local, xg_od_candidate *out)
{
    hm_host **hosts = c->hosts;
    double *mean = local ? &c->lsr_mean : &c->sr_mean, *thr = local ? &c->lsr_threshold : &c->sr_threshold;
    xg_od_host **v = malloc(c->n_hosts * sizeof *v);
    if (v == NULL)
        return;
    for (uint32_t i = 0; i < c->n_hosts; i++)
        v[i] = &hosts[i]->od;
    size_t k = xg_od_interval(c->cfg->outlier, v, c->n_hosts, local, out, mean, thr);
    for (size_t i = 0; i < k; i++)
        eject(hosts[out[i].index], out[i].type, c->tick_ms);
    free(v);
}

/* Every worker answered (or the next interval came): success rate, failure
 * percentage, then the multiplier's decay. */
static void process(hm_cluster *c)
{
    const xg_outlier *cfg = c->cfg->outlier;
    c->replies = 0;
    for (uint32_t i = 0; i < c->n_hosts; i++)
        add_counts(c->hosts[i], cfg->split_external_local_origin_errors);
    xg_od_candidate *out = c->n_hosts > 0 ? malloc(2 * (size_t)c->n_hosts * sizeof *out) : NULL;
    if (out != NULL) {
        eject_candidates(c, false, out);
        if (cfg->split_external_local_origin_errors)
            eject_candidates(c, true, out);
    }
    free(out);
    for (uint32_t i = 0; i < c->n_hosts; i++)
        xg_od_decay(&c->hosts[i]->od, cfg, c->tick_ms);
}

static void on_tick(struct ev_loop *ev, ev_timer *w, int revents)
{
    hm_cluster *c = w->data;
    int64_t now = xg__hm_now_ms(c->m);
    if (c->replies > 0)
        process(c); /* a worker did not answer in a whole interval: what came is used */
    for (uint32_t i = 0; i < c->n_hosts; i++)
        if (xg_od_uneject_due(&c->hosts[i]->od, c->cfg->outlier, now))
            xg__od_uneject(c->hosts[i], now, "ejection time over");
    c->tick_ms = now;
    c->collect_gen++;
    c->replies = c->m->n_workers;
    for (uint32_t i = 0; i < c->n_hosts; i++) {
        hm_host *h = c->hosts[i];
        h->c_total = h->c_success = h->c_local_total = h->c_local_success = 0;
    }
    xg__hs_collect(c);
}

void xg__od_on_counts(hm_cluster *c, uint64_t gen, const xg_outlier_counts *v, uint32_t n)
{
    if (c->cfg == NULL || c->cfg->outlier == NULL || gen != c->collect_gen || c->replies == 0)
        return;
    for (uint32_t i = 0; i < n; i++) {
        hm_host *h = xg__hm_find_host(c, (const struct sockaddr *)&v[i].addr, v[i].addrlen);
        if (h == NULL)
            continue;
        h->c_total += v[i].total;
        h->c_success += v[i].success;
        h->c_local_total += v[i].local_total;
        h->c_local_success += v[i].local_success;
    }
    if (--c->replies == 0)
        process(c);
}

void xg__od_cluster_start(hm_cluster *c)
{
    double s = (double)c->cfg->outlier->interval_ms / 1000.0;
    ev_timer_stop(c->m->loop->ev, &c->od_timer);
    ev_init(&c->od_timer, on_tick);
    c->od_timer.data = c;
    ev_timer_set(&c->od_timer, s, s);
    ev_timer_start(c->m->loop->ev, &c->od_timer);
}

void xg__od_cluster_stop(hm_cluster *c)
{
    ev_timer_stop(c->m->loop->ev, &c->od_timer);
    c->replies = 0;
    c->collect_gen++;
    c->sr_mean = c->sr_threshold = c->lsr_mean = c->lsr_threshold = -1;
}
