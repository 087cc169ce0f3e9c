/* Growable byte buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

void xg_buf_init(xg_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void xg_buf_dispose(xg_buf *b)
{
    free(b->data);
    xg_buf_init(b);
}

void xg_buf_reset(xg_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int xg_buf_reserve(xg_buf *b, size_t n)
{
    /* len + n + 1 must not wrap, or a huge n would look like it already fits. */
    if (n > SIZE_MAX - b->len - 1)
        return XG_ENOMEM;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
        if (cap > SIZE_MAX / 2)
            return XG_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return XG_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int xg_buf_append(xg_buf *b, const void *p, size_t n)
{
    /* The common case (it fits) without the call: the codecs append every
     * header name, value and separator here. */
    if (n > 0 && b->len < b->cap && n < b->cap - b->len) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    int rc = xg_buf_reserve(b, n);
    if (rc != 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int xg_buf_puts(xg_buf *b, const char *s)
{
    return xg_buf_append(b, s, strlen(s));
}

int xg_buf_putc(xg_buf *b, char c)
{
    return xg_buf_append(b, &c, 1);
}

int xg_buf_vprintf(xg_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return XG_EINVAL;
    int rc = xg_buf_reserve(b, (size_t)n);
    if (rc != 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int xg_buf_printf(xg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = xg_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *xg_buf_steal(xg_buf *b)
{
    char *p = b->data;
    if (p == NULL)
        p = calloc(1, 1);
    xg_buf_init(b);
    return p;
}
