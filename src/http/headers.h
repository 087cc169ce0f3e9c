/* The header block of one request, response or trailer section, shared by
 * both codecs, the connection manager, filters and the router: pseudo-headers
 * as fields, regular headers as (lowercase name, value) slices in order, with
 * a well-known-name id per entry so the hot lookups (host, content-length,
 * connection, te, ...) are integer compares.
 *
 * Ownership: an xg_headers lives in (and allocates from) one per-stream arena;
 * every name and value it points to lives at least as long as that arena:
 * bytes the *_copy functions copied into it, or memory the caller promises
 * outlives it (string literals, the config snapshot the stream holds a
 * reference to). Nothing is ever freed one by one: removal just unlinks.
 * Single-threaded (the worker that owns the stream). */
#ifndef XG_HTTP_HEADERS_H
#define XG_HTTP_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

/* A borrowed byte slice; not NUL-terminated unless said so. */
typedef struct xg_hstr {
    const char *s;
    uint32_t len;
} xg_hstr;

typedef enum xg_method {
    XG_METHOD_NONE = 0, /* no :method (responses, trailers) */
    XG_METHOD_OTHER,    /* an extension method: read the text in xg_headers.method */
    XG_METHOD_GET,
    XG_METHOD_HEAD,
    XG_METHOD_POST,
    XG_METHOD_PUT,
    XG_METHOD_DELETE,
    XG_METHOD_CONNECT,
    XG_METHOD_OPTIONS,
    XG_METHOD_TRACE,
    XG_METHOD_PATCH,
} xg_method;

/* Interned names: the headers the proxy itself reads or writes. XG_HDR_OTHER
 * for everything else. Ids are assigned on insert from the (lowercase) name. */
typedef enum xg_hdr_id {
    XG_HDR_OTHER = 0,
    XG_HDR_HOST,
    XG_HDR_CONTENT_LENGTH,
    XG_HDR_TRANSFER_ENCODING,
    XG_HDR_CONNECTION,
    XG_HDR_KEEP_ALIVE,
    XG_HDR_PROXY_CONNECTION,
    XG_HDR_UPGRADE,
    XG_HDR_TE,
    XG_HDR_TRAILER,
    XG_HDR_EXPECT,
    XG_HDR_CONTENT_TYPE,
    XG_HDR_COOKIE,
    XG_HDR_DATE,
    XG_HDR_SERVER,
    XG_HDR_VIA,
    XG_HDR_USER_AGENT,
    XG_HDR_X_FORWARDED_FOR,
    XG_HDR_X_FORWARDED_PROTO,
    XG_HDR_X_FORWARDED_PORT,
    XG_HDR_X_REQUEST_ID,
    XG_HDR_X_ENVOY_ORIGINAL_PATH,
    XG_HDR_GRPC_STATUS,
    XG_HDR_GRPC_MESSAGE,
    XG_HDR_GRPC_TIMEOUT,
    XG_HDR_HTTP2_SETTINGS,
    XG_HDR_COUNT,
} xg_hdr_id;

/* Envoy's HeaderValueOption.append_action, same order as config/route.h's
 * xg_header_append (headers.c checks this at compile time), so the router can
 * cast. APPEND adds another entry after the existing ones (on the wire: a
 * second line / HPACK field, which HTTP treats as the comma-joined list). */
typedef enum xg_hdr_action {
    XG_HDR_APPEND_IF_EXISTS_OR_ADD,
    XG_HDR_ADD_IF_ABSENT,
    XG_HDR_OVERWRITE_IF_EXISTS_OR_ADD,
    XG_HDR_OVERWRITE_IF_EXISTS,
} xg_hdr_action;

/* One regular header. name is lowercase, never starts with ':'. */
typedef struct xg_header {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
    uint16_t id;    /* xg_hdr_id */
    uint16_t flags; /* XG_HDR_F_* */
} xg_header;

/* HTTP/2: send as "never indexed" (authorization, cookies the owner marks). */
#define XG_HDR_F_SENSITIVE 0x1
/* The name is a token and the value passes xg_hdr_value_ok: the codec that
 * received the entry checked both (xg_headers_add_valid), so a writer need not
 * check them again. Cleared when the value is replaced. (An entry with an
 * interned id needs no name check either: its name is the interned one.) */
#define XG_HDR_F_VALID 0x2

typedef struct xg_headers {
    xg_arena *arena; /* borrowed: the stream's arena, for copies and growth */
    xg_header *v;    /* n entries in wire order */
    uint32_t n;
    uint32_t cap;
    /* Sum of name and value lengths of every entry plus pseudo-header names
     * and values, as HTTP/2 counts header list size minus its per-field 32
     * bytes: what max_request_headers_kb is checked against. */
    uint32_t bytes;
    /* A bit per name ever added (a hash of length and last byte, any
     * case): a lookup by a name whose bit is clear needs neither its
     * interned id nor a scan. Removal leaves bits set (a wasted scan, never
     * a missed entry). */
    uint64_t other_names;
    /* Requests. Empty (len 0, s NULL) when absent. HTTP/1 maps the request
     * line and Host: method, path (origin-form or "*"), authority = Host (or
     * the absolute-form URI's authority), scheme = the absolute-form URI's
     * scheme or empty (the HCM fills it from the transport). */
    xg_hstr method;
    xg_hstr scheme;
    xg_hstr authority;
    xg_hstr path;
    xg_hstr protocol; /* HTTP/2 extended CONNECT :protocol (RFC 8441) */
    xg_method method_id;
    /* Responses: 100..999; 0 for requests and trailers. */
    uint16_t status;
    /* Version of the message as received: 10, 11 or 20; 0 when built locally. */
    uint8_t version;
} xg_headers;

/* Starts empty; allocates from a only when entries are added. */
void xg_headers_init(xg_headers *h, xg_arena *a);
/* A new empty block in a; NULL on allocation failure. Owned by a. */
xg_headers *xg_headers_new(xg_arena *a);
/* A deep copy of src into a (names and values copied); NULL on failure. */
xg_headers *xg_headers_clone(xg_arena *a, const xg_headers *src);
/* Empties the block (entries and pseudo-headers); keeps the arena. */
void xg_headers_clear(xg_headers *h);

/* Appends an entry. _copy copies name (lowercased) and value into the arena;
 * _ref borrows both (name must already be lowercase, both must outlive the
 * arena). Neither checks validity: codecs validate what they receive, config
 * validation covers what the router adds. 0 or XG_ENOMEM. */
int xg_headers_add_copy(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen);
int xg_headers_add_ref(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen);
/* xg_headers_add_copy for a field the caller has just checked with
 * xg_hdr_is_token and xg_hdr_value_ok: the entry carries XG_HDR_F_VALID. */
int xg_headers_add_valid(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen);

/* Index of the first entry named name (case-insensitive) at or after from, or
 * -1. Loop over duplicates with from = previous + 1. */
int xg_headers_find(const xg_headers *h, const char *name, size_t nlen, int from);
/* Same by interned id (id != XG_HDR_OTHER). */
int xg_headers_find_id(const xg_headers *h, xg_hdr_id id, int from);
/* The first entry with that name / id, or NULL. Borrowed from h. */
const xg_header *xg_headers_get(const xg_headers *h, const char *name, size_t nlen);
const xg_header *xg_headers_get_id(const xg_headers *h, xg_hdr_id id);
/* Number of entries with that name. */
size_t xg_headers_count(const xg_headers *h, const char *name, size_t nlen);

/* Removes every entry with that name / id, keeping the others' order.
 * Returns how many were removed. */
size_t xg_headers_remove(xg_headers *h, const char *name, size_t nlen);
size_t xg_headers_remove_id(xg_headers *h, xg_hdr_id id);
/* Removes every entry whose id is in mask (bit 1u << id; XG_HDR_OTHER is
 * never removed this way), keeping the others' order, in one pass. Returns
 * how many were removed. */
size_t xg_headers_remove_ids(xg_headers *h, uint32_t mask);
#define XG_HDR_BIT(id) (1u << (id))
/* Removes the entry at index i (0 <= i < n). */
void xg_headers_remove_at(xg_headers *h, uint32_t i);

/* Replaces all entries with that name by one (in the first one's place), or
 * appends one when absent. copy: as in add_copy vs add_ref. 0 or XG_ENOMEM. */
int xg_headers_set(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen, bool copy);
/* xg_headers_set for an interned name (id != XG_HDR_OTHER): no lookup of
 * the name's id. */
int xg_headers_set_id(xg_headers *h, xg_hdr_id id, const char *value, size_t vlen, bool copy);
/* Envoy's append_action on this block (route/vhost/route-config header
 * mutations). Returns 0 or XG_ENOMEM; 0 also when the action did nothing
 * (ADD_IF_ABSENT on a present header, OVERWRITE_IF_EXISTS on an absent one). */
int xg_headers_apply(xg_headers *h, xg_hdr_action action, const char *name, size_t nlen, const char *value, size_t vlen,
                     bool copy);

/* Sets a pseudo-header by name (":method", ":scheme", ":authority", ":path",
 * ":protocol" or ":status"), copying the value into the arena. Updates
 * method_id / status. XG_EINVAL for another name or a bad :status, XG_ENOMEM. */
int xg_headers_set_pseudo(xg_headers *h, const char *name, size_t nlen, const char *value, size_t vlen);
/* Sets one pseudo field, copying the value (a pointer to one of method,
 * scheme, authority, path, protocol of h). Keeps bytes in step. */
int xg_headers_set_field(xg_headers *h, xg_hstr *field, const char *value, size_t vlen);

/* The interned id of a name, ASCII case-insensitive (XG_HDR_OTHER if not
 * interned). */
xg_hdr_id xg_hdr_id_of(const char *name, size_t nlen);
/* The canonical lowercase name of an interned id; "" for XG_HDR_OTHER. */
const char *xg_hdr_name(xg_hdr_id id);
/* The method enum for a method token (case-sensitive, as HTTP requires). */
xg_method xg_method_parse(const char *s, size_t n);
/* The method token for an enum value; NULL for NONE and OTHER. */
const char *xg_method_name(xg_method m);

/* True when a and b are equal ignoring ASCII case. */
bool xg_hdr_name_eq(const char *a, size_t alen, const char *b, size_t blen);
/* RFC 9110 token (header names, methods) and field-value checks: a value may
 * hold any byte but NUL, CR and LF (and no leading/trailing whitespace
 * after the codec trimmed it; not checked here). */
bool xg_hdr_is_token(const char *s, size_t n);
bool xg_hdr_value_ok(const char *s, size_t n);

/* Writes v in decimal to out (XG_HDR_U64_MAX bytes: 20 digits and a NUL),
 * for header values the proxy sets per request (snprintf costs ~10 times
 * more). Returns the number of digits. */
#define XG_HDR_U64_MAX 21
size_t xg_hdr_u64(char out[XG_HDR_U64_MAX], uint64_t v);

/* True when the comma-separated list value contains token tok (ASCII case
 * insensitive, OWS trimmed): "keep-alive, Upgrade" has "upgrade". */
bool xg_hdr_list_has(const char *value, size_t vlen, const char *tok, size_t tlen);

#endif
