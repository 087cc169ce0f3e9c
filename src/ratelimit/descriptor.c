/* Rate-limit descriptors from route and virtual-host rate_limits
 * (ratelimit/descriptor.h), action by action as Envoy's
 * router_ratelimit: each action appends one entry, skips itself
 * (skip_if_absent), or makes its whole rate limit produce nothing. Values
 * are borrowed where they already exist (configuration, request headers)
 * and only made in the arena when computed (addresses, decoded query
 * values), so a request pays for what its actions read. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"
#include "http/path.h"
#include "http/stream.h"
#include "net/worker_listeners.h"
#include "ratelimit/descriptor.h"
#include "router/route_match.h"

/* One action's outcome. */
typedef enum act {
    ACT_ENTRY, /* *e was filled */
    ACT_SKIP,  /* no entry, the descriptor goes on (skip_if_absent) */
    ACT_NONE,  /* this rate limit produces no descriptor */
} act;

/* Per-build state: the request and its query, parsed and decoded once. */
typedef struct build {
    const xg_rl_request *r;
    bool query_parsed;
    xg_query_param *query;
    uint32_t n_query;
    int err; /* XG_ENOMEM once an allocation failed */
} build;

static xg_hstr hstr_of(const char *s)
{
    return (xg_hstr){s, (uint32_t)strlen(s)};
}

/* --- query parameters (Envoy's parseAndDecodeQueryString) --- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes v into the arena when it has a '%'; a '%' not followed
 * by two hex digits stays as it is, '+' is not a space (Envoy's
 * PercentEncoding::decode). */
static xg_hstr pct_decode(build *b, xg_hstr v)
{
    if (v.len == 0 || memchr(v.s, '%', v.len) == NULL)
        return v;
    char *o = xg_arena_alloc(b->r->arena, v.len + 1);
    if (o == NULL) {
        b->err = XG_ENOMEM;
        return (xg_hstr){"", 0};
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < v.len; i++) {
        int hi = v.s[i] == '%' && i + 2 < v.len ? hexval(v.s[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(v.s[i + 2]) : -1;
        if (lo >= 0) {
            o[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            o[n++] = v.s[i];
        }
    }
    o[n] = '\0';
    return (xg_hstr){o, n};
}

/* Splits the query of :path (up to a '#') at '&' then at the first '='; names and values
 * of "name=value" pairs are decoded, a bare "name" is kept as written (as
 * Envoy does). */
static void parse_query(build *b)
{
    b->query_parsed = true;
    if (b->r->headers == NULL)
        return;
    xg_hstr q;
    xg_path_split(b->r->headers->path, NULL, &q);
    const char *frag = q.len > 0 ? memchr(q.s, '#', q.len) : NULL; /* a fragment is not query */
    if (frag != NULL)
        q.len = (uint32_t)(frag - q.s);
    if (q.len == 0)
        return;
    uint32_t cap = 1;
    for (uint32_t i = 0; i < q.len; i++)
        cap += q.s[i] == '&';
    xg_query_param *v = xg_arena_calloc(b->r->arena, cap, sizeof(*v));
    if (v == NULL) {
        b->err = XG_ENOMEM;
        return;
    }
    uint32_t n = 0;
    for (uint32_t start = 0; start < q.len;) {
        const char *amp = memchr(q.s + start, '&', q.len - start);
        uint32_t end = amp ? (uint32_t)(amp - q.s) : q.len;
        const char *eq = memchr(q.s + start, '=', end - start);
        uint32_t name_end = eq ? (uint32_t)(eq - q.s) : end;
        v[n].name = (xg_hstr){q.s + start, name_end - start};
        v[n].value = (xg_hstr){"", 0};
        if (eq != NULL) {
            v[n].name = pct_decode(b, v[n].name);
            v[n].value = pct_decode(b, (xg_hstr){eq + 1, end - name_end - 1});
        }
        n++;
        start = end + 1;
    }
    b->query = v;
    b->n_query = n;
}

/* The first parameter called name, or NULL (Envoy reads the first value). */
static const xg_query_param *query_first(build *b, const char *name, size_t len)
{
    if (!b->query_parsed)
        parse_query(b);
    for (uint32_t i = 0; i < b->n_query; i++)
        if (b->query[i].name.len == len && memcmp(b->query[i].name.s, name, len) == 0)
            return &b->query[i];
    return NULL;
}

static bool query_matcher_match(build *b, const xg_query_matcher *m)
{
    const xg_query_param *p = query_first(b, m->name.s, m->name.len);
    if (!m->is_string)
        return (p != NULL) == m->present;
    return p != NULL && xg_string_matcher_match(&m->string, p->value.s, p->value.len);
}

/* --- addresses --- */

/* Decimal digits of v (< 1000) at p; returns the end. */
static char *put_dec(char *p, unsigned v)
{
    if (v >= 100)
        *p++ = (char)('0' + v / 100);
    if (v >= 10)
        *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

/* inet_ntop's text, without its sprintf for IPv4 (most of the cost of a
 * remote address entry otherwise). */
static bool addr_text(int fam, const unsigned char *raw, char *out, size_t len)
{
    if (fam == AF_INET6)
        return inet_ntop(fam, raw, out, (socklen_t)len) != NULL;
    char *p = out;
    for (int i = 0; i < 4; i++) {
        p = put_dec(p, raw[i]);
        *p++ = i < 3 ? '.' : '\0';
    }
    return true;
}

/* The address as text without port ("10.0.0.1", "2001:db8::1"), masked to
 * bits when bits >= 0, then "/bits" (Envoy's CidrRange::asString). */
static act addr_entry(build *b, int v4_bits, int v6_bits, bool masked, xg_hstr *out)
{
    const struct sockaddr *sa = b->r->remote;
    unsigned char raw[16];
    int fam, bits;
    size_t len;
    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return ACT_NONE;
    const struct in6_addr *a6 = sa->sa_family == AF_INET6 ? &((const struct sockaddr_in6 *)sa)->sin6_addr : NULL;
    if (a6 == NULL) {
        memcpy(raw, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        fam = AF_INET, len = 4, bits = v4_bits;
    } else if (IN6_IS_ADDR_V4MAPPED(a6)) {
        /* An IPv4 client of a dual-stack (ipv4_compat) listener arrives as
         * ::ffff:a.b.c.d; Envoy makes such peers IPv4, so it is "a.b.c.d" and
         * masked with the v4 prefix, not one ::/64 bucket for every IPv4 client. */
        memcpy(raw, a6->s6_addr + 12, 4);
        fam = AF_INET, len = 4, bits = v4_bits;
    } else {
        memcpy(raw, a6, 16);
        fam = AF_INET6, len = 16, bits = v6_bits;
    }
    if (masked)
        for (size_t i = 0; i < len; i++) {
            int keep = bits - (int)i * 8;
            raw[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
        }
    char txt[INET6_ADDRSTRLEN + 8];
    if (!addr_text(fam, raw, txt, INET6_ADDRSTRLEN))
        return ACT_NONE;
    size_t n = strlen(txt);
    if (masked) {
        txt[n++] = '/';
        n = (size_t)(put_dec(txt + n, (unsigned)bits) - txt);
    }
    char *s = xg_arena_strndup(b->r->arena, txt, n);
    if (s == NULL) {
        b->err = XG_ENOMEM;
        return ACT_NONE;
    }
    *out = (xg_hstr){s, (uint32_t)n};
    return ACT_ENTRY;
}

/* --- actions --- */

/* The cluster the route sends to: the weighted cluster picked at route
 * resolution, else the route's cluster; a cluster_header is read from the
 * headers as they are now (the router reads it the same way). */
static bool destination(build *b, xg_hstr *out)
{
    const xg_route_forward *f = &b->r->route->forward;
    const xg_lstr *hdr = NULL;
    if (b->r->wc != NULL && b->r->wc->name != NULL)
        *out = hstr_of(b->r->wc->name);
    else if (b->r->wc != NULL)
        hdr = &b->r->wc->cluster_header;
    else if (f->cluster_kind == XG_CLUSTER_NAME)
        *out = hstr_of(f->cluster);
    else if (f->cluster_kind == XG_CLUSTER_HEADER)
        hdr = &f->cold->cluster_header;
    else
        return false; /* weighted_clusters without a pick: not resolved through a stream */
    if (hdr != NULL && (b->r->headers == NULL || !xg_request_header_first(b->r->headers, hdr->s, hdr->len, out)))
        return false;
    return out->len > 0; /* no cluster name: the router answers cluster_not_found */
}

static act header_match(build *b, const xg_rl_action *a)
{
    bool all = b->r->headers != NULL;
    for (size_t i = 0; all && i < a->n_headers; i++)
        all = xg_header_matcher_match(&a->headers[i], b->r->headers, b->r->arena, &b->err);
    return b->err == 0 && all == a->expect_match ? ACT_ENTRY : ACT_NONE;
}

static act query_match(build *b, const xg_rl_action *a)
{
    bool all = true;
    for (size_t i = 0; all && i < a->n_query; i++)
        all = query_matcher_match(b, &a->query[i]);
    return b->err == 0 && all == a->expect_match ? ACT_ENTRY : ACT_NONE;
}

static act action(build *b, const xg_rl_action *a, xg_rl_entry *e)
{
    const xg_query_param *p;
    const char *lc = b->r->local_cluster;
    e->key = hstr_of(a->descriptor_key);
    e->value = a->descriptor_value != NULL ? hstr_of(a->descriptor_value) : (xg_hstr){"", 0};
    switch (a->kind) {
    case XG_RL_SOURCE_CLUSTER:
        e->value = hstr_of(lc != NULL ? lc : "");
        return ACT_ENTRY;
    case XG_RL_DESTINATION_CLUSTER:
        return destination(b, &e->value) ? ACT_ENTRY : ACT_NONE;
    case XG_RL_REQUEST_HEADERS:
        if (b->r->headers != NULL &&
            xg_request_header_first(b->r->headers, a->header_name.s, a->header_name.len, &e->value))
            return ACT_ENTRY;
        return a->skip_if_absent ? ACT_SKIP : ACT_NONE;
    case XG_RL_REMOTE_ADDRESS:
        return addr_entry(b, 0, 0, false, &e->value);
    case XG_RL_MASKED_REMOTE_ADDRESS:
        return addr_entry(b, a->v4_prefix_len, a->v6_prefix_len, true, &e->value);
    case XG_RL_GENERIC_KEY:
        return ACT_ENTRY;
    case XG_RL_HEADER_VALUE_MATCH:
        return header_match(b, a);
    case XG_RL_QUERY_PARAMETER_VALUE_MATCH:
        return query_match(b, a);
    case XG_RL_QUERY_PARAMETERS:
        if ((p = query_first(b, a->query_name.s, a->query_name.len)) != NULL) {
            /* A decoded %00 cannot travel: the rate limit service's packing and
             * every configured value are C strings, so "a%00x" would be sent
             * (and matched) as "a". Such a value makes no descriptor rather
             * than a wrong one. */
            if (memchr(p->value.s, '\0', p->value.len) != NULL)
                return ACT_NONE;
            e->value = p->value;
            return ACT_ENTRY;
        }
        return b->err == 0 && a->skip_if_absent ? ACT_SKIP : ACT_NONE;
    }
    return ACT_NONE;
}

/* Appends rl's descriptor to out (room reserved by the caller) unless an
 * action cannot produce its entry. */
static void one(build *b, const xg_rate_limit *rl, xg_rl_descriptor *items, uint32_t *n)
{
    xg_rl_entry *e = xg_arena_calloc(b->r->arena, rl->n_actions, sizeof(*e));
    if (e == NULL) {
        b->err = XG_ENOMEM;
        return;
    }
    uint32_t k = 0;
    for (size_t i = 0; i < rl->n_actions; i++) {
        act r = action(b, &rl->actions[i], &e[k]);
        if (b->err != 0 || r == ACT_NONE)
            return;
        k += r == ACT_ENTRY;
    }
    if (k > 0)
        items[(*n)++] = (xg_rl_descriptor){e, k};
}

static void from_list(build *b, const xg_rate_limits *l, uint32_t stage, xg_rl_descriptor *items, uint32_t *n)
{
    for (size_t i = 0; i < l->n && b->err == 0; i++)
        if (l->items[i].stage == stage)
            one(b, &l->items[i], items, n);
}

int xg_rl_descriptors_build_req(const xg_rl_request *r, uint32_t stage, xg_vh_rl vh, xg_rl_descriptors *out)
{
    out->items = NULL;
    out->n = 0;
    if (r->route == NULL || r->route->action != XG_ROUTE_FORWARD)
        return 0;
    const xg_rate_limits *own = &r->route->forward.cold->rate_limits;
    const xg_rate_limits *vhl = r->vh != NULL ? &r->vh->rate_limits : NULL;
    if (r->route->forward.cold->include_vh_rate_limits == XG_TRUE)
        vh = XG_VH_RL_INCLUDE;
    if (vhl != NULL && (vh == XG_VH_RL_IGNORE || (vh == XG_VH_RL_OVERRIDE && own->n > 0)))
        vhl = NULL;
    size_t cap = own->n + (vhl != NULL ? vhl->n : 0);
    if (cap == 0)
        return 0;
    xg_rl_descriptor *items = xg_arena_calloc(r->arena, cap, sizeof(*items));
    if (items == NULL)
        return XG_ENOMEM;
    build b = {.r = r};
    uint32_t n = 0;
    from_list(&b, own, stage, items, &n);
    if (vhl != NULL)
        from_list(&b, vhl, stage, items, &n);
    if (b.err != 0)
        return b.err;
    out->items = n > 0 ? items : NULL;
    out->n = n;
    return 0;
}

int xg_rl_descriptors_build(struct xg_stream *s, uint32_t stage, xg_vh_rl vh, xg_rl_descriptors *out)
{
    const xg_worker_rt *w = xg_worker_rt_self();
    xg_rl_request r = {.route = s->route,
                       .vh = s->vh,
                       .wc = s->weighted,
                       .headers = s->req,
                       .remote = s->remote.ss_family != 0 ? (const struct sockaddr *)&s->remote : NULL,
                       .local_cluster = w != NULL ? w->local_cluster : "",
                       .arena = &s->arena};
    return xg_rl_descriptors_build_req(&r, stage, vh, out);
}
