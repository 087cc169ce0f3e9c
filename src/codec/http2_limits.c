/* Envoy's HTTP/2 abuse limits that nghttp2 does not apply itself
 * (Http2ProtocolOptions: max_outbound_frames,
 * max_consecutive_inbound_frames_with_empty_payload,
 * max_inbound_priority_frames_per_stream,
 * max_inbound_window_update_frames_per_data_frame_sent), and the choice
 * between a stream error and a connection error for an invalid HTTP message
 * (stream_error_on_invalid_http_message). Same formulas as Envoy, so a
 * control plane tuned for Envoy gets the same cut-offs. */
#include "codec/http2_int.h"

/* A frame that carries nothing and does not end its stream costs work and
 * has no legitimate use (CVE-2019-9518); a run of them is a flood. */
static const char *track_empty(xg__h2 *h, uint8_t flags, size_t payload)
{
    if (payload == 0 && !(flags & NGHTTP2_FLAG_END_STREAM)) {
        if (++h->empty_frames > h->opts.max_empty_frames)
            return "too many consecutive frames with an empty payload";
    } else {
        h->empty_frames = 0;
    }
    return NULL;
}

const char *xg__h2_track_inbound(xg__h2 *h, uint8_t type, uint8_t flags, size_t payload)
{
    const xg_codec_opts *o = &h->opts;
    switch (type) {
    case NGHTTP2_HEADERS:
    case NGHTTP2_CONTINUATION:
    case NGHTTP2_DATA:
        return track_empty(h, flags, payload);
    case NGHTTP2_PRIORITY:
        /* PRIORITY needs no stream: without a per-stream allowance a peer
         * could send them forever for free. */
        if (++h->priority_in > (uint64_t)o->max_priority_per_stream * (1 + h->n_opened))
            return "too many PRIORITY frames";
        return NULL;
    case NGHTTP2_WINDOW_UPDATE:
        /* A peer needs about one WINDOW_UPDATE per DATA frame we send (two
         * when it updates both windows), plus a few per stream. */
        if (++h->window_in > 5 + 2 * (h->n_opened + (uint64_t)o->max_window_updates_per_data * h->data_out))
            return "too many WINDOW_UPDATE frames";
        return NULL;
    default:
        return NULL;
    }
}

/* Frames waiting inside nghttp2 plus those serialized into our output and
 * not yet all written: the socket's peer is not reading them. */
const char *xg__h2_check_outbound(const xg__h2 *h)
{
    size_t queued = nghttp2_session_get_outbound_queue_size(h->s) + h->out_frames;
    if (queued > h->opts.max_outbound_frames)
        return "too many frames queued for the peer";
    return h->rst_queued > h->opts.max_outbound_control_frames ? "too many RST_STREAM frames queued for the peer"
                                                               : NULL;
}

int xg__h2_submit_rst(xg__h2 *h, int32_t sid, uint32_t code)
{
    int rc = nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, sid, code);
    h->rst_queued += rc == 0;
    return rc;
}

void xg__h2_frame_gone(xg__h2 *h, uint8_t type)
{
    if (type == NGHTTP2_RST_STREAM && h->rst_queued > 0)
        h->rst_queued--;
    /* nghttp2 may fold a second RST for a stream into the first: an empty
     * queue puts the count right. */
    if (nghttp2_session_get_outbound_queue_size(h->s) == 0)
        h->rst_queued = 0;
}

/* The HTTP/2 error code a connection error gets for nghttp2's error. */
static uint32_t code_of(int lib_error)
{
    switch (lib_error) {
    case NGHTTP2_ERR_FLOW_CONTROL:
        return NGHTTP2_FLOW_CONTROL_ERROR;
    case NGHTTP2_ERR_STREAM_CLOSED:
        return NGHTTP2_STREAM_CLOSED;
    case NGHTTP2_ERR_FRAME_SIZE_ERROR:
        return NGHTTP2_FRAME_SIZE_ERROR;
    case NGHTTP2_ERR_HEADER_COMP:
        return NGHTTP2_COMPRESSION_ERROR;
    default:
        return NGHTTP2_PROTOCOL_ERROR;
    }
}

/* As Envoy: a refused stream stays a stream matter; an invalid HTTP message
 * is one only with stream_error_on_invalid_http_message; every other invalid
 * frame ends the connection (nghttp2 would reset just the stream for some,
 * e.g. DATA on a half-closed stream). */
int xg__h2_on_invalid_frame(nghttp2_session *s, const nghttp2_frame *f, int lib_error, void *ud)
{
    xg__h2 *h = ud;
    bool http = lib_error == NGHTTP2_ERR_HTTP_HEADER || lib_error == NGHTTP2_ERR_HTTP_MESSAGING;
    if (lib_error == NGHTTP2_ERR_REFUSED_STREAM || (http && h->opts.stream_error_on_invalid_http_message)) {
        h->rst_queued++; /* nghttp2 queued RST_STREAM for it */
        return 0;
    }
    if (h->fatal == XG_CERR_NONE) {
        h->fatal = XG_CERR_PROTOCOL;
        h->fatal_code = code_of(lib_error);
        h->fatal_detail = http ? "invalid HTTP message" : nghttp2_strerror(lib_error);
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}
