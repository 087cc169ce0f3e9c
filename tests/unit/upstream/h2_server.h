/* A small HTTP/2 (h2c, prior knowledge) server for the upstream tests,
 * built directly on nghttp2's server session (not on xdsgate's codec, so the
 * client is tested against an independent peer): one thread accepting on
 * 127.0.0.1, one per connection. Behaviour by path:
 *   /ok        200 "hello"
 *   /hold      answered when hold_target streams are held on the connection,
 *              or once release is set
 *   /goaway    200 "bye", then GOAWAY(last = this stream) and close when done
 *   /gw-first  held until a second stream opens on the connection, then
 *              GOAWAY(last = this stream) and 200: the later stream is refused
 *   /rst       RST_STREAM(INTERNAL_ERROR)
 *   /trailers  200 "data" then trailers grpc-status: 0
 *   /echo      reads the body, answers its length
 *   /die       closes the connection at once (streams in flight are lost)
 * SETTINGS_MAX_CONCURRENT_STREAMS is max_streams. Test code only. */
#ifndef XG_TEST_H2_SERVER_H
#define XG_TEST_H2_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream/tls_server.h"

typedef struct h2srv {
    int lfd;
    uint16_t port;
    pthread_t thr;
    uint32_t max_streams;
    int hold_target;
    atomic_int conns;
    atomic_int conns_ended;
    atomic_int open_conns;
    atomic_int requests;
    atomic_int resets_seen; /* RST_STREAM frames received */
    atomic_int max_open_streams;
    atomic_long echo_bytes;
    atomic_int release;
    pthread_mutex_t mu;
    char last_headers[2048]; /* "name: value\n" of the last request */
    atomic_int stop;
    SSL_CTX *tls; /* connections are TLS (ALPN h2) when set */
} h2srv;

typedef struct h2req {
    int32_t sid;
    char path[128];
    long body;
    const char *out;
    size_t out_len, out_off;
    bool trailers;
    bool held;
    struct h2req *next;          /* c->held */
    struct h2req *aprev, *anext; /* c->all: freed with the connection if never closed */
} h2req;

typedef struct h2c {
    h2srv *s;
    int fd;
    SSL *ssl;
    nghttp2_session *ss;
    h2req *held;
    h2req *all;
    int n_held;
    int open_streams;
    int32_t gw_first; /* /gw-first waiting, or 0 */
    bool close_after;
    bool die;
    char hdrs[2048];
    size_t hlen;
} h2c;

static ssize_t h2s_send(nghttp2_session *ss, const uint8_t *data, size_t len, int flags, void *ud)
{
    h2c *c = ud;
    size_t off = 0;
    while (off < len) {
        ssize_t w = ts_write(c->fd, c->ssl, data + off, len - off);
        if (w <= 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        off += (size_t)w;
    }
    return (ssize_t)len;
}

static ssize_t h2s_read(nghttp2_session *ss, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    h2req *r = src->ptr;
    size_t k = r->out_len - r->out_off < len ? r->out_len - r->out_off : len;
    memcpy(buf, r->out + r->out_off, k);
    r->out_off += k;
    if (r->out_off == r->out_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (r->trailers) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_nv t[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0}};
            nghttp2_submit_trailer(ss, sid, t, 1);
        }
    }
    return (ssize_t)k;
}

static void h2s_respond(h2c *c, h2req *r, const char *body)
{
    r->out = body;
    r->out_len = strlen(body);
    r->out_off = 0;
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0}};
    nghttp2_data_provider dp = {.source.ptr = r, .read_callback = h2s_read};
    nghttp2_submit_response(c->ss, r->sid, nv, 1, &dp);
}

static void h2s_release_held(h2c *c)
{
    for (h2req *r = c->held; r != NULL; r = r->next)
        h2s_respond(c, r, "held");
    c->held = NULL;
    c->n_held = 0;
}

static void h2s_request(h2c *c, h2req *r)
{
    h2srv *s = c->s;
    atomic_fetch_add(&s->requests, 1);
    pthread_mutex_lock(&s->mu);
    snprintf(s->last_headers, sizeof s->last_headers, "%.*s", (int)c->hlen, c->hdrs);
    pthread_mutex_unlock(&s->mu);
    if (c->gw_first != 0 && r->sid != c->gw_first) {
        int32_t first = c->gw_first;
        c->gw_first = 0;
        nghttp2_submit_goaway(c->ss, NGHTTP2_FLAG_NONE, first, NGHTTP2_NO_ERROR, NULL, 0);
        h2req *fr = nghttp2_session_get_stream_user_data(c->ss, first);
        if (fr != NULL)
            h2s_respond(c, fr, "first");
        c->close_after = true;
        return; /* r is above last_stream_id: never answered */
    }
    if (strcmp(r->path, "/ok") == 0) {
        h2s_respond(c, r, "hello");
    } else if (strcmp(r->path, "/hold") == 0) {
        r->next = c->held;
        c->held = r;
        if (++c->n_held >= s->hold_target)
            h2s_release_held(c);
    } else if (strcmp(r->path, "/goaway") == 0) {
        h2s_respond(c, r, "bye");
        nghttp2_submit_goaway(c->ss, NGHTTP2_FLAG_NONE, r->sid, NGHTTP2_NO_ERROR, NULL, 0);
        c->close_after = true;
    } else if (strcmp(r->path, "/gw-first") == 0) {
        c->gw_first = r->sid;
    } else if (strcmp(r->path, "/rst") == 0) {
        nghttp2_submit_rst_stream(c->ss, NGHTTP2_FLAG_NONE, r->sid, NGHTTP2_INTERNAL_ERROR);
    } else if (strcmp(r->path, "/trailers") == 0) {
        r->trailers = true;
        h2s_respond(c, r, "data");
    } else if (strcmp(r->path, "/die") == 0) {
        c->die = true;
    } else if (strcmp(r->path, "/echo") == 0) {
        static __thread char num[32];
        atomic_store(&s->echo_bytes, r->body);
        snprintf(num, sizeof num, "%ld", r->body);
        h2s_respond(c, r, num);
    } else {
        h2s_respond(c, r, "nope");
    }
}

static int h2s_begin(nghttp2_session *ss, const nghttp2_frame *f, void *ud)
{
    h2c *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2req *r = calloc(1, sizeof *r);
    r->sid = f->hd.stream_id;
    r->anext = c->all;
    if (c->all != NULL)
        c->all->aprev = r;
    c->all = r;
    nghttp2_session_set_stream_user_data(ss, r->sid, r);
    c->hlen = 0;
    if (++c->open_streams > atomic_load(&c->s->max_open_streams))
        atomic_store(&c->s->max_open_streams, c->open_streams);
    return 0;
}

static int h2s_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name, size_t nl, const uint8_t *value,
                      size_t vl, uint8_t flags, void *ud)
{
    h2c *c = ud;
    h2req *r = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
    if (r == NULL)
        return 0;
    if (nl == 5 && memcmp(name, ":path", 5) == 0)
        snprintf(r->path, sizeof r->path, "%.*s", (int)vl, value);
    int n = snprintf(c->hdrs + c->hlen, sizeof c->hdrs - c->hlen, "%.*s: %.*s\n", (int)nl, name, (int)vl, value);
    if (n > 0 && c->hlen + (size_t)n < sizeof c->hdrs)
        c->hlen += (size_t)n;
    return 0;
}

static int h2s_data(nghttp2_session *ss, uint8_t flags, int32_t sid, const uint8_t *data, size_t len, void *ud)
{
    h2req *r = nghttp2_session_get_stream_user_data(ss, sid);
    if (r != NULL)
        r->body += (long)len;
    return 0;
}

static int h2s_frame(nghttp2_session *ss, const nghttp2_frame *f, void *ud)
{
    h2c *c = ud;
    if (f->hd.type == NGHTTP2_RST_STREAM)
        atomic_fetch_add(&c->s->resets_seen, 1);
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        h2req *r = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
        if (r != NULL)
            h2s_request(c, r);
    }
    return 0;
}

static int h2s_close(nghttp2_session *ss, int32_t sid, uint32_t code, void *ud)
{
    h2c *c = ud;
    h2req *r = nghttp2_session_get_stream_user_data(ss, sid);
    if (r == NULL)
        return 0;
    for (h2req **pp = &c->held; *pp != NULL; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            c->n_held--;
            break;
        }
    c->open_streams--;
    if (r->aprev != NULL)
        r->aprev->anext = r->anext;
    else
        c->all = r->anext;
    if (r->anext != NULL)
        r->anext->aprev = r->aprev;
    free(r);
    return 0;
}

static void *h2s_conn_main(void *arg)
{
    h2c *c = arg;
    h2srv *s = c->s;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, h2s_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2s_begin);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2s_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2s_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2s_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2s_close);
    nghttp2_session_server_new(&c->ss, cb, c);
    if (s->tls != NULL && (c->ssl = ts_accept(s->tls, c->fd)) == NULL)
        c->die = true;
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->max_streams}};
    nghttp2_submit_settings(c->ss, NGHTTP2_FLAG_NONE, iv, 1);
    atomic_fetch_add(&s->open_conns, 1);
    uint8_t buf[65536];
    while (!c->die) {
        /* Everything nghttp2 has, in one send: small frames written one by
         * one meet delayed ACKs on the other side. */
        static __thread uint8_t acc[1 << 18];
        size_t alen = 0;
        const uint8_t *out;
        ssize_t on;
        bool failed = false;
        while (!failed && (on = nghttp2_session_mem_send(c->ss, &out)) > 0) {
            if (alen + (size_t)on > sizeof acc) {
                failed = h2s_send(c->ss, acc, alen, 0, c) < 0 || h2s_send(c->ss, out, (size_t)on, 0, c) < 0;
                alen = 0;
                continue;
            }
            memcpy(acc + alen, out, (size_t)on);
            alen += (size_t)on;
        }
        if (!failed && alen > 0)
            failed = h2s_send(c->ss, acc, alen, 0, c) < 0;
        if (failed || on < 0)
            break;
        if (c->close_after && c->open_streams == 0 && !nghttp2_session_want_write(c->ss))
            break;
        if (!nghttp2_session_want_read(c->ss) && !nghttp2_session_want_write(c->ss))
            break;
        if (c->held != NULL && atomic_load(&s->release)) {
            h2s_release_held(c);
            continue;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if ((c->ssl == NULL || SSL_pending(c->ssl) == 0) && poll(&pfd, 1, 10) <= 0)
            continue;
        ssize_t n = ts_read(c->fd, c->ssl, buf, sizeof buf);
        if (n <= 0) {
            atomic_fetch_add(&s->conns_ended, 1);
            break;
        }
        if (nghttp2_session_mem_recv(c->ss, buf, (size_t)n) < 0 || c->die)
            break;
    }
    nghttp2_session_del(c->ss);
    /* Lingering close: our last frames must not be lost to an RST because
     * the client's last bytes (a SETTINGS ACK) were still unread. */
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (!c->die) {
        shutdown(c->fd, SHUT_WR);
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        for (int i = 0; i < 100 && poll(&pfd, 1, 10) >= 0; i++)
            if ((pfd.revents & POLLIN) && read(c->fd, buf, sizeof buf) <= 0)
                break;
    }
    while (c->all != NULL) {
        h2req *r = c->all;
        c->all = r->anext;
        free(r);
    }
    close(c->fd);
    atomic_fetch_sub(&s->open_conns, 1);
    free(c);
    return NULL;
}

static void *h2s_accept_main(void *arg)
{
    h2srv *s = arg;
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
        h2c *c = calloc(1, sizeof *c);
        c->s = s;
        c->fd = fd;
        pthread_t t;
        pthread_create(&t, NULL, h2s_conn_main, c);
        pthread_detach(t);
    }
}

static void h2srv_start_tls(h2srv *s, uint32_t max_streams, SSL_CTX *tls);

__attribute__((unused)) static void h2srv_start(h2srv *s, uint32_t max_streams)
{
    h2srv_start_tls(s, max_streams, NULL);
}

/* tls (may be NULL) is owned by the server from now on. */
static void h2srv_start_tls(h2srv *s, uint32_t max_streams, SSL_CTX *tls)
{
    memset(s, 0, sizeof *s);
    s->tls = tls;
    pthread_mutex_init(&s->mu, NULL);
    s->max_streams = max_streams;
    s->hold_target = 1;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s->lfd, (struct sockaddr *)&in, sizeof in);
    listen(s->lfd, 128);
    socklen_t len = sizeof in;
    getsockname(s->lfd, (struct sockaddr *)&in, &len);
    s->port = ntohs(in.sin_port);
    pthread_create(&s->thr, NULL, h2s_accept_main, s);
}

static void h2srv_stop(h2srv *s)
{
    atomic_store(&s->stop, 1);
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->thr, NULL);
    close(s->lfd);
    for (int i = 0; i < 2000 && atomic_load(&s->open_conns) > 0; i++)
        usleep(1000);
    SSL_CTX_free(s->tls);
}

static void h2srv_last_headers(h2srv *s, char *out, size_t n)
{
    pthread_mutex_lock(&s->mu);
    snprintf(out, n, "%s", s->last_headers);
    pthread_mutex_unlock(&s->mu);
}

#endif
