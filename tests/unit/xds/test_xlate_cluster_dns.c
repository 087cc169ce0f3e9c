/* Unit tests for a DNS cluster's resolver settings (xlate_cluster_dns.c):
 * defaults, refresh rates and TTL, every lookup family, resolvers from
 * typed_dns_resolver_config (CaresDnsResolverConfig), from the deprecated
 * dns_resolution_config and dns_resolvers + use_tcp_for_dns_lookups and
 * which one wins, and the exact NACK text for bad resolver settings. */
#include <arpa/inet.h>

#include "cluster/host.h"
#include "config/cluster.h"
#include "net/listen.h"
#include "xlate_ces_test.h"

static int xl(xg_xlate *x, const void *pb)
{
    return xg_xlate_cluster(x, pb);
}

static xg_res *cluster(const char *yaml)
{
    return xlate_yaml(&envoy__config__cluster__v3__cluster__descriptor, XG_RES_CLUSTER, xl, yaml);
}

static void nack(const char *yaml, const char *want)
{
    xg_res *r = cluster(yaml);
    CHECK(r == NULL);
    CHECK_STR(err, want);
    xg_res_unref(r);
}

#define DNS1                                                                                                           \
    "name: d\ntype: STRICT_DNS\nload_assignment: {cluster_name: d, endpoints: [{lb_endpoints: [{endpoint: {address: "  \
    "{socket_address: {address: svc.test, port_value: 8080}}}}]}]}\n"
#define CARES(v) "typed_dns_resolver_config: {name: envoy.network.dns_resolver.cares, typed_config: " v "}\n"
#define CARES_TYPE "'@type': type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig"

static const char *addr(const struct sockaddr_storage *ss)
{
    static char buf[XG_HOST_ADDR_STR];
    xg_sockaddr_str((const struct sockaddr *)ss, buf, sizeof buf);
    return buf;
}

XG_TEST(defaults_are_envoys)
{
    xg_res *r = cluster(DNS1);
    if (!CHECK(r != NULL))
        return;
    const xg_cluster *c = r->body;
    CHECK_EQ_INT(c->type, XG_CLUSTER_STRICT_DNS);
    CHECK_EQ_INT(c->dns_refresh_rate_ms, 5000);
    CHECK_EQ_INT(c->dns_failure_refresh_base_ms, 0);
    CHECK(!c->respect_dns_ttl);
    CHECK_EQ_INT(c->dns_lookup_family, XG_DNS_AUTO);
    CHECK_EQ_INT(c->dns_resolver.n_resolvers, 0);
    CHECK(!c->dns_resolver.use_tcp && !c->dns_resolver.no_default_search_domain);
    CHECK(!c->load_assignment->localities[0].endpoints[0].is_ip);
    CHECK_STR(c->load_assignment->localities[0].endpoints[0].host, "svc.test");
    xg_res_unref(r);
}

XG_TEST(rates_ttl_and_families)
{
    static const char *fam[] = {"AUTO", "V4_ONLY", "V6_ONLY", "V4_PREFERRED", "ALL"};
    for (int i = 0; i < 5; i++) {
        char y[1024];
        snprintf(y, sizeof y,
                 DNS1 "dns_refresh_rate: 0.5s\nrespect_dns_ttl: true\ndns_lookup_family: %s\n"
                      "dns_failure_refresh_rate: {base_interval: 0.2s, max_interval: 3s}\n",
                 fam[i]);
        xg_res *r = cluster(y);
        if (!CHECK(r != NULL))
            return;
        const xg_cluster *c = r->body;
        CHECK_EQ_INT(c->dns_lookup_family, i);
        CHECK_EQ_INT(c->dns_refresh_rate_ms, 500);
        CHECK(c->respect_dns_ttl);
        CHECK_EQ_INT(c->dns_failure_refresh_base_ms, 200);
        CHECK_EQ_INT(c->dns_failure_refresh_max_ms, 3000);
        xg_res_unref(r);
    }
    xg_res *r = cluster(DNS1 "dns_failure_refresh_rate: {base_interval: 2s}\n");
    if (CHECK(r != NULL))
        CHECK_EQ_INT(((const xg_cluster *)r->body)->dns_failure_refresh_max_ms, 20000); /* 10 x base */
    xg_res_unref(r);
}

XG_TEST(cares_resolvers_and_options)
{
    xg_res *r = cluster(DNS1 CARES("{" CARES_TYPE ", resolvers: [{socket_address: {address: 127.0.0.1, port_value: "
                                   "5353}}, {socket_address: {address: '::1'}}], use_resolvers_as_fallback: true, "
                                   "filter_unroutable_families: true, udp_max_queries: 100, dns_resolver_options: "
                                   "{use_tcp_for_dns_lookups: true, no_default_search_domain: true}}"));
    if (!CHECK(r != NULL))
        return;
    const xg_dns_resolver_config *d = &((const xg_cluster *)r->body)->dns_resolver;
    CHECK_EQ_INT(d->n_resolvers, 2);
    CHECK_STR(addr(&d->resolvers[0]), "127.0.0.1:5353");
    CHECK_STR(addr(&d->resolvers[1]), "[::1]:53"); /* port 0: 53, as c-ares takes it */
    CHECK(d->resolvers_as_fallback && d->filter_unroutable_families && d->use_tcp && d->no_default_search_domain);
    CHECK_EQ_INT(d->udp_max_queries, 100);
    xg_res_unref(r);
}

XG_TEST(deprecated_resolver_fields_and_precedence)
{
    xg_res *r = cluster(DNS1 "dns_resolvers: [{socket_address: {address: 10.0.0.1, port_value: 53}}]\n"
                             "use_tcp_for_dns_lookups: true\n");
    if (!CHECK(r != NULL))
        return;
    const xg_dns_resolver_config *d = &((const xg_cluster *)r->body)->dns_resolver;
    CHECK_EQ_INT(d->n_resolvers, 1);
    CHECK_STR(addr(&d->resolvers[0]), "10.0.0.1:53");
    CHECK(d->use_tcp);
    xg_res_unref(r);
    /* dns_resolution_config wins over dns_resolvers */
    r = cluster(DNS1 "dns_resolvers: [{socket_address: {address: 10.0.0.1, port_value: 53}}]\n"
                     "dns_resolution_config: {resolvers: [{socket_address: {address: 10.0.0.2, port_value: 5353}}], "
                     "dns_resolver_options: {no_default_search_domain: true}}\n");
    if (!CHECK(r != NULL))
        return;
    d = &((const xg_cluster *)r->body)->dns_resolver;
    CHECK_EQ_INT(d->n_resolvers, 1);
    CHECK_STR(addr(&d->resolvers[0]), "10.0.0.2:5353");
    CHECK(d->no_default_search_domain && !d->use_tcp);
    xg_res_unref(r);
    /* typed_dns_resolver_config wins over both */
    r = cluster(DNS1 "dns_resolution_config: {resolvers: [{socket_address: {address: 10.0.0.2, port_value: 53}}]}\n"
                     "dns_resolvers: [{socket_address: {address: 10.0.0.1, port_value: 53}}]\n" CARES(
                         "{" CARES_TYPE ", resolvers: [{socket_address: {address: 10.0.0.3, port_value: 53}}]}"));
    if (!CHECK(r != NULL))
        return;
    d = &((const xg_cluster *)r->body)->dns_resolver;
    CHECK_EQ_INT(d->n_resolvers, 1);
    CHECK_STR(addr(&d->resolvers[0]), "10.0.0.3:53");
    xg_res_unref(r);
}

XG_TEST(bad_resolver_settings)
{
    nack(DNS1 CARES("{" CARES_TYPE "}"),
         "typed_dns_resolver_config.typed_config.resolvers: at least one resolver is required");
    nack(DNS1 CARES("{" CARES_TYPE ", resolvers: [{socket_address: {address: dns.example, port_value: 53}}]}"),
         "typed_dns_resolver_config.typed_config.resolvers[0].socket_address.address: \"dns.example\" is not an IP "
         "address (a resolver cannot be a name)");
    nack(DNS1 CARES("{" CARES_TYPE ", resolvers: [{pipe: {path: /tmp/dns}}]}"),
         "typed_dns_resolver_config.typed_config.resolvers[0]: a resolver needs a socket_address");
    nack(DNS1 CARES("{" CARES_TYPE ", resolvers: [{socket_address: {address: 10.0.0.1, named_port: dns}}]}"),
         "typed_dns_resolver_config.typed_config.resolvers[0].socket_address.named_port: not supported: use "
         "port_value");
    nack(DNS1 CARES("{'@type': type.googleapis.com/envoy.config.core.v3.DnsResolutionConfig}"),
         "typed_dns_resolver_config.typed_config: resolver type \"envoy.config.core.v3.DnsResolutionConfig\" is not "
         "supported (only envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig is)");
    nack(DNS1 "dns_resolution_config: {dns_resolver_options: {use_tcp_for_dns_lookups: true}}\n",
         "dns_resolution_config.resolvers: at least one resolver is required");
    nack(DNS1 "dns_resolvers: [{socket_address: {address: 10.0.0.1, port_value: 99999}}]\n",
         "dns_resolvers[0].socket_address.port_value: must be 0..65535, got 99999");
    nack(DNS1 "dns_refresh_rate: 0.001s\n", "dns_refresh_rate: must be greater than 1ms");
}
