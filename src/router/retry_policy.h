/* Envoy's retry decisions (RetryStateImpl) as pure functions: the retry
 * conditions by name, the per-request retry state built from the route's
 * (else the virtual host's) RetryPolicy merged with the x-envoy-retry-*
 * request headers of internal requests, whether a response or a reset
 * would be retried, and the fully jittered exponential back-off. Circuit
 * breakers, timers and attempts belong to the router filter
 * (filters/router_retry.c). Worker thread; the only allocations come from
 * the arena a caller passes. */
#ifndef XG_ROUTER_RETRY_POLICY_H
#define XG_ROUTER_RETRY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/route.h"
#include "core/arena.h"
#include "http/headers.h"

/* The XG_RETRY_* bit of one retry_on condition name ("5xx", "cancelled"...).
 * grpc: the x-envoy-retry-grpc-on names (cancelled, deadline-exceeded,
 * internal, resource-exhausted, unavailable); otherwise the HTTP names of
 * x-envoy-retry-on. Config retry_on accepts both (xg_retry_on_any). 0 when
 * unknown. */
uint32_t xg_retry_on_bit(const char *s, size_t len, bool grpc);
uint32_t xg_retry_on_any(const char *s, size_t len);

/* Parses a comma-separated condition list as Envoy's parseRetryOn: blanks
 * around items trimmed, empty items skipped. Returns the bits of the known
 * names; *all_known (may be NULL) says whether every item was known (the
 * router's strict_check_headers). */
uint32_t xg_retry_on_parse(const char *s, size_t len, bool grpc, bool *all_known);

/* How an attempt ended without a response, as the retry conditions see it. */
typedef enum xg_retry_reset {
    XG_RETRY_RESET_CONNECT_FAILURE, /* connection refused, failed or timed out (connect-failure) */
    XG_RETRY_RESET_REFUSED_STREAM,  /* HTTP/2 REFUSED_STREAM (refused-stream) */
    XG_RETRY_RESET_OVERFLOW,        /* a circuit breaker: never retried */
    XG_RETRY_RESET_OTHER,           /* connection closed, stream reset, protocol error, per-try timeout */
} xg_retry_reset;

/* What one downstream request may still do. */
typedef struct xg_retry_state {
    uint32_t retry_on;     /* XG_RETRY_* bits: 0 = no retries at all */
    uint32_t remaining;    /* retries left (num_retries, or x-envoy-max-retries) */
    const uint16_t *codes; /* retriable_status_codes + x-envoy-retriable-status-codes */
    size_t n_codes;
    const xg_header_matcher *headers; /* retriable_headers */
    size_t n_headers;
    const xg_hstr *header_names; /* x-envoy-retriable-header-names: presence matchers */
    size_t n_header_names;
    uint64_t backoff_next_ms; /* the next back-off's upper bound (doubles up to max) */
    uint64_t backoff_max_ms;
    uint64_t per_try_timeout_ms;      /* 0: none */
    uint64_t per_try_idle_timeout_ms; /* 0: none */
    bool previous_hosts;              /* retry_host_predicate previous_hosts */
    uint32_t host_selection_retries;  /* host_selection_retry_max_attempts */
} xg_retry_state;

/* The x-envoy-* request headers the router reads from internal requests and
 * removes from every request before it goes upstream. */
extern const xg_lstr xg_retry_request_headers[];
extern const size_t xg_n_retry_request_headers;

/* Sets rs up for a request: p is the route's effective policy (NULL: Envoy's
 * default policy, which retries nothing unless a header asks: num_retries 1,
 * back-off 25 ms to 250 ms). internal: the request comes from a trusted
 * client, so x-envoy-retry-on, x-envoy-retry-grpc-on, x-envoy-max-retries,
 * x-envoy-retriable-status-codes, x-envoy-retriable-header-names and
 * x-envoy-upstream-rq-per-try-timeout-ms are merged in as Envoy does (the
 * header conditions are added to the policy's; retriable_request_headers,
 * when configured, must match or nothing is retried). h is only read.
 * Copies come from a. 0 or XG_ENOMEM. */
int xg_retry_init(xg_retry_state *rs, const xg_retry_policy *p, const xg_headers *h, bool internal, xg_arena *a);

static inline bool xg_retry_enabled(const xg_retry_state *rs)
{
    return rs->retry_on != 0;
}

/* Whether a response with headers resp would be retried (Envoy's
 * wouldRetryFromHeaders): x-envoy-ratelimited decides alone
 * (envoy-ratelimited); then 5xx, gateway-error (502, 503, 504),
 * retriable-4xx (409), retriable-status-codes, retriable-headers, and the
 * gRPC conditions on a grpc-status in the headers (a trailers-only reply).
 * *err gets XG_ENOMEM when a header matcher could not join values. */
bool xg_retry_would_on_headers(const xg_retry_state *rs, const xg_headers *resp, xg_arena *a, int *err);

/* Whether an attempt that ended without a response would be retried (Envoy's
 * wouldRetryFromReset). sent: request bytes may have reached the upstream
 * (reset-before-request then no longer applies). */
bool xg_retry_would_on_reset(const xg_retry_state *rs, xg_retry_reset why, bool sent);

/* The next back-off in ms from a uniform random value: Envoy's
 * JitteredExponentialBackOffStrategy, random % bound with the bound
 * starting at the base interval and doubling up to the max interval (the
 * result never exceeds the max). */
uint64_t xg_retry_backoff_ms(xg_retry_state *rs, uint64_t random);

#endif
