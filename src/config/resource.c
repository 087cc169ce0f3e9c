/* Refcounted, arena-backed xDS resources. */
#include <stdlib.h>
#include <string.h>

#include "config/resource.h"
#include "core/assert.h"

xg_res *xg_res_new(xg_res_type type, const char *name)
{
    return xg_res_new_sized(type, name, 0);
}

xg_res *xg_res_new_sized(xg_res_type type, const char *name, size_t size_hint)
{
    xg_arena arena;
    xg_arena_init(&arena, 4096);
    if (size_hint > 0 && xg_arena_reserve(&arena, size_hint) != 0)
        return NULL;
    xg_res *r = xg_arena_alloc(&arena, sizeof(*r));
    char *copy = r ? xg_arena_strdup(&arena, name) : NULL;
    if (copy == NULL) {
        xg_arena_dispose(&arena);
        return NULL;
    }
    r->arena = arena; /* the struct lives in its own arena; dispose copies the head first */
    atomic_init(&r->refs, 1);
    r->type = type;
    r->name = copy;
    r->version = "";
    return r;
}

void xg_res_ref(xg_res *r)
{
    int old = atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    XG_ASSERT(old > 0);
}

void xg_res_unref(xg_res *r)
{
    if (r == NULL)
        return;
    int old = atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel);
    XG_ASSERT(old > 0);
    if (old == 1) {
        xg_arena arena = r->arena; /* r itself is inside the arena */
        xg_arena_dispose(&arena);
    }
}

const char *xg_res_type_name(xg_res_type t)
{
    static const char *const names[] = {"Listener", "RouteConfiguration", "Cluster", "ClusterLoadAssignment",
                                        "Secret"};
    return (t >= 0 && t < XG_RES_NTYPES) ? names[t] : "?";
}
