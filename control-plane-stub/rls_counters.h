/* Fixed-window hit counters for the stub's rate-limit service, in memory:
 * one count per (key, window start), as envoyproxy/ratelimit's Redis backend
 * keys them, so a counter lives exactly as long as its window. Counters are
 * independent of the configuration and so survive reloads. Single-threaded. */
#ifndef XG_STUB_RLS_COUNTERS_H
#define XG_STUB_RLS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct xg_stub_rls_counter xg_stub_rls_counter;

typedef struct xg_stub_rls_counters {
    xg_stub_rls_counter **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first add */
    size_t n;
    uint64_t next_sweep; /* unix seconds: when expired counters are next dropped */
} xg_stub_rls_counters;

void xg_stub_rls_counters_init(xg_stub_rls_counters *c);
void xg_stub_rls_counters_dispose(xg_stub_rls_counters *c);

/* Adds hits to the counter of key (len bytes, any content) in the window
 * that ends at window_end (unix seconds) and returns the new total through
 * *total; now drives the sweep of ended windows. 0 or XG_ENOMEM. */
int xg_stub_rls_counters_add(xg_stub_rls_counters *c, const void *key, size_t len, uint64_t window_end, uint64_t hits,
                             uint64_t now, uint64_t *total);

#endif
