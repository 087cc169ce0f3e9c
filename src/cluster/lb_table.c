/* Shared consistent-hashing tables (lb_table.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/lb_table.h"

static xg_named_reg reg = XG_NAMED_REG_INIT;

typedef struct make_arg {
    const xg_lb_config *cfg;
    const xg_lb_hosts *in;
    xg_lb_table_build_fn build;
} make_arg;

static void table_free(xg_lb_table *t)
{
    xg_named_dispose(&t->named);
    free(t->hash);
    free(t->idx);
    free(t);
}

static xg_named *make(const char *name, uint64_t hash, const void *arg)
{
    const make_arg *a = arg;
    xg_lb_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    if (xg_named_init(&t->named, name, hash) != 0 || a->build(t, a->cfg, a->in) != 0) {
        table_free(t);
        return NULL;
    }
    return &t->named;
}

/* "policy min max size|addr*weight|addr*weight..."; weights printed exactly
 * (%a), since a ring's shape follows every bit of them. NULL on ENOMEM. */
static char *table_key(const char *policy, const xg_lb_config *cfg, const xg_lb_hosts *in)
{
    size_t cap = 96 + in->n * (XG_HOST_ADDR_STR + 32), len;
    char *key = malloc(cap);
    if (key == NULL)
        return NULL;
    len = (size_t)snprintf(key, cap, "%s %llu %llu %llu", policy, (unsigned long long)cfg->ring_min,
                           (unsigned long long)cfg->ring_max, (unsigned long long)cfg->maglev_table_size);
    for (size_t i = 0; i < in->n && len < cap; i++)
        len += (size_t)snprintf(key + len, cap - len, "|%s*%a", in->hosts[i]->addr_str, xg_lb_weight(in, i));
    return key;
}

xg_lb_table *xg_lb_table_get(const char *policy, const xg_lb_config *cfg, const xg_lb_hosts *in,
                             xg_lb_table_build_fn build)
{
    char *key = table_key(policy, cfg, in);
    if (key == NULL)
        return NULL;
    make_arg a = {cfg, in, build};
    xg_named *n = xg_named_get(&reg, key, make, &a);
    free(key);
    return n != NULL ? (xg_lb_table *)((char *)n - offsetof(xg_lb_table, named)) : NULL;
}

void xg_lb_table_put(xg_lb_table *t)
{
    if (t != NULL && xg_named_unref(&reg, &t->named))
        table_free(t);
}

uint32_t xg_lb_table_live(void)
{
    return xg_named_live(&reg);
}
