/* Unit tests for the growable byte buffer (src/core/buf.c). */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "xg_test.h"

XG_TEST(starts_empty_without_allocating)
{
    xg_buf b;
    xg_buf_init(&b);
    CHECK(b.data == NULL);
    CHECK_EQ_INT(b.len, 0);
    xg_buf_dispose(&b);
}

XG_TEST(append_keeps_nul_terminated)
{
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg_buf_append(&b, "abc", 3), 0);
    CHECK_EQ_INT(xg_buf_putc(&b, 'd'), 0);
    CHECK_EQ_INT(xg_buf_puts(&b, "ef"), 0);
    CHECK_EQ_INT(b.len, 6);
    CHECK_STR(b.data, "abcdef");
    xg_buf_dispose(&b);
}

XG_TEST(grows_past_many_doublings)
{
    xg_buf b;
    xg_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        if (!CHECK_EQ_INT(xg_buf_putc(&b, (char)('a' + i % 26)), 0))
            break;
    CHECK_EQ_INT(b.len, 10000);
    CHECK(b.cap > b.len);
    CHECK_EQ_INT(b.data[9999], 'a' + 9999 % 26);
    CHECK_EQ_INT(b.data[10000], '\0');
    xg_buf_dispose(&b);
}

XG_TEST(printf_appends_formatted_text)
{
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg_buf_puts(&b, "x="), 0);
    CHECK_EQ_INT(xg_buf_printf(&b, "%d/%s", 42, "y"), 0);
    CHECK_STR(b.data, "x=42/y");
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_INT(xg_buf_printf(&b, "%s", big), 0);
    CHECK_EQ_INT(b.len, 6 + 999);
    xg_buf_dispose(&b);
}

XG_TEST(reset_keeps_storage)
{
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg_buf_puts(&b, "hello"), 0);
    char *before = b.data;
    xg_buf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK(b.data == before);
    CHECK_STR(b.data, "");
    CHECK_EQ_INT(xg_buf_puts(&b, "hi"), 0);
    CHECK_STR(b.data, "hi");
    xg_buf_dispose(&b);
}

XG_TEST(steal_hands_over_storage)
{
    xg_buf b;
    xg_buf_init(&b);
    char *empty = xg_buf_steal(&b);
    CHECK_STR(empty, "");
    free(empty);
    CHECK_EQ_INT(xg_buf_puts(&b, "mine"), 0);
    char *s = xg_buf_steal(&b);
    CHECK_STR(s, "mine");
    CHECK(b.data == NULL);
    CHECK_EQ_INT(b.len, 0);
    free(s);
}

XG_TEST(reserve_refuses_overflow)
{
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg_buf_puts(&b, "a"), 0);
    CHECK(xg_buf_reserve(&b, SIZE_MAX - 1) != 0);
    CHECK_STR(b.data, "a");
    xg_buf_dispose(&b);
}
