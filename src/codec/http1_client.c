/* The HTTP/1.1 client codec (upstream connection pools): serializes one
 * request at a time (chunked when the length is unknown) and parses its
 * response: 1xx, HEAD and 204/304 without a body, close-delimited bodies,
 * trailers, upgrades and CONNECT tunnels. Bytes the upstream sends when no
 * response is due make the connection unusable: never parsed as the next
 * response (that would desynchronize the pool). */
#include <stdlib.h>
#include <string.h>

#include "codec/http1_int.h"
#include "core/error.h"

static void maybe_finish(xg__h1 *h);

/* --- response parsing --- */

static int on_message_begin(llhttp_t *p)
{
    xg__h1 *h = p->data;
    xg__h1_stream *s = &h->st;
    if (!h->has_stream || !s->known)
        return xg__h1_fail(h, XG_CERR_PROTOCOL, "unsolicited response");
    h->err = XG_CERR_NONE;
    h->hdr_count = 0;
    h->hdr_bytes = 0;
    h->in_value = false;
    xg_buf_reset(&h->name);
    s->in = xg_headers_new(s->arena);
    s->trailers = NULL;
    return s->in == NULL ? xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory") : 0;
}

/* A transfer-coding other than one final "chunked" is refused as Envoy does. */
static int check_response(xg__h1 *h)
{
    xg_headers *in = h->st.in;
    if (h->parser.http_major != 1)
        return xg__h1_fail(h, XG_CERR_PROTOCOL, "unsupported HTTP version");
    int i = xg_headers_find_id(in, XG_HDR_TRANSFER_ENCODING, 0);
    if (i >= 0 && (xg_headers_find_id(in, XG_HDR_TRANSFER_ENCODING, i + 1) >= 0 ||
                   !xg_hdr_name_eq(in->v[i].value, in->v[i].value_len, "chunked", 7)))
        return xg__h1_fail(h, XG_CERR_PROTOCOL, "unsupported Transfer-Encoding");
    uint64_t len;
    if (xg__h1_find_length(in, &len) < 0)
        return xg__h1_fail(h, XG_CERR_PROTOCOL, "invalid Content-Length");
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    xg__h1 *h = p->data;
    xg__h1_stream *s = &h->st;
    int status = p->status_code;
    int rc = check_response(h);
    if (rc != 0)
        return rc;
    s->in->status = (uint16_t)status;
    s->in->version = (uint8_t)(10 + p->http_minor);
    bool connect_ok = s->connect && status / 100 == 2;
    if (status == 101 && (!s->upgrade || s->connect))
        return xg__h1_fail(h, XG_CERR_PROTOCOL, "101 without an upgrade request");
    if (xg__h1_strip_hop_by_hop(s->in, status == 101) != 0)
        return xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
    h->hdr_count = 0;
    h->hdr_bytes = 0;
    if (status < 200 && status != 101) {
        h->base.cb->on_headers(h->base.owner, s->user, s->id, s->in, false);
        return 0; /* informational: the final response follows */
    }
    s->in_headers = true;
    if ((status == 101 && !s->connect) || connect_ok) {
        s->tunnel = true;
        s->out_has_len = false; /* from now on, raw bytes */
        s->out_chunked = false;
        h->base.cb->on_headers(h->base.owner, s->user, s->id, s->in, false);
        return 2; /* llhttp stops with HPE_PAUSED_UPGRADE: the rest is the tunnel's */
    }
    bool body = !s->head && status != 204 && status != 304 &&
                ((p->flags & F_CHUNKED) || !(p->flags & F_CONTENT_LENGTH) || p->content_length > 0);
    s->in_body = body;
    h->base.cb->on_headers(h->base.owner, s->user, s->id, s->in, !body);
    /* 1: llhttp must not read a body (HEAD, 204, 304 whatever their length
     * says); HPE_PAUSED: the body is parsed in window-sized slices. */
    return body ? HPE_PAUSED : 1;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    xg__h1 *h = p->data;
    if (n > 0)
        xg__h1_deliver(h, at, n, false);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    xg__h1 *h = p->data;
    xg__h1_stream *s = &h->st;
    if (!s->in_headers || s->tunnel)
        return 0; /* the end of a 1xx, or the tunnel's start */
    if (s->in_body) {
        if (s->trailers != NULL && h->opts.enable_trailers && h->base.cb->on_trailers != NULL)
            h->base.cb->on_trailers(h->base.owner, s->user, s->id, s->trailers);
        else
            xg__h1_deliver(h, NULL, 0, true);
    }
    s->keep_alive = llhttp_should_keep_alive(p);
    s->in_body = false;
    s->in_done = true;
    maybe_finish(h);
    return HPE_PAUSED; /* nothing may follow a response until the next request */
}

static void maybe_finish(xg__h1 *h)
{
    xg__h1_stream *s = &h->st;
    if (!h->has_stream || h->close_owed)
        return;
    if (!s->in_done)
        return;
    /* A response that ends before its request was sent leaves the request
     * half-written: only a new connection is safe. */
    bool keep = s->keep_alive && s->out_done && !s->out_close && !s->tunnel && !h->goaway && !h->eof;
    if (!keep)
        h->dead = true;
    h->close_owed = true;
    h->served++;
}

static void stream_reset(xg__h1 *h, xg_reset_reason r)
{
    xg__h1_stream *s = &h->st;
    h->dead = true;
    if (!h->has_stream || h->close_owed || !s->known)
        return;
    void *user = s->user;
    uint32_t id = s->id;
    h->has_stream = false;
    if (h->base.cb->on_stream_reset != NULL)
        h->base.cb->on_stream_reset(h->base.owner, user, id, r);
}

static void on_eof(xg__h1 *h)
{
    xg__h1_stream *s = &h->st;
    h->eof = true;
    if (h->has_stream && s->tunnel && !s->in_done) {
        s->in_done = true;
        xg__h1_deliver(h, NULL, 0, true);
        maybe_finish(h);
        return;
    }
    h->dead = true;
    if (!h->has_stream || h->close_owed)
        return;
    /* A close-delimited body ends here; anything else was cut short. */
    llhttp_resume(&h->parser);
    h->feed_at = NULL;
    if (s->in_body)
        llhttp_finish(&h->parser);
    if (s->in_done)
        return;
    stream_reset(h, XG_RESET_CONN_CLOSED);
}

static size_t feed_tunnel(xg__h1 *h, const char *p, size_t n)
{
    xg__h1_stream *s = &h->st;
    if (s->in_done || s->unconsumed >= h->opts.stream_window)
        return 0;
    size_t room = h->opts.stream_window - s->unconsumed;
    size_t k = n < room ? n : room;
    if (k > 0)
        xg__h1_deliver(h, p, k, false);
    return k;
}

static bool must_wait(const xg__h1 *h)
{
    const xg__h1_stream *s = &h->st;
    if (h->paused)
        return true;
    if (!h->has_stream)
        return false; /* unsolicited bytes: feed rejects them */
    if (h->close_owed || s->in_done)
        return true;
    return (s->in_body || s->tunnel) && s->unconsumed >= h->opts.stream_window;
}

/* Parses response bytes; 0 when it should stop for now, 1 to go on. */
static int parse_some(xg__h1 *h, const char *p, size_t n, size_t *off)
{
    if (h->st.tunnel) {
        size_t k = feed_tunnel(h, p + *off, n - *off);
        *off += k;
        return k > 0;
    }
    size_t slice = n - *off, u;
    if (h->st.in_body) {
        size_t room = h->opts.stream_window - h->st.unconsumed;
        slice = slice < room ? slice : room;
    }
    if (llhttp_get_errno(&h->parser) == HPE_PAUSED)
        llhttp_resume(&h->parser);
    llhttp_errno_t e = xg__h1_execute(h, p + *off, slice, &u);
    *off += u;
    if (e == HPE_OK || e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE)
        return 1;
    const char *detail;
    xg_codec_err kind = xg__h1_error_kind(h, e, &detail);
    if (h->base.cb->on_error != NULL && h->has_stream && h->st.known)
        h->base.cb->on_error(h->base.owner, h->st.user, h->st.id, kind, detail);
    stream_reset(h, XG_RESET_PROTOCOL);
    *off = n;
    return 0;
}

static int cli_feed(xg_codec *c, const char *p, size_t n, size_t *used)
{
    xg__h1 *h = (xg__h1 *)c;
    size_t off = 0;
    xg__h1_flush_events(h);
    *used = 0;
    if (p == NULL) {
        if (!h->eof)
            on_eof(h);
        xg__h1_flush_events(h);
        return 0;
    }
    if (h->dead || !h->has_stream) {
        h->dead = true; /* unsolicited bytes: the connection is not reusable */
        *used = n;
        return 0;
    }
    while (off < n && !h->dead && !must_wait(h))
        if (!parse_some(h, p, n, &off))
            break;
    if (h->has_stream && h->st.in_done && !h->st.tunnel && off < n) {
        h->dead = true; /* bytes after the response: never parsed as the next one */
        off = n;
    }
    *used = off;
    xg__h1_flush_events(h);
    return 0;
}

static bool cli_can_feed(const xg_codec *c)
{
    const xg__h1 *h = (const xg__h1 *)c;
    return h->dead || h->close_owed || !must_wait(h);
}

/* --- the request --- */

static xg__h1_stream *stream_for(xg__h1 *h, uint32_t sid)
{
    return (h->has_stream && h->st.id == sid && h->st.known && !h->close_owed && !h->st.out_done) ? &h->st : NULL;
}

static bool wants_content_length_zero(xg_method m)
{
    return m == XG_METHOD_POST || m == XG_METHOD_PUT || m == XG_METHOD_PATCH;
}

/* Request line, host, fields and framing headers into the output buffer. */
static int write_request(xg__h1 *h, const xg_headers *hd, bool end_stream)
{
    xg__h1_stream *s = &h->st;
    bool connect = hd->method_id == XG_METHOD_CONNECT;
    const xg_hstr *target = connect ? &hd->authority : &hd->path;
    uint64_t len = 0;
    int found = xg__h1_find_length(hd, &len);
    if (hd->method.len == 0 || target->len == 0 || hd->authority.len == 0 || found < 0 ||
        !xg_hdr_is_token(hd->method.s, hd->method.len) || !xg_hdr_value_ok(target->s, target->len) ||
        !xg_hdr_value_ok(hd->authority.s, hd->authority.len) || memchr(target->s, ' ', target->len) != NULL)
        return XG_EINVAL;
    s->upgrade = connect || xg_headers_get_id(hd, XG_HDR_UPGRADE) != NULL;
    int rc = 0;
    if (xg__h1_out(h, hd->method.s, hd->method.len) != 0 || xg__h1_outs(h, " ") != 0 ||
        xg__h1_out(h, target->s, target->len) != 0 || xg__h1_outs(h, " HTTP/1.1\r\nhost: ") != 0 ||
        xg__h1_out(h, hd->authority.s, hd->authority.len) != 0 || xg__h1_outs(h, "\r\n") != 0)
        return XG_ENOMEM;
    rc = xg__h1_write_fields(h, hd, s->upgrade && !connect, false);
    if (rc != 0)
        return rc;
    if (s->upgrade && !connect) {
        rc = xg__h1_outs(h, "connection: upgrade\r\n");
    } else if (found == 1) {
        s->out_has_len = true;
        s->out_remaining = len;
    } else if (end_stream || connect) {
        s->out_has_len = true;
        if (wants_content_length_zero(hd->method_id))
            rc = xg__h1_outs(h, "content-length: 0\r\n");
    } else {
        s->out_chunked = true;
        rc = xg__h1_outs(h, "transfer-encoding: chunked\r\n");
    }
    return rc != 0 ? rc : xg__h1_outs(h, "\r\n");
}

static int cli_send_request(xg_codec *c, void *user, xg_arena *arena, const xg_headers *hd, bool end_stream,
                            uint32_t *sid)
{
    xg__h1 *h = (xg__h1 *)c;
    if (h->has_stream || h->dead || h->eof || h->goaway)
        return XG_EAGAIN;
    xg__h1_stream *s = &h->st;
    size_t pending = h->out.len - h->out_off;
    memset(s, 0, sizeof *s);
    s->id = h->next_id++;
    s->user = user;
    s->arena = arena;
    s->head = hd->method_id == XG_METHOD_HEAD;
    int rc = write_request(h, hd, end_stream);
    if (rc != 0) {
        xg__h1_out_truncate(h, h->out_off + pending); /* nothing of a refused request goes out */
        memset(s, 0, sizeof *s);
        return rc;
    }
    s->known = true;
    h->has_stream = true;
    s->connect = hd->method_id == XG_METHOD_CONNECT;
    if (end_stream && xg__h1_write_body(h, NULL, 0, true) != 0)
        s->out_close = true; /* out of memory for the last chunk: do not reuse */
    xg__h1_note_sent(h);
    *sid = s->id;
    return 0;
}

static int cli_send_data(xg_codec *c, uint32_t sid, const void *p, size_t n, bool end_stream)
{
    xg__h1 *h = (xg__h1 *)c;
    xg__h1_stream *s = stream_for(h, sid);
    if (s == NULL)
        return XG_EINVAL;
    if (s->upgrade && !s->tunnel && n > 0)
        return XG_EINVAL; /* nothing is sent before the upgrade is accepted */
    int rc = xg__h1_write_body(h, p, n, end_stream);
    maybe_finish(h);
    return rc;
}

static int cli_send_trailers(xg_codec *c, uint32_t sid, const xg_headers *t)
{
    xg__h1 *h = (xg__h1 *)c;
    xg__h1_stream *s = stream_for(h, sid);
    if (s == NULL)
        return XG_EINVAL;
    int rc = xg__h1_write_trailers(h, t);
    maybe_finish(h);
    return rc;
}

static int cli_send_headers(xg_codec *c, uint32_t sid, const xg_headers *hd, bool end_stream)
{
    return XG_EINVAL; /* the client role opens streams with send_request */
}

static void cli_reset(xg_codec *c, uint32_t sid, xg_reset_reason r)
{
    xg__h1 *h = (xg__h1 *)c;
    if (!h->has_stream || h->st.id != sid)
        return;
    h->has_stream = false;
    h->close_owed = false;
    h->dead = true;
}

static void cli_goaway(xg_codec *c, xg_goaway_mode mode)
{
    xg__h1 *h = (xg__h1 *)c;
    h->goaway = true;
    if (mode == XG_GOAWAY_ABORT) {
        h->has_stream = false;
        h->close_owed = false;
        xg__h1_out_drop(h);
    }
    if (!h->has_stream || mode == XG_GOAWAY_ABORT)
        h->dead = true;
}

static uint32_t cli_capacity(const xg_codec *c)
{
    const xg__h1 *h = (const xg__h1 *)c;
    return (h->has_stream || h->dead || h->eof || h->goaway) ? 0 : 1;
}

static void cli_free(xg_codec *c)
{
    xg__h1 *h = (xg__h1 *)c;
    xg__h1_dispose(h);
    free(h);
}

static const xg_codec_vt cli_vt = {
    .feed = cli_feed,
    .output = xg__h1_output,
    .output_done = xg__h1_output_done,
    .send_request = cli_send_request,
    .send_headers = cli_send_headers,
    .send_data = cli_send_data,
    .send_trailers = cli_send_trailers,
    .reset = cli_reset,
    .consumed = xg__h1_consumed,
    .pending = xg__h1_pending,
    .goaway = cli_goaway,
    .pause = xg__h1_pause,
    .can_feed = cli_can_feed,
    .want_write = xg__h1_want_write,
    .should_close = xg__h1_should_close,
    .capacity = cli_capacity,
    .active_streams = xg__h1_active_streams,
    .free = cli_free,
};

int xg_http1_client_new(xg_codec **out, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner)
{
    if (cb == NULL || cb->on_headers == NULL || cb->on_data == NULL)
        return XG_EINVAL;
    xg__h1 *h = malloc(sizeof *h);
    if (h == NULL)
        return XG_ENOMEM;
    xg__h1_init(h, HTTP_RESPONSE, o, cb, owner);
    h->base.vt = &cli_vt;
    h->base.role = XG_ROLE_CLIENT;
    llhttp_settings_init(&h->settings);
    h->settings.on_message_begin = on_message_begin;
    h->settings.on_header_field = xg__h1_on_header_field;
    h->settings.on_header_value = xg__h1_on_header_value;
    h->settings.on_header_value_complete = xg__h1_on_header_value_complete;
    h->settings.on_headers_complete = on_headers_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    *out = &h->base;
    return 0;
}
