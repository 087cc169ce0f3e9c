/* The registry of named, reference-counted objects (named_reg.h). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/named_reg.h"

uint64_t xg_named_hash(const char *name)
{
    return XXH3_64bits(name, strlen(name));
}

int xg_named_init(xg_named *n, const char *name, uint64_t hash)
{
    *n = (xg_named){.name = strdup(name), .hash = hash};
    return n->name != NULL ? 0 : XG_ENOMEM;
}

void xg_named_dispose(xg_named *n)
{
    free(n->name);
    n->name = NULL;
}

xg_named *xg_named_get(xg_named_reg *r, const char *name, xg_named_make_fn make, const void *arg)
{
    uint64_t hash = xg_named_hash(name);
    pthread_mutex_lock(&r->mu);
    xg_named **head = &r->slots[hash % XG_NAMED_SLOTS], *n = *head;
    while (n != NULL && (n->hash != hash || strcmp(n->name, name) != 0))
        n = n->next;
    if (n == NULL && (n = make(name, hash, arg)) != NULL) {
        n->next = *head;
        *head = n;
        r->live++;
    }
    if (n != NULL)
        n->refs++;
    pthread_mutex_unlock(&r->mu);
    return n;
}

bool xg_named_unref(xg_named_reg *r, xg_named *n)
{
    pthread_mutex_lock(&r->mu);
    XG_ASSERT(n->refs > 0);
    bool last = --n->refs == 0;
    if (last) {
        xg_named **pp = &r->slots[n->hash % XG_NAMED_SLOTS];
        while (*pp != n)
            pp = &(*pp)->next;
        *pp = n->next;
        r->live--;
    }
    pthread_mutex_unlock(&r->mu);
    return last;
}

bool xg_named_held(xg_named_reg *r, uint64_t hash)
{
    pthread_mutex_lock(&r->mu);
    const xg_named *n = r->slots[hash % XG_NAMED_SLOTS];
    while (n != NULL && n->hash != hash)
        n = n->next;
    pthread_mutex_unlock(&r->mu);
    return n != NULL;
}

uint32_t xg_named_live(xg_named_reg *r)
{
    pthread_mutex_lock(&r->mu);
    uint32_t n = r->live;
    pthread_mutex_unlock(&r->mu);
    return n;
}
