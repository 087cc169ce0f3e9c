/* Hosts and host sets: one endpoint of one cluster as one worker sees it,
 * keyed by its address, with the weight, priority and EDS health the latest
 * config gave it and the runtime state that must survive config updates
 * (active requests, health flags, the upstream pools hanging off it). The
 * hosts of one priority form a host set with the usable subsets a balancer
 * picks from.
 *
 * Per worker: no locks, no atomics. A host is refcounted (plain counter) by
 * its cluster's table, its pools and the requests using it; a host that left
 * the config is marked removed, drains, and is freed by its last unref. */
#ifndef XG_CLUSTER_HOST_H
#define XG_CLUSTER_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/endpoint.h"

struct xg_cluster_rt; /* cluster/cluster.h */
struct xg_pool;       /* upstream/pool.h */
struct xg_lb;         /* cluster/lb.h */

/* "255.255.255.255:65535" or "[v6]:port", NUL-terminated. */
#define XG_HOST_ADDR_STR 64

/* Reasons other than EDS health that take a host out of rotation; set by
 * active health checking and outlier detection (issue 5), each followed by
 * xg_cluster_hosts_changed(). */
enum {
    XG_HOST_F_HC_FAILED = 1 << 0,        /* active health check says unhealthy */
    XG_HOST_F_OUTLIER_EJECTED = 1 << 1,  /* outlier detection ejected it */
    XG_HOST_F_PENDING_FIRST_HC = 1 << 2, /* ignore_new_hosts_until_first_hc */
};

/* The XG_HOST_F_* bits the main thread's health checking and outlier
 * detection own (upstream/health_mgr.h posts their values to the workers). */
#define XG_HOST_F_HEALTH_MASK (XG_HOST_F_HC_FAILED | XG_HOST_F_OUTLIER_EJECTED | XG_HOST_F_PENDING_FIRST_HC)

/* This worker's request outcomes for outlier detection
 * (upstream/outlier_report.h): runs of consecutive errors, reported to the
 * main thread's detector as they grow, and this interval's counts, which
 * the detector collects. Plain counters: one worker only. */
typedef struct xg_host_outcomes {
    uint32_t run[3];  /* consecutive 5xx, gateway failures, local-origin failures (outlier.h XG_OD_RUN_*) */
    uint32_t told[3]; /* the runs last reported */
    uint32_t epoch;   /* the detector's counter-reset epoch, as last applied here */
    uint32_t total, success;             /* responses (HTTP status), success = not 5xx */
    uint32_t local_total, local_success; /* split_external_local_origin_errors: connection-level outcomes */
} xg_host_outcomes;

typedef struct xg_host {
    struct sockaddr_storage addr; /* the key (family, address, port) */
    socklen_t addrlen;
    uint64_t hash;                   /* of the key */
    char addr_str[XG_HOST_ADDR_STR]; /* for logs and the access log's upstream host */
    char *hostname;                  /* Endpoint.hostname (owned copy), or NULL */
    uint32_t weight;                 /* >= 1 */
    uint32_t priority;               /* 0 is the highest */
    xg_health_status eds_health;
    uint32_t flags;           /* XG_HOST_F_* */
    uint32_t active_requests; /* upstream requests in flight (LEAST_REQUEST reads it) */
    uint32_t refs;
    bool removed;                  /* no longer in the config: draining */
    bool seen;                     /* reconcile scratch */
    struct xg_cluster_rt *cluster; /* referenced */
    struct xg_pool *pools;         /* upstream/: this host's connection pools (a short list) */
    /* A balancer's per-host carry-over while it rebuilds (lb.h); 0 otherwise. */
    uint64_t lb_mark;
    double lb_carry;
    xg_host_outcomes od; /* outlier detection (upstream/outlier_report.h) */
    uint32_t locality;   /* index of its locality in its host set (locality_weights) */
} xg_host;

/* The hosts of one priority. Arrays are owned by the set; the hosts are
 * referenced by the cluster's table, not by the set. */
typedef struct xg_host_set {
    uint32_t priority;
    xg_host **hosts; /* every host of this priority, in config order */
    uint32_t n;
    xg_host **healthy; /* usable: HEALTHY or UNKNOWN and no XG_HOST_F_* flag */
    uint32_t n_healthy;
    xg_host **degraded; /* DEGRADED and no flag: what the healthy hosts cannot take (priority.h) */
    uint32_t n_degraded;
    struct xg_lb *lb;          /* over healthy[], NULL when empty */
    struct xg_lb *lb_degraded; /* over degraded[], NULL when empty */
    /* Priority load and panic (cluster/priority.h), recomputed with the
     * subsets: percent of requests for the healthy and degraded hosts. */
    uint32_t overprovisioning; /* the assignment's overprovisioning_factor, percent (140) */
    uint32_t n_excluded;       /* waiting for their first health check (not counted) */
    uint8_t load_healthy, load_degraded;
    bool panic;
    struct xg_lb *lb_all; /* panic: over hosts[], else NULL */
    /* The localities of this priority in config order: their
     * load_balancing_weight (0 = none), and the locality-weighted pick
     * (cluster/priority.h) when the cluster asks for one, else NULL. */
    uint32_t *locality_weights;
    uint32_t n_localities;
    struct xg_locality_lb *loc;
} xg_host_set;

/* True when the host may take traffic normally. */
static inline bool xg_host_healthy(const xg_host *h)
{
    return h->flags == 0 && (h->eds_health == XG_HEALTH_HEALTHY || h->eds_health == XG_HEALTH_UNKNOWN);
}

/* True when the host may take traffic only when no healthy host is left. */
static inline bool xg_host_degraded(const xg_host *h)
{
    return h->flags == 0 && h->eds_health == XG_HEALTH_DEGRADED;
}

static inline void xg_host_ref(xg_host *h)
{
    h->refs++;
}

/* Hash and equality of address keys (family, address, port; scope for
 * IPv6) as the clusters' host tables use them, for other tables keyed by
 * endpoint address (the main thread's health state). cluster.c. */
uint64_t xg_host_addr_hash(const struct sockaddr *sa, socklen_t len);
bool xg_host_addr_eq(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen);

/* Drops a reference; the last one frees the host (its pools must be gone:
 * they hold references) and drops its reference on the cluster. */
void xg_host_unref(xg_host *h);

#endif
