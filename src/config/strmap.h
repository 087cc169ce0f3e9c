/* An immutable string -> pointer hash map (open addressing) built once in an
 * arena at translate or snapshot-build time and read lock-free by any thread:
 * the exact-domain and exact-path indexes of route tables. */
#ifndef XG_CONFIG_STRMAP_H
#define XG_CONFIG_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

typedef struct xg_strmap_slot {
    const char *key; /* NULL: empty slot */
    size_t len;
    uint64_t hash;
    const void *value;
} xg_strmap_slot;

typedef struct xg_strmap {
    xg_strmap_slot *slots; /* power-of-two count, at most half full; NULL when empty */
    size_t mask;
    size_t n;
    bool nocase; /* ASCII case-insensitive keys (hostnames) */
} xg_strmap;

/* Builds m from n keys (not copied: they must outlive the map, e.g. live in
 * the same arena) and values. A duplicate key (as compared by the map) is
 * XG_EEXIST with *dup set to its index in keys; XG_ENOMEM on allocation failure. */
int xg_strmap_build(xg_strmap *m, xg_arena *a, const char *const *keys, const size_t *lens, const void *const *values,
                    size_t n, bool nocase, size_t *dup);
/* The value for key[0..len), or NULL. */
const void *xg_strmap_get(const xg_strmap *m, const char *key, size_t len);

#endif
