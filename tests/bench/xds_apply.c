/* Benchmark (make bench, not a test): how long the xDS client takes from
 * receiving responses to the resulting snapshot being active on every
 * worker, with the real translators and real worker threads. A config of
 * 10,000 routes (100 virtual hosts x 100), 1,000 EDS clusters and 10,000
 * endpoints (10 per cluster) arrives as four state-of-the-world responses in
 * ADS order (CDS, EDS, LDS, RDS); then one cluster's endpoints change, as a
 * delta response (one resource) and as a SotW response (all 1,000
 * assignments, one of them changed). "Active on all workers" is measured by
 * a marker posted to every worker after the publish: worker queues are FIFO,
 * so when every marker has run, every worker has swapped. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/snapshot_publish.h"
#include "core/assert.h"
#include "core/log.h"
#include "event/workers.h"
#include "xds/pbjson.h"
#include "xds/xds_state.h"

#define N_CLUSTERS 1000
#define N_ENDPOINTS 10 /* per cluster */
#define N_VHOSTS 100
#define N_ROUTES 100 /* per virtual host */
#define N_WORKERS 2
#ifndef N_UPDATES
#define N_UPDATES 50
#endif

typedef struct bench {
    xg_workers *ws;
    atomic_uint markers;
} bench;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_marker(void *arg)
{
    bench *b = arg;
    atomic_fetch_add(&b->markers, 1);
}

/* Waits until every worker has run everything posted before now. */
static void wait_workers(bench *b)
{
    atomic_store(&b->markers, 0);
    for (unsigned i = 0; i < N_WORKERS; i++)
        XG_ASSERT(xg_worker_post(xg_workers_get(b->ws, i), on_marker, b) == 0);
    while (atomic_load(&b->markers) < N_WORKERS)
        ;
}

static void on_publish(void *ctx, xg_snapshot *s, xg_xds_status *st)
{
    bench *b = ctx;
    if (s != NULL)
        XG_ASSERT(xg_snapshot_publish(b->ws, s) == 0);
    xg_snapshot_unref(s);
    xg_xds_status_free(st);
}

static int no_subscribe(void *ctx, xg_xds_type t, const char *const *names, size_t n)
{
    return 0;
}

static int no_post(void *ctx, uint32_t delay_ms, void (*fn)(void *), void *arg)
{
    return 0;
}

/* --- responses --- */

typedef struct resp {
    xg_xds_response r;
    xg_xds_resource *res;
    size_t cap;
} resp;

static const ProtobufCMessageDescriptor *const descs[XG_XDS_NTYPES] = {
    &envoy__config__listener__v3__listener__descriptor,
    &envoy__config__route__v3__route_configuration__descriptor,
    &envoy__config__cluster__v3__cluster__descriptor,
    &envoy__config__endpoint__v3__cluster_load_assignment__descriptor,
    &envoy__extensions__transport_sockets__tls__v3__secret__descriptor,
};

static void add(resp *p, const char *name, const char *yaml)
{
    char err[512];
    ProtobufCMessage *m = NULL;
    if (xg_pbjson_parse(descs[p->r.type], yaml, strlen(yaml), &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: bad resource: %s\n", err);
        exit(1);
    }
    if (p->r.n_resources == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->res = realloc(p->res, p->cap * sizeof(*p->res));
    }
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len);
    protobuf_c_message_pack(m, buf);
    protobuf_c_message_free_unpacked(m, NULL);
    p->res[p->r.n_resources++] = (xg_xds_resource){.name = p->r.delta ? strdup(name) : NULL,
                                                   .version = p->r.delta ? "v" : NULL,
                                                   .type_url = xg_xds_type_url(p->r.type),
                                                   .data = buf,
                                                   .len = len};
    p->r.resources = p->res;
}

static void init(resp *p, xg_xds_type t, const char *version, bool delta)
{
    memset(p, 0, sizeof(*p));
    p->r.type = t;
    p->r.delta = delta;
    p->r.version_info = version;
    p->r.nonce = "1";
}

static void dispose(resp *p)
{
    for (size_t i = 0; i < p->r.n_resources; i++) {
        free((void *)p->res[i].data);
        free((void *)p->res[i].name);
    }
    free(p->res);
}

static void clusters(resp *p)
{
    char name[32], y[256];
    init(p, XG_XDS_CDS, "1", false);
    for (int i = 0; i < N_CLUSTERS; i++) {
        snprintf(name, sizeof(name), "c%04d", i);
        snprintf(y, sizeof(y),
                 "{name: %s, type: EDS, connect_timeout: 1s, eds_cluster_config: {eds_config: {ads: {}}}}", name);
        add(p, name, y);
    }
}

/* The assignment of cluster i; port shifts every endpoint (an update). */
static void cla(resp *p, int i, int port)
{
    xg_buf y;
    char name[32];
    xg_buf_init(&y);
    snprintf(name, sizeof(name), "c%04d", i);
    xg_buf_printf(&y, "{cluster_name: %s, endpoints: [{lb_endpoints: [", name);
    for (int e = 0; e < N_ENDPOINTS; e++)
        xg_buf_printf(&y, "%s{endpoint: {address: {socket_address: {address: 10.%d.%d.%d, port_value: %d}}}}",
                      e ? ", " : "", i / 256, i % 256, e + 1, port);
    xg_buf_puts(&y, "]}]}");
    add(p, name, y.data);
    xg_buf_dispose(&y);
}

static void assignments(resp *p, const char *version, int changed, int port)
{
    init(p, XG_XDS_EDS, version, false);
    for (int i = 0; i < N_CLUSTERS; i++)
        cla(p, i, i == changed ? port : 8080);
}

static void listener(resp *p)
{
    init(p, XG_XDS_LDS, "1", false);
    add(p, "l0",
        "{name: l0, address: {socket_address: {address: 127.0.0.1, port_value: 10000}}, filter_chains: [{filters: "
        "[{name: hcm, typed_config: {'@type': type.googleapis.com/"
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, stat_prefix: s, "
        "rds: {route_config_name: routes, config_source: {ads: {}}}, http_filters: [{name: "
        "envoy.filters.http.router, typed_config: {'@type': "
        "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]}}]}]}");
}

static void routes(resp *p)
{
    xg_buf y;
    xg_buf_init(&y);
    init(p, XG_XDS_RDS, "1", false);
    xg_buf_puts(&y, "{name: routes, virtual_hosts: [");
    for (int v = 0; v < N_VHOSTS; v++) {
        xg_buf_printf(&y, "%s{name: vh%03d, domains: [h%03d.example.com], routes: [", v ? ", " : "", v, v);
        for (int r = 0; r < N_ROUTES; r++) {
            int n = v * N_ROUTES + r;
            xg_buf_printf(&y, "%s{match: {prefix: /p%05d}, route: {cluster: c%04d}}", r ? ", " : "", n, n % N_CLUSTERS);
        }
        xg_buf_puts(&y, "]}");
    }
    xg_buf_puts(&y, "]}");
    add(p, "routes", y.data);
    xg_buf_dispose(&y);
}

/* --- measuring --- */

static double deliver(bench *b, xg_ads_handler *h, resp *p)
{
    xg_buf nack;
    xg_buf_init(&nack);
    double t0 = now_ms();
    int rc = h->on_response(h->ctx, &p->r, &nack);
    wait_workers(b);
    double t = now_ms() - t0;
    if (rc != 0) {
        fprintf(stderr, "bench: NACK: %s\n", nack.data);
        exit(1);
    }
    xg_buf_dispose(&nack);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report_updates(const char *what, double *t, int n)
{
    qsort(t, n, sizeof(*t), cmp_double);
    printf("  %-44s median %8.3f ms   min %8.3f ms   max %8.3f ms\n", what, t[n / 2], t[0], t[n - 1]);
}

static void updates(bench *b, xg_ads_handler *h, bool delta)
{
    static double t[N_UPDATES];
    for (int k = 0; k < N_UPDATES; k++) {
        resp p;
        char version[16];
        snprintf(version, sizeof(version), "u%d", k);
        if (delta) {
            init(&p, XG_XDS_EDS, version, true);
            cla(&p, 500, 9000 + k);
        } else {
            assignments(&p, version, 500, 9000 + k);
        }
        t[k] = deliver(b, h, &p);
        dispose(&p);
    }
    report_updates(delta ? "one-cluster EDS update, delta (1 resource)" : "one-cluster EDS update, SotW (1,000)", t,
                   N_UPDATES);
}

int main(void)
{
    bench b = {0};
    xg_log_set_level(XG_LOG_WARN);
    XG_ASSERT(xg_workers_new(N_WORKERS, &b.ws) == 0 && xg_workers_start(b.ws) == 0);
    xg_xds_state *st = NULL;
    xg_xds_state_options o = {.server = "bench", .initial_fetch_timeout_ms = 15000, .xlate = xg_xds_default_xlate()};
    xg_xds_sink sink = {.publish = on_publish, .ctx = &b};
    XG_ASSERT(xg_xds_state_new(&o, &sink, &st) == 0);
    xg_xds_transport tr = {.subscribe = no_subscribe, .post = no_post};
    xg_xds_state_set_transport(st, &tr);
    xg_ads_handler h = xg_xds_state_handler(st);

    resp cds, eds, lds, rds;
    clusters(&cds);
    assignments(&eds, "1", -1, 0);
    listener(&lds);
    routes(&rds);
    printf("xds_apply: %d routes, %d EDS clusters, %d endpoints, %d workers\n", N_VHOSTS * N_ROUTES, N_CLUSTERS,
           N_CLUSTERS * N_ENDPOINTS, N_WORKERS);
    double tc = deliver(&b, &h, &cds), te = deliver(&b, &h, &eds), tl = deliver(&b, &h, &lds);
    double tr_ = deliver(&b, &h, &rds);
    printf("  CDS (1,000 clusters, warming)              %8.3f ms\n", tc);
    printf("  EDS (1,000 assignments, clusters active)   %8.3f ms\n", te);
    printf("  LDS (1 listener, warming)                  %8.3f ms\n", tl);
    printf("  RDS (1 route config, 10,000 routes)        %8.3f ms\n", tr_);
    printf("  full config, received -> active on all workers: %.3f ms\n", tc + te + tl + tr_);
    dispose(&cds);
    dispose(&eds);
    dispose(&lds);
    dispose(&rds);
    updates(&b, &h, true);
    updates(&b, &h, false);
    xg_snapshot_publish(b.ws, NULL);
    xg_workers_free(b.ws);
    xg_xds_state_free(st);
    return 0;
}
