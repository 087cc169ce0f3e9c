/* Unit tests for the lookups on translated route configurations
 * (src/config/route.c): the most specific typed_per_filter_config entry,
 * with the picked weighted cluster as the most specific level (weighted
 * cluster, route, virtual host, route configuration), as every HTTP filter
 * and the filter chain's per-route enable/disable read it. */
#include "config/hcm.h"
#include "config/route.h"
#include "router/route_action.h"
#include "router/router_test.h"

#define FC "type.googleapis.com/envoy.config.route.v3.FilterConfig"
#define BPR "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute"

XG_TEST(weighted_cluster_level_first)
{
    xg_res *res = rc_load("typed_per_filter_config:\n"
                          "  a: {'@type': " BPR ", buffer: {max_request_bytes: 1}}\n"
                          "  b: {'@type': " BPR ", buffer: {max_request_bytes: 1}}\n"
                          "virtual_hosts:\n- name: vh\n  domains: ['*']\n"
                          "  typed_per_filter_config:\n"
                          "    a: {'@type': " BPR ", buffer: {max_request_bytes: 2}}\n"
                          "  routes:\n  - match: {prefix: /}\n"
                          "    typed_per_filter_config:\n"
                          "      a: {'@type': " BPR ", buffer: {max_request_bytes: 3}}\n"
                          "    route:\n      weighted_clusters:\n        clusters:\n"
                          "        - name: x\n          weight: 1\n          typed_per_filter_config:\n"
                          "            a: {'@type': " FC ", disabled: true}\n"
                          "        - name: y\n          weight: 1\n");
    if (!CHECK(res != NULL))
        return;
    const xg_route_config *rc = rc_of(res);
    const xg_vhost *vh = &rc->vhosts[0];
    const xg_route *rt = &vh->routes[0];
    const xg_weighted_cluster *x = &rt->forward.cold->weighted[0], *y = &rt->forward.cold->weighted[1];
    const xg_typed_config *t = xg_typed_config_for(rc, vh, rt, x, "a");
    CHECK(t != NULL && t->disables);             /* the weighted cluster's FilterConfig */
    t = xg_typed_config_for(rc, vh, rt, y, "a"); /* y has none: the route's */
    CHECK(t != NULL && !t->disables && ((const xg_buffer_config *)t->translated)->max_request_bytes == 3);
    CHECK(xg_typed_config_for(rc, vh, rt, NULL, "a") == t);
    CHECK(xg_typed_config_most_specific(rc, vh, rt, "a") == t);
    t = xg_typed_config_for(rc, vh, NULL, x, "a"); /* no route: x, then the virtual host */
    CHECK(t != NULL && t->disables);
    t = xg_typed_config_for(rc, vh, rt, x, "b"); /* only the route configuration has b */
    CHECK(t != NULL && ((const xg_buffer_config *)t->translated)->max_request_bytes == 1);
    CHECK(xg_typed_config_for(rc, vh, rt, x, "c") == NULL);
    CHECK(xg_typed_config_for(NULL, NULL, NULL, NULL, "a") == NULL);
    xg_res_unref(res);
}

XG_TEST(weighted_pick_and_target)
{
    xg_res *res = rc_load("virtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n"
                          "  - {match: {prefix: /w}, route: {weighted_clusters: {header_name: x-pick, clusters: "
                          "[{name: a, weight: 2}, {name: b, weight: 1}]}}}\n"
                          "  - {match: {prefix: /}, route: {cluster: plain}}\n");
    if (!CHECK(res != NULL))
        return;
    const xg_route *w = &rc_of(res)->vhosts[0].routes[0], *plain = &rc_of(res)->vhosts[0].routes[1];
    treq t;
    treq_init(&t, "GET", "h", "/w");
    CHECK(xg_route_pick_weighted(plain, &t.h, 0) == NULL);
    CHECK(xg_route_pick_weighted(NULL, &t.h, 0) == NULL);
    CHECK(xg_route_pick_weighted(w, &t.h, 1) == &w->forward.cold->weighted[0]);
    CHECK(xg_route_pick_weighted(w, &t.h, 2) == &w->forward.cold->weighted[1]);
    treq_add(&t, "x-pick", "5"); /* 5 % 3 = 2: b, whatever the random value */
    const xg_weighted_cluster *wc = xg_route_pick_weighted(w, &t.h, 0);
    CHECK(wc == &w->forward.cold->weighted[1]);
    xg_route_target tg;
    CHECK_EQ_INT(xg_route_target_of(w, wc, &t.h, &t.arena, &tg), 0);
    CHECK_STR(tg.cluster, "b");
    CHECK_EQ_INT(xg_route_target_of(w, NULL, &t.h, &t.arena, &tg), XG_EINVAL); /* weighted needs its pick */
    CHECK_EQ_INT(xg_route_target_of(plain, NULL, &t.h, &t.arena, &tg), 0);
    CHECK_STR(tg.cluster, "plain");
    treq_dispose(&t);
    xg_res_unref(res);
}
