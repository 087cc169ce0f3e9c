/* A cluster's hosts as a gRPC channel target for the rate limit client
 * (rls_target.h). The gRPC core balances over them (round_robin); the
 * client keeps a channel per distinct string (rls_chans.h), so a host set
 * that changes gets a new one and the old one retires once idle. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"
#include "ratelimit/rls_target.h"

/* The hosts a call may use: see rls_target.h. */
static xg_host *const *usable(const xg_cluster_rt *rt, uint32_t *n)
{
    for (uint32_t i = 0; i < rt->n_sets; i++)
        if (rt->sets[i].n_healthy > 0) {
            *n = rt->sets[i].n_healthy;
            return rt->sets[i].healthy;
        }
    for (uint32_t i = 0; i < rt->n_sets; i++)
        if (rt->sets[i].n > 0) {
            *n = rt->sets[i].n;
            return rt->sets[i].hosts;
        }
    *n = 0;
    return NULL;
}

int xg_rls_cluster_target(const xg_cluster_rt *rt, char *out, size_t n)
{
    uint32_t nh;
    xg_host *const *hs = usable(rt, &nh);
    if (nh == 0)
        return XG_ENOENT;
    sa_family_t fam = hs[0]->addr.ss_family;
    int len = snprintf(out, n, "%s:", fam == AF_INET6 ? "ipv6" : "ipv4");
    size_t at = (size_t)len;
    uint32_t used = 0;
    for (uint32_t i = 0; i < nh; i++) {
        if (hs[i]->addr.ss_family != fam)
            continue;
        size_t l = strlen(hs[i]->addr_str);
        if (at + l + 2 > n)
            return used > 0 ? 0 : XG_ERANGE;
        if (used++ > 0)
            out[at++] = ',';
        memcpy(out + at, hs[i]->addr_str, l + 1);
        at += l;
    }
    return 0;
}
