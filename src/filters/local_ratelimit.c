/* envoy.filters.http.local_ratelimit: token buckets kept in the proxy.
 * For the fraction of requests filter_enabled selects, the request takes a
 * token from each configured descriptor its route's rate_limits produce
 * (strictest fill rate first; the first empty one refuses), then from the
 * default bucket when no descriptor matched or always_consume_default is
 * set. Refused and enforced (filter_enforced): a local reply with status
 * (429), response_headers_to_add, flag RL and details "local_rate_limited";
 * refused but not enforced: request_headers_to_add_when_not_enforced and
 * the request goes on. The x-ratelimit-* headers describe the bucket that
 * decided. A LocalRateLimit in typed_per_filter_config replaces the
 * filter's config for that route.
 *
 * Buckets are process-wide (config/local_ratelimit.h) and taken with one
 * compare-and-swap each, or per downstream connection (http/conn_state.h),
 * without any lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/local_ratelimit.h"
#include "http/conn_state.h"
#include "http/stream.h"
#include "ratelimit/descriptor.h"
#include "router/header_mutation.h"
#include "upstream/resp_flags.h"

#define LOCAL_RL_TYPE "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
#define PPM 1000000u

typedef struct lrl_filter {
    xg_filter base; /* first */
    const xg_local_ratelimit_config *cfg;
    bool decided; /* a bucket was consulted: limit/remaining/reset are set */
    bool replied; /* the local reply is ours: response_headers_to_add */
    uint32_t limit, remaining, reset;
} lrl_filter;

/* --- per-connection buckets --- */

/* A connection's buckets, one per limit it used (a limit's id is the hash of
 * where it is configured and its parameters, so every xDS change to a limit
 * and every per-route config a long-lived connection touches is a new one).
 * A request looks at the last bucket used first (one or two limits is the
 * common case), then scans. When the array is full, buckets of limits no
 * config holds any more are dropped before it grows (a registry look-up
 * each, only then), and past MAX_CONN_BUCKETS live ones the least recently
 * used is replaced: memory stays bounded by the limits configured. */
#define PRUNE_AT 8
#define MAX_CONN_BUCKETS 256

typedef struct conn_bucket {
    uint64_t id;
    uint64_t used; /* time of the last take, for replacing the least recently used */
    xg_tb_state st;
} conn_bucket;

typedef struct conn_buckets {
    xg_conn_state head; /* first */
    uint32_t n, cap, last;
    conn_bucket *v;
} conn_buckets;

static const char conn_tag;

static void conn_buckets_free(xg_conn_state *st)
{
    conn_buckets *cb = (conn_buckets *)st;
    free(cb->v);
    free(cb);
}

static conn_buckets *conn_buckets_of(xg_stream *s)
{
    conn_buckets *cb = (conn_buckets *)xg_stream_conn_state(s, &conn_tag);
    if (cb != NULL || (cb = calloc(1, sizeof(*cb))) == NULL)
        return cb;
    cb->head.tag = &conn_tag;
    cb->head.free = conn_buckets_free;
    xg_stream_conn_state_add(s, &cb->head);
    return cb;
}

/* Drops the buckets whose limit is registered no more. */
static void conn_prune(conn_buckets *cb)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < cb->n; i++)
        if (xg_tbucket_alive(cb->v[i].id))
            cb->v[k++] = cb->v[i];
    cb->n = k;
    cb->last = 0;
}

/* A slot for a new bucket: free room, else room made by pruning, growing or
 * replacing the least recently used. NULL on ENOMEM. */
static conn_bucket *conn_slot(conn_buckets *cb)
{
    if (cb->n == cb->cap && cb->cap >= PRUNE_AT)
        conn_prune(cb);
    if (cb->n == cb->cap && cb->cap >= MAX_CONN_BUCKETS) {
        uint32_t old = 0;
        for (uint32_t i = 1; i < cb->n; i++)
            if (cb->v[i].used < cb->v[old].used)
                old = i;
        cb->last = old;
        return &cb->v[old];
    }
    if (cb->n == cb->cap) {
        uint32_t cap = cb->cap ? cb->cap * 2 : 4;
        conn_bucket *v = realloc(cb->v, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        cb->v = v;
        cb->cap = cap;
    }
    cb->last = cb->n;
    return &cb->v[cb->n++];
}

/* cb's bucket for limit l, made full on first use. NULL on ENOMEM. */
static xg_tb_state *conn_bucket_for(conn_buckets *cb, const xg_lrl_limit *l, uint64_t now)
{
    conn_bucket *b = cb->last < cb->n && cb->v[cb->last].id == l->id ? &cb->v[cb->last] : NULL;
    for (uint32_t i = 0; b == NULL && i < cb->n; i++)
        if (cb->v[i].id == l->id) {
            b = &cb->v[i];
            cb->last = i;
        }
    if (b == NULL) {
        if ((b = conn_slot(cb)) == NULL)
            return NULL;
        b->id = l->id;
        xg_tb_init(&b->st, &l->p, now);
    }
    b->used = now;
    return &b->st;
}

/* This connection's bucket for limit l. NULL on ENOMEM. */
static xg_tb_state *conn_state(xg_stream *s, const xg_lrl_limit *l, uint64_t now)
{
    conn_buckets *cb = conn_buckets_of(s);
    return cb != NULL ? conn_bucket_for(cb, l, now) : NULL;
}

/* --- the decision --- */

/* Takes a token of l; records what the bucket says for the x-ratelimit headers. */
static bool take(lrl_filter *lf, const xg_lrl_limit *l, uint64_t now)
{
    xg_tb_state *st = lf->cfg->per_connection ? conn_state(lf->base.stream, l, now)
                      : l->shared != NULL     ? xg_tbucket_state(l->shared)
                                              : NULL;
    if (st == NULL)
        return true; /* no memory for a per-connection bucket: limit nothing rather than everything */
    xg_tb_view v;
    bool ok = xg_tb_take(st, &l->p, now, &v);
    if (!lf->decided || !ok) {
        lf->decided = true;
        lf->limit = l->p.max_tokens;
        lf->remaining = v.remaining;
        lf->reset = v.reset_s;
    }
    return ok;
}

static bool entries_match(const xg_lrl_descriptor *d, const xg_rl_descriptor *r)
{
    if (d->n != r->n)
        return false;
    for (uint32_t i = 0; i < d->n; i++) {
        const xg_rl_entry *e = &r->entries[i];
        if (e->key.len != d->keys[i].len || e->value.len != d->values[i].len ||
            memcmp(e->key.s, d->keys[i].s, e->key.len) != 0 || memcmp(e->value.s, d->values[i].s, e->value.len) != 0)
            return false;
    }
    return true;
}

/* Envoy's requestAllowed: matched descriptors in the configured order, then the default bucket. */
static bool allowed(lrl_filter *lf, const xg_rl_descriptors *req, uint64_t now)
{
    const xg_local_ratelimit_config *c = lf->cfg;
    bool matched = false;
    for (uint32_t i = 0; i < c->n_descriptors; i++) {
        for (uint32_t k = 0; k < req->n; k++) {
            if (!entries_match(&c->descriptors[i], &req->items[k]))
                continue;
            matched = true;
            if (!take(lf, &c->descriptors[i].limit, now))
                return false;
            break;
        }
    }
    if (c->has_bucket && (!matched || c->always_consume_default))
        return take(lf, &c->limit, now);
    return true;
}

/* --- the filter --- */

static const xg_local_ratelimit_config *settings(const xg_filter *f)
{
    const xg_typed_config *tc = xg_filter_per_route_config(f);
    if (tc != NULL && tc->translated != NULL && tc->translated_type != NULL &&
        strcmp(tc->translated_type, LOCAL_RL_TYPE) == 0)
        return tc->translated;
    return f->config->translated;
}

/* A second independent draw from the request's random (enforced is decided apart from enabled). */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static bool in_fraction(uint64_t r, uint32_t ppm)
{
    return ppm >= PPM || r % PPM < ppm;
}

static xg_filter_status refuse(lrl_filter *lf, xg_headers *h)
{
    xg_stream *s = lf->base.stream;
    if (!in_fraction(mix(s->random), lf->cfg->enforced_ppm)) {
        xg_hvar_ctx ctx = xg_stream_hvar_ctx(s, NULL);
        if (xg_header_mutations_apply(&lf->cfg->request_headers, h, &ctx) != 0)
            xg_filter_local_reply(&lf->base, 500, NULL, 0, "internal_error");
        return XG_FILTER_CONTINUE;
    }
    lf->replied = true;
    /* seen: encode_headers below adds the configured headers to it */
    xg_filter_local_reply_seen(&lf->base, lf->cfg->status, "local_rate_limited", XG_RF_RL, "local_rate_limited");
    return XG_FILTER_STOP;
}

static xg_filter_status decode_headers(xg_filter *f, xg_headers *h, bool end_stream)
{
    (void)end_stream;
    lrl_filter *lf = (lrl_filter *)f;
    xg_stream *s = f->stream;
    const xg_local_ratelimit_config *c = lf->cfg = settings(f);
    if (c == NULL || !in_fraction(s->random, c->enabled_ppm))
        return XG_FILTER_CONTINUE;
    xg_rl_descriptors req = {0};
    if (c->n_descriptors > 0 && xg_rl_descriptors_build(s, c->stage, c->vh_rate_limits, &req) != 0) {
        xg_filter_local_reply(f, 500, NULL, 0, "internal_error");
        return XG_FILTER_STOP;
    }
    if (allowed(lf, &req, xg_tb_now_ns()))
        return XG_FILTER_CONTINUE;
    return refuse(lf, h);
}

static int add_number(xg_headers *h, const char *name, uint32_t v)
{
    char n[12];
    int len = snprintf(n, sizeof(n), "%u", v);
    return xg_headers_add_copy(h, name, strlen(name), n, (size_t)len);
}

static xg_filter_status encode_headers(xg_filter *f, xg_headers *h, bool end_stream)
{
    (void)end_stream;
    lrl_filter *lf = (lrl_filter *)f;
    xg_stream *s = f->stream;
    int rc = 0;
    if (lf->replied) {
        xg_hvar_ctx ctx = xg_stream_hvar_ctx(s, NULL);
        rc = xg_header_mutations_apply(&lf->cfg->response_headers, h, &ctx);
        if (rc == 0 && s->is_grpc && lf->cfg->resource_exhausted)
            rc = xg_headers_set(h, "grpc-status", 11, "8", 1, false); /* RESOURCE_EXHAUSTED, not UNAVAILABLE */
    }
    if (rc == 0 && lf->decided && lf->cfg->x_ratelimit_headers) {
        rc = add_number(h, "x-ratelimit-limit", lf->limit);
        rc = rc ? rc : add_number(h, "x-ratelimit-remaining", lf->remaining);
        rc = rc ? rc : add_number(h, "x-ratelimit-reset", lf->reset);
    }
    (void)rc; /* out of memory in the stream's arena: the response goes without the extra headers */
    return XG_FILTER_CONTINUE;
}

static const xg_filter_vt lrl_vt = {
    .name = "envoy.filters.http.local_ratelimit",
    .decode_headers = decode_headers,
    .encode_headers = encode_headers,
};

xg_filter *xg_local_ratelimit_filter_create(struct xg_stream *s, const xg_http_filter *cfg)
{
    (void)cfg;
    lrl_filter *lf = xg_arena_calloc(&s->arena, 1, sizeof(*lf));
    if (lf == NULL)
        return NULL;
    lf->base.vt = &lrl_vt;
    return &lf->base;
}
