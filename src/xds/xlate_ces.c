/* Helpers shared by the upstream-side translators (see xlate_ces.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "xds/xlate_ces.h"

/* Envoy's (and protobuf's) Duration bound: 10,000 years. */
#define XG__MAX_DURATION_S 315576000000LL

int xg__ces_fail_at(xg_xlate *x, const char *field, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    size_t mark = field ? xg_xlate_push(x, field) : 0;
    int rc = xg_xlate_fail(x, "%s", reason);
    if (field)
        xg_xlate_pop(x, mark);
    return rc;
}

int xg__ces_duration(xg_xlate *x, const char *field, const Google__Protobuf__Duration *d, int64_t dflt, int flags,
                     int64_t *out_ms)
{
    if (d == NULL) {
        *out_ms = dflt;
        return 0;
    }
    if (d->seconds < 0 || d->nanos < 0)
        return xg__ces_fail_at(x, field, "must not be negative");
    if (d->seconds > XG__MAX_DURATION_S || d->nanos > 999999999)
        return xg__ces_fail_at(x, field, "out of range");
    if ((flags & XG__DUR_POSITIVE) && d->seconds == 0 && d->nanos == 0)
        return xg__ces_fail_at(x, field, "must be greater than 0");
    int64_t ms = d->seconds * 1000 + d->nanos / 1000000;
    if (ms == 0 && d->nanos > 0)
        ms = 1;
    *out_ms = ms;
    return 0;
}

int xg__ces_percent(xg_xlate *x, const char *field, const Envoy__Type__V3__Percent *p, double dflt, double *out)
{
    double v = p ? p->value : dflt;
    /* The negated comparison also rejects NaN. */
    if (!(v >= 0.0 && v <= 100.0))
        return xg__ces_fail_at(x, field, "must be a percentage between 0 and 100, got %g", v);
    *out = v;
    return 0;
}

static const char *source_name(Envoy__Config__Core__V3__ConfigSource__ConfigSourceSpecifierCase c)
{
    switch (c) {
    case ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_PATH_CONFIG_SOURCE:
        return "path_config_source";
    case ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_API_CONFIG_SOURCE:
        return "api_config_source";
    case ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_SELF:
        return "self";
    default:
        return "a config source without a source";
    }
}

int xg__ces_ads_source(xg_xlate *x, const char *field, const Envoy__Config__Core__V3__ConfigSource *cs,
                       int64_t *initial_fetch_timeout_ms)
{
    size_t mark = xg_xlate_push(x, field);
    int rc = 0;
    if (cs == NULL) {
        rc = xg_xlate_fail(x, "required: xdsgate fetches it over ADS, set ads: {}");
    } else if (cs->config_source_specifier_case !=
               ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_ADS) {
        const char *what = source_name(cs->config_source_specifier_case);
        rc = xg_xlate_fail(x, "%s is not supported: xdsgate takes every resource over its one ADS stream, use ads: {}",
                           what);
    } else if (cs->resource_api_version == ENVOY__CONFIG__CORE__V3__API_VERSION__V2) {
        rc = xg__ces_fail_at(x, "resource_api_version", "V2 is not supported, use V3 (or leave it unset)");
    } else {
        rc = xg__ces_duration(x, "initial_fetch_timeout", cs->initial_fetch_timeout, 15000, XG__DUR_NONNEG,
                              initial_fetch_timeout_ms);
    }
    xg_xlate_pop(x, mark);
    return rc;
}

const char *xg__ces_any_name(const Google__Protobuf__Any *any)
{
    if (any == NULL || any->type_url == NULL)
        return "";
    const char *slash = strrchr(any->type_url, '/');
    return slash ? slash + 1 : any->type_url;
}

int xg__ces_any_unpack(xg_xlate *x, const char *field, const Google__Protobuf__Any *any,
                       const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
    const char *name = xg__ces_any_name(any);
    if (strcmp(name, d->name) != 0)
        return xg__ces_fail_at(x, field, "expected type %s, got \"%s\"", d->name, name);
    *out = protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data);
    if (*out == NULL)
        return xg__ces_fail_at(x, field, "%s payload does not decode", d->name);
    return 0;
}

int xg__ces_strv(xg_xlate *x, char **in, size_t n, const char ***out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    const char **v = xg_arena_calloc(&x->res->arena, n, sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if ((v[i] = xg_xlate_strdup(x, in[i])) == NULL)
            return XG_ENOMEM;
    *out = v;
    return 0;
}
