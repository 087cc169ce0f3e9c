/* One host's active health checker: the connection (kept between checks
 * when reuse_connection, as Envoy), TLS when the cluster has it, and the
 * check itself:
 *
 *  - TCP: connect; then send `send` and wait until every `receive` payload
 *    has been seen, in order (not necessarily adjacent), in what the host
 *    sent since; without `receive` the connect alone passes (and the
 *    connection is closed, as Envoy does).
 *  - HTTP: one request (method, path, Host = the authority given,
 *    user-agent Envoy/HC, request_headers_to_remove then
 *    request_headers_to_add) over HTTP/1.1 or HTTP/2 (codec_client_type);
 *    an expected status passes, a retriable one is XG_HC_FAIL_RETRIABLE,
 *    any other XG_HC_FAIL. A response saying "connection: close" closes.
 *  - gRPC: grpc.health.v1.Health/Check over HTTP/2 with service_name,
 *    :authority, grpc-timeout and initial_metadata; SERVING with grpc-status
 *    0 passes, anything else (NOT_SERVING, an error status, a malformed
 *    answer) is XG_HC_FAIL.
 *
 * Refused, reset or closed connections are XG_HC_FAIL_NETWORK. The caller
 * owns the timeout (xg_hc_probe_abort). Main thread (any loop thread). */
#ifndef XG_UPSTREAM_HEALTH_PROBE_H
#define XG_UPSTREAM_HEALTH_PROBE_H

#include <sys/socket.h>

#include "config/cluster.h"
#include "event/loop.h"
#include "upstream/health_sm.h"

struct xg_tls_client;

typedef struct xg_hc_probe xg_hc_probe;

/* The outcome of one check; detail is static or probe-owned text for the
 * log, valid for the call. Runs from the loop, never inside an xg_hc_probe_*
 * call; it may call xg_hc_probe_run or _abort, and xg_hc_probe_free. */
typedef void (*xg_hc_probe_cb)(void *arg, xg_hc_result r, const char *detail);

typedef struct xg_hc_target {
    const struct sockaddr *addr; /* copied */
    socklen_t addrlen;
    const char *authority;     /* HTTP Host / gRPC :authority (copied) */
    struct xg_tls_client *tls; /* referenced by the probe; NULL: plaintext */
    double connect_timeout;    /* seconds */
} xg_hc_target;

/* A probe for hc (borrowed: it must outlive the probe). 0 or XG_ENOMEM. */
int xg_hc_probe_new(xg_loop *loop, const xg_health_check *hc, const xg_hc_target *t, xg_hc_probe_cb cb, void *arg,
                    xg_hc_probe **out);
/* Starts one check (none must be running); its result comes through cb. */
void xg_hc_probe_run(xg_hc_probe *p);
/* Gives the running check up (timed out): its connection is closed, no
 * callback follows. No-op when none runs. */
void xg_hc_probe_abort(xg_hc_probe *p);
/* True while a check runs. */
bool xg_hc_probe_running(const xg_hc_probe *p);
/* Aborts and frees (the memory at the end of the loop pass). NULL is fine. */
void xg_hc_probe_free(xg_hc_probe *p);

#endif
