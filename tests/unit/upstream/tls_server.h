/* Server-side TLS for the upstream tests' blocking servers, written directly
 * against the TLS library (the API BoringSSL and OpenSSL share), so xdsgate's
 * client side meets an independent peer: a server context from a PEM chain
 * and key, ALPN chosen from a preference list (the client's offer is kept
 * for the test to inspect), the SNI the client sent, whether the session
 * was resumed, the client certificate's subject, client-certificate
 * checking, and blocking I/O helpers over either a plain socket or an SSL.
 * Test code only. */
#ifndef XG_TEST_TLS_SERVER_H
#define XG_TEST_TLS_SERVER_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ts_info {
    pthread_mutex_t mu;
    const char *prefer; /* wire-format ALPN preference, e.g. "\x02h2\x08http/1.1" */
    char offered[128];  /* the client's ALPN list, as "h2,http/1.1" */
    char sni[128];
    int handshakes;
    int resumed;       /* handshakes that resumed a session */
    char peer_cn[128]; /* the last client certificate's subject CN, "" when none */
    char version[16];  /* the last handshake's protocol version */
} ts_info;

static ts_info ts_last = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int ts_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                      unsigned int inlen, void *arg)
{
    ts_info *ti = arg;
    pthread_mutex_lock(&ti->mu);
    size_t o = 0;
    for (unsigned i = 0; i < inlen && o + in[i] + 2 < sizeof ti->offered; i += 1 + in[i]) {
        if (o > 0)
            ti->offered[o++] = ',';
        memcpy(ti->offered + o, in + i + 1, in[i]);
        o += in[i];
    }
    ti->offered[o] = '\0';
    pthread_mutex_unlock(&ti->mu);
    const unsigned char *pref = (const unsigned char *)ti->prefer;
    for (size_t p = 0; pref != NULL && pref[p] != 0; p += 1 + pref[p])
        for (unsigned i = 0; i < inlen; i += 1 + in[i])
            if (in[i] == pref[p] && memcmp(in + i + 1, pref + p + 1, in[i]) == 0) {
                *out = in + i + 1;
                *outlen = in[i];
                return SSL_TLSEXT_ERR_OK;
            }
    return SSL_TLSEXT_ERR_NOACK;
}

/* A server context for cert/key files; prefer: the ALPN protocols it accepts. */
__attribute__((unused)) static SSL_CTX *ts_ctx(const char *chain, const char *key, const char *prefer)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, chain) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    ts_last.prefer = prefer;
    SSL_CTX_set_alpn_select_cb(ctx, ts_alpn_cb, &ts_last);
    return ctx;
}

/* The server asks for a client certificate signed by ca and refuses a
 * handshake without one. */
__attribute__((unused)) static void ts_require_client_cert(SSL_CTX *ctx, const char *ca)
{
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    SSL_CTX_load_verify_locations(ctx, ca, NULL);
    if (names != NULL)
        SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
}

static void ts_note_peer(SSL *ssl)
{
#ifdef XG_TLS_OPENSSL
    X509 *x = SSL_get1_peer_certificate(ssl);
#else
    X509 *x = SSL_get_peer_certificate(ssl);
#endif
    ts_last.peer_cn[0] = '\0';
    if (x != NULL)
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, ts_last.peer_cn, sizeof ts_last.peer_cn);
    X509_free(x);
}

/* The blocking handshake on an accepted fd; NULL when it failed. */
static SSL *ts_accept(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    pthread_mutex_lock(&ts_last.mu);
    snprintf(ts_last.sni, sizeof ts_last.sni, "%s", sni != NULL ? sni : "");
    ts_last.handshakes++;
    ts_last.resumed += SSL_session_reused(ssl) ? 1 : 0;
    snprintf(ts_last.version, sizeof ts_last.version, "%s", SSL_get_version(ssl));
    ts_note_peer(ssl);
    pthread_mutex_unlock(&ts_last.mu);
    return ssl;
}

static ssize_t ts_read(int fd, SSL *ssl, void *p, size_t n)
{
    if (ssl == NULL)
        return read(fd, p, n);
    int r = SSL_read(ssl, p, (int)n);
    return r > 0 ? r : (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
}

static ssize_t ts_write(int fd, SSL *ssl, const void *p, size_t n)
{
    if (ssl == NULL)
        return send(fd, p, n, MSG_NOSIGNAL);
    int r = SSL_write(ssl, p, (int)n);
    return r > 0 ? r : -1;
}

__attribute__((unused)) static void ts_copy(char *out, size_t n, const char *what)
{
    pthread_mutex_lock(&ts_last.mu);
    snprintf(out, n, "%s",
             strcmp(what, "sni") == 0       ? ts_last.sni
             : strcmp(what, "peer_cn") == 0 ? ts_last.peer_cn
             : strcmp(what, "version") == 0 ? ts_last.version
                                            : ts_last.offered);
    pthread_mutex_unlock(&ts_last.mu);
}

#endif
