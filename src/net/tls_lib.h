/* Which TLS library this binary was built against (BoringSSL by default,
 * OpenSSL with `make TLS=openssl`), for --version and the start-up log. */
#ifndef XG_NET_TLS_LIB_H
#define XG_NET_TLS_LIB_H

/* The library's own version string, e.g. "BoringSSL" or "OpenSSL 3.0.x ...";
 * static storage, never NULL. */
const char *xg_tls_lib_version(void);

#endif
