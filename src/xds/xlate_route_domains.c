/* The domain index of a route configuration: every domain at most once across
 * its virtual hosts (as Envoy), exact names in a hash map, suffix and prefix
 * wildcards grouped by length (longest first), and the "*" virtual host. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "xds/xlate_int.h"

typedef struct dom_entry {
    const char *key; /* the literal part */
    size_t len;
    const xg_vhost *vh;
} dom_entry;

static int cmp_len_desc(const void *a, const void *b)
{
    size_t la = ((const dom_entry *)a)->len, lb = ((const dom_entry *)b)->len;
    return la < lb ? 1 : la > lb ? -1 : 0;
}

static int build_map(xg_arena *a, xg_strmap *m, const dom_entry *e, size_t n)
{
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    const void **vals = calloc(n ? n : 1, sizeof(*vals));
    int rc = XG_ENOMEM;
    if (keys != NULL && lens != NULL && vals != NULL) {
        for (size_t i = 0; i < n; i++) {
            keys[i] = e[i].key;
            lens[i] = e[i].len;
            vals[i] = e[i].vh;
        }
        rc = xg_strmap_build(m, a, keys, lens, vals, n, true, NULL);
    }
    free(keys);
    free(lens);
    free(vals);
    return rc;
}

/* Groups entries (sorted by length, longest first) into one map per length. */
static int build_groups(xg_arena *a, dom_entry *e, size_t n, const xg_domain_group **out, size_t *n_out)
{
    size_t groups = 0;
    qsort(e, n, sizeof(*e), cmp_len_desc);
    for (size_t i = 0; i < n; i++)
        groups += (i == 0 || e[i].len != e[i - 1].len);
    xg_domain_group *g = groups ? xg_arena_calloc(a, groups, sizeof(*g)) : NULL;
    if (groups && g == NULL)
        return XG_ENOMEM;
    for (size_t i = 0, k = 0; i < n; k++) {
        size_t j = i;
        while (j < n && e[j].len == e[i].len)
            j++;
        g[k].len = e[i].len;
        int rc = build_map(a, &g[k].map, e + i, j - i);
        if (rc < 0)
            return rc;
        i = j;
    }
    *out = g;
    *n_out = groups;
    return 0;
}

/* The first duplicate domain, reported at its position. */
static int duplicate(xg_xlate *x, const xg_route_config *rc, size_t dup)
{
    size_t k = 0;
    for (size_t v = 0; v < rc->n_vhosts; v++) {
        for (size_t d = 0; d < rc->vhosts[v].n_domains; d++, k++) {
            if (k != dup)
                continue;
            const char *name = rc->vhosts[v].domains[d].s;
            const char *owner = "";
            for (size_t v2 = 0; v2 <= v && owner[0] == '\0'; v2++)
                for (size_t d2 = 0; d2 < rc->vhosts[v2].n_domains && (v2 < v || d2 < d); d2++)
                    if (strcmp(rc->vhosts[v2].domains[d2].s, name) == 0)
                        owner = rc->vhosts[v2].name;
            xg_xlate_push(x, "virtual_hosts");
            xg_xlate_push_index(x, v);
            xg_xlate_push(x, "domains");
            xg_xlate_push_index(x, d);
            return xg_xlate_fail(x,
                                 "domain \"%s\" is already used by virtual host \"%s\"; a domain may appear only "
                                 "once in a route configuration",
                                 name, owner);
        }
    }
    return XG_EINVAL;
}

/* Every domain once, across all virtual hosts (Envoy: "Only unique values for domains are permitted"). */
static int check_unique(xg_xlate *x, const xg_route_config *rc, size_t total)
{
    const char **keys = calloc(total ? total : 1, sizeof(*keys));
    size_t *lens = calloc(total ? total : 1, sizeof(*lens));
    xg_arena tmp;
    xg_arena_init(&tmp, 0);
    int rc_ = XG_ENOMEM;
    size_t k = 0, dup = 0;
    if (keys != NULL && lens != NULL) {
        for (size_t v = 0; v < rc->n_vhosts; v++)
            for (size_t d = 0; d < rc->vhosts[v].n_domains; d++, k++) {
                keys[k] = rc->vhosts[v].domains[d].s;
                lens[k] = rc->vhosts[v].domains[d].len;
            }
        xg_strmap m;
        rc_ = xg_strmap_build(&m, &tmp, keys, lens, (const void *const *)keys, total, false, &dup);
        if (rc_ == XG_EEXIST)
            rc_ = duplicate(x, rc, dup);
    }
    xg_arena_dispose(&tmp);
    free(keys);
    free(lens);
    return rc_;
}

static int classify(xg_route_config *rc, dom_entry *ex, size_t *n_ex, dom_entry *sfx, size_t *n_sfx, dom_entry *pfx,
                    size_t *n_pfx)
{
    for (size_t v = 0; v < rc->n_vhosts; v++) {
        const xg_vhost *vh = &rc->vhosts[v];
        for (size_t d = 0; d < vh->n_domains; d++) {
            const xg_lstr *s = &vh->domains[d];
            if (s->len == 1 && s->s[0] == '*')
                rc->domains.any = vh;
            else if (s->s[0] == '*')
                sfx[(*n_sfx)++] = (dom_entry){s->s + 1, s->len - 1, vh};
            else if (s->s[s->len - 1] == '*')
                pfx[(*n_pfx)++] = (dom_entry){s->s, s->len - 1, vh};
            else
                ex[(*n_ex)++] = (dom_entry){s->s, s->len, vh};
        }
    }
    return 0;
}

int xg__build_domain_index(xg_xlate *x, const Envoy__Config__Route__V3__RouteConfiguration *pb, xg_route_config *rc)
{
    (void)pb;
    size_t total = 0, n_ex = 0, n_sfx = 0, n_pfx = 0;
    for (size_t v = 0; v < rc->n_vhosts; v++)
        total += rc->vhosts[v].n_domains;
    int r = check_unique(x, rc, total);
    if (r < 0)
        return r;
    dom_entry *e = calloc(3 * (total ? total : 1), sizeof(*e));
    if (e == NULL)
        return XG_ENOMEM;
    dom_entry *ex = e, *sfx = e + total, *pfx = e + 2 * total;
    xg_arena *a = &x->res->arena;
    classify(rc, ex, &n_ex, sfx, &n_sfx, pfx, &n_pfx);
    r = build_map(a, &rc->domains.exact, ex, n_ex);
    if (r == 0)
        r = build_groups(a, sfx, n_sfx, &rc->domains.suffix, &rc->domains.n_suffix);
    if (r == 0)
        r = build_groups(a, pfx, n_pfx, &rc->domains.prefix, &rc->domains.n_prefix);
    free(e);
    return r;
}
