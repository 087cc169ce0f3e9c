/* Unit tests for applying snapshots to a worker's cluster runtime
 * (src/cluster/reconcile.c): hosts matched by address keep their runtime
 * state and identity across EDS updates, removed hosts and clusters drain
 * through the hooks, connection-setting changes bump conn_gen, unchanged
 * tables cost nothing, and references are released (ASan checks leaks). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/cluster_util.h"
#include "core/error.h"
#include "xg_test.h"

typedef struct hooks_log {
    int removed;
    int changed;
    xg_host *last_removed;
} hooks_log;

static void on_removed(void *arg, xg_host *h)
{
    hooks_log *l = arg;
    l->removed++;
    l->last_removed = h;
    CHECK(h->removed);
}

static void on_changed(void *arg, xg_cluster_rt *rt)
{
    ((hooks_log *)arg)->changed++;
}

static xg_clusters *mk(hooks_log *log)
{
    xg_clusters_opts o = {.hooks = {on_removed, on_changed}, .hooks_arg = log, .seed = 9};
    xg_clusters *cs = NULL;
    XG_ASSERT(xg_clusters_new(NULL, &o, &cs) == 0);
    return cs;
}

static xg_host *host_at(xg_cluster_rt *rt, const char *ip, uint16_t port)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &in.sin_addr);
    return xg_cluster_find_host(rt, (struct sockaddr *)&in, sizeof in);
}

/* Applies a snapshot of one EDS cluster "web" (cfg reused when given) with eps. */
static int apply_eds(xg_clusters *cs, xg_res *cluster, const tep *eps, size_t n, uint64_t gen)
{
    xg_res_ref(cluster);
    xg_res *e = tu_eds("web", eps, n);
    xg_snapshot *s = tu_snap(gen, &cluster, 1, &e, 1);
    int rc = xg_clusters_on_snapshot(cs, s);
    xg_snapshot_unref(s);
    return rc;
}

XG_TEST(eds_update_keeps_hosts_that_remain)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    xg_res *c = tu_cluster("web", NULL, 0, NULL);
    tep v1[] = {{"10.0.0.1", 80, 1, 0, 0}, {"10.0.0.2", 80, 1, 0, 0}, {"10.0.0.3", 80, 1, 0, 0}};
    CHECK_EQ_INT(apply_eds(cs, c, v1, 3, 1), 0);
    xg_cluster_rt *rt = xg_clusters_find(cs, "web", 3);
    if (!CHECK(rt != NULL))
        return;
    xg_host *a = host_at(rt, "10.0.0.1", 80), *b = host_at(rt, "10.0.0.2", 80), *gone = host_at(rt, "10.0.0.3", 80);
    CHECK(a && b && gone);
    a->active_requests = 7; /* runtime state a pool or request would hold */
    xg_host_ref(gone);      /* as a pool would: it must outlive its removal */

    tep v2[] = {{"10.0.0.2", 80, 1, 0, 0}, {"10.0.0.1", 80, 5, XG_HEALTH_DEGRADED, 0}, {"10.0.0.4", 80, 1, 0, 0}};
    CHECK_EQ_INT(apply_eds(cs, c, v2, 3, 2), 0);
    CHECK(xg_clusters_find(cs, "web", 3) == rt);
    CHECK(host_at(rt, "10.0.0.1", 80) == a);
    CHECK(host_at(rt, "10.0.0.2", 80) == b);
    CHECK(host_at(rt, "10.0.0.3", 80) == NULL);
    CHECK(host_at(rt, "10.0.0.4", 80) != NULL);
    CHECK_EQ_INT(a->active_requests, 7);
    CHECK_EQ_INT(a->weight, 5);
    CHECK_EQ_INT(a->eds_health, XG_HEALTH_DEGRADED);
    CHECK_EQ_INT(rt->n_hosts, 3);
    CHECK_EQ_INT(rt->sets[0].n_healthy, 2);
    CHECK_EQ_INT(log.removed, 1);
    CHECK(log.last_removed == gone && gone->removed);
    CHECK_EQ_INT(log.changed, 0);
    a->active_requests = 0;
    xg_host_unref(gone);
    xg_res_unref(c);
    xg_clusters_free(cs);
    CHECK_EQ_INT(log.removed, 4);
}

XG_TEST(rotation_continues_across_an_update)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    xg_res *c = tu_cluster("web", NULL, 0, NULL);
    tep v1[] = {{"10.0.0.1", 80, 1, 0, 0}, {"10.0.0.2", 80, 1, 0, 0}, {"10.0.0.3", 80, 1, 0, 0}};
    apply_eds(cs, c, v1, 3, 1);
    xg_cluster_rt *rt = xg_clusters_find(cs, "web", 3);
    xg_host *seq[6];
    for (int i = 0; i < 3; i++)
        seq[i] = xg_cluster_pick(rt, &(xg_lb_ctx){0});
    /* Same hosts, new assignment object (e.g. a metadata-only change): the
     * next pick is the one after the last, not a fresh random start. */
    apply_eds(cs, c, v1, 3, 2);
    for (int i = 3; i < 6; i++)
        seq[i] = xg_cluster_pick(rt, &(xg_lb_ctx){0});
    for (int i = 0; i < 3; i++)
        CHECK(seq[i] == seq[i + 3]);
    CHECK_EQ_INT(rt->stats.membership_change, 2);
    xg_res_unref(c);
    xg_clusters_free(cs);
}

XG_TEST(unchanged_tables_are_skipped)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    xg_res *c = tu_cluster("web", (tep[]){{"10.0.0.1", 80, 1, 0, 0}}, 1, NULL);
    xg_snapshot *s1 = tu_snap(1, &c, 1, NULL, 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s1), 0);
    xg_cluster_rt *rt = xg_clusters_find(cs, "web", 3);
    CHECK_EQ_INT(rt->stats.membership_change, 1);
    /* A new generation sharing the tables (only listeners changed). */
    xg_snapshot *s2 = NULL;
    CHECK_EQ_INT(xg_snapshot_new(2, s1->tables, &s2), 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s2), 0);
    CHECK_EQ_INT(rt->stats.membership_change, 1);
    xg_snapshot_unref(s1);
    xg_snapshot_unref(s2);
    xg_clusters_free(cs);
}

XG_TEST(removed_cluster_drains_and_is_freed_by_its_last_holder)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    xg_res *c = tu_cluster("web", (tep[]){{"10.0.0.1", 80, 1, 0, 0}, {"10.0.0.2", 80, 1, 0, 0}}, 2, NULL);
    xg_res *d = tu_cluster("db", (tep[]){{"10.0.1.1", 5432, 1, 0, 0}}, 1, NULL);
    xg_res_ref(d);
    xg_res *both[] = {c, d};
    xg_snapshot *s = tu_snap(1, both, 2, NULL, 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s), 0);
    xg_snapshot_unref(s);
    xg_cluster_rt *web = xg_clusters_find(cs, "web", 3);
    xg_host *h = web->sets[0].hosts[0];
    xg_host_ref(h); /* a request in flight */
    s = tu_snap(2, &d, 1, NULL, 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s), 0);
    xg_snapshot_unref(s);
    CHECK(xg_clusters_find(cs, "web", 3) == NULL);
    CHECK(xg_clusters_find(cs, "db", 2) != NULL);
    CHECK_EQ_INT(log.removed, 2);
    CHECK(web->removed && h->removed);
    CHECK_STR(web->cfg->name, "web"); /* config kept alive for the holder */
    xg_host_unref(h);                 /* frees the host, then the runtime (ASan: no leak, no use after free) */
    xg_clusters_free(cs);
}

static void to_http2(xg_cluster *c)
{
    c->http.protocol = XG_UPSTREAM_HTTP2;
}

static void slower_connect(xg_cluster *c)
{
    c->connect_timeout_ms = 250;
}

XG_TEST(connection_settings_change_bumps_conn_gen)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    tep ep[] = {{"10.0.0.1", 80, 1, 0, 0}};
    xg_res *c = tu_cluster("web", ep, 1, NULL);
    xg_snapshot *s = tu_snap(1, &c, 1, NULL, 0);
    xg_clusters_on_snapshot(cs, s);
    xg_snapshot_unref(s);
    xg_cluster_rt *rt = xg_clusters_find(cs, "web", 3);
    xg_host *h = rt->sets[0].hosts[0];
    uint64_t gen = rt->conn_gen;

    c = tu_cluster("web", ep, 1, slower_connect);
    s = tu_snap(2, &c, 1, NULL, 0);
    xg_clusters_on_snapshot(cs, s);
    xg_snapshot_unref(s);
    CHECK_EQ_INT(rt->conn_gen, gen);
    CHECK_EQ_INT(rt->cfg->connect_timeout_ms, 250);
    CHECK(rt->sets[0].hosts[0] == h);

    c = tu_cluster("web", ep, 1, to_http2);
    s = tu_snap(3, &c, 1, NULL, 0);
    xg_clusters_on_snapshot(cs, s);
    xg_snapshot_unref(s);
    CHECK_EQ_INT(rt->conn_gen, gen + 1);
    CHECK_EQ_INT(log.changed, 1);
    CHECK(rt->sets[0].hosts[0] == h);
    CHECK_EQ_INT(log.removed, 0);
    xg_clusters_free(cs);
}

XG_TEST(eds_cluster_waits_for_its_assignment_and_ignores_duplicates)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    xg_res *c = tu_cluster("web", NULL, 0, NULL);
    xg_res_ref(c);
    xg_snapshot *s = tu_snap(1, &c, 1, NULL, 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s), 0);
    xg_snapshot_unref(s);
    xg_cluster_rt *rt = xg_clusters_find(cs, "web", 3);
    CHECK(rt != NULL && rt->n_hosts == 0 && xg_cluster_pick(rt, &(xg_lb_ctx){0}) == NULL);
    tep eps[] = {{"10.0.0.1", 80, 1, 0, 0}, {"10.0.0.1", 80, 9, 0, 1}, {"10.0.0.1", 81, 1, 0, 0}};
    CHECK_EQ_INT(apply_eds(cs, c, eps, 3, 2), 0);
    CHECK_EQ_INT(rt->n_hosts, 2);
    xg_host *h = host_at(rt, "10.0.0.1", 80);
    CHECK(h != NULL && h->weight == 1 && h->priority == 0);
    CHECK(xg_cluster_pick(rt, &(xg_lb_ctx){0}) != NULL);
    xg_res_unref(c);
    xg_clusters_free(cs);
}

XG_TEST(many_clusters_find_and_reconcile)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    enum { N = 1000 };
    xg_res *res[N];
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "c%04d", i);
        tep ep = {"10.1.0.1", (uint16_t)(1000 + i), 1, 0, 0};
        res[i] = tu_cluster(name, &ep, 1, NULL);
    }
    xg_snapshot *s = tu_snap(1, res, N, NULL, 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s), 0);
    xg_snapshot_unref(s);
    CHECK_EQ_INT(cs->n, N);
    for (int i = 0; i < N; i += 37) {
        snprintf(name, sizeof name, "c%04d", i);
        xg_cluster_rt *rt = xg_clusters_find(cs, name, strlen(name));
        CHECK(rt != NULL && strcmp(rt->name, name) == 0 && rt->n_hosts == 1);
    }
    CHECK(xg_clusters_find(cs, "c10000", 6) == NULL);
    CHECK(xg_clusters_find(cs, "c000", 4) == NULL);
    xg_clusters_free(cs);
    CHECK_EQ_INT(log.removed, N);
}
