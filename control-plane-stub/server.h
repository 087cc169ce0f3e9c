/* The stub's gRPC side: an HTTP/2 server (plaintext, or TLS in the OpenSSL
 * flavour) for the Aggregated Discovery Service on one completion queue,
 * driven by the caller's thread (xg_stub_server_poll), with any number of
 * concurrent streams. */
#ifndef XG_STUB_SERVER_H
#define XG_STUB_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "jlog.h"
#include "rls.h"
#include "snapshot.h"
#include "stream.h"
#include "tls.h"

struct xg_stub_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    void *methods[2]; /* registered handles, indexed by XG_STUB_SOTW / XG_STUB_DELTA */
    xg_jlog *log;
    const xg_stub_snapshot *snap; /* borrowed: the caller keeps it alive until the next publish */
    xg_stub_stream *streams;      /* open streams */
    size_t nalloc;                /* stream objects alive: requested, open or closing */
    uint64_t next_id;
    int port;
    bool shutting_down;
    bool shutdown_done;
    xg_stub_tag t_shutdown;
    bool rls_on; /* the rate-limit service is served on the same port */
    xg_stub_rls rls;
};

/* Initialises gRPC and starts serving on address:port (port 0 picks one;
 * srv->port holds the bound port), with TLS when tls->cert is set, and the
 * rate-limit service too when rls is not NULL. tls, log, snap and rls are
 * borrowed (tls only during the call). 0 or XG_EIO (nothing left running):
 * the port is taken, or gRPC rejected the certificate/key. */
int xg_stub_server_start(xg_stub_server *srv, const char *address, int port, const xg_stub_tls *tls, xg_jlog *log,
                         const xg_stub_snapshot *snap, const xg_stub_rls_config *rls);
/* Waits up to timeout_ms for one completion and handles it. */
void xg_stub_server_poll(xg_stub_server *srv, int timeout_ms);
/* Serves snap from now on and pushes what changed to every open stream. */
void xg_stub_server_publish(xg_stub_server *srv, const xg_stub_snapshot *snap);
/* Serves rate limits from rls from now on (counters are kept). */
void xg_stub_server_publish_rls(xg_stub_server *srv, const xg_stub_rls_config *rls);
/* Stops accepting calls and cancels the open ones; keep polling until
 * xg_stub_server_drained, then xg_stub_server_destroy. */
void xg_stub_server_shutdown(xg_stub_server *srv);
bool xg_stub_server_drained(const xg_stub_server *srv);
/* Frees the server and the queue and shuts gRPC down. */
void xg_stub_server_destroy(xg_stub_server *srv);

#endif
