/* State-of-the-world ADS (StreamAggregatedResources): every response carries
 * all subscribed resources of one type. A type is (re)sent on its first
 * request, when its subscribed names change, or when the snapshot has a
 * version of it this stream was not sent; ACKs and NACKs are logged and never
 * trigger a resend of the same version. Requests carrying a stale nonce are
 * ignored, as the xDS protocol says. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "stream.h"

typedef Envoy__Service__Discovery__V3__DiscoveryRequest sotw_request;

static void log_request(xg_stub_stream *s, const sotw_request *req)
{
    xg_jev e;
    xg_stub_stream_event(s, &e, "request", req->type_url);
    xg_jev_str(&e, "version", req->version_info);
    xg_jev_str(&e, "nonce", req->response_nonce);
    xg_jev_strv(&e, "resource_names", req->resource_names, req->n_resource_names);
    (void)xg_jlog_emit(xg_stub_stream_log(s), &e); /* logging never changes what is served */
}

/* An ACK or, with error_detail, a NACK of the last response of this type. */
static void log_ack(xg_stub_stream *s, const sotw_request *req, const xg_stub_sub *sub)
{
    const Google__Rpc__Status *st = req->error_detail;
    xg_jev e;
    xg_stub_stream_event(s, &e, st ? "nack" : "ack", req->type_url);
    xg_jev_str(&e, "version", req->version_info);
    xg_jev_str(&e, "nonce", req->response_nonce);
    if (st != NULL) {
        xg_jev_u64s(&e, "rejected_version", sub->sent_version);
        xg_jev_i64(&e, "error_code", st->code);
        xg_jev_str(&e, "error_message", st->message);
    }
    (void)xg_jlog_emit(xg_stub_stream_log(s), &e);
}

static void log_note(xg_stub_stream *s, const char *event, const sotw_request *req, const char *why)
{
    xg_jev e;
    xg_stub_stream_event(s, &e, event, req->type_url);
    xg_jev_str(&e, "nonce", req->response_nonce);
    xg_jev_str(&e, "message", why);
    (void)xg_jlog_emit(xg_stub_stream_log(s), &e);
}

static void log_response(xg_stub_stream *s, int t, uint64_t version, const char *nonce, char **names, size_t n)
{
    xg_jev e;
    xg_stub_stream_event(s, &e, "response", xg_stub_type(t)->type_url);
    xg_jev_u64s(&e, "version", version);
    xg_jev_str(&e, "nonce", nonce);
    xg_jev_strv(&e, "resources", names, n);
    (void)xg_jlog_emit(xg_stub_stream_log(s), &e);
}

/* Points any at res without copying; the response is serialized before the
 * snapshot can change. */
static void wrap(Google__Protobuf__Any *any, int t, const xg_stub_res *res)
{
    google__protobuf__any__init(any);
    any->type_url = (char *)xg_stub_type(t)->type_url;
    any->value.data = res->data;
    any->value.len = res->len;
}

/* The resources this subscription gets: all of the type, or the named ones
 * that exist. Fills anys/ptrs/names (each sized for the worst case). */
static size_t select_resources(const xg_stub_sub *sub, const xg_stub_rset *r, int t, const xg_stub_snapshot *snap,
                               Google__Protobuf__Any *anys, Google__Protobuf__Any **ptrs, char **names)
{
    size_t n = 0, total = sub->wildcard ? r->n : sub->names.n;
    for (size_t i = 0; i < total; i++) {
        const xg_stub_res *res = sub->wildcard ? &r->res[i] : xg_stub_snapshot_find(snap, t, sub->names.v[i].name);
        if (res == NULL)
            continue;
        wrap(&anys[n], t, res);
        ptrs[n] = &anys[n];
        names[n++] = res->name;
    }
    return n;
}

static int respond(xg_stub_stream *s, int t)
{
    const xg_stub_snapshot *snap = xg_stub_stream_snapshot(s);
    const xg_stub_rset *r = &snap->types[t];
    xg_stub_sub *sub = &s->subs[t];
    size_t cap = (sub->wildcard ? r->n : sub->names.n) + 1;
    Google__Protobuf__Any *anys = calloc(cap, sizeof(*anys));
    Google__Protobuf__Any **ptrs = calloc(cap, sizeof(*ptrs));
    char **names = calloc(cap, sizeof(*names));
    int rc = XG_ENOMEM;
    if (anys != NULL && ptrs != NULL && names != NULL) {
        Envoy__Service__Discovery__V3__DiscoveryResponse resp = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_RESPONSE__INIT;
        char version[24], nonce[24];
        snprintf(version, sizeof(version), "%" PRIu64, r->version);
        sub->nonce = xg_stub_stream_nonce(s, nonce, sizeof(nonce));
        resp.version_info = version;
        resp.type_url = (char *)xg_stub_type(t)->type_url;
        resp.nonce = nonce;
        resp.resources = ptrs;
        resp.n_resources = select_resources(sub, r, t, snap, anys, ptrs, names);
        rc = xg_stub_stream_send(s, &resp.base);
        sub->sent_version = r->version;
        log_response(s, t, r->version, nonce, names, resp.n_resources);
    }
    free(anys);
    free(ptrs);
    free(names);
    return rc;
}

static bool has_star(char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], "*") == 0)
            return true;
    }
    return false;
}

/* Replaces the subscription with the request's; *changed says whether it moved. */
static int update_names(xg_stub_sub *sub, int t, const sotw_request *req, bool *changed)
{
    bool wildcard = has_star(req->resource_names, req->n_resource_names) ||
                    (xg_stub_type(t)->wildcard && req->n_resource_names == 0);
    xg_stub_names next;
    xg_stub_names_init(&next);
    int rc = 0;
    for (size_t i = 0; i < req->n_resource_names && rc == 0; i++) {
        if (strcmp(req->resource_names[i], "*") != 0)
            rc = xg_stub_names_set(&next, req->resource_names[i], NULL);
    }
    if (rc == 0) {
        *changed = wildcard != sub->wildcard || !xg_stub_names_equal(&next, &sub->names);
        sub->wildcard = wildcard;
        xg_stub_names_dispose(&sub->names);
        sub->names = next;
    } else {
        xg_stub_names_dispose(&next);
    }
    return rc;
}

static bool nonce_is(uint64_t nonce, const char *text)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, nonce);
    return strcmp(buf, text) == 0;
}

static int handle(xg_stub_stream *s, int t, const sotw_request *req)
{
    xg_stub_sub *sub = &s->subs[t];
    if (sub->active && req->response_nonce[0] != '\0') {
        if (!nonce_is(sub->nonce, req->response_nonce)) {
            log_note(s, "stale", req, "nonce is not the last one sent for this type; request ignored");
            return 0;
        }
        log_ack(s, req, sub);
    }
    bool first = !sub->active, changed = false;
    int rc = update_names(sub, t, req, &changed);
    if (rc != 0)
        return rc;
    sub->active = true;
    if (first || changed || sub->sent_version != xg_stub_stream_snapshot(s)->types[t].version)
        rc = respond(s, t);
    return rc;
}

void xg_stub_sotw_on_request(xg_stub_stream *s, const uint8_t *data, size_t len)
{
    sotw_request *req = envoy__service__discovery__v3__discovery_request__unpack(NULL, len, data);
    if (req == NULL) {
        (void)xg_jlog_msg(xg_stub_stream_log(s), "bad_request", "malformed DiscoveryRequest; stream ended");
        xg_stub_stream_finish(s, GRPC_STATUS_INVALID_ARGUMENT, "malformed DiscoveryRequest");
        return;
    }
    if (req->node != NULL)
        xg_stub_stream_take_node(s, req->node->id);
    log_request(s, req);
    int t = xg_stub_type_index(req->type_url);
    if (t < 0)
        log_note(s, "unknown_type", req,
                 "the stub serves Listener, RouteConfiguration, Cluster, "
                 "ClusterLoadAssignment and Secret only; request ignored");
    else if (handle(s, t, req) != 0)
        xg_stub_stream_finish(s, GRPC_STATUS_INTERNAL, "out of memory");
    envoy__service__discovery__v3__discovery_request__free_unpacked(req, NULL);
}

void xg_stub_sotw_on_snapshot(xg_stub_stream *s)
{
    const xg_stub_snapshot *snap = xg_stub_stream_snapshot(s);
    for (int i = 0; i < XG_STUB_NTYPES; i++) {
        int t = xg_stub_push_order[i];
        xg_stub_sub *sub = &s->subs[t];
        if (sub->active && sub->sent_version != snap->types[t].version && respond(s, t) != 0)
            xg_stub_stream_finish(s, GRPC_STATUS_INTERNAL, "out of memory");
    }
}
