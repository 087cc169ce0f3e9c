/* GET /config_dump: the active configuration as JSON in the shape of Envoy's
 * admin ConfigDump (envoy.admin.v3.*ConfigDump messages, snake_case field
 * names, resources as Any with "@type"), built from the raw bytes each
 * resource arrived with, secrets redacted. Main thread. */
#ifndef XG_ADMIN_CONFIG_DUMP_H
#define XG_ADMIN_CONFIG_DUMP_H

#include "config/snapshot.h"
#include "core/buf.h"
#include "xds/xds_status.h"

/* Appends the dump of s (NULL: nothing received yet) with the warming
 * listeners and clusters of st (NULL: none). 0 or XG_ENOMEM. A resource that
 * cannot be rendered is written as null and logged. */
int xg_config_dump(const xg_snapshot *s, const xg_xds_status *st, xg_buf *out);

#endif
