/* Snapshot files -> validated, versioned resource sets; see snapshot.h. The
 * proto3-JSON codec does the strict decoding (field paths in errors); this
 * file adds what the xDS protocol needs on top: known types, non-empty and
 * unique names, and per-type versions. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "snapshot.h"
#include "xds/jv.h"
#include "xds/pbjson.h"

/* A snapshot file is config, not data: anything bigger is a mistake. */
#define XG_STUB_MAX_FILE (64u << 20)

static const xg_stub_type_info type_table[XG_STUB_NTYPES] = {
    {"type.googleapis.com/envoy.config.listener.v3.Listener", "Listener", "name", true,
     &envoy__config__listener__v3__listener__descriptor},
    {"type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "RouteConfiguration", "name", false,
     &envoy__config__route__v3__route_configuration__descriptor},
    {"type.googleapis.com/envoy.config.cluster.v3.Cluster", "Cluster", "name", true,
     &envoy__config__cluster__v3__cluster__descriptor},
    {"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "ClusterLoadAssignment", "cluster_name",
     false, &envoy__config__endpoint__v3__cluster_load_assignment__descriptor},
    {"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "Secret", "name", false,
     &envoy__extensions__transport_sockets__tls__v3__secret__descriptor},
};

const xg_stub_type_info *xg_stub_type(int t)
{
    return &type_table[t];
}

int xg_stub_type_index(const char *type_url)
{
    const char *slash = strrchr(type_url, '/');
    const char *name = slash ? slash + 1 : type_url;
    for (int t = 0; t < XG_STUB_NTYPES; t++) {
        if (strcmp(strrchr(type_table[t].type_url, '/') + 1, name) == 0)
            return t;
    }
    return -1;
}

static void rset_dispose(xg_stub_rset *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->res[i].name);
        free(r->res[i].data);
    }
    free(r->res);
}

void xg_stub_snapshot_free(xg_stub_snapshot *s)
{
    if (s == NULL)
        return;
    for (int t = 0; t < XG_STUB_NTYPES; t++)
        rset_dispose(&s->types[t]);
    free(s);
}

/* The resources list: the document itself, or its `resources` member. */
static int resources_list(const xg_jv *doc, const xg_jv **out, char *err, size_t errlen)
{
    if (doc->kind == XG_JV_ARRAY) {
        *out = doc;
        return 0;
    }
    if (doc->kind != XG_JV_OBJECT) {
        snprintf(err, errlen, "line %d: expected a mapping with `resources:` or a list, got %s", doc->line,
                 xg_jv_kind_name(doc->kind));
        return XG_EINVAL;
    }
    for (size_t i = 0; i < doc->n; i++) {
        if (strcmp(doc->keys[i], "resources") != 0) {
            snprintf(err, errlen, "%s: unknown field (a snapshot has only `resources`)", doc->keys[i]);
            return XG_EINVAL;
        }
    }
    const xg_jv *list = xg_jv_get(doc, "resources");
    if (list == NULL || list->kind != XG_JV_ARRAY) {
        snprintf(err, errlen, "resources: expected array, got %s", list ? xg_jv_kind_name(list->kind) : "nothing");
        return XG_EINVAL;
    }
    *out = list;
    return 0;
}

/* Reads the resource's name field, located through its descriptor so that
 * every type (name, cluster_name) goes through the same code. */
static int resource_name(int t, const Google__Protobuf__Any *any, const char *path, char **out, char *err,
                         size_t errlen)
{
    const xg_stub_type_info *ti = &type_table[t];
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(ti->desc, ti->name_field);
    ProtobufCMessage *m = protobuf_c_message_unpack(ti->desc, NULL, any->value.len, any->value.data);
    if (m == NULL || f == NULL || f->type != PROTOBUF_C_TYPE_STRING) {
        snprintf(err, errlen, "%s: does not re-decode as %s", path, ti->short_name);
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, NULL);
        return XG_EINVAL;
    }
    const char *name = *(char *const *)((const char *)m + f->offset);
    int rc = 0;
    if (name == NULL || name[0] == '\0') {
        snprintf(err, errlen, "%s.%s: a %s needs a non-empty %s", path, ti->name_field, ti->short_name, ti->name_field);
        rc = XG_EINVAL;
    } else if ((*out = strdup(name)) == NULL) {
        rc = XG_ENOMEM;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int rset_push(xg_stub_rset *r, const xg_stub_res *res)
{
    /* Capacity is implied by n: it doubles whenever n reaches a power of two. */
    if ((r->n & (r->n - 1)) == 0) {
        size_t cap = r->n < 2 ? 4 : r->n * 2;
        xg_stub_res *v = realloc(r->res, cap * sizeof(*v));
        if (v == NULL)
            return XG_ENOMEM;
        r->res = v;
    }
    r->res[r->n++] = *res;
    return 0;
}

/* Takes the Any's bytes (the decoder's allocation) into a new resource. */
static int add_resource(xg_stub_snapshot *s, int t, Google__Protobuf__Any *any, char *name, size_t index)
{
    xg_stub_res res = {.name = name, .data = any->value.data, .len = any->value.len, .file_index = index};
    snprintf(res.version, sizeof(res.version), "%016" PRIx64, (uint64_t)XXH64(res.data, res.len, 0));
    int rc = rset_push(&s->types[t], &res);
    if (rc == 0) {
        any->value.data = NULL;
        any->value.len = 0;
    }
    return rc;
}

static int decode_item(xg_stub_snapshot *s, const xg_jv *item, size_t i, char *err, size_t errlen)
{
    char path[48];
    snprintf(path, sizeof(path), "resources[%zu]", i);
    ProtobufCMessage *m = NULL;
    int rc = xg_pbjson_decode(&google__protobuf__any__descriptor, item, path, &m, err, errlen);
    if (rc != 0)
        return rc;
    Google__Protobuf__Any *any = (Google__Protobuf__Any *)m;
    int t = xg_stub_type_index(any->type_url);
    char *name = NULL;
    if (t < 0) {
        snprintf(err, errlen,
                 "%s: @type %s is not a resource type the stub serves (Listener, RouteConfiguration, "
                 "Cluster, ClusterLoadAssignment, Secret)",
                 path, any->type_url);
        rc = XG_EINVAL;
    } else if ((rc = resource_name(t, any, path, &name, err, errlen)) == 0 &&
               (rc = add_resource(s, t, any, name, i)) != 0) {
        free(name);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int cmp_res(const void *a, const void *b)
{
    const xg_stub_res *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->file_index > y->file_index) - (x->file_index < y->file_index);
}

/* Sorts every type by name and rejects a name used twice within a type. */
static int check_unique(xg_stub_snapshot *s, char *err, size_t errlen)
{
    for (int t = 0; t < XG_STUB_NTYPES; t++) {
        xg_stub_rset *r = &s->types[t];
        if (r->n > 1)
            qsort(r->res, r->n, sizeof(*r->res), cmp_res);
        for (size_t i = 1; i < r->n; i++) {
            if (strcmp(r->res[i - 1].name, r->res[i].name) == 0) {
                snprintf(err, errlen, "resources[%zu].%s: duplicate %s \"%s\" (first at resources[%zu])",
                         r->res[i].file_index, type_table[t].name_field, type_table[t].short_name, r->res[i].name,
                         r->res[i - 1].file_index);
                return XG_EINVAL;
            }
        }
    }
    return 0;
}

static int build(const xg_jv *list, xg_stub_snapshot **out, char *err, size_t errlen)
{
    xg_stub_snapshot *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return XG_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < list->n && rc == 0; i++)
        rc = decode_item(s, list->items[i], i, err, errlen);
    if (rc == 0)
        rc = check_unique(s, err, errlen);
    if (rc != 0) {
        xg_stub_snapshot_free(s);
        return rc;
    }
    for (int t = 0; t < XG_STUB_NTYPES; t++)
        s->types[t].version = 1;
    *out = s;
    return 0;
}

int xg_stub_snapshot_parse(const char *text, size_t len, xg_stub_snapshot **out, char *err, size_t errlen)
{
    xg_jv *doc = NULL;
    int rc = xg_jv_parse(text, len, &doc, err, errlen);
    if (rc != 0)
        return rc;
    const xg_jv *list = NULL;
    if (doc->kind == XG_JV_NULL) {
        snprintf(err, errlen, "empty document (want `resources:` with a list of resources)");
        rc = XG_EINVAL;
    } else if ((rc = resources_list(doc, &list, err, errlen)) == 0) {
        rc = build(list, out, err, errlen);
    }
    xg_jv_free(doc);
    return rc;
}

int xg_stub_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > XG_STUB_MAX_FILE) {
        int e = fd < 0 ? errno : 0;
        snprintf(err, errlen, "cannot read: %s", e ? strerror(e) : "not a regular file of at most 64 MiB");
        if (fd >= 0)
            close(fd);
        return e ? -e : XG_EINVAL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read: %s", buf ? strerror(errno) : "out of memory");
        free(buf);
        return XG_EIO;
    }
    buf[n] = '\0';
    *text = buf;
    *len = (size_t)n;
    return 0;
}

int xg_stub_snapshot_load(const char *path, xg_stub_snapshot **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = xg_stub_read_file(path, &text, &len, err, errlen);
    if (rc == 0)
        rc = xg_stub_snapshot_parse(text, len, out, err, errlen);
    free(text);
    return rc;
}

static bool rset_equal(const xg_stub_rset *a, const xg_stub_rset *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const xg_stub_res *x = &a->res[i], *y = &b->res[i];
        if (strcmp(x->name, y->name) != 0 || x->len != y->len || memcmp(x->data, y->data, x->len) != 0)
            return false;
    }
    return true;
}

unsigned xg_stub_snapshot_version(xg_stub_snapshot *next, const xg_stub_snapshot *prev)
{
    unsigned changed = 0;
    for (int t = 0; t < XG_STUB_NTYPES; t++) {
        if (prev == NULL) {
            next->types[t].version = 1;
            changed |= 1u << t;
        } else if (rset_equal(&next->types[t], &prev->types[t])) {
            next->types[t].version = prev->types[t].version;
        } else {
            next->types[t].version = prev->types[t].version + 1;
            changed |= 1u << t;
        }
    }
    return changed;
}

const xg_stub_res *xg_stub_snapshot_find(const xg_stub_snapshot *s, int t, const char *name)
{
    const xg_stub_rset *r = &s->types[t];
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->res[mid].name, name);
        if (c == 0)
            return &r->res[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
