/* One response's resources, each on its own (gRFC A46): type check, decode,
 * name, duplicates within the response, identity with what is held (xxh64 +
 * bytes), unknown fields, translation. A problem rejects that resource only. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/pb_unknown.h"
#include "xds/xds_state_int.h"

static const ProtobufCMessageDescriptor *const descriptors[XG_XDS_NTYPES] = {
    &envoy__config__listener__v3__listener__descriptor,
    &envoy__config__route__v3__route_configuration__descriptor,
    &envoy__config__cluster__v3__cluster__descriptor,
    &envoy__config__endpoint__v3__cluster_load_assignment__descriptor,
    &envoy__extensions__transport_sockets__tls__v3__secret__descriptor,
};

/* Listener/Cluster/Secret/RouteConfiguration are named by `name`, a
 * ClusterLoadAssignment by `cluster_name`. */
static const char *message_name(xg_xds_type t, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, t == XG_XDS_EDS ? "cluster_name" : "name");
    return f ? *(char *const *)((const char *)m + f->offset) : NULL;
}

void xg__xds_ver_dispose(xg__xds_ver *v)
{
    xg_res_unref(v->res);
    for (size_t i = 0; i < v->n_addrs; i++)
        free(v->addrs[i]);
    free(v->addrs);
    memset(v, 0, sizeof(*v));
    v->fetch_timeout_ms = -1;
}

void xg__xds_reject(xg__xds_batch *b, xg__xds_item *it, const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    xg__xds_ver_dispose(&it->ver);
    if (it->state != XG_ITEM_REJECTED)
        b->n_rejected++;
    it->state = XG_ITEM_REJECTED;
    free(it->error);
    it->error = strdup(reason);
}

static bool same_bytes(const xg_res *held, const xg_xds_resource *res, uint64_t hash)
{
    return held != NULL && held->hash == hash && held->raw_len == res->len &&
           (res->len == 0 || memcmp(held->raw, res->data, res->len) == 0);
}

/* A byte-identical re-send of something held is recognised from its hash
 * alone, without decoding: SotW control planes re-send every resource of a
 * type when one changes, so this is the common case. */
static bool known_bytes(xg_xds_state *st, xg__xds_item *it, xg_xds_type t, const xg_xds_resource *res)
{
    const xg__xds_entry *e = xg__xds_map_get_hash(&st->types[t].by_hash, it->hash);
    if (e == NULL || (it->name != NULL && strcmp(it->name, e->name) != 0))
        return false;
    bool warming = same_bytes(e->warming.res, res, it->hash);
    if (!warming && !same_bytes(e->active.res, res, it->hash))
        return false;
    it->name = e->name;
    it->state = XG_ITEM_SAME;
    it->same_active = !warming && e->warming.res != NULL;
    return true;
}

/* --- scratch memory for the decoded messages ---
 *
 * A response's decoded messages are garbage once its resources are
 * translated, and there are many of them (5 MB for a RouteConfiguration of
 * 10,000 routes). From malloc they would be freed between the translated
 * resources that stay, leaving the process that much bigger until something
 * trims the heap; from mappings of the response's own they are bumped out of
 * 1 MiB chunks and unmapped in one go with the batch. The chunks are
 * populated when mapped: a page fault per 4 KiB page cost the 10,000-route
 * update 10-20 ms on a KVM guest, one populating mmap about 1 ms. Under AddressSanitizer they come from malloc, so that a
 * translated resource still pointing into a message is caught. */

struct xg__xds_scratch {
    struct xg__xds_scratch *next;
    size_t size; /* of the mapping, this header included */
    size_t off;  /* first free byte, from the mapping's start */
};

#define SCRATCH_CHUNK ((size_t)1 << 20)
#define SCRATCH_HDR ((sizeof(struct xg__xds_scratch) + 15) & ~(size_t)15)

static void *scratch_alloc(void *data, size_t size)
{
    xg__xds_batch *b = data;
    if (size > SIZE_MAX / 2)
        return NULL;
    size_t need = (size + 15) & ~(size_t)15;
    struct xg__xds_scratch *c = b->scratch;
    if (c == NULL || c->size - c->off < need) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t len = need + SCRATCH_HDR > SCRATCH_CHUNK ? (need + SCRATCH_HDR + page - 1) & ~(page - 1) : SCRATCH_CHUNK;
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        c = m;
        c->size = len;
        c->off = SCRATCH_HDR;
        /* A one-off bigger than a chunk goes behind the newest, which keeps its free space. */
        if (len > SCRATCH_CHUNK && b->scratch != NULL) {
            c->next = b->scratch->next;
            b->scratch->next = c;
        } else {
            c->next = b->scratch;
            b->scratch = c;
        }
    }
    void *p = (char *)c + c->off;
    c->off += need;
    return p;
}

static void scratch_free(void *data, void *p)
{
    (void)data;
    (void)p; /* all of it goes with the batch */
}

/* The first this many serialized bytes a response decodes come from malloc:
 * what they leave free is small, and a mapping (the populating map, the
 * unmap every thread's TLB hears of) would cost a one-cluster update, or a
 * state-of-the-world re-send of 1,000 assignments of which one changed,
 * more than its decoding. */
#define SCRATCH_MIN_BYTES (64 * 1024)

static void scratch_init(xg__xds_batch *b)
{
    b->pb_alloc = (ProtobufCAllocator){scratch_alloc, scratch_free, b};
}

/* The allocator for a message of len serialized bytes about to be decoded
 * (NULL: malloc's); it->scratch records the choice for the free. */
static ProtobufCAllocator *scratch_allocator(xg__xds_batch *b, xg__xds_item *it, size_t len)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)len;
    it->scratch = false;
#else
    b->decoded_bytes += len;
    it->scratch = b->decoded_bytes > SCRATCH_MIN_BYTES;
#endif
    return it->scratch ? &b->pb_alloc : NULL;
}

static void scratch_dispose(xg__xds_batch *b)
{
    while (b->scratch != NULL) {
        struct xg__xds_scratch *c = b->scratch;
        b->scratch = c->next;
        munmap(c, c->size);
    }
}

/* Type URL, identity, decode, name. The item keeps the decoded message for later stages. */
static void decode_one(xg_xds_state *st, xg__xds_batch *b, xg__xds_item *it, const xg_xds_resource *res)
{
    xg_xds_type t = b->r->type;
    it->name = res->name; /* delta (or a SotW Resource wrapper): its name; else NULL until decoded */
    if (res->type_url == NULL || strcmp(res->type_url, xg_xds_type_url(t)) != 0) {
        xg__xds_reject(b, it, "type_url \"%s\" is not %s, the type of this response",
                       res->type_url ? res->type_url : "", xg_xds_type_url(t));
        return;
    }
    it->hash = XXH64(res->data, res->len, 0);
    if (known_bytes(st, it, t, res))
        return;
    it->msg = protobuf_c_message_unpack(descriptors[t], scratch_allocator(b, it, res->len), res->len, res->data);
    if (it->msg == NULL) {
        xg__xds_reject(b, it, "does not decode as %s (malformed protobuf)", descriptors[t]->name);
        return;
    }
    const char *name = message_name(t, it->msg);
    if (it->name != NULL && (name == NULL || strcmp(it->name, name) != 0)) {
        xg__xds_reject(b, it, "%s: \"%s\" differs from the Resource name", t == XG_XDS_EDS ? "cluster_name" : "name",
                       name ? name : "");
        return;
    }
    it->name = name;
    if (name == NULL || name[0] == '\0') {
        it->name = NULL;
        xg__xds_reject(b, it, "%s: must not be empty", t == XG_XDS_EDS ? "cluster_name" : "name");
    }
}

/* Two or more resources of one name in one response: all of them are rejected
 * (which one the control plane meant is unknowable). */
static int mark_duplicates(xg__xds_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        xg__xds_item *it = &b->items[i];
        if (it->name == NULL) {
            b->unnamed = true;
            continue;
        }
        xg__xds_item *first = xg__xds_map_get(&b->names, it->name);
        if (first == NULL) {
            if (xg__xds_map_put(&b->names, it->name, it) != 0)
                return XG_ENOMEM;
            continue;
        }
        const char *type = xg_res_type_name(b->r->type);
        xg__xds_reject(b, it, "duplicate: the response has more than one %s of this name", type);
        xg__xds_reject(b, first, "duplicate: the response has more than one %s of this name", type);
    }
    return 0;
}

typedef struct unknown_first {
    char text[512];
    size_t count;
} unknown_first;

static void on_unknown(void *ctx, const char *path, const char *message_name, uint32_t field_number)
{
    unknown_first *u = ctx;
    if (u->count++ == 0)
        snprintf(u->text, sizeof(u->text), "%s%sunknown field number %u in %s", path, *path ? ": " : "", field_number,
                 message_name);
}

/* Strict: the first unknown field rejects. --ignore-unknown-fields: a warning
 * per new resource version (identical re-sends never get here) and a count. */
static bool check_unknown(xg_xds_state *st, xg__xds_batch *b, xg__xds_item *it)
{
    unknown_first u = {.count = 0};
    xg_pb_find_unknown(it->msg, on_unknown, &u);
    if (u.count == 0)
        return true;
    if (!st->ignore_unknown) {
        xg__xds_reject(b, it, "%s (xdsgate does not implement it; --ignore-unknown-fields accepts it with a warning)",
                       u.text);
        return false;
    }
    st->types[b->r->type].unknown_fields++;
    xg_log_warn("xds: %s \"%s\": ignoring %s%s", xg_res_type_name(b->r->type), it->name, u.text,
                u.count > 1 ? " and more unknown fields" : "");
    return true;
}

static int64_t wall_now(const xg_xds_state *st)
{
    return st->wall_ms();
}

/* Fills the bookkeeping fields of a freshly translated resource. */
static int finish_res(xg_xds_state *st, xg__xds_batch *b, xg_res *r, const xg_xds_resource *res, uint64_t hash)
{
    const char *version = res->version ? res->version : b->r->version_info;
    r->version = xg_arena_strdup(&r->arena, version ? version : "");
    r->raw = res->len ? xg_arena_memdup(&r->arena, res->data, res->len) : (const uint8_t *)"";
    r->raw_len = res->len;
    r->hash = hash;
    r->last_updated_ms = wall_now(st);
    return (r->version == NULL || r->raw == NULL) ? XG_ENOMEM : 0;
}

/* The first arena chunk for a new version of a resource: what the version
 * held took (or, for a new name, what the last resource of the type took),
 * with some slack. Resources of one kind from one control plane are much
 * alike, so most fit one chunk with little left over. */
static size_t size_hint(const xg_xds_state *st, xg_xds_type t, const xg__xds_entry *e)
{
    const xg_res *held = e ? (e->warming.res ? e->warming.res : e->active.res) : NULL;
    size_t used = held ? held->arena.used : st->types[t].res_bytes;
    if (used == 0 || used > SIZE_MAX / 2)
        return 0;
    return (used + used / 8 + 64 + 63) & ~(size_t)63;
}

static void translate(xg_xds_state *st, xg__xds_batch *b, xg__xds_item *it, const xg_xds_resource *res, uint64_t hash,
                      const xg__xds_entry *e)
{
    xg_xds_type t = b->r->type;
    char err[1024];
    xg_xlate x;
    if (st->xlate[t] == NULL) {
        xg__xds_reject(b, it, "xdsgate has no translator for %s", xg_res_type_name(t));
        return;
    }
    xg_res *r = xg_res_new_sized(t, it->name, size_hint(st, t, e));
    if (r == NULL) {
        xg__xds_reject(b, it, "out of memory");
        return;
    }
    xg_xlate_init(&x, r, err, sizeof(err));
    x.ignore_unknown = st->ignore_unknown;
    int rc = st->xlate[t](&x, it->msg);
    if (rc == 0)
        rc = xg_xlate_finish(&x);
    else
        xg_xlate_dispose(&x);
    if (rc == 0)
        rc = finish_res(st, b, r, res, hash);
    if (rc != 0) {
        xg_res_unref(r);
        xg__xds_reject(b, it, "%s", err[0] ? err : xg_strerror(rc));
        return;
    }
    st->types[t].res_bytes = r->arena.used;
    it->ver.res = r;
    it->state = XG_ITEM_NEW;
}

/* Subscription filter, identity, unknown fields, translation. */
static void prepare_one(xg_xds_state *st, xg__xds_batch *b, xg__xds_item *it, const xg_xds_resource *res)
{
    xg_xds_type t = b->r->type;
    if (!xg_xds_type_is_wildcard(t) && !xg__xds_is_subscribed(st, t, it->name)) {
        xg_log_debug("xds: %s \"%s\" was not asked for; ignored", xg_res_type_name(t), it->name);
        it->state = XG_ITEM_IGNORED;
        return;
    }
    uint64_t hash = it->hash;
    const xg__xds_entry *e = xg__xds_map_get(&st->types[t].map, it->name);
    if (e != NULL && same_bytes(e->warming.res, res, hash)) {
        it->state = XG_ITEM_SAME;
        return;
    }
    if (e != NULL && same_bytes(e->active.res, res, hash)) {
        it->state = XG_ITEM_SAME;
        it->same_active = e->warming.res != NULL;
        return;
    }
    if (!check_unknown(st, b, it))
        return;
    translate(st, b, it, res, hash, e);
    if (it->state == XG_ITEM_NEW && xg__xds_ver_extract(st, t, it->msg, &it->ver) != 0)
        xg__xds_reject(b, it, "out of memory");
}

int xg__xds_decode(xg_xds_state *st, xg__xds_batch *b)
{
    const xg_xds_response *r = b->r;
    xg__xds_map_init(&b->names);
    scratch_init(b);
    b->n = r->n_resources;
    b->items = r->n_resources ? calloc(r->n_resources, sizeof(*b->items)) : NULL;
    if (r->n_resources > 0 && b->items == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < b->n; i++) {
        b->items[i].index = i;
        b->items[i].state = XG_ITEM_NEW; /* provisional until prepared */
        b->items[i].ver.fetch_timeout_ms = -1;
        decode_one(st, b, &b->items[i], &r->resources[i]);
    }
    int rc = mark_duplicates(b);
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        if (b->items[i].state == XG_ITEM_NEW && b->items[i].msg != NULL)
            prepare_one(st, b, &b->items[i], &r->resources[i]);
    return rc;
}

void xg__xds_batch_dispose(xg__xds_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        xg__xds_ver_dispose(&b->items[i].ver);
        free(b->items[i].error);
        if (b->items[i].msg != NULL && !b->items[i].scratch)
            protobuf_c_message_free_unpacked(b->items[i].msg, NULL);
    }
    scratch_dispose(b);
    free(b->items);
    xg__xds_map_dispose(&b->names);
    memset(b, 0, sizeof(*b));
}
