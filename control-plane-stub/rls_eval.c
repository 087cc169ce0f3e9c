/* ShouldRateLimit's decision as envoyproxy/ratelimit makes it: every
 * descriptor is matched and counted on its own, the call is OVER_LIMIT when
 * any (non-shadow) descriptor is; see rls_eval.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "envoy/service/ratelimit/v3/rls.pb-c.h"
#include "rls_eval.h"

typedef Envoy__Service__Ratelimit__V3__RateLimitRequest rl_request;
typedef Envoy__Service__Ratelimit__V3__RateLimitResponse rl_response;
typedef Envoy__Service__Ratelimit__V3__RateLimitResponse__DescriptorStatus rl_status;
typedef Envoy__Service__Ratelimit__V3__RateLimitResponse__RateLimit rl_limit;
typedef Envoy__Extensions__Common__Ratelimit__V3__RateLimitDescriptor rl_descriptor;
typedef Envoy__Config__Core__V3__HeaderValue rl_header;

#define CODE_OK ENVOY__SERVICE__RATELIMIT__V3__RATE_LIMIT_RESPONSE__CODE__OK
#define CODE_OVER ENVOY__SERVICE__RATELIMIT__V3__RATE_LIMIT_RESPONSE__CODE__OVER_LIMIT

/* Per-descriptor storage for the response, freed in one go after packing. */
typedef struct slot {
    rl_status status;
    rl_limit limit;
    Google__Protobuf__Duration reset;
} slot;

static void set_error(xg_stub_rls_answer *out, grpc_status_code code, const char *msg)
{
    out->status = code;
    snprintf(out->message, sizeof(out->message), "%s", msg);
}

/* Length-prefixed fields: no choice of separator can make two keys collide. */
static int key_part(xg_buf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    int rc = xg_buf_append(b, &n, sizeof(n));
    return rc ? rc : xg_buf_append(b, s, n);
}

/* The counter key: domain, every entry's key and value (so a key-only
 * config node counts each value apart), and the unit. */
static int counter_key(xg_buf *b, const char *domain, const rl_descriptor *d, int unit)
{
    int rc = key_part(b, domain);
    for (size_t i = 0; i < d->n_entries && rc == 0; i++) {
        rc = key_part(b, d->entries[i]->key);
        if (rc == 0)
            rc = key_part(b, d->entries[i]->value);
    }
    char u = (char)unit;
    return rc ? rc : xg_buf_append(b, &u, 1);
}

/* The limit for one descriptor: its own override (honoured when the domain
 * is known, as envoyproxy/ratelimit does; only the units the stub counts),
 * else the config's match. false: no limit applies. */
static bool find_limit(const xg_stub_rls_domain *dom, const rl_descriptor *d, xg_stub_rls_limit *lim, bool *shadow)
{
    *shadow = false;
    if (dom == NULL || d->n_entries == 0)
        return false;
    if (d->limit != NULL && xg_stub_rls_unit_seconds((int)d->limit->unit) != 0) {
        *lim = (xg_stub_rls_limit){
            .set = true, .requests_per_unit = d->limit->requests_per_unit, .unit = (int)d->limit->unit, .name = NULL};
        return true;
    }
    xg_stub_rls_entry ent[64];
    if (d->n_entries > sizeof(ent) / sizeof(ent[0]))
        return false; /* deeper than any config can nest (rls_config's MAX_DEPTH) */
    for (size_t i = 0; i < d->n_entries; i++)
        ent[i] = (xg_stub_rls_entry){d->entries[i]->key, d->entries[i]->value};
    const xg_stub_rls_node *n = xg_stub_rls_config_match(dom, ent, d->n_entries);
    if (n == NULL)
        return false;
    *lim = n->limit;
    *shadow = n->shadow_mode;
    return true;
}

/* Counts one descriptor and fills its status. */
static int decide(xg_stub_rls_counters *counters, const char *domain, const xg_stub_rls_domain *dom,
                  const rl_descriptor *d, uint32_t hits, uint64_t now, slot *s)
{
    xg_stub_rls_limit lim;
    bool shadow;
    s->status.code = CODE_OK;
    if (!find_limit(dom, d, &lim, &shadow))
        return 0;
    if (lim.unlimited) {
        s->status.limit_remaining = UINT32_MAX; /* as envoyproxy/ratelimit answers unlimited */
        return 0;
    }
    uint64_t secs = xg_stub_rls_unit_seconds(lim.unit), end = (now / secs + 1) * secs, total = 0;
    xg_buf key;
    xg_buf_init(&key);
    int rc = counter_key(&key, domain, d, lim.unit);
    if (rc == 0)
        rc = xg_stub_rls_counters_add(counters, key.data, key.len, end, hits, now, &total);
    xg_buf_dispose(&key);
    if (rc != 0)
        return rc;
    s->limit.requests_per_unit = lim.requests_per_unit;
    s->limit.unit = (Envoy__Service__Ratelimit__V3__RateLimitResponse__RateLimit__Unit)lim.unit;
    s->limit.name = lim.name ? lim.name : (char *)"";
    s->status.current_limit = &s->limit;
    bool over = total > lim.requests_per_unit;
    s->status.limit_remaining = over ? 0 : (uint32_t)(lim.requests_per_unit - total);
    s->status.code = over && !shadow ? CODE_OVER : CODE_OK;
    s->reset.seconds = (int64_t)(end - now); /* whole seconds, 1..unit, as envoyproxy/ratelimit */
    s->status.duration_until_reset = &s->reset;
    return 0;
}

static const char *code_name(int code)
{
    return code == CODE_OVER ? "OVER_LIMIT" : code == CODE_OK ? "OK" : "UNKNOWN";
}

static void log_request(xg_jev *e, const rl_request *req)
{
    xg_jev_str(e, "domain", req->domain);
    xg_jev_u64(e, "hits_addend", req->hits_addend);
    xg_jev_open(e, "descriptors", '[');
    for (size_t i = 0; i < req->n_descriptors; i++) {
        const rl_descriptor *d = req->descriptors[i];
        xg_jev_open(e, NULL, '[');
        for (size_t j = 0; j < d->n_entries; j++) {
            xg_jev_open(e, NULL, '{');
            xg_jev_str(e, "key", d->entries[j]->key);
            xg_jev_str(e, "value", d->entries[j]->value);
            xg_jev_close(e, '}');
        }
        xg_jev_close(e, ']');
    }
    xg_jev_close(e, ']');
}

static void log_statuses(xg_jev *e, const rl_response *resp, const slot *slots)
{
    xg_jev_str(e, "overall_code", code_name(resp->overall_code));
    xg_jev_open(e, "statuses", '[');
    for (size_t i = 0; i < resp->n_statuses; i++) {
        xg_jev_open(e, NULL, '{');
        xg_jev_str(e, "code", code_name(slots[i].status.code));
        if (slots[i].status.current_limit != NULL) {
            xg_jev_u64(e, "requests_per_unit", slots[i].limit.requests_per_unit);
            xg_jev_str(e, "unit", xg_stub_rls_unit_name((int)slots[i].limit.unit));
        }
        xg_jev_u64(e, "limit_remaining", slots[i].status.limit_remaining);
        xg_jev_close(e, '}');
    }
    xg_jev_close(e, ']');
}

/* HeaderValue views of the config's headers (borrowed strings). */
static rl_header **headers(const xg_stub_rls_header *h, size_t n, rl_header *store)
{
    rl_header **v = calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; v != NULL && i < n; i++) {
        envoy__config__core__v3__header_value__init(&store[i]);
        store[i].key = h[i].key;
        store[i].value = h[i].value;
        v[i] = &store[i];
    }
    return v;
}

static grpc_byte_buffer *pack(const rl_response *resp)
{
    size_t n = envoy__service__ratelimit__v3__rate_limit_response__get_packed_size(resp);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return NULL;
    envoy__service__ratelimit__v3__rate_limit_response__pack(resp, buf);
    grpc_slice sl = grpc_slice_from_copied_buffer((const char *)buf, n);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    free(buf);
    return bb;
}

/* The response for a valid request of a known or unknown domain. */
static void respond(xg_stub_rls_counters *counters, const xg_stub_rls_domain *dom, const rl_request *req, uint64_t now,
                    xg_jev *e, xg_stub_rls_answer *out)
{
    rl_response resp = ENVOY__SERVICE__RATELIMIT__V3__RATE_LIMIT_RESPONSE__INIT;
    size_t nh1 = dom ? dom->nresponse_headers : 0, nh2 = dom ? dom->nrequest_headers : 0;
    slot *slots = calloc(req->n_descriptors, sizeof(*slots));
    rl_status **sv = calloc(req->n_descriptors, sizeof(*sv));
    rl_header *hstore = calloc(nh1 + nh2 + 1, sizeof(*hstore));
    int rc = slots && sv && hstore ? 0 : XG_ENOMEM;
    uint32_t hits = req->hits_addend ? req->hits_addend : 1;
    resp.overall_code = CODE_OK;
    for (size_t i = 0; i < req->n_descriptors && rc == 0; i++) {
        envoy__service__ratelimit__v3__rate_limit_response__descriptor_status__init(&slots[i].status);
        envoy__service__ratelimit__v3__rate_limit_response__rate_limit__init(&slots[i].limit);
        google__protobuf__duration__init(&slots[i].reset);
        rc = decide(counters, req->domain, dom, req->descriptors[i], hits, now, &slots[i]);
        sv[i] = &slots[i].status;
        if (slots[i].status.code == CODE_OVER)
            resp.overall_code = CODE_OVER;
    }
    resp.n_statuses = req->n_descriptors;
    resp.statuses = sv;
    if (rc == 0 && dom != NULL) {
        resp.n_response_headers_to_add = nh1;
        resp.response_headers_to_add = headers(dom->response_headers, nh1, hstore);
        resp.n_request_headers_to_add = nh2;
        resp.request_headers_to_add = headers(dom->request_headers, nh2, hstore + nh1);
        if (resp.response_headers_to_add == NULL || resp.request_headers_to_add == NULL)
            rc = XG_ENOMEM;
        if (dom->raw_body != NULL && resp.overall_code == CODE_OVER)
            resp.raw_body = (ProtobufCBinaryData){strlen(dom->raw_body), (uint8_t *)dom->raw_body};
    }
    if (rc == 0 && (out->reply = pack(&resp)) == NULL)
        rc = XG_ENOMEM;
    if (rc != 0)
        set_error(out, GRPC_STATUS_RESOURCE_EXHAUSTED, "the stub ran out of memory");
    else
        log_statuses(e, &resp, slots);
    free(resp.response_headers_to_add);
    free(resp.request_headers_to_add);
    free(hstore);
    free(sv);
    free(slots);
}

void xg_stub_rls_eval(xg_stub_rls_counters *counters, const xg_stub_rls_config *cfg, const uint8_t *data, size_t len,
                      uint64_t now_s, xg_jev *e, xg_stub_rls_answer *out)
{
    memset(out, 0, sizeof(*out));
    rl_request *req = envoy__service__ratelimit__v3__rate_limit_request__unpack(NULL, len, data);
    if (req == NULL) {
        set_error(out, GRPC_STATUS_INVALID_ARGUMENT, "cannot decode the RateLimitRequest");
        xg_jev_str(e, "error", out->message);
        return;
    }
    log_request(e, req);
    const xg_stub_rls_domain *dom = xg_stub_rls_config_domain(cfg, req->domain);
    xg_jev_bool(e, "known_domain", dom != NULL);
    if (dom != NULL)
        out->delay_ms = dom->delay_ms;
    /* envoyproxy/ratelimit refuses these two the same way. */
    if (req->domain[0] == '\0')
        set_error(out, GRPC_STATUS_INVALID_ARGUMENT, "rate limit domain must not be empty");
    else if (req->n_descriptors == 0)
        set_error(out, GRPC_STATUS_INVALID_ARGUMENT, "rate limit descriptor list must not be empty");
    else if (dom != NULL && dom->error_code != 0)
        set_error(out, (grpc_status_code)dom->error_code, dom->error_message);
    else
        respond(counters, dom, req, now_s, e, out);
    if (out->status != GRPC_STATUS_OK) {
        xg_jev_u64(e, "grpc_status", (uint64_t)out->status);
        xg_jev_str(e, "error", out->message);
    }
    envoy__service__ratelimit__v3__rate_limit_request__free_unpacked(req, NULL);
}
