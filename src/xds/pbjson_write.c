/* protobuf-c message -> proto3 JSON. Fields are written in declaration order
 * when present (proto3: non-default scalars, set messages, the chosen oneof
 * member); unknown fields are an error unless the caller asks to skip them. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "xds/pb_registry.h"
#include "xds/pbjson.h"
#include "xds/pbjson_int.h"

#define MEMBER(m, off) ((const void *)((const char *)(m) + (off)))

typedef struct enc {
    xg__pbpath p;
    xg_buf *out;
    unsigned flags;
    int depth;
} enc;

static int write_message(enc *e, const ProtobufCMessage *m);

static int newline(enc *e)
{
    if (!(e->flags & XG_PBJSON_PRETTY))
        return 0;
    int rc = xg_buf_putc(e->out, '\n');
    for (int i = 0; rc == 0 && i < e->depth; i++)
        rc = xg_buf_puts(e->out, "  ");
    return rc;
}

/* Validates UTF-8 as it escapes: JSON text must be valid Unicode. */
static int utf8_len(const unsigned char *s, size_t left)
{
    int n = (s[0] >= 0xf0 && s[0] <= 0xf4) ? 4 : (s[0] >= 0xe0) ? 3 : (s[0] >= 0xc2 && s[0] < 0xe0) ? 2 : 0;
    if (n == 0 || (size_t)n > left)
        return -1;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return -1;
    if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
        return -1;
    return n;
}

static int put_string(enc *e, const char *s, size_t len)
{
    int rc = xg_buf_putc(e->out, '"');
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; rc == 0 && i < len;) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            int n = utf8_len(p + i, len - i);
            if (n < 0)
                return xg__pbpath_fail(&e->p, "string is not valid UTF-8");
            rc = xg_buf_append(e->out, p + i, (size_t)n);
            i += (size_t)n;
            continue;
        }
        if (c == '"' || c == '\\')
            rc = xg_buf_putc(e->out, '\\') || xg_buf_putc(e->out, (char)c);
        else if (c == '\n')
            rc = xg_buf_puts(e->out, "\\n");
        else if (c == '\t')
            rc = xg_buf_puts(e->out, "\\t");
        else if (c == '\r')
            rc = xg_buf_puts(e->out, "\\r");
        else if (c < 0x20 || c == 0x7f)
            rc = xg_buf_printf(e->out, "\\u%04x", c);
        else
            rc = xg_buf_putc(e->out, (char)c);
        i++;
    }
    return rc ? rc : xg_buf_putc(e->out, '"');
}

/* Shortest text that reads back as the same value. */
static int put_double(enc *e, double x, bool is_float)
{
    if (isnan(x))
        return xg_buf_puts(e->out, "\"NaN\"");
    if (isinf(x))
        return xg_buf_puts(e->out, x > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    char tmp[40];
    for (int prec = is_float ? 6 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, x);
        if (is_float ? strtof(tmp, NULL) == (float)x : strtod(tmp, NULL) == x)
            break;
    }
    return xg_buf_puts(e->out, tmp);
}

static int put_enum(enc *e, const ProtobufCEnumDescriptor *ed, int value)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, value);
    if (ev != NULL)
        return put_string(e, ev->name, strlen(ev->name));
    return xg_buf_printf(e->out, "%d", value);
}

/* A message that is absent where JSON still needs a value (a map entry whose
 * value is missing on the wire, which protobuf-c leaves NULL): the type's
 * default, as the official runtime writes it ({}, null for a Value, "0s"...). */
static int write_default(enc *e, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (m == NULL)
        return XG_ENOMEM;
    d->message_init(m);
    int rc = write_message(e, m);
    free(m);
    return rc;
}

/* One value of field f's type, stored at p. */
static int write_value(enc *e, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return xg_buf_printf(e->out, "%" PRId32, *(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return xg_buf_printf(e->out, "%" PRIu32, *(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return xg_buf_printf(e->out, "\"%" PRId64 "\"", *(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return xg_buf_printf(e->out, "\"%" PRIu64 "\"", *(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return put_double(e, *(const float *)p, true);
    case PROTOBUF_C_TYPE_DOUBLE:
        return put_double(e, *(const double *)p, false);
    case PROTOBUF_C_TYPE_BOOL:
        return xg_buf_puts(e->out, *(const protobuf_c_boolean *)p ? "true" : "false");
    case PROTOBUF_C_TYPE_ENUM:
        return put_enum(e, f->descriptor, *(const int *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s ? put_string(e, s, strlen(s)) : xg_buf_puts(e->out, "\"\"");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        int rc = xg_buf_putc(e->out, '"');
        rc = rc ? rc : xg__base64_encode(e->out, b->data, b->len);
        return rc ? rc : xg_buf_putc(e->out, '"');
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m ? write_message(e, m) : write_default(e, f->descriptor);
    }
    }
    return XG_EINVAL;
}

/* Whether a singular field is present in proto3 terms. */
static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const void *p = MEMBER(m, f->offset);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)MEMBER(m, f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING)
        return *(const protobuf_c_boolean *)MEMBER(m, f->quantifier_offset);
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)p != NULL && **(char *const *)p != '\0';
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len > 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p != NULL;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p != 0 || signbit(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p != 0 || signbit(*(const double *)p);
    default: {
        size_t n = xg__pb_type_size(f->type);
        static const char zero[8];
        return memcmp(p, zero, n) != 0;
    }
    }
}

static int write_key(enc *e, const char *name, bool first)
{
    int rc = first ? 0 : xg_buf_putc(e->out, ',');
    rc = rc ? rc : newline(e);
    if (rc != 0)
        return rc;
    if (e->flags & XG_PBJSON_PROTO_NAMES)
        rc = put_string(e, name, strlen(name));
    else
        rc = xg_buf_putc(e->out, '"') || xg__json_name(e->out, name) || xg_buf_putc(e->out, '"');
    return rc ? rc : xg_buf_puts(e->out, (e->flags & XG_PBJSON_PRETTY) ? ": " : ":");
}

static int open_container(enc *e, char c)
{
    e->depth++;
    return xg_buf_putc(e->out, c);
}

static int close_container(enc *e, char c, bool empty)
{
    e->depth--;
    int rc = empty ? 0 : newline(e);
    return rc ? rc : xg_buf_putc(e->out, c);
}

/* A map key as JSON wants it: always a string. */
static int write_map_key(enc *e, const ProtobufCMessage *entry, bool first)
{
    const ProtobufCFieldDescriptor *kf = &entry->descriptor->fields[0];
    xg_buf tmp;
    xg_buf_init(&tmp);
    xg_buf *saved = e->out;
    e->out = &tmp;
    int rc = (kf->type == PROTOBUF_C_TYPE_STRING) ? xg_buf_puts(&tmp, *(char *const *)MEMBER(entry, kf->offset))
                                                  : write_value(e, kf, MEMBER(entry, kf->offset));
    e->out = saved;
    if (rc == 0 && kf->type != PROTOBUF_C_TYPE_STRING && tmp.len > 1 && tmp.data[0] == '"') {
        memmove(tmp.data, tmp.data + 1, tmp.len - 2); /* 64-bit keys came out quoted */
        tmp.len -= 2;
        tmp.data[tmp.len] = '\0';
    }
    rc = rc ? rc : (first ? 0 : xg_buf_putc(e->out, ','));
    rc = rc ? rc : newline(e);
    rc = rc ? rc : put_string(e, tmp.data ? tmp.data : "", tmp.len);
    rc = rc ? rc : xg_buf_puts(e->out, (e->flags & XG_PBJSON_PRETTY) ? ": " : ":");
    xg_buf_dispose(&tmp);
    return rc;
}

static bool same_key(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    const ProtobufCFieldDescriptor *kf = &a->descriptor->fields[0];
    const void *ka = MEMBER(a, kf->offset), *kb = MEMBER(b, kf->offset);
    if (kf->type == PROTOBUF_C_TYPE_STRING)
        return strcmp(*(char *const *)ka, *(char *const *)kb) == 0;
    return memcmp(ka, kb, xg__pb_type_size(kf->type)) == 0;
}

/* On the wire a later entry with the same key replaces an earlier one. */
static bool superseded(ProtobufCMessage *const *entries, size_t n, size_t i)
{
    for (size_t j = i + 1; j < n; j++)
        if (same_key(entries[i], entries[j]))
            return true;
    return false;
}

static int write_map(enc *e, const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *entries, size_t n)
{
    int rc = open_container(e, '{');
    bool first = true;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const ProtobufCFieldDescriptor *vf = &entries[i]->descriptor->fields[1];
        if (superseded(entries, n, i))
            continue;
        rc = write_map_key(e, entries[i], first);
        first = false;
        size_t mark = xg__pbpath_index(&e->p, i);
        rc = rc ? rc : write_value(e, vf, MEMBER(entries[i], vf->offset));
        if (rc == 0)
            xg__pbpath_pop(&e->p, mark);
    }
    return rc ? rc : close_container(e, '}', first);
}

static int write_repeated(enc *e, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    size_t n = *(const size_t *)MEMBER(m, f->quantifier_offset);
    const char *arr = *(char *const *)MEMBER(m, f->offset);
    if (xg__is_map_field(f))
        return write_map(e, f, (ProtobufCMessage *const *)arr, n);
    size_t size = xg__pb_type_size(f->type);
    int rc = open_container(e, '[');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = (i > 0) ? xg_buf_putc(e->out, ',') : 0;
        rc = rc ? rc : newline(e);
        size_t mark = xg__pbpath_index(&e->p, i);
        rc = rc ? rc : write_value(e, f, arr + i * size);
        if (rc == 0)
            xg__pbpath_pop(&e->p, mark);
    }
    return rc ? rc : close_container(e, ']', n == 0);
}

static int check_unknown(enc *e, const ProtobufCMessage *m)
{
    if (m->n_unknown_fields == 0 || (e->flags & XG_PBJSON_SKIP_UNKNOWN))
        return 0;
    return xg__pbpath_fail(&e->p, "unknown field number %u in %s", m->unknown_fields[0].tag, m->descriptor->name);
}

static int write_fields(enc *e, const ProtobufCMessage *m, const char *any_type)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int rc = check_unknown(e, m);
    rc = rc ? rc : open_container(e, '{');
    bool first = true;
    if (rc == 0 && any_type != NULL) {
        rc = write_key(e, "@type", true) || put_string(e, any_type, strlen(any_type));
        first = false;
    }
    for (unsigned i = 0; rc == 0 && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        if (repeated ? *(const size_t *)MEMBER(m, f->quantifier_offset) == 0 : !field_present(m, f))
            continue;
        size_t mark = xg__pbpath_field(&e->p, f->name);
        rc = write_key(e, f->name, first);
        rc = rc ? rc : (repeated ? write_repeated(e, m, f) : write_value(e, f, MEMBER(m, f->offset)));
        if (rc == 0)
            xg__pbpath_pop(&e->p, mark);
        first = false;
    }
    return rc ? rc : close_container(e, '}', first);
}

static int write_wkt(enc *e, xg__wkt kind, const ProtobufCMessage *m);

static int write_any(enc *e, const Google__Protobuf__Any *any)
{
    if (any->type_url == NULL || any->type_url[0] == '\0')
        return any->value.len ? xg__pbpath_fail(&e->p, "Any has a value but no type_url") : xg_buf_puts(e->out, "{}");
    const ProtobufCMessageDescriptor *d = xg_pb_find_type(any->type_url);
    if (d == NULL)
        return xg__pbpath_fail(&e->p, "unknown type \"%s\" in Any", any->type_url);
    ProtobufCMessage *inner = protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data);
    if (inner == NULL)
        return xg__pbpath_fail(&e->p, "Any of type %s does not decode", d->name);
    xg__wkt kind = xg__wkt_of(d);
    int rc;
    if (kind == XG_WKT_NONE) {
        rc = write_fields(e, inner, any->type_url);
    } else {
        rc = open_container(e, '{');
        rc = rc ? rc : write_key(e, "@type", true) || put_string(e, any->type_url, strlen(any->type_url));
        rc = rc ? rc : write_key(e, "value", false) || write_wkt(e, kind, inner);
        rc = rc ? rc : close_container(e, '}', false);
    }
    protobuf_c_message_free_unpacked(inner, NULL);
    return rc;
}

static int write_time(enc *e, xg__wkt kind, int64_t seconds, int32_t nanos)
{
    xg_buf tmp;
    xg_buf_init(&tmp);
    int rc = (kind == XG_WKT_DURATION) ? xg__duration_format(&tmp, seconds, nanos)
                                       : xg__timestamp_format(&tmp, seconds, nanos);
    if (rc == XG_ERANGE)
        rc = xg__pbpath_fail(&e->p, "%s out of range", kind == XG_WKT_DURATION ? "duration" : "timestamp");
    rc = rc ? rc : put_string(e, tmp.data, tmp.len);
    xg_buf_dispose(&tmp);
    return rc;
}

static int write_list(enc *e, const Google__Protobuf__ListValue *l)
{
    int rc = open_container(e, '[');
    for (size_t i = 0; rc == 0 && i < l->n_values; i++) {
        rc = (i > 0) ? xg_buf_putc(e->out, ',') : 0;
        rc = rc ? rc : newline(e);
        rc = rc ? rc : write_wkt(e, XG_WKT_VALUE, &l->values[i]->base);
    }
    return rc ? rc : close_container(e, ']', l->n_values == 0);
}

static int write_struct_value(enc *e, const Google__Protobuf__Value *v)
{
    switch (v->kind_case) {
    case GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE:
        if (!isfinite(v->number_value))
            return xg__pbpath_fail(&e->p, "a Value number must be finite");
        return put_double(e, v->number_value, false);
    case GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE:
        return put_string(e, v->string_value, strlen(v->string_value));
    case GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE:
        return xg_buf_puts(e->out, v->bool_value ? "true" : "false");
    case GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE:
        return write_wkt(e, XG_WKT_STRUCT, &v->struct_value->base);
    case GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE:
        return write_list(e, v->list_value);
    default:
        return xg_buf_puts(e->out, "null");
    }
}

static int write_field_mask(enc *e, const Google__Protobuf__FieldMask *fm)
{
    xg_buf tmp;
    xg_buf_init(&tmp);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < fm->n_paths; i++) {
        rc = (i > 0) ? xg_buf_putc(&tmp, ',') : 0;
        rc = rc ? rc : xg__json_name(&tmp, fm->paths[i]);
    }
    rc = rc ? rc : put_string(e, tmp.data ? tmp.data : "", tmp.len);
    xg_buf_dispose(&tmp);
    return rc;
}

static int write_wkt(enc *e, xg__wkt kind, const ProtobufCMessage *m)
{
    int rc = check_unknown(e, m);
    if (rc != 0)
        return rc;
    switch (kind) {
    case XG_WKT_ANY:
        return write_any(e, (const Google__Protobuf__Any *)m);
    case XG_WKT_DURATION: {
        const Google__Protobuf__Duration *d = (const Google__Protobuf__Duration *)m;
        return write_time(e, kind, d->seconds, d->nanos);
    }
    case XG_WKT_TIMESTAMP: {
        const Google__Protobuf__Timestamp *t = (const Google__Protobuf__Timestamp *)m;
        return write_time(e, kind, t->seconds, t->nanos);
    }
    case XG_WKT_WRAPPER:
        return write_value(e, &m->descriptor->fields[0], MEMBER(m, m->descriptor->fields[0].offset));
    case XG_WKT_STRUCT: {
        const Google__Protobuf__Struct *s = (const Google__Protobuf__Struct *)m;
        return write_map(e, &m->descriptor->fields[0], (ProtobufCMessage *const *)s->fields, s->n_fields);
    }
    case XG_WKT_VALUE:
        return write_struct_value(e, (const Google__Protobuf__Value *)m);
    case XG_WKT_LIST_VALUE:
        return write_list(e, (const Google__Protobuf__ListValue *)m);
    case XG_WKT_FIELD_MASK:
        return write_field_mask(e, (const Google__Protobuf__FieldMask *)m);
    case XG_WKT_NONE:
        break;
    }
    return write_fields(e, m, NULL);
}

static int write_message(enc *e, const ProtobufCMessage *m)
{
    if (e->depth > 100)
        return xg__pbpath_fail(&e->p, "message nesting too deep");
    return write_wkt(e, xg__wkt_of(m->descriptor), m);
}

int xg_pbjson_write(const ProtobufCMessage *m, unsigned flags, xg_buf *out, char *err, size_t errlen)
{
    enc e = {.p = {.err = err, .errlen = errlen}, .out = out, .flags = flags};
    xg_buf_init(&e.p.path);
    size_t start = out->len;
    int rc = write_message(&e, m);
    if (rc == XG_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc != 0 && out->data != NULL) {
        out->len = start; /* nothing half-written */
        out->data[start] = '\0';
    }
    xg_buf_dispose(&e.p.path);
    return rc;
}
