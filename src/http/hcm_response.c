/* The connection manager's part of every response (Envoy's
 * ActiveStream::encodeHeaders and mutateResponseHeaders): a Date when the
 * response has none, the server header per server_header_transformation,
 * via, and x-request-id when always_set_request_id_in_response. */
#include <string.h>

#include "core/error.h"
#include "http/hcm_int.h"
#include "net/worker_listeners.h"

static int add_date(xg_stream *s, xg_headers *h)
{
    xg_worker_rt *w = xg_worker_rt_self();
    if (w == NULL || xg_headers_get_id(h, XG_HDR_DATE) != NULL)
        return 0;
    const char *d = xg_worker_date(w);
    return xg_headers_add_copy(h, "date", 4, d, strlen(d));
}

static int server(const xg_hcm *cfg, xg_headers *h)
{
    const char *name = cfg->server_name != NULL ? cfg->server_name : "xdsgate";
    switch (cfg->server_header) {
    case XG_SERVER_HEADER_OVERWRITE:
        return xg_headers_set_id(h, XG_HDR_SERVER, name, strlen(name), false);
    case XG_SERVER_HEADER_APPEND_IF_ABSENT:
        if (xg_headers_get_id(h, XG_HDR_SERVER) == NULL)
            return xg_headers_add_ref(h, "server", 6, name, strlen(name));
        return 0;
    default:
        return 0;
    }
}

/* Envoy's appendVia: ", "-joined after an existing value. */
static int via(const xg_hcm *cfg, xg_headers *h)
{
    size_t vlen = strlen(cfg->via);
    if (vlen == 0)
        return 0;
    const xg_header *e = xg_headers_get_id(h, XG_HDR_VIA);
    if (e == NULL)
        return xg_headers_add_ref(h, "via", 3, cfg->via, vlen);
    size_t n = e->value_len + 2 + vlen;
    char *buf = xg_arena_alloc(h->arena, n + 1);
    if (buf == NULL)
        return XG_ENOMEM;
    memcpy(buf, e->value, e->value_len);
    memcpy(buf + e->value_len, ", ", 2);
    memcpy(buf + e->value_len + 2, cfg->via, vlen + 1);
    return xg_headers_set_id(h, XG_HDR_VIA, buf, n, false);
}

int xg__hcm_finalize_response(xg_stream *s, xg_headers *h)
{
    const xg_hcm *cfg = s->cfg;
    int rc = add_date(s, h);
    if (rc == 0)
        rc = server(cfg, h);
    if (rc == 0)
        rc = via(cfg, h);
    if (rc == 0 && cfg->always_set_request_id_in_response && s->req != NULL) {
        const xg_header *rid = xg_headers_get_id(s->req, XG_HDR_X_REQUEST_ID);
        if (rid != NULL)
            rc = xg_headers_set_id(h, XG_HDR_X_REQUEST_ID, rid->value, rid->value_len, false);
    }
    return rc;
}
