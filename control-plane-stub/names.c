/* Sorted name sets for stream subscriptions; see names.h. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "names.h"

void xg_stub_names_init(xg_stub_names *s)
{
    s->v = NULL;
    s->n = 0;
    s->cap = 0;
}

static void clear(xg_stub_names *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].val);
    }
    s->n = 0;
}

void xg_stub_names_dispose(xg_stub_names *s)
{
    clear(s);
    free(s->v);
    xg_stub_names_init(s);
}

/* Index of name, or of where it would go (*found says which). */
static size_t lower_bound(const xg_stub_names *s, const char *name, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->v[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n && strcmp(s->v[lo].name, name) == 0;
    return lo;
}

static int grow(xg_stub_names *s)
{
    if (s->n < s->cap)
        return 0;
    size_t cap = s->cap ? s->cap * 2 : 8;
    xg_stub_name *v = realloc(s->v, cap * sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    s->v = v;
    s->cap = cap;
    return 0;
}

static int replace_val(xg_stub_name *e, const char *val)
{
    char *copy = val ? strdup(val) : NULL;
    if (val != NULL && copy == NULL)
        return XG_ENOMEM;
    free(e->val);
    e->val = copy;
    return 0;
}

int xg_stub_names_set(xg_stub_names *s, const char *name, const char *val)
{
    bool found;
    size_t i = lower_bound(s, name, &found);
    if (found)
        return replace_val(&s->v[i], val);
    xg_stub_name e = {strdup(name), val ? strdup(val) : NULL};
    if (e.name == NULL || (val != NULL && e.val == NULL) || grow(s) != 0) {
        free(e.name);
        free(e.val);
        return XG_ENOMEM;
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->v[i] = e;
    s->n++;
    return 0;
}

bool xg_stub_names_remove(xg_stub_names *s, const char *name)
{
    bool found;
    size_t i = lower_bound(s, name, &found);
    if (!found)
        return false;
    free(s->v[i].name);
    free(s->v[i].val);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
    return true;
}

const xg_stub_name *xg_stub_names_find(const xg_stub_names *s, const char *name)
{
    bool found;
    size_t i = lower_bound(s, name, &found);
    return found ? &s->v[i] : NULL;
}

bool xg_stub_names_equal(const xg_stub_names *a, const xg_stub_names *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].name, b->v[i].name) != 0)
            return false;
    }
    return true;
}

int xg_stub_names_assign(xg_stub_names *s, char *const *names, size_t n)
{
    clear(s);
    for (size_t i = 0; i < n; i++) {
        int rc = xg_stub_names_set(s, names[i], NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}
