/* HTTP and gRPC health checks over a client codec (HTTP/1.1 or HTTP/2):
 * the request (Envoy's headers and user-agent "Envoy/HC"), the pump between
 * the connection and the codec, and the verdict on the response: expected
 * or retriable status for HTTP; grpc.health.v1 HealthCheckResponse SERVING
 * with grpc-status 0 for gRPC, checked as Envoy's GrpcHealthCheckerImpl. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "upstream/health_probe_int.h"

#define USER_AGENT "Envoy/HC"
#define GRPC_PATH "/grpc.health.v1.Health/Check"

static const xg_codec_cbs codec_cbs;

static bool in_ranges(const xg_status_range *r, size_t n, int status)
{
    for (size_t i = 0; i < n; i++)
        if (status >= r[i].start && status < r[i].end)
            return true;
    return false;
}

/* --- verdicts --- */

static void http_verdict(xg_hc_probe *p)
{
    const xg_health_check *hc = p->hc;
    snprintf(p->detail_buf, sizeof p->detail_buf, "status %d", p->status);
    if (in_ranges(hc->expected_statuses, hc->n_expected_statuses, p->status))
        xg__hc_finish(p, XG_HC_OK, p->detail_buf);
    else if (in_ranges(hc->retriable_statuses, hc->n_retriable_statuses, p->status))
        xg__hc_finish(p, XG_HC_FAIL_RETRIABLE, p->detail_buf);
    else
        xg__hc_finish(p, XG_HC_FAIL, p->detail_buf);
}

static bool varint(const uint8_t **q, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *q < end && shift < 64; shift += 7) {
        uint8_t b = *(*q)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* HealthCheckResponse.status (field 1, an enum; 1 = SERVING) of one
 * length-prefixed message; -1 when malformed, not exactly one message, or
 * compressed. Unknown fields are skipped. */
static int grpc_serving_status(const xg_buf *m)
{
    const uint8_t *d = (const uint8_t *)m->data;
    if (m->len < 5 || d[0] != 0)
        return -1;
    uint32_t len = (uint32_t)d[1] << 24 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 8 | d[4];
    if (len != m->len - 5)
        return -1;
    const uint8_t *q = d + 5, *end = q + len;
    uint64_t status = 0, key, v;
    while (q < end) {
        if (!varint(&q, end, &key))
            return -1;
        if ((key & 7) == 0 && varint(&q, end, &v))
            status = key >> 3 == 1 ? v : status;
        else if ((key & 7) == 2 && varint(&q, end, &v) && v <= (uint64_t)(end - q))
            q += v;
        else if ((key & 7) == 5 && end - q >= 4)
            q += 4;
        else if ((key & 7) == 1 && end - q >= 8)
            q += 8;
        else
            return -1;
    }
    return status > 255 ? 255 : (int)status; /* an unknown enum value: not SERVING */
}

static void grpc_verdict(xg_hc_probe *p)
{
    static const char *const names[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
    int serving = p->grpc == 0 ? grpc_serving_status(&p->msg) : -1;
    if (p->grpc != 0)
        snprintf(p->detail_buf, sizeof p->detail_buf, "grpc-status %d (HTTP %d)", p->grpc, p->status);
    else if (serving < 0)
        snprintf(p->detail_buf, sizeof p->detail_buf, "invalid grpc.health.v1 response");
    else
        snprintf(p->detail_buf, sizeof p->detail_buf, "%s", serving < 4 ? names[serving] : "unknown status");
    xg__hc_finish(p, serving == 1 ? XG_HC_OK : XG_HC_FAIL, p->detail_buf);
}

static int grpc_status_of(const xg_headers *h)
{
    const xg_header *g = xg_headers_get(h, "grpc-status", 11);
    if (g == NULL)
        return -1;
    int v = 0;
    for (uint32_t i = 0; i < g->value_len && i < 4; i++) {
        if (g->value[i] < '0' || g->value[i] > '9')
            return 2; /* UNKNOWN */
        v = v * 10 + (g->value[i] - '0');
    }
    return v;
}

/* The response is complete (or ended early with its trailers). */
static void verdict(xg_hc_probe *p)
{
    p->stream_open = false;
    if (p->hc->kind == XG_HC_HTTP)
        http_verdict(p);
    else
        grpc_verdict(p);
}

/* --- codec callbacks (owner: the probe) --- */

static void c_headers(void *owner, void *user, uint32_t sid, xg_headers *h, bool end_stream)
{
    xg_hc_probe *p = owner;
    if (!p->running || !p->stream_open || h->status < 200)
        return;
    p->status = h->status;
    if (p->hc->kind == XG_HC_GRPC) {
        const xg_header *ct = xg_headers_get_id(h, XG_HDR_CONTENT_TYPE);
        bool grpc = ct != NULL && ct->value_len >= 16 && strncmp(ct->value, "application/grpc", 16) == 0;
        p->grpc = end_stream ? grpc_status_of(h) : -1;
        if (end_stream && p->grpc < 0)
            p->grpc = 13; /* INTERNAL: a stream end without a status */
        if (!end_stream && (h->status != 200 || !grpc)) {
            p->grpc = 13; /* not a gRPC answer: failed, and the connection goes with it */
            verdict(p);
            return;
        }
    }
    if (end_stream)
        verdict(p);
}

static void c_data(void *owner, void *user, uint32_t sid, const char *d, size_t n, bool end_stream)
{
    xg_hc_probe *p = owner;
    if (n > 0)
        xg_codec_consumed(p->codec, sid, n);
    if (!p->running || !p->stream_open)
        return;
    if (p->hc->kind == XG_HC_GRPC && p->msg.len + n <= XG_HC_RX_MAX && xg_buf_append(&p->msg, d, n) != 0)
        p->grpc = 13;
    if (end_stream) {
        if (p->hc->kind == XG_HC_GRPC)
            p->grpc = 13; /* a gRPC answer ends with trailers */
        verdict(p);
    }
}

static void c_trailers(void *owner, void *user, uint32_t sid, xg_headers *t)
{
    xg_hc_probe *p = owner;
    if (!p->running || !p->stream_open)
        return;
    if (p->hc->kind == XG_HC_GRPC) {
        int g = grpc_status_of(t);
        p->grpc = g >= 0 ? g : 13;
    }
    verdict(p);
}

static void c_close(void *owner, void *user, uint32_t sid)
{
    xg_hc_probe *p = owner;
    if (p->running && p->stream_open)
        verdict(p); /* cannot happen with a sane codec: the end came with the last callback */
}

static void c_reset(void *owner, void *user, uint32_t sid, xg_reset_reason why)
{
    xg_hc_probe *p = owner;
    p->stream_open = false;
    if (!p->running)
        return;
    snprintf(p->detail_buf, sizeof p->detail_buf, "stream reset (%s)", xg_reset_reason_name(why));
    xg__hc_finish(p, XG_HC_FAIL_NETWORK, p->detail_buf);
}

static void c_error(void *owner, void *user, uint32_t sid, xg_codec_err kind, const char *detail)
{
    xg_log_debug("health check: %s (%s)", xg_codec_err_name(kind), detail);
}

static void c_goaway(void *owner, uint32_t last_sid, uint32_t error_code)
{
    xg_hc_probe *p = owner;
    if (!p->running)
        p->closing = true; /* the next check reconnects */
}

static const xg_codec_cbs codec_cbs = {
    .on_headers = c_headers,
    .on_data = c_data,
    .on_trailers = c_trailers,
    .on_stream_close = c_close,
    .on_stream_reset = c_reset,
    .on_goaway = c_goaway,
    .on_error = c_error,
};

/* --- the pump --- */

static void pump_input(xg_hc_probe *p)
{
    size_t len;
    for (;;) {
        const char *in = xg_conn_input(p->conn, &len);
        if (len == 0 || p->codec == NULL || !xg_codec_can_feed(p->codec))
            break;
        size_t used = 0;
        int rc = xg_codec_feed(p->codec, in, len, &used);
        if (p->conn == NULL)
            return;
        xg_conn_consume(p->conn, used);
        if (rc < 0 || used == 0)
            break;
    }
    xg_conn_input(p->conn, &len);
    if (len == 0 && xg_conn_eof(p->conn) && p->codec != NULL) {
        size_t used;
        (void)xg_codec_feed(p->codec, NULL, 0, &used);
    }
}

static void pump_output(xg_hc_probe *p)
{
    struct iovec iov[16];
    while (p->conn != NULL && p->codec != NULL && xg_codec_want_write(p->codec)) {
        size_t n = xg_codec_output(p->codec, iov, 16), total = 0, taken = 0;
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            total += iov[i].iov_len;
        if (xg_conn_writev(p->conn, iov, (int)n, &taken) != 0)
            return; /* dead: on_close follows */
        xg_codec_output_done(p->codec, taken);
        if (taken < total)
            break;
    }
}

void xg__hc_http_pump(xg_hc_probe *p)
{
    if (p->conn == NULL || p->codec == NULL)
        return;
    pump_input(p);
    if (p->conn == NULL || p->codec == NULL)
        return;
    pump_output(p);
    if (p->codec != NULL && p->running && xg_codec_should_close(p->codec) && !xg_codec_want_write(p->codec)) {
        xg__hc_finish(p, XG_HC_FAIL_NETWORK, "connection closed by the codec");
        p->closing = true;
    }
}

/* --- the request --- */

static int add_headers(xg_headers *h, const xg_hc_header *v, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (v[i].value[0] == '\0' && !v[i].keep_empty_value)
            continue;
        rc = xg_headers_apply(h, (xg_hdr_action)v[i].append, v[i].key, strlen(v[i].key), v[i].value, strlen(v[i].value),
                              false);
    }
    return rc;
}

static int set(xg_headers *h, const char *name, const char *value)
{
    return xg_headers_set_pseudo(h, name, strlen(name), value, strlen(value));
}

static int http_request(xg_hc_probe *p, xg_headers *h)
{
    const xg_health_check *hc = p->hc;
    int rc = set(h, ":method", hc->http_method);
    if (rc == 0)
        rc = set(h, ":path", hc->http_path);
    if (rc == 0)
        rc = xg_headers_add_ref(h, "user-agent", 10, USER_AGENT, sizeof USER_AGENT - 1);
    /* Envoy's header parser removes, then adds. */
    for (size_t i = 0; rc == 0 && i < hc->n_request_headers_to_remove; i++)
        xg_headers_remove(h, hc->request_headers_to_remove[i], strlen(hc->request_headers_to_remove[i]));
    if (rc == 0)
        rc = add_headers(h, hc->request_headers_to_add, hc->n_request_headers_to_add);
    return rc;
}

static int grpc_request(xg_hc_probe *p, xg_headers *h)
{
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%lldm", (long long)p->hc->timeout_ms);
    int rc = set(h, ":method", "POST");
    if (rc == 0)
        rc = set(h, ":path", GRPC_PATH);
    if (rc == 0)
        rc = xg_headers_add_ref(h, "content-type", 12, "application/grpc", 16);
    if (rc == 0)
        rc = xg_headers_add_ref(h, "te", 2, "trailers", 8);
    if (rc == 0)
        rc = xg_headers_add_ref(h, "user-agent", 10, USER_AGENT, sizeof USER_AGENT - 1);
    if (rc == 0)
        rc = xg_headers_add_copy(h, "grpc-timeout", 12, timeout, strlen(timeout));
    if (rc == 0)
        rc = add_headers(h, p->hc->grpc_initial_metadata, p->hc->n_grpc_initial_metadata);
    return rc;
}

/* HealthCheckRequest{service = 1} in one uncompressed gRPC message. */
static int grpc_body(xg_hc_probe *p)
{
    const char *svc = p->hc->grpc_service_name != NULL ? p->hc->grpc_service_name : "";
    size_t n = strlen(svc);
    uint8_t msg[5 + 1 + 10 + 1024];
    size_t len = 0;
    if (n > 1024)
        return XG_EINVAL;
    if (n > 0) {
        msg[5 + len++] = 0x0a;
        for (size_t v = n; len < 11; v >>= 7) {
            msg[5 + len++] = (uint8_t)(v > 0x7f ? (v & 0x7f) | 0x80 : v);
            if (v <= 0x7f)
                break;
        }
        memcpy(msg + 5 + len, svc, n);
        len += n;
    }
    msg[0] = 0;
    msg[1] = (uint8_t)(len >> 24);
    msg[2] = (uint8_t)(len >> 16);
    msg[3] = (uint8_t)(len >> 8);
    msg[4] = (uint8_t)len;
    return xg_codec_send_data(p->codec, p->sid, msg, 5 + len, true);
}

static int make_codec(xg_hc_probe *p)
{
    xg_codec_opts o;
    xg_codec_opts_init(&o);
    o.enable_trailers = true;
    bool two = p->hc->kind == XG_HC_GRPC || p->hc->http_codec == XG_HC_CODEC_HTTP2;
    return two ? xg_http2_client_new(&p->codec, &o, &codec_cbs, p) : xg_http1_client_new(&p->codec, &o, &codec_cbs, p);
}

int xg__hc_http_start(xg_hc_probe *p)
{
    int rc = p->codec == NULL ? make_codec(p) : 0;
    if (rc != 0)
        return rc;
    if (p->stream_open) /* an answer that never came on a kept connection */
        xg_codec_reset(p->codec, p->sid, XG_RESET_LOCAL);
    p->stream_open = false;
    xg_arena_reset(&p->arena);
    xg_headers *h = xg_headers_new(&p->arena);
    if (h == NULL)
        return XG_ENOMEM;
    rc = set(h, ":scheme", p->tls != NULL ? "https" : "http");
    if (rc == 0)
        rc = set(h, ":authority", p->authority);
    if (rc == 0)
        rc = p->hc->kind == XG_HC_GRPC ? grpc_request(p, h) : http_request(p, h);
    bool grpc = p->hc->kind == XG_HC_GRPC;
    if (rc == 0)
        rc = xg_codec_send_request(p->codec, p, &p->arena, h, !grpc, &p->sid);
    if (rc == 0)
        p->stream_open = true;
    if (rc == 0 && grpc)
        rc = grpc_body(p);
    if (rc == 0)
        ev_feed_event(p->loop->ev, &p->kick, EV_CUSTOM);
    return rc;
}
