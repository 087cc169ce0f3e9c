/* Internals of the xDS client state, shared by its files:
 *   xds_state.c   lifecycle, the handler entry points, finishing a change
 *   xds_decode.c  one response's resources: decode, name, duplicates, identity, unknown fields, translation
 *   xds_pbinfo.c  listener addresses and initial fetch timeouts read from the protos
 *   xds_apply.c   cross-resource checks, installing and deleting, the NACK text
 *   xds_subs.c    subscriptions that follow the config, dropping what is no longer referenced
 *   xds_warm.c    warming, initial fetch timeouts, readiness
 *   xds_build.c   snapshot building and publishing
 *   xds_status.c  the status view for /xds
 *   xds_map.c     the string-keyed hash map used throughout
 * All of it runs on the xds thread. */
#ifndef XG_XDS_XDS_STATE_INT_H
#define XG_XDS_XDS_STATE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "xds/xds_state.h"

/* --- string-keyed map (keys borrowed: they must outlive their node) --- */

typedef struct xg__xds_map_node {
    struct xg__xds_map_node *next;
    uint64_t hash;
    const char *key;
    void *val;
} xg__xds_map_node;

typedef struct xg__xds_map {
    xg__xds_map_node **buckets;
    size_t nbuckets; /* power of two, or 0 before the first put */
    size_t n;
} xg__xds_map;

void xg__xds_map_init(xg__xds_map *m);
/* Frees the nodes (not keys or values). */
void xg__xds_map_dispose(xg__xds_map *m);
void *xg__xds_map_get(const xg__xds_map *m, const char *key);
/* Inserts or replaces. 0 or XG_ENOMEM. */
int xg__xds_map_put(xg__xds_map *m, const char *key, void *val);
/* Removes key; returns its value or NULL. */
void *xg__xds_map_del(xg__xds_map *m, const char *key);
/* The same map keyed by 64-bit hashes instead of strings (several values may
 * share a hash): the first value with hash h, insertion, and removal of the
 * node holding (h, val). */
void *xg__xds_map_get_hash(const xg__xds_map *m, uint64_t h);
int xg__xds_map_put_hash(xg__xds_map *m, uint64_t h, void *val);
void xg__xds_map_del_hash(xg__xds_map *m, uint64_t h, const void *val);
/* The values, in no particular order, into a new malloc'd array (*n set; NULL
 * and n 0 when empty). XG_ENOMEM on failure. */
int xg__xds_map_values(const xg__xds_map *m, void ***out, size_t *n);

/* --- the store: what the client holds per type and name --- */

/* One accepted version of a resource and what the state keeps from its proto. */
typedef struct xg__xds_ver {
    xg_res *res;  /* one reference; NULL when the slot is empty */
    char **addrs; /* listeners: "address:port" keys it binds (heap) */
    size_t n_addrs;
    int64_t fetch_timeout_ms; /* its config source's initial_fetch_timeout, -1 if not set */
} xg__xds_ver;

typedef struct xg__xds_entry {
    char *name;            /* heap; the map's key */
    xg__xds_ver active;    /* in the snapshot */
    xg__xds_ver warming;   /* LDS/CDS: a newer version waiting for its dependencies */
    int64_t warm_deadline; /* monotonic ms when warming gives up waiting; INT64_MAX never */
    bool absent;           /* delta: the server said it does not exist (RDS/EDS/SDS) */
} xg__xds_entry;

typedef struct xg__xds_type_state {
    xg__xds_map map;     /* name -> xg__xds_entry */
    xg__xds_map by_hash; /* xxh64 of a held version's bytes -> its entry: re-sends are recognised undecoded */
    bool seen;           /* at least one response received */
    bool dirty;          /* the active set changed since the last snapshot */
    char **changed;      /* names whose active version changed since then (heap), for an incremental table */
    size_t n_changed, cap_changed;
    bool changed_all; /* too many, or unknown: the next table is rebuilt whole */
    char *version;    /* last ACKed version_info ("" before) */
    int64_t acked_ms;
    char *nack_version; /* NULL if never NACKed */
    char *nack_message;
    int64_t nack_ms;
    uint64_t n_responses, n_acks, n_nacks;
    char **subscribed; /* RDS/EDS/SDS: current subscription, sorted, heap */
    size_t n_subscribed;
    uint64_t unknown_fields;
    int64_t last_change_ms;
    int64_t last_response_ms;
    xg_snap_table *table; /* the table of the last snapshot (reference) */
    size_t res_bytes;     /* arena bytes the last resource of this type translated into: the next one's size hint */
} xg__xds_type_state;

struct xg_xds_state {
    char *server;
    bool delta;
    bool ignore_unknown;
    uint32_t default_timeout_ms;
    xg_xds_xlate_fn xlate[XG_XDS_NTYPES];
    int64_t (*mono_ms)(void);
    int64_t (*wall_ms)(void);
    xg_xds_sink sink;
    xg_xds_transport transport;
    xg__xds_type_state types[XG_XDS_NTYPES];
    uint64_t generation;
    int64_t generation_ms;
    bool refs_dirty; /* listeners or clusters (active or warming) changed: subscriptions may have to follow */
    bool ready;
    xg_ads_conn conn;
    char *conn_detail;
    int64_t conn_since_ms;
    int64_t *timers; /* due times (monotonic ms) of posted warming timers not yet fired */
    size_t n_timers, cap_timers;
    void (*release_memory)(void);
    bool release_armed;       /* its timer is posted */
    int64_t last_response_ms; /* monotonic: when the last response was processed */
    int64_t response_us;      /* CLOCK_MONOTONIC us when the response being handled arrived; 0 between responses */
};

/* --- one response being processed --- */

typedef enum xg__xds_item_state {
    XG_ITEM_REJECTED, /* error holds why; never applied */
    XG_ITEM_IGNORED,  /* not subscribed (a stale or unsolicited resource): dropped silently */
    XG_ITEM_SAME,     /* byte-identical to what is held: nothing to do */
    XG_ITEM_NEW,      /* translated into ver, to install */
} xg__xds_item_state;

typedef struct xg__xds_item {
    size_t index;          /* position in the response */
    const char *name;      /* NULL when it could not be determined */
    ProtobufCMessage *msg; /* decoded message, NULL if it did not decode */
    bool scratch;          /* msg lives in the batch's scratch mappings (xds_decode.c), not malloc's */
    xg__xds_item_state state;
    uint64_t hash;    /* xxh64 of the serialized resource */
    bool same_active; /* SAME as the active version while another one warms */
    char *error;      /* REJECTED: "path: reason" (heap) */
    xg__xds_ver ver;  /* NEW */
} xg__xds_item;

typedef struct xg__xds_batch {
    const xg_xds_response *r;
    xg__xds_item *items;
    size_t n;
    xg__xds_map names; /* name -> first item with it (for duplicates and SotW deletion) */
    bool unnamed;      /* some resource could not be named: SotW deletion is skipped */
    size_t n_rejected;
    size_t n_deleted;          /* held resources this response deleted or declared absent */
    /* Where the decoded messages live (xds_decode.c): mappings of the
     * response's own, unmapped with it. */
    ProtobufCAllocator pb_alloc;
    struct xg__xds_scratch *scratch;
    size_t decoded_bytes; /* serialized bytes decoded so far */
} xg__xds_batch;

/* xds_decode.c */
int xg__xds_decode(xg_xds_state *st, xg__xds_batch *b);
void xg__xds_batch_dispose(xg__xds_batch *b);
void xg__xds_ver_dispose(xg__xds_ver *v);
/* Marks an item rejected with a printf-style reason (frees its ver). */
void xg__xds_reject(xg__xds_batch *b, xg__xds_item *it, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* xds_pbinfo.c: what the state reads from the proto itself, independent of
 * the translators: a listener's bound addresses, and the initial fetch
 * timeout of a listener's RDS or a cluster's EDS config source. */
int xg__xds_ver_extract(xg_xds_state *st, xg_xds_type t, const ProtobufCMessage *m, xg__xds_ver *v);

/* xds_apply.c */
int xg__xds_apply(xg_xds_state *st, xg__xds_batch *b);
/* Appends every rejection as `<Type> "<name>": <reason>` joined by "; ", bounded. */
void xg__xds_nack_text(const xg__xds_batch *b, xg_buf *out);
/* Puts ver (moved) into slot of e (&e->active or &e->warming), dropping what was there. */
void xg__xds_entry_set(xg_xds_state *st, xg_xds_type t, xg__xds_entry *e, xg__xds_ver *slot, xg__xds_ver *ver);
/* Empties slot of e. */
void xg__xds_entry_clear(xg_xds_state *st, xg_xds_type t, xg__xds_entry *e, xg__xds_ver *slot);
/* Deletes an entry of type t (its versions dropped), marking the type dirty if it had an active one. */
void xg__xds_entry_delete(xg_xds_state *st, xg_xds_type t, xg__xds_entry *e);
/* The entry for name, created empty if needed; NULL on ENOMEM. */
xg__xds_entry *xg__xds_entry_get(xg_xds_state *st, xg_xds_type t, const char *name);

/* xds_subs.c */
/* Recomputes the RDS/EDS/SDS names the held listeners and clusters refer to,
 * resubscribes types whose set changed, drops entries no longer referenced. */
int xg__xds_refresh_subscriptions(xg_xds_state *st);
bool xg__xds_is_subscribed(const xg_xds_state *st, xg_xds_type t, const char *name);

/* xds_warm.c */
/* Starts warming ver for entry e of type t (LDS/CDS) with a fresh deadline. */
void xg__xds_warm_start(xg_xds_state *st, xg__xds_entry *e);
/* Promotes every warming resource whose dependencies are all resolved or whose deadline passed. */
void xg__xds_warm_promote(xg_xds_state *st);
/* Latches readiness once LDS and CDS were received and nothing of theirs is warming. */
void xg__xds_update_ready(xg_xds_state *st);
size_t xg__xds_count_warming(const xg_xds_state *st, xg_xds_type t);

/* xds_status.c: a fresh status view, NULL when out of memory. */
xg_xds_status *xg__xds_build_status(const xg_xds_state *st);

/* xds_build.c */
/* Records that the active version of (t, name) changed (added, replaced or gone). */
void xg__xds_mark_changed(xg_xds_state *st, xg_xds_type t, const char *name);
void xg__xds_changed_dispose(xg__xds_type_state *ts);
/* Builds and hands the sink a snapshot (if any type is dirty) and a status. */
void xg__xds_publish(xg_xds_state *st);

/* xds_state.c */
/* Runs after anything changed the store: warming, subscriptions, readiness, publish. */
void xg__xds_finish_change(xg_xds_state *st);

#endif
