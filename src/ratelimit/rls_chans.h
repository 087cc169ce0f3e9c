/* The rate limit client's channel cache (rls_client.c): one channel per
 * distinct (URI or cluster, key, target, :authority), so that filters or
 * workers that disagree about where the service is (a filter with and one
 * without envoy_grpc.authority, a target_uri spelled like a cluster name,
 * workers on different snapshots while a host set changes) each keep a
 * warm channel instead of closing each other's: closing a channel fails
 * its calls in flight, and a new one starts cold inside a deadline of a
 * few milliseconds. A channel is never closed because another was asked
 * for; the client's completion thread retires idle ones (sweep). Not
 * thread-safe: the client calls every function under its mutex, except
 * xg_rls_chans_free_list, which runs outside it on what sweep unlinked.
 * The gRPC side comes in as two callbacks so the cache is testable alone. */
#ifndef XG_RATELIMIT_RLS_CHANS_H
#define XG_RATELIMIT_RLS_CHANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A channel with no call in flight and no new call for this long is closed
 * once another channel of its (kind, key, authority) was used since (its
 * hosts changed); any channel idle for the longer time is closed (its
 * cluster or URI left the configuration, or the filter sees no traffic). */
#define XG_RLS_CHAN_SUPERSEDED_S 10.0
#define XG_RLS_CHAN_UNUSED_S 300.0

/* Where one call goes: a channel target ("ipv4:127.0.0.1:81,127.0.0.1:82"
 * or a URI), with the :authority to send; all strings borrowed. */
typedef struct xg_rls_dest {
    bool uri; /* key is a google_grpc target_uri, else an envoy_grpc cluster name */
    const char *key;
    const char *target;
    const char *authority; /* NULL: the gRPC core's default (from the target) */
} xg_rls_dest;

typedef struct xg_rls_chan {
    struct xg_rls_chan *next;
    bool uri;
    char *key, *target, *authority; /* owned copies */
    void *handle;                   /* the gRPC channel */
    uint32_t calls;                 /* in flight */
    double last_used;               /* when the last call started (monotonic seconds) */
    bool doomed;                    /* sweep's mark */
} xg_rls_chan;

typedef struct xg_rls_chans {
    xg_rls_chan *head;
    uint32_t n;
    void *(*make)(const xg_rls_dest *d); /* a new channel, NULL on failure */
    void (*close)(void *handle);         /* after its last call finished */
} xg_rls_chans;

void xg_rls_chans_init(xg_rls_chans *cs, void *(*make)(const xg_rls_dest *d), void (*close)(void *handle));
/* The channel for d, made if none matches, with one more call counted on
 * it (until xg_rls_chans_put); NULL when it cannot be made. Borrowed: valid
 * while its calls are not all put. */
xg_rls_chan *xg_rls_chans_get(xg_rls_chans *cs, const xg_rls_dest *d, double now);
/* A call that xg_rls_chans_get counted on c has finished (or never started). */
void xg_rls_chans_put(xg_rls_chan *c);
/* Unlinks the channels due for retirement at now (see above) and returns
 * them as a list for xg_rls_chans_free_list. */
xg_rls_chan *xg_rls_chans_sweep(xg_rls_chans *cs, double now);
/* Closes and frees a list sweep returned (or every channel, at dispose). */
void xg_rls_chans_free_list(xg_rls_chans *cs, xg_rls_chan *list);
/* Closes every channel; calls must have finished. */
void xg_rls_chans_dispose(xg_rls_chans *cs);

#endif
