/* TLS and mutual TLS on the stub's gRPC port (TLS=openssl flavour); in the
 * BoringSSL flavour only the plaintext half exists and main rejects the
 * --tls-* flags before anything here runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/string_util.h>

#include "core/error.h"
#include "tls.h"

#define MAX_PEM_BYTES (1 << 20)

bool xg_stub_tls_supported(void)
{
#ifdef XG_TLS_OPENSSL
    return true;
#else
    return false;
#endif
}

/* The whole (small) file as a NUL-terminated string; NULL with a reason. */
static char *read_pem(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(MAX_PEM_BYTES + 1) : NULL;
    size_t n = buf ? fread(buf, 1, MAX_PEM_BYTES + 1, f) : 0;
    const char *why = f == NULL ? strerror(errno) : buf == NULL ? "out of memory" : NULL;
    if (why == NULL && (ferror(f) || n > MAX_PEM_BYTES || n == 0))
        why = ferror(f) ? "read error" : n == 0 ? "empty file" : "larger than 1 MiB";
    if (f != NULL)
        fclose(f);
    if (why != NULL) {
        snprintf(err, errlen, "%s: %s", path, why);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int xg_stub_tls_load(xg_stub_tls *t, const char *cert_file, const char *key_file, const char *client_ca_file, char *err,
                     size_t errlen)
{
    *t = (xg_stub_tls){0};
    if (cert_file == NULL)
        return 0;
    t->cert = read_pem(cert_file, err, errlen);
    t->key = t->cert ? read_pem(key_file, err, errlen) : NULL;
    if (t->key != NULL && client_ca_file != NULL)
        t->client_ca = read_pem(client_ca_file, err, errlen);
    if (t->key == NULL || (client_ca_file != NULL && t->client_ca == NULL)) {
        xg_stub_tls_dispose(t);
        return XG_EIO;
    }
    return 0;
}

void xg_stub_tls_dispose(xg_stub_tls *t)
{
    free(t->cert);
    free(t->key);
    free(t->client_ca);
    *t = (xg_stub_tls){0};
}

const char *xg_stub_tls_mode(const xg_stub_tls *t)
{
    return t->cert == NULL ? "plaintext" : t->client_ca == NULL ? "tls" : "mtls";
}

#ifdef XG_TLS_OPENSSL
/* With a client CA, a client without a certificate that chains to it fails
 * the handshake: the stub then stands in for a control plane that admits
 * only known data planes. */
grpc_server_credentials *xg_stub_tls_server_creds(const xg_stub_tls *t)
{
    if (t->cert == NULL)
        return grpc_insecure_server_credentials_create();
    grpc_ssl_pem_key_cert_pair pair = {t->key, t->cert};
    grpc_ssl_client_certificate_request_type req = t->client_ca != NULL
                                                       ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                       : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    return grpc_ssl_server_credentials_create_ex(t->client_ca, &pair, 1, req, NULL);
}

char *xg_stub_tls_peer_identity(grpc_call *call)
{
    grpc_auth_context *ctx = grpc_call_auth_context(call);
    if (ctx == NULL)
        return NULL;
    grpc_auth_property_iterator it = grpc_auth_context_peer_identity(ctx);
    const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
    char *id = p != NULL ? gpr_strdup(p->value) : NULL;
    grpc_auth_context_release(ctx);
    return id;
}
#else
grpc_server_credentials *xg_stub_tls_server_creds(const xg_stub_tls *t)
{
    return grpc_insecure_server_credentials_create();
}

char *xg_stub_tls_peer_identity(grpc_call *call)
{
    return NULL;
}
#endif
