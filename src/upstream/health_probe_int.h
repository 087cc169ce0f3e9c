/* Internals shared by health_probe.c (connections, results, TCP checks) and
 * health_http.c (HTTP and gRPC checks over a client codec). */
#ifndef XG_UPSTREAM_HEALTH_PROBE_INT_H
#define XG_UPSTREAM_HEALTH_PROBE_INT_H

#include <ev.h>

#include "codec/codec.h"
#include "core/arena.h"
#include "core/buf.h"
#include "net/conn.h"
#include "net/connect.h"
#include "upstream/health_probe.h"

/* Bytes a check keeps of what the host sends (TCP input, gRPC message):
 * beyond, the rest is ignored (a TCP check then waits for its timeout). */
#define XG_HC_RX_MAX 65536

struct xg_hc_probe {
    xg_loop *loop;
    const xg_health_check *hc;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *authority; /* owned */
    struct xg_tls_client *tls;
    double connect_timeout;
    xg_hc_probe_cb cb;
    void *arg;
    xg_connect *cx;  /* connecting */
    xg_conn *conn;   /* connected (kept between checks when reuse_connection) */
    xg_codec *codec; /* HTTP and gRPC */
    bool running;    /* a check is in progress */
    bool closing;    /* the connection goes once the result is delivered */
    xg_hc_result result;
    const char *detail;
    char detail_buf[96];
    ev_check deliver; /* never started: fed to report the result later in this pass */
    ev_check kick;    /* never started: fed to run the HTTP pump later in this pass */
    xg_deferred deferred;
    /* TCP */
    xg_buf rx;
    /* HTTP / gRPC: the check's stream */
    xg_arena arena;
    bool stream_open;
    uint32_t sid;
    int status; /* final response status, 0 until then */
    int grpc;   /* grpc-status, -1 until seen */
    xg_buf msg; /* gRPC response bytes */
};

/* health_probe.c: records the check's result and reports it from the loop;
 * the connection is closed first unless it may serve the next check. */
void xg__hc_finish(xg_hc_probe *p, xg_hc_result r, const char *detail);
/* health_probe.c: closes the connection and the codec (no callback). */
void xg__hc_drop_conn(xg_hc_probe *p);

/* health_http.c: the connection is up: make the codec (if not yet) and send
 * the request. 0 or an XG_E* (the check then fails). */
int xg__hc_http_start(xg_hc_probe *p);
/* health_http.c: moves bytes between the connection and the codec. */
void xg__hc_http_pump(xg_hc_probe *p);

#endif
