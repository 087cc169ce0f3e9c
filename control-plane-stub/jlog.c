/* JSON-lines event log for the control-plane stub; see jlog.h. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "jlog.h"

int xg_jlog_open(xg_jlog *l, const char *path)
{
    l->fd = STDOUT_FILENO;
    l->own_fd = false;
    if (path == NULL)
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    l->fd = fd;
    l->own_fd = true;
    return 0;
}

void xg_jlog_close(xg_jlog *l)
{
    if (l->own_fd)
        close(l->fd);
    l->fd = -1;
    l->own_fd = false;
}

static void note(xg_jev *e, int rc)
{
    if (rc != 0 && e->err == 0)
        e->err = rc;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    /* Overlong three/four-byte forms, surrogates and values past U+10FFFF. */
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

static int quote_byte(xg_buf *b, unsigned char c)
{
    switch (c) {
    case '"':
        return xg_buf_puts(b, "\\\"");
    case '\\':
        return xg_buf_puts(b, "\\\\");
    case '\n':
        return xg_buf_puts(b, "\\n");
    case '\r':
        return xg_buf_puts(b, "\\r");
    case '\t':
        return xg_buf_puts(b, "\\t");
    default:
        return c < 0x20 || c == 0x7f ? xg_buf_printf(b, "\\u%04x", c) : xg_buf_putc(b, (char)c);
    }
}

int xg_json_quote(xg_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = xg_buf_putc(b, '"');
    for (size_t i = 0; i < n && rc == 0;) {
        if (p[i] < 0x80) {
            rc = quote_byte(b, p[i++]);
            continue;
        }
        size_t len = utf8_len(p + i, n - i);
        rc = len ? xg_buf_append(b, p + i, len) : xg_buf_puts(b, "\\ufffd");
        i += len ? len : 1;
    }
    return rc ? rc : xg_buf_putc(b, '"');
}

/* Writes the separator and "key": for the next member (no key inside arrays). */
static void member(xg_jev *e, const char *key)
{
    char last = e->b.len ? e->b.data[e->b.len - 1] : '{';
    if (last != '{' && last != '[')
        note(e, xg_buf_putc(&e->b, ','));
    if (key != NULL) {
        note(e, xg_json_quote(&e->b, key, strlen(key)));
        note(e, xg_buf_putc(&e->b, ':'));
    }
}

void xg_jev_begin(xg_jev *e, const char *event)
{
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%06ldZ", ts.tv_nsec / 1000);
    xg_buf_init(&e->b);
    e->err = 0;
    note(e, xg_buf_putc(&e->b, '{'));
    xg_jev_str(e, "ts", when);
    xg_jev_str(e, "event", event);
}

void xg_jev_str(xg_jev *e, const char *key, const char *val)
{
    member(e, key);
    note(e, val ? xg_json_quote(&e->b, val, strlen(val)) : xg_buf_puts(&e->b, "null"));
}

void xg_jev_u64(xg_jev *e, const char *key, uint64_t v)
{
    member(e, key);
    note(e, xg_buf_printf(&e->b, "%" PRIu64, v));
}

void xg_jev_u64s(xg_jev *e, const char *key, uint64_t v)
{
    member(e, key);
    note(e, xg_buf_printf(&e->b, "\"%" PRIu64 "\"", v));
}

void xg_jev_i64(xg_jev *e, const char *key, int64_t v)
{
    member(e, key);
    note(e, xg_buf_printf(&e->b, "%" PRId64, v));
}

void xg_jev_bool(xg_jev *e, const char *key, bool v)
{
    member(e, key);
    note(e, xg_buf_puts(&e->b, v ? "true" : "false"));
}

void xg_jev_strv(xg_jev *e, const char *key, char *const *v, size_t n)
{
    xg_jev_open(e, key, '[');
    for (size_t i = 0; i < n; i++)
        xg_jev_str(e, NULL, v[i]);
    xg_jev_close(e, ']');
}

void xg_jev_open(xg_jev *e, const char *key, char kind)
{
    member(e, key);
    note(e, xg_buf_putc(&e->b, kind));
}

void xg_jev_close(xg_jev *e, char kind)
{
    note(e, xg_buf_putc(&e->b, kind));
}

int xg_jlog_emit(xg_jlog *l, xg_jev *e)
{
    note(e, xg_buf_puts(&e->b, "}\n"));
    int rc = e->err;
    /* One write per line keeps lines whole even when the file is shared. */
    if (rc == 0 && write(l->fd, e->b.data, e->b.len) != (ssize_t)e->b.len)
        rc = XG_EIO;
    xg_buf_dispose(&e->b);
    return rc;
}

int xg_jlog_msg(xg_jlog *l, const char *event, const char *msg)
{
    xg_jev e;
    xg_jev_begin(&e, event);
    xg_jev_str(&e, "message", msg);
    return xg_jlog_emit(l, &e);
}
