/* The load-balancer interface: one small module per policy behind a vtable
 * (h2o's balancer shape). A balancer is built over the usable hosts of one
 * host set and rebuilt whenever that set changes (config update, health
 * change); pick() is the per-request call and must be cheap: O(1) or
 * O(log n), no allocation.
 *
 * What the policies need from a request comes in xg_lb_ctx: the hash of the
 * route's hash_policy (RING_HASH, MAGLEV); the others use the worker's
 * generator (RANDOM, the LEAST_REQUEST choices) given at init and each
 * host's active_requests (LEAST_REQUEST). Per worker, like everything in
 * cluster/. */
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
} xg_lb_ctx;

typedef struct xg_lb xg_lb;

typedef struct xg_lb_vt {
    const char *name;
    /* A balancer over hosts[0..n) (n >= 1; borrowed: they outlive it, the
     * array itself need not). prev: the balancer this one replaces, or NULL;
     * a policy may carry its per-host state over for the hosts that remain
     * (prev may have another vt: then it is ignored). rng: the worker's,
     * outlives the balancer. 0 or XG_ENOMEM; *out owned by the caller. */
    int (*init)(xg_lb **out, const xg_lb_config *cfg, xg_host *const *hosts, size_t n, xg_lb *prev, xg_rng *rng);
    /* One of the hosts; never NULL. */
    xg_host *(*pick)(xg_lb *lb, const xg_lb_ctx *ctx);
    void (*destroy)(xg_lb *lb);
} xg_lb_vt;

/* The head of every balancer. */
struct xg_lb {
    const xg_lb_vt *vt;
};

extern const xg_lb_vt xg_lb_round_robin;

/* The module for a policy. Issue 4 has round robin only: the other policies
 * fall back to it until their modules land (the log says so once). */
const xg_lb_vt *xg_lb_for(xg_lb_policy policy);

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
