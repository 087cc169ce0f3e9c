/* Unit tests for the admin's xDS views (src/admin/config_dump.c, redact.c,
 * json_out.c, xds_view.c): the ConfigDump shape and its JSON, redaction of
 * secrets (also inside Any), escaping, and /xds for a status. */
#include <stdlib.h>
#include <string.h>

#include "admin/config_dump.h"
#include "admin/json_out.h"
#include "admin/redact.h"
#include "admin/xds_view.h"
#include "core/assert.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb-c.h"
#include "xds/pbjson.h"
#include "xds/xds_type.h"
#include "xg_test.h"

static const ProtobufCMessageDescriptor *const descs[XG_XDS_NTYPES] = {
    &envoy__config__listener__v3__listener__descriptor,
    &envoy__config__route__v3__route_configuration__descriptor,
    &envoy__config__cluster__v3__cluster__descriptor,
    &envoy__config__endpoint__v3__cluster_load_assignment__descriptor,
    &envoy__extensions__transport_sockets__tls__v3__secret__descriptor,
};

/* A resource as the xDS client would hold it, from YAML. */
static xg_res *res_yaml(xg_res_type t, const char *name, const char *version, const char *yaml)
{
    char err[256];
    ProtobufCMessage *m = NULL;
    if (xg_pbjson_parse(descs[t], yaml, strlen(yaml), &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "bad yaml: %s\n", err);
        abort();
    }
    xg_res *r = xg_res_new(t, name);
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *raw = xg_arena_alloc(&r->arena, len + 1);
    protobuf_c_message_pack(m, raw);
    protobuf_c_message_free_unpacked(m, NULL);
    r->raw = raw;
    r->raw_len = len;
    r->version = version;
    r->last_updated_ms = 1700000000123;
    return r;
}

static xg_snapshot *snapshot_of(xg_res **res, size_t n)
{
    xg_snap_table *tables[XG_RES_NTYPES] = {NULL};
    for (size_t i = 0; i < n; i++) {
        xg_res_type t = res[i]->type;
        XG_ASSERT(tables[t] == NULL); /* one per type in these tests */
        XG_ASSERT(xg_snap_table_new(t, &res[i], 1, "7", 0, &tables[t]) == 0);
        xg_res_unref(res[i]);
    }
    xg_snapshot *s = NULL;
    XG_ASSERT(xg_snapshot_new(1, tables, &s) == 0);
    for (int t = 0; t < XG_RES_NTYPES; t++)
        xg_snap_table_unref(tables[t]);
    return s;
}

#define KEY_PEM "-----BEGIN PRIVATE KEY-----\\nsecret-bytes\\n-----END PRIVATE KEY-----\\n"

XG_TEST(config_dump_has_envoys_shape_and_redacts_keys)
{
    xg_res *res[] = {
        res_yaml(XG_RES_CLUSTER, "web", "3", "{name: web, type: EDS, eds_cluster_config: {eds_config: {ads: {}}}}"),
        res_yaml(XG_RES_SECRET, "cert", "5",
                 "{name: cert, tls_certificate: {certificate_chain: {inline_string: CHAIN}, private_key: "
                 "{inline_string: \"" KEY_PEM "\"}, password: {inline_bytes: cGFzcw==}}}"),
        res_yaml(XG_RES_LISTENER, "l", "2",
                 "{name: l, filter_chains: [{transport_socket: {name: tls, typed_config: {'@type': "
                 "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, "
                 "common_tls_context: {tls_certificates: [{private_key: {filename: /etc/key.pem}}]}}}}]}"),
    };
    xg_snapshot *s = snapshot_of(res, 3);
    xg_buf out;
    xg_buf_init(&out);
    CHECK_EQ_INT(xg_config_dump(s, NULL, &out), 0);
    const char *j = out.data;
    CHECK(strstr(j, "{\n  \"configs\": [\n    {\n      \"@type\": \"type.googleapis.com/envoy.admin.v3."
                    "ClustersConfigDump\",\n      \"version_info\": \"7\",\n      \"dynamic_active_clusters\": [\n"
                    "        {\n          \"version_info\": \"3\",\n          \"cluster\": {\n            \"@type\": "
                    "\"type.googleapis.com/envoy.config.cluster.v3.Cluster\",\n            \"name\": \"web\",") == j);
    CHECK(strstr(j, "\"last_updated\": \"2023-11-14T22:13:20.123Z\"") != NULL);
    CHECK(strstr(j, "\"eds_cluster_config\"") != NULL); /* proto field names, as Envoy's admin */
    CHECK(strstr(j, "secret-bytes") == NULL);
    CHECK(strstr(j, "\"private_key\": {\n                \"inline_string\": \"[redacted]\"") != NULL);
    CHECK(strstr(j, "\"inline_bytes\": \"W3JlZGFjdGVkXQ==\"") != NULL); /* "[redacted]" as bytes */
    CHECK(strstr(j, "CHAIN") != NULL);                                  /* certificates are not secret */
    CHECK(strstr(j, "/etc/key.pem") == NULL);                           /* inside an Any, too */
    CHECK(strstr(j, "\"filename\": \"[redacted]\"") != NULL);
    CHECK(strstr(j, "\"dynamic_listeners\": [\n        {\n          \"name\": \"l\",\n          \"active_state\"") !=
          NULL);
    CHECK(strstr(j, "\"dynamic_active_secrets\": [\n        {\n          \"name\": \"cert\",\n          "
                    "\"version_info\": \"5\"") != NULL);
    CHECK(strstr(j, "RoutesConfigDump\"\n    },") != NULL); /* an empty type: no list, as proto3 JSON */
    xg_buf_dispose(&out);
    xg_snapshot_unref(s);
}

XG_TEST(config_dump_before_any_config)
{
    xg_buf out;
    xg_buf_init(&out);
    CHECK_EQ_INT(xg_config_dump(NULL, NULL, &out), 0);
    CHECK(strstr(out.data, "ClustersConfigDump") && strstr(out.data, "SecretsConfigDump"));
    CHECK(strstr(out.data, "dynamic") == NULL);
    xg_buf_dispose(&out);
}

XG_TEST(redact_reports_whether_anything_changed)
{
    char err[256];
    ProtobufCMessage *m = NULL;
    const char *y = "{name: s, generic_secret: {secret: {inline_string: hunter2}}}";
    CHECK_EQ_INT(xg_pbjson_parse(descs[XG_RES_SECRET], y, strlen(y), &m, err, sizeof(err)), 0);
    CHECK(xg_redact(m));
    const Envoy__Extensions__TransportSockets__Tls__V3__Secret *s = (const void *)m;
    CHECK_STR(s->generic_secret->secret->inline_string, "[redacted]");
    protobuf_c_message_free_unpacked(m, NULL);
    y = "{name: s, validation_context: {trusted_ca: {inline_string: CA}}}";
    CHECK_EQ_INT(xg_pbjson_parse(descs[XG_RES_SECRET], y, strlen(y), &m, err, sizeof(err)), 0);
    CHECK(!xg_redact(m));
    protobuf_c_message_free_unpacked(m, NULL);
}

XG_TEST(json_writer_escapes_and_reindents)
{
    xg_buf out;
    xg_buf_init(&out);
    xg_jw w;
    xg_jw_init(&w, &out);
    xg_jw_open(&w, '{');
    xg_jw_kstr(&w, "s", "a\"b\\c\n\x01\xff\xc3\xa9");
    xg_jw_key(&w, "raw");
    xg_jw_raw(&w, "{\n  \"x\": 1\n}", 12);
    xg_jw_key(&w, "empty");
    xg_jw_open(&w, '[');
    xg_jw_close(&w, ']');
    xg_jw_close(&w, '}');
    CHECK_EQ_INT(xg_jw_finish(&w), 0);
    CHECK_STR(out.data, "{\n  \"s\": \"a\\\"b\\\\c\\u000a\\u0001\\ufffd\xc3\xa9\",\n  \"raw\": {\n    \"x\": 1\n  },\n"
                        "  \"empty\": []\n}\n");
    xg_buf_dispose(&out);
}

XG_TEST(xds_view_without_and_with_a_status)
{
    xg_buf out;
    xg_buf_init(&out);
    CHECK_EQ_INT(xg_xds_view(NULL, 0, &out), 0);
    CHECK(strstr(out.data, "no --xds-server given") != NULL);
    xg_buf_reset(&out);
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_xds_status *st = xg_arena_alloc(&a, sizeof(*st));
    st->server = "cp:1";
    st->mode = "delta";
    st->conn = XG_ADS_BACKOFF;
    st->conn_detail = "connection refused";
    st->conn_since_ms = 1700000000000;
    st->generation = 4;
    static const char *const subs[] = {"r1"};
    st->types[XG_XDS_RDS].subscribed = subs;
    st->types[XG_XDS_RDS].n_subscribed = 1;
    st->types[XG_XDS_RDS].missing = subs;
    st->types[XG_XDS_RDS].n_missing = 1;
    st->types[XG_XDS_LDS].wildcard = true;
    st->types[XG_XDS_LDS].nack_version = "9";
    st->types[XG_XDS_LDS].nack_message = "Listener \"x\": bad";
    st->types[XG_XDS_LDS].nack_ms = 1700000001000;
    st->arena = a;
    CHECK_EQ_INT(xg_xds_view(st, 1700000012345, &out), 0);
    const char *j = out.data;
    CHECK(strstr(j, "\"state\": \"backoff\",\n    \"since\": \"2023-11-14T22:13:20Z\",\n    \"seconds_in_state\": "
                    "12.3,\n    \"detail\": \"connection refused\"") != NULL);
    CHECK(strstr(j, "\"generation\": 4") != NULL);
    CHECK(strstr(j, "\"subscription\": \"wildcard\"") != NULL);
    CHECK(strstr(j, "\"last_nack\": {\n        \"version\": \"9\",\n        \"at\": \"2023-11-14T22:13:21Z\",\n"
                    "        \"message\": \"Listener \\\"x\\\": bad\"\n      }") != NULL);
    CHECK(strstr(j, "\"missing\": [\n        \"r1\"\n      ]") != NULL);
    xg_xds_status_free(st);
    xg_buf_dispose(&out);
}
