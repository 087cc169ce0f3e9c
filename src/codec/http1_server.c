/* The HTTP/1.1 server codec (downstream): llhttp in strict mode plus the
 * checks a proxy needs against request smuggling (docs/http.md lists every
 * rejection and its status). One request at a time: the parser pauses at the
 * end of each request and resumes only when its response is complete, so
 * pipelined requests are answered strictly in order and their bytes wait
 * unread in the owner's buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/http1_int.h"
#include "codec/http1_park.h"
#include "core/error.h"

static void maybe_finish(xg__h1 *h);

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

/* --- request parsing --- */

static int on_message_begin(llhttp_t *p)
{
    xg__h1 *h = p->data;
    xg__h1_stream *s = &h->st;
    memset(s, 0, sizeof *s);
    h->has_stream = true;
    h->err = XG_CERR_NONE;
    h->hdr_count = 0;
    h->hdr_bytes = 0;
    h->in_value = false;
    xg_buf_reset(&h->name);
    xg_buf_reset(&h->url);
    s->id = h->next_id++;
    if (h->base.cb->on_stream_begin(h->base.owner, s->id, &s->user, &s->arena) != 0 || s->arena == NULL) {
        h->dead = true;
        return xg__h1_fail(h, XG_CERR_INTERNAL, "stream refused");
    }
    s->known = true;
    s->in = xg_headers_new(s->arena);
    return s->in == NULL ? xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory") : 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    xg__h1 *h = p->data;
    h->hdr_bytes += n;
    if (h->hdr_bytes > (size_t)h->opts.max_headers_kb * 1024)
        return xg__h1_fail(h, XG_CERR_HEADERS_TOO_LARGE, "request line too long");
    return xg_buf_append(&h->url, at, n) == 0 ? 0 : xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
}

/* Characters that never appear in a Host / authority (RFC 3986 reg-name,
 * IP literal, port); rejecting them keeps routing and logs unambiguous. */
static bool authority_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f)
            return false;
        switch (c) {
        case '/':
        case '?':
        case '#':
        case '@':
        case '\\':
        case '"':
        case '<':
        case '>':
        case '{':
        case '}':
        case '|':
        case '^':
        case '`':
            return false;
        default:
            break;
        }
    }
    return true;
}

/* absolute-form "http(s)://authority[/path][?query]" -> scheme, authority, path. */
static int split_absolute(xg__h1 *h, const char *u, size_t n)
{
    xg_headers *in = h->st.in;
    size_t sl = (n > 7 && strncasecmp(u, "http://", 7) == 0)    ? 4
                : (n > 8 && strncasecmp(u, "https://", 8) == 0) ? 5
                                                                : 0;
    if (sl == 0 || !h->opts.allow_absolute_url)
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "invalid request target");
    size_t a = sl + 3, e = a;
    while (e < n && u[e] != '/' && u[e] != '?')
        e++;
    if (!authority_ok(u + a, e - a))
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "invalid authority in request target");
    char scheme[6];
    for (size_t i = 0; i < sl; i++)
        scheme[i] = (char)(u[i] | 0x20);
    if (xg_headers_set_field(in, &in->scheme, scheme, sl) != 0 ||
        xg_headers_set_field(in, &in->authority, u + a, e - a) != 0)
        return xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
    int rc = 0;
    if (e == n) {
        rc = xg_headers_set_field(in, &in->path, "/", 1);
    } else if (u[e] == '?') {
        char *path = xg_arena_alloc(h->st.arena, n - e + 1);
        if (path != NULL) {
            path[0] = '/';
            memcpy(path + 1, u + e, n - e);
        }
        rc = path == NULL ? XG_ENOMEM : xg_headers_set_field(in, &in->path, path, n - e + 1);
    } else {
        rc = xg_headers_set_field(in, &in->path, u + e, n - e);
    }
    return rc == 0 ? 0 : xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
}

/* The request target by form (RFC 9112 §3.2). */
static int parse_target(xg__h1 *h)
{
    xg_headers *in = h->st.in;
    const char *u = h->url.data ? h->url.data : "";
    size_t n = h->url.len;
    if (in->method_id == XG_METHOD_CONNECT) {
        if (!authority_ok(u, n))
            return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "invalid CONNECT target");
        return xg_headers_set_field(in, &in->authority, u, n) == 0 ? 0 : xg__h1_fail(h, XG_CERR_INTERNAL, "oom");
    }
    if (n > 0 && u[0] == '/')
        return xg_headers_set_field(in, &in->path, u, n) == 0 ? 0 : xg__h1_fail(h, XG_CERR_INTERNAL, "oom");
    if (n == 1 && u[0] == '*' && in->method_id == XG_METHOD_OPTIONS)
        return xg_headers_set_field(in, &in->path, u, n) == 0 ? 0 : xg__h1_fail(h, XG_CERR_INTERNAL, "oom");
    return split_absolute(h, u, n);
}

/* Host -> :authority; exactly one Host in HTTP/1.1 (RFC 9112 §3.2). An
 * absolute-form target's authority wins over Host (§3.2.2). */
static int take_host(xg__h1 *h)
{
    xg_headers *in = h->st.in;
    int i = xg_headers_find_id(in, XG_HDR_HOST, 0);
    if (i >= 0 && xg_headers_find_id(in, XG_HDR_HOST, i + 1) >= 0)
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "multiple Host headers");
    if (i >= 0 && !authority_ok(in->v[i].value, in->v[i].value_len))
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "invalid Host header");
    int rc = 0;
    if (in->authority.s == NULL && i >= 0) {
        rc = xg_headers_set_field(in, &in->authority, in->v[i].value, in->v[i].value_len);
    } else if (in->authority.s == NULL) {
        const char *def = h->opts.default_host_for_http_10;
        if (h->st.version != 10 || def == NULL || def[0] == '\0')
            return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "missing Host header");
        rc = xg_headers_set_field(in, &in->authority, def, strlen(def));
    }
    if (rc != 0)
        return xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
    xg_headers_remove_id(in, XG_HDR_HOST);
    return 0;
}

/* Transfer-Encoding: only a single, final "chunked" (Envoy answers anything
 * else with 501); never in HTTP/1.0 (RFC 9112 §6.1: faulty framing). llhttp
 * already rejected it next to Content-Length and duplicate lengths. */
static int check_framing(xg__h1 *h)
{
    xg_headers *in = h->st.in;
    int i = xg_headers_find_id(in, XG_HDR_TRANSFER_ENCODING, 0);
    if (i < 0)
        return 0;
    if (h->st.version == 10)
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "Transfer-Encoding in HTTP/1.0");
    if (xg_headers_find_id(in, XG_HDR_TRANSFER_ENCODING, i + 1) >= 0 ||
        !xg_hdr_name_eq(in->v[i].value, in->v[i].value_len, "chunked", 7))
        return xg__h1_fail(h, XG_CERR_NOT_IMPLEMENTED, "unsupported Transfer-Encoding");
    return 0;
}

/* Upgrade and CONNECT: tunnels only without a body; "h2c" upgrades are
 * ignored (served as HTTP/1.1, as Envoy does). */
static int check_upgrade(xg__h1 *h, bool has_body)
{
    xg_headers *in = h->st.in;
    bool connect = in->method_id == XG_METHOD_CONNECT;
    if (connect && !h->opts.allow_connect)
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "CONNECT not allowed");
    if (!h->parser.upgrade)
        return 0;
    const xg_header *up = xg_headers_get_id(in, XG_HDR_UPGRADE);
    if (!connect && up != NULL && xg_hdr_list_has(up->value, up->value_len, "h2c", 3)) {
        h->parser.upgrade = 0;
        return 0;
    }
    if (has_body)
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "upgrade request with a body");
    h->st.upgrade = true;
    return 0;
}

/* 100-continue answered here unless the owner wants to see it (RFC 9110 §10.1.1). */
static int maybe_continue(xg__h1 *h, bool has_body)
{
    xg_headers *in = h->st.in;
    const xg_header *e = xg_headers_get_id(in, XG_HDR_EXPECT);
    if (e == NULL || h->st.version != 11 || !h->opts.auto_100_continue ||
        !xg_hdr_name_eq(e->value, e->value_len, "100-continue", 12))
        return 0;
    xg_headers_remove_id(in, XG_HDR_EXPECT);
    if (!has_body)
        return 0;
    h->st.continue_sent = true;
    return xg__h1_outs(h, "HTTP/1.1 100 Continue\r\n\r\n") == 0 ? 0 : xg__h1_fail(h, XG_CERR_INTERNAL, "oom");
}

static int check_version(xg__h1 *h)
{
    llhttp_t *p = &h->parser;
    if (p->http_major != 1 || p->http_minor > 1)
        return xg__h1_fail(h, XG_CERR_BAD_REQUEST, "unsupported HTTP version");
    if (p->http_minor == 0 && !h->opts.accept_http_10)
        return xg__h1_fail(h, XG_CERR_UPGRADE_REQUIRED, "HTTP/1.0 not allowed");
    h->st.version = (uint16_t)(10 + p->http_minor);
    h->st.in->version = (uint8_t)h->st.version;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    xg__h1 *h = p->data;
    xg__h1_stream *s = &h->st;
    const char *m = llhttp_method_name((llhttp_method_t)p->method);
    bool has_body = (p->flags & F_CHUNKED) || p->content_length > 0;
    int rc = check_version(h);
    if (rc == 0)
        rc = xg_headers_set_field(s->in, &s->in->method, m, strlen(m)) == 0 ? 0
                                                                            : xg__h1_fail(h, XG_CERR_INTERNAL, "oom");
    if (rc == 0)
        rc = parse_target(h);
    if (rc == 0)
        rc = take_host(h);
    if (rc == 0)
        rc = check_framing(h);
    if (rc == 0)
        rc = check_upgrade(h, has_body);
    if (rc == 0)
        rc = maybe_continue(h, has_body);
    if (rc != 0)
        return rc;
    s->head = s->in->method_id == XG_METHOD_HEAD;
    s->keep_alive = s->version == 11 ? !(p->flags & F_CONNECTION_CLOSE) : !!(p->flags & F_CONNECTION_KEEP_ALIVE);
    if (xg__h1_strip_hop_by_hop(s->in, s->upgrade) != 0)
        return xg__h1_fail(h, XG_CERR_INTERNAL, "out of memory");
    s->in_headers = true;
    s->in_body = has_body;
    h->hdr_count = 0; /* trailers are counted on their own */
    h->hdr_bytes = 0;
    h->base.cb->on_headers(h->base.owner, s->user, s->id, s->in, !has_body && !s->upgrade);
    /* Pause so the body is parsed in window-sized slices by srv_feed. */
    return has_body ? HPE_PAUSED : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    xg__h1 *h = p->data;
    if (n > 0 && !h->dead)
        xg__h1_deliver(h, at, n, false);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    xg__h1 *h = p->data;
    xg__h1_stream *s = &h->st;
    if (s->upgrade)
        return 0; /* llhttp stops with HPE_PAUSED_UPGRADE; the rest is the tunnel's */
    if (s->in_body && !h->dead) {
        if (s->trailers != NULL && h->opts.enable_trailers && h->base.cb->on_trailers != NULL)
            h->base.cb->on_trailers(h->base.owner, s->user, s->id, s->trailers);
        else
            xg__h1_deliver(h, NULL, 0, true);
    }
    s->in_body = false;
    s->in_done = true;
    maybe_finish(h);
    /* Stop before the next pipelined request: it is read once this one is answered. */
    return HPE_PAUSED;
}

/* --- the exchange's end --- */

static void maybe_finish(xg__h1 *h)
{
    xg__h1_stream *s = &h->st;
    if (!h->has_stream || h->close_owed || !s->out_done)
        return;
    /* A bodiless request answered from inside its on_headers (a direct
     * response) has ended for the owner (end_stream was delivered); only
     * llhttp's message-complete callback is still to come. */
    bool ended = s->in_done || (s->in_headers && !s->in_body && !s->upgrade);
    if (!ended && !s->tunnel) {
        /* Answered before the request ended (a local reply): the rest of the
         * request is never read; closing is the only safe framing. */
        h->dead = true;
    }
    bool keep = s->keep_alive && !s->out_close && !s->upgrade && !s->tunnel && !h->goaway && !h->eof;
    if (!keep)
        h->dead = true;
    h->close_owed = true;
    h->served++;
}

/* A request the codec rejects: the owner answers it (if it still can) and
 * the connection closes after that answer. */
static void request_error(xg__h1 *h, llhttp_errno_t e)
{
    const char *detail;
    xg_codec_err kind = xg__h1_error_kind(h, e, &detail);
    xg__h1_stream *s = &h->st;
    if (!h->has_stream || !s->known) {
        h->dead = true; /* nobody to answer for */
        return;
    }
    s->keep_alive = false;
    s->in_body = false;
    s->in_done = true;
    s->upgrade = false;
    h->goaway = true;
    if (s->out_final) {
        /* Too late for a local reply: the response is already on its way. */
        void *user = s->user;
        uint32_t id = s->id;
        h->has_stream = false;
        h->dead = true;
        if (h->base.cb->on_stream_reset != NULL)
            h->base.cb->on_stream_reset(h->base.owner, user, id, XG_RESET_PROTOCOL);
        return;
    }
    if (h->base.cb->on_error != NULL)
        h->base.cb->on_error(h->base.owner, s->user, s->id, kind, detail);
}

static void on_eof(xg__h1 *h)
{
    xg__h1_stream *s = &h->st;
    h->eof = true;
    if (s->tunnel && !s->in_done) {
        s->in_done = true;
        xg__h1_deliver(h, NULL, 0, true);
        maybe_finish(h);
        return;
    }
    h->dead = true;
    if (!h->has_stream || h->close_owed || !s->known)
        return;
    /* Envoy's default too: a client that half-closes abandons its request. */
    void *user = s->user;
    uint32_t id = s->id;
    h->has_stream = false;
    if (h->base.cb->on_stream_reset != NULL)
        h->base.cb->on_stream_reset(h->base.owner, user, id, XG_RESET_CONN_CLOSED);
}

/* Raw tunnel bytes after a 101 (or a CONNECT 2xx), within the window. */
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

/* Whether parsing must wait: for the current response, or for the owner to consume. */
static bool must_wait(const xg__h1 *h)
{
    const xg__h1_stream *s = &h->st;
    if (h->paused)
        return true;
    if (!h->has_stream || h->close_owed)
        return h->close_owed;
    if (s->tunnel)
        return s->in_done || s->unconsumed >= h->opts.stream_window;
    if (s->in_done || s->upgrade)
        return true;
    return s->in_body && s->unconsumed >= h->opts.stream_window;
}

static int srv_feed(xg_codec *c, const char *p, size_t n, size_t *used)
{
    xg__h1 *h = (xg__h1 *)c;
    size_t off = 0;
    xg__h1_flush_events(h);
    *used = 0;
    if (p == NULL) {
        if (!h->dead || h->st.tunnel)
            on_eof(h);
        xg__h1_flush_events(h);
        return 0;
    }
    if (h->dead) {
        *used = n; /* the connection is closing: what the peer sends is dropped */
        return 0;
    }
    while (off < n && !h->dead && !must_wait(h)) {
        if (h->st.tunnel) {
            size_t k = feed_tunnel(h, p + off, n - off);
            off += k;
            if (k == 0)
                break;
            continue;
        }
        size_t slice = n - off, u;
        if (llhttp_get_errno(&h->parser) == HPE_PAUSED) {
            /* Paused at the end of the headers or of the previous request. */
            llhttp_resume(&h->parser);
        }
        if (h->has_stream && h->st.in_body) {
            size_t room = h->opts.stream_window - h->st.unconsumed;
            slice = slice < room ? slice : room;
        }
        llhttp_errno_t e = xg__h1_execute(h, p + off, slice, &u);
        off += u;
        if (e == HPE_OK || e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE)
            continue;
        request_error(h, e);
        off = n;
    }
    *used = off;
    xg__h1_flush_events(h);
    return 0;
}

static bool srv_can_feed(const xg_codec *c)
{
    const xg__h1 *h = (const xg__h1 *)c;
    return h->dead || h->close_owed || !must_wait(h);
}

/* --- the response --- */

static xg__h1_stream *stream_for(xg__h1 *h, uint32_t sid)
{
    return (h->has_stream && h->st.id == sid && h->st.known && !h->close_owed && !h->st.out_done) ? &h->st : NULL;
}

static int write_status(xg__h1 *h, int status)
{
    return xg__h1_write_status_line(h, status, reason(status));
}

/* Drops a response head refused part way (a field that is not a token or
 * not a valid value): the output is left as it was, pending bytes before the
 * head, so the reset that follows closes the connection after whole
 * responses only, never after a dangling status line. */
static void unwrite(xg__h1 *h, size_t pending)
{
    xg__h1_out_truncate(h, h->out_off + pending);
}

static int send_informational(xg__h1 *h, const xg_headers *hd)
{
    xg__h1_stream *s = &h->st;
    bool up = hd->status == 101;
    if (up && (!s->upgrade || s->in->method_id == XG_METHOD_CONNECT))
        return XG_EINVAL;
    if (hd->status == 100 && s->continue_sent)
        return 0;
    if (hd->status == 100)
        s->continue_sent = true;
    size_t pending = h->out.len - h->out_off;
    int rc = write_status(h, hd->status);
    if (rc == 0)
        rc = xg__h1_write_fields(h, hd, up, true);
    if (rc == 0 && up)
        rc = xg__h1_outs(h, "connection: upgrade\r\n");
    if (rc == 0)
        rc = xg__h1_outs(h, "\r\n");
    if (rc != 0)
        unwrite(h, pending);
    if (rc == 0 && up) {
        s->tunnel = true;
        s->out_final = true;
    }
    return rc;
}

/* Chooses the response framing (RFC 9112 §6.3) and whether the connection survives. */
static int frame_response(xg__h1 *h, const xg_headers *hd, bool end_stream, bool *add_zero_len)
{
    xg__h1_stream *s = &h->st;
    uint64_t len = 0;
    int found = xg__h1_find_length(hd, &len);
    if (found < 0)
        return XG_EINVAL;
    *add_zero_len = false;
    if (s->upgrade && s->in->method_id == XG_METHOD_CONNECT && hd->status / 100 == 2) {
        s->tunnel = true;
        return 0;
    }
    if (s->upgrade) { /* refused upgrade: the request is over, the connection too */
        s->upgrade = false;
        s->in_done = true;
        s->keep_alive = false;
    }
    if (s->head || hd->status == 204 || hd->status == 304) {
        s->out_no_body = true;
    } else if (found == 1) {
        s->out_has_len = true;
        s->out_remaining = len;
    } else if (end_stream) {
        s->out_has_len = true;
        *add_zero_len = true;
    } else if (s->version == 11) {
        s->out_chunked = true;
    } else {
        s->out_close = true; /* HTTP/1.0 client: the body ends with the connection */
    }
    return 0;
}

static int srv_send_headers(xg_codec *c, uint32_t sid, const xg_headers *hd, bool end_stream)
{
    xg__h1 *h = (xg__h1 *)c;
    xg__h1_stream *s = stream_for(h, sid);
    if (s == NULL || s->out_final || hd->status < 100 || hd->status > 999)
        return XG_EINVAL;
    if (hd->status < 200)
        return send_informational(h, hd);
    bool zero_len;
    int rc = frame_response(h, hd, end_stream, &zero_len);
    if (rc != 0)
        return rc;
    /* A response that starts before its request was read to the end (a
     * local reply such as 413) closes the connection: say so up front. */
    bool read_all = s->in_done || (s->in_headers && !s->in_body) || s->upgrade;
    bool keep = s->keep_alive && !s->out_close && !h->goaway && !s->tunnel && read_all;
    size_t pending = h->out.len - h->out_off;
    rc = write_status(h, hd->status);
    if (rc == 0)
        rc = xg__h1_write_fields(h, hd, false, hd->status == 204 || s->tunnel);
    if (rc == 0 && zero_len)
        rc = xg__h1_outs(h, "content-length: 0\r\n");
    if (rc == 0 && s->out_chunked)
        rc = xg__h1_outs(h, "transfer-encoding: chunked\r\n");
    if (rc == 0 && !keep && !s->tunnel)
        rc = xg__h1_outs(h, "connection: close\r\n");
    else if (rc == 0 && keep && s->version == 10)
        rc = xg__h1_outs(h, "connection: keep-alive\r\n");
    if (rc == 0)
        rc = xg__h1_outs(h, "\r\n");
    if (rc != 0) {
        unwrite(h, pending);
        return rc;
    }
    s->out_final = true;
    if (!keep && !s->tunnel)
        s->out_close = true;
    if (end_stream)
        rc = xg__h1_write_body(h, NULL, 0, true);
    xg__h1_note_sent(h);
    maybe_finish(h);
    return rc;
}

static int srv_send_data(xg_codec *c, uint32_t sid, const void *p, size_t n, bool end_stream)
{
    xg__h1 *h = (xg__h1 *)c;
    xg__h1_stream *s = stream_for(h, sid);
    if (s == NULL || !s->out_final)
        return XG_EINVAL;
    int rc = xg__h1_write_body(h, p, n, end_stream);
    maybe_finish(h);
    return rc;
}

static int srv_send_trailers(xg_codec *c, uint32_t sid, const xg_headers *t)
{
    xg__h1 *h = (xg__h1 *)c;
    xg__h1_stream *s = stream_for(h, sid);
    if (s == NULL || !s->out_final)
        return XG_EINVAL;
    int rc = xg__h1_write_trailers(h, t);
    maybe_finish(h);
    return rc;
}

static int srv_send_request(xg_codec *c, void *user, xg_arena *a, const xg_headers *hd, bool end, uint32_t *sid)
{
    return XG_EINVAL;
}

static void srv_reset(xg_codec *c, uint32_t sid, xg_reset_reason r)
{
    xg__h1 *h = (xg__h1 *)c;
    if (!h->has_stream || h->st.id != sid)
        return;
    /* HTTP/1 has no stream reset: the connection goes, after what is queued. */
    h->has_stream = false;
    h->close_owed = false;
    h->dead = true;
}

static void srv_goaway(xg_codec *c, xg_goaway_mode mode)
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

static uint32_t srv_capacity(const xg_codec *c)
{
    return 0;
}

/* Spare server codecs of this thread, linked through base.owner, each with
 * the small buffers it grew (a request then mallocs nothing here). Kept while
 * spares + codecs in use stay within the most in use at once since the last
 * trim (at least SPARE_MIN): what the recent load needs, no more. */
#define SPARE_MIN 8
static __thread xg__h1 *spares;
static __thread size_t n_spares, n_live, peak_live;

static size_t spare_limit(void)
{
    return peak_live > SPARE_MIN ? peak_live : SPARE_MIN;
}

static void spare_drop(void)
{
    xg__h1 *h = spares;
    spares = h->base.owner;
    n_spares--;
    xg__h1_dispose(h);
    free(h);
}

static void srv_free(xg_codec *c)
{
    xg__h1 *h = (xg__h1 *)c;
    n_live--;
    if (n_spares + n_live >= spare_limit()) {
        xg__h1_dispose(h);
        free(h);
        return;
    }
    /* Buffers a large request or response grew go back; small ones stay. */
    xg__h1_out_drop(h);
    xg_buf *bufs[] = {&h->out, &h->name, &h->value, &h->url};
    for (size_t i = 0; i < 4; i++) {
        if (bufs[i]->cap > XG_CODEC_OUT_KEEP)
            xg_buf_dispose(bufs[i]);
    }
    h->base.owner = spares;
    spares = h;
    n_spares++;
}

size_t xg_http1_server_spares_trim(void)
{
    size_t keep = spare_limit();
    while (spares != NULL && n_spares + n_live > keep)
        spare_drop();
    peak_live = n_live;
    return n_spares;
}

void xg_http1_server_spares_free(void)
{
    while (spares != NULL)
        spare_drop();
    peak_live = 0;
}

bool xg_http1_server_idle(const xg_codec *c)
{
    const xg__h1 *h = (const xg__h1 *)c;
    return c->vt->free == srv_free && !h->has_stream && !h->close_owed && !h->dead && !h->goaway && !h->eof &&
           !h->paused && xg__h1_out_pending(h) == 0;
}

static const xg_codec_vt srv_vt = {
    .feed = srv_feed,
    .output = xg__h1_output,
    .output_done = xg__h1_output_done,
    .send_request = srv_send_request,
    .send_headers = srv_send_headers,
    .send_data = srv_send_data,
    .send_trailers = srv_send_trailers,
    .reset = srv_reset,
    .consumed = xg__h1_consumed,
    .pending = xg__h1_pending,
    .goaway = srv_goaway,
    .pause = xg__h1_pause,
    .can_feed = srv_can_feed,
    .want_write = xg__h1_want_write,
    .should_close = xg__h1_should_close,
    .capacity = srv_capacity,
    .active_streams = xg__h1_active_streams,
    .free = srv_free,
};

/* Shared by every server codec: llhttp reads it through the parser. */
static const llhttp_settings_t srv_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = xg__h1_on_header_field,
    .on_header_value = xg__h1_on_header_value,
    .on_header_value_complete = xg__h1_on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

int xg_http1_server_new(xg_codec **out, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner)
{
    if (cb == NULL || cb->on_stream_begin == NULL || cb->on_headers == NULL || cb->on_data == NULL)
        return XG_EINVAL;
    xg__h1 *h = spares;
    bool reused = h != NULL;
    xg_buf bufs[4];
    if (reused) {
        spares = h->base.owner;
        n_spares--;
        bufs[0] = h->out, bufs[1] = h->name, bufs[2] = h->value, bufs[3] = h->url;
    } else if ((h = malloc(sizeof *h)) == NULL) {
        return XG_ENOMEM;
    }
    xg__h1_init(h, HTTP_REQUEST, o, cb, owner);
    if (reused) { /* emptied, their storage kept */
        h->out = bufs[0], h->name = bufs[1], h->value = bufs[2], h->url = bufs[3];
        xg_buf_reset(&h->out);
        xg_buf_reset(&h->name);
        xg_buf_reset(&h->value);
        xg_buf_reset(&h->url);
    }
    llhttp_init(&h->parser, HTTP_REQUEST, &srv_settings);
    h->parser.data = h;
    h->base.vt = &srv_vt;
    h->base.role = XG_ROLE_SERVER;
    if (++n_live > peak_live)
        peak_live = n_live;
    *out = &h->base;
    return 0;
}
