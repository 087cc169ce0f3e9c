/* POST /quitquitquit: a graceful exit, exactly as SIGTERM. */
#ifndef XG_ADMIN_QUIT_H
#define XG_ADMIN_QUIT_H

#include <stdbool.h>

#include "admin/admin.h"
#include "event/loop.h"

typedef struct xg_admin_quit {
    xg_loop *loop;
    void (*fn)(void *arg);
    void *arg;
    bool requested;
} xg_admin_quit;

/* Registers the endpoint on a (q is the caller's storage and must outlive a):
 * it answers 200 "OK" and then, on a later pass of loop (so that the answer
 * is written first), calls fn(arg) once. Main thread. 0 or XG_ENOMEM. */
int xg_admin_quit_init(xg_admin_quit *q, xg_admin *a, xg_loop *loop, void (*fn)(void *arg), void *arg);

#endif
