/* Text for xdsgate's return codes. */
#include <string.h>

#include "core/error.h"

const char *xg_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}
