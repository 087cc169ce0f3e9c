/* The plain transport (net/conn.h's vtable over a bare TCP socket), and the
 * socket write the TLS transport shares. */
#include <errno.h>
#include <sys/socket.h>

#include "core/error.h"
#include "net/conn_int.h"

static ssize_t plain_read(xg_conn *c, char *p, size_t n)
{
    ssize_t r;
    do
        r = recv(c->fd, p, n, 0);
    while (r < 0 && errno == EINTR);
    c->tp_want_write = false;
    if (r >= 0)
        return r;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? XG_EAGAIN : -errno;
}

ssize_t xg__conn_sys_writev(int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t r;
    do /* MSG_NOSIGNAL: a peer that went away is an EPIPE here, never a SIGPIPE */
        r = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return r;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? XG_EAGAIN : -errno;
}

static ssize_t plain_writev(xg_conn *c, const struct iovec *iov, int iovcnt)
{
    c->tp_want_write = true;
    return xg__conn_sys_writev(c->fd, iov, iovcnt);
}

static int plain_nothing(xg_conn *c)
{
    return 0;
}

static size_t plain_held(const xg_conn *c)
{
    return 0;
}

static int plain_shutdown(xg_conn *c)
{
    return shutdown(c->fd, SHUT_WR) == 0 || errno == ENOTCONN ? 0 : -errno;
}

static bool plain_buffered(const xg_conn *c)
{
    return false;
}

static void plain_dispose(xg_conn *c)
{
}

const xg_transport_vt xg__conn_plain_vt = {
    .name = "raw_buffer",
    .read = plain_read,
    .writev = plain_writev,
    .flush = plain_nothing,
    .held = plain_held,
    .handshake = plain_nothing,
    .shutdown = plain_shutdown,
    .has_buffered = plain_buffered,
    .dispose = plain_dispose,
};
