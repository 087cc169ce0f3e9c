/* The tables of the consistent-hashing balancers (RING_HASH's ring, MAGLEV's
 * slots), shared by every worker that builds a balancer over the same hosts
 * with the same parameters. Each worker keeps its own host objects, so a
 * table names hosts by their index in the balancer's input (xg_lb_hosts);
 * the worker maps an index to its own xg_host.
 *
 * Why: a ring for very uneven weights reaches maximum_ring_size (8M entries
 * by default), and one copy per worker was that many times the memory and
 * the build time (Envoy builds one per cluster on the main thread for the
 * same reason). The first worker to need a table builds it, under the
 * registry's mutex, so a second worker arriving meanwhile waits for it
 * instead of building its own; the last balancer to let go frees it.
 *
 * The key is the policy, its size parameters and every host's address and
 * weight in input order: equal keys give equal tables, since the builds
 * depend on nothing else. Thread-safe. */
#ifndef XG_CLUSTER_LB_TABLE_H
#define XG_CLUSTER_LB_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/lb.h"
#include "core/named_reg.h"

typedef struct xg_lb_table {
    xg_named named;
    size_t n;       /* entries (ring) or slots (Maglev) */
    uint64_t *hash; /* RING_HASH: the entries' hashes, ascending; NULL for MAGLEV */
    uint32_t *idx;  /* n host indexes into the balancer's input */
} xg_lb_table;

/* Fills t->n, t->hash (RING_HASH), t->idx for in under cfg. 0 or XG_ENOMEM;
 * on failure what was allocated stays in t, freed by the caller. */
typedef int (*xg_lb_table_build_fn)(xg_lb_table *t, const xg_lb_config *cfg, const xg_lb_hosts *in);

/* The table for (policy, cfg, in), built by build() when nobody holds one;
 * one reference for the caller. NULL on ENOMEM. */
xg_lb_table *xg_lb_table_get(const char *policy, const xg_lb_config *cfg, const xg_lb_hosts *in,
                             xg_lb_table_build_fn build);
/* Drops a reference; NULL is a no-op. */
void xg_lb_table_put(xg_lb_table *t);
/* Tables alive in the process (tests). */
uint32_t xg_lb_table_live(void);

#endif
