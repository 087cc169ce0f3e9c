/* HTTP/1.1 pieces both roles share: the output buffer, strict header-field
 * parsing on top of llhttp (which, in 8.1, still accepts "Bad Name: v",
 * "Name : v" and obs-fold lines without any lenient flag), body framing on
 * output and the window accounting behind back-pressure. */
#include <stdio.h>
#include <string.h>

#include "codec/http1_int.h"
#include "core/assert.h"
#include "core/error.h"

void xg__h1_init(xg__h1 *h, llhttp_type_t t, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner)
{
    memset(h, 0, sizeof *h);
    h->base.cb = cb;
    h->base.owner = owner;
    h->base.proto = XG_PROTO_HTTP1;
    h->opts = *o;
    xg_buf_init(&h->out);
    xg_buf_init(&h->name);
    xg_buf_init(&h->value);
    xg_buf_init(&h->url);
    h->next_id = 1;
    llhttp_init(&h->parser, t, &h->settings);
    h->parser.data = h;
}

void xg__h1_dispose(xg__h1 *h)
{
    xg__h1_out_drop(h);
    xg_buf_dispose(&h->out);
    xg_buf_dispose(&h->name);
    xg_buf_dispose(&h->value);
    xg_buf_dispose(&h->url);
}

int xg__h1_fail(xg__h1 *h, xg_codec_err kind, const char *detail)
{
    if (h->err == XG_CERR_NONE) {
        h->err = kind;
        h->err_detail = detail;
    }
    llhttp_set_error_reason(&h->parser, detail);
    return HPE_USER;
}

/* Whether the bytes before end (down to start, then the previous slices'
 * tail state) are a line feed followed only by SP/HT. */
static bool lf_ws_before(const char *end, const char *start, bool tail)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end > start ? end[-1] == '\n' : tail;
}

/* Copies a borrowed span into its buffer (the slice it points into is
 * about to go, or the field goes on in a second span). */
static int spill(xg_buf *b, const char **at, uint32_t *len)
{
    int rc = *at != NULL ? xg_buf_append(b, *at, *len) : 0;
    *at = NULL;
    *len = 0;
    return rc;
}

llhttp_errno_t xg__h1_execute(xg__h1 *h, const char *p, size_t n, size_t *used)
{
    h->feed_at = p;
    llhttp_errno_t e = llhttp_execute(&h->parser, p, n);
    /* A field cut by the end of the slice: its spans must outlive the slice. */
    int rc = spill(&h->name, &h->name_at, &h->name_at_len);
    rc |= spill(&h->value, &h->value_at, &h->value_at_len);
    if (rc != 0 && (e == HPE_OK || e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE)) {
        xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
        e = HPE_USER;
    }
    const char *pos = llhttp_get_error_pos(&h->parser);
    *used = n;
    if ((e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) && pos != NULL)
        *used = (size_t)(pos - p);
    h->tail_lf_ws = lf_ws_before(p + *used, p, h->tail_lf_ws);
    h->feed_at = NULL;
    return e;
}

xg_codec_err xg__h1_error_kind(xg__h1 *h, llhttp_errno_t e, const char **detail)
{
    if (h->err != XG_CERR_NONE) { /* ours, whatever llhttp made of the callback's answer */
        *detail = h->err_detail;
        return h->err;
    }
    *detail = llhttp_get_error_reason(&h->parser);
    if (*detail == NULL)
        *detail = llhttp_errno_name(e);
    /* Envoy answers a transfer-coding it does not implement with 501. */
    return e == HPE_INVALID_TRANSFER_ENCODING ? XG_CERR_NOT_IMPLEMENTED : XG_CERR_BAD_REQUEST;
}

int xg__h1_write_status_line(xg__h1 *h, int status, const char *reason)
{
    /* Once per response: digits by hand, not snprintf (~1,000 instructions). */
    size_t rlen = strlen(reason);
    char *p = xg__h1_out_reserve(h, 15 + rlen);
    if (p == NULL)
        return XG_ENOMEM;
    memcpy(p, "HTTP/1.1 ", 9);
    p[9] = (char)('0' + status / 100 % 10);
    p[10] = (char)('0' + status / 10 % 10);
    p[11] = (char)('0' + status % 10);
    p[12] = ' ';
    memcpy(p + 13, reason, rlen);
    memcpy(p + 13 + rlen, "\r\n", 2);
    return 0;
}

bool xg__h1_should_close(const xg_codec *c)
{
    return ((const xg__h1 *)c)->dead;
}

void xg__h1_pause(xg_codec *c, bool paused)
{
    ((xg__h1 *)c)->paused = paused;
}

void xg__h1_consumed(xg_codec *c, uint32_t sid, size_t n)
{
    xg__h1 *h = (xg__h1 *)c;
    if (!h->has_stream || h->st.id != sid)
        return;
    h->st.unconsumed -= n < h->st.unconsumed ? n : h->st.unconsumed;
}

uint32_t xg__h1_active_streams(const xg_codec *c)
{
    const xg__h1 *h = (const xg__h1 *)c;
    return h->has_stream && h->st.known && !h->close_owed ? 1 : 0;
}

void xg__h1_deliver(xg__h1 *h, const char *p, size_t n, bool end_stream)
{
    h->st.unconsumed += n;
    h->base.cb->on_data(h->base.owner, h->st.user, h->st.id, p, n, end_stream);
}

void xg__h1_flush_events(xg__h1 *h)
{
    if (!h->close_owed)
        return;
    void *user = h->st.user;
    uint32_t id = h->st.id;
    bool known = h->st.known;
    h->close_owed = false;
    h->has_stream = false;
    memset(&h->st, 0, sizeof h->st);
    if (known && h->base.cb->on_stream_close != NULL)
        h->base.cb->on_stream_close(h->base.owner, user, id);
}

/* --- header fields in --- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Header bytes count against max_headers_kb; +2 per span pair stands for the
 * separators llhttp does not hand over, so many tiny fields still add up. */
static int count_bytes(xg__h1 *h, size_t n)
{
    h->hdr_bytes += n;
    if (h->hdr_bytes > (size_t)h->opts.max_headers_kb * 1024)
        return xg__h1_fail(h, XG_CERR_HEADERS_TOO_LARGE, "headers too large");
    return 0;
}

/* One span of a name or value: borrowed when it is the first, else added
 * to the buffer (with the borrowed one before it). */
static int take_span(xg_buf *b, const char **at, uint32_t *len, const char *p, size_t n)
{
    if (*at == NULL && b->len == 0 && n <= UINT32_MAX) {
        *at = p;
        *len = (uint32_t)n;
        return 0;
    }
    return spill(b, at, len) == 0 && xg_buf_append(b, p, n) == 0 ? 0 : XG_ENOMEM;
}

int xg__h1_on_header_field(llhttp_t *p, const char *at, size_t n)
{
    xg__h1 *h = p->data;
    if (h->in_value) {
        h->in_value = false;
        xg_buf_reset(&h->name);
        h->name_at = NULL;
    }
    if (take_span(&h->name, &h->name_at, &h->name_at_len, at, n) != 0)
        return xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
    return count_bytes(h, n + 2);
}

int xg__h1_on_header_value(llhttp_t *p, const char *at, size_t n)
{
    xg__h1 *h = p->data;
    if (!h->in_value) {
        h->in_value = true;
        xg_buf_reset(&h->value);
        h->value_at = NULL;
    }
    /* A value span on a line that starts with whitespace is an obs-fold
     * continuation (RFC 9112 §5.2: a proxy must reject or replace it). */
    if (n > 0 && lf_ws_before(at, h->feed_at, h->tail_lf_ws))
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "obs-fold header line");
    if (take_span(&h->value, &h->value_at, &h->value_at_len, at, n) != 0)
        return xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
    return count_bytes(h, n + 2);
}

int xg__h1_on_header_value_complete(llhttp_t *p)
{
    xg__h1 *h = p->data;
    if (!h->in_value) { /* "Name:" with an empty value produces no value span */
        h->in_value = true;
        xg_buf_reset(&h->value);
        h->value_at = NULL;
    }
    const char *name = h->name_at != NULL ? h->name_at : h->name.data ? h->name.data : "";
    size_t nlen = h->name_at != NULL ? h->name_at_len : h->name.len;
    const char *v = h->value_at != NULL ? h->value_at : h->value.data ? h->value.data : "";
    size_t vlen = h->value_at != NULL ? h->value_at_len : h->value.len;
    /* Consumed here: nothing to keep when the slice ends. */
    h->name_at = h->value_at = NULL;
    while (vlen > 0 && is_ows(v[vlen - 1]))
        vlen--;
    if (!xg_hdr_is_token(name, nlen))
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "invalid header name");
    if (!xg_hdr_value_ok(v, vlen))
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "invalid header value");
    if (++h->hdr_count > h->opts.max_headers_count)
        return xg__h1_fail(h, XG_CERR_HEADERS_TOO_LARGE, "too many headers");
    xg__h1_stream *s = &h->st;
    xg_headers **dst = s->in_body ? &s->trailers : &s->in;
    if (*dst == NULL && (*dst = xg_headers_new(s->arena)) == NULL)
        return xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
    if (xg_headers_add_valid(*dst, name, nlen, v, vlen) != 0)
        return xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
    return 0;
}

/* Removes the fields one Connection option names (ASCII case-insensitive).
 * upgrade, connection and te are never removed this way: the codec decides
 * about those; names in always (dropped anyway) need no pass. */
static void strip_option(xg_headers *in, const char *name, size_t n, uint32_t always)
{
    xg_hdr_id id = xg_hdr_id_of(name, n);
    if (id == XG_HDR_UPGRADE || id == XG_HDR_CONNECTION || id == XG_HDR_TE || (always & XG_HDR_BIT(id)))
        return;
    if (id != XG_HDR_OTHER)
        xg_headers_remove_id(in, id);
    else
        xg_headers_remove(in, name, n);
}

/* Drops the hop-by-hop fields the codec consumed, and those Connection
 * names; te survives only as "trailers" (RFC 9110 §7.6.1). One lookup per
 * option listed ("keep-alive": none at all), not one list scan per field. */
int xg__h1_strip_hop_by_hop(xg_headers *in, bool upgrade)
{
    uint32_t always = XG_HDR_BIT(XG_HDR_CONNECTION) | XG_HDR_BIT(XG_HDR_KEEP_ALIVE) |
                      XG_HDR_BIT(XG_HDR_PROXY_CONNECTION) | XG_HDR_BIT(XG_HDR_TRANSFER_ENCODING) |
                      XG_HDR_BIT(XG_HDR_HTTP2_SETTINGS) | XG_HDR_BIT(XG_HDR_TE) |
                      (upgrade ? 0 : XG_HDR_BIT(XG_HDR_UPGRADE));
    /* Connection fields are never removed by strip_option, so the k-th one
     * is found again after each pass has shifted the entries. */
    for (int k = 0;; k++) {
        int c = xg_headers_find_id(in, XG_HDR_CONNECTION, 0);
        for (int i = 0; i < k && c >= 0; i++)
            c = xg_headers_find_id(in, XG_HDR_CONNECTION, c + 1);
        if (c < 0)
            break;
        const char *v = in->v[c].value;
        size_t vlen = in->v[c].value_len, i = 0;
        while (i < vlen) {
            while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
                i++;
            size_t start = i;
            while (i < vlen && v[i] != ',')
                i++;
            size_t end = i;
            while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
                end--;
            if (end > start)
                strip_option(in, v + start, end - start, always);
        }
    }
    int t = xg_headers_find_id(in, XG_HDR_TE, 0);
    bool trailers = t >= 0 && xg_hdr_list_has(in->v[t].value, in->v[t].value_len, "trailers", 8);
    xg_headers_remove_ids(in, always);
    return trailers ? xg_headers_add_ref(in, "te", 2, "trailers", 8) : 0;
}

/* --- content-length --- */

bool xg__h1_parse_length(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

int xg__h1_find_length(const xg_headers *hd, uint64_t *out)
{
    int i = xg_headers_find_id(hd, XG_HDR_CONTENT_LENGTH, 0);
    if (i < 0)
        return 0;
    if (xg_headers_find_id(hd, XG_HDR_CONTENT_LENGTH, i + 1) >= 0)
        return XG_EINVAL;
    return xg__h1_parse_length(hd->v[i].value, hd->v[i].value_len, out) ? 1 : XG_EINVAL;
}

/* --- header fields and bodies out --- */

static bool codec_owned(const xg_header *e, bool keep_upgrade, bool skip_len)
{
    switch (e->id) {
    case XG_HDR_CONNECTION:
    case XG_HDR_KEEP_ALIVE:
    case XG_HDR_PROXY_CONNECTION:
    case XG_HDR_TRANSFER_ENCODING:
    case XG_HDR_TE:
    case XG_HDR_HOST:
    case XG_HDR_HTTP2_SETTINGS:
        return true;
    case XG_HDR_UPGRADE:
        return !keep_upgrade;
    case XG_HDR_CONTENT_LENGTH:
        return skip_len;
    default:
        return false;
    }
}

/* Every field sent is a token and a valid value: fields a codec received
 * were checked there (XG_HDR_F_VALID), and an interned id means the name is
 * its interned (token) name; the rest, set by the proxy or by config, are
 * checked here. None of the fields is written when one fails. Then the block
 * goes out with one reservation and a copy per name and value. */
int xg__h1_write_fields(xg__h1 *h, const xg_headers *hd, bool keep_upgrade, bool skip_len)
{
    size_t need = 0;
    for (uint32_t i = 0; i < hd->n; i++) {
        const xg_header *e = &hd->v[i];
        if (codec_owned(e, keep_upgrade, skip_len))
            continue;
        bool checked = e->flags & XG_HDR_F_VALID;
        if ((!checked && e->id == XG_HDR_OTHER && !xg_hdr_is_token(e->name, e->name_len)) ||
            (!checked && !xg_hdr_value_ok(e->value, e->value_len)))
            return XG_EINVAL;
        need += (size_t)e->name_len + e->value_len + 4;
    }
    char *p = need > 0 ? xg__h1_out_reserve(h, need) : NULL;
    if (need > 0 && p == NULL)
        return XG_ENOMEM;
    for (uint32_t i = 0; i < hd->n; i++) {
        const xg_header *e = &hd->v[i];
        if (codec_owned(e, keep_upgrade, skip_len))
            continue;
        memcpy(p, e->name, e->name_len);
        p += e->name_len;
        memcpy(p, ": ", 2);
        if (e->value_len > 0)
            memcpy(p + 2, e->value, e->value_len);
        p += 2 + e->value_len;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    return 0;
}

static int write_chunk(xg__h1 *h, const void *p, size_t n)
{
    /* The size line in hex, by hand (once per chunk; snprintf costs more than a small chunk's copy). */
    char line[24];
    size_t k = sizeof line - 2, v = n;
    line[k] = '\r';
    line[k + 1] = '\n';
    do {
        line[--k] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    if (xg__h1_out(h, line + k, sizeof line - k) != 0 || xg__h1_out_body(h, p, n, n) != 0 ||
        xg__h1_out(h, "\r\n", 2) != 0)
        return XG_ENOMEM;
    return 0;
}

int xg__h1_write_body(xg__h1 *h, const void *p, size_t n, bool end_stream)
{
    xg__h1_stream *s = &h->st;
    int rc = 0;
    if (s->out_no_body) {
        n = 0;
    } else if (s->out_has_len && n > s->out_remaining) {
        /* More than content-length promised: send what fits, then the
         * connection must close (the peer would misframe the rest). */
        n = (size_t)s->out_remaining;
        s->out_close = true;
        rc = XG_EINVAL;
    }
    /* A copied body with a length is sized once, up to send_buffer_limit:
     * growing by doubling from a few hundred bytes copied a 64 KiB body about
     * once more on the way. */
    size_t room = n;
    if (s->out_has_len) {
        size_t lim = h->opts.send_buffer_limit;
        room = s->out_remaining < lim ? (size_t)s->out_remaining : lim;
    }
    if (n > 0) {
        int wr = s->out_chunked ? write_chunk(h, p, n) : xg__h1_out_body(h, p, n, room > n ? room : n);
        if (wr != 0)
            return wr;
        if (s->out_has_len)
            s->out_remaining -= n;
    }
    if (end_stream) {
        if (s->out_chunked && xg__h1_outs(h, "0\r\n\r\n") != 0)
            return XG_ENOMEM;
        if (s->out_has_len && s->out_remaining > 0)
            s->out_close = true; /* short body: only a close tells the peer */
        s->out_done = true;
    }
    xg__h1_note_sent(h);
    return rc;
}

int xg__h1_write_trailers(xg__h1 *h, const xg_headers *t)
{
    xg__h1_stream *s = &h->st;
    if (!s->out_chunked || t == NULL)
        return xg__h1_write_body(h, NULL, 0, true);
    if (xg__h1_outs(h, "0\r\n") != 0)
        return XG_ENOMEM;
    int rc = xg__h1_write_fields(h, t, false, true);
    if (rc != 0)
        return rc;
    if (xg__h1_outs(h, "\r\n") != 0)
        return XG_ENOMEM;
    s->out_done = true;
    xg__h1_note_sent(h);
    return 0;
}
