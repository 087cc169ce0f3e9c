/* DataSource reading for the TLS layer and the translator, and the list of
 * secret-bearing fields for /config_dump redaction (config/tls.h, config/secret.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/secret.h"
#include "config/tls.h"
#include "core/error.h"

static int read_file(const char *path, xg_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errno ? -errno : XG_ENOENT;
    int rc = 0;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if ((rc = xg_buf_append(out, chunk, n)) != 0)
            goto done;
    if (ferror(f))
        rc = XG_EIO;
done:
    fclose(f);
    return rc;
}

int xg_datasource_read(const xg_datasource *ds, xg_buf *out)
{
    const char *v;
    switch (ds->kind) {
    case XG_DS_FILE:
        return read_file(ds->value, out);
    case XG_DS_INLINE:
        return xg_buf_append(out, ds->value, ds->len);
    case XG_DS_ENV:
        v = getenv(ds->value);
        return v ? xg_buf_puts(out, v) : XG_ENOENT;
    default:
        return XG_EINVAL;
    }
}

const char *xg_datasource_describe(const xg_datasource *ds)
{
    switch (ds->kind) {
    case XG_DS_FILE:
    case XG_DS_ENV:
        return ds->value;
    case XG_DS_INLINE:
        return "<inline>";
    default:
        return "<none>";
    }
}

const char *xg_validation_context_problem(const xg_validation_context *vc, const char **field)
{
    if (vc->trusted_ca.kind != XG_DS_NONE)
        return NULL;
    if (vc->n_san_matchers > 0) {
        *field = vc->san_matchers_untyped ? "match_subject_alt_names" : "match_typed_subject_alt_names";
        return "SAN-based verification of peer certificates without trusted_ca is insecure and not allowed";
    }
    if (vc->crl.kind != XG_DS_NONE) {
        *field = "crl";
        return "a CRL without trusted_ca is not allowed";
    }
    if (vc->allow_expired_certificate) {
        *field = "allow_expired_certificate";
        return "certificate validity period is always ignored without trusted_ca";
    }
    return NULL;
}

bool xg_tls_field_is_sensitive(const char *message_full_name, const char *field_name)
{
    static const char *const sensitive[][2] = {
        {"envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "private_key"},
        {"envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "pkcs12"},
        {"envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "password"},
        {"envoy.extensions.transport_sockets.tls.v3.TlsSessionTicketKeys", "keys"},
        {"envoy.extensions.transport_sockets.tls.v3.GenericSecret", "secret"},
    };
    for (size_t i = 0; i < sizeof(sensitive) / sizeof(sensitive[0]); i++)
        if (strcmp(message_full_name, sensitive[i][0]) == 0 && strcmp(field_name, sensitive[i][1]) == 0)
            return true;
    return false;
}
