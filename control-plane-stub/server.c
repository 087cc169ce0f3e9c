/* The ADS gRPC server: call life cycle on one completion queue. Every call
 * keeps a RECV_CLOSE_ON_SERVER batch open for its whole life, so a stream
 * object is freed exactly when its last batch completes (pending == 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "core/assert.h"
#include "core/error.h"
#include "server.h"
#include "tls.h"

#define ADS_SERVICE "/envoy.service.discovery.v3.AggregatedDiscoveryService/"

static const char *const method_paths[2] = {ADS_SERVICE "StreamAggregatedResources",
                                            ADS_SERVICE "DeltaAggregatedResources"};

static void tag_init(xg_stub_tag *t, xg_stub_tag_kind kind, xg_stub_stream *s)
{
    t->kind = kind;
    t->s = s;
}

static xg_stub_stream *stream_new(xg_stub_server *srv, xg_stub_mode mode)
{
    xg_stub_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->srv = srv;
    s->mode = mode;
    grpc_metadata_array_init(&s->md);
    grpc_call_details_init(&s->details);
    s->status_msg = grpc_empty_slice();
    tag_init(&s->t_new, XG_TAG_NEW, s);
    tag_init(&s->t_meta, XG_TAG_META, s);
    tag_init(&s->t_recv, XG_TAG_RECV, s);
    tag_init(&s->t_send, XG_TAG_SEND, s);
    tag_init(&s->t_close, XG_TAG_CLOSE, s);
    tag_init(&s->t_status, XG_TAG_STATUS, s);
    for (int t = 0; t < XG_STUB_NTYPES; t++)
        xg_stub_sub_init(&s->subs[t]);
    srv->nalloc++;
    return s;
}

static void stream_free(xg_stub_stream *s)
{
    XG_ASSERT(!s->open && s->pending == 0);
    xg__stub_stream_dispose_queue(s);
    if (s->recv_buf != NULL)
        grpc_byte_buffer_destroy(s->recv_buf);
    grpc_metadata_array_destroy(&s->md);
    grpc_call_details_destroy(&s->details);
    grpc_slice_unref(s->status_msg);
    if (s->call != NULL)
        grpc_call_unref(s->call);
    for (int t = 0; t < XG_STUB_NTYPES; t++)
        xg_stub_sub_dispose(&s->subs[t]);
    free(s->node_id);
    s->srv->nalloc--;
    free(s);
}

/* Asks gRPC for the next call of one kind; there is always one such request
 * outstanding per kind until shutdown. */
static int request_call(xg_stub_server *srv, xg_stub_mode mode)
{
    xg_stub_stream *s = stream_new(srv, mode);
    if (s == NULL)
        return XG_ENOMEM;
    grpc_call_error e;
    if (mode == XG_STUB_OTHER)
        e = grpc_server_request_call(srv->server, &s->call, &s->details, &s->md, srv->cq, srv->cq, &s->t_new);
    else
        e = grpc_server_request_registered_call(srv->server, srv->methods[mode], &s->call, &s->deadline, &s->md, NULL,
                                                srv->cq, srv->cq, &s->t_new);
    if (e != GRPC_CALL_OK) {
        stream_free(s);
        return XG_EIO;
    }
    return 0;
}

static void start_recv(xg_stub_stream *s)
{
    grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
    op.data.recv_message.recv_message = &s->recv_buf;
    xg__stub_stream_batch(s, &op, 1, &s->t_recv);
}

static void link_stream(xg_stub_server *srv, xg_stub_stream *s)
{
    s->id = ++srv->next_id;
    s->open = true;
    s->next = srv->streams;
    if (srv->streams != NULL)
        srv->streams->prev = s;
    srv->streams = s;
}

static void unlink_stream(xg_stub_server *srv, xg_stub_stream *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        srv->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->open = false;
}

static void log_open(xg_stub_stream *s)
{
    char *peer = grpc_call_get_peer(s->call);
    char *identity = xg_stub_tls_peer_identity(s->call);
    xg_jev e;
    xg_stub_stream_event(s, &e, "stream_open", NULL);
    xg_jev_str(&e, "peer", peer);
    if (identity != NULL) /* mTLS: whom the verified client certificate names */
        xg_jev_str(&e, "client_identity", identity);
    (void)xg_jlog_emit(s->srv->log, &e); /* a lost log line must not end the stream */
    gpr_free(identity);
    gpr_free(peer);
}

static void start_ads_call(xg_stub_stream *s)
{
    grpc_op meta = {.op = GRPC_OP_SEND_INITIAL_METADATA};
    grpc_op close = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER};
    close.data.recv_close_on_server.cancelled = &s->cancelled;
    link_stream(s->srv, s);
    log_open(s);
    xg__stub_stream_batch(s, &meta, 1, &s->t_meta);
    xg__stub_stream_batch(s, &close, 1, &s->t_close);
    start_recv(s);
}

/* Any method but the two ADS ones (and ShouldRateLimit when the rate-limit
 * service is on): UNIMPLEMENTED, in one batch whose completion (t_close)
 * also ends the call. */
static void reject_call(xg_stub_stream *s)
{
    char *method = grpc_slice_to_c_string(s->details.method);
    xg_jev e;
    xg_jev_begin(&e, "unimplemented");
    xg_jev_str(&e, "method", method);
    (void)xg_jlog_emit(s->srv->log, &e);
    gpr_free(method);
    s->status_msg = grpc_slice_from_static_string(
        s->srv->rls_on ? "only the Aggregated Discovery Service and RateLimitService/ShouldRateLimit are served"
                       : "only the Aggregated Discovery Service is served (start the stub with --ratelimit-config "
                         "for RateLimitService)");
    grpc_op ops[3] = {{.op = GRPC_OP_SEND_INITIAL_METADATA},
                      {.op = GRPC_OP_SEND_STATUS_FROM_SERVER},
                      {.op = GRPC_OP_RECV_CLOSE_ON_SERVER}};
    ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
    ops[1].data.send_status_from_server.status_details = &s->status_msg;
    ops[2].data.recv_close_on_server.cancelled = &s->cancelled;
    xg__stub_stream_batch(s, ops, 3, &s->t_close);
}

static void on_new(xg_stub_stream *s, bool ok)
{
    xg_stub_server *srv = s->srv;
    if (!ok) {
        stream_free(s); /* the server is shutting down */
        return;
    }
    if (!srv->shutting_down && request_call(srv, s->mode) != 0)
        (void)xg_jlog_msg(srv->log, "error", "cannot request the next call; this method takes no new streams");
    if (s->mode == XG_STUB_OTHER)
        reject_call(s);
    else
        start_ads_call(s);
    if (srv->shutting_down)
        grpc_call_cancel(s->call, NULL);
}

/* Copies a received message into one slice and hands it to the protocol. */
static void deliver(xg_stub_stream *s, grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb)) {
        xg_stub_stream_finish(s, GRPC_STATUS_INTERNAL, "cannot read the request message");
        return;
    }
    grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    if (s->mode == XG_STUB_SOTW)
        xg_stub_sotw_on_request(s, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl));
    else
        xg_stub_delta_on_request(s, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl));
    grpc_slice_unref(sl);
}

static void on_recv(xg_stub_stream *s, bool ok)
{
    grpc_byte_buffer *bb = s->recv_buf;
    s->recv_buf = NULL;
    if (ok && bb == NULL) /* the client half-closed: end the stream cleanly */
        xg_stub_stream_finish(s, GRPC_STATUS_OK, "");
    if (bb != NULL && ok && s->open)
        deliver(s, bb);
    if (bb != NULL)
        grpc_byte_buffer_destroy(bb);
    if (ok && bb != NULL && s->open && !s->want_status)
        start_recv(s);
}

static void on_close(xg_stub_stream *s)
{
    if (!s->open)
        return; /* a rejected call was never listed */
    xg_jev e;
    xg_stub_stream_event(s, &e, "stream_closed", NULL);
    xg_jev_bool(&e, "cancelled", s->cancelled != 0);
    (void)xg_jlog_emit(s->srv->log, &e);
    unlink_stream(s->srv, s);
}

static void dispatch(xg_stub_server *srv, xg_stub_tag *tag, bool ok)
{
    xg_stub_stream *s = tag->s;
    if (tag->kind == XG_TAG_RLS_NEW || tag->kind == XG_TAG_RLS_DONE) {
        xg_stub_rls_on_tag(&srv->rls, tag, ok);
        return;
    }
    if (tag->kind == XG_TAG_SHUTDOWN) {
        srv->shutdown_done = true;
        return;
    }
    if (tag->kind == XG_TAG_NEW) {
        on_new(s, ok);
        return;
    }
    s->pending--;
    if (tag->kind == XG_TAG_RECV)
        on_recv(s, ok);
    else if (tag->kind == XG_TAG_SEND)
        xg__stub_stream_on_sent(s, ok);
    else if (tag->kind == XG_TAG_CLOSE)
        on_close(s);
    if (s->pending == 0)
        stream_free(s);
}

void xg_stub_server_poll(xg_stub_server *srv, int timeout_ms)
{
    if (srv->rls_on) /* a delayed rate-limit answer must not wait for traffic */
        timeout_ms = xg_stub_rls_wait_ms(&srv->rls, timeout_ms);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(srv->cq, deadline, NULL);
    if (ev.type == GRPC_OP_COMPLETE)
        dispatch(srv, ev.tag, ev.success != 0);
    if (srv->rls_on)
        xg_stub_rls_run_due(&srv->rls);
}

static int listen_on(xg_stub_server *srv, const char *address, int port, const xg_stub_tls *tls)
{
    char addr[300];
    /* A bare IPv6 address needs brackets before the port. */
    const char *fmt = strchr(address, ':') && address[0] != '[' ? "[%s]:%d" : "%s:%d";
    snprintf(addr, sizeof(addr), fmt, address, port);
    grpc_server_credentials *creds = xg_stub_tls_server_creds(tls);
    srv->port = grpc_server_add_http2_port(srv->server, addr, creds);
    grpc_server_credentials_release(creds);
    return srv->port > 0 ? 0 : XG_EIO;
}

int xg_stub_server_start(xg_stub_server *srv, const char *address, int port, const xg_stub_tls *tls, xg_jlog *log,
                         const xg_stub_snapshot *snap, const xg_stub_rls_config *rls)
{
    /* gRPC sets SO_REUSEPORT by default: a second stub on a taken port would
     * silently share it (and half the streams) instead of failing. */
    grpc_arg no_reuseport = {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ALLOW_REUSEPORT, .value.integer = 0};
    grpc_channel_args server_args = {.num_args = 1, .args = &no_reuseport};
    memset(srv, 0, sizeof(*srv));
    srv->log = log;
    srv->snap = snap;
    tag_init(&srv->t_shutdown, XG_TAG_SHUTDOWN, NULL);
    grpc_init();
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    srv->server = grpc_server_create(&server_args, NULL);
    for (int m = XG_STUB_SOTW; m <= XG_STUB_DELTA; m++)
        srv->methods[m] = grpc_server_register_method(srv->server, method_paths[m], NULL, GRPC_SRM_PAYLOAD_NONE, 0);
    if ((srv->rls_on = rls != NULL))
        xg_stub_rls_init(&srv->rls, srv->server, srv->cq, log, rls);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    if (listen_on(srv, address, port, tls) != 0) {
        xg_stub_server_destroy(srv);
        return XG_EIO;
    }
    grpc_server_start(srv->server);
    int rc = 0;
    for (int m = XG_STUB_SOTW; m <= XG_STUB_OTHER && rc == 0; m++)
        rc = request_call(srv, (xg_stub_mode)m);
    if (rc == 0 && srv->rls_on)
        rc = xg_stub_rls_start(&srv->rls);
    if (rc != 0) {
        xg_stub_server_shutdown(srv);
        while (!xg_stub_server_drained(srv))
            xg_stub_server_poll(srv, 100);
        xg_stub_server_destroy(srv);
    }
    return rc;
}

void xg_stub_server_publish(xg_stub_server *srv, const xg_stub_snapshot *snap)
{
    srv->snap = snap;
    for (xg_stub_stream *s = srv->streams; s != NULL; s = s->next) {
        if (s->mode == XG_STUB_SOTW)
            xg_stub_sotw_on_snapshot(s);
        else
            xg_stub_delta_on_snapshot(s);
    }
}

void xg_stub_server_shutdown(xg_stub_server *srv)
{
    if (srv->shutting_down)
        return;
    srv->shutting_down = true;
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->t_shutdown);
    grpc_server_cancel_all_calls(srv->server);
    if (srv->rls_on)
        xg_stub_rls_shutdown(&srv->rls);
}

void xg_stub_server_publish_rls(xg_stub_server *srv, const xg_stub_rls_config *rls)
{
    if (srv->rls_on)
        xg_stub_rls_publish(&srv->rls, rls);
}

bool xg_stub_server_drained(const xg_stub_server *srv)
{
    return srv->shutdown_done && srv->nalloc == 0 && (!srv->rls_on || xg_stub_rls_drained(&srv->rls));
}

void xg_stub_server_destroy(xg_stub_server *srv)
{
    if (srv->server != NULL)
        grpc_server_destroy(srv->server);
    grpc_completion_queue_shutdown(srv->cq);
    while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(srv->cq);
    if (srv->rls_on)
        xg_stub_rls_dispose(&srv->rls);
    grpc_shutdown();
    srv->server = NULL;
    srv->cq = NULL;
}
