/* The compiled route table: per virtual host, a radix tree of the literal
 * paths of prefix, path and path_separated_prefix routes (one tree for
 * case-sensitive literals, one for case-insensitive ones, keyed lowercase),
 * plus the list of routes no literal describes (connect_matcher, and
 * safe_regex routes whose pattern does not start with a literal: the others
 * are filed in the case-sensitive tree under that literal, since a full
 * match must begin with it).
 * A lookup walks the request path down both trees once, which yields every
 * route whose literal can match as a few ascending lists; merging those lists
 * with the unindexed one gives the candidate routes in configuration order,
 * and the first candidate whose full match holds is the answer: exactly
 * Envoy's first-match-in-order result, without looking at the routes whose
 * literal cannot match.
 *
 * Built once per route configuration when its resource is translated (xds
 * thread), in the resource's arena; immutable and lock-free afterwards. */
#ifndef XG_ROUTER_ROUTE_INDEX_H
#define XG_ROUTER_ROUTE_INDEX_H

#include <stdint.h>

#include "config/route.h"
#include "core/arena.h"
#include "router/route_match.h"

/* A radix tree node: the bytes of the edge into it, its children (sorted by
 * first label byte, contiguous in the node array) and the routes whose
 * literal ends exactly here. */
typedef struct xg__rnode {
    const char *label;
    uint32_t label_len;
    uint32_t child, n_child;       /* nodes[child .. child + n_child) */
    uint32_t prefix_off, n_prefix; /* ids[]: prefix and path_separated_prefix routes, ascending */
    uint32_t exact_off, n_exact;   /* ids[]: path (exact) routes, ascending */
} xg__rnode;

#define XG__NO_NODE UINT32_MAX

typedef struct xg__vh_index {
    const xg__rnode *nodes;
    uint32_t root[2];      /* [0] case-sensitive tree, [1] case-insensitive; XG__NO_NODE when empty */
    const uint32_t *ids;   /* route positions in the virtual host */
    const uint32_t *other; /* routes without an indexable literal, ascending */
    uint32_t n_other;
    uint32_t max_sources; /* bound on the lists one lookup merges */
} xg__vh_index;

/* One index per virtual host, in rc->vhosts order. */
typedef struct xg_route_index {
    const xg__vh_index *vh;
    size_t n_vh;
} xg_route_index;

/* Compiles rc's path index into a (rc's own arena: the resource's) and sets
 * rc->index. Call once, right after translating a RouteConfiguration (RDS or
 * inline in an HttpConnectionManager), before the config is published.
 * 0 or XG_ENOMEM (rc->index stays NULL: lookups scan linearly). */
int xg_route_index_build(xg_route_config *rc, xg_arena *a);

/* The literal text every string a safe_regex pattern fully matches starts
 * with, written to out (strlen(pat) bytes suffice): leading plain characters
 * and escaped punctuation, up to the first other construct, and never a
 * character a quantifier applies to. Conservatively 0 when the pattern has
 * an alternation or a flag group anywhere, or a non-ASCII byte in the
 * literal. */
size_t xg__route_regex_literal(const char *pat, char *out);

/* xg_route_find through rc->index (non-NULL). */
const xg_route *xg__route_index_find(const xg_route_config *rc, const xg_vhost *vh, xg_route_req *q);

#endif
