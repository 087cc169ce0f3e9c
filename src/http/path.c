/* Envoy's request path sanitising (http/path.h). The canonicaliser follows
 * the behaviour of the Chromium URL path canonicaliser that Envoy uses for
 * normalize_path, character class by character class, so that a path routes
 * and is forwarded exactly as Envoy would route and forward it. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "http/path.h"

/* Character classes of the canonicaliser. SPECIAL characters need a look;
 * ESCAPE ones are written as %XX; UNESCAPE ones are decoded when they arrive
 * percent-encoded (unreserved characters); INVALID (NUL) fails the path. */
enum {
    PASS = 0,
    SPECIAL = 1,
    ESCAPE_BIT = 2,
    ESCAPE = ESCAPE_BIT | SPECIAL,
    UNESCAPE = 4,
    INVALID_BIT = 8,
    INVALID = INVALID_BIT | SPECIAL,
};

static const unsigned char cls[256] = {
    [0x00] = INVALID, [0x01 ... 0x20] = ESCAPE, ['"'] = ESCAPE,           ['#'] = ESCAPE, ['%'] = ESCAPE,
    ['-'] = UNESCAPE, ['.'] = SPECIAL,          ['0' ... '9'] = UNESCAPE, ['<'] = ESCAPE, ['>'] = ESCAPE,
    ['?'] = ESCAPE,   ['A' ... 'Z'] = UNESCAPE, ['\\'] = ESCAPE,          ['^'] = ESCAPE, ['_'] = UNESCAPE,
    ['`'] = ESCAPE,   ['a' ... 'z'] = UNESCAPE, ['{'] = ESCAPE,           ['|'] = ESCAPE, ['}'] = ESCAPE,
    ['~'] = UNESCAPE, [0x7f ... 0xff] = ESCAPE,
};

#define NO_PCT SIZE_MAX

/* The output being built; always starts with '/'. */
typedef struct canon {
    char *s;
    size_t n;
    size_t pct; /* position in s of the last '%' that began no valid escape, or NO_PCT */
} canon;

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static bool is_slash(char c)
{
    return c == '/' || c == '\\';
}

/* A "." or a "%2e" / "%2E" at p[i]: its length, else 0. */
static size_t dot_len(const char *p, size_t i, size_t end)
{
    if (p[i] == '.')
        return 1;
    if (p[i] == '%' && i + 3 <= end && p[i + 1] == '2' && (p[i + 2] == 'e' || p[i + 2] == 'E'))
        return 3;
    return 0;
}

enum { NOT_DIR, DIR_CUR, DIR_UP };

/* What a dot that follows a slash means, given what comes after it;
 * *consumed: input bytes after the first dot that belong to it. */
static int classify_dot(const char *p, size_t after, size_t end, size_t *consumed)
{
    *consumed = 0;
    if (after == end)
        return DIR_CUR;
    if (is_slash(p[after])) {
        *consumed = 1;
        return DIR_CUR;
    }
    size_t d2 = dot_len(p, after, end);
    if (d2 == 0)
        return NOT_DIR;
    if (after + d2 == end || is_slash(p[after + d2])) {
        *consumed = d2 + (after + d2 < end);
        return DIR_UP;
    }
    return NOT_DIR;
}

/* ".." : drop the last segment; never above the first slash. */
static void back_up(canon *c)
{
    size_t i = c->n - 1;
    if (i == 0)
        return;
    do
        i--;
    while (c->s[i] != '/' && i > 0);
    c->n = i + 1;
    if (c->pct != NO_PCT && c->pct >= c->n)
        c->pct = NO_PCT;
}

/* Handles a dot (length dl) at p[i]; returns the index of its last input byte. */
static size_t on_dot(canon *c, const char *p, size_t i, size_t dl, size_t end)
{
    size_t consumed;
    if (c->s[c->n - 1] != '/') {
        c->s[c->n++] = '.';
        return i + dl - 1;
    }
    switch (classify_dot(p, i + dl, end, &consumed)) {
    case NOT_DIR:
        c->s[c->n++] = '.';
        return i + dl - 1;
    case DIR_UP:
        back_up(c);
        break;
    }
    return i + dl + consumed - 1;
}

/* An earlier "%" that began no escape must not turn into one now that a
 * decoded character follows it ("%%30%30" must not become "%00"): when the
 * output ends in "%" plus one or two bytes that now form an escape, that '%'
 * becomes "%25". next is the next unread input byte. */
static void fix_nested(canon *c, const char *p, size_t next, size_t end)
{
    size_t len = c->n, pct = c->pct;
    char last = c->s[len - 1];
    bool append = pct == len - 2;
    if (append) {
        if (next == end || (unsigned char)p[next] >= 0x80)
            return;
        c->s[c->n++] = p[next];
    }
    if (c->n >= pct + 3 && hexval((unsigned char)c->s[pct + 1]) >= 0 && hexval((unsigned char)c->s[pct + 2]) >= 0) {
        if (!append)
            c->s[c->n++] = c->s[pct + 1];
        c->s[pct + 1] = '2';
        c->s[pct + 2] = '5';
        c->s[c->n++] = last;
    } else if (append) {
        c->n = len;
    }
}

/* A '%' at p[i]; returns the index of the last input byte it used. */
static size_t on_percent(canon *c, const char *p, size_t i, size_t end, bool *ok)
{
    int hi = i + 3 <= end ? hexval((unsigned char)p[i + 1]) : -1;
    int lo = i + 3 <= end ? hexval((unsigned char)p[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
        c->pct = c->n;
        c->s[c->n++] = '%';
        return i;
    }
    unsigned char v = (unsigned char)(hi * 16 + lo);
    if (cls[v] & UNESCAPE) {
        c->s[c->n++] = (char)v;
        if (c->pct != NO_PCT && c->pct + 3 >= c->n)
            fix_nested(c, p, i + 3, end);
    } else {
        /* Kept escaped, with the client's hex case. */
        memcpy(c->s + c->n, p + i, 3);
        c->n += 3;
        if (cls[v] & INVALID_BIT)
            *ok = false;
    }
    return i + 2;
}

static void push_escaped(canon *c, unsigned char v)
{
    static const char hex[] = "0123456789ABCDEF";
    c->s[c->n++] = '%';
    c->s[c->n++] = hex[v >> 4];
    c->s[c->n++] = hex[v & 15];
}

bool xg_path_canonicalize(const char *p, size_t len, char *out, size_t *out_len)
{
    canon c = {out, 0, NO_PCT};
    bool ok = true;
    if (len == 0 || !is_slash(p[0]))
        c.s[c.n++] = '/';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        size_t dl;
        if (!(cls[ch] & SPECIAL))
            c.s[c.n++] = (char)ch;
        else if ((dl = dot_len(p, i, len)) > 0)
            i = on_dot(&c, p, i, dl, len);
        else if (ch == '\\')
            c.s[c.n++] = '/';
        else if (ch == '%')
            i = on_percent(&c, p, i, len, &ok);
        else {
            ok = ok && !(cls[ch] & INVALID_BIT);
            push_escaped(&c, ch);
        }
    }
    *out_len = c.n;
    return ok;
}

/* True when canonicalising p could change it: a special character other
 * than a dot that does not start a segment. */
static bool needs_canon(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/')
        return true;
    for (size_t i = 0; i < len; i++)
        if ((cls[(unsigned char)p[i]] & SPECIAL) && !(p[i] == '.' && p[i - 1] != '/'))
            return true;
    return false;
}

static size_t path_end(const char *p, size_t len)
{
    const char *q = memchr(p, '?', len);
    return q ? (size_t)(q - p) : len;
}

size_t xg_path_unescape_slashes(const char *p, size_t len, char *out)
{
    size_t plen = path_end(p, len), n = 0, i = 0;
    while (i < plen) {
        if (p[i] == '%' && i + 3 <= plen &&
            ((p[i + 1] == '2' && (p[i + 2] | 0x20) == 'f') || (p[i + 1] == '5' && (p[i + 2] | 0x20) == 'c'))) {
            out[n++] = p[i + 1] == '2' ? '/' : '\\';
            i += 3;
        } else {
            out[n++] = p[i++];
        }
    }
    memcpy(out + n, p + plen, len - plen);
    return n + len - plen;
}

size_t xg_path_merge_slashes(const char *p, size_t len, char *out)
{
    size_t plen = path_end(p, len), n = 0;
    if (memmem(p, plen, "//", 2) == NULL) {
        memcpy(out, p, len);
        return len;
    }
    /* As Envoy: "/" + the non-empty segments joined by "/" + "/" if it ended in one. */
    if (p[0] == '/')
        out[n++] = '/';
    bool first = true;
    for (size_t i = 0; i < plen;) {
        size_t j = i;
        while (j < plen && p[j] != '/')
            j++;
        if (j > i) {
            if (!first)
                out[n++] = '/';
            memcpy(out + n, p + i, j - i);
            n += j - i;
            first = false;
        }
        i = j + 1;
    }
    if (p[plen - 1] == '/')
        out[n++] = '/';
    memcpy(out + n, p + plen, len - plen);
    return n + len - plen;
}

/* normalize_path on cur (path part canonicalised, query kept). */
static int normalize(xg_hstr *cur, xg_arena *a, bool *ok)
{
    size_t plen = path_end(cur->s, cur->len), qlen = cur->len - plen, n;
    *ok = true;
    if (!needs_canon(cur->s, plen))
        return 0;
    char *buf = xg_arena_alloc(a, XG_PATH_CANON_MAX(plen) + qlen + 1);
    if (buf == NULL)
        return XG_ENOMEM;
    *ok = xg_path_canonicalize(cur->s, plen, buf, &n);
    memcpy(buf + n, cur->s + plen, qlen);
    buf[n + qlen] = '\0';
    *cur = (xg_hstr){buf, (uint32_t)(n + qlen)};
    return 0;
}

/* Applies one of the in-place-sized rewrites (unescape, merge) to cur. */
static int rewrite(xg_hstr *cur, xg_arena *a, size_t (*fn)(const char *, size_t, char *), bool *changed)
{
    char *buf = xg_arena_alloc(a, (size_t)cur->len + 1);
    if (buf == NULL)
        return XG_ENOMEM;
    size_t n = fn(cur->s, cur->len, buf);
    buf[n] = '\0';
    *changed = n != cur->len || memcmp(buf, cur->s, n) != 0;
    if (*changed)
        *cur = (xg_hstr){buf, (uint32_t)n};
    return 0;
}

int xg_path_sanitize(const char *path, size_t len, const xg_path_opts *o, xg_arena *a, xg_hstr *out,
                     xg_path_verdict *verdict)
{
    xg_hstr cur = {path, (uint32_t)len};
    bool redirect = false, changed, ok;
    int rc = 0;
    *out = cur;
    *verdict = XG_PATH_REJECT;
    if (len > UINT32_MAX / 4 || memchr(path, '#', len) != NULL)
        return 0;
    if (o->escaped_slashes != XG_ESCAPED_SLASHES_KEEP_UNCHANGED && memchr(path, '%', path_end(path, len))) {
        if ((rc = rewrite(&cur, a, xg_path_unescape_slashes, &changed)) != 0)
            return rc;
        if (changed && o->escaped_slashes == XG_ESCAPED_SLASHES_REJECT_REQUEST)
            return 0;
        redirect = changed && o->escaped_slashes == XG_ESCAPED_SLASHES_UNESCAPE_AND_REDIRECT;
    }
    if (o->normalize) {
        if ((rc = normalize(&cur, a, &ok)) != 0)
            return rc;
        if (!ok)
            return 0;
    }
    if (o->merge_slashes && memmem(cur.s, path_end(cur.s, cur.len), "//", 2) != NULL &&
        (rc = rewrite(&cur, a, xg_path_merge_slashes, &changed)) != 0)
        return rc;
    *out = cur;
    *verdict = redirect ? XG_PATH_REDIRECT : XG_PATH_CONTINUE;
    return 0;
}

void xg_path_split(xg_hstr full, xg_hstr *path_part, xg_hstr *query)
{
    const char *q = full.s ? memchr(full.s, '?', full.len) : NULL;
    uint32_t plen = q ? (uint32_t)(q - full.s) : full.len;
    if (path_part != NULL)
        *path_part = (xg_hstr){full.s, plen};
    if (query != NULL)
        *query = q ? (xg_hstr){q + 1, full.len - plen - 1} : (xg_hstr){NULL, 0};
}

xg_hstr xg_path_strip_query(xg_hstr full)
{
    for (uint32_t i = 0; i < full.len; i++)
        if (full.s[i] == '?' || full.s[i] == '#')
            return (xg_hstr){full.s, i};
    return full;
}
