/* The admin's JSON writer. */
#include <inttypes.h>
#include <string.h>

#include "admin/json_out.h"
#include "core/error.h"
#include "xds/pbjson_int.h"

void xg_jw_init(xg_jw *w, xg_buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->first[0] = true;
}

static void put(xg_jw *w, const char *s, size_t n)
{
    if (w->err == 0)
        w->err = xg_buf_append(w->out, s, n);
}

static void puts_(xg_jw *w, const char *s)
{
    put(w, s, strlen(s));
}

static void newline(xg_jw *w)
{
    put(w, "\n", 1);
    for (int i = 0; i < w->depth; i++)
        put(w, "  ", 2);
}

/* Separator and indentation before a value or a key. */
static void begin_item(xg_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    if (!w->first[w->depth])
        put(w, ",", 1);
    w->first[w->depth] = false;
    newline(w);
}

void xg_jw_open(xg_jw *w, char c)
{
    begin_item(w);
    put(w, &c, 1);
    if (w->depth + 1 >= XG_JW_MAX_DEPTH) {
        w->err = w->err ? w->err : XG_ERANGE;
        return;
    }
    w->first[++w->depth] = true;
}

void xg_jw_close(xg_jw *w, char c)
{
    bool empty = w->first[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (!empty)
        newline(w);
    put(w, &c, 1);
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    size_t n = (s[0] >= 0xf0 && s[0] <= 0xf4) ? 4 : (s[0] >= 0xe0) ? 3 : (s[0] >= 0xc2 && s[0] < 0xe0) ? 2 : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

static void put_escaped(xg_jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str);
    put(w, "\"", 1);
    for (size_t i = 0; i < len && w->err == 0;) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t n = utf8_seq(s + i, len - i);
            put(w, n ? (const char *)s + i : "\\ufffd", n ? n : 6);
            i += n ? n : 1;
            continue;
        }
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(w, e, 2);
        } else if (c < 0x20) {
            xg_buf_printf(w->out, "\\u%04x", c);
        } else {
            put(w, (const char *)&c, 1);
        }
        i++;
    }
    put(w, "\"", 1);
}

void xg_jw_key(xg_jw *w, const char *key)
{
    begin_item(w);
    put_escaped(w, key);
    put(w, ": ", 2);
    w->after_key = true;
}

void xg_jw_str(xg_jw *w, const char *s)
{
    begin_item(w);
    put_escaped(w, s ? s : "");
}

void xg_jw_int(xg_jw *w, long long v)
{
    begin_item(w);
    if (w->err == 0)
        w->err = xg_buf_printf(w->out, "%lld", v);
}

void xg_jw_num(xg_jw *w, const char *literal)
{
    begin_item(w);
    puts_(w, literal);
}

void xg_jw_bool(xg_jw *w, bool v)
{
    begin_item(w);
    puts_(w, v ? "true" : "false");
}

void xg_jw_null(xg_jw *w)
{
    begin_item(w);
    puts_(w, "null");
}

void xg_jw_time(xg_jw *w, int64_t wall_ms)
{
    if (wall_ms == 0) {
        xg_jw_null(w);
        return;
    }
    xg_buf t;
    xg_buf_init(&t);
    int64_t sec = wall_ms / 1000;
    int rc = xg__timestamp_format(&t, sec, (int32_t)((wall_ms - sec * 1000) * 1000000));
    begin_item(w);
    if (rc != 0 && w->err == 0)
        w->err = rc;
    put(w, "\"", 1);
    put(w, t.data ? t.data : "", t.len);
    put(w, "\"", 1);
    xg_buf_dispose(&t);
}

void xg_jw_raw(xg_jw *w, const char *json, size_t len)
{
    begin_item(w);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (json[i] != '\n')
            continue; /* JSON strings cannot hold a raw newline: every one is layout */
        put(w, json + start, i - start);
        newline(w);
        start = i + 1;
    }
    put(w, json + start, len - start);
}

void xg_jw_kstr(xg_jw *w, const char *key, const char *s)
{
    xg_jw_key(w, key);
    xg_jw_str(w, s);
}

void xg_jw_kint(xg_jw *w, const char *key, long long v)
{
    xg_jw_key(w, key);
    xg_jw_int(w, v);
}

int xg_jw_finish(xg_jw *w)
{
    put(w, "\n", 1);
    return w->err;
}
