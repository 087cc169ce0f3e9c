/* Internals shared by cluster.c (tables, picking, lifetimes) and
 * reconcile.c (applying a snapshot); not for other modules. */
#ifndef XG_CLUSTER_CLUSTER_INT_H
#define XG_CLUSTER_CLUSTER_INT_H

#include "cluster/cluster.h"

/* Hash of an address key (family, address, port; scope for IPv6). */
uint64_t xg__addr_hash(const struct sockaddr *sa, socklen_t len);
/* True when a and b are the same address key. */
bool xg__addr_eq(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen);

/* Open-addressing host table: slots is mask + 1 long, at most half full. */
xg_host *xg__host_tab_find(xg_host *const *slots, uint32_t mask, const struct sockaddr *sa, socklen_t len,
                           uint64_t hash);
void xg__host_tab_put(xg_host **slots, uint32_t mask, xg_host *h);
/* The slot count for n entries (a power of two >= 2n, at least 8). */
uint32_t xg__tab_size(size_t n);

/* Rebuilds s's healthy/degraded subsets and balancers (prev ones are
 * passed to the policy and destroyed). 0 or XG_ENOMEM (that subset then has
 * no balancer and counts as empty). */
int xg__set_rebuild(xg_cluster_rt *rt, xg_host_set *s);
/* Recomputes the priority loads, panic flags and panic balancers of rt's
 * sets (after rebuilding them). 0 or XG_ENOMEM. */
int xg__choose_set(xg_cluster_rt *rt);
/* Frees a host set's arrays and balancers (not the hosts). */
void xg__set_dispose(xg_host_set *s);

/* A new runtime for the cluster resource res (not yet reconciled: no hosts,
 * no config reference). NULL on ENOMEM. One reference (the table's). */
xg_cluster_rt *xg__cluster_rt_new(xg_clusters *cs, const char *name);
/* Inserts rt into an open-addressing name table. */
void xg__name_tab_put(xg_cluster_rt **slots, size_t mask, xg_cluster_rt *rt);

/* reconcile.c: rebuilds a DNS cluster's hosts from its config and rt->dns
 * (the resolver's latest answer). 0 or XG_ENOMEM (the previous hosts stay). */
int xg__cluster_dns_refresh(xg_clusters *cs, xg_cluster_rt *rt);

#endif
