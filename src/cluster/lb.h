/* The load-balancer interface: one small module per policy behind a vtable
 * (h2o's balancer shape). A balancer is built over the usable hosts of one
 * host set (or of one locality of it) and rebuilt whenever that set changes
 * (config update, health change); pick() is the per-request call and must be
 * cheap: O(1) or O(log n), no allocation.
 *
 * What the policies need from a request comes in xg_lb_ctx: the hash of the
 * route's hash_policy (RING_HASH, MAGLEV); the others use the worker's
 * generator (RANDOM, the LEAST_REQUEST choices) given at init and each
 * host's active_requests (LEAST_REQUEST). Per worker, like everything in
 * cluster/. Choosing the priority and the locality comes before the balancer:
 * cluster/priority.h. */
#ifndef XG_CLUSTER_LB_H
#define XG_CLUSTER_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/host.h"
#include "cluster/rng.h"
#include "config/cluster.h"

/* Per-request input to pick(). */
typedef struct xg_lb_ctx {
    uint64_t hash; /* the route hash_policy's result, when has_hash */
    bool has_hash; /* false: hash-based policies pick a random point */
    /* 0 for a request's first pick; n for the n-th re-pick of the same
     * request (host_selection_retry_max_attempts): ring hash steps n entries
     * along the ring and Maglev perturbs the hash, as Envoy does, so a re-pick
     * can land elsewhere. The other policies ignore it (they move anyway). */
    uint32_t attempt;
} xg_lb_ctx;

/* What a balancer is built over. hosts[0..n) (n >= 1) are borrowed: they
 * outlive the balancer, the array itself need not. weights: NULL, or a
 * positive weight per host that replaces host->weight (the locality-weighted
 * normalisation of the hash-based policies, cluster/priority.h); only
 * RING_HASH and MAGLEV are given one. */
typedef struct xg_lb_hosts {
    xg_host *const *hosts;
    const double *weights;
    size_t n;
} xg_lb_hosts;

typedef struct xg_lb xg_lb;

typedef struct xg_lb_vt {
    const char *name;
    /* A balancer over in. prev: the balancer this one replaces, or NULL; a
     * policy may carry its per-host state over for the hosts that remain
     * (prev may have another vt: then it is ignored). rng: the worker's,
     * outlives the balancer. 0 or XG_ENOMEM; *out owned by the caller. */
    int (*init)(xg_lb **out, const xg_lb_config *cfg, const xg_lb_hosts *in, xg_lb *prev, xg_rng *rng);
    /* One of the hosts; never NULL. */
    xg_host *(*pick)(xg_lb *lb, const xg_lb_ctx *ctx);
    void (*destroy)(xg_lb *lb);
} xg_lb_vt;

/* The head of every balancer. */
struct xg_lb {
    const xg_lb_vt *vt;
};

extern const xg_lb_vt xg_lb_round_robin;
extern const xg_lb_vt xg_lb_least_request;
extern const xg_lb_vt xg_lb_random;
extern const xg_lb_vt xg_lb_ring_hash;
extern const xg_lb_vt xg_lb_maglev;

/* The module for a policy. */
const xg_lb_vt *xg_lb_for(xg_lb_policy policy);

/* True for the consistent-hashing policies (RING_HASH, MAGLEV): they read
 * xg_lb_ctx.hash, choose the priority by that hash too (Envoy's thread-aware
 * balancers), and fold locality weights into host weights instead of
 * picking a locality first. */
static inline bool xg_lb_policy_hashed(xg_lb_policy policy)
{
    return policy == XG_LB_RING_HASH || policy == XG_LB_MAGLEV;
}

/* The weight of in->hosts[i]: in->weights[i], else the host's weight. */
static inline double xg_lb_weight(const xg_lb_hosts *in, size_t i)
{
    return in->weights != NULL ? in->weights[i] : (double)in->hosts[i]->weight;
}

static inline xg_host *xg_lb_pick(xg_lb *lb, const xg_lb_ctx *ctx)
{
    return lb->vt->pick(lb, ctx);
}

/* NULL is a no-op. */
static inline void xg_lb_destroy(xg_lb *lb)
{
    if (lb != NULL)
        lb->vt->destroy(lb);
}

#endif
