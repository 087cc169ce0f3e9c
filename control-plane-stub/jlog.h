/* The stub's event log: one JSON object per line ({"ts":...,"event":...,...})
 * on stdout or a file, so that tests and people can follow every request,
 * ACK, NACK, response and snapshot reload. Single-threaded (the stub's cq
 * thread and main are the same thread). */
#ifndef XG_STUB_JLOG_H
#define XG_STUB_JLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct xg_jlog {
    int fd;
    bool own_fd; /* opened by xg_jlog_open, closed by xg_jlog_close */
} xg_jlog;

/* One event line under construction. Appends never fail loudly: the first
 * allocation failure is remembered and the line is dropped at emit time. */
typedef struct xg_jev {
    xg_buf b;
    int err;
} xg_jev;

/* Opens path for appending, or uses stdout when path is NULL. 0 or -errno. */
int xg_jlog_open(xg_jlog *l, const char *path);
void xg_jlog_close(xg_jlog *l);

/* Starts {"ts":"<RFC 3339 UTC>","event":"<event>" */
void xg_jev_begin(xg_jev *e, const char *event);
void xg_jev_str(xg_jev *e, const char *key, const char *val);
void xg_jev_u64(xg_jev *e, const char *key, uint64_t v);
/* Writes v as a decimal string ("7"), the way xDS carries versions and nonces. */
void xg_jev_u64s(xg_jev *e, const char *key, uint64_t v);
void xg_jev_i64(xg_jev *e, const char *key, int64_t v);
void xg_jev_bool(xg_jev *e, const char *key, bool v);
/* Writes "key":["a","b",...]. */
void xg_jev_strv(xg_jev *e, const char *key, char *const *v, size_t n);
/* Opens "key":[ or "key":{ ; close with xg_jev_close. Members of an opened
 * object are added with the usual calls; items of an array with key NULL. */
void xg_jev_open(xg_jev *e, const char *key, char kind);
void xg_jev_close(xg_jev *e, char kind);
/* Ends the line, writes it in one write(2) and releases e. 0 or -errno. */
int xg_jlog_emit(xg_jlog *l, xg_jev *e);

/* A whole line {"ts":..,"event":event,"message":msg}. 0 or -errno. */
int xg_jlog_msg(xg_jlog *l, const char *event, const char *msg);

/* Appends s as a JSON string literal (quotes included). Control characters
 * are escaped and invalid UTF-8 becomes U+FFFD, so the line stays valid JSON
 * whatever a client sent. */
int xg_json_quote(xg_buf *b, const char *s, size_t n);

#endif
