/* Throwaway test PKI for the net/ TLS tests: a CA ("ca"), a second CA
 * ("ca2"), server certificates "a" (example.com, www.example.com), "a2" (a
 * renewal of "a": the same names, a new key) and "b" (*.wild.test), a client
 * certificate "client" (URI spiffe://client) and "rogue" (same SAN, signed
 * by ca2), and an empty CRL of ca ("ca.crl"), made with the openssl CLI in a
 * temp dir once per test process and removed at exit. */
#ifndef XG_TLS_CERTS_H
#define XG_TLS_CERTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/tls.h"
#include "net/tls_ctx.h"

static char dir[256];
static bool have_certs;

static const char *gen_script =
    "set -e; cd '%s'; "
    "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key 2>/dev/null; }; "
    "ca() { key $1; openssl req -x509 -new -key $1.key -out $1.pem -days 2 -subj /CN=$1 2>/dev/null; }; "
    "leaf() { key $1; openssl req -new -key $1.key -out $1.csr -subj /CN=$2 2>/dev/null; "
    "  printf 'subjectAltName=%%s\\n' \"$3\" > $1.ext; "
    "  openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -CAcreateserial -out $1.pem -days 2 "
    "  -extfile $1.ext 2>/dev/null; }; "
    "ca ca; ca ca2; "
    "leaf a example.com 'DNS:example.com,DNS:www.example.com' ca; "
    "leaf a2 example.com 'DNS:example.com,DNS:www.example.com' ca; "
    "leaf b wild 'DNS:*.wild.test' ca; "
    "leaf client client 'URI:spiffe://client' ca; "
    "leaf rogue rogue 'URI:spiffe://client' ca2; "
    "touch index.txt; printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\ndefault_md=sha256\\n"
    "default_crl_days=2\\n' > crl.cnf; "
    "openssl ca -gencrl -config crl.cnf -keyfile ca.key -cert ca.pem -out ca.crl 2>/dev/null";

static inline void make_certs(void)
{
    if (have_certs)
        return;
    snprintf(dir, sizeof(dir), "/tmp/xg_tls_test_XXXXXX");
    if (mkdtemp(dir) == NULL)
        return;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), gen_script, dir);
    have_certs = system(cmd) == 0;
}

__attribute__((destructor)) static void remove_certs(void)
{
    char cmd[512];
    if (dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    xg_tls_thread_cleanup();
}

/* Paths live for the whole process: the contexts only keep pointers. */
static inline const char *path(const char *name)
{
    static char paths[32][400];
    static int n;
    char *p = paths[n++ % 32];
    snprintf(p, 400, "%s/%s", dir, name);
    return p;
}

static inline xg_datasource file_ds(const char *name)
{
    const char *p = path(name);
    return (xg_datasource){.kind = XG_DS_FILE, .value = p, .len = strlen(p)};
}

static inline xg_tls_certificate cert(const char *name)
{
    char pem[64], key[64];
    snprintf(pem, sizeof(pem), "%s.pem", name);
    snprintf(key, sizeof(key), "%s.key", name);
    return (xg_tls_certificate){.certificate_chain = file_ds(pem), .private_key = file_ds(key)};
}

#endif
