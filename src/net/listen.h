/* Non-blocking TCP listening sockets, shared by the admin server and (later)
 * the per-worker SO_REUSEPORT listeners. */
#ifndef XG_NET_LISTEN_H
#define XG_NET_LISTEN_H

#include <sys/socket.h>

enum {
    XG_LISTEN_REUSEPORT = 1 << 0, /* one socket per worker on the same address */
    XG_LISTEN_V6ONLY = 1 << 1,    /* IPv6: IPV6_V6ONLY on (else a "::" socket is dual-stack) */
    XG_LISTEN_FREEBIND = 1 << 2,  /* IP_FREEBIND: bind an address not (yet) configured */
};

/* Opens, binds and listens; *fd is non-blocking and close-on-exec, owned by
 * the caller. 0 or a negative errno (e.g. -EADDRINUSE) naming the failure.
 * TCP_NODELAY is set on the listening socket last (after every hook): Linux
 * copies it to each accepted connection, which then needs no setsockopt of
 * its own (Envoy sets it on every accepted connection too). */
int xg_listen_tcp(const struct sockaddr *sa, socklen_t len, int backlog, unsigned flags, int *fd);

/* Stages at which xg_listen_tcp_hook calls back (socket options by state). */
enum {
    XG_LISTEN_AT_PREBIND,
    XG_LISTEN_AT_BOUND,
    XG_LISTEN_AT_LISTENING,
};
/* Returns 0 or a negative errno (which fails the listen). */
typedef int (*xg_listen_hook)(int fd, int stage, void *arg);
/* xg_listen_tcp with hook(fd, stage, arg) run at each stage (hook may be NULL). */
int xg_listen_tcp_hook(const struct sockaddr *sa, socklen_t len, int backlog, unsigned flags, xg_listen_hook hook,
                       void *arg, int *fd);
/* "ip:port" or "[ip]:port" of sa into out (for log lines); never fails. */
void xg_sockaddr_str(const struct sockaddr *sa, char *out, size_t n);

#endif
