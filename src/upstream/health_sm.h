/* The active health-check state machine of one host, as Envoy's
 * ActiveHealthCheckSession runs it: what a check result does to the host's
 * health (unhealthy_threshold, healthy_threshold, the first check that
 * decides at once, non-retriable answers that fail at once) and how long to
 * wait before the next check (interval, unhealthy_interval, the edge
 * intervals while a transition is pending, no_traffic_interval while the
 * cluster never had traffic, both jitters). Pure: no I/O, no clock; the
 * caller (health_session.c, main thread) owns timers and probes. */
#ifndef XG_UPSTREAM_HEALTH_SM_H
#define XG_UPSTREAM_HEALTH_SM_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/rng.h"
#include "config/cluster.h"

/* What one check found (Envoy's HealthCheckFailureType, plus success). */
typedef enum xg_hc_result {
    XG_HC_OK,             /* healthy */
    XG_HC_FAIL,           /* the host answered, wrongly (unexpected status, NOT_SERVING): unhealthy at once */
    XG_HC_FAIL_RETRIABLE, /* an HTTP status in retriable_statuses: counts toward unhealthy_threshold */
    XG_HC_FAIL_NETWORK,   /* refused, reset, closed: counts toward unhealthy_threshold */
    XG_HC_FAIL_TIMEOUT,   /* no answer within timeout: counts toward unhealthy_threshold */
} xg_hc_result;

/* "ok", "failed", "retriable", "network", "timeout". */
const char *xg_hc_result_name(xg_hc_result r);

/* What a result did to the host's health. */
typedef enum xg_hc_transition {
    XG_HC_UNCHANGED, /* same health as before, nothing pending */
    XG_HC_CHANGED,   /* healthy <-> unhealthy (or the pending flag cleared) */
    XG_HC_PENDING,   /* toward a change, the threshold not reached yet */
} xg_hc_transition;

typedef struct xg_hc_state {
    bool failed;                     /* FAILED_ACTIVE_HC: out of rotation */
    bool pending;                    /* PENDING_ACTIVE_HC: new, not yet checked (ignore_new_hosts_until_first_hc) */
    bool timed_out;                  /* ACTIVE_HC_TIMEOUT: failed, the last failure a timeout */
    bool first_check;                /* no result yet: the first one decides at once */
    uint32_t n_healthy, n_unhealthy; /* consecutive results toward a change */
    uint64_t successes, failures;    /* every result, for /clusters */
} xg_hc_state;

/* A host entering health checking: failed (new hosts, as Envoy: out of
 * rotation until a check passes) or healthy (a host already serving when
 * checking was turned on); pending marks it excluded until its first check. */
void xg_hc_state_init(xg_hc_state *s, bool failed, bool pending);

/* Applies one result (thresholds from hc). */
xg_hc_transition xg_hc_state_put(xg_hc_state *s, const xg_health_check *hc, xg_hc_result r);

/* Milliseconds until the next check after a result (ok: the success
 * intervals, else the unhealthy ones) that made transition t; traffic: the
 * cluster has ever sent a request (else no_traffic_interval, or
 * no_traffic_healthy_interval after a success that changed nothing
 * pending). Jitter as Envoy: + random % (interval_jitter_percent% of the
 * base) + random % interval_jitter; at least 1. */
int64_t xg_hc_interval_ms(const xg_health_check *hc, bool ok, xg_hc_transition t, bool traffic, xg_rng *rng);

/* Milliseconds before a new host's first check: random % initial_jitter, 0
 * without one. */
int64_t xg_hc_initial_delay_ms(const xg_health_check *hc, xg_rng *rng);

#endif
