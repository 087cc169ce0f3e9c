/* The active health-check state machine (upstream/health_sm.c): the first
 * check decides at once, unhealthy/healthy thresholds, non-retriable
 * failures at once, the pending flag, the timeout flag, and every interval
 * with its jitter bounds (fixed seeds). */
#include "upstream/health_sm.h"
#include "xg_test.h"

static xg_health_check hc_defaults(void)
{
    return (xg_health_check){
        .kind = XG_HC_HTTP,
        .timeout_ms = 1000,
        .interval_ms = 5000,
        .unhealthy_threshold = 3,
        .healthy_threshold = 2,
        .reuse_connection = true,
        .no_traffic_interval_ms = 60000,
        .no_traffic_healthy_interval_ms = 60000,
        .unhealthy_interval_ms = 5000,
        .unhealthy_edge_interval_ms = 5000,
        .healthy_edge_interval_ms = 5000,
    };
}

XG_TEST(new_host_first_success_is_healthy_at_once)
{
    xg_health_check hc = hc_defaults();
    xg_hc_state s;
    xg_hc_state_init(&s, true, false);
    CHECK(s.failed);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_OK), XG_HC_CHANGED);
    CHECK(!s.failed);
    CHECK(!s.first_check);
}

XG_TEST(new_host_first_failure_stays_failed_then_needs_healthy_threshold)
{
    xg_health_check hc = hc_defaults();
    xg_hc_state s;
    xg_hc_state_init(&s, true, false);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK), XG_HC_UNCHANGED);
    CHECK(s.failed);
    /* no longer the first check: healthy_threshold (2) successes in a row */
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_OK), XG_HC_PENDING);
    CHECK(s.failed);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_OK), XG_HC_CHANGED);
    CHECK(!s.failed);
}

XG_TEST(a_failure_resets_the_healthy_count)
{
    xg_health_check hc = hc_defaults();
    hc.healthy_threshold = 3;
    xg_hc_state s;
    xg_hc_state_init(&s, true, false);
    xg_hc_state_put(&s, &hc, XG_HC_FAIL_TIMEOUT);
    xg_hc_state_put(&s, &hc, XG_HC_OK);
    xg_hc_state_put(&s, &hc, XG_HC_OK);
    xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_OK), XG_HC_PENDING);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_OK), XG_HC_PENDING);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_OK), XG_HC_CHANGED);
    CHECK(!s.failed);
}

XG_TEST(network_failures_need_unhealthy_threshold)
{
    xg_health_check hc = hc_defaults();
    xg_hc_state s;
    xg_hc_state_init(&s, false, false);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK), XG_HC_PENDING);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_TIMEOUT), XG_HC_PENDING);
    CHECK(!s.failed);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK), XG_HC_CHANGED);
    CHECK(s.failed);
    CHECK(!s.timed_out); /* the last failure was not a timeout */
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_TIMEOUT), XG_HC_UNCHANGED);
    CHECK(s.timed_out);
    CHECK_EQ_INT(s.failures, 4);
}

XG_TEST(a_success_resets_the_unhealthy_count)
{
    xg_health_check hc = hc_defaults();
    xg_hc_state s;
    xg_hc_state_init(&s, false, false);
    xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK);
    xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_OK), XG_HC_UNCHANGED);
    xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK), XG_HC_PENDING);
    CHECK(!s.failed);
}

XG_TEST(wrong_answer_fails_at_once_retriable_counts)
{
    xg_health_check hc = hc_defaults();
    xg_hc_state s;
    xg_hc_state_init(&s, false, false);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL), XG_HC_CHANGED);
    CHECK(s.failed);
    xg_hc_state_init(&s, false, false);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_RETRIABLE), XG_HC_PENDING);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_RETRIABLE), XG_HC_PENDING);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_RETRIABLE), XG_HC_CHANGED);
    CHECK(s.failed);
}

XG_TEST(pending_clears_on_the_first_result_as_a_change)
{
    xg_health_check hc = hc_defaults();
    xg_hc_state s;
    xg_hc_state_init(&s, true, true);
    CHECK_EQ_INT(xg_hc_state_put(&s, &hc, XG_HC_FAIL_NETWORK), XG_HC_CHANGED);
    CHECK(!s.pending);
    CHECK(s.failed);
}

XG_TEST(intervals_by_result_and_transition)
{
    xg_health_check hc = hc_defaults();
    hc.interval_ms = 1000;
    hc.unhealthy_interval_ms = 2000;
    hc.unhealthy_edge_interval_ms = 3000;
    hc.healthy_edge_interval_ms = 4000;
    hc.no_traffic_interval_ms = 7000;
    hc.no_traffic_healthy_interval_ms = 9000;
    xg_rng rng;
    xg_rng_seed(&rng, 1);
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, true, XG_HC_UNCHANGED, true, &rng), 1000);
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, true, XG_HC_CHANGED, true, &rng), 1000);
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, true, XG_HC_PENDING, true, &rng), 4000);
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, false, XG_HC_UNCHANGED, true, &rng), 2000);
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, false, XG_HC_PENDING, true, &rng), 3000);
    /* no traffic yet: healthy steady state uses no_traffic_healthy_interval */
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, true, XG_HC_UNCHANGED, false, &rng), 9000);
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, true, XG_HC_PENDING, false, &rng), 7000);
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, false, XG_HC_CHANGED, false, &rng), 7000);
}

XG_TEST(jitter_bounds)
{
    xg_health_check hc = hc_defaults();
    hc.interval_ms = 1000;
    hc.interval_jitter_ms = 200;
    hc.interval_jitter_percent = 10; /* + [0, 100) */
    xg_rng rng;
    xg_rng_seed(&rng, 42);
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t v = xg_hc_interval_ms(&hc, true, XG_HC_UNCHANGED, true, &rng);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    CHECK(lo >= 1000);
    CHECK(hi < 1000 + 100 + 200);
    CHECK(hi > 1200); /* both jitters contribute */
    CHECK(lo < 1030);
}

XG_TEST(initial_jitter)
{
    xg_health_check hc = hc_defaults();
    xg_rng rng;
    xg_rng_seed(&rng, 7);
    CHECK_EQ_INT(xg_hc_initial_delay_ms(&hc, &rng), 0);
    hc.initial_jitter_ms = 500;
    int64_t hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t v = xg_hc_initial_delay_ms(&hc, &rng);
        CHECK(v >= 0 && v < 500);
        hi = v > hi ? v : hi;
    }
    CHECK(hi > 400);
}

XG_TEST(interval_never_zero)
{
    xg_health_check hc = hc_defaults();
    hc.interval_ms = 0;
    xg_rng rng;
    xg_rng_seed(&rng, 3);
    CHECK_EQ_INT(xg_hc_interval_ms(&hc, true, XG_HC_UNCHANGED, true, &rng), 1);
}

XG_TEST(result_names)
{
    CHECK_STR(xg_hc_result_name(XG_HC_OK), "ok");
    CHECK_STR(xg_hc_result_name(XG_HC_FAIL_TIMEOUT), "timeout");
}
