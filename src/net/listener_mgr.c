/* The listener manager (main or xds thread): builds immutable listener sets
 * from a snapshot: TLS server contexts per filter chain, listening sockets
 * from a registry keyed by address (an address that stays keeps its sockets
 * and only new addresses bind), and connection_limit counters from a
 * registry keyed by listener and chain (a chain that stays keeps its count).
 * All or nothing: a failed build changes nothing. One thread at a time. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/hcm.h"
#include "core/error.h"
#include "net/listen.h"
#include "net/listener_int.h"

struct xg_listener_mgr {
    unsigned n_workers;
    xg_listener_opts opts;
    xg__lsock **reg; /* the sockets of the last set built; one reference each */
    size_t n_reg;
    xg_conn_limit *global;  /* opts.max_conns, shared by every set */
    xg_conn_limit **limits; /* the chain counters of the last set built; one reference each */
    size_t n_limits;
};

void xg_listener_opts_init(xg_listener_opts *o)
{
    *o = (xg_listener_opts){.max_conns = 0, .drain_time = 600, .accept_budget = 64};
}

int xg_listener_mgr_new(unsigned n_workers, const xg_listener_opts *o, xg_listener_mgr **out)
{
    xg_listener_mgr *m = calloc(1, sizeof(*m));
    if (m == NULL || n_workers == 0) {
        free(m);
        return m == NULL ? XG_ENOMEM : XG_EINVAL;
    }
    if ((m->global = xg_conn_limit_new("global")) == NULL) {
        free(m);
        return XG_ENOMEM;
    }
    m->n_workers = n_workers;
    if (o != NULL)
        m->opts = *o;
    else
        xg_listener_opts_init(&m->opts);
    *out = m;
    return 0;
}

static void drop_registry(xg__lsock **reg, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xg__lsock_unref(reg[i]);
    free(reg);
}

static void drop_limits(xg_conn_limit **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xg_conn_limit_unref(v[i]);
    free(v);
}

void xg_listener_mgr_free(xg_listener_mgr *m)
{
    if (m == NULL)
        return;
    drop_registry(m->reg, m->n_reg);
    drop_limits(m->limits, m->n_limits);
    xg_conn_limit_unref(m->global);
    free(m);
}

/* --- sockets --- */

void xg__lsock_ref(xg__lsock *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void xg__lsock_unref(xg__lsock *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (unsigned i = 0; i < s->n; i++)
        if (s->fds[i] >= 0)
            close(s->fds[i]);
    free(s);
}

/* socket_options at their stage. */
static int apply_opts(int fd, int stage, void *arg)
{
    const xg_listener *l = arg;
    for (size_t i = 0; i < l->n_socket_options; i++) {
        const xg_socket_option *o = &l->socket_options[i];
        if ((int)o->state != stage)
            continue;
        int rc = o->is_int ? setsockopt(fd, o->level, o->name, &o->int_value, sizeof(o->int_value))
                           : setsockopt(fd, o->level, o->name, o->buf, (socklen_t)o->buf_len);
        if (rc != 0)
            return -errno;
    }
    if (stage == XG_LISTEN_AT_LISTENING && l->tcp_fast_open_queue_length > 0) {
        int q = (int)l->tcp_fast_open_queue_length;
        if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &q, sizeof(q)) != 0)
            return -errno;
    }
    return 0;
}

/* Binds the sockets of address a of listener l: one per worker with
 * SO_REUSEPORT, else one socket dup'ed for each worker. */
static int bind_addr(const xg_listener_mgr *m, const xg_listener *l, const xg_listener_addr *a, xg__lsock **out)
{
    unsigned n = m->n_workers;
    xg__lsock *s = calloc(1, sizeof(*s) + n * sizeof(int));
    if (s == NULL)
        return XG_ENOMEM;
    atomic_init(&s->refs, 1);
    snprintf(s->key, sizeof(s->key), "%s", a->text);
    s->n = n;
    for (unsigned i = 0; i < n; i++)
        s->fds[i] = -1;
    unsigned flags = (l->enable_reuse_port ? XG_LISTEN_REUSEPORT : 0) | (a->ipv4_compat ? 0 : XG_LISTEN_V6ONLY) |
                     (l->freebind ? XG_LISTEN_FREEBIND : 0);
    int backlog = l->tcp_backlog_size ? (int)l->tcp_backlog_size : 65535; /* the kernel caps it at somaxconn */
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        if (i > 0 && !l->enable_reuse_port)
            rc = (s->fds[i] = fcntl(s->fds[0], F_DUPFD_CLOEXEC, 0)) < 0 ? -errno : 0;
        else
            rc = xg_listen_tcp_hook((const struct sockaddr *)&a->ss, a->len, backlog, flags, apply_opts, (void *)l,
                                    &s->fds[i]);
    }
    if (rc != 0) {
        xg__lsock_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}

static xg__lsock *registry_find(const xg_listener_mgr *m, const char *key)
{
    for (size_t i = 0; i < m->n_reg; i++)
        if (strcmp(m->reg[i]->key, key) == 0)
            return m->reg[i];
    return NULL;
}

/* --- sets --- */

void xg_listener_set_ref(xg_listener_set *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

static void cfg_dispose(xg__lcfg *c)
{
    if (c->l != NULL) {
        for (size_t i = 0; c->tls != NULL && i <= c->l->n_chains; i++)
            xg_tls_server_unref(c->tls[i]);
        for (size_t i = 0; c->socks != NULL && i < c->l->n_addrs; i++)
            xg__lsock_unref(c->socks[i]);
        for (size_t i = 0; c->limits != NULL && i <= c->l->n_chains; i++)
            xg_conn_limit_unref(c->limits[i]);
    }
    free(c->tls);
    free(c->socks);
    free(c->limits);
    xg_res_unref(c->res);
}

void xg_listener_set_unref(xg_listener_set *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        cfg_dispose(&s->v[i]);
    xg_conn_limit_unref(s->global);
    free(s->v);
    free(s);
}

static void chain_paths(const xg_filter_chain *fc, xg_tls_secret_find_cb find, void *find_arg, xg_tls_path_cb cb,
                        void *arg)
{
    if (fc == NULL || fc->tls == NULL)
        return;
    xg_tls_build b = {.tc = fc->tls, .find = find, .find_arg = find_arg};
    xg_tls_build_paths(&b, cb, arg);
}

void xg_listener_paths(xg_res *const *listeners, size_t n, xg_tls_secret_find_cb find, void *find_arg,
                       xg_tls_path_cb cb, void *arg)
{
    for (size_t i = 0; i < n; i++) {
        const xg_listener *l = listeners[i]->body;
        for (size_t j = 0; j < l->n_chains; j++)
            chain_paths(&l->chains[j], find, find_arg, cb, arg);
        chain_paths(l->default_chain, find, find_arg, cb, arg);
    }
}

static int chain_tls(xg__lcfg *c, const xg_filter_chain *fc, size_t slot, xg_tls_secret_find_cb find, void *arg,
                     char *err, size_t errlen)
{
    if (fc->tls == NULL)
        return 0;
    xg_tls_build b = {.tc = fc->tls,
                      .owner = c->res,
                      .find = find,
                      .find_arg = arg,
                      .http1_only = fc->hcm != NULL && fc->hcm->codec == XG_CODEC_HTTP1,
                      .server_names = fc->match.server_names,
                      .n_server_names = fc->match.n_server_names};
    char why[256], where[48];
    int rc = xg_tls_server_new(&b, &c->tls[slot], why, sizeof(why));
    if (rc == 0)
        return 0;
    if (fc->index < 0)
        snprintf(where, sizeof(where), "default_filter_chain");
    else
        snprintf(where, sizeof(where), "filter_chains[%d]", fc->index);
    snprintf(err, errlen, "listener \"%s\": %s: %s", c->l->name, where, why[0] ? why : xg_strerror(rc));
    return rc;
}

static int cfg_sockets(xg_listener_mgr *m, xg__lcfg *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->l->n_addrs; i++) {
        const xg_listener_addr *a = &c->l->addrs[i];
        xg__lsock *s = registry_find(m, a->text);
        int rc = 0;
        if (s != NULL)
            xg__lsock_ref(s);
        else
            rc = bind_addr(m, c->l, a, &s);
        if (rc != 0) {
            snprintf(err, errlen, "listener \"%s\": %s: %s", c->l->name, a->text, xg_strerror(rc));
            return rc;
        }
        c->socks[i] = s;
    }
    return 0;
}

/* The counter key of chain fc: the listener's name and the chain's, or
 * the chain's position when it has no name or shares it with an earlier
 * chain. NULL when out of memory; free() it. */
static char *limit_key(const xg_listener *l, const xg_filter_chain *fc)
{
    bool unique = fc->name[0] != '\0';
    for (size_t i = 0; unique && i < l->n_chains && &l->chains[i] != fc; i++)
        unique = strcmp(l->chains[i].name, fc->name) != 0;
    char *k = NULL;
    int n;
    if (unique)
        n = asprintf(&k, "%s\n%s", l->name, fc->name);
    else if (fc->index < 0)
        n = asprintf(&k, "%s\n#default", l->name);
    else
        n = asprintf(&k, "%s\n#%d", l->name, fc->index);
    return n < 0 ? NULL : k;
}

/* The chain's counter: the one the last set had under the same key, else a new one. */
static int chain_limit(xg_listener_mgr *m, xg__lcfg *c, const xg_filter_chain *fc)
{
    if (fc->conn_limit == NULL)
        return 0;
    char *key = limit_key(c->l, fc);
    if (key == NULL)
        return XG_ENOMEM;
    xg_conn_limit *lim = NULL;
    for (size_t i = 0; lim == NULL && i < m->n_limits; i++)
        if (strcmp(m->limits[i]->key, key) == 0)
            lim = m->limits[i];
    if (lim != NULL)
        xg_conn_limit_ref(lim);
    else
        lim = xg_conn_limit_new(key);
    free(key);
    c->limits[xg__lcfg_slot(c, fc)] = lim;
    return lim == NULL ? XG_ENOMEM : 0;
}

static int cfg_build(xg_listener_mgr *m, xg__lcfg *c, xg_tls_secret_find_cb find, void *arg, char *err, size_t errlen)
{
    c->tls = calloc(c->l->n_chains + 1, sizeof(*c->tls));
    c->limits = calloc(c->l->n_chains + 1, sizeof(*c->limits));
    c->socks = calloc(c->l->n_addrs, sizeof(*c->socks));
    if (c->tls == NULL || c->limits == NULL || c->socks == NULL)
        return XG_ENOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->l->n_chains; i++)
        if ((rc = chain_tls(c, &c->l->chains[i], i, find, arg, err, errlen)) == 0)
            rc = chain_limit(m, c, &c->l->chains[i]);
    if (rc == 0 && c->l->default_chain != NULL &&
        (rc = chain_tls(c, c->l->default_chain, c->l->n_chains, find, arg, err, errlen)) == 0)
        rc = chain_limit(m, c, c->l->default_chain);
    return rc != 0 ? rc : cfg_sockets(m, c, err, errlen);
}

/* The new counter registry: every chain counter of s, one reference each. */
static int new_limits(xg_listener_mgr *m, const xg_listener_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->v[i].l->n_chains + 1;
    xg_conn_limit **v = calloc(n ? n : 1, sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j <= s->v[i].l->n_chains; j++)
            if (s->v[i].limits[j] != NULL) {
                xg_conn_limit_ref(s->v[i].limits[j]);
                v[k++] = s->v[i].limits[j];
            }
    drop_limits(m->limits, m->n_limits);
    m->limits = v;
    m->n_limits = k;
    return 0;
}

/* The new registry: every socket of s, one reference each. */
static int new_registry(xg_listener_mgr *m, const xg_listener_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->v[i].l->n_addrs;
    xg__lsock **reg = calloc(n ? n : 1, sizeof(*reg));
    if (reg == NULL)
        return XG_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < s->v[i].l->n_addrs; j++) {
            xg__lsock_ref(s->v[i].socks[j]);
            reg[k++] = s->v[i].socks[j];
        }
    drop_registry(m->reg, m->n_reg);
    m->reg = reg;
    m->n_reg = k;
    return 0;
}

/* Two listeners on one address would each bind it (SO_REUSEPORT allows
 * that) and split its connections: refused. */
static int check_duplicates(const xg_listener_set *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n; i++)
        for (size_t a = 0; a < s->v[i].l->n_addrs; a++)
            for (size_t j = 0; j < i; j++)
                for (size_t b = 0; b < s->v[j].l->n_addrs; b++)
                    if (strcmp(s->v[i].l->addrs[a].text, s->v[j].l->addrs[b].text) == 0) {
                        snprintf(err, errlen, "listener \"%s\": %s is already used by listener \"%s\"", s->v[i].l->name,
                                 s->v[i].l->addrs[a].text, s->v[j].l->name);
                        return XG_EEXIST;
                    }
    return 0;
}

int xg_listener_mgr_build_from(xg_listener_mgr *m, xg_res *const *listeners, size_t n, xg_tls_secret_find_cb find,
                               void *find_arg, xg_listener_set **out, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    xg_listener_set *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->v = calloc(n ? n : 1, sizeof(*s->v))) == NULL) {
        free(s);
        return XG_ENOMEM;
    }
    atomic_init(&s->refs, 1);
    s->n_workers = m->n_workers;
    s->opts = m->opts;
    s->global = m->global;
    xg_conn_limit_ref(m->global);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        s->n++;
        s->v[i].res = listeners[i];
        xg_res_ref(listeners[i]);
        s->v[i].l = listeners[i]->body;
    }
    rc = check_duplicates(s, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = cfg_build(m, &s->v[i], find, find_arg, err, errlen);
    if (rc == 0)
        rc = new_limits(m, s);
    if (rc == 0)
        rc = new_registry(m, s);
    if (rc != 0) {
        if (rc == XG_ENOMEM && err != NULL && errlen > 0 && err[0] == '\0')
            snprintf(err, errlen, "out of memory");
        xg_listener_set_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}

static xg_res *snap_secret(void *arg, const char *name)
{
    return xg_snapshot_find(arg, XG_RES_SECRET, name);
}

void xg_listener_snapshot_paths(const xg_snapshot *snap, xg_tls_path_cb cb, void *arg)
{
    xg_listener_paths(snap->tables[XG_RES_LISTENER]->res, xg_snapshot_count(snap, XG_RES_LISTENER), snap_secret,
                      (void *)snap, cb, arg);
}

int xg_listener_mgr_build(xg_listener_mgr *m, const xg_snapshot *snap, xg_listener_set **out, char *err, size_t errlen)
{
    size_t n = xg_snapshot_count(snap, XG_RES_LISTENER);
    return xg_listener_mgr_build_from(m, snap->tables[XG_RES_LISTENER]->res, n, snap_secret, (void *)snap, out, err,
                                      errlen);
}
