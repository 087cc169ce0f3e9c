/* The buffer filter (envoy.filters.http.buffer): holds a request until its
 * whole body has arrived, then lets it go on with a content-length (when
 * the client sent none), so the upstream sees one complete request. The
 * stream keeps the bytes (XG_FILTER_STOP_AND_BUFFER) and answers 413 once
 * more than max_request_bytes arrived. A route, virtual host or route
 * configuration may turn it off or change the limit with a BufferPerRoute
 * under the filter's name in typed_per_filter_config. */
#include <stdio.h>
#include <string.h>

#include "config/hcm.h"
#include "http/stream.h"

typedef struct buffer_filter {
    xg_filter base; /* first */
    uint64_t bytes; /* body bytes seen */
    bool off;       /* disabled for this route, or nothing to buffer */
} buffer_filter;

#define BUFFER_PER_ROUTE "envoy.extensions.filters.http.buffer.v3.BufferPerRoute"

/* The settings in force for this request: the most specific BufferPerRoute, else the filter's own. */
static const xg_buffer_config *settings(const xg_filter *f)
{
    const xg_typed_config *tc = xg_filter_per_route_config(f);
    if (tc != NULL && tc->translated_type != NULL && strcmp(tc->translated_type, BUFFER_PER_ROUTE) == 0)
        return tc->translated;
    return f->config->translated;
}

/* The upstream is told the length it will get, as Envoy does. */
static void add_content_length(buffer_filter *b)
{
    xg_headers *h = b->base.stream->req;
    if (xg_headers_get_id(h, XG_HDR_CONTENT_LENGTH) != NULL)
        return;
    char v[24];
    int n = snprintf(v, sizeof(v), "%llu", (unsigned long long)b->bytes);
    if (xg_headers_set(h, "content-length", 14, v, (size_t)n, true) != 0)
        xg_filter_local_reply(&b->base, 500, NULL, 0, "internal_error");
}

static xg_filter_status decode_headers(xg_filter *f, xg_headers *h, bool end_stream)
{
    buffer_filter *b = (buffer_filter *)f;
    const xg_buffer_config *c = settings(f);
    if (end_stream || c->disabled) {
        b->off = true;
        return XG_FILTER_CONTINUE;
    }
    xg_filter_set_decoder_buffer_limit(f, c->max_request_bytes);
    return XG_FILTER_STOP_AND_BUFFER;
}

static xg_filter_status decode_data(xg_filter *f, const char *p, size_t n, bool end_stream)
{
    buffer_filter *b = (buffer_filter *)f;
    if (b->off)
        return XG_FILTER_CONTINUE;
    b->bytes += n;
    if (!end_stream)
        return XG_FILTER_STOP_AND_BUFFER;
    b->off = true;
    add_content_length(b);
    return XG_FILTER_CONTINUE;
}

static xg_filter_status decode_trailers(xg_filter *f, xg_headers *t)
{
    buffer_filter *b = (buffer_filter *)f;
    if (!b->off) {
        b->off = true;
        add_content_length(b);
    }
    return XG_FILTER_CONTINUE;
}

static const xg_filter_vt buffer_vt = {
    .name = "envoy.filters.http.buffer",
    .decode_headers = decode_headers,
    .decode_data = decode_data,
    .decode_trailers = decode_trailers,
};

xg_filter *xg_buffer_filter_create(struct xg_stream *s, const xg_http_filter *cfg)
{
    buffer_filter *b = xg_arena_calloc(&s->arena, 1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->base.vt = &buffer_vt;
    return &b->base;
}
