/* Snapshot tables and snapshots: building, lookup, reference counting. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "config/snapshot.h"
#include "core/assert.h"
#include "core/error.h"

static int cmp_res_name(const void *a, const void *b)
{
    const xg_res *ra = *(xg_res *const *)a, *rb = *(xg_res *const *)b;
    return strcmp(ra->name, rb->name);
}

static uint64_t name_hash(const char *name)
{
    return XXH3_64bits(name, strlen(name));
}

/* Fills the open-addressing index; the names are already known to be unique. */
static int build_index(xg_snap_table *t)
{
    size_t nslots = 4;
    while (nslots < 2 * t->n)
        nslots *= 2;
    t->slots = calloc(nslots, sizeof(*t->slots));
    if (t->slots == NULL)
        return XG_ENOMEM;
    t->nslots = nslots;
    for (size_t i = 0; i < t->n; i++) {
        size_t s = name_hash(t->res[i]->name) & (nslots - 1);
        while (t->slots[s] != 0)
            s = (s + 1) & (nslots - 1);
        t->slots[s] = (uint32_t)(i + 1);
    }
    return 0;
}

static void table_free(xg_snap_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        xg_res_unref(t->res[i]);
    free(t->res);
    free(t->slots);
    free(t->version_info);
    free(t);
}

/* Copies the pointers (sorting them unless already sorted), checks that the
 * names are unique and in order, then takes the references. */
static int fill(xg_snap_table *t, xg_res *const *res, size_t n, bool sorted)
{
    if (n == 0)
        return 0;
    if (n > UINT32_MAX - 1)
        return XG_ERANGE;
    t->res = malloc(n * sizeof(*t->res));
    if (t->res == NULL)
        return XG_ENOMEM;
    memcpy(t->res, res, n * sizeof(*t->res));
    if (!sorted)
        qsort(t->res, n, sizeof(*t->res), cmp_res_name);
    for (size_t i = 1; i < n; i++) {
        int c = strcmp(t->res[i - 1]->name, t->res[i]->name);
        if (c >= 0)
            return c == 0 ? XG_EEXIST : XG_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        xg_res_ref(t->res[i]);
    t->n = n;
    return 0;
}

static int table_new(xg_res_type type, xg_res *const *res, size_t n, bool sorted, const char *version,
                     int64_t last_updated_ms, xg_snap_table **out)
{
    xg_snap_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return XG_ENOMEM;
    atomic_init(&t->refs, 1);
    t->type = type;
    t->last_updated_ms = last_updated_ms;
    t->version_info = strdup(version ? version : "");
    int rc = t->version_info ? fill(t, res, n, sorted) : XG_ENOMEM;
    if (rc == 0 && n > 0)
        rc = build_index(t);
    if (rc != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    table_free(t);
    return rc;
}

int xg_snap_table_new(xg_res_type type, xg_res *const *res, size_t n, const char *version, int64_t last_updated_ms,
                      xg_snap_table **out)
{
    return table_new(type, res, n, false, version, last_updated_ms, out);
}

int xg_snap_table_new_sorted(xg_res_type type, xg_res *const *res, size_t n, const char *version,
                             int64_t last_updated_ms, xg_snap_table **out)
{
    return table_new(type, res, n, true, version, last_updated_ms, out);
}

void xg_snap_table_ref(xg_snap_table *t)
{
    int old = atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    XG_ASSERT(old > 0);
}

void xg_snap_table_unref(xg_snap_table *t)
{
    if (t == NULL)
        return;
    int old = atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel);
    XG_ASSERT(old > 0);
    if (old == 1)
        table_free(t);
}

xg_res *xg_snap_table_find(const xg_snap_table *t, const char *name)
{
    if (t->n == 0)
        return NULL;
    size_t s = name_hash(name) & (t->nslots - 1);
    for (uint32_t pos; (pos = t->slots[s]) != 0; s = (s + 1) & (t->nslots - 1))
        if (strcmp(t->res[pos - 1]->name, name) == 0)
            return t->res[pos - 1];
    return NULL;
}

static void snapshot_free(xg_snapshot *s)
{
    for (int i = 0; i < XG_RES_NTYPES; i++)
        xg_snap_table_unref(s->tables[i]);
    free(s);
}

int xg_snapshot_new(uint64_t generation, xg_snap_table *const tables[XG_RES_NTYPES], xg_snapshot **out)
{
    xg_snapshot *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return XG_ENOMEM;
    atomic_init(&s->refs, 1);
    s->generation = generation;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->built_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int rc = 0;
    for (int i = 0; i < XG_RES_NTYPES && rc == 0; i++) {
        if (tables != NULL && tables[i] != NULL) {
            XG_ASSERT(tables[i]->type == (xg_res_type)i);
            xg_snap_table_ref(tables[i]);
            s->tables[i] = tables[i];
        } else {
            rc = xg_snap_table_new((xg_res_type)i, NULL, 0, NULL, 0, &s->tables[i]);
        }
    }
    if (rc != 0) {
        snapshot_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void xg_snapshot_ref(xg_snapshot *s)
{
    int old = atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    XG_ASSERT(old > 0);
}

void xg_snapshot_unref(xg_snapshot *s)
{
    if (s == NULL)
        return;
    int old = atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel);
    XG_ASSERT(old > 0);
    if (old == 1)
        snapshot_free(s);
}

xg_res *xg_snapshot_find(const xg_snapshot *s, xg_res_type type, const char *name)
{
    return xg_snap_table_find(s->tables[type], name);
}
