/* control-plane-stub's rate-limit service without gRPC plumbing: the YAML
 * parser (errors with paths, hostile input), the matcher (envoyproxy/
 * ratelimit's precedence and depth rule), the window counters (windows,
 * sweep, growth) and the decision over packed requests (window math,
 * overrides, shadow, garbage bytes). */
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <stdlib.h>

#include "xg_test.h"

#include "../../../control-plane-stub/jlog.c"
#include "../../../control-plane-stub/rls_config.c"
#include "../../../control-plane-stub/rls_counters.c"
#include "../../../control-plane-stub/rls_eval.c"

/* rls_config.c's file reader lives in snapshot.c, which this test leaves out. */
int xg_stub_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    (void)path, (void)text, (void)len;
    snprintf(err, errlen, "not in this test");
    return XG_EIO;
}

static xg_stub_rls_config *parse_ok(const char *yaml)
{
    char err[1024] = "";
    xg_stub_rls_config *c = NULL;
    int rc = xg_stub_rls_config_parse(yaml, strlen(yaml), &c, err, sizeof(err));
    if (!CHECK_EQ_INT(rc, 0))
        fprintf(stderr, "  error: %s\n", err);
    return c;
}

/* The parse fails and the message starts with want (the path). */
static void parse_fails(const char *yaml, const char *want)
{
    char err[1024] = "";
    xg_stub_rls_config *c = NULL;
    CHECK_EQ_INT(xg_stub_rls_config_parse(yaml, strlen(yaml), &c, err, sizeof(err)), XG_EINVAL);
    CHECK(c == NULL);
    if (!CHECK(strncmp(err, want, strlen(want)) == 0))
        fprintf(stderr, "  got \"%s\", want it to start with \"%s\"\n", err, want);
}

static const char *const CONFIG = "domain: d\n"
                                  "descriptors:\n"
                                  "  - key: k\n"
                                  "    rate_limit: {unit: second, requests_per_unit: 10}\n"
                                  "  - key: k\n"
                                  "    value: v\n"
                                  "    rate_limit: {unit: minute, requests_per_unit: 1}\n"
                                  "  - key: k\n"
                                  "    value: \"pre*\"\n"
                                  "    rate_limit: {unit: hour, requests_per_unit: 2}\n"
                                  "  - key: k\n"
                                  "    value: \"prefix*\"\n"
                                  "    rate_limit: {unit: DAY, requests_per_unit: 3}\n"
                                  "  - key: a\n"
                                  "    value: 30\n"
                                  "    shadow_mode: true\n"
                                  "    descriptors:\n"
                                  "      - key: b\n"
                                  "        rate_limit: {unlimited: true, name: free}\n";

static uint32_t rpu_of(const xg_stub_rls_domain *d, const char *k1, const char *v1, const char *k2, const char *v2)
{
    xg_stub_rls_entry e[2] = {{k1, v1}, {k2, v2}};
    const xg_stub_rls_node *n = xg_stub_rls_config_match(d, e, k2 ? 2 : 1);
    return n == NULL ? 9999 : n->limit.unlimited ? 7777 : n->limit.requests_per_unit;
}

XG_TEST(match_precedence_and_depth)
{
    xg_stub_rls_config *c = parse_ok(CONFIG);
    if (c == NULL)
        return;
    const xg_stub_rls_domain *d = xg_stub_rls_config_domain(c, "d");
    CHECK(d != NULL && xg_stub_rls_config_domain(c, "e") == NULL);
    CHECK_EQ_INT(rpu_of(d, "k", "v", NULL, NULL), 1);        /* exact value first */
    CHECK_EQ_INT(rpu_of(d, "k", "prefixed", NULL, NULL), 3); /* then the longest prefix */
    CHECK_EQ_INT(rpu_of(d, "k", "press", NULL, NULL), 2);
    CHECK_EQ_INT(rpu_of(d, "k", "other", NULL, NULL), 10); /* then the key alone */
    CHECK_EQ_INT(rpu_of(d, "k", "", NULL, NULL), 10);
    CHECK_EQ_INT(rpu_of(d, "x", "v", NULL, NULL), 9999);  /* unknown key */
    CHECK_EQ_INT(rpu_of(d, "a", "30", NULL, NULL), 9999); /* a placeholder level has no limit */
    CHECK_EQ_INT(rpu_of(d, "a", "30", "b", "any"), 7777); /* numbers are values as written */
    CHECK_EQ_INT(rpu_of(d, "k", "v", "b", "any"), 9999);  /* deeper than the config */
    CHECK_EQ_INT(rpu_of(d, "a", "31", "b", "any"), 9999);
    xg_stub_rls_entry e = {"a", "30"};
    const xg_stub_rls_node *top = xg_stub_rls_config_match(d, &e, 0);
    CHECK(top == NULL); /* no entries: nothing matched */
    CHECK(d->descriptors[4].shadow_mode && d->descriptors[4].children[0].limit.unlimited);
    CHECK_STR(d->descriptors[4].children[0].limit.name, "free");
    CHECK_EQ_INT(d->descriptors[3].limit.unit, XG_RLS_DAY);
    xg_stub_rls_config_free(c);
}

XG_TEST(several_domains_and_knobs)
{
    xg_stub_rls_config *c = parse_ok("- domain: a\n"
                                     "- domain: b\n"
                                     "  test_delay_ms: 250\n"
                                     "  test_error: {code: unavailable, message: down}\n"
                                     "  raw_body: nope\n"
                                     "  response_headers_to_add: [{key: x-a, value: '1'}, {key: x-b}]\n"
                                     "  request_headers_to_add: [{key: x-c, value: 3}]\n");
    if (c == NULL)
        return;
    CHECK_EQ_INT(c->ndomains, 2);
    const xg_stub_rls_domain *b = xg_stub_rls_config_domain(c, "b");
    CHECK_EQ_INT(b->delay_ms, 250);
    CHECK_EQ_INT(b->error_code, GRPC_STATUS_UNAVAILABLE);
    CHECK_STR(b->error_message, "down");
    CHECK_STR(b->raw_body, "nope");
    CHECK_EQ_INT(b->nresponse_headers, 2);
    CHECK_STR(b->response_headers[1].value, "");
    CHECK_STR(b->request_headers[0].value, "3");
    xg_stub_rls_config_free(c);
}

XG_TEST(errors_name_the_path)
{
    parse_fails("", "empty document");
    parse_fails("[]", "empty list of domains");
    parse_fails("42", "line 1: expected a mapping");
    parse_fails("descriptors: []", "a rate-limit config needs a domain");
    parse_fails("domain: ''", "domain: must not be empty");
    parse_fails("domain: [x]", "domain: expected a string");
    parse_fails("domain: d\ndescriptors: {key: k}", "descriptors: expected array");
    parse_fails("domain: d\ndescriptors: [7]", "descriptors[0]: expected object");
    parse_fails("domain: d\ndescriptors: [{value: v}]", "descriptors[0]: a descriptor needs a key");
    parse_fails("domain: d\ndescriptors: [{key: k, rate_limit: {requests_per_unit: 1}}]",
                "descriptors[0].rate_limit: needs a unit");
    parse_fails("domain: d\ndescriptors: [{key: k, rate_limit: {unit: second}}]",
                "descriptors[0].rate_limit: needs requests_per_unit");
    parse_fails("domain: d\ndescriptors: [{key: k, rate_limit: {unit: second, requests_per_unit: 4294967296}}]",
                "descriptors[0].rate_limit.requests_per_unit: expected an integer from 0 to 4294967295");
    parse_fails("domain: d\ndescriptors: [{key: k, rate_limit: {unit: second, requests_per_unit: 1.5}}]",
                "descriptors[0].rate_limit.requests_per_unit: expected an integer");
    parse_fails("domain: d\ndescriptors: [{key: k, rate_limit: {unit: month, requests_per_unit: 1}}]",
                "descriptors[0].rate_limit.unit: expected second, minute, hour or day");
    parse_fails("domain: d\ndescriptors: [{key: k, shadow_mode: yes}]", "descriptors[0].shadow_mode: expected true");
    parse_fails("domain: d\ndescriptors: [{key: k, value: v}, {key: k, value: v}]",
                "descriptors[1]: duplicate descriptor (key \"k\", value \"v\")");
    parse_fails("domain: d\ndescriptors: [{key: k, descriptors: [{key: j}, {key: j}]}]",
                "descriptors[0].descriptors[1]: duplicate descriptor (key \"j\" without a value)");
    parse_fails("domain: d\nbogus: 1", "bogus: unknown field in a domain");
    parse_fails("- domain: d\n- domain: d", "[1].domain: duplicate domain \"d\"");
    parse_fails("domain: d\ntest_error: {code: 17}", "test_error.code: expected a gRPC status name");
    parse_fails("domain: d\ntest_error: {message: x}", "test_error: needs a code");
    parse_fails("domain: d\ntest_delay_ms: -5", "test_delay_ms: expected an integer from 0 to 600000, got -5");
    parse_fails("domain: d\nresponse_headers_to_add: [{value: v}]", "response_headers_to_add[0]: a header needs a key");
    parse_fails("domain: \"a\\0b\"", "domain: contains a NUL byte");
    parse_fails("domain: d\ndescriptors: [\n", "line ");
}

XG_TEST(hostile_nesting_is_refused_not_recursed)
{
    xg_buf b;
    xg_buf_init(&b);
    xg_buf_puts(&b, "domain: d\ndescriptors: ");
    for (int i = 0; i < 40; i++)
        xg_buf_puts(&b, "[{key: k, descriptors: ");
    xg_buf_puts(&b, "[]");
    for (int i = 0; i < 40; i++)
        xg_buf_puts(&b, "}]");
    char err[1024] = "";
    xg_stub_rls_config *c = NULL;
    CHECK_EQ_INT(xg_stub_rls_config_parse(b.data, b.len, &c, err, sizeof(err)), XG_EINVAL);
    CHECK(strstr(err, "nested deeper than 32 levels") != NULL);
    xg_buf_dispose(&b);
}

XG_TEST(sniff_tells_rate_limit_files_from_snapshots)
{
    CHECK(xg_stub_rls_config_sniff("domain: d", 9));
    CHECK(xg_stub_rls_config_sniff("- domain: d\n", 12));
    CHECK(!xg_stub_rls_config_sniff("resources: []", 13));
    CHECK(!xg_stub_rls_config_sniff("- '@type': x\n  domain: d\n", 25));
    CHECK(!xg_stub_rls_config_sniff("[", 1));
    CHECK(!xg_stub_rls_config_sniff("", 0));
}

XG_TEST(counters_windows_sweep_and_growth)
{
    xg_stub_rls_counters c;
    xg_stub_rls_counters_init(&c);
    uint64_t t = 0;
    CHECK_EQ_INT(xg_stub_rls_counters_add(&c, "k", 1, 101, 1, 100, &t), 0);
    CHECK_EQ_INT(t, 1);
    xg_stub_rls_counters_add(&c, "k", 1, 101, 5, 100, &t);
    CHECK_EQ_INT(t, 6);
    xg_stub_rls_counters_add(&c, "k", 1, 102, 1, 100, &t); /* another window: its own count */
    CHECK_EQ_INT(t, 1);
    xg_stub_rls_counters_add(&c, "kk", 2, 101, 1, 100, &t);
    CHECK_EQ_INT(t, 1);
    CHECK_EQ_INT(c.n, 3);
    xg_stub_rls_counters_add(&c, "k", 1, 102, 1, 101, &t); /* window 101 has ended: swept */
    CHECK_EQ_INT(t, 2);
    CHECK_EQ_INT(c.n, 1);
    for (uint32_t i = 0; i < 20000; i++)
        xg_stub_rls_counters_add(&c, &i, sizeof(i), 200, i % 3 + 1, 101, &t);
    uint32_t probe = 12345;
    xg_stub_rls_counters_add(&c, &probe, sizeof(probe), 200, 0, 101, &t);
    CHECK_EQ_INT(t, probe % 3 + 1);
    CHECK(c.nbuckets >= 16384);
    xg_stub_rls_counters_add(&c, "k", 1, 300, UINT64_MAX, 101, &t);
    xg_stub_rls_counters_add(&c, "k", 1, 300, 5, 101, &t); /* saturates, never wraps to "under" */
    CHECK(t == UINT64_MAX);
    xg_stub_rls_counters_dispose(&c);
}

/* Packs a request with one descriptor of up to two entries. */
static uint8_t *pack_request(const char *domain, const char *k1, const char *v1, const char *k2, const char *v2,
                             uint32_t hits, size_t *len)
{
    Envoy__Extensions__Common__Ratelimit__V3__RateLimitDescriptor__Entry e[2] = {
        ENVOY__EXTENSIONS__COMMON__RATELIMIT__V3__RATE_LIMIT_DESCRIPTOR__ENTRY__INIT,
        ENVOY__EXTENSIONS__COMMON__RATELIMIT__V3__RATE_LIMIT_DESCRIPTOR__ENTRY__INIT};
    Envoy__Extensions__Common__Ratelimit__V3__RateLimitDescriptor__Entry *ep[2] = {&e[0], &e[1]};
    rl_descriptor d = ENVOY__EXTENSIONS__COMMON__RATELIMIT__V3__RATE_LIMIT_DESCRIPTOR__INIT;
    rl_descriptor *dp = &d;
    rl_request req = ENVOY__SERVICE__RATELIMIT__V3__RATE_LIMIT_REQUEST__INIT;
    e[0].key = (char *)k1;
    e[0].value = (char *)v1;
    e[1].key = (char *)k2;
    e[1].value = (char *)v2;
    d.n_entries = k2 ? 2 : 1;
    d.entries = ep;
    req.domain = (char *)domain;
    req.n_descriptors = 1;
    req.descriptors = &dp;
    req.hits_addend = hits;
    *len = envoy__service__ratelimit__v3__rate_limit_request__get_packed_size(&req);
    uint8_t *buf = malloc(*len + 1);
    envoy__service__ratelimit__v3__rate_limit_request__pack(&req, buf);
    return buf;
}

/* Runs one decision and unpacks the answer (NULL on a gRPC error). */
static rl_response *decide_once(xg_stub_rls_counters *cnt, const xg_stub_rls_config *cfg, const uint8_t *data,
                                size_t len, uint64_t now, xg_stub_rls_answer *ans)
{
    xg_jev e;
    xg_jev_begin(&e, "t");
    xg_stub_rls_eval(cnt, cfg, data, len, now, &e, ans);
    xg_buf_dispose(&e.b);
    if (ans->reply == NULL)
        return NULL;
    grpc_byte_buffer_reader r;
    grpc_byte_buffer_reader_init(&r, ans->reply);
    grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    rl_response *resp = envoy__service__ratelimit__v3__rate_limit_response__unpack(NULL, GRPC_SLICE_LENGTH(sl),
                                                                                   GRPC_SLICE_START_PTR(sl));
    grpc_slice_unref(sl);
    grpc_byte_buffer_destroy(ans->reply);
    ans->reply = NULL;
    return resp;
}

XG_TEST(decision_window_math_and_shadow)
{
    grpc_init();
    xg_stub_rls_config *c =
        parse_ok("domain: d\n"
                 "descriptors:\n"
                 "  - {key: m, rate_limit: {unit: minute, requests_per_unit: 2}}\n"
                 "  - {key: s, shadow_mode: true, rate_limit: {unit: second, requests_per_unit: 0}}\n");
    xg_stub_rls_counters cnt;
    xg_stub_rls_counters_init(&cnt);
    xg_stub_rls_answer ans;
    size_t len;
    uint8_t *req = pack_request("d", "m", "x", NULL, NULL, 0, &len);
    int codes[4], remaining[4], reset[4];
    uint64_t times[4] = {119, 119, 119, 120}; /* the last one opens the next minute */
    for (int i = 0; i < 4; i++) {
        rl_response *r = decide_once(&cnt, c, req, len, times[i], &ans);
        if (!CHECK(r != NULL && r->n_statuses == 1))
            return;
        codes[i] = r->overall_code;
        remaining[i] = (int)r->statuses[0]->limit_remaining;
        reset[i] = (int)r->statuses[0]->duration_until_reset->seconds;
        CHECK_EQ_INT(r->statuses[0]->current_limit->unit, XG_RLS_MINUTE);
        envoy__service__ratelimit__v3__rate_limit_response__free_unpacked(r, NULL);
    }
    CHECK(codes[0] == CODE_OK && codes[1] == CODE_OK && codes[2] == CODE_OVER && codes[3] == CODE_OK);
    CHECK(remaining[0] == 1 && remaining[1] == 0 && remaining[2] == 0 && remaining[3] == 1);
    CHECK(reset[0] == 1 && reset[3] == 60);
    free(req);
    req = pack_request("d", "s", "x", NULL, NULL, 3, &len);
    rl_response *r = decide_once(&cnt, c, req, len, 500, &ans);
    if (CHECK(r != NULL)) { /* over, but shadow: OK with nothing left */
        CHECK(r->overall_code == CODE_OK && r->statuses[0]->limit_remaining == 0);
        CHECK(r->statuses[0]->current_limit != NULL && r->statuses[0]->current_limit->requests_per_unit == 0);
        envoy__service__ratelimit__v3__rate_limit_response__free_unpacked(r, NULL);
    }
    free(req);
    xg_stub_rls_counters_dispose(&cnt);
    xg_stub_rls_config_free(c);
    grpc_shutdown();
}

XG_TEST(garbage_requests_become_grpc_errors)
{
    grpc_init();
    xg_stub_rls_config *c = parse_ok(CONFIG);
    xg_stub_rls_counters cnt;
    xg_stub_rls_counters_init(&cnt);
    xg_stub_rls_answer ans;
    size_t len;
    uint8_t *good = pack_request("d", "a", "30", "b", "z", 0, &len);
    srand(7);
    int errors = 0, answered = 0;
    for (int i = 0; i < 3000; i++) { /* flipped bytes and truncations of a valid request */
        uint8_t buf[256];
        size_t n = (size_t)rand() % (len + 1);
        memcpy(buf, good, len);
        buf[(size_t)rand() % len] ^= (uint8_t)(1 + rand() % 255);
        rl_response *r = decide_once(&cnt, c, buf, n, 1000, &ans);
        if (r != NULL) {
            answered++;
            envoy__service__ratelimit__v3__rate_limit_response__free_unpacked(r, NULL);
        } else {
            errors++;
            CHECK(ans.status == GRPC_STATUS_INVALID_ARGUMENT);
        }
    }
    CHECK(errors > 0 && answered > 0);
    free(good);
    xg_stub_rls_counters_dispose(&cnt);
    xg_stub_rls_config_free(c);
    grpc_shutdown();
}
