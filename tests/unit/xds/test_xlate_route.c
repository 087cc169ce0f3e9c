/* Unit tests for RouteConfiguration translation: YAML -> protobuf (the JSON
 * codec) -> xg_route_config, checking translated fields, defaults, the domain
 * index, and the exact NACK text (with field path) for invalid configs. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/route.h"
#include "core/error.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "xds/pbjson.h"
#include "xds/xlate.h"
#include "xg_test.h"

static char err[1024];

#include "any_rename.h"

static const char *rename_to = "type.googleapis.com/x.Unknown";
static const char previous_hosts[] =
    "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";

/* Translates a RouteConfiguration written as YAML; NULL on failure (err set).
 * Any of type google.protobuf.Empty is renamed to "x.Unknown" first: types
 * xdsgate lacks cannot be written in YAML. */
static xg_res *xlate(const char *yaml)
{
    ProtobufCMessage *m = NULL;
    err[0] = '\0';
    if (xg_pbjson_parse(&envoy__config__route__v3__route_configuration__descriptor, yaml, strlen(yaml), &m, err,
                        sizeof(err)) != 0) {
        fprintf(stderr, "YAML does not decode: %s\n", err);
        return NULL;
    }
    any_rename(m, "google.protobuf.Empty", rename_to);
    xg_res *r = xg_res_new(XG_RES_ROUTE_CONFIG, "rc");
    xg_xlate x;
    xg_xlate_init(&x, r, err, sizeof(err));
    int rc = xg_xlate_route_config(&x, (const Envoy__Config__Route__V3__RouteConfiguration *)m);
    protobuf_c_message_free_unpacked(m, NULL);
    if (rc == 0)
        rc = xg_xlate_finish(&x);
    else
        xg_xlate_dispose(&x);
    if (rc != 0) {
        xg_res_unref(r);
        return NULL;
    }
    return r;
}

/* Expects the translation to fail with exactly this message. */
static bool fails(const char *yaml, const char *want)
{
    xg_res *r = xlate(yaml);
    xg_res_unref(r);
    return CHECK(r == NULL) && CHECK_STR(err, want);
}

static const xg_route_config *body(xg_res *r)
{
    return r ? r->body : NULL;
}

static bool has_dep(const xg_res *r, xg_res_type t, const char *name)
{
    for (size_t i = 0; i < r->n_deps; i++)
        if (r->deps[i].type == t && strcmp(r->deps[i].name, name) == 0)
            return true;
    return false;
}

#define VH(routes) "virtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n" routes
#define ROUTE(match, action) "  - match: " match "\n    " action "\n"
#define FWD "route: {cluster: c1}"

XG_TEST(minimal_defaults)
{
    xg_res *r = xlate("name: rc1\n" VH(ROUTE("{prefix: /}", FWD)));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    CHECK_STR(rc->name, "rc1");
    CHECK_EQ_INT(rc->n_vhosts, 1);
    CHECK(!rc->validate_clusters); /* RDS default */
    CHECK_EQ_INT(rc->max_direct_response_body_size_bytes, 4096);
    const xg_route *rt = &rc->vhosts[0].routes[0];
    CHECK_EQ_INT(rt->match.kind, XG_PATH_PREFIX);
    CHECK(rt->match.case_sensitive);
    CHECK_STR(rt->match.path.s, "/");
    CHECK_EQ_INT(rt->match.fraction_ppm, 1000000);
    CHECK_EQ_INT(rt->action, XG_ROUTE_FORWARD);
    CHECK_EQ_INT(rt->forward.cluster_kind, XG_CLUSTER_NAME);
    CHECK_STR(rt->forward.cluster, "c1");
    CHECK_EQ_INT(rt->forward.timeout_ms, 15000);
    CHECK(rt->forward.idle_timeout_ms == XG_MS_UNSET);
    CHECK(rt->forward.retry == NULL);
    CHECK_EQ_INT(rt->forward.cold->cluster_not_found_code, 503);
    CHECK(has_dep(r, XG_RES_CLUSTER, "c1"));
    CHECK_EQ_INT(r->n_deps, 1);
    CHECK(xg_route_config_find_vhost(rc, "anything", 8) == &rc->vhosts[0]);
    xg_res_unref(r);
}

/* A route that sets nothing rare shares the static default cold blocks; one
 * that sets something gets a block of its own with the value in it. */
XG_TEST(cold_blocks_shared_unless_set)
{
    static const char yaml[] = VH(ROUTE("{prefix: /plain}", FWD) /**/
                                  ROUTE("{prefix: /hot}", "route: {cluster: c1, timeout: 5s, idle_timeout: 1s, "
                                                          "priority: HIGH}") /**/
                                  ROUTE("{prefix: /dflt}", "route: {cluster: c1, "
                                                           "cluster_not_found_response_code: SERVICE_UNAVAILABLE}") /**/
                                  ROUTE("{prefix: /rw}", "route: {cluster: c1, prefix_rewrite: /x}")                /**/
                                  ROUTE("{prefix: /hdr}", FWD "\n    request_headers_to_add: [{header: {key: x-a, "
                                                              "value: b}}]")                               /**/
                                  ROUTE("{prefix: /lim}", FWD "\n    per_request_buffer_limit_bytes: 100") /**/
                                  ROUTE("{prefix: /red}", "redirect: {host_redirect: e.org}")              /**/
                                  ROUTE("{prefix: /dir}", "direct_response: {status: 204}"));
    xg_res *r = xlate(yaml);
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL) || !CHECK_EQ_INT(rc->vhosts[0].n_routes, 8))
        return;
    const xg_route *rt = rc->vhosts[0].routes;
    for (int i = 0; i < 3; i++) {
        CHECK(rt[i].forward.cold == &xg_route_forward_cold_default);
        CHECK(rt[i].cold == &xg_route_cold_default);
    }
    CHECK_EQ_INT(rt[1].forward.timeout_ms, 5000);
    CHECK_EQ_INT(rt[1].forward.idle_timeout_ms, 1000);
    CHECK(rt[1].forward.high_priority);
    CHECK(rt[3].forward.cold != &xg_route_forward_cold_default && rt[3].cold == &xg_route_cold_default);
    CHECK_STR(rt[3].forward.cold->prefix_rewrite, "/x");
    CHECK_EQ_INT(rt[3].forward.cold->cluster_not_found_code, 503);
    CHECK(rt[3].forward.cold->max_stream_duration_ms == XG_MS_UNSET);
    CHECK(rt[4].forward.cold == &xg_route_forward_cold_default && rt[4].cold != &xg_route_cold_default);
    CHECK_EQ_INT(rt[4].cold->request_headers.n_add, 1);
    CHECK(rt[5].cold != &xg_route_cold_default);
    CHECK_EQ_INT(rt[5].cold->per_request_buffer_limit_bytes, 100);
    CHECK(rt[6].action == XG_ROUTE_REDIRECT && rt[6].cold == &xg_route_cold_default);
    CHECK(rt[7].action == XG_ROUTE_DIRECT_RESPONSE && rt[7].cold == &xg_route_cold_default);
    xg_res_unref(r);
}

XG_TEST(domain_index_precedence)
{
    xg_res *r = xlate("virtual_hosts:\n"
                      "- {name: exact, domains: [Foo.Example.com, 'example.com:8080'], routes: []}\n"
                      "- {name: sfx_short, domains: ['*.com'], routes: []}\n"
                      "- {name: sfx_long, domains: ['*.example.com'], routes: []}\n"
                      "- {name: pfx, domains: ['foo.*', 'foo.bar.*'], routes: []}\n"
                      "- {name: any, domains: ['*'], routes: []}\n");
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
#define FIND(h) xg_route_config_find_vhost(rc, h, strlen(h))->name
    CHECK_STR(FIND("foo.example.com"), "exact");
    CHECK_STR(FIND("FOO.EXAMPLE.COM"), "exact");
    CHECK_STR(FIND("example.com:8080"), "exact");
    CHECK_STR(FIND("bar.example.com"), "sfx_long");
    CHECK_STR(FIND("example.com"), "sfx_short");
    CHECK_STR(FIND("foo.org"), "pfx");
    CHECK_STR(FIND("foo.bar.org"), "pfx");
    CHECK_STR(FIND(".example.com"), "sfx_short"); /* a wildcard needs at least one character */
    CHECK_STR(FIND("other.org"), "any");
    CHECK_EQ_INT(rc->domains.n_suffix, 2);
    CHECK_EQ_INT(rc->domains.suffix[0].len, strlen(".example.com"));
    CHECK_EQ_INT(rc->domains.n_prefix, 2);
    CHECK_EQ_INT(rc->domains.prefix[0].len, strlen("foo.bar."));
#undef FIND
    xg_res_unref(r);
}

XG_TEST(no_default_vhost)
{
    xg_res *r = xlate("virtual_hosts: [{name: a, domains: [a.com], routes: []}]\n");
    const xg_route_config *rc = body(r);
    if (CHECK(rc != NULL))
        CHECK(xg_route_config_find_vhost(rc, "b.com", 5) == NULL);
    xg_res_unref(r);
}

XG_TEST(match_kinds)
{
    xg_res *r = xlate(VH(ROUTE("{path: /Exact, case_sensitive: false}", FWD)    /**/
                         ROUTE("{safe_regex: {regex: '/api/v[0-9]+/.*'}}", FWD) /**/
                         ROUTE("{path_separated_prefix: /api}", FWD)            /**/
                         ROUTE("{connect_matcher: {}}", FWD)                    /**/
                         ROUTE("{prefix: /rf, runtime_fraction: {default_value: {numerator: 25, denominator: "
                               "TEN_THOUSAND}, runtime_key: k}}",
                               FWD) /**/
                         ROUTE("{prefix: /g, grpc: {}, tls_context: {presented: true}}", FWD)));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    const xg_route *rt = rc->vhosts[0].routes;
    CHECK_EQ_INT(rt[0].match.kind, XG_PATH_EXACT);
    CHECK_STR(rt[0].match.path.s, "/exact");
    CHECK(!rt[0].match.case_sensitive);
    CHECK_EQ_INT(rt[1].match.kind, XG_PATH_REGEX);
    CHECK(xg_regex_full_match(rt[1].match.regex, "/api/v2/x", 9));
    CHECK(!xg_regex_full_match(rt[1].match.regex, "/api/vx/x", 9));
    CHECK_EQ_INT(rt[2].match.kind, XG_PATH_SEPARATED_PREFIX);
    CHECK_EQ_INT(rt[3].match.kind, XG_PATH_CONNECT);
    CHECK(rt[4].match.has_fraction);
    CHECK_EQ_INT(rt[4].match.fraction_ppm, 2500);
    CHECK(rt[5].match.grpc);
    CHECK_EQ_INT(rt[5].match.tls_presented, XG_TRUE);
    CHECK_EQ_INT(rt[5].match.tls_validated, XG_UNSET);
    CHECK_EQ_INT(rt[5].index, 5);
    xg_res_unref(r);
}

XG_TEST(header_and_query_matchers)
{
    xg_res *r = xlate(VH(ROUTE("{prefix: /, headers: ["
                               "{name: X-Exact, string_match: {exact: v, ignore_case: true}},"
                               "{name: x-re, safe_regex_match: {regex: 'a+'}},"
                               "{name: x-range, range_match: {start: 1, end: 10}, invert_match: true},"
                               "{name: x-present, present_match: false},"
                               "{name: x-none},"
                               "{name: ':method', string_match: {prefix: P}, treat_missing_header_as_empty: true}],"
                               "query_parameters: [{name: q, string_match: {contains: ab}}, {name: p, present_match: "
                               "true}, {name: z}]}",
                               FWD)));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    const xg_route_match *m = &rc->vhosts[0].routes[0].match;
    CHECK_EQ_INT(m->n_headers, 6);
    CHECK_STR(m->headers[0].name.s, "x-exact");
    CHECK_EQ_INT(m->headers[0].kind, XG_HEADER_MATCH_STRING);
    CHECK(xg_string_matcher_match(&m->headers[0].string, "V", 1));
    CHECK_EQ_INT(m->headers[1].string.kind, XG_STRING_MATCH_REGEX);
    CHECK(xg_string_matcher_match(&m->headers[1].string, "aaa", 3));
    CHECK(!xg_string_matcher_match(&m->headers[1].string, "aab", 3));
    CHECK_EQ_INT(m->headers[2].kind, XG_HEADER_MATCH_RANGE);
    CHECK_EQ_INT(m->headers[2].range_end, 10);
    CHECK(m->headers[2].invert);
    CHECK_EQ_INT(m->headers[3].kind, XG_HEADER_MATCH_PRESENT);
    CHECK(!m->headers[3].present);
    CHECK(m->headers[4].present);
    CHECK_STR(m->headers[5].name.s, ":method");
    CHECK(m->headers[5].treat_missing_as_empty);
    CHECK_EQ_INT(m->n_query, 3);
    CHECK(m->query[0].is_string);
    CHECK(xg_string_matcher_match(&m->query[0].string, "xaby", 4));
    CHECK(!m->query[1].is_string && m->query[1].present);
    CHECK(!m->query[2].is_string && m->query[2].present);
    xg_res_unref(r);
}

XG_TEST(forward_action_fields)
{
    xg_res *r =
        xlate(VH(ROUTE("{prefix: /a}", "route: {cluster: c1, prefix_rewrite: /b, host_rewrite_literal: h.example, "
                                       "timeout: 0s, idle_timeout: 2.5s, priority: HIGH, "
                                       "cluster_not_found_response_code: NOT_FOUND, "
                                       "upgrade_configs: [{upgrade_type: WebSocket}, {upgrade_type: CONNECT, "
                                       "connect_config: {allow_post: true}, enabled: false}], "
                                       "max_stream_duration: {max_stream_duration: 60s, "
                                       "grpc_timeout_header_max: 0s}}") /**/
                 ROUTE("{prefix: /r}", "route: {cluster_header: X-Cluster, regex_rewrite: {pattern: {regex: "
                                       "'^/r/(.*)$'}, substitution: '/\\1'}, auto_host_rewrite: true}") /**/
                 ROUTE("{prefix: /w}", "route: {weighted_clusters: {clusters: [{name: a, weight: 1}, {name: "
                                       "b, weight: 3, request_headers_to_add: [{header: {key: x-w, value: "
                                       "b}}]}]}, host_rewrite_header: x-host}")));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    const xg_route *rt = rc->vhosts[0].routes;
    const xg_route_forward *f = &rt[0].forward;
    CHECK_STR(f->cold->prefix_rewrite, "/b");
    CHECK_EQ_INT(f->cold->host_rewrite, XG_HOST_REWRITE_LITERAL);
    CHECK_STR(f->cold->host_rewrite_literal, "h.example");
    CHECK_EQ_INT(f->timeout_ms, 0);
    CHECK_EQ_INT(f->idle_timeout_ms, 2500);
    CHECK(f->high_priority);
    CHECK_EQ_INT(f->cold->cluster_not_found_code, 404);
    CHECK_EQ_INT(f->cold->n_upgrades, 2);
    CHECK_STR(f->cold->upgrades[0].type.s, "websocket");
    CHECK(f->cold->upgrades[0].enabled);
    CHECK(!f->cold->upgrades[1].enabled && f->cold->upgrades[1].connect_allow_post);
    CHECK_EQ_INT(f->cold->max_stream_duration_ms, 60000);
    CHECK_EQ_INT(f->cold->grpc_timeout_header_max_ms, 0);
    f = &rt[1].forward;
    CHECK_EQ_INT(f->cluster_kind, XG_CLUSTER_HEADER);
    CHECK_STR(f->cold->cluster_header.s, "x-cluster");
    CHECK(f->cold->regex_rewrite.pattern != NULL);
    CHECK_STR(f->cold->regex_rewrite.substitution, "/\\1");
    CHECK_EQ_INT(f->cold->host_rewrite, XG_HOST_REWRITE_AUTO);
    xg_buf b;
    xg_buf_init(&b);
    CHECK(xg_regex_replace(f->cold->regex_rewrite.pattern, "/r/x/y", 6, f->cold->regex_rewrite.substitution, &b,
                           NULL) == 0);
    CHECK_STR(b.data, "/x/y");
    xg_buf_dispose(&b);
    f = &rt[2].forward;
    CHECK_EQ_INT(f->cluster_kind, XG_CLUSTER_WEIGHTED);
    CHECK_EQ_INT(f->cold->n_weighted, 2);
    CHECK_EQ_INT(f->cold->total_weight, 4);
    CHECK_STR(f->cold->weighted[1].name, "b");
    CHECK_EQ_INT(f->cold->weighted[1].request_headers.n_add, 1);
    CHECK_EQ_INT(f->cold->host_rewrite, XG_HOST_REWRITE_HEADER);
    CHECK(has_dep(r, XG_RES_CLUSTER, "a") && has_dep(r, XG_RES_CLUSTER, "b") && has_dep(r, XG_RES_CLUSTER, "c1"));
    CHECK_EQ_INT(r->n_deps, 3);
    xg_res_unref(r);
}

/* Envoy's "new" timeouts: max_stream_duration (even empty) drops the 15 s
 * default route timeout; an explicit one is kept (docs/routing.md). */
XG_TEST(route_timeout_under_max_stream_duration)
{
    xg_res *r = xlate(VH(ROUTE("{prefix: /plain}", "route: {cluster: c1}") /**/
                         ROUTE("{prefix: /msd}", "route: {cluster: c1, max_stream_duration: {}}") /**/
                         ROUTE("{prefix: /both}", "route: {cluster: c1, timeout: 3s, max_stream_duration: "
                                                  "{grpc_timeout_header_max: 0s}}")));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    const xg_route *rt = rc->vhosts[0].routes;
    CHECK_EQ_INT(rt[0].forward.timeout_ms, 15000);
    CHECK(!rt[0].forward.cold->has_max_stream_duration);
    CHECK_EQ_INT(rt[1].forward.timeout_ms, 0);
    CHECK(rt[1].forward.cold->has_max_stream_duration);
    CHECK_EQ_INT(rt[2].forward.timeout_ms, 3000);
    xg_res_unref(r);
}

XG_TEST(retry_inherited_and_overridden)
{
    rename_to = previous_hosts;
    xg_res *r = xlate("virtual_hosts:\n- name: vh\n  domains: ['*']\n"
                      "  retry_policy: {retry_on: '5xx, connect-failure', num_retries: 3}\n"
                      "  routes:\n" ROUTE("{prefix: /a}", FWD) /**/
                      ROUTE("{prefix: /b}", "route: {cluster: c1, retry_policy: {retry_on: 'retriable-status-codes,"
                                            "unavailable', retriable_status_codes: [503], per_try_timeout: 1s, "
                                            "retry_back_off: {base_interval: 0.1s}, retry_host_predicate: [{name: "
                                            "envoy.retry_host_predicates.previous_hosts, typed_config: {'@type': "
                                            "type.googleapis.com/google.protobuf.Empty}}]}}"));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    const xg_retry_policy *vp = rc->vhosts[0].retry, *p0 = rc->vhosts[0].routes[0].forward.retry;
    const xg_retry_policy *p1 = rc->vhosts[0].routes[1].forward.retry;
    CHECK(vp != NULL && p0 == vp);
    CHECK_EQ_INT(vp->retry_on, XG_RETRY_5XX | XG_RETRY_CONNECT_FAILURE);
    CHECK_EQ_INT(vp->num_retries, 3);
    CHECK_EQ_INT(vp->backoff_base_ms, 25);
    CHECK_EQ_INT(vp->backoff_max_ms, 250);
    CHECK_EQ_INT(p1->retry_on, XG_RETRY_RETRIABLE_STATUS_CODES | XG_RETRY_GRPC_UNAVAILABLE);
    CHECK_EQ_INT(p1->num_retries, 1);
    CHECK_EQ_INT(p1->per_try_timeout_ms, 1000);
    CHECK_EQ_INT(p1->backoff_base_ms, 100);
    CHECK_EQ_INT(p1->backoff_max_ms, 1000);
    CHECK(p1->previous_hosts);
    CHECK_EQ_INT(p1->n_retriable_status_codes, 1);
    xg_res_unref(r);
    rename_to = "type.googleapis.com/x.Unknown";
}

XG_TEST(redirect_and_direct_response)
{
    xg_res *r = xlate("max_direct_response_body_size_bytes: 10\n" VH(
        ROUTE("{prefix: /r1}", "redirect: {https_redirect: true, port_redirect: 8443, prefix_rewrite: /new, "
                               "response_code: PERMANENT_REDIRECT, strip_query: true}") /**/
        ROUTE("{prefix: /r2}", "redirect: {scheme_redirect: HTTP, host_redirect: example.org, regex_rewrite: "
                               "{pattern: {regex: 'a'}, substitution: b}}")                    /**/
        ROUTE("{prefix: /d1}", "direct_response: {status: 200, body: {inline_string: hello}}") /**/
        ROUTE("{prefix: /d2}", "direct_response: {status: 503}")));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    const xg_route *rt = rc->vhosts[0].routes;
    CHECK_EQ_INT(rt[0].action, XG_ROUTE_REDIRECT);
    CHECK_STR(rt[0].redirect.scheme, "https");
    CHECK_EQ_INT(rt[0].redirect.port, 8443);
    CHECK_EQ_INT(rt[0].redirect.path_kind, XG_REDIRECT_PATH_PREFIX);
    CHECK_STR(rt[0].redirect.path, "/new");
    CHECK_EQ_INT(rt[0].redirect.code, 308);
    CHECK(rt[0].redirect.strip_query);
    CHECK_STR(rt[1].redirect.scheme, "http");
    CHECK_STR(rt[1].redirect.host, "example.org");
    CHECK_EQ_INT(rt[1].redirect.code, 301);
    CHECK_EQ_INT(rt[1].redirect.path_kind, XG_REDIRECT_PATH_REGEX);
    CHECK_EQ_INT(rt[2].action, XG_ROUTE_DIRECT_RESPONSE);
    CHECK_EQ_INT(rt[2].direct.status, 200);
    CHECK_EQ_INT(rt[2].direct.body_len, 5);
    CHECK(memcmp(rt[2].direct.body, "hello", 5) == 0);
    CHECK(rt[3].direct.body == NULL);
    CHECK_EQ_INT(r->n_deps, 0);
    xg_res_unref(r);
}

XG_TEST(direct_response_file)
{
    char path[] = "/tmp/xg_test_body_XXXXXX";
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0))
        return;
    CHECK(write(fd, "from file", 9) == 9);
    close(fd);
    char yaml[512];
    snprintf(yaml, sizeof(yaml), VH(ROUTE("{prefix: /}", "direct_response: {status: 404, body: {filename: %s}}")),
             path);
    xg_res *r = xlate(yaml);
    const xg_route_config *rc = body(r);
    if (CHECK(rc != NULL))
        CHECK(rc->vhosts[0].routes[0].direct.body_len == 9);
    xg_res_unref(r);
    unlink(path);
    snprintf(yaml, sizeof(yaml), VH(ROUTE("{prefix: /}", "direct_response: {status: 404, body: {filename: %s}}")),
             path);
    char want[256];
    snprintf(want, sizeof(want),
             "virtual_hosts[0].routes[0].direct_response.body.filename: cannot read \"%s\": No such file or directory",
             path);
    fails(yaml, want);
}

XG_TEST(header_mutations)
{
    xg_res *r = xlate("request_headers_to_add: [{header: {key: X-RC, value: rc}, append_action: "
                      "OVERWRITE_IF_EXISTS_OR_ADD}]\n"
                      "response_headers_to_remove: [X-Internal]\n"
                      "internal_only_headers: [X-Secret]\n" VH(ROUTE(
                          "{prefix: /}", "route: {cluster: c1}\n"
                                         "    request_headers_to_add:\n"
                                         "    - {header: {key: x-a, value: '%DOWNSTREAM_REMOTE_ADDRESS% and 100%% "
                                         "%REQ(User-Agent)%'}, append: false}\n"
                                         "    - {header: {key: x-b, value: ''}, keep_empty_value: true, append: true}\n"
                                         "    - {header: {key: x-c, raw_value: YWJj}, append_action: ADD_IF_ABSENT}\n"
                                         "    request_headers_to_remove: [x-gone]")));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    CHECK_STR(rc->request_headers.add[0].name.s, "x-rc");
    CHECK_EQ_INT(rc->request_headers.add[0].append, XG_HEADER_OVERWRITE_IF_EXISTS_OR_ADD);
    CHECK(rc->request_headers.add[0].parts == NULL);
    CHECK_STR(rc->response_headers.remove[0].s, "x-internal");
    CHECK_STR(rc->internal_only_headers[0].s, "x-secret");
    const xg_header_mutations *h = &rc->vhosts[0].routes[0].cold->request_headers;
    CHECK_EQ_INT(h->n_add, 3);
    CHECK_EQ_INT(h->add[0].append, XG_HEADER_OVERWRITE_IF_EXISTS_OR_ADD);
    if (CHECK_EQ_INT(h->add[0].n_parts, 3)) {
        CHECK_EQ_INT(h->add[0].parts[0].var, XG_HVAR_DOWNSTREAM_REMOTE_ADDRESS);
        CHECK_EQ_INT(h->add[0].parts[1].var, XG_HVAR_LITERAL);
        CHECK_STR(h->add[0].parts[1].text.s, " and 100% ");
        CHECK_EQ_INT(h->add[0].parts[2].var, XG_HVAR_REQ);
        CHECK_STR(h->add[0].parts[2].text.s, "user-agent");
    }
    CHECK_EQ_INT(h->add[1].append, XG_HEADER_APPEND_IF_EXISTS_OR_ADD);
    CHECK(h->add[1].keep_empty_value);
    CHECK_STR(h->add[2].value.s, "abc");
    CHECK_EQ_INT(h->add[2].append, XG_HEADER_ADD_IF_ABSENT);
    CHECK_STR(h->remove[0].s, "x-gone");
    xg_res_unref(r);
}

XG_TEST(hash_policies_and_rate_limits)
{
    xg_res *r = xlate(VH(ROUTE("{prefix: /}", "route:\n"
                                              "      cluster: c1\n"
                                              "      hash_policy:\n"
                                              "      - {header: {header_name: X-User}, terminal: true}\n"
                                              "      - {cookie: {name: sess, ttl: 3600s, path: /}}\n"
                                              "      - {connection_properties: {source_ip: true}}\n"
                                              "      - {connection_properties: {source_ip: false}}\n"
                                              "      - {query_parameter: {name: u}}\n"
                                              "      rate_limits:\n"
                                              "      - stage: 1\n"
                                              "        disable_key: off\n"
                                              "        actions:\n"
                                              "        - {request_headers: {header_name: X-Key, descriptor_key: key}}\n"
                                              "        - {generic_key: {descriptor_value: gv}}\n"
                                              "        - {remote_address: {}}\n"
                                              "        - {masked_remote_address: {v4_prefix_mask_len: 24}}\n"
                                              "        - {header_value_match: {descriptor_value: hv, headers: [{name: "
                                              "x-h, present_match: true}]}}\n"
                                              "        - {query_parameter_value_match: {descriptor_key: qk, "
                                              "descriptor_value: qv, expect_match: false, query_parameters: [{name: "
                                              "q}]}}\n"
                                              "        - {source_cluster: {}}\n"
                                              "        - {destination_cluster: {}}\n"
                                              "      include_vh_rate_limits: true")));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    const xg_route_forward *f = &rc->vhosts[0].routes[0].forward;
    CHECK_EQ_INT(f->cold->n_hash_policies, 4); /* source_ip: false is a no-op, as in Envoy */
    CHECK_EQ_INT(f->cold->hash_policies[0].kind, XG_HASH_HEADER);
    CHECK_STR(f->cold->hash_policies[0].name.s, "x-user");
    CHECK(f->cold->hash_policies[0].terminal);
    CHECK_EQ_INT(f->cold->hash_policies[1].kind, XG_HASH_COOKIE);
    CHECK(f->cold->hash_policies[1].cookie_generate);
    CHECK_EQ_INT(f->cold->hash_policies[1].cookie_ttl_ms, 3600000);
    CHECK_EQ_INT(f->cold->hash_policies[2].kind, XG_HASH_SOURCE_IP);
    CHECK_EQ_INT(f->cold->hash_policies[3].kind, XG_HASH_QUERY_PARAMETER);
    CHECK_EQ_INT(f->cold->include_vh_rate_limits, XG_TRUE);
    if (!CHECK_EQ_INT(f->cold->rate_limits.n, 1))
        return;
    const xg_rate_limit *rl = &f->cold->rate_limits.items[0];
    CHECK_EQ_INT(rl->stage, 1);
    CHECK_STR(rl->disable_key, "off");
    CHECK_EQ_INT(rl->n_actions, 8);
    CHECK_STR(rl->actions[0].header_name.s, "x-key");
    CHECK_STR(rl->actions[0].descriptor_key, "key");
    CHECK_STR(rl->actions[1].descriptor_key, "generic_key");
    CHECK_STR(rl->actions[1].descriptor_value, "gv");
    CHECK_STR(rl->actions[2].descriptor_key, "remote_address");
    CHECK_EQ_INT(rl->actions[3].v4_prefix_len, 24);
    CHECK_EQ_INT(rl->actions[3].v6_prefix_len, 128);
    CHECK_STR(rl->actions[4].descriptor_key, "header_match");
    CHECK(rl->actions[4].expect_match);
    CHECK_STR(rl->actions[5].descriptor_key, "qk");
    CHECK(!rl->actions[5].expect_match);
    CHECK_EQ_INT(rl->actions[6].kind, XG_RL_SOURCE_CLUSTER);
    CHECK_STR(rl->actions[7].descriptor_key, "destination_cluster");
    xg_res_unref(r);
}

XG_TEST(typed_per_filter_config_raw)
{
    xg_res *r =
        xlate("typed_per_filter_config:\n"
              "  envoy.filters.http.local_ratelimit:\n"
              "    '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n"
              "    stat_prefix: rl\n"
              "    token_bucket: {max_tokens: 3, fill_interval: 1s}\n"
              "  a.filter:\n"
              "    '@type': type.googleapis.com/envoy.config.route.v3.FilterConfig\n"
              "    disabled: true\n"
              "  b.filter:\n"
              "    '@type': type.googleapis.com/envoy.config.route.v3.FilterConfig\n"
              "    is_optional: true\n"
              "    config: {'@type': type.googleapis.com/google.protobuf.Empty}\n" VH(ROUTE("{prefix: /}", FWD)));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    CHECK_EQ_INT(rc->per_filter.n, 3);
    CHECK_STR(rc->per_filter.items[0].key, "a.filter"); /* sorted */
    const xg_typed_config *t = xg_typed_config_find(&rc->per_filter, "envoy.filters.http.local_ratelimit");
    if (CHECK(t != NULL)) {
        CHECK_STR(t->type_name, "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit");
        CHECK(t->len > 0);
        CHECK_STR(t->translated_type, "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit");
        CHECK(t->translated != NULL);
    }
    CHECK(xg_typed_config_find(&rc->per_filter, "nope") == NULL);
    xg_res_unref(r);
}

/* --- NACKs --- */

XG_TEST(nack_domains)
{
    fails("virtual_hosts: [{name: a, domains: [a.com, '*']}, {name: b, domains: [B.com, A.COM]}]\n",
          "virtual_hosts[1].domains[1]: domain \"a.com\" is already used by virtual host \"a\"; a domain may appear "
          "only once in a route configuration");
    fails("virtual_hosts: [{name: a, domains: ['*']}, {name: b, domains: ['*']}]\n",
          "virtual_hosts[1].domains[0]: domain \"*\" is already used by virtual host \"a\"; a domain may appear only "
          "once in a route configuration");
    fails("virtual_hosts: [{name: a, domains: ['a.*.com']}]\n",
          "virtual_hosts[0].domains[0]: domain \"a.*.com\": a wildcard '*' is allowed only alone (\"*\"), at the start "
          "(\"*.example.com\") or at the end (\"example.*\")");
    fails("virtual_hosts: [{name: a, domains: ['*.a.*']}]\n",
          "virtual_hosts[0].domains[0]: domain \"*.a.*\": a wildcard '*' is allowed only alone (\"*\"), at the start "
          "(\"*.example.com\") or at the end (\"example.*\")");
    fails("virtual_hosts: [{name: a, domains: []}]\n", "virtual_hosts[0].domains: at least one domain is required");
    fails("virtual_hosts: [{name: a, domains: ['']}]\n", "virtual_hosts[0].domains[0]: a domain must not be empty");
    fails("virtual_hosts: [{domains: [a]}]\n", "virtual_hosts[0].name: must not be empty");
}

XG_TEST(nack_regex)
{
    fails(VH(ROUTE("{safe_regex: {regex: '(abc'}}", FWD)),
          "virtual_hosts[0].routes[0].match.safe_regex.regex: invalid regex \"(abc\": missing ): (abc");
    fails(
        VH(ROUTE("{prefix: /, headers: [{name: x, string_match: {safe_regex: {regex: '['}}}]}", FWD)),
        "virtual_hosts[0].routes[0].match.headers[0].string_match.safe_regex.regex: invalid regex \"[\": missing ]: [");
    fails(VH(ROUTE("{safe_regex: {regex: ''}}", FWD)),
          "virtual_hosts[0].routes[0].match.safe_regex.regex: regex must not be empty");
    fails(VH(ROUTE("{safe_regex: {regex: '(a{1000}){1000}'}}", FWD)),
          "virtual_hosts[0].routes[0].match.safe_regex.regex: invalid regex \"(a{1000}){1000}\": invalid repetition "
          "size: {1000}");
    fails(VH(ROUTE("{safe_regex: {regex: '[a-z]{50}[0-9]{50}'}}", FWD)),
          "virtual_hosts[0].routes[0].match.safe_regex.regex: invalid regex \"[a-z]{50}[0-9]{50}\": RE2 program size "
          "of 104 > max program size of 100");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, regex_rewrite: {pattern: {regex: a}, substitution: '\\1'}}")),
          "virtual_hosts[0].routes[0].route.regex_rewrite.substitution: \"\\1\": Rewrite schema requests 1 matches, "
          "but the regexp only has 0 parenthesized subexpressions.");
}

XG_TEST(nack_match)
{
    fails(VH(ROUTE("{headers: []}", FWD)), "virtual_hosts[0].routes[0].match: one of prefix, path, safe_regex, "
                                           "path_separated_prefix or connect_matcher is required");
    fails(VH(ROUTE("{path_separated_prefix: /api/}", FWD)),
          "virtual_hosts[0].routes[0].match.path_separated_prefix: \"/api/\": must be at least two characters, without "
          "'?' or '#', not ending in '/'");
    fails(VH(ROUTE("{prefix: /, headers: [{name: 'bad name', present_match: true}]}", FWD)),
          "virtual_hosts[0].routes[0].match.headers[0].name: invalid header name \"bad name\": only HTTP token "
          "characters are allowed");
    fails(VH(ROUTE("{prefix: /, query_parameters: [{name: '', present_match: true}]}", FWD)),
          "virtual_hosts[0].routes[0].match.query_parameters[0].name: must be 1 to 1024 characters");
    fails(VH(ROUTE("{prefix: /, headers: [{name: x, string_match: {prefix: ''}}]}", FWD)),
          "virtual_hosts[0].routes[0].match.headers[0].string_match.prefix: must not be empty");
    fails(VH(ROUTE("{prefix: /, headers: [{name: x, string_match: {ignore_case: true}}]}", FWD)),
          "virtual_hosts[0].routes[0].match.headers[0].string_match: one of exact, prefix, suffix, contains or "
          "safe_regex is required");
    fails(VH(ROUTE("{prefix: /, runtime_fraction: {runtime_key: k}}", FWD)),
          "virtual_hosts[0].routes[0].match.runtime_fraction: default_value is required");
}

XG_TEST(nack_actions)
{
    fails(VH("  - match: {prefix: /}\n"), "virtual_hosts[0].routes[0]: one of route, redirect or direct_response is "
                                          "required");
    fails(VH(ROUTE("{prefix: /}", "route: {timeout: 1s}")),
          "virtual_hosts[0].routes[0].route: one of cluster, cluster_header or weighted_clusters is required");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: ''}")), "virtual_hosts[0].routes[0].route.cluster: must not be "
                                                            "empty");
    fails(VH(ROUTE("{prefix: /}", "route: {weighted_clusters: {clusters: [{name: a, weight: 0}, {name: b}]}}")),
          "virtual_hosts[0].routes[0].route.weighted_clusters.clusters: the sum of weights must be greater than 0");
    fails(VH(ROUTE("{prefix: /}", "route: {weighted_clusters: {clusters: [{name: a, weight: 4294967295}, {name: b, "
                                  "weight: 1}]}}")),
          "virtual_hosts[0].routes[0].route.weighted_clusters.clusters: the sum of weights must not exceed 4294967295");
    fails(VH(ROUTE("{prefix: /}", "route: {weighted_clusters: {clusters: [{weight: 1}]}}")),
          "virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0]: one of name or cluster_header is required");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, prefix_rewrite: /x, regex_rewrite: {pattern: {regex: a}, "
                                  "substitution: b}}")),
          "virtual_hosts[0].routes[0].route: only one of prefix_rewrite and regex_rewrite may be set");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, request_mirror_policies: [{cluster: m}]}")),
          "virtual_hosts[0].routes[0].route.request_mirror_policies: not supported yet");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, hedge_policy: {}}")),
          "virtual_hosts[0].routes[0].route.hedge_policy: not supported");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, metadata_match: {filter_metadata: {envoy.lb: {a: b}}}}")),
          "virtual_hosts[0].routes[0].route.metadata_match: not supported (no subset load balancing)");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, timeout: -1s}")),
          "virtual_hosts[0].routes[0].route.timeout: must not be negative");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, upgrade_configs: [{upgrade_type: websocket}, {upgrade_type: "
                                  "WebSocket}]}")),
          "virtual_hosts[0].routes[0].route.upgrade_configs[1].upgrade_type: \"WebSocket\" is configured more than "
          "once");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, upgrade_configs: [{upgrade_type: websocket, connect_config: "
                                  "{}}]}")),
          "virtual_hosts[0].routes[0].route.upgrade_configs[0].connect_config: only valid for the CONNECT upgrade, not "
          "\"websocket\"");
    fails(VH(ROUTE("{prefix: /}", "redirect: {port_redirect: 70000}")),
          "virtual_hosts[0].routes[0].redirect.port_redirect: 70000 is not a port (1-65535)");
    fails(VH(ROUTE("{prefix: /}", "direct_response: {status: 99}")),
          "virtual_hosts[0].routes[0].direct_response.status: 99 is not in 200-599");
    fails("max_direct_response_body_size_bytes: 3\n" VH(ROUTE("{prefix: /}", "direct_response: {status: 200, body: "
                                                                             "{inline_string: abcd}}")),
          "virtual_hosts[0].routes[0].direct_response.body: body is 4 bytes, more than "
          "max_direct_response_body_size_bytes (3)");
    fails(VH(ROUTE("{prefix: /}", "direct_response: {status: 200, body: {environment_variable: XG_NOT_SET_EVER}}")),
          "virtual_hosts[0].routes[0].direct_response.body.environment_variable: $XG_NOT_SET_EVER is not set");
}

XG_TEST(nack_policies)
{
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, retry_policy: {retry_on: '5xx,bogus'}}")),
          "virtual_hosts[0].routes[0].route.retry_policy.retry_on: unknown retry condition \"bogus\"");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, retry_policy: {retriable_status_codes: [600]}}")),
          "virtual_hosts[0].routes[0].route.retry_policy.retriable_status_codes[0]: 600 is not an HTTP status code "
          "(100-599)");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, retry_policy: {retry_back_off: {base_interval: 1s, "
                                  "max_interval: 0.5s}}}")),
          "virtual_hosts[0].routes[0].route.retry_policy.retry_back_off: max_interval must be greater than or equal to "
          "base_interval");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, retry_policy: {retry_host_predicate: [{name: x, typed_config: "
                                  "{'@type': type.googleapis.com/google.protobuf.Empty}}]}}")),
          "virtual_hosts[0].routes[0].route.retry_policy.retry_host_predicate[0]: retry host predicate type "
          "\"type.googleapis.com/x.Unknown\" is not supported (only "
          "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate)");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, hash_policy: [{filter_state: {key: k}}]}")),
          "virtual_hosts[0].routes[0].route.hash_policy[0].filter_state: not supported");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: []}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions: at least one action is required");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{stage: 11, actions: [{remote_address: {}}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].stage: 11 is more than 10");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{generic_key: {}}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].generic_key.descriptor_value: must not be empty");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{metadata: {descriptor_key: k}}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].metadata: rate limit action not supported");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{masked_remote_address: "
                                  "{v4_prefix_mask_len: 33}}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].masked_remote_address: v4_prefix_mask_len: 33 is "
          "more than 32");
}

XG_TEST(rate_limit_query_parameters)
{
    xg_res *r = xlate(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{query_parameters: "
                                              "{query_parameter_name: User, descriptor_key: u, skip_if_absent: "
                                              "true}}, {query_parameters: {query_parameter_name: p, descriptor_key: "
                                              "pk}}]}]}")));
    const xg_route_config *rc = body(r);
    if (!CHECK(rc != NULL))
        return;
    const xg_rate_limit *rl = &rc->vhosts[0].routes[0].forward.cold->rate_limits.items[0];
    CHECK_EQ_INT(rl->n_actions, 2);
    CHECK_EQ_INT(rl->actions[0].kind, XG_RL_QUERY_PARAMETERS);
    CHECK_STR(rl->actions[0].query_name.s, "User"); /* query parameter names are case-sensitive: kept */
    CHECK_EQ_INT(rl->actions[0].query_name.len, 4);
    CHECK_STR(rl->actions[0].descriptor_key, "u");
    CHECK(rl->actions[0].skip_if_absent);
    CHECK(!rl->actions[1].skip_if_absent);
    CHECK_STR(rl->actions[1].descriptor_key, "pk");
    xg_res_unref(r);
}

XG_TEST(nack_rate_limit_actions)
{
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{query_parameters: "
                                  "{descriptor_key: k}}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].query_parameters.query_parameter_name: must not "
          "be empty");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{query_parameters: "
                                  "{query_parameter_name: q}}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].query_parameters.descriptor_key: must not be "
          "empty");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{generic_key: {descriptor_value: v}}, "
                                  "{extension: {name: e, typed_config: {'@type': "
                                  "type.googleapis.com/google.protobuf.Empty}}}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions[1].extension: rate limit action not supported");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{metadata: {descriptor_key: k, "
                                  "source: ROUTE_ENTRY}}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].metadata: rate limit action not supported");
    fails("virtual_hosts:\n- name: vh\n  domains: ['*']\n  rate_limits: [{actions: [{source_cluster: {}}, "
          "{request_headers: {header_name: x}}]}]\n  routes: []\n",
          "virtual_hosts[0].rate_limits[0].actions[1].request_headers.descriptor_key: must not be empty");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c, rate_limits: [{actions: [{}]}]}")),
          "virtual_hosts[0].routes[0].route.rate_limits[0].actions[0]: an action is required (source_cluster, "
          "destination_cluster, request_headers, remote_address, generic_key, header_value_match, "
          "masked_remote_address, query_parameter_value_match or query_parameters)");
}

XG_TEST(nack_headers)
{
    fails("request_headers_to_add: [{header: {key: ':path', value: x}}]\n",
          "request_headers_to_add[0].header.key: \":path\": ':'-prefixed or host headers may not be modified");
    fails("request_headers_to_add: [{header: {key: Host, value: x}}]\n",
          "request_headers_to_add[0].header.key: \"host\": ':'-prefixed or host headers may not be modified");
    fails("response_headers_to_remove: [':status']\n",
          "response_headers_to_remove[0]: \":status\": ':'-prefixed or host headers may not be removed");
    fails("request_headers_to_add: [{header: {key: x, value: a}, append: true, append_action: ADD_IF_ABSENT}]\n",
          "request_headers_to_add[0]: append and append_action are both set; use append_action only");
    fails("request_headers_to_add: [{header: {key: x, value: '%FOO%'}}]\n",
          "request_headers_to_add[0].header: header value operator %FOO% is not supported");
    fails("request_headers_to_add: [{header: {key: x, value: '50%'}}]\n",
          "request_headers_to_add[0].header: unterminated % operator in header value \"50%\" (write %% for a literal "
          "%)");
    fails("request_headers_to_add: [{header: {key: x, value: \"a\\nb\"}}]\n",
          "request_headers_to_add[0].header: header \"x\": value contains CR, LF or NUL");
    fails("request_headers_to_add: [{append_action: ADD_IF_ABSENT}]\n",
          "request_headers_to_add[0]: header is required");
    fails("request_headers_to_add: [{header: {key: '', value: a}}]\n",
          "request_headers_to_add[0].header.key: header name must not be empty");
}

XG_TEST(nack_per_filter_config)
{
    fails("typed_per_filter_config:\n  x.y:\n    '@type': type.googleapis.com/google.protobuf.Empty\n" VH(
              ROUTE("{prefix: /}", FWD)),
          "typed_per_filter_config[\"x.y\"]: type \"type.googleapis.com/x.Unknown\" is not supported");
    fails("typed_per_filter_config:\n  x.y:\n    '@type': type.googleapis.com/envoy.config.route.v3.FilterConfig\n"
          "    config: {'@type': type.googleapis.com/google.protobuf.Empty}\n" VH(ROUTE("{prefix: /}", FWD)),
          "typed_per_filter_config[\"x.y\"].config: type \"type.googleapis.com/x.Unknown\" is not supported and the "
          "FilterConfig is not optional");
    fails("request_mirror_policies: [{cluster: m}]\n", "request_mirror_policies: not supported yet");
}

XG_TEST(string_matcher_kinds)
{
    xg_res *r = xlate(VH(ROUTE("{prefix: /, headers: ["
                               "{name: a, string_match: {suffix: .COM, ignore_case: true}},"
                               "{name: b, string_match: {contains: Mid, ignore_case: true}},"
                               "{name: c, string_match: {prefix: Ab}},"
                               "{name: d, string_match: {exact: ''}}]}",
                               FWD)));
    const xg_route_config *rc = r ? r->body : NULL;
    if (!CHECK(rc != NULL))
        return;
    const xg_header_matcher *h = rc->vhosts[0].routes[0].match.headers;
    CHECK_STR(h[0].string.value, ".com");
    CHECK(xg_string_matcher_match(&h[0].string, "X.Example.Com", 13));
    CHECK(!xg_string_matcher_match(&h[0].string, "com", 3));
    CHECK(xg_string_matcher_match(&h[1].string, "aaMIDzz", 7));
    CHECK(!xg_string_matcher_match(&h[1].string, "aaMI", 4));
    CHECK(xg_string_matcher_match(&h[2].string, "Abc", 3));
    CHECK(!xg_string_matcher_match(&h[2].string, "abc", 3));
    CHECK(xg_string_matcher_match(&h[3].string, "", 0));
    CHECK(!xg_string_matcher_match(&h[3].string, "x", 1));
    xg_res_unref(r);
}

/* go-control-plane users still send the deprecated header matchers: each is
 * the case-sensitive string_match of its kind. */
XG_TEST(deprecated_header_matchers)
{
    xg_res *r = xlate(VH(ROUTE("{prefix: /, headers: ["
                               "{name: a, exact_match: V},"
                               "{name: b, prefix_match: Ab},"
                               "{name: c, suffix_match: .Com},"
                               "{name: d, contains_match: Mid},"
                               "{name: e, exact_match: ''},"
                               "{name: f, exact_match: x, invert_match: true, treat_missing_header_as_empty: true}]}",
                               FWD)));
    const xg_route_config *rc = r ? r->body : NULL;
    if (!CHECK(rc != NULL))
        return;
    const xg_route_match *m = &rc->vhosts[0].routes[0].match;
    if (!CHECK_EQ_INT(m->n_headers, 6))
        return;
    const xg_header_matcher *h = m->headers;
    static const xg_string_match_kind kinds[] = {XG_STRING_MATCH_EXACT,  XG_STRING_MATCH_PREFIX,
                                                 XG_STRING_MATCH_SUFFIX, XG_STRING_MATCH_CONTAINS,
                                                 XG_STRING_MATCH_EXACT,  XG_STRING_MATCH_EXACT};
    for (size_t i = 0; i < 6; i++) {
        CHECK_EQ_INT(h[i].kind, XG_HEADER_MATCH_STRING);
        CHECK_EQ_INT(h[i].string.kind, kinds[i]);
        CHECK(!h[i].string.ignore_case);
    }
    CHECK(xg_string_matcher_match(&h[0].string, "V", 1));
    CHECK(!xg_string_matcher_match(&h[0].string, "v", 1));
    CHECK(xg_string_matcher_match(&h[1].string, "Abc", 3));
    CHECK(!xg_string_matcher_match(&h[1].string, "abc", 3));
    CHECK(xg_string_matcher_match(&h[2].string, "x.Com", 5));
    CHECK(!xg_string_matcher_match(&h[2].string, "x.com", 5));
    CHECK(xg_string_matcher_match(&h[3].string, "aMidz", 5));
    CHECK(!xg_string_matcher_match(&h[3].string, "aMIDz", 5));
    CHECK(xg_string_matcher_match(&h[4].string, "", 0));
    CHECK(!xg_string_matcher_match(&h[4].string, "x", 1));
    CHECK(h[5].invert && h[5].treat_missing_as_empty);
    xg_res_unref(r);

    fails(VH(ROUTE("{prefix: /, headers: [{name: x, prefix_match: ''}]}", FWD)),
          "virtual_hosts[0].routes[0].match.headers[0].prefix_match: must not be empty");
    fails(VH(ROUTE("{prefix: /, headers: [{name: x, suffix_match: ''}]}", FWD)),
          "virtual_hosts[0].routes[0].match.headers[0].suffix_match: must not be empty");
    fails(VH(ROUTE("{prefix: /, headers: [{name: x, contains_match: ''}]}", FWD)),
          "virtual_hosts[0].routes[0].match.headers[0].contains_match: must not be empty");
}

/* A decorator names a tracing span: accepted, no effect (no tracer yet). */
XG_TEST(decorator_accepted)
{
    xg_res *r = xlate(VH("  - match: {prefix: /}\n    route: {cluster: c1}\n"
                         "    decorator: {operation: checkout, propagate: false}\n"));
    CHECK(r != NULL);
    xg_res_unref(r);
    fails(VH("  - match: {prefix: /}\n    route: {cluster: c1}\n    decorator: {propagate: true}\n"),
          "virtual_hosts[0].routes[0].decorator.operation: must not be empty");
}

XG_TEST(nack_deprecated_cors)
{
    fails("virtual_hosts:\n- name: vh\n  domains: ['*']\n  cors: {allow_methods: GET}\n  routes:\n" ROUTE("{prefix: /}",
                                                                                                          FWD),
          "virtual_hosts[0].cors: deprecated cors field; use typed_per_filter_config with envoy.filters.http.cors "
          "(not supported yet)");
    fails(VH(ROUTE("{prefix: /}", "route: {cluster: c1, cors: {allow_origin_string_match: [{exact: a.com}]}}")),
          "virtual_hosts[0].routes[0].route.cors: deprecated cors field; use typed_per_filter_config with "
          "envoy.filters.http.cors (not supported yet)");
}
