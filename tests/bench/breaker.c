/* Benchmark (make bench, not a test): what the process-wide circuit breaker
 * counts cost a request. A request takes one max_requests unit (compare-and-
 * swap) when it gets its stream and gives it back (atomic subtract) when it
 * ends; this measures that pair on one thread, on two threads hammering the
 * same cluster (the cache line moves between the cores every time: the
 * worst case), and on two threads using different clusters (no sharing), next
 * to a plain per-worker counter for scale. Prints nanoseconds per request. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "core/assert.h"
#include "upstream/breaker.h"

#define N 20000000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *pairs(void *arg)
{
    xg_breaker *b = arg;
    for (long i = 0; i < N; i++) {
        XG_ASSERT(xg_breaker_try(b, 0, XG_BR_REQUESTS, 1024));
        xg_breaker_dec(b, 0, XG_BR_REQUESTS);
    }
    return NULL;
}

static volatile uint64_t plain_counter;

static void *plain(void *arg)
{
    for (long i = 0; i < N; i++) {
        plain_counter = plain_counter + 1;
        plain_counter = plain_counter - 1;
    }
    return NULL;
}

/* Runs fn on each of the n args in its own thread; ns per iteration. */
static double run(void *(*fn)(void *), void **args, int n)
{
    pthread_t t[2];
    double t0 = now_ns();
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, fn, args[i]);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return (now_ns() - t0) / N;
}

int main(void)
{
    xg_breaker *a = xg_breaker_get("bench-a"), *b = xg_breaker_get("bench-b");
    void *one[] = {a}, *same[] = {a, a}, *apart[] = {a, b}, *none[] = {NULL};
    printf("breaker: plain per-worker counter (baseline)        %6.1f ns/request\n", run(plain, none, 1));
    printf("breaker: 1 thread, take + give back                 %6.1f ns/request\n", run(pairs, one, 1));
    printf("breaker: 2 threads, same cluster (line contended)   %6.1f ns/request per thread\n", run(pairs, same, 2));
    printf("breaker: 2 threads, different clusters              %6.1f ns/request per thread\n", run(pairs, apart, 2));
    xg_breaker_unref(a);
    xg_breaker_unref(b);
    return 0;
}
