/* TransportSocket -> xg_tls_context: DownstreamTlsContext (listeners) and
 * UpstreamTlsContext (clusters) with their CommonTlsContext, or NULL for a
 * plaintext raw_buffer socket. Every SDS secret name becomes an XG_RES_SECRET
 * dependency. TLS parameters (ciphers, curves, signature algorithms) are tried
 * on a scratch SSL_CTX so that a name the library does not know is a NACK. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/error.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb-c.h"
#include "xds/xlate_ces.h"

typedef Envoy__Extensions__TransportSockets__Tls__V3__TlsParameters pb_params;
typedef Envoy__Extensions__TransportSockets__Tls__V3__SdsSecretConfig pb_sds;
typedef Envoy__Extensions__TransportSockets__Tls__V3__CommonTlsContext pb_common;
typedef Envoy__Extensions__TransportSockets__Tls__V3__DownstreamTlsContext pb_downstream;
typedef Envoy__Extensions__TransportSockets__Tls__V3__UpstreamTlsContext pb_upstream;
#define TLS(c) ENVOY__EXTENSIONS__TRANSPORT_SOCKETS__TLS__V3__##c
#define VC_CASE(c) TLS(COMMON_TLS_CONTEXT__VALIDATION_CONTEXT_TYPE_##c)
#define TK_CASE(c) TLS(DOWNSTREAM_TLS_CONTEXT__SESSION_TICKET_KEYS_TYPE_##c)

#define TLS_SOCKET_NAME "envoy.transport_sockets.tls"
#define RAW_SOCKET_NAME "envoy.transport_sockets.raw_buffer"
#define RAW_BUFFER_TYPE "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"

static int tls_version(xg_xlate *x, const char *field, int v, uint16_t dflt, uint16_t *out)
{
    static const uint16_t map[] = {0, XG_TLS1_0, XG_TLS1_1, XG_TLS1_2, XG_TLS1_3};
    if (v < 0 || v > 4)
        return xg__ces_fail_at(x, field, "unknown TLS version %d", v);
    *out = v == 0 ? dflt : map[v];
    return 0;
}

typedef int (*ssl_setter)(SSL_CTX *ctx, const char *list);

static int set_cipher_list(SSL_CTX *ctx, const char *list)
{
    return SSL_CTX_set_cipher_list(ctx, list);
}
static int set_curves_list(SSL_CTX *ctx, const char *list)
{
    return (int)SSL_CTX_set1_curves_list(ctx, list);
}
static int set_sigalgs_list(SSL_CTX *ctx, const char *list)
{
    return (int)SSL_CTX_set1_sigalgs_list(ctx, list);
}

/* Copies a list of names, trying each one on ctx. */
static int ssl_names(xg_xlate *x, SSL_CTX *ctx, const char *field, char **in, size_t n, ssl_setter set,
                     const char *what, const char ***out)
{
    int rc = xg__ces_strv(x, in, n, out);
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (in[i][0] == '\0' || set(ctx, in[i]) != 1) {
            size_t m = xg_xlate_push_index(x, i);
            rc = xg_xlate_fail(x, "unknown %s \"%s\"", what, in[i]);
            xg_xlate_pop(x, m);
        }
    }
    ERR_clear_error();
    xg_xlate_pop(x, mark);
    return rc;
}

/* TlsParameters; TLS_AUTO is 1.2 .. 1.3 in both directions. */
static int tls_params(xg_xlate *x, const pb_params *pb, xg_tls_params *out)
{
    out->min_version = XG_TLS1_2;
    out->max_version = XG_TLS1_3;
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "tls_params");
    int rc =
        tls_version(x, "tls_minimum_protocol_version", pb->tls_minimum_protocol_version, XG_TLS1_2, &out->min_version);
    if (rc == 0)
        rc = tls_version(x, "tls_maximum_protocol_version", pb->tls_maximum_protocol_version, XG_TLS1_3,
                         &out->max_version);
    if (rc == 0 && out->min_version > out->max_version)
        rc = xg_xlate_fail(x, "tls_minimum_protocol_version is above tls_maximum_protocol_version");
    SSL_CTX *ctx = rc == 0 ? SSL_CTX_new(TLS_method()) : NULL;
    if (rc == 0 && ctx == NULL)
        rc = XG_ENOMEM;
    if (rc == 0)
        rc = ssl_names(x, ctx, "cipher_suites", pb->cipher_suites, pb->n_cipher_suites, set_cipher_list, "cipher suite",
                       &out->cipher_suites);
    if (rc == 0)
        rc = ssl_names(x, ctx, "ecdh_curves", pb->ecdh_curves, pb->n_ecdh_curves, set_curves_list, "ECDH curve",
                       &out->ecdh_curves);
    if (rc == 0)
        rc = ssl_names(x, ctx, "signature_algorithms", pb->signature_algorithms, pb->n_signature_algorithms,
                       set_sigalgs_list, "signature algorithm", &out->signature_algorithms);
    SSL_CTX_free(ctx);
    out->n_cipher_suites = pb->n_cipher_suites;
    out->n_ecdh_curves = pb->n_ecdh_curves;
    out->n_signature_algorithms = pb->n_signature_algorithms;
    xg_xlate_pop(x, mark);
    return rc;
}

/* An SdsSecretConfig at field (pushed here; NULL: x's path): ADS only, recorded as a dep. */
static int sds_ref(xg_xlate *x, const char *field, const pb_sds *pb, xg_sds_ref *out)
{
    size_t mark = field ? xg_xlate_push(x, field) : 0;
    int rc = 0;
    if (pb->name[0] == '\0')
        rc = xg__ces_fail_at(x, "name", "required");
    if (rc == 0)
        rc = xg__ces_ads_source(x, "sds_config", pb->sds_config, &out->initial_fetch_timeout_ms);
    if (rc == 0 && (out->name = xg_xlate_strdup(x, pb->name)) == NULL)
        rc = XG_ENOMEM;
    if (rc == 0)
        rc = xg_xlate_dep(x, XG_RES_SECRET, pb->name);
    if (field)
        xg_xlate_pop(x, mark);
    return rc;
}

static int certificates(xg_xlate *x, const pb_common *pb, xg_tls_context *out)
{
    size_t n = pb->n_tls_certificates, ns = pb->n_tls_certificate_sds_secret_configs;
    out->certificates = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*out->certificates)) : NULL;
    out->certificate_sds = ns ? xg_arena_calloc(&x->res->arena, ns, sizeof(*out->certificate_sds)) : NULL;
    if ((n && out->certificates == NULL) || (ns && out->certificate_sds == NULL))
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, "tls_certificates");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t m = xg_xlate_push_index(x, i);
        rc = xg__xlate_tls_certificate(x, pb->tls_certificates[i], &out->certificates[i]);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    mark = xg_xlate_push(x, "tls_certificate_sds_secret_configs");
    for (size_t i = 0; rc == 0 && i < ns; i++) {
        size_t m = xg_xlate_push_index(x, i);
        rc = sds_ref(x, NULL, pb->tls_certificate_sds_secret_configs[i], &out->certificate_sds[i]);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    out->n_certificates = n;
    out->n_certificate_sds = ns;
    return rc;
}

static int inline_vc(xg_xlate *x, const char *field,
                     const Envoy__Extensions__TransportSockets__Tls__V3__CertificateValidationContext *pb,
                     bool standalone, xg_tls_context *out)
{
    xg_validation_context *vc = xg_xlate_alloc(x, sizeof(*vc));
    if (vc == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, field);
    int rc = xg__xlate_validation_context(x, pb, standalone, vc);
    xg_xlate_pop(x, mark);
    out->vc = vc;
    return rc;
}

static int validation(xg_xlate *x, const pb_common *pb, xg_tls_context *out)
{
    const Envoy__Extensions__TransportSockets__Tls__V3__CommonTlsContext__CombinedCertificateValidationContext *c;
    switch (pb->validation_context_type_case) {
    case VC_CASE(VALIDATION_CONTEXT):
        out->vc_kind = XG_VC_INLINE;
        return inline_vc(x, "validation_context", pb->validation_context, true, out);
    case VC_CASE(VALIDATION_CONTEXT_SDS_SECRET_CONFIG):
        out->vc_kind = XG_VC_SDS;
        return sds_ref(x, "validation_context_sds_secret_config", pb->validation_context_sds_secret_config,
                       &out->vc_sds);
    case VC_CASE(COMBINED_VALIDATION_CONTEXT): {
        out->vc_kind = XG_VC_COMBINED;
        c = pb->combined_validation_context;
        size_t mark = xg_xlate_push(x, "combined_validation_context");
        int rc = 0;
        if (c->default_validation_context == NULL)
            rc = xg__ces_fail_at(x, "default_validation_context", "required");
        else if (c->validation_context_sds_secret_config == NULL)
            rc = xg__ces_fail_at(x, "validation_context_sds_secret_config", "required");
        if (rc == 0)
            rc = inline_vc(x, "default_validation_context", c->default_validation_context, false, out);
        if (rc == 0)
            rc = sds_ref(x, "validation_context_sds_secret_config", c->validation_context_sds_secret_config,
                         &out->vc_sds);
        xg_xlate_pop(x, mark);
        return rc;
    }
    default:
        out->vc_kind = XG_VC_NONE;
        return 0;
    }
}

static int alpn(xg_xlate *x, const pb_common *pb, xg_tls_context *out)
{
    for (size_t i = 0; i < pb->n_alpn_protocols; i++) {
        size_t len = strlen(pb->alpn_protocols[i]);
        if (len == 0 || len > 255) {
            size_t mark = xg_xlate_push(x, "alpn_protocols");
            size_t m = xg_xlate_push_index(x, i);
            int rc = xg_xlate_fail(x, "an ALPN protocol name is 1 to 255 bytes");
            xg_xlate_pop(x, m);
            xg_xlate_pop(x, mark);
            return rc;
        }
    }
    out->n_alpn_protocols = pb->n_alpn_protocols;
    return xg__ces_strv(x, pb->alpn_protocols, pb->n_alpn_protocols, &out->alpn_protocols);
}

/* CommonTlsContext (pb may be NULL: an empty one). */
static int common_context(xg_xlate *x, const pb_common *pb, xg_tls_context *out)
{
    if (pb == NULL)
        return tls_params(x, NULL, &out->params);
    size_t mark = xg_xlate_push(x, "common_tls_context");
    int rc = tls_params(x, pb->tls_params, &out->params);
    if (rc == 0)
        rc = certificates(x, pb, out);
    if (rc == 0)
        rc = validation(x, pb, out);
    if (rc == 0)
        rc = alpn(x, pb, out);
    xg_xlate_pop(x, mark);
    return rc;
}

static int ticket_keys(xg_xlate *x, const pb_downstream *pb, xg_tls_context *out)
{
    xg_ticket_keys *keys;
    int rc;
    switch (pb->session_ticket_keys_type_case) {
    case TK_CASE(SESSION_TICKET_KEYS):
        out->ticket_mode = XG_TICKETS_INLINE;
        if ((keys = xg_xlate_alloc(x, sizeof(*keys))) == NULL)
            return XG_ENOMEM;
        size_t mark = xg_xlate_push(x, "session_ticket_keys");
        rc = xg__xlate_ticket_keys(x, pb->session_ticket_keys, keys);
        xg_xlate_pop(x, mark);
        out->ticket_keys = keys;
        return rc;
    case TK_CASE(SESSION_TICKET_KEYS_SDS_SECRET_CONFIG):
        out->ticket_mode = XG_TICKETS_SDS;
        return sds_ref(x, "session_ticket_keys_sds_secret_config", pb->session_ticket_keys_sds_secret_config,
                       &out->ticket_keys_sds);
    case TK_CASE(DISABLE_STATELESS_SESSION_RESUMPTION):
        out->ticket_mode = pb->disable_stateless_session_resumption ? XG_TICKETS_DISABLED : XG_TICKETS_DEFAULT;
        return 0;
    default:
        out->ticket_mode = XG_TICKETS_DEFAULT;
        return 0;
    }
}

static int downstream_context(xg_xlate *x, const pb_downstream *pb, xg_tls_context *out)
{
    out->downstream = true;
    int rc = common_context(x, pb->common_tls_context, out);
    if (rc == 0 && out->n_certificates + out->n_certificate_sds == 0)
        rc = xg__ces_fail_at(x, "common_tls_context",
                             "a DownstreamTlsContext needs a certificate: set tls_certificates or "
                             "tls_certificate_sds_secret_configs");
    out->require_client_certificate = xg__ces_bool(pb->require_client_certificate, false);
    if (rc == 0 && out->require_client_certificate && out->vc_kind == XG_VC_NONE)
        rc = xg__ces_fail_at(x, "require_client_certificate",
                             "true needs a validation context in common_tls_context (validation_context, "
                             "validation_context_sds_secret_config or combined_validation_context)");
    if (rc == 0 && pb->ocsp_staple_policy != TLS(DOWNSTREAM_TLS_CONTEXT__OCSP_STAPLE_POLICY__LENIENT_STAPLING))
        rc = xg__ces_fail_at(x, "ocsp_staple_policy", "only LENIENT_STAPLING is supported");
    if (rc == 0)
        rc = ticket_keys(x, pb, out);
    out->session_timeout_ms = -1;
    if (rc == 0 && pb->session_timeout != NULL && pb->session_timeout->seconds >= 4294967296LL)
        rc = xg__ces_fail_at(x, "session_timeout", "must be below 4294967296s");
    if (rc == 0 && pb->session_timeout != NULL)
        rc = xg__ces_duration(x, "session_timeout", pb->session_timeout, -1, XG__DUR_NONNEG, &out->session_timeout_ms);
    out->require_sni = xg__ces_bool(pb->require_sni, false);
    out->disable_stateful_session_resumption = pb->disable_stateful_session_resumption;
    out->full_scan_certs_on_sni_mismatch = xg__ces_bool(pb->full_scan_certs_on_sni_mismatch, false);
    return rc;
}

static int upstream_context(xg_xlate *x, const pb_upstream *pb, xg_tls_context *out)
{
    out->downstream = false;
    int rc = common_context(x, pb->common_tls_context, out);
    if (rc == 0 && out->n_certificates + out->n_certificate_sds > 1)
        rc = xg__ces_fail_at(x, "common_tls_context",
                             "multiple TLS certificates are not supported for upstream (client) contexts");
    if (rc == 0 && strlen(pb->sni) > 255)
        rc = xg__ces_fail_at(x, "sni", "longer than 255 bytes");
    if (rc == 0 && pb->allow_renegotiation)
        rc = xg__ces_fail_at(x, "allow_renegotiation", "not supported: TLS renegotiation is never allowed");
    if (rc == 0 && pb->sni[0] != '\0' && (out->sni = xg_xlate_strdup(x, pb->sni)) == NULL)
        rc = XG_ENOMEM;
    out->max_session_keys = xg__ces_u32(pb->max_session_keys, 1);
    out->enforce_rsa_key_usage = xg__ces_bool(pb->enforce_rsa_key_usage, false);
#ifdef XG_TLS_OPENSSL
    if (rc == 0 && out->enforce_rsa_key_usage)
        rc = xg__ces_fail_at(x, "enforce_rsa_key_usage", "not supported by the OpenSSL build (BoringSSL only)");
#endif
    return rc;
}

static int empty_context(xg_xlate *x, bool downstream, xg_tls_context *ctx)
{
    pb_downstream d = ENVOY__EXTENSIONS__TRANSPORT_SOCKETS__TLS__V3__DOWNSTREAM_TLS_CONTEXT__INIT;
    pb_upstream u = ENVOY__EXTENSIONS__TRANSPORT_SOCKETS__TLS__V3__UPSTREAM_TLS_CONTEXT__INIT;
    return downstream ? downstream_context(x, &d, ctx) : upstream_context(x, &u, ctx);
}

/* A TransportSocket without typed_config: known by its name alone. */
static int by_name(xg_xlate *x, const char *name, bool downstream, xg_tls_context *ctx, xg_tls_context **out)
{
    if (strcmp(name, RAW_SOCKET_NAME) == 0 || strcmp(name, "raw_buffer") == 0)
        return 0;
    if (strcmp(name, TLS_SOCKET_NAME) != 0 && strcmp(name, "tls") != 0)
        return xg__ces_fail_at(x, "name", "transport socket \"%s\" is not supported (%s and %s are)", name,
                               TLS_SOCKET_NAME, RAW_SOCKET_NAME);
    /* An empty TLS context, as Envoy builds from the name alone. */
    size_t mark = xg_xlate_push(x, "typed_config");
    int rc = empty_context(x, downstream, ctx);
    xg_xlate_pop(x, mark);
    if (rc == 0)
        *out = ctx;
    return rc;
}

static int by_type(xg_xlate *x, const Google__Protobuf__Any *any, bool downstream, xg_tls_context *ctx,
                   xg_tls_context **out)
{
    const char *type = xg__ces_any_name(any);
    const ProtobufCMessageDescriptor *want =
        downstream ? &envoy__extensions__transport_sockets__tls__v3__downstream_tls_context__descriptor
                   : &envoy__extensions__transport_sockets__tls__v3__upstream_tls_context__descriptor;
    if (strcmp(type, RAW_BUFFER_TYPE) == 0)
        return any->value.len == 0 ? 0 : xg__ces_fail_at(x, "typed_config", "RawBuffer takes no fields");
    if (strcmp(type, want->name) != 0) {
        const char *other = downstream ? "UpstreamTlsContext" : "DownstreamTlsContext";
        if (strcmp(type, downstream ? "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
                                    : "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext") == 0)
            return xg__ces_fail_at(x, "typed_config", "%s is not valid here: a %s needs %s", other,
                                   downstream ? "listener" : "cluster", want->short_name);
        return xg__ces_fail_at(x, "typed_config", "transport socket type \"%s\" is not supported (%s and %s are)", type,
                               want->name, RAW_BUFFER_TYPE);
    }
    ProtobufCMessage *m = NULL;
    int rc = xg__ces_any_unpack(x, "typed_config", any, want, &m);
    size_t mark = xg_xlate_push(x, "typed_config");
    if (rc == 0)
        rc = downstream ? downstream_context(x, (const pb_downstream *)m, ctx)
                        : upstream_context(x, (const pb_upstream *)m, ctx);
    xg_xlate_pop(x, mark);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    if (rc == 0)
        *out = ctx;
    return rc;
}

int xg_xlate_transport_socket(xg_xlate *x, const Envoy__Config__Core__V3__TransportSocket *pb, bool downstream,
                              xg_tls_context **out)
{
    *out = NULL;
    if (pb == NULL)
        return 0;
    xg_tls_context *ctx = xg_xlate_alloc(x, sizeof(*ctx));
    if (ctx == NULL)
        return XG_ENOMEM;
    if (pb->config_type_case == ENVOY__CONFIG__CORE__V3__TRANSPORT_SOCKET__CONFIG_TYPE_TYPED_CONFIG &&
        pb->typed_config != NULL)
        return by_type(x, pb->typed_config, downstream, ctx, out);
    return by_name(x, pb->name, downstream, ctx, out);
}
