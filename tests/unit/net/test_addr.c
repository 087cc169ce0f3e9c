/* Unit tests for HOST:PORT parsing and resolution (src/net/addr.c). */
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "net/addr.h"
#include "net/listen.h"
#include "xg_test.h"

XG_TEST(parses_hosts_and_ports)
{
    static const struct {
        const char *in, *host;
        unsigned port;
    } ok[] = {
        {"127.0.0.1:9901", "127.0.0.1", 9901},
        {"localhost:1", "localhost", 1},
        {"[::1]:65535", "::1", 65535},
        {"cp.ns.svc.cluster.local:18000", "cp.ns.svc.cluster.local", 18000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char host[XG_HOST_MAX];
        uint16_t port = 0;
        CHECK_EQ_INT(xg_hostport_parse(ok[i].in, host, &port), 0);
        CHECK_STR(host, ok[i].host);
        CHECK_EQ_INT(port, ok[i].port);
    }
}

XG_TEST(rejects_malformed)
{
    const char *bad[] = {"",        ":80",     "host",   "host:",   "host:0", "host:65536", "host:123456",
                         "host:8o", "host:-1", "::1:80", "[::1]80", "[]:80",  "[::1",       "host:+80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char host[XG_HOST_MAX];
        uint16_t port = 0;
        if (!CHECK_EQ_INT(xg_hostport_parse(bad[i], host, &port), XG_EINVAL))
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
    }
}

XG_TEST(resolves_numeric_addresses)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char text[64];
    CHECK_EQ_INT(xg_addr_resolve("127.0.0.1", 8080, &ss, &len), 0);
    CHECK_EQ_INT(ss.ss_family, AF_INET);
    xg_sockaddr_str((struct sockaddr *)&ss, text, sizeof(text));
    CHECK_STR(text, "127.0.0.1:8080");
    CHECK_EQ_INT(xg_addr_resolve("::1", 443, &ss, &len), 0);
    xg_sockaddr_str((struct sockaddr *)&ss, text, sizeof(text));
    CHECK_STR(text, "[::1]:443");
}

XG_TEST(second_listener_on_a_port_fails_with_addrinuse)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd1 = -1, fd2 = -1;
    if (!CHECK_EQ_INT(xg_listen_tcp((struct sockaddr *)&a, sizeof(a), 8, 0, &fd1), 0))
        return;
    socklen_t len = sizeof(a);
    getsockname(fd1, (struct sockaddr *)&a, &len);
    CHECK_EQ_INT(xg_listen_tcp((struct sockaddr *)&a, sizeof(a), 8, 0, &fd2), -EADDRINUSE);
    close(fd1);
}

/* Connections keep compact addresses: IPv4 and IPv6 fit whole, anything
 * longer is refused and reads as family 0. */
XG_TEST(compact_addresses)
{
    xg_sockaddr d;
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(443), .sin6_scope_id = 7};
    v6.sin6_addr.s6_addr[15] = 1;
    CHECK_EQ_INT(xg_sockaddr_copy(&d, sizeof(d), &v6, sizeof(v6)), sizeof(v6));
    CHECK(memcmp(&d.in6, &v6, sizeof(v6)) == 0);
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(0x7f000001)};
    CHECK_EQ_INT(xg_sockaddr_copy(&d, sizeof(d), &v4, sizeof(v4)), sizeof(v4));
    CHECK_EQ_INT(d.in4.sin_family, AF_INET);
    CHECK_EQ_INT(ntohs(d.in4.sin_port), 80);
    CHECK_EQ_INT(d.in6.sin6_scope_id, 0); /* the rest zeroed */
    struct sockaddr_storage big = {.ss_family = AF_UNIX};
    CHECK_EQ_INT(xg_sockaddr_copy(&d, sizeof(d), &big, sizeof(big)), 0);
    CHECK_EQ_INT(d.sa.sa_family, 0);
    CHECK_EQ_INT(sizeof(xg_sockaddr), 28);
}
