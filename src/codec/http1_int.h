/* Internals shared by the HTTP/1.1 server and client codecs: one llhttp
 * parser per connection, at most one stream at a time (pipelined requests are
 * not parsed before the current response is done), an output buffer handed
 * out as one iovec, and the header-field accumulation and checks that make
 * llhttp 8.1 strict enough for a proxy (token names, no obs-fold, trimmed
 * values). Not a public interface: only http1_*.c include it. */
#ifndef XG_CODEC_HTTP1_INT_H
#define XG_CODEC_HTTP1_INT_H

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"
#include "core/buf.h"

/* The stream of the message exchange in progress. */
typedef struct xg__h1_stream {
    uint32_t id;
    void *user;
    xg_arena *arena;
    xg_headers *in;       /* received header block (request or response), in arena */
    xg_headers *trailers; /* received trailers, NULL if none */
    uint64_t unconsumed;  /* delivered body bytes not yet consumed() */
    bool known;           /* the owner has heard of it (on_stream_begin / send_request) */
    bool in_headers;      /* the received final header block was delivered */
    bool in_body;         /* between headers complete and message complete */
    bool in_done;         /* the received message is complete */
    bool upgrade;         /* an upgrade request (or CONNECT) waits for its response */
    bool tunnel;          /* 101 / CONNECT 2xx: raw bytes both ways */
    bool head;            /* the request method is HEAD (no response body) */
    bool connect;         /* client: the request is a CONNECT */
    bool keep_alive;      /* the request allows reuse (version + Connection) */
    bool continue_sent;   /* 100 Continue written */
    bool out_final;       /* final (non-1xx) headers written */
    bool out_done;        /* our message is complete */
    bool out_chunked;     /* our body is chunked */
    bool out_no_body;     /* our message has no body whatever we are given */
    bool out_close;       /* our message ends with the connection (or must close after it) */
    bool out_has_len;     /* content-length framing */
    bool send_blocked;    /* pending() reached send_buffer_limit: on_send_ready owed */
    uint64_t out_remaining;
    uint16_t version; /* request version: 10 or 11 */
} xg__h1_stream;

/* A piece of the output: the next len bytes of out (p NULL), or body bytes
 * read into a pool block and written from there (one reference on block,
 * put once they are written). */
typedef struct xg__h1_span {
    const char *p;
    void *block;
    size_t len;
} xg__h1_span;

/* Spans queued at most: a response head, body pieces and chunk framing of a
 * few reads; past that, body bytes are copied. */
#define XG__H1_SPANS 8

typedef struct xg__h1 {
    xg_codec base;
    xg_codec_opts opts;
    llhttp_t parser;
    llhttp_settings_t settings;
    /* Bytes to write. With no span queued: out[out_off, out.len), the usual
     * case. Else the spans in order, whose owned pieces add up to
     * out.len - out_off (http1_out.c). */
    xg_buf out;
    size_t out_off;
    xg__h1_span spans[XG__H1_SPANS];
    uint8_t span_head, span_n;
    size_t ref_bytes; /* body bytes queued by reference */
    /* header field being parsed; copied into the stream's arena on completion */
    xg_buf name;
    xg_buf value;
    /* The name / value while it is one span of the slice being executed (the
     * usual case): borrowed, not copied into name / value unless the slice
     * ends first (xg__h1_execute) or a second span follows. NULL otherwise. */
    const char *name_at;
    const char *value_at;
    uint32_t name_at_len;
    uint32_t value_at_len;
    xg_buf url;          /* request target (server) */
    bool in_value;       /* inside a header value (obs-fold detection) */
    bool value_started;  /* the current value had a span */
    const char *feed_at; /* start of the slice being executed */
    bool tail_lf_ws;     /* the previous slice ended in LF [SP/HT]* */
    uint32_t hdr_count;
    size_t hdr_bytes; /* raw bytes of the current header section (server) or spans (client) */
    xg_codec_err err; /* set by a callback that returns HPE_USER */
    const char *err_detail;
    xg__h1_stream st;
    bool has_stream;
    uint32_t next_id;
    bool paused;     /* owner's pause() */
    bool goaway;     /* no request after the current one */
    bool dead;       /* should_close: flush and close */
    bool eof;        /* the peer closed its side */
    bool close_owed; /* st finished: on_stream_close owed at the next feed/output */
    uint32_t served; /* requests completed on this connection (client: reuse) */
} xg__h1;

/* Shared setup: parser of type t, buffers; base fields from the arguments. */
void xg__h1_init(xg__h1 *h, llhttp_type_t t, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner);
void xg__h1_dispose(xg__h1 *h);

/* Output buffer. 0 or XG_ENOMEM. */
int xg__h1_out(xg__h1 *h, const void *p, size_t n);
/* Inline so a literal's length is known at compile time. */
static inline int xg__h1_outs(xg__h1 *h, const char *s)
{
    return xg__h1_out(h, s, strlen(s));
}
/* n more bytes at the end of the output, for the caller to fill at once (the
 * buffer stays NUL-terminated after them); NULL on allocation failure. */
char *xg__h1_out_reserve(xg__h1 *h, size_t n);
/* Body bytes: queued by reference when they lie in the block a connection
 * is announcing (xg_bufpool_try_lend), else copied, the buffer growing to
 * room bytes free at once when it must grow (the rest of a body of known
 * length). 0 or XG_ENOMEM. */
int xg__h1_out_body(xg__h1 *h, const void *p, size_t n, size_t room);
/* Drops the owned bytes past len (out.len becomes len): a head refused part
 * way, written after everything still queued. */
void xg__h1_out_truncate(xg__h1 *h, size_t len);
/* Discards everything not yet written (abort, free). */
void xg__h1_out_drop(xg__h1 *h);
/* Bytes queued and not yet written, owned or referenced. */
size_t xg__h1_out_pending(const xg__h1 *h);
/* "HTTP/1.1 <status> <reason>\r\n"; status is 100..999. */
int xg__h1_write_status_line(xg__h1 *h, int status, const char *reason);
size_t xg__h1_output(xg_codec *c, struct iovec *iov, size_t max);
/* Marks n bytes written; fires on_send_ready when a blocked stream drains. */
void xg__h1_output_done(xg_codec *c, size_t n);
size_t xg__h1_pending(xg_codec *c, uint32_t sid);
bool xg__h1_want_write(const xg_codec *c);
bool xg__h1_should_close(const xg_codec *c);
void xg__h1_pause(xg_codec *c, bool paused);
void xg__h1_consumed(xg_codec *c, uint32_t sid, size_t n);
uint32_t xg__h1_active_streams(const xg_codec *c);
/* After a send: flags the stream blocked when pending() >= the limit. */
void xg__h1_note_sent(xg__h1 *h);

/* llhttp span callbacks for header fields, shared by both roles: accumulate,
 * check names are tokens, reject obs-fold, trim values, push into st.in (or
 * st.trailers once the body started), count them (431 past the limits). */
int xg__h1_on_header_field(llhttp_t *p, const char *at, size_t n);
int xg__h1_on_header_value(llhttp_t *p, const char *at, size_t n);
int xg__h1_on_header_value_complete(llhttp_t *p);

/* Removes the hop-by-hop fields of a received block (RFC 9110 §7.6.1):
 * connection and the fields it names, keep-alive, proxy-connection,
 * transfer-encoding, http2-settings, upgrade (unless upgrade), and te unless
 * it is "trailers" (kept as exactly that). */
int xg__h1_strip_hop_by_hop(xg_headers *in, bool upgrade);

/* Records why a callback fails and returns HPE_USER. */
int xg__h1_fail(xg__h1 *h, xg_codec_err kind, const char *detail);
/* Runs llhttp over p[0..n) remembering the slice start for obs-fold checks;
 * *used gets the bytes llhttp took (all on HPE_OK, up to the pause otherwise). */
llhttp_errno_t xg__h1_execute(xg__h1 *h, const char *p, size_t n, size_t *used);
/* Kind and detail for a parser error: ours (HPE_USER) or llhttp's. */
xg_codec_err xg__h1_error_kind(xg__h1 *h, llhttp_errno_t e, const char **detail);

/* Writes "name: value\r\n" for every entry of hd except the hop-by-hop ones
 * the codec owns (connection, keep-alive, proxy-connection,
 * transfer-encoding, upgrade unless keep_upgrade, te, host) and, when
 * skip_len, content-length. XG_EINVAL for a name or value that would split
 * the message (not a token / CR, LF or NUL). */
int xg__h1_write_fields(xg__h1 *h, const xg_headers *hd, bool keep_upgrade, bool skip_len);
/* Body bytes with the stream's framing (chunked, length, raw). */
int xg__h1_write_body(xg__h1 *h, const void *p, size_t n, bool end_stream);
/* Ends a chunked body with trailers t (NULL: none). */
int xg__h1_write_trailers(xg__h1 *h, const xg_headers *t);

/* A content-length value: one decimal number, no sign or list. */
bool xg__h1_parse_length(const char *s, size_t n, uint64_t *out);
/* The single content-length in hd, if any: 1 found, 0 none, XG_EINVAL bad or several. */
int xg__h1_find_length(const xg_headers *hd, uint64_t *out);

/* Delivers body bytes to the owner and counts them against the window. */
void xg__h1_deliver(xg__h1 *h, const char *p, size_t n, bool end_stream);
/* Fires the owed on_stream_close; clears the stream. */
void xg__h1_flush_events(xg__h1 *h);

#endif
