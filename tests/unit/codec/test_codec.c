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

XG_TEST(opts_from_hcm)
{
    xg_hcm hcm;
    memset(&hcm, 0, sizeof hcm);
    xg_hcm_upgrade up = {.type = {"connect", 7}, .enabled = true};
    hcm.max_request_headers_kb = 96;
    hcm.max_headers_count = 50;
    hcm.h1.allow_absolute_url = true;
    hcm.h1.accept_http_10 = true;
    hcm.h1.default_host_for_http_10 = "d";
    hcm.proxy_100_continue = true;
    hcm.upgrades = &up;
    hcm.n_upgrades = 1;
    hcm.h2.max_concurrent_streams = 7;
    hcm.h2.initial_stream_window_size = 1 << 20;
    hcm.h2.initial_connection_window_size = 1 << 22;
    hcm.h2.hpack_table_size = 8192;
    hcm.h2.max_outbound_control_frames = 99;
    xg_codec_opts o;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK_EQ_INT(o.max_headers_kb, 96);
    CHECK_EQ_INT(o.max_headers_count, 50);
    CHECK(o.accept_http_10 && o.allow_absolute_url && o.allow_connect && !o.auto_100_continue);
    CHECK_STR(o.default_host_for_http_10, "d");
    CHECK_EQ_INT(o.max_concurrent_streams, 7);
    CHECK_EQ_INT(o.stream_window, 1 << 20);
    CHECK_EQ_INT(o.conn_window, 1 << 22);
    CHECK_EQ_INT(o.max_outbound_control_frames, 99);
    CHECK_EQ_INT(o.max_continuations, 8); /* not configurable: the default stays */
    up.enabled = false;
    xg_codec_opts_from_hcm(&o, &hcm);
    CHECK(!o.allow_connect);
}
