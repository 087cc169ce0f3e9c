/* Recursive search for unknown fields, entering Any payloads. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "google/protobuf/any.pb-c.h"
#include "xds/pb_registry.h"
#include "xds/pb_unknown.h"

#define MEMBER(m, off) ((const void *)((const char *)(m) + (off)))
#define MAX_DEPTH 100
#define NO_INDEX SIZE_MAX

/* One step of the path to the message being walked: a field, and its index
 * when repeated. The path is kept as steps and spelled out only when an
 * unknown field is found: a 10,000-route update has none, and printing
 * every step of its walk was a third of the instructions of applying it. */
typedef struct step {
    const char *field;
    size_t index;
} step;

typedef struct walk {
    step path[MAX_DEPTH + 2]; /* walk_message enters at most MAX_DEPTH + 1 levels, each adds one step */
    size_t n;
    xg_pb_unknown_cb cb;
    void *ctx;
    size_t found;
} walk;

static void walk_message(walk *w, const ProtobufCMessage *m, int depth);

/* "filter_chains[0].filters[0].typed_config", as xg__pbpath spells paths. */
static void spell(const walk *w, xg_buf *out)
{
    for (size_t i = 0; i < w->n; i++) {
        if (i > 0)
            xg_buf_putc(out, '.');
        xg_buf_puts(out, w->path[i].field);
        if (w->path[i].index != NO_INDEX)
            xg_buf_printf(out, "[%zu]", w->path[i].index);
    }
}

static void report(walk *w, const ProtobufCMessage *m)
{
    if (m->n_unknown_fields == 0)
        return;
    w->found += m->n_unknown_fields;
    if (w->cb == NULL)
        return;
    xg_buf path;
    xg_buf_init(&path);
    spell(w, &path);
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        w->cb(w->ctx, path.data ? path.data : "", m->descriptor->name, m->unknown_fields[i].tag);
    xg_buf_dispose(&path);
}

static void walk_any(walk *w, const Google__Protobuf__Any *any, int depth)
{
    const ProtobufCMessageDescriptor *d = any->type_url ? xg_pb_find_type(any->type_url) : NULL;
    if (d == NULL)
        return;
    ProtobufCMessage *inner = protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data);
    if (inner == NULL)
        return;
    walk_message(w, inner, depth + 1);
    protobuf_c_message_free_unpacked(inner, NULL);
}

/* Descends into the field's message(s) with the field as the path's next
 * step; a field that is absent costs no step. */
static void walk_field(walk *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int depth)
{
    size_t n = 1;
    ProtobufCMessage *const *arr;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        n = *(const size_t *)MEMBER(m, f->quantifier_offset);
        arr = *(ProtobufCMessage *const *const *)MEMBER(m, f->offset);
    } else {
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)MEMBER(m, f->quantifier_offset) != f->id)
            return;
        arr = (ProtobufCMessage *const *)MEMBER(m, f->offset);
        if (*arr == NULL)
            return;
    }
    if (n == 0)
        return;
    XG_ASSERT(w->n < sizeof(w->path) / sizeof(w->path[0]));
    w->path[w->n++] = (step){f->name, NO_INDEX};
    for (size_t i = 0; i < n; i++) {
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            w->path[w->n - 1].index = i;
        walk_message(w, arr[i], depth + 1);
    }
    w->n--;
}

static void walk_message(walk *w, const ProtobufCMessage *m, int depth)
{
    if (m == NULL || depth > MAX_DEPTH)
        return;
    report(w, m);
    if (m->descriptor == &google__protobuf__any__descriptor) {
        walk_any(w, (const Google__Protobuf__Any *)m, depth);
        return;
    }
    for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            walk_field(w, m, f, depth);
    }
}

size_t xg_pb_find_unknown(const ProtobufCMessage *m, xg_pb_unknown_cb cb, void *ctx)
{
    walk w = {.cb = cb, .ctx = ctx};
    walk_message(&w, m, 0);
    return w.found;
}

static void first_cb(void *ctx, const char *path, const char *message_name, uint32_t field_number)
{
    xg_buf *out = ctx;
    if (out->len > 0)
        return;
    xg_buf_printf(out, "%s%sunknown field number %u in %s", path, *path ? ": " : "", field_number, message_name);
}

size_t xg_pb_first_unknown(const ProtobufCMessage *m, xg_buf *out)
{
    xg_buf tmp;
    xg_buf_init(&tmp);
    size_t n = xg_pb_find_unknown(m, first_cb, &tmp);
    if (tmp.len > 0)
        xg_buf_append(out, tmp.data, tmp.len);
    xg_buf_dispose(&tmp);
    return n;
}
