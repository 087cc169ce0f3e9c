/* HTTP/2 pieces both roles share: the nghttp2 session and its callbacks,
 * stream bookkeeping, send queues pulled by nghttp2's data provider,
 * flow control driven by the owner's consumed() (no automatic WINDOW_UPDATE,
 * so a slow reader back-pressures the peer) and the connection-level limits.
 *
 * Lifetime rule: a stream object lives in the owner's stream arena, which
 * the owner may free in a terminal callback or right after reset(); so the
 * codec unlinks it, frees its queue and detaches it from nghttp2 (stream
 * user data NULL) before either, and never touches it afterwards. */
#include <stdlib.h>
#include <string.h>

#include "codec/http2_int.h"
#include "core/assert.h"
#include "core/bufpool.h"
#include "core/error.h"

#define OUT_CHUNK 65536

static xg__h2 *H(void *ud)
{
    return ud;
}

/* --- streams --- */

xg__h2_stream *xg__h2_stream_new(xg__h2 *h, uint32_t id, void *user, xg_arena *a)
{
    xg__h2_stream *st = xg_arena_alloc(a, sizeof *st);
    if (st == NULL)
        return NULL;
    st->id = id;
    st->user = user;
    st->arena = a;
    xg_buf_init(&st->sendq);
    st->next = h->streams;
    if (h->streams != NULL)
        h->streams->prev = st;
    h->streams = st;
    st->linked = true;
    h->n_streams++;
    if (id != 0)
        nghttp2_session_set_stream_user_data(h->s, (int32_t)id, st);
    return st;
}

/* A stream's send queue sits in a pool block while what is queued fits:
 * no malloc per response, and no memory while nothing is queued (the block
 * goes back once nghttp2 has taken it all). A queue that outgrows the block
 * moves to the heap. */
static int sendq_append(xg__h2_stream *st, const void *p, size_t n)
{
    xg_buf *q = &st->sendq;
    if (q->cap == 0 && n < XG_BUFPOOL_BLOCK && (q->data = xg_bufpool_get()) != NULL) {
        q->cap = XG_BUFPOOL_BLOCK;
        q->len = 0;
        st->sendq_pooled = true;
    } else if (st->sendq_pooled && n >= q->cap - q->len) {
        xg_buf heap;
        xg_buf_init(&heap);
        size_t left = q->len - st->sendq_off;
        if (xg_buf_reserve(&heap, left + n) != 0)
            return XG_ENOMEM;
        (void)xg_buf_append(&heap, q->data + st->sendq_off, left); /* reserved: cannot fail */
        xg_bufpool_put(q->data);
        *q = heap;
        st->sendq_off = 0;
        st->sendq_pooled = false;
    }
    return xg_buf_append(q, p, n);
}

/* The queue is empty (or the stream gone): a pool block goes back now, a
 * heap buffer is kept for the rest of the stream unless dispose. */
static void sendq_release(xg__h2_stream *st, bool dispose)
{
    st->sendq_off = 0;
    if (st->sendq_pooled) {
        xg_bufpool_put(st->sendq.data);
        xg_buf_init(&st->sendq);
        st->sendq_pooled = false;
    } else if (dispose) {
        xg_buf_dispose(&st->sendq);
    } else {
        xg_buf_reset(&st->sendq);
    }
}

/* Forgets st: after this the codec never touches it (its arena may go). */
static void detach(xg__h2 *h, xg__h2_stream *st)
{
    if (!st->linked)
        return;
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        h->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    st->linked = false;
    h->n_streams--;
    sendq_release(st, true);
    nghttp2_session_set_stream_user_data(h->s, (int32_t)st->id, NULL);
}

xg__h2_stream *xg__h2_stream_get(xg__h2 *h, uint32_t sid)
{
    xg__h2_stream *st = nghttp2_session_get_stream_user_data(h->s, (int32_t)sid);
    if (st != NULL)
        return st->linked ? st : NULL;
    /* A request nghttp2 has not sent yet has no nghttp2 stream: look in our list. */
    if (h->base.role == XG_ROLE_CLIENT)
        for (st = h->streams; st != NULL; st = st->next)
            if (st->id == sid)
                return st;
    return NULL;
}

static void report_reset(xg__h2 *h, xg__h2_stream *st, xg_reset_reason r)
{
    void *user = st->user;
    uint32_t id = st->id;
    detach(h, st);
    if (h->base.cb->on_stream_reset != NULL)
        h->base.cb->on_stream_reset(h->base.owner, user, id, r);
}

static void reset_all(xg__h2 *h, xg_reset_reason r)
{
    while (h->streams != NULL)
        report_reset(h, h->streams, r);
}

void xg__h2_fail(xg__h2 *h, xg_codec_err kind, uint32_t code, const char *detail)
{
    if (h->errored)
        return;
    h->errored = true;
    h->dead = true;
    (void)nghttp2_session_terminate_session(h->s, code); /* may already be terminated */
    if (h->base.cb->on_error != NULL)
        h->base.cb->on_error(h->base.owner, NULL, 0, kind, detail);
    reset_all(h, XG_RESET_CONN_ERROR);
}

void xg__h2_abort(xg__h2 *h)
{
    h->local_goaway = true;
    h->dead = true;
    h->errored = true;
    /* Already terminated (or out of memory): the connection closes anyway. */
    (void)nghttp2_session_terminate_session(h->s, NGHTTP2_NO_ERROR);
    while (h->streams != NULL)
        detach(h, h->streams);
}

/* Stops nghttp2 from inside a callback: the fault is reported by feed. */
static int stop(xg__h2 *h, xg_codec_err kind, const char *detail)
{
    if (h->fatal == XG_CERR_NONE) {
        h->fatal = kind;
        h->fatal_detail = detail;
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* --- receiving --- */

#define ID_WINDOW 512 /* odd ids remembered below the highest */

static void id_bit(xg__h2 *h, uint32_t sid, bool on)
{
    uint32_t k = (sid >> 1) % ID_WINDOW;
    if (on)
        h->opened[k / 64] |= 1ull << (k % 64);
    else
        h->opened[k / 64] &= ~(1ull << (k % 64));
}

/* Server: a HEADERS frame opening sid. False for an id below the highest
 * that was skipped (never opened): an idle stream, which nghttp2 would just
 * ignore but RFC 9113 §5.1.1 makes a connection PROTOCOL_ERROR. */
static bool note_stream_id(xg__h2 *h, uint32_t sid)
{
    if (sid > h->highest_id) {
        if ((sid - h->highest_id) / 2 >= ID_WINDOW)
            memset(h->opened, 0, sizeof h->opened);
        else
            for (uint32_t id = h->highest_id + 2; id < sid; id += 2)
                id_bit(h, id, false);
        id_bit(h, sid, true);
        h->highest_id = sid;
        return true;
    }
    if ((h->highest_id - sid) / 2 >= ID_WINDOW)
        return true; /* too old to tell: nghttp2 ignores or rejects it */
    uint32_t k = (sid >> 1) % ID_WINDOW;
    return (h->opened[k / 64] >> (k % 64)) & 1;
}

/* CONTINUATION floods: nghttp2 caps the frame count (max_continuations); the
 * block's total size is capped here, before HPACK work is spent on it.
 * Every frame but HEADERS and DATA (counted where their padding is known)
 * goes through Envoy's inbound limits here: for some (CONTINUATION, frames
 * on closed streams) this is the only callback. */
static int on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd, void *ud)
{
    xg__h2 *h = H(ud);
    const char *flood = NULL;
    if (hd->type != NGHTTP2_HEADERS && hd->type != NGHTTP2_DATA &&
        (flood = xg__h2_track_inbound(h, hd->type, hd->flags, hd->length)) != NULL)
        return stop(h, XG_CERR_FLOOD, flood);
    if (hd->type == NGHTTP2_HEADERS) {
        h->block_bytes = (uint32_t)hd->length;
        h->block_frames = 1;
        if (h->base.role == XG_ROLE_SERVER && (hd->stream_id & 1) && !note_stream_id(h, (uint32_t)hd->stream_id))
            return stop(h, XG_CERR_PROTOCOL, "HEADERS on an idle stream below the highest stream id");
    } else if (hd->type == NGHTTP2_CONTINUATION) {
        h->block_bytes += (uint32_t)hd->length;
        h->block_frames++;
    } else {
        return 0;
    }
    if (h->block_bytes > 2u * h->opts.max_headers_kb * 1024 + 1024 || h->block_frames > h->opts.max_continuations + 1)
        return stop(h, XG_CERR_FLOOD, "header block flood");
    return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    xg__h2 *h = H(ud);
    bool request = h->base.role == XG_ROLE_SERVER && f->headers.cat == NGHTTP2_HCAT_REQUEST;
    h->n_opened += request;
    const char *flood = xg__h2_track_inbound(h, NGHTTP2_HEADERS, f->hd.flags, f->hd.length - f->headers.padlen);
    if (flood != NULL)
        return stop(h, XG_CERR_FLOOD, flood);
    if (request)
        return xg__h2_server_begin_headers(h, f);
    xg__h2_stream *st = xg__h2_stream_get(h, (uint32_t)f->hd.stream_id);
    if (st == NULL)
        return 0;
    st->too_large = false;
    st->in = xg_headers_new(st->arena);
    return st->in == NULL ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *ud)
{
    xg__h2 *h = H(ud);
    xg__h2_stream *st = xg__h2_stream_get(h, (uint32_t)f->hd.stream_id);
    if (st == NULL || st->in == NULL || st->too_large)
        return 0;
    xg_headers *in = st->in;
    if (in->n + 1 > h->opts.max_headers_count || in->bytes + nlen + vlen > (size_t)h->opts.max_headers_kb * 1024) {
        st->too_large = true; /* the rest of the block is decoded (HPACK state) and dropped */
        return 0;
    }
    int rc = (nlen > 0 && name[0] == ':')
                 ? xg_headers_set_pseudo(in, (const char *)name, nlen, (const char *)value, vlen)
                 : xg_headers_add_copy(in, (const char *)name, nlen, (const char *)value, vlen);
    return rc == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static void deliver_end(xg__h2 *h, xg__h2_stream *st)
{
    st->in_done = true;
    if (!st->rejected)
        h->base.cb->on_data(h->base.owner, st->user, st->id, NULL, 0, true);
}

static int headers_done(xg__h2 *h, const nghttp2_frame *f)
{
    xg__h2_stream *st = xg__h2_stream_get(h, (uint32_t)f->hd.stream_id);
    bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (st == NULL)
        return 0;
    if (!st->in_final) {
        st->in->version = 20;
        return h->base.role == XG_ROLE_SERVER ? xg__h2_server_headers_done(h, st, f)
                                              : xg__h2_client_headers_done(h, st, f);
    }
    /* Trailers: a second block that ends the stream (RFC 9113 §8.1). */
    st->in_done = true;
    if (st->too_large) {
        st->local_rst = true;
        return xg__h2_submit_rst(h, f->hd.stream_id, NGHTTP2_PROTOCOL_ERROR) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (st->rejected || !end)
        return 0;
    if (h->base.cb->on_trailers != NULL)
        h->base.cb->on_trailers(h->base.owner, st->user, st->id, st->in);
    else
        h->base.cb->on_data(h->base.owner, st->user, st->id, NULL, 0, true);
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    xg__h2 *h = H(ud);
    xg__h2_stream *st = f->hd.stream_id ? xg__h2_stream_get(h, (uint32_t)f->hd.stream_id) : NULL;
    switch (f->hd.type) {
    case NGHTTP2_DATA: {
        const char *flood = xg__h2_track_inbound(h, NGHTTP2_DATA, f->hd.flags, f->hd.length - f->data.padlen);
        if (flood != NULL)
            return stop(h, XG_CERR_FLOOD, flood);
        if (st != NULL && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
            deliver_end(h, st);
        return 0;
    }
    case NGHTTP2_HEADERS:
        return headers_done(h, f);
    case NGHTTP2_RST_STREAM:
        if (st != NULL)
            st->peer_reset = true;
        if (h->base.role == XG_ROLE_SERVER)
            xg__h2_server_on_rst(h, st);
        return h->fatal != XG_CERR_NONE ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
    case NGHTTP2_GOAWAY:
        h->peer_goaway = true;
        if (h->base.cb->on_goaway != NULL)
            h->base.cb->on_goaway(h->base.owner, (uint32_t)f->goaway.last_stream_id, f->goaway.error_code);
        return 0;
    default:
        return 0;
    }
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len, void *ud)
{
    xg__h2 *h = H(ud);
    xg__h2_stream *st = xg__h2_stream_get(h, (uint32_t)sid);
    if (st == NULL || st->rejected) {
        /* Nobody reads it: give the window back at once. */
        return nghttp2_session_consume(s, sid, len) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    st->unconsumed += len;
    h->base.cb->on_data(h->base.owner, st->user, st->id, (const char *)data, len, false);
    return 0;
}

static xg_reset_reason reason_for(xg__h2 *h, const xg__h2_stream *st, uint32_t code)
{
    if (code == NGHTTP2_REFUSED_STREAM)
        return XG_RESET_REFUSED;
    if (st->peer_reset)
        return XG_RESET_REMOTE;
    if (code == NGHTTP2_ENHANCE_YOUR_CALM || code == NGHTTP2_FLOW_CONTROL_ERROR)
        return XG_RESET_OVERFLOW;
    if (code == NGHTTP2_PROTOCOL_ERROR)
        return XG_RESET_PROTOCOL;
    return h->dead ? XG_RESET_CONN_ERROR : XG_RESET_LOCAL;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    xg__h2 *h = H(ud);
    xg__h2_stream *st = xg__h2_stream_get(h, (uint32_t)sid);
    if (st == NULL)
        return 0;
    /* A peer may end with RST_STREAM(NO_ERROR) once its side is complete
     * (RFC 9113 §8.1): still a normal end. */
    if (code == NGHTTP2_NO_ERROR && st->in_done && (st->out_done || st->peer_reset)) {
        void *user = st->user;
        detach(h, st);
        if (h->base.cb->on_stream_close != NULL)
            h->base.cb->on_stream_close(h->base.owner, user, (uint32_t)sid);
        return 0;
    }
    /* nghttp2 resets some invalid messages itself without telling
     * on_invalid_frame_recv (content-length vs DATA): the same connection
     * error as the others unless stream_error_on_invalid_http_message. */
    if (code == NGHTTP2_PROTOCOL_ERROR && !st->peer_reset && !st->local_rst && !h->dead &&
        !h->opts.stream_error_on_invalid_http_message) {
        xg__h2_fail(h, XG_CERR_PROTOCOL, NGHTTP2_PROTOCOL_ERROR, "invalid HTTP message");
        return 0;
    }
    report_reset(h, st, reason_for(h, st, code));
    return 0;
}

/* nghttp2 answers a connection error itself (GOAWAY, then it stops): this
 * is where the owner learns of it, as the GOAWAY leaves. */
static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    xg__h2 *h = H(ud);
    h->out_frames++;
    h->data_out += f->hd.type == NGHTTP2_DATA;
    xg__h2_frame_gone(h, f->hd.type);
    if (f->hd.type == NGHTTP2_HEADERS && h->base.role == XG_ROLE_CLIENT) {
        h->n_opened += f->headers.cat == NGHTTP2_HCAT_REQUEST;
        /* The request's stream exists in nghttp2 only now: attach it, unless
         * the owner reset it meanwhile (then it is no longer in our list). */
        xg__h2_stream *st = xg__h2_stream_get(h, (uint32_t)f->hd.stream_id);
        if (st != NULL)
            nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
        return 0;
    }
    if (f->hd.type != NGHTTP2_GOAWAY || f->goaway.error_code == NGHTTP2_NO_ERROR || h->errored)
        return 0;
    xg_codec_err kind = f->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM ? XG_CERR_FLOOD : XG_CERR_PROTOCOL;
    xg__h2_fail(h, kind, f->goaway.error_code, h->fatal_detail ? h->fatal_detail : "protocol error");
    return 0;
}

static int on_frame_not_send(nghttp2_session *s, const nghttp2_frame *f, int lib_error, void *ud)
{
    xg__h2_frame_gone(H(ud), f->hd.type);
    return 0;
}

static int on_error2(nghttp2_session *s, int code, const char *msg, size_t len, void *ud)
{
    xg__h2 *h = H(ud);
    if (h->fatal_detail == NULL)
        h->fatal_detail = "protocol error";
    return 0;
}

/* --- sending --- */

static ssize_t read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
                       nghttp2_data_source *src, void *ud)
{
    xg__h2 *h = H(ud);
    xg__h2_stream *st = xg__h2_stream_get(h, (uint32_t)sid);
    if (st == NULL)
        return NGHTTP2_ERR_DEFERRED; /* reset by the owner: RST_STREAM is on its way */
    size_t avail = st->sendq.len - st->sendq_off;
    size_t k = avail < length ? avail : length;
    if (k > 0) {
        memcpy(buf, st->sendq.data + st->sendq_off, k);
        st->sendq_off += k;
        if (st->sendq_off == st->sendq.len)
            sendq_release(st, false);
    }
    if (k == avail && st->out_done) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        st->out_end_sent = true;
        if (st->trailers != NULL) {
            nghttp2_nv nvb[64], *nva;
            size_t n;
            char sb[4];
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            if (xg__h2_build_nv(st->trailers, XG__H2_TRAILERS, nvb, 64, &nva, &n, sb) != 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the stream is reset */
            int rc = nghttp2_submit_trailer(s, sid, nva, n);
            if (nva != nvb)
                free(nva);
            if (rc != 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
    } else if (k == 0) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (st->send_blocked && st->sendq.len - st->sendq_off < h->opts.send_buffer_limit / 2) {
        st->send_blocked = false;
        if (h->base.cb->on_send_ready != NULL)
            h->base.cb->on_send_ready(h->base.owner, st->user, st->id);
    }
    return (ssize_t)k;
}

const nghttp2_data_source_read_callback xg__h2_read_cb = read_cb;

static bool forbidden(const xg_header *e)
{
    switch (e->id) {
    case XG_HDR_CONNECTION:
    case XG_HDR_KEEP_ALIVE:
    case XG_HDR_PROXY_CONNECTION:
    case XG_HDR_TRANSFER_ENCODING:
    case XG_HDR_UPGRADE:
    case XG_HDR_HOST:
    case XG_HDR_HTTP2_SETTINGS:
        return true;
    case XG_HDR_TE:
        return !xg_hdr_name_eq(e->value, e->value_len, "trailers", 8);
    default:
        return false;
    }
}

static void nv_put(nghttp2_nv *nv, const char *name, size_t nlen, const char *value, size_t vlen, uint8_t flags)
{
    nv->name = (uint8_t *)(uintptr_t)name;
    nv->namelen = nlen;
    nv->value = (uint8_t *)(uintptr_t)(value ? value : "");
    nv->valuelen = vlen;
    nv->flags = flags;
}

static size_t put_request_pseudo(const xg_headers *hd, nghttp2_nv *nv)
{
    size_t i = 0;
    nv_put(&nv[i++], ":method", 7, hd->method.s, hd->method.len, NGHTTP2_NV_FLAG_NONE);
    if (hd->method_id != XG_METHOD_CONNECT || hd->protocol.len > 0) {
        const char *sc = hd->scheme.len ? hd->scheme.s : "http";
        nv_put(&nv[i++], ":scheme", 7, sc, hd->scheme.len ? hd->scheme.len : 4, NGHTTP2_NV_FLAG_NONE);
        nv_put(&nv[i++], ":path", 5, hd->path.s, hd->path.len, NGHTTP2_NV_FLAG_NONE);
    }
    if (hd->authority.len > 0)
        nv_put(&nv[i++], ":authority", 10, hd->authority.s, hd->authority.len, NGHTTP2_NV_FLAG_NONE);
    if (hd->protocol.len > 0)
        nv_put(&nv[i++], ":protocol", 9, hd->protocol.s, hd->protocol.len, NGHTTP2_NV_FLAG_NONE);
    return i;
}

int xg__h2_build_nv(const xg_headers *hd, xg__h2_block kind, nghttp2_nv *nv_buf, size_t cap, nghttp2_nv **nva,
                    size_t *n, char *status_buf)
{
    size_t need = hd->n + 5, i = 0;
    nghttp2_nv *nv = need <= cap ? nv_buf : malloc(need * sizeof *nv);
    if (nv == NULL)
        return XG_ENOMEM;
    if (kind == XG__H2_REQUEST) {
        if (hd->method.len == 0 || (hd->method_id != XG_METHOD_CONNECT && hd->path.len == 0))
            goto fail;
        i = put_request_pseudo(hd, nv);
    } else if (kind == XG__H2_RESPONSE) {
        if (hd->status < 100 || hd->status > 999)
            goto fail;
        /* Three digits by hand: snprintf costs ~700 instructions a response. */
        status_buf[0] = (char)('0' + hd->status / 100);
        status_buf[1] = (char)('0' + hd->status / 10 % 10);
        status_buf[2] = (char)('0' + hd->status % 10);
        status_buf[3] = '\0';
        nv_put(&nv[i++], ":status", 7, status_buf, 3, NGHTTP2_NV_FLAG_NONE);
    }
    for (uint32_t k = 0; k < hd->n; k++) {
        const xg_header *e = &hd->v[k];
        if (forbidden(e))
            continue;
        uint8_t fl = (e->flags & XG_HDR_F_SENSITIVE) ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
        nv_put(&nv[i++], e->name, e->name_len, e->value, e->value_len, fl);
    }
    *nva = nv;
    *n = i;
    return 0;
fail:
    if (nv != nv_buf)
        free(nv);
    return XG_EINVAL;
}

/* Marks st blocked when its queue reached the limit (on_send_ready owed). */
static void note_sent(xg__h2 *h, xg__h2_stream *st)
{
    if (st->sendq.len - st->sendq_off >= h->opts.send_buffer_limit)
        st->send_blocked = true;
}

static void wake(xg__h2 *h, xg__h2_stream *st)
{
    if (st->deferred) {
        st->deferred = false;
        /* Fails only when nghttp2 has no such stream yet (a request still
         * queued): its data provider is called anyway once it opens. */
        (void)nghttp2_session_resume_data(h->s, (int32_t)st->id);
    }
}

int xg__h2_send_data(xg_codec *c, uint32_t sid, const void *p, size_t n, bool end_stream)
{
    xg__h2 *h = (xg__h2 *)c;
    xg__h2_stream *st = xg__h2_stream_get(h, sid);
    if (st == NULL || !st->has_provider || st->out_done)
        return XG_EINVAL;
    if (n > 0 && sendq_append(st, p, n) != 0)
        return XG_ENOMEM;
    if (end_stream)
        st->out_done = true;
    note_sent(h, st);
    wake(h, st);
    return 0;
}

int xg__h2_send_trailers(xg_codec *c, uint32_t sid, const xg_headers *t)
{
    xg__h2 *h = (xg__h2 *)c;
    xg__h2_stream *st = xg__h2_stream_get(h, sid);
    if (st == NULL || !st->has_provider || st->out_done)
        return XG_EINVAL;
    if (t != NULL && t->n > 0 && (st->trailers = xg_headers_clone(st->arena, t)) == NULL)
        return XG_ENOMEM;
    st->out_done = true;
    wake(h, st);
    return 0;
}

static uint32_t code_for(xg_reset_reason r)
{
    switch (r) {
    case XG_RESET_REFUSED:
        return NGHTTP2_REFUSED_STREAM;
    case XG_RESET_PROTOCOL:
        return NGHTTP2_PROTOCOL_ERROR;
    case XG_RESET_OVERFLOW:
        return NGHTTP2_ENHANCE_YOUR_CALM;
    case XG_RESET_CONN_CLOSED:
    case XG_RESET_CONN_ERROR:
        return NGHTTP2_INTERNAL_ERROR;
    default:
        return NGHTTP2_CANCEL;
    }
}

void xg__h2_reset(xg_codec *c, uint32_t sid, xg_reset_reason r)
{
    xg__h2 *h = (xg__h2 *)c;
    xg__h2_stream *st = xg__h2_stream_get(h, sid);
    if (st == NULL)
        return;
    uint64_t unconsumed = st->unconsumed;
    detach(h, st);
    /* Bytes delivered but never to be consumed still count against the connection window. */
    if (xg__h2_submit_rst(h, (int32_t)sid, code_for(r)) != 0 ||
        (unconsumed > 0 && nghttp2_session_consume_connection(h->s, (size_t)unconsumed) != 0))
        h->dead = true; /* out of memory: the connection cannot be trusted to progress */
}

void xg__h2_consumed(xg_codec *c, uint32_t sid, size_t n)
{
    xg__h2 *h = (xg__h2 *)c;
    xg__h2_stream *st = xg__h2_stream_get(h, sid);
    if (st == NULL || n == 0)
        return;
    n = n < st->unconsumed ? n : (size_t)st->unconsumed;
    st->unconsumed -= n;
    /* The stream may be gone in nghttp2 (closed): the connection window still counts. */
    if (nghttp2_session_consume(h->s, (int32_t)sid, n) != 0 && nghttp2_session_consume_connection(h->s, n) != 0)
        h->dead = true;
}

size_t xg__h2_pending(xg_codec *c, uint32_t sid)
{
    xg__h2_stream *st = xg__h2_stream_get((xg__h2 *)c, sid);
    return st == NULL ? 0 : st->sendq.len - st->sendq_off;
}

void xg__h2_pause(xg_codec *c, bool paused)
{
    ((xg__h2 *)c)->paused = paused;
}

bool xg__h2_can_feed(const xg_codec *c)
{
    return !((const xg__h2 *)c)->paused;
}

bool xg__h2_want_write(const xg_codec *c)
{
    const xg__h2 *h = (const xg__h2 *)c;
    return h->out_off < h->out.len || nghttp2_session_want_write(h->s);
}

bool xg__h2_should_close(const xg_codec *c)
{
    const xg__h2 *h = (const xg__h2 *)c;
    return h->dead || (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s));
}

uint32_t xg__h2_active_streams(const xg_codec *c)
{
    return ((const xg__h2 *)c)->n_streams;
}

/* --- the connection --- */

int xg__h2_feed(xg_codec *c, const char *p, size_t n, size_t *used)
{
    xg__h2 *h = (xg__h2 *)c;
    *used = 0;
    if (p == NULL) {
        h->dead = true;
        reset_all(h, XG_RESET_CONN_CLOSED);
        return 0;
    }
    if (h->dead) {
        *used = n;
        return 0;
    }
    if (h->paused)
        return 0;
    ssize_t rv = nghttp2_session_mem_recv(h->s, (const uint8_t *)p, n);
    const char *flood = rv >= 0 ? xg__h2_check_outbound(h) : NULL;
    if (flood != NULL && h->fatal == XG_CERR_NONE) {
        h->fatal = XG_CERR_FLOOD;
        h->fatal_detail = flood;
    }
    if (rv < 0 || flood != NULL) {
        xg_codec_err kind = h->fatal != XG_CERR_NONE    ? h->fatal
                            : rv == NGHTTP2_ERR_FLOODED ? XG_CERR_FLOOD
                                                        : XG_CERR_PROTOCOL;
        uint32_t code = h->fatal_code != 0      ? h->fatal_code
                        : kind == XG_CERR_FLOOD ? NGHTTP2_ENHANCE_YOUR_CALM
                                                : NGHTTP2_PROTOCOL_ERROR;
        xg__h2_fail(h, kind, code, h->fatal_detail ? h->fatal_detail : nghttp2_strerror((int)rv));
        *used = n;
        return XG_EIO;
    }
    *used = (size_t)rv;
    return 0;
}

size_t xg__h2_output(xg_codec *c, struct iovec *iov, size_t max)
{
    xg__h2 *h = (xg__h2 *)c;
    /* The owner's sends queue frames too (responses to requests the peer
     * keeps sending without reading them). */
    const char *flood = h->dead ? NULL : xg__h2_check_outbound(h);
    if (flood != NULL)
        xg__h2_fail(h, XG_CERR_FLOOD, NGHTTP2_ENHANCE_YOUR_CALM, flood);
    if (h->out_off == h->out.len) {
        xg_buf_reset(&h->out);
        h->out_off = 0;
        while (h->out.len < OUT_CHUNK) {
            const uint8_t *d;
            ssize_t k = nghttp2_session_mem_send(h->s, &d);
            if (k <= 0 || xg_buf_append(&h->out, d, (size_t)k) != 0) {
                if (k < 0)
                    xg__h2_fail(h, XG_CERR_INTERNAL, NGHTTP2_INTERNAL_ERROR, nghttp2_strerror((int)k));
                break;
            }
        }
    }
    if (max == 0 || h->out_off == h->out.len)
        return 0;
    iov[0].iov_base = h->out.data + h->out_off;
    iov[0].iov_len = h->out.len - h->out_off;
    return 1;
}

void xg__h2_output_done(xg_codec *c, size_t n)
{
    xg__h2 *h = (xg__h2 *)c;
    XG_ASSERT(n <= h->out.len - h->out_off);
    h->out_off += n;
    if (h->out_off == h->out.len) {
        h->out_frames = 0; /* all written (counted per chunk: a partial write keeps them all) */
        if (h->out.cap > XG_CODEC_OUT_KEEP) { /* as HTTP/1: no large buffer kept while idle */
            xg_buf_dispose(&h->out);
            h->out_off = 0;
        }
    }
}

/* An idle connection keeps no output buffer and none of the pages nghttp2
 * holds for frames and streams in flight (http2_mem.c); the next frame
 * faults them back in. Only with everything written and nothing queued:
 * a frame half handed out still lives in nghttp2's frame buffer. */
size_t xg__h2_trim(xg_codec *c)
{
    xg__h2 *h = (xg__h2 *)c;
    if (h->dead || h->out_off < h->out.len)
        return 0;
    size_t given = h->out.cap;
    xg_buf_dispose(&h->out);
    h->out_off = 0;
    bool frames_idle = !nghttp2_session_want_write(h->s) && nghttp2_session_want_read(h->s);
    return given + xg__h2_mem_trim(&h->mem, frames_idle);
}

void xg__h2_free(xg_codec *c)
{
    xg__h2 *h = (xg__h2 *)c;
    xg__h2_dispose(h);
    free(h);
}

void xg__h2_dispose(xg__h2 *h)
{
    while (h->streams != NULL)
        detach(h, h->streams);
    nghttp2_session_del(h->s);
    xg_buf_dispose(&h->out);
}

static int set_callbacks(nghttp2_session_callbacks **cbs)
{
    if (nghttp2_session_callbacks_new(cbs) != 0)
        return XG_ENOMEM;
    nghttp2_session_callbacks_set_on_begin_frame_callback(*cbs, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(*cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(*cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(*cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(*cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(*cbs, on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(*cbs, on_error2);
    nghttp2_session_callbacks_set_on_frame_send_callback(*cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(*cbs, xg__h2_on_invalid_frame);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(*cbs, on_frame_not_send);
    return 0;
}

static int set_options(nghttp2_option **opt, const xg_codec_opts *o)
{
    if (nghttp2_option_new(opt) != 0)
        return XG_ENOMEM;
    nghttp2_option_set_no_auto_window_update(*opt, 1);
    /* nghttp2 otherwise keeps closed streams (224 B each) for the RFC 7540
     * priority tree, which nothing here reads: memory per idle connection. */
    nghttp2_option_set_no_closed_streams(*opt, 1);
    nghttp2_option_set_max_outbound_ack(*opt, o->max_outbound_control_frames);
    nghttp2_option_set_max_settings(*opt, o->max_settings);
    nghttp2_option_set_max_continuations(*opt, o->max_continuations);
    nghttp2_option_set_stream_reset_rate_limit(*opt, 4ull * o->max_resets_per_sec, o->max_resets_per_sec);
    nghttp2_option_set_max_deflate_dynamic_table_size(*opt, o->hpack_table_size);
    return 0;
}

static int submit_settings(xg__h2 *h)
{
    const xg_codec_opts *o = &h->opts;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, o->max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, o->stream_window},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, o->hpack_table_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, o->max_headers_kb * 1024},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    size_t n = sizeof iv / sizeof iv[0] - (h->base.role == XG_ROLE_SERVER ? 1 : 0);
    if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, n) != 0)
        return XG_ENOMEM;
    /* The connection window starts at 65535 whatever SETTINGS say: raise it. */
    if (o->conn_window > 65535 &&
        nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0, (int32_t)o->conn_window) != 0)
        return XG_ENOMEM;
    return 0;
}

int xg__h2_init(xg__h2 *h, xg_codec_role role, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner)
{
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    int rc = XG_ENOMEM;
    memset(h, 0, sizeof *h);
    h->base.cb = cb;
    h->base.owner = owner;
    h->base.proto = XG_PROTO_HTTP2;
    h->base.role = role;
    h->opts = *o;
    xg_buf_init(&h->out);
    if (set_callbacks(&cbs) != 0 || set_options(&opt, o) != 0)
        goto fail;
    nghttp2_mem mem;
    xg__h2_mem_init(&h->mem, &mem);
    h->mem.creating = true;
    rc = role == XG_ROLE_SERVER ? nghttp2_session_server_new3(&h->s, cbs, h, opt, &mem)
                                : nghttp2_session_client_new3(&h->s, cbs, h, opt, &mem);
    h->mem.creating = false;
    if (rc != 0) {
        rc = XG_ENOMEM;
        goto fail;
    }
    rc = submit_settings(h);
    if (rc != 0) {
        nghttp2_session_del(h->s);
        h->s = NULL;
    }
fail:
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    return rc;
}
