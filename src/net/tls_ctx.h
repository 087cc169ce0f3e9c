/* TLS contexts built from config/tls.h's xg_tls_context: a server context
 * (DownstreamTlsContext: certificates chosen by SNI, ALPN, client-certificate
 * verification with SAN matchers, session tickets and cache) and a client
 * context (UpstreamTlsContext: SNI, ALPN, peer verification, a client
 * certificate, session reuse). Both TLS libraries (BoringSSL, OpenSSL 3).
 *
 * Life cycle: built on the main or xds thread (files are read here, never on
 * a worker), then shared read-only by every worker. Refcounted (atomic): each
 * connection's SSL holds a reference for as long as it lives, so a rotated
 * SDS secret gives a new context for new handshakes while established
 * connections keep theirs. A context also holds references on the xg_res
 * resources whose arenas hold its matchers (owner and SDS secrets). */
#ifndef XG_NET_TLS_CTX_H
#define XG_NET_TLS_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/resource.h"
#include "config/tls.h"

struct ssl_st;
struct xg_server_name; /* config/listener.h */

typedef struct xg_tls_server xg_tls_server;
typedef struct xg_tls_client xg_tls_client;

/* Looks up an SDS Secret (an XG_RES_SECRET resource) by name; NULL when
 * missing. The result is borrowed; the context takes its own reference. */
typedef xg_res *(*xg_tls_secret_find_cb)(void *arg, const char *name);

typedef struct xg_tls_build {
    const xg_tls_context *tc;
    xg_res *owner;              /* the listener/cluster holding tc; referenced (may be NULL in tests) */
    xg_tls_secret_find_cb find; /* NULL: SDS references fail */
    void *find_arg;
    bool http1_only; /* server, codec_type HTTP1: never negotiate "h2" */
    /* server: the filter chain's server_names; they enter the session id
     * context, so a session never resumes on another chain (as Envoy) */
    const struct xg_server_name *server_names;
    size_t n_server_names;
} xg_tls_build;

/* Builds a server context. Needs at least one certificate. On failure
 * returns XG_EINVAL (bad or missing material: err says which and why, e.g.
 * "tls_certificates[0].private_key: does not match the certificate"),
 * XG_ENOENT (an SDS secret is missing) or XG_ENOMEM. *out has one reference. */
int xg_tls_server_new(const xg_tls_build *b, xg_tls_server **out, char *err, size_t errlen);
void xg_tls_server_ref(xg_tls_server *s);
/* Any thread; the last reference frees (NULL is a no-op). */
void xg_tls_server_unref(xg_tls_server *s);
/* How many certificates, and whether the context offers "h2" (tests, logs). */
size_t xg_tls_server_cert_count(const xg_tls_server *s);

/* A file a context reads (a certificate chain, a key, a trusted CA, a CRL,
 * a session ticket key). */
typedef void (*xg_tls_path_cb)(void *arg, const char *file);
/* Reports every file a context built from b reads, including those of the
 * SDS secrets b->find resolves (a missing secret is skipped), without
 * building anything: what the file watch checks. Any thread. */
void xg_tls_build_paths(const xg_tls_build *b, xg_tls_path_cb cb, void *arg);

/* Builds a client context for upstream connections. Same errors. */
int xg_tls_client_new(const xg_tls_build *b, xg_tls_client **out, char *err, size_t errlen);
void xg_tls_client_ref(xg_tls_client *c);
void xg_tls_client_unref(xg_tls_client *c);
/* The configured sni, or NULL. */
const char *xg_tls_client_sni(const xg_tls_client *c);
/* A client for auto_sni / auto_san_validation: base's context (shared, no
 * copy) sending sni (NULL: base's) as SNI and, with expect, accepting only a
 * peer certificate with a DNS SAN that covers expect (wildcards as in
 * xg_tls_dns_match), checked instead of base's SAN matchers (Envoy's SAN
 * override); the trusted CA and pins still apply, and nothing is verified
 * when base has no validation context. Sessions are kept per (base, sni).
 * One reference (it holds one on base). 0 or XG_ENOMEM. */
int xg_tls_client_named(xg_tls_client *base, const char *sni, const char *expect, xg_tls_client **out);

/* Per-worker, per-cluster named clients, so that requests for one name
 * share one client (and so one connection pool). Worker thread only. */
typedef struct xg_tls_names xg_tls_names;
/* The named client for (sni, expect) of base, made on first use; *cache is
 * created as needed and starts over when base changes (a new cluster
 * context). Borrowed while the cache holds it (reference it to keep it; at
 * most 256 are kept, the oldest goes first). 0 or XG_ENOMEM. */
int xg_tls_names_get(xg_tls_names **cache, xg_tls_client *base, const char *sni, const char *expect,
                     xg_tls_client **out);
void xg_tls_names_free(xg_tls_names *cache);

/* Why the TLS handshake on ssl failed, as the TLS layer saw it, into buf
 * (e.g. "CERTIFICATE_VERIFY_FAILED: no subjectAltName matches", "alert
 * from the upstream: certificate required"); "" when it has no reason. Any
 * time while ssl lives (the connect layer asks as the handshake fails). */
const char *xg_tls_client_failure(const struct ssl_st *ssl, char *buf, size_t cap);

/* For net/conn_tls.c: a new SSL in accept state on the server context. NULL
 * on allocation failure. Owned by the caller (SSL_free). */
struct ssl_st *xg__tls_server_ssl(xg_tls_server *s);
/* A new SSL in connect state: server_name sni (may be NULL), ALPN alpn (wire
 * format, may be NULL: the context's alpn_protocols), and a session to resume
 * from this thread's cache when one was kept for (context, sni). */
struct ssl_st *xg__tls_client_ssl(xg_tls_client *c, const char *sni, const uint8_t *alpn, size_t alpn_len);

/* Facts about the peer's certificate, for logs and x-forwarded-client-cert. */
typedef struct xg_tls_peer {
    bool verified;     /* chain and matchers checked and passed (false when nothing was verified) */
    char subject[256]; /* RFC 2253 */
    char sha256[65];   /* hex SHA-256 of the DER certificate */
    char uri_san[256]; /* the first URI SAN, "" when none */
    char dns_san[256]; /* the first DNS SAN, "" when none */
} xg_tls_peer;

/* Fills out for ssl's peer; false when the peer presented no certificate. */
bool xg_tls_peer_info(const struct ssl_st *ssl, xg_tls_peer *out);

/* Per-thread state (the client session cache): frees it; also done at thread exit. */
void xg_tls_thread_cleanup(void);

/* True when "name" (lowercase, no trailing dot) is covered by pattern: an exact
 * name, or "*.example.com" covering exactly one more label. */
bool xg_tls_dns_match(const char *pattern, size_t plen, const char *name, size_t nlen);

#endif
