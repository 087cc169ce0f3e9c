/* ShouldRateLimit calls on the ADS server's completion queue; see rls.h. A
 * call is one object from request to free: it is asked for, decided at once
 * (rls_eval.c), optionally parked on the due list, then answered in a single
 * batch whose completion frees it. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>

#include "core/assert.h"
#include "core/error.h"
#include "rls.h"
#include "rls_eval.h"

struct xg_stub_rls_call {
    xg_stub_rls *r;
    xg_stub_tag t_new, t_done; /* tag.s is NULL: the call is found from the tag's address */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    xg_stub_rls_answer answer;
    grpc_slice status_msg;
    int cancelled;
    int64_t due_ms; /* monotonic: when a delayed answer goes out */
    xg_stub_rls_call *next;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static xg_stub_rls_call *from_tag(xg_stub_tag *t)
{
    size_t off = t->kind == XG_TAG_RLS_NEW ? offsetof(xg_stub_rls_call, t_new) : offsetof(xg_stub_rls_call, t_done);
    return (xg_stub_rls_call *)((char *)t - off);
}

static void call_free(xg_stub_rls_call *c)
{
    if (c->payload != NULL)
        grpc_byte_buffer_destroy(c->payload);
    if (c->answer.reply != NULL)
        grpc_byte_buffer_destroy(c->answer.reply);
    grpc_metadata_array_destroy(&c->md);
    grpc_slice_unref(c->status_msg);
    if (c->call != NULL)
        grpc_call_unref(c->call);
    c->r->nalloc--;
    free(c);
}

/* Keeps one request outstanding so that the next call can arrive. */
static int request_call(xg_stub_rls *r)
{
    xg_stub_rls_call *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    c->r = r;
    c->t_new.kind = XG_TAG_RLS_NEW;
    c->t_done.kind = XG_TAG_RLS_DONE;
    c->status_msg = grpc_empty_slice();
    grpc_metadata_array_init(&c->md);
    r->nalloc++;
    if (grpc_server_request_registered_call(r->server, r->method, &c->call, &c->deadline, &c->md, &c->payload, r->cq,
                                            r->cq, &c->t_new) != GRPC_CALL_OK) {
        call_free(c);
        return XG_EIO;
    }
    return 0;
}

/* The whole answer in one batch: metadata, the message (when OK), the
 * status, and the close whose completion ends the call. */
static void send_answer(xg_stub_rls_call *c)
{
    grpc_op ops[4] = {{.op = GRPC_OP_SEND_INITIAL_METADATA}};
    size_t n = 1;
    if (c->answer.reply != NULL) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->answer.reply;
    }
    grpc_slice_unref(c->status_msg);
    c->status_msg = grpc_slice_from_copied_string(c->answer.status == GRPC_STATUS_OK ? "" : c->answer.message);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = c->answer.status;
    ops[n++].data.send_status_from_server.status_details = &c->status_msg;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->t_done, NULL);
    XG_ASSERT(e == GRPC_CALL_OK); /* a refused batch is a bug in the op set, not a peer problem */
}

/* Parks c on the due list, which stays sorted by due time. */
static void delay(xg_stub_rls *r, xg_stub_rls_call *c)
{
    c->due_ms = now_ms() + c->answer.delay_ms;
    xg_stub_rls_call **pp = &r->delayed;
    while (*pp != NULL && (*pp)->due_ms <= c->due_ms)
        pp = &(*pp)->next;
    c->next = *pp;
    *pp = c;
}

static void decide(xg_stub_rls *r, xg_stub_rls_call *c)
{
    xg_jev e;
    xg_jev_begin(&e, "ratelimit_call");
    if (c->payload == NULL) {
        c->answer.status = GRPC_STATUS_INVALID_ARGUMENT;
        strcpy(c->answer.message, "no RateLimitRequest message");
        xg_jev_str(&e, "error", c->answer.message);
    } else {
        grpc_byte_buffer_reader rd;
        grpc_slice sl = grpc_empty_slice();
        if (grpc_byte_buffer_reader_init(&rd, c->payload)) {
            sl = grpc_byte_buffer_reader_readall(&rd);
            grpc_byte_buffer_reader_destroy(&rd);
        }
        xg_stub_rls_eval(&r->counters, r->cfg, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl), (uint64_t)time(NULL),
                         &e, &c->answer);
        grpc_slice_unref(sl);
    }
    if (c->answer.delay_ms != 0)
        xg_jev_u64(&e, "delay_ms", c->answer.delay_ms);
    (void)xg_jlog_emit(r->log, &e); /* a lost log line must not fail the call */
}

static void on_new(xg_stub_rls *r, xg_stub_rls_call *c, bool ok)
{
    if (!ok) {
        call_free(c); /* the server is shutting down */
        return;
    }
    if (!r->shutting_down && request_call(r) != 0)
        (void)xg_jlog_msg(r->log, "error", "cannot request the next ShouldRateLimit call; the service stops");
    decide(r, c);
    if (c->answer.delay_ms != 0 && !r->shutting_down)
        delay(r, c);
    else
        send_answer(c);
}

void xg_stub_rls_on_tag(xg_stub_rls *r, xg_stub_tag *tag, bool ok)
{
    xg_stub_rls_call *c = from_tag(tag);
    if (tag->kind == XG_TAG_RLS_NEW)
        on_new(r, c, ok);
    else
        call_free(c); /* the one answer batch is over, sent or not */
}

int xg_stub_rls_wait_ms(const xg_stub_rls *r, int timeout_ms)
{
    if (r->delayed == NULL)
        return timeout_ms;
    int64_t left = r->delayed->due_ms - now_ms();
    return left < 0 ? 0 : left < timeout_ms ? (int)left : timeout_ms;
}

void xg_stub_rls_run_due(xg_stub_rls *r)
{
    int64_t now = now_ms();
    while (r->delayed != NULL && r->delayed->due_ms <= now) {
        xg_stub_rls_call *c = r->delayed;
        r->delayed = c->next;
        send_answer(c);
    }
}

void xg_stub_rls_init(xg_stub_rls *r, grpc_server *server, grpc_completion_queue *cq, xg_jlog *log,
                      const xg_stub_rls_config *cfg)
{
    memset(r, 0, sizeof(*r));
    r->server = server;
    r->cq = cq;
    r->log = log;
    r->cfg = cfg;
    xg_stub_rls_counters_init(&r->counters);
    r->method =
        grpc_server_register_method(server, XG_STUB_RLS_METHOD, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
}

int xg_stub_rls_start(xg_stub_rls *r)
{
    return r->method != NULL ? request_call(r) : XG_EIO;
}

void xg_stub_rls_publish(xg_stub_rls *r, const xg_stub_rls_config *cfg)
{
    r->cfg = cfg;
}

void xg_stub_rls_shutdown(xg_stub_rls *r)
{
    r->shutting_down = true;
    while (r->delayed != NULL) {
        xg_stub_rls_call *c = r->delayed;
        r->delayed = c->next;
        send_answer(c); /* cancelled by the server's shutdown: completes at once */
    }
}

bool xg_stub_rls_drained(const xg_stub_rls *r)
{
    return r->nalloc == 0;
}

void xg_stub_rls_dispose(xg_stub_rls *r)
{
    XG_ASSERT(r->delayed == NULL);
    xg_stub_rls_counters_dispose(&r->counters);
}
