/* The HTTP connection manager: owns each downstream connection handed over
 * by a listener once its filter chain is chosen and its transport is ready.
 * It picks the codec (codec_type AUTO: ALPN "h2" or the h2c preface ->
 * HTTP/2, else HTTP/1.1), runs one stream per request (http/stream.h) with
 * Envoy's request handling (limits, path normalisation, XFF, x-request-id,
 * routing) and HTTP filter chain, writes responses, and enforces the
 * connection timers (idle_timeout, max_connection_duration, drain).
 * Worker thread only; docs/http.md describes the behaviour. */
#ifndef XG_HTTP_HCM_H
#define XG_HTTP_HCM_H

#include "config/listener.h"
#include "net/conn.h"

/* The listener's hand-off (net/listener.h's xg_listener_conn_cb): makes a
 * connection manager the owner of c for chain's HttpConnectionManager.
 * arg is unused. On allocation failure c is closed. */
void xg_hcm_on_conn(xg_conn *c, const xg_filter_chain *chain, void *arg);

/* Worker teardown, once its connections are gone: frees the worker's spare
 * stream objects (kept for reuse between requests). */
void xg_hcm_thread_cleanup(void);

#endif
