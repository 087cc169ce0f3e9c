/* The policy -> module table. */
#include "cluster/lb.h"

const xg_lb_vt *xg_lb_for(xg_lb_policy policy)
{
    switch (policy) {
    case XG_LB_LEAST_REQUEST:
        return &xg_lb_least_request;
    case XG_LB_RANDOM:
        return &xg_lb_random;
    case XG_LB_RING_HASH:
        return &xg_lb_ring_hash;
    case XG_LB_MAGLEV:
        return &xg_lb_maglev;
    default:
        return &xg_lb_round_robin;
    }
}
