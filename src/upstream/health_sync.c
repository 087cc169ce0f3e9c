/* What crosses between the main thread's health manager and the workers,
 * always as closures posted to a loop's queue (never a lock or a shared
 * atomic on the request path):
 *
 *  - main -> workers: host health flags and outlier run resets, batched
 *    per cluster at the end of a loop pass; each worker applies them to its
 *    own hosts and rebuilds that cluster's balancers;
 *  - main -> workers -> main: the interval counts of outlier detection;
 *  - workers -> main: run reports and "first traffic" (outlier_report.h).
 *
 * Messages carry cluster names and addresses, never pointers into the
 * other thread's state. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "net/worker_listeners.h"
#include "upstream/health_int.h"

/* --- main -> workers: flags --- */

typedef struct hs_item {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint32_t flags; /* the XG_HOST_F_HEALTH_MASK bits */
    uint32_t reset; /* runs to restart (1 << XG_OD_RUN_*) */
    uint32_t epoch;
} hs_item;

/* One cluster's batch, shared by every worker (the last one frees it). */
typedef struct hs_update {
    atomic_int refs;
    char *cluster;
    uint32_t n;
    hs_item items[];
} hs_update;

static void update_unref(hs_update *u)
{
    if (atomic_fetch_sub(&u->refs, 1) == 1) {
        free(u->cluster);
        free(u);
    }
}

/* Worker: the bits its config lets the main thread set (a cluster whose
 * checks or detector were just turned off keeps those bits clear). */
static uint32_t allowed_bits(const xg_cluster_rt *rt)
{
    uint32_t a = 0;
    if (rt->cfg != NULL && rt->cfg->n_health_checks > 0)
        a |= XG_HOST_F_HC_FAILED | XG_HOST_F_PENDING_FIRST_HC;
    if (rt->cfg != NULL && rt->cfg->outlier != NULL)
        a |= XG_HOST_F_OUTLIER_EJECTED;
    return a;
}

/* Worker. */
static void apply_update(xg_cluster_rt *rt, const hs_update *u)
{
    uint32_t allowed = allowed_bits(rt);
    bool changed = false;
    for (uint32_t i = 0; i < u->n; i++) {
        const hs_item *it = &u->items[i];
        xg_host *h = xg_cluster_find_host(rt, (const struct sockaddr *)&it->addr, it->addrlen);
        if (h == NULL || h->removed)
            continue;
        uint32_t f = (h->flags & ~(uint32_t)XG_HOST_F_HEALTH_MASK) | (it->flags & allowed);
        changed = changed || f != h->flags;
        h->flags = f;
        xg_outlier_reset_runs(h, it->reset, it->epoch);
    }
    if (changed && xg_cluster_hosts_changed(rt) != 0)
        xg_log_error("cluster %s: out of memory rebuilding balancers after a health change", rt->name);
}

static void on_update(void *arg)
{
    hs_update *u = arg;
    xg_worker_rt *w = xg_worker_rt_self();
    xg_cluster_rt *rt = w != NULL ? xg_clusters_find(w->clusters, u->cluster, strlen(u->cluster)) : NULL;
    if (rt != NULL)
        apply_update(rt, u);
    update_unref(u);
}

static hs_update *build_update(hm_cluster *c)
{
    uint32_t n = 0;
    for (hm_host *h = c->dirty_head; h != NULL; h = h->dirty_next)
        n++;
    hs_update *u = malloc(sizeof *u + n * sizeof u->items[0]);
    if (u == NULL || (u->cluster = strdup(c->name)) == NULL) {
        free(u);
        return NULL;
    }
    u->n = 0;
    for (hm_host *h = c->dirty_head; h != NULL; h = h->dirty_next) {
        hs_item *it = &u->items[u->n++];
        memcpy(&it->addr, &h->addr, h->addrlen);
        it->addrlen = h->addrlen;
        it->flags = h->flags;
        it->reset = h->reset_mask;
        it->epoch = h->epoch;
    }
    return u;
}

static void clear_dirty(hm_cluster *c)
{
    for (hm_host *h = c->dirty_head, *next; h != NULL; h = next) {
        next = h->dirty_next;
        h->dirty = false;
        h->dirty_next = NULL;
        h->reset_mask = 0;
    }
    c->dirty_head = NULL;
    c->dirty = false;
}

static void post_update(xg_health_mgr *m, hs_update *u)
{
    unsigned n = m->ws != NULL ? xg_workers_count(m->ws) : 0;
    atomic_init(&u->refs, (int)n + 1);
    for (unsigned i = 0; i < n; i++)
        if (xg_worker_post(xg_workers_get(m->ws, i), on_update, u) != 0)
            update_unref(u);
    update_unref(u);
}

void xg__hs_flush(xg_health_mgr *m)
{
    hm_cluster *c = m->dirty_head;
    m->dirty_head = NULL;
    for (hm_cluster *next; c != NULL; c = next) {
        next = c->dirty_next;
        c->dirty_next = NULL;
        hs_update *u = build_update(c);
        clear_dirty(c);
        if (u == NULL) {
            xg_log_error("health check: cluster %s: out of memory posting health changes", c->name);
            continue;
        }
        post_update(m, u);
    }
}

/* --- main -> workers -> main: interval counts --- */

typedef struct hs_collect {
    xg_health_mgr *m;
    char *cluster;
    uint64_t gen;
    uint32_t n;
    xg_outlier_counts *counts;
} hs_collect;

static void collect_free(hs_collect *t)
{
    free(t->counts);
    free(t->cluster);
    free(t);
}

/* Main: one worker's answer. */
static void on_counts(void *arg)
{
    hs_collect *t = arg;
    hm_cluster *c = t->m->stopped ? NULL : xg__hm_find_cluster(t->m, t->cluster);
    if (c != NULL)
        xg__od_on_counts(c, t->gen, t->counts, t->n);
    collect_free(t);
}

/* Worker: takes its counts and answers, whether it has the cluster or not
 * (the main thread waits for every worker). */
static void on_collect(void *arg)
{
    hs_collect *t = arg;
    xg_worker_rt *w = xg_worker_rt_self();
    xg_cluster_rt *rt = w != NULL ? xg_clusters_find(w->clusters, t->cluster, strlen(t->cluster)) : NULL;
    if (rt != NULL && rt->n_hosts > 0 && (t->counts = malloc(rt->n_hosts * sizeof *t->counts)) != NULL)
        t->n = xg_outlier_collect(rt, t->counts);
    if (xg_loop_post(t->m->loop, on_counts, t) != 0)
        collect_free(t);
}

void xg__hs_collect(hm_cluster *c)
{
    xg_health_mgr *m = c->m;
    unsigned n = m->ws != NULL ? xg_workers_count(m->ws) : 0;
    for (unsigned i = 0; i < n; i++) {
        hs_collect *t = calloc(1, sizeof *t);
        if (t != NULL && (t->cluster = strdup(c->name)) == NULL) {
            free(t);
            t = NULL;
        }
        if (t != NULL) {
            t->m = m;
            t->gen = c->collect_gen;
        }
        if (t == NULL || xg_worker_post(xg_workers_get(m->ws, i), on_collect, t) != 0) {
            if (t != NULL)
                collect_free(t);
            if (c->replies > 0)
                c->replies--; /* that worker will not answer */
        }
    }
}

/* --- workers -> main: reports --- */

typedef struct hs_report {
    xg_health_mgr *m;
    char *cluster;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool traffic; /* else a run report */
    unsigned worker;
    uint32_t runs[XG_OD_NRUNS];
    uint32_t epoch;
} hs_report;

static void on_report(void *arg)
{
    hs_report *r = arg;
    hm_cluster *c = r->m->stopped ? NULL : xg__hm_find_cluster(r->m, r->cluster);
    hm_host *h = c != NULL && !r->traffic ? xg__hm_find_host(c, (const struct sockaddr *)&r->addr, r->addrlen) : NULL;
    if (c != NULL && r->traffic)
        xg__hc_cluster_traffic(c);
    else if (h != NULL)
        xg__od_on_runs(h, r->worker, r->runs, r->epoch);
    free(r->cluster);
    free(r);
}

static void post_report(xg_health_mgr *m, hs_report *r, const char *cluster)
{
    xg_worker *w = xg_worker_self();
    r->m = m;
    r->worker = w != NULL ? xg_worker_id(w) : 0;
    if ((r->cluster = strdup(cluster)) == NULL || xg_loop_post(m->loop, on_report, r) != 0) {
        free(r->cluster);
        free(r);
    }
}

static void sink_runs(void *arg, const xg_host *h, const uint32_t runs[3], uint32_t epoch)
{
    hs_report *r = calloc(1, sizeof *r);
    if (r == NULL)
        return; /* the next report carries the run */
    memcpy(&r->addr, &h->addr, h->addrlen);
    r->addrlen = h->addrlen;
    memcpy(r->runs, runs, sizeof r->runs);
    r->epoch = epoch;
    post_report(arg, r, h->cluster->name);
}

static void sink_traffic(void *arg, const char *cluster)
{
    hs_report *r = calloc(1, sizeof *r);
    if (r == NULL)
        return;
    r->traffic = true;
    post_report(arg, r, cluster);
}

void xg__hs_sink(xg_health_mgr *m, xg_outlier_sink *s)
{
    *s = (xg_outlier_sink){.n_workers = m->n_workers, .runs = sink_runs, .traffic = sink_traffic, .arg = m};
}
