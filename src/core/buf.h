/* A growable byte buffer (heap, owned by whoever inits it). Appends fail only
 * on allocation failure and then leave the buffer unchanged. */
#ifndef XG_CORE_BUF_H
#define XG_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct xg_buf {
    char *data; /* always NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
} xg_buf;

/* Starts empty; no allocation until the first append. */
void xg_buf_init(xg_buf *b);
/* Releases the storage; the buffer is empty and reusable afterwards. */
void xg_buf_dispose(xg_buf *b);
/* Empties the buffer but keeps its storage for reuse. */
void xg_buf_reset(xg_buf *b);
/* Makes room for n more bytes. 0 or XG_ENOMEM. */
int xg_buf_reserve(xg_buf *b, size_t n);
int xg_buf_append(xg_buf *b, const void *p, size_t n);
int xg_buf_puts(xg_buf *b, const char *s);
int xg_buf_putc(xg_buf *b, char c);
int xg_buf_printf(xg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int xg_buf_vprintf(xg_buf *b, const char *fmt, va_list ap);
/* Hands the storage to the caller (free() it); the buffer becomes empty. */
char *xg_buf_steal(xg_buf *b);

#endif
