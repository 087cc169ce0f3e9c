/* Text forms of proto3 JSON scalars that need more than printf: bytes as
 * base64, Duration ("1.5s") and Timestamp (RFC 3339). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "xds/pbjson_int.h"

#define DURATION_MAX_SECONDS 315576000000LL
#define TIMESTAMP_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TIMESTAMP_MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int xg__base64_encode(xg_buf *out, const uint8_t *data, size_t len)
{
    int rc = xg_buf_reserve(out, (len + 2) / 3 * 4);
    for (size_t i = 0; rc == 0 && i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], i + 1 < len ? b64[(v >> 6) & 63] : '=',
                     i + 2 < len ? b64[v & 63] : '='};
        rc = xg_buf_append(out, q, 4);
    }
    return rc;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int xg__base64_decode(const char *s, size_t len, uint8_t **out, size_t *outlen)
{
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return XG_EINVAL;
    uint8_t *buf = malloc(len * 3 / 4 + 1);
    if (buf == NULL)
        return XG_ENOMEM;
    size_t n = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            free(buf);
            return XG_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        if (i % 4 == 3) {
            buf[n++] = (uint8_t)(acc >> 16);
            buf[n++] = (uint8_t)(acc >> 8);
            buf[n++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (len % 4 == 2) {
        buf[n++] = (uint8_t)(acc >> 4);
    } else if (len % 4 == 3) {
        buf[n++] = (uint8_t)(acc >> 10);
        buf[n++] = (uint8_t)(acc >> 2);
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* Reads 1-9 fraction digits after a '.', as nanoseconds; returns chars read. */
static int parse_fraction(const char *s, int32_t *nanos)
{
    int n = 0;
    int32_t v = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == 9)
            return -1;
        v = v * 10 + (s[n] - '0');
        n++;
    }
    if (n == 0)
        return -1;
    for (int i = n; i < 9; i++)
        v *= 10;
    *nanos = v;
    return n;
}

int xg__duration_parse(const char *s, int64_t *seconds, int32_t *nanos)
{
    bool neg = (*s == '-');
    const char *p = neg ? s + 1 : s;
    int64_t sec = 0;
    int32_t ns = 0;
    if (!(*p >= '0' && *p <= '9'))
        return XG_EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        sec = sec * 10 + (*p - '0');
        if (sec > DURATION_MAX_SECONDS)
            return XG_ERANGE;
    }
    if (*p == '.') {
        int n = parse_fraction(p + 1, &ns);
        if (n < 0)
            return XG_EINVAL;
        p += 1 + n;
    }
    if (strcmp(p, "s") != 0)
        return XG_EINVAL;
    *seconds = neg ? -sec : sec;
    *nanos = neg ? -ns : ns;
    return 0;
}

/* Appends ".ddd", ".dddddd" or ".ddddddddd" (nothing for 0), as proto3 JSON writes. */
static int put_fraction(xg_buf *out, int32_t nanos)
{
    if (nanos == 0)
        return 0;
    if (nanos % 1000000 == 0)
        return xg_buf_printf(out, ".%03d", nanos / 1000000);
    if (nanos % 1000 == 0)
        return xg_buf_printf(out, ".%06d", nanos / 1000);
    return xg_buf_printf(out, ".%09d", nanos);
}

int xg__duration_format(xg_buf *out, int64_t seconds, int32_t nanos)
{
    if (seconds > DURATION_MAX_SECONDS || seconds < -DURATION_MAX_SECONDS || nanos <= -1000000000 ||
        nanos >= 1000000000 || (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0))
        return XG_ERANGE;
    bool neg = seconds < 0 || nanos < 0;
    int rc = xg_buf_printf(out, "%s%" PRId64, neg ? "-" : "", neg ? -seconds : seconds);
    if (rc == 0)
        rc = put_fraction(out, neg ? -nanos : nanos);
    return rc ? rc : xg_buf_putc(out, 's');
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return XG_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Reads "Z" or "+HH:MM"/"-HH:MM" at p into an offset in seconds east of UTC. */
static int parse_offset(const char *p, int64_t *offset)
{
    int oh, om;
    if (strcmp(p, "Z") == 0 || strcmp(p, "z") == 0) {
        *offset = 0;
        return 0;
    }
    if ((p[0] != '+' && p[0] != '-') || strlen(p) != 6 || p[3] != ':' || digits(p + 1, 2, &oh) != 0 ||
        digits(p + 4, 2, &om) != 0 || oh > 23 || om > 59)
        return XG_EINVAL;
    *offset = (p[0] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
    return 0;
}

int xg__timestamp_parse(const char *s, int64_t *seconds, int32_t *nanos)
{
    int y, mo, d, h, mi, se;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return XG_EINVAL;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
        return XG_EINVAL;
    const char *p = s + 19;
    int32_t ns = 0;
    if (*p == '.') {
        int n = parse_fraction(p + 1, &ns);
        if (n < 0)
            return XG_EINVAL;
        p += 1 + n;
    }
    int64_t offset;
    if (parse_offset(p, &offset) != 0)
        return XG_EINVAL;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return XG_EINVAL;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    if (t < TIMESTAMP_MIN_SECONDS || t > TIMESTAMP_MAX_SECONDS)
        return XG_ERANGE;
    *seconds = t;
    *nanos = ns;
    return 0;
}

int xg__timestamp_format(xg_buf *out, int64_t seconds, int32_t nanos)
{
    if (seconds < TIMESTAMP_MIN_SECONDS || seconds > TIMESTAMP_MAX_SECONDS || nanos < 0 || nanos > 999999999)
        return XG_ERANGE;
    int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    int64_t rem = seconds - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int rc = xg_buf_printf(out, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(rem / 3600),
                           (int)(rem % 3600 / 60), (int)(rem % 60));
    if (rc == 0)
        rc = put_fraction(out, nanos);
    return rc ? rc : xg_buf_putc(out, 'Z');
}
