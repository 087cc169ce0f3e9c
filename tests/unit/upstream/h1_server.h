/* A tiny blocking HTTP/1.1 server for the upstream tests: one thread
 * accepting on 127.0.0.1 (ephemeral port), one thread per connection, and
 * behaviour chosen by the request path:
 *   /ok         200 "hello" (content-length), keep-alive
 *   /close      200 "bye" with Connection: close, then closes
 *   /partial    200 announcing 100 bytes, sends 10, closes
 *   /drop       closes without answering
 *   /echo       reads the body (length or chunked, slowly when slow_read is
 *               set) and answers 200 with the byte count and a checksum
 *   /big        answers 200 with big_len bytes of a known pattern
 *   /hold       answers only once release is set
 * It counts connections and requests and keeps the last request head, so a
 * test asserts what went over the wire. Test code only. */
#ifndef XG_TEST_H1_SERVER_H
#define XG_TEST_H1_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream/tls_server.h"

typedef struct h1srv {
    int lfd;
    uint16_t port;
    pthread_t thr;
    atomic_int conns;       /* accepted */
    atomic_int conns_ended; /* connections the client closed (EOF seen) */
    atomic_int requests;
    atomic_int open_conns;
    atomic_int slow_read;   /* /echo: microseconds to sleep per read */
    atomic_int release;     /* /hold answers once set */
    atomic_long big_len;    /* /big: body size */
    atomic_long echo_bytes; /* /echo: bytes of the last body */
    pthread_mutex_t mu;
    char last_head[4096]; /* the last request head as received */
    atomic_int stop;
    SSL_CTX *tls; /* set before start: connections are TLS */
} h1srv;

typedef struct h1conn {
    h1srv *s;
    int fd;
    SSL *ssl;
    char buf[65536];
    size_t len;
} h1conn;

static int h1_fill(h1conn *c)
{
    if (c->len == sizeof c->buf)
        return -1;
    ssize_t n = ts_read(c->fd, c->ssl, c->buf + c->len, sizeof c->buf - c->len);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

static void h1_take(h1conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static int h1_write(h1conn *c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = ts_write(c->fd, c->ssl, s, n);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char *h1_header(const char *head, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':')
            return p + 2 + nl + 1 + strspn(p + 2 + nl + 1, " ");
    return NULL;
}

/* Reads a body of len bytes (or chunked), counting and checksumming it. */
static int h1_read_body(h1conn *c, const char *head, long *count, uint32_t *sum)
{
    const char *cl = h1_header(head, "content-length");
    const char *te = h1_header(head, "transfer-encoding");
    bool chunked = te != NULL && strncasecmp(te, "chunked", 7) == 0;
    long left = cl != NULL ? atol(cl) : 0;
    for (;;) {
        if (chunked && left == 0) {
            char *eol;
            while ((eol = memmem(c->buf, c->len, "\r\n", 2)) == NULL)
                if (h1_fill(c) != 0)
                    return -1;
            left = strtol(c->buf, NULL, 16);
            h1_take(c, (size_t)(eol - c->buf) + 2);
            if (left == 0) {
                while (memmem(c->buf, c->len, "\r\n", 2) == NULL)
                    if (h1_fill(c) != 0)
                        return -1;
                h1_take(c, (size_t)((char *)memmem(c->buf, c->len, "\r\n", 2) - c->buf) + 2);
                return 0;
            }
        }
        if (!chunked && left == 0)
            return 0;
        if (c->len == 0) {
            if (atomic_load(&c->s->slow_read) > 0)
                usleep((useconds_t)atomic_load(&c->s->slow_read));
            if (h1_fill(c) != 0)
                return -1;
        }
        size_t k = c->len < (size_t)left ? c->len : (size_t)left;
        for (size_t i = 0; i < k; i++)
            *sum = *sum * 31 + (uint8_t)c->buf[i];
        *count += (long)k;
        left -= (long)k;
        h1_take(c, k);
        if (chunked && left == 0) {
            while (c->len < 2)
                if (h1_fill(c) != 0)
                    return -1;
            h1_take(c, 2);
        }
    }
}

static int h1_send_big(h1conn *c, long n)
{
    char block[65536];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)('a' + i % 26);
    char head[128];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\ncontent-length: %ld\r\n\r\n", n);
    if (h1_write(c, head, (size_t)hl) != 0)
        return -1;
    for (long off = 0; off < n;) {
        /* Keep the pattern continuous across blocks: byte i is 'a' + i % 26. */
        size_t start = (size_t)(off % 26);
        size_t k = (size_t)(n - off) < sizeof block - 26 ? (size_t)(n - off) : sizeof block - 26;
        if (h1_write(c, block + start, k) != 0)
            return -1;
        off += (long)k;
    }
    return 0;
}

/* One request: 0 to go on with the connection, -1 to close it. */
static int h1_one(h1conn *c)
{
    h1srv *s = c->s;
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
        if (h1_fill(c) != 0)
            return -1;
    size_t hl = (size_t)(end - c->buf) + 4;
    char head[4096];
    size_t cp = hl < sizeof head - 1 ? hl : sizeof head - 1;
    memcpy(head, c->buf, cp);
    head[cp] = '\0';
    h1_take(c, hl);
    pthread_mutex_lock(&s->mu);
    memcpy(s->last_head, head, cp + 1);
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add(&s->requests, 1);
    char path[256] = "";
    sscanf(head, "%*s %255s", path);
    long count = 0;
    uint32_t sum = 0;
    if (h1_read_body(c, head, &count, &sum) != 0)
        return -1;
    char out[512];
    if (strcmp(path, "/ok") == 0)
        return h1_write(c, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", 43);
    if (strcmp(path, "/close") == 0) {
        h1_write(c, "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbye", 60);
        return -1;
    }
    if (strcmp(path, "/partial") == 0) {
        h1_write(c, "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789", 50);
        return -1;
    }
    if (strcmp(path, "/drop") == 0)
        return -1;
    if (strcmp(path, "/echo") == 0) {
        atomic_store(&s->echo_bytes, count);
        char body[64];
        int bl = snprintf(body, sizeof body, "%ld %u", count, sum);
        int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s", bl, body);
        return h1_write(c, out, (size_t)n);
    }
    if (strcmp(path, "/big") == 0)
        return h1_send_big(c, atomic_load(&s->big_len));
    if (strcmp(path, "/hold") == 0) {
        while (!atomic_load(&s->release) && !atomic_load(&s->stop))
            usleep(1000);
        return h1_write(c, "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nheld", 42);
    }
    return h1_write(c, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", 45);
}

static void *h1_conn_main(void *arg)
{
    h1conn *c = arg;
    atomic_fetch_add(&c->s->open_conns, 1);
    if (c->s->tls != NULL && (c->ssl = ts_accept(c->s->tls, c->fd)) == NULL)
        goto done;
    for (;;) {
        if (c->len == 0) {
            ssize_t n = ts_read(c->fd, c->ssl, c->buf, sizeof c->buf);
            if (n <= 0) {
                atomic_fetch_add(&c->s->conns_ended, 1);
                break;
            }
            c->len = (size_t)n;
        }
        if (h1_one(c) != 0)
            break;
    }
done:
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    atomic_fetch_sub(&c->s->open_conns, 1);
    close(c->fd);
    free(c);
    return NULL;
}

static void *h1_accept_main(void *arg)
{
    h1srv *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0 || atomic_load(&s->stop)) {
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        atomic_fetch_add(&s->conns, 1);
        int one = 1; /* small frames (WINDOW_UPDATE, heads) must not wait for delayed ACKs */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        h1conn *c = calloc(1, sizeof *c);
        c->s = s;
        c->fd = fd;
        pthread_t t;
        pthread_create(&t, NULL, h1_conn_main, c);
        pthread_detach(t);
    }
}

static void h1srv_start_tls(h1srv *s, SSL_CTX *tls);

__attribute__((unused)) static void h1srv_start(h1srv *s)
{
    h1srv_start_tls(s, NULL);
}

/* tls (may be NULL) is owned by the server from now on. */
static void h1srv_start_tls(h1srv *s, SSL_CTX *tls)
{
    memset(s, 0, sizeof *s);
    s->tls = tls;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s->lfd, (struct sockaddr *)&in, sizeof in);
    listen(s->lfd, 128);
    socklen_t len = sizeof in;
    getsockname(s->lfd, (struct sockaddr *)&in, &len);
    s->port = ntohs(in.sin_port);
    atomic_store(&s->big_len, 1024);
    pthread_create(&s->thr, NULL, h1_accept_main, s);
}

/* Stops accepting; connection threads end when their clients close. */
static void h1srv_stop(h1srv *s)
{
    atomic_store(&s->stop, 1);
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->thr, NULL);
    close(s->lfd);
    for (int i = 0; i < 2000 && atomic_load(&s->open_conns) > 0; i++)
        usleep(1000);
    SSL_CTX_free(s->tls);
}

static void h1srv_last_head(h1srv *s, char *out, size_t n)
{
    pthread_mutex_lock(&s->mu);
    snprintf(out, n, "%s", s->last_head);
    pthread_mutex_unlock(&s->mu);
}

#endif
