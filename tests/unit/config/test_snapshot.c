/* Unit tests for snapshots (src/config/snapshot.c, snapshot_publish.c):
 * sorted tables with lookup, sharing of tables and resources between
 * generations, and a stress test publishing 10,000 snapshots to 4 workers
 * whose loops keep taking and releasing references meanwhile (run under
 * ASan in `make asan`; build with -fsanitize=thread by hand for TSan). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/snapshot.h"
#include "config/snapshot_publish.h"
#include "core/assert.h"
#include "core/error.h"
#include "event/workers.h"
#include "xg_test.h"

static int refs_of(xg_res *r)
{
    return atomic_load(&r->refs);
}

static xg_res *mk(xg_res_type t, const char *name)
{
    xg_res *r = xg_res_new(t, name);
    XG_ASSERT(r != NULL);
    return r;
}

XG_TEST(table_sorts_finds_and_refs)
{
    const char *names[] = {"web", "api", "zeta", "auth", "b"};
    xg_res *res[5];
    for (int i = 0; i < 5; i++)
        res[i] = mk(XG_RES_CLUSTER, names[i]);
    xg_snap_table *t = NULL;
    CHECK_EQ_INT(xg_snap_table_new(XG_RES_CLUSTER, res, 5, "v7", 1234, &t), 0);
    CHECK_EQ_INT(t->n, 5);
    CHECK_STR(t->res[0]->name, "api");
    CHECK_STR(t->res[4]->name, "zeta");
    CHECK_STR(t->version_info, "v7");
    for (int i = 0; i < 5; i++) {
        CHECK(xg_snap_table_find(t, names[i]) == res[i]);
        CHECK_EQ_INT(refs_of(res[i]), 2);
    }
    CHECK(xg_snap_table_find(t, "nope") == NULL);
    CHECK(xg_snap_table_find(t, "") == NULL);
    xg_snap_table_unref(t);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(refs_of(res[i]), 1);
        xg_res_unref(res[i]);
    }
}

XG_TEST(duplicate_names_are_refused_without_leaking)
{
    xg_res *res[3] = {mk(XG_RES_LISTENER, "a"), mk(XG_RES_LISTENER, "b"), mk(XG_RES_LISTENER, "a")};
    xg_snap_table *t = NULL;
    CHECK_EQ_INT(xg_snap_table_new(XG_RES_LISTENER, res, 3, NULL, 0, &t), XG_EEXIST);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(refs_of(res[i]), 1);
        xg_res_unref(res[i]);
    }
}

XG_TEST(snapshots_share_tables_and_empty_types_are_empty)
{
    xg_res *c = mk(XG_RES_CLUSTER, "c");
    xg_snap_table *clusters = NULL;
    CHECK_EQ_INT(xg_snap_table_new(XG_RES_CLUSTER, &c, 1, "1", 0, &clusters), 0);
    xg_snap_table *tables[XG_RES_NTYPES] = {NULL};
    tables[XG_RES_CLUSTER] = clusters;
    xg_snapshot *s1 = NULL, *s2 = NULL;
    CHECK_EQ_INT(xg_snapshot_new(1, tables, &s1), 0);
    CHECK_EQ_INT(xg_snapshot_new(2, tables, &s2), 0);
    CHECK(s1->tables[XG_RES_CLUSTER] == s2->tables[XG_RES_CLUSTER]);
    CHECK_EQ_INT(atomic_load(&clusters->refs), 3);
    CHECK(xg_snapshot_find(s2, XG_RES_CLUSTER, "c") == c);
    CHECK(xg_snapshot_find(s2, XG_RES_LISTENER, "c") == NULL);
    CHECK_EQ_INT(xg_snapshot_count(s1, XG_RES_LISTENER), 0);
    CHECK(s1->built_ms > 0);
    xg_snap_table_unref(clusters);
    xg_snapshot_unref(s1);
    CHECK_EQ_INT(refs_of(c), 2);
    xg_snapshot_unref(s2);
    CHECK_EQ_INT(refs_of(c), 1);
    xg_res_unref(c);
}

/* --- stress: publisher on this thread, readers on 4 worker loops --- */

#define N_WORKERS 4
#define N_PUBLISH 10000
#define PINNED 8

typedef struct reader {
    ev_idle idle;
    xg_snapshot *pinned[PINNED]; /* snapshots "requests" still hold */
    unsigned next;
    uint64_t last_gen;
    uint64_t final_gen; /* the worker's generation when the reader stopped */
    unsigned long reads;
    unsigned long errors;
    atomic_bool done;
} reader;

/* Checks what a request would read: the generation never goes back and the
 * snapshot is internally consistent (every resource findable by its name). */
static void check_snapshot(reader *r, xg_snapshot *s)
{
    if (s->generation < r->last_gen)
        r->errors++;
    r->last_gen = s->generation;
    for (int t = 0; t < XG_RES_NTYPES; t++)
        for (size_t i = 0; i < xg_snapshot_count(s, t); i++)
            if (xg_snapshot_find(s, t, xg_snapshot_at(s, t, i)->name) != xg_snapshot_at(s, t, i))
                r->errors++;
}

static void on_idle(struct ev_loop *ev, ev_idle *w, int revents)
{
    reader *r = w->data;
    xg_snapshot *s = xg_worker_snapshot();
    if (s == NULL)
        return;
    xg_snapshot_ref(s); /* a request starting on this generation */
    check_snapshot(r, s);
    xg_snapshot_unref(r->pinned[r->next]); /* the oldest request ends */
    r->pinned[r->next] = s;
    r->next = (r->next + 1) % PINNED;
    r->reads++;
    if (r->reads % 64 == 0)
        sched_yield(); /* two cores are shared with the publisher */
}

static void start_reader(void *arg)
{
    reader *r = arg;
    ev_idle_init(&r->idle, on_idle);
    r->idle.data = r;
    ev_idle_start(xg_worker_loop(xg_worker_self())->ev, &r->idle);
}

static void stop_reader(void *arg)
{
    reader *r = arg;
    ev_idle_stop(xg_worker_loop(xg_worker_self())->ev, &r->idle);
    r->final_gen = xg_worker_snapshot() ? xg_worker_snapshot()->generation : 0;
    for (int i = 0; i < PINNED; i++) {
        xg_snapshot_unref(r->pinned[i]);
        r->pinned[i] = NULL;
    }
    atomic_store(&r->done, true);
}

/* Generation g: the listener table is shared by runs of 100 generations (so
 * tables cross threads while shared), clusters are rebuilt each time from a
 * fixed pool (the same xg_res in many tables), endpoints are new objects. */
static xg_snapshot *build(uint64_t g, xg_res **pool, size_t npool, xg_snap_table **listeners)
{
    xg_snap_table *tables[XG_RES_NTYPES] = {NULL};
    if (g % 100 == 1) {
        xg_snap_table_unref(*listeners);
        xg_res *l = mk(XG_RES_LISTENER, "listener");
        XG_ASSERT(xg_snap_table_new(XG_RES_LISTENER, &l, 1, "v", 0, listeners) == 0);
        xg_res_unref(l);
    }
    tables[XG_RES_LISTENER] = *listeners;
    size_t n = 1 + g % npool;
    XG_ASSERT(xg_snap_table_new(XG_RES_CLUSTER, pool, n, NULL, 0, &tables[XG_RES_CLUSTER]) == 0);
    char name[32];
    snprintf(name, sizeof(name), "cla-%llu", (unsigned long long)g);
    xg_res *e = mk(XG_RES_ENDPOINTS, name);
    XG_ASSERT(xg_snap_table_new(XG_RES_ENDPOINTS, &e, 1, NULL, 0, &tables[XG_RES_ENDPOINTS]) == 0);
    xg_res_unref(e);
    xg_snapshot *s = NULL;
    XG_ASSERT(xg_snapshot_new(g, tables, &s) == 0);
    xg_snap_table_unref(tables[XG_RES_CLUSTER]);
    xg_snap_table_unref(tables[XG_RES_ENDPOINTS]);
    return s;
}

XG_TEST(stress_publish_10000_while_workers_read)
{
    xg_workers *ws = NULL;
    if (!CHECK_EQ_INT(xg_workers_new(N_WORKERS, &ws), 0))
        return;
    CHECK_EQ_INT(xg_workers_start(ws), 0);
    static reader readers[N_WORKERS];
    memset(readers, 0, sizeof(readers));
    for (int i = 0; i < N_WORKERS; i++)
        CHECK_EQ_INT(xg_worker_post(xg_workers_get(ws, i), start_reader, &readers[i]), 0);
    xg_res *pool[16];
    for (int i = 0; i < 16; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%02d", i);
        pool[i] = mk(XG_RES_CLUSTER, name);
    }
    xg_snap_table *listeners = NULL;
    for (uint64_t g = 1; g <= N_PUBLISH; g++) {
        xg_snapshot *s = build(g, pool, 16, &listeners);
        CHECK_EQ_INT(xg_snapshot_publish(ws, s), 0);
        xg_snapshot_unref(s); /* the workers hold theirs */
        if (g % 16 == 0)
            sched_yield();
    }
    xg_snap_table_unref(listeners);
    for (int i = 0; i < N_WORKERS; i++)
        CHECK_EQ_INT(xg_worker_post(xg_workers_get(ws, i), stop_reader, &readers[i]), 0);
    CHECK_EQ_INT(xg_snapshot_publish(ws, NULL), 0);
    xg_workers_free(ws);
    unsigned long reads = 0;
    for (int i = 0; i < N_WORKERS; i++) {
        CHECK(atomic_load(&readers[i].done));
        CHECK_EQ_INT(readers[i].errors, 0);
        CHECK_EQ_INT(readers[i].final_gen, N_PUBLISH);
        reads += readers[i].reads;
    }
    CHECK(reads > 0);
    fprintf(stderr, "stress: %lu snapshot reads by %d workers during %d publishes\n", reads, N_WORKERS, N_PUBLISH);
    /* Every table and snapshot is gone: only the pool's own references remain. */
    for (int i = 0; i < 16; i++) {
        CHECK_EQ_INT(refs_of(pool[i]), 1);
        xg_res_unref(pool[i]);
    }
}

/* Publishing to a worker whose loop has finished is skipped without leaking. */
XG_TEST(publish_after_stop_drops_the_reference)
{
    xg_workers *ws = NULL;
    CHECK_EQ_INT(xg_workers_new(2, &ws), 0);
    CHECK_EQ_INT(xg_workers_start(ws), 0);
    xg_workers_stop(ws);
    xg_snapshot *s = NULL;
    CHECK_EQ_INT(xg_snapshot_new(1, NULL, &s), 0);
    CHECK_EQ_INT(xg_snapshot_publish(ws, s), 0);
    CHECK_EQ_INT(atomic_load(&s->refs), 1);
    xg_snapshot_unref(s);
    xg_workers_free(ws);
}
