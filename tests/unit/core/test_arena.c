/* Unit tests for the bump allocator. */
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "xg_test.h"

XG_TEST(alignment_zeroing_and_strings)
{
    xg_arena a;
    xg_arena_init(&a, 64);
    for (int i = 1; i < 200; i++) {
        unsigned char *p = xg_arena_alloc(&a, (size_t)i);
        if (!CHECK(p != NULL))
            break;
        CHECK(((uintptr_t)p & 15) == 0);
        CHECK(p[i - 1] == 0);
        memset(p, 0xab, (size_t)i);
    }
    CHECK_STR(xg_arena_strdup(&a, "hello"), "hello");
    CHECK_STR(xg_arena_strndup(&a, "hello", 3), "hel");
    xg_arena_dispose(&a);
    CHECK(a.head == NULL);
}

XG_TEST(big_allocations_keep_the_current_chunk)
{
    xg_arena a;
    xg_arena_init(&a, 128);
    char *small = xg_arena_alloc(&a, 16);
    char *big = xg_arena_alloc(&a, 100000);
    char *next = xg_arena_alloc(&a, 16);
    CHECK(small != NULL && big != NULL && next != NULL);
    CHECK(next == small + 16); /* the big one went into its own chunk */
    CHECK(xg_arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
    xg_arena_dispose(&a);
}

static int cleanups_run;
static void count_cleanup(void *arg)
{
    cleanups_run += *(int *)arg;
}

XG_TEST(reset_keeps_one_default_chunk_and_runs_cleanups)
{
    xg_arena a;
    xg_arena_init(&a, 256);
    int one = 1;
    char *first = xg_arena_alloc(&a, 200);
    char *second = xg_arena_alloc(&a, 200); /* a second default chunk */
    CHECK(xg_arena_alloc(&a, 10000) != NULL); /* a big one */
    CHECK(xg_arena_defer(&a, count_cleanup, &one) == 0);
    xg_arena_reset(&a);
    CHECK_EQ_INT(cleanups_run, 1);
    CHECK(a.head != NULL);
    CHECK_EQ_INT((int)a.used, 0);
    char *again = xg_arena_alloc(&a, 16); /* served by a kept chunk: no malloc */
    CHECK(again != NULL && (again == first || again == second));
    xg_arena_dispose(&a);
    CHECK(a.head == NULL);
}
