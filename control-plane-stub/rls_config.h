/* The stub's rate-limit configuration: domains of nested descriptors in the
 * YAML shape envoyproxy/ratelimit reads (domain, descriptors with key,
 * optional value, rate_limit, shadow_mode, nested descriptors), plus a few
 * stub-only test knobs per domain. Immutable once loaded; a reload builds a
 * new one, and the old one stays in service until the new one is valid. */
#ifndef XG_STUB_RLS_CONFIG_H
#define XG_STUB_RLS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Window units; the values are RateLimitResponse.RateLimit.Unit's. */
enum {
    XG_RLS_SECOND = 1,
    XG_RLS_MINUTE = 2,
    XG_RLS_HOUR = 3,
    XG_RLS_DAY = 4,
};

typedef struct xg_stub_rls_limit {
    bool set;       /* the node has a rate_limit block */
    bool unlimited; /* rate_limit: {unlimited: true} */
    uint32_t requests_per_unit;
    int unit;   /* XG_RLS_*; 0 when unlimited */
    char *name; /* optional; "" when absent */
} xg_stub_rls_limit;

typedef struct xg_stub_rls_node xg_stub_rls_node;
struct xg_stub_rls_node {
    char *key;
    char *value; /* NULL: any value (each value counted apart) */
    bool prefix; /* value ended in '*': matches every value starting with value */
    bool shadow_mode;
    xg_stub_rls_limit limit;
    xg_stub_rls_node *children;
    size_t nchildren;
};

typedef struct xg_stub_rls_header {
    char *key;
    char *value;
} xg_stub_rls_header;

typedef struct xg_stub_rls_domain {
    char *name;
    xg_stub_rls_node *descriptors;
    size_t ndescriptors;
    /* Stub-only test knobs (not envoyproxy/ratelimit's format). */
    uint32_t delay_ms;                    /* test_delay_ms: answer this late (asynchronously) */
    int error_code;                       /* test_error.code: fail every call with this gRPC status; 0 = off */
    char *error_message;                  /* test_error.message */
    xg_stub_rls_header *response_headers; /* response_headers_to_add */
    size_t nresponse_headers;
    xg_stub_rls_header *request_headers; /* request_headers_to_add */
    size_t nrequest_headers;
    char *raw_body; /* raw_body: sent with OVER_LIMIT answers; NULL when absent */
} xg_stub_rls_domain;

typedef struct xg_stub_rls_config {
    xg_stub_rls_domain *domains; /* file order; names unique */
    size_t ndomains;
} xg_stub_rls_config;

/* One request descriptor entry, as the matcher sees it. */
typedef struct xg_stub_rls_entry {
    const char *key;
    const char *value;
} xg_stub_rls_entry;

/* Parses a rate-limit document: one domain mapping, or a list of them. On
 * failure nothing is returned and err holds the path of the bad field
 * ("[1].descriptors[0].rate_limit.unit: ...") or "line N: ..." for YAML
 * syntax. XG_EINVAL or XG_ENOMEM. */
int xg_stub_rls_config_parse(const char *text, size_t len, xg_stub_rls_config **out, char *err, size_t errlen);
/* Reads path and parses it as above; err names no file (the caller does). */
int xg_stub_rls_config_load(const char *path, xg_stub_rls_config **out, char *err, size_t errlen);
void xg_stub_rls_config_free(xg_stub_rls_config *c);

/* True when text looks like a rate-limit document rather than an xDS
 * snapshot (a mapping with `domain`, or a list whose first item has one). */
bool xg_stub_rls_config_sniff(const char *text, size_t len);

/* The domain named name, borrowed from c; NULL when unknown. */
const xg_stub_rls_domain *xg_stub_rls_config_domain(const xg_stub_rls_config *c, const char *name);

/* Walks entries through d's nested descriptors as envoyproxy/ratelimit does:
 * per level an exact key+value node first, then a value prefix ("v*"), then a
 * key-only node. Returns the node matched by the last entry when it carries a
 * rate_limit, else NULL (no limit applies). Borrowed from the config. */
const xg_stub_rls_node *xg_stub_rls_config_match(const xg_stub_rls_domain *d, const xg_stub_rls_entry *entries,
                                                 size_t n);

/* Length of a unit in seconds; 0 for an unknown unit. */
uint32_t xg_stub_rls_unit_seconds(int unit);
/* "second", "minute", ... for logs. */
const char *xg_stub_rls_unit_name(int unit);

#endif
