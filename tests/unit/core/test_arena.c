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

XG_TEST(strings_take_their_length_not_an_aligned_slot)
{
    xg_arena a;
    xg_arena_init(&a, 256);
    char *obj = xg_arena_alloc(&a, 16);
    char *s1 = xg_arena_strdup(&a, "c1");
    char *s2 = xg_arena_strdup(&a, "c22");
    char *obj2 = xg_arena_alloc(&a, 16);
    CHECK_STR(s1, "c1");
    CHECK_STR(s2, "c22");
    CHECK(s2 + 4 == s1); /* packed down from the chunk's end, 3 + 1 bytes */
    CHECK(obj2 == obj + 16); /* objects keep bumping up from the front, aligned */
    CHECK(((uintptr_t)obj2 & 15) == 0);
    CHECK_EQ_INT((int)a.used, 16 + 3 + 4 + 16);
    /* strings and objects meet in the middle: no byte is handed out twice */
    char *last = NULL;
    for (int i = 0; i < 100; i++) {
        char *p = xg_arena_alloc(&a, 16);
        char *s = xg_arena_strdup(&a, "0123456");
        if (!CHECK(p != NULL && s != NULL))
            break;
        CHECK(s >= p + 16 || s + 8 <= p);
        CHECK_STR(s, "0123456");
        last = p;
    }
    CHECK(last != NULL);
    CHECK_STR(s1, "c1");
    CHECK_STR(s2, "c22");
    xg_arena_reset(&a);
    char *again = xg_arena_strdup(&a, "x"); /* a kept chunk: its string end reset too */
    CHECK_STR(again, "x");
    xg_arena_dispose(&a);
}

XG_TEST(reserve_sizes_the_next_chunk)
{
    xg_arena a;
    xg_arena_init(&a, 4096);
    CHECK(xg_arena_reserve(&a, 200) == 0);
    char *p = xg_arena_alloc(&a, 100);
    char *q = xg_arena_alloc(&a, 80);
    CHECK(p != NULL && q == p + 112);
    CHECK(xg_arena_reserve(&a, 16) == 0); /* 200 rounds to 208: 16 bytes left, no new chunk */
    char *s = xg_arena_strdup(&a, "abcdefghij"); /* 11 bytes: the same chunk's end */
    CHECK(s != NULL && s == p + 208 - 11);
    char *r = xg_arena_alloc(&a, 16); /* does not: a default chunk */
    CHECK(r != NULL && (r < p || r > p + 4096));
    CHECK(xg_arena_reserve(&a, 100000) == 0); /* bigger than the default: becomes the newest */
    char *big = xg_arena_alloc(&a, 99000);
    char *after = xg_arena_alloc(&a, 16);
    CHECK(big != NULL && after == big + 99008);
    xg_arena_dispose(&a);
    CHECK(a.head == NULL);
}
