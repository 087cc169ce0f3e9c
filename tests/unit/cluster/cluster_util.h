/* Test helpers: Cluster and ClusterLoadAssignment resources built by hand
 * (the shape src/xds/xlate_cluster.c and xlate_endpoint.c produce, with
 * Envoy's defaults), and snapshots holding them. Shared by the cluster and
 * upstream unit tests (each its own process). */
#ifndef XG_TEST_CLUSTER_UTIL_H
#define XG_TEST_CLUSTER_UTIL_H

#include <arpa/inet.h>
#include <string.h>

#include "config/cluster.h"
#include "config/endpoint.h"
#include "config/snapshot.h"
#include "core/assert.h"

typedef struct tep {
    const char *ip;
    uint16_t port;
    uint32_t weight;         /* 0: 1 */
    xg_health_status health; /* UNKNOWN by default */
    uint32_t priority;
} tep;

__attribute__((unused)) static xg_endpoints *tu_endpoints(xg_arena *a, const char *cluster, const tep *eps, size_t n)
{
    xg_endpoints *e = xg_arena_calloc(a, 1, sizeof *e);
    uint32_t np = 0;
    for (size_t i = 0; i < n; i++)
        np = eps[i].priority + 1 > np ? eps[i].priority + 1 : np;
    e->cluster_name = xg_arena_strdup(a, cluster);
    e->localities = xg_arena_calloc(a, np ? np : 1, sizeof *e->localities);
    e->n_localities = np;
    e->n_priorities = np;
    e->n_endpoints = n;
    e->overprovisioning_factor = 140;
    for (uint32_t p = 0; p < np; p++) {
        xg_locality_endpoints *l = &e->localities[p];
        l->region = l->zone = l->sub_zone = "";
        l->priority = p;
        l->endpoints = xg_arena_calloc(a, n, sizeof *l->endpoints);
        for (size_t i = 0; i < n; i++) {
            if (eps[i].priority != p)
                continue;
            xg_lb_endpoint *le = &l->endpoints[l->n_endpoints++];
            struct sockaddr_in *in = (struct sockaddr_in *)&le->addr;
            le->host = xg_arena_strdup(a, eps[i].ip);
            le->port = eps[i].port;
            le->is_ip = true;
            in->sin_family = AF_INET;
            in->sin_port = htons(eps[i].port);
            XG_ASSERT(inet_pton(AF_INET, eps[i].ip, &in->sin_addr) == 1);
            le->addrlen = sizeof *in;
            le->health = eps[i].health;
            le->weight = eps[i].weight ? eps[i].weight : 1;
        }
    }
    return e;
}

/* A ClusterLoadAssignment resource named name. */
__attribute__((unused)) static xg_res *tu_eds(const char *name, const tep *eps, size_t n)
{
    xg_res *r = xg_res_new(XG_RES_ENDPOINTS, name);
    XG_ASSERT(r != NULL);
    r->body = tu_endpoints(&r->arena, name, eps, n);
    return r;
}

__attribute__((unused)) static void tu_cluster_defaults(xg_cluster *c)
{
    c->connect_timeout_ms = 5000;
    c->per_connection_buffer_limit_bytes = 1 << 20;
    c->lb.policy = XG_LB_ROUND_ROBIN;
    c->lb.healthy_panic_threshold = 50;
    for (int p = 0; p < XG_N_PRIORITIES; p++)
        c->thresholds[p] = (xg_cb_thresholds){
            .max_connections = 1024, .max_pending_requests = 1024, .max_requests = 1024, .max_retries = 3};
    c->http.protocol = XG_UPSTREAM_HTTP1;
    c->http.idle_timeout_ms = 3600000;
    c->http.max_headers_count = 100;
}

/* A STATIC cluster (eps inline) or, with eps NULL, an EDS cluster reading
 * the assignment named like the cluster. tweak (may be NULL) edits the
 * config before it is frozen. */
__attribute__((unused)) static xg_res *tu_cluster(const char *name, const tep *eps, size_t n,
                                                  void (*tweak)(xg_cluster *c))
{
    xg_res *r = xg_res_new(XG_RES_CLUSTER, name);
    XG_ASSERT(r != NULL);
    xg_cluster *c = xg_arena_calloc(&r->arena, 1, sizeof *c);
    c->name = r->name;
    tu_cluster_defaults(c);
    if (eps != NULL) {
        c->type = XG_CLUSTER_STATIC;
        c->load_assignment = tu_endpoints(&r->arena, name, eps, n);
    } else {
        c->type = XG_CLUSTER_EDS;
        c->eds_service_name = r->name;
    }
    if (tweak != NULL)
        tweak(c);
    r->body = c;
    return r;
}

/* A snapshot of these clusters and assignments; takes over the callers'
 * references (pass each resource with one reference of its own). */
__attribute__((unused)) static xg_snapshot *tu_snap(uint64_t gen, xg_res **clusters, size_t nc, xg_res **eps, size_t ne)
{
    xg_snap_table *tables[XG_RES_NTYPES] = {NULL};
    XG_ASSERT(xg_snap_table_new(XG_RES_CLUSTER, clusters, nc, NULL, 0, &tables[XG_RES_CLUSTER]) == 0);
    XG_ASSERT(xg_snap_table_new(XG_RES_ENDPOINTS, eps, ne, NULL, 0, &tables[XG_RES_ENDPOINTS]) == 0);
    xg_snapshot *s = NULL;
    XG_ASSERT(xg_snapshot_new(gen, tables, &s) == 0);
    for (int t = 0; t < XG_RES_NTYPES; t++)
        xg_snap_table_unref(tables[t]);
    for (size_t i = 0; i < nc; i++)
        xg_res_unref(clusters[i]);
    for (size_t i = 0; i < ne; i++)
        xg_res_unref(eps[i]);
    return s;
}

#endif
