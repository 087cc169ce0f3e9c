/* Circuit breaker counts: connections, pending requests, active requests and
 * active retries of one cluster and priority, shared by every worker. Envoy
 * keeps one resource manager per cluster and priority for the whole process,
 * so a limit such as max_requests: 100 means 100 in total whatever the number
 * of workers; xdsgate does the same with one process-wide object per cluster
 * name (runtime state outside the snapshots: a cluster update, or a removal
 * and re-add while requests are in flight, keeps the counts).
 *
 * Cost: the counters of one (cluster, priority) share one 64-byte cache line;
 * a request does one atomic compare-and-swap when it gets its stream and one
 * atomic subtract when it ends (plus the same for the pending queue when it
 * has to wait for a connection, and per connection opened and closed). That
 * line moves between the cores whose workers use the cluster at the same
 * time; nothing else on the request path is shared. The registry itself
 * (name -> breaker) takes a mutex, only when a worker first uses a cluster.
 *
 * A limit is checked and taken in one step (compare-and-swap), so the count
 * never passes a limit because two workers raced, unlike Envoy's check-then-
 * increment. Thread-safe; a NULL breaker (allocation failure) limits
 * nothing. */
#ifndef XG_UPSTREAM_BREAKER_H
#define XG_UPSTREAM_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/cluster.h"

typedef enum xg_breaker_res {
    XG_BR_CONNECTIONS, /* max_connections: open or opening upstream connections */
    XG_BR_PENDING,     /* max_pending_requests: requests waiting for a connection */
    XG_BR_REQUESTS,    /* max_requests: requests holding a stream on a connection */
    XG_BR_RETRIES,     /* max_retries / retry_budget: retries scheduled or in flight */
    XG_BR_N,
} xg_breaker_res;

typedef struct xg_breaker xg_breaker;

/* The breaker of the cluster called name, made when no worker holds it yet;
 * one reference for the caller (xg_breaker_unref). NULL on ENOMEM. */
xg_breaker *xg_breaker_get(const char *name);
/* Drops a reference; the last one frees the breaker (its counts must be 0
 * by then: every holder releases what it took first). NULL is a no-op. */
void xg_breaker_unref(xg_breaker *b);

/* Takes one unit of res when fewer than max are taken; false (nothing taken)
 * at the limit. */
bool xg_breaker_try(xg_breaker *b, int prio, xg_breaker_res res, uint32_t max);
/* Takes one unit regardless of the limit (Envoy's "a pool with no connection
 * may always open one"). */
void xg_breaker_inc(xg_breaker *b, int prio, xg_breaker_res res);
/* Gives back one unit taken by try or inc. */
void xg_breaker_dec(xg_breaker *b, int prio, xg_breaker_res res);
/* The units of res taken now (tests, stats). 0 for NULL. */
uint32_t xg_breaker_count(const xg_breaker *b, int prio, xg_breaker_res res);

/* The retry limit now: max_retries, or with a retry budget
 * max(budget_percent % of (active + pending requests), min_retry_concurrency)
 * (Envoy's RetryBudgetImpl). */
uint32_t xg_breaker_retry_max(const xg_breaker *b, int prio, const xg_cb_thresholds *t);
/* Takes a retry unit when below xg_breaker_retry_max. */
bool xg_breaker_try_retry(xg_breaker *b, int prio, const xg_cb_thresholds *t);

/* Breakers alive in the registry (tests: none may leak). */
uint32_t xg_breaker_live(void);

#endif
