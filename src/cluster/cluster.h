/* Per-worker cluster runtime state: for every cluster of the current
 * snapshot, its hosts (keyed by address) grouped into priority host sets
 * with their balancers, its upstream TLS context and its stats. This state
 * lives OUTSIDE the snapshots (DESIGN.md, "Config snapshots", point 5): when
 * the worker swaps to a new snapshot, xg_clusters_on_snapshot reconciles it,
 * keeping every host (with its pools, health and balancer position) whose
 * address remains and draining the rest.
 *
 * Everything here belongs to one worker thread: no locks, no atomics; the
 * config it reads (xg_cluster, xg_endpoints) is immutable and kept alive by
 * resource references the runtime holds. */
#ifndef XG_CLUSTER_CLUSTER_H
#define XG_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/host.h"
#include "cluster/lb.h"
#include "cluster/rng.h"
#include "config/cluster.h"
#include "config/snapshot.h"
#include "event/loop.h"

struct xg_tls_client; /* net/tls_ctx.h */
struct xg_breaker;    /* upstream/breaker.h */

/* Per-worker counters of one cluster, named as Envoy's cluster stats; the
 * admin side sums them over workers. */
typedef struct xg_cluster_stats {
    uint64_t upstream_rq_total;
    uint64_t upstream_rq_pending_overflow; /* UO */
    uint64_t upstream_cx_none_healthy;     /* UH */
    uint64_t upstream_cx_total;
    uint64_t upstream_cx_connect_fail;
    uint64_t upstream_cx_connect_timeout;
    uint64_t upstream_cx_idle_timeout;
    uint64_t upstream_cx_max_requests;
    uint64_t upstream_cx_destroy_remote;
    uint64_t upstream_rq_rx_reset; /* reset by the upstream */
    uint64_t upstream_rq_tx_reset; /* reset by us (cancel) */
    uint64_t membership_change;
    /* circuit breakers and retries (filters/router*.c, upstream/breaker.h) */
    uint64_t upstream_cx_overflow;             /* max_connections reached: the request waits */
    uint64_t upstream_rq_retry;                /* retries scheduled */
    uint64_t upstream_rq_retry_success;        /* ... whose attempt needed no further retry */
    uint64_t upstream_rq_retry_overflow;       /* not retried: max_retries / retry_budget */
    uint64_t upstream_rq_retry_limit_exceeded; /* not retried: num_retries used up (URX) */
    uint64_t upstream_rq_per_try_timeout;
    uint64_t upstream_rq_per_try_idle_timeout;
    uint64_t upstream_rq_timeout;              /* the route timeout (UT) */
    uint64_t retry_or_shadow_abandoned;        /* the body passed the retry buffer limit */
    uint64_t upstream_cx_max_duration_reached; /* max_connection_duration ended a connection */
} xg_cluster_stats;

typedef struct xg_clusters xg_clusters;

/* One cluster on one worker. */
typedef struct xg_cluster_rt {
    char *name; /* owned; the table key */
    uint64_t name_hash;
    xg_res *res;             /* the Cluster resource in use (referenced) */
    const xg_cluster *cfg;   /* res->body */
    xg_res *eps_res;         /* EDS: the ClusterLoadAssignment in use (referenced), or NULL */
    const xg_endpoints *eps; /* EDS: eps_res->body; STATIC: cfg->load_assignment; may be NULL */
    xg_host_set *sets;       /* indexed by priority, n_sets = eps->n_priorities */
    uint32_t n_sets;
    xg_host **tab; /* hosts by address: open addressing, tab_mask + 1 slots, at most half full */
    uint32_t tab_mask;
    uint32_t n_hosts;
    /* The balancing policy's module; each set carries its priority load,
     * panic flag and balancers (cluster/priority.h). */
    const xg_lb_vt *lb_vt;
    struct xg_tls_client *tls; /* client context when cfg->tls (referenced), else NULL */
    xg_res *tls_secrets[4];    /* the SDS secrets tls was built from (referenced), to spot rotations */
    uint64_t conn_gen;         /* bumped when connection settings change: pools made earlier drain */
    xg_clusters *owner;
    uint32_t refs; /* the worker's table, each live host, and holders (requests) */
    bool removed;  /* gone from the config: draining */
    bool seen;     /* reconcile scratch */
    xg_cluster_stats stats;
    /* This worker told the main thread's health checker that the cluster had
     * traffic (upstream/outlier_report.h): it then checks at interval rather
     * than no_traffic_interval. */
    bool hc_traffic_told;
    /* The process-wide circuit breaker counts of this cluster name
     * (upstream/breaker.h), bound by the upstream layer on first use, and how
     * to let it go: the cluster layer calls breaker_release(breaker) when rt
     * is freed (a function pointer, so cluster/ does not depend on upstream/). */
    struct xg_breaker *breaker;
    void (*breaker_release)(struct xg_breaker *b);
    /* STRICT_DNS / LOGICAL_DNS: the resolver's latest answer posted to this
     * worker (cluster/dns_hosts.h; referenced) and the endpoints made from
     * it and the config, which eps points to (owned). */
    struct xg_dns_hosts *dns;
    struct xg_endpoints *dns_eps;
    /* auto_sni / auto_san_validation: the named client contexts made from
     * tls for the requests' hosts (net/tls_ctx.h; owned). */
    struct xg_tls_names *tls_names;
} xg_cluster_rt;

/* What the upstream layer (pools) must do when the cluster layer drops or
 * changes things. Run on the worker during reconcile. */
typedef struct xg_cluster_hooks {
    /* h left the config (or its cluster did): its pools take no new request,
     * close idle connections, and let active ones finish. */
    void (*host_removed)(void *arg, xg_host *h);
    /* rt's connection settings changed (conn_gen was bumped): pools built
     * with the old settings (protocol, TLS context) drain the same way. */
    void (*conn_changed)(void *arg, xg_cluster_rt *rt);
} xg_cluster_hooks;

/* Builds the client TLS context of a cluster with cfg->tls, on behalf of
 * reconcile: NULL callback = xg_tls_client_new on the worker with SDS
 * secrets from snap (files are read there: acceptable for inline and small
 * mounted secrets; a later change moves this to the xds thread). 0 or an
 * XG_E* (the cluster then fails its connections with UF). */
typedef int (*xg_cluster_tls_fn)(void *arg, const xg_snapshot *snap, xg_res *cluster_res, struct xg_tls_client **out);

typedef struct xg_clusters_opts {
    xg_cluster_hooks hooks;
    void *hooks_arg;
    xg_cluster_tls_fn tls_fn;
    void *tls_arg;
    uint64_t seed; /* the generator's seed (0: from the clock and the thread) */
} xg_clusters_opts;

/* The per-worker table. */
struct xg_clusters {
    xg_loop *loop;
    xg_cluster_rt **tab; /* open addressing by name, tab_mask + 1 slots, at most half full */
    size_t tab_mask;
    size_t n;
    xg_snap_table *seen_tables[XG_RES_NTYPES]; /* the tables last reconciled (referenced) */
    xg_clusters_opts opts;
    xg_rng rng;
};

/* An empty table for the worker running loop. o may be NULL (no hooks).
 * 0 or XG_ENOMEM; *out owned by the caller (xg_clusters_free). */
int xg_clusters_new(xg_loop *loop, const xg_clusters_opts *o, xg_clusters **out);
/* Removes every cluster (hooks run as for a snapshot without clusters) and
 * frees the table. Hosts still referenced by pools or requests live on until
 * their last unref. */
void xg_clusters_free(xg_clusters *cs);

/* The calling worker's table (per-thread state, like xg_worker_snapshot):
 * the worker installs it at start-up; the router finds clusters through it.
 * NULL on a thread that installed none. */
xg_clusters *xg_clusters_current(void);
void xg_clusters_set_current(xg_clusters *cs);

/* Reconciles with snap (the worker's new snapshot; borrowed, NULL = none):
 * new clusters get runtime state, changed ones are updated in place (hosts
 * matched by address keep their state and pools), removed clusters and hosts
 * drain. Cheap when the cluster, endpoint and secret tables are the ones seen
 * last time. Never fails half-way: on XG_ENOMEM a cluster keeps its previous
 * hosts and the error is returned after the rest was reconciled. */
int xg_clusters_on_snapshot(xg_clusters *cs, const xg_snapshot *snap);

/* The cluster named name[0..len), or NULL. Borrowed until the next reconcile;
 * a request that keeps it takes a reference. */
xg_cluster_rt *xg_clusters_find(const xg_clusters *cs, const char *name, size_t len);

/* Picks a host as Envoy does (cluster/priority.h): a priority by the
 * overprovisioned priority loads (by ctx->hash for RING_HASH and MAGLEV, at
 * random otherwise), all of its hosts when it is in panic, else a locality
 * when locality-weighted, then the policy's pick. NULL when the cluster has
 * no usable host (the caller answers 503 with UH). Borrowed: reference it to
 * keep it. ctx may be NULL. */
xg_host *xg_cluster_pick(xg_cluster_rt *rt, const xg_lb_ctx *ctx);

/* Recomputes the usable subsets and balancers after host flags or EDS health
 * changed outside a reconcile (health checking, outlier detection). 0 or
 * XG_ENOMEM (then the previous balancers stay). */
int xg_cluster_hosts_changed(xg_cluster_rt *rt);

/* The host with that address, or NULL. Borrowed. */
xg_host *xg_cluster_find_host(const xg_cluster_rt *rt, const struct sockaddr *sa, socklen_t len);

static inline void xg_cluster_rt_ref(xg_cluster_rt *rt)
{
    rt->refs++;
}
/* The last reference frees the runtime and drops its resource references. */
void xg_cluster_rt_unref(xg_cluster_rt *rt);

#endif
