/* State-of-the-world ADS (StreamAggregatedResources): per type the full list
 * of subscribed names goes out with every request; an ACK echoes the
 * response's version_info and nonce, a NACK the last ACKed version with the
 * nonce and an error_detail. Resources wrapped in envoy.service.discovery.v3.
 * Resource are unwrapped before the handler sees them. xds thread only. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/ads_int.h"

typedef Envoy__Service__Discovery__V3__DiscoveryRequest sotw_request;
typedef Envoy__Service__Discovery__V3__DiscoveryResponse sotw_response;
typedef Envoy__Service__Discovery__V3__Resource wrapper;

#define WRAPPER_URL "type.googleapis.com/envoy.service.discovery.v3.Resource"

/* A wildcard subscription is the legacy empty list until the stream has been
 * sent explicit names for the type; after that only "*" means wildcard. */
static void set_names(sotw_request *req, const xg__ads_sub *sub, xg_xds_type t, char **star)
{
    if (!xg__ads_sub_want_wildcard(sub, t)) {
        req->resource_names = sub->want.v;
        req->n_resource_names = sub->want.n;
    } else if (sub->told_explicit) {
        star[0] = "*";
        req->resource_names = star;
        req->n_resource_names = 1;
    }
}

static void set_common(xg_ads *a, xg__ads_stream *s, sotw_request *req, Envoy__Config__Core__V3__Node *node,
                       char **features, Google__Rpc__Status *st, const xg_buf *nack)
{
    if (!s->sent_node) {
        xg__ads_node_fill(a, node, features);
        req->node = node;
    }
    if (nack != NULL && nack->len > 0) {
        google__rpc__status__init(st);
        st->code = 3; /* INVALID_ARGUMENT, as Envoy sends */
        st->message = nack->data;
        req->error_detail = st;
    }
}

/* One request for t with the current names, version and nonce; an ACK, a
 * NACK (nack non-empty) or a subscription change. */
static int send_request(xg_ads *a, xg__ads_stream *s, xg_xds_type t, const xg_buf *nack)
{
    xg__ads_sub *sub = &a->subs[t];
    sotw_request req = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_REQUEST__INIT;
    Envoy__Config__Core__V3__Node node;
    Google__Rpc__Status st;
    char *features[1], *star[1];
    req.version_info = sub->version;
    req.type_url = (char *)xg_xds_type_url(t);
    req.response_nonce = sub->nonce;
    set_names(&req, sub, t, star);
    set_common(a, s, &req, &node, features, &st, nack);
    int rc = xg__ads_stream_send_msg(s, &req.base);
    if (rc == 0)
        rc = xg__ads_sub_mark_told(sub, t);
    if (rc == 0) {
        s->sent_node = true;
        xg_log_debug("ads: %s request: version \"%s\", nonce \"%s\", %zu names%s", xg_xds_type_abbrev(t),
                     req.version_info, req.response_nonce, req.n_resource_names,
                     xg__ads_sub_want_wildcard(sub, t) ? " (wildcard)" : "");
    }
    return rc;
}

int xg__ads_sotw_request(xg_ads *a, xg__ads_stream *s, xg_xds_type t)
{
    return send_request(a, s, t, NULL);
}

/* A response of a type we never asked for: NACK it under its own type_url
 * (made valid UTF-8), touching no subscription. */
static int nack_unknown(xg_ads *a, xg__ads_stream *s, const sotw_response *resp, const xg_buf *nack)
{
    sotw_request req = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_REQUEST__INIT;
    Envoy__Config__Core__V3__Node node;
    Google__Rpc__Status st;
    char *features[1];
    xg_buf url, nonce;
    xg_buf_init(&url);
    xg_buf_init(&nonce);
    int rc = xg_buf_puts(&url, resp->type_url) || xg_buf_puts(&nonce, resp->nonce) ? XG_ENOMEM : 0;
    if (rc == 0) {
        xg__ads_fix_utf8(&url);
        xg__ads_fix_utf8(&nonce);
        req.type_url = url.data != NULL ? url.data : "";
        req.response_nonce = nonce.data != NULL ? nonce.data : "";
        set_common(a, s, &req, &node, features, &st, nack);
        rc = xg__ads_stream_send_msg(s, &req.base);
    }
    if (rc == 0)
        s->sent_node = true;
    xg__ads_log_verdict(XG_XDS_NTYPES, url.data ? url.data : "?", resp->version_info, resp->nonce, nack);
    xg_buf_dispose(&url);
    xg_buf_dispose(&nonce);
    return rc;
}

/* Unwraps one Resource wrapper into out (borrowing from *w, which the caller
 * frees); writes the NACK reason and returns XG_EINVAL when it is unusable. */
static int unwrap(const Google__Protobuf__Any *any, size_t i, wrapper **w, xg_xds_resource *out, xg_buf *nack)
{
    *w = envoy__service__discovery__v3__resource__unpack(NULL, any->value.len, any->value.data);
    if (*w == NULL || (*w)->resource == NULL) {
        int rc = xg_buf_printf(nack, "resources[%zu]: %s", i,
                               *w == NULL ? "undecodable envoy.service.discovery.v3.Resource wrapper"
                                          : "Resource wrapper without a resource (resource TTLs are not supported)");
        return rc != 0 ? rc : XG_EINVAL;
    }
    const char *name = (*w)->name;
    if (name[0] == '\0' && (*w)->resource_name != NULL)
        name = (*w)->resource_name->name;
    out->name = name[0] != '\0' ? name : NULL;
    out->version = (*w)->version[0] != '\0' ? (*w)->version : NULL;
    out->type_url = (*w)->resource->type_url;
    out->data = (*w)->resource->value.data;
    out->len = (*w)->resource->value.len;
    return 0;
}

/* Builds the handler's view of resp (unwrapping Resource wrappers) and gets
 * its verdict into nack. */
static int deliver(xg_ads *a, xg_xds_type t, const sotw_response *resp, xg_buf *nack)
{
    size_t n = resp->n_resources;
    xg_xds_resource *res = calloc(n + 1, sizeof(*res));
    wrapper **w = calloc(n + 1, sizeof(*w));
    int rc = res && w ? 0 : XG_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const Google__Protobuf__Any *any = resp->resources[i];
        if (strcmp(any->type_url, WRAPPER_URL) == 0) {
            rc = unwrap(any, i, &w[i], &res[i], nack);
            continue;
        }
        res[i] = (xg_xds_resource){NULL, NULL, any->type_url, any->value.data, any->value.len};
    }
    if (rc == 0) {
        xg_xds_response r = {t, false, resp->version_info, resp->nonce, res, n, NULL, 0};
        rc = xg__ads_call_handler(a, &r, nack);
    } else if (rc == XG_EINVAL) {
        xg__ads_cap_message(nack);
        rc = 0;
    }
    for (size_t i = 0; w != NULL && i < n; i++) {
        if (w[i] != NULL)
            envoy__service__discovery__v3__resource__free_unpacked(w[i], NULL);
    }
    free(w);
    free(res);
    return rc;
}

/* Subscription changes the handler makes wait until the ACK has gone out
 * (Envoy pauses them the same way), then go out in one flush. */
static int handle(xg_ads *a, xg__ads_stream *s, xg_xds_type t, const sotw_response *resp, xg_buf *nack)
{
    xg__ads_sub *sub = &a->subs[t];
    a->in_response++;
    int rc = xg__ads_set_str(&sub->nonce, resp->nonce);
    if (rc == 0)
        rc = deliver(a, t, resp, nack);
    if (rc == 0 && nack->len == 0)
        rc = xg__ads_set_str(&sub->version, resp->version_info);
    if (rc == 0)
        rc = send_request(a, s, t, nack);
    a->in_response--;
    if (rc == 0)
        xg__ads_log_verdict(t, NULL, resp->version_info, resp->nonce, nack);
    xg__ads_flush(a);
    return rc;
}

void xg__ads_sotw_on_message(xg_ads *a, xg__ads_stream *s, const uint8_t *data, size_t len)
{
    sotw_response *resp = envoy__service__discovery__v3__discovery_response__unpack(NULL, len, data);
    if (resp == NULL) {
        xg_log_error("ads: undecodable DiscoveryResponse (%zu bytes); ending the stream", len);
        xg__ads_stream_abort(s, GRPC_STATUS_INTERNAL, "undecodable DiscoveryResponse");
        return;
    }
    xg_buf nack;
    xg_buf_init(&nack);
    xg_xds_type t;
    int rc = xg__ads_response_type(resp->type_url, &t, &nack);
    if (rc == XG_ENOENT)
        rc = nack_unknown(a, s, resp, &nack);
    else if (rc == 0)
        rc = handle(a, s, t, resp, &nack);
    if (rc != 0)
        xg_log_error("ads: cannot answer a %s response: %s", resp->type_url, xg_strerror(rc));
    xg_buf_dispose(&nack);
    envoy__service__discovery__v3__discovery_response__free_unpacked(resp, NULL);
}
