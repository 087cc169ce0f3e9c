/* The health checker's connection handling (connect, TLS, reuse between
 * checks, close), result delivery from the loop, and the TCP check. HTTP
 * and gRPC checks are in health_http.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "net/tls_ctx.h"
#include "upstream/health_probe_int.h"

static const xg_conn_cbs conn_cbs;

static bool is_tcp(const xg_hc_probe *p)
{
    return p->hc->kind == XG_HC_TCP;
}

bool xg_hc_probe_running(const xg_hc_probe *p)
{
    return p->running;
}

/* --- results --- */

void xg__hc_drop_conn(xg_hc_probe *p)
{
    xg_connect_cancel(p->cx);
    p->cx = NULL;
    if (p->conn != NULL)
        xg_conn_close(p->conn, XG_CLOSE_ABORT);
    p->conn = NULL;
    if (p->codec != NULL)
        xg_codec_free(p->codec);
    p->codec = NULL;
    p->stream_open = false;
    ev_clear_pending(p->loop->ev, &p->kick);
}

static void on_deliver(struct ev_loop *ev, ev_check *w, int revents)
{
    xg_hc_probe *p = w->data;
    if (p->closing)
        xg__hc_drop_conn(p);
    p->closing = false;
    p->cb(p->arg, p->result, p->detail);
}

void xg__hc_finish(xg_hc_probe *p, xg_hc_result r, const char *detail)
{
    if (!p->running)
        return;
    p->running = false;
    p->result = r;
    p->detail = detail;
    /* A failed check never reuses its connection; nor does any check without
     * reuse_connection, or a TCP connect-only check (Envoy closes it). */
    p->closing = r != XG_HC_OK || !p->hc->reuse_connection || (is_tcp(p) && p->hc->n_tcp_receive == 0) ||
                 (p->codec != NULL && xg_codec_should_close(p->codec));
    ev_feed_event(p->loop->ev, &p->deliver, EV_CUSTOM);
}

/* --- TCP --- */

/* Every receive payload in order, each after the previous one's end. */
static bool tcp_matched(const xg_hc_probe *p)
{
    const uint8_t *d = (const uint8_t *)p->rx.data;
    size_t off = 0;
    for (size_t i = 0; i < p->hc->n_tcp_receive; i++) {
        const xg_hc_payload *want = &p->hc->tcp_receive[i];
        const uint8_t *at = want->len == 0 ? d + off : memmem(d + off, p->rx.len - off, want->data, want->len);
        if (at == NULL)
            return false;
        off = (size_t)(at - d) + want->len;
    }
    return true;
}

static void tcp_send(xg_hc_probe *p)
{
    xg_buf_reset(&p->rx);
    if (p->hc->n_tcp_receive == 0) {
        xg__hc_finish(p, XG_HC_OK, "connected");
        return;
    }
    if (p->hc->tcp_send.len > 0 &&
        (xg_conn_send(p->conn, p->hc->tcp_send.data, p->hc->tcp_send.len) != 0 || xg_conn_flush(p->conn) < 0))
        xg__hc_finish(p, XG_HC_FAIL_NETWORK, "send failed");
}

static void tcp_read(xg_hc_probe *p)
{
    size_t n;
    const char *in = xg_conn_input(p->conn, &n);
    if (p->running && n > 0 && p->rx.len < XG_HC_RX_MAX) {
        size_t take = n < XG_HC_RX_MAX - p->rx.len ? n : XG_HC_RX_MAX - p->rx.len;
        if (xg_buf_append(&p->rx, in, take) != 0) {
            xg_conn_consume(p->conn, n);
            xg__hc_finish(p, XG_HC_FAIL_NETWORK, "out of memory");
            return;
        }
    }
    xg_conn_consume(p->conn, n);
    if (p->running && tcp_matched(p))
        xg__hc_finish(p, XG_HC_OK, "payload matched");
    else if (p->running && xg_conn_eof(p->conn))
        xg__hc_finish(p, XG_HC_FAIL_NETWORK, "connection closed before the expected payload");
}

/* --- the connection --- */

static void on_read(xg_conn *c, void *owner, size_t n)
{
    xg_hc_probe *p = owner;
    if (is_tcp(p))
        tcp_read(p);
    else
        xg__hc_http_pump(p);
}

static void on_writable(xg_conn *c, void *owner)
{
    xg_hc_probe *p = owner;
    if (!is_tcp(p))
        xg__hc_http_pump(p);
}

static void on_close(xg_conn *c, void *owner, xg_conn_reason why)
{
    xg_hc_probe *p = owner;
    p->conn = NULL; /* gone once this returns */
    xg__hc_drop_conn(p);
    if (p->running) {
        snprintf(p->detail_buf, sizeof p->detail_buf, "connection closed (%s)", xg_conn_reason_name(why));
        xg__hc_finish(p, XG_HC_FAIL_NETWORK, p->detail_buf);
    }
}

static const xg_conn_cbs conn_cbs = {
    .on_read = on_read,
    .on_writable = on_writable,
    .on_close = on_close,
};

static void start_check(xg_hc_probe *p)
{
    if (is_tcp(p)) {
        tcp_send(p);
        return;
    }
    int rc = xg__hc_http_start(p);
    if (rc != 0) {
        snprintf(p->detail_buf, sizeof p->detail_buf, "cannot send the request: %s", xg_strerror(rc));
        xg__hc_finish(p, XG_HC_FAIL_NETWORK, p->detail_buf);
    }
}

static void on_connected(xg_conn *c, int status, void *arg)
{
    xg_hc_probe *p = arg;
    p->cx = NULL;
    if (status != 0) {
        snprintf(p->detail_buf, sizeof p->detail_buf, "connect failed: %s", xg_strerror(status));
        xg__hc_finish(p, XG_HC_FAIL_NETWORK, p->detail_buf);
        return;
    }
    p->conn = c;
    xg_conn_set_owner(c, &conn_cbs, p);
    start_check(p);
}

/* The ALPN list offered: tls_options.alpn_protocols when given, else what
 * the check speaks (TCP: the context's). Wire format, in the probe's arena. */
static const uint8_t *alpn_of(xg_hc_probe *p, size_t *len)
{
    static const uint8_t h2[] = "\x02h2", h1[] = "\x08http/1.1";
    const xg_health_check *hc = p->hc;
    if (hc->n_tls_alpn > 0) {
        size_t n = 0;
        for (size_t i = 0; i < hc->n_tls_alpn; i++)
            n += 1 + strlen(hc->tls_alpn[i]);
        uint8_t *w = xg_arena_alloc(&p->arena, n), *q = w;
        for (size_t i = 0; w != NULL && i < hc->n_tls_alpn; i++) {
            size_t l = strlen(hc->tls_alpn[i]);
            *q++ = (uint8_t)(l > 255 ? 255 : l);
            memcpy(q, hc->tls_alpn[i], l > 255 ? 255 : l);
            q += l > 255 ? 255 : l;
        }
        *len = w != NULL ? (size_t)(q - w) : 0;
        return w;
    }
    if (hc->kind == XG_HC_TCP) {
        *len = 0;
        return NULL;
    }
    bool two = hc->kind == XG_HC_GRPC || hc->http_codec == XG_HC_CODEC_HTTP2;
    *len = two ? sizeof h2 - 1 : sizeof h1 - 1;
    return two ? h2 : h1;
}

static void on_kick(struct ev_loop *ev, ev_check *w, int revents)
{
    xg__hc_http_pump(w->data);
}

/* No socket could be made: reported from the loop like any failure. */
static void on_early_failure(struct ev_loop *ev, ev_check *w, int revents)
{
    xg_hc_probe *p = w->data;
    ev_set_cb(&p->kick, on_kick);
    xg__hc_finish(p, XG_HC_FAIL_NETWORK, "cannot open a socket");
}

void xg_hc_probe_run(xg_hc_probe *p)
{
    if (p->running)
        return;
    p->running = true;
    p->status = 0;
    p->grpc = -1;
    xg_buf_reset(&p->msg);
    if (p->conn != NULL) {
        start_check(p);
        return;
    }
    xg__hc_drop_conn(p);
    /* No connection, no stream: nothing lives in the arena now, and a check
     * that reconnects each time (TCP) must not grow it by an ALPN list a run. */
    xg_arena_reset(&p->arena);
    xg_connect_opts o = {.timeout = p->connect_timeout, .tls = p->tls};
    if (p->tls != NULL) {
        o.sni = xg_tls_client_sni(p->tls);
        o.alpn = alpn_of(p, &o.alpn_len);
    }
    if (xg_connect_start(p->loop, (const struct sockaddr *)&p->addr, p->addrlen, &o, on_connected, p, &p->cx) != 0) {
        p->cx = NULL;
        ev_set_cb(&p->kick, on_early_failure);
        ev_feed_event(p->loop->ev, &p->kick, EV_CUSTOM);
    }
}

void xg_hc_probe_abort(xg_hc_probe *p)
{
    ev_clear_pending(p->loop->ev, &p->deliver);
    ev_set_cb(&p->kick, on_kick);
    if (p->running || p->closing)
        xg__hc_drop_conn(p);
    p->running = p->closing = false;
}

int xg_hc_probe_new(xg_loop *loop, const xg_health_check *hc, const xg_hc_target *t, xg_hc_probe_cb cb, void *arg,
                    xg_hc_probe **out)
{
    xg_hc_probe *p = calloc(1, sizeof *p);
    if (p == NULL || (p->authority = strdup(t->authority != NULL ? t->authority : "")) == NULL) {
        free(p);
        return XG_ENOMEM;
    }
    p->loop = loop;
    p->hc = hc;
    memcpy(&p->addr, t->addr, t->addrlen);
    p->addrlen = t->addrlen;
    p->tls = t->tls;
    if (p->tls != NULL)
        xg_tls_client_ref(p->tls);
    p->connect_timeout = t->connect_timeout;
    p->cb = cb;
    p->arg = arg;
    p->grpc = -1;
    ev_check_init(&p->deliver, on_deliver);
    p->deliver.data = p;
    ev_check_init(&p->kick, on_kick);
    p->kick.data = p;
    xg_buf_init(&p->rx);
    xg_buf_init(&p->msg);
    xg_arena_init(&p->arena, 0);
    *out = p;
    return 0;
}

static void probe_free(xg_deferred *d)
{
    xg_hc_probe *p = (xg_hc_probe *)((char *)d - offsetof(xg_hc_probe, deferred));
    xg_buf_dispose(&p->rx);
    xg_buf_dispose(&p->msg);
    xg_arena_dispose(&p->arena);
    xg_tls_client_unref(p->tls);
    free(p->authority);
    free(p);
}

void xg_hc_probe_free(xg_hc_probe *p)
{
    if (p == NULL)
        return;
    xg_hc_probe_abort(p);
    xg__hc_drop_conn(p);
    ev_clear_pending(p->loop->ev, &p->kick);
    xg_loop_defer(p->loop, &p->deferred, probe_free);
}
