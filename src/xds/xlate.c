/* The translation context shared by the per-type translators. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "xds/xlate.h"

void xg_xlate_init(xg_xlate *x, xg_res *res, char *err, size_t errlen)
{
    memset(x, 0, sizeof(*x));
    x->res = res;
    x->path.err = err;
    x->path.errlen = errlen;
    xg_buf_init(&x->path.path);
    if (errlen > 0)
        err[0] = '\0';
}

void xg_xlate_dispose(xg_xlate *x)
{
    xg_buf_dispose(&x->path.path);
    free(x->deps);
    free(x->dep_slots);
    x->deps = NULL;
    x->dep_slots = NULL;
    x->n_deps = x->cap_deps = x->n_slots = 0;
}

int xg_xlate_finish(xg_xlate *x)
{
    int rc = 0;
    if (x->n_deps > 0) {
        xg_res_dep *deps = xg_xlate_alloc(x, x->n_deps * sizeof(*deps));
        if (deps == NULL) {
            rc = XG_ENOMEM;
        } else {
            memcpy(deps, x->deps, x->n_deps * sizeof(*deps));
            x->res->deps = deps;
            x->res->n_deps = x->n_deps;
        }
    }
    xg_xlate_dispose(x);
    return rc;
}

static uint64_t dep_hash(xg_res_type type, const char *name)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)type; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* The slot holding (type, name), or the empty slot where it would go. */
static uint32_t *dep_slot(xg_xlate *x, xg_res_type type, const char *name)
{
    size_t mask = x->n_slots - 1;
    for (size_t i = dep_hash(type, name) & mask;; i = (i + 1) & mask) {
        uint32_t *slot = &x->dep_slots[i];
        if (*slot == 0)
            return slot;
        const xg_res_dep *d = &x->deps[*slot - 1];
        if (d->type == type && strcmp(d->name, name) == 0)
            return slot;
    }
}

static int grow_deps(xg_xlate *x)
{
    size_t cap = x->cap_deps ? x->cap_deps * 2 : 8;
    xg_res_dep *d = realloc(x->deps, cap * sizeof(*d));
    if (d == NULL)
        return XG_ENOMEM;
    x->deps = d;
    x->cap_deps = cap;
    uint32_t *slots = calloc(cap * 2, sizeof(*slots));
    if (slots == NULL)
        return XG_ENOMEM;
    free(x->dep_slots);
    x->dep_slots = slots;
    x->n_slots = cap * 2;
    for (size_t i = 0; i < x->n_deps; i++)
        *dep_slot(x, x->deps[i].type, x->deps[i].name) = (uint32_t)(i + 1);
    return 0;
}

int xg_xlate_dep(xg_xlate *x, xg_res_type type, const char *name)
{
    if (x->n_slots > 0 && *dep_slot(x, type, name) != 0)
        return 0;
    if (x->n_deps == x->cap_deps && grow_deps(x) != 0)
        return XG_ENOMEM;
    char *copy = xg_xlate_strdup(x, name);
    if (copy == NULL)
        return XG_ENOMEM;
    x->deps[x->n_deps++] = (xg_res_dep){.type = type, .name = copy};
    *dep_slot(x, type, copy) = (uint32_t)x->n_deps;
    return 0;
}

int xg_xlate_fail(xg_xlate *x, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return xg__pbpath_fail(&x->path, "%s", reason);
}

size_t xg_xlate_push(xg_xlate *x, const char *field)
{
    return xg__pbpath_field(&x->path, field);
}

size_t xg_xlate_push_index(xg_xlate *x, size_t i)
{
    return xg__pbpath_index(&x->path, i);
}

void xg_xlate_pop(xg_xlate *x, size_t mark)
{
    xg__pbpath_pop(&x->path, mark);
}

void *xg_xlate_alloc(xg_xlate *x, size_t n)
{
    return xg_arena_alloc(&x->res->arena, n);
}

char *xg_xlate_strdup(xg_xlate *x, const char *s)
{
    return xg_arena_strdup(&x->res->arena, s ? s : "");
}
