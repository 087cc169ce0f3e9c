/* The xDS client's state as /xds shows it: connection, per-type
 * subscriptions, versions, the last NACK, counts, warming and missing
 * resources. Built on the xds thread after every event, then handed whole to
 * the main thread (the admin), which owns it: immutable, one arena. */
#ifndef XG_XDS_XDS_STATUS_H
#define XG_XDS_XDS_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/resource.h"
#include "core/arena.h"
#include "xds/ads.h"
#include "xds/xds_type.h"

typedef struct xg_xds_type_status {
    bool wildcard;                 /* LDS/CDS: every resource of the type */
    const char *const *subscribed; /* RDS/EDS/SDS: the names asked for, sorted */
    size_t n_subscribed;
    const char *acked_version; /* last version ACKed, NULL before the first ACK */
    int64_t acked_ms;          /* wall clock ms of that ACK */
    const char *nack_version;  /* the version last NACKed, NULL if none ever */
    const char *nack_message;  /* its error_detail message */
    int64_t nack_ms;
    uint64_t n_responses, n_acks, n_nacks;
    size_t n_active;        /* resources in the current snapshot */
    xg_res *const *warming; /* LDS/CDS resources waiting for their dependencies (references) */
    size_t n_warming;
    const char *const *missing; /* referenced but not held, sorted (see docs/xds.md) */
    size_t n_missing;
    uint64_t unknown_fields;  /* resources accepted despite unknown fields (--ignore-unknown-fields) */
    int64_t last_change_ms;   /* wall clock of the last change to the active set, 0 if never */
    int64_t last_response_ms; /* wall clock of the last response, 0 if never */
} xg_xds_type_status;

typedef struct xg_xds_status {
    xg_arena arena;     /* owns the struct and every string and array below */
    const char *server; /* "host:port" */
    const char *mode;   /* "sotw" or "delta" */
    xg_ads_conn conn;
    const char *conn_detail; /* the transport's last words on the connection */
    int64_t conn_since_ms;   /* wall clock of the last connection state change */
    uint64_t generation;     /* of the last snapshot published, 0 before the first */
    int64_t generation_ms;   /* when it was published */
    bool ready;              /* first LDS and CDS applied and warmed (latched) */
    bool ignore_unknown;
    uint32_t initial_fetch_timeout_ms;
    xg_xds_type_status types[XG_XDS_NTYPES];
} xg_xds_status;

/* Drops the warming references and frees the arena (any thread). NULL is a no-op. */
void xg_xds_status_free(xg_xds_status *st);

/* "connecting", "connected", "backoff", "stopped". */
const char *xg_ads_conn_name(xg_ads_conn c);

#endif
