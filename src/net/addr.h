/* "HOST:PORT" text for command-line addresses: parsing with validation, and
 * resolving to a socket address for bind/connect. */
#ifndef XG_NET_ADDR_H
#define XG_NET_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define XG_HOST_MAX 256

/* Splits "host:port", "[v6]:port" into host (brackets removed) and port.
 * Rejects an empty host, a missing, non-numeric, zero or > 65535 port.
 * 0 or XG_EINVAL. */
int xg_hostport_parse(const char *s, char host[XG_HOST_MAX], uint16_t *port);
/* Resolves host (numeric or a name, blocking: start-up only) for a passive
 * TCP socket. 0, or XG_ENOENT when the name does not resolve. */
int xg_addr_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

/* A TCP connection's address, IPv4 or IPv6, in 28 bytes where
 * sockaddr_storage takes 128 (every connection keeps two). */
typedef union xg_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
} xg_sockaddr;

/* Copies the len-byte address sa into dst (cap bytes, zeroed first) and
 * returns len; an address longer than cap (not an IP one) is not copied and
 * 0 is returned, so the destination reads as family 0: unknown. */
socklen_t xg_sockaddr_copy(void *dst, size_t cap, const void *sa, socklen_t len);

#endif
