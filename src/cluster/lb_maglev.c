/* MAGLEV (Eisenbud et al., NSDI 2016, section 3.4), built as Envoy builds
 * it so that a key lands on the same host as in Envoy: hosts sorted by their
 * key ("ip:port", "[v6]:port"); each host's permutation of the table_size
 * slots starts at xxHash64(key, seed 0) % size and steps by
 * xxHash64(key, seed 1) % (size - 1) + 1; hosts take turns claiming their next
 * free slot, a host of weight w taking a turn every max_weight / w rounds,
 * until the table is full. A request's hash picks slot hash % size: O(1).
 * Removing one of N hosts moves about 1/N of the keys. table_size is prime (the translator checks). Memory: 4 bytes
 * per slot per balancer per worker (256 KiB at the default 65537). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cluster/lb.h"
#include "core/error.h"

typedef struct maglev {
    xg_lb base;
    xg_rng *rng;
    uint64_t size;
    xg_host **hosts; /* sorted by key */
    uint32_t *slot;  /* size entries: an index into hosts */
} maglev;

/* One host's permutation state while the table fills. */
typedef struct build_entry {
    uint64_t offset, skip, next;
    double weight, target;
    uint32_t idx;
} build_entry;

static xg_host *maglev_pick(xg_lb *lb, const xg_lb_ctx *ctx)
{
    maglev *b = (maglev *)lb;
    uint64_t h = ctx != NULL && ctx->has_hash ? ctx->hash : xg_rng_next(b->rng);
    if (ctx != NULL && ctx->attempt > 0)
        h ^= ~0ULL - ctx->attempt + 1; /* a re-pick: a far-away slot (Envoy's mutation) */
    return b->hosts[b->slot[h % b->size]];
}

static void maglev_destroy(xg_lb *lb)
{
    maglev *b = (maglev *)lb;
    free(b->hosts);
    free(b->slot);
    free(b);
}

/* A host and its weight, sorted by key for the build. */
typedef struct host_w {
    xg_host *host;
    double weight;
} host_w;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const host_w *)a)->host->addr_str, ((const host_w *)b)->host->addr_str);
}

/* Claims the host's next free slot in its permutation. */
static void claim(maglev *b, build_entry *e, uint8_t *taken)
{
    uint64_t c = (e->offset + e->skip * e->next) % b->size;
    while (taken[c]) {
        e->next++;
        c = (e->offset + e->skip * e->next) % b->size;
    }
    taken[c] = 1;
    b->slot[c] = e->idx;
    e->next++;
}

/* Hosts take turns until every slot is claimed; the heaviest host takes a
 * turn every round, one of a third of its weight every third round. */
static void fill(maglev *b, build_entry *be, size_t n, double max_w, uint8_t *taken)
{
    uint64_t filled = 0;
    for (uint64_t round = 1; filled < b->size; round++) {
        for (size_t i = 0; i < n && filled < b->size; i++) {
            if ((double)round * be[i].weight < be[i].target)
                continue;
            be[i].target += max_w;
            claim(b, &be[i], taken);
            filled++;
        }
    }
}

static int build(maglev *b, const host_w *hw, size_t n)
{
    build_entry *be = calloc(n, sizeof *be);
    uint8_t *taken = calloc(b->size, 1);
    int rc = be == NULL || taken == NULL ? XG_ENOMEM : 0;
    double max_w = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *key = hw[i].host->addr_str;
        size_t len = strlen(key);
        be[i] = (build_entry){.offset = XXH64(key, len, 0) % b->size,
                              .skip = XXH64(key, len, 1) % (b->size - 1) + 1,
                              .weight = hw[i].weight,
                              .idx = (uint32_t)i};
        max_w = hw[i].weight > max_w ? hw[i].weight : max_w;
    }
    if (rc == 0)
        fill(b, be, n, max_w, taken);
    free(taken);
    free(be);
    return rc;
}

static int maglev_init(xg_lb **out, const xg_lb_config *cfg, const xg_lb_hosts *in, xg_lb *prev, xg_rng *rng)
{
    maglev *b = calloc(1, sizeof *b);
    host_w *hw = calloc(in->n, sizeof *hw);
    int rc = XG_ENOMEM;
    if (b == NULL || hw == NULL)
        goto fail;
    b->base.vt = &xg_lb_maglev;
    b->rng = rng;
    b->size = cfg->maglev_table_size >= 2 ? cfg->maglev_table_size : 65537;
    b->hosts = malloc(in->n * sizeof *b->hosts);
    b->slot = malloc(b->size * sizeof *b->slot);
    if (b->hosts == NULL || b->slot == NULL)
        goto fail;
    for (size_t i = 0; i < in->n; i++)
        hw[i] = (host_w){in->hosts[i], xg_lb_weight(in, i)};
    qsort(hw, in->n, sizeof *hw, cmp_key);
    for (size_t i = 0; i < in->n; i++)
        b->hosts[i] = hw[i].host;
    if ((rc = build(b, hw, in->n)) != 0)
        goto fail;
    free(hw);
    *out = &b->base;
    return 0;
fail:
    free(hw);
    if (b != NULL)
        maglev_destroy(&b->base);
    return rc;
}

const xg_lb_vt xg_lb_maglev = {
    .name = "maglev",
    .init = maglev_init,
    .pick = maglev_pick,
    .destroy = maglev_destroy,
};
