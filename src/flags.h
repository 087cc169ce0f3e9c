/* Command-line flags: xdsgate has no configuration file, so these are the
 * only local settings; everything else arrives over xDS. */
#ifndef XG_FLAGS_H
#define XG_FLAGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/log.h"
#include "net/addr.h"

#define XG_CONCURRENCY_MAX 256
#define XG_NODE_STR_MAX 512

typedef enum xg_xds_mode {
    XG_XDS_SOTW,  /* state-of-the-world ADS */
    XG_XDS_DELTA, /* incremental (delta) ADS */
} xg_xds_mode;

typedef struct xg_flags {
    bool has_xds_server; /* false: no control plane, the proxy never becomes ready */
    char xds_host[XG_HOST_MAX];
    uint16_t xds_port;
    char node_id[XG_NODE_STR_MAX];
    char node_cluster[XG_NODE_STR_MAX];
    char admin_host[XG_HOST_MAX];
    uint16_t admin_port;
    unsigned concurrency; /* worker threads, 1..XG_CONCURRENCY_MAX */
    xg_log_level log_level;
    bool ignore_unknown_fields; /* unknown proto fields: warn and count instead of NACK */
    xg_xds_mode xds_mode;
    bool help;    /* --help: print usage, exit 0 */
    bool version; /* --version: print version, exit 0 */
} xg_flags;

/* Fills every default: admin 127.0.0.1:9901, concurrency = usable CPUs
 * (capped at XG_CONCURRENCY_MAX), log level info, node cluster "xdsgate",
 * node id = hostname, xDS mode sotw. */
void xg_flags_defaults(xg_flags *f);
/* Parses argv over the defaults already in f. On a bad flag or value prints
 * one line naming the flag to err and returns XG_EINVAL (exit status 2). */
int xg_flags_parse(xg_flags *f, int argc, char **argv, FILE *err);
/* The --help text: every flag with its default. */
void xg_flags_usage(const xg_flags *defaults, FILE *out);
const char *xg_xds_mode_name(xg_xds_mode m);

#endif
