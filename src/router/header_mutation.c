/* Header mutations with Envoy's HeaderParser semantics and "%VAR%"
 * substitution (router/header_mutation.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "core/error.h"
#include "router/header_mutation.h"
#include "router/route_match.h"

enum { ADDR_FULL, ADDR_NO_PORT, ADDR_PORT };

/* Formats an address as Envoy's formatters do: "1.2.3.4:80", "[::1]:80";
 * without port "1.2.3.4", "::1"; a Unix socket is its path (no port).
 * Returns the length written to buf (at most cap - 1). */
static size_t fmt_addr(const struct sockaddr *sa, int what, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    unsigned port = 0;
    bool v6 = false;
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        v6 = true;
    } else if (sa->sa_family == AF_UNIX) {
        return what == ADDR_PORT ? 0 : (size_t)snprintf(buf, cap, "%s", ((const struct sockaddr_un *)sa)->sun_path);
    } else {
        return 0;
    }
    int n;
    if (what == ADDR_PORT)
        n = snprintf(buf, cap, "%u", port);
    else if (what == ADDR_NO_PORT)
        n = snprintf(buf, cap, "%s", ip);
    else
        n = snprintf(buf, cap, v6 ? "[%s]:%u" : "%s:%u", ip, port);
    return n < 0 ? 0 : ((size_t)n >= cap ? cap - 1 : (size_t)n);
}

static xg_hstr protocol(const xg_headers *h)
{
    switch (h ? h->version : 0) {
    case 10:
        return (xg_hstr){"HTTP/1.0", 8};
    case 11:
        return (xg_hstr){"HTTP/1.1", 8};
    case 20:
        return (xg_hstr){"HTTP/2", 6};
    default:
        return (xg_hstr){"", 0};
    }
}

/* One part's value; tmp (128 bytes) holds formatted addresses. */
static xg_hstr part_value(const xg_header_part *p, const xg_hvar_ctx *c, char *tmp)
{
    /* The address operators: which field, formatted how (off 0: not one). */
    static const struct {
        size_t off;
        int what;
    } addrs[XG_HVAR_COUNT] = {
        [XG_HVAR_DOWNSTREAM_REMOTE_ADDRESS] = {offsetof(xg_hvar_ctx, downstream_remote), ADDR_FULL},
        [XG_HVAR_DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT] = {offsetof(xg_hvar_ctx, downstream_remote), ADDR_NO_PORT},
        [XG_HVAR_DOWNSTREAM_REMOTE_PORT] = {offsetof(xg_hvar_ctx, downstream_remote), ADDR_PORT},
        [XG_HVAR_DOWNSTREAM_DIRECT_REMOTE_ADDRESS] = {offsetof(xg_hvar_ctx, downstream_direct_remote), ADDR_FULL},
        [XG_HVAR_DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT] = {offsetof(xg_hvar_ctx, downstream_direct_remote),
                                                                   ADDR_NO_PORT},
        [XG_HVAR_DOWNSTREAM_LOCAL_ADDRESS] = {offsetof(xg_hvar_ctx, downstream_local), ADDR_FULL},
        [XG_HVAR_DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT] = {offsetof(xg_hvar_ctx, downstream_local), ADDR_NO_PORT},
        [XG_HVAR_DOWNSTREAM_LOCAL_PORT] = {offsetof(xg_hvar_ctx, downstream_local), ADDR_PORT},
        [XG_HVAR_UPSTREAM_REMOTE_ADDRESS] = {offsetof(xg_hvar_ctx, upstream_remote), ADDR_FULL},
        [XG_HVAR_UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT] = {offsetof(xg_hvar_ctx, upstream_remote), ADDR_NO_PORT},
    };
    xg_hstr v = {"", 0};
    switch (p->var) {
    case XG_HVAR_LITERAL:
        return (xg_hstr){p->text.s, (uint32_t)p->text.len};
    case XG_HVAR_REQUESTED_SERVER_NAME:
        return c->requested_server_name.s ? c->requested_server_name : v;
    case XG_HVAR_HOSTNAME:
        return c->hostname.s ? c->hostname : v;
    case XG_HVAR_PROTOCOL:
        return protocol(c->request);
    case XG_HVAR_REQ:
        if (c->request == NULL || !xg_request_header_first(c->request, p->text.s, p->text.len, &v))
            v = (xg_hstr){"", 0};
        return v;
    default:
        if ((unsigned)p->var >= XG_HVAR_COUNT || addrs[p->var].off == 0)
            return v;
        const struct sockaddr *sa = *(const struct sockaddr *const *)((const char *)c + addrs[p->var].off);
        return (xg_hstr){tmp, (uint32_t)fmt_addr(sa, addrs[p->var].what, tmp, 128)};
    }
}

int xg_header_value_expand(const xg_header_add *add, const xg_hvar_ctx *ctx, xg_arena *a, xg_hstr *out)
{
    char tmp[128];
    size_t total = 0;
    if (add->n_parts == 0) {
        *out = (xg_hstr){add->value.s, (uint32_t)add->value.len};
        return 0;
    }
    for (size_t i = 0; i < add->n_parts; i++)
        total += part_value(&add->parts[i], ctx, tmp).len;
    char *buf = xg_arena_alloc(a, total + 1);
    if (buf == NULL)
        return XG_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < add->n_parts; i++) {
        xg_hstr v = part_value(&add->parts[i], ctx, tmp);
        memcpy(buf + n, v.s, v.len);
        n += v.len;
    }
    buf[n] = '\0';
    *out = (xg_hstr){buf, (uint32_t)n};
    return 0;
}

/* A decided addition: the value and whether it replaces (set) or appends. */
typedef struct pending {
    const xg_header_add *add;
    xg_hstr value;
    bool set;
} pending;

/* Expands and decides every addition against h as it is now. */
static int decide(const xg_header_mutations *m, xg_headers *h, const xg_hvar_ctx *ctx, pending *p, size_t *np)
{
    *np = 0;
    for (size_t i = 0; i < m->n_add; i++) {
        const xg_header_add *add = &m->add[i];
        xg_hstr v;
        int rc = xg_header_value_expand(add, ctx, h->arena, &v);
        if (rc != 0)
            return rc;
        if (v.len == 0 && !add->keep_empty_value)
            continue;
        bool present = xg_headers_find(h, add->name.s, add->name.len, 0) >= 0;
        switch (add->append) {
        case XG_HEADER_ADD_IF_ABSENT:
            if (present)
                continue;
            /* fall through */
        case XG_HEADER_APPEND_IF_EXISTS_OR_ADD:
            p[(*np)++] = (pending){add, v, false};
            break;
        case XG_HEADER_OVERWRITE_IF_EXISTS:
            if (!present)
                continue;
            /* fall through */
        case XG_HEADER_OVERWRITE_IF_EXISTS_OR_ADD:
            p[(*np)++] = (pending){add, v, true};
            break;
        }
    }
    return 0;
}

int xg_header_mutations_apply(const xg_header_mutations *m, xg_headers *h, const xg_hvar_ctx *ctx)
{
    pending local[16], *p = local;
    size_t np;
    int rc;
    for (size_t i = 0; i < m->n_remove; i++)
        xg_headers_remove(h, m->remove[i].s, m->remove[i].len);
    if (m->n_add == 0)
        return 0;
    if (m->n_add > 16 && (p = xg_arena_calloc(h->arena, m->n_add, sizeof(*p))) == NULL)
        return XG_ENOMEM;
    if ((rc = decide(m, h, ctx, p, &np)) != 0)
        return rc;
    /* Names and values live in the config (pinned by the stream) or in the
     * stream's arena: borrowed, not copied. */
    for (size_t i = 0; i < np && rc == 0; i++)
        if (p[i].set)
            rc = xg_headers_set(h, p[i].add->name.s, p[i].add->name.len, p[i].value.s, p[i].value.len, false);
    for (size_t i = 0; i < np && rc == 0; i++)
        if (!p[i].set)
            rc = xg_headers_add_ref(h, p[i].add->name.s, p[i].add->name.len, p[i].value.s, p[i].value.len);
    return rc;
}
