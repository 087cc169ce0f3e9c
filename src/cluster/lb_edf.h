/* Earliest-deadline-first scheduling, Envoy's weighted round robin: each
 * entry (an index into the caller's array: a host, a locality) has a deadline
 * and is due again 1/weight after it is picked, so over time each entry is
 * picked in proportion to its weight, interleaved rather than in bursts.
 * O(log n) per pick, no allocation after init. Weights may change at every
 * pick (LEAST_REQUEST scales them by active requests). Per worker. */
#ifndef XG_CLUSTER_LB_EDF_H
#define XG_CLUSTER_LB_EDF_H

#include <stdint.h>

#include "cluster/rng.h"

typedef struct xg_edf_entry {
    double deadline;
    uint64_t seq; /* tie-break: least recently (re)scheduled first, so equal deadlines alternate */
    uint32_t idx;
} xg_edf_entry;

typedef struct xg_edf {
    xg_edf_entry *heap; /* a binary min-heap on (deadline, seq) */
    uint32_t n;
    uint32_t cap;
    double now; /* the deadline of the last pick */
    uint64_t seq;
} xg_edf;

/* Room for cap entries (cap >= 1). 0 or XG_ENOMEM. */
int xg_edf_init(xg_edf *e, uint32_t cap);
void xg_edf_dispose(xg_edf *e);
/* Adds idx first due at now + delay (delay = 1/weight for a fresh entry, or
 * what an entry had left when a rebuild carries it over). Call
 * xg_edf_heapify once every entry is in. */
void xg_edf_add(xg_edf *e, uint32_t idx, double delay);
void xg_edf_heapify(xg_edf *e);
/* The index due next (n >= 1). */
static inline uint32_t xg_edf_top(const xg_edf *e)
{
    return e->heap[0].idx;
}
/* Picks the entry due next and schedules it again 1/weight later (weight >
 * 0: the picked entry's weight now). Returns its index. */
uint32_t xg_edf_pick(xg_edf *e, double weight);
/* Makes k picks of equal-weight steps (weight_of(idx) = w[idx]): a fresh
 * schedule skips a random number of picks so that workers start apart. */
void xg_edf_skip(xg_edf *e, const double *w, uint64_t k);

#endif
