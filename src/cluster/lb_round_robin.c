/* ROUND_ROBIN: plain rotation when every host has the same weight (O(1) per
 * pick), earliest-deadline-first scheduling when weights differ (Envoy's
 * choice: O(log n) per pick, each host picked in proportion to its weight,
 * interleaved rather than in bursts). Each worker starts at a random point so
 * that N workers do not all send their first request to the same host. A
 * rebuild keeps the rotation going: the cursor, or each remaining host's
 * distance to its next deadline. */
#include <stdlib.h>

#include "cluster/lb.h"
#include "core/error.h"

typedef struct rr_entry {
    double deadline;
    double step;  /* 1 / weight */
    uint64_t seq; /* tie-break: insertion order, so equal deadlines alternate fairly */
    xg_host *host;
} rr_entry;

typedef struct rr {
    xg_lb base;
    xg_rng *rng;
    size_t n;
    bool weighted;
    size_t cursor; /* unweighted */
    double now;    /* weighted: the deadline of the last pick */
    uint64_t seq;
    xg_host **hosts; /* unweighted */
    rr_entry *heap;  /* weighted: a binary min-heap on (deadline, seq) */
} rr;

static bool before(const rr_entry *a, const rr_entry *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void sift_down(rr *b, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < b->n && before(&b->heap[l], &b->heap[m]))
            m = l;
        if (l + 1 < b->n && before(&b->heap[l + 1], &b->heap[m]))
            m = l + 1;
        if (m == i)
            return;
        rr_entry t = b->heap[i];
        b->heap[i] = b->heap[m];
        b->heap[m] = t;
        i = m;
    }
}

static xg_host *rr_pick(xg_lb *lb, const xg_lb_ctx *ctx)
{
    rr *b = (rr *)lb;
    if (!b->weighted) {
        xg_host *h = b->hosts[b->cursor];
        b->cursor = b->cursor + 1 == b->n ? 0 : b->cursor + 1;
        return h;
    }
    rr_entry *top = &b->heap[0];
    b->now = top->deadline;
    top->deadline += top->step;
    top->seq = b->seq++;
    xg_host *h = top->host;
    sift_down(b, 0);
    return h;
}

static void rr_destroy(xg_lb *lb)
{
    rr *b = (rr *)lb;
    free(b->hosts);
    free(b->heap);
    free(b);
}

static bool all_equal(xg_host *const *hosts, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (hosts[i]->weight != hosts[0]->weight)
            return false;
    return true;
}

/* Marks every host of prev with its remaining distance to its deadline. */
static void carry_out(const rr *prev, uint64_t mark)
{
    for (size_t i = 0; i < prev->n; i++) {
        prev->heap[i].host->lb_mark = mark;
        prev->heap[i].host->lb_carry = prev->heap[i].deadline - prev->now;
    }
}

static void clear_marks(const rr *prev)
{
    for (size_t i = 0; i < prev->n; i++)
        prev->heap[i].host->lb_mark = 0;
}

static int init_weighted(rr *b, xg_host *const *hosts, const rr *prev)
{
    b->heap = calloc(b->n, sizeof *b->heap);
    if (b->heap == NULL)
        return XG_ENOMEM;
    uint64_t mark = (uintptr_t)b;
    if (prev != NULL && prev->weighted)
        carry_out(prev, mark);
    for (size_t i = 0; i < b->n; i++) {
        rr_entry *e = &b->heap[i];
        e->host = hosts[i];
        e->step = 1.0 / hosts[i]->weight;
        e->deadline = hosts[i]->lb_mark == mark ? hosts[i]->lb_carry : e->step;
        e->seq = b->seq++;
    }
    if (prev != NULL && prev->weighted)
        clear_marks(prev);
    for (size_t i = b->n / 2; i-- > 0;)
        sift_down(b, i);
    /* A fresh balancer skips a random number of picks: workers start apart. */
    if (prev == NULL)
        for (uint64_t k = xg_rng_below(b->rng, b->n); k > 0; k--)
            rr_pick(&b->base, NULL);
    return 0;
}

static int init_plain(rr *b, xg_host *const *hosts, const rr *prev)
{
    b->hosts = malloc(b->n * sizeof *b->hosts);
    if (b->hosts == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        b->hosts[i] = hosts[i];
    b->cursor = (prev != NULL && !prev->weighted) ? prev->cursor % b->n : xg_rng_below(b->rng, b->n);
    return 0;
}

static int rr_init(xg_lb **out, const xg_lb_config *cfg, xg_host *const *hosts, size_t n, xg_lb *prev_lb, xg_rng *rng)
{
    const rr *prev = (prev_lb != NULL && prev_lb->vt == &xg_lb_round_robin) ? (const rr *)prev_lb : NULL;
    rr *b = calloc(1, sizeof *b);
    if (b == NULL)
        return XG_ENOMEM;
    b->base.vt = &xg_lb_round_robin;
    b->rng = rng;
    b->n = n;
    b->weighted = !all_equal(hosts, n);
    int rc = b->weighted ? init_weighted(b, hosts, prev) : init_plain(b, hosts, prev);
    if (rc != 0)
        goto fail;
    *out = &b->base;
    return 0;
fail:
    rr_destroy(&b->base);
    return rc;
}

const xg_lb_vt xg_lb_round_robin = {
    .name = "round_robin",
    .init = rr_init,
    .pick = rr_pick,
    .destroy = rr_destroy,
};
