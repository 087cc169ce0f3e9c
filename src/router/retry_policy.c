/* Envoy's retry conditions and decisions (retry_policy.h): condition names,
 * the per-request state from the policy and internal x-envoy-* headers, the
 * would-retry tests for responses and resets, and the jittered back-off. */
#include <string.h>

#include "core/error.h"
#include "router/retry_policy.h"
#include "router/route_match.h"

static const struct {
    const char *name;
    uint32_t bit;
    bool grpc;
} conditions[] = {
    {"5xx", XG_RETRY_5XX, false},
    {"gateway-error", XG_RETRY_GATEWAY_ERROR, false},
    {"reset", XG_RETRY_RESET, false},
    {"reset-before-request", XG_RETRY_RESET_BEFORE_REQUEST, false},
    {"connect-failure", XG_RETRY_CONNECT_FAILURE, false},
    {"envoy-ratelimited", XG_RETRY_ENVOY_RATELIMITED, false},
    {"retriable-4xx", XG_RETRY_RETRIABLE_4XX, false},
    {"refused-stream", XG_RETRY_REFUSED_STREAM, false},
    {"retriable-status-codes", XG_RETRY_RETRIABLE_STATUS_CODES, false},
    {"retriable-headers", XG_RETRY_RETRIABLE_HEADERS, false},
    {"http3-post-connect-failure", XG_RETRY_HTTP3_POST_CONNECT_FAILURE, false},
    {"cancelled", XG_RETRY_GRPC_CANCELLED, true},
    {"deadline-exceeded", XG_RETRY_GRPC_DEADLINE_EXCEEDED, true},
    {"internal", XG_RETRY_GRPC_INTERNAL, true},
    {"resource-exhausted", XG_RETRY_GRPC_RESOURCE_EXHAUSTED, true},
    {"unavailable", XG_RETRY_GRPC_UNAVAILABLE, true},
};

#define GRPC_BITS                                                                                                      \
    (XG_RETRY_GRPC_CANCELLED | XG_RETRY_GRPC_DEADLINE_EXCEEDED | XG_RETRY_GRPC_INTERNAL |                              \
     XG_RETRY_GRPC_RESOURCE_EXHAUSTED | XG_RETRY_GRPC_UNAVAILABLE)

static uint32_t lookup(const char *s, size_t len, int grpc)
{
    for (size_t i = 0; i < sizeof(conditions) / sizeof(conditions[0]); i++)
        if ((grpc < 0 || conditions[i].grpc == (grpc != 0)) && strlen(conditions[i].name) == len &&
            memcmp(conditions[i].name, s, len) == 0)
            return conditions[i].bit;
    return 0;
}

uint32_t xg_retry_on_bit(const char *s, size_t len, bool grpc)
{
    return lookup(s, len, grpc);
}

uint32_t xg_retry_on_any(const char *s, size_t len)
{
    return lookup(s, len, -1);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next comma-separated item of [*p, end), blanks trimmed; false at the end. */
static bool next_item(const char **p, const char *end, xg_hstr *item)
{
    while (*p < end) {
        const char *s = *p, *e = memchr(s, ',', (size_t)(end - s));
        if (e == NULL)
            e = end;
        *p = e < end ? e + 1 : end;
        while (s < e && blank(*s))
            s++;
        while (e > s && blank(e[-1]))
            e--;
        if (e > s) {
            *item = (xg_hstr){s, (size_t)(e - s)};
            return true;
        }
    }
    return false;
}

uint32_t xg_retry_on_parse(const char *s, size_t len, bool grpc, bool *all_known)
{
    uint32_t bits = 0;
    bool ok = true;
    xg_hstr it;
    for (const char *p = s; next_item(&p, s + len, &it);) {
        uint32_t b = lookup(it.s, it.len, grpc);
        ok = ok && b != 0;
        bits |= b;
    }
    if (all_known != NULL)
        *all_known = ok;
    return bits;
}

const xg_lstr xg_retry_request_headers[] = {
    {"x-envoy-retry-on", 16},
    {"x-envoy-retry-grpc-on", 21},
    {"x-envoy-max-retries", 19},
    {"x-envoy-retriable-status-codes", 30},
    {"x-envoy-retriable-header-names", 30},
    {"x-envoy-upstream-rq-per-try-timeout-ms", 38},
    {"x-envoy-hedge-on-per-try-timeout", 32},
};
const size_t xg_n_retry_request_headers = sizeof(xg_retry_request_headers) / sizeof(xg_retry_request_headers[0]);

static const xg_header *get(const xg_headers *h, const char *name)
{
    return xg_headers_get(h, name, strlen(name));
}

static void defaults(xg_retry_state *rs, const xg_retry_policy *p)
{
    memset(rs, 0, sizeof *rs);
    rs->remaining = 1;
    rs->backoff_next_ms = 25;
    rs->backoff_max_ms = 250;
    rs->host_selection_retries = 1;
    if (p == NULL)
        return;
    rs->retry_on = p->retry_on;
    rs->remaining = p->num_retries;
    rs->codes = p->retriable_status_codes;
    rs->n_codes = p->n_retriable_status_codes;
    rs->headers = p->retriable_headers;
    rs->n_headers = p->n_retriable_headers;
    rs->backoff_next_ms = p->backoff_base_ms;
    rs->backoff_max_ms = p->backoff_max_ms;
    rs->per_try_timeout_ms = p->per_try_timeout_ms;
    rs->per_try_idle_timeout_ms = p->per_try_idle_timeout_ms;
    rs->previous_hosts = p->previous_hosts;
    rs->host_selection_retries = (uint32_t)p->host_selection_retry_max_attempts;
}

/* x-envoy-retriable-status-codes: the policy's codes plus every item that
 * parses as a number (others are ignored, as in Envoy). */
static int header_codes(xg_retry_state *rs, const xg_header *e, xg_arena *a)
{
    size_t cap = rs->n_codes + e->value_len / 2 + 1;
    uint16_t *v = xg_arena_alloc(a, cap * sizeof *v);
    if (v == NULL)
        return XG_ENOMEM;
    if (rs->n_codes > 0)
        memcpy(v, rs->codes, rs->n_codes * sizeof *v);
    size_t n = rs->n_codes;
    xg_hstr it;
    uint64_t code;
    for (const char *p = e->value; n < cap && next_item(&p, e->value + e->value_len, &it);)
        if (xg_parse_uint64(it.s, it.len, &code) && code <= UINT16_MAX)
            v[n++] = (uint16_t)code;
    rs->codes = v;
    rs->n_codes = n;
    return 0;
}

/* x-envoy-retriable-header-names: presence matchers on the response. */
static int header_names(xg_retry_state *rs, const xg_header *e, xg_arena *a)
{
    size_t cap = e->value_len / 2 + 1, n = 0;
    xg_hstr *v = xg_arena_alloc(a, cap * sizeof *v), it;
    if (v == NULL)
        return XG_ENOMEM;
    for (const char *p = e->value; n < cap && next_item(&p, e->value + e->value_len, &it);) {
        char *lc = xg_arena_alloc(a, it.len + 1);
        if (lc == NULL)
            return XG_ENOMEM;
        for (size_t i = 0; i < it.len; i++)
            lc[i] = (char)(it.s[i] >= 'A' && it.s[i] <= 'Z' ? it.s[i] + 32 : it.s[i]);
        v[n++] = (xg_hstr){lc, it.len};
    }
    rs->header_names = v;
    rs->n_header_names = n;
    return 0;
}

static bool any_request_header_matches(const xg_retry_policy *p, const xg_headers *h, xg_arena *a, int *err)
{
    for (size_t i = 0; i < p->n_retriable_request_headers; i++)
        if (xg_header_matcher_match(&p->retriable_request_headers[i], h, a, err))
            return true;
    return false;
}

/* The merge Envoy's RetryStateImpl constructor does with the headers. */
static int merge_headers(xg_retry_state *rs, const xg_headers *h, xg_arena *a)
{
    const xg_header *e;
    uint64_t v;
    if ((e = get(h, "x-envoy-retry-on")) != NULL)
        rs->retry_on |= xg_retry_on_parse(e->value, e->value_len, false, NULL);
    if ((e = get(h, "x-envoy-retry-grpc-on")) != NULL)
        rs->retry_on |= xg_retry_on_parse(e->value, e->value_len, true, NULL);
    if ((e = get(h, "x-envoy-upstream-rq-per-try-timeout-ms")) != NULL && xg_parse_uint64(e->value, e->value_len, &v))
        rs->per_try_timeout_ms = v;
    int rc = 0;
    if ((e = get(h, "x-envoy-retriable-status-codes")) != NULL)
        rc = header_codes(rs, e, a);
    if (rc == 0 && (e = get(h, "x-envoy-retriable-header-names")) != NULL)
        rc = header_names(rs, e, a);
    return rc;
}

int xg_retry_init(xg_retry_state *rs, const xg_retry_policy *p, const xg_headers *h, bool internal, xg_arena *a)
{
    defaults(rs, p);
    int rc = internal ? merge_headers(rs, h, a) : 0;
    if (rc == 0 && p != NULL && p->n_retriable_request_headers > 0 && !any_request_header_matches(p, h, a, &rc))
        rs->retry_on = 0;
    const xg_header *e = internal ? get(h, "x-envoy-max-retries") : NULL;
    uint64_t v;
    if (rs->retry_on != 0 && e != NULL && xg_parse_uint64(e->value, e->value_len, &v))
        rs->remaining = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return rc;
}

/* grpc-status as Envoy's Grpc::Common::getGrpcStatus: a number, or -1. */
static int grpc_status(const xg_headers *h)
{
    const xg_header *e = get(h, "grpc-status");
    uint64_t v;
    if (e == NULL || !xg_parse_uint64(e->value, e->value_len, &v) || v > 16)
        return -1;
    return (int)v;
}

static bool grpc_retriable(uint32_t on, int status)
{
    switch (status) {
    case 1:
        return on & XG_RETRY_GRPC_CANCELLED;
    case 4:
        return on & XG_RETRY_GRPC_DEADLINE_EXCEEDED;
    case 8:
        return on & XG_RETRY_GRPC_RESOURCE_EXHAUSTED;
    case 13:
        return on & XG_RETRY_GRPC_INTERNAL;
    case 14:
        return on & XG_RETRY_GRPC_UNAVAILABLE;
    default:
        return false;
    }
}

static bool code_listed(const xg_retry_state *rs, unsigned status)
{
    for (size_t i = 0; i < rs->n_codes; i++)
        if (rs->codes[i] == status)
            return true;
    return false;
}

static bool header_listed(const xg_retry_state *rs, const xg_headers *resp, xg_arena *a, int *err)
{
    for (size_t i = 0; i < rs->n_headers; i++)
        if (xg_header_matcher_match(&rs->headers[i], resp, a, err))
            return true;
    for (size_t i = 0; i < rs->n_header_names; i++)
        if (xg_headers_get(resp, rs->header_names[i].s, rs->header_names[i].len) != NULL)
            return true;
    return false;
}

bool xg_retry_would_on_headers(const xg_retry_state *rs, const xg_headers *resp, xg_arena *a, int *err)
{
    uint32_t on = rs->retry_on;
    unsigned st = resp->status;
    if (get(resp, "x-envoy-ratelimited") != NULL)
        return on & XG_RETRY_ENVOY_RATELIMITED;
    if ((on & XG_RETRY_5XX) && st >= 500 && st <= 599)
        return true;
    if ((on & XG_RETRY_GATEWAY_ERROR) && st >= 502 && st <= 504)
        return true;
    if ((on & XG_RETRY_RETRIABLE_4XX) && st == 409)
        return true;
    if ((on & XG_RETRY_RETRIABLE_STATUS_CODES) && code_listed(rs, st))
        return true;
    if ((on & XG_RETRY_RETRIABLE_HEADERS) && header_listed(rs, resp, a, err))
        return true;
    return (on & GRPC_BITS) && grpc_retriable(on, grpc_status(resp));
}

bool xg_retry_would_on_reset(const xg_retry_state *rs, xg_retry_reset why, bool sent)
{
    uint32_t on = rs->retry_on;
    if (why == XG_RETRY_RESET_OVERFLOW)
        return false;
    if (why == XG_RETRY_RESET_CONNECT_FAILURE && (on & XG_RETRY_CONNECT_FAILURE))
        return true;
    if ((on & XG_RETRY_RESET_BEFORE_REQUEST) && !sent)
        return true;
    if (on & (XG_RETRY_RESET | XG_RETRY_5XX | XG_RETRY_GATEWAY_ERROR))
        return true;
    return why == XG_RETRY_RESET_REFUSED_STREAM && (on & XG_RETRY_REFUSED_STREAM);
}

uint64_t xg_retry_backoff_ms(xg_retry_state *rs, uint64_t random)
{
    uint64_t bound = rs->backoff_next_ms > 0 ? rs->backoff_next_ms : 1;
    rs->backoff_next_ms = bound < rs->backoff_max_ms / 2 ? bound * 2 : rs->backoff_max_ms;
    uint64_t ms = random % bound;
    return ms < rs->backoff_max_ms ? ms : rs->backoff_max_ms;
}
