/* Route index compile (xds thread) and lookup (workers): see
 * router/route_index.h. Build scratch space is heap memory freed before
 * returning; the index itself lives in the route configuration's arena. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "router/route_index.h"

/* --- build --- */

/* One indexable route: its literal and its position. */
typedef struct entry {
    const char *s;
    uint32_t len;
    uint32_t pos;
    bool exact;
} entry;

/* A distinct literal and its entries ents[lo, hi) (sorted by position). */
typedef struct dkey {
    const char *s;
    uint32_t len;
    uint32_t lo, hi;
} dkey;

typedef struct task {
    uint32_t slot, lo, hi, depth, level;
} task;

typedef struct builder {
    xg__rnode *nodes;
    uint32_t n_nodes;
    uint32_t *ids;
    uint32_t n_ids;
    const entry *ents;
    const dkey *keys;
    task *stack;
    uint32_t n_stack;
    uint32_t max_level;
} builder;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* How route i is indexed: its literal, which tree (0 case-sensitive, 1
 * case-insensitive, -1 none: always a candidate) and whether it is exact. */
typedef struct rkey {
    const char *s;
    uint32_t len;
    int tree;
    bool exact;
} rkey;

size_t xg__route_regex_literal(const char *pat, char *out)
{
    size_t n = 0;
    if (strchr(pat, '|') != NULL || strstr(pat, "(?") != NULL)
        return 0;
    const char *p = pat + (pat[0] == '^');
    while (*p != '\0') {
        char c = *p;
        const char *next = p + 1;
        if (c == '\\') {
            c = p[1];
            next = p + 2;
            if (c == '\0' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
                break;
        } else if (strchr(".[](){}*+?^$", c) != NULL) {
            break;
        }
        if ((unsigned char)c >= 0x80 || (*next != '\0' && strchr("*+?{", *next) != NULL))
            break;
        out[n++] = c;
        p = next;
    }
    return n;
}

/* Computes rkey for route m; regex literals are copied into a. */
static int route_key(const xg_route_match *m, xg_arena *a, rkey *out)
{
    *out = (rkey){NULL, 0, -1, false};
    if (m->kind == XG_PATH_PREFIX || m->kind == XG_PATH_EXACT || m->kind == XG_PATH_SEPARATED_PREFIX) {
        *out = (rkey){m->path.s, (uint32_t)m->path.len, m->case_sensitive ? 0 : 1, m->kind == XG_PATH_EXACT};
        return 0;
    }
    if (m->kind != XG_PATH_REGEX)
        return 0;
    const char *pat = xg_regex_pattern(m->regex);
    char *lit = xg_arena_alloc(a, strlen(pat) + 1);
    if (lit == NULL)
        return XG_ENOMEM;
    size_t n = xg__route_regex_literal(pat, lit);
    if (n > 0)
        *out = (rkey){lit, (uint32_t)n, 0, false};
    return 0;
}

/* The entries of one tree in literal order. */
static uint32_t collect(const rkey *keys, size_t n_routes, int tree, entry *out)
{
    uint32_t n = 0;
    for (size_t i = 0; i < n_routes; i++)
        if (keys[i].tree == tree)
            out[n++] = (entry){keys[i].s, keys[i].len, (uint32_t)i, keys[i].exact};
    qsort(out, n, sizeof(*out), cmp_entry);
    return n;
}

static uint32_t distinct(const entry *e, uint32_t n, dkey *out)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (k > 0 && out[k - 1].len == e[i].len && memcmp(out[k - 1].s, e[i].s, e[i].len) == 0) {
            out[k - 1].hi = i + 1;
            continue;
        }
        out[k++] = (dkey){e[i].s, e[i].len, i, i + 1};
    }
    return k;
}

/* Attaches key k's routes to node nd: prefix kinds first, then exact. */
static void attach(builder *b, xg__rnode *nd, const dkey *k)
{
    nd->prefix_off = b->n_ids;
    for (uint32_t i = k->lo; i < k->hi; i++)
        if (!b->ents[i].exact)
            b->ids[b->n_ids++] = b->ents[i].pos;
    nd->n_prefix = b->n_ids - nd->prefix_off;
    nd->exact_off = b->n_ids;
    for (uint32_t i = k->lo; i < k->hi; i++)
        if (b->ents[i].exact)
            b->ids[b->n_ids++] = b->ents[i].pos;
    nd->n_exact = b->n_ids - nd->exact_off;
}

/* Builds the node for keys[lo, hi), which share their first depth bytes,
 * and queues one task per child. */
static void build_node(builder *b, const task *t)
{
    const dkey *first = &b->keys[t->lo], *last = &b->keys[t->hi - 1];
    uint32_t lcp = t->depth, lo = t->lo;
    while (lcp < first->len && lcp < last->len && first->s[lcp] == last->s[lcp])
        lcp++;
    xg__rnode *nd = &b->nodes[t->slot];
    nd->label = first->s + t->depth;
    nd->label_len = lcp - t->depth;
    if (first->len == lcp)
        attach(b, nd, &b->keys[lo++]);
    if (t->level > b->max_level)
        b->max_level = t->level;
    nd->child = b->n_nodes;
    for (uint32_t i = lo; i < t->hi;) {
        uint32_t j = i + 1;
        while (j < t->hi && b->keys[j].s[lcp] == b->keys[i].s[lcp])
            j++;
        b->stack[b->n_stack++] = (task){b->n_nodes++, i, j, lcp, t->level + 1};
        nd->n_child++;
        i = j;
    }
}

/* One tree over keys[0, n); returns its root or XG__NO_NODE. */
static uint32_t build_tree(builder *b, const dkey *keys, uint32_t n)
{
    if (n == 0)
        return XG__NO_NODE;
    b->keys = keys;
    uint32_t root = b->n_nodes++;
    b->stack[b->n_stack++] = (task){root, 0, n, 0, 1};
    while (b->n_stack > 0) {
        task t = b->stack[--b->n_stack];
        build_node(b, &t);
    }
    return root;
}

static void *arena_copy(xg_arena *a, const void *p, size_t n, size_t size)
{
    return n == 0 ? NULL : xg_arena_memdup(a, p, n * size);
}

/* Both trees and the unindexed list of one virtual host. */
static int build_vhost(const xg_vhost *vh, xg_arena *a, xg__vh_index *out)
{
    size_t n = vh->n_routes;
    rkey *rk = malloc((n + 1) * sizeof(*rk));
    entry *ents = malloc((n + 1) * sizeof(*ents));
    dkey *keys = malloc((n + 1) * sizeof(*keys));
    builder b = {.nodes = calloc(2 * n + 2, sizeof(xg__rnode)),
                 .ids = malloc((n + 1) * sizeof(uint32_t)),
                 .stack = malloc((2 * n + 2) * sizeof(task))};
    uint32_t *other = malloc((n + 1) * sizeof(uint32_t)), n_other = 0, levels = 0;
    int rc = XG_ENOMEM;
    if (rk == NULL || ents == NULL || keys == NULL || b.nodes == NULL || b.ids == NULL || b.stack == NULL ||
        other == NULL)
        goto done;
    for (size_t i = 0; i < n; i++)
        if ((rc = route_key(&vh->routes[i].match, a, &rk[i])) != 0)
            goto done;
        else if (rk[i].tree < 0)
            other[n_other++] = (uint32_t)i;
    for (int t = 0; t < 2; t++) {
        uint32_t ne = collect(rk, n, t, ents);
        b.ents = ents;
        b.max_level = 0;
        out->root[t] = build_tree(&b, keys, distinct(ents, ne, keys));
        levels += b.max_level + 1;
    }
    out->max_sources = levels + 1;
    out->n_other = n_other;
    out->nodes = arena_copy(a, b.nodes, b.n_nodes, sizeof(*b.nodes));
    out->ids = arena_copy(a, b.ids, b.n_ids, sizeof(*b.ids));
    out->other = arena_copy(a, other, n_other, sizeof(*other));
    rc = ((b.n_nodes && !out->nodes) || (b.n_ids && !out->ids) || (n_other && !out->other)) ? XG_ENOMEM : 0;
done:
    free(rk);
    free(ents);
    free(keys);
    free(b.nodes);
    free(b.ids);
    free(b.stack);
    free(other);
    return rc;
}

int xg_route_index_build(xg_route_config *rc, xg_arena *a)
{
    rc->index = NULL;
    xg_route_index *ix = xg_arena_alloc(a, sizeof(*ix));
    xg__vh_index *vh = xg_arena_calloc(a, rc->n_vhosts + 1, sizeof(*vh));
    if (ix == NULL || vh == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < rc->n_vhosts; i++) {
        int err = build_vhost(&rc->vhosts[i], a, &vh[i]);
        if (err != 0)
            return err;
    }
    ix->vh = vh;
    ix->n_vh = rc->n_vhosts;
    rc->index = ix;
    return 0;
}

/* --- lookup --- */

/* One ascending list of candidate route positions. */
typedef struct src {
    const uint32_t *p, *end;
} src;

static inline unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static bool label_eq(const char *label, const char *s, uint32_t n, bool nocase)
{
    if (!nocase)
        return memcmp(label, s, n) == 0;
    for (uint32_t i = 0; i < n; i++)
        if ((unsigned char)label[i] != fold((unsigned char)s[i]))
            return false;
    return true;
}

static uint32_t find_child(const xg__vh_index *x, const xg__rnode *nd, unsigned char c)
{
    uint32_t lo = nd->child, hi = nd->child + nd->n_child;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        unsigned char m = (unsigned char)x->nodes[mid].label[0];
        if (m == c)
            return mid;
        if (m < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return XG__NO_NODE;
}

static void add_src(const xg__vh_index *x, src *s, uint32_t *n, uint32_t off, uint32_t len)
{
    if (len > 0)
        s[(*n)++] = (src){x->ids + off, x->ids + off + len};
}

/* Walks one tree along path, adding the route lists of every literal that
 * is a prefix of the path (and the exact list of the literal equal to it). */
static void walk(const xg__vh_index *x, int t, xg_hstr path, src *s, uint32_t *n)
{
    uint32_t ni = x->root[t], pos = 0;
    while (ni != XG__NO_NODE) {
        const xg__rnode *nd = &x->nodes[ni];
        if (nd->label_len > path.len - pos || !label_eq(nd->label, path.s + pos, nd->label_len, t == 1))
            return;
        pos += nd->label_len;
        add_src(x, s, n, nd->prefix_off, nd->n_prefix);
        if (pos == path.len) {
            add_src(x, s, n, nd->exact_off, nd->n_exact);
            return;
        }
        unsigned char c = (unsigned char)path.s[pos];
        ni = find_child(x, nd, t == 1 ? fold(c) : c);
    }
}

static void sift_down(src *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < n && *h[l].p < *h[m].p)
            m = l;
        if (l + 1 < n && *h[l + 1].p < *h[m].p)
            m = l + 1;
        if (m == i)
            return;
        src tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

/* Tries the candidates of the n lists in ascending position (a k-way merge
 * over a min-heap); no position is in two lists. */
static const xg_route *merge(const xg_route_config *rc, const xg_vhost *vh, xg_route_req *q, src *h, uint32_t n)
{
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(h, n, i);
    while (n > 0 && q->err == 0) {
        const xg_route *r = &vh->routes[*h[0].p];
        if (++h[0].p == h[0].end)
            h[0] = h[--n];
        sift_down(h, n, 0);
        if (xg_route_matches(rc, r, q))
            return r;
    }
    return NULL;
}

const xg_route *xg__route_index_find(const xg_route_config *rc, const xg_vhost *vh, xg_route_req *q)
{
    const xg_route_index *ix = rc->index;
    uintptr_t at = (uintptr_t)vh, base = (uintptr_t)rc->vhosts;
    if (at < base || at >= base + ix->n_vh * sizeof(*vh))
        return xg_route_find_linear(rc, vh, q);
    const xg__vh_index *x = &ix->vh[vh - rc->vhosts];
    src local[32], *s = local;
    if (x->max_sources > 32 && (s = xg_arena_calloc(q->arena, x->max_sources, sizeof(*s))) == NULL) {
        q->err = XG_ENOMEM;
        return NULL;
    }
    uint32_t n = 0;
    xg_hstr path = xg_route_req_path(rc, q);
    if (path.s != NULL) {
        walk(x, 0, path, s, &n);
        walk(x, 1, path, s, &n);
    }
    if (x->n_other > 0)
        s[n++] = (src){x->other, x->other + x->n_other};
    XG_ASSERT(n <= x->max_sources);
    return merge(rc, vh, q, s, n);
}
