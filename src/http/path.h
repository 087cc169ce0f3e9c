/* Request path handling as Envoy's HTTP connection manager does it, before
 * any filter or the router sees the path: fragment rejection,
 * path_with_escaped_slashes_action, normalize_path (Envoy's RFC 3986
 * canonicalisation: "." and ".." segments, "%2e" dots, percent-decoding of
 * unreserved characters, backslash to slash, escaping of characters that are
 * not allowed in a path) and merge_slashes; plus the path/query split every
 * other layer uses. Pure functions; results live in the caller's arena
 * (the stream's) or point into the input. */
#ifndef XG_HTTP_PATH_H
#define XG_HTTP_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "config/hcm.h"
#include "core/arena.h"
#include "http/headers.h"

/* What the connection manager must do with the request after sanitising. */
typedef enum xg_path_verdict {
    XG_PATH_CONTINUE, /* use the (possibly rewritten) path */
    XG_PATH_REJECT,   /* 400, nothing forwarded (Envoy: downstream_rq_failed_path_normalization) */
    /* 307 with "location: <the rewritten path>" (UNESCAPE_AND_REDIRECT found an
     * escaped slash). A gRPC request gets 400 instead, as in Envoy: the
     * caller checks that (xg_route_is_grpc). */
    XG_PATH_REDIRECT,
} xg_path_verdict;

/* The connection manager's path options (config/hcm.h). */
typedef struct xg_path_opts {
    bool normalize;
    bool merge_slashes;
    xg_escaped_slashes escaped_slashes;
} xg_path_opts;

/* Envoy's maybeNormalizePath on an origin-form path[0..len) (the caller has
 * already answered a path that does not start with '/', e.g. "*", as it
 * should: Envoy replies 404 to those). In order: a '#' anywhere rejects;
 * %2F/%2f/%5C/%5c in the path part are unescaped unless escaped_slashes is
 * KEEP_UNCHANGED (then REJECT_REQUEST rejects, UNESCAPE_AND_REDIRECT
 * redirects once the rest is done); normalize canonicalises the path part
 * (a %00 / NUL makes it fail: reject); merge_slashes collapses "//". The
 * query is kept as is. *out is path itself when nothing changed, else a copy
 * in a. Returns 0 (with *verdict set) or XG_ENOMEM. */
int xg_path_sanitize(const char *path, size_t len, const xg_path_opts *o, xg_arena *a, xg_hstr *out,
                     xg_path_verdict *verdict);

/* Envoy's canonical path (Chromium's URL path canonicaliser as Envoy embeds
 * it) of p[0..len), which must not contain the query. Writes at most
 * XG_PATH_CANON_MAX(len) bytes to out and sets *out_len. False when the path
 * holds an escaped or raw NUL (the request is then rejected); out is still
 * filled. Escapes that stay escaped keep their hex case, as in Envoy
 * ("%2f" stays "%2f"); characters that must be escaped get uppercase hex. */
bool xg_path_canonicalize(const char *p, size_t len, char *out, size_t *out_len);
#define XG_PATH_CANON_MAX(len) (3 * (len) + 2)

/* Envoy's merge_slashes on a whole path (the query is kept): the segments
 * joined by single slashes, with the leading and trailing slash kept when
 * present. out needs len bytes; returns the new length. */
size_t xg_path_merge_slashes(const char *p, size_t len, char *out);

/* Envoy's unescapeSlashes: %2F / %2f -> '/', %5C / %5c -> '\' in the path
 * part (the query is kept). out needs len bytes; returns the new length
 * (smaller than len exactly when something was unescaped). */
size_t xg_path_unescape_slashes(const char *p, size_t len, char *out);

/* Splits a request path at the first '?': *path_part without it, *query the
 * bytes after it (empty, s NULL, when there is no '?'). Either may be NULL. */
void xg_path_split(xg_hstr full, xg_hstr *path_part, xg_hstr *query);

/* The path without query and fragment (cut at the first '?' or '#'), as
 * route matching sees it. */
xg_hstr xg_path_strip_query(xg_hstr full);

#endif
