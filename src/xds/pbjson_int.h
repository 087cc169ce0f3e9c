/* Internals shared by the proto3-JSON reader and writer: the field path used
 * in error messages, field naming, well-known type detection, and the text
 * forms of bytes, Duration and Timestamp. Used by the codec, the unknown-field
 * walker and the xDS translators (src/xds/xlate_*.c) for their error paths. */
#ifndef XG_XDS_PBJSON_INT_H
#define XG_XDS_PBJSON_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "core/buf.h"

/* Well-known types whose JSON form is not a plain object of their fields. */
typedef enum xg__wkt {
    XG_WKT_NONE,
    XG_WKT_ANY,
    XG_WKT_DURATION,
    XG_WKT_TIMESTAMP,
    XG_WKT_WRAPPER, /* google.protobuf.*Value wrappers: field 1 as a plain value */
    XG_WKT_STRUCT,
    XG_WKT_VALUE,
    XG_WKT_LIST_VALUE,
    XG_WKT_FIELD_MASK,
} xg__wkt;

/* The error context: a path such as "resources[2].filter_chains[0].name" that
 * grows and shrinks as the codec descends, and the caller's error buffer. */
typedef struct xg__pbpath {
    xg_buf path;
    char *err;
    size_t errlen;
} xg__pbpath;

/* Pushes ".name" (or "name" at the root); returns the length to pop back to. */
size_t xg__pbpath_field(xg__pbpath *p, const char *name);
/* Pushes "[i]". */
size_t xg__pbpath_index(xg__pbpath *p, size_t i);
/* Pushes "[\"key\"]" for map entries. */
size_t xg__pbpath_key(xg__pbpath *p, const char *key);
void xg__pbpath_pop(xg__pbpath *p, size_t len);
/* Writes "path: reason" into the error buffer; returns XG_EINVAL. */
int xg__pbpath_fail(xg__pbpath *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

xg__wkt xg__wkt_of(const ProtobufCMessageDescriptor *d);
/* True when d is the synthetic entry message of a map field. */
bool xg__is_map_entry(const ProtobufCMessageDescriptor *d);
bool xg__is_map_field(const ProtobufCFieldDescriptor *f);

/* True when key names field f: its proto name or its lowerCamelCase JSON name. */
bool xg__field_name_matches(const char *proto_name, const char *key);
/* Appends the lowerCamelCase JSON name of a proto field name. */
int xg__json_name(xg_buf *out, const char *proto_name);

/* Size in bytes of one stored value of type t (as protobuf-c lays it out). */
size_t xg__pb_type_size(ProtobufCType t);

/* Bytes <-> base64 (decoding accepts the standard and URL-safe alphabets,
 * padding optional). Decoding returns XG_EINVAL on bad input. */
int xg__base64_encode(xg_buf *out, const uint8_t *data, size_t len);
int xg__base64_decode(const char *s, size_t len, uint8_t **out, size_t *outlen);

/* Duration "1.5s" / "-0.010s" and Timestamp "1972-01-01T10:00:20.021Z" (offsets
 * accepted on input, UTC "Z" on output) in proto3 JSON form, range-checked. */
int xg__duration_parse(const char *s, int64_t *seconds, int32_t *nanos);
int xg__duration_format(xg_buf *out, int64_t seconds, int32_t nanos);
int xg__timestamp_parse(const char *s, int64_t *seconds, int32_t *nanos);
int xg__timestamp_format(xg_buf *out, int64_t seconds, int32_t nanos);

#endif
