/* Internals shared by the admin server's files (admin.c: routes and the
 * listener; admin_conn.c: one HTTP/1.1 connection). */
#ifndef XG_ADMIN_ADMIN_INT_H
#define XG_ADMIN_ADMIN_INT_H

#include "admin/admin.h"

/* Limits that keep a misbehaving admin client from holding memory or sockets. */
#define XG_ADMIN_HEADER_MAX (64 * 1024) /* request line + headers: beyond -> 431 */
#define XG_ADMIN_BODY_MAX (64 * 1024)   /* beyond -> 413 */
#define XG_ADMIN_OUT_HIGH (256 * 1024)  /* unsent responses: stop reading above this */
#define XG_ADMIN_MAX_CONNS 128
#define XG_ADMIN_IDLE_SECS 60.0

typedef struct xg__admin_route {
    char method[16];
    char *path;
    xg_admin_handler_cb cb;
    void *data;
} xg__admin_route;

typedef struct xg__admin_conn xg__admin_conn;

struct xg_admin {
    xg_loop *loop;
    int fd; /* listener, -1 when not listening */
    uint16_t port;
    ev_io accept_io;
    ev_timer accept_retry; /* re-enables accept after running out of descriptors */
    xg__admin_route *routes;
    size_t nroutes;
    bool ready;
    xg__admin_conn *conns; /* open connections, for stop */
    unsigned nconns;
};

/* Routes req to its handler (or 404/405) and fills resp; allow gets the
 * methods the path accepts when the answer is 405. */
void xg__admin_dispatch(xg_admin *a, const xg_admin_request *req, xg_admin_response *resp, xg_buf *allow);
/* Takes ownership of an accepted, non-blocking fd. 0 or XG_ENOMEM (fd closed). */
int xg__admin_conn_start(xg_admin *a, int fd);
/* Closes now; the memory goes at the end of the loop pass. */
void xg__admin_conn_close(xg__admin_conn *c);

#endif
