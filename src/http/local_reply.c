/* Local replies: responses xdsgate writes itself (no route, upstream
 * failures, timeouts, malformed requests, direct responses). As Envoy: the
 * status, "content-type: text/plain" and a short body when there is one,
 * "content-length" always; a gRPC request gets a trailers-only gRPC answer
 * instead (HTTP 200, grpc-status mapped from the HTTP status, grpc-message
 * the body). HEAD requests get the headers only (the caller skips the body). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "http/hcm_int.h"

int xg__http_to_grpc_status(int status)
{
    switch (status) {
    case 400:
        return 13; /* INTERNAL */
    case 401:
        return 16; /* UNAUTHENTICATED */
    case 403:
        return 7; /* PERMISSION_DENIED */
    case 404:
        return 12; /* UNIMPLEMENTED */
    case 429:
    case 502:
    case 503:
    case 504:
        return 14; /* UNAVAILABLE */
    default:
        return 2; /* UNKNOWN */
    }
}

const char *xg__status_text(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

static int set_status(xg_headers *h, int status)
{
    char st[8];
    int n = snprintf(st, sizeof(st), "%d", status);
    return xg_headers_set_pseudo(h, ":status", 7, st, (size_t)n);
}

static int grpc_reply(xg_headers *h, int status, const char *body)
{
    char gs[8];
    int n = snprintf(gs, sizeof(gs), "%d", xg__http_to_grpc_status(status));
    int rc = set_status(h, 200);
    if (rc == 0)
        rc = xg_headers_add_ref(h, "content-type", 12, "application/grpc", 16);
    if (rc == 0)
        rc = xg_headers_add_copy(h, "grpc-status", 11, gs, (size_t)n);
    if (rc == 0 && body != NULL && body[0] != '\0')
        rc = xg_headers_add_copy(h, "grpc-message", 12, body, strlen(body));
    return rc;
}

int xg__local_reply_build(xg_stream *s, int status, const char *body, xg_headers **out, const char **out_body,
                          size_t *out_len)
{
    xg_headers *h = xg_headers_new(&s->arena);
    if (h == NULL)
        return XG_ENOMEM;
    size_t len = body != NULL ? strlen(body) : 0;
    *out_body = NULL;
    *out_len = 0;
    int rc;
    if (s->is_grpc) {
        rc = grpc_reply(h, status, body);
    } else {
        char cl[24];
        int n = snprintf(cl, sizeof(cl), "%zu", len);
        rc = set_status(h, status);
        if (rc == 0 && len > 0)
            rc = xg_headers_add_ref(h, "content-type", 12, "text/plain", 10);
        if (rc == 0)
            rc = xg_headers_add_copy(h, "content-length", 14, cl, (size_t)n);
        if (len > 0 && !s->is_head) {
            *out_body = body;
            *out_len = len;
        }
    }
    if (rc != 0)
        return rc;
    *out = h;
    return 0;
}
