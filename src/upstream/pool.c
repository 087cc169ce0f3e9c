/* Connection pools: finding a host's pool, queueing requests, deciding where
 * a connection goes after each change (ready, busy, idle-closed, closed for
 * good), opening connections for the queue, draining, and the cluster
 * layer's hooks. One pool type for both protocols: HTTP/1.1 opens a
 * connection per queued request and reuses idle ones (most recently used
 * first, so the rest can time out); HTTP/2 opens one connection at a time and
 * fills it up to the server's stream limit. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "net/tls_ctx.h"
#include "upstream/breaker.h"
#include "upstream/pool.h"

/* --- lists --- */

void xg__uc_list_add(xg_uc_list *l, xg_upconn *uc)
{
    uc->list = l;
    uc->prev = NULL;
    uc->next = l->head;
    if (l->head != NULL)
        l->head->prev = uc;
    l->head = uc;
    l->n++;
}

void xg__uc_list_del(xg_upconn *uc)
{
    xg_uc_list *l = uc->list;
    if (l == NULL)
        return;
    if (uc->prev != NULL)
        uc->prev->next = uc->next;
    else
        l->head = uc->next;
    if (uc->next != NULL)
        uc->next->prev = uc->prev;
    l->n--;
    uc->list = NULL;
    uc->prev = uc->next = NULL;
}

static void move_to(xg_uc_list *l, xg_upconn *uc)
{
    if (uc->list == l)
        return;
    xg__uc_list_del(uc);
    xg__uc_list_add(l, uc);
}

/* --- pools --- */

static xg_codec_proto initial_proto(xg_upstream_proto want, xg_codec_proto downstream, bool tls)
{
    switch (want) {
    case XG_UPSTREAM_HTTP2:
        return XG_PROTO_HTTP2;
    case XG_UPSTREAM_AUTO:
        return tls ? XG_PROTO_HTTP2 : XG_PROTO_HTTP1; /* ALPN decides per connection */
    case XG_UPSTREAM_USE_DOWNSTREAM:
        return downstream;
    default:
        return XG_PROTO_HTTP1;
    }
}

xg_pool *xg__pool_get(xg_host *h, xg_upstream_proto want, xg_codec_proto downstream, struct xg_tls_client *tls)
{
    return xg__pool_get_prio(h, want, downstream, tls, XG_PRIORITY_DEFAULT);
}

xg_pool *xg__pool_get_prio(xg_host *h, xg_upstream_proto want, xg_codec_proto downstream, struct xg_tls_client *tls,
                           int priority)
{
    uint64_t gen = h->cluster->conn_gen;
    if (want != XG_UPSTREAM_USE_DOWNSTREAM)
        downstream = XG_PROTO_HTTP1;
    for (xg_pool *p = h->pools; p != NULL; p = p->next)
        if (!p->draining && p->want == want && p->downstream == downstream && p->tls == tls && p->conn_gen == gen &&
            p->priority == priority)
            return p;
    xg_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->host = h;
    xg_host_ref(h);
    p->loop = h->cluster->owner->loop;
    p->want = want;
    p->downstream = downstream;
    p->priority = priority;
    p->proto = initial_proto(want, downstream, tls != NULL);
    p->tls = tls;
    if (tls != NULL)
        xg_tls_client_ref(tls);
    p->conn_gen = gen;
    p->max_idle = XG_POOL_MAX_IDLE;
    p->peak_window = XG_POOL_PEAK_WINDOW;
    p->next = h->pools;
    h->pools = p;
    return p;
}

static void pool_free(xg_deferred *d)
{
    xg_pool *p = (xg_pool *)((char *)d - offsetof(xg_pool, deferred));
    xg_tls_client_unref(p->tls);
    xg_host_unref(p->host);
    free(p);
}

static void unlink_pool(xg_pool *p)
{
    for (xg_pool **pp = &p->host->pools; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

void xg__pool_maybe_free(xg_pool *p)
{
    if (!p->draining || p->freed || p->ready.n + p->busy.n + p->connecting.n + p->n_pending > 0)
        return;
    p->freed = true;
    unlink_pool(p);
    xg_loop_defer(p->loop, &p->deferred, pool_free);
}

/* --- the queue --- */

static void enqueue(xg_pool *p, xg_upstream_req *r)
{
    r->pending = true;
    r->next = NULL;
    r->prev = p->pend_tail;
    if (p->pend_tail != NULL)
        p->pend_tail->next = r;
    else
        p->pend_head = r;
    p->pend_tail = r;
    p->n_pending++;
}

void xg__pool_unqueue(xg_pool *p, xg_upstream_req *r)
{
    if (!r->pending)
        return;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        p->pend_head = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    else
        p->pend_tail = r->prev;
    r->prev = r->next = NULL;
    r->pending = false;
    p->n_pending--;
    if (r->pending_counted)
        xg_breaker_dec(p->host->cluster->breaker, p->priority, XG_BR_PENDING);
    r->pending_counted = false;
}

/* A new connection within the cluster's max_connections (all workers, this
 * priority). At the limit the queue waits for a connection to free up, except
 * that a pool with no connection at all may always open one (Envoy's rule:
 * otherwise its queue could wait for ever while other hosts hold the
 * connections). */
static bool may_connect(xg_pool *p)
{
    xg_cluster_rt *rt = p->host->cluster;
    if (xg_breaker_try(rt->breaker, p->priority, XG_BR_CONNECTIONS, rt->cfg->thresholds[p->priority].max_connections))
        return true;
    rt->stats.upstream_cx_overflow++;
    if (p->ready.n + p->busy.n + p->connecting.n > 0)
        return false;
    xg_breaker_inc(rt->breaker, p->priority, XG_BR_CONNECTIONS);
    return true;
}

/* Opens connections for the queue: one per waiting request on HTTP/1.1, one
 * at a time on HTTP/2; within the cluster's max_connections. */
static void ensure_connections(xg_pool *p)
{
    uint32_t want = p->proto == XG_PROTO_HTTP1 ? p->n_pending : 1;
    while (p->n_pending > 0 && p->connecting.n < want && may_connect(p)) {
        xg_upconn *uc = xg__uc_new(p);
        if (uc == NULL) {
            xg_breaker_dec(p->host->cluster->breaker, p->priority, XG_BR_CONNECTIONS);
            return;
        }
        uc->cx_counted = p->host->cluster->breaker != NULL; /* NULL: nothing was taken */
    }
}

/* Opens r's stream on uc within max_requests (Envoy checks it when a request
 * is attached to a connection): 0, XG_ERANGE at the limit, or
 * xg__uc_open_stream's error. */
static int open_counted(xg_pool *p, xg_upconn *uc, xg_upstream_req *r)
{
    xg_cluster_rt *rt = p->host->cluster;
    if (!xg_breaker_try(rt->breaker, p->priority, XG_BR_REQUESTS, rt->cfg->thresholds[p->priority].max_requests))
        return XG_ERANGE;
    r->rq_counted = rt->breaker != NULL;
    int rc = xg__uc_open_stream(uc, r);
    if (rc != 0)
        xg__req_uncount(r);
    return rc;
}

/* Keeps peak_in_use: the connections in use now, or more within the
 * window. Returns how many idle connections the pool may keep. */
static uint32_t idle_limit(xg_pool *p)
{
    double now = ev_now(p->loop->ev);
    uint32_t in_use = p->busy.n + p->connecting.n;
    if (in_use >= p->peak_in_use || now - p->peak_at > p->peak_window) {
        p->peak_in_use = in_use;
        p->peak_at = now;
    }
    return p->peak_in_use > p->max_idle ? p->peak_in_use : p->max_idle;
}

int xg__pool_attach(xg_pool *p, xg_upstream_req *r)
{
    xg_cluster_rt *rt = p->host->cluster;
    r->pool = p;
    xg_upconn *uc = p->ready.head;
    if (uc != NULL && p->n_pending == 0) {
        int rc = open_counted(p, uc, r);
        if (rc == XG_ERANGE)
            return XG_EAGAIN;
        if (rc != XG_EAGAIN) {
            if (rc == 0 && xg_codec_capacity(uc->codec) == 0) {
                uc->state = XG_UC_BUSY;
                move_to(&p->busy, uc);
                idle_limit(p);
            }
            return rc;
        }
    }
    if (!xg_breaker_try(rt->breaker, p->priority, XG_BR_PENDING, rt->cfg->thresholds[p->priority].max_pending_requests))
        return XG_EAGAIN;
    enqueue(p, r);
    r->pending_counted = rt->breaker != NULL;
    ensure_connections(p);
    return 0;
}

static xg_upstream_req *dequeue(xg_pool *p)
{
    xg_upstream_req *r = p->pend_head;
    xg__pool_unqueue(p, r);
    return r;
}

/* A connection takes no new stream: GOAWAY, max_requests_per_connection,
 * or the codec wants it closed. */
static bool spent(const xg_pool *p, const xg_upconn *uc)
{
    uint32_t max = p->host->cluster->cfg->http.max_requests_per_connection;
    return uc->goaway || uc->expired || (max > 0 && uc->served >= max) || xg_codec_should_close(uc->codec);
}

/* Hands queued requests to uc while it has room. */
static void serve_queue(xg_pool *p, xg_upconn *uc)
{
    while (p->n_pending > 0 && !spent(p, uc) && xg_codec_capacity(uc->codec) > 0) {
        xg_upstream_req *r = dequeue(p);
        int rc = open_counted(p, uc, r);
        if (rc == XG_ERANGE)
            p->host->cluster->stats.upstream_rq_pending_overflow++;
        if (rc != 0)
            xg__req_fail(r, rc == XG_ERANGE ? XG_UPSTREAM_OVERFLOW : XG_UPSTREAM_LOCAL_RESET);
    }
}

void xg__pool_settle(xg_pool *p, xg_upconn *uc)
{
    if (uc->state == XG_UC_CLOSED || uc->codec == NULL)
        return;
    serve_queue(p, uc);
    if (uc->state == XG_UC_CLOSED)
        return;
    bool done = spent(p, uc);
    if (uc->n_streams == 0 && (done || (p->draining && p->n_pending == 0))) {
        uint32_t max = p->host->cluster->cfg->http.max_requests_per_connection;
        if (max > 0 && uc->served >= max)
            p->host->cluster->stats.upstream_cx_max_requests++;
        xg__uc_close(uc, XG_UPSTREAM_CONN_TERMINATION, false);
        return;
    }
    if (done || p->draining || xg_codec_capacity(uc->codec) == 0) {
        uc->state = XG_UC_BUSY;
        move_to(&p->busy, uc);
        idle_limit(p);
        return;
    }
    if (uc->n_streams == 0 && uc->list != &p->ready && uc->proto == XG_PROTO_HTTP1 && p->ready.n >= idle_limit(p)) {
        xg__uc_close(uc, XG_UPSTREAM_CONN_TERMINATION, false); /* enough idle connections already */
        return;
    }
    uc->state = XG_UC_READY;
    move_to(&p->ready, uc);
    if (uc->n_streams == 0)
        xg_conn_set_idle_timeout(uc->conn, xg__uc_idle_timeout(uc));
}

void xg__pool_dispatch(xg_pool *p)
{
    xg_upconn *next;
    for (xg_upconn *uc = p->ready.head; uc != NULL && p->n_pending > 0; uc = next) {
        next = uc->next;
        xg__pool_settle(p, uc);
    }
    ensure_connections(p);
}

void xg__pool_drain(xg_pool *p)
{
    if (p->draining)
        return;
    p->draining = true;
    xg_upconn *next;
    for (xg_upconn *uc = p->ready.head; uc != NULL; uc = next) {
        next = uc->next;
        xg__pool_settle(p, uc);
    }
    for (xg_upconn *uc = p->connecting.head; uc != NULL && p->n_pending == 0; uc = next) {
        next = uc->next;
        xg__uc_close(uc, XG_UPSTREAM_CONN_TERMINATION, true);
    }
    xg__pool_maybe_free(p);
}

/* --- the cluster layer's hooks --- */

static void on_host_removed(void *arg, xg_host *h)
{
    xg_pool *next;
    for (xg_pool *p = h->pools; p != NULL; p = next) {
        next = p->next;
        xg__pool_drain(p);
    }
}

static void on_conn_changed(void *arg, xg_cluster_rt *rt)
{
    for (uint32_t i = 0; rt->tab != NULL && i <= rt->tab_mask; i++) {
        xg_host *h = rt->tab[i];
        xg_pool *next;
        for (xg_pool *p = h != NULL ? h->pools : NULL; p != NULL; p = next) {
            next = p->next;
            if (p->conn_gen != rt->conn_gen)
                xg__pool_drain(p);
        }
    }
}

void xg_upstream_cluster_hooks(xg_clusters_opts *o)
{
    o->hooks.host_removed = on_host_removed;
    o->hooks.conn_changed = on_conn_changed;
    o->hooks_arg = NULL;
}
