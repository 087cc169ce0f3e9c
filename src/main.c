/* xdsgate's entry point: flags and wiring only. The main thread runs the
 * admin server and signal handling; workers run the data path. */
#include <signal.h>
#include <stdio.h>

#include "admin/admin.h"
#include "core/error.h"
#include "core/log.h"
#include "event/loop.h"
#include "event/workers.h"
#include "flags.h"
#include "net/tls_lib.h"
#include "version.h"

typedef struct xg_app {
    const xg_flags *flags;
    xg_loop main;
    xg_admin *admin;
    xg_workers *workers;
    ev_signal sigterm, sigint;
} xg_app;

/* SIGTERM/SIGINT: stop accepting admin requests, let every worker finish and
 * join it, then end the main loop; main() frees the rest. */
static void on_signal(struct ev_loop *ev, ev_signal *w, int revents)
{
    xg_app *app = w->data;
    xg_log_info("received %s, shutting down", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
    ev_signal_stop(ev, &app->sigterm);
    ev_signal_stop(ev, &app->sigint);
    if (app->admin != NULL)
        xg_admin_stop(app->admin);
    if (app->workers != NULL)
        xg_workers_stop(app->workers);
    xg_loop_stop(&app->main);
}

static void watch_signals(xg_app *app)
{
    ev_signal_init(&app->sigterm, on_signal, SIGTERM);
    ev_signal_init(&app->sigint, on_signal, SIGINT);
    app->sigterm.data = app->sigint.data = app;
    ev_signal_start(app->main.ev, &app->sigterm);
    ev_signal_start(app->main.ev, &app->sigint);
}

static void log_start(const xg_flags *f)
{
    xg_log_info("xdsgate %s (%s) starting: %u workers", XG_VERSION, xg_tls_lib_version(), f->concurrency);
    xg_log_info("node id '%s', cluster '%s'", f->node_id, f->node_cluster);
    if (f->has_xds_server)
        xg_log_info("xds: control plane %s:%u, %s mode%s", f->xds_host, (unsigned)f->xds_port,
                    xg_xds_mode_name(f->xds_mode), f->ignore_unknown_fields ? ", ignoring unknown fields" : "");
    else
        xg_log_warn("xds: no --xds-server given: no config will arrive and /ready stays 503");
}

static int start(xg_app *app)
{
    const xg_flags *f = app->flags;
    /* Signals first: a SIGTERM during start-up must still mean a clean exit. */
    watch_signals(app);
    int rc = xg_admin_new(&app->main, &app->admin);
    if (rc == 0)
        rc = xg_admin_listen(app->admin, f->admin_host, f->admin_port);
    if (rc == 0)
        rc = xg_workers_new(f->concurrency, &app->workers);
    if (rc == 0)
        rc = xg_workers_start(app->workers);
    return rc;
}

static int run(const xg_flags *f)
{
    xg_app app = {.flags = f};
    int rc = xg_loop_init(&app.main, XG_LOOP_DEFAULT);
    if (rc != 0) {
        xg_log_error("cannot create the main loop: %s", xg_strerror(rc));
        return rc;
    }
    log_start(f);
    rc = start(&app);
    if (rc == 0) {
        xg_log_info("started");
        xg_loop_run(&app.main);
    } else {
        xg_log_error("start-up failed: %s", xg_strerror(rc));
    }
    ev_signal_stop(app.main.ev, &app.sigterm);
    ev_signal_stop(app.main.ev, &app.sigint);
    xg_workers_free(app.workers);
    xg_admin_free(app.admin);
    xg_loop_dispose(&app.main);
    if (rc == 0)
        xg_log_info("stopped");
    return rc;
}

int main(int argc, char **argv)
{
    xg_flags defaults, f;
    xg_flags_defaults(&defaults);
    f = defaults;
    if (xg_flags_parse(&f, argc, argv, stderr) != 0)
        return 2;
    if (f.help) {
        xg_flags_usage(&defaults, stdout);
        return 0;
    }
    if (f.version) {
        printf("xdsgate %s (TLS: %s)\n", XG_VERSION, xg_tls_lib_version());
        return 0;
    }
    xg_log_set_level(f.log_level);
    /* A peer that closes early must give EPIPE on that socket, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    return run(&f) == 0 ? 0 : 1;
}
