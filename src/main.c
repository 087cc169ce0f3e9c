/* xdsgate's entry point: flags and wiring only. The main thread runs the
 * admin server and signal handling; the xds thread the ADS client; workers
 * the data path. */
#include <grpc/grpc.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "admin/clusters.h"
#include "admin/quit.h"
#include "admin/xds_admin.h"
#include "cluster/dns_mgr.h"
#include "core/error.h"
#include "core/log.h"
#include "event/loop.h"
#include "event/workers.h"
#include "flags.h"
#include "http/hcm.h"
#include "net/tls_lib.h"
#include "net/worker_listeners.h"
#include "ratelimit/rls_client.h"
#include "upstream/health_mgr.h"
#include "version.h"
#include "xds/ads.h"
#include "xds/xds_state.h"

typedef struct xg_app {
    const xg_flags *flags;
    xg_loop main;
    xg_admin *admin;
    xg_admin_quit quit;
    xg_xds_admin *xds_admin;
    xg_workers *workers;
    xg_dataplane *dp; /* listeners and clusters on the workers, fed by every publish */
    xg_dns_mgr *dns;  /* DNS clusters' lookups (main thread) */
    xg_health_mgr *health; /* active health checks and outlier detection (main thread) */
    xg_xds_state *xds;
    xg_ads *ads;
    ev_signal sigterm, sigint;
    bool stopping;
} xg_app;

/* Graceful exit (SIGTERM, SIGINT, POST /quitquitquit): the xds thread first,
 * so that nothing publishes any more; then every worker drops its snapshot
 * and finishes; then the admin; main() frees the rest once the loop ends. */
static void shutdown_app(xg_app *app)
{
    if (app->stopping)
        return;
    app->stopping = true;
    ev_signal_stop(app->main.ev, &app->sigterm);
    ev_signal_stop(app->main.ev, &app->sigint);
    if (app->ads != NULL)
        xg_ads_stop(app->ads);
    xg_health_mgr_stop(app->health);
    xg_dns_mgr_stop(app->dns);
    if (app->dp != NULL)
        xg_dataplane_publish(app->dp, NULL);
    if (app->workers != NULL)
        xg_workers_stop(app->workers);
    if (app->admin != NULL)
        xg_admin_stop(app->admin);
    xg_loop_stop(&app->main);
}

static void on_signal(struct ev_loop *ev, ev_signal *w, int revents)
{
    xg_log_info("received %s, shutting down", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
    shutdown_app(w->data);
}

static void on_quit(void *arg)
{
    shutdown_app(arg);
}

static void watch_signals(xg_app *app)
{
    ev_signal_init(&app->sigterm, on_signal, SIGTERM);
    ev_signal_init(&app->sigint, on_signal, SIGINT);
    app->sigterm.data = app->sigint.data = app;
    ev_signal_start(app->main.ev, &app->sigterm);
    ev_signal_start(app->main.ev, &app->sigint);
}

/* xds thread: a new snapshot goes to every worker (with its listeners) and,
 * with the status, to the admin. */
static void on_publish(void *ctx, xg_snapshot *s, xg_xds_status *st)
{
    xg_app *app = ctx;
    if (s != NULL) {
        int rc = xg_dataplane_publish(app->dp, s);
        if (rc != 0)
            xg_log_error("cannot publish snapshot %llu: %s", (unsigned long long)s->generation, xg_strerror(rc));
        if (xg_dns_mgr_update(app->dns, s) != 0) /* after the workers' post: they see the snapshot first */
            xg_log_error("cannot pass snapshot %llu to the DNS resolver", (unsigned long long)s->generation);
        xg_health_mgr_publish(app->health, s); /* after the workers' post: they see the snapshot first */
    }
    xg_xds_admin_post(app->xds_admin, s, st);
}

static const char *xds_tls_name(const xg_flags *f)
{
    if (f->xds_cert[0] != '\0')
        return ", mutual TLS";
    return f->xds_ca[0] != '\0' ? ", TLS" : "";
}

static void log_start(const xg_flags *f)
{
    xg_log_info("xdsgate %s (%s) starting: %u workers", XG_VERSION, xg_tls_lib_version(), f->concurrency);
    xg_log_info("node id '%s', cluster '%s'", f->node_id, f->node_cluster);
    if (f->has_xds_server)
        xg_log_info("xds: control plane %s:%u, %s mode%s%s", f->xds_host, (unsigned)f->xds_port,
                    xg_xds_mode_name(f->xds_mode), xds_tls_name(f),
                    f->ignore_unknown_fields ? ", ignoring unknown fields" : "");
    else
        xg_log_warn("xds: no --xds-server given: no config will arrive and /ready stays 503");
}

/* What decoding an xDS update and the versions it replaced left free goes
 * back to the system (the xds state calls this once updates are quiet). */
static void release_memory(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    malloc_trim(0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    xg_log_debug("xds: free memory handed back to the system in %.1f ms",
                 (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
}

/* The xDS client: state (handler) first, then the transport that calls it. */
static int start_xds(xg_app *app)
{
    const xg_flags *f = app->flags;
    char server[XG_HOST_MAX + 16];
    snprintf(server, sizeof(server), strchr(f->xds_host, ':') ? "[%s]:%u" : "%s:%u", f->xds_host,
             (unsigned)f->xds_port);
    xg_xds_state_options so = {.server = server,
                               .delta = f->xds_mode == XG_XDS_DELTA,
                               .ignore_unknown = f->ignore_unknown_fields,
                               .initial_fetch_timeout_ms = f->initial_fetch_timeout_ms,
                               .xlate = xg_xds_default_xlate()};
    so.release_memory = release_memory;
    xg_xds_sink sink = {.publish = on_publish, .ctx = app};
    int rc = xg_xds_state_new(&so, &sink, &app->xds);
    if (rc != 0)
        return rc;
    xg_ads_options ao = {.server = server,
                         .delta = so.delta,
                         .node_id = f->node_id,
                         .node_cluster = f->node_cluster,
                         .ca_file = f->xds_ca[0] ? f->xds_ca : NULL,
                         .cert_file = f->xds_cert[0] ? f->xds_cert : NULL,
                         .key_file = f->xds_key[0] ? f->xds_key : NULL,
                         .server_name = f->xds_server_name[0] ? f->xds_server_name : NULL};
    xg_ads_handler h = xg_xds_state_handler(app->xds);
    rc = xg_ads_new(&ao, &h, &app->ads);
    if (rc != 0)
        return rc;
    xg_xds_transport t = xg_xds_ads_transport(app->ads);
    xg_xds_state_set_transport(app->xds, &t);
    return xg_ads_start(app->ads);
}

/* Workers' listeners and clusters; certificate files of listeners are
 * watched on the main loop. */
static int start_dataplane(xg_app *app)
{
    xg_listener_opts o;
    xg_listener_opts_init(&o);
    o.max_conns = app->flags->max_downstream_connections;
    o.watch_loop = &app->main;
    o.local_cluster = app->flags->node_cluster;
    return xg_dataplane_new(app->workers, &o, xg_hcm_on_conn, NULL, &app->dp);
}

static int start(xg_app *app)
{
    const xg_flags *f = app->flags;
    /* Signals first: a SIGTERM during start-up must still mean a clean exit. */
    watch_signals(app);
    int rc = xg_admin_new(&app->main, &app->admin);
    if (rc == 0)
        rc = xg_admin_quit_init(&app->quit, app->admin, &app->main, on_quit, app);
    if (rc == 0)
        rc = xg_xds_admin_new(app->admin, &app->main, &app->xds_admin);
    if (rc == 0)
        rc = xg_admin_listen(app->admin, f->admin_host, f->admin_port);
    if (rc == 0)
        rc = xg_rls_start(); /* before the workers: their rate limit filters call it */
    if (rc == 0)
        rc = xg_workers_new(f->concurrency, &app->workers);
    if (rc == 0)
        rc = xg_workers_start(app->workers);
    if (rc == 0)
        rc = start_dataplane(app);
    if (rc == 0)
        rc = xg_health_mgr_new(&app->main, app->workers, &app->health);
    if (rc == 0)
        rc = xg_clusters_admin_register(app->admin, app->health);
    if (rc == 0)
        rc = xg_dns_mgr_new(&app->main,
                            &(xg_dns_mgr_opts){
                                .workers = app->workers, .observe = xg_health_mgr_dns, .observe_arg = app->health},
                            &app->dns);
    /* Last: from here on the xds thread posts to the main loop and the workers. */
    if (rc == 0 && f->has_xds_server)
        rc = start_xds(app);
    return rc;
}

/* After the loop has ended (or start-up failed): everything in reverse. */
static void cleanup(xg_app *app)
{
    shutdown_app(app);
    xg_rls_stop(); /* the workers are joined: no call starts any more */
    xg_ads_free(app->ads);
    xg_xds_state_free(app->xds);
    xg_workers_free(app->workers);
    xg_dataplane_free(app->dp);
    xg_xds_admin_free(app->xds_admin);
    xg_admin_free(app->admin);
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
    cleanup(&app);
    xg_loop_dispose(&app.main);
    /* After the main loop's last closures: some (health counts, DNS updates)
     * name these managers. Both were stopped by cleanup and free nothing of
     * the loop's. */
    xg_health_mgr_free(app.health);
    xg_dns_mgr_free(app.dns);
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
    grpc_init();
    int rc = run(&f);
    grpc_shutdown();
    return rc == 0 ? 0 : 1;
}
