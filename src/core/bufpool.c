/* Per-thread free lists of fixed-size I/O blocks (core/bufpool.h). The only
 * mutable state is per thread; a pthread key frees a thread's spares when it
 * exits, so worker threads leave nothing behind. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/bufpool.h"

typedef struct spare {
    struct spare *next;
} spare;

typedef struct pool {
    spare *head;
    xg_bufpool_stats st;
    bool registered;
} pool;

static __thread pool tpool;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void free_spares(pool *p)
{
    while (p->head != NULL) {
        spare *s = p->head;
        p->head = s->next;
        free(s);
    }
    p->st.spare = 0;
}

static void on_thread_exit(void *arg)
{
    free_spares(arg);
}

static void make_key(void)
{
    (void)pthread_key_create(&exit_key, on_thread_exit);
}

/* First use on a thread: arrange for its spares to be freed at exit. */
static void register_thread(pool *p)
{
    p->registered = true;
    pthread_once(&exit_once, make_key);
    (void)pthread_setspecific(exit_key, p);
}

void *xg_bufpool_get(void)
{
    pool *p = &tpool;
    spare *s = p->head;
    if (s != NULL) {
        p->head = s->next;
        p->st.spare--;
        p->st.in_use++;
        return s;
    }
    if (!p->registered)
        register_thread(p);
    void *b = aligned_alloc(16, XG_BUFPOOL_BLOCK);
    if (b != NULL) {
        p->st.allocs++;
        p->st.in_use++;
    }
    return b;
}

void xg_bufpool_put(void *block)
{
    if (block == NULL)
        return;
    pool *p = &tpool;
    /* A block put back on another thread than the one that handed it out
     * would wrap in_use; count it as zero rather than huge. */
    if (p->st.in_use > 0)
        p->st.in_use--;
    if (p->st.spare >= XG_BUFPOOL_MAX_SPARE) {
        free(block);
        return;
    }
    if (!p->registered)
        register_thread(p);
    spare *s = block;
    s->next = p->head;
    p->head = s;
    p->st.spare++;
}

xg_bufpool_stats xg_bufpool_thread_stats(void)
{
    return tpool.st;
}

void xg_bufpool_trim(void)
{
    free_spares(&tpool);
}
