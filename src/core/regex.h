/* Regular expressions for xDS safe_regex, regex_rewrite and friends: a tiny
 * C interface over RE2, the engine Envoy's safe_regex uses, with RE2's default
 * options (UTF-8, case-sensitive, leftmost-first, 8 MiB memory budget).
 * Compile once at translate time (xds thread); match from any thread: a
 * compiled xg_regex is immutable and RE2 matching is thread-safe. */
#ifndef XG_CORE_REGEX_H
#define XG_CORE_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xg_regex xg_regex;

/* Envoy's default error threshold for a regex program's size (its runtime key
 * re2.max_program_size.error_level, default 100): a bigger program is
 * rejected, which keeps one pattern from costing megabytes per match. */
#define XG_REGEX_MAX_PROGRAM_SIZE 100

/* Compiles pattern (NUL-terminated) with RE2's default options. max_program_size
 * 0 means XG_REGEX_MAX_PROGRAM_SIZE. On success *out is owned by the caller
 * (xg_regex_free). On failure returns XG_EINVAL with err holding RE2's reason
 * (e.g. "missing ): (abc") or the program-size message, or XG_ENOMEM. */
int xg_regex_compile(const char *pattern, int max_program_size, xg_regex **out, char *err, size_t errlen);
void xg_regex_free(xg_regex *re);
/* xg_regex_free as a void (*)(void *), for arena cleanup hooks. */
void xg_regex_free_cb(void *re);

/* The pattern text it was compiled from (owned by re). */
const char *xg_regex_pattern(const xg_regex *re);
/* Number of capturing groups. */
int xg_regex_groups(const xg_regex *re);

/* True when the whole of s[0..len) matches (safe_regex semantics everywhere in xDS). */
bool xg_regex_full_match(const xg_regex *re, const char *s, size_t len);
/* True when some substring of s matches. */
bool xg_regex_partial_match(const xg_regex *re, const char *s, size_t len);

/* Checks that a substitution string (RE2 syntax: \0..\9 and \\) only names
 * groups that re has. 0, or XG_EINVAL with err saying why. */
int xg_regex_check_rewrite(const xg_regex *re, const char *rewrite, char *err, size_t errlen);
/* RegexMatchAndSubstitute: appends s with every non-overlapping match replaced
 * by rewrite (RE2::GlobalReplace, as Envoy) to out. *n_replaced (may be NULL)
 * gets the number of replacements. 0 or XG_ENOMEM / XG_EINVAL (bad rewrite). */
int xg_regex_replace(const xg_regex *re, const char *s, size_t len, const char *rewrite, xg_buf *out, int *n_replaced);

#ifdef __cplusplus
}
#endif

#endif
