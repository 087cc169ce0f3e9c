/* ClusterLoadAssignment -> xg_endpoints, for EDS resources and for the inline
 * load_assignment of STATIC and DNS clusters (xg__xlate_cla). Follows Envoy:
 * addresses are IP literals except in DNS clusters, ports 1..65535, weights
 * >= 1 with per-locality and per-priority sums within uint32, priorities up
 * to 128 (gaps allowed), duplicate addresses allowed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "config/endpoint.h"
#include "core/error.h"
#include "xds/xlate_ces.h"

typedef Envoy__Config__Endpoint__V3__ClusterLoadAssignment pb_cla;
typedef Envoy__Config__Endpoint__V3__LocalityLbEndpoints pb_locality;
typedef Envoy__Config__Endpoint__V3__LbEndpoint pb_lb_endpoint;
typedef Envoy__Config__Endpoint__V3__Endpoint pb_endpoint;
typedef Envoy__Config__Core__V3__SocketAddress pb_sockaddr;

#define MAX_PRIORITY 128

/* Parses an IPv4 or IPv6 literal with port into e->addr. */
static bool parse_ip(const char *host, uint16_t port, xg_lb_endpoint *e)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&e->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&e->addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        e->addrlen = sizeof(*v4);
        return true;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        e->addrlen = sizeof(*v6);
        return true;
    }
    return false;
}

/* A DNS name as resolvers accept it: labels of 1..63 letters, digits, '-' or
 * '_', not starting or ending with '-', 253 bytes at most, optional final dot. */
static bool valid_dns_name(const char *s)
{
    size_t len = strlen(s), label = 0;
    if (len == 0 || len > 254 || (len == 254 && s[253] != '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok || (c == '-' && label == 0) || ++label > 63)
            return false;
    }
    return s[len - 1] != '-';
}

static int socket_address(xg_xlate *x, const pb_sockaddr *sa, bool allow_hostnames, xg_lb_endpoint *e)
{
    if (sa->protocol != ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PROTOCOL__TCP)
        return xg__ces_fail_at(x, "protocol", "only TCP is supported");
    if (sa->resolver_name[0] != '\0')
        return xg__ces_fail_at(x, "resolver_name", "custom resolvers are not supported");
    if (sa->ipv4_compat)
        return xg__ces_fail_at(x, "ipv4_compat", "not supported for upstream endpoints");
    if (sa->port_specifier_case == ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_NAMED_PORT)
        return xg__ces_fail_at(x, "named_port", "not supported: use port_value");
    if (sa->port_value == 0 || sa->port_value > 65535)
        return xg__ces_fail_at(x, "port_value", "must be 1..65535, got %u", sa->port_value);
    e->port = (uint16_t)sa->port_value;
    if (sa->address[0] == '\0')
        return xg__ces_fail_at(x, "address", "required");
    e->is_ip = parse_ip(sa->address, e->port, e);
    if (!e->is_ip && !allow_hostnames)
        return xg__ces_fail_at(x, "address",
                               "\"%s\" is not an IP address (hostnames are resolved only in "
                               "STRICT_DNS and LOGICAL_DNS clusters)",
                               sa->address);
    if (!e->is_ip && !valid_dns_name(sa->address))
        return xg__ces_fail_at(x, "address", "\"%s\" is neither an IP address nor a valid DNS name", sa->address);
    return (e->host = xg_xlate_strdup(x, sa->address)) ? 0 : XG_ENOMEM;
}

static int address(xg_xlate *x, const Envoy__Config__Core__V3__Address *a, bool allow_hostnames, xg_lb_endpoint *e)
{
    if (a == NULL)
        return xg__ces_fail_at(x, "address", "required");
    size_t mark = xg_xlate_push(x, "address");
    int rc;
    if (a->address_case == ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_SOCKET_ADDRESS) {
        size_t m = xg_xlate_push(x, "socket_address");
        rc = socket_address(x, a->socket_address, allow_hostnames, e);
        xg_xlate_pop(x, m);
    } else if (a->address_case == ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS__NOT_SET) {
        rc = xg_xlate_fail(x, "socket_address is required");
    } else {
        rc = xg_xlate_fail(x, "only socket_address is supported for upstream endpoints (no pipe or internal address)");
    }
    xg_xlate_pop(x, mark);
    return rc;
}

static int health_check_config(xg_xlate *x, const Envoy__Config__Endpoint__V3__Endpoint__HealthCheckConfig *hc,
                               xg_lb_endpoint *e)
{
    if (hc == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "health_check_config");
    int rc = 0;
    if (hc->address != NULL)
        rc = xg__ces_fail_at(x, "address", "not supported: use port_value and hostname");
    else if (hc->port_value > 65535)
        rc = xg__ces_fail_at(x, "port_value", "must be 0..65535, got %u", hc->port_value);
    xg_xlate_pop(x, mark);
    if (rc != 0)
        return rc;
    e->hc_port = (uint16_t)hc->port_value;
    e->hc_disabled = hc->disable_active_health_check;
    if (hc->hostname[0] != '\0' && (e->hc_hostname = xg_xlate_strdup(x, hc->hostname)) == NULL)
        return XG_ENOMEM;
    return 0;
}

static int endpoint(xg_xlate *x, const pb_endpoint *pb, bool allow_hostnames, xg_lb_endpoint *e)
{
    size_t mark = xg_xlate_push(x, "endpoint");
    int rc = address(x, pb->address, allow_hostnames, e);
    if (rc == 0 && pb->n_additional_addresses > 0)
        rc = xg__ces_fail_at(x, "additional_addresses", "not supported");
    if (rc == 0)
        rc = health_check_config(x, pb->health_check_config, e);
    if (rc == 0 && pb->hostname[0] != '\0' && (e->hostname = xg_xlate_strdup(x, pb->hostname)) == NULL)
        rc = XG_ENOMEM;
    xg_xlate_pop(x, mark);
    return rc;
}

static int lb_endpoint(xg_xlate *x, const pb_lb_endpoint *pb, bool allow_hostnames, xg_lb_endpoint *e)
{
    if (pb->host_identifier_case == ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT_NAME)
        return xg__ces_fail_at(x, "endpoint_name", "named endpoints are not supported");
    if (pb->host_identifier_case != ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT)
        return xg__ces_fail_at(x, "endpoint", "required");
    if ((unsigned)pb->health_status > XG_HEALTH_DEGRADED)
        return xg__ces_fail_at(x, "health_status", "unknown value %d", (int)pb->health_status);
    e->health = (xg_health_status)pb->health_status;
    e->weight = xg__ces_u32(pb->load_balancing_weight, 1);
    if (e->weight == 0)
        return xg__ces_fail_at(x, "load_balancing_weight", "must be at least 1");
    return endpoint(x, pb->endpoint, allow_hostnames, e);
}

static int locality_strings(xg_xlate *x, const Envoy__Config__Core__V3__Locality *l, xg_locality_endpoints *out)
{
    out->region = xg_xlate_strdup(x, l ? l->region : "");
    out->zone = xg_xlate_strdup(x, l ? l->zone : "");
    out->sub_zone = xg_xlate_strdup(x, l ? l->sub_zone : "");
    return out->region && out->zone && out->sub_zone ? 0 : XG_ENOMEM;
}

static int locality(xg_xlate *x, const pb_locality *pb, bool allow_hostnames, xg_locality_endpoints *out)
{
    if (pb->priority > MAX_PRIORITY)
        return xg__ces_fail_at(x, "priority", "must be 0..%d, got %u", MAX_PRIORITY, pb->priority);
    if (pb->load_balancing_weight != NULL && pb->load_balancing_weight->value == 0)
        return xg__ces_fail_at(x, "load_balancing_weight", "must be at least 1");
    out->priority = pb->priority;
    out->weight = xg__ces_u32(pb->load_balancing_weight, 0);
    int rc = locality_strings(x, pb->locality, out);
    size_t n = pb->n_lb_endpoints;
    if (rc == 0 && n > 0 && (out->endpoints = xg_arena_calloc(&x->res->arena, n, sizeof(*out->endpoints))) == NULL)
        rc = XG_ENOMEM;
    uint64_t sum = 0;
    size_t mark = xg_xlate_push(x, "lb_endpoints");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t m = xg_xlate_push_index(x, i);
        rc = lb_endpoint(x, pb->lb_endpoints[i], allow_hostnames, &out->endpoints[i]);
        xg_xlate_pop(x, m);
        sum += rc == 0 ? out->endpoints[i].weight : 0;
    }
    if (rc == 0 && sum > UINT32_MAX)
        rc = xg_xlate_fail(x, "the sum of the endpoints' load_balancing_weight exceeds 4294967295");
    xg_xlate_pop(x, mark);
    out->n_endpoints = n;
    return rc;
}

/* Envoy: the locality weights of one priority must sum within uint32. */
static int check_locality_weights(xg_xlate *x, const xg_endpoints *e)
{
    for (uint32_t p = 0; p < e->n_priorities; p++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < e->n_localities; i++)
            if (e->localities[i].priority == p)
                sum += e->localities[i].weight;
        if (sum > UINT32_MAX)
            return xg__ces_fail_at(x, "endpoints",
                                   "the sum of the localities' load_balancing_weight at priority %u exceeds 4294967295",
                                   p);
    }
    return 0;
}

static int localities(xg_xlate *x, const pb_cla *pb, bool allow_hostnames, xg_endpoints *out)
{
    size_t n = pb->n_endpoints;
    if (n > 0 && (out->localities = xg_arena_calloc(&x->res->arena, n, sizeof(*out->localities))) == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, "endpoints");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t m = xg_xlate_push_index(x, i);
        xg_locality_endpoints *l = &out->localities[i];
        rc = locality(x, pb->endpoints[i], allow_hostnames, l);
        xg_xlate_pop(x, m);
        if (rc == 0 && l->priority + 1 > out->n_priorities)
            out->n_priorities = l->priority + 1;
        out->n_endpoints += rc == 0 ? l->n_endpoints : 0;
    }
    xg_xlate_pop(x, mark);
    out->n_localities = n;
    return rc ? rc : check_locality_weights(x, out);
}

static int drop_overload(xg_xlate *x,
                         const Envoy__Config__Endpoint__V3__ClusterLoadAssignment__Policy__DropOverload *pb,
                         xg_drop_overload *out)
{
    static const uint32_t denominators[] = {100, 10000, 1000000};
    if (pb->category[0] == '\0')
        return xg__ces_fail_at(x, "category", "required");
    const Envoy__Type__V3__FractionalPercent *fp = pb->drop_percentage;
    if (fp != NULL && (unsigned)fp->denominator > 2)
        return xg__ces_fail_at(x, "drop_percentage.denominator", "unknown value %d", (int)fp->denominator);
    out->denominator = fp ? denominators[fp->denominator] : 100;
    out->numerator = fp ? fp->numerator : 0;
    if (out->numerator > out->denominator)
        out->numerator = out->denominator;
    return (out->category = xg_xlate_strdup(x, pb->category)) ? 0 : XG_ENOMEM;
}

static int policy(xg_xlate *x, const Envoy__Config__Endpoint__V3__ClusterLoadAssignment__Policy *pb, xg_endpoints *out)
{
    out->overprovisioning_factor = 140;
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "policy");
    int rc = 0;
    out->overprovisioning_factor = xg__ces_u32(pb->overprovisioning_factor, 140);
    if (out->overprovisioning_factor == 0)
        rc = xg__ces_fail_at(x, "overprovisioning_factor", "must be greater than 0");
    else if (pb->weighted_priority_health)
        rc = xg__ces_fail_at(x, "weighted_priority_health", "not supported");
    else if (pb->n_drop_overloads > 1)
        rc = xg__ces_fail_at(x, "drop_overloads", "only one drop_overload category is supported (as in Envoy), got %zu",
                             pb->n_drop_overloads);
    if (rc == 0)
        rc = xg__ces_duration(x, "endpoint_stale_after", pb->endpoint_stale_after, 0, XG__DUR_NONNEG,
                              &out->endpoint_stale_after_ms);
    if (rc == 0 && pb->n_drop_overloads == 1) {
        size_t m = xg_xlate_push(x, "drop_overloads");
        xg_xlate_push_index(x, 0);
        out->n_drop_overloads = 1;
        out->drop_overloads = xg_xlate_alloc(x, sizeof(*out->drop_overloads));
        rc = out->drop_overloads ? drop_overload(x, pb->drop_overloads[0], out->drop_overloads) : XG_ENOMEM;
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    return rc;
}

int xg__xlate_cla(xg_xlate *x, const pb_cla *pb, bool allow_hostnames, xg_endpoints **out)
{
    xg_endpoints *e = xg_xlate_alloc(x, sizeof(*e));
    if (e == NULL)
        return XG_ENOMEM;
    if (pb->cluster_name[0] == '\0')
        return xg__ces_fail_at(x, "cluster_name", "required");
    if (pb->n_named_endpoints > 0)
        return xg__ces_fail_at(x, "named_endpoints", "not supported");
    if ((e->cluster_name = xg_xlate_strdup(x, pb->cluster_name)) == NULL)
        return XG_ENOMEM;
    int rc = localities(x, pb, allow_hostnames, e);
    if (rc == 0)
        rc = policy(x, pb->policy, e);
    if (rc == 0)
        *out = e;
    return rc;
}

int xg_xlate_endpoints(xg_xlate *x, const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *pb)
{
    xg_endpoints *e = NULL;
    /* An EDS resource only ever serves EDS clusters, whose endpoints are IPs. */
    int rc = xg__xlate_cla(x, pb, false, &e);
    if (rc == 0)
        x->res->body = e;
    return rc;
}
