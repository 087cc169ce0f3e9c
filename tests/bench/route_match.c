/* Benchmark (make bench, not a test): route lookup cost with 10,000 routes
 * in one virtual host, through the compiled index and through the in-order
 * linear scan it replaces. The table mixes what large ingress configs have:
 * per-service exact paths and prefixes (some case-insensitive, some with a
 * header matcher), path_separated_prefix routes, a few regex routes near the
 * end and a catch-all. Requests hit routes spread over the whole table (and
 * some hit nothing but the catch-all), one request header block per lookup,
 * with the virtual host lookup included. Prints nanoseconds per lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/assert.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "router/route_index.h"
#include "router/route_match.h"
#include "xds/pbjson.h"
#include "xds/xlate.h"

#define N_SERVICES 100
#define N_PER_SERVICE 99 /* + 100 extra = 10,000 routes */
#define N_REQUESTS 4096
#define ROUNDS 50

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static size_t add_route(char *y, size_t cap, size_t len, unsigned s, unsigned j)
{
    switch (j % 6) {
    case 0:
        return (size_t)snprintf(y + len, cap - len, "  - {match: {path: /svc%u/v1/items/%u}, route: {cluster: c}}\n", s,
                                j);
    case 1:
        return (size_t)snprintf(y + len, cap - len,
                                "  - {match: {prefix: /svc%u/v2/r%u/, case_sensitive: false}, route: {cluster: c}}\n",
                                s, j);
    case 2:
        return (size_t)snprintf(y + len, cap - len,
                                "  - {match: {prefix: /svc%u/v1/h%u, headers: [{name: x-canary, string_match: "
                                "{exact: 'yes'}}]}, route: {cluster: c}}\n",
                                s, j);
    case 3:
        return (size_t)snprintf(y + len, cap - len,
                                "  - {match: {path_separated_prefix: /svc%u/api%u}, route: {cluster: c}}\n", s, j);
    default:
        return (size_t)snprintf(y + len, cap - len, "  - {match: {prefix: /svc%u/p%u/}, route: {cluster: c}}\n", s, j);
    }
}

static char *gen_config(void)
{
    size_t cap = 4 << 20, len = 0;
    char *y = malloc(cap);
    XG_ASSERT(y != NULL);
    len += (size_t)snprintf(y, cap, "virtual_hosts:\n- name: big\n  domains: ['*']\n  routes:\n");
    for (unsigned s = 0; s < N_SERVICES; s++)
        for (unsigned j = 0; j < N_PER_SERVICE; j++)
            len += add_route(y, cap, len, s, j);
    for (unsigned i = 0; i < 90; i++)
        len += (size_t)snprintf(y + len, cap - len, "  - {match: {prefix: /static%u/}, route: {cluster: c}}\n", i);
    for (unsigned i = 0; i < 9; i++)
        len += (size_t)snprintf(y + len, cap - len,
                                "  - {match: {safe_regex: {regex: '/re%u/[0-9]+/.*'}}, route: {cluster: c}}\n", i);
    snprintf(y + len, cap - len, "  - {match: {prefix: /}, route: {cluster: c}}\n");
    return y;
}

static xg_res *load(const char *yaml)
{
    static char err[1024];
    ProtobufCMessage *m = NULL;
    XG_ASSERT(xg_pbjson_parse(&envoy__config__route__v3__route_configuration__descriptor, yaml, strlen(yaml), &m, err,
                              sizeof(err)) == 0);
    xg_res *r = xg_res_new(XG_RES_ROUTE_CONFIG, "bench");
    xg_xlate x;
    xg_xlate_init(&x, r, err, sizeof(err));
    int rc = xg_xlate_route_config(&x, (const Envoy__Config__Route__V3__RouteConfiguration *)m);
    protobuf_c_message_free_unpacked(m, NULL);
    if (rc != 0 || xg_xlate_finish(&x) != 0) {
        fprintf(stderr, "route_match: translation failed: %s\n", err);
        exit(1);
    }
    return r;
}

typedef struct req {
    xg_headers h;
    char path[64];
} req;

/* Request paths that land on routes all over the table. */
static void gen_requests(req *v, xg_arena *a)
{
    srand(7);
    for (unsigned i = 0; i < N_REQUESTS; i++) {
        unsigned s = (unsigned)rand() % N_SERVICES, j = (unsigned)rand() % N_PER_SERVICE;
        switch (rand() % 8) {
        case 0:
            snprintf(v[i].path, sizeof(v[i].path), "/svc%u/v1/items/%u", s, j - j % 6);
            break;
        case 1:
            snprintf(v[i].path, sizeof(v[i].path), "/SVC%u/V2/R%u/x?y=1", s, j - j % 6 + 1);
            break;
        case 2:
            snprintf(v[i].path, sizeof(v[i].path), "/svc%u/api%u/x", s, j - j % 6 + 3);
            break;
        case 3:
            snprintf(v[i].path, sizeof(v[i].path), "/re%u/123/x", (unsigned)rand() % 9);
            break;
        case 4:
            snprintf(v[i].path, sizeof(v[i].path), "/nothing/here/%u", j);
            break;
        default:
            snprintf(v[i].path, sizeof(v[i].path), "/svc%u/p%u/a/b", s, j - j % 6 + 4);
            break;
        }
        xg_headers_init(&v[i].h, a);
        XG_ASSERT(xg_headers_set_pseudo(&v[i].h, ":method", 7, "GET", 3) == 0);
        XG_ASSERT(xg_headers_set_pseudo(&v[i].h, ":authority", 10, "example.com", 11) == 0);
        XG_ASSERT(xg_headers_set_pseudo(&v[i].h, ":path", 5, v[i].path, strlen(v[i].path)) == 0);
        if (rand() % 4 == 0)
            XG_ASSERT(xg_headers_add_copy(&v[i].h, "x-canary", 8, "yes", 3) == 0);
    }
}

typedef const xg_route *(*find_fn)(const xg_route_config *, const xg_vhost *, xg_route_req *);

static double run(const xg_route_config *rc, req *v, find_fn find, int rounds, const xg_route **out)
{
    xg_arena scratch;
    xg_arena_init(&scratch, 0);
    double t0 = now_ns();
    for (int r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < N_REQUESTS; i++) {
            xg_route_req q;
            xg_route_req_init(&q, &v[i].h, &scratch, (uint64_t)i);
            const xg_vhost *vh = xg_route_find_vhost(rc, &v[i].h);
            const xg_route *rt = find(rc, vh, &q);
            if (out != NULL)
                out[i] = rt;
        }
    }
    double ns = (now_ns() - t0) / ((double)rounds * N_REQUESTS);
    xg_arena_dispose(&scratch);
    return ns;
}

int main(void)
{
    char *yaml = gen_config();
    double t0 = now_ns();
    xg_res *res = load(yaml);
    double t_xlate = now_ns() - t0;
    free(yaml);
    xg_route_config *rc = res->body;
    t0 = now_ns();
    XG_ASSERT(xg_route_index_build(rc, &res->arena) == 0);
    double t_build = now_ns() - t0;

    xg_arena a;
    xg_arena_init(&a, 1 << 16);
    req *v = calloc(N_REQUESTS, sizeof(*v));
    const xg_route **got_index = calloc(N_REQUESTS, sizeof(*got_index));
    const xg_route **got_linear = calloc(N_REQUESTS, sizeof(*got_linear));
    XG_ASSERT(v != NULL && got_index != NULL && got_linear != NULL);
    gen_requests(v, &a);

    run(rc, v, xg_route_find, 1, got_index);
    run(rc, v, xg_route_find_linear, 1, got_linear);
    unsigned catch_all = 0;
    for (unsigned i = 0; i < N_REQUESTS; i++) {
        XG_ASSERT(got_index[i] == got_linear[i]);
        catch_all += got_index[i] == &rc->vhosts[0].routes[rc->vhosts[0].n_routes - 1];
    }
    double ns_index = run(rc, v, xg_route_find, ROUNDS, NULL);
    double ns_linear = run(rc, v, xg_route_find_linear, ROUNDS / 10, NULL);
    printf("route_match: %zu routes in one virtual host (translate %.0f ms, index build %.2f ms); "
           "%u requests, %u to the catch-all\n",
           rc->vhosts[0].n_routes, t_xlate / 1e6, t_build / 1e6, N_REQUESTS, catch_all);
    printf("route_match: index %.0f ns/lookup, linear scan %.0f ns/lookup (%.0fx)\n", ns_index, ns_linear,
           ns_linear / ns_index);
    free(v);
    free(got_index);
    free(got_linear);
    xg_arena_dispose(&a);
    xg_res_unref(res);
    return 0;
}
