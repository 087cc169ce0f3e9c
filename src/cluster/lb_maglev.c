/* MAGLEV (Eisenbud et al., NSDI 2016, section 3.4), built as Envoy builds
 * it so that a key lands on the same host as in Envoy: hosts sorted by their
 * key ("ip:port", "[v6]:port"); each host's permutation of the table_size
 * slots starts at xxHash64(key, seed 0) % size and steps by
 * xxHash64(key, seed 1) % (size - 1) + 1; hosts take turns claiming their next
 * free slot, a host of weight w taking a turn every max_weight / w rounds,
 * until the table is full. A request's hash picks slot hash % size: O(1).
 * Removing one of N hosts moves about 1/N of the keys. table_size is prime
 * (the translator checks). Memory: 4 bytes per slot (256 KiB at the default
 * 65537), one table for all workers (cluster/lb_table.h), plus a host
 * pointer per host per worker. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cluster/lb.h"
#include "cluster/lb_table.h"
#include "core/error.h"

typedef struct maglev {
    xg_lb base;
    xg_rng *rng;
    xg_lb_table *t;  /* shared: one host index per slot */
    xg_host **hosts; /* this worker's hosts, in input order */
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
    return b->hosts[b->t->idx[h % b->t->n]];
}

static void maglev_destroy(xg_lb *lb)
{
    maglev *b = (maglev *)lb;
    xg_lb_table_put(b->t);
    free(b->hosts);
    free(b);
}

/* A host, its weight and its input index, sorted by key for the build. */
typedef struct host_w {
    const xg_host *host;
    double weight;
    uint32_t idx;
} host_w;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const host_w *)a)->host->addr_str, ((const host_w *)b)->host->addr_str);
}

/* Claims the host's next free slot in its permutation. */
static void claim(xg_lb_table *t, build_entry *e, uint8_t *taken)
{
    uint64_t c = (e->offset + e->skip * e->next) % t->n;
    while (taken[c]) {
        e->next++;
        c = (e->offset + e->skip * e->next) % t->n;
    }
    taken[c] = 1;
    t->idx[c] = e->idx;
    e->next++;
}

/* Hosts take turns until every slot is claimed; the heaviest host takes a
 * turn every round, one of a third of its weight every third round. */
static void fill(xg_lb_table *t, build_entry *be, size_t n, double max_w, uint8_t *taken)
{
    uint64_t filled = 0;
    for (uint64_t round = 1; filled < t->n; round++) {
        for (size_t i = 0; i < n && filled < t->n; i++) {
            if ((double)round * be[i].weight < be[i].target)
                continue;
            be[i].target += max_w;
            claim(t, &be[i], taken);
            filled++;
        }
    }
}

static int fill_table(xg_lb_table *t, const host_w *hw, size_t n)
{
    build_entry *be = calloc(n, sizeof *be);
    uint8_t *taken = calloc(t->n, 1);
    int rc = be == NULL || taken == NULL ? XG_ENOMEM : 0;
    double max_w = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *key = hw[i].host->addr_str;
        size_t len = strlen(key);
        be[i] = (build_entry){.offset = XXH64(key, len, 0) % t->n,
                              .skip = XXH64(key, len, 1) % (t->n - 1) + 1,
                              .weight = hw[i].weight,
                              .idx = hw[i].idx};
        max_w = hw[i].weight > max_w ? hw[i].weight : max_w;
    }
    if (rc == 0)
        fill(t, be, n, max_w, taken);
    free(taken);
    free(be);
    return rc;
}

static int maglev_build(xg_lb_table *t, const xg_lb_config *cfg, const xg_lb_hosts *in)
{
    t->n = cfg->maglev_table_size >= 2 ? cfg->maglev_table_size : 65537;
    host_w *hw = calloc(in->n, sizeof *hw);
    if (hw == NULL || (t->idx = malloc(t->n * sizeof *t->idx)) == NULL) {
        free(hw);
        return XG_ENOMEM;
    }
    for (size_t i = 0; i < in->n; i++)
        hw[i] = (host_w){in->hosts[i], xg_lb_weight(in, i), (uint32_t)i};
    qsort(hw, in->n, sizeof *hw, cmp_key);
    int rc = fill_table(t, hw, in->n);
    free(hw);
    return rc;
}

static int maglev_init(xg_lb **out, const xg_lb_config *cfg, const xg_lb_hosts *in, xg_lb *prev, xg_rng *rng)
{
    maglev *b = calloc(1, sizeof *b);
    if (b == NULL)
        return XG_ENOMEM;
    b->base.vt = &xg_lb_maglev;
    b->rng = rng;
    b->hosts = malloc(in->n * sizeof *b->hosts);
    if (b->hosts == NULL || (b->t = xg_lb_table_get("maglev", cfg, in, maglev_build)) == NULL) {
        maglev_destroy(&b->base);
        return XG_ENOMEM;
    }
    memcpy(b->hosts, in->hosts, in->n * sizeof *b->hosts);
    *out = &b->base;
    return 0;
}

const xg_lb_vt xg_lb_maglev = {
    .name = "maglev",
    .init = maglev_init,
    .pick = maglev_pick,
    .destroy = maglev_destroy,
};
