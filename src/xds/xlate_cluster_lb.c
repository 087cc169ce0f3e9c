/* A Cluster's load balancer: lb_policy with its *_lb_config, or the first
 * supported typed policy of load_balancing_policy (as Envoy picks it), plus
 * common_lb_config. Supported: round robin, least request, random, ring hash
 * (xxHash) and maglev; knobs xdsgate does not implement (slow start, zone
 * aware routing, bounded loads, ...) are a NACK when set. */
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "envoy/extensions/load_balancing_policies/least_request/v3/least_request.pb-c.h"
#include "envoy/extensions/load_balancing_policies/maglev/v3/maglev.pb-c.h"
#include "envoy/extensions/load_balancing_policies/random/v3/random.pb-c.h"
#include "envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.pb-c.h"
#include "envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.pb-c.h"
#include "xds/xlate_ces.h"

typedef Envoy__Config__Cluster__V3__Cluster pb_cluster;
typedef Envoy__Extensions__LoadBalancingPolicies__Common__V3__LocalityLbConfig pb_locality_lb;
typedef Envoy__Extensions__LoadBalancingPolicies__Common__V3__ConsistentHashingLbConfig pb_chash;
typedef Envoy__Extensions__LoadBalancingPolicies__LeastRequest__V3__LeastRequest pb_least_request;
typedef Envoy__Extensions__LoadBalancingPolicies__RingHash__V3__RingHash pb_ring_hash;
typedef Envoy__Extensions__LoadBalancingPolicies__Maglev__V3__Maglev pb_maglev;
typedef Envoy__Extensions__LoadBalancingPolicies__RoundRobin__V3__RoundRobin pb_round_robin;
typedef Envoy__Extensions__LoadBalancingPolicies__Random__V3__Random pb_random;
#define CL(c) ENVOY__CONFIG__CLUSTER__V3__CLUSTER__##c
#define LBP(c) ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__##c

#define RING_MAX 8388608ULL
#define MAGLEV_MAX 5000011ULL

static bool is_prime(uint64_t n)
{
    if (n < 2)
        return false;
    for (uint64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return true;
}

static int ring_sizes(xg_xlate *x, const Google__Protobuf__UInt64Value *min, const Google__Protobuf__UInt64Value *max,
                      xg_lb_config *out)
{
    out->ring_min = xg__ces_u64(min, 1024);
    out->ring_max = xg__ces_u64(max, RING_MAX);
    /* Envoy accepts 0 and then builds an empty ring that routes nowhere. */
    if (out->ring_min == 0)
        return xg__ces_fail_at(x, "minimum_ring_size", "must be at least 1");
    if (out->ring_min > RING_MAX)
        return xg__ces_fail_at(x, "minimum_ring_size", "must be at most %llu", RING_MAX);
    if (out->ring_max > RING_MAX)
        return xg__ces_fail_at(x, "maximum_ring_size", "must be at most %llu", RING_MAX);
    if (out->ring_min > out->ring_max)
        return xg__ces_fail_at(x, "minimum_ring_size", "%llu is above maximum_ring_size %llu",
                               (unsigned long long)out->ring_min, (unsigned long long)out->ring_max);
    return 0;
}

static int maglev_size(xg_xlate *x, const Google__Protobuf__UInt64Value *v, xg_lb_config *out)
{
    out->maglev_table_size = xg__ces_u64(v, 65537);
    if (out->maglev_table_size > MAGLEV_MAX)
        return xg__ces_fail_at(x, "table_size", "must be at most %llu", MAGLEV_MAX);
    if (!is_prime(out->maglev_table_size))
        return xg__ces_fail_at(x, "table_size", "must be a prime number, got %llu",
                               (unsigned long long)out->maglev_table_size);
    return 0;
}

/* LEAST_REQUEST's knobs. active_request_bias: its default_value (xdsgate
 * has no runtime); a negative or NaN bias means 1.0, with a warning, as in
 * Envoy. */
static int choice_count(xg_xlate *x, const Google__Protobuf__UInt32Value *v,
                        const Envoy__Config__Core__V3__RuntimeDouble *bias, bool slow_start, xg_lb_config *out)
{
    out->choice_count = xg__ces_u32(v, 2);
    if (out->choice_count < 2)
        return xg__ces_fail_at(x, "choice_count", "must be at least 2, got %u", out->choice_count);
    out->active_request_bias = bias != NULL ? bias->default_value : 1.0;
    if (!(out->active_request_bias >= 0.0)) {
        xg_log_warn("least request: invalid active_request_bias %g, using 1.0", out->active_request_bias);
        out->active_request_bias = 1.0;
    }
    if (slow_start)
        return xg__ces_fail_at(x, "slow_start_config", "not supported");
    return 0;
}

/* --- lb_policy + the legacy oneof lb_config --- */

static int legacy_lb_config(xg_xlate *x, const pb_cluster *pb, xg_lb_config *out)
{
    int rc = 0;
    size_t mark;
    switch (pb->lb_config_case) {
    case CL(LB_CONFIG_RING_HASH_LB_CONFIG):
        mark = xg_xlate_push(x, "ring_hash_lb_config");
        if (pb->ring_hash_lb_config->hash_function != CL(RING_HASH_LB_CONFIG__HASH_FUNCTION__XX_HASH))
            rc = xg__ces_fail_at(x, "hash_function", "only XX_HASH is supported");
        if (rc == 0)
            rc = ring_sizes(x, pb->ring_hash_lb_config->minimum_ring_size, pb->ring_hash_lb_config->maximum_ring_size,
                            out);
        break;
    case CL(LB_CONFIG_MAGLEV_LB_CONFIG):
        mark = xg_xlate_push(x, "maglev_lb_config");
        rc = maglev_size(x, pb->maglev_lb_config->table_size, out);
        break;
    case CL(LB_CONFIG_LEAST_REQUEST_LB_CONFIG):
        mark = xg_xlate_push(x, "least_request_lb_config");
        rc =
            choice_count(x, pb->least_request_lb_config->choice_count, pb->least_request_lb_config->active_request_bias,
                         pb->least_request_lb_config->slow_start_config != NULL, out);
        break;
    case CL(LB_CONFIG_ROUND_ROBIN_LB_CONFIG):
        mark = xg_xlate_push(x, "round_robin_lb_config");
        if (pb->round_robin_lb_config->slow_start_config != NULL)
            rc = xg__ces_fail_at(x, "slow_start_config", "not supported");
        break;
    default:
        return 0;
    }
    xg_xlate_pop(x, mark);
    return rc;
}

static int legacy_policy(xg_xlate *x, const pb_cluster *pb, xg_lb_config *out)
{
    switch (pb->lb_policy) {
    case CL(LB_POLICY__ROUND_ROBIN):
        out->policy = XG_LB_ROUND_ROBIN;
        break;
    case CL(LB_POLICY__LEAST_REQUEST):
        out->policy = XG_LB_LEAST_REQUEST;
        break;
    case CL(LB_POLICY__RANDOM):
        out->policy = XG_LB_RANDOM;
        break;
    case CL(LB_POLICY__RING_HASH):
        out->policy = XG_LB_RING_HASH;
        break;
    case CL(LB_POLICY__MAGLEV):
        out->policy = XG_LB_MAGLEV;
        break;
    case CL(LB_POLICY__LOAD_BALANCING_POLICY_CONFIG):
        return xg__ces_fail_at(x, "lb_policy", "LOAD_BALANCING_POLICY_CONFIG needs load_balancing_policy");
    default:
        return xg__ces_fail_at(x, "lb_policy",
                               "%s is not supported (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV are)",
                               pb->lb_policy == CL(LB_POLICY__CLUSTER_PROVIDED) ? "CLUSTER_PROVIDED" : "this value");
    }
    return legacy_lb_config(x, pb, out);
}

/* --- load_balancing_policy: typed extensions --- */

static int locality_lb(xg_xlate *x, const pb_locality_lb *pb, xg_lb_config *out)
{
    if (pb == NULL)
        return 0;
    if (pb->locality_config_specifier_case ==
        LBP(COMMON__V3__LOCALITY_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_ZONE_AWARE_LB_CONFIG))
        return xg__ces_fail_at(x, "locality_lb_config.zone_aware_lb_config", "not supported");
    if (pb->locality_config_specifier_case ==
        LBP(COMMON__V3__LOCALITY_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_LOCALITY_WEIGHTED_LB_CONFIG))
        out->locality_weighted = true;
    return 0;
}

static int chash(xg_xlate *x, const char *field, bool use_hostname, const Google__Protobuf__UInt32Value *balance)
{
    if (use_hostname)
        return xg__ces_fail_at(x, field, "use_hostname_for_hashing is not supported");
    if (balance != NULL)
        return xg__ces_fail_at(x, field, "hash_balance_factor (bounded loads) is not supported");
    return 0;
}

static int typed_ring_hash(xg_xlate *x, const pb_ring_hash *pb, xg_lb_config *out)
{
    out->policy = XG_LB_RING_HASH;
    if (pb->hash_function == LBP(RING_HASH__V3__RING_HASH__HASH_FUNCTION__MURMUR_HASH_2))
        return xg__ces_fail_at(x, "hash_function", "only XX_HASH (the default) is supported");
    const pb_chash *c = pb->consistent_hashing_lb_config;
    int rc = c ? chash(x, "consistent_hashing_lb_config", c->use_hostname_for_hashing, c->hash_balance_factor) : 0;
    out->locality_weighted |= pb->locality_weighted_lb_config != NULL;
    return rc ? rc : ring_sizes(x, pb->minimum_ring_size, pb->maximum_ring_size, out);
}

static int typed_maglev(xg_xlate *x, const pb_maglev *pb, xg_lb_config *out)
{
    out->policy = XG_LB_MAGLEV;
    const pb_chash *c = pb->consistent_hashing_lb_config;
    int rc = c ? chash(x, "consistent_hashing_lb_config", c->use_hostname_for_hashing, c->hash_balance_factor) : 0;
    out->locality_weighted |= pb->locality_weighted_lb_config != NULL;
    return rc ? rc : maglev_size(x, pb->table_size, out);
}

static int typed_least_request(xg_xlate *x, const pb_least_request *pb, xg_lb_config *out)
{
    out->policy = XG_LB_LEAST_REQUEST;
    if (pb->selection_method != LBP(LEAST_REQUEST__V3__LEAST_REQUEST__SELECTION_METHOD__N_CHOICES))
        return xg__ces_fail_at(x, "selection_method", "only N_CHOICES is supported");
    int rc = choice_count(x, pb->choice_count, pb->active_request_bias, pb->slow_start_config != NULL, out);
    return rc ? rc : locality_lb(x, pb->locality_lb_config, out);
}

/* One supported policy type: its descriptor and translator. */
typedef int (*typed_fn)(xg_xlate *x, const ProtobufCMessage *m, xg_lb_config *out);

static int t_round_robin(xg_xlate *x, const ProtobufCMessage *m, xg_lb_config *out)
{
    const pb_round_robin *pb = (const pb_round_robin *)m;
    out->policy = XG_LB_ROUND_ROBIN;
    if (pb->slow_start_config != NULL)
        return xg__ces_fail_at(x, "slow_start_config", "not supported");
    return locality_lb(x, pb->locality_lb_config, out);
}
static int t_random(xg_xlate *x, const ProtobufCMessage *m, xg_lb_config *out)
{
    out->policy = XG_LB_RANDOM;
    return locality_lb(x, ((const pb_random *)m)->locality_lb_config, out);
}
static int t_least_request(xg_xlate *x, const ProtobufCMessage *m, xg_lb_config *out)
{
    return typed_least_request(x, (const pb_least_request *)m, out);
}
static int t_ring_hash(xg_xlate *x, const ProtobufCMessage *m, xg_lb_config *out)
{
    return typed_ring_hash(x, (const pb_ring_hash *)m, out);
}
static int t_maglev(xg_xlate *x, const ProtobufCMessage *m, xg_lb_config *out)
{
    return typed_maglev(x, (const pb_maglev *)m, out);
}

static const struct {
    const ProtobufCMessageDescriptor *desc;
    typed_fn fn;
} typed_policies[] = {
    {&envoy__extensions__load_balancing_policies__round_robin__v3__round_robin__descriptor, t_round_robin},
    {&envoy__extensions__load_balancing_policies__least_request__v3__least_request__descriptor, t_least_request},
    {&envoy__extensions__load_balancing_policies__random__v3__random__descriptor, t_random},
    {&envoy__extensions__load_balancing_policies__ring_hash__v3__ring_hash__descriptor, t_ring_hash},
    {&envoy__extensions__load_balancing_policies__maglev__v3__maglev__descriptor, t_maglev},
};

static int find_typed(const char *type)
{
    for (size_t i = 0; i < sizeof(typed_policies) / sizeof(typed_policies[0]); i++)
        if (strcmp(type, typed_policies[i].desc->name) == 0)
            return (int)i;
    return -1;
}

static int typed_policy(xg_xlate *x, const Envoy__Config__Cluster__V3__LoadBalancingPolicy *pb, xg_lb_config *out)
{
    size_t mark = xg_xlate_push(x, "load_balancing_policy");
    int rc = 0;
    size_t i;
    int k = -1;
    for (i = 0; i < pb->n_policies && k < 0; i++) {
        const Envoy__Config__Core__V3__TypedExtensionConfig *t = pb->policies[i]->typed_extension_config;
        k = t ? find_typed(xg__ces_any_name(t->typed_config)) : -1;
    }
    if (k < 0) {
        rc = xg__ces_fail_at(x, "policies",
                             "none of the %zu policies is supported (round_robin, least_request, "
                             "random, ring_hash and maglev from envoy.extensions.load_balancing_policies are)",
                             pb->n_policies);
    } else {
        xg_xlate_push(x, "policies");
        xg_xlate_push_index(x, i - 1);
        xg_xlate_push(x, "typed_extension_config");
        ProtobufCMessage *m = NULL;
        rc = xg__ces_any_unpack(x, "typed_config", pb->policies[i - 1]->typed_extension_config->typed_config,
                                typed_policies[k].desc, &m);
        xg_xlate_push(x, "typed_config");
        if (rc == 0)
            rc = typed_policies[k].fn(x, m, out);
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    xg_xlate_pop(x, mark);
    return rc;
}

/* --- common_lb_config --- */

static int common_lb(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster__CommonLbConfig *pb, xg_lb_config *out)
{
    out->healthy_panic_threshold = 50.0;
    out->update_merge_window_ms = 1000;
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "common_lb_config");
    int rc =
        xg__ces_percent(x, "healthy_panic_threshold", pb->healthy_panic_threshold, 50.0, &out->healthy_panic_threshold);
    if (rc == 0)
        rc = xg__ces_duration(x, "update_merge_window", pb->update_merge_window, 1000, XG__DUR_NONNEG,
                              &out->update_merge_window_ms);
    if (rc == 0 &&
        pb->locality_config_specifier_case == CL(COMMON_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_ZONE_AWARE_LB_CONFIG))
        rc = xg__ces_fail_at(x, "zone_aware_lb_config", "not supported");
    if (rc == 0 && pb->consistent_hashing_lb_config != NULL)
        rc = chash(x, "consistent_hashing_lb_config", pb->consistent_hashing_lb_config->use_hostname_for_hashing,
                   pb->consistent_hashing_lb_config->hash_balance_factor);
    if (rc == 0 && pb->override_host_status != NULL)
        rc = xg__ces_fail_at(x, "override_host_status", "not supported");
    if (pb->locality_config_specifier_case ==
        CL(COMMON_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_LOCALITY_WEIGHTED_LB_CONFIG))
        out->locality_weighted = true;
    out->ignore_new_hosts_until_first_hc = pb->ignore_new_hosts_until_first_hc;
    out->close_connections_on_host_set_change = pb->close_connections_on_host_set_change;
    xg_xlate_pop(x, mark);
    return rc;
}

int xg__xlate_cluster_lb(xg_xlate *x, const pb_cluster *pb, xg_lb_config *out)
{
    memset(out, 0, sizeof(*out));
    out->choice_count = 2;
    out->active_request_bias = 1.0;
    out->ring_min = 1024;
    out->ring_max = RING_MAX;
    out->maglev_table_size = 65537;
    int rc = common_lb(x, pb->common_lb_config, out);
    if (rc != 0)
        return rc;
    /* As in Envoy, a load_balancing_policy takes precedence over lb_policy. */
    if (pb->load_balancing_policy != NULL)
        return typed_policy(x, pb->load_balancing_policy, out);
    return legacy_policy(x, pb, out);
}
