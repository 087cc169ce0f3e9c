/* RING_HASH ("ketama"), built as Envoy builds it so that a key lands on the
 * same host as in Envoy: each host's key ("ip:port", "[v6]:port") gets
 * entries "key_0", "key_1", ... hashed with xxHash64 (seed 0); the ring is
 * scaled so that the lightest host gets a whole number of entries and at
 * least minimum_ring_size entries exist in all, capped at maximum_ring_size;
 * heavier hosts get proportionally more (running sums keep the rounding
 * stable). A request's hash goes to the first entry at or after it, wrapping
 * around: O(log ring) per pick. Removing one of N hosts moves its keys and
 * about as many again (the remaining hosts get more entries on the rescaled
 * ring), as in Envoy.
 *
 * Memory: 12 bytes per entry, one ring for all workers (cluster/lb_table.h),
 * plus a host pointer per host per worker; the defaults give about 1024
 * entries, very uneven weights up to maximum_ring_size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cluster/lb.h"
#include "cluster/lb_table.h"
#include "core/error.h"

typedef struct ring {
    xg_lb base;
    xg_rng *rng;
    xg_lb_table *t;  /* shared: sorted hashes and host indexes */
    xg_host **hosts; /* this worker's hosts, in input order */
} ring;

/* The first entry whose hash is >= h, wrapping to 0 past the end. */
static size_t lower_bound(const xg_lb_table *t, uint64_t h)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->hash[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == t->n ? 0 : lo;
}

static xg_host *ring_pick(xg_lb *lb, const xg_lb_ctx *ctx)
{
    ring *b = (ring *)lb;
    uint64_t h = ctx != NULL && ctx->has_hash ? ctx->hash : xg_rng_next(b->rng);
    size_t i = lower_bound(b->t, h);
    if (ctx != NULL && ctx->attempt > 0)
        i = (i + ctx->attempt) % b->t->n; /* a re-pick: as if that host were not on the ring */
    return b->hosts[b->t->idx[i]];
}

static void ring_destroy(xg_lb *lb)
{
    ring *b = (ring *)lb;
    xg_lb_table_put(b->t);
    free(b->hosts);
    free(b);
}

/* Envoy's scale: the lightest host gets a whole number of entries and the
 * ring at least min entries, but never more than max. */
static double ring_scale(const xg_lb_config *cfg, const xg_lb_hosts *in, double sum)
{
    double min_w = 1.0;
    for (size_t i = 0; i < in->n; i++)
        min_w = fmin(min_w, xg_lb_weight(in, i) / sum);
    return fmin(ceil(min_w * (double)cfg->ring_min) / min_w, (double)cfg->ring_max);
}

/* An entry while the ring is built: sorted by hash, then split in two arrays. */
typedef struct ring_entry {
    uint64_t hash;
    uint32_t idx;
} ring_entry;

static int cmp_entry(const void *a, const void *b)
{
    uint64_t x = ((const ring_entry *)a)->hash, y = ((const ring_entry *)b)->hash;
    return x < y ? -1 : x > y;
}

/* Adds host idx's entries until the running count reaches target. */
static void add_host(ring_entry *e, size_t *n, size_t cap, const xg_host *h, uint32_t idx, double target,
                     double *current)
{
    char key[XG_HOST_ADDR_STR + 24];
    for (uint64_t i = 0; *current < target && *n < cap; i++, *current += 1.0) {
        int len = snprintf(key, sizeof key, "%s_%llu", h->addr_str, (unsigned long long)i);
        e[(*n)++] = (ring_entry){XXH64(key, (size_t)len, 0), idx};
    }
}

static int ring_build(xg_lb_table *t, const xg_lb_config *cfg, const xg_lb_hosts *in)
{
    double sum = 0, current = 0, target = 0;
    for (size_t i = 0; i < in->n; i++)
        sum += xg_lb_weight(in, i);
    double scale = ring_scale(cfg, in, sum);
    /* Rounding may add one entry past ceil(scale); each host adds at most one more. */
    size_t cap = (size_t)ceil(scale) + in->n + 1, n = 0;
    ring_entry *e = malloc(cap * sizeof *e);
    if (e == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < in->n; i++) {
        target += scale * xg_lb_weight(in, i) / sum;
        add_host(e, &n, cap, in->hosts[i], (uint32_t)i, target, &current);
    }
    qsort(e, n, sizeof *e, cmp_entry);
    t->hash = malloc(n * sizeof *t->hash);
    t->idx = malloc(n * sizeof *t->idx);
    if (t->hash != NULL && t->idx != NULL) {
        for (size_t i = 0; i < n; i++) {
            t->hash[i] = e[i].hash;
            t->idx[i] = e[i].idx;
        }
        t->n = n;
    }
    free(e);
    return t->n == n && n > 0 ? 0 : XG_ENOMEM;
}

static int ring_init(xg_lb **out, const xg_lb_config *cfg, const xg_lb_hosts *in, xg_lb *prev, xg_rng *rng)
{
    ring *b = calloc(1, sizeof *b);
    if (b == NULL)
        return XG_ENOMEM;
    b->base.vt = &xg_lb_ring_hash;
    b->rng = rng;
    b->hosts = malloc(in->n * sizeof *b->hosts);
    if (b->hosts == NULL || (b->t = xg_lb_table_get("ring_hash", cfg, in, ring_build)) == NULL) {
        ring_destroy(&b->base);
        return XG_ENOMEM;
    }
    memcpy(b->hosts, in->hosts, in->n * sizeof *b->hosts);
    *out = &b->base;
    return 0;
}

const xg_lb_vt xg_lb_ring_hash = {
    .name = "ring_hash",
    .init = ring_init,
    .pick = ring_pick,
    .destroy = ring_destroy,
};
