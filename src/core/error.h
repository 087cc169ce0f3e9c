/* One set of return codes for all of xdsgate: 0 on success, a negative
 * errno-style XG_E* value on failure (libuv's convention). */
#ifndef XG_CORE_ERROR_H
#define XG_CORE_ERROR_H

#include <errno.h>

#define XG_OK 0
#define XG_ENOMEM (-ENOMEM)
#define XG_EINVAL (-EINVAL)
#define XG_ENOENT (-ENOENT)
#define XG_EEXIST (-EEXIST)
#define XG_EIO (-EIO)
#define XG_ERANGE (-ERANGE)
#define XG_EAGAIN (-EAGAIN)
#define XG_ENOTSUP (-ENOTSUP)

/* Text for an XG_E* code (or any negative errno); never NULL. */
const char *xg_strerror(int err);

#endif
