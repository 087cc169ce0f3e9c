/* Warming, as Envoy does it: a new or changed listener waits for the route
 * configurations (RDS) and secrets (SDS) it names, a new or changed cluster
 * for its ClusterLoadAssignment (EDS) and secrets, before it replaces the
 * active version; meanwhile the previous version (if any) keeps serving. The
 * wait ends when each dependency has arrived or is known not to exist, or
 * when the initial fetch timeout expires (then the resource goes active
 * without it: no endpoints, or every request answered 404 for a missing
 * route configuration). Timers are posted to the xds thread with no
 * per-timer allocation, so a stop with timers pending leaks nothing. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/xds_state_int.h"

static bool dep_resolved(const xg_xds_state *st, const xg_res_dep *d)
{
    if (d->type != XG_XDS_RDS && d->type != XG_XDS_EDS && d->type != XG_XDS_SDS)
        return true; /* clusters named by routes are looked up at request time, never waited for */
    const xg__xds_entry *e = xg__xds_map_get(&st->types[d->type].map, d->name);
    return e != NULL && (e->active.res != NULL || e->absent);
}

/* The first dependency still missing, or NULL when none is. */
static const xg_res_dep *missing_dep(const xg_xds_state *st, const xg_res *r)
{
    for (size_t i = 0; i < r->n_deps; i++)
        if (!dep_resolved(st, &r->deps[i]))
            return &r->deps[i];
    return NULL;
}

static void on_timer(void *arg);

/* Makes sure a timer fires at or before deadline: one due no later already
 * covers it, because every firing re-arms for the earliest deadline left. */
static void arm(xg_xds_state *st, int64_t deadline)
{
    if (deadline == INT64_MAX || st->transport.post == NULL)
        return;
    for (size_t i = 0; i < st->n_timers; i++)
        if (st->timers[i] <= deadline)
            return;
    if (st->n_timers == st->cap_timers) {
        size_t cap = st->cap_timers ? st->cap_timers * 2 : 8;
        int64_t *t = realloc(st->timers, cap * sizeof(*t));
        if (t == NULL)
            return;
        st->timers = t;
        st->cap_timers = cap;
    }
    int64_t delay = deadline - st->mono_ms();
    delay = delay < 1 ? 1 : delay > UINT32_MAX ? UINT32_MAX : delay;
    if (st->transport.post(st->transport.ctx, (uint32_t)delay, on_timer, st) == 0)
        st->timers[st->n_timers++] = deadline;
}

/* The timer that fired is taken to be the earliest pending one. */
static void on_timer(void *arg)
{
    xg_xds_state *st = arg;
    size_t min = 0;
    for (size_t i = 1; i < st->n_timers; i++)
        if (st->timers[i] < st->timers[min])
            min = i;
    if (st->n_timers > 0)
        st->timers[min] = st->timers[--st->n_timers];
    xg__xds_finish_change(st);
}

void xg__xds_warm_start(xg_xds_state *st, xg__xds_entry *e)
{
    int64_t timeout = e->warming.fetch_timeout_ms >= 0 ? e->warming.fetch_timeout_ms : st->default_timeout_ms;
    e->warm_deadline = timeout == 0 ? INT64_MAX : st->mono_ms() + timeout;
    arm(st, e->warm_deadline);
}

static void promote(xg_xds_state *st, xg_xds_type t, xg__xds_entry *e, const xg_res_dep *missing)
{
    if (missing != NULL)
        xg_log_warn("xds: %s \"%s\": initial fetch timeout expired waiting for %s \"%s\"; active without it",
                    xg_res_type_name(t), e->name, xg_res_type_name(missing->type), missing->name);
    else
        xg_log_debug("xds: %s \"%s\" warmed", xg_res_type_name(t), e->name);
    /* The hash index maps to the entry, not the slot: moving warming to active keeps it valid. */
    xg__xds_entry_clear(st, t, e, &e->active);
    e->active = e->warming;
    memset(&e->warming, 0, sizeof(e->warming));
    e->warming.fetch_timeout_ms = -1;
    e->warm_deadline = INT64_MAX;
    xg__xds_mark_changed(st, t, e->name);
    st->refs_dirty = true;
}

/* Promotes what can go; returns the earliest deadline among what still warms. */
static int64_t promote_type(xg_xds_state *st, xg_xds_type t, int64_t now)
{
    void **vals;
    size_t n;
    int64_t next = INT64_MAX;
    if (xg__xds_map_values(&st->types[t].map, &vals, &n) != 0)
        return st->mono_ms() + 1000; /* out of memory: look again soon */
    for (size_t i = 0; i < n; i++) {
        xg__xds_entry *e = vals[i];
        if (e->warming.res == NULL)
            continue;
        const xg_res_dep *missing = missing_dep(st, e->warming.res);
        if (missing == NULL || now >= e->warm_deadline)
            promote(st, t, e, missing);
        else if (e->warm_deadline < next)
            next = e->warm_deadline;
    }
    free(vals);
    return next;
}

void xg__xds_warm_promote(xg_xds_state *st)
{
    int64_t now = st->mono_ms();
    int64_t a = promote_type(st, XG_XDS_CDS, now);
    int64_t b = promote_type(st, XG_XDS_LDS, now);
    arm(st, a < b ? a : b);
}

size_t xg__xds_count_warming(const xg_xds_state *st, xg_xds_type t)
{
    void **vals;
    size_t n, warming = 0;
    if (xg__xds_map_values(&st->types[t].map, &vals, &n) != 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        warming += ((const xg__xds_entry *)vals[i])->warming.res != NULL;
    free(vals);
    return warming;
}

void xg__xds_update_ready(xg_xds_state *st)
{
    if (st->ready || !st->types[XG_XDS_LDS].seen || !st->types[XG_XDS_CDS].seen)
        return;
    if (xg__xds_count_warming(st, XG_XDS_LDS) > 0 || xg__xds_count_warming(st, XG_XDS_CDS) > 0)
        return;
    st->ready = true;
    xg_log_info("xds: initial configuration complete (listeners and clusters received and warmed): ready");
}
