/* Unit tests for the unknown-field walker, including fields inside Any payloads. */
#include <stdlib.h>
#include <string.h>

#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "xds/pb_unknown.h"
#include "xds/pbjson.h"
#include "xg_test.h"

#define LISTENER &envoy__config__listener__v3__listener__descriptor

/* Decodes YAML as a Listener with the JSON codec; NULL (and a message) on error. */
static ProtobufCMessage *parse(const char *yaml)
{
    char err[512];
    ProtobufCMessage *m = NULL;
    if (xg_pbjson_parse(LISTENER, yaml, strlen(yaml), &m, err, sizeof(err)) != 0)
        fprintf(stderr, "parse: %s\n", err);
    return m;
}

static ProtobufCMessage *with_extra_bytes(ProtobufCMessage *m, const uint8_t *extra, size_t n)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len + n);
    protobuf_c_message_pack(m, buf);
    memcpy(buf + len, extra, n);
    ProtobufCMessage *out = protobuf_c_message_unpack(m->descriptor, NULL, len + n, buf);
    free(buf);
    protobuf_c_message_free_unpacked(m, NULL);
    return out;
}

XG_TEST(clean_message_has_none)
{
    ProtobufCMessage *m = parse("name: l\naddress: {socket_address: {address: 127.0.0.1, port_value: 80}}");
    if (!CHECK(m != NULL))
        return;
    CHECK_EQ_INT(xg_pb_find_unknown(m, NULL, NULL), 0);
    protobuf_c_message_free_unpacked(m, NULL);
}

XG_TEST(top_level_unknown_field)
{
    const uint8_t extra[] = {0xb8, 0x3e, 0x05}; /* field 999, varint 5 */
    ProtobufCMessage *m = with_extra_bytes(parse("name: l"), extra, sizeof(extra));
    if (!CHECK(m != NULL))
        return;
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg_pb_first_unknown(m, &b), 1);
    CHECK_STR(b.data, "unknown field number 999 in envoy.config.listener.v3.Listener");
    xg_buf_dispose(&b);
    protobuf_c_message_free_unpacked(m, NULL);
}

XG_TEST(unknown_field_inside_an_any)
{
    /* A Router config whose bytes carry field 77: build the Any by hand. */
    const char *yaml = "name: l\n"
                       "filter_chains:\n"
                       "- filters:\n"
                       "  - name: hcm\n"
                       "    typed_config:\n"
                       "      '@type': type.googleapis.com/"
                       "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n"
                       "      stat_prefix: x\n"
                       "      http_filters:\n"
                       "      - name: envoy.filters.http.router\n"
                       "        typed_config: {'@type': type.googleapis.com/google.protobuf.Struct, value: {}}\n";
    Envoy__Config__Listener__V3__Listener *l = (Envoy__Config__Listener__V3__Listener *)parse(yaml);
    if (!CHECK(l != NULL))
        return;
    /* Re-point the inner Any at Router with bytes holding field 77 (varint 1). */
    Google__Protobuf__Any *hcm_any = l->filter_chains[0]->filters[0]->typed_config;
    ProtobufCMessage *hcm = protobuf_c_message_unpack(
        &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor, NULL,
        hcm_any->value.len, hcm_any->value.data);
    Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager *h = (void *)hcm;
    Google__Protobuf__Any *router = h->http_filters[0]->typed_config;
    free(router->type_url);
    router->type_url = strdup("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
    free(router->value.data);
    router->value.data = malloc(3);
    memcpy(router->value.data, "\xe8\x04\x01", 3); /* tag (77 << 3 | 0) as varint, value 1 */
    router->value.len = 3;
    free(hcm_any->value.data);
    hcm_any->value.len = protobuf_c_message_get_packed_size(hcm);
    hcm_any->value.data = malloc(hcm_any->value.len);
    protobuf_c_message_pack(hcm, hcm_any->value.data);
    protobuf_c_message_free_unpacked(hcm, NULL);

    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg_pb_first_unknown(&l->base, &b), 1);
    CHECK_STR(b.data, "filter_chains[0].filters[0].typed_config.http_filters[0].typed_config: unknown field number 77 "
                      "in envoy.extensions.filters.http.router.v3.Router");
    xg_buf_dispose(&b);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void collect(void *ctx, const char *path, const char *message_name, uint32_t field_number)
{
    xg_buf *out = ctx;
    xg_buf_printf(out, "%s|%s|%u;", path, message_name, field_number);
}

XG_TEST(every_unknown_field_with_its_own_path)
{
    /* Unknown fields in the second of two repeated elements, in a sibling
     * message after it, and at the root: each reported with its own path
     * (the walker keeps the path as steps and spells it only for a report). */
    Envoy__Config__Listener__V3__Listener *l = (Envoy__Config__Listener__V3__Listener *)parse(
        "name: l\n"
        "address: {socket_address: {address: 127.0.0.1, port_value: 80}}\n"
        "filter_chains:\n"
        "- {name: a}\n"
        "- {name: b}\n"
        "default_filter_chain: {name: d}\n");
    if (!CHECK(l != NULL) || !CHECK(l->n_filter_chains == 2))
        return;
    const uint8_t f900[] = {0xa0, 0x38, 0x01}, f901[] = {0xa8, 0x38, 0x01}, f999[] = {0xb8, 0x3e, 0x05};
    l->filter_chains[1] = (void *)with_extra_bytes(&l->filter_chains[1]->base, f900, sizeof(f900));
    l->default_filter_chain = (void *)with_extra_bytes(&l->default_filter_chain->base, f901, sizeof(f901));
    ProtobufCMessage *m = with_extra_bytes(&l->base, f999, sizeof(f999));
    if (!CHECK(m != NULL))
        return;
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg_pb_find_unknown(m, collect, &b), 3);
    CHECK(strstr(b.data, "|envoy.config.listener.v3.Listener|999;") == b.data);
    CHECK(strstr(b.data, ";filter_chains[1]|envoy.config.listener.v3.FilterChain|900;") != NULL);
    CHECK(strstr(b.data, ";default_filter_chain|envoy.config.listener.v3.FilterChain|901;") != NULL);
    CHECK_EQ_INT(xg_pb_find_unknown(m, NULL, NULL), 3);
    xg_buf_dispose(&b);
    protobuf_c_message_free_unpacked(m, NULL);
}
