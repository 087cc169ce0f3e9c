/* Headers a RateLimitService answer asks for (request_headers_to_add,
 * response_headers_to_add): screened like an upstream's, since the service
 * is trusted no more than one, and set on the request as Envoy's setCopy
 * without a scan of the request per entry. Worker thread. */
#ifndef XG_RATELIMIT_RLS_HEADERS_H
#define XG_RATELIMIT_RLS_HEADERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "envoy/config/core/v3/base.pb-c.h"
#include "http/headers.h"

typedef Envoy__Config__Core__V3__HeaderValue xg_rls_header_value;

/* One screened entry; name (lowercase) and value copied into the arena. */
typedef struct xg_rls_hdr {
    const char *name;
    const char *value;
    uint32_t nlen, vlen;
} xg_rls_hdr;

/* Screens in[0..n) into a new array in a (*out, *n_out entries, order kept):
 * entries with a name that is no token (pseudo-headers included) or a value
 * with NUL/CR/LF are dropped, and so are the names that frame the message
 * or belong to one hop (content-length, transfer-encoding, connection,
 * keep-alive, proxy-connection, te, upgrade) and, for_request, host, which
 * picks the route and the upstream's authority. 0; XG_ERANGE when there are
 * more than max_count entries or their names and values take more than
 * max_bytes (the connection manager's own limits on a request: the answer
 * is then a service error); XG_ENOMEM. */
int xg_rls_headers_screen(xg_arena *a, xg_rls_header_value *const *in, size_t n, uint32_t max_count, uint32_t max_bytes,
                          bool for_request, xg_rls_hdr **out, uint32_t *n_out);

/* Sets each of v[0..n) on h as Envoy's setCopy in order (the last of
 * several with one name wins; an existing header keeps its place and loses
 * its duplicates; a new one is appended): O((n + h->n) log n). v's strings
 * must live in h's arena. 0 or XG_ENOMEM (h is then partly changed). */
int xg_rls_headers_set(xg_headers *h, const xg_rls_hdr *v, uint32_t n);

#endif
