/* The HTTP/2 client codec (upstream pools with HTTP/2 protocol options):
 * multiplexed requests up to the server's SETTINGS_MAX_CONCURRENT_STREAMS
 * (nghttp2 assumes 100 until the server's SETTINGS arrive), 1xx then final
 * responses, trailers (gRPC), and GOAWAY handling that tells the pool to stop
 * using the connection (capacity() 0; streams the server never processed end
 * with on_stream_reset(REFUSED), safe to retry). */
#include <stdlib.h>
#include <string.h>

#include "codec/http2_int.h"
#include "core/error.h"

int xg__h2_client_headers_done(xg__h2 *h, xg__h2_stream *st, const nghttp2_frame *f)
{
    bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    xg_headers *in = st->in;
    if (st->too_large) {
        if (h->base.cb->on_error != NULL)
            h->base.cb->on_error(h->base.owner, st->user, st->id, XG_CERR_PROTOCOL, "response headers too large");
        st->local_rst = true;
        return xg__h2_submit_rst(h, f->hd.stream_id, NGHTTP2_PROTOCOL_ERROR) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (in->status < 200) {
        /* 1xx: informational; the next block is a new one (on_begin_headers). */
        h->base.cb->on_headers(h->base.owner, st->user, st->id, in, false);
        return 0;
    }
    st->in_final = true;
    st->in_done = end;
    h->base.cb->on_headers(h->base.owner, st->user, st->id, in, end);
    return 0;
}

static uint32_t cli_capacity(const xg_codec *c)
{
    const xg__h2 *h = (const xg__h2 *)c;
    if (h->dead || h->peer_goaway || h->local_goaway || !nghttp2_session_check_request_allowed(h->s))
        return 0;
    uint32_t limit = nghttp2_session_get_remote_settings(h->s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    if (h->opts.max_concurrent_streams < limit)
        limit = h->opts.max_concurrent_streams;
    if (nghttp2_session_get_next_stream_id(h->s) > INT32_MAX)
        return 0;
    return limit > h->n_streams ? limit - h->n_streams : 0;
}

static int cli_send_request(xg_codec *c, void *user, xg_arena *arena, const xg_headers *hd, bool end_stream,
                            uint32_t *sid)
{
    xg__h2 *h = (xg__h2 *)c;
    nghttp2_nv nvb[64], *nva;
    size_t n;
    char sb[4];
    if (cli_capacity(c) == 0)
        return XG_EAGAIN;
    int rc = xg__h2_build_nv(hd, XG__H2_REQUEST, nvb, 64, &nva, &n, sb);
    if (rc != 0)
        return rc;
    xg__h2_stream *st = xg__h2_stream_new(h, 0, user, arena);
    nghttp2_data_provider prd = {.source.ptr = NULL, .read_callback = xg__h2_read_cb};
    /* No nghttp2 stream user data yet: if the owner resets the stream before
     * its HEADERS leave, nghttp2 must not keep a pointer into its arena
     * (on_frame_send attaches it once the stream is open). */
    int32_t id = st == NULL ? -1 : nghttp2_submit_request(h->s, NULL, nva, n, end_stream ? NULL : &prd, NULL);
    if (nva != nvb)
        free(nva);
    if (id < 0) {
        if (st != NULL) {
            h->streams = st->next;
            if (st->next != NULL)
                st->next->prev = NULL;
            st->linked = false;
            h->n_streams--;
        }
        return st == NULL ? XG_ENOMEM : XG_EAGAIN;
    }
    st->id = (uint32_t)id;
    st->out_headers = true;
    st->has_provider = !end_stream;
    st->out_done = end_stream;
    st->out_end_sent = end_stream;
    *sid = st->id;
    return 0;
}

static int cli_send_headers(xg_codec *c, uint32_t sid, const xg_headers *hd, bool end_stream)
{
    return XG_EINVAL;
}

static void cli_goaway(xg_codec *c, xg_goaway_mode mode)
{
    xg__h2 *h = (xg__h2 *)c;
    if (mode != XG_GOAWAY_ABORT) {
        /* Failing to queue the GOAWAY only costs the peer the notice: no new
         * streams are opened here either way. */
        if (!h->local_goaway && nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0) != 0)
            h->dead = true;
        h->local_goaway = true;
        return;
    }
    xg__h2_abort(h);
}

static const xg_codec_vt cli_vt = {
    .feed = xg__h2_feed,
    .output = xg__h2_output,
    .output_done = xg__h2_output_done,
    .send_request = cli_send_request,
    .send_headers = cli_send_headers,
    .send_data = xg__h2_send_data,
    .send_trailers = xg__h2_send_trailers,
    .reset = xg__h2_reset,
    .consumed = xg__h2_consumed,
    .pending = xg__h2_pending,
    .goaway = cli_goaway,
    .pause = xg__h2_pause,
    .can_feed = xg__h2_can_feed,
    .want_write = xg__h2_want_write,
    .should_close = xg__h2_should_close,
    .capacity = cli_capacity,
    .active_streams = xg__h2_active_streams,
    .trim = xg__h2_trim,
    .free = xg__h2_free,
};

int xg_http2_client_new(xg_codec **out, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner)
{
    if (cb == NULL || cb->on_headers == NULL || cb->on_data == NULL)
        return XG_EINVAL;
    xg__h2 *h = malloc(sizeof *h);
    if (h == NULL)
        return XG_ENOMEM;
    int rc = xg__h2_init(h, XG_ROLE_CLIENT, o, cb, owner);
    if (rc != 0) {
        xg_buf_dispose(&h->out);
        free(h);
        return rc;
    }
    h->base.vt = &cli_vt;
    *out = &h->base;
    return 0;
}
