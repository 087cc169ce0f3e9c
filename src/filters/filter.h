/* The HTTP filter chain interface: what an HTTP filter (router,
 * local_ratelimit, ratelimit, ...) implements and what it may ask of its
 * stream. A stream runs its filters in configuration order on the request
 * (decode_*) and in reverse order on the response (encode_*); the router is
 * always last, so it is the first encoder. Each hook returns CONTINUE (the
 * next filter runs now) or STOP (the chain waits until the filter calls
 * xg_filter_continue_decoding / _encoding, e.g. after an asynchronous
 * rate-limit answer, or answers itself with xg_filter_local_reply).
 *
 * Body bytes are borrowed for the call: a filter that stops on data must
 * copy what it keeps. While decoding is stopped at a filter, the stream
 * holds later request body bytes (bounded by the codec's stream window, as
 * nothing is acknowledged to the client meanwhile) and replays them on
 * continue; the same for encoding.
 *
 * Life cycle: filters are created per stream in its arena when the request
 * headers arrive, and on_destroy runs once when the stream ends (normally or
 * not): cancel timers and outstanding calls there; the memory goes with the
 * arena. Worker thread only. */
#ifndef XG_FILTERS_FILTER_H
#define XG_FILTERS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/hcm.h"
#include "http/headers.h"

struct xg_stream; /* http/stream.h */

typedef enum xg_filter_status {
    XG_FILTER_CONTINUE,
    XG_FILTER_STOP,
    /* decode_headers, then decode_data (Envoy's StopIterationAndBuffer):
     * the filters after f wait, but f keeps seeing the request body and
     * trailers as they arrive (the filters before it first). The bytes f
     * answers STOP_AND_BUFFER for are kept for the filters after it and
     * acknowledged to the client at once, so its window stays open; past
     * the stream's decoder buffer limit the request is answered 413. f
     * resumes the chain by returning CONTINUE for a later item (the
     * headers, the kept bytes and that item go on, in order) or through
     * xg_filter_continue_decoding. Elsewhere it counts as STOP. */
    XG_FILTER_STOP_AND_BUFFER,
} xg_filter_status;

typedef struct xg_filter xg_filter;

/* Any hook may be NULL (CONTINUE / nothing to do). */
typedef struct xg_filter_vt {
    const char *name;
    xg_filter_status (*decode_headers)(xg_filter *f, xg_headers *h, bool end_stream);
    xg_filter_status (*decode_data)(xg_filter *f, const char *p, size_t n, bool end_stream);
    xg_filter_status (*decode_trailers)(xg_filter *f, xg_headers *t);
    xg_filter_status (*encode_headers)(xg_filter *f, xg_headers *h, bool end_stream);
    xg_filter_status (*encode_data)(xg_filter *f, const char *p, size_t n, bool end_stream);
    xg_filter_status (*encode_trailers)(xg_filter *f, xg_headers *t);
    /* The downstream took the response bytes queued for this stream (its send
     * buffer fell below the low watermark): a filter that stopped reading its
     * source for back-pressure may resume (the router reopens the upstream). */
    void (*on_downstream_ready)(xg_filter *f);
    /* The stream ends; after this no hook runs. */
    void (*on_destroy)(xg_filter *f);
} xg_filter_vt;

/* The head of every filter instance (vtable first). */
struct xg_filter {
    const xg_filter_vt *vt;
    struct xg_stream *stream; /* borrowed: the stream outlives its filters */
    const xg_http_filter *config;
    uint16_t index; /* position in the chain */
};

/* Makes the filter instance for one stream, in the stream's arena (size
 * bytes at least sizeof(xg_filter); the head is filled by the caller).
 * NULL on allocation failure. */
typedef xg_filter *(*xg_filter_create_fn)(struct xg_stream *s, const xg_http_filter *cfg);

/* The factory for a configured filter kind, or NULL when xdsgate has none
 * (the translator only lets optional filters through then: skipped). */
xg_filter_create_fn xg_filter_factory(xg_http_filter_kind kind);

/* The router filter's factory (filters/router.c). */
xg_filter *xg_router_filter_create(struct xg_stream *s, const xg_http_filter *cfg);
/* The buffer filter's factory (filters/buffer.c). */
xg_filter *xg_buffer_filter_create(struct xg_stream *s, const xg_http_filter *cfg);

/* envoy.filters.http.local_ratelimit (filters/local_ratelimit.c). */
xg_filter *xg_local_ratelimit_filter_create(struct xg_stream *s, const xg_http_filter *cfg);
/* envoy.filters.http.ratelimit, the global one (filters/ratelimit.c). */
xg_filter *xg_ratelimit_filter_create(struct xg_stream *s, const xg_http_filter *cfg);

/* --- what a filter may ask of its stream (http/stream.c) --- */

/* Resumes the request after f returned STOP: the filters after f see the
 * headers (and any body and trailers held meanwhile). From the loop only,
 * never from inside one of f's own hooks. */
void xg_filter_continue_decoding(xg_filter *f);
void xg_filter_continue_encoding(xg_filter *f);

/* Answers the request locally with status and a short body (NULL: none;
 * Envoy's local reply, turned into a gRPC status for gRPC requests), records
 * response flags (upstream/resp_flags.h XG_RF_*) and Envoy's response code
 * details (static text). The chain stops; encoder filters before f see the
 * reply. Ignored once the response has started (the stream is reset
 * instead). */
void xg_filter_local_reply(xg_filter *f, int status, const char *body, uint32_t flags, const char *details);
/* The same, but f's own encode hooks see the reply too, so that f can
 * decorate it (Envoy's modify_headers of sendLocalReply). */
void xg_filter_local_reply_seen(xg_filter *f, int status, const char *body, uint32_t flags, const char *details);

/* The response, from the router (or any filter answering with a full
 * response): passes through the encoder filters before f, then the
 * connection manager's response handling, then the codec. */
void xg_filter_encode_headers(xg_filter *f, xg_headers *h, bool end_stream);
void xg_filter_encode_data(xg_filter *f, const char *p, size_t n, bool end_stream);
void xg_filter_encode_trailers(xg_filter *f, xg_headers *t);

/* The most request body bytes a filter may make the stream buffer
 * (XG_FILTER_STOP_AND_BUFFER) before it answers 413; by default the
 * listener's per_connection_buffer_limit_bytes (0 there: no limit). */
void xg_filter_set_decoder_buffer_limit(xg_filter *f, uint32_t bytes);

/* The most specific typed_per_filter_config entry for f's filter name (the
 * picked weighted cluster, then route, virtual host, route configuration),
 * or NULL. Borrowed from the stream's pinned snapshot. */
const xg_typed_config *xg_filter_per_route_config(const xg_filter *f);

/* n request body bytes delivered by decode_data have left the proxy (the
 * last consumer says so): reopens the client's flow-control window. */
void xg_filter_request_consumed(xg_filter *f, size_t n);
/* True while the downstream has too many unsent response bytes for this
 * stream: the router waits for on_downstream_ready before acknowledging
 * more response body to the upstream. */
bool xg_filter_downstream_blocked(const xg_filter *f);
/* Aborts the stream (HTTP/2 RST_STREAM, HTTP/1 connection close) after a
 * failure once the response has started; flags as for local_reply. */
void xg_filter_reset_stream(xg_filter *f, uint32_t flags, const char *details);

#endif
