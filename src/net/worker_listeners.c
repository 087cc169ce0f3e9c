/* Snapshot publish for the data plane: the listener set is built once per
 * publish on the publishing thread, then each worker swaps its snapshot,
 * reconciles its clusters and applies the set in one loop callback. When a
 * certificate file of a listener changes on disk, the set is rebuilt from
 * the current snapshot on the main thread and applied alone (refresh).
 * Also the worker runtime (created on the worker by its first publish) and
 * the per-worker snapshot pins streams hold. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/snapshot_publish.h"
#include "core/error.h"
#include "core/log.h"
#include "http/hcm.h"
#include "net/cert_watch.h"
#include "net/worker_listeners.h"
#include "upstream/upstream.h"

/* The last step of a worker's teardown, one loop iteration after the
 * first: by then the connections killed in the first step have told their
 * owners (who gave up their upstream connections), so what still lingers
 * can be aborted. */
typedef struct reaper {
    ev_timer timer;
    xg_dataplane *dp;
} reaper;

struct xg_dataplane {
    xg_workers *ws;
    reaper *reapers; /* one per worker */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned teardowns; /* workers still tearing down (guarded by mu) */
    xg_listener_mgr *mgr;
    xg_listener_conn_cb cb;
    void *cb_arg;
    /* Publishes (xds thread) and refreshes (main thread) take turns: both
     * build sets and post them, in order, to every worker. */
    pthread_mutex_t pub;
    xg_listener_set *last;  /* the set last built (referenced) */
    xg_snap_table *built_l; /* the listener and secret tables it was built from (referenced) */
    xg_snap_table *built_s;
    xg_snapshot *cur;     /* the snapshot last published (referenced); refreshes rebuild from it */
    bool stopped;         /* torn down: nothing is published or refreshed any more */
    xg_cert_watch *watch; /* the listeners' certificate files; NULL: not watched */
    char *local_cluster;  /* read-only once made: every worker's runtime points here */
};

/* One publish on its way to the workers: the last worker to swap says in the
 * log how long the update took to be active everywhere, counted from when
 * its xDS response arrived (the ACK goes out before the workers swap: it
 * says the update was accepted, not that it serves). */
typedef struct publish_track {
    atomic_uint left; /* workers that have not swapped yet */
    unsigned workers;
    uint64_t generation;
    int64_t received_us, published_us; /* CLOCK_MONOTONIC; received_us 0: not from a response */
} publish_track;

typedef struct apply_task {
    xg_dataplane *dp;
    publish_track *track; /* shared by the publish's tasks; NULL for refreshes and teardown */
    xg_snapshot *snap;    /* one reference, or NULL: tear down (unless set_only) */
    xg_listener_set *set; /* one reference, or NULL: keep the listeners */
    bool set_only;        /* a refresh: apply set, keep the snapshot */
} apply_task;

/* The only mutable per-thread state here: this worker's runtime. */
static __thread xg_worker_rt *self;

xg_worker_rt *xg_worker_rt_self(void)
{
    return self;
}

/* --- pins --- */

static void pin_drop(xg_snap_pin *p)
{
    if (p != NULL && --p->users == 0) {
        xg_snapshot_unref(p->snap);
        free(p);
    }
}

xg_snap_pin *xg_worker_pin(void)
{
    if (self == NULL || self->pin == NULL)
        return NULL;
    self->pin->users++;
    return self->pin;
}

void xg_snap_pin_release(xg_snap_pin *p)
{
    pin_drop(p);
}

const char *xg_worker_date(xg_worker_rt *w)
{
    double now = ev_now(w->loop->ev);
    if ((time_t)now != (time_t)w->date_at || w->date[0] == '\0') {
        time_t t = (time_t)now;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_at = now;
    }
    return w->date;
}

/* --- the worker side --- */

static int rt_new(xg_dataplane *dp, xg_worker_rt **out)
{
    xg_worker *w = xg_worker_self();
    xg_worker_rt *rt = calloc(1, sizeof(*rt));
    if (w == NULL || rt == NULL) {
        free(rt);
        return XG_ENOMEM;
    }
    rt->loop = xg_worker_loop(w);
    rt->id = xg_worker_id(w);
    rt->local_cluster = dp->local_cluster;
    if (gethostname(rt->hostname, sizeof(rt->hostname) - 1) != 0)
        rt->hostname[0] = '\0';
    xg_rng_seed(&rt->rng, (uint64_t)time(NULL) * 1000003u ^ (uint64_t)(uintptr_t)rt ^ rt->id);
    xg_clusters_opts o = {.seed = xg_rng_next(&rt->rng)};
    xg_upstream_cluster_hooks(&o);
    int rc = xg_clusters_new(rt->loop, &o, &rt->clusters);
    if (rc == 0)
        rc = xg_listeners_new(rt->loop, rt->id, dp->cb, dp->cb_arg, &rt->listeners);
    if (rc != 0) {
        xg_clusters_free(rt->clusters);
        free(rt);
        return rc;
    }
    xg_clusters_set_current(rt->clusters); /* DNS answers posted to this worker find the table (cluster/dns_hosts.h) */
    *out = rt;
    return 0;
}

/* Shutdown: connections are killed (their owners hear on_close at the end
 * of this pass and release what they hold; nothing there reads the
 * runtime), clusters drain, the snapshot goes. */
static void rt_free(xg_worker_rt *rt)
{
    xg_listeners_free(rt->listeners);
    xg_clusters_set_current(NULL);
    xg_clusters_free(rt->clusters);
    pin_drop(rt->pin);
    xg_listener_set_unref(rt->applied);
    free(rt);
}

static void swap_pin(xg_worker_rt *rt, xg_snapshot *snap)
{
    xg_snap_pin *p = malloc(sizeof(*p));
    if (p == NULL) {
        xg_log_error("worker %u: out of memory pinning snapshot %llu", rt->id, (unsigned long long)snap->generation);
        return;
    }
    xg_snapshot_ref(snap);
    p->snap = snap;
    p->users = 1;
    pin_drop(rt->pin);
    rt->pin = p;
}

static void apply(xg_worker_rt *rt, xg_snapshot *snap, xg_listener_set *set)
{
    swap_pin(rt, snap);
    int rc = xg_clusters_on_snapshot(rt->clusters, snap);
    if (rc != 0)
        xg_log_error("worker %u: clusters of snapshot %llu: %s (the previous hosts stay)", rt->id,
                     (unsigned long long)snap->generation, xg_strerror(rc));
    if (set != NULL && set != rt->applied) {
        xg_listeners_apply(rt->listeners, set);
        xg_listener_set_unref(rt->applied);
        xg_listener_set_ref(set);
        rt->applied = set;
    }
}

static void teardown_done(xg_dataplane *dp)
{
    pthread_mutex_lock(&dp->mu);
    dp->teardowns--;
    pthread_cond_broadcast(&dp->cv);
    pthread_mutex_unlock(&dp->mu);
}

static void on_reap(struct ev_loop *ev, ev_timer *t, int revents)
{
    reaper *r = t->data;
    xg_conn_abort_closing();
    xg_hcm_thread_cleanup();
    teardown_done(r->dp);
}

/* Shutdown, first step: listeners (and their connections) and clusters go;
 * the reaper finishes one iteration later. */
static void teardown(xg_dataplane *dp)
{
    xg_worker *w = xg_worker_self();
    if (self != NULL)
        rt_free(self);
    self = NULL;
    xg_worker_snapshot_swap(NULL);
    reaper *r = &dp->reapers[xg_worker_id(w)];
    r->dp = dp;
    ev_timer_init(&r->timer, on_reap, 0, 0);
    r->timer.data = r;
    ev_timer_start(xg_worker_loop(w)->ev, &r->timer);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Any thread: one worker is done with the publish (swapped, or never got it). */
static void track_done(publish_track *tr)
{
    if (tr == NULL || atomic_fetch_sub(&tr->left, 1) != 1)
        return;
    int64_t now = mono_us();
    if (tr->received_us != 0)
        xg_log_info("snapshot generation %llu active on all %u workers %.1f ms after its xDS response arrived "
                    "(%.1f ms after the publish)",
                    (unsigned long long)tr->generation, tr->workers, (now - tr->received_us) / 1e3,
                    (now - tr->published_us) / 1e3);
    else
        xg_log_info("snapshot generation %llu active on all %u workers %.1f ms after the publish",
                    (unsigned long long)tr->generation, tr->workers, (now - tr->published_us) / 1e3);
    free(tr);
}

static void on_apply(void *arg)
{
    apply_task *t = arg;
    if (t->set_only) {
        if (self != NULL && t->set != self->applied) {
            xg_listeners_apply(self->listeners, t->set);
            xg_listener_set_unref(self->applied);
            xg_listener_set_ref(t->set);
            self->applied = t->set;
        }
        goto done;
    }
    if (t->snap == NULL) {
        teardown(t->dp);
        goto done;
    }
    if (self == NULL && rt_new(t->dp, &self) != 0) {
        xg_log_error("worker: out of memory starting the data plane");
        xg_snapshot_unref(t->snap);
        goto done;
    }
    apply(self, t->snap, t->set);
    xg_log_debug("worker %u: now serving snapshot generation %llu", self->id, (unsigned long long)t->snap->generation);
    xg_worker_snapshot_swap(t->snap); /* takes the task's reference */
done:
    track_done(t->track);
    xg_listener_set_unref(t->set);
    free(t);
}

/* --- the publishing side --- */

/* The certificate file watch: a check every second, and a rebuild once the
 * files have been quiet for 0.3 s (a writer replacing the certificate and
 * then the key is seen as one change). */
#define WATCH_INTERVAL 1.0
#define WATCH_SETTLE 0.3

static void on_files_changed(void *arg);

int xg_dataplane_new(xg_workers *ws, const xg_listener_opts *o, xg_listener_conn_cb cb, void *cb_arg,
                     xg_dataplane **out)
{
    xg_dataplane *dp = calloc(1, sizeof(*dp));
    if (dp == NULL)
        return XG_ENOMEM;
    dp->reapers = calloc(xg_workers_count(ws), sizeof(*dp->reapers));
    dp->local_cluster = strdup(o != NULL && o->local_cluster != NULL ? o->local_cluster : "");
    int rc = dp->reapers != NULL && dp->local_cluster != NULL
                 ? xg_listener_mgr_new(xg_workers_count(ws), o, &dp->mgr)
                 : XG_ENOMEM;
    if (rc != 0) {
        free(dp->local_cluster);
        free(dp->reapers);
        free(dp);
        return rc;
    }
    if (o != NULL && o->watch_loop != NULL &&
        (rc = xg_cert_watch_new(o->watch_loop, WATCH_INTERVAL, WATCH_SETTLE, on_files_changed, dp, &dp->watch)) != 0) {
        xg_listener_mgr_free(dp->mgr);
        free(dp->local_cluster);
        free(dp->reapers);
        free(dp);
        return rc;
    }
    pthread_mutex_init(&dp->mu, NULL);
    pthread_mutex_init(&dp->pub, NULL);
    pthread_cond_init(&dp->cv, NULL);
    dp->ws = ws;
    dp->cb = cb;
    dp->cb_arg = cb_arg;
    *out = dp;
    return 0;
}

static void remember_tables(xg_dataplane *dp, const xg_snapshot *s)
{
    xg_snap_table_unref(dp->built_l);
    xg_snap_table_unref(dp->built_s);
    dp->built_l = s->tables[XG_RES_LISTENER];
    dp->built_s = s->tables[XG_RES_SECRET];
    xg_snap_table_ref(dp->built_l);
    xg_snap_table_ref(dp->built_s);
}

typedef struct path_list {
    const char **v;
    size_t n, cap;
    bool nomem;
} path_list;

static void add_path(void *arg, const char *file)
{
    path_list *l = arg;
    if (l->nomem)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        const char **v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL) {
            l->nomem = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = file;
}

/* The files the listeners of s read, and their digest, taken before a
 * build reads them (cert_watch.h). */
static uint64_t files_before(xg_dataplane *dp, const xg_snapshot *s, path_list *l)
{
    *l = (path_list){0};
    if (dp->watch == NULL)
        return 0;
    xg_listener_snapshot_paths(s, add_path, l);
    return xg_cert_watch_digest(l->v, l->n);
}

/* After a build from those files: they are the ones watched now. */
static void files_after(xg_dataplane *dp, path_list *l, uint64_t digest)
{
    if (dp->watch != NULL && (l->nomem || xg_cert_watch_set(dp->watch, l->v, l->n, digest) != 0))
        xg_log_error("certificate file watch: out of memory; rotated files take effect with the next listener update");
    free(l->v);
}

/* The set for s: the last one when neither listeners nor secrets changed
 * (snapshots share unchanged tables), else a new build. A reference, or
 * NULL when there is none (the workers keep what they have). */
static xg_listener_set *set_for(xg_dataplane *dp, const xg_snapshot *s)
{
    if (dp->last != NULL && s->tables[XG_RES_LISTENER] == dp->built_l && s->tables[XG_RES_SECRET] == dp->built_s) {
        xg_listener_set_ref(dp->last);
        return dp->last;
    }
    char err[512] = "";
    path_list files;
    uint64_t digest = files_before(dp, s, &files);
    xg_listener_set *set;
    int rc = xg_listener_mgr_build(dp->mgr, s, &set, err, sizeof(err));
    if (rc != 0) {
        free(files.v);
        xg_log_error("listeners of snapshot %llu: %s; the previous listeners stay", (unsigned long long)s->generation,
                     err[0] ? err : xg_strerror(rc));
        if (dp->last != NULL)
            xg_listener_set_ref(dp->last);
        return dp->last;
    }
    files_after(dp, &files, digest);
    xg_listener_set_unref(dp->last);
    dp->last = set;
    xg_listener_set_ref(set);
    remember_tables(dp, s);
    return set;
}

static int post(xg_dataplane *dp, unsigned i, xg_snapshot *s, xg_listener_set *set, bool set_only, publish_track *track)
{
    apply_task *t = malloc(sizeof(*t));
    if (t == NULL)
        return XG_ENOMEM;
    *t = (apply_task){.dp = dp, .track = track, .snap = s, .set = set, .set_only = set_only};
    if (s != NULL)
        xg_snapshot_ref(s);
    if (set != NULL)
        xg_listener_set_ref(set);
    int rc = xg_worker_post(xg_workers_get(dp->ws, i), on_apply, t);
    if (rc != 0) {
        xg_snapshot_unref(s);
        xg_listener_set_unref(set);
        free(t);
    }
    return rc;
}

/* Shutdown waits (at most 5 s) until every worker that took the teardown
 * has finished it, so the workers can be stopped with nothing left open. */
static void wait_teardowns(xg_dataplane *dp)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&dp->mu);
    while (dp->teardowns > 0)
        if (pthread_cond_timedwait(&dp->cv, &dp->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&dp->mu);
}

/* Keeps s as the snapshot refreshes rebuild from (NULL: none). */
static void keep_current(xg_dataplane *dp, xg_snapshot *s)
{
    if (s != NULL)
        xg_snapshot_ref(s);
    if (dp->cur != NULL)
        xg_snapshot_unref(dp->cur);
    dp->cur = s;
}

/* NULL for a teardown, or without memory (the update is then not timed). */
static publish_track *track_new(xg_dataplane *dp, const xg_snapshot *s)
{
    publish_track *tr = s != NULL ? malloc(sizeof(*tr)) : NULL;
    if (tr == NULL)
        return NULL;
    tr->workers = xg_workers_count(dp->ws);
    atomic_init(&tr->left, tr->workers);
    tr->generation = s->generation;
    tr->received_us = s->received_us;
    tr->published_us = mono_us();
    return tr;
}

static int publish_locked(xg_dataplane *dp, xg_snapshot *s)
{
    xg_listener_set *set = s != NULL ? set_for(dp, s) : NULL;
    publish_track *track = track_new(dp, s);
    int first_err = 0;
    for (unsigned i = 0; i < xg_workers_count(dp->ws); i++) {
        if (s == NULL) {
            pthread_mutex_lock(&dp->mu);
            dp->teardowns++;
            pthread_mutex_unlock(&dp->mu);
        }
        int rc = post(dp, i, s, set, false, track);
        if (rc != 0)
            track_done(track);
        if (rc != 0 && s == NULL)
            teardown_done(dp);
        if (rc != 0 && rc != XG_EAGAIN && first_err == 0)
            first_err = rc;
    }
    xg_listener_set_unref(set);
    keep_current(dp, s);
    if (s == NULL) {
        dp->stopped = true;
        wait_teardowns(dp);
    }
    return first_err;
}

int xg_dataplane_publish(xg_dataplane *dp, xg_snapshot *s)
{
    pthread_mutex_lock(&dp->pub);
    int rc = dp->stopped ? 0 : publish_locked(dp, s);
    pthread_mutex_unlock(&dp->pub);
    return rc;
}

/* A new set from the current snapshot with the files as they are now; the
 * workers apply it alone. A set that cannot be built (a certificate
 * replaced but its key not yet) keeps the previous one; the key's own
 * change triggers the next attempt. */
static void refresh_locked(xg_dataplane *dp)
{
    if (dp->stopped || dp->cur == NULL)
        return;
    char err[512] = "";
    path_list files;
    uint64_t digest = files_before(dp, dp->cur, &files);
    xg_listener_set *set;
    int rc = xg_listener_mgr_build(dp->mgr, dp->cur, &set, err, sizeof(err));
    if (rc != 0) {
        free(files.v);
        xg_log_error("listeners after a certificate file change: %s; the previous TLS contexts stay",
                     err[0] ? err : xg_strerror(rc));
        return;
    }
    files_after(dp, &files, digest);
    xg_listener_set_unref(dp->last);
    dp->last = set; /* its reference */
    for (unsigned i = 0; i < xg_workers_count(dp->ws); i++)
        if ((rc = post(dp, i, NULL, set, true, NULL)) != 0 && rc != XG_EAGAIN)
            xg_log_error("worker %u: cannot post the rebuilt listeners: %s", i, xg_strerror(rc));
}

int xg_dataplane_refresh(xg_dataplane *dp)
{
    pthread_mutex_lock(&dp->pub);
    refresh_locked(dp);
    pthread_mutex_unlock(&dp->pub);
    return 0;
}

static void on_files_changed(void *arg)
{
    xg_dataplane_refresh(arg);
}

void xg_dataplane_free(xg_dataplane *dp)
{
    if (dp == NULL)
        return;
    xg_cert_watch_free(dp->watch);
    keep_current(dp, NULL);
    xg_listener_set_unref(dp->last);
    xg_snap_table_unref(dp->built_l);
    xg_snap_table_unref(dp->built_s);
    xg_listener_mgr_free(dp->mgr);
    pthread_mutex_destroy(&dp->pub);
    pthread_mutex_destroy(&dp->mu);
    pthread_cond_destroy(&dp->cv);
    free(dp->local_cluster);
    free(dp->reapers);
    free(dp);
}
