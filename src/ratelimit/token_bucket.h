/* Token buckets for envoy.filters.http.local_ratelimit, with Envoy's
 * timer-driven semantics: a bucket starts full (max_tokens), every
 * fill_interval after its creation adds tokens_per_fill up to max_tokens,
 * and each request takes one token. Instead of a timer, the fills are
 * counted lazily from a monotonic clock when the bucket is next used, so an
 * idle bucket costs nothing.
 *
 * The state is one 64-bit word (fill epoch << 32 | tokens) changed by
 * compare-and-swap: a take is one load, a little arithmetic and one CAS, no
 * lock, and N threads taking from one bucket get exactly the tokens there
 * are. The epoch is the number of whole fill intervals since the bucket's
 * start, mod 2^32: an epoch up to 64 intervals behind the stored one is a
 * thread whose clock read trails another's (no fill), any other difference
 * is that many fills. So only a bucket idle for a whole multiple of 2^32
 * intervals less 0..64 (6.8 years at 50 ms) gets its refill late, by at
 * most 64 intervals.
 *
 * Shared buckets (xg_tbucket) live in a process-wide registry keyed by a
 * string that names where the limit is configured and its parameters
 * (see config/local_ratelimit.h), so every worker uses one budget, and a
 * new config snapshot that keeps a limit keeps its bucket and its tokens.
 * The registry takes a mutex only to get or release a bucket (on the xds
 * thread when a resource is translated, and wherever the last reference to
 * that resource drops). */
#ifndef XG_RATELIMIT_TOKEN_BUCKET_H
#define XG_RATELIMIT_TOKEN_BUCKET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct xg_tb_params {
    uint32_t max_tokens;       /* > 0 */
    uint32_t tokens_per_fill;  /* > 0 */
    uint64_t fill_interval_ns; /* > 0 (the translator requires >= 50 ms, as Envoy) */
} xg_tb_params;

/* One bucket's state; any thread. */
typedef struct xg_tb_state {
    _Atomic uint64_t word; /* epoch << 32 | tokens */
    uint64_t start_ns;     /* monotonic time of the bucket's creation (epoch 0) */
} xg_tb_state;

/* What a take saw, for the x-ratelimit-* headers. */
typedef struct xg_tb_view {
    uint32_t remaining; /* tokens left after this take (0 when refused) */
    uint32_t reset_s;   /* seconds until the next fill, as Envoy computes it (whole seconds, truncated) */
} xg_tb_view;

/* Monotonic nanoseconds (CLOCK_MONOTONIC_COARSE: cheap, one kernel tick
 * of resolution, the same for every thread). */
uint64_t xg_tb_now_ns(void);

/* A full bucket starting at now_ns. */
void xg_tb_init(xg_tb_state *st, const xg_tb_params *p, uint64_t now_ns);

/* Takes one token at now_ns after counting the fills since the last use;
 * false (nothing taken) when the bucket is empty. view may be NULL. */
bool xg_tb_take(xg_tb_state *st, const xg_tb_params *p, uint64_t now_ns, xg_tb_view *view);

/* Tokens in the bucket at now_ns (refills counted, nothing taken). */
uint32_t xg_tb_tokens(const xg_tb_state *st, const xg_tb_params *p, uint64_t now_ns);

/* --- shared buckets --- */

typedef struct xg_tbucket xg_tbucket;

/* The bucket registered under key, made full when none is (p must be the
 * same for the same key: the key is expected to include the parameters);
 * one reference for the caller. NULL on ENOMEM. Any thread. */
xg_tbucket *xg_tbucket_get(const char *key, const xg_tb_params *p);
/* Drops a reference; the last one frees the bucket. NULL is a no-op. */
void xg_tbucket_unref(xg_tbucket *b);
/* The bucket's state and parameters, for xg_tb_take; valid while a
 * reference is held. */
xg_tb_state *xg_tbucket_state(xg_tbucket *b);
const xg_tb_params *xg_tbucket_params(const xg_tbucket *b);
/* The hash a key is registered under. */
uint64_t xg_tbucket_hash(const char *key);
/* Whether a bucket is registered under a key of this hash (someone still
 * holds it): how per-connection buckets, which live outside the registry,
 * learn that the limit they were made for is gone. Takes the mutex. */
bool xg_tbucket_alive(uint64_t hash);
/* Buckets alive in the registry (tests: none may leak). */
uint32_t xg_tbucket_live(void);

#endif
