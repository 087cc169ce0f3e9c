/* Unit tests for DNS answers as hosts (src/cluster/dns_hosts.c with
 * reconcile.c): STRICT_DNS hosts follow the answers (added, removed, kept
 * with their state), the DNS name as the hostname, IP literals next to
 * names, a config update that keeps the names keeps the hosts, LOGICAL_DNS
 * keeps its one host (and whatever hangs off it) while the address moves,
 * and answers for clusters that are gone or not DNS clusters are dropped. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/cluster_util.h"
#include "cluster/dns_hosts.h"
#include "core/error.h"
#include "xg_test.h"

typedef struct hooks_log {
    int removed;
    xg_host *last_removed;
} hooks_log;

static void on_removed(void *arg, xg_host *h)
{
    hooks_log *l = arg;
    l->removed++;
    l->last_removed = h;
}

static xg_clusters *mk(hooks_log *log)
{
    xg_clusters_opts o = {.hooks = {.host_removed = on_removed}, .hooks_arg = log, .seed = 3};
    xg_clusters *cs = NULL;
    XG_ASSERT(xg_clusters_new(NULL, &o, &cs) == 0);
    return cs;
}

static xg_host *host_at(xg_cluster_rt *rt, const char *ip, uint16_t port)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &in.sin_addr);
    return xg_cluster_find_host(rt, (struct sockaddr *)&in, sizeof in);
}

/* --- configs --- */

static xg_cluster_type dns_type;
static uint32_t dns_weight;
static const char *dns_hostname;

/* Endpoint 0 becomes "svc.test:80" (a name); endpoint 1, when there is
 * one, stays the IP literal it is. */
static void make_dns(xg_cluster *c)
{
    c->type = dns_type;
    xg_lb_endpoint *e = &c->load_assignment->localities[0].endpoints[0];
    e->host = "SVC.test"; /* names compare as DNS names: case does not matter */
    e->is_ip = false;
    memset(&e->addr, 0, sizeof e->addr);
    e->addrlen = 0;
    e->weight = dns_weight;
    e->hostname = dns_hostname;
}

static xg_res *dns_cluster(xg_cluster_type type, int n_endpoints, uint32_t weight)
{
    dns_type = type;
    dns_weight = weight;
    tep eps[] = {{"0.0.0.0", 80, 1, 0, 0}, {"10.9.9.9", 81, 1, 0, 0}};
    return tu_cluster("dns", eps, (size_t)n_endpoints, make_dns);
}

static void apply(xg_clusters *cs, xg_res *c, uint64_t gen)
{
    xg_res_ref(c);
    xg_snapshot *s = tu_snap(gen, &c, 1, NULL, 0);
    CHECK_EQ_INT(xg_clusters_on_snapshot(cs, s), 0);
    xg_snapshot_unref(s);
}

/* An answer for cluster's svc.test with these IPv4 addresses. */
static void answer(xg_clusters *cs, const char *cluster, const char *const *ips, size_t n)
{
    struct sockaddr_storage v[8] = {0};
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_in *in = (struct sockaddr_in *)&v[i];
        in->sin_family = AF_INET;
        inet_pton(AF_INET, ips[i], &in->sin_addr);
    }
    xg_dns_hosts *h = xg_dns_hosts_new(cluster, 1);
    XG_ASSERT(h != NULL && xg_dns_hosts_add(h, "svc.test.", v, (uint32_t)n) == 0);
    xg_clusters_dns_apply(cs, h);
}

XG_TEST(strict_dns_hosts_follow_the_answers)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    xg_res *c = dns_cluster(XG_CLUSTER_STRICT_DNS, 2, 3);
    apply(cs, c, 1);
    xg_cluster_rt *rt = xg_clusters_find(cs, "dns", 3);
    if (!CHECK(rt != NULL))
        return;
    CHECK_EQ_INT(rt->n_hosts, 1); /* the literal: the name has no answer yet */
    CHECK(host_at(rt, "10.9.9.9", 81) != NULL);

    const char *v1[] = {"10.0.0.1", "10.0.0.2"};
    answer(cs, "dns", v1, 2);
    CHECK_EQ_INT(rt->n_hosts, 3);
    xg_host *a = host_at(rt, "10.0.0.1", 80), *b = host_at(rt, "10.0.0.2", 80), *lit = host_at(rt, "10.9.9.9", 81);
    if (!CHECK(a && b && lit))
        return;
    CHECK_STR(a->hostname, "SVC.test"); /* the name as configured, as Envoy */
    CHECK_EQ_INT(a->weight, 3);
    CHECK(lit->hostname == NULL);
    CHECK_EQ_INT(rt->sets[0].n_healthy, 3);
    b->active_requests = 4; /* runtime state a request would hold */
    xg_host_ref(a);

    const char *v2[] = {"10.0.0.2", "10.0.0.3"};
    answer(cs, "dns", v2, 2);
    CHECK_EQ_INT(rt->n_hosts, 3);
    CHECK(host_at(rt, "10.0.0.2", 80) == b);
    CHECK_EQ_INT(b->active_requests, 4);
    CHECK(host_at(rt, "10.0.0.1", 80) == NULL);
    CHECK(host_at(rt, "10.0.0.3", 80) != NULL);
    CHECK(host_at(rt, "10.9.9.9", 81) == lit);
    CHECK_EQ_INT(log.removed, 1);
    CHECK(log.last_removed == a && a->removed);
    xg_host_unref(a);

    b->active_requests = 0;
    answer(cs, "dns", NULL, 0); /* answered with no address: only the literal is left */
    CHECK_EQ_INT(rt->n_hosts, 1);
    xg_res_unref(c);
    xg_clusters_free(cs);
}

XG_TEST(config_update_keeps_resolved_hosts)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    xg_res *c1 = dns_cluster(XG_CLUSTER_STRICT_DNS, 1, 1);
    apply(cs, c1, 1);
    const char *v[] = {"10.0.0.1", "10.0.0.2"};
    answer(cs, "dns", v, 2);
    xg_cluster_rt *rt = xg_clusters_find(cs, "dns", 3);
    xg_host *a = host_at(rt, "10.0.0.1", 80);
    CHECK(a != NULL && a->weight == 1);
    xg_res *c2 = dns_cluster(XG_CLUSTER_STRICT_DNS, 1, 7); /* same name, new weight */
    apply(cs, c2, 2);
    CHECK_EQ_INT(rt->n_hosts, 2);
    CHECK(host_at(rt, "10.0.0.1", 80) == a);
    CHECK_EQ_INT(a->weight, 7);
    CHECK_EQ_INT(log.removed, 0);
    xg_res_unref(c1);
    xg_res_unref(c2);
    xg_clusters_free(cs);
}

XG_TEST(logical_dns_keeps_its_one_host_while_the_address_moves)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    dns_hostname = "api.example";
    xg_res *c = dns_cluster(XG_CLUSTER_LOGICAL_DNS, 1, 1);
    dns_hostname = NULL;
    apply(cs, c, 1);
    xg_cluster_rt *rt = xg_clusters_find(cs, "dns", 3);
    CHECK_EQ_INT(rt->n_hosts, 0);
    const char *v1[] = {"10.0.0.1", "10.0.0.2"};
    answer(cs, "dns", v1, 2);
    CHECK_EQ_INT(rt->n_hosts, 1); /* the first address only */
    xg_host *h = host_at(rt, "10.0.0.1", 80);
    if (!CHECK(h != NULL))
        return;
    CHECK_STR(h->hostname, "api.example"); /* Endpoint.hostname wins over the DNS name */
    CHECK_EQ_INT(h->priority, 0);
    h->active_requests = 2;
    const char *v2[] = {"10.0.0.7"};
    answer(cs, "dns", v2, 1);
    CHECK_EQ_INT(rt->n_hosts, 1);
    CHECK(host_at(rt, "10.0.0.1", 80) == NULL);
    CHECK(host_at(rt, "10.0.0.7", 80) == h); /* the same host: its pools stay */
    CHECK_STR(h->addr_str, "10.0.0.7:80");
    CHECK_EQ_INT(h->active_requests, 2);
    CHECK_EQ_INT(log.removed, 0);
    CHECK(xg_cluster_pick(rt, NULL) == h);
    h->active_requests = 0;
    xg_res_unref(c);
    xg_clusters_free(cs);
}

XG_TEST(answers_for_other_clusters_are_dropped)
{
    hooks_log log = {0};
    xg_clusters *cs = mk(&log);
    tep eps[] = {{"10.0.0.1", 80, 1, 0, 0}};
    xg_res *st = tu_cluster("static", eps, 1, NULL);
    apply(cs, st, 1);
    const char *v[] = {"10.0.0.5"};
    answer(cs, "static", v, 1); /* not a DNS cluster */
    answer(cs, "gone", v, 1);   /* no such cluster */
    answer(NULL, "static", v, 1);
    xg_cluster_rt *rt = xg_clusters_find(cs, "static", 6);
    CHECK_EQ_INT(rt->n_hosts, 1);
    CHECK(rt->dns == NULL);
    xg_res_unref(st);
    xg_clusters_free(cs);
}

XG_TEST(endpoints_of_a_dns_cluster)
{
    xg_res *c = dns_cluster(XG_CLUSTER_STRICT_DNS, 2, 2);
    const xg_cluster *cfg = c->body;
    xg_endpoints *e = NULL;
    CHECK_EQ_INT(xg_dns_endpoints(cfg, NULL, &e), 0);
    CHECK_EQ_INT(e->n_endpoints, 1);
    CHECK(e->localities[0].endpoints[0].is_ip);
    free(e);
    struct sockaddr_storage v[3] = {0};
    for (int i = 0; i < 3; i++) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&v[i];
        in6->sin6_family = AF_INET6;
        in6->sin6_addr.s6_addr[15] = (uint8_t)(i + 1);
    }
    xg_dns_hosts *h = xg_dns_hosts_new("dns", 1);
    CHECK_EQ_INT(xg_dns_hosts_add(h, "svc.test", v, 3), 0);
    CHECK(xg_dns_hosts_find(h, "SVC.TEST.") != NULL);
    CHECK(xg_dns_hosts_find(h, "svc.tes") == NULL);
    CHECK_EQ_INT(xg_dns_endpoints(cfg, h, &e), 0);
    CHECK_EQ_INT(e->n_endpoints, 4);
    CHECK_EQ_INT(e->localities[0].n_endpoints, 4);
    const xg_lb_endpoint *x = &e->localities[0].endpoints[2];
    CHECK(x->is_ip && x->addr.ss_family == AF_INET6);
    CHECK_EQ_INT(ntohs(((const struct sockaddr_in6 *)&x->addr)->sin6_port), 80);
    CHECK_EQ_INT(x->addrlen, sizeof(struct sockaddr_in6));
    CHECK_EQ_INT(x->weight, 2);
    free(e);
    xg_dns_hosts_unref(h);
    xg_res_unref(c);
}
