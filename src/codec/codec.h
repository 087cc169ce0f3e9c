/* One sans-IO interface over the HTTP/1.1 (llhttp) and HTTP/2 (nghttp2)
 * codecs, server and client role: the owner (the connection manager
 * downstream, the connection pool upstream) feeds bytes read from the socket,
 * takes bytes to write as iovecs, and talks in streams, xg_headers and body
 * bytes. A codec never touches a socket, a timer or a loop.
 *
 * Threading: one codec per connection, used only on the worker thread that
 * owns the connection.
 *
 * Re-entrancy: callbacks run only inside xg_codec_feed, xg_codec_output and
 * xg_codec_output_done, never inside a send function: a stream that a send
 * completes reports on_stream_close from the next output() (the owner calls
 * output() after sending anyway: the send left bytes to write). A callback
 * may call the send functions (send_headers/data/trailers, reset, consumed),
 * but never feed, output or free: the owner marks and defers (STYLE.md).
 *
 * Streams: identified by a codec-chosen uint32_t id (HTTP/2: the stream id;
 * HTTP/1: 1, 2, 3... in request order) and the owner's user pointer. Every
 * stream the owner has heard of gets exactly one terminal callback,
 * on_stream_close (both directions complete) or on_stream_reset (abnormal);
 * after it the codec never names that stream again, and the owner may dispose
 * of the stream's arena. Streams the owner resets itself get no terminal
 * callback. xg_codec_free runs no callback at all. */
#ifndef XG_CODEC_CODEC_H
#define XG_CODEC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/arena.h"
#include "http/headers.h"

/* The largest output buffer a codec keeps once everything queued has been
 * written; a bigger one (grown by a large response) is freed then. */
#define XG_CODEC_OUT_KEEP 4096

typedef enum xg_codec_proto {
    XG_PROTO_HTTP1,
    XG_PROTO_HTTP2,
} xg_codec_proto;

typedef enum xg_codec_role {
    XG_ROLE_SERVER, /* downstream: peers send requests */
    XG_ROLE_CLIENT, /* upstream: we send requests */
} xg_codec_role;

/* Why the codec gave up on a request or the connection; the server owner
 * answers with xg_codec_err_status() when it is not 0. */
typedef enum xg_codec_err {
    XG_CERR_NONE = 0,
    XG_CERR_BAD_REQUEST,       /* 400: malformed message or a smuggling vector */
    XG_CERR_HEADERS_TOO_LARGE, /* 431: max_request_headers_kb / max_headers_count */
    XG_CERR_NOT_IMPLEMENTED,   /* 501: a transfer-coding other than a final "chunked" */
    XG_CERR_UPGRADE_REQUIRED,  /* 426: HTTP/1.0 while accept_http_10 is off (as Envoy) */
    XG_CERR_PROTOCOL,          /* 0: the peer broke the protocol where no reply fits (HTTP/2
                                  connection error, malformed upstream response) */
    XG_CERR_FLOOD,             /* 0: abuse limits (rapid reset, PING/SETTINGS/CONTINUATION floods) */
    XG_CERR_INTERNAL,          /* 500 when a stream can still answer: allocation failure */
} xg_codec_err;

/* The local-reply status for an error kind, 0 when none is sent. */
int xg_codec_err_status(xg_codec_err e);
/* A short name ("bad_request", "headers_too_large"...), never NULL. */
const char *xg_codec_err_name(xg_codec_err e);

typedef enum xg_reset_reason {
    XG_RESET_LOCAL,       /* cancelled (HTTP/2 CANCEL) */
    XG_RESET_REFUSED,     /* the peer did not process it: safe to retry (REFUSED_STREAM, GOAWAY above last id) */
    XG_RESET_REMOTE,      /* the peer reset it (RST_STREAM other than REFUSED_STREAM) */
    XG_RESET_PROTOCOL,    /* malformed message on this stream */
    XG_RESET_CONN_CLOSED, /* the connection ended before the stream completed */
    XG_RESET_CONN_ERROR,  /* a connection-level error or GOAWAY with an error code */
    XG_RESET_OVERFLOW,    /* a limit was exceeded (HTTP/2 ENHANCE_YOUR_CALM) */
} xg_reset_reason;

const char *xg_reset_reason_name(xg_reset_reason r);

typedef enum xg_goaway_mode {
    XG_GOAWAY_NOTICE, /* HTTP/2: GOAWAY(2^31-1), streams still accepted; HTTP/1: the next response says
                         Connection: close and no further request is read */
    XG_GOAWAY_FINAL,  /* HTTP/2: GOAWAY(last stream id seen), no new streams, in-flight ones finish;
                         HTTP/1: as NOTICE */
    XG_GOAWAY_ABORT,  /* close now: HTTP/2 GOAWAY(NO_ERROR), HTTP/1 drops unwritten output; every stream is
                         forgotten without callbacks (the owner drops its own) */
} xg_goaway_mode;

/* Callbacks up to the owner; the first argument is xg_codec.owner, user the
 * pointer the owner gave for the stream. Any may be NULL except on_stream_begin
 * (server role), on_headers and on_data. */
typedef struct xg_codec_cbs {
    /* Server role: the peer opened stream sid. Set *user and *arena (the
     * stream's arena: the codec builds its xg_headers there). Non-zero refuses
     * the stream (HTTP/2 REFUSED_STREAM; HTTP/1 closes the connection). */
    int (*on_stream_begin)(void *owner, uint32_t sid, void **user, xg_arena **arena);
    /* A complete header block: request or response headers (also 1xx
     * responses, status < 200, which never end the stream). h lives in the
     * stream's arena; the owner may keep and mutate it. end_stream: no body
     * follows. An HTTP/1 upgrade request is delivered with end_stream false. */
    void (*on_headers)(void *owner, void *user, uint32_t sid, xg_headers *h, bool end_stream);
    /* Body bytes, borrowed for the call only: copy or forward them now, and
     * call xg_codec_consumed(sid, n) once they have left the proxy; the codec
     * delivers at most opts.stream_window unconsumed bytes per stream. n may
     * be 0 with end_stream. After a 101 the bytes are the raw tunnel. */
    void (*on_data)(void *owner, void *user, uint32_t sid, const char *p, size_t n, bool end_stream);
    /* Trailers; they end the stream. t lives in the stream's arena. */
    void (*on_trailers)(void *owner, void *user, uint32_t sid, xg_headers *t);
    /* Terminal: both directions completed normally. */
    void (*on_stream_close)(void *owner, void *user, uint32_t sid);
    /* Terminal: the stream ended abnormally. */
    void (*on_stream_reset)(void *owner, void *user, uint32_t sid, xg_reset_reason r);
    /* HTTP/2: the peer sent GOAWAY; streams above last_sid were not processed
     * (they get on_stream_reset(REFUSED)). error_code 0 = graceful. */
    void (*on_goaway)(void *owner, uint32_t last_sid, uint32_t error_code);
    /* The codec gave up. Server role, sid != 0: the request on stream sid
     * was rejected: before on_headers for header-level faults (nothing of it
     * was delivered), or, HTTP/1 only, after them for body framing faults
     * (bad chunk size: no end_stream was delivered). The owner answers with
     * xg_codec_err_status(kind) via send_headers/send_data if it has not
     * started a response (else the codec resets the stream itself); the rest
     * of that request is dropped, and an HTTP/1 connection closes after the
     * answer (HTTP/2: only the stream ends). Client role, sid != 0: the
     * response on sid is malformed; on_stream_reset(PROTOCOL) follows and the
     * connection is closed. sid == 0: a connection-level error; the codec
     * queued what the protocol wants (GOAWAY), every open stream is reset,
     * and should_close() is true. detail: static text for logs. */
    void (*on_error)(void *owner, void *user, uint32_t sid, xg_codec_err kind, const char *detail);
    /* pending(sid) fell below half of opts.send_buffer_limit after a send
     * left it at or above the limit: the owner may read its source again. */
    void (*on_send_ready)(void *owner, void *user, uint32_t sid);
} xg_codec_cbs;

/* Limits and behaviour switches; xg_codec_opts_init sets the defaults named
 * in the comments (docs/http.md). The HCM fills them from its xg_hcm. */
typedef struct xg_codec_opts {
    uint32_t max_headers_kb;    /* 60: request line + headers (HTTP/1), header list (HTTP/2) -> 431 */
    uint32_t max_headers_count; /* 100 -> 431 */
    uint32_t stream_window;     /* 65536: unconsumed body bytes delivered per stream */
    uint32_t send_buffer_limit; /* 65536: see on_send_ready */
    /* HTTP/1 */
    bool accept_http_10;                  /* false: HTTP/1.0 -> 426 */
    const char *default_host_for_http_10; /* borrowed (config); NULL: HTTP/1.0 without Host -> 400 */
    bool allow_absolute_url;              /* true: http(s)://authority/path accepted (authority wins over Host) */
    bool allow_connect;                   /* false: CONNECT -> 400 */
    bool auto_100_continue;               /* true: the server codec answers "100 Continue" (HTTP/1.1 and HTTP/2) and
                                             drops Expect */
    bool enable_trailers;                 /* false: HTTP/1 trailers are parsed and dropped */
    /* HTTP/2 */
    uint32_t max_concurrent_streams; /* 100 */
    uint32_t conn_window;            /* 1048576 (a WINDOW_UPDATE at start raises it from 65535) */
    uint32_t hpack_table_size;       /* 4096 */
    /* false (Envoy's default): a message that breaks HTTP/2's HTTP rules (nghttp2's messaging checks: pseudo-header
     * rules, uppercase or connection-specific fields, te other than "trailers", content-length vs DATA) ends the
     * whole connection with GOAWAY(PROTOCOL_ERROR); true: only that stream, with RST_STREAM(PROTOCOL_ERROR). */
    bool stream_error_on_invalid_http_message;
    /* Envoy's flood limits (Http2ProtocolOptions); beyond each: GOAWAY(ENHANCE_YOUR_CALM), the connection closes. */
    uint32_t max_outbound_frames;         /* 10000 frames queued and not yet written */
    uint32_t max_outbound_control_frames; /* 1000 queued PING and SETTINGS acknowledgements */
    uint32_t max_empty_frames;            /* 1 consecutive HEADERS/CONTINUATION/DATA without payload or END_STREAM */
    uint32_t max_priority_per_stream;     /* 100 PRIORITY frames per opened stream (+1) */
    uint32_t max_window_updates_per_data; /* 10 WINDOW_UPDATEs per DATA frame sent (Envoy's formula) */
    uint32_t max_settings;                /* 32 entries per SETTINGS frame */
    uint32_t max_continuations;           /* 8 CONTINUATION frames per header block */
    uint32_t premature_reset_min_streams; /* 100: streams opened before the ratio check applies */
    uint32_t max_resets_per_sec;          /* 100 RST_STREAM per second sustained, bursts of 4x -> GOAWAY */
} xg_codec_opts;

void xg_codec_opts_init(xg_codec_opts *o);

struct xg_hcm;
/* Defaults, then what an HttpConnectionManager configures for its
 * downstream codecs: limits, HTTP/1 and HTTP/2 protocol options (flood
 * limits, stream_error_on_invalid_http_message with the HTTP/2 override
 * winning over the HCM field), CONNECT via upgrade_configs. Envoy's
 * edge-unsafe defaults are already resolved in config/hcm.h. */
void xg_codec_opts_from_hcm(xg_codec_opts *o, const struct xg_hcm *hcm);

typedef struct xg_codec xg_codec;

typedef struct xg_codec_vt {
    int (*feed)(xg_codec *c, const char *p, size_t n, size_t *used);
    size_t (*output)(xg_codec *c, struct iovec *iov, size_t max);
    void (*output_done)(xg_codec *c, size_t n);
    int (*send_request)(xg_codec *c, void *user, xg_arena *arena, const xg_headers *h, bool end_stream, uint32_t *sid);
    int (*send_headers)(xg_codec *c, uint32_t sid, const xg_headers *h, bool end_stream);
    int (*send_data)(xg_codec *c, uint32_t sid, const void *p, size_t n, bool end_stream);
    int (*send_trailers)(xg_codec *c, uint32_t sid, const xg_headers *t);
    void (*reset)(xg_codec *c, uint32_t sid, xg_reset_reason r);
    void (*consumed)(xg_codec *c, uint32_t sid, size_t n);
    size_t (*pending)(xg_codec *c, uint32_t sid);
    void (*goaway)(xg_codec *c, xg_goaway_mode mode);
    void (*pause)(xg_codec *c, bool paused);
    bool (*can_feed)(const xg_codec *c);
    bool (*want_write)(const xg_codec *c);
    bool (*should_close)(const xg_codec *c);
    uint32_t (*capacity)(const xg_codec *c);
    uint32_t (*active_streams)(const xg_codec *c);
    size_t (*trim)(xg_codec *c); /* NULL: nothing to give back */
    void (*free)(xg_codec *c);
} xg_codec_vt;

/* The common head of every codec; the vtable first (h2o's balancer style). */
struct xg_codec {
    const xg_codec_vt *vt;
    const xg_codec_cbs *cb; /* borrowed: outlives the codec */
    void *owner;
    xg_codec_proto proto;
    xg_codec_role role;
};

/* Constructors: a heap codec (one per connection; free with xg_codec_free).
 * opts is copied; cb and owner are borrowed. 0, XG_ENOMEM or XG_EINVAL. */
int xg_http1_server_new(xg_codec **out, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner);
int xg_http1_client_new(xg_codec **out, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner);
int xg_http2_server_new(xg_codec **out, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner);
int xg_http2_client_new(xg_codec **out, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner);

/* codec_type AUTO on plaintext: 1 when p starts with (a prefix of, if n is
 * short) the HTTP/2 client preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" and
 * n covers all 24 bytes; 0 when it cannot be the preface; -1 when more bytes
 * are needed to tell (p is a proper prefix of it). */
int xg_http2_detect_preface(const char *p, size_t n);

/* Bytes read from the peer. *used is how many the codec took; the rest stays
 * with the owner, who feeds it again once can_feed() is true (after
 * consumed(), a finished response on a pipelined HTTP/1 connection, or
 * pause(false)). p == NULL, n == 0: the peer closed its side (EOF). 0, or a
 * negative XG_E* when the connection is dead (on_error already ran):
 * write out what output() still has, then close. */
static inline int xg_codec_feed(xg_codec *c, const char *p, size_t n, size_t *used)
{
    return c->vt->feed(c, p, n, used);
}

/* Up to max iovecs of bytes to write, borrowed until the next call that
 * changes the codec; returns the count (0: nothing to write). Then report
 * how many bytes the socket took with output_done. */
static inline size_t xg_codec_output(xg_codec *c, struct iovec *iov, size_t max)
{
    return c->vt->output(c, iov, max);
}
static inline void xg_codec_output_done(xg_codec *c, size_t n)
{
    c->vt->output_done(c, n);
}

/* Client role: opens a stream with request headers h (serialized now: h may
 * be freed after the call). user and arena as from on_stream_begin. *sid is
 * the new stream's id. XG_EAGAIN when capacity() is 0. */
static inline int xg_codec_send_request(xg_codec *c, void *user, xg_arena *arena, const xg_headers *h, bool end_stream,
                                        uint32_t *sid)
{
    return c->vt->send_request(c, user, arena, h, end_stream, sid);
}

/* Server role: response headers on sid (1xx any number of times before the
 * final ones; 101 after an HTTP/1 upgrade request switches the connection to
 * a raw tunnel). Serialized now; h may be freed after the call. HTTP/1 adds
 * Transfer-Encoding: chunked when the response has a body and no
 * content-length, and strips hop-by-hop headers it owns (connection,
 * keep-alive, transfer-encoding...). XG_EINVAL for an unknown or finished stream. */
static inline int xg_codec_send_headers(xg_codec *c, uint32_t sid, const xg_headers *h, bool end_stream)
{
    return c->vt->send_headers(c, sid, h, end_stream);
}

/* Body bytes on sid; copied (p may be reused after the call). Never refused
 * for lack of room: the owner watches pending() and on_send_ready. */
static inline int xg_codec_send_data(xg_codec *c, uint32_t sid, const void *p, size_t n, bool end_stream)
{
    return c->vt->send_data(c, sid, p, n, end_stream);
}

/* Trailers on sid; they end the stream (HTTP/1: only on a chunked message,
 * else dropped and the body just ends). */
static inline int xg_codec_send_trailers(xg_codec *c, uint32_t sid, const xg_headers *t)
{
    return c->vt->send_trailers(c, sid, t);
}

/* Abandons stream sid (no terminal callback follows). HTTP/2: RST_STREAM
 * with the code for r; HTTP/1: the connection closes after what is queued. */
static inline void xg_codec_reset(xg_codec *c, uint32_t sid, xg_reset_reason r)
{
    c->vt->reset(c, sid, r);
}

/* n body bytes of sid delivered by on_data have left the proxy: reopens the
 * window (HTTP/2 WINDOW_UPDATE, HTTP/1 parsing resumes). */
static inline void xg_codec_consumed(xg_codec *c, uint32_t sid, size_t n)
{
    c->vt->consumed(c, sid, n);
}

/* Bytes queued on sid not yet written out (HTTP/2: held back by the peer's
 * flow-control window too). */
static inline size_t xg_codec_pending(xg_codec *c, uint32_t sid)
{
    return c->vt->pending(c, sid);
}

static inline void xg_codec_goaway(xg_codec *c, xg_goaway_mode mode)
{
    c->vt->goaway(c, mode);
}

/* Stops (true) or restarts (false) taking input; feed takes nothing while paused. */
static inline void xg_codec_pause(xg_codec *c, bool paused)
{
    c->vt->pause(c, paused);
}

/* True when feed would take bytes now. */
static inline bool xg_codec_can_feed(const xg_codec *c)
{
    return c->vt->can_feed(c);
}

/* True when output() has bytes. */
static inline bool xg_codec_want_write(const xg_codec *c)
{
    return c->vt->want_write(c);
}

/* True when the connection should be closed once output() is empty. */
static inline bool xg_codec_should_close(const xg_codec *c)
{
    return c->vt->should_close(c);
}

/* Client role: how many more streams may be opened now (HTTP/1: 1 when idle
 * and keep-alive, else 0; HTTP/2: the peer's SETTINGS_MAX_CONCURRENT_STREAMS
 * minus open streams, 0 after GOAWAY). A pool reuses a connection while > 0. */
static inline uint32_t xg_codec_capacity(const xg_codec *c)
{
    return c->vt->capacity(c);
}

static inline uint32_t xg_codec_active_streams(const xg_codec *c)
{
    return c->vt->active_streams(c);
}

/* The connection has been idle a while (no stream, nothing to write): gives
 * back memory kept only for traffic (HTTP/2: the output buffer and nghttp2's
 * frame buffer and stream-map pages). Costs a syscall or two and a page fault
 * or two when traffic resumes, so owners call it only after a quiet spell,
 * not on every idle moment. Returns the bytes given back (0 when not idle). */
static inline size_t xg_codec_trim(xg_codec *c)
{
    return c->vt->trim != NULL ? c->vt->trim(c) : 0;
}

/* Frees the codec and everything it owns; runs no callback. */
static inline void xg_codec_free(xg_codec *c)
{
    if (c != NULL)
        c->vt->free(c);
}

#endif
