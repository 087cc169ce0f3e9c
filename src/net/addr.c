/* HOST:PORT parsing and start-up address resolution. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "net/addr.h"

static int parse_port(const char *s, uint16_t *port)
{
    if (*s == '\0' || strlen(s) > 5)
        return XG_EINVAL;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return XG_EINVAL;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return XG_EINVAL;
    *port = (uint16_t)v;
    return 0;
}

static int copy_host(const char *s, size_t n, char host[XG_HOST_MAX])
{
    if (n == 0 || n >= XG_HOST_MAX || memchr(s, '\0', n) != NULL)
        return XG_EINVAL;
    memcpy(host, s, n);
    host[n] = '\0';
    return 0;
}

int xg_hostport_parse(const char *s, char host[XG_HOST_MAX], uint16_t *port)
{
    const char *colon;
    int rc;
    if (s[0] == '[') {
        /* IPv6 literal: the port follows the closing bracket, never a bare colon inside it. */
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return XG_EINVAL;
        rc = copy_host(s + 1, (size_t)(end - s - 1), host);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return XG_EINVAL; /* a bare IPv6 address would be ambiguous */
        rc = copy_host(s, (size_t)(colon - s), host);
    }
    if (rc != 0)
        return rc;
    return parse_port(colon + 1, port);
}

int xg_addr_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)
        return XG_ENOENT;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

socklen_t xg_sockaddr_copy(void *dst, size_t cap, const void *sa, socklen_t len)
{
    memset(dst, 0, cap);
    if (sa == NULL || len > cap)
        return 0;
    memcpy(dst, sa, len);
    return len;
}
