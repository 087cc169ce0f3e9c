/* Unit tests for the route timeouts (src/router/route_timeout.c) over real
 * translated routes: the grpc-timeout format both ways, the router's global
 * timeout (the route's for anything but gRPC; the deprecated
 * max_grpc_timeout and grpc_timeout_offset for gRPC), the stream duration
 * (max_stream_duration, grpc_timeout_header_max and its offset, the HCM's
 * fallback) and the grpc-timeout the upstream is told. */
#include "core/assert.h"
#include "router/route_timeout.h"
#include "router_test.h"

#define ROUTE(name, action) "  - name: " name "\n    match: {prefix: /" name "}\n    route: {cluster: c" action "}\n"

static xg_res *load(void)
{
    return rc_load(
        "virtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n" ROUTE("plain", "") ROUTE("t2", ", timeout: 2s")
            ROUTE("legacy", ", timeout: 3s, max_grpc_timeout: 10s, grpc_timeout_offset: 0.1s")
                ROUTE("legacy0", ", timeout: 3s, max_grpc_timeout: 0s")
                    ROUTE("hdrmax", ", timeout: 3s, max_grpc_timeout: 1s, max_stream_duration: {max_stream_duration: "
                                    "20s, grpc_timeout_header_max: 5s, grpc_timeout_header_offset: 0.5s}")
                        ROUTE("hdrmax0", ", max_stream_duration: {grpc_timeout_header_max: 0s}")
                            ROUTE("msd0", ", max_stream_duration: {max_stream_duration: 0s}")
                                ROUTE("legacy_new", ", max_grpc_timeout: 1s, max_stream_duration: {}"));
}

static const xg_route_forward *fw(const xg_route_config *rc, const char *name)
{
    for (size_t i = 0; i < rc->vhosts[0].n_routes; i++)
        if (strcmp(rc->vhosts[0].routes[i].name, name) == 0)
            return &rc->vhosts[0].routes[i].forward;
    XG_ASSERT(!"no such route");
    return NULL;
}

/* A request with an optional grpc-timeout. */
static void req(treq *t, const char *grpc_timeout)
{
    treq_init(t, "POST", "h", "/x");
    if (grpc_timeout != NULL)
        treq_add(t, "grpc-timeout", grpc_timeout);
}

static uint64_t timeout_of(const xg_route_config *rc, const char *route, const char *gt, bool grpc)
{
    treq t;
    req(&t, gt);
    uint64_t ms = xg_route_timeout_ms(fw(rc, route), &t.h, grpc);
    treq_dispose(&t);
    return ms;
}

XG_TEST(grpc_timeout_parse_and_format)
{
    static const struct {
        const char *in;
        bool ok;
        uint64_t ms;
    } c[] = {
        {"1H", true, 3600000},    {"2M", true, 120000},
        {"3S", true, 3000},       {"250m", true, 250},
        {"1u", true, 1},          {"1000u", true, 1},
        {"1001u", true, 2},       {"1n", true, 1},
        {"0m", true, 0},          {"99999999m", true, 99999999},
        {"100000000m", false, 0}, {"5", false, 0},
        {"m", false, 0},          {"5x", false, 0},
        {"-5m", false, 0},        {"", false, 0},
        {"1.5S", false, 0},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        uint64_t ms = 0;
        bool ok = xg_grpc_timeout_parse(c[i].in, strlen(c[i].in), &ms);
        if (!CHECK(ok == c[i].ok && (!ok || ms == c[i].ms)))
            fprintf(stderr, "  %s: %d %llu\n", c[i].in, ok, (unsigned long long)ms);
    }
    char b[32];
    xg_grpc_timeout_format(1500, b, sizeof(b));
    CHECK_STR(b, "1500m");
    xg_grpc_timeout_format(99999999, b, sizeof(b));
    CHECK_STR(b, "99999999m");
    xg_grpc_timeout_format(100000000, b, sizeof(b));
    CHECK_STR(b, "100000S");
    xg_grpc_timeout_format(UINT64_MAX, b, sizeof(b));
    CHECK_STR(b, "99999999H");
}

XG_TEST(router_timeout_follows_envoy)
{
    xg_res *r = load();
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    /* The default, the route's own, and a grpc-timeout on a route without
     * max_grpc_timeout: ignored, gRPC or not. */
    CHECK_EQ_INT(timeout_of(rc, "plain", NULL, false), 15000);
    CHECK_EQ_INT(timeout_of(rc, "t2", "1S", true), 2000);
    CHECK_EQ_INT(timeout_of(rc, "t2", "1S", false), 2000);
    /* max_grpc_timeout: only gRPC requests read the header... */
    CHECK_EQ_INT(timeout_of(rc, "legacy", "1S", false), 3000);
    CHECK_EQ_INT(timeout_of(rc, "legacy", "1S", true), 900);    /* less the 100 ms offset */
    CHECK_EQ_INT(timeout_of(rc, "legacy", "50m", true), 50);    /* an offset larger than the deadline: not applied */
    CHECK_EQ_INT(timeout_of(rc, "legacy", "60S", true), 10000); /* capped */
    CHECK_EQ_INT(timeout_of(rc, "legacy", NULL, true), 10000);  /* none: infinite, capped */
    CHECK_EQ_INT(timeout_of(rc, "legacy", "bogus", true), 10000);
    /* ...and a max of 0 is no cap at all. */
    CHECK_EQ_INT(timeout_of(rc, "legacy0", "60S", true), 60000);
    CHECK_EQ_INT(timeout_of(rc, "legacy0", NULL, true), 0);
    /* With max_stream_duration (new timeouts) the deprecated fields are ignored. */
    CHECK_EQ_INT(timeout_of(rc, "hdrmax", "60S", true), 3000);
    CHECK_EQ_INT(timeout_of(rc, "legacy_new", "5S", true), 0); /* even an empty MaxStreamDuration; no 15 s default */
    xg_res_unref(r);
}

static int duration_of(const xg_route_config *rc, const char *route, uint64_t hcm, const char *gt, bool grpc)
{
    treq t;
    req(&t, gt);
    uint64_t ms = 0;
    bool on = xg_route_stream_duration_ms(fw(rc, route), hcm, &t.h, grpc, &ms);
    treq_dispose(&t);
    return on ? (int)ms : -1;
}

XG_TEST(stream_duration_follows_envoy)
{
    xg_res *r = load();
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    CHECK_EQ_INT(duration_of(rc, "plain", 0, "1S", true), -1);          /* nothing configured */
    CHECK_EQ_INT(duration_of(rc, "plain", 7000, "1S", true), 7000);     /* the HCM's */
    CHECK_EQ_INT(duration_of(rc, "msd0", 7000, NULL, false), -1);       /* 0 on the route disables the HCM's */
    CHECK_EQ_INT(duration_of(rc, "hdrmax", 7000, NULL, true), 20000);   /* no header: the route's */
    CHECK_EQ_INT(duration_of(rc, "hdrmax", 7000, "2S", true), 1500);    /* header less offset */
    CHECK_EQ_INT(duration_of(rc, "hdrmax", 7000, "60S", true), 4500);   /* capped at 5 s, less offset */
    CHECK_EQ_INT(duration_of(rc, "hdrmax", 7000, "100m", true), 0);     /* offset eats it: expire at once */
    CHECK_EQ_INT(duration_of(rc, "hdrmax", 7000, "2S", false), 20000);  /* not gRPC: the header is not read */
    CHECK_EQ_INT(duration_of(rc, "hdrmax0", 7000, "60S", true), 60000); /* max 0: no cap */
    CHECK_EQ_INT(duration_of(rc, "hdrmax0", 7000, "0m", true), 0);
    CHECK_EQ_INT(duration_of(rc, "hdrmax0", 7000, NULL, true), 7000); /* no max_stream_duration inside: the HCM's */
    xg_res_unref(r);
}

static const char *upstream_grpc_timeout(const xg_route_config *rc, const char *route, uint64_t router_ms,
                                         const char *gt, bool grpc)
{
    static char out[1024];
    treq t;
    req(&t, gt);
    CHECK_EQ_INT(xg_route_set_grpc_timeout(fw(rc, route), 0, router_ms, &t.h, grpc), 0);
    const char *v = hval(&t.h, "grpc-timeout");
    snprintf(out, sizeof(out), "%s", v ? v : "-");
    treq_dispose(&t);
    return out;
}

XG_TEST(upstream_is_told_the_deadline)
{
    xg_res *r = load();
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    CHECK_STR(upstream_grpc_timeout(rc, "plain", 15000, "1S", true), "1S");  /* untouched */
    CHECK_STR(upstream_grpc_timeout(rc, "legacy", 900, "1S", true), "900m"); /* the router's timeout */
    CHECK_STR(upstream_grpc_timeout(rc, "legacy", 900, "1S", false), "1S");  /* not gRPC */
    CHECK_STR(upstream_grpc_timeout(rc, "legacy0", 0, NULL, true), "-");     /* infinite: none */
    CHECK_STR(upstream_grpc_timeout(rc, "hdrmax", 3000, "60S", true), "4500m");
    CHECK_STR(upstream_grpc_timeout(rc, "hdrmax", 3000, NULL, true), "20000m");
    xg_res_unref(r);
}
