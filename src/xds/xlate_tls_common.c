/* The TLS pieces shared by inline TLS contexts (xlate_tls.c) and SDS Secrets
 * (xlate_secret.c): DataSources, certificates with their keys, session ticket
 * keys and validation contexts. Sources are kept as sources (files are read
 * again by the TLS layer, so rotated Kubernetes secrets take effect), but
 * each is read and parsed here once so that a bad PEM or a missing file is a
 * NACK naming the field, never a handshake failure later. Key material never
 * reaches an error message or a log line. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config/matcher.h"
#include "core/error.h"
#include "xds/pbjson_int.h"
#include "xds/xlate_ces.h"

typedef Envoy__Config__Core__V3__DataSource pb_datasource;
typedef Envoy__Extensions__TransportSockets__Tls__V3__TlsCertificate pb_certificate;
typedef Envoy__Extensions__TransportSockets__Tls__V3__TlsSessionTicketKeys pb_ticket_keys;
typedef Envoy__Extensions__TransportSockets__Tls__V3__CertificateValidationContext pb_validation;
typedef Envoy__Extensions__TransportSockets__Tls__V3__SubjectAltNameMatcher pb_san;
#define DS(c) ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_##c
#define SAN(c) ENVOY__EXTENSIONS__TRANSPORT_SOCKETS__TLS__V3__SUBJECT_ALT_NAME_MATCHER__SAN_TYPE__##c

/* A WatchedDirectory under field (pb may be NULL): its path, which must not
 * be empty (Envoy's validation); the listener's file watch uses it. */
static int watched_dir(xg_xlate *x, const char *field, const Envoy__Config__Core__V3__WatchedDirectory *pb,
                       const char **out)
{
    if (pb == NULL)
        return 0;
    if (pb->path[0] == '\0')
        return xg__ces_fail_at(x, field, "watched_directory.path must not be empty");
    return (*out = xg_xlate_strdup(x, pb->path)) == NULL ? XG_ENOMEM : 0;
}

/* Envoy's session ticket key: 16 bytes name, 32 HMAC secret, 32 AES key. */
#define TICKET_KEY_LEN 80

int xg__xlate_datasource(xg_xlate *x, const char *field, const pb_datasource *pb, xg_datasource *out)
{
    memset(out, 0, sizeof(*out));
    if (pb == NULL)
        return 0;
    const char *v = NULL;
    size_t len = 0;
    switch (pb->specifier_case) {
    case DS(FILENAME):
        out->kind = XG_DS_FILE;
        v = pb->filename;
        break;
    case DS(INLINE_BYTES):
        out->kind = XG_DS_INLINE;
        v = (const char *)pb->inline_bytes.data;
        len = pb->inline_bytes.len;
        break;
    case DS(INLINE_STRING):
        out->kind = XG_DS_INLINE;
        v = pb->inline_string;
        break;
    case DS(ENVIRONMENT_VARIABLE):
        out->kind = XG_DS_ENV;
        v = pb->environment_variable;
        break;
    default:
        return xg__ces_fail_at(x, field,
                               "one of filename, inline_bytes, inline_string or environment_variable is required");
    }
    if (pb->specifier_case != DS(INLINE_BYTES))
        len = strlen(v);
    if (out->kind != XG_DS_INLINE && len == 0)
        return xg__ces_fail_at(x, field, "%s must not be empty",
                               out->kind == XG_DS_FILE ? "filename" : "environment_variable");
    if ((out->value = xg_arena_strndup(&x->res->arena, v ? v : "", len)) == NULL)
        return XG_ENOMEM;
    out->len = len;
    return watched_dir(x, field, pb->watched_directory, &out->watched_directory);
}

/* Reads ds into b (which the caller disposes) or fails naming field. */
static int load(xg_xlate *x, const char *field, const xg_datasource *ds, xg_buf *b)
{
    int rc = xg_datasource_read(ds, b);
    if (rc == 0 && b->len == 0)
        return xg__ces_fail_at(x, field, "%s is empty", xg_datasource_describe(ds));
    if (rc == 0)
        return 0;
    if (rc == XG_ENOMEM)
        return rc;
    if (ds->kind == XG_DS_ENV)
        return xg__ces_fail_at(x, field, "environment variable %s is not set", ds->value);
    return xg__ces_fail_at(x, field, "cannot read %s: %s", ds->value, xg_strerror(rc));
}

/* The reason of the newest library error (never data), then clears the queue. */
static const char *ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "no PEM data";
}

/* True when the queue holds only the "no more PEM blocks" error that ends a
 * well-formed multi-block input; clears it. */
static bool pem_at_end(void)
{
    unsigned long e = ERR_peek_last_error();
    bool end = e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
    if (end)
        ERR_clear_error();
    return end;
}

static BIO *mem_bio(const xg_buf *b)
{
    return BIO_new_mem_buf(b->data ? b->data : "", (int)b->len);
}

/* Parses every certificate in b; the first (the leaf) is handed back in *leaf
 * when leaf is not NULL. what names the thing for the message. */
static int parse_certs(xg_xlate *x, const char *field, const xg_datasource *ds, const xg_buf *b, const char *what,
                       X509 **leaf)
{
    BIO *bio = mem_bio(b);
    if (bio == NULL)
        return XG_ENOMEM;
    int n = 0, rc = 0;
    X509 *c;
    while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (n++ == 0 && leaf != NULL)
            *leaf = c;
        else
            X509_free(c);
    }
    if (n == 0 || !pem_at_end())
        rc = xg__ces_fail_at(x, field, "failed to load %s from %s: %s", what, xg_datasource_describe(ds), ssl_reason());
    BIO_free(bio);
    if (rc != 0 && leaf != NULL && *leaf != NULL) {
        X509_free(*leaf);
        *leaf = NULL;
    }
    return rc;
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

static int check_key(xg_xlate *x, const xg_datasource *ds, const xg_buf *b, X509 *leaf)
{
    BIO *bio = mem_bio(b);
    if (bio == NULL)
        return XG_ENOMEM;
    int rc = 0;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    if (key == NULL)
        rc = xg__ces_fail_at(x, "private_key", "failed to load private key from %s: %s", xg_datasource_describe(ds),
                             ssl_reason());
    else if (leaf != NULL && X509_check_private_key(leaf, key) != 1)
        rc = xg__ces_fail_at(x, "private_key",
                             "private key from %s does not match the certificate chain's first certificate",
                             xg_datasource_describe(ds));
    ERR_clear_error();
    EVP_PKEY_free(key);
    BIO_free(bio);
    return rc;
}

/* Loads and parses the chain and the key and checks that they belong together. */
static int check_certificate(xg_xlate *x, const xg_tls_certificate *c)
{
    xg_buf cb, kb;
    xg_buf_init(&cb);
    xg_buf_init(&kb);
    X509 *leaf = NULL;
    int rc = load(x, "certificate_chain", &c->certificate_chain, &cb);
    if (rc == 0)
        rc = parse_certs(x, "certificate_chain", &c->certificate_chain, &cb, "certificate chain", &leaf);
    if (rc == 0)
        rc = load(x, "private_key", &c->private_key, &kb);
    if (rc == 0)
        rc = check_key(x, &c->private_key, &kb, leaf);
    X509_free(leaf);
    if (kb.data != NULL)
        memset(kb.data, 0, kb.cap); /* key bytes do not outlive the check in freed memory */
    xg_buf_dispose(&kb);
    xg_buf_dispose(&cb);
    return rc;
}

int xg__xlate_tls_certificate(xg_xlate *x, const pb_certificate *pb, xg_tls_certificate *out)
{
    memset(out, 0, sizeof(*out));
    if (pb->pkcs12 != NULL)
        return xg__ces_fail_at(x, "pkcs12", "not supported: use certificate_chain and private_key (PEM)");
    if (pb->password != NULL)
        return xg__ces_fail_at(x, "password", "not supported: encrypted private keys are not supported");
    if (pb->ocsp_staple != NULL)
        return xg__ces_fail_at(x, "ocsp_staple", "not supported");
    if (pb->n_signed_certificate_timestamp > 0)
        return xg__ces_fail_at(x, "signed_certificate_timestamp", "not supported");
    if (pb->certificate_chain == NULL)
        return xg__ces_fail_at(x, "certificate_chain", "required");
    if (pb->private_key == NULL)
        return xg__ces_fail_at(x, "private_key", "required");
    int rc = xg__xlate_datasource(x, "certificate_chain", pb->certificate_chain, &out->certificate_chain);
    if (rc == 0)
        rc = xg__xlate_datasource(x, "private_key", pb->private_key, &out->private_key);
    if (rc == 0)
        rc = watched_dir(x, NULL, pb->watched_directory, &out->watched_directory);
    return rc ? rc : check_certificate(x, out);
}

int xg__xlate_ticket_keys(xg_xlate *x, const pb_ticket_keys *pb, xg_ticket_keys *out)
{
    memset(out, 0, sizeof(*out));
    if (pb->n_keys == 0)
        return xg__ces_fail_at(x, "keys", "at least one key is required");
    out->keys = xg_arena_calloc(&x->res->arena, pb->n_keys, sizeof(*out->keys));
    if (out->keys == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, "keys");
    for (size_t i = 0; rc == 0 && i < pb->n_keys; i++) {
        size_t m = xg_xlate_push_index(x, i);
        xg_buf b;
        xg_buf_init(&b);
        rc = xg__xlate_datasource(x, NULL, pb->keys[i], &out->keys[i]);
        if (rc == 0)
            rc = load(x, NULL, &out->keys[i], &b);
        if (rc == 0 && b.len != TICKET_KEY_LEN)
            rc = xg_xlate_fail(x, "incorrect TLS session ticket key length %zu, expected %d", b.len, TICKET_KEY_LEN);
        if (b.data != NULL)
            memset(b.data, 0, b.cap);
        xg_buf_dispose(&b);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    out->n_keys = pb->n_keys;
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes a SHA-256 pin: hex with optional ':' separators (hash) or base64 (spki). */
static bool hex_pin(const char *s, uint8_t out[32])
{
    size_t n = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == ':')
            continue;
        int v = hexval(*p);
        if (v < 0 || n >= 64)
            return false;
        out[n / 2] = (uint8_t)((n % 2) ? (out[n / 2] | v) : (v << 4));
        n++;
    }
    return n == 64;
}

static bool base64_pin(const char *s, uint8_t out[32])
{
    uint8_t *d = NULL;
    size_t len = 0;
    if (xg__base64_decode(s, strlen(s), &d, &len) != 0)
        return false;
    bool ok = len == 32;
    if (ok)
        memcpy(out, d, 32);
    free(d);
    return ok;
}

static int pins(xg_xlate *x, const char *field, char **in, size_t n, bool hex, uint8_t (**out)[32])
{
    *out = NULL;
    if (n == 0)
        return 0;
    if ((*out = xg_arena_calloc(&x->res->arena, n, 32)) == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!(hex ? hex_pin(in[i], (*out)[i]) : base64_pin(in[i], (*out)[i]))) {
            size_t m = xg_xlate_push_index(x, i);
            rc = xg_xlate_fail(x, "invalid %s-encoded SHA-256 \"%s\"", hex ? "hex" : "base64", in[i]);
            xg_xlate_pop(x, m);
        }
    }
    xg_xlate_pop(x, mark);
    return rc;
}

static int san_matcher(xg_xlate *x, const pb_san *pb, xg_san_matcher *out)
{
    switch (pb->san_type) {
    case SAN(EMAIL):
    case SAN(DNS):
    case SAN(URI):
    case SAN(IP_ADDRESS):
        out->type = (xg_san_type)pb->san_type;
        break;
    case SAN(OTHER_NAME):
        return xg__ces_fail_at(x, "san_type", "OTHER_NAME is not supported (EMAIL, DNS, URI, IP_ADDRESS are)");
    default:
        return xg__ces_fail_at(x, "san_type", "required: one of EMAIL, DNS, URI, IP_ADDRESS");
    }
    if (pb->matcher == NULL)
        return xg__ces_fail_at(x, "matcher", "required");
    xg_string_matcher *m = xg_xlate_alloc(x, sizeof(*m));
    if (m == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "matcher");
    int rc = xg_xlate_string_matcher(x, pb->matcher, m);
    xg_xlate_pop(x, mark);
    out->matcher = m;
    return rc;
}

/* The deprecated match_subject_alt_names: as in Envoy, each StringMatcher
 * becomes one matcher per SAN type (DNS, URI, EMAIL, IP_ADDRESS), sharing the
 * translated StringMatcher. */
static int untyped_san_matchers(xg_xlate *x, const pb_validation *pb, xg_validation_context *out)
{
    static const xg_san_type types[] = {XG_SAN_DNS, XG_SAN_URI, XG_SAN_EMAIL, XG_SAN_IP_ADDRESS};
    const size_t nt = sizeof(types) / sizeof(types[0]);
    size_t n = pb->n_match_subject_alt_names;
    if ((out->san_matchers = xg_arena_calloc(&x->res->arena, n * nt, sizeof(*out->san_matchers))) == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, "match_subject_alt_names");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        xg_string_matcher *m = xg_xlate_alloc(x, sizeof(*m));
        if (m == NULL)
            return XG_ENOMEM;
        size_t mi = xg_xlate_push_index(x, i);
        rc = xg_xlate_string_matcher(x, pb->match_subject_alt_names[i], m);
        xg_xlate_pop(x, mi);
        for (size_t t = 0; t < nt; t++)
            out->san_matchers[i * nt + t] = (xg_san_matcher){.type = types[t], .matcher = m};
    }
    xg_xlate_pop(x, mark);
    out->n_san_matchers = n * nt;
    out->san_matchers_untyped = true;
    return rc;
}

static int san_matchers(xg_xlate *x, const pb_validation *pb, xg_validation_context *out)
{
    size_t n = pb->n_match_typed_subject_alt_names;
    if (n > 0 && pb->n_match_subject_alt_names > 0)
        return xg__ces_fail_at(x, "match_subject_alt_names",
                               "SAN-based verification using both match_typed_subject_alt_names and the deprecated "
                               "match_subject_alt_names is not allowed");
    if (pb->n_match_subject_alt_names > 0)
        return untyped_san_matchers(x, pb, out);
    if (n == 0)
        return 0;
    if ((out->san_matchers = xg_arena_calloc(&x->res->arena, n, sizeof(*out->san_matchers))) == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, "match_typed_subject_alt_names");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t m = xg_xlate_push_index(x, i);
        rc = san_matcher(x, pb->match_typed_subject_alt_names[i], &out->san_matchers[i]);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    out->n_san_matchers = n;
    return rc;
}

/* Reads and parses the trusted CA bundle and the CRL. */
static int check_validation_sources(xg_xlate *x, const xg_validation_context *vc)
{
    xg_buf b;
    xg_buf_init(&b);
    int rc = 0;
    if (vc->trusted_ca.kind != XG_DS_NONE) {
        rc = load(x, "trusted_ca", &vc->trusted_ca, &b);
        if (rc == 0)
            rc = parse_certs(x, "trusted_ca", &vc->trusted_ca, &b, "trusted CA certificates", NULL);
    }
    if (rc == 0 && vc->crl.kind != XG_DS_NONE) {
        xg_buf_reset(&b);
        rc = load(x, "crl", &vc->crl, &b);
        BIO *bio = rc == 0 ? mem_bio(&b) : NULL;
        int n = 0;
        X509_CRL *crl;
        while (bio != NULL && (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
            X509_CRL_free(crl);
            n++;
        }
        if (rc == 0 && (n == 0 || !pem_at_end()))
            rc = xg__ces_fail_at(x, "crl", "failed to load CRL from %s: %s", xg_datasource_describe(&vc->crl),
                                 ssl_reason());
        BIO_free(bio);
    }
    xg_buf_dispose(&b);
    return rc;
}

static int check_standalone(xg_xlate *x, const xg_validation_context *vc)
{
    const char *field = NULL;
    const char *why = xg_validation_context_problem(vc, &field);
    return why ? xg__ces_fail_at(x, field, "%s", why) : 0;
}

static int validation_unsupported(xg_xlate *x, const pb_validation *pb)
{
    if (pb->system_root_certs != NULL)
        return xg__ces_fail_at(x, "system_root_certs", "not supported: give the CA bundle in trusted_ca");
    if (xg__ces_bool(pb->require_signed_certificate_timestamp, false))
        return xg__ces_fail_at(x, "require_signed_certificate_timestamp", "not supported");
    if (pb->trust_chain_verification >
        ENVOY__EXTENSIONS__TRANSPORT_SOCKETS__TLS__V3__CERTIFICATE_VALIDATION_CONTEXT__TRUST_CHAIN_VERIFICATION__ACCEPT_UNTRUSTED)
        return xg__ces_fail_at(x, "trust_chain_verification", "unknown value %d", (int)pb->trust_chain_verification);
    return 0;
}

int xg__xlate_validation_context(xg_xlate *x, const pb_validation *pb, bool standalone, xg_validation_context *out)
{
    memset(out, 0, sizeof(*out));
    int rc = validation_unsupported(x, pb);
    if (rc == 0)
        rc = xg__xlate_datasource(x, "trusted_ca", pb->trusted_ca, &out->trusted_ca);
    if (rc == 0)
        rc = xg__xlate_datasource(x, "crl", pb->crl, &out->crl);
    if (rc == 0)
        rc = pins(x, "verify_certificate_spki", pb->verify_certificate_spki, pb->n_verify_certificate_spki, false,
                  &out->spki_pins);
    if (rc == 0)
        rc = pins(x, "verify_certificate_hash", pb->verify_certificate_hash, pb->n_verify_certificate_hash, true,
                  &out->hash_pins);
    if (rc == 0)
        rc = san_matchers(x, pb, out);
    if (rc != 0)
        return rc;
    out->n_spki_pins = pb->n_verify_certificate_spki;
    out->n_hash_pins = pb->n_verify_certificate_hash;
    out->only_verify_leaf_cert_crl = pb->only_verify_leaf_cert_crl;
    out->allow_expired_certificate = pb->allow_expired_certificate;
    out->trust_chain = (xg_trust_chain)pb->trust_chain_verification;
    out->has_max_verify_depth = pb->max_verify_depth != NULL;
    out->max_verify_depth = xg__ces_u32(pb->max_verify_depth, 0);
    if ((rc = watched_dir(x, NULL, pb->watched_directory, &out->watched_directory)) != 0)
        return rc;
    if (standalone && (rc = check_standalone(x, out)) != 0)
        return rc;
    return check_validation_sources(x, out);
}
