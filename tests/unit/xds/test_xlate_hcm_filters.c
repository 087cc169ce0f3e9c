/* Unit tests for the HTTP filters' translation (xds/xlate_hcm_filters.c) that
 * test_xlate_listener.c does not cover: the buffer filter in a listener's
 * HttpConnectionManager (its limit, the NACK for a missing or zero one) and
 * its per-route form, BufferPerRoute in a route configuration's
 * typed_per_filter_config (direct, inside a FilterConfig, and its NACKs). */
#include <string.h>

#include "config/hcm.h"
#include "config/listener.h"
#include "core/error.h"
#include "xg_test.h"
#include "xlate_yaml.h"

static char err[1024];

static xg_res *listener(const char *yaml)
{
    return xy_xlate(XG_RES_LISTENER, "r", yaml, err, sizeof(err));
}

static xg_res *routes(const char *yaml)
{
    return xy_xlate(XG_RES_ROUTE_CONFIG, "r", yaml, err, sizeof(err));
}

#define BUFFER_TYPE "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer"
#define PER_ROUTE_TYPE "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute"
#define L_FILTERS(filters)                                                                                             \
    "name: l1\naddress: {socket_address: {address: 0.0.0.0, port_value: 8080}}\nfilter_chains:\n"                      \
    "- filters:\n  - name: hcm\n    typed_config: {'@type': "                                                          \
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, "          \
    "stat_prefix: s, rds: {route_config_name: r, config_source: {ads: {}}}, http_filters: [" filters "]}\n"
#define ROUTER                                                                                                         \
    "{name: router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}"

XG_TEST(buffer_filter_translated)
{
    xg_res *r =
        listener(L_FILTERS("{name: buf, typed_config: {'@type': " BUFFER_TYPE ", max_request_bytes: 4096}}, " ROUTER));
    if (!CHECK(r != NULL))
        return;
    const xg_listener *l = r->body;
    const xg_hcm *h = l->chains[0].hcm;
    if (CHECK_EQ_INT(h->n_filters, 2)) {
        CHECK_EQ_INT(h->filters[0].kind, XG_HTTP_FILTER_BUFFER);
        CHECK_STR(h->filters[0].name, "buf");
        const xg_buffer_config *b = h->filters[0].translated;
        CHECK(b != NULL && !b->disabled && b->max_request_bytes == 4096);
        CHECK_EQ_INT(h->filters[1].kind, XG_HTTP_FILTER_ROUTER);
    }
    xg_res_unref(r);
}

XG_TEST(buffer_filter_needs_a_limit)
{
    const char *want = "filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.max_request_bytes: is "
                       "required and must be greater than 0";
    xg_res *r = listener(L_FILTERS("{name: buf, typed_config: {'@type': " BUFFER_TYPE "}}, " ROUTER));
    if (CHECK(r == NULL))
        CHECK_STR(err, want);
    r = listener(L_FILTERS("{name: buf, typed_config: {'@type': " BUFFER_TYPE ", max_request_bytes: 0}}, " ROUTER));
    if (CHECK(r == NULL))
        CHECK_STR(err, want);
}

XG_TEST(buffer_per_route_translated)
{
    xg_res *r = routes("name: rc\n"
                       "typed_per_filter_config:\n"
                       "  buf: {'@type': " PER_ROUTE_TYPE ", disabled: true}\n"
                       "virtual_hosts:\n- name: vh\n  domains: ['*']\n"
                       "  typed_per_filter_config:\n"
                       "    buf: {'@type': type.googleapis.com/envoy.config.route.v3.FilterConfig,\n"
                       "          config: {'@type': " PER_ROUTE_TYPE ", buffer: {max_request_bytes: 77}}}\n"
                       "  routes:\n  - match: {prefix: /}\n    route: {cluster: c}\n"
                       "    typed_per_filter_config:\n"
                       "      buf: {'@type': type.googleapis.com/envoy.config.route.v3.FilterConfig, disabled: true}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = r->body;
    const xg_typed_config *t = xg_typed_config_find(&rc->per_filter, "buf");
    if (CHECK(t != NULL && t->translated != NULL)) {
        CHECK_STR(t->translated_type, "envoy.extensions.filters.http.buffer.v3.BufferPerRoute");
        CHECK(((const xg_buffer_config *)t->translated)->disabled);
    }
    t = xg_typed_config_find(&rc->vhosts[0].per_filter, "buf");
    if (CHECK(t != NULL && t->translated != NULL)) {
        const xg_buffer_config *b = t->translated;
        CHECK(!b->disabled && b->max_request_bytes == 77);
        CHECK(!t->disables);
    }
    /* the most specific entry wins: the route's FilterConfig turns the filter off */
    const xg_vhost *vh = &rc->vhosts[0];
    t = xg_typed_config_most_specific(rc, vh, &vh->routes[0], "buf");
    CHECK(t != NULL && t->disables && t->translated == NULL);
    t = xg_typed_config_most_specific(rc, vh, NULL, "buf");
    CHECK(t != NULL && !t->disables && ((const xg_buffer_config *)t->translated)->max_request_bytes == 77);
    t = xg_typed_config_most_specific(rc, NULL, NULL, "buf");
    CHECK(t != NULL && ((const xg_buffer_config *)t->translated)->disabled);
    CHECK(xg_typed_config_most_specific(rc, vh, &vh->routes[0], "other") == NULL);
    xg_res_unref(r);
}

XG_TEST(buffer_per_route_nacks)
{
    xg_res *r = routes("name: rc\ntyped_per_filter_config:\n  buf: {'@type': " PER_ROUTE_TYPE "}\n");
    if (CHECK(r == NULL))
        CHECK_STR(err, "typed_per_filter_config[\"buf\"]: one of disabled or buffer is required");
    r = routes("name: rc\ntyped_per_filter_config:\n  buf: {'@type': " PER_ROUTE_TYPE ", buffer: {}}\n");
    if (CHECK(r == NULL))
        CHECK_STR(err,
                  "typed_per_filter_config[\"buf\"].buffer.max_request_bytes: is required and must be greater than 0");
}

/* Http2ProtocolOptions' deprecated stream_error_on_invalid_http_messaging (12)
 * stands for the override (14) when that is not set; the override wins. */
XG_TEST(deprecated_stream_error_spelling)
{
#define L_H2(h2)                                                                                                       \
    "name: l1\naddress: {socket_address: {address: 0.0.0.0, port_value: 8080}}\nfilter_chains:\n"                      \
    "- filters:\n  - name: hcm\n    typed_config: {'@type': "                                                          \
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, "          \
    "stat_prefix: s, rds: {route_config_name: r, config_source: {ads: {}}}, http2_protocol_options: {" h2 "}, "        \
    "http_filters: [" ROUTER "]}\n"
    static const struct {
        const char *h2;
        xg_tristate want;
    } cases[] = {{"", XG_UNSET},
                 {"stream_error_on_invalid_http_messaging: true", XG_TRUE},
                 {"stream_error_on_invalid_http_messaging: true, override_stream_error_on_invalid_http_message: false",
                  XG_FALSE}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml), L_H2("%s"), cases[i].h2);
        xg_res *r = listener(yaml);
        if (!CHECK(r != NULL))
            continue;
        const xg_hcm *h = ((const xg_listener *)r->body)->chains[0].hcm;
        CHECK_EQ_INT(h->h2.override_stream_error_on_invalid_http_message, cases[i].want);
        xg_res_unref(r);
    }
#undef L_H2
}
