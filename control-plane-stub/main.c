/* control-plane-stub: a small ADS server for the demo and the tests. Flags,
 * the snapshot file watch (poll + SIGHUP), signals through a signalfd, and
 * the one loop that drives gRPC's completion queue. Not a production control
 * plane: see docs/control-plane-stub.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "jlog.h"
#include "rls_config.h"
#include "server.h"
#include "snapshot.h"
#include "tls.h"

/* How often the snapshot file is stat()ed, and the longest a cq wait lasts
 * (bounds how late a signal or a file change is noticed). */
#define POLL_FILE_MS 200
#define CQ_WAIT_MS 50

typedef struct stub_opts {
    const char *address;
    int port;
    const char *snapshot;
    const char *log;
    const char *check;
    const char *tls_cert; /* --tls-cert/--tls-key: serve TLS (OpenSSL flavour) */
    const char *tls_key;
    const char *tls_client_ca; /* --tls-client-ca: require client certificates (mTLS) */
    const char *ratelimit;     /* --ratelimit-config: also serve the rate-limit service */
} stub_opts;

/* Identity of the file last loaded (or tried): a change in any field reloads. */
typedef struct file_id {
    bool ok;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_id;

typedef struct stub_app {
    stub_opts opts;
    xg_jlog log;
    xg_stub_server srv;
    xg_stub_snapshot *snap; /* owned; the server borrows it */
    xg_stub_tls tls;
    file_id seen;
    xg_stub_rls_config *rls; /* owned; the server borrows it; NULL without --ratelimit-config */
    file_id rls_seen;
    int sigfd;
    struct timespec next_poll;
} stub_app;

static const char usage[] =
    "usage: control-plane-stub --port PORT --snapshot FILE [--address 127.0.0.1] [--log FILE]\n"
    "                          [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
    "                          [--ratelimit-config FILE]\n"
    "       control-plane-stub --check FILE [--ratelimit-config FILE]\n"
    "Serves envoy.service.discovery.v3.AggregatedDiscoveryService (state of the world and delta)\n"
    "from an Envoy-format YAML/JSON snapshot; reloads it when it changes or on SIGHUP.\n"
    "Events go to stdout (or --log FILE) as one JSON object per line.\n"
    "--tls-cert/--tls-key serve TLS; --tls-client-ca also requires client certificates\n"
    "signed by that CA (mutual TLS). TLS needs the OpenSSL flavour (make TLS=openssl).\n"
    "--ratelimit-config also serves envoy.service.ratelimit.v3.RateLimitService on the same port,\n"
    "with limits from FILE in envoyproxy/ratelimit's YAML format (reloaded like the snapshot).\n"
    "--check validates a snapshot or a rate-limit file (recognised by its `domain`), or both.\n";

static int parse_port(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < 0 || v > 65535)
        return XG_EINVAL;
    *out = (int)v;
    return 0;
}

static const char *first_tls_flag(const stub_opts *o)
{
    if (o->tls_cert != NULL)
        return "--tls-cert";
    if (o->tls_key != NULL)
        return "--tls-key";
    return o->tls_client_ca != NULL ? "--tls-client-ca" : NULL;
}

/* The --tls-* flags go together as documented, and only in a build whose
 * gRPC library has TLS. XG_ENOTSUP (message printed) in the BoringSSL flavour. */
static int check_tls(const stub_opts *o)
{
    const char *given = first_tls_flag(o);
    if (given == NULL)
        return 0;
    if (!xg_stub_tls_supported()) {
        fprintf(stderr,
                "control-plane-stub: %s: this build has no TLS (gRPC without TLS, BoringSSL flavour); "
                "build with make TLS=openssl\n",
                given);
        return XG_ENOTSUP;
    }
    if (o->tls_cert == NULL || o->tls_key == NULL) {
        fprintf(stderr, "control-plane-stub: %s needs both --tls-cert and --tls-key\n", given);
        return XG_EINVAL;
    }
    return 0;
}

/* 0 to run, 1 to exit 0 (help), XG_EINVAL for a usage error, XG_ENOTSUP for
 * TLS flags in a build without TLS. */
static int parse_opts(int argc, char **argv, stub_opts *o)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"address", required_argument, NULL, 'a'},
        {"snapshot", required_argument, NULL, 's'},
        {"log", required_argument, NULL, 'l'},
        {"check", required_argument, NULL, 'c'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"tls-client-ca", required_argument, NULL, 'A'},
        {"ratelimit-config", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (stub_opts){.address = "127.0.0.1", .port = -1};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'p' && parse_port(optarg, &o->port) != 0)
            return XG_EINVAL;
        o->address = c == 'a' ? optarg : o->address;
        o->snapshot = c == 's' ? optarg : o->snapshot;
        o->log = c == 'l' ? optarg : o->log;
        o->check = c == 'c' ? optarg : o->check;
        o->tls_cert = c == 'C' ? optarg : o->tls_cert;
        o->tls_key = c == 'K' ? optarg : o->tls_key;
        o->tls_client_ca = c == 'A' ? optarg : o->tls_client_ca;
        o->ratelimit = c == 'R' ? optarg : o->ratelimit;
        if (c == 'h')
            return 1;
        if (c == '?')
            return XG_EINVAL;
    }
    if (optind != argc || (o->check == NULL && (o->snapshot == NULL || o->port < 0)))
        return XG_EINVAL;
    return check_tls(o);
}

static int check_ratelimit(const char *path)
{
    char err[1024];
    xg_stub_rls_config *cfg = NULL;
    if (xg_stub_rls_config_load(path, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    printf("%s: ok: %zu rate-limit domain%s\n", path, cfg->ndomains, cfg->ndomains == 1 ? "" : "s");
    xg_stub_rls_config_free(cfg);
    return 0;
}

/* A rate-limit file given to --check alone is recognised by its shape. */
static bool looks_like_ratelimit(const char *path)
{
    char err[256], *text = NULL;
    size_t len = 0;
    if (xg_stub_read_file(path, &text, &len, err, sizeof(err)) != 0)
        return false;
    bool yes = xg_stub_rls_config_sniff(text, len);
    free(text);
    return yes;
}

static int check_snapshot(const char *path)
{
    char err[1024];
    xg_stub_snapshot *snap = NULL;
    if (xg_stub_snapshot_load(path, &snap, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    printf("%s: ok:", path);
    for (int t = 0; t < XG_STUB_NTYPES; t++)
        printf("%s %zu %s", t ? "," : "", snap->types[t].n, xg_stub_type(t)->short_name);
    printf("\n");
    xg_stub_snapshot_free(snap);
    return 0;
}

static int run_check(const stub_opts *o)
{
    int rc = looks_like_ratelimit(o->check) ? check_ratelimit(o->check) : check_snapshot(o->check);
    if (o->ratelimit != NULL && check_ratelimit(o->ratelimit) != 0)
        rc = 1;
    return rc;
}

static file_id stat_file(const char *path)
{
    struct stat st;
    file_id id = {0};
    if (stat(path, &st) != 0)
        return id;
    id = (file_id){true, st.st_dev, st.st_ino, st.st_size, st.st_mtim};
    return id;
}

static bool same_file(const file_id *a, const file_id *b)
{
    return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void log_snapshot(stub_app *app, const char *event, const char *why, unsigned changed)
{
    xg_jev e;
    xg_jev_begin(&e, event);
    xg_jev_str(&e, "file", app->opts.snapshot);
    xg_jev_str(&e, "trigger", why);
    xg_jev_open(&e, "versions", '{');
    for (int t = 0; t < XG_STUB_NTYPES; t++)
        xg_jev_u64s(&e, xg_stub_type(t)->short_name, app->snap->types[t].version);
    xg_jev_close(&e, '}');
    xg_jev_open(&e, "counts", '{');
    for (int t = 0; t < XG_STUB_NTYPES; t++)
        xg_jev_u64(&e, xg_stub_type(t)->short_name, app->snap->types[t].n);
    xg_jev_close(&e, '}');
    xg_jev_open(&e, "changed", '[');
    for (int t = 0; t < XG_STUB_NTYPES; t++) {
        if (changed & (1u << t))
            xg_jev_str(&e, NULL, xg_stub_type(t)->type_url);
    }
    xg_jev_close(&e, ']');
    (void)xg_jlog_emit(&app->log, &e); /* nothing to do about a lost log line */
}

static void log_snapshot_error(stub_app *app, const char *why, const char *err)
{
    xg_jev e;
    xg_jev_begin(&e, "snapshot_error");
    xg_jev_str(&e, "file", app->opts.snapshot);
    xg_jev_str(&e, "trigger", why);
    xg_jev_str(&e, "error", err);
    xg_jev_str(&e, "message",
               app->snap ? "snapshot rejected; the previous one is still served"
                         : "snapshot rejected; nothing to serve, exiting");
    (void)xg_jlog_emit(&app->log, &e);
}

/* Loads the file; on success serves it (first load: just keeps it). A bad
 * file never replaces what is served. */
static int load(stub_app *app, const char *why)
{
    char err[1024];
    xg_stub_snapshot *next = NULL;
    app->seen = stat_file(app->opts.snapshot);
    int rc = xg_stub_snapshot_load(app->opts.snapshot, &next, err, sizeof(err));
    if (rc != 0) {
        log_snapshot_error(app, why, err);
        if (app->snap == NULL) /* fatal at start-up: say it where a person looks */
            fprintf(stderr, "control-plane-stub: %s: %s\n", app->opts.snapshot, err);
        return rc;
    }
    unsigned changed = xg_stub_snapshot_version(next, app->snap);
    xg_stub_snapshot *old = app->snap;
    app->snap = next;
    log_snapshot(app, old ? "snapshot_reloaded" : "snapshot_loaded", why, changed);
    if (old != NULL && changed != 0)
        xg_stub_server_publish(&app->srv, next);
    xg_stub_snapshot_free(old);
    return 0;
}

static void log_rls(stub_app *app, const char *event, const char *why)
{
    xg_jev e;
    xg_jev_begin(&e, event);
    xg_jev_str(&e, "file", app->opts.ratelimit);
    xg_jev_str(&e, "trigger", why);
    xg_jev_open(&e, "domains", '[');
    for (size_t i = 0; i < app->rls->ndomains; i++)
        xg_jev_str(&e, NULL, app->rls->domains[i].name);
    xg_jev_close(&e, ']');
    (void)xg_jlog_emit(&app->log, &e);
}

/* Loads the rate-limit file; a bad file never replaces what is served
 * (counters live in the service and are kept either way). */
static int load_rls(stub_app *app, const char *why)
{
    char err[1024];
    xg_stub_rls_config *next = NULL;
    app->rls_seen = stat_file(app->opts.ratelimit);
    int rc = xg_stub_rls_config_load(app->opts.ratelimit, &next, err, sizeof(err));
    if (rc != 0) {
        xg_jev e;
        xg_jev_begin(&e, "ratelimit_error");
        xg_jev_str(&e, "file", app->opts.ratelimit);
        xg_jev_str(&e, "trigger", why);
        xg_jev_str(&e, "error", err);
        xg_jev_str(&e, "message",
                   app->rls ? "rate-limit config rejected; the previous one is still served"
                            : "rate-limit config rejected; exiting");
        (void)xg_jlog_emit(&app->log, &e);
        if (app->rls == NULL)
            fprintf(stderr, "control-plane-stub: %s: %s\n", app->opts.ratelimit, err);
        return rc;
    }
    xg_stub_rls_config *old = app->rls;
    app->rls = next;
    log_rls(app, old ? "ratelimit_reloaded" : "ratelimit_loaded", why);
    if (old != NULL)
        xg_stub_server_publish_rls(&app->srv, next);
    xg_stub_rls_config_free(old);
    return 0;
}

static bool time_reached(const struct timespec *when)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > when->tv_sec || (now.tv_sec == when->tv_sec && now.tv_nsec >= when->tv_nsec);
}

static void poll_file(stub_app *app)
{
    if (!time_reached(&app->next_poll))
        return;
    clock_gettime(CLOCK_MONOTONIC, &app->next_poll);
    app->next_poll.tv_nsec += POLL_FILE_MS * 1000000L;
    if (app->next_poll.tv_nsec >= 1000000000L) {
        app->next_poll.tv_sec++;
        app->next_poll.tv_nsec -= 1000000000L;
    }
    file_id now = stat_file(app->opts.snapshot);
    if (!same_file(&now, &app->seen))
        (void)load(app, "file_changed"); /* load() logs its own failure */
    if (app->opts.ratelimit == NULL)
        return;
    now = stat_file(app->opts.ratelimit);
    if (!same_file(&now, &app->rls_seen))
        (void)load_rls(app, "file_changed");
}

/* Blocks the signals the loop reads from a signalfd; must run before gRPC
 * starts threads, which inherit the mask. */
static int open_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Handles pending signals; true when the stub should stop. */
static bool read_signals(stub_app *app)
{
    struct signalfd_siginfo si;
    bool stop = false;
    while (read(app->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            (void)load(app, "sighup");
            if (app->opts.ratelimit != NULL)
                (void)load_rls(app, "sighup");
        } else
            stop = true;
    }
    return stop;
}

static void serve(stub_app *app)
{
    bool stopping = false;
    while (!stopping || !xg_stub_server_drained(&app->srv)) {
        xg_stub_server_poll(&app->srv, CQ_WAIT_MS);
        if (stopping)
            continue;
        if (read_signals(app)) {
            stopping = true;
            (void)xg_jlog_msg(&app->log, "shutdown", "signal received; closing streams");
            xg_stub_server_shutdown(&app->srv);
            continue;
        }
        poll_file(app);
    }
}

/* The TLS files are read once: a file that cannot be read is fatal. */
static int load_tls(stub_app *app)
{
    char err[1024];
    const stub_opts *o = &app->opts;
    if (xg_stub_tls_load(&app->tls, o->tls_cert, o->tls_key, o->tls_client_ca, err, sizeof(err)) != 0) {
        fprintf(stderr, "control-plane-stub: cannot read a TLS file: %s\n", err);
        return XG_EIO;
    }
    return 0;
}

static int run(stub_app *app)
{
    if (load(app, "start") != 0 || load_tls(app) != 0)
        return 1;
    if (app->opts.ratelimit != NULL && load_rls(app, "start") != 0)
        return 1;
    if (xg_stub_server_start(&app->srv, app->opts.address, app->opts.port, &app->tls, &app->log, app->snap, app->rls) !=
        0) {
        fprintf(stderr, "control-plane-stub: cannot listen on %s:%d%s\n", app->opts.address, app->opts.port,
                app->tls.cert ? " with TLS (is the port free? do --tls-cert and --tls-key hold a matching PEM "
                                "certificate and key? gRPC's log above says more)"
                              : "");
        return 1;
    }
    xg_jev e;
    xg_jev_begin(&e, "listening");
    xg_jev_str(&e, "address", app->opts.address);
    xg_jev_u64(&e, "port", (uint64_t)app->srv.port);
    xg_jev_str(&e, "tls", xg_stub_tls_mode(&app->tls));
    xg_jev_bool(&e, "ratelimit", app->rls != NULL);
    (void)xg_jlog_emit(&app->log, &e);
    clock_gettime(CLOCK_MONOTONIC, &app->next_poll);
    serve(app);
    xg_stub_server_destroy(&app->srv);
    (void)xg_jlog_msg(&app->log, "exit", "clean shutdown");
    return 0;
}

int main(int argc, char **argv)
{
    stub_app app = {.sigfd = -1};
    int rc = parse_opts(argc, argv, &app.opts);
    if (rc != 0) {
        if (rc != XG_ENOTSUP)
            fputs(usage, rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    if (app.opts.check != NULL)
        return run_check(&app.opts);
    if ((app.sigfd = open_signals()) < 0 || xg_jlog_open(&app.log, app.opts.log) != 0) {
        fprintf(stderr, "control-plane-stub: cannot set up signals or open the log: %s\n", strerror(errno));
        return 1;
    }
    rc = run(&app);
    xg_stub_snapshot_free(app.snap);
    xg_stub_rls_config_free(app.rls);
    xg_stub_tls_dispose(&app.tls);
    xg_jlog_close(&app.log);
    close(app.sigfd);
    return rc;
}
