/* Lookup in the generated, name-sorted table of message types. */
#include <stdlib.h>
#include <string.h>

#include "xds/pb_registry.h"

static int cmp_entry(const void *key, const void *elem)
{
    return strcmp(key, ((const struct xg__pb_entry *)elem)->name);
}

const ProtobufCMessageDescriptor *xg_pb_find_type(const char *name_or_url)
{
    const char *slash = strrchr(name_or_url, '/');
    const char *name = slash ? slash + 1 : name_or_url;
    size_t n;
    const struct xg__pb_entry *table = xg__pb_registry_table(&n);
    const struct xg__pb_entry *e = bsearch(name, table, n, sizeof(*table), cmp_entry);
    return e ? e->desc : NULL;
}
