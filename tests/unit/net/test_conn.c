/* xg_conn over loopback TCP: reads, copying and zero-copy writes, output
 * watermarks and read back-pressure, half-close, deferred close with flush,
 * resets, idle timeout, owner deadlines, and that pool blocks come back. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/bufpool.h"
#include "core/error.h"
#include "net/conn.h"
#include "net/net_test.h"
#include "xg_test.h"

typedef struct owner {
    xg_conn *c;
    size_t reads, bytes, writable, deadlines;
    bool got, wrote, eof, closed, consume, close_in_read;
    xg_conn_reason why;
    char data[1 << 16];
    size_t len;
    size_t max_input; /* the most unconsumed input seen in one on_read */
    bool last_big;    /* the input block of the last on_read was a big one */
    size_t lend;      /* > 0: once that many bytes are in, borrow them by reference and consume them */
    void *lent;       /* the block xg_bufpool_try_lend returned */
    const char *lent_at;
} owner;

static void on_read(xg_conn *c, void *arg, size_t n)
{
    owner *o = arg;
    o->reads++;
    o->got = true;
    o->bytes += n;
    if (n == 0 && xg_conn_eof(c))
        o->eof = true;
    size_t len;
    const char *p = xg_conn_input(c, &len);
    o->max_input = len > o->max_input ? len : o->max_input;
    o->last_big = c->in_big;
    if (o->lend > 0 && o->lent == NULL && len >= o->lend) {
        o->lent = xg_bufpool_try_lend(p, o->lend);
        o->lent_at = p;
        xg_conn_consume(c, o->lend);
        return;
    }
    if (o->consume && len > 0) {
        size_t k = len < sizeof(o->data) - o->len ? len : sizeof(o->data) - o->len;
        memcpy(o->data + o->len, p, k);
        o->len += k;
        xg_conn_consume(c, len);
    }
    if (o->close_in_read) {
        xg_conn_send(c, "bye", 3);
        xg_conn_close(c, XG_CLOSE_FLUSH);
        /* Still valid until the end of the pass: the conn is freed later. */
        o->closed = c->owner_closed;
    }
}

static void on_writable(xg_conn *c, void *arg)
{
    ((owner *)arg)->writable++;
    ((owner *)arg)->wrote = true;
}

static void on_close(xg_conn *c, void *arg, xg_conn_reason r)
{
    owner *o = arg;
    o->closed = true;
    o->why = r;
}

static void on_deadline(xg_conn *c, void *arg)
{
    ((owner *)arg)->deadlines++;
}

static const xg_conn_cbs cbs = {
    .on_read = on_read, .on_writable = on_writable, .on_close = on_close, .on_deadline = on_deadline};

typedef struct fixture {
    xg_loop loop;
    int peer;
    owner *o;
} fixture;

static bool setup(fixture *f)
{
    int a;
    if (xg_loop_init(&f->loop, 0) != 0 || !nt_tcp_pair(&a, &f->peer))
        return false;
    f->o = calloc(1, sizeof(*f->o));
    f->o->consume = true;
    if (xg_conn_new(&f->loop, a, &f->o->c) != 0)
        return false;
    xg_conn_set_owner(f->o->c, &cbs, f->o);
    xg_conn_start(f->o->c, 0);
    return true;
}

static void teardown(fixture *f)
{
    if (!f->o->closed)
        xg_conn_close(f->o->c, XG_CLOSE_ABORT);
    close(f->peer);
    xg_loop_dispose(&f->loop);
    free(f->o);
}

XG_TEST(read_and_write)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    CHECK(xg_conn_ready(f.o->c));
    CHECK(write(f.peer, "hello", 5) == 5);
    CHECK(nt_run_until(&f.loop, &f.o->got, 2));
    nt_run_for(&f.loop, 0.02);
    CHECK_EQ_INT(f.o->len, 5);
    CHECK(memcmp(f.o->data, "hello", 5) == 0);
    CHECK_EQ_INT(xg_conn_send(f.o->c, "wor", 3), 0);
    CHECK_EQ_INT(xg_conn_send(f.o->c, "ld", 2), 0);
    CHECK_EQ_INT(xg_conn_out_pending(f.o->c), 5);
    CHECK_EQ_INT(xg_conn_flush(f.o->c), 0);
    CHECK_EQ_INT(xg_conn_out_pending(f.o->c), 0);
    char buf[16];
    CHECK_EQ_INT(nt_read_some(f.peer, buf, 5, 2, NULL), 5);
    CHECK(memcmp(buf, "world", 5) == 0);
    CHECK_EQ_INT(f.o->bytes, 5); /* announced by on_read */
    teardown(&f);
}

XG_TEST(writev_short_then_writable)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    int small = 4096;
    setsockopt(f.o->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(f.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    static char big[4 << 20];
    memset(big, 'x', sizeof(big));
    struct iovec iov[2] = {{big, sizeof(big) / 2}, {big + sizeof(big) / 2, sizeof(big) / 2}};
    size_t taken = 0;
    CHECK_EQ_INT(xg_conn_writev(f.o->c, iov, 2, &taken), 0);
    CHECK(taken > 0 && taken < sizeof(big));
    CHECK_EQ_INT(f.o->writable, 0);
    /* The peer drains; the conn owes on_writable. */
    static char sink[4 << 20];
    nt_read_some(f.peer, sink, taken, 5, NULL);
    CHECK(nt_run_until(&f.loop, &f.o->wrote, 2));
    CHECK_EQ_INT(f.o->writable, 1);
    teardown(&f);
}

XG_TEST(watermarks_pause_reading)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    int small = 4096;
    setsockopt(f.o->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(f.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    xg_conn_set_watermarks(f.o->c, 16384, 65536);
    static char chunk[200000];
    memset(chunk, 'y', sizeof(chunk));
    CHECK_EQ_INT(xg_conn_send(f.o->c, chunk, sizeof(chunk)), 0);
    CHECK_EQ_INT(xg_conn_flush(f.o->c), 0);
    CHECK(xg_conn_out_pending(f.o->c) > 65536);
    /* Above the high watermark: input is not read. */
    CHECK(write(f.peer, "ping", 4) == 4);
    nt_run_for(&f.loop, 0.1);
    CHECK_EQ_INT(f.o->reads, 0);
    /* The peer drains everything: below low, on_writable, reading resumes. */
    static char sink[200000];
    size_t got = 0;
    for (int i = 0; i < 200 && got < sizeof(chunk); i++) {
        got += nt_read_some(f.peer, sink + got, sizeof(chunk) - got, 0.01, NULL);
        nt_run_for(&f.loop, 0.005);
    }
    CHECK_EQ_INT(got, sizeof(chunk));
    nt_run_until(&f.loop, &f.o->got, 2);
    CHECK(f.o->writable >= 1);
    CHECK_EQ_INT(f.o->len, 4);
    teardown(&f);
}

XG_TEST(full_input_block_stops_reading)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    f.o->consume = false;
    static char chunk[3 * XG_BUFPOOL_BLOCK];
    memset(chunk, 'z', sizeof(chunk));
    CHECK(write(f.peer, chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk));
    nt_run_for(&f.loop, 0.1);
    size_t len;
    xg_conn_input(f.o->c, &len);
    CHECK_EQ_INT(len, XG_BUFPOOL_BLOCK);
    CHECK_EQ_INT(f.o->bytes, XG_BUFPOOL_BLOCK);
    /* Consuming makes room and reading goes on. */
    f.o->consume = true;
    xg_conn_consume(f.o->c, len);
    nt_run_for(&f.loop, 0.1);
    CHECK_EQ_INT(f.o->bytes, sizeof(chunk));
    teardown(&f);
}

/* A body streaming in is read into big blocks (fewer reads), which go back
 * to the pool once consumed; a small read turns them off, so small messages
 * afterwards use small ones. */
XG_TEST(bulk_input_reads_big_blocks_and_gives_them_back)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    static char chunk[256 * 1024];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)('a' + i % 23);
    fcntl(f.peer, F_SETFL, fcntl(f.peer, F_GETFL) | O_NONBLOCK);
    size_t sent = 0;
    for (int i = 0; i < 2000 && sent < sizeof(chunk); i++) {
        ssize_t w = write(f.peer, chunk + sent, sizeof(chunk) - sent);
        sent += w > 0 ? (size_t)w : 0;
        nt_run_for(&f.loop, 0.002);
    }
    nt_run_for(&f.loop, 0.05);
    CHECK_EQ_INT(sent, sizeof(chunk));
    CHECK_EQ_INT(f.o->bytes, sizeof(chunk));
    CHECK(memcmp(f.o->data, chunk, sizeof(f.o->data)) == 0);
    CHECK(f.o->max_input > XG_BUFPOOL_BLOCK);
    CHECK(f.o->reads < sizeof(chunk) / XG_BUFPOOL_BLOCK);
    xg_bufpool_stats st = xg_bufpool_thread_stats();
    CHECK_EQ_INT(st.big_in_use, 0);
    CHECK_EQ_INT(st.in_use, 0);
    CHECK(st.big_spare >= 1);
    CHECK(write(f.peer, "tail", 4) == 4);
    size_t before = f.o->bytes;
    nt_run_for(&f.loop, 0.05);
    CHECK_EQ_INT(f.o->bytes - before, 4);
    CHECK(write(f.peer, "more", 4) == 4);
    nt_run_for(&f.loop, 0.05);
    CHECK_EQ_INT(f.o->bytes - before, 8);
    CHECK(!f.o->last_big);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 0);
    teardown(&f);
}

/* After a bulk message, the next one of 64 KiB and a head (a response)
 * comes in one read: big blocks stay on across messages while reads are
 * big, and hold a 64 KiB body with room to spare. */
XG_TEST(bulk_stays_on_for_the_next_message)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    static char msg[65536 + 400];
    memset(msg, 'm', sizeof msg);
    CHECK(write(f.peer, msg, 40000) == 40000);
    nt_run_for(&f.loop, 0.05);
    CHECK_EQ_INT(f.o->bytes, 40000);
    size_t reads = f.o->reads;
    CHECK(write(f.peer, msg, sizeof msg) == (ssize_t)sizeof msg);
    nt_run_for(&f.loop, 0.05);
    CHECK_EQ_INT(f.o->bytes, 40000 + sizeof msg);
    CHECK(f.o->last_big);
    CHECK_EQ_INT(f.o->reads - reads, 1);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 0);
    teardown(&f);
}

/* An owner that took bytes of the input block by reference keeps them
 * intact: the conn reads on into a fresh block, with the bytes the owner
 * has not consumed moved there, and the block goes back at the owner's put. */
XG_TEST(lent_input_block_is_not_written_again)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    f.o->consume = false;
    f.o->lend = 10240;
    static char a[12288], b[4096];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (char)('a' + i % 26);
    memset(b, 'B', sizeof b);
    CHECK(write(f.peer, a, sizeof a) == (ssize_t)sizeof a);
    for (int i = 0; i < 200 && f.o->lent == NULL; i++)
        nt_run_for(&f.loop, 0.002);
    if (!CHECK(f.o->lent != NULL))
        goto out;
    CHECK(f.o->c->in != f.o->lent);
    size_t len;
    const char *in = xg_conn_input(f.o->c, &len);
    CHECK_EQ_INT(len, sizeof a - 10240);
    CHECK(in != NULL && memcmp(in, a + 10240, len) == 0);
    CHECK(write(f.peer, b, sizeof b) == (ssize_t)sizeof b);
    for (int i = 0; i < 200 && len < sizeof a - 10240 + sizeof b; i++) {
        nt_run_for(&f.loop, 0.002);
        in = xg_conn_input(f.o->c, &len);
    }
    CHECK_EQ_INT(len, sizeof a - 10240 + sizeof b);
    CHECK(memcmp(in, a + 10240, sizeof a - 10240) == 0 && memcmp(in + sizeof a - 10240, b, sizeof b) == 0);
    CHECK(memcmp(f.o->lent_at, a, 10240) == 0);
    CHECK(!xg_bufpool_shared(f.o->lent));
    xg_bufpool_put(f.o->lent);
    xg_conn_consume(f.o->c, len);
    f.o->consume = true; /* the next read finds the block empty and gives it back */
    CHECK(write(f.peer, "z", 1) == 1);
    nt_run_for(&f.loop, 0.01);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, 0);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 0);
out:
    teardown(&f);
}

/* An owner that keeps a big block's bytes keeps reading stopped at 64 KiB
 * (the block is full), and consuming them lets the rest in. */
XG_TEST(full_big_block_stops_reading)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    f.o->consume = false;
    static char chunk[XG_BUFPOOL_BLOCK + 2 * XG_BUFPOOL_BIG];
    memset(chunk, 'b', sizeof(chunk));
    fcntl(f.peer, F_SETFL, fcntl(f.peer, F_GETFL) | O_NONBLOCK);
    size_t sent = 0;
    for (int i = 0; i < 200 && sent < sizeof(chunk); i++) {
        ssize_t w = write(f.peer, chunk + sent, sizeof(chunk) - sent);
        sent += w > 0 ? (size_t)w : 0;
        nt_run_for(&f.loop, 0.002);
        size_t len;
        xg_conn_input(f.o->c, &len);
        if (len > 0 && f.o->c->in_big)
            break;
        if (len > 0) /* the first small block: consumed, so the next read takes a big one */
            xg_conn_consume(f.o->c, len);
    }
    nt_run_for(&f.loop, 0.05);
    size_t len;
    xg_conn_input(f.o->c, &len);
    if (!CHECK(f.o->c->in_big))
        goto out;
    CHECK(len <= XG_BUFPOOL_BIG);
    CHECK(f.o->max_input <= XG_BUFPOOL_BIG);
    /* Consume what is held until the peer's bytes are all in. */
    for (int i = 0; i < 400; i++) {
        ssize_t w = sent < sizeof(chunk) ? write(f.peer, chunk + sent, sizeof(chunk) - sent) : 0;
        sent += w > 0 ? (size_t)w : 0;
        xg_conn_input(f.o->c, &len);
        xg_conn_consume(f.o->c, len);
        nt_run_for(&f.loop, 0.002);
    }
    xg_conn_input(f.o->c, &len);
    xg_conn_consume(f.o->c, len);
    CHECK_EQ_INT(sent, sizeof(chunk));
    CHECK_EQ_INT(f.o->bytes, sizeof(chunk));
out:
    teardown(&f);
    CHECK_EQ_INT(xg_bufpool_thread_stats().big_in_use, 0);
}

static int tcp_state(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_state : -1;
}

/* A flushing close of a peer that broke the protocol and never reads: once
 * close_timeout passes with bytes still unsent, the peer gets a reset, not a
 * FIN stuck behind them (its side would stay established). */
XG_TEST(overdue_close_or_reset_with_unsent_bytes_resets)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    int small = 4096;
    setsockopt(f.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    static char chunk[1 << 20];
    memset(chunk, 'q', sizeof(chunk));
    CHECK_EQ_INT(xg_conn_send(f.o->c, chunk, sizeof(chunk)), 0);
    CHECK_EQ_INT(xg_conn_flush(f.o->c), 0);
    xg_conn_set_close_timeout(f.o->c, 0.1);
    xg_conn_close(f.o->c, XG_CLOSE_FLUSH_OR_RESET);
    f.o->closed = true;
    nt_run_for(&f.loop, 0.4);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, 0);
    CHECK(tcp_state(f.peer) != TCP_ESTABLISHED);
    teardown(&f);
}

/* Reads everything the peer fd gets until EOF or a reset (within secs),
 * pausing pause seconds between reads; the bytes, *reset says which end. */
static size_t drain_peer(int fd, double secs, double pause, bool *reset)
{
    static char buf[4096];
    size_t got = 0;
    *reset = false;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (double waited = 0; waited < secs;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == ECONNRESET) {
                *reset = true;
                break;
            }
            waited += 0.2;
            continue;
        }
        got += (size_t)r;
        if (pause > 0) {
            usleep((useconds_t)(pause * 1e6));
            waited += pause;
        }
    }
    return got;
}

/* An ordinary flushing close whose peer stops reading with everything
 * already in the kernel: after close_timeout the socket is closed without a
 * reset, so a peer that reads later still gets every byte, then EOF. */
XG_TEST(overdue_close_with_bytes_in_the_kernel_is_no_reset)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    int small = 4096, big = 1 << 20;
    setsockopt(f.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    setsockopt(f.o->c->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    static char chunk[48 * 1024];
    memset(chunk, 'k', sizeof(chunk));
    CHECK_EQ_INT(xg_conn_send(f.o->c, chunk, sizeof(chunk)), 0);
    CHECK_EQ_INT(xg_conn_flush(f.o->c), 0);
    CHECK_EQ_INT(f.o->c->out_bytes, 0); /* all of it in the kernel */
    xg_conn_set_close_timeout(f.o->c, 0.1);
    xg_conn_close(f.o->c, XG_CLOSE_FLUSH);
    f.o->closed = true;
    nt_run_for(&f.loop, 0.4);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, 0);
    bool reset;
    CHECK_EQ_INT(drain_peer(f.peer, 5.0, 0, &reset), sizeof(chunk));
    CHECK(!reset);
    teardown(&f);
}

/* A slow reader that keeps taking bytes keeps its close going past
 * close_timeout (each period with progress restarts it) and gets the whole
 * queue, including what sat in our own queue when the timeout first passed. */
XG_TEST(overdue_close_waits_for_a_peer_making_progress)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    int small = 4096;
    setsockopt(f.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    setsockopt(f.o->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    static char chunk[96 * 1024];
    memset(chunk, 's', sizeof(chunk));
    CHECK_EQ_INT(xg_conn_send(f.o->c, chunk, sizeof(chunk)), 0);
    CHECK_EQ_INT(xg_conn_flush(f.o->c), 0);
    CHECK(f.o->c->out_bytes > 0);
    xg_conn_set_close_timeout(f.o->c, 0.3);
    xg_conn_close(f.o->c, XG_CLOSE_FLUSH);
    f.o->closed = true;
    size_t got = 0;
    bool reset = false, eof = false;
    /* 4 KiB at a time through a 4 KiB window: seconds, several close_timeouts */
    for (int i = 0; i < 2000 && !reset && !eof; i++) {
        nt_run_for(&f.loop, 0.01);
        char buf[4096];
        ssize_t r = recv(f.peer, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno == ECONNRESET)
            reset = true;
        else if (r == 0)
            eof = true;
    }
    CHECK(!reset && eof);
    CHECK_EQ_INT(got, sizeof(chunk));
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, 0);
    teardown(&f);
}

/* The same close with everything delivered ends with a FIN: the peer reads
 * all of it, then EOF. */
XG_TEST(overdue_close_with_all_sent_is_a_fin)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    CHECK_EQ_INT(xg_conn_send(f.o->c, "last", 4), 0);
    xg_conn_set_close_timeout(f.o->c, 0.05);
    xg_conn_close(f.o->c, XG_CLOSE_FLUSH); /* lingers: the peer sends no FIN */
    f.o->closed = true;
    nt_run_for(&f.loop, 0.2);
    char buf[8];
    bool eof = false;
    CHECK_EQ_INT(nt_read_some(f.peer, buf, sizeof(buf), 1, &eof), 4);
    CHECK(memcmp(buf, "last", 4) == 0);
    CHECK(eof);
    teardown(&f);
}

XG_TEST(owner_pause_read)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    xg_conn_pause_read(f.o->c, true);
    CHECK(write(f.peer, "abc", 3) == 3);
    nt_run_for(&f.loop, 0.05);
    CHECK_EQ_INT(f.o->reads, 0);
    xg_conn_pause_read(f.o->c, false);
    nt_run_for(&f.loop, 0.05);
    CHECK_EQ_INT(f.o->len, 3);
    teardown(&f);
}

XG_TEST(half_close_both_ways)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    CHECK(write(f.peer, "req", 3) == 3);
    shutdown(f.peer, SHUT_WR);
    CHECK(nt_run_until(&f.loop, &f.o->eof, 2));
    CHECK_EQ_INT(f.o->len, 3);
    /* The peer finished; we may still answer, then end our side. */
    CHECK_EQ_INT(xg_conn_send(f.o->c, "resp", 4), 0);
    CHECK_EQ_INT(xg_conn_flush(f.o->c), 0);
    xg_conn_shutdown_write(f.o->c);
    nt_run_for(&f.loop, 0.02);
    char buf[8];
    bool eof = false;
    CHECK_EQ_INT(nt_read_some(f.peer, buf, sizeof(buf), 1, &eof), 4);
    CHECK(eof);
    CHECK(!f.o->closed);
    teardown(&f);
}

XG_TEST(close_in_callback_flushes_and_defers_free)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    f.o->close_in_read = true;
    CHECK(write(f.peer, "x", 1) == 1);
    CHECK(nt_run_until(&f.loop, &f.o->closed, 2));
    shutdown(f.peer, SHUT_WR); /* lets the lingering close finish early */
    nt_run_for(&f.loop, 0.05);
    char buf[8];
    bool eof = false;
    CHECK_EQ_INT(nt_read_some(f.peer, buf, sizeof(buf), 1, &eof), 3);
    CHECK(memcmp(buf, "bye", 3) == 0);
    CHECK(eof);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, 0);
    close(f.peer);
    xg_loop_dispose(&f.loop);
    free(f.o);
}

XG_TEST(peer_reset_reports_on_close)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    struct linger lg = {1, 0};
    setsockopt(f.peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(f.peer);
    f.peer = -1;
    CHECK(nt_run_until(&f.loop, &f.o->closed, 2));
    CHECK_EQ_INT(f.o->why, XG_CONN_RESET);
    CHECK_STR(xg_conn_reason_name(f.o->why), "reset");
    xg_loop_dispose(&f.loop);
    free(f.o);
}

XG_TEST(idle_timeout_and_activity)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    /* Wide margins: a loaded machine (CI runs the suite beside the ASan
     * build) can stall the process for a good part of a tenth of a second.
     * Without the write the conn dies at 0.8 s; with it at 1.2 s; the check
     * is at 1.0 s, 0.2 s from either. */
    xg_conn_set_idle_timeout(f.o->c, 0.8);
    nt_run_for(&f.loop, 0.4);
    CHECK(write(f.peer, "a", 1) == 1); /* activity pushes the deadline */
    nt_run_for(&f.loop, 0.6);
    CHECK(!f.o->closed);
    CHECK(nt_run_until(&f.loop, &f.o->closed, 3));
    CHECK_EQ_INT(f.o->why, XG_CONN_IDLE_TIMEOUT);
    close(f.peer);
    xg_loop_dispose(&f.loop);
    free(f.o);
}

/* A new owner is told about the input the old one left unconsumed, even
 * when it pauses and resumes reading before that announcement runs: the
 * socket will not signal those bytes again. */
XG_TEST(new_owner_hears_of_unconsumed_input_across_a_pause)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    f.o->consume = false;
    CHECK(write(f.peer, "hello", 5) == 5);
    CHECK(nt_run_until(&f.loop, &f.o->got, 2));
    owner *o2 = calloc(1, sizeof(*o2));
    o2->consume = true;
    o2->c = f.o->c;
    xg_conn_set_owner(f.o->c, &cbs, o2);
    xg_conn_pause_read(f.o->c, true);
    xg_conn_pause_read(f.o->c, false);
    nt_run_for(&f.loop, 0.1);
    CHECK_EQ_INT(o2->len, 5);
    CHECK(memcmp(o2->data, "hello", 5) == 0);
    xg_conn_set_owner(f.o->c, &cbs, f.o);
    free(o2);
    teardown(&f);
}

/* The watcher re-armed for both directions (a write that blocked) keeps a
 * read announcement that was fed and had not run yet. */
XG_TEST(rearm_for_writing_keeps_a_fed_read)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    int small = 4096;
    setsockopt(f.o->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(f.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    f.o->consume = false;
    CHECK(write(f.peer, "hello", 5) == 5);
    CHECK(nt_run_until(&f.loop, &f.o->got, 2));
    owner *o2 = calloc(1, sizeof(*o2));
    o2->consume = true;
    xg_conn_set_owner(f.o->c, &cbs, o2); /* feeds the announcement */
    static char big[4 << 20];
    memset(big, 'x', sizeof(big));
    struct iovec iov = {big, sizeof(big)};
    size_t taken = 0;
    CHECK_EQ_INT(xg_conn_writev(f.o->c, &iov, 1, &taken), 0);
    CHECK(taken < sizeof(big)); /* blocked: now armed for writing too */
    nt_run_for(&f.loop, 0.1);
    CHECK_EQ_INT(o2->len, 5);
    xg_conn_set_owner(f.o->c, &cbs, f.o);
    free(o2);
    teardown(&f);
}

static void close_on_deadline(xg_conn *c, void *arg)
{
    owner *o = arg;
    o->deadlines++;
    xg_conn_send(c, "bye", 3);
    xg_conn_close(c, XG_CLOSE_FLUSH);
    o->closed = true;
    xg_conn_set_deadline(c, 0.01); /* closed: ignored, the close keeps its own deadline */
}

static const xg_conn_cbs cbs_close_on_deadline = {
    .on_read = on_read, .on_writable = on_writable, .on_close = on_close, .on_deadline = close_on_deadline};

/* The owner's deadline and the closing state share storage: closing inside
 * on_deadline flushes, shuts down and lingers as any other close. */
XG_TEST(close_inside_on_deadline)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    xg_conn_set_owner(f.o->c, &cbs_close_on_deadline, f.o);
    xg_conn_set_close_timeout(f.o->c, 2);
    xg_conn_set_deadline(f.o->c, 0.05);
    nt_run_for(&f.loop, 0.2);
    CHECK_EQ_INT(f.o->deadlines, 1);
    char buf[8];
    bool eof = false;
    CHECK_EQ_INT(nt_read_some(f.peer, buf, sizeof(buf), 1, &eof), 3);
    CHECK(memcmp(buf, "bye", 3) == 0);
    CHECK(eof);
    /* Still lingering (the close deadline is 2 s away): bytes the peer sends
     * now are read and dropped, not answered with a reset. */
    CHECK(write(f.peer, "more", 4) == 4);
    nt_run_for(&f.loop, 0.1);
    CHECK(shutdown(f.peer, SHUT_WR) == 0);
    nt_run_for(&f.loop, 0.1);
    CHECK_EQ_INT(f.o->deadlines, 1);
    close(f.peer);
    xg_loop_dispose(&f.loop);
    free(f.o);
}

/* A transport over the plain one whose next read waits for writability, as
 * a TLS read that must send first; counts flushes and disposal. */
static const xg_transport_vt *raw_vt;
static int reads_wanting_write;
static size_t flushes, disposed;

static ssize_t ww_read(xg_conn *c, char *p, size_t n)
{
    if (reads_wanting_write > 0) {
        reads_wanting_write--;
        c->tp_want_write = true;
        return XG_EAGAIN;
    }
    return raw_vt->read(c, p, n);
}

static int ww_flush(xg_conn *c)
{
    flushes++;
    return raw_vt->flush(c);
}

static void ww_dispose(xg_conn *c)
{
    disposed++;
    raw_vt->dispose(c);
}

/* Closed while a read waits for writability: the close flushes, lingers
 * and sees the peer's FIN, without spinning on the writable socket until
 * the close deadline. */
XG_TEST(close_while_a_read_waits_for_writability)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    raw_vt = f.o->c->tp;
    static xg_transport_vt vt;
    vt = *raw_vt;
    vt.read = ww_read;
    vt.flush = ww_flush;
    vt.dispose = ww_dispose;
    f.o->c->tp = &vt;
    reads_wanting_write = 1;
    flushes = disposed = 0;
    CHECK(write(f.peer, "x", 1) == 1);
    usleep(20000);
    ev_run(f.loop.ev, EVRUN_NOWAIT); /* the read, which now waits for writability */
    CHECK(f.o->c->rd_want_write);
    CHECK(!f.o->got);
    xg_conn_close(f.o->c, XG_CLOSE_FLUSH);
    f.o->closed = true;
    CHECK(shutdown(f.peer, SHUT_WR) == 0);
    nt_run_for(&f.loop, 0.3);
    CHECK_EQ_INT(disposed, 1); /* the peer's FIN ended the linger */
    CHECK(flushes < 20);
    close(f.peer);
    xg_loop_dispose(&f.loop);
    free(f.o);
}

XG_TEST(owner_deadline)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    xg_conn_set_deadline(f.o->c, 0.05);
    nt_run_for(&f.loop, 0.15);
    CHECK_EQ_INT(f.o->deadlines, 1);
    CHECK(!f.o->closed);
    teardown(&f);
}

XG_TEST(abort_discards_output)
{
    fixture f;
    if (!CHECK(setup(&f)))
        return;
    xg_conn_send(f.o->c, "never", 5);
    xg_conn_close(f.o->c, XG_CLOSE_ABORT);
    f.o->closed = true;
    nt_run_for(&f.loop, 0.02);
    char buf[8];
    bool eof = false;
    CHECK_EQ_INT(nt_read_some(f.peer, buf, sizeof(buf), 1, &eof), 0);
    CHECK(eof);
    CHECK_EQ_INT(xg_bufpool_thread_stats().in_use, 0);
    teardown(&f);
}

XG_TEST(prefill_is_announced)
{
    xg_loop loop;
    int a, b;
    if (!CHECK(xg_loop_init(&loop, 0) == 0 && nt_tcp_pair(&a, &b)))
        return;
    owner *o = calloc(1, sizeof(*o));
    o->consume = true;
    CHECK_EQ_INT(xg_conn_new(&loop, a, &o->c), 0);
    char *blk = xg_bufpool_get();
    memcpy(blk, "GET /", 5);
    xg_conn_prefill(o->c, blk, 5);
    xg_conn_set_owner(o->c, &cbs, o);
    xg_conn_start(o->c, 0);
    CHECK_EQ_INT(o->reads, 0); /* never from inside start */
    nt_run_for(&loop, 0.02);
    CHECK_EQ_INT(o->len, 5);
    CHECK(memcmp(o->data, "GET /", 5) == 0);
    xg_conn_close(o->c, XG_CLOSE_ABORT);
    close(b);
    xg_loop_dispose(&loop);
    free(o);
}
