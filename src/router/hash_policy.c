/* Route hash_policy evaluation (hash_policy.h): Envoy's HashPolicyImpl and
 * its header, cookie, connection-properties and query-parameter methods. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/regex.h"
#include "http/path.h"
#include "net/listen.h"
#include "router/hash_policy.h"
#include "router/route_match.h"

static int cmp_hstr(const void *a, const void *b)
{
    const xg_hstr *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Copies v rewritten by p's regex into the arena. */
static int rewrite(const xg_hash_policy *p, xg_arena *a, xg_hstr *v)
{
    xg_buf b;
    xg_buf_init(&b);
    int rc = xg_regex_replace(p->rewrite, v->s, v->len, p->substitution, &b, NULL);
    char *copy = rc == 0 ? xg_arena_alloc(a, b.len + 1) : NULL;
    if (copy != NULL) {
        memcpy(copy, b.len ? b.data : "", b.len);
        *v = (xg_hstr){copy, (uint32_t)b.len};
    }
    xg_buf_dispose(&b);
    return rc != 0 ? rc : copy != NULL ? 0 : XG_ENOMEM;
}

/* Envoy hashes every value of the header, sorted so that their order does
 * not matter, chaining xxHash64 seeds. */
static int hash_header(const xg_hash_policy *p, const xg_hash_input *in, uint64_t *out, bool *has)
{
    const xg_headers *h = in->headers;
    xg_hstr one;
    if (p->name.s[0] == ':') {
        if ((*has = xg_request_header_first(h, p->name.s, p->name.len, &one)) && p->rewrite != NULL &&
            rewrite(p, in->arena, &one) != 0)
            return XG_ENOMEM;
        *out = *has ? XXH64(one.s, one.len, 0) : 0;
        return 0;
    }
    size_t n = xg_headers_count(h, p->name.s, p->name.len);
    if ((*has = n > 0) == false)
        return 0;
    xg_hstr *v = xg_arena_alloc(in->arena, n * sizeof *v);
    if (v == NULL)
        return XG_ENOMEM;
    size_t k = 0;
    for (int i = xg_headers_find(h, p->name.s, p->name.len, 0); i >= 0 && k < n;
         i = xg_headers_find(h, p->name.s, p->name.len, i + 1)) {
        v[k] = (xg_hstr){h->v[i].value, h->v[i].value_len};
        if (p->rewrite != NULL && rewrite(p, in->arena, &v[k]) != 0)
            return XG_ENOMEM;
        k++;
    }
    qsort(v, k, sizeof *v, cmp_hstr);
    uint64_t hash = 0;
    for (size_t i = 0; i < k; i++)
        hash = XXH64(v[i].s, v[i].len, hash);
    *out = hash;
    return 0;
}

/* One "name=value" piece of a cookie header (leading spaces skipped). */
static bool cookie_piece(const char *s, size_t len, const char *name, size_t nlen, xg_hstr *out)
{
    while (len > 0 && *s == ' ')
        s++, len--;
    const char *eq = memchr(s, '=', len);
    if (eq == NULL || (size_t)(eq - s) != nlen || memcmp(s, name, nlen) != 0)
        return false;
    const char *v = eq + 1;
    size_t vlen = len - nlen - 1;
    if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
        v++, vlen -= 2;
    *out = (xg_hstr){v, (uint32_t)vlen};
    return true;
}

bool xg_hash_cookie_value(const xg_headers *h, const char *name, size_t nlen, xg_hstr *out)
{
    for (int i = xg_headers_find_id(h, XG_HDR_COOKIE, 0); i >= 0; i = xg_headers_find_id(h, XG_HDR_COOKIE, i + 1)) {
        const char *s = h->v[i].value, *end = s + h->v[i].value_len;
        while (s < end) {
            const char *semi = memchr(s, ';', (size_t)(end - s));
            const char *stop = semi != NULL ? semi : end;
            if (stop > s && cookie_piece(s, (size_t)(stop - s), name, nlen, out))
                return true;
            s = stop + 1;
        }
    }
    return false;
}

/* Envoy's makeSetCookieValue, for a generated cookie. */
static int set_cookie(const xg_hash_policy *p, const char *value, xg_arena *a, xg_hstr *out)
{
    xg_buf b;
    xg_buf_init(&b);
    int rc = xg_buf_printf(&b, "%.*s=\"%s\"", (int)p->name.len, p->name.s, value);
    if (rc == 0 && p->cookie_ttl_ms / 1000 > 0)
        rc = xg_buf_printf(&b, "; Max-Age=%llu", (unsigned long long)(p->cookie_ttl_ms / 1000));
    if (rc == 0 && p->cookie_path != NULL && p->cookie_path[0] != '\0')
        rc = xg_buf_printf(&b, "; Path=%s", p->cookie_path);
    for (size_t i = 0; rc == 0 && i < p->n_cookie_attributes; i++) {
        const xg_cookie_attribute *at = &p->cookie_attributes[i];
        rc = at->value[0] ? xg_buf_printf(&b, "; %s=%s", at->name, at->value) : xg_buf_printf(&b, "; %s", at->name);
    }
    if (rc == 0)
        rc = xg_buf_puts(&b, "; HttpOnly");
    char *copy = rc == 0 ? xg_arena_alloc(a, b.len + 1) : NULL;
    if (copy != NULL) {
        memcpy(copy, b.data, b.len + 1);
        *out = (xg_hstr){copy, (uint32_t)b.len};
    }
    xg_buf_dispose(&b);
    return rc != 0 ? rc : copy != NULL ? 0 : XG_ENOMEM;
}

/* The generated value: hex xxHash64 of remote + local "ip:port" (Envoy). */
static void cookie_value(const xg_hash_input *in, char hex[17])
{
    char r[64] = "", l[64] = "", both[128];
    if (in->remote != NULL && in->local != NULL) {
        xg_sockaddr_str(in->remote, r, sizeof r);
        xg_sockaddr_str(in->local, l, sizeof l);
    }
    int n = snprintf(both, sizeof both, "%s%s", r, l);
    snprintf(hex, 17, "%016llx", (unsigned long long)XXH64(both, (size_t)n, 0));
}

static int hash_cookie(const xg_hash_policy *p, const xg_hash_input *in, xg_hash_result *res, uint64_t *out, bool *has)
{
    xg_hstr v;
    if (xg_hash_cookie_value(in->headers, p->name.s, p->name.len, &v) && v.len > 0) {
        *has = true;
        *out = XXH64(v.s, v.len, 0);
        return 0;
    }
    if (!(*has = p->cookie_generate))
        return 0;
    char hex[17];
    cookie_value(in, hex);
    *out = XXH64(hex, 16, 0);
    return set_cookie(p, hex, in->arena, &res->set_cookies[res->n_set_cookies++]);
}

static bool hash_source_ip(const xg_hash_input *in, uint64_t *out)
{
    char ip[INET6_ADDRSTRLEN];
    const struct sockaddr *sa = in->remote;
    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return false;
    const void *a = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                                             : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (inet_ntop(sa->sa_family, a, ip, sizeof ip) == NULL)
        return false;
    *out = XXH64(ip, strlen(ip), 0);
    return true;
}

/* The first value of the query parameter, as Envoy's parseQueryString:
 * pieces between '&', the name up to the first '=', nothing decoded. */
static bool hash_query(const xg_hash_policy *p, const xg_hash_input *in, uint64_t *out)
{
    xg_hstr q;
    xg_path_split(in->headers->path, NULL, &q);
    const char *s = q.s, *end = q.s + q.len;
    while (s != NULL && s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(stop - s));
        const char *name_end = eq != NULL ? eq : stop;
        if ((size_t)(name_end - s) == p->name.len && memcmp(s, p->name.s, p->name.len) == 0) {
            *out = eq != NULL ? XXH64(eq + 1, (size_t)(stop - eq - 1), 0) : XXH64("", 0, 0);
            return true;
        }
        s = stop + 1;
    }
    return false;
}

static int eval_one(const xg_hash_policy *p, const xg_hash_input *in, xg_hash_result *res, uint64_t *v, bool *has)
{
    *has = false;
    switch (p->kind) {
    case XG_HASH_HEADER:
        return hash_header(p, in, v, has);
    case XG_HASH_COOKIE:
        return hash_cookie(p, in, res, v, has);
    case XG_HASH_SOURCE_IP:
        *has = hash_source_ip(in, v);
        return 0;
    case XG_HASH_QUERY_PARAMETER:
        *has = hash_query(p, in, v);
        return 0;
    }
    return 0;
}

int xg_hash_policy_eval(const xg_hash_policy *p, size_t n, const xg_hash_input *in, xg_hash_result *out)
{
    *out = (xg_hash_result){0};
    for (size_t i = 0; i < n; i++) {
        if (p[i].kind == XG_HASH_COOKIE && p[i].cookie_generate && out->set_cookies == NULL &&
            (out->set_cookies = xg_arena_alloc(in->arena, n * sizeof *out->set_cookies)) == NULL)
            return XG_ENOMEM;
        uint64_t v;
        bool has;
        if (eval_one(&p[i], in, out, &v, &has) != 0) {
            *out = (xg_hash_result){0};
            return XG_ENOMEM;
        }
        if (has) {
            /* Rotating keeps two equal policies from cancelling out. */
            out->hash = (out->has_hash ? (out->hash << 1 | out->hash >> 63) : 0) ^ v;
            out->has_hash = true;
        }
        if (p[i].terminal && out->has_hash)
            break;
    }
    return 0;
}

int xg_hash_policy_for(const xg_hash_policy *p, size_t n, bool hashed, const xg_hash_input *in, xg_hash_result *out)
{
    *out = (xg_hash_result){0};
    return hashed && n > 0 ? xg_hash_policy_eval(p, n, in, out) : 0;
}

int xg_hash_policy_set_cookies(const xg_hash_result *res, xg_headers *h)
{
    for (size_t i = 0; i < res->n_set_cookies; i++) {
        int rc = xg_headers_add_ref(h, "set-cookie", 10, res->set_cookies[i].s, res->set_cookies[i].len);
        if (rc != 0)
            return rc;
    }
    return 0;
}
