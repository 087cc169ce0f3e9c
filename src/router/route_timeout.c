/* Route timeouts with Envoy's rules (router/route_timeout.h): the
 * grpc-timeout header format, the router's global timeout and the stream's
 * maximum duration. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "router/route_match.h"
#include "router/route_timeout.h"

/* gRPC's TimeoutValue has at most 8 digits. */
#define GRPC_TIMEOUT_MAX 99999999u

bool xg_grpc_timeout_parse(const char *s, size_t len, uint64_t *ms)
{
    int64_t v;
    if (len < 2 || !xg_parse_int64(s, len - 1, &v) || v < 0 || v > GRPC_TIMEOUT_MAX)
        return false;
    uint64_t n = (uint64_t)v;
    switch (s[len - 1]) {
    case 'H':
        *ms = n * 3600000;
        return true;
    case 'M':
        *ms = n * 60000;
        return true;
    case 'S':
        *ms = n * 1000;
        return true;
    case 'm':
        *ms = n;
        return true;
    case 'u': /* rounded up, so a sub-millisecond deadline never becomes 0 (infinite) */
        *ms = (n + 999) / 1000;
        return true;
    case 'n':
        *ms = (n + 999999) / 1000000;
        return true;
    default:
        return false;
    }
}

bool xg_grpc_timeout_of(const xg_headers *h, uint64_t *ms)
{
    const xg_header *g = xg_headers_get_id(h, XG_HDR_GRPC_TIMEOUT);
    return g != NULL && xg_grpc_timeout_parse(g->value, g->value_len, ms);
}

size_t xg_grpc_timeout_format(uint64_t ms, char *buf, size_t n)
{
    static const char units[] = "mSMH";
    uint64_t t = ms;
    size_t u = 0;
    if (t > GRPC_TIMEOUT_MAX) {
        t /= 1000;
        u++;
    }
    while (t > GRPC_TIMEOUT_MAX) {
        if (units[u] == 'H') {
            t = GRPC_TIMEOUT_MAX; /* no larger unit: clipped */
            break;
        }
        t /= 60;
        u++;
    }
    int k = snprintf(buf, n, "%llu%c", (unsigned long long)t, units[u]);
    return k > 0 ? (size_t)k : 0;
}

bool xg_route_new_timeouts(const xg_route_forward *fw)
{
    return fw->cold->has_max_stream_duration;
}

uint64_t xg_route_timeout_ms(const xg_route_forward *fw, const xg_headers *h, bool grpc)
{
    if (!grpc || xg_route_new_timeouts(fw) || fw->cold->max_grpc_timeout_ms == XG_MS_UNSET)
        return fw->timeout_ms;
    uint64_t t = 0, max = fw->cold->max_grpc_timeout_ms;
    if (!xg_grpc_timeout_of(h, &t))
        t = 0; /* no deadline from the client: infinite, then capped */
    /* The offset only ever shortens a deadline; it never makes one 0 (infinite). */
    if (fw->cold->grpc_timeout_offset_ms > 0 && fw->cold->grpc_timeout_offset_ms < t)
        t -= fw->cold->grpc_timeout_offset_ms;
    if (max != 0 && (t == 0 || t > max))
        t = max;
    return t;
}

bool xg_route_stream_duration_ms(const xg_route_forward *fw, uint64_t hcm_max_ms, const xg_headers *h, bool grpc,
                                 uint64_t *ms)
{
    uint64_t t, max = fw->cold->grpc_timeout_header_max_ms;
    if (!grpc || max == XG_MS_UNSET || !xg_grpc_timeout_of(h, &t)) {
        t = fw->cold->max_stream_duration_ms != XG_MS_UNSET ? fw->cold->max_stream_duration_ms : hcm_max_ms;
        *ms = t;
        return t > 0;
    }
    if (max != 0 && t > max)
        t = max;
    uint64_t off = fw->cold->grpc_timeout_header_offset_ms;
    if (t != 0 && off > 0)
        t = off < t ? t - off : 0;
    *ms = t;
    return true;
}

static int put_grpc_timeout(xg_headers *h, uint64_t ms)
{
    char v[32];
    size_t n = xg_grpc_timeout_format(ms, v, sizeof(v));
    return xg_headers_set(h, "grpc-timeout", 12, v, n, true);
}

int xg_route_set_grpc_timeout(const xg_route_forward *fw, uint64_t hcm_max_ms, uint64_t timeout_ms, xg_headers *h,
                              bool grpc)
{
    if (!grpc)
        return 0;
    if (!xg_route_new_timeouts(fw))
        return fw->cold->max_grpc_timeout_ms != XG_MS_UNSET && timeout_ms > 0 ? put_grpc_timeout(h, timeout_ms) : 0;
    uint64_t ms;
    return xg_route_stream_duration_ms(fw, hcm_max_ms, h, grpc, &ms) ? put_grpc_timeout(h, ms) : 0;
}
