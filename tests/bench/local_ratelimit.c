/* Benchmark (make bench, not a test): what envoy.filters.http.local_ratelimit's
 * decision costs a request. Runs the filter's own decision (allowed() of
 * src/filters/local_ratelimit.c: the clock read, descriptor matching, one
 * compare-and-swap per bucket taken) on a process-wide bucket: the default
 * bucket alone; two configured descriptors against a request with two
 * descriptors (one matches) plus the default bucket; and with two threads
 * on one bucket (the bucket's cache line moves between the cores on every
 * request: the worst case) or on two buckets. The buckets never run dry
 * (a refused request costs the same work minus the store). Prints
 * nanoseconds per request; docs/benchmarks.md has the figures. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "../../src/filters/local_ratelimit.c"
#include "core/assert.h"

#define N 10000000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

typedef struct job {
    const xg_local_ratelimit_config *cfg;
    const xg_rl_descriptors *req;
} job;

static void *decide(void *arg)
{
    const job *j = arg;
    lrl_filter lf = {.cfg = j->cfg};
    for (long i = 0; i < N; i++) {
        lf.decided = false;
        XG_ASSERT(allowed(&lf, j->req, xg_tb_now_ns()));
    }
    return NULL;
}

static double run(job *jobs, int n)
{
    pthread_t t[2];
    double t0 = now_ns();
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, decide, &jobs[i]);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return (now_ns() - t0) / N;
}

static xg_lrl_limit limit(const char *key)
{
    xg_lrl_limit l = {.p = {.max_tokens = 4000000000u, .tokens_per_fill = 1, .fill_interval_ns = 3600000000000ull}};
    l.shared = xg_tbucket_get(key, &l.p);
    XG_ASSERT(l.shared != NULL);
    return l;
}

/* clang-format off */
#define LS(s) {s, sizeof(s) - 1}
#define HS(s) {s, sizeof(s) - 1}
/* clang-format on */

int main(void)
{
    static const xg_lstr k[] = {LS("client")}, gold[] = {LS("gold")}, silver[] = {LS("silver")};
    xg_lrl_descriptor descs[] = {{.keys = k, .values = silver, .n = 1, .limit = limit("bench|silver")},
                                 {.keys = k, .values = gold, .n = 1, .limit = limit("bench|gold")}};
    xg_local_ratelimit_config plain = {.has_bucket = true, .limit = limit("bench|a"), .always_consume_default = true};
    xg_local_ratelimit_config other = {.has_bucket = true, .limit = limit("bench|b"), .always_consume_default = true};
    xg_local_ratelimit_config with_desc = plain;
    with_desc.descriptors = descs;
    with_desc.n_descriptors = 2;
    static const xg_rl_entry e1[] = {{HS("path"), HS("/api")}}, e2[] = {{HS("client"), HS("gold")}};
    xg_rl_descriptor items[] = {{e1, 1}, {e2, 1}};
    xg_rl_descriptors none = {0}, two = {items, 2};

    uint64_t t0 = xg_tb_now_ns();
    for (long i = 0; i < N; i++)
        t0 ^= xg_tb_now_ns();
    double clock_ns = 0;
    {
        double a = now_ns();
        for (long i = 0; i < N; i++)
            t0 ^= xg_tb_now_ns();
        clock_ns = (now_ns() - a) / N;
    }
    job one = {&plain, &none}, desc = {&with_desc, &two}, same[] = {{&plain, &none}, {&plain, &none}},
        apart[] = {{&plain, &none}, {&other, &none}};
    printf("local_ratelimit: clock read alone (baseline)            %6.1f ns\n", clock_ns);
    printf("local_ratelimit: default bucket, 1 thread               %6.1f ns/request\n", run(&one, 1));
    printf("local_ratelimit: 2 descriptors + default, 1 thread      %6.1f ns/request\n", run(&desc, 1));
    printf("local_ratelimit: 2 threads, one bucket (contended)      %6.1f ns/request per thread\n", run(same, 2));
    printf("local_ratelimit: 2 threads, a bucket each               %6.1f ns/request per thread\n", run(apart, 2));
    xg_tbucket_unref(plain.limit.shared);
    xg_tbucket_unref(other.limit.shared);
    xg_tbucket_unref(descs[0].limit.shared);
    xg_tbucket_unref(descs[1].limit.shared);
    return t0 == 42; /* keeps the clock loop */
}
