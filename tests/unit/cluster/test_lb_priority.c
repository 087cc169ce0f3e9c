/* Unit tests for priorities, panic mode and localities
 * (src/cluster/priority*.c): the priority loads of Envoy's "Priority levels"
 * tables and its LoadBalancerBase arithmetic (rounding leftovers to the first
 * available priority, degraded hosts taking what healthy ones cannot),
 * panic per priority and total panic by host counts, panic disabled, the
 * hash-to-priority mapping; then through a cluster: spill-over shares, panic
 * routing to unhealthy hosts, excluded hosts, the overprovisioning factor
 * of the assignment, and the locality weights table of Envoy's "Locality
 * weighted load balancing". */
#include <arpa/inet.h>
#include <stdlib.h>

#include "cluster/cluster.h"
#include "cluster/cluster_util.h"
#include "cluster/priority.h"
#include "xg_test.h"

/* A set with n hosts of which h healthy and d degraded. */
static xg_host_set mkset(uint32_t n, uint32_t h, uint32_t d, uint32_t factor)
{
    return (xg_host_set){.n = n, .n_healthy = h, .n_degraded = d, .overprovisioning = factor};
}

static void check_loads(xg_host_set *s, uint32_t n, const int *healthy, const int *degraded, int line)
{
    for (uint32_t i = 0; i < n; i++) {
        if (s[i].load_healthy != healthy[i] || (degraded && s[i].load_degraded != degraded[i])) {
            fprintf(stderr, "line %d: P%u load %u/%u, want %d/%d\n", line, i, s[i].load_healthy, s[i].load_degraded,
                    healthy[i], degraded ? degraded[i] : 0);
            CHECK(false);
        }
    }
}
#define LOADS(s, n, ...) check_loads(s, n, (const int[]){__VA_ARGS__}, NULL, __LINE__)

XG_TEST(two_priorities_p1_healthy)
{
    /* Envoy's table: P=0 healthy 100 / 72 / 71 / 50 / 25 / 0 % -> 100 / 100 / 99 / 70 / 35 / 0 %. */
    static const uint32_t hosts[] = {4, 25, 100, 2, 4, 1}, healthy[] = {4, 18, 71, 1, 1, 0};
    static const int want[] = {100, 100, 99, 70, 35, 0};
    for (int k = 0; k < 6; k++) {
        xg_host_set s[2] = {mkset(hosts[k], healthy[k], 0, 140), mkset(3, 3, 0, 140)};
        xg_prio_update(s, 2, 50);
        LOADS(s, 2, want[k], 100 - want[k]);
        CHECK(!s[0].panic && !s[1].panic); /* total health 100: nobody panics */
    }
}

XG_TEST(normalised_when_total_health_below_100)
{
    /* 71 % / 71 %: 99 / 1; 50 % / 50 %: 70 / 30; 25 % / 100 %: 35 / 65 */
    xg_host_set a[2] = {mkset(100, 71, 0, 140), mkset(100, 71, 0, 140)};
    xg_prio_update(a, 2, 50);
    LOADS(a, 2, 99, 1);
    xg_host_set b[2] = {mkset(2, 1, 0, 140), mkset(2, 1, 0, 140)};
    xg_prio_update(b, 2, 50);
    LOADS(b, 2, 70, 30);
    /* 25 % / 25 %: health 35 + 35 = 70 < 100, both below the panic
     * threshold: total panic, shares by host count. */
    xg_host_set c[2] = {mkset(4, 1, 0, 140), mkset(4, 1, 0, 140)};
    xg_prio_update(c, 2, 50);
    LOADS(c, 2, 50, 50);
    CHECK(c[0].panic && c[1].panic);
    /* Three priorities: 25 / 25 / 100 % -> 35 / 35 / 30; 25 / 25 / 20 %: health
     * 35 + 35 + 28 = 98, 35 / 35 / 28 and the 2 left over to P0. */
    xg_host_set d[3] = {mkset(4, 1, 0, 140), mkset(4, 1, 0, 140), mkset(1, 1, 0, 140)};
    xg_prio_update(d, 3, 50);
    LOADS(d, 3, 35, 35, 30);
    xg_host_set e[3] = {mkset(4, 1, 0, 140), mkset(4, 1, 0, 140), mkset(5, 1, 0, 140)};
    xg_prio_update(e, 3, 0);
    LOADS(e, 3, 37, 35, 28);
}

XG_TEST(panic_per_priority)
{
    /* Envoy's panic table: P0 5 % (health 7), P1 65 % (91): total 98 < 100,
     * P0 below 50 % panics and keeps its share (7 + 1 left over), P1 not. */
    xg_host_set s[2] = {mkset(20, 1, 0, 140), mkset(20, 13, 0, 140)};
    xg_prio_update(s, 2, 50);
    LOADS(s, 2, 8, 92);
    CHECK(s[0].panic && !s[1].panic);
    /* The threshold counts degraded hosts as usable. */
    xg_host_set t[1] = {mkset(10, 3, 2, 140)};
    xg_prio_update(t, 1, 50);
    CHECK(!t[0].panic);
    xg_prio_update(t, 1, 51);
    CHECK(t[0].panic);
    /* Nothing usable anywhere: total panic by host counts (an empty
     * priority gets nothing), or P0 without panic when disabled. */
    xg_host_set u[3] = {mkset(1, 0, 0, 140), mkset(0, 0, 0, 140), mkset(3, 0, 0, 140)};
    xg_prio_update(u, 3, 50);
    LOADS(u, 3, 25, 0, 75);
    CHECK(u[0].panic && u[2].panic);
    xg_prio_update(u, 3, 0);
    LOADS(u, 3, 100, 0, 0);
    CHECK(!u[0].panic && !u[2].panic);
}

XG_TEST(degraded_takes_what_healthy_cannot)
{
    /* Envoy's comment: availability 10/20/10 % healthy and 20/10/0 %
     * degraded (factor 100) -> healthy 16/28/14 %, degraded 28/14/0 %. */
    xg_host_set s[3] = {mkset(10, 1, 2, 100), mkset(10, 2, 1, 100), mkset(10, 1, 0, 100)};
    xg_prio_update(s, 3, 0);
    check_loads(s, 3, (const int[]){16, 28, 14}, (const int[]){28, 14, 0}, __LINE__);
    /* Only degraded hosts: they take everything. */
    xg_host_set t[2] = {mkset(1, 0, 0, 140), mkset(2, 0, 2, 140)};
    xg_prio_update(t, 2, 50);
    check_loads(t, 2, (const int[]){0, 0}, (const int[]){0, 100}, __LINE__);
    bool degraded;
    CHECK_EQ_INT(xg_prio_choose(t, 2, 12345, &degraded), 1);
    CHECK(degraded);
}

XG_TEST(choose_maps_hash_mod_100)
{
    xg_host_set s[2] = {mkset(2, 1, 0, 140), mkset(1, 1, 0, 140)}; /* 70 / 30 */
    xg_prio_update(s, 2, 50);
    bool d;
    CHECK_EQ_INT(xg_prio_choose(s, 2, 69, &d), 0); /* 69 % 100 + 1 = 70 <= 70 */
    CHECK_EQ_INT(xg_prio_choose(s, 2, 70, &d), 1);
    CHECK_EQ_INT(xg_prio_choose(s, 2, 169, &d), 0);
    CHECK(!d);
}

/* --- through a cluster --- */

static xg_clusters *mk_clusters(void)
{
    xg_clusters *cs = NULL;
    xg_clusters_opts o = {.seed = 77};
    XG_ASSERT(xg_clusters_new(NULL, &o, &cs) == 0);
    return cs;
}

static xg_cluster_rt *install(xg_clusters *cs, xg_res *cluster, xg_res *eds)
{
    xg_snapshot *s = tu_snap(1, &cluster, 1, eds ? &eds : NULL, eds ? 1 : 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s), 0);
    xg_snapshot_unref(s);
    return xg_clusters_find(cs, "web", 3);
}

static uint16_t port_of(const xg_host *h)
{
    return ntohs(((const struct sockaddr_in *)&h->addr)->sin_port);
}

/* How many of n picks land on ports [lo, hi]. */
static int picks_in(xg_cluster_rt *rt, uint16_t lo, uint16_t hi, int n)
{
    int hits = 0;
    for (int i = 0; i < n; i++) {
        xg_host *h = xg_cluster_pick(rt, NULL);
        hits += h != NULL && port_of(h) >= lo && port_of(h) <= hi;
    }
    return hits;
}

XG_TEST(spill_over_and_panic_through_a_cluster)
{
    xg_clusters *cs = mk_clusters();
    /* P0: 1 healthy of 4 (35 %), P1: 2 healthy (65 %). */
    tep eps[] = {{"10.0.0.1", 81, 1, XG_HEALTH_HEALTHY, 0},   {"10.0.0.2", 82, 1, XG_HEALTH_UNHEALTHY, 0},
                 {"10.0.0.3", 83, 1, XG_HEALTH_UNHEALTHY, 0}, {"10.0.0.4", 84, 1, XG_HEALTH_UNHEALTHY, 0},
                 {"10.0.0.5", 91, 1, XG_HEALTH_HEALTHY, 1},   {"10.0.0.6", 92, 1, XG_HEALTH_HEALTHY, 1}};
    xg_cluster_rt *rt = install(cs, tu_cluster("web", eps, 6, NULL), NULL);
    int n = 20000, p0 = picks_in(rt, 81, 81, n);
    CHECK(p0 > n * 33 / 100 && p0 < n * 37 / 100); /* sd ~ 0.34 % */
    CHECK_EQ_INT(picks_in(rt, 82, 84, n), 0);
    xg_clusters_free(cs);

    /* Without P1: P0 is in panic and balances over all four hosts. */
    cs = mk_clusters();
    rt = install(cs, tu_cluster("web", eps, 4, NULL), NULL);
    CHECK(rt->sets[0].panic);
    CHECK_EQ_INT(picks_in(rt, 82, 84, 4000), 3000);
    /* Health returns: out of panic, unhealthy hosts get nothing again. */
    for (uint32_t i = 1; i < 4; i++)
        rt->sets[0].hosts[i]->eds_health = XG_HEALTH_HEALTHY;
    rt->sets[0].hosts[0]->flags |= XG_HOST_F_HC_FAILED;
    CHECK_EQ_INT(xg_cluster_hosts_changed(rt), 0);
    CHECK(!rt->sets[0].panic && rt->sets[0].lb_all == NULL);
    CHECK_EQ_INT(picks_in(rt, 81, 81, 1000), 0);
    xg_clusters_free(cs);
}

XG_TEST(excluded_hosts_do_not_count)
{
    xg_clusters *cs = mk_clusters();
    tep eps[] = {{"10.0.0.1", 81, 1, 0, 0},
                 {"10.0.0.2", 82, 1, 0, 0},
                 {"10.0.0.3", 83, 1, 0, 0},
                 {"10.0.0.4", 84, 1, 0, 0},
                 {"10.0.0.5", 91, 1, 0, 1}};
    xg_cluster_rt *rt = install(cs, tu_cluster("web", eps, 5, NULL), NULL);
    /* Two of four hosts fail their health check: health 70, 30 % spills to
     * P1. Waiting for a first check instead: they do not count, P0 keeps all. */
    rt->sets[0].hosts[2]->flags = XG_HOST_F_HC_FAILED;
    rt->sets[0].hosts[3]->flags = XG_HOST_F_HC_FAILED;
    CHECK_EQ_INT(xg_cluster_hosts_changed(rt), 0);
    CHECK_EQ_INT(rt->sets[0].load_healthy, 70);
    rt->sets[0].hosts[2]->flags = XG_HOST_F_PENDING_FIRST_HC;
    rt->sets[0].hosts[3]->flags = XG_HOST_F_PENDING_FIRST_HC;
    CHECK_EQ_INT(xg_cluster_hosts_changed(rt), 0);
    CHECK_EQ_INT(rt->sets[0].load_healthy, 100);
    CHECK_EQ_INT(picks_in(rt, 83, 84, 1000), 0);
    xg_clusters_free(cs);
}

XG_TEST(overprovisioning_factor_from_the_assignment)
{
    xg_clusters *cs = mk_clusters();
    tep eps[] = {{"10.0.0.1", 81, 1, 0, 0}, {"10.0.0.2", 82, 1, XG_HEALTH_UNHEALTHY, 0}, {"10.0.0.5", 91, 1, 0, 1}};
    xg_res *e = tu_eds("web", eps, 3);
    ((xg_endpoints *)e->body)->overprovisioning_factor = 100;
    xg_cluster_rt *rt = install(cs, tu_cluster("web", NULL, 0, NULL), e);
    CHECK_EQ_INT(rt->sets[0].load_healthy, 50); /* 1 of 2 at factor 100 (140: 70) */
    xg_clusters_free(cs);
}

/* --- localities --- */

/* An assignment of two localities at priority 0: X (weight 1) with 100
 * hosts of which x_healthy healthy, ports 1000..1099, and Y (weight 2) with
 * 100 healthy hosts, ports 2000..2099. */
static xg_res *two_localities(uint32_t x_healthy, uint32_t wx, uint32_t wy)
{
    tep *eps = calloc(200, sizeof *eps);
    char(*ips)[32] = calloc(200, 32);
    for (int i = 0; i < 200; i++) {
        snprintf(ips[i], 32, "10.1.%d.%d", i / 100, i % 100);
        eps[i] = (tep){ips[i], (uint16_t)(i < 100 ? 1000 + i : 1900 + i), 1,
                       i < 100 && (uint32_t)i >= x_healthy ? XG_HEALTH_UNHEALTHY : XG_HEALTH_HEALTHY, 0};
    }
    xg_res *r = tu_eds("web", eps, 200);
    xg_endpoints *e = r->body;
    /* tu_eds puts a priority in one locality: split it in two. */
    xg_locality_endpoints *l = xg_arena_calloc(&r->arena, 2, sizeof *l);
    l[0] = e->localities[0];
    l[1] = e->localities[0];
    l[0].n_endpoints = 100;
    l[0].zone = "x";
    l[0].weight = wx;
    l[1].endpoints += 100;
    l[1].n_endpoints = 100;
    l[1].zone = "y";
    l[1].weight = wy;
    e->localities = l;
    e->n_localities = 2;
    free(eps);
    free(ips);
    return r;
}

static void locality_weighted(xg_cluster *c)
{
    c->lb.locality_weighted = true;
}

XG_TEST(locality_weights_follow_envoys_table)
{
    /* X healthy 100 / 70 / 69 / 50 / 25 / 0 % -> X gets 33 / 33 / 32 / 26 / 15 / 0 %. */
    static const uint32_t healthy[] = {100, 70, 69, 50, 25, 0};
    static const double want[] = {1 / 3.0, 0.98 / 2.98, 0.966 / 2.966, 0.7 / 2.7, 0.35 / 2.35, 0};
    for (int k = 0; k < 6; k++) {
        xg_clusters *cs = mk_clusters();
        xg_cluster_rt *rt =
            install(cs, tu_cluster("web", NULL, 0, locality_weighted), two_localities(healthy[k], 1, 2));
        if (!CHECK(rt != NULL && rt->sets[0].loc != NULL))
            return;
        int n = 30000, x = picks_in(rt, 1000, 1099, n);
        if (!CHECK(x >= (int)(want[k] * n) - 30 && x <= (int)(want[k] * n) + 30))
            fprintf(stderr, "  X healthy %u: %d of %d\n", healthy[k], x, n);
        CHECK_EQ_INT(picks_in(rt, 1000 + healthy[k], 1099, 1000), 0);
        xg_clusters_free(cs);
    }
}

XG_TEST(locality_weights_off_or_absent_balance_the_set)
{
    /* Not asked for: hosts are balanced as one set (X healthy 100: 50 %). */
    xg_clusters *cs = mk_clusters();
    xg_cluster_rt *rt = install(cs, tu_cluster("web", NULL, 0, NULL), two_localities(100, 1, 2));
    CHECK(rt->sets[0].loc == NULL);
    CHECK_EQ_INT(picks_in(rt, 1000, 1099, 10000), 5000);
    xg_clusters_free(cs);
    /* Asked for but no locality has a weight: the same (Envoy). */
    cs = mk_clusters();
    rt = install(cs, tu_cluster("web", NULL, 0, locality_weighted), two_localities(100, 0, 0));
    CHECK(rt->sets[0].loc == NULL);
    CHECK_EQ_INT(picks_in(rt, 1000, 1099, 10000), 5000);
    xg_clusters_free(cs);
    /* A locality without a weight next to one with: it gets nothing. */
    cs = mk_clusters();
    rt = install(cs, tu_cluster("web", NULL, 0, locality_weighted), two_localities(100, 0, 3));
    CHECK_EQ_INT(picks_in(rt, 1000, 1099, 10000), 0);
    xg_clusters_free(cs);
}

static void ring_locality(xg_cluster *c)
{
    c->lb.policy = XG_LB_RING_HASH;
    c->lb.ring_min = 1024;
    c->lb.ring_max = 8388608;
    c->lb.locality_weighted = true;
}

XG_TEST(hashed_policies_fold_locality_weights_into_the_ring)
{
    xg_clusters *cs = mk_clusters();
    xg_cluster_rt *rt = install(cs, tu_cluster("web", NULL, 0, ring_locality), two_localities(100, 1, 3));
    CHECK(rt->sets[0].loc == NULL);
    int x = 0, n = 40000;
    for (int i = 0; i < n; i++) {
        uint64_t k = (uint64_t)i;
        xg_lb_ctx c = {.hash = xg__splitmix64(&k), .has_hash = true};
        uint16_t p = port_of(xg_cluster_pick(rt, &c));
        x += p >= 1000 && p <= 1099;
    }
    CHECK(x > n * 21 / 100 && x < n * 29 / 100); /* 1 / (1 + 3) */
    xg_clusters_free(cs);
}
