/* POST /quitquitquit. */
#include "admin/quit.h"
#include "core/log.h"

static void on_quit_later(void *arg)
{
    xg_admin_quit *q = arg;
    q->fn(q->arg);
}

static void on_quit(const xg_admin_request *req, xg_admin_response *resp, void *data)
{
    xg_admin_quit *q = data;
    xg_buf_puts(&resp->body, "OK\n");
    if (q->requested)
        return;
    xg_log_info("admin: POST /quitquitquit: shutting down");
    /* Not from inside the handler: shutting down closes this very connection. */
    q->requested = xg_loop_post(q->loop, on_quit_later, q) == 0;
    if (!q->requested)
        resp->status = 503;
}

int xg_admin_quit_init(xg_admin_quit *q, xg_admin *a, xg_loop *loop, void (*fn)(void *arg), void *arg)
{
    *q = (xg_admin_quit){.loop = loop, .fn = fn, .arg = arg, .requested = false};
    return xg_admin_route(a, "POST", "/quitquitquit", on_quit, q);
}
