/* envoy.filters.http.local_ratelimit's translation: LocalRateLimit as an
 * HTTP filter and as a typed_per_filter_config entry, into
 * config/local_ratelimit.h, with Envoy's validation rules and defaults. Each
 * limit takes its process-wide bucket here (the key says where the config
 * sits in its resource) and gives it back when the resource's arena goes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/hcm.h"
#include "config/local_ratelimit.h"
#include "core/buf.h"
#include "core/error.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb-c.h"
#include "envoy/type/v3/http_status.pb-c.h"
#include "xds/xlate_int.h"

typedef Envoy__Extensions__Filters__Http__LocalRatelimit__V3__LocalRateLimit pb_lrl;
typedef Envoy__Extensions__Common__Ratelimit__V3__LocalRateLimitDescriptor pb_desc;
typedef Envoy__Type__V3__TokenBucket pb_bucket;

#define XRL(x) ENVOY__EXTENSIONS__COMMON__RATELIMIT__V3__XRATE_LIMIT_HEADERS_RFCVERSION__##x
#define VHRL(x) ENVOY__EXTENSIONS__COMMON__RATELIMIT__V3__VH_RATE_LIMITS_OPTIONS__##x

#define MIN_FILL_MS 50 /* Envoy: "fill timer must be >= 50ms" */
/* In nanoseconds a Duration may overflow 64 bits (up to 10,000 years);
 * UINT32_MAX seconds (136 years) keeps the interval and x-ratelimit-reset
 * (whole seconds, 32 bits) in range. */
#define MAX_FILL_MS (UINT32_MAX * 1000ull)
#define MAX_HEADERS 10 /* Envoy's max_items on both header lists */
#define MAX_STAGE 10

/* Where this config sits: "<type>/<resource>/<path>", the stable part of its buckets' keys. */
typedef struct site {
    xg_buf key;
} site;

static void release_bucket(void *b)
{
    xg_tbucket_unref(b);
}

/* The limit's registered bucket under site + what + parameters. */
static int bind_limit(xg_xlate *x, site *st, const char *what, xg_lrl_limit *l)
{
    size_t mark = st->key.len;
    char params[64];
    snprintf(params, sizeof(params), "|%u/%u/%llu", l->p.max_tokens, l->p.tokens_per_fill,
             (unsigned long long)l->p.fill_interval_ns);
    if (xg_buf_append(&st->key, what, strlen(what)) != 0 || xg_buf_append(&st->key, params, strlen(params)) != 0)
        return XG_ENOMEM;
    l->id = xg_tbucket_hash(st->key.data);
    int rc = 0;
    /* Per-connection limits register too (their tokens stay unused): while
     * the key is registered, connections keep their buckets for it; once
     * no config holds it, they may drop them (filters/local_ratelimit.c). */
    l->shared = xg_tbucket_get(st->key.data, &l->p);
    if (l->shared == NULL || xg_arena_defer(&x->res->arena, release_bucket, l->shared) != 0) {
        xg_tbucket_unref(l->shared);
        l->shared = NULL;
        rc = XG_ENOMEM;
    }
    st->key.len = mark;
    st->key.data[mark] = '\0';
    return rc;
}

/* A TokenBucket under field: max_tokens > 0, tokens_per_fill > 0 (default 1), 50 ms <= fill_interval <= 2^32-1 s. */
static int token_bucket(xg_xlate *x, const char *field, const pb_bucket *pb, xg_tb_params *out)
{
    size_t mark = xg_xlate_push(x, field);
    if (pb->max_tokens == 0)
        return xg__fail_at(x, "max_tokens", "must be greater than 0");
    if (pb->tokens_per_fill != NULL && pb->tokens_per_fill->value == 0)
        return xg__fail_at(x, "tokens_per_fill", "must be greater than 0 (default 1)");
    if (pb->fill_interval == NULL)
        return xg__fail_at(x, "fill_interval", "is required");
    uint64_t ms;
    int rc = xg__xlate_duration_ms(x, "fill_interval", pb->fill_interval, 0, &ms);
    if (rc < 0)
        return rc;
    if (ms < MIN_FILL_MS)
        return xg__fail_at(x, "fill_interval", "must be at least 50ms, as in Envoy (got %llums)",
                           (unsigned long long)ms);
    if (ms > MAX_FILL_MS)
        return xg__fail_at(x, "fill_interval", "must be at most %llus (got %llu.%03llus)", MAX_FILL_MS / 1000,
                           (unsigned long long)ms / 1000, (unsigned long long)ms % 1000);
    out->max_tokens = pb->max_tokens;
    out->tokens_per_fill = xg__u32_or(pb->tokens_per_fill, 1);
    out->fill_interval_ns = ms * 1000000u;
    xg_xlate_pop(x, mark);
    return 0;
}

/* Envoy's ordering key: tokens per whole second of fill interval (a sub-second interval counts as 1 s). */
static uint64_t fill_rate(const xg_tb_params *p)
{
    uint64_t s = p->fill_interval_ns / 1000000000u;
    return p->tokens_per_fill / (s ? s : 1);
}

static bool same_entries(const xg_lrl_descriptor *a, const xg_lrl_descriptor *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (strcmp(a->keys[i].s, b->keys[i].s) != 0 || strcmp(a->values[i].s, b->values[i].s) != 0)
            return false;
    return true;
}

static int descriptor_entries(xg_xlate *x, const pb_desc *pb, xg_lrl_descriptor *d)
{
    if (pb->n_entries == 0)
        return xg__fail_at(x, "entries", "at least one entry is required");
    xg_lstr *k = xg_xlate_alloc(x, pb->n_entries * sizeof(*k)), *v = xg_xlate_alloc(x, pb->n_entries * sizeof(*v));
    if (k == NULL || v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "entries");
    for (size_t i = 0; i < pb->n_entries; i++) {
        const char *key = pb->entries[i]->key, *val = pb->entries[i]->value;
        size_t m2 = xg_xlate_push_index(x, i);
        if (key[0] == '\0')
            return xg__fail_at(x, "key", "must not be empty");
        if (val[0] == '\0')
            return xg__fail_at(x, "value",
                               "must not be empty (wildcard descriptors, which newer Envoy builds "
                               "accept with max_dynamic_descriptors, are not supported)");
        k[i] = (xg_lstr){xg_xlate_strdup(x, key), strlen(key)};
        v[i] = (xg_lstr){xg_xlate_strdup(x, val), strlen(val)};
        if (k[i].s == NULL || v[i].s == NULL)
            return XG_ENOMEM;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    d->keys = k;
    d->values = v;
    d->n = (uint32_t)pb->n_entries;
    return 0;
}

/* The descriptor's part of its bucket key: "k=v,k=v" with lengths, so no value can forge another. */
static int entries_key(const xg_lrl_descriptor *d, xg_buf *out)
{
    char n[32];
    int rc = 0;
    for (uint32_t i = 0; i < d->n && rc == 0; i++) {
        snprintf(n, sizeof(n), "|%zu:%zu:", d->keys[i].len, d->values[i].len);
        rc = xg_buf_append(out, n, strlen(n));
        rc = rc ? rc : xg_buf_append(out, d->keys[i].s, d->keys[i].len);
        rc = rc ? rc : xg_buf_append(out, d->values[i].s, d->values[i].len);
    }
    return rc != 0 ? XG_ENOMEM : 0;
}

static int descriptor(xg_xlate *x, site *st, const pb_desc *pb, xg_lrl_descriptor *out)
{
    int rc = descriptor_entries(x, pb, out);
    if (rc < 0)
        return rc;
    if (pb->token_bucket == NULL)
        return xg__fail_at(x, "token_bucket", "is required");
    if ((rc = token_bucket(x, "token_bucket", pb->token_bucket, &out->limit.p)) < 0)
        return rc;
    xg_buf what;
    xg_buf_init(&what);
    rc = xg_buf_append(&what, "|d", 2) != 0 ? XG_ENOMEM : entries_key(out, &what);
    if (rc == 0)
        rc = bind_limit(x, st, what.data, &out->limit);
    xg_buf_dispose(&what);
    return rc;
}

/* Stable insertion sort by fill rate, strictest first (Envoy sorts the same way). */
static void sort_descriptors(xg_lrl_descriptor *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        xg_lrl_descriptor d = v[i];
        uint32_t j = i;
        for (; j > 0 && fill_rate(&v[j - 1].limit.p) > fill_rate(&d.limit.p); j--)
            v[j] = v[j - 1];
        v[j] = d;
    }
}

static int descriptors(xg_xlate *x, site *st, const pb_lrl *pb, xg_local_ratelimit_config *c)
{
    size_t n = pb->n_descriptors;
    if (n == 0)
        return 0;
    xg_lrl_descriptor *v = xg_xlate_alloc(x, n * sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    memset(v, 0, n * sizeof(*v));
    size_t mark = xg_xlate_push(x, "descriptors");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = descriptor(x, st, pb->descriptors[i], &v[i]);
        if (rc < 0)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (same_entries(&v[k], &v[i]))
                return xg_xlate_fail(x, "the same entries as descriptors[%zu] (duplicate descriptor)", k);
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    sort_descriptors(v, (uint32_t)n);
    c->descriptors = v;
    c->n_descriptors = (uint32_t)n;
    return 0;
}

/* A RuntimeFractionalPercent: its default_value (the runtime key is not read: xdsgate has no runtime). */
static int fraction(xg_xlate *x, const char *field, const Envoy__Config__Core__V3__RuntimeFractionalPercent *pb,
                    uint32_t *ppm)
{
    *ppm = 0; /* absent: Envoy's "0 % of requests for safety" */
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, field);
    int rc = xg__xlate_fraction_ppm(x, pb->default_value, ppm);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

static int status_code(xg_xlate *x, const pb_lrl *pb, uint16_t *out)
{
    *out = 429;
    if (pb->status == NULL)
        return 0;
    int code = (int)pb->status->code;
    if (code == 0 || protobuf_c_enum_descriptor_get_value(&envoy__type__v3__status_code__descriptor, code) == NULL)
        return xg__fail_at(x, "status.code", "%d is not a defined HTTP status (envoy.type.v3.StatusCode)", code);
    if (code >= 400)
        *out = (uint16_t)code; /* Envoy answers 429 for anything below 400 */
    return 0;
}

static int header_lists(xg_xlate *x, const pb_lrl *pb, xg_local_ratelimit_config *c)
{
    if (pb->n_response_headers_to_add > MAX_HEADERS)
        return xg__fail_at(x, "response_headers_to_add", "at most %d entries", MAX_HEADERS);
    if (pb->n_request_headers_to_add_when_not_enforced > MAX_HEADERS)
        return xg__fail_at(x, "request_headers_to_add_when_not_enforced", "at most %d entries", MAX_HEADERS);
    int rc = xg__xlate_header_mutations(x, "response_headers_to_add", pb->response_headers_to_add,
                                        pb->n_response_headers_to_add, "", NULL, 0, &c->response_headers);
    if (rc < 0)
        return rc;
    return xg__xlate_header_mutations(x, "request_headers_to_add_when_not_enforced",
                                      pb->request_headers_to_add_when_not_enforced,
                                      pb->n_request_headers_to_add_when_not_enforced, "", NULL, 0, &c->request_headers);
}

static int enums(xg_xlate *x, const pb_lrl *pb, xg_local_ratelimit_config *c)
{
    if (pb->enable_x_ratelimit_headers != XRL(OFF) && pb->enable_x_ratelimit_headers != XRL(DRAFT_VERSION_03))
        return xg__fail_at(x, "enable_x_ratelimit_headers", "unknown value %d", (int)pb->enable_x_ratelimit_headers);
    c->x_ratelimit_headers = pb->enable_x_ratelimit_headers == XRL(DRAFT_VERSION_03);
    switch (pb->vh_rate_limits) {
    case VHRL(OVERRIDE):
        c->vh_rate_limits = XG_VH_RL_OVERRIDE;
        return 0;
    case VHRL(INCLUDE):
        c->vh_rate_limits = XG_VH_RL_INCLUDE;
        return 0;
    case VHRL(IGNORE):
        c->vh_rate_limits = XG_VH_RL_IGNORE;
        return 0;
    default:
        return xg__fail_at(x, "vh_rate_limits", "unknown value %d", (int)pb->vh_rate_limits);
    }
}

static int start_site(xg_xlate *x, site *st)
{
    char head[32];
    snprintf(head, sizeof(head), "%d/", (int)x->res->type);
    xg_buf_init(&st->key);
    int rc = xg_buf_append(&st->key, head, strlen(head));
    rc = rc ? rc : xg_buf_append(&st->key, x->res->name, strlen(x->res->name));
    rc = rc ? rc : xg_buf_append(&st->key, "/", 1);
    rc = rc ? rc : xg_buf_append(&st->key, x->path.path.data ? x->path.path.data : "", x->path.path.len);
    return rc != 0 ? XG_ENOMEM : 0;
}

static int fields(xg_xlate *x, const pb_lrl *pb, bool per_route, xg_local_ratelimit_config *c)
{
    if (pb->stat_prefix == NULL || pb->stat_prefix[0] == '\0')
        return xg__fail_at(x, "stat_prefix", "is required");
    if (pb->local_cluster_rate_limit != NULL)
        return xg__fail_at(x, "local_cluster_rate_limit",
                           "is not supported: xdsgate has no local cluster to share the limit across instances");
    if (pb->stage > MAX_STAGE)
        return xg__fail_at(x, "stage", "must be at most %d", MAX_STAGE);
    if (per_route && pb->token_bucket == NULL)
        return xg__fail_at(x, "token_bucket", "is required in a per-route (typed_per_filter_config) config");
    c->stage = pb->stage;
    c->per_connection = pb->local_rate_limit_per_downstream_connection;
    c->always_consume_default = xg__bool_or(pb->always_consume_default_token_bucket, true);
    c->resource_exhausted = pb->rate_limited_as_resource_exhausted;
    int rc = status_code(x, pb, &c->status);
    rc = rc ? rc : enums(x, pb, c);
    rc = rc ? rc : fraction(x, "filter_enabled", pb->filter_enabled, &c->enabled_ppm);
    rc = rc ? rc : fraction(x, "filter_enforced", pb->filter_enforced, &c->enforced_ppm);
    rc = rc ? rc : header_lists(x, pb, c);
    if (rc < 0)
        return rc;
    if (pb->token_bucket != NULL && (rc = token_bucket(x, "token_bucket", pb->token_bucket, &c->limit.p)) < 0)
        return rc;
    site st;
    if ((rc = start_site(x, &st)) == 0 && pb->token_bucket != NULL) {
        c->has_bucket = true;
        rc = bind_limit(x, &st, "|default", &c->limit);
    }
    if (rc == 0)
        rc = descriptors(x, &st, pb, c);
    xg_buf_dispose(&st.key);
    return rc;
}

static int filter_fields(xg_xlate *x, const ProtobufCMessage *pb, void *out)
{
    return fields(x, (const pb_lrl *)pb, false, out);
}

int xg__xlate_local_ratelimit(xg_xlate *x, const Google__Protobuf__Any *tc, struct xg_http_filter *out)
{
    return xg__xlate_typed_filter(
        x, tc, &envoy__extensions__filters__http__local_ratelimit__v3__local_rate_limit__descriptor, filter_fields,
        sizeof(xg_local_ratelimit_config), XG_HTTP_FILTER_LOCAL_RATELIMIT, out);
}

int xg__xlate_local_ratelimit_per_route(xg_xlate *x, const Google__Protobuf__Any *any, const void **out)
{
    pb_lrl *pb = NULL;
    *out = NULL;
    xg_local_ratelimit_config *c = xg_xlate_alloc(x, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    memset(c, 0, sizeof(*c));
    int rc = xg__xlate_unpack_typed(
        x, "", any, &envoy__extensions__filters__http__local_ratelimit__v3__local_rate_limit__descriptor,
        (ProtobufCMessage **)&pb);
    if (rc < 0)
        return rc;
    rc = fields(x, pb, true, c);
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    *out = c;
    return rc;
}
