/* Unit tests for the ADS protocol logic (src/xds/ads_sotw.c, ads_delta.c,
 * ads_sub.c) without a network: responses are fed straight to the protocol
 * code on a stream whose send slot is held busy, so every request it writes
 * stays queued and is decoded here. Covers what the stub cannot produce:
 * unknown type URLs, Resource wrappers in SotW, bad wrappers, wildcard
 * transitions, delta version bookkeeping, the NACK text limits. */
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>

#include "core/error.h"
#include "xds/ads_int.h"
#include "xg_test.h"

typedef Envoy__Service__Discovery__V3__DiscoveryRequest sotw_req;
typedef Envoy__Service__Discovery__V3__DeltaDiscoveryRequest delta_req;

#define LDS_URL "type.googleapis.com/envoy.config.listener.v3.Listener"
#define CDS_URL "type.googleapis.com/envoy.config.cluster.v3.Cluster"
#define EDS_URL "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"

/* What the handler saw and what it should answer (single-threaded here). */
typedef struct seen {
    xg_ads *a;
    int calls;
    xg_xds_response last;
    char name0[64], version0[64], url0[128], data0[64], removed0[64]; /* r's pointers are borrowed: copies */
    const char *nack;                                                 /* NACK every response with this text */
    bool subscribe_eds;                                               /* on CDS: subscribe EDS "e1" */
} seen;

static int on_response(void *ctx, const xg_xds_response *r, xg_buf *nack)
{
    seen *s = ctx;
    s->calls++;
    s->last = *r;
    s->name0[0] = s->version0[0] = s->url0[0] = s->data0[0] = '\0';
    snprintf(s->removed0, sizeof(s->removed0), "%s", r->n_removed > 0 ? r->removed[0] : "");
    if (r->n_resources > 0) {
        const xg_xds_resource *x = &r->resources[0];
        snprintf(s->name0, sizeof(s->name0), "%s", x->name ? x->name : "(null)");
        snprintf(s->version0, sizeof(s->version0), "%s", x->version ? x->version : "(null)");
        snprintf(s->url0, sizeof(s->url0), "%s", x->type_url);
        snprintf(s->data0, sizeof(s->data0), "%.*s", (int)x->len, (const char *)x->data);
    }
    if (s->subscribe_eds && r->type == XG_XDS_CDS) {
        const char *n[1] = {"e1"};
        xg_ads_subscribe(s->a, XG_XDS_EDS, n, 1);
    }
    if (s->nack != NULL) {
        xg_buf_puts(nack, s->nack);
        return XG_EINVAL;
    }
    return 0;
}

static xg_ads *open_ads(seen *s, bool delta)
{
    memset(s, 0, sizeof(*s));
    xg_ads_options o = {.server = "127.0.0.1:1", .delta = delta, .node_id = "n1"};
    xg_ads_handler h = {on_response, NULL, s};
    return xg_ads_new(&o, &h, &s->a) == 0 ? s->a : NULL;
}

/* A stream with no call: its send slot is marked busy, so requests queue up. */
static xg__ads_stream *fake_stream(xg_ads *a)
{
    xg__ads_stream *st = calloc(1, sizeof(*st));
    st->a = a;
    st->out_tail = &st->out;
    st->sending = true;
    a->st = st;
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        xg__ads_sub_reset_stream(&a->subs[t]);
    return st;
}

static void drop_stream(xg_ads *a, xg__ads_stream *st)
{
    while (st->out != NULL) {
        xg__ads_out *o = st->out;
        st->out = o->next;
        grpc_byte_buffer_destroy(o->bb);
        free(o);
    }
    a->st = NULL;
    free(st);
}

/* The oldest queued request's bytes (caller unrefs), or an empty slice. */
static grpc_slice pop_bytes(xg__ads_stream *st)
{
    xg__ads_out *o = st->out;
    if (o == NULL)
        return grpc_empty_slice();
    if ((st->out = o->next) == NULL)
        st->out_tail = &st->out;
    grpc_byte_buffer_reader r;
    grpc_byte_buffer_reader_init(&r, o->bb);
    grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    grpc_byte_buffer_destroy(o->bb);
    free(o);
    return sl;
}

static sotw_req *pop_sotw(xg__ads_stream *st)
{
    grpc_slice sl = pop_bytes(st);
    sotw_req *r =
        envoy__service__discovery__v3__discovery_request__unpack(NULL, GRPC_SLICE_LENGTH(sl), GRPC_SLICE_START_PTR(sl));
    grpc_slice_unref(sl);
    return r;
}

static delta_req *pop_delta(xg__ads_stream *st)
{
    grpc_slice sl = pop_bytes(st);
    delta_req *r = envoy__service__discovery__v3__delta_discovery_request__unpack(NULL, GRPC_SLICE_LENGTH(sl),
                                                                                  GRPC_SLICE_START_PTR(sl));
    grpc_slice_unref(sl);
    return r;
}

static void free_sotw(sotw_req *r)
{
    if (r != NULL)
        envoy__service__discovery__v3__discovery_request__free_unpacked(r, NULL);
}

static void free_delta(delta_req *r)
{
    if (r != NULL)
        envoy__service__discovery__v3__delta_discovery_request__free_unpacked(r, NULL);
}

static bool has_requests(const xg__ads_stream *st)
{
    return st->out != NULL;
}

/* Feeds a SotW response of n Anys to the protocol code. */
static void feed_sotw(xg_ads *a, const char *url, const char *version, const char *nonce, Google__Protobuf__Any **anys,
                      size_t n)
{
    Envoy__Service__Discovery__V3__DiscoveryResponse r = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_RESPONSE__INIT;
    r.type_url = (char *)url;
    r.version_info = (char *)version;
    r.nonce = (char *)nonce;
    r.resources = anys;
    r.n_resources = n;
    size_t len = protobuf_c_message_get_packed_size(&r.base);
    uint8_t *buf = malloc(len + 1);
    protobuf_c_message_pack(&r.base, buf);
    xg__ads_sotw_on_message(a, a->st, buf, len);
    free(buf);
}

static void any_init(Google__Protobuf__Any *any, const char *url, const void *data, size_t len)
{
    google__protobuf__any__init(any);
    any->type_url = (char *)url;
    any->value.data = (uint8_t *)data;
    any->value.len = len;
}

static bool names_eq(char **v, size_t n, const char *a, const char *b)
{
    size_t want = (a != NULL) + (b != NULL);
    return n == want && (a == NULL || strcmp(v[0], a) == 0) && (b == NULL || strcmp(v[1], b) == 0);
}

XG_TEST(sotw_first_requests_node_and_order)
{
    seen s;
    xg_ads *a = open_ads(&s, false);
    if (!CHECK(a != NULL))
        return;
    xg__ads_stream *st = fake_stream(a);
    xg__ads_flush(a);
    sotw_req *cds = pop_sotw(st), *lds = pop_sotw(st);
    CHECK(cds && strcmp(cds->type_url, CDS_URL) == 0 && cds->n_resource_names == 0);
    CHECK(lds && strcmp(lds->type_url, LDS_URL) == 0 && lds->n_resource_names == 0);
    CHECK(!has_requests(st)); /* RDS/EDS/SDS: nothing until names are wanted */
    if (CHECK(cds && cds->node != NULL)) {
        CHECK_STR(cds->node->id, "n1");
        CHECK_STR(cds->node->user_agent_name, "xdsgate");
        CHECK(cds->node->n_client_features == 1 &&
              strcmp(cds->node->client_features[0], "xds.config.resource-in-sotw") == 0);
    }
    CHECK(lds && lds->node == NULL); /* the node goes on the first request of a stream only */
    free_sotw(cds);
    free_sotw(lds);
    drop_stream(a, st);
    xg_ads_free(a);
}

XG_TEST(sotw_unknown_type_url_is_nacked_and_sanitised)
{
    seen s;
    xg_ads *a = open_ads(&s, false);
    if (!CHECK(a != NULL))
        return;
    xg__ads_stream *st = fake_stream(a);
    st->sent_node = true;
    feed_sotw(a,
              "type.googleapis.com/foo.\xff"
              "Bar",
              "9", "n7", NULL, 0);
    CHECK_EQ_INT(s.calls, 0);
    sotw_req *r = pop_sotw(st);
    if (CHECK(r != NULL) && CHECK(r->error_detail != NULL)) {
        CHECK_STR(r->type_url, "type.googleapis.com/foo.?Bar");
        CHECK_STR(r->response_nonce, "n7");
        CHECK_STR(r->version_info, "");
        CHECK_EQ_INT(r->error_detail->code, 3);
        CHECK(strstr(r->error_detail->message, "unknown type_url") != NULL);
    }
    free_sotw(r);
    drop_stream(a, st);
    xg_ads_free(a);
}

XG_TEST(sotw_resource_wrapper_is_unwrapped)
{
    seen s;
    xg_ads *a = open_ads(&s, false);
    if (!CHECK(a != NULL))
        return;
    xg__ads_stream *st = fake_stream(a);
    Google__Protobuf__Any inner, outer, plain, *anys[2] = {&outer, &plain};
    any_init(&inner, LDS_URL, "abc", 3);
    Envoy__Service__Discovery__V3__Resource w = ENVOY__SERVICE__DISCOVERY__V3__RESOURCE__INIT;
    w.name = "l1";
    w.version = "v7";
    w.resource = &inner;
    uint8_t wbuf[256];
    size_t wlen = protobuf_c_message_pack(&w.base, wbuf);
    any_init(&outer, "type.googleapis.com/envoy.service.discovery.v3.Resource", wbuf, wlen);
    any_init(&plain, LDS_URL, "xyz", 3);
    feed_sotw(a, LDS_URL, "1", "n1", anys, 2);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(s.last.n_resources, 2);
    CHECK_STR(s.name0, "l1");
    CHECK_STR(s.version0, "v7");
    CHECK_STR(s.url0, LDS_URL);
    CHECK_STR(s.data0, "abc");
    /* a wrapper that does not decode: NACK, the handler is not called, the version stays */
    uint8_t junk[] = {0xff, 0xff, 0xff};
    any_init(&outer, "type.googleapis.com/envoy.service.discovery.v3.Resource", junk, sizeof(junk));
    feed_sotw(a, LDS_URL, "2", "n2", anys, 1);
    CHECK_EQ_INT(s.calls, 1);
    sotw_req *r = NULL;
    while (has_requests(st)) {
        free_sotw(r);
        r = pop_sotw(st);
    }
    if (CHECK(r && r->error_detail)) {
        CHECK_STR(r->version_info, "1");
        CHECK_STR(r->response_nonce, "n2");
        CHECK(strstr(r->error_detail->message, "resources[0]") != NULL);
    }
    free_sotw(r);
    drop_stream(a, st);
    xg_ads_free(a);
}

XG_TEST(sotw_ack_nack_versions_and_subscriptions_after_ack)
{
    seen s;
    xg_ads *a = open_ads(&s, false);
    if (!CHECK(a != NULL))
        return;
    xg__ads_stream *st = fake_stream(a);
    xg__ads_flush(a);
    free_sotw(pop_sotw(st));
    free_sotw(pop_sotw(st));
    s.subscribe_eds = true;
    feed_sotw(a, CDS_URL, "1", "a", NULL, 0);
    sotw_req *ack = pop_sotw(st), *eds = pop_sotw(st);
    CHECK(ack && strcmp(ack->type_url, CDS_URL) == 0 && strcmp(ack->version_info, "1") == 0);
    CHECK(ack && strcmp(ack->response_nonce, "a") == 0 && ack->error_detail == NULL);
    CHECK(eds && strcmp(eds->type_url, EDS_URL) == 0 &&
          names_eq(eds->resource_names, eds->n_resource_names, "e1", NULL));
    free_sotw(ack);
    free_sotw(eds);
    CHECK(!has_requests(st)); /* same names again: no new EDS request */
    s.nack = "bad cluster";
    feed_sotw(a, CDS_URL, "2", "b", NULL, 0);
    sotw_req *nack = pop_sotw(st);
    CHECK(nack && strcmp(nack->version_info, "1") == 0 && strcmp(nack->response_nonce, "b") == 0);
    CHECK(nack && nack->error_detail && strcmp(nack->error_detail->message, "bad cluster") == 0);
    free_sotw(nack);
    /* an EDS subscription change carries the last nonce and version of EDS */
    s.nack = NULL;
    feed_sotw(a, EDS_URL, "5", "c", NULL, 0);
    free_sotw(pop_sotw(st));
    const char *two[2] = {"e2", "e1"};
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_EDS, two, 2), 0);
    sotw_req *chg = pop_sotw(st);
    CHECK(chg && strcmp(chg->version_info, "5") == 0 && strcmp(chg->response_nonce, "c") == 0);
    CHECK(chg && names_eq(chg->resource_names, chg->n_resource_names, "e1", "e2"));
    free_sotw(chg);
    /* names to empty: an empty request unsubscribes */
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_EDS, NULL, 0), 0);
    sotw_req *un = pop_sotw(st);
    CHECK(un && strcmp(un->type_url, EDS_URL) == 0 && un->n_resource_names == 0);
    free_sotw(un);
    drop_stream(a, st);
    xg_ads_free(a);
}

XG_TEST(sotw_wildcard_after_names_is_a_star)
{
    seen s;
    xg_ads *a = open_ads(&s, false);
    if (!CHECK(a != NULL))
        return;
    xg__ads_stream *st = fake_stream(a);
    xg__ads_flush(a);
    free_sotw(pop_sotw(st));
    free_sotw(pop_sotw(st));
    const char *one[1] = {"x"};
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_LDS, one, 1), 0);
    sotw_req *r1 = pop_sotw(st);
    CHECK(r1 && names_eq(r1->resource_names, r1->n_resource_names, "x", NULL));
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_LDS, NULL, 0), 0);
    sotw_req *r2 = pop_sotw(st);
    CHECK(r2 && names_eq(r2->resource_names, r2->n_resource_names, "*", NULL));
    free_sotw(r1);
    free_sotw(r2);
    drop_stream(a, st);
    /* a new stream starts again with the legacy empty list */
    st = fake_stream(a);
    xg__ads_flush(a);
    sotw_req *c = pop_sotw(st), *l = pop_sotw(st);
    CHECK(l && strcmp(l->type_url, LDS_URL) == 0 && l->n_resource_names == 0);
    CHECK(c && c->node != NULL);
    free_sotw(c);
    free_sotw(l);
    drop_stream(a, st);
    xg_ads_free(a);
}

/* Feeds a delta response: resources name@version (type url), removed names. */
static void feed_delta(xg_ads *a, const char *url, const char *nonce, const char *const *nv, size_t n,
                       const char *const *removed, size_t n_removed)
{
    Envoy__Service__Discovery__V3__DeltaDiscoveryResponse r =
        ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_RESPONSE__INIT;
    Envoy__Service__Discovery__V3__Resource res[8], *ptrs[8];
    Google__Protobuf__Any anys[8];
    for (size_t i = 0; i < n; i++) {
        envoy__service__discovery__v3__resource__init(&res[i]);
        any_init(&anys[i], url, "", 0);
        res[i].name = (char *)nv[2 * i];
        res[i].version = (char *)nv[2 * i + 1];
        res[i].resource = &anys[i];
        ptrs[i] = &res[i];
    }
    r.type_url = (char *)url;
    r.nonce = (char *)nonce;
    r.system_version_info = "sys";
    r.resources = ptrs;
    r.n_resources = n;
    r.removed_resources = (char **)removed;
    r.n_removed_resources = n_removed;
    size_t len = protobuf_c_message_get_packed_size(&r.base);
    uint8_t *buf = malloc(len + 1);
    protobuf_c_message_pack(&r.base, buf);
    xg__ads_delta_on_message(a, a->st, buf, len);
    free(buf);
}

static bool delta_lists(const delta_req *r, const char *sub, const char *unsub)
{
    return r != NULL && names_eq(r->resource_names_subscribe, r->n_resource_names_subscribe, sub, NULL) &&
           names_eq(r->resource_names_unsubscribe, r->n_resource_names_unsubscribe, unsub, NULL);
}

XG_TEST(delta_subscription_diffs_and_wildcard_star)
{
    seen s;
    xg_ads *a = open_ads(&s, true);
    if (!CHECK(a != NULL))
        return;
    xg__ads_stream *st = fake_stream(a);
    xg__ads_flush(a);
    delta_req *c = pop_delta(st), *l = pop_delta(st);
    CHECK(c && c->node && strcmp(c->type_url, CDS_URL) == 0 && delta_lists(c, NULL, NULL));
    CHECK(l && l->node == NULL && strcmp(l->type_url, LDS_URL) == 0 && delta_lists(l, NULL, NULL));
    free_delta(c);
    free_delta(l);
    const char *ab[2] = {"a", "b"}, *bc[2] = {"c", "b"}, *x[1] = {"x"};
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_EDS, ab, 2), 0);
    delta_req *r = pop_delta(st);
    CHECK(r && names_eq(r->resource_names_subscribe, r->n_resource_names_subscribe, "a", "b"));
    free_delta(r);
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_EDS, bc, 2), 0);
    r = pop_delta(st);
    CHECK(delta_lists(r, "c", "a") && strcmp(r->response_nonce, "") == 0);
    free_delta(r);
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_CDS, x, 1), 0);
    r = pop_delta(st);
    CHECK(delta_lists(r, "x", "*"));
    free_delta(r);
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_CDS, NULL, 0), 0);
    r = pop_delta(st);
    CHECK(delta_lists(r, "*", "x"));
    free_delta(r);
    CHECK(!has_requests(st));
    drop_stream(a, st);
    xg_ads_free(a);
}

static const char *irv(const delta_req *r, const char *name)
{
    for (size_t i = 0; r != NULL && i < r->n_initial_resource_versions; i++) {
        if (strcmp(r->initial_resource_versions[i]->key, name) == 0)
            return r->initial_resource_versions[i]->value;
    }
    return NULL;
}

XG_TEST(delta_versions_follow_acks_only)
{
    seen s;
    xg_ads *a = open_ads(&s, true);
    if (!CHECK(a != NULL))
        return;
    const char *abc[3] = {"a", "b", "c"};
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_EDS, abc, 3), 0);
    xg__ads_stream *st = fake_stream(a);
    xg__ads_flush(a);
    while (has_requests(st))
        free_delta(pop_delta(st));
    const char *v1[4] = {"a", "1", "b", "1"}, *v2[2] = {"c", "1"}, *gone[1] = {"a"};
    feed_delta(a, EDS_URL, "n1", v1, 2, NULL, 0);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_STR(s.name0, "a");
    CHECK_STR(s.version0, "1");
    delta_req *ack = pop_delta(st);
    CHECK(ack && strcmp(ack->response_nonce, "n1") == 0 && ack->error_detail == NULL && delta_lists(ack, NULL, NULL));
    free_delta(ack);
    feed_delta(a, EDS_URL, "n2", NULL, 0, gone, 1);
    CHECK(s.last.n_removed == 1 && strcmp(s.removed0, "a") == 0);
    free_delta(pop_delta(st));
    s.nack = "no";
    feed_delta(a, EDS_URL, "n3", v2, 1, NULL, 0);
    delta_req *nack = pop_delta(st);
    CHECK(nack && nack->error_detail && strcmp(nack->error_detail->message, "no") == 0);
    free_delta(nack);
    drop_stream(a, st);
    /* reconnect: only b is held (a removed, c NACKed) */
    st = fake_stream(a);
    xg__ads_flush(a);
    delta_req *first = NULL;
    while (has_requests(st)) {
        delta_req *r = pop_delta(st);
        if (r && strcmp(r->type_url, EDS_URL) == 0 && first == NULL)
            first = r;
        else
            free_delta(r);
    }
    CHECK(first && first->n_initial_resource_versions == 1 && irv(first, "b") && strcmp(irv(first, "b"), "1") == 0);
    CHECK(first && first->n_resource_names_subscribe == 3);
    free_delta(first);
    drop_stream(a, st);
    /* unsubscribing b forgets it */
    const char *only_c[1] = {"c"};
    CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_EDS, only_c, 1), 0);
    CHECK_EQ_INT(a->subs[XG_XDS_EDS].have.n, 0);
    xg_ads_free(a);
}

XG_TEST(version_map_survives_many_puts_and_deletes)
{
    xg__ads_vmap m = {0};
    char name[32], ver[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        snprintf(ver, sizeof(ver), "v%d", i);
        CHECK_EQ_INT(xg__ads_vmap_put(&m, name, ver), 0);
    }
    for (int i = 1; i < 10000; i += 2) {
        snprintf(name, sizeof(name), "r%d", i);
        xg__ads_vmap_del(&m, name);
    }
    CHECK_EQ_INT(m.n, 5000);
    int found = 0, wrong = 0;
    for (size_t i = 0; i < m.cap; i++) {
        if (m.slots[i].name == NULL)
            continue;
        found++;
        int k = atoi(m.slots[i].name + 1);
        snprintf(ver, sizeof(ver), "v%d", k);
        wrong += k % 2 != 0 || strcmp(ver, m.slots[i].version) != 0;
    }
    CHECK_EQ_INT(found, 5000);
    CHECK_EQ_INT(wrong, 0);
    /* every even name is still reachable through its probe chain */
    for (int i = 0; i < 10000; i += 2) {
        snprintf(name, sizeof(name), "r%d", i);
        CHECK_EQ_INT(xg__ads_vmap_put(&m, name, "again"), 0);
    }
    CHECK_EQ_INT(m.n, 5000);
    xg__ads_vmap_dispose(&m);
}

XG_TEST(nack_text_is_valid_utf8_and_capped)
{
    xg_buf b;
    xg_buf_init(&b);
    xg_buf_puts(&b, "ok \xc3\xa9 bad \xff \xc0\xaf \xed\xa0\x80 end \xe2\x82");
    xg__ads_fix_utf8(&b);
    CHECK_STR(b.data, "ok \xc3\xa9 bad ? ?? ??? end ??");
    xg_buf_reset(&b);
    for (int i = 0; i < 40000; i++)
        xg_buf_puts(&b, "\xc3\xa9");
    xg__ads_cap_message(&b);
    CHECK(b.len < 65536 + 64);
    CHECK(strstr(b.data, "more bytes cut") != NULL);
    xg_buf_dispose(&b);
}
