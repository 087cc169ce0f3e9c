/* What server and client TLS contexts share: resolving SDS material, the
 * protocol parameters, loading certificates, peer verification (trusted CA,
 * CRL, SAN matchers, pins) and peer-certificate facts. Context building runs
 * on the main or xds thread (it reads files); the verify callback runs on
 * workers and only reads the immutable context. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "config/matcher.h"
#include "config/secret.h"
#include "core/error.h"
#include "net/tls_ctx_int.h"

/* Envoy's default TLS 1.2 cipher list (ECDHE with AEADs only), written
 * without BoringSSL's equal-preference brackets so both libraries take it. */
#define DEFAULT_CIPHERS                                                                                                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"                         \
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
#define DEFAULT_CURVES "X25519:P-256"

static int ex_index = -1;
static int note_index = -1; /* SSL ex_data: why the handshake failed (a malloc'd string, freed with the SSL) */
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t next_id = 1;

int xg__tls_fail(xg__tls_err *e, int code, const char *fmt, ...)
{
    if (e->buf == NULL || e->len == 0)
        return code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
    unsigned long le = ERR_peek_last_error();
    const char *why = le ? ERR_reason_error_string(le) : NULL;
    if (why != NULL && n >= 0 && (size_t)n < e->len)
        snprintf(e->buf + n, e->len - (size_t)n, " (%s)", why);
    ERR_clear_error();
    return code;
}

static void free_note(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int index, long argl, void *argp)
{
    free(ptr);
}

static void make_index(void)
{
    ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    note_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_note);
}

void xg__tls_note(const SSL *ssl, const char *fmt, ...)
{
    pthread_once(&ex_once, make_index);
    if (note_index < 0)
        return;
    char *old = SSL_get_ex_data(ssl, note_index);
    if (fmt != NULL && old != NULL)
        return; /* the first reason is the cause; what follows (our own alert) is not */
    char *note = NULL;
    if (fmt != NULL && (note = malloc(160)) != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(note, 160, fmt, ap);
        va_end(ap);
    }
    if (SSL_set_ex_data((SSL *)ssl, note_index, note) == 1)
        free(old);
    else
        free(note);
}

const char *xg_tls_client_failure(const SSL *ssl, char *buf, size_t cap)
{
    const char *note = note_index >= 0 && ssl != NULL ? SSL_get_ex_data(ssl, note_index) : NULL;
    snprintf(buf, cap, "%s", note != NULL ? note : "");
    return buf;
}

int xg__tls_ex_index(void)
{
    pthread_once(&ex_once, make_index);
    return ex_index;
}

int xg__tls_ctx_new(xg__tls_common *com, SSL_CTX **out, xg__tls_err *e)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL || xg__tls_ex_index() < 0 || !SSL_CTX_set_ex_data(ctx, xg__tls_ex_index(), com)) {
        SSL_CTX_free(ctx);
        return xg__tls_fail(e, XG_ENOMEM, "cannot create an SSL_CTX");
    }
    *out = ctx;
    return 0;
}

/* --- material --- */

static int keep_res(xg__tls_common *com, xg_res *r)
{
    xg_res **k = realloc(com->keep, (com->n_keep + 1) * sizeof(*k));
    if (k == NULL)
        return XG_ENOMEM;
    com->keep = k;
    xg_res_ref(r);
    k[com->n_keep++] = r;
    return 0;
}

/* The SDS secret name of the given kind, referenced in com->keep. */
static int find_secret(xg__tls_common *com, const xg_tls_build *b, const char *name, xg_secret_kind kind,
                       const xg_secret **out, xg__tls_err *e)
{
    xg_res *r = b->find != NULL ? b->find(b->find_arg, name) : NULL;
    if (r == NULL || r->type != XG_RES_SECRET)
        return xg__tls_fail(e, XG_ENOENT, "SDS secret '%s' is not available", name);
    const xg_secret *s = r->body;
    if (s->kind != kind)
        return xg__tls_fail(e, XG_EINVAL, "SDS secret '%s' is not of the expected kind", name);
    *out = s;
    return keep_res(com, r);
}

static int collect_certs(xg__tls_common *com, const xg_tls_build *b, xg__tls_err *e)
{
    const xg_tls_context *tc = b->tc;
    size_t n = tc->n_certificates + tc->n_certificate_sds;
    com->certs = calloc(n ? n : 1, sizeof(*com->certs));
    if (com->certs == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < tc->n_certificates; i++)
        com->certs[com->n_certs++] = &tc->certificates[i];
    for (size_t i = 0; i < tc->n_certificate_sds; i++) {
        const xg_secret *s;
        int rc = find_secret(com, b, tc->certificate_sds[i].name, XG_SECRET_TLS_CERTIFICATE, &s, e);
        if (rc != 0)
            return rc;
        com->certs[com->n_certs++] = &s->tls_certificate;
    }
    return 0;
}

static int collect_vc_and_keys(xg__tls_common *com, const xg_tls_build *b, xg__tls_err *e)
{
    const xg_tls_context *tc = b->tc;
    const xg_secret *s;
    int rc = 0;
    if (tc->vc_kind == XG_VC_INLINE || tc->vc_kind == XG_VC_COMBINED)
        com->vc_inline = tc->vc;
    if (tc->vc_kind == XG_VC_SDS || tc->vc_kind == XG_VC_COMBINED) {
        rc = find_secret(com, b, tc->vc_sds.name, XG_SECRET_VALIDATION_CONTEXT, &s, e);
        if (rc != 0)
            return rc;
        com->vc_sds = &s->validation_context;
    }
    if (tc->downstream && tc->ticket_mode == XG_TICKETS_INLINE)
        com->ticket_keys = tc->ticket_keys;
    if (tc->downstream && tc->ticket_mode == XG_TICKETS_SDS) {
        rc = find_secret(com, b, tc->ticket_keys_sds.name, XG_SECRET_SESSION_TICKET_KEYS, &s, e);
        if (rc == 0)
            com->ticket_keys = &s->session_ticket_keys;
    }
    return rc;
}

static int append_sans(xg__tls_verify *v, const xg_validation_context *vc)
{
    if (vc == NULL || vc->n_san_matchers == 0)
        return 0;
    const xg_san_matcher **p = realloc(v->sans, (v->n_sans + vc->n_san_matchers) * sizeof(*p));
    if (p == NULL)
        return XG_ENOMEM;
    v->sans = p;
    for (size_t i = 0; i < vc->n_san_matchers; i++)
        p[v->n_sans++] = &vc->san_matchers[i];
    return 0;
}

static int append_pins(uint8_t (**dst)[32], size_t *n, const uint8_t (*src)[32], size_t k)
{
    if (k == 0)
        return 0;
    uint8_t(*p)[32] = realloc(*dst, (*n + k) * sizeof(*p));
    if (p == NULL)
        return XG_ENOMEM;
    memcpy(p + *n, src, k * sizeof(*p));
    *dst = p;
    *n += k;
    return 0;
}

/* Merges vc into v; vc's set scalars win (it is applied after the default). */
static int merge_vc(xg__tls_verify *v, const xg_validation_context *vc)
{
    if (vc == NULL)
        return 0;
    v->enabled = true;
    if (vc->trusted_ca.kind != XG_DS_NONE)
        v->trusted_ca = &vc->trusted_ca;
    if (vc->crl.kind != XG_DS_NONE)
        v->crl = &vc->crl;
    v->crl_leaf_only |= vc->only_verify_leaf_cert_crl;
    v->allow_expired |= vc->allow_expired_certificate;
    if (vc->trust_chain != XG_TRUST_VERIFY)
        v->trust = vc->trust_chain;
    if (vc->has_max_verify_depth) {
        v->has_depth = true;
        v->depth = vc->max_verify_depth;
    }
    int rc = append_sans(v, vc);
    if (rc == 0)
        rc = append_pins(&v->spki, &v->n_spki, (const uint8_t(*)[32])vc->spki_pins, vc->n_spki_pins);
    if (rc == 0)
        rc = append_pins(&v->hash, &v->n_hash, (const uint8_t(*)[32])vc->hash_pins, vc->n_hash_pins);
    return rc;
}

/* Parses every PEM certificate (or CRL) in ds. */
static int parse_pems(const xg_datasource *ds, bool crl, void *stack, const char *what, xg__tls_err *e)
{
    xg_buf raw;
    xg_buf_init(&raw);
    int rc = xg_datasource_read(ds, &raw);
    if (rc != 0) {
        rc = xg__tls_fail(e, XG_EINVAL, "%s: cannot read %s: %s", what, xg_datasource_describe(ds), xg_strerror(rc));
        goto done;
    }
    BIO *b = BIO_new_mem_buf(raw.data, (int)raw.len);
    int n = 0;
    for (;;) {
        void *x =
            crl ? (void *)PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : (void *)PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (x == NULL)
            break;
        crl ? (void)sk_X509_CRL_push(stack, x) : (void)sk_X509_push(stack, x);
        n++;
    }
    ERR_clear_error(); /* the end of the PEM input reads as an error */
    BIO_free(b);
    if (n == 0)
        rc = xg__tls_fail(e, XG_EINVAL, "%s: no PEM %s in %s", what, crl ? "CRL" : "certificate",
                          xg_datasource_describe(ds));
done:
    xg_buf_dispose(&raw);
    return rc;
}

static int build_verify(xg__tls_common *com, xg__tls_err *e)
{
    xg__tls_verify *v = &com->verify;
    v->trust = XG_TRUST_VERIFY;
    int rc = merge_vc(v, com->vc_inline);
    if (rc == 0)
        rc = merge_vc(v, com->vc_sds);
    if (rc != 0)
        return rc;
    if (v->trusted_ca != NULL) {
        if ((v->cas = sk_X509_new_null()) == NULL)
            return XG_ENOMEM;
        rc = parse_pems(v->trusted_ca, false, v->cas, "validation_context.trusted_ca", e);
    }
    if (rc == 0 && v->crl != NULL && v->trusted_ca != NULL) {
        if ((v->crls = sk_X509_CRL_new_null()) == NULL)
            return XG_ENOMEM;
        rc = parse_pems(v->crl, true, v->crls, "validation_context.crl", e);
    }
    return rc;
}

/* alpn_protocols in wire format, leaving out "h2" for HTTP/1-only listeners. */
static int build_alpn(xg__tls_common *com, const xg_tls_build *b)
{
    size_t total = 0;
    for (size_t i = 0; i < b->tc->n_alpn_protocols; i++)
        total += 1 + strlen(b->tc->alpn_protocols[i]);
    if (total == 0)
        return 0;
    if ((com->alpn = malloc(total)) == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < b->tc->n_alpn_protocols; i++) {
        const char *p = b->tc->alpn_protocols[i];
        size_t n = strlen(p);
        if (n == 0 || n > 255 || (b->http1_only && strcmp(p, "h2") == 0))
            continue;
        com->alpn[com->alpn_len++] = (uint8_t)n;
        memcpy(com->alpn + com->alpn_len, p, n);
        com->alpn_len += n;
    }
    return 0;
}

int xg__tls_common_init(xg__tls_common *com, const xg_tls_build *b, xg__tls_err *e)
{
    atomic_init(&com->refs, 1);
    com->id = atomic_fetch_add(&next_id, 1);
    int rc = b->owner != NULL ? keep_res(com, b->owner) : 0;
    if (rc == 0)
        rc = collect_certs(com, b, e);
    if (rc == 0)
        rc = collect_vc_and_keys(com, b, e);
    if (rc == 0)
        rc = build_verify(com, e);
    if (rc == 0)
        rc = build_alpn(com, b);
    if (rc == XG_ENOMEM)
        xg__tls_fail(e, rc, "out of memory");
    return rc;
}

void xg__tls_common_dispose(xg__tls_common *com)
{
    for (size_t i = 0; i < com->n_keep; i++)
        xg_res_unref(com->keep[i]);
    free(com->keep);
    free(com->certs);
    free(com->verify.sans);
    free(com->verify.spki);
    free(com->verify.hash);
    if (com->verify.cas != NULL)
        sk_X509_pop_free(com->verify.cas, X509_free);
    if (com->verify.crls != NULL)
        sk_X509_CRL_pop_free(com->verify.crls, X509_CRL_free);
    free(com->alpn);
}

static void ds_path(const xg_datasource *ds, xg_tls_path_cb cb, void *arg)
{
    if (ds->kind == XG_DS_FILE)
        cb(arg, ds->value);
}

static void vc_paths(const xg_validation_context *vc, xg_tls_path_cb cb, void *arg)
{
    ds_path(&vc->trusted_ca, cb, arg);
    ds_path(&vc->crl, cb, arg);
}

/* The secret name of the given kind, or NULL. */
static const xg_secret *lookup(const xg_tls_build *b, const char *name, xg_secret_kind kind)
{
    xg_res *r = b->find != NULL ? b->find(b->find_arg, name) : NULL;
    const xg_secret *s = r != NULL && r->type == XG_RES_SECRET ? r->body : NULL;
    return s != NULL && s->kind == kind ? s : NULL;
}

void xg_tls_build_paths(const xg_tls_build *b, xg_tls_path_cb cb, void *arg)
{
    const xg_tls_context *tc = b->tc;
    const xg_secret *s;
    for (size_t i = 0; i < tc->n_certificates; i++) {
        ds_path(&tc->certificates[i].certificate_chain, cb, arg);
        ds_path(&tc->certificates[i].private_key, cb, arg);
    }
    for (size_t i = 0; i < tc->n_certificate_sds; i++)
        if ((s = lookup(b, tc->certificate_sds[i].name, XG_SECRET_TLS_CERTIFICATE)) != NULL) {
            ds_path(&s->tls_certificate.certificate_chain, cb, arg);
            ds_path(&s->tls_certificate.private_key, cb, arg);
        }
    if (tc->vc != NULL)
        vc_paths(tc->vc, cb, arg);
    if ((tc->vc_kind == XG_VC_SDS || tc->vc_kind == XG_VC_COMBINED) &&
        (s = lookup(b, tc->vc_sds.name, XG_SECRET_VALIDATION_CONTEXT)) != NULL)
        vc_paths(&s->validation_context, cb, arg);
    const xg_ticket_keys *tk = tc->ticket_mode == XG_TICKETS_INLINE ? tc->ticket_keys : NULL;
    if (tc->ticket_mode == XG_TICKETS_SDS &&
        (s = lookup(b, tc->ticket_keys_sds.name, XG_SECRET_SESSION_TICKET_KEYS)) != NULL)
        tk = &s->session_ticket_keys;
    for (size_t i = 0; tk != NULL && i < tk->n_keys; i++)
        ds_path(&tk->keys[i], cb, arg);
}

/* --- parameters --- */

static char *join(const char **v, size_t n)
{
    xg_buf b;
    xg_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        if ((i > 0 && xg_buf_putc(&b, ':') != 0) || xg_buf_puts(&b, v[i]) != 0) {
            xg_buf_dispose(&b);
            return NULL;
        }
    return xg_buf_steal(&b);
}

/* Sets a ':'-joined list (or dflt when the list is empty). */
static int set_list(SSL_CTX *ctx, const char **v, size_t n, const char *dflt, int (*set)(SSL_CTX *, const char *),
                    const char *what, xg__tls_err *e)
{
    if (n == 0 && dflt == NULL)
        return 0;
    char *s = n > 0 ? join(v, n) : NULL;
    if (n > 0 && s == NULL)
        return xg__tls_fail(e, XG_ENOMEM, "out of memory");
    int ok = set(ctx, s != NULL ? s : dflt);
    free(s);
    return ok == 1 ? 0 : xg__tls_fail(e, XG_EINVAL, "tls_params.%s: not accepted by the TLS library", what);
}

static int set_ciphers(SSL_CTX *ctx, const char *s)
{
    return SSL_CTX_set_cipher_list(ctx, s);
}
static int set_curves(SSL_CTX *ctx, const char *s)
{
    return (int)SSL_CTX_set1_curves_list(ctx, s);
}
static int set_sigalgs(SSL_CTX *ctx, const char *s)
{
    return (int)SSL_CTX_set1_sigalgs_list(ctx, s);
}

int xg__tls_apply_params(SSL_CTX *ctx, const xg_tls_params *p, bool server, xg__tls_err *e)
{
    uint16_t min = p->min_version ? p->min_version : XG_TLS1_2;
    uint16_t max = p->max_version ? p->max_version : XG_TLS1_3;
    if (min > max)
        return xg__tls_fail(e, XG_EINVAL, "tls_params: tls_minimum_protocol_version is above the maximum");
    if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max))
        return xg__tls_fail(e, XG_EINVAL, "tls_params: protocol version not supported by the TLS library");
    long opts = SSL_OP_NO_COMPRESSION | (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0);
#ifdef SSL_OP_NO_RENEGOTIATION
    opts |= SSL_OP_NO_RENEGOTIATION;
#endif
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    opts |= SSL_OP_IGNORE_UNEXPECTED_EOF; /* OpenSSL 3: EOF without close_notify reads as EOF, as in BoringSSL */
#endif
    SSL_CTX_set_options(ctx, opts);
    int rc = set_list(ctx, p->cipher_suites, p->n_cipher_suites, DEFAULT_CIPHERS, set_ciphers, "cipher_suites", e);
    if (rc == 0)
        rc = set_list(ctx, p->ecdh_curves, p->n_ecdh_curves, DEFAULT_CURVES, set_curves, "ecdh_curves", e);
    if (rc == 0)
        rc = set_list(ctx, p->signature_algorithms, p->n_signature_algorithms, NULL, set_sigalgs,
                      "signature_algorithms", e);
    return rc;
}

/* --- certificates --- */

static int use_chain(SSL_CTX *ctx, const xg_buf *pem, const char *what, xg__tls_err *e)
{
    BIO *b = BIO_new_mem_buf(pem->data, (int)pem->len);
    X509 *leaf = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    int rc = 0;
    if (leaf == NULL || SSL_CTX_use_certificate(ctx, leaf) != 1) {
        rc = xg__tls_fail(e, XG_EINVAL, "%s.certificate_chain: no usable PEM certificate", what);
        goto done;
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
            X509_free(x);
            rc = xg__tls_fail(e, XG_EINVAL, "%s.certificate_chain: bad intermediate certificate", what);
            goto done;
        }
    ERR_clear_error();
done:
    X509_free(leaf);
    BIO_free(b);
    return rc;
}

static int use_key(SSL_CTX *ctx, const xg_buf *pem, const char *what, xg__tls_err *e)
{
    BIO *b = BIO_new_mem_buf(pem->data, (int)pem->len);
    EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    int rc = 0;
    if (k == NULL)
        rc = xg__tls_fail(e, XG_EINVAL, "%s.private_key: no usable PEM private key", what);
    else if (leaf == NULL || X509_check_private_key(leaf, k) != 1)
        rc = xg__tls_fail(e, XG_EINVAL, "%s.private_key: does not match the certificate", what);
    else if (SSL_CTX_use_PrivateKey(ctx, k) != 1)
        rc = xg__tls_fail(e, XG_EINVAL, "%s.private_key: not accepted by the TLS library", what);
    EVP_PKEY_free(k);
    BIO_free(b);
    return rc;
}

int xg__tls_load_cert(SSL_CTX *ctx, const xg__tls_common *com, size_t i, xg__tls_err *e)
{
    const xg_tls_certificate *tc = com->certs[i];
    char what[48];
    snprintf(what, sizeof(what), "tls_certificates[%zu]", i);
    xg_buf chain, key;
    xg_buf_init(&chain);
    xg_buf_init(&key);
    int rc = xg_datasource_read(&tc->certificate_chain, &chain);
    if (rc != 0) {
        rc = xg__tls_fail(e, XG_EINVAL, "%s.certificate_chain: cannot read %s: %s", what,
                          xg_datasource_describe(&tc->certificate_chain), xg_strerror(rc));
        goto done;
    }
    if ((rc = xg_datasource_read(&tc->private_key, &key)) != 0) {
        rc = xg__tls_fail(e, XG_EINVAL, "%s.private_key: cannot read %s: %s", what,
                          xg_datasource_describe(&tc->private_key), xg_strerror(rc));
        goto done;
    }
    rc = use_chain(ctx, &chain, what, e);
    if (rc == 0)
        rc = use_key(ctx, &key, what, e);
done:
    if (key.data != NULL)
        OPENSSL_cleanse(key.data, key.cap);
    xg_buf_dispose(&key);
    xg_buf_dispose(&chain);
    return rc;
}

/* --- verification --- */

static bool san_value_matches(const xg_san_matcher *m, int type, const char *s, size_t n)
{
    const xg_string_matcher *sm = m->matcher;
    /* As Envoy: an exact DNS matcher also accepts a wildcard SAN covering it. */
    if (type == GEN_DNS && sm->kind == XG_STRING_MATCH_EXACT && n > 2 && s[0] == '*' && s[1] == '.')
        return xg_tls_dns_match(s, n, sm->value, sm->len);
    return xg_string_matcher_match(sm, s, n);
}

static int gen_type(xg_san_type t)
{
    switch (t) {
    case XG_SAN_EMAIL:
        return GEN_EMAIL;
    case XG_SAN_DNS:
        return GEN_DNS;
    case XG_SAN_URI:
        return GEN_URI;
    default:
        return GEN_IPADD;
    }
}

/* The text of one SAN (IP addresses as inet_ntop prints them) in buf. */
static size_t san_text(const GENERAL_NAME *g, char *buf, size_t cap)
{
    const ASN1_STRING *s = g->d.ia5;
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);
    if (g->type == GEN_IPADD) {
        int af = n == 4 ? AF_INET : n == 16 ? AF_INET6 : 0;
        if (af == 0 || inet_ntop(af, p, buf, (socklen_t)cap) == NULL)
            return 0;
        return strlen(buf);
    }
    if (n <= 0 || (size_t)n >= cap)
        return 0;
    memcpy(buf, p, (size_t)n);
    buf[n] = '\0';
    return (size_t)n;
}

/* auto_san_validation: a DNS SAN of leaf covers name. */
static bool covers(X509 *leaf, const char *name)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    bool ok = false;
    for (size_t i = 0; gens != NULL && !ok && i < (size_t)sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char buf[512];
        size_t n = g->type == GEN_DNS ? san_text(g, buf, sizeof(buf)) : 0;
        ok = n > 0 && xg_tls_dns_match(buf, n, name, strlen(name));
    }
    GENERAL_NAMES_free(gens);
    return ok;
}

static bool sans_ok(const xg__tls_verify *v, X509 *leaf)
{
    if (v->n_sans == 0)
        return true;
    GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    bool ok = false;
    for (size_t i = 0; gens != NULL && !ok && i < (size_t)sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char buf[512];
        size_t n = 0;
        for (size_t j = 0; !ok && j < v->n_sans; j++) {
            if (gen_type(v->sans[j]->type) != g->type)
                continue;
            if (n == 0 && (n = san_text(g, buf, sizeof(buf))) == 0)
                break;
            ok = san_value_matches(v->sans[j], g->type, buf, n);
        }
    }
    GENERAL_NAMES_free(gens);
    return ok;
}

static bool pin_in(const uint8_t (*pins)[32], size_t n, const uint8_t md[32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(pins[i], md, 32) == 0)
            return true;
    return false;
}

/* verify_certificate_hash / verify_certificate_spki: either list matching is enough. */
static bool pins_ok(const xg__tls_verify *v, X509 *leaf)
{
    if (v->n_spki + v->n_hash == 0)
        return true;
    uint8_t md[32];
    unsigned mdlen = 0;
    if (v->n_hash > 0 && X509_digest(leaf, EVP_sha256(), md, &mdlen) == 1 && pin_in(v->hash, v->n_hash, md))
        return true;
    bool ok = false;
    EVP_PKEY *pk = v->n_spki > 0 ? X509_get_pubkey(leaf) : NULL;
    uint8_t *der = NULL;
    int len = pk != NULL ? i2d_PUBKEY(pk, &der) : -1;
    if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1)
        ok = pin_in(v->spki, v->n_spki, md);
    OPENSSL_free(der);
    EVP_PKEY_free(pk);
    return ok;
}

static int accept_expired(int ok, X509_STORE_CTX *sctx)
{
    int err = X509_STORE_CTX_get_error(sctx);
    if (!ok && (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID)) {
        X509_STORE_CTX_set_error(sctx, X509_V_OK);
        return 1;
    }
    return ok;
}

static int accept_untrusted(int ok, X509_STORE_CTX *sctx)
{
    X509_STORE_CTX_set_error(sctx, X509_V_OK);
    return 1;
}

/* What is wrong with leaf beyond its chain, or NULL: the name
 * auto_san_validation asks for (else the SAN matchers), then the pins. */
static const char *leaf_problem(const xg__tls_verify *v, X509 *leaf, const SSL *ssl)
{
    const char *want = ssl != NULL ? xg__tls_expected_name(ssl) : NULL;
    if (want != NULL && !covers(leaf, want))
        return "no DNS subjectAltName covers the requested host";
    if (want == NULL && !sans_ok(v, leaf))
        return "no subjectAltName matches";
    return pins_ok(v, leaf) ? NULL : "the certificate is not pinned";
}

/* Chain (when there is a trusted CA), then SAN matchers and pins on the
 * leaf. A failure is noted on the SSL for the upstream's failure reason. */
static int cert_verify(X509_STORE_CTX *sctx, void *arg)
{
    const xg__tls_verify *v = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
    const SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (leaf == NULL)
        return 0;
    if (v->cas != NULL) {
        if (v->trust == XG_TRUST_ACCEPT_UNTRUSTED)
            X509_STORE_CTX_set_verify_cb(sctx, accept_untrusted);
        else if (v->allow_expired)
            X509_STORE_CTX_set_verify_cb(sctx, accept_expired);
        if (X509_verify_cert(sctx) != 1) {
            if (ssl != NULL)
                xg__tls_note(ssl, "CERTIFICATE_VERIFY_FAILED: %s",
                             X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
            return 0;
        }
    }
    const char *why = leaf_problem(v, leaf, ssl);
    if (why != NULL) {
        if (ssl != NULL)
            xg__tls_note(ssl, "CERTIFICATE_VERIFY_FAILED: %s", why);
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

static int load_store(SSL_CTX *ctx, const xg__tls_verify *v, xg__tls_err *e)
{
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    if (names == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < (size_t)sk_X509_num(v->cas); i++) {
        X509 *x = sk_X509_value(v->cas, i);
        X509_NAME *nm = X509_NAME_dup(X509_get_subject_name(x));
        X509_STORE_add_cert(st, x); /* a duplicate CA is harmless */
        if (nm != NULL && !sk_X509_NAME_push(names, nm))
            X509_NAME_free(nm);
    }
    ERR_clear_error();
    SSL_CTX_set_client_CA_list(ctx, names); /* the CertificateRequest names these CAs */
    for (size_t i = 0; v->crls != NULL && i < (size_t)sk_X509_CRL_num(v->crls); i++)
        X509_STORE_add_crl(st, sk_X509_CRL_value(v->crls, i));
    if (v->crls != NULL)
        X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | (v->crl_leaf_only ? 0 : X509_V_FLAG_CRL_CHECK_ALL));
    return 0;
}

int xg__tls_setup_verify(SSL_CTX *ctx, xg__tls_common *com, int mode, xg__tls_err *e)
{
    const xg__tls_verify *v = &com->verify;
    if (mode == SSL_VERIFY_NONE) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    int rc = v->cas != NULL ? load_store(ctx, v, e) : 0;
    if (rc != 0)
        return rc;
    if (v->has_depth)
        SSL_CTX_set_verify_depth(ctx, (int)v->depth);
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, cert_verify, (void *)v);
    return 0;
}

/* --- peer facts --- */

static void subject_of(X509 *x, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    out[0] = '\0';
    if (b == NULL)
        return;
    if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(b, out, (int)cap - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

static void first_san(X509 *x, int type, char *out, size_t cap)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    out[0] = '\0';
    for (size_t i = 0; gens != NULL && i < (size_t)sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == type && san_text(g, out, cap) > 0)
            break;
    }
    GENERAL_NAMES_free(gens);
}

bool xg_tls_peer_info(const SSL *ssl, xg_tls_peer *out)
{
#ifdef XG_TLS_OPENSSL
    X509 *x = SSL_get1_peer_certificate(ssl);
#else
    X509 *x = SSL_get_peer_certificate(ssl);
#endif
    memset(out, 0, sizeof(*out));
    if (x == NULL)
        return false;
    const xg__tls_common *com = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), xg__tls_ex_index());
    out->verified = com != NULL && com->verify.enabled && SSL_get_verify_result(ssl) == X509_V_OK;
    subject_of(x, out->subject, sizeof(out->subject));
    uint8_t md[32];
    unsigned mdlen = 0;
    if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
    first_san(x, GEN_URI, out->uri_san, sizeof(out->uri_san));
    first_san(x, GEN_DNS, out->dns_san, sizeof(out->dns_san));
    X509_free(x);
    return true;
}

bool xg_tls_dns_match(const char *pattern, size_t plen, const char *name, size_t nlen)
{
    if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
        /* "*.example.com" covers "a.example.com", never "example.com" or "a.b.example.com". */
        const char *dot = memchr(name, '.', nlen);
        if (dot == NULL || dot == name)
            return false;
        size_t rest = nlen - (size_t)(dot - name);
        return rest == plen - 1 && xg_ascii_eq_nocase(dot, pattern + 1, rest);
    }
    return plen == nlen && xg_ascii_eq_nocase(pattern, name, nlen);
}
