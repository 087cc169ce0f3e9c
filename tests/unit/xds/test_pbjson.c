/* Unit tests for the proto3-JSON codec: round trips, well-known types, and
 * the error messages (with field paths) for bad input. */
#include <stdlib.h>
#include <string.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "xds/pb_registry.h"
#include "xds/pbjson.h"
#include "xds/pbjson_int.h"
#include "xg_test.h"

static char err[1024];

/* Parses text as type d and writes it back as JSON (caller frees). */
static char *roundtrip(const ProtobufCMessageDescriptor *d, const char *text, unsigned flags)
{
    ProtobufCMessage *m = NULL;
    err[0] = '\0';
    if (xg_pbjson_parse(d, text, strlen(text), &m, err, sizeof(err)) != 0)
        return NULL;
    xg_buf b;
    xg_buf_init(&b);
    int rc = xg_pbjson_write(m, flags, &b, err, sizeof(err));
    protobuf_c_message_free_unpacked(m, NULL);
    if (rc != 0) {
        xg_buf_dispose(&b);
        return NULL;
    }
    return xg_buf_steal(&b);
}

/* Expects parsing to fail with exactly this message. */
static bool parse_fails(const ProtobufCMessageDescriptor *d, const char *text, const char *want)
{
    ProtobufCMessage *m = NULL;
    int rc = xg_pbjson_parse(d, text, strlen(text), &m, err, sizeof(err));
    CHECK(m == NULL);
    return rc != 0 && CHECK_STR(err, want);
}

#define CLUSTER &envoy__config__cluster__v3__cluster__descriptor
#define LISTENER &envoy__config__listener__v3__listener__descriptor
#define ROUTE_CONFIG &envoy__config__route__v3__route_configuration__descriptor

XG_TEST(cluster_yaml_to_json)
{
    char *j = roundtrip(CLUSTER,
                        "name: web\n"
                        "type: EDS\n"
                        "connect_timeout: 0.25s\n"
                        "lb_policy: RING_HASH\n"
                        "eds_cluster_config: {eds_config: {ads: {}}}\n"
                        "per_connection_buffer_limit_bytes: 32768\n"
                        "circuit_breakers: {thresholds: [{max_connections: 1000, max_requests: 2000}]}\n",
                        0);
    CHECK_STR(j, "{\"name\":\"web\",\"type\":\"EDS\",\"edsClusterConfig\":{\"edsConfig\":{\"ads\":{}}},"
                 "\"connectTimeout\":\"0.250s\",\"perConnectionBufferLimitBytes\":32768,\"lbPolicy\":\"RING_HASH\","
                 "\"circuitBreakers\":{\"thresholds\":[{\"maxConnections\":1000,\"maxRequests\":2000}]}}");
    free(j);
}

XG_TEST(camel_case_input_and_proto_names_output)
{
    char *j = roundtrip(CLUSTER, "{\"name\": \"a\", \"connectTimeout\": \"1s\", \"lbPolicy\": 1}", XG_PBJSON_PROTO_NAMES);
    CHECK_STR(j, "{\"name\":\"a\",\"connect_timeout\":\"1s\",\"lb_policy\":\"LEAST_REQUEST\"}");
    free(j);
}

XG_TEST(any_struct_and_maps)
{
    const char *y = "name: rc\n"
                    "typed_per_filter_config:\n"
                    "  envoy.filters.http.x:\n"
                    "    '@type': type.googleapis.com/google.protobuf.Struct\n"
                    "    value: {a: [1, 'two', null, {b: false}]}\n"
                    "  envoy.filters.http.y:\n"
                    "    '@type': type.googleapis.com/google.protobuf.UInt32Value\n"
                    "    value: 7\n";
    char *j = roundtrip(ROUTE_CONFIG, y, 0);
    CHECK_STR(j, "{\"name\":\"rc\",\"typedPerFilterConfig\":{\"envoy.filters.http.x\":{\"@type\":\"type.googleapis.com/"
                 "google.protobuf.Struct\",\"value\":{\"a\":[1,\"two\",null,{\"b\":false}]}},\"envoy.filters.http.y\":{"
                 "\"@type\":\"type.googleapis.com/google.protobuf.UInt32Value\",\"value\":7}}}");
    free(j);
}

XG_TEST(wrappers_and_64_bit_integers)
{
    char *j = roundtrip(CLUSTER,
                        "name: c\n"
                        "common_lb_config: {healthy_panic_threshold: {value: 25.5}}\n"
                        "max_requests_per_connection: 3\n",
                        0);
    CHECK(j == NULL); /* max_requests_per_connection is deprecated and not in the subset */
    CHECK_STR(err, "max_requests_per_connection: unknown field \"max_requests_per_connection\" in "
                   "envoy.config.cluster.v3.Cluster");
    j = roundtrip(CLUSTER, "name: c\nring_hash_lb_config: {minimum_ring_size: '1024', maximum_ring_size: 8388608}\n", 0);
    CHECK_STR(j, "{\"name\":\"c\",\"ringHashLbConfig\":{\"minimumRingSize\":\"1024\",\"maximumRingSize\":\"8388608\"}}");
    free(j);
}

XG_TEST(errors_name_the_full_path)
{
    const char *y = "name: l\n"
                    "filter_chains:\n"
                    "- filters:\n"
                    "  - name: hcm\n"
                    "    typed_config:\n"
                    "      '@type': type.googleapis.com/"
                    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n"
                    "      route_config:\n"
                    "        virtual_hosts:\n"
                    "        - {name: a, domains: ['*']}\n"
                    "        - {name: b, domains: 'x'}\n";
    parse_fails(LISTENER, y,
                "filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[1].domains: expected array, "
                "got string");
}

XG_TEST(bad_values)
{
    parse_fails(CLUSTER, "connect_timeout: 5", "connect_timeout: expected string, got number");
    parse_fails(CLUSTER, "connect_timeout: 5m", "connect_timeout: invalid duration \"5m\" (want e.g. \"1.5s\")");
    parse_fails(CLUSTER, "lb_policy: FASTEST", "lb_policy: unknown value \"FASTEST\" for enum "
                                               "envoy.config.cluster.v3.Cluster.LbPolicy");
    parse_fails(CLUSTER, "per_connection_buffer_limit_bytes: -1",
                "per_connection_buffer_limit_bytes: expected a non-negative integer, got -1");
    parse_fails(CLUSTER, "name: [1]", "name: expected string, got array");
    parse_fails(CLUSTER, "name: a\nname: b", "line 2: duplicate key");
    parse_fails(CLUSTER, "name: a\nName: b", "Name: unknown field \"Name\" in envoy.config.cluster.v3.Cluster");
    parse_fails(CLUSTER, "{name: a, \"name\": b}", "line 1: duplicate key");
    parse_fails(CLUSTER, "type: STATIC\ncluster_type: {name: x}",
                "cluster_type: only one of a oneof may be set; \"type\" is already set");
    parse_fails(CLUSTER, "connectTimeout: 1s\nconnect_timeout: 2s",
                "connect_timeout: field given twice (as snake_case and camelCase?)");
    parse_fails(CLUSTER, "transport_socket: {typed_config: {'@type': type.googleapis.com/no.Such}}",
                "transport_socket.typed_config: unknown or unsupported type \"type.googleapis.com/no.Such\"");
    parse_fails(CLUSTER, "[", "line 2: did not find expected node content");
    parse_fails(CLUSTER, "a: 1\n---\nb: 2\n", "line 2: more than one document");
    parse_fails(CLUSTER, "- 1", "(root): expected object, got array");
}

XG_TEST(unknown_fields_on_output)
{
    /* name "x" plus field 999 (varint 1): the writer refuses unless asked to skip. */
    const uint8_t wire[] = {0x0a, 0x01, 'x', 0xb8, 0x3e, 0x01};
    ProtobufCMessage *m = protobuf_c_message_unpack(CLUSTER, NULL, sizeof(wire), wire);
    CHECK(m != NULL);
    xg_buf b;
    xg_buf_init(&b);
    CHECK(xg_pbjson_write(m, 0, &b, err, sizeof(err)) != 0);
    CHECK_STR(err, "(root): unknown field number 999 in envoy.config.cluster.v3.Cluster");
    CHECK(xg_pbjson_write(m, XG_PBJSON_SKIP_UNKNOWN, &b, err, sizeof(err)) == 0);
    CHECK_STR(b.data, "{\"name\":\"x\"}");
    xg_buf_dispose(&b);
    protobuf_c_message_free_unpacked(m, NULL);
}

XG_TEST(failure_after_nested_allocations_frees_everything)
{
    /* The third route fails after two have been built: ASan's leak check proves cleanup. */
    parse_fails(ROUTE_CONFIG,
                "virtual_hosts: [{name: a, domains: ['*'], routes: [{match: {prefix: /}}, {match: {path: /x}}, "
                "{match: {prefix: /, path: /y}}]}]",
                "virtual_hosts[0].routes[2].match.path: only one of a oneof may be set; \"prefix\" is already set");
}

XG_TEST(pretty_output)
{
    char *j = roundtrip(CLUSTER, "name: a\nhealth_checks: [{timeout: 1s}]", XG_PBJSON_PRETTY);
    CHECK_STR(j, "{\n  \"name\": \"a\",\n  \"healthChecks\": [\n    {\n      \"timeout\": \"1s\"\n    }\n  ]\n}");
    free(j);
}

XG_TEST(registry_lookup)
{
    CHECK(xg_pb_find_type("type.googleapis.com/envoy.config.listener.v3.Listener") == LISTENER);
    CHECK(xg_pb_find_type("envoy.config.cluster.v3.Cluster") == CLUSTER);
    CHECK(xg_pb_find_type("google.protobuf.Any") == &google__protobuf__any__descriptor);
    CHECK(xg_pb_find_type("type.googleapis.com/envoy.config.listener.v3.Nope") == NULL);
    CHECK(xg_pb_find_type("") == NULL);
}

XG_TEST(path_indexes_of_every_width)
{
    xg__pbpath p = {0};
    xg_buf_init(&p.path);
    size_t root = xg__pbpath_field(&p, "routes");
    size_t mark = xg__pbpath_index(&p, 0);
    CHECK_STR(p.path.data, "routes[0]");
    xg__pbpath_pop(&p, mark);
    xg__pbpath_index(&p, 9999);
    xg__pbpath_field(&p, "match");
    CHECK_STR(p.path.data, "routes[9999].match");
    xg__pbpath_pop(&p, mark);
    xg__pbpath_index(&p, 10);
    CHECK_STR(p.path.data, "routes[10]");
    xg__pbpath_pop(&p, root);
    xg__pbpath_index(&p, SIZE_MAX);
    CHECK_STR(p.path.data, SIZE_MAX == 18446744073709551615ull ? "[18446744073709551615]" : "[4294967295]");
    xg_buf_dispose(&p.path);
}
