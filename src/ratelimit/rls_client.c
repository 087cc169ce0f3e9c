/* The process-wide RateLimitService client: channels, the completion
 * thread, and the life of one call (rls_client.h). Threads: a worker starts
 * and may cancel a call; the completion thread decodes the answer and
 * posts it to that worker's loop, whose closure runs the callback (unless
 * the worker cancelled meanwhile) and frees the call. The grpc_call
 * reference is dropped only there, so a worker's cancel never races with
 * the call's end; the post uses a task node inside the call, so it cannot
 * fail while the worker's loop runs. The mutex guards the channel cache,
 * the list of calls in flight (cancelled by xg_rls_stop), call starts
 * against shutdown and the warning table; it covers only those lookups
 * (twice per call start, once per completion), never a gRPC core call. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "core/error.h"
#include "core/log.h"
#include "ratelimit/rls_client.h"
#include "version.h"

#define METHOD "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"
#define MAX_RECV_BYTES (1 << 20)
/* The RLS being down must not leave its channel failing for gRPC's default
 * two minutes of backoff once it is back. */
#define MAX_BACKOFF_MS 1000
#define ROUND_ROBIN "{\"loadBalancingConfig\":[{\"round_robin\":{}}]}"

/* How often the completion thread looks for channels to retire. */
#define SWEEP_EVERY_S 1.0
/* Services whose warnings are rate-limited at once (a direct-mapped table:
 * two services that collide just share a slot's budget). */
#define WARN_SLOTS 64

typedef struct warn_slot {
    uint64_t hash;
    double last;
    uint32_t suppressed;
} warn_slot;

typedef struct xg_rls {
    grpc_completion_queue *cq;
    pthread_t thread;
    pthread_mutex_t mu;
    xg_rls_chans chans;         /* guarded by mu */
    xg_rls_call *flying;        /* guarded by mu: calls the gRPC core has not finished */
    bool stopping;              /* guarded by mu */
    warn_slot warn[WARN_SLOTS]; /* guarded by mu */
    double last_sweep;          /* completion thread only */
} xg_rls;

struct xg_rls_call {
    xg_loop_task task;        /* the answer's post: no allocation when the answer comes */
    xg_rls_call *prev, *next; /* flying list */
    grpc_call *call;          /* one reference, dropped in call_free */
    xg_rls_chan *chan;        /* counted on until the call completes */
    xg_loop *loop;            /* the starting worker's */
    xg_rls_cb cb;
    void *arg;
    bool cancelled; /* starting worker only */
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array md_initial, md_trailing;
    grpc_status_code status;
    grpc_slice details;
    xg_rls_result result; /* filled by the completion thread before the post */
    xg_rls_response *resp;
    char error[160];
};

/* Written by main before the workers start and after they stop; the
 * process-wide client, like the gRPC core's own state under grpc_init. */
static xg_rls *the_rls;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- calls --- */

static void call_free(xg_rls_call *c)
{
    if (c->call != NULL)
        grpc_call_unref(c->call);
    if (c->send != NULL)
        grpc_byte_buffer_destroy(c->send);
    if (c->recv != NULL)
        grpc_byte_buffer_destroy(c->recv);
    grpc_metadata_array_destroy(&c->md_initial);
    grpc_metadata_array_destroy(&c->md_trailing);
    grpc_slice_unref(c->details);
    if (c->resp != NULL)
        protobuf_c_message_free_unpacked(&c->resp->base, NULL);
    free(c);
}

/* what: static text, or c->error already written. */
static void fail(xg_rls_call *c, const char *what)
{
    c->result.code = XG_RLS_ERROR;
    c->result.resp = NULL;
    c->result.error = what;
}

/* Completion thread: the answer into c->result. */
static void decode(xg_rls_call *c, bool ok)
{
    if (!ok || c->status != GRPC_STATUS_OK) {
        char *msg = grpc_slice_to_c_string(c->details);
        snprintf(c->error, sizeof(c->error), "gRPC status %d%s%s", ok ? (int)c->status : -1, msg[0] ? ": " : "", msg);
        gpr_free(msg);
        fail(c, c->error);
        return;
    }
    grpc_byte_buffer_reader r;
    if (c->recv == NULL || !grpc_byte_buffer_reader_init(&r, c->recv)) {
        fail(c, "no response message");
        return;
    }
    grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    c->resp =
        (xg_rls_response *)protobuf_c_message_unpack(&envoy__service__ratelimit__v3__rate_limit_response__descriptor,
                                                     NULL, GRPC_SLICE_LENGTH(sl), GRPC_SLICE_START_PTR(sl));
    grpc_slice_unref(sl);
    if (c->resp == NULL) {
        fail(c, "the response does not parse as a RateLimitResponse");
        return;
    }
    switch (c->resp->overall_code) {
    case ENVOY__SERVICE__RATELIMIT__V3__RATE_LIMIT_RESPONSE__CODE__OK:
        c->result.code = XG_RLS_OK;
        break;
    case ENVOY__SERVICE__RATELIMIT__V3__RATE_LIMIT_RESPONSE__CODE__OVER_LIMIT:
        c->result.code = XG_RLS_OVER_LIMIT;
        break;
    default:
        fail(c, "the response's overall_code is neither OK nor OVER_LIMIT");
        return;
    }
    c->result.resp = c->resp;
}

/* The starting worker: the answer, unless the caller went away. */
static void on_answer(void *arg)
{
    xg_rls_call *c = arg;
    if (!c->cancelled)
        c->cb(c->arg, &c->result);
    call_free(c);
}

/* Under mu. */
static void link_flying(xg_rls *r, xg_rls_call *c)
{
    c->prev = NULL;
    c->next = r->flying;
    if (r->flying != NULL)
        r->flying->prev = c;
    r->flying = c;
}

/* Under mu. */
static void unlink_flying(xg_rls *r, xg_rls_call *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        r->flying = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void on_complete(xg_rls *r, xg_rls_call *c, bool ok)
{
    pthread_mutex_lock(&r->mu);
    unlink_flying(r, c);
    xg_rls_chans_put(c->chan);
    c->chan = NULL;
    pthread_mutex_unlock(&r->mu);
    decode(c, ok);
    /* Refused only once the worker's loop has finished: nobody can cancel c any more. */
    if (xg_loop_post_task(c->loop, &c->task, on_answer, c) != 0)
        call_free(c);
}

/* Completion thread: closes the channels due for retirement, outside the lock. */
static void sweep(xg_rls *r)
{
    double now = now_s();
    if (now - r->last_sweep < SWEEP_EVERY_S)
        return;
    r->last_sweep = now;
    pthread_mutex_lock(&r->mu);
    xg_rls_chan *old = xg_rls_chans_sweep(&r->chans, now);
    pthread_mutex_unlock(&r->mu);
    for (xg_rls_chan *c = old; c != NULL; c = c->next)
        xg_log_debug("rate limit service %s: channel to %s closed (idle)", c->key, c->target);
    xg_rls_chans_free_list(&r->chans, old);
}

static void *run(void *arg)
{
    xg_rls *r = arg;
    r->last_sweep = now_s();
    for (;;) {
        gpr_timespec wake = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(1000, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(r->cq, wake, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            on_complete(r, ev.tag, ev.success != 0);
        sweep(r);
    }
    return NULL;
}

/* --- channels --- */

static void *make_channel(const xg_rls_dest *d)
{
    grpc_arg args[] = {
        {GRPC_ARG_STRING, GRPC_ARG_SERVICE_CONFIG, {.string = ROUND_ROBIN}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = MAX_RECV_BYTES}},
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}},
        {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = MAX_BACKOFF_MS}},
        {GRPC_ARG_STRING, GRPC_ARG_PRIMARY_USER_AGENT_STRING, {.string = "xdsgate/" XG_VERSION}},
        {GRPC_ARG_STRING, GRPC_ARG_DEFAULT_AUTHORITY, {.string = (char *)d->authority}},
    };
    size_t n = sizeof(args) / sizeof(args[0]);
    if (d->authority == NULL)
        n--; /* last */
    grpc_channel_args ca = {n, args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(d->target, creds, &ca);
    grpc_channel_credentials_release(creds);
    if (ch != NULL)
        xg_log_debug("rate limit service %s: channel to %s", d->key, d->target);
    return ch;
}

static void close_channel(void *ch)
{
    grpc_channel_destroy(ch); /* only once no call on it is in flight */
}

/* --- the request --- */

typedef Envoy__Extensions__Common__Ratelimit__V3__RateLimitDescriptor pb_desc;
typedef Envoy__Extensions__Common__Ratelimit__V3__RateLimitDescriptor__Entry pb_entry;

/* The RateLimitRequest as a byte buffer; strings are borrowed while packing. */
static grpc_byte_buffer *encode(const char *domain, const xg_rl_descriptors *d)
{
    size_t n_entries = 0;
    for (uint32_t i = 0; i < d->n; i++)
        n_entries += d->items[i].n;
    pb_desc *descs = calloc(d->n, sizeof(*descs));
    pb_desc **dptr = calloc(d->n, sizeof(*dptr));
    pb_entry *ents = calloc(n_entries ? n_entries : 1, sizeof(*ents));
    pb_entry **eptr = calloc(n_entries ? n_entries : 1, sizeof(*eptr));
    /* Entry strings are not NUL-terminated in the descriptors: one block for all. */
    size_t text = 0;
    for (uint32_t i = 0; i < d->n; i++)
        for (uint32_t j = 0; j < d->items[i].n; j++)
            text += d->items[i].entries[j].key.len + d->items[i].entries[j].value.len + 2;
    char *buf = malloc(text ? text : 1);
    grpc_byte_buffer *bb = NULL;
    if (descs == NULL || dptr == NULL || ents == NULL || eptr == NULL || buf == NULL)
        goto done;
    size_t e = 0;
    char *p = buf;
    for (uint32_t i = 0; i < d->n; i++) {
        envoy__extensions__common__ratelimit__v3__rate_limit_descriptor__init(&descs[i]);
        dptr[i] = &descs[i];
        descs[i].entries = &eptr[e];
        descs[i].n_entries = d->items[i].n;
        for (uint32_t j = 0; j < d->items[i].n; j++, e++) {
            const xg_rl_entry *src = &d->items[i].entries[j];
            envoy__extensions__common__ratelimit__v3__rate_limit_descriptor__entry__init(&ents[e]);
            eptr[e] = &ents[e];
            ents[e].key = memcpy(p, src->key.s, src->key.len);
            p[src->key.len] = '\0';
            p += src->key.len + 1;
            ents[e].value = memcpy(p, src->value.s, src->value.len);
            p[src->value.len] = '\0';
            p += src->value.len + 1;
        }
    }
    Envoy__Service__Ratelimit__V3__RateLimitRequest req = ENVOY__SERVICE__RATELIMIT__V3__RATE_LIMIT_REQUEST__INIT;
    req.domain = (char *)domain;
    req.descriptors = dptr;
    req.n_descriptors = d->n;
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *out = malloc(len ? len : 1);
    if (out != NULL) {
        protobuf_c_message_pack(&req.base, out);
        grpc_slice sl = grpc_slice_new(out, len, free); /* the slice owns out */
        bb = grpc_raw_byte_buffer_create(&sl, 1);
        grpc_slice_unref(sl);
    }
done:
    free(descs);
    free(dptr);
    free(ents);
    free(eptr);
    free(buf);
    return bb;
}

static gpr_timespec deadline(uint64_t timeout_ms)
{
    if (timeout_ms == 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis((int64_t)timeout_ms, GPR_TIMESPAN));
}

/* Outside mu: the call made on its channel and its one batch started. */
static int begin(xg_rls *r, xg_rls_call *c, uint64_t timeout_ms)
{
    grpc_slice method = grpc_slice_from_static_string(METHOD);
    c->call = grpc_channel_create_call(c->chan->handle, NULL, GRPC_PROPAGATE_DEFAULTS, r->cq, method, NULL,
                                       deadline(timeout_ms), NULL);
    if (c->call == NULL)
        return XG_ENOMEM;
    /* Listed before the batch starts (its completion unlinks it), and only
     * with c->call set, which xg_rls_stop cancels. */
    pthread_mutex_lock(&r->mu);
    bool stopping = r->stopping;
    if (!stopping)
        link_flying(r, c);
    pthread_mutex_unlock(&r->mu);
    if (stopping)
        return XG_EAGAIN;
    grpc_op ops[6] = {{.op = GRPC_OP_SEND_INITIAL_METADATA},  {.op = GRPC_OP_SEND_MESSAGE},
                      {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT}, {.op = GRPC_OP_RECV_INITIAL_METADATA},
                      {.op = GRPC_OP_RECV_MESSAGE},           {.op = GRPC_OP_RECV_STATUS_ON_CLIENT}};
    ops[1].data.send_message.send_message = c->send;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->md_initial;
    ops[4].data.recv_message.recv_message = &c->recv;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->md_trailing;
    ops[5].data.recv_status_on_client.status = &c->status;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    if (grpc_call_start_batch(c->call, ops, 6, c, NULL) != GRPC_CALL_OK) {
        pthread_mutex_lock(&r->mu);
        unlink_flying(r, c);
        pthread_mutex_unlock(&r->mu);
        return XG_EIO;
    }
    return 0;
}

int xg_rls_call_start(const xg_rls_dest *dest, const char *domain, const xg_rl_descriptors *d, uint64_t timeout_ms,
                      xg_loop *loop, xg_rls_cb cb, void *arg, xg_rls_call **out)
{
    xg_rls *r = the_rls;
    if (r == NULL)
        return XG_EAGAIN;
    xg_rls_call *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    grpc_metadata_array_init(&c->md_initial);
    grpc_metadata_array_init(&c->md_trailing);
    c->details = grpc_empty_slice();
    c->loop = loop;
    c->cb = cb;
    c->arg = arg;
    c->send = encode(domain, d);
    int rc = c->send != NULL ? 0 : XG_ENOMEM;
    if (rc == 0) {
        double now = now_s();
        pthread_mutex_lock(&r->mu);
        if (r->stopping)
            rc = XG_EAGAIN;
        else if ((c->chan = xg_rls_chans_get(&r->chans, dest, now)) == NULL)
            rc = XG_ENOMEM;
        pthread_mutex_unlock(&r->mu);
    }
    if (rc == 0)
        rc = begin(r, c, timeout_ms);
    if (rc != 0) {
        if (c->chan != NULL) {
            pthread_mutex_lock(&r->mu);
            xg_rls_chans_put(c->chan);
            pthread_mutex_unlock(&r->mu);
        }
        call_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void xg_rls_call_cancel(xg_rls_call *c)
{
    c->cancelled = true;
    grpc_call_cancel(c->call, NULL);
}

/* --- the client --- */

int xg_rls_start(void)
{
    if (the_rls != NULL)
        return 0;
    xg_rls *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return XG_ENOMEM;
    grpc_init();
    pthread_mutex_init(&r->mu, NULL);
    xg_rls_chans_init(&r->chans, make_channel, close_channel);
    r->cq = grpc_completion_queue_create_for_next(NULL);
    int rc = pthread_create(&r->thread, NULL, run, r);
    if (rc != 0) {
        grpc_completion_queue_shutdown(r->cq);
        grpc_completion_queue_destroy(r->cq);
        pthread_mutex_destroy(&r->mu);
        free(r);
        grpc_shutdown();
        return -rc;
    }
    the_rls = r;
    return 0;
}

void xg_rls_stop(void)
{
    xg_rls *r = the_rls;
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    for (xg_rls_call *c = r->flying; c != NULL; c = c->next)
        grpc_call_cancel(c->call, NULL);
    pthread_mutex_unlock(&r->mu);
    grpc_completion_queue_shutdown(r->cq); /* the thread drains the cancelled calls first */
    pthread_join(r->thread, NULL);
    grpc_completion_queue_destroy(r->cq);
    xg_rls_chans_dispose(&r->chans);
    pthread_mutex_destroy(&r->mu);
    free(r);
    the_rls = NULL;
    grpc_shutdown();
}

bool xg_rls_warn_due(bool uri, const char *key, uint32_t *suppressed)
{
    xg_rls *r = the_rls;
    *suppressed = 0;
    if (r == NULL)
        return true;
    uint64_t h = uri ? 0x9e3779b97f4a7c15ull : 0xcbf29ce484222325ull; /* FNV-1a, the kind as the basis */
    for (const char *p = key; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    double now = now_s();
    pthread_mutex_lock(&r->mu);
    warn_slot *w = &r->warn[h % WARN_SLOTS];
    bool due = w->hash != h || w->last == 0 || now - w->last >= XG_RLS_WARN_EVERY_S;
    if (due) {
        *suppressed = w->hash == h ? w->suppressed : 0;
        *w = (warn_slot){.hash = h, .last = now};
    } else {
        w->suppressed++;
    }
    pthread_mutex_unlock(&r->mu);
    return due;
}
