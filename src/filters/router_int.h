/* Internals of the router filter, shared by its files: router.c (the filter
 * hooks, direct responses, redirects, setting a forwarded request up),
 * router_upstream.c (one upstream attempt: start, response callbacks,
 * failures) and router_retry.c (retry decisions with the circuit breakers,
 * back-off and per-try timers, the request body kept for retries). One
 * router per stream, in its arena; worker thread only. */
#ifndef XG_FILTERS_ROUTER_INT_H
#define XG_FILTERS_ROUTER_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "filters/filter.h"
#include "http/stream.h"
#include "router/hash_policy.h"
#include "router/retry_policy.h"
#include "upstream/upstream.h"

typedef struct router {
    xg_filter base; /* first */
    const xg_router_config *cfg;
    const xg_weighted_cluster *wc;
    const char *cluster_name; /* the route's target (the stream's arena) */
    xg_cluster_rt *rt;        /* the cluster of the latest attempt (referenced), or NULL */
    xg_upstream_req *up;      /* the current attempt; NULL before the first and between attempts */
    double t_up;              /* when the current attempt started */
    double t_req_end;         /* when the downstream request ended; 0 until then */
    double timeout;           /* the route (global) timeout in seconds, 0: none */
    uint64_t timeout_ms;
    int timeout_status;     /* 504, or 204 with x-envoy-upstream-rq-timeout-alt-response */
    size_t owed_req;        /* request bytes delivered, not yet acknowledged to the client */
    size_t owed_resp;       /* response bytes taken while the downstream was full */
    bool up_done;           /* no attempt is running (ended, cancelled, or none yet) */
    bool timer_started;     /* the route timeout was armed */
    bool req_end;           /* the downstream request is complete */
    bool resp_started;      /* response headers went downstream: no more retries */
    const char *up_failure; /* the latest failed attempt's TLS failure reason (upstream.h), or NULL */

    /* retries (router_retry.c) */
    xg_retry_state rs;
    bool retrying;          /* retries are possible: policy on, body within the buffer limit */
    bool backoff;           /* waiting for the back-off before the next attempt */
    bool timeout_retry;     /* the pending retry follows a per-try timeout (x-envoy-is-timeout-retry) */
    int priority;           /* XG_PRIORITY_* of the route */
    uint32_t attempt;       /* 1 for the first attempt */
    uint32_t body_limit;    /* request bytes kept for retries at most */
    xg_buf body;            /* the request body so far, kept for retries */
    xg_headers *trailers;   /* the request trailers, kept for retries */
    xg_cluster_rt *hold_rt; /* holds one retry unit of its breaker (referenced) while not NULL */
    uint64_t *tried;        /* address hashes of the hosts tried (previous_hosts) */
    uint32_t n_tried, cap_tried;
    ev_timer timer; /* back-off, per-try and per-try idle deadlines */
    bool timer_live;
    double backoff_at, per_try_at, idle_seen; /* absolute; 0: not armed */
    double per_try_idle;                      /* seconds, 0: none */
    /* The route hash_policy's value and generated cookies, for clusters
     * balanced by hash (router/hash_policy.h); empty otherwise. */
    xg_hash_result hash;
} router;

/* router.c */
bool xg__router_suppress(const router *r);
/* The route timeout is armed once the request is complete. */
void xg__router_start_timer(router *r);

/* router_upstream.c */
/* Starts the next attempt (r->attempt + 1): host pick, headers, the kept
 * body and trailers. Failures known at once end in a local reply or a retry. */
void xg__router_attempt(router *r);
/* The final answer for an attempt that failed with why (no response, or a
 * reset after the response started). */
void xg__router_fail(router *r, xg_upstream_reset why, bool started);
/* Ends the current attempt from our side (timeouts, retries): its stream is
 * reset and no callback follows. */
void xg__router_cancel_attempt(router *r);
/* n request bytes the client may send again (flow control). */
void xg__router_ack(router *r);

/* router_retry.c */
typedef enum xg_router_retry {
    XG_ROUTER_RETRY_NO,  /* the outcome is final */
    XG_ROUTER_RETRY_YES, /* a retry is scheduled: drop the attempt */
} xg_router_retry;
/* Sets retries up for the request (the policy and, for internal requests,
 * the x-envoy-* headers). 0 or XG_ENOMEM. */
int xg__router_retry_init(router *r);
/* The retry decision for an attempt whose outcome would_retry says (Envoy's
 * shouldRetry): a retry unit is taken from the breaker and the back-off
 * armed (YES), or URX / UO is recorded on the stream (NO). timeout_retry:
 * a per-try timeout ended the attempt. */
xg_router_retry xg__router_retry(router *r, bool would_retry, bool timeout_retry);
/* Keeps request body bytes for retries, up to the buffer limit; past it
 * retries are given up (and a request waiting for its retry is answered
 * 507). False when the stream was answered. */
bool xg__router_keep(router *r, const char *p, size_t n);
/* Retries are over (the response started, or the request ended): frees
 * what was kept and any retry unit held. */
void xg__router_retry_done(router *r);
/* (Re)arms the per-try timers for the current attempt; activity restarts
 * the idle one. */
void xg__router_per_try_start(router *r);
void xg__router_activity(router *r);
/* The attempt ended: its per-try timers stop (a back-off stays armed). */
void xg__router_per_try_stop(router *r);
/* Stops every router timer (the attempt ended for good, or the stream). */
void xg__router_timers_stop(router *r);
/* Remembers the host of the current attempt (previous_hosts). */
void xg__router_tried(router *r, const xg_host *h);
/* previous_hosts: true when h was tried before. */
bool xg__router_tried_before(const router *r, const xg_host *h);

#endif
