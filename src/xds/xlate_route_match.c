/* RouteMatch, HeaderMatcher and QueryParameterMatcher translation. Path
 * literals are stored ready for an index (lowercased when the match is case
 * insensitive); regexes are compiled here (RE2, full match). */
#include <string.h>

#include "core/error.h"
#include "envoy/config/route/v3/route_components.pb-c.h"
#include "xds/xlate_int.h"

typedef Envoy__Config__Route__V3__RouteMatch pb_route_match;
typedef Envoy__Config__Route__V3__HeaderMatcher pb_header_matcher;
typedef Envoy__Config__Route__V3__QueryParameterMatcher pb_query_matcher;

#define HM(x) ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_##x
#define QM(x) ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_##x
#define PS(x) ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_##x

/* The deprecated exact_match, prefix_match, suffix_match and contains_match:
 * the equivalent case-sensitive string_match. As in Envoy, only exact_match
 * may be empty. */
static int deprecated_match(xg_xlate *x, const char *field, xg_string_match_kind kind, const char *s,
                            xg_string_matcher *out)
{
    if (kind != XG_STRING_MATCH_EXACT && s[0] == '\0')
        return xg__fail_at(x, field, "must not be empty");
    out->kind = kind;
    out->ignore_case = false;
    out->len = strlen(s);
    out->value = xg_xlate_strdup(x, s);
    return out->value ? 0 : XG_ENOMEM;
}

static int header_matcher(xg_xlate *x, const pb_header_matcher *pb, xg_header_matcher *out)
{
    size_t mark = xg_xlate_push(x, "name");
    int rc = xg__xlate_header_name(x, pb->name, true, &out->name);
    if (rc < 0)
        return rc;
    xg_xlate_pop(x, mark);
    out->invert = pb->invert_match;
    out->treat_missing_as_empty = pb->treat_missing_header_as_empty;
    switch (pb->header_match_specifier_case) {
    case HM(STRING_MATCH):
        out->kind = XG_HEADER_MATCH_STRING;
        mark = xg_xlate_push(x, "string_match");
        rc = xg_xlate_string_matcher(x, pb->string_match, &out->string);
        break;
    case HM(SAFE_REGEX_MATCH):
        out->kind = XG_HEADER_MATCH_STRING;
        out->string.kind = XG_STRING_MATCH_REGEX;
        mark = xg_xlate_push(x, "safe_regex_match");
        rc = xg__xlate_regex(x, pb->safe_regex_match, &out->string.regex);
        break;
    case HM(RANGE_MATCH):
        out->kind = XG_HEADER_MATCH_RANGE;
        out->range_start = pb->range_match->start;
        out->range_end = pb->range_match->end;
        break;
    case HM(PRESENT_MATCH):
        out->kind = XG_HEADER_MATCH_PRESENT;
        out->present = pb->present_match;
        break;
    case HM(EXACT_MATCH):
        out->kind = XG_HEADER_MATCH_STRING;
        rc = deprecated_match(x, "exact_match", XG_STRING_MATCH_EXACT, pb->exact_match, &out->string);
        break;
    case HM(PREFIX_MATCH):
        out->kind = XG_HEADER_MATCH_STRING;
        rc = deprecated_match(x, "prefix_match", XG_STRING_MATCH_PREFIX, pb->prefix_match, &out->string);
        break;
    case HM(SUFFIX_MATCH):
        out->kind = XG_HEADER_MATCH_STRING;
        rc = deprecated_match(x, "suffix_match", XG_STRING_MATCH_SUFFIX, pb->suffix_match, &out->string);
        break;
    case HM(CONTAINS_MATCH):
        out->kind = XG_HEADER_MATCH_STRING;
        rc = deprecated_match(x, "contains_match", XG_STRING_MATCH_CONTAINS, pb->contains_match, &out->string);
        break;
    default: /* Envoy: no specifier means "present" */
        out->kind = XG_HEADER_MATCH_PRESENT;
        out->present = true;
        break;
    }
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

int xg__xlate_header_matchers(xg_xlate *x, const char *field, Envoy__Config__Route__V3__HeaderMatcher *const *pb,
                              size_t n, const xg_header_matcher **out, size_t *n_out)
{
    xg_header_matcher *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = header_matcher(x, pb[i], &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    *out = v;
    *n_out = n;
    return 0;
}

static int query_matcher(xg_xlate *x, const pb_query_matcher *pb, xg_query_matcher *out)
{
    size_t len = strlen(pb->name);
    if (len == 0 || len > 1024)
        return xg__fail_at(x, "name", "must be 1 to 1024 characters");
    if ((out->name.s = xg_xlate_strdup(x, pb->name)) == NULL)
        return XG_ENOMEM;
    out->name.len = len;
    if (pb->query_parameter_match_specifier_case == QM(STRING_MATCH)) {
        out->is_string = true;
        size_t mark = xg_xlate_push(x, "string_match");
        int rc = xg_xlate_string_matcher(x, pb->string_match, &out->string);
        if (rc == 0)
            xg_xlate_pop(x, mark);
        return rc;
    }
    /* present_match, or nothing: Envoy then matches on presence. */
    out->present = pb->query_parameter_match_specifier_case == QM(PRESENT_MATCH) ? pb->present_match : true;
    return 0;
}

int xg__xlate_query_matchers(xg_xlate *x, const char *field, Envoy__Config__Route__V3__QueryParameterMatcher *const *pb,
                             size_t n, const xg_query_matcher **out, size_t *n_out)
{
    xg_query_matcher *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = query_matcher(x, pb[i], &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    *out = v;
    *n_out = n;
    return 0;
}

/* A path literal; lowercased for case-insensitive matching so an index can
 * be keyed on it directly. */
static int path_literal(xg_xlate *x, const char *s, xg_route_match *out)
{
    char *v = xg_xlate_strdup(x, s);
    if (v == NULL)
        return XG_ENOMEM;
    out->path = (xg_lstr){v, strlen(v)};
    for (size_t i = 0; !out->case_sensitive && i < out->path.len; i++)
        if (v[i] >= 'A' && v[i] <= 'Z')
            v[i] = (char)(v[i] + ('a' - 'A'));
    return 0;
}

/* Envoy: path_separated_prefix matches ^[^?#]+[^?#/]$. */
static bool valid_separated_prefix(const char *s)
{
    size_t len = strlen(s);
    return len >= 2 && strpbrk(s, "?#") == NULL && s[len - 1] != '/';
}

static int path_specifier(xg_xlate *x, const pb_route_match *pb, xg_route_match *out)
{
    switch (pb->path_specifier_case) {
    case PS(PREFIX):
        out->kind = XG_PATH_PREFIX;
        return path_literal(x, pb->prefix, out);
    case PS(PATH):
        out->kind = XG_PATH_EXACT;
        return path_literal(x, pb->path, out);
    case PS(PATH_SEPARATED_PREFIX):
        out->kind = XG_PATH_SEPARATED_PREFIX;
        if (!valid_separated_prefix(pb->path_separated_prefix)) {
            xg_xlate_push(x, "path_separated_prefix");
            return xg_xlate_fail(x, "\"%s\": must be at least two characters, without '?' or '#', not ending in '/'",
                                 pb->path_separated_prefix);
        }
        return path_literal(x, pb->path_separated_prefix, out);
    case PS(SAFE_REGEX): {
        out->kind = XG_PATH_REGEX;
        size_t mark = xg_xlate_push(x, "safe_regex");
        int rc = xg__xlate_regex(x, pb->safe_regex, &out->regex);
        if (rc == 0)
            xg_xlate_pop(x, mark);
        return rc;
    }
    case PS(CONNECT_MATCHER):
        out->kind = XG_PATH_CONNECT;
        return 0;
    default:
        return xg_xlate_fail(x,
                             "one of prefix, path, safe_regex, path_separated_prefix or connect_matcher is required");
    }
}

/* runtime_fraction.default_value in parts per million; the runtime key is not consulted. */
int xg__xlate_fraction_ppm(xg_xlate *x, const Envoy__Type__V3__FractionalPercent *pb, uint32_t *out)
{
    static const uint32_t scale[] = {10000, 100, 1};
    if (pb == NULL)
        return xg_xlate_fail(x, "default_value is required");
    if ((unsigned)pb->denominator > 2)
        return xg__fail_at(x, "default_value.denominator", "unknown value %d", (int)pb->denominator);
    uint64_t ppm = (uint64_t)pb->numerator * scale[pb->denominator];
    *out = ppm > 1000000 ? 1000000 : (uint32_t)ppm; /* Envoy caps the numerator at the denominator */
    return 0;
}

static int tls_match(const Envoy__Config__Route__V3__RouteMatch__TlsContextMatchOptions *pb, xg_route_match *out)
{
    out->tls_presented = out->tls_validated = XG_UNSET;
    if (pb != NULL && pb->presented != NULL)
        out->tls_presented = pb->presented->value ? XG_TRUE : XG_FALSE;
    if (pb != NULL && pb->validated != NULL)
        out->tls_validated = pb->validated->value ? XG_TRUE : XG_FALSE;
    return 0;
}

int xg__xlate_route_match(xg_xlate *x, const Envoy__Config__Route__V3__RouteMatch *pb, xg_route_match *out)
{
    if (pb == NULL)
        return xg_xlate_fail(x, "required");
    out->case_sensitive = xg__bool_or(pb->case_sensitive, true);
    int rc = path_specifier(x, pb, out);
    if (rc < 0)
        return rc;
    out->fraction_ppm = 1000000;
    if (pb->runtime_fraction != NULL) {
        size_t mark = xg_xlate_push(x, "runtime_fraction");
        out->has_fraction = true;
        if ((rc = xg__xlate_fraction_ppm(x, pb->runtime_fraction->default_value, &out->fraction_ppm)) < 0)
            return rc;
        xg_xlate_pop(x, mark);
    }
    rc = xg__xlate_header_matchers(x, "headers", pb->headers, pb->n_headers, &out->headers, &out->n_headers);
    if (rc < 0)
        return rc;
    rc = xg__xlate_query_matchers(x, "query_parameters", pb->query_parameters, pb->n_query_parameters, &out->query,
                                  &out->n_query);
    if (rc < 0)
        return rc;
    out->grpc = pb->grpc != NULL;
    return tls_match(pb->tls_context, out);
}
