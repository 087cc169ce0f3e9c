/* The lookup state machine (dns_client.h): candidates (the name with the
 * search domains, in the C library's order) x record types (the lookup
 * family's plan) x tries (servers, attempts). One socket at a time: a
 * connected UDP socket per try, so only the server's own answers arrive,
 * with a fresh random id; a truncated answer repeats the try over TCP on the
 * same server. A lookup ends through a zero timer, so the callback never
 * runs inside xg_dns_resolve. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cluster/dns_client.h"
#include "cluster/dns_wire.h"
#include "core/error.h"
#include "core/log.h"

#define NAME_MAX_TEXT 254
#define MAX_CANDS (XG_DNS_MAX_SEARCH + 1)
#define UDP_BUF 4096 /* servers that ignore the 512-byte limit are read whole */

struct xg_dns_query {
    xg_loop *loop;
    xg_dns_conf conf;
    char cands[MAX_CANDS][NAME_MAX_TEXT];
    unsigned n_cands, cand;
    uint16_t plan[2];
    unsigned n_plan, step;
    bool all; /* ALL: both steps, addresses added up; else the second step only when the first gave none */
    /* the current candidate's outcome */
    struct sockaddr_storage *addrs;
    uint32_t n, cap, ttl;
    bool have_ttl;
    int cand_err; /* a failed exchange of this candidate */
    int any_err;  /* the first failed candidate's */
    /* the current exchange (one record type at one candidate) */
    uint16_t qtype, id;
    uint8_t q[XG_DNS_QUERY_MAX];
    size_t qlen;
    unsigned tries, server;
    int last_err;
    int fd;
    unsigned gen; /* bumped whenever a try's socket closes */
    bool tcp;
    bool tcp_reading;
    uint8_t *tbuf; /* TCP: the length-prefixed query, then the answer */
    size_t tdone, tneed;
    ev_io io;
    ev_timer timer;
    xg_dns_reply *reply;
    /* the end */
    int status;
    bool finished;
    xg_dns_cb cb;
    void *arg;
    xg_deferred deferred;
};

static void send_try(xg_dns_query *q);
static void start_exchange(xg_dns_query *q);

static uint16_t random_id(void)
{
    uint16_t id;
    if (getrandom(&id, sizeof id, GRND_NONBLOCK) == (ssize_t)sizeof id)
        return id;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint16_t)(ts.tv_nsec ^ (ts.tv_nsec >> 16) ^ rand());
}

/* --- the socket of a try --- */

static void close_fd(xg_dns_query *q)
{
    ev_io_stop(q->loop->ev, &q->io);
    ev_timer_stop(q->loop->ev, &q->timer);
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
    q->gen++;
    free(q->tbuf);
    q->tbuf = NULL;
}

static int open_socket(xg_dns_query *q, int type)
{
    const struct sockaddr_storage *srv = &q->conf.servers[q->server];
    q->fd = socket(srv->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (q->fd < 0)
        return -errno;
    if (connect(q->fd, (const struct sockaddr *)srv, xg_dns_sockaddr_len(srv)) != 0 && errno != EINPROGRESS)
        return -errno;
    return 0;
}

static void arm_timer(xg_dns_query *q)
{
    ev_timer_stop(q->loop->ev, &q->timer);
    ev_timer_set(&q->timer, q->conf.timeout_ms / 1000.0, 0);
    ev_timer_start(q->loop->ev, &q->timer);
}

static void next_try(xg_dns_query *q, int err)
{
    close_fd(q);
    q->last_err = err;
    q->tries++;
    q->server = (q->server + 1) % (unsigned)q->conf.n_servers;
    q->tcp = q->conf.use_tcp;
    send_try(q);
}

/* --- the end of a lookup --- */

static void on_free(xg_deferred *d)
{
    xg_dns_query *q = (xg_dns_query *)((char *)d - offsetof(xg_dns_query, deferred));
    free(q->addrs);
    free(q->reply);
    free(q);
}

static void on_deliver(struct ev_loop *ev, ev_timer *t, int revents)
{
    xg_dns_query *q = t->data;
    xg_dns_result r = {.n = q->status == 0 ? q->n : 0, .addrs = q->addrs, .ttl = q->ttl};
    xg_loop_defer(q->loop, &q->deferred, on_free);
    q->cb(q->arg, q->status, &r);
}

static void finish(xg_dns_query *q, int status)
{
    close_fd(q);
    q->status = status;
    q->finished = true;
    ev_timer_init(&q->timer, on_deliver, 0, 0);
    q->timer.data = q;
    ev_timer_start(q->loop->ev, &q->timer);
}

/* --- candidates and record types --- */

static void add_addresses(xg_dns_query *q, const xg_dns_reply *rep)
{
    if (rep->n == 0)
        return;
    if (q->n + rep->n > q->cap) {
        uint32_t cap = q->n + rep->n;
        struct sockaddr_storage *v = realloc(q->addrs, cap * sizeof *v);
        if (v == NULL) {
            q->cand_err = XG_ENOMEM;
            return;
        }
        q->addrs = v;
        q->cap = cap;
    }
    for (uint32_t i = 0; i < rep->n; i++) {
        struct sockaddr_storage *ss = &q->addrs[q->n++];
        memset(ss, 0, sizeof *ss);
        if (q->qtype == XG_DNS_T_A) {
            struct sockaddr_in *in = (struct sockaddr_in *)ss;
            in->sin_family = AF_INET;
            memcpy(&in->sin_addr, rep->addr[i], 4);
        } else {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
            in6->sin6_family = AF_INET6;
            memcpy(&in6->sin6_addr, rep->addr[i], 16);
        }
    }
    if (!q->have_ttl || rep->ttl < q->ttl)
        q->ttl = rep->ttl;
    q->have_ttl = true;
}

/* Search stops at a timeout (the servers are unreachable, as the C library
 * stops on anything but "no such name"); other failures try the next name. */
static void candidate_done(xg_dns_query *q)
{
    if (q->n > 0) {
        finish(q, 0);
        return;
    }
    if (q->cand_err != 0 && q->any_err == 0)
        q->any_err = q->cand_err;
    if (q->cand_err == -ETIMEDOUT || q->cand_err == XG_ENOMEM || ++q->cand >= q->n_cands) {
        finish(q, q->any_err);
        return;
    }
    q->step = 0;
    q->cand_err = 0;
    q->have_ttl = false;
    q->ttl = 0;
    start_exchange(q);
}

/* One record type at one candidate ended: status 0 with rep, or a failure. */
static void exchange_done(xg_dns_query *q, int status, const xg_dns_reply *rep)
{
    close_fd(q);
    if (status == 0 && rep->rcode == XG_DNS_NOERROR)
        add_addresses(q, rep);
    else if (status != 0)
        q->cand_err = status;
    if (q->step + 1 < q->n_plan && (q->all || q->n == 0) && q->cand_err != XG_ENOMEM) {
        q->step++;
        start_exchange(q);
        return;
    }
    candidate_done(q);
}

/* An answer from the server of this try. */
static void on_answer(xg_dns_query *q, const uint8_t *msg, size_t len, bool over_tcp)
{
    int rc = xg_dns_reply_parse(msg, len, q->id, q->cands[q->cand], q->qtype, q->reply);
    if (rc == XG_ENOENT && !over_tcp)
        return; /* not ours: keep waiting */
    if (rc == XG_ENOMEM) {
        exchange_done(q, rc, NULL);
        return;
    }
    if (rc != 0) {
        next_try(q, XG_EIO);
        return;
    }
    if (q->reply->truncated && !over_tcp) {
        xg_log_debug("dns: the answer for %s was truncated; asking again over TCP", q->cands[q->cand]);
        close_fd(q);
        q->tcp = true;
        send_try(q);
        return;
    }
    if (q->reply->truncated || (q->reply->rcode != XG_DNS_NOERROR && q->reply->rcode != XG_DNS_NXDOMAIN)) {
        next_try(q, XG_EIO);
        return;
    }
    exchange_done(q, 0, q->reply);
}

/* --- UDP --- */

static void on_udp(struct ev_loop *ev, ev_io *w, int revents)
{
    xg_dns_query *q = w->data;
    uint8_t buf[UDP_BUF];
    for (;;) {
        ssize_t n = recv(q->fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n < 0) {
            next_try(q, XG_EIO); /* ECONNREFUSED: nothing listens on the server's port */
            return;
        }
        unsigned gen = q->gen;
        on_answer(q, buf, (size_t)n, false);
        if (q->gen != gen)
            return; /* the try ended (its socket is closed) */
    }
}

static int udp_send(xg_dns_query *q)
{
    int rc = open_socket(q, SOCK_DGRAM);
    if (rc == 0 && send(q->fd, q->q, q->qlen, 0) != (ssize_t)q->qlen)
        rc = XG_EIO;
    if (rc != 0)
        return rc;
    ev_io_init(&q->io, on_udp, q->fd, EV_READ);
    q->io.data = q;
    ev_io_start(q->loop->ev, &q->io);
    return 0;
}

/* --- TCP (RFC 1035 4.2.2: a two-byte length before each message) --- */

static void tcp_write(xg_dns_query *q)
{
    ssize_t n = send(q->fd, q->tbuf + q->tdone, q->tneed - q->tdone, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        next_try(q, XG_EIO);
        return;
    }
    q->tdone += (size_t)n;
    if (q->tdone < q->tneed)
        return;
    free(q->tbuf);
    if ((q->tbuf = malloc(2)) == NULL) {
        exchange_done(q, XG_ENOMEM, NULL);
        return;
    }
    q->tcp_reading = true;
    q->tdone = 0;
    q->tneed = 2;
    ev_io_stop(q->loop->ev, &q->io);
    ev_io_set(&q->io, q->fd, EV_READ);
    ev_io_start(q->loop->ev, &q->io);
}

/* Reads the length, then the message: READ_MORE after progress, 0 when
 * the socket has nothing now, READ_DONE with the whole message, or an error. */
enum { READ_MORE = 2, READ_DONE = 1 };

static int tcp_read(xg_dns_query *q)
{
    ssize_t n = recv(q->fd, q->tbuf + q->tdone, q->tneed - q->tdone, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return XG_EIO; /* closed before the whole answer */
    q->tdone += (size_t)n;
    if (q->tdone < q->tneed)
        return READ_MORE;
    if (q->tneed > 2)
        return READ_DONE;
    size_t len = (size_t)q->tbuf[0] << 8 | q->tbuf[1];
    if (len < 12)
        return XG_EIO;
    uint8_t *b = malloc(len);
    if (b == NULL)
        return XG_ENOMEM;
    free(q->tbuf);
    q->tbuf = b;
    q->tdone = 0;
    q->tneed = len;
    return READ_MORE;
}

static void on_tcp(struct ev_loop *ev, ev_io *w, int revents)
{
    xg_dns_query *q = w->data;
    if (!q->tcp_reading) {
        tcp_write(q);
        return;
    }
    int rc;
    while ((rc = tcp_read(q)) == READ_MORE)
        ;
    if (rc == XG_ENOMEM)
        exchange_done(q, rc, NULL);
    else if (rc < 0)
        next_try(q, XG_EIO);
    else if (rc == READ_DONE)
        on_answer(q, q->tbuf, q->tneed, true);
}

static int tcp_open(xg_dns_query *q)
{
    int rc = open_socket(q, SOCK_STREAM);
    if (rc != 0)
        return rc;
    if ((q->tbuf = malloc(q->qlen + 2)) == NULL)
        return XG_ENOMEM;
    q->tbuf[0] = (uint8_t)(q->qlen >> 8);
    q->tbuf[1] = (uint8_t)q->qlen;
    memcpy(q->tbuf + 2, q->q, q->qlen);
    q->tdone = 0;
    q->tneed = q->qlen + 2;
    q->tcp_reading = false;
    ev_io_init(&q->io, on_tcp, q->fd, EV_WRITE);
    q->io.data = q;
    ev_io_start(q->loop->ev, &q->io);
    return 0;
}

/* --- tries --- */

static void on_timeout(struct ev_loop *ev, ev_timer *t, int revents)
{
    next_try(t->data, -ETIMEDOUT);
}

/* Sends this try's query, moving on to the next server while sockets
 * cannot even be made; the exchange fails once every try was used. */
static void send_try(xg_dns_query *q)
{
    unsigned max = q->conf.attempts * (unsigned)q->conf.n_servers;
    while (q->tries < max) {
        int rc = q->tcp ? tcp_open(q) : udp_send(q);
        if (rc == 0) {
            ev_timer_init(&q->timer, on_timeout, 0, 0);
            q->timer.data = q;
            arm_timer(q);
            return;
        }
        if (rc == XG_ENOMEM) {
            exchange_done(q, rc, NULL);
            return;
        }
        close_fd(q);
        q->last_err = XG_EIO;
        q->tries++;
        q->server = (q->server + 1) % (unsigned)q->conf.n_servers;
        q->tcp = q->conf.use_tcp;
    }
    exchange_done(q, q->last_err != 0 ? q->last_err : -ETIMEDOUT, NULL);
}

static void start_exchange(xg_dns_query *q)
{
    q->qtype = q->plan[q->step];
    q->id = random_id();
    q->tries = 0;
    q->last_err = 0;
    q->tcp = q->conf.use_tcp;
    q->server = q->conf.rotate ? (unsigned)(random_id() % q->conf.n_servers) : 0;
    if (xg_dns_query_build(q->id, q->cands[q->cand], q->qtype, q->q, sizeof q->q, &q->qlen) != 0) {
        exchange_done(q, XG_EINVAL, NULL);
        return;
    }
    send_try(q);
}

/* --- setting up --- */

static void add_cand(xg_dns_query *q, const char *name, const char *domain)
{
    char *c = q->cands[q->n_cands];
    int n = domain != NULL ? snprintf(c, NAME_MAX_TEXT, "%s.%s", name, domain) : snprintf(c, NAME_MAX_TEXT, "%s", name);
    if (n > 0 && n < NAME_MAX_TEXT && q->n_cands < MAX_CANDS)
        q->n_cands++;
}

/* The names to ask, in order: as given first when it has at least ndots
 * dots (or ends with one), else after the search domains. */
static void make_candidates(xg_dns_query *q, const char *name)
{
    size_t len = strlen(name), dots = 0;
    for (size_t i = 0; i < len; i++)
        dots += name[i] == '.';
    bool absolute = len > 0 && name[len - 1] == '.';
    bool first = absolute || dots >= q->conf.ndots || q->conf.n_search == 0;
    if (first)
        add_cand(q, name, NULL);
    for (size_t i = 0; !absolute && i < q->conf.n_search; i++)
        add_cand(q, name, q->conf.search[i]);
    if (!first)
        add_cand(q, name, NULL);
}

static void make_plan(xg_dns_query *q, xg_dns_family family)
{
    switch (family) {
    case XG_DNS_V4_ONLY:
        q->plan[0] = XG_DNS_T_A;
        q->n_plan = 1;
        break;
    case XG_DNS_V6_ONLY:
        q->plan[0] = XG_DNS_T_AAAA;
        q->n_plan = 1;
        break;
    case XG_DNS_V4_PREFERRED:
    case XG_DNS_ALL:
        q->plan[0] = XG_DNS_T_A;
        q->plan[1] = XG_DNS_T_AAAA;
        q->n_plan = 2;
        q->all = family == XG_DNS_ALL;
        break;
    default: /* AUTO */
        q->plan[0] = XG_DNS_T_AAAA;
        q->plan[1] = XG_DNS_T_A;
        q->n_plan = 2;
        break;
    }
}

int xg_dns_resolve(xg_loop *loop, const char *name, xg_dns_family family, const xg_dns_conf *conf, xg_dns_cb cb,
                   void *arg, xg_dns_query **out)
{
    xg_dns_query *q = calloc(1, sizeof *q);
    if (q == NULL || (q->reply = malloc(sizeof *q->reply)) == NULL) {
        free(q);
        return XG_ENOMEM;
    }
    q->loop = loop;
    q->conf = *conf;
    q->fd = -1;
    q->cb = cb;
    q->arg = arg;
    ev_init(&q->io, on_udp);
    ev_timer_init(&q->timer, on_timeout, 0, 0);
    q->timer.data = q;
    make_plan(q, family);
    make_candidates(q, name);
    *out = q;
    if (q->n_cands == 0 || q->conf.n_servers == 0)
        finish(q, XG_EINVAL);
    else
        start_exchange(q);
    return 0;
}

void xg_dns_cancel(xg_dns_query *q)
{
    if (q == NULL)
        return;
    close_fd(q);
    xg_loop_defer(q->loop, &q->deferred, on_free);
}
