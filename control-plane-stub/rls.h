/* The stub's rate-limit service: envoy.service.ratelimit.v3.RateLimitService/
 * ShouldRateLimit served on the ADS server's port and completion queue.
 * Limits come from an xg_stub_rls_config; counts are fixed windows in
 * memory. Calls a domain asks to delay wait on a due list that the server's
 * poll loop drains, so a slow answer never blocks ADS. Single-threaded: all
 * of it runs on the thread that drives the completion queue. */
#ifndef XG_STUB_RLS_H
#define XG_STUB_RLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "jlog.h"
#include "rls_config.h"
#include "rls_counters.h"
#include "stream.h"

#define XG_STUB_RLS_METHOD "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"

typedef struct xg_stub_rls_call xg_stub_rls_call;

typedef struct xg_stub_rls {
    grpc_server *server; /* borrowed from the ADS server */
    grpc_completion_queue *cq;
    void *method; /* registered handle */
    xg_jlog *log;
    const xg_stub_rls_config *cfg; /* borrowed: kept alive by the caller until the next publish */
    xg_stub_rls_counters counters;
    xg_stub_rls_call *delayed; /* answers waiting for their due time, earliest first */
    size_t nalloc;             /* call objects alive */
    bool shutting_down;
} xg_stub_rls;

/* Registers the method on server (before grpc_server_start). */
void xg_stub_rls_init(xg_stub_rls *r, grpc_server *server, grpc_completion_queue *cq, xg_jlog *log,
                      const xg_stub_rls_config *cfg);
/* Asks for the first call (after grpc_server_start). 0 or XG_EIO. */
int xg_stub_rls_start(xg_stub_rls *r);
/* Serves cfg from now on; counters are kept. */
void xg_stub_rls_publish(xg_stub_rls *r, const xg_stub_rls_config *cfg);
/* A completion whose tag kind is XG_TAG_RLS_NEW or XG_TAG_RLS_DONE. */
void xg_stub_rls_on_tag(xg_stub_rls *r, xg_stub_tag *tag, bool ok);
/* Clamps a poll wait (ms) so that the next delayed answer is not late. */
int xg_stub_rls_wait_ms(const xg_stub_rls *r, int timeout_ms);
/* Sends the delayed answers that are due. */
void xg_stub_rls_run_due(xg_stub_rls *r);
/* Sends everything still delayed and takes no new calls. */
void xg_stub_rls_shutdown(xg_stub_rls *r);
bool xg_stub_rls_drained(const xg_stub_rls *r);
void xg_stub_rls_dispose(xg_stub_rls *r);

#endif
