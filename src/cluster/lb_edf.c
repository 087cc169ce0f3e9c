/* The EDF scheduler behind weighted round robin, weighted least request and
 * the locality pick (lb_edf.h). */
#include <stdbool.h>
#include <stdlib.h>

#include "cluster/lb_edf.h"
#include "core/error.h"

int xg_edf_init(xg_edf *e, uint32_t cap)
{
    *e = (xg_edf){0};
    e->heap = malloc((size_t)cap * sizeof *e->heap);
    if (e->heap == NULL)
        return XG_ENOMEM;
    e->cap = cap;
    return 0;
}

void xg_edf_dispose(xg_edf *e)
{
    free(e->heap);
    *e = (xg_edf){0};
}

void xg_edf_add(xg_edf *e, uint32_t idx, double delay)
{
    if (e->n < e->cap)
        e->heap[e->n++] = (xg_edf_entry){.deadline = e->now + delay, .seq = e->seq++, .idx = idx};
}

static bool before(const xg_edf_entry *a, const xg_edf_entry *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void sift_down(xg_edf *e, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < e->n && before(&e->heap[l], &e->heap[m]))
            m = l;
        if (l + 1 < e->n && before(&e->heap[l + 1], &e->heap[m]))
            m = l + 1;
        if (m == i)
            return;
        xg_edf_entry t = e->heap[i];
        e->heap[i] = e->heap[m];
        e->heap[m] = t;
        i = m;
    }
}

void xg_edf_heapify(xg_edf *e)
{
    for (uint32_t i = e->n / 2; i-- > 0;)
        sift_down(e, i);
}

uint32_t xg_edf_pick(xg_edf *e, double weight)
{
    xg_edf_entry *top = &e->heap[0];
    e->now = top->deadline;
    top->deadline += 1.0 / weight;
    top->seq = e->seq++;
    uint32_t idx = top->idx;
    sift_down(e, 0);
    return idx;
}

void xg_edf_skip(xg_edf *e, const double *w, uint64_t k)
{
    while (k-- > 0)
        xg_edf_pick(e, w[xg_edf_top(e)]);
}
