/* Unit tests for the text forms of Duration, Timestamp and bytes. */
#include <stdlib.h>
#include <string.h>

#include "xds/pbjson_int.h"
#include "xg_test.h"

static bool duration_is(const char *in, long long sec, int nanos, const char *out)
{
    int64_t s;
    int32_t n;
    if (!CHECK_EQ_INT(xg__duration_parse(in, &s, &n), 0))
        return false;
    CHECK_EQ_INT(s, sec);
    CHECK_EQ_INT(n, nanos);
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg__duration_format(&b, s, n), 0);
    bool ok = CHECK_STR(b.data, out);
    xg_buf_dispose(&b);
    return ok;
}

XG_TEST(durations)
{
    duration_is("1s", 1, 0, "1s");
    duration_is("1.5s", 1, 500000000, "1.500s");
    duration_is("0.000001s", 0, 1000, "0.000001s");
    duration_is("-0.010s", 0, -10000000, "-0.010s");
    duration_is("-2.000000001s", -2, -1, "-2.000000001s");
    duration_is("315576000000s", 315576000000LL, 0, "315576000000s");
    int64_t s;
    int32_t n;
    CHECK(xg__duration_parse("315576000001s", &s, &n) != 0);
    CHECK(xg__duration_parse("1", &s, &n) != 0);
    CHECK(xg__duration_parse("1.s", &s, &n) != 0);
    CHECK(xg__duration_parse("1.0000000001s", &s, &n) != 0);
    CHECK(xg__duration_parse("s", &s, &n) != 0);
    CHECK(xg__duration_parse("1ms", &s, &n) != 0);
}

XG_TEST(timestamps)
{
    int64_t s;
    int32_t n;
    CHECK_EQ_INT(xg__timestamp_parse("1970-01-01T00:00:00Z", &s, &n), 0);
    CHECK_EQ_INT(s, 0);
    CHECK_EQ_INT(xg__timestamp_parse("2026-11-22T13:58:41.25+01:00", &s, &n), 0);
    CHECK_EQ_INT(s, 1795352321LL); /* 12:58:41Z */
    CHECK_EQ_INT(n, 250000000);
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg__timestamp_format(&b, s, n), 0);
    CHECK_STR(b.data, "2026-11-22T12:58:41.250Z");
    b.len = 0;
    CHECK_EQ_INT(xg__timestamp_format(&b, -62135596800LL, 0), 0);
    CHECK_STR(b.data, "0001-01-01T00:00:00Z");
    xg_buf_dispose(&b);
    CHECK(xg__timestamp_parse("2025-02-29T00:00:00Z", &s, &n) != 0);
    CHECK(xg__timestamp_parse("2024-02-29T00:00:00Z", &s, &n) == 0);
    CHECK(xg__timestamp_parse("2024-13-01T00:00:00Z", &s, &n) != 0);
    CHECK(xg__timestamp_parse("2024-01-01 00:00:00Z", &s, &n) != 0);
    CHECK(xg__timestamp_parse("2024-01-01T00:00:00", &s, &n) != 0);
}

XG_TEST(base64)
{
    xg_buf b;
    xg_buf_init(&b);
    CHECK_EQ_INT(xg__base64_encode(&b, (const uint8_t *)"hello!?", 7), 0);
    CHECK_STR(b.data, "aGVsbG8hPw==");
    xg_buf_dispose(&b);
    uint8_t *out;
    size_t len;
    CHECK_EQ_INT(xg__base64_decode("aGVsbG8hPw", 10, &out, &len), 0);
    CHECK_EQ_INT(len, 7);
    CHECK(memcmp(out, "hello!?", 7) == 0);
    free(out);
    CHECK_EQ_INT(xg__base64_decode("-_8=", 4, &out, &len), 0);
    CHECK_EQ_INT(len, 2);
    CHECK(out[0] == 0xfb && out[1] == 0xff);
    free(out);
    CHECK(xg__base64_decode("a$==", 4, &out, &len) != 0);
    CHECK(xg__base64_decode("abcde", 5, &out, &len) != 0);
}
