/* Non-blocking upstream connects (IPv4 and IPv6) with a deadline that covers
 * the TCP connect and, for upstream TLS, the handshake (Envoy raises
 * "connected" only after the handshake too). The result arrives through a
 * callback from the loop, never from inside xg_connect_start. Worker thread
 * only. */
#ifndef XG_NET_CONNECT_H
#define XG_NET_CONNECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "event/loop.h"
#include "net/conn.h"
#include "net/tls_ctx.h"

typedef struct xg_connect xg_connect;

/* status 0: c is connected (TLS established when asked), started, and now
 * owned by the callee, who must set itself as owner. Otherwise c is NULL and
 * status says why: -ECONNREFUSED, -ETIMEDOUT (the deadline), -EPROTO (TLS
 * handshake or certificate verification failed), or another negative errno. */
typedef void (*xg_connect_cb)(xg_conn *c, int status, void *arg);

typedef struct xg_connect_opts {
    double timeout;      /* seconds, 0: none (the cluster's connect_timeout) */
    xg_tls_client *tls;  /* NULL: plaintext */
    const char *sni;     /* TLS server_name, NULL: none */
    const uint8_t *alpn; /* wire-format ALPN list, NULL: the context's */
    size_t alpn_len;
} xg_connect_opts;

/* Starts connecting to sa. 0 (the callback will run exactly once unless
 * cancelled; *out identifies the attempt until then), or XG_ENOMEM / a
 * negative errno from socket() (no callback). */
int xg_connect_start(xg_loop *loop, const struct sockaddr *sa, socklen_t len, const xg_connect_opts *o,
                     xg_connect_cb cb, void *arg, xg_connect **out);
/* Abandons an attempt whose callback has not run: no callback follows and
 * everything is released. */
void xg_connect_cancel(xg_connect *r);
/* Inside the callback of a failed TLS attempt (-EPROTO): why the handshake
 * failed, as the TLS layer saw it (xg_tls_client_failure), else "". */
const char *xg_connect_failure(const xg_connect *r);

#endif
