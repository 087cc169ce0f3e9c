/* The per-worker cluster table: lookup by name, host tables by address,
 * host-set subsets and balancers, host picking, and the lifetimes of hosts
 * and cluster runtimes. Applying a snapshot is in reconcile.c. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "cluster/cluster_int.h"
#include "cluster/dns_hosts.h"
#include "cluster/priority.h"
#include "core/assert.h"
#include "core/error.h"
#include "net/tls_ctx.h"

/* The only mutable per-thread state of cluster/: each worker's table. */
static __thread xg_clusters *current;

xg_clusters *xg_clusters_current(void)
{
    return current;
}

void xg_clusters_set_current(xg_clusters *cs)
{
    current = cs;
}

/* --- address keys --- */

typedef struct addr_key {
    uint16_t family;
    uint16_t port;
    uint32_t scope;
    uint8_t addr[16];
} addr_key;

static void key_of(const struct sockaddr *sa, socklen_t len, addr_key *k)
{
    memset(k, 0, sizeof *k);
    k->family = sa->sa_family;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        k->port = in->sin_port;
        memcpy(k->addr, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        k->port = in6->sin6_port;
        k->scope = in6->sin6_scope_id;
        memcpy(k->addr, &in6->sin6_addr, 16);
    }
}

uint64_t xg__addr_hash(const struct sockaddr *sa, socklen_t len)
{
    addr_key k;
    key_of(sa, len, &k);
    return XXH3_64bits(&k, sizeof k);
}

bool xg__addr_eq(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen)
{
    addr_key ka, kb;
    key_of(a, alen, &ka);
    key_of(b, blen, &kb);
    return memcmp(&ka, &kb, sizeof ka) == 0;
}

uint64_t xg_host_addr_hash(const struct sockaddr *sa, socklen_t len)
{
    return xg__addr_hash(sa, len);
}

bool xg_host_addr_eq(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen)
{
    return xg__addr_eq(a, alen, b, blen);
}

uint32_t xg__tab_size(size_t n)
{
    uint32_t s = 8;
    while (s < 2 * n)
        s *= 2;
    return s;
}

xg_host *xg__host_tab_find(xg_host *const *slots, uint32_t mask, const struct sockaddr *sa, socklen_t len,
                           uint64_t hash)
{
    if (slots == NULL)
        return NULL;
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        xg_host *h = slots[i];
        if (h == NULL)
            return NULL;
        if (h->hash == hash && xg__addr_eq((const struct sockaddr *)&h->addr, h->addrlen, sa, len))
            return h;
    }
}

void xg__host_tab_put(xg_host **slots, uint32_t mask, xg_host *h)
{
    uint32_t i = (uint32_t)h->hash & mask;
    while (slots[i] != NULL)
        i = (i + 1) & mask;
    slots[i] = h;
}

xg_host *xg_cluster_find_host(const xg_cluster_rt *rt, const struct sockaddr *sa, socklen_t len)
{
    return xg__host_tab_find(rt->tab, rt->tab_mask, sa, len, xg__addr_hash(sa, len));
}

/* --- the name table --- */

void xg__name_tab_put(xg_cluster_rt **slots, size_t mask, xg_cluster_rt *rt)
{
    size_t i = rt->name_hash & mask;
    while (slots[i] != NULL)
        i = (i + 1) & mask;
    slots[i] = rt;
}

xg_cluster_rt *xg_clusters_find(const xg_clusters *cs, const char *name, size_t len)
{
    if (cs->tab == NULL)
        return NULL;
    uint64_t hash = XXH3_64bits(name, len);
    for (size_t i = hash & cs->tab_mask;; i = (i + 1) & cs->tab_mask) {
        xg_cluster_rt *rt = cs->tab[i];
        if (rt == NULL)
            return NULL;
        if (rt->name_hash == hash && strncmp(rt->name, name, len) == 0 && rt->name[len] == '\0')
            return rt;
    }
}

/* --- host sets and picking (the balancing itself: priority.h) --- */

static xg_prio_cfg prio_cfg(xg_cluster_rt *rt)
{
    return (xg_prio_cfg){.vt = rt->lb_vt, .lb = &rt->cfg->lb, .rng = &rt->owner->rng};
}

int xg__set_rebuild(xg_cluster_rt *rt, xg_host_set *s)
{
    xg_prio_cfg c = prio_cfg(rt);
    return xg_prio_set_rebuild(s, &c);
}

void xg__set_dispose(xg_host_set *s)
{
    xg_prio_set_dispose(s);
    free(s->hosts); /* healthy and degraded share this allocation */
    free(s->locality_weights);
    memset(s, 0, sizeof *s);
}

int xg__choose_set(xg_cluster_rt *rt)
{
    if (rt->n_sets == 0)
        return 0;
    xg_prio_cfg c = prio_cfg(rt);
    return xg_prio_rebalance(rt->sets, rt->n_sets, &c);
}

xg_host *xg_cluster_pick(xg_cluster_rt *rt, const xg_lb_ctx *ctx)
{
    if (rt->n_sets == 0)
        return NULL;
    return xg_prio_pick(rt->sets, rt->n_sets, xg_lb_policy_hashed(rt->cfg->lb.policy), &rt->owner->rng, ctx);
}

int xg_cluster_hosts_changed(xg_cluster_rt *rt)
{
    int first = 0;
    for (uint32_t i = 0; i < rt->n_sets; i++) {
        int rc = xg__set_rebuild(rt, &rt->sets[i]);
        if (rc != 0 && first == 0)
            first = rc;
    }
    int rc = xg__choose_set(rt);
    return first != 0 ? first : rc;
}

/* --- lifetimes --- */

xg_cluster_rt *xg__cluster_rt_new(xg_clusters *cs, const char *name)
{
    xg_cluster_rt *rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return NULL;
    rt->name = strdup(name);
    if (rt->name == NULL) {
        free(rt);
        return NULL;
    }
    rt->name_hash = XXH3_64bits(name, strlen(name));
    rt->owner = cs;
    rt->refs = 1;
    rt->lb_vt = &xg_lb_round_robin;
    return rt;
}

static void rt_free(xg_cluster_rt *rt)
{
    XG_ASSERT(rt->n_hosts == 0);
    if (rt->breaker != NULL && rt->breaker_release != NULL)
        rt->breaker_release(rt->breaker);
    for (uint32_t i = 0; i < rt->n_sets; i++)
        xg__set_dispose(&rt->sets[i]);
    free(rt->sets);
    free(rt->tab);
    xg_tls_client_unref(rt->tls);
    for (size_t i = 0; i < sizeof rt->tls_secrets / sizeof rt->tls_secrets[0]; i++)
        xg_res_unref(rt->tls_secrets[i]);
    xg_res_unref(rt->eps_res);
    xg_res_unref(rt->res);
    xg_dns_hosts_unref(rt->dns);
    free(rt->dns_eps);
    xg_tls_names_free(rt->tls_names);
    free(rt->name);
    free(rt);
}

void xg_cluster_rt_unref(xg_cluster_rt *rt)
{
    XG_ASSERT(rt->refs > 0);
    if (--rt->refs == 0)
        rt_free(rt);
}

void xg_host_unref(xg_host *h)
{
    XG_ASSERT(h->refs > 0);
    if (--h->refs > 0)
        return;
    XG_ASSERT(h->pools == NULL);
    xg_cluster_rt *rt = h->cluster;
    free(h->hostname);
    free(h);
    xg_cluster_rt_unref(rt);
}

int xg_clusters_new(xg_loop *loop, const xg_clusters_opts *o, xg_clusters **out)
{
    xg_clusters *cs = calloc(1, sizeof *cs);
    if (cs == NULL)
        return XG_ENOMEM;
    cs->loop = loop;
    if (o != NULL)
        cs->opts = *o;
    uint64_t seed = cs->opts.seed;
    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)cs;
    }
    xg_rng_seed(&cs->rng, seed);
    *out = cs;
    return 0;
}

void xg_clusters_free(xg_clusters *cs)
{
    if (cs == NULL)
        return;
    xg_clusters_on_snapshot(cs, NULL);
    free(cs->tab);
    for (int t = 0; t < XG_RES_NTYPES; t++)
        xg_snap_table_unref(cs->seen_tables[t]);
    free(cs);
}
