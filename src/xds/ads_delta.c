/* Delta (incremental) ADS (DeltaAggregatedResources): the first request of a
 * type on each stream carries the full subscription and, after a reconnect,
 * initial_resource_versions (what the client holds from ACKed responses);
 * later requests carry only subscribe/unsubscribe differences. An ACK is
 * {type_url, response_nonce} plus any pending difference; a NACK adds
 * error_detail and records nothing. LDS/CDS wildcard is the legacy empty
 * first request, and "*" when it is switched on or off mid-stream.
 * xds thread only. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/ads_int.h"

typedef Envoy__Service__Discovery__V3__DeltaDiscoveryRequest delta_request;
typedef Envoy__Service__Discovery__V3__DeltaDiscoveryResponse delta_response;
typedef Envoy__Service__Discovery__V3__DeltaDiscoveryRequest__InitialResourceVersionsEntry version_entry;

/* The variable parts of one request; names are borrowed from the sub. */
typedef struct delta_lists {
    char **sub;
    size_t n_sub;
    char **unsub;
    size_t n_unsub;
    version_entry *ents;
    version_entry **ent_ptrs;
    size_t n_ents;
} delta_lists;

static void lists_dispose(delta_lists *l)
{
    free(l->sub);
    free(l->unsub);
    free(l->ents);
    free(l->ent_ptrs);
}

/* initial_resource_versions: every resource held, for the stream's first request of the type. */
static int fill_versions(const xg__ads_vmap *m, delta_lists *l)
{
    l->ents = calloc(m->n + 1, sizeof(*l->ents));
    l->ent_ptrs = calloc(m->n + 1, sizeof(*l->ent_ptrs));
    if (l->ents == NULL || l->ent_ptrs == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].name == NULL)
            continue;
        version_entry *e = &l->ents[l->n_ents];
        envoy__service__discovery__v3__delta_discovery_request__initial_resource_versions_entry__init(e);
        e->key = m->slots[i].name;
        e->value = m->slots[i].version;
        l->ent_ptrs[l->n_ents++] = e;
    }
    return 0;
}

/* What the stream must be told to move from told_* to want. */
static int build_lists(const xg__ads_sub *sub, xg_xds_type t, delta_lists *l)
{
    bool wc = xg__ads_sub_want_wildcard(sub, t);
    memset(l, 0, sizeof(*l));
    l->sub = calloc(sub->want.n + 2, sizeof(char *));
    l->unsub = calloc(sub->told_names.n + 2, sizeof(char *));
    if (l->sub == NULL || l->unsub == NULL)
        return XG_ENOMEM;
    if (!sub->told) { /* the whole subscription; a wildcard is the legacy empty list */
        for (size_t i = 0; i < sub->want.n; i++)
            l->sub[l->n_sub++] = sub->want.v[i];
        return fill_versions(&sub->have, l);
    }
    if (wc && !sub->told_wildcard)
        l->sub[l->n_sub++] = "*";
    if (!wc && sub->told_wildcard)
        l->unsub[l->n_unsub++] = "*";
    for (size_t i = 0; i < sub->want.n; i++) {
        if (!xg__ads_names_has(&sub->told_names, sub->want.v[i]))
            l->sub[l->n_sub++] = sub->want.v[i];
    }
    for (size_t i = 0; i < sub->told_names.n; i++) {
        if (!xg__ads_names_has(&sub->want, sub->told_names.v[i]))
            l->unsub[l->n_unsub++] = sub->told_names.v[i];
    }
    return 0;
}

/* One request for t: the pending subscription difference, plus the ACK or
 * NACK of nonce when nonce is non-NULL. */
static int send_request(xg_ads *a, xg__ads_stream *s, xg_xds_type t, const char *nonce, const xg_buf *nack)
{
    xg__ads_sub *sub = &a->subs[t];
    delta_request req = ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_REQUEST__INIT;
    Envoy__Config__Core__V3__Node node;
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    char *features[1];
    delta_lists l;
    int rc = build_lists(sub, t, &l);
    if (rc != 0)
        goto done;
    req.type_url = (char *)xg_xds_type_url(t);
    req.response_nonce = nonce != NULL ? (char *)nonce : "";
    req.resource_names_subscribe = l.sub;
    req.n_resource_names_subscribe = l.n_sub;
    req.resource_names_unsubscribe = l.unsub;
    req.n_resource_names_unsubscribe = l.n_unsub;
    req.initial_resource_versions = l.ent_ptrs;
    req.n_initial_resource_versions = l.n_ents;
    if (!s->sent_node) {
        xg__ads_node_fill(a, &node, features);
        req.node = &node;
    }
    if (nack != NULL && nack->len > 0) {
        st.code = 3; /* INVALID_ARGUMENT, as Envoy sends */
        st.message = nack->data;
        req.error_detail = &st;
    }
    if ((rc = xg__ads_stream_send_msg(s, &req.base)) == 0 && (rc = xg__ads_sub_mark_told(sub, t)) == 0) {
        s->sent_node = true;
        xg_log_debug("ads: %s delta request: nonce \"%s\", +%zu -%zu names, %zu initial versions",
                     xg_xds_type_abbrev(t), req.response_nonce, l.n_sub, l.n_unsub, l.n_ents);
    }
done:
    lists_dispose(&l);
    return rc;
}

int xg__ads_delta_request(xg_ads *a, xg__ads_stream *s, xg_xds_type t)
{
    return send_request(a, s, t, NULL, NULL);
}

/* A response of a type we never asked for: NACK it under its own type_url. */
static int nack_unknown(xg_ads *a, xg__ads_stream *s, const delta_response *resp, const xg_buf *nack)
{
    delta_request req = ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_REQUEST__INIT;
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    xg_buf url, nonce;
    xg_buf_init(&url);
    xg_buf_init(&nonce);
    int rc = xg_buf_puts(&url, resp->type_url) || xg_buf_puts(&nonce, resp->nonce) ? XG_ENOMEM : 0;
    if (rc == 0) {
        xg__ads_fix_utf8(&url);
        xg__ads_fix_utf8(&nonce);
        req.type_url = url.data != NULL ? url.data : "";
        req.response_nonce = nonce.data != NULL ? nonce.data : "";
        st.code = 3;
        st.message = nack->data;
        req.error_detail = &st;
        rc = xg__ads_stream_send_msg(s, &req.base);
    }
    xg__ads_log_verdict(XG_XDS_NTYPES, url.data ? url.data : "?", resp->system_version_info, resp->nonce, nack);
    xg_buf_dispose(&url);
    xg_buf_dispose(&nonce);
    return rc;
}

static const char *resource_name(const Envoy__Service__Discovery__V3__Resource *r)
{
    if (r->name[0] == '\0' && r->resource_name != NULL)
        return r->resource_name->name;
    return r->name;
}

/* The handler's view of resp: resources unwrapped, both removal lists as one. */
static int fill_response(const delta_response *resp, xg_xds_resource *res, const char **removed, xg_buf *nack)
{
    for (size_t i = 0; i < resp->n_resources; i++) {
        const Envoy__Service__Discovery__V3__Resource *r = resp->resources[i];
        if (r->resource == NULL) {
            int rc = xg_buf_printf(
                nack, "resources[%zu] \"%s\": Resource without a resource (resource TTLs are not supported)", i,
                resource_name(r));
            return rc != 0 ? rc : XG_EINVAL;
        }
        res[i] = (xg_xds_resource){resource_name(r), r->version, r->resource->type_url, r->resource->value.data,
                                   r->resource->value.len};
    }
    for (size_t i = 0; i < resp->n_removed_resources; i++)
        removed[i] = resp->removed_resources[i];
    for (size_t i = 0; i < resp->n_removed_resource_names; i++)
        removed[resp->n_removed_resources + i] = resp->removed_resource_names[i]->name;
    return 0;
}

static int deliver(xg_ads *a, xg_xds_type t, const delta_response *resp, xg_buf *nack)
{
    size_t n_removed = resp->n_removed_resources + resp->n_removed_resource_names;
    xg_xds_resource *res = calloc(resp->n_resources + 1, sizeof(*res));
    const char **removed = calloc(n_removed + 1, sizeof(*removed));
    int rc = res && removed ? fill_response(resp, res, removed, nack) : XG_ENOMEM;
    if (rc == 0) {
        xg_xds_response r = {t,       true,     resp->system_version_info, resp->nonce, res, resp->n_resources,
                             removed, n_removed};
        rc = xg__ads_call_handler(a, &r, nack);
    } else if (rc == XG_EINVAL) {
        xg__ads_cap_message(nack);
        rc = 0;
    }
    free(res);
    free(removed);
    return rc;
}

/* An ACKed response: the versions the client now holds, for the next stream's
 * initial_resource_versions. Resources outside the subscription are not kept. */
static int record(xg__ads_sub *sub, xg_xds_type t, const delta_response *resp)
{
    bool wc = xg__ads_sub_want_wildcard(sub, t);
    int rc = 0;
    for (size_t i = 0; i < resp->n_resources && rc == 0; i++) {
        const Envoy__Service__Discovery__V3__Resource *r = resp->resources[i];
        if (wc || xg__ads_names_has(&sub->want, resource_name(r)))
            rc = xg__ads_vmap_put(&sub->have, resource_name(r), r->version);
    }
    for (size_t i = 0; i < resp->n_removed_resources; i++)
        xg__ads_vmap_del(&sub->have, resp->removed_resources[i]);
    for (size_t i = 0; i < resp->n_removed_resource_names; i++)
        xg__ads_vmap_del(&sub->have, resp->removed_resource_names[i]->name);
    return rc;
}

/* As in SotW, subscription changes made by the handler ride on the ACK (for
 * this type) or follow it (other types). */
static int handle(xg_ads *a, xg__ads_stream *s, xg_xds_type t, const delta_response *resp, xg_buf *nack)
{
    xg__ads_sub *sub = &a->subs[t];
    a->in_response++;
    int rc = xg__ads_set_str(&sub->nonce, resp->nonce);
    if (rc == 0)
        rc = deliver(a, t, resp, nack);
    if (rc == 0 && nack->len == 0)
        rc = record(sub, t, resp);
    if (rc == 0)
        rc = send_request(a, s, t, resp->nonce, nack);
    a->in_response--;
    if (rc == 0)
        xg__ads_log_verdict(t, NULL, resp->system_version_info, resp->nonce, nack);
    xg__ads_flush(a);
    return rc;
}

void xg__ads_delta_on_message(xg_ads *a, xg__ads_stream *s, const uint8_t *data, size_t len)
{
    delta_response *resp = envoy__service__discovery__v3__delta_discovery_response__unpack(NULL, len, data);
    if (resp == NULL) {
        xg_log_error("ads: undecodable DeltaDiscoveryResponse (%zu bytes); ending the stream", len);
        xg__ads_stream_abort(s, GRPC_STATUS_INTERNAL, "undecodable DeltaDiscoveryResponse");
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
        xg_log_error("ads: cannot answer a %s delta response: %s", resp->type_url, xg_strerror(rc));
    xg_buf_dispose(&nack);
    envoy__service__discovery__v3__delta_discovery_response__free_unpacked(resp, NULL);
}
