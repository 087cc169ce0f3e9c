/* Private helpers shared by the upstream-side translators (xlate_cluster*.c,
 * xlate_endpoint.c, xlate_tls.c, xlate_secret.c): durations, wrappers, Any
 * payloads, ADS config sources, and the pieces one translator borrows from
 * another (inline endpoints, TLS certificates, validation contexts). Same
 * contract as xlate.h: 0 or XG_EINVAL with the path and reason in x's error
 * buffer (XG_ENOMEM on allocation failure). xds thread only. */
#ifndef XG_XDS_XLATE_CES_H
#define XG_XDS_XLATE_CES_H

#include <stdbool.h>
#include <stdint.h>

#include "config/cluster.h"
#include "config/endpoint.h"
#include "config/secret.h"
#include "config/tls.h"
#include "envoy/config/core/v3/config_source.pb-c.h"
#include "envoy/type/v3/percent.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "xds/xlate.h"

/* Fails at x's path plus ".field" (field may be NULL: at x's path). */
int xg__ces_fail_at(xg_xlate *x, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

enum {
    XG__DUR_NONNEG = 0,   /* >= 0 (every Envoy duration we read) */
    XG__DUR_POSITIVE = 1, /* > 0 */
};
/* field's Duration in ms (sub-millisecond positive values round up to 1 ms),
 * dflt when d is NULL. Negative, malformed or beyond 10,000 years: error. */
int xg__ces_duration(xg_xlate *x, const char *field, const Google__Protobuf__Duration *d, int64_t dflt, int flags,
                     int64_t *out_ms);
/* A Percent in [0, 100], dflt when p is NULL. */
int xg__ces_percent(xg_xlate *x, const char *field, const Envoy__Type__V3__Percent *p, double dflt, double *out);
static inline uint32_t xg__ces_u32(const Google__Protobuf__UInt32Value *v, uint32_t dflt)
{
    return v ? v->value : dflt;
}
static inline uint64_t xg__ces_u64(const Google__Protobuf__UInt64Value *v, uint64_t dflt)
{
    return v ? v->value : dflt;
}
static inline bool xg__ces_bool(const Google__Protobuf__BoolValue *v, bool dflt)
{
    return v ? v->value : dflt;
}

/* field must be a ConfigSource that says ADS (`ads: {}`, resource_api_version
 * AUTO or V3): xdsgate takes every resource over its one ADS stream. Gives the
 * initial_fetch_timeout (default 15 s, 0 = none) in ms. A NULL cs is an error. */
int xg__ces_ads_source(xg_xlate *x, const char *field, const Envoy__Config__Core__V3__ConfigSource *cs,
                       int64_t *initial_fetch_timeout_ms);

/* The full message name an Any carries ("envoy.foo.v3.Bar"): the type URL
 * after its last '/'. "" for NULL. */
const char *xg__ces_any_name(const Google__Protobuf__Any *any);
/* Decodes field's Any as message type d (caller frees *out with
 * protobuf_c_message_free_unpacked). The type must be d's. */
int xg__ces_any_unpack(xg_xlate *x, const char *field, const Google__Protobuf__Any *any,
                       const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);

/* Copies a protobuf-c string array into the arena (NULL-free, n may be 0). */
int xg__ces_strv(xg_xlate *x, char **in, size_t n, const char ***out);

/* xlate_endpoint.c: a ClusterLoadAssignment at x's current path. Hostnames
 * are accepted only with allow_hostnames (DNS clusters); otherwise every
 * address must be an IP literal (EDS, STATIC). */
int xg__xlate_cla(xg_xlate *x, const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *pb, bool allow_hostnames,
                  xg_endpoints **out);

/* xlate_tls.c: the TLS pieces a Secret shares with inline TLS contexts; each
 * at x's current path, validated (PEM parses, files readable, key matches). */
struct Envoy__Config__Core__V3__DataSource;
struct Envoy__Extensions__TransportSockets__Tls__V3__TlsCertificate;
struct Envoy__Extensions__TransportSockets__Tls__V3__TlsSessionTicketKeys;
struct Envoy__Extensions__TransportSockets__Tls__V3__CertificateValidationContext;
int xg__xlate_datasource(xg_xlate *x, const char *field, const struct Envoy__Config__Core__V3__DataSource *pb,
                         xg_datasource *out);
int xg__xlate_tls_certificate(xg_xlate *x,
                              const struct Envoy__Extensions__TransportSockets__Tls__V3__TlsCertificate *pb,
                              xg_tls_certificate *out);
int xg__xlate_ticket_keys(xg_xlate *x,
                          const struct Envoy__Extensions__TransportSockets__Tls__V3__TlsSessionTicketKeys *pb,
                          xg_ticket_keys *out);
/* standalone: the context is complete (not the default half of a combined
 * one, nor an SDS secret that may be merged), so cross-field checks apply. */
int xg__xlate_validation_context(
    xg_xlate *x, const struct Envoy__Extensions__TransportSockets__Tls__V3__CertificateValidationContext *pb,
    bool standalone, xg_validation_context *out);

/* xlate_cluster_lb.c / xlate_cluster_hc.c / xlate_cluster_proto.c: parts of a Cluster. */
int xg__xlate_cluster_lb(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster *pb, xg_lb_config *out);
int xg__xlate_health_checks(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster *pb, xg_cluster *c);
int xg__xlate_circuit_breakers(xg_xlate *x, const Envoy__Config__Cluster__V3__CircuitBreakers *pb, xg_cluster *c);
int xg__xlate_outlier(xg_xlate *x, const Envoy__Config__Cluster__V3__OutlierDetection *pb, xg_cluster *c);
int xg__xlate_protocol_options(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster *pb, xg_cluster *c);
/* xlate_cluster_dns.c: refresh rates, TTL, lookup family and resolvers. */
int xg__xlate_cluster_dns(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster *pb, xg_cluster *c);

#endif
