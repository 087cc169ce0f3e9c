/* Screening and setting the rate limit service's headers (rls_headers.h). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ratelimit/rls_headers.h"

static bool forbidden(const char *lname, size_t nlen, bool for_request)
{
    switch (xg_hdr_id_of(lname, nlen)) {
    case XG_HDR_CONTENT_LENGTH:
    case XG_HDR_TRANSFER_ENCODING:
    case XG_HDR_CONNECTION:
    case XG_HDR_KEEP_ALIVE:
    case XG_HDR_PROXY_CONNECTION:
    case XG_HDR_TE:
    case XG_HDR_UPGRADE:
        return true;
    case XG_HDR_HOST:
        return for_request;
    default:
        return false;
    }
}

int xg_rls_headers_screen(xg_arena *a, xg_rls_header_value *const *in, size_t n, uint32_t max_count, uint32_t max_bytes,
                          bool for_request, xg_rls_hdr **out, uint32_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    if (n > max_count)
        return XG_ERANGE;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(in[i]->key) + strlen(in[i]->value);
    if (bytes > max_bytes)
        return XG_ERANGE;
    xg_rls_hdr *v = xg_arena_alloc(a, n * sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = in[i]->key, *value = in[i]->value;
        size_t nl = strlen(name), vl = strlen(value);
        if (nl == 0 || !xg_hdr_is_token(name, nl) || !xg_hdr_value_ok(value, vl))
            continue;
        char *ln = xg_arena_strndup(a, name, nl);
        char *cv = xg_arena_strndup(a, value, vl);
        if (ln == NULL || cv == NULL)
            return XG_ENOMEM;
        for (size_t j = 0; j < nl; j++)
            ln[j] = (char)(ln[j] >= 'A' && ln[j] <= 'Z' ? ln[j] + 32 : ln[j]);
        if (forbidden(ln, nl, for_request))
            continue;
        v[k++] = (xg_rls_hdr){.name = ln, .value = cv, .nlen = (uint32_t)nl, .vlen = (uint32_t)vl};
    }
    *out = v;
    *n_out = k;
    return 0;
}

/* --- set --- */

typedef struct item {
    const xg_rls_hdr *h;
    uint32_t idx;
    bool winner; /* the last entry with its name */
    bool placed; /* its value went into an existing header */
} item;

static int name_cmp(const char *a, uint32_t al, const char *b, uint32_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

static int by_name_then_index(const void *pa, const void *pb)
{
    const item *a = *(item *const *)pa, *b = *(item *const *)pb;
    int c = name_cmp(a->h->name, a->h->nlen, b->h->name, b->h->nlen);
    return c != 0 ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

/* The winner named name among w[0..n) (sorted by name), or NULL. */
static item *find(item **w, uint32_t n, const char *name, uint32_t nlen)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(w[mid]->h->name, w[mid]->h->nlen, name, nlen);
        if (c == 0)
            return w[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int xg_rls_headers_set(xg_headers *h, const xg_rls_hdr *v, uint32_t n)
{
    if (n == 0)
        return 0;
    item *items = xg_arena_alloc(h->arena, n * sizeof(*items));
    item **sorted = xg_arena_alloc(h->arena, n * sizeof(*sorted));
    if (items == NULL || sorted == NULL)
        return XG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        items[i] = (item){.h = &v[i], .idx = i};
        sorted[i] = &items[i];
    }
    qsort(sorted, n, sizeof(*sorted), by_name_then_index);
    /* Keep the last of each run of one name, in name order, in sorted[0..nw). */
    uint32_t nw = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool last = i + 1 == n || name_cmp(sorted[i]->h->name, sorted[i]->h->nlen, sorted[i + 1]->h->name,
                                           sorted[i + 1]->h->nlen) != 0;
        if (last) {
            sorted[i]->winner = true;
            sorted[nw++] = sorted[i];
        }
    }
    /* One pass over the request: the first header with a set name takes the
     * value, later ones go. */
    uint32_t w = 0;
    for (uint32_t r = 0; r < h->n; r++) {
        xg_header e = h->v[r];
        item *it = find(sorted, nw, e.name, e.name_len);
        if (it != NULL && it->placed) {
            h->bytes -= e.name_len + e.value_len;
            continue;
        }
        if (it != NULL) {
            h->bytes = h->bytes - e.value_len + it->h->vlen;
            e.value = it->h->value;
            e.value_len = it->h->vlen;
            it->placed = true;
        }
        h->v[w++] = e;
    }
    h->n = w;
    for (uint32_t i = 0; i < n; i++)
        if (items[i].winner && !items[i].placed &&
            xg_headers_add_ref(h, items[i].h->name, items[i].h->nlen, items[i].h->value, items[i].h->vlen) != 0)
            return XG_ENOMEM;
    return 0;
}
