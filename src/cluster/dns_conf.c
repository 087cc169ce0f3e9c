/* resolv.conf parsing and the per-cluster resolver settings (dns_conf.h).
 * Follows the C library's reading of the file: one keyword per line,
 * '#' or ';' start a comment, the last search/domain line wins, values out
 * of range are clamped, anything unknown is ignored. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/dns_conf.h"
#include "core/error.h"

#define MAX_NDOTS 15
#define MAX_TIMEOUT_MS 30000
#define MAX_ATTEMPTS 5

void xg_dns_conf_init(xg_dns_conf *c)
{
    memset(c, 0, sizeof *c);
    c->ndots = 1;
    c->timeout_ms = 2000;
    c->attempts = 3;
}

socklen_t xg_dns_sockaddr_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* An IPv4 or IPv6 literal ("fe80::1%eth0" allowed) with port 53. */
static bool parse_server(const char *s, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(53);
        return true;
    }
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    snprintf(host, sizeof host, "%s", s);
    char *pct = strchr(host, '%');
    if (pct != NULL)
        *pct++ = '\0';
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
        return false;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(53);
    if (pct != NULL)
        v6->sin6_scope_id = if_nametoindex(pct) ? if_nametoindex(pct) : (uint32_t)strtoul(pct, NULL, 10);
    return true;
}

static unsigned clamp_num(const char *v, unsigned max)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return n > max ? max : (unsigned)n;
}

static void parse_option(xg_dns_conf *c, const char *opt)
{
    if (strncmp(opt, "ndots:", 6) == 0)
        c->ndots = clamp_num(opt + 6, MAX_NDOTS);
    else if (strncmp(opt, "timeout:", 8) == 0)
        c->timeout_ms = clamp_num(opt + 8, MAX_TIMEOUT_MS / 1000) * 1000;
    else if (strncmp(opt, "attempts:", 9) == 0)
        c->attempts = clamp_num(opt + 9, MAX_ATTEMPTS);
    else if (strcmp(opt, "rotate") == 0)
        c->rotate = true;
    else if (strcmp(opt, "use-vc") == 0 || strcmp(opt, "tcp") == 0)
        c->use_tcp = true;
    if (c->timeout_ms == 0)
        c->timeout_ms = 1000;
    if (c->attempts == 0)
        c->attempts = 1;
}

static void add_search(xg_dns_conf *c, const char *dom)
{
    size_t n = strlen(dom);
    if (n > 0 && dom[n - 1] == '.')
        n--;
    if (n == 0 || n > 253 || c->n_search >= XG_DNS_MAX_SEARCH)
        return;
    memcpy(c->search[c->n_search], dom, n);
    c->search[c->n_search++][n] = '\0';
}

/* One line, split into words in place. */
static void parse_line(xg_dns_conf *c, char *line)
{
    char *save = NULL, *key = strtok_r(line, " \t\r", &save);
    if (key == NULL)
        return;
    char *w;
    if (strcmp(key, "nameserver") == 0) {
        w = strtok_r(NULL, " \t\r", &save);
        if (w != NULL && c->n_servers < XG_DNS_MAX_SERVERS && parse_server(w, &c->servers[c->n_servers])) {
            c->n_servers++;
            c->has_nameservers = true;
        }
    } else if (strcmp(key, "domain") == 0 || strcmp(key, "search") == 0) {
        c->n_search = 0;
        while ((w = strtok_r(NULL, " \t\r", &save)) != NULL)
            add_search(c, w);
    } else if (strcmp(key, "options") == 0) {
        while ((w = strtok_r(NULL, " \t\r", &save)) != NULL)
            parse_option(c, w);
    }
}

void xg_dns_conf_parse(xg_dns_conf *c, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        char line[1024];
        size_t n = end - i < sizeof line - 1 ? end - i : sizeof line - 1;
        memcpy(line, text + i, n);
        line[n] = '\0';
        char *cut = strpbrk(line, "#;");
        if (cut != NULL)
            *cut = '\0';
        parse_line(c, line);
        i = end + 1;
    }
    if (c->n_servers == 0)
        parse_server("127.0.0.1", &c->servers[c->n_servers++]);
}

int xg_dns_conf_load(xg_dns_conf *c, const char *path)
{
    xg_dns_conf_init(c);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        int rc = -errno;
        xg_dns_conf_parse(c, "", 0);
        return rc;
    }
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    xg_dns_conf_parse(c, buf, n);
    return 0;
}

void xg_dns_conf_for_cluster(const xg_dns_conf *sys, const xg_dns_resolver_config *rc, xg_dns_conf *out)
{
    *out = *sys;
    if (rc->n_resolvers > 0 && !(rc->resolvers_as_fallback && sys->has_nameservers)) {
        out->n_servers = rc->n_resolvers < XG_DNS_MAX_SERVERS ? rc->n_resolvers : XG_DNS_MAX_SERVERS;
        memcpy(out->servers, rc->resolvers, out->n_servers * sizeof out->servers[0]);
    }
    out->use_tcp = sys->use_tcp || rc->use_tcp;
    if (rc->no_default_search_domain)
        out->n_search = 0;
}
