/* HttpConnectionManager translation: codec, limits, timeouts, forwarding and
 * request-id headers, path handling, upgrades and protocol options, with every
 * default resolved (docs/xds-fields.md lists them; edge-safe values where
 * Envoy's defaults are not). Route source and HTTP filters: xlate_hcm_filters.c. */
#include <string.h>

#include "config/hcm.h"
#include "core/error.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "xds/xlate_int.h"

typedef Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager pb_hcm;
typedef Envoy__Config__Core__V3__Http2ProtocolOptions pb_h2;
typedef Envoy__Config__Core__V3__Http1ProtocolOptions pb_h1;

/* --- enums and small fields --- */

static int hcm_enums(xg_xlate *x, const pb_hcm *pb, xg_hcm *out)
{
    if (pb->codec_type == 3)
        return xg__fail_at(x, "codec_type", "HTTP3 is not supported");
    if ((unsigned)pb->codec_type > 2)
        return xg__fail_at(x, "codec_type", "unknown value %d", (int)pb->codec_type);
    if ((unsigned)pb->server_header_transformation > 2)
        return xg__fail_at(x, "server_header_transformation", "unknown value %d",
                           (int)pb->server_header_transformation);
    if ((unsigned)pb->forward_client_cert_details > 4)
        return xg__fail_at(x, "forward_client_cert_details", "unknown value %d", (int)pb->forward_client_cert_details);
    if ((unsigned)pb->path_with_escaped_slashes_action > 4)
        return xg__fail_at(x, "path_with_escaped_slashes_action", "unknown value %d",
                           (int)pb->path_with_escaped_slashes_action);
    out->codec = (xg_codec_type)pb->codec_type;
    out->server_header = (xg_server_header)pb->server_header_transformation;
    out->forward_client_cert = (xg_fcc)pb->forward_client_cert_details;
    /* IMPLEMENTATION_SPECIFIC_DEFAULT (0) is KEEP_UNCHANGED in Envoy. */
    out->escaped_slashes = pb->path_with_escaped_slashes_action == 0
                               ? XG_ESCAPED_SLASHES_KEEP_UNCHANGED
                               : (xg_escaped_slashes)(pb->path_with_escaped_slashes_action - 1);
    return 0;
}

static int header_value_field(xg_xlate *x, const char *field, const char *v, const char *def, const char **out)
{
    if (!xg__valid_header_value(v, strlen(v)))
        return xg__fail_at(x, field, "must not contain CR, LF or NUL");
    *out = xg_xlate_strdup(x, v[0] ? v : def);
    return *out ? 0 : XG_ENOMEM;
}

static int hcm_strings(xg_xlate *x, const pb_hcm *pb, xg_hcm *out)
{
    if (pb->stat_prefix[0] == '\0')
        return xg__fail_at(x, "stat_prefix", "must not be empty");
    if ((out->stat_prefix = xg_xlate_strdup(x, pb->stat_prefix)) == NULL)
        return XG_ENOMEM;
    int rc = header_value_field(x, "via", pb->via, "", &out->via);
    if (rc == 0)
        rc = header_value_field(x, "server_name", pb->server_name, "xdsgate", &out->server_name);
    const Envoy__Config__Core__V3__SchemeHeaderTransformation *st = pb->scheme_header_transformation;
    if (rc < 0 || st == NULL)
        return rc;
    out->scheme_match_upstream = st->match_upstream;
    if (st->transformation_case == 0 || st->scheme_to_overwrite[0] == '\0')
        return 0;
    if (strcmp(st->scheme_to_overwrite, "http") != 0 && strcmp(st->scheme_to_overwrite, "https") != 0)
        return xg__fail_at(x, "scheme_header_transformation.scheme_to_overwrite",
                           "must be \"http\" or \"https\", not "
                           "\"%s\"",
                           st->scheme_to_overwrite);
    out->scheme_to_overwrite = strcmp(st->scheme_to_overwrite, "http") == 0 ? "http" : "https";
    return 0;
}

static void hcm_flags(const pb_hcm *pb, xg_hcm *out)
{
    out->add_user_agent = xg__bool_or(pb->add_user_agent, false);
    /* Edge-safe default (Envoy's is false): without it a client's own
     * x-forwarded-for decides whether it is "internal". A deployment behind
     * another proxy sets use_remote_address: false explicitly. */
    out->use_remote_address = xg__bool_or(pb->use_remote_address, true);
    out->xff_num_trusted_hops = pb->xff_num_trusted_hops;
    out->skip_xff_append = pb->skip_xff_append;
    out->generate_request_id = xg__bool_or(pb->generate_request_id, true);
    out->preserve_external_request_id = pb->preserve_external_request_id;
    out->always_set_request_id_in_response = pb->always_set_request_id_in_response;
    out->proxy_100_continue = pb->proxy_100_continue;
    out->represent_ipv4_remote_address_as_ipv4_mapped_ipv6 = pb->represent_ipv4_remote_address_as_ipv4_mapped_ipv6;
    out->normalize_path = xg__bool_or(pb->normalize_path, true); /* edge default; Envoy's is false */
    out->merge_slashes = pb->merge_slashes;
    out->strip_matching_host_port = pb->strip_matching_host_port;
    out->strip_any_host_port = pb->strip_port_mode_case != 0 && pb->strip_any_host_port;
    out->stream_error_on_invalid_http_message = xg__bool_or(pb->stream_error_on_invalid_http_message, false);
    out->strip_trailing_host_dot = pb->strip_trailing_host_dot;
    out->append_x_forwarded_port = pb->append_x_forwarded_port;
    out->append_local_overload = pb->append_local_overload;
    out->add_proxy_protocol_connection_state = xg__bool_or(pb->add_proxy_protocol_connection_state, true);
    const Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager__SetCurrentClientCertDetails
        *cc = pb->set_current_client_cert_details;
    if (cc != NULL) {
        out->set_cc_subject = xg__bool_or(cc->subject, false);
        out->set_cc_cert = cc->cert;
        out->set_cc_chain = cc->chain;
        out->set_cc_dns = cc->dns;
        out->set_cc_uri = cc->uri;
    }
}

/* --- internal addresses --- */

/* Envoy's long-standing default for "internal" clients when
 * internal_address_config is not set: RFC 1918, loopback, unique-local v6. */
static int default_internal(xg_xlate *x, xg_hcm *out)
{
    static const struct {
        const char *prefix;
        unsigned len;
    } ranges[] = {{"10.0.0.0", 8},  {"172.16.0.0", 12}, {"192.168.0.0", 16},
                  {"127.0.0.0", 8}, {"fc00::", 7},      {"::1", 128}};
    size_t n = sizeof(ranges) / sizeof(ranges[0]);
    xg_cidr *v = xg_arena_calloc(&x->res->arena, n, sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Google__Protobuf__UInt32Value len = GOOGLE__PROTOBUF__UINT32_VALUE__INIT;
        Envoy__Config__Core__V3__CidrRange c = ENVOY__CONFIG__CORE__V3__CIDR_RANGE__INIT;
        len.value = ranges[i].len;
        c.address_prefix = (char *)ranges[i].prefix;
        c.prefix_len = &len;
        int rc = xg__xlate_cidr(x, &c, &v[i]);
        if (rc < 0)
            return rc;
    }
    out->internal_ranges = v;
    out->n_internal_ranges = n;
    return 0;
}

static int internal_addresses(xg_xlate *x, const pb_hcm *pb, xg_hcm *out)
{
    const Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager__InternalAddressConfig
        *iac = pb->internal_address_config;
    if (iac == NULL)
        return default_internal(x, out);
    out->internal_unix_sockets = iac->unix_sockets;
    size_t mark = xg_xlate_push(x, "internal_address_config");
    int rc = xg__xlate_cidrs(x, "cidr_ranges", iac->cidr_ranges, iac->n_cidr_ranges, &out->internal_ranges,
                             &out->n_internal_ranges);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* --- limits and timeouts --- */

static int common_options(xg_xlate *x, const Envoy__Config__Core__V3__HttpProtocolOptions *pb, xg_hcm *out)
{
    static const Envoy__Config__Core__V3__HttpProtocolOptions empty =
        ENVOY__CONFIG__CORE__V3__HTTP_PROTOCOL_OPTIONS__INIT;
    if (pb == NULL)
        pb = &empty;
    size_t mark = xg_xlate_push(x, "common_http_protocol_options");
    if ((unsigned)pb->headers_with_underscores_action > 2)
        return xg__fail_at(x, "headers_with_underscores_action", "unknown value %d",
                           (int)pb->headers_with_underscores_action);
    out->headers_with_underscores = (xg_underscores)pb->headers_with_underscores_action;
    out->max_headers_count = xg__u32_or(pb->max_headers_count, 100);
    if (out->max_headers_count == 0)
        return xg__fail_at(x, "max_headers_count", "must be at least 1");
    out->max_requests_per_connection = xg__u32_or(pb->max_requests_per_connection, 0);
    int rc = xg__xlate_duration_ms(x, "idle_timeout", pb->idle_timeout, 3600000, &out->idle_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "max_connection_duration", pb->max_connection_duration, 0,
                                   &out->max_connection_duration_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "max_stream_duration", pb->max_stream_duration, 0, &out->max_stream_duration_ms);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

static int hcm_timeouts(xg_xlate *x, const pb_hcm *pb, xg_hcm *out)
{
    out->max_request_headers_kb = xg__u32_or(pb->max_request_headers_kb, 60);
    if (out->max_request_headers_kb == 0 || out->max_request_headers_kb > 8192)
        return xg__fail_at(x, "max_request_headers_kb", "%u is not in 1-8192", out->max_request_headers_kb);
    int rc =
        xg__xlate_duration_ms(x, "stream_idle_timeout", pb->stream_idle_timeout, 300000, &out->stream_idle_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "request_timeout", pb->request_timeout, 0, &out->request_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "request_headers_timeout", pb->request_headers_timeout, 10000,
                                   &out->request_headers_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "drain_timeout", pb->drain_timeout, 5000, &out->drain_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "delayed_close_timeout", pb->delayed_close_timeout, 1000,
                                   &out->delayed_close_timeout_ms);
    return rc;
}

/* --- HTTP/1.1 and HTTP/2 options --- */

static xg_tristate tri(const Google__Protobuf__BoolValue *v)
{
    return v == NULL ? XG_UNSET : v->value ? XG_TRUE : XG_FALSE;
}

static int h1_options(xg_xlate *x, const pb_h1 *pb, xg_h1_options *out)
{
    out->allow_absolute_url = true;
    out->default_host_for_http_10 = "";
    out->override_stream_error_on_invalid_http_message = XG_UNSET;
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "http_protocol_options");
    out->allow_absolute_url = xg__bool_or(pb->allow_absolute_url, true);
    out->accept_http_10 = pb->accept_http_10;
    out->enable_trailers = pb->enable_trailers;
    out->allow_chunked_length = pb->allow_chunked_length;
    out->override_stream_error_on_invalid_http_message = tri(pb->override_stream_error_on_invalid_http_message);
    /* send_fully_qualified_url concerns upstream requests only: no effect here. */
    if (pb->header_key_format != NULL) {
        if (pb->header_key_format->header_format_case ==
            ENVOY__CONFIG__CORE__V3__HTTP1_PROTOCOL_OPTIONS__HEADER_KEY_FORMAT__HEADER_FORMAT_STATEFUL_FORMATTER)
            return xg__fail_at(x, "header_key_format.stateful_formatter", "not supported");
        out->proper_case_headers = pb->header_key_format->header_format_case != 0;
    }
    int rc = header_value_field(x, "default_host_for_http_10", pb->default_host_for_http_10, "",
                                &out->default_host_for_http_10);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

static int u32_range(xg_xlate *x, const char *field, const Google__Protobuf__UInt32Value *v, uint32_t def, uint32_t lo,
                     uint32_t hi, uint32_t *out)
{
    *out = xg__u32_or(v, def);
    if (*out < lo || *out > hi)
        return xg__fail_at(x, field, "%u is not in %u-%u", *out, lo, hi);
    return 0;
}

static int h2_keepalive(xg_xlate *x, const Envoy__Config__Core__V3__KeepaliveSettings *pb, xg_hcm_h2_options *out)
{
    out->keepalive_jitter_percent = 15;
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "connection_keepalive");
    if (pb->timeout == NULL)
        return xg__fail_at(x, "timeout", "required");
    int rc = xg__xlate_duration_ms_pos(x, "timeout", pb->timeout, 0, &out->keepalive_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "interval", pb->interval, 0, &out->keepalive_interval_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "connection_idle_interval", pb->connection_idle_interval, 0,
                                   &out->keepalive_connection_idle_interval_ms);
    if (rc == 0 && pb->interval_jitter != NULL) {
        if (pb->interval_jitter->value < 0 || pb->interval_jitter->value > 100)
            return xg__fail_at(x, "interval_jitter", "must be a percentage (0-100)");
        out->keepalive_jitter_percent = (uint32_t)pb->interval_jitter->value;
    }
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

static int h2_options(xg_xlate *x, const pb_h2 *pb, xg_hcm_h2_options *out)
{
    static const pb_h2 empty = ENVOY__CONFIG__CORE__V3__HTTP2_PROTOCOL_OPTIONS__INIT;
    const uint32_t max31 = 2147483647u;
    if (pb == NULL)
        pb = &empty;
    size_t mark = xg_xlate_push(x, "http2_protocol_options");
    if (pb->allow_metadata)
        return xg__fail_at(x, "allow_metadata", "not supported");
    if (pb->n_custom_settings_parameters > 0)
        return xg__fail_at(x, "custom_settings_parameters", "not supported");
    out->allow_connect = pb->allow_connect;
    out->override_stream_error_on_invalid_http_message = tri(pb->override_stream_error_on_invalid_http_message);
    if (pb->override_stream_error_on_invalid_http_message == NULL && pb->stream_error_on_invalid_http_messaging)
        out->override_stream_error_on_invalid_http_message = XG_TRUE; /* the deprecated spelling, as Envoy reads it */
    int rc = u32_range(x, "hpack_table_size", pb->hpack_table_size, 4096, 0, UINT32_MAX, &out->hpack_table_size);
    if (rc == 0)
        rc = u32_range(x, "max_concurrent_streams", pb->max_concurrent_streams, 100, 1, max31,
                       &out->max_concurrent_streams);
    if (rc == 0)
        rc = u32_range(x, "initial_stream_window_size", pb->initial_stream_window_size, 65536, 65535, max31,
                       &out->initial_stream_window_size);
    if (rc == 0)
        rc = u32_range(x, "initial_connection_window_size", pb->initial_connection_window_size, 1048576, 65535, max31,
                       &out->initial_connection_window_size);
    if (rc == 0)
        rc = u32_range(x, "max_outbound_frames", pb->max_outbound_frames, 10000, 1, UINT32_MAX,
                       &out->max_outbound_frames);
    if (rc == 0)
        rc = u32_range(x, "max_outbound_control_frames", pb->max_outbound_control_frames, 1000, 1, UINT32_MAX,
                       &out->max_outbound_control_frames);
    if (rc == 0)
        rc = u32_range(x, "max_consecutive_inbound_frames_with_empty_payload",
                       pb->max_consecutive_inbound_frames_with_empty_payload, 1, 0, UINT32_MAX,
                       &out->max_consecutive_inbound_frames_with_empty_payload);
    if (rc == 0)
        rc = u32_range(x, "max_inbound_priority_frames_per_stream", pb->max_inbound_priority_frames_per_stream, 100, 0,
                       UINT32_MAX, &out->max_inbound_priority_frames_per_stream);
    if (rc == 0)
        rc = u32_range(x, "max_inbound_window_update_frames_per_data_frame_sent",
                       pb->max_inbound_window_update_frames_per_data_frame_sent, 10, 1, UINT32_MAX,
                       &out->max_inbound_window_update_frames_per_data_frame_sent);
    if (rc == 0)
        rc = h2_keepalive(x, pb->connection_keepalive, out);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* --- observability --- */

static int percent(xg_xlate *x, const char *field, const Envoy__Type__V3__Percent *p)
{
    /* The negated comparison also rejects NaN. */
    if (p != NULL && !(p->value >= 0.0 && p->value <= 100.0))
        return xg__fail_at(x, field, "must be a percentage between 0 and 100, got %g", p->value);
    return 0;
}

/* xdsgate has no tracer yet: tracing is checked as Envoy checks it, then
 * accepted with a warning (its provider is not in proto/, so naming a tracer
 * is an unknown-field NACK). Access logs, request-id extensions and local
 * reply mappers are rejected: each would change what xdsgate emits. */
static int hcm_observability(xg_xlate *x, const pb_hcm *pb, xg__warnings *w)
{
    if (pb->n_access_log > 0)
        return xg__fail_at(x, "access_log", XG__NO_ACCESS_LOG, "access_log");
    if (pb->request_id_extension != NULL)
        return xg__fail_at(x, "request_id_extension", "not supported yet");
    if (pb->local_reply_config != NULL)
        return xg__fail_at(x, "local_reply_config", "not supported yet");
    const Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager__Tracing *t =
        pb->tracing;
    if (t == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "tracing");
    int rc = percent(x, "client_sampling", t->client_sampling);
    if (rc == 0)
        rc = percent(x, "random_sampling", t->random_sampling);
    if (rc == 0)
        rc = percent(x, "overall_sampling", t->overall_sampling);
    if (rc == 0)
        rc = xg__warn(x, w, "accepted but has no effect: xdsgate has no tracing yet");
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* --- upgrades --- */

static int hcm_upgrades(xg_xlate *x, const pb_hcm *pb, xg_hcm *out)
{
    size_t n = pb->n_upgrade_configs;
    xg_hcm_upgrade *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t mark = xg_xlate_push(x, "upgrade_configs");
        xg_xlate_push_index(x, i);
        int rc = xg__xlate_upgrade_type(x, pb->upgrade_configs[i]->upgrade_type, v, sizeof(*v), i, &v[i].type);
        if (rc < 0)
            return rc;
        if (pb->upgrade_configs[i]->n_filters > 0)
            return xg__fail_at(x, "filters", "per-upgrade HTTP filter chains are not supported");
        v[i].enabled = xg__bool_or(pb->upgrade_configs[i]->enabled, true);
        xg_xlate_pop(x, mark);
    }
    out->upgrades = v;
    out->n_upgrades = n;
    return 0;
}

static int hcm_fields(xg_xlate *x, const pb_hcm *pb, xg__warnings *w, xg_hcm *out)
{
    int rc = hcm_enums(x, pb, out);
    if (rc == 0)
        rc = hcm_strings(x, pb, out);
    if (rc < 0)
        return rc;
    hcm_flags(pb, out);
    if ((rc = hcm_observability(x, pb, w)) == 0 && (rc = hcm_timeouts(x, pb, out)) == 0 &&
        (rc = common_options(x, pb->common_http_protocol_options, out)) == 0 &&
        (rc = internal_addresses(x, pb, out)) == 0 && (rc = h1_options(x, pb->http_protocol_options, &out->h1)) == 0 &&
        (rc = h2_options(x, pb->http2_protocol_options, &out->h2)) == 0 && (rc = hcm_upgrades(x, pb, out)) == 0 &&
        (rc = xg__xlate_http_filters(x, pb, w, out)) == 0)
        rc = xg__xlate_hcm_routes(x, pb, out);
    return rc;
}

int xg__xlate_hcm(xg_xlate *x, const Google__Protobuf__Any *tc, xg__warnings *w, const xg_hcm **out)
{
    pb_hcm *pb = NULL;
    xg_hcm *h = xg_xlate_alloc(x, sizeof(*h));
    if (h == NULL)
        return XG_ENOMEM;
    int rc = xg__xlate_unpack_typed(
        x, "typed_config", tc,
        &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor,
        (ProtobufCMessage **)&pb);
    if (rc < 0)
        return rc;
    size_t mark = xg_xlate_push(x, "typed_config");
    rc = hcm_fields(x, pb, w, h);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    *out = h;
    return rc;
}
