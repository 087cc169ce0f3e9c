/* Publishing from the store: a new snapshot when the active set changed
 * (rebuilding only the tables of changed types; every unchanged table and
 * resource is shared by reference), and the status view for /xds. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/xds_state_int.h"

/* Beyond this many changed names (and an eighth of the table) a whole rebuild is cheaper. */
#define CHANGED_MAX 64

void xg__xds_changed_dispose(xg__xds_type_state *ts)
{
    for (size_t i = 0; i < ts->n_changed; i++)
        free(ts->changed[i]);
    free(ts->changed);
    ts->changed = NULL;
    ts->n_changed = ts->cap_changed = 0;
    ts->changed_all = false;
}

void xg__xds_mark_changed(xg_xds_state *st, xg_xds_type t, const char *name)
{
    xg__xds_type_state *ts = &st->types[t];
    ts->dirty = true;
    if (ts->changed_all)
        return;
    if (ts->n_changed >= CHANGED_MAX && ts->n_changed * 8 > (ts->table ? ts->table->n : 0))
        goto all;
    if (ts->n_changed == ts->cap_changed) {
        size_t cap = ts->cap_changed ? ts->cap_changed * 2 : 8;
        char **c = realloc(ts->changed, cap * sizeof(*c));
        if (c == NULL)
            goto all;
        ts->changed = c;
        ts->cap_changed = cap;
    }
    if ((ts->changed[ts->n_changed] = strdup(name)) == NULL)
        goto all;
    ts->n_changed++;
    return;
all:
    xg__xds_changed_dispose(ts);
    ts->changed_all = true;
}

/* Every active resource of t, sorted by the table constructor. */
static int build_whole(xg_xds_state *st, xg_xds_type t, xg_snap_table **out)
{
    xg__xds_type_state *ts = &st->types[t];
    void **vals;
    size_t n, k = 0;
    int rc = xg__xds_map_values(&ts->map, &vals, &n);
    if (rc != 0)
        return rc;
    xg_res **res = (xg_res **)vals; /* compacted in place: entries -> their active resources */
    for (size_t i = 0; i < n; i++)
        if (((xg__xds_entry *)vals[i])->active.res != NULL)
            res[k++] = ((xg__xds_entry *)vals[i])->active.res;
    rc = xg_snap_table_new(t, res, k, ts->version, ts->last_change_ms, out);
    free(vals);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static xg_res *active_res(const xg__xds_type_state *ts, const char *name)
{
    const xg__xds_entry *e = xg__xds_map_get(&ts->map, name);
    return e ? e->active.res : NULL;
}

/* The previous table merged with the changed names (both sorted): O(n + k log k),
 * so that an update of one resource among thousands costs little. */
static int build_merged(xg_xds_state *st, xg_xds_type t, xg_snap_table **out)
{
    xg__xds_type_state *ts = &st->types[t];
    const xg_snap_table *old = ts->table;
    size_t nc = ts->n_changed, i = 0, j = 0, k = 0;
    xg_res **res = malloc((old->n + nc + 1) * sizeof(*res));
    if (res == NULL)
        return XG_ENOMEM;
    qsort(ts->changed, nc, sizeof(*ts->changed), cmp_str);
    while (i < old->n || j < nc) {
        int c = j >= nc ? -1 : i >= old->n ? 1 : strcmp(old->res[i]->name, ts->changed[j]);
        if (c < 0) {
            res[k++] = old->res[i++];
            continue;
        }
        i += c == 0;
        xg_res *r = active_res(ts, ts->changed[j]);
        if (r != NULL && (k == 0 || strcmp(res[k - 1]->name, r->name) != 0))
            res[k++] = r; /* the same name may have changed more than once */
        j++;
    }
    int rc = xg_snap_table_new_sorted(t, res, k, ts->version, ts->last_change_ms, out);
    free(res);
    return rc;
}

static int build_table(xg_xds_state *st, xg_xds_type t, xg_snap_table **out)
{
    xg__xds_type_state *ts = &st->types[t];
    return (ts->changed_all || ts->table == NULL) ? build_whole(st, t, out) : build_merged(st, t, out);
}

/* Rebuilds the dirty tables; on failure nothing changes and the types stay dirty. */
static int build_snapshot(xg_xds_state *st, xg_snapshot **out)
{
    xg_snap_table *fresh[XG_XDS_NTYPES] = {NULL};
    xg_snap_table *tables[XG_XDS_NTYPES];
    int64_t now = st->wall_ms();
    int rc = 0;
    for (int t = 0; t < XG_XDS_NTYPES && rc == 0; t++) {
        if (st->types[t].dirty) {
            st->types[t].last_change_ms = now;
            rc = build_table(st, t, &fresh[t]);
        }
        tables[t] = fresh[t] ? fresh[t] : st->types[t].table;
    }
    if (rc == 0)
        rc = xg_snapshot_new(st->generation + 1, tables, out);
    for (int t = 0; t < XG_XDS_NTYPES; t++) {
        if (fresh[t] == NULL)
            continue;
        if (rc == 0) {
            xg_snap_table_unref(st->types[t].table);
            st->types[t].table = fresh[t];
            st->types[t].dirty = false;
            xg__xds_changed_dispose(&st->types[t]);
        } else {
            xg_snap_table_unref(fresh[t]);
        }
    }
    if (rc == 0) {
        st->generation++;
        st->generation_ms = now;
        (*out)->received_us = st->response_us;
    }
    return rc;
}

static bool any_dirty(const xg_xds_state *st)
{
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        if (st->types[t].dirty)
            return true;
    return false;
}

void xg__xds_publish(xg_xds_state *st)
{
    xg_snapshot *s = NULL;
    if (any_dirty(st)) {
        int rc = build_snapshot(st, &s);
        if (rc != 0)
            xg_log_error("xds: cannot build a snapshot: %s; the previous one keeps serving", xg_strerror(rc));
        else
            xg_log_info("xds: snapshot generation %llu: %zu listeners, %zu route configs, %zu clusters, "
                        "%zu endpoint sets, %zu secrets",
                        (unsigned long long)s->generation, xg_snapshot_count(s, XG_RES_LISTENER),
                        xg_snapshot_count(s, XG_RES_ROUTE_CONFIG), xg_snapshot_count(s, XG_RES_CLUSTER),
                        xg_snapshot_count(s, XG_RES_ENDPOINTS), xg_snapshot_count(s, XG_RES_SECRET));
    }
    xg_xds_status *status = xg__xds_build_status(st);
    if (st->sink.publish != NULL) {
        st->sink.publish(st->sink.ctx, s, status);
    } else {
        xg_snapshot_unref(s);
        xg_xds_status_free(status);
    }
}
