/* Codec options from a translated HttpConnectionManager: the one place that
 * maps config/hcm.h onto xg_codec_opts for downstream codecs (the
 * connection manager calls it for every connection it accepts). */
#include <string.h>

#include "codec/codec.h"
#include "config/hcm.h"

static bool connect_enabled(const xg_hcm *hcm)
{
    for (size_t i = 0; i < hcm->n_upgrades; i++)
        if (hcm->upgrades[i].enabled && hcm->upgrades[i].type.len == 7 &&
            strncmp(hcm->upgrades[i].type.s, "connect", 7) == 0)
            return true;
    return false;
}

/* Envoy: Http2ProtocolOptions.override_stream_error_on_invalid_http_message
 * when set, else the HCM's stream_error_on_invalid_http_message (false by
 * default). The HTTP/1 override changes nothing in the codec: an HTTP/1
 * parse error always ends the connection after the 400 (Envoy's too). */
static bool h2_stream_error(const xg_hcm *hcm)
{
    if (hcm->h2.override_stream_error_on_invalid_http_message != XG_UNSET)
        return hcm->h2.override_stream_error_on_invalid_http_message == XG_TRUE;
    return hcm->stream_error_on_invalid_http_message;
}

static void h2_opts(xg_codec_opts *o, const xg_hcm_h2_options *h2)
{
    o->max_concurrent_streams = h2->max_concurrent_streams;
    o->stream_window = h2->initial_stream_window_size;
    o->conn_window = h2->initial_connection_window_size;
    o->hpack_table_size = h2->hpack_table_size;
    o->max_outbound_frames = h2->max_outbound_frames;
    o->max_outbound_control_frames = h2->max_outbound_control_frames;
    o->max_empty_frames = h2->max_consecutive_inbound_frames_with_empty_payload;
    o->max_priority_per_stream = h2->max_inbound_priority_frames_per_stream;
    o->max_window_updates_per_data = h2->max_inbound_window_update_frames_per_data_frame_sent;
}

void xg_codec_opts_from_hcm(xg_codec_opts *o, const xg_hcm *hcm)
{
    xg_codec_opts_init(o);
    o->max_headers_kb = hcm->max_request_headers_kb;
    o->max_headers_count = hcm->max_headers_count;
    o->accept_http_10 = hcm->h1.accept_http_10;
    o->default_host_for_http_10 =
        hcm->h1.default_host_for_http_10 != NULL && hcm->h1.default_host_for_http_10[0] != '\0'
            ? hcm->h1.default_host_for_http_10
            : NULL;
    o->allow_absolute_url = hcm->h1.allow_absolute_url;
    o->enable_trailers = hcm->h1.enable_trailers;
    /* proxy_100_continue: the upstream side drops 1xx responses today, so a
     * proxied "100 Continue" would never reach the client; the codec keeps
     * answering it (docs/http.md). */
    o->auto_100_continue = true;
    o->allow_connect = connect_enabled(hcm) || hcm->h2.allow_connect;
    o->stream_error_on_invalid_http_message = h2_stream_error(hcm);
    h2_opts(o, &hcm->h2);
}
