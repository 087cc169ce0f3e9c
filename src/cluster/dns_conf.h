/* Resolver settings for DNS clusters: the system's (/etc/resolv.conf:
 * nameserver, search/domain, options ndots, timeout, attempts, rotate,
 * use-vc) and a cluster's own (custom resolver addresses, TCP, no search
 * domains), merged into what one lookup uses. Parsing is pure; loading
 * reads a file (main thread, never a worker). */
#ifndef XG_CLUSTER_DNS_CONF_H
#define XG_CLUSTER_DNS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config/cluster.h"

#define XG_DNS_MAX_SERVERS 8
#define XG_DNS_MAX_SEARCH 6
#define XG_DNS_RESOLV_CONF "/etc/resolv.conf"

typedef struct xg_dns_conf {
    struct sockaddr_storage servers[XG_DNS_MAX_SERVERS]; /* with their ports (53 from resolv.conf) */
    size_t n_servers;
    char search[XG_DNS_MAX_SEARCH][254]; /* search domains, no final dot */
    size_t n_search;
    unsigned ndots;       /* default 1, at most 15 */
    unsigned timeout_ms;  /* per try, default 2000 (c-ares'), resolv.conf timeout:N seconds, at most 30 s */
    unsigned attempts;    /* rounds over the servers, default 3, at most 5 */
    bool rotate;          /* start each lookup at another server */
    bool use_tcp;         /* TCP for every query, not only after a truncated UDP answer */
    bool has_nameservers; /* the file named servers (else 127.0.0.1 stands in) */
} xg_dns_conf;

/* The defaults: no server, no search domain, ndots 1, 2 s, 3 attempts. */
void xg_dns_conf_init(xg_dns_conf *c);
/* Applies resolv.conf text over c: "nameserver" lines (IPv4 or IPv6
 * literals, an IPv6 scope allowed; at most XG_DNS_MAX_SERVERS), "domain"
 * and "search" (the last one wins), "options" ndots:N timeout:N attempts:N
 * rotate use-vc. Unknown lines and malformed values are ignored, as the C
 * library does. Without any nameserver line, 127.0.0.1:53. */
void xg_dns_conf_parse(xg_dns_conf *c, const char *text, size_t len);
/* xg_dns_conf_init then the file at path. 0, or a negative errno when it
 * cannot be read (c then has the defaults and the 127.0.0.1 server). */
int xg_dns_conf_load(xg_dns_conf *c, const char *path);

/* What a lookup for cluster cfg uses, over the system's settings sys:
 * the cluster's resolvers replace the system's servers (only when the
 * system has none with resolvers_as_fallback), its use_tcp adds to
 * use-vc, no_default_search_domain drops the search list. */
void xg_dns_conf_for_cluster(const xg_dns_conf *sys, const xg_dns_resolver_config *rc, xg_dns_conf *out);

/* The socklen of a sockaddr_storage holding AF_INET or AF_INET6. */
socklen_t xg_dns_sockaddr_len(const struct sockaddr_storage *ss);

#endif
