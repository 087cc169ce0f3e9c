/* Unit tests for RING_HASH (src/cluster/lb_ring_hash.c): the ring Envoy
 * builds for six hosts (positions from Envoy's own ring hash test, so a key
 * lands where it lands in Envoy), re-picks walk the ring, keys spread evenly
 * and by weight (statistical bounds over fixed keys), removing one of N
 * hosts remaps about 1/N of the keys, ring size limits, no hash = random. */
#include "cluster/lb_util.h"
#include "xg_test.h"

static xg_lb_config ring_cfg(uint64_t min, uint64_t max)
{
    return (xg_lb_config){.policy = XG_LB_RING_HASH, .ring_min = min, .ring_max = max};
}

static xg_host *pick_hash(xg_lb *lb, uint64_t h, uint32_t attempt)
{
    xg_lb_ctx c = {.hash = h, .has_hash = true, .attempt = attempt};
    return xg_lb_pick(lb, &c);
}

XG_TEST(same_ring_as_envoy)
{
    xg_rng rng;
    xg_rng_seed(&rng, 1);
    xg_host *hs[6];
    for (int i = 0; i < 6; i++)
        hs[i] = lu_host("127.0.0.1", (uint16_t)(90 + i), 1);
    xg_lb_config c = ring_cfg(12, 8388608);
    xg_lb *lb = lu_lb(&xg_lb_ring_hash, &c, hs, 6, &rng);
    /* Envoy's ring for these hosts, minimum_ring_size 12 (two entries each):
     * :94 833437586790550860, :92 928266305478181108, :90 1033482794131418490,
     * :95 3551244743356806947, :93 3851675632748031481, :91 5583722120771150861, ... */
    CHECK(pick_hash(lb, 0, 0) == hs[4]);
    CHECK(pick_hash(lb, UINT64_MAX, 0) == hs[4]); /* past the last entry: wraps */
    CHECK(pick_hash(lb, 3551244743356806947ULL, 0) == hs[5]);
    CHECK(pick_hash(lb, 3551244743356806948ULL, 0) == hs[3]);
    CHECK(pick_hash(lb, 16117243373044804880ULL, 0) == hs[0]);
    CHECK(pick_hash(lb, 928266305478181108ULL, 0) == hs[2]);
    /* A re-pick behaves as if the host were not on the ring: the next entries. */
    CHECK(pick_hash(lb, 0, 1) == hs[2]);
    CHECK(pick_hash(lb, 0, 2) == hs[0]);
    xg_lb_destroy(lb);
    lu_free(hs, 6);
}

static void shares(xg_lb *lb, xg_host **hs, int n, int keys, double *out)
{
    xg_host **p = malloc((size_t)keys * sizeof *p);
    lu_hash_picks(lb, keys, p);
    for (int i = 0; i < n; i++)
        out[i] = 0;
    for (int k = 0; k < keys; k++)
        out[lu_index(hs, n, p[k])] += 1.0 / keys;
    free(p);
}

XG_TEST(keys_spread_evenly_and_by_weight)
{
    xg_rng rng;
    xg_rng_seed(&rng, 2);
    xg_host *hs[4];
    lu_hosts(hs, 4);
    xg_lb_config c = ring_cfg(1024, 8388608);
    xg_lb *lb = lu_lb(&xg_lb_ring_hash, &c, hs, 4, &rng);
    double s[4];
    shares(lb, hs, 4, 40000, s);
    for (int i = 0; i < 4; i++)
        CHECK(s[i] > 0.19 && s[i] < 0.31); /* 256 entries each: a few % of spread */
    xg_lb_destroy(lb);

    hs[0]->weight = 1, hs[1]->weight = 2, hs[2]->weight = 3, hs[3]->weight = 4;
    lb = lu_lb(&xg_lb_ring_hash, &c, hs, 4, &rng);
    shares(lb, hs, 4, 40000, s);
    for (int i = 0; i < 4; i++)
        CHECK(s[i] > (i + 1) / 10.0 - 0.04 && s[i] < (i + 1) / 10.0 + 0.04);
    xg_lb_destroy(lb);
    lu_free(hs, 4);
}

XG_TEST(removing_one_of_n_moves_about_1_over_n)
{
    enum { N = 10, KEYS = 50000 };
    xg_rng rng;
    xg_rng_seed(&rng, 3);
    xg_host *hs[N];
    lu_hosts(hs, N);
    xg_lb_config c = ring_cfg(1024, 8388608);
    xg_lb *all = lu_lb(&xg_lb_ring_hash, &c, hs, N, &rng);
    xg_lb *less = lu_lb(&xg_lb_ring_hash, &c, hs, N - 1, &rng); /* hs[N-1] removed */
    int on_removed, left_behind, moved = lu_moved(all, less, hs[N - 1], KEYS, &on_removed, &left_behind);
    CHECK_EQ_INT(left_behind, 0);
    /* Keys of the removed host must move (~1/N). The ring is rescaled too
     * (each remaining host gets ceil(1024 / 9) = 114 entries instead of 103,
     * exactly as Envoy builds it), and those new entries take about another
     * 1/N from their neighbours: ~18 % in all, far from a reshuffle. */
    CHECK(on_removed > KEYS / N / 2 && on_removed < KEYS * 2 / N);
    CHECK(moved >= on_removed);
    CHECK((double)(moved - on_removed) / KEYS < 0.12);
    CHECK((double)moved / KEYS < 0.25);
    xg_lb_destroy(all);
    xg_lb_destroy(less);
    lu_free(hs, N);
}

XG_TEST(ring_size_limits)
{
    xg_rng rng;
    xg_rng_seed(&rng, 4);
    xg_host *hs[3];
    lu_hosts(hs, 3);
    /* maximum_ring_size 1: one entry, every key on the same host */
    xg_lb_config c = ring_cfg(1, 1);
    xg_lb *lb = lu_lb(&xg_lb_ring_hash, &c, hs, 3, &rng);
    xg_host *p[100];
    lu_hash_picks(lb, 100, p);
    for (int k = 1; k < 100; k++)
        CHECK(p[k] == p[0]);
    xg_lb_destroy(lb);
    /* very uneven weights: the ring is capped and still roughly proportional */
    hs[0]->weight = 1, hs[1]->weight = 1000, hs[2]->weight = 1000;
    c = ring_cfg(1024, 4096);
    lb = lu_lb(&xg_lb_ring_hash, &c, hs, 3, &rng);
    double s[3];
    shares(lb, hs, 3, 20000, s);
    CHECK(s[0] < 0.01 && s[1] > 0.4 && s[2] > 0.4);
    xg_lb_destroy(lb);
    lu_free(hs, 3);
}

XG_TEST(no_hash_is_random)
{
    xg_rng rng;
    xg_rng_seed(&rng, 5);
    xg_host *hs[4];
    lu_hosts(hs, 4);
    xg_lb_config c = ring_cfg(1024, 8388608);
    xg_lb *lb = lu_lb(&xg_lb_ring_hash, &c, hs, 4, &rng);
    int got[4] = {0};
    for (int i = 0; i < 4000; i++)
        got[lu_index(hs, 4, xg_lb_pick(lb, &(xg_lb_ctx){0}))]++;
    for (int i = 0; i < 4; i++)
        CHECK(got[i] > 600 && got[i] < 1400);
    xg_lb_destroy(lb);
    lu_free(hs, 4);
}

XG_TEST(workers_share_one_table)
{
    CHECK_EQ_INT(lu_check_shared_table(&xg_lb_ring_hash, NULL), 0);
}
