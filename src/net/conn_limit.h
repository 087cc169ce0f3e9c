/* Connection counters shared by every worker: one per filter chain that has
 * an envoy.filters.network.connection_limit filter, and one for the
 * process-wide --max-downstream-connections limit. A counter is runtime
 * state, not configuration: the listener manager keeps one per chain key
 * (listener name and chain name, or index) across listener sets, so an
 * update that keeps the chain keeps the count of the connections it holds.
 *
 * Counting costs an atomic operation per connection (accept and close),
 * never per request. Any thread. */
#ifndef XG_NET_CONN_LIMIT_H
#define XG_NET_CONN_LIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct xg_conn_limit {
    atomic_int refs;
    atomic_uint_fast64_t active; /* connections holding a slot */
    char key[];                  /* what the manager finds it by */
} xg_conn_limit;

/* A counter at zero with one reference, or NULL (out of memory). */
xg_conn_limit *xg_conn_limit_new(const char *key);
void xg_conn_limit_ref(xg_conn_limit *l);
/* The last reference frees (NULL is a no-op). */
void xg_conn_limit_unref(xg_conn_limit *l);

/* Takes a slot when fewer than max are held: true, and the caller holds a
 * slot and a reference until xg_conn_limit_release. false: over the limit,
 * nothing taken. */
bool xg_conn_limit_acquire(xg_conn_limit *l, uint64_t max);
/* Gives back a slot and its reference. */
void xg_conn_limit_release(xg_conn_limit *l);

static inline uint64_t xg_conn_limit_active(xg_conn_limit *l)
{
    return atomic_load_explicit(&l->active, memory_order_relaxed);
}

#endif
