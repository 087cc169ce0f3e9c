/* Filter-chain selection over the compiled filter_chain_match (Envoy's
 * order, no backtracking). Each level scores every remaining chain (-1: no
 * key of the chain matches; higher: a more specific key, the catch-all
 * scoring 0) and keeps the chains with the best score. Linear in the number
 * of chains per level: fine for tens of chains; an SNI index built with the
 * listener would make thousands of server_names cheap. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "net/listener.h"

#define STACK_CHAINS 128

typedef int (*level_fn)(const xg_filter_chain_match *m, const xg_conn_facts *f);

static uint16_t port_of(const struct sockaddr *sa)
{
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return sa->sa_family == AF_INET ? ntohs(((const struct sockaddr_in *)sa)->sin_port) : 0;
}

static int dest_port(const xg_filter_chain_match *m, const xg_conn_facts *f)
{
    if (m->destination_port == 0)
        return 0;
    return m->destination_port == port_of(f->local) ? 1 : -1;
}

/* Longest matching range: prefix length + 1; the empty list is 0. */
static int cidr_score(const xg_cidr *v, size_t n, const struct sockaddr *sa)
{
    if (n == 0)
        return 0;
    int best = -1;
    for (size_t i = 0; sa != NULL && i < n; i++)
        if (xg_cidr_contains(&v[i], sa) && v[i].prefix_len + 1 > best)
            best = v[i].prefix_len + 1;
    return best;
}

static int dest_prefix(const xg_filter_chain_match *m, const xg_conn_facts *f)
{
    return cidr_score(m->prefix_ranges, m->n_prefix_ranges, f->local);
}

/* Exact beats every wildcard; a longer "*." suffix beats a shorter one.
 * As in Envoy's chain matching (unlike certificate names), "*.example.com"
 * covers any depth below example.com. */
static int server_name(const xg_filter_chain_match *m, const xg_conn_facts *f)
{
    if (m->n_server_names == 0)
        return 0;
    int best = -1;
    for (size_t i = 0; f->sni_len > 0 && i < m->n_server_names; i++) {
        const xg_server_name *s = &m->server_names[i];
        size_t n = s->name.len;
        if (!s->wildcard && n == f->sni_len && xg_ascii_eq_nocase(s->name.s, f->sni, n))
            return 1 << 20;
        if (s->wildcard && f->sni_len > n && xg_ascii_eq_nocase(f->sni + f->sni_len - n, s->name.s, n) &&
            (int)n + 1 > best)
            best = (int)n + 1; /* name.s keeps its leading dot: label boundary guaranteed */
    }
    return best;
}

static int transport(const xg_filter_chain_match *m, const xg_conn_facts *f)
{
    if (m->transport == XG_TRANSPORT_ANY)
        return 0;
    xg_transport_proto t = f->transport == XG_TRANSPORT_TLS ? XG_TRANSPORT_TLS : XG_TRANSPORT_RAW_BUFFER;
    return m->transport == t ? 1 : -1;
}

/* The client's earlier protocol scores higher. */
static int app_proto(const xg_filter_chain_match *m, const xg_conn_facts *f)
{
    if (m->n_alpn == 0)
        return 0;
    for (size_t i = 0; i < f->n_alpn; i++)
        for (size_t j = 0; j < m->n_alpn; j++)
            if (m->alpn[j].len == f->alpn[i].len && memcmp(m->alpn[j].s, f->alpn[i].s, f->alpn[i].len) == 0)
                return (int)(XG_HELLO_MAX_ALPN + 1 - i);
    return -1;
}

static bool is_loopback(const struct sockaddr *sa)
{
    static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, lo6, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* SAME_IP_OR_LOOPBACK: the peer is a loopback address or our own address. */
static int source_type(const xg_filter_chain_match *m, const xg_conn_facts *f)
{
    if (m->source_type == XG_SOURCE_ANY)
        return 0;
    bool local = f->peer != NULL && (is_loopback(f->peer) || (f->local != NULL && same_ip(f->peer, f->local)));
    return (m->source_type == XG_SOURCE_SAME_IP_OR_LOOPBACK) == local ? 1 : -1;
}

static int source_prefix(const xg_filter_chain_match *m, const xg_conn_facts *f)
{
    return cidr_score(m->source_prefix_ranges, m->n_source_prefix_ranges, f->peer);
}

static int source_port(const xg_filter_chain_match *m, const xg_conn_facts *f)
{
    if (m->n_source_ports == 0)
        return 0;
    uint16_t p = port_of(f->peer);
    for (size_t i = 0; i < m->n_source_ports; i++)
        if (m->source_ports[i] == p)
            return 1;
    return -1;
}

static const level_fn levels[] = {dest_port, dest_prefix, server_name,   transport,
                                  app_proto, source_type, source_prefix, source_port};

/* Keeps the candidates with the best score at one level; returns how many. */
static size_t narrow(const xg_listener *l, size_t *cand, size_t n, level_fn fn, const xg_conn_facts *f, int *scores)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        scores[i] = fn(&l->chains[cand[i]].match, f);
        if (scores[i] > best)
            best = scores[i];
    }
    if (best < 0)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (scores[i] == best)
            cand[k++] = cand[i];
    return k;
}

const xg_filter_chain *xg_listener_select(const xg_listener *l, const xg_conn_facts *f)
{
    size_t stack_cand[STACK_CHAINS];
    int stack_scores[STACK_CHAINS];
    size_t n = l->n_chains, *cand = stack_cand;
    int *scores = stack_scores;
    const xg_filter_chain *found = NULL;
    if (n > STACK_CHAINS) {
        cand = malloc(n * sizeof(*cand));
        scores = malloc(n * sizeof(*scores));
        if (cand == NULL || scores == NULL) {
            free(cand);
            free(scores);
            return NULL; /* out of memory: the connection is closed */
        }
    }
    for (size_t i = 0; i < n; i++)
        cand[i] = i;
    for (size_t lv = 0; n > 0 && lv < sizeof(levels) / sizeof(levels[0]); lv++)
        n = narrow(l, cand, n, levels[lv], f, scores);
    /* Overlapping rules are rejected at translate time, so one chain is left at most. */
    if (n > 0)
        found = &l->chains[cand[0]];
    if (cand != stack_cand) {
        free(cand);
        free(scores);
    }
    return found != NULL ? found : l->default_chain;
}
