/* Finds protobuf fields that xdsgate's proto subset does not know (protobuf-c
 * keeps them as unknown fields), anywhere in a message, including inside Any
 * fields whose type is in the registry. Strict mode NACKs on the first one;
 * --ignore-unknown-fields logs and counts them instead. */
#ifndef XG_XDS_PB_UNKNOWN_H
#define XG_XDS_PB_UNKNOWN_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "core/buf.h"

typedef void (*xg_pb_unknown_cb)(void *ctx, const char *path, const char *message_name, uint32_t field_number);

/* Walks m and calls cb for every unknown field (path like
 * "filter_chains[0].filters[0].typed_config.route_config", "" at the root).
 * An Any whose type is not in the registry, or that does not decode, is not
 * entered: the translator reports it in its own words. Returns the number of
 * unknown fields found (cb may be NULL to only count). */
size_t xg_pb_find_unknown(const ProtobufCMessage *m, xg_pb_unknown_cb cb, void *ctx);

/* Convenience: the first unknown field as "path: unknown field number N in
 * Message" appended to out; returns the count as above. */
size_t xg_pb_first_unknown(const ProtobufCMessage *m, xg_buf *out);

#endif
