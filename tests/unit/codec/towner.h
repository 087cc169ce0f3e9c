/* Test owner for the codec unit tests: records every callback as one line of
 * text in a log, keeps one arena per stream, and can answer automatically.
 * Included by the test files (one process each). */
#ifndef XG_TEST_TOWNER_H
#define XG_TEST_TOWNER_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "core/buf.h"

#define MAX_STREAMS 64

typedef struct towner {
    xg_codec *c;
    xg_buf log;
    xg_buf wire; /* everything output() produced */
    xg_arena arenas[MAX_STREAMS];
    int n_arenas;
    uint32_t last_sid;
    xg_headers *last_headers;
    int errors;
    xg_codec_err last_err;
    int consume_now; /* on_data: consume() right away */
    int refuse;      /* on_stream_begin fails */
} towner;

static inline void logf_(towner *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void logf_(towner *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    xg_buf_vprintf(&o->log, fmt, ap);
    va_end(ap);
}

static inline int t_begin(void *owner, uint32_t sid, void **user, xg_arena **arena)
{
    towner *o = owner;
    if (o->refuse)
        return -1;
    xg_arena *a = &o->arenas[o->n_arenas++ % MAX_STREAMS];
    xg_arena_dispose(a);
    xg_arena_init(a, 0);
    *user = o;
    *arena = a;
    logf_(o, "begin %u;", sid);
    return 0;
}

static inline void log_headers(towner *o, const xg_headers *h)
{
    if (h->method.s)
        logf_(o, " %.*s", (int)h->method.len, h->method.s);
    if (h->scheme.s)
        logf_(o, " scheme=%.*s", (int)h->scheme.len, h->scheme.s);
    if (h->authority.s)
        logf_(o, " auth=%.*s", (int)h->authority.len, h->authority.s);
    if (h->path.s)
        logf_(o, " path=%.*s", (int)h->path.len, h->path.s);
    if (h->status)
        logf_(o, " %u", h->status);
    for (uint32_t i = 0; i < h->n; i++)
        logf_(o, " %.*s=%.*s", (int)h->v[i].name_len, h->v[i].name, (int)h->v[i].value_len, h->v[i].value);
}

static inline void t_headers(void *owner, void *user, uint32_t sid, xg_headers *h, bool end)
{
    towner *o = owner;
    o->last_sid = sid;
    o->last_headers = h;
    logf_(o, "headers %u", sid);
    log_headers(o, h);
    logf_(o, "%s;", end ? " END" : "");
}

static inline void t_data(void *owner, void *user, uint32_t sid, const char *p, size_t n, bool end)
{
    towner *o = owner;
    logf_(o, "data %u [%.*s]%s;", sid, (int)n, p ? p : "", end ? " END" : "");
    if (o->consume_now && n > 0)
        xg_codec_consumed(o->c, sid, n);
}

static inline void t_trailers(void *owner, void *user, uint32_t sid, xg_headers *t)
{
    towner *o = owner;
    logf_(o, "trailers %u", sid);
    log_headers(o, t);
    logf_(o, ";");
}

static inline void t_close(void *owner, void *user, uint32_t sid)
{
    logf_(owner, "close %u;", sid);
}

static inline void t_reset(void *owner, void *user, uint32_t sid, xg_reset_reason r)
{
    logf_(owner, "reset %u %s;", sid, xg_reset_reason_name(r));
}

static inline void t_goaway(void *owner, uint32_t last, uint32_t code)
{
    logf_(owner, "goaway %u %u;", last, code);
}

static inline void t_error(void *owner, void *user, uint32_t sid, xg_codec_err kind, const char *detail)
{
    towner *o = owner;
    o->errors++;
    o->last_err = kind;
    logf_(o, "error %u %d;", sid, xg_codec_err_status(kind));
}

static inline void t_ready(void *owner, void *user, uint32_t sid)
{
    logf_(owner, "ready %u;", sid);
}

static const xg_codec_cbs t_cbs = {
    .on_stream_begin = t_begin,
    .on_headers = t_headers,
    .on_data = t_data,
    .on_trailers = t_trailers,
    .on_stream_close = t_close,
    .on_stream_reset = t_reset,
    .on_goaway = t_goaway,
    .on_error = t_error,
    .on_send_ready = t_ready,
};

static inline void towner_init(towner *o)
{
    memset(o, 0, sizeof *o);
    xg_buf_init(&o->log);
    xg_buf_init(&o->wire);
    o->consume_now = 1;
}

static inline void towner_dispose(towner *o)
{
    xg_codec_free(o->c);
    for (int i = 0; i < MAX_STREAMS; i++)
        xg_arena_dispose(&o->arenas[i]);
    xg_buf_dispose(&o->log);
    xg_buf_dispose(&o->wire);
}

/* Moves all pending output into o->wire (as if the socket took everything). */
static inline void drain(towner *o)
{
    struct iovec iov[8];
    size_t k;
    while ((k = xg_codec_output(o->c, iov, 8)) > 0) {
        size_t total = 0;
        for (size_t i = 0; i < k; i++) {
            xg_buf_append(&o->wire, iov[i].iov_base, iov[i].iov_len);
            total += iov[i].iov_len;
        }
        xg_codec_output_done(o->c, total);
    }
}

static inline const char *LOG(towner *o)
{
    return o->log.data ? o->log.data : "";
}

static inline const char *WIRE(towner *o)
{
    return o->wire.data ? o->wire.data : "";
}

static inline void reset_logs(towner *o)
{
    xg_buf_reset(&o->log);
    xg_buf_reset(&o->wire);
}

#endif
