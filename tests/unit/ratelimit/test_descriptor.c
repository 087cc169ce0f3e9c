/* Unit tests for rate-limit descriptors (src/ratelimit/descriptor.c): every
 * action's entry with Envoy's keys, skip_if_absent, expect_match false,
 * masked addresses (v4/v6, defaults), query parameters (percent-decoded,
 * first value), stage, the virtual host's list under OVERRIDE / INCLUDE /
 * IGNORE and include_vh_rate_limits, the weighted cluster pick, and hostile
 * input (huge header values, many actions, many query parameters, an
 * allocation failure). Route configs go through the real translator. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/un.h>

#include "ratelimit/descriptor.h"
#include "router/route_action.h"
#include "router/router_test.h"

/* Allocation failure injection for the ENOMEM test (not under ASan, which
 * owns malloc): once fail_after reaches 0 every malloc fails. */
#ifndef __SANITIZE_ADDRESS__
extern void *__libc_malloc(size_t n);
static long fail_after = -1;
void *malloc(size_t n)
{
    if (fail_after == 0)
        return NULL;
    if (fail_after > 0)
        fail_after--;
    return __libc_malloc(n);
}
#endif

/* A request against a translated route configuration. */
typedef struct tctx {
    xg_res *res;
    treq t;
    struct sockaddr_storage remote;
    xg_rl_request r;
    xg_rl_descriptors out;
    char text[4096];
} tctx;

static bool tctx_init(tctx *c, const char *yaml, const char *path)
{
    memset(c, 0, sizeof(*c));
    c->res = rc_load(yaml);
    if (c->res == NULL)
        return false;
    treq_init(&c->t, "GET", "example.com", path);
    const xg_route_config *rc = rc_of(c->res);
    c->r.vh = xg_route_find_vhost(rc, &c->t.h);
    xg_route_req q;
    xg_route_req_init(&q, &c->t.h, &c->t.arena, 0);
    c->r.route = c->r.vh != NULL ? xg_route_find(rc, c->r.vh, &q) : NULL;
    c->r.headers = &c->t.h;
    c->r.local_cluster = "edge";
    c->r.arena = &c->t.arena;
    struct sockaddr_in *in = (struct sockaddr_in *)&c->remote;
    in->sin_family = AF_INET;
    in->sin_port = htons(4321);
    inet_pton(AF_INET, "192.168.1.77", &in->sin_addr);
    c->r.remote = (const struct sockaddr *)&c->remote;
    return true;
}

static void tctx_dispose(tctx *c)
{
    treq_dispose(&c->t);
    xg_res_unref(c->res);
}

static void set_v6(tctx *c, const char *addr)
{
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->remote;
    memset(&c->remote, 0, sizeof(c->remote));
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, addr, &in6->sin6_addr);
}

/* The descriptors for stage and vh as "k=v,k=v|k=v" ("" for none, "<err N>"). */
static const char *build(tctx *c, uint32_t stage, xg_vh_rl vh)
{
    int rc = xg_rl_descriptors_build_req(&c->r, stage, vh, &c->out);
    if (rc != 0) {
        snprintf(c->text, sizeof(c->text), "<err %d>", rc);
        return c->text;
    }
    size_t n = 0;
    c->text[0] = '\0';
    for (uint32_t i = 0; i < c->out.n && n < sizeof(c->text); i++)
        for (uint32_t j = 0; j < c->out.items[i].n && n < sizeof(c->text); j++) {
            const xg_rl_entry *e = &c->out.items[i].entries[j];
            n += (size_t)snprintf(c->text + n, sizeof(c->text) - n, "%s%.*s=%.*s",
                                  j   ? ","
                                  : i ? "|"
                                      : "",
                                  (int)e->key.len, e->key.s, (int)e->value.len, e->value.s);
        }
    return c->text;
}

#define RC(vh_extra, route_extra)                                                                                      \
    "virtual_hosts:\n- name: vh\n  domains: ['*']\n" vh_extra "  routes:\n"                                            \
    "  - match: {prefix: /}\n    route:\n      cluster: backend\n" route_extra

XG_TEST(every_action)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         RC("", "      rate_limits:\n      - actions:\n"
                                "        - source_cluster: {}\n"
                                "        - destination_cluster: {}\n"
                                "        - request_headers: {header_name: X-User, descriptor_key: user}\n"
                                "        - remote_address: {}\n"
                                "        - generic_key: {descriptor_value: gv}\n"
                                "        - generic_key: {descriptor_key: k2, descriptor_value: gv2}\n"
                                "        - header_value_match: {descriptor_value: hv, headers: [{name: x-user, "
                                "string_match: {exact: alice}}]}\n"
                                "        - masked_remote_address: {v4_prefix_mask_len: 24}\n"
                                "        - query_parameter_value_match: {descriptor_value: qv, query_parameters: "
                                "[{name: a, string_match: {exact: 'x y'}}]}\n"
                                "        - query_parameters: {query_parameter_name: b, descriptor_key: bee}\n"),
                         "/p?a=x%20y&b=%41%2")))
        return;
    treq_add(&c.t, "x-user", "alice");
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE),
              "source_cluster=edge,destination_cluster=backend,user=alice,remote_address=192.168.1.77,"
              "generic_key=gv,k2=gv2,header_match=hv,masked_remote_address=192.168.1.0/24,query_match=qv,bee=A%2");
    CHECK_EQ_INT(c.out.n, 1);
    c.r.local_cluster = NULL; /* not known: an empty value, as Envoy with no --service-cluster */
    CHECK(strncmp(build(&c, 0, XG_VH_RL_OVERRIDE), "source_cluster=,", 16) == 0);
    tctx_dispose(&c);
}

XG_TEST(request_headers_skip_if_absent)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         RC("", "      rate_limits:\n"
                                "      - actions: [{request_headers: {header_name: x-a, descriptor_key: a}}, "
                                "{generic_key: {descriptor_value: one}}]\n"
                                "      - actions: [{request_headers: {header_name: x-a, descriptor_key: a, "
                                "skip_if_absent: true}}, {generic_key: {descriptor_value: two}}]\n"
                                "      - actions: [{request_headers: {header_name: x-a, descriptor_key: a, "
                                "skip_if_absent: true}}]\n"
                                "      - actions: [{request_headers: {header_name: ':path', descriptor_key: p}}]\n"),
                         "/x")))
        return;
    /* Absent: the first produces nothing, the second goes on without the entry,
     * the third would be empty (left out). */
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "generic_key=two|p=/x");
    treq_add(&c.t, "x-a", "v1");
    treq_add(&c.t, "x-a", "v2"); /* the first value, as Envoy */
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "a=v1,generic_key=one|a=v1,generic_key=two|a=v1|p=/x");
    tctx_dispose(&c);
}

XG_TEST(value_match_expect_false)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         RC("", "      rate_limits:\n"
                                "      - actions: [{header_value_match: {descriptor_value: not-get, expect_match: "
                                "false, headers: [{name: ':method', string_match: {exact: GET}}]}}]\n"
                                "      - actions: [{header_value_match: {descriptor_key: m, descriptor_value: get, "
                                "headers: [{name: ':method', string_match: {exact: GET}}, {name: x-b, "
                                "present_match: true}]}}]\n"
                                "      - actions: [{query_parameter_value_match: {descriptor_value: nodebug, "
                                "expect_match: false, query_parameters: [{name: debug, present_match: true}]}}]\n"),
                         "/x?debug")))
        return;
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), ""); /* GET matches; x-b absent; debug present */
    treq_add(&c.t, "x-b", "1");
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "m=get");
    xg_headers_set_pseudo(&c.t.h, ":method", 7, "POST", 4);
    xg_headers_set_pseudo(&c.t.h, ":path", 5, "/x?other=1", 10);
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "header_match=not-get|query_match=nodebug");
    tctx_dispose(&c);
}

XG_TEST(masked_and_remote_addresses)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         RC("", "      rate_limits:\n"
                                "      - actions: [{masked_remote_address: {}}]\n"
                                "      - actions: [{masked_remote_address: {v4_prefix_mask_len: 0, "
                                "v6_prefix_mask_len: 64}}]\n"
                                "      - actions: [{masked_remote_address: {v4_prefix_mask_len: 13, "
                                "v6_prefix_mask_len: 13}}]\n"
                                "      - actions: [{remote_address: {}}]\n"),
                         "/")))
        return;
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "masked_remote_address=192.168.1.77/32|masked_remote_address=0.0.0.0/0|"
                                               "masked_remote_address=192.168.0.0/13|remote_address=192.168.1.77");
    set_v6(&c, "2001:db8:1:2:3:4:5:6");
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE),
              "masked_remote_address=2001:db8:1:2:3:4:5:6/128|masked_remote_address=2001:db8:1:2::/64|"
              "masked_remote_address=2000::/13|remote_address=2001:db8:1:2:3:4:5:6");
    /* An IPv4 client of a dual-stack listener (::ffff:a.b.c.d) is IPv4, as in
     * Envoy: masked with the v4 prefix, not one ::/64 for every IPv4 client. */
    set_v6(&c, "::ffff:10.1.2.3");
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "masked_remote_address=10.1.2.3/32|masked_remote_address=0.0.0.0/0|"
                                               "masked_remote_address=10.0.0.0/13|remote_address=10.1.2.3");
    set_v6(&c, "::10.1.2.3"); /* IPv4-compatible (deprecated) is not mapped: stays IPv6 */
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "masked_remote_address=::10.1.2.3/128|masked_remote_address=::/64|"
                                               "masked_remote_address=::/13|remote_address=::10.1.2.3");
    /* A client that is not an IP (a Unix socket) or unknown: no descriptor. */
    memset(&c.remote, 0, sizeof(c.remote));
    c.remote.ss_family = AF_UNIX;
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "");
    c.r.remote = NULL;
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "");
    tctx_dispose(&c);
}

XG_TEST(query_parameters_action)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         RC("",
                            "      rate_limits:\n"
                            "      - actions: [{query_parameters: {query_parameter_name: user, descriptor_key: u}}]\n"
                            "      - actions: [{query_parameters: {query_parameter_name: 'a b', descriptor_key: ab, "
                            "skip_if_absent: true}}, {generic_key: {descriptor_value: g}}]\n"
                            "      - actions: [{query_parameters: {query_parameter_name: flag, descriptor_key: f}}]\n"),
                         "/p?user=al%69ce&user=bob&a%20b=%zz%4&flag#frag")))
        return;
    /* Decoded name and value; a broken escape stays; a bare name has "". */
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "u=alice|ab=%zz%4,generic_key=g|f=");
    xg_headers_set_pseudo(&c.t.h, ":path", 5, "/p", 2);
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "generic_key=g");
    xg_headers_set_pseudo(&c.t.h, ":path", 5, "/p?User=x&user", 14); /* names are case-sensitive */
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "u=|generic_key=g");
    /* A value decoding to a NUL makes no descriptor (it cannot be sent or
     * matched whole); skip_if_absent does not apply: the parameter is there. */
    xg_headers_set_pseudo(&c.t.h, ":path", 5, "/p?user=a%00x&a%20b=%00&flag=1", 30);
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "f=1");
    xg_headers_set_pseudo(&c.t.h, ":path", 5, "/p?user=a%01x", 13); /* other control bytes are kept */
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "u=a\001x|generic_key=g");
    tctx_dispose(&c);
}

XG_TEST(stage_filters)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         RC("", "      rate_limits:\n"
                                "      - {stage: 1, actions: [{generic_key: {descriptor_value: s1}}]}\n"
                                "      - {actions: [{generic_key: {descriptor_value: s0}}]}\n"
                                "      - {stage: 1, disable_key: some.runtime.key, actions: [{generic_key: "
                                "{descriptor_value: s1b}}]}\n"
                                "      - {stage: 10, actions: [{generic_key: {descriptor_value: s10}}]}\n"),
                         "/")))
        return;
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "generic_key=s0");
    /* disable_key: no runtime layer, so the entry applies. */
    CHECK_STR(build(&c, 1, XG_VH_RL_OVERRIDE), "generic_key=s1|generic_key=s1b");
    CHECK_STR(build(&c, 10, XG_VH_RL_OVERRIDE), "generic_key=s10");
    CHECK_STR(build(&c, 5, XG_VH_RL_OVERRIDE), "");
    CHECK(c.out.items == NULL && c.out.n == 0);
    tctx_dispose(&c);
}

#define VH_RL "  rate_limits:\n  - actions: [{generic_key: {descriptor_value: vh}}]\n"

XG_TEST(virtual_host_options)
{
    tctx c;
    /* Route with rate limits (at stage 1 only). */
    if (!CHECK(tctx_init(&c,
                         RC(VH_RL, "      rate_limits:\n      - {stage: 1, actions: [{generic_key: "
                                   "{descriptor_value: rt}}]}\n"),
                         "/")))
        return;
    /* OVERRIDE: the route has rate limits (at another stage): the virtual host's are not used. */
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "");
    CHECK_STR(build(&c, 1, XG_VH_RL_OVERRIDE), "generic_key=rt");
    CHECK_STR(build(&c, 0, XG_VH_RL_INCLUDE), "generic_key=vh");
    CHECK_STR(build(&c, 1, XG_VH_RL_INCLUDE), "generic_key=rt");
    CHECK_STR(build(&c, 0, XG_VH_RL_IGNORE), "");
    tctx_dispose(&c);

    /* Route without rate limits. */
    if (!CHECK(tctx_init(&c, RC(VH_RL, ""), "/")))
        return;
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "generic_key=vh");
    CHECK_STR(build(&c, 0, XG_VH_RL_INCLUDE), "generic_key=vh");
    CHECK_STR(build(&c, 0, XG_VH_RL_IGNORE), "");
    tctx_dispose(&c);

    /* include_vh_rate_limits on the route: the route's first, then the virtual host's, whatever vh says. */
    if (!CHECK(tctx_init(&c,
                         RC(VH_RL, "      include_vh_rate_limits: true\n      rate_limits:\n      - actions: "
                                   "[{generic_key: {descriptor_value: rt}}]\n"),
                         "/")))
        return;
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "generic_key=rt|generic_key=vh");
    CHECK_STR(build(&c, 0, XG_VH_RL_IGNORE), "generic_key=rt|generic_key=vh");
    tctx_dispose(&c);
}

XG_TEST(routes_without_forwarding)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         "virtual_hosts:\n- name: vh\n  domains: ['*']\n" VH_RL
                         "  routes:\n  - {match: {prefix: /}, redirect: {host_redirect: x}}\n",
                         "/")))
        return;
    CHECK_STR(build(&c, 0, XG_VH_RL_INCLUDE), "");
    c.r.route = NULL;
    CHECK_STR(build(&c, 0, XG_VH_RL_INCLUDE), "");
    tctx_dispose(&c);
}

XG_TEST(destination_cluster_kinds)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         "virtual_hosts:\n- name: vh\n  domains: ['*']\n  rate_limits:\n"
                         "  - actions: [{destination_cluster: {}}]\n  routes:\n"
                         "  - {match: {prefix: /h}, route: {cluster_header: x-cluster}}\n"
                         "  - {match: {prefix: /w}, route: {weighted_clusters: {clusters: [{name: a, weight: 1}, "
                         "{cluster_header: x-wc, weight: 1}]}}}\n",
                         "/h")))
        return;
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), ""); /* no header: no cluster, no descriptor */
    treq_add(&c.t, "x-cluster", "from-header");
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "destination_cluster=from-header");
    const xg_route *w = &rc_of(c.res)->vhosts[0].routes[1];
    c.r.route = w;
    c.r.wc = xg_route_pick_weighted(w, &c.t.h, 0);
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "destination_cluster=a");
    c.r.wc = xg_route_pick_weighted(w, &c.t.h, 1);
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "");
    treq_add(&c.t, "x-wc", "b");
    CHECK_STR(build(&c, 0, XG_VH_RL_OVERRIDE), "destination_cluster=b");
    /* The router's target for the same pick agrees. */
    xg_route_target t;
    CHECK_EQ_INT(xg_route_target_of(w, c.r.wc, &c.t.h, &c.t.arena, &t), 0);
    CHECK_STR(t.cluster, "b");
    CHECK(t.weighted == c.r.wc);
    tctx_dispose(&c);
}

XG_TEST(hostile_input)
{
    /* 300 actions in one rate limit, 100 rate limits. */
    size_t cap = 64 * 1024;
    char *yaml = malloc(cap);
    if (!CHECK(yaml != NULL))
        return;
    size_t n = (size_t)snprintf(yaml, cap, "%s", RC("", "      rate_limits:\n      - actions:\n"));
    for (int i = 0; i < 300; i++)
        n +=
            (size_t)snprintf(yaml + n, cap - n, "        - request_headers: {header_name: x-big, descriptor_key: k}\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(yaml + n, cap - n,
                              "      - actions: [{query_parameters: {query_parameter_name: q%d, "
                              "descriptor_key: q}}]\n",
                              i);
    tctx c;
    bool ok = tctx_init(&c, yaml, "/");
    free(yaml);
    if (!CHECK(ok))
        return;
    /* A 1 MiB header value is borrowed, not copied; 20000 query parameters parse once. */
    size_t big = 1 << 20;
    char *v = malloc(big + 1);
    memset(v, 'v', big);
    v[big] = '\0';
    treq_add(&c.t, "x-big", v);
    free(v);
    char *path = malloc(20000 * 12 + 16);
    size_t pn = (size_t)sprintf(path, "/p?");
    for (int i = 0; i < 20000; i++)
        pn += (size_t)sprintf(path + pn, "q%d=%%41&", i % 200);
    xg_headers_set_pseudo(&c.t.h, ":path", 5, path, pn);
    free(path);
    CHECK_EQ_INT(xg_rl_descriptors_build_req(&c.r, 0, XG_VH_RL_OVERRIDE, &c.out), 0);
    CHECK_EQ_INT(c.out.n, 101);
    if (c.out.n == 101) {
        CHECK_EQ_INT(c.out.items[0].n, 300);
        CHECK_EQ_INT(c.out.items[0].entries[299].value.len, (long long)big);
        CHECK(c.out.items[0].entries[0].value.s == c.out.items[0].entries[299].value.s);
        CHECK_EQ_INT(c.out.items[100].n, 1);
        CHECK_EQ_INT(c.out.items[100].entries[0].value.len, 1);
    }
    tctx_dispose(&c);
}

#ifndef __SANITIZE_ADDRESS__
XG_TEST(allocation_failure)
{
    tctx c;
    if (!CHECK(tctx_init(&c,
                         RC("", "      rate_limits:\n      - actions: [{remote_address: {}}, {query_parameters: "
                                "{query_parameter_name: a, descriptor_key: a}}]\n"),
                         "/p?a=%41")))
        return;
    /* Every allocation from here on fails at some point: an error, never a crash. */
    int errs = 0, oks = 0;
    for (long k = 0; k < 8; k++) {
        xg_arena_dispose(&c.t.arena); /* headers live in the arena: rebuild them */
        xg_headers_init(&c.t.h, &c.t.arena);
        xg_headers_set_pseudo(&c.t.h, ":path", 5, "/p?a=%41", 8);
        xg_arena a;
        xg_arena_init(&a, 64);
        c.r.arena = &a;
        fail_after = k;
        int rc = xg_rl_descriptors_build_req(&c.r, 0, XG_VH_RL_OVERRIDE, &c.out);
        fail_after = -1;
        if (rc == 0 && c.out.n == 1)
            oks++;
        else if (rc == XG_ENOMEM)
            errs++;
        xg_arena_dispose(&a);
    }
    CHECK(errs > 0);
    CHECK(oks > 0);
    c.r.arena = &c.t.arena;
    tctx_dispose(&c);
}
#endif
