/* Lock-free token buckets with lazily counted fills, and the process-wide
 * registry of shared ones (token_bucket.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/named_reg.h"
#include "ratelimit/token_bucket.h"

uint64_t xg_tb_now_ns(void)
{
    /* The coarse clock is read from the vDSO page without touching the
     * clock source: ~10 ns where a precise read costs ~90 ns on a VM's
     * kvm-clock, most of a request's whole rate-limit decision. Its tick
     * (1-4 ms) only shifts when a fill lands; fills are >= 50 ms apart. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t pack(uint32_t epoch, uint32_t tokens)
{
    return (uint64_t)epoch << 32 | tokens;
}

static uint64_t elapsed(const xg_tb_state *st, uint64_t now_ns)
{
    return now_ns > st->start_ns ? now_ns - st->start_ns : 0;
}

void xg_tb_init(xg_tb_state *st, const xg_tb_params *p, uint64_t now_ns)
{
    st->start_ns = now_ns;
    atomic_init(&st->word, pack(0, p->max_tokens));
}

/* How far (in intervals) a thread's clock read may trail the epoch another
 * thread already stored: a coarse-clock tick, or a preemption between the
 * read and the CAS. Only that much is "behind"; any other difference of the
 * 32-bit epochs is fills, so a bucket idle for 2^31..2^32 intervals is full
 * again rather than frozen until the epoch comes round. */
#define BEHIND_MAX 64u

/* The word after the fills between its epoch and now's (an epoch a little
 * behind the word's counts as "no fill"). */
static uint64_t refilled(uint64_t word, const xg_tb_params *p, uint32_t now_epoch)
{
    uint32_t epoch = (uint32_t)(word >> 32), tokens = (uint32_t)word;
    uint32_t fills = now_epoch - epoch; /* mod 2^32 */
    if (fills == 0 || fills >= 0u - BEHIND_MAX)
        return word;
    /* < 2^64: (2^32-1) * (2^32-1) + 2^32-1 */
    uint64_t t = (uint64_t)tokens + (uint64_t)fills * p->tokens_per_fill;
    return pack(now_epoch, t > p->max_tokens ? p->max_tokens : (uint32_t)t);
}

static uint32_t reset_seconds(const xg_tb_params *p, uint64_t since_start)
{
    /* Envoy: fill_interval minus the whole seconds since the last fill, truncated to seconds. */
    uint64_t in_interval = since_start % p->fill_interval_ns;
    uint64_t whole = in_interval / 1000000000u * 1000000000u;
    return (uint32_t)((p->fill_interval_ns - whole) / 1000000000u);
}

bool xg_tb_take(xg_tb_state *st, const xg_tb_params *p, uint64_t now_ns, xg_tb_view *view)
{
    uint64_t since = elapsed(st, now_ns);
    uint32_t now_epoch = (uint32_t)(since / p->fill_interval_ns);
    uint64_t cur = atomic_load_explicit(&st->word, memory_order_relaxed), next;
    bool ok;
    do {
        next = refilled(cur, p, now_epoch);
        ok = (uint32_t)next > 0;
        if (!ok)
            break;
        next--;
    } while (!atomic_compare_exchange_weak_explicit(&st->word, &cur, next, memory_order_relaxed, memory_order_relaxed));
    if (view != NULL) {
        view->remaining = (uint32_t)next;
        view->reset_s = reset_seconds(p, since);
    }
    return ok;
}

uint32_t xg_tb_tokens(const xg_tb_state *st, const xg_tb_params *p, uint64_t now_ns)
{
    uint32_t now_epoch = (uint32_t)(elapsed(st, now_ns) / p->fill_interval_ns);
    return (uint32_t)refilled(atomic_load_explicit(&st->word, memory_order_relaxed), p, now_epoch);
}

/* --- the registry --- */

/* A shared bucket on cache lines of its own: workers hammering one limit
 * never share a line with another limit. */
struct xg_tbucket {
    _Alignas(64) xg_tb_state st;
    xg_tb_params p;
    xg_named head; /* the key */
};

static xg_named_reg reg = XG_NAMED_REG_INIT;

static xg_named *make(const char *key, uint64_t hash, const void *arg)
{
    size_t size = (sizeof(xg_tbucket) + 63) / 64 * 64;
    xg_tbucket *b = aligned_alloc(64, size);
    if (b == NULL)
        return NULL;
    memset(b, 0, sizeof *b);
    if (xg_named_init(&b->head, key, hash) != 0) {
        free(b);
        return NULL;
    }
    b->p = *(const xg_tb_params *)arg;
    xg_tb_init(&b->st, &b->p, xg_tb_now_ns());
    return &b->head;
}

xg_tbucket *xg_tbucket_get(const char *key, const xg_tb_params *p)
{
    xg_named *n = xg_named_get(&reg, key, make, p);
    return n != NULL ? (xg_tbucket *)((char *)n - offsetof(xg_tbucket, head)) : NULL;
}

void xg_tbucket_unref(xg_tbucket *b)
{
    if (b == NULL || !xg_named_unref(&reg, &b->head))
        return;
    xg_named_dispose(&b->head);
    free(b);
}

bool xg_tbucket_alive(uint64_t hash)
{
    return xg_named_held(&reg, hash);
}

uint64_t xg_tbucket_hash(const char *key)
{
    return xg_named_hash(key);
}

xg_tb_state *xg_tbucket_state(xg_tbucket *b)
{
    return &b->st;
}

const xg_tb_params *xg_tbucket_params(const xg_tbucket *b)
{
    return &b->p;
}

uint32_t xg_tbucket_live(void)
{
    return xg_named_live(&reg);
}
