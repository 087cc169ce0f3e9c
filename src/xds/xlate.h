/* Translation of decoded xDS resources (protobuf-c messages) into xdsgate's
 * own immutable config structs (src/config/), with strict validation. One
 * file per resource type: xlate_listener.c, xlate_route.c, xlate_cluster.c,
 * xlate_endpoint.c, xlate_secret.c, plus shared pieces (matchers, headers,
 * durations) in xlate_common.c. Runs on the xds thread only.
 *
 * Contract for every xg_xlate_* function:
 * - reads the protobuf-c message, never keeps pointers into it: everything is
 *   copied into x->res's arena;
 * - on success fills res->body (and records deps with xg_xlate_dep) and returns 0;
 * - on the first problem returns XG_EINVAL with x->path's error buffer holding
 *   "field.path[1].name: reason" — the path relative to the resource, in
 *   snake_case, the reason saying what is wrong and what is accepted;
 * - a field that xdsgate has in proto/ but does not implement yet, an enum value
 *   it does not support, or an extension type it does not know is an error
 *   ("not supported"), never silently ignored; unknown fields are checked
 *   before translation (see pb_unknown.h) and are not the translator's concern. */
#ifndef XG_XDS_XLATE_H
#define XG_XDS_XLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/resource.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb-c.h"
#include "xds/pbjson_int.h"

typedef struct xg_xlate {
    xg__pbpath path;       /* current field path and the error buffer */
    xg_res *res;           /* the resource being built; allocate from &res->arena */
    bool ignore_unknown;   /* --ignore-unknown-fields: also lets unknown Any payload fields pass */
    xg_res_dep *deps;      /* collected by xg_xlate_dep (heap, moved into the arena at the end) */
    size_t n_deps;
    size_t cap_deps;
    uint32_t *dep_slots;   /* open-addressing index into deps (1-based, 0 = empty): a route config
                            * naming 1,000 clusters must not cost a million strcmp calls */
    size_t n_slots;        /* power of two, at least twice cap_deps */
} xg_xlate;

/* Starts a translation of res with an error buffer; path starts empty. */
void xg_xlate_init(xg_xlate *x, xg_res *res, char *err, size_t errlen);
/* Copies the deps into the resource's arena (res->deps) and frees scratch state. */
int xg_xlate_finish(xg_xlate *x);
/* Frees scratch state after a failure. */
void xg_xlate_dispose(xg_xlate *x);

/* Records that the resource refers to (type, name); duplicates are folded. */
int xg_xlate_dep(xg_xlate *x, xg_res_type type, const char *name);
/* Formats "path: reason" into the error buffer and returns XG_EINVAL. */
int xg_xlate_fail(xg_xlate *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pushes/pops a field name or index on the error path (returns the mark to pop to). */
size_t xg_xlate_push(xg_xlate *x, const char *field);
size_t xg_xlate_push_index(xg_xlate *x, size_t i);
void xg_xlate_pop(xg_xlate *x, size_t mark);
/* Allocation helpers on the resource's arena; NULL on ENOMEM. */
void *xg_xlate_alloc(xg_xlate *x, size_t n);
char *xg_xlate_strdup(xg_xlate *x, const char *s);

/* Shared pieces, used across resource types.
 * Owned by xlate_common.c (matchers, headers, durations; types in config/matcher.h): */
struct xg_string_matcher;
struct Envoy__Type__Matcher__V3__StringMatcher;
int xg_xlate_string_matcher(xg_xlate *x, const struct Envoy__Type__Matcher__V3__StringMatcher *pb,
                            struct xg_string_matcher *out);
/* Owned by xlate_tls.c (types in config/tls.h): a TransportSocket whose typed_config is a
 * DownstreamTlsContext (downstream = true, listeners) or UpstreamTlsContext (clusters);
 * records SDS secret names as deps. Any other transport socket type is an error. */
struct xg_tls_context;
struct Envoy__Config__Core__V3__TransportSocket;
int xg_xlate_transport_socket(xg_xlate *x, const struct Envoy__Config__Core__V3__TransportSocket *pb, bool downstream,
                              struct xg_tls_context **out);

/* The per-type entry points. Each sets res->body to its config struct. */
int xg_xlate_listener(xg_xlate *x, const Envoy__Config__Listener__V3__Listener *pb);
int xg_xlate_route_config(xg_xlate *x, const Envoy__Config__Route__V3__RouteConfiguration *pb);
int xg_xlate_cluster(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster *pb);
int xg_xlate_endpoints(xg_xlate *x, const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *pb);
int xg_xlate_secret(xg_xlate *x, const Envoy__Extensions__TransportSockets__Tls__V3__Secret *pb);

#endif
