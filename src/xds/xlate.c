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
    x->deps = NULL;
    x->n_deps = x->cap_deps = 0;
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

int xg_xlate_dep(xg_xlate *x, xg_res_type type, const char *name)
{
    for (size_t i = 0; i < x->n_deps; i++)
        if (x->deps[i].type == type && strcmp(x->deps[i].name, name) == 0)
            return 0;
    if (x->n_deps == x->cap_deps) {
        size_t cap = x->cap_deps ? x->cap_deps * 2 : 8;
        xg_res_dep *d = realloc(x->deps, cap * sizeof(*d));
        if (d == NULL)
            return XG_ENOMEM;
        x->deps = d;
        x->cap_deps = cap;
    }
    char *copy = xg_xlate_strdup(x, name);
    if (copy == NULL)
        return XG_ENOMEM;
    x->deps[x->n_deps++] = (xg_res_dep){.type = type, .name = copy};
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
