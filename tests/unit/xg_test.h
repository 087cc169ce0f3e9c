/* A tiny unit-test framework: each tests/unit/<dir>/test_<file>.c includes
 * this header once, declares tests with XG_TEST(name) and gets a main() that
 * runs them in order (or only those named on the command line) and prints
 * "N passed, N failed" for the file. Checks report file:line and keep going;
 * each CHECK is an expression whose value says whether it held, so a test
 * can stop itself explicitly: if (!CHECK(p != NULL)) return; */
#ifndef XG_TEST_H
#define XG_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct xg_test_case {
    const char *name;
    void (*fn)(void);
    struct xg_test_case *next;
} xg_test_case;

/* Test-binary state: one process per file, single-threaded registration. */
static xg_test_case *xg_test_first;
static xg_test_case **xg_test_last = &xg_test_first;
static int xg_test_failed_checks;

static inline void xg_test_register(xg_test_case *t)
{
    *xg_test_last = t;
    xg_test_last = &t->next;
}

#define XG_TEST(name)                                                                                                  \
    static void xg_test_fn_##name(void);                                                                               \
    static xg_test_case xg_test_case_##name = {#name, xg_test_fn_##name, NULL};                                        \
    __attribute__((constructor)) static void xg_test_reg_##name(void)                                                  \
    {                                                                                                                  \
        xg_test_register(&xg_test_case_##name);                                                                        \
    }                                                                                                                  \
    static void xg_test_fn_##name(void)

static inline bool xg_test_check(bool ok, const char *file, int line, const char *expr)
{
    if (!ok) {
        fprintf(stderr, "%s:%d: CHECK(%s) failed\n", file, line, expr);
        xg_test_failed_checks++;
    }
    return ok;
}

static inline bool xg_test_check_int(long long a, long long b, const char *file, int line, const char *ea,
                                     const char *eb)
{
    if (a != b) {
        fprintf(stderr, "%s:%d: CHECK_EQ_INT(%s, %s) failed: %lld != %lld\n", file, line, ea, eb, a, b);
        xg_test_failed_checks++;
    }
    return a == b;
}

static inline bool xg_test_check_str(const char *a, const char *b, const char *file, int line, const char *ea,
                                     const char *eb)
{
    bool ok = (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
    if (!ok) {
        fprintf(stderr, "%s:%d: CHECK_STR(%s, %s) failed: \"%s\" != \"%s\"\n", file, line, ea, eb, a ? a : "(null)",
                b ? b : "(null)");
        xg_test_failed_checks++;
    }
    return ok;
}

#define CHECK(cond) xg_test_check(!!(cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ_INT(a, b) xg_test_check_int((long long)(a), (long long)(b), __FILE__, __LINE__, #a, #b)
#define CHECK_STR(a, b) xg_test_check_str((a), (b), __FILE__, __LINE__, #a, #b)

static bool xg_test_selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (xg_test_case *t = xg_test_first; t != NULL; t = t->next) {
        if (!xg_test_selected(t->name, argc, argv))
            continue;
        int before = xg_test_failed_checks;
        t->fn();
        if (xg_test_failed_checks == before) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "FAIL %s\n", t->name);
        }
    }
    /* stdout and stderr may be one pipe: flush stderr's lines before the summary. */
    fflush(stderr);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
