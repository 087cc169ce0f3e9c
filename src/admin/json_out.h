/* A small streaming writer for the admin's JSON answers (/xds, /config_dump):
 * two-space indentation in the style of the proto3-JSON codec's pretty
 * output, strings escaped (invalid UTF-8 becomes U+FFFD), and embedding of
 * already-written pretty JSON (e.g. from xg_pbjson_write) at any depth. The
 * first error (XG_ENOMEM) is sticky and returned by xg_jw_finish. */
#ifndef XG_ADMIN_JSON_OUT_H
#define XG_ADMIN_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define XG_JW_MAX_DEPTH 32

typedef struct xg_jw {
    xg_buf *out;
    int depth;
    bool first[XG_JW_MAX_DEPTH]; /* nothing written yet in the container at this depth */
    bool after_key;              /* the next value follows "key": on the same line */
    int err;
} xg_jw;

void xg_jw_init(xg_jw *w, xg_buf *out);
/* Opens '{' or '[' as the next value; close with the matching character. */
void xg_jw_open(xg_jw *w, char c);
void xg_jw_close(xg_jw *w, char c);
/* The key of the next member of the current object. */
void xg_jw_key(xg_jw *w, const char *key);
void xg_jw_str(xg_jw *w, const char *s);
void xg_jw_int(xg_jw *w, long long v);
/* A number given as its JSON literal, e.g. "12.5". */
void xg_jw_num(xg_jw *w, const char *literal);
void xg_jw_bool(xg_jw *w, bool v);
void xg_jw_null(xg_jw *w);
/* Wall-clock milliseconds as a proto3 JSON Timestamp ("2024-01-01T10:00:00.123Z"); 0 writes null. */
void xg_jw_time(xg_jw *w, int64_t wall_ms);
/* A value given as pretty JSON text written at depth 0: re-indented to fit. */
void xg_jw_raw(xg_jw *w, const char *json, size_t len);
/* Shorthands for a member: key then value. */
void xg_jw_kstr(xg_jw *w, const char *key, const char *s);
void xg_jw_kint(xg_jw *w, const char *key, long long v);
/* Ends the document with a newline; 0 or the first error. */
int xg_jw_finish(xg_jw *w);

#endif
