/* Unit tests for header mutations (src/router/header_mutation.c and the
 * level order in route_action.c): each append_action, remove-before-add,
 * decisions taken against the headers before a level's additions,
 * keep_empty_value, the "%VAR%" operators, and Envoy's documented order of
 * the weighted cluster, route, virtual host and route configuration levels,
 * flipped by most_specific_header_mutations_wins, for requests and
 * responses. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "router/route_action.h"
#include "router_test.h"

/* A route config whose single route carries mutations (YAML flow-map
 * members appended to the route, virtual host and route config). */
static xg_res *load3(const char *rc_extra, const char *vh_extra, const char *route_extra)
{
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "%s\nvirtual_hosts:\n- {name: vh, domains: ['*']%s%s, routes: [{name: r, match: {prefix: /}, route: "
             "{weighted_clusters: {clusters: [{name: a, weight: 1, request_headers_to_add: [{header: {key: x-order, "
             "value: wc}}], response_headers_to_add: [{header: {key: x-order, value: wc}}]}]}}%s%s}]}\n",
             rc_extra, vh_extra[0] ? ", " : "", vh_extra, route_extra[0] ? ", " : "", route_extra);
    return rc_load(yaml);
}

/* Applies the request (or response) mutations of the only route. */
static int finalize(const xg_route_config *rc, treq *t, bool response, xg_headers *resp)
{
    const xg_vhost *vh = &rc->vhosts[0];
    const xg_route *r = &vh->routes[0];
    xg_hvar_ctx ctx = {.request = &t->h};
    if (response)
        return xg_route_finalize_response(rc, vh, r, &r->forward.cold->weighted[0], resp, &ctx);
    return xg_route_finalize_request(rc, vh, r, &r->forward.cold->weighted[0], &t->h, &ctx, true);
}

#define ADD(key, val) "{header: {key: " key ", value: " val "}}"

XG_TEST(level_order_default_and_most_specific)
{
    /* Envoy: weighted cluster first, then route, virtual host, route
     * configuration ("later evaluated header parser wins"); with
     * most_specific_header_mutations_wins the three are reversed. */
    const char *vh_add = "request_headers_to_add: [" ADD(
        "x-order", "vh") ", {header: {key: x-win, value: vh}, "
                         "append_action: OVERWRITE_IF_EXISTS_OR_ADD}], response_headers_to_add: [" ADD("x-order",
                                                                                                       "vh") "]";
    const char *route_add = "request_headers_to_add: [" ADD(
        "x-order", "route") ", {header: {key: x-win, value: "
                            "route}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}], response_headers_to_add: [" ADD(
                                "x-order", "route") "]";
    for (int flip = 0; flip < 2; flip++) {
        char rc_extra[1024];
        snprintf(rc_extra, sizeof(rc_extra), "%s\nmost_specific_header_mutations_wins: %s",
                 "response_headers_to_add: [{header: {key: x-order, value: rc}}]\nrequest_headers_to_add: "
                 "[{header: {key: x-order, value: rc}}, {header: {key: x-win, value: rc}, append_action: "
                 "OVERWRITE_IF_EXISTS_OR_ADD}]",
                 flip ? "true" : "false");
        xg_res *res = load3(rc_extra, vh_add, route_add);
        if (!CHECK(res != NULL))
            return;
        const xg_route_config *rc = rc_of(res);
        treq t;
        treq_init(&t, "GET", "h", "/");
        CHECK_EQ_INT(finalize(rc, &t, false, NULL), 0);
        CHECK_STR(hall(&t.h, "x-order"), flip ? "wc|rc|vh|route" : "wc|route|vh|rc");
        CHECK_STR(hall(&t.h, "x-win"), flip ? "route" : "rc");

        xg_headers resp;
        xg_headers_init(&resp, &t.arena);
        CHECK_EQ_INT(finalize(rc, &t, true, &resp), 0);
        CHECK_STR(hall(&resp, "x-order"), flip ? "wc|rc|vh|route" : "wc|route|vh|rc");
        treq_dispose(&t);
        xg_res_unref(res);
    }
}

XG_TEST(append_actions)
{
    xg_res *res = load3("", "",
                        "request_headers_to_add: ["
                        "{header: {key: x-append, value: new}},"
                        "{header: {key: x-absent-add, value: new}, append_action: ADD_IF_ABSENT},"
                        "{header: {key: x-present-add, value: new}, append_action: ADD_IF_ABSENT},"
                        "{header: {key: x-set, value: new}, append_action: OVERWRITE_IF_EXISTS_OR_ADD},"
                        "{header: {key: x-set-new, value: new}, append_action: OVERWRITE_IF_EXISTS_OR_ADD},"
                        "{header: {key: x-ifexists, value: new}, append_action: OVERWRITE_IF_EXISTS},"
                        "{header: {key: x-ifexists-missing, value: new}, append_action: OVERWRITE_IF_EXISTS},"
                        "{header: {key: x-legacy-false, value: new}, append: false},"
                        "{header: {key: x-twice, value: '1'}, append_action: ADD_IF_ABSENT},"
                        "{header: {key: x-twice, value: '2'}, append_action: ADD_IF_ABSENT},"
                        "{header: {key: x-removed, value: added}, append_action: ADD_IF_ABSENT}"
                        "], request_headers_to_remove: [x-removed, x-gone]");
    if (!CHECK(res != NULL))
        return;
    treq t;
    treq_init(&t, "GET", "h", "/");
    treq_add(&t, "x-append", "old");
    treq_add(&t, "x-present-add", "old");
    treq_add(&t, "x-set", "old1");
    treq_add(&t, "x-set", "old2");
    treq_add(&t, "x-ifexists", "old");
    treq_add(&t, "x-legacy-false", "old");
    treq_add(&t, "x-removed", "old");
    treq_add(&t, "x-gone", "old");
    CHECK_EQ_INT(finalize(rc_of(res), &t, false, NULL), 0);
    CHECK_STR(hall(&t.h, "x-append"), "old|new");
    CHECK_STR(hall(&t.h, "x-absent-add"), "new");
    CHECK_STR(hall(&t.h, "x-present-add"), "old");
    CHECK_STR(hall(&t.h, "x-set"), "new");
    CHECK_STR(hall(&t.h, "x-set-new"), "new");
    CHECK_STR(hall(&t.h, "x-ifexists"), "new");
    CHECK_STR(hall(&t.h, "x-ifexists-missing"), "");
    CHECK_STR(hall(&t.h, "x-legacy-false"), "new");
    CHECK_STR(hall(&t.h, "x-twice"), "1|2");     /* both decided against the headers before this level's adds */
    CHECK_STR(hall(&t.h, "x-removed"), "added"); /* removal happens first */
    CHECK_STR(hall(&t.h, "x-gone"), "");
    treq_dispose(&t);
    xg_res_unref(res);
}

XG_TEST(values_see_headers_before_the_level)
{
    /* %REQ(x)% reads the request after this level's removals but before
     * its additions and overwrites. */
    xg_res *res = load3("", "",
                        "request_headers_to_add: ["
                        "{header: {key: x-a, value: changed}, append_action: OVERWRITE_IF_EXISTS_OR_ADD},"
                        "{header: {key: x-copy, value: '%REQ(x-a)%'}},"
                        "{header: {key: x-copy-removed, value: '[%REQ(x-r)%]'}}"
                        "], request_headers_to_remove: [x-r]");
    if (!CHECK(res != NULL))
        return;
    treq t;
    treq_init(&t, "GET", "h", "/");
    treq_add(&t, "x-a", "orig");
    treq_add(&t, "x-r", "gone");
    CHECK_EQ_INT(finalize(rc_of(res), &t, false, NULL), 0);
    CHECK_STR(hall(&t.h, "x-a"), "changed");
    CHECK_STR(hall(&t.h, "x-copy"), "orig");
    CHECK_STR(hall(&t.h, "x-copy-removed"), "[]");
    treq_dispose(&t);
    xg_res_unref(res);
}

XG_TEST(keep_empty_value)
{
    xg_res *res = load3("", "",
                        "request_headers_to_add: ["
                        "{header: {key: x-empty, value: '%REQ(x-missing)%'}},"
                        "{header: {key: x-kept, value: '%REQ(x-missing)%'}, keep_empty_value: true},"
                        "{header: {key: x-literal-empty, value: ''}},"
                        "{header: {key: x-literal-kept, value: ''}, keep_empty_value: true}]");
    if (!CHECK(res != NULL))
        return;
    treq t;
    treq_init(&t, "GET", "h", "/");
    CHECK_EQ_INT(finalize(rc_of(res), &t, false, NULL), 0);
    CHECK(xg_headers_get(&t.h, "x-empty", 7) == NULL);
    CHECK(xg_headers_get(&t.h, "x-kept", 6) != NULL && xg_headers_get(&t.h, "x-kept", 6)->value_len == 0);
    CHECK(xg_headers_get(&t.h, "x-literal-empty", 15) == NULL);
    CHECK(xg_headers_get(&t.h, "x-literal-kept", 14) != NULL);
    treq_dispose(&t);
    xg_res_unref(res);
}

XG_TEST(variables)
{
    xg_res *res = load3("", "",
                        "request_headers_to_add: ["
                        "{header: {key: x-remote, value: '%DOWNSTREAM_REMOTE_ADDRESS%'}},"
                        "{header: {key: x-remote-ip, value: 'ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%;'}},"
                        "{header: {key: x-remote-port, value: '%DOWNSTREAM_REMOTE_PORT%'}},"
                        "{header: {key: x-direct, value: '%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%'}},"
                        "{header: {key: x-direct-ip, value: '%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%'}},"
                        "{header: {key: x-local, value: '%DOWNSTREAM_LOCAL_ADDRESS%'}},"
                        "{header: {key: x-local-ip, value: '%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%'}},"
                        "{header: {key: x-local-port, value: '%DOWNSTREAM_LOCAL_PORT%'}},"
                        "{header: {key: x-up, value: '%UPSTREAM_REMOTE_ADDRESS%'}},"
                        "{header: {key: x-up-ip, value: '%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'}},"
                        "{header: {key: x-sni, value: '%REQUESTED_SERVER_NAME%'}},"
                        "{header: {key: x-proto, value: '%PROTOCOL%'}},"
                        "{header: {key: x-host, value: '%HOSTNAME%'}},"
                        "{header: {key: x-path, value: '%REQ(:PATH)% %REQ(User-Agent)%'}},"
                        "{header: {key: x-pct, value: '100%%'}}]");
    if (!CHECK(res != NULL))
        return;
    struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons(5555)};
    struct sockaddr_in6 direct = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "10.1.2.3", &remote.sin_addr);
    inet_pton(AF_INET6, "2001:db8::1", &direct.sin6_addr);
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    treq t;
    treq_init(&t, "GET", "h", "/p?q");
    treq_add(&t, "user-agent", "curl");
    const xg_route_config *rc = rc_of(res);
    xg_hvar_ctx ctx = {.request = &t.h,
                       .downstream_remote = (struct sockaddr *)&remote,
                       .downstream_direct_remote = (struct sockaddr *)&direct,
                       .downstream_local = (struct sockaddr *)&local,
                       .requested_server_name = {"sni.example", 11},
                       .hostname = {"node-1", 6}};
    CHECK_EQ_INT(xg_route_finalize_request(rc, &rc->vhosts[0], &rc->vhosts[0].routes[0], NULL, &t.h, &ctx, true), 0);
    CHECK_STR(hall(&t.h, "x-remote"), "10.1.2.3:5555");
    CHECK_STR(hall(&t.h, "x-remote-ip"), "ip=10.1.2.3;");
    CHECK_STR(hall(&t.h, "x-remote-port"), "5555");
    CHECK_STR(hall(&t.h, "x-direct"), "[2001:db8::1]:443");
    CHECK_STR(hall(&t.h, "x-direct-ip"), "2001:db8::1");
    CHECK_STR(hall(&t.h, "x-local"), "127.0.0.1:8080");
    CHECK_STR(hall(&t.h, "x-local-ip"), "127.0.0.1");
    CHECK_STR(hall(&t.h, "x-local-port"), "8080");
    CHECK_STR(hall(&t.h, "x-up"), ""); /* not chosen yet: empty, so not added */
    CHECK_STR(hall(&t.h, "x-up-ip"), "");
    CHECK_STR(hall(&t.h, "x-sni"), "sni.example");
    CHECK_STR(hall(&t.h, "x-proto"), "HTTP/1.1");
    CHECK_STR(hall(&t.h, "x-host"), "node-1");
    CHECK_STR(hall(&t.h, "x-path"), "/p?q curl");
    CHECK_STR(hall(&t.h, "x-pct"), "100%");
    treq_dispose(&t);
    xg_res_unref(res);
}

XG_TEST(response_mutations_read_the_request)
{
    xg_res *res = load3("response_headers_to_remove: [server]", "",
                        "response_headers_to_add: [{header: {key: x-echo, value: '%REQ(x-id)%'}}, {header: {key: "
                        "x-up, value: '%UPSTREAM_REMOTE_ADDRESS%'}}]");
    if (!CHECK(res != NULL))
        return;
    const xg_route_config *rc = rc_of(res);
    treq t;
    treq_init(&t, "GET", "h", "/");
    treq_add(&t, "x-id", "42");
    xg_headers resp;
    xg_headers_init(&resp, &t.arena);
    xg_headers_add_copy(&resp, "server", 6, "up", 2);
    struct sockaddr_in up = {.sin_family = AF_INET, .sin_port = htons(9000)};
    inet_pton(AF_INET, "192.0.2.7", &up.sin_addr);
    xg_hvar_ctx ctx = {.request = &t.h, .upstream_remote = (struct sockaddr *)&up};
    CHECK_EQ_INT(xg_route_finalize_response(rc, &rc->vhosts[0], &rc->vhosts[0].routes[0], NULL, &resp, &ctx), 0);
    CHECK_STR(hall(&resp, "x-echo"), "42");
    CHECK_STR(hall(&resp, "x-up"), "192.0.2.7:9000");
    CHECK_STR(hall(&resp, "server"), "");
    treq_dispose(&t);
    xg_res_unref(res);
}

XG_TEST(many_additions_use_the_arena)
{
    char adds[4096] = "request_headers_to_add: [";
    for (int i = 0; i < 40; i++)
        snprintf(adds + strlen(adds), sizeof(adds) - strlen(adds), "%s{header: {key: x-n%d, value: v%d}}", i ? "," : "",
                 i, i);
    strcat(adds, "]");
    xg_res *res = load3("", "", adds);
    if (!CHECK(res != NULL))
        return;
    treq t;
    treq_init(&t, "GET", "h", "/");
    CHECK_EQ_INT(finalize(rc_of(res), &t, false, NULL), 0);
    CHECK_STR(hall(&t.h, "x-n0"), "v0");
    CHECK_STR(hall(&t.h, "x-n39"), "v39");
    treq_dispose(&t);
    xg_res_unref(res);
}
