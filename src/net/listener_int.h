/* Internals shared by listener_mgr.c (sets, built on the main or xds thread)
 * and listener_worker.c (the per-worker tables). */
#ifndef XG_NET_LISTENER_INT_H
#define XG_NET_LISTENER_INT_H

#include <stdatomic.h>

#include "net/conn_limit.h"
#include "net/listener.h"

/* The listening sockets of one address, one per worker (with
 * enable_reuse_port off: dups of one socket). Refcounted: the manager's
 * registry, every set that has the address and every worker table entry
 * using it hold a reference; the last one closes the sockets. A worker
 * stops watching its fd before it drops its reference. */
typedef struct xg__lsock {
    atomic_int refs;
    char key[64]; /* xg_listener_addr.text */
    unsigned n;
    int fds[];
} xg__lsock;

void xg__lsock_ref(xg__lsock *s);
void xg__lsock_unref(xg__lsock *s);

/* One listener of a set: its resource (referenced: the chains and their
 * HCM live in its arena), TLS contexts per chain, sockets per address. */
typedef struct xg__lcfg {
    xg_res *res;
    const xg_listener *l;
    xg_tls_server **tls;    /* [chain index] for filter_chains, [n_chains] for the default chain; NULL: plaintext */
    xg__lsock **socks;      /* [address index] */
    xg_conn_limit **limits; /* like tls: the chain's connection_limit counter (referenced), NULL: none */
} xg__lcfg;

struct xg_listener_set {
    atomic_int refs;
    unsigned n_workers;
    xg_listener_opts opts;
    xg_conn_limit *global; /* --max-downstream-connections (opts.max_conns); referenced */
    xg__lcfg *v;
    size_t n;
};

/* The slot of chain (one of cfg's) in cfg's per-chain arrays. */
static inline size_t xg__lcfg_slot(const xg__lcfg *cfg, const xg_filter_chain *chain)
{
    return chain->index < 0 ? cfg->l->n_chains : (size_t)chain->index;
}

/* The TLS context of chain (one of cfg's), or NULL for plaintext. */
static inline xg_tls_server *xg__lcfg_tls(const xg__lcfg *cfg, const xg_filter_chain *chain)
{
    return cfg->tls[xg__lcfg_slot(cfg, chain)];
}

#endif
