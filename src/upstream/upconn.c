/* One upstream connection of a pool: connect (net/connect.h, TLS and ALPN
 * included), the client codec for the negotiated protocol, and the pump that
 * moves bytes between the socket and the codec: codec output goes out with
 * writev (nothing copied unless the socket is full: then the codec keeps it
 * and send back-pressure applies), input is fed as far as the codec takes it
 * (a full response window stops reading). Work the router triggers (sending
 * body, consuming response bytes, cancelling) only marks the connection: the
 * pump runs from the loop, at the end of the same pass (after its other
 * events), so no callback ever runs inside a router call and one writev
 * carries everything queued: over HTTP/2, the requests of every downstream
 * connection read in that pass. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "net/connect.h"
#include "upstream/breaker.h"
#include "upstream/pool.h"

static const xg_conn_cbs conn_cbs;

static double idle_timeout_s(const xg_pool *p)
{
    return (double)p->host->cluster->cfg->http.idle_timeout_ms / 1000.0;
}

/* --- stream slots --- */

static xg_ustream *slot_get(xg_upconn *uc)
{
    xg_ustream *st = uc->spare;
    if (st != NULL)
        uc->spare = st->next;
    else if ((st = malloc(sizeof *st)) == NULL)
        return NULL;
    memset(st, 0, sizeof *st);
    st->uc = uc;
    return st;
}

static void slot_link(xg_upconn *uc, xg_ustream *st)
{
    st->prev = NULL;
    st->next = uc->active;
    if (uc->active != NULL)
        uc->active->prev = st;
    uc->active = st;
    uc->n_streams++;
}

/* Out of the active list, onto the spare list. */
static void slot_release(xg_upconn *uc, xg_ustream *st)
{
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        uc->active = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    uc->n_streams--;
    st->r = NULL;
    st->next = uc->spare;
    uc->spare = st;
}

/* --- the pump --- */

/* Feeds what the conn holds. Body bytes may go downstream by reference
 * (xg_conn_lend_begin), also when they were held back by a full window and
 * are fed after the read that brought them. */
static void pump_input(xg_upconn *uc)
{
    size_t len;
    xg_conn *c = uc->conn;
    xg_conn_lend_begin(c);
    for (;;) {
        const char *p = xg_conn_input(c, &len);
        if (len == 0 || !xg_codec_can_feed(uc->codec))
            break;
        size_t used = 0;
        int rc = xg_codec_feed(uc->codec, p, len, &used);
        if (uc->state == XG_UC_CLOSED)
            break;
        xg_conn_consume(c, used);
        if (rc < 0 || used == 0)
            break;
    }
    xg_conn_lend_end(c);
    if (uc->state == XG_UC_CLOSED)
        return;
    xg_conn_input(uc->conn, &len);
    if (len == 0 && xg_conn_eof(uc->conn) && !uc->eof_fed) {
        size_t used;
        uc->eof_fed = true;
        (void)xg_codec_feed(uc->codec, NULL, 0, &used);
    }
}

static void pump_output(xg_upconn *uc)
{
    struct iovec iov[16];
    while (uc->state != XG_UC_CLOSED && xg_codec_want_write(uc->codec)) {
        size_t n = xg_codec_output(uc->codec, iov, 16), total = 0, taken = 0;
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            total += iov[i].iov_len;
        if (xg_conn_writev(uc->conn, iov, (int)n, &taken) != 0)
            return; /* dead: on_close follows */
        xg_codec_output_done(uc->codec, taken);
        if (taken < total)
            break; /* on_writable follows */
    }
}

static void pump(xg_upconn *uc)
{
    if (uc->state == XG_UC_CLOSED || uc->codec == NULL || uc->conn == NULL)
        return;
    pump_input(uc);
    if (uc->state == XG_UC_CLOSED)
        return;
    pump_output(uc);
    if (uc->state == XG_UC_CLOSED)
        return;
    if (xg_codec_should_close(uc->codec) && !xg_codec_want_write(uc->codec)) {
        xg__uc_close(uc, XG_UPSTREAM_CONN_TERMINATION, false);
        return;
    }
    xg__pool_settle(uc->pool, uc);
}

/* The kick watcher is never started: ev_feed_event queues it for this pass,
 * at the lowest priority, so it runs once the pass's other events are done. */
static void on_kick(struct ev_loop *ev, ev_check *w, int revents)
{
    pump(w->data);
}

void xg__uc_kick(xg_upconn *uc)
{
    if (uc->state != XG_UC_CLOSED && uc->codec != NULL)
        ev_feed_event(uc->pool->loop->ev, &uc->kick, EV_CUSTOM);
}

/* --- connection events --- */

static void on_read(xg_conn *c, void *owner, size_t n)
{
    pump(owner);
}

static void on_writable(xg_conn *c, void *owner)
{
    pump(owner);
}

static void on_close(xg_conn *c, void *owner, xg_conn_reason why)
{
    xg_upconn *uc = owner;
    xg_cluster_stats *stats = &uc->pool->host->cluster->stats;
    if (why == XG_CONN_IDLE_TIMEOUT)
        stats->upstream_cx_idle_timeout++;
    else
        stats->upstream_cx_destroy_remote++;
    uc->conn = NULL; /* gone once this returns */
    xg__uc_close(uc, XG_UPSTREAM_CONN_TERMINATION, true);
}

static const xg_conn_cbs conn_cbs = {
    .on_read = on_read,
    .on_writable = on_writable,
    .on_close = on_close,
};

/* --- the codec's callbacks (owner = uc, user = the stream slot) --- */

static void c_headers(void *owner, void *user, uint32_t sid, xg_headers *h, bool end_stream)
{
    xg_ustream *st = user;
    if (st->r != NULL)
        xg__req_on_headers(st->r, h, end_stream);
}

static void c_data(void *owner, void *user, uint32_t sid, const char *p, size_t n, bool end_stream)
{
    xg_ustream *st = user;
    xg_upconn *uc = owner;
    if (st->r != NULL)
        xg__req_on_data(st->r, p, n, end_stream);
    else if (n > 0)
        xg_codec_consumed(uc->codec, sid, n); /* nobody reads it: keep the windows open */
}

static void c_trailers(void *owner, void *user, uint32_t sid, xg_headers *t)
{
    xg_ustream *st = user;
    if (st->r != NULL)
        xg__req_on_trailers(st->r, t);
}

static void c_close(void *owner, void *user, uint32_t sid)
{
    xg_ustream *st = user;
    xg_upstream_req *r = st->r;
    slot_release(owner, st);
    if (r != NULL) { /* closed before the response ended: cannot happen with a sane codec */
        r->st = NULL;
        xg__req_fail(r, XG_UPSTREAM_CONN_TERMINATION);
    }
}

static void c_reset(void *owner, void *user, uint32_t sid, xg_reset_reason why)
{
    xg_ustream *st = user;
    xg_upstream_req *r = st->r;
    slot_release(owner, st);
    if (r != NULL) {
        r->st = NULL;
        xg__req_fail(r, xg__reset_from_codec(why));
    }
}

static void c_goaway(void *owner, uint32_t last_sid, uint32_t error_code)
{
    xg_upconn *uc = owner;
    uc->goaway = true;
    xg__uc_kick(uc); /* settle: out of the ready list, closed once its streams end */
}

static void c_error(void *owner, void *user, uint32_t sid, xg_codec_err kind, const char *detail)
{
    xg_upconn *uc = owner;
    xg_log_debug("upstream %s: %s (%s)", uc->pool->host->addr_str, xg_codec_err_name(kind), detail);
}

static void c_send_ready(void *owner, void *user, uint32_t sid)
{
    xg_ustream *st = user;
    if (st->r != NULL)
        xg__req_on_send_ready(st->r);
}

static const xg_codec_cbs codec_cbs = {
    .on_headers = c_headers,
    .on_data = c_data,
    .on_trailers = c_trailers,
    .on_stream_close = c_close,
    .on_stream_reset = c_reset,
    .on_goaway = c_goaway,
    .on_error = c_error,
    .on_send_ready = c_send_ready,
};

/* --- connecting --- */

static void codec_opts(const xg_cluster *cfg, xg_codec_opts *o)
{
    const xg_h2_options *h2 = &cfg->http.h2;
    xg_codec_opts_init(o);
    o->send_buffer_limit = XG_UPSTREAM_SEND_LIMIT;
    o->enable_trailers = true;
    if (cfg->http.max_headers_count > 0)
        o->max_headers_count = cfg->http.max_headers_count;
    if (h2->max_concurrent_streams > 0)
        o->max_concurrent_streams = h2->max_concurrent_streams;
    if (h2->initial_stream_window_size > 0)
        o->stream_window = h2->initial_stream_window_size;
    if (h2->initial_connection_window_size > 0)
        o->conn_window = h2->initial_connection_window_size;
    if (h2->has_hpack_table_size)
        o->hpack_table_size = h2->hpack_table_size;
    /* The cluster's HTTP/2 flood limits, each only when set (0: the codec's Envoy default). */
    if (h2->max_outbound_frames > 0)
        o->max_outbound_frames = h2->max_outbound_frames;
    if (h2->max_outbound_control_frames > 0)
        o->max_outbound_control_frames = h2->max_outbound_control_frames;
    if (h2->max_consecutive_inbound_frames_with_empty_payload > 0)
        o->max_empty_frames = h2->max_consecutive_inbound_frames_with_empty_payload;
    if (h2->max_inbound_priority_frames_per_stream > 0)
        o->max_priority_per_stream = h2->max_inbound_priority_frames_per_stream;
    if (h2->max_inbound_window_update_frames_per_data_frame_sent > 0)
        o->max_window_updates_per_data = h2->max_inbound_window_update_frames_per_data_frame_sent;
}

/* AUTO over TLS: the protocol the server chose by ALPN. */
static xg_codec_proto negotiated(xg_upconn *uc)
{
    size_t n = 0;
    const char *alpn = xg_conn_alpn(uc->conn, &n);
    if (uc->pool->want != XG_UPSTREAM_AUTO || uc->pool->tls == NULL)
        return uc->proto;
    return (alpn != NULL && n == 2 && memcmp(alpn, "h2", 2) == 0) ? XG_PROTO_HTTP2 : XG_PROTO_HTTP1;
}

static int make_codec(xg_upconn *uc)
{
    xg_codec_opts o;
    codec_opts(uc->pool->host->cluster->cfg, &o);
    uc->proto = negotiated(uc);
    uc->pool->proto = uc->proto;
    return uc->proto == XG_PROTO_HTTP2 ? xg_http2_client_new(&uc->codec, &o, &codec_cbs, uc)
                                       : xg_http1_client_new(&uc->codec, &o, &codec_cbs, uc);
}

/* max_connection_duration: no new stream; settle closes it once idle. */
static void on_age(struct ev_loop *ev, ev_timer *w, int revents)
{
    xg_upconn *uc = w->data;
    uc->expired = true;
    uc->pool->host->cluster->stats.upstream_cx_max_duration_reached++;
    xg__uc_kick(uc);
}

static void start_age(xg_upconn *uc)
{
    int64_t ms = uc->pool->host->cluster->cfg->http.max_connection_duration_ms;
    if (ms <= 0)
        return;
    ev_timer_init(&uc->age, on_age, (double)ms / 1000.0, 0);
    uc->age.data = uc;
    ev_timer_start(uc->pool->loop->ev, &uc->age);
}

static void on_connected(xg_conn *c, int status, void *arg)
{
    xg_upconn *uc = arg;
    xg_cluster_stats *stats = &uc->pool->host->cluster->stats;
    snprintf(uc->pool->failure, sizeof uc->pool->failure, "%s", status == -EPROTO ? xg_connect_failure(uc->cx) : "");
    uc->cx = NULL;
    if (status == 0) {
        uc->conn = c;
        xg_conn_set_owner(c, &conn_cbs, uc);
        status = make_codec(uc);
    }
    if (status != 0) {
        stats->upstream_cx_connect_fail++;
        if (status == -ETIMEDOUT)
            stats->upstream_cx_connect_timeout++;
        xg_pool *p = uc->pool;
        xg_log_debug("upstream %s: connect failed: %s%s%s", p->host->addr_str, xg_strerror(status),
                     p->failure[0] ? ": " : "", p->failure);
        xg__uc_close(uc, status == -ETIMEDOUT ? XG_UPSTREAM_CONNECT_TIMEOUT : XG_UPSTREAM_CONNECT_FAILURE, true);
        p->failure[0] = '\0'; /* p is freed at the end of the pass at the earliest */
        return;
    }
    uc->state = XG_UC_BUSY; /* settle puts it where it belongs and serves the queue */
    start_age(uc);
    xg__pool_settle(uc->pool, uc);
    xg__uc_kick(uc); /* HTTP/2: the preface and SETTINGS go out now */
}

/* A socket could not even be made: reported from the loop like any failure. */
static void on_early_failure(struct ev_loop *ev, ev_check *w, int revents)
{
    xg_upconn *uc = w->data;
    if (uc->state == XG_UC_CONNECTING)
        on_connected(NULL, -EMFILE, uc);
}

static const uint8_t *alpn_for(const xg_pool *p, size_t *len)
{
    static const uint8_t h2[] = "\x02h2", h1[] = "\x08http/1.1", both[] = "\x02h2\x08http/1.1";
    const uint8_t *v = p->want == XG_UPSTREAM_AUTO ? both : p->proto == XG_PROTO_HTTP2 ? h2 : h1;
    *len = v == both ? sizeof both - 1 : v == h2 ? sizeof h2 - 1 : sizeof h1 - 1;
    return v;
}

xg_upconn *xg__uc_new(xg_pool *p)
{
    xg_upconn *uc = calloc(1, sizeof *uc);
    if (uc == NULL)
        return NULL;
    const xg_host *h = p->host;
    uc->pool = p;
    uc->proto = p->proto;
    uc->state = XG_UC_CONNECTING;
    ev_check_init(&uc->kick, on_kick);
    ev_set_priority(&uc->kick, EV_MINPRI);
    uc->kick.data = uc;
    xg__uc_list_add(&p->connecting, uc);
    p->cx_total++;
    h->cluster->stats.upstream_cx_total++;
    xg_connect_opts o = {.timeout = (double)h->cluster->cfg->connect_timeout_ms / 1000.0, .tls = p->tls};
    if (p->tls != NULL) {
        o.sni = xg_tls_client_sni(p->tls);
        o.alpn = alpn_for(p, &o.alpn_len);
    }
    if (xg_connect_start(p->loop, (const struct sockaddr *)&h->addr, h->addrlen, &o, on_connected, uc, &uc->cx) != 0) {
        ev_set_cb(&uc->kick, on_early_failure);
        ev_feed_event(p->loop->ev, &uc->kick, EV_CUSTOM);
    }
    return uc;
}

/* --- streams and closing --- */

int xg__uc_open_stream(xg_upconn *uc, xg_upstream_req *r)
{
    xg_ustream *st = slot_get(uc);
    if (st == NULL)
        return XG_ENOMEM;
    int rc = xg__req_prepare_headers(r->headers, uc->proto, uc->pool->tls != NULL);
    bool end = r->end_stream || (r->out_end && r->body.len == 0 && r->trailers == NULL);
    if (rc == 0)
        rc = xg_codec_send_request(uc->codec, st, r->arena, r->headers, end, &st->sid);
    if (rc != 0) {
        st->next = uc->spare;
        uc->spare = st;
        return rc;
    }
    st->r = r;
    slot_link(uc, st);
    uc->served++;
    r->st = st;
    r->sent = true;
    if (uc->n_streams == 1)
        xg_conn_set_idle_timeout(uc->conn, 0);
    xg__req_flush_staged(r);
    xg__uc_kick(uc);
    return 0;
}

void xg__uc_reset_stream(xg_ustream *st)
{
    xg_upconn *uc = st->uc;
    if (uc->codec != NULL)
        xg_codec_reset(uc->codec, st->sid, XG_RESET_LOCAL);
    slot_release(uc, st);
    xg__uc_kick(uc);
}

static void uc_free(xg_deferred *d)
{
    xg_upconn *uc = (xg_upconn *)((char *)d - offsetof(xg_upconn, deferred));
    XG_ASSERT(uc->active == NULL);
    xg_codec_free(uc->codec);
    while (uc->spare != NULL) {
        xg_ustream *st = uc->spare;
        uc->spare = st->next;
        free(st);
    }
    free(uc);
}

/* A clean close: HTTP/2 says GOAWAY first; whatever the codec still has
 * goes into the conn's queue, which a flushing close writes out. */
static void close_conn(xg_upconn *uc, bool abort)
{
    if (!abort && uc->codec != NULL) {
        struct iovec iov[16];
        if (uc->proto == XG_PROTO_HTTP2)
            xg_codec_goaway(uc->codec, XG_GOAWAY_FINAL);
        size_t n;
        while ((n = xg_codec_output(uc->codec, iov, 16)) > 0) {
            size_t total = 0;
            for (size_t i = 0; i < n; i++)
                total += iov[i].iov_len;
            for (size_t i = 0; i < n; i++)
                if (xg_conn_send(uc->conn, iov[i].iov_base, iov[i].iov_len) != 0)
                    abort = true;
            xg_codec_output_done(uc->codec, total);
            if (abort)
                break;
        }
    }
    xg_conn_close(uc->conn, abort ? XG_CLOSE_ABORT : XG_CLOSE_FLUSH);
    uc->conn = NULL;
}

/* Fails every request queued in p (a connection attempt failed). The queue
 * is taken whole first: a callback may queue a new request (a retry). */
static void purge_pending(xg_pool *p, xg_upstream_reset reason)
{
    xg_upstream_req *r = p->pend_head;
    p->pend_head = p->pend_tail = NULL;
    p->n_pending = 0;
    while (r != NULL) {
        xg_upstream_req *next = r->next;
        r->pending = false;
        r->prev = r->next = NULL;
        if (r->pending_counted)
            xg_breaker_dec(p->host->cluster->breaker, p->priority, XG_BR_PENDING);
        r->pending_counted = false;
        xg__req_fail(r, reason);
        r = next;
    }
}

void xg__uc_close(xg_upconn *uc, xg_upstream_reset reason, bool abort)
{
    if (uc->state == XG_UC_CLOSED)
        return;
    xg_pool *p = uc->pool;
    bool never_ready = uc->codec == NULL;
    xg__uc_list_del(uc);
    uc->state = XG_UC_CLOSED;
    ev_timer_stop(p->loop->ev, &uc->age);
    if (uc->cx_counted)
        xg_breaker_dec(p->host->cluster->breaker, p->priority, XG_BR_CONNECTIONS);
    uc->cx_counted = false;
    ev_clear_pending(p->loop->ev, &uc->kick);
    xg_connect_cancel(uc->cx);
    uc->cx = NULL;
    if (uc->conn != NULL)
        close_conn(uc, abort);
    while (uc->active != NULL) {
        xg_ustream *st = uc->active;
        xg_upstream_req *r = st->r;
        slot_release(uc, st);
        if (r != NULL) {
            r->st = NULL;
            xg__req_fail(r, reason);
        }
    }
    if (never_ready)
        purge_pending(p, reason); /* Envoy's rule: a failed connect fails the whole queue, no reconnect storm */
    xg_loop_defer(p->loop, &uc->deferred, uc_free);
    if (p->n_pending > 0)
        xg__pool_dispatch(p);
    xg__pool_maybe_free(p);
}

double xg__uc_idle_timeout(const xg_upconn *uc)
{
    return idle_timeout_s(uc->pool);
}
