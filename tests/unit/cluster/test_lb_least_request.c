/* Unit tests for LEAST_REQUEST (src/cluster/lb_least_request.c), fixed
 * seeds and statistical bounds: with equal weights and equal load the
 * choices spread evenly; a busy host is picked only when every sample lands
 * on it ((1/n)^choice_count); more choices find the idle host more often;
 * unequal weights give an EDF schedule proportional to weight at equal
 * load, scaled by 1 / (active + 1)^bias under load; bias 0 ignores load. */
#include "cluster/lb_util.h"
#include "xg_test.h"

static xg_lb_config cfg(uint32_t choices, double bias)
{
    return (xg_lb_config){.policy = XG_LB_LEAST_REQUEST, .choice_count = choices, .active_request_bias = bias};
}

static void count(xg_lb *lb, xg_host **hs, int n, int picks, int *out)
{
    for (int i = 0; i < n; i++)
        out[i] = 0;
    for (int i = 0; i < picks; i++)
        out[lu_index(hs, n, xg_lb_pick(lb, NULL))]++;
}

XG_TEST(equal_load_spreads_evenly)
{
    xg_rng rng;
    xg_rng_seed(&rng, 11);
    xg_host *hs[4];
    lu_hosts(hs, 4);
    xg_lb_config c = cfg(2, 1.0);
    xg_lb *lb = lu_lb(&xg_lb_least_request, &c, hs, 4, &rng);
    int got[4];
    count(lb, hs, 4, 40000, got);
    for (int i = 0; i < 4; i++)
        CHECK(got[i] > 9400 && got[i] < 10600);
    xg_lb_destroy(lb);
    lu_free(hs, 4);
}

XG_TEST(busy_host_only_when_every_choice_lands_on_it)
{
    xg_rng rng;
    xg_rng_seed(&rng, 12);
    xg_host *hs[4];
    lu_hosts(hs, 4);
    hs[0]->active_requests = 10;
    xg_lb_config c2 = cfg(2, 1.0), c3 = cfg(3, 1.0);
    xg_lb *lb = lu_lb(&xg_lb_least_request, &c2, hs, 4, &rng);
    int got[4];
    count(lb, hs, 4, 40000, got);
    /* P(busy) = (1/4)^2 = 6.25 % of 40000 = 2500 */
    CHECK(got[0] > 2200 && got[0] < 2800);
    xg_lb_destroy(lb);
    lb = lu_lb(&xg_lb_least_request, &c3, hs, 4, &rng);
    count(lb, hs, 4, 40000, got);
    /* (1/4)^3 = 1.5625 % = 625 */
    CHECK(got[0] > 480 && got[0] < 780);
    xg_lb_destroy(lb);
    lu_free(hs, 4);
}

XG_TEST(weighted_schedule_follows_weights_at_equal_load)
{
    xg_rng rng;
    xg_rng_seed(&rng, 13);
    xg_host *hs[3];
    lu_hosts(hs, 3);
    hs[0]->weight = 1, hs[1]->weight = 2, hs[2]->weight = 3;
    xg_lb_config c = cfg(2, 1.0);
    xg_lb *lb = lu_lb(&xg_lb_least_request, &c, hs, 3, &rng);
    int got[3];
    count(lb, hs, 3, 6000, got);
    CHECK(abs(got[0] - 1000) <= 2 && abs(got[1] - 2000) <= 2 && abs(got[2] - 3000) <= 2);
    xg_lb_destroy(lb);
    lu_free(hs, 3);
}

XG_TEST(weighted_schedule_is_scaled_by_load)
{
    xg_rng rng;
    xg_rng_seed(&rng, 14);
    xg_host *hs[2];
    lu_hosts(hs, 2);
    hs[0]->weight = 2, hs[1]->weight = 1;
    hs[0]->active_requests = 3; /* effective weight 2 / 4 = 0.5 against 1 / 1 */
    xg_lb_config c = cfg(2, 1.0);
    xg_lb *lb = lu_lb(&xg_lb_least_request, &c, hs, 2, &rng);
    int got[2];
    count(lb, hs, 2, 3000, got);
    CHECK(abs(got[0] - 1000) <= 3);
    xg_lb_destroy(lb);

    /* bias 2: 2 / 4^2 = 0.125 against 1: 1/9 of the picks */
    c = cfg(2, 2.0);
    lb = lu_lb(&xg_lb_least_request, &c, hs, 2, &rng);
    count(lb, hs, 2, 9000, got);
    CHECK(abs(got[0] - 1000) <= 3);
    xg_lb_destroy(lb);

    /* bias 0: plain weighted round robin, load ignored */
    c = cfg(2, 0.0);
    lb = lu_lb(&xg_lb_least_request, &c, hs, 2, &rng);
    count(lb, hs, 2, 3000, got);
    CHECK(abs(got[0] - 2000) <= 3);
    xg_lb_destroy(lb);
    lu_free(hs, 2);
}

XG_TEST(single_host_and_many_choices)
{
    xg_rng rng;
    xg_rng_seed(&rng, 15);
    xg_host *hs[8];
    lu_hosts(hs, 8);
    xg_lb_config c = cfg(2, 1.0);
    xg_lb *lb = lu_lb(&xg_lb_least_request, &c, hs, 1, &rng);
    for (int i = 0; i < 10; i++)
        CHECK(xg_lb_pick(lb, NULL) == hs[0]);
    xg_lb_destroy(lb);
    /* 100 choices over 8 hosts: the one idle host is (almost) always found */
    for (int i = 0; i < 8; i++)
        hs[i]->active_requests = i == 5 ? 0 : 4;
    c = cfg(100, 1.0);
    lb = lu_lb(&xg_lb_least_request, &c, hs, 8, &rng);
    int got[8];
    count(lb, hs, 8, 1000, got);
    CHECK(got[5] >= 999);
    xg_lb_destroy(lb);
    lu_free(hs, 8);
}
