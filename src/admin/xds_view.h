/* GET /xds: xdsgate's own view of its xDS client, meant for people first
 * (pretty JSON): the connection and since when, the server and mode, and per
 * type the subscription, last ACKed version, last NACK with its time and
 * message, counts, warming and missing resources, unknown-field warnings,
 * and time since the last change. Main thread. */
#ifndef XG_ADMIN_XDS_VIEW_H
#define XG_ADMIN_XDS_VIEW_H

#include <stdint.h>

#include "core/buf.h"
#include "xds/xds_status.h"

/* Appends the view of st (NULL: no xDS client configured) as of now_ms (wall clock). 0 or XG_ENOMEM. */
int xg_xds_view(const xg_xds_status *st, int64_t now_ms, xg_buf *out);

#endif
