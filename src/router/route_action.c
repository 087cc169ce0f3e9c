/* Route actions with Envoy's semantics (router/route_action.h): cluster
 * choice, the upstream request's headers, host and path rewrites, and
 * redirect locations. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "http/path.h"
#include "router/route_action.h"
#include "router/route_match.h"

/* --- cluster --- */

/* The first value of a cluster_header as a NUL-terminated name ("" when absent). */
static int cluster_from_header(const xg_headers *h, const xg_lstr *name, xg_arena *a, const char **out)
{
    xg_hstr v;
    *out = "";
    if (!xg_request_header_first(h, name->s, name->len, &v) || v.len == 0)
        return 0;
    *out = xg_arena_strndup(a, v.s, v.len);
    return *out ? 0 : XG_ENOMEM;
}

static const xg_weighted_cluster *pick_weighted(const xg_route_forward_cold *f, const xg_headers *h, uint64_t random)
{
    if (f->weighted_random_header.len > 0 &&
        xg_headers_count(h, f->weighted_random_header.s, f->weighted_random_header.len) == 1) {
        const xg_header *e = xg_headers_get(h, f->weighted_random_header.s, f->weighted_random_header.len);
        uint64_t v;
        if (xg_parse_uint64(e->value, e->value_len, &v))
            random = v;
    }
    uint64_t selected = random % f->total_weight, end = 0;
    for (size_t i = 0; i < f->n_weighted; i++) {
        end += f->weighted[i].weight;
        if (selected < end)
            return &f->weighted[i];
    }
    return &f->weighted[f->n_weighted - 1]; /* unreachable: the weights sum to total_weight */
}

const xg_weighted_cluster *xg_route_pick_weighted(const xg_route *r, const xg_headers *h, uint64_t random)
{
    if (r == NULL || r->action != XG_ROUTE_FORWARD || r->forward.cluster_kind != XG_CLUSTER_WEIGHTED)
        return NULL;
    return pick_weighted(r->forward.cold, h, random);
}

int xg_route_pick_cluster(const xg_route *r, const xg_headers *h, uint64_t random, xg_arena *a, xg_route_target *out)
{
    return xg_route_target_of(r, xg_route_pick_weighted(r, h, random), h, a, out);
}

int xg_route_target_of(const xg_route *r, const xg_weighted_cluster *wc, const xg_headers *h, xg_arena *a,
                       xg_route_target *out)
{
    if (r->action != XG_ROUTE_FORWARD)
        return XG_EINVAL;
    const xg_route_forward *f = &r->forward;
    out->weighted = NULL;
    out->not_found_code = f->cold->cluster_not_found_code;
    switch (f->cluster_kind) {
    case XG_CLUSTER_NAME:
        out->cluster = f->cluster;
        return 0;
    case XG_CLUSTER_HEADER:
        return cluster_from_header(h, &f->cold->cluster_header, a, &out->cluster);
    case XG_CLUSTER_WEIGHTED:
        if (wc == NULL)
            return XG_EINVAL;
        out->weighted = wc;
        out->cluster = out->weighted->name;
        if (out->weighted->name == NULL)
            return cluster_from_header(h, &out->weighted->cluster_header, a, &out->cluster);
        return 0;
    }
    return XG_EINVAL;
}

/* --- rewrites --- */

/* s[0..len) with every match of rw replaced (RE2 GlobalReplace), into a. */
static int regex_replace(const xg_regex_rewrite *rw, xg_hstr s, xg_arena *a, xg_hstr *out)
{
    xg_buf b;
    xg_buf_init(&b);
    int rc = xg_regex_replace(rw->pattern, s.s, s.len, rw->substitution, &b, NULL);
    if (rc == 0) {
        char *copy = xg_arena_strndup(a, b.len ? b.data : "", b.len);
        *out = (xg_hstr){copy, (uint32_t)b.len};
        rc = copy ? 0 : XG_ENOMEM;
    }
    xg_buf_dispose(&b);
    return rc;
}

/* How much of the path prefix_rewrite replaces: the matched literal, or
 * for regex and CONNECT routes the whole path without query (Envoy's
 * matched_path). */
static uint32_t matched_len(const xg_route *r, xg_hstr path)
{
    uint32_t whole = xg_path_strip_query(path).len;
    switch (r->match.kind) {
    case XG_PATH_PREFIX:
    case XG_PATH_EXACT:
    case XG_PATH_SEPARATED_PREFIX:
        return r->match.path.len < path.len ? (uint32_t)r->match.path.len : path.len;
    default:
        return whole;
    }
}

static int concat(xg_arena *a, xg_hstr x, xg_hstr y, xg_hstr *out)
{
    char *buf = xg_arena_alloc(a, (size_t)x.len + y.len + 1);
    if (buf == NULL)
        return XG_ENOMEM;
    memcpy(buf, x.s, x.len);
    memcpy(buf + x.len, y.s, y.len);
    buf[x.len + y.len] = '\0';
    *out = (xg_hstr){buf, x.len + y.len};
    return 0;
}

int xg_route_rewritten_path(const xg_route *r, const xg_headers *h, xg_arena *a, xg_hstr *out, bool *rewritten)
{
    const char *prefix = NULL;
    const xg_regex_rewrite *rx = NULL;
    if (r->action == XG_ROUTE_FORWARD) {
        prefix = r->forward.cold->prefix_rewrite;
        rx = r->forward.cold->regex_rewrite.pattern ? &r->forward.cold->regex_rewrite : NULL;
    } else if (r->action == XG_ROUTE_REDIRECT) {
        prefix = r->redirect.path_kind == XG_REDIRECT_PATH_PREFIX ? r->redirect.path : NULL;
        rx = r->redirect.path_kind == XG_REDIRECT_PATH_REGEX ? &r->redirect.regex : NULL;
    }
    xg_hstr path = h->path;
    *out = path;
    *rewritten = (prefix != NULL || rx != NULL) && path.s != NULL;
    if (!*rewritten)
        return 0;
    if (prefix != NULL) {
        uint32_t m = matched_len(r, path);
        return concat(a, (xg_hstr){prefix, (uint32_t)strlen(prefix)}, (xg_hstr){path.s + m, path.len - m}, out);
    }
    xg_hstr just = xg_path_strip_query(path), replaced;
    int rc = regex_replace(rx, just, a, &replaced);
    return rc ? rc : concat(a, replaced, (xg_hstr){path.s + just.len, path.len - just.len}, out);
}

/* Rewrites :path for r, recording the old one first when asked. */
static int rewrite_path(const xg_route *r, xg_headers *h, bool original_path_header)
{
    xg_hstr old = h->path, path;
    bool rewritten;
    int rc = xg_route_rewritten_path(r, h, h->arena, &path, &rewritten);
    if (rc != 0 || !rewritten)
        return rc;
    if (original_path_header && (rc = xg_headers_set(h, "x-envoy-original-path", 21, old.s, old.len, false)) != 0)
        return rc;
    return xg_headers_set_field(h, &h->path, path.s, path.len);
}

int xg_route_update_authority(xg_headers *h, const char *host, size_t len, bool append_xfh)
{
    xg_hstr old = h->authority;
    if (append_xfh && old.len > 0) {
        int i = xg_headers_find(h, "x-forwarded-host", 16, 0), rc;
        if (i < 0) {
            rc = xg_headers_add_ref(h, "x-forwarded-host", 16, old.s, old.len);
        } else {
            /* Envoy appends to the first one: "a.com,b.com". */
            xg_hstr joined;
            xg_header *e = &h->v[i];
            rc = concat(h->arena, (xg_hstr){e->value, e->value_len}, (xg_hstr){",", 1}, &joined);
            if (rc == 0 && (rc = concat(h->arena, joined, old, &joined)) == 0) {
                h->bytes += joined.len - e->value_len;
                e->value = joined.s;
                e->value_len = joined.len;
                e->flags &= ~XG_HDR_F_VALID; /* a new value: the writer checks it again */
            }
        }
        if (rc != 0)
            return rc;
    }
    return xg_headers_set_field(h, &h->authority, host, len);
}

static int rewrite_host(const xg_route_forward_cold *f, xg_headers *h)
{
    xg_hstr v;
    int rc;
    switch (f->host_rewrite) {
    case XG_HOST_REWRITE_LITERAL:
        return xg_route_update_authority(h, f->host_rewrite_literal, strlen(f->host_rewrite_literal),
                                         f->append_x_forwarded_host);
    case XG_HOST_REWRITE_HEADER:
        /* Only the first value, and only when not empty, as Envoy. */
        if (!xg_request_header_first(h, f->host_rewrite_header.s, f->host_rewrite_header.len, &v) || v.len == 0)
            return 0;
        return xg_route_update_authority(h, v.s, v.len, f->append_x_forwarded_host);
    case XG_HOST_REWRITE_PATH_REGEX:
        if (h->path.s == NULL)
            return 0;
        rc = regex_replace(&f->host_rewrite_path_regex, xg_path_strip_query(h->path), h->arena, &v);
        return rc ? rc : xg_route_update_authority(h, v.s, v.len, f->append_x_forwarded_host);
    default: /* NONE; AUTO is the upstream layer's (it knows the host) */
        return 0;
    }
}

/* The route, virtual host and route configuration levels in Envoy's order. */
static void levels(const xg_route_config *rc, const xg_vhost *vh, const xg_route *r, bool response,
                   const xg_header_mutations *out[3])
{
    const xg_header_mutations *route = response ? &r->cold->response_headers : &r->cold->request_headers;
    const xg_header_mutations *vhost = response ? &vh->response_headers : &vh->request_headers;
    const xg_header_mutations *global = response ? &rc->response_headers : &rc->request_headers;
    bool ascend = rc->most_specific_header_mutations_wins; /* least specific first: the route wins */
    out[0] = ascend ? global : route;
    out[1] = vhost;
    out[2] = ascend ? route : global;
}

int xg_route_finalize_request(const xg_route_config *rc, const xg_vhost *vh, const xg_route *r,
                              const xg_weighted_cluster *wc, xg_headers *h, const xg_hvar_ctx *ctx,
                              bool original_path_header)
{
    const xg_header_mutations *lv[3];
    int err = 0;
    if (wc != NULL) {
        err = xg_header_mutations_apply(&wc->request_headers, h, ctx);
        if (err == 0 && wc->host_rewrite_literal != NULL)
            err = xg_headers_set_field(h, &h->authority, wc->host_rewrite_literal, strlen(wc->host_rewrite_literal));
    }
    levels(rc, vh, r, false, lv);
    for (int i = 0; i < 3 && err == 0; i++)
        err = xg_header_mutations_apply(lv[i], h, ctx);
    if (err != 0 || r->action != XG_ROUTE_FORWARD)
        return err;
    if ((err = rewrite_host(r->forward.cold, h)) != 0)
        return err;
    return rewrite_path(r, h, original_path_header);
}

int xg_route_finalize_response(const xg_route_config *rc, const xg_vhost *vh, const xg_route *r,
                               const xg_weighted_cluster *wc, xg_headers *resp, const xg_hvar_ctx *ctx)
{
    const xg_header_mutations *lv[3];
    int err = wc ? xg_header_mutations_apply(&wc->response_headers, resp, ctx) : 0;
    levels(rc, vh, r, true, lv);
    for (int i = 0; i < 3 && err == 0; i++)
        err = xg_header_mutations_apply(lv[i], resp, ctx);
    return err;
}

/* --- redirects --- */

static bool hstr_eq(xg_hstr a, const char *b)
{
    return b != NULL && a.len == strlen(b) && memcmp(a.s, b, a.len) == 0;
}

/* The scheme the request arrived with: x-forwarded-proto, else :scheme. */
static xg_hstr request_proto(const xg_headers *h)
{
    const xg_header *xfp = xg_headers_get_id(h, XG_HDR_X_FORWARDED_PROTO);
    return xfp ? (xg_hstr){xfp->value, xfp->value_len} : h->scheme;
}

/* Envoy's processRequestHost: the request's host, without its port when a
 * new port is set or when the scheme changes and the port was the old
 * scheme's default. */
static xg_hstr redirect_host(const xg_headers *h, const char *scheme, bool new_port)
{
    xg_hstr host = h->authority;
    const char *colon = NULL;
    if (host.len == 0)
        return host;
    if (host.s[0] == '[') {
        const char *b = memrchr(host.s, ']', host.len);
        colon = (b != NULL && b + 1 < host.s + host.len && b[1] == ':') ? b + 1 : NULL;
    } else {
        colon = memrchr(host.s, ':', host.len);
    }
    if (colon == NULL)
        return host;
    xg_hstr port = {colon, (uint32_t)(host.s + host.len - colon)}, proto = request_proto(h);
    bool strip = new_port;
    if (!hstr_eq(proto, scheme))
        strip = strip || (hstr_eq(proto, "https") && hstr_eq(port, ":443")) ||
                (hstr_eq(proto, "http") && hstr_eq(port, ":80"));
    return strip ? (xg_hstr){host.s, (uint32_t)(colon - host.s)} : host;
}

/* The redirect's path: path_redirect (its own query wins; else the
 * request's query is kept) or the (rewritten) request path; strip_query. */
static xg_hstr redirect_path(const xg_redirect *rd, const xg_headers *h, xg_arena *a, int *err)
{
    xg_hstr path = h->path.s ? h->path : (xg_hstr){"", 0}, query;
    bool own_query = false;
    if (rd != NULL && rd->path_kind == XG_REDIRECT_PATH_REPLACE) {
        xg_hstr repl = {rd->path, (uint32_t)strlen(rd->path)};
        own_query = memchr(repl.s, '?', repl.len) != NULL;
        xg_path_split(path, NULL, &query);
        path = repl;
        if (!own_query && query.s != NULL)
            *err = concat(a, repl, (xg_hstr){query.s - 1, query.len + 1}, &path);
    }
    if (!own_query && rd != NULL && rd->strip_query)
        xg_path_split(path, &path, NULL);
    return path;
}

int xg_route_redirect_location(const xg_route *r, xg_headers *h, bool original_path_header, xg_hstr *location)
{
    const xg_redirect *rd = r->action == XG_ROUTE_REDIRECT ? &r->redirect : NULL;
    int err = rd ? rewrite_path(r, h, original_path_header) : 0;
    if (err != 0)
        return err;
    char port[8] = "";
    const char *scheme = rd && rd->scheme ? rd->scheme : NULL;
    xg_hstr s = scheme ? (xg_hstr){scheme, (uint32_t)strlen(scheme)} : h->scheme;
    if (s.len == 0)
        s = request_proto(h).len ? request_proto(h) : (xg_hstr){"http", 4};
    if (rd && rd->port)
        snprintf(port, sizeof(port), ":%u", rd->port);
    char *scheme_z = xg_arena_strndup(h->arena, s.s, s.len);
    xg_hstr host = rd && rd->host ? (xg_hstr){rd->host, (uint32_t)strlen(rd->host)}
                                  : redirect_host(h, scheme_z ? scheme_z : "", port[0] != '\0');
    xg_hstr path = redirect_path(rd, h, h->arena, &err);
    bool slash = path.len > 0 && path.s[0] == '/';
    size_t cap = s.len + host.len + path.len + sizeof(port) + 8;
    char *buf = xg_arena_alloc(h->arena, cap);
    if (err != 0 || buf == NULL || scheme_z == NULL)
        return err ? err : XG_ENOMEM;
    int n = snprintf(buf, cap, "%.*s://%.*s%s%s%.*s", (int)s.len, s.s, (int)host.len, host.s ? host.s : "", port,
                     slash ? "" : "/", (int)path.len, path.s);
    *location = (xg_hstr){buf, (uint32_t)n};
    return 0;
}

bool xg_route_direct_has_location(uint16_t status)
{
    return status == 201 || (status >= 300 && status <= 399);
}

int xg_route_tls_redirect_location(const xg_headers *h, xg_arena *a, xg_hstr *location)
{
    xg_hstr host = h->authority, path = h->path;
    size_t cap = (size_t)host.len + path.len + 9;
    char *buf = xg_arena_alloc(a, cap);
    if (buf == NULL)
        return XG_ENOMEM;
    int n = snprintf(buf, cap, "https://%.*s%.*s", (int)host.len, host.s ? host.s : "", (int)path.len,
                     path.s ? path.s : "");
    *location = (xg_hstr){buf, (uint32_t)n};
    return 0;
}

void xg_route_strip_internal_only(const xg_route_config *rc, xg_headers *h)
{
    for (size_t i = 0; i < rc->n_internal_only_headers; i++)
        xg_headers_remove(h, rc->internal_only_headers[i].s, rc->internal_only_headers[i].len);
}
