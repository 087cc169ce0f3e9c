/* Unit tests for route actions (src/router/route_action.c): cluster
 * selection (cluster, cluster_header, weighted clusters with the random
 * value and header_name), redirect locations (scheme, host, port, path,
 * prefix/regex rewrite, strip_query, port dropping), direct response and
 * require_tls locations, the upstream request's path and host rewrites with
 * x-envoy-original-path and x-forwarded-host, and internal_only_headers. */
#include "router/route_action.h"
#include "router_test.h"

/* The route named name in the first virtual host. */
static const xg_route *route_named(const xg_route_config *rc, const char *name)
{
    for (size_t i = 0; i < rc->vhosts[0].n_routes; i++)
        if (strcmp(rc->vhosts[0].routes[i].name, name) == 0)
            return &rc->vhosts[0].routes[i];
    return NULL;
}

#define ONE_VH(routes) "virtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n" routes

/* The cluster picked for a request carrying hdrs, or "<err>". */
static const char *cluster(const xg_route *r, const char *const *hdrs, uint64_t random)
{
    static char out[128];
    treq t;
    treq_init(&t, "GET", "h", "/");
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i += 2)
        treq_add(&t, hdrs[i], hdrs[i + 1]);
    xg_route_target tg;
    int rc = xg_route_pick_cluster(r, &t.h, random, &t.arena, &tg);
    snprintf(out, sizeof(out), "%s", rc == 0 ? tg.cluster : "<err>");
    treq_dispose(&t);
    return out;
}

XG_TEST(pick_cluster)
{
    xg_res *res = rc_load(ONE_VH(
        "  - {name: plain, match: {prefix: /p}, route: {cluster: c1, cluster_not_found_response_code: NOT_FOUND}}\n"
        "  - {name: hdr, match: {prefix: /h}, route: {cluster_header: X-Cluster}}\n"
        "  - {name: w, match: {prefix: /w}, route: {weighted_clusters: {clusters: [{name: a, weight: 1}, {name: b, "
        "weight: 2}, {name: c, weight: 3}], header_name: x-rnd}}}\n"
        "  - {name: wh, match: {prefix: /x}, route: {weighted_clusters: {clusters: [{cluster_header: x-wc, weight: "
        "1}]}}}\n"
        "  - {name: redirect, match: {prefix: /r}, redirect: {host_redirect: x}}\n"));
    if (!CHECK(res != NULL))
        return;
    const xg_route_config *rc = rc_of(res);
    CHECK_STR(cluster(route_named(rc, "plain"), NULL, 0), "c1");
    treq t;
    treq_init(&t, "GET", "h", "/");
    xg_route_target tg;
    CHECK_EQ_INT(xg_route_pick_cluster(route_named(rc, "plain"), &t.h, 0, &t.arena, &tg), 0);
    CHECK_EQ_INT(tg.not_found_code, 404);
    CHECK_EQ_INT(xg_route_pick_cluster(route_named(rc, "hdr"), &t.h, 0, &t.arena, &tg), 0);
    CHECK_EQ_INT(tg.not_found_code, 503);
    CHECK_EQ_INT(xg_route_pick_cluster(route_named(rc, "redirect"), &t.h, 0, &t.arena, &tg), XG_EINVAL);
    treq_dispose(&t);

    const xg_route *hdr = route_named(rc, "hdr");
    CHECK_STR(cluster(hdr, HDRS("x-cluster", "svc"), 0), "svc");
    CHECK_STR(cluster(hdr, HDRS("x-cluster", "one", "x-cluster", "two"), 0), "one"); /* the first value only */
    CHECK_STR(cluster(hdr, NULL, 0), "");                                            /* -> cluster not found */

    const xg_route *w = route_named(rc, "w");
    static const char *const want[] = {"a", "b", "b", "c", "c", "c", "a"};
    for (uint64_t i = 0; i < 7; i++)
        CHECK_STR(cluster(w, NULL, i), want[i]);
    CHECK_STR(cluster(w, HDRS("x-rnd", "3"), 0), "c");                    /* the header's value replaces the random */
    CHECK_STR(cluster(w, HDRS("x-rnd", "3", "x-rnd", "3"), 0), "a");      /* two values: ignored */
    CHECK_STR(cluster(w, HDRS("x-rnd", "three"), 1), "b");                /* not a number: ignored */
    CHECK_STR(cluster(w, HDRS("x-rnd", "18446744073709551615"), 0), "c"); /* 2^64-1 % 6 = 3 */
    CHECK_STR(cluster(route_named(rc, "wh"), HDRS("x-wc", "picked"), 0), "picked");
    CHECK_STR(cluster(route_named(rc, "wh"), NULL, 0), "");
    xg_res_unref(res);
}

/* The Location for route name on a request (scheme, host, path, then header
 * pairs); also checks x-envoy-original-path afterwards when want_orig != NULL. */
static const char *location(const xg_route_config *rc, const char *name, const char *scheme, const char *host,
                            const char *path, const char *const *hdrs, const char *want_orig)
{
    static char out[512];
    treq t;
    treq_init(&t, "GET", host, path);
    xg_headers_set_pseudo(&t.h, ":scheme", 7, scheme, strlen(scheme));
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i += 2)
        treq_add(&t, hdrs[i], hdrs[i + 1]);
    xg_hstr loc;
    const xg_route *r = route_named(rc, name);
    int err = r ? xg_route_redirect_location(r, &t.h, true, &loc) : XG_EINVAL;
    snprintf(out, sizeof(out), "%.*s", err == 0 ? (int)loc.len : 5, err == 0 ? loc.s : "<err>");
    if (want_orig != NULL)
        CHECK_STR(hval(&t.h, "x-envoy-original-path"), want_orig[0] ? want_orig : NULL);
    treq_dispose(&t);
    return out;
}

XG_TEST(redirect_locations)
{
    xg_res *res = rc_load(ONE_VH(
        "  - {name: https, match: {prefix: /}, redirect: {https_redirect: true}}\n"
        "  - {name: to_http, match: {prefix: /}, redirect: {scheme_redirect: HTTP}}\n"
        "  - {name: host, match: {prefix: /}, redirect: {host_redirect: b.com}}\n"
        "  - {name: port, match: {prefix: /}, redirect: {port_redirect: 8443}}\n"
        "  - {name: all, match: {prefix: /}, redirect: {https_redirect: true, host_redirect: c.com, port_redirect: "
        "9, path_redirect: /z}}\n"
        "  - {name: path, match: {prefix: /}, redirect: {path_redirect: /new}}\n"
        "  - {name: path_q, match: {prefix: /}, redirect: {path_redirect: '/new?x=1', strip_query: true}}\n"
        "  - {name: path_strip, match: {prefix: /}, redirect: {path_redirect: /new, strip_query: true}}\n"
        "  - {name: strip, match: {prefix: /}, redirect: {strip_query: true, response_code: PERMANENT_REDIRECT}}\n"
        "  - {name: prefix, match: {prefix: /old}, redirect: {prefix_rewrite: /new}}\n"
        "  - {name: prefix_ci, match: {prefix: /OLD, case_sensitive: false}, redirect: {prefix_rewrite: /}}\n"
        "  - {name: regex, match: {prefix: /v}, redirect: {regex_rewrite: {pattern: {regex: '^/v([0-9]+)/(.*)$'}, "
        "substitution: '/\\2/v\\1'}}}\n"));
    if (!CHECK(res != NULL))
        return;
    const xg_route_config *rc = rc_of(res);
    /* https_redirect: the old scheme's default port goes, others stay. */
    CHECK_STR(location(rc, "https", "http", "a.com:80", "/p?q", HDRS("x-forwarded-proto", "http"), ""),
              "https://a.com/p?q");
    CHECK_STR(location(rc, "https", "http", "a.com:8080", "/p", NULL, NULL), "https://a.com:8080/p");
    CHECK_STR(location(rc, "https", "http", "a.com", "/p", NULL, NULL), "https://a.com/p");
    CHECK_STR(location(rc, "https", "http", "[::1]:80", "/", NULL, NULL), "https://[::1]/");
    CHECK_STR(location(rc, "https", "https", "a.com:443", "/", NULL, NULL), "https://a.com:443/"); /* same scheme */
    CHECK_STR(location(rc, "to_http", "https", "a.com:443", "/p", HDRS("x-forwarded-proto", "https"), NULL),
              "http://a.com/p");
    CHECK_STR(location(rc, "host", "http", "a.com:80", "/p?q", NULL, NULL), "http://b.com/p?q");
    CHECK_STR(location(rc, "port", "http", "a.com:80", "/p?q", NULL, NULL), "http://a.com:8443/p?q");
    CHECK_STR(location(rc, "port", "http", "[::1]:80", "/", NULL, NULL), "http://[::1]:8443/");
    CHECK_STR(location(rc, "all", "http", "a.com", "/p?q", NULL, NULL), "https://c.com:9/z?q");
    CHECK_STR(location(rc, "path", "http", "a.com", "/p?q=1", NULL, NULL), "http://a.com/new?q=1");
    CHECK_STR(location(rc, "path_q", "http", "a.com", "/p?q=1", NULL, NULL), "http://a.com/new?x=1");
    CHECK_STR(location(rc, "path_strip", "http", "a.com", "/p?q=1", NULL, NULL), "http://a.com/new");
    CHECK_STR(location(rc, "strip", "https", "a.com", "/p?q=1", NULL, NULL), "https://a.com/p");
    CHECK_STR(location(rc, "prefix", "http", "a.com", "/old/x?q", NULL, "/old/x?q"), "http://a.com/new/x?q");
    CHECK_STR(location(rc, "prefix_ci", "http", "a.com", "/Old/x", NULL, "/Old/x"), "http://a.com//x");
    CHECK_STR(location(rc, "regex", "http", "a.com", "/v12/foo/bar?q", NULL, "/v12/foo/bar?q"),
              "http://a.com/foo/bar/v12?q");
    CHECK_EQ_INT(route_named(rc, "strip")->redirect.code, 308);
    CHECK_EQ_INT(route_named(rc, "https")->redirect.code, 301);
    xg_res_unref(res);
}

XG_TEST(direct_and_tls_locations)
{
    xg_res *res = rc_load(ONE_VH("  - {name: moved, match: {prefix: /}, direct_response: {status: 302, body: "
                                 "{inline_string: bye}}}\n"));
    if (!CHECK(res != NULL))
        return;
    const xg_route *r = route_named(rc_of(res), "moved");
    CHECK(xg_route_direct_has_location(r->direct.status));
    CHECK(xg_route_direct_has_location(201));
    CHECK(!xg_route_direct_has_location(200));
    CHECK(!xg_route_direct_has_location(404));
    CHECK_STR(location(rc_of(res), "moved", "http", "a.com:8080", "/p?q", NULL, ""), "http://a.com:8080/p?q");
    xg_res_unref(res);

    treq t;
    treq_init(&t, "GET", "a.com:8080", "/x?y");
    xg_hstr loc;
    CHECK_EQ_INT(xg_route_tls_redirect_location(&t.h, &t.arena, &loc), 0);
    CHECK(loc.len == strlen("https://a.com:8080/x?y") && memcmp(loc.s, "https://a.com:8080/x?y", loc.len) == 0);
    treq_dispose(&t);
}

/* Runs finalize_request for route name on a request; returns ":authority :path". */
static const char *upstream(const xg_route_config *rc, const char *name, treq *t, const xg_weighted_cluster *wc,
                            bool orig)
{
    static char out[512];
    xg_hvar_ctx ctx = {.request = &t->h};
    const xg_route *r = route_named(rc, name);
    int err = xg_route_finalize_request(rc, &rc->vhosts[0], r, wc, &t->h, &ctx, orig);
    snprintf(out, sizeof(out), "%.*s %.*s", (int)t->h.authority.len, t->h.authority.s, (int)t->h.path.len, t->h.path.s);
    return err == 0 ? out : "<err>";
}

XG_TEST(upstream_rewrites)
{
    xg_res *res = rc_load(ONE_VH(
        "  - {name: prefix, match: {prefix: /old}, route: {cluster: c, prefix_rewrite: /new}}\n"
        "  - {name: prefix_ci, match: {prefix: /OLD/, case_sensitive: false}, route: {cluster: c, prefix_rewrite: "
        "/}}\n"
        "  - {name: exact, match: {path: /e}, route: {cluster: c, prefix_rewrite: /exact}}\n"
        "  - {name: regex_prefix, match: {safe_regex: {regex: '/r.*'}}, route: {cluster: c, prefix_rewrite: /all}}\n"
        "  - {name: regex, match: {prefix: /}, route: {cluster: c, regex_rewrite: {pattern: {regex: 'o'}, "
        "substitution: '0'}}}\n"
        "  - {name: literal, match: {prefix: /}, route: {cluster: c, host_rewrite_literal: up.internal, "
        "append_x_forwarded_host: true}}\n"
        "  - {name: from_header, match: {prefix: /}, route: {cluster: c, host_rewrite_header: x-host}}\n"
        "  - {name: path_regex, match: {prefix: /}, route: {cluster: c, host_rewrite_path_regex: {pattern: {regex: "
        "'^/([a-z]+)/.*$'}, substitution: '\\1.svc'}}}\n"
        "  - {name: auto, match: {prefix: /}, route: {cluster: c, auto_host_rewrite: true}}\n"
        "  - {name: weighted, match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 1, "
        "host_rewrite_literal: wc.host}]}}}\n"
        "  - {name: weighted_and_route, match: {prefix: /}, route: {host_rewrite_literal: route.host, "
        "weighted_clusters: {clusters: [{name: a, weight: 1, host_rewrite_literal: wc.host}]}}}\n"));
    if (!CHECK(res != NULL))
        return;
    const xg_route_config *rc = rc_of(res);
    treq t;
    treq_init(&t, "GET", "h", "/old/x?q=/old");
    CHECK_STR(upstream(rc, "prefix", &t, NULL, true), "h /new/x?q=/old");
    CHECK_STR(hval(&t.h, "x-envoy-original-path"), "/old/x?q=/old");
    treq_dispose(&t);

    treq_init(&t, "GET", "h", "/old/x");
    treq_add(&t, "x-envoy-original-path", "/spoofed");
    CHECK_STR(upstream(rc, "prefix", &t, NULL, false), "h /new/x"); /* suppress_envoy_headers */
    CHECK_STR(hval(&t.h, "x-envoy-original-path"), "/spoofed");
    treq_dispose(&t);

    treq_init(&t, "GET", "h", "/Old/a/b");
    CHECK_STR(upstream(rc, "prefix_ci", &t, NULL, true), "h /a/b");
    treq_dispose(&t);
    treq_init(&t, "GET", "h", "/e?x");
    CHECK_STR(upstream(rc, "exact", &t, NULL, true), "h /exact?x");
    treq_dispose(&t);
    treq_init(&t, "GET", "h", "/r/s/t?x");
    CHECK_STR(upstream(rc, "regex_prefix", &t, NULL, true), "h /all?x"); /* the whole path without query */
    treq_dispose(&t);
    treq_init(&t, "GET", "h", "/foo/boo?o=o");
    CHECK_STR(upstream(rc, "regex", &t, NULL, true), "h /f00/b00?o=o");
    CHECK_STR(hval(&t.h, "x-envoy-original-path"), "/foo/boo?o=o");
    treq_dispose(&t);

    treq_init(&t, "GET", "orig.com", "/");
    CHECK_STR(upstream(rc, "literal", &t, NULL, true), "up.internal /");
    CHECK_STR(hall(&t.h, "x-forwarded-host"), "orig.com");
    CHECK(hval(&t.h, "x-envoy-original-path") == NULL); /* no path rewrite: no header */
    treq_dispose(&t);
    treq_init(&t, "GET", "orig.com", "/");
    treq_add(&t, "x-forwarded-host", "first.com");
    CHECK_STR(upstream(rc, "literal", &t, NULL, true), "up.internal /");
    CHECK_STR(hall(&t.h, "x-forwarded-host"), "first.com,orig.com");
    treq_dispose(&t);

    treq_init(&t, "GET", "orig.com", "/");
    treq_add(&t, "x-host", "from.header");
    treq_add(&t, "x-host", "second");
    CHECK_STR(upstream(rc, "from_header", &t, NULL, true), "from.header /");
    CHECK(hval(&t.h, "x-forwarded-host") == NULL);
    treq_dispose(&t);
    treq_init(&t, "GET", "orig.com", "/");
    treq_add(&t, "x-host", "");
    CHECK_STR(upstream(rc, "from_header", &t, NULL, true), "orig.com /"); /* empty: unchanged */
    treq_dispose(&t);

    treq_init(&t, "GET", "orig.com", "/api/v1?x");
    CHECK_STR(upstream(rc, "path_regex", &t, NULL, true), "api.svc /api/v1?x");
    treq_dispose(&t);
    treq_init(&t, "GET", "orig.com", "/x");
    CHECK_STR(upstream(rc, "auto", &t, NULL, true), "orig.com /x"); /* the upstream layer's job */
    CHECK_EQ_INT(route_named(rc, "auto")->forward.cold->host_rewrite, XG_HOST_REWRITE_AUTO);
    CHECK_EQ_INT(xg_route_update_authority(&t.h, "host-7", 6, true), 0);
    CHECK_STR(upstream(rc, "auto", &t, NULL, true), "host-7 /x");
    CHECK_STR(hall(&t.h, "x-forwarded-host"), "orig.com");
    treq_dispose(&t);

    const xg_route *w = route_named(rc, "weighted");
    treq_init(&t, "GET", "orig.com", "/x");
    CHECK_STR(upstream(rc, "weighted", &t, &w->forward.cold->weighted[0], true), "wc.host /x");
    treq_dispose(&t);
    w = route_named(rc, "weighted_and_route");
    treq_init(&t, "GET", "orig.com", "/x");
    CHECK_STR(upstream(rc, "weighted_and_route", &t, &w->forward.cold->weighted[0], true), "route.host /x");
    treq_dispose(&t);
    xg_res_unref(res);
}

XG_TEST(internal_only_headers)
{
    xg_res *res = rc_load(
        "internal_only_headers: [X-Internal, x-secret]\n" ONE_VH("  - {match: {prefix: /}, route: {cluster: c}}\n"));
    if (!CHECK(res != NULL))
        return;
    treq t;
    treq_init(&t, "GET", "h", "/");
    treq_add(&t, "x-internal", "1");
    treq_add(&t, "X-Secret", "2");
    treq_add(&t, "x-keep", "3");
    xg_route_strip_internal_only(rc_of(res), &t.h);
    CHECK(hval(&t.h, "x-internal") == NULL);
    CHECK(hval(&t.h, "x-secret") == NULL);
    CHECK_STR(hval(&t.h, "x-keep"), "3");
    treq_dispose(&t);
    xg_res_unref(res);
}
