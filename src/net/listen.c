/* Listening socket set-up; errors are returned, the caller logs them with the address. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

#include "net/listen.h"

static int set_opt(int fd, int level, int name)
{
    int one = 1;
    return setsockopt(fd, level, name, &one, sizeof(one)) == 0 ? 0 : -errno;
}

int xg_listen_tcp(const struct sockaddr *sa, socklen_t len, int backlog, unsigned flags, int *fd)
{
    int s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    /* SO_REUSEADDR lets a restart bind over TIME_WAIT; it never lets two live listeners share a port. */
    int rc = set_opt(s, SOL_SOCKET, SO_REUSEADDR);
    if (rc == 0 && (flags & XG_LISTEN_REUSEPORT))
        rc = set_opt(s, SOL_SOCKET, SO_REUSEPORT);
    if (rc == 0 && bind(s, sa, len) != 0)
        rc = -errno;
    if (rc == 0 && listen(s, backlog) != 0)
        rc = -errno;
    if (rc != 0) {
        close(s);
        return rc;
    }
    *fd = s;
    return 0;
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
