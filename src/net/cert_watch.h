/* Watching the certificate files of listener TLS contexts, so that a file
 * rotated on disk (a Kubernetes secret mounted as a volume, a cert-manager
 * renewal, a `mv` over the old file) reaches new handshakes without any xDS
 * update.
 *
 * Watches run on one loop (the main thread's) with libev's ev_stat, which
 * uses inotify where it can and polls otherwise. A file is watched together
 * with its directory: libev looks at a path with lstat, so a file that is a
 * symlink (Kubernetes' "tls.crt -> ..data/tls.crt") only changes when the
 * "..data" link in the directory is swapped. A watched_directory is watched
 * by itself, as in Envoy.
 *
 * Changes are batched: the callback runs once the paths have been quiet for
 * the settle time, and only when what the paths point at (followed through
 * symlinks: device, inode, size, modification and change times) differs
 * from what it was when the callback last ran, so a busy directory does not
 * cause rebuilds. The state is taken before the callback runs, so a change
 * racing with the rebuild is seen by the next event, never absorbed. */
#ifndef XG_NET_CERT_WATCH_H
#define XG_NET_CERT_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/loop.h"

typedef struct xg_cert_watch xg_cert_watch;

/* Loop thread: the watched files changed. */
typedef void (*xg_cert_watch_cb)(void *arg);

/* A watcher on loop; cb(arg) runs on the loop's thread settle seconds after
 * the last change. 0 or XG_ENOMEM. */
int xg_cert_watch_new(xg_loop *loop, double settle, xg_cert_watch_cb cb, void *arg, xg_cert_watch **out);
/* Any thread: from now on watch these paths (copied; duplicates are fine).
 * is_dir[i] marks a directory that stands for its files; a file is also
 * watched through its directory. The loop applies the list at its next
 * iteration; the next event after that runs the callback whatever the
 * files look like. 0 or XG_ENOMEM. */
int xg_cert_watch_set(xg_cert_watch *w, const char *const *paths, const bool *is_dir, size_t n);
/* Loop thread, with the loop not running (or from its own thread): stops
 * every watch and frees. */
void xg_cert_watch_free(xg_cert_watch *w);

/* Paths watched now (loop thread; tests). */
size_t xg_cert_watch_count(const xg_cert_watch *w);

#endif
