/* Route policies: RetryPolicy, HashPolicy and RateLimit (descriptor actions,
 * read by ratelimit/descriptor.c for the rate-limit filters), with Envoy's defaults
 * resolved and unsupported variants rejected by name. */
#include <string.h>

#include "core/error.h"
#include "envoy/config/route/v3/route_components.pb-c.h"
#include "router/retry_policy.h"
#include "xds/xlate_int.h"

typedef Envoy__Config__Route__V3__RetryPolicy pb_retry;
typedef Envoy__Config__Route__V3__RouteAction__HashPolicy pb_hash;
typedef Envoy__Config__Route__V3__RateLimit pb_rate_limit;
typedef Envoy__Config__Route__V3__RateLimit__Action pb_rl_action;

#define HP(x) ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_##x
#define RA(x) ENVOY__CONFIG__ROUTE__V3__RATE_LIMIT__ACTION__ACTION_SPECIFIER_##x

/* --- retry --- */

/* "5xx, reset,connect-failure": comma-separated, blanks around items ignored. */
static int retry_on(xg_xlate *x, const char *s, uint32_t *out)
{
    *out = 0;
    while (*s != '\0') {
        size_t len = strcspn(s, ",");
        size_t b = 0, e = len;
        while (b < e && (s[b] == ' ' || s[b] == '\t'))
            b++;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        uint32_t bit = e > b ? xg_retry_on_any(s + b, e - b) : 0;
        if (e > b && bit == 0)
            return xg__fail_at(x, "retry_on", "unknown retry condition \"%.*s\"", (int)(e - b), s + b);
        *out |= bit;
        s += len + (s[len] == ',');
    }
    return 0;
}

static int retry_host_predicates(xg_xlate *x, const pb_retry *pb, xg_retry_policy *out)
{
    static const char previous_hosts[] = "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";
    for (size_t i = 0; i < pb->n_retry_host_predicate; i++) {
        const Google__Protobuf__Any *tc = pb->retry_host_predicate[i]->typed_config;
        xg_xlate_push(x, "retry_host_predicate");
        xg_xlate_push_index(x, i);
        if (tc == NULL)
            return xg_xlate_fail(x, "typed_config is required");
        if (strcmp(xg__any_type_name(tc), previous_hosts) != 0)
            return xg_xlate_fail(x, "retry host predicate type \"%s\" is not supported (only %s)", tc->type_url,
                                 previous_hosts);
        out->previous_hosts = true;
    }
    return 0;
}

static int retry_back_off(xg_xlate *x, const pb_retry *pb, xg_retry_policy *out)
{
    out->backoff_base_ms = 25;
    out->backoff_max_ms = 250;
    if (pb->retry_back_off == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "retry_back_off");
    if (pb->retry_back_off->base_interval == NULL)
        return xg_xlate_fail(x, "base_interval is required");
    int rc =
        xg__xlate_duration_ms_pos(x, "base_interval", pb->retry_back_off->base_interval, 25, &out->backoff_base_ms);
    if (rc < 0)
        return rc;
    uint64_t def_max = out->backoff_base_ms * 10;
    if ((rc = xg__xlate_duration_ms_pos(x, "max_interval", pb->retry_back_off->max_interval, def_max,
                                        &out->backoff_max_ms)) < 0)
        return rc;
    if (out->backoff_max_ms < out->backoff_base_ms)
        return xg_xlate_fail(x, "max_interval must be greater than or equal to base_interval");
    xg_xlate_pop(x, mark);
    return 0;
}

static int retriable_codes(xg_xlate *x, const pb_retry *pb, xg_retry_policy *out)
{
    size_t n = pb->n_retriable_status_codes;
    uint16_t *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (pb->retriable_status_codes[i] < 100 || pb->retriable_status_codes[i] > 599) {
            xg_xlate_push(x, "retriable_status_codes");
            xg_xlate_push_index(x, i);
            return xg_xlate_fail(x, "%u is not an HTTP status code (100-599)", pb->retriable_status_codes[i]);
        }
        v[i] = (uint16_t)pb->retriable_status_codes[i];
    }
    out->retriable_status_codes = v;
    out->n_retriable_status_codes = n;
    return 0;
}

int xg__xlate_retry_policy(xg_xlate *x, const Envoy__Config__Route__V3__RetryPolicy *pb, const xg_retry_policy **out)
{
    xg_retry_policy *p = xg_xlate_alloc(x, sizeof(*p));
    if (p == NULL)
        return XG_ENOMEM;
    int rc = retry_on(x, pb->retry_on, &p->retry_on);
    p->num_retries = xg__u32_or(pb->num_retries, 1);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "per_try_timeout", pb->per_try_timeout, 0, &p->per_try_timeout_ms);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "per_try_idle_timeout", pb->per_try_idle_timeout, 0, &p->per_try_idle_timeout_ms);
    if (rc == 0)
        rc = retry_host_predicates(x, pb, p);
    if (rc == 0 && pb->host_selection_retry_max_attempts < 0)
        rc = xg__fail_at(x, "host_selection_retry_max_attempts", "must not be negative");
    p->host_selection_retry_max_attempts =
        pb->host_selection_retry_max_attempts ? pb->host_selection_retry_max_attempts : 1;
    if (rc == 0)
        rc = retriable_codes(x, pb, p);
    if (rc == 0)
        rc = retry_back_off(x, pb, p);
    if (rc == 0 && pb->rate_limited_retry_back_off != NULL)
        rc = xg__fail_at(x, "rate_limited_retry_back_off", "not supported");
    if (rc == 0)
        rc = xg__xlate_header_matchers(x, "retriable_headers", pb->retriable_headers, pb->n_retriable_headers,
                                       &p->retriable_headers, &p->n_retriable_headers);
    if (rc == 0)
        rc = xg__xlate_header_matchers(x, "retriable_request_headers", pb->retriable_request_headers,
                                       pb->n_retriable_request_headers, &p->retriable_request_headers,
                                       &p->n_retriable_request_headers);
    *out = p;
    return rc;
}

/* --- hash policy --- */

static int hash_cookie(xg_xlate *x, const Envoy__Config__Route__V3__RouteAction__HashPolicy__Cookie *pb,
                       xg_hash_policy *out)
{
    xg_xlate_push(x, "cookie");
    if (pb->name[0] == '\0')
        return xg__fail_at(x, "name", "must not be empty");
    out->name = (xg_lstr){xg_xlate_strdup(x, pb->name), strlen(pb->name)};
    out->cookie_path = xg_xlate_strdup(x, pb->path);
    if (out->name.s == NULL || out->cookie_path == NULL)
        return XG_ENOMEM;
    out->cookie_generate = pb->ttl != NULL;
    int rc = xg__xlate_duration_ms(x, "ttl", pb->ttl, 0, &out->cookie_ttl_ms);
    if (rc < 0)
        return rc;
    xg_cookie_attribute *a = pb->n_attributes ? xg_arena_calloc(&x->res->arena, pb->n_attributes, sizeof(*a)) : NULL;
    if (pb->n_attributes && a == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < pb->n_attributes; i++) {
        if (pb->attributes[i]->name[0] == '\0') {
            xg_xlate_push(x, "attributes");
            xg_xlate_push_index(x, i);
            return xg__fail_at(x, "name", "must not be empty");
        }
        a[i] = (xg_cookie_attribute){xg_xlate_strdup(x, pb->attributes[i]->name),
                                     xg_xlate_strdup(x, pb->attributes[i]->value)};
        if (a[i].name == NULL || a[i].value == NULL)
            return XG_ENOMEM;
    }
    out->cookie_attributes = a;
    out->n_cookie_attributes = pb->n_attributes;
    return 0;
}

static int hash_header(xg_xlate *x, const Envoy__Config__Route__V3__RouteAction__HashPolicy__Header *pb,
                       xg_hash_policy *out)
{
    xg_xlate_push(x, "header");
    size_t mark = xg_xlate_push(x, "header_name");
    int rc = xg__xlate_header_name(x, pb->header_name, true, &out->name);
    if (rc < 0)
        return rc;
    xg_xlate_pop(x, mark);
    if (pb->regex_rewrite == NULL)
        return 0;
    xg_xlate_push(x, "regex_rewrite");
    xg_regex_rewrite rw;
    if ((rc = xg__xlate_regex_rewrite(x, pb->regex_rewrite, &rw)) < 0)
        return rc;
    out->rewrite = rw.pattern;
    out->substitution = rw.substitution;
    return 0;
}

static int hash_policy(xg_xlate *x, const pb_hash *pb, xg_hash_policy *out, bool *skip)
{
    out->terminal = pb->terminal;
    switch (pb->policy_specifier_case) {
    case HP(HEADER):
        out->kind = XG_HASH_HEADER;
        return hash_header(x, pb->header, out);
    case HP(COOKIE):
        out->kind = XG_HASH_COOKIE;
        return hash_cookie(x, pb->cookie, out);
    case HP(CONNECTION_PROPERTIES):
        out->kind = XG_HASH_SOURCE_IP;
        *skip = !pb->connection_properties->source_ip; /* as in Envoy: source_ip false hashes nothing */
        return 0;
    case HP(QUERY_PARAMETER):
        out->kind = XG_HASH_QUERY_PARAMETER;
        if (pb->query_parameter->name[0] == '\0')
            return xg__fail_at(x, "query_parameter.name", "must not be empty");
        out->name = (xg_lstr){xg_xlate_strdup(x, pb->query_parameter->name), strlen(pb->query_parameter->name)};
        return out->name.s ? 0 : XG_ENOMEM;
    case HP(FILTER_STATE):
        return xg__fail_at(x, "filter_state", "not supported");
    default:
        return xg_xlate_fail(x, "one of header, cookie, connection_properties or query_parameter is required");
    }
}

int xg__xlate_hash_policies(xg_xlate *x, Envoy__Config__Route__V3__RouteAction__HashPolicy *const *pb, size_t n,
                            const xg_hash_policy **out, size_t *n_out)
{
    xg_hash_policy *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    size_t k = 0;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "hash_policy");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        bool skip = false;
        int rc = hash_policy(x, pb[i], &v[k], &skip);
        if (rc < 0)
            return rc;
        k += !skip;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    *out = v;
    *n_out = k;
    return 0;
}

/* --- rate limits --- */

static int rl_key(xg_xlate *x, const char *given, const char *def, const char **out)
{
    *out = xg_xlate_strdup(x, given[0] ? given : def);
    return *out ? 0 : XG_ENOMEM;
}

static int rl_value(xg_xlate *x, const char *field, const char *v, const char **out)
{
    if (v[0] == '\0') {
        xg_xlate_push(x, field);
        return xg_xlate_fail(x, "must not be empty");
    }
    *out = xg_xlate_strdup(x, v);
    return *out ? 0 : XG_ENOMEM;
}

static int rl_request_headers(xg_xlate *x, const Envoy__Config__Route__V3__RateLimit__Action__RequestHeaders *pb,
                              xg_rl_action *out)
{
    xg_xlate_push(x, "request_headers");
    size_t mark = xg_xlate_push(x, "header_name");
    int rc = xg__xlate_header_name(x, pb->header_name, true, &out->header_name);
    if (rc < 0)
        return rc;
    xg_xlate_pop(x, mark);
    out->skip_if_absent = pb->skip_if_absent;
    return rl_value(x, "descriptor_key", pb->descriptor_key, &out->descriptor_key);
}

static int rl_header_match(xg_xlate *x, const Envoy__Config__Route__V3__RateLimit__Action__HeaderValueMatch *pb,
                           xg_rl_action *out)
{
    xg_xlate_push(x, "header_value_match");
    out->expect_match = xg__bool_or(pb->expect_match, true);
    int rc = rl_key(x, pb->descriptor_key, "header_match", &out->descriptor_key);
    if (rc == 0)
        rc = rl_value(x, "descriptor_value", pb->descriptor_value, &out->descriptor_value);
    if (rc == 0 && pb->n_headers == 0)
        return xg__fail_at(x, "headers", "at least one header matcher is required");
    if (rc == 0)
        rc = xg__xlate_header_matchers(x, "headers", pb->headers, pb->n_headers, &out->headers, &out->n_headers);
    return rc;
}

static int rl_query_match(xg_xlate *x, const Envoy__Config__Route__V3__RateLimit__Action__QueryParameterValueMatch *pb,
                          xg_rl_action *out)
{
    xg_xlate_push(x, "query_parameter_value_match");
    out->expect_match = xg__bool_or(pb->expect_match, true);
    int rc = rl_key(x, pb->descriptor_key, "query_match", &out->descriptor_key);
    if (rc == 0)
        rc = rl_value(x, "descriptor_value", pb->descriptor_value, &out->descriptor_value);
    if (rc == 0 && pb->n_query_parameters == 0)
        return xg__fail_at(x, "query_parameters", "at least one matcher is required");
    if (rc == 0)
        rc = xg__xlate_query_matchers(x, "query_parameters", pb->query_parameters, pb->n_query_parameters, &out->query,
                                      &out->n_query);
    return rc;
}

/* Envoy's QueryParameters action: the first value of the parameter (percent-decoded) under descriptor_key. */
static int rl_query_params(xg_xlate *x, const Envoy__Config__Route__V3__RateLimit__Action__QueryParameters *pb,
                           xg_rl_action *out)
{
    xg_xlate_push(x, "query_parameters");
    if (pb->query_parameter_name[0] == '\0')
        return xg__fail_at(x, "query_parameter_name", "must not be empty");
    out->query_name = (xg_lstr){xg_xlate_strdup(x, pb->query_parameter_name), strlen(pb->query_parameter_name)};
    if (out->query_name.s == NULL)
        return XG_ENOMEM;
    out->skip_if_absent = pb->skip_if_absent;
    return rl_value(x, "descriptor_key", pb->descriptor_key, &out->descriptor_key);
}

static int rl_masked(xg_xlate *x, const Envoy__Config__Route__V3__RateLimit__Action__MaskedRemoteAddress *pb,
                     xg_rl_action *out)
{
    uint32_t v4 = xg__u32_or(pb->v4_prefix_mask_len, 32), v6 = xg__u32_or(pb->v6_prefix_mask_len, 128);
    xg_xlate_push(x, "masked_remote_address");
    if (v4 > 32)
        return xg_xlate_fail(x, "v4_prefix_mask_len: %u is more than 32", v4);
    if (v6 > 128)
        return xg_xlate_fail(x, "v6_prefix_mask_len: %u is more than 128", v6);
    out->v4_prefix_len = (uint8_t)v4;
    out->v6_prefix_len = (uint8_t)v6;
    return rl_key(x, "", "masked_remote_address", &out->descriptor_key);
}

static int rl_action(xg_xlate *x, const pb_rl_action *pb, xg_rl_action *out)
{
    switch (pb->action_specifier_case) {
    case RA(SOURCE_CLUSTER):
        out->kind = XG_RL_SOURCE_CLUSTER;
        return rl_key(x, "", "source_cluster", &out->descriptor_key);
    case RA(DESTINATION_CLUSTER):
        out->kind = XG_RL_DESTINATION_CLUSTER;
        return rl_key(x, "", "destination_cluster", &out->descriptor_key);
    case RA(REQUEST_HEADERS):
        out->kind = XG_RL_REQUEST_HEADERS;
        return rl_request_headers(x, pb->request_headers, out);
    case RA(REMOTE_ADDRESS):
        out->kind = XG_RL_REMOTE_ADDRESS;
        return rl_key(x, "", "remote_address", &out->descriptor_key);
    case RA(GENERIC_KEY):
        out->kind = XG_RL_GENERIC_KEY;
        xg_xlate_push(x, "generic_key");
        if (rl_key(x, pb->generic_key->descriptor_key, "generic_key", &out->descriptor_key) < 0)
            return XG_ENOMEM;
        return rl_value(x, "descriptor_value", pb->generic_key->descriptor_value, &out->descriptor_value);
    case RA(HEADER_VALUE_MATCH):
        out->kind = XG_RL_HEADER_VALUE_MATCH;
        return rl_header_match(x, pb->header_value_match, out);
    case RA(MASKED_REMOTE_ADDRESS):
        out->kind = XG_RL_MASKED_REMOTE_ADDRESS;
        return rl_masked(x, pb->masked_remote_address, out);
    case RA(QUERY_PARAMETER_VALUE_MATCH):
        out->kind = XG_RL_QUERY_PARAMETER_VALUE_MATCH;
        return rl_query_match(x, pb->query_parameter_value_match, out);
    case RA(QUERY_PARAMETERS):
        out->kind = XG_RL_QUERY_PARAMETERS;
        return rl_query_params(x, pb->query_parameters, out);
    case RA(METADATA):
        return xg__fail_at(x, "metadata", "rate limit action not supported");
    case RA(EXTENSION):
        return xg__fail_at(x, "extension", "rate limit action not supported");
    default:
        return xg_xlate_fail(x, "an action is required (source_cluster, destination_cluster, request_headers, "
                                "remote_address, generic_key, header_value_match, masked_remote_address, "
                                "query_parameter_value_match or query_parameters)");
    }
}

static int rate_limit(xg_xlate *x, const pb_rate_limit *pb, xg_rate_limit *out)
{
    out->stage = xg__u32_or(pb->stage, 0);
    if (out->stage > 10)
        return xg__fail_at(x, "stage", "%u is more than 10", out->stage);
    if ((out->disable_key = xg_xlate_strdup(x, pb->disable_key)) == NULL)
        return XG_ENOMEM;
    if (pb->limit != NULL)
        return xg__fail_at(x, "limit", "rate limit overrides are not supported");
    if (pb->n_actions == 0)
        return xg__fail_at(x, "actions", "at least one action is required");
    xg_rl_action *a = xg_arena_calloc(&x->res->arena, pb->n_actions, sizeof(*a));
    if (a == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "actions");
    for (size_t i = 0; i < pb->n_actions; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = rl_action(x, pb->actions[i], &a[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    out->actions = a;
    out->n_actions = pb->n_actions;
    return 0;
}

int xg__xlate_rate_limits(xg_xlate *x, Envoy__Config__Route__V3__RateLimit *const *pb, size_t n, xg_rate_limits *out)
{
    xg_rate_limit *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "rate_limits");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = rate_limit(x, pb[i], &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    out->items = v;
    out->n = n;
    return 0;
}
