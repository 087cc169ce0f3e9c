/* Unit tests for Listener translation (addresses, filter chains and their
 * matches, listener filters, the HttpConnectionManager and its HTTP filters):
 * YAML -> protobuf (the JSON codec) -> xg_listener, checking translated
 * fields, defaults, deps and the exact NACK text with its field path. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "config/listener.h"
#include "core/error.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "xds/pbjson.h"
#include "xds/xlate.h"
#include "xg_test.h"

static char err[1024];

#include "any_rename.h"

/* Translates a Listener written as YAML; NULL on failure (err set). An Any
 * of type google.protobuf.Empty is renamed to x.Y first (see any_rename.h). */
static xg_res *xlate(const char *yaml)
{
    ProtobufCMessage *m = NULL;
    err[0] = '\0';
    if (xg_pbjson_parse(&envoy__config__listener__v3__listener__descriptor, yaml, strlen(yaml), &m, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "YAML does not decode: %s\n", err);
        return NULL;
    }
    any_rename(m, "google.protobuf.Empty", "type.googleapis.com/x.Y");
    xg_res *r = xg_res_new(XG_RES_LISTENER, "l");
    xg_xlate x;
    xg_xlate_init(&x, r, err, sizeof(err));
    int rc = xg_xlate_listener(&x, (const Envoy__Config__Listener__V3__Listener *)m);
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

static bool fails(const char *yaml, const char *want)
{
    xg_res *r = xlate(yaml);
    xg_res_unref(r);
    return CHECK(r == NULL) && CHECK_STR(err, want);
}

static bool has_dep(const xg_res *r, xg_res_type t, const char *name)
{
    for (size_t i = 0; i < r->n_deps; i++)
        if (r->deps[i].type == t && strcmp(r->deps[i].name, name) == 0)
            return true;
    return false;
}

#define HCM_TYPE "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
#define ROUTER                                                                                                         \
    "{name: envoy.filters.http.router, typed_config: {'@type': "                                                       \
    "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}"
#define RDS "rds: {route_config_name: routes, config_source: {ads: {}}}"
#define ADDR "address: {socket_address: {address: 0.0.0.0, port_value: 8080}}\n"
/* A listener with one chain whose HCM has the given extra fields and filters. */
#define L_HCM(hcm_fields, filters)                                                                                     \
    "name: l1\n" ADDR "filter_chains:\n"                                                                               \
    "- filters:\n"                                                                                                     \
    "  - name: hcm\n"                                                                                                  \
    "    typed_config: {'@type': '" HCM_TYPE "', stat_prefix: s, " hcm_fields " http_filters: [" filters "]}\n"
#define HPATH "filter_chains[0].filters[0].typed_config"

XG_TEST(minimal_rds_defaults)
{
    xg_res *r = xlate(L_HCM(RDS ",", ROUTER));
    if (!CHECK(r != NULL))
        return;
    const xg_listener *l = r->body;
    CHECK_STR(l->name, "l1");
    CHECK_EQ_INT(l->n_addrs, 1);
    CHECK_STR(l->addrs[0].text, "0.0.0.0:8080");
    CHECK_EQ_INT(l->addrs[0].ss.ss_family, AF_INET);
    CHECK_EQ_INT(ntohs(((const struct sockaddr_in *)&l->addrs[0].ss)->sin_port), 8080);
    CHECK_EQ_INT(l->per_connection_buffer_limit_bytes, 32768);
    CHECK(l->enable_reuse_port);
    CHECK(!l->tls_inspector);
    CHECK_EQ_INT(l->listener_filters_timeout_ms, 15000);
    CHECK_EQ_INT(l->n_chains, 1);
    CHECK(l->default_chain == NULL);
    CHECK_EQ_INT(l->n_warnings, 0);
    const xg_filter_chain *c = &l->chains[0];
    CHECK(c->tls == NULL);
    CHECK_EQ_INT(c->match.transport, XG_TRANSPORT_ANY);
    const xg_hcm *h = c->hcm;
    if (!CHECK(h != NULL))
        return;
    CHECK_EQ_INT(h->routes, XG_ROUTES_RDS);
    CHECK_STR(h->rds_name, "routes");
    CHECK_EQ_INT(h->rds_initial_fetch_timeout_ms, 15000);
    CHECK_EQ_INT(h->codec, XG_CODEC_AUTO);
    CHECK_STR(h->stat_prefix, "s");
    CHECK_EQ_INT(h->n_filters, 1);
    CHECK_EQ_INT(h->filters[0].kind, XG_HTTP_FILTER_ROUTER);
    const xg_router_config *rt = h->filters[0].translated;
    CHECK(rt != NULL && rt->dynamic_stats);
    /* defaults, docs/xds-fields.md */
    CHECK_EQ_INT(h->max_request_headers_kb, 60);
    CHECK_EQ_INT(h->max_headers_count, 100);
    CHECK_EQ_INT(h->stream_idle_timeout_ms, 300000);
    CHECK_EQ_INT(h->idle_timeout_ms, 3600000);
    CHECK_EQ_INT(h->request_timeout_ms, 0);
    CHECK_EQ_INT(h->drain_timeout_ms, 5000);
    CHECK_EQ_INT(h->delayed_close_timeout_ms, 1000);
    CHECK_EQ_INT(h->h2.max_concurrent_streams, 100);
    CHECK_EQ_INT(h->h2.initial_stream_window_size, 65536);
    CHECK_EQ_INT(h->h2.initial_connection_window_size, 1048576);
    CHECK_EQ_INT(h->h2.hpack_table_size, 4096);
    CHECK(h->generate_request_id);
    CHECK(h->use_remote_address);              /* edge default; Envoy's is false */
    CHECK_EQ_INT(h->request_headers_timeout_ms, 10000); /* edge default; Envoy's is none */
    CHECK(h->normalize_path);
    CHECK(!h->merge_slashes);
    CHECK_EQ_INT(h->escaped_slashes, XG_ESCAPED_SLASHES_KEEP_UNCHANGED);
    CHECK_STR(h->server_name, "xdsgate");
    CHECK(h->h1.allow_absolute_url);
    CHECK_EQ_INT(h->n_internal_ranges, 6);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "172.20.1.1", &sin.sin_addr);
    CHECK(xg_cidr_contains(&h->internal_ranges[1], (struct sockaddr *)&sin));
    inet_pton(AF_INET, "172.32.0.1", &sin.sin_addr);
    CHECK(!xg_cidr_contains(&h->internal_ranges[1], (struct sockaddr *)&sin));
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:10.9.8.7", &sin6.sin6_addr); /* v4-mapped matches v4 ranges */
    CHECK(xg_cidr_contains(&h->internal_ranges[0], (struct sockaddr *)&sin6));
    inet_pton(AF_INET6, "fd00::1", &sin6.sin6_addr);
    CHECK(xg_cidr_contains(&h->internal_ranges[4], (struct sockaddr *)&sin6));
    CHECK(!xg_cidr_contains(&h->internal_ranges[0], (struct sockaddr *)&sin6));
    CHECK(has_dep(r, XG_RES_ROUTE_CONFIG, "routes"));
    CHECK_EQ_INT(r->n_deps, 1);
    xg_res_unref(r);
}

XG_TEST(inline_route_config_and_hcm_fields)
{
    xg_res *r = xlate(L_HCM(
        "codec_type: HTTP2, use_remote_address: true, xff_num_trusted_hops: 2, skip_xff_append: true, via: gw, "
        "server_name: edge, server_header_transformation: PASS_THROUGH, generate_request_id: false, "
        "preserve_external_request_id: true, normalize_path: false, merge_slashes: true, "
        "path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT, max_request_headers_kb: 96, "
        "request_timeout: 30s, request_headers_timeout: 5s, stream_idle_timeout: 0s, drain_timeout: 1s, "
        "common_http_protocol_options: {idle_timeout: 60s, max_headers_count: 50, headers_with_underscores_action: "
        "REJECT_REQUEST, max_stream_duration: 10s}, "
        "http_protocol_options: {accept_http_10: true, default_host_for_http_10: d.example, header_key_format: "
        "{proper_case_words: {}}}, "
        "http2_protocol_options: {max_concurrent_streams: 10, initial_stream_window_size: 1048576, "
        "connection_keepalive: {interval: 10s, timeout: 2s}}, "
        "internal_address_config: {cidr_ranges: [{address_prefix: 10.1.0.0, prefix_len: 16}]}, "
        "upgrade_configs: [{upgrade_type: websocket}], strip_any_host_port: true, "
        "scheme_header_transformation: {scheme_to_overwrite: https}, "
        "forward_client_cert_details: SANITIZE_SET, set_current_client_cert_details: {subject: true, uri: true}, "
        "route_config: {name: inline, virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefix: /}, route: "
        "{cluster: backend}}]}]},",
        ROUTER));
    if (!CHECK(r != NULL))
        return;
    const xg_hcm *h = ((const xg_listener *)r->body)->chains[0].hcm;
    CHECK_EQ_INT(h->codec, XG_CODEC_HTTP2);
    CHECK(h->use_remote_address);
    CHECK_EQ_INT(h->xff_num_trusted_hops, 2);
    CHECK(h->skip_xff_append);
    CHECK_STR(h->via, "gw");
    CHECK_STR(h->server_name, "edge");
    CHECK_EQ_INT(h->server_header, XG_SERVER_HEADER_PASS_THROUGH);
    CHECK(!h->generate_request_id && h->preserve_external_request_id);
    CHECK(!h->normalize_path && h->merge_slashes);
    CHECK_EQ_INT(h->escaped_slashes, XG_ESCAPED_SLASHES_UNESCAPE_AND_REDIRECT);
    CHECK_EQ_INT(h->max_request_headers_kb, 96);
    CHECK_EQ_INT(h->request_timeout_ms, 30000);
    CHECK_EQ_INT(h->request_headers_timeout_ms, 5000);
    CHECK_EQ_INT(h->stream_idle_timeout_ms, 0);
    CHECK_EQ_INT(h->drain_timeout_ms, 1000);
    CHECK_EQ_INT(h->idle_timeout_ms, 60000);
    CHECK_EQ_INT(h->max_headers_count, 50);
    CHECK_EQ_INT(h->headers_with_underscores, XG_UNDERSCORES_REJECT_REQUEST);
    CHECK_EQ_INT(h->max_stream_duration_ms, 10000);
    CHECK(h->h1.accept_http_10 && h->h1.proper_case_headers);
    CHECK_STR(h->h1.default_host_for_http_10, "d.example");
    CHECK_EQ_INT(h->h2.max_concurrent_streams, 10);
    CHECK_EQ_INT(h->h2.initial_stream_window_size, 1048576);
    CHECK_EQ_INT(h->h2.keepalive_interval_ms, 10000);
    CHECK_EQ_INT(h->h2.keepalive_timeout_ms, 2000);
    CHECK_EQ_INT(h->n_internal_ranges, 1);
    CHECK_EQ_INT(h->internal_ranges[0].prefix_len, 16);
    CHECK_EQ_INT(h->n_upgrades, 1);
    CHECK_STR(h->upgrades[0].type.s, "websocket");
    CHECK(h->strip_any_host_port);
    CHECK_STR(h->scheme_to_overwrite, "https");
    CHECK_EQ_INT(h->forward_client_cert, XG_FCC_SANITIZE_SET);
    CHECK(h->set_cc_subject && h->set_cc_uri && !h->set_cc_dns);
    CHECK_EQ_INT(h->routes, XG_ROUTES_INLINE);
    if (CHECK(h->route_config != NULL)) {
        CHECK_STR(h->route_config->name, "inline");
        CHECK(h->route_config->validate_clusters); /* inline default */
        CHECK_STR(h->route_config->vhosts[0].routes[0].forward.cluster, "backend");
    }
    CHECK(has_dep(r, XG_RES_CLUSTER, "backend"));
    CHECK_EQ_INT(r->n_deps, 1);
    xg_res_unref(r);
}

XG_TEST(optional_filters_skipped_with_warnings)
{
    xg_res *r = xlate(L_HCM(RDS ",", "{name: envoy.filters.http.foo, is_optional: true, typed_config: {'@type': "
                                     "type.googleapis.com/google.protobuf.Empty}},"
                                     "{name: envoy.filters.http.local_ratelimit, is_optional: true, typed_config: "
                                     "{'@type': type.googleapis.com/"
                                     "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: "
                                     "x}}," ROUTER ","
                                     "{name: after, is_optional: true, typed_config: {'@type': "
                                     "type.googleapis.com/google.protobuf.Empty}}"));
    if (!CHECK(r != NULL))
        return;
    const xg_listener *l = r->body;
    /* local_ratelimit is supported: kept (optional or not); the unknown ones are skipped */
    if (CHECK_EQ_INT(l->chains[0].hcm->n_filters, 2))
        CHECK_EQ_INT(l->chains[0].hcm->filters[0].kind, XG_HTTP_FILTER_LOCAL_RATELIMIT);
    if (CHECK_EQ_INT(l->n_warnings, 2))
        CHECK_STR(l->warnings[0], HPATH ".http_filters[0]: optional HTTP filter \"envoy.filters.http.foo\" (type "
                                        "\"type.googleapis.com/x.Y\") is not supported; skipped");
    xg_res_unref(r);
}

XG_TEST(typed_struct_router_and_disabled)
{
    xg_res *r = xlate(L_HCM(RDS ",", "{name: r, typed_config: {'@type': type.googleapis.com/xds.type.v3.TypedStruct, "
                                     "type_url: type.googleapis.com/envoy.extensions.filters.http.router.v3.Router, "
                                     "value: {suppress_envoy_headers: true}}}"));
    if (!CHECK(r != NULL))
        return;
    const xg_http_filter *f = &((const xg_listener *)r->body)->chains[0].hcm->filters[0];
    CHECK_EQ_INT(f->kind, XG_HTTP_FILTER_ROUTER);
    CHECK(((const xg_router_config *)f->translated)->suppress_envoy_headers);
    CHECK_STR(f->config.type_name, "envoy.extensions.filters.http.router.v3.Router");
    CHECK(f->config.len == 2); /* the TypedStruct became the Router's binary form */
    xg_res_unref(r);
    fails(L_HCM(RDS ",", "{name: r, typed_config: {'@type': type.googleapis.com/xds.type.v3.TypedStruct, "
                         "type_url: type.googleapis.com/envoy.extensions.filters.http.router.v3.Router, "
                         "value: {bogus: 1}}}"),
          HPATH ".http_filters[0].typed_config: TypedStruct value does not decode as "
                "envoy.extensions.filters.http.router.v3.Router: bogus: unknown field \"bogus\" in "
                "envoy.extensions.filters.http.router.v3.Router");
}

XG_TEST(filter_chains_tls_and_matches)
{
    xg_res *r = xlate(
        "name: https\n"
        "address: {socket_address: {address: '::', port_value: 8443, ipv4_compat: true}}\n"
        "additional_addresses: [{address: {socket_address: {address: 127.0.0.1, port_value: 8443}}}]\n"
        "listener_filters: [{name: envoy.filters.listener.tls_inspector, typed_config: {'@type': "
        "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}}]\n"
        "listener_filters_timeout: 5s\n"
        "per_connection_buffer_limit_bytes: 1048576\n"
        "socket_options: [{level: 1, name: 2, int_value: 1, state: STATE_LISTENING}]\n"
        "filter_chains:\n"
        "- name: a\n"
        "  filter_chain_match: {server_names: [Example.com, '*.example.com'], transport_protocol: tls, "
        "application_protocols: [h2, http/1.1], destination_port: 8443, prefix_ranges: [{address_prefix: "
        "10.1.2.3, prefix_len: 8}], source_type: EXTERNAL, source_ports: [1000, 2000], source_prefix_ranges: "
        "[{address_prefix: '2001:db8::', prefix_len: 32}]}\n"
        "  transport_socket: {name: envoy.transport_sockets.tls, typed_config: {'@type': "
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, common_tls_context: "
        "{tls_certificate_sds_secret_configs: [{name: cert1, sds_config: {ads: {}}}]}}}\n"
        "  transport_socket_connect_timeout: 3s\n"
        "  filters: [{name: hcm, typed_config: {'@type': '" HCM_TYPE "', stat_prefix: a, " RDS
        ", http_filters: [" ROUTER "]}}]\n"
        "- name: b\n"
        "  filter_chain_match: {transport_protocol: raw_buffer}\n"
        "  filters: [{name: hcm, typed_config: {'@type': '" HCM_TYPE "', stat_prefix: b, rds: {route_config_name: "
        "r2, config_source: {self: {}, initial_fetch_timeout: 0s}}, http_filters: [" ROUTER "]}}]\n"
        "default_filter_chain:\n"
        "  name: fallback\n"
        "  filters: [{name: hcm, typed_config: {'@type': '" HCM_TYPE "', stat_prefix: c, " RDS
        ", http_filters: [" ROUTER "]}}]\n");
    if (!CHECK(r != NULL))
        return;
    const xg_listener *l = r->body;
    CHECK_EQ_INT(l->n_addrs, 2);
    CHECK_STR(l->addrs[0].text, "[::]:8443");
    CHECK(l->addrs[0].ipv4_compat);
    CHECK_STR(l->addrs[1].text, "127.0.0.1:8443");
    CHECK(l->tls_inspector);
    CHECK_EQ_INT(l->tls_inspector_buffer_size, 65536);
    CHECK_EQ_INT(l->listener_filters_timeout_ms, 5000);
    CHECK_EQ_INT(l->per_connection_buffer_limit_bytes, 1048576);
    CHECK_EQ_INT(l->n_socket_options, 1);
    CHECK_EQ_INT(l->socket_options[0].state, XG_SOCKET_STATE_LISTENING);
    CHECK_EQ_INT(l->n_chains, 2);
    const xg_filter_chain_match *m = &l->chains[0].match;
    CHECK_EQ_INT(m->n_server_names, 2);
    CHECK_STR(m->server_names[0].name.s, "example.com");
    CHECK(!m->server_names[0].wildcard);
    CHECK_STR(m->server_names[1].name.s, ".example.com");
    CHECK(m->server_names[1].wildcard);
    CHECK_EQ_INT(m->transport, XG_TRANSPORT_TLS);
    CHECK_EQ_INT(m->n_alpn, 2);
    CHECK_EQ_INT(m->destination_port, 8443);
    CHECK_EQ_INT(m->prefix_ranges[0].addr[0], 10);
    CHECK_EQ_INT(m->prefix_ranges[0].addr[1], 0); /* host bits cleared */
    CHECK_EQ_INT(m->source_type, XG_SOURCE_EXTERNAL);
    CHECK_EQ_INT(m->n_source_ports, 2);
    CHECK_EQ_INT(m->source_prefix_ranges[0].family, AF_INET6);
    CHECK(l->chains[0].tls != NULL);
    CHECK_EQ_INT(l->chains[0].transport_socket_connect_timeout_ms, 3000);
    CHECK_EQ_INT(l->chains[1].match.transport, XG_TRANSPORT_RAW_BUFFER);
    CHECK_EQ_INT(l->chains[1].hcm->rds_initial_fetch_timeout_ms, 0);
    CHECK(l->default_chain != NULL && l->default_chain->index == -1);
    CHECK_STR(l->default_chain->name, "fallback");
    CHECK(has_dep(r, XG_RES_SECRET, "cert1"));
    CHECK(has_dep(r, XG_RES_ROUTE_CONFIG, "routes") && has_dep(r, XG_RES_ROUTE_CONFIG, "r2"));
    xg_res_unref(r);
}

/* --- NACKs --- */

XG_TEST(nack_http_filters)
{
    fails(L_HCM(RDS ",", "{name: envoy.filters.http.foo, typed_config: {'@type': "
                         "type.googleapis.com/google.protobuf.Empty}}," ROUTER),
          HPATH ".http_filters[0]: HTTP filter \"envoy.filters.http.foo\" has unknown type \"type.googleapis.com/x.Y\" "
                "and is not optional");
    fails(L_HCM(RDS ",", ROUTER ",{name: envoy.filters.http.foo, typed_config: {'@type': "
                                "type.googleapis.com/google.protobuf.Empty}}"),
          HPATH ".http_filters[1]: HTTP filter \"envoy.filters.http.foo\" has unknown type \"type.googleapis.com/x.Y\" "
                "and is not optional");
    fails(L_HCM(RDS ",",
                "{name: rl, typed_config: {'@type': "
                "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit, domain: d}}," ROUTER),
          HPATH ".http_filters[0].typed_config.rate_limit_service: required");
    fails(L_HCM(RDS ",", ROUTER "," ROUTER),
          HPATH ".http_filters: the router (HTTP filter \"envoy.filters.http.router\") must be the last HTTP filter");
    fails(L_HCM(RDS ",", ""), HPATH ".http_filters: no HTTP filter: the chain must end with the router "
                                    "(envoy.extensions.filters.http.router.v3.Router)");
    fails(L_HCM(RDS ",", "{name: envoy.filters.http.router, disabled: true, typed_config: {'@type': "
                         "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}"),
          HPATH ".http_filters: the router (HTTP filter \"envoy.filters.http.router\") cannot be disabled");
    fails(L_HCM(RDS ",", "{name: x}," ROUTER),
          HPATH ".http_filters[0]: HTTP filter \"x\" has no typed_config and is not optional");
    fails(L_HCM(RDS ",", "{name: r, typed_config: {'@type': "
                         "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router, strict_check_headers: "
                         "[x-foo]}}"),
          HPATH ".http_filters[0].typed_config.strict_check_headers[0]: \"x-foo\" cannot be checked (only the "
                "x-envoy-upstream-rq-*, x-envoy-max-retries and x-envoy-retry-* headers)");
}

XG_TEST(nack_hcm_fields)
{
    fails(L_HCM(RDS ", codec_type: HTTP3,", ROUTER), HPATH ".codec_type: HTTP3 is not supported");
    fails(L_HCM(RDS ", max_request_headers_kb: 8193,", ROUTER), HPATH ".max_request_headers_kb: 8193 is not in 1-8192");
    fails(L_HCM(RDS ", http2_protocol_options: {max_concurrent_streams: 0},", ROUTER),
          HPATH ".http2_protocol_options.max_concurrent_streams: 0 is not in 1-2147483647");
    fails(L_HCM(RDS ", http2_protocol_options: {initial_stream_window_size: 1000},", ROUTER),
          HPATH ".http2_protocol_options.initial_stream_window_size: 1000 is not in 65535-2147483647");
    fails(L_HCM(RDS ", http2_protocol_options: {allow_metadata: true},", ROUTER),
          HPATH ".http2_protocol_options.allow_metadata: not supported");
    fails(L_HCM(RDS ", common_http_protocol_options: {max_headers_count: 0},", ROUTER),
          HPATH ".common_http_protocol_options.max_headers_count: must be at least 1");
    fails(L_HCM(RDS ", stream_idle_timeout: -1s,", ROUTER), HPATH ".stream_idle_timeout: must not be negative");
    fails(L_HCM(RDS ", via: \"a\\nb\",", ROUTER), HPATH ".via: must not contain CR, LF or NUL");
    fails(L_HCM(RDS ", upgrade_configs: [{upgrade_type: websocket}, {upgrade_type: WEBSOCKET}],", ROUTER),
          HPATH ".upgrade_configs[1].upgrade_type: \"WEBSOCKET\" is configured more than once");
    fails(L_HCM(RDS ", upgrade_configs: [{upgrade_type: websocket, filters: [" ROUTER "]}],", ROUTER),
          HPATH ".upgrade_configs[0].filters: per-upgrade HTTP filter chains are not supported");
    fails(L_HCM(RDS ", scheme_header_transformation: {scheme_to_overwrite: ftp},", ROUTER),
          HPATH ".scheme_header_transformation.scheme_to_overwrite: must be \"http\" or \"https\", not \"ftp\"");
    fails(L_HCM(RDS ", internal_address_config: {cidr_ranges: [{address_prefix: 10.0.0.0, prefix_len: 33}]},", ROUTER),
          HPATH ".internal_address_config.cidr_ranges[0].prefix_len: 33 is more than 32 for 10.0.0.0");
    fails("name: l1\n" ADDR "filter_chains: [{filters: [{name: hcm, typed_config: {'@type': '" HCM_TYPE "', " RDS
          ", http_filters: [" ROUTER "]}}]}]\n",
          HPATH ".stat_prefix: must not be empty");
}

XG_TEST(nack_route_source)
{
    fails(L_HCM("", ROUTER), HPATH ": one of rds or route_config is required");
    fails(L_HCM("rds: {route_config_name: r},", ROUTER), HPATH ".rds.config_source: required (use ads: {})");
    fails(L_HCM("rds: {route_config_name: r, config_source: {api_config_source: {api_type: GRPC}}},", ROUTER),
          HPATH ".rds.config_source: api_config_source is not supported: xdsgate takes every resource over its one "
                "ADS stream; use ads: {}");
    fails(L_HCM("rds: {route_config_name: r, config_source: {path_config_source: {path: /x}}},", ROUTER),
          HPATH ".rds.config_source: path_config_source is not supported: xdsgate takes every resource over its one "
                "ADS stream; use ads: {}");
    fails(L_HCM("rds: {config_source: {ads: {}}},", ROUTER), HPATH ".rds.route_config_name: must not be empty");
    fails(L_HCM("rds: {route_config_name: r, config_source: {ads: {}, resource_api_version: V2}},", ROUTER),
          HPATH ".rds.config_source.resource_api_version: V2 is not supported");
    fails(L_HCM("route_config: {virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {safe_regex: {regex: "
                "'('}}, route: {cluster: c}}]}]},",
                ROUTER),
          HPATH ".route_config.virtual_hosts[0].routes[0].match.safe_regex.regex: invalid regex \"(\": missing ): (");
}

XG_TEST(nack_addresses)
{
#define L_ADDR(a)                                                                                                      \
    "name: l1\naddress: " a "\nfilter_chains: [{filters: [{name: hcm, typed_config: {'@type': '" HCM_TYPE              \
    "', stat_prefix: s, " RDS ", http_filters: [" ROUTER "]}}]}]\n"
    fails(L_ADDR("{socket_address: {address: localhost, port_value: 80}}"),
          "address.socket_address.address: \"localhost\" is not an IPv4 or IPv6 address (listeners bind IP literals, "
          "not names)");
    fails(L_ADDR("{socket_address: {address: 0.0.0.0, port_value: 70000}}"),
          "address.socket_address.port_value: 70000 is not a port (1-65535)");
    fails(L_ADDR("{socket_address: {address: 0.0.0.0}}"), "address.socket_address.port_value: a port (1-65535) is "
                                                          "required");
    fails(L_ADDR("{socket_address: {address: 0.0.0.0, named_port: http}}"),
          "address.socket_address.named_port: not supported; use port_value");
    fails(L_ADDR("{socket_address: {address: 0.0.0.0, port_value: 53, protocol: UDP}}"),
          "address.socket_address.protocol: only TCP listeners are supported");
    fails(L_ADDR("{socket_address: {address: 0.0.0.0, port_value: 80, resolver_name: r}}"),
          "address.socket_address.resolver_name: not supported");
    fails(L_ADDR("{pipe: {path: /tmp/s}}"), "address.pipe: unix socket listeners are not supported");
    fails("name: l1\nfilter_chains: []\n", "address: required");
    fails("name: l1\n" ADDR "additional_addresses: [{address: {socket_address: {address: 0.0.0.0, port_value: "
          "8080}}}]\nfilter_chains: [{filters: [{name: hcm, typed_config: {'@type': '" HCM_TYPE
          "', stat_prefix: s, " RDS ", http_filters: [" ROUTER "]}}]}]\n",
          "additional_addresses[0]: address 0.0.0.0:8080 is already used by this listener");
#undef L_ADDR
}

XG_TEST(nack_listener_fields)
{
    fails(ADDR "filter_chains: []\n", "name: must not be empty");
    fails("name: l1\n" ADDR, "filter_chains: no filter chains specified (and no default_filter_chain)");
    fails("name: l1\n" ADDR "use_original_dst: true\n", "use_original_dst: not supported");
    fails("name: l1\n" ADDR "bind_to_port: false\n", "bind_to_port: false is not supported (no original-destination "
                                                     "listeners)");
    fails("name: l1\n" ADDR "listener_filters: [{name: envoy.filters.listener.http_inspector, typed_config: {'@type': "
          "type.googleapis.com/google.protobuf.Empty}}]\nfilter_chains: []\n",
          "listener_filters[0]: listener filter \"envoy.filters.listener.http_inspector\" (type "
          "\"type.googleapis.com/x.Y\") is not supported (only the tls_inspector)");
    fails("name: l1\n" ADDR "filter_chains: [{filters: [{name: envoy.filters.network.tcp_proxy, typed_config: "
          "{'@type': type.googleapis.com/google.protobuf.Empty}}]}]\n",
          "filter_chains[0].filters[0]: network filter \"envoy.filters.network.tcp_proxy\" (type "
          "\"type.googleapis.com/x.Y\") is not supported (only the connection_limit and the http_connection_manager)");
    fails("name: l1\n" ADDR "filter_chains: [{filters: []}]\n",
          "filter_chains[0].filters: a filter chain needs the http_connection_manager network filter");
    fails("name: l1\n" ADDR "filter_chains: [{filter_chain_match: {transport_protocol: quic}, filters: []}]\n",
          "filter_chains[0].filter_chain_match.transport_protocol: \"quic\" is not supported (\"raw_buffer\" or "
          "\"tls\")");
    fails("name: l1\n" ADDR "filter_chains: [{filter_chain_match: {server_names: ['a.*.com']}, filters: []}]\n",
          "filter_chains[0].filter_chain_match.server_names[0]: \"a.*.com\": partial wildcards are not supported (only "
          "a leading \"*.\")");
    fails("name: l1\n" ADDR "filter_chains: [{filter_chain_match: {address_suffix: x}, filters: []}]\n",
          "filter_chains[0].filter_chain_match.address_suffix: not supported");
    fails("name: l1\n" ADDR "filter_chains: [{filter_chain_match: {prefix_ranges: [{address_prefix: nope}]}, filters: "
          "[]}]\n",
          "filter_chains[0].filter_chain_match.prefix_ranges[0].address_prefix: \"nope\" is not an IPv4 or IPv6 "
          "address");
}

XG_TEST(nack_overlapping_chains)
{
#define CHAIN(name, match)                                                                                             \
    "- {name: " name ", filter_chain_match: " match ", filters: [{name: hcm, typed_config: "                           \
    "{'@type': '" HCM_TYPE "', stat_prefix: s, " RDS ", http_filters: [" ROUTER "]}}]}\n"
    fails("name: l1\n" ADDR "filter_chains:\n" CHAIN("a", "{server_names: [a.com, b.com]}")
              CHAIN("b", "{server_names: [c.com, B.com]}"),
          "filter_chains[1]: filter chain \"b\" has the same matching rules as filter chain \"a\" (filter_chains[0])");
    fails("name: l1\n" ADDR "filter_chains:\n" CHAIN("a", "{}") CHAIN("b", "{}"),
          "filter_chains[1]: filter chain \"b\" has the same matching rules as filter chain \"a\" (filter_chains[0])");
    xg_res *r = xlate("name: l1\n" ADDR "filter_chains:\n" CHAIN("a", "{server_names: [a.com]}")
                          CHAIN("b", "{server_names: [a.com], transport_protocol: tls}") CHAIN("c", "{}")
                              CHAIN("d", "{server_names: ['*.a.com']}"));
    CHECK(r != NULL);
    xg_res_unref(r);
#undef CHAIN
}

/* xdsgate has no tracer and no access logs yet: tracing is accepted with a
 * warning; access logs, request-id extensions and local reply mappers are
 * NACKed. */
XG_TEST(observability_fields)
{
    xg_res *r = xlate(L_HCM(RDS ", tracing: {random_sampling: {value: 10}, client_sampling: {value: 100}, "
                                "overall_sampling: {value: 0.5}, verbose: true, max_path_tag_length: 128, "
                                "spawn_upstream_span: true},",
                            ROUTER));
    const xg_listener *l = r ? r->body : NULL;
    if (CHECK(l != NULL) && CHECK_EQ_INT(l->n_warnings, 1))
        CHECK_STR(l->warnings[0], HPATH ".tracing: accepted but has no effect: xdsgate has no tracing yet");
    xg_res_unref(r);
    fails(L_HCM(RDS ", tracing: {overall_sampling: {value: 101}},", ROUTER),
          HPATH ".tracing.overall_sampling: must be a percentage between 0 and 100, got 101");
    fails(L_HCM(RDS ", access_log: [{name: envoy.access_loggers.stdout}],", ROUTER),
          HPATH ".access_log: access logging is not supported yet (field access_log)");
    fails(L_HCM(RDS ", request_id_extension: {typed_config: {'@type': type.googleapis.com/google.protobuf.Empty}},",
                ROUTER),
          HPATH ".request_id_extension: not supported yet");
    fails(L_HCM(RDS ", local_reply_config: {},", ROUTER), HPATH ".local_reply_config: not supported yet");
    fails(L_HCM(RDS ",", "{name: r, typed_config: {'@type': "
                         "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router, upstream_log: "
                         "[{name: envoy.access_loggers.file}]}}"),
          HPATH ".http_filters[0].typed_config.upstream_log: access logging is not supported yet (field upstream_log)");
    fails("name: l1\n" ADDR "access_log: [{name: envoy.access_loggers.stdout}]\n",
          "access_log: access logging is not supported yet (field access_log)");
}

/* envoy.filters.network.connection_limit before the HCM: translated with
 * Envoy's validation (stat_prefix, max_connections >= 1), its delay and
 * runtime_enabled default; misplaced or repeated: NACK. */
XG_TEST(connection_limit_filter)
{
#define CL_TYPE "type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit"
#define HCM_FILTER                                                                                                     \
    "{name: hcm, typed_config: {'@type': '" HCM_TYPE "', stat_prefix: s, " RDS ", http_filters: [" ROUTER "]}}"
#define L_CL(cl)                                                                                                       \
    "name: l1\n" ADDR "filter_chains: [{filters: [{name: cl, typed_config: {'@type': '" CL_TYPE "', " cl               \
    "}}, " HCM_FILTER "]}]\n"
    xg_res *r = xlate(L_CL("stat_prefix: lim, max_connections: 2, delay: 0.25s"));
    const xg_listener *l = r ? r->body : NULL;
    if (CHECK(l != NULL) && CHECK(l->chains[0].conn_limit != NULL)) {
        const xg_conn_limit_cfg *c = l->chains[0].conn_limit;
        CHECK_STR(c->stat_prefix, "lim");
        CHECK_EQ_INT(c->max_connections, 2);
        CHECK_EQ_INT(c->delay_ms, 250);
        CHECK(c->enabled);
        CHECK(l->chains[0].hcm != NULL);
    }
    xg_res_unref(r);
    r = xlate(L_CL("stat_prefix: lim, max_connections: 5, runtime_enabled: {default_value: false, runtime_key: k}"));
    l = r ? r->body : NULL;
    if (CHECK(l != NULL) && CHECK(l->chains[0].conn_limit != NULL)) {
        CHECK(!l->chains[0].conn_limit->enabled);
        CHECK_EQ_INT(l->chains[0].conn_limit->delay_ms, 0);
    }
    xg_res_unref(r);
    r = xlate(L_HCM(RDS ",", ROUTER));
    CHECK(r != NULL && ((const xg_listener *)r->body)->chains[0].conn_limit == NULL);
    xg_res_unref(r);
    fails(L_CL("max_connections: 2"), "filter_chains[0].filters[0].typed_config.stat_prefix: must not be empty");
    fails(L_CL("stat_prefix: x"), "filter_chains[0].filters[0].typed_config.max_connections: required");
    fails(L_CL("stat_prefix: x, max_connections: 0"),
          "filter_chains[0].filters[0].typed_config.max_connections: must be at least 1");
    fails(L_CL("stat_prefix: x, max_connections: 1, delay: -1s"),
          "filter_chains[0].filters[0].typed_config.delay: must not be negative");
    fails("name: l1\n" ADDR "filter_chains: [{filters: [" HCM_FILTER ", {name: cl, typed_config: {'@type': '" CL_TYPE
          "', stat_prefix: x, max_connections: 1}}]}]\n",
          "filter_chains[0].filters[0]: the http_connection_manager is a terminal filter and must be the last one");
    fails("name: l1\n" ADDR "filter_chains: [{filters: [{name: cl, typed_config: {'@type': '" CL_TYPE
          "', stat_prefix: x, max_connections: 1}}, {name: cl2, typed_config: {'@type': '" CL_TYPE
          "', stat_prefix: y, max_connections: 1}}, " HCM_FILTER "]}]\n",
          "filter_chains[0].filters[1]: only one connection_limit filter per filter chain is supported");
    fails("name: l1\n" ADDR "filter_chains: [{filters: [{name: cl, typed_config: {'@type': '" CL_TYPE
          "', stat_prefix: x, max_connections: 1}}]}]\n",
          "filter_chains[0].filters: a filter chain needs the http_connection_manager network filter");
#undef L_CL
#undef HCM_FILTER
#undef CL_TYPE
}
