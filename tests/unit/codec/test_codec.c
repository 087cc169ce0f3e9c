/* The codec-independent pieces: error kinds to local-reply statuses, the h2c
 * preface check and codec options from an HttpConnectionManager. */
#include <string.h>

#include "codec/codec.h"
#include "config/hcm.h"
#include "xg_test.h"

XG_TEST(error_statuses)
{
    CHECK_EQ_INT(xg_codec_err_status(XG_CERR_BAD_REQUEST), 400);
    CHECK_EQ_INT(xg_codec_err_status(XG_CERR_HEADERS_TOO_LARGE), 431);
    CHECK_EQ_INT(xg_codec_err_status(XG_CERR_NOT_IMPLEMENTED), 501);
    CHECK_EQ_INT(xg_codec_err_status(XG_CERR_UPGRADE_REQUIRED), 426);
    CHECK_EQ_INT(xg_codec_err_status(XG_CERR_PROTOCOL), 0);
    CHECK_EQ_INT(xg_codec_err_status(XG_CERR_FLOOD), 0);
    CHECK_STR(xg_codec_err_name(XG_CERR_HEADERS_TOO_LARGE), "headers_too_large");
    CHECK_STR(xg_reset_reason_name(XG_RESET_REFUSED), "refused_stream");
}

XG_TEST(h2_preface_detection)
{
    const char *pre = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    CHECK_EQ_INT(xg_http2_detect_preface(pre, 24), 1);
    CHECK_EQ_INT(xg_http2_detect_preface(pre, 10), -1);
    CHECK_EQ_INT(xg_http2_detect_preface("GET / HTTP/1.1\r\n", 16), 0);
    CHECK_EQ_INT(xg_http2_detect_preface("P", 1), -1);
    CHECK_EQ_INT(xg_http2_detect_preface("POST", 4), 0);
}

static void base_hcm(xg_hcm *hcm)
{
    memset(hcm, 0, sizeof *hcm);
    hcm->max_request_headers_kb = 60;
    hcm->max_headers_count = 100;
    hcm->h1.allow_absolute_url = true;
    hcm->h1.default_host_for_http_10 = "";
    hcm->h1.override_stream_error_on_invalid_http_message = XG_UNSET;
    hcm->h2.override_stream_error_on_invalid_http_message = XG_UNSET;
    hcm->h2.max_concurrent_streams = 100;
    hcm->h2.initial_stream_window_size = 65536;
    hcm->h2.initial_connection_window_size = 1048576;
    hcm->h2.hpack_table_size = 4096;
    hcm->h2.max_outbound_frames = 10000;
    hcm->h2.max_outbound_control_frames = 1000;
    hcm->h2.max_consecutive_inbound_frames_with_empty_payload = 1;
    hcm->h2.max_inbound_priority_frames_per_stream = 100;
    hcm->h2.max_inbound_window_update_frames_per_data_frame_sent = 10;
}

XG_TEST(opts_from_hcm)
{
    xg_hcm hcm;
    base_hcm(&hcm);
    xg_hcm_upgrade up = {.type = {"connect", 7}, .enabled = true};
    hcm.max_request_headers_kb = 96;
    hcm.max_headers_count = 50;
    hcm.h1.accept_http_10 = true;
    hcm.h1.default_host_for_http_10 = "d";
    hcm.h1.enable_trailers = true;
    hcm.upgrades = &up;
    hcm.n_upgrades = 1;
    hcm.h2.max_concurrent_streams = 7;
    hcm.h2.initial_stream_window_size = 1 << 20;
    hcm.h2.initial_connection_window_size = 1 << 22;
    hcm.h2.hpack_table_size = 8192;
    hcm.h2.max_outbound_frames = 12345;
    hcm.h2.max_outbound_control_frames = 99;
    hcm.h2.max_consecutive_inbound_frames_with_empty_payload = 0;
    hcm.h2.max_inbound_priority_frames_per_stream = 3;
    hcm.h2.max_inbound_window_update_frames_per_data_frame_sent = 2;
    xg_codec_opts o;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK_EQ_INT(o.max_headers_kb, 96);
    CHECK_EQ_INT(o.max_headers_count, 50);
    CHECK(o.accept_http_10 && o.allow_absolute_url && o.allow_connect && o.enable_trailers);
    CHECK_STR(o.default_host_for_http_10, "d");
    CHECK_EQ_INT(o.max_concurrent_streams, 7);
    CHECK_EQ_INT(o.stream_window, 1 << 20);
    CHECK_EQ_INT(o.conn_window, 1 << 22);
    CHECK_EQ_INT(o.hpack_table_size, 8192);
    CHECK_EQ_INT(o.max_outbound_frames, 12345);
    CHECK_EQ_INT(o.max_outbound_control_frames, 99);
    CHECK_EQ_INT(o.max_empty_frames, 0);
    CHECK_EQ_INT(o.max_priority_per_stream, 3);
    CHECK_EQ_INT(o.max_window_updates_per_data, 2);
    CHECK_EQ_INT(o.max_continuations, 8); /* not configurable: the default stays */
    up.enabled = false;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK(!o.allow_connect);
    hcm.h2.allow_connect = true;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK(o.allow_connect);
}

XG_TEST(opts_from_hcm_defaults_match_the_codec)
{
    xg_hcm hcm;
    base_hcm(&hcm);
    xg_codec_opts o, d;
    xg_codec_opts_from_hcm(&o, &hcm);
    xg_codec_opts_init(&d);
    CHECK(memcmp(&o, &d, sizeof o) == 0); /* "" default host is no default host; every limit as Envoy's */
    CHECK(o.default_host_for_http_10 == NULL);
    CHECK(!o.stream_error_on_invalid_http_message);
}

/* The 100-continue is answered by the codec whatever proxy_100_continue
 * says: the upstream side does not pass 1xx responses on (docs/http.md). */
XG_TEST(proxy_100_continue_keeps_the_codec_answering)
{
    xg_hcm hcm;
    base_hcm(&hcm);
    hcm.proxy_100_continue = true;
    xg_codec_opts o;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK(o.auto_100_continue);
}

/* Envoy: the HTTP/2 override wins; else the HCM field; else false. */
XG_TEST(stream_error_on_invalid_http_message_precedence)
{
    xg_hcm hcm;
    xg_codec_opts o;
    base_hcm(&hcm);
    hcm.stream_error_on_invalid_http_message = true;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK(o.stream_error_on_invalid_http_message);
    hcm.h2.override_stream_error_on_invalid_http_message = XG_FALSE;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK(!o.stream_error_on_invalid_http_message);
    hcm.stream_error_on_invalid_http_message = false;
    hcm.h2.override_stream_error_on_invalid_http_message = XG_TRUE;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK(o.stream_error_on_invalid_http_message);
    hcm.h2.override_stream_error_on_invalid_http_message = XG_UNSET;
    hcm.h1.override_stream_error_on_invalid_http_message = XG_TRUE; /* HTTP/1's does not apply to HTTP/2 */
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK(!o.stream_error_on_invalid_http_message);
}
