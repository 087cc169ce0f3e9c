/* Internals shared by conn.c (the core and the plain transport), conn_tls.c
 * (the TLS transport) and the listener; not for owners. */
#ifndef XG_NET_CONN_INT_H
#define XG_NET_CONN_INT_H

#include "net/conn.h"

/* Reasons reading is off (xg_conn.rd_pause bits: three). */
enum {
    XG__RD_OWNER = 1 << 0,  /* xg_conn_pause_read */
    XG__RD_FULL = 1 << 1,   /* the input block is full and nothing was consumed */
    XG__RD_OUTPUT = 1 << 2, /* output above the high watermark */
};

/* What only a TLS connection needs, allocated with its SSL (conn_tls.c):
 * a plain connection carries one NULL pointer instead. */
struct xg__conn_tls {
    struct ssl_st *ssl;
    struct xg_tls_server *srv; /* referenced while ssl lives (verify and SNI callbacks use it) */
    struct xg_tls_client *cli;
    char *stage; /* plaintext of the record SSL_write must retry */
    uint32_t stage_len;
    int bio_err;        /* the errno behind the last failed socket call */
    double hs_deadline; /* ev_now of the handshake deadline, 0: none */
};

/* Kills c with reason r: watchers off, socket closed, freed (with on_close
 * unless the owner closed it) at the end of the pass. */
void xg__conn_die(xg_conn *c, xg_conn_reason r);
/* Reading may have become possible: restart watchers, replay buffered input. */
void xg__conn_resume(xg_conn *c);
/* Re-evaluates the output watermarks. */
void xg__conn_watermarks(xg_conn *c);
/* One handshake step; on_handshake when done, death on failure. */
void xg__conn_handshake(xg_conn *c);
/* A started plain conn just got its TLS server transport: handshake now. */
void xg__conn_begin_tls(xg_conn *c);
/* sendmsg with MSG_NOSIGNAL: a count, XG_EAGAIN or -errno. */
ssize_t xg__conn_sys_writev(int fd, const struct iovec *iov, int iovcnt);
/* conn_plain.c: the transport of a connection that is not TLS. */
extern const xg_transport_vt xg__conn_plain_vt;

#endif
