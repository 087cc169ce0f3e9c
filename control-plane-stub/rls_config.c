/* Rate-limit YAML -> xg_stub_rls_config, and the descriptor matcher; see
 * rls_config.h. Unknown fields are errors (as envoyproxy/ratelimit treats
 * them), so a typo never silently drops a limit. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "rls_config.h"
#include "snapshot.h"
#include "xds/jv.h"

/* Config, not data: deeper nesting than this is a mistake (and bounds recursion). */
#define MAX_DEPTH 32
#define PATH_MAX_LEN 512

typedef struct parse_ctx {
    char *err;
    size_t errlen;
} parse_ctx;

static int fail(parse_ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parse_ctx *c, const char *path, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (snprintf(c->err, c->errlen, "%s%s%s", path, path[0] ? ": " : "", msg) >= (int)c->errlen)
        c->err[c->errlen - 1] = '\0';
    return XG_EINVAL;
}

/* Paths longer than PATH_MAX_LEN are cut: the message stays readable. */
static void sub_path(char *out, const char *path, const char *member)
{
    if (snprintf(out, PATH_MAX_LEN, "%s%s%s", path, path[0] ? "." : "", member) >= PATH_MAX_LEN)
        out[PATH_MAX_LEN - 1] = '\0';
}

static void item_path(char *out, const char *path, size_t i)
{
    if (snprintf(out, PATH_MAX_LEN, "%s[%zu]", path, i) >= PATH_MAX_LEN)
        out[PATH_MAX_LEN - 1] = '\0';
}

static int want_kind(parse_ctx *c, const xg_jv *v, xg_jv_kind kind, const char *path)
{
    if (v->kind == kind)
        return 0;
    return fail(c, path, "expected %s, got %s (line %d)", xg_jv_kind_name(kind), xg_jv_kind_name(v->kind), v->line);
}

/* Every key of obj must be one of allowed (NULL-terminated). */
static int check_keys(parse_ctx *c, const xg_jv *obj, const char *const *allowed, const char *path, const char *what)
{
    for (size_t i = 0; i < obj->n; i++) {
        const char *const *a = allowed;
        while (*a != NULL && strcmp(*a, obj->keys[i]) != 0)
            a++;
        if (*a == NULL) {
            char p[PATH_MAX_LEN];
            sub_path(p, path, obj->keys[i]);
            return fail(c, p, "unknown field in %s (line %d)", what, obj->items[i]->line);
        }
    }
    return 0;
}

/* A YAML scalar as text: numbers and booleans keep their source spelling
 * (`value: 30` means "30", as in envoyproxy/ratelimit). */
static int take_string(parse_ctx *c, const xg_jv *v, const char *path, bool nonempty, char **out)
{
    if (v->kind != XG_JV_STRING && v->kind != XG_JV_NUMBER && v->kind != XG_JV_BOOL)
        return fail(c, path, "expected a string, got %s (line %d)", xg_jv_kind_name(v->kind), v->line);
    if (nonempty && v->len == 0)
        return fail(c, path, "must not be empty (line %d)", v->line);
    if (memchr(v->str, '\0', v->len) != NULL)
        return fail(c, path, "contains a NUL byte (line %d)", v->line);
    *out = strndup(v->str, v->len);
    return *out ? 0 : XG_ENOMEM;
}

static int take_bool(parse_ctx *c, const xg_jv *v, const char *path, bool *out)
{
    if (v->kind != XG_JV_BOOL)
        return fail(c, path, "expected true or false, got %s (line %d)", xg_jv_kind_name(v->kind), v->line);
    *out = strcmp(v->str, "true") == 0;
    return 0;
}

/* A non-negative integer up to max, written without sign, fraction or exponent. */
static int take_uint(parse_ctx *c, const xg_jv *v, const char *path, unsigned long long max, unsigned long long *out)
{
    if (v->kind != XG_JV_NUMBER)
        return fail(c, path, "expected a non-negative integer, got %s (line %d)", xg_jv_kind_name(v->kind), v->line);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v->str, &end, 10);
    if (!isdigit((unsigned char)v->str[0]) || *end != '\0' || errno != 0 || n > max)
        return fail(c, path, "expected an integer from 0 to %llu, got %s (line %d)", max, v->str, v->line);
    *out = n;
    return 0;
}

static const char *const unit_names[] = {"unknown", "second", "minute", "hour", "day"};

uint32_t xg_stub_rls_unit_seconds(int unit)
{
    static const uint32_t secs[] = {0, 1, 60, 3600, 86400};
    return unit >= XG_RLS_SECOND && unit <= XG_RLS_DAY ? secs[unit] : 0;
}

const char *xg_stub_rls_unit_name(int unit)
{
    return unit >= XG_RLS_SECOND && unit <= XG_RLS_DAY ? unit_names[unit] : unit_names[0];
}

static int take_unit(parse_ctx *c, const xg_jv *v, const char *path, int *out)
{
    if (v->kind == XG_JV_STRING) {
        for (int u = XG_RLS_SECOND; u <= XG_RLS_DAY; u++) {
            if (strcasecmp(v->str, unit_names[u]) == 0) {
                *out = u;
                return 0;
            }
        }
    }
    return fail(c, path, "expected second, minute, hour or day, got \"%s\" (line %d)", v->str ? v->str : "", v->line);
}

static int parse_limit(parse_ctx *c, const xg_jv *v, const char *path, xg_stub_rls_limit *out)
{
    static const char *const keys[] = {"unit", "requests_per_unit", "unlimited", "name", "replaces", NULL};
    char p[PATH_MAX_LEN];
    int rc = want_kind(c, v, XG_JV_OBJECT, path);
    if (rc == 0)
        rc = check_keys(c, v, keys, path, "rate_limit (unit, requests_per_unit, unlimited, name)");
    if (rc != 0)
        return rc;
    if (xg_jv_get(v, "replaces") != NULL) {
        sub_path(p, path, "replaces");
        return fail(c, p, "not supported by the stub's rate-limit service");
    }
    out->set = true;
    const xg_jv *f;
    if ((f = xg_jv_get(v, "unlimited")) != NULL) {
        sub_path(p, path, "unlimited");
        if ((rc = take_bool(c, f, p, &out->unlimited)) != 0)
            return rc;
    }
    if ((f = xg_jv_get(v, "name")) != NULL) {
        sub_path(p, path, "name");
        free(out->name);
        if ((rc = take_string(c, f, p, false, &out->name)) != 0)
            return rc;
    }
    const xg_jv *unit = xg_jv_get(v, "unit"), *rpu = xg_jv_get(v, "requests_per_unit");
    if (out->unlimited) {
        if (unit != NULL || rpu != NULL)
            return fail(c, path, "an unlimited rate_limit takes no unit or requests_per_unit");
        return 0;
    }
    if (unit == NULL)
        return fail(c, path, "needs a unit (second, minute, hour or day) or unlimited: true");
    sub_path(p, path, "unit");
    if ((rc = take_unit(c, unit, p, &out->unit)) != 0)
        return rc;
    unsigned long long n = 0;
    sub_path(p, path, "requests_per_unit");
    if (rpu == NULL)
        return fail(c, path, "needs requests_per_unit");
    if ((rc = take_uint(c, rpu, p, UINT32_MAX, &n)) != 0)
        return rc;
    out->requests_per_unit = (uint32_t)n;
    return 0;
}

static void node_dispose(xg_stub_rls_node *n)
{
    for (size_t i = 0; i < n->nchildren; i++)
        node_dispose(&n->children[i]);
    free(n->children);
    free(n->key);
    free(n->value);
    free(n->limit.name);
}

static int parse_nodes(parse_ctx *c, const xg_jv *list, const char *path, int depth, xg_stub_rls_node **out,
                       size_t *nout);

/* Two siblings with the same key and value (or both without one) would make
 * the match depend on file order: refused, as envoyproxy/ratelimit does. */
static int check_sibling(parse_ctx *c, const xg_stub_rls_node *nodes, size_t i, const char *path)
{
    const xg_stub_rls_node *n = &nodes[i];
    for (size_t j = 0; j < i; j++) {
        const xg_stub_rls_node *o = &nodes[j];
        bool same_value =
            (o->value == NULL && n->value == NULL) ||
            (o->value != NULL && n->value != NULL && strcmp(o->value, n->value) == 0 && o->prefix == n->prefix);
        if (strcmp(o->key, n->key) == 0 && same_value)
            return fail(c, path, "duplicate descriptor (key \"%s\"%s%s%s) in the same list, first at index %zu", n->key,
                        n->value ? ", value \"" : " without a value", n->value ? n->value : "",
                        n->value ? (n->prefix ? "*\"" : "\"") : "", j);
    }
    return 0;
}

static int parse_node(parse_ctx *c, const xg_jv *v, const char *path, int depth, xg_stub_rls_node *n)
{
    static const char *const keys[] = {"key",         "value", "rate_limit", "shadow_mode", "detailed_metric",
                                       "descriptors", NULL};
    char p[PATH_MAX_LEN];
    int rc = want_kind(c, v, XG_JV_OBJECT, path);
    if (rc == 0)
        rc = check_keys(c, v, keys, path, "a descriptor (key, value, rate_limit, shadow_mode, descriptors)");
    if (rc != 0)
        return rc;
    const xg_jv *f = xg_jv_get(v, "key");
    if (f == NULL)
        return fail(c, path, "a descriptor needs a key (line %d)", v->line);
    sub_path(p, path, "key");
    if ((rc = take_string(c, f, p, true, &n->key)) != 0)
        return rc;
    if ((f = xg_jv_get(v, "value")) != NULL) {
        sub_path(p, path, "value");
        if ((rc = take_string(c, f, p, false, &n->value)) != 0)
            return rc;
        size_t len = strlen(n->value);
        n->prefix = len > 0 && n->value[len - 1] == '*';
        if (n->prefix)
            n->value[len - 1] = '\0';
    }
    bool detailed = false;
    if ((f = xg_jv_get(v, "detailed_metric")) != NULL) {
        sub_path(p, path, "detailed_metric"); /* metrics only: accepted, nothing to do */
        if ((rc = take_bool(c, f, p, &detailed)) != 0)
            return rc;
    }
    if ((f = xg_jv_get(v, "shadow_mode")) != NULL) {
        sub_path(p, path, "shadow_mode");
        if ((rc = take_bool(c, f, p, &n->shadow_mode)) != 0)
            return rc;
    }
    if ((f = xg_jv_get(v, "rate_limit")) != NULL) {
        sub_path(p, path, "rate_limit");
        if ((rc = parse_limit(c, f, p, &n->limit)) != 0)
            return rc;
    }
    if ((f = xg_jv_get(v, "descriptors")) != NULL) {
        sub_path(p, path, "descriptors");
        return parse_nodes(c, f, p, depth + 1, &n->children, &n->nchildren);
    }
    return 0;
}

static int parse_nodes(parse_ctx *c, const xg_jv *list, const char *path, int depth, xg_stub_rls_node **out,
                       size_t *nout)
{
    if (depth > MAX_DEPTH)
        return fail(c, path, "descriptors nested deeper than %d levels", MAX_DEPTH);
    int rc = want_kind(c, list, XG_JV_ARRAY, path);
    if (rc != 0 || list->n == 0)
        return rc;
    xg_stub_rls_node *nodes = calloc(list->n, sizeof(*nodes));
    if (nodes == NULL)
        return XG_ENOMEM;
    *out = nodes;
    for (size_t i = 0; i < list->n && rc == 0; i++) {
        char p[PATH_MAX_LEN];
        item_path(p, path, i);
        *nout = i + 1; /* what to dispose if this one fails half-way */
        rc = parse_node(c, list->items[i], p, depth, &nodes[i]);
        if (rc == 0)
            rc = check_sibling(c, nodes, i, p);
    }
    return rc;
}

static int parse_headers(parse_ctx *c, const xg_jv *list, const char *path, xg_stub_rls_header **out, size_t *nout)
{
    static const char *const keys[] = {"key", "value", NULL};
    int rc = want_kind(c, list, XG_JV_ARRAY, path);
    if (rc != 0 || list->n == 0)
        return rc;
    if ((*out = calloc(list->n, sizeof(**out))) == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < list->n && rc == 0; i++) {
        char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
        const xg_jv *h = list->items[i], *k, *v;
        item_path(p, path, i);
        *nout = i + 1;
        if ((rc = want_kind(c, h, XG_JV_OBJECT, p)) != 0 || (rc = check_keys(c, h, keys, p, "a header")) != 0)
            break;
        if ((k = xg_jv_get(h, "key")) == NULL)
            return fail(c, p, "a header needs a key");
        sub_path(q, p, "key");
        if ((rc = take_string(c, k, q, true, &(*out)[i].key)) != 0)
            break;
        sub_path(q, p, "value");
        v = xg_jv_get(h, "value");
        rc = v ? take_string(c, v, q, false, &(*out)[i].value) : (((*out)[i].value = strdup("")) ? 0 : XG_ENOMEM);
    }
    return rc;
}

/* gRPC status codes by name, for test_error.code. */
static const char *const grpc_codes[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

static int parse_error(parse_ctx *c, const xg_jv *v, const char *path, xg_stub_rls_domain *d)
{
    static const char *const keys[] = {"code", "message", NULL};
    char p[PATH_MAX_LEN];
    int rc = want_kind(c, v, XG_JV_OBJECT, path);
    if (rc == 0)
        rc = check_keys(c, v, keys, path, "test_error (code, message)");
    if (rc != 0)
        return rc;
    const xg_jv *code = xg_jv_get(v, "code"), *msg = xg_jv_get(v, "message");
    sub_path(p, path, "code");
    if (code == NULL)
        return fail(c, path, "needs a code (a gRPC status name such as UNAVAILABLE, or its number 1-16)");
    for (int i = 1; i <= 16 && code->kind == XG_JV_STRING; i++) {
        if (strcasecmp(code->str, grpc_codes[i]) == 0)
            d->error_code = i;
    }
    unsigned long long n = 0;
    if (d->error_code == 0 && (code->kind != XG_JV_NUMBER || take_uint(c, code, p, 16, &n) != 0 || n == 0))
        return fail(c, p, "expected a gRPC status name other than OK (UNAVAILABLE, INTERNAL, ...) or 1-16 (line %d)",
                    code->line);
    if (d->error_code == 0)
        d->error_code = (int)n;
    sub_path(p, path, "message");
    return msg ? take_string(c, msg, p, false, &d->error_message)
               : ((d->error_message = strdup("test_error")) ? 0 : XG_ENOMEM);
}

/* The stub-only members of a domain. */
static int parse_knobs(parse_ctx *c, const xg_jv *v, const char *path, xg_stub_rls_domain *d)
{
    char p[PATH_MAX_LEN];
    const xg_jv *f;
    int rc = 0;
    unsigned long long n = 0;
    if ((f = xg_jv_get(v, "test_delay_ms")) != NULL) {
        sub_path(p, path, "test_delay_ms");
        if ((rc = take_uint(c, f, p, 600000, &n)) != 0)
            return rc;
        d->delay_ms = (uint32_t)n;
    }
    if ((f = xg_jv_get(v, "test_error")) != NULL) {
        sub_path(p, path, "test_error");
        if ((rc = parse_error(c, f, p, d)) != 0)
            return rc;
    }
    if ((f = xg_jv_get(v, "raw_body")) != NULL) {
        sub_path(p, path, "raw_body");
        if ((rc = take_string(c, f, p, false, &d->raw_body)) != 0)
            return rc;
    }
    if ((f = xg_jv_get(v, "response_headers_to_add")) != NULL) {
        sub_path(p, path, "response_headers_to_add");
        if ((rc = parse_headers(c, f, p, &d->response_headers, &d->nresponse_headers)) != 0)
            return rc;
    }
    if ((f = xg_jv_get(v, "request_headers_to_add")) != NULL) {
        sub_path(p, path, "request_headers_to_add");
        rc = parse_headers(c, f, p, &d->request_headers, &d->nrequest_headers);
    }
    return rc;
}

static int parse_domain(parse_ctx *c, const xg_jv *v, const char *path, xg_stub_rls_domain *d)
{
    static const char *const keys[] = {"domain",
                                       "descriptors",
                                       "test_delay_ms",
                                       "test_error",
                                       "raw_body",
                                       "response_headers_to_add",
                                       "request_headers_to_add",
                                       NULL};
    char p[PATH_MAX_LEN];
    int rc = want_kind(c, v, XG_JV_OBJECT, path);
    if (rc == 0)
        rc = check_keys(c, v, keys, path, "a domain (domain, descriptors, and the stub's test_* knobs)");
    if (rc != 0)
        return rc;
    const xg_jv *f = xg_jv_get(v, "domain");
    if (f == NULL)
        return fail(c, path, "a rate-limit config needs a domain (line %d)", v->line);
    sub_path(p, path, "domain");
    if ((rc = take_string(c, f, p, true, &d->name)) != 0)
        return rc;
    if ((f = xg_jv_get(v, "descriptors")) != NULL) {
        sub_path(p, path, "descriptors");
        if ((rc = parse_nodes(c, f, p, 0, &d->descriptors, &d->ndescriptors)) != 0)
            return rc;
    }
    return parse_knobs(c, v, path, d);
}

static void domain_dispose(xg_stub_rls_domain *d)
{
    for (size_t i = 0; i < d->ndescriptors; i++)
        node_dispose(&d->descriptors[i]);
    for (size_t i = 0; i < d->nresponse_headers; i++) {
        free(d->response_headers[i].key);
        free(d->response_headers[i].value);
    }
    for (size_t i = 0; i < d->nrequest_headers; i++) {
        free(d->request_headers[i].key);
        free(d->request_headers[i].value);
    }
    free(d->response_headers);
    free(d->request_headers);
    free(d->descriptors);
    free(d->name);
    free(d->error_message);
    free(d->raw_body);
}

void xg_stub_rls_config_free(xg_stub_rls_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->ndomains; i++)
        domain_dispose(&cfg->domains[i]);
    free(cfg->domains);
    free(cfg);
}

static int build(parse_ctx *c, const xg_jv *doc, xg_stub_rls_config *cfg)
{
    bool list = doc->kind == XG_JV_ARRAY;
    size_t n = list ? doc->n : 1;
    if (!list && doc->kind != XG_JV_OBJECT)
        return fail(c, "", "line %d: expected a mapping with `domain:` or a list of them, got %s", doc->line,
                    xg_jv_kind_name(doc->kind));
    if (n == 0)
        return fail(c, "", "empty list of domains");
    if ((cfg->domains = calloc(n, sizeof(*cfg->domains))) == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX_LEN] = "";
        if (list)
            item_path(p, "", i);
        cfg->ndomains = i + 1;
        int rc = parse_domain(c, list ? doc->items[i] : doc, p, &cfg->domains[i]);
        if (rc != 0)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->domains[j].name, cfg->domains[i].name) == 0) {
                char q[PATH_MAX_LEN];
                sub_path(q, p, "domain");
                return fail(c, q, "duplicate domain \"%s\" (first at [%zu])", cfg->domains[i].name, j);
            }
        }
    }
    return 0;
}

int xg_stub_rls_config_parse(const char *text, size_t len, xg_stub_rls_config **out, char *err, size_t errlen)
{
    parse_ctx c = {err, errlen};
    xg_jv *doc = NULL;
    int rc = xg_jv_parse(text, len, &doc, err, errlen);
    if (rc != 0)
        return rc;
    xg_stub_rls_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        rc = XG_ENOMEM;
    else if (doc->kind == XG_JV_NULL)
        rc = fail(&c, "", "empty document (want `domain:` and `descriptors:`, or a list of such domains)");
    else
        rc = build(&c, doc, cfg);
    xg_jv_free(doc);
    if (rc != 0) {
        if (rc == XG_ENOMEM)
            snprintf(err, errlen, "out of memory");
        xg_stub_rls_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int xg_stub_rls_config_load(const char *path, xg_stub_rls_config **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = xg_stub_read_file(path, &text, &len, err, errlen);
    if (rc == 0)
        rc = xg_stub_rls_config_parse(text, len, out, err, errlen);
    free(text);
    return rc;
}

bool xg_stub_rls_config_sniff(const char *text, size_t len)
{
    char err[64];
    xg_jv *doc = NULL;
    if (xg_jv_parse(text, len, &doc, err, sizeof(err)) != 0)
        return false;
    const xg_jv *first = doc->kind == XG_JV_ARRAY && doc->n > 0 ? doc->items[0] : doc;
    bool yes = xg_jv_get(first, "domain") != NULL && xg_jv_get(first, "@type") == NULL;
    xg_jv_free(doc);
    return yes;
}

const xg_stub_rls_domain *xg_stub_rls_config_domain(const xg_stub_rls_config *c, const char *name)
{
    for (size_t i = 0; c != NULL && i < c->ndomains; i++) {
        if (strcmp(c->domains[i].name, name) == 0)
            return &c->domains[i];
    }
    return NULL;
}

/* The node of one level that entry e selects: exact value, then a value
 * prefix (the longest, so that "ab*" beats "a*"), then the key alone. */
static const xg_stub_rls_node *pick(const xg_stub_rls_node *nodes, size_t n, const xg_stub_rls_entry *e)
{
    const xg_stub_rls_node *prefix = NULL, *any = NULL;
    for (size_t i = 0; i < n; i++) {
        const xg_stub_rls_node *x = &nodes[i];
        if (strcmp(x->key, e->key) != 0)
            continue;
        if (x->value == NULL)
            any = x;
        else if (!x->prefix && strcmp(x->value, e->value) == 0)
            return x;
        else if (x->prefix && strncmp(x->value, e->value, strlen(x->value)) == 0 &&
                 (prefix == NULL || strlen(x->value) > strlen(prefix->value)))
            prefix = x;
    }
    return prefix ? prefix : any;
}

const xg_stub_rls_node *xg_stub_rls_config_match(const xg_stub_rls_domain *d, const xg_stub_rls_entry *entries,
                                                 size_t n)
{
    const xg_stub_rls_node *level = d->descriptors, *hit = NULL;
    size_t nlevel = d->ndescriptors;
    for (size_t i = 0; i < n; i++) {
        if ((hit = pick(level, nlevel, &entries[i])) == NULL)
            return NULL;
        level = hit->children;
        nlevel = hit->nchildren;
    }
    return hit != NULL && hit->limit.set ? hit : NULL;
}
