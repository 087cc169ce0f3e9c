/* Redaction of secrets in decoded messages before /config_dump shows them,
 * as Envoy's admin does: inside a sensitive field (a TLS private key or its
 * password, a generic secret, session ticket keys), every string and bytes
 * value becomes "[redacted]" and every other scalar is cleared. Any payloads
 * are entered (decoded, redacted, re-encoded), so an inline DownstreamTlsContext
 * inside a listener is covered too. */
#ifndef XG_ADMIN_REDACT_H
#define XG_ADMIN_REDACT_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

/* Redacts m in place (m must come from protobuf_c_message_unpack with the
 * default allocator). Returns whether anything changed; on an allocation
 * failure the value concerned is cleared instead, never left readable. */
bool xg_redact(ProtobufCMessage *m);

#endif
