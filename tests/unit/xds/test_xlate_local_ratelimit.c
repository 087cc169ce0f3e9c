/* Unit tests for LocalRateLimit translation (src/xds/xlate_local_ratelimit.c):
 * YAML -> protobuf -> xg_local_ratelimit_config, as the HTTP filter of a
 * listener's HCM and as a typed_per_filter_config entry of a route
 * configuration: Envoy's defaults, the descriptor order, every NACK with its
 * field path, and the buckets' lives (kept by a new version of the same
 * resource, changed with the limit, released with the resource). */
#include <string.h>

#include "config/hcm.h"
#include "config/listener.h"
#include "config/local_ratelimit.h"
#include "config/route.h"
#include "xg_test.h"
#include "xlate_yaml.h"

static char err[1024];

#define LRL_TYPE "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
#define HCM_TYPE "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
#define ROUTER                                                                                                         \
    "{name: router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}"
/* A listener whose HCM has the local rate limit filter with these fields, then the router. */
#define L(fields)                                                                                                      \
    "name: l1\naddress: {socket_address: {address: 0.0.0.0, port_value: 8080}}\nfilter_chains:\n- filters:\n"          \
    "  - name: hcm\n    typed_config: {'@type': '" HCM_TYPE "', stat_prefix: s, "                                      \
    "rds: {route_config_name: routes, config_source: {ads: {}}}, http_filters: ["                                      \
    "{name: lrl, typed_config: {'@type': '" LRL_TYPE "', " fields "}}, " ROUTER "]}\n"
#define FPATH "filter_chains[0].filters[0].typed_config.http_filters[0].typed_config"
/* A route configuration whose only route carries a LocalRateLimit under the filter's name. */
#define RC(fields)                                                                                                     \
    "name: rc\nvirtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n  - match: {prefix: /}\n"                      \
    "    route: {cluster: c1}\n    typed_per_filter_config:\n      lrl: {'@type': '" LRL_TYPE "', " fields "}\n"
#define RPATH "virtual_hosts[0].routes[0].typed_per_filter_config[\"lrl\"]"

static xg_res *listener(const char *yaml)
{
    return xy_xlate(XG_RES_LISTENER, "l1", yaml, err, sizeof(err));
}

static xg_res *routes(const char *yaml)
{
    return xy_xlate(XG_RES_ROUTE_CONFIG, "rc", yaml, err, sizeof(err));
}

static const xg_local_ratelimit_config *filter_cfg(const xg_res *r)
{
    const xg_listener *l = r->body;
    const xg_http_filter *f = &l->chains[0].hcm->filters[0];
    return f->kind == XG_HTTP_FILTER_LOCAL_RATELIMIT ? f->translated : NULL;
}

static const xg_local_ratelimit_config *route_cfg(const xg_res *r)
{
    const xg_route_config *rc = r->body;
    const xg_typed_config *t = xg_typed_config_find(&rc->vhosts[0].routes[0].cold->per_filter, "lrl");
    return t != NULL ? t->translated : NULL;
}

static bool fails(const char *yaml, const char *want)
{
    bool is_listener = strncmp(yaml, "name: l1", 8) == 0;
    xg_res *r = is_listener ? listener(yaml) : routes(yaml);
    xg_res_unref(r);
    return CHECK(r == NULL) && CHECK_STR(err, want);
}

XG_TEST(defaults)
{
    uint32_t live = xg_tbucket_live();
    xg_res *r = listener(L("stat_prefix: x"));
    if (!CHECK(r != NULL))
        return;
    const xg_local_ratelimit_config *c = filter_cfg(r);
    if (CHECK(c != NULL)) {
        CHECK(!c->has_bucket); /* no default limit: only descriptors (or per-route configs) limit */
        CHECK_EQ_INT(c->status, 429);
        CHECK_EQ_INT(c->enabled_ppm, 0); /* Envoy: 0 % "for safety" when absent */
        CHECK_EQ_INT(c->enforced_ppm, 0);
        CHECK(c->always_consume_default);
        CHECK(!c->per_connection && !c->x_ratelimit_headers && !c->resource_exhausted);
        CHECK_EQ_INT(c->vh_rate_limits, XG_VH_RL_OVERRIDE);
        CHECK_EQ_INT(c->stage, 0);
        CHECK_EQ_INT(c->n_descriptors, 0);
    }
    CHECK_EQ_INT(xg_tbucket_live(), live);
    xg_res_unref(r);
}

#define FULL                                                                                                           \
    "stat_prefix: x, status: {code: 503}, token_bucket: {max_tokens: 10, fill_interval: 2s},"                          \
    "filter_enabled: {runtime_key: k1, default_value: {numerator: 50, denominator: HUNDRED}},"                         \
    "filter_enforced: {runtime_key: k2, default_value: {numerator: 1000, denominator: TEN_THOUSAND}},"                 \
    "response_headers_to_add: [{header: {key: x-limited, value: 'yes'}}],"                                             \
    "request_headers_to_add_when_not_enforced: [{header: {key: x-shadow, value: '1'}}],"                               \
    "descriptors: [{entries: [{key: k, value: slow}], token_bucket: {max_tokens: 5, tokens_per_fill: 10, "             \
    "fill_interval: 1s}}, {entries: [{key: k, value: fast}, {key: u, value: v}], token_bucket: {max_tokens: 2, "       \
    "tokens_per_fill: 2, fill_interval: 60s}}],"                                                                       \
    "stage: 3, vh_rate_limits: INCLUDE, always_consume_default_token_bucket: false,"                                   \
    "enable_x_ratelimit_headers: DRAFT_VERSION_03, rate_limited_as_resource_exhausted: true"

XG_TEST(every_field)
{
    uint32_t live = xg_tbucket_live();
    xg_res *r = listener(L(FULL));
    if (!CHECK(r != NULL))
        return;
    const xg_local_ratelimit_config *c = filter_cfg(r);
    if (!CHECK(c != NULL))
        return;
    CHECK_EQ_INT(c->status, 503);
    CHECK(c->has_bucket);
    CHECK_EQ_INT(c->limit.p.max_tokens, 10);
    CHECK_EQ_INT(c->limit.p.tokens_per_fill, 1); /* default */
    CHECK_EQ_INT(c->limit.p.fill_interval_ns, 2000000000ull);
    CHECK(c->limit.shared != NULL);
    CHECK_EQ_INT(c->enabled_ppm, 500000);
    CHECK_EQ_INT(c->enforced_ppm, 100000);
    CHECK_EQ_INT(c->response_headers.n_add, 1);
    CHECK_STR(c->response_headers.add[0].name.s, "x-limited");
    CHECK_EQ_INT(c->request_headers.n_add, 1);
    CHECK_EQ_INT(c->stage, 3);
    CHECK_EQ_INT(c->vh_rate_limits, XG_VH_RL_INCLUDE);
    CHECK(!c->always_consume_default && c->x_ratelimit_headers && c->resource_exhausted);
    if (CHECK_EQ_INT(c->n_descriptors, 2)) {
        /* strictest fill rate first: 2 per 60 s (0 per second, as Envoy counts) before 10 per second */
        CHECK_STR(c->descriptors[0].values[0].s, "fast");
        CHECK_EQ_INT(c->descriptors[0].n, 2);
        CHECK_STR(c->descriptors[0].keys[1].s, "u");
        CHECK_EQ_INT(c->descriptors[0].limit.p.max_tokens, 2);
        CHECK_STR(c->descriptors[1].values[0].s, "slow");
        CHECK(c->descriptors[0].limit.shared != c->descriptors[1].limit.shared);
    }
    CHECK_EQ_INT(xg_tbucket_live(), live + 3);
    xg_res_unref(r);
    CHECK_EQ_INT(xg_tbucket_live(), live);
}

XG_TEST(status_below_400_becomes_429)
{
    xg_res *r = listener(L("stat_prefix: x, status: {code: 302}"));
    if (CHECK(r != NULL))
        CHECK_EQ_INT(filter_cfg(r)->status, 429);
    xg_res_unref(r);
}

XG_TEST(buckets_survive_a_new_version_and_change_with_the_limit)
{
    uint32_t live = xg_tbucket_live();
    xg_res *v1 = routes(RC("stat_prefix: x, token_bucket: {max_tokens: 3, fill_interval: 1s}"));
    xg_res *v2 = routes(RC("stat_prefix: x, token_bucket: {max_tokens: 3, fill_interval: 1s}"));
    xg_res *v3 = routes(RC("stat_prefix: x, token_bucket: {max_tokens: 4, fill_interval: 1s}"));
    xg_res *other = listener(L("stat_prefix: x, token_bucket: {max_tokens: 3, fill_interval: 1s}"));
    if (!CHECK(v1 != NULL && v2 != NULL && v3 != NULL && other != NULL))
        return;
    const xg_local_ratelimit_config *c1 = route_cfg(v1), *c2 = route_cfg(v2), *c3 = route_cfg(v3);
    if (CHECK(c1 != NULL && c2 != NULL && c3 != NULL)) {
        CHECK(c1->limit.shared == c2->limit.shared);                /* same place, same limit: the same bucket */
        CHECK(c1->limit.shared != c3->limit.shared);                /* a changed limit starts its own */
        CHECK(c1->limit.shared != filter_cfg(other)->limit.shared); /* elsewhere: another budget */
        CHECK(c1->limit.id == c2->limit.id && c1->limit.id != c3->limit.id);
    }
    CHECK_EQ_INT(xg_tbucket_live(), live + 3);
    xg_res_unref(v1);
    CHECK_EQ_INT(xg_tbucket_live(), live + 3); /* v2 holds it */
    xg_res_unref(v2);
    xg_res_unref(v3);
    xg_res_unref(other);
    CHECK_EQ_INT(xg_tbucket_live(), live);
}

/* Per-connection limits register their key too (tokens unused): that is how
 * connections learn a limit is gone and drop their buckets for it. */
XG_TEST(per_connection_limits_are_registered)
{
    uint32_t live = xg_tbucket_live();
    xg_res *r = listener(L("stat_prefix: x, local_rate_limit_per_downstream_connection: true, token_bucket: "
                           "{max_tokens: 3, fill_interval: 1s}, descriptors: [{entries: [{key: a, value: b}], "
                           "token_bucket: {max_tokens: 1, fill_interval: 1s}}]"));
    if (!CHECK(r != NULL))
        return;
    const xg_local_ratelimit_config *c = filter_cfg(r);
    CHECK(c->per_connection);
    CHECK(c->limit.id != 0 && c->limit.id != c->descriptors[0].limit.id);
    CHECK(xg_tbucket_alive(c->limit.id) && xg_tbucket_alive(c->descriptors[0].limit.id));
    CHECK_EQ_INT(xg_tbucket_live(), live + 2);
    uint64_t id = c->limit.id;
    xg_res_unref(r);
    CHECK(!xg_tbucket_alive(id));
    CHECK_EQ_INT(xg_tbucket_live(), live);
}

/* Filters are chosen by type also through xds.type.v3.TypedStruct (as
 * go-control-plane users sometimes send them), for the HTTP filter and for
 * its typed_per_filter_config entry. */
#define TS(fields)                                                                                                     \
    "{'@type': type.googleapis.com/xds.type.v3.TypedStruct, type_url: '" LRL_TYPE "', value: {" fields "}}"

XG_TEST(typed_struct_filter_and_per_route)
{
    xg_res *r = listener("name: l1\naddress: {socket_address: {address: 0.0.0.0, port_value: 8080}}\nfilter_chains:\n"
                         "- filters:\n  - name: hcm\n    typed_config: {'@type': '" HCM_TYPE "', stat_prefix: s, "
                         "rds: {route_config_name: routes, config_source: {ads: {}}}, http_filters: ["
                         "{name: lrl, typed_config: " TS("stat_prefix: x, token_bucket: {max_tokens: 4, "
                                                         "fill_interval: 1s}, status: {code: 503}") "}, " ROUTER "]}\n");
    if (CHECK(r != NULL)) {
        const xg_local_ratelimit_config *c = filter_cfg(r);
        if (CHECK(c != NULL)) {
            CHECK(c->has_bucket);
            CHECK_EQ_INT(c->limit.p.max_tokens, 4);
            CHECK_EQ_INT(c->status, 503);
        }
        xg_res_unref(r);
    }
    r = routes("name: rc\nvirtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n  - match: {prefix: /}\n"
               "    route: {cluster: c1}\n    typed_per_filter_config:\n"
               "      lrl: " TS("stat_prefix: y, token_bucket: {max_tokens: 2, fill_interval: 1s}") "\n");
    if (CHECK(r != NULL)) {
        const xg_route_config *rc = r->body;
        const xg_typed_config *t = xg_typed_config_find(&rc->vhosts[0].routes[0].cold->per_filter, "lrl");
        if (CHECK(t != NULL) && CHECK(t->translated != NULL)) {
            const xg_local_ratelimit_config *c = t->translated;
            CHECK_EQ_INT(c->limit.p.max_tokens, 2);
        }
        xg_res_unref(r);
    }
}

XG_TEST(nacks)
{
    fails(L("token_bucket: {max_tokens: 1, fill_interval: 1s}"), FPATH ".stat_prefix: is required");
    fails(L("stat_prefix: x, token_bucket: {max_tokens: 0, fill_interval: 1s}"),
          FPATH ".token_bucket.max_tokens: must be greater than 0");
    fails(L("stat_prefix: x, token_bucket: {max_tokens: 1, tokens_per_fill: 0, fill_interval: 1s}"),
          FPATH ".token_bucket.tokens_per_fill: must be greater than 0 (default 1)");
    fails(L("stat_prefix: x, token_bucket: {max_tokens: 1}"), FPATH ".token_bucket.fill_interval: is required");
    fails(L("stat_prefix: x, token_bucket: {max_tokens: 1, fill_interval: 0.049s}"),
          FPATH ".token_bucket.fill_interval: must be at least 50ms, as in Envoy (got 49ms)");
    /* ns overflow (10,000 years): a huge interval must not wrap into a tiny one */
    fails(L("stat_prefix: x, token_bucket: {max_tokens: 1, fill_interval: 315576000000s}"),
          FPATH ".token_bucket.fill_interval: must be at most 4294967295s (got 315576000000.000s)");
    fails(L("stat_prefix: x, token_bucket: {max_tokens: 1, fill_interval: 4294967295.001s}"),
          FPATH ".token_bucket.fill_interval: must be at most 4294967295s (got 4294967295.001s)");
    fails(L("stat_prefix: x, status: {code: Empty}"),
          FPATH ".status.code: 0 is not a defined HTTP status (envoy.type.v3.StatusCode)");
    fails(L("stat_prefix: x, stage: 11"), FPATH ".stage: must be at most 10");
    fails(L("stat_prefix: x, local_cluster_rate_limit: {}"),
          FPATH ".local_cluster_rate_limit: is not supported: xdsgate has no local cluster to share the limit across "
                "instances");
    fails(L("stat_prefix: x, filter_enabled: {runtime_key: k}"), FPATH ".filter_enabled: default_value is required");
    fails(L("stat_prefix: x, descriptors: [{token_bucket: {max_tokens: 1, fill_interval: 1s}}]"),
          FPATH ".descriptors[0].entries: at least one entry is required");
    fails(L("stat_prefix: x, descriptors: [{entries: [{key: a, value: b}]}]"),
          FPATH ".descriptors[0].token_bucket: is required");
    fails(L("stat_prefix: x, descriptors: [{entries: [{key: a, value: b}, {key: c}], token_bucket: {max_tokens: 1, "
            "fill_interval: 1s}}]"),
          FPATH ".descriptors[0].entries[1].value: must not be empty (wildcard descriptors, which newer Envoy builds "
                "accept with max_dynamic_descriptors, are not supported)");
    fails(L("stat_prefix: x, descriptors: [{entries: [{value: b}], token_bucket: {max_tokens: 1, fill_interval: 1s}}]"),
          FPATH ".descriptors[0].entries[0].key: must not be empty");
    fails(L("stat_prefix: x, descriptors: [{entries: [{key: a, value: b}], token_bucket: {max_tokens: 1, "
            "fill_interval: 1s}}, {entries: [{key: a, value: b}], token_bucket: {max_tokens: 2, fill_interval: 1s}}]"),
          FPATH ".descriptors[1]: the same entries as descriptors[0] (duplicate descriptor)");
    fails(L("stat_prefix: x, descriptors: [{entries: [{key: a, value: b}], token_bucket: {max_tokens: 1, "
            "fill_interval: 0.01s}}]"),
          FPATH ".descriptors[0].token_bucket.fill_interval: must be at least 50ms, as in Envoy (got 10ms)");
    fails(L("stat_prefix: x, response_headers_to_add: [{header: {key: a, value: '1'}}, {header: {key: a, value: '1'}},"
            "{header: {key: a, value: '1'}}, {header: {key: a, value: '1'}}, {header: {key: a, value: '1'}},"
            "{header: {key: a, value: '1'}}, {header: {key: a, value: '1'}}, {header: {key: a, value: '1'}},"
            "{header: {key: a, value: '1'}}, {header: {key: a, value: '1'}}, {header: {key: a, value: '1'}}]"),
          FPATH ".response_headers_to_add: at most 10 entries");
    fails(RC("stat_prefix: x"), RPATH ".token_bucket: is required in a per-route (typed_per_filter_config) config");
    fails(RC("token_bucket: {max_tokens: 1, fill_interval: 1s}"), RPATH ".stat_prefix: is required");
}

XG_TEST(longest_fill_interval)
{
    xg_res *r = listener(L("stat_prefix: x, token_bucket: {max_tokens: 1, fill_interval: 4294967295s}"));
    if (!CHECK(r != NULL))
        return;
    const xg_local_ratelimit_config *c = filter_cfg(r);
    if (CHECK(c != NULL))
        CHECK(c->limit.p.fill_interval_ns == 4294967295ull * 1000000000ull);
    xg_res_unref(r);
}

XG_TEST(nothing_leaks_after_nacks)
{
    uint32_t live = xg_tbucket_live();
    /* the default bucket is taken before the descriptor fails */
    fails(L("stat_prefix: x, token_bucket: {max_tokens: 1, fill_interval: 1s}, descriptors: [{entries: [{key: a, "
            "value: b}], token_bucket: {max_tokens: 0, fill_interval: 1s}}]"),
          FPATH ".descriptors[0].token_bucket.max_tokens: must be greater than 0");
    CHECK_EQ_INT(xg_tbucket_live(), live);
}
