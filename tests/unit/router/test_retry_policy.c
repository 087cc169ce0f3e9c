/* Unit tests for the retry decisions (src/router/retry_policy.c) over real
 * translated retry policies: condition names, the state built from the
 * route's policy and the internal x-envoy-* headers (ignored for external
 * requests), each retry_on condition against responses and resets, and the
 * jittered exponential back-off's bounds with a fixed seed. */
#include "cluster/rng.h"
#include "core/assert.h"
#include "router/retry_policy.h"
#include "router_test.h"

#define ROUTE(name, policy) "  - name: " name "\n    match: {prefix: /" name "}\n    route: {cluster: c" policy "}\n"

static xg_res *load(void)
{
    return rc_load("virtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n" ROUTE("none", "")
                       ROUTE("x5", ", retry_policy: {retry_on: '5xx', num_retries: 3}")
                           ROUTE("gw", ", retry_policy: {retry_on: 'gateway-error'}")
                               ROUTE("r4", ", retry_policy: {retry_on: 'retriable-4xx'}")
                                   ROUTE("codes", ", retry_policy: {retry_on: 'retriable-status-codes', "
                                                  "retriable_status_codes: [418, 429]}")
                                       ROUTE("hdrs", ", retry_policy: {retry_on: 'retriable-headers', "
                                                     "retriable_headers: [{name: x-retry, string_match: {exact: "
                                                     "yes}}]}")
                                           ROUTE("grpc", ", retry_policy: {retry_on: 'unavailable,cancelled'}")
                                               ROUTE("rst", ", retry_policy: {retry_on: 'reset'}")
                                                   ROUTE("rbr", ", retry_policy: {retry_on: 'reset-before-request'}")
                                                       ROUTE("cf", ", retry_policy: {retry_on: 'connect-failure'}")
                                                           ROUTE("rs", ", retry_policy: {retry_on: 'refused-stream'}")
                                                               ROUTE("rl", ", retry_policy: {retry_on: "
                                                                           "'5xx,envoy-ratelimited'}")
                                                                   ROUTE("reqh", ", retry_policy: {retry_on: '5xx', "
                                                                                 "retriable_request_headers: [{name: "
                                                                                 "':method', string_match: {exact: "
                                                                                 "GET}}]}")
                                                                       ROUTE("bo", ", retry_policy: {retry_on: "
                                                                                   "'5xx', retry_back_off: "
                                                                                   "{base_interval: 0.1s, "
                                                                                   "max_interval: 0.5s}}"));
}

static const xg_retry_policy *pol(const xg_route_config *rc, const char *name)
{
    for (size_t i = 0; i < rc->vhosts[0].n_routes; i++)
        if (strcmp(rc->vhosts[0].routes[i].name, name) == 0)
            return rc->vhosts[0].routes[i].forward.retry;
    XG_ASSERT(!"no such route");
    return NULL;
}

/* A response with a status and optional name/value pairs (NULL-terminated). */
static xg_headers *resp(treq *t, int status, const char *const *hdrs)
{
    xg_headers *h = xg_headers_new(&t->arena);
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    xg_headers_set_pseudo(h, ":status", 7, st, strlen(st));
    h->status = (uint16_t)status;
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i += 2)
        xg_headers_add_copy(h, hdrs[i], strlen(hdrs[i]), hdrs[i + 1], strlen(hdrs[i + 1]));
    return h;
}

/* Whether a response with status (and headers) would be retried on route name. */
static bool on_status(const xg_route_config *rc, const char *name, int status, const char *const *hdrs)
{
    treq t;
    treq_init(&t, "GET", "h", "/");
    xg_retry_state rs;
    int err = 0;
    bool ok = xg_retry_init(&rs, pol(rc, name), &t.h, false, &t.arena) == 0 &&
              xg_retry_would_on_headers(&rs, resp(&t, status, hdrs), &t.arena, &err);
    treq_dispose(&t);
    return ok && err == 0;
}

static bool on_reset(const xg_route_config *rc, const char *name, xg_retry_reset why, bool sent)
{
    treq t;
    treq_init(&t, "GET", "h", "/");
    xg_retry_state rs;
    bool ok = xg_retry_init(&rs, pol(rc, name), &t.h, false, &t.arena) == 0 && xg_retry_would_on_reset(&rs, why, sent);
    treq_dispose(&t);
    return ok;
}

XG_TEST(condition_names)
{
    CHECK_EQ_INT(xg_retry_on_bit("5xx", 3, false), XG_RETRY_5XX);
    CHECK_EQ_INT(xg_retry_on_bit("unavailable", 11, false), 0); /* a gRPC name in x-envoy-retry-on */
    CHECK_EQ_INT(xg_retry_on_bit("unavailable", 11, true), XG_RETRY_GRPC_UNAVAILABLE);
    CHECK_EQ_INT(xg_retry_on_any("resource-exhausted", 18), XG_RETRY_GRPC_RESOURCE_EXHAUSTED);
    bool known;
    const char *list = " 5xx ,, reset,connect-failure ";
    CHECK_EQ_INT(xg_retry_on_parse(list, strlen(list), false, &known),
                 XG_RETRY_5XX | XG_RETRY_RESET | XG_RETRY_CONNECT_FAILURE);
    CHECK(known);
    list = "5xx,bogus";
    CHECK_EQ_INT(xg_retry_on_parse(list, strlen(list), false, &known), XG_RETRY_5XX);
    CHECK(!known);
}

XG_TEST(responses_per_condition)
{
    xg_res *res = load();
    if (!CHECK(res != NULL))
        return;
    const xg_route_config *rc = rc_of(res);
    CHECK(!on_status(rc, "none", 503, NULL));
    CHECK(on_status(rc, "x5", 500, NULL) && on_status(rc, "x5", 503, NULL) && !on_status(rc, "x5", 404, NULL));
    CHECK(on_status(rc, "gw", 502, NULL) && on_status(rc, "gw", 504, NULL) && !on_status(rc, "gw", 500, NULL));
    CHECK(on_status(rc, "r4", 409, NULL) && !on_status(rc, "r4", 404, NULL) && !on_status(rc, "r4", 503, NULL));
    CHECK(on_status(rc, "codes", 418, NULL) && on_status(rc, "codes", 429, NULL) && !on_status(rc, "codes", 500, NULL));
    const char *const yes[] = {"x-retry", "yes", NULL}, *const no[] = {"x-retry", "no", NULL};
    CHECK(on_status(rc, "hdrs", 200, yes) && !on_status(rc, "hdrs", 200, no) && !on_status(rc, "hdrs", 503, NULL));
    const char *const unavailable[] = {"grpc-status", "14", NULL}, *const cancelled[] = {"grpc-status", "1", NULL};
    const char *const internal[] = {"grpc-status", "13", NULL}, *const ok[] = {"grpc-status", "0", NULL};
    CHECK(on_status(rc, "grpc", 200, unavailable) && on_status(rc, "grpc", 200, cancelled));
    CHECK(!on_status(rc, "grpc", 200, internal) && !on_status(rc, "grpc", 200, ok) &&
          !on_status(rc, "grpc", 503, NULL));
    /* x-envoy-ratelimited decides alone: only envoy-ratelimited retries it, even a 503 */
    const char *const limited[] = {"x-envoy-ratelimited", "true", NULL};
    CHECK(!on_status(rc, "x5", 503, limited) && on_status(rc, "rl", 429, limited));
    xg_res_unref(res);
}

XG_TEST(resets_per_condition)
{
    xg_res *res = load();
    if (!CHECK(res != NULL))
        return;
    const xg_route_config *rc = rc_of(res);
    /* 5xx and gateway-error cover every reset but overflow */
    CHECK(on_reset(rc, "x5", XG_RETRY_RESET_OTHER, true) && on_reset(rc, "gw", XG_RETRY_RESET_CONNECT_FAILURE, false));
    CHECK(!on_reset(rc, "x5", XG_RETRY_RESET_OVERFLOW, false));
    CHECK(on_reset(rc, "rst", XG_RETRY_RESET_OTHER, true) && on_reset(rc, "rst", XG_RETRY_RESET_REFUSED_STREAM, true));
    CHECK(on_reset(rc, "rbr", XG_RETRY_RESET_CONNECT_FAILURE, false) &&
          on_reset(rc, "rbr", XG_RETRY_RESET_OTHER, false));
    CHECK(!on_reset(rc, "rbr", XG_RETRY_RESET_OTHER, true)); /* bytes may have reached the upstream */
    CHECK(on_reset(rc, "cf", XG_RETRY_RESET_CONNECT_FAILURE, false) &&
          !on_reset(rc, "cf", XG_RETRY_RESET_OTHER, false));
    CHECK(on_reset(rc, "rs", XG_RETRY_RESET_REFUSED_STREAM, true) && !on_reset(rc, "rs", XG_RETRY_RESET_OTHER, false));
    CHECK(!on_reset(rc, "r4", XG_RETRY_RESET_OTHER, false) && !on_reset(rc, "none", XG_RETRY_RESET_OTHER, false));
    xg_res_unref(res);
}

XG_TEST(internal_headers_merge_and_external_ignored)
{
    xg_res *res = load();
    if (!CHECK(res != NULL))
        return;
    const xg_route_config *rc = rc_of(res);
    treq t;
    treq_init(&t, "GET", "h", "/");
    treq_add(&t, "x-envoy-retry-on", "retriable-4xx, bogus");
    treq_add(&t, "x-envoy-retry-grpc-on", "deadline-exceeded");
    treq_add(&t, "x-envoy-max-retries", "7");
    treq_add(&t, "x-envoy-retriable-status-codes", "420, x, 421");
    treq_add(&t, "x-envoy-retriable-header-names", "X-Again");
    treq_add(&t, "x-envoy-upstream-rq-per-try-timeout-ms", "250");
    xg_retry_state rs;
    CHECK_EQ_INT(xg_retry_init(&rs, pol(rc, "x5"), &t.h, true, &t.arena), 0);
    CHECK_EQ_INT(rs.retry_on, XG_RETRY_5XX | XG_RETRY_RETRIABLE_4XX | XG_RETRY_GRPC_DEADLINE_EXCEEDED);
    CHECK_EQ_INT(rs.remaining, 7);
    CHECK_EQ_INT(rs.per_try_timeout_ms, 250);
    CHECK_EQ_INT(rs.n_codes, 2);
    CHECK_EQ_INT(rs.n_header_names, 1);
    rs.retry_on |= XG_RETRY_RETRIABLE_STATUS_CODES | XG_RETRY_RETRIABLE_HEADERS;
    const char *const again[] = {"x-again", "1", NULL};
    int err = 0;
    CHECK(xg_retry_would_on_headers(&rs, resp(&t, 421, NULL), &t.arena, &err));
    CHECK(xg_retry_would_on_headers(&rs, resp(&t, 200, again), &t.arena, &err));
    CHECK(!xg_retry_would_on_headers(&rs, resp(&t, 200, NULL), &t.arena, &err));
    /* the same headers from an external client change nothing */
    CHECK_EQ_INT(xg_retry_init(&rs, pol(rc, "x5"), &t.h, false, &t.arena), 0);
    CHECK_EQ_INT(rs.retry_on, XG_RETRY_5XX);
    CHECK_EQ_INT(rs.remaining, 3);
    CHECK_EQ_INT(rs.per_try_timeout_ms, 0);
    /* no policy: Envoy's defaults, and only a header turns retries on */
    CHECK_EQ_INT(xg_retry_init(&rs, NULL, &t.h, false, &t.arena), 0);
    CHECK(!xg_retry_enabled(&rs));
    CHECK_EQ_INT(xg_retry_init(&rs, NULL, &t.h, true, &t.arena), 0);
    CHECK(xg_retry_enabled(&rs));
    CHECK_EQ_INT(rs.remaining, 7);
    treq_dispose(&t);
    xg_res_unref(res);
}

XG_TEST(max_retries_header_needs_a_condition)
{
    treq t;
    treq_init(&t, "GET", "h", "/");
    treq_add(&t, "x-envoy-max-retries", "5");
    xg_retry_state rs;
    CHECK_EQ_INT(xg_retry_init(&rs, NULL, &t.h, true, &t.arena), 0);
    CHECK(!xg_retry_enabled(&rs));
    CHECK_EQ_INT(rs.remaining, 1);
    treq_dispose(&t);
}

XG_TEST(retriable_request_headers_gate_the_policy)
{
    xg_res *res = load();
    if (!CHECK(res != NULL))
        return;
    treq get, post;
    treq_init(&get, "GET", "h", "/");
    treq_init(&post, "POST", "h", "/");
    xg_retry_state rs;
    CHECK_EQ_INT(xg_retry_init(&rs, pol(rc_of(res), "reqh"), &get.h, false, &get.arena), 0);
    CHECK(xg_retry_enabled(&rs));
    CHECK_EQ_INT(xg_retry_init(&rs, pol(rc_of(res), "reqh"), &post.h, false, &post.arena), 0);
    CHECK(!xg_retry_enabled(&rs));
    treq_dispose(&get);
    treq_dispose(&post);
    xg_res_unref(res);
}

/* Envoy's JitteredExponentialBackOffStrategy: the n-th back-off is uniform
 * in [0, min(base * 2^(n-1), max)); checked over many fixed-seed draws. */
XG_TEST(backoff_bounds_fixed_seed)
{
    xg_res *res = load();
    if (!CHECK(res != NULL))
        return;
    treq t;
    treq_init(&t, "GET", "h", "/");
    xg_rng rng;
    xg_rng_seed(&rng, 42);
    uint64_t bound[5] = {100, 200, 400, 500, 500}, seen_max[5] = {0}, sum[5] = {0};
    const int runs = 4000;
    for (int run = 0; run < runs; run++) {
        xg_retry_state rs;
        xg_retry_init(&rs, pol(rc_of(res), "bo"), &t.h, false, &t.arena);
        for (int n = 0; n < 5; n++) {
            uint64_t ms = xg_retry_backoff_ms(&rs, xg_rng_next(&rng));
            CHECK(ms < bound[n]);
            seen_max[n] = ms > seen_max[n] ? ms : seen_max[n];
            sum[n] += ms;
        }
    }
    for (int n = 0; n < 5; n++) {
        CHECK(seen_max[n] >= bound[n] * 9 / 10); /* the whole range is used */
        double mean = (double)sum[n] / runs;
        CHECK(mean > bound[n] * 0.45 && mean < bound[n] * 0.55); /* uniform: mean about bound / 2 */
    }
    /* the default policy: 25 ms base, 250 ms max */
    xg_retry_state rs;
    xg_retry_init(&rs, NULL, &t.h, false, &t.arena);
    CHECK(xg_retry_backoff_ms(&rs, 24) == 24 && xg_retry_backoff_ms(&rs, 49) == 49);
    CHECK_EQ_INT(xg_retry_backoff_ms(&rs, 99), 99);
    CHECK_EQ_INT(xg_retry_backoff_ms(&rs, 199), 199);
    CHECK_EQ_INT(xg_retry_backoff_ms(&rs, 249), 249);
    CHECK_EQ_INT(xg_retry_backoff_ms(&rs, 250), 0); /* the bound stays at max: 250 % 250 */
    treq_dispose(&t);
    xg_res_unref(res);
}
