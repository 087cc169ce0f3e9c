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
