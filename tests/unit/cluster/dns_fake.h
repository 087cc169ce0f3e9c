/* Fake DNS servers for the resolver tests: UDP and TCP on one loopback
 * port, served from the test's own loop, answering what the test's script
 * function says (dns_packets.h builds the bytes) and recording every query
 * they saw. Test code only. */
#ifndef XG_TEST_DNS_FAKE_H
#define XG_TEST_DNS_FAKE_H

#include <stdint.h>

#include "cluster/dns_packets.h"
#include "net/net_test.h"
#include "xg_test.h"

typedef struct qinfo {
    uint16_t id;
    char name[256];
    uint16_t qtype;
    bool tcp;
    int server;
} qinfo;

/* Fills out[0..n) with the datagrams (or one TCP message) to send back. */
typedef int (*script_fn)(const qinfo *q, pk *out, int max);

typedef struct fake {
    int idx;
    int udp, tcp, conn;
    uint16_t port;
    ev_io uio, tio, cio;
    uint8_t cbuf[600];
    size_t chave;
    script_fn fn;
} fake;

static qinfo seen[64]; /* the first 64 queries since n_seen was last zeroed */
static int n_seen;     /* every query since then */
static pk outs[4];

static inline bool fk_read_query(const uint8_t *b, size_t n, qinfo *q)
{
    if (n < 17)
        return false;
    q->id = (uint16_t)(b[0] << 8 | b[1]);
    size_t o = 12, w = 0;
    while (o < n && b[o] != 0 && w + b[o] + 2 < sizeof q->name) {
        if (w > 0)
            q->name[w++] = '.';
        memcpy(q->name + w, b + o + 1, b[o]);
        w += b[o];
        o += 1u + b[o];
    }
    q->name[w] = '\0';
    if (o + 5 > n)
        return false;
    q->qtype = (uint16_t)(b[o + 1] << 8 | b[o + 2]);
    return true;
}

static inline int fk_take(fake *f, const uint8_t *b, size_t n, bool tcp)
{
    qinfo q = {.tcp = tcp, .server = f->idx};
    if (!fk_read_query(b, n, &q))
        return 0;
    if (n_seen < 64)
        seen[n_seen] = q;
    n_seen++;
    return f->fn(&q, outs, 4);
}

static inline void fk_on_udp(struct ev_loop *ev, ev_io *w, int revents)
{
    fake *f = w->data;
    uint8_t b[600];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(f->udp, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
    if (n <= 0)
        return;
    int k = fk_take(f, b, (size_t)n, false);
    for (int i = 0; i < k; i++)
        sendto(f->udp, outs[i].b, outs[i].n, 0, (struct sockaddr *)&from, fl);
}

static inline void fk_on_conn(struct ev_loop *ev, ev_io *w, int revents)
{
    fake *f = w->data;
    ssize_t n = read(f->conn, f->cbuf + f->chave, sizeof f->cbuf - f->chave);
    if (n > 0)
        f->chave += (size_t)n;
    size_t need = f->chave >= 2 ? 2u + ((size_t)f->cbuf[0] << 8 | f->cbuf[1]) : SIZE_MAX;
    if (n > 0 && f->chave < need)
        return;
    ev_io_stop(ev, w);
    if (n > 0 && fk_take(f, f->cbuf + 2, need - 2, true) > 0) {
        uint8_t len[2] = {(uint8_t)(outs[0].n >> 8), (uint8_t)outs[0].n};
        nt_nonblock(f->conn, false);
        CHECK_EQ_INT(write(f->conn, len, 2), 2);
        CHECK_EQ_INT(write(f->conn, outs[0].b, outs[0].n), (long long)outs[0].n);
    }
    close(f->conn);
    f->conn = -1;
}

static inline void fk_on_accept(struct ev_loop *ev, ev_io *w, int revents)
{
    fake *f = w->data;
    int c = accept4(f->tcp, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0 || f->conn >= 0) {
        if (c >= 0)
            close(c);
        return;
    }
    f->conn = c;
    f->chave = 0;
    ev_io_init(&f->cio, fk_on_conn, c, EV_READ);
    f->cio.data = f;
    ev_io_start(ev, &f->cio);
}

__attribute__((unused)) static void fake_start(xg_loop *l, fake *f, int idx, script_fn fn)
{
    memset(f, 0, sizeof *f);
    f->idx = idx;
    f->fn = fn;
    f->conn = -1;
    f->tcp = nt_listen4(8);
    f->port = nt_port_of(f->tcp);
    f->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = nt_addr4(f->port);
    CHECK_EQ_INT(bind(f->udp, (struct sockaddr *)&sa, sizeof sa), 0);
    nt_nonblock(f->tcp, true);
    ev_io_init(&f->uio, fk_on_udp, f->udp, EV_READ);
    ev_io_init(&f->tio, fk_on_accept, f->tcp, EV_READ);
    f->uio.data = f->tio.data = f;
    ev_io_start(l->ev, &f->uio);
    ev_io_start(l->ev, &f->tio);
}

__attribute__((unused)) static void fake_stop(xg_loop *l, fake *f)
{
    ev_io_stop(l->ev, &f->uio);
    ev_io_stop(l->ev, &f->tio);
    ev_io_stop(l->ev, &f->cio);
    close(f->udp);
    close(f->tcp);
    if (f->conn >= 0)
        close(f->conn);
}

#endif
