/* Building the /xds status view from the client state (xds thread), and
 * freeing it (main thread). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "xds/xds_state_int.h"

const char *xg_ads_conn_name(xg_ads_conn c)
{
    switch (c) {
    case XG_ADS_CONNECTING:
        return "connecting";
    case XG_ADS_CONNECTED:
        return "connected";
    case XG_ADS_BACKOFF:
        return "backoff";
    case XG_ADS_STOPPED:
        return "stopped";
    }
    return "?";
}

void xg_xds_status_free(xg_xds_status *st)
{
    if (st == NULL)
        return;
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        for (size_t i = 0; i < st->types[t].n_warming; i++)
            xg_res_unref(st->types[t].warming[i]);
    xg_arena arena = st->arena; /* st itself lives in the arena */
    xg_arena_dispose(&arena);
}

static const char *dup_or_null(xg_arena *a, const char *s, bool *oom)
{
    if (s == NULL)
        return NULL;
    char *c = xg_arena_strdup(a, s);
    *oom |= c == NULL;
    return c;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Copies the map's keys that pass keep() into a sorted arena array. */
static int names_where(xg_arena *a, const xg__xds_map *m, bool (*keep)(const void *val, const void *ctx),
                       const void *ctx, const char *const **out, size_t *n)
{
    void **vals;
    size_t nv, k = 0;
    *out = NULL;
    *n = 0;
    int rc = xg__xds_map_values(m, &vals, &nv);
    const char **names = (rc == 0 && nv > 0) ? xg_arena_calloc(a, nv, sizeof(*names)) : NULL;
    if (rc == 0 && nv > 0 && names == NULL)
        rc = XG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < nv; i++) {
        if (!keep(vals[i], ctx))
            continue;
        names[k] = xg_arena_strdup(a, vals[i]); /* the values are the names */
        rc = names[k++] ? 0 : XG_ENOMEM;
    }
    free(vals);
    if (k > 1)
        qsort(names, k, sizeof(*names), cmp_str);
    *out = names;
    *n = k;
    return rc;
}

/* --- missing resources --- */

static bool name_not_active(const void *val, const void *ctx)
{
    const xg__xds_map *store = ctx;
    const xg__xds_entry *e = xg__xds_map_get(store, val);
    return e == NULL || e->active.res == NULL;
}

static bool cluster_not_held(const void *val, const void *ctx)
{
    const xg__xds_map *store = ctx;
    const xg__xds_entry *e = xg__xds_map_get(store, val);
    return e == NULL || (e->active.res == NULL && e->warming.res == NULL);
}

static int add_cluster_deps(xg__xds_map *refs, const xg__xds_map *store)
{
    void **vals;
    size_t n;
    int rc = xg__xds_map_values(store, &vals, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const xg_res *r = ((const xg__xds_entry *)vals[i])->active.res;
        for (size_t d = 0; r != NULL && rc == 0 && d < r->n_deps; d++)
            if (r->deps[d].type == XG_RES_CLUSTER)
                rc = xg__xds_map_put(refs, r->deps[d].name, (void *)r->deps[d].name);
    }
    free(vals);
    return rc;
}

/* RDS/EDS/SDS: subscribed but not (or no longer) held. CDS: named by an
 * active route configuration or listener but unknown (requests to it get 503). */
static int fill_missing(xg_arena *a, const xg_xds_state *st, xg_xds_type t, xg_xds_type_status *ts)
{
    xg__xds_map refs;
    xg__xds_map_init(&refs);
    int rc = 0;
    if (t == XG_XDS_CDS) {
        rc = add_cluster_deps(&refs, &st->types[XG_XDS_RDS].map);
        if (rc == 0)
            rc = add_cluster_deps(&refs, &st->types[XG_XDS_LDS].map);
    } else {
        for (size_t i = 0; rc == 0 && i < st->types[t].n_subscribed; i++)
            rc = xg__xds_map_put(&refs, st->types[t].subscribed[i], st->types[t].subscribed[i]);
    }
    if (rc == 0)
        rc = names_where(a, &refs, t == XG_XDS_CDS ? cluster_not_held : name_not_active, &st->types[t].map,
                         &ts->missing, &ts->n_missing);
    xg__xds_map_dispose(&refs);
    return rc;
}

/* --- warming (references, for /config_dump's warming states) --- */

static int fill_warming(xg_arena *a, const xg_xds_state *st, xg_xds_type t, xg_xds_type_status *ts)
{
    void **vals;
    size_t n, k = 0;
    int rc = xg__xds_map_values(&st->types[t].map, &vals, &n);
    xg_res **w = (rc == 0 && n > 0) ? xg_arena_calloc(a, n, sizeof(*w)) : NULL;
    if (rc == 0 && n > 0 && w == NULL)
        rc = XG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        xg_res *r = ((const xg__xds_entry *)vals[i])->warming.res;
        if (r != NULL) {
            xg_res_ref(r);
            w[k++] = r;
        }
    }
    free(vals);
    ts->warming = w;
    ts->n_warming = k;
    return rc;
}

static int fill_type(xg_arena *a, const xg_xds_state *st, xg_xds_type t, xg_xds_type_status *ts)
{
    const xg__xds_type_state *s = &st->types[t];
    bool oom = false;
    ts->wildcard = xg_xds_type_is_wildcard(t);
    ts->acked_version = s->n_acks > 0 ? dup_or_null(a, s->version, &oom) : NULL;
    ts->acked_ms = s->acked_ms;
    ts->nack_version = dup_or_null(a, s->nack_version, &oom);
    ts->nack_message = dup_or_null(a, s->nack_message, &oom);
    ts->nack_ms = s->nack_ms;
    ts->n_responses = s->n_responses;
    ts->n_acks = s->n_acks;
    ts->n_nacks = s->n_nacks;
    ts->n_active = s->table ? s->table->n : 0;
    ts->unknown_fields = s->unknown_fields;
    ts->last_change_ms = s->last_change_ms;
    ts->last_response_ms = s->last_response_ms;
    const char **subs = s->n_subscribed ? xg_arena_calloc(a, s->n_subscribed, sizeof(*subs)) : NULL;
    oom |= s->n_subscribed > 0 && subs == NULL;
    for (size_t i = 0; !oom && i < s->n_subscribed; i++)
        subs[i] = dup_or_null(a, s->subscribed[i], &oom);
    ts->subscribed = subs;
    ts->n_subscribed = s->n_subscribed;
    int rc = oom ? XG_ENOMEM : fill_missing(a, st, t, ts);
    return rc ? rc : fill_warming(a, st, t, ts);
}

/* A fresh status, or NULL when out of memory (the admin keeps the previous one). */
xg_xds_status *xg__xds_build_status(const xg_xds_state *st)
{
    xg_arena a;
    xg_arena_init(&a, 16384);
    xg_xds_status *s = xg_arena_alloc(&a, sizeof(*s));
    bool oom = s == NULL;
    int rc = 0;
    if (!oom) {
        s->server = dup_or_null(&a, st->server, &oom);
        s->mode = st->delta ? "delta" : "sotw";
        s->conn = st->conn;
        s->conn_detail = dup_or_null(&a, st->conn_detail ? st->conn_detail : "", &oom);
        s->conn_since_ms = st->conn_since_ms;
        s->generation = st->generation;
        s->generation_ms = st->generation_ms;
        s->ready = st->ready;
        s->ignore_unknown = st->ignore_unknown;
        s->initial_fetch_timeout_ms = st->default_timeout_ms;
    }
    for (int t = 0; !oom && rc == 0 && t < XG_XDS_NTYPES; t++)
        rc = fill_type(&a, st, t, &s->types[t]);
    if (oom || rc != 0) {
        if (s != NULL) {
            s->arena = a;
            xg_xds_status_free(s);
        } else {
            xg_arena_dispose(&a);
        }
        return NULL;
    }
    s->arena = a;
    return s;
}
