/* Benchmark (make bench, not a test): two costs of DNS clusters and upstream
 * TLS. Parsing a DNS answer of 40 A records (main thread, once per
 * refresh), and the per-request lookup of an auto_sni / auto_san_validation
 * named client context in a cluster's cache holding 1, 16 or 256 names
 * (worker, every request of such a cluster). Prints microseconds per parse
 * and nanoseconds per lookup. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/dns_wire.h"
#include "config/tls.h"
#include "core/assert.h"
#include "net/tls_ctx.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* An answer for big.test with n A records, each owner a pointer to the question. */
static size_t answer(uint8_t *b, int n)
{
    static const uint8_t head[] = {0x12, 0x34, 0x81, 0x80, 0,   1,   0,   0,   0, 0, 0, 0, 3,
                                   'b',  'i',  'g',  4,    't', 'e', 's', 't', 0, 0, 1, 0, 1};
    size_t o = sizeof head;
    memcpy(b, head, o);
    b[7] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0};
        memcpy(b + o, rr, sizeof rr);
        o += sizeof rr;
        b[o++] = (uint8_t)i;
    }
    return o;
}

static void parse(void)
{
    static uint8_t b[1024];
    static xg_dns_reply r;
    size_t len = answer(b, 40);
    int n = 200000;
    double t0 = now();
    for (int i = 0; i < n; i++)
        XG_ASSERT(xg_dns_reply_parse(b, len, 0x1234, "big.test", XG_DNS_T_A, &r) == 0 && r.n == 40);
    printf("dns: parse an answer of 40 A records: %.2f us\n", (now() - t0) / n * 1e6);
}

static void names(void)
{
    xg_tls_context tc = {.max_session_keys = 1, .params = {.min_version = XG_TLS1_2, .max_version = XG_TLS1_3}};
    xg_tls_build b = {.tc = &tc};
    xg_tls_client *base, *c;
    char err[256], name[64];
    XG_ASSERT(xg_tls_client_new(&b, &base, err, sizeof err) == 0);
    for (int k = 1; k <= 256; k *= 16) {
        xg_tls_names *cache = NULL;
        for (int i = 0; i < k; i++) {
            snprintf(name, sizeof name, "host-%d.example.com", i);
            XG_ASSERT(xg_tls_names_get(&cache, base, name, name, &c) == 0);
        }
        int n = 2000000;
        double t0 = now();
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "host-%d.example.com", i % k);
            XG_ASSERT(xg_tls_names_get(&cache, base, name, name, &c) == 0);
        }
        double with = now() - t0;
        t0 = now();
        for (int i = 0; i < n; i++)
            snprintf(name, sizeof name, "host-%d.example.com", i % k);
        printf("auto_sni: named context lookup with %3d names cached: %.0f ns\n", k, (with - (now() - t0)) / n * 1e9);
        xg_tls_names_free(cache);
    }
    xg_tls_client_unref(base);
}

int main(void)
{
    parse();
    names();
    return 0;
}
