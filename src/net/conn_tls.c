/* The TLS transport of xg_conn: an SSL over a custom BIO that reads the
 * socket a pool block at a time (one syscall per 16 KiB of ciphertext, not
 * two per record) and replays the bytes a TLS inspector already read, and
 * writes records straight to the socket. Plaintext from the owner goes to
 * SSL_write without a copy unless the socket is full; then the record's
 * bytes are kept in c->tls->stage for the retry SSL_write requires. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/assert.h"
#include "core/bufpool.h"
#include "core/error.h"
#include "net/conn_int.h"
#include "net/tls_ctx.h"

/* An owner iovec at least this large is handed to SSL_write in place;
 * smaller pieces are gathered into one record. */
#define DIRECT_MIN 4096
#define RECORD_MAX 16384

/* c->pre is a small pool block, its offsets 16-bit. */
_Static_assert(XG_BUFPOOL_BLOCK <= UINT16_MAX, "pre_off and pre_len hold a small block's offsets");

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

/* Serves SSL's reads from c->pre, refilling it with one recv. */
static int bio_read(BIO *b, char *out, int len)
{
    xg_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (c->pre_len == 0) {
        if (c->pre == NULL && (c->pre = xg_bufpool_get()) == NULL) {
            c->tls->bio_err = ENOMEM;
            return -1;
        }
        ssize_t n;
        do
            n = recv(c->fd, c->pre, XG_BUFPOOL_BLOCK, 0);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                BIO_set_retry_read(b);
            else if (n < 0)
                c->tls->bio_err = errno;
            return n == 0 ? 0 : -1;
        }
        c->pre_off = 0;
        c->pre_len = (uint16_t)n;
    }
    size_t k = (size_t)len < c->pre_len ? (size_t)len : c->pre_len;
    memcpy(out, c->pre + c->pre_off, k);
    c->pre_off += (uint16_t)k;
    c->pre_len -= (uint16_t)k;
    if (c->pre_len == 0) {
        xg_bufpool_put(c->pre);
        c->pre = NULL;
    }
    return (int)k;
}

static int bio_write(BIO *b, const char *in, int len)
{
    xg_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    struct iovec iov = {.iov_base = (void *)in, .iov_len = (size_t)len};
    ssize_t n = xg__conn_sys_writev(c->fd, &iov, 1);
    if (n >= 0)
        return (int)n;
    if (n == XG_EAGAIN)
        BIO_set_retry_write(b);
    else
        c->tls->bio_err = (int)-n;
    return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int bio_destroy(BIO *b)
{
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "xg_conn");
    if (m == NULL)
        return;
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    BIO_meth_set_destroy(m, bio_destroy);
    bio_method = m;
}

/* Maps an SSL result to the transport's convention. */
static ssize_t ssl_result(xg_conn *c, int r)
{
    switch (SSL_get_error(c->tls->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        c->tp_want_write = false;
        return XG_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        c->tp_want_write = true;
        return XG_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        /* A transport EOF without close_notify reads as EOF: HTTP framing,
         * not the TLS layer, tells a truncated message. */
        return c->tls->bio_err ? -c->tls->bio_err : 0;
    default:
        return -EPROTO;
    }
}

static ssize_t tls_read(xg_conn *c, char *p, size_t n)
{
    ERR_clear_error();
    c->tls->bio_err = 0;
    int r = SSL_read(c->tls->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : ssl_result(c, r);
}

/* One SSL_write of p[0, len); on a full socket the bytes move to the stage
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the retry from there) and
 * count as taken. */
static ssize_t write_record(xg_conn *c, const char *p, size_t len)
{
    ERR_clear_error();
    c->tls->bio_err = 0;
    int r = SSL_write(c->tls->ssl, p, (int)len);
    if (r > 0)
        return r;
    ssize_t rc = ssl_result(c, r);
    if (rc != XG_EAGAIN)
        return rc == 0 ? -EPIPE : rc;
    if (c->tls->stage == NULL && (c->tls->stage = xg_bufpool_get()) == NULL)
        return XG_ENOMEM;
    if (p != c->tls->stage)
        memcpy(c->tls->stage, p, len);
    c->tls->stage_len = (uint32_t)len;
    return (ssize_t)len;
}

static int tls_flush(xg_conn *c)
{
    if (c->tls->stage_len == 0)
        return 0;
    ERR_clear_error();
    c->tls->bio_err = 0;
    int r = SSL_write(c->tls->ssl, c->tls->stage, (int)c->tls->stage_len);
    if (r <= 0) {
        ssize_t rc = ssl_result(c, r);
        return rc == 0 ? -EPIPE : (int)rc;
    }
    c->tls->stage_len = 0;
    xg_bufpool_put(c->tls->stage);
    c->tls->stage = NULL;
    return 0;
}

/* Gathers small iovecs from (*i, *off) into the stage, up to one record. */
static size_t gather(xg_conn *c, const struct iovec *iov, int iovcnt, int *i, size_t *off)
{
    size_t len = 0;
    while (*i < iovcnt && len < RECORD_MAX) {
        size_t k = iov[*i].iov_len - *off;
        if (k > RECORD_MAX - len)
            k = RECORD_MAX - len;
        memcpy(c->tls->stage + len, (const char *)iov[*i].iov_base + *off, k);
        len += k;
        *off += k;
        if (*off == iov[*i].iov_len) {
            (*i)++;
            *off = 0;
        }
    }
    return len;
}

static ssize_t tls_writev(xg_conn *c, const struct iovec *iov, int iovcnt)
{
    int rc = tls_flush(c);
    if (rc != 0)
        return rc;
    size_t taken = 0, off = 0;
    int i = 0;
    while (i < iovcnt) {
        size_t rest = iov[i].iov_len - off;
        if (rest == 0) {
            i++, off = 0;
            continue;
        }
        const char *p = (const char *)iov[i].iov_base + off;
        size_t len;
        if (rest >= DIRECT_MIN || i == iovcnt - 1) {
            len = rest < RECORD_MAX ? rest : RECORD_MAX;
            off += len;
        } else {
            if (c->tls->stage == NULL && (c->tls->stage = xg_bufpool_get()) == NULL)
                return taken > 0 ? (ssize_t)taken : XG_ENOMEM;
            p = c->tls->stage;
            len = gather(c, iov, iovcnt, &i, &off);
        }
        ssize_t w = write_record(c, p, len);
        if (w < 0)
            return taken > 0 ? (ssize_t)taken : w;
        taken += (size_t)w;
        if (c->tls->stage_len > 0)
            break; /* the socket is full: the record waits in the stage */
        if (p == c->tls->stage) {
            xg_bufpool_put(c->tls->stage);
            c->tls->stage = NULL;
        }
    }
    return (ssize_t)taken;
}

static size_t tls_held(const xg_conn *c)
{
    return c->tls->stage_len;
}

static int tls_handshake(xg_conn *c)
{
    ERR_clear_error();
    c->tls->bio_err = 0;
    int r = SSL_do_handshake(c->tls->ssl);
    if (r == 1)
        return 0;
    ssize_t rc = ssl_result(c, r);
    return rc == XG_EAGAIN ? XG_EAGAIN : -EPROTO;
}

static int tls_shutdown(xg_conn *c)
{
    ERR_clear_error();
    c->tls->bio_err = 0;
    int r = SSL_shutdown(c->tls->ssl);
    if (r < 0 && SSL_get_error(c->tls->ssl, r) == SSL_ERROR_WANT_WRITE) {
        c->tp_want_write = true;
        return XG_EAGAIN;
    }
    /* close_notify sent (or the session is already broken): now the FIN. */
    return shutdown(c->fd, SHUT_WR) == 0 || errno == ENOTCONN ? 0 : -errno;
}

static bool tls_buffered(const xg_conn *c)
{
    return c->pre_len > 0 || SSL_has_pending(c->tls->ssl);
}

static void tls_dispose(xg_conn *c)
{
    struct xg__conn_tls *t = c->tls;
    SSL_free(t->ssl);
    xg_tls_server_unref(t->srv);
    xg_tls_client_unref(t->cli);
    xg_bufpool_put(t->stage);
    free(t);
    c->tls = NULL;
}

static const xg_transport_vt tls_vt = {
    .name = "tls",
    .read = tls_read,
    .writev = tls_writev,
    .flush = tls_flush,
    .held = tls_held,
    .handshake = tls_handshake,
    .shutdown = tls_shutdown,
    .has_buffered = tls_buffered,
    .dispose = tls_dispose,
};

/* Wires ssl to c through the BIO, with the TLS state that plain conns do
 * without; on failure the caller still owns ssl. */
static int attach(xg_conn *c, SSL *ssl)
{
    XG_ASSERT(c->tls == NULL);
    pthread_once(&bio_once, make_method);
    struct xg__conn_tls *t = calloc(1, sizeof(*t));
    BIO *b = t != NULL && bio_method != NULL ? BIO_new(bio_method) : NULL;
    if (b == NULL) {
        free(t);
        return XG_ENOMEM;
    }
    BIO_set_data(b, c);
    SSL_set_bio(ssl, b, b);
    SSL_set_app_data(ssl, c);
    SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    t->ssl = ssl;
    c->tls = t;
    c->tp = &tls_vt;
    return 0;
}

int xg_conn_use_tls_server(xg_conn *c, xg_tls_server *srv)
{
    SSL *ssl = xg__tls_server_ssl(srv);
    if (ssl == NULL)
        return XG_ENOMEM;
    if (attach(c, ssl) != 0) {
        SSL_free(ssl);
        return XG_ENOMEM;
    }
    xg_tls_server_ref(srv);
    c->tls->srv = srv;
    /* Bytes prefilled before the transport was chosen belong to the handshake
     * (a small block, as bio_read expects; more than that is no ClientHello
     * the inspector would have passed on). */
    if (c->in != NULL && c->pre == NULL && c->in_big) {
        char *b = c->in_len <= XG_BUFPOOL_BLOCK ? xg_bufpool_get() : NULL;
        if (b != NULL)
            memcpy(b, c->in + c->in_off, c->in_len);
        xg_bufpool_put_big(c->in);
        c->in = b;
        c->in_big = false;
        c->in_off = 0;
        if (b == NULL)
            c->in_len = 0;
    }
    if (c->in != NULL && c->pre == NULL) {
        c->pre = c->in;
        c->pre_len = (uint16_t)c->in_len; /* a small block here: both fit */
        c->pre_off = (uint16_t)c->in_off;
        c->in = NULL;
        c->in_len = c->in_off = 0;
        c->prefill_pending = false;
    }
    xg__conn_begin_tls(c);
    return 0;
}

int xg_conn_use_tls_client(xg_conn *c, xg_tls_client *cli, const char *sni, const uint8_t *alpn, size_t alpn_len)
{
    SSL *ssl = xg__tls_client_ssl(cli, sni, alpn, alpn_len);
    if (ssl == NULL)
        return XG_ENOMEM;
    if (attach(c, ssl) != 0) {
        SSL_free(ssl);
        return XG_ENOMEM;
    }
    xg_tls_client_ref(cli);
    c->tls->cli = cli;
    return 0;
}

bool xg_conn_is_tls(const xg_conn *c)
{
    return c->tls != NULL;
}

const char *xg_conn_alpn(const xg_conn *c, size_t *len)
{
    const unsigned char *p = NULL;
    unsigned n = 0;
    if (c->tls != NULL)
        SSL_get0_alpn_selected(c->tls->ssl, &p, &n);
    *len = n;
    return n > 0 ? (const char *)p : NULL;
}

const char *xg_conn_sni(const xg_conn *c)
{
    return c->tls != NULL ? SSL_get_servername(c->tls->ssl, TLSEXT_NAMETYPE_host_name) : NULL;
}

bool xg_conn_peer_cert(const xg_conn *c, xg_tls_peer *out)
{
    return c->tls != NULL && xg_tls_peer_info(c->tls->ssl, out);
}

const char *xg_conn_tls_version(const xg_conn *c)
{
    return c->tls != NULL ? SSL_get_version(c->tls->ssl) : NULL;
}

bool xg_conn_tls_resumed(const xg_conn *c)
{
    return c->tls != NULL && SSL_session_reused(c->tls->ssl);
}

SSL *xg_conn_ssl(const xg_conn *c)
{
    return c->tls != NULL ? c->tls->ssl : NULL;
}
