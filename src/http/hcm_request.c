/* Envoy's request handling in the connection manager, before the filter
 * chain (ConnectionManagerImpl::ActiveStream::decodeHeaders and
 * ConnectionManagerUtility::mutateRequestHeaders): host and path checks,
 * path normalisation, headers_with_underscores_action, host port
 * stripping, x-forwarded-for / -proto, internal vs external requests,
 * x-request-id, via, and route selection. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "http/hcm_int.h"
#include "http/path.h"
#include "net/tls_ctx.h"
#include "net/worker_listeners.h"
#include "router/route_action.h"
#include "router/route_match.h"

/* --- addresses --- */

/* Dotted quad of a (network order) into out (at least 16 bytes): what
 * inet_ntop writes, without its sprintf per octet (twice per request). */
static size_t ipv4_text(const struct in_addr *a, char *out)
{
    const uint8_t *b = (const uint8_t *)&a->s_addr;
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (i > 0)
            out[k++] = '.';
        if (v >= 100)
            out[k++] = (char)('0' + v / 100);
        if (v >= 10)
            out[k++] = (char)('0' + v / 10 % 10);
        out[k++] = (char)('0' + v % 10);
    }
    out[k] = '\0';
    return k;
}

/* The IP of sa as text (no port, no brackets). */
static size_t ip_text(const struct sockaddr *sa, char *out, size_t n)
{
    if (sa->sa_family == AF_INET && n >= INET_ADDRSTRLEN)
        return ipv4_text(&((const struct sockaddr_in *)sa)->sin_addr, out);
    const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                              : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (inet_ntop(sa->sa_family, a, out, (socklen_t)n) == NULL)
        out[0] = '\0';
    return strlen(out);
}

static bool parse_ip(const char *s, size_t len, struct sockaddr_storage *out)
{
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, tmp, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, tmp, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

static bool is_internal(const xg_hcm *cfg, const struct sockaddr *sa)
{
    for (size_t i = 0; i < cfg->n_internal_ranges; i++)
        if (xg_cidr_contains(&cfg->internal_ranges[i], sa))
            return true;
    return false;
}

/* Envoy's Utility::getLastAddressFromXFF: the entry num_to_skip places from
 * the right of x-forwarded-for, if it is an IP; *single when it is the only
 * entry and nothing was skipped. */
static bool xff_address(const xg_headers *h, uint32_t num_to_skip, struct sockaddr_storage *out, bool *single)
{
    const xg_header *x = xg_headers_get_id(h, XG_HDR_X_FORWARDED_FOR);
    *single = false;
    if (x == NULL)
        return false;
    size_t len = x->value_len;
    const char *v = x->value;
    for (uint32_t i = 0; i < num_to_skip; i++) {
        const char *c = memrchr(v, ',', len);
        if (c == NULL)
            return false;
        len = (size_t)(c - v);
    }
    const char *c = memrchr(v, ',', len);
    size_t start = c != NULL ? (size_t)(c - v) + 1 : 0;
    while (start < len && (v[start] == ' ' || v[start] == '\t'))
        start++;
    while (len > start && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (!parse_ip(v + start, len - start, out))
        return false;
    *single = c == NULL && num_to_skip == 0;
    return true;
}

/* Appends "value" to a comma-separated header (x-forwarded-for, via). */
static int append_list(xg_headers *h, xg_hdr_id id, const char *v, size_t vlen)
{
    const xg_header *e = xg_headers_get_id(h, id);
    if (e == NULL || e->value_len == 0)
        return xg_headers_set_id(h, id, v, vlen, true);
    size_t n = e->value_len + 1 + vlen;
    char *buf = xg_arena_alloc(h->arena, n + 1);
    if (buf == NULL)
        return XG_ENOMEM;
    memcpy(buf, e->value, e->value_len);
    buf[e->value_len] = ',';
    memcpy(buf + e->value_len + 1, v, vlen);
    buf[n] = '\0';
    return xg_headers_set_id(h, id, buf, n, false);
}

/* --- x-forwarded-*, internal, request id --- */

static void uuid4(xg_stream *s, char out[37])
{
    xg_worker_rt *w = xg_worker_rt_self();
    uint64_t a = w != NULL ? xg_rng_next(&w->rng) : s->random;
    uint64_t b = w != NULL ? xg_rng_next(&w->rng) : s->random * 0x9e3779b97f4a7c15ULL;
    uint8_t u[16];
    memcpy(u, &a, 8);
    memcpy(u + 8, &b, 8);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = '\0';
}

static int set_request_id(xg_stream *s)
{
    xg_headers *h = s->req;
    const xg_header *rid = xg_headers_get_id(h, XG_HDR_X_REQUEST_ID);
    if (rid != NULL && (!s->edge || s->cfg->preserve_external_request_id))
        return 0;
    char id[37];
    uuid4(s, id);
    return xg_headers_set_id(h, XG_HDR_X_REQUEST_ID, id, 36, true);
}

/* One of names (a NULL-terminated list)? */
static bool listed(const char *const *names, const char *name, size_t nlen)
{
    for (; *names != NULL; names++)
        if (xg_hdr_name_eq(*names, strlen(*names), name, nlen))
            return true;
    return false;
}

/* Envoy's cleanInternalHeaders for a request that is not internal. One pass
 * over the request: every name removed starts with x-envoy-, which most
 * requests have none of. */
static void clean_internal(xg_stream *s)
{
    static const char *const always[] = {"x-envoy-internal", "x-envoy-decorator-operation",
                                         "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node", NULL};
    /* Envoy's edge sanitising: a client outside must not steer retries,
     * timeouts or tracing with the router's control headers. */
    static const char *const edge[] = {"x-envoy-ip-tags",
                                       "x-envoy-original-url",
                                       "x-envoy-expected-rq-timeout-ms",
                                       "x-envoy-force-trace",
                                       "x-envoy-hedge-on-per-try-timeout",
                                       "x-envoy-max-retries",
                                       "x-envoy-retry-on",
                                       "x-envoy-retry-grpc-on",
                                       "x-envoy-retriable-status-codes",
                                       "x-envoy-retriable-header-names",
                                       "x-envoy-upstream-alt-stat-name",
                                       "x-envoy-upstream-rq-timeout-ms",
                                       "x-envoy-upstream-rq-per-try-timeout-ms",
                                       "x-envoy-upstream-rq-timeout-alt-response",
                                       NULL};
    xg_headers *h = s->req;
    for (uint32_t i = 0; i < h->n;) {
        const xg_header *e = &h->v[i];
        if (e->name_len > 8 && xg_hdr_name_eq(e->name, 8, "x-envoy-", 8) &&
            (listed(always, e->name, e->name_len) || (s->edge && listed(edge, e->name, e->name_len))))
            xg_headers_remove_at(h, i);
        else
            i++;
    }
    if (s->rc != NULL)
        xg_route_strip_internal_only(s->rc, s->req);
}

/* The x-forwarded-for half of mutateRequestHeaders: decides the trusted
 * client address (s->remote) and whether trusted-address checks apply. */
static int forwarded_for(xg_stream *s, bool *allow_trusted, bool *have_final)
{
    const xg_hcm *cfg = s->cfg;
    const struct sockaddr *peer = xg_stream_peer(s);
    bool single;
    *have_final = false;
    if (!cfg->use_remote_address) {
        *have_final = xff_address(s->req, cfg->xff_num_trusted_hops, &s->remote, &single);
        *allow_trusted = *have_final && single;
        return 0;
    }
    *allow_trusted = xg_headers_get_id(s->req, XG_HDR_X_FORWARDED_FOR) == NULL;
    if (cfg->xff_num_trusted_hops > 0)
        *have_final = xff_address(s->req, cfg->xff_num_trusted_hops - 1, &s->remote, &single);
    if (!*have_final && peer != NULL) {
        memcpy(&s->remote, peer,
               peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
        *have_final = true;
    }
    if (cfg->skip_xff_append || peer == NULL)
        return 0;
    const struct sockaddr *who = is_loopback(peer) && xg_stream_local(s) != NULL ? xg_stream_local(s) : peer;
    char ip[INET6_ADDRSTRLEN];
    size_t n = ip_text(who, ip, sizeof(ip));
    return n > 0 ? append_list(s->req, XG_HDR_X_FORWARDED_FOR, ip, n) : 0;
}

static int forwarded_proto(xg_stream *s)
{
    const xg_hcm *cfg = s->cfg;
    bool tls = xg_stream_is_tls(s);
    bool have = xg_headers_get_id(s->req, XG_HDR_X_FORWARDED_PROTO) != NULL;
    if (!have || (cfg->use_remote_address && cfg->xff_num_trusted_hops == 0))
        return xg_headers_set_id(s->req, XG_HDR_X_FORWARDED_PROTO, tls ? "https" : "http", tls ? 5 : 4, false);
    return 0;
}

/* Envoy's mutateRequestHeaders (the parts xdsgate implements). */
static int mutate(xg_stream *s)
{
    bool allow_trusted, have_final;
    int rc = forwarded_for(s, &allow_trusted, &have_final);
    if (rc == 0)
        rc = forwarded_proto(s);
    if (rc != 0)
        return rc;
    s->internal = allow_trusted && have_final && is_internal(s->cfg, (const struct sockaddr *)&s->remote);
    const struct sockaddr *peer = xg_stream_peer(s);
    if (!have_final && peer != NULL)
        memcpy(&s->remote, peer,
               peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    s->edge = !s->internal && s->cfg->use_remote_address;
    if (s->internal)
        rc = xg_headers_set(s->req, "x-envoy-internal", 16, "true", 4, false);
    else
        clean_internal(s);
    if (rc == 0 && s->edge && s->remote.ss_family != 0) {
        char ip[INET6_ADDRSTRLEN];
        size_t n = ip_text((const struct sockaddr *)&s->remote, ip, sizeof(ip));
        rc = xg_headers_set(s->req, "x-envoy-external-address", 24, ip, n, true);
    }
    if (rc == 0 && s->cfg->generate_request_id)
        rc = set_request_id(s);
    if (rc == 0 && s->cfg->via[0] != '\0')
        rc = append_list(s->req, XG_HDR_VIA, s->cfg->via, strlen(s->cfg->via));
    return rc;
}

/* --- host and path --- */

static uint16_t local_port(const xg_stream *s)
{
    const struct sockaddr *sa = xg_stream_local(s);
    if (sa == NULL)
        return 0;
    return ntohs(sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                           : ((const struct sockaddr_in *)sa)->sin_port);
}

/* strip_trailing_host_dot, strip_any_host_port, strip_matching_host_port. */
static int fix_host(xg_stream *s)
{
    const xg_hcm *cfg = s->cfg;
    xg_hstr a = s->req->authority;
    if (a.len == 0 || !(cfg->strip_any_host_port || cfg->strip_matching_host_port || cfg->strip_trailing_host_dot))
        return 0;
    size_t host_end = a.len;
    const char *colon = memrchr(a.s, ':', a.len);
    const char *bracket = memrchr(a.s, ']', a.len);
    if (colon != NULL && (bracket == NULL || colon > bracket))
        host_end = (size_t)(colon - a.s);
    size_t len = a.len;
    if (host_end < a.len) {
        unsigned port = 0;
        for (size_t i = host_end + 1; i < a.len && a.s[i] >= '0' && a.s[i] <= '9'; i++)
            port = port * 10 + (unsigned)(a.s[i] - '0');
        if (cfg->strip_any_host_port || (cfg->strip_matching_host_port && port == local_port(s)))
            len = host_end;
    }
    size_t keep_tail = len == a.len ? a.len - host_end : 0;
    if (cfg->strip_trailing_host_dot && host_end > 0 && a.s[host_end - 1] == '.') {
        char *buf = xg_arena_alloc(&s->arena, a.len + 1);
        if (buf == NULL)
            return XG_ENOMEM;
        memcpy(buf, a.s, host_end - 1);
        memcpy(buf + host_end - 1, a.s + host_end, keep_tail);
        return xg_headers_set_field(s->req, &s->req->authority, buf, host_end - 1 + keep_tail);
    }
    return len == a.len ? 0 : xg_headers_set_field(s->req, &s->req->authority, a.s, len);
}

static bool has_underscore(const char *s, size_t n)
{
    return memchr(s, '_', n) != NULL;
}

/* headers_with_underscores_action: 0, or 400 for REJECT_REQUEST. */
static int underscores(xg_stream *s, const char **details)
{
    if (s->cfg->headers_with_underscores == XG_UNDERSCORES_ALLOW)
        return 0;
    for (uint32_t i = 0; i < s->req->n;) {
        const xg_header *e = &s->req->v[i];
        if (!has_underscore(e->name, e->name_len)) {
            i++;
            continue;
        }
        if (s->cfg->headers_with_underscores == XG_UNDERSCORES_REJECT_REQUEST) {
            *details = "unexpected_underscore";
            return 400;
        }
        xg_headers_remove_at(s->req, i);
    }
    return 0;
}

static int sanitize_path(xg_stream *s, const char **details, xg_hstr *location)
{
    xg_headers *h = s->req;
    if (h->method_id == XG_METHOD_CONNECT && h->path.len == 0)
        return 0;
    if (h->path.len == 0) {
        *details = "missing_path_rejected";
        return 400;
    }
    if (h->path.s[0] != '/')
        return 0; /* "*" or an odd form: no route matches it (404), as in Envoy */
    xg_path_opts o = {.normalize = s->cfg->normalize_path,
                      .merge_slashes = s->cfg->merge_slashes,
                      .escaped_slashes = s->cfg->escaped_slashes};
    xg_hstr out;
    xg_path_verdict v;
    int rc = xg_path_sanitize(h->path.s, h->path.len, &o, &s->arena, &out, &v);
    if (rc != 0)
        return rc;
    if (v == XG_PATH_REJECT || (v == XG_PATH_REDIRECT && s->is_grpc)) {
        *details = "path_normalization_failed";
        return 400;
    }
    if (v == XG_PATH_REDIRECT) {
        *location = out;
        *details = "path_redirect";
        return 307;
    }
    return out.s == h->path.s && out.len == h->path.len ? 0 : xg_headers_set_field(h, &h->path, out.s, out.len);
}

static int set_scheme(xg_stream *s)
{
    const char *scheme = s->cfg->scheme_to_overwrite;
    if (scheme == NULL && s->req->scheme.len > 0)
        return 0;
    if (scheme == NULL)
        scheme = xg_stream_is_tls(s) ? "https" : "http";
    return xg_headers_set_field(s->req, &s->req->scheme, scheme, strlen(scheme));
}

int xg__hcm_prepare_request(xg_stream *s, const char **details, xg_hstr *location)
{
    xg_headers *h = s->req;
    if (h->authority.len == 0) {
        *details = "missing_host_header";
        return 400;
    }
    int st = sanitize_path(s, details, location);
    if (st == 0)
        st = underscores(s, details);
    if (st != 0)
        return st;
    int rc = fix_host(s);
    if (rc == 0)
        rc = set_scheme(s);
    if (rc == 0)
        rc = mutate(s);
    if (rc != 0) {
        *details = "internal_error";
        return 500;
    }
    return 0;
}

/* The downstream client certificate, looked at once per connection (route
 * matches on tls_context presented / validated). */
static int peer_cert(xg_hconn *hc)
{
    if (hc->peer_cert < 0) {
        xg_tls_peer p;
        bool has = hc->conn != NULL && xg_conn_peer_cert(hc->conn, &p);
        hc->peer_cert = (int8_t)(has ? (p.verified ? 2 : 1) : 0);
    }
    return hc->peer_cert;
}

int xg__hcm_route(xg_stream *s, const char **details, uint32_t *flags, xg_hstr *location)
{
    s->vh = NULL;
    s->route = NULL;
    if (s->rc == NULL)
        return 0;
    s->vh = xg_route_find_vhost(s->rc, s->req);
    if (s->vh == NULL)
        return 0;
    if (xg_route_needs_tls_redirect(s->vh, s->req)) {
        int rc = xg_route_tls_redirect_location(s->req, &s->arena, location);
        *details = "direct_response";
        return rc == 0 ? 301 : 500;
    }
    xg_route_req q;
    xg_route_req_init(&q, s->req, &s->arena, s->random);
    int cert = peer_cert(s->hc);
    q.tls_presented = cert >= 1;
    q.tls_validated = cert == 2;
    s->route = xg_route_find(s->rc, s->vh, &q);
    if (q.err != 0) {
        *details = "internal_error";
        return 500;
    }
    if (s->route != NULL)
        s->info.route_name = s->route->name;
    /* Envoy picks among weighted_clusters here, before the filters: the
     * pick's per-filter configs apply to all of them, and its response
     * headers go on local replies too. */
    s->weighted = xg_route_pick_weighted(s->route, s->req, s->random);
    return 0;
}
