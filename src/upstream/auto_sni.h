/* The client TLS context of one upstream request: the cluster's, or, with
 * the cluster's upstream_http_protocol_options auto_sni and/or
 * auto_san_validation, a named context for the request's host (Envoy's
 * router: the host of :authority, or of override_auto_sni_header when the
 * request carries it, without its port; an IP address or an empty host
 * keeps the cluster's context). Requests for one name share one context,
 * and so one connection pool. Worker thread. */
#ifndef XG_UPSTREAM_AUTO_SNI_H
#define XG_UPSTREAM_AUTO_SNI_H

#include "cluster/cluster.h"
#include "http/headers.h"

struct xg_tls_client;

/* *out: rt->tls or a named context (borrowed: rt's cache holds it; a pool
 * takes its own reference). 0 or XG_ENOMEM. */
int xg_auto_sni_tls(xg_cluster_rt *rt, const xg_headers *h, struct xg_tls_client **out);

/* The host of an authority ("a.example:8443", "[::1]:80") in buf, or NULL
 * when it is empty, an IP address, or longer than the buffer. */
const char *xg_auto_sni_host(const char *authority, size_t len, char *buf, size_t cap);

#endif
