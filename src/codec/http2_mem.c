/* nghttp2's memory for one session (nghttp2_mem): nghttp2 1.52 allocates a
 * 16 KiB frame buffer and a 4 KiB stream-map table up front and keeps both
 * for the life of the session, though an idle connection needs neither's
 * contents: the frame buffer is scratch between packing a frame and handing
 * it out, and the map's table is all zeros while no stream is open. Those
 * blocks (XG__H2_MEM_BIG bytes up to SLOT_MAX_PAGES pages, while a slot is
 * free to track them) live in whole pages of their own, so that trim can give
 * them back with MADV_DONTNEED; the next frame or stream faults them back
 * in, zeroed. Everything else goes to malloc as before. One per session;
 * only the worker thread that owns the connection calls it. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "codec/http2_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define USE_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USE_MALLOC 1
#endif
#endif

/* Page slots come from per-thread mappings, not from malloc: an aligned
 * malloc leaves a partly used page on each side of the block (1.4 kB per
 * idle connection measured), and malloc would write its headers into them. */
#define SLOT_MAX_PAGES 8
#ifndef USE_MALLOC
#define SLAB_BYTES (1u << 20)
/* Free slots of one size kept resident for the next connection; more are
 * given back as they are freed. */
#define WARM_SLOTS 16

typedef struct slab {
    char *cur; /* the unused rest of the current mapping */
    size_t left;
    void **spare[SLOT_MAX_PAGES + 1]; /* free slots by page count */
    size_t n_spare[SLOT_MAX_PAGES + 1], cap_spare[SLOT_MAX_PAGES + 1];
} slab;

/* This thread's slots. The mappings live as long as the process: workers do. */
static __thread slab S;
#endif

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t n, size_t page)
{
    return (n + page - 1) / page * page;
}

static int slot_of(const xg__h2_mem *m, const void *p)
{
    for (int i = 0; i < XG__H2_MEM_SLOTS; i++)
        if (m->big[i].p == p)
            return i;
    return -1;
}

#ifdef USE_MALLOC
/* Under ASan, malloc's own pages: use after free and overflows are caught. */
static void *slot_get(size_t pages, size_t page)
{
    void *p = NULL;
    return posix_memalign(&p, page, pages * page) == 0 ? p : NULL;
}

static void slot_put(void *p, size_t pages, size_t page)
{
    free(p);
}
#else
static void *slot_get(size_t pages, size_t page)
{
    if (S.n_spare[pages] > 0)
        return S.spare[pages][--S.n_spare[pages]];
    if (S.left < pages * page) {
        void *m = mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        S.cur = m; /* the old rest (under SLOT_MAX_PAGES pages) is never touched: no memory */
        S.left = SLAB_BYTES;
    }
    void *p = S.cur;
    S.cur += pages * page;
    S.left -= pages * page;
    return p;
}

/* A slot that cannot be listed (no memory for the list) is lost, not reused. */
static void slot_put(void *p, size_t pages, size_t page)
{
    if (S.n_spare[pages] >= WARM_SLOTS)
        (void)madvise(p, pages * page, MADV_DONTNEED); /* only memory: the slot is reusable either way */
    if (S.n_spare[pages] == S.cap_spare[pages]) {
        size_t cap = S.cap_spare[pages] ? 2 * S.cap_spare[pages] : 64;
        void **v = realloc(S.spare[pages], cap * sizeof *v);
        if (v == NULL)
            return;
        S.spare[pages] = v;
        S.cap_spare[pages] = cap;
    }
    S.spare[pages][S.n_spare[pages]++] = p;
}
#endif

/* A tracked block in pages of its own for a big request; plain malloc
 * otherwise (small, huge, or every slot taken: untracked blocks are only
 * never trimmed). */
static void *alloc(xg__h2_mem *m, size_t n)
{
    size_t page = page_size(), pages = (n + page - 1) / page;
    int i = n >= XG__H2_MEM_BIG && pages <= SLOT_MAX_PAGES ? slot_of(m, NULL) : -1;
    if (i < 0)
        return malloc(n);
    void *p = slot_get(pages, page);
    if (p == NULL)
        return NULL;
    m->big[i].p = p;
    m->big[i].len = n;
    m->big[i].frames = m->creating && n == XG__H2_FRAMEBUF_LEN;
    return p;
}

static void release(xg__h2_mem *m, void *p)
{
    int i = p != NULL ? slot_of(m, p) : -1;
    if (i < 0) {
        free(p);
        return;
    }
    size_t page = page_size();
    slot_put(p, (m->big[i].len + page - 1) / page, page);
    m->big[i].p = NULL;
}

static void *mem_malloc(size_t n, void *ud)
{
    return alloc(ud, n);
}

static void mem_free(void *p, void *ud)
{
    release(ud, p);
}

static void *mem_calloc(size_t k, size_t n, void *ud)
{
    if (n != 0 && k > SIZE_MAX / n)
        return NULL;
    void *p = alloc(ud, k * n);
    if (p != NULL)
        memset(p, 0, k * n); /* a reused slot holds old bytes */
    return p;
}

/* A tracked block moves by copy (realloc would lose the alignment); a
 * small one grows in place as malloc likes, tracked only when it starts big. */
static void *mem_realloc(void *p, size_t n, void *ud)
{
    xg__h2_mem *m = ud;
    int i = p != NULL ? slot_of(m, p) : -1;
    if (p == NULL)
        return alloc(m, n);
    if (i < 0)
        return realloc(p, n);
    size_t old = m->big[i].len;
    void *q = alloc(m, n);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    release(m, p);
    return q;
}

void xg__h2_mem_init(xg__h2_mem *m, nghttp2_mem *out)
{
    memset(m, 0, sizeof *m);
    *out = (nghttp2_mem){
        .mem_user_data = m,
        .malloc = mem_malloc,
        .free = mem_free,
        .calloc = mem_calloc,
        .realloc = mem_realloc,
    };
}

static bool all_zero(const unsigned char *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

size_t xg__h2_mem_trim(xg__h2_mem *m, bool frames_idle)
{
    size_t page = page_size(), given = 0;
    for (int i = 0; i < XG__H2_MEM_SLOTS; i++) {
        void *p = m->big[i].p;
        size_t len = m->big[i].len;
        if (p == NULL)
            continue;
        bool scratch = frames_idle && m->big[i].frames;
        /* A block of zeros reads back the same after MADV_DONTNEED. */
        if ((scratch || all_zero(p, len)) && madvise(p, round_up(len, page), MADV_DONTNEED) == 0)
            given += round_up(len, page);
    }
    return given;
}
