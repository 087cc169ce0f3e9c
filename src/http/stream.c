/* Stream life cycle: creation on the codec's stream begin, the request
 * headers (snapshot pin, route config, the connection manager's request
 * handling, routing, upgrade check, filter chain), body and trailers, the
 * response's way to the codec, local replies and resets, the stream timers
 * (request_headers_timeout, request_timeout, stream idle, max stream
 * duration, the router's route timeout) on one libev timer, and teardown
 * (filters destroyed, pin released, memory freed at the end of the pass). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/snapshot_publish.h"
#include "core/error.h"
#include "core/log.h"
#include "http/hcm_int.h"
#include "net/worker_listeners.h"
#include "router/header_mutation.h"
#include "router/route_action.h"
#include "router/route_match.h"
#include "router/route_timeout.h"
#include "upstream/resp_flags.h"

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents);
static void reply(xg_stream *s, int from, int status, const char *body, uint32_t flags, const char *details,
                  xg_hstr location);

static double now_of(const xg_stream *s)
{
    return ev_now(s->hc->loop->ev);
}

/* --- accessors (stream.h) --- */

/* The conn's address while it lives, then the hconn's copy; NULL when
 * unknown (family 0). */
static const struct sockaddr *addr_of(const xg_hconn *hc, bool local)
{
    const struct sockaddr *sa = NULL;
    if (hc->conn != NULL)
        sa = local ? &hc->conn->local.sa : &hc->conn->peer.sa;
    else if (hc->gone != NULL)
        sa = local ? &hc->gone->local.sa : &hc->gone->peer.sa;
    return sa != NULL && sa->sa_family != 0 ? sa : NULL;
}

const struct sockaddr *xg_stream_peer(const xg_stream *s)
{
    return addr_of(s->hc, false);
}

const struct sockaddr *xg_stream_local(const xg_stream *s)
{
    return addr_of(s->hc, true);
}

const char *xg_stream_sni(const xg_stream *s)
{
    return s->hc->conn != NULL ? xg_conn_sni(s->hc->conn) : NULL;
}

bool xg_stream_is_tls(const xg_stream *s)
{
    return s->hc->tls;
}

xg_codec_proto xg_stream_proto(const xg_stream *s)
{
    return s->hc->proto;
}

xg_loop *xg_stream_loop(const xg_stream *s)
{
    return s->hc->loop;
}

/* --- timers --- */

static double earlier(double d, double x)
{
    return x > 0 && (d == 0 || x < d) ? x : d;
}

static void rearm(xg_stream *s)
{
    struct ev_loop *ev = s->hc->loop->ev;
    double d = 0;
    if (s->req == NULL)
        d = earlier(d, s->headers_deadline);
    if (!s->req_complete)
        d = earlier(d, s->request_deadline);
    d = earlier(d, s->duration_deadline);
    d = earlier(d, s->route_deadline);
    if (s->idle_timeout > 0)
        d = earlier(d, s->t_last_activity + s->idle_timeout);
    if (s->ended) {
        ev_timer_stop(ev, &s->timer);
        return;
    }
    /* Lazily: a deadline that moved later (the route timeout cleared by the
     * response) leaves the timer as it is; on_timer re-checks and re-arms. */
    double in = d - now_of(s);
    if (d != 0)
        xg_timer_arm_lazy(ev, &s->timer, in > 0.001 ? in : 0.001);
}

void xg_stream_set_route_timeout(xg_stream *s, double seconds)
{
    s->route_deadline = seconds > 0 ? now_of(s) + seconds : 0;
    rearm(s);
}

void xg_stream_set_idle_timeout(xg_stream *s, double seconds)
{
    s->idle_timeout = seconds;
    rearm(s);
}

void xg_stream_touch(xg_stream *s)
{
    s->t_last_activity = now_of(s); /* the timer re-checks lazily when it fires */
}

static xg_filter *router_of(xg_stream *s)
{
    if (s->n_filters == 0)
        return NULL;
    xg_filter *f = s->filters[s->n_filters - 1];
    return f->config != NULL && f->config->kind == XG_HTTP_FILTER_ROUTER ? f : NULL;
}

/* Times out: before the response, a 408 local reply; after, a reset. */
static void timeout(xg_stream *s, const char *body, uint32_t flags, const char *details)
{
    if (s->resp_started)
        xg__stream_reset(s, flags, details);
    else
        reply(s, 0, 408, body, flags, details, (xg_hstr){0});
}

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    xg_stream *s = w->data;
    double now = now_of(s);
    if (s->req == NULL && s->headers_deadline > 0 && now >= s->headers_deadline) {
        s->headers_deadline = 0; /* Envoy ends this stream only (HTTP/1 closes: the request is incomplete) */
        timeout(s, "request header timeout", 0, "request_header_timeout");
    } else if (!s->req_complete && s->request_deadline > 0 && now >= s->request_deadline) {
        s->request_deadline = 0;
        timeout(s, "request timeout", 0, "request_overall_timeout");
    } else if (s->duration_deadline > 0 && now >= s->duration_deadline) {
        s->duration_deadline = 0;
        timeout(s, "downstream duration timeout", XG_RF_DT, "max_duration_timeout");
    } else if (s->route_deadline > 0 && now >= s->route_deadline) {
        s->route_deadline = 0;
        xg_filter *r = router_of(s);
        if (r != NULL)
            xg__router_on_route_timeout(r);
    } else if (s->idle_timeout > 0 && now >= s->t_last_activity + s->idle_timeout) {
        s->idle_timeout = 0;
        timeout(s, "stream timeout", XG_RF_SI, "stream_idle_timeout");
    }
    if (!s->ended)
        rearm(s);
}

/* --- life cycle --- */

/* Per-worker spare streams, each keeping one arena chunk: in the steady
 * state a request allocates nothing from malloc here. Few: every spare holds
 * ~9 KiB for good, and a burst of connections (each with a stream in flight
 * once) would otherwise leave hundreds behind; past 32 concurrent streams a
 * worker mallocs, a fraction of a microsecond against tens per request. */
#define STREAM_SPARE_MAX 32
static __thread xg_stream *spare;
static __thread unsigned n_spare;
static __thread bool no_spare; /* the thread's data plane is gone */

static xg_stream *stream_alloc(void)
{
    xg_stream *s = spare;
    if (s == NULL) {
        s = malloc(sizeof(*s));
        if (s == NULL)
            return NULL;
        xg_arena_init(&s->arena, 8192);
    } else {
        spare = s->next;
        n_spare--;
    }
    xg_arena a = s->arena;
    memset(s, 0, sizeof(*s));
    s->arena = a;
    return s;
}

void xg_hcm_thread_cleanup(void)
{
    no_spare = true;
    while (spare != NULL) {
        xg_stream *s = spare;
        spare = s->next;
        xg_arena_dispose(&s->arena);
        free(s);
    }
    n_spare = 0;
}

xg_stream *xg__stream_new(xg_hconn *hc, uint32_t sid)
{
    xg_stream *s = stream_alloc();
    if (s == NULL)
        return NULL;
    xg_buf_init(&s->dec.bytes);
    xg_buf_init(&s->enc.bytes);
    s->hc = hc;
    s->sid = sid;
    s->cfg = hc->chain->hcm;
    s->next = hc->streams;
    if (hc->streams != NULL)
        hc->streams->prev = s;
    hc->streams = s;
    hc->n_streams++;
    hc->idle_since = 0;
    double now = now_of(s);
    s->info.t_start = s->t_last_activity = now;
    s->info.proto = hc->proto;
    s->idle_timeout = s->cfg->stream_idle_timeout_ms / 1000.0;
    /* Envoy's default decoder buffer limit is the connection's buffer limit
     * (the listener's per_connection_buffer_limit_bytes; 0: none). */
    size_t wm = hc->conn != NULL ? hc->conn->wm_high : 0;
    s->dec_limit = wm == 0 || wm > UINT32_MAX ? UINT32_MAX : (uint32_t)wm;
    if (s->cfg->request_headers_timeout_ms > 0)
        s->headers_deadline = now + s->cfg->request_headers_timeout_ms / 1000.0;
    if (s->cfg->request_timeout_ms > 0)
        s->request_deadline = now + s->cfg->request_timeout_ms / 1000.0;
    if (s->cfg->max_stream_duration_ms > 0)
        s->duration_deadline = now + s->cfg->max_stream_duration_ms / 1000.0;
    ev_init(&s->timer, on_timer);
    s->timer.data = s;
    rearm(s);
    return s;
}

static void stream_free(xg_deferred *d)
{
    xg_stream *s = (xg_stream *)((char *)d - offsetof(xg_stream, deferred));
    xg__pipe_dispose(&s->dec);
    xg__pipe_dispose(&s->enc);
    if (no_spare || n_spare >= STREAM_SPARE_MAX) {
        xg_arena_dispose(&s->arena);
        free(s);
        return;
    }
    xg_arena_reset(&s->arena);
    s->next = spare;
    spare = s;
    n_spare++;
}

static void log_end(const xg_stream *s)
{
    if (!xg_log_enabled(XG_LOG_DEBUG))
        return;
    char flags[64];
    xg_resp_flags_format(s->info.flags, flags, sizeof(flags));
    const xg_headers *h = s->req;
    xg_log_debug("stream %u: %.*s %.*s -> %u %s %s cluster=%s upstream=%s %.3f ms", s->sid,
                 h != NULL ? (int)h->method.len : 1, h != NULL ? h->method.s : "-", h != NULL ? (int)h->path.len : 1,
                 h != NULL ? h->path.s : "-", s->info.status, flags, s->info.details ? s->info.details : "-",
                 s->info.cluster ? s->info.cluster : "-", s->info.upstream_host[0] ? s->info.upstream_host : "-",
                 (s->info.t_end - s->info.t_start) * 1000);
}

/* The end: filters hear on_destroy, the pin goes, the connection forgets
 * the stream; the memory goes at the end of the loop pass. */
static void teardown(xg_stream *s)
{
    if (s->ended)
        return;
    s->ended = true;
    ev_timer_stop(s->hc->loop->ev, &s->timer);
    s->info.t_end = now_of(s);
    for (uint16_t i = 0; i < s->n_filters; i++)
        if (s->filters[i]->vt->on_destroy != NULL)
            s->filters[i]->vt->on_destroy(s->filters[i]);
    log_end(s);
    xg_snap_pin_release(s->pin);
    s->pin = NULL;
    xg_loop_defer(s->hc->loop, &s->deferred, stream_free);
    xg__hconn_stream_gone(s->hc, s);
}

void xg__stream_on_codec_end(xg_stream *s, bool reset, xg_reset_reason r)
{
    s->codec_done = true;
    if (reset && !s->resp_complete) {
        s->info.flags |= r == XG_RESET_CONN_CLOSED || r == XG_RESET_CONN_ERROR ? XG_RF_DC : XG_RF_DR;
        if (s->info.details == NULL || s->resp_started)
            s->info.details = "downstream_remote_reset";
    }
    teardown(s);
}

void xg__stream_abort(xg_stream *s, uint32_t flags, const char *details)
{
    s->codec_done = true;
    if (!s->resp_complete) {
        s->info.flags |= flags;
        s->info.details = details;
    }
    teardown(s);
}

void xg__stream_reset(xg_stream *s, uint32_t flags, const char *details)
{
    if (s->ended)
        return;
    s->info.flags |= flags;
    s->info.details = details;
    if (!s->codec_done) {
        s->codec_done = true;
        xg_codec_reset(s->hc->codec, s->sid, XG_RESET_LOCAL);
    }
    teardown(s);
}

void xg__stream_consumed(xg_stream *s, size_t n)
{
    if (n > s->rx_owed)
        n = s->rx_owed;
    s->rx_owed -= (uint32_t)n;
    if (n > 0 && !s->codec_done) {
        xg_codec_consumed(s->hc->codec, s->sid, n);
        xg__hconn_pump(s->hc);
    }
}

/* The response no longer needs the request: drop what is held, give the
 * codec its window back, ignore the rest. */
static void abandon_decoding(xg_stream *s)
{
    s->dec_abandoned = true;
    s->dec.held = s->dec.held_tail = NULL;
    xg_buf_reset(&s->dec.bytes);
    xg__stream_consumed(s, s->rx_owed);
}

static void request_done(xg_stream *s)
{
    s->req_complete = true;
    s->request_deadline = 0;
    s->info.t_req_end = now_of(s);
}

/* --- the response's way to the codec --- */

/* The response ended. An HTTP/1 request still being received cannot be
 * read on cheaply: the connection closes after the response (Envoy does
 * the same). */
static void response_done(xg_stream *s)
{
    s->resp_complete = true;
    s->info.t_resp_end = now_of(s);
    s->route_deadline = 0;
    if (!s->req_complete && !s->codec_error && s->hc->proto == XG_PROTO_HTTP1 && !s->codec_done) {
        s->codec_done = true;
        xg_codec_reset(s->hc->codec, s->sid, XG_RESET_LOCAL);
        teardown(s);
    }
}

void xg__stream_sink_headers(xg_stream *s, xg_headers *h, bool end_stream)
{
    if (s->codec_done || xg__hcm_finalize_response(s, h) != 0) {
        xg__stream_reset(s, XG_RF_LR, "internal_error");
        return;
    }
    s->resp = h;
    if (h->status >= 200 || h->status == 101) {
        s->resp_started = true;
        s->info.status = h->status;
        s->info.t_resp_start = now_of(s);
    }
    xg_stream_touch(s);
    if (xg_codec_send_headers(s->hc->codec, s->sid, h, end_stream) != 0) {
        xg__stream_reset(s, XG_RF_LR, "internal_error");
        return;
    }
    if (end_stream)
        response_done(s);
    xg__hconn_pump(s->hc);
}

void xg__stream_sink_data(xg_stream *s, const char *p, size_t n, bool end_stream)
{
    if (s->codec_done)
        return;
    s->info.tx_body += n;
    xg_stream_touch(s);
    if (xg_codec_send_data(s->hc->codec, s->sid, p, n, end_stream) != 0) {
        xg__stream_reset(s, XG_RF_LR, "internal_error");
        return;
    }
    if (end_stream)
        response_done(s);
    xg__hconn_pump(s->hc);
}

void xg__stream_sink_trailers(xg_stream *s, xg_headers *t)
{
    if (s->codec_done)
        return;
    if (xg_codec_send_trailers(s->hc->codec, s->sid, t) != 0) {
        xg__stream_reset(s, XG_RF_LR, "internal_error");
        return;
    }
    response_done(s);
    xg__hconn_pump(s->hc);
}

void xg__stream_on_send_ready(xg_stream *s)
{
    for (uint16_t i = 0; i < s->n_filters && !s->ended; i++)
        if (s->filters[i]->vt->on_downstream_ready != NULL)
            s->filters[i]->vt->on_downstream_ready(s->filters[i]);
}

/* --- local replies --- */

xg_hvar_ctx xg_stream_hvar_ctx(const xg_stream *s, const struct sockaddr *upstream)
{
    const char *sni = xg_stream_sni(s);
    const xg_worker_rt *w = xg_worker_rt_self();
    const char *me = w != NULL ? w->hostname : "";
    return (xg_hvar_ctx){.hostname = {me, (uint32_t)strlen(me)},
                         .request = s->req,
                         .downstream_remote = (const struct sockaddr *)&s->remote,
                         .downstream_direct_remote = xg_stream_peer(s),
                         .downstream_local = xg_stream_local(s),
                         .upstream_remote = upstream,
                         .requested_server_name = {sni, sni != NULL ? (uint32_t)strlen(sni) : 0}};
}

static int reply_headers(xg_stream *s, int status, const char *body, xg_hstr location, xg_headers **h, const char **b,
                         size_t *blen)
{
    int rc = xg__local_reply_build(s, status, body, h, b, blen);
    if (rc == 0 && location.len > 0)
        rc = xg_headers_add_copy(*h, "location", 8, location.s, location.len);
    /* As in Envoy, every local reply once a route is chosen carries its
     * response header mutations (the weighted cluster's too, when picked). */
    if (rc == 0 && s->route != NULL && s->req != NULL) {
        xg_hvar_ctx ctx = xg_stream_hvar_ctx(s, NULL);
        rc = xg_route_finalize_response(s->rc, s->vh, s->route, s->weighted, *h, &ctx);
    }
    if (rc == 0 && s->attempt_count > 0) {
        char n[12];
        int len = snprintf(n, sizeof(n), "%u", s->attempt_count);
        rc = xg_headers_set(*h, "x-envoy-attempt-count", 21, n, (size_t)len, true);
    }
    return rc;
}

static void reply(xg_stream *s, int from, int status, const char *body, uint32_t flags, const char *details,
                  xg_hstr location)
{
    if (s->ended)
        return;
    s->info.flags |= flags;
    if (details != NULL)
        s->info.details = details;
    if (s->resp_started) {
        xg__stream_reset(s, 0, details);
        return;
    }
    if (s->reply_busy)
        return;
    s->reply_busy = true;
    abandon_decoding(s);
    xg_headers *h;
    const char *b;
    size_t blen;
    if (reply_headers(s, status, body, location, &h, &b, &blen) != 0) {
        s->reply_busy = false;
        xg__stream_reset(s, XG_RF_LR, "internal_error");
        return;
    }
    s->info.local_reply = true;
    xg__pipe_encode_headers(s, from - 1, h, blen == 0);
    if (blen > 0)
        xg__pipe_encode_data(s, from - 1, b, blen, true);
    s->reply_busy = false;
}

void xg__stream_local_reply(xg_stream *s, int from, int status, const char *body, uint32_t flags, const char *details)
{
    reply(s, from, status, body, flags, details, (xg_hstr){0});
}

void xg__stream_on_codec_error(xg_stream *s, xg_codec_err kind, const char *detail)
{
    int status = xg_codec_err_status(kind);
    s->codec_error = true;
    s->info.flags |= XG_RF_DPE;
    xg_log_debug("downstream request rejected: %s (%s)", xg_codec_err_name(kind), detail != NULL ? detail : "");
    if (status == 0 || s->resp_started || s->ended)
        return;
    reply(s, 0, status, xg__status_text(status), XG_RF_DPE, "codec_error", (xg_hstr){0});
}

/* --- the request --- */

static const xg_route_config *route_config(const xg_stream *s)
{
    if (s->cfg->routes == XG_ROUTES_INLINE)
        return s->cfg->route_config;
    if (s->snap == NULL || s->cfg->rds_name == NULL)
        return NULL;
    xg_res *r = xg_snapshot_find(s->snap, XG_RES_ROUTE_CONFIG, s->cfg->rds_name);
    return r != NULL ? r->body : NULL;
}

static bool upgrade_allowed(const xg_stream *s, const char *type, size_t len)
{
    const xg_route_forward_cold *fw = s->route->forward.cold;
    for (size_t i = 0; i < fw->n_upgrades; i++)
        if (fw->upgrades[i].type.len == len && xg_ascii_eq_nocase(fw->upgrades[i].type.s, type, len))
            return fw->upgrades[i].enabled;
    for (size_t i = 0; i < s->cfg->n_upgrades; i++)
        if (s->cfg->upgrades[i].type.len == len && xg_ascii_eq_nocase(s->cfg->upgrades[i].type.s, type, len))
            return s->cfg->upgrades[i].enabled;
    return false;
}

/* An upgrade (websocket) request on a forwarding route: allowed by the
 * route's upgrade_configs, else the HCM's; otherwise 403 as Envoy. */
static int check_upgrade(xg_stream *s, const char **details)
{
    const xg_headers *h = s->req;
    const xg_header *u = xg_headers_get_id(h, XG_HDR_UPGRADE);
    const char *type = h->protocol.len > 0 ? h->protocol.s : u != NULL ? u->value : NULL;
    size_t len = h->protocol.len > 0 ? h->protocol.len : u != NULL ? u->value_len : 0;
    if (type == NULL || s->route == NULL || s->route->action != XG_ROUTE_FORWARD)
        return 0;
    if (!upgrade_allowed(s, type, len)) {
        *details = "upgrade_failed";
        return 403;
    }
    s->is_upgrade = true;
    return 0;
}

static int create_filters(xg_stream *s)
{
    s->filters = xg_arena_calloc(&s->arena, s->cfg->n_filters + 1, sizeof(*s->filters));
    if (s->filters == NULL)
        return XG_ENOMEM;
    uint16_t k = 0;
    for (size_t i = 0; i < s->cfg->n_filters; i++) {
        const xg_http_filter *fc = &s->cfg->filters[i];
        /* Envoy: a per-route entry for the filter decides (FilterConfig
         * disabled: true turns it off, any other config turns it on), else
         * HttpFilter.disabled. The router is always there. */
        const xg_typed_config *pr = xg_typed_config_for(s->rc, s->vh, s->route, s->weighted, fc->name);
        bool off = fc->kind != XG_HTTP_FILTER_ROUTER && (pr != NULL ? pr->disables : fc->disabled);
        xg_filter_create_fn fn = off ? NULL : xg_filter_factory(fc->kind);
        if (fn == NULL)
            continue;
        xg_filter *f = fn(s, fc);
        if (f == NULL)
            return XG_ENOMEM;
        f->stream = s;
        f->config = fc;
        f->index = k;
        s->filters[k++] = f;
    }
    s->n_filters = k;
    return 0;
}

/* Everything from the headers to the filter chain. */
static void begin_request(xg_stream *s, bool end_stream)
{
    xg_worker_rt *w = xg_worker_rt_self();
    s->pin = xg_worker_pin();
    s->snap = s->pin != NULL ? s->pin->snap : NULL;
    s->rc = route_config(s);
    s->random = w != NULL ? xg_rng_next(&w->rng) : (uint64_t)(uintptr_t)s;
    const char *details = NULL;
    uint32_t flags = 0;
    xg_hstr loc = {0};
    int st = xg__hcm_prepare_request(s, &details, &loc);
    if (st == 0)
        st = xg__hcm_route(s, &details, &flags, &loc);
    if (st == 0)
        st = check_upgrade(s, &details);
    if (st == 0 && create_filters(s) != 0) {
        st = 500;
        details = "internal_error";
    }
    if (st != 0) {
        reply(s, 0, st, NULL, flags, details, loc);
        return;
    }
    if (s->route != NULL && s->route->action == XG_ROUTE_FORWARD && s->route->forward.idle_timeout_ms != XG_MS_UNSET)
        s->idle_timeout = s->route->forward.idle_timeout_ms / 1000.0;
    if (s->route != NULL && s->route->action == XG_ROUTE_FORWARD) {
        uint64_t ms; /* Envoy's refreshDurationTimeout: route, grpc-timeout, then the HCM's */
        bool on =
            xg_route_stream_duration_ms(&s->route->forward, s->cfg->max_stream_duration_ms, s->req, s->is_grpc, &ms);
        s->duration_deadline = on ? s->info.t_start + ms / 1000.0 : 0;
    }
    rearm(s);
    xg__pipe_decode_headers(s, end_stream);
}

void xg__stream_on_headers(xg_stream *s, xg_headers *h, bool end_stream)
{
    if (s->ended || s->req != NULL)
        return;
    s->info.t_req_headers = now_of(s);
    s->headers_deadline = 0;
    xg_stream_touch(s);
    s->req = h;
    s->is_head = h->method_id == XG_METHOD_HEAD;
    s->is_grpc = xg_route_is_grpc(h);
    if (end_stream)
        request_done(s);
    begin_request(s, end_stream);
}

void xg__stream_on_data(xg_stream *s, const char *p, size_t n, bool end_stream)
{
    if (s->ended)
        return;
    s->rx_owed += (uint32_t)n;
    s->info.rx_body += n;
    xg_stream_touch(s);
    if (end_stream)
        request_done(s);
    if (s->dec_abandoned || s->req == NULL) {
        xg__stream_consumed(s, s->rx_owed);
        return;
    }
    xg__pipe_decode_data(s, p, n, end_stream);
}

void xg__stream_on_trailers(xg_stream *s, xg_headers *t)
{
    if (s->ended)
        return;
    xg_stream_touch(s);
    request_done(s);
    if (!s->dec_abandoned && s->req != NULL)
        xg__pipe_decode_trailers(s, t);
}
