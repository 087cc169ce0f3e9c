/* Unit tests for the local rate limit filter's decision (allowed() and
 * in_fraction() of src/filters/local_ratelimit.c) on process-wide buckets,
 * as Envoy's LocalRateLimiterImpl decides: matched descriptors only (exact
 * entries), the strictest first and the first empty one refusing without
 * touching the others, the default bucket when nothing matched or always,
 * and which bucket the x-ratelimit headers describe. */
#include "../../../src/filters/local_ratelimit.c"
#include "xg_test.h"

#define HOUR 3600000000000ull
/* clang-format off */
#define LS(s) {s, sizeof(s) - 1}
#define HS(s) {s, sizeof(s) - 1}
/* clang-format on */

static xg_lrl_limit limit(const char *key, uint32_t max)
{
    xg_lrl_limit l = {.p = {.max_tokens = max, .tokens_per_fill = 1, .fill_interval_ns = HOUR}};
    l.shared = xg_tbucket_get(key, &l.p);
    return l;
}

static const xg_lstr k_client[] = {LS("client")}, v_gold[] = {LS("gold")}, v_silver[] = {LS("silver")};
static const xg_rl_entry gold_e[] = {{HS("client"), HS("gold")}}, silver_e[] = {{HS("client"), HS("silver")}},
                         other_e[] = {{HS("client"), HS("gold")}, {HS("path"), HS("/x")}};

static bool decide(const xg_local_ratelimit_config *c, const xg_rl_entry *e, uint32_t n, lrl_filter *lf)
{
    xg_rl_descriptor d = {e, n};
    xg_rl_descriptors req = {&d, e != NULL};
    memset(lf, 0, sizeof(*lf));
    lf->cfg = c;
    return allowed(lf, &req, xg_tb_now_ns());
}

XG_TEST(descriptors_then_default)
{
    uint32_t live = xg_tbucket_live();
    /* as translated: the stricter (silver, 1) first */
    xg_lrl_descriptor d[] = {{k_client, v_silver, 1, limit("t1|silver", 1)},
                             {k_client, v_gold, 1, limit("t1|gold", 2)}};
    xg_local_ratelimit_config c = {.has_bucket = true,
                                   .limit = limit("t1|default", 3),
                                   .descriptors = d,
                                   .n_descriptors = 2,
                                   .always_consume_default = true};
    lrl_filter lf;
    CHECK(decide(&c, gold_e, 1, &lf));
    CHECK_EQ_INT(lf.limit, 2); /* the descriptor's bucket is the one described */
    CHECK_EQ_INT(lf.remaining, 1);
    CHECK(decide(&c, gold_e, 1, &lf));
    CHECK(!decide(&c, gold_e, 1, &lf)); /* gold is empty: refused, the default is not touched */
    CHECK_EQ_INT(lf.limit, 2);
    CHECK_EQ_INT(lf.remaining, 0);
    CHECK_EQ_INT(xg_tb_tokens(xg_tbucket_state(c.limit.shared), &c.limit.p, xg_tb_now_ns()), 1); /* 3 - 2 */
    CHECK(decide(&c, NULL, 0, &lf)); /* no descriptor: the default's last token */
    CHECK_EQ_INT(lf.limit, 3);
    CHECK(!decide(&c, silver_e, 1, &lf)); /* silver's token taken, then the empty default refuses */
    CHECK_EQ_INT(lf.limit, 3);
    CHECK(!decide(&c, silver_e, 1, &lf)); /* now silver itself is empty */
    CHECK_EQ_INT(lf.limit, 1);
    CHECK(!decide(&c, other_e, 2, &lf)); /* two entries: matches neither; the default decides */
    CHECK_EQ_INT(lf.limit, 3);
    xg_tbucket_unref(d[0].limit.shared);
    xg_tbucket_unref(d[1].limit.shared);
    xg_tbucket_unref(c.limit.shared);
    CHECK_EQ_INT(xg_tbucket_live(), live);
}

XG_TEST(default_only_when_nothing_matched)
{
    xg_lrl_descriptor d[] = {{k_client, v_gold, 1, limit("t2|gold", 5)}};
    xg_local_ratelimit_config c = {.has_bucket = true,
                                   .limit = limit("t2|default", 1),
                                   .descriptors = d,
                                   .n_descriptors = 1,
                                   .always_consume_default = false};
    lrl_filter lf;
    for (int i = 0; i < 5; i++)
        CHECK(decide(&c, gold_e, 1, &lf)); /* the default (1 token) is never consumed */
    CHECK(!decide(&c, gold_e, 1, &lf));
    CHECK(decide(&c, silver_e, 1, &lf)); /* no match: the default's one token */
    CHECK(!decide(&c, silver_e, 1, &lf));
    xg_tbucket_unref(d[0].limit.shared);
    xg_tbucket_unref(c.limit.shared);
}

XG_TEST(no_default_bucket_limits_only_descriptors)
{
    xg_lrl_descriptor d[] = {{k_client, v_gold, 1, limit("t3|gold", 1)}};
    xg_local_ratelimit_config c = {.descriptors = d, .n_descriptors = 1, .always_consume_default = true};
    lrl_filter lf;
    for (int i = 0; i < 10; i++)
        CHECK(decide(&c, silver_e, 1, &lf));
    CHECK(!lf.decided); /* nothing consulted: no x-ratelimit headers */
    CHECK(decide(&c, gold_e, 1, &lf));
    CHECK(!decide(&c, gold_e, 1, &lf));
    xg_tbucket_unref(d[0].limit.shared);
}

/* A long-lived connection's own buckets (per-connection mode) as config
 * generations come and go: buckets of limits no config holds any more are
 * dropped, live ones keep their tokens, and the array stays bounded. */
XG_TEST(per_connection_buckets_are_pruned)
{
    uint32_t live = xg_tbucket_live();
    conn_buckets cb = {0};
    xg_lrl_limit keep = limit("t4|keep", 1);
    keep.id = xg_tbucket_hash("t4|keep");
    uint64_t now = xg_tb_now_ns();
    xg_tb_state *st = conn_bucket_for(&cb, &keep, now);
    CHECK(st != NULL && xg_tb_take(st, &keep.p, now, NULL)); /* its only token */
    char key[32];
    for (int gen = 0; gen < 1000; gen++) { /* each xDS update makes the limit anew */
        snprintf(key, sizeof(key), "t4|gen%d", gen);
        xg_lrl_limit l = limit(key, 1);
        l.id = xg_tbucket_hash(key);
        CHECK(conn_bucket_for(&cb, &l, now) != NULL);
        CHECK(conn_bucket_for(&cb, &keep, now) != NULL); /* the live limit is used on */
        xg_tbucket_unref(l.shared);                      /* that generation is gone */
    }
    CHECK(cb.n <= 2 * PRUNE_AT);
    CHECK(cb.cap <= 2 * PRUNE_AT);
    /* the live limit's bucket survived every prune: still empty */
    CHECK(!xg_tb_take(conn_bucket_for(&cb, &keep, now), &keep.p, now, NULL));
    /* more live limits than MAX_CONN_BUCKETS: the least recently used is replaced */
    xg_lrl_limit many[MAX_CONN_BUCKETS + 10];
    for (int i = 0; i < MAX_CONN_BUCKETS + 10; i++) {
        snprintf(key, sizeof(key), "t4|live%d", i);
        many[i] = limit(key, 1);
        many[i].id = xg_tbucket_hash(key);
        CHECK(conn_bucket_for(&cb, &many[i], now + (uint64_t)i + 1) != NULL);
    }
    CHECK_EQ_INT(cb.n, MAX_CONN_BUCKETS);
    CHECK_EQ_INT(cb.cap, MAX_CONN_BUCKETS);
    xg_tb_state *last = conn_bucket_for(&cb, &many[MAX_CONN_BUCKETS + 9], now + 1000);
    CHECK(last == conn_bucket_for(&cb, &many[MAX_CONN_BUCKETS + 9], now + 1000)); /* found, not remade */
    for (int i = 0; i < MAX_CONN_BUCKETS + 10; i++)
        xg_tbucket_unref(many[i].shared);
    xg_tbucket_unref(keep.shared);
    free(cb.v);
    CHECK_EQ_INT(xg_tbucket_live(), live);
}

XG_TEST(fractions)
{
    CHECK(!in_fraction(0, 0));
    CHECK(in_fraction(999999, 1000000));
    CHECK(in_fraction(1000000 + 499999, 500000) && !in_fraction(500000, 500000));
    int hits = 0;
    for (uint64_t r = 1; r <= 100000; r++)
        hits += in_fraction(mix(r * 0x9e3779b97f4a7c15ull), 250000);
    CHECK(hits > 24000 && hits < 26000); /* the enforced draw is spread evenly */
}
