/* FilterChainMatch compilation and the check that no two filter chains of a
 * listener can match the same connection with the same rules (Envoy: "multiple
 * filter chains with the same matching rules are defined"). */
#include <string.h>

#include "config/listener.h"
#include "core/error.h"
#include "envoy/config/listener/v3/listener_components.pb-c.h"
#include "xds/xlate_int.h"

typedef Envoy__Config__Listener__V3__FilterChainMatch pb_fcm;

/* "example.com" or "*.example.com" (Envoy rejects any other use of '*'). */
static int server_name(xg_xlate *x, const char *s, xg_server_name *out)
{
    size_t len = strlen(s);
    bool wildcard = len > 2 && s[0] == '*' && s[1] == '.';
    if (len == 0)
        return xg_xlate_fail(x, "a server name must not be empty");
    if (strchr(wildcard ? s + 1 : s, '*') != NULL)
        return xg_xlate_fail(x, "\"%s\": partial wildcards are not supported (only a leading \"*.\")", s);
    char *low = xg_xlate_strdup(x, wildcard ? s + 1 : s);
    if (low == NULL)
        return XG_ENOMEM;
    for (char *p = low; *p; p++)
        *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p + ('a' - 'A')) : *p;
    *out = (xg_server_name){{low, strlen(low)}, wildcard};
    return 0;
}

static int server_names(xg_xlate *x, const pb_fcm *pb, xg_filter_chain_match *out)
{
    size_t n = pb->n_server_names;
    xg_server_name *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "server_names");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = xg_xlate_push_index(x, i);
        int rc = server_name(x, pb->server_names[i], &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, m2);
    }
    xg_xlate_pop(x, mark);
    out->server_names = v;
    out->n_server_names = n;
    return 0;
}

static int alpn_and_ports(xg_xlate *x, const pb_fcm *pb, xg_filter_chain_match *out)
{
    size_t n = pb->n_application_protocols;
    xg_lstr *a = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*a)) : NULL;
    if (n && a == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *p = pb->application_protocols[i];
        if (p[0] == '\0' || strlen(p) > 255) {
            xg_xlate_push(x, "application_protocols");
            xg_xlate_push_index(x, i);
            return xg_xlate_fail(x, "an ALPN protocol id is 1 to 255 bytes");
        }
        a[i] = (xg_lstr){xg_xlate_strdup(x, p), strlen(p)};
        if (a[i].s == NULL)
            return XG_ENOMEM;
    }
    out->alpn = a;
    out->n_alpn = n;
    n = pb->n_source_ports;
    uint16_t *sp = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*sp)) : NULL;
    if (n && sp == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (pb->source_ports[i] == 0 || pb->source_ports[i] > 65535) {
            xg_xlate_push(x, "source_ports");
            xg_xlate_push_index(x, i);
            return xg_xlate_fail(x, "%u is not a port (1-65535)", pb->source_ports[i]);
        }
        sp[i] = (uint16_t)pb->source_ports[i];
    }
    out->source_ports = sp;
    out->n_source_ports = n;
    return 0;
}

static int transport_and_ports(xg_xlate *x, const pb_fcm *pb, xg_filter_chain_match *out)
{
    const char *tp = pb->transport_protocol;
    if (tp[0] == '\0')
        out->transport = XG_TRANSPORT_ANY;
    else if (strcmp(tp, "raw_buffer") == 0)
        out->transport = XG_TRANSPORT_RAW_BUFFER;
    else if (strcmp(tp, "tls") == 0)
        out->transport = XG_TRANSPORT_TLS;
    else
        return xg__fail_at(x, "transport_protocol", "\"%s\" is not supported (\"raw_buffer\" or \"tls\")", tp);
    if ((unsigned)pb->source_type > 2)
        return xg__fail_at(x, "source_type", "unknown value %d", (int)pb->source_type);
    out->source_type = (xg_source_type)pb->source_type;
    if (pb->destination_port != NULL && (pb->destination_port->value == 0 || pb->destination_port->value > 65535))
        return xg__fail_at(x, "destination_port", "%u is not a port (1-65535)", pb->destination_port->value);
    out->destination_port = pb->destination_port ? (uint16_t)pb->destination_port->value : 0;
    return 0;
}

int xg__xlate_filter_chain_match(xg_xlate *x, const pb_fcm *pb, xg_filter_chain_match *out)
{
    static const pb_fcm empty = ENVOY__CONFIG__LISTENER__V3__FILTER_CHAIN_MATCH__INIT;
    if (pb == NULL)
        pb = &empty;
    size_t mark = xg_xlate_push(x, "filter_chain_match");
    if (pb->address_suffix[0] != '\0' || pb->suffix_len != NULL)
        return xg__fail_at(x, pb->suffix_len ? "suffix_len" : "address_suffix", "not supported");
    if (pb->n_direct_source_prefix_ranges > 0)
        return xg__fail_at(x, "direct_source_prefix_ranges", "not supported");
    int rc = transport_and_ports(x, pb, out);
    if (rc == 0)
        rc = xg__xlate_cidrs(x, "prefix_ranges", pb->prefix_ranges, pb->n_prefix_ranges, &out->prefix_ranges,
                             &out->n_prefix_ranges);
    if (rc == 0)
        rc = xg__xlate_cidrs(x, "source_prefix_ranges", pb->source_prefix_ranges, pb->n_source_prefix_ranges,
                             &out->source_prefix_ranges, &out->n_source_prefix_ranges);
    if (rc == 0)
        rc = server_names(x, pb, out);
    if (rc == 0)
        rc = alpn_and_ports(x, pb, out);
    if (rc == 0)
        xg_xlate_pop(x, mark);
    return rc;
}

/* --- overlapping rules --- */

/* Envoy files each chain under one key per criterion (an empty list is its
 * own "any" key, not a wildcard): two chains collide when every criterion
 * shares a key. */
static bool cidrs_meet(const xg_cidr *a, size_t na, const xg_cidr *b, size_t nb)
{
    if (na == 0 || nb == 0)
        return na == nb;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (a[i].family == b[j].family && a[i].prefix_len == b[j].prefix_len &&
                memcmp(a[i].addr, b[j].addr, 16) == 0)
                return true;
    return false;
}

static bool names_meet(const xg_filter_chain_match *a, const xg_filter_chain_match *b)
{
    if (a->n_server_names == 0 || b->n_server_names == 0)
        return a->n_server_names == b->n_server_names;
    for (size_t i = 0; i < a->n_server_names; i++)
        for (size_t j = 0; j < b->n_server_names; j++)
            if (a->server_names[i].wildcard == b->server_names[j].wildcard &&
                strcmp(a->server_names[i].name.s, b->server_names[j].name.s) == 0)
                return true;
    return false;
}

static bool alpn_meet(const xg_filter_chain_match *a, const xg_filter_chain_match *b)
{
    if (a->n_alpn == 0 || b->n_alpn == 0)
        return a->n_alpn == b->n_alpn;
    for (size_t i = 0; i < a->n_alpn; i++)
        for (size_t j = 0; j < b->n_alpn; j++)
            if (strcmp(a->alpn[i].s, b->alpn[j].s) == 0)
                return true;
    return false;
}

static bool ports_meet(const xg_filter_chain_match *a, const xg_filter_chain_match *b)
{
    if (a->n_source_ports == 0 || b->n_source_ports == 0)
        return a->n_source_ports == b->n_source_ports;
    for (size_t i = 0; i < a->n_source_ports; i++)
        for (size_t j = 0; j < b->n_source_ports; j++)
            if (a->source_ports[i] == b->source_ports[j])
                return true;
    return false;
}

static bool same_rules(const xg_filter_chain_match *a, const xg_filter_chain_match *b)
{
    return a->destination_port == b->destination_port && a->transport == b->transport &&
           a->source_type == b->source_type &&
           cidrs_meet(a->prefix_ranges, a->n_prefix_ranges, b->prefix_ranges, b->n_prefix_ranges) &&
           cidrs_meet(a->source_prefix_ranges, a->n_source_prefix_ranges, b->source_prefix_ranges,
                      b->n_source_prefix_ranges) &&
           names_meet(a, b) && alpn_meet(a, b) && ports_meet(a, b);
}

int xg__check_chain_overlap(xg_xlate *x, const xg_filter_chain *chains, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (!same_rules(&chains[i].match, &chains[j].match))
                continue;
            xg_xlate_push(x, "filter_chains");
            xg_xlate_push_index(x, i);
            return xg_xlate_fail(x,
                                 "filter chain \"%s\" has the same matching rules as filter chain \"%s\" "
                                 "(filter_chains[%zu])",
                                 chains[i].name, chains[j].name, j);
        }
    }
    return 0;
}
