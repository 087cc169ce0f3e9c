/* auto_sni and auto_san_validation (auto_sni.h): the request's host picks
 * a named client context from the cluster runtime's per-worker cache. */
#include <arpa/inet.h>
#include <string.h>

#include "net/tls_ctx.h"
#include "upstream/auto_sni.h"

const char *xg_auto_sni_host(const char *a, size_t len, char *buf, size_t cap)
{
    if (len > 0 && a[0] == '[')
        return NULL; /* an IPv6 literal */
    const char *colon = memchr(a, ':', len);
    size_t n = colon != NULL ? (size_t)(colon - a) : len;
    if (n == 0 || n >= cap)
        return NULL;
    memcpy(buf, a, n);
    buf[n] = '\0';
    struct in_addr v4;
    return inet_pton(AF_INET, buf, &v4) == 1 ? NULL : buf;
}

/* The value auto_sni names: the override header when the request has it,
 * else :authority. */
static const char *host_of(const xg_cluster *cfg, const xg_headers *h, char *buf, size_t cap)
{
    const char *name = cfg->http.override_auto_sni_header;
    const xg_header *o = name != NULL ? xg_headers_get(h, name, strlen(name)) : NULL;
    if (o != NULL && o->value_len > 0)
        return xg_auto_sni_host(o->value, o->value_len, buf, cap);
    return xg_auto_sni_host(h->authority.s, h->authority.len, buf, cap);
}

int xg_auto_sni_tls(xg_cluster_rt *rt, const xg_headers *h, struct xg_tls_client **out)
{
    const xg_cluster *cfg = rt->cfg;
    char buf[256];
    const char *host = NULL;
    *out = rt->tls;
    if (rt->tls == NULL || (!cfg->http.auto_sni && !cfg->http.auto_san_validation) ||
        (host = host_of(cfg, h, buf, sizeof buf)) == NULL)
        return 0;
    return xg_tls_names_get(&rt->tls_names, rt->tls, cfg->http.auto_sni ? host : NULL,
                            cfg->http.auto_san_validation ? host : NULL, out);
}
