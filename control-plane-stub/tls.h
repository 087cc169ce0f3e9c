/* TLS on the stub's gRPC port: a server certificate and key, and optionally a
 * CA that client certificates must chain to (mutual TLS). Exists only in the
 * TLS=openssl flavour, whose gRPC library has TLS; the BoringSSL flavour's
 * grpc_unsecure serves plaintext only. */
#ifndef XG_STUB_TLS_H
#define XG_STUB_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <grpc/grpc.h>

typedef struct xg_stub_tls {
    char *cert;      /* PEM, owned; NULL: plaintext */
    char *key;       /* PEM, owned */
    char *client_ca; /* PEM, owned; NULL: no client certificate is asked for */
} xg_stub_tls;

/* True when this build can serve TLS (the TLS=openssl flavour). */
bool xg_stub_tls_supported(void);
/* Reads the PEM files (cert_file NULL: plaintext; client_ca_file may be NULL).
 * 0, or XG_EIO with "FILE: reason" in err and nothing kept. The files are read
 * once, at start-up: the stub never rotates certificates. */
int xg_stub_tls_load(xg_stub_tls *t, const char *cert_file, const char *key_file, const char *client_ca_file, char *err,
                     size_t errlen);
void xg_stub_tls_dispose(xg_stub_tls *t);
/* Server credentials for t (insecure when t->cert is NULL); after grpc_init.
 * The caller releases them. A certificate and key that do not match are only
 * found out by grpc_server_add_http2_port, which then fails. */
grpc_server_credentials *xg_stub_tls_server_creds(const xg_stub_tls *t);
/* "plaintext", "tls" or "mtls", for the log. */
const char *xg_stub_tls_mode(const xg_stub_tls *t);
/* The verified client certificate's identity on call (its first subject
 * alternative name, else its common name), or NULL when there is none.
 * Free with gpr_free. */
char *xg_stub_tls_peer_identity(grpc_call *call);

#endif
