/* Internals shared by tls_ctx.c (material, parameters, verification, peer
 * facts), tls_server.c and tls_client.c. Includes the TLS library. */
#ifndef XG_NET_TLS_CTX_INT_H
#define XG_NET_TLS_CTX_INT_H

#include <stdatomic.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "net/tls_ctx.h"

/* Error text for the caller's buffer. */
typedef struct xg__tls_err {
    char *buf;
    size_t len;
} xg__tls_err;

/* Formats a message (with the TLS library's reason appended when it has
 * one) into e; returns code. */
int xg__tls_fail(xg__tls_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The peer-verification settings after merging an inline validation context
 * with an SDS one (protobuf MergeFrom semantics: the SDS one's set scalars
 * win, lists concatenate). */
typedef struct xg__tls_verify {
    bool enabled; /* a validation context applies */
    const xg_datasource *trusted_ca;
    const xg_datasource *crl;
    bool crl_leaf_only;
    bool allow_expired;
    xg_trust_chain trust;
    bool has_depth;
    uint32_t depth;
    const xg_san_matcher **sans; /* borrowed matchers (the owning resources are referenced) */
    size_t n_sans;
    uint8_t (*spki)[32];
    size_t n_spki;
    uint8_t (*hash)[32];
    size_t n_hash;
    STACK_OF(X509) * cas;      /* parsed trusted_ca */
    STACK_OF(X509_CRL) * crls; /* parsed crl */
} xg__tls_verify;

/* What server and client contexts have in common; first member of both. */
typedef struct xg__tls_common {
    atomic_int refs;
    uint64_t id; /* unique per context in this process */
    bool server;
    xg_res **keep; /* resources referenced for the context's life */
    size_t n_keep;
    const xg_tls_certificate **certs; /* inline first, then SDS, in order */
    size_t n_certs;
    const xg_validation_context *vc_inline, *vc_sds;
    const xg_ticket_keys *ticket_keys; /* inline or SDS; NULL: process keys (or disabled) */
    xg__tls_verify verify;
    uint8_t *alpn; /* wire format (length-prefixed), NULL when none */
    size_t alpn_len;
} xg__tls_common;

/* Resolves b's SDS references, merges verification settings, parses the CA
 * and CRL, builds the ALPN list (without "h2" when http1_only). On failure
 * the partly built com is disposed. */
int xg__tls_common_init(xg__tls_common *com, const xg_tls_build *b, xg__tls_err *e);
void xg__tls_common_dispose(xg__tls_common *com);
/* Protocol versions, ciphers, curves, signature algorithms, options. */
int xg__tls_apply_params(SSL_CTX *ctx, const xg_tls_params *p, bool server, xg__tls_err *e);
/* Loads certificate i of com into ctx (chain and key). */
int xg__tls_load_cert(SSL_CTX *ctx, const xg__tls_common *com, size_t i, xg__tls_err *e);
/* Trust store, CRLs, depth and the verify callback for com on ctx; mode is
 * SSL_VERIFY_* for SSL_CTX_set_verify. */
int xg__tls_setup_verify(SSL_CTX *ctx, xg__tls_common *com, int mode, xg__tls_err *e);
/* The session ID context of a server context (tls_session_id.c): a digest
 * of the names its n_ctx certificate contexts serve, every client-validation
 * setting of com and the chain's server_names in b. */
int xg__tls_session_id(const xg__tls_common *com, SSL_CTX *const *ctx, size_t n_ctx, const xg_tls_build *b,
                       uint8_t sid[32]);
/* The SSL_CTX ex_data slot holding the xg__tls_common of every context. */
int xg__tls_ex_index(void);
/* 0, or XG_ENOMEM; SSL_CTX_new(TLS_method()) with the ex_data slot set. */
int xg__tls_ctx_new(xg__tls_common *com, SSL_CTX **out, xg__tls_err *e);

/* Notes why ssl's handshake is failing (the first note of a handshake
 * wins; fmt NULL forgets it: a new handshake starts). Read back with
 * xg_tls_client_failure. */
void xg__tls_note(const SSL *ssl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* tls_client.c: the name ssl's peer certificate must cover (auto_san_validation),
 * or NULL: the context's SAN matchers apply. */
const char *xg__tls_expected_name(const SSL *ssl);

#endif
