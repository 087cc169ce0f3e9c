/* Facts the xDS state needs from a resource's proto, read directly so that
 * they do not depend on how the translators lay out their structs: the
 * addresses a listener binds (duplicate-address check) and the
 * initial_fetch_timeout of the config source its dependencies come from. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "xds/xds_state_int.h"

typedef Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager hcm_pb;
#define HCM_URL "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"

static int64_t duration_ms(const Google__Protobuf__Duration *d)
{
    if (d->seconds < 0 || d->nanos < 0)
        return 0;
    if (d->seconds > INT64_MAX / 2000)
        return INT64_MAX / 2;
    return d->seconds * 1000 + d->nanos / 1000000;
}

/* Canonical "1.2.3.4:80" / "[::1]:80" (IP literals normalised, so "::0" and
 * "::" are one address), "/udp" appended for UDP. Names stay as written. */
static char *addr_key(const Envoy__Config__Core__V3__SocketAddress *sa)
{
    unsigned char bin[sizeof(struct in6_addr)];
    char ip[INET6_ADDRSTRLEN];
    const char *text = sa->address;
    bool v6 = inet_pton(AF_INET6, text, bin) == 1;
    if (v6 || inet_pton(AF_INET, text, bin) == 1)
        text = inet_ntop(v6 ? AF_INET6 : AF_INET, bin, ip, sizeof(ip));
    bool udp = sa->protocol == ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PROTOCOL__UDP;
    char *key = NULL;
    if (asprintf(&key, "%s%s%s:%u%s", v6 ? "[" : "", text, v6 ? "]" : "", sa->port_value, udp ? "/udp" : "") < 0)
        return NULL;
    return key;
}

/* A pipe, an internal address or a named port cannot collide on a socket: no key. */
static int add_addr(xg__xds_ver *v, const Envoy__Config__Core__V3__Address *a)
{
    if (a == NULL || a->address_case != ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_SOCKET_ADDRESS ||
        a->socket_address->port_specifier_case != ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_PORT_VALUE)
        return 0;
    char *key = addr_key(a->socket_address);
    char **addrs = key ? realloc(v->addrs, (v->n_addrs + 1) * sizeof(*addrs)) : NULL;
    if (addrs == NULL) {
        free(key);
        return XG_ENOMEM;
    }
    addrs[v->n_addrs++] = key;
    v->addrs = addrs;
    return 0;
}

static int listener_addrs(const Envoy__Config__Listener__V3__Listener *l, xg__xds_ver *v)
{
    /* bind_to_port: false listeners only receive connections handed over by another listener. */
    if (l->bind_to_port != NULL && !l->bind_to_port->value)
        return 0;
    int rc = add_addr(v, l->address);
    for (size_t i = 0; rc == 0 && i < l->n_additional_addresses; i++)
        rc = add_addr(v, l->additional_addresses[i]->address);
    return rc;
}

/* The smallest RDS initial_fetch_timeout among the chain's HTTP connection managers (-1 if none set). */
static int64_t chain_rds_timeout(const Envoy__Config__Listener__V3__FilterChain *fc, int64_t best)
{
    for (size_t i = 0; fc != NULL && i < fc->n_filters; i++) {
        const Envoy__Config__Listener__V3__Filter *f = fc->filters[i];
        if (f->config_type_case != ENVOY__CONFIG__LISTENER__V3__FILTER__CONFIG_TYPE_TYPED_CONFIG ||
            f->typed_config == NULL || f->typed_config->type_url == NULL ||
            strcmp(f->typed_config->type_url, HCM_URL) != 0)
            continue;
        hcm_pb *h = (hcm_pb *)protobuf_c_message_unpack(
            &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor,
            NULL, f->typed_config->value.len, f->typed_config->value.data);
        if (h == NULL)
            continue;
        if (h->route_specifier_case ==
                ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__ROUTE_SPECIFIER_RDS &&
            h->rds->config_source != NULL && h->rds->config_source->initial_fetch_timeout != NULL) {
            int64_t ms = duration_ms(h->rds->config_source->initial_fetch_timeout);
            if (best < 0 || ms < best)
                best = ms;
        }
        protobuf_c_message_free_unpacked(&h->base, NULL);
    }
    return best;
}

static int64_t listener_timeout(const Envoy__Config__Listener__V3__Listener *l)
{
    int64_t best = chain_rds_timeout(l->default_filter_chain, -1);
    for (size_t i = 0; i < l->n_filter_chains; i++)
        best = chain_rds_timeout(l->filter_chains[i], best);
    return best;
}

static int64_t cluster_timeout(const Envoy__Config__Cluster__V3__Cluster *c)
{
    const Envoy__Config__Cluster__V3__Cluster__EdsClusterConfig *eds = c->eds_cluster_config;
    if (eds == NULL || eds->eds_config == NULL || eds->eds_config->initial_fetch_timeout == NULL)
        return -1;
    return duration_ms(eds->eds_config->initial_fetch_timeout);
}

int xg__xds_ver_extract(xg_xds_state *st, xg_xds_type t, const ProtobufCMessage *m, xg__xds_ver *v)
{
    v->fetch_timeout_ms = -1;
    if (t == XG_XDS_LDS) {
        const Envoy__Config__Listener__V3__Listener *l = (const Envoy__Config__Listener__V3__Listener *)m;
        v->fetch_timeout_ms = listener_timeout(l);
        return listener_addrs(l, v);
    }
    if (t == XG_XDS_CDS)
        v->fetch_timeout_ms = cluster_timeout((const Envoy__Config__Cluster__V3__Cluster *)m);
    return 0;
}
