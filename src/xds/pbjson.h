/* The proto3 JSON mapping over protobuf-c descriptors: JSON/YAML -> message and
 * message -> JSON. Shared by the control-plane stub (snapshot files) and the
 * proxy (/config_dump). Strict: an unknown field, a wrong type or a bad value
 * is an error naming the full field path, for example
 *   resources[2].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[1].domains: expected array, got string
 * Handles Any (@type, resolved through xg_pb_find_type), Duration and
 * Timestamp strings, wrappers as plain values, Struct/Value/ListValue,
 * FieldMask, enums by name or number, oneofs, maps, 64-bit integers as
 * strings, bytes as base64, and both snake_case and lowerCamelCase names. */
#ifndef XG_XDS_PBJSON_H
#define XG_XDS_PBJSON_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "core/buf.h"
#include "xds/jv.h"

enum {
    XG_PBJSON_PROTO_NAMES = 1 << 0,  /* write snake_case names (Envoy's config_dump); default lowerCamelCase */
    XG_PBJSON_PRETTY = 1 << 1,       /* write with newlines and two-space indent */
    XG_PBJSON_SKIP_UNKNOWN = 1 << 2, /* write: leave out unknown fields (default: error naming them) */
};

/* Decodes a tree into a new message of type d. path is the prefix for error
 * paths ("" or e.g. "resources[2]"). On success *out is owned by the caller:
 * free it with protobuf_c_message_free_unpacked(*out, NULL). On failure
 * nothing is allocated and err holds "path: reason". */
int xg_pbjson_decode(const ProtobufCMessageDescriptor *d, const xg_jv *v, const char *path, ProtobufCMessage **out,
                     char *err, size_t errlen);

/* Parses JSON or YAML text and decodes it as above. */
int xg_pbjson_parse(const ProtobufCMessageDescriptor *d, const char *text, size_t len, ProtobufCMessage **out,
                    char *err, size_t errlen);

/* Appends m as proto3 JSON to out. Fails (XG_EINVAL, err "path: reason") on
 * unknown fields unless XG_PBJSON_SKIP_UNKNOWN, on an Any whose type is not
 * in the registry or does not decode, and on invalid UTF-8 in strings. */
int xg_pbjson_write(const ProtobufCMessage *m, unsigned flags, xg_buf *out, char *err, size_t errlen);

#endif
