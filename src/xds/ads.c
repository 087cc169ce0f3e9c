/* The ADS transport's public face and its thread: options, start/stop, posted
 * closures and timers, and the loop that drives the completion queue. Other
 * threads hand work over through a mutex-protected inbox and wake the loop
 * with a connectivity watch on a private lame channel whose deadline is
 * "now": the C core has no public alarm, and this completes on the queue at
 * once. A 1 s tick bounds the wait anyway. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <grpc/support/time.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "xds/ads_int.h"

#define TICK_MS 1000

/* Per-thread: the transport whose xds thread this is (NULL elsewhere). */
static __thread xg_ads *self_ads;

uint64_t xg__ads_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool post_before(const xg__ads_post *x, const xg__ads_post *y)
{
    return x->due_ms < y->due_ms || (x->due_ms == y->due_ms && x->seq < y->seq);
}

static void heap_swap(xg__ads_post **h, size_t i, size_t j)
{
    xg__ads_post *t = h[i];
    h[i] = h[j];
    h[j] = t;
}

/* Appends p to the min-heap; p's seq makes equal due times run in post order. */
static int heap_push(xg_ads *a, xg__ads_post *p)
{
    if (a->heap_n == a->heap_cap) {
        size_t cap = a->heap_cap ? a->heap_cap * 2 : 16;
        xg__ads_post **h = realloc(a->heap, cap * sizeof(*h));
        if (h == NULL)
            return XG_ENOMEM;
        a->heap = h;
        a->heap_cap = cap;
    }
    p->seq = a->seq++;
    size_t i = a->heap_n++;
    a->heap[i] = p;
    for (; i > 0 && post_before(a->heap[i], a->heap[(i - 1) / 2]); i = (i - 1) / 2)
        heap_swap(a->heap, i, (i - 1) / 2);
    return 0;
}

static xg__ads_post *heap_pop(xg_ads *a)
{
    xg__ads_post *top = a->heap[0];
    a->heap[0] = a->heap[--a->heap_n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < a->heap_n && post_before(a->heap[l], a->heap[m]))
            m = l;
        if (r < a->heap_n && post_before(a->heap[r], a->heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(a->heap, i, m);
        i = m;
    }
    return top;
}

int xg__ads_timer_add(xg_ads *a, uint64_t delay_ms, void (*fn)(void *arg), void *arg)
{
    xg__ads_post *p = malloc(sizeof(*p));
    if (p == NULL)
        return XG_ENOMEM;
    *p = (xg__ads_post){NULL, xg__ads_now_ms() + delay_ms, 0, fn, arg};
    int rc = heap_push(a, p);
    if (rc != 0)
        free(p);
    return rc;
}

/* Caller holds mu; the thread is running and not told to stop. */
static void wake_locked(xg_ads *a)
{
    if (a->wake_pending)
        return;
    a->wake_pending = true;
    grpc_channel_watch_connectivity_state(a->wake_ch, GRPC_CHANNEL_IDLE, gpr_now(GPR_CLOCK_MONOTONIC), a->cq,
                                          &a->t_wake);
}

int xg_ads_post(xg_ads *a, uint32_t delay_ms, void (*fn)(void *arg), void *arg)
{
    if (self_ads == a) /* on the xds thread: straight onto the heap, no wake needed */
        return a->stopping ? XG_EAGAIN : xg__ads_timer_add(a, delay_ms, fn, arg);
    xg__ads_post *p = malloc(sizeof(*p));
    if (p == NULL)
        return XG_ENOMEM;
    *p = (xg__ads_post){NULL, xg__ads_now_ms() + delay_ms, 0, fn, arg};
    pthread_mutex_lock(&a->mu);
    bool ok = !a->stop_requested;
    if (ok) {
        *a->inbox_tail = p;
        a->inbox_tail = &p->next;
        if (a->running)
            wake_locked(a);
    }
    pthread_mutex_unlock(&a->mu);
    if (!ok)
        free(p);
    return ok ? 0 : XG_EAGAIN;
}

/* Moves posted closures onto the heap; false once a stop was requested. */
static bool take_inbox(xg_ads *a)
{
    pthread_mutex_lock(&a->mu);
    xg__ads_post *p = a->inbox;
    a->inbox = NULL;
    a->inbox_tail = &a->inbox;
    a->stopping = a->stop_requested;
    pthread_mutex_unlock(&a->mu);
    while (p != NULL) {
        xg__ads_post *next = p->next;
        if (heap_push(a, p) != 0) {
            xg_log_error("ads: out of memory; a posted closure is dropped");
            free(p);
        }
        p = next;
    }
    return !a->stopping;
}

/* Runs what is due, except closures added during this pass (a closure that
 * re-posts itself with no delay must not starve the queue). Returns whether
 * something is due right now. */
static bool run_due(xg_ads *a)
{
    uint64_t now = xg__ads_now_ms(), limit = a->seq;
    while (a->heap_n > 0 && a->heap[0]->due_ms <= now && a->heap[0]->seq < limit && !a->stopping) {
        xg__ads_post *p = heap_pop(a);
        p->fn(p->arg);
        free(p);
    }
    return a->heap_n > 0 && a->heap[0]->due_ms <= now;
}

static gpr_timespec deadline(const xg_ads *a, bool busy)
{
    if (busy)
        return gpr_inf_past(GPR_CLOCK_MONOTONIC);
    uint64_t now = xg__ads_now_ms(), wait = TICK_MS;
    if (a->heap_n > 0)
        wait = a->heap[0]->due_ms <= now ? 0 : (a->heap[0]->due_ms - now < wait ? a->heap[0]->due_ms - now : wait);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis((int64_t)wait, GPR_TIMESPAN));
}

static void dispatch(xg_ads *a, void *tag, bool ok)
{
    xg__ads_tag *t = tag;
    if (t->kind != XG__ADS_TAG_WAKE) {
        xg__ads_stream_on_event(t, ok);
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->wake_pending = false;
    pthread_mutex_unlock(&a->mu);
}

/* Cancels the call and drains the queue until every batch has completed and
 * every stream is freed; pending closures are dropped unrun. */
static void wind_down(xg_ads *a)
{
    xg__ads_stream_cancel(a);
    grpc_completion_queue_shutdown(a->cq);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(a->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            dispatch(a, ev.tag, ev.success);
    }
    XG_ASSERT(a->n_streams == 0 && a->st == NULL);
    grpc_completion_queue_destroy(a->cq);
    grpc_channel_destroy(a->wake_ch);
    a->cq = NULL;
    a->wake_ch = NULL;
    while (a->heap_n > 0)
        free(heap_pop(a));
    xg_log_info("ads: stopped");
    a->h.on_conn(a->h.ctx, XG_ADS_STOPPED, "stopped");
}

static void *ads_main(void *arg)
{
    xg_ads *a = arg;
    self_ads = a;
    xg_log_set_thread_name("xds");
    pthread_setname_np(pthread_self(), "xds");
    xg__ads_stream_connect(a);
    while (take_inbox(a)) {
        bool busy = run_due(a);
        grpc_event ev = grpc_completion_queue_next(a->cq, deadline(a, busy), NULL);
        if (ev.type == GRPC_OP_COMPLETE)
            dispatch(a, ev.tag, ev.success);
    }
    wind_down(a);
    self_ads = NULL;
    return NULL;
}

static void noop_conn(void *ctx, xg_ads_conn state, const char *detail)
{
}

static void free_options(xg_ads_options *o)
{
    free((char *)o->server);
    free((char *)o->node_id);
    free((char *)o->node_cluster);
    free((char *)o->ca_file);
    free((char *)o->cert_file);
    free((char *)o->key_file);
    free((char *)o->server_name);
}

static bool dup_opt(const char **dst, const char *src, const char *dflt)
{
    src = src != NULL ? src : dflt;
    *dst = src != NULL ? strdup(src) : NULL;
    return src == NULL || *dst != NULL;
}

static int copy_options(xg_ads_options *o, const xg_ads_options *in)
{
    *o = *in;
    o->server = o->node_id = o->node_cluster = o->ca_file = o->cert_file = o->key_file = o->server_name = NULL;
    bool ok = dup_opt(&o->server, in->server, NULL) & dup_opt(&o->node_id, in->node_id, "") &
              dup_opt(&o->node_cluster, in->node_cluster, "") & dup_opt(&o->ca_file, in->ca_file, NULL) &
              dup_opt(&o->cert_file, in->cert_file, NULL) & dup_opt(&o->key_file, in->key_file, NULL) &
              dup_opt(&o->server_name, in->server_name, NULL);
    o->backoff_initial_s = in->backoff_initial_s > 0 ? in->backoff_initial_s : 0.5;
    o->backoff_max_s = in->backoff_max_s > 0 ? in->backoff_max_s : 30;
    if (o->backoff_max_s < o->backoff_initial_s)
        o->backoff_max_s = o->backoff_initial_s;
    return ok ? 0 : XG_ENOMEM;
}

/* TLS needs the OpenSSL flavour (gRPC's secure library links OpenSSL, which
 * must not share a process with BoringSSL); a key and a certificate go
 * together and only with a CA, and so does a server name override. */
static int check_options(const xg_ads_options *o, const xg_ads_handler *h)
{
    if (o == NULL || h == NULL || h->on_response == NULL || o->server == NULL || o->server[0] == '\0')
        return XG_EINVAL;
    if (o->backoff_initial_s < 0 || o->backoff_max_s < 0)
        return XG_EINVAL;
    if ((o->cert_file == NULL) != (o->key_file == NULL) || (o->cert_file != NULL && o->ca_file == NULL))
        return XG_EINVAL;
    if (o->server_name != NULL && (o->ca_file == NULL || o->server_name[0] == '\0'))
        return XG_EINVAL;
#ifndef XG_TLS_OPENSSL
    if (o->ca_file != NULL) {
        xg_log_error("ads: TLS to the control plane needs the OpenSSL build (make TLS=openssl)");
        return XG_ENOTSUP;
    }
#endif
    return 0;
}

static uint64_t seed(const xg_ads *a)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
        s = xg__ads_now_ms() ^ (uint64_t)(uintptr_t)a;
    return s != 0 ? s : 0x9e3779b97f4a7c15ull;
}

int xg_ads_new(const xg_ads_options *o, const xg_ads_handler *h, xg_ads **out)
{
    int rc = check_options(o, h);
    if (rc != 0)
        return rc;
    xg_ads *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return XG_ENOMEM;
    rc = copy_options(&a->o, o);
    for (int t = 0; t < XG_XDS_NTYPES && rc == 0; t++)
        rc = xg__ads_sub_init(&a->subs[t]);
    a->h = *h;
    if (a->h.on_conn == NULL)
        a->h.on_conn = noop_conn;
    a->inbox_tail = &a->inbox;
    a->rng = seed(a);
    pthread_mutex_init(&a->mu, NULL);
    grpc_init(); /* refcounted: the transport works without main's grpc_init too */
    if (rc != 0) {
        xg_ads_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int xg_ads_start(xg_ads *a)
{
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    if (a->started || a->stop_requested) {
        rc = XG_EINVAL;
        goto done;
    }
    a->cq = grpc_completion_queue_create_for_next(NULL);
    a->wake_ch = grpc_lame_client_channel_create("xdsgate-wake", GRPC_STATUS_UNAVAILABLE, "wake-up only");
    a->t_wake = (xg__ads_tag){XG__ADS_TAG_WAKE, NULL};
    if (pthread_create(&a->thread, NULL, ads_main, a) != 0) {
        grpc_completion_queue_shutdown(a->cq);
        grpc_completion_queue_destroy(a->cq);
        grpc_channel_destroy(a->wake_ch);
        a->cq = NULL;
        a->wake_ch = NULL;
        rc = XG_EAGAIN;
        goto done;
    }
    a->started = a->running = true;
done:
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void xg_ads_stop(xg_ads *a)
{
    XG_ASSERT(self_ads != a); /* the xds thread cannot join itself */
    pthread_mutex_lock(&a->mu);
    bool join = a->running;
    if (join && !a->stop_requested)
        wake_locked(a);
    a->stop_requested = true;
    a->running = false;
    pthread_mutex_unlock(&a->mu);
    if (join)
        pthread_join(a->thread, NULL);
}

void xg_ads_free(xg_ads *a)
{
    if (a == NULL)
        return;
    xg_ads_stop(a);
    while (a->inbox != NULL) {
        xg__ads_post *p = a->inbox;
        a->inbox = p->next;
        free(p);
    }
    while (a->heap_n > 0)
        free(heap_pop(a));
    free(a->heap);
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        xg__ads_sub_dispose(&a->subs[t]);
    free_options(&a->o);
    pthread_mutex_destroy(&a->mu);
    free(a);
    grpc_shutdown();
}
