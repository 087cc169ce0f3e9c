/* Upstream connects: a socket, a non-blocking connect() watched for
 * writability (SO_ERROR tells the outcome), one deadline timer, then for
 * TLS an xg_conn in handshake with this attempt as its owner until the
 * handshake ends. The attempt object is freed at the end of the loop pass. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "net/addr.h"
#include "net/connect.h"

struct xg_connect {
    xg_deferred deferred;
    xg_loop *loop;
    int fd;
    int early; /* a result connect() gave at once, delivered from the loop */
    ev_io wio;
    ev_timer timer;
    xg_conn *conn; /* TLS phase */
    xg_connect_opts o;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    xg_connect_cb cb;
    void *arg;
    bool done;
    char failure[160]; /* why the TLS handshake failed, as the TLS layer saw it ("" otherwise) */
};

static void on_free(xg_deferred *d)
{
    free((xg_connect *)d);
}

/* Stops everything; the callback (if any) runs once, then the attempt goes. */
static void finish(xg_connect *r, xg_conn *c, int status)
{
    if (r->done)
        return;
    r->done = true;
    ev_io_stop(r->loop->ev, &r->wio);
    ev_timer_stop(r->loop->ev, &r->timer);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->conn = NULL;
    xg_loop_defer(r->loop, &r->deferred, on_free);
    r->cb(c, status, r->arg);
}

static void on_hs_done(xg_conn *c, void *owner)
{
    xg_connect *r = owner;
    xg_conn_set_owner(c, NULL, NULL);
    xg_conn_set_deadline(c, 0);
    finish(r, c, 0);
}

static void on_hs_close(xg_conn *c, void *owner, xg_conn_reason why)
{
    xg_connect *r = owner;
    if (why == XG_CONN_TLS_ERROR)
        xg_tls_client_failure(xg_conn_ssl(c), r->failure, sizeof(r->failure));
    finish(r, NULL, why == XG_CONN_TIMEOUT ? -ETIMEDOUT : why == XG_CONN_TLS_ERROR ? -EPROTO : -ECONNRESET);
}

static const xg_conn_cbs hs_cbs = {
    .on_handshake = on_hs_done,
    .on_close = on_hs_close,
};

/* TCP is up: wrap the socket in a conn, with TLS when asked. */
static void connected(xg_connect *r)
{
    xg_conn *c;
    int one = 1;
    (void)setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (xg_conn_new(r->loop, r->fd, &c) != 0) {
        finish(r, NULL, XG_ENOMEM);
        return;
    }
    r->fd = -1; /* the conn owns it */
    (void)xg_sockaddr_copy(&c->peer, sizeof(c->peer), &r->peer, r->peer_len);
    socklen_t local_len = sizeof(c->local);
    (void)getsockname(c->fd, (struct sockaddr *)&c->local, &local_len);
    if (r->o.tls == NULL) {
        xg_conn_start(c, 0);
        finish(r, c, 0);
        return;
    }
    if (xg_conn_use_tls_client(c, r->o.tls, r->o.sni, r->o.alpn, r->o.alpn_len) != 0) {
        xg_conn_close(c, XG_CLOSE_ABORT);
        finish(r, NULL, XG_ENOMEM);
        return;
    }
    /* The rest of the deadline covers the handshake; on expiry the conn dies with XG_CONN_TIMEOUT. */
    double left = r->o.timeout > 0 ? ev_timer_remaining(r->loop->ev, &r->timer) : 0;
    ev_io_stop(r->loop->ev, &r->wio);
    ev_timer_stop(r->loop->ev, &r->timer);
    r->conn = c;
    xg_conn_set_owner(c, &hs_cbs, r);
    xg_conn_start(c, 0);
    if (r->o.timeout > 0)
        xg_conn_set_deadline(c, left > 0.001 ? left : 0.001);
}

static void on_writable(struct ev_loop *ev, ev_io *w, int revents)
{
    xg_connect *r = w->data;
    int err = r->early;
    socklen_t len = sizeof(err);
    if (err == 0 && getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err > 0) {
        finish(r, NULL, -err);
        return;
    }
    connected(r);
}

static void on_timeout(struct ev_loop *ev, ev_timer *t, int revents)
{
    finish(t->data, NULL, -ETIMEDOUT);
}

int xg_connect_start(xg_loop *loop, const struct sockaddr *sa, socklen_t len, const xg_connect_opts *o,
                     xg_connect_cb cb, void *arg, xg_connect **out)
{
    xg_connect *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return XG_ENOMEM;
    r->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0) {
        int rc = -errno;
        free(r);
        return rc;
    }
    r->loop = loop;
    r->o = *o;
    r->cb = cb;
    r->arg = arg;
    memcpy(&r->peer, sa, len);
    r->peer_len = len;
    if (connect(r->fd, sa, len) != 0 && errno != EINPROGRESS)
        r->early = errno; /* e.g. ECONNREFUSED at once on loopback: still reported from the loop */
    ev_io_init(&r->wio, on_writable, r->fd, EV_WRITE);
    r->wio.data = r;
    ev_io_start(loop->ev, &r->wio);
    if (r->early != 0)
        ev_feed_event(loop->ev, &r->wio, EV_WRITE);
    ev_timer_init(&r->timer, on_timeout, o->timeout, 0);
    r->timer.data = r;
    if (o->timeout > 0)
        ev_timer_start(loop->ev, &r->timer);
    *out = r;
    return 0;
}

void xg_connect_cancel(xg_connect *r)
{
    if (r == NULL || r->done)
        return;
    if (r->conn != NULL)
        xg_conn_close(r->conn, XG_CLOSE_ABORT);
    r->cb = NULL;
    r->done = true;
    ev_io_stop(r->loop->ev, &r->wio);
    ev_timer_stop(r->loop->ev, &r->timer);
    if (r->fd >= 0)
        close(r->fd);
    xg_loop_defer(r->loop, &r->deferred, on_free);
}

const char *xg_connect_failure(const xg_connect *r)
{
    return r != NULL ? r->failure : "";
}
