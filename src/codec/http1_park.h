/* HTTP/1 server codecs between requests: an idle keep-alive connection need
 * not hold one. Worker thread only. */
#ifndef XG_CODEC_HTTP1_PARK_H
#define XG_CODEC_HTTP1_PARK_H

#include <stdbool.h>
#include <stddef.h>

#include "codec/codec.h"

/* True when c (an HTTP/1 server codec; false for any other) holds nothing of
 * a request: no stream, nothing to write, not closing, not paused. The owner
 * may then free it while the connection waits and make a new one with
 * xg_http1_server_new when bytes arrive; the new one parses the next request
 * exactly as the old one would have (stream ids start at 1 again). */
bool xg_http1_server_idle(const xg_codec *c);

/* Freed server codecs wait on a per-thread spare list for the next
 * xg_http1_server_new (no malloc per request), as many as the thread's
 * recent peak of codecs in use calls for (at least a few). The trim, every
 * few seconds, frees the spares beyond the peak since the last trim and
 * starts a new one, so a burst's spares go back within two periods; it
 * returns how many spares are still kept. The thread's teardown frees them
 * all. */
size_t xg_http1_server_spares_trim(void);
void xg_http1_server_spares_free(void);

#endif
