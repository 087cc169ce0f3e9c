/* DNS answers as cluster hosts. The main thread's resolver (dns_mgr.h)
 * posts an immutable, refcounted xg_dns_hosts per DNS cluster to every
 * worker whenever a name's addresses change; the worker keeps the latest
 * one on the cluster's runtime (outside the config snapshots, like pools
 * and health) and rebuilds the cluster's hosts from its config with each
 * DNS name replaced by those addresses:
 *
 *  - STRICT_DNS: every address of every name is a host, with the
 *    endpoint's port, weight, health status, locality and priority;
 *  - LOGICAL_DNS: one host on the first address (priority 0, as Envoy);
 *    reconcile keeps that host when the address changes, so its pooled
 *    connections stay and only new connections go to the new address;
 *  - a host's hostname is Endpoint.hostname, else the DNS name (as Envoy:
 *    auto_host_rewrite sends it);
 *  - a name without an answer yet has no host; IP literals in a DNS
 *    cluster are hosts as given.
 *
 * Hosts whose address stays keep their pools and health (reconcile.c). */
#ifndef XG_CLUSTER_DNS_HOSTS_H
#define XG_CLUSTER_DNS_HOSTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/cluster.h"
#include "config/endpoint.h"

struct xg_clusters;

/* The addresses one DNS name resolved to last (port 0). */
typedef struct xg_dns_name {
    char *name;
    uint32_t n;
    struct sockaddr_storage *addrs;
} xg_dns_name;

typedef struct xg_dns_hosts {
    atomic_int refs;
    char *cluster;
    xg_dns_name *names; /* the cluster's names that have an answer */
    size_t n_names;
} xg_dns_hosts;

/* An empty answer set for cluster with room for n names. NULL on ENOMEM.
 * One reference. */
xg_dns_hosts *xg_dns_hosts_new(const char *cluster, size_t n);
/* Appends name with its n addresses (copied). 0 or XG_ENOMEM. Only before
 * the object is shared. */
int xg_dns_hosts_add(xg_dns_hosts *h, const char *name, const struct sockaddr_storage *addrs, uint32_t n);
void xg_dns_hosts_ref(xg_dns_hosts *h);
/* Any thread; NULL is a no-op. */
void xg_dns_hosts_unref(xg_dns_hosts *h);
/* The answer for name (compared as DNS names), or NULL. */
const xg_dns_name *xg_dns_hosts_find(const xg_dns_hosts *h, const char *name);

static inline bool xg_cluster_is_dns(const xg_cluster *c)
{
    return c->type == XG_CLUSTER_STRICT_DNS || c->type == XG_CLUSTER_LOGICAL_DNS;
}

/* cfg's load_assignment with every DNS name replaced by its addresses in h
 * (NULL: none yet), as described above. *out is one malloc'd block (free)
 * that borrows strings and drop_overloads from cfg. 0 or XG_ENOMEM. */
int xg_dns_endpoints(const xg_cluster *cfg, const xg_dns_hosts *h, xg_endpoints **out);

/* Worker thread: h (one reference, taken over) becomes the latest answer of
 * its cluster in cs and the cluster's hosts are rebuilt. A cluster that is
 * gone or no longer a DNS cluster just drops it. cs NULL: dropped. */
void xg_clusters_dns_apply(struct xg_clusters *cs, xg_dns_hosts *h);

#endif
