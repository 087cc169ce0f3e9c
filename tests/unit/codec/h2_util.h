/* HTTP/2 test helpers: raw frame building (a hostile peer that sends exactly
 * the frames a test wants, HPACK via nghttp2's deflater), a frame scanner for
 * what a codec wrote, and a pump that connects two codecs in memory. */
#ifndef XG_TEST_H2_UTIL_H
#define XG_TEST_H2_UTIL_H

#include <nghttp2/nghttp2.h>

#include "towner.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

static inline void frame(xg_buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
    uint8_t hd[9] = {(uint8_t)(n >> 16),   (uint8_t)(n >> 8),    (uint8_t)n,          type,        flags,
                     (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    xg_buf_append(b, hd, 9);
    if (n > 0)
        xg_buf_append(b, p, n);
}

/* HPACK-encodes "name", "value", ... (NULL-terminated) with deflater d into out. */
static inline size_t hpack(nghttp2_hd_deflater *d, uint8_t *out, size_t cap, const char **kv)
{
    nghttp2_nv nv[64];
    size_t n = 0;
    for (; kv[2 * n] != NULL; n++) {
        nv[n].name = (uint8_t *)(uintptr_t)kv[2 * n];
        nv[n].namelen = strlen(kv[2 * n]);
        nv[n].value = (uint8_t *)(uintptr_t)kv[2 * n + 1];
        nv[n].valuelen = strlen(kv[2 * n + 1]);
        nv[n].flags = NGHTTP2_NV_FLAG_NONE;
    }
    ssize_t k = nghttp2_hd_deflate_hd(d, out, cap, nv, n);
    return k < 0 ? 0 : (size_t)k;
}

static inline void headers_frame(xg_buf *b, nghttp2_hd_deflater *d, uint32_t sid, uint8_t flags, const char **kv)
{
    uint8_t blk[8192];
    size_t n = hpack(d, blk, sizeof blk, kv);
    frame(b, NGHTTP2_HEADERS, flags, sid, blk, n);
}

/* The client's side of the handshake with server codec o: preface and
 * SETTINGS, then the ACK of the server's SETTINGS once they went out. */
static inline void handshake(towner *o)
{
    xg_buf b;
    size_t used;
    xg_buf_init(&b);
    xg_buf_append(&b, PREFACE, 24);
    frame(&b, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
    xg_codec_feed(o->c, b.data, b.len, &used);
    drain(o);
    xg_buf_reset(&b);
    frame(&b, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, NULL, 0);
    xg_codec_feed(o->c, b.data, b.len, &used);
    xg_buf_dispose(&b);
}

static inline void rst_frame(xg_buf *b, uint32_t sid, uint32_t code)
{
    uint8_t p[4] = {(uint8_t)(code >> 24), (uint8_t)(code >> 16), (uint8_t)(code >> 8), (uint8_t)code};
    frame(b, NGHTTP2_RST_STREAM, 0, sid, p, 4);
}

static inline uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Scans frames in wire bytes (a server's output, no preface): counts frames of
 * type (and, for RST_STREAM / GOAWAY, with error code code; ~0u: any). For
 * GOAWAY, *last gets the last stream id when last != NULL. */
static inline int count_frames(const xg_buf *w, uint8_t type, uint32_t code, uint32_t *sid_out)
{
    size_t off = 0;
    int k = 0;
    const uint8_t *p = (const uint8_t *)w->data;
    if (w->len >= 24 && memcmp(p, PREFACE, 24) == 0)
        off = 24;
    while (off + 9 <= w->len) {
        size_t len = ((size_t)p[off] << 16) | ((size_t)p[off + 1] << 8) | p[off + 2];
        uint8_t t = p[off + 3];
        uint32_t sid = be32(p + off + 5) & 0x7fffffff;
        const uint8_t *pl = p + off + 9;
        if (off + 9 + len > w->len)
            break;
        if (t == type) {
            uint32_t c = t == NGHTTP2_RST_STREAM ? be32(pl) : t == NGHTTP2_GOAWAY ? be32(pl + 4) : 0;
            if (code == ~0u || c == code) {
                k++;
                if (sid_out != NULL)
                    *sid_out = t == NGHTTP2_GOAWAY ? be32(pl) & 0x7fffffff : sid;
            }
        }
        off += 9 + len;
    }
    return k;
}

/* Feeds all of b into o's codec; returns feed's result. */
static inline int feed_buf(towner *o, xg_buf *b)
{
    size_t used = 0;
    int rc = xg_codec_feed(o->c, b->data, b->len, &used);
    xg_buf_reset(b);
    return rc;
}

/* Moves output between two codecs until neither has anything to say. */
static inline void pump(towner *a, towner *b)
{
    for (int rounds = 0; rounds < 1000; rounds++) {
        bool moved = false;
        towner *from[2] = {a, b}, *to[2] = {b, a};
        for (int i = 0; i < 2; i++) {
            struct iovec iov[4];
            size_t k;
            while ((k = xg_codec_output(from[i]->c, iov, 4)) > 0) {
                size_t used = 0;
                xg_codec_feed(to[i]->c, iov[0].iov_base, iov[0].iov_len, &used);
                xg_buf_append(&from[i]->wire, iov[0].iov_base, iov[0].iov_len);
                xg_codec_output_done(from[i]->c, iov[0].iov_len);
                moved = true;
            }
        }
        if (!moved)
            return;
    }
}

#endif
