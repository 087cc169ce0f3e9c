/* The admin HTTP/1.1 server: a small route table on the main loop. Later
 * modules register their endpoints (/config_dump, /stats, ...) with
 * xg_admin_route; everything here runs on the main thread. */
#ifndef XG_ADMIN_ADMIN_H
#define XG_ADMIN_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "event/loop.h"

typedef struct xg_admin xg_admin;

/* A parsed request, borrowed for the duration of the handler call. */
typedef struct xg_admin_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* the request target up to '?', e.g. "/ready" */
    const char *query;  /* after '?', "" when there is none */
    const char *body;
    size_t body_len;
} xg_admin_request;

/* What a handler fills in. status starts at 200, content_type at
 * "text/plain; charset=utf-8" (a static string), body empty. */
typedef struct xg_admin_response {
    int status;
    const char *content_type;
    xg_buf body;
} xg_admin_response;

/* Main thread; must not block. data is the pointer given to xg_admin_route. */
typedef void (*xg_admin_handler_cb)(const xg_admin_request *req, xg_admin_response *resp, void *data);

/* Creates the server with its built-in routes (GET /ready); no socket yet.
 * loop is borrowed and must outlive the admin. 0 or XG_ENOMEM. */
int xg_admin_new(xg_loop *loop, xg_admin **out);
/* Adds an exact-path route. A known path with another method answers 405,
 * an unknown path 404. 0, XG_EEXIST (same method and path) or XG_ENOMEM. */
int xg_admin_route(xg_admin *a, const char *method, const char *path, xg_admin_handler_cb cb, void *data);
/* Binds and listens on host:port; logs the failure with the address. 0 or a negative errno. */
int xg_admin_listen(xg_admin *a, const char *host, uint16_t port);
/* The port actually bound (useful with port 0), or 0 before listen. */
uint16_t xg_admin_port(const xg_admin *a);
/* Readiness for GET /ready: 503 until a config is active, then 200. */
void xg_admin_set_ready(xg_admin *a, bool ready);
bool xg_admin_is_ready(const xg_admin *a);
/* Closes the listener and every connection; the admin stays valid (routes kept). */
void xg_admin_stop(xg_admin *a);
/* Stops if needed and frees a (NULL is fine). */
void xg_admin_free(xg_admin *a);

#endif
