/* A bump allocator: many small allocations, one free. Used for everything
 * whose lifetime is a unit: a translated xDS resource, a snapshot, a stream.
 * Not thread-safe: one thread allocates; any thread may dispose afterwards. */
#ifndef XG_CORE_ARENA_H
#define XG_CORE_ARENA_H

#include <stddef.h>

typedef struct xg_arena_chunk xg_arena_chunk;
typedef struct xg_arena_cleanup xg_arena_cleanup;

typedef struct xg_arena {
    xg_arena_chunk *head;       /* newest chunk first */
    xg_arena_cleanup *cleanups; /* xg_arena_defer hooks, newest first */
    size_t chunk_size;          /* default size of a new chunk */
    size_t used;                /* bytes handed out, for stats */
} xg_arena;

/* chunk_size 0 means 4 KiB. No allocation until the first alloc. */
void xg_arena_init(xg_arena *a, size_t chunk_size);
/* Runs the deferred hooks (newest first), then frees every chunk; the arena
 * is empty and reusable afterwards. */
void xg_arena_dispose(xg_arena *a);
/* Like dispose, but keeps one chunk of the default size for reuse (objects
 * recycled from a free list, such as streams, then allocate nothing). */
void xg_arena_reset(xg_arena *a);
/* n bytes aligned to 16, zeroed; NULL on allocation failure. Valid until dispose. */
void *xg_arena_alloc(xg_arena *a, size_t n);
/* n elements of size each, zeroed; NULL on overflow or allocation failure. */
void *xg_arena_calloc(xg_arena *a, size_t n, size_t size);
/* n bytes, unaligned and not zeroed (from the newest chunk's free end, where
 * strings go): for bytes the caller writes at once, such as a header's name
 * and value. NULL on allocation failure. */
char *xg_arena_bytes(xg_arena *a, size_t n);
/* Copies of s (NUL-terminated) / of n bytes of s plus a NUL; NULL on failure. */
char *xg_arena_strdup(xg_arena *a, const char *s);
char *xg_arena_strndup(xg_arena *a, const char *s, size_t n);
void *xg_arena_memdup(xg_arena *a, const void *p, size_t n);

/* Makes the newest chunk hold at least n more bytes, with a new chunk of
 * max(n, chunk_size) when it does not: for a unit whose size is known
 * roughly in advance (a resource like the previous version of itself), so it
 * fits one right-sized chunk instead of many default ones, or a 4 KiB chunk
 * mostly empty. 0 or XG_ENOMEM. */
int xg_arena_reserve(xg_arena *a, size_t n);

/* Registers fn(arg) to run when the arena is disposed, before its memory is
 * freed: for objects the arena's memory points to but does not own, such as
 * compiled regexes or TLS contexts. 0 or XG_ENOMEM (then fn is not called). */
int xg_arena_defer(xg_arena *a, void (*fn)(void *), void *arg);

#endif
