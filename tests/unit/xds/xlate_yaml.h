/* Translation unit tests: a Listener or RouteConfiguration written in YAML
 * (Envoy's proto3 JSON mapping) -> protobuf-c message -> xdsgate's translated
 * resource, the path a control plane's update takes minus the wire. */
#ifndef XG_TEST_XLATE_YAML_H
#define XG_TEST_XLATE_YAML_H

#include <stdio.h>
#include <string.h>

#include "config/resource.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "xds/pbjson.h"
#include "xds/xlate.h"

/* The resource called name of type (XG_RES_LISTENER or XG_RES_ROUTE_CONFIG)
 * translated from yaml; NULL when it does not translate, with the reason in
 * err (also when the YAML does not decode, which is printed: a test bug). */
__attribute__((unused)) static xg_res *xy_xlate(xg_res_type type, const char *name, const char *yaml, char *err,
                                                size_t errlen)
{
    bool is_listener = type == XG_RES_LISTENER;
    const ProtobufCMessageDescriptor *d = is_listener ? &envoy__config__listener__v3__listener__descriptor
                                                      : &envoy__config__route__v3__route_configuration__descriptor;
    ProtobufCMessage *m = NULL;
    err[0] = '\0';
    if (xg_pbjson_parse(d, yaml, strlen(yaml), &m, err, errlen) != 0) {
        fprintf(stderr, "YAML does not decode: %s\n", err);
        return NULL;
    }
    xg_res *r = xg_res_new(type, name);
    xg_xlate x;
    xg_xlate_init(&x, r, err, errlen);
    int rc = is_listener ? xg_xlate_listener(&x, (const Envoy__Config__Listener__V3__Listener *)m)
                         : xg_xlate_route_config(&x, (const Envoy__Config__Route__V3__RouteConfiguration *)m);
    protobuf_c_message_free_unpacked(m, NULL);
    rc = rc == 0 ? xg_xlate_finish(&x) : (xg_xlate_dispose(&x), rc);
    if (rc != 0) {
        xg_res_unref(r);
        return NULL;
    }
    return r;
}

#endif
