/* Unit tests for the RE2 shim (core/regex.h): compile errors, the program
 * size limit, full and partial matching, and RegexMatchAndSubstitute rewrites. */
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/regex.h"
#include "xg_test.h"

XG_TEST(compile_and_match)
{
    char err[256];
    xg_regex *re = NULL;
    if (!CHECK(xg_regex_compile("/api/v[0-9]+(/.*)?", 0, &re, err, sizeof(err)) == 0))
        return;
    CHECK_STR(xg_regex_pattern(re), "/api/v[0-9]+(/.*)?");
    CHECK_EQ_INT(xg_regex_groups(re), 1);
    CHECK(xg_regex_full_match(re, "/api/v1", 7));
    CHECK(xg_regex_full_match(re, "/api/v12/x", 10));
    CHECK(!xg_regex_full_match(re, "x/api/v1", 8));
    CHECK(xg_regex_partial_match(re, "x/api/v1", 8));
    CHECK(!xg_regex_full_match(re, "/api/v1\0/x", 10)); /* length-delimited: a NUL is just a byte */
    xg_regex_free(re);
}

XG_TEST(compile_errors)
{
    char err[256];
    xg_regex *re = NULL;
    CHECK_EQ_INT(xg_regex_compile("(abc", 0, &re, err, sizeof(err)), XG_EINVAL);
    CHECK_STR(err, "missing ): (abc");
    CHECK(re == NULL);
    CHECK_EQ_INT(xg_regex_compile("[a-z]{50}[0-9]{50}", 0, &re, err, sizeof(err)), XG_EINVAL);
    CHECK_STR(err, "RE2 program size of 104 > max program size of 100");
    CHECK_EQ_INT(xg_regex_compile("[a-z]{50}[0-9]{50}", 200, &re, err, sizeof(err)), 0);
    xg_regex_free(re);
    xg_regex_free(NULL);
}

XG_TEST(replace)
{
    char err[256];
    xg_regex *re = NULL;
    if (!CHECK(xg_regex_compile("^/service/([^/]+)(/.*)$", 0, &re, err, sizeof(err)) == 0))
        return;
    CHECK_EQ_INT(xg_regex_check_rewrite(re, "\\2/instance/\\1", err, sizeof(err)), 0);
    CHECK_EQ_INT(xg_regex_check_rewrite(re, "\\3", err, sizeof(err)), XG_EINVAL);
    xg_buf b;
    xg_buf_init(&b);
    int n = -1;
    CHECK_EQ_INT(xg_regex_replace(re, "/service/foo/v1/api", 19, "\\2/instance/\\1", &b, &n), 0);
    CHECK_STR(b.data, "/v1/api/instance/foo");
    CHECK_EQ_INT(n, 1);
    xg_buf_dispose(&b);
    xg_regex_free(re);
    /* every non-overlapping match, as Envoy's RE2::GlobalReplace */
    CHECK(xg_regex_compile("o", 0, &re, err, sizeof(err)) == 0);
    xg_buf_init(&b);
    CHECK_EQ_INT(xg_regex_replace(re, "foo boo", 7, "0", &b, &n), 0);
    CHECK_STR(b.data, "f00 b00");
    CHECK_EQ_INT(n, 4);
    xg_buf_dispose(&b);
    xg_regex_free(re);
}
