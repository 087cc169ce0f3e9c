/* Listeners: per-worker SO_REUSEPORT sockets for every listener address, the
 * accept loop, connection limits (global, and per filter chain with the
 * connection_limit filter), filter-chain selection in Envoy's order (with the
 * tls_inspector's SNI/ALPN), the TLS handshake, and draining. Two halves:
 *
 *  - The manager (main or xds thread): turns a snapshot's listeners into an
 *    immutable xg_listener_set: TLS server contexts per filter chain (files
 *    are read here), and one listening socket per worker per address. An
 *    address the previous set already had keeps its sockets (never rebound,
 *    so no connection in an accept queue is lost); only new addresses bind.
 *  - The worker table (each worker): applies a set by address. Same address
 *    and same Listener resource: keeps sockets and connections and swaps the
 *    configuration (a rotated SDS certificate takes effect for new
 *    handshakes). Same address, changed Listener: keeps the socket, new
 *    connections get the new configuration, connections of the old one
 *    drain. Removed address: stops accepting, closes the socket, drains.
 *
 * A connection is handed to the upper layer (the HTTP connection manager)
 * once its filter chain is chosen and its transport is ready, with the chain
 * (borrowed: valid while the connection lives, the set pins it). */
#ifndef XG_NET_LISTENER_H
#define XG_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/listener.h"
#include "config/snapshot.h"
#include "event/loop.h"
#include "net/conn.h"
#include "net/tls_ctx.h"

/* --- filter-chain selection (pure; any thread) --- */

/* What is known about a new connection when its chain is chosen. */
typedef struct xg_conn_facts {
    const struct sockaddr *local; /* destination address and port */
    const struct sockaddr *peer;  /* source address and port */
    const char *sni;              /* server name from the ClientHello (any case), NULL when none */
    size_t sni_len;
    xg_transport_proto transport; /* XG_TRANSPORT_TLS or XG_TRANSPORT_RAW_BUFFER (the default) */
    const xg_lstr *alpn;          /* the client's ALPN list, in its order */
    size_t n_alpn;
} xg_conn_facts;

/* Envoy's filter-chain selection: at each level in order (destination port,
 * destination prefix (longest), server name (exact, then longest "*."
 * suffix), transport protocol, application protocol (the client's first
 * listed that some chain names), source type, source prefix (longest),
 * source port) the most specific key that matches wins and only its chains
 * go on, with an empty criterion as the catch-all at its level; there is no
 * backtracking. No chain left: default_filter_chain, else NULL (close). */
const xg_filter_chain *xg_listener_select(const xg_listener *l, const xg_conn_facts *f);

/* --- the TLS inspector's ClientHello parser (pure; bounded, hostile input) --- */

#define XG_HELLO_MAX_ALPN 16

typedef struct xg_client_hello {
    bool is_tls;   /* false: the bytes are not a TLS handshake (transport raw_buffer) */
    char sni[256]; /* lowercase host_name, "" when absent */
    size_t sni_len;
    xg_lstr alpn[XG_HELLO_MAX_ALPN]; /* the client's list in order (slices of alpn_buf) */
    size_t n_alpn;
    char alpn_buf[512];
    size_t alpn_used;
} xg_client_hello;

/* Parses the first n bytes a client sent. 1: decided (out filled); 0: more
 * bytes needed; XG_EINVAL: a TLS handshake record that is malformed. Never
 * reads past n. */
int xg_client_hello_parse(const uint8_t *p, size_t n, xg_client_hello *out);

/* Seconds a downstream TLS handshake may take when the filter chain sets no
 * transport_socket_connect_timeout (Envoy: unlimited; a safer edge default). */
#define XG_LISTENER_HANDSHAKE_TIMEOUT 10.0

/* --- manager: listener sets (main or xds thread) --- */

typedef struct xg_listener_mgr xg_listener_mgr;
typedef struct xg_listener_set xg_listener_set;

typedef struct xg_listener_opts {
    /* Downstream connections at once, all listeners and workers together
     * (--max-downstream-connections, Envoy's overload manager
     * global_downstream_max_connections); listeners with
     * ignore_global_conn_limit are not counted. 0: unlimited. */
    uint64_t max_conns;
    double drain_time;      /* seconds a draining listener's connections get (default 600, Envoy's --drain-time-s) */
    uint32_t accept_budget; /* accepts per socket event when the listener sets none (default 64) */
    /* The main thread's loop, where the dataplane watches the certificate
     * files of listener TLS contexts and rebuilds them when they change;
     * NULL: files are read only when a snapshot changes the listeners. */
    xg_loop *watch_loop;
    /* The local service cluster (--node-cluster), which the rate-limit
     * source_cluster action reports; copied. NULL: "". */
    const char *local_cluster;
} xg_listener_opts;

void xg_listener_opts_init(xg_listener_opts *o);

/* A manager for n_workers workers. 0 or XG_ENOMEM. */
int xg_listener_mgr_new(unsigned n_workers, const xg_listener_opts *o, xg_listener_mgr **out);
/* Frees the manager (sets keep their sockets until freed themselves). */
void xg_listener_mgr_free(xg_listener_mgr *m);

/* Builds the set for every listener of snap: TLS contexts (SDS secrets looked
 * up in snap) and sockets. On failure nothing changes (sockets bound for it
 * are closed) and err names the listener and the reason (e.g. "listener
 * \"https\": 0.0.0.0:443: Address already in use"). *out has one reference. */
int xg_listener_mgr_build(xg_listener_mgr *m, const xg_snapshot *snap, xg_listener_set **out, char *err, size_t errlen);
/* The same from an explicit list of listener resources (tests, or callers
 * without a snapshot); find resolves SDS secrets (may be NULL). */
int xg_listener_mgr_build_from(xg_listener_mgr *m, xg_res *const *listeners, size_t n, xg_tls_secret_find_cb find,
                               void *find_arg, xg_listener_set **out, char *err, size_t errlen);
/* Every file the listeners' TLS contexts read (xg_tls_build_paths), possibly
 * more than once, without building anything; the strings live in the
 * listener and secret resources. */
void xg_listener_paths(xg_res *const *listeners, size_t n, xg_tls_secret_find_cb find, void *find_arg,
                       xg_tls_path_cb cb, void *arg);
/* The same for the listeners of snap (its secrets resolve SDS names). */
void xg_listener_snapshot_paths(const xg_snapshot *snap, xg_tls_path_cb cb, void *arg);
void xg_listener_set_ref(xg_listener_set *s);
/* Any thread; the last reference closes sockets no worker took. */
void xg_listener_set_unref(xg_listener_set *s);

/* --- worker table (each worker thread) --- */

typedef struct xg_listeners xg_listeners;

/* The upper layer: a connection whose chain is chosen and whose transport is
 * ready (TLS handshake done). It must set itself as owner
 * (xg_conn_set_owner); c->chain is the chain, c->listener the worker's
 * listener. */
typedef void (*xg_listener_conn_cb)(xg_conn *c, const xg_filter_chain *chain, void *arg);

typedef struct xg_listener_stats {
    uint64_t accepted;          /* sockets accepted */
    uint64_t overflow;          /* closed at once: the global connection limit */
    uint64_t limited;           /* closed (after its delay): a chain's connection_limit filter */
    uint64_t no_chain;          /* closed: no filter chain matched */
    uint64_t inspector_timeout; /* listener_filters_timeout passed (closed unless continue_on_...) */
    uint64_t inspector_error;   /* malformed or oversized ClientHello */
    uint64_t tls_error;         /* handshake failed or timed out */
    uint64_t handed_off;        /* given to the upper layer */
    size_t active;              /* connections alive now (all listeners of the worker) */
} xg_listener_stats;

/* The table of worker number worker (0-based) on loop. 0 or XG_ENOMEM. */
int xg_listeners_new(xg_loop *loop, unsigned worker, xg_listener_conn_cb cb, void *arg, xg_listeners **out);
/* Worker thread: applies set (takes its own reference); see the file comment. */
void xg_listeners_apply(xg_listeners *ls, xg_listener_set *set);
/* Worker thread: every listener stops accepting and drains (shutdown). */
void xg_listeners_drain_all(xg_listeners *ls);
/* Worker thread: closes sockets and kills every connection now, then frees. */
void xg_listeners_free(xg_listeners *ls);
xg_listener_stats xg_listeners_stats(const xg_listeners *ls);
/* Connections alive on the listener named name (all its addresses). */
size_t xg_listeners_active(const xg_listeners *ls, const char *name);
/* True when nothing is left draining (tests, shutdown). */
bool xg_listeners_idle(const xg_listeners *ls);

#endif
