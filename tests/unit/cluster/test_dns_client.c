/* Unit tests for src/cluster/dns_client.c against fake DNS servers on
 * loopback (UDP and TCP on one port, served from the same loop) whose
 * answers each test scripts: the lookup-family plans (V4_ONLY, AUTO,
 * V4_PREFERRED, ALL), a truncated UDP answer repeated over TCP, TCP-only
 * settings, a stranger's answer ignored, a silent, failing, refusing or
 * garbage-speaking server followed by a good one, every server failing or
 * silent, search domains and ndots, NXDOMAIN, and cancel. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "cluster/dns_client.h"
#include "cluster/dns_fake.h"
#include "cluster/dns_wire.h"
#include "core/error.h"
#include "net/net_test.h"
#include "xg_test.h"

/* --- answers --- */

static void reply_head(pk *o, const qinfo *q, unsigned flags, unsigned an)
{
    pk_hdr(o, q->id, flags, 1, an);
    pk_question(o, q->name, q->qtype);
}

/* NOERROR with n addresses of the asked type (10.0.0.i / fd00::i). */
static void addresses(pk *o, const qinfo *q, int n, uint32_t ttl)
{
    reply_head(o, q, 0x8180, (unsigned)n);
    for (int i = 1; i <= n; i++) {
        pk_ptr(o, 12);
        if (q->qtype == XG_DNS_T_A)
            pk_a(o, ttl, 10, 0, 0, (uint8_t)i);
        else
            pk_aaaa(o, ttl, (uint8_t)i);
    }
}

static int v4_two(const qinfo *q, pk *o, int max)
{
    if (q->qtype == XG_DNS_T_A)
        addresses(o, q, 2, 30);
    else
        reply_head(o, q, 0x8180, 0);
    return 1;
}

static int both(const qinfo *q, pk *o, int max)
{
    addresses(o, q, q->qtype == XG_DNS_T_A ? 1 : 2, q->qtype == XG_DNS_T_A ? 50 : 20);
    return 1;
}

static int v6_nodata(const qinfo *q, pk *o, int max)
{
    if (q->qtype == XG_DNS_T_AAAA)
        addresses(o, q, 1, 9);
    else
        reply_head(o, q, 0x8180, 0);
    return 1;
}

/* UDP: truncated; TCP: 40 addresses (more than 512 bytes' worth). */
static int big(const qinfo *q, pk *o, int max)
{
    if (!q->tcp) {
        reply_head(o, q, 0x8380, 0);
        return 1;
    }
    addresses(o, q, 40, 60);
    return 1;
}

/* A stranger's answer (another id) first, then ours. */
static int stranger_first(const qinfo *q, pk *o, int max)
{
    qinfo other = *q;
    other.id ^= 0x5555;
    addresses(&o[0], &other, 1, 5);
    o[0].b[15] = 99; /* would be 10.0.0.99... */
    addresses(&o[1], q, 1, 5);
    return 2;
}

static int silent(const qinfo *q, pk *o, int max)
{
    return 0;
}

static int servfail(const qinfo *q, pk *o, int max)
{
    reply_head(o, q, 0x8182, 0);
    return 1;
}

static int refused(const qinfo *q, pk *o, int max)
{
    reply_head(o, q, 0x8185, 0);
    return 1;
}

static int garbage(const qinfo *q, pk *o, int max)
{
    addresses(o, q, 1, 5);
    o->b[o->n - 6] = 0xff; /* the A record's rdlength: far beyond the message */
    return 1;
}

static int nxdomain(const qinfo *q, pk *o, int max)
{
    reply_head(o, q, 0x8183, 0);
    return 1;
}

/* Only "svc" itself exists: svc.<search domain> is NXDOMAIN. */
static int only_svc(const qinfo *q, pk *o, int max)
{
    if (strcmp(q->name, "svc") == 0 || strcmp(q->name, "svc.x") == 0)
        addresses(o, q, 1, 5);
    else
        reply_head(o, q, 0x8183, 0);
    return 1;
}

/* --- the lookup --- */

typedef struct outcome {
    bool done;
    int calls, status;
    uint32_t n, ttl;
    struct sockaddr_storage addrs[64];
} outcome;

static void on_done(void *arg, int status, const xg_dns_result *r)
{
    outcome *o = arg;
    o->done = true;
    o->calls++;
    o->status = status;
    o->n = r->n;
    o->ttl = r->ttl;
    for (uint32_t i = 0; i < r->n && i < 64; i++)
        o->addrs[i] = r->addrs[i];
}

static const char *addr_text(const outcome *o, uint32_t i)
{
    static char buf[INET6_ADDRSTRLEN];
    const struct sockaddr_storage *ss = &o->addrs[i];
    if (ss->ss_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, sizeof buf);
    return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, sizeof buf);
}

static xg_loop loop;
static fake srv[2];
static xg_dns_conf conf;

static void setup(int n_servers, script_fn a, script_fn b)
{
    xg_loop_init(&loop, 0);
    n_seen = 0;
    xg_dns_conf_init(&conf);
    conf.timeout_ms = 150;
    conf.attempts = 2;
    script_fn fns[2] = {a, b};
    for (int i = 0; i < n_servers; i++) {
        fake_start(&loop, &srv[i], i, fns[i]);
        struct sockaddr_in *sa = (struct sockaddr_in *)&conf.servers[i];
        *sa = nt_addr4(srv[i].port);
    }
    conf.n_servers = (size_t)n_servers;
}

static void teardown(int n_servers)
{
    for (int i = 0; i < n_servers; i++)
        fake_stop(&loop, &srv[i]);
    nt_run_for(&loop, 0.01);
    xg_loop_dispose(&loop);
}

static outcome *lookup(const char *name, xg_dns_family family, double secs)
{
    static outcome o;
    memset(&o, 0, sizeof o);
    xg_dns_query *q;
    CHECK_EQ_INT(xg_dns_resolve(&loop, name, family, &conf, on_done, &o, &q), 0);
    CHECK(!o.done); /* never from inside resolve */
    CHECK(nt_run_until(&loop, &o.done, secs));
    nt_run_for(&loop, 0.02);
    CHECK_EQ_INT(o.calls, 1);
    return &o;
}

XG_TEST(v4_only_two_addresses)
{
    setup(1, v4_two, NULL);
    outcome *o = lookup("svc.test", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->status, 0);
    CHECK_EQ_INT(o->n, 2);
    CHECK_STR(addr_text(o, 0), "10.0.0.1");
    CHECK_STR(addr_text(o, 1), "10.0.0.2");
    CHECK_EQ_INT(o->ttl, 30);
    CHECK_EQ_INT(n_seen, 1);
    CHECK_EQ_INT(seen[0].qtype, XG_DNS_T_A);
    CHECK_STR(seen[0].name, "svc.test");
    CHECK(!seen[0].tcp);
    teardown(1);
}

XG_TEST(auto_asks_aaaa_then_a)
{
    setup(1, v4_two, NULL);
    outcome *o = lookup("svc.test", XG_DNS_AUTO, 5);
    CHECK_EQ_INT(o->status, 0);
    CHECK_EQ_INT(o->n, 2);
    CHECK_STR(addr_text(o, 0), "10.0.0.1");
    CHECK_EQ_INT(n_seen, 2);
    CHECK_EQ_INT(seen[0].qtype, XG_DNS_T_AAAA);
    CHECK_EQ_INT(seen[1].qtype, XG_DNS_T_A);
    teardown(1);
}

XG_TEST(auto_stops_at_aaaa_and_preferred_v4_falls_back)
{
    setup(1, v6_nodata, NULL);
    outcome *o = lookup("svc.test", XG_DNS_AUTO, 5);
    CHECK_EQ_INT(o->n, 1);
    CHECK_STR(addr_text(o, 0), "fd00::1");
    CHECK_EQ_INT(o->ttl, 9);
    CHECK_EQ_INT(n_seen, 1);
    n_seen = 0;
    o = lookup("svc.test", XG_DNS_V4_PREFERRED, 5);
    CHECK_EQ_INT(o->n, 1);
    CHECK_STR(addr_text(o, 0), "fd00::1");
    CHECK_EQ_INT(n_seen, 2);
    CHECK_EQ_INT(seen[0].qtype, XG_DNS_T_A);
    n_seen = 0;
    o = lookup("svc.test", XG_DNS_V6_ONLY, 5);
    CHECK_EQ_INT(o->n, 1);
    CHECK_EQ_INT(n_seen, 1);
    teardown(1);
}

XG_TEST(all_gives_v4_then_v6)
{
    setup(1, both, NULL);
    outcome *o = lookup("svc.test", XG_DNS_ALL, 5);
    CHECK_EQ_INT(o->status, 0);
    CHECK_EQ_INT(o->n, 3);
    CHECK_STR(addr_text(o, 0), "10.0.0.1");
    CHECK_STR(addr_text(o, 1), "fd00::1");
    CHECK_STR(addr_text(o, 2), "fd00::2");
    CHECK_EQ_INT(o->ttl, 20);
    teardown(1);
}

XG_TEST(truncated_answer_is_asked_again_over_tcp)
{
    setup(1, big, NULL);
    outcome *o = lookup("big.test", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->status, 0);
    CHECK_EQ_INT(o->n, 40);
    CHECK_STR(addr_text(o, 39), "10.0.0.40");
    CHECK_EQ_INT(n_seen, 2);
    CHECK(!seen[0].tcp && seen[1].tcp);
    teardown(1);
}

XG_TEST(tcp_when_asked)
{
    setup(1, v4_two, NULL);
    conf.use_tcp = true;
    outcome *o = lookup("svc.test", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->n, 2);
    CHECK_EQ_INT(n_seen, 1);
    CHECK(seen[0].tcp);
    teardown(1);
}

XG_TEST(a_strangers_answer_is_ignored)
{
    setup(1, stranger_first, NULL);
    outcome *o = lookup("svc.test", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->status, 0);
    CHECK_EQ_INT(o->n, 1);
    CHECK_STR(addr_text(o, 0), "10.0.0.1");
    teardown(1);
}

static void second_server_answers(script_fn first)
{
    setup(2, first, v4_two);
    outcome *o = lookup("svc.test", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->status, 0);
    CHECK_EQ_INT(o->n, 2);
    CHECK_EQ_INT(n_seen, 2);
    CHECK_EQ_INT(seen[0].server, 0);
    CHECK_EQ_INT(seen[1].server, 1);
    teardown(2);
}

XG_TEST(silent_failing_refusing_or_garbage_server_then_the_next)
{
    second_server_answers(silent);
    second_server_answers(servfail);
    second_server_answers(refused);
    second_server_answers(garbage);
}

XG_TEST(nothing_listening_then_the_next)
{
    setup(2, v4_two, v4_two);
    fake_stop(&loop, &srv[0]); /* the first server's port is closed: ICMP port unreachable */
    outcome *o = lookup("svc.test", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->status, 0);
    CHECK_EQ_INT(o->n, 2);
    fake_stop(&loop, &srv[1]);
    nt_run_for(&loop, 0.01);
    xg_loop_dispose(&loop);
}

XG_TEST(every_server_failing_or_silent)
{
    setup(2, servfail, refused);
    outcome *o = lookup("svc.test", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->status, XG_EIO);
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(n_seen, 4); /* 2 attempts x 2 servers */
    teardown(2);
    setup(1, silent, NULL);
    o = lookup("svc.test", XG_DNS_AUTO, 5);
    CHECK_EQ_INT(o->status, -ETIMEDOUT);
    CHECK_EQ_INT(n_seen, 4); /* AAAA twice, then A twice */
    teardown(1);
}

XG_TEST(nxdomain_is_an_answer_without_addresses)
{
    setup(1, nxdomain, NULL);
    outcome *o = lookup("nope.test", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->status, 0);
    CHECK_EQ_INT(o->n, 0);
    teardown(1);
}

XG_TEST(search_domains_and_ndots)
{
    setup(1, only_svc, NULL);
    conf.n_search = 2;
    strcpy(conf.search[0], "ns.test");
    strcpy(conf.search[1], "test");
    outcome *o = lookup("svc", XG_DNS_V4_ONLY, 5); /* fewer dots than ndots: the search list first */
    CHECK_EQ_INT(o->n, 1);
    CHECK_EQ_INT(n_seen, 3);
    CHECK_STR(seen[0].name, "svc.ns.test");
    CHECK_STR(seen[1].name, "svc.test");
    CHECK_STR(seen[2].name, "svc");
    n_seen = 0;
    o = lookup("svc.x", XG_DNS_V4_ONLY, 5); /* enough dots: as given first */
    CHECK_EQ_INT(o->n, 1);
    CHECK_EQ_INT(n_seen, 1);
    n_seen = 0;
    o = lookup("nope.", XG_DNS_V4_ONLY, 5); /* a final dot: never searched */
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(n_seen, 1);
    CHECK_STR(seen[0].name, "nope");
    teardown(1);
}

XG_TEST(cancel_means_no_callback)
{
    setup(1, silent, NULL);
    outcome o = {0};
    xg_dns_query *q;
    CHECK_EQ_INT(xg_dns_resolve(&loop, "svc.test", XG_DNS_V4_ONLY, &conf, on_done, &o, &q), 0);
    nt_run_for(&loop, 0.05);
    xg_dns_cancel(q);
    nt_run_for(&loop, 0.8);
    CHECK(!o.done);
    teardown(1);
}

XG_TEST(bad_name_fails_from_the_loop)
{
    setup(1, v4_two, NULL);
    outcome *o = lookup("a..b", XG_DNS_V4_ONLY, 5);
    CHECK_EQ_INT(o->status, XG_EINVAL);
    CHECK_EQ_INT(n_seen, 0);
    teardown(1);
}
