/* The per-thread block pool: small and big blocks come back to their own
 * free lists, spares are bounded per size, counters follow, trim empties. */
#include <stdint.h>
#include <string.h>

#include "core/bufpool.h"
#include "xg_test.h"

XG_TEST(small_and_big_blocks_are_reused_per_size)
{
    char *s = xg_bufpool_get(), *b = xg_bufpool_get_big();
    if (!CHECK(s != NULL && b != NULL))
        return;
    CHECK(((uintptr_t)s & 15) == 0 && ((uintptr_t)b & 15) == 0);
    memset(s, 1, XG_BUFPOOL_BLOCK); /* both sizes are fully writable (ASan) */
    memset(b, 2, XG_BUFPOOL_BIG);
    xg_bufpool_stats st = xg_bufpool_thread_stats();
    CHECK_EQ_INT(st.in_use, 1);
    CHECK_EQ_INT(st.big_in_use, 1);
    xg_bufpool_put(s);
    xg_bufpool_put_big(b);
    st = xg_bufpool_thread_stats();
    CHECK_EQ_INT(st.in_use + st.big_in_use, 0);
    CHECK_EQ_INT(st.spare, 1);
    CHECK_EQ_INT(st.big_spare, 1);
    /* Each size hands back its own spare, never the other's. */
    CHECK(xg_bufpool_get_big() == b);
    CHECK(xg_bufpool_get() == s);
    CHECK_EQ_INT(xg_bufpool_thread_stats().allocs, 1);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_allocs, 1);
    xg_bufpool_put_big(b);
    xg_bufpool_put(s);
    xg_bufpool_put_big(NULL); /* a no-op */
    xg_bufpool_trim();
    st = xg_bufpool_thread_stats();
    CHECK_EQ_INT(st.spare + st.big_spare, 0);
}

XG_TEST(big_spares_are_bounded)
{
    void *v[XG_BUFPOOL_MAX_SPARE_BIG + 4];
    size_t n = sizeof(v) / sizeof(v[0]);
    for (size_t i = 0; i < n; i++)
        v[i] = xg_bufpool_get_big();
    for (size_t i = 0; i < n; i++)
        xg_bufpool_put_big(v[i]);
    xg_bufpool_stats st = xg_bufpool_thread_stats();
    CHECK_EQ_INT(st.big_spare, XG_BUFPOOL_MAX_SPARE_BIG);
    CHECK_EQ_INT(st.big_in_use, 0);
    CHECK_EQ_INT(st.spare, 0);
    xg_bufpool_trim();
}

/* A block with two holders goes back to the pool at the second put only. */
XG_TEST(shared_block_returns_at_last_put)
{
    char *b = xg_bufpool_get_big();
    if (!CHECK(b != NULL))
        return;
    CHECK(!xg_bufpool_shared(b));
    xg_bufpool_ref(b);
    CHECK(xg_bufpool_shared(b));
    xg_bufpool_put_big(b);
    CHECK(!xg_bufpool_shared(b));
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 1);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_spare, 0);
    xg_bufpool_put_big(b);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 0);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_spare, 1);
    /* Handed out again with one holder. */
    CHECK(xg_bufpool_get_big() == b);
    CHECK(!xg_bufpool_shared(b));
    xg_bufpool_put_big(b);
    xg_bufpool_trim();
}

/* Lending: only bytes inside the open block, at least half of it, and only
 * while it is open. */
XG_TEST(try_lend_takes_a_reference_inside_the_open_block_only)
{
    char *s = xg_bufpool_get(), *b = xg_bufpool_get_big();
    if (!CHECK(s != NULL && b != NULL))
        return;
    CHECK(xg_bufpool_try_lend(b, XG_BUFPOOL_BIG) == NULL); /* nothing open */
    xg_bufpool_lend_open(b);
    CHECK(xg_bufpool_try_lend(s, XG_BUFPOOL_BLOCK) == NULL);           /* another block */
    CHECK(xg_bufpool_try_lend(b + 100, XG_BUFPOOL_BIG / 2 - 1) == NULL); /* too little of it */
    CHECK(xg_bufpool_try_lend(b + 1, XG_BUFPOOL_BIG) == NULL);          /* runs past its end */
    CHECK(xg_bufpool_try_lend(b - 1, XG_BUFPOOL_BIG / 2) == NULL);      /* starts before it */
    CHECK(!xg_bufpool_shared(b));
    CHECK(xg_bufpool_in_lendable(b + XG_BUFPOOL_BIG - 1) && !xg_bufpool_in_lendable(b + XG_BUFPOOL_BIG));
    CHECK(!xg_bufpool_in_lendable(s));
    CHECK(xg_bufpool_try_lend(b + XG_BUFPOOL_BIG / 2, XG_BUFPOOL_BIG / 2) == b);
    CHECK(xg_bufpool_shared(b));
    xg_bufpool_lend_close();
    CHECK(xg_bufpool_try_lend(b, XG_BUFPOOL_BIG) == NULL);
    /* The owner's put leaves the lent bytes with the borrower. */
    memset(b, 'x', XG_BUFPOOL_BIG);
    xg_bufpool_put_big(b);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 1);
    CHECK(b[XG_BUFPOOL_BIG - 1] == 'x');
    xg_bufpool_put_big(b);
    /* A small block lends the same way; a block that goes back while open
     * is no longer lendable. */
    xg_bufpool_lend_open(s);
    void *l = xg_bufpool_try_lend(s, XG_BUFPOOL_BLOCK);
    CHECK(l == s);
    xg_bufpool_put(l);
    xg_bufpool_put(s);
    char *again = xg_bufpool_get();
    CHECK(again == s);
    CHECK(xg_bufpool_try_lend(again, XG_BUFPOOL_BLOCK) == NULL);
    xg_bufpool_put(again);
    xg_bufpool_trim();
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use + xg_bufpool_thread_stats().big_in_use, 0);
}
