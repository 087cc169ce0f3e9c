/* Internals of the main thread's health manager, shared by health_mgr.c
 * (snapshots, cluster and host tables, the /clusters view),
 * health_session.c (active checks), outlier_mgr.c (outlier detection) and
 * health_sync.c (what crosses to and from the workers). Main thread only,
 * except where a function says "worker". */
#ifndef XG_UPSTREAM_HEALTH_INT_H
#define XG_UPSTREAM_HEALTH_INT_H

#include <ev.h>
#include <sys/socket.h>

#include "cluster/host.h"
#include "cluster/rng.h"
#include "upstream/health_mgr.h"
#include "upstream/health_probe.h"
#include "upstream/health_sm.h"
#include "upstream/outlier.h"
#include "upstream/outlier_report.h"

struct xg_tls_client;
typedef struct hm_cluster hm_cluster;

typedef struct hm_host {
    struct sockaddr_storage addr; /* the key */
    socklen_t addrlen;
    uint64_t hash;
    char addr_str[XG_HOST_ADDR_STR];
    hm_cluster *c;
    const xg_lb_endpoint *ep;         /* in c->eps (borrowed, replaced at each reconcile) */
    const xg_locality_endpoints *loc; /* its locality */
    uint32_t flags;                   /* the XG_HOST_F_HEALTH_MASK bits as decided here */
    bool seen;                        /* reconcile scratch */
    bool fresh;                       /* made by this reconcile: new to the cluster */
    bool hc_moved;                    /* reconcile: its check port or Host changed */
    /* active health checking */
    bool hc_on;    /* checked (the cluster has health checks, the endpoint allows them) */
    bool checking; /* a check runs; the timer is its timeout */
    xg_hc_state hc;
    ev_timer hc_timer;
    xg_hc_probe *probe;
    /* outlier detection */
    xg_od_host od;
    uint32_t (*runs)[XG_OD_NRUNS]; /* the latest run reported by each worker */
    uint32_t epoch;                /* bumped when the workers' runs must restart */
    uint32_t reset_mask;           /* runs to restart with the next update (1 << XG_OD_RUN_*) */
    uint64_t c_total, c_success, c_local_total, c_local_success; /* this collection */
    uint64_t rq_total, rq_success, rq_error;                     /* since the host appeared */
    /* updates to the workers */
    bool dirty;
    struct hm_host *dirty_next;
} hm_host;

struct hm_cluster {
    xg_health_mgr *m;
    char *name; /* owned; the table key */
    uint64_t name_hash;
    xg_res *res;           /* the Cluster resource in use (referenced) */
    const xg_cluster *cfg; /* res->body */
    xg_res *eps_res;       /* EDS: the assignment in use (referenced), or NULL */
    const xg_endpoints *eps;
    hm_host **hosts; /* in config order */
    uint32_t n_hosts;
    hm_host **tab; /* by address: open addressing, tab_mask + 1 slots, at most half full */
    uint32_t tab_mask;
    struct xg_dns_hosts *dns_used; /* DNS clusters: the answer dns_eps was made from (referenced), or NULL */
    struct xg_endpoints *dns_eps;  /* DNS clusters: the endpoints checked (owned; borrows from cfg) */
    struct xg_tls_client *tls;     /* for health checks when cfg->tls (referenced), else NULL */
    const xg_snap_table *tls_from; /* the secret table it was built from (identity only) */
    bool traffic;                  /* a worker saw a request: the checks use their traffic intervals */
    bool seen;
    /* outlier detection */
    ev_timer od_timer;
    uint32_t n_ejected;
    uint64_t collect_gen; /* the collection in progress */
    unsigned replies;     /* workers still to answer it */
    int64_t tick_ms;      /* when it started */
    double sr_mean, sr_threshold, lsr_mean, lsr_threshold;
    /* updates to the workers */
    hm_host *dirty_head;
    bool dirty; /* on m's dirty list */
    hm_cluster *dirty_next;
};

struct xg_health_mgr {
    xg_loop *loop;
    xg_workers *ws;
    unsigned n_workers;
    hm_cluster **tab; /* by name: open addressing, tab_mask + 1 slots, at most half full */
    size_t tab_mask;
    size_t n;
    xg_snapshot *snap; /* the snapshot last applied (referenced) */
    xg_rng rng;
    ev_check flush; /* never started: fed to post the pending updates at the end of this pass */
    hm_cluster *dirty_head;
    struct xg_dns_hosts **dns; /* the latest DNS answer of each DNS cluster (referenced) */
    size_t n_dns, cap_dns;
    bool stopped;
};

/* health_mgr.c */
int64_t xg__hm_now_ms(const xg_health_mgr *m);
hm_cluster *xg__hm_find_cluster(const xg_health_mgr *m, const char *name);
hm_host *xg__hm_find_host(const hm_cluster *c, const struct sockaddr *sa, socklen_t len);
/* Sets h's health bits to flags; a change is posted to the workers. */
void xg__hm_set_flags(hm_host *h, uint32_t flags);
/* Queues h's state for the workers (flags, run resets) even when unchanged. */
void xg__hm_mark_dirty(hm_host *h);

/* health_session.c: health checking of one host. */
/* Starts (or restarts, after a config change) checking h: a new probe, the
 * first check after delay_ms. 0 or XG_ENOMEM. */
int xg__hc_session_start(hm_host *h, int64_t delay_ms);
/* Stops checking h (no flags change). */
void xg__hc_session_stop(hm_host *h);
/* The cluster just had its first traffic: waits longer than its traffic
 * interval are cut short. */
void xg__hc_cluster_traffic(hm_cluster *c);

/* outlier_mgr.c */
void xg__od_cluster_start(hm_cluster *c); /* (re)arms the interval timer */
void xg__od_cluster_stop(hm_cluster *c);
/* A worker's run report arrived (worker index w). */
void xg__od_on_runs(hm_host *h, unsigned w, const uint32_t runs[XG_OD_NRUNS], uint32_t epoch);
/* One worker's interval counts for collection gen of c. */
void xg__od_on_counts(hm_cluster *c, uint64_t gen, const xg_outlier_counts *v, uint32_t n);
/* h was ejected and leaves rotation, or is removed: bookkeeping. */
void xg__od_uneject(hm_host *h, int64_t now, const char *why);

/* health_sync.c */
/* Posts every pending update to the workers (runs at the end of the pass). */
void xg__hs_flush(xg_health_mgr *m);
/* Asks every worker for c's interval counts (collection c->collect_gen). */
void xg__hs_collect(hm_cluster *c);
/* The report sink the workers call (outlier_report.h). */
void xg__hs_sink(xg_health_mgr *m, xg_outlier_sink *s);

#endif
