/* xg_res: one translated xDS resource (a Listener, RouteConfiguration, Cluster,
 * ClusterLoadAssignment or Secret) as the data path sees it. Immutable once
 * built; shared by every snapshot that contains it, so an update that keeps a
 * resource keeps the very same object. Refcounted because snapshots cross
 * threads; the last unref (any thread) frees the whole resource in one go. */
#ifndef XG_CONFIG_RESOURCE_H
#define XG_CONFIG_RESOURCE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

typedef enum xg_res_type {
    XG_RES_LISTENER,
    XG_RES_ROUTE_CONFIG,
    XG_RES_CLUSTER,
    XG_RES_ENDPOINTS, /* ClusterLoadAssignment */
    XG_RES_SECRET,
    XG_RES_NTYPES,
} xg_res_type;

/* A reference from one resource to another, by name: a listener's RDS route
 * config or SDS secret, a cluster's EDS service name, a route's cluster. */
typedef struct xg_res_dep {
    xg_res_type type;
    const char *name;
} xg_res_dep;

typedef struct xg_res {
    atomic_int refs;
    xg_res_type type;
    xg_arena arena;          /* owns this struct, the body and every string below */
    const char *name;
    const char *version;     /* the version it arrived with (SotW version_info or delta Resource.version) */
    uint64_t hash;           /* xxh64 of raw: identical re-sends are recognised without rebuilding */
    const uint8_t *raw;      /* the serialized resource message, for /config_dump */
    size_t raw_len;
    int64_t last_updated_ms; /* wall-clock ms when this object was built */
    const xg_res_dep *deps;  /* every resource this one refers to */
    size_t n_deps;
    void *body;              /* xg_listener, xg_route_config, xg_cluster, xg_endpoints or xg_secret, by type */
} xg_res;

/* A new resource with one reference and an empty arena; NULL on ENOMEM. */
xg_res *xg_res_new(xg_res_type type, const char *name);
/* The same, with the arena's first chunk sized for size_hint bytes (0: the
 * default 4 KiB chunks): a thousand clusters of about 1 KiB each then take
 * about 1 KiB each, not 4. What does not fit spills into default chunks. */
xg_res *xg_res_new_sized(xg_res_type type, const char *name, size_t size_hint);
void xg_res_ref(xg_res *r);
/* Drops a reference; the last one frees the resource (any thread). NULL is a no-op. */
void xg_res_unref(xg_res *r);

/* "Listener", "RouteConfiguration", "Cluster", "ClusterLoadAssignment", "Secret". */
const char *xg_res_type_name(xg_res_type t);

#endif
