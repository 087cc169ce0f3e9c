/* The timeouts a forwarded request gets from its route, with Envoy's rules:
 * the router's global timeout (route timeout, or for gRPC the grpc-timeout
 * header under the deprecated max_grpc_timeout), the stream's maximum
 * duration (route max_stream_duration, its grpc_timeout_header_max and
 * offset, else the connection manager's), and the grpc-timeout header the
 * upstream is told. Pure functions over a route and request headers; the
 * router filter and the connection manager call them on a worker. */
#ifndef XG_ROUTER_ROUTE_TIMEOUT_H
#define XG_ROUTER_ROUTE_TIMEOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/route.h"
#include "http/headers.h"

/* Envoy's Grpc::Common::getGrpcTimeout: a decimal TimeoutValue of at most 8
 * digits and a unit (H, M, S, m, u, n); u and n round up to whole
 * milliseconds. False for anything else (the header is then ignored). */
bool xg_grpc_timeout_parse(const char *s, size_t len, uint64_t *ms);

/* The request's grpc-timeout in ms when it has a valid one. */
bool xg_grpc_timeout_of(const xg_headers *h, uint64_t *ms);

/* ms as a grpc-timeout value, as Envoy's Grpc::Common::toGrpcTimeout
 * ("1500m"; beyond 8 digits the next larger unit, at most 99999999H). NUL-
 * terminated in buf (n >= 16); returns the length. */
size_t xg_grpc_timeout_format(uint64_t ms, char *buf, size_t n);

/* True when fw uses Envoy's "new" timeouts (max_stream_duration is set):
 * grpc_timeout_header_max / _offset then apply to the stream duration, and
 * the deprecated max_grpc_timeout / grpc_timeout_offset are ignored. */
bool xg_route_new_timeouts(const xg_route_forward *fw);

/* The router's global timeout in ms, 0 for none (Envoy's
 * FilterUtility::finalTimeout): the route's timeout; but for a gRPC request
 * on a route with max_grpc_timeout (and old timeouts) the grpc-timeout
 * header's value (none or 0: infinite), less grpc_timeout_offset when the
 * offset is smaller, capped at max_grpc_timeout unless that is 0. */
uint64_t xg_route_timeout_ms(const xg_route_forward *fw, const xg_headers *h, bool grpc);

/* The stream's maximum duration (Envoy's refreshDurationTimeout). A gRPC
 * request carrying a valid grpc-timeout on a route with
 * grpc_timeout_header_max gets that value, capped at the max unless it is
 * 0, less grpc_timeout_header_offset (down to 0: expire at once). Otherwise
 * the route's max_stream_duration (0 disables), else hcm_max_ms (0: none).
 * False when there is no limit; else *ms from the stream's start. Unlike
 * Envoy, a grpc-timeout header on a request that is not gRPC is never read
 * (a plain HTTP client must not stretch its own limit). */
bool xg_route_stream_duration_ms(const xg_route_forward *fw, uint64_t hcm_max_ms, const xg_headers *h, bool grpc,
                                 uint64_t *ms);

/* Puts the grpc-timeout the upstream should see on a gRPC request (in h's
 * arena), as Envoy does: with old timeouts and max_grpc_timeout, the
 * router's timeout (timeout_ms, when not 0); with new timeouts, the stream
 * duration when one applies. Anything else leaves the header alone. 0 or
 * XG_ENOMEM. */
int xg_route_set_grpc_timeout(const xg_route_forward *fw, uint64_t hcm_max_ms, uint64_t timeout_ms, xg_headers *h,
                              bool grpc);

#endif
