/* Bump allocator over a list of malloc'd chunks. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"

#define ARENA_ALIGN 16

/* Aligned objects are bumped up from the front, strings (which need no
 * alignment) down from the back: a route table's many short names then cost
 * their length plus the NUL, not 16 bytes each. */
struct xg_arena_chunk {
    xg_arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t off;  /* first free byte from the front */
    size_t end;  /* one past the last free byte: strings live in [end, size) */
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

/* Lives in the arena's own memory: hooks run before the chunks are freed. */
struct xg_arena_cleanup {
    xg_arena_cleanup *next;
    void (*fn)(void *);
    void *arg;
};

void xg_arena_init(xg_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->cleanups = NULL;
    a->chunk_size = chunk_size ? chunk_size : 4096;
    a->used = 0;
}

void xg_arena_dispose(xg_arena *a)
{
    for (xg_arena_cleanup *c = a->cleanups; c != NULL; c = c->next)
        c->fn(c->arg);
    a->cleanups = NULL;
    while (a->head != NULL) {
        xg_arena_chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
    a->used = 0;
}

void xg_arena_reset(xg_arena *a)
{
    for (xg_arena_cleanup *c = a->cleanups; c != NULL; c = c->next)
        c->fn(c->arg);
    a->cleanups = NULL;
    xg_arena_chunk *keep = NULL;
    while (a->head != NULL) {
        xg_arena_chunk *c = a->head;
        a->head = c->next;
        if (keep == NULL && c->size == a->chunk_size)
            keep = c;
        else
            free(c);
    }
    if (keep != NULL) {
        keep->off = 0;
        keep->end = keep->size;
        keep->next = NULL;
    }
    a->head = keep;
    a->used = 0;
}

static size_t chunk_free(const xg_arena_chunk *c)
{
    return c->end - c->off;
}

/* A chunk of max(need, the default size) bytes, rounded up to the
 * alignment so the front stays aligned whatever the strings took. exact
 * (xg_arena_reserve): need bytes, smaller than the default if so asked,
 * and it becomes the newest chunk even when bigger. */
static xg_arena_chunk *chunk_new(xg_arena *a, size_t need, bool exact)
{
    size_t size = (exact || need > a->chunk_size) ? need : a->chunk_size;
    if (size > SIZE_MAX - sizeof(xg_arena_chunk) - ARENA_ALIGN)
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    xg_arena_chunk *c = malloc(sizeof(*c) + size);
    if (c == NULL)
        return NULL;
    c->size = size;
    c->off = 0;
    c->end = size;
    /* A big one-off allocation goes behind the head so the head keeps its free space. */
    if (!exact && need > a->chunk_size && a->head != NULL) {
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    return c;
}

void *xg_arena_alloc(xg_arena *a, size_t n)
{
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    xg_arena_chunk *c = a->head;
    if (c == NULL || chunk_free(c) < need)
        c = chunk_new(a, need, false);
    if (c == NULL)
        return NULL;
    void *p = c->data + c->off;
    c->off += need;
    a->used += need;
    memset(p, 0, n);
    return p;
}

void *xg_arena_calloc(xg_arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    return xg_arena_alloc(a, n * size);
}

char *xg_arena_bytes(xg_arena *a, size_t n)
{
    if (n >= SIZE_MAX - ARENA_ALIGN)
        return NULL;
    xg_arena_chunk *c = a->head;
    if (c == NULL || chunk_free(c) < n)
        c = chunk_new(a, n, false);
    if (c == NULL)
        return NULL;
    c->end -= n;
    a->used += n;
    return (char *)c->data + c->end;
}

char *xg_arena_strndup(xg_arena *a, const char *s, size_t n)
{
    char *p = n < SIZE_MAX ? xg_arena_bytes(a, n + 1) : NULL;
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xg_arena_strdup(xg_arena *a, const char *s)
{
    return xg_arena_strndup(a, s, strlen(s));
}

void *xg_arena_memdup(xg_arena *a, const void *p, size_t n)
{
    void *q = xg_arena_alloc(a, n);
    if (q != NULL && n > 0)
        memcpy(q, p, n);
    return q;
}

int xg_arena_reserve(xg_arena *a, size_t n)
{
    if (a->head != NULL && chunk_free(a->head) >= n)
        return 0;
    return chunk_new(a, n, true) ? 0 : XG_ENOMEM;
}

int xg_arena_defer(xg_arena *a, void (*fn)(void *), void *arg)
{
    xg_arena_cleanup *c = xg_arena_alloc(a, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}
