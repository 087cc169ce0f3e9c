/* HTTP/1 output, both roles: owned bytes (heads, chunk framing, copied
 * bodies) in one buffer, and body bytes queued by reference to the pool
 * block a connection read them into, so a large body crosses the proxy with
 * no user-space copy. A short span queue keeps the two kinds in order; with
 * none queued (small bodies, bytes a filter made, bodies from an HTTP/2
 * codec) the buffer alone is the output, one iovec, as before spans. */
#include <string.h>

#include "codec/http1_int.h"
#include "core/assert.h"
#include "core/bufpool.h"
#include "core/error.h"

static xg__h1_span *span_at(xg__h1 *h, unsigned i)
{
    return &h->spans[(h->span_head + i) % XG__H1_SPANS];
}

/* n owned bytes were appended: they extend the last owned piece, or follow
 * a referenced one as a new piece (try_ref left a slot for it). */
static void note_owned(xg__h1 *h, size_t n)
{
    if (h->span_n == 0 || n == 0)
        return;
    xg__h1_span *last = span_at(h, h->span_n - 1u);
    if (last->p == NULL) {
        last->len += n;
        return;
    }
    XG_ASSERT(h->span_n < XG__H1_SPANS);
    *span_at(h, h->span_n++) = (xg__h1_span){.len = n};
}

/* The written prefix of the buffer goes before it grows. */
static void reclaim(xg__h1 *h)
{
    if (h->out_off > 0 && h->out_off == h->out.len) {
        xg_buf_reset(&h->out);
        h->out_off = 0;
    }
}

int xg__h1_out(xg__h1 *h, const void *p, size_t n)
{
    reclaim(h);
    int rc = xg_buf_append(&h->out, p, n);
    if (rc == 0)
        note_owned(h, n);
    return rc;
}

char *xg__h1_out_reserve(xg__h1 *h, size_t n)
{
    reclaim(h);
    if (xg_buf_reserve(&h->out, n) != 0)
        return NULL;
    char *p = h->out.data + h->out.len;
    h->out.len += n;
    h->out.data[h->out.len] = '\0';
    note_owned(h, n);
    return p;
}

/* Queues p[0..n) by reference when it is in the block being announced and
 * fills at least half of it (xg_bufpool_try_lend), while a referenced piece
 * and an owned one after it still fit in the queue. */
static bool try_ref(xg__h1 *h, const void *p, size_t n)
{
    if (h->span_n > XG__H1_SPANS - 2)
        return false;
    void *b = xg_bufpool_try_lend(p, n);
    if (b == NULL)
        return false;
    size_t owned = h->out.len - h->out_off;
    if (h->span_n == 0) {
        h->span_head = 0;
        if (owned > 0)
            h->spans[h->span_n++] = (xg__h1_span){.len = owned};
    }
    *span_at(h, h->span_n++) = (xg__h1_span){.p = p, .block = b, .len = n};
    h->ref_bytes += n;
    return true;
}

int xg__h1_out_body(xg__h1 *h, const void *p, size_t n, size_t room)
{
    if (n == 0 || try_ref(h, p, n))
        return 0;
    /* A sliver of a read block (the body's start after a head) is copied as
     * it is: the rest of the body will mostly go by reference, and a buffer
     * sized for all of it would be malloc'ed and freed per response. */
    bool sized = room > n && !xg_bufpool_in_lendable(p);
    if (sized && h->out.cap - h->out.len <= n && xg_buf_reserve(&h->out, room) != 0)
        return XG_ENOMEM;
    return xg__h1_out(h, p, n);
}

void xg__h1_out_truncate(xg__h1 *h, size_t len)
{
    if (h->out.data == NULL || len >= h->out.len)
        return;
    XG_ASSERT(len >= h->out_off);
    size_t cut = h->out.len - len;
    if (h->span_n > 0) { /* the cut bytes were the last ones appended */
        xg__h1_span *last = span_at(h, h->span_n - 1u);
        XG_ASSERT(last->p == NULL && last->len >= cut);
        last->len -= cut;
        if (last->len == 0)
            h->span_n--;
    }
    h->out.len = len;
    h->out.data[len] = '\0';
}

void xg__h1_out_drop(xg__h1 *h)
{
    for (unsigned i = 0; i < h->span_n; i++)
        xg_bufpool_unref(span_at(h, i)->block);
    h->span_n = h->span_head = 0;
    h->ref_bytes = 0;
    xg_buf_reset(&h->out);
    h->out_off = 0;
}

size_t xg__h1_out_pending(const xg__h1 *h)
{
    return h->out.len - h->out_off + h->ref_bytes;
}

size_t xg__h1_output(xg_codec *c, struct iovec *iov, size_t max)
{
    xg__h1 *h = (xg__h1 *)c;
    xg__h1_flush_events(h);
    if (h->span_n == 0) {
        if (max == 0 || h->out_off >= h->out.len)
            return 0;
        iov[0].iov_base = h->out.data + h->out_off;
        iov[0].iov_len = h->out.len - h->out_off;
        return 1;
    }
    size_t k = 0, at = h->out_off;
    for (unsigned i = 0; i < h->span_n && k < max; i++, k++) {
        const xg__h1_span *s = span_at(h, i);
        iov[k].iov_base = s->p != NULL ? (void *)s->p : h->out.data + at;
        iov[k].iov_len = s->len;
        at += s->p == NULL ? s->len : 0;
    }
    return k;
}

/* n written bytes off the front of the queue; a referenced block goes back
 * once its piece is all written. */
static void consume_spans(xg__h1 *h, size_t n)
{
    while (n > 0) {
        XG_ASSERT(h->span_n > 0);
        xg__h1_span *s = span_at(h, 0);
        size_t k = n < s->len ? n : s->len;
        if (s->p == NULL) {
            h->out_off += k;
        } else {
            s->p += k;
            h->ref_bytes -= k;
        }
        s->len -= k;
        n -= k;
        if (s->len == 0) {
            xg_bufpool_unref(s->block);
            h->span_head = (uint8_t)((h->span_head + 1u) % XG__H1_SPANS);
            h->span_n--;
        }
    }
}

void xg__h1_output_done(xg_codec *c, size_t n)
{
    xg__h1 *h = (xg__h1 *)c;
    XG_ASSERT(n <= xg__h1_out_pending(h));
    if (h->span_n == 0)
        h->out_off += n;
    else
        consume_spans(h, n);
    if (h->out_off == h->out.len) {
        /* Drained. A buffer a large response grew goes back to malloc once
         * that message is all out, so a keep-alive connection idles with at
         * most a small one; while its body still streams the buffer stays
         * (freed and grown again on every drain, a megabyte cost 16 mallocs
         * and 33 reallocs). */
        bool streaming = h->has_stream && !h->st.out_done;
        if (h->out.cap > XG_CODEC_OUT_KEEP && !streaming)
            xg_buf_dispose(&h->out);
        else
            xg_buf_reset(&h->out);
        h->out_off = 0;
    }
    if (h->has_stream && h->st.send_blocked && xg__h1_out_pending(h) < h->opts.send_buffer_limit / 2) {
        h->st.send_blocked = false;
        if (h->base.cb->on_send_ready != NULL && h->st.known)
            h->base.cb->on_send_ready(h->base.owner, h->st.user, h->st.id);
    }
    xg__h1_flush_events(h);
}

size_t xg__h1_pending(xg_codec *c, uint32_t sid)
{
    return xg__h1_out_pending((xg__h1 *)c);
}

bool xg__h1_want_write(const xg_codec *c)
{
    return xg__h1_out_pending((const xg__h1 *)c) > 0;
}

void xg__h1_note_sent(xg__h1 *h)
{
    if (xg__h1_out_pending(h) >= h->opts.send_buffer_limit)
        h->st.send_blocked = true;
}
