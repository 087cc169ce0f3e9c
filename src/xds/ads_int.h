/* Private to the ADS transport (src/xds/ads*.c): the xg_ads object, its
 * per-type subscription state, one stream attempt, and what each file of the
 * transport provides to the others. Everything here belongs to the xds thread
 * except the fields under xg_ads.mu, which any thread may touch while holding
 * it. Files: ads.c (API, thread loop, timers, wake-up), ads_stream.c (gRPC
 * channel, call, batches, backoff), ads_sotw.c and ads_delta.c (the two
 * protocol variants), ads_sub.c (name sets, version map, subscriptions,
 * response helpers shared by both variants). */
#ifndef XG_XDS_ADS_INT_H
#define XG_XDS_ADS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "envoy/service/discovery/v3/discovery.pb-c.h"

#include "core/buf.h"
#include "xds/ads.h"

/* A sorted set of owned, unique names. */
typedef struct xg__ads_names {
    char **v;
    size_t n;
} xg__ads_names;

/* name -> version (both owned): the delta resources the client holds. Open
 * addressing with linear probing; cap is 0 or a power of two. */
typedef struct xg__ads_ventry {
    char *name;
    char *version;
} xg__ads_ventry;

typedef struct xg__ads_vmap {
    xg__ads_ventry *slots;
    size_t n;
    size_t cap;
} xg__ads_vmap;

/* One type's subscription. want survives reconnects; the told_* fields say
 * what the current stream was last told and are reset for each new stream. */
typedef struct xg__ads_sub {
    xg__ads_names want;       /* for LDS/CDS an empty set means wildcard */
    bool told;                /* a request for this type went out on this stream */
    bool told_wildcard;       /* ... and it left the stream subscribed to the wildcard */
    bool told_explicit;       /* SotW: explicit names went out, so wildcard must now be spelled "*" */
    xg__ads_names told_names; /* the explicit names the stream holds */
    char *version;            /* SotW: version_info of the last ACKed response ("" before any) */
    char *nonce;              /* nonce of the last response on this stream ("" before any) */
    xg__ads_vmap have;        /* delta: resources held, from ACKed responses */
} xg__ads_sub;

typedef enum xg__ads_tag_kind {
    XG__ADS_TAG_META,   /* SEND_INITIAL_METADATA + RECV_INITIAL_METADATA */
    XG__ADS_TAG_RECV,   /* the one outstanding RECV_MESSAGE */
    XG__ADS_TAG_SEND,   /* the one SEND_MESSAGE in flight */
    XG__ADS_TAG_STATUS, /* RECV_STATUS_ON_CLIENT: the end of the stream */
    XG__ADS_TAG_WAKE,   /* a connectivity watch used only to wake the thread */
} xg__ads_tag_kind;

typedef struct xg__ads_stream xg__ads_stream;

/* Completion-queue tag: which batch finished, on which stream. */
typedef struct xg__ads_tag {
    xg__ads_tag_kind kind;
    xg__ads_stream *s;
} xg__ads_tag;

/* An encoded request waiting for its turn to be sent. */
typedef struct xg__ads_out {
    struct xg__ads_out *next;
    grpc_byte_buffer *bb;
} xg__ads_out;

/* One stream attempt: its own channel (so every attempt really connects, with
 * no subchannel backoff of gRPC's own in the way) and call. Freed when the
 * call has ended and no batch is pending, whichever comes last. */
struct xg__ads_stream {
    xg_ads *a;
    grpc_channel *ch;
    grpc_call *call;
    int pending;       /* batches started and not completed */
    bool ended;        /* RECV_STATUS_ON_CLIENT completed */
    bool connected;    /* on_conn(CONNECTED) reported for this stream */
    bool got_response; /* at least one response arrived: the backoff resets */
    bool sent_node;    /* the node went out in this stream's first request */
    bool sending;      /* a SEND_MESSAGE batch is in flight */
    xg__ads_out *out;  /* queue of requests not yet handed to gRPC */
    xg__ads_out **out_tail;
    grpc_byte_buffer *send_buf;
    grpc_byte_buffer *recv_buf;
    grpc_metadata_array md_initial;
    grpc_metadata_array md_trailing;
    grpc_status_code status;
    grpc_slice details;
    xg__ads_tag t_meta, t_recv, t_send, t_status;
};

/* A closure posted with xg_ads_post, in the inbox or the timer heap. */
typedef struct xg__ads_post {
    struct xg__ads_post *next; /* inbox link */
    uint64_t due_ms;           /* monotonic */
    uint64_t seq;              /* FIFO among equal due times */
    void (*fn)(void *arg);
    void *arg;
} xg__ads_post;

struct xg_ads {
    /* Immutable after xg_ads_new (strings owned). */
    xg_ads_options o;
    xg_ads_handler h;

    /* Shared with other threads: under mu. */
    pthread_mutex_t mu;
    xg__ads_post *inbox;
    xg__ads_post **inbox_tail;
    bool stop_requested; /* no more posts accepted; the thread winds down */
    bool wake_pending;   /* a wake watch is in flight; no need for another */
    bool running;        /* the thread is live (set by start, cleared by stop) */
    bool started;

    /* xds thread. */
    pthread_t thread;
    grpc_completion_queue *cq;
    grpc_channel *wake_ch;
    xg__ads_tag t_wake;
    xg__ads_post **heap; /* timers: min-heap on (due_ms, seq) */
    size_t heap_n;
    size_t heap_cap;
    uint64_t seq;
    bool stopping;       /* winding down: start no new batch or stream */
    xg__ads_stream *st;  /* the live stream, NULL between attempts */
    int n_streams;       /* allocated streams, live or draining */
    uint64_t backoff_ms; /* cap for the next reconnect delay */
    uint64_t rng;        /* xorshift64 state for jitter */
    int in_response;     /* > 0 inside on_response: subscription requests wait for the ACK */
    xg__ads_sub subs[XG_XDS_NTYPES];
};

/* Order in which types are (re)requested: clusters before listeners, so a
 * control plane can warm clusters first, as Envoy does. */
extern const xg_xds_type xg__ads_type_order[XG_XDS_NTYPES];

/* ads.c */
uint64_t xg__ads_now_ms(void);
/* Queues fn on the timer heap (xds thread only). */
int xg__ads_timer_add(xg_ads *a, uint64_t delay_ms, void (*fn)(void *arg), void *arg);

/* ads_stream.c */
/* Starts a stream attempt: channel, call, initial batches, first requests. */
void xg__ads_stream_connect(xg_ads *a);
/* Handles a completion for a stream tag. */
void xg__ads_stream_on_event(xg__ads_tag *t, bool ok);
/* Cancels the live stream (stop). */
void xg__ads_stream_cancel(xg_ads *a);
/* Encodes a request and queues it on s (dropped once s has ended). */
int xg__ads_stream_send_msg(xg__ads_stream *s, const ProtobufCMessage *m);
/* Ends the live stream with a status of our own (undecodable response). */
void xg__ads_stream_abort(xg__ads_stream *s, grpc_status_code code, const char *why);

/* ads_sub.c */
int xg__ads_names_set(xg__ads_names *s, const char *const *names, size_t n);
int xg__ads_names_copy(xg__ads_names *dst, const xg__ads_names *src);
bool xg__ads_names_equal(const xg__ads_names *a, const xg__ads_names *b);
bool xg__ads_names_has(const xg__ads_names *s, const char *name);
/* Borrowed pointers to the names in a but not in b; *out is malloc'ed (free it). */
int xg__ads_names_minus(const xg__ads_names *a, const xg__ads_names *b, char ***out, size_t *n);
void xg__ads_names_dispose(xg__ads_names *s);
int xg__ads_vmap_put(xg__ads_vmap *m, const char *name, const char *version);
void xg__ads_vmap_del(xg__ads_vmap *m, const char *name);
void xg__ads_vmap_dispose(xg__ads_vmap *m);
int xg__ads_sub_init(xg__ads_sub *s);
void xg__ads_sub_dispose(xg__ads_sub *s);
/* Forgets what the previous stream was told (a new stream starts). */
void xg__ads_sub_reset_stream(xg__ads_sub *s);
bool xg__ads_sub_want_wildcard(const xg__ads_sub *s, xg_xds_type t);
/* Whether the stream must be told something about t. */
bool xg__ads_sub_dirty(const xg__ads_sub *s, xg_xds_type t);
/* Records that the stream now holds the wanted subscription. */
int xg__ads_sub_mark_told(xg__ads_sub *s, xg_xds_type t);
/* Replaces an owned string; XG_ENOMEM leaves it unchanged. */
int xg__ads_set_str(char **dst, const char *src);
/* Sends whatever subscription changes are pending, in xg__ads_type_order. */
void xg__ads_flush(xg_ads *a);
/* Runs the handler and turns its verdict into a NACK text ("" when ACKed). */
int xg__ads_call_handler(xg_ads *a, const xg_xds_response *r, xg_buf *nack);
/* Replaces bytes that are not valid UTF-8 with '?' (proto3 strings must be UTF-8). */
void xg__ads_fix_utf8(xg_buf *b);
/* Caps a NACK message so the request stays well under servers' 4 MiB limit. */
void xg__ads_cap_message(xg_buf *msg);
/* Fills r->type from url; on failure writes the NACK reason. */
int xg__ads_response_type(const char *url, xg_xds_type *t, xg_buf *nack);
/* Log helpers: one line per ACK/NACK sent. */
void xg__ads_log_verdict(xg_xds_type t, const char *url, const char *version, const char *nonce, const xg_buf *nack);

/* ads_sotw.c */
void xg__ads_sotw_on_message(xg_ads *a, xg__ads_stream *s, const uint8_t *data, size_t len);
int xg__ads_sotw_request(xg_ads *a, xg__ads_stream *s, xg_xds_type t);

/* ads_delta.c */
void xg__ads_delta_on_message(xg_ads *a, xg__ads_stream *s, const uint8_t *data, size_t len);
int xg__ads_delta_request(xg_ads *a, xg__ads_stream *s, xg_xds_type t);

/* The node, for the first request of each stream (both variants): strings
 * borrowed from a; features is caller storage for the feature list. */
void xg__ads_node_fill(const xg_ads *a, Envoy__Config__Core__V3__Node *n, char **features);

#endif
