/* getopt_long parsing of xdsgate's flags; every rejection names the flag. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "flags.h"

enum {
    OPT_XDS_SERVER = 256,
    OPT_NODE_ID,
    OPT_NODE_CLUSTER,
    OPT_ADMIN,
    OPT_CONCURRENCY,
    OPT_LOG_LEVEL,
    OPT_IGNORE_UNKNOWN,
    OPT_XDS_MODE,
    OPT_INITIAL_FETCH_TIMEOUT,
    OPT_XDS_CA,
    OPT_XDS_CERT,
    OPT_XDS_KEY,
    OPT_XDS_SERVER_NAME,
    OPT_MAX_DOWNSTREAM_CONNECTIONS,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"xds-server", required_argument, NULL, OPT_XDS_SERVER},
    {"node-id", required_argument, NULL, OPT_NODE_ID},
    {"node-cluster", required_argument, NULL, OPT_NODE_CLUSTER},
    {"admin", required_argument, NULL, OPT_ADMIN},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"ignore-unknown-fields", no_argument, NULL, OPT_IGNORE_UNKNOWN},
    {"xds-mode", required_argument, NULL, OPT_XDS_MODE},
    {"initial-fetch-timeout", required_argument, NULL, OPT_INITIAL_FETCH_TIMEOUT},
    {"xds-ca", required_argument, NULL, OPT_XDS_CA},
    {"xds-cert", required_argument, NULL, OPT_XDS_CERT},
    {"xds-key", required_argument, NULL, OPT_XDS_KEY},
    {"xds-server-name", required_argument, NULL, OPT_XDS_SERVER_NAME},
    {"max-downstream-connections", required_argument, NULL, OPT_MAX_DOWNSTREAM_CONNECTIONS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static unsigned usable_cpus(void)
{
    cpu_set_t set;
    long n = 0;
    /* The affinity mask, not the machine's CPU count: containers and taskset narrow it. */
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0)
        n = 1;
    return n > XG_CONCURRENCY_MAX ? XG_CONCURRENCY_MAX : (unsigned)n;
}

void xg_flags_defaults(xg_flags *f)
{
    memset(f, 0, sizeof(*f));
    if (gethostname(f->node_id, sizeof(f->node_id) - 1) != 0 || f->node_id[0] == '\0')
        strcpy(f->node_id, "xdsgate");
    strcpy(f->node_cluster, "xdsgate");
    strcpy(f->admin_host, "127.0.0.1");
    f->admin_port = 9901;
    f->concurrency = usable_cpus();
    f->log_level = XG_LOG_INFO;
    f->xds_mode = XG_XDS_SOTW;
    f->initial_fetch_timeout_ms = 15000;
}

const char *xg_xds_mode_name(xg_xds_mode m)
{
    return m == XG_XDS_DELTA ? "delta" : "sotw";
}

static int bad(FILE *err, const char *flag, const char *val, const char *why)
{
    fprintf(err, "xdsgate: --%s '%s': %s (see --help)\n", flag, val, why);
    return XG_EINVAL;
}

static int set_str(char *dst, size_t n, const char *flag, const char *val, FILE *err)
{
    size_t len = strlen(val);
    if (len == 0)
        return bad(err, flag, val, "must not be empty");
    if (len >= n)
        return bad(err, flag, val, "too long");
    memcpy(dst, val, len + 1);
    return 0;
}

static int parse_concurrency(xg_flags *f, const char *val, FILE *err)
{
    char *end = NULL;
    if (val[0] < '0' || val[0] > '9')
        return bad(err, "concurrency", val, "must be a number from 1 to 256");
    unsigned long n = strtoul(val, &end, 10);
    if (*end != '\0' || n < 1 || n > XG_CONCURRENCY_MAX)
        return bad(err, "concurrency", val, "must be a number from 1 to 256");
    f->concurrency = (unsigned)n;
    return 0;
}

static int parse_max_conns(xg_flags *f, const char *val, FILE *err)
{
    char *end = NULL;
    if (val[0] < '0' || val[0] > '9')
        return bad(err, "max-downstream-connections", val, "must be a number (0: unlimited)");
    errno = 0;
    unsigned long long n = strtoull(val, &end, 10);
    if (*end != '\0' || errno != 0 || n > XG_MAX_CONNS_MAX)
        return bad(err, "max-downstream-connections", val, "must be a number from 0 (unlimited) to 1000000000");
    f->max_downstream_connections = n;
    return 0;
}

static int parse_xds_mode(xg_flags *f, const char *val, FILE *err)
{
    if (strcmp(val, "sotw") == 0)
        f->xds_mode = XG_XDS_SOTW;
    else if (strcmp(val, "delta") == 0)
        f->xds_mode = XG_XDS_DELTA;
    else
        return bad(err, "xds-mode", val, "must be sotw or delta");
    return 0;
}

/* Strict decimal: digits with at most one '.', nothing else. */
static int parse_decimal(const char *s, size_t n, double *out)
{
    char buf[32];
    size_t dots = 0;
    if (n == 0 || n >= sizeof(buf))
        return XG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            dots++;
        else if (s[i] < '0' || s[i] > '9')
            return XG_EINVAL;
    }
    if (dots > 1 || (n == 1 && dots == 1))
        return XG_EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

int xg_flags_parse_duration_ms(const char *s, uint32_t max_ms, uint32_t *out)
{
    size_t n = strlen(s);
    double scale = 1000;
    if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
        scale = 1;
        n -= 2;
    } else if (n > 1 && (s[n - 1] == 's' || s[n - 1] == 'm')) {
        scale = s[n - 1] == 'm' ? 60000 : 1000;
        n -= 1;
    }
    double v;
    if (parse_decimal(s, n, &v) != 0 || v * scale > max_ms)
        return XG_EINVAL;
    *out = (uint32_t)(v * scale + 0.5);
    return 0;
}

/* TLS to the control plane needs gRPC's secure build, which links OpenSSL and
 * so exists only in the TLS=openssl flavour. */
static int set_tls_str(char *dst, size_t n, const char *flag, const char *val, FILE *err)
{
#ifdef XG_TLS_OPENSSL
    return set_str(dst, n, flag, val, err);
#else
    (void)dst;
    (void)n;
    return bad(err, flag, val, "TLS to the control plane needs the OpenSSL flavour: build with make TLS=openssl");
#endif
}

static int parse_one(xg_flags *f, int opt, const char *val, FILE *err)
{
    switch (opt) {
    case OPT_XDS_SERVER:
        f->has_xds_server = true;
        if (xg_hostport_parse(val, f->xds_host, &f->xds_port) != 0)
            return bad(err, "xds-server", val, "must be HOST:PORT with a port from 1 to 65535");
        return 0;
    case OPT_ADMIN:
        if (xg_hostport_parse(val, f->admin_host, &f->admin_port) != 0)
            return bad(err, "admin", val, "must be ADDR:PORT with a port from 1 to 65535");
        return 0;
    case OPT_NODE_ID:
        return set_str(f->node_id, sizeof(f->node_id), "node-id", val, err);
    case OPT_NODE_CLUSTER:
        return set_str(f->node_cluster, sizeof(f->node_cluster), "node-cluster", val, err);
    case OPT_CONCURRENCY:
        return parse_concurrency(f, val, err);
    case OPT_LOG_LEVEL:
        if (xg_log_parse_level(val, &f->log_level) != 0)
            return bad(err, "log-level", val, "must be trace, debug, info, warn, error or off");
        return 0;
    case OPT_XDS_MODE:
        return parse_xds_mode(f, val, err);
    case OPT_INITIAL_FETCH_TIMEOUT:
        if (xg_flags_parse_duration_ms(val, XG_FETCH_TIMEOUT_MAX_MS, &f->initial_fetch_timeout_ms) != 0)
            return bad(err, "initial-fetch-timeout", val, "must be a duration such as 15s, 500ms or 0, at most 24h");
        return 0;
    case OPT_XDS_CA:
        return set_tls_str(f->xds_ca, sizeof(f->xds_ca), "xds-ca", val, err);
    case OPT_XDS_CERT:
        return set_tls_str(f->xds_cert, sizeof(f->xds_cert), "xds-cert", val, err);
    case OPT_XDS_KEY:
        return set_tls_str(f->xds_key, sizeof(f->xds_key), "xds-key", val, err);
    case OPT_XDS_SERVER_NAME:
        return set_tls_str(f->xds_server_name, sizeof(f->xds_server_name), "xds-server-name", val, err);
    case OPT_MAX_DOWNSTREAM_CONNECTIONS:
        return parse_max_conns(f, val, err);
    case OPT_IGNORE_UNKNOWN:
        f->ignore_unknown_fields = true;
        return 0;
    case OPT_VERSION:
        f->version = true;
        return 0;
    case 'h':
        f->help = true;
        return 0;
    }
    return XG_EINVAL;
}

/* A client certificate needs its key and a CA to verify the server with; a
 * server name to verify needs TLS. */
static int check_tls(const xg_flags *f, FILE *err)
{
    if ((f->xds_cert[0] != '\0') != (f->xds_key[0] != '\0')) {
        fprintf(err, "xdsgate: --xds-cert and --xds-key go together (see --help)\n");
        return XG_EINVAL;
    }
    if (f->xds_cert[0] != '\0' && f->xds_ca[0] == '\0') {
        fprintf(err, "xdsgate: --xds-cert needs --xds-ca (TLS to the control plane) (see --help)\n");
        return XG_EINVAL;
    }
    if (f->xds_server_name[0] != '\0' && f->xds_ca[0] == '\0') {
        fprintf(err, "xdsgate: --xds-server-name needs --xds-ca (TLS to the control plane) (see --help)\n");
        return XG_EINVAL;
    }
    return 0;
}

static int unknown(FILE *err, int opt, const char *arg)
{
    if (opt == ':')
        fprintf(err, "xdsgate: flag '%s' needs a value (see --help)\n", arg);
    else
        fprintf(err, "xdsgate: unknown flag '%s' (see --help)\n", arg);
    return XG_EINVAL;
}

int xg_flags_parse(xg_flags *f, int argc, char **argv, FILE *err)
{
    int opt;
    /* optind = 0 makes glibc re-initialise getopt, so parsing can run more than once (tests). */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (opt == '?' || opt == ':')
            return unknown(err, opt, argv[optind - 1]);
        if (parse_one(f, opt, optarg, err) != 0)
            return XG_EINVAL;
    }
    if (optind < argc) {
        fprintf(err, "xdsgate: unexpected argument '%s' (flags only, see --help)\n", argv[optind]);
        return XG_EINVAL;
    }
    return check_tls(f, err);
}

void xg_flags_usage(const xg_flags *d, FILE *out)
{
    fprintf(out,
            "usage: xdsgate --xds-server HOST:PORT [flags]\n"
            "\n"
            "A data plane configured only over Envoy's xDS v3 API (no configuration file).\n"
            "\n"
            "  --xds-server HOST:PORT   control plane serving ADS (gRPC); without it xdsgate waits\n"
            "                           unconfigured and /ready stays 503\n"
            "  --node-id ID             node.id sent to the control plane (default: hostname, now '%s')\n"
            "  --node-cluster NAME      node.cluster sent to the control plane (default: %s)\n"
            "  --admin ADDR:PORT        admin HTTP listener (default: %s:%u)\n"
            "  --concurrency N          worker threads, 1 to %d (default: usable CPUs, now %u)\n"
            "  --log-level LEVEL        trace, debug, info, warn, error or off (default: info)\n"
            "  --xds-mode sotw|delta    ADS variant: state of the world or incremental (default: sotw)\n"
            "  --ignore-unknown-fields  accept xDS resources with fields xdsgate does not know, with a\n"
            "                           warning and a counter, instead of rejecting them (NACK)\n"
            "  --initial-fetch-timeout DURATION\n"
            "                           how long a listener or cluster waits for the route config,\n"
            "                           endpoints or secret it needs before it goes active without\n"
            "                           them, unless its config source sets initial_fetch_timeout;\n"
            "                           e.g. 15s, 500ms; 0 waits forever (default: %.3gs)\n"
            "  --xds-ca FILE            TLS to the control plane, verified with this CA bundle\n"
            "                           (OpenSSL builds only: make TLS=openssl)\n"
            "  --xds-cert FILE, --xds-key FILE\n"
            "                           client certificate and key for mutual TLS (with --xds-ca)\n"
            "  --xds-server-name NAME   name the control plane's certificate must carry (SNI too),\n"
            "                           when it is not the host of --xds-server (with --xds-ca)\n"
            "  --max-downstream-connections N\n"
            "                           downstream connections open at once, all listeners together;\n"
            "                           one more is accepted and closed at once; listeners with\n"
            "                           ignore_global_conn_limit are not counted (default: 0, unlimited)\n"
            "  --version                print the version and the TLS library, then exit\n"
            "  -h, --help               print this help, then exit\n"
            "\n"
            "Exit status: 0 after SIGTERM/SIGINT, 1 on a start-up failure, 2 on a bad flag.\n",
            d->node_id, d->node_cluster, d->admin_host, (unsigned)d->admin_port, XG_CONCURRENCY_MAX, d->concurrency,
            d->initial_fetch_timeout_ms / 1000.0);
}
