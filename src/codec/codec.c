/* The codec-independent pieces of codec.h: defaults, error and reset names,
 * local-reply statuses and the h2c preface check. */
#include <string.h>

#include "codec/codec.h"

void xg_codec_opts_init(xg_codec_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_headers_kb = 60;
    o->max_headers_count = 100;
    o->stream_window = 65536;
    o->send_buffer_limit = 65536;
    o->allow_absolute_url = true;
    o->auto_100_continue = true;
    o->max_concurrent_streams = 100;
    o->conn_window = 1048576;
    o->hpack_table_size = 4096;
    o->max_outbound_frames = 10000;
    o->max_outbound_control_frames = 1000;
    o->max_empty_frames = 1;
    o->max_priority_per_stream = 100;
    o->max_window_updates_per_data = 10;
    o->max_settings = 32;
    o->max_continuations = 8;
    o->premature_reset_min_streams = 100;
    o->max_resets_per_sec = 100;
}

int xg_codec_err_status(xg_codec_err e)
{
    switch (e) {
    case XG_CERR_BAD_REQUEST:
        return 400;
    case XG_CERR_HEADERS_TOO_LARGE:
        return 431;
    case XG_CERR_NOT_IMPLEMENTED:
        return 501;
    case XG_CERR_UPGRADE_REQUIRED:
        return 426;
    case XG_CERR_INTERNAL:
        return 500;
    default:
        return 0;
    }
}

const char *xg_codec_err_name(xg_codec_err e)
{
    static const char *const names[] = {
        [XG_CERR_NONE] = "none",
        [XG_CERR_BAD_REQUEST] = "bad_request",
        [XG_CERR_HEADERS_TOO_LARGE] = "headers_too_large",
        [XG_CERR_NOT_IMPLEMENTED] = "not_implemented",
        [XG_CERR_UPGRADE_REQUIRED] = "upgrade_required",
        [XG_CERR_PROTOCOL] = "protocol_error",
        [XG_CERR_FLOOD] = "flood",
        [XG_CERR_INTERNAL] = "internal_error",
    };
    return ((unsigned)e < sizeof names / sizeof names[0]) ? names[e] : "unknown";
}

const char *xg_reset_reason_name(xg_reset_reason r)
{
    static const char *const names[] = {
        [XG_RESET_LOCAL] = "local_reset",
        [XG_RESET_REFUSED] = "refused_stream",
        [XG_RESET_REMOTE] = "remote_reset",
        [XG_RESET_PROTOCOL] = "protocol_error",
        [XG_RESET_CONN_CLOSED] = "connection_termination",
        [XG_RESET_CONN_ERROR] = "connection_failure",
        [XG_RESET_OVERFLOW] = "overflow",
    };
    return ((unsigned)r < sizeof names / sizeof names[0]) ? names[r] : "unknown";
}

int xg_http2_detect_preface(const char *p, size_t n)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t k = n < sizeof preface - 1 ? n : sizeof preface - 1;
    if (memcmp(p, preface, k) != 0)
        return 0;
    return k == sizeof preface - 1 ? 1 : -1;
}
