/* The main thread's health manager: following published snapshots (clusters
 * by name, hosts by address, state kept for what remains), starting and
 * stopping checkers and detectors as the config asks, the flags it decides,
 * and the /clusters view. Checks are in health_session.c, outlier detection
 * in outlier_mgr.c, the traffic to and from workers in health_sync.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "cluster/dns_hosts.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "net/listen.h"
#include "net/tls_ctx.h"
#include "upstream/health_int.h"

int64_t xg__hm_now_ms(const xg_health_mgr *m)
{
    return (int64_t)(ev_now(m->loop->ev) * 1000.0);
}

/* --- tables (addresses keyed as the workers' host tables key them) --- */

static uint32_t tab_size(size_t n)
{
    uint32_t s = 8;
    while (s < 2 * n)
        s *= 2;
    return s;
}

static hm_host *host_tab_find(hm_host *const *tab, uint32_t mask, const struct sockaddr *sa, socklen_t len,
                              uint64_t hash)
{
    for (uint32_t i = (uint32_t)hash & mask; tab != NULL; i = (i + 1) & mask) {
        hm_host *h = tab[i];
        if (h == NULL || (h->hash == hash && xg_host_addr_eq((const struct sockaddr *)&h->addr, h->addrlen, sa, len)))
            return h;
    }
    return NULL;
}

static void host_tab_put(hm_host **tab, uint32_t mask, hm_host *h)
{
    uint32_t i = (uint32_t)h->hash & mask;
    while (tab[i] != NULL)
        i = (i + 1) & mask;
    tab[i] = h;
}

hm_host *xg__hm_find_host(const hm_cluster *c, const struct sockaddr *sa, socklen_t len)
{
    return host_tab_find(c->tab, c->tab_mask, sa, len, xg_host_addr_hash(sa, len));
}

hm_cluster *xg__hm_find_cluster(const xg_health_mgr *m, const char *name)
{
    uint64_t hash = XXH3_64bits(name, strlen(name));
    for (size_t i = hash & m->tab_mask; m->tab != NULL; i = (i + 1) & m->tab_mask) {
        hm_cluster *c = m->tab[i];
        if (c == NULL || (c->name_hash == hash && strcmp(c->name, name) == 0))
            return c;
    }
    return NULL;
}

static void name_tab_put(hm_cluster **tab, size_t mask, hm_cluster *c)
{
    size_t i = c->name_hash & mask;
    while (tab[i] != NULL)
        i = (i + 1) & mask;
    tab[i] = c;
}

/* --- flags and updates --- */

void xg__hm_mark_dirty(hm_host *h)
{
    hm_cluster *c = h->c;
    xg_health_mgr *m = c->m;
    if (!h->dirty) {
        h->dirty = true;
        h->dirty_next = c->dirty_head;
        c->dirty_head = h;
    }
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = m->dirty_head;
        m->dirty_head = c;
    }
    ev_feed_event(m->loop->ev, &m->flush, EV_CUSTOM);
}

void xg__hm_set_flags(hm_host *h, uint32_t flags)
{
    if (flags == h->flags)
        return;
    h->flags = flags;
    xg__hm_mark_dirty(h);
}

/* A host leaving the dirty list without an update (it is being freed). */
static void undirty(hm_cluster *c, hm_host *h)
{
    for (hm_host **p = &c->dirty_head; *p != NULL; p = &(*p)->dirty_next) {
        if (*p == h) {
            *p = h->dirty_next;
            break;
        }
    }
    h->dirty = false;
}

/* --- hosts --- */

static hm_host *host_new(hm_cluster *c, const xg_lb_endpoint *e)
{
    hm_host *h = calloc(1, sizeof *h);
    if (h == NULL || (h->runs = calloc(c->m->n_workers, sizeof *h->runs)) == NULL) {
        free(h);
        return NULL;
    }
    memcpy(&h->addr, &e->addr, e->addrlen);
    h->addrlen = e->addrlen;
    h->hash = xg_host_addr_hash((const struct sockaddr *)&e->addr, e->addrlen);
    xg_sockaddr_str((const struct sockaddr *)&h->addr, h->addr_str, sizeof h->addr_str);
    h->c = c;
    h->fresh = true;
    xg_od_host_init(&h->od);
    ev_init(&h->hc_timer, NULL);
    return h;
}

static void host_free(hm_host *h)
{
    xg__hc_session_stop(h);
    if (h->od.ejected)
        h->c->n_ejected--;
    if (h->dirty)
        undirty(h->c, h);
    free(h->runs);
    free(h);
}

/* --- reconciling one cluster --- */

typedef struct staged {
    hm_host *moved; /* LOGICAL_DNS: the one host that follows its new address, or NULL */
    struct sockaddr_storage moved_from;
    socklen_t moved_from_len;
    hm_host **hosts;
    const xg_lb_endpoint **ep; /* each host's endpoint and locality in the new config */
    const xg_locality_endpoints **loc;
    uint32_t n;
    hm_host **tab;
    uint32_t mask;
} staged;

static const xg_endpoints *endpoints_of(const xg_cluster *cfg, const xg_snapshot *snap, xg_res **eps_res)
{
    *eps_res = NULL;
    if (cfg->type == XG_CLUSTER_EDS) {
        *eps_res = xg_snapshot_find(snap, XG_RES_ENDPOINTS, cfg->eds_service_name ? cfg->eds_service_name : cfg->name);
        return *eps_res != NULL ? (*eps_res)->body : NULL;
    }
    return cfg->type == XG_CLUSTER_STATIC ? cfg->load_assignment : NULL; /* DNS: update_cluster */
}

/* LOGICAL_DNS: the cluster's one host follows the answer to a new address
 * (Envoy's logical host keeps its health); the old address is kept in st
 * in case staging fails. */
static hm_host *logical_host(hm_cluster *c, const xg_endpoints *eps, const xg_lb_endpoint *e, staged *st)
{
    if (c->cfg->type != XG_CLUSTER_LOGICAL_DNS || c->n_hosts != 1 || eps->n_endpoints != 1 || st->moved != NULL)
        return NULL;
    hm_host *h = c->hosts[0];
    memcpy(&st->moved_from, &h->addr, h->addrlen);
    st->moved_from_len = h->addrlen;
    st->moved = h;
    memcpy(&h->addr, &e->addr, e->addrlen);
    h->addrlen = e->addrlen;
    h->hash = xg_host_addr_hash((const struct sockaddr *)&h->addr, h->addrlen);
    xg_sockaddr_str((const struct sockaddr *)&h->addr, h->addr_str, sizeof h->addr_str);
    h->hc_moved = true;
    return h;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/* Whether the checks of an endpoint go to the same place (port, Host). */
static bool same_hc_target(const xg_lb_endpoint *a, const xg_lb_endpoint *b)
{
    return a->hc_port == b->hc_port && same_str(a->hc_hostname, b->hc_hostname);
}

/* Places every IP endpoint (the first of duplicates) into st: existing hosts
 * are reused (marked seen), new ones made. */
static int stage(hm_cluster *c, const xg_endpoints *eps, staged *st)
{
    size_t total = eps != NULL ? eps->n_endpoints : 0;
    st->mask = tab_size(total) - 1;
    st->tab = calloc((size_t)st->mask + 1, sizeof *st->tab);
    st->hosts = total > 0 ? calloc(total, sizeof *st->hosts) : NULL;
    st->ep = total > 0 ? calloc(total, sizeof *st->ep) : NULL;
    st->loc = total > 0 ? calloc(total, sizeof *st->loc) : NULL;
    if (st->tab == NULL || (total > 0 && (st->hosts == NULL || st->ep == NULL || st->loc == NULL)))
        return XG_ENOMEM;
    for (size_t l = 0; eps != NULL && l < eps->n_localities; l++) {
        const xg_locality_endpoints *loc = &eps->localities[l];
        for (size_t i = 0; i < loc->n_endpoints; i++) {
            const xg_lb_endpoint *e = &loc->endpoints[i];
            const struct sockaddr *sa = (const struct sockaddr *)&e->addr;
            uint64_t hash = e->is_ip ? xg_host_addr_hash(sa, e->addrlen) : 0;
            if (!e->is_ip || host_tab_find(st->tab, st->mask, sa, e->addrlen, hash) != NULL)
                continue;
            hm_host *h = host_tab_find(c->tab, c->tab_mask, sa, e->addrlen, hash);
            bool moved = h == NULL && (h = logical_host(c, eps, e, st)) != NULL;
            if (h == NULL && (h = host_new(c, e)) == NULL)
                return XG_ENOMEM;
            h->seen = true;
            h->hc_moved = moved || (h->ep != NULL && !same_hc_target(h->ep, e));
            host_tab_put(st->tab, st->mask, h);
            st->ep[st->n] = e;
            st->loc[st->n] = loc;
            st->hosts[st->n++] = h;
        }
    }
    return 0;
}

/* Undoes stage(): new hosts go, kept ones are unmarked. */
static void unstage(hm_cluster *c, staged *st)
{
    if (st->moved != NULL) {
        hm_host *h = st->moved;
        memcpy(&h->addr, &st->moved_from, st->moved_from_len);
        h->addrlen = st->moved_from_len;
        h->hash = xg_host_addr_hash((const struct sockaddr *)&h->addr, h->addrlen);
        xg_sockaddr_str((const struct sockaddr *)&h->addr, h->addr_str, sizeof h->addr_str);
    }
    for (uint32_t i = 0; i < st->n; i++) {
        hm_host *h = st->hosts[i];
        h->seen = h->hc_moved = false;
        if (xg__hm_find_host(c, (const struct sockaddr *)&h->addr, h->addrlen) != h)
            host_free(h);
    }
    free(st->hosts);
    free(st->ep);
    free(st->loc);
    free(st->tab);
}

/* The TLS context health checks use: the cluster's transport socket, built
 * here on the main thread (files and SDS secrets of the snapshot). */
static xg_res *find_secret(void *arg, const char *name)
{
    return xg_snapshot_find(arg, XG_RES_SECRET, name);
}

static void update_tls(hm_cluster *c, const xg_snapshot *snap, bool cfg_changed)
{
    bool want = c->cfg->tls != NULL && c->cfg->n_health_checks > 0;
    if (!cfg_changed && c->tls_from == snap->tables[XG_RES_SECRET] && (c->tls != NULL) == want)
        return;
    xg_tls_client_unref(c->tls);
    c->tls = NULL;
    c->tls_from = snap->tables[XG_RES_SECRET];
    if (!want)
        return;
    char err[256] = "";
    xg_tls_build b = {.tc = c->cfg->tls, .owner = c->res, .find = find_secret, .find_arg = (void *)snap};
    if (xg_tls_client_new(&b, &c->tls, err, sizeof err) != 0) {
        c->tls = NULL;
        xg_log_warn("health check: cluster %s: upstream TLS context: %s (checks fail to connect)", c->name,
                    err[0] ? err : "error");
    }
}

/* What health checking wants for a kept or new host after a config change. */
static void apply_hc(hm_host *h, bool fresh, bool restart)
{
    const xg_cluster *cfg = h->c->cfg;
    bool want = cfg->n_health_checks > 0 && !h->ep->hc_disabled;
    uint32_t flags = h->flags;
    if (!want) {
        xg__hc_session_stop(h);
        h->hc_on = false;
        xg__hm_set_flags(h, flags & ~(uint32_t)(XG_HOST_F_HC_FAILED | XG_HOST_F_PENDING_FIRST_HC));
        return;
    }
    if (!h->hc_on) {
        /* New hosts start failed, as Envoy's; hosts already serving when
         * checks are turned on keep serving until a check says otherwise. */
        xg_hc_state_init(&h->hc, fresh, fresh && cfg->lb.ignore_new_hosts_until_first_hc);
        h->hc_on = true;
        restart = true;
    }
    flags &= ~(uint32_t)(XG_HOST_F_HC_FAILED | XG_HOST_F_PENDING_FIRST_HC);
    flags |= (h->hc.failed ? XG_HOST_F_HC_FAILED : 0) | (h->hc.pending ? XG_HOST_F_PENDING_FIRST_HC : 0);
    xg__hm_set_flags(h, flags);
    if (restart && xg__hc_session_start(h, xg_hc_initial_delay_ms(&cfg->health_checks[0], &h->c->m->rng)) != 0)
        xg_log_error("health check: cluster %s host %s: out of memory", h->c->name, h->addr_str);
}

static void apply_od(hm_host *h)
{
    if (h->c->cfg->outlier == NULL && h->od.ejected)
        xg__od_uneject(h, xg__hm_now_ms(h->c->m), "outlier detection turned off");
    if (h->c->cfg->outlier == NULL) {
        xg_od_host_init(&h->od);
        h->rq_total = h->rq_success = h->rq_error = 0;
    }
}

/* Installs st: removed hosts go, every host gets the new config's health
 * checking and outlier detection (restart: the checker config changed, so
 * every probe is remade). */
static void install(hm_cluster *c, staged *st, bool restart)
{
    for (uint32_t i = 0; c->tab != NULL && i <= c->tab_mask; i++)
        if (c->tab[i] != NULL && !c->tab[i]->seen)
            host_free(c->tab[i]);
    free(c->hosts);
    free(c->tab);
    c->hosts = st->hosts;
    c->n_hosts = st->n;
    c->tab = st->tab;
    c->tab_mask = st->mask;
    bool sync = c->cfg->n_health_checks > 0 || c->cfg->outlier != NULL;
    for (uint32_t i = 0; i < c->n_hosts; i++) {
        hm_host *h = c->hosts[i];
        h->seen = false;
        h->ep = st->ep[i];
        h->loc = st->loc[i];
        apply_hc(h, h->fresh, restart || h->hc_moved);
        apply_od(h);
        h->fresh = h->hc_moved = false;
        if (sync) /* the workers get the current state of every host after each change */
            xg__hm_mark_dirty(h);
    }
    free(st->ep);
    free(st->loc);
}

static void swap_ref(xg_res **slot, xg_res *r)
{
    if (r != NULL)
        xg_res_ref(r);
    xg_res_unref(*slot);
    *slot = r;
}

static xg_dns_hosts *dns_answer(const xg_health_mgr *m, const char *cluster)
{
    for (size_t i = 0; i < m->n_dns; i++)
        if (strcmp(m->dns[i]->cluster, cluster) == 0)
            return m->dns[i];
    return NULL;
}

/* The endpoints of c under cfg: the assignment (EDS, STATIC) or the DNS
 * answer's hosts (*dns_eps, malloc'd). *unchanged: the same as last time. */
static int endpoints_for(hm_cluster *c, const xg_cluster *cfg, const xg_snapshot *snap, bool cfg_changed,
                         const xg_endpoints **eps, xg_res **eps_res, xg_endpoints **dns_eps, bool *unchanged)
{
    *dns_eps = NULL;
    if (!xg_cluster_is_dns(cfg)) {
        *eps = endpoints_of(cfg, snap, eps_res);
        *unchanged = !cfg_changed && *eps_res == c->eps_res;
        return 0;
    }
    *eps_res = NULL;
    xg_dns_hosts *dns = dns_answer(c->m, c->name);
    *unchanged = !cfg_changed && dns == c->dns_used && c->dns_eps != NULL;
    *eps = c->dns_eps; /* kept when unchanged */
    if (*unchanged)
        return 0;
    int rc = xg_dns_endpoints(cfg, dns, dns_eps);
    *eps = *dns_eps;
    return rc;
}

static void keep_dns(hm_cluster *c, xg_endpoints *dns_eps)
{
    xg_dns_hosts *dns = dns_eps != NULL ? dns_answer(c->m, c->name) : NULL;
    if (dns != NULL)
        xg_dns_hosts_ref(dns);
    xg_dns_hosts_unref(c->dns_used);
    c->dns_used = dns;
    free(c->dns_eps);
    c->dns_eps = dns_eps;
}

/* Brings c in line with the Cluster resource res of snap (and, for DNS
 * clusters, the latest answer). */
static int update_cluster(hm_cluster *c, xg_res *res, const xg_snapshot *snap)
{
    const xg_cluster *cfg = res->body;
    xg_res *eps_res;
    const xg_endpoints *eps;
    xg_endpoints *dns_eps;
    bool cfg_changed = c->res != res, unchanged;
    int rc = endpoints_for(c, cfg, snap, cfg_changed, &eps, &eps_res, &dns_eps, &unchanged);
    if (rc != 0 || (unchanged && c->tls_from == snap->tables[XG_RES_SECRET]))
        return rc;
    const xg_cluster *old = c->cfg;
    c->cfg = cfg; /* staging reads the new config */
    staged st = {0};
    if ((rc = stage(c, eps, &st)) != 0) {
        c->cfg = old;
        unstage(c, &st);
        free(dns_eps);
        return rc;
    }
    swap_ref(&c->res, res);
    swap_ref(&c->eps_res, eps_res);
    c->eps = eps;
    struct xg_tls_client *tls = c->tls;
    update_tls(c, snap, cfg_changed);
    install(c, &st, cfg_changed || tls != c->tls);
    if (dns_eps != NULL || !xg_cluster_is_dns(cfg))
        keep_dns(c, dns_eps); /* after install: the hosts now point into the new endpoints */
    if (cfg->outlier != NULL && (cfg_changed || !ev_is_active(&c->od_timer)))
        xg__od_cluster_start(c);
    else if (cfg->outlier == NULL)
        xg__od_cluster_stop(c);
    return 0;
}

static hm_cluster *cluster_new(xg_health_mgr *m, const char *name)
{
    hm_cluster *c = calloc(1, sizeof *c);
    if (c == NULL || (c->name = strdup(name)) == NULL) {
        free(c);
        return NULL;
    }
    c->m = m;
    c->name_hash = XXH3_64bits(name, strlen(name));
    c->sr_mean = c->sr_threshold = c->lsr_mean = c->lsr_threshold = -1;
    ev_init(&c->od_timer, NULL);
    return c;
}

static void cluster_free(hm_cluster *c)
{
    xg__od_cluster_stop(c);
    for (uint32_t i = 0; i < c->n_hosts; i++)
        host_free(c->hosts[i]);
    if (c->dirty) {
        for (hm_cluster **p = &c->m->dirty_head; *p != NULL; p = &(*p)->dirty_next) {
            if (*p == c) {
                *p = c->dirty_next;
                break;
            }
        }
    }
    free(c->hosts);
    free(c->tab);
    xg_tls_client_unref(c->tls);
    xg_dns_hosts_unref(c->dns_used);
    free(c->dns_eps);
    xg_res_unref(c->eps_res);
    xg_res_unref(c->res);
    free(c->name);
    free(c);
}

/* --- DNS answers --- */

/* Answers of clusters that are gone or no longer DNS clusters go. */
static void drop_stale_answers(xg_health_mgr *m)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n_dns; i++) {
        hm_cluster *c = xg__hm_find_cluster(m, m->dns[i]->cluster);
        if (c != NULL && c->cfg != NULL && xg_cluster_is_dns(c->cfg))
            m->dns[k++] = m->dns[i];
        else
            xg_dns_hosts_unref(m->dns[i]);
    }
    m->n_dns = k;
}

/* Keeps h as its cluster's latest answer. */
static int keep_answer(xg_health_mgr *m, xg_dns_hosts *h)
{
    for (size_t i = 0; i < m->n_dns; i++) {
        if (strcmp(m->dns[i]->cluster, h->cluster) == 0) {
            xg_dns_hosts_ref(h);
            xg_dns_hosts_unref(m->dns[i]);
            m->dns[i] = h;
            return 0;
        }
    }
    if (m->n_dns == m->cap_dns) {
        size_t cap = m->cap_dns ? 2 * m->cap_dns : 8;
        xg_dns_hosts **v = realloc(m->dns, cap * sizeof *v);
        if (v == NULL)
            return XG_ENOMEM;
        m->dns = v;
        m->cap_dns = cap;
    }
    xg_dns_hosts_ref(h);
    m->dns[m->n_dns++] = h;
    return 0;
}

void xg_health_mgr_dns(void *arg, const xg_dns_hosts *h)
{
    xg_health_mgr *m = arg;
    if (m == NULL || m->stopped)
        return;
    /* The answer is immutable; the reference count is its only mutable part. */
    if (keep_answer(m, (xg_dns_hosts *)h) != 0) {
        xg_log_error("health check: cluster %s: out of memory keeping its DNS answer", h->cluster);
        return;
    }
    hm_cluster *c = xg__hm_find_cluster(m, h->cluster);
    if (c != NULL && c->res != NULL && m->snap != NULL && update_cluster(c, c->res, m->snap) != 0)
        xg_log_error("health check: cluster %s: out of memory (its previous hosts stay)", c->name);
}

/* --- snapshots --- */

static void apply_snapshot(xg_health_mgr *m, xg_snapshot *snap)
{
    size_t n = xg_snapshot_count(snap, XG_RES_CLUSTER), mask = tab_size(n) - 1;
    hm_cluster **tab = calloc(mask + 1, sizeof *tab);
    if (tab == NULL) {
        xg_log_error("health check: out of memory applying snapshot %llu", (unsigned long long)snap->generation);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        xg_res *res = xg_snapshot_at(snap, XG_RES_CLUSTER, i);
        hm_cluster *c = xg__hm_find_cluster(m, res->name);
        bool fresh = c == NULL;
        if (fresh && (c = cluster_new(m, res->name)) == NULL)
            continue;
        if (update_cluster(c, res, snap) != 0)
            xg_log_error("health check: cluster %s: out of memory (its previous hosts stay)", res->name);
        if (fresh && c->res == NULL) {
            cluster_free(c);
            continue;
        }
        c->seen = true;
        name_tab_put(tab, mask, c);
    }
    for (size_t i = 0; m->tab != NULL && i <= m->tab_mask; i++)
        if (m->tab[i] != NULL && !m->tab[i]->seen)
            cluster_free(m->tab[i]);
    for (size_t i = 0; i <= mask; i++)
        if (tab[i] != NULL)
            tab[i]->seen = false;
    free(m->tab);
    m->tab = tab;
    m->tab_mask = mask;
    m->n = n;
    drop_stale_answers(m);
}

typedef struct publish_task {
    xg_health_mgr *m;
    xg_snapshot *snap;
} publish_task;

static void on_publish(void *arg)
{
    publish_task *t = arg;
    xg_health_mgr *m = t->m;
    if (!m->stopped) {
        apply_snapshot(m, t->snap);
        xg_snapshot_unref(m->snap);
        m->snap = t->snap; /* the task's reference */
    } else {
        xg_snapshot_unref(t->snap);
    }
    free(t);
}

void xg_health_mgr_publish(xg_health_mgr *m, xg_snapshot *s)
{
    if (m == NULL || s == NULL)
        return;
    publish_task *t = malloc(sizeof *t);
    if (t == NULL) {
        xg_log_error("health check: out of memory: snapshot %llu not applied", (unsigned long long)s->generation);
        return;
    }
    xg_snapshot_ref(s);
    *t = (publish_task){m, s};
    if (xg_loop_post(m->loop, on_publish, t) != 0) {
        xg_snapshot_unref(s);
        free(t);
    }
}

/* --- life --- */

static void on_flush(struct ev_loop *ev, ev_check *w, int revents)
{
    xg__hs_flush(w->data);
}

int xg_health_mgr_new(xg_loop *main, xg_workers *ws, xg_health_mgr **out)
{
    xg_health_mgr *m = calloc(1, sizeof *m);
    if (m == NULL)
        return XG_ENOMEM;
    m->loop = main;
    m->ws = ws;
    m->n_workers = ws != NULL && xg_workers_count(ws) > 0 ? xg_workers_count(ws) : 1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    xg_rng_seed(&m->rng, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)m);
    ev_check_init(&m->flush, on_flush);
    m->flush.data = m;
    xg_outlier_sink s;
    xg__hs_sink(m, &s);
    xg_outlier_set_sink(&s);
    *out = m;
    return 0;
}

void xg_health_mgr_stop(xg_health_mgr *m)
{
    if (m == NULL || m->stopped)
        return;
    m->stopped = true;
    for (size_t i = 0; m->tab != NULL && i <= m->tab_mask; i++)
        if (m->tab[i] != NULL)
            cluster_free(m->tab[i]);
    free(m->tab);
    m->tab = NULL;
    m->n = 0;
    m->dirty_head = NULL;
    ev_clear_pending(m->loop->ev, &m->flush);
}

void xg_health_mgr_free(xg_health_mgr *m)
{
    if (m == NULL)
        return;
    xg_outlier_set_sink(NULL);
    xg_health_mgr_stop(m);
    for (size_t i = 0; i < m->n_dns; i++)
        xg_dns_hosts_unref(m->dns[i]);
    free(m->dns);
    xg_snapshot_unref(m->snap);
    free(m);
}

/* --- the /clusters view --- */

static void view_host(const hm_host *h, xg_health_view_host *v)
{
    const xg_lb_endpoint *e = h->ep;
    *v = (xg_health_view_host){
        .addr = h->addr_str,
        .hostname = e->hostname != NULL ? e->hostname : "",
        .region = h->loc->region,
        .zone = h->loc->zone,
        .sub_zone = h->loc->sub_zone,
        .weight = e->weight,
        .priority = h->loc->priority,
        .eds_health = e->health,
        .flags = h->flags,
        .hc_timeout = h->hc.timed_out,
        .hc_checked = h->hc_on,
        .hc_successes = h->hc.successes,
        .hc_failures = h->hc.failures,
        .od = h->c->cfg->outlier != NULL,
        .num_ejections = h->od.num_ejections,
        .success_rate = h->od.success_rate,
        .local_origin_success_rate = h->od.local_success_rate,
        .rq_total = h->rq_total,
        .rq_success = h->rq_success,
        .rq_error = h->rq_error,
    };
}

int xg_health_mgr_view(xg_health_mgr *m, void (*cb)(void *arg, const xg_health_view_cluster *c), void *arg)
{
    size_t n = m->snap != NULL && !m->stopped ? xg_snapshot_count(m->snap, XG_RES_CLUSTER) : 0;
    for (size_t i = 0; i < n; i++) {
        hm_cluster *c = xg__hm_find_cluster(m, xg_snapshot_at(m->snap, XG_RES_CLUSTER, i)->name);
        if (c == NULL || c->cfg == NULL)
            continue;
        xg_health_view_host *hosts = c->n_hosts > 0 ? calloc(c->n_hosts, sizeof *hosts) : NULL;
        if (c->n_hosts > 0 && hosts == NULL)
            return XG_ENOMEM;
        for (uint32_t j = 0; j < c->n_hosts; j++)
            view_host(c->hosts[j], &hosts[j]);
        xg_health_view_cluster v = {.name = c->name,
                                    .cfg = c->cfg,
                                    .success_rate_average = c->sr_mean,
                                    .success_rate_ejection_threshold = c->sr_threshold,
                                    .local_origin_success_rate_average = c->lsr_mean,
                                    .local_origin_success_rate_ejection_threshold = c->lsr_threshold,
                                    .hosts = hosts,
                                    .n_hosts = c->n_hosts};
        cb(arg, &v);
        free(hosts);
    }
    return 0;
}
