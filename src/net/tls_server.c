/* Server TLS contexts (DownstreamTlsContext): one SSL_CTX per certificate,
 * the first being the default and the owner of the session cache and ticket
 * keys; the servername callback switches a handshake to the certificate
 * whose names cover the SNI (exact, then "*." wildcard, else the default).
 * ALPN is chosen in the server's order; session tickets use the configured
 * keys or keys made once per process, so a ticket stays readable across
 * context rotations (whether it resumes is the session ID context's call:
 * tls_session_id.c). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#ifdef XG_TLS_OPENSSL
#include <openssl/core_names.h>
#else
#include <openssl/hmac.h>
#endif

#include "config/matcher.h"
#include "core/error.h"
#include "net/tls_ctx_int.h"

#define TICKET_KEY_LEN 80 /* Envoy's format: 16 name, 32 HMAC key, 32 AES key */
#define MAX_NAME 256

typedef struct sni_name {
    char *name; /* lowercase; a wildcard keeps its "*." */
    size_t len;
    size_t ctx;
} sni_name;

struct xg_tls_server {
    xg__tls_common com; /* first: the SSL_CTX ex_data points here */
    SSL_CTX **ctx;
    size_t n_ctx;
    sni_name *names;
    size_t n_names;
    bool require_sni;
    uint8_t (*tkeys)[TICKET_KEY_LEN]; /* first encrypts, all decrypt */
    size_t n_tkeys;
};

/* Written once (pthread_once), read-only afterwards: the ticket key used
 * when no keys are configured, shared by every context of the process. */
static uint8_t process_key[TICKET_KEY_LEN];
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void make_process_key(void)
{
    if (RAND_bytes(process_key, sizeof(process_key)) != 1)
        abort(); /* no randomness: nothing safe to do */
}

/* --- SNI --- */

static int add_name(xg_tls_server *s, const char *p, size_t n, size_t ctx)
{
    if (n == 0 || n >= MAX_NAME || memchr(p, '\0', n) != NULL)
        return 0;
    sni_name *v = realloc(s->names, (s->n_names + 1) * sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    s->names = v;
    char *c = malloc(n + 1);
    if (c == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        c[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
    c[n] = '\0';
    v[s->n_names++] = (sni_name){.name = c, .len = n, .ctx = ctx};
    return 0;
}

/* The names a certificate serves: its DNS SANs, else its subject CN. */
static int cert_names(xg_tls_server *s, size_t i)
{
    X509 *x = SSL_CTX_get0_certificate(s->ctx[i]);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int rc = 0, dns = 0;
    for (size_t j = 0; gens != NULL && rc == 0 && j < (size_t)sk_GENERAL_NAME_num(gens); j++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
        if (g->type != GEN_DNS)
            continue;
        dns++;
        rc =
            add_name(s, (const char *)ASN1_STRING_get0_data(g->d.dNSName), (size_t)ASN1_STRING_length(g->d.dNSName), i);
    }
    GENERAL_NAMES_free(gens);
    X509_NAME *subj = X509_get_subject_name(x);
    int idx = dns == 0 && subj != NULL ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
    if (rc == 0 && idx >= 0) {
        ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        rc = add_name(s, (const char *)ASN1_STRING_get0_data(cn), (size_t)ASN1_STRING_length(cn), i);
    }
    return rc;
}

/* Exact names first (in certificate order), then the wildcard covering the
 * name's parent domain; the default certificate when nothing matches. */
static size_t pick_cert(const xg_tls_server *s, const char *sni, size_t n)
{
    for (size_t i = 0; i < s->n_names; i++)
        if (s->names[i].name[0] != '*' && s->names[i].len == n && xg_ascii_eq_nocase(s->names[i].name, sni, n))
            return s->names[i].ctx;
    for (size_t i = 0; i < s->n_names; i++)
        if (s->names[i].name[0] == '*' && xg_tls_dns_match(s->names[i].name, s->names[i].len, sni, n))
            return s->names[i].ctx;
    return 0;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    xg_tls_server *s = arg;
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (sni == NULL || sni[0] == '\0') {
        if (!s->require_sni)
            return SSL_TLSEXT_ERR_OK;
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    size_t i = s->n_ctx > 1 ? pick_cert(s, sni, strlen(sni)) : 0;
    if (i != 0 && SSL_set_SSL_CTX(ssl, s->ctx[i]) == NULL) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* --- ALPN: the first of our protocols the client offers --- */

static bool offered(const unsigned char *in, unsigned inlen, const uint8_t *p, size_t n)
{
    for (unsigned i = 0; i < inlen;) {
        unsigned len = in[i];
        if (len == 0 || i + 1 + len > inlen)
            return false; /* malformed list: choose nothing */
        if (len == n && memcmp(in + i + 1, p, n) == 0)
            return true;
        i += 1 + len;
    }
    return false;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned inlen,
                   void *arg)
{
    const xg_tls_server *s = arg;
    for (size_t i = 0; i < s->com.alpn_len; i += 1 + s->com.alpn[i]) {
        const uint8_t *p = s->com.alpn + i + 1;
        if (offered(in, inlen, p, s->com.alpn[i])) {
            *out = p;
            *outlen = s->com.alpn[i];
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_NOACK; /* no overlap: go on without ALPN (HTTP/1.1) */
}

/* --- session tickets --- */

static const uint8_t *ticket_key(const xg_tls_server *s, size_t i)
{
    return s->n_tkeys > 0 ? s->tkeys[i] : process_key;
}

/* Finds the key for a ticket's name: its index, or -1. */
static int find_key(const xg_tls_server *s, const uint8_t *name)
{
    size_t n = s->n_tkeys > 0 ? s->n_tkeys : 1;
    for (size_t i = 0; i < n; i++)
        if (CRYPTO_memcmp(ticket_key(s, i), name, 16) == 0)
            return (int)i;
    return -1;
}

#ifdef XG_TLS_OPENSSL
typedef EVP_MAC_CTX hmac_ctx;
static int hmac_init(hmac_ctx *h, const uint8_t *key)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key, 32),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(h, params);
}
#else
typedef HMAC_CTX hmac_ctx;
static int hmac_init(hmac_ctx *h, const uint8_t *key)
{
    return HMAC_Init_ex(h, key, 32, EVP_sha256(), NULL);
}
#endif

/* Both libraries' ticket callback: 1 use (encrypt, or decrypt with the
 * current key), 2 decrypted with an older key (issue a fresh ticket), 0
 * unknown key (full handshake), -1 error. */
static int on_ticket(SSL *ssl, uint8_t *name, uint8_t *iv, EVP_CIPHER_CTX *cctx, hmac_ctx *hctx, int enc)
{
    const xg_tls_server *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), xg__tls_ex_index());
    if (s == NULL)
        return -1;
    if (enc) {
        const uint8_t *k = ticket_key(s, 0);
        memcpy(name, k, 16);
        if (RAND_bytes(iv, 16) != 1 || !EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + 48, iv) ||
            !hmac_init(hctx, k + 16))
            return -1;
        return 1;
    }
    int i = find_key(s, name);
    if (i < 0)
        return 0;
    const uint8_t *k = ticket_key(s, (size_t)i);
    if (!EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + 48, iv) || !hmac_init(hctx, k + 16))
        return -1;
    return i == 0 ? 1 : 2;
}

static int load_ticket_keys(xg_tls_server *s, const xg_ticket_keys *tk, xg__tls_err *e)
{
    if ((s->tkeys = calloc(tk->n_keys, sizeof(*s->tkeys))) == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < tk->n_keys; i++) {
        xg_buf b;
        xg_buf_init(&b);
        int rc = xg_datasource_read(&tk->keys[i], &b);
        bool ok = rc == 0 && b.len == TICKET_KEY_LEN;
        if (ok)
            memcpy(s->tkeys[s->n_tkeys++], b.data, TICKET_KEY_LEN);
        if (b.data != NULL)
            OPENSSL_cleanse(b.data, b.cap);
        xg_buf_dispose(&b);
        if (!ok)
            return xg__tls_fail(e, XG_EINVAL, "session_ticket_keys.keys[%zu]: %s", i,
                                rc != 0 ? "cannot be read" : "must be 80 bytes");
    }
    return 0;
}

/* Cache and tickets on one context; sid is the session id context. */
static void setup_sessions(xg_tls_server *s, SSL_CTX *ctx, const xg_tls_context *tc, const uint8_t sid[32])
{
    SSL_CTX_set_session_id_context(ctx, sid, 32);
    SSL_CTX_set_session_cache_mode(ctx, tc->disable_stateful_session_resumption ? SSL_SESS_CACHE_OFF
                                                                                : SSL_SESS_CACHE_SERVER);
    if (tc->session_timeout_ms >= 0)
        SSL_CTX_set_timeout(ctx, (long)(tc->session_timeout_ms / 1000));
    if (tc->ticket_mode == XG_TICKETS_DISABLED) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        return;
    }
#ifdef XG_TLS_OPENSSL
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
#else
    SSL_CTX_set_tlsext_ticket_key_cb(ctx, on_ticket);
#endif
}

/* --- building --- */

/* Everything per certificate context except the sessions (their ID
 * context covers all certificates). */
static int build_ctx(xg_tls_server *s, const xg_tls_build *b, size_t i, xg__tls_err *e)
{
    SSL_CTX *ctx;
    int rc = xg__tls_ctx_new(&s->com, &ctx, e);
    if (rc != 0)
        return rc;
    s->ctx[s->n_ctx++] = ctx;
    const xg_tls_context *tc = b->tc;
    int mode = SSL_VERIFY_NONE;
    if (s->com.verify.enabled || tc->require_client_certificate)
        mode = SSL_VERIFY_PEER | (tc->require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    rc = xg__tls_apply_params(ctx, &tc->params, true, e);
    if (rc == 0)
        rc = xg__tls_load_cert(ctx, &s->com, i, e);
    if (rc == 0)
        rc = xg__tls_setup_verify(ctx, &s->com, mode, e);
    if (rc == 0)
        rc = cert_names(s, i);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, s);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, s);
    return rc;
}

static int build(xg_tls_server *s, const xg_tls_build *b, xg__tls_err *e)
{
    int rc = xg__tls_common_init(&s->com, b, e);
    if (rc != 0)
        return rc;
    if (s->com.n_certs == 0)
        return xg__tls_fail(e, XG_EINVAL, "a server TLS context needs at least one certificate");
    if (s->com.ticket_keys != NULL && (rc = load_ticket_keys(s, s->com.ticket_keys, e)) != 0)
        return rc;
    pthread_once(&process_key_once, make_process_key);
    if ((s->ctx = calloc(s->com.n_certs, sizeof(*s->ctx))) == NULL)
        return xg__tls_fail(e, XG_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < s->com.n_certs; i++)
        rc = build_ctx(s, b, i, e);
    uint8_t sid[32];
    if (rc == 0 && (rc = xg__tls_session_id(&s->com, s->ctx, s->n_ctx, b, sid)) != 0)
        return xg__tls_fail(e, rc, "cannot compute the session id context");
    for (size_t i = 0; rc == 0 && i < s->n_ctx; i++)
        setup_sessions(s, s->ctx[i], b->tc, sid);
    return rc;
}

static void server_free(xg_tls_server *s)
{
    for (size_t i = 0; i < s->n_ctx; i++)
        SSL_CTX_free(s->ctx[i]);
    free(s->ctx);
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i].name);
    free(s->names);
    if (s->tkeys != NULL)
        OPENSSL_cleanse(s->tkeys, s->n_tkeys * sizeof(*s->tkeys));
    free(s->tkeys);
    xg__tls_common_dispose(&s->com);
    free(s);
}

int xg_tls_server_new(const xg_tls_build *b, xg_tls_server **out, char *err, size_t errlen)
{
    xg__tls_err e = {err, errlen};
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    ERR_clear_error(); /* reasons appended to err must be this build's */
    xg_tls_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return XG_ENOMEM;
    s->com.server = true;
    s->require_sni = b->tc->require_sni;
    int rc = build(s, b, &e);
    if (rc != 0) {
        server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void xg_tls_server_ref(xg_tls_server *s)
{
    atomic_fetch_add_explicit(&s->com.refs, 1, memory_order_relaxed);
}

void xg_tls_server_unref(xg_tls_server *s)
{
    if (s != NULL && atomic_fetch_sub_explicit(&s->com.refs, 1, memory_order_acq_rel) == 1)
        server_free(s);
}

size_t xg_tls_server_cert_count(const xg_tls_server *s)
{
    return s->n_ctx;
}

SSL *xg__tls_server_ssl(xg_tls_server *s)
{
    SSL *ssl = SSL_new(s->ctx[0]);
    if (ssl != NULL)
        SSL_set_accept_state(ssl);
    return ssl;
}
