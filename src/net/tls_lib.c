/* Asks the linked TLS library for its name; calling into it also keeps
 * libssl/libcrypto in the link, so ldd shows which one the binary uses. */
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "net/tls_lib.h"

const char *xg_tls_lib_version(void)
{
    /* Referencing libssl too keeps it linked even under --as-needed, so ldd always shows
     * the one libssl/libcrypto pair this binary uses. */
    const void *method = TLS_method();
    const char *v = OpenSSL_version(OPENSSL_VERSION);
    return (method != NULL && v != NULL) ? v : "unknown TLS library";
}
