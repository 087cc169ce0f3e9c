/* getopt_long parsing of xdsgate's flags; every rejection names the flag. */
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
    return 0;
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
            "  --version                print the version and the TLS library, then exit\n"
            "  -h, --help               print this help, then exit\n"
            "\n"
            "Exit status: 0 after SIGTERM/SIGINT, 1 on a start-up failure, 2 on a bad flag.\n",
            d->node_id, d->node_cluster, d->admin_host, (unsigned)d->admin_port, XG_CONCURRENCY_MAX, d->concurrency);
}
