/* Shared helpers for the router unit tests: a RouteConfiguration written as
 * YAML goes through the real proto3-JSON codec and translator (and the
 * route index build), and requests are header blocks in an arena. */
#ifndef XG_TEST_ROUTER_TEST_H
#define XG_TEST_ROUTER_TEST_H

#include <stdlib.h>
#include <string.h>

#include "config/route.h"
#include "core/error.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "router/route_index.h"
#include "router/route_match.h"
#include "xds/pbjson.h"
#include "xds/xlate.h"
#include "xg_test.h"

/* Translates a RouteConfiguration written as YAML and compiles its index
 * when index is set; NULL (with the reason printed) on failure. */
static inline xg_res *rc_load_opt(const char *yaml, bool index)
{
    static char err[1024];
    ProtobufCMessage *m = NULL;
    if (xg_pbjson_parse(&envoy__config__route__v3__route_configuration__descriptor, yaml, strlen(yaml), &m, err,
                        sizeof(err)) != 0) {
        fprintf(stderr, "YAML does not decode: %s\n", err);
        return NULL;
    }
    xg_res *r = xg_res_new(XG_RES_ROUTE_CONFIG, "rc");
    xg_xlate x;
    xg_xlate_init(&x, r, err, sizeof(err));
    int rc = xg_xlate_route_config(&x, (const Envoy__Config__Route__V3__RouteConfiguration *)m);
    protobuf_c_message_free_unpacked(m, NULL);
    rc = rc == 0 ? xg_xlate_finish(&x) : (xg_xlate_dispose(&x), rc);
    /* Built here whether or not the translator already does it; dropped for
     * tests of the linear fallback. */
    if (rc == 0 && index)
        rc = xg_route_index_build(r->body, &r->arena);
    else if (rc == 0)
        ((xg_route_config *)r->body)->index = NULL;
    if (rc != 0) {
        fprintf(stderr, "translation failed: %s\n", err);
        xg_res_unref(r);
        return NULL;
    }
    return r;
}

static inline xg_res *rc_load(const char *yaml)
{
    return rc_load_opt(yaml, true);
}

static inline xg_route_config *rc_of(xg_res *r)
{
    return r->body;
}

/* A request: headers in their own arena. */
typedef struct treq {
    xg_arena arena;
    xg_headers h;
} treq;

static inline void treq_init(treq *t, const char *method, const char *authority, const char *path)
{
    xg_arena_init(&t->arena, 0);
    xg_headers_init(&t->h, &t->arena);
    t->h.version = 11;
    if (method != NULL)
        xg_headers_set_pseudo(&t->h, ":method", 7, method, strlen(method));
    if (authority != NULL)
        xg_headers_set_pseudo(&t->h, ":authority", 10, authority, strlen(authority));
    if (path != NULL)
        xg_headers_set_pseudo(&t->h, ":path", 5, path, strlen(path));
    xg_headers_set_pseudo(&t->h, ":scheme", 7, "http", 4);
}

static inline void treq_add(treq *t, const char *name, const char *value)
{
    xg_headers_add_copy(&t->h, name, strlen(name), value, strlen(value));
}

static inline void treq_dispose(treq *t)
{
    xg_arena_dispose(&t->arena);
}

/* A header's first value as a C string in a static buffer, or NULL. */
static inline const char *hval(const xg_headers *h, const char *name)
{
    static char buf[1024];
    xg_hstr v;
    if (!xg_request_header_first(h, name, strlen(name), &v))
        return NULL;
    snprintf(buf, sizeof(buf), "%.*s", (int)v.len, v.s);
    return buf;
}

/* Every value of a header joined with "|", or "" when absent. */
static inline const char *hall(const xg_headers *h, const char *name)
{
    static char buf[1024];
    size_t n = 0;
    buf[0] = '\0';
    for (int i = xg_headers_find(h, name, strlen(name), 0); i >= 0; i = xg_headers_find(h, name, strlen(name), i + 1))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.*s", n ? "|" : "", (int)h->v[i].value_len, h->v[i].value);
    return buf;
}

/* The name of the route the request matches ("" when it has none, "<no vhost>"
 * without a virtual host), checking that the index and the linear scan agree. */
static inline const char *route_for(const xg_route_config *rc, treq *t, uint64_t random)
{
    const xg_vhost *vh = xg_route_find_vhost(rc, &t->h);
    if (vh == NULL)
        return "<no vhost>";
    xg_route_req q1, q2;
    xg_route_req_init(&q1, &t->h, &t->arena, random);
    xg_route_req_init(&q2, &t->h, &t->arena, random);
    const xg_route *a = xg_route_find(rc, vh, &q1), *b = xg_route_find_linear(rc, vh, &q2);
    if (a != b) {
        fprintf(stderr, "index and linear scan disagree for %.*s: %s vs %s\n", (int)t->h.path.len, t->h.path.s,
                a ? a->name : "-", b ? b->name : "-");
        return "<disagree>";
    }
    return a ? a->name : "";
}

/* route_for on a fresh request (method, authority, path, then name/value header pairs, NULL-terminated). */
static inline const char *match(const xg_route_config *rc, const char *method, const char *authority, const char *path,
                                const char *const *hdrs, uint64_t random)
{
    static char name[256];
    treq t;
    treq_init(&t, method, authority, path);
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i += 2)
        treq_add(&t, hdrs[i], hdrs[i + 1]);
    snprintf(name, sizeof(name), "%s", route_for(rc, &t, random));
    treq_dispose(&t);
    return name;
}

#define HDRS(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
