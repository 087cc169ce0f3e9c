/* Envoy-shaped ConfigDump JSON around xg_pbjson_write's rendering of each
 * resource. Sections come in Envoy's order (clusters, endpoints, listeners,
 * routes, secrets); endpoints are always included (Envoy needs ?include_eds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/config_dump.h"
#include "admin/json_out.h"
#include "admin/redact.h"
#include "core/error.h"
#include "core/log.h"
#include "google/protobuf/any.pb-c.h"
#include "xds/pb_registry.h"
#include "xds/pbjson.h"
#include "xds/xds_type.h"

#define ADMIN_URL "type.googleapis.com/envoy.admin.v3."

/* The resource as an Any, rendered pretty with proto field names, redacted. */
static int render(const xg_res *r, xg_buf *out, char *err, size_t errlen)
{
    const char *url = xg_xds_type_url(r->type);
    const ProtobufCMessageDescriptor *d = xg_pb_find_type(url);
    ProtobufCMessage *m = d ? protobuf_c_message_unpack(d, NULL, r->raw_len, r->raw) : NULL;
    if (m == NULL) {
        snprintf(err, errlen, "does not decode");
        return XG_EINVAL;
    }
    xg_redact(m);
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    int rc = XG_ENOMEM;
    if (buf != NULL) {
        protobuf_c_message_pack(m, buf);
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = (char *)url;
        any.value.data = buf;
        any.value.len = len;
        rc = xg_pbjson_write(&any.base, XG_PBJSON_PROTO_NAMES | XG_PBJSON_PRETTY | XG_PBJSON_SKIP_UNKNOWN, out, err,
                             errlen);
    }
    free(buf);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static void resource(xg_jw *w, const char *key, const xg_res *r)
{
    xg_buf tmp;
    char err[512] = "";
    xg_buf_init(&tmp);
    xg_jw_key(w, key);
    int rc = render(r, &tmp, err, sizeof(err));
    if (rc == 0) {
        xg_jw_raw(w, tmp.data, tmp.len);
    } else {
        xg_log_error("admin: config_dump: %s \"%s\": %s", xg_res_type_name(r->type), r->name,
                     err[0] ? err : xg_strerror(rc));
        xg_jw_null(w);
        if (rc == XG_ENOMEM && w->err == 0)
            w->err = rc;
    }
    xg_buf_dispose(&tmp);
}

/* {version_info, <key>: resource, last_updated}, the shape of Envoy's Dynamic* messages. */
static void dynamic(xg_jw *w, const char *key, const xg_res *r, bool with_name)
{
    xg_jw_open(w, '{');
    if (with_name)
        xg_jw_kstr(w, "name", r->name);
    if (r->version[0] != '\0')
        xg_jw_kstr(w, "version_info", r->version);
    resource(w, key, r);
    xg_jw_key(w, "last_updated");
    xg_jw_time(w, r->last_updated_ms);
    xg_jw_close(w, '}');
}

static size_t count(const xg_snapshot *s, xg_res_type t)
{
    return s ? xg_snapshot_count(s, t) : 0;
}

/* A list member of dynamic entries of one type; omitted when empty, as proto3 JSON does. */
static void dynamic_list(xg_jw *w, const char *list, const char *key, xg_res *const *res, size_t n, bool with_name)
{
    if (n == 0)
        return;
    xg_jw_key(w, list);
    xg_jw_open(w, '[');
    for (size_t i = 0; i < n; i++)
        dynamic(w, key, res[i], with_name);
    xg_jw_close(w, ']');
}

static void section_head(xg_jw *w, const char *type, const xg_snapshot *s, xg_res_type t, bool version)
{
    xg_jw_open(w, '{');
    xg_jw_kstr(w, "@type", type);
    if (version && s != NULL && s->tables[t]->version_info[0] != '\0')
        xg_jw_kstr(w, "version_info", s->tables[t]->version_info);
}

static xg_res *const *active(const xg_snapshot *s, xg_res_type t)
{
    return s ? s->tables[t]->res : NULL;
}

static void clusters(xg_jw *w, const xg_snapshot *s, const xg_xds_status *st)
{
    section_head(w, ADMIN_URL "ClustersConfigDump", s, XG_RES_CLUSTER, true);
    dynamic_list(w, "dynamic_active_clusters", "cluster", active(s, XG_RES_CLUSTER), count(s, XG_RES_CLUSTER), false);
    if (st != NULL)
        dynamic_list(w, "dynamic_warming_clusters", "cluster", st->types[XG_XDS_CDS].warming,
                     st->types[XG_XDS_CDS].n_warming, false);
    xg_jw_close(w, '}');
}

static void simple_section(xg_jw *w, const xg_snapshot *s, xg_res_type t, const char *type, const char *list,
                           const char *key, bool with_name)
{
    section_head(w, type, s, t, false);
    dynamic_list(w, list, key, active(s, t), count(s, t), with_name);
    xg_jw_close(w, '}');
}

static int cmp_res(const void *a, const void *b)
{
    return strcmp((*(xg_res *const *)a)->name, (*(xg_res *const *)b)->name);
}

static void listener_state(xg_jw *w, const char *key, const xg_res *r)
{
    xg_jw_key(w, key);
    dynamic(w, "listener", r, false);
}

/* DynamicListener{name, active_state, warming_state}: actives and warmings merged by name. */
static void listeners(xg_jw *w, const xg_snapshot *s, xg_res **warm, size_t nw)
{
    size_t na = count(s, XG_RES_LISTENER), i = 0, k = 0;
    section_head(w, ADMIN_URL "ListenersConfigDump", s, XG_RES_LISTENER, true);
    if (na + nw > 0) {
        xg_jw_key(w, "dynamic_listeners");
        xg_jw_open(w, '[');
    }
    while (i < na || k < nw) {
        const xg_res *a = i < na ? xg_snapshot_at(s, XG_RES_LISTENER, i) : NULL;
        const xg_res *b = k < nw ? warm[k] : NULL;
        int c = a == NULL ? 1 : b == NULL ? -1 : strcmp(a->name, b->name);
        xg_jw_open(w, '{');
        xg_jw_kstr(w, "name", c <= 0 ? a->name : b->name);
        if (c <= 0) {
            listener_state(w, "active_state", a);
            i++;
        }
        if (c >= 0) {
            listener_state(w, "warming_state", b);
            k++;
        }
        xg_jw_close(w, '}');
    }
    if (na + nw > 0)
        xg_jw_close(w, ']');
    xg_jw_close(w, '}');
}

int xg_config_dump(const xg_snapshot *s, const xg_xds_status *st, xg_buf *out)
{
    size_t nw = st ? st->types[XG_XDS_LDS].n_warming : 0;
    xg_res **warm = nw ? malloc(nw * sizeof(*warm)) : NULL;
    if (nw > 0 && warm == NULL)
        return XG_ENOMEM;
    if (nw > 0) {
        memcpy(warm, st->types[XG_XDS_LDS].warming, nw * sizeof(*warm));
        qsort(warm, nw, sizeof(*warm), cmp_res);
    }
    xg_jw w;
    xg_jw_init(&w, out);
    xg_jw_open(&w, '{');
    xg_jw_key(&w, "configs");
    xg_jw_open(&w, '[');
    clusters(&w, s, st);
    simple_section(&w, s, XG_RES_ENDPOINTS, ADMIN_URL "EndpointsConfigDump", "dynamic_endpoint_configs",
                   "endpoint_config", false);
    listeners(&w, s, warm, nw);
    simple_section(&w, s, XG_RES_ROUTE_CONFIG, ADMIN_URL "RoutesConfigDump", "dynamic_route_configs", "route_config",
                   false);
    simple_section(&w, s, XG_RES_SECRET, ADMIN_URL "SecretsConfigDump", "dynamic_active_secrets", "secret", true);
    xg_jw_close(&w, ']');
    xg_jw_close(&w, '}');
    free(warm);
    return xg_jw_finish(&w);
}
