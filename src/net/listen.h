/* Non-blocking TCP listening sockets, shared by the admin server and (later)
 * the per-worker SO_REUSEPORT listeners. */
#ifndef XG_NET_LISTEN_H
#define XG_NET_LISTEN_H

#include <sys/socket.h>

enum {
    XG_LISTEN_REUSEPORT = 1 << 0, /* one socket per worker on the same address */
};

/* Opens, binds and listens; *fd is non-blocking and close-on-exec, owned by
 * the caller. 0 or a negative errno (e.g. -EADDRINUSE) naming the failure. */
int xg_listen_tcp(const struct sockaddr *sa, socklen_t len, int backlog, unsigned flags, int *fd);
/* "ip:port" or "[ip]:port" of sa into out (for log lines); never fails. */
void xg_sockaddr_str(const struct sockaddr *sa, char *out, size_t n);

#endif
