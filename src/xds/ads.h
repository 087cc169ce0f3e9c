/* The ADS transport: one AggregatedDiscoveryService stream (state of the world
 * or delta) to the control plane over the gRPC C core, on its own thread (the
 * xds thread). It owns the protocol mechanics — node, subscriptions, nonces,
 * versions, ACK/NACK, reconnect with backoff — and hands every response to a
 * handler, which decides ACK or NACK. It never decodes resources itself.
 * Everything here runs on the xds thread unless a function says otherwise. */
#ifndef XG_XDS_ADS_H
#define XG_XDS_ADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "xds/xds_type.h"

typedef struct xg_ads xg_ads;

/* One resource of a response: the Any (type_url + serialized message). In
 * delta mode name and version come from the Resource wrapper; in SotW they are
 * NULL (the handler reads the name from the decoded message) unless the
 * resource came in a Resource wrapper, which the transport unwraps (name or
 * version may still be NULL when the wrapper leaves them empty). Borrowed for
 * the duration of the on_response call. */
typedef struct xg_xds_resource {
    const char *name;
    const char *version;
    const char *type_url;
    const uint8_t *data;
    size_t len;
} xg_xds_resource;

typedef struct xg_xds_response {
    xg_xds_type type;
    bool delta;
    const char *version_info; /* SotW version_info, delta system_version_info ("" if absent) */
    const char *nonce;
    const xg_xds_resource *resources;
    size_t n_resources;
    const char *const *removed; /* delta removed_resources */
    size_t n_removed;
} xg_xds_response;

typedef enum xg_ads_conn {
    XG_ADS_CONNECTING,
    XG_ADS_CONNECTED,   /* stream open, at least one response received or request sent */
    XG_ADS_BACKOFF,     /* stream failed; waiting to reconnect */
    XG_ADS_STOPPED,
} xg_ads_conn;

typedef struct xg_ads_handler {
    /* Every response, in order. Return 0 to ACK; return XG_EINVAL and append the
     * reason to nack to NACK (sent as error_detail, google.rpc.Status code 3
     * INVALID_ARGUMENT; the previous version is kept). May call
     * xg_ads_subscribe. Must not block. */
    int (*on_response)(void *ctx, const xg_xds_response *r, xg_buf *nack);
    /* Connection state changes, with a short human-readable detail. */
    void (*on_conn)(void *ctx, xg_ads_conn state, const char *detail);
    void *ctx;
} xg_ads_handler;

typedef struct xg_ads_options {
    const char *server; /* "host:port" */
    bool delta;         /* DeltaAggregatedResources instead of StreamAggregatedResources */
    const char *node_id;
    const char *node_cluster;
    const char *ca_file;   /* TLS to the control plane (TLS=openssl flavour only); NULL = plaintext */
    const char *cert_file; /* client certificate for mTLS, optional */
    const char *key_file;
    /* With ca_file: the name the server certificate must carry (also the SNI); NULL = the host of server. */
    const char *server_name;
    double backoff_initial_s; /* 0 means 0.5 */
    double backoff_max_s;     /* 0 means 30 */
} xg_ads_options;

/* Creates the transport (copies the options). Does not connect yet. Any thread. */
int xg_ads_new(const xg_ads_options *o, const xg_ads_handler *h, xg_ads **out);
/* Starts the xds thread, which connects and keeps reconnecting until stopped.
 * Initial subscriptions: wildcard LDS and CDS. Any thread (once). */
int xg_ads_start(xg_ads *a);
/* Stops the thread and closes the stream; joins. Any thread but the xds thread. */
void xg_ads_stop(xg_ads *a);
void xg_ads_free(xg_ads *a);

/* Sets the names subscribed for type t; for LDS/CDS n == 0 means wildcard.
 * A change is sent at once (SotW: a new request with the full list; delta:
 * subscribe/unsubscribe lists). Copies the names. xds thread only. */
int xg_ads_subscribe(xg_ads *a, xg_xds_type t, const char *const *names, size_t n);

/* Runs fn(arg) on the xds thread after delay_ms (0: as soon as possible).
 * Callable from any thread; returns XG_EAGAIN once stopped (fn will not run). */
int xg_ads_post(xg_ads *a, uint32_t delay_ms, void (*fn)(void *arg), void *arg);

#endif
