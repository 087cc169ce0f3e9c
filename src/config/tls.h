/* TLS configuration as the data path sees it: where certificates and keys come
 * from (DataSource), peer validation (trusted CA, SAN matchers, pins, CRL), the
 * protocol parameters, and the Downstream/Upstream TLS contexts that listeners
 * and clusters carry. Built by src/xds/xlate_tls.c from the xDS protos; plain
 * immutable structs in the owning resource's arena.
 *
 * Certificates and keys are NOT loaded here: a DataSource keeps its kind and
 * value (file name, environment variable name, or the inline bytes), because
 * Kubernetes rotates mounted secret files in place and the TLS layer must read
 * them when it builds an SSL_CTX. The translator has already checked that
 * every source was readable and parsed at translate time. */
#ifndef XG_CONFIG_TLS_H
#define XG_CONFIG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct xg_string_matcher; /* config/matcher.h */

/* envoy.config.core.v3.DataSource. */
typedef enum xg_datasource_kind {
    XG_DS_NONE,   /* field absent */
    XG_DS_FILE,   /* filename: read at use time */
    XG_DS_INLINE, /* inline_bytes or inline_string: data/len hold the bytes */
    XG_DS_ENV,    /* environment_variable: name in value, read at use time */
} xg_datasource_kind;

typedef struct xg_datasource {
    xg_datasource_kind kind;
    const char *value;             /* file name or variable name; inline: the bytes (NUL-terminated copy) */
    size_t len;                    /* length of value (inline bytes may contain NULs) */
    const char *watched_directory; /* DataSource.watched_directory.path, or NULL */
} xg_datasource;

/* Reads a DataSource's current contents into out (appended). A negative
 * errno when the file cannot be opened (XG_ENOENT when missing), XG_ENOENT for
 * an unset variable, XG_EIO for a read error, XG_EINVAL for XG_DS_NONE. Blocking file I/O: never on a worker thread. */
int xg_datasource_read(const xg_datasource *ds, xg_buf *out);
/* "<inline>", the file name, or the variable's name, for messages; never the bytes. */
const char *xg_datasource_describe(const xg_datasource *ds);

/* A certificate chain and its private key (TlsCertificate). The private key
 * is secret: never log it; /config_dump redacts it. */
typedef struct xg_tls_certificate {
    xg_datasource certificate_chain;
    xg_datasource private_key;
    const char *watched_directory; /* TlsCertificate.watched_directory.path, or NULL */
} xg_tls_certificate;

/* TlsSessionTicketKeys: each key is 80 bytes (checked at translate time). */
typedef struct xg_ticket_keys {
    xg_datasource *keys;
    size_t n_keys;
} xg_ticket_keys;

typedef enum xg_san_type {
    XG_SAN_EMAIL = 1,
    XG_SAN_DNS = 2,
    XG_SAN_URI = 3,
    XG_SAN_IP_ADDRESS = 4,
} xg_san_type;

typedef struct xg_san_matcher {
    xg_san_type type;
    const struct xg_string_matcher *matcher; /* in the same arena */
} xg_san_matcher;

typedef enum xg_trust_chain {
    XG_TRUST_VERIFY = 0,           /* VERIFY_TRUST_CHAIN */
    XG_TRUST_ACCEPT_UNTRUSTED = 1, /* ACCEPT_UNTRUSTED: chain errors ignored, other checks still apply */
} xg_trust_chain;

/* CertificateValidationContext. */
typedef struct xg_validation_context {
    xg_datasource trusted_ca;      /* XG_DS_NONE: no chain verification */
    const char *watched_directory; /* or NULL */
    xg_san_matcher *san_matchers;  /* match_typed_subject_alt_names: any one must match */
    size_t n_san_matchers;
    bool san_matchers_untyped; /* from the deprecated match_subject_alt_names (one matcher per SAN type) */
    uint8_t (*spki_pins)[32];  /* verify_certificate_spki, decoded SHA-256 */
    size_t n_spki_pins;
    uint8_t (*hash_pins)[32]; /* verify_certificate_hash, decoded SHA-256 */
    size_t n_hash_pins;
    xg_datasource crl;
    bool only_verify_leaf_cert_crl;
    bool allow_expired_certificate;
    xg_trust_chain trust_chain;
    bool has_max_verify_depth;
    uint32_t max_verify_depth;
} xg_validation_context;

/* Envoy's rules for a complete validation context (after an SDS one is merged
 * with a combined context's default): SAN matchers, a CRL or
 * allow_expired_certificate need trusted_ca. NULL when vc is fine, else the
 * reason (static text) and *field the offending field name. */
const char *xg_validation_context_problem(const xg_validation_context *vc, const char **field);

/* TLS protocol versions as on the wire (0x0301 = TLS 1.0 ... 0x0304 = TLS 1.3). */
#define XG_TLS1_0 0x0301
#define XG_TLS1_1 0x0302
#define XG_TLS1_2 0x0303
#define XG_TLS1_3 0x0304

typedef struct xg_tls_params {
    uint16_t min_version;       /* TLS_AUTO: TLS 1.2 */
    uint16_t max_version;       /* TLS_AUTO: TLS 1.3 (both directions; Envoy's client default is 1.2) */
    const char **cipher_suites; /* empty: the library's defaults */
    size_t n_cipher_suites;
    const char **ecdh_curves;
    size_t n_ecdh_curves;
    const char **signature_algorithms;
    size_t n_signature_algorithms;
} xg_tls_params;

/* SdsSecretConfig whose sds_config is ADS: a Secret fetched by name. */
typedef struct xg_sds_ref {
    const char *name;
    int64_t initial_fetch_timeout_ms; /* ConfigSource.initial_fetch_timeout: default 15000, 0 = wait forever */
} xg_sds_ref;

typedef enum xg_vc_kind {
    XG_VC_NONE,
    XG_VC_INLINE,   /* validation_context */
    XG_VC_SDS,      /* validation_context_sds_secret_config */
    XG_VC_COMBINED, /* combined_validation_context: vc is the default, merged with the SDS one */
} xg_vc_kind;

typedef enum xg_ticket_mode {
    XG_TICKETS_DEFAULT,  /* stateless resumption with keys the process makes */
    XG_TICKETS_INLINE,   /* session_ticket_keys */
    XG_TICKETS_SDS,      /* session_ticket_keys_sds_secret_config */
    XG_TICKETS_DISABLED, /* disable_stateless_session_resumption */
} xg_ticket_mode;

/* CommonTlsContext plus the Downstream- or UpstreamTlsContext fields. */
typedef struct xg_tls_context {
    bool downstream;
    xg_tls_params params;
    xg_tls_certificate *certificates; /* tls_certificates (inline) */
    size_t n_certificates;
    xg_sds_ref *certificate_sds; /* tls_certificate_sds_secret_configs */
    size_t n_certificate_sds;
    xg_vc_kind vc_kind;
    const xg_validation_context *vc; /* XG_VC_INLINE / XG_VC_COMBINED (the default part); else NULL */
    xg_sds_ref vc_sds;               /* XG_VC_SDS / XG_VC_COMBINED */
    const char **alpn_protocols;
    size_t n_alpn_protocols;

    /* DownstreamTlsContext */
    bool require_client_certificate;
    bool require_sni;
    xg_ticket_mode ticket_mode;
    const xg_ticket_keys *ticket_keys; /* XG_TICKETS_INLINE */
    xg_sds_ref ticket_keys_sds;        /* XG_TICKETS_SDS */
    bool disable_stateful_session_resumption;
    int64_t session_timeout_ms; /* -1: the library's default */
    bool full_scan_certs_on_sni_mismatch;

    /* UpstreamTlsContext */
    const char *sni;           /* NULL: none (or auto_sni from the cluster's protocol options) */
    uint32_t max_session_keys; /* default 1; 0 disables session resumption */
    bool enforce_rsa_key_usage;
} xg_tls_context;

#endif
