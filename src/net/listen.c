/* Listening socket set-up; errors are returned, the caller logs them with the address. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <unistd.h>

#include "net/listen.h"

static int set_opt(int fd, int level, int name)
{
    int one = 1;
    return setsockopt(fd, level, name, &one, sizeof(one)) == 0 ? 0 : -errno;
}

static int set_family_opts(int s, const struct sockaddr *sa, unsigned flags)
{
    int rc = 0;
    if (sa->sa_family == AF_INET6) {
        int v6only = (flags & XG_LISTEN_V6ONLY) ? 1 : 0;
        if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)
            rc = -errno;
    }
    if (rc == 0 && (flags & XG_LISTEN_FREEBIND))
        rc = set_opt(s, sa->sa_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
                     sa->sa_family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND);
    return rc;
}

int xg_listen_tcp_hook(const struct sockaddr *sa, socklen_t len, int backlog, unsigned flags, xg_listen_hook hook,
                       void *arg, int *fd)
{
    int s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    /* SO_REUSEADDR lets a restart bind over TIME_WAIT; it never lets two live listeners share a port. */
    int rc = set_opt(s, SOL_SOCKET, SO_REUSEADDR);
    if (rc == 0 && (flags & XG_LISTEN_REUSEPORT))
        rc = set_opt(s, SOL_SOCKET, SO_REUSEPORT);
    if (rc == 0)
        rc = set_family_opts(s, sa, flags);
    if (rc == 0 && hook != NULL)
        rc = hook(s, XG_LISTEN_AT_PREBIND, arg);
    if (rc == 0 && bind(s, sa, len) != 0)
        rc = -errno;
    if (rc == 0 && hook != NULL)
        rc = hook(s, XG_LISTEN_AT_BOUND, arg);
    if (rc == 0 && listen(s, backlog) != 0)
        rc = -errno;
    if (rc == 0 && hook != NULL)
        rc = hook(s, XG_LISTEN_AT_LISTENING, arg);
    if (rc == 0)
        rc = set_opt(s, IPPROTO_TCP, TCP_NODELAY);
    if (rc != 0) {
        close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

int xg_listen_tcp(const struct sockaddr *sa, socklen_t len, int backlog, unsigned flags, int *fd)
{
    return xg_listen_tcp_hook(sa, len, backlog, flags, NULL, NULL, fd);
}

void xg_sockaddr_str(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(out, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
        return;
    }
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
}
