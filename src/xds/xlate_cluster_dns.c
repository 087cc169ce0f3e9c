/* A DNS cluster's resolver settings (Cluster -> xg_cluster.dns_*): refresh
 * rates, respect_dns_ttl, dns_lookup_family, and where lookups go, read as
 * Envoy reads them: typed_dns_resolver_config (a CaresDnsResolverConfig)
 * wins over the deprecated dns_resolution_config, which wins over the
 * deprecated dns_resolvers + use_tcp_for_dns_lookups. Resolver addresses
 * must be IP literals (port 0 means 53, as c-ares takes it). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "config/cluster.h"
#include "core/error.h"
#include "envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.pb-c.h"
#include "xds/xlate_ces.h"

typedef Envoy__Config__Cluster__V3__Cluster pb_cluster;
typedef Envoy__Config__Core__V3__Address pb_address;
typedef Envoy__Config__Core__V3__DnsResolverOptions pb_options;
typedef Envoy__Extensions__Network__DnsResolver__Cares__V3__CaresDnsResolverConfig pb_cares;
#define CL(c) ENVOY__CONFIG__CLUSTER__V3__CLUSTER__##c
#define CARES_TYPE "envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig"

/* Envoy's DNS intervals must be above 1 ms; an absent one takes its default. */
static bool over_1ms(const Google__Protobuf__Duration *d)
{
    return d == NULL || d->seconds > 0 || d->nanos > 1000000;
}

static int refresh_rates(xg_xlate *x, const pb_cluster *pb, xg_cluster *c)
{
    int rc =
        xg__ces_duration(x, "dns_refresh_rate", pb->dns_refresh_rate, 5000, XG__DUR_NONNEG, &c->dns_refresh_rate_ms);
    if (rc == 0 && !over_1ms(pb->dns_refresh_rate))
        rc = xg__ces_fail_at(x, "dns_refresh_rate", "must be greater than 1ms");
    const Envoy__Config__Cluster__V3__Cluster__RefreshRate *f = pb->dns_failure_refresh_rate;
    if (rc != 0 || f == NULL)
        return rc;
    size_t mark = xg_xlate_push(x, "dns_failure_refresh_rate");
    if (f->base_interval == NULL)
        rc = xg__ces_fail_at(x, "base_interval", "required");
    if (rc == 0)
        rc = xg__ces_duration(x, "base_interval", f->base_interval, 0, XG__DUR_NONNEG, &c->dns_failure_refresh_base_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "max_interval", f->max_interval, 10 * c->dns_failure_refresh_base_ms, XG__DUR_NONNEG,
                              &c->dns_failure_refresh_max_ms);
    if (rc == 0 && !over_1ms(f->base_interval))
        rc = xg__ces_fail_at(x, "base_interval", "must be greater than 1ms");
    if (rc == 0 && c->dns_failure_refresh_max_ms < c->dns_failure_refresh_base_ms)
        rc = xg__ces_fail_at(x, "max_interval", "must be greater than or equal to base_interval");
    xg_xlate_pop(x, mark);
    return rc;
}

/* One resolver address at x's path: an IP literal and a port (0: 53). */
static int resolver_address(xg_xlate *x, const pb_address *a, struct sockaddr_storage *out)
{
    if (a == NULL || a->address_case != ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_SOCKET_ADDRESS)
        return xg__ces_fail_at(x, NULL, "a resolver needs a socket_address");
    const Envoy__Config__Core__V3__SocketAddress *sa = a->socket_address;
    if (sa->port_specifier_case == ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_NAMED_PORT)
        return xg__ces_fail_at(x, "socket_address.named_port", "not supported: use port_value");
    if (sa->port_value > 65535)
        return xg__ces_fail_at(x, "socket_address.port_value", "must be 0..65535, got %u", sa->port_value);
    uint16_t port = htons(sa->port_value != 0 ? (uint16_t)sa->port_value : 53);
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, sa->address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = port;
        return 0;
    }
    if (inet_pton(AF_INET6, sa->address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = port;
        return 0;
    }
    return xg__ces_fail_at(x, "socket_address.address", "\"%s\" is not an IP address (a resolver cannot be a name)",
                           sa->address);
}

static int resolver_list(xg_xlate *x, const char *field, pb_address **v, size_t n, xg_dns_resolver_config *out)
{
    if (n == 0)
        return 0;
    out->resolvers = xg_xlate_alloc(x, n * sizeof *out->resolvers);
    if (out->resolvers == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, field);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t m = xg_xlate_push_index(x, i);
        rc = resolver_address(x, v[i], &out->resolvers[i]);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    out->n_resolvers = n;
    return rc;
}

static void options(const pb_options *o, xg_dns_resolver_config *out)
{
    if (o == NULL)
        return;
    out->use_tcp = o->use_tcp_for_dns_lookups;
    out->no_default_search_domain = o->no_default_search_domain;
}

static int cares(xg_xlate *x, const Envoy__Config__Core__V3__TypedExtensionConfig *t, xg_dns_resolver_config *out)
{
    if (t->typed_config == NULL)
        return xg__ces_fail_at(x, "typed_config", "required (a %s)", CARES_TYPE);
    const char *type = xg__ces_any_name(t->typed_config);
    if (strcmp(type, CARES_TYPE) != 0)
        return xg__ces_fail_at(x, "typed_config", "resolver type \"%s\" is not supported (only %s is)", type,
                               CARES_TYPE);
    ProtobufCMessage *m = NULL;
    int rc = xg__ces_any_unpack(
        x, "typed_config", t->typed_config,
        &envoy__extensions__network__dns_resolver__cares__v3__cares_dns_resolver_config__descriptor, &m);
    if (rc != 0)
        return rc;
    const pb_cares *pb = (const pb_cares *)m;
    size_t mark = xg_xlate_push(x, "typed_config");
    if (pb->n_resolvers == 0)
        rc = xg__ces_fail_at(x, "resolvers", "at least one resolver is required");
    if (rc == 0)
        rc = resolver_list(x, "resolvers", pb->resolvers, pb->n_resolvers, out);
    xg_xlate_pop(x, mark);
    options(pb->dns_resolver_options, out);
    out->resolvers_as_fallback = pb->use_resolvers_as_fallback;
    out->filter_unroutable_families = pb->filter_unroutable_families;
    out->udp_max_queries = xg__ces_u32(pb->udp_max_queries, 0);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int resolvers(xg_xlate *x, const pb_cluster *pb, xg_dns_resolver_config *out)
{
    if (pb->typed_dns_resolver_config != NULL) {
        size_t mark = xg_xlate_push(x, "typed_dns_resolver_config");
        int rc = cares(x, pb->typed_dns_resolver_config, out);
        xg_xlate_pop(x, mark);
        return rc;
    }
    const Envoy__Config__Core__V3__DnsResolutionConfig *drc = pb->dns_resolution_config;
    if (drc != NULL) {
        if (drc->n_resolvers == 0)
            return xg__ces_fail_at(x, "dns_resolution_config.resolvers", "at least one resolver is required");
        size_t mark = xg_xlate_push(x, "dns_resolution_config");
        int rc = resolver_list(x, "resolvers", drc->resolvers, drc->n_resolvers, out);
        xg_xlate_pop(x, mark);
        options(drc->dns_resolver_options, out);
        return rc;
    }
    out->use_tcp = pb->use_tcp_for_dns_lookups;
    return resolver_list(x, "dns_resolvers", pb->dns_resolvers, pb->n_dns_resolvers, out);
}

int xg__xlate_cluster_dns(xg_xlate *x, const pb_cluster *pb, xg_cluster *c)
{
    if ((unsigned)pb->dns_lookup_family > CL(DNS_LOOKUP_FAMILY__ALL))
        return xg__ces_fail_at(x, "dns_lookup_family", "unknown value %d", (int)pb->dns_lookup_family);
    c->dns_lookup_family = (xg_dns_family)pb->dns_lookup_family;
    c->respect_dns_ttl = pb->respect_dns_ttl;
    int rc = refresh_rates(x, pb, c);
    return rc != 0 ? rc : resolvers(x, pb, &c->dns_resolver);
}
