/* The health checker's parsers (upstream/health_probe.c, health_http.c,
 * included for their statics): TCP receive payloads matched in order, and
 * the grpc.health.v1 HealthCheckResponse read from hostile bytes. */
#include "../../../src/upstream/health_http.c"
#include "../../../src/upstream/health_probe.c"
#include "xg_test.h"

static xg_hc_payload pl(const char *s)
{
    return (xg_hc_payload){(const uint8_t *)s, strlen(s)};
}

static bool tcp_match(const char *got, const xg_hc_payload *want, size_t n)
{
    xg_health_check hc = {.kind = XG_HC_TCP, .tcp_receive = (xg_hc_payload *)want, .n_tcp_receive = n};
    xg_hc_probe p = {.hc = &hc};
    xg_buf_init(&p.rx);
    xg_buf_append(&p.rx, got, strlen(got));
    bool ok = tcp_matched(&p);
    xg_buf_dispose(&p.rx);
    return ok;
}

XG_TEST(tcp_payloads_in_order_not_necessarily_adjacent)
{
    xg_hc_payload ab[] = {pl("A1"), pl("B2")};
    CHECK(tcp_match("A1B2", ab, 2));
    CHECK(tcp_match("xxA1yyyB2zz", ab, 2));
    CHECK(!tcp_match("B2A1", ab, 2));
    CHECK(!tcp_match("A1B", ab, 2));
    CHECK(!tcp_match("", ab, 2));
    xg_hc_payload same[] = {pl("AA"), pl("AA")};
    CHECK(!tcp_match("AAA", same, 2)); /* the second starts after the first ends */
    CHECK(tcp_match("AAAA", same, 2));
    CHECK(tcp_match("anything", NULL, 0));
}

static int serving(const uint8_t *d, size_t n)
{
    xg_buf b;
    xg_buf_init(&b);
    xg_buf_append(&b, d, n);
    int v = grpc_serving_status(&b);
    xg_buf_dispose(&b);
    return v;
}

XG_TEST(grpc_health_response_parsing)
{
    static const uint8_t ok[] = {0, 0, 0, 0, 2, 0x08, 0x01};
    static const uint8_t not_serving[] = {0, 0, 0, 0, 2, 0x08, 0x02};
    static const uint8_t empty[] = {0, 0, 0, 0, 0}; /* status UNKNOWN (0): not serving */
    static const uint8_t extra[] = {0, 0, 0, 0, 7, 0x12, 0x03, 'a', 'b', 'c', 0x08, 0x01};
    CHECK_EQ_INT(serving(ok, sizeof ok), 1);
    CHECK_EQ_INT(serving(not_serving, sizeof not_serving), 2);
    CHECK_EQ_INT(serving(empty, sizeof empty), 0);
    CHECK_EQ_INT(serving(extra, sizeof extra), 1); /* unknown fields skipped */
}

XG_TEST(grpc_health_response_hostile_bytes)
{
    static const uint8_t compressed[] = {1, 0, 0, 0, 2, 0x08, 0x01};
    static const uint8_t short_len[] = {0, 0, 0, 0, 9, 0x08, 0x01};
    static const uint8_t two_msgs[] = {0, 0, 0, 0, 2, 0x08, 0x01, 0, 0, 0, 0, 2, 0x08, 0x01};
    static const uint8_t cut_varint[] = {0, 0, 0, 0, 2, 0x08, 0x81};
    static const uint8_t bad_len[] = {0, 0, 0, 0, 3, 0x12, 0x7f, 'a'};
    static const uint8_t group[] = {0, 0, 0, 0, 2, 0x0b, 0x01}; /* wire type 3: not accepted */
    static const uint8_t tiny[] = {0, 0, 0};
    static const uint8_t huge[] = {0, 0, 0, 0, 6, 0x08, 0x80, 0x80, 0x80, 0x80, 0x08}; /* 2^31: no sign flip */
    CHECK_EQ_INT(serving(huge, sizeof huge), 255);
    CHECK_EQ_INT(serving(compressed, sizeof compressed), -1);
    CHECK_EQ_INT(serving(short_len, sizeof short_len), -1);
    CHECK_EQ_INT(serving(two_msgs, sizeof two_msgs), -1);
    CHECK_EQ_INT(serving(cut_varint, sizeof cut_varint), -1);
    CHECK_EQ_INT(serving(bad_len, sizeof bad_len), -1);
    CHECK_EQ_INT(serving(group, sizeof group), -1);
    CHECK_EQ_INT(serving(tiny, sizeof tiny), -1);
    uint8_t noise[64];
    xg_rng rng;
    xg_rng_seed(&rng, 11);
    for (int i = 0; i < 20000; i++) { /* never crashes, never reads past the end (ASan) */
        size_t n = xg_rng_below(&rng, sizeof noise);
        for (size_t k = 0; k < n; k++)
            noise[k] = (uint8_t)xg_rng_next(&rng);
        if (n >= 5)
            noise[0] = 0, noise[1] = noise[2] = noise[3] = 0, noise[4] = (uint8_t)(n - 5);
        int v = serving(noise, n);
        CHECK(v >= -1);
    }
}

XG_TEST(grpc_status_header_values)
{
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    CHECK_EQ_INT(grpc_status_of(h), -1);
    xg_headers_add_copy(h, "grpc-status", 11, "14", 2);
    CHECK_EQ_INT(grpc_status_of(h), 14);
    xg_headers_clear(h);
    xg_headers_add_copy(h, "grpc-status", 11, "x", 1);
    CHECK_EQ_INT(grpc_status_of(h), 2); /* not a number: UNKNOWN */
    xg_arena_dispose(&a);
}

XG_TEST(status_ranges)
{
    xg_status_range r[] = {{200, 201}, {300, 400}};
    CHECK(in_ranges(r, 2, 200));
    CHECK(!in_ranges(r, 2, 201));
    CHECK(in_ranges(r, 2, 399));
    CHECK(!in_ranges(r, 2, 400));
    CHECK(!in_ranges(NULL, 0, 200));
}
