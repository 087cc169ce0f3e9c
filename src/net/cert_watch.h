/* Watching the certificate files of listener TLS contexts, so that a file
 * rotated on disk (a Kubernetes secret mounted as a volume, a cert-manager
 * renewal, a `mv` over the old file) reaches new handshakes without any xDS
 * update.
 *
 * The watch checks what each file is, followed through symlinks (device,
 * inode, size, modification and change times, as one digest), once a second
 * on one loop (the main thread's). Following symlinks is what catches
 * Kubernetes' update, which swaps a "..data" link in the directory while
 * "tls.crt -> ..data/tls.crt" itself never changes; checking the files
 * themselves means other files coming and going cause nothing. (libev's
 * ev_stat compares lstat results with one-second resolution, which misses
 * a link swapped within the second of the previous change; a stat of a few
 * files a second costs nothing.)
 *
 * A change runs the callback once the files have been quiet for the settle
 * time. The reference digest is taken by the caller before it reads the
 * files (xg_cert_watch_digest, then build, then xg_cert_watch_set), and by
 * the watch before it runs the callback, so a change racing with a rebuild
 * is seen by the next check, never absorbed. */
#ifndef XG_NET_CERT_WATCH_H
#define XG_NET_CERT_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/loop.h"

typedef struct xg_cert_watch xg_cert_watch;

/* Loop thread: the files changed; the callback reads them again. */
typedef void (*xg_cert_watch_cb)(void *arg);

/* A watch on loop checking every interval seconds; cb(arg) runs on the
 * loop's thread once the files have not changed for settle seconds. 0 or
 * XG_ENOMEM. */
int xg_cert_watch_new(xg_loop *loop, double interval, double settle, xg_cert_watch_cb cb, void *arg,
                      xg_cert_watch **out);
/* Any thread: the digest of what files[0..n) are now (duplicates and
 * missing files are fine). */
uint64_t xg_cert_watch_digest(const char *const *files, size_t n);
/* Any thread: from now on check files[0..n) (copied) against digest, which
 * the caller took of the same list with xg_cert_watch_digest before it read
 * the files. The loop takes the list at its next
 * iteration. 0 or XG_ENOMEM. */
int xg_cert_watch_set(xg_cert_watch *w, const char *const *files, size_t n, uint64_t digest);
/* The loop's thread (running or not), once nothing calls xg_cert_watch_set
 * any more: stops and frees. A list still queued for the loop keeps the
 * watch until the loop runs it (xg_loop_run and xg_loop_dispose run every
 * accepted closure). */
void xg_cert_watch_free(xg_cert_watch *w);

/* Files checked now (loop thread; tests). */
size_t xg_cert_watch_count(const xg_cert_watch *w);

#endif
