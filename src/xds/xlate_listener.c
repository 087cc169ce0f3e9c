/* Listener translation: addresses (TCP over IPv4/IPv6 literals only), listener
 * filters (tls_inspector), filter chains with their TLS transport socket and
 * their one network filter, the HttpConnectionManager, and socket settings.
 * FilterChainMatch: xlate_listener_match.c; HCM: xlate_hcm*.c. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config/listener.h"
#include "core/error.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb-c.h"
#include "envoy/extensions/filters/network/connection_limit/v3/connection_limit.pb-c.h"
#include "xds/xlate_int.h"

typedef Envoy__Config__Listener__V3__Listener pb_listener;
typedef Envoy__Config__Listener__V3__FilterChain pb_chain;
typedef Envoy__Extensions__Filters__Listener__TlsInspector__V3__TlsInspector pb_tls_inspector;
typedef Envoy__Extensions__Filters__Network__ConnectionLimit__V3__ConnectionLimit pb_conn_limit;

#define ADDR(x) ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_##x
#define HCM_TYPE "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
#define TLS_INSPECTOR_TYPE "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
#define CONN_LIMIT_TYPE "envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit"

int xg__xlate_filter_chain_match(xg_xlate *x, const Envoy__Config__Listener__V3__FilterChainMatch *pb,
                                 xg_filter_chain_match *out);
int xg__check_chain_overlap(xg_xlate *x, const xg_filter_chain *chains, size_t n);

/* --- addresses --- */

static int ip_literal(xg_xlate *x, const char *host, uint16_t port, xg_listener_addr *out)
{
    char text[INET6_ADDRSTRLEN];
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
    memset(&out->ss, 0, sizeof(out->ss));
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        out->len = sizeof(*in4);
        inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
        snprintf(out->text, sizeof(out->text), "%s:%u", text, port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        out->len = sizeof(*in6);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
        snprintf(out->text, sizeof(out->text), "[%s]:%u", text, port);
        return 0;
    }
    return xg__fail_at(x, "address", "\"%s\" is not an IPv4 or IPv6 address (listeners bind IP literals, not names)",
                       host);
}

static int socket_address(xg_xlate *x, const Envoy__Config__Core__V3__SocketAddress *sa, xg_listener_addr *out)
{
    size_t mark = xg_xlate_push(x, "socket_address");
    if (sa->protocol != ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PROTOCOL__TCP)
        return xg__fail_at(x, "protocol", "only TCP listeners are supported");
    if (sa->resolver_name[0] != '\0')
        return xg__fail_at(x, "resolver_name", "not supported");
    if (sa->port_specifier_case == ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_NAMED_PORT)
        return xg__fail_at(x, "named_port", "not supported; use port_value");
    if (sa->port_specifier_case != ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_PORT_VALUE ||
        sa->port_value == 0)
        return xg__fail_at(x, "port_value", "a port (1-65535) is required");
    if (sa->port_value > 65535)
        return xg__fail_at(x, "port_value", "%u is not a port (1-65535)", sa->port_value);
    int rc = ip_literal(x, sa->address, (uint16_t)sa->port_value, out);
    if (rc < 0)
        return rc;
    out->ipv4_compat = sa->ipv4_compat && out->ss.ss_family == AF_INET6;
    xg_xlate_pop(x, mark);
    return 0;
}

static int address(xg_xlate *x, const char *field, const Envoy__Config__Core__V3__Address *pb, xg_listener_addr *out)
{
    size_t mark = xg_xlate_push(x, field);
    int rc;
    if (pb == NULL)
        return xg_xlate_fail(x, "required");
    switch (pb->address_case) {
    case ADDR(SOCKET_ADDRESS):
        if ((rc = socket_address(x, pb->socket_address, out)) < 0)
            return rc;
        break;
    case ADDR(PIPE):
        return xg__fail_at(x, "pipe", "unix socket listeners are not supported");
    case ADDR(ENVOY_INTERNAL_ADDRESS):
        return xg__fail_at(x, "envoy_internal_address", "internal listeners are not supported");
    default:
        return xg_xlate_fail(x, "socket_address is required");
    }
    xg_xlate_pop(x, mark);
    return 0;
}

static int addresses(xg_xlate *x, const pb_listener *pb, xg_listener *out)
{
    size_t n = 1 + pb->n_additional_addresses;
    xg_listener_addr *v = xg_arena_calloc(&x->res->arena, n, sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    int rc = address(x, "address", pb->address, &v[0]);
    for (size_t i = 1; rc == 0 && i < n; i++) {
        const Envoy__Config__Listener__V3__AdditionalAddress *aa = pb->additional_addresses[i - 1];
        size_t mark = xg_xlate_push(x, "additional_addresses");
        xg_xlate_push_index(x, i - 1);
        if (aa->socket_options != NULL)
            return xg__fail_at(x, "socket_options", "not supported");
        if ((rc = address(x, "address", aa->address, &v[i])) < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(v[i].text, v[j].text) == 0)
                return xg_xlate_fail(x, "address %s is already used by this listener", v[i].text);
        xg_xlate_pop(x, mark);
    }
    out->addrs = v;
    out->n_addrs = n;
    return rc;
}

/* --- listener filters --- */

static int tls_inspector(xg_xlate *x, const Google__Protobuf__Any *tc, xg_listener *out)
{
    pb_tls_inspector *pb = NULL;
    int rc = xg__xlate_unpack_typed(x, "typed_config", tc,
                                    &envoy__extensions__filters__listener__tls_inspector__v3__tls_inspector__descriptor,
                                    (ProtobufCMessage **)&pb);
    if (rc < 0)
        return rc;
    if (xg__bool_or(pb->enable_ja3_fingerprinting, false))
        rc = xg__fail_at(x, "typed_config.enable_ja3_fingerprinting", "not supported");
    out->tls_inspector = true;
    out->tls_inspector_buffer_size = xg__u32_or(pb->initial_read_buffer_size, 65536);
    if (rc == 0 && out->tls_inspector_buffer_size == 0)
        rc = xg__fail_at(x, "typed_config.initial_read_buffer_size", "must be at least 1");
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    return rc;
}

static int listener_filters(xg_xlate *x, const pb_listener *pb, xg_listener *out)
{
    for (size_t i = 0; i < pb->n_listener_filters; i++) {
        const Envoy__Config__Listener__V3__ListenerFilter *lf = pb->listener_filters[i];
        size_t mark = xg_xlate_push(x, "listener_filters");
        xg_xlate_push_index(x, i);
        if (lf->typed_config == NULL)
            return xg_xlate_fail(x, "listener filter \"%s\" has no typed_config", lf->name);
        if (lf->filter_disabled != NULL)
            return xg__fail_at(x, "filter_disabled", "not supported");
        int rc = 0;
        const char *type = xg__xlate_effective_type(x, lf->typed_config, &rc);
        if (type == NULL)
            return rc;
        if (strcmp(type, TLS_INSPECTOR_TYPE) != 0)
            return xg_xlate_fail(x, "listener filter \"%s\" (type \"%s\") is not supported (only the tls_inspector)",
                                 lf->name, lf->typed_config->type_url);
        rc = tls_inspector(x, lf->typed_config, out);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, mark);
    }
    return xg__xlate_duration_ms(x, "listener_filters_timeout", pb->listener_filters_timeout, 15000,
                                 &out->listener_filters_timeout_ms);
}

/* --- filter chains --- */

/* ConnectionLimit, with Envoy's validation: stat_prefix non-empty,
 * max_connections required and >= 1. */
static int conn_limit_cfg(xg_xlate *x, const pb_conn_limit *pb, xg_conn_limit_cfg *out)
{
    if (pb->stat_prefix[0] == '\0')
        return xg__fail_at(x, "typed_config.stat_prefix", "must not be empty");
    if (pb->max_connections == NULL)
        return xg__fail_at(x, "typed_config.max_connections", "required");
    if (pb->max_connections->value == 0)
        return xg__fail_at(x, "typed_config.max_connections", "must be at least 1");
    if ((out->stat_prefix = xg_xlate_strdup(x, pb->stat_prefix)) == NULL)
        return XG_ENOMEM;
    out->max_connections = pb->max_connections->value;
    out->enabled = pb->runtime_enabled == NULL || xg__bool_or(pb->runtime_enabled->default_value, true);
    return xg__xlate_duration_ms(x, "typed_config.delay", pb->delay, 0, &out->delay_ms);
}

static int conn_limit(xg_xlate *x, const Envoy__Config__Listener__V3__Filter *f, xg_filter_chain *out)
{
    if (out->conn_limit != NULL)
        return xg_xlate_fail(x, "only one connection_limit filter per filter chain is supported");
    if (out->hcm != NULL)
        return xg_xlate_fail(x, "the connection_limit filter must come before the http_connection_manager");
    pb_conn_limit *pb = NULL;
    int rc =
        xg__xlate_unpack_typed(x, "typed_config", f->typed_config,
                               &envoy__extensions__filters__network__connection_limit__v3__connection_limit__descriptor,
                               (ProtobufCMessage **)&pb);
    if (rc < 0)
        return rc;
    xg_conn_limit_cfg *cl = xg_xlate_alloc(x, sizeof(*cl));
    rc = cl == NULL ? XG_ENOMEM : conn_limit_cfg(x, pb, cl);
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    if (rc == 0)
        out->conn_limit = cl;
    return rc;
}

/* One network filter: the connection_limit, or the terminal HCM. */
static int network_filter(xg_xlate *x, const pb_chain *pb, size_t i, xg__warnings *w, xg_filter_chain *out)
{
    const Envoy__Config__Listener__V3__Filter *f = pb->filters[i];
    if (f->typed_config == NULL)
        return xg_xlate_fail(x, "network filter \"%s\" has no typed_config", f->name);
    int rc = 0;
    const char *type = xg__xlate_effective_type(x, f->typed_config, &rc);
    if (type == NULL)
        return rc;
    if (strcmp(type, CONN_LIMIT_TYPE) == 0)
        return conn_limit(x, f, out);
    if (strcmp(type, HCM_TYPE) != 0)
        return xg_xlate_fail(x,
                             "network filter \"%s\" (type \"%s\") is not supported (only the "
                             "connection_limit and the http_connection_manager)",
                             f->name, f->typed_config->type_url);
    if (i + 1 < pb->n_filters)
        return xg_xlate_fail(x, "the http_connection_manager is a terminal filter and must be the last one");
    return xg__xlate_hcm(x, f->typed_config, w, &out->hcm);
}

static int network_filters(xg_xlate *x, const pb_chain *pb, xg__warnings *w, xg_filter_chain *out)
{
    for (size_t i = 0; i < pb->n_filters; i++) {
        size_t mark = xg_xlate_push(x, "filters");
        xg_xlate_push_index(x, i);
        int rc = network_filter(x, pb, i, w, out);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, mark);
    }
    if (out->hcm == NULL)
        return xg__fail_at(x, "filters", "a filter chain needs the http_connection_manager network filter");
    return 0;
}

static int filter_chain(xg_xlate *x, const pb_chain *pb, xg__warnings *w, xg_filter_chain *out)
{
    if ((out->name = xg_xlate_strdup(x, pb->name)) == NULL)
        return XG_ENOMEM;
    int rc = xg__xlate_filter_chain_match(x, pb->filter_chain_match, &out->match);
    if (rc == 0)
        rc = xg__xlate_duration_ms(x, "transport_socket_connect_timeout", pb->transport_socket_connect_timeout, 0,
                                   &out->transport_socket_connect_timeout_ms);
    if (rc == 0 && pb->transport_socket != NULL) {
        size_t mark = xg_xlate_push(x, "transport_socket");
        struct xg_tls_context *tls = NULL;
        if ((rc = xg_xlate_transport_socket(x, pb->transport_socket, true, &tls)) < 0)
            return rc;
        out->tls = tls;
        xg_xlate_pop(x, mark);
    }
    return rc < 0 ? rc : network_filters(x, pb, w, out);
}

static int filter_chains(xg_xlate *x, const pb_listener *pb, xg__warnings *w, xg_listener *out)
{
    size_t n = pb->n_filter_chains;
    if (n == 0 && pb->default_filter_chain == NULL)
        return xg__fail_at(x, "filter_chains", "no filter chains specified (and no default_filter_chain)");
    xg_filter_chain *v = xg_arena_calloc(&x->res->arena, n + 1, sizeof(*v));
    if (v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t mark = xg_xlate_push(x, "filter_chains");
        xg_xlate_push_index(x, i);
        v[i].index = (int)i;
        int rc = filter_chain(x, pb->filter_chains[i], w, &v[i]);
        if (rc < 0)
            return rc;
        xg_xlate_pop(x, mark);
    }
    out->chains = v;
    out->n_chains = n;
    if (pb->default_filter_chain != NULL) {
        size_t mark = xg_xlate_push(x, "default_filter_chain");
        v[n].index = -1;
        int rc = filter_chain(x, pb->default_filter_chain, w, &v[n]);
        if (rc < 0)
            return rc;
        out->default_chain = &v[n];
        xg_xlate_pop(x, mark);
    }
    return xg__check_chain_overlap(x, v, n);
}

/* --- socket-level settings --- */

static int socket_options(xg_xlate *x, const pb_listener *pb, xg_listener *out)
{
    size_t n = pb->n_socket_options;
    xg_socket_option *v = n ? xg_arena_calloc(&x->res->arena, n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const Envoy__Config__Core__V3__SocketOption *so = pb->socket_options[i];
        size_t mark = xg_xlate_push(x, "socket_options");
        xg_xlate_push_index(x, i);
        if (so->level < INT_MIN || so->level > INT_MAX || so->name < INT_MIN || so->name > INT_MAX)
            return xg_xlate_fail(x, "level and name must fit in an int");
        if ((unsigned)so->state > 2)
            return xg__fail_at(x, "state", "unknown value %d", (int)so->state);
        if (so->value_case == ENVOY__CONFIG__CORE__V3__SOCKET_OPTION__VALUE_INT_VALUE &&
            (so->int_value < INT_MIN || so->int_value > INT_MAX))
            return xg__fail_at(x, "int_value", "must fit in an int");
        if (so->value_case == 0)
            return xg_xlate_fail(x, "one of int_value or buf_value is required");
        v[i] = (xg_socket_option){.level = (int)so->level, .name = (int)so->name, .state = (xg_socket_state)so->state};
        v[i].is_int = so->value_case == ENVOY__CONFIG__CORE__V3__SOCKET_OPTION__VALUE_INT_VALUE;
        v[i].int_value = v[i].is_int ? (int)so->int_value : 0;
        if (!v[i].is_int && (v[i].buf = xg_arena_memdup(&x->res->arena, so->buf_value.data, so->buf_value.len)) == NULL)
            return XG_ENOMEM;
        v[i].buf_len = v[i].is_int ? 0 : so->buf_value.len;
        xg_xlate_pop(x, mark);
    }
    out->socket_options = v;
    out->n_socket_options = n;
    return 0;
}

/* Listener fields in proto/ that xdsgate does not implement. */
static int listener_unsupported(xg_xlate *x, const pb_listener *pb)
{
    if (xg__bool_or(pb->use_original_dst, false))
        return xg__fail_at(x, "use_original_dst", "not supported");
    if (xg__bool_or(pb->transparent, false))
        return xg__fail_at(x, "transparent", "not supported");
    if (pb->connection_balance_config != NULL)
        return xg__fail_at(x, "connection_balance_config", "not supported (the kernel balances SO_REUSEPORT sockets)");
    if (!xg__bool_or(pb->bind_to_port, true))
        return xg__fail_at(x, "bind_to_port", "false is not supported (no original-destination listeners)");
    if (pb->n_access_log > 0)
        return xg__fail_at(x, "access_log", XG__NO_ACCESS_LOG, "access_log");
    if ((unsigned)pb->drain_type > 1)
        return xg__fail_at(x, "drain_type", "unknown value %d", (int)pb->drain_type);
    if ((unsigned)pb->traffic_direction > 2)
        return xg__fail_at(x, "traffic_direction", "unknown value %d", (int)pb->traffic_direction);
    return 0;
}

static void listener_flags(const pb_listener *pb, xg_listener *out)
{
    out->per_connection_buffer_limit_bytes = xg__u32_or(pb->per_connection_buffer_limit_bytes, 32768);
    out->drain_type = (xg_drain_type)pb->drain_type;
    out->continue_on_listener_filters_timeout = pb->continue_on_listener_filters_timeout;
    out->freebind = xg__bool_or(pb->freebind, false);
    out->tcp_fast_open_queue_length = xg__u32_or(pb->tcp_fast_open_queue_length, 0);
    out->enable_reuse_port = xg__bool_or(pb->enable_reuse_port, true);
    out->tcp_backlog_size = xg__u32_or(pb->tcp_backlog_size, 0);
    out->max_accept_per_event = xg__u32_or(pb->max_connections_to_accept_per_socket_event, 0);
    out->ignore_global_conn_limit = pb->ignore_global_conn_limit;
    out->traffic_direction = (int)pb->traffic_direction;
}

static int warnings_to_array(xg_xlate *x, const xg__warnings *w, xg_listener *out)
{
    const char **v = w->n ? xg_arena_calloc(&x->res->arena, w->n, sizeof(*v)) : NULL;
    if (w->n && v == NULL)
        return XG_ENOMEM;
    size_t i = 0;
    for (const xg__warning *it = w->head; it != NULL; it = it->next)
        v[i++] = it->text;
    out->warnings = v;
    out->n_warnings = w->n;
    return 0;
}

int xg_xlate_listener(xg_xlate *x, const Envoy__Config__Listener__V3__Listener *pb)
{
    xg__warnings w = {0};
    xg_listener *l = xg_xlate_alloc(x, sizeof(*l));
    if (l == NULL)
        return XG_ENOMEM;
    if (pb->name[0] == '\0')
        return xg__fail_at(x, "name", "must not be empty");
    l->name = xg_xlate_strdup(x, pb->name);
    l->stat_prefix = xg_xlate_strdup(x, pb->stat_prefix);
    if (l->name == NULL || l->stat_prefix == NULL)
        return XG_ENOMEM;
    int rc = listener_unsupported(x, pb);
    listener_flags(pb, l);
    if (rc == 0 && (rc = addresses(x, pb, l)) == 0 && (rc = listener_filters(x, pb, l)) == 0 &&
        (rc = socket_options(x, pb, l)) == 0 && (rc = filter_chains(x, pb, &w, l)) == 0)
        rc = warnings_to_array(x, &w, l);
    if (rc == 0)
        x->res->body = l;
    return rc;
}
