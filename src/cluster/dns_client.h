/* Asynchronous A/AAAA lookups on a libev loop, written for the DNS clusters:
 * the resolver's own small DNS client (no library, nothing that links a TLS
 * library), over UDP with a fresh socket and a random id per try, and over
 * TCP after a truncated answer or when the settings ask for TCP. Search
 * domains and ndots as the C library applies them; each try waits the
 * configured timeout, rounds go over every server `attempts` times.
 *
 * dns_lookup_family as in Envoy: V4_ONLY (A), V6_ONLY (AAAA), AUTO (AAAA,
 * then A when that gave no address), V4_PREFERRED (A, then AAAA), ALL (A and
 * AAAA, IPv4 addresses first).
 *
 * Main thread (any single thread with a loop); the callback runs from the
 * loop, never inside xg_dns_resolve. */
#ifndef XG_CLUSTER_DNS_CLIENT_H
#define XG_CLUSTER_DNS_CLIENT_H

#include <stdint.h>
#include <sys/socket.h>

#include "cluster/dns_conf.h"
#include "config/cluster.h"
#include "event/loop.h"

typedef struct xg_dns_query xg_dns_query;

typedef struct xg_dns_result {
    uint32_t n;
    const struct sockaddr_storage *addrs; /* AF_INET / AF_INET6, port 0, distinct, in answer order */
    uint32_t ttl;                         /* seconds: the smallest TTL of the records used (0: none) */
} xg_dns_result;

/* status 0: the name was answered; r->n may be 0 (NXDOMAIN, or no record of
 * the family: the name has no address). Otherwise no answer could be had:
 * -ETIMEDOUT (no server answered in time), XG_EIO (servers failed, refused
 * or sent malformed answers), XG_EINVAL (a name that cannot be asked), or
 * XG_ENOMEM. r and its addresses are borrowed for the call; the query is
 * gone once the callback returns. */
typedef void (*xg_dns_cb)(void *arg, int status, const xg_dns_result *r);

/* Starts looking up name (a DNS name; a final dot skips the search list)
 * with conf (copied; at least one server). 0 (the callback will run exactly
 * once unless cancelled; *out names the lookup until then), or XG_ENOMEM. */
int xg_dns_resolve(xg_loop *loop, const char *name, xg_dns_family family, const xg_dns_conf *conf, xg_dns_cb cb,
                   void *arg, xg_dns_query **out);

/* Abandons a lookup whose callback has not run: no callback follows. */
void xg_dns_cancel(xg_dns_query *q);

#endif
