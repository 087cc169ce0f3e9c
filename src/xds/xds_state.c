/* The xDS client state: lifecycle and the ADS handler's entry points. One
 * response is decoded and validated resource by resource, the valid ones
 * applied (gRFC A46), then warming, subscriptions and readiness are brought
 * up to date and a snapshot is published if the active set changed. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/xds_state_int.h"

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Not injectable like mono_ms: it only dates a snapshot for the log line
 * that says how long it took to reach every worker (worker_listeners.c). */
static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t real_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

static int64_t real_wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int xg_xds_state_new(const xg_xds_state_options *o, const xg_xds_sink *sink, xg_xds_state **out)
{
    xg_xds_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return XG_ENOMEM;
    st->server = strdup(o->server ? o->server : "");
    bool oom = st->server == NULL;
    for (int t = 0; t < XG_XDS_NTYPES; t++) {
        xg__xds_map_init(&st->types[t].map);
        xg__xds_map_init(&st->types[t].by_hash);
        st->types[t].version = strdup("");
        oom |= st->types[t].version == NULL;
        st->xlate[t] = o->xlate ? o->xlate[t] : NULL;
    }
    if (oom) {
        xg_xds_state_free(st);
        return XG_ENOMEM;
    }
    st->delta = o->delta;
    st->ignore_unknown = o->ignore_unknown;
    st->default_timeout_ms = o->initial_fetch_timeout_ms;
    st->mono_ms = o->mono_ms ? o->mono_ms : real_mono_ms;
    st->wall_ms = o->wall_ms ? o->wall_ms : real_wall_ms;
    st->release_memory = o->release_memory;
    st->sink = *sink;
    st->conn = XG_ADS_CONNECTING;
    st->conn_since_ms = st->wall_ms();
    *out = st;
    return 0;
}

void xg_xds_state_set_transport(xg_xds_state *st, const xg_xds_transport *t)
{
    st->transport = *t;
}

static void free_type(xg__xds_type_state *ts)
{
    void **vals;
    size_t n;
    if (xg__xds_map_values(&ts->map, &vals, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            xg__xds_entry *e = vals[i];
            xg__xds_ver_dispose(&e->active);
            xg__xds_ver_dispose(&e->warming);
            free(e->name);
            free(e);
        }
        free(vals);
    }
    xg__xds_map_dispose(&ts->map);
    xg__xds_map_dispose(&ts->by_hash);
    for (size_t i = 0; i < ts->n_subscribed; i++)
        free(ts->subscribed[i]);
    free(ts->subscribed);
    free(ts->version);
    free(ts->nack_version);
    free(ts->nack_message);
    xg__xds_changed_dispose(ts);
    xg_snap_table_unref(ts->table);
}

void xg_xds_state_free(xg_xds_state *st)
{
    if (st == NULL)
        return;
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        free_type(&st->types[t]);
    free(st->server);
    free(st->conn_detail);
    free(st->timers);
    free(st);
}

void xg__xds_finish_change(xg_xds_state *st)
{
    xg__xds_warm_promote(st);
    if (st->refs_dirty) {
        int rc = xg__xds_refresh_subscriptions(st);
        if (rc != 0)
            xg_log_error("xds: updating subscriptions: %s", xg_strerror(rc));
        st->refs_dirty = rc != 0; /* try again next time */
    }
    xg__xds_update_ready(st);
    xg__xds_publish(st);
}

static void set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = strdup(src ? src : "");
}

static void count_items(const xg__xds_batch *b, size_t counts[4])
{
    memset(counts, 0, 4 * sizeof(counts[0]));
    for (size_t i = 0; i < b->n; i++)
        counts[b->items[i].state]++;
}

/* Version bookkeeping for ACK/NACK, and one log line per response. */
static void record(xg_xds_state *st, const xg__xds_batch *b, const char *nack, bool nacked)
{
    const xg_xds_response *r = b->r;
    xg__xds_type_state *ts = &st->types[r->type];
    int64_t now = st->wall_ms();
    size_t c[4];
    count_items(b, c);
    ts->seen = true;
    ts->n_responses++;
    ts->last_response_ms = now;
    if (nacked) {
        ts->n_nacks++;
        ts->nack_ms = now;
        set_str(&ts->nack_version, r->version_info);
        set_str(&ts->nack_message, nack);
        xg_log_warn("xds: NACK %s version \"%s\" (%zu rejected, %zu applied): %s", xg_xds_type_abbrev(r->type),
                    r->version_info ? r->version_info : "", c[XG_ITEM_REJECTED], c[XG_ITEM_NEW], nack);
        return;
    }
    ts->n_acks++;
    ts->acked_ms = now;
    set_str(&ts->version, r->version_info);
    /* A response that changes nothing (a re-send) is routine: debug, not info. */
    xg_log(c[XG_ITEM_NEW] || b->n_deleted ? XG_LOG_INFO : XG_LOG_DEBUG,
           "xds: ACK %s version \"%s\": %zu resource%s, %zu new or changed, %zu unchanged, %zu removed",
           xg_xds_type_abbrev(r->type), r->version_info ? r->version_info : "", b->n, b->n == 1 ? "" : "s",
           c[XG_ITEM_NEW], c[XG_ITEM_SAME], b->n_deleted);
}

/* Decoding a response holds every decoded message at once (5+ MB for 10,000
 * routes), and an update frees the versions it replaces (on whichever thread
 * lets go last): malloc keeps that as free space scattered between the
 * resources that stay, so without a release the process would keep the peak
 * of its last update resident. Releasing is not free (at 10,000 routes tens
 * of milliseconds, each freed range a madvise that all threads' TLBs feel),
 * so it waits until updates have been quiet for a while. */
static void on_release(void *arg)
{
    xg_xds_state *st = arg;
    int64_t quiet = st->mono_ms() - st->last_response_ms;
    if (quiet < XG_XDS_RELEASE_QUIET_MS &&
        st->transport.post(st->transport.ctx, (uint32_t)(XG_XDS_RELEASE_QUIET_MS - quiet), on_release, st) == 0)
        return;
    st->release_armed = false;
    st->release_memory();
}

static void arm_release(xg_xds_state *st)
{
    st->last_response_ms = st->mono_ms();
    if (st->release_memory == NULL || st->release_armed || st->transport.post == NULL)
        return;
    if (st->transport.post(st->transport.ctx, XG_XDS_RELEASE_QUIET_MS, on_release, st) == 0)
        st->release_armed = true;
}

static int on_response(void *ctx, const xg_xds_response *r, xg_buf *nack)
{
    xg_xds_state *st = ctx;
    xg__xds_batch b = {.r = r};
    size_t start = nack->len;
    st->response_us = mono_us();
    int rc = xg__xds_decode(st, &b);
    if (rc == 0)
        rc = xg__xds_apply(st, &b);
    if (rc != 0)
        xg_buf_printf(nack, "xdsgate could not process the %s response: %s", xg_xds_type_abbrev(r->type),
                      xg_strerror(rc));
    else if (b.n_rejected > 0)
        xg__xds_nack_text(&b, nack);
    bool nacked = rc != 0 || b.n_rejected > 0;
    record(st, &b, nack->data ? nack->data + start : "", nacked);
    xg__xds_batch_dispose(&b);
    xg__xds_finish_change(st);
    st->response_us = 0; /* a snapshot a warming timer publishes later was not made by this response */
    arm_release(st);
    return nacked ? XG_EINVAL : 0;
}

static void on_conn(void *ctx, xg_ads_conn state, const char *detail)
{
    xg_xds_state *st = ctx;
    if (state != st->conn)
        st->conn_since_ms = st->wall_ms();
    st->conn = state;
    set_str(&st->conn_detail, detail);
    bool say = detail && *detail && strcmp(detail, xg_ads_conn_name(state)) != 0;
    xg_log_debug("xds: connection %s%s%s", xg_ads_conn_name(state), say ? ": " : "", say ? detail : "");
    xg__xds_publish(st);
}

xg_ads_handler xg_xds_state_handler(xg_xds_state *st)
{
    return (xg_ads_handler){.on_response = on_response, .on_conn = on_conn, .ctx = st};
}
