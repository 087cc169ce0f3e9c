/* A Cluster's typed_extension_protocol_options: only
 * envoy.extensions.upstreams.http.v3.HttpProtocolOptions (which HTTP version
 * to speak upstream, connection limits and timeouts, auto SNI / SAN), with
 * Envoy's defaults. Any other key is a NACK, as are HTTP/1 and HTTP/2 knobs
 * that xdsgate's upstream codecs do not implement. The deprecated Cluster
 * fields (http_protocol_options, http2_protocol_options,
 * common_http_protocol_options, upstream_http_protocol_options,
 * protocol_selection) are translated into the same struct, as Envoy does. */
#include <string.h>

#include "core/error.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb-c.h"
#include "xds/xlate_ces.h"

typedef Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions pb_hpo;
typedef Envoy__Config__Core__V3__Http1ProtocolOptions pb_h1;
typedef Envoy__Config__Core__V3__Http2ProtocolOptions pb_h2;
#define HPO(c) ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__##c
#define USE_DOWNSTREAM ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_PROTOCOL_SELECTION__USE_DOWNSTREAM_PROTOCOL

#define HPO_KEY "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
#define H2_WINDOW_MAX 2147483647u

/* Upstream HTTP/1.1 takes the defaults only. */
static int h1_options(xg_xlate *x, const char *field, const pb_h1 *pb)
{
    if (pb == NULL)
        return 0;
    const char *bad = pb->allow_absolute_url            ? "allow_absolute_url"
                      : pb->accept_http_10              ? "accept_http_10"
                      : pb->default_host_for_http_10[0] ? "default_host_for_http_10"
                      : pb->header_key_format           ? "header_key_format"
                      : pb->enable_trailers             ? "enable_trailers"
                      : pb->allow_chunked_length        ? "allow_chunked_length"
                      : pb->override_stream_error_on_invalid_http_message
                          ? "override_stream_error_on_invalid_http_message"
                      : pb->send_fully_qualified_url ? "send_fully_qualified_url"
                                                     : NULL;
    if (bad == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, field);
    int rc = xg__ces_fail_at(x, bad, "not supported for upstream HTTP/1.1");
    xg_xlate_pop(x, mark);
    return rc;
}

static int h2_window(xg_xlate *x, const char *field, const Google__Protobuf__UInt32Value *v, uint32_t *out)
{
    *out = xg__ces_u32(v, 0);
    if (v != NULL && (v->value < 65535 || v->value > H2_WINDOW_MAX))
        return xg__ces_fail_at(x, field, "must be 65535..2147483647, got %u", v->value);
    return 0;
}

static int h2_unsupported(xg_xlate *x, const pb_h2 *pb)
{
    if (pb->allow_connect)
        return xg__ces_fail_at(x, "allow_connect", "not supported upstream");
    if (pb->allow_metadata)
        return xg__ces_fail_at(x, "allow_metadata", "not supported");
    if (pb->override_stream_error_on_invalid_http_message != NULL)
        return xg__ces_fail_at(x, "override_stream_error_on_invalid_http_message", "not supported upstream");
    if (pb->stream_error_on_invalid_http_messaging)
        return xg__ces_fail_at(x, "stream_error_on_invalid_http_messaging", "not supported upstream");
    if (pb->n_custom_settings_parameters > 0)
        return xg__ces_fail_at(x, "custom_settings_parameters", "not supported");
    if (pb->connection_keepalive != NULL)
        return xg__ces_fail_at(x, "connection_keepalive", "not supported");
    if (pb->max_concurrent_streams != NULL &&
        (pb->max_concurrent_streams->value == 0 || pb->max_concurrent_streams->value > H2_WINDOW_MAX))
        return xg__ces_fail_at(x, "max_concurrent_streams", "must be 1..2147483647");
    if (pb->max_outbound_frames != NULL && pb->max_outbound_frames->value == 0)
        return xg__ces_fail_at(x, "max_outbound_frames", "must be at least 1");
    if (pb->max_outbound_control_frames != NULL && pb->max_outbound_control_frames->value == 0)
        return xg__ces_fail_at(x, "max_outbound_control_frames", "must be at least 1");
    return 0;
}

static int h2_options(xg_xlate *x, const char *field, const pb_h2 *pb, xg_h2_options *out)
{
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, field);
    int rc = h2_unsupported(x, pb);
    if (rc == 0)
        rc = h2_window(x, "initial_stream_window_size", pb->initial_stream_window_size,
                       &out->initial_stream_window_size);
    if (rc == 0)
        rc = h2_window(x, "initial_connection_window_size", pb->initial_connection_window_size,
                       &out->initial_connection_window_size);
    out->has_hpack_table_size = pb->hpack_table_size != NULL;
    out->hpack_table_size = xg__ces_u32(pb->hpack_table_size, 4096);
    out->max_concurrent_streams = xg__ces_u32(pb->max_concurrent_streams, 0);
    out->max_outbound_frames = xg__ces_u32(pb->max_outbound_frames, 0);
    out->max_outbound_control_frames = xg__ces_u32(pb->max_outbound_control_frames, 0);
    out->max_consecutive_inbound_frames_with_empty_payload =
        xg__ces_u32(pb->max_consecutive_inbound_frames_with_empty_payload, 0);
    out->max_inbound_priority_frames_per_stream = xg__ces_u32(pb->max_inbound_priority_frames_per_stream, 0);
    out->max_inbound_window_update_frames_per_data_frame_sent =
        xg__ces_u32(pb->max_inbound_window_update_frames_per_data_frame_sent, 0);
    xg_xlate_pop(x, mark);
    return rc;
}

/* explicit_http_config / use_downstream_protocol_config / auto_config. */
static int protocol(xg_xlate *x, const pb_hpo *pb, xg_http_protocol_options *out)
{
    size_t mark;
    int rc;
    switch (pb->upstream_protocol_options_case) {
    case HPO(UPSTREAM_PROTOCOL_OPTIONS_EXPLICIT_HTTP_CONFIG): {
        const Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions__ExplicitHttpConfig *e =
            pb->explicit_http_config;
        mark = xg_xlate_push(x, "explicit_http_config");
        if (e->protocol_config_case == HPO(EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP_PROTOCOL_OPTIONS)) {
            out->protocol = XG_UPSTREAM_HTTP1;
            rc = h1_options(x, "http_protocol_options", e->http_protocol_options);
        } else if (e->protocol_config_case == HPO(EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP2_PROTOCOL_OPTIONS)) {
            out->protocol = XG_UPSTREAM_HTTP2;
            rc = h2_options(x, "http2_protocol_options", e->http2_protocol_options, &out->h2);
        } else {
            rc = xg_xlate_fail(x, "one of http_protocol_options or http2_protocol_options is required");
        }
        break;
    }
    case HPO(UPSTREAM_PROTOCOL_OPTIONS_USE_DOWNSTREAM_PROTOCOL_CONFIG):
        out->protocol = XG_UPSTREAM_USE_DOWNSTREAM;
        mark = xg_xlate_push(x, "use_downstream_protocol_config");
        rc = h1_options(x, "http_protocol_options", pb->use_downstream_protocol_config->http_protocol_options);
        if (rc == 0)
            rc = h2_options(x, "http2_protocol_options", pb->use_downstream_protocol_config->http2_protocol_options,
                            &out->h2);
        break;
    case HPO(UPSTREAM_PROTOCOL_OPTIONS_AUTO_CONFIG):
        out->protocol = XG_UPSTREAM_AUTO;
        mark = xg_xlate_push(x, "auto_config");
        rc = h1_options(x, "http_protocol_options", pb->auto_config->http_protocol_options);
        if (rc == 0)
            rc = h2_options(x, "http2_protocol_options", pb->auto_config->http2_protocol_options, &out->h2);
        break;
    default:
        return xg_xlate_fail(x, "one of explicit_http_config, use_downstream_protocol_config or auto_config is "
                                "required");
    }
    xg_xlate_pop(x, mark);
    return rc;
}

static int common_options(xg_xlate *x, const Envoy__Config__Core__V3__HttpProtocolOptions *pb,
                          xg_http_protocol_options *out)
{
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "common_http_protocol_options");
    int rc = xg__ces_duration(x, "idle_timeout", pb->idle_timeout, out->idle_timeout_ms, XG__DUR_NONNEG,
                              &out->idle_timeout_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "max_connection_duration", pb->max_connection_duration, 0, XG__DUR_NONNEG,
                              &out->max_connection_duration_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "max_stream_duration", pb->max_stream_duration, 0, XG__DUR_NONNEG,
                              &out->max_stream_duration_ms);
    out->max_headers_count = xg__ces_u32(pb->max_headers_count, 100);
    if (rc == 0 && out->max_headers_count == 0)
        rc = xg__ces_fail_at(x, "max_headers_count", "must be at least 1");
    if (rc == 0 && pb->headers_with_underscores_action !=
                       ENVOY__CONFIG__CORE__V3__HTTP_PROTOCOL_OPTIONS__HEADERS_WITH_UNDERSCORES_ACTION__ALLOW)
        rc = xg__ces_fail_at(x, "headers_with_underscores_action",
                             "not supported on clusters (set it in the HttpConnectionManager)");
    out->max_requests_per_connection = xg__ces_u32(pb->max_requests_per_connection, 0);
    xg_xlate_pop(x, mark);
    return rc;
}

static int upstream_options(xg_xlate *x, const Envoy__Config__Core__V3__UpstreamHttpProtocolOptions *pb,
                            xg_http_protocol_options *out)
{
    if (pb == NULL)
        return 0;
    out->auto_sni = pb->auto_sni;
    out->auto_san_validation = pb->auto_san_validation;
    if (pb->override_auto_sni_header[0] == '\0')
        return 0;
    return (out->override_auto_sni_header = xg_xlate_strdup(x, pb->override_auto_sni_header)) ? 0 : XG_ENOMEM;
}

static int http_protocol_options(xg_xlate *x, const Google__Protobuf__Any *any, xg_cluster *c)
{
    ProtobufCMessage *m = NULL;
    int rc = xg__ces_any_unpack(x, NULL, any,
                                &envoy__extensions__upstreams__http__v3__http_protocol_options__descriptor, &m);
    const pb_hpo *pb = (const pb_hpo *)m;
    if (rc == 0)
        rc = protocol(x, pb, &c->http);
    if (rc == 0)
        rc = common_options(x, pb->common_http_protocol_options, &c->http);
    if (rc == 0)
        rc = upstream_options(x, pb->upstream_http_protocol_options, &c->http);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    c->has_http_protocol_options = rc == 0;
    return rc;
}

/* The first deprecated protocol field the cluster sets, or NULL. */
static const char *legacy_field(const Envoy__Config__Cluster__V3__Cluster *pb)
{
    return pb->http_protocol_options            ? "http_protocol_options"
           : pb->http2_protocol_options         ? "http2_protocol_options"
           : pb->common_http_protocol_options   ? "common_http_protocol_options"
           : pb->upstream_http_protocol_options ? "upstream_http_protocol_options"
           : pb->protocol_selection != 0        ? "protocol_selection"
                                                : NULL;
}

/* Envoy's reading of the deprecated fields: http2_protocol_options present
 * means HTTP/2 (explicit_http_config.http2_protocol_options),
 * USE_DOWNSTREAM_PROTOCOL means use_downstream_protocol_config, else
 * HTTP/1.1; the options themselves have the same limits as in
 * HttpProtocolOptions. */
static int legacy_options(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster *pb, xg_cluster *c)
{
    if ((unsigned)pb->protocol_selection > USE_DOWNSTREAM)
        return xg__ces_fail_at(x, "protocol_selection", "unknown value %d", (int)pb->protocol_selection);
    bool downstream = pb->protocol_selection == USE_DOWNSTREAM;
    if (!downstream && pb->http_protocol_options != NULL && pb->http2_protocol_options != NULL)
        return xg__ces_fail_at(x, "http2_protocol_options",
                               "both HTTP1 and HTTP2 options may only be configured with non-default "
                               "'protocol_selection' values");
    c->http.protocol = downstream                           ? XG_UPSTREAM_USE_DOWNSTREAM
                       : pb->http2_protocol_options != NULL ? XG_UPSTREAM_HTTP2
                                                            : XG_UPSTREAM_HTTP1;
    int rc = h1_options(x, "http_protocol_options", pb->http_protocol_options);
    if (rc == 0)
        rc = h2_options(x, "http2_protocol_options", pb->http2_protocol_options, &c->http.h2);
    if (rc == 0)
        rc = common_options(x, pb->common_http_protocol_options, &c->http);
    if (rc == 0)
        rc = upstream_options(x, pb->upstream_http_protocol_options, &c->http);
    c->has_http_protocol_options = rc == 0;
    return rc;
}

int xg__xlate_protocol_options(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster *pb, xg_cluster *c)
{
    c->http =
        (xg_http_protocol_options){.protocol = XG_UPSTREAM_HTTP1, .idle_timeout_ms = 3600000, .max_headers_count = 100};
    int rc = 0;
    size_t mark = xg_xlate_push(x, "typed_extension_protocol_options");
    for (size_t i = 0; rc == 0 && i < pb->n_typed_extension_protocol_options; i++) {
        const Envoy__Config__Cluster__V3__Cluster__TypedExtensionProtocolOptionsEntry *e =
            pb->typed_extension_protocol_options[i];
        size_t m = xg__pbpath_key(&x->path, e->key);
        if (strcmp(e->key, HPO_KEY) != 0)
            rc = xg_xlate_fail(x, "unknown protocol options \"%s\" (only %s is supported)", e->key, HPO_KEY);
        else
            rc = http_protocol_options(x, e->value, c);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    const char *legacy = legacy_field(pb);
    if (rc != 0 || legacy == NULL)
        return rc;
    /* Envoy silently ignores the deprecated fields next to an
     * HttpProtocolOptions; xdsgate never drops configuration silently. */
    if (c->has_http_protocol_options)
        return xg__ces_fail_at(
            x, legacy,
            "cannot mix the deprecated cluster protocol options with typed_extension_protocol_options "
            "\"%s\"; move them into the HttpProtocolOptions",
            HPO_KEY);
    return legacy_options(x, pb, c);
}
