/* xg_snapshot: one immutable generation of the whole dynamic configuration,
 * as the data path sees it: per resource type, the active xg_res objects
 * sorted by name with a hash index for lookup. Built on the xds thread,
 * published to every worker and the main thread, refcounted (atomic) because
 * it crosses threads; the last unref frees it on whatever thread that is.
 *
 * A snapshot is made of per-type tables, themselves refcounted and immutable,
 * so that a new generation shares every table whose type did not change and
 * every xg_res that did not change: an EDS update of one cluster rebuilds
 * only the endpoints table (references, no re-translation). */
#ifndef XG_CONFIG_SNAPSHOT_H
#define XG_CONFIG_SNAPSHOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/resource.h"

/* One type's active resources. Immutable once built. */
typedef struct xg_snap_table {
    atomic_int refs;
    xg_res_type type;
    size_t n;
    xg_res **res;            /* n resources, sorted by name (strcmp order); one reference each */
    uint32_t *slots;         /* open-addressing index by name: position + 1, 0 = empty */
    size_t nslots;           /* power of two, at least 2n (0 when n is 0) */
    char *version_info;      /* the type's last accepted version_info ("" when none) */
    int64_t last_updated_ms; /* wall clock of the last change to this type, 0 if never */
} xg_snap_table;

typedef struct xg_snapshot {
    atomic_int refs;
    uint64_t generation;                  /* strictly increasing per process, from 1 */
    int64_t built_ms;                     /* wall clock when it was built */
    int64_t received_us;                  /* CLOCK_MONOTONIC us when the xDS response that made it arrived; 0: none */
    xg_snap_table *tables[XG_RES_NTYPES]; /* never NULL (an empty table for an empty type) */
} xg_snapshot;

/* A new table holding references to res[0..n) (the caller keeps its own),
 * sorted by name. Names must be unique: a duplicate is XG_EEXIST. version
 * may be NULL (""). 0, XG_EEXIST or XG_ENOMEM; *out has one reference. */
int xg_snap_table_new(xg_res_type type, xg_res *const *res, size_t n, const char *version, int64_t last_updated_ms,
                      xg_snap_table **out);
/* The same for res already in strictly increasing name order (checked:
 * XG_EINVAL otherwise), without sorting: O(n) for incremental rebuilds. */
int xg_snap_table_new_sorted(xg_res_type type, xg_res *const *res, size_t n, const char *version,
                             int64_t last_updated_ms, xg_snap_table **out);
void xg_snap_table_ref(xg_snap_table *t);
/* Drops a reference; the last one drops the resources' references and frees (any thread). NULL is a no-op. */
void xg_snap_table_unref(xg_snap_table *t);
/* The resource named name, or NULL; borrowed for the table's lifetime. */
xg_res *xg_snap_table_find(const xg_snap_table *t, const char *name);

/* A new snapshot with one reference, taking a reference on each table;
 * tables[i] may be NULL for an empty type. 0 or XG_ENOMEM. */
int xg_snapshot_new(uint64_t generation, xg_snap_table *const tables[XG_RES_NTYPES], xg_snapshot **out);
void xg_snapshot_ref(xg_snapshot *s);
/* Drops a reference; the last one frees (any thread). NULL is a no-op. */
void xg_snapshot_unref(xg_snapshot *s);

/* Lookup by name; NULL when absent. Borrowed for as long as the caller holds s. */
xg_res *xg_snapshot_find(const xg_snapshot *s, xg_res_type type, const char *name);

static inline size_t xg_snapshot_count(const xg_snapshot *s, xg_res_type type)
{
    return s->tables[type]->n;
}

/* The i-th resource of a type in name order; i < xg_snapshot_count. Borrowed. */
static inline xg_res *xg_snapshot_at(const xg_snapshot *s, xg_res_type type, size_t i)
{
    return s->tables[type]->res[i];
}

#endif
