/* A chained hash map from borrowed C strings to pointers, for the xDS client
 * state (resources by name, names in one response, listener addresses). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "xds/xds_state_int.h"

static uint64_t key_hash(const char *key)
{
    return XXH3_64bits(key, strlen(key));
}

void xg__xds_map_init(xg__xds_map *m)
{
    memset(m, 0, sizeof(*m));
}

void xg__xds_map_dispose(xg__xds_map *m)
{
    for (size_t b = 0; b < m->nbuckets; b++) {
        xg__xds_map_node *n = m->buckets[b];
        while (n != NULL) {
            xg__xds_map_node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->buckets);
    xg__xds_map_init(m);
}

static xg__xds_map_node **find_slot(const xg__xds_map *m, const char *key, uint64_t h)
{
    xg__xds_map_node **p = &m->buckets[h & (m->nbuckets - 1)];
    while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
        p = &(*p)->next;
    return p;
}

void *xg__xds_map_get(const xg__xds_map *m, const char *key)
{
    if (m->n == 0)
        return NULL;
    xg__xds_map_node *n = *find_slot(m, key, key_hash(key));
    return n ? n->val : NULL;
}

/* Doubles the bucket array once the load reaches one node per bucket. */
static int grow(xg__xds_map *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
    xg__xds_map_node **buckets = calloc(nb, sizeof(*buckets));
    if (buckets == NULL)
        return XG_ENOMEM;
    for (size_t b = 0; b < m->nbuckets; b++) {
        xg__xds_map_node *n = m->buckets[b];
        while (n != NULL) {
            xg__xds_map_node *next = n->next;
            n->next = buckets[n->hash & (nb - 1)];
            buckets[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = buckets;
    m->nbuckets = nb;
    return 0;
}

int xg__xds_map_put(xg__xds_map *m, const char *key, void *val)
{
    if (m->n >= m->nbuckets && grow(m) != 0)
        return XG_ENOMEM;
    uint64_t h = key_hash(key);
    xg__xds_map_node **p = find_slot(m, key, h);
    if (*p != NULL) {
        (*p)->key = key;
        (*p)->val = val;
        return 0;
    }
    xg__xds_map_node *n = malloc(sizeof(*n));
    if (n == NULL)
        return XG_ENOMEM;
    *n = (xg__xds_map_node){.next = NULL, .hash = h, .key = key, .val = val};
    *p = n;
    m->n++;
    return 0;
}

void *xg__xds_map_del(xg__xds_map *m, const char *key)
{
    if (m->n == 0)
        return NULL;
    xg__xds_map_node **p = find_slot(m, key, key_hash(key));
    xg__xds_map_node *n = *p;
    if (n == NULL)
        return NULL;
    void *val = n->val;
    *p = n->next;
    free(n);
    m->n--;
    return val;
}

void *xg__xds_map_get_hash(const xg__xds_map *m, uint64_t h)
{
    if (m->n == 0)
        return NULL;
    for (const xg__xds_map_node *n = m->buckets[h & (m->nbuckets - 1)]; n != NULL; n = n->next)
        if (n->hash == h)
            return n->val;
    return NULL;
}

int xg__xds_map_put_hash(xg__xds_map *m, uint64_t h, void *val)
{
    if (m->n >= m->nbuckets && grow(m) != 0)
        return XG_ENOMEM;
    xg__xds_map_node *n = malloc(sizeof(*n));
    if (n == NULL)
        return XG_ENOMEM;
    xg__xds_map_node **b = &m->buckets[h & (m->nbuckets - 1)];
    *n = (xg__xds_map_node){.next = *b, .hash = h, .key = NULL, .val = val};
    *b = n;
    m->n++;
    return 0;
}

void xg__xds_map_del_hash(xg__xds_map *m, uint64_t h, const void *val)
{
    if (m->n == 0)
        return;
    for (xg__xds_map_node **p = &m->buckets[h & (m->nbuckets - 1)]; *p != NULL; p = &(*p)->next) {
        if ((*p)->hash == h && (*p)->val == val) {
            xg__xds_map_node *n = *p;
            *p = n->next;
            free(n);
            m->n--;
            return;
        }
    }
}

int xg__xds_map_values(const xg__xds_map *m, void ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (m->n == 0)
        return 0;
    void **vals = malloc(m->n * sizeof(*vals));
    if (vals == NULL)
        return XG_ENOMEM;
    size_t k = 0;
    for (size_t b = 0; b < m->nbuckets; b++)
        for (xg__xds_map_node *node = m->buckets[b]; node != NULL; node = node->next)
            vals[k++] = node->val;
    *out = vals;
    *n = k;
    return 0;
}
