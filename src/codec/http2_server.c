/* The HTTP/2 server codec (downstream, h2 via ALPN or h2c prior knowledge):
 * request streams up to max_concurrent_streams (nghttp2 refuses the rest
 * with REFUSED_STREAM), :authority/Host reconciliation (RFC 9113 §8.3.1),
 * cookie crumbs joined for HTTP/1 upstreams (§8.2.3), Envoy-style premature
 * reset detection against rapid-reset attacks, and graceful two-phase GOAWAY. */
#include <stdlib.h>
#include <string.h>

#include "codec/http2_int.h"
#include "core/error.h"

int xg__h2_server_begin_headers(xg__h2 *h, const nghttp2_frame *f)
{
    uint32_t sid = (uint32_t)f->hd.stream_id;
    void *user = NULL;
    xg_arena *arena = NULL;
    if (h->dead || h->local_goaway || h->base.cb->on_stream_begin(h->base.owner, sid, &user, &arena) != 0 ||
        arena == NULL) {
        return xg__h2_submit_rst(h, (int32_t)sid, NGHTTP2_REFUSED_STREAM) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    h->streams_opened++;
    xg__h2_stream *st = xg__h2_stream_new(h, sid, user, arena);
    if (st == NULL || (st->in = xg_headers_new(arena)) == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

/* Host and :authority must agree; Host alone stands in for :authority. */
static int reconcile_host(xg_headers *in)
{
    int i = xg_headers_find_id(in, XG_HDR_HOST, 0);
    if (i < 0)
        return in->authority.len > 0 || in->method_id == XG_METHOD_CONNECT ? 0 : XG_EINVAL;
    if (xg_headers_find_id(in, XG_HDR_HOST, i + 1) >= 0)
        return XG_EINVAL;
    const xg_header *e = &in->v[i];
    if (in->authority.s == NULL) {
        if (e->value_len == 0 || xg_headers_set_field(in, &in->authority, e->value, e->value_len) != 0)
            return XG_EINVAL;
    } else if (!xg_hdr_name_eq(in->authority.s, in->authority.len, e->value, e->value_len)) {
        return XG_EINVAL;
    }
    xg_headers_remove_id(in, XG_HDR_HOST);
    return 0;
}

/* HTTP/2 splits cookies into crumbs; one "cookie" joined with "; " is what
 * HTTP/1 upstreams and route matchers expect (RFC 9113 §8.2.3). */
static int join_cookies(xg_headers *in)
{
    size_t n = 0, len = 0;
    for (int i = xg_headers_find_id(in, XG_HDR_COOKIE, 0); i >= 0; i = xg_headers_find_id(in, XG_HDR_COOKIE, i + 1)) {
        n++;
        len += in->v[i].value_len + 2;
    }
    if (n < 2)
        return 0;
    char *v = xg_arena_alloc(in->arena, len), *w = v;
    if (v == NULL)
        return XG_ENOMEM;
    for (int i = xg_headers_find_id(in, XG_HDR_COOKIE, 0); i >= 0; i = xg_headers_find_id(in, XG_HDR_COOKIE, i + 1)) {
        if (w != v) {
            memcpy(w, "; ", 2);
            w += 2;
        }
        memcpy(w, in->v[i].value, in->v[i].value_len);
        w += in->v[i].value_len;
    }
    xg_headers_remove_id(in, XG_HDR_COOKIE);
    return xg_headers_add_ref(in, "cookie", 6, v, (size_t)(w - v));
}

/* Envoy answers "Expect: 100-continue" in the connection manager, so on
 * HTTP/2 too: a 100 goes out at once when a body follows, and Expect is
 * dropped (unless the owner wants to see it: auto_100_continue off). */
static int maybe_continue(xg__h2 *h, xg__h2_stream *st, bool end)
{
    const xg_header *e = xg_headers_get_id(st->in, XG_HDR_EXPECT);
    if (e == NULL || !h->opts.auto_100_continue || !xg_hdr_name_eq(e->value, e->value_len, "100-continue", 12))
        return 0;
    xg_headers_remove_id(st->in, XG_HDR_EXPECT);
    if (end)
        return 0;
    nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)"100", 7, 3, NGHTTP2_NV_FLAG_NONE};
    return nghttp2_submit_headers(h->s, NGHTTP2_FLAG_NONE, (int32_t)st->id, NULL, &nv, 1, NULL) == 0
               ? 0
               : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static void reject(xg__h2 *h, xg__h2_stream *st, xg_codec_err kind, const char *detail)
{
    st->rejected = true;
    if (h->base.cb->on_error != NULL)
        h->base.cb->on_error(h->base.owner, st->user, st->id, kind, detail);
}

int xg__h2_server_headers_done(xg__h2 *h, xg__h2_stream *st, const nghttp2_frame *f)
{
    bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    xg_headers *in = st->in;
    st->in_final = true;
    st->in_done = end;
    if (st->too_large) {
        reject(h, st, XG_CERR_HEADERS_TOO_LARGE, "headers too large");
        return 0;
    }
    if (reconcile_host(in) != 0) {
        reject(h, st, XG_CERR_BAD_REQUEST, "missing or conflicting :authority and host");
        return 0;
    }
    if (in->method_id == XG_METHOD_CONNECT && !h->opts.allow_connect) {
        reject(h, st, XG_CERR_BAD_REQUEST, "CONNECT not allowed");
        return 0;
    }
    if (join_cookies(in) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    int rc = maybe_continue(h, st, end);
    if (rc != 0)
        return rc;
    h->base.cb->on_headers(h->base.owner, st->user, st->id, in, end);
    return 0;
}

/* Envoy's premature-reset check: a client that resets most of its streams
 * before they were answered is attacking (CVE-2023-44487). nghttp2's token
 * bucket (max_resets_per_sec) caps the rate; this catches the slow variant. */
void xg__h2_server_on_rst(xg__h2 *h, xg__h2_stream *st)
{
    if (st == NULL || st->out_end_sent)
        return; /* answered, or already closed: not premature */
    h->premature_resets++;
    if (h->streams_opened >= h->opts.premature_reset_min_streams && h->premature_resets * 2 >= h->streams_opened) {
        h->fatal = XG_CERR_FLOOD;
        h->fatal_detail = "too many premature stream resets";
    }
}

static int srv_send_headers(xg_codec *c, uint32_t sid, const xg_headers *hd, bool end_stream)
{
    xg__h2 *h = (xg__h2 *)c;
    xg__h2_stream *st = xg__h2_stream_get(h, sid);
    nghttp2_nv nvb[64], *nva;
    size_t n;
    char sb[4];
    if (st == NULL || st->out_headers || hd->status == 101)
        return XG_EINVAL;
    int rc = xg__h2_build_nv(hd, XG__H2_RESPONSE, nvb, 64, &nva, &n, sb);
    if (rc != 0)
        return rc;
    nghttp2_data_provider prd = {.source.ptr = NULL, .read_callback = xg__h2_read_cb};
    if (hd->status < 200) {
        rc = nghttp2_submit_headers(h->s, NGHTTP2_FLAG_NONE, (int32_t)sid, NULL, nva, n, NULL);
    } else {
        rc = nghttp2_submit_response(h->s, (int32_t)sid, nva, n, end_stream ? NULL : &prd);
        st->out_headers = rc == 0;
        st->has_provider = rc == 0 && !end_stream;
        st->out_done = rc == 0 && end_stream;
        st->out_end_sent = st->out_done;
    }
    if (nva != nvb)
        free(nva);
    return rc == 0 ? 0 : XG_EINVAL;
}

static int srv_send_request(xg_codec *c, void *user, xg_arena *a, const xg_headers *hd, bool end, uint32_t *sid)
{
    return XG_EINVAL;
}

static void srv_goaway(xg_codec *c, xg_goaway_mode mode)
{
    xg__h2 *h = (xg__h2 *)c;
    if (mode == XG_GOAWAY_NOTICE) {
        /* Only a courtesy to the client: failing to queue it changes nothing here. */
        (void)nghttp2_submit_shutdown_notice(h->s);
        return;
    }
    if (mode == XG_GOAWAY_FINAL) {
        if (!h->local_goaway &&
            nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->s),
                                  NGHTTP2_NO_ERROR, NULL, 0) != 0)
            h->dead = true;
        h->local_goaway = true;
        return;
    }
    /* ABORT: the owner drops its streams itself; no callbacks. */
    xg__h2_abort(h);
}

static uint32_t srv_capacity(const xg_codec *c)
{
    return 0;
}

static const xg_codec_vt srv_vt = {
    .feed = xg__h2_feed,
    .output = xg__h2_output,
    .output_done = xg__h2_output_done,
    .send_request = srv_send_request,
    .send_headers = srv_send_headers,
    .send_data = xg__h2_send_data,
    .send_trailers = xg__h2_send_trailers,
    .reset = xg__h2_reset,
    .consumed = xg__h2_consumed,
    .pending = xg__h2_pending,
    .goaway = srv_goaway,
    .pause = xg__h2_pause,
    .can_feed = xg__h2_can_feed,
    .want_write = xg__h2_want_write,
    .should_close = xg__h2_should_close,
    .capacity = srv_capacity,
    .active_streams = xg__h2_active_streams,
    .trim = xg__h2_trim,
    .free = xg__h2_free,
};

int xg_http2_server_new(xg_codec **out, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner)
{
    if (cb == NULL || cb->on_stream_begin == NULL || cb->on_headers == NULL || cb->on_data == NULL)
        return XG_EINVAL;
    xg__h2 *h = malloc(sizeof *h);
    if (h == NULL)
        return XG_ENOMEM;
    int rc = xg__h2_init(h, XG_ROLE_SERVER, o, cb, owner);
    if (rc != 0) {
        xg_buf_dispose(&h->out);
        free(h);
        return rc;
    }
    h->base.vt = &srv_vt;
    *out = &h->base;
    return 0;
}
