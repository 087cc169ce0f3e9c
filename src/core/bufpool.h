/* Fixed-size I/O blocks from a per-thread free list: connection read buffers,
 * write queues and TLS staging. No locks: each thread keeps its own list of
 * spare blocks (bounded; the surplus goes back to malloc). A block may be put
 * back on any thread (it joins that thread's list), but the data path gets
 * and puts on the worker that owns the connection.
 *
 * A block can have several holders (a plain, non-atomic count: one thread
 * only): a connection's read block whose body bytes an HTTP/1 codec queued
 * for writing by reference instead of copying them. Each holder puts it
 * once; the last put returns it to the free list. */
#ifndef XG_CORE_BUFPOOL_H
#define XG_CORE_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>

/* Every block is this many bytes: one TLS record of plaintext, and a read
 * size that keeps syscalls few without holding much memory per connection. */
#define XG_BUFPOOL_BLOCK 16384
/* Spare blocks a thread keeps (4 MiB); more are freed. */
#define XG_BUFPOOL_MAX_SPARE 256
/* Big blocks: a connection's input while a bulk body streams in (a read that
 * filled a small block asks for one), so 1 MiB takes 16 reads, not 64. Held
 * only while bytes flow; few spares, as few connections stream at once.
 * 64 KiB and room for a response head: a 64 KiB body with its head is one
 * read. */
#define XG_BUFPOOL_BIG (65536 + 4096)
#define XG_BUFPOOL_MAX_SPARE_BIG 16

typedef struct xg_bufpool_stats {
    size_t in_use; /* blocks this thread handed out and not yet got back */
    size_t spare;  /* blocks on this thread's free list */
    size_t allocs; /* blocks this thread had to malloc */
    size_t big_in_use, big_spare, big_allocs; /* the same for big blocks */
} xg_bufpool_stats;

/* An XG_BUFPOOL_BLOCK-byte block (not zeroed), 16-byte aligned; NULL on
 * allocation failure. Owned by the caller until xg_bufpool_put. */
void *xg_bufpool_get(void);
/* Gives up a block from xg_bufpool_get (one holder's share of it); NULL is a
 * no-op. */
void xg_bufpool_put(void *block);
/* The same for XG_BUFPOOL_BIG-byte blocks; a block goes back to the call of
 * its own size. */
void *xg_bufpool_get_big(void);
void xg_bufpool_put_big(void *block);
/* One more holder of block (from either get); it goes back to the pool at
 * its holders' last put. */
void xg_bufpool_ref(void *block);
/* xg_bufpool_put or xg_bufpool_put_big, whichever fits block; NULL is a
 * no-op. */
void xg_bufpool_unref(void *block);
/* True when block has more than one holder: its owner must not write into
 * it again (the other holder reads bytes of it). */
bool xg_bufpool_shared(const void *block);

/* Lending, so that body bytes are queued by reference rather than copied
 * without every layer between a read and a write passing block pointers:
 * while a connection announces new input (its on_read), the block holding
 * it is the calling thread's lendable block. try_lend(p, n) takes a
 * reference on it when p[0..n) lies inside it and fills at least half of it
 * (a holder never pins much more than it uses), and returns the block to
 * put once those bytes are written; NULL otherwise (copy them). The bytes
 * stay valid and unchanged while the reference is held: the connection
 * takes a fresh block for its next read when its block is shared. Opening
 * replaces any open block; close ends lending. Worker thread only. */
void xg_bufpool_lend_open(void *block);
void xg_bufpool_lend_close(void);
void *xg_bufpool_try_lend(const void *p, size_t n);
/* True when p points into the open lendable block. */
bool xg_bufpool_in_lendable(const void *p);

/* The calling thread's counters. */
xg_bufpool_stats xg_bufpool_thread_stats(void);
/* Frees the calling thread's spare blocks (also done at thread exit). */
void xg_bufpool_trim(void);

#endif
