/* A chained hash table of window counters; see rls_counters.h. Ended windows
 * are swept at most once a second, so a stub under steady traffic keeps only
 * the live windows. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "rls_counters.h"

struct xg_stub_rls_counter {
    xg_stub_rls_counter *next;
    uint64_t hash;
    uint64_t window_end;
    uint64_t count;
    size_t len;
    unsigned char key[];
};

void xg_stub_rls_counters_init(xg_stub_rls_counters *c)
{
    memset(c, 0, sizeof(*c));
}

void xg_stub_rls_counters_dispose(xg_stub_rls_counters *c)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (xg_stub_rls_counter *e = c->buckets[i], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}

static void sweep(xg_stub_rls_counters *c, uint64_t now)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        xg_stub_rls_counter **pp = &c->buckets[i];
        while (*pp != NULL) {
            xg_stub_rls_counter *e = *pp;
            if (e->window_end <= now) {
                *pp = e->next;
                free(e);
                c->n--;
            } else {
                pp = &e->next;
            }
        }
    }
    c->next_sweep = now + 1;
}

/* Doubles the table when it averages more than one counter per bucket. A
 * failed allocation keeps the old table: only lookups get slower. */
static void grow(xg_stub_rls_counters *c)
{
    size_t nb = c->nbuckets ? c->nbuckets * 2 : 64;
    xg_stub_rls_counter **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (xg_stub_rls_counter *e = c->buckets[i], *next; e != NULL; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = nb;
}

int xg_stub_rls_counters_add(xg_stub_rls_counters *c, const void *key, size_t len, uint64_t window_end, uint64_t hits,
                             uint64_t now, uint64_t *total)
{
    if (now >= c->next_sweep)
        sweep(c, now);
    if (c->n >= c->nbuckets)
        grow(c);
    if (c->nbuckets == 0)
        return XG_ENOMEM;
    uint64_t h = XXH64(key, len, window_end);
    xg_stub_rls_counter **head = &c->buckets[h & (c->nbuckets - 1)];
    for (xg_stub_rls_counter *e = *head; e != NULL; e = e->next) {
        if (e->hash == h && e->window_end == window_end && e->len == len && memcmp(e->key, key, len) == 0) {
            e->count = e->count + hits < e->count ? UINT64_MAX : e->count + hits;
            *total = e->count;
            return 0;
        }
    }
    xg_stub_rls_counter *e = malloc(sizeof(*e) + len);
    if (e == NULL)
        return XG_ENOMEM;
    *e = (xg_stub_rls_counter){.next = *head, .hash = h, .window_end = window_end, .count = hits, .len = len};
    memcpy(e->key, key, len);
    *head = e;
    c->n++;
    *total = hits;
    return 0;
}
