/* The downstream side of the HTTP connection manager: one xg_hconn per
 * connection. Chooses the codec, moves bytes between the connection and the
 * codec (reads fed as they come, codec output written with writev straight
 * from the codec's buffers, once per loop pass for whatever the pass
 * produced), turns codec events into stream events, and
 * runs the connection's timers (idle_timeout, max_connection_duration,
 * drain_timeout) through the conn's one owner deadline. */
#include <stdlib.h>
#include <string.h>

#include "codec/http1_park.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "http/hcm_int.h"
#include "net/worker_listeners.h"
#include "upstream/resp_flags.h"

#define IOV_MAX_OUT 16

static void hconn_close(xg_hconn *hc, xg_close_mode mode);

static double now_of(const xg_hconn *hc)
{
    return ev_now(hc->loop->ev);
}

/* --- codec callbacks --- */

static int cb_stream_begin(void *owner, uint32_t sid, void **user, xg_arena **arena)
{
    xg_hconn *hc = owner;
    xg_stream *s = xg__stream_new(hc, sid);
    if (s == NULL)
        return XG_ENOMEM;
    *user = s;
    *arena = &s->arena;
    hc->n_requests++;
    if (hc->chain->hcm->max_requests_per_connection > 0 && hc->n_requests >= hc->chain->hcm->max_requests_per_connection)
        xg__hconn_drain(hc);
    return 0;
}

static void cb_headers(void *owner, void *user, uint32_t sid, xg_headers *h, bool end_stream)
{
    xg_hconn *hc = owner;
    if (hc->draining && !hc->goaway_sent) {
        hc->goaway_sent = true; /* HTTP/1: this response says "connection: close" */
        xg_codec_goaway(hc->codec, XG_GOAWAY_NOTICE);
    }
    xg__stream_on_headers(user, h, end_stream);
}

static void cb_data(void *owner, void *user, uint32_t sid, const char *p, size_t n, bool end_stream)
{
    xg__stream_on_data(user, p, n, end_stream);
}

static void cb_trailers(void *owner, void *user, uint32_t sid, xg_headers *t)
{
    xg__stream_on_trailers(user, t);
}

static void cb_close(void *owner, void *user, uint32_t sid)
{
    xg__stream_on_codec_end(user, false, XG_RESET_LOCAL);
}

static void cb_reset(void *owner, void *user, uint32_t sid, xg_reset_reason r)
{
    xg__stream_on_codec_end(user, true, r);
}

static void cb_error(void *owner, void *user, uint32_t sid, xg_codec_err kind, const char *detail)
{
    xg_hconn *hc = owner;
    if (sid != 0 && user != NULL) {
        xg__stream_on_codec_error(user, kind, detail);
        return;
    }
    hc->failed = true;
    xg_log_debug("downstream %s connection error: %s (%s)", hc->proto == XG_PROTO_HTTP2 ? "HTTP/2" : "HTTP/1",
                 xg_codec_err_name(kind), detail != NULL ? detail : "");
}

static void cb_send_ready(void *owner, void *user, uint32_t sid)
{
    if (user != NULL)
        xg__stream_on_send_ready(user);
}

static const xg_codec_cbs codec_cbs = {
    .on_stream_begin = cb_stream_begin,
    .on_headers = cb_headers,
    .on_data = cb_data,
    .on_trailers = cb_trailers,
    .on_stream_close = cb_close,
    .on_stream_reset = cb_reset,
    .on_error = cb_error,
    .on_send_ready = cb_send_ready,
};

/* --- codec choice --- */

static int make_codec(xg_hconn *hc, xg_codec_proto proto)
{
    hc->proto = proto;
    /* Made again for each codec (an HTTP/1 one per request, see park):
     * cheaper than the 88 bytes every idle connection would keep. */
    xg_codec_opts o;
    xg_codec_opts_from_hcm(&o, hc->chain->hcm);
    hc->send_limit = o.send_buffer_limit;
    int rc = proto == XG_PROTO_HTTP2 ? xg_http2_server_new(&hc->codec, &o, &codec_cbs, hc)
                                     : xg_http1_server_new(&hc->codec, &o, &codec_cbs, hc);
    if (rc != 0) {
        xg_log_error("downstream: cannot create the %s codec: %s", proto == XG_PROTO_HTTP2 ? "HTTP/2" : "HTTP/1",
                     xg_strerror(rc));
        hc->codec = NULL;
        hconn_close(hc, XG_CLOSE_ABORT);
        return rc;
    }
    if (hc->draining && proto == XG_PROTO_HTTP2) {
        hc->goaway_sent = true;
        xg_codec_goaway(hc->codec, XG_GOAWAY_NOTICE);
    }
    return 0;
}

/* --- parking: an idle HTTP/1 connection holds no codec --- */

/* Spares of a burst go back this long after it (at most twice it). */
#define SPARE_TRIM_S 10.0

static __thread ev_timer spare_trim;
static __thread struct ev_loop *spare_loop;
/* This worker's connections: spare codecs are kept only while it has some,
 * so its teardown (and a quiet worker) leaves none behind. */
static __thread size_t n_hconns;

static void on_spare_trim(struct ev_loop *ev, ev_timer *w, int revents)
{
    if (xg_http1_server_spares_trim() == 0)
        ev_timer_stop(ev, w);
}

static void spares_drop(void)
{
    if (spare_loop != NULL)
        ev_timer_stop(spare_loop, &spare_trim);
    spare_loop = NULL;
    xg_http1_server_spares_free();
}

/* A server codec went to the spares: the trim timer runs until none is left
 * (also when only closing connections feed it, none ever parking). */
static void spares_watch(struct ev_loop *ev)
{
    if (spare_loop == NULL) {
        spare_loop = ev;
        ev_timer_init(&spare_trim, on_spare_trim, SPARE_TRIM_S, SPARE_TRIM_S);
    }
    if (!ev_is_active(&spare_trim))
        ev_timer_start(spare_loop, &spare_trim);
}

/* Between two requests (nothing read, queued or owed, no stream) the HTTP/1
 * codec goes back to the worker's spares; the next bytes take one again. An
 * idle keep-alive connection then costs its conn and hconn only. */
static void park(xg_hconn *hc)
{
    if (hc->proto != XG_PROTO_HTTP1 || hc->n_streams > 0 || hc->draining || hc->failed || hc->wait_write ||
        hc->in_codec || !xg_http1_server_idle(hc->codec))
        return;
    size_t len;
    xg_conn_input(hc->conn, &len);
    if (len > 0 || xg_conn_eof(hc->conn))
        return;
    xg_codec_free(hc->codec);
    hc->codec = NULL;
    hc->parked = true;
    spares_watch(hc->loop->ev);
}

/* Takes a codec again for a parked connection. 0, or an error (closed). */
static int unpark(xg_hconn *hc)
{
    if (!hc->parked)
        return 0;
    hc->parked = false;
    return make_codec(hc, XG_PROTO_HTTP1);
}

/* codec_type AUTO on plaintext: the HTTP/2 connection preface means h2c
 * with prior knowledge; anything else is HTTP/1.1. 0 once a codec exists. */
static int detect(xg_hconn *hc)
{
    size_t len;
    const char *p = xg_conn_input(hc->conn, &len);
    int r = len > 0 ? xg_http2_detect_preface(p, len) : -1;
    if (r < 0 && !xg_conn_eof(hc->conn))
        return XG_EAGAIN;
    if (r < 0) { /* the peer left before saying anything useful */
        hconn_close(hc, XG_CLOSE_ABORT);
        return XG_EAGAIN;
    }
    return make_codec(hc, r == 1 ? XG_PROTO_HTTP2 : XG_PROTO_HTTP1);
}

static xg_codec_proto initial_proto(xg_hconn *hc, bool *known)
{
    *known = true;
    if (hc->chain->hcm->codec == XG_CODEC_HTTP1)
        return XG_PROTO_HTTP1;
    if (hc->chain->hcm->codec == XG_CODEC_HTTP2)
        return XG_PROTO_HTTP2;
    if (!hc->tls) {
        *known = false;
        return XG_PROTO_HTTP1;
    }
    size_t len = 0;
    const char *alpn = xg_conn_alpn(hc->conn, &len);
    return alpn != NULL && len == 2 && memcmp(alpn, "h2", 2) == 0 ? XG_PROTO_HTTP2 : XG_PROTO_HTTP1;
}

/* --- the pump --- */

/* Feeds what the conn holds while the codec takes it; then the EOF. */
static void feed(xg_hconn *hc)
{
    for (;;) {
        size_t len, used = 0;
        const char *p = xg_conn_input(hc->conn, &len);
        if (len == 0 || !xg_codec_can_feed(hc->codec))
            break;
        hc->in_codec = true;
        int rc = xg_codec_feed(hc->codec, p, len, &used);
        hc->in_codec = false;
        if (hc->conn == NULL)
            return;
        xg_conn_consume(hc->conn, used);
        if (rc < 0 || used == 0)
            return;
    }
    size_t left;
    xg_conn_input(hc->conn, &left);
    if (left == 0 && xg_conn_eof(hc->conn) && !hc->eof_fed) {
        size_t used = 0;
        hc->eof_fed = true;
        hc->in_codec = true;
        (void)xg_codec_feed(hc->codec, NULL, 0, &used);
        hc->in_codec = false;
    }
}

/* Writes the codec's output until it is empty or the socket is full. */
static void flush(xg_hconn *hc)
{
    while (hc->conn != NULL && !hc->wait_write) {
        struct iovec iov[IOV_MAX_OUT];
        hc->in_codec = true;
        size_t n = xg_codec_output(hc->codec, iov, IOV_MAX_OUT);
        hc->in_codec = false;
        if (n == 0 || hc->conn == NULL)
            return;
        size_t total = 0, taken = 0;
        for (size_t i = 0; i < n; i++)
            total += iov[i].iov_len;
        int rc = xg_conn_writev(hc->conn, iov, (int)n, &taken);
        hc->in_codec = true;
        xg_codec_output_done(hc->codec, taken);
        hc->in_codec = false;
        if (rc < 0)
            return; /* the conn is dead: on_close follows */
        if (taken < total)
            hc->wait_write = true;
    }
}

/* An idle HTTP/2 connection gives back its codec's traffic memory (nghttp2's
 * frame buffer and stream-map pages, the output buffer) once it has been
 * quiet this long: a client pausing between requests does not pay the
 * syscall and the page faults each time. */
#define TRIM_AFTER_S 0.5

/* When the current idle spell's trim is due, 0 when none is. */
static double trim_at(const xg_hconn *hc)
{
    bool due = hc->proto == XG_PROTO_HTTP2 && hc->codec != NULL && hc->n_streams == 0 && hc->idle_since > 0 &&
               !hc->trimmed;
    return due ? hc->idle_since + TRIM_AFTER_S : 0;
}

/* The earliest connection deadline, through the conn's owner deadline. */
static void arm_deadline(xg_hconn *hc)
{
    double d = hc->max_deadline;
    if (hc->n_streams == 0 && hc->chain->hcm->idle_timeout_ms > 0 && hc->idle_since > 0) {
        double idle = hc->idle_since + hc->chain->hcm->idle_timeout_ms / 1000.0;
        d = d == 0 || idle < d ? idle : d;
    }
    double trim = trim_at(hc);
    if (trim > 0 && (d == 0 || trim < d))
        d = trim;
    if (hc->drain_deadline > 0 && (d == 0 || hc->drain_deadline < d))
        d = hc->drain_deadline;
    if (hc->close_deadline > 0 && (d == 0 || hc->close_deadline < d))
        d = hc->close_deadline;
    double in = d == 0 ? 0 : d - now_of(hc);
    xg_conn_set_deadline(hc->conn, d == 0 ? 0 : in > 0.001 ? in : 0.001);
}

/* Closes the connection when the codec says so, or once it is quiet after
 * the final GOAWAY (drain deadline, idle timeout) or the peer's FIN, with
 * nothing left to write; else re-arms the timers. */
static void settle(xg_hconn *hc)
{
    if (hc->conn == NULL || hc->codec == NULL)
        return;
    park(hc);
    if (hc->codec == NULL) {
        arm_deadline(hc);
        return;
    }
    bool out = xg_codec_want_write(hc->codec) || hc->wait_write;
    bool quiet = hc->n_streams == 0;
    bool done = xg_codec_should_close(hc->codec) || (hc->goaway_final && quiet) ||
                (xg_conn_eof(hc->conn) && hc->eof_fed && quiet);
    if (done && !out) {
        hconn_close(hc, hc->failed ? XG_CLOSE_FLUSH_OR_RESET : XG_CLOSE_FLUSH);
        return;
    }
    /* A peer that broke the protocol (or flooded us) and does not read its
     * GOAWAY must not hold the connection: delayed_close_timeout (0: none),
     * then a reset. A normal last response to a slow reader is never cut. */
    if (hc->failed && out && hc->close_deadline == 0)
        hc->close_deadline = now_of(hc) + hc->chain->hcm->delayed_close_timeout_ms / 1000.0 + 0.001;
    arm_deadline(hc);
}

/* The pump proper: the connection's own callbacks run it at their end; all
 * other work reaches it through the pump queue. */
static void pump_now(xg_hconn *hc)
{
    if (hc->in_codec) {
        hc->again = true;
        return;
    }
    if (hc->conn == NULL || unpark(hc) != 0)
        return;
    if (hc->codec == NULL && detect(hc) != 0)
        return;
    do {
        hc->again = false;
        feed(hc);
        if (hc->conn != NULL)
            flush(hc);
    } while (hc->again && hc->conn != NULL);
    settle(hc);
}

/* The worker's pump queue: connections whose pump was asked for outside
 * their own callbacks in this loop pass, and the watcher that drains it.
 * The watcher is never started, only fed; its priority is the lowest, so it
 * runs after every other event of the pass: a response head and its body,
 * the frames of the HTTP/2 streams whose upstream answers arrived in the
 * same pass, go out in one write. At that priority only the upstream
 * connections' kicks can still be pending. */
static __thread ev_check pump_watch;
static __thread xg_loop *pump_loop; /* the loop pump_watch was fed on */
static __thread xg_hconn *pump_head;
static __thread bool pump_running;

static void pump_unqueue(xg_hconn *hc)
{
    if (!hc->pump_queued)
        return;
    hc->pump_queued = false;
    if (hc->pump_prev != NULL)
        hc->pump_prev->pump_next = hc->pump_next;
    else
        pump_head = hc->pump_next;
    if (hc->pump_next != NULL)
        hc->pump_next->pump_prev = hc->pump_prev;
    hc->pump_prev = hc->pump_next = NULL;
}

/* Connections queued while the queue drains (one pump's work for another)
 * are pumped in the same round. */
static void on_pump_watch(struct ev_loop *ev, ev_check *w, int revents)
{
    pump_running = true;
    while (pump_head != NULL) {
        xg_hconn *hc = pump_head;
        pump_unqueue(hc);
        pump_now(hc);
    }
    pump_running = false;
    /* Frees the pumps deferred (a write that killed the conn, a close) run
     * in this round too: a pump fed from the loop's own deferred frees runs
     * after them, before the loop polls, and the restarted reap would
     * otherwise wait for the next wake-up. Nothing but kicks is left to run
     * in this pass, so this is still its end. */
    xg_loop *l = pump_loop;
    if (l->deferred != NULL && ev_is_active(&l->reap) && !ev_is_pending(&l->reap))
        ev_feed_event(ev, &l->reap, EV_PREPARE);
}

void xg__hconn_pump(xg_hconn *hc)
{
    if (hc->in_codec) {
        hc->again = true;
        return;
    }
    if (hc->conn == NULL || hc->freed || hc->pump_queued)
        return;
    hc->pump_queued = true;
    hc->pump_prev = NULL;
    hc->pump_next = pump_head;
    if (pump_head != NULL)
        pump_head->pump_prev = hc;
    pump_head = hc;
    if (!pump_running && !ev_is_pending(&pump_watch)) {
        ev_check_init(&pump_watch, on_pump_watch);
        ev_set_priority(&pump_watch, EV_MINPRI);
        pump_loop = hc->loop;
        ev_feed_event(hc->loop->ev, &pump_watch, EV_CUSTOM);
    }
}

/* The worker's last connection went: nothing is left to pump, and a test
 * may end the loop the watcher is pending on before making another. */
static void pump_drop(void)
{
    if (pump_loop != NULL && ev_is_pending(&pump_watch))
        ev_clear_pending(pump_loop->ev, &pump_watch);
    pump_loop = NULL;
}

/* --- connection life --- */

static void hconn_free(xg_deferred *d)
{
    xg_hconn *hc = (xg_hconn *)((char *)d - offsetof(xg_hconn, deferred));
    XG_ASSERT(!hc->pump_queued); /* left the queue in release, and freed keeps it off */
    bool h1 = hc->codec != NULL && hc->proto == XG_PROTO_HTTP1;
    struct ev_loop *ev = hc->loop->ev;
    xg_codec_free(hc->codec);
    xg__conn_states_free(hc->fstate);
    free(hc->gone);
    free(hc);
    if (--n_hconns == 0) {
        spares_drop();
        pump_drop();
    } else if (h1) {
        spares_watch(ev); /* its codec may have joined the spares */
    }
}

/* Every stream goes (the codec will say nothing more), then the hconn. */
static void release(xg_hconn *hc, uint32_t flags, const char *details)
{
    while (hc->streams != NULL)
        xg__stream_abort(hc->streams, flags, details);
    if (!hc->freed) {
        hc->freed = true;
        pump_unqueue(hc);
        xg_loop_defer(hc->loop, &hc->deferred, hconn_free);
    }
}

/* The conn is leaving the hconn while streams live (they are aborted next,
 * and their logs and filters may still ask for the addresses): a copy. */
static void keep_addrs(xg_hconn *hc, const xg_conn *c)
{
    _Static_assert(sizeof(xg__hconn_addr) == sizeof(xg_sockaddr), "the two compact addresses have one layout");
    if (hc->streams == NULL || hc->gone != NULL || (hc->gone = malloc(sizeof(*hc->gone))) == NULL)
        return;
    memcpy(&hc->gone->peer, &c->peer, sizeof(hc->gone->peer));
    memcpy(&hc->gone->local, &c->local, sizeof(hc->gone->local));
}

static void hconn_close(xg_hconn *hc, xg_close_mode mode)
{
    xg_conn *c = hc->conn;
    if (c == NULL)
        return;
    keep_addrs(hc, c);
    hc->conn = NULL;
    xg_conn_close(c, mode);
    release(hc, XG_RF_DC, "downstream_remote_disconnect");
}

void xg__hconn_stream_gone(xg_hconn *hc, xg_stream *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        hc->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    if (--hc->n_streams == 0) {
        hc->idle_since = now_of(hc);
        hc->trimmed = false; /* a new idle spell */
    }
    if (hc->conn != NULL)
        xg__hconn_pump(hc); /* a pipelined request may be waiting; or the connection may close now */
}

/* Envoy's drain sequence: a GOAWAY notice (HTTP/1: "connection: close" on
 * the next response), then after drain_timeout the final GOAWAY; the
 * connection closes once it has no stream left after that. An idle HTTP/1
 * connection is not closed at once: a request may be on its way. */
void xg__hconn_drain(xg_hconn *hc)
{
    if (hc->draining || hc->conn == NULL)
        return;
    hc->draining = true;
    if (unpark(hc) != 0)
        return;
    if (hc->codec == NULL) {
        hconn_close(hc, XG_CLOSE_FLUSH);
        return;
    }
    /* HTTP/1: announced on the next request's response (cb_headers); an idle
     * HTTP/1 codec told now would close at once. */
    if (hc->proto == XG_PROTO_HTTP2 || hc->n_streams > 0) {
        hc->goaway_sent = true;
        xg_codec_goaway(hc->codec, XG_GOAWAY_NOTICE);
    }
    double dt = hc->chain->hcm->drain_timeout_ms / 1000.0;
    hc->drain_deadline = now_of(hc) + (dt > 0 ? dt : 0.001);
    xg__hconn_pump(hc);
}

static void goaway_final(xg_hconn *hc)
{
    hc->draining = true;
    if (hc->goaway_final || unpark(hc) != 0 || hc->codec == NULL)
        return;
    hc->goaway_final = true;
    xg_codec_goaway(hc->codec, XG_GOAWAY_FINAL);
}

/* --- conn callbacks --- */

static void on_read(xg_conn *c, void *owner, size_t n)
{
    pump_now(owner);
}

static void on_writable(xg_conn *c, void *owner)
{
    xg_hconn *hc = owner;
    hc->wait_write = false;
    pump_now(hc);
}

static void on_close(xg_conn *c, void *owner, xg_conn_reason r)
{
    xg_hconn *hc = owner;
    keep_addrs(hc, c);
    hc->conn = NULL;
    xg_log_debug("downstream connection closed: %s", xg_conn_reason_name(r));
    release(hc, XG_RF_DC, r == XG_CONN_DRAINED ? "drain_timeout" : "downstream_remote_disconnect");
}

static void on_drain(xg_conn *c, void *owner)
{
    xg__hconn_drain(owner);
}

static void on_deadline(xg_conn *c, void *owner)
{
    xg_hconn *hc = owner;
    double now = now_of(hc);
    if (hc->close_deadline > 0 && now >= hc->close_deadline) {
        xg_log_debug("downstream connection does not take its final bytes: resetting it");
        hconn_close(hc, XG_CLOSE_RESET);
        return;
    }
    if (hc->drain_deadline > 0 && now >= hc->drain_deadline) {
        hc->drain_deadline = 0;
        goaway_final(hc);
    }
    if (hc->max_deadline > 0 && now >= hc->max_deadline) {
        hc->max_deadline = 0;
        xg__hconn_drain(hc);
    }
    if (hc->conn != NULL && hc->n_streams == 0 && hc->chain->hcm->idle_timeout_ms > 0 &&
        now >= hc->idle_since + hc->chain->hcm->idle_timeout_ms / 1000.0) {
        xg_log_debug("downstream connection idle for %.1f s: closing", hc->chain->hcm->idle_timeout_ms / 1000.0);
        goaway_final(hc);
    }
    double trim = trim_at(hc);
    if (hc->conn != NULL && trim > 0 && now >= trim) {
        hc->trimmed = true;
        (void)xg_codec_trim(hc->codec); /* the bytes given back are only a figure */
    }
    pump_now(hc);
}

static const xg_conn_cbs conn_cbs = {
    .on_read = on_read,
    .on_writable = on_writable,
    .on_close = on_close,
    .on_drain = on_drain,
    .on_deadline = on_deadline,
};

void xg_hcm_on_conn(xg_conn *c, const xg_filter_chain *chain, void *arg)
{
    xg_hconn *hc = calloc(1, sizeof(*hc));
    if (hc == NULL || chain == NULL || chain->hcm == NULL) {
        free(hc);
        xg_conn_close(c, XG_CLOSE_ABORT);
        return;
    }
    n_hconns++;
    hc->conn = c;
    hc->chain = chain;
    hc->loop = c->loop;
    hc->tls = xg_conn_is_tls(c);
    hc->peer_cert = hc->tls ? -1 : 0;
    hc->idle_since = now_of(hc);
    if (hc->chain->hcm->max_connection_duration_ms > 0)
        hc->max_deadline = hc->idle_since + hc->chain->hcm->max_connection_duration_ms / 1000.0;
    xg_conn_set_owner(c, &conn_cbs, hc);
    if (hc->chain->hcm->delayed_close_timeout_ms > 0)
        xg_conn_set_close_timeout(c, hc->chain->hcm->delayed_close_timeout_ms / 1000.0);
    bool known;
    xg_codec_proto proto = initial_proto(hc, &known);
    if (known && make_codec(hc, proto) != 0)
        return;
    arm_deadline(hc);
}
