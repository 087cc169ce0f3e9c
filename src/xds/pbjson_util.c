/* Helpers for the proto3-JSON codec: error paths, names, well-known types. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "xds/pbjson_int.h"

/* One reserve and one copy: the translator pushes a field for nearly every
 * message it enters (120,000 for a 10,000-route update). Out of memory
 * leaves the path as it was (only error messages read it). */
size_t xg__pbpath_field(xg__pbpath *p, const char *name)
{
    size_t len = p->path.len, n = strlen(name), dot = len > 0;
    if (xg_buf_reserve(&p->path, n + dot) != 0)
        return len;
    char *at = p->path.data + len;
    *at = '.';
    memcpy(at + dot, name, n + 1);
    p->path.len += n + dot;
    return len;
}

/* Digits by hand, not printf: the translator pushes an index for every
 * repeated element it enters (30,000 for a 10,000-route update), and a
 * printf each was a sixth of the instructions of applying it. */
size_t xg__pbpath_index(xg__pbpath *p, size_t i)
{
    size_t len = p->path.len;
    char tmp[24];
    size_t n = sizeof(tmp);
    tmp[--n] = ']';
    do {
        tmp[--n] = (char)('0' + i % 10);
        i /= 10;
    } while (i > 0);
    tmp[--n] = '[';
    xg_buf_append(&p->path, tmp + n, sizeof(tmp) - n);
    return len;
}

size_t xg__pbpath_key(xg__pbpath *p, const char *key)
{
    size_t len = p->path.len;
    xg_buf_printf(&p->path, "[\"%s\"]", key);
    return len;
}

void xg__pbpath_pop(xg__pbpath *p, size_t len)
{
    if (p->path.data != NULL && len <= p->path.len) {
        p->path.len = len;
        p->path.data[len] = '\0';
    }
}

int xg__pbpath_fail(xg__pbpath *p, const char *fmt, ...)
{
    if (p->errlen == 0)
        return XG_EINVAL;
    const char *path = (p->path.len > 0) ? p->path.data : "(root)";
    int n = snprintf(p->err, p->errlen, "%s: ", path);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return XG_EINVAL;
}

xg__wkt xg__wkt_of(const ProtobufCMessageDescriptor *d)
{
    static const struct {
        const char *name;
        xg__wkt kind;
    } table[] = {
        {"google.protobuf.Any", XG_WKT_ANY},           {"google.protobuf.Duration", XG_WKT_DURATION},
        {"google.protobuf.Timestamp", XG_WKT_TIMESTAMP}, {"google.protobuf.Struct", XG_WKT_STRUCT},
        {"google.protobuf.Value", XG_WKT_VALUE},       {"google.protobuf.ListValue", XG_WKT_LIST_VALUE},
        {"google.protobuf.FieldMask", XG_WKT_FIELD_MASK},
    };
    if (strncmp(d->name, "google.protobuf.", 16) != 0)
        return XG_WKT_NONE;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(d->name, table[i].name) == 0)
            return table[i].kind;
    size_t n = strlen(d->name);
    if (n > 5 && strcmp(d->name + n - 5, "Value") == 0 && d->n_fields == 1 && d->fields[0].id == 1)
        return XG_WKT_WRAPPER; /* DoubleValue ... BytesValue */
    return XG_WKT_NONE;
}

bool xg__is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t n = strlen(d->short_name);
    return n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 && d->n_fields == 2 && d->fields[0].id == 1 &&
           strcmp(d->fields[0].name, "key") == 0 && d->fields[1].id == 2 && strcmp(d->fields[1].name, "value") == 0;
}

/* protoc names a map's entry type after the field: foo_bar -> FooBarEntry. */
bool xg__is_map_field(const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    if (!xg__is_map_entry(d))
        return false;
    const char *s = d->short_name;
    bool upper = true;
    for (const char *q = f->name; *q; q++) {
        if (*q == '_') {
            upper = true;
            continue;
        }
        char want = upper ? (char)toupper((unsigned char)*q) : *q;
        if (*s++ != want)
            return false;
        upper = false;
    }
    return strcmp(s, "Entry") == 0;
}

bool xg__field_name_matches(const char *proto_name, const char *key)
{
    if (strcmp(proto_name, key) == 0)
        return true;
    bool upper = false;
    for (const char *q = proto_name; *q; q++) {
        if (*q == '_') {
            upper = true;
            continue;
        }
        char want = upper ? (char)toupper((unsigned char)*q) : *q;
        if (*key++ != want)
            return false;
        upper = false;
    }
    return *key == '\0';
}

int xg__json_name(xg_buf *out, const char *proto_name)
{
    bool upper = false;
    for (const char *q = proto_name; *q; q++) {
        if (*q == '_') {
            upper = true;
            continue;
        }
        int rc = xg_buf_putc(out, upper ? (char)toupper((unsigned char)*q) : *q);
        if (rc != 0)
            return rc;
        upper = false;
    }
    return 0;
}

size_t xg__pb_type_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}
