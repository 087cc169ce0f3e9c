/* Helpers for the upstream-side translator tests (clusters, endpoints, TLS,
 * secrets): YAML -> protobuf (through the proto3-JSON codec) -> translation,
 * throwaway self-signed certificates made at test time with the TLS library
 * (never committed), and scratch files in a per-process temp directory. */
#ifndef XG_TEST_XLATE_CES_H
#define XG_TEST_XLATE_CES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config/resource.h"
#include "xds/pbjson.h"
#include "xds/xlate.h"
#include "xg_test.h"

static char err[1024];

typedef int (*xlate_fn)(xg_xlate *x, const void *pb);

/* Parses yaml as type d and translates it with fn into a new resource (NULL
 * on failure, err then says why; a parse failure is reported as a failed
 * check so that a typo in a test cannot pass as an expected NACK). */
static inline xg_res *xlate_yaml(const ProtobufCMessageDescriptor *d, xg_res_type type, xlate_fn fn, const char *yaml)
{
    ProtobufCMessage *m = NULL;
    err[0] = '\0';
    if (!CHECK(xg_pbjson_parse(d, yaml, strlen(yaml), &m, err, sizeof(err)) == 0)) {
        fprintf(stderr, "parse error: %s\n", err);
        strcpy(err, "(parse error)");
        return NULL;
    }
    xg_res *r = xg_res_new(type, "test");
    xg_xlate x;
    xg_xlate_init(&x, r, err, sizeof(err));
    int rc = fn(&x, m);
    if (rc == 0)
        rc = xg_xlate_finish(&x);
    else
        xg_xlate_dispose(&x);
    protobuf_c_message_free_unpacked(m, NULL);
    if (rc != 0) {
        xg_res_unref(r);
        return NULL;
    }
    return r;
}

/* True when the resource has the dependency (type, name). */
static inline bool has_dep(const xg_res *r, xg_res_type type, const char *name)
{
    for (size_t i = 0; i < r->n_deps; i++)
        if (r->deps[i].type == type && strcmp(r->deps[i].name, name) == 0)
            return true;
    return false;
}

/* --- throwaway certificates --- */

static inline char *bio_text(BIO *b)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    return s;
}

/* A new self-signed P-256 certificate for cn and its key, as PEM (caller frees). */
static inline void make_cert(const char *cn, char **cert_pem, char **key_pem)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    EVP_PKEY_keygen_init(kc);
    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kc, NID_X9_62_prime256v1);
    EVP_PKEY_keygen(kc, &key);
    EVP_PKEY_CTX_free(kc);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(cb, x);
    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL);
    *cert_pem = bio_text(cb);
    *key_pem = bio_text(kb);
    BIO_free(cb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* s as a YAML double-quoted scalar ("...\n..."); static buffer, 4 at a time. */
static inline const char *yq(const char *s)
{
    static char bufs[4][8192];
    static int next;
    char *o = bufs[next++ % 4], *p = o;
    *p++ = '"';
    for (; *s && p < o + sizeof(bufs[0]) - 4; s++) {
        if (*s == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else {
            *p++ = *s;
        }
    }
    *p++ = '"';
    *p = '\0';
    return o;
}

/* --- scratch files --- */

static char tmpdir[64];

static inline void remove_scratch(void)
{
    if (tmpdir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

/* A per-process temp directory, removed at exit. */
static inline const char *scratch_dir(void)
{
    if (tmpdir[0] == '\0') {
        strcpy(tmpdir, "/tmp/xg_test_XXXXXX");
        if (mkdtemp(tmpdir) == NULL)
            abort();
        atexit(remove_scratch);
    }
    return tmpdir;
}

/* Writes content to a file in the scratch directory; returns its path (static, 4 at a time). */
static inline const char *write_file(const char *name, const char *content)
{
    static char paths[4][256];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof(paths[0]), "%s/%s", scratch_dir(), name);
    FILE *f = fopen(p, "w");
    fputs(content, f);
    fclose(f);
    return p;
}

#endif
