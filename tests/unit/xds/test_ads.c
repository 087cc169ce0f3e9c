/* End-to-end tests for the ADS transport (src/xds/ads*.c) against the real
 * control-plane stub (build/control-plane-stub, started per test on a free
 * loopback port): initial sync and subscriptions, ACK/NACK as the stub logs
 * them, delta, reconnect after the stub restarts, and a clean stop. The
 * handler here stands in for the xDS state: it ACKs everything (or NACKs the
 * first CDS response) and subscribes to what the snapshot references. */
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/ads.h"
#include "xg_test.h"

#define WAIT_MS 15000
#define NACK_TEXT "test: cluster \"backend\" rejected on purpose"

static const char *const SNAPSHOT = "tests/integration/snapshots/basic.yaml";

/* ---- the stub process and its JSON event log ---- */

typedef struct stub {
    pid_t pid;
    int port;
    char dir[64];
    char snap[128];
    char log[128];
} stub;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The build directory: this binary is <B>/tests/unit/xds/test_ads. */
static void build_path(char *out, size_t n, const char *file)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[len > 0 ? len : 0] = '\0';
    char *cut = strstr(exe, "/tests/unit/xds/");
    if (cut != NULL)
        *cut = '\0';
    snprintf(out, n, "%s/%s", exe, file);
}

/* Every complete line of the log, parsed; a JSON array the caller decrefs. */
static json_t *read_events(const stub *st)
{
    json_t *all = json_array();
    FILE *f = fopen(st->log, "r");
    char line[65536];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        json_t *e = strchr(line, '\n') ? json_loads(line, 0, NULL) : NULL;
        if (e != NULL)
            json_array_append_new(all, e);
    }
    if (f != NULL)
        fclose(f);
    return all;
}

static const char *jstr(const json_t *e, const char *key)
{
    const char *s = json_string_value(json_object_get(e, key));
    return s != NULL ? s : "";
}

/* The nth (0-based) event named ev, of type_url suffix tsuf ("" = any), at
 * or after log line `from` (a restarted stub appends to the same log); a new
 * reference or NULL. *line gets its line index when line is not NULL. */
static json_t *find_event_at(const stub *st, const char *ev, const char *tsuf, int nth, size_t from, size_t *line)
{
    json_t *all = read_events(st), *hit = NULL, *e;
    size_t i;
    json_array_foreach(all, i, e)
    {
        const char *url = jstr(e, "type_url");
        size_t ul = strlen(url), sl = strlen(tsuf);
        if (i < from || strcmp(jstr(e, "event"), ev) != 0 || ul < sl || strcmp(url + ul - sl, tsuf) != 0)
            continue;
        if (nth-- == 0) {
            hit = json_incref(e);
            if (line != NULL)
                *line = i;
            break;
        }
    }
    json_decref(all);
    return hit;
}

static json_t *find_event(const stub *st, const char *ev, const char *tsuf, int nth, size_t from)
{
    return find_event_at(st, ev, tsuf, nth, from, NULL);
}

static json_t *wait_event_at(const stub *st, const char *ev, const char *tsuf, int nth, size_t from, size_t *line)
{
    uint64_t end = now_ms() + WAIT_MS;
    json_t *e;
    while ((e = find_event_at(st, ev, tsuf, nth, from, line)) == NULL && now_ms() < end)
        usleep(20000);
    return e;
}

static json_t *wait_event(const stub *st, const char *ev, const char *tsuf, int nth, size_t from)
{
    return wait_event_at(st, ev, tsuf, nth, from, NULL);
}

static bool stub_spawn(stub *st)
{
    char bin[PATH_MAX + 64], port[16];
    build_path(bin, sizeof(bin), "control-plane-stub");
    snprintf(port, sizeof(port), "%d", st->port);
    st->pid = fork();
    if (st->pid == 0) {
        execl(bin, bin, "--port", port, "--snapshot", st->snap, "--log", st->log, (char *)NULL);
        _exit(127);
    }
    return st->pid > 0;
}

/* Starts the stub on a free port with a private copy of the snapshot. */
static bool stub_start(stub *st)
{
    memset(st, 0, sizeof(*st));
    snprintf(st->dir, sizeof(st->dir), "/tmp/xg-ads-XXXXXX");
    if (mkdtemp(st->dir) == NULL)
        return false;
    snprintf(st->snap, sizeof(st->snap), "%s/snap.yaml", st->dir);
    snprintf(st->log, sizeof(st->log), "%s/stub.log", st->dir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cp %s %s", SNAPSHOT, st->snap);
    if (system(cmd) != 0 || !stub_spawn(st))
        return false;
    json_t *e = wait_event(st, "listening", "", 0, 0);
    st->port = e ? (int)json_integer_value(json_object_get(e, "port")) : 0;
    json_decref(e);
    return st->port > 0;
}

static void stub_kill(stub *st)
{
    if (st->pid > 0) {
        kill(st->pid, SIGKILL);
        waitpid(st->pid, NULL, 0);
        st->pid = 0;
    }
}

static void stub_stop(stub *st)
{
    stub_kill(st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", st->dir);
    if (st->dir[0] != '\0' && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", st->dir);
}

/* Rewrites the snapshot atomically with one substitution (the stub reloads). */
static bool stub_edit(stub *st, const char *from, const char *to)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "sed 's/%s/%s/' %s > %s.tmp && mv %s.tmp %s", from, to, st->snap, st->snap, st->snap,
             st->snap);
    return system(cmd) == 0;
}

/* ---- the handler ---- */

typedef struct rec {
    pthread_mutex_t mu;
    xg_ads *a;
    bool nack_first_cds;
    int n_resp[XG_XDS_NTYPES];
    int n_conn[XG_ADS_STOPPED + 1];
    char first_name[XG_XDS_NTYPES][64]; /* delta: the first resource name seen */
    size_t n_resources[XG_XDS_NTYPES];
} rec;

static void subscribe_one(xg_ads *a, xg_xds_type t, const char *name)
{
    const char *names[1] = {name};
    if (xg_ads_subscribe(a, t, names, 1) != 0)
        fprintf(stderr, "subscribe failed\n");
}

static int on_response(void *ctx, const xg_xds_response *r, xg_buf *nack)
{
    rec *rc = ctx;
    pthread_mutex_lock(&rc->mu);
    int n = rc->n_resp[r->type]++;
    rc->n_resources[r->type] = r->n_resources;
    if (r->n_resources > 0 && r->resources[0].name != NULL)
        snprintf(rc->first_name[r->type], sizeof(rc->first_name[0]), "%s", r->resources[0].name);
    pthread_mutex_unlock(&rc->mu);
    /* what basic.yaml references: the listener's route config and secret, the cluster's endpoints */
    if (r->type == XG_XDS_LDS) {
        subscribe_one(rc->a, XG_XDS_RDS, "local_route");
        subscribe_one(rc->a, XG_XDS_SDS, "server_cert");
    }
    if (r->type == XG_XDS_CDS)
        subscribe_one(rc->a, XG_XDS_EDS, "backend");
    if (r->type == XG_XDS_CDS && rc->nack_first_cds && n == 0) {
        xg_buf_puts(nack, NACK_TEXT);
        return XG_EINVAL;
    }
    return 0;
}

static void on_conn(void *ctx, xg_ads_conn state, const char *detail)
{
    rec *rc = ctx;
    pthread_mutex_lock(&rc->mu);
    rc->n_conn[state]++;
    pthread_mutex_unlock(&rc->mu);
}

static int get_count(rec *rc, int *field)
{
    pthread_mutex_lock(&rc->mu);
    int v = *field;
    pthread_mutex_unlock(&rc->mu);
    return v;
}

static bool wait_count(rec *rc, int *field, int at_least)
{
    uint64_t end = now_ms() + WAIT_MS;
    while (get_count(rc, field) < at_least && now_ms() < end)
        usleep(10000);
    return get_count(rc, field) >= at_least;
}

static xg_ads *ads_open(const stub *st, rec *rc, bool delta, bool nack_first_cds)
{
    static char server[64]; /* test thread only */
    snprintf(server, sizeof(server), "127.0.0.1:%d", st->port);
    xg_ads_options o = {.server = server, .delta = delta, .node_id = "test-node", .node_cluster = "test-cluster"};
    xg_ads_handler h = {on_response, on_conn, rc};
    memset(rc, 0, sizeof(*rc));
    pthread_mutex_init(&rc->mu, NULL);
    rc->nack_first_cds = nack_first_cds;
    if (xg_ads_new(&o, &h, &rc->a) != 0)
        return NULL;
    if (xg_ads_start(rc->a) != 0) {
        xg_ads_free(rc->a);
        return NULL;
    }
    return rc->a;
}

static void ads_close(rec *rc)
{
    xg_ads_free(rc->a);
    pthread_mutex_destroy(&rc->mu);
}

static const char *const SUFFIX[XG_XDS_NTYPES] = {"Listener", "RouteConfiguration", "Cluster", "ClusterLoadAssignment",
                                                  "Secret"};

/* Checks that the stub logged an ack (or nack) of type t with version v. */
static bool check_verdict(const stub *st, const char *ev, xg_xds_type t, const char *v, size_t from)
{
    json_t *e = wait_event(st, ev, SUFFIX[t], 0, from);
    bool ok = CHECK(e != NULL) && CHECK_STR(jstr(e, "version"), v);
    if (!ok)
        fprintf(stderr, "  (no %s of %s version %s)\n", ev, SUFFIX[t], v);
    json_decref(e);
    return ok;
}

static bool names_are(const json_t *e, const char *key, const char *one)
{
    json_t *arr = json_object_get(e, key);
    if (one == NULL)
        return json_array_size(arr) == 0;
    return json_array_size(arr) == 1 && strcmp(json_string_value(json_array_get(arr, 0)), one) == 0;
}

/* ---- state of the world ---- */

static void unsubscribe_rds(void *arg)
{
    if (xg_ads_subscribe(arg, XG_XDS_RDS, NULL, 0) != 0)
        fprintf(stderr, "unsubscribe failed\n");
}

static void mark_ran(void *arg)
{
    *(uint64_t *)arg = now_ms();
}

XG_TEST(sotw_initial_sync_subscriptions_and_acks)
{
    stub st;
    rec rc;
    if (!CHECK(stub_start(&st)) || !CHECK(ads_open(&st, &rc, false, false) != NULL)) {
        stub_stop(&st);
        return;
    }
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        check_verdict(&st, "ack", (xg_xds_type)t, "1", 0);
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        CHECK_EQ_INT(get_count(&rc, &rc.n_resp[t]), 1);
    CHECK_EQ_INT(rc.n_resources[XG_XDS_LDS], 1);
    CHECK_EQ_INT(get_count(&rc, &rc.n_conn[XG_ADS_CONNECTED]), 1);
    /* first requests: CDS then LDS, wildcard (empty names), node on the stream */
    json_t *r0 = find_event(&st, "request", "", 0, 0), *r1 = find_event(&st, "request", "", 1, 0);
    CHECK(r0 && r1);
    CHECK(strstr(jstr(r0, "type_url"), "Cluster") && names_are(r0, "resource_names", NULL));
    CHECK(strstr(jstr(r1, "type_url"), "Listener") && names_are(r1, "resource_names", NULL));
    CHECK_STR(jstr(r0, "node"), "test-node");
    json_decref(r0);
    json_decref(r1);
    json_t *rds = find_event(&st, "request", SUFFIX[XG_XDS_RDS], 0, 0);
    CHECK(rds && names_are(rds, "resource_names", "local_route") && strcmp(jstr(rds, "version"), "") == 0);
    json_decref(rds);
    /* a posted closure from another thread runs promptly (the wake-up works) */
    uint64_t ran = 0, posted = now_ms();
    CHECK_EQ_INT(xg_ads_post(rc.a, 0, mark_ran, &ran), 0);
    for (uint64_t end = now_ms() + 2000; __atomic_load_n(&ran, __ATOMIC_SEQ_CST) == 0 && now_ms() < end;)
        usleep(1000);
    CHECK(ran != 0 && ran - posted < 200);
    /* RDS unsubscribed: an empty request for the type, with the last ACKed version */
    CHECK_EQ_INT(xg_ads_post(rc.a, 0, unsubscribe_rds, rc.a), 0);
    json_t *un = wait_event(&st, "request", SUFFIX[XG_XDS_RDS], 2, 0);
    CHECK(un && names_are(un, "resource_names", NULL) && strcmp(jstr(un, "version"), "1") == 0);
    json_decref(un);
    ads_close(&rc);
    stub_stop(&st);
}

XG_TEST(sotw_nack_keeps_version_and_carries_message)
{
    stub st;
    rec rc;
    if (!CHECK(stub_start(&st)) || !CHECK(ads_open(&st, &rc, false, true) != NULL)) {
        stub_stop(&st);
        return;
    }
    json_t *n = wait_event(&st, "nack", SUFFIX[XG_XDS_CDS], 0, 0);
    if (CHECK(n != NULL)) {
        CHECK_STR(jstr(n, "version"), ""); /* nothing ACKed before: the previous version is empty */
        CHECK_STR(jstr(n, "rejected_version"), "1");
        CHECK_STR(jstr(n, "error_message"), NACK_TEXT);
        CHECK_EQ_INT(json_integer_value(json_object_get(n, "error_code")), 3);
    }
    json_decref(n);
    check_verdict(&st, "ack", XG_XDS_LDS, "1", 0);
    /* a new CDS version is ACKed with its own version_info */
    CHECK(stub_edit(&st, "0.25s", "0.5s"));
    check_verdict(&st, "ack", XG_XDS_CDS, "2", 0);
    ads_close(&rc);
    stub_stop(&st);
}

/* ---- delta ---- */

XG_TEST(delta_sync_nack_and_unsubscribe)
{
    stub st;
    rec rc;
    if (!CHECK(stub_start(&st)) || !CHECK(ads_open(&st, &rc, true, true) != NULL)) {
        stub_stop(&st);
        return;
    }
    json_t *n = wait_event(&st, "nack", SUFFIX[XG_XDS_CDS], 0, 0);
    CHECK(n && strcmp(jstr(n, "error_message"), NACK_TEXT) == 0);
    CHECK(n && json_integer_value(json_object_get(n, "error_code")) == 3);
    json_decref(n);
    check_verdict(&st, "ack", XG_XDS_LDS, "1", 0);
    check_verdict(&st, "ack", XG_XDS_RDS, "1", 0);
    check_verdict(&st, "ack", XG_XDS_EDS, "1", 0);
    check_verdict(&st, "ack", XG_XDS_SDS, "1", 0);
    /* names come from the Resource wrapper in delta */
    pthread_mutex_lock(&rc.mu);
    CHECK_STR(rc.first_name[XG_XDS_LDS], "listener_http");
    CHECK_STR(rc.first_name[XG_XDS_RDS], "local_route");
    CHECK_STR(rc.first_name[XG_XDS_EDS], "backend");
    pthread_mutex_unlock(&rc.mu);
    json_t *lds = find_event(&st, "request", SUFFIX[XG_XDS_LDS], 0, 0);
    json_t *rds = find_event(&st, "request", SUFFIX[XG_XDS_RDS], 0, 0);
    CHECK(lds && names_are(lds, "subscribe", NULL)); /* legacy wildcard */
    CHECK(rds && names_are(rds, "subscribe", "local_route"));
    json_decref(lds);
    json_decref(rds);
    CHECK(stub_edit(&st, "0.25s", "0.5s"));
    check_verdict(&st, "ack", XG_XDS_CDS, "2", 0);
    CHECK_EQ_INT(xg_ads_post(rc.a, 0, unsubscribe_rds, rc.a), 0);
    size_t line = 0;
    json_t *un = NULL;
    for (int i = 1; i < 8 && un == NULL; i++) {
        json_t *e = wait_event_at(&st, "request", SUFFIX[XG_XDS_RDS], i, 0, &line);
        if (e != NULL && names_are(e, "unsubscribe", "local_route"))
            un = json_incref(e);
        json_decref(e);
    }
    CHECK(un != NULL && names_are(un, "subscribe", NULL));
    json_decref(un);
    ads_close(&rc);
    stub_stop(&st);
}

/* ---- reconnect ---- */

/* Kills the stub once everything is ACKed, restarts it on the same port and
 * returns the log line where the new process starts. */
static bool restart_stub(stub *st, rec *rc, size_t *from)
{
    for (int t = 0; t < XG_XDS_NTYPES; t++) {
        if (!check_verdict(st, "ack", (xg_xds_type)t, "1", 0))
            return false;
    }
    stub_kill(st);
    if (!CHECK(wait_count(rc, &rc->n_conn[XG_ADS_BACKOFF], 1)))
        return false;
    usleep(300000);
    uint64_t t0 = now_ms();
    if (!CHECK(stub_spawn(st)))
        return false;
    json_t *l = wait_event_at(st, "listening", "", 1, 0, from);
    json_t *o = l ? wait_event(st, "stream_open", "", 0, *from) : NULL;
    uint64_t took = now_ms() - t0;
    bool ok = CHECK(l != NULL) && CHECK(o != NULL);
    json_decref(l);
    json_decref(o);
    /* the cap grows 0.5 -> 1 -> 2 s while the stub is down for ~0.3 s */
    fprintf(stderr, "  reconnected %llu ms after the restart\n", (unsigned long long)took);
    return ok && CHECK(took < 5000);
}

XG_TEST(sotw_reconnect_sends_last_acked_versions)
{
    stub st;
    rec rc;
    size_t from = 0;
    if (!CHECK(stub_start(&st)) || !CHECK(ads_open(&st, &rc, false, false) != NULL)) {
        stub_stop(&st);
        return;
    }
    if (restart_stub(&st, &rc, &from)) {
        for (int t = 0; t < XG_XDS_NTYPES; t++) {
            json_t *r = wait_event(&st, "request", SUFFIX[t], 0, from);
            CHECK(r && strcmp(jstr(r, "version"), "1") == 0 && strcmp(jstr(r, "nonce"), "") == 0);
            CHECK(r && strcmp(jstr(r, "node"), "test-node") == 0);
            json_decref(r);
        }
        json_t *rds = find_event(&st, "request", SUFFIX[XG_XDS_RDS], 0, from);
        CHECK(rds && names_are(rds, "resource_names", "local_route"));
        json_decref(rds);
        CHECK(wait_count(&rc, &rc.n_conn[XG_ADS_CONNECTED], 2));
        CHECK(wait_count(&rc, &rc.n_resp[XG_XDS_CDS], 2)); /* a new stream gets the state again */
        check_verdict(&st, "ack", XG_XDS_CDS, "1", from);
    }
    ads_close(&rc);
    stub_stop(&st);
}

XG_TEST(delta_reconnect_sends_initial_resource_versions)
{
    stub st;
    rec rc;
    size_t from = 0;
    if (!CHECK(stub_start(&st)) || !CHECK(ads_open(&st, &rc, true, false) != NULL)) {
        stub_stop(&st);
        return;
    }
    if (restart_stub(&st, &rc, &from)) {
        const char *held[XG_XDS_NTYPES] = {"listener_http", "local_route", "backend", "backend", "server_cert"};
        for (int t = 0; t < XG_XDS_NTYPES; t++) {
            json_t *r = wait_event(&st, "request", SUFFIX[t], 0, from);
            json_t *irv = r ? json_object_get(r, "initial_resource_versions") : NULL;
            CHECK(irv && json_object_size(irv) == 1 && json_string_length(json_object_get(irv, held[t])) > 0);
            json_decref(r);
        }
        json_t *rds = find_event(&st, "request", SUFFIX[XG_XDS_RDS], 0, from);
        json_t *lds = find_event(&st, "request", SUFFIX[XG_XDS_LDS], 0, from);
        CHECK(rds && names_are(rds, "subscribe", "local_route"));
        CHECK(lds && names_are(lds, "subscribe", NULL));
        json_decref(rds);
        json_decref(lds);
        CHECK(wait_count(&rc, &rc.n_conn[XG_ADS_CONNECTED], 2));
    }
    ads_close(&rc);
    stub_stop(&st);
}

/* ---- lifecycle ---- */

XG_TEST(unreachable_server_backs_off_and_stops_promptly)
{
    rec rc;
    stub none = {.port = 1}; /* nothing listens on port 1 */
    if (!CHECK(ads_open(&none, &rc, false, false) != NULL))
        return;
    CHECK(wait_count(&rc, &rc.n_conn[XG_ADS_BACKOFF], 2));
    CHECK(get_count(&rc, &rc.n_conn[XG_ADS_CONNECTING]) >= 2);
    CHECK_EQ_INT(get_count(&rc, &rc.n_conn[XG_ADS_CONNECTED]), 0);
    uint64_t t0 = now_ms();
    xg_ads_stop(rc.a);
    CHECK(now_ms() - t0 < 1000);
    CHECK_EQ_INT(get_count(&rc, &rc.n_conn[XG_ADS_STOPPED]), 1);
    CHECK_EQ_INT(xg_ads_post(rc.a, 0, mark_ran, NULL), XG_EAGAIN);
    xg_ads_stop(rc.a); /* idempotent */
    ads_close(&rc);
}

XG_TEST(stop_while_connecting_is_prompt)
{
    rec rc;
    xg_ads_options o = {.server = "192.0.2.1:18000", .node_id = "n"}; /* TEST-NET-1: never answers */
    xg_ads_handler h = {on_response, on_conn, &rc};
    memset(&rc, 0, sizeof(rc));
    pthread_mutex_init(&rc.mu, NULL);
    if (!CHECK_EQ_INT(xg_ads_new(&o, &h, &rc.a), 0))
        return;
    CHECK_EQ_INT(xg_ads_start(rc.a), 0);
    CHECK_EQ_INT(xg_ads_start(rc.a), XG_EINVAL); /* once */
    CHECK(wait_count(&rc, &rc.n_conn[XG_ADS_CONNECTING], 1));
    usleep(200000);
    uint64_t t0 = now_ms();
    xg_ads_stop(rc.a);
    CHECK(now_ms() - t0 < 1000);
    CHECK_EQ_INT(get_count(&rc, &rc.n_conn[XG_ADS_STOPPED]), 1);
    ads_close(&rc);
}

XG_TEST(options_are_checked)
{
    xg_ads_handler h = {on_response, NULL, NULL};
    xg_ads *a = NULL;
    xg_ads_options o = {.server = "127.0.0.1:1"};
    CHECK_EQ_INT(xg_ads_new(&(xg_ads_options){0}, &h, &a), XG_EINVAL);
    o.cert_file = "c.pem";
    CHECK_EQ_INT(xg_ads_new(&o, &h, &a), XG_EINVAL); /* a certificate without a key (and a CA) */
    o.cert_file = NULL;
    o.ca_file = "/nonexistent/ca.pem";
#ifdef XG_TLS_OPENSSL
    CHECK_EQ_INT(xg_ads_new(&o, &h, &a), 0);
    xg_ads_free(a);
    o.server_name = "cp.internal";
    CHECK_EQ_INT(xg_ads_new(&o, &h, &a), 0);
    xg_ads_free(a);
    o.ca_file = NULL;
    CHECK_EQ_INT(xg_ads_new(&o, &h, &a), XG_EINVAL); /* a server name to verify needs TLS */
    o.server_name = NULL;
#else
    CHECK_EQ_INT(xg_ads_new(&o, &h, &a), XG_ENOTSUP);
#endif
    o.ca_file = NULL;
    if (CHECK_EQ_INT(xg_ads_new(&o, &h, &a), 0)) {
        const char *names[3] = {"b", "a", "b"};
        CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_EDS, names, 3), 0); /* before start: recorded only */
        CHECK_EQ_INT(xg_ads_subscribe(a, XG_XDS_NTYPES, NULL, 0), XG_EINVAL);
        CHECK_EQ_INT(xg_ads_post(a, 10, mark_ran, NULL), 0); /* dropped unrun at free */
        xg_ads_free(a);                                      /* never started */
    }
}
