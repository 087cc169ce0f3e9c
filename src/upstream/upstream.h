/* Upstream requests: what the router filter calls to send one request to a
 * cluster and stream the response back. Starting a request picks a host
 * (cluster/), takes a connection from that host's per-worker pool (an idle
 * HTTP/1.1 keep-alive connection, a stream on a multiplexed HTTP/2 one, or a
 * new connection), sends the headers with the upstream side of the H1<->H2
 * rules applied, and streams bodies both ways with back-pressure:
 *
 *  - request body: the router calls xg_upstream_send_data as downstream bytes
 *    arrive; when xg_upstream_send_blocked() turns true it stops reading the
 *    downstream until on_send_ready. Nothing buffers more than about one
 *    send_buffer_limit (64 KiB) per request on this side.
 *  - response body: on_data bytes are borrowed for the call; the router
 *    forwards them and calls xg_upstream_consumed() once the downstream has
 *    taken them. At most one stream window (64 KiB) is delivered ahead of
 *    that; then the upstream connection stops reading (HTTP/1) or stops
 *    opening the flow-control window (HTTP/2).
 *
 * Callback contract (as net/conn.h): callbacks run only from the worker's
 * loop, never inside an xg_upstream_* call. Exactly one terminal event ends a
 * request: the last response callback with end_stream (on_headers/on_data),
 * on_trailers, or on_reset; or the router's xg_upstream_cancel. After it no
 * callback runs and, once that callback has returned, the upstream layer
 * holds no pointer into the request: the router may then dispose of its
 * arena (never inside the callback itself: mark and defer, STYLE.md).
 *
 * Thread: the worker that owns the cluster runtime. */
#ifndef XG_UPSTREAM_UPSTREAM_H
#define XG_UPSTREAM_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "codec/codec.h"
#include "core/arena.h"
#include "http/headers.h"

/* Why a request failed. The response flag and Envoy's response code details
 * follow from it (xg_upstream_reset_flag / _detail). */
typedef enum xg_upstream_reset {
    XG_UPSTREAM_NO_HEALTHY_HOST,  /* UH: the cluster has no usable host (from start) */
    XG_UPSTREAM_OVERFLOW,         /* UO: the pool's pending queue is full (from start) */
    XG_UPSTREAM_CONNECT_FAILURE,  /* UF: refused, unreachable, TLS handshake or verification failed */
    XG_UPSTREAM_CONNECT_TIMEOUT,  /* UF: connect_timeout elapsed before the connection was ready */
    XG_UPSTREAM_CONN_TERMINATION, /* UC: the connection closed before the response completed */
    XG_UPSTREAM_REMOTE_RESET,     /* UR: the upstream reset the stream */
    XG_UPSTREAM_REFUSED,          /* UR: the upstream refused the stream unprocessed (safe to retry) */
    XG_UPSTREAM_PROTOCOL_ERROR,   /* UPE: a malformed response or an HTTP/2 protocol error */
    XG_UPSTREAM_LOCAL_RESET,      /* LR: we gave up (out of memory, cluster TLS context unusable) */
} xg_upstream_reset;

/* The XG_RF_* bit for a reason (upstream/resp_flags.h). */
uint32_t xg_upstream_reset_flag(xg_upstream_reset r);
/* Envoy's response code details, e.g. "upstream_reset_before_response_started{connection_failure}"
 * or "no_healthy_upstream"; static text. */
const char *xg_upstream_reset_detail(xg_upstream_reset r, bool response_started);
/* The local-reply status Envoy uses for a failure before the response
 * started: 503, or 502 for an upstream protocol error. */
int xg_upstream_reset_status(xg_upstream_reset r);

typedef struct xg_upstream_req xg_upstream_req;

/* The router's callbacks; user is xg_upstream_params.user. All but
 * on_send_ready are required. */
typedef struct xg_upstream_cbs {
    /* The final response headers (1xx are not passed on, except 101 for an
     * upgrade). h lives in the request's arena, hop-by-hop headers removed;
     * the router may mutate it. end_stream: no body follows. */
    void (*on_headers)(void *user, xg_headers *h, bool end_stream);
    /* Response body bytes, borrowed for the call (see xg_upstream_consumed). */
    void (*on_data)(void *user, const char *p, size_t n, bool end_stream);
    /* Response trailers; they end the response. In the request's arena. */
    void (*on_trailers)(void *user, xg_headers *t);
    /* The request failed; response_started: on_headers already ran (the
     * router can then only reset the downstream stream). */
    void (*on_reset)(void *user, xg_upstream_reset reason, bool response_started);
    /* xg_upstream_send_blocked() went from true to false. */
    void (*on_send_ready)(void *user);
} xg_upstream_cbs;

typedef struct xg_upstream_params {
    xg_cluster_rt *cluster;
    xg_lb_ctx lb;
    /* The request headers: :method, :path, :authority (the H1 Host), :scheme
     * (may be empty: "https" or "http" by the upstream transport). Borrowed
     * and edited in place (hop-by-hop headers removed, host folded into
     * :authority): they must stay valid until the request ends. */
    xg_headers *headers;
    bool end_stream; /* no request body */
    /* The request object and the response headers/trailers are allocated
     * here: the downstream stream's arena, which outlives the request. */
    xg_arena *arena;
    const xg_upstream_cbs *cb;
    void *user;
    /* USE_DOWNSTREAM clusters speak the downstream's protocol. */
    xg_codec_proto downstream_proto;
    /* Optional. Unlike the callbacks above, it runs synchronously inside
     * xg_upstream_request_start, once, right after the host is picked and
     * before the request can reach a connection (an idle connection sends
     * the headers at once): the last chance to edit headers for that host
     * (the router's auto_host_rewrite). h is borrowed for the call. A
     * non-zero return fails the start with that code (LOCAL_RESET). */
    int (*on_host)(void *user, const xg_host *h, xg_headers *headers);
    /* The route's priority (XG_PRIORITY_DEFAULT or _HIGH): which circuit
     * breaker thresholds and counts (upstream/breaker.h) and which pools. */
    int priority;
    /* Optional, synchronous like on_host: true when h should not be used (a
     * retry's previous_hosts predicate); the balancer then picks again, up
     * to host_selection_retries more times, and the last pick is used
     * whatever the answer (Envoy's host_selection_retry_max_attempts). */
    bool (*reject_host)(void *user, const xg_host *h);
    uint32_t host_selection_retries;
} xg_upstream_params;

/* Starts a request. On 0, *out is the request and every later outcome comes
 * through the callbacks. Failures known at once are returned instead (no
 * callback follows, *why says which): XG_ENOENT with NO_HEALTHY_HOST (UH),
 * XG_EAGAIN with OVERFLOW (UO: the cluster's max_pending_requests, or
 * max_requests with a connection free), XG_ENOMEM with LOCAL_RESET. A
 * request that was queued and finds max_requests reached when a connection
 * frees up fails later through on_reset with OVERFLOW. */
int xg_upstream_request_start(const xg_upstream_params *p, xg_upstream_req **out, xg_upstream_reset *why);

/* Request body bytes, copied (p may be reused after the call). end_stream
 * ends the request. Never refused for room: watch xg_upstream_send_blocked.
 * An upgrade (WebSocket) sends nothing before on_headers(101): then the bytes
 * are the tunnel's. 0, or XG_EINVAL after the request's end or terminal event. */
int xg_upstream_send_data(xg_upstream_req *r, const void *p, size_t n, bool end_stream);
/* Request trailers (they end the request); borrowed until the request ends.
 * An HTTP/1 upstream gets them only on a chunked body. */
int xg_upstream_send_trailers(xg_upstream_req *r, const xg_headers *t);
/* True while the bytes held for this request's upstream side are at or
 * above the limit: stop reading the downstream until on_send_ready. */
bool xg_upstream_send_blocked(const xg_upstream_req *r);
/* n response body bytes delivered by on_data have left the proxy. */
void xg_upstream_consumed(xg_upstream_req *r, size_t n);
/* The downstream went away or the router gave up (timeout): resets the
 * upstream stream (HTTP/2 RST_STREAM(CANCEL); HTTP/1: the connection is
 * closed, as a half-sent or half-read HTTP/1 exchange cannot be reused).
 * No callback follows. No-op after the terminal event. */
void xg_upstream_cancel(xg_upstream_req *r);

/* The host serving the request (for the access log's upstream host):
 * valid from start until the terminal callback returns (or cancel); NULL
 * afterwards. Borrowed. */
xg_host *xg_upstream_request_host(const xg_upstream_req *r);
/* Request-body bytes held on the upstream side for r right now: its own
 * staging while connecting, plus what the codec has queued for its stream. */
size_t xg_upstream_request_buffered(const xg_upstream_req *r);
/* True once r was given a stream on a connection: request bytes may have
 * reached the upstream (retry_on reset-before-request no longer applies).
 * Valid until the terminal callback returns. */
bool xg_upstream_request_sent(const xg_upstream_req *r);

/* Inside on_reset: why the connection attempt failed when the TLS layer
 * said (e.g. "CERTIFICATE_VERIFY_FAILED: no subjectAltName matches"), else
 * NULL. In the request's arena. */
const char *xg_upstream_request_failure(const xg_upstream_req *r);

/* Fills o's hooks so that the cluster layer drains pools of removed hosts
 * and changed clusters. Call before xg_clusters_new. */
void xg_upstream_cluster_hooks(xg_clusters_opts *o);

#endif
