/* Translation pieces shared across resource types: string matchers and
 * regexes (compiled with RE2 at translate time, freed with the resource's
 * arena), durations, and Any / TypedStruct unpacking for extension configs. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "xds/pb_registry.h"
#include "xds/pbjson.h"
#include "xds/type/v3/typed_struct.pb-c.h"
#include "xds/xlate_int.h"

int xg__xlate_regex_str(xg_xlate *x, const char *pattern, const xg_regex **out)
{
    char why[256];
    xg_regex *re = NULL;
    if (pattern == NULL || pattern[0] == '\0')
        return xg_xlate_fail(x, "regex must not be empty");
    int rc = xg_regex_compile(pattern, 0, &re, why, sizeof(why));
    if (rc == XG_EINVAL)
        return xg_xlate_fail(x, "invalid regex \"%s\": %s", pattern, why);
    if (rc < 0)
        return rc;
    if (xg_arena_defer(&x->res->arena, xg_regex_free_cb, re) < 0) {
        xg_regex_free(re);
        return XG_ENOMEM;
    }
    *out = re;
    return 0;
}

int xg__xlate_regex(xg_xlate *x, const Envoy__Type__Matcher__V3__RegexMatcher *pb, const xg_regex **out)
{
    if (pb == NULL)
        return xg_xlate_fail(x, "a RegexMatcher is required");
    size_t mark = xg_xlate_push(x, "regex");
    int rc = xg__xlate_regex_str(x, pb->regex, out);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* The literal of a non-regex StringMatcher; Envoy requires prefix, suffix and
 * contains to be non-empty (exact may be ""). */
static int string_literal(xg_xlate *x, const char *field, const char *s, bool nonempty, bool nocase,
                          xg_string_matcher *out)
{
    if (nonempty && s[0] == '\0') {
        size_t mark = xg_xlate_push(x, field);
        int rc = xg_xlate_fail(x, "must not be empty");
        xg_xlate_pop(x, mark);
        return rc;
    }
    char *v = xg_xlate_strdup(x, s);
    if (v == NULL)
        return XG_ENOMEM;
    out->len = strlen(v);
    for (size_t i = 0; nocase && i < out->len; i++)
        if (v[i] >= 'A' && v[i] <= 'Z')
            v[i] = (char)(v[i] + ('a' - 'A'));
    out->value = v;
    return 0;
}

int xg_xlate_string_matcher(xg_xlate *x, const Envoy__Type__Matcher__V3__StringMatcher *pb, xg_string_matcher *out)
{
    memset(out, 0, sizeof(*out));
    if (pb == NULL)
        return xg_xlate_fail(x, "a StringMatcher is required");
    out->ignore_case = pb->ignore_case;
    bool nc = pb->ignore_case;
    switch (pb->match_pattern_case) {
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_EXACT:
        out->kind = XG_STRING_MATCH_EXACT;
        return string_literal(x, "exact", pb->exact, false, nc, out);
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_PREFIX:
        out->kind = XG_STRING_MATCH_PREFIX;
        return string_literal(x, "prefix", pb->prefix, true, nc, out);
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SUFFIX:
        out->kind = XG_STRING_MATCH_SUFFIX;
        return string_literal(x, "suffix", pb->suffix, true, nc, out);
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_CONTAINS:
        out->kind = XG_STRING_MATCH_CONTAINS;
        return string_literal(x, "contains", pb->contains, true, nc, out);
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SAFE_REGEX: {
        out->kind = XG_STRING_MATCH_REGEX;
        size_t mark = xg_xlate_push(x, "safe_regex");
        int rc = xg__xlate_regex(x, pb->safe_regex, &out->regex);
        if (rc == 0)
            xg_xlate_pop(x, mark);
        return rc;
    }
    default:
        return xg_xlate_fail(x, "one of exact, prefix, suffix, contains or safe_regex is required");
    }
}

/* --- durations --- */

int xg__xlate_duration_ms(xg_xlate *x, const char *field, const Google__Protobuf__Duration *pb, uint64_t def,
                          uint64_t *out)
{
    if (pb == NULL) {
        *out = def;
        return 0;
    }
    int rc = 0;
    size_t mark = xg_xlate_push(x, field);
    if (pb->seconds < 0 || pb->nanos < 0)
        rc = xg_xlate_fail(x, "must not be negative");
    else if (pb->seconds > 315576000000LL || pb->nanos > 999999999)
        rc = xg_xlate_fail(x, "out of range");
    else /* Envoy's DurationUtil::durationToMilliseconds truncates sub-millisecond parts */
        *out = (uint64_t)pb->seconds * 1000 + (uint64_t)pb->nanos / 1000000;
    xg_xlate_pop(x, mark);
    return rc;
}

int xg__xlate_duration_ms_pos(xg_xlate *x, const char *field, const Google__Protobuf__Duration *pb, uint64_t def,
                              uint64_t *out)
{
    int rc = xg__xlate_duration_ms(x, field, pb, def, out);
    if (rc == 0 && pb != NULL && *out == 0) {
        size_t mark = xg_xlate_push(x, field);
        rc = xg_xlate_fail(x, "must be at least 1ms");
        xg_xlate_pop(x, mark);
    }
    return rc;
}

/* --- Any, TypedStruct and raw typed configs --- */

static const char *type_name_of(const char *url)
{
    const char *slash = strrchr(url, '/');
    return slash ? slash + 1 : url;
}

const char *xg__any_type_name(const Google__Protobuf__Any *any)
{
    return (any == NULL || any->type_url == NULL) ? "" : type_name_of(any->type_url);
}

static bool is_typed_struct(const char *name)
{
    return strcmp(name, "xds.type.v3.TypedStruct") == 0 || strcmp(name, "udpa.type.v1.TypedStruct") == 0;
}

/* Decodes the TypedStruct wrapper itself (udpa.type.v1 has the same layout). */
static Xds__Type__V3__TypedStruct *typed_struct_unpack(const Google__Protobuf__Any *any)
{
    return xds__type__v3__typed_struct__unpack(NULL, any->value.len, any->value.data);
}

int xg__xlate_unpack(xg_xlate *x, const char *field, const Google__Protobuf__Any *any,
                     const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
    int rc = 0;
    size_t mark = xg_xlate_push(x, field);
    *out = NULL;
    if (any == NULL)
        rc = xg_xlate_fail(x, "required (a %s)", d->name);
    else if (strcmp(xg__any_type_name(any), d->name) != 0)
        rc = xg_xlate_fail(x, "expected type %s, got \"%s\"", d->name, any->type_url);
    else if ((*out = protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data)) == NULL)
        rc = xg_xlate_fail(x, "%s does not decode", d->name);
    xg_xlate_pop(x, mark);
    return rc;
}

/* TypedStruct.value (a Struct) -> proto3 JSON -> a message of type d: the
 * JSON codec is strict, so an unknown field is an error here too. */
static int typed_struct_decode(xg_xlate *x, const Xds__Type__V3__TypedStruct *ts, const ProtobufCMessageDescriptor *d,
                               ProtobufCMessage **out)
{
    char err[256];
    xg_buf json;
    xg_buf_init(&json);
    int rc = 0;
    if (ts->value != NULL)
        rc = xg_pbjson_write(&ts->value->base, XG_PBJSON_PROTO_NAMES, &json, err, sizeof(err));
    else
        rc = xg_buf_puts(&json, "{}");
    if (rc == 0)
        rc = xg_pbjson_parse(d, json.data, json.len, out, err, sizeof(err));
    if (rc == XG_EINVAL)
        rc = xg_xlate_fail(x, "TypedStruct value does not decode as %s: %s", d->name, err);
    xg_buf_dispose(&json);
    return rc;
}

int xg__xlate_unpack_typed(xg_xlate *x, const char *field, const Google__Protobuf__Any *any,
                           const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
    if (any == NULL || !is_typed_struct(xg__any_type_name(any)))
        return xg__xlate_unpack(x, field, any, d, out);
    int rc = 0;
    size_t mark = xg_xlate_push(x, field);
    Xds__Type__V3__TypedStruct *ts = typed_struct_unpack(any);
    *out = NULL;
    if (ts == NULL)
        rc = xg_xlate_fail(x, "TypedStruct does not decode");
    else if (strcmp(type_name_of(ts->type_url), d->name) != 0)
        rc = xg_xlate_fail(x, "TypedStruct: expected type %s, got \"%s\"", d->name, ts->type_url);
    else
        rc = typed_struct_decode(x, ts, d, out);
    if (ts != NULL)
        xds__type__v3__typed_struct__free_unpacked(ts, NULL);
    xg_xlate_pop(x, mark);
    return rc;
}

/* The effective type of an extension config: a TypedStruct's inner type_url
 * (copied to the arena), else the Any's. NULL on ENOMEM or bad TypedStruct. */
static const char *effective_url(xg_xlate *x, const Google__Protobuf__Any *any, int *rc)
{
    if (!is_typed_struct(xg__any_type_name(any)))
        return xg_xlate_strdup(x, any->type_url);
    Xds__Type__V3__TypedStruct *ts = typed_struct_unpack(any);
    if (ts == NULL) {
        *rc = xg_xlate_fail(x, "TypedStruct does not decode");
        return NULL;
    }
    const char *url = xg_xlate_strdup(x, ts->type_url);
    xds__type__v3__typed_struct__free_unpacked(ts, NULL);
    return url;
}

const char *xg__xlate_effective_type(xg_xlate *x, const Google__Protobuf__Any *any, int *rc)
{
    *rc = XG_ENOMEM;
    const char *url = effective_url(x, any, rc);
    if (url != NULL)
        *rc = 0;
    return url ? type_name_of(url) : NULL;
}

/* Serializes m into the arena as out's value. */
static int pack_into(xg_xlate *x, const ProtobufCMessage *m, xg_typed_config *out)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = xg_xlate_alloc(x, len ? len : 1);
    if (buf == NULL)
        return XG_ENOMEM;
    protobuf_c_message_pack(m, buf);
    out->value = buf;
    out->len = len;
    return 0;
}

int xg__xlate_typed_config(xg_xlate *x, const char *key, const Google__Protobuf__Any *any, xg_typed_config *out)
{
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (key != NULL && (out->key = xg_xlate_strdup(x, key)) == NULL)
        return XG_ENOMEM;
    out->type_url = effective_url(x, any, &rc);
    if (out->type_url == NULL)
        return rc < 0 ? rc : XG_ENOMEM;
    out->type_name = type_name_of(out->type_url);
    if (!is_typed_struct(xg__any_type_name(any))) {
        out->value = xg_arena_memdup(&x->res->arena, any->value.data, any->value.len);
        out->len = any->value.len;
        return out->value || any->value.len == 0 ? 0 : XG_ENOMEM;
    }
    /* A TypedStruct of a type xdsgate knows becomes that type's binary form. */
    const ProtobufCMessageDescriptor *d = xg_pb_find_type(out->type_name);
    ProtobufCMessage *m = NULL;
    if (d == NULL)
        return 0; /* unknown type: the caller decides (NACK or optional) */
    if ((rc = xg__xlate_unpack_typed(x, "typed_config", any, d, &m)) == 0)
        rc = pack_into(x, m, out);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* --- CIDR ranges --- */

int xg__xlate_cidr(xg_xlate *x, const Envoy__Config__Core__V3__CidrRange *pb, xg_cidr *out)
{
    memset(out, 0, sizeof(*out));
    unsigned len = pb->prefix_len ? pb->prefix_len->value : 0;
    if (inet_pton(AF_INET, pb->address_prefix, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, pb->address_prefix, out->addr) == 1)
        out->family = AF_INET6;
    else
        return xg__fail_at(x, "address_prefix", "\"%s\" is not an IPv4 or IPv6 address", pb->address_prefix);
    unsigned max = out->family == AF_INET ? 32 : 128;
    if (len > max)
        return xg__fail_at(x, "prefix_len", "%u is more than %u for %s", len, max, pb->address_prefix);
    out->prefix_len = (uint8_t)len;
    for (unsigned bit = len; bit < max; bit++) /* as Envoy: host bits are cleared, not rejected */
        out->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    return 0;
}

int xg__xlate_cidrs(xg_xlate *x, const char *field, Envoy__Config__Core__V3__CidrRange *const *pb, size_t n,
                    const xg_cidr **out, size_t *n_out)
{
    xg_cidr *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = xg__xlate_cidr(x, pb[i], &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    *out = v;
    *n_out = n;
    return 0;
}

int xg__xlate_regex_rewrite(xg_xlate *x, const Envoy__Type__Matcher__V3__RegexMatchAndSubstitute *pb,
                            xg_regex_rewrite *out)
{
    char why[256];
    size_t mark = xg_xlate_push(x, "pattern");
    int rc = xg__xlate_regex(x, pb->pattern, &out->pattern);
    if (rc < 0)
        return rc;
    xg_xlate_pop(x, mark);
    mark = xg_xlate_push(x, "substitution");
    if (strpbrk(pb->substitution, "\r\n") != NULL)
        return xg_xlate_fail(x, "must not contain CR or LF");
    if (xg_regex_check_rewrite(out->pattern, pb->substitution, why, sizeof(why)) < 0)
        return xg_xlate_fail(x, "\"%s\": %s", pb->substitution, why);
    xg_xlate_pop(x, mark);
    out->substitution = xg_xlate_strdup(x, pb->substitution);
    return out->substitution ? 0 : XG_ENOMEM;
}

int xg__fail_at(xg_xlate *x, const char *field, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    xg_xlate_push(x, field);
    return xg_xlate_fail(x, "%s", reason);
}

int xg__warn(xg_xlate *x, xg__warnings *w, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    xg__warning *item = xg_xlate_alloc(x, sizeof(*item));
    size_t plen = x->path.path.len;
    char *text = item ? xg_xlate_alloc(x, plen + strlen(reason) + 3) : NULL;
    if (text == NULL)
        return XG_ENOMEM;
    if (plen > 0)
        sprintf(text, "%.*s: %s", (int)plen, x->path.path.data, reason);
    else
        strcpy(text, reason);
    item->text = text;
    *(w->tail ? w->tail : &w->head) = item;
    w->tail = &item->next;
    w->n++;
    return 0;
}

/* --- name sets --- */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int nameset_grow(xg__nameset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    const char **slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i] == NULL)
            continue;
        size_t k = name_hash(s->slots[i]) & (cap - 1);
        while (slots[k] != NULL)
            k = (k + 1) & (cap - 1);
        slots[k] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int xg__nameset_add(xg__nameset *s, const char *name)
{
    if (2 * (s->n + 1) > s->cap && nameset_grow(s) < 0)
        return XG_ENOMEM;
    size_t k = name_hash(name) & (s->cap - 1);
    for (; s->slots[k] != NULL; k = (k + 1) & (s->cap - 1))
        if (strcmp(s->slots[k], name) == 0)
            return 0;
    s->slots[k] = name;
    s->n++;
    return 1;
}

void xg__nameset_dispose(xg__nameset *s)
{
    free(s->slots);
    memset(s, 0, sizeof(*s));
}
