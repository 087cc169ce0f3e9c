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

/* Interned ids by name length (0-terminated lists), for xg_hdr_id_of; a
 * unit test checks every name in hdr_names is found through it. */
static const uint8_t hdr_by_len[22][6] = {
    [2] = {XG_HDR_TE},
    [3] = {XG_HDR_VIA},
    [4] = {XG_HDR_HOST, XG_HDR_DATE},
    [6] = {XG_HDR_EXPECT, XG_HDR_COOKIE, XG_HDR_SERVER},
    [7] = {XG_HDR_UPGRADE, XG_HDR_TRAILER},
    [10] = {XG_HDR_CONNECTION, XG_HDR_KEEP_ALIVE, XG_HDR_USER_AGENT},
    [11] = {XG_HDR_GRPC_STATUS},
    [12] = {XG_HDR_CONTENT_TYPE, XG_HDR_X_REQUEST_ID, XG_HDR_GRPC_MESSAGE, XG_HDR_GRPC_TIMEOUT},
    [14] = {XG_HDR_CONTENT_LENGTH, XG_HDR_HTTP2_SETTINGS},
    [15] = {XG_HDR_X_FORWARDED_FOR},
    [16] = {XG_HDR_PROXY_CONNECTION, XG_HDR_X_FORWARDED_PORT},
    [17] = {XG_HDR_TRANSFER_ENCODING, XG_HDR_X_FORWARDED_PROTO},
    [21] = {XG_HDR_X_ENVOY_ORIGINAL_PATH},
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

/* xg_hdr_id_of for a name already lowercase (a received name once copied):
 * one memcmp per candidate, no case folding. */
static xg_hdr_id id_of_lower(const char *name, size_t nlen)
{
    if (nlen < 2 || nlen >= sizeof hdr_by_len / sizeof hdr_by_len[0])
        return XG_HDR_OTHER;
    for (const uint8_t *id = hdr_by_len[nlen]; *id != XG_HDR_OTHER; id++) {
        const char *s = hdr_names[*id];
        if (s[0] == name[0] && s[nlen - 1] == name[nlen - 1] && memcmp(s + 1, name + 1, nlen - 2) == 0)
            return (xg_hdr_id)*id;
    }
    return XG_HDR_OTHER;
}

xg_hdr_id xg_hdr_id_of(const char *name, size_t nlen)
{
    /* Called for every header pushed and every lookup by name: the length
     * and first byte reject almost every candidate before a compare. */
    if (nlen < 2 || nlen >= sizeof hdr_by_len / sizeof hdr_by_len[0])
        return XG_HDR_OTHER;
    unsigned char c0 = lower((unsigned char)name[0]), cz = lower((unsigned char)name[nlen - 1]);
    for (const uint8_t *id = hdr_by_len[nlen]; *id != XG_HDR_OTHER; id++) {
        const char *s = hdr_names[*id];
        /* Names are nearly always lowercase already: memcmp first. */
        if ((unsigned char)s[0] == c0 && (unsigned char)s[nlen - 1] == cz &&
            (memcmp(s + 1, name + 1, nlen - 1) == 0 || xg_hdr_name_eq(s + 1, nlen - 1, name + 1, nlen - 1)))
            return (xg_hdr_id)*id;
    }
    return XG_HDR_OTHER;
}

const char *xg_hdr_name(xg_hdr_id id)
{
    return (id > XG_HDR_OTHER && id < XG_HDR_COUNT) ? hdr_names[id] : "";
}

xg_method xg_method_parse(const char *s, size_t n)
{
    static const uint8_t lens[] = {[XG_METHOD_GET] = 3,     [XG_METHOD_HEAD] = 4,   [XG_METHOD_POST] = 4,
                                   [XG_METHOD_PUT] = 3,     [XG_METHOD_DELETE] = 6, [XG_METHOD_CONNECT] = 7,
                                   [XG_METHOD_OPTIONS] = 7, [XG_METHOD_TRACE] = 5,  [XG_METHOD_PATCH] = 5};
    for (size_t m = XG_METHOD_GET; m < sizeof method_names / sizeof method_names[0]; m++)
        if (lens[m] == n && memcmp(method_names[m], s, n) == 0)
            return (xg_method)m;
    return n == 0 ? XG_METHOD_NONE : XG_METHOD_OTHER;
}

const char *xg_method_name(xg_method m)
{
    return (m >= XG_METHOD_GET && m <= XG_METHOD_PATCH) ? method_names[m] : NULL;
}

/* RFC 9110 §5.6.2 tchar, as a table: every header name and method of every
 * message goes through here (received and sent). */
#define T2(c) [c] = 1
static const uint8_t tchar[256] = {
    T2('!'), T2('#'), T2('$'), T2('%'), T2('&'), T2('\''), T2('*'), T2('+'), T2('-'), T2('.'), T2('^'),
    T2('_'), T2('`'), T2('|'), T2('~'), T2('0'), T2('1'),  T2('2'), T2('3'), T2('4'), T2('5'), T2('6'),
    T2('7'), T2('8'), T2('9'), T2('a'), T2('b'), T2('c'),  T2('d'), T2('e'), T2('f'), T2('g'), T2('h'),
    T2('i'), T2('j'), T2('k'), T2('l'), T2('m'), T2('n'),  T2('o'), T2('p'), T2('q'), T2('r'), T2('s'),
    T2('t'), T2('u'), T2('v'), T2('w'), T2('x'), T2('y'),  T2('z'), T2('A'), T2('B'), T2('C'), T2('D'),
    T2('E'), T2('F'), T2('G'), T2('H'), T2('I'), T2('J'),  T2('K'), T2('L'), T2('M'), T2('N'), T2('O'),
    T2('P'), T2('Q'), T2('R'), T2('S'), T2('T'), T2('U'),  T2('V'), T2('W'), T2('X'), T2('Y'), T2('Z'),
};
#undef T2

bool xg_hdr_is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!tchar[(unsigned char)s[i]])
            return false;
    return true;
}

bool xg_hdr_value_ok(const char *s, size_t n)
{
    /* Eight bytes at a time while none is below 0x0e (the classic
     * has-less-than word test): every value of every message, received and
     * sent, is checked here. A word that has one (a tab, or a bad byte) goes
     * through the byte loop below. */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (((w - ones * 0x0e) & ~w & highs) != 0)
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= '\r' && (c == '\0' || c == '\r' || c == '\n'))
            return false;
    }
    return true;
}

size_t xg_hdr_u64(char out[XG_HDR_U64_MAX], uint64_t v)
{
    char tmp[XG_HDR_U64_MAX];
    size_t k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < k; i++)
        out[i] = tmp[k - 1 - i];
    out[k] = '\0';
    return k;
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

/* The bit of a name in xg_headers.other_names. */
static inline uint64_t name_bit(const char *name, size_t nlen)
{
    return nlen == 0 ? 1 : (uint64_t)1 << ((nlen * 7 + lower((unsigned char)name[nlen - 1])) & 63);
}

/* Appends an entry; id is xg_hdr_id_of(name, nlen). */
static int push(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen, xg_hdr_id id)
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
    e->id = (uint16_t)id;
    e->flags = 0;
    h->other_names |= name_bit(name, nlen);
    h->bytes += (uint32_t)(nlen + vlen);
    return 0;
}

int xg_headers_add_ref(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    return push(h, name, nlen, value, vlen, xg_hdr_id_of(name, nlen));
}

/* dst = src lowercased (ASCII), eight bytes at a time: every received
 * header name is copied through here. A byte is an uppercase letter when its
 * low seven bits are in 'A'..'Z' and its top bit is clear; 0x20 is added to
 * those alone. */
static void copy_lower(char *dst, const char *src, size_t n)
{
    const uint64_t highs = 0x8080808080808080ULL, low7 = 0x7f7f7f7f7f7f7f7fULL, ones = 0x0101010101010101ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        uint64_t h7 = w & low7;
        uint64_t ge_a = h7 + ones * (0x80 - 'A'); /* top bit set: >= 'A' */
        uint64_t gt_z = h7 + ones * (0x7f - 'Z'); /* top bit set: > 'Z' */
        uint64_t upper = (ge_a & ~gt_z) & ~w & highs;
        w |= upper >> 2;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = (char)lower((unsigned char)src[i]);
}

/* Copies name (lowercased) and value into the arena; id < 0: worked out
 * from the lowercased copy (received names are often capitalised, and a
 * lowercase compare is the cheap one). */
static int push_copy(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen, int id)
{
    if (nlen > UINT32_MAX || vlen > UINT32_MAX)
        return XG_EINVAL;
    char *n = xg_arena_bytes(h->arena, nlen + vlen + 2);
    if (n == NULL)
        return XG_ENOMEM;
    copy_lower(n, name, nlen);
    n[nlen] = '\0';
    char *v = n + nlen + 1;
    if (vlen > 0)
        memcpy(v, value, vlen);
    v[vlen] = '\0';
    return push(h, n, nlen, v, vlen, id < 0 ? id_of_lower(n, nlen) : (xg_hdr_id)id);
}

int xg_headers_add_copy(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    return push_copy(h, name, nlen, value, vlen, -1);
}

int xg_headers_add_valid(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    int rc = push_copy(h, name, nlen, value, vlen, -1);
    if (rc == 0)
        h->v[h->n - 1].flags = XG_HDR_F_VALID;
    return rc;
}

/* A name looked up: whether its bit is set (taken when the lookup is
 * made: a name whose bit is clear is absent, and its id is never needed
 * unless it is then added), its id worked out once for every pass. */
typedef struct lookup {
    const char *name;
    size_t nlen;
    bool maybe; /* the name's bit is set: it may be there */
    int id;     /* xg_hdr_id, or -1 until needed */
} lookup;

static lookup lookup_of(const xg_headers *h, const char *name, size_t nlen)
{
    bool maybe = (h->other_names & name_bit(name, nlen)) != 0;
    return (lookup){name, nlen, maybe, maybe ? (int)xg_hdr_id_of(name, nlen) : -1};
}

static xg_hdr_id lookup_id(lookup *l)
{
    if (l->id < 0)
        l->id = (int)xg_hdr_id_of(l->name, l->nlen);
    return (xg_hdr_id)l->id;
}

/* A name whose bit is clear is not looked for at all (most x-envoy-*
 * lookups, and interned names a message does not carry); an entry's id is
 * that of its name, so an interned name is an integer compare; any other
 * name is looked for only among XG_HDR_OTHER entries. */
static int find_from(const xg_headers *h, const lookup *k, int from)
{
    if (!k->maybe)
        return -1;
    if (k->id != XG_HDR_OTHER)
        return xg_headers_find_id(h, (xg_hdr_id)k->id, from);
    for (uint32_t i = from < 0 ? 0 : (uint32_t)from; i < h->n; i++)
        if (h->v[i].id == XG_HDR_OTHER && xg_hdr_name_eq(h->v[i].name, h->v[i].name_len, k->name, k->nlen))
            return (int)i;
    return -1;
}

int xg_headers_find(const xg_headers *h, const char *name, size_t nlen, int from)
{
    lookup k = lookup_of(h, name, nlen);
    return find_from(h, &k, from);
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
    lookup l = lookup_of(h, name, nlen);
    size_t k = 0;
    for (int i = find_from(h, &l, 0); i >= 0; i = find_from(h, &l, i + 1))
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
    lookup l = lookup_of(h, name, nlen);
    size_t k = 0;
    for (int i = find_from(h, &l, 0); i >= 0; i = find_from(h, &l, i), k++)
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

_Static_assert(XG_HDR_COUNT <= 32, "xg_headers_remove_ids takes a 32-bit mask of ids");

size_t xg_headers_remove_ids(xg_headers *h, uint32_t mask)
{
    mask &= ~XG_HDR_BIT(XG_HDR_OTHER);
    uint32_t w = 0;
    for (uint32_t r = 0; r < h->n; r++) {
        if (mask & XG_HDR_BIT(h->v[r].id)) {
            h->bytes -= h->v[r].name_len + h->v[r].value_len;
            continue;
        }
        if (w != r)
            h->v[w] = h->v[r];
        w++;
    }
    size_t k = h->n - w;
    h->n = w;
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
    h->v[i].flags &= (uint16_t)~XG_HDR_F_VALID;
    return 0;
}

/* xg_headers_set with the name's lookup already made. */
static int set_with(xg_headers *h, lookup *l, const char *value, size_t vlen, bool copy)
{
    int first = find_from(h, l, 0);
    if (first < 0)
        return copy ? push_copy(h, l->name, l->nlen, value, vlen, lookup_id(l))
                    : push(h, l->name, l->nlen, value, vlen, lookup_id(l));
    for (int i = find_from(h, l, first + 1); i >= 0; i = find_from(h, l, i))
        xg_headers_remove_at(h, (uint32_t)i);
    return replace_value(h, (uint32_t)first, value, vlen, copy);
}

int xg_headers_set(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen, bool copy)
{
    lookup l = lookup_of(h, name, nlen);
    return set_with(h, &l, value, vlen, copy);
}

int xg_headers_set_id(xg_headers *h, xg_hdr_id id, const char *value, size_t vlen, bool copy)
{
    if (id <= XG_HDR_OTHER || id >= XG_HDR_COUNT)
        return XG_EINVAL;
    size_t nlen = strlen(hdr_names[id]);
    lookup l = {hdr_names[id], nlen, (h->other_names & name_bit(hdr_names[id], nlen)) != 0, (int)id};
    return set_with(h, &l, value, vlen, copy);
}

int xg_headers_apply(xg_headers *h, xg_hdr_action action, const char *name, size_t nlen, const char *value, size_t vlen,
                     bool copy)
{
    lookup l = lookup_of(h, name, nlen);
    bool present = find_from(h, &l, 0) >= 0;
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
        return set_with(h, &l, value, vlen, copy);
    }
    return copy ? push_copy(h, name, nlen, value, vlen, lookup_id(&l))
                : push(h, name, nlen, value, vlen, lookup_id(&l));
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
