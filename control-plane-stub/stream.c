/* Stream plumbing shared by the two ADS protocols: the ordered send queue
 * (gRPC allows one outstanding send per call), finishing with a status, and
 * the fields every log line about a stream carries. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "server.h"
#include "stream.h"

const xg_stub_snapshot *xg_stub_stream_snapshot(const xg_stub_stream *s)
{
    return s->srv->snap;
}

xg_jlog *xg_stub_stream_log(const xg_stub_stream *s)
{
    return s->srv->log;
}

void xg__stub_stream_batch(xg_stub_stream *s, const grpc_op *ops, size_t n, xg_stub_tag *tag)
{
    /* A refused batch means the op set itself is wrong (a bug), not a peer problem. */
    grpc_call_error e = grpc_call_start_batch(s->call, ops, n, tag, NULL);
    XG_ASSERT(e == GRPC_CALL_OK);
    s->pending++;
}

static void start_send(xg_stub_stream *s)
{
    grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
    op.data.send_message.send_message = s->out_head->bb;
    xg__stub_stream_batch(s, &op, 1, &s->t_send);
    s->sending = true;
}

static void send_status(xg_stub_stream *s)
{
    grpc_op op = {.op = GRPC_OP_SEND_STATUS_FROM_SERVER};
    op.data.send_status_from_server.status = s->status;
    op.data.send_status_from_server.status_details = &s->status_msg;
    xg__stub_stream_batch(s, &op, 1, &s->t_status);
    s->status_sent = true;
}

static void drop_queue(xg_stub_stream *s)
{
    while (s->out_head != NULL) {
        xg_stub_outmsg *m = s->out_head;
        s->out_head = m->next;
        grpc_byte_buffer_destroy(m->bb);
        free(m);
    }
    s->out_tail = NULL;
}

void xg__stub_stream_dispose_queue(xg_stub_stream *s)
{
    drop_queue(s);
}

void xg__stub_stream_on_sent(xg_stub_stream *s, bool ok)
{
    xg_stub_outmsg *m = s->out_head;
    s->out_head = m->next;
    if (s->out_head == NULL)
        s->out_tail = NULL;
    grpc_byte_buffer_destroy(m->bb);
    free(m);
    s->sending = false;
    if (!ok || !s->open)
        drop_queue(s);
    else if (s->out_head != NULL)
        start_send(s);
    if (s->open && !s->sending && s->want_status && !s->status_sent)
        send_status(s);
}

int xg_stub_stream_send(xg_stub_stream *s, const ProtobufCMessage *m)
{
    if (!s->open || s->want_status)
        return 0;
    xg_stub_outmsg *om = malloc(sizeof(*om));
    if (om == NULL)
        return XG_ENOMEM;
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice sl = grpc_slice_malloc(n);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(sl));
    om->bb = grpc_raw_byte_buffer_create(&sl, 1);
    om->next = NULL;
    grpc_slice_unref(sl);
    if (s->out_tail != NULL)
        s->out_tail->next = om;
    else
        s->out_head = om;
    s->out_tail = om;
    if (!s->sending)
        start_send(s);
    return 0;
}

void xg_stub_stream_finish(xg_stub_stream *s, grpc_status_code code, const char *msg)
{
    if (s->want_status || !s->open)
        return;
    s->want_status = true;
    s->status = code;
    grpc_slice_unref(s->status_msg);
    s->status_msg = grpc_slice_from_copied_string(msg);
    if (!s->sending)
        send_status(s);
}

void xg_stub_stream_event(const xg_stub_stream *s, xg_jev *e, const char *event, const char *type_url)
{
    static const char *const modes[] = {"sotw", "delta", "other"};
    xg_jev_begin(e, event);
    xg_jev_u64(e, "stream", s->id);
    xg_jev_str(e, "mode", modes[s->mode]);
    if (s->node_id != NULL)
        xg_jev_str(e, "node", s->node_id);
    if (type_url != NULL)
        xg_jev_str(e, "type_url", type_url);
}

void xg_stub_stream_take_node(xg_stub_stream *s, const char *node_id)
{
    /* Envoy sends the node on the first request only; keep that one. */
    if (s->node_id == NULL && node_id != NULL)
        s->node_id = strdup(node_id);
}

uint64_t xg_stub_stream_nonce(xg_stub_stream *s, char *text, size_t len)
{
    uint64_t n = ++s->last_nonce;
    snprintf(text, len, "%" PRIu64, n);
    return n;
}

void xg_stub_sub_init(xg_stub_sub *sub)
{
    memset(sub, 0, sizeof(*sub));
    xg_stub_names_init(&sub->names);
    xg_stub_names_init(&sub->known);
}

void xg_stub_sub_dispose(xg_stub_sub *sub)
{
    xg_stub_names_dispose(&sub->names);
    xg_stub_names_dispose(&sub->known);
}
