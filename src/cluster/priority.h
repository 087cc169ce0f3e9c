/* Priorities and localities, as Envoy balances them (arch overview:
 * "Priority levels", "Overprovisioning factor", "Panic threshold",
 * "Degraded endpoints", "Locality weighted load balancing"):
 *
 *  - each priority's health is min(100, overprovisioning_factor x healthy /
 *    hosts) (hosts excluding those waiting for their first health check when
 *    ignore_new_hosts_until_first_hc), the same for degraded hosts; requests
 *    are spread over the priorities by those numbers, highest priority first,
 *    degraded hosts getting what healthy ones cannot take, normalised when the
 *    total is below 100;
 *  - when that total is below 100, a priority whose healthy plus degraded
 *    share of hosts is below healthy_panic_threshold is in panic: its share
 *    goes to all of its hosts whatever their health; when every priority is
 *    in panic the shares follow host counts;
 *  - with locality-weighted balancing, a locality of the chosen priority is
 *    picked by EDF over load_balancing_weight x min(1, factor x available /
 *    hosts), then a host within it; the hash-based policies fold the locality
 *    weights into host weights instead.
 *
 * Computed when hosts or health change (cluster.c), read per request: the
 * choice is O(priorities) and O(log localities), no allocation. Per worker. */
#ifndef XG_CLUSTER_PRIORITY_H
#define XG_CLUSTER_PRIORITY_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/host.h"
#include "cluster/lb.h"
#include "cluster/lb_edf.h"
#include "config/endpoint.h"

/* Sets every set's load_healthy, load_degraded and panic from its host
 * counts (n, n_excluded, n_healthy, n_degraded) and overprovisioning
 * factor (percent), Envoy's recalculatePerPriorityState and
 * recalculatePerPriorityPanic. panic_threshold: percent, 0 disables panic
 * mode. The loads add up to 100 (n >= 1) unless a factor below 100 leaves
 * capacity unassigned. */
void xg_prio_update(xg_host_set *sets, uint32_t n, uint32_t panic_threshold);

/* The priority for a value h (a random number, or the request's hash for
 * the hash-based policies): h % 100 + 1 against the cumulative healthy
 * loads, then the degraded ones. *degraded: the degraded hosts are meant. */
uint32_t xg_prio_choose(const xg_host_set *sets, uint32_t n, uint64_t h, bool *degraded);

/* --- host sets: balancers and picking (priority_build.c) --- */

/* How one cluster balances: the policy's module and config, the worker's
 * generator. All borrowed. */
typedef struct xg_prio_cfg {
    const xg_lb_vt *vt;
    const xg_lb_config *lb;
    xg_rng *rng;
} xg_prio_cfg;

/* Recomputes s's healthy, degraded and excluded subsets from its hosts'
 * health and rebuilds their balancers (and the locality-weighted state when
 * the cluster asks for it and some locality has a weight); the previous
 * balancers are handed to the policy and freed. 0 or XG_ENOMEM (a subset
 * without a balancer then counts as empty). Call xg_prio_rebalance after
 * the sets of a cluster changed. */
int xg_prio_set_rebuild(xg_host_set *s, const xg_prio_cfg *c);
/* Recomputes the priority loads and panic (xg_prio_update) and the all-hosts
 * balancers of the sets in panic. 0 or XG_ENOMEM (a set in panic without
 * its balancer uses its healthy hosts). */
int xg_prio_rebalance(xg_host_set *sets, uint32_t n, const xg_prio_cfg *c);
/* Moves from's balancers and locality state to to (the set replacing it
 * for the same priority), so that rebuilding to carries rotations over. */
void xg_prio_set_hand_over(xg_host_set *to, xg_host_set *from);
/* Builds each set's locality table from the assignment, for reconcile:
 * sets[p].locality_weights / n_localities (entries with the same region,
 * zone and sub_zone are one locality, as in Envoy; the last weight given
 * wins), sets[p].overprovisioning, and *loc_index (malloc'd, freed by the
 * caller): for each eps->localities[l], its locality's index in its set.
 * 0 or XG_ENOMEM. */
int xg_prio_localities(xg_host_set *sets, uint32_t n_sets, const xg_endpoints *eps, uint32_t **loc_index);
/* Frees the balancers and locality state of s (not its host arrays). */
void xg_prio_set_dispose(xg_host_set *s);
/* A host for one request: the priority (by the request's hash for a hashed
 * policy, else at random), then in panic any host of it, else the locality
 * (locality-weighted) and the policy's pick among its healthy or degraded
 * hosts. NULL when nothing is usable. No allocation. */
xg_host *xg_prio_pick(xg_host_set *sets, uint32_t n, bool hashed, xg_rng *rng, const xg_lb_ctx *ctx);

/* --- localities --- */

/* One locality of a host set: its usable hosts and their balancers. */
typedef struct xg_locality {
    xg_host **healthy; /* n_healthy, then n_degraded in degraded */
    xg_host **degraded;
    uint32_t n_healthy, n_degraded;
    xg_lb *lb, *lb_degraded; /* NULL when that subset is empty */
} xg_locality;

/* Locality-weighted picking within one host set (non-hash policies). */
typedef struct xg_locality_lb {
    uint32_t n;
    xg_locality *loc;
    xg_edf sched, sched_degraded; /* over the localities with a positive effective weight */
    double *w, *w_degraded;       /* effective weight per locality */
} xg_locality_lb;

/* Builds s->loc for s (its healthy/degraded subsets already computed):
 * per-locality subsets and balancers of c's policy, and the schedules.
 * s->loc's previous value is carried over (rotations) and freed. 0 or
 * XG_ENOMEM (then s->loc is NULL: the set is balanced as a whole). */
int xg_locality_lb_build(xg_host_set *s, const xg_prio_cfg *c);
void xg_locality_lb_free(xg_locality_lb *l);
/* A host from the next locality due, or NULL when no locality has a
 * positive effective weight (the caller balances the whole set, as Envoy). */
xg_host *xg_locality_lb_pick(xg_locality_lb *l, bool degraded, const xg_lb_ctx *ctx);

/* For the hash-based policies with locality weights: the hosts of
 * hosts[0..n) (all of set s) whose locality has a weight, into out_hosts,
 * with weight host_weight / sum in locality x locality_weight / sum of
 * locality weights (Envoy's normalizeLocalityWeights; availability is not
 * considered). Returns how many (0 when no locality has a weight). */
uint32_t xg_locality_host_weights(const xg_host_set *s, xg_host *const *hosts, uint32_t n, xg_host **out_hosts,
                                  double *out_w);

#endif
