/* Applying a new snapshot to a worker's cluster runtime: clusters are
 * matched by name and hosts by address, so whatever remains keeps its state
 * (pools, health flags, balancer position); what is gone is marked removed
 * and drains through the upstream hooks. Runs on the worker, at the swap, off
 * the request path; allocation is fine here. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cluster/cluster_int.h"
#include "cluster/dns_hosts.h"
#include "cluster/priority.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "net/listen.h"
#include "net/tls_ctx.h"

#define N_SECRETS (sizeof((xg_cluster_rt *)0)->tls_secrets / sizeof(xg_res *))

/* --- hosts --- */

/* True when the main thread actively checks e's hosts: the cluster has a
 * health check and e does not opt out (upstream/health_mgr.h). */
static bool hc_checked(const xg_cluster *cfg, const xg_lb_endpoint *e)
{
    return cfg->n_health_checks > 0 && !e->hc_disabled;
}

/* The health bits (XG_HOST_F_HEALTH_MASK) cfg allows on endpoint e: those
 * of active health checking when e is checked, outlier ejection when the
 * cluster has a detector. The main thread sets them
 * (upstream/health_mgr.h); a config that turns a feature off clears its
 * bits here at once. */
static uint32_t health_allowed(const xg_cluster *cfg, const xg_lb_endpoint *e)
{
    uint32_t a = 0;
    if (hc_checked(cfg, e))
        a |= XG_HOST_F_HC_FAILED | XG_HOST_F_PENDING_FIRST_HC;
    if (cfg->outlier != NULL)
        a |= XG_HOST_F_OUTLIER_EJECTED;
    return ~(uint32_t)XG_HOST_F_HEALTH_MASK | a;
}

/* A new host of a cluster with active health checks starts out of
 * rotation until its first check passes (Envoy's FAILED_ACTIVE_HC, and
 * PENDING_ACTIVE_HC with ignore_new_hosts_until_first_hc). */
static uint32_t health_initial(const xg_cluster *cfg, const xg_lb_endpoint *e)
{
    if (!hc_checked(cfg, e))
        return 0;
    return XG_HOST_F_HC_FAILED | (cfg->lb.ignore_new_hosts_until_first_hc ? XG_HOST_F_PENDING_FIRST_HC : 0);
}

static xg_host *host_new(xg_cluster_rt *rt, const xg_lb_endpoint *e, uint64_t hash)
{
    xg_host *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    memcpy(&h->addr, &e->addr, e->addrlen);
    h->addrlen = e->addrlen;
    h->hash = hash;
    xg_sockaddr_str((const struct sockaddr *)&h->addr, h->addr_str, sizeof h->addr_str);
    h->refs = 1; /* the cluster's table */
    h->cluster = rt;
    h->flags = health_initial(rt->cfg, e);
    xg_cluster_rt_ref(rt);
    return h;
}

static void set_hostname(xg_host *h, const char *name)
{
    if (name == NULL || (h->hostname != NULL && strcmp(h->hostname, name) == 0)) {
        if (name == NULL) {
            free(h->hostname);
            h->hostname = NULL;
        }
        return;
    }
    free(h->hostname);
    h->hostname = strdup(name); /* NULL on ENOMEM: the host just has no hostname */
}

static void host_remove(xg_clusters *cs, xg_host *h)
{
    h->removed = true;
    if (cs->opts.hooks.host_removed != NULL)
        cs->opts.hooks.host_removed(cs->opts.hooks_arg, h);
    xg_host_unref(h);
}

/* The staged outcome of a host rebuild, applied only once every allocation
 * succeeded. */
typedef struct staged {
    xg_host_set *sets;
    uint32_t n_sets;
    xg_host **tab;
    uint32_t mask;
    uint32_t n;
    xg_host **created; /* new hosts, freed on failure */
    uint32_t n_created;
    uint32_t *loc_index; /* per eps locality: its index in its host set (priority.h) */
} staged;

static void staged_dispose(staged *s, bool failed)
{
    if (failed)
        for (uint32_t i = 0; i < s->n_created; i++) {
            s->created[i]->cluster->refs--; /* never reached 0: the table holds one */
            free(s->created[i]);
        }
    free(s->created);
    free(s->loc_index);
    if (failed) {
        for (uint32_t i = 0; i < s->n_sets; i++)
            xg__set_dispose(&s->sets[i]);
        free(s->sets);
        free(s->tab);
    }
}

static int alloc_sets(staged *st, const xg_endpoints *eps)
{
    st->n_sets = eps != NULL ? eps->n_priorities : 0;
    if (st->n_sets > 0 && (st->sets = calloc(st->n_sets, sizeof *st->sets)) == NULL)
        return XG_ENOMEM;
    size_t total = 0;
    for (size_t l = 0; eps != NULL && l < eps->n_localities; l++) {
        const xg_locality_endpoints *loc = &eps->localities[l];
        XG_ASSERT(loc->priority < st->n_sets);
        st->sets[loc->priority].n += (uint32_t)loc->n_endpoints; /* capacity for now */
        total += loc->n_endpoints;
    }
    for (uint32_t p = 0; p < st->n_sets; p++) {
        xg_host_set *s = &st->sets[p];
        s->priority = p;
        if (s->n > 0 && (s->hosts = malloc(3 * (size_t)s->n * sizeof *s->hosts)) == NULL)
            return XG_ENOMEM;
        s->healthy = s->hosts + s->n;
        s->degraded = s->hosts + 2 * (size_t)s->n;
        s->n = 0;
    }
    st->mask = xg__tab_size(total) - 1;
    st->tab = calloc((size_t)st->mask + 1, sizeof *st->tab);
    st->created = total > 0 ? malloc(total * sizeof *st->created) : NULL;
    if (st->tab == NULL || (total > 0 && st->created == NULL))
        return XG_ENOMEM;
    return xg_prio_localities(st->sets, st->n_sets, eps, &st->loc_index);
}

/* LOGICAL_DNS: the cluster's one logical host follows the DNS answer to e's
 * new address in place, so its pools and the connections in them stay
 * (Envoy's logical host); only new connections go to the new address. NULL
 * when rt is not such a cluster or has no host yet. */
static xg_host *logical_host(xg_cluster_rt *rt, const xg_lb_endpoint *e, uint64_t hash)
{
    if (rt->cfg->type != XG_CLUSTER_LOGICAL_DNS || rt->n_hosts != 1)
        return NULL;
    xg_host *h = NULL;
    for (uint32_t i = 0; h == NULL && i <= rt->tab_mask; i++)
        h = rt->tab[i];
    memcpy(&h->addr, &e->addr, e->addrlen);
    h->addrlen = e->addrlen;
    h->hash = hash;
    xg_sockaddr_str((const struct sockaddr *)&h->addr, h->addr_str, sizeof h->addr_str);
    return h;
}

/* Places one endpoint: its existing host or a new one. Duplicated addresses
 * keep the first occurrence (Envoy would count them twice; a proxy that
 * keys state by address cannot). */
static int stage_endpoint(xg_cluster_rt *rt, staged *st, const xg_lb_endpoint *e, uint32_t priority)
{
    if (!e->is_ip)
        return 0; /* a DNS name: resolved by the DNS clusters of issue 5 */
    const struct sockaddr *sa = (const struct sockaddr *)&e->addr;
    uint64_t hash = xg__addr_hash(sa, e->addrlen);
    xg_host *h = xg__host_tab_find(st->tab, st->mask, sa, e->addrlen, hash);
    if (h != NULL) {
        xg_log_debug("cluster %s: duplicate endpoint %s ignored", rt->name, h->addr_str);
        return 0;
    }
    h = xg__host_tab_find(rt->tab, rt->tab_mask, sa, e->addrlen, hash);
    if (h == NULL)
        h = logical_host(rt, e, hash);
    if (h == NULL) {
        if ((h = host_new(rt, e, hash)) == NULL)
            return XG_ENOMEM;
        st->created[st->n_created++] = h;
    }
    xg__host_tab_put(st->tab, st->mask, h);
    st->n++;
    xg_host_set *s = &st->sets[priority];
    s->hosts[s->n++] = h;
    return 0;
}

/* Copies the config's view of each placed host into it. */
static void apply_endpoints(const staged *st, const xg_endpoints *eps)
{
    for (size_t l = 0; eps != NULL && l < eps->n_localities; l++) {
        const xg_locality_endpoints *loc = &eps->localities[l];
        for (size_t i = 0; i < loc->n_endpoints; i++) {
            const xg_lb_endpoint *e = &loc->endpoints[i];
            if (!e->is_ip)
                continue;
            const struct sockaddr *sa = (const struct sockaddr *)&e->addr;
            xg_host *h = xg__host_tab_find(st->tab, st->mask, sa, e->addrlen, xg__addr_hash(sa, e->addrlen));
            if (h->seen)
                continue; /* a duplicate: the first occurrence wins */
            h->seen = true;
            h->weight = e->weight > 0 ? e->weight : 1;
            h->priority = loc->priority;
            h->locality = st->loc_index[l];
            h->eds_health = e->health;
            h->flags &= health_allowed(h->cluster->cfg, e);
            set_hostname(h, e->hostname);
        }
    }
}

/* Moves the old sets' balancers to the new sets of the same priority, so
 * the policies can carry their per-host state over. */
static void hand_over_lbs(xg_cluster_rt *rt, staged *st)
{
    for (uint32_t p = 0; p < st->n_sets && p < rt->n_sets; p++)
        xg_prio_set_hand_over(&st->sets[p], &rt->sets[p]);
}

/* Installs st in rt and retires the hosts that were not placed. */
static int install(xg_clusters *cs, xg_cluster_rt *rt, staged *st, const xg_endpoints *eps)
{
    apply_endpoints(st, eps);
    hand_over_lbs(rt, st);
    xg_host **old_tab = rt->tab;
    uint32_t old_mask = rt->tab_mask;
    for (uint32_t i = 0; i < rt->n_sets; i++)
        xg__set_dispose(&rt->sets[i]);
    free(rt->sets);
    rt->sets = st->sets;
    rt->n_sets = st->n_sets;
    rt->tab = st->tab;
    rt->tab_mask = st->mask;
    rt->n_hosts = st->n;
    int rc = 0;
    for (uint32_t p = 0; p < rt->n_sets; p++) {
        int r = xg__set_rebuild(rt, &rt->sets[p]);
        rc = rc != 0 ? rc : r;
    }
    int r = xg__choose_set(rt);
    rc = rc != 0 ? rc : r;
    for (uint32_t i = 0; old_tab != NULL && i <= old_mask; i++)
        if (old_tab[i] != NULL && !old_tab[i]->seen)
            host_remove(cs, old_tab[i]);
    for (uint32_t i = 0; i <= rt->tab_mask; i++)
        if (rt->tab[i] != NULL)
            rt->tab[i]->seen = false;
    free(old_tab);
    rt->stats.membership_change++;
    return rc;
}

/* *installed: the new host sets are in place (a later balancer failure
 * still returns XG_ENOMEM); false: nothing changed. */
static int rebuild_hosts(xg_clusters *cs, xg_cluster_rt *rt, const xg_endpoints *eps, bool *installed)
{
    staged st = {0};
    *installed = false;
    int rc = alloc_sets(&st, eps);
    for (size_t l = 0; rc == 0 && eps != NULL && l < eps->n_localities; l++) {
        const xg_locality_endpoints *loc = &eps->localities[l];
        for (size_t i = 0; rc == 0 && i < loc->n_endpoints; i++)
            rc = stage_endpoint(rt, &st, &loc->endpoints[i], loc->priority);
    }
    if (rc != 0)
        goto fail;
    rc = install(cs, rt, &st, eps);
    *installed = true;
    staged_dispose(&st, false);
    return rc;
fail:
    staged_dispose(&st, true);
    return rc;
}

/* DNS clusters: hosts from the config with each name replaced by the
 * resolver's latest answer (dns_hosts.h); the endpoints made for that live
 * in rt->dns_eps once installed. */
static int rebuild_dns(xg_clusters *cs, xg_cluster_rt *rt, const xg_cluster *cfg, bool *installed)
{
    xg_endpoints *eps = NULL;
    *installed = false;
    int rc = xg_dns_endpoints(cfg, rt->dns, &eps);
    if (rc != 0)
        return rc;
    rc = rebuild_hosts(cs, rt, eps, installed);
    if (*installed) {
        free(rt->dns_eps);
        rt->dns_eps = eps;
    } else {
        free(eps);
    }
    return rc;
}

int xg__cluster_dns_refresh(xg_clusters *cs, xg_cluster_rt *rt)
{
    bool installed;
    int rc = rebuild_dns(cs, rt, rt->cfg, &installed);
    if (installed)
        rt->eps = rt->dns_eps;
    return rc;
}

/* Every host leaves (the cluster is gone or the table is being freed). */
static void remove_all_hosts(xg_clusters *cs, xg_cluster_rt *rt)
{
    xg_host **tab = rt->tab;
    uint32_t mask = rt->tab_mask;
    for (uint32_t i = 0; i < rt->n_sets; i++)
        xg__set_dispose(&rt->sets[i]);
    free(rt->sets);
    rt->sets = NULL;
    rt->n_sets = 0;
    rt->tab = NULL;
    rt->tab_mask = 0;
    rt->n_hosts = 0;
    for (uint32_t i = 0; tab != NULL && i <= mask; i++)
        if (tab[i] != NULL)
            host_remove(cs, tab[i]);
    free(tab);
}

/* --- upstream TLS --- */

static xg_res *find_secret(void *arg, const char *name)
{
    return xg_snapshot_find(arg, XG_RES_SECRET, name);
}

/* The SDS secrets tc names, as found in snap; returns how many names there
 * are (may exceed N_SECRETS: then only the first N_SECRETS are filled). */
static size_t collect_secrets(const xg_tls_context *tc, const xg_snapshot *snap, xg_res **out)
{
    size_t n = 0;
    for (size_t i = 0; i < tc->n_certificate_sds; i++, n++)
        if (n < N_SECRETS)
            out[n] = xg_snapshot_find(snap, XG_RES_SECRET, tc->certificate_sds[i].name);
    if (tc->vc_kind == XG_VC_SDS || tc->vc_kind == XG_VC_COMBINED) {
        if (n < N_SECRETS)
            out[n] = xg_snapshot_find(snap, XG_RES_SECRET, tc->vc_sds.name);
        n++;
    }
    return n;
}

static int build_tls(xg_clusters *cs, xg_cluster_rt *rt, const xg_snapshot *snap, xg_res *res, xg_tls_client **out)
{
    if (cs->opts.tls_fn != NULL)
        return cs->opts.tls_fn(cs->opts.tls_arg, snap, res, out);
    char err[256] = "";
    xg_tls_build b = {
        .tc = ((const xg_cluster *)res->body)->tls, .owner = res, .find = find_secret, .find_arg = (void *)snap};
    int rc = xg_tls_client_new(&b, out, err, sizeof err);
    if (rc != 0)
        xg_log_warn("cluster %s: upstream TLS context: %s", rt->name, err[0] ? err : xg_strerror(rc));
    return rc;
}

/* Brings rt->tls in line with the cluster res (new or unchanged) and the
 * snapshot's secrets. *changed: a different context is now in use. */
static void update_tls(xg_clusters *cs, xg_cluster_rt *rt, const xg_snapshot *snap, xg_res *res, bool cfg_changed,
                       bool *changed)
{
    const xg_tls_context *tc = ((const xg_cluster *)res->body)->tls;
    xg_res *secrets[N_SECRETS] = {0};
    size_t n = tc != NULL ? collect_secrets(tc, snap, secrets) : 0;
    bool same = n <= N_SECRETS && memcmp(secrets, rt->tls_secrets, sizeof secrets) == 0;
    if (!cfg_changed && same && (tc == NULL) == (rt->tls == NULL))
        return;
    xg_tls_client *tls = NULL;
    if (tc != NULL && build_tls(cs, rt, snap, res, &tls) != 0)
        tls = NULL;
    if (tls != NULL || rt->tls != NULL)
        *changed = true;
    xg_tls_client_unref(rt->tls);
    rt->tls = tls;
    for (size_t i = 0; i < N_SECRETS; i++) {
        if (secrets[i] != NULL)
            xg_res_ref(secrets[i]);
        xg_res_unref(rt->tls_secrets[i]);
        rt->tls_secrets[i] = secrets[i];
    }
}

/* --- clusters --- */

/* Settings a pooled connection was made with: a change means new
 * connections (the old pools drain). */
static bool conn_settings_differ(const xg_cluster *a, const xg_cluster *b)
{
    return a->http.protocol != b->http.protocol || (a->tls == NULL) != (b->tls == NULL) ||
           memcmp(&a->http.h2, &b->http.h2, sizeof a->http.h2) != 0;
}

static void swap_ref(xg_res **slot, xg_res *r)
{
    if (r != NULL)
        xg_res_ref(r);
    xg_res_unref(*slot);
    *slot = r;
}

static int update_cluster(xg_clusters *cs, xg_cluster_rt *rt, xg_res *res, const xg_snapshot *snap)
{
    const xg_cluster *cfg = res->body;
    xg_res *eps_res = NULL;
    const xg_endpoints *eps = cfg->load_assignment;
    if (cfg->type == XG_CLUSTER_EDS) {
        eps_res = xg_snapshot_find(snap, XG_RES_ENDPOINTS, cfg->eds_service_name ? cfg->eds_service_name : cfg->name);
        eps = eps_res != NULL ? eps_res->body : NULL;
    }
    bool cfg_changed = rt->res != res;
    bool conn_changed = rt->cfg != NULL && cfg_changed && conn_settings_differ(rt->cfg, cfg);
    int rc = 0;
    if (cfg_changed || eps_res != rt->eps_res) {
        /* The balancers are built with the new config's policy. */
        const xg_cluster *old_cfg = rt->cfg;
        const xg_lb_vt *old_vt = rt->lb_vt;
        rt->cfg = cfg;
        rt->lb_vt = xg_lb_for(cfg->lb.policy);
        bool installed;
        rc = xg_cluster_is_dns(cfg) ? rebuild_dns(cs, rt, cfg, &installed) : rebuild_hosts(cs, rt, eps, &installed);
        if (rc != 0 && !installed && rt->res != NULL) {
            rt->cfg = old_cfg; /* the previous hosts and config stay */
            rt->lb_vt = old_vt;
            return rc;
        }
        swap_ref(&rt->res, res);
        swap_ref(&rt->eps_res, eps_res);
        rt->eps = xg_cluster_is_dns(cfg) ? rt->dns_eps : eps;
    }
    update_tls(cs, rt, snap, res, cfg_changed, &conn_changed);
    if (conn_changed) {
        rt->conn_gen++;
        if (cs->opts.hooks.conn_changed != NULL)
            cs->opts.hooks.conn_changed(cs->opts.hooks_arg, rt);
    }
    return rc;
}

static void retire(xg_clusters *cs, xg_cluster_rt *rt)
{
    rt->removed = true;
    remove_all_hosts(cs, rt);
    xg_cluster_rt_unref(rt);
}

static bool unchanged(const xg_clusters *cs, const xg_snapshot *snap)
{
    static const xg_res_type types[] = {XG_RES_CLUSTER, XG_RES_ENDPOINTS, XG_RES_SECRET};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (cs->seen_tables[types[i]] == NULL || snap == NULL || cs->seen_tables[types[i]] != snap->tables[types[i]])
            return false;
    return true;
}

/* Remembers the tables reconciled (references: a freed table's address could
 * come back for a different table). NULL snap or a failure forgets them. */
static void remember(xg_clusters *cs, const xg_snapshot *snap, bool ok)
{
    for (int t = 0; t < XG_RES_NTYPES; t++) {
        xg_snap_table *tb = (snap != NULL && ok) ? snap->tables[t] : NULL;
        if (tb != NULL)
            xg_snap_table_ref(tb);
        xg_snap_table_unref(cs->seen_tables[t]);
        cs->seen_tables[t] = tb;
    }
}

/* Reconciles one cluster resource into the new name table. */
static int place_cluster(xg_clusters *cs, xg_res *res, const xg_snapshot *snap, xg_cluster_rt **tab, size_t mask)
{
    xg_cluster_rt *rt = xg_clusters_find(cs, res->name, strlen(res->name));
    bool fresh = rt == NULL;
    if (fresh && (rt = xg__cluster_rt_new(cs, res->name)) == NULL)
        return XG_ENOMEM;
    int rc = update_cluster(cs, rt, res, snap);
    if (fresh && rt->res == NULL) {
        xg_cluster_rt_unref(rt); /* never installed */
        return rc;
    }
    rt->seen = true;
    xg__name_tab_put(tab, mask, rt);
    return rc;
}

int xg_clusters_on_snapshot(xg_clusters *cs, const xg_snapshot *snap)
{
    if (unchanged(cs, snap))
        return 0;
    size_t n = snap != NULL ? xg_snapshot_count(snap, XG_RES_CLUSTER) : 0;
    size_t mask = xg__tab_size(n) - 1;
    xg_cluster_rt **tab = calloc(mask + 1, sizeof *tab);
    if (tab == NULL)
        return XG_ENOMEM;
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = place_cluster(cs, xg_snapshot_at(snap, XG_RES_CLUSTER, i), snap, tab, mask);
        first = first != 0 ? first : rc;
    }
    for (size_t i = 0; cs->tab != NULL && i <= cs->tab_mask; i++)
        if (cs->tab[i] != NULL && !cs->tab[i]->seen)
            retire(cs, cs->tab[i]);
    for (size_t i = 0; i <= mask; i++)
        if (tab[i] != NULL)
            tab[i]->seen = false;
    free(cs->tab);
    cs->tab = tab;
    cs->tab_mask = mask;
    cs->n = n;
    remember(cs, snap, first == 0);
    return first;
}
