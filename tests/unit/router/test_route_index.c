/* Unit tests for the compiled route index (src/router/route_index.c): a
 * randomized equivalence test against the in-order linear scan with 10,000
 * routes of every kind (literals drawn from a tiny alphabet so that they
 * nest, collide and differ only in case), and the index's structural edge
 * cases. */
#include "router_test.h"

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static const char *const segs[] = {"a", "b", "ab", "A", "B", "x1", "aB"};
#define NSEGS (sizeof(segs) / sizeof(segs[0]))

/* A path of 1..4 segments from the alphabet (maybe with a trailing slash). */
static void gen_path(char *out, size_t cap, bool trailing_ok)
{
    size_t n = 0;
    unsigned k = 1 + pick(4);
    for (unsigned i = 0; i < k; i++)
        n += (size_t)snprintf(out + n, cap - n, "/%s", segs[pick(NSEGS)]);
    if (trailing_ok && pick(4) == 0)
        snprintf(out + n, cap - n, "/");
}

static const char *const regexes[] = {"/a/.*",   "/[aA]+/x1", "/(ab|b)(/.*)?", "/x1", ".*/B",
                                      "/ab?/x1", "^/a\\/b",   "/aB/.*",        "/b+", "/x1/a\\d*"};
#define NREGEX (sizeof(regexes) / sizeof(regexes[0]))

static size_t gen_route(char *out, size_t cap, unsigned i)
{
    char lit[64], extra[160] = "";
    size_t n = 0;
    unsigned kind = pick(100);
    gen_path(lit, sizeof(lit), kind < 40);
    const char *cs = pick(10) < 3 ? ", case_sensitive: false" : "";
    if (pick(10) < 2)
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", headers: [{name: x-h, string_match: {exact: '1'}}]");
    if (pick(20) == 0)
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", query_parameters: [{name: q, present_match: true}]");
    if (pick(20) == 0)
        snprintf(extra + n, sizeof(extra) - n, ", runtime_fraction: {default_value: {numerator: 50}}");
    char m[512];
    if (kind < 40)
        snprintf(m, sizeof(m), "prefix: '%s'%s%s", lit, cs, extra);
    else if (kind < 75)
        snprintf(m, sizeof(m), "path: '%s'%s%s", lit, cs, extra);
    else if (kind < 92)
        snprintf(m, sizeof(m), "path_separated_prefix: '%s'%s%s", lit, cs, extra);
    else if (kind < 99)
        snprintf(m, sizeof(m), "safe_regex: {regex: '%s'}%s%s", regexes[pick(NREGEX)], cs, extra);
    else
        snprintf(m, sizeof(m), "connect_matcher: {}%s", extra);
    return (size_t)snprintf(out, cap, "  - {name: r%u, match: {%s}, route: {cluster: c}}\n", i, m);
}

/* A config of n random routes in one virtual host plus a small second one. */
static char *gen_config(unsigned n, bool ignore_params)
{
    size_t cap = (size_t)n * 300 + 4096, len = 0;
    char *y = malloc(cap);
    len += (size_t)snprintf(y + len, cap - len, "%svirtual_hosts:\n- name: big\n  domains: ['*']\n  routes:\n",
                            ignore_params ? "ignore_path_parameters_in_path_matching: true\n" : "");
    for (unsigned i = 0; i < n; i++)
        len += gen_route(y + len, cap - len, i);
    snprintf(y + len, cap - len,
             "- name: small\n  domains: [small]\n  routes:\n"
             "  - {name: s0, match: {path: /a}, route: {cluster: c}}\n"
             "  - {name: s1, match: {prefix: /A, case_sensitive: false}, route: {cluster: c}}\n");
    return y;
}

/* A random request path: alphabet segments with random case flips, maybe a
 * query, path parameters or a trailing slash. */
static void gen_request(char *out, size_t cap)
{
    gen_path(out, cap, true);
    for (char *p = out; *p; p++)
        if (pick(8) == 0 && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            *p ^= 0x20;
    size_t n = strlen(out);
    if (pick(6) == 0)
        n += (size_t)snprintf(out + n, cap - n, ";p=%u", pick(3));
    if (pick(4) == 0)
        snprintf(out + n, cap - n, "?q=%u", pick(3));
}

/* Runs n random requests against the index and the linear scan (route_for
 * checks they agree); returns how many matched some route. */
static unsigned compare(const xg_route_config *rc, unsigned n)
{
    unsigned matched = 0;
    for (unsigned i = 0; i < n; i++) {
        char path[128];
        gen_request(path, sizeof(path));
        treq t;
        treq_init(&t, pick(50) == 0 ? "CONNECT" : "GET", pick(10) == 0 ? "small" : "h", path);
        if (pick(3) == 0)
            treq_add(&t, "x-h", pick(2) ? "1" : "0");
        const char *got = route_for(rc, &t, rnd());
        if (!CHECK(strcmp(got, "<disagree>") != 0))
            fprintf(stderr, "  request %u: %s\n", i, path);
        matched += got[0] != '\0';
        treq_dispose(&t);
    }
    return matched;
}

XG_TEST(random_equivalence_10000_routes)
{
    char *yaml = gen_config(10000, false);
    xg_res *r = rc_load(yaml);
    free(yaml);
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    CHECK(rc->index != NULL);
    CHECK_EQ_INT(rc->vhosts[0].n_routes, 10000);
    unsigned matched = compare(rc, 4000);
    CHECK(matched > 2000); /* the test exercises real matches, not just misses */
    xg_res_unref(r);
}

XG_TEST(random_equivalence_path_parameters)
{
    for (int round = 0; round < 5; round++) {
        char *yaml = gen_config(300, round % 2 == 0);
        xg_res *r = rc_load(yaml);
        free(yaml);
        if (!CHECK(r != NULL))
            return;
        CHECK(compare(rc_of(r), 2000) > 500);
        xg_res_unref(r);
    }
}

XG_TEST(index_edge_cases)
{
    /* Empty literals, literals that are prefixes of each other, the same
     * literal in several kinds, a path shorter than every literal. */
    xg_res *r = rc_load("virtual_hosts:\n- name: v\n  domains: ['*']\n  routes:\n"
                        "  - {name: long, match: {prefix: /abc/def}, route: {cluster: c}}\n"
                        "  - {name: exact, match: {path: /abc}, route: {cluster: c}}\n"
                        "  - {name: same_prefix, match: {prefix: /abc}, route: {cluster: c}}\n"
                        "  - {name: same_exact_ci, match: {path: /ABC, case_sensitive: false}, route: {cluster: c}}\n"
                        "  - {name: split, match: {prefix: /abd}, route: {cluster: c}}\n"
                        "  - {name: empty, match: {prefix: ''}, route: {cluster: c}}\n"
                        "  - {name: never, match: {prefix: /zzz}, route: {cluster: c}}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    CHECK_STR(match(rc, "GET", "h", "/abc/def/g", NULL, 0), "long");
    CHECK_STR(match(rc, "GET", "h", "/abc", NULL, 0), "exact");
    CHECK_STR(match(rc, "GET", "h", "/abcd", NULL, 0), "same_prefix");
    CHECK_STR(match(rc, "GET", "h", "/ABC", NULL, 0), "same_exact_ci");
    CHECK_STR(match(rc, "GET", "h", "/abd", NULL, 0), "split");
    CHECK_STR(match(rc, "GET", "h", "/ab", NULL, 0), "empty");
    CHECK_STR(match(rc, "GET", "h", "/", NULL, 0), "empty");
    CHECK_STR(match(rc, "GET", "h", "?x", NULL, 0), "empty");
    CHECK_STR(match(rc, "CONNECT", "h", NULL, NULL, 0), "");
    xg_res_unref(r);
}

XG_TEST(deep_nesting_uses_arena_sources)
{
    /* 100 nested prefixes: a lookup merges more lists than the on-stack
     * array holds, so the source array comes from the request's arena. */
    size_t cap = 100 * 400, len = 0;
    char *y = malloc(cap);
    len += (size_t)snprintf(y, cap, "virtual_hosts:\n- name: v\n  domains: ['*']\n  routes:\n");
    char lit[256] = "";
    for (int i = 0; i < 100; i++) {
        strcat(lit, "/x");
        len += (size_t)snprintf(y + len, cap - len,
                                "  - {name: r%d, match: {prefix: '%s', headers: [{name: x-d, string_match: {exact: "
                                "'%d'}}]}, route: {cluster: c}}\n",
                                i, lit, i);
    }
    xg_res *r = rc_load(y);
    free(y);
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    char path[300];
    snprintf(path, sizeof(path), "%s/end", lit);
    CHECK_STR(match(rc, "GET", "h", path, HDRS("x-d", "99"), 0), "r99");
    CHECK_STR(match(rc, "GET", "h", path, HDRS("x-d", "0"), 0), "r0");
    CHECK_STR(match(rc, "GET", "h", "/x/x", HDRS("x-d", "1"), 0), "r1");
    CHECK_STR(match(rc, "GET", "h", "/x/x", HDRS("x-d", "2"), 0), "");
    xg_res_unref(r);
}

static const char *lit(const char *pat)
{
    static char out[128];
    out[xg__route_regex_literal(pat, out)] = '\0';
    return out;
}

XG_TEST(regex_literals)
{
    CHECK_STR(lit("/api/v[0-9]+/.*"), "/api/v");
    CHECK_STR(lit("^/api/x"), "/api/x");
    CHECK_STR(lit("/ab*c"), "/a"); /* b is optional */
    CHECK_STR(lit("/ab+c"), "/a"); /* conservative */
    CHECK_STR(lit("/ab?c"), "/a");
    CHECK_STR(lit("/ab{2}"), "/a");
    CHECK_STR(lit("/a\\.b\\/c"), "/a.b/c"); /* escaped punctuation is literal */
    CHECK_STR(lit("/a\\d"), "/a");          /* a class escape is not */
    CHECK_STR(lit("/a\\Qx\\E"), "/a");
    CHECK_STR(lit("/a/(b)"), "/a/");
    CHECK_STR(lit("/a|/b"), ""); /* alternation anywhere: nothing */
    CHECK_STR(lit("/a/(b|c)"), "");
    CHECK_STR(lit("(?i)/a"), "");
    CHECK_STR(lit("/a(?i)b"), "");
    CHECK_STR(lit(".*"), "");
    CHECK_STR(lit("/\xc3\xa9*"), "/");
    CHECK_STR(lit(""), "");
    CHECK_STR(lit("/a$"), "/a");
    CHECK_STR(lit("/a\\"), "/a");
}

XG_TEST(regex_routes_by_literal)
{
    xg_res *r = rc_load("virtual_hosts:\n- name: v\n  domains: ['*']\n  routes:\n"
                        "  - {name: re1, match: {safe_regex: {regex: '/re1/[0-9]+'}}, route: {cluster: c}}\n"
                        "  - {name: re2, match: {safe_regex: {regex: '/re[0-9]/x'}}, route: {cluster: c}}\n"
                        "  - {name: any, match: {safe_regex: {regex: '.*/z'}}, route: {cluster: c}}\n"
                        "  - {name: ci, match: {safe_regex: {regex: '/CI'}, case_sensitive: false}, route: {cluster: "
                        "c}}\n"
                        "  - {name: root, match: {prefix: /}, route: {cluster: c}}\n");
    if (!CHECK(r != NULL))
        return;
    const xg_route_config *rc = rc_of(r);
    CHECK_EQ_INT(rc->index->vh[0].n_other, 1); /* only "any" has no literal */
    CHECK_STR(match(rc, "GET", "h", "/re1/42", NULL, 0), "re1");
    CHECK_STR(match(rc, "GET", "h", "/re1/x", NULL, 0), "re2");
    CHECK_STR(match(rc, "GET", "h", "/re1/z", NULL, 0), "any");
    CHECK_STR(match(rc, "GET", "h", "/CI", NULL, 0), "ci");
    CHECK_STR(match(rc, "GET", "h", "/ci", NULL, 0), "root"); /* regexes ignore case_sensitive */
    xg_res_unref(r);
}

XG_TEST(no_index_falls_back_to_linear)
{
    xg_res *r = rc_load_opt("virtual_hosts:\n- {name: v, domains: ['*'], routes: [{name: a, match: {prefix: /a}, "
                            "route: {cluster: c}}]}\n",
                            false);
    if (!CHECK(r != NULL))
        return;
    CHECK(rc_of(r)->index == NULL);
    CHECK_STR(match(rc_of(r), "GET", "h", "/ab", NULL, 0), "a");
    xg_res_unref(r);
}
