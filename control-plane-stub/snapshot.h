/* The stub's snapshot: every resource of an Envoy-format YAML/JSON file,
 * validated and kept as serialized bytes per xDS type, with a version per
 * type that moves only when that type's resources change. A snapshot is
 * immutable once loaded; a reload builds a new one and the old one stays in
 * service until the new one is complete and valid. */
#ifndef XG_STUB_SNAPSHOT_H
#define XG_STUB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* The five resource types the stub serves. */
enum {
    XG_STUB_LDS,
    XG_STUB_RDS,
    XG_STUB_CDS,
    XG_STUB_EDS,
    XG_STUB_SDS,
    XG_STUB_NTYPES,
};

/* The order a new snapshot is pushed in, the xDS protocol's make-before-break
 * order: what is referenced before what references it (secrets, clusters,
 * their endpoints, listeners, then routes), so no update names a resource
 * the client has not been sent yet. */
static const int xg_stub_push_order[XG_STUB_NTYPES] = {XG_STUB_SDS, XG_STUB_CDS, XG_STUB_EDS, XG_STUB_LDS, XG_STUB_RDS};

typedef struct xg_stub_type_info {
    const char *type_url;   /* canonical: type.googleapis.com/<full name> */
    const char *short_name; /* "Listener", ... for logs and summaries */
    const char *name_field; /* the field that names a resource */
    bool wildcard;          /* LDS and CDS: an empty subscription means "all" */
    const ProtobufCMessageDescriptor *desc;
} xg_stub_type_info;

typedef struct xg_stub_res {
    char *name;
    uint8_t *data; /* the serialized resource (an Any's value) */
    size_t len;
    char version[17];  /* xxHash64 of data in hex: the delta protocol's resource version */
    size_t file_index; /* position in the file's resources list, for error messages */
} xg_stub_res;

typedef struct xg_stub_rset {
    xg_stub_res *res; /* sorted by name, names unique */
    size_t n;
    uint64_t version; /* 1 on first load; see xg_stub_snapshot_version */
} xg_stub_rset;

typedef struct xg_stub_snapshot {
    xg_stub_rset types[XG_STUB_NTYPES];
} xg_stub_snapshot;

/* Static table entry for type t (0 <= t < XG_STUB_NTYPES). */
const xg_stub_type_info *xg_stub_type(int t);
/* Index of the type whose full name ends type_url (any prefix up to the last
 * '/' is accepted, as Envoy does), or -1 when the stub does not serve it. */
int xg_stub_type_index(const char *type_url);

/* Parses and validates a whole snapshot document: a mapping with a
 * `resources` list, or a bare list; each item an Any with "@type". On
 * failure nothing is returned and err holds "resources[2].field...: reason"
 * (or "line N: reason" for YAML syntax). Versions are all 1; the caller then
 * runs xg_stub_snapshot_version against the snapshot it replaces. */
int xg_stub_snapshot_parse(const char *text, size_t len, xg_stub_snapshot **out, char *err, size_t errlen);
/* Reads path and parses it as above; err names no file (the caller does). */
int xg_stub_snapshot_load(const char *path, xg_stub_snapshot **out, char *err, size_t errlen);
void xg_stub_snapshot_free(xg_stub_snapshot *s);

/* Reads a whole regular file of at most 64 MiB into a NUL-terminated heap
 * buffer (*text, the caller frees it). 0, or an error with err filled. */
int xg_stub_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen);

/* Carries prev's versions into next, adding one for every type whose set of
 * resources (names and bytes) differs. prev may be NULL (first load). Returns
 * a bit mask (1 << type) of the types that changed. */
unsigned xg_stub_snapshot_version(xg_stub_snapshot *next, const xg_stub_snapshot *prev);

/* The resource named name of type t; borrowed from s. NULL when absent. */
const xg_stub_res *xg_stub_snapshot_find(const xg_stub_snapshot *s, int t, const char *name);

#endif
