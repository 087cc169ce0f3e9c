/* A route's hash_policy evaluated for one request, as Envoy's HashPolicyImpl:
 * the key the consistent-hashing balancers (RING_HASH, MAGLEV) place the
 * request by. Each policy that yields a value contributes xxHash64 of it,
 * combined as hash = rotl1(hash) ^ value; a terminal policy that has produced
 * a hash (its own or earlier ones') stops the walk. What each kind hashes:
 *
 *  - header: every value of the header (after regex_rewrite), sorted, chained
 *    through xxHash64 seeds; pseudo-headers (":authority", ":path") too;
 *  - cookie: the named cookie's value (surrounding quotes removed); when it
 *    is absent or empty and ttl is set, a cookie is generated: its value is
 *    the hex xxHash64 of the client's address and port and the local address
 *    and port, and a Set-Cookie ("name=\"value\"; Max-Age=s; Path=p; attr=v;
 *    HttpOnly") for the response is returned, so the client sends it back and
 *    stays on the same host;
 *  - connection_properties.source_ip: the client's address (as trusted:
 *    x-forwarded-for applied) without the port;
 *  - query_parameter: the first value of the parameter (not percent-decoded;
 *    "" for a bare "?name").
 *
 * Pure over the request; allocation only from the request's arena. Any
 * thread. */
#ifndef XG_ROUTER_HASH_POLICY_H
#define XG_ROUTER_HASH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/route.h"
#include "core/arena.h"
#include "http/headers.h"

typedef struct xg_hash_input {
    const xg_headers *headers;     /* the request headers (borrowed) */
    const struct sockaddr *remote; /* the client as trusted, or NULL */
    const struct sockaddr *local;  /* the downstream connection's local address, or NULL */
    xg_arena *arena;               /* for rewritten values and generated cookies */
} xg_hash_input;

typedef struct xg_hash_result {
    uint64_t hash;
    bool has_hash; /* false: no policy produced a value (the balancer picks at random) */
    /* Set-Cookie values for the response (generated cookies), in the arena. */
    xg_hstr *set_cookies;
    size_t n_set_cookies;
} xg_hash_result;

/* Evaluates p[0..n) for in. 0, or XG_ENOMEM (out then has no hash). */
int xg_hash_policy_eval(const xg_hash_policy *p, size_t n, const xg_hash_input *in, xg_hash_result *out);

/* The router's entry: p[0..n) evaluated only for a cluster balanced by
 * hash (hashed: RING_HASH or MAGLEV). Envoy computes the hash only when the
 * balancer asks for it, so requests to other clusters never get a generated
 * cookie. *out is empty when !hashed. 0 or XG_ENOMEM. */
int xg_hash_policy_for(const xg_hash_policy *p, size_t n, bool hashed, const xg_hash_input *in, xg_hash_result *out);
/* Adds res's generated cookies to response headers h as Set-Cookie (after
 * the route's response header mutations, as Envoy). 0 or XG_ENOMEM. */
int xg_hash_policy_set_cookies(const xg_hash_result *res, xg_headers *h);

/* The value of cookie name in the request's cookie headers (Envoy's
 * parseCookieValue): the first "name=value" pair, quotes around the value
 * removed. False when absent. Borrowed from h. */
bool xg_hash_cookie_value(const xg_headers *h, const char *name, size_t len, xg_hstr *out);

#endif
