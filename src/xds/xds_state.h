/* The xDS client state: the ADS handler between the transport (ads.h) and
 * the translators (xlate.h). For every response it decodes and validates
 * each resource, applies the valid ones (gRFC A46), NACKs the rest with one
 * message naming every rejected resource, makes subscriptions follow the
 * config, warms listeners and clusters until their dependencies arrive (or
 * the initial fetch timeout), and publishes a new snapshot when the active
 * set changed plus a status view for /xds. Everything runs on the xds thread
 * except new/free. See docs/xds.md for the behaviour users see. */
#ifndef XG_XDS_XDS_STATE_H
#define XG_XDS_XDS_STATE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/snapshot.h"
#include "xds/ads.h"
#include "xds/xds_status.h"
#include "xds/xlate.h"

typedef struct xg_xds_state xg_xds_state;

/* A translator: xg_xlate_listener & co. behind one signature (see xlate.h). */
typedef int (*xg_xds_xlate_fn)(xg_xlate *x, const ProtobufCMessage *m);

/* What the state needs from the transport; xg_xds_ads_transport wraps an xg_ads. */
typedef struct xg_xds_transport {
    int (*subscribe)(void *ctx, xg_xds_type t, const char *const *names, size_t n);
    int (*post)(void *ctx, uint32_t delay_ms, void (*fn)(void *arg), void *arg);
    void *ctx;
} xg_xds_transport;

/* Where results go, called on the xds thread: s is a new snapshot carrying one
 * reference for the sink (NULL when the active config did not change), st a
 * new status owned by the sink from now on (xg_xds_status_free). Must not block. */
typedef struct xg_xds_sink {
    void (*publish)(void *ctx, xg_snapshot *s, xg_xds_status *st);
    void *ctx;
} xg_xds_sink;

typedef struct xg_xds_state_options {
    const char *server; /* shown in /xds */
    bool delta;
    bool ignore_unknown;               /* --ignore-unknown-fields */
    uint32_t initial_fetch_timeout_ms; /* for config sources without their own; 0 waits forever */
    const xg_xds_xlate_fn *xlate;      /* XG_XDS_NTYPES translators, e.g. xg_xds_default_xlate() */
    int64_t (*mono_ms)(void);          /* clocks, NULL for the real ones (tests inject fakes) */
    int64_t (*wall_ms)(void);
    /* Called on the xds thread once responses have stopped for
     * XG_XDS_RELEASE_QUIET_MS after one arrived: hands the memory that
     * decoding and replaced resources left free back to the system (main:
     * malloc_trim). Off the apply path, and once per burst of updates: it
     * costs milliseconds at scale. NULL: never. */
    void (*release_memory)(void);
} xg_xds_state_options;

#define XG_XDS_RELEASE_QUIET_MS 1000

/* Copies the options. The sink must outlive the state. 0 or XG_ENOMEM. */
int xg_xds_state_new(const xg_xds_state_options *o, const xg_xds_sink *sink, xg_xds_state **out);
/* Sets the transport; before the first response (the transport is created
 * with this state's handler, so it comes second). */
void xg_xds_state_set_transport(xg_xds_state *st, const xg_xds_transport *t);
/* The handler to give xg_ads_new; its ctx is st. */
xg_ads_handler xg_xds_state_handler(xg_xds_state *st);
/* After the transport has stopped (no callback may run any more). NULL is a no-op. */
void xg_xds_state_free(xg_xds_state *st);

/* Production glue (xds_glue.c): the real translators, and a transport over an xg_ads. */
const xg_xds_xlate_fn *xg_xds_default_xlate(void);
xg_xds_transport xg_xds_ads_transport(xg_ads *a);

#endif
