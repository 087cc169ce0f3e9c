/* The two directions of a stream's HTTP filter chain: decode (request
 * headers, body, trailers through filters 0..n-1) and encode (response
 * through the filters before its source, downwards, then to the codec). A
 * filter that returns STOP holds its direction: later items are kept in
 * order (body bytes copied into one buffer, consecutive stretches merged)
 * with the filter each must resume at, and replayed on continue. The fast
 * path (nothing stopped, nothing held) passes borrowed bytes straight
 * through without a copy. */
#include <string.h>

#include "core/error.h"
#include "http/hcm_int.h"
#include "upstream/resp_flags.h"

/* --- held items --- */

static int hold(xg_stream *s, xg__pipe *p, int32_t from, const char *b, size_t n, bool end, xg_headers *t)
{
    xg__held *tail = p->held_tail;
    if (t == NULL && tail != NULL && tail->trailers == NULL && !tail->end && tail->from == from &&
        tail->off + tail->len == p->bytes.len) {
        if (xg_buf_append(&p->bytes, b, n) != 0)
            return XG_ENOMEM;
        tail->len += (uint32_t)n;
        tail->end = end;
        return 0;
    }
    xg__held *h = xg_arena_alloc(&s->arena, sizeof(*h));
    if (h == NULL || (n > 0 && xg_buf_append(&p->bytes, b, n) != 0))
        return XG_ENOMEM;
    *h = (xg__held){
        .from = from, .end = end || t != NULL, .off = (uint32_t)(p->bytes.len - n), .len = (uint32_t)n, .trailers = t};
    if (tail != NULL)
        tail->next = h;
    else
        p->held = h;
    p->held_tail = h;
    return 0;
}

static void pop(xg__pipe *p)
{
    xg__held *h = p->held;
    p->held = h->next;
    if (p->held == NULL) {
        p->held_tail = NULL;
        xg_buf_reset(&p->bytes);
    }
    if (h->end)
        p->ended = true;
}

void xg__pipe_dispose(xg__pipe *p)
{
    p->held = p->held_tail = NULL;
    xg_buf_dispose(&p->bytes);
}

static bool halted(const xg_stream *s, const xg__pipe *p)
{
    return s->ended || p->stopped || (p == &s->dec && s->dec_abandoned);
}

/* --- decode --- */

static xg_filter_status dec_item(xg_filter *f, xg__pipe *p, xg__held *h)
{
    if (h->trailers != NULL)
        return f->vt->decode_trailers != NULL ? f->vt->decode_trailers(f, h->trailers) : XG_FILTER_CONTINUE;
    if (f->vt->decode_data == NULL)
        return XG_FILTER_CONTINUE;
    return f->vt->decode_data(f, p->bytes.data + h->off, h->len, h->end);
}

/* --- buffering (XG_FILTER_STOP_AND_BUFFER): the headers wait at filter
 * hdr_at - 1, body items go on up to it and are parked there (from ==
 * hdr_at), acknowledged to the client, merged into one stretch --- */

static void park_merge(xg__pipe *p, xg__held *h)
{
    xg__held *prev = p->held;
    if (prev == h || prev->next != h || prev->from != h->from || prev->trailers != NULL || h->trailers != NULL ||
        prev->end || prev->acked != h->acked || prev->off + prev->len != h->off)
        return;
    prev->len += h->len;
    prev->end = h->end;
    prev->next = h->next;
    if (p->held_tail == h)
        p->held_tail = prev;
}

/* h reached the buffering filter, which kept it. */
static void park(xg_stream *s, xg__pipe *p, xg__held *h, bool ack)
{
    uint32_t n = h->len;
    if (ack && n > 0) {
        p->buffered += n;
        if (p->buffered > s->dec_limit) {
            xg__stream_local_reply(s, p->hdr_at, 413, "Payload Too Large", 0, "request_payload_too_large");
            return;
        }
        h->acked = true;
    }
    park_merge(p, h);
    if (ack && n > 0) {
        s->rx_preacked += n;
        xg__stream_consumed(s, n); /* may feed more bytes in: nothing is touched after this */
    }
}

/* One step of the body towards the buffering filter; false when nothing can
 * move (no new item, or a filter before it holds the body). */
static bool buf_step(xg_stream *s, xg__pipe *p)
{
    xg__held *h = p->held;
    while (h != NULL && h->from >= p->hdr_at)
        h = h->next;
    if (h == NULL || p->inner_stop)
        return false;
    bool at_buffering = h->from + 1 == p->hdr_at;
    xg_filter_status r = dec_item(s->filters[h->from++], p, h);
    if (s->ended || s->dec_abandoned)
        return false;
    if (!at_buffering) {
        p->inner_stop = r != XG_FILTER_CONTINUE; /* its filter resumes with xg_filter_continue_decoding */
        return true;
    }
    if (r == XG_FILTER_CONTINUE)
        p->buffering = p->stopped = false; /* headers, kept bytes and h go on in order */
    else
        park(s, p, h, r == XG_FILTER_STOP_AND_BUFFER);
    return true;
}

/* Runs the decode direction until it is empty or a filter stops it. */
static void dec_run(xg_stream *s)
{
    xg__pipe *p = &s->dec;
    while (!s->ended && !s->dec_abandoned) {
        if (p->buffering) {
            if (!buf_step(s, p))
                return;
            continue;
        }
        if (p->stopped)
            return;
        if (!p->hdr_done) {
            if (!p->hdr_in)
                return;
            if (p->hdr_at >= s->n_filters) {
                p->hdr_done = true;
                p->ended = p->ended || p->hdr_end;
                continue;
            }
            xg_filter *f = s->filters[p->hdr_at++];
            xg_filter_status r =
                f->vt->decode_headers != NULL ? f->vt->decode_headers(f, s->req, p->hdr_end) : XG_FILTER_CONTINUE;
            /* The last filter (the router) stopping ends nothing: nothing comes after it. */
            if (r != XG_FILTER_CONTINUE && p->hdr_at < s->n_filters) {
                p->stopped = true;
                p->buffering = r == XG_FILTER_STOP_AND_BUFFER && !p->hdr_end;
            }
            continue;
        }
        xg__held *h = p->held;
        if (h == NULL)
            return;
        if (h->from >= s->n_filters) {
            pop(p);
            continue;
        }
        if (dec_item(s->filters[h->from++], p, h) != XG_FILTER_CONTINUE && h->from < s->n_filters)
            p->stopped = true;
    }
}

void xg__pipe_decode_headers(xg_stream *s, bool end_stream)
{
    s->dec.hdr_in = true;
    s->dec.hdr_at = 0;
    s->dec.hdr_end = end_stream;
    dec_run(s);
}

static void dec_fail(xg_stream *s)
{
    xg__stream_local_reply(s, 0, 500, NULL, 0, "internal_error");
}

void xg__pipe_decode_data(xg_stream *s, const char *b, size_t n, bool end)
{
    xg__pipe *p = &s->dec;
    if (s->ended || s->dec_abandoned)
        return;
    if (!p->hdr_done || p->stopped || p->held != NULL) {
        if (hold(s, p, 0, b, n, end, NULL) != 0)
            dec_fail(s);
        else if (p->buffering)
            dec_run(s);
        return;
    }
    for (uint16_t i = 0; i < s->n_filters; i++) {
        xg_filter *f = s->filters[i];
        if (f->vt->decode_data == NULL || f->vt->decode_data(f, b, n, end) == XG_FILTER_CONTINUE ||
            i + 1 == s->n_filters) {
            if (halted(s, p))
                return;
            continue;
        }
        if (!halted(s, p) && hold(s, p, i + 1, b, n, end, NULL) != 0)
            dec_fail(s);
        p->stopped = true;
        return;
    }
    p->ended = p->ended || end;
}

void xg__pipe_decode_trailers(xg_stream *s, xg_headers *t)
{
    if (s->ended || s->dec_abandoned)
        return;
    if (hold(s, &s->dec, 0, NULL, 0, true, t) != 0) {
        dec_fail(s);
        return;
    }
    dec_run(s);
}

/* --- encode --- */

static xg_filter_status enc_item(xg_filter *f, xg__pipe *p, xg__held *h)
{
    if (h->trailers != NULL)
        return f->vt->encode_trailers != NULL ? f->vt->encode_trailers(f, h->trailers) : XG_FILTER_CONTINUE;
    if (f->vt->encode_data == NULL)
        return XG_FILTER_CONTINUE;
    return f->vt->encode_data(f, p->bytes.data + h->off, h->len, h->end);
}

static void sink_item(xg_stream *s, xg__pipe *p, xg__held *h)
{
    if (h->trailers != NULL)
        xg__stream_sink_trailers(s, h->trailers);
    else
        xg__stream_sink_data(s, p->bytes.data + h->off, h->len, h->end);
}

static void enc_run(xg_stream *s)
{
    xg__pipe *p = &s->enc;
    while (!halted(s, p)) {
        if (!p->hdr_done) {
            if (!p->hdr_in)
                return;
            if (p->hdr_at < 0) {
                p->hdr_done = true;
                xg__stream_sink_headers(s, s->resp, p->hdr_end);
                continue;
            }
            xg_filter *f = s->filters[p->hdr_at--];
            if (f->vt->encode_headers != NULL && f->vt->encode_headers(f, s->resp, p->hdr_end) == XG_FILTER_STOP)
                p->stopped = true;
            continue;
        }
        xg__held *h = p->held;
        if (h == NULL)
            return;
        if (h->from < 0) {
            sink_item(s, p, h);
            if (!s->ended)
                pop(p);
            if (p->held == NULL)
                xg__stream_on_send_ready(s); /* the hold is gone: the source may go on */
            continue;
        }
        if (enc_item(s->filters[h->from--], p, h) == XG_FILTER_STOP)
            p->stopped = true;
    }
}

void xg__pipe_encode_headers(xg_stream *s, int from, xg_headers *h, bool end_stream)
{
    xg__pipe *p = &s->enc;
    xg__pipe_dispose(p);
    *p = (xg__pipe){.hdr_in = true, .hdr_at = from, .hdr_end = end_stream};
    xg_buf_init(&p->bytes);
    s->resp = h;
    enc_run(s);
}

static void enc_fail(xg_stream *s)
{
    xg__stream_reset(s, XG_RF_LR, "internal_error");
}

void xg__pipe_encode_data(xg_stream *s, int from, const char *b, size_t n, bool end)
{
    xg__pipe *p = &s->enc;
    if (s->ended)
        return;
    if (!p->hdr_done || p->stopped || p->held != NULL) {
        if (hold(s, p, from, b, n, end, NULL) != 0)
            enc_fail(s);
        return;
    }
    for (int i = from; i >= 0; i--) {
        xg_filter *f = s->filters[i];
        if (f->vt->encode_data == NULL || f->vt->encode_data(f, b, n, end) == XG_FILTER_CONTINUE) {
            if (halted(s, p))
                return;
            continue;
        }
        if (!halted(s, p) && hold(s, p, i - 1, b, n, end, NULL) != 0)
            enc_fail(s);
        p->stopped = true;
        return;
    }
    xg__stream_sink_data(s, b, n, end);
}

void xg__pipe_encode_trailers(xg_stream *s, int from, xg_headers *t)
{
    if (s->ended)
        return;
    if (hold(s, &s->enc, from, NULL, 0, true, t) != 0) {
        enc_fail(s);
        return;
    }
    enc_run(s);
}

/* --- the filter API (filters/filter.h) --- */

void xg_filter_continue_decoding(xg_filter *f)
{
    xg_stream *s = f->stream;
    xg__pipe *p = &s->dec;
    if (s->ended)
        return;
    if (p->buffering && (int)f->index + 1 < p->hdr_at) {
        if (!p->inner_stop)
            return;
        p->inner_stop = false;
    } else {
        if (!p->stopped)
            return;
        /* The buffering filter resumes while one before it still holds a
         * body item: that hold becomes the plain stop it is (the item waits
         * for its filter's own continue). */
        p->stopped = p->buffering && p->inner_stop;
        p->buffering = p->inner_stop = false;
        if (p->stopped)
            return;
    }
    dec_run(s);
    xg__hconn_pump(s->hc);
}

void xg_filter_continue_encoding(xg_filter *f)
{
    xg_stream *s = f->stream;
    if (!s->enc.stopped || s->ended)
        return;
    s->enc.stopped = false;
    enc_run(s);
    xg__hconn_pump(s->hc);
}

void xg_filter_local_reply(xg_filter *f, int status, const char *body, uint32_t flags, const char *details)
{
    xg__stream_local_reply(f->stream, f->index, status, body, flags, details);
}

void xg_filter_local_reply_seen(xg_filter *f, int status, const char *body, uint32_t flags, const char *details)
{
    xg__stream_local_reply(f->stream, f->index + 1, status, body, flags, details);
}

void xg_filter_encode_headers(xg_filter *f, xg_headers *h, bool end_stream)
{
    xg__pipe_encode_headers(f->stream, (int)f->index - 1, h, end_stream);
}

void xg_filter_encode_data(xg_filter *f, const char *p, size_t n, bool end_stream)
{
    xg__pipe_encode_data(f->stream, (int)f->index - 1, p, n, end_stream);
}

void xg_filter_encode_trailers(xg_filter *f, xg_headers *t)
{
    xg__pipe_encode_trailers(f->stream, (int)f->index - 1, t);
}

void xg_filter_request_consumed(xg_filter *f, size_t n)
{
    xg_stream *s = f->stream;
    size_t early = n < s->rx_preacked ? n : s->rx_preacked; /* buffered bytes were acknowledged already */
    s->rx_preacked -= (uint32_t)early;
    xg__stream_consumed(s, n - early);
}

void xg_filter_set_decoder_buffer_limit(xg_filter *f, uint32_t bytes)
{
    f->stream->dec_limit = bytes;
}

bool xg_filter_downstream_blocked(const xg_filter *f)
{
    const xg_stream *s = f->stream;
    if (s->enc.stopped || s->enc.held != NULL)
        return true;
    return !s->codec_done && xg_codec_pending(s->hc->codec, s->sid) >= s->hc->send_limit;
}

void xg_filter_reset_stream(xg_filter *f, uint32_t flags, const char *details)
{
    xg__stream_reset(f->stream, flags, details);
}
