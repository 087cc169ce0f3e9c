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
#define XG_FLAG_PATH_MAX 4096
#define XG_FETCH_TIMEOUT_MAX_MS (24u * 3600 * 1000)
#define XG_MAX_CONNS_MAX 1000000000ull

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
    uint32_t initial_fetch_timeout_ms; /* default initial_fetch_timeout; 0 waits forever */
    char xds_ca[XG_FLAG_PATH_MAX];     /* TLS to the control plane (OpenSSL flavour); "" = plaintext */
    char xds_cert[XG_FLAG_PATH_MAX];   /* client certificate and key for mTLS; "" = none */
    char xds_key[XG_FLAG_PATH_MAX];
    /* the name the control plane's certificate must carry; "" = the host of --xds-server */
    char xds_server_name[XG_HOST_MAX];
    /* downstream connections at once, all listeners together (Envoy's
     * global_downstream_max_connections); 0 = unlimited */
    uint64_t max_downstream_connections;
    bool help;    /* --help: print usage, exit 0 */
    bool version; /* --version: print version, exit 0 */
} xg_flags;

/* Fills every default: admin 127.0.0.1:9901, concurrency = usable CPUs
 * (capped at XG_CONCURRENCY_MAX), log level info, node cluster "xdsgate",
 * node id = hostname, xDS mode sotw, initial fetch timeout 15 s. */
void xg_flags_defaults(xg_flags *f);
/* Parses argv over the defaults already in f. On a bad flag or value (or a
 * combination: --xds-cert without --xds-key or --xds-ca, --xds-server-name
 * without --xds-ca, TLS flags in the BoringSSL flavour) prints one line
 * naming the flag to err and returns XG_EINVAL (exit status 2). */
int xg_flags_parse(xg_flags *f, int argc, char **argv, FILE *err);
/* The --help text: every flag with its default. */
void xg_flags_usage(const xg_flags *defaults, FILE *out);
const char *xg_xds_mode_name(xg_xds_mode m);
/* Parses a duration: "15s", "1.5s", "500ms", "2m", or a bare number of
 * seconds; 0 to max_ms. 0 or XG_EINVAL. */
int xg_flags_parse_duration_ms(const char *s, uint32_t max_ms, uint32_t *out);

#endif
