/* Test helpers for the upstream tests: a worker-like loop on the test
 * thread, a cluster runtime whose one host is a local test server, request
 * headers, and a "router" that records every callback of one upstream
 * request (and can consume response bytes slowly). Test code only. */
#ifndef XG_TEST_UPSTREAM_UTIL_H
#define XG_TEST_UPSTREAM_UTIL_H

#include <stdio.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/cluster_util.h"
#include "core/buf.h"
#include "core/error.h"
#include "event/loop.h"
#include "upstream/pool.h"
#include "upstream/resp_flags.h"
#include "upstream/upstream.h"

typedef struct tenv {
    xg_loop loop;
    xg_clusters *cs;
    xg_cluster_rt *rt;
} tenv;

static void tenv_init(tenv *e)
{
    memset(e, 0, sizeof *e);
    XG_ASSERT(xg_loop_init(&e->loop, 0) == 0);
    xg_clusters_opts o = {.seed = 5};
    xg_upstream_cluster_hooks(&o);
    XG_ASSERT(xg_clusters_new(&e->loop, &o, &e->cs) == 0);
}

/* One STATIC cluster "up" with the given endpoints; tweak edits its config. */
static xg_cluster_rt *tenv_cluster(tenv *e, const tep *eps, size_t n, void (*tweak)(xg_cluster *c))
{
    static uint64_t gen;
    xg_res *c = tu_cluster("up", eps, n, tweak);
    xg_snapshot *s = tu_snap(++gen, &c, 1, NULL, 0);
    XG_ASSERT(xg_clusters_on_snapshot(e->cs, s) == 0);
    xg_snapshot_unref(s);
    e->rt = xg_clusters_find(e->cs, "up", 2);
    return e->rt;
}

static xg_cluster_rt *tenv_local(tenv *e, uint16_t port, void (*tweak)(xg_cluster *c))
{
    tep ep = {"127.0.0.1", port, 1, XG_HEALTH_HEALTHY, 0};
    return tenv_cluster(e, &ep, 1, tweak);
}

static void on_deadline(struct ev_loop *ev, ev_timer *t, int revents)
{
    *(bool *)t->data = true;
}

static void on_tick(struct ev_loop *ev, ev_timer *t, int revents)
{
}

/* Runs the loop until pred(arg) holds or secs pass; true when it held. */
static bool tenv_run(tenv *e, bool (*pred)(void *arg), void *arg, double secs)
{
    bool expired = false;
    ev_timer t;
    ev_timer_init(&t, on_deadline, secs, 0);
    t.data = &expired;
    ev_timer_start(e->loop.ev, &t);
    /* Predicates on the server threads' state raise no event here: poll. */
    ev_timer tick;
    ev_timer_init(&tick, on_tick, 0.005, 0.005);
    ev_timer_start(e->loop.ev, &tick);
    /* Work the test queued from outside the loop (a cancel, a send) was fed
     * to libev as pending events: run them before blocking. */
    ev_run(e->loop.ev, EVRUN_NOWAIT);
    while (!(pred != NULL && pred(arg)) && !expired) {
        ev_run(e->loop.ev, EVRUN_ONCE);
        ev_run(e->loop.ev, EVRUN_NOWAIT); /* end-of-pass work (deferred closes) before the check */
    }
    ev_timer_stop(e->loop.ev, &t);
    ev_timer_stop(e->loop.ev, &tick);
    return pred != NULL && pred(arg);
}

/* Runs the loop for secs (timers, closes, deferred frees). */
static void tenv_spin(tenv *e, double secs)
{
    tenv_run(e, NULL, NULL, secs);
}

static void tenv_dispose(tenv *e)
{
    xg_clusters_free(e->cs);
    tenv_spin(e, 0.05); /* flushing closes and deferred frees */
    xg_loop_dispose(&e->loop);
}

/* The one host's pool of the right protocol (NULL if none yet). */
static xg_pool *tenv_pool(tenv *e)
{
    xg_host *h = e->rt->n_sets > 0 && e->rt->sets[0].n > 0 ? e->rt->sets[0].hosts[0] : NULL;
    return h != NULL ? h->pools : NULL;
}

/* --- a recording router --- */

typedef struct rec {
    tenv *e;
    xg_arena arena;
    xg_headers *req;
    xg_upstream_req *r;
    int start_rc;
    xg_upstream_reset why;
    xg_headers *resp;
    xg_headers *trailers;
    xg_buf body;
    bool ended; /* the response completed */
    bool reset; /* on_reset ran */
    xg_upstream_reset reason;
    bool reset_started;
    int send_ready;
    bool consume_now;  /* consume on_data bytes right away */
    size_t unconsumed; /* delivered and not yet consumed */
    size_t max_unconsumed;
    size_t received;   /* body bytes seen */
    bool keep_body;    /* append body bytes to body */
    uint32_t sum;      /* checksum of body bytes */
    bool pattern_ok;   /* /big: every byte is 'a' + offset % 26 */
    char end_host[64]; /* the upstream host as the terminal callback saw it */
} rec;

static void note_end_host(rec *c)
{
    const xg_host *h = xg_upstream_request_host(c->r);
    snprintf(c->end_host, sizeof c->end_host, "%s", h != NULL ? h->addr_str : "(none)");
}

static void r_headers(void *user, xg_headers *h, bool end)
{
    rec *c = user;
    c->resp = h;
    c->ended = end;
    if (end)
        note_end_host(c);
}

static void r_data(void *user, const char *p, size_t n, bool end)
{
    rec *c = user;
    for (size_t i = 0; i < n; i++)
        if (p[i] != (char)('a' + (c->received + i) % 26))
            c->pattern_ok = false;
    c->received += n;
    if (c->keep_body)
        xg_buf_append(&c->body, p, n);
    c->ended = end;
    if (end)
        note_end_host(c);
    if (c->consume_now) {
        xg_upstream_consumed(c->r, n);
    } else {
        c->unconsumed += n;
        if (c->unconsumed > c->max_unconsumed)
            c->max_unconsumed = c->unconsumed;
    }
}

static void r_trailers(void *user, xg_headers *t)
{
    rec *c = user;
    c->trailers = t;
    c->ended = true;
    note_end_host(c);
}

static void r_reset(void *user, xg_upstream_reset why, bool started)
{
    rec *c = user;
    c->reset = true;
    c->reason = why;
    c->reset_started = started;
    note_end_host(c);
}

static void r_send_ready(void *user)
{
    ((rec *)user)->send_ready++;
}

static const xg_upstream_cbs rec_cbs = {r_headers, r_data, r_trailers, r_reset, r_send_ready};

static void rec_init(rec *c, tenv *e, const char *method, const char *path)
{
    memset(c, 0, sizeof *c);
    c->e = e;
    c->consume_now = true;
    c->keep_body = true;
    c->pattern_ok = true;
    xg_arena_init(&c->arena, 0);
    xg_buf_init(&c->body);
    c->req = xg_headers_new(&c->arena);
    xg_headers_set_pseudo(c->req, ":method", 7, method, strlen(method));
    xg_headers_set_pseudo(c->req, ":path", 5, path, strlen(path));
    xg_headers_set_pseudo(c->req, ":authority", 10, "example.com", 11);
}

static int rec_start(rec *c, bool end_stream)
{
    xg_upstream_params p = {.cluster = c->e->rt,
                            .headers = c->req,
                            .end_stream = end_stream,
                            .arena = &c->arena,
                            .cb = &rec_cbs,
                            .user = c};
    c->start_rc = xg_upstream_request_start(&p, &c->r, &c->why);
    return c->start_rc;
}

static bool rec_finished(void *arg)
{
    rec *c = arg;
    return c->ended || c->reset || c->start_rc != 0;
}

static void rec_dispose(rec *c)
{
    xg_buf_dispose(&c->body);
    xg_arena_dispose(&c->arena);
}

static bool body_is(const rec *c, const char *s)
{
    return c->body.len == strlen(s) && memcmp(c->body.data, s, c->body.len) == 0;
}

#endif
