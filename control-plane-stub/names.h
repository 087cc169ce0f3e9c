/* A sorted set of resource names, each with an optional value (a resource
 * version in delta streams). Streams keep one per type for what a client
 * subscribed to and what it already holds. Owns copies of every string. */
#ifndef XG_STUB_NAMES_H
#define XG_STUB_NAMES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct xg_stub_name {
    char *name;
    char *val; /* NULL when the set carries no values */
} xg_stub_name;

typedef struct xg_stub_names {
    xg_stub_name *v; /* sorted by name, unique */
    size_t n;
    size_t cap;
} xg_stub_names;

void xg_stub_names_init(xg_stub_names *s);
void xg_stub_names_dispose(xg_stub_names *s);
/* Inserts name, or replaces its value. val may be NULL. 0 or XG_ENOMEM. */
int xg_stub_names_set(xg_stub_names *s, const char *name, const char *val);
/* true if name was present. */
bool xg_stub_names_remove(xg_stub_names *s, const char *name);
/* Borrowed until the set changes; NULL when absent. */
const xg_stub_name *xg_stub_names_find(const xg_stub_names *s, const char *name);
/* Same names (values ignored). */
bool xg_stub_names_equal(const xg_stub_names *a, const xg_stub_names *b);
/* Replaces the content with names (duplicates collapse); values NULL. */
int xg_stub_names_assign(xg_stub_names *s, char *const *names, size_t n);

#endif
