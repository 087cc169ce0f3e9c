/* String matching for translated StringMatchers (config/matcher.h). */
#include <netinet/in.h>
#include <string.h>

#include "config/matcher.h"

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

bool xg_ascii_eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static bool eq(const char *a, const char *b, size_t n, bool nocase)
{
    return nocase ? xg_ascii_eq_nocase(a, b, n) : memcmp(a, b, n) == 0;
}

bool xg_ascii_contains(const char *s, size_t len, const char *needle, size_t nlen, bool nocase)
{
    if (nlen == 0)
        return true;
    if (!nocase)
        return nlen <= len && memmem(s, len, needle, nlen) != NULL;
    for (size_t i = 0; i + nlen <= len; i++)
        if (lower(s[i]) == needle[0] && xg_ascii_eq_nocase(s + i, needle, nlen))
            return true;
    return false;
}

bool xg_string_matcher_match(const xg_string_matcher *m, const char *s, size_t len)
{
    switch (m->kind) {
    case XG_STRING_MATCH_EXACT:
        return len == m->len && eq(s, m->value, len, m->ignore_case);
    case XG_STRING_MATCH_PREFIX:
        return len >= m->len && eq(s, m->value, m->len, m->ignore_case);
    case XG_STRING_MATCH_SUFFIX:
        return len >= m->len && eq(s + len - m->len, m->value, m->len, m->ignore_case);
    case XG_STRING_MATCH_CONTAINS:
        return xg_ascii_contains(s, len, m->value, m->len, m->ignore_case);
    case XG_STRING_MATCH_REGEX:
        return xg_regex_full_match(m->regex, s, len);
    }
    return false;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool xg_cidr_contains(const xg_cidr *c, const struct sockaddr *sa)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return c->family == AF_INET && prefix_eq((const uint8_t *)&in->sin_addr, c->addr, c->prefix_len);
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const uint8_t *a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (c->family == AF_INET6)
        return prefix_eq(a6, c->addr, c->prefix_len);
    return memcmp(a6, v4mapped, 12) == 0 && prefix_eq(a6 + 12, c->addr, c->prefix_len);
}
