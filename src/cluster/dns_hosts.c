/* DNS answers as hosts (dns_hosts.h): the shared answer objects, the
 * endpoints a DNS cluster's hosts are built from, and the worker's handling
 * of a posted answer. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"
#include "cluster/dns_hosts.h"
#include "cluster/dns_wire.h"
#include "core/error.h"
#include "core/log.h"

xg_dns_hosts *xg_dns_hosts_new(const char *cluster, size_t n)
{
    xg_dns_hosts *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    atomic_init(&h->refs, 1);
    h->cluster = strdup(cluster);
    h->names = calloc(n > 0 ? n : 1, sizeof *h->names);
    if (h->cluster == NULL || h->names == NULL) {
        xg_dns_hosts_unref(h);
        return NULL;
    }
    return h;
}

int xg_dns_hosts_add(xg_dns_hosts *h, const char *name, const struct sockaddr_storage *addrs, uint32_t n)
{
    xg_dns_name *d = &h->names[h->n_names];
    d->name = strdup(name);
    d->addrs = n > 0 ? malloc(n * sizeof *addrs) : NULL;
    if (d->name == NULL || (n > 0 && d->addrs == NULL)) {
        free(d->name);
        free(d->addrs);
        *d = (xg_dns_name){0};
        return XG_ENOMEM;
    }
    if (n > 0)
        memcpy(d->addrs, addrs, n * sizeof *addrs);
    d->n = n;
    h->n_names++;
    return 0;
}

void xg_dns_hosts_ref(xg_dns_hosts *h)
{
    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
}

void xg_dns_hosts_unref(xg_dns_hosts *h)
{
    if (h == NULL || atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; h->names != NULL && i < h->n_names; i++) {
        free(h->names[i].name);
        free(h->names[i].addrs);
    }
    free(h->names);
    free(h->cluster);
    free(h);
}

const xg_dns_name *xg_dns_hosts_find(const xg_dns_hosts *h, const char *name)
{
    for (size_t i = 0; h != NULL && i < h->n_names; i++)
        if (xg_dns_name_eq(h->names[i].name, name))
            return &h->names[i];
    return NULL;
}

/* --- endpoints --- */

/* How many hosts endpoint e stands for. */
static uint32_t count_for(const xg_cluster *cfg, const xg_dns_hosts *h, const xg_lb_endpoint *e)
{
    if (e->is_ip)
        return 1;
    const xg_dns_name *d = xg_dns_hosts_find(h, e->host);
    uint32_t n = d != NULL ? d->n : 0;
    return cfg->type == XG_CLUSTER_LOGICAL_DNS && n > 1 ? 1 : n;
}

static void with_port(struct sockaddr_storage *ss, socklen_t *len, uint16_t port)
{
    if (ss->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
        *len = sizeof(struct sockaddr_in6);
    } else {
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
        *len = sizeof(struct sockaddr_in);
    }
}

/* Writes the hosts of endpoint e at out; returns how many. */
static uint32_t expand(const xg_cluster *cfg, const xg_dns_hosts *h, const xg_lb_endpoint *e, xg_lb_endpoint *out)
{
    if (e->is_ip) {
        *out = *e;
        return 1;
    }
    const xg_dns_name *d = xg_dns_hosts_find(h, e->host);
    uint32_t n = count_for(cfg, h, e);
    for (uint32_t i = 0; i < n; i++) {
        out[i] = *e;
        out[i].is_ip = true;
        out[i].addr = d->addrs[i];
        with_port(&out[i].addr, &out[i].addrlen, e->port);
        out[i].hostname = e->hostname != NULL ? e->hostname : e->host;
    }
    return n;
}

int xg_dns_endpoints(const xg_cluster *cfg, const xg_dns_hosts *h, xg_endpoints **out)
{
    const xg_endpoints *src = cfg->load_assignment;
    size_t n_loc = src != NULL ? src->n_localities : 0, total = 0;
    for (size_t l = 0; l < n_loc; l++)
        for (size_t i = 0; i < src->localities[l].n_endpoints; i++)
            total += count_for(cfg, h, &src->localities[l].endpoints[i]);
    size_t size = sizeof(xg_endpoints) + n_loc * sizeof(xg_locality_endpoints) + total * sizeof(xg_lb_endpoint);
    xg_endpoints *eps = calloc(1, size);
    if (eps == NULL)
        return XG_ENOMEM;
    if (src != NULL)
        *eps = *src;
    eps->localities = (xg_locality_endpoints *)(eps + 1);
    xg_lb_endpoint *next = (xg_lb_endpoint *)(eps->localities + n_loc);
    eps->n_endpoints = total;
    for (size_t l = 0; l < n_loc; l++) {
        xg_locality_endpoints *loc = &eps->localities[l];
        *loc = src->localities[l];
        loc->endpoints = next;
        loc->n_endpoints = 0;
        for (size_t i = 0; i < src->localities[l].n_endpoints; i++)
            loc->n_endpoints += expand(cfg, h, &src->localities[l].endpoints[i], next + loc->n_endpoints);
        next += loc->n_endpoints;
        if (cfg->type == XG_CLUSTER_LOGICAL_DNS)
            loc->priority = 0; /* Envoy puts the one logical host at priority 0 */
    }
    if (cfg->type == XG_CLUSTER_LOGICAL_DNS)
        eps->n_priorities = n_loc > 0 ? 1 : 0;
    *out = eps;
    return 0;
}

/* --- the worker's side --- */

void xg_clusters_dns_apply(struct xg_clusters *cs, xg_dns_hosts *h)
{
    xg_cluster_rt *rt = cs != NULL ? xg_clusters_find(cs, h->cluster, strlen(h->cluster)) : NULL;
    if (rt == NULL || rt->cfg == NULL || !xg_cluster_is_dns(rt->cfg)) {
        xg_dns_hosts_unref(h);
        return;
    }
    xg_dns_hosts_unref(rt->dns);
    rt->dns = h;
    int rc = xg__cluster_dns_refresh(cs, rt);
    if (rc != 0)
        xg_log_error("cluster %s: hosts from DNS: %s (the previous hosts stay)", rt->name, xg_strerror(rc));
}
