/* Unit tests for src/cluster/dns_conf.c: resolv.conf as the C library reads
 * it (servers, search/domain, options, comments, junk), the defaults, a
 * missing file, and a cluster's resolvers over the system's settings
 * (replacing them, as a fallback only, TCP, no search domains). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cluster/dns_conf.h"
#include "cluster/host.h"
#include "net/listen.h"
#include "xg_test.h"

static xg_dns_conf c;

static void parse(const char *text)
{
    xg_dns_conf_init(&c);
    xg_dns_conf_parse(&c, text, strlen(text));
}

static const char *server(size_t i)
{
    static char buf[XG_HOST_ADDR_STR];
    xg_sockaddr_str((const struct sockaddr *)&c.servers[i], buf, sizeof buf);
    return buf;
}

XG_TEST(kubernetes_resolv_conf)
{
    parse("search default.svc.cluster.local svc.cluster.local cluster.local\n"
          "nameserver 10.96.0.10\n"
          "options ndots:5\n");
    CHECK_EQ_INT(c.n_servers, 1);
    CHECK_STR(server(0), "10.96.0.10:53");
    CHECK(c.has_nameservers);
    CHECK_EQ_INT(c.n_search, 3);
    CHECK_STR(c.search[0], "default.svc.cluster.local");
    CHECK_STR(c.search[2], "cluster.local");
    CHECK_EQ_INT(c.ndots, 5);
    CHECK_EQ_INT(c.timeout_ms, 2000);
    CHECK_EQ_INT(c.attempts, 3);
    CHECK(!c.rotate && !c.use_tcp);
}

XG_TEST(options_comments_and_junk)
{
    parse("# a comment\n"
          "; another\n"
          "nameserver 192.0.2.1 # trailing comment\n"
          "nameserver not-an-ip\n"
          "nameserver 2001:db8::1\n"
          "domain first.example\n"
          "search second.example. third.example\n"
          "options timeout:7 attempts:9 ndots:40 rotate use-vc bogus:1\n"
          "sortlist 1.2.3.4\n"
          "\tnameserver\t192.0.2.2\r\n");
    CHECK_EQ_INT(c.n_servers, 3);
    CHECK_STR(server(0), "192.0.2.1:53");
    CHECK_STR(server(1), "[2001:db8::1]:53");
    CHECK_STR(server(2), "192.0.2.2:53");
    CHECK_EQ_INT(c.n_search, 2); /* the last of domain/search wins, final dots dropped */
    CHECK_STR(c.search[0], "second.example");
    CHECK_STR(c.search[1], "third.example");
    CHECK_EQ_INT(c.timeout_ms, 7000);
    CHECK_EQ_INT(c.attempts, 5); /* clamped */
    CHECK_EQ_INT(c.ndots, 15);   /* clamped */
    CHECK(c.rotate && c.use_tcp);
}

XG_TEST(no_nameserver_means_localhost)
{
    parse("search a.example\n");
    CHECK_EQ_INT(c.n_servers, 1);
    CHECK_STR(server(0), "127.0.0.1:53");
    CHECK(!c.has_nameservers);
    parse("options timeout:0 attempts:0\n");
    CHECK_EQ_INT(c.timeout_ms, 1000);
    CHECK_EQ_INT(c.attempts, 1);
}

XG_TEST(server_limit)
{
    char text[2048] = "";
    for (int i = 0; i < 12; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "nameserver 10.0.0.%d\n", i + 1);
    parse(text);
    CHECK_EQ_INT(c.n_servers, XG_DNS_MAX_SERVERS);
}

XG_TEST(load_file_and_missing_file)
{
    char path[] = "/tmp/xg_resolv_XXXXXX";
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0))
        return;
    const char *text = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n";
    CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    CHECK_EQ_INT(xg_dns_conf_load(&c, path), 0);
    CHECK_STR(server(0), "127.0.0.53:53");
    CHECK_STR(c.search[0], "lan");
    unlink(path);
    CHECK(xg_dns_conf_load(&c, path) < 0);
    CHECK_EQ_INT(c.n_servers, 1);
    CHECK_STR(server(0), "127.0.0.1:53");
}

XG_TEST(cluster_resolvers_over_the_system)
{
    parse("nameserver 10.0.0.1\nsearch s.example\noptions ndots:3\n");
    xg_dns_conf sys = c, out;
    struct sockaddr_storage mine[2] = {0};
    struct sockaddr_in *a = (void *)&mine[0];
    a->sin_family = AF_INET;
    a->sin_port = htons(5353);
    inet_pton(AF_INET, "127.0.0.9", &a->sin_addr);
    struct sockaddr_in6 *b = (void *)&mine[1];
    b->sin6_family = AF_INET6;
    b->sin6_port = htons(53);
    inet_pton(AF_INET6, "::1", &b->sin6_addr);
    xg_dns_resolver_config rc = {.resolvers = mine, .n_resolvers = 2};
    xg_dns_conf_for_cluster(&sys, &rc, &out);
    c = out;
    CHECK_EQ_INT(c.n_servers, 2);
    CHECK_STR(server(0), "127.0.0.9:5353");
    CHECK_STR(server(1), "[::1]:53");
    CHECK_EQ_INT(c.n_search, 1); /* search and options stay the system's */
    CHECK_EQ_INT(c.ndots, 3);
    rc.resolvers_as_fallback = true; /* the system has a server: it is used */
    rc.use_tcp = true;
    rc.no_default_search_domain = true;
    xg_dns_conf_for_cluster(&sys, &rc, &out);
    c = out;
    CHECK_EQ_INT(c.n_servers, 1);
    CHECK_STR(server(0), "10.0.0.1:53");
    CHECK(c.use_tcp);
    CHECK_EQ_INT(c.n_search, 0);
    parse("search only.example\n"); /* no system server: the fallback applies */
    sys = c;
    xg_dns_conf_for_cluster(&sys, &rc, &out);
    c = out;
    CHECK_STR(server(0), "127.0.0.9:5353");
}
