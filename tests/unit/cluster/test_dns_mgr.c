/* Unit tests for the DNS clusters' resolver (src/cluster/dns_mgr.c) with a
 * scripted DNS server on loopback as the clusters' custom resolver: the
 * first answer is passed on, a changed answer again, an unchanged one not;
 * a failing server changes nothing and is asked again; respect_dns_ttl
 * stretches the refresh; LOGICAL_DNS ignores empty answers and reacts only
 * to its first address; a config update carries the addresses over; a
 * removed cluster stops being resolved; the system's search domains apply.
 * Timing: generous deadlines, outcomes asserted rather than durations. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster/cluster_util.h"
#include "cluster/dns_fake.h"
#include "cluster/dns_mgr.h"
#include "cluster/dns_wire.h"
#include "core/error.h"
#include "xg_test.h"

/* --- the server's answers: script "ips" for svc.test (A only) --- */

static const char *ips[8];
static int n_ips;
static bool fail_all;
static uint32_t ttl = 30;

static int script(const qinfo *q, pk *o, int max)
{
    if (fail_all) {
        pk_hdr(o, q->id, 0x8182, 1, 0);
        pk_question(o, q->name, q->qtype);
        return 1;
    }
    bool known = strcmp(q->name, "svc.test") == 0 && q->qtype == XG_DNS_T_A;
    pk_hdr(o, q->id, known || strcmp(q->name, "svc.test") == 0 ? 0x8180 : 0x8183, 1, known ? (unsigned)n_ips : 0);
    pk_question(o, q->name, q->qtype);
    for (int i = 0; known && i < n_ips; i++) {
        unsigned a, b, c, d;
        sscanf(ips[i], "%u.%u.%u.%u", &a, &b, &c, &d);
        pk_ptr(o, 12);
        pk_a(o, ttl, (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d);
    }
    return 1;
}

/* --- what reaches the workers --- */

static int delivered, observed;
static xg_dns_hosts *last;

static void on_observe(void *arg, const xg_dns_hosts *h)
{
    CHECK_STR(h->cluster, "dns");
    observed++;
}

static void on_deliver(void *arg, xg_dns_hosts *h)
{
    delivered++;
    xg_dns_hosts_unref(last);
    last = h;
}

/* "10.0.0.1,10.0.0.2" for the last answer of svc.test, "-" when none. */
static const char *last_text(void)
{
    static char buf[256];
    const xg_dns_name *d = xg_dns_hosts_find(last, "svc.test");
    if (d == NULL)
        return "-";
    buf[0] = '\0';
    for (uint32_t i = 0; i < d->n; i++) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&d->addrs[i])->sin_addr, ip, sizeof ip);
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "", ip);
    }
    return buf;
}

/* --- clusters --- */

static xg_loop loop;
static fake srv;
static struct sockaddr_storage resolver;
static xg_cluster_type type = XG_CLUSTER_STRICT_DNS;
static bool respect_ttl;
static int64_t refresh_ms = 50;
static const char *endpoint_name = "svc.test";

static void make_dns(xg_cluster *c)
{
    c->type = type;
    xg_lb_endpoint *e = &c->load_assignment->localities[0].endpoints[0];
    e->host = endpoint_name;
    e->is_ip = false;
    c->dns_lookup_family = XG_DNS_V4_ONLY;
    c->dns_refresh_rate_ms = refresh_ms;
    c->respect_dns_ttl = respect_ttl;
    c->dns_resolver.resolvers = &resolver;
    c->dns_resolver.n_resolvers = 1;
}

static xg_snapshot *snap_of(uint64_t gen, xg_res *c)
{
    xg_res_ref(c);
    return tu_snap(gen, &c, 1, NULL, 0);
}

static xg_res *dns_cluster(void)
{
    tep eps[] = {{"0.0.0.0", 80, 1, 0, 0}};
    return tu_cluster("dns", eps, 1, make_dns);
}

static xg_dns_mgr *mgr;

static void setup(const char *resolv_conf)
{
    xg_loop_init(&loop, 0);
    fake_start(&loop, &srv, 0, script);
    struct sockaddr_in *in = (struct sockaddr_in *)&resolver;
    *in = nt_addr4(srv.port);
    n_seen = 0;
    delivered = observed = 0;
    fail_all = false;
    xg_dns_mgr_opts o = {.deliver = on_deliver, .observe = on_observe, .resolv_conf = resolv_conf, .seed = 1};
    CHECK_EQ_INT(xg_dns_mgr_new(&loop, &o, &mgr), 0);
}

static void teardown(void)
{
    xg_dns_mgr_free(mgr);
    fake_stop(&loop, &srv);
    nt_run_for(&loop, 0.01);
    xg_loop_dispose(&loop);
    xg_dns_hosts_unref(last);
    last = NULL;
    type = XG_CLUSTER_STRICT_DNS;
    respect_ttl = false;
    refresh_ms = 50;
    endpoint_name = "svc.test";
}

static bool deliveries(int n, double secs)
{
    for (double t = 0; t < secs && delivered < n; t += 0.01)
        nt_run_for(&loop, 0.01);
    return delivered >= n;
}

static bool queries(int n, double secs)
{
    for (double t = 0; t < secs && n_seen < n; t += 0.01)
        nt_run_for(&loop, 0.01);
    return n_seen >= n;
}

/* make_dns's cluster in a snapshot the resolver applies; the first answer
 * reaches the "workers". */
static xg_snapshot *start_cluster(xg_res **c)
{
    *c = dns_cluster();
    xg_snapshot *s = snap_of(1, *c);
    xg_dns_mgr_apply(mgr, s);
    CHECK(deliveries(1, 5));
    return s;
}

static void finish(xg_snapshot *s, xg_res *c)
{
    xg_snapshot_unref(s);
    xg_res_unref(c);
    teardown();
}

XG_TEST(answers_are_passed_on_when_they_change)
{
    setup("/nonexistent/resolv.conf");
    ips[0] = "10.0.0.2";
    ips[1] = "10.0.0.1";
    n_ips = 2;
    xg_res *c;
    xg_snapshot *s = start_cluster(&c);
    CHECK_STR(last->cluster, "dns");
    CHECK_STR(last_text(), "10.0.0.1,10.0.0.2"); /* STRICT_DNS: in address order */
    CHECK(queries(5, 5));                        /* refreshed every 50 ms... */
    CHECK_EQ_INT(delivered, 1);                  /* ...and nothing new to pass on */
    ips[2] = "10.0.0.3";
    n_ips = 3;
    CHECK(deliveries(2, 5));
    CHECK_STR(last_text(), "10.0.0.1,10.0.0.2,10.0.0.3");
    CHECK_EQ_INT(observed, delivered); /* main-thread observers see every answer set too */
    n_ips = 0;                         /* answered, but no address: the name has no host */
    CHECK(deliveries(3, 5));
    CHECK_STR(last_text(), "");
    xg_dns_mgr_apply(mgr, s); /* the same cluster table: nothing restarts */
    finish(s, c);
}

XG_TEST(failures_change_nothing_and_are_retried)
{
    setup("/nonexistent/resolv.conf");
    ips[0] = "10.0.0.1";
    n_ips = 1;
    xg_res *c;
    xg_snapshot *s = start_cluster(&c);
    fail_all = true;
    int before = n_seen;
    CHECK(queries(before + 6, 10)); /* asked again and again */
    CHECK_EQ_INT(delivered, 1);     /* the last good answer stands */
    fail_all = false;
    ips[0] = "10.0.0.9";
    CHECK(deliveries(2, 5));
    CHECK_STR(last_text(), "10.0.0.9");
    finish(s, c);
}

XG_TEST(respect_dns_ttl_stretches_the_refresh)
{
    setup("/nonexistent/resolv.conf");
    ips[0] = "10.0.0.1";
    n_ips = 1;
    ttl = 3600;
    respect_ttl = true;
    refresh_ms = 20;
    xg_res *c;
    xg_snapshot *s = start_cluster(&c);
    nt_run_for(&loop, 0.5);
    CHECK_EQ_INT(n_seen, 1); /* 25 refreshes were due without the TTL */
    ttl = 30;
    finish(s, c);
}

XG_TEST(logical_dns_ignores_empty_answers_and_other_addresses)
{
    setup("/nonexistent/resolv.conf");
    type = XG_CLUSTER_LOGICAL_DNS;
    ips[0] = "10.0.0.5";
    ips[1] = "10.0.0.1";
    n_ips = 2;
    xg_res *c;
    xg_snapshot *s = start_cluster(&c);
    CHECK_STR(last_text(), "10.0.0.5,10.0.0.1"); /* in answer order: the first one is used */
    ips[1] = "10.0.0.2";                         /* only a later address changes */
    int before = n_seen;
    CHECK(queries(before + 4, 5));
    n_ips = 0; /* empty: the logical host keeps its address */
    before = n_seen;
    CHECK(queries(before + 4, 5));
    CHECK_EQ_INT(delivered, 1);
    ips[0] = "10.0.0.6";
    n_ips = 1;
    CHECK(deliveries(2, 5));
    CHECK_STR(last_text(), "10.0.0.6");
    finish(s, c);
}

XG_TEST(config_update_carries_addresses_and_removal_stops)
{
    setup("/nonexistent/resolv.conf");
    ips[0] = "10.0.0.1";
    n_ips = 1;
    xg_res *c1 = dns_cluster();
    xg_snapshot *s1 = snap_of(1, c1);
    xg_dns_mgr_apply(mgr, s1);
    CHECK(deliveries(1, 5));
    refresh_ms = 30;
    xg_res *c2 = dns_cluster(); /* the same name in a new config */
    xg_snapshot *s2 = snap_of(2, c2);
    xg_dns_mgr_apply(mgr, s2);
    int before = n_seen;
    CHECK(queries(before + 3, 5));
    CHECK_EQ_INT(delivered, 1); /* the carried-over answer did not change */
    xg_snapshot *s3 = tu_snap(3, NULL, 0, NULL, 0);
    xg_dns_mgr_apply(mgr, s3);
    nt_run_for(&loop, 0.1);
    before = n_seen;
    nt_run_for(&loop, 0.3);
    CHECK_EQ_INT(n_seen, before); /* no cluster, no lookups */
    xg_snapshot_unref(s1);
    xg_snapshot_unref(s2);
    xg_snapshot_unref(s3);
    xg_res_unref(c1);
    xg_res_unref(c2);
    teardown();
}

XG_TEST(system_search_domains_apply)
{
    char path[] = "/tmp/xg_resolv_XXXXXX";
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0))
        return;
    const char *text = "nameserver 192.0.2.1\nsearch test\n";
    CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    setup(path);
    endpoint_name = "svc";
    ips[0] = "10.0.0.4";
    n_ips = 1;
    xg_res *c;
    xg_snapshot *s = start_cluster(&c);
    CHECK_STR(seen[0].name, "svc.test"); /* the cluster's resolver, the system's search list */
    const xg_dns_name *d = xg_dns_hosts_find(last, "svc");
    CHECK(d != NULL && d->n == 1);
    xg_dns_mgr_stop(mgr);
    int before = n_seen;
    nt_run_for(&loop, 0.3);
    CHECK_EQ_INT(n_seen, before);
    xg_snapshot_unref(s);
    xg_res_unref(c);
    teardown();
    unlink(path);
}
