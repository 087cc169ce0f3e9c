/* Route matching with Envoy's semantics (router/route_match.h): virtual
 * host choice, require_tls, and the per-route predicate. The predicate is
 * the single definition of "route r matches": the compiled index only
 * narrows which routes are asked, in the same order. */
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "http/path.h"
#include "router/route_index.h"
#include "router/route_match.h"

void xg_route_req_init(xg_route_req *q, const xg_headers *h, xg_arena *a, uint64_t random)
{
    memset(q, 0, sizeof(*q));
    q->headers = h;
    q->arena = a;
    q->random = random;
}

/* --- virtual host --- */

/* Envoy's HeaderUtility::getPortStart: the last ':' unless it lies inside
 * an IPv6 literal's brackets; len when there is no port. */
static size_t port_start(const char *s, size_t len)
{
    const char *colon = memrchr(s, ':', len);
    if (colon == NULL)
        return len;
    const char *bracket = memrchr(s, ']', len);
    return (bracket == NULL || bracket < colon) ? (size_t)(colon - s) : len;
}

const xg_vhost *xg_route_find_vhost(const xg_route_config *rc, const xg_headers *h)
{
    const xg_domain_index *d = &rc->domains;
    if (h->authority.s == NULL) /* only a lone "*" virtual host takes a request without one, as in Envoy */
        return (d->exact.n == 0 && d->n_suffix == 0 && d->n_prefix == 0) ? d->any : NULL;
    size_t len = h->authority.len;
    if (rc->ignore_port_in_host_matching)
        len = port_start(h->authority.s, len);
    return xg_route_config_find_vhost(rc, h->authority.s, len);
}

static bool hstr_is(xg_hstr v, const char *lit)
{
    size_t n = strlen(lit);
    return v.len == n && memcmp(v.s, lit, n) == 0;
}

bool xg_route_needs_tls_redirect(const xg_vhost *vh, const xg_headers *h)
{
    if (vh->require_tls == XG_TLS_REQUIRE_NONE)
        return false;
    const xg_header *xfp = xg_headers_get_id(h, XG_HDR_X_FORWARDED_PROTO);
    xg_hstr scheme = xfp ? (xg_hstr){xfp->value, xfp->value_len} : h->scheme;
    if (hstr_is(scheme, "https"))
        return false;
    if (vh->require_tls == XG_TLS_REQUIRE_EXTERNAL_ONLY) {
        const xg_header *in = xg_headers_get(h, "x-envoy-internal", 16);
        if (in != NULL && hstr_is((xg_hstr){in->value, in->value_len}, "true"))
            return false;
    }
    return true;
}

/* --- header matchers --- */

/* The value of a pseudo-header by name; s NULL when absent. */
static xg_hstr pseudo(const xg_headers *h, const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {":method", offsetof(xg_headers, method)},       {":path", offsetof(xg_headers, path)},
        {":authority", offsetof(xg_headers, authority)}, {":scheme", offsetof(xg_headers, scheme)},
        {":protocol", offsetof(xg_headers, protocol)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strlen(fields[i].name) == len && memcmp(fields[i].name, name, len) == 0)
            return *(const xg_hstr *)((const char *)h + fields[i].off);
    return (xg_hstr){NULL, 0};
}

bool xg_request_header_first(const xg_headers *h, const char *name, size_t len, xg_hstr *out)
{
    if (len > 0 && name[0] == ':') {
        *out = pseudo(h, name, len);
        return out->s != NULL;
    }
    const xg_header *e = xg_headers_get(h, name, len);
    if (e != NULL)
        *out = (xg_hstr){e->value, e->value_len};
    return e != NULL;
}

/* Every value of header name joined with ",", Envoy's
 * getAllOfHeaderAsString. False when absent. */
static bool header_value(const xg_headers *h, const xg_lstr *name, xg_arena *a, xg_hstr *out, int *err)
{
    if (name->s[0] == ':') {
        *out = pseudo(h, name->s, name->len);
        return out->s != NULL;
    }
    int first = xg_headers_find(h, name->s, name->len, 0);
    if (first < 0)
        return false;
    *out = (xg_hstr){h->v[first].value, h->v[first].value_len};
    int next = xg_headers_find(h, name->s, name->len, first + 1);
    if (next < 0)
        return true;
    size_t total = 0;
    for (int i = first; i >= 0; i = xg_headers_find(h, name->s, name->len, i + 1))
        total += h->v[i].value_len + 1;
    char *buf = xg_arena_alloc(a, total);
    if (buf == NULL) {
        *err = XG_ENOMEM;
        return false;
    }
    size_t n = 0;
    for (int i = first; i >= 0; i = xg_headers_find(h, name->s, name->len, i + 1)) {
        if (n > 0)
            buf[n++] = ',';
        memcpy(buf + n, h->v[i].value, h->v[i].value_len);
        n += h->v[i].value_len;
    }
    *out = (xg_hstr){buf, (uint32_t)n};
    return true;
}

/* Envoy's HeaderUtility::matchHeaders. A missing header (without
 * treat_missing_header_as_empty) is not matched and then inverted: it fails
 * every value matcher, inverted or not; only a presence test can hold
 * (present_match: false, or present_match: true inverted). With
 * treat_missing_header_as_empty the value is "" and a presence test reads
 * as present, as in Envoy. */
bool xg_header_matcher_match(const xg_header_matcher *m, const xg_headers *h, xg_arena *a, int *err)
{
    xg_hstr v = {"", 0};
    bool present = header_value(h, &m->name, a, &v, err);
    if (!present && !m->treat_missing_as_empty)
        return m->kind == XG_HEADER_MATCH_PRESENT && m->present == m->invert;
    if (!present)
        v = (xg_hstr){"", 0};
    bool match;
    int64_t n;
    if (m->kind == XG_HEADER_MATCH_PRESENT)
        match = m->present;
    else if (m->kind == XG_HEADER_MATCH_RANGE)
        match = xg_parse_int64(v.s, v.len, &n) && n >= m->range_start && n < m->range_end;
    else
        match = xg_string_matcher_match(&m->string, v.s, v.len);
    return match != m->invert;
}

/* --- query parameters --- */

static void parse_query(xg_route_req *q)
{
    xg_hstr query;
    xg_path_split(q->headers->path, NULL, &query);
    q->query_parsed = true;
    if (query.len == 0)
        return;
    uint32_t cap = 1;
    for (uint32_t i = 0; i < query.len; i++)
        cap += query.s[i] == '&';
    xg_query_param *v = xg_arena_calloc(q->arena, cap, sizeof(*v));
    if (v == NULL) {
        q->err = XG_ENOMEM;
        return;
    }
    uint32_t n = 0;
    for (uint32_t start = 0; start < query.len;) {
        const char *amp = memchr(query.s + start, '&', query.len - start);
        uint32_t end = amp ? (uint32_t)(amp - query.s) : query.len;
        const char *eq = memchr(query.s + start, '=', end - start);
        uint32_t name_end = eq ? (uint32_t)(eq - query.s) : end;
        v[n].name = (xg_hstr){query.s + start, name_end - start};
        v[n].value = eq ? (xg_hstr){eq + 1, end - name_end - 1} : (xg_hstr){"", 0};
        n++;
        start = end + 1;
    }
    q->query = v;
    q->n_query = n;
}

const xg_query_param *xg_route_req_query(xg_route_req *q, uint32_t *n)
{
    if (!q->query_parsed)
        parse_query(q);
    *n = q->n_query;
    return q->query;
}

/* Envoy matches the first value of a repeated parameter only. */
static bool query_match(const xg_query_matcher *m, const xg_query_param *v, uint32_t n)
{
    const xg_query_param *p = NULL;
    for (uint32_t i = 0; i < n && p == NULL; i++)
        if (v[i].name.len == m->name.len && memcmp(v[i].name.s, m->name.s, m->name.len) == 0)
            p = &v[i];
    if (!m->is_string)
        return (p != NULL) == m->present;
    return p != NULL && xg_string_matcher_match(&m->string, p->value.s, p->value.len);
}

/* --- the route predicate --- */

xg_hstr xg_route_req_path(const xg_route_config *rc, xg_route_req *q)
{
    if (q->path_ready && q->ignore_params == rc->ignore_path_parameters_in_path_matching)
        return q->path;
    q->path = xg_path_strip_query(q->headers->path);
    if (rc->ignore_path_parameters_in_path_matching && q->path.s != NULL) {
        const char *semi = memchr(q->path.s, ';', q->path.len);
        if (semi != NULL)
            q->path.len = (uint32_t)(semi - q->path.s);
    }
    q->path_ready = true;
    q->ignore_params = rc->ignore_path_parameters_in_path_matching;
    return q->path;
}

static bool lit_eq(const char *s, const xg_lstr *lit, bool case_sensitive)
{
    return case_sensitive ? memcmp(s, lit->s, lit->len) == 0 : xg_ascii_eq_nocase(s, lit->s, lit->len);
}

static bool path_match(const xg_route_config *rc, const xg_route_match *m, xg_route_req *q)
{
    if (m->kind == XG_PATH_CONNECT)
        return q->headers->method_id == XG_METHOD_CONNECT && q->headers->protocol.s == NULL;
    xg_hstr p = xg_route_req_path(rc, q);
    if (p.s == NULL)
        return false;
    const xg_lstr *lit = &m->path;
    switch (m->kind) {
    case XG_PATH_PREFIX:
        return p.len >= lit->len && lit_eq(p.s, lit, m->case_sensitive);
    case XG_PATH_EXACT:
        return p.len == lit->len && lit_eq(p.s, lit, m->case_sensitive);
    case XG_PATH_SEPARATED_PREFIX:
        return p.len >= lit->len && lit_eq(p.s, lit, m->case_sensitive) && (p.len == lit->len || p.s[lit->len] == '/');
    case XG_PATH_REGEX:
        return xg_regex_full_match(m->regex, p.s, p.len);
    default:
        return false;
    }
}

bool xg_route_is_grpc(const xg_headers *h)
{
    static const char grpc[] = "application/grpc";
    const xg_header *ct = xg_headers_get_id(h, XG_HDR_CONTENT_TYPE);
    if (h->path.s == NULL || ct == NULL || ct->value_len < sizeof(grpc) - 1 ||
        memcmp(ct->value, grpc, sizeof(grpc) - 1) != 0)
        return false;
    return ct->value_len == sizeof(grpc) - 1 || ct->value[sizeof(grpc) - 1] == '+';
}

static bool tls_match(xg_tristate want, bool have)
{
    return want == XG_UNSET || (want == XG_TRUE) == have;
}

bool xg_route_matches(const xg_route_config *rc, const xg_route *r, xg_route_req *q)
{
    const xg_route_match *m = &r->match;
    if (q->err != 0 || !path_match(rc, m, q))
        return false;
    if (m->has_fraction && q->random % 1000000 >= m->fraction_ppm)
        return false;
    if (m->grpc && !xg_route_is_grpc(q->headers))
        return false;
    for (size_t i = 0; i < m->n_headers; i++)
        if (!xg_header_matcher_match(&m->headers[i], q->headers, q->arena, &q->err) || q->err != 0)
            return false;
    if (m->n_query > 0) {
        uint32_t n;
        const xg_query_param *v = xg_route_req_query(q, &n);
        for (size_t i = 0; i < m->n_query; i++)
            if (q->err != 0 || !query_match(&m->query[i], v, n))
                return false;
    }
    return tls_match(m->tls_presented, q->tls_presented) && tls_match(m->tls_validated, q->tls_validated);
}

const xg_route *xg_route_find_linear(const xg_route_config *rc, const xg_vhost *vh, xg_route_req *q)
{
    for (size_t i = 0; i < vh->n_routes && q->err == 0; i++)
        if (xg_route_matches(rc, &vh->routes[i], q))
            return &vh->routes[i];
    return NULL;
}

const xg_route *xg_route_find(const xg_route_config *rc, const xg_vhost *vh, xg_route_req *q)
{
    if (rc->index != NULL)
        return xg__route_index_find(rc, vh, q);
    return xg_route_find_linear(rc, vh, q);
}

/* --- absl::SimpleAtoi --- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Trims, reads the sign and the magnitude (at most UINT64_MAX). */
static bool parse_mag(const char *s, size_t len, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    while (len > 0 && is_space(s[len - 1]))
        len--;
    while (i < len && is_space(s[i]))
        i++;
    *neg = i < len && s[i] == '-';
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i == len)
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *mag = v;
    return true;
}

bool xg_parse_int64(const char *s, size_t len, int64_t *out)
{
    bool neg;
    uint64_t mag;
    if (!parse_mag(s, len, &neg, &mag) || mag > (uint64_t)INT64_MAX + neg)
        return false;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return true;
}

bool xg_parse_uint64(const char *s, size_t len, uint64_t *out)
{
    bool neg;
    uint64_t mag;
    if (!parse_mag(s, len, &neg, &mag) || neg)
        return false;
    *out = mag;
    return true;
}
