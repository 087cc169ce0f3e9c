/* Unit tests for the TLS translator (xlate_tls.c, xlate_tls_common.c):
 * Downstream/Upstream TLS contexts inside a TransportSocket, certificates
 * from inline PEM, files and environment variables (made at test time, never
 * committed), validation contexts, SDS references, and the exact NACK text
 * for bad or unsupported settings. Key material must never appear in an error. */
#include <stdlib.h>

#include "config/matcher.h"
#include "config/tls.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb-c.h"
#include "xlate_ces_test.h"

static bool g_downstream = true;

static int xl(xg_xlate *x, const void *pb)
{
    xg_tls_context *tls = NULL;
    size_t mark = xg_xlate_push(x, "transport_socket");
    int rc = xg_xlate_transport_socket(x, pb, g_downstream, &tls);
    xg_xlate_pop(x, mark);
    x->res->body = tls;
    return rc;
}

static xg_res *ts(bool downstream, const char *yaml)
{
    g_downstream = downstream;
    return xlate_yaml(&envoy__config__core__v3__transport_socket__descriptor, XG_RES_LISTENER, xl, yaml);
}

static void nack(bool downstream, const char *yaml, const char *want)
{
    xg_res *r = ts(downstream, yaml);
    CHECK(r == NULL);
    CHECK_STR(err, want);
    xg_res_unref(r);
}

/* Expects a NACK whose text starts with want (the rest is the TLS library's reason). */
static void nack_prefix(bool downstream, const char *yaml, const char *want)
{
    xg_res *r = ts(downstream, yaml);
    CHECK(r == NULL);
    if (!CHECK(strncmp(err, want, strlen(want)) == 0))
        fprintf(stderr, "  got: %s\n  want prefix: %s\n", err, want);
    xg_res_unref(r);
}

static char *cert_pem, *key_pem, *ca_pem, *other_key_pem;

static void setup(void)
{
    if (cert_pem != NULL)
        return;
    make_cert("server.example", &cert_pem, &key_pem);
    make_cert("ca.example", &ca_pem, &other_key_pem);
}

#define DTC                                                                                                            \
    "name: envoy.transport_sockets.tls\ntyped_config:\n  '@type': "                                                    \
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n"
#define UTC                                                                                                            \
    "name: envoy.transport_sockets.tls\ntyped_config:\n  '@type': "                                                    \
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n"

static char yaml[32768];

/* A DownstreamTlsContext with one inline certificate, then extra lines. */
static const char *dtc_inline(const char *common_extra, const char *extra)
{
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {inline_string: %s}, "
                 "private_key: {inline_string: %s}}]\n%s%s",
             yq(cert_pem), yq(key_pem), common_extra, extra);
    return yaml;
}

XG_TEST(downstream_inline_defaults)
{
    setup();
    xg_res *r = ts(true, dtc_inline("", ""));
    if (!CHECK(r != NULL)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const xg_tls_context *t = r->body;
    CHECK(t->downstream);
    CHECK_EQ_INT(t->params.min_version, XG_TLS1_2);
    CHECK_EQ_INT(t->params.max_version, XG_TLS1_3);
    CHECK_EQ_INT(t->params.n_cipher_suites, 0);
    if (CHECK_EQ_INT(t->n_certificates, 1)) {
        const xg_tls_certificate *c = &t->certificates[0];
        CHECK_EQ_INT(c->certificate_chain.kind, XG_DS_INLINE);
        CHECK_STR(c->certificate_chain.value, cert_pem);
        CHECK_EQ_INT(c->certificate_chain.len, strlen(cert_pem));
        /* the key is kept: the data path needs it */
        CHECK_STR(c->private_key.value, key_pem);
    }
    CHECK_EQ_INT(t->n_certificate_sds, 0);
    CHECK_EQ_INT(t->vc_kind, XG_VC_NONE);
    CHECK(!t->require_client_certificate);
    CHECK(!t->require_sni);
    CHECK_EQ_INT(t->ticket_mode, XG_TICKETS_DEFAULT);
    CHECK_EQ_INT(t->session_timeout_ms, -1);
    CHECK(!t->full_scan_certs_on_sni_mismatch);
    CHECK_EQ_INT(r->n_deps, 0);
    xg_res_unref(r);
}

XG_TEST(downstream_full)
{
    setup();
    char vc[8192];
    snprintf(
        vc, sizeof(vc),
        "    alpn_protocols: [h2, http/1.1]\n"
        "    tls_params: {tls_minimum_protocol_version: TLSv1_3, cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256], "
        "ecdh_curves: [X25519, P-256]}\n"
        "    validation_context:\n"
        "      trusted_ca: {inline_string: %s}\n"
        "      match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: 'spiffe://cluster.local/'}}]\n"
        "      verify_certificate_hash: ['DF:6F:F7:2F:E9:11:65:21:26:8F:6F:2D:D4:96:6F:51:DF:6F:F7:2F:E9:11:65:21:26"
        ":8F:6F:2D:D4:96:6F:51']\n"
        "      verify_certificate_spki: ['NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A=']\n"
        "      allow_expired_certificate: true\n"
        "      trust_chain_verification: ACCEPT_UNTRUSTED\n"
        "      max_verify_depth: 3\n",
        yq(ca_pem));
    xg_res *r = ts(true, dtc_inline(vc, "  require_client_certificate: true\n  require_sni: true\n"
                                        "  session_timeout: 300s\n  disable_stateless_session_resumption: true\n"
                                        "  disable_stateful_session_resumption: true\n"
                                        "  full_scan_certs_on_sni_mismatch: true\n"));
    if (!CHECK(r != NULL)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const xg_tls_context *t = r->body;
    CHECK_EQ_INT(t->params.min_version, XG_TLS1_3);
    CHECK_EQ_INT(t->params.max_version, XG_TLS1_3);
    CHECK(t->params.n_cipher_suites == 1 && strcmp(t->params.cipher_suites[0], "ECDHE-RSA-AES128-GCM-SHA256") == 0);
    CHECK(t->params.n_ecdh_curves == 2 && strcmp(t->params.ecdh_curves[1], "P-256") == 0);
    CHECK(t->n_alpn_protocols == 2 && strcmp(t->alpn_protocols[0], "h2") == 0);
    CHECK_EQ_INT(t->vc_kind, XG_VC_INLINE);
    if (CHECK(t->vc != NULL)) {
        CHECK_EQ_INT(t->vc->trusted_ca.kind, XG_DS_INLINE);
        CHECK_EQ_INT(t->vc->n_san_matchers, 1);
        CHECK_EQ_INT(t->vc->san_matchers[0].type, XG_SAN_URI);
        CHECK(xg_string_matcher_match(t->vc->san_matchers[0].matcher, "spiffe://cluster.local/ns/a", 27));
        CHECK_EQ_INT(t->vc->n_hash_pins, 1);
        CHECK_EQ_INT(t->vc->hash_pins[0][0], 0xdf);
        CHECK_EQ_INT(t->vc->hash_pins[0][31], 0x51);
        CHECK_EQ_INT(t->vc->n_spki_pins, 1);
        CHECK_EQ_INT(t->vc->spki_pins[0][0], 0x36);
        CHECK(t->vc->allow_expired_certificate);
        CHECK_EQ_INT(t->vc->trust_chain, XG_TRUST_ACCEPT_UNTRUSTED);
        CHECK(t->vc->has_max_verify_depth && t->vc->max_verify_depth == 3);
    }
    CHECK(t->require_client_certificate);
    CHECK(t->require_sni);
    CHECK_EQ_INT(t->session_timeout_ms, 300000);
    CHECK_EQ_INT(t->ticket_mode, XG_TICKETS_DISABLED);
    CHECK(t->disable_stateful_session_resumption);
    CHECK(t->full_scan_certs_on_sni_mismatch);
    xg_res_unref(r);
}

XG_TEST(certificates_from_files_and_env)
{
    setup();
    char cert_path[256], key_path[256];
    snprintf(cert_path, sizeof(cert_path), "%s", write_file("cert.pem", cert_pem));
    snprintf(key_path, sizeof(key_path), "%s", write_file("key.pem", key_pem));
    setenv("XG_TEST_KEY", key_pem, 1);
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates:\n"
                 "    - {certificate_chain: {filename: %s}, private_key: {filename: %s}, "
                 "watched_directory: {path: %s}}\n"
                 "    - {certificate_chain: {filename: %s}, private_key: {environment_variable: XG_TEST_KEY}}\n",
             cert_path, key_path, scratch_dir(), cert_path);
    xg_res *r = ts(true, yaml);
    if (CHECK(r != NULL) && CHECK_EQ_INT(((const xg_tls_context *)r->body)->n_certificates, 2)) {
        const xg_tls_certificate *c = ((const xg_tls_context *)r->body)->certificates;
        CHECK_EQ_INT(c[0].certificate_chain.kind, XG_DS_FILE);
        CHECK_STR(c[0].certificate_chain.value, cert_path);
        CHECK_STR(c[0].private_key.value, key_path);
        CHECK_STR(c[0].watched_directory, scratch_dir());
        CHECK_EQ_INT(c[1].private_key.kind, XG_DS_ENV);
        CHECK_STR(c[1].private_key.value, "XG_TEST_KEY");
        /* the TLS layer reads the current contents at use time */
        xg_buf b;
        xg_buf_init(&b);
        CHECK(xg_datasource_read(&c[1].private_key, &b) == 0 && strcmp(b.data, key_pem) == 0);
        xg_buf_dispose(&b);
    } else {
        fprintf(stderr, "%s\n", err);
    }
    xg_res_unref(r);

    char want[512];
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {filename: %s/missing.pem}, "
                 "private_key: {filename: %s}}]\n",
             scratch_dir(), key_path);
    snprintf(want, sizeof(want),
             "transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain: cannot read "
             "%s/missing.pem: No such file or directory",
             scratch_dir());
    nack(true, yaml, want);
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {filename: %s}, "
                 "private_key: {environment_variable: XG_TEST_UNSET_VARIABLE}}]\n",
             cert_path);
    nack(true, yaml,
         "transport_socket.typed_config.common_tls_context.tls_certificates[0].private_key: environment variable "
         "XG_TEST_UNSET_VARIABLE is not set");
    unsetenv("XG_TEST_KEY");
}

XG_TEST(bad_pem_never_leaks_the_key)
{
    setup();
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {inline_string: 'not a pem'}, "
                 "private_key: {inline_string: %s}}]\n",
             yq(key_pem));
    nack_prefix(true, yaml,
                "transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain: failed to "
                "load certificate chain from <inline>: ");
    /* a truncated key */
    char broken[4096];
    snprintf(broken, sizeof(broken), "%.*s", (int)(strlen(key_pem) / 2), key_pem);
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {inline_string: %s}, "
                 "private_key: {inline_string: %s}}]\n",
             yq(cert_pem), yq(broken));
    nack_prefix(true, yaml,
                "transport_socket.typed_config.common_tls_context.tls_certificates[0].private_key: failed to load "
                "private key from <inline>: ");
    CHECK(strstr(err, "PRIVATE") == NULL);
    CHECK(strstr(err, broken + 40) == NULL);
    /* a key that belongs to another certificate */
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {inline_string: %s}, "
                 "private_key: {inline_string: %s}}]\n",
             yq(cert_pem), yq(other_key_pem));
    nack(true, yaml,
         "transport_socket.typed_config.common_tls_context.tls_certificates[0].private_key: private key from <inline> "
         "does not match the certificate chain's first certificate");
}

XG_TEST(downstream_nacks)
{
    setup();
    nack(true, DTC "  common_tls_context: {alpn_protocols: [h2]}\n",
         "transport_socket.typed_config.common_tls_context: a DownstreamTlsContext needs a certificate: set "
         "tls_certificates or tls_certificate_sds_secret_configs");
    nack(true, "name: envoy.transport_sockets.tls\n",
         "transport_socket.typed_config.common_tls_context: a DownstreamTlsContext needs a certificate: set "
         "tls_certificates or tls_certificate_sds_secret_configs");
    nack(true, dtc_inline("", "  require_client_certificate: true\n"),
         "transport_socket.typed_config.require_client_certificate: true needs a validation context in "
         "common_tls_context (validation_context, validation_context_sds_secret_config or "
         "combined_validation_context)");
    nack(true, dtc_inline("", "  ocsp_staple_policy: MUST_STAPLE\n"),
         "transport_socket.typed_config.ocsp_staple_policy: only LENIENT_STAPLING is supported");
    nack(true,
         dtc_inline("    validation_context: {match_typed_subject_alt_names: [{san_type: DNS, matcher: "
                    "{exact: a.example}}]}\n",
                    ""),
         "transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names: "
         "SAN-based verification of peer certificates without trusted_ca is insecure and not allowed");
    nack(true, dtc_inline("    validation_context: {crl: {inline_string: x}}\n", ""),
         "transport_socket.typed_config.common_tls_context.validation_context.crl: a CRL without trusted_ca is not "
         "allowed");
    nack(true,
         dtc_inline("    validation_context: {trusted_ca: {filename: /x}, match_typed_subject_alt_names: "
                    "[{matcher: {exact: a}}]}\n",
                    ""),
         "transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0]."
         "san_type: required: one of EMAIL, DNS, URI, IP_ADDRESS");
    nack(true, dtc_inline("    validation_context: {verify_certificate_hash: [abc]}\n", ""),
         "transport_socket.typed_config.common_tls_context.validation_context.verify_certificate_hash[0]: invalid "
         "hex-encoded SHA-256 \"abc\"");
    nack(true, dtc_inline("    validation_context: {verify_certificate_spki: ['aGVsbG8=']}\n", ""),
         "transport_socket.typed_config.common_tls_context.validation_context.verify_certificate_spki[0]: invalid "
         "base64-encoded SHA-256 \"aGVsbG8=\"");
    nack(true, dtc_inline("    validation_context: {system_root_certs: {}}\n", ""),
         "transport_socket.typed_config.common_tls_context.validation_context.system_root_certs: not supported: give "
         "the CA bundle in trusted_ca");
    nack_prefix(true, dtc_inline("    validation_context: {trusted_ca: {inline_string: 'junk'}}\n", ""),
                "transport_socket.typed_config.common_tls_context.validation_context.trusted_ca: failed to load "
                "trusted CA certificates from <inline>: ");
    nack(true, dtc_inline("    alpn_protocols: ['']\n", ""),
         "transport_socket.typed_config.common_tls_context.alpn_protocols[0]: an ALPN protocol name is 1 to 255 "
         "bytes");
    nack(true, dtc_inline("", "  session_ticket_keys: {keys: [{inline_string: short}]}\n"),
         "transport_socket.typed_config.session_ticket_keys.keys[0]: incorrect TLS session ticket key length 5, "
         "expected 80");
    nack(true,
         DTC "  common_tls_context: {tls_certificates: [{certificate_chain: {inline_string: x}, "
             "private_key: {inline_string: y}, password: {inline_string: z}}]}\n",
         "transport_socket.typed_config.common_tls_context.tls_certificates[0].password: not supported: encrypted "
         "private keys are not supported");
    nack(true, DTC "  common_tls_context: {tls_certificates: [{private_key: {inline_string: y}}]}\n",
         "transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain: required");
    nack(true,
         DTC "  common_tls_context: {tls_certificates: [{certificate_chain: {}, private_key: {inline_string: "
             "y}}]}\n",
         "transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain: one of filename, "
         "inline_bytes, inline_string or environment_variable is required");
}

XG_TEST(tls_params_nacks)
{
    setup();
    nack(true,
         dtc_inline("    tls_params: {tls_minimum_protocol_version: TLSv1_3, tls_maximum_protocol_version: "
                    "TLSv1_2}\n",
                    ""),
         "transport_socket.typed_config.common_tls_context.tls_params: tls_minimum_protocol_version is above "
         "tls_maximum_protocol_version");
    nack(true, dtc_inline("    tls_params: {cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256, NOT-A-CIPHER]}\n", ""),
         "transport_socket.typed_config.common_tls_context.tls_params.cipher_suites[1]: unknown cipher suite "
         "\"NOT-A-CIPHER\"");
    nack(true, dtc_inline("    tls_params: {ecdh_curves: [P-257]}\n", ""),
         "transport_socket.typed_config.common_tls_context.tls_params.ecdh_curves[0]: unknown ECDH curve \"P-257\"");
    xg_res *r = ts(true, dtc_inline("    tls_params: {tls_minimum_protocol_version: TLSv1_0, "
                                    "tls_maximum_protocol_version: TLSv1_2}\n",
                                    ""));
    if (CHECK(r != NULL)) {
        CHECK_EQ_INT(((const xg_tls_context *)r->body)->params.min_version, XG_TLS1_0);
        CHECK_EQ_INT(((const xg_tls_context *)r->body)->params.max_version, XG_TLS1_2);
    }
    xg_res_unref(r);
}

XG_TEST(sds_references)
{
    xg_res *r = ts(true, DTC "  common_tls_context:\n"
                             "    tls_certificate_sds_secret_configs: [{name: server-cert, sds_config: {ads: {}, "
                             "initial_fetch_timeout: 3s}}]\n"
                             "    combined_validation_context:\n"
                             "      default_validation_context: {match_typed_subject_alt_names: [{san_type: DNS, "
                             "matcher: {suffix: .example}}]}\n"
                             "      validation_context_sds_secret_config: {name: ca, sds_config: {ads: {}}}\n"
                             "  require_client_certificate: true\n"
                             "  session_ticket_keys_sds_secret_config: {name: tickets, sds_config: {ads: {}}}\n");
    if (!CHECK(r != NULL)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const xg_tls_context *t = r->body;
    CHECK(t->n_certificate_sds == 1 && strcmp(t->certificate_sds[0].name, "server-cert") == 0);
    CHECK_EQ_INT(t->certificate_sds[0].initial_fetch_timeout_ms, 3000);
    CHECK_EQ_INT(t->vc_kind, XG_VC_COMBINED);
    CHECK(t->vc != NULL && t->vc->n_san_matchers == 1);
    CHECK_STR(t->vc_sds.name, "ca");
    CHECK_EQ_INT(t->vc_sds.initial_fetch_timeout_ms, 15000);
    CHECK_EQ_INT(t->ticket_mode, XG_TICKETS_SDS);
    CHECK_STR(t->ticket_keys_sds.name, "tickets");
    CHECK(has_dep(r, XG_RES_SECRET, "server-cert"));
    CHECK(has_dep(r, XG_RES_SECRET, "ca"));
    CHECK(has_dep(r, XG_RES_SECRET, "tickets"));
    CHECK_EQ_INT(r->n_deps, 3);
    xg_res_unref(r);
    nack(true,
         DTC "  common_tls_context: {tls_certificate_sds_secret_configs: [{name: c, sds_config: "
             "{api_config_source: {api_type: GRPC}}}]}\n",
         "transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config: "
         "api_config_source is not supported: xdsgate takes every resource over its one ADS stream, use ads: {}");
    nack(true, DTC "  common_tls_context: {tls_certificate_sds_secret_configs: [{name: c}]}\n",
         "transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config: "
         "required: xdsgate fetches it over ADS, set ads: {}");
    nack(true, DTC "  common_tls_context: {tls_certificate_sds_secret_configs: [{sds_config: {ads: {}}}]}\n",
         "transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name: required");
}

XG_TEST(upstream_contexts)
{
    setup();
    xg_res *r = ts(false, "name: envoy.transport_sockets.tls\n");
    if (CHECK(r != NULL) && CHECK(r->body != NULL)) {
        const xg_tls_context *t = r->body;
        CHECK(!t->downstream);
        CHECK(t->sni == NULL);
        CHECK_EQ_INT(t->vc_kind, XG_VC_NONE);
        CHECK_EQ_INT(t->max_session_keys, 1);
        CHECK_EQ_INT(t->params.max_version, XG_TLS1_3);
    }
    xg_res_unref(r);
#ifdef XG_TLS_OPENSSL
    nack(false, UTC "  enforce_rsa_key_usage: true\n",
         "transport_socket.typed_config.enforce_rsa_key_usage: not supported by the OpenSSL build (BoringSSL only)");
    r = ts(false, UTC "  sni: api.example\n  max_session_keys: 0\n  enforce_rsa_key_usage: false\n");
#else
    r = ts(false, UTC "  sni: api.example\n  max_session_keys: 0\n  enforce_rsa_key_usage: true\n");
#endif
    if (CHECK(r != NULL)) {
        const xg_tls_context *t = r->body;
        CHECK_STR(t->sni, "api.example");
        CHECK_EQ_INT(t->max_session_keys, 0);
#ifndef XG_TLS_OPENSSL
        CHECK(t->enforce_rsa_key_usage);
#endif
    }
    xg_res_unref(r);
    nack(false, UTC "  allow_renegotiation: true\n",
         "transport_socket.typed_config.allow_renegotiation: not supported: TLS renegotiation is never allowed");
    nack(false,
         UTC "  common_tls_context: {tls_certificate_sds_secret_configs: [{name: a, sds_config: {ads: {}}}, "
             "{name: b, sds_config: {ads: {}}}]}\n",
         "transport_socket.typed_config.common_tls_context: multiple TLS certificates are not supported for upstream "
         "(client) contexts");
    nack(false, DTC "  common_tls_context: {}\n",
         "transport_socket.typed_config: DownstreamTlsContext is not valid here: a cluster needs UpstreamTlsContext");
    nack(true, UTC "  sni: x\n",
         "transport_socket.typed_config: UpstreamTlsContext is not valid here: a listener needs DownstreamTlsContext");
}

/* The deprecated match_subject_alt_names: each matcher applies to every SAN
 * type, as in Envoy (DNS, URI, email, IP address). */
XG_TEST(untyped_san_matchers)
{
    setup();
    snprintf(yaml, sizeof(yaml),
             UTC "  common_tls_context:\n    validation_context:\n      trusted_ca: {inline_string: %s}\n"
                 "      match_subject_alt_names: [{exact: api.example}, {prefix: 'spiffe://prod/'}]\n",
             yq(ca_pem));
    xg_res *r = ts(false, yaml);
    const xg_tls_context *t = r ? r->body : NULL;
    if (CHECK(t != NULL) && CHECK(t->vc != NULL) && CHECK_EQ_INT(t->vc->n_san_matchers, 8)) {
        static const xg_san_type types[] = {XG_SAN_DNS, XG_SAN_URI, XG_SAN_EMAIL, XG_SAN_IP_ADDRESS};
        for (size_t i = 0; i < 8; i++)
            CHECK_EQ_INT(t->vc->san_matchers[i].type, types[i % 4]);
        CHECK(t->vc->san_matchers_untyped);
        CHECK(t->vc->san_matchers[0].matcher == t->vc->san_matchers[3].matcher);
        CHECK(xg_string_matcher_match(t->vc->san_matchers[2].matcher, "api.example", 11));
        CHECK(!xg_string_matcher_match(t->vc->san_matchers[2].matcher, "API.example", 11));
        CHECK(xg_string_matcher_match(t->vc->san_matchers[5].matcher, "spiffe://prod/ns/a", 18));
    }
    xg_res_unref(r);

    nack(false, UTC "  common_tls_context: {validation_context: {match_subject_alt_names: [{exact: a.example}]}}\n",
         "transport_socket.typed_config.common_tls_context.validation_context.match_subject_alt_names: SAN-based "
         "verification of peer certificates without trusted_ca is insecure and not allowed");
    nack(false, UTC "  common_tls_context: {validation_context: {match_subject_alt_names: [{ignore_case: true}]}}\n",
         "transport_socket.typed_config.common_tls_context.validation_context.match_subject_alt_names[0]: one of "
         "exact, prefix, suffix, contains or safe_regex is required");
    nack(false,
         UTC "  common_tls_context: {validation_context: {match_subject_alt_names: [{exact: a.example}], "
             "match_typed_subject_alt_names: [{san_type: DNS, matcher: {exact: a.example}}]}}\n",
         "transport_socket.typed_config.common_tls_context.validation_context.match_subject_alt_names: SAN-based "
         "verification using both match_typed_subject_alt_names and the deprecated match_subject_alt_names is not "
         "allowed");
}

/* RawBuffer is not in xdsgate's protos: a control plane sends it as an Any with an empty value. */
XG_TEST(raw_buffer_by_type)
{
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";
    Envoy__Config__Core__V3__TransportSocket pb = ENVOY__CONFIG__CORE__V3__TRANSPORT_SOCKET__INIT;
    pb.name = "envoy.transport_sockets.raw_buffer";
    pb.config_type_case = ENVOY__CONFIG__CORE__V3__TRANSPORT_SOCKET__CONFIG_TYPE_TYPED_CONFIG;
    pb.typed_config = &any;
    xg_res *r = xg_res_new(XG_RES_CLUSTER, "t");
    xg_xlate x;
    xg_xlate_init(&x, r, err, sizeof(err));
    xg_tls_context *tls = (xg_tls_context *)&x; /* must be reset to NULL */
    CHECK_EQ_INT(xg_xlate_transport_socket(&x, &pb, false, &tls), 0);
    CHECK(tls == NULL);
    uint8_t junk[] = {0x08, 0x01};
    any.value.data = junk;
    any.value.len = sizeof(junk);
    CHECK(xg_xlate_transport_socket(&x, &pb, false, &tls) != 0);
    CHECK_STR(err, "typed_config: RawBuffer takes no fields");
    CHECK_EQ_INT(xg_xlate_transport_socket(&x, NULL, true, &tls), 0);
    CHECK(tls == NULL);
    xg_xlate_dispose(&x);
    xg_res_unref(r);
}

/* watched_directory (the listener's file watch uses it): kept on the
 * TlsCertificate, the DataSource and the validation context; an empty path
 * is a NACK, as in Envoy. */
XG_TEST(watched_directories)
{
    setup();
    char cert_path[256];
    snprintf(cert_path, sizeof(cert_path), "%s", write_file("wd.pem", cert_pem));
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {filename: %s, "
                 "watched_directory: {path: /ds}}, private_key: {inline_string: %s}}]\n"
                 "    validation_context: {trusted_ca: {filename: %s}, watched_directory: {path: /vc}}\n",
             cert_path, yq(key_pem), cert_path);
    xg_res *r = ts(true, yaml);
    const xg_tls_context *tc = r ? r->body : NULL;
    if (CHECK(tc != NULL)) {
        CHECK_STR(tc->certificates[0].certificate_chain.watched_directory, "/ds");
        CHECK(tc->certificates[0].watched_directory == NULL);
        CHECK_STR(tc->vc->watched_directory, "/vc");
    } else {
        fprintf(stderr, "%s\n", err);
    }
    xg_res_unref(r);
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {filename: %s}, "
                 "private_key: {inline_string: %s}, watched_directory: {path: ''}}]\n",
             cert_path, yq(key_pem));
    nack(true, yaml,
         "transport_socket.typed_config.common_tls_context.tls_certificates[0]: watched_directory.path must not be "
         "empty");
    snprintf(yaml, sizeof(yaml),
             DTC "  common_tls_context:\n    tls_certificates: [{certificate_chain: {filename: %s, "
                 "watched_directory: {path: ''}}, private_key: {inline_string: %s}}]\n",
             cert_path, yq(key_pem));
    nack(true, yaml,
         "transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain: "
         "watched_directory.path must not be empty");
}

XG_TEST(cleanup)
{
    free(cert_pem);
    free(key_pem);
    free(ca_pem);
    free(other_key_pem);
    cert_pem = key_pem = ca_pem = other_key_pem = NULL;
}
