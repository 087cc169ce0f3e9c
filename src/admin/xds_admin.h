/* The admin's view of the xDS configuration: keeps, on the main thread, the
 * latest snapshot and xDS status handed over by the xds thread, drives
 * /ready from the status, and serves GET /config_dump and GET /xds. */
#ifndef XG_ADMIN_XDS_ADMIN_H
#define XG_ADMIN_XDS_ADMIN_H

#include "admin/admin.h"
#include "config/snapshot.h"
#include "event/loop.h"
#include "xds/xds_status.h"

typedef struct xg_xds_admin xg_xds_admin;

/* Registers /config_dump and /xds on admin; main is the main thread's loop.
 * Both must outlive the result. Main thread. 0 or XG_ENOMEM. */
int xg_xds_admin_new(xg_admin *admin, xg_loop *main, xg_xds_admin **out);
/* Any thread: hands the main thread a snapshot (one reference; NULL: no
 * change) and a status (owned; NULL: no change). Once the main loop has
 * finished both are released here instead. */
void xg_xds_admin_post(xg_xds_admin *xa, xg_snapshot *s, xg_xds_status *st);
/* Main thread, once nothing can post any more and the admin is stopped. NULL is a no-op. */
void xg_xds_admin_free(xg_xds_admin *xa);

#endif
