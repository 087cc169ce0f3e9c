/* SDS Secret -> xg_secret. The pieces are translated and validated exactly as
 * inline ones in a TLS context (xlate_tls_common.c), except that a validation
 * context from SDS may be the half of a combined one, so the cross-field
 * checks that need the whole context (SAN matchers without trusted_ca, ...)
 * are left to whoever merges it. */
#include <string.h>

#include "config/secret.h"
#include "core/error.h"
#include "xds/xlate_ces.h"

#define SECRET_CASE(c) ENVOY__EXTENSIONS__TRANSPORT_SOCKETS__TLS__V3__SECRET__TYPE_##c

static int generic_secret(xg_xlate *x, const Envoy__Extensions__TransportSockets__Tls__V3__GenericSecret *pb,
                          xg_datasource *out)
{
    if (pb->secret == NULL)
        return xg__ces_fail_at(x, "secret", "required");
    return xg__xlate_datasource(x, "secret", pb->secret, out);
}

static int secret_body(xg_xlate *x, const Envoy__Extensions__TransportSockets__Tls__V3__Secret *pb, xg_secret *s)
{
    int rc;
    size_t mark;
    switch (pb->type_case) {
    case SECRET_CASE(TLS_CERTIFICATE):
        s->kind = XG_SECRET_TLS_CERTIFICATE;
        mark = xg_xlate_push(x, "tls_certificate");
        rc = xg__xlate_tls_certificate(x, pb->tls_certificate, &s->tls_certificate);
        break;
    case SECRET_CASE(SESSION_TICKET_KEYS):
        s->kind = XG_SECRET_SESSION_TICKET_KEYS;
        mark = xg_xlate_push(x, "session_ticket_keys");
        rc = xg__xlate_ticket_keys(x, pb->session_ticket_keys, &s->session_ticket_keys);
        break;
    case SECRET_CASE(VALIDATION_CONTEXT):
        s->kind = XG_SECRET_VALIDATION_CONTEXT;
        mark = xg_xlate_push(x, "validation_context");
        rc = xg__xlate_validation_context(x, pb->validation_context, false, &s->validation_context);
        break;
    case SECRET_CASE(GENERIC_SECRET):
        s->kind = XG_SECRET_GENERIC;
        mark = xg_xlate_push(x, "generic_secret");
        rc = generic_secret(x, pb->generic_secret, &s->generic_secret);
        break;
    default:
        return xg_xlate_fail(x, "one of tls_certificate, session_ticket_keys, validation_context or generic_secret "
                                "is required");
    }
    xg_xlate_pop(x, mark);
    return rc;
}

int xg_xlate_secret(xg_xlate *x, const Envoy__Extensions__TransportSockets__Tls__V3__Secret *pb)
{
    if (pb->name[0] == '\0')
        return xg__ces_fail_at(x, "name", "required");
    xg_secret *s = xg_xlate_alloc(x, sizeof(*s));
    if (s == NULL)
        return XG_ENOMEM;
    if ((s->name = xg_xlate_strdup(x, pb->name)) == NULL)
        return XG_ENOMEM;
    int rc = secret_body(x, pb, s);
    if (rc == 0)
        x->res->body = s;
    return rc;
}
