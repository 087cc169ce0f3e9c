/* Header blocks in a per-stream arena: an ordered entry array that grows by
 * doubling (the old array stays in the arena until the stream ends), linear
 * lookups over interned ids or lowercase names (blocks are small: at most
 * max_headers_count entries from a peer). */
#include <string.h>

#include "config/route.h"
#include "core/error.h"
#include "http/headers.h"

_Static_assert((int)XG_HDR_APPEND_IF_EXISTS_OR_ADD == (int)XG_HEADER_APPEND_IF_EXISTS_OR_ADD &&
                   (int)XG_HDR_ADD_IF_ABSENT == (int)XG_HEADER_ADD_IF_ABSENT &&
                   (int)XG_HDR_OVERWRITE_IF_EXISTS_OR_ADD == (int)XG_HEADER_OVERWRITE_IF_EXISTS_OR_ADD &&
                   (int)XG_HDR_OVERWRITE_IF_EXISTS == (int)XG_HEADER_OVERWRITE_IF_EXISTS,
               "xg_hdr_action must mirror xg_header_append");

#define FIRST_CAP 16

static const char *const hdr_names[XG_HDR_COUNT] = {
    [XG_HDR_OTHER] = "",
    [XG_HDR_HOST] = "host",
    [XG_HDR_CONTENT_LENGTH] = "content-length",
    [XG_HDR_TRANSFER_ENCODING] = "transfer-encoding",
    [XG_HDR_CONNECTION] = "connection",
    [XG_HDR_KEEP_ALIVE] = "keep-alive",
    [XG_HDR_PROXY_CONNECTION] = "proxy-connection",
    [XG_HDR_UPGRADE] = "upgrade",
    [XG_HDR_TE] = "te",
    [XG_HDR_TRAILER] = "trailer",
    [XG_HDR_EXPECT] = "expect",
    [XG_HDR_CONTENT_TYPE] = "content-type",
    [XG_HDR_COOKIE] = "cookie",
    [XG_HDR_DATE] = "date",
    [XG_HDR_SERVER] = "server",
    [XG_HDR_VIA] = "via",
    [XG_HDR_USER_AGENT] = "user-agent",
    [XG_HDR_X_FORWARDED_FOR] = "x-forwarded-for",
    [XG_HDR_X_FORWARDED_PROTO] = "x-forwarded-proto",
    [XG_HDR_X_FORWARDED_PORT] = "x-forwarded-port",
    [XG_HDR_X_REQUEST_ID] = "x-request-id",
    [XG_HDR_X_ENVOY_ORIGINAL_PATH] = "x-envoy-original-path",
    [XG_HDR_GRPC_STATUS] = "grpc-status",
    [XG_HDR_GRPC_MESSAGE] = "grpc-message",
    [XG_HDR_GRPC_TIMEOUT] = "grpc-timeout",
    [XG_HDR_HTTP2_SETTINGS] = "http2-settings",
};

static const char *const method_names[] = {
    [XG_METHOD_GET] = "GET",         [XG_METHOD_HEAD] = "HEAD",     [XG_METHOD_POST] = "POST",
    [XG_METHOD_PUT] = "PUT",         [XG_METHOD_DELETE] = "DELETE", [XG_METHOD_CONNECT] = "CONNECT",
    [XG_METHOD_OPTIONS] = "OPTIONS", [XG_METHOD_TRACE] = "TRACE",   [XG_METHOD_PATCH] = "PATCH",
};

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

bool xg_hdr_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

xg_hdr_id xg_hdr_id_of(const char *name, size_t nlen)
{
    /* Names are short and the table small; the length test rejects most. */
    for (int id = 1; id < XG_HDR_COUNT; id++) {
        const char *s = hdr_names[id];
        if (strlen(s) == nlen && memcmp(s, name, nlen) == 0)
            return (xg_hdr_id)id;
    }
    return XG_HDR_OTHER;
}

const char *xg_hdr_name(xg_hdr_id id)
{
    return (id > XG_HDR_OTHER && id < XG_HDR_COUNT) ? hdr_names[id] : "";
}

xg_method xg_method_parse(const char *s, size_t n)
{
    for (size_t m = XG_METHOD_GET; m < sizeof method_names / sizeof method_names[0]; m++)
        if (strlen(method_names[m]) == n && memcmp(method_names[m], s, n) == 0)
            return (xg_method)m;
    return n == 0 ? XG_METHOD_NONE : XG_METHOD_OTHER;
}

const char *xg_method_name(xg_method m)
{
    return (m >= XG_METHOD_GET && m <= XG_METHOD_PATCH) ? method_names[m] : NULL;
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool xg_hdr_is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

bool xg_hdr_value_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
            return false;
    return true;
}

bool xg_hdr_list_has(const char *v, size_t vlen, const char *tok, size_t tlen)
{
    size_t i = 0;
    while (i < vlen) {
        size_t start, end;
        while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        start = i;
        while (i < vlen && v[i] != ',')
            i++;
        end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end > start && xg_hdr_name_eq(v + start, end - start, tok, tlen))
            return true;
    }
    return false;
}

void xg_headers_init(xg_headers *h, xg_arena *a)
{
    memset(h, 0, sizeof *h);
    h->arena = a;
}

xg_headers *xg_headers_new(xg_arena *a)
{
    xg_headers *h = xg_arena_alloc(a, sizeof *h);
    if (h != NULL)
        xg_headers_init(h, a);
    return h;
}

void xg_headers_clear(xg_headers *h)
{
    xg_arena *a = h->arena;
    xg_header *v = h->v;
    uint32_t cap = h->cap;
    xg_headers_init(h, a);
    h->v = v;
    h->cap = cap;
}

static int grow(xg_headers *h)
{
    uint32_t cap = h->cap ? h->cap * 2 : FIRST_CAP;
    xg_header *v = xg_arena_calloc(h->arena, cap, sizeof *v);
    if (v == NULL)
        return XG_ENOMEM;
    if (h->n > 0)
        memcpy(v, h->v, h->n * sizeof *v);
    h->v = v;
    h->cap = cap;
    return 0;
}

static int push(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (nlen > UINT32_MAX || vlen > UINT32_MAX)
        return XG_EINVAL;
    if (h->n == h->cap && grow(h) != 0)
        return XG_ENOMEM;
    xg_header *e = &h->v[h->n++];
    e->name = name;
    e->value = value;
    e->name_len = (uint32_t)nlen;
    e->value_len = (uint32_t)vlen;
    e->id = (uint16_t)xg_hdr_id_of(name, nlen);
    e->flags = 0;
    h->bytes += (uint32_t)(nlen + vlen);
    return 0;
}

int xg_headers_add_ref(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    return push(h, name, nlen, value, vlen);
}

int xg_headers_add_copy(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    char *n = xg_arena_alloc(h->arena, nlen + vlen + 2);
    if (n == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < nlen; i++)
        n[i] = (char)lower((unsigned char)name[i]);
    n[nlen] = '\0';
    char *v = n + nlen + 1;
    if (vlen > 0)
        memcpy(v, value, vlen);
    v[vlen] = '\0';
    return push(h, n, nlen, v, vlen);
}

int xg_headers_find(const xg_headers *h, const char *name, size_t nlen, int from)
{
    for (uint32_t i = from < 0 ? 0 : (uint32_t)from; i < h->n; i++)
        if (xg_hdr_name_eq(h->v[i].name, h->v[i].name_len, name, nlen))
            return (int)i;
    return -1;
}

int xg_headers_find_id(const xg_headers *h, xg_hdr_id id, int from)
{
    for (uint32_t i = from < 0 ? 0 : (uint32_t)from; i < h->n; i++)
        if (h->v[i].id == id)
            return (int)i;
    return -1;
}

const xg_header *xg_headers_get(const xg_headers *h, const char *name, size_t nlen)
{
    int i = xg_headers_find(h, name, nlen, 0);
    return i < 0 ? NULL : &h->v[i];
}

const xg_header *xg_headers_get_id(const xg_headers *h, xg_hdr_id id)
{
    int i = xg_headers_find_id(h, id, 0);
    return i < 0 ? NULL : &h->v[i];
}

size_t xg_headers_count(const xg_headers *h, const char *name, size_t nlen)
{
    size_t k = 0;
    for (int i = xg_headers_find(h, name, nlen, 0); i >= 0; i = xg_headers_find(h, name, nlen, i + 1))
        k++;
    return k;
}

void xg_headers_remove_at(xg_headers *h, uint32_t i)
{
    if (i >= h->n)
        return;
    h->bytes -= h->v[i].name_len + h->v[i].value_len;
    memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) * sizeof h->v[0]);
    h->n--;
}

size_t xg_headers_remove(xg_headers *h, const char *name, size_t nlen)
{
    size_t k = 0;
    for (int i = xg_headers_find(h, name, nlen, 0); i >= 0; i = xg_headers_find(h, name, nlen, i), k++)
        xg_headers_remove_at(h, (uint32_t)i);
    return k;
}

size_t xg_headers_remove_id(xg_headers *h, xg_hdr_id id)
{
    size_t k = 0;
    for (int i = xg_headers_find_id(h, id, 0); i >= 0; i = xg_headers_find_id(h, id, i), k++)
        xg_headers_remove_at(h, (uint32_t)i);
    return k;
}

/* Points entry i at a new value (copied or borrowed), keeping bytes in step. */
static int replace_value(xg_headers *h, uint32_t i, const char *value, size_t vlen, bool copy)
{
    if (copy) {
        value = xg_arena_strndup(h->arena, value, vlen);
        if (value == NULL)
            return XG_ENOMEM;
    }
    h->bytes = h->bytes - h->v[i].value_len + (uint32_t)vlen;
    h->v[i].value = value;
    h->v[i].value_len = (uint32_t)vlen;
    return 0;
}

int xg_headers_set(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen, bool copy)
{
    int first = xg_headers_find(h, name, nlen, 0);
    if (first < 0)
        return copy ? xg_headers_add_copy(h, name, nlen, value, vlen) : xg_headers_add_ref(h, name, nlen, value, vlen);
    for (int i = xg_headers_find(h, name, nlen, first + 1); i >= 0; i = xg_headers_find(h, name, nlen, i))
        xg_headers_remove_at(h, (uint32_t)i);
    return replace_value(h, (uint32_t)first, value, vlen, copy);
}

int xg_headers_apply(xg_headers *h, xg_hdr_action action, const char *name, size_t nlen, const char *value, size_t vlen,
                     bool copy)
{
    bool present = xg_headers_find(h, name, nlen, 0) >= 0;
    switch (action) {
    case XG_HDR_APPEND_IF_EXISTS_OR_ADD:
        break;
    case XG_HDR_ADD_IF_ABSENT:
        if (present)
            return 0;
        break;
    case XG_HDR_OVERWRITE_IF_EXISTS:
        if (!present)
            return 0;
        /* fall through */
    case XG_HDR_OVERWRITE_IF_EXISTS_OR_ADD:
        return xg_headers_set(h, name, nlen, value, vlen, copy);
    }
    return copy ? xg_headers_add_copy(h, name, nlen, value, vlen) : xg_headers_add_ref(h, name, nlen, value, vlen);
}

int xg_headers_set_field(xg_headers *h, xg_hstr *field, const char *value, size_t vlen)
{
    char *s = xg_arena_strndup(h->arena, value, vlen);
    if (s == NULL)
        return XG_ENOMEM;
    h->bytes = h->bytes - field->len + (uint32_t)vlen;
    field->s = s;
    field->len = (uint32_t)vlen;
    if (field == &h->method)
        h->method_id = xg_method_parse(s, vlen);
    return 0;
}

/* ":status" must be three digits 100..999. */
static int set_status(xg_headers *h, const char *v, size_t n)
{
    if (n != 3 || v[0] < '1' || v[0] > '9' || v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9')
        return XG_EINVAL;
    h->status = (uint16_t)((v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0'));
    h->bytes += (uint32_t)(sizeof ":status" - 1 + n);
    return 0;
}

int xg_headers_set_pseudo(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {":method", offsetof(xg_headers, method)},       {":scheme", offsetof(xg_headers, scheme)},
        {":authority", offsetof(xg_headers, authority)}, {":path", offsetof(xg_headers, path)},
        {":protocol", offsetof(xg_headers, protocol)},
    };
    if (nlen == 7 && memcmp(name, ":status", 7) == 0)
        return set_status(h, value, vlen);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strlen(fields[i].name) != nlen || memcmp(fields[i].name, name, nlen) != 0)
            continue;
        xg_hstr *f = (xg_hstr *)((char *)h + fields[i].off);
        h->bytes += (uint32_t)(f->s == NULL ? nlen : 0);
        return xg_headers_set_field(h, f, value, vlen);
    }
    return XG_EINVAL;
}

static int clone_field(xg_arena *a, xg_hstr *dst, const xg_hstr *src)
{
    *dst = *src;
    if (src->s == NULL)
        return 0;
    dst->s = xg_arena_strndup(a, src->s, src->len);
    return dst->s == NULL ? XG_ENOMEM : 0;
}

xg_headers *xg_headers_clone(xg_arena *a, const xg_headers *src)
{
    xg_headers *h = xg_headers_new(a);
    if (h == NULL)
        return NULL;
    for (uint32_t i = 0; i < src->n; i++) {
        const xg_header *e = &src->v[i];
        if (xg_headers_add_copy(h, e->name, e->name_len, e->value, e->value_len) != 0)
            return NULL;
        h->v[h->n - 1].flags = e->flags;
    }
    if (clone_field(a, &h->method, &src->method) != 0 || clone_field(a, &h->scheme, &src->scheme) != 0 ||
        clone_field(a, &h->authority, &src->authority) != 0 || clone_field(a, &h->path, &src->path) != 0 ||
        clone_field(a, &h->protocol, &src->protocol) != 0)
        return NULL;
    h->method_id = src->method_id;
    h->status = src->status;
    h->version = src->version;
    h->bytes = src->bytes;
    return h;
}
