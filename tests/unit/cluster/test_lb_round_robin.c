/* Unit tests for the round-robin balancer (src/cluster/lb_round_robin.c)
 * and host picking through a cluster (src/cluster/cluster.c): weights are
 * respected exactly over a cycle and interleaved, equal weights rotate, a
 * rebuild keeps the rotation going, unusable hosts are never picked,
 * degraded hosts take what the healthy ones cannot (Envoy's priority load),
 * failover between priorities. The priority arithmetic itself is tested in
 * test_lb_priority.c. */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/cluster_util.h"
#include "cluster/lb.h"
#include "core/error.h"
#include "xg_test.h"

static xg_host *mk_host(uint32_t weight, int i)
{
    xg_host *h = calloc(1, sizeof *h);
    h->weight = weight;
    h->refs = 1;
    snprintf(h->addr_str, sizeof h->addr_str, "h%d", i);
    return h;
}

static int index_of(xg_host *const *hs, size_t n, const xg_host *h)
{
    for (size_t i = 0; i < n; i++)
        if (hs[i] == h)
            return (int)i;
    return -1;
}

static xg_lb_config cfg_rr = {.policy = XG_LB_ROUND_ROBIN};

static int rr_init(xg_lb **out, xg_host **hs, size_t n, xg_lb *prev, xg_rng *rng)
{
    xg_lb_hosts in = {hs, NULL, n};
    return xg_lb_round_robin.init(out, &cfg_rr, &in, prev, rng);
}

XG_TEST(weights_are_exact_over_a_cycle_and_interleaved)
{
    xg_rng rng;
    xg_rng_seed(&rng, 1);
    xg_host *hs[3] = {mk_host(1, 0), mk_host(2, 1), mk_host(3, 2)};
    xg_lb *lb = NULL;
    CHECK_EQ_INT(rr_init(&lb, hs, 3, NULL, &rng), 0);
    int counts[3] = {0};
    int max_run = 0, run = 0, last = -1;
    for (int i = 0; i < 6000; i++) {
        int k = index_of(hs, 3, xg_lb_pick(lb, &(xg_lb_ctx){0}));
        CHECK(k >= 0);
        counts[k]++;
        run = k == last ? run + 1 : 1;
        max_run = run > max_run ? run : max_run;
        last = k;
    }
    /* EDF: each host within one pick of its share, never a long burst. */
    CHECK(abs(counts[0] - 1000) <= 1);
    CHECK(abs(counts[1] - 2000) <= 1);
    CHECK(abs(counts[2] - 3000) <= 1);
    CHECK(max_run <= 3);
    xg_lb_destroy(lb);
    for (int i = 0; i < 3; i++)
        free(hs[i]);
}

XG_TEST(large_weight_spread_stays_proportional)
{
    xg_rng rng;
    xg_rng_seed(&rng, 7);
    enum { N = 50 };
    xg_host *hs[N];
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        hs[i] = mk_host((uint32_t)(i * 7 % 23 + 1), i);
        total += hs[i]->weight;
    }
    xg_lb *lb = NULL;
    CHECK_EQ_INT(rr_init(&lb, hs, N, NULL, &rng), 0);
    int counts[N] = {0};
    for (uint64_t i = 0; i < total * 100; i++)
        counts[index_of(hs, N, xg_lb_pick(lb, &(xg_lb_ctx){0}))]++;
    for (int i = 0; i < N; i++)
        CHECK(abs(counts[i] - (int)hs[i]->weight * 100) <= 1);
    xg_lb_destroy(lb);
    for (int i = 0; i < N; i++)
        free(hs[i]);
}

XG_TEST(equal_weights_rotate_from_a_random_start)
{
    xg_host *hs[4] = {mk_host(5, 0), mk_host(5, 1), mk_host(5, 2), mk_host(5, 3)};
    int starts[4] = {0};
    for (uint64_t seed = 1; seed <= 64; seed++) {
        xg_rng rng;
        xg_rng_seed(&rng, seed);
        xg_lb *lb = NULL;
        CHECK_EQ_INT(rr_init(&lb, hs, 4, NULL, &rng), 0);
        int first = index_of(hs, 4, xg_lb_pick(lb, NULL));
        starts[first]++;
        for (int i = 1; i < 12; i++)
            CHECK_EQ_INT(index_of(hs, 4, xg_lb_pick(lb, NULL)), (first + i) % 4);
        xg_lb_destroy(lb);
    }
    /* Workers do not all start on the same host. */
    for (int i = 0; i < 4; i++)
        CHECK(starts[i] > 0);
    for (int i = 0; i < 4; i++)
        free(hs[i]);
}

XG_TEST(rebuild_carries_the_rotation_over)
{
    xg_rng rng;
    xg_rng_seed(&rng, 3);
    xg_host *hs[4] = {mk_host(1, 0), mk_host(1, 1), mk_host(1, 2), mk_host(1, 3)};
    xg_lb *a = NULL, *b = NULL;
    CHECK_EQ_INT(rr_init(&a, hs, 3, NULL, &rng), 0);
    int first = index_of(hs, 3, xg_lb_pick(a, NULL));
    int second = index_of(hs, 3, xg_lb_pick(a, NULL));
    CHECK_EQ_INT(second, (first + 1) % 3);
    /* A fourth host joins: the cursor continues where it was. */
    CHECK_EQ_INT(rr_init(&b, hs, 4, a, &rng), 0);
    xg_lb_destroy(a);
    CHECK_EQ_INT(index_of(hs, 4, xg_lb_pick(b, NULL)), (second + 1) % 3);
    xg_lb_destroy(b);

    /* Weighted: a host that was just picked is not picked again first. */
    hs[0]->weight = 3;
    CHECK_EQ_INT(rr_init(&a, hs, 2, NULL, &rng), 0);
    xg_host *last = NULL;
    for (int i = 0; i < 5; i++)
        last = xg_lb_pick(a, NULL);
    hs[1]->weight = 1;
    CHECK_EQ_INT(rr_init(&b, hs, 2, a, &rng), 0);
    xg_lb_destroy(a);
    int counts[2] = {0};
    for (int i = 0; i < 400; i++)
        counts[index_of(hs, 2, xg_lb_pick(b, NULL))]++;
    CHECK(abs(counts[0] - 300) <= 1);
    CHECK(hs[0]->lb_mark == 0 && hs[1]->lb_mark == 0); /* scratch cleared */
    (void)last;
    xg_lb_destroy(b);
    for (int i = 0; i < 4; i++)
        free(hs[i]);
}

/* --- through a cluster --- */

static xg_clusters *mk_clusters(void)
{
    xg_clusters *cs = NULL;
    xg_clusters_opts o = {.seed = 42};
    XG_ASSERT(xg_clusters_new(NULL, &o, &cs) == 0);
    return cs;
}

static xg_cluster_rt *one_cluster(xg_clusters *cs, const tep *eps, size_t n)
{
    xg_res *c = tu_cluster("web", eps, n, NULL);
    xg_snapshot *s = tu_snap(1, &c, 1, NULL, 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s), 0);
    xg_snapshot_unref(s);
    return xg_clusters_find(cs, "web", 3);
}

static int picks_of(xg_cluster_rt *rt, uint16_t port, int n)
{
    int hits = 0;
    for (int i = 0; i < n; i++) {
        xg_host *h = xg_cluster_pick(rt, &(xg_lb_ctx){0});
        struct sockaddr_in *in = (struct sockaddr_in *)&h->addr;
        hits += ntohs(in->sin_port) == port;
    }
    return hits;
}

XG_TEST(unhealthy_draining_timeout_never_picked)
{
    xg_clusters *cs = mk_clusters();
    tep eps[] = {
        {"10.0.0.1", 81, 1, XG_HEALTH_HEALTHY, 0},  {"10.0.0.2", 82, 1, XG_HEALTH_UNHEALTHY, 0},
        {"10.0.0.3", 83, 1, XG_HEALTH_DRAINING, 0}, {"10.0.0.4", 84, 1, XG_HEALTH_TIMEOUT, 0},
        {"10.0.0.5", 85, 1, XG_HEALTH_UNKNOWN, 0},  {"10.0.0.6", 86, 1, XG_HEALTH_DEGRADED, 0},
        {"10.0.0.7", 87, 1, XG_HEALTH_HEALTHY, 0},  {"10.0.0.8", 88, 1, XG_HEALTH_HEALTHY, 0},
    };
    xg_cluster_rt *rt = one_cluster(cs, eps, 8);
    if (!CHECK(rt != NULL))
        return;
    CHECK_EQ_INT(rt->n_hosts, 8);
    /* 4 of 8 healthy: health 140 * 4 / 8 = 70, degraded 140 / 8 = 17, total
     * 87: healthy 70 * 100 / 87 = 80 (+1 rounding) = 81 %, degraded 19 %. */
    CHECK_EQ_INT(rt->sets[0].load_healthy, 81);
    CHECK_EQ_INT(rt->sets[0].load_degraded, 19);
    CHECK(!rt->sets[0].panic);
    int n = 20000;
    for (uint16_t port = 82; port <= 84; port++)
        CHECK_EQ_INT(picks_of(rt, port, n), 0);
    int d = picks_of(rt, 86, n);
    CHECK(d > n * 17 / 100 && d < n * 21 / 100);
    xg_clusters_free(cs);
}

static void no_panic(xg_cluster *c)
{
    c->lb.healthy_panic_threshold = 0;
}

XG_TEST(degraded_when_nothing_healthy_and_none_is_uh_without_panic)
{
    xg_clusters *cs = mk_clusters();
    tep eps[] = {{"10.0.0.1", 81, 1, XG_HEALTH_UNHEALTHY, 0}, {"10.0.0.2", 82, 1, XG_HEALTH_DEGRADED, 1}};
    xg_cluster_rt *rt = one_cluster(cs, eps, 2);
    CHECK_EQ_INT(picks_of(rt, 82, 10), 10);
    xg_clusters_free(cs);

    /* Nothing usable: with panic mode (the default 50 %) every host takes
     * traffic, as in Envoy; with healthy_panic_threshold 0 nothing does. */
    tep none[] = {{"10.0.0.1", 81, 1, XG_HEALTH_UNHEALTHY, 0}, {"10.0.0.2", 82, 1, XG_HEALTH_DRAINING, 0}};
    cs = mk_clusters();
    rt = one_cluster(cs, none, 2);
    CHECK(rt->sets[0].panic);
    CHECK_EQ_INT(picks_of(rt, 81, 100), 50);
    xg_clusters_free(cs);

    cs = mk_clusters();
    xg_res *c = tu_cluster("web", none, 2, no_panic);
    xg_snapshot *s = tu_snap(1, &c, 1, NULL, 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s), 0);
    xg_snapshot_unref(s);
    rt = xg_clusters_find(cs, "web", 3);
    CHECK(xg_cluster_pick(rt, &(xg_lb_ctx){0}) == NULL);
    xg_clusters_free(cs);

    cs = mk_clusters();
    rt = one_cluster(cs, none, 0);
    CHECK(rt != NULL && xg_cluster_pick(rt, &(xg_lb_ctx){0}) == NULL);
    xg_clusters_free(cs);
}

XG_TEST(highest_priority_with_healthy_hosts_wins)
{
    xg_clusters *cs = mk_clusters();
    tep eps[] = {
        {"10.0.0.1", 81, 1, XG_HEALTH_HEALTHY, 0},
        {"10.0.0.2", 82, 1, XG_HEALTH_HEALTHY, 1},
        {"10.0.0.3", 83, 1, XG_HEALTH_HEALTHY, 2},
    };
    xg_cluster_rt *rt = one_cluster(cs, eps, 3);
    CHECK_EQ_INT(rt->n_sets, 3);
    CHECK_EQ_INT(picks_of(rt, 81, 20), 20);
    /* Health checking (issue 5) takes the priority-0 host out: priority 1 serves. */
    xg_host *h0 = rt->sets[0].hosts[0];
    h0->flags |= XG_HOST_F_HC_FAILED;
    CHECK_EQ_INT(xg_cluster_hosts_changed(rt), 0);
    CHECK_EQ_INT(picks_of(rt, 82, 20), 20);
    h0->flags = 0;
    CHECK_EQ_INT(xg_cluster_hosts_changed(rt), 0);
    CHECK_EQ_INT(picks_of(rt, 81, 20), 20);
    xg_clusters_free(cs);
}

XG_TEST(weights_through_the_cluster)
{
    xg_clusters *cs = mk_clusters();
    tep eps[] = {{"10.0.0.1", 81, 1, XG_HEALTH_HEALTHY, 0}, {"10.0.0.2", 82, 4, XG_HEALTH_HEALTHY, 0}};
    xg_cluster_rt *rt = one_cluster(cs, eps, 2);
    CHECK_EQ_INT(picks_of(rt, 82, 5000), 4000);
    xg_clusters_free(cs);
}
