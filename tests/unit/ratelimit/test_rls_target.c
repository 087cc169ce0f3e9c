/* Unit tests for ratelimit/rls_target.c: which of a cluster's hosts a rate
 * limit call may use, written as a gRPC target (healthy hosts of the first
 * priority that has any, else every host of the first priority with hosts;
 * one address family; a target that does not fit keeps the hosts that do). */
#include <arpa/inet.h>
#include <string.h>

#include "core/error.h"
#include "net/listen.h"
#include "ratelimit/rls_target.h"
#include "xg_test.h"

static xg_host hosts[8];

static xg_host *host(int i, const char *ip, unsigned port)
{
    xg_host *h = &hosts[i];
    memset(h, 0, sizeof(*h));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&h->addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&h->addr;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &a->sin_addr);
    }
    xg_sockaddr_str((const struct sockaddr *)&h->addr, h->addr_str, sizeof(h->addr_str));
    return h;
}

XG_TEST(healthy_hosts_of_the_first_priority_with_any)
{
    xg_host *p0[] = {host(0, "10.0.0.1", 81)};
    xg_host *p1[] = {host(1, "10.0.0.2", 82), host(2, "10.0.0.3", 83)};
    xg_host_set sets[2] = {{.priority = 0, .hosts = p0, .n = 1, .healthy = NULL, .n_healthy = 0},
                           {.priority = 1, .hosts = p1, .n = 2, .healthy = p1, .n_healthy = 2}};
    xg_cluster_rt rt = {.sets = sets, .n_sets = 2};
    char buf[256];
    CHECK_EQ_INT(xg_rls_cluster_target(&rt, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "ipv4:10.0.0.2:82,10.0.0.3:83");
    /* nobody healthy: the first priority's hosts (Envoy's panic) */
    sets[1].n_healthy = 0;
    CHECK_EQ_INT(xg_rls_cluster_target(&rt, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "ipv4:10.0.0.1:81");
}

XG_TEST(no_host)
{
    xg_cluster_rt rt = {.n_sets = 0};
    char buf[64];
    CHECK_EQ_INT(xg_rls_cluster_target(&rt, buf, sizeof(buf)), XG_ENOENT);
    xg_host_set empty = {.n = 0};
    rt.sets = &empty;
    rt.n_sets = 1;
    CHECK_EQ_INT(xg_rls_cluster_target(&rt, buf, sizeof(buf)), XG_ENOENT);
}

XG_TEST(one_family_and_what_fits)
{
    xg_host *hs[] = {host(0, "::1", 90), host(1, "127.0.0.1", 91), host(2, "fe80::2", 92)};
    xg_host_set set = {.hosts = hs, .n = 3, .healthy = hs, .n_healthy = 3};
    xg_cluster_rt rt = {.sets = &set, .n_sets = 1};
    char buf[256];
    CHECK_EQ_INT(xg_rls_cluster_target(&rt, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "ipv6:[::1]:90,[fe80::2]:92");
    /* room for the first host only */
    CHECK_EQ_INT(xg_rls_cluster_target(&rt, buf, 20), 0);
    CHECK_STR(buf, "ipv6:[::1]:90");
    CHECK_EQ_INT(xg_rls_cluster_target(&rt, buf, 10), XG_ERANGE);
}
