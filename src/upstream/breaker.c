/* Circuit breaker counts shared by the workers (breaker.h): a registry of
 * breakers by cluster name (core/named_reg.h: a mutex taken only when a
 * worker binds a cluster or lets it go), and lock-free counters per priority. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/named_reg.h"
#include "upstream/breaker.h"

/* One priority's counters on a cache line of their own: workers hammering
 * one cluster's DEFAULT counts never share a line with another cluster or
 * with the HIGH counts. */
typedef struct breaker_prio {
    _Alignas(64) _Atomic uint32_t n[XG_BR_N];
} breaker_prio;

struct xg_breaker {
    breaker_prio prio[XG_N_PRIORITIES];
    xg_named head; /* the cluster name */
};

static xg_named_reg reg = XG_NAMED_REG_INIT;

static xg_named *make(const char *name, uint64_t hash, const void *arg)
{
    (void)arg;
    xg_breaker *b = aligned_alloc(64, sizeof *b);
    if (b == NULL)
        return NULL;
    memset(b, 0, sizeof *b);
    if (xg_named_init(&b->head, name, hash) != 0) {
        free(b);
        return NULL;
    }
    return &b->head;
}

xg_breaker *xg_breaker_get(const char *name)
{
    xg_named *n = xg_named_get(&reg, name, make, NULL);
    return n != NULL ? (xg_breaker *)((char *)n - offsetof(xg_breaker, head)) : NULL;
}

void xg_breaker_unref(xg_breaker *b)
{
    if (b == NULL || !xg_named_unref(&reg, &b->head))
        return;
    for (int p = 0; p < XG_N_PRIORITIES; p++)
        for (int r = 0; r < XG_BR_N; r++)
            XG_ASSERT(atomic_load(&b->prio[p].n[r]) == 0);
    xg_named_dispose(&b->head);
    free(b);
}

static _Atomic uint32_t *counter(const xg_breaker *b, int prio, xg_breaker_res res)
{
    XG_ASSERT(prio >= 0 && prio < XG_N_PRIORITIES && res < XG_BR_N);
    return (_Atomic uint32_t *)&b->prio[prio].n[res];
}

bool xg_breaker_try(xg_breaker *b, int prio, xg_breaker_res res, uint32_t max)
{
    if (b == NULL)
        return true;
    _Atomic uint32_t *c = counter(b, prio, res);
    uint32_t cur = atomic_load_explicit(c, memory_order_relaxed);
    do {
        if (cur >= max)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(c, &cur, cur + 1, memory_order_relaxed, memory_order_relaxed));
    return true;
}

void xg_breaker_inc(xg_breaker *b, int prio, xg_breaker_res res)
{
    if (b != NULL)
        atomic_fetch_add_explicit(counter(b, prio, res), 1, memory_order_relaxed);
}

void xg_breaker_dec(xg_breaker *b, int prio, xg_breaker_res res)
{
    if (b == NULL)
        return;
    uint32_t was = atomic_fetch_sub_explicit(counter(b, prio, res), 1, memory_order_relaxed);
    XG_ASSERT(was > 0);
    (void)was;
}

uint32_t xg_breaker_count(const xg_breaker *b, int prio, xg_breaker_res res)
{
    return b != NULL ? atomic_load_explicit(counter(b, prio, res), memory_order_relaxed) : 0;
}

uint32_t xg_breaker_retry_max(const xg_breaker *b, int prio, const xg_cb_thresholds *t)
{
    if (!t->has_retry_budget)
        return t->max_retries;
    uint64_t active = (uint64_t)xg_breaker_count(b, prio, XG_BR_REQUESTS) + xg_breaker_count(b, prio, XG_BR_PENDING);
    double budget = t->retry_budget_percent / 100.0 * (double)active;
    uint32_t by_budget = budget >= UINT32_MAX ? UINT32_MAX : (uint32_t)budget;
    return by_budget > t->retry_budget_min_concurrency ? by_budget : t->retry_budget_min_concurrency;
}

bool xg_breaker_try_retry(xg_breaker *b, int prio, const xg_cb_thresholds *t)
{
    return xg_breaker_try(b, prio, XG_BR_RETRIES, xg_breaker_retry_max(b, prio, t));
}

uint32_t xg_breaker_live(void)
{
    return xg_named_live(&reg);
}
