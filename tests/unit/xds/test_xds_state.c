/* Unit tests for the xDS client state (src/xds/xds_state*.c and friends),
 * driven through its ADS handler with a fake transport (subscriptions and
 * timers recorded), fake clocks and small fake translators, so that the
 * state's own rules are tested independently of the real translators:
 * gRFC A46 partial apply, the NACK text, identical re-sends, SotW deletion,
 * delta removal, subscriptions following the config, duplicates, unknown
 * fields, warming with its timeout, readiness and duplicate addresses. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "xds/pbjson.h"
#include "xds/xds_state.h"
#include "xg_test.h"

/* --- fakes: clocks, transport, sink (test-binary state) --- */

static int64_t fake_mono = 1000000, fake_wall = 1700000000000;
static int64_t mono(void)
{
    return fake_mono;
}
static int64_t wall(void)
{
    return fake_wall;
}

typedef struct fake {
    xg_xds_state *st;
    xg_ads_handler h;
    char subs[XG_XDS_NTYPES][512]; /* last subscription per type, names joined by ',' */
    int n_subscribe[XG_XDS_NTYPES];
    struct {
        int64_t due; /* fake_mono when it fires */
        uint32_t delay;
        void (*fn)(void *);
        void *arg;
    } posts[64];
    int n_posts;
    xg_snapshot *snap; /* last published (one reference) */
    xg_xds_status *status;
    int n_snapshots;
    xg_buf nack;
} fake;

static int fake_subscribe(void *ctx, xg_xds_type t, const char *const *names, size_t n)
{
    fake *f = ctx;
    f->subs[t][0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(f->subs[t], ",");
        strcat(f->subs[t], names[i]);
    }
    f->n_subscribe[t]++;
    return 0;
}

static int fake_post(void *ctx, uint32_t delay_ms, void (*fn)(void *), void *arg)
{
    fake *f = ctx;
    XG_ASSERT(f->n_posts < 64);
    f->posts[f->n_posts].due = fake_mono + delay_ms;
    f->posts[f->n_posts].delay = delay_ms;
    f->posts[f->n_posts].fn = fn;
    f->posts[f->n_posts].arg = arg;
    f->n_posts++;
    return 0;
}

/* Advances the fake clock by ms and fires the posted timers now due, earliest first. */
static void advance(fake *f, int64_t ms)
{
    fake_mono += ms;
    for (;;) {
        int best = -1;
        for (int i = 0; i < f->n_posts; i++)
            if (f->posts[i].due <= fake_mono && (best < 0 || f->posts[i].due < f->posts[best].due))
                best = i;
        if (best < 0)
            return;
        void (*fn)(void *) = f->posts[best].fn;
        void *arg = f->posts[best].arg;
        f->posts[best] = f->posts[--f->n_posts];
        fn(arg);
    }
}

static void fake_publish(void *ctx, xg_snapshot *s, xg_xds_status *st)
{
    fake *f = ctx;
    if (s != NULL) {
        xg_snapshot_unref(f->snap);
        f->snap = s;
        f->n_snapshots++;
    }
    if (st != NULL) {
        xg_xds_status_free(f->status);
        f->status = st;
    }
}

/* --- fake translators: record the dependencies the real ones would, and
 * reject on easily triggered conditions with a path and a reason --- */

typedef Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager hcm_pb;

static int fx_listener(xg_xlate *x, const ProtobufCMessage *m)
{
    const Envoy__Config__Listener__V3__Listener *l = (const void *)m;
    if (strcmp(l->stat_prefix, "reject") == 0) {
        xg_xlate_push(x, "stat_prefix");
        return xg_xlate_fail(x, "rejected by the test translator");
    }
    for (size_t i = 0; i < l->n_filter_chains; i++) {
        for (size_t k = 0; k < l->filter_chains[i]->n_filters; k++) {
            const Google__Protobuf__Any *any = l->filter_chains[i]->filters[k]->typed_config;
            hcm_pb *h = (hcm_pb *)protobuf_c_message_unpack(
                &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor,
                NULL, any->value.len, any->value.data);
            if (h == NULL)
                return xg_xlate_fail(x, "bad hcm");
            if (h->route_specifier_case ==
                ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__ROUTE_SPECIFIER_RDS)
                xg_xlate_dep(x, XG_RES_ROUTE_CONFIG, h->rds->route_config_name);
            protobuf_c_message_free_unpacked(&h->base, NULL);
        }
    }
    return 0;
}

static int fx_route(xg_xlate *x, const ProtobufCMessage *m)
{
    const Envoy__Config__Route__V3__RouteConfiguration *rc = (const void *)m;
    for (size_t i = 0; i < rc->n_virtual_hosts; i++) {
        if (rc->virtual_hosts[i]->n_domains == 0) {
            xg_xlate_push(x, "virtual_hosts");
            xg_xlate_push_index(x, i);
            xg_xlate_push(x, "domains");
            return xg_xlate_fail(x, "must not be empty");
        }
        for (size_t k = 0; k < rc->virtual_hosts[i]->n_routes; k++) {
            const Envoy__Config__Route__V3__Route *r = rc->virtual_hosts[i]->routes[k];
            if (r->route != NULL && r->route->cluster[0] != '\0')
                xg_xlate_dep(x, XG_RES_CLUSTER, r->route->cluster);
        }
    }
    return 0;
}

static int fx_cluster(xg_xlate *x, const ProtobufCMessage *m)
{
    const Envoy__Config__Cluster__V3__Cluster *c = (const void *)m;
    if (c->connect_timeout != NULL && c->connect_timeout->seconds > 100) {
        xg_xlate_push(x, "connect_timeout");
        return xg_xlate_fail(x, "too long");
    }
    if (c->eds_cluster_config != NULL) {
        const char *svc = c->eds_cluster_config->service_name;
        return xg_xlate_dep(x, XG_RES_ENDPOINTS, svc[0] ? svc : c->name);
    }
    return 0;
}

static int fx_none(xg_xlate *x, const ProtobufCMessage *m)
{
    return 0;
}

static const xg_xds_xlate_fn fake_xlate[XG_XDS_NTYPES] = {fx_listener, fx_route, fx_cluster, fx_none, fx_none};

static int n_releases;
static void count_release(void)
{
    n_releases++;
}
static void (*release_hook)(void); /* set by a test before setup() */

static void setup(fake *f, bool delta, bool ignore_unknown)
{
    memset(f, 0, sizeof(*f));
    xg_xds_state_options o = {.server = "127.0.0.1:1",
                              .delta = delta,
                              .ignore_unknown = ignore_unknown,
                              .initial_fetch_timeout_ms = 15000,
                              .xlate = fake_xlate,
                              .mono_ms = mono,
                              .wall_ms = wall,
                              .release_memory = release_hook};
    xg_xds_sink sink = {.publish = fake_publish, .ctx = f};
    XG_ASSERT(xg_xds_state_new(&o, &sink, &f->st) == 0);
    xg_xds_transport t = {.subscribe = fake_subscribe, .post = fake_post, .ctx = f};
    xg_xds_state_set_transport(f->st, &t);
    f->h = xg_xds_state_handler(f->st);
    xg_buf_init(&f->nack);
}

static void teardown(fake *f)
{
    xg_xds_state_free(f->st);
    xg_snapshot_unref(f->snap);
    xg_xds_status_free(f->status);
    xg_buf_dispose(&f->nack);
}

/* --- building responses from YAML --- */

typedef struct resp {
    xg_xds_response r;
    xg_xds_resource res[256];
    uint8_t *bufs[256];
    const char *removed[16];
} resp;

static const ProtobufCMessageDescriptor *const descs[XG_XDS_NTYPES] = {
    &envoy__config__listener__v3__listener__descriptor,
    &envoy__config__route__v3__route_configuration__descriptor,
    &envoy__config__cluster__v3__cluster__descriptor,
    &envoy__config__endpoint__v3__cluster_load_assignment__descriptor,
    &envoy__extensions__transport_sockets__tls__v3__secret__descriptor,
};

static void resp_init(resp *p, xg_xds_type t, const char *version, bool delta)
{
    memset(p, 0, sizeof(*p));
    p->r.type = t;
    p->r.delta = delta;
    p->r.version_info = version;
    p->r.nonce = "n";
    p->r.resources = p->res;
    p->r.removed = p->removed;
}

/* Appends raw bytes as one resource (name: the delta Resource name, or NULL). */
static void resp_raw(resp *p, const char *type_url, const uint8_t *data, size_t len, const char *name)
{
    size_t i = p->r.n_resources++;
    p->bufs[i] = malloc(len + 1);
    memcpy(p->bufs[i], data, len);
    p->res[i] = (xg_xds_resource){
        .name = name, .version = name ? "rv" : NULL, .type_url = type_url, .data = p->bufs[i], .len = len};
}

/* Appends a resource written in YAML, plus extra raw bytes (e.g. an unknown field). */
static void resp_yaml_extra(resp *p, const char *yaml, const uint8_t *extra, size_t nextra)
{
    char err[512];
    ProtobufCMessage *m = NULL;
    if (xg_pbjson_parse(descs[p->r.type], yaml, strlen(yaml), &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "bad test yaml: %s\n", err);
        abort();
    }
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len + nextra + 1);
    protobuf_c_message_pack(m, buf);
    if (nextra > 0)
        memcpy(buf + len, extra, nextra);
    const char *name = NULL;
    if (p->r.delta) {
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(
            m->descriptor, p->r.type == XG_XDS_EDS ? "cluster_name" : "name");
        name = strdup(*(char **)((char *)m + fd->offset)); /* freed by resp_free */
    }
    resp_raw(p, xg_xds_type_url(p->r.type), buf, len + nextra, name);
    free(buf);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void resp_yaml(resp *p, const char *yaml)
{
    resp_yaml_extra(p, yaml, NULL, 0);
}

static void resp_free(resp *p)
{
    for (size_t i = 0; i < p->r.n_resources; i++) {
        free(p->bufs[i]);
        if (p->r.delta)
            free((char *)p->res[i].name);
    }
}

/* Delivers p; returns the handler's answer, the NACK text in f->nack. */
static int deliver(fake *f, resp *p)
{
    xg_buf_reset(&f->nack);
    int rc = f->h.on_response(f->h.ctx, &p->r, &f->nack);
    resp_free(p);
    return rc;
}

static const char *nack_text(fake *f)
{
    return f->nack.data ? f->nack.data : "";
}

#define STATIC_CLUSTER(name) "{name: " name ", type: STATIC, connect_timeout: 1s}"
#define EDS_CLUSTER(name) "{name: " name ", type: EDS, eds_cluster_config: {eds_config: {ads: {}}}}"
#define CLA(name)                                                                                                      \
    "{cluster_name: " name ", endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: "                      \
    "{address: 127.0.0.1, port_value: 8080}}}}]}]}"
#define ROUTE(name, cluster)                                                                                           \
    "{name: " name ", virtual_hosts: [{name: vh, domains: ['*'], routes: [{match: "                                    \
    "{prefix: /}, route: {cluster: " cluster "}}]}]}"

static char *listener_yaml(const char *name, int port, const char *route)
{
    char *y = NULL;
    XG_ASSERT(asprintf(&y,
                       "{name: %s, address: {socket_address: {address: 127.0.0.1, port_value: %d}}, filter_chains: "
                       "[{filters: [{name: hcm, typed_config: {'@type': type.googleapis.com/"
                       "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, "
                       "stat_prefix: s, rds: {route_config_name: %s, config_source: {ads: {}}}}}]}]}",
                       name, port, route) > 0);
    return y;
}

static void send_listener(fake *f, const char *version, const char *name, int port, const char *route, int want_rc)
{
    resp p;
    resp_init(&p, XG_XDS_LDS, version, false);
    char *y = listener_yaml(name, port, route);
    resp_yaml(&p, y);
    free(y);
    CHECK_EQ_INT(deliver(f, &p), want_rc);
}

static bool active(fake *f, xg_res_type t, const char *name)
{
    return f->snap != NULL && xg_snapshot_find(f->snap, t, name) != NULL;
}

/* --- tests --- */

XG_TEST(initial_sync_warms_then_becomes_ready)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    resp_yaml(&p, EDS_CLUSTER("backend"));
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK_STR(f.subs[XG_XDS_EDS], "backend");
    CHECK(!active(&f, XG_RES_CLUSTER, "backend")); /* warming: no CLA yet */
    CHECK_EQ_INT(f.status->types[XG_XDS_CDS].n_warming, 1);
    send_listener(&f, "1", "l1", 10000, "local_route", 0);
    CHECK_STR(f.subs[XG_XDS_RDS], "local_route");
    CHECK(!active(&f, XG_RES_LISTENER, "l1"));
    CHECK(!f.status->ready);
    resp_init(&p, XG_XDS_RDS, "1", false);
    resp_yaml(&p, ROUTE("local_route", "backend"));
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK(active(&f, XG_RES_LISTENER, "l1"));
    CHECK(active(&f, XG_RES_ROUTE_CONFIG, "local_route"));
    CHECK(!f.status->ready); /* the cluster still warms */
    resp_init(&p, XG_XDS_EDS, "1", false);
    resp_yaml(&p, CLA("backend"));
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK(active(&f, XG_RES_CLUSTER, "backend"));
    CHECK(active(&f, XG_RES_ENDPOINTS, "backend"));
    CHECK(f.status->ready);
    CHECK_EQ_INT(f.status->generation, f.snap->generation);
    CHECK_STR(f.status->types[XG_XDS_CDS].acked_version, "1");
    CHECK_EQ_INT(f.status->types[XG_XDS_CDS].n_active, 1);
    CHECK_EQ_INT(f.status->types[XG_XDS_CDS].n_missing, 0);
    xg_res *l = xg_snapshot_find(f.snap, XG_RES_LISTENER, "l1");
    CHECK_STR(l->version, "1");
    CHECK_EQ_INT(l->last_updated_ms, fake_wall);
    CHECK(l->raw_len > 0 && l->hash != 0);
    teardown(&f);
}

XG_TEST(a46_valid_siblings_apply_invalid_keep_old_and_nack_names_each)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    resp_yaml(&p, STATIC_CLUSTER("b"));
    CHECK_EQ_INT(deliver(&f, &p), 0);
    xg_res *old_b = xg_snapshot_find(f.snap, XG_RES_CLUSTER, "b");
    resp_init(&p, XG_XDS_CDS, "2", false);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    resp_yaml(&p, "{name: b, type: STATIC, connect_timeout: 1000s}");
    resp_yaml(&p, "{name: c, type: STATIC, connect_timeout: 999s}");
    resp_yaml(&p, STATIC_CLUSTER("d"));
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "Cluster \"b\": connect_timeout: too long; Cluster \"c\": connect_timeout: too long");
    CHECK(active(&f, XG_RES_CLUSTER, "a"));
    CHECK(active(&f, XG_RES_CLUSTER, "d"));
    CHECK(xg_snapshot_find(f.snap, XG_RES_CLUSTER, "b") == old_b); /* the previous version keeps serving */
    CHECK(!active(&f, XG_RES_CLUSTER, "c"));
    CHECK_STR(f.status->types[XG_XDS_CDS].acked_version, "1");
    CHECK_STR(f.status->types[XG_XDS_CDS].nack_version, "2");
    CHECK_STR(f.status->types[XG_XDS_CDS].nack_message, nack_text(&f));
    CHECK_EQ_INT(f.status->types[XG_XDS_CDS].nack_ms, fake_wall);
    teardown(&f);
}

XG_TEST(identical_resend_is_acked_without_a_new_snapshot)
{
    fake f;
    setup(&f, false, false);
    for (int i = 0; i < 3; i++) {
        resp p;
        resp_init(&p, XG_XDS_CDS, i == 0 ? "1" : "2", false);
        resp_yaml(&p, STATIC_CLUSTER("a"));
        resp_yaml(&p, STATIC_CLUSTER("b"));
        CHECK_EQ_INT(deliver(&f, &p), 0);
    }
    CHECK_EQ_INT(f.n_snapshots, 1);
    CHECK_EQ_INT(f.snap->generation, 1);
    CHECK_STR(f.status->types[XG_XDS_CDS].acked_version, "2");
    CHECK_STR(xg_snapshot_find(f.snap, XG_RES_CLUSTER, "a")->version, "1"); /* the object was kept */
    teardown(&f);
}

XG_TEST(sotw_lds_cds_absence_deletes_rds_eds_absence_does_not)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    resp_yaml(&p, STATIC_CLUSTER("b"));
    deliver(&f, &p);
    send_listener(&f, "1", "l1", 10000, "r1", 0);
    resp_init(&p, XG_XDS_RDS, "1", false);
    resp_yaml(&p, ROUTE("r1", "a"));
    deliver(&f, &p);
    CHECK(active(&f, XG_RES_ROUTE_CONFIG, "r1"));
    resp_init(&p, XG_XDS_CDS, "2", false);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK(active(&f, XG_RES_CLUSTER, "a"));
    CHECK(!active(&f, XG_RES_CLUSTER, "b"));
    resp_init(&p, XG_XDS_RDS, "2", false); /* an RDS response without r1 */
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK(active(&f, XG_RES_ROUTE_CONFIG, "r1"));
    teardown(&f);
}

XG_TEST(sotw_response_with_an_unnamed_resource_deletes_nothing)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    resp_yaml(&p, STATIC_CLUSTER("b"));
    deliver(&f, &p);
    resp_init(&p, XG_XDS_CDS, "2", false);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    resp_raw(&p, xg_xds_type_url(XG_XDS_CDS), (const uint8_t *)"\xff\xff\xff", 3, NULL);
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "Cluster resources[1]: does not decode as envoy.config.cluster.v3.Cluster (malformed "
                             "protobuf)");
    CHECK(active(&f, XG_RES_CLUSTER, "b")); /* it might have been b */
    teardown(&f);
}

XG_TEST(wrong_type_url_is_rejected_alone)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    resp_raw(&p, xg_xds_type_url(XG_XDS_LDS), (const uint8_t *)"", 0, NULL);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "Cluster resources[0]: type_url \"type.googleapis.com/envoy.config.listener.v3.Listener\" "
                             "is not type.googleapis.com/envoy.config.cluster.v3.Cluster, the type of this response");
    CHECK(active(&f, XG_RES_CLUSTER, "a"));
    teardown(&f);
}

XG_TEST(duplicate_names_in_one_response_reject_all_of_them)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    resp_yaml(&p, STATIC_CLUSTER("b"));
    resp_yaml(&p, "{name: a, type: STATIC, connect_timeout: 2s}");
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "Cluster \"a\": duplicate: the response has more than one Cluster of this name; "
                             "Cluster \"a\": duplicate: the response has more than one Cluster of this name");
    CHECK(!active(&f, XG_RES_CLUSTER, "a"));
    CHECK(active(&f, XG_RES_CLUSTER, "b"));
    teardown(&f);
}

/* Field 999, varint 1: a field xdsgate's proto subset does not have. */
static const uint8_t unknown_field[] = {0xb8, 0x3e, 0x01};

XG_TEST(unknown_fields_nack_by_default)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    resp_yaml_extra(&p, STATIC_CLUSTER("a"), unknown_field, sizeof(unknown_field));
    resp_yaml(&p, STATIC_CLUSTER("b"));
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "Cluster \"a\": unknown field number 999 in envoy.config.cluster.v3.Cluster (xdsgate "
                             "does not implement it; --ignore-unknown-fields accepts it with a warning)");
    CHECK(!active(&f, XG_RES_CLUSTER, "a"));
    CHECK(active(&f, XG_RES_CLUSTER, "b"));
    teardown(&f);
}

XG_TEST(unknown_fields_are_counted_with_ignore_unknown_fields)
{
    fake f;
    setup(&f, false, true);
    for (int i = 0; i < 2; i++) { /* the identical re-send is not counted again */
        resp p;
        resp_init(&p, XG_XDS_CDS, "1", false);
        resp_yaml_extra(&p, STATIC_CLUSTER("a"), unknown_field, sizeof(unknown_field));
        CHECK_EQ_INT(deliver(&f, &p), 0);
    }
    CHECK(active(&f, XG_RES_CLUSTER, "a"));
    CHECK_EQ_INT(f.status->types[XG_XDS_CDS].unknown_fields, 1);
    teardown(&f);
}

XG_TEST(delta_removed_resources_delete)
{
    fake f;
    setup(&f, true, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "", true);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    resp_yaml(&p, EDS_CLUSTER("b"));
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK(active(&f, XG_RES_CLUSTER, "a"));
    CHECK_STR(f.subs[XG_XDS_EDS], "b");
    /* EDS says b's assignment does not exist: b stops warming, active without endpoints. */
    resp_init(&p, XG_XDS_EDS, "", true);
    p.removed[p.r.n_removed++] = "b";
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK(active(&f, XG_RES_CLUSTER, "b"));
    CHECK(!active(&f, XG_RES_ENDPOINTS, "b"));
    CHECK(f.status->types[XG_XDS_EDS].n_missing == 1);
    resp_init(&p, XG_XDS_CDS, "", true);
    p.removed[p.r.n_removed++] = "a";
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK(!active(&f, XG_RES_CLUSTER, "a"));
    CHECK(active(&f, XG_RES_CLUSTER, "b"));
    teardown(&f);
}

XG_TEST(delta_resource_name_must_match_the_message)
{
    fake f;
    setup(&f, true, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "", true);
    resp_yaml(&p, STATIC_CLUSTER("a"));
    free((char *)p.res[0].name);
    p.res[0].name = strdup("other");
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "Cluster \"other\": name: \"a\" differs from the Resource name");
    teardown(&f);
}

XG_TEST(subscriptions_follow_listeners_and_unreferenced_routes_go)
{
    fake f;
    setup(&f, false, false);
    send_listener(&f, "1", "l1", 10000, "r1", 0);
    resp p;
    resp_init(&p, XG_XDS_RDS, "1", false);
    resp_yaml(&p, ROUTE("r1", "x"));
    deliver(&f, &p);
    CHECK(active(&f, XG_RES_LISTENER, "l1"));
    /* l1 now wants r2: while it warms, the active l1 still uses r1. */
    send_listener(&f, "2", "l1", 10000, "r2", 0);
    CHECK_STR(f.subs[XG_XDS_RDS], "r1,r2");
    CHECK(active(&f, XG_RES_ROUTE_CONFIG, "r1"));
    resp_init(&p, XG_XDS_RDS, "2", false);
    resp_yaml(&p, ROUTE("r1", "x"));
    resp_yaml(&p, ROUTE("r2", "y"));
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK_STR(f.subs[XG_XDS_RDS], "r2");
    CHECK(!active(&f, XG_RES_ROUTE_CONFIG, "r1"));
    CHECK(active(&f, XG_RES_ROUTE_CONFIG, "r2"));
    CHECK_STR(xg_snapshot_find(f.snap, XG_RES_LISTENER, "l1")->version, "2");
    /* The missing clusters named by routes are shown. */
    CHECK_EQ_INT(f.status->types[XG_XDS_CDS].n_missing, 1);
    CHECK_STR(f.status->types[XG_XDS_CDS].missing[0], "y");
    /* An unsolicited route configuration is ignored, not NACKed. */
    resp_init(&p, XG_XDS_RDS, "3", false);
    resp_yaml(&p, ROUTE("r9", "x"));
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK(!active(&f, XG_RES_ROUTE_CONFIG, "r9"));
    /* Removing the listener unsubscribes everything. */
    resp_init(&p, XG_XDS_LDS, "3", false);
    CHECK_EQ_INT(deliver(&f, &p), 0);
    CHECK_STR(f.subs[XG_XDS_RDS], "");
    CHECK_EQ_INT(xg_snapshot_count(f.snap, XG_RES_ROUTE_CONFIG), 0);
    teardown(&f);
}

XG_TEST(back_to_the_active_version_drops_the_warming_one)
{
    fake f;
    setup(&f, false, false);
    send_listener(&f, "1", "l1", 10000, "r1", 0);
    resp p;
    resp_init(&p, XG_XDS_RDS, "1", false);
    resp_yaml(&p, ROUTE("r1", "x"));
    deliver(&f, &p);
    send_listener(&f, "2", "l1", 10000, "r2", 0);
    CHECK_EQ_INT(f.status->types[XG_XDS_LDS].n_warming, 1);
    send_listener(&f, "3", "l1", 10000, "r1", 0);
    CHECK_EQ_INT(f.status->types[XG_XDS_LDS].n_warming, 0);
    CHECK_STR(f.subs[XG_XDS_RDS], "r1");
    teardown(&f);
}

XG_TEST(warming_times_out_then_active_and_ready)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    resp_yaml(&p, EDS_CLUSTER("slow"));
    resp_yaml(&p, "{name: quick, type: EDS, eds_cluster_config: {eds_config: {ads: {}, initial_fetch_timeout: 1s}}}");
    deliver(&f, &p);
    resp_init(&p, XG_XDS_LDS, "1", false);
    deliver(&f, &p);
    CHECK(!f.status->ready);
    CHECK_EQ_INT(f.n_posts, 2); /* slow's 15 s, then quick's own 1 s (not covered by the first) */
    advance(&f, 999);
    CHECK(!active(&f, XG_RES_CLUSTER, "quick"));
    advance(&f, 1);
    CHECK(active(&f, XG_RES_CLUSTER, "quick"));
    CHECK(!active(&f, XG_RES_CLUSTER, "slow"));
    CHECK(!f.status->ready);
    CHECK_EQ_INT(f.n_posts, 1);
    advance(&f, 14000);
    CHECK(active(&f, XG_RES_CLUSTER, "slow"));
    CHECK(f.status->ready);
    CHECK_EQ_INT(f.n_posts, 0);
    CHECK_EQ_INT(f.status->types[XG_XDS_EDS].n_missing, 2);
    /* Ready stays latched, e.g. when a new cluster warms later. */
    resp_init(&p, XG_XDS_CDS, "2", false);
    resp_yaml(&p, EDS_CLUSTER("slow"));
    resp_yaml(&p, EDS_CLUSTER("later"));
    deliver(&f, &p);
    CHECK(f.status->ready);
    teardown(&f);
}

XG_TEST(duplicate_listener_address_rejects_the_newer_naming_both)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_LDS, "1", false);
    char *a = listener_yaml("l1", 10000, "r"), *b = listener_yaml("l2", 10000, "r"),
         *c = listener_yaml("l3", 10001, "r");
    resp_yaml(&p, a);
    resp_yaml(&p, b);
    resp_yaml(&p, c);
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "Listener \"l2\": address: 127.0.0.1:10000 is already used by listener \"l1\"");
    CHECK_EQ_INT(f.status->types[XG_XDS_LDS].n_warming, 2);
    free(a);
    free(b);
    free(c);
    teardown(&f);
}

XG_TEST(nack_text_is_bounded)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "1", false);
    for (int i = 0; i < 200; i++) {
        char y[128];
        snprintf(y, sizeof(y), "{name: cluster-with-a-long-name-%03d, connect_timeout: 1000s}", i);
        resp_yaml(&p, y);
    }
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK(f.nack.len <= 4096);
    CHECK(strstr(nack_text(&f), "Cluster \"cluster-with-a-long-name-000\": connect_timeout: too long; ") != NULL);
    const char *tail = strstr(nack_text(&f), "; ... and ");
    CHECK(tail != NULL && strcmp(tail + strlen(tail) - 5, " more") == 0);
    teardown(&f);
}

XG_TEST(translator_error_path_is_relative_to_the_resource)
{
    fake f;
    setup(&f, false, false);
    send_listener(&f, "1", "l1", 10000, "r1", 0);
    resp p;
    resp_init(&p, XG_XDS_RDS, "1", false);
    resp_yaml(&p, "{name: r1, virtual_hosts: [{name: a, domains: [x]}, {name: b}]}");
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "RouteConfiguration \"r1\": virtual_hosts[1].domains: must not be empty");
    teardown(&f);
}

/* Many small EDS changes (updates, delta removals, re-adds) keep the
 * incrementally merged endpoints table equal to a model of what is held. */
XG_TEST(incremental_tables_match_a_model)
{
    enum { N = 150 };
    fake f;
    setup(&f, true, false);
    resp p;
    resp_init(&p, XG_XDS_CDS, "", true);
    for (int i = 0; i < N; i++) {
        char y[160];
        snprintf(y, sizeof(y), "{name: c%03d, type: EDS, eds_cluster_config: {eds_config: {ads: {}}}}", i);
        resp_yaml(&p, y);
    }
    CHECK_EQ_INT(deliver(&f, &p), 0);
    int port[N] = {0}; /* 0: not held */
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        resp_init(&p, XG_XDS_EDS, "", true);
        int k = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % (round < 5 ? N : 4);
        for (int j = 0; j < k; j++) {
            int i = (int)((seed = seed * 1103515245 + 12345) >> 16) % N;
            bool dup = false;
            char name[16];
            snprintf(name, sizeof(name), "c%03d", i);
            for (size_t q = 0; q < p.r.n_resources; q++)
                dup |= strcmp(p.res[q].name, name) == 0;
            for (size_t q = 0; q < p.r.n_removed; q++)
                dup |= strcmp(p.removed[q], name) == 0;
            if (dup)
                continue;
            if (round >= 5 && (seed >> 20) % 5 == 0 && p.r.n_removed < 16) {
                p.removed[p.r.n_removed++] = strdup(name);
                port[i] = 0;
                continue;
            }
            port[i] = 1000 + round;
            char y[200];
            snprintf(y, sizeof(y),
                     "{cluster_name: %s, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: "
                     "{address: 10.0.0.1, port_value: %d}}}}]}]}",
                     name, port[i]);
            resp_yaml(&p, y);
        }
        size_t nrem = p.r.n_removed;
        char *removed[16];
        memcpy(removed, p.removed, nrem * sizeof(char *));
        CHECK_EQ_INT(deliver(&f, &p), 0);
        for (size_t q = 0; q < nrem; q++)
            free(removed[q]);
        size_t want = 0;
        for (int i = 0; i < N; i++) {
            char name[16];
            snprintf(name, sizeof(name), "c%03d", i);
            xg_res *r = xg_snapshot_find(f.snap, XG_RES_ENDPOINTS, name);
            want += port[i] != 0;
            if (!CHECK((r != NULL) == (port[i] != 0)))
                fprintf(stderr, "round %d: %s\n", round, name);
        }
        CHECK_EQ_INT(xg_snapshot_count(f.snap, XG_RES_ENDPOINTS), want);
        for (size_t i = 1; i < xg_snapshot_count(f.snap, XG_RES_ENDPOINTS); i++)
            CHECK(strcmp(xg_snapshot_at(f.snap, XG_RES_ENDPOINTS, i - 1)->name,
                         xg_snapshot_at(f.snap, XG_RES_ENDPOINTS, i)->name) < 0);
    }
    teardown(&f);
}

XG_TEST(listener_addresses_are_compared_in_canonical_form)
{
    fake f;
    setup(&f, false, false);
    resp p;
    resp_init(&p, XG_XDS_LDS, "1", false);
    resp_yaml(&p, "{name: a, address: {socket_address: {address: '::', port_value: 8080}}}");
    resp_yaml(&p, "{name: b, address: {socket_address: {address: '0:0::0', port_value: 8080}}}");
    resp_yaml(&p, "{name: c, address: {socket_address: {address: '::', port_value: 8081}}, additional_addresses: "
                  "[{address: {socket_address: {address: 10.0.0.1, port_value: 80}}}]}");
    resp_yaml(&p, "{name: d, address: {socket_address: {address: 10.0.0.1, port_value: 80, protocol: UDP}}}");
    CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
    CHECK_STR(nack_text(&f), "Listener \"b\": address: [::]:8080 is already used by listener \"a\"");
    /* An update of "a" itself keeps its address; "b" may take it once "a" moved away. */
    resp_init(&p, XG_XDS_LDS, "2", false);
    resp_yaml(&p, "{name: a, address: {socket_address: {address: '::', port_value: 9090}}}");
    resp_yaml(&p, "{name: c, address: {socket_address: {address: '::', port_value: 8081}}, additional_addresses: "
                  "[{address: {socket_address: {address: 10.0.0.1, port_value: 80}}}]}");
    CHECK_EQ_INT(deliver(&f, &p), 0);
    resp_init(&p, XG_XDS_LDS, "3", false);
    resp_yaml(&p, "{name: a, address: {socket_address: {address: '::', port_value: 9090}}}");
    resp_yaml(&p, "{name: b, address: {socket_address: {address: '0:0::0', port_value: 8080}}}");
    resp_yaml(&p, "{name: e, address: {socket_address: {address: 10.0.0.1, port_value: 80}}}");
    CHECK_EQ_INT(deliver(&f, &p), 0); /* "c" is deleted by this response: its addresses are free */
    teardown(&f);
}

XG_TEST(memory_is_released_once_updates_have_been_quiet)
{
    fake f;
    release_hook = count_release;
    n_releases = 0;
    setup(&f, false, false);
    send_listener(&f, "1", "l1", 10000, "r1", 0);
    int posts = f.n_posts; /* the listener's warming timer and the release */
    advance(&f, 500);
    send_listener(&f, "2", "l1", 10001, "r1", 0); /* a burst: the release already waits */
    CHECK_EQ_INT(f.n_posts, posts);
    advance(&f, 500); /* 1 s after the first response, 0.5 s after the last: not yet */
    CHECK_EQ_INT(n_releases, 0);
    advance(&f, 499);
    CHECK_EQ_INT(n_releases, 0);
    advance(&f, 1);
    CHECK_EQ_INT(n_releases, 1);
    advance(&f, 5000); /* nothing new: no more */
    CHECK_EQ_INT(n_releases, 1);
    send_listener(&f, "3", "l1", 10002, "r1", 0);
    advance(&f, XG_XDS_RELEASE_QUIET_MS);
    CHECK_EQ_INT(n_releases, 2);
    teardown(&f);
    release_hook = NULL;
}

/* Past the first 64 KiB a response's messages decode into mappings of the
 * batch's own, unmapped with it: nothing held may point into them. */
XG_TEST(a_big_response_decodes_into_scratch_and_keeps_nothing_of_it)
{
    fake f;
    setup(&f, false, false);
    static char yaml[200][700], name[200][600];
    resp p;
    for (int round = 0; round < 2; round++) {
        resp_init(&p, XG_XDS_CDS, round ? "2" : "1", false);
        for (int i = 0; i < 200; i++) {
            int n = snprintf(name[i], sizeof(name[i]), "c%03d-", i);
            memset(name[i] + n, 'a' + (i % 26), 500);
            name[i][n + 500] = '\0';
            /* cluster 199 is rejected: its error names it after the scratch is gone */
            snprintf(yaml[i], sizeof(yaml[i]), "{name: %.510s, connect_timeout: %s}", name[i], i == 199 ? "200s" : "1s");
            resp_yaml(&p, yaml[i]);
        }
        CHECK_EQ_INT(deliver(&f, &p), XG_EINVAL);
        CHECK(strstr(nack_text(&f), name[199]) != NULL);
        CHECK(strstr(nack_text(&f), "connect_timeout: too long") != NULL);
        for (int i = 0; i < 199; i++)
            CHECK(active(&f, XG_RES_CLUSTER, name[i]));
        CHECK(!active(&f, XG_RES_CLUSTER, name[199]));
        const xg_res *last = xg_snapshot_find(f.snap, XG_RES_CLUSTER, name[198]);
        CHECK(last != NULL && strcmp(last->name, name[198]) == 0);
    }
    /* the second round was byte-identical: nothing new to build */
    CHECK_EQ_INT(f.n_snapshots, 1);
    teardown(&f);
}
