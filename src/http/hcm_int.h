/* Internals of the HTTP connection manager shared by its files: hcm.c (the
 * downstream connection: protocol detection, read/write pump, connection
 * timers, drain), stream.c (streams and the filter chain), hcm_request.c
 * (Envoy's request header handling), hcm_response.c (server, date, via,
 * x-request-id on responses) and local_reply.c. Worker thread only. */
#ifndef XG_HTTP_HCM_INT_H
#define XG_HTTP_HCM_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "codec/codec.h"
#include "config/hcm.h"
#include "config/listener.h"
#include "event/loop.h"
#include "http/conn_state.h"
#include "http/hcm.h"
#include "http/stream.h"
#include "net/conn.h"

struct xg_worker_rt;

/* A downstream address (TCP: IPv4 or IPv6) in 28 bytes where
 * sockaddr_storage takes 128. ss_family overlays sa_family as in
 * sockaddr_storage: 0 when not known (or not an IP address). */
typedef union xg__hconn_addr {
    sa_family_t ss_family;
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
} xg__hconn_addr;

/* Both ends of a connection that went away under live streams: the
 * streams' accessors read this copy from then on (hcm.c keep_addrs). */
typedef struct xg__hconn_addrs {
    xg__hconn_addr peer, local;
} xg__hconn_addrs;

/* One downstream connection under an HTTP connection manager. */
typedef struct xg_hconn xg_hconn;
struct xg_hconn {
    xg_conn *conn; /* NULL once given up or dead */
    const xg_filter_chain *chain; /* borrowed from the snapshot, as its hcm (the config: hc->chain->hcm) */
    xg_loop *loop;
    xg_codec *codec; /* NULL until the protocol is known (AUTO on plaintext), and while parked */
    uint32_t send_limit; /* the codec's send_buffer_limit (stream_pipe.c's back-pressure) */
    uint8_t proto;       /* xg_codec_proto, in a byte */
    /* flags (bits: every idle keep-alive connection keeps an hconn) */
    bool tls : 1;
    bool draining : 1;    /* no new requests wanted (GOAWAY notice / connection: close) */
    bool goaway_sent : 1; /* the codec was told about the drain (GOAWAY notice) */
    bool goaway_final : 1;
    bool failed : 1;      /* a connection-level codec error (on_error with sid 0): GOAWAY queued */
    bool closing : 1;     /* we gave the conn up (xg_conn_close) */
    bool in_codec : 1;    /* inside feed/output: codec callbacks may run, no re-entry */
    bool again : 1;       /* a pump was asked for while in_codec */
    bool wait_write : 1;  /* the socket took less than offered: on_writable follows */
    bool eof_fed : 1;     /* the codec was told about the peer's FIN */
    bool freed : 1;       /* free scheduled */
    bool parked : 1;      /* HTTP/1 between requests: the codec went back to the spares (hcm.c) */
    bool trimmed : 1;     /* the codec's memory was trimmed in this idle spell (HTTP/2) */
    bool pump_queued : 1; /* on the worker's pump queue (pump_prev, pump_next) */
    int8_t peer_cert; /* TLS client certificate: -1 not looked at yet, 0 none, 1 presented, 2 presented and verified */

    uint32_t n_streams;
    uint32_t n_requests; /* streams begun (max_requests_per_connection) */
    xg_stream *streams;  /* active streams, newest first */

    /* connection timers, all through the conn's one owner deadline */
    double idle_since;     /* ev_now when the last stream ended (or accept); 0 while streams are active */
    double drain_deadline; /* HTTP/2: when the final GOAWAY follows the notice; 0: none */
    double max_deadline;   /* max_connection_duration; 0: none */
    double close_deadline; /* the codec failed (protocol error, flood) but output is pending: reset then */

    xg_conn_state *fstate; /* filters' per-connection state (conn_state.h), freed with the hconn */
    /* The addresses are the conn's while it lives (no copy per idle
     * connection); one that goes away while streams live leaves a copy here,
     * freed with the hconn (NULL: none, or no memory for it: unknown). */
    xg__hconn_addrs *gone;
    /* The batched pump: work outside the connection's own callbacks (an
     * upstream read, a timer, a filter resuming) that leaves output puts the
     * connection on its worker's pump queue, which one watcher of the lowest
     * priority drains after every other event of the loop pass (hcm.c):
     * everything the pass produced for this connection goes out in one
     * write. A link here rather than a watcher per connection (16 B, not 32).
     * Once the free is scheduled (freed) the hconn is off the queue for good
     * and the links' storage is the deferred free's. */
    union {
        struct {
            struct xg_hconn *pump_prev, *pump_next;
        };
        xg_deferred deferred;
    };
};

/* hcm.c */
/* Asks for the pump (write what the codec has, feed what the conn has,
 * settle the connection: close when done) later in this loop pass, once:
 * after the other events of the pass, so the output of all of them shares
 * one write. Inside the codec: once it returns. Safe from anywhere. */
void xg__hconn_pump(xg_hconn *hc);
/* A stream finished its life (codec done and teardown complete): unlink it;
 * it is freed at the end of the pass. */
void xg__hconn_stream_gone(xg_hconn *hc, xg_stream *s);
/* Starts a graceful close: HTTP/2 GOAWAY, HTTP/1 "connection: close" on the
 * next response; the connection closes once its streams are done. */
void xg__hconn_drain(xg_hconn *hc);

/* stream.c */
xg_stream *xg__stream_new(xg_hconn *hc, uint32_t sid);
void xg__stream_on_headers(xg_stream *s, xg_headers *h, bool end_stream);
void xg__stream_on_data(xg_stream *s, const char *p, size_t n, bool end_stream);
void xg__stream_on_trailers(xg_stream *s, xg_headers *t);
/* The codec's terminal callback (reset: abnormal). */
void xg__stream_on_codec_end(xg_stream *s, bool reset, xg_reset_reason r);
void xg__stream_on_send_ready(xg_stream *s);
/* The codec rejected the request (sid != 0): answer status if possible. */
void xg__stream_on_codec_error(xg_stream *s, xg_codec_err kind, const char *detail);
/* The connection is going away now: tear the stream down without the codec
 * (flags: DC when the downstream vanished). */
void xg__stream_abort(xg_stream *s, uint32_t flags, const char *details);
/* Local reply from the connection manager or from filter index from-1
 * downwards through the encoders (from = 0: no encoder filter sees it). */
void xg__stream_local_reply(xg_stream *s, int from, int status, const char *body, uint32_t flags, const char *details);

/* Aborts the stream after a failure (RST_STREAM / HTTP/1 close). */
void xg__stream_reset(xg_stream *s, uint32_t flags, const char *details);
/* n request body bytes left the proxy: the codec may deliver more. */
void xg__stream_consumed(xg_stream *s, size_t n);
/* The end of the encode direction: to the codec. */
void xg__stream_sink_headers(xg_stream *s, xg_headers *h, bool end_stream);
void xg__stream_sink_data(xg_stream *s, const char *p, size_t n, bool end_stream);
void xg__stream_sink_trailers(xg_stream *s, xg_headers *t);

/* stream_pipe.c: the filter chain's two directions. from is the first
 * filter to run (encode: counting down, -1 = straight to the codec). */
void xg__pipe_decode_headers(xg_stream *s, bool end_stream);
void xg__pipe_decode_data(xg_stream *s, const char *p, size_t n, bool end_stream);
void xg__pipe_decode_trailers(xg_stream *s, xg_headers *t);
void xg__pipe_encode_headers(xg_stream *s, int from, xg_headers *h, bool end_stream);
void xg__pipe_encode_data(xg_stream *s, int from, const char *p, size_t n, bool end_stream);
void xg__pipe_encode_trailers(xg_stream *s, int from, xg_headers *t);
void xg__pipe_dispose(xg__pipe *p);

/* hcm_request.c: Envoy's request handling before routing and filters.
 * Returns 0 to go on, or the status of a local reply to send (with
 * *details, and *location for a 307 path redirect); XG_ENOMEM as 500. */
int xg__hcm_prepare_request(xg_stream *s, const char **details, xg_hstr *location);
/* Route selection for s (s->rc set): vh, route and the weighted cluster pick;
 * 0 or a local reply status. */
int xg__hcm_route(xg_stream *s, const char **details, uint32_t *flags, xg_hstr *location);

/* hcm_response.c: the connection manager's response headers (date, server,
 * via, x-request-id). 0 or XG_ENOMEM. */
int xg__hcm_finalize_response(xg_stream *s, xg_headers *h);

/* local_reply.c: the headers (and body) of a local reply in s's arena,
 * gRPC-mapped for gRPC requests. */
int xg__local_reply_build(xg_stream *s, int status, const char *body, xg_headers **out, const char **out_body,
                          size_t *out_len);
/* Envoy's HTTP status -> gRPC status mapping (Grpc::Utility::httpToGrpcStatus). */
int xg__http_to_grpc_status(int status);
/* The reason phrase of a status ("Bad Request"), for local reply bodies. */
const char *xg__status_text(int status);

#endif
