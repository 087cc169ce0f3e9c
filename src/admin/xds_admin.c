/* Main-thread holder of the latest snapshot and xDS status, /config_dump and /xds. */
#include <stdlib.h>
#include <time.h>

#include "admin/config_dump.h"
#include "admin/xds_admin.h"
#include "admin/xds_view.h"
#include "core/error.h"

struct xg_xds_admin {
    xg_admin *admin;
    xg_loop *main;
    xg_snapshot *snap;     /* main thread's reference */
    xg_xds_status *status; /* owned */
};

typedef struct update {
    xg_xds_admin *xa;
    xg_snapshot *snap;
    xg_xds_status *status;
} update;

static void on_config_dump(const xg_admin_request *req, xg_admin_response *resp, void *data)
{
    xg_xds_admin *xa = data;
    resp->content_type = "application/json";
    if (xg_config_dump(xa->snap, xa->status, &resp->body) != 0) {
        resp->status = 500;
        xg_buf_reset(&resp->body);
        xg_buf_puts(&resp->body, "out of memory\n");
        resp->content_type = "text/plain; charset=utf-8";
    }
}

static void on_xds(const xg_admin_request *req, xg_admin_response *resp, void *data)
{
    xg_xds_admin *xa = data;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    resp->content_type = "application/json";
    if (xg_xds_view(xa->status, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &resp->body) != 0) {
        resp->status = 500;
        xg_buf_reset(&resp->body);
        xg_buf_puts(&resp->body, "out of memory\n");
        resp->content_type = "text/plain; charset=utf-8";
    }
}

int xg_xds_admin_new(xg_admin *admin, xg_loop *main, xg_xds_admin **out)
{
    xg_xds_admin *xa = calloc(1, sizeof(*xa));
    if (xa == NULL)
        return XG_ENOMEM;
    xa->admin = admin;
    xa->main = main;
    int rc = xg_admin_route(admin, "GET", "/config_dump", on_config_dump, xa);
    if (rc == 0)
        rc = xg_admin_route(admin, "GET", "/xds", on_xds, xa);
    if (rc != 0) {
        free(xa);
        return rc;
    }
    *out = xa;
    return 0;
}

/* Main thread: swaps in what the xds thread sent. Readiness latches: once the
 * first complete config is active, /ready stays 200 whatever happens to the
 * control plane, because the last good config keeps serving. */
static void on_update(void *arg)
{
    update *u = arg;
    xg_xds_admin *xa = u->xa;
    if (u->snap != NULL) {
        xg_snapshot_unref(xa->snap);
        xa->snap = u->snap;
    }
    if (u->status != NULL) {
        xg_xds_status_free(xa->status);
        xa->status = u->status;
        if (xa->status->ready)
            xg_admin_set_ready(xa->admin, true);
    }
    free(u);
}

void xg_xds_admin_post(xg_xds_admin *xa, xg_snapshot *s, xg_xds_status *st)
{
    if (s == NULL && st == NULL)
        return;
    update *u = malloc(sizeof(*u));
    if (u != NULL) {
        *u = (update){.xa = xa, .snap = s, .status = st};
        if (xg_loop_post(xa->main, on_update, u) == 0)
            return;
        free(u);
    }
    xg_snapshot_unref(s);
    xg_xds_status_free(st);
}

void xg_xds_admin_free(xg_xds_admin *xa)
{
    if (xa == NULL)
        return;
    xg_snapshot_unref(xa->snap);
    xg_xds_status_free(xa->status);
    free(xa);
}
