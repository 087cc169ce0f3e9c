/* Where a rate limit call goes when the service is named by a cluster
 * (envoy_grpc.cluster_name): the cluster's current hosts as a gRPC channel
 * target, from the worker's cluster runtime (static, EDS or DNS hosts).
 * Worker thread. */
#ifndef XG_RATELIMIT_RLS_TARGET_H
#define XG_RATELIMIT_RLS_TARGET_H

#include <stddef.h>

#include "cluster/cluster.h"

/* Writes "ipv4:a:p,b:p" (or "ipv6:[a]:p,...") for rt's usable hosts: the
 * healthy ones of the first priority that has any, else every host of the
 * first priority with hosts (Envoy's panic), hosts of the first host's
 * address family only (one gRPC target holds one family). 0, or XG_ENOENT
 * (no host) / XG_ERANGE (does not fit n bytes; hosts that do not fit are
 * left out while at least one fits). */
int xg_rls_cluster_target(const xg_cluster_rt *rt, char *out, size_t n);

#endif
