/* Admin server: route table, the built-in /ready endpoint and the listener. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "core/error.h"
#include "core/log.h"
#include "net/addr.h"
#include "net/listen.h"

static void on_accept(struct ev_loop *ev, ev_io *w, int revents);
static void on_accept_retry(struct ev_loop *ev, ev_timer *t, int revents);

static void on_ready(const xg_admin_request *req, xg_admin_response *resp, void *data)
{
    const xg_admin *a = data;
    /* 503 until the first complete config is active, so a load balancer or a
     * Kubernetes readiness probe never sends traffic to an unconfigured proxy. */
    resp->status = a->ready ? 200 : 503;
    int rc = xg_buf_puts(&resp->body, a->ready ? "ready\n" : "not ready\n");
    if (rc != 0)
        resp->status = 500;
}

int xg_admin_new(xg_loop *loop, xg_admin **out)
{
    xg_admin *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return XG_ENOMEM;
    a->loop = loop;
    a->fd = -1;
    ev_init(&a->accept_io, on_accept);
    a->accept_io.data = a;
    ev_init(&a->accept_retry, on_accept_retry);
    a->accept_retry.data = a;
    int rc = xg_admin_route(a, "GET", "/ready", on_ready, a);
    if (rc != 0) {
        xg_admin_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

static const xg__admin_route *find_route(const xg_admin *a, const char *method, const char *path)
{
    for (size_t i = 0; i < a->nroutes; i++)
        if (strcmp(a->routes[i].path, path) == 0 && strcmp(a->routes[i].method, method) == 0)
            return &a->routes[i];
    return NULL;
}

int xg_admin_route(xg_admin *a, const char *method, const char *path, xg_admin_handler_cb cb, void *data)
{
    if (strlen(method) >= sizeof(a->routes[0].method) || path[0] != '/')
        return XG_EINVAL;
    if (find_route(a, method, path) != NULL)
        return XG_EEXIST;
    xg__admin_route *r = realloc(a->routes, (a->nroutes + 1) * sizeof(*r));
    if (r == NULL)
        return XG_ENOMEM;
    a->routes = r;
    r = &a->routes[a->nroutes];
    r->path = strdup(path);
    if (r->path == NULL)
        return XG_ENOMEM;
    strcpy(r->method, method);
    r->cb = cb;
    r->data = data;
    a->nroutes++;
    return 0;
}

/* Methods registered for path, as an Allow header value; empty when the path is unknown. */
static int allowed_methods(const xg_admin *a, const char *path, xg_buf *allow)
{
    for (size_t i = 0; i < a->nroutes; i++) {
        if (strcmp(a->routes[i].path, path) != 0)
            continue;
        int rc = xg_buf_printf(allow, "%s%s", allow->len ? ", " : "", a->routes[i].method);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void xg__admin_dispatch(xg_admin *a, const xg_admin_request *req, xg_admin_response *resp, xg_buf *allow)
{
    /* HEAD runs the GET handler; the connection drops the body. */
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    const xg__admin_route *r = find_route(a, method, req->path);
    if (r != NULL) {
        r->cb(req, resp, r->data);
        return;
    }
    int rc = allowed_methods(a, req->path, allow);
    resp->status = (rc == 0 && allow->len > 0) ? 405 : 404;
    rc = xg_buf_puts(&resp->body, resp->status == 405 ? "method not allowed\n" : "not found\n");
    if (rc != 0)
        resp->status = 500;
}

void xg_admin_set_ready(xg_admin *a, bool ready)
{
    if (a->ready != ready)
        xg_log_info("admin: /ready is now %s", ready ? "200 (ready)" : "503 (not ready)");
    a->ready = ready;
}

bool xg_admin_is_ready(const xg_admin *a)
{
    return a->ready;
}

uint16_t xg_admin_port(const xg_admin *a)
{
    return a->port;
}

static void on_accept_retry(struct ev_loop *ev, ev_timer *t, int revents)
{
    xg_admin *a = t->data;
    if (a->fd >= 0)
        ev_io_start(ev, &a->accept_io);
}

/* Out of descriptors or memory: the listener would stay readable and spin the
 * loop, so pause accepting for a second instead. */
static void pause_accept(xg_admin *a, int err)
{
    xg_log_warn("admin: accept: %s; pausing accept for 1s", xg_strerror(err));
    ev_io_stop(a->loop->ev, &a->accept_io);
    ev_timer_set(&a->accept_retry, 1.0, 0.0);
    ev_timer_start(a->loop->ev, &a->accept_retry);
}

static bool accept_one(xg_admin *a)
{
    int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED)
            return true;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            pause_accept(a, -errno);
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            xg_log_warn("admin: accept: %s", xg_strerror(-errno));
        return false;
    }
    if (a->nconns >= XG_ADMIN_MAX_CONNS) {
        xg_log_warn("admin: %u connections open, refusing another", a->nconns);
        close(fd);
        return true;
    }
    if (xg__admin_conn_start(a, fd) != 0)
        xg_log_warn("admin: out of memory for a new connection");
    return true;
}

static void on_accept(struct ev_loop *ev, ev_io *w, int revents)
{
    xg_admin *a = w->data;
    /* A bounded batch: a connect flood must not starve the rest of the main loop. */
    for (int i = 0; i < 32 && a->fd >= 0; i++)
        if (!accept_one(a))
            return;
}

/* The address actually bound (port 0 picks one), for the log and xg_admin_port. */
static int bound_addr(int fd, struct sockaddr_storage *ss, uint16_t *port)
{
    socklen_t len = sizeof(*ss);
    if (getsockname(fd, (struct sockaddr *)ss, &len) != 0)
        return -errno;
    if (ss->ss_family == AF_INET6)
        *port = ntohs(((struct sockaddr_in6 *)ss)->sin6_port);
    else
        *port = ntohs(((struct sockaddr_in *)ss)->sin_port);
    return 0;
}

int xg_admin_listen(xg_admin *a, const char *host, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char name[XG_HOST_MAX + 16];
    if (xg_addr_resolve(host, port, &ss, &len) != 0) {
        xg_log_error("admin: cannot resolve listen address '%s'", host);
        return XG_ENOENT;
    }
    xg_sockaddr_str((struct sockaddr *)&ss, name, sizeof(name));
    int rc = xg_listen_tcp((struct sockaddr *)&ss, len, 128, 0, &a->fd);
    if (rc == 0)
        rc = bound_addr(a->fd, &ss, &a->port);
    if (rc != 0) {
        xg_log_error("admin: cannot listen on %s: %s", name, xg_strerror(rc));
        xg_admin_stop(a);
        return rc;
    }
    xg_sockaddr_str((struct sockaddr *)&ss, name, sizeof(name));
    ev_io_set(&a->accept_io, a->fd, EV_READ);
    ev_io_start(a->loop->ev, &a->accept_io);
    xg_log_info("admin: listening on %s", name);
    return 0;
}

void xg_admin_stop(xg_admin *a)
{
    if (a->fd >= 0) {
        ev_io_stop(a->loop->ev, &a->accept_io);
        ev_timer_stop(a->loop->ev, &a->accept_retry);
        close(a->fd);
        a->fd = -1;
    }
    while (a->conns != NULL)
        xg__admin_conn_close(a->conns);
}

void xg_admin_free(xg_admin *a)
{
    if (a == NULL)
        return;
    xg_admin_stop(a);
    for (size_t i = 0; i < a->nroutes; i++)
        free(a->routes[i].path);
    free(a->routes);
    free(a);
}
