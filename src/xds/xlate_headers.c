/* Header names, values and mutations (HeaderValueOption lists and removal
 * lists) shared by route configs, virtual hosts, routes and weighted clusters,
 * with Envoy's rules: names are HTTP tokens (lowercased), ':'-pseudo-headers
 * and host may be neither added nor removed, values carry no CR/LF/NUL, and
 * "%VAR%" command operators are parsed at translate time. */
#include <string.h>

#include "config/route.h"
#include "core/error.h"
#include "xds/xlate_int.h"

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_|~`", c) != NULL);
}

int xg__xlate_header_name(xg_xlate *x, const char *name, bool allow_pseudo, xg_lstr *out)
{
    size_t len = strlen(name);
    size_t start = (allow_pseudo && name[0] == ':') ? 1 : 0;
    if (len == start)
        return xg_xlate_fail(x, "header name must not be empty");
    for (size_t i = start; i < len; i++)
        if (!is_tchar((unsigned char)name[i]))
            return xg_xlate_fail(x, "invalid header name \"%s\": only HTTP token characters are allowed", name);
    char *low = xg_xlate_strdup(x, name);
    if (low == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < len; i++)
        if (low[i] >= 'A' && low[i] <= 'Z')
            low[i] = (char)(low[i] + ('a' - 'A'));
    *out = (xg_lstr){low, len};
    return 0;
}

bool xg__valid_header_value(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (v[i] == '\0' || v[i] == '\r' || v[i] == '\n')
            return false;
    return true;
}

/* Envoy: isModifiableHeader / isRemovableHeader. */
static bool is_protected(const xg_lstr *n)
{
    return n->s[0] == ':' || strcmp(n->s, "host") == 0;
}

/* --- "%VAR%" command operators --- */

static const char *const var_names[XG_HVAR_COUNT] = {
    [XG_HVAR_DOWNSTREAM_REMOTE_ADDRESS] = "DOWNSTREAM_REMOTE_ADDRESS",
    [XG_HVAR_DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT] = "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
    [XG_HVAR_DOWNSTREAM_REMOTE_PORT] = "DOWNSTREAM_REMOTE_PORT",
    [XG_HVAR_DOWNSTREAM_DIRECT_REMOTE_ADDRESS] = "DOWNSTREAM_DIRECT_REMOTE_ADDRESS",
    [XG_HVAR_DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT] = "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
    [XG_HVAR_DOWNSTREAM_LOCAL_ADDRESS] = "DOWNSTREAM_LOCAL_ADDRESS",
    [XG_HVAR_DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT] = "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
    [XG_HVAR_DOWNSTREAM_LOCAL_PORT] = "DOWNSTREAM_LOCAL_PORT",
    [XG_HVAR_UPSTREAM_REMOTE_ADDRESS] = "UPSTREAM_REMOTE_ADDRESS",
    [XG_HVAR_UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT] = "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
    [XG_HVAR_REQUESTED_SERVER_NAME] = "REQUESTED_SERVER_NAME",
    [XG_HVAR_PROTOCOL] = "PROTOCOL",
    [XG_HVAR_HOSTNAME] = "HOSTNAME",
};

/* One operator body between the '%'s: NAME or REQ(header). */
static int parse_var(xg_xlate *x, const char *s, size_t len, xg_header_part *out)
{
    if (len > 5 && memcmp(s, "REQ(", 4) == 0 && s[len - 1] == ')') {
        char name[256];
        if (len - 5 >= sizeof(name))
            return xg_xlate_fail(x, "%%REQ(...)%% header name too long");
        memcpy(name, s + 4, len - 5);
        name[len - 5] = '\0';
        out->var = XG_HVAR_REQ;
        return xg__xlate_header_name(x, name, true, &out->text);
    }
    for (int v = 1; v < XG_HVAR_COUNT; v++) {
        if (var_names[v] != NULL && strlen(var_names[v]) == len && memcmp(var_names[v], s, len) == 0) {
            out->var = (xg_header_var)v;
            return 0;
        }
    }
    return xg_xlate_fail(x, "header value operator %%%.*s%% is not supported", (int)len, s);
}

static int add_literal(xg_xlate *x, xg_header_part *parts, size_t *n, const char *s, size_t len)
{
    if (len == 0)
        return 0;
    if (*n > 0 && parts[*n - 1].var == XG_HVAR_LITERAL) { /* "%%" split a literal: join the pieces */
        xg_lstr prev = parts[*n - 1].text;
        char *j = xg_xlate_alloc(x, prev.len + len + 1);
        if (j == NULL)
            return XG_ENOMEM;
        memcpy(j, prev.s, prev.len);
        memcpy(j + prev.len, s, len);
        parts[*n - 1].text = (xg_lstr){j, prev.len + len};
        return 0;
    }
    char *c = xg_arena_strndup(&x->res->arena, s, len);
    if (c == NULL)
        return XG_ENOMEM;
    parts[(*n)++] = (xg_header_part){XG_HVAR_LITERAL, {c, len}};
    return 0;
}

/* Splits a value with '%' into parts; "%%" is a literal '%'. */
static int parse_value(xg_xlate *x, const char *v, size_t len, xg_header_add *out)
{
    xg_header_part *parts = xg_arena_calloc(&x->res->arena, len + 1, sizeof(*parts));
    size_t n = 0, lit = 0;
    if (parts == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        if (v[i] != '%')
            continue;
        int rc = add_literal(x, parts, &n, v + lit, i - lit + (i + 1 < len && v[i + 1] == '%'));
        if (rc < 0)
            return rc;
        if (i + 1 < len && v[i + 1] == '%') {
            lit = ++i + 1;
            continue;
        }
        const char *end = memchr(v + i + 1, '%', len - i - 1);
        if (end == NULL)
            return xg_xlate_fail(x, "unterminated %% operator in header value \"%s\" (write %%%% for a literal %%)", v);
        if ((rc = parse_var(x, v + i + 1, (size_t)(end - v) - i - 1, &parts[n])) < 0)
            return rc;
        n++;
        i = (size_t)(end - v);
        lit = i + 1;
    }
    int rc = add_literal(x, parts, &n, v + lit, len - lit);
    out->parts = parts;
    out->n_parts = n;
    return rc;
}

/* --- HeaderValueOption --- */

static int header_append(xg_xlate *x, const Envoy__Config__Core__V3__HeaderValueOption *pb, xg_header_append *out)
{
    int action = pb->append_action;
    if (action < 0 || action > XG_HEADER_OVERWRITE_IF_EXISTS)
        return xg__fail_at(x, "append_action", "unknown value %d", action);
    /* Envoy maps the deprecated append onto append_action and rejects both together. */
    if (pb->append != NULL && action != XG_HEADER_APPEND_IF_EXISTS_OR_ADD)
        return xg_xlate_fail(x, "append and append_action are both set; use append_action only");
    if (pb->append != NULL)
        action = pb->append->value ? XG_HEADER_APPEND_IF_EXISTS_OR_ADD : XG_HEADER_OVERWRITE_IF_EXISTS_OR_ADD;
    *out = (xg_header_append)action;
    return 0;
}

static int header_value(xg_xlate *x, const Envoy__Config__Core__V3__HeaderValue *h, xg_header_add *out)
{
    const char *v = h->value ? h->value : "";
    size_t len = strlen(v);
    if (h->raw_value.len > 0 && len > 0)
        return xg_xlate_fail(x, "value and raw_value are both set");
    if (h->raw_value.len > 0) {
        v = (const char *)h->raw_value.data;
        len = h->raw_value.len;
    }
    if (!xg__valid_header_value(v, len))
        return xg_xlate_fail(x, "header \"%s\": value contains CR, LF or NUL", h->key);
    char *copy = xg_arena_strndup(&x->res->arena, v, len);
    if (copy == NULL)
        return XG_ENOMEM;
    out->value = (xg_lstr){copy, len};
    return memchr(copy, '%', len) ? parse_value(x, copy, len, out) : 0;
}

static int header_add(xg_xlate *x, const Envoy__Config__Core__V3__HeaderValueOption *pb, xg_header_add *out)
{
    if (pb->header == NULL)
        return xg_xlate_fail(x, "header is required");
    int rc = header_append(x, pb, &out->append);
    if (rc < 0)
        return rc;
    size_t mark = xg_xlate_push(x, "header");
    size_t m2 = xg_xlate_push(x, "key");
    if ((rc = xg__xlate_header_name(x, pb->header->key, true, &out->name)) < 0)
        return rc;
    if (is_protected(&out->name))
        return xg_xlate_fail(x, "\"%s\": ':'-prefixed or host headers may not be modified", out->name.s);
    xg_xlate_pop(x, m2);
    if ((rc = header_value(x, pb->header, out)) < 0)
        return rc;
    xg_xlate_pop(x, mark);
    out->keep_empty_value = pb->keep_empty_value;
    return 0;
}

static int headers_add(xg_xlate *x, const char *field, Envoy__Config__Core__V3__HeaderValueOption *const *pb, size_t n,
                       xg_header_mutations *out)
{
    xg_header_add *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = header_add(x, pb[i], &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    out->add = v;
    out->n_add = n;
    return 0;
}

static int headers_remove(xg_xlate *x, const char *field, char *const *names, size_t n, xg_header_mutations *out)
{
    xg_lstr *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = xg__xlate_header_name(x, names[i], true, &v[i]);
        if (rc < 0)
            return rc;
        if (is_protected(&v[i]))
            return xg_xlate_fail(x, "\"%s\": ':'-prefixed or host headers may not be removed", v[i].s);
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    out->remove = v;
    out->n_remove = n;
    return 0;
}

int xg__xlate_header_mutations(xg_xlate *x, const char *add_field,
                               Envoy__Config__Core__V3__HeaderValueOption *const *add, size_t n_add,
                               const char *remove_field, char *const *remove, size_t n_remove, xg_header_mutations *out)
{
    memset(out, 0, sizeof(*out));
    int rc = headers_add(x, add_field, add, n_add, out);
    return rc < 0 ? rc : headers_remove(x, remove_field, remove, n_remove, out);
}

/* An upgrade_type ("websocket", "CONNECT"): a token, compared
 * case-insensitively, unique among the n entries before it in prev (an array
 * of structs of size stride whose first member is the xg_lstr type). */
int xg__xlate_upgrade_type(xg_xlate *x, const char *type, const void *prev, size_t stride, size_t n, xg_lstr *out)
{
    size_t mark = xg_xlate_push(x, "upgrade_type");
    int rc = xg__xlate_header_name(x, type, false, out);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const xg_lstr *p = (const xg_lstr *)((const char *)prev + i * stride);
        if (strcmp(p->s, out->s) == 0)
            return xg_xlate_fail(x, "\"%s\" is configured more than once", type);
    }
    xg_xlate_pop(x, mark);
    return 0;
}
