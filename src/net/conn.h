/* A connection: one non-blocking socket owned by one worker, with its libev
 * watchers, a transport (plain or TLS) behind a small vtable, an input buffer
 * (one pool block, held only while it has bytes), an output queue written
 * with writev, read back-pressure, half-close, close with flush and linger,
 * and one timer (handshake deadline, idle timeout, close deadline).
 *
 * Owner contract (the listener during the TLS handshake, then the HTTP
 * connection manager; connect.c, then an upstream pool):
 *  - Callbacks run only from the loop (io and timer events, end of pass),
 *    never inside an xg_conn_* call the owner made.
 *  - Exactly one of two things ends the relationship: the owner calls
 *    xg_conn_close (after which no callback runs; the conn flushes, lingers
 *    and frees itself), or the conn dies (reset, I/O or TLS error, timeout,
 *    drain deadline) and calls on_close once, from the end of the loop pass;
 *    the owner must not use the conn after on_close returns. A dead conn
 *    accepts every call as a harmless no-op until then.
 *  - The conn is freed only at the end of a loop pass (xg_loop_defer), so a
 *    callback may close it and keep using the pointer until it returns.
 * Thread: everything here is for the owning worker only. */
#ifndef XG_NET_CONN_H
#define XG_NET_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "event/loop.h"
#include "net/addr.h"

typedef struct xg_conn xg_conn;
struct ssl_st;          /* SSL, in both TLS libraries */
struct xg_tls_server;   /* net/tls_ctx.h */
struct xg_tls_client;   /* net/tls_ctx.h */
struct xg_tls_peer;     /* net/tls_ctx.h */
struct xg_filter_chain; /* config/listener.h */
struct xg_conn_limit;   /* net/conn_limit.h */

/* Why a connection ended (on_close, logs, stats). */
typedef enum xg_conn_reason {
    XG_CONN_LOCAL,             /* the owner closed it (never passed to on_close) */
    XG_CONN_RESET,             /* the peer reset it (ECONNRESET, EPIPE) */
    XG_CONN_IO_ERROR,          /* any other socket error */
    XG_CONN_TLS_ERROR,         /* handshake failure (incl. certificate verification) or a bad record */
    XG_CONN_IDLE_TIMEOUT,      /* no bytes either way for idle_timeout */
    XG_CONN_HANDSHAKE_TIMEOUT, /* TLS handshake not done within its deadline */
    XG_CONN_DRAINED,           /* the listener's drain time ran out */
    XG_CONN_NOMEM,             /* a buffer could not be allocated */
    XG_CONN_TIMEOUT,           /* the owner's deadline (xg_conn_set_deadline) passed without on_deadline */
} xg_conn_reason;

/* "local", "reset", "io_error", "tls_error", "idle_timeout", ... never NULL. */
const char *xg_conn_reason_name(xg_conn_reason r);

/* Callbacks to the owner; owner is the pointer given with them. Any may be
 * NULL. */
typedef struct xg_conn_cbs {
    /* n new bytes are at the end of xg_conn_input(). n == 0 with
     * xg_conn_eof(c): the peer finished sending (FIN or TLS close_notify);
     * no more on_read follows, and writing is still allowed (half-close). */
    void (*on_read)(xg_conn *c, void *owner, size_t n);
    /* After an xg_conn_writev that took less than offered: room again. After
     * the output queue passed the high watermark: it fell to the low one. */
    void (*on_writable)(xg_conn *c, void *owner);
    /* The conn died (see the contract above); r is never XG_CONN_LOCAL. */
    void (*on_close)(xg_conn *c, void *owner, xg_conn_reason r);
    /* TLS: the handshake completed (ALPN, SNI and the peer certificate are
     * now known). A failed handshake is on_close(XG_CONN_TLS_ERROR). */
    void (*on_handshake)(xg_conn *c, void *owner);
    /* The listener began draining: finish in-flight work and close (HTTP/2
     * GOAWAY, HTTP/1 "connection: close"). NULL: closed when it is idle. */
    void (*on_drain)(xg_conn *c, void *owner);
    /* The deadline from xg_conn_set_deadline passed (it is cleared). NULL:
     * the conn dies with XG_CONN_TIMEOUT. */
    void (*on_deadline)(xg_conn *c, void *owner);
} xg_conn_cbs;

/* The transport: plain sockets or TLS. Return values: a byte count (read:
 * 0 = EOF), or XG_EAGAIN (would block; c->tp_want_write says the transport
 * needs the socket writable, else readable), or another negative XG_E*. */
typedef struct xg_transport_vt {
    const char *name; /* "raw_buffer", "tls" */
    ssize_t (*read)(xg_conn *c, char *p, size_t n);
    /* Takes bytes from iov in order; a partial count is normal. */
    ssize_t (*writev)(xg_conn *c, const struct iovec *iov, int iovcnt);
    /* Bytes the transport took but still holds (TLS record being retried):
     * 0 when nothing is held, else XG_EAGAIN or an error after trying. */
    int (*flush)(xg_conn *c);
    size_t (*held)(const xg_conn *c);
    /* 0 when established, XG_EAGAIN while in progress, or an error. */
    int (*handshake)(xg_conn *c);
    /* Ends our sending side (TLS close_notify, then SHUT_WR). 0 or XG_EAGAIN. */
    int (*shutdown)(xg_conn *c);
    /* True when the transport holds decrypted or read-ahead input the socket
     * will not signal again (TLS). */
    bool (*has_buffered)(const xg_conn *c);
    void (*dispose)(xg_conn *c);
} xg_transport_vt;

/* The idle clock, and a count the write batching's tests watch. Times are
 * ev_now() of the owning loop. Byte counts are the owner's to keep (streams
 * count theirs): nothing per connection reads them. */
typedef struct xg_conn_stats {
    uint32_t writes;  /* write calls that moved data */
    ev_tstamp t_last;   /* last byte in or out (accepted or connected, before any) */
} xg_conn_stats;

/* A list of connections (a listener's, per worker): the conn unlinks itself
 * when it is freed, then calls on_remove (may be NULL; it may free the list's
 * owner). n is the count (connection limits). */
typedef struct xg_conn_list {
    xg_conn *head;
    size_t n;
    void (*on_remove)(struct xg_conn_list *l, xg_conn *c);
} xg_conn_list;

typedef struct xg__oblk xg__oblk; /* an output queue block (conn.c) */

struct xg__conn_tls; /* the TLS transport's state (conn_tls.c) */

/* The connection. Fields are read-only for the owner unless noted; use the
 * functions below. Every idle keep-alive connection keeps one, so its size
 * is a figure of issue 7 (docs/benchmarks.md): what only TLS needs sits
 * behind tls, what only one phase needs shares storage with another's, the
 * flags are bits. */
struct xg_conn {
    const xg_transport_vt *tp; /* first member: the transport vtable */
    xg_loop *loop;
    const xg_conn_cbs *cb; /* borrowed from the owner */
    void *owner;
    int fd; /* -1 once closed */

    /* flags */
    bool tp_want_write : 1;   /* the last XG_EAGAIN needs writability */
    bool rd_want_write : 1;   /* a read is waiting for writability (TLS) */
    bool wr_blocked : 1;      /* the last write hit a full socket: wait for writability */
    bool in_big : 1;          /* in is a big pool block (XG_BUFPOOL_BIG), not a small one */
    bool rd_bulk : 1;         /* plain: the last read was a bulk one (conn.c), so the next takes a big block */
    bool handshaking : 1;     /* transport not yet established */
    bool started : 1;
    bool prefill_pending : 1; /* plain: prefilled bytes not yet announced by on_read */
    bool lingering : 1;       /* closing: reading and discarding until the peer's FIN */
    bool eof : 1;             /* the peer finished sending */
    bool want_writable : 1;   /* an xg_conn_writev was short: on_writable owed */
    bool shut_wr_pending : 1; /* xg_conn_shutdown_write: after the queue drains */
    bool shut_wr_done : 1;
    bool owner_closed : 1; /* xg_conn_close was called: no more callbacks */
    bool dead : 1;         /* fd closed or to be closed; free is scheduled */
    bool free_scheduled : 1;
    bool draining : 1;
    bool reset_overdue : 1; /* closing with XG_CLOSE_FLUSH_OR_RESET */
    bool in_closing : 1;    /* on the thread's closing list (closing.prev/next) */
    unsigned rd_pause : 3;  /* reasons reading is off (conn_int.h) */
    unsigned reason : 4;    /* xg_conn_reason */

    /* timeouts in seconds (float: durations, not instants) */
    float hs_timeout;   /* for a TLS handshake, 0: none (xg_conn_start) */
    float idle_timeout; /* 0: none */

    ev_io io; /* EV_READ and EV_WRITE as the state wants (conn.c update_watchers) */
    ev_timer timer;

    /* input: one pool block (big while a bulk body streams in), bytes
     * [in_off, in_off + in_len) */
    char *in;
    uint32_t in_off, in_len;
    /* output queue (copies) and back-pressure */
    xg__oblk *out_head, *out_tail;
    size_t out_bytes;
    uint32_t wm_low, wm_high;

    struct xg__conn_tls *tls; /* NULL on a plain conn */
    /* raw bytes read ahead (or replayed from the TLS inspector), [pre_off,
     * pre_off + pre_len): a small pool block, so 16 bits each */
    char *pre;
    uint16_t pre_off, pre_len;
    float close_timeout; /* seconds a flushing close may take (default 5) */

    /* The owner's deadline lives until the owner closes the conn; the close
     * deadline and the closing list only after that; the end-of-pass free
     * only once the conn is dead (off the closing list, its timer stopped,
     * every deadline call a no-op). */
    union {
        double deadline; /* ev_now of the owner's deadline, 0: none */
        struct {
            double deadline;
            uint64_t acked; /* bytes the peer had acknowledged when the deadline was set */
            xg_conn *prev, *next; /* the thread's closing list (xg_conn_abort_closing) */
        } closing;
        xg_deferred deferred; /* the end-of-pass free (and on_close) */
    };

    /* where it came from (filled by the listener or connect.c) */
    xg_sockaddr peer, local; /* compact (net/addr.h): TCP only; family 0 when unknown */
    const struct xg_filter_chain *chain; /* downstream: the chosen filter chain (borrowed from the snapshot) */
    void *listener;                      /* downstream: the per-worker listener that accepted it */
    struct xg_conn_limit *glimit;        /* downstream: its slot in the global connection limit, or NULL */
    struct xg_conn_limit *climit;        /* downstream: its slot in the chain's connection_limit, or NULL */

    xg_conn_list *list;
    xg_conn *lprev, *lnext;
    xg_conn_stats stats;
};

/* A plain connection over fd (non-blocking, connected), not started. On
 * success the conn owns fd; on failure the caller still does. 0 or XG_ENOMEM. */
int xg_conn_new(xg_loop *loop, int fd, xg_conn **out);
/* Before xg_conn_start: bytes already read from fd (the TLS inspector's
 * ClientHello, or an h2c preface check), given as a pool block that the conn
 * now owns, holding len bytes. A TLS conn replays them into the handshake; a
 * plain one delivers them with the first on_read. */
void xg_conn_prefill(xg_conn *c, char *block, size_t len);
/* TLS server / client transport. The conn takes a reference on the context
 * for as long as its SSL lives. sni (client, may be NULL) is sent as
 * server_name; alpn (client, may be NULL: the context's list) is a
 * wire-format ALPN list. 0 or XG_ENOMEM. Normally before xg_conn_start; the
 * server side may also switch a started plain conn that has written nothing
 * (the TLS inspector's case): its unconsumed input becomes the start of the
 * handshake, which begins at once with the handshake_timeout given to
 * xg_conn_start. */
int xg_conn_use_tls_server(xg_conn *c, struct xg_tls_server *srv);
int xg_conn_use_tls_client(xg_conn *c, struct xg_tls_client *cli, const char *sni, const uint8_t *alpn,
                           size_t alpn_len);
/* Sets (or replaces) the owner. cb is borrowed and must outlive the conn.
 * Unconsumed input is announced to the new owner by an on_read from the
 * loop. */
void xg_conn_set_owner(xg_conn *c, const xg_conn_cbs *cb, void *owner);
/* Starts I/O: a plain conn is ready at once (xg_conn_ready); a TLS one runs
 * its handshake, with a deadline of handshake_timeout seconds (0: none), and
 * calls on_handshake when done. Prefilled plain bytes arrive with an on_read
 * from the loop. */
void xg_conn_start(xg_conn *c, double handshake_timeout);
bool xg_conn_ready(const xg_conn *c);

/* Input: the unconsumed bytes (borrowed until the next xg_conn_* call or the
 * callback's return) and marking n of them consumed. A full buffer nobody
 * consumes stops reading until something is consumed. */
static inline const char *xg_conn_input(const xg_conn *c, size_t *len)
{
    *len = c->in_len;
    return c->in != NULL ? c->in + c->in_off : NULL;
}
void xg_conn_consume(xg_conn *c, size_t n);
static inline bool xg_conn_eof(const xg_conn *c)
{
    return c->eof;
}
/* Input lending (core/bufpool.h): while on_read runs, and between begin
 * and end, bytes of the input block may be queued for writing by reference
 * (xg_bufpool_try_lend); end moves the conn to a fresh block when they
 * were, so borrowed input pointers must be taken again after it. For an
 * owner that feeds unconsumed input outside on_read. */
void xg_conn_lend_begin(xg_conn *c);
void xg_conn_lend_end(xg_conn *c);
/* Owner back-pressure: stop (true) or restart (false) reading, e.g. while
 * the other side of a proxied stream is slow. */
void xg_conn_pause_read(xg_conn *c, bool paused);

/* Output, zero-copy: writes iov now, as far as the socket takes it; *taken
 * is how many bytes were taken (the caller keeps the rest). When *taken is
 * short of the total, on_writable follows once there is room. Bytes queued
 * by xg_conn_send go first (nothing is taken while they wait). 0, or a
 * negative XG_E* when the conn is dead. */
int xg_conn_writev(xg_conn *c, const struct iovec *iov, int iovcnt, size_t *taken);
/* Output, copying: queues n bytes (never refused for room: watch the
 * watermarks) without a syscall; xg_conn_flush writes the queue. 0, XG_ENOMEM
 * or a negative code when dead. */
int xg_conn_send(xg_conn *c, const void *p, size_t n);
int xg_conn_flush(xg_conn *c);
/* Bytes taken and not yet on the wire (queue plus the TLS record held). */
size_t xg_conn_out_pending(const xg_conn *c);
/* Reading stops while out_pending > high and resumes (with on_writable) at
 * <= low. Defaults: 32 KiB / 16 KiB. high 0 disables. */
void xg_conn_set_watermarks(xg_conn *c, size_t low, size_t high);

/* Ends our sending side once the queue is written (FIN, after close_notify
 * on TLS). Reading goes on. */
void xg_conn_shutdown_write(xg_conn *c);

typedef enum xg_close_mode {
    XG_CLOSE_FLUSH,          /* write what is queued (bounded by close_timeout), shut down our side, read and discard
                                until the peer's FIN or the deadline (so a final response is not lost to an RST) */
    XG_CLOSE_ABORT,          /* now, discarding queued output; an RST when the peer still sends */
    XG_CLOSE_RESET,          /* ABORT, and the kernel's unsent bytes too: an RST at once (a peer that never reads) */
    XG_CLOSE_FLUSH_OR_RESET, /* FLUSH, but a peer that has not taken every byte by the deadline is reset (a peer
                                that broke the protocol: its FIN must not wait behind bytes it never reads) */
} xg_close_mode;

/* The owner gives the conn up: no callback runs afterwards, and the conn
 * frees itself when done. Safe inside any callback, and on a dead conn. */
void xg_conn_close(xg_conn *c, xg_close_mode mode);
/* Seconds of no traffic either way before the conn dies with
 * XG_CONN_IDLE_TIMEOUT; 0 (the default) disables. Checked lazily: activity
 * costs no timer update. */
void xg_conn_set_idle_timeout(xg_conn *c, double seconds);
void xg_conn_set_close_timeout(xg_conn *c, double seconds);
/* An owner deadline seconds from now (0 clears it): on_deadline then. */
void xg_conn_set_deadline(xg_conn *c, double seconds);

/* Listener drain: on_drain once (or an idle close when the owner has none). */
void xg_conn_drain(xg_conn *c);
/* Kills the conn with reason r (on_close follows at the end of the pass);
 * for drain deadlines and shutdown. */
void xg_conn_kill(xg_conn *c, xg_conn_reason r);

/* TLS details; NULL / false on a plain conn. The ALPN protocol chosen
 * (not NUL-terminated, *len bytes) and the SNI the client sent, borrowed for
 * the conn's life. */
bool xg_conn_is_tls(const xg_conn *c);
const char *xg_conn_alpn(const xg_conn *c, size_t *len);
const char *xg_conn_sni(const xg_conn *c);
/* True when a peer certificate was presented; fills out (tls_ctx.h). */
bool xg_conn_peer_cert(const xg_conn *c, struct xg_tls_peer *out);
/* "TLSv1.3", "TLSv1.2"; NULL on a plain conn. */
const char *xg_conn_tls_version(const xg_conn *c);
/* True when the TLS session was resumed. */
bool xg_conn_tls_resumed(const xg_conn *c);
/* The SSL of a TLS conn (NULL on a plain one), borrowed for the conn's life
 * (still there in on_close): for failure details. */
struct ssl_st *xg_conn_ssl(const xg_conn *c);

/* Worker teardown: aborts every connection of the calling thread that its
 * owner closed and that is still flushing or lingering (an upstream
 * connection given up at shutdown); they are freed with the loop's
 * deferred frees. */
void xg_conn_abort_closing(void);

void xg_conn_list_add(xg_conn_list *l, xg_conn *c);
/* Takes c off its list without the on_remove call (the list's owner is going away). */
void xg_conn_list_remove(xg_conn *c);

#endif
