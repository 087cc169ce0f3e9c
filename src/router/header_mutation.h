/* Request and response header mutations (request_headers_to_add/remove,
 * response_headers_to_add/remove of a route configuration, virtual host,
 * route or weighted cluster), applied as Envoy's HeaderParser does, with the
 * "%VAR%" command operators the translator parsed (config/route.h's
 * xg_header_var) substituted from per-request values. Worker thread;
 * allocates only from the header block's arena. */
#ifndef XG_ROUTER_HEADER_MUTATION_H
#define XG_ROUTER_HEADER_MUTATION_H

#include <stdbool.h>
#include <sys/socket.h>

#include "config/route.h"
#include "core/arena.h"
#include "http/headers.h"

/* Where "%VAR%" operators take their values from. A NULL address or empty
 * string expands to "" (a header that then expands to nothing at all is
 * not added unless keep_empty_value, as in Envoy). All borrowed. */
typedef struct xg_hvar_ctx {
    const xg_headers *request;                       /* %REQ(x)% (first value); %PROTOCOL% from its version */
    const struct sockaddr *downstream_remote;        /* the client as trusted (XFF and use_remote_address applied) */
    const struct sockaddr *downstream_direct_remote; /* the connection's peer */
    const struct sockaddr *downstream_local;
    const struct sockaddr *upstream_remote; /* NULL until an upstream host is chosen */
    xg_hstr requested_server_name;          /* SNI */
    xg_hstr hostname;                       /* this machine's name */
} xg_hvar_ctx;

/* Applies one level of mutations to h, as Envoy: every removal first; then
 * every value is expanded against the headers as they are now and each
 * append_action decided against them (ADD_IF_ABSENT / OVERWRITE_IF_EXISTS
 * look at the headers before this level's additions); then the overwrites
 * are applied, then the appends. Values that expand to "" are skipped unless
 * keep_empty_value. 0 or XG_ENOMEM. */
int xg_header_mutations_apply(const xg_header_mutations *m, xg_headers *h, const xg_hvar_ctx *ctx);

/* The value of one HeaderValueOption for this request: the configured
 * value itself (borrowed from the config) when it has no operators, else
 * the expansion, in a. 0 or XG_ENOMEM. */
int xg_header_value_expand(const xg_header_add *add, const xg_hvar_ctx *ctx, xg_arena *a, xg_hstr *out);

#endif
