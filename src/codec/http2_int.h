/* Internals shared by the HTTP/2 server and client codecs: one nghttp2
 * session per connection driven through its sans-IO API (mem_recv and
 * mem_send), per-stream state in the owner's stream arena, per-stream send
 * queues pulled by nghttp2 as flow control allows, and the abuse limits
 * nghttp2 does not apply itself. Only http2_*.c include it. */
#ifndef XG_CODEC_HTTP2_INT_H
#define XG_CODEC_HTTP2_INT_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec/codec.h"
#include "core/buf.h"

typedef struct xg__h2_stream xg__h2_stream;

/* http2_mem.c: nghttp2's allocator for one session. Blocks of
 * XG__H2_MEM_BIG bytes or more (the frame buffer, the stream map's table)
 * are page-aligned and tracked, up to XG__H2_MEM_SLOTS at a time, so that an
 * idle session can give their pages back. */
#define XG__H2_MEM_BIG 4096
#define XG__H2_MEM_SLOTS 4
/* nghttp2's NGHTTP2_FRAMEBUF_CHUNKLEN (frame header, pad length byte, the
 * largest payload): the size of its frame buffer chunks. */
#define XG__H2_FRAMEBUF_LEN (9 + 1 + 16384)

typedef struct xg__h2_mem {
    struct {
        void *p; /* NULL: free slot */
        size_t len;
        bool frames; /* nghttp2's frame buffer: made while the session was created */
    } big[XG__H2_MEM_SLOTS];
    /* Set around nghttp2_session_*_new: a block of XG__H2_FRAMEBUF_LEN made
     * then is the frame buffer. Known by address, never by size alone: an
     * HPACK table entry can take a block of that very size (a 16,353-byte
     * value), and its bytes must survive a trim. */
    bool creating;
} xg__h2_mem;

/* Fills *out (nghttp2 copies it) to allocate through m. */
void xg__h2_mem_init(xg__h2_mem *m, nghttp2_mem *out);
/* Gives back the pages of m's tracked blocks that hold nothing: blocks of
 * zeros, and with frames_idle (nghttp2 has no frame packed or half sent)
 * the frame buffer made while the session was created. Returns the bytes
 * given back. */
size_t xg__h2_mem_trim(xg__h2_mem *m, bool frames_idle);

struct xg__h2_stream {
    xg__h2_stream *prev, *next; /* the codec's list of streams the owner knows */
    uint32_t id;
    void *user;
    xg_arena *arena;
    xg_headers *in;       /* header block being received */
    xg_headers *trailers; /* trailers to send once the queue is empty (copied) */
    xg_buf sendq;         /* body bytes queued by the owner: [sendq_off, len) */
    size_t sendq_off;
    uint64_t unconsumed; /* delivered, not yet consumed() */
    bool in_final;       /* final (non-1xx) header block delivered */
    bool in_done;        /* END_STREAM received */
    bool out_headers;    /* final headers submitted */
    bool out_done;       /* the owner ended its side */
    bool out_end_sent;   /* END_STREAM went to nghttp2 (EOF flag or trailers) */
    bool deferred;       /* the data source returned NGHTTP2_ERR_DEFERRED */
    bool has_provider;   /* a data provider is attached */
    bool owner_reset;    /* reset by the owner: no callbacks */
    bool peer_reset;     /* RST_STREAM received */
    bool local_rst;      /* the codec sent RST_STREAM itself (a limit), not nghttp2 */
    bool too_large;      /* the header block broke max_headers_kb / count */
    bool rejected;       /* the request was refused with on_error: its body is dropped */
    bool send_blocked;   /* pending() reached send_buffer_limit */
    bool sendq_pooled;   /* sendq's storage is a bufpool block (http2_common.c: sendq_append) */
    bool linked;
};

typedef struct xg__h2 {
    xg_codec base;
    xg_codec_opts opts;
    nghttp2_session *s;
    xg__h2_mem mem; /* nghttp2's allocator state: outlives s */
    xg_buf out;     /* bytes from mem_send not yet written: [out_off, len) */
    size_t out_off;
    xg__h2_stream *streams; /* known streams, newest first */
    uint32_t n_streams;
    bool paused;
    bool dead;           /* fatal: flush and close */
    bool local_goaway;   /* we sent a final GOAWAY */
    bool peer_goaway;    /* the peer sent GOAWAY */
    bool errored;        /* on_error(0) already reported */
    xg_codec_err fatal;  /* set by a callback that stops the session */
    uint32_t fatal_code; /* its GOAWAY code; 0: by the kind */
    const char *fatal_detail;
    /* abuse accounting (server) */
    uint64_t streams_opened;
    uint64_t premature_resets;
    /* Envoy's flood accounting, both roles (http2_limits.c) */
    uint64_t n_opened;     /* streams the peer opened (server) or we opened (client) */
    uint64_t priority_in;  /* PRIORITY frames received */
    uint64_t window_in;    /* WINDOW_UPDATE frames received */
    uint64_t data_out;     /* DATA frames sent */
    uint32_t out_frames;   /* frames serialized into out and not all written yet */
    uint32_t rst_queued;   /* RST_STREAMs queued in nghttp2 (ours and its stream errors) */
    uint32_t empty_frames; /* consecutive HEADERS/CONTINUATION/DATA without payload or END_STREAM */
    uint32_t block_bytes;  /* bytes of the header block being received (HEADERS + CONTINUATION) */
    uint32_t block_frames;
    /* client-initiated stream ids opened recently (server): bit (id/2) % 512
     * for ids within 1024 below highest_id, to tell a skipped (idle) id from
     * a closed one (RFC 9113 §5.1.1) */
    uint32_t highest_id;
    uint64_t opened[8];
} xg__h2;

/* Creates the session with the callbacks of both roles and the limits from o. */
int xg__h2_init(xg__h2 *h, xg_codec_role role, const xg_codec_opts *o, const xg_codec_cbs *cb, void *owner);
void xg__h2_dispose(xg__h2 *h);

/* A stream object in arena a, linked into h and attached to the session. */
xg__h2_stream *xg__h2_stream_new(xg__h2 *h, uint32_t id, void *user, xg_arena *a);
/* The stream the owner knows by sid (not reset, not closed), or NULL. */
xg__h2_stream *xg__h2_stream_get(xg__h2 *h, uint32_t sid);

typedef enum xg__h2_block {
    XG__H2_TRAILERS,
    XG__H2_RESPONSE,
    XG__H2_REQUEST,
} xg__h2_block;

/* Builds an nghttp2 name/value array for hd: pseudo-headers first (":status"
 * for responses, the request ones for requests, none for trailers), then the
 * regular fields minus the connection-specific ones HTTP/2 forbids (RFC 9113
 * §8.2.2; te survives only as "trailers"). *nva is nv_buf when it fits, else
 * malloc'd (free it when != nv_buf). Names and values are borrowed from hd
 * (nghttp2 copies them on submit); status_buf holds the 3 digits.
 * 0, XG_EINVAL or XG_ENOMEM. */
int xg__h2_build_nv(const xg_headers *hd, xg__h2_block kind, nghttp2_nv *nv_buf, size_t cap, nghttp2_nv **nva,
                    size_t *n, char *status_buf);

/* The data provider both roles attach to a stream with a body. */
extern const nghttp2_data_source_read_callback xg__h2_read_cb;

/* Shared codec entry points. */
int xg__h2_feed(xg_codec *c, const char *p, size_t n, size_t *used);
size_t xg__h2_output(xg_codec *c, struct iovec *iov, size_t max);
void xg__h2_output_done(xg_codec *c, size_t n);
int xg__h2_send_data(xg_codec *c, uint32_t sid, const void *p, size_t n, bool end_stream);
int xg__h2_send_trailers(xg_codec *c, uint32_t sid, const xg_headers *t);
void xg__h2_reset(xg_codec *c, uint32_t sid, xg_reset_reason r);
void xg__h2_consumed(xg_codec *c, uint32_t sid, size_t n);
size_t xg__h2_pending(xg_codec *c, uint32_t sid);
void xg__h2_pause(xg_codec *c, bool paused);
bool xg__h2_can_feed(const xg_codec *c);
bool xg__h2_want_write(const xg_codec *c);
bool xg__h2_should_close(const xg_codec *c);
uint32_t xg__h2_active_streams(const xg_codec *c);
size_t xg__h2_trim(xg_codec *c);
void xg__h2_free(xg_codec *c);

/* Stops the session for abuse or a fatal fault: GOAWAY with code, the error
 * reported once (on_error sid 0), every known stream reset. */
void xg__h2_fail(xg__h2 *h, xg_codec_err kind, uint32_t code, const char *detail);

/* ABORT: GOAWAY(NO_ERROR), close; streams forgotten without callbacks (the
 * owner drops its own). */
void xg__h2_abort(xg__h2 *h);

/* http2_limits.c: Envoy's inbound flood checks for a frame of type with
 * flags whose payload (padding excluded) is payload bytes long; the error
 * detail when a limit is broken, else NULL. */
const char *xg__h2_track_inbound(xg__h2 *h, uint8_t type, uint8_t flags, size_t payload);
/* The detail when more than max_outbound_frames wait to be written, or more
 * than max_outbound_control_frames RST_STREAMs (PING and SETTINGS ACKs are
 * nghttp2's max_outbound_ack), else NULL. */
const char *xg__h2_check_outbound(const xg__h2 *h);
/* RST_STREAM(code) on sid, counted for max_outbound_control_frames; 0 or an nghttp2 error. */
int xg__h2_submit_rst(xg__h2 *h, int32_t sid, uint32_t code);
/* A frame left nghttp2 (sent or dropped): the RST_STREAM count follows. */
void xg__h2_frame_gone(xg__h2 *h, uint8_t type);
/* nghttp2's on_invalid_frame_recv: stream or connection error by
 * stream_error_on_invalid_http_message (0 or NGHTTP2_ERR_CALLBACK_FAILURE). */
int xg__h2_on_invalid_frame(nghttp2_session *s, const nghttp2_frame *f, int lib_error, void *ud);

/* Role hooks, defined in http2_server.c / http2_client.c. */
int xg__h2_server_begin_headers(xg__h2 *h, const nghttp2_frame *f);
int xg__h2_server_headers_done(xg__h2 *h, xg__h2_stream *st, const nghttp2_frame *f);
void xg__h2_server_on_rst(xg__h2 *h, xg__h2_stream *st);
int xg__h2_client_headers_done(xg__h2 *h, xg__h2_stream *st, const nghttp2_frame *f);

#endif
