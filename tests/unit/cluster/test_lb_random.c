/* Unit tests for RANDOM (src/cluster/lb_random.c): uniform over the hosts
 * within statistical bounds (fixed seed), weights not consulted (as in
 * Envoy), different seeds give different sequences. */
#include "cluster/lb_util.h"
#include "xg_test.h"

XG_TEST(uniform_and_weights_ignored)
{
    xg_rng rng;
    xg_rng_seed(&rng, 21);
    enum { N = 5, PICKS = 50000 };
    xg_host *hs[N];
    lu_hosts(hs, N);
    hs[0]->weight = 10; /* ignored, as in Envoy */
    xg_lb *lb = lu_lb(&xg_lb_random, NULL, hs, N, &rng);
    int got[N] = {0};
    for (int i = 0; i < PICKS; i++)
        got[lu_index(hs, N, xg_lb_pick(lb, NULL))]++;
    /* expected 10000 each; sd = sqrt(50000 * 0.2 * 0.8) ~ 89: 5 sd bounds */
    double chi2 = 0;
    for (int i = 0; i < N; i++) {
        CHECK(got[i] > 9550 && got[i] < 10450);
        chi2 += (got[i] - 10000.0) * (got[i] - 10000.0) / 10000.0;
    }
    CHECK(chi2 < 18.5); /* chi-square, 4 degrees of freedom, p = 0.001 */
    xg_lb_destroy(lb);
    lu_free(hs, N);
}

XG_TEST(seeds_differ)
{
    xg_host *hs[8];
    lu_hosts(hs, 8);
    xg_rng a, b;
    xg_rng_seed(&a, 1);
    xg_rng_seed(&b, 2);
    xg_lb *la = lu_lb(&xg_lb_random, NULL, hs, 8, &a), *lb = lu_lb(&xg_lb_random, NULL, hs, 8, &b);
    int same = 0;
    for (int i = 0; i < 64; i++)
        same += xg_lb_pick(la, NULL) == xg_lb_pick(lb, NULL);
    CHECK(same < 32);
    xg_lb_destroy(la);
    xg_lb_destroy(lb);
    lu_free(hs, 8);
}
