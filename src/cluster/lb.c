/* The policy -> module table. */
#include "cluster/lb.h"
#include "core/log.h"

/* Per-thread: the fallback warning is logged once per worker. */
static __thread bool warned;

const xg_lb_vt *xg_lb_for(xg_lb_policy policy)
{
    if (policy != XG_LB_ROUND_ROBIN && !warned) {
        warned = true;
        xg_log_warn("load balancer policy %d is not implemented yet: using round_robin", (int)policy);
    }
    return &xg_lb_round_robin;
}
