/* Codec options from a translated HttpConnectionManager: the one place that
 * maps config/hcm.h onto xg_codec_opts, so listeners and the connection
 * manager build codecs the same way. */
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

void xg_codec_opts_from_hcm(xg_codec_opts *o, const xg_hcm *hcm)
{
    xg_codec_opts_init(o);
    o->max_headers_kb = hcm->max_request_headers_kb;
    o->max_headers_count = hcm->max_headers_count;
    o->accept_http_10 = hcm->h1.accept_http_10;
    o->default_host_for_http_10 = hcm->h1.default_host_for_http_10;
    o->allow_absolute_url = hcm->h1.allow_absolute_url;
    o->enable_trailers = hcm->h1.enable_trailers;
    o->auto_100_continue = !hcm->proxy_100_continue;
    o->allow_connect = connect_enabled(hcm) || hcm->h2.allow_connect;
    o->max_concurrent_streams = hcm->h2.max_concurrent_streams;
    o->stream_window = hcm->h2.initial_stream_window_size;
    o->conn_window = hcm->h2.initial_connection_window_size;
    o->hpack_table_size = hcm->h2.hpack_table_size;
    o->max_outbound_frames = hcm->h2.max_outbound_frames;
    o->max_outbound_control_frames = hcm->h2.max_outbound_control_frames;
}
