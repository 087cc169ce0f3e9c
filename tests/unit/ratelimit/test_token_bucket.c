/* Unit tests for the token buckets (src/ratelimit/token_bucket.c): Envoy's
 * discrete fills counted lazily (a full start, tokens_per_fill per elapsed
 * interval, capped at max_tokens), the x-ratelimit view, exactness when
 * several threads take from one bucket, and the shared registry (one bucket
 * per key, reference counts, nothing left alive). */
#include <pthread.h>

#include "ratelimit/token_bucket.h"
#include "xg_test.h"

#define MS 1000000ull
#define S 1000000000ull

static int drain(xg_tb_state *st, const xg_tb_params *p, uint64_t now)
{
    int n = 0;
    while (xg_tb_take(st, p, now, NULL))
        n++;
    return n;
}

XG_TEST(starts_full_and_refills_in_discrete_steps)
{
    xg_tb_params p = {.max_tokens = 5, .tokens_per_fill = 2, .fill_interval_ns = 100 * MS};
    xg_tb_state st;
    uint64_t t0 = 1000 * S;
    xg_tb_init(&st, &p, t0);
    CHECK_EQ_INT(xg_tb_tokens(&st, &p, t0), 5);
    CHECK_EQ_INT(drain(&st, &p, t0 + 10 * MS), 5);
    CHECK_EQ_INT(drain(&st, &p, t0 + 99 * MS), 0);  /* no fill before the interval ends */
    CHECK_EQ_INT(drain(&st, &p, t0 + 100 * MS), 2); /* one fill */
    CHECK_EQ_INT(drain(&st, &p, t0 + 199 * MS), 0);
    CHECK_EQ_INT(drain(&st, &p, t0 + 350 * MS), 4);      /* two fills (epochs 2 and 3) */
    CHECK_EQ_INT(xg_tb_tokens(&st, &p, t0 + 10 * S), 5); /* capped at max_tokens */
    CHECK_EQ_INT(drain(&st, &p, t0 + 10 * S), 5);
}

XG_TEST(a_stale_clock_read_counts_no_fill)
{
    xg_tb_params p = {.max_tokens = 1, .tokens_per_fill = 1, .fill_interval_ns = 50 * MS};
    xg_tb_state st;
    xg_tb_init(&st, &p, 0);
    CHECK(xg_tb_take(&st, &p, 120 * MS, NULL)); /* epoch 2: refilled to 1, then taken */
    CHECK(!xg_tb_take(&st, &p, 60 * MS, NULL)); /* another thread's older clock read: epoch 1 < 2 */
    CHECK(!xg_tb_take(&st, &p, 149 * MS, NULL));
    CHECK(xg_tb_take(&st, &p, 150 * MS, NULL));
    CHECK(!xg_tb_take(&st, &p, 5 * MS, NULL)); /* before the start */
}

/* The epoch is 32 bits: an idle of 2^31..2^32 intervals (3.4..6.8 years at
 * 50 ms) is fills, not a thread behind, and a full bucket again. */
XG_TEST(a_very_long_idle_refills)
{
    xg_tb_params p = {.max_tokens = 2, .tokens_per_fill = 1, .fill_interval_ns = 50 * MS};
    xg_tb_state st;
    xg_tb_init(&st, &p, 0);
    CHECK_EQ_INT(drain(&st, &p, 0), 2);
    uint64_t t = ((1ull << 31) + 5) * p.fill_interval_ns;
    CHECK_EQ_INT(xg_tb_tokens(&st, &p, t), 2);
    CHECK_EQ_INT(drain(&st, &p, t), 2);
    CHECK_EQ_INT(drain(&st, &p, t + 49 * MS), 0);
    CHECK_EQ_INT(drain(&st, &p, t + 50 * MS), 1);  /* and fills on as before */
    t += ((1ull << 32) - 65) * p.fill_interval_ns; /* the longest idle short of the window */
    CHECK_EQ_INT(drain(&st, &p, t), 2);
    /* a thread 64 intervals behind is still "behind": no fill */
    CHECK_EQ_INT(drain(&st, &p, t - 64 * p.fill_interval_ns), 0);
    /* huge tokens_per_fill times a huge count of fills does not overflow */
    xg_tb_params big = {.max_tokens = UINT32_MAX, .tokens_per_fill = UINT32_MAX, .fill_interval_ns = 50 * MS};
    xg_tb_init(&st, &big, 0);
    CHECK(xg_tb_take(&st, &big, 0, NULL));
    CHECK(xg_tb_tokens(&st, &big, ((1ull << 32) - 65) * big.fill_interval_ns) == UINT32_MAX);
}

XG_TEST(view_for_x_ratelimit_headers)
{
    xg_tb_params p = {.max_tokens = 3, .tokens_per_fill = 1, .fill_interval_ns = 60 * S};
    xg_tb_state st;
    xg_tb_init(&st, &p, 0);
    xg_tb_view v;
    CHECK(xg_tb_take(&st, &p, 10 * S + 500 * MS, &v));
    CHECK_EQ_INT(v.remaining, 2);
    CHECK_EQ_INT(v.reset_s, 50); /* 60 s minus the 10 whole seconds since the last fill */
    CHECK(xg_tb_take(&st, &p, 59 * S + 999 * MS, &v));
    CHECK(xg_tb_take(&st, &p, 59 * S + 999 * MS, &v));
    CHECK_EQ_INT(v.remaining, 0);
    CHECK_EQ_INT(v.reset_s, 1);
    CHECK(!xg_tb_take(&st, &p, 59 * S + 999 * MS, &v));
    CHECK_EQ_INT(v.remaining, 0);
    CHECK(xg_tb_take(&st, &p, 60 * S, &v)); /* the fill at 60 s */
    CHECK_EQ_INT(v.remaining, 0);
    CHECK_EQ_INT(v.reset_s, 60);
    xg_tb_params q = {.max_tokens = 3, .tokens_per_fill = 1, .fill_interval_ns = 500 * MS};
    xg_tb_init(&st, &q, 0);
    CHECK(xg_tb_take(&st, &q, 100 * MS, &v));
    CHECK_EQ_INT(v.reset_s, 0); /* Envoy truncates a sub-second interval to 0 s */
}

XG_TEST(huge_gaps_do_not_overflow)
{
    xg_tb_params p = {.max_tokens = 4000000000u, .tokens_per_fill = 4000000000u, .fill_interval_ns = 50 * MS};
    xg_tb_state st;
    xg_tb_init(&st, &p, 0);
    CHECK(xg_tb_take(&st, &p, 0, NULL));
    CHECK_EQ_INT(xg_tb_tokens(&st, &p, 100000 * S), 4000000000u);
}

/* --- N threads on one bucket get exactly max_tokens --- */

#define THREADS 4
#define TOKENS 100000

typedef struct race {
    pthread_barrier_t *go;
    xg_tbucket *b;
    uint64_t now;
    int got;
} race;

static void *hammer(void *arg)
{
    race *r = arg;
    xg_tb_state *st = xg_tbucket_state(r->b);
    const xg_tb_params *p = xg_tbucket_params(r->b);
    pthread_barrier_wait(r->go);
    for (int i = 0; i < TOKENS / 2; i++) /* no thread can take them all: at least two compete */
        r->got += xg_tb_take(st, p, r->now, NULL);
    return NULL;
}

XG_TEST(threads_share_exactly_max_tokens)
{
    /* a fill interval of an hour: no refill while the threads run */
    xg_tb_params p = {.max_tokens = TOKENS, .tokens_per_fill = 1, .fill_interval_ns = 3600 * S};
    xg_tbucket *b = xg_tbucket_get("test/race", &p);
    if (!CHECK(b != NULL))
        return;
    pthread_t t[THREADS];
    race r[THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS);
    uint64_t now = xg_tb_now_ns();
    for (int i = 0; i < THREADS; i++) {
        r[i] = (race){.go = &go, .b = b, .now = now};
        CHECK(pthread_create(&t[i], NULL, hammer, &r[i]) == 0);
    }
    int total = 0, busy = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += r[i].got;
        busy += r[i].got > 0;
    }
    pthread_barrier_destroy(&go);
    CHECK_EQ_INT(total, TOKENS);
    CHECK(busy >= 2);
    xg_tbucket_unref(b);
}

XG_TEST(registry_one_bucket_per_key)
{
    uint32_t live = xg_tbucket_live();
    xg_tb_params p = {.max_tokens = 2, .tokens_per_fill = 1, .fill_interval_ns = 1 * S};
    xg_tb_params q = {.max_tokens = 7, .tokens_per_fill = 1, .fill_interval_ns = 1 * S};
    xg_tbucket *a = xg_tbucket_get("k|a", &p), *a2 = xg_tbucket_get("k|a", &p), *b = xg_tbucket_get("k|b", &q);
    CHECK(a != NULL && a == a2 && b != NULL && b != a);
    CHECK_EQ_INT(xg_tbucket_live(), live + 2);
    CHECK_EQ_INT(xg_tbucket_params(b)->max_tokens, 7);
    uint64_t now = xg_tb_now_ns();
    CHECK(xg_tb_take(xg_tbucket_state(a), &p, now, NULL));
    CHECK(xg_tb_take(xg_tbucket_state(a2), &p, now, NULL));
    CHECK(!xg_tb_take(xg_tbucket_state(a), &p, now, NULL)); /* one budget for both holders */
    xg_tbucket_unref(a);
    CHECK_EQ_INT(xg_tbucket_live(), live + 2); /* a2 still holds it: its tokens stay spent */
    xg_tbucket *a3 = xg_tbucket_get("k|a", &p);
    CHECK(a3 == a2);
    CHECK(!xg_tb_take(xg_tbucket_state(a3), &p, now, NULL));
    xg_tbucket_unref(a2);
    xg_tbucket_unref(a3);
    xg_tbucket_unref(b);
    CHECK_EQ_INT(xg_tbucket_live(), live);
    xg_tbucket *fresh = xg_tbucket_get("k|a", &p); /* gone with its last holder: a new one starts full */
    CHECK_EQ_INT(xg_tb_tokens(xg_tbucket_state(fresh), &p, xg_tb_now_ns()), 2);
    xg_tbucket_unref(fresh);
    xg_tbucket_unref(NULL);
    CHECK_EQ_INT(xg_tbucket_live(), live);
}
