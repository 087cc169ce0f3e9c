/* Translated envoy.type.matcher.v3.StringMatcher: the string test used by
 * header and query matchers, SAN matchers and rate-limit actions. Immutable,
 * lives in a resource's arena; matching is allocation-free and thread-safe. */
#ifndef XG_CONFIG_MATCHER_H
#define XG_CONFIG_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/regex.h"

/* A string with its length, NUL-terminated too; lives in a resource's arena. */
typedef struct xg_lstr {
    const char *s;
    size_t len;
} xg_lstr;

typedef enum xg_string_match_kind {
    XG_STRING_MATCH_EXACT,
    XG_STRING_MATCH_PREFIX,
    XG_STRING_MATCH_SUFFIX,
    XG_STRING_MATCH_CONTAINS,
    XG_STRING_MATCH_REGEX, /* safe_regex: RE2, full match */
} xg_string_match_kind;

typedef struct xg_string_matcher {
    xg_string_match_kind kind;
    /* exact/prefix/suffix/contains compare ASCII case-insensitively; as in
     * Envoy, ignore_case has no effect on safe_regex. */
    bool ignore_case;
    const char *value; /* the literal (NUL-terminated, len bytes; lowercased when ignore_case) */
    size_t len;
    const xg_regex *regex; /* XG_STRING_MATCH_REGEX: compiled; freed with the arena */
} xg_string_matcher;

/* An IPv4 or IPv6 CIDR range (envoy.config.core.v3.CidrRange); host bits are
 * zeroed at translate time. */
typedef struct xg_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint8_t prefix_len;
} xg_cidr;

/* True when s[0..len) satisfies m. */
bool xg_string_matcher_match(const xg_string_matcher *m, const char *s, size_t len);

/* True when the address (AF_INET or AF_INET6; a v4-mapped v6 address matches
 * v4 ranges) lies in c. */
bool xg_cidr_contains(const xg_cidr *c, const struct sockaddr *sa);

/* ASCII-only helpers shared by the matchers (header names, hosts). */
bool xg_ascii_eq_nocase(const char *a, const char *b, size_t n);
/* True when needle (lowercase, nlen bytes) occurs in s, ignoring ASCII case when nocase. */
bool xg_ascii_contains(const char *s, size_t len, const char *needle, size_t nlen, bool nocase);

#endif
