/* Subscriptions follow the config: the RDS, EDS and SDS names asked for are
 * exactly those the held listeners and clusters (active or warming) refer to.
 * A name no longer referenced is unsubscribed and its resource dropped from
 * the store (Envoy's semantics for these types: absence from a response
 * never deletes them, losing the last reference does). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/xds_state_int.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool xg__xds_is_subscribed(const xg_xds_state *st, xg_xds_type t, const char *name)
{
    const xg__xds_type_state *ts = &st->types[t];
    return ts->n_subscribed > 0 && bsearch(&name, ts->subscribed, ts->n_subscribed, sizeof(char *), cmp_str) != NULL;
}

static int want_deps(xg__xds_map wanted[XG_XDS_NTYPES], const xg_res *r)
{
    int rc = 0;
    for (size_t i = 0; r != NULL && rc == 0 && i < r->n_deps; i++) {
        xg_res_type t = r->deps[i].type;
        if (t == XG_XDS_RDS || t == XG_XDS_EDS || t == XG_XDS_SDS)
            rc = xg__xds_map_put(&wanted[t], r->deps[i].name, (void *)r->deps[i].name);
    }
    return rc;
}

/* Names are borrowed from the resources' arenas, which the store keeps alive. */
static int collect_wanted(const xg_xds_state *st, xg__xds_map wanted[XG_XDS_NTYPES])
{
    static const xg_xds_type owners[] = {XG_XDS_LDS, XG_XDS_CDS};
    int rc = 0;
    for (size_t o = 0; rc == 0 && o < 2; o++) {
        void **vals;
        size_t n;
        rc = xg__xds_map_values(&st->types[owners[o]].map, &vals, &n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const xg__xds_entry *e = vals[i];
            rc = want_deps(wanted, e->active.res);
            if (rc == 0)
                rc = want_deps(wanted, e->warming.res);
        }
        free(vals);
    }
    return rc;
}

static bool same_names(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Copies the borrowed names into heap strings owned by the type state; on
 * failure the copies made so far are freed (the array is the caller's). */
static int own_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        names[i] = strdup(names[i]);
        if (names[i] == NULL) {
            while (i-- > 0)
                free(names[i]);
            return XG_ENOMEM;
        }
    }
    return 0;
}

static int resubscribe(xg_xds_state *st, xg_xds_type t, char **names, size_t n)
{
    xg__xds_type_state *ts = &st->types[t];
    int rc = own_names(names, n);
    if (rc != 0) {
        free(names);
        return rc;
    }
    xg_log_info("xds: %s subscription now %zu name%s (was %zu)", xg_xds_type_abbrev(t), n, n == 1 ? "" : "s",
                ts->n_subscribed);
    free_names(ts->subscribed, ts->n_subscribed);
    ts->subscribed = names;
    ts->n_subscribed = n;
    if (st->transport.subscribe != NULL)
        rc = st->transport.subscribe(st->transport.ctx, t, (const char *const *)names, n);
    if (rc != 0)
        xg_log_error("xds: cannot update the %s subscription: %s", xg_xds_type_abbrev(t), xg_strerror(rc));
    return rc;
}

/* Drops every entry of t that is no longer subscribed. */
static int drop_unreferenced(xg_xds_state *st, xg_xds_type t)
{
    void **vals;
    size_t n;
    int rc = xg__xds_map_values(&st->types[t].map, &vals, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        xg__xds_entry *e = vals[i];
        if (!xg__xds_is_subscribed(st, t, e->name)) {
            xg_log_debug("xds: %s \"%s\" no longer referenced; dropped", xg_res_type_name(t), e->name);
            xg__xds_entry_delete(st, t, e);
        }
    }
    free(vals);
    return rc;
}

static int sync_type(xg_xds_state *st, xg_xds_type t, const xg__xds_map *wanted)
{
    char **names;
    size_t n;
    int rc = xg__xds_map_values(wanted, (void ***)&names, &n);
    if (rc != 0)
        return rc;
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_str);
    const xg__xds_type_state *ts = &st->types[t];
    if (same_names(names, n, ts->subscribed, ts->n_subscribed))
        free(names);
    else
        rc = resubscribe(st, t, names, n);
    return rc == 0 ? drop_unreferenced(st, t) : rc;
}

int xg__xds_refresh_subscriptions(xg_xds_state *st)
{
    static const xg_xds_type by_name[] = {XG_XDS_RDS, XG_XDS_EDS, XG_XDS_SDS};
    xg__xds_map wanted[XG_XDS_NTYPES];
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        xg__xds_map_init(&wanted[t]);
    int rc = collect_wanted(st, wanted);
    for (size_t i = 0; rc == 0 && i < 3; i++)
        rc = sync_type(st, by_name[i], &wanted[by_name[i]]);
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        xg__xds_map_dispose(&wanted[t]);
    return rc;
}
