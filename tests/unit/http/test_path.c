/* Unit tests for request path sanitising (src/http/path.c): Envoy's
 * normalize_path vectors (its own test table plus the tricky cases: %2e%2e,
 * backslashes, nested escapes, NUL), merge_slashes, the escaped-slash
 * actions and their order, and the query split. */
#include <string.h>

#include "core/arena.h"
#include "http/path.h"
#include "xg_test.h"

static char got[4096];

/* Canonicalises in and returns the result ("<fail>" appended when rejected). */
static const char *canon(const char *in)
{
    char out[4096];
    size_t n;
    bool ok = xg_path_canonicalize(in, strlen(in), out, &n);
    memcpy(got, out, n);
    strcpy(got + n, ok ? "" : "<fail>");
    return got;
}

XG_TEST(canonicalize_envoy_vectors)
{
    /* Envoy's test/common/http/path_utility_test.cc, NormalizeValidPaths and NormalizeCasePath. */
    static const char *const v[][2] = {
        {"/xyz", "/xyz"},
        {"/x/y/z", "/x/y/z"},
        {"/a/b/../c", "/a/c"},
        {"/a/b/./c", "/a/b/c"},
        {"a/b/../c", "/a/c"},
        {"/a/b/../../../../c", "/c"},
        {"/a/..\\c", "/c"},
        {"/%c0%af", "/%c0%af"},
        {"/%5c%25", "/%5c%25"},
        {"/a/b/%2E%2E/c", "/a/c"},
        {"/a/b/%2E./c", "/a/c"},
        {"/a/b/%2E/c", "/a/b/c"},
        {"..", "/"},
        {"/../a/b", "/a/b"},
        {"/./a/b", "/a/b"},
        {"/A/B/C", "/A/B/C"},
        {"/a/b/%2e%2e/c", "/a/c"},
        {"/a/%2F%2f/c", "/a/%2F%2f/c"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        CHECK_STR(canon(v[i][0]), v[i][1]);
}

XG_TEST(canonicalize_rejects_nul)
{
    /* Envoy's InvalidPaths. */
    CHECK_STR(canon("/xyz/.%00../abc"), "/xyz/.%00../abc<fail>");
    CHECK_STR(canon("/xyz/%00.%00./abc"), "/xyz/%00.%00./abc<fail>");
    CHECK_STR(canon("/xyz/AAAAA%%0000/abc"), "/xyz/AAAAA%%0000/abc<fail>");
    char raw[] = "/a\0b";
    char out[32];
    size_t n;
    CHECK(!xg_path_canonicalize(raw, 4, out, &n));
    CHECK_EQ_INT(n, 6);
    CHECK(memcmp(out, "/a%00b", 6) == 0);
}

XG_TEST(canonicalize_tricky)
{
    CHECK_STR(canon(""), "/");
    CHECK_STR(canon("/"), "/");
    CHECK_STR(canon("/a/."), "/a/");
    CHECK_STR(canon("/a/.."), "/");
    CHECK_STR(canon("/a/b/.."), "/a/");
    CHECK_STR(canon("/%2e%2e/%2e%2e/etc/passwd"), "/etc/passwd");
    CHECK_STR(canon("/a/%2e%2E/b"), "/b");
    CHECK_STR(canon("/a/.%2e/b"), "/b");
    CHECK_STR(canon("/a/..b/c"), "/a/..b/c");     /* not a directory */
    CHECK_STR(canon("/a/b..c/./d"), "/a/b..c/d"); /* dots inside a name */
    CHECK_STR(canon("/a.%2e/b"), "/a../b");       /* %2e is always decoded */
    CHECK_STR(canon("//a/../b"), "//b");          /* slashes are not merged here */
    CHECK_STR(canon("/a//../b"), "/a/b");
    CHECK_STR(canon("/a\\b\\..\\c"), "/a/c"); /* backslash is a slash */
    CHECK_STR(canon("\\a"), "/a");
    CHECK_STR(canon("/%41%62%2D%5F%7E%30"), "/Ab-_~0");             /* unreserved characters are decoded */
    CHECK_STR(canon("/%2f%2F%3a%5C%25%20"), "/%2f%2F%3a%5C%25%20"); /* reserved ones keep their case */
    CHECK_STR(canon("/a b\"<>^`{|}"), "/a%20b%22%3C%3E%5E%60%7B%7C%7D");
    CHECK_STR(canon("/\x7f\x80\xff"), "/%7F%80%FF");
    CHECK_STR(canon("/!$&'()*+,;=:@[]"), "/!$&'()*+,;=:@[]");
    CHECK_STR(canon("/%"), "/%");
    CHECK_STR(canon("/%4"), "/%4");
    CHECK_STR(canon("/%zz"), "/%zz");
    CHECK_STR(canon("/a?b"), "/a%3Fb"); /* the caller strips the query first */
}

XG_TEST(canonicalize_nested_escapes)
{
    /* An invalid '%' must not become a valid escape once what follows is decoded. */
    CHECK_STR(canon("/%%30%30"), "/%2500");
    CHECK_STR(canon("/%%30%30x"), "/%2500x");
    CHECK_STR(canon("/%%300"), "/%2500");
    CHECK_STR(canon("/%%41"), "/%A");
    CHECK_STR(canon("/%%414"), "/%25A4");
    CHECK_STR(canon("/%%%34%31"), "/%%2541");
}

static const char *merge(const char *in)
{
    size_t n = xg_path_merge_slashes(in, strlen(in), got);
    got[n] = '\0';
    return got;
}

XG_TEST(merge_slashes_envoy_vectors)
{
    CHECK_STR(merge(""), "");
    CHECK_STR(merge("a//b/c"), "a/b/c");
    CHECK_STR(merge("/a//b/c/"), "/a/b/c/");
    CHECK_STR(merge("a//b/c/"), "a/b/c/");
    CHECK_STR(merge("/a"), "/a");
    CHECK_STR(merge("//a/b/c"), "/a/b/c");
    CHECK_STR(merge("/a//b/c"), "/a/b/c");
    CHECK_STR(merge("/a/b/c//"), "/a/b/c/");
    CHECK_STR(merge("/a///b/c"), "/a/b/c");
    CHECK_STR(merge("/a////b/c"), "/a/b/c");
    CHECK_STR(merge("/a//b?a=///c"), "/a/b?a=///c");
    CHECK_STR(merge("/a//b?"), "/a/b?");
    CHECK_STR(merge("//a/?b"), "/a/?b");
    CHECK_STR(merge("//"), "//"); /* Envoy: "/" + no segment + "/" */
}

static const char *unescape(const char *in)
{
    size_t n = xg_path_unescape_slashes(in, strlen(in), got);
    got[n] = '\0';
    return got;
}

XG_TEST(unescape_slashes_envoy_vectors)
{
    CHECK_STR(unescape(""), "");
    CHECK_STR(unescape("%2f%2F"), "//");
    CHECK_STR(unescape("/a%2Fb%2fc/"), "/a/b/c/");
    CHECK_STR(unescape("%2b"), "%2b");
    CHECK_STR(unescape("%2"), "%2");
    CHECK_STR(unescape("%"), "%");
    CHECK_STR(unescape("/abc%2"), "/abc%2");
    CHECK_STR(unescape("%%2fa/"), "%/a/");
    CHECK_STR(unescape("%2%2fa/"), "%2/a/");
    CHECK_STR(unescape("%5c%5C"), "\\\\");
    CHECK_STR(unescape("/a%5Cb%5cc/"), "/a\\b\\c/");
    CHECK_STR(unescape("/a%2Fb?c=%2F"), "/a/b?c=%2F"); /* the query is left alone */
}

typedef struct sres {
    xg_path_verdict verdict;
    char path[256];
} sres;

static sres sanitize(const char *in, bool normalize, bool merge_slashes, xg_escaped_slashes esc)
{
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_path_opts o = {normalize, merge_slashes, esc};
    xg_hstr out;
    sres r = {0};
    CHECK_EQ_INT(xg_path_sanitize(in, strlen(in), &o, &a, &out, &r.verdict), 0);
    memcpy(r.path, out.s, out.len);
    r.path[out.len] = '\0';
    xg_arena_dispose(&a);
    return r;
}

#define KEEP XG_ESCAPED_SLASHES_KEEP_UNCHANGED
#define REJECT XG_ESCAPED_SLASHES_REJECT_REQUEST
#define REDIRECT XG_ESCAPED_SLASHES_UNESCAPE_AND_REDIRECT
#define FORWARD XG_ESCAPED_SLASHES_UNESCAPE_AND_FORWARD

XG_TEST(sanitize_actions)
{
    sres r = sanitize("/a/../b?x=/../y", true, false, KEEP);
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);
    CHECK_STR(r.path, "/b?x=/../y"); /* the query is not normalised */

    r = sanitize("/a%2F..%2Fb", true, false, KEEP);
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);
    CHECK_STR(r.path, "/a%2F..%2Fb");

    r = sanitize("/a%2F..%2Fb", true, false, REJECT);
    CHECK_EQ_INT(r.verdict, XG_PATH_REJECT);

    r = sanitize("/a%2F..%2Fb", true, false, FORWARD);
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);
    CHECK_STR(r.path, "/b"); /* unescaped before normalisation */

    r = sanitize("/a%2F..%5Cb?q=%2F", true, false, REDIRECT);
    CHECK_EQ_INT(r.verdict, XG_PATH_REDIRECT);
    CHECK_STR(r.path, "/b?q=%2F");

    r = sanitize("/a%5cb", false, false, FORWARD); /* no normalisation: the backslash stays */
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);
    CHECK_STR(r.path, "/a\\b");

    r = sanitize("/a/b?c=%2F", true, false, REJECT); /* only the path part counts */
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);

    r = sanitize("/a%2Gb", true, false, REDIRECT); /* nothing unescaped: no redirect */
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);
}

XG_TEST(sanitize_order_and_rejects)
{
    sres r = sanitize("/a#frag", false, false, KEEP);
    CHECK_EQ_INT(r.verdict, XG_PATH_REJECT);

    r = sanitize("/a/%00/b", true, false, KEEP);
    CHECK_EQ_INT(r.verdict, XG_PATH_REJECT);
    r = sanitize("/a/%00/b", false, false, KEEP); /* without normalize_path nothing looks */
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);

    r = sanitize("//a//b/./c//?x=//", true, true, KEEP); /* merge after normalising */
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);
    CHECK_STR(r.path, "/a/b/c/?x=//");

    r = sanitize("/a%2F%2Fb", true, true, FORWARD); /* unescape, then merge */
    CHECK_STR(r.path, "/a/b");

    r = sanitize("/plain/path?q", true, true, REJECT);
    CHECK_EQ_INT(r.verdict, XG_PATH_CONTINUE);
    CHECK_STR(r.path, "/plain/path?q");
}

XG_TEST(sanitize_unchanged_borrows)
{
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_path_opts o = {true, true, REJECT};
    const char *in = "/api/v1/items.json?a=b";
    xg_hstr out;
    xg_path_verdict v;
    CHECK_EQ_INT(xg_path_sanitize(in, strlen(in), &o, &a, &out, &v), 0);
    CHECK(out.s == in); /* nothing to do: no copy */
    CHECK_EQ_INT(a.used, 0);
    xg_arena_dispose(&a);
}

XG_TEST(split_and_strip)
{
    xg_hstr p, q;
    xg_path_split((xg_hstr){"/a?b=c?d", 8}, &p, &q);
    CHECK_EQ_INT(p.len, 2);
    CHECK_EQ_INT(q.len, 5);
    CHECK(memcmp(q.s, "b=c?d", 5) == 0);
    xg_path_split((xg_hstr){"/a", 2}, &p, &q);
    CHECK_EQ_INT(p.len, 2);
    CHECK(q.s == NULL && q.len == 0);
    xg_path_split((xg_hstr){"/a?", 3}, &p, &q);
    CHECK(q.s != NULL && q.len == 0);
    CHECK_EQ_INT(xg_path_strip_query((xg_hstr){"/abc#f?x", 8}).len, 4);
    CHECK_EQ_INT(xg_path_strip_query((xg_hstr){"/abc?#", 6}).len, 4);
    CHECK_EQ_INT(xg_path_strip_query((xg_hstr){"/abc", 4}).len, 4);
}
