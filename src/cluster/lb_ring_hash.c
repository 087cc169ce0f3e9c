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
 * Memory: 16 bytes per entry per balancer per worker (Envoy shares one ring
 * between workers); the defaults give about 1024 entries, very uneven
 * weights up to maximum_ring_size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cluster/lb.h"
#include "core/error.h"

typedef struct ring_entry {
    uint64_t hash;
    xg_host *host;
} ring_entry;

typedef struct ring {
    xg_lb base;
    xg_rng *rng;
    size_t n;
    ring_entry *e;
} ring;

static int cmp_entry(const void *a, const void *b)
{
    uint64_t x = ((const ring_entry *)a)->hash, y = ((const ring_entry *)b)->hash;
    return x < y ? -1 : x > y;
}

/* The first entry whose hash is >= h, wrapping to 0 past the end. */
static size_t lower_bound(const ring *b, uint64_t h)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->e[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == b->n ? 0 : lo;
}

static xg_host *ring_pick(xg_lb *lb, const xg_lb_ctx *ctx)
{
    ring *b = (ring *)lb;
    uint64_t h = ctx != NULL && ctx->has_hash ? ctx->hash : xg_rng_next(b->rng);
    size_t i = lower_bound(b, h);
    if (ctx != NULL && ctx->attempt > 0)
        i = (i + ctx->attempt) % b->n; /* a re-pick: as if that host were not on the ring */
    return b->e[i].host;
}

static void ring_destroy(xg_lb *lb)
{
    ring *b = (ring *)lb;
    free(b->e);
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

/* Adds a host's entries until the running count reaches target. */
static size_t add_host(ring *b, size_t cap, xg_host *h, double target, double *current)
{
    char key[XG_HOST_ADDR_STR + 24];
    size_t n = 0;
    for (uint64_t i = 0; *current < target && b->n < cap; i++, n++, *current += 1.0) {
        int len = snprintf(key, sizeof key, "%s_%llu", h->addr_str, (unsigned long long)i);
        b->e[b->n++] = (ring_entry){XXH64(key, (size_t)len, 0), h};
    }
    return n;
}

static int ring_init(xg_lb **out, const xg_lb_config *cfg, const xg_lb_hosts *in, xg_lb *prev, xg_rng *rng)
{
    ring *b = calloc(1, sizeof *b);
    if (b == NULL)
        return XG_ENOMEM;
    b->base.vt = &xg_lb_ring_hash;
    b->rng = rng;
    double sum = 0, current = 0, target = 0;
    for (size_t i = 0; i < in->n; i++)
        sum += xg_lb_weight(in, i);
    double scale = ring_scale(cfg, in, sum);
    /* Rounding may add one entry past ceil(scale); each host adds at most one more. */
    size_t cap = (size_t)ceil(scale) + in->n + 1;
    if ((b->e = malloc(cap * sizeof *b->e)) == NULL) {
        free(b);
        return XG_ENOMEM;
    }
    for (size_t i = 0; i < in->n; i++) {
        target += scale * xg_lb_weight(in, i) / sum;
        add_host(b, cap, in->hosts[i], target, &current);
    }
    qsort(b->e, b->n, sizeof *b->e, cmp_entry);
    *out = &b->base;
    return 0;
}

const xg_lb_vt xg_lb_ring_hash = {
    .name = "ring_hash",
    .init = ring_init,
    .pick = ring_pick,
    .destroy = ring_destroy,
};
