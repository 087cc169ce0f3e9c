/* Unit tests for the Cluster translator (xlate_cluster*.c): Envoy's defaults,
 * every supported knob, and the exact NACK text (with the field path) for
 * unsupported or invalid settings. Resources are written in YAML as a control
 * plane would send them. */
#include "config/cluster.h"
#include "xlate_ces_test.h"

static int xl(xg_xlate *x, const void *pb)
{
    return xg_xlate_cluster(x, pb);
}

static xg_res *cluster(const char *yaml)
{
    return xlate_yaml(&envoy__config__cluster__v3__cluster__descriptor, XG_RES_CLUSTER, xl, yaml);
}

/* Expects a NACK with exactly this text. */
static void nack(const char *yaml, const char *want)
{
    xg_res *r = cluster(yaml);
    CHECK(r == NULL);
    CHECK_STR(err, want);
    xg_res_unref(r);
}

#define EDS "name: web\ntype: EDS\neds_cluster_config: {eds_config: {ads: {}}}\n"
#define STATIC1                                                                                                        \
    "name: s\ntype: STATIC\nload_assignment: {cluster_name: s, endpoints: [{lb_endpoints: [{endpoint: {address: "      \
    "{socket_address: {address: 127.0.0.1, port_value: 8080}}}}]}]}\n"

XG_TEST(eds_cluster_defaults)
{
    xg_res *r = cluster(EDS);
    if (!CHECK(r != NULL))
        return;
    const xg_cluster *c = r->body;
    CHECK_STR(c->name, "web");
    CHECK(c->alt_stat_name == NULL);
    CHECK_EQ_INT(c->type, XG_CLUSTER_EDS);
    CHECK_STR(c->eds_service_name, "web");
    CHECK(has_dep(r, XG_RES_ENDPOINTS, "web"));
    CHECK_EQ_INT(c->eds_initial_fetch_timeout_ms, 15000);
    CHECK_EQ_INT(c->connect_timeout_ms, 5000);
    CHECK_EQ_INT(c->per_connection_buffer_limit_bytes, 1048576);
    CHECK_EQ_INT(c->lb.policy, XG_LB_ROUND_ROBIN);
    CHECK_EQ_INT(c->lb.choice_count, 2);
    CHECK_EQ_INT(c->lb.ring_min, 1024);
    CHECK_EQ_INT(c->lb.ring_max, 8388608);
    CHECK_EQ_INT(c->lb.maglev_table_size, 65537);
    CHECK(c->lb.healthy_panic_threshold == 50.0);
    CHECK(c->load_assignment == NULL);
    CHECK_EQ_INT(c->n_health_checks, 0);
    for (int p = 0; p < XG_N_PRIORITIES; p++) {
        CHECK_EQ_INT(c->thresholds[p].max_connections, 1024);
        CHECK_EQ_INT(c->thresholds[p].max_pending_requests, 1024);
        CHECK_EQ_INT(c->thresholds[p].max_requests, 1024);
        CHECK_EQ_INT(c->thresholds[p].max_retries, 3);
        CHECK(!c->thresholds[p].has_retry_budget);
    }
    CHECK(c->outlier == NULL);
    CHECK(!c->has_http_protocol_options);
    CHECK_EQ_INT(c->http.protocol, XG_UPSTREAM_HTTP1);
    CHECK_EQ_INT(c->http.idle_timeout_ms, 3600000);
    CHECK_EQ_INT(c->http.max_headers_count, 100);
    CHECK(c->tls == NULL);
    CHECK_EQ_INT(c->dns_refresh_rate_ms, 5000);
    CHECK_EQ_INT(c->dns_lookup_family, XG_DNS_AUTO);
    CHECK(c->wait_for_warm_on_init);
    CHECK_EQ_INT(c->cleanup_interval_ms, 5000);
    CHECK(!c->has_tcp_keepalive);
    xg_res_unref(r);
}

XG_TEST(eds_service_name_and_settings)
{
    xg_res *r = cluster("name: web\nalt_stat_name: web_stats\ntype: EDS\n"
                        "eds_cluster_config: {service_name: web-svc, eds_config: {ads: {}, initial_fetch_timeout: 2s, "
                        "resource_api_version: V3}}\n"
                        "connect_timeout: 0.25s\nper_connection_buffer_limit_bytes: 32768\n"
                        "wait_for_warm_on_init: false\ncleanup_interval: 10s\n"
                        "close_connections_on_host_health_failure: true\nignore_health_on_host_removal: true\n"
                        "upstream_connection_options: {tcp_keepalive: {keepalive_probes: 3, keepalive_time: 30, "
                        "keepalive_interval: 5}}\n"
                        "metadata: {filter_metadata: {x: {a: 1}}}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_cluster *c = r->body;
    CHECK_STR(c->alt_stat_name, "web_stats");
    CHECK_STR(c->eds_service_name, "web-svc");
    CHECK(has_dep(r, XG_RES_ENDPOINTS, "web-svc"));
    CHECK(!has_dep(r, XG_RES_ENDPOINTS, "web"));
    CHECK_EQ_INT(c->eds_initial_fetch_timeout_ms, 2000);
    CHECK_EQ_INT(c->connect_timeout_ms, 250);
    CHECK_EQ_INT(c->per_connection_buffer_limit_bytes, 32768);
    CHECK(!c->wait_for_warm_on_init);
    CHECK_EQ_INT(c->cleanup_interval_ms, 10000);
    CHECK(c->close_connections_on_host_health_failure);
    CHECK(c->ignore_health_on_host_removal);
    CHECK(c->has_tcp_keepalive);
    CHECK_EQ_INT(c->keepalive_probes, 3);
    CHECK_EQ_INT(c->keepalive_time_s, 30);
    CHECK_EQ_INT(c->keepalive_interval_s, 5);
    xg_res_unref(r);
}

XG_TEST(eds_config_must_be_ads)
{
    nack("name: web\ntype: EDS\neds_cluster_config: {eds_config: {api_config_source: {api_type: GRPC}}}\n",
         "eds_cluster_config.eds_config: api_config_source is not supported: xdsgate takes every resource over its "
         "one ADS stream, use ads: {}");
    nack("name: web\ntype: EDS\neds_cluster_config: {eds_config: {path_config_source: {path: /x}}}\n",
         "eds_cluster_config.eds_config: path_config_source is not supported: xdsgate takes every resource over its "
         "one ADS stream, use ads: {}");
    nack("name: web\ntype: EDS\n", "eds_cluster_config: required for an EDS cluster (eds_config: {ads: {}})");
    nack("name: web\ntype: EDS\neds_cluster_config: {}\n",
         "eds_cluster_config.eds_config: required: xdsgate fetches it over ADS, set ads: {}");
    nack("name: web\ntype: EDS\neds_cluster_config: {eds_config: {ads: {}, resource_api_version: V2}}\n",
         "eds_cluster_config.eds_config.resource_api_version: V2 is not supported, use V3 (or leave it unset)");
}

XG_TEST(eds_must_not_have_inline_endpoints)
{
    nack(EDS "load_assignment: {cluster_name: web, endpoints: [{lb_endpoints: [{endpoint: {address: "
             "{socket_address: {address: 10.0.0.1, port_value: 80}}}}]}]}\n",
         "load_assignment: an EDS cluster takes its endpoints from EDS, not inline");
}

XG_TEST(static_cluster_endpoints)
{
    xg_res *r = cluster(STATIC1);
    if (!CHECK(r != NULL))
        return;
    const xg_cluster *c = r->body;
    CHECK_EQ_INT(c->type, XG_CLUSTER_STATIC);
    CHECK_EQ_INT(r->n_deps, 0);
    if (CHECK(c->load_assignment != NULL) && CHECK_EQ_INT(c->load_assignment->n_localities, 1)) {
        const xg_lb_endpoint *e = &c->load_assignment->localities[0].endpoints[0];
        CHECK_STR(e->host, "127.0.0.1");
        CHECK_EQ_INT(e->port, 8080);
        CHECK(e->is_ip);
        CHECK_EQ_INT(e->addr.ss_family, AF_INET);
        CHECK_EQ_INT(c->load_assignment->overprovisioning_factor, 140);
    }
    xg_res_unref(r);
}

XG_TEST(static_needs_ip_endpoints)
{
    nack("name: s\ntype: STATIC\nload_assignment: {cluster_name: s, endpoints: [{lb_endpoints: [{endpoint: {address: "
         "{socket_address: {address: backend.example, port_value: 80}}}}]}]}\n",
         "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: \"backend.example\" "
         "is not an IP address (hostnames are resolved only in STRICT_DNS and LOGICAL_DNS clusters)");
    nack("name: s\ntype: STATIC\n", "load_assignment: required for a STATIC cluster");
    nack("name: s\n", "load_assignment: required for a STATIC cluster");
    nack("name: s\ntype: STRICT_DNS\n", "load_assignment: required for a DNS cluster");
}

XG_TEST(bad_ports)
{
    nack("name: s\nload_assignment: {cluster_name: s, endpoints: [{lb_endpoints: [{endpoint: {address: "
         "{socket_address: {address: 10.0.0.1, port_value: 0}}}}]}]}\n",
         "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: must be 1..65535, "
         "got 0");
    nack("name: s\nload_assignment: {cluster_name: s, endpoints: [{lb_endpoints: [{endpoint: {address: "
         "{socket_address: {address: 10.0.0.1, port_value: 70000}}}}]}]}\n",
         "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: must be 1..65535, "
         "got 70000");
}

XG_TEST(dns_clusters)
{
    xg_res *r = cluster("name: d\ntype: STRICT_DNS\ndns_lookup_family: V4_ONLY\nrespect_dns_ttl: true\n"
                        "dns_refresh_rate: 30s\ndns_failure_refresh_rate: {base_interval: 2s, max_interval: 20s}\n"
                        "load_assignment: {cluster_name: d, endpoints: [{lb_endpoints: ["
                        "{endpoint: {address: {socket_address: {address: a.example.com, port_value: 80}}}},"
                        "{endpoint: {address: {socket_address: {address: '::1', port_value: 81}}}}]}]}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_cluster *c = r->body;
    CHECK_EQ_INT(c->type, XG_CLUSTER_STRICT_DNS);
    CHECK_EQ_INT(c->dns_lookup_family, XG_DNS_V4_ONLY);
    CHECK(c->respect_dns_ttl);
    CHECK_EQ_INT(c->dns_refresh_rate_ms, 30000);
    CHECK_EQ_INT(c->dns_failure_refresh_base_ms, 2000);
    CHECK_EQ_INT(c->dns_failure_refresh_max_ms, 20000);
    const xg_locality_endpoints *l = &c->load_assignment->localities[0];
    CHECK_STR(l->endpoints[0].host, "a.example.com");
    CHECK(!l->endpoints[0].is_ip);
    CHECK(l->endpoints[1].is_ip);
    CHECK_EQ_INT(l->endpoints[1].addr.ss_family, AF_INET6);
    xg_res_unref(r);

    nack("name: d\ntype: STRICT_DNS\nload_assignment: {cluster_name: d, endpoints: [{lb_endpoints: [{endpoint: "
         "{address: {socket_address: {address: 'bad_name..x', port_value: 80}}}}]}]}\n",
         "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: \"bad_name..x\" is "
         "neither an IP address nor a valid DNS name");
    nack("name: d\ntype: LOGICAL_DNS\nload_assignment: {cluster_name: d, endpoints: [{lb_endpoints: ["
         "{endpoint: {address: {socket_address: {address: a.example, port_value: 80}}}},"
         "{endpoint: {address: {socket_address: {address: b.example, port_value: 80}}}}]}]}\n",
         "load_assignment: a LOGICAL_DNS cluster needs exactly one locality with exactly one lb_endpoint");
    nack(STATIC1 "typed_dns_resolver_config: {name: envoy.network.dns_resolver.cares}\n",
         "typed_dns_resolver_config.typed_config: required (a "
         "envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig)");
    nack(STATIC1 "dns_refresh_rate: 0.001s\n", "dns_refresh_rate: must be greater than 1ms");
    nack(STATIC1 "dns_failure_refresh_rate: {base_interval: 5s, max_interval: 1s}\n",
         "dns_failure_refresh_rate.max_interval: must be greater than or equal to base_interval");
    nack(STATIC1 "dns_failure_refresh_rate: {max_interval: 1s}\n", "dns_failure_refresh_rate.base_interval: required");
}

XG_TEST(unsupported_types_and_basics)
{
    nack("name: o\ntype: ORIGINAL_DST\nlb_policy: CLUSTER_PROVIDED\n",
         "type: ORIGINAL_DST is not supported (STATIC, STRICT_DNS, LOGICAL_DNS, EDS are)");
    nack("name: o\ncluster_type: {name: envoy.clusters.aggregate}\n",
         "cluster_type: custom cluster types are not supported");
    nack(EDS "connect_timeout: 0s\n", "connect_timeout: must be greater than 0");
    nack(EDS "connect_timeout: -1s\n", "connect_timeout: must not be negative");
    nack("type: EDS\neds_cluster_config: {eds_config: {ads: {}}}\n", "name: required");
    nack(EDS "upstream_bind_config: {source_address: {address: 10.0.0.1, port_value: 0}}\n",
         "upstream_bind_config: not supported");
    nack(EDS "upstream_connection_options: {happy_eyeballs_config: {}}\n",
         "upstream_connection_options.happy_eyeballs_config: not supported");
}

XG_TEST(lb_policies)
{
    xg_res *r =
        cluster(EDS "lb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 64, maximum_ring_size: 4096}\n"
                    "common_lb_config: {healthy_panic_threshold: {value: 25}, locality_weighted_lb_config: {}}\n");
    if (CHECK(r != NULL)) {
        const xg_cluster *c = r->body;
        CHECK_EQ_INT(c->lb.policy, XG_LB_RING_HASH);
        CHECK_EQ_INT(c->lb.ring_min, 64);
        CHECK_EQ_INT(c->lb.ring_max, 4096);
        CHECK(c->lb.healthy_panic_threshold == 25.0);
        CHECK(c->lb.locality_weighted);
    }
    xg_res_unref(r);
    r = cluster(EDS "lb_policy: LEAST_REQUEST\nleast_request_lb_config: {choice_count: 3}\n");
    if (CHECK(r != NULL)) {
        CHECK_EQ_INT(((const xg_cluster *)r->body)->lb.policy, XG_LB_LEAST_REQUEST);
        CHECK_EQ_INT(((const xg_cluster *)r->body)->lb.choice_count, 3);
    }
    xg_res_unref(r);
    r = cluster(EDS "lb_policy: MAGLEV\nmaglev_lb_config: {table_size: 5}\n");
    CHECK(r != NULL && ((const xg_cluster *)r->body)->lb.maglev_table_size == 5);
    xg_res_unref(r);
    r = cluster(EDS "lb_policy: RANDOM\n");
    CHECK(r != NULL && ((const xg_cluster *)r->body)->lb.policy == XG_LB_RANDOM);
    CHECK(r != NULL && ((const xg_cluster *)r->body)->lb.active_request_bias == 1.0);
    xg_res_unref(r);
    /* active_request_bias: its default_value; negative means 1.0, as in Envoy */
    r = cluster(EDS "least_request_lb_config: {active_request_bias: {default_value: 2.5, runtime_key: k}}\n");
    CHECK(r != NULL && ((const xg_cluster *)r->body)->lb.active_request_bias == 2.5);
    xg_res_unref(r);
    r = cluster(EDS "least_request_lb_config: {active_request_bias: {default_value: -1, runtime_key: k}}\n");
    CHECK(r != NULL && ((const xg_cluster *)r->body)->lb.active_request_bias == 1.0);
    xg_res_unref(r);
}

XG_TEST(lb_policy_nacks)
{
    nack(EDS "lb_policy: CLUSTER_PROVIDED\n",
         "lb_policy: CLUSTER_PROVIDED is not supported (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV are)");
    nack(EDS "lb_policy: LOAD_BALANCING_POLICY_CONFIG\n",
         "lb_policy: LOAD_BALANCING_POLICY_CONFIG needs load_balancing_policy");
    nack(EDS "lb_policy: RING_HASH\nring_hash_lb_config: {hash_function: MURMUR_HASH_2}\n",
         "ring_hash_lb_config.hash_function: only XX_HASH is supported");
    nack(EDS "lb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 5000, maximum_ring_size: 4096}\n",
         "ring_hash_lb_config.minimum_ring_size: 5000 is above maximum_ring_size 4096");
    nack(EDS "lb_policy: RING_HASH\nring_hash_lb_config: {maximum_ring_size: 9000000}\n",
         "ring_hash_lb_config.maximum_ring_size: must be at most 8388608");
    nack(EDS "lb_policy: MAGLEV\nmaglev_lb_config: {table_size: 65536}\n",
         "maglev_lb_config.table_size: must be a prime number, got 65536");
    nack(EDS "lb_policy: LEAST_REQUEST\nleast_request_lb_config: {choice_count: 1}\n",
         "least_request_lb_config.choice_count: must be at least 2, got 1");
    nack(EDS "lb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 0}\n",
         "ring_hash_lb_config.minimum_ring_size: must be at least 1");
    nack(EDS "round_robin_lb_config: {slow_start_config: {slow_start_window: 10s}}\n",
         "round_robin_lb_config.slow_start_config: not supported");
    nack(EDS "common_lb_config: {zone_aware_lb_config: {}}\n", "common_lb_config.zone_aware_lb_config: not supported");
    nack(EDS "common_lb_config: {healthy_panic_threshold: {value: 150}}\n",
         "common_lb_config.healthy_panic_threshold: must be a percentage between 0 and 100, got 150");
    nack(EDS "common_lb_config: {consistent_hashing_lb_config: {hash_balance_factor: 150}}\n",
         "common_lb_config.consistent_hashing_lb_config: hash_balance_factor (bounded loads) is not supported");
}

#define LBP "type.googleapis.com/envoy.extensions.load_balancing_policies."

XG_TEST(typed_load_balancing_policy)
{
    /* The first supported policy wins, as in Envoy; lb_policy is then ignored. */
    xg_res *r =
        cluster(EDS "lb_policy: ROUND_ROBIN\nload_balancing_policy: {policies: ["
                    "{typed_extension_config: {name: a, typed_config: {'@type': "
                    "type.googleapis.com/google.protobuf.Empty}}},"
                    "{typed_extension_config: {name: b, typed_config: {'@type': " LBP "maglev.v3.Maglev, "
                    "table_size: 131}}},"
                    "{typed_extension_config: {name: c, typed_config: {'@type': " LBP "random.v3.Random}}}]}\n");
    if (CHECK(r != NULL)) {
        CHECK_EQ_INT(((const xg_cluster *)r->body)->lb.policy, XG_LB_MAGLEV);
        CHECK_EQ_INT(((const xg_cluster *)r->body)->lb.maglev_table_size, 131);
    }
    xg_res_unref(r);
    r = cluster(EDS
                "load_balancing_policy: {policies: [{typed_extension_config: {name: lr, typed_config: {'@type': " LBP
                "least_request.v3.LeastRequest, choice_count: 4, locality_lb_config: "
                "{locality_weighted_lb_config: {}}}}}]}\n");
    if (CHECK(r != NULL)) {
        const xg_cluster *c = r->body;
        CHECK_EQ_INT(c->lb.policy, XG_LB_LEAST_REQUEST);
        CHECK_EQ_INT(c->lb.choice_count, 4);
        CHECK(c->lb.locality_weighted);
    }
    xg_res_unref(r);
    r = cluster(EDS
                "load_balancing_policy: {policies: [{typed_extension_config: {name: rh, typed_config: {'@type': " LBP
                "ring_hash.v3.RingHash, hash_function: XX_HASH, minimum_ring_size: 10}}}]}\n");
    CHECK(r != NULL && ((const xg_cluster *)r->body)->lb.policy == XG_LB_RING_HASH &&
          ((const xg_cluster *)r->body)->lb.ring_min == 10);
    xg_res_unref(r);
    nack(EDS "load_balancing_policy: {policies: [{typed_extension_config: {name: a, typed_config: {'@type': "
             "type.googleapis.com/google.protobuf.Empty}}}]}\n",
         "load_balancing_policy.policies: none of the 1 policies is supported (round_robin, least_request, random, "
         "ring_hash and maglev from envoy.extensions.load_balancing_policies are)");
    nack(EDS "load_balancing_policy: {policies: [{typed_extension_config: {name: rh, typed_config: {'@type': " LBP
             "ring_hash.v3.RingHash, hash_function: MURMUR_HASH_2}}}]}\n",
         "load_balancing_policy.policies[0].typed_extension_config.typed_config.hash_function: only XX_HASH (the "
         "default) is supported");
    nack(EDS "load_balancing_policy: {policies: [{typed_extension_config: {name: rr, typed_config: {'@type': " LBP
             "round_robin.v3.RoundRobin, locality_lb_config: {zone_aware_lb_config: {}}}}}]}\n",
         "load_balancing_policy.policies[0].typed_extension_config.typed_config.locality_lb_config.zone_aware_lb_"
         "config: "
         "not supported");
}

XG_TEST(health_checks)
{
    /* Envoy runs one health check per cluster: each checker in its own cluster. */
    xg_res *r = cluster(EDS "health_checks:\n"
                            "- timeout: 1s\n  interval: 5s\n  unhealthy_threshold: 3\n  healthy_threshold: 2\n"
                            "  interval_jitter: 0.5s\n  no_traffic_interval: 30s\n  alt_port: 9901\n"
                            "  reuse_connection: false\n  tls_options: {alpn_protocols: [h2]}\n"
                            "  event_log_path: /tmp/hc.log\n"
                            "  http_health_check:\n    host: health.local\n    path: /healthz\n"
                            "    method: HEAD\n    codec_client_type: HTTP2\n"
                            "    expected_statuses: [{start: 200, end: 300}]\n"
                            "    request_headers_to_add: [{header: {key: X-Check, value: '1'}, append: false}]\n"
                            "    request_headers_to_remove: [user-agent]\n");
    if (!CHECK(r != NULL))
        return;
    const xg_cluster *c = r->body;
    if (!CHECK_EQ_INT(c->n_health_checks, 1))
        goto done;
    const xg_health_check *h = &c->health_checks[0];
    CHECK_EQ_INT(h->kind, XG_HC_HTTP);
    CHECK_EQ_INT(h->timeout_ms, 1000);
    CHECK_EQ_INT(h->interval_ms, 5000);
    CHECK_EQ_INT(h->interval_jitter_ms, 500);
    CHECK_EQ_INT(h->unhealthy_threshold, 3);
    CHECK_EQ_INT(h->healthy_threshold, 2);
    CHECK_EQ_INT(h->no_traffic_interval_ms, 30000);
    CHECK_EQ_INT(h->no_traffic_healthy_interval_ms, 30000);
    CHECK_EQ_INT(h->unhealthy_interval_ms, 5000);
    CHECK_EQ_INT(h->unhealthy_edge_interval_ms, 5000);
    CHECK_EQ_INT(h->healthy_edge_interval_ms, 5000);
    CHECK_EQ_INT(h->alt_port, 9901);
    CHECK(!h->reuse_connection);
    CHECK(h->n_tls_alpn == 1 && strcmp(h->tls_alpn[0], "h2") == 0);
    CHECK_STR(h->event_log_path, "/tmp/hc.log");
    CHECK_STR(h->http_host, "health.local");
    CHECK_STR(h->http_path, "/healthz");
    CHECK_STR(h->http_method, "HEAD");
    CHECK_EQ_INT(h->http_codec, XG_HC_CODEC_HTTP2);
    CHECK(h->n_expected_statuses == 1 && h->expected_statuses[0].start == 200 && h->expected_statuses[0].end == 300);
    if (CHECK_EQ_INT(h->n_request_headers_to_add, 1)) {
        CHECK_STR(h->request_headers_to_add[0].key, "x-check");
        CHECK_STR(h->request_headers_to_add[0].value, "1");
        CHECK_EQ_INT(h->request_headers_to_add[0].append, XG_HC_OVERWRITE_IF_EXISTS_OR_ADD);
    }
    CHECK(h->n_request_headers_to_remove == 1 && strcmp(h->request_headers_to_remove[0], "user-agent") == 0);
    xg_res_unref(r);
    r = cluster(EDS "health_checks:\n"
                    "- timeout: 1s\n  interval: 2s\n  unhealthy_threshold: 1\n  healthy_threshold: 1\n"
                    "  tcp_health_check: {send: {text: '50494e47'}, receive: [{text: '504f4e47'}]}\n");
    if (!CHECK(r != NULL))
        return;
    h = &((const xg_cluster *)r->body)->health_checks[0];
    CHECK_EQ_INT(h->kind, XG_HC_TCP);
    CHECK(h->event_log_path == NULL);
    CHECK(h->reuse_connection);
    CHECK(h->tcp_send.len == 4 && memcmp(h->tcp_send.data, "PING", 4) == 0);
    CHECK(h->n_tcp_receive == 1 && h->tcp_receive[0].len == 4 && memcmp(h->tcp_receive[0].data, "PONG", 4) == 0);
    CHECK_EQ_INT(h->no_traffic_interval_ms, 60000);
    xg_res_unref(r);
    r = cluster(EDS "health_checks:\n"
                    "- timeout: 1s\n  interval: 2s\n  unhealthy_threshold: 1\n  healthy_threshold: 1\n"
                    "  unhealthy_interval: 10s\n"
                    "  grpc_health_check: {service_name: pkg.Svc, authority: svc.local, "
                    "initial_metadata: [{header: {key: x-md, value: v}}]}\n");
    if (!CHECK(r != NULL))
        return;
    h = &((const xg_cluster *)r->body)->health_checks[0];
    CHECK_EQ_INT(h->kind, XG_HC_GRPC);
    CHECK_STR(h->grpc_service_name, "pkg.Svc");
    CHECK_STR(h->grpc_authority, "svc.local");
    CHECK(h->n_grpc_initial_metadata == 1 && strcmp(h->grpc_initial_metadata[0].key, "x-md") == 0);
    CHECK_EQ_INT(h->unhealthy_interval_ms, 10000);
    CHECK_EQ_INT(h->unhealthy_edge_interval_ms, 10000);
    CHECK_EQ_INT(h->healthy_edge_interval_ms, 2000);
done:
    xg_res_unref(r);
}

XG_TEST(http_health_check_defaults)
{
    xg_res *r = cluster(EDS "health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, "
                            "http_health_check: {path: /}}]\n");
    if (CHECK(r != NULL)) {
        const xg_health_check *h = &((const xg_cluster *)r->body)->health_checks[0];
        CHECK(h->http_host == NULL);
        CHECK_STR(h->http_method, "GET");
        CHECK_EQ_INT(h->http_codec, XG_HC_CODEC_HTTP1);
        CHECK(h->n_expected_statuses == 1 && h->expected_statuses[0].start == 200 &&
              h->expected_statuses[0].end == 201);
    }
    xg_res_unref(r);
}

#define HC0 "health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, "

XG_TEST(health_check_nacks)
{
    nack(EDS "health_checks: [{interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, tcp_health_check: {}}]\n",
         "health_checks[0].timeout: required");
    nack(EDS HC0 "custom_health_check: {name: x}}]\n",
         "health_checks[0].custom_health_check: not supported (http_health_check, tcp_health_check, grpc_health_check "
         "are)");
    nack(EDS HC0 "}]\n",
         "health_checks[0]: one of http_health_check, tcp_health_check or grpc_health_check is required");
    nack(EDS HC0 "http_health_check: {}}]\n", "health_checks[0].http_health_check.path: required");
    nack(EDS HC0 "http_health_check: {path: /, expected_statuses: [{start: 200, end: 700}]}}]\n",
         "health_checks[0].http_health_check.expected_statuses[0]: invalid status range [200, 700): need 100 <= start "
         "< end <= 600");
    nack(EDS HC0 "http_health_check: {path: /, codec_client_type: HTTP3}}]\n",
         "health_checks[0].http_health_check.codec_client_type: only HTTP1 and HTTP2 are supported");
    nack(EDS HC0 "http_health_check: {path: /, method: CONNECT}}]\n",
         "health_checks[0].http_health_check.method: CONNECT and unknown methods are not allowed");
    nack(EDS HC0 "http_health_check: {path: /, receive: [{text: '00'}]}}]\n",
         "health_checks[0].http_health_check.receive: not supported for HTTP health checks");
    nack(EDS HC0 "http_health_check: {path: /, request_headers_to_add: [{header: {key: ':path', value: x}}]}}]\n",
         "health_checks[0].http_health_check.request_headers_to_add[0].header.key: \":path\" is not a valid header "
         "name (pseudo-headers are not allowed)");
    nack(EDS HC0 "tcp_health_check: {send: {text: 'zz'}}}]\n",
         "health_checks[0].tcp_health_check.send.text: \"zz\" is not an even-length hex string");
    nack(EDS HC0 "tcp_health_check: {receive: [{text: '012'}]}}]\n",
         "health_checks[0].tcp_health_check.receive[0].text: \"012\" is not an even-length hex string");
    nack(EDS "health_checks: [{timeout: 0s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, "
             "tcp_health_check: {}}]\n",
         "health_checks[0].timeout: must be greater than 0");
    nack(EDS "health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, "
             "tcp_health_check: {}}, {timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, "
             "tcp_health_check: {}}]\n",
         "health_checks: multiple health checks are not supported (Envoy runs one per cluster), got 2");
}

XG_TEST(circuit_breakers)
{
    xg_res *r = cluster(EDS "circuit_breakers: {thresholds: [{priority: HIGH, max_connections: 10, max_requests: 20, "
                            "retry_budget: {budget_percent: {value: 50}}, track_remaining: true},"
                            "{priority: HIGH, max_connections: 99}, {max_pending_requests: 7}]}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_cluster *c = r->body;
    const xg_cb_thresholds *hi = &c->thresholds[XG_PRIORITY_HIGH], *df = &c->thresholds[XG_PRIORITY_DEFAULT];
    CHECK_EQ_INT(hi->max_connections, 10); /* the first HIGH entry wins */
    CHECK_EQ_INT(hi->max_requests, 20);
    CHECK_EQ_INT(hi->max_pending_requests, 1024);
    CHECK_EQ_INT(hi->max_retries, 3);
    CHECK(hi->has_retry_budget && hi->retry_budget_percent == 50.0 && hi->retry_budget_min_concurrency == 3);
    CHECK(hi->track_remaining);
    CHECK_EQ_INT(df->max_pending_requests, 7);
    CHECK_EQ_INT(df->max_connections, 1024);
    xg_res_unref(r);
    nack(EDS "circuit_breakers: {per_host_thresholds: [{max_connections: 1}]}\n",
         "circuit_breakers.per_host_thresholds: not supported");
    nack(EDS "circuit_breakers: {thresholds: [{max_connection_pools: 1}]}\n",
         "circuit_breakers.thresholds[0].max_connection_pools: not supported");
}

XG_TEST(outlier_detection)
{
    xg_res *r = cluster(EDS "outlier_detection: {}\n");
    if (CHECK(r != NULL) && CHECK(((const xg_cluster *)r->body)->outlier != NULL)) {
        const xg_outlier *o = ((const xg_cluster *)r->body)->outlier;
        CHECK_EQ_INT(o->consecutive_5xx, 5);
        CHECK_EQ_INT(o->interval_ms, 10000);
        CHECK_EQ_INT(o->base_ejection_time_ms, 30000);
        CHECK_EQ_INT(o->max_ejection_time_ms, 300000);
        CHECK_EQ_INT(o->max_ejection_percent, 10);
        CHECK_EQ_INT(o->enforcing_consecutive_5xx, 100);
        CHECK_EQ_INT(o->enforcing_success_rate, 100);
        CHECK_EQ_INT(o->success_rate_minimum_hosts, 5);
        CHECK_EQ_INT(o->success_rate_request_volume, 100);
        CHECK_EQ_INT(o->success_rate_stdev_factor, 1900);
        CHECK_EQ_INT(o->consecutive_gateway_failure, 5);
        CHECK_EQ_INT(o->enforcing_consecutive_gateway_failure, 0);
        CHECK_EQ_INT(o->consecutive_local_origin_failure, 5);
        CHECK_EQ_INT(o->failure_percentage_threshold, 85);
        CHECK_EQ_INT(o->enforcing_failure_percentage, 0);
        CHECK_EQ_INT(o->failure_percentage_minimum_hosts, 5);
        CHECK_EQ_INT(o->failure_percentage_request_volume, 50);
        CHECK(o->successful_active_health_check_uneject_host);
        CHECK(!o->always_eject_one_host);
        CHECK(!o->split_external_local_origin_errors);
    }
    xg_res_unref(r);
    r = cluster(EDS "outlier_detection: {consecutive_5xx: 3, interval: 1s, base_ejection_time: 5s, "
                    "max_ejection_percent: 50, split_external_local_origin_errors: true}\n");
    if (CHECK(r != NULL)) {
        const xg_outlier *o = ((const xg_cluster *)r->body)->outlier;
        CHECK(o->consecutive_5xx == 3 && o->interval_ms == 1000 && o->base_ejection_time_ms == 5000);
        CHECK(o->max_ejection_percent == 50 && o->split_external_local_origin_errors);
    }
    xg_res_unref(r);
    nack(EDS "outlier_detection: {max_ejection_percent: 101}\n",
         "outlier_detection.max_ejection_percent: must be a percentage 0..100, got 101");
    nack(EDS "outlier_detection: {base_ejection_time: 60s, max_ejection_time: 30s}\n",
         "outlier_detection.max_ejection_time: cannot be smaller than base_ejection_time");
    /* max_ejection_time unset: 300 s, or a longer base_ejection_time (Envoy) */
    r = cluster(EDS "outlier_detection: {base_ejection_time: 600s}\n");
    if (CHECK(r != NULL))
        CHECK_EQ_INT(((const xg_cluster *)r->body)->outlier->max_ejection_time_ms, 600000);
    xg_res_unref(r);
    nack(EDS "outlier_detection: {interval: 0s}\n", "outlier_detection.interval: must be greater than 0");
}

#define HPO_KEY "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
#define HPO(body)                                                                                                      \
    "typed_extension_protocol_options: {" HPO_KEY ": {'@type': type.googleapis.com/" HPO_KEY ", " body "}}\n"

XG_TEST(http_protocol_options)
{
    xg_res *r = cluster(EDS HPO("explicit_http_config: {http2_protocol_options: {max_concurrent_streams: 50, "
                                "initial_stream_window_size: 65536, hpack_table_size: 0}}, "
                                "common_http_protocol_options: {idle_timeout: 30s, max_connection_duration: 600s, "
                                "max_requests_per_connection: 1000, max_headers_count: 50, max_stream_duration: 5s}, "
                                "upstream_http_protocol_options: {auto_sni: true, auto_san_validation: true}"));
    if (!CHECK(r != NULL))
        return;
    const xg_cluster *c = r->body;
    CHECK(c->has_http_protocol_options);
    CHECK_EQ_INT(c->http.protocol, XG_UPSTREAM_HTTP2);
    CHECK_EQ_INT(c->http.h2.max_concurrent_streams, 50);
    CHECK_EQ_INT(c->http.h2.initial_stream_window_size, 65536);
    CHECK_EQ_INT(c->http.h2.initial_connection_window_size, 0);
    CHECK(c->http.h2.has_hpack_table_size && c->http.h2.hpack_table_size == 0);
    CHECK_EQ_INT(c->http.idle_timeout_ms, 30000);
    CHECK_EQ_INT(c->http.max_connection_duration_ms, 600000);
    CHECK_EQ_INT(c->http.max_requests_per_connection, 1000);
    CHECK_EQ_INT(c->http.max_headers_count, 50);
    CHECK_EQ_INT(c->http.max_stream_duration_ms, 5000);
    CHECK(c->http.auto_sni && c->http.auto_san_validation);
    xg_res_unref(r);
    r = cluster(EDS HPO("explicit_http_config: {http_protocol_options: {}}"));
    CHECK(r != NULL && ((const xg_cluster *)r->body)->http.protocol == XG_UPSTREAM_HTTP1);
    xg_res_unref(r);
    r = cluster(EDS HPO("use_downstream_protocol_config: {http2_protocol_options: {}}"));
    CHECK(r != NULL && ((const xg_cluster *)r->body)->http.protocol == XG_UPSTREAM_USE_DOWNSTREAM);
    xg_res_unref(r);
}

XG_TEST(http_protocol_options_nacks)
{
    nack(EDS "typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.Other: {'@type': "
             "type.googleapis.com/" HPO_KEY ", explicit_http_config: {http_protocol_options: {}}}}\n",
         "typed_extension_protocol_options[\"envoy.extensions.upstreams.http.v3.Other\"]: unknown protocol options "
         "\"envoy.extensions.upstreams.http.v3.Other\" (only " HPO_KEY " is supported)");
    nack(EDS "typed_extension_protocol_options: {" HPO_KEY ": {'@type': type.googleapis.com/google.protobuf.Empty}}\n",
         "typed_extension_protocol_options[\"" HPO_KEY "\"]: expected type " HPO_KEY ", got \"google.protobuf.Empty\"");
    nack(EDS HPO("common_http_protocol_options: {idle_timeout: 1s}"),
         "typed_extension_protocol_options[\"" HPO_KEY "\"]: one of explicit_http_config, "
         "use_downstream_protocol_config or auto_config is required");
    nack(EDS HPO("auto_config: {}"), "typed_extension_protocol_options: auto_config selects the protocol by ALPN and "
                                     "needs a TLS transport_socket");
    nack(EDS HPO("explicit_http_config: {http2_protocol_options: {initial_stream_window_size: 100}}"),
         "typed_extension_protocol_options[\"" HPO_KEY "\"].explicit_http_config.http2_protocol_options."
         "initial_stream_window_size: must be 65535..2147483647, got 100");
    nack(EDS HPO("explicit_http_config: {http2_protocol_options: {allow_connect: true}}"),
         "typed_extension_protocol_options[\"" HPO_KEY "\"].explicit_http_config.http2_protocol_options.allow_connect: "
         "not supported upstream");
    nack(EDS HPO("explicit_http_config: {http_protocol_options: {enable_trailers: true}}"),
         "typed_extension_protocol_options[\"" HPO_KEY "\"].explicit_http_config.http_protocol_options."
         "enable_trailers: not supported for upstream HTTP/1.1");
}

XG_TEST(transport_socket)
{
    char *cert, *key;
    make_cert("ca.example", &cert, &key);
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             EDS "transport_socket:\n  name: envoy.transport_sockets.tls\n  typed_config:\n"
                 "    '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n"
                 "    sni: backend.example\n"
                 "    common_tls_context:\n      alpn_protocols: [h2, http/1.1]\n"
                 "      validation_context:\n        trusted_ca: {inline_string: %s}\n"
                 "        match_typed_subject_alt_names: [{san_type: DNS, matcher: {exact: backend.example}}]\n"
                 "      tls_certificate_sds_secret_configs: [{name: client-cert, sds_config: {ads: {}}}]\n" HPO(
                     "auto_config: {}"),
             yq(cert));
    xg_res *r = cluster(yaml);
    if (CHECK(r != NULL)) {
        const xg_cluster *c = r->body;
        if (CHECK(c->tls != NULL)) {
            CHECK(!c->tls->downstream);
            CHECK_STR(c->tls->sni, "backend.example");
            CHECK_EQ_INT(c->tls->n_alpn_protocols, 2);
            CHECK_EQ_INT(c->tls->vc_kind, XG_VC_INLINE);
            CHECK_EQ_INT(c->tls->max_session_keys, 1);
        }
        CHECK_EQ_INT(c->http.protocol, XG_UPSTREAM_AUTO);
        CHECK(has_dep(r, XG_RES_SECRET, "client-cert"));
    }
    xg_res_unref(r);
    r = cluster(EDS "transport_socket: {name: envoy.transport_sockets.raw_buffer}\n");
    CHECK(r != NULL && ((const xg_cluster *)r->body)->tls == NULL);
    xg_res_unref(r);
    nack(EDS "transport_socket: {name: envoy.transport_sockets.alts}\n",
         "transport_socket.name: transport socket \"envoy.transport_sockets.alts\" is not supported "
         "(envoy.transport_sockets.tls and envoy.transport_sockets.raw_buffer are)");
    nack(EDS "transport_socket: {name: tls, typed_config: {'@type': type.googleapis.com/google.protobuf.Empty}}\n",
         "transport_socket.typed_config: transport socket type \"google.protobuf.Empty\" is not supported "
         "(envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext and "
         "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer are)");
    free(cert);
    free(key);
}

/* The deprecated Cluster protocol fields, as go-control-plane users still
 * send them: read as Envoy reads them when HttpProtocolOptions is absent. */
XG_TEST(deprecated_protocol_options)
{
    xg_res *r = cluster(EDS "http2_protocol_options: {max_concurrent_streams: 64, initial_connection_window_size: "
                            "1048576}\ncommon_http_protocol_options: {idle_timeout: 10s, max_headers_count: 80}\n"
                            "upstream_http_protocol_options: {auto_sni: true}\n");
    if (CHECK(r != NULL)) {
        const xg_cluster *c = r->body;
        CHECK(c->has_http_protocol_options);
        CHECK_EQ_INT(c->http.protocol, XG_UPSTREAM_HTTP2);
        CHECK_EQ_INT(c->http.h2.max_concurrent_streams, 64);
        CHECK_EQ_INT(c->http.h2.initial_connection_window_size, 1048576);
        CHECK_EQ_INT(c->http.idle_timeout_ms, 10000);
        CHECK_EQ_INT(c->http.max_headers_count, 80);
        CHECK(c->http.auto_sni && !c->http.auto_san_validation);
    }
    xg_res_unref(r);
    r = cluster(EDS "http2_protocol_options: {}\n");
    CHECK(r != NULL && ((const xg_cluster *)r->body)->http.protocol == XG_UPSTREAM_HTTP2);
    xg_res_unref(r);
    r = cluster(EDS "http_protocol_options: {}\ncommon_http_protocol_options: {max_requests_per_connection: 5}\n");
    if (CHECK(r != NULL)) {
        const xg_cluster *c = r->body;
        CHECK(c->has_http_protocol_options && c->http.protocol == XG_UPSTREAM_HTTP1);
        CHECK_EQ_INT(c->http.max_requests_per_connection, 5);
        CHECK_EQ_INT(c->http.idle_timeout_ms, 3600000);
    }
    xg_res_unref(r);
    r = cluster(EDS "protocol_selection: USE_DOWNSTREAM_PROTOCOL\nhttp_protocol_options: {}\n"
                    "http2_protocol_options: {hpack_table_size: 0}\n");
    if (CHECK(r != NULL)) {
        const xg_cluster *c = r->body;
        CHECK_EQ_INT(c->http.protocol, XG_UPSTREAM_USE_DOWNSTREAM);
        CHECK(c->http.h2.has_hpack_table_size);
    }
    xg_res_unref(r);

    nack(EDS "http_protocol_options: {}\nhttp2_protocol_options: {}\n",
         "http2_protocol_options: both HTTP1 and HTTP2 options may only be configured with non-default "
         "'protocol_selection' values");
    nack(EDS "http2_protocol_options: {}\n" HPO("explicit_http_config: {http2_protocol_options: {}}"),
         "http2_protocol_options: cannot mix the deprecated cluster protocol options with "
         "typed_extension_protocol_options \"" HPO_KEY "\"; move them into the HttpProtocolOptions");
    nack(EDS "protocol_selection: USE_DOWNSTREAM_PROTOCOL\n" HPO("explicit_http_config: {http_protocol_options: {}}"),
         "protocol_selection: cannot mix the deprecated cluster protocol options with "
         "typed_extension_protocol_options \"" HPO_KEY "\"; move them into the HttpProtocolOptions");
    nack(EDS "http2_protocol_options: {allow_connect: true}\n",
         "http2_protocol_options.allow_connect: not supported upstream");
    nack(EDS "http_protocol_options: {accept_http_10: true}\n",
         "http_protocol_options.accept_http_10: not supported for upstream HTTP/1.1");
    nack(EDS "common_http_protocol_options: {headers_with_underscores_action: DROP_HEADER}\n",
         "common_http_protocol_options.headers_with_underscores_action: not supported on clusters (set it in the "
         "HttpConnectionManager)");
}

XG_TEST(transport_socket_matches_nack)
{
    nack(EDS "transport_socket_matches: [{name: m, match: {acceptMTLS: true}, transport_socket: {name: "
             "envoy.transport_sockets.raw_buffer}}]\n",
         "transport_socket_matches: not supported (xdsgate uses the cluster's one transport_socket for every "
         "endpoint)");
}
