/* proto3 JSON -> protobuf-c message, driven by descriptors. Every value is
 * checked against its field's type; the first error stops the decode and is
 * reported with the full field path. Messages are built with malloc, so a
 * half-built message is always safe to release with
 * protobuf_c_message_free_unpacked(). */
#include <ctype.h>
#include <errno.h>
#include <float.h>
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

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))

typedef xg__pbpath dec;

static int decode_message(dec *d, const ProtobufCMessageDescriptor *desc, const xg_jv *v, ProtobufCMessage **out);
static int decode_field(dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const xg_jv *v);
static bool is_value_type(const ProtobufCFieldDescriptor *f);

static ProtobufCMessage *msg_new(const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = malloc(desc->sizeof_message);
    if (m != NULL)
        desc->message_init(m);
    return m;
}

static int expect(dec *d, const xg_jv *v, xg_jv_kind kind)
{
    if (v->kind == kind)
        return 0;
    return xg__pbpath_fail(d, "expected %s, got %s", xg_jv_kind_name(kind), xg_jv_kind_name(v->kind));
}

/* A number or a numeric string, as text. */
static int number_text(dec *d, const xg_jv *v, const char **text)
{
    if (v->kind != XG_JV_NUMBER && v->kind != XG_JV_STRING)
        return xg__pbpath_fail(d, "expected number, got %s", xg_jv_kind_name(v->kind));
    if (v->len == 0 || isspace((unsigned char)v->str[0]))
        return xg__pbpath_fail(d, "invalid number \"%s\"", v->str);
    *text = v->str;
    return 0;
}

static int parse_double(dec *d, const xg_jv *v, double *out)
{
    const char *s;
    int rc = number_text(d, v, &s);
    if (rc != 0)
        return rc;
    if (!strcmp(s, "NaN") || !strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        *out = NAN;
        return 0;
    }
    bool neg = s[0] == '-';
    const char *t = (neg || s[0] == '+') ? s + 1 : s;
    if (!strcmp(t, "Infinity") || !strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (*end != '\0' || end == s || isinf(*out) || isnan(*out))
        return xg__pbpath_fail(d, "invalid number \"%s\"", s);
    return 0;
}

/* Integers as numbers or strings; "1e3" or "5.0" are accepted when integral. */
static int parse_int(dec *d, const xg_jv *v, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s;
    int rc = number_text(d, v, &s);
    if (rc != 0)
        return rc;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end != '\0' || errno != 0) {
        double f; /* an unquoted 1e3 or 5.0 is an integer if integral; quoted ones are digits only */
        if (v->kind != XG_JV_NUMBER || parse_double(d, v, &f) != 0 || f != floor(f) || f < -9.2e18 || f > 9.2e18)
            return xg__pbpath_fail(d, "invalid integer \"%s\"", s);
        x = (long long)f;
    }
    if (x < lo || x > hi)
        return xg__pbpath_fail(d, "integer %s out of range", s);
    *out = x;
    return 0;
}

static int parse_uint(dec *d, const xg_jv *v, uint64_t hi, uint64_t *out)
{
    const char *s;
    int rc = number_text(d, v, &s);
    if (rc != 0)
        return rc;
    if (s[0] == '-')
        return xg__pbpath_fail(d, "expected a non-negative integer, got %s", s);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0) {
        double f;
        if (v->kind != XG_JV_NUMBER || parse_double(d, v, &f) != 0 || f != floor(f) || f < 0 || f > 1.8e19)
            return xg__pbpath_fail(d, "invalid integer \"%s\"", s);
        x = (unsigned long long)f;
    }
    if (x > hi)
        return xg__pbpath_fail(d, "integer %s out of range", s);
    *out = x;
    return 0;
}

static int decode_enum(dec *d, const ProtobufCEnumDescriptor *ed, const xg_jv *v, int *out)
{
    const ProtobufCEnumValue *ev = NULL;
    if (v->kind == XG_JV_STRING) {
        ev = protobuf_c_enum_descriptor_get_value_by_name(ed, v->str);
        if (ev == NULL)
            return xg__pbpath_fail(d, "unknown value \"%s\" for enum %s", v->str, ed->name);
    } else if (v->kind == XG_JV_NUMBER) {
        int64_t n;
        int rc = parse_int(d, v, INT32_MIN, INT32_MAX, &n);
        if (rc != 0)
            return rc;
        ev = protobuf_c_enum_descriptor_get_value(ed, (int)n);
        if (ev == NULL)
            return xg__pbpath_fail(d, "unknown value %s for enum %s", v->str, ed->name);
    } else {
        return xg__pbpath_fail(d, "expected enum name, got %s", xg_jv_kind_name(v->kind));
    }
    *out = ev->value;
    return 0;
}

static int decode_bytes(dec *d, const xg_jv *v, ProtobufCBinaryData *out)
{
    int rc = expect(d, v, XG_JV_STRING);
    if (rc != 0)
        return rc;
    rc = xg__base64_decode(v->str, v->len, &out->data, &out->len);
    return rc == XG_EINVAL ? xg__pbpath_fail(d, "invalid base64") : rc;
}

static int decode_string(dec *d, const xg_jv *v, char **out)
{
    int rc = expect(d, v, XG_JV_STRING);
    if (rc != 0)
        return rc;
    if (strlen(v->str) != v->len)
        return xg__pbpath_fail(d, "string contains a NUL character");
    *out = strdup(v->str);
    return *out ? 0 : XG_ENOMEM;
}

static int decode_integer_field(dec *d, ProtobufCType t, const xg_jv *v, void *dst)
{
    int64_t i;
    uint64_t u;
    int rc;
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = parse_int(d, v, INT32_MIN, INT32_MAX, &i)) == 0)
            *(int32_t *)dst = (int32_t)i;
        return rc;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = parse_uint(d, v, UINT32_MAX, &u)) == 0)
            *(uint32_t *)dst = (uint32_t)u;
        return rc;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = parse_int(d, v, INT64_MIN, INT64_MAX, &i)) == 0)
            *(int64_t *)dst = i;
        return rc;
    default:
        if ((rc = parse_uint(d, v, UINT64_MAX, &u)) == 0)
            *(uint64_t *)dst = u;
        return rc;
    }
}

/* Decodes one value of field f's type into dst (the field's storage or one
 * slot of a repeated field's array). */
static int decode_value(dec *d, const ProtobufCFieldDescriptor *f, const xg_jv *v, void *dst)
{
    double x;
    int rc;
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rc = parse_double(d, v, &x)) == 0 && isfinite(x) && (x > FLT_MAX || x < -FLT_MAX))
            return xg__pbpath_fail(d, "number %s out of float range", v->str);
        if (rc == 0)
            *(float *)dst = (float)x;
        return rc;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((rc = parse_double(d, v, &x)) == 0)
            *(double *)dst = x;
        return rc;
    case PROTOBUF_C_TYPE_BOOL:
        if ((rc = expect(d, v, XG_JV_BOOL)) == 0)
            *(protobuf_c_boolean *)dst = v->str[0] == 't';
        return rc;
    case PROTOBUF_C_TYPE_ENUM:
        return decode_enum(d, f->descriptor, v, (int *)dst);
    case PROTOBUF_C_TYPE_STRING:
        return decode_string(d, v, (char **)dst);
    case PROTOBUF_C_TYPE_BYTES:
        return decode_bytes(d, v, (ProtobufCBinaryData *)dst);
    case PROTOBUF_C_TYPE_MESSAGE:
        return decode_message(d, f->descriptor, v, (ProtobufCMessage **)dst);
    default:
        return decode_integer_field(d, f->type, v, dst);
    }
}

static int decode_repeated(dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const xg_jv *v)
{
    int rc = expect(d, v, XG_JV_ARRAY);
    if (rc != 0 || v->n == 0)
        return rc;
    size_t size = xg__pb_type_size(f->type);
    char *arr = calloc(v->n, size);
    if (arr == NULL)
        return XG_ENOMEM;
    size_t *count = MEMBER(m, f->quantifier_offset);
    *(void **)MEMBER(m, f->offset) = arr;
    *count = 0; /* grows as items land, so a failure frees exactly those */
    for (size_t i = 0; i < v->n; i++) {
        size_t mark = xg__pbpath_index(d, i);
        if (v->items[i]->kind == XG_JV_NULL)
            return xg__pbpath_fail(d, "null is not allowed in a list");
        (*count)++; /* counted first: a failed item's partial allocation is freed too */
        if ((rc = decode_value(d, f, v->items[i], arr + i * size)) != 0)
            return rc;
        xg__pbpath_pop(d, mark);
    }
    return 0;
}

/* Map keys are strings in JSON; turn one into the entry's key field. */
static int decode_map_key(dec *d, ProtobufCMessage *entry, const ProtobufCFieldDescriptor *kf, const char *key)
{
    void *dst = MEMBER(entry, kf->offset);
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return xg__pbpath_fail(d, "map key must be true or false");
        *(protobuf_c_boolean *)dst = key[0] == 't';
        return 0;
    }
    xg_jv kv = {.kind = XG_JV_STRING, .str = (char *)key, .len = strlen(key)};
    return decode_value(d, kf, &kv, dst);
}

static int decode_map(dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const xg_jv *v)
{
    int rc = expect(d, v, XG_JV_OBJECT);
    if (rc != 0 || v->n == 0)
        return rc;
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    ProtobufCMessage **arr = calloc(v->n, sizeof(*arr));
    if (arr == NULL)
        return XG_ENOMEM;
    size_t *count = MEMBER(m, f->quantifier_offset);
    *(void **)MEMBER(m, f->offset) = arr;
    *count = 0;
    for (size_t i = 0; i < v->n; i++) {
        size_t mark = xg__pbpath_key(d, v->keys[i]);
        if ((arr[i] = msg_new(ed)) == NULL)
            return XG_ENOMEM;
        (*count)++;
        if ((rc = decode_map_key(d, arr[i], &ed->fields[0], v->keys[i])) != 0)
            return rc;
        if (v->items[i]->kind == XG_JV_NULL && !is_value_type(&ed->fields[1]))
            return xg__pbpath_fail(d, "a map value must not be null");
        if ((rc = decode_field(d, arr[i], &ed->fields[1], v->items[i])) != 0)
            return rc;
        xg__pbpath_pop(d, mark);
    }
    return 0;
}

/* A oneof member may be set once per message, and only one member at all. */
static int claim_oneof(dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    uint32_t *which = MEMBER(m, f->quantifier_offset);
    if (*which != 0 && *which != f->id) {
        const ProtobufCFieldDescriptor *other = protobuf_c_message_descriptor_get_field(m->descriptor, *which);
        return xg__pbpath_fail(d, "only one of a oneof may be set; \"%s\" is already set",
                               other ? other->name : "another field");
    }
    *which = f->id;
    return 0;
}

static bool is_value_type(const ProtobufCFieldDescriptor *f)
{
    return f->type == PROTOBUF_C_TYPE_MESSAGE && xg__wkt_of(f->descriptor) == XG_WKT_VALUE;
}

static int decode_field(dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const xg_jv *v)
{
    if (v->kind == XG_JV_NULL && !is_value_type(f))
        return 0; /* proto3 JSON: null means the default */
    if (xg__is_map_field(f))
        return decode_map(d, m, f, v);
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return decode_repeated(d, m, f, v);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        int rc = claim_oneof(d, m, f);
        if (rc != 0)
            return rc;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
               f->type != PROTOBUF_C_TYPE_STRING) {
        *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
    }
    return decode_value(d, f, v, MEMBER(m, f->offset));
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc, const char *key)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
    for (unsigned i = 0; f == NULL && i < desc->n_fields; i++)
        if (xg__field_name_matches(desc->fields[i].name, key))
            f = &desc->fields[i];
    return f;
}

/* Decodes the members of object v into m; "@type" is skipped inside an Any. */
static int decode_fields(dec *d, const ProtobufCMessageDescriptor *desc, const xg_jv *v, ProtobufCMessage *m,
                         bool in_any)
{
    int rc = expect(d, v, XG_JV_OBJECT);
    if (rc != 0)
        return rc;
    unsigned char *seen = calloc(desc->n_fields + 1, 1);
    if (seen == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < v->n; i++) {
        if (in_any && strcmp(v->keys[i], "@type") == 0)
            continue;
        const ProtobufCFieldDescriptor *f = find_field(desc, v->keys[i]);
        if (f == NULL) {
            size_t mark = xg__pbpath_field(d, v->keys[i]);
            rc = xg__pbpath_fail(d, "unknown field \"%s\" in %s", v->keys[i], desc->name);
            xg__pbpath_pop(d, mark);
            break;
        }
        size_t idx = (size_t)(f - desc->fields);
        size_t mark = xg__pbpath_field(d, f->name);
        if (seen[idx]++)
            rc = xg__pbpath_fail(d, "field given twice (as snake_case and camelCase?)");
        else
            rc = decode_field(d, m, f, v->items[i]);
        if (rc == 0)
            xg__pbpath_pop(d, mark);
    }
    free(seen);
    return rc;
}

static int decode_any(dec *d, const xg_jv *v, Google__Protobuf__Any *any)
{
    int rc = expect(d, v, XG_JV_OBJECT);
    if (rc != 0 || v->n == 0)
        return rc; /* {} is an empty Any */
    const xg_jv *type = xg_jv_get(v, "@type");
    if (type == NULL || type->kind != XG_JV_STRING)
        return xg__pbpath_fail(d, "Any needs a string \"@type\"");
    const ProtobufCMessageDescriptor *inner = xg_pb_find_type(type->str);
    if (inner == NULL || strchr(type->str, '/') == NULL)
        return xg__pbpath_fail(d, "unknown or unsupported type \"%s\"", type->str);
    if ((any->type_url = strdup(type->str)) == NULL)
        return XG_ENOMEM;
    ProtobufCMessage *m = NULL;
    if (xg__wkt_of(inner) != XG_WKT_NONE) {
        const xg_jv *value = xg_jv_get(v, "value");
        if (value == NULL || v->n != 2)
            return xg__pbpath_fail(d, "an Any of %s takes exactly \"@type\" and \"value\"", inner->name);
        rc = decode_message(d, inner, value, &m);
    } else if ((m = msg_new(inner)) == NULL) {
        rc = XG_ENOMEM;
    } else {
        rc = decode_fields(d, inner, v, m, true);
    }
    if (rc == 0) {
        any->value.len = protobuf_c_message_get_packed_size(m);
        any->value.data = malloc(any->value.len ? any->value.len : 1);
        rc = any->value.data ? 0 : XG_ENOMEM;
        if (rc == 0)
            protobuf_c_message_pack(m, any->value.data);
    }
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int decode_duration(dec *d, const xg_jv *v, Google__Protobuf__Duration *m)
{
    int rc = expect(d, v, XG_JV_STRING);
    if (rc == 0 && xg__duration_parse(v->str, &m->seconds, &m->nanos) != 0)
        rc = xg__pbpath_fail(d, "invalid duration \"%s\" (want e.g. \"1.5s\")", v->str);
    return rc;
}

static int decode_timestamp(dec *d, const xg_jv *v, Google__Protobuf__Timestamp *m)
{
    int rc = expect(d, v, XG_JV_STRING);
    if (rc == 0 && xg__timestamp_parse(v->str, &m->seconds, &m->nanos) != 0)
        rc = xg__pbpath_fail(d, "invalid timestamp \"%s\" (want RFC 3339)", v->str);
    return rc;
}

static int decode_value_wkt(dec *d, const xg_jv *v, Google__Protobuf__Value *m);

static int decode_struct(dec *d, const xg_jv *v, Google__Protobuf__Struct *m)
{
    const ProtobufCFieldDescriptor *f = &google__protobuf__struct__descriptor.fields[0];
    return decode_map(d, &m->base, f, v);
}

static int decode_list_value(dec *d, const xg_jv *v, Google__Protobuf__ListValue *m)
{
    int rc = expect(d, v, XG_JV_ARRAY);
    if (rc != 0 || v->n == 0)
        return rc;
    if ((m->values = calloc(v->n, sizeof(*m->values))) == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < v->n; i++) {
        size_t mark = xg__pbpath_index(d, i);
        if ((m->values[i] = (Google__Protobuf__Value *)msg_new(&google__protobuf__value__descriptor)) == NULL)
            return XG_ENOMEM;
        m->n_values++;
        if ((rc = decode_value_wkt(d, v->items[i], m->values[i])) != 0)
            return rc;
        xg__pbpath_pop(d, mark);
    }
    return 0;
}

static int decode_value_wkt(dec *d, const xg_jv *v, Google__Protobuf__Value *m)
{
    switch (v->kind) {
    case XG_JV_NULL:
        m->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE;
        m->null_value = GOOGLE__PROTOBUF__NULL_VALUE__NULL_VALUE;
        return 0;
    case XG_JV_BOOL:
        m->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
        m->bool_value = v->str[0] == 't';
        return 0;
    case XG_JV_NUMBER:
        m->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
        return parse_double(d, v, &m->number_value);
    case XG_JV_STRING:
        m->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
        return decode_string(d, v, &m->string_value);
    case XG_JV_ARRAY:
        m->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE;
        m->list_value = (Google__Protobuf__ListValue *)msg_new(&google__protobuf__list_value__descriptor);
        return m->list_value ? decode_list_value(d, v, m->list_value) : XG_ENOMEM;
    case XG_JV_OBJECT:
        m->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
        m->struct_value = (Google__Protobuf__Struct *)msg_new(&google__protobuf__struct__descriptor);
        return m->struct_value ? decode_struct(d, v, m->struct_value) : XG_ENOMEM;
    }
    return XG_EINVAL;
}

/* "fooBar,baz.quxQuux" -> ["foo_bar", "baz.qux_quux"]. */
static int decode_field_mask(dec *d, const xg_jv *v, Google__Protobuf__FieldMask *m)
{
    int rc = expect(d, v, XG_JV_STRING);
    if (rc != 0 || v->len == 0)
        return rc;
    size_t n = 1;
    for (const char *p = v->str; *p; p++)
        n += (*p == ',');
    if ((m->paths = calloc(n, sizeof(*m->paths))) == NULL)
        return XG_ENOMEM;
    const char *p = v->str;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, ",");
        xg_buf b;
        xg_buf_init(&b);
        for (size_t j = 0; j < len && rc == 0; j++) {
            if (isupper((unsigned char)p[j]))
                rc = xg_buf_putc(&b, '_');
            if (rc == 0)
                rc = xg_buf_putc(&b, (char)tolower((unsigned char)p[j]));
        }
        if (rc != 0) {
            xg_buf_dispose(&b);
            return rc;
        }
        m->paths[m->n_paths++] = xg_buf_steal(&b);
        p += len + 1;
    }
    return 0;
}

static int decode_wkt(dec *d, xg__wkt kind, const xg_jv *v, ProtobufCMessage *m)
{
    switch (kind) {
    case XG_WKT_ANY:
        return decode_any(d, v, (Google__Protobuf__Any *)m);
    case XG_WKT_DURATION:
        return decode_duration(d, v, (Google__Protobuf__Duration *)m);
    case XG_WKT_TIMESTAMP:
        return decode_timestamp(d, v, (Google__Protobuf__Timestamp *)m);
    case XG_WKT_WRAPPER:
        return decode_value(d, &m->descriptor->fields[0], v, MEMBER(m, m->descriptor->fields[0].offset));
    case XG_WKT_STRUCT:
        return decode_struct(d, v, (Google__Protobuf__Struct *)m);
    case XG_WKT_VALUE:
        return decode_value_wkt(d, v, (Google__Protobuf__Value *)m);
    case XG_WKT_LIST_VALUE:
        return decode_list_value(d, v, (Google__Protobuf__ListValue *)m);
    case XG_WKT_FIELD_MASK:
        return decode_field_mask(d, v, (Google__Protobuf__FieldMask *)m);
    case XG_WKT_NONE:
        break;
    }
    return decode_fields(d, m->descriptor, v, m, false);
}

static int decode_message(dec *d, const ProtobufCMessageDescriptor *desc, const xg_jv *v, ProtobufCMessage **out)
{
    ProtobufCMessage *m = msg_new(desc);
    if (m == NULL)
        return XG_ENOMEM;
    *out = m; /* owned by the parent from here on, so errors free it with the parent */
    return decode_wkt(d, xg__wkt_of(desc), v, m);
}

int xg_pbjson_decode(const ProtobufCMessageDescriptor *desc, const xg_jv *v, const char *path, ProtobufCMessage **out,
                     char *err, size_t errlen)
{
    dec d = {.err = err, .errlen = errlen};
    xg_buf_init(&d.path);
    if (path != NULL && xg_buf_puts(&d.path, path) != 0)
        return XG_ENOMEM;
    ProtobufCMessage *m = NULL;
    int rc = decode_message(&d, desc, v, &m);
    if (rc == XG_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc != 0 && m != NULL) {
        protobuf_c_message_free_unpacked(m, NULL);
        m = NULL;
    }
    xg_buf_dispose(&d.path);
    *out = m;
    return rc;
}

int xg_pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *text, size_t len, ProtobufCMessage **out,
                    char *err, size_t errlen)
{
    xg_jv *v = NULL;
    int rc = xg_jv_parse(text, len, &v, err, errlen);
    if (rc != 0)
        return rc;
    rc = xg_pbjson_decode(desc, v, "", out, err, errlen);
    xg_jv_free(v);
    return rc;
}
