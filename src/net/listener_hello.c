/* The TLS inspector's ClientHello parser: reassembles the handshake message
 * from its records (bounded by one pool block) and reads the server_name
 * and ALPN extensions. Every length is checked against what is there; the
 * input is hostile. */
#include <string.h>

#include "core/bufpool.h"
#include "core/error.h"
#include "net/listener.h"

#define REC_HANDSHAKE 0x16
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16

/* A bounds-checked reader; ok turns false on any overrun and stays false. */
typedef struct rd {
    const uint8_t *p;
    size_t n;
    bool ok;
} rd;

static uint32_t get(rd *r, size_t k)
{
    uint32_t v = 0;
    if (!r->ok || r->n < k) {
        r->ok = false;
        return 0;
    }
    for (size_t i = 0; i < k; i++)
        v = v << 8 | r->p[i];
    r->p += k;
    r->n -= k;
    return v;
}

/* The next len bytes as a reader of their own. */
static rd sub(rd *r, size_t len)
{
    rd s = {r->p, len, r->ok && r->n >= len};
    if (!s.ok) {
        r->ok = false;
        s.n = 0;
        return s;
    }
    r->p += len;
    r->n -= len;
    return s;
}

static void parse_sni(rd e, xg_client_hello *out)
{
    rd list = sub(&e, get(&e, 2));
    while (list.ok && list.n > 0) {
        uint32_t type = get(&list, 1);
        rd name = sub(&list, get(&list, 2));
        if (!name.ok || type != 0 || name.n == 0 || name.n >= sizeof(out->sni) || out->sni_len > 0)
            continue;
        for (size_t i = 0; i < name.n; i++) {
            char c = (char)name.p[i];
            out->sni[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        out->sni_len = name.n;
        out->sni[name.n] = '\0';
        if (memchr(name.p, '\0', name.n) != NULL) /* a NUL in a host name: treat as no SNI */
            out->sni_len = 0, out->sni[0] = '\0';
    }
}

static void parse_alpn(rd e, xg_client_hello *out)
{
    rd list = sub(&e, get(&e, 2));
    while (list.ok && list.n > 0) {
        rd proto = sub(&list, get(&list, 1));
        if (!proto.ok || proto.n == 0 || out->n_alpn == XG_HELLO_MAX_ALPN ||
            proto.n > sizeof(out->alpn_buf) - out->alpn_used)
            continue;
        char *dst = out->alpn_buf + out->alpn_used;
        memcpy(dst, proto.p, proto.n);
        out->alpn_used += proto.n;
        out->alpn[out->n_alpn++] = (xg_lstr){dst, proto.n};
    }
}

/* The ClientHello body (after the 4-byte handshake header). */
static int parse_body(rd r, xg_client_hello *out)
{
    get(&r, 2);          /* legacy_version */
    sub(&r, 32);         /* random */
    sub(&r, get(&r, 1)); /* legacy_session_id */
    sub(&r, get(&r, 2)); /* cipher_suites */
    sub(&r, get(&r, 1)); /* legacy_compression_methods */
    if (r.ok && r.n == 0)
        return 1; /* no extensions (an old client): still TLS */
    rd exts = sub(&r, get(&r, 2));
    while (exts.ok && exts.n > 0) {
        uint32_t type = get(&exts, 2);
        rd e = sub(&exts, get(&exts, 2));
        if (type == EXT_SERVER_NAME)
            parse_sni(e, out);
        else if (type == EXT_ALPN)
            parse_alpn(e, out);
    }
    return r.ok && exts.ok ? 1 : XG_EINVAL;
}

/* Copies the handshake bytes of consecutive handshake records into hs.
 * 1: the whole message (per its header) is there; 0: more needed. */
static int reassemble(const uint8_t *p, size_t n, uint8_t *hs, size_t cap, size_t *len)
{
    size_t off = 0;
    *len = 0;
    while (off + 5 <= n) {
        if (p[off] != REC_HANDSHAKE || p[off + 1] != 3)
            return XG_EINVAL;
        size_t rl = (size_t)p[off + 3] << 8 | p[off + 4];
        if (rl == 0 || rl > 16384)
            return XG_EINVAL;
        size_t have = n - off - 5 < rl ? n - off - 5 : rl;
        if (*len + have > cap)
            return XG_EINVAL;
        memcpy(hs + *len, p + off + 5, have);
        *len += have;
        if (have < rl)
            return 0;
        off += 5 + rl;
        if (*len >= 4 && *len >= 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]))
            return 1;
    }
    return 0;
}

int xg_client_hello_parse(const uint8_t *p, size_t n, xg_client_hello *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return 0;
    /* Anything but a handshake record with a TLS major version is plaintext. */
    if (p[0] != REC_HANDSHAKE || (n >= 2 && p[1] != 3))
        return 1;
    uint8_t hs[XG_BUFPOOL_BLOCK];
    size_t len;
    int rc = reassemble(p, n, hs, sizeof(hs), &len);
    if (rc != 1)
        return rc;
    out->is_tls = true;
    if (hs[0] != HS_CLIENT_HELLO)
        return XG_EINVAL;
    size_t body = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
    return parse_body((rd){hs + 4, body, true}, out);
}
