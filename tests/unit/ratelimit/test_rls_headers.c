/* Unit tests for ratelimit/rls_headers.c: what a rate limit service may put
 * on the request or the response (invalid, pseudo, framing and hop-by-hop
 * names dropped; more entries or bytes than the connection manager allows:
 * XG_ERANGE, a service error) and Envoy's setCopy order on the request. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "ratelimit/rls_headers.h"
#include "xg_test.h"

static xg_rls_header_value hv_store[256];
static xg_rls_header_value *hv_ptr[256];

static xg_rls_header_value **list(int n, const char *const *kv)
{
    for (int i = 0; i < n; i++) {
        envoy__config__core__v3__header_value__init(&hv_store[i]);
        hv_store[i].key = (char *)kv[2 * i];
        hv_store[i].value = (char *)kv[2 * i + 1];
        hv_ptr[i] = &hv_store[i];
    }
    return hv_ptr;
}

static const char *joined(const xg_rls_hdr *v, uint32_t n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%.*s=%.*s", i ? " " : "", (int)v[i].nlen, v[i].name,
                               (int)v[i].vlen, v[i].value);
    return buf;
}

XG_TEST(screen_drops_what_a_service_may_not_set)
{
    xg_arena a;
    xg_arena_init(&a, 4096);
    const char *kv[] = {"X-Tag",
                        "one",
                        ":path",
                        "/evil",
                        "content-length",
                        "5",
                        "Transfer-Encoding",
                        "chunked",
                        "connection",
                        "close",
                        "keep-alive",
                        "1",
                        "proxy-connection",
                        "x",
                        "te",
                        "trailers",
                        "upgrade",
                        "h2c",
                        "host",
                        "evil.example",
                        "bad name",
                        "v",
                        "x-crlf",
                        "a\r\nb: c",
                        "",
                        "empty",
                        "x-ok",
                        ""};
    xg_rls_hdr *v;
    uint32_t n;
    char buf[512];
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(14, kv), 14, 100, 60 * 1024, true, &v, &n), 0);
    CHECK_STR(joined(v, n, buf, sizeof(buf)), "x-tag=one x-ok=");
    /* host is the request's route and authority; on a response it is just a header */
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(14, kv), 14, 100, 60 * 1024, false, &v, &n), 0);
    CHECK_STR(joined(v, n, buf, sizeof(buf)), "x-tag=one host=evil.example x-ok=");
    xg_arena_dispose(&a);
}

XG_TEST(screen_limits_count_and_bytes)
{
    xg_arena a;
    xg_arena_init(&a, 4096);
    static const char *kv[2 * 101];
    static char names[101][16];
    for (int i = 0; i < 101; i++) {
        snprintf(names[i], sizeof(names[i]), "x-h%d", i);
        kv[2 * i] = names[i];
        kv[2 * i + 1] = "0123456789";
    }
    xg_rls_hdr *v;
    uint32_t n;
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(100, kv), 100, 100, 60 * 1024, true, &v, &n), 0);
    CHECK_EQ_INT(n, 100);
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(101, kv), 101, 100, 60 * 1024, true, &v, &n), XG_ERANGE);
    /* "x-h0" + "0123456789" = 14 bytes each */
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(10, kv), 10, 100, 10 * 14, true, &v, &n), 0);
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(10, kv), 10, 100, 10 * 14 - 1, true, &v, &n), XG_ERANGE);
    /* dropped entries count too: the service sent them */
    const char *big[] = {"bad name", "0123456789012345678901234567890123456789"};
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(1, big), 1, 100, 32, true, &v, &n), XG_ERANGE);
    xg_arena_dispose(&a);
}

static const char *request(const xg_headers *h, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < h->n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%.*s=%.*s", i ? " " : "", (int)h->v[i].name_len, h->v[i].name,
                               (int)h->v[i].value_len, h->v[i].value);
    return buf;
}

static uint32_t bytes_of(const xg_headers *h)
{
    uint32_t b = 0;
    for (uint32_t i = 0; i < h->n; i++)
        b += h->v[i].name_len + h->v[i].value_len;
    return b;
}

XG_TEST(set_is_setcopy_in_order)
{
    xg_arena a;
    xg_arena_init(&a, 4096);
    xg_headers *h = xg_headers_new(&a);
    CHECK_EQ_INT(xg_headers_add_copy(h, "x-a", 3, "1", 1), 0);
    CHECK_EQ_INT(xg_headers_add_copy(h, "x-b", 3, "2", 1), 0);
    CHECK_EQ_INT(xg_headers_add_copy(h, "x-a", 3, "3", 1), 0);
    CHECK_EQ_INT(xg_headers_add_copy(h, "x-c", 3, "4", 1), 0);
    uint32_t base = h->bytes - bytes_of(h); /* pseudo-headers, if any */
    const char *kv[] = {"x-new", "n1", "X-A", "first", "x-c", "c", "x-a", "last", "x-new", "n2", "x-z", "z"};
    xg_rls_hdr *v;
    uint32_t n;
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(6, kv), 6, 100, 60 * 1024, true, &v, &n), 0);
    CHECK_EQ_INT(xg_rls_headers_set(h, v, n), 0);
    char buf[512];
    /* x-a keeps its first place with the last value, its duplicate goes;
     * new names are appended once, with the last value */
    CHECK_STR(request(h, buf, sizeof(buf)), "x-a=last x-b=2 x-c=c x-new=n2 x-z=z");
    CHECK_EQ_INT(h->bytes - base, bytes_of(h));
    CHECK(xg_headers_get(h, "x-new", 5) != NULL);
    CHECK_EQ_INT(xg_rls_headers_set(h, v, 0), 0);
    xg_arena_dispose(&a);
}

XG_TEST(set_many_against_many)
{
    /* 100 service headers against a request of 100 (half of them shared):
     * each name once, the service's value, the request's order first. */
    xg_arena a;
    xg_arena_init(&a, 4096);
    xg_headers *h = xg_headers_new(&a);
    static char names[200][16];
    static const char *kv[200];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "x-r%d", i);
        CHECK_EQ_INT(xg_headers_add_copy(h, names[i], strlen(names[i]), "req", 3), 0);
    }
    for (int i = 0; i < 100; i++) {
        snprintf(names[100 + i], sizeof(names[100 + i]), "x-r%d", 50 + i);
        kv[2 * i] = names[100 + i];
        kv[2 * i + 1] = "svc";
    }
    xg_rls_hdr *v;
    uint32_t n;
    CHECK_EQ_INT(xg_rls_headers_screen(&a, list(100, kv), 100, 100, 60 * 1024, true, &v, &n), 0);
    CHECK_EQ_INT(xg_rls_headers_set(h, v, n), 0);
    CHECK_EQ_INT(h->n, 150);
    for (uint32_t i = 0; i < h->n; i++) {
        char want[16];
        snprintf(want, sizeof(want), "x-r%u", i);
        CHECK_EQ_INT(h->v[i].name_len, strlen(want));
        CHECK(memcmp(h->v[i].name, want, h->v[i].name_len) == 0);
        CHECK(memcmp(h->v[i].value, i < 50 ? "req" : "svc", 3) == 0);
    }
    xg_arena_dispose(&a);
}
