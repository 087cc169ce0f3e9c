/* The session ID context of a server TLS context: a SHA-256 over everything
 * that decides whether a resumed session may skip a check, in the spirit of
 * Envoy's generateHashForSessionContextId. Both TLS libraries refuse to
 * resume a session (from the cache or from a ticket, whose keys are shared
 * process-wide) whose context differs, so:
 *
 *  - the server's identity: each certificate's subject and subjectAltName
 *    extension, not its key or serial, so a renewed certificate for the same
 *    names keeps sessions resumable across a rotation (as Envoy);
 *  - every client-validation setting: require_client_certificate, trusted
 *    CAs, CRLs (and leaf-only), allow_expired_certificate,
 *    trust_chain_verification, max_verify_depth, SAN matchers, SPKI and
 *    certificate-hash pins; tightening any of them makes clients do a full
 *    handshake, so their certificate is checked again;
 *  - the filter chain's server_names, so a session never moves to another
 *    chain that happens to serve the same certificate.
 *
 * Every variable-length item is written with its length first, so two
 * different settings never give the same input. */
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "config/listener.h"
#include "config/matcher.h"
#include "core/error.h"
#include "net/tls_ctx_int.h"

static int put_bytes(xg_buf *b, const char *tag, const void *p, size_t n)
{
    int rc = xg_buf_printf(b, "|%s%zu:", tag, n);
    return rc != 0 ? rc : xg_buf_append(b, p, n);
}

static int cert_identity(xg_buf *b, SSL_CTX *ctx)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    uint8_t md[32];
    unsigned n = 0;
    if (x == NULL || X509_NAME_digest(X509_get_subject_name(x), EVP_sha256(), md, &n) != 1)
        return XG_EINVAL;
    int rc = put_bytes(b, "subject", md, n);
    int loc = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
    if (rc == 0 && loc >= 0) {
        const ASN1_OCTET_STRING *san = X509_EXTENSION_get_data(X509_get_ext(x, loc));
        rc = put_bytes(b, "san", ASN1_STRING_get0_data(san), (size_t)ASN1_STRING_length(san));
    }
    return rc;
}

static int ca_digests(xg_buf *b, const xg__tls_verify *v)
{
    int rc = 0;
    size_t n_cas = v->cas != NULL ? (size_t)sk_X509_num(v->cas) : 0;
    size_t n_crls = v->crls != NULL ? (size_t)sk_X509_CRL_num(v->crls) : 0;
    for (size_t i = 0; rc == 0 && i < n_cas; i++) {
        uint8_t md[32];
        unsigned n = 0;
        rc = X509_digest(sk_X509_value(v->cas, i), EVP_sha256(), md, &n) == 1 ? put_bytes(b, "ca", md, n) : XG_EINVAL;
    }
    for (size_t i = 0; rc == 0 && i < n_crls; i++) {
        uint8_t md[32];
        unsigned n = 0;
        rc = X509_CRL_digest(sk_X509_CRL_value(v->crls, i), EVP_sha256(), md, &n) == 1 ? put_bytes(b, "crl", md, n)
                                                                                       : XG_EINVAL;
    }
    return rc;
}

static int matchers_and_pins(xg_buf *b, const xg__tls_verify *v)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < v->n_sans; i++) {
        const xg_string_matcher *m = v->sans[i]->matcher;
        rc = xg_buf_printf(b, "|m%d:%d:%d", (int)v->sans[i]->type, (int)m->kind, (int)m->ignore_case);
        if (rc == 0)
            rc = put_bytes(b, "v", m->value != NULL ? m->value : "", m->value != NULL ? m->len : 0);
    }
    for (size_t i = 0; rc == 0 && i < v->n_spki; i++)
        rc = put_bytes(b, "spki", v->spki[i], 32);
    for (size_t i = 0; rc == 0 && i < v->n_hash; i++)
        rc = put_bytes(b, "hash", v->hash[i], 32);
    return rc;
}

static int verify_settings(xg_buf *b, const xg__tls_common *com, const xg_tls_context *tc)
{
    const xg__tls_verify *v = &com->verify;
    int rc = xg_buf_printf(b, "|require%d|verify%d|crl_leaf%d|expired%d|trust%d|depth%d:%u",
                           (int)tc->require_client_certificate, (int)v->enabled, (int)v->crl_leaf_only,
                           (int)v->allow_expired, (int)v->trust, (int)v->has_depth, v->has_depth ? v->depth : 0);
    if (rc == 0)
        rc = ca_digests(b, v);
    return rc != 0 ? rc : matchers_and_pins(b, v);
}

int xg__tls_session_id(const xg__tls_common *com, SSL_CTX *const *ctx, size_t n_ctx, const xg_tls_build *b,
                       uint8_t sid[32])
{
    xg_buf in;
    xg_buf_init(&in);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_ctx; i++)
        rc = cert_identity(&in, ctx[i]);
    if (rc == 0)
        rc = verify_settings(&in, com, b->tc);
    for (size_t i = 0; rc == 0 && i < b->n_server_names; i++) {
        const xg_server_name *sn = &b->server_names[i];
        rc = put_bytes(&in, sn->wildcard ? "sn*" : "sn", sn->name.s, sn->name.len);
    }
    unsigned n = 0;
    if (rc == 0 && EVP_Digest(in.data, in.len, sid, &n, EVP_sha256(), NULL) != 1)
        rc = XG_ENOMEM;
    xg_buf_dispose(&in);
    return rc;
}
