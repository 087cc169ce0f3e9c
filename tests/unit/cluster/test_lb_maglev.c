/* Unit tests for MAGLEV (src/cluster/lb_maglev.c): the tables Envoy builds
 * (assignments from Envoy's own Maglev tests: equal weights, weights 1:2,
 * locality weights 8:0:2), re-picks, the documented 21846 / 43691 split of
 * the default table for weights 1:2, even spread, and stability: removing one
 * of N hosts remaps about 1/N of the keys. */
#include "cluster/lb_util.h"
#include "cluster/priority.h"
#include "xg_test.h"

static xg_lb_config mg_cfg(uint64_t size)
{
    return (xg_lb_config){.policy = XG_LB_MAGLEV, .maglev_table_size = size};
}

static xg_host *pick_hash(xg_lb *lb, uint64_t h, uint32_t attempt)
{
    xg_lb_ctx c = {.hash = h, .has_hash = true, .attempt = attempt};
    return xg_lb_pick(lb, &c);
}

static void check_table(xg_lb *lb, xg_host **hs, const int *want, int size)
{
    for (int i = 0; i < 3 * size; i++)
        CHECK_EQ_INT(lu_index(hs, 6, pick_hash(lb, (uint64_t)i, 0)), want[i % size]);
}

XG_TEST(same_tables_as_envoy)
{
    xg_rng rng;
    xg_rng_seed(&rng, 1);
    xg_host *hs[6];
    for (int i = 0; i < 6; i++)
        hs[i] = lu_host("127.0.0.1", (uint16_t)(90 + i), 1);
    xg_lb_config c = mg_cfg(7);
    xg_lb *lb = lu_lb(&xg_lb_maglev, &c, hs, 6, &rng);
    static const int basic[7] = {2, 4, 0, 1, 5, 0, 3};
    check_table(lb, hs, basic, 7);
    /* Re-picks perturb the hash: Envoy's retry-host-predicate vectors. */
    CHECK(pick_hash(lb, 10, 0) == hs[1]);
    CHECK(pick_hash(lb, 10, 1) == hs[0]);
    CHECK(pick_hash(lb, 10, 2) == hs[5]);
    xg_lb_destroy(lb);

    hs[1]->weight = 2;
    c = mg_cfg(17);
    lb = lu_lb(&xg_lb_maglev, &c, hs, 2, &rng);
    static const int weighted[17] = {1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1};
    check_table(lb, hs, weighted, 17);
    xg_lb_destroy(lb);
    lu_free(hs, 6);
}

XG_TEST(locality_weights_as_envoy)
{
    /* Localities [:90 (weight 8)], [:92 (weight 0)], [:91 (weight 2)]; host
     * weights 1, 3, 2 matter only within a locality: :90 0.8, :91 0.2. */
    xg_rng rng;
    xg_rng_seed(&rng, 2);
    xg_host *hs[3] = {lu_host("127.0.0.1", 90, 1), lu_host("127.0.0.1", 91, 2), lu_host("127.0.0.1", 92, 3)};
    hs[0]->locality = 0, hs[2]->locality = 1, hs[1]->locality = 2;
    uint32_t lw[3] = {8, 0, 2};
    xg_host_set s = {.hosts = hs, .n = 3, .locality_weights = lw, .n_localities = 3};
    xg_host *fh[3];
    double fw[3];
    uint32_t n = xg_locality_host_weights(&s, hs, 3, fh, fw);
    CHECK_EQ_INT(n, 2);
    xg_lb_hosts in = {fh, fw, n};
    xg_lb_config c = mg_cfg(17);
    xg_lb *lb = NULL;
    CHECK_EQ_INT(xg_lb_maglev.init(&lb, &c, &in, NULL, &rng), 0);
    static const int want[17] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
    for (int i = 0; i < 17; i++)
        CHECK_EQ_INT(lu_index(hs, 3, pick_hash(lb, (uint64_t)i, 0)), want[i]);
    xg_lb_destroy(lb);
    lu_free(hs, 3);
}

/* Slots per host over the whole table (hash i lands on slot i). */
static void slots(xg_lb *lb, xg_host **hs, int n, uint64_t size, int *out)
{
    for (int i = 0; i < n; i++)
        out[i] = 0;
    for (uint64_t i = 0; i < size; i++)
        out[lu_index(hs, n, pick_hash(lb, i, 0))]++;
}

XG_TEST(default_table_splits_by_weight)
{
    xg_rng rng;
    xg_rng_seed(&rng, 3);
    xg_host *hs[5];
    lu_hosts(hs, 5);
    xg_lb_config c = mg_cfg(65537);
    hs[1]->weight = 2;
    xg_lb *lb = lu_lb(&xg_lb_maglev, &c, hs, 2, &rng);
    int got[5];
    slots(lb, hs, 2, 65537, got);
    /* Envoy's documentation: weights 1 and 2 get 21846 and 43691 entries. */
    CHECK_EQ_INT(got[0], 21846);
    CHECK_EQ_INT(got[1], 43691);
    xg_lb_destroy(lb);
    hs[1]->weight = 1;
    lb = lu_lb(&xg_lb_maglev, &c, hs, 5, &rng);
    slots(lb, hs, 5, 65537, got);
    for (int i = 0; i < 5; i++)
        CHECK(got[i] == 13107 || got[i] == 13108); /* equal weights: within one slot */
    xg_lb_destroy(lb);
    lu_free(hs, 5);
}

XG_TEST(removing_one_of_n_moves_about_1_over_n)
{
    enum { N = 10, KEYS = 50000 };
    xg_rng rng;
    xg_rng_seed(&rng, 4);
    xg_host *hs[N];
    lu_hosts(hs, N);
    xg_lb *all = lu_lb(&xg_lb_maglev, NULL, hs, N, &rng);
    xg_host *rest[N - 1];
    for (int i = 0; i < N - 1; i++)
        rest[i] = hs[i + 1]; /* hs[0] removed (the order given does not matter: sorted by key) */
    xg_lb *less = lu_lb(&xg_lb_maglev, NULL, rest, N - 1, &rng);
    int on_removed, left_behind, moved = lu_moved(all, less, hs[0], KEYS, &on_removed, &left_behind);
    CHECK_EQ_INT(left_behind, 0);
    CHECK(on_removed > KEYS / N * 8 / 10 && on_removed < KEYS / N * 12 / 10);
    /* Maglev moves somewhat more than the removed host's share (Envoy:
     * "approximately double" ring hash's disruption at worst). */
    CHECK((double)moved / KEYS < 0.22);
    xg_lb_destroy(all);
    xg_lb_destroy(less);
    lu_free(hs, N);
}

XG_TEST(workers_share_one_table)
{
    CHECK_EQ_INT(lu_check_shared_table(&xg_lb_maglev, NULL), 0);
}
