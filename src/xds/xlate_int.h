/* Helpers shared by the listener, HCM and route translators (xlate_common.c):
 * regexes, durations, wrappers, header mutations and Any unpacking. Each
 * reports errors through xg_xlate_fail at the current path, like xlate.h's. */
#ifndef XG_XDS_XLATE_INT_H
#define XG_XDS_XLATE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/matcher.h"
#include "config/route.h"
#include "core/regex.h"
#include "envoy/config/core/v3/address.pb-c.h"
#include "envoy/config/core/v3/base.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/config/route/v3/route_components.pb-c.h"
#include "envoy/type/matcher/v3/regex.pb-c.h"
#include "envoy/type/matcher/v3/string.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "xds/xlate.h"

/* Things accepted but not applied (an optional filter xdsgate lacks), as
 * "path: what" lines in the arena, collected while a listener is translated. */
typedef struct xg__warning {
    struct xg__warning *next;
    const char *text;
} xg__warning;
typedef struct xg__warnings {
    xg__warning *head;
    xg__warning **tail;
    size_t n;
} xg__warnings;
int xg__warn(xg_xlate *x, xg__warnings *w, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Pushes field on the path and fails there: "path.field: reason". */
int xg__fail_at(xg_xlate *x, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Compiles a RegexMatcher (the field x's path points at) into the resource's
 * arena; NULL pb is an error "required". */
int xg__xlate_regex(xg_xlate *x, const Envoy__Type__Matcher__V3__RegexMatcher *pb, const xg_regex **out);
/* Compiles a bare pattern string (pushes nothing). */
int xg__xlate_regex_str(xg_xlate *x, const char *pattern, const xg_regex **out);

/* A Duration in milliseconds (sub-millisecond parts truncated, as Envoy).
 * pb NULL -> def. Negative or out of proto range -> error at path.field. */
int xg__xlate_duration_ms(xg_xlate *x, const char *field, const Google__Protobuf__Duration *pb, uint64_t def,
                          uint64_t *out);
/* Same with "must be > 0" (a zero duration rejected with a message). */
int xg__xlate_duration_ms_pos(xg_xlate *x, const char *field, const Google__Protobuf__Duration *pb, uint64_t def,
                              uint64_t *out);

/* Wrapper values with defaults. */
static inline uint32_t xg__u32_or(const Google__Protobuf__UInt32Value *v, uint32_t def)
{
    return v ? v->value : def;
}
static inline bool xg__bool_or(const Google__Protobuf__BoolValue *v, bool def)
{
    return v ? v->value : def;
}

/* Unpacks an Any into a message of type d, checking the type URL first.
 * Failure messages name the field given. */
int xg__xlate_unpack(xg_xlate *x, const char *field, const Google__Protobuf__Any *any,
                     const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);
/* The message type name of an Any ("envoy.x.v3.Y"), or "" for a NULL Any;
 * points into any->type_url. A TypedStruct's inner type is taken by
 * xg__xlate_unpack_typed automatically. */
const char *xg__any_type_name(const Google__Protobuf__Any *any);
/* Like xg__xlate_unpack but also accepts an xds.type.v3.TypedStruct (or the
 * older udpa.type.v1.TypedStruct) whose type_url names d: its Struct value is
 * decoded through the proto3-JSON codec. *out: free with
 * protobuf_c_message_free_unpacked. */
int xg__xlate_unpack_typed(xg_xlate *x, const char *field, const Google__Protobuf__Any *any,
                           const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);
/* The effective type name (TypedStruct's inner one), in the arena; NULL with
 * *rc set on failure. */
const char *xg__xlate_effective_type(xg_xlate *x, const Google__Protobuf__Any *any, int *rc);
/* Copies an extension config into the arena (key may be NULL). A TypedStruct
 * of a type in xdsgate's registry is converted to that type's binary form;
 * of an unknown type, kept with its inner type_url and empty value. */
int xg__xlate_typed_config(xg_xlate *x, const char *key, const Google__Protobuf__Any *any, xg_typed_config *out);

/* A CidrRange (host bits cleared, as Envoy) and a list of them under field. */
int xg__xlate_cidr(xg_xlate *x, const Envoy__Config__Core__V3__CidrRange *pb, xg_cidr *out);
int xg__xlate_cidrs(xg_xlate *x, const char *field, Envoy__Config__Core__V3__CidrRange *const *pb, size_t n,
                    const xg_cidr **out, size_t *n_out);

/* Header names (HTTP token, optional leading ':' when allow_pseudo), copied
 * lowercase; values without CR, LF or NUL (xlate_headers.c). */
int xg__xlate_header_name(xg_xlate *x, const char *name, bool allow_pseudo, xg_lstr *out);
bool xg__valid_header_value(const char *v, size_t len);
/* request/response_headers_to_add + _to_remove pairs. */
int xg__xlate_header_mutations(xg_xlate *x, const char *add_field,
                               Envoy__Config__Core__V3__HeaderValueOption *const *add, size_t n_add,
                               const char *remove_field, char *const *remove, size_t n_remove,
                               xg_header_mutations *out);
/* An "upgrade_type": a token, lowercased, unique among the n entries of prev
 * (structs of size stride whose first member is the xg_lstr). */
int xg__xlate_upgrade_type(xg_xlate *x, const char *type, const void *prev, size_t stride, size_t n, xg_lstr *out);
/* RegexMatchAndSubstitute: the pattern compiled, the substitution checked
 * against its groups (RE2 rewrite syntax: backslash-digit for a group). */
int xg__xlate_regex_rewrite(xg_xlate *x, const Envoy__Type__Matcher__V3__RegexMatchAndSubstitute *pb,
                            xg_regex_rewrite *out);
/* True when a Metadata message carries any entry. */
bool xg__metadata_set(const Envoy__Config__Core__V3__Metadata *m);

/* --- route configuration pieces (xlate_route*.c) --- */

/* A set of names (not copied; heap slots), for deduplication. */
typedef struct xg__nameset {
    const char **slots;
    size_t cap;
    size_t n;
} xg__nameset;
/* 1 when name was added, 0 when already present, XG_ENOMEM. */
int xg__nameset_add(xg__nameset *s, const char *name);
void xg__nameset_dispose(xg__nameset *s);

/* The NACK for a non-empty access_log / upstream_log list (printf format, the
 * field name as argument). */
#define XG__NO_ACCESS_LOG "access logging is not supported yet (field %s)"

/* The NACK for the deprecated cors field of virtual hosts and routes. */
#define XG__DEPRECATED_CORS                                                                                            \
    "deprecated cors field; use typed_per_filter_config with envoy.filters.http.cors (not supported yet)"

/* What a route needs from its surroundings while it is translated. */
typedef struct xg__route_ctx {
    uint32_t max_body;               /* max_direct_response_body_size_bytes */
    const xg_retry_policy *vh_retry; /* the virtual host's retry policy, inherited by routes */
    xg__nameset *clusters;           /* cluster names already recorded as deps */
} xg__route_ctx;

/* Every typed_per_filter_config map entry type has this layout. */
typedef Envoy__Config__Route__V3__VirtualHost__TypedPerFilterConfigEntry xg__pb_tpfc_entry;

int xg__xlate_route_config_into(xg_xlate *x, const Envoy__Config__Route__V3__RouteConfiguration *pb, bool inline_rc,
                                const xg_route_config **out);
int xg__build_domain_index(xg_xlate *x, const Envoy__Config__Route__V3__RouteConfiguration *pb, xg_route_config *rc);
int xg__xlate_per_filter(xg_xlate *x, const xg__pb_tpfc_entry *const *pb, size_t n, xg_typed_config_map *out);
/* The translated form of a per-route filter config whose type (type_name,
 * TypedStruct already seen through) belongs to an HTTP filter xdsgate has
 * (BufferPerRoute -> xg_buffer_config) into tc->translated and
 * tc->translated_type; both NULL for other types.
 * xlate_hcm_filters.c. */
int xg__xlate_filter_per_route(xg_xlate *x, const char *type_name, const Google__Protobuf__Any *any,
                               xg_typed_config *tc);
int xg__xlate_route_match(xg_xlate *x, const Envoy__Config__Route__V3__RouteMatch *pb, xg_route_match *out);
int xg__xlate_header_matchers(xg_xlate *x, const char *field, Envoy__Config__Route__V3__HeaderMatcher *const *pb,
                              size_t n, const xg_header_matcher **out, size_t *n_out);
int xg__xlate_query_matchers(xg_xlate *x, const char *field, Envoy__Config__Route__V3__QueryParameterMatcher *const *pb,
                             size_t n, const xg_query_matcher **out, size_t *n_out);
int xg__xlate_fraction_ppm(xg_xlate *x, const Envoy__Type__V3__FractionalPercent *pb, uint32_t *out);
/* A route's cold block (config/route.h): dflt itself when block[0..size)
 * equals it byte for byte, else a copy in the resource's arena; NULL: no memory. */
const void *xg__xlate_cold(xg_xlate *x, const void *block, const void *dflt, size_t size);
int xg__xlate_route_forward(xg_xlate *x, const Envoy__Config__Route__V3__RouteAction *pb, const xg__route_ctx *ctx,
                            xg_route_forward *out);
int xg__xlate_redirect(xg_xlate *x, const Envoy__Config__Route__V3__RedirectAction *pb, xg_redirect *out);
int xg__xlate_direct_response(xg_xlate *x, const Envoy__Config__Route__V3__DirectResponseAction *pb,
                              const xg__route_ctx *ctx, xg_direct_response *out);
int xg__xlate_retry_policy(xg_xlate *x, const Envoy__Config__Route__V3__RetryPolicy *pb, const xg_retry_policy **out);
int xg__xlate_hash_policies(xg_xlate *x, Envoy__Config__Route__V3__RouteAction__HashPolicy *const *pb, size_t n,
                            const xg_hash_policy **out, size_t *n_out);
int xg__xlate_rate_limits(xg_xlate *x, Envoy__Config__Route__V3__RateLimit *const *pb, size_t n, xg_rate_limits *out);

/* --- listener pieces (xlate_listener*.c, xlate_hcm*.c) --- */

struct xg_hcm;
struct Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager;
/* Translates an HttpConnectionManager given as the typed_config of a network filter. */
int xg__xlate_hcm(xg_xlate *x, const Google__Protobuf__Any *tc, xg__warnings *w, const struct xg_hcm **out);
int xg__xlate_hcm_routes(
    xg_xlate *x, const struct Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager *pb,
    struct xg_hcm *out);
struct xg_http_filter;
/* Fills an HTTP filter's translated config from its message; paths are
 * relative to typed_config. */
typedef int (*xg__filter_fields_fn)(xg_xlate *x, const ProtobufCMessage *pb, void *out);
/* Unpacks typed_config (or the TypedStruct standing for it) as d, lets fields
 * translate it into size fresh zeroed bytes in the arena, and marks out as
 * kind with those bytes as out->translated. xlate_hcm_filters.c. */
int xg__xlate_typed_filter(xg_xlate *x, const Google__Protobuf__Any *tc, const ProtobufCMessageDescriptor *d,
                           xg__filter_fields_fn fields, size_t size, int kind, struct xg_http_filter *out);
/* envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit as an HTTP
 * filter, and as a typed_per_filter_config entry (the same message: it
 * replaces the filter's config on that route). xlate_local_ratelimit.c. */
int xg__xlate_local_ratelimit(xg_xlate *x, const Google__Protobuf__Any *tc, struct xg_http_filter *out);
int xg__xlate_local_ratelimit_per_route(xg_xlate *x, const Google__Protobuf__Any *any, const void **out);
/* envoy.extensions.filters.http.ratelimit.v3.RateLimit as an HTTP filter,
 * and RateLimitPerRoute as a typed_per_filter_config entry.
 * xlate_ratelimit.c. */
int xg__xlate_ratelimit(xg_xlate *x, const Google__Protobuf__Any *tc, struct xg_http_filter *out);
int xg__xlate_ratelimit_per_route(xg_xlate *x, const Google__Protobuf__Any *any, const void **out);
int xg__xlate_http_filters(
    xg_xlate *x, const struct Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager *pb,
    xg__warnings *w, struct xg_hcm *out);

#endif
