/* Delta (incremental) ADS (DeltaAggregatedResources): per type the stream
 * tracks what the client subscribed to and which version of each resource
 * it holds (from initial_resource_versions and from what was sent), and
 * responds with only the difference: added or changed resources, and
 * removed_resources for ones the client holds that are gone (or that it
 * subscribed to and that do not exist). Subscription changes are applied
 * even on a request with a stale nonce, since delta requests are not
 * idempotent; only ACK/NACK matching needs the latest nonce. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "stream.h"

typedef Envoy__Service__Discovery__V3__DeltaDiscoveryRequest delta_request;
typedef Envoy__Service__Discovery__V3__Resource delta_resource;

/* One response under construction; arrays sized for the worst case. */
typedef struct delta_out {
    delta_resource *res;
    delta_resource **res_ptrs;
    Google__Protobuf__Any *anys;
    char **names; /* borrowed from the snapshot */
    size_t n;
    char **removed; /* owned copies */
    size_t n_removed;
} delta_out;

static void log_request(xg_stub_stream *s, const delta_request *req)
{
    xg_jev e;
    xg_stub_stream_event(s, &e, "request", req->type_url);
    xg_jev_str(&e, "nonce", req->response_nonce);
    xg_jev_strv(&e, "subscribe", req->resource_names_subscribe, req->n_resource_names_subscribe);
    xg_jev_strv(&e, "unsubscribe", req->resource_names_unsubscribe, req->n_resource_names_unsubscribe);
    xg_jev_open(&e, "initial_resource_versions", '{');
    for (size_t i = 0; i < req->n_initial_resource_versions; i++)
        xg_jev_str(&e, req->initial_resource_versions[i]->key, req->initial_resource_versions[i]->value);
    xg_jev_close(&e, '}');
    (void)xg_jlog_emit(xg_stub_stream_log(s), &e); /* logging never changes what is served */
}

static void log_ack(xg_stub_stream *s, const delta_request *req, const xg_stub_sub *sub)
{
    const Google__Rpc__Status *st = req->error_detail;
    xg_jev e;
    xg_stub_stream_event(s, &e, st ? "nack" : "ack", req->type_url);
    xg_jev_u64s(&e, "version", sub->sent_version);
    xg_jev_str(&e, "nonce", req->response_nonce);
    if (st != NULL) {
        xg_jev_i64(&e, "error_code", st->code);
        xg_jev_str(&e, "error_message", st->message);
    }
    (void)xg_jlog_emit(xg_stub_stream_log(s), &e);
}

static void log_note(xg_stub_stream *s, const char *event, const delta_request *req, const char *why)
{
    xg_jev e;
    xg_stub_stream_event(s, &e, event, req->type_url);
    xg_jev_str(&e, "nonce", req->response_nonce);
    xg_jev_str(&e, "message", why);
    (void)xg_jlog_emit(xg_stub_stream_log(s), &e);
}

static void log_response(xg_stub_stream *s, int t, uint64_t version, const char *nonce, const delta_out *o)
{
    xg_jev e;
    xg_stub_stream_event(s, &e, "response", xg_stub_type(t)->type_url);
    xg_jev_u64s(&e, "version", version);
    xg_jev_str(&e, "nonce", nonce);
    xg_jev_strv(&e, "resources", o->names, o->n);
    xg_jev_strv(&e, "removed", o->removed, o->n_removed);
    (void)xg_jlog_emit(xg_stub_stream_log(s), &e);
}

static int out_init(delta_out *o, size_t nres, size_t nremoved)
{
    memset(o, 0, sizeof(*o));
    o->res = calloc(nres + 1, sizeof(*o->res));
    o->res_ptrs = calloc(nres + 1, sizeof(*o->res_ptrs));
    o->anys = calloc(nres + 1, sizeof(*o->anys));
    o->names = calloc(nres + 1, sizeof(*o->names));
    o->removed = calloc(nremoved + 1, sizeof(*o->removed));
    bool ok = o->res && o->res_ptrs && o->anys && o->names && o->removed;
    return ok ? 0 : XG_ENOMEM;
}

static void out_dispose(delta_out *o)
{
    for (size_t i = 0; i < o->n_removed; i++)
        free(o->removed[i]);
    free(o->res);
    free(o->res_ptrs);
    free(o->anys);
    free(o->names);
    free(o->removed);
}

static void out_add(delta_out *o, int t, const xg_stub_res *r)
{
    Google__Protobuf__Any *any = &o->anys[o->n];
    delta_resource *res = &o->res[o->n];
    google__protobuf__any__init(any);
    any->type_url = (char *)xg_stub_type(t)->type_url;
    any->value.data = r->data; /* borrowed: serialized before the snapshot can change */
    any->value.len = r->len;
    envoy__service__discovery__v3__resource__init(res);
    res->name = r->name;
    res->version = (char *)r->version;
    res->resource = any;
    o->res_ptrs[o->n] = res;
    o->names[o->n++] = r->name;
}

static int out_remove(delta_out *o, const char *name)
{
    char *copy = strdup(name);
    if (copy == NULL)
        return XG_ENOMEM;
    o->removed[o->n_removed++] = copy;
    return 0;
}

static bool interested(const xg_stub_sub *sub, const char *name)
{
    return sub->wildcard || xg_stub_names_find(&sub->names, name) != NULL;
}

/* Fills o with what the client lacks and what it holds that is gone;
 * fresh lists names subscribed just now, reported removed if they do not exist. */
static int diff(const xg_stub_sub *sub, const xg_stub_snapshot *snap, int t, const xg_stub_names *fresh, delta_out *o)
{
    const xg_stub_rset *r = &snap->types[t];
    for (size_t i = 0; i < r->n; i++) {
        const xg_stub_name *k = xg_stub_names_find(&sub->known, r->res[i].name);
        if (interested(sub, r->res[i].name) && (k == NULL || k->val == NULL || strcmp(k->val, r->res[i].version)))
            out_add(o, t, &r->res[i]);
    }
    int rc = 0;
    for (size_t i = 0; i < sub->known.n && rc == 0; i++) {
        if (xg_stub_snapshot_find(snap, t, sub->known.v[i].name) == NULL)
            rc = out_remove(o, sub->known.v[i].name);
    }
    for (size_t i = 0; fresh != NULL && i < fresh->n && rc == 0; i++) {
        const char *name = fresh->v[i].name;
        if (!xg_stub_snapshot_find(snap, t, name) && !xg_stub_names_find(&sub->known, name))
            rc = out_remove(o, name);
    }
    return rc;
}

/* Records that the client now holds what o sent and dropped what o removed. */
static int remember(xg_stub_sub *sub, const delta_out *o)
{
    int rc = 0;
    for (size_t i = 0; i < o->n && rc == 0; i++)
        rc = xg_stub_names_set(&sub->known, o->res[i].name, o->res[i].version);
    for (size_t i = 0; i < o->n_removed; i++)
        xg_stub_names_remove(&sub->known, o->removed[i]);
    return rc;
}

static int send_out(xg_stub_stream *s, int t, const delta_out *o)
{
    const xg_stub_snapshot *snap = xg_stub_stream_snapshot(s);
    xg_stub_sub *sub = &s->subs[t];
    Envoy__Service__Discovery__V3__DeltaDiscoveryResponse resp =
        ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_RESPONSE__INIT;
    char version[24], nonce[24];
    snprintf(version, sizeof(version), "%" PRIu64, snap->types[t].version);
    sub->nonce = xg_stub_stream_nonce(s, nonce, sizeof(nonce));
    sub->sent_version = snap->types[t].version;
    resp.system_version_info = version;
    resp.type_url = (char *)xg_stub_type(t)->type_url;
    resp.nonce = nonce;
    resp.resources = o->res_ptrs;
    resp.n_resources = o->n;
    resp.removed_resources = o->removed;
    resp.n_removed_resources = o->n_removed;
    int rc = xg_stub_stream_send(s, &resp.base);
    log_response(s, t, sub->sent_version, nonce, o);
    return rc;
}

/* Sends the difference, if any (force: even an empty one, so that a new
 * wildcard subscriber learns the type's current state). */
static int respond(xg_stub_stream *s, int t, bool force, const xg_stub_names *fresh)
{
    const xg_stub_snapshot *snap = xg_stub_stream_snapshot(s);
    xg_stub_sub *sub = &s->subs[t];
    delta_out o;
    int rc = out_init(&o, snap->types[t].n, sub->known.n + (fresh ? fresh->n : 0));
    if (rc == 0)
        rc = diff(sub, snap, t, fresh, &o);
    if (rc == 0 && (o.n > 0 || o.n_removed > 0 || force))
        rc = send_out(s, t, &o);
    if (rc == 0)
        rc = remember(sub, &o);
    out_dispose(&o);
    return rc;
}

static int take_initial_versions(xg_stub_sub *sub, const delta_request *req)
{
    int rc = 0;
    for (size_t i = 0; i < req->n_initial_resource_versions && rc == 0; i++)
        rc = xg_stub_names_set(&sub->known, req->initial_resource_versions[i]->key,
                               req->initial_resource_versions[i]->value);
    return rc;
}

/* Applies subscribe and unsubscribe ("*" turns wildcard on or off); names
 * subscribed just now go to fresh. */
static int apply_subscriptions(xg_stub_sub *sub, const delta_request *req, xg_stub_names *fresh)
{
    int rc = 0;
    for (size_t i = 0; i < req->n_resource_names_subscribe && rc == 0; i++) {
        const char *name = req->resource_names_subscribe[i];
        if (strcmp(name, "*") == 0)
            sub->wildcard = true;
        else if (xg_stub_names_find(&sub->names, name) == NULL)
            rc = xg_stub_names_set(&sub->names, name, NULL) ? XG_ENOMEM : xg_stub_names_set(fresh, name, NULL);
    }
    for (size_t i = 0; i < req->n_resource_names_unsubscribe; i++) {
        const char *name = req->resource_names_unsubscribe[i];
        if (strcmp(name, "*") == 0)
            sub->wildcard = false;
        xg_stub_names_remove(&sub->names, name);
        xg_stub_names_remove(&sub->known, name); /* the client drops it */
    }
    return rc;
}

static int handle(xg_stub_stream *s, int t, const delta_request *req)
{
    xg_stub_sub *sub = &s->subs[t];
    bool first = !sub->active;
    int rc = 0;
    if (first) {
        sub->active = true;
        sub->wildcard = xg_stub_type(t)->wildcard && req->n_resource_names_subscribe == 0;
        rc = take_initial_versions(sub, req);
    } else if (req->response_nonce[0] != '\0') {
        char last[24];
        snprintf(last, sizeof(last), "%" PRIu64, sub->nonce);
        if (strcmp(last, req->response_nonce) == 0)
            log_ack(s, req, sub);
        else
            log_note(s, "stale", req, "nonce is not the last one sent for this type; subscriptions still applied");
    }
    xg_stub_names fresh;
    xg_stub_names_init(&fresh);
    if (rc == 0)
        rc = apply_subscriptions(sub, req, &fresh);
    if (rc == 0)
        rc = respond(s, t, first && sub->wildcard, &fresh);
    xg_stub_names_dispose(&fresh);
    return rc;
}

void xg_stub_delta_on_request(xg_stub_stream *s, const uint8_t *data, size_t len)
{
    delta_request *req = envoy__service__discovery__v3__delta_discovery_request__unpack(NULL, len, data);
    if (req == NULL) {
        (void)xg_jlog_msg(xg_stub_stream_log(s), "bad_request", "malformed DeltaDiscoveryRequest; stream ended");
        xg_stub_stream_finish(s, GRPC_STATUS_INVALID_ARGUMENT, "malformed DeltaDiscoveryRequest");
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
    envoy__service__discovery__v3__delta_discovery_request__free_unpacked(req, NULL);
}

void xg_stub_delta_on_snapshot(xg_stub_stream *s)
{
    for (int i = 0; i < XG_STUB_NTYPES; i++) {
        int t = xg_stub_push_order[i];
        if (s->subs[t].active && respond(s, t, false, NULL) != 0)
            xg_stub_stream_finish(s, GRPC_STATUS_INTERNAL, "out of memory");
    }
}
