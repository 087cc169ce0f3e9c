/* Unit tests for the SDS Secret translator (xlate_secret.c): the four secret
 * types, the same validation as inline TLS pieces, and the list of fields
 * /config_dump must redact. Certificates are made at test time. */
#include <stdlib.h>

#include "config/secret.h"
#include "xds/pbjson_int.h"
#include "xlate_ces_test.h"

static int xl(xg_xlate *x, const void *pb)
{
    return xg_xlate_secret(x, pb);
}

static xg_res *secret(const char *yaml)
{
    return xlate_yaml(&envoy__extensions__transport_sockets__tls__v3__secret__descriptor, XG_RES_SECRET, xl, yaml);
}

static void nack(const char *yaml, const char *want)
{
    xg_res *r = secret(yaml);
    CHECK(r == NULL);
    CHECK_STR(err, want);
    xg_res_unref(r);
}

static char yaml[16384];

XG_TEST(tls_certificate_secret)
{
    char *cert, *key, *cert2, *key2;
    make_cert("a.example", &cert, &key);
    make_cert("b.example", &cert2, &key2);
    snprintf(yaml, sizeof(yaml),
             "name: server-cert\ntls_certificate: {certificate_chain: {inline_string: %s}, private_key: "
             "{inline_bytes: ",
             yq(cert));
    /* inline_bytes is base64 in proto3 JSON */
    xg_buf b64;
    xg_buf_init(&b64);
    xg__base64_encode(&b64, (const uint8_t *)key, strlen(key));
    snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml), "'%s'}}\n", b64.data);
    xg_buf_dispose(&b64);
    xg_res *r = secret(yaml);
    if (CHECK(r != NULL)) {
        const xg_secret *s = r->body;
        CHECK_STR(s->name, "server-cert");
        CHECK_EQ_INT(s->kind, XG_SECRET_TLS_CERTIFICATE);
        CHECK_EQ_INT(s->tls_certificate.private_key.kind, XG_DS_INLINE);
        CHECK_EQ_INT(s->tls_certificate.private_key.len, strlen(key));
        CHECK(memcmp(s->tls_certificate.private_key.value, key, strlen(key)) == 0);
        CHECK_EQ_INT(r->n_deps, 0);
    } else {
        fprintf(stderr, "%s\n", err);
    }
    xg_res_unref(r);

    char cert_path[256];
    snprintf(cert_path, sizeof(cert_path), "%s", write_file("c.pem", cert));
    snprintf(yaml, sizeof(yaml),
             "name: s\ntls_certificate: {certificate_chain: {filename: %s}, private_key: {inline_string: %s}}\n",
             cert_path, yq(key2));
    nack(yaml, "tls_certificate.private_key: private key from <inline> does not match the certificate chain's first "
               "certificate");
    CHECK(strstr(err, "PRIVATE") == NULL);
    snprintf(yaml, sizeof(yaml), "name: s\ntls_certificate: {certificate_chain: {filename: %s}}\n", cert_path);
    nack(yaml, "tls_certificate.private_key: required");
    free(cert);
    free(key);
    free(cert2);
    free(key2);
}

XG_TEST(validation_context_secret)
{
    char *ca, *key;
    make_cert("ca.example", &ca, &key);
    /* SAN matchers alone are fine in an SDS secret: it may be merged with a
     * combined context's default that has the CA. */
    xg_res *r = secret("name: sans\nvalidation_context: {match_typed_subject_alt_names: [{san_type: DNS, matcher: "
                       "{exact: api.example}}]}\n");
    if (CHECK(r != NULL)) {
        const xg_secret *s = r->body;
        CHECK_EQ_INT(s->kind, XG_SECRET_VALIDATION_CONTEXT);
        CHECK_EQ_INT(s->validation_context.n_san_matchers, 1);
        CHECK_EQ_INT(s->validation_context.trusted_ca.kind, XG_DS_NONE);
        /* ... but on its own (nothing merged in) it breaks Envoy's rule */
        const char *field = NULL;
        CHECK_STR(xg_validation_context_problem(&s->validation_context, &field),
                  "SAN-based verification of peer certificates without trusted_ca is insecure and not allowed");
        CHECK_STR(field, "match_typed_subject_alt_names");
    }
    xg_res_unref(r);
    snprintf(yaml, sizeof(yaml), "name: ca\nvalidation_context: {trusted_ca: {filename: %s}}\n",
             write_file("ca.pem", ca));
    r = secret(yaml);
    if (CHECK(r != NULL)) {
        const char *field = NULL;
        CHECK_EQ_INT(((const xg_secret *)r->body)->validation_context.trusted_ca.kind, XG_DS_FILE);
        CHECK(xg_validation_context_problem(&((const xg_secret *)r->body)->validation_context, &field) == NULL);
    }
    xg_res_unref(r);
    nack("name: ca\nvalidation_context: {trusted_ca: {inline_string: ''}}\n",
         "validation_context.trusted_ca: <inline> is empty");
    free(ca);
    free(key);
}

XG_TEST(ticket_keys_and_generic)
{
    char key80[81];
    memset(key80, 'k', 80);
    key80[80] = '\0';
    snprintf(yaml, sizeof(yaml), "name: t\nsession_ticket_keys: {keys: [{inline_string: '%s'}, {filename: %s}]}\n",
             key80, write_file("ticket.key", key80));
    xg_res *r = secret(yaml);
    if (CHECK(r != NULL)) {
        const xg_secret *s = r->body;
        CHECK_EQ_INT(s->kind, XG_SECRET_SESSION_TICKET_KEYS);
        CHECK_EQ_INT(s->session_ticket_keys.n_keys, 2);
        CHECK_EQ_INT(s->session_ticket_keys.keys[1].kind, XG_DS_FILE);
    }
    xg_res_unref(r);
    nack("name: t\nsession_ticket_keys: {keys: [{inline_string: 'abc'}]}\n",
         "session_ticket_keys.keys[0]: incorrect TLS session ticket key length 3, expected 80");
    nack("name: t\nsession_ticket_keys: {}\n", "session_ticket_keys.keys: at least one key is required");
    r = secret("name: g\ngeneric_secret: {secret: {inline_string: hunter2}}\n");
    if (CHECK(r != NULL)) {
        const xg_secret *s = r->body;
        CHECK_EQ_INT(s->kind, XG_SECRET_GENERIC);
        CHECK_STR(s->generic_secret.value, "hunter2");
    }
    xg_res_unref(r);
    nack("name: g\ngeneric_secret: {}\n", "generic_secret.secret: required");
    nack("name: empty\n",
         "(root): one of tls_certificate, session_ticket_keys, validation_context or generic_secret is "
         "required");
    nack("generic_secret: {secret: {inline_string: x}}\n", "name: required");
}

XG_TEST(sensitive_fields)
{
    const char *tc = "envoy.extensions.transport_sockets.tls.v3.TlsCertificate";
    CHECK(xg_tls_field_is_sensitive(tc, "private_key"));
    CHECK(xg_tls_field_is_sensitive(tc, "password"));
    CHECK(xg_tls_field_is_sensitive(tc, "pkcs12"));
    CHECK(!xg_tls_field_is_sensitive(tc, "certificate_chain"));
    CHECK(xg_tls_field_is_sensitive("envoy.extensions.transport_sockets.tls.v3.TlsSessionTicketKeys", "keys"));
    CHECK(xg_tls_field_is_sensitive("envoy.extensions.transport_sockets.tls.v3.GenericSecret", "secret"));
    CHECK(!xg_tls_field_is_sensitive("envoy.extensions.transport_sockets.tls.v3.Secret", "name"));
}
