/* Unit tests for the ClusterLoadAssignment translator (xlate_endpoint.c):
 * localities, priorities, weights, health, the policy, Envoy's defaults, and
 * the exact NACK text for invalid or unsupported endpoints. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config/endpoint.h"
#include "xlate_ces_test.h"

static int xl(xg_xlate *x, const void *pb)
{
    return xg_xlate_endpoints(x, pb);
}

static xg_res *cla(const char *yaml)
{
    return xlate_yaml(&envoy__config__endpoint__v3__cluster_load_assignment__descriptor, XG_RES_ENDPOINTS, xl, yaml);
}

static void nack(const char *yaml, const char *want)
{
    xg_res *r = cla(yaml);
    CHECK(r == NULL);
    CHECK_STR(err, want);
    xg_res_unref(r);
}

#define EP(addr, port) "{endpoint: {address: {socket_address: {address: '" addr "', port_value: " #port "}}}}"

XG_TEST(full_assignment)
{
    xg_res *r = cla(
        "cluster_name: web\n"
        "endpoints:\n"
        "- locality: {region: eu, zone: eu-a, sub_zone: r1}\n"
        "  load_balancing_weight: 3\n"
        "  lb_endpoints:\n"
        "  - endpoint:\n"
        "      address: {socket_address: {address: 10.0.0.1, port_value: 8080}}\n"
        "      hostname: web-1.internal\n"
        "      health_check_config: {port_value: 9090, hostname: hc.internal}\n"
        "    health_status: HEALTHY\n"
        "    load_balancing_weight: 5\n"
        "    metadata: {filter_metadata: {envoy.lb: {canary: true}}}\n"
        "  - " EP("10.0.0.1", 8080) "\n"
                                    "- priority: 2\n"
                                    "  proximity: 1\n"
                                    "  lb_endpoints:\n"
                                    "  - endpoint: {address: {socket_address: {address: 'fd00::2', port_value: 443}}, "
                                    "health_check_config: {disable_active_health_check: true}}\n"
                                    "    health_status: DRAINING\n"
                                    "policy: {overprovisioning_factor: 200, endpoint_stale_after: 30s, "
                                    "drop_overloads: [{category: throttle, drop_percentage: {numerator: 5, "
                                    "denominator: TEN_THOUSAND}}]}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_endpoints *e = r->body;
    CHECK_STR(e->cluster_name, "web");
    CHECK_EQ_INT(r->n_deps, 0);
    CHECK_EQ_INT(e->n_localities, 2);
    CHECK_EQ_INT(e->n_priorities, 3); /* priority 1 is empty: gaps are allowed as in Envoy */
    CHECK_EQ_INT(e->n_endpoints, 3);
    const xg_locality_endpoints *l = &e->localities[0];
    CHECK_STR(l->region, "eu");
    CHECK_STR(l->zone, "eu-a");
    CHECK_STR(l->sub_zone, "r1");
    CHECK_EQ_INT(l->weight, 3);
    CHECK_EQ_INT(l->priority, 0);
    CHECK_EQ_INT(l->n_endpoints, 2);
    const xg_lb_endpoint *p = &l->endpoints[0];
    CHECK_STR(p->host, "10.0.0.1");
    CHECK_EQ_INT(p->port, 8080);
    CHECK(p->is_ip);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&p->addr;
    CHECK_EQ_INT(sin->sin_family, AF_INET);
    CHECK_EQ_INT(ntohs(sin->sin_port), 8080);
    CHECK_EQ_INT(ntohl(sin->sin_addr.s_addr), 0x0a000001);
    CHECK_EQ_INT(p->addrlen, sizeof(struct sockaddr_in));
    CHECK_STR(p->hostname, "web-1.internal");
    CHECK_EQ_INT(p->health, XG_HEALTH_HEALTHY);
    CHECK_EQ_INT(p->weight, 5);
    CHECK_EQ_INT(p->hc_port, 9090);
    CHECK_STR(p->hc_hostname, "hc.internal");
    CHECK(!p->hc_disabled);
    /* a duplicate address in one locality is accepted, as Envoy does */
    p = &l->endpoints[1];
    CHECK_STR(p->host, "10.0.0.1");
    CHECK_EQ_INT(p->weight, 1);
    CHECK_EQ_INT(p->health, XG_HEALTH_UNKNOWN);
    CHECK(p->hostname == NULL && p->hc_hostname == NULL && p->hc_port == 0);
    l = &e->localities[1];
    CHECK_STR(l->region, "");
    CHECK_EQ_INT(l->weight, 0);
    CHECK_EQ_INT(l->priority, 2);
    p = &l->endpoints[0];
    CHECK_EQ_INT(p->addr.ss_family, AF_INET6);
    CHECK_EQ_INT(ntohs(((const struct sockaddr_in6 *)&p->addr)->sin6_port), 443);
    CHECK_EQ_INT(p->health, XG_HEALTH_DRAINING);
    CHECK(p->hc_disabled);
    CHECK_EQ_INT(e->overprovisioning_factor, 200);
    CHECK_EQ_INT(e->endpoint_stale_after_ms, 30000);
    if (CHECK_EQ_INT(e->n_drop_overloads, 1)) {
        CHECK_STR(e->drop_overloads[0].category, "throttle");
        CHECK_EQ_INT(e->drop_overloads[0].numerator, 5);
        CHECK_EQ_INT(e->drop_overloads[0].denominator, 10000);
    }
    xg_res_unref(r);
}

XG_TEST(defaults_and_empty)
{
    xg_res *r = cla("cluster_name: empty\n");
    if (CHECK(r != NULL)) {
        const xg_endpoints *e = r->body;
        CHECK_EQ_INT(e->n_localities, 0);
        CHECK_EQ_INT(e->n_priorities, 0);
        CHECK_EQ_INT(e->n_endpoints, 0);
        CHECK_EQ_INT(e->overprovisioning_factor, 140);
        CHECK_EQ_INT(e->endpoint_stale_after_ms, 0);
        CHECK_EQ_INT(e->n_drop_overloads, 0);
    }
    xg_res_unref(r);
    r = cla("cluster_name: c\nendpoints: [{lb_endpoints: []}]\npolicy: {drop_overloads: [{category: x, "
            "drop_percentage: {numerator: 500}}]}\n");
    if (CHECK(r != NULL)) {
        const xg_endpoints *e = r->body;
        CHECK_EQ_INT(e->n_priorities, 1);
        /* clamped to the denominator */
        CHECK(e->drop_overloads[0].numerator == 100 && e->drop_overloads[0].denominator == 100);
    }
    xg_res_unref(r);
}

XG_TEST(endpoint_nacks)
{
    nack("endpoints: []\n", "cluster_name: required");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [" EP("web.internal", 80) "]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: \"web.internal\" is not an IP address "
         "(hostnames are resolved only in STRICT_DNS and LOGICAL_DNS clusters)");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [" EP("10.0.0.1", 0) "]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: must be 1..65535, got 0");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [" EP("", 80) "]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: required");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, "
         "named_port: http}}}}]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.named_port: not supported: use port_value");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {protocol: UDP, "
         "address: 10.0.0.1, port_value: 53}}}}]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.protocol: only TCP is supported");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{endpoint: {address: {pipe: {path: /tmp/s}}}}]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.address: only socket_address is supported for upstream endpoints (no "
         "pipe or internal address)");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{endpoint: {}}]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.address: required");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{health_status: HEALTHY}]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint: required");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{endpoint_name: ep1}]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint_name: named endpoints are not supported");
    nack("cluster_name: c\nnamed_endpoints: {ep1: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}}\n",
         "named_endpoints: not supported");
}

XG_TEST(weight_and_priority_nacks)
{
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, "
         "port_value: 80}}}, load_balancing_weight: 0}]}]\n",
         "endpoints[0].lb_endpoints[0].load_balancing_weight: must be at least 1");
    nack("cluster_name: c\nendpoints: [{load_balancing_weight: 0}]\n",
         "endpoints[0].load_balancing_weight: must be at least 1");
    nack("cluster_name: c\nendpoints: [{priority: 129}]\n", "endpoints[0].priority: must be 0..128, got 129");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: ["
         "{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}, load_balancing_weight: "
         "4294967295},"
         "{endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 80}}}, load_balancing_weight: 1}]}]\n",
         "endpoints[0].lb_endpoints: the sum of the endpoints' load_balancing_weight exceeds 4294967295");
    nack("cluster_name: c\nendpoints: [{load_balancing_weight: 4294967295}, {load_balancing_weight: 1}]\n",
         "endpoints: the sum of the localities' load_balancing_weight at priority 0 exceeds 4294967295");
}

XG_TEST(policy_and_unsupported_nacks)
{
    nack("cluster_name: c\npolicy: {overprovisioning_factor: 0}\n",
         "policy.overprovisioning_factor: must be greater than 0");
    nack("cluster_name: c\npolicy: {weighted_priority_health: true}\n",
         "policy.weighted_priority_health: not supported");
    nack("cluster_name: c\npolicy: {drop_overloads: [{category: a}, {category: b}]}\n",
         "policy.drop_overloads: only one drop_overload category is supported (as in Envoy), got 2");
    nack("cluster_name: c\npolicy: {drop_overloads: [{}]}\n", "policy.drop_overloads[0].category: required");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, "
         "port_value: 80}}, health_check_config: {address: {socket_address: {address: 10.0.0.2, port_value: "
         "81}}}}}]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.health_check_config.address: not supported: use port_value and "
         "hostname");
    nack("cluster_name: c\nendpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, "
         "port_value: 80}}, additional_addresses: [{}]}}]}]\n",
         "endpoints[0].lb_endpoints[0].endpoint.additional_addresses: not supported");
}
