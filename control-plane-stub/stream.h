/* One ADS stream (a gRPC call) and the per-type subscription state that the
 * state-of-the-world (sotw.c) and delta (delta.c) protocols keep on it.
 * server.c owns the call's life cycle; everything runs on the one thread
 * that drives the completion queue. */
#ifndef XG_STUB_STREAM_H
#define XG_STUB_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "core/buf.h"
#include "jlog.h"
#include "names.h"
#include "snapshot.h"

typedef struct xg_stub_server xg_stub_server;
typedef struct xg_stub_stream xg_stub_stream;

typedef enum xg_stub_mode {
    XG_STUB_SOTW,  /* StreamAggregatedResources */
    XG_STUB_DELTA, /* DeltaAggregatedResources */
    XG_STUB_OTHER, /* any other method: answered UNIMPLEMENTED */
} xg_stub_mode;

/* What a completion-queue tag stands for; tags point into their stream. */
typedef enum xg_stub_tag_kind {
    XG_TAG_NEW,      /* a requested call arrived (or the request failed at shutdown) */
    XG_TAG_META,     /* initial metadata sent */
    XG_TAG_RECV,     /* a request message (or the client's half-close) */
    XG_TAG_SEND,     /* a response message went out */
    XG_TAG_CLOSE,    /* the call is over (finished or cancelled) */
    XG_TAG_STATUS,   /* our status went out */
    XG_TAG_SHUTDOWN, /* the server finished shutting down (no stream) */
    XG_TAG_RLS_NEW,  /* rate-limit service: a call arrived (no stream; see rls.c) */
    XG_TAG_RLS_DONE, /* rate-limit service: the answer went out or the call ended */
} xg_stub_tag_kind;

typedef struct xg_stub_tag {
    xg_stub_tag_kind kind;
    xg_stub_stream *s;
} xg_stub_tag;

/* One type on one stream. */
typedef struct xg_stub_sub {
    bool active;           /* the client asked for this type */
    bool wildcard;         /* all resources of the type, not just names */
    xg_stub_names names;   /* subscribed names ("*" is kept as wildcard, not here) */
    xg_stub_names known;   /* delta: name -> resource version the client holds */
    uint64_t sent_version; /* type version in the last response, 0 before any */
    uint64_t nonce;        /* nonce of the last response, 0 before any */
} xg_stub_sub;

typedef struct xg_stub_outmsg {
    grpc_byte_buffer *bb;
    struct xg_stub_outmsg *next;
} xg_stub_outmsg;

struct xg_stub_stream {
    xg_stub_server *srv;
    xg_stub_stream *prev, *next; /* the server's list of open streams */
    uint64_t id;
    xg_stub_mode mode;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details; /* XG_STUB_OTHER only */
    xg_stub_tag t_new, t_meta, t_recv, t_send, t_close, t_status;
    int pending;      /* batches started and not yet completed */
    bool open;        /* on the server's list: may receive pushes */
    bool recv_done;   /* no more receives (half-close, error or finishing) */
    bool want_status; /* finish once the send queue drains */
    bool status_sent;
    int cancelled; /* from RECV_CLOSE_ON_SERVER */
    grpc_status_code status;
    grpc_slice status_msg;
    grpc_byte_buffer *recv_buf;
    xg_stub_outmsg *out_head, *out_tail; /* head is in flight when sending */
    bool sending;
    char *node_id; /* from the first request that carried a node */
    uint64_t last_nonce;
    xg_stub_sub subs[XG_STUB_NTYPES];
};

/* The snapshot currently served; borrowed, valid until the next publish. */
const xg_stub_snapshot *xg_stub_stream_snapshot(const xg_stub_stream *s);
xg_jlog *xg_stub_stream_log(const xg_stub_stream *s);

/* Serializes m and queues it for sending; dropped when the stream is
 * finishing. 0 or XG_ENOMEM. */
int xg_stub_stream_send(xg_stub_stream *s, const ProtobufCMessage *m);
/* Ends the stream with status code and message once queued responses are out. */
void xg_stub_stream_finish(xg_stub_stream *s, grpc_status_code code, const char *msg);

/* Starts an event line with the fields every stream event carries
 * (stream, mode, node, type_url). */
void xg_stub_stream_event(const xg_stub_stream *s, xg_jev *e, const char *event, const char *type_url);
/* Remembers the node id of the first request that has one. */
void xg_stub_stream_take_node(xg_stub_stream *s, const char *node_id);
/* The next response nonce on this stream (1, 2, ...); also written as text. */
uint64_t xg_stub_stream_nonce(xg_stub_stream *s, char *text, size_t len);

void xg_stub_sub_init(xg_stub_sub *sub);
void xg_stub_sub_dispose(xg_stub_sub *sub);

/* Internal to server.c and stream.c: starts a batch (counted in pending);
 * handles a finished send; frees whatever is still queued. */
void xg__stub_stream_batch(xg_stub_stream *s, const grpc_op *ops, size_t n, xg_stub_tag *tag);
void xg__stub_stream_on_sent(xg_stub_stream *s, bool ok);
void xg__stub_stream_dispose_queue(xg_stub_stream *s);

/* Protocol handlers: a request message's bytes, and a new snapshot. */
void xg_stub_sotw_on_request(xg_stub_stream *s, const uint8_t *data, size_t len);
void xg_stub_sotw_on_snapshot(xg_stub_stream *s);
void xg_stub_delta_on_request(xg_stub_stream *s, const uint8_t *data, size_t len);
void xg_stub_delta_on_snapshot(xg_stub_stream *s);

#endif
