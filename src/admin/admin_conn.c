/* One admin HTTP/1.1 connection: strict llhttp parsing (never the lenient
 * flags), keep-alive and pipelining in order, bounded memory, and 400/413/431
 * followed by close for anything malformed or oversized. */
#include <errno.h>
#include <llhttp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "core/error.h"
#include "core/log.h"

struct xg__admin_conn {
    xg_deferred deferred;
    xg_admin *admin;
    xg__admin_conn *prev, *next;
    int fd; /* -1 once closed; the struct lives until the end of the loop pass */
    ev_io rio, wio;
    ev_timer idle;
    llhttp_t parser;
    size_t header_bytes; /* request line + headers of the current request */
    int reject;          /* 413/431/500 chosen by a callback that failed the parse */
    bool closing;        /* close as soon as out is flushed; read nothing more */
    xg_buf url, body;
    xg_buf out; /* serialized responses not yet written, from out_off */
    size_t out_off;
};

static int on_message_begin(llhttp_t *p);
static int on_url(llhttp_t *p, const char *at, size_t n);
static int on_header_field(llhttp_t *p, const char *at, size_t n);
static int on_header_bytes(llhttp_t *p, const char *at, size_t n);
static int on_body(llhttp_t *p, const char *at, size_t n);
static int on_message_complete(llhttp_t *p);

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_bytes,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

/* Appends one whole response to out; on allocation failure the connection closes instead. */
static int append_response(xg__admin_conn *c, const xg_admin_response *resp, const char *allow, bool head)
{
    int rc = xg_buf_printf(&c->out, "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n", resp->status,
                           reason(resp->status), resp->content_type, resp->body.len);
    if (rc == 0)
        rc = xg_buf_puts(&c->out, "cache-control: no-cache, max-age=0\r\nx-content-type-options: nosniff\r\n");
    if (rc == 0 && allow[0] != '\0')
        rc = xg_buf_printf(&c->out, "allow: %s\r\n", allow);
    if (rc == 0 && c->closing)
        rc = xg_buf_puts(&c->out, "connection: close\r\n");
    if (rc == 0)
        rc = xg_buf_puts(&c->out, "\r\n");
    if (rc == 0 && !head)
        rc = xg_buf_append(&c->out, resp->body.data, resp->body.len);
    return rc;
}

static void fail_request(xg__admin_conn *c, int status, const char *text)
{
    xg_admin_response resp = {.status = status, .content_type = "text/plain; charset=utf-8"};
    xg_buf_init(&resp.body);
    c->closing = true;
    if (xg_buf_puts(&resp.body, text) != 0 || append_response(c, &resp, "", false) != 0)
        xg__admin_conn_close(c);
    xg_buf_dispose(&resp.body);
}

/* Runs the handler for the request just parsed and queues its response. */
static int respond(xg__admin_conn *c)
{
    llhttp_t *p = &c->parser;
    xg_admin_request req = {
        .method = llhttp_method_name(llhttp_get_method(p)), .body = c->body.data, .body_len = c->body.len};
    xg_admin_response resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    xg_buf allow;
    if (xg_buf_putc(&c->url, '\0') != 0) /* an empty target still needs storage */
        return XG_ENOMEM;
    char *q = strchr(c->url.data, '?');
    if (q != NULL)
        *q++ = '\0';
    req.path = c->url.data;
    req.query = q != NULL ? q : "";
    xg_buf_init(&resp.body);
    xg_buf_init(&allow);
    xg__admin_dispatch(c->admin, &req, &resp, &allow);
    xg_log_debug("admin: %s %s -> %d", req.method, req.path, resp.status);
    int rc = append_response(c, &resp, allow.len ? allow.data : "", strcmp(req.method, "HEAD") == 0);
    xg_buf_dispose(&resp.body);
    xg_buf_dispose(&allow);
    return rc;
}

static int on_message_begin(llhttp_t *p)
{
    xg__admin_conn *c = p->data;
    xg_buf_reset(&c->url);
    xg_buf_reset(&c->body);
    c->header_bytes = 0;
    c->reject = 0;
    return 0;
}

/* Counts request-line and header bytes; past the cap the request is refused with 431. */
static int count_header_bytes(xg__admin_conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes <= XG_ADMIN_HEADER_MAX)
        return 0;
    c->reject = 431;
    return HPE_USER;
}

static int append_or_500(xg__admin_conn *c, xg_buf *b, const char *at, size_t n)
{
    if (xg_buf_append(b, at, n) == 0)
        return 0;
    c->reject = 500;
    return HPE_USER;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    xg__admin_conn *c = p->data;
    int rc = count_header_bytes(c, n);
    if (rc != 0)
        return rc;
    return append_or_500(c, &c->url, at, n);
}

static int on_header_bytes(llhttp_t *p, const char *at, size_t n)
{
    /* +2 for the separators llhttp does not hand over, so many tiny headers still add up. */
    return count_header_bytes(p->data, n + 2);
}

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* llhttp 8.1 (Debian's) accepts "Bad Name: v" and "Name : v" even without the
 * lenient flags; RFC 9112 says to reject both, so the admin checks names itself. */
static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)at[i])) {
            llhttp_set_error_reason(p, "invalid character in a header name");
            return HPE_USER;
        }
    return on_header_bytes(p, at, n);
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    xg__admin_conn *c = p->data;
    if (c->body.len + n > XG_ADMIN_BODY_MAX) {
        c->reject = 413;
        return HPE_USER;
    }
    return append_or_500(c, &c->body, at, n);
}

static int on_message_complete(llhttp_t *p)
{
    xg__admin_conn *c = p->data;
    bool keep_alive = llhttp_should_keep_alive(p);
    if (!keep_alive)
        c->closing = true; /* set first so the response says connection: close */
    if (respond(c) != 0) {
        c->reject = 500;
        return HPE_USER;
    }
    /* Pausing stops the parser at the end of this request: nothing after it is read. */
    return keep_alive ? 0 : HPE_PAUSED;
}

static void free_conn(xg_deferred *d)
{
    xg__admin_conn *c = (xg__admin_conn *)((char *)d - offsetof(xg__admin_conn, deferred));
    xg_buf_dispose(&c->url);
    xg_buf_dispose(&c->body);
    xg_buf_dispose(&c->out);
    free(c);
}

void xg__admin_conn_close(xg__admin_conn *c)
{
    if (c->fd < 0)
        return;
    struct ev_loop *ev = c->admin->loop->ev;
    ev_io_stop(ev, &c->rio);
    ev_io_stop(ev, &c->wio);
    ev_timer_stop(ev, &c->idle);
    close(c->fd);
    c->fd = -1;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->admin->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->admin->nconns--;
    /* Callers up the stack may still look at c (fd < 0 tells them it closed). */
    xg_loop_defer(c->admin->loop, &c->deferred, free_conn);
}

/* Writes what it can; the write watcher finishes the rest. Closes once a
 * closing connection is drained. Resumes reading when out is drained. */
static void flush(xg__admin_conn *c)
{
    struct ev_loop *ev = c->admin->loop->ev;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(ev, &c->wio);
            /* Backpressure: a client that pipelines but does not read stops being read. */
            if (c->out.len - c->out_off > XG_ADMIN_OUT_HIGH)
                ev_io_stop(ev, &c->rio);
            return;
        } else {
            xg__admin_conn_close(c);
            return;
        }
    }
    xg_buf_reset(&c->out);
    c->out_off = 0;
    ev_io_stop(ev, &c->wio);
    if (c->closing)
        xg__admin_conn_close(c);
    else
        ev_io_start(ev, &c->rio);
}

static void feed(xg__admin_conn *c, const char *data, size_t n)
{
    llhttp_errno_t err = llhttp_execute(&c->parser, data, n);
    if (err == HPE_OK)
        return;
    c->closing = true;
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE)
        return; /* the last request's response is queued; nothing after it is served */
    if (err == HPE_USER && c->reject == 431)
        fail_request(c, 431, "request headers too large\n");
    else if (err == HPE_USER && c->reject == 413)
        fail_request(c, 413, "request body too large\n");
    else if (err == HPE_USER && c->reject == 500)
        fail_request(c, 500, "out of memory\n");
    else {
        xg_log_debug("admin: malformed request: %s (%s)", llhttp_errno_name(err), llhttp_get_error_reason(&c->parser));
        fail_request(c, 400, "bad request\n");
    }
}

static void on_read(struct ev_loop *ev, ev_io *w, int revents)
{
    xg__admin_conn *c = w->data;
    char buf[16384];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        /* EOF or error: a request cut off mid-way gets no answer; finished ones still get theirs. */
        c->closing = true;
    } else {
        ev_timer_again(ev, &c->idle);
        feed(c, buf, (size_t)n);
    }
    if (c->fd >= 0 && c->closing)
        ev_io_stop(ev, &c->rio);
    if (c->fd >= 0)
        flush(c);
}

static void on_write(struct ev_loop *ev, ev_io *w, int revents)
{
    xg__admin_conn *c = w->data;
    ev_timer_again(ev, &c->idle);
    flush(c);
}

static void on_idle(struct ev_loop *ev, ev_timer *w, int revents)
{
    xg__admin_conn *c = w->data;
    xg_log_debug("admin: closing a connection idle for %.0fs", XG_ADMIN_IDLE_SECS);
    xg__admin_conn_close(c);
}

int xg__admin_conn_start(xg_admin *a, int fd)
{
    xg__admin_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return XG_ENOMEM;
    }
    c->admin = a;
    c->fd = fd;
    xg_buf_init(&c->url);
    xg_buf_init(&c->body);
    xg_buf_init(&c->out);
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    ev_io_init(&c->rio, on_read, fd, EV_READ);
    ev_io_init(&c->wio, on_write, fd, EV_WRITE);
    ev_init(&c->idle, on_idle);
    c->idle.repeat = XG_ADMIN_IDLE_SECS;
    c->rio.data = c->wio.data = c->idle.data = c;
    c->next = a->conns;
    if (a->conns != NULL)
        a->conns->prev = c;
    a->conns = c;
    a->nconns++;
    ev_io_start(a->loop->ev, &c->rio);
    ev_timer_again(a->loop->ev, &c->idle);
    return 0;
}
