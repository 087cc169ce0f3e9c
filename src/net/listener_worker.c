/* The per-worker listener table: one entry per address (its socket, the
 * accept loop, the global connection limit), and per entry connection
 * groups, one per listener configuration the connections were accepted
 * under. A group
 * pins its set (and so the chains and TLS contexts its connections use);
 * a replaced or removed configuration's group drains and frees itself when
 * its last connection goes. Connections pass through the TLS inspector, the
 * chain's connection_limit filter and the handshake here, then go to the
 * upper layer. Worker thread only (the limit counters are shared atomics). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/bufpool.h"
#include "core/error.h"
#include "core/log.h"
#include "net/addr.h"
#include "net/conn_int.h"
#include "net/listener_int.h"

typedef struct wl wl;
typedef struct grp grp;

/* Connections accepted under one configuration of one address. */
struct grp {
    xg_conn_list list; /* first: on_remove finds the group */
    xg_listeners *ls;
    wl *w;                /* NULL once its address entry is gone */
    xg_listener_set *set; /* referenced: pins cfg */
    const xg__lcfg *cfg;
    bool draining;
    ev_timer drain_timer;
    grp *prev, *next; /* ls->groups */
};

/* One address on this worker. */
struct wl {
    xg_listeners *ls;
    xg__lsock *sock; /* referenced */
    int fd;          /* sock->fds[worker]; the entry watches it, the sock owns it */
    size_t addr;     /* index in cur->cfg->l->addrs */
    ev_io aio;
    ev_timer retry; /* accept paused after EMFILE */
    grp *cur;       /* the group new connections join */
    size_t active;  /* connections of this address, all groups */
    bool seen;      /* during apply */
    wl *next;
};

struct xg_listeners {
    xg_loop *loop;
    unsigned worker;
    xg_listener_conn_cb cb;
    void *arg;
    xg_listener_set *set;
    wl *wls;
    grp *groups;
    xg_listener_stats st;
};

static void on_accept(struct ev_loop *ev, ev_io *w, int revents);
static void on_retry(struct ev_loop *ev, ev_timer *w, int revents);
static void on_drain_deadline(struct ev_loop *ev, ev_timer *w, int revents);
static void proceed(xg_conn *c, const xg_filter_chain *chain);

/* --- groups --- */

static void group_free(grp *g)
{
    xg_listeners *ls = g->ls;
    ev_timer_stop(ls->loop->ev, &g->drain_timer);
    if (g->prev != NULL)
        g->prev->next = g->next;
    else
        ls->groups = g->next;
    if (g->next != NULL)
        g->next->prev = g->prev;
    xg_listener_set_unref(g->set);
    free(g);
}

/* Gives back the connection's slots in the shared counters. */
static void release_slots(xg_conn *c)
{
    if (c->glimit != NULL)
        xg_conn_limit_release(c->glimit);
    if (c->climit != NULL)
        xg_conn_limit_release(c->climit);
    c->glimit = c->climit = NULL;
}

/* A connection of the group was freed. */
static void on_conn_removed(xg_conn_list *l, xg_conn *c)
{
    grp *g = (grp *)l;
    release_slots(c);
    g->ls->st.active--;
    if (g->w != NULL)
        g->w->active--;
    if (g->draining && g->list.n == 0)
        group_free(g);
}

static grp *group_new(xg_listeners *ls, wl *w, const xg__lcfg *cfg)
{
    grp *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->list.on_remove = on_conn_removed;
    g->ls = ls;
    g->w = w;
    xg_listener_set_ref(ls->set);
    g->set = ls->set;
    g->cfg = cfg;
    ev_init(&g->drain_timer, on_drain_deadline);
    g->drain_timer.data = g;
    g->next = ls->groups;
    if (ls->groups != NULL)
        ls->groups->prev = g;
    ls->groups = g;
    return g;
}

/* Stops new work on the group's connections: each hears on_drain; at the
 * drain deadline the rest are killed. */
static void group_drain(grp *g)
{
    g->draining = true;
    if (g->list.n == 0) {
        group_free(g);
        return;
    }
    for (xg_conn *c = g->list.head; c != NULL; c = c->lnext)
        xg_conn_drain(c);
    ev_timer_set(&g->drain_timer, g->set->opts.drain_time, 0);
    ev_timer_start(g->ls->loop->ev, &g->drain_timer);
}

static void on_drain_deadline(struct ev_loop *ev, ev_timer *t, int revents)
{
    grp *g = t->data;
    for (xg_conn *c = g->list.head; c != NULL; c = c->lnext)
        xg_conn_kill(c, XG_CONN_DRAINED);
}

/* --- the connection before the upper layer has it --- */

static void handoff(xg_conn *c)
{
    grp *g = (grp *)c->list;
    g->ls->st.handed_off++;
    xg_conn_set_owner(c, NULL, NULL);
    g->ls->cb(c, c->chain, g->ls->arg);
}

static void on_handshake(xg_conn *c, void *owner)
{
    handoff(c);
}

static void on_pre_close(xg_conn *c, void *owner, xg_conn_reason r)
{
    grp *g = (grp *)c->list;
    if (g != NULL && (r == XG_CONN_TLS_ERROR || r == XG_CONN_HANDSHAKE_TIMEOUT))
        g->ls->st.tls_error++;
}

/* Draining before hand-off: nothing is in flight, so just close. */
static void on_pre_drain(xg_conn *c, void *owner)
{
    xg_conn_close(c, XG_CLOSE_ABORT);
}

static const xg_conn_cbs handshake_cbs = {
    .on_handshake = on_handshake,
    .on_close = on_pre_close,
    .on_drain = on_pre_drain,
};

static void facts_init(xg_conn_facts *f, const xg_conn *c)
{
    *f = (xg_conn_facts){.local = (const struct sockaddr *)&c->local,
                         .peer = (const struct sockaddr *)&c->peer,
                         .transport = XG_TRANSPORT_RAW_BUFFER};
}

static void select_and_proceed(xg_conn *c, const xg_conn_facts *f)
{
    grp *g = (grp *)c->list;
    const xg_filter_chain *chain = xg_listener_select(g->cfg->l, f);
    if (chain == NULL) {
        g->ls->st.no_chain++;
        xg_conn_close(c, XG_CLOSE_ABORT);
        return;
    }
    proceed(c, chain);
}

/* The TLS inspector: the first bytes decide TLS or not, SNI and ALPN. */
static void on_inspect_read(xg_conn *c, void *owner, size_t n)
{
    grp *g = (grp *)c->list;
    size_t len;
    const char *p = xg_conn_input(c, &len);
    xg_client_hello h;
    int rc = p != NULL ? xg_client_hello_parse((const uint8_t *)p, len, &h) : 0;
    if (rc == 0 && len < XG_BUFPOOL_BLOCK && !xg_conn_eof(c))
        return; /* more bytes to come */
    if (rc != 1) {
        g->ls->st.inspector_error++;
        xg_conn_close(c, XG_CLOSE_ABORT);
        return;
    }
    xg_conn_set_deadline(c, 0);
    xg_conn_facts f;
    facts_init(&f, c);
    f.transport = h.is_tls ? XG_TRANSPORT_TLS : XG_TRANSPORT_RAW_BUFFER;
    f.sni = h.sni_len > 0 ? h.sni : NULL;
    f.sni_len = h.sni_len;
    f.alpn = h.alpn;
    f.n_alpn = h.n_alpn;
    select_and_proceed(c, &f);
}

static void on_inspect_deadline(xg_conn *c, void *owner)
{
    grp *g = (grp *)c->list;
    g->ls->st.inspector_timeout++;
    if (!g->cfg->l->continue_on_listener_filters_timeout) {
        xg_conn_close(c, XG_CLOSE_ABORT);
        return;
    }
    xg_conn_facts f;
    facts_init(&f, c);
    select_and_proceed(c, &f);
}

static const xg_conn_cbs inspect_cbs = {
    .on_read = on_inspect_read,
    .on_close = on_pre_close,
    .on_drain = on_pre_drain,
    .on_deadline = on_inspect_deadline,
};

static void on_limited_deadline(xg_conn *c, void *owner)
{
    xg_conn_close(c, XG_CLOSE_ABORT);
}

/* Over a connection_limit with a delay: not read, closed at the deadline
 * (or when the listener drains). */
static const xg_conn_cbs limited_cbs = {
    .on_drain = on_pre_drain,
    .on_deadline = on_limited_deadline,
};

/* The chain's connection_limit filter, which Envoy runs when the connection
 * is created, before the TLS handshake. true: the connection goes on
 * holding a slot; false: it is over the limit and closed, at once or after
 * the filter's delay (a client retrying in a loop is slowed down). */
static bool limit_admits(xg_conn *c, const xg_filter_chain *chain)
{
    grp *g = (grp *)c->list;
    const xg_conn_limit_cfg *cl = chain->conn_limit;
    xg_conn_limit *lim = g->cfg->limits[xg__lcfg_slot(g->cfg, chain)];
    if (cl == NULL || !cl->enabled || lim == NULL)
        return true;
    if (xg_conn_limit_acquire(lim, cl->max_connections)) {
        c->climit = lim;
        return true;
    }
    g->ls->st.limited++;
    if (cl->delay_ms == 0) {
        xg_conn_close(c, XG_CLOSE_ABORT);
        return false;
    }
    xg_conn_set_owner(c, &limited_cbs, g);
    xg_conn_pause_read(c, true);
    if (!c->started)
        xg_conn_start(c, 0);
    xg_conn_set_deadline(c, (double)cl->delay_ms / 1000.0);
    return false;
}

/* The chain is chosen: its connection limit, then the TLS handshake, or
 * straight to the upper layer. */
static void proceed(xg_conn *c, const xg_filter_chain *chain)
{
    grp *g = (grp *)c->list;
    if (!limit_admits(c, chain))
        return;
    xg_tls_server *tls = xg__lcfg_tls(g->cfg, chain);
    c->chain = chain;
    uint64_t ms = chain->transport_socket_connect_timeout_ms;
    double hs = ms > 0 ? ms / 1000.0 : XG_LISTENER_HANDSHAKE_TIMEOUT;
    if (tls == NULL) {
        if (!c->started)
            xg_conn_start(c, 0);
        handoff(c);
        return;
    }
    xg_conn_set_owner(c, &handshake_cbs, g);
    c->hs_timeout = hs;
    if (xg_conn_use_tls_server(c, tls) != 0) {
        xg_conn_close(c, XG_CLOSE_ABORT);
        return;
    }
    if (!c->started)
        xg_conn_start(c, hs);
}

/* --- accepting --- */

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0;
}

static void conn_setup(wl *w, xg_conn *c, const struct sockaddr_storage *peer, socklen_t plen)
{
    const xg_listener *l = w->cur->cfg->l;
    const xg_listener_addr *a = &l->addrs[w->addr];
    /* TCP_NODELAY came with the socket, from the listening one (listen.h). */
    (void)xg_sockaddr_copy(&c->peer, sizeof(c->peer), peer, plen);
    (void)xg_sockaddr_copy(&c->local, sizeof(c->local), &a->ss, a->len);
    /* Only a wildcard address needs the kernel to say which address was hit. */
    if (is_wildcard(&a->ss)) {
        socklen_t len = sizeof(c->local);
        (void)getsockname(c->fd, (struct sockaddr *)&c->local, &len);
    }
    c->listener = w;
    uint32_t limit = l->per_connection_buffer_limit_bytes;
    if (limit > 0)
        xg_conn_set_watermarks(c, limit / 2, limit);
    xg_conn_list_add(&w->cur->list, c);
    w->active++;
    w->ls->st.active++;
}

/* The global limit (--max-downstream-connections): as in Envoy, a
 * connection over it is accepted and closed at once. true: c may go on (it
 * holds a slot unless its listener has ignore_global_conn_limit). */
static bool global_admits(wl *w, bool *counted)
{
    const xg_listener_set *set = w->cur->set;
    *counted = set->opts.max_conns > 0 && !w->cur->cfg->l->ignore_global_conn_limit;
    return !*counted || xg_conn_limit_acquire(set->global, set->opts.max_conns);
}

static void accepted(wl *w, int fd, const struct sockaddr_storage *peer, socklen_t plen)
{
    xg_listeners *ls = w->ls;
    ls->st.accepted++;
    xg_conn *c;
    bool counted;
    if (!global_admits(w, &counted)) {
        ls->st.overflow++;
        close(fd);
        return;
    }
    if (xg_conn_new(ls->loop, fd, &c) != 0) {
        if (counted)
            xg_conn_limit_release(w->cur->set->global);
        ls->st.overflow++;
        close(fd);
        return;
    }
    conn_setup(w, c, peer, plen);
    c->glimit = counted ? w->cur->set->global : NULL;
    const xg_listener *l = w->cur->cfg->l;
    if (!l->tls_inspector) {
        xg_conn_facts f;
        facts_init(&f, c);
        select_and_proceed(c, &f);
        return;
    }
    xg_conn_set_owner(c, &inspect_cbs, w->cur);
    xg_conn_start(c, 0);
    if (l->listener_filters_timeout_ms > 0)
        xg_conn_set_deadline(c, l->listener_filters_timeout_ms / 1000.0);
}

/* EMFILE and friends: the pending connection cannot be taken now; pause
 * instead of spinning on a level-triggered socket. */
static void pause_accept(wl *w)
{
    xg_log_warn("listener %s: accept: %s; pausing accepts for 0.5 s", w->sock->key, strerror(errno));
    ev_io_stop(w->ls->loop->ev, &w->aio);
    ev_timer_set(&w->retry, 0.5, 0);
    ev_timer_start(w->ls->loop->ev, &w->retry);
}

static void on_accept(struct ev_loop *ev, ev_io *io, int revents)
{
    wl *w = io->data;
    uint32_t budget = w->cur->cfg->l->max_accept_per_event;
    if (budget == 0)
        budget = w->cur->set->opts.accept_budget ? w->cur->set->opts.accept_budget : 64;
    for (uint32_t i = 0; i < budget && w->cur != NULL; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(w->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accepted(w, fd, &peer, plen);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            pause_accept(w);
        return; /* EAGAIN: drained */
    }
}

static void on_retry(struct ev_loop *ev, ev_timer *t, int revents)
{
    wl *w = t->data;
    ev_io_start(ev, &w->aio);
}

/* --- the table --- */

int xg_listeners_new(xg_loop *loop, unsigned worker, xg_listener_conn_cb cb, void *arg, xg_listeners **out)
{
    xg_listeners *ls = calloc(1, sizeof(*ls));
    if (ls == NULL)
        return XG_ENOMEM;
    ls->loop = loop;
    ls->worker = worker;
    ls->cb = cb;
    ls->arg = arg;
    *out = ls;
    return 0;
}

static wl *find_wl(xg_listeners *ls, const char *key)
{
    for (wl *w = ls->wls; w != NULL; w = w->next)
        if (strcmp(w->sock->key, key) == 0)
            return w;
    return NULL;
}

static wl *wl_new(xg_listeners *ls, xg__lsock *s)
{
    wl *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->ls = ls;
    xg__lsock_ref(s);
    w->sock = s;
    w->fd = s->fds[ls->worker];
    ev_io_init(&w->aio, on_accept, w->fd, EV_READ);
    ev_init(&w->retry, on_retry);
    w->aio.data = w->retry.data = w;
    w->next = ls->wls;
    ls->wls = w;
    ev_io_start(ls->loop->ev, &w->aio);
    return w;
}

/* Stops accepting on the address and drops it; its connections drain. */
static void wl_remove(wl *w)
{
    xg_listeners *ls = w->ls;
    ev_io_stop(ls->loop->ev, &w->aio);
    ev_timer_stop(ls->loop->ev, &w->retry);
    for (grp *g = ls->groups; g != NULL; g = g->next)
        if (g->w == w)
            g->w = NULL;
    wl **pp = &ls->wls;
    while (*pp != w)
        pp = &(*pp)->next;
    *pp = w->next;
    grp *cur = w->cur;
    /* Close our socket now (the slot is this worker's alone): a removed
     * address must stop taking connections even while sets still hold it. */
    close(w->fd);
    w->sock->fds[ls->worker] = -1;
    xg__lsock_unref(w->sock);
    free(w);
    if (cur != NULL)
        group_drain(cur);
}

/* The address of cfg's listener number a: adopt the existing entry (same
 * Listener: swap configuration; changed Listener: new group, old drains),
 * or open a new entry. */
static void apply_addr(xg_listeners *ls, const xg__lcfg *cfg, size_t a)
{
    wl *w = find_wl(ls, cfg->socks[a]->key);
    if (w == NULL && (w = wl_new(ls, cfg->socks[a])) == NULL) {
        xg_log_error("listener %s: %s: out of memory", cfg->l->name, cfg->socks[a]->key);
        return;
    }
    w->seen = true;
    w->addr = a;
    grp *old = w->cur;
    if (old != NULL && old->cfg->res == cfg->res) {
        xg_listener_set_ref(ls->set);
        xg_listener_set_unref(old->set);
        old->set = ls->set;
        old->cfg = cfg; /* same Listener resource: its chains stay valid; new TLS contexts apply to new handshakes */
        return;
    }
    grp *g = group_new(ls, w, cfg);
    if (g == NULL) {
        xg_log_error("listener %s: %s: out of memory", cfg->l->name, cfg->socks[a]->key);
        return;
    }
    w->cur = g;
    if (old != NULL)
        group_drain(old); /* its connections still count against the address's limit */
}

void xg_listeners_apply(xg_listeners *ls, xg_listener_set *set)
{
    xg_listener_set_ref(set);
    xg_listener_set *prev = ls->set;
    ls->set = set;
    for (wl *w = ls->wls; w != NULL; w = w->next)
        w->seen = false;
    for (size_t i = 0; i < set->n; i++)
        for (size_t a = 0; a < set->v[i].l->n_addrs; a++)
            apply_addr(ls, &set->v[i], a);
    for (wl *w = ls->wls, *next; w != NULL; w = next) {
        next = w->next;
        if (!w->seen)
            wl_remove(w);
    }
    xg_listener_set_unref(prev);
}

void xg_listeners_drain_all(xg_listeners *ls)
{
    while (ls->wls != NULL)
        wl_remove(ls->wls);
}

/* Kills a connection at teardown: one the upper layer has hears on_close;
 * one still in the listener's hands just goes. */
static void teardown_conn(xg_conn *c)
{
    xg_conn_list_remove(c);
    release_slots(c);
    if (c->cb == &inspect_cbs || c->cb == &handshake_cbs)
        xg_conn_close(c, XG_CLOSE_ABORT);
    else
        xg_conn_kill(c, XG_CONN_DRAINED);
}

void xg_listeners_free(xg_listeners *ls)
{
    if (ls == NULL)
        return;
    while (ls->wls != NULL) {
        wl *w = ls->wls;
        w->cur = NULL; /* no drain: everything goes now */
        wl_remove(w);
    }
    while (ls->groups != NULL) {
        grp *g = ls->groups;
        while (g->list.head != NULL)
            teardown_conn(g->list.head);
        group_free(g);
    }
    xg_listener_set_unref(ls->set);
    free(ls);
}

xg_listener_stats xg_listeners_stats(const xg_listeners *ls)
{
    return ls->st;
}

size_t xg_listeners_active(const xg_listeners *ls, const char *name)
{
    size_t n = 0;
    for (const grp *g = ls->groups; g != NULL; g = g->next)
        if (strcmp(g->cfg->l->name, name) == 0)
            n += g->list.n;
    return n;
}

bool xg_listeners_idle(const xg_listeners *ls)
{
    for (const grp *g = ls->groups; g != NULL; g = g->next)
        if (g->draining)
            return false;
    return true;
}
