/* The client of envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit
 * over the gRPC C core, asynchronous from the worker's point of view.
 *
 * One process-wide client (xg_rls_start / xg_rls_stop, from main) owns a
 * completion queue, the thread that drains it, and the gRPC channels (one
 * per distinct destination, see rls_chans.h; idle ones retired by that
 * thread). A worker starts a call (non-blocking: the request
 * is encoded on the worker, the gRPC core sends it); the completion thread
 * decodes the answer and posts it to the loop of the worker that started
 * the call, where the callback runs. The call's memory belongs to the
 * client, never to the caller's arena: a caller that goes away cancels its
 * call, and the late completion frees it without touching the caller. */
#ifndef XG_RATELIMIT_RLS_CLIENT_H
#define XG_RATELIMIT_RLS_CLIENT_H

#include <stdint.h>

#include "envoy/service/ratelimit/v3/rls.pb-c.h"
#include "event/loop.h"
#include "ratelimit/descriptor.h"
#include "ratelimit/rls_chans.h"

typedef Envoy__Service__Ratelimit__V3__RateLimitResponse xg_rls_response;

typedef enum xg_rls_code {
    XG_RLS_OK,
    XG_RLS_OVER_LIMIT,
    XG_RLS_ERROR, /* unreachable, timed out, a gRPC error, or an answer that does not parse */
} xg_rls_code;

typedef struct xg_rls_result {
    xg_rls_code code;
    const xg_rls_response *resp; /* OK / OVER_LIMIT: the answer, borrowed for the callback; NULL on ERROR */
    const char *error;           /* ERROR: why, for the log (borrowed for the callback) */
} xg_rls_result;

/* Runs on the worker that started the call, unless the call was cancelled. */
typedef void (*xg_rls_cb)(void *arg, const xg_rls_result *r);

typedef struct xg_rls_call xg_rls_call;

/* Main thread, before the workers take traffic: starts the process-wide
 * client and its completion thread. 0, XG_ENOMEM or a negative errno. */
int xg_rls_start(void);
/* Main thread, after the workers stopped (their streams cancelled their
 * calls): cancels what is left, drains the queue, joins the thread, closes
 * the channels. Idempotent; safe without xg_rls_start. */
void xg_rls_stop(void);

/* Worker thread: asks the service about d under domain, answer within
 * timeout_ms (0: no deadline). cb(arg, result) will run on this worker's
 * loop exactly once unless *out is cancelled first. 0, or XG_ENOMEM,
 * XG_EAGAIN (no client, or it is stopping) or XG_EIO (the gRPC core refused
 * the call): then cb never runs. */
int xg_rls_call_start(const xg_rls_dest *dest, const char *domain, const xg_rl_descriptors *d, uint64_t timeout_ms,
                      xg_loop *loop, xg_rls_cb cb, void *arg, xg_rls_call **out);
/* Worker thread, the one that started c, before its callback ran: cb will
 * not run; the client frees c when the gRPC core is done with it. */
void xg_rls_call_cancel(xg_rls_call *c);

/* Any thread: whether a warning about the service (uri, key) should be
 * logged now: true at most once per XG_RLS_WARN_EVERY_S per service, so that
 * a broken service shows in the log without a line per request; *suppressed
 * gets how many were held back since the last one. True without a client. */
#define XG_RLS_WARN_EVERY_S 10.0
bool xg_rls_warn_due(bool uri, const char *key, uint32_t *suppressed);

#endif
