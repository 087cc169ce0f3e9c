/* Test helper for the translator tests: rewrites the type URL of every Any of
 * a given type inside a decoded message, descending into Any values whose
 * type xdsgate knows. It lets a YAML test stand in a known type (usually
 * google.protobuf.Empty) for an extension type xdsgate does not have, which
 * the JSON codec could not otherwise encode. */
#ifndef XG_TEST_ANY_RENAME_H
#define XG_TEST_ANY_RENAME_H

#include <stdlib.h>
#include <string.h>

#include "google/protobuf/any.pb-c.h"
#include "xds/pb_registry.h"

static void any_rename(ProtobufCMessage *m, const char *from_name, const char *to_url);

static void any_rename_any(Google__Protobuf__Any *a, const char *from_name, const char *to_url)
{
    const char *slash = strrchr(a->type_url, '/');
    const char *name = slash ? slash + 1 : a->type_url;
    if (strcmp(name, from_name) == 0) {
        free(a->type_url);
        a->type_url = strdup(to_url);
        return;
    }
    const ProtobufCMessageDescriptor *d = xg_pb_find_type(name);
    ProtobufCMessage *inner = d ? protobuf_c_message_unpack(d, NULL, a->value.len, a->value.data) : NULL;
    if (inner == NULL)
        return;
    any_rename(inner, from_name, to_url);
    size_t len = protobuf_c_message_get_packed_size(inner);
    uint8_t *buf = malloc(len ? len : 1);
    protobuf_c_message_pack(inner, buf);
    free(a->value.data);
    a->value.data = buf;
    a->value.len = len;
    protobuf_c_message_free_unpacked(inner, NULL);
}

static void any_rename_field(ProtobufCMessage *sub, const char *from_name, const char *to_url)
{
    if (sub == NULL)
        return;
    if (sub->descriptor == &google__protobuf__any__descriptor)
        any_rename_any((Google__Protobuf__Any *)sub, from_name, to_url);
    else
        any_rename(sub, from_name, to_url);
}

static void any_rename(ProtobufCMessage *m, const char *from_name, const char *to_url)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        char *base = (char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *)((char *)m + f->quantifier_offset);
            ProtobufCMessage **v = *(ProtobufCMessage ***)base;
            for (size_t k = 0; k < n; k++)
                any_rename_field(v[k], from_name, to_url);
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(uint32_t *)((char *)m + f->quantifier_offset) != f->id)
            continue;
        any_rename_field(*(ProtobufCMessage **)base, from_name, to_url);
    }
}

#endif
