/* A process-wide registry of named, reference-counted objects: one object per
 * name, made by the first holder and freed by the last. Circuit breakers
 * (upstream/breaker.c) and shared token buckets (ratelimit/token_bucket.c)
 * live in one each: runtime state that outlives snapshots. The object embeds
 * an xg_named; a mutex guards the table and the counts, taken only when a
 * holder binds or lets go, never on the request path. Thread-safe. */
#ifndef XG_CORE_NAMED_REG_H
#define XG_CORE_NAMED_REG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct xg_named {
    char *name;
    uint64_t hash;
    uint32_t refs; /* under the registry's mutex */
    struct xg_named *next;
} xg_named;

#define XG_NAMED_SLOTS 256

typedef struct xg_named_reg {
    pthread_mutex_t mu;
    xg_named *slots[XG_NAMED_SLOTS];
    uint32_t live;
} xg_named_reg;

#define XG_NAMED_REG_INIT                                                                                              \
    {                                                                                                                  \
        .mu = PTHREAD_MUTEX_INITIALIZER                                                                                \
    }

/* Makes the object for name (arg: the caller's), its xg_named filled by
 * xg_named_init; NULL on allocation failure. Called under the mutex. */
typedef xg_named *(*xg_named_make_fn)(const char *name, uint64_t hash, const void *arg);

uint64_t xg_named_hash(const char *name);
/* Copies name into n (zeroed otherwise). 0, or XG_ENOMEM. */
int xg_named_init(xg_named *n, const char *name, uint64_t hash);
/* Frees what xg_named_init took. */
void xg_named_dispose(xg_named *n);

/* The object called name, made by make(name, hash, arg) when nobody holds it;
 * one reference for the caller. NULL on ENOMEM. */
xg_named *xg_named_get(xg_named_reg *r, const char *name, xg_named_make_fn make, const void *arg);
/* Drops a reference; true when it was the last: n has left the registry and
 * the caller frees the object (and xg_named_dispose's n). */
bool xg_named_unref(xg_named_reg *r, xg_named *n);
/* True while an object whose name hashes to hash is held. */
bool xg_named_held(xg_named_reg *r, uint64_t hash);
/* Objects alive in r (tests: none may leak). */
uint32_t xg_named_live(xg_named_reg *r);

#endif
