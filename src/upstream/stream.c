/* Upstream requests as the router sees them (upstream.h): start (host pick,
 * pool, headers), request body and trailers (staged while connecting, then
 * through the codec), response events up to the router, back-pressure both
 * ways, cancel and failure. Also the upstream side of the H1<->H2 rules and
 * the reset reasons' flags, details and statuses. */
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "upstream/auto_sni.h"
#include "upstream/breaker.h"
#include "upstream/outlier_report.h"
#include "upstream/pool.h"
#include "upstream/resp_flags.h"

/* --- reasons --- */

uint32_t xg_upstream_reset_flag(xg_upstream_reset r)
{
    switch (r) {
    case XG_UPSTREAM_NO_HEALTHY_HOST:
        return XG_RF_UH;
    case XG_UPSTREAM_OVERFLOW:
        return XG_RF_UO;
    case XG_UPSTREAM_CONNECT_FAILURE:
    case XG_UPSTREAM_CONNECT_TIMEOUT:
        return XG_RF_UF;
    case XG_UPSTREAM_CONN_TERMINATION:
        return XG_RF_UC;
    case XG_UPSTREAM_REMOTE_RESET:
    case XG_UPSTREAM_REFUSED:
        return XG_RF_UR;
    case XG_UPSTREAM_PROTOCOL_ERROR:
        return XG_RF_UPE;
    default:
        return XG_RF_LR;
    }
}

const char *xg_upstream_reset_detail(xg_upstream_reset r, bool response_started)
{
    static const char *const before[] = {
        [XG_UPSTREAM_NO_HEALTHY_HOST] = "no_healthy_upstream",
        [XG_UPSTREAM_OVERFLOW] = "upstream_reset_before_response_started{overflow}",
        [XG_UPSTREAM_CONNECT_FAILURE] = "upstream_reset_before_response_started{connection_failure}",
        [XG_UPSTREAM_CONNECT_TIMEOUT] = "upstream_reset_before_response_started{connection_timeout}",
        [XG_UPSTREAM_CONN_TERMINATION] = "upstream_reset_before_response_started{connection_termination}",
        [XG_UPSTREAM_REMOTE_RESET] = "upstream_reset_before_response_started{remote_reset}",
        [XG_UPSTREAM_REFUSED] = "upstream_reset_before_response_started{remote_refused_stream_reset}",
        [XG_UPSTREAM_PROTOCOL_ERROR] = "upstream_reset_before_response_started{protocol_error}",
        [XG_UPSTREAM_LOCAL_RESET] = "upstream_reset_before_response_started{local_reset}",
    };
    static const char *const after[] = {
        [XG_UPSTREAM_NO_HEALTHY_HOST] = "no_healthy_upstream",
        [XG_UPSTREAM_OVERFLOW] = "upstream_reset_after_response_started{overflow}",
        [XG_UPSTREAM_CONNECT_FAILURE] = "upstream_reset_after_response_started{connection_failure}",
        [XG_UPSTREAM_CONNECT_TIMEOUT] = "upstream_reset_after_response_started{connection_timeout}",
        [XG_UPSTREAM_CONN_TERMINATION] = "upstream_reset_after_response_started{connection_termination}",
        [XG_UPSTREAM_REMOTE_RESET] = "upstream_reset_after_response_started{remote_reset}",
        [XG_UPSTREAM_REFUSED] = "upstream_reset_after_response_started{remote_refused_stream_reset}",
        [XG_UPSTREAM_PROTOCOL_ERROR] = "upstream_reset_after_response_started{protocol_error}",
        [XG_UPSTREAM_LOCAL_RESET] = "upstream_reset_after_response_started{local_reset}",
    };
    if ((unsigned)r > XG_UPSTREAM_LOCAL_RESET)
        return "upstream_reset";
    return response_started ? after[r] : before[r];
}

int xg_upstream_reset_status(xg_upstream_reset r)
{
    return r == XG_UPSTREAM_PROTOCOL_ERROR ? 502 : 503;
}

xg_upstream_reset xg__reset_from_codec(xg_reset_reason r)
{
    switch (r) {
    case XG_RESET_REFUSED:
        return XG_UPSTREAM_REFUSED;
    case XG_RESET_REMOTE:
    case XG_RESET_OVERFLOW:
        return XG_UPSTREAM_REMOTE_RESET;
    case XG_RESET_PROTOCOL:
        return XG_UPSTREAM_PROTOCOL_ERROR;
    case XG_RESET_CONN_CLOSED:
    case XG_RESET_CONN_ERROR:
        return XG_UPSTREAM_CONN_TERMINATION;
    default:
        return XG_UPSTREAM_LOCAL_RESET;
    }
}

/* --- the upstream side of the H1<->H2 rules --- */

/* Removes the headers the Connection headers name (RFC 9110 7.6.1), except
 * te and upgrade, whose own rules follow. The values are read first: removal
 * moves entries, never the bytes they point to. */
static void strip_listed(xg_headers *h)
{
    xg_hstr lists[8];
    size_t n = 0;
    for (int c = xg_headers_find_id(h, XG_HDR_CONNECTION, 0); c >= 0 && n < 8;
         c = xg_headers_find_id(h, XG_HDR_CONNECTION, c + 1))
        lists[n++] = (xg_hstr){h->v[c].value, h->v[c].value_len};
    for (uint32_t j = 0; n > 0 && j < h->n; j++) {
        const xg_header *e = &h->v[j];
        if (e->id == XG_HDR_CONNECTION || e->id == XG_HDR_TE || e->id == XG_HDR_UPGRADE)
            continue;
        for (size_t k = 0; k < n; k++) {
            if (xg_hdr_list_has(lists[k].s, lists[k].len, e->name, e->name_len)) {
                xg_headers_remove_at(h, j--);
                break;
            }
        }
    }
}

/* One pass: does any header need the rules below? (Almost never.) */
static bool needs_rules(const xg_headers *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        switch (h->v[i].id) {
        case XG_HDR_HOST:
        case XG_HDR_CONNECTION:
        case XG_HDR_KEEP_ALIVE:
        case XG_HDR_PROXY_CONNECTION:
        case XG_HDR_TRANSFER_ENCODING:
        case XG_HDR_HTTP2_SETTINGS:
        case XG_HDR_UPGRADE:
        case XG_HDR_TE:
            return true;
        default:
            break;
        }
    }
    return false;
}

static int set_scheme(xg_headers *h, bool tls)
{
    if (h->scheme.len > 0)
        return 0;
    return tls ? xg_headers_set_field(h, &h->scheme, "https", 5) : xg_headers_set_field(h, &h->scheme, "http", 4);
}

int xg__req_prepare_headers(xg_headers *h, xg_codec_proto proto, bool tls)
{
    if (!needs_rules(h))
        return set_scheme(h, tls);
    const xg_header *host = xg_headers_get_id(h, XG_HDR_HOST);
    int rc = 0;
    if (h->authority.len == 0 && host != NULL)
        rc = xg_headers_set_field(h, &h->authority, host->value, host->value_len);
    strip_listed(h);
    int t = xg_headers_find_id(h, XG_HDR_TE, 0);
    bool trailers = false;
    for (; t >= 0; t = xg_headers_find_id(h, XG_HDR_TE, t + 1))
        trailers = trailers || xg_hdr_list_has(h->v[t].value, h->v[t].value_len, "trailers", 8);
    /* Host: HTTP/1 writes Host from :authority; HTTP/2 sends only
     * :authority. An upgrade the downstream side let through goes to an
     * HTTP/1 upstream as one; HTTP/2 has no Upgrade. */
    xg_headers_remove_ids(h, XG_HDR_BIT(XG_HDR_HOST) | XG_HDR_BIT(XG_HDR_CONNECTION) | XG_HDR_BIT(XG_HDR_KEEP_ALIVE) |
                                 XG_HDR_BIT(XG_HDR_PROXY_CONNECTION) | XG_HDR_BIT(XG_HDR_TRANSFER_ENCODING) |
                                 XG_HDR_BIT(XG_HDR_HTTP2_SETTINGS) | XG_HDR_BIT(XG_HDR_TE) |
                                 (proto != XG_PROTO_HTTP1 ? XG_HDR_BIT(XG_HDR_UPGRADE) : 0));
    if (rc == 0 && trailers)
        rc = xg_headers_add_ref(h, "te", 2, "trailers", 8);
    return rc != 0 ? rc : set_scheme(h, tls);
}

/* --- ending a request --- */

/* Ends r's ties to its pool and staging. The host reference stays until
 * release_host: the terminal callback may still ask for the host. */
static void detach(xg_upstream_req *r)
{
    xg__req_uncount(r);
    r->done = true;
    r->pool = NULL;
    xg_buf_dispose(&r->body);
}

/* After the terminal callback returned (the router frees nothing inside a
 * callback, so r is still there). */
static void release_host(xg_upstream_req *r)
{
    xg_host *h = r->host;
    r->host = NULL;
    if (h != NULL) {
        h->active_requests--;
        xg_host_unref(h);
    }
}

static void release(xg_upstream_req *r)
{
    detach(r);
    release_host(r);
}

/* The response is complete: r leaves its stream. A request still sending
 * (the upstream answered early) has its stream reset, as Envoy does. */
static void complete(xg_upstream_req *r)
{
    xg_ustream *st = r->st;
    r->st = NULL;
    if (st != NULL) {
        st->r = NULL;
        if (!r->out_end)
            xg__uc_reset_stream(st);
    }
    detach(r);
}

/* A request the server refused unprocessed and that has no body goes to a
 * fresh connection once (GOAWAY races, REFUSED_STREAM). */
static bool requeue(xg_upstream_req *r, xg_upstream_reset reason)
{
    if (reason != XG_UPSTREAM_REFUSED || !r->end_stream || r->response_started || r->retried || r->host->removed)
        return false;
    xg_cluster_rt *rt = r->host->cluster;
    struct xg_tls_client *tls;
    if (xg_auto_sni_tls(rt, r->headers, &tls) != 0)
        return false;
    xg_pool *p = xg__pool_get_prio(r->host, rt->cfg->http.protocol, r->pool->downstream, tls, r->priority);
    r->retried = true;
    return p != NULL && xg__pool_attach(p, r) == 0;
}

void xg__req_fail(xg_upstream_req *r, xg_upstream_reset reason)
{
    if (r->done)
        return;
    XG_ASSERT(r->st == NULL);
    if (r->pending && r->pool != NULL)
        xg__pool_unqueue(r->pool, r);
    xg__req_uncount(r); /* its stream is gone; a requeued request counts again on its new one */
    if (requeue(r, reason))
        return;
    xg_outlier_put_reset(r->host, reason);
    if (r->pool != NULL && r->pool->failure[0] != '\0')
        r->failure = xg_arena_strdup(r->arena, r->pool->failure); /* NULL on ENOMEM: no reason given */
    xg_cluster_stats *stats = &r->host->cluster->stats;
    if (reason == XG_UPSTREAM_REMOTE_RESET || reason == XG_UPSTREAM_REFUSED)
        stats->upstream_rq_rx_reset++;
    detach(r);
    r->cb->on_reset(r->user, reason, r->response_started);
    release_host(r);
}

void xg__req_uncount(xg_upstream_req *r)
{
    if (!r->rq_counted)
        return;
    r->rq_counted = false;
    xg_breaker_dec(r->host->cluster->breaker, r->priority, XG_BR_REQUESTS);
}

/* --- response events --- */

void xg__req_on_headers(xg_upstream_req *r, xg_headers *h, bool end_stream)
{
    if (h->status < 200 && h->status != 101)
        return; /* 1xx: the downstream codec answers 100-continue itself */
    r->response_started = true;
    xg_outlier_put_response(r->host, h, end_stream);
    if (!end_stream) {
        r->cb->on_headers(r->user, h, false);
        return;
    }
    complete(r);
    r->cb->on_headers(r->user, h, true);
    release_host(r);
}

void xg__req_on_data(xg_upstream_req *r, const char *p, size_t n, bool end_stream)
{
    if (!end_stream) {
        r->cb->on_data(r->user, p, n, false);
        return;
    }
    complete(r);
    r->cb->on_data(r->user, p, n, true);
    release_host(r);
}

void xg__req_on_trailers(xg_upstream_req *r, xg_headers *t)
{
    complete(r);
    r->cb->on_trailers(r->user, t);
    release_host(r);
}

void xg__req_on_send_ready(xg_upstream_req *r)
{
    r->blocked = false;
    if (r->cb->on_send_ready != NULL)
        r->cb->on_send_ready(r->user);
}

/* --- the router's calls --- */

/* The process-wide breaker counts of rt's cluster, bound on first use (a
 * mutex, once per cluster and worker); NULL on ENOMEM: then nothing limits. */
static void bind_breaker(xg_cluster_rt *rt)
{
    if (rt->breaker != NULL)
        return;
    rt->breaker = xg_breaker_get(rt->name);
    rt->breaker_release = xg_breaker_unref;
}

/* The balancer's pick, picked again while the caller rejects it (previous
 * hosts), at most host_selection_retries more times. */
static xg_host *pick(const xg_upstream_params *prm)
{
    xg_lb_ctx ctx = prm->lb;
    xg_host *h = xg_cluster_pick(prm->cluster, &ctx);
    for (uint32_t i = 0; h != NULL && prm->reject_host != NULL && i < prm->host_selection_retries; i++) {
        if (!prm->reject_host(prm->user, h))
            break;
        ctx.attempt = i + 1; /* ring hash and Maglev move away from the hashed host (lb.h) */
        h = xg_cluster_pick(prm->cluster, &ctx);
    }
    return h;
}

int xg_upstream_request_start(const xg_upstream_params *prm, xg_upstream_req **out, xg_upstream_reset *why)
{
    xg_cluster_rt *rt = prm->cluster;
    rt->stats.upstream_rq_total++;
    *why = XG_UPSTREAM_LOCAL_RESET;
    bind_breaker(rt);
    int prio = prm->priority == XG_PRIORITY_HIGH ? XG_PRIORITY_HIGH : XG_PRIORITY_DEFAULT;
    xg_host *h = pick(prm);
    if (h == NULL) {
        rt->stats.upstream_cx_none_healthy++;
        *why = XG_UPSTREAM_NO_HEALTHY_HOST;
        return XG_ENOENT;
    }
    if (rt->cfg->tls != NULL && rt->tls == NULL) {
        *why = XG_UPSTREAM_CONNECT_FAILURE; /* the TLS context could not be built (logged at reconcile) */
        return XG_EIO;
    }
    int rc = prm->on_host != NULL ? prm->on_host(prm->user, h, prm->headers) : 0;
    struct xg_tls_client *tls = NULL;
    if (rc == 0)
        rc = xg_auto_sni_tls(rt, prm->headers, &tls); /* after on_host: the host as it goes upstream */
    if (rc != 0)
        return rc;
    xg_upstream_req *r = xg_arena_alloc(prm->arena, sizeof *r);
    xg_pool *p = r != NULL ? xg__pool_get_prio(h, rt->cfg->http.protocol, prm->downstream_proto, tls, prio) : NULL;
    if (p == NULL)
        return XG_ENOMEM;
    r->host = h;
    r->priority = prio;
    r->cb = prm->cb;
    r->user = prm->user;
    r->arena = prm->arena;
    r->headers = prm->headers;
    r->end_stream = r->out_end = prm->end_stream;
    xg_buf_init(&r->body);
    xg_host_ref(h);
    h->active_requests++;
    rc = xg__pool_attach(p, r);
    if (rc != 0) {
        release(r);
        if (rc == XG_EAGAIN) {
            rt->stats.upstream_rq_pending_overflow++;
            *why = XG_UPSTREAM_OVERFLOW;
        }
        return rc;
    }
    *out = r;
    return 0;
}

void xg__req_flush_staged(xg_upstream_req *r)
{
    xg_upconn *uc = r->st->uc;
    int rc = 0;
    if (r->body.len > 0) /* an end without bytes went with the headers */
        rc = xg_codec_send_data(uc->codec, r->st->sid, r->body.data, r->body.len, r->out_end && r->trailers == NULL);
    if (rc == 0 && r->trailers != NULL)
        rc = xg_codec_send_trailers(uc->codec, r->st->sid, r->trailers);
    xg_buf_dispose(&r->body);
    r->trailers = NULL;
    if (rc != 0) {
        xg_ustream *st = r->st;
        r->st = NULL;
        st->r = NULL;
        xg__uc_reset_stream(st);
        xg__req_fail(r, XG_UPSTREAM_LOCAL_RESET);
        return;
    }
    if (r->blocked && xg_codec_pending(uc->codec, r->st->sid) < XG_UPSTREAM_SEND_LIMIT)
        xg__req_on_send_ready(r);
}

int xg_upstream_send_data(xg_upstream_req *r, const void *p, size_t n, bool end_stream)
{
    if (r->done || r->out_end)
        return XG_EINVAL;
    r->out_end = end_stream;
    if (r->st != NULL) {
        xg_upconn *uc = r->st->uc;
        int rc = xg_codec_send_data(uc->codec, r->st->sid, p, n, end_stream);
        xg__uc_kick(uc);
        return rc;
    }
    int rc = xg_buf_append(&r->body, p, n);
    if (r->body.len >= XG_UPSTREAM_SEND_LIMIT)
        r->blocked = true;
    return rc;
}

int xg_upstream_send_trailers(xg_upstream_req *r, const xg_headers *t)
{
    if (r->done || r->out_end)
        return XG_EINVAL;
    r->out_end = true;
    if (r->st == NULL) {
        r->trailers = t;
        return 0;
    }
    xg_upconn *uc = r->st->uc;
    int rc = xg_codec_send_trailers(uc->codec, r->st->sid, t);
    xg__uc_kick(uc);
    return rc;
}

bool xg_upstream_send_blocked(const xg_upstream_req *r)
{
    return xg_upstream_request_buffered(r) >= XG_UPSTREAM_SEND_LIMIT;
}

size_t xg_upstream_request_buffered(const xg_upstream_req *r)
{
    if (r->done)
        return 0;
    if (r->st == NULL)
        return r->body.len;
    return xg_codec_pending(r->st->uc->codec, r->st->sid);
}

void xg_upstream_consumed(xg_upstream_req *r, size_t n)
{
    if (r->st == NULL || n == 0)
        return;
    xg_upconn *uc = r->st->uc;
    xg_codec_consumed(uc->codec, r->st->sid, n);
    xg__uc_kick(uc); /* input the codec refused may be taken now */
}

void xg_upstream_cancel(xg_upstream_req *r)
{
    if (r->done)
        return;
    if (r->pending)
        xg__pool_unqueue(r->pool, r);
    xg_ustream *st = r->st;
    r->st = NULL;
    if (st != NULL) {
        st->r = NULL;
        xg__uc_reset_stream(st);
    }
    r->host->cluster->stats.upstream_rq_tx_reset++;
    release(r);
}

xg_host *xg_upstream_request_host(const xg_upstream_req *r)
{
    return r->host;
}

const char *xg_upstream_request_failure(const xg_upstream_req *r)
{
    return r->failure;
}

bool xg_upstream_request_sent(const xg_upstream_req *r)
{
    return r->sent;
}
