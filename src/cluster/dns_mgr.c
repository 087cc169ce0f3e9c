/* The DNS clusters' resolver on the main thread (dns_mgr.h): per cluster the
 * distinct names of its endpoints, each with its own lookup, timer and last
 * good addresses; per cluster the failure backoff (shared by its names, as
 * Envoy's). Clusters are kept in name order, as the snapshot lists them, so
 * applying a snapshot is one merge. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cluster/cluster.h"
#include "cluster/dns_client.h"
#include "cluster/dns_mgr.h"
#include "cluster/rng.h"
#include "core/error.h"
#include "core/log.h"

typedef struct dcluster dcluster;

typedef struct target {
    dcluster *c;
    char *name;
    xg_dns_query *q;
    ev_timer timer;
    struct sockaddr_storage *addrs; /* the last good answer (port 0) */
    uint32_t n;
    bool have;    /* answered at least once */
    bool failing; /* the last lookup failed (logged once) */
} target;

struct dcluster {
    xg_dns_mgr *m;
    xg_res *res; /* referenced */
    const xg_cluster *cfg;
    target *t;
    size_t n;
    int64_t backoff_next_ms; /* dns_failure_refresh_rate: the next ceiling (0: base) */
};

struct xg_dns_mgr {
    xg_loop *loop;
    xg_dns_mgr_opts o;
    const char *resolv_conf;
    dcluster **v; /* by name */
    size_t n;
    xg_snap_table *seen; /* the cluster table applied last (referenced) */
    xg_dns_conf sys;
    struct stat sys_st;
    double sys_checked; /* ev_now of the last stat, 0: never */
    xg_rng rng;
    bool stopped;
};

/* --- the system's settings --- */

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* resolv.conf as it is now (read again when it changed; looked at once a
 * second at most). */
static const xg_dns_conf *system_conf(xg_dns_mgr *m)
{
    double now = ev_now(m->loop->ev);
    if (m->sys_checked != 0 && now - m->sys_checked < 1.0)
        return &m->sys;
    struct stat st = {0};
    bool exists = stat(m->resolv_conf, &st) == 0;
    if (m->sys_checked == 0 || !same_file(&st, &m->sys_st)) {
        int rc = xg_dns_conf_load(&m->sys, m->resolv_conf);
        if (rc != 0 && exists)
            xg_log_warn("dns: cannot read %s: %s", m->resolv_conf, xg_strerror(rc));
        m->sys_st = st;
    }
    m->sys_checked = now;
    return &m->sys;
}

/* --- answers to the workers --- */

static void on_worker_answer(void *arg)
{
    xg_clusters_dns_apply(xg_clusters_current(), arg);
}

static void post_to_workers(xg_dns_mgr *m, xg_dns_hosts *h)
{
    for (unsigned i = 0; m->o.workers != NULL && i < xg_workers_count(m->o.workers); i++) {
        xg_dns_hosts_ref(h);
        if (xg_worker_post(xg_workers_get(m->o.workers, i), on_worker_answer, h) != 0)
            xg_dns_hosts_unref(h);
    }
    xg_dns_hosts_unref(h);
}

/* Every name of c with an answer, to the workers. */
static void deliver(dcluster *c)
{
    xg_dns_hosts *h = xg_dns_hosts_new(c->cfg->name, c->n);
    for (size_t i = 0; h != NULL && i < c->n; i++) {
        if (c->t[i].have && xg_dns_hosts_add(h, c->t[i].name, c->t[i].addrs, c->t[i].n) != 0) {
            xg_dns_hosts_unref(h);
            h = NULL;
        }
    }
    if (h == NULL) {
        xg_log_error("cluster %s: out of memory passing DNS answers on", c->cfg->name);
        return;
    }
    if (c->m->o.observe != NULL)
        c->m->o.observe(c->m->o.observe_arg, h);
    if (c->m->o.deliver != NULL)
        c->m->o.deliver(c->m->o.deliver_arg, h);
    else
        post_to_workers(c->m, h);
}

/* --- one name --- */

static void start_lookup(target *t);

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    start_lookup(w->data);
}

static void schedule(target *t, int64_t ms)
{
    xg_loop *l = t->c->m->loop;
    ev_timer_stop(l->ev, &t->timer);
    ev_timer_set(&t->timer, (double)(ms > 0 ? ms : 1) / 1000.0, 0);
    ev_timer_start(l->ev, &t->timer);
}

/* Envoy's jittered exponential backoff: uniform below a ceiling that starts
 * at base_interval and doubles up to max_interval; without
 * dns_failure_refresh_rate, the refresh rate itself. */
static int64_t failure_delay(dcluster *c)
{
    const xg_cluster *cfg = c->cfg;
    if (cfg->dns_failure_refresh_base_ms <= 0)
        return cfg->dns_refresh_rate_ms;
    int64_t max =
        cfg->dns_failure_refresh_max_ms > 0 ? cfg->dns_failure_refresh_max_ms : 10 * cfg->dns_failure_refresh_base_ms;
    int64_t ceiling = c->backoff_next_ms > 0 ? c->backoff_next_ms : cfg->dns_failure_refresh_base_ms;
    c->backoff_next_ms = ceiling < max / 2 ? ceiling * 2 : max;
    int64_t d = (int64_t)xg_rng_below(&c->m->rng, (uint64_t)ceiling);
    return d < max ? d : max;
}

static int addr_cmp(const void *a, const void *b)
{
    const struct sockaddr_storage *x = a, *y = b;
    if (x->ss_family != y->ss_family)
        return x->ss_family == AF_INET ? -1 : 1;
    if (x->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)x)->sin_addr, &((const struct sockaddr_in *)y)->sin_addr, 4);
    return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr, &((const struct sockaddr_in6 *)y)->sin6_addr, 16);
}

/* filter_unroutable_families: which families some interface other than
 * loopback has an address of (bit 0: IPv4, bit 1: IPv6). */
static unsigned routable_families(void)
{
    struct ifaddrs *ifs = NULL, *i;
    unsigned fam = 0;
    if (getifaddrs(&ifs) != 0)
        return 3;
    for (i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK) != 0)
            continue;
        if (i->ifa_addr->sa_family == AF_INET)
            fam |= 1;
        else if (i->ifa_addr->sa_family == AF_INET6 &&
                 !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
            fam |= 2;
    }
    freeifaddrs(ifs);
    return fam;
}

/* The answer as this cluster keeps it: only routable families when asked,
 * STRICT_DNS sorted (hosts in address order). Returns the count. */
static uint32_t shape(const dcluster *c, const xg_dns_result *r, struct sockaddr_storage *out)
{
    unsigned fam = c->cfg->dns_resolver.filter_unroutable_families ? routable_families() : 3;
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n; i++)
        if ((fam & (r->addrs[i].ss_family == AF_INET ? 1u : 2u)) != 0)
            out[n++] = r->addrs[i];
    if (c->cfg->type == XG_CLUSTER_STRICT_DNS && n > 1)
        qsort(out, n, sizeof *out, addr_cmp);
    return n;
}

static bool changed(const dcluster *c, const target *t, const struct sockaddr_storage *v, uint32_t n)
{
    if (!t->have)
        return true;
    if (c->cfg->type == XG_CLUSTER_LOGICAL_DNS)
        return t->n == 0 || addr_cmp(&t->addrs[0], &v[0]) != 0;
    if (n != t->n)
        return true;
    for (uint32_t i = 0; i < n; i++)
        if (addr_cmp(&t->addrs[i], &v[i]) != 0)
            return true;
    return false;
}

static void log_answer(const dcluster *c, const target *t)
{
    char list[512] = "";
    size_t o = 0;
    for (uint32_t i = 0; i < t->n && o + INET6_ADDRSTRLEN + 2 < sizeof list; i++) {
        const struct sockaddr_storage *ss = &t->addrs[i];
        const void *ip = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                                                  : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (i > 0)
            o += (size_t)snprintf(list + o, sizeof list - o, ", ");
        if (inet_ntop(ss->ss_family, ip, list + o, (socklen_t)(sizeof list - o)) != NULL)
            o += strlen(list + o);
    }
    xg_log_info("cluster %s: %s resolved to %u address%s%s%s", c->cfg->name, t->name, t->n, t->n == 1 ? "" : "es",
                t->n ? ": " : "", list);
}

static const char *failure_text(int status)
{
    switch (status) {
    case -ETIMEDOUT:
        return "no DNS server answered in time";
    case XG_EIO:
        return "the DNS servers failed, refused or answered garbage";
    case XG_EINVAL:
        return "not a name that can be looked up";
    default:
        return xg_strerror(status);
    }
}

/* A good answer: keep it, and pass it on when it changed anything. */
static int64_t take_answer(target *t, const xg_dns_result *r)
{
    dcluster *c = t->c;
    struct sockaddr_storage *v = r->n > 0 ? malloc(r->n * sizeof *v) : NULL;
    if (r->n > 0 && v == NULL)
        return failure_delay(c);
    uint32_t n = shape(c, r, v);
    if (n == 0 && c->cfg->type == XG_CLUSTER_LOGICAL_DNS) {
        free(v);
        return failure_delay(c); /* Envoy: an empty answer never takes the logical host away */
    }
    c->backoff_next_ms = 0;
    if (t->failing)
        xg_log_info("cluster %s: %s resolves again", c->cfg->name, t->name);
    t->failing = false;
    bool news = changed(c, t, v, n);
    free(t->addrs);
    t->addrs = v;
    t->n = n;
    t->have = true;
    if (news) {
        log_answer(c, t);
        deliver(c);
    }
    bool ttl = c->cfg->respect_dns_ttl && r->ttl > 0 && n > 0;
    return ttl ? (int64_t)r->ttl * 1000 : c->cfg->dns_refresh_rate_ms;
}

static void on_resolved(void *arg, int status, const xg_dns_result *r)
{
    target *t = arg;
    dcluster *c = t->c;
    t->q = NULL;
    int64_t next;
    if (status == 0) {
        next = take_answer(t, r);
    } else {
        next = failure_delay(c);
        if (!t->failing)
            xg_log_warn("cluster %s: cannot resolve %s: %s; %s", c->cfg->name, t->name, failure_text(status),
                        t->have ? "the last addresses keep serving" : "no host yet");
        else
            xg_log_debug("cluster %s: %s still fails: %s", c->cfg->name, t->name, failure_text(status));
        t->failing = true;
    }
    schedule(t, next);
}

static void start_lookup(target *t)
{
    dcluster *c = t->c;
    xg_dns_conf conf;
    xg_dns_conf_for_cluster(system_conf(c->m), &c->cfg->dns_resolver, &conf);
    int rc = xg_dns_resolve(c->m->loop, t->name, c->cfg->dns_lookup_family, &conf, on_resolved, t, &t->q);
    if (rc != 0) {
        t->q = NULL;
        schedule(t, failure_delay(c));
    }
}

/* --- clusters --- */

static void target_dispose(xg_dns_mgr *m, target *t)
{
    xg_dns_cancel(t->q);
    t->q = NULL;
    ev_timer_stop(m->loop->ev, &t->timer);
    free(t->name);
    free(t->addrs);
}

static void cluster_free(dcluster *c)
{
    for (size_t i = 0; i < c->n; i++)
        target_dispose(c->m, &c->t[i]);
    free(c->t);
    xg_res_unref(c->res);
    free(c);
}

static target *find_target(dcluster *c, const char *name)
{
    for (size_t i = 0; c != NULL && i < c->n; i++)
        if (strcmp(c->t[i].name, name) == 0)
            return &c->t[i];
    return NULL;
}

/* Adds name as a target (once per cluster), with what prev knew of it. */
static int add_target(dcluster *c, const char *name, dcluster *prev)
{
    if (find_target(c, name) != NULL)
        return 0;
    target *t = &c->t[c->n];
    *t = (target){.c = c, .name = strdup(name)};
    if (t->name == NULL)
        return XG_ENOMEM;
    ev_timer_init(&t->timer, on_timer, 0, 0);
    t->timer.data = t;
    const target *old = find_target(prev, name);
    if (old != NULL && old->have) {
        t->addrs = old->n > 0 ? malloc(old->n * sizeof *t->addrs) : NULL;
        if (old->n > 0 && t->addrs == NULL) {
            free(t->name);
            return XG_ENOMEM;
        }
        if (old->n > 0)
            memcpy(t->addrs, old->addrs, old->n * sizeof *t->addrs);
        t->n = old->n;
        t->have = true;
    }
    c->n++;
    return 0;
}

/* A cluster's state for res, its names' last addresses carried over from
 * prev (the cluster's previous config), every lookup started now. */
static dcluster *cluster_new(xg_dns_mgr *m, xg_res *res, dcluster *prev)
{
    const xg_cluster *cfg = res->body;
    const xg_endpoints *eps = cfg->load_assignment;
    dcluster *c = calloc(1, sizeof *c);
    size_t cap = eps != NULL && eps->n_endpoints > 0 ? eps->n_endpoints : 1;
    if (c == NULL || (c->t = calloc(cap, sizeof *c->t)) == NULL) {
        free(c);
        return NULL;
    }
    c->m = m;
    c->cfg = cfg;
    c->res = res;
    xg_res_ref(res);
    int rc = 0;
    for (size_t l = 0; rc == 0 && eps != NULL && l < eps->n_localities; l++)
        for (size_t i = 0; rc == 0 && i < eps->localities[l].n_endpoints; i++)
            if (!eps->localities[l].endpoints[i].is_ip)
                rc = add_target(c, eps->localities[l].endpoints[i].host, prev);
    if (rc != 0) {
        cluster_free(c);
        return NULL;
    }
    for (size_t i = 0; i < c->n; i++)
        start_lookup(&c->t[i]);
    return c;
}

static dcluster *take_old(xg_dns_mgr *m, const char *name, size_t *cursor)
{
    while (*cursor < m->n && (m->v[*cursor] == NULL || strcmp(m->v[*cursor]->cfg->name, name) < 0))
        (*cursor)++;
    if (*cursor < m->n && m->v[*cursor] != NULL && strcmp(m->v[*cursor]->cfg->name, name) == 0)
        return m->v[*cursor];
    return NULL;
}

void xg_dns_mgr_apply(xg_dns_mgr *m, const xg_snapshot *s)
{
    xg_snap_table *tab = s != NULL ? s->tables[XG_RES_CLUSTER] : NULL;
    if (m->stopped || (tab != NULL && tab == m->seen))
        return;
    size_t total = s != NULL ? xg_snapshot_count(s, XG_RES_CLUSTER) : 0, n = 0, cursor = 0;
    dcluster **v = total > 0 ? calloc(total, sizeof *v) : NULL;
    if (total > 0 && v == NULL) {
        xg_log_error("dns: out of memory applying a snapshot; DNS clusters keep their previous names");
        return;
    }
    for (size_t i = 0; i < total; i++) {
        xg_res *res = xg_snapshot_at(s, XG_RES_CLUSTER, i);
        const xg_cluster *cfg = res->body;
        if (!xg_cluster_is_dns(cfg))
            continue;
        dcluster *old = take_old(m, cfg->name, &cursor);
        if (old != NULL && old->res == res) {
            v[n++] = old;
            m->v[cursor] = NULL;
            continue;
        }
        dcluster *c = cluster_new(m, res, old);
        if (c != NULL)
            v[n++] = c;
        else
            xg_log_error("cluster %s: out of memory starting its DNS lookups", cfg->name);
    }
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i] != NULL)
            cluster_free(m->v[i]);
    free(m->v);
    m->v = v;
    m->n = n;
    if (tab != NULL)
        xg_snap_table_ref(tab);
    xg_snap_table_unref(m->seen);
    m->seen = tab;
}

/* --- life cycle --- */

typedef struct update_task {
    xg_dns_mgr *m;
    xg_snapshot *s;
} update_task;

static void on_update(void *arg)
{
    update_task *t = arg;
    xg_dns_mgr_apply(t->m, t->s);
    xg_snapshot_unref(t->s);
    free(t);
}

int xg_dns_mgr_update(xg_dns_mgr *m, xg_snapshot *s)
{
    update_task *t = malloc(sizeof *t);
    if (t == NULL)
        return XG_ENOMEM;
    *t = (update_task){.m = m, .s = s};
    if (s != NULL)
        xg_snapshot_ref(s);
    int rc = xg_loop_post(m->loop, on_update, t);
    if (rc != 0) {
        if (s != NULL)
            xg_snapshot_unref(s);
        free(t);
    }
    return rc;
}

int xg_dns_mgr_new(xg_loop *loop, const xg_dns_mgr_opts *o, xg_dns_mgr **out)
{
    xg_dns_mgr *m = calloc(1, sizeof *m);
    if (m == NULL)
        return XG_ENOMEM;
    m->loop = loop;
    if (o != NULL)
        m->o = *o;
    m->resolv_conf = m->o.resolv_conf != NULL ? m->o.resolv_conf : XG_DNS_RESOLV_CONF;
    uint64_t seed = m->o.seed;
    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uintptr_t)m;
    }
    xg_rng_seed(&m->rng, seed);
    *out = m;
    return 0;
}

void xg_dns_mgr_stop(xg_dns_mgr *m)
{
    if (m == NULL || m->stopped)
        return;
    xg_dns_mgr_apply(m, NULL);
    m->stopped = true;
}

void xg_dns_mgr_free(xg_dns_mgr *m)
{
    if (m == NULL)
        return;
    xg_dns_mgr_stop(m);
    free(m->v);
    xg_snap_table_unref(m->seen);
    free(m);
}
