/* Redaction of sensitive fields for /config_dump (Envoy's MessageUtil::redact rules). */
#include <stdlib.h>
#include <string.h>

#include "admin/redact.h"
#include "google/protobuf/any.pb-c.h"
#include "xds/pb_registry.h"
#include "xds/pbjson_int.h"

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))
#define REDACTED "[redacted]"

/* Fields Envoy's protos mark (udpa.annotations.sensitive) that xdsgate's proto subset has. */
static const struct {
    const char *message;
    const char *field;
} sensitive_fields[] = {
    {"envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "private_key"},
    {"envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "password"},
    {"envoy.extensions.transport_sockets.tls.v3.GenericSecret", "secret"},
    {"envoy.extensions.transport_sockets.tls.v3.TlsSessionTicketKeys", "keys"},
};

static bool is_sensitive(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    for (size_t i = 0; i < sizeof(sensitive_fields) / sizeof(sensitive_fields[0]); i++)
        if (strcmp(sensitive_fields[i].message, d->name) == 0 && strcmp(sensitive_fields[i].field, f->name) == 0)
            return true;
    return false;
}

static bool redact_message(ProtobufCMessage *m, bool sensitive, int depth);

/* Whether a singular field holds a value (proto3: oneof member chosen, has_ set, or non-default). */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)MEMBER(m, f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING)
        return *(const protobuf_c_boolean *)MEMBER(m, f->quantifier_offset);
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char **)MEMBER(m, f->offset);
        return s != NULL && s[0] != '\0';
    }
    if (f->type == PROTOBUF_C_TYPE_BYTES)
        return ((const ProtobufCBinaryData *)MEMBER(m, f->offset))->len > 0;
    return true;
}

static void replace_string(char **slot, const ProtobufCFieldDescriptor *f)
{
    /* Unset strings point at the descriptor's default, which is not ours to free. */
    if (*slot != NULL && *slot != (char *)f->default_value && *slot != (char *)protobuf_c_empty_string)
        free(*slot);
    *slot = strdup(REDACTED);
    if (*slot == NULL)
        *slot = (char *)protobuf_c_empty_string;
}

static void replace_bytes(ProtobufCBinaryData *b, const ProtobufCFieldDescriptor *f)
{
    const ProtobufCBinaryData *def = f->default_value;
    if (b->data != NULL && (def == NULL || b->data != def->data))
        free(b->data);
    b->data = (uint8_t *)strdup(REDACTED);
    b->len = b->data ? strlen(REDACTED) : 0;
}

static bool redact_any(Google__Protobuf__Any *any, bool sensitive, int depth)
{
    const ProtobufCMessageDescriptor *d = any->type_url ? xg_pb_find_type(any->type_url) : NULL;
    ProtobufCMessage *inner = d ? protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data) : NULL;
    if (inner == NULL)
        return false;
    bool changed = redact_message(inner, sensitive, depth + 1);
    if (changed) {
        size_t len = protobuf_c_message_get_packed_size(inner);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf != NULL)
            protobuf_c_message_pack(inner, buf);
        free(any->value.data);
        any->value.data = buf;
        any->value.len = buf ? len : 0;
    }
    protobuf_c_message_free_unpacked(inner, NULL);
    return changed;
}

static bool redact_sub(ProtobufCMessage *sub, bool sensitive, int depth)
{
    if (sub == NULL)
        return false;
    if (sub->descriptor == &google__protobuf__any__descriptor)
        return redact_any((Google__Protobuf__Any *)sub, sensitive, depth);
    return redact_message(sub, sensitive, depth + 1);
}

static bool redact_repeated(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, bool sensitive, int depth)
{
    size_t *n = MEMBER(m, f->quantifier_offset);
    void *arr = *(void **)MEMBER(m, f->offset);
    bool changed = false;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        for (size_t i = 0; i < *n; i++)
            changed |= redact_sub(((ProtobufCMessage **)arr)[i], sensitive, depth);
        return changed;
    }
    if (!sensitive || *n == 0)
        return false;
    if (f->type == PROTOBUF_C_TYPE_STRING)
        for (size_t i = 0; i < *n; i++)
            replace_string(&((char **)arr)[i], f);
    else if (f->type == PROTOBUF_C_TYPE_BYTES)
        for (size_t i = 0; i < *n; i++)
            replace_bytes(&((ProtobufCBinaryData *)arr)[i], f);
    else
        *n = 0; /* numbers, bools, enums: cleared (the array itself is freed with the message) */
    return true;
}

/* A scalar inside a sensitive field: strings and bytes become "[redacted]", the rest is cleared. */
static void redact_scalar(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    void *p = MEMBER(m, f->offset);
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        replace_string(p, f);
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
        replace_bytes(p, f);
    } else {
        memset(p, 0, xg__pb_type_size(f->type));
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)MEMBER(m, f->quantifier_offset) = 0;
        else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0)
            *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 0;
    }
}

static bool redact_message(ProtobufCMessage *m, bool sensitive, int depth)
{
    bool changed = false;
    if (depth > 100)
        return false;
    for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
        bool s = sensitive || is_sensitive(m->descriptor, f);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            changed |= redact_repeated(m, f, s, depth);
        } else if (!present(m, f)) {
            continue;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            changed |= redact_sub(*(ProtobufCMessage **)MEMBER(m, f->offset), s, depth);
        } else if (s) {
            redact_scalar(m, f);
            changed = true;
        }
    }
    return changed;
}

bool xg_redact(ProtobufCMessage *m)
{
    return redact_message(m, false, 0);
}
