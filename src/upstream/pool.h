/* Per-worker upstream connection pools, one per (host, protocol, TLS
 * context) and reached from the host (cluster/host.h's pools list), and their
 * connections. One implementation serves both protocols, because the codec
 * says how many streams a connection takes now (xg_codec_capacity): an
 * HTTP/1.1 connection takes one request at a time and is reused only after a
 * complete keep-alive response; an HTTP/2 connection takes streams up to the
 * server's SETTINGS_MAX_CONCURRENT_STREAMS and none after GOAWAY.
 *
 * Internal to upstream/ (and its tests); the router uses upstream.h. */
#ifndef XG_UPSTREAM_POOL_H
#define XG_UPSTREAM_POOL_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/host.h"
#include "codec/codec.h"
#include "core/buf.h"
#include "event/loop.h"
#include "net/conn.h"
#include "upstream/upstream.h"

struct xg_tls_client;

/* Idle HTTP/1.1 connections kept per pool beyond which a finished one is
 * closed instead (per worker), unless more were in use at once within the
 * last XG_POOL_PEAK_WINDOW seconds: a pool keeps what its recent peak needs,
 * so a steady load above 64 requests in flight does not close and reopen
 * connections between bursts. */
#define XG_POOL_MAX_IDLE 64
#define XG_POOL_PEAK_WINDOW 10.0
/* Request-body bytes held per request before send_blocked (our staging while
 * connecting, and the codec's send_buffer_limit). */
#define XG_UPSTREAM_SEND_LIMIT 65536

typedef struct xg_pool xg_pool;
typedef struct xg_upconn xg_upconn;

typedef struct xg_uc_list {
    xg_upconn *head;
    uint32_t n;
} xg_uc_list;

typedef enum xg_uc_state {
    XG_UC_CONNECTING, /* TCP connect and TLS handshake (net/connect.h) */
    XG_UC_READY,      /* capacity > 0: in pool->ready (HTTP/1: idle) */
    XG_UC_BUSY,       /* no capacity now (HTTP/1: a request in flight; HTTP/2: at the stream limit or GOAWAY) */
    XG_UC_CLOSED,     /* out of the pool; freed at the end of the pass */
} xg_uc_state;

/* One codec stream of a connection: the codec's user pointer. It outlives
 * its request when the request ends first (the codec may still name the
 * stream until its terminal callback), so a late codec callback finds r NULL
 * instead of a request the router has freed. Recycled per connection. */
typedef struct xg_ustream {
    xg_upconn *uc;
    xg_upstream_req *r; /* NULL once the request ended or was cancelled */
    uint32_t sid;
    struct xg_ustream *prev, *next; /* uc->active, or uc->spare (next only) */
} xg_ustream;

struct xg_upconn {
    xg_pool *pool;
    xg_conn *conn;         /* NULL until connected */
    struct xg_connect *cx; /* the connect attempt in progress, or NULL */
    xg_codec *codec;       /* made when the transport is ready */
    xg_codec_proto proto;
    xg_uc_state state;
    xg_uc_list *list;
    xg_upconn *prev, *next;
    xg_ustream *active; /* codec streams not yet terminated */
    xg_ustream *spare;
    uint32_t n_streams; /* streams in active */
    uint32_t served;    /* streams opened (max_requests_per_connection) */
    ev_check kick;      /* never started: fed to run pump() later in this loop pass */
    xg_deferred deferred;
    bool goaway;  /* the server sent GOAWAY: no new streams */
    bool eof_fed; /* the codec was told about the peer's FIN */
    /* Holds a max_connections unit of its priority's circuit breaker. */
    bool cx_counted;
    /* max_connection_duration: armed when the connection is ready; once it
     * fires the connection takes no new stream and closes when idle. */
    ev_timer age;
    bool expired;
};

struct xg_pool {
    xg_pool *next; /* the host's list */
    xg_host *host; /* referenced */
    xg_loop *loop;
    xg_codec_proto proto;      /* for AUTO: the last negotiated one */
    xg_upstream_proto want;    /* the cluster's choice the pool was made for */
    xg_codec_proto downstream; /* USE_DOWNSTREAM pools: which one */
    int priority;              /* XG_PRIORITY_*: the circuit breaker counts its connections and requests go to */
    struct xg_tls_client *tls; /* referenced, or NULL for plaintext */
    uint64_t conn_gen;         /* the cluster's conn_gen when made */
    xg_uc_list ready, busy, connecting;
    xg_upstream_req *pend_head, *pend_tail; /* waiting for a connection, FIFO */
    uint32_t n_pending;
    uint32_t max_idle;
    /* Most connections in use at once (busy + connecting) since peak_at (the
     * loop's time), forgotten after peak_window seconds (tests shorten it). */
    uint32_t peak_in_use;
    double peak_at;
    double peak_window;
    bool draining; /* takes no new request; freed once empty */
    /* Why the connection attempt failing right now failed (its TLS
     * handshake, as the TLS layer saw it), for its requests; "" otherwise. */
    char failure[160];
    bool freed; /* unlinked; freed at the end of the pass */
    xg_deferred deferred;
    uint64_t cx_total; /* connections started (tests, stats) */
};

/* The request (upstream.h), in the router's arena. */
struct xg_upstream_req {
    xg_pool *pool;                /* the pool it was queued in / streams through */
    xg_host *host;                /* referenced until the end */
    xg_ustream *st;               /* while streaming */
    xg_upstream_req *prev, *next; /* the pool's pending queue */
    const xg_upstream_cbs *cb;
    void *user;
    xg_arena *arena;
    xg_headers *headers;
    const xg_headers *trailers; /* staged while connecting */
    xg_buf body;                /* request body staged while connecting */
    bool pending;
    bool end_stream; /* the request had no body */
    bool out_end;    /* the request's end was given (send_data end / trailers) */
    bool response_started;
    bool done;           /* terminal event delivered (or cancelled) */
    bool blocked;        /* staging reached the limit: on_send_ready owed */
    bool retried;        /* requeued once after a refused stream */
    const char *failure; /* the pool's failure reason when it failed r (in r's arena), or NULL */
    /* The route's XG_PRIORITY_*; whether it holds a max_requests unit (from
     * its stream's opening to its end); whether a stream was ever opened
     * (request bytes may have reached the upstream: reset-before-request). */
    int priority;
    bool rq_counted;
    bool sent;
    bool pending_counted; /* holds a max_pending_requests unit while queued */
};

/* The pool for (h, proto choice, tls) that takes new requests, made if
 * missing. NULL on ENOMEM. Borrowed (the host's list owns it). */
xg_pool *xg__pool_get(xg_host *h, xg_upstream_proto want, xg_codec_proto downstream, struct xg_tls_client *tls);
/* The same for a routing priority (XG_PRIORITY_*): as in Envoy, each
 * priority has its own pools, whose connections and requests count against
 * that priority's circuit breakers. xg__pool_get is DEFAULT. */
xg_pool *xg__pool_get_prio(xg_host *h, xg_upstream_proto want, xg_codec_proto downstream, struct xg_tls_client *tls,
                           int priority);
/* Gives r a stream now (an idle or multiplexed connection) or queues it and
 * opens connections as needed. 0, or XG_EAGAIN when the queue is full. */
int xg__pool_attach(xg_pool *p, xg_upstream_req *r);
/* Takes a pending request out of the queue. */
void xg__pool_unqueue(xg_pool *p, xg_upstream_req *r);
/* Hands queued requests to connections with capacity; opens connections
 * for the rest. */
void xg__pool_dispatch(xg_pool *p);
/* Stops taking requests: idle connections close, busy ones finish first. */
void xg__pool_drain(xg_pool *p);
/* Frees p at the end of the pass when it is draining and empty. */
void xg__pool_maybe_free(xg_pool *p);
/* Connection moves between the pool's lists. */
void xg__uc_list_add(xg_uc_list *l, xg_upconn *uc);
void xg__uc_list_del(xg_upconn *uc);
/* The pool's decision for a connection whose streams changed: ready, busy,
 * idle-closed, or closed for good (goaway, max requests, draining). */
void xg__pool_settle(xg_pool *p, xg_upconn *uc);

/* upconn.c: a new connection for p, connecting. NULL on failure. */
xg_upconn *xg__uc_new(xg_pool *p);
/* Opens r's stream on uc (uc has capacity): headers, then whatever r has
 * staged. 0 or a negative XG_E* (r untouched). */
int xg__uc_open_stream(xg_upconn *uc, xg_upstream_req *r);
/* Closes uc: every stream on it fails with reason (and, for a connection
 * that never got ready, every pending request of the pool: Envoy's purge);
 * out of the pool; freed at the end of the pass. */
void xg__uc_close(xg_upconn *uc, xg_upstream_reset reason, bool abort);
/* The cluster's idle_timeout in seconds (0: none). */
double xg__uc_idle_timeout(const xg_upconn *uc);
/* Runs pump() (output, input, settle) for uc later in this loop pass. */
void xg__uc_kick(xg_upconn *uc);
/* Ends a codec stream from our side (cancel, early response): RST_STREAM on
 * HTTP/2, an unusable connection on HTTP/1. */
void xg__uc_reset_stream(xg_ustream *st);

/* stream.c: r's stream was just opened: send what r staged meanwhile. */
void xg__req_flush_staged(xg_upstream_req *r);
/* stream.c: the upstream side of the H1<->H2 rules, applied in place. */
int xg__req_prepare_headers(xg_headers *h, xg_codec_proto proto, bool tls);
/* r failed: detaches it, releases its host and runs on_reset (unless
 * cancelled). A refused request without a body is requeued once instead. */
void xg__req_fail(xg_upstream_req *r, xg_upstream_reset reason);
/* Gives back r's max_requests unit, if it holds one (its stream ended). */
void xg__req_uncount(xg_upstream_req *r);
/* Per-stream codec events for r (st->r != NULL). */
void xg__req_on_headers(xg_upstream_req *r, xg_headers *h, bool end_stream);
void xg__req_on_data(xg_upstream_req *r, const char *p, size_t n, bool end_stream);
void xg__req_on_trailers(xg_upstream_req *r, xg_headers *t);
void xg__req_on_send_ready(xg_upstream_req *r);
/* The upstream reason for a codec reset reason. */
xg_upstream_reset xg__reset_from_codec(xg_reset_reason r);

#endif
