/* Shared connection counters (see conn_limit.h): a compare-and-swap loop
 * so that two workers accepting at once never both take the last slot. */
#include <stdlib.h>
#include <string.h>

#include "net/conn_limit.h"

xg_conn_limit *xg_conn_limit_new(const char *key)
{
    size_t n = strlen(key);
    xg_conn_limit *l = malloc(sizeof(*l) + n + 1);
    if (l == NULL)
        return NULL;
    atomic_init(&l->refs, 1);
    atomic_init(&l->active, 0);
    memcpy(l->key, key, n + 1);
    return l;
}

void xg_conn_limit_ref(xg_conn_limit *l)
{
    atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
}

void xg_conn_limit_unref(xg_conn_limit *l)
{
    if (l != NULL && atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) == 1)
        free(l);
}

bool xg_conn_limit_acquire(xg_conn_limit *l, uint64_t max)
{
    uint_fast64_t cur = atomic_load_explicit(&l->active, memory_order_relaxed);
    do {
        if (cur >= max)
            return false;
    } while (
        !atomic_compare_exchange_weak_explicit(&l->active, &cur, cur + 1, memory_order_relaxed, memory_order_relaxed));
    xg_conn_limit_ref(l);
    return true;
}

void xg_conn_limit_release(xg_conn_limit *l)
{
    atomic_fetch_sub_explicit(&l->active, 1, memory_order_relaxed);
    xg_conn_limit_unref(l);
}
