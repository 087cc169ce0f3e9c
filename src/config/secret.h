/* A translated SDS Secret: a certificate with its key, a validation context,
 * session ticket keys, or an opaque generic secret, referred to by name from
 * TLS contexts. Built by src/xds/xlate_secret.c; the pieces are the same
 * structs a TLS context carries inline (config/tls.h). */
#ifndef XG_CONFIG_SECRET_H
#define XG_CONFIG_SECRET_H

#include <stdbool.h>

#include "config/tls.h"

typedef enum xg_secret_kind {
    XG_SECRET_TLS_CERTIFICATE,
    XG_SECRET_SESSION_TICKET_KEYS,
    XG_SECRET_VALIDATION_CONTEXT,
    XG_SECRET_GENERIC,
} xg_secret_kind;

typedef struct xg_secret {
    const char *name;
    xg_secret_kind kind;
    union {
        xg_tls_certificate tls_certificate;       /* XG_SECRET_TLS_CERTIFICATE */
        xg_ticket_keys session_ticket_keys;       /* XG_SECRET_SESSION_TICKET_KEYS */
        xg_validation_context validation_context; /* XG_SECRET_VALIDATION_CONTEXT */
        xg_datasource generic_secret;             /* XG_SECRET_GENERIC */
    };
} xg_secret;

/* True when field_name of the message type message_full_name holds secret
 * material that /config_dump must redact, wherever the message appears (a
 * Secret, or a TLS context inline in a listener or cluster). These are the
 * fields Envoy marks sensitive: TlsCertificate.private_key, .pkcs12, .password;
 * TlsSessionTicketKeys.keys; GenericSecret.secret. Redacting a file name too
 * is harmless. Example: ("envoy.extensions.transport_sockets.tls.v3.TlsCertificate",
 * "private_key") -> true. */
bool xg_tls_field_is_sensitive(const char *message_full_name, const char *field_name);

#endif
