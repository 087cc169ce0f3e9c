/* Unit tests for route matching (src/router/route_match.c), table-driven
 * over real translated configs: virtual host selection (precedence, ports),
 * require_tls, every path match kind with case_sensitive, header matchers
 * (every kind, invert, missing-as-empty, repeated headers), query parameter
 * matchers, runtime_fraction, grpc, tls_context, path parameters, and
 * first-match order. Every lookup also checks index == linear scan. */
#include "router_test.h"

#define R(name, match) "  - name: " name "\n    match: " match "\n    route: {cluster: c}\n"
#define VH_ALL(routes) "virtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n" routes

typedef struct mcase {
    const char *method, *path;
    const char *want;
} mcase;

static void run_cases(const xg_route_config *rc, const mcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *got = match(rc, c[i].method ? c[i].method : "GET", "h", c[i].path, NULL, 0);
        if (!CHECK_STR(got, c[i].want))
            fprintf(stderr, "  case %zu: %s %s\n", i, c[i].method ? c[i].method : "GET", c[i].path);
    }
}

XG_TEST(vhost_precedence)
{
    xg_res *r = rc_load("virtual_hosts:\n"
                        "- {name: exact, domains: [api.example.com, 'api.example.com:8443'], routes: [{name: exact, "
                        "match: {prefix: /}, route: {cluster: c}}]}\n"
                        "- {name: suf_long, domains: ['*-svc.example.com'], routes: [{name: suf_long, match: {prefix: "
                        "/}, route: {cluster: c}}]}\n"
                        "- {name: suf, domains: ['*.example.com'], routes: [{name: suf, match: {prefix: /}, route: "
                        "{cluster: c}}]}\n"
                        "- {name: pre, domains: ['api.*'], routes: [{name: pre, match: {prefix: /}, route: {cluster: "
                        "c}}]}\n"
                        "- {name: any, domains: ['*'], routes: [{name: any, match: {prefix: /}, route: {cluster: "
                        "c}}]}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    static const char *const c[][2] = {
        {"api.example.com", "exact"},
        {"API.Example.COM", "exact"},
        {"a-svc.example.com", "suf_long"},
        {"x.example.com", "suf"},
        {"-svc.example.com", "suf"},
        {".example.com", "any"},
        {"api.other.org", "pre"},
        {"api.", "any"},
        {"other.org", "any"},
        {"api.example.com:8443", "exact"},
        {"api.example.com:80", "pre"}, /* the port is part of the host */
        {"x.example.com:80", "any"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        if (!CHECK_STR(match(rc, "GET", c[i][0], "/", NULL, 0), c[i][1]))
            fprintf(stderr, "  host %s\n", c[i][0]);
    xg_res_unref(r);
}

XG_TEST(vhost_ignore_port)
{
    xg_res *r = rc_load("ignore_port_in_host_matching: true\n"
                        "virtual_hosts:\n"
                        "- {name: a, domains: [a.com, '[::1]'], routes: [{name: a, match: {prefix: /}, route: "
                        "{cluster: c}}]}\n"
                        "- {name: s, domains: ['*.b.com'], routes: [{name: s, match: {prefix: /}, route: {cluster: "
                        "c}}]}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    CHECK_STR(match(rc, "GET", "a.com:8080", "/", NULL, 0), "a");
    CHECK_STR(match(rc, "GET", "a.com", "/", NULL, 0), "a");
    CHECK_STR(match(rc, "GET", "[::1]:443", "/", NULL, 0), "a");
    CHECK_STR(match(rc, "GET", "[::1]", "/", NULL, 0), "a");
    CHECK_STR(match(rc, "GET", "x.b.com:1", "/", NULL, 0), "s");
    CHECK_STR(match(rc, "GET", "c.com", "/", NULL, 0), "<no vhost>");
    CHECK_STR(match(rc, "GET", NULL, "/", NULL, 0), "<no vhost>");
    xg_res_unref(r);

    r = rc_load(VH_ALL(R("any", "{prefix: /}")));
    if (CHECK(r != NULL))
        CHECK_STR(match(rc_of(r), "GET", NULL, "/", NULL, 0), "any"); /* a lone "*" takes requests without a host */
    xg_res_unref(r);
}

XG_TEST(require_tls)
{
    xg_res *r = rc_load("virtual_hosts:\n"
                        "- {name: all, domains: [all], require_tls: ALL, routes: [{match: {prefix: /}, route: "
                        "{cluster: c}}]}\n"
                        "- {name: ext, domains: [ext], require_tls: EXTERNAL_ONLY, routes: [{match: {prefix: /}, "
                        "route: {cluster: c}}]}\n"
                        "- {name: none, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: c}}]}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    struct {
        const char *host, *xfp, *internal;
        bool want;
    } c[] = {
        {"all", "http", NULL, true},   {"all", "https", NULL, false},  {"all", "http", "true", true},
        {"ext", "http", NULL, true},   {"ext", "http", "true", false}, {"ext", "http", "false", true},
        {"ext", "https", NULL, false}, {"none", "http", NULL, false},  {"all", NULL, NULL, true}, /* :scheme http */
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        treq t;
        treq_init(&t, "GET", c[i].host, "/p?q");
        if (c[i].xfp)
            treq_add(&t, "x-forwarded-proto", c[i].xfp);
        if (c[i].internal)
            treq_add(&t, "x-envoy-internal", c[i].internal);
        const xg_vhost *vh = xg_route_find_vhost(rc, &t.h);
        if (!CHECK(xg_route_needs_tls_redirect(vh, &t.h) == c[i].want))
            fprintf(stderr, "  case %zu\n", i);
        treq_dispose(&t);
    }
    xg_res_unref(r);
}

XG_TEST(path_kinds)
{
    xg_res *r =
        rc_load(VH_ALL(R("exact", "{path: /exact}") R("exact_ci", "{path: /Exact/CI, case_sensitive: false}") R(
            "sep", "{path_separated_prefix: /api}") R("sep_ci", "{path_separated_prefix: /Svc, case_sensitive: false}")
                           R("regex", "{safe_regex: {regex: '/re/[0-9]+'}}")
                               R("regex_cs", "{safe_regex: {regex: '/Rx'}, case_sensitive: false}")
                                   R("connect", "{connect_matcher: {}}") R("pre", "{prefix: /pre}")
                                       R("pre_ci", "{prefix: /CI/, case_sensitive: false}") R("root", "{prefix: /}")));
    if (!CHECK(r != NULL))
        return;
    static const mcase c[] = {
        {NULL, "/exact", "exact"},
        {NULL, "/exact?x=1", "exact"}, /* the query is not part of the path */
        {NULL, "/exact/", "root"},
        {NULL, "/EXACT", "root"},
        {NULL, "/exact/ci", "exact_ci"},
        {NULL, "/EXACT/Ci?a", "exact_ci"},
        {NULL, "/api", "sep"},
        {NULL, "/api/", "sep"},
        {NULL, "/api/v1", "sep"},
        {NULL, "/api?x", "sep"},
        {NULL, "/apix", "root"},
        {NULL, "/API/x", "root"},
        {NULL, "/svc", "sep_ci"},
        {NULL, "/SVC/a", "sep_ci"},
        {NULL, "/svcs", "root"},
        {NULL, "/re/123", "regex"},
        {NULL, "/re/123?x=1", "regex"}, /* regex sees the path without query */
        {NULL, "/re/12a", "root"},
        {NULL, "/re/123/", "root"}, /* full match */
        {NULL, "/Rx", "regex_cs"},
        {NULL, "/rx", "root"}, /* case_sensitive does not apply to safe_regex */
        {"CONNECT", NULL, "connect"},
        {"CONNECT", "/pre", "connect"},
        {NULL, "/pre", "pre"},
        {NULL, "/prefix/x", "pre"},
        {NULL, "/Pre", "root"},
        {NULL, "/ci/x", "pre_ci"},
        {NULL, "/Ci/X", "pre_ci"},
        {NULL, "/ci", "root"},
        {NULL, "/", "root"},
    };
    run_cases(rc_of(r), c, sizeof(c) / sizeof(c[0]));
    xg_res_unref(r);
}

XG_TEST(path_prefix_sees_no_query_or_fragment)
{
    xg_res *r = rc_load(VH_ALL(R("q", "{prefix: '/a?'}") R("exact", "{path: /a}") R("root", "{prefix: /}")));
    if (!CHECK(r != NULL))
        return;
    static const mcase c[] = {
        {NULL, "/a?b", "exact"}, /* a prefix containing '?' never matches: the query is cut first */
        {NULL, "/a#f", "exact"},
        {NULL, "/a", "exact"},
    };
    run_cases(rc_of(r), c, sizeof(c) / sizeof(c[0]));
    xg_res_unref(r);
}

XG_TEST(ignore_path_parameters)
{
    const char *routes = R("exact", "{path: /a/b}") R("sep", "{path_separated_prefix: /s}")
        R("regex", "{safe_regex: {regex: '/r'}}") R("root", "{prefix: /}");
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), "ignore_path_parameters_in_path_matching: true\n" VH_ALL("%s"), routes);
    xg_res *r = rc_load(yaml);
    if (!CHECK(r != NULL))
        return;
    static const mcase c[] = {
        {NULL, "/a/b;jsessionid=1", "exact"},
        {NULL, "/a/b;x?q=1", "exact"},
        {NULL, "/a/b?q=;x", "exact"},
        {NULL, "/s;x/y", "sep"},
        {NULL, "/r;v=1", "regex"},
        {NULL, "/a;x/b", "root"}, /* everything after the first ';' goes */
    };
    run_cases(rc_of(r), c, sizeof(c) / sizeof(c[0]));
    xg_res_unref(r);

    snprintf(yaml, sizeof(yaml), VH_ALL("%s"), routes);
    r = rc_load(yaml);
    if (!CHECK(r != NULL))
        return;
    static const mcase d[] = {
        {NULL, "/a/b;jsessionid=1", "root"},
        {NULL, "/a/b", "exact"},
    };
    run_cases(rc_of(r), d, sizeof(d) / sizeof(d[0]));
    xg_res_unref(r);
}

#define HR(name, hm) "  - name: " name "\n    match: {prefix: /, headers: [" hm "]}\n    route: {cluster: c}\n"

XG_TEST(header_matchers)
{
    xg_res *r = rc_load(
        VH_ALL(HR("exact", "{name: X-Exact, string_match: {exact: Val}}")
                   HR("exact_ic", "{name: x-ic, string_match: {exact: val, ignore_case: true}}")
                       HR("prefix", "{name: x-prefix, string_match: {prefix: ab}}")
                           HR("suffix", "{name: x-suffix, string_match: {suffix: yz}}")
                               HR("contains", "{name: x-contains, string_match: {contains: mid}}")
                                   HR("regex", "{name: x-regex, string_match: {safe_regex: {regex: 'v[0-9]+'}}}")
                                       HR("safe_regex", "{name: x-sr, safe_regex_match: {regex: 'a.c'}}")
                                           HR("range", "{name: x-range, range_match: {start: -10, end: 10}}")
                                               HR("present", "{name: x-present, present_match: true}")
                                                   HR("nospec", "{name: x-nospec}")
                                                       HR("method", "{name: ':method', string_match: {exact: PUT}}")
                                                           R("root", "{prefix: /}")));
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    struct {
        const char *const *h;
        const char *want;
    } c[] = {
        {HDRS("x-exact", "Val"), "exact"},
        {HDRS("x-exact", "val"), "root"},
        {HDRS("X-EXACT", "Val"), "exact"}, /* names are case-insensitive */
        {HDRS("x-ic", "VAL"), "exact_ic"},
        {HDRS("x-prefix", "abc"), "prefix"},
        {HDRS("x-prefix", "xab"), "root"},
        {HDRS("x-suffix", "xyz"), "suffix"},
        {HDRS("x-contains", "amidst"), "contains"},
        {HDRS("x-regex", "v12"), "regex"},
        {HDRS("x-regex", "v12x"), "root"},
        {HDRS("x-sr", "abc"), "safe_regex"},
        {HDRS("x-range", "-10"), "range"},
        {HDRS("x-range", " 9 "), "range"}, /* SimpleAtoi trims whitespace */
        {HDRS("x-range", "+5"), "range"},
        {HDRS("x-range", "10"), "root"}, /* end is exclusive */
        {HDRS("x-range", "5x"), "root"},
        {HDRS("x-range", ""), "root"},
        {HDRS("x-range", "99999999999999999999"), "root"},
        {HDRS("x-present", ""), "present"},
        {HDRS("x-nospec", "anything"), "nospec"},
        {HDRS("x-other", "1"), "root"},
        {NULL, "root"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        if (!CHECK_STR(match(rc, "GET", "h", "/", c[i].h, 0), c[i].want))
            fprintf(stderr, "  case %zu\n", i);
    CHECK_STR(match(rc, "PUT", "h", "/", NULL, 0), "method");
    xg_res_unref(r);
}

XG_TEST(header_matchers_invert_missing_repeated)
{
    xg_res *r = rc_load(VH_ALL(
        HR("inv", "{name: x-inv, string_match: {exact: a}, invert_match: true}")
            HR("absent", "{name: x-absent, present_match: false}")
                HR("absent_inv", "{name: x-absent-inv, present_match: true, invert_match: true}")
                    HR("empty", "{name: x-empty, string_match: {exact: ''}, treat_missing_header_as_empty: true}")
                        HR("joined", "{name: x-j, string_match: {exact: 'a,b'}}")
                            HR("two", "{name: x-two-a, string_match: {exact: '1'}}, {name: x-two-b, present_match: "
                                      "true}") R("root", "{prefix: /}")));
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    /* Every request carries x-inv: a so that "inv" stays out of the way
     * unless the case is about it. */
    struct {
        const char *const *h;
        const char *want;
    } c[] = {
        {HDRS("x-inv", "a"), "absent"}, /* no x-absent: present_match false matches */
        {HDRS("x-inv", "b"), "inv"},    /* inverted exact */
        /* A missing header fails an inverted value matcher too (Envoy): "inv"
         * does not take it, the inverted presence test does. */
        {HDRS("x-absent", "1"), "absent_inv"},
        {HDRS("x-inv", "a", "x-absent", "1"), "absent_inv"},
        {HDRS("x-inv", "a", "x-absent", "1", "x-absent-inv", "1", "x-empty", "v"), "root"},
        {HDRS("x-inv", "a", "x-absent", "1", "x-absent-inv", "1"), "empty"}, /* missing treated as "" */
        {HDRS("x-inv", "a", "x-absent", "1", "x-absent-inv", "1", "x-empty", ""), "empty"},
        {HDRS("x-inv", "a", "x-absent", "1", "x-absent-inv", "1", "x-empty", "v", "x-j", "a", "x-j", "b"), "joined"},
        {HDRS("x-inv", "a", "x-absent", "1", "x-absent-inv", "1", "x-empty", "v", "x-j", "a,b"), "joined"},
        {HDRS("x-inv", "a", "x-absent", "1", "x-absent-inv", "1", "x-empty", "v", "x-two-a", "1"), "root"},
        {HDRS("x-inv", "a", "x-absent", "1", "x-absent-inv", "1", "x-empty", "v", "x-two-a", "1", "x-two-b", ""),
         "two"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        if (!CHECK_STR(match(rc, "GET", "h", "/", c[i].h, 0), c[i].want))
            fprintf(stderr, "  case %zu\n", i);
    xg_res_unref(r);
}

/* Each route has its own path so that the matchers never compete. */
#define PHR(name, hm) "  - name: " name "\n    match: {path: /" name ", headers: [" hm "]}\n    route: {cluster: c}\n"

XG_TEST(missing_header_semantics_follow_envoy)
{
    xg_res *r = rc_load(VH_ALL(
        PHR("exact_inv", "{name: x-h, string_match: {exact: a}, invert_match: true}")
            PHR("prefix_inv", "{name: x-h, string_match: {prefix: a}, invert_match: true}")
                PHR("regex_inv", "{name: x-h, string_match: {safe_regex: {regex: 'a.*'}}, invert_match: true}")
                    PHR("range_inv", "{name: x-h, range_match: {start: 0, end: 10}, invert_match: true}")
                        PHR("present_inv", "{name: x-h, present_match: true, invert_match: true}")
                            PHR("absent_inv", "{name: x-h, present_match: false, invert_match: true}")
                                PHR("absent", "{name: x-h, present_match: false}")
                                    PHR("empty_inv", "{name: x-h, string_match: {exact: a}, invert_match: true, "
                                                     "treat_missing_header_as_empty: true}")
                                        PHR("empty_range_inv", "{name: x-h, range_match: {start: 0, end: 10}, "
                                                               "invert_match: true, treat_missing_header_as_empty: "
                                                               "true}")
                                            PHR("empty_present", "{name: x-h, present_match: true, "
                                                                 "treat_missing_header_as_empty: true}")));
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    struct {
        const char *route;
        bool missing, present_a, present_b;
    } c[] = {
        /* header missing / "x-h: a" / "x-h: b" */
        {"exact_inv", false, false, true},   {"prefix_inv", false, false, true},  {"regex_inv", false, false, true},
        {"range_inv", false, true, true},    {"present_inv", true, false, false}, {"absent_inv", false, true, true},
        {"absent", true, false, false},      {"empty_inv", true, false, true},    {"empty_range_inv", true, true, true},
        {"empty_present", true, true, true},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/%s", c[i].route);
        bool got[3] = {*match(rc, "GET", "h", path, NULL, 0) != '\0',
                       *match(rc, "GET", "h", path, HDRS("x-h", "a"), 0) != '\0',
                       *match(rc, "GET", "h", path, HDRS("x-h", "b"), 0) != '\0'};
        if (!CHECK(got[0] == c[i].missing && got[1] == c[i].present_a && got[2] == c[i].present_b))
            fprintf(stderr, "  %s: missing %d a %d b %d\n", c[i].route, got[0], got[1], got[2]);
    }
    xg_res_unref(r);
}

#define QR(name, qm) "  - name: " name "\n    match: {prefix: /, query_parameters: [" qm "]}\n    route: {cluster: c}\n"

XG_TEST(query_matchers)
{
    xg_res *r = rc_load(VH_ALL(QR("exact", "{name: a, string_match: {exact: '1'}}") QR(
        "ic", "{name: B, string_match: {prefix: x, ignore_case: true}}") QR("present", "{name: p, present_match: true}")
                                   QR("nospec", "{name: n}") QR("enc", "{name: e, string_match: {exact: 'a%20b'}}")
                                       QR("absent", "{name: z, present_match: false}")));
    if (!CHECK(r != NULL))
        return;
    static const mcase c[] = {
        {NULL, "/?a=1&z", "exact"},
        {NULL, "/?a=1&a=2&z", "exact"},
        {NULL, "/?a=2&a=1&z", ""}, /* only the first value counts */
        {NULL, "/?B=XYZ&z", "ic"},
        {NULL, "/?b=xyz&z", ""}, /* names are case-sensitive */
        {NULL, "/?p&z", "present"},
        {NULL, "/?p=&z", "present"},
        {NULL, "/?n=5&z", "nospec"},
        {NULL, "/?e=a%20b&z", "enc"}, /* not decoded */
        {NULL, "/?e=a b&z", ""},
        {NULL, "/?x=1", "absent"},
        {NULL, "/", "absent"},
        {NULL, "/?a=1#frag&z", ""}, /* no fragment handling: a is "1#frag", as in Envoy */
        {NULL, "/?=1&&a=1&z", "exact"},
    };
    run_cases(rc_of(r), c, sizeof(c) / sizeof(c[0]));
    xg_res_unref(r);
}

XG_TEST(runtime_fraction_grpc_tls)
{
    xg_res *r = rc_load(VH_ALL(
        R("half", "{prefix: /f, runtime_fraction: {default_value: {numerator: 50, denominator: HUNDRED}, runtime_key: "
                  "k}}") R("none", "{prefix: /f, runtime_fraction: {default_value: {numerator: 0}}}")
            R("grpc", "{prefix: /g, grpc: {}}") R("presented", "{prefix: /t, tls_context: {presented: true}}")
                R("unvalidated", "{prefix: /t, tls_context: {validated: false}}") R("root", "{prefix: /}")));
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    CHECK_STR(match(rc, "GET", "h", "/f", NULL, 0), "half");
    CHECK_STR(match(rc, "GET", "h", "/f", NULL, 499999), "half");
    CHECK_STR(match(rc, "GET", "h", "/f", NULL, 500000), "root");
    CHECK_STR(match(rc, "GET", "h", "/f", NULL, 1000000), "half");
    CHECK_STR(match(rc, "POST", "h", "/g", HDRS("content-type", "application/grpc"), 0), "grpc");
    CHECK_STR(match(rc, "POST", "h", "/g", HDRS("content-type", "application/grpc+proto"), 0), "grpc");
    CHECK_STR(match(rc, "POST", "h", "/g", HDRS("content-type", "application/grpc-web"), 0), "root");
    CHECK_STR(match(rc, "POST", "h", "/g", HDRS("content-type", "Application/grpc"), 0), "root");
    CHECK_STR(match(rc, "POST", "h", "/g", NULL, 0), "root");

    struct {
        bool presented, validated;
        const char *want;
    } c[] = {
        {true, true, "presented"}, {true, false, "presented"}, {false, false, "unvalidated"}, {false, true, "root"}};
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        treq t;
        treq_init(&t, "GET", "h", "/t");
        xg_route_req q;
        xg_route_req_init(&q, &t.h, &t.arena, 0);
        q.tls_presented = c[i].presented;
        q.tls_validated = c[i].validated;
        const xg_route *rt = xg_route_find(rc, xg_route_find_vhost(rc, &t.h), &q);
        CHECK_STR(rt ? rt->name : "", c[i].want);
        treq_dispose(&t);
    }
    xg_res_unref(r);
}

XG_TEST(first_match_wins_across_kinds)
{
    /* Interleaved kinds: the index must still answer in configuration order. */
    xg_res *r = rc_load(VH_ALL(HR("hdr", "{name: x-first, present_match: true}") R("regex", "{safe_regex: {regex: "
                                                                                            "'/a/.*'}}")
                                   R("ci", "{prefix: /A/B, case_sensitive: false}") R("cs", "{prefix: /a/b/c}")
                                       R("exact", "{path: /a/b/c/d}") R("short", "{prefix: /a}")));
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    CHECK_STR(match(rc, "GET", "h", "/a/b/c/d", HDRS("x-first", "1"), 0), "hdr");
    CHECK_STR(match(rc, "GET", "h", "/a/b/c/d", NULL, 0), "regex");
    CHECK_STR(match(rc, "GET", "h", "/A/b/c/d", NULL, 0), "ci");
    CHECK_STR(match(rc, "GET", "h", "/ab", NULL, 0), "short");
    CHECK_STR(match(rc, "GET", "h", "/b", NULL, 0), "");
    xg_res_unref(r);
}

XG_TEST(parse_ints)
{
    int64_t v;
    uint64_t u;
    CHECK(xg_parse_int64("-9223372036854775808", 20, &v) && v == INT64_MIN);
    CHECK(!xg_parse_int64("9223372036854775808", 19, &v));
    CHECK(xg_parse_int64("\t42\r\n", 5, &v) && v == 42);
    CHECK(!xg_parse_int64("4 2", 3, &v));
    CHECK(!xg_parse_int64("-", 1, &v));
    CHECK(!xg_parse_int64("0x10", 4, &v));
    CHECK(xg_parse_uint64("18446744073709551615", 20, &u) && u == UINT64_MAX);
    CHECK(!xg_parse_uint64("18446744073709551616", 20, &u));
    CHECK(!xg_parse_uint64("-1", 2, &u));
    CHECK(xg_parse_uint64("+7", 2, &u) && u == 7);
}
