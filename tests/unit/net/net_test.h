/* Helpers for the net/ unit tests: a loop driven until a condition holds
 * (with a ticking timer so it never blocks for long), loopback TCP pairs and
 * free ports. Test processes only; 127.0.0.1 and ::1 only. */
#ifndef XG_NET_TEST_H
#define XG_NET_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/loop.h"

static inline void nt_tick(struct ev_loop *ev, ev_timer *w, int revents)
{
}

/* Runs l until *flag or secs pass; true when *flag. */
static inline bool nt_run_until(xg_loop *l, const volatile bool *flag, double secs)
{
    ev_timer tick;
    ev_timer_init(&tick, nt_tick, 0.005, 0.005);
    ev_timer_start(l->ev, &tick);
    double end = ev_time() + secs;
    while (!*flag && ev_time() < end)
        ev_run(l->ev, EVRUN_ONCE);
    ev_timer_stop(l->ev, &tick);
    return *flag;
}

/* Runs l for secs (lets timers and deferred frees happen). */
static inline void nt_run_for(xg_loop *l, double secs)
{
    bool never = false;
    nt_run_until(l, &never, secs);
}

static inline struct sockaddr_in nt_addr4(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static inline uint16_t nt_port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static inline int nt_listen4(int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = nt_addr4(0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, backlog) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A port nobody listens on right now (bound, then released). */
static inline uint16_t nt_free_port(void)
{
    int fd = nt_listen4(1);
    uint16_t p = nt_port_of(fd);
    close(fd);
    return p;
}

static inline void nt_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* A connected loopback TCP pair: *a non-blocking (for the conn), *b blocking. */
static inline bool nt_tcp_pair(int *a, int *b)
{
    int l = nt_listen4(4);
    if (l < 0)
        return false;
    struct sockaddr_in sa = nt_addr4(nt_port_of(l));
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(l);
        close(c);
        return false;
    }
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    close(l);
    nt_nonblock(s, true);
    *a = s;
    *b = c;
    return s >= 0;
}

/* Reads what is there within secs into buf (blocking fd made non-blocking
 * for the call); returns the count, stopping at EOF (*eof set) or when cap
 * is full. */
static inline size_t nt_read_some(int fd, char *buf, size_t cap, double secs, bool *eof)
{
    size_t got = 0;
    double end = ev_time() + secs;
    nt_nonblock(fd, true);
    if (eof != NULL)
        *eof = false;
    while (got < cap && ev_time() < end) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            if (eof != NULL)
                *eof = true;
            break;
        }
        usleep(1000);
    }
    nt_nonblock(fd, false);
    return got;
}

#endif
