/* Per-thread free lists of fixed-size I/O blocks (core/bufpool.h). The only
 * mutable state is per thread; a pthread key frees a thread's spares when it
 * exits, so worker threads leave nothing behind. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/assert.h"
#include "core/bufpool.h"

/* In front of every block: its holders and size class. 16 bytes keep the
 * block itself 16-byte aligned. */
typedef struct bhead {
    uint32_t refs;
    uint32_t cls;
    uint64_t pad;
} bhead;

static bhead *head_of(const void *block)
{
    return (bhead *)((char *)block - sizeof(bhead));
}

typedef struct spare {
    struct spare *next;
} spare;

/* One free list per block size. */
typedef struct sclass {
    spare *head;
    size_t *in_use, *spare, *allocs; /* into the pool's stats */
    size_t size, max_spare;
} sclass;

typedef struct pool {
    xg_bufpool_stats st;
    sclass cls[2]; /* small, big */
    bool registered;
    void *lendable; /* xg_bufpool_lend_open's block, NULL when none */
} pool;

static __thread pool tpool;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void free_spares(pool *p)
{
    for (int i = 0; i < 2; i++) {
        sclass *k = &p->cls[i];
        while (k->head != NULL) {
            spare *s = k->head;
            k->head = s->next;
            free(head_of(s));
        }
        if (k->spare != NULL)
            *k->spare = 0;
    }
}

static void on_thread_exit(void *arg)
{
    free_spares(arg);
}

static void make_key(void)
{
    (void)pthread_key_create(&exit_key, on_thread_exit);
}

/* First use on a thread: wire the classes to the counters, and arrange for
 * its spares to be freed at exit. */
static void register_thread(pool *p)
{
    p->registered = true;
    p->cls[0] = (sclass){.in_use = &p->st.in_use, .spare = &p->st.spare, .allocs = &p->st.allocs,
                         .size = XG_BUFPOOL_BLOCK, .max_spare = XG_BUFPOOL_MAX_SPARE};
    p->cls[1] = (sclass){.in_use = &p->st.big_in_use, .spare = &p->st.big_spare, .allocs = &p->st.big_allocs,
                         .size = XG_BUFPOOL_BIG, .max_spare = XG_BUFPOOL_MAX_SPARE_BIG};
    pthread_once(&exit_once, make_key);
    (void)pthread_setspecific(exit_key, p);
}

static void *get(int i)
{
    pool *p = &tpool;
    if (!p->registered)
        register_thread(p);
    sclass *k = &p->cls[i];
    spare *s = k->head;
    if (s != NULL) {
        k->head = s->next;
        (*k->spare)--;
        (*k->in_use)++;
        head_of(s)->refs = 1;
        return s;
    }
    bhead *h = aligned_alloc(16, sizeof(bhead) + k->size);
    if (h == NULL)
        return NULL;
    *h = (bhead){.refs = 1, .cls = (uint32_t)i};
    (*k->allocs)++;
    (*k->in_use)++;
    return h + 1;
}

static void put(int i, void *block)
{
    if (block == NULL)
        return;
    bhead *h = head_of(block);
    XG_ASSERT(h->refs > 0 && h->cls == (uint32_t)i);
    if (--h->refs > 0)
        return; /* another holder still reads it */
    pool *p = &tpool;
    if (!p->registered)
        register_thread(p);
    if (p->lendable == block)
        p->lendable = NULL;
    sclass *k = &p->cls[i];
    /* A block put back on another thread than the one that handed it out
     * would wrap in_use; count it as zero rather than huge. */
    if (*k->in_use > 0)
        (*k->in_use)--;
    if (*k->spare >= k->max_spare) {
        free(h);
        return;
    }
    spare *s = block;
    s->next = k->head;
    k->head = s;
    (*k->spare)++;
}

void *xg_bufpool_get(void)
{
    return get(0);
}

void xg_bufpool_put(void *block)
{
    put(0, block);
}

void *xg_bufpool_get_big(void)
{
    return get(1);
}

void xg_bufpool_put_big(void *block)
{
    put(1, block);
}

void xg_bufpool_ref(void *block)
{
    head_of(block)->refs++;
}

void xg_bufpool_unref(void *block)
{
    if (block != NULL)
        put((int)head_of(block)->cls, block);
}

bool xg_bufpool_shared(const void *block)
{
    return head_of(block)->refs > 1;
}

void xg_bufpool_lend_open(void *block)
{
    tpool.lendable = block;
}

void xg_bufpool_lend_close(void)
{
    tpool.lendable = NULL;
}

/* Bytes of the lendable block at p: 0 when p is not inside it. */
static size_t lendable_left(const void *p)
{
    char *b = tpool.lendable;
    if (b == NULL || (uintptr_t)p < (uintptr_t)b)
        return 0;
    size_t size = head_of(b)->cls == 1 ? XG_BUFPOOL_BIG : XG_BUFPOOL_BLOCK;
    size_t off = (size_t)((uintptr_t)p - (uintptr_t)b);
    return off < size ? size - off : 0;
}

void *xg_bufpool_try_lend(const void *p, size_t n)
{
    char *b = tpool.lendable;
    size_t size = b == NULL ? 0 : head_of(b)->cls == 1 ? XG_BUFPOOL_BIG : XG_BUFPOOL_BLOCK;
    if (n > lendable_left(p) || n < size / 2 || n == 0)
        return NULL;
    head_of(b)->refs++;
    return b;
}

bool xg_bufpool_in_lendable(const void *p)
{
    return lendable_left(p) > 0;
}

xg_bufpool_stats xg_bufpool_thread_stats(void)
{
    return tpool.st;
}

void xg_bufpool_trim(void)
{
    free_spares(&tpool);
}
