/* nghttp2's memory for one session (nghttp2_mem): nghttp2 1.52 allocates a
 * 16 KiB frame buffer and a 4 KiB stream-map table up front and keeps both
 * for the life of the session, though an idle connection needs neither's
 * contents: the frame buffer is scratch between packing a frame and handing
 * it out, and the map's table is all zeros while no stream is open. Those
 * blocks (anything of XG__H2_MEM_BIG bytes or more, while a slot is free to
 * track it) are page-aligned here, so that trim can give their pages back
 * with MADV_DONTNEED; the next frame or stream faults them back in, zeroed.
 * Everything else goes to malloc as before. One per session; the worker
 * thread that owns the connection is the only caller. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "codec/http2_int.h"

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

/* A tracked, page-aligned block for a big request; plain malloc otherwise
 * (small, or every slot taken: untracked blocks are only never trimmed). */
static void *alloc(xg__h2_mem *m, size_t n)
{
    int i = n >= XG__H2_MEM_BIG ? slot_of(m, NULL) : -1;
    if (i < 0)
        return malloc(n);
    size_t page = page_size();
    void *p = NULL;
    if (posix_memalign(&p, page, round_up(n, page)) != 0)
        return NULL;
    m->big[i].p = p;
    m->big[i].len = n;
    return p;
}

static void release(xg__h2_mem *m, void *p)
{
    int i = p != NULL ? slot_of(m, p) : -1;
    if (i >= 0)
        m->big[i].p = NULL;
    free(p);
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
        memset(p, 0, k * n);
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
        bool scratch = frames_idle && len == XG__H2_FRAMEBUF_LEN;
        /* A block of zeros reads back the same after MADV_DONTNEED. */
        if ((scratch || all_zero(p, len)) && madvise(p, round_up(len, page), MADV_DONTNEED) == 0)
            given += round_up(len, page);
    }
    return given;
}
