/* The table of every message type compiled into xdsgate (generated at build
 * time from proto/), and lookup by full name or type URL for Any. */
#ifndef XG_XDS_PB_REGISTRY_H
#define XG_XDS_PB_REGISTRY_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

struct xg__pb_entry {
    const char *name; /* full name, e.g. "envoy.config.listener.v3.Listener" */
    const ProtobufCMessageDescriptor *desc;
};

/* The generated table, sorted by name (strcmp order); static storage. */
const struct xg__pb_entry *xg__pb_registry_table(size_t *n);

/* Finds a message type by full name ("envoy.config.listener.v3.Listener") or
 * by type URL (anything up to the last '/' is ignored). NULL when unknown. */
const ProtobufCMessageDescriptor *xg_pb_find_type(const char *name_or_url);

#endif
