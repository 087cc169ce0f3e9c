/* Connection core (net/conn.h): watchers, the input block, the output queue,
 * back-pressure, half-close, closing with flush and linger, the one timer.
 * The transports sit behind a vtable: plain in conn_plain.c, TLS in
 * conn_tls.c. */
#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/bufpool.h"
#include "core/error.h"
#include "net/conn_int.h"

struct xg__oblk {
    xg__oblk *next;
    uint32_t off, len; /* unwritten bytes are data[off, len) */
    char data[];
};

#define OBLK_CAP ((uint32_t)(XG_BUFPOOL_BLOCK - offsetof(xg__oblk, data)))
#define READ_BUDGET 16 /* reads per event before other connections get a turn */
#define MAX_IOV 64
#define LINGER_BUF 4096

static void on_io(struct ev_loop *ev, ev_io *w, int revents);
static void on_timer(struct ev_loop *ev, ev_timer *w, int revents);
static void proceed_close(xg_conn *c);

const char *xg_conn_reason_name(xg_conn_reason r)
{
    static const char *const names[] = {
        "local", "reset", "io_error", "tls_error", "idle_timeout", "handshake_timeout", "drained", "nomem", "timeout"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

/* Bytes the peer has acknowledged on c's socket (TCP_INFO), 0 when unknown. */
static uint64_t tcp_acked(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
        return 0;
    return ti.tcpi_bytes_acked;
}

/* --- life cycle --- */

int xg_conn_new(xg_loop *loop, int fd, xg_conn **out)
{
    xg_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    c->tp = &xg__conn_plain_vt;
    c->loop = loop;
    c->fd = fd;
    c->wm_low = 16384;
    c->wm_high = 32768;
    c->close_timeout = 5.0;
    ev_io_init(&c->io, on_io, fd, EV_READ);
    ev_init(&c->timer, on_timer);
    c->io.data = c->timer.data = c;
    c->stats.t_last = ev_now(loop->ev);
    *out = c;
    return 0;
}

void xg_conn_prefill(xg_conn *c, char *block, size_t len)
{
    XG_ASSERT(!c->started && len <= XG_BUFPOOL_BLOCK);
    if (c->tls != NULL) {
        XG_ASSERT(c->pre == NULL);
        c->pre = block;
        c->pre_off = 0;
        c->pre_len = (uint16_t)len;
        return;
    }
    XG_ASSERT(c->in == NULL);
    c->in = block;
    c->in_off = 0;
    c->in_len = (uint32_t)len;
    c->prefill_pending = len > 0;
}

void xg_conn_set_owner(xg_conn *c, const xg_conn_cbs *cb, void *owner)
{
    c->cb = cb;
    c->owner = owner;
    if (c->started && !c->dead && c->in_len > 0 && !c->prefill_pending) {
        c->prefill_pending = true;
        ev_feed_event(c->loop->ev, &c->io, EV_READ);
    }
}

bool xg_conn_ready(const xg_conn *c)
{
    return c->started && !c->handshaking && !c->dead;
}

static double now(const xg_conn *c)
{
    return ev_now(c->loop->ev);
}

static double earlier(double a, double b)
{
    return (a == 0 || (b != 0 && b < a)) ? b : a;
}

/* The earliest deadline that applies now; 0 when none. */
static double next_deadline(const xg_conn *c)
{
    if (c->owner_closed)
        return c->closing.deadline;
    double d = c->handshaking ? c->tls->hs_deadline : 0;
    d = earlier(d, c->deadline);
    if (c->idle_timeout > 0)
        d = earlier(d, c->stats.t_last + c->idle_timeout);
    return d;
}

/* Lazily (xg_timer_arm_lazy): the deadlines move with every request (the
 * pool's idle timeout, the owner's idle deadline set and cleared), and
 * on_timer re-checks them all, so a timer left armed when none is due only
 * fires once for nothing. */
static void arm_timer(xg_conn *c)
{
    if (c->dead) { /* the deadlines' storage is the deferred free's now */
        ev_timer_stop(c->loop->ev, &c->timer);
        return;
    }
    double d = next_deadline(c);
    if (d != 0)
        xg_timer_arm_lazy(c->loop->ev, &c->timer, d - now(c));
}

/* The watcher's events follow from the state; called after anything changes
 * it. One watcher re-armed for what is wanted rather than one per direction
 * (48 B less per idle connection): it changes only when a write blocks or a
 * read pauses, which the request path rarely does. libev cannot change an
 * active watcher's events, so it is stopped and started again; stopping
 * drops its pending events, of which those of a direction still wanted are
 * fed again (two watchers lost only the stopped direction's). */
static void update_watchers(xg_conn *c)
{
    struct ev_loop *ev = c->loop->ev;
    bool r = false, w = false;
    if (!c->dead && c->started) {
        if (c->handshaking) {
            r = !c->tp_want_write;
            w = c->tp_want_write;
        } else {
            r = !c->rd_want_write && (c->lingering || (c->rd_pause == 0 && !c->eof && !c->owner_closed));
            w = c->wr_blocked || c->rd_want_write;
        }
    }
    int want = (r ? EV_READ : 0) | (w ? EV_WRITE : 0);
    int cur = ev_is_active(&c->io) ? c->io.events & (EV_READ | EV_WRITE) : 0;
    if (want == cur)
        return;
    int pending = 0;
    if (cur != 0) {
        pending = ev_clear_pending(ev, &c->io) & ~(cur & ~want);
        ev_io_stop(ev, &c->io);
    }
    if (want != 0) {
        ev_io_modify(&c->io, want);
        ev_io_start(ev, &c->io);
    }
    if (pending != 0)
        ev_feed_event(ev, &c->io, pending);
}

static void put_in(xg_conn *c)
{
    if (c->in_big)
        xg_bufpool_put_big(c->in);
    else
        xg_bufpool_put(c->in);
    c->in = NULL;
    c->in_big = false;
}

static void release_blocks(xg_conn *c)
{
    put_in(c);
    c->in_off = c->in_len = 0;
    xg_bufpool_put(c->pre);
    c->pre = NULL;
    c->pre_off = c->pre_len = 0;
    while (c->out_head != NULL) {
        xg__oblk *b = c->out_head;
        c->out_head = b->next;
        xg_bufpool_put(b);
    }
    c->out_tail = NULL;
    c->out_bytes = 0;
}

void xg_conn_list_remove(xg_conn *c)
{
    if (c->list == NULL)
        return;
    if (c->lprev != NULL)
        c->lprev->lnext = c->lnext;
    else
        c->list->head = c->lnext;
    if (c->lnext != NULL)
        c->lnext->lprev = c->lprev;
    c->list->n--;
    c->list = NULL;
    c->lprev = c->lnext = NULL;
}

static void unlink_list(xg_conn *c)
{
    xg_conn_list *l = c->list;
    xg_conn_list_remove(c);
    if (l != NULL && l->on_remove != NULL)
        l->on_remove(l, c);
}

/* End of the loop pass: the owner hears why (unless it closed the conn
 * itself), then everything goes. */
static void on_free(xg_deferred *d)
{
    xg_conn *c = (xg_conn *)((char *)d - offsetof(xg_conn, deferred));
    if (!c->owner_closed && c->cb != NULL && c->cb->on_close != NULL) {
        c->owner_closed = true;
        c->cb->on_close(c, c->owner, c->reason == XG_CONN_LOCAL ? XG_CONN_IO_ERROR : (xg_conn_reason)c->reason);
    }
    struct ev_loop *ev = c->loop->ev;
    ev_io_stop(ev, &c->io);
    ev_timer_stop(ev, &c->timer);
    c->tp->dispose(c);
    if (c->fd >= 0)
        close(c->fd);
    release_blocks(c);
    unlink_list(c);
    free(c);
}

/* Per-thread: the connections owners closed that still flush or linger. */
static __thread xg_conn *closing_head;

static void closing_unlink(xg_conn *c)
{
    if (!c->in_closing)
        return;
    c->in_closing = false;
    if (c->closing.prev != NULL)
        c->closing.prev->closing.next = c->closing.next;
    else
        closing_head = c->closing.next;
    if (c->closing.next != NULL)
        c->closing.next->closing.prev = c->closing.prev;
    c->closing.prev = c->closing.next = NULL;
}

void xg_conn_abort_closing(void)
{
    while (closing_head != NULL)
        xg__conn_die(closing_head, XG_CONN_LOCAL);
}

/* The conn stops here: watchers off, socket closed, free at the end of the
 * pass. The first reason wins. */
void xg__conn_die(xg_conn *c, xg_conn_reason r)
{
    closing_unlink(c); /* on the owning thread: the list is that thread's; before the deferred free takes its storage */
    if (c->dead)
        return;
    c->dead = true;
    c->reason = r;
    c->lingering = false;
    struct ev_loop *ev = c->loop->ev;
    ev_io_stop(ev, &c->io);
    ev_timer_stop(ev, &c->timer);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (!c->free_scheduled) {
        c->free_scheduled = true;
        xg_loop_defer(c->loop, &c->deferred, on_free);
    }
}

static xg_conn_reason reason_of(int err)
{
    switch (err) {
    case -ECONNRESET:
    case -EPIPE:
        return XG_CONN_RESET;
    case XG_ENOMEM:
        return XG_CONN_NOMEM;
    case -EPROTO:
        return XG_CONN_TLS_ERROR;
    default:
        return XG_CONN_IO_ERROR;
    }
}

void xg_conn_kill(xg_conn *c, xg_conn_reason r)
{
    xg__conn_die(c, r);
}

void xg_conn_start(xg_conn *c, double handshake_timeout)
{
    XG_ASSERT(!c->started);
    c->started = true;
    c->hs_timeout = (float)handshake_timeout;
    c->handshaking = c->tls != NULL;
    if (c->handshaking && handshake_timeout > 0)
        c->tls->hs_deadline = now(c) + handshake_timeout;
    /* Prefilled bytes (plain), a replayed ClientHello, or a client's first
     * flight need no readiness from the socket: run the read side now. */
    if (c->prefill_pending || c->pre_len > 0 || c->handshaking)
        ev_feed_event(c->loop->ev, &c->io, EV_READ);
    update_watchers(c);
    arm_timer(c);
}

/* --- input --- */

/* An input block for the next read: a big one while a body streams in
 * (the last read filled its block), so a megabyte takes 16 reads rather than
 * 64; else a small one. An empty small block is swapped for a big one then;
 * a failed big allocation falls back to a small block. */
static bool ensure_in(xg_conn *c)
{
    if (c->in != NULL && c->in_len == 0) {
        c->in_off = 0;
        if (c->rd_bulk && !c->in_big)
            put_in(c);
    }
    if (c->in == NULL) {
        c->in_off = c->in_len = 0;
        c->in = c->rd_bulk ? xg_bufpool_get_big() : NULL;
        c->in_big = c->in != NULL;
        if (c->in == NULL)
            c->in = xg_bufpool_get();
    }
    return c->in != NULL;
}

static size_t in_cap(const xg_conn *c)
{
    return c->in_big ? XG_BUFPOOL_BIG : XG_BUFPOOL_BLOCK;
}

/* Room at the end of the input block, compacting when that helps. */
static size_t in_space(xg_conn *c)
{
    size_t space = in_cap(c) - c->in_off - c->in_len;
    if (space == 0 && c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len);
        c->in_off = 0;
        space = in_cap(c) - c->in_len;
    }
    return space;
}

/* Between reads an empty block goes back to the pool: an idle connection
 * holds none, a big one is held only while bytes wait for the owner. */
static void release_in_if_empty(xg_conn *c)
{
    if (c->in != NULL && c->in_len == 0) {
        put_in(c);
        c->in_off = 0;
    }
}

/* The owner queued bytes of the input block for writing by reference
 * (xg_bufpool_try_lend): they must stay as they are until written, so the
 * next read goes to a fresh block, and bytes not consumed yet move there. */
static void unshare_in(xg_conn *c)
{
    if (c->in == NULL || !xg_bufpool_shared(c->in))
        return;
    bool big = c->in_big;
    char *b = NULL;
    if (c->in_len > 0) {
        b = big ? xg_bufpool_get_big() : xg_bufpool_get();
        if (b == NULL) {
            xg__conn_die(c, XG_CONN_NOMEM);
            return;
        }
        memcpy(b, c->in + c->in_off, c->in_len);
    }
    put_in(c); /* our share: the borrower's goes when its bytes are written */
    c->in = b;
    c->in_big = b != NULL && big;
    c->in_off = 0;
}

void xg_conn_lend_begin(xg_conn *c)
{
    xg_bufpool_lend_open(c->in);
}

void xg_conn_lend_end(xg_conn *c)
{
    xg_bufpool_lend_close();
    unshare_in(c);
}

static bool can_read(const xg_conn *c)
{
    return !c->dead && !c->owner_closed && !c->eof && c->rd_pause == 0 && !c->handshaking;
}

/* One read into the input block, announced to the owner. 1: read more now;
 * 0: stop for this event. */
static int read_once(xg_conn *c)
{
    if (!ensure_in(c)) {
        xg__conn_die(c, XG_CONN_NOMEM);
        return 0;
    }
    size_t space = in_space(c);
    if (space == 0) {
        c->rd_pause |= XG__RD_FULL;
        return 0;
    }
    ssize_t n = c->tp->read(c, c->in + c->in_off + c->in_len, space);
    if (n == XG_EAGAIN) {
        c->rd_want_write = c->tp_want_write;
        return 0;
    }
    if (n < 0) {
        xg__conn_die(c, reason_of((int)n));
        return 0;
    }
    c->stats.t_last = now(c);
    /* Only plain reads can fill a big block: a TLS read returns one record
     * (16 KiB at most), so the next would come back short and switch back.
     * A read of a small block's worth or more keeps big blocks on, also
     * for the next message on the connection: a 64 KiB response with its
     * head then takes one read, not a small one and a big one. */
    size_t bulk_min = c->in_big ? XG_BUFPOOL_BLOCK : XG_BUFPOOL_BLOCK / 2;
    c->rd_bulk = c->tls == NULL && (size_t)n >= bulk_min && ((size_t)n == space || c->in_big);
    if (n == 0)
        c->eof = true;
    else
        c->in_len += (uint32_t)n;
    if (c->cb != NULL && c->cb->on_read != NULL) {
        xg_conn_lend_begin(c);
        c->cb->on_read(c, c->owner, (size_t)n);
        xg_conn_lend_end(c);
    }
    /* A short plain read drained the socket: skip the EAGAIN round trip. */
    return n > 0 && ((size_t)n == space || c->tp->has_buffered(c));
}

static void do_read(xg_conn *c)
{
    if (c->prefill_pending) {
        c->prefill_pending = false;
        if (c->in_len > 0 && !c->eof && c->cb != NULL && c->cb->on_read != NULL)
            c->cb->on_read(c, c->owner, c->in_len);
    }
    int i = 0;
    while (can_read(c) && read_once(c))
        if (++i == READ_BUDGET) {
            if (c->tp->has_buffered(c))
                ev_feed_event(c->loop->ev, &c->io, EV_READ);
            break;
        }
    release_in_if_empty(c);
}

void xg_conn_consume(xg_conn *c, size_t n)
{
    XG_ASSERT(n <= c->in_len);
    c->in_off += (uint32_t)n;
    c->in_len -= (uint32_t)n;
    if (c->in_len == 0)
        c->in_off = 0;
    if ((c->rd_pause & XG__RD_FULL) && n > 0) {
        c->rd_pause &= ~XG__RD_FULL;
        xg__conn_resume(c);
    }
}

/* Reading may go on again: bytes the transport holds get an event of their
 * own, the socket signals the rest. */
void xg__conn_resume(xg_conn *c)
{
    if (c->dead || !c->started)
        return;
    /* prefill_pending: an announcement of unconsumed input (a new owner's)
     * whose event a pause took away; the socket will not signal those
     * bytes again. */
    if (can_read(c) && (c->prefill_pending || c->tp->has_buffered(c)))
        ev_feed_event(c->loop->ev, &c->io, EV_READ);
    update_watchers(c);
}

void xg_conn_pause_read(xg_conn *c, bool paused)
{
    if (paused) {
        c->rd_pause |= XG__RD_OWNER;
        update_watchers(c);
        return;
    }
    c->rd_pause &= ~XG__RD_OWNER;
    xg__conn_resume(c);
}

/* Drains a closing conn's input: bytes after our final response are
 * discarded until the peer's FIN. */
static void linger_read(xg_conn *c)
{
    char buf[LINGER_BUF];
    for (int i = 0; i < READ_BUDGET; i++) {
        ssize_t n = c->tp->read(c, buf, sizeof(buf));
        if (n == XG_EAGAIN) {
            c->rd_want_write = c->tp_want_write;
            return;
        }
        if (n <= 0) {
            xg__conn_die(c, XG_CONN_LOCAL);
            return;
        }
    }
}

static void on_readable(xg_conn *c)
{
    if (c->handshaking)
        xg__conn_handshake(c);
    else if (c->lingering)
        linger_read(c);
    else
        do_read(c);
    if (!c->dead)
        update_watchers(c);
}

/* --- output --- */

size_t xg_conn_out_pending(const xg_conn *c)
{
    return c->out_bytes + c->tp->held(c);
}

void xg_conn_set_watermarks(xg_conn *c, size_t low, size_t high)
{
    /* A watermark is a buffer size from the config (uint32 there). */
    c->wm_low = low > UINT32_MAX ? UINT32_MAX : (uint32_t)low;
    c->wm_high = high > UINT32_MAX ? UINT32_MAX : (uint32_t)high;
    xg__conn_watermarks(c);
}

/* Reading pauses above the high watermark and resumes at the low one, with
 * on_writable owed to the owner. */
void xg__conn_watermarks(xg_conn *c)
{
    size_t p = xg_conn_out_pending(c);
    if (c->wm_high > 0 && p > c->wm_high && !(c->rd_pause & XG__RD_OUTPUT)) {
        c->rd_pause |= XG__RD_OUTPUT;
        c->want_writable = true;
        update_watchers(c);
    } else if ((c->rd_pause & XG__RD_OUTPUT) && (p <= c->wm_low || c->wm_high == 0)) {
        c->rd_pause &= ~XG__RD_OUTPUT;
        xg__conn_resume(c);
    }
}

static void consume_out(xg_conn *c, size_t n)
{
    while (n > 0) {
        xg__oblk *b = c->out_head;
        size_t k = b->len - b->off < n ? b->len - b->off : n;
        b->off += (uint32_t)k;
        c->out_bytes -= k;
        n -= k;
        if (b->off == b->len) {
            c->out_head = b->next;
            if (c->out_head == NULL)
                c->out_tail = NULL;
            xg_bufpool_put(b);
        }
    }
}

/* Writes the TLS record held and the queue. 0: all written; XG_EAGAIN:
 * the socket is full; another negative code: the conn is broken. */
static int flush_queue(xg_conn *c)
{
    int rc = c->tp->flush(c);
    while (rc == 0 && c->out_head != NULL) {
        struct iovec iov[MAX_IOV];
        int n = 0;
        for (xg__oblk *b = c->out_head; b != NULL && n < MAX_IOV; b = b->next, n++)
            iov[n] = (struct iovec){.iov_base = b->data + b->off, .iov_len = b->len - b->off};
        ssize_t w = c->tp->writev(c, iov, n);
        if (w < 0)
            return (int)w;
        consume_out(c, (size_t)w);
        c->stats.writes++;
        c->stats.t_last = now(c);
    }
    return rc;
}

/* Handles a write result: blocked waits for writability, an error kills. */
static int after_write(xg_conn *c, int rc)
{
    if (rc == XG_EAGAIN) {
        c->wr_blocked = true;
        rc = 0;
    } else if (rc < 0) {
        xg__conn_die(c, reason_of(rc));
    }
    if (!c->dead) {
        xg__conn_watermarks(c);
        update_watchers(c);
    }
    return rc;
}

int xg_conn_send(xg_conn *c, const void *p, size_t n)
{
    if (c->dead || c->owner_closed || c->shut_wr_pending)
        return c->dead ? -EPIPE : XG_EINVAL;
    const char *s = p;
    while (n > 0) {
        xg__oblk *t = c->out_tail;
        if (t == NULL || t->len == OBLK_CAP) {
            if ((t = xg_bufpool_get()) == NULL)
                return XG_ENOMEM;
            t->next = NULL;
            t->off = t->len = 0;
            if (c->out_tail != NULL)
                c->out_tail->next = t;
            else
                c->out_head = t;
            c->out_tail = t;
        }
        size_t k = OBLK_CAP - t->len < n ? OBLK_CAP - t->len : n;
        memcpy(t->data + t->len, s, k);
        t->len += (uint32_t)k;
        c->out_bytes += k;
        s += k;
        n -= k;
    }
    xg__conn_watermarks(c);
    return 0;
}

int xg_conn_flush(xg_conn *c)
{
    if (c->dead)
        return -EPIPE;
    if (c->handshaking || !c->started || c->wr_blocked)
        return 0;
    return after_write(c, flush_queue(c));
}

static size_t iov_total(const struct iovec *iov, int n)
{
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t += iov[i].iov_len;
    return t;
}

int xg_conn_writev(xg_conn *c, const struct iovec *iov, int iovcnt, size_t *taken)
{
    *taken = 0;
    if (c->dead || c->owner_closed || c->shut_wr_pending)
        return c->dead ? -EPIPE : XG_EINVAL;
    size_t total = iov_total(iov, iovcnt);
    int rc = (c->handshaking || !c->started || c->wr_blocked) ? XG_EAGAIN : flush_queue(c);
    if (rc == 0 && total > 0) {
        ssize_t w = c->tp->writev(c, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt);
        rc = w < 0 ? (int)w : 0;
        if (w > 0) {
            *taken = (size_t)w;
            c->stats.writes++;
            c->stats.t_last = now(c);
            /* Short: the socket is full (plain), a TLS record waits in the
             * stage, or an error will show on the next call; either way the
             * owner hears on_writable once the socket takes more. */
            if ((size_t)w < total)
                rc = XG_EAGAIN;
        }
    }
    if (*taken < total && (rc == 0 || rc == XG_EAGAIN))
        c->want_writable = true;
    if (!c->handshaking && c->started)
        return after_write(c, rc);
    return 0;
}

/* The socket is writable again: retry what is queued, then tell the owner. */
static void write_ready(xg_conn *c)
{
    c->wr_blocked = false;
    if (after_write(c, flush_queue(c)) != 0 || c->wr_blocked)
        return;
    if (c->shut_wr_pending && !c->shut_wr_done && c->out_bytes == 0) {
        int rc = c->tp->shutdown(c);
        if (rc == 0)
            c->shut_wr_done = true;
        else if (after_write(c, rc) != 0 || c->wr_blocked)
            return;
    }
    if (c->want_writable && !(c->rd_pause & XG__RD_OUTPUT) && !c->owner_closed) {
        c->want_writable = false;
        if (c->cb != NULL && c->cb->on_writable != NULL)
            c->cb->on_writable(c, c->owner);
    }
}

static void on_writable(xg_conn *c)
{
    if (c->handshaking) {
        xg__conn_handshake(c);
    } else if (c->owner_closed) {
        /* A read that waited for writability is the linger's business now:
         * left set, it would keep reading off and the write side armed on a
         * writable socket, a busy loop until the close deadline. */
        bool linger_again = c->rd_want_write && c->lingering;
        c->rd_want_write = false;
        c->wr_blocked = false;
        if (linger_again)
            linger_read(c);
        if (!c->dead)
            proceed_close(c);
    } else {
        if (c->rd_want_write) {
            c->rd_want_write = false;
            do_read(c);
        }
        if (!c->dead)
            write_ready(c);
    }
    if (!c->dead)
        update_watchers(c);
}

/* Reading first: what a read produces may go out with the write that
 * follows. The write half runs only while writability is still wanted, as a
 * stopped write watcher would have lost its event. */
static void on_io(struct ev_loop *ev, ev_io *w, int revents)
{
    xg_conn *c = w->data;
    if (c->dead)
        return;
    if (revents & EV_READ) {
        on_readable(c);
        if (c->dead)
            return;
    }
    if ((revents & EV_WRITE) && ev_is_active(&c->io) && (c->io.events & EV_WRITE))
        on_writable(c);
}

void xg_conn_shutdown_write(xg_conn *c)
{
    if (c->dead || c->owner_closed || c->shut_wr_pending)
        return;
    c->shut_wr_pending = true;
    if (c->started && !c->handshaking && !c->wr_blocked)
        write_ready(c);
}

/* --- closing, timers, drain --- */

/* A closing conn: write the rest, shut our side, then linger until the
 * peer's FIN (or the close deadline, see on_timer). */
static void proceed_close(xg_conn *c)
{
    int rc = flush_queue(c);
    if (rc == 0 && !c->shut_wr_done) {
        rc = c->tp->shutdown(c);
        c->shut_wr_done = rc == 0;
    }
    if (rc == XG_EAGAIN) {
        c->wr_blocked = true;
        update_watchers(c);
        return;
    }
    if (rc < 0 || c->eof) {
        xg__conn_die(c, XG_CONN_LOCAL);
        return;
    }
    c->lingering = true;
    update_watchers(c);
}

void xg_conn_close(xg_conn *c, xg_close_mode mode)
{
    if (c->owner_closed)
        return;
    c->owner_closed = true;
    c->cb = NULL;
    if (c->dead)
        return;
    if (mode == XG_CLOSE_RESET && c->fd >= 0) {
        /* Discard what the kernel still holds too: a peer that reads nothing
         * (zero window) would otherwise keep the socket, FIN unsent, for ever. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    if (mode == XG_CLOSE_FLUSH_OR_RESET) {
        c->reset_overdue = true;
        mode = XG_CLOSE_FLUSH;
    }
    if (mode != XG_CLOSE_FLUSH || !c->started || c->handshaking) {
        xg__conn_die(c, XG_CONN_LOCAL);
        return;
    }
    release_in_if_empty(c);
    /* From here the storage of the owner's deadline is the closing state's. */
    c->in_closing = true;
    c->closing.prev = NULL;
    c->closing.next = closing_head;
    if (closing_head != NULL)
        closing_head->closing.prev = c;
    closing_head = c;
    c->closing.deadline = now(c) + c->close_timeout;
    c->closing.acked = tcp_acked(c->fd);
    arm_timer(c);
    if (c->wr_blocked)
        update_watchers(c);
    else
        proceed_close(c);
}

void xg_conn_set_idle_timeout(xg_conn *c, double seconds)
{
    c->idle_timeout = (float)seconds;
    if (c->started && !c->dead)
        arm_timer(c);
}

void xg_conn_set_close_timeout(xg_conn *c, double seconds)
{
    c->close_timeout = (float)seconds;
}

void xg_conn_set_deadline(xg_conn *c, double seconds)
{
    if (c->owner_closed || c->dead)
        return; /* its storage is the closing state's or the deferred free's now */
    c->deadline = seconds > 0 ? now(c) + seconds : 0;
    if (c->started && !c->dead)
        arm_timer(c);
}

/* The owner's deadline: its callback decides, or the conn dies. false when
 * the conn is gone or closed. */
static bool owner_deadline(xg_conn *c)
{
    c->deadline = 0;
    if (c->cb == NULL || c->cb->on_deadline == NULL) {
        xg__conn_die(c, XG_CONN_TIMEOUT);
        return false;
    }
    c->cb->on_deadline(c, c->owner);
    return !c->dead && !c->owner_closed;
}

/* A flushing close ran out of time while the kernel or our queue still
 * holds bytes for the peer. A peer that took some since the deadline was
 * set (a slow client still downloading its last response) gets another
 * close_timeout, as Envoy's delayed close restarts on progress. Otherwise
 * the socket is closed: plainly when only the kernel holds bytes, so it can
 * still deliver them should the peer resume reading; with a reset when our
 * queue still holds some, or for XG_CLOSE_FLUSH_OR_RESET (a peer that broke
 * the protocol and may never read: its FIN would wait behind those bytes
 * for minutes). */
static void close_overdue(xg_conn *c)
{
    int queued = 0;
    if (c->fd >= 0 && ioctl(c->fd, SIOCOUTQ, &queued) == 0 && (queued > 0 || c->out_bytes > 0)) {
        uint64_t acked = tcp_acked(c->fd);
        if (acked != c->closing.acked) {
            c->closing.acked = acked;
            c->closing.deadline = now(c) + c->close_timeout;
            return; /* on_timer re-arms */
        }
        /* Bytes still in our queue would be lost: a FIN would pass a cut
         * response off as whole, a reset says it is not. */
        if (c->reset_overdue || c->out_bytes > 0) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
    }
    xg__conn_die(c, XG_CONN_LOCAL);
}

/* Whichever deadline passed acts; activity that moved the idle deadline
 * just sends the timer back to sleep (libev's lazy timeout pattern). */
static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    xg_conn *c = w->data;
    double t = now(c) + 1e-3;
    if (c->dead)
        return;
    if (c->owner_closed) {
        if (c->closing.deadline <= t)
            close_overdue(c);
    } else if (c->handshaking && c->tls->hs_deadline > 0 && c->tls->hs_deadline <= t) {
        xg__conn_die(c, XG_CONN_HANDSHAKE_TIMEOUT);
    } else if (c->deadline > 0 && c->deadline <= t && !owner_deadline(c)) {
        ; /* dead, or closed by the owner (its close deadline is armed below) */
    } else if (c->idle_timeout > 0 && c->stats.t_last + c->idle_timeout <= t) {
        xg__conn_die(c, XG_CONN_IDLE_TIMEOUT);
    }
    if (!c->dead)
        arm_timer(c);
}

void xg_conn_drain(xg_conn *c)
{
    if (c->dead || c->owner_closed || c->draining)
        return;
    c->draining = true;
    if (c->cb != NULL && c->cb->on_drain != NULL)
        c->cb->on_drain(c, c->owner);
}

void xg_conn_list_add(xg_conn_list *l, xg_conn *c)
{
    XG_ASSERT(c->list == NULL);
    c->list = l;
    c->lprev = NULL;
    c->lnext = l->head;
    if (l->head != NULL)
        l->head->lprev = c;
    l->head = c;
    l->n++;
}

/* --- handshake plumbing shared with conn_tls.c --- */

void xg__conn_begin_tls(xg_conn *c)
{
    if (!c->started || c->dead)
        return;
    c->handshaking = true;
    c->tls->hs_deadline = c->hs_timeout > 0 ? now(c) + c->hs_timeout : 0;
    c->rd_pause &= ~XG__RD_FULL;
    if (c->pre_len > 0)
        ev_feed_event(c->loop->ev, &c->io, EV_READ);
    update_watchers(c);
    arm_timer(c);
}

void xg__conn_handshake(xg_conn *c)
{
    int rc = c->tp->handshake(c);
    if (rc == XG_EAGAIN) {
        update_watchers(c);
        return;
    }
    if (rc < 0) {
        xg__conn_die(c, XG_CONN_TLS_ERROR);
        return;
    }
    c->handshaking = false;
    arm_timer(c);
    if (c->cb != NULL && c->cb->on_handshake != NULL)
        c->cb->on_handshake(c, c->owner);
    if (c->dead)
        return;
    /* Application data may have arrived with the last flight. */
    if (can_read(c) && c->tp->has_buffered(c))
        ev_feed_event(c->loop->ev, &c->io, EV_READ);
    if (c->out_head != NULL || c->want_writable)
        c->wr_blocked = true; /* let on_io write what waited for the handshake */
    update_watchers(c);
}
