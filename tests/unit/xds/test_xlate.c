/* Unit tests for the translation context: dependency recording and error paths. */
#include <stdio.h>
#include <string.h>

#include "xds/xlate.h"
#include "xg_test.h"

XG_TEST(deps_are_folded_and_kept_in_order)
{
    xg_res *r = xg_res_new(XG_RES_ROUTE_CONFIG, "rc");
    char err[256];
    xg_xlate x;
    xg_xlate_init(&x, r, err, sizeof(err));
    char name[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(name, sizeof(name), "cluster-%d", i);
            CHECK_EQ_INT(xg_xlate_dep(&x, XG_RES_CLUSTER, name), 0);
        }
    }
    CHECK_EQ_INT(xg_xlate_dep(&x, XG_RES_SECRET, "cluster-7"), 0); /* same name, other type */
    CHECK_EQ_INT(xg_xlate_finish(&x), 0);
    CHECK_EQ_INT(r->n_deps, 5001);
    CHECK_STR(r->deps[0].name, "cluster-0");
    CHECK_STR(r->deps[4999].name, "cluster-4999");
    CHECK(r->deps[5000].type == XG_RES_SECRET);
    xg_res_unref(r);
}

XG_TEST(fail_formats_the_path)
{
    xg_res *r = xg_res_new(XG_RES_LISTENER, "l");
    char err[256];
    xg_xlate x;
    xg_xlate_init(&x, r, err, sizeof(err));
    size_t mark = xg_xlate_push(&x, "filter_chains");
    xg_xlate_push_index(&x, 2);
    xg_xlate_push(&x, "name");
    CHECK(xg_xlate_fail(&x, "bad %s", "thing") != 0);
    CHECK_STR(err, "filter_chains[2].name: bad thing");
    xg_xlate_pop(&x, mark);
    xg_xlate_fail(&x, "at the root");
    CHECK_STR(err, "(root): at the root");
    xg_xlate_dispose(&x);
    xg_res_unref(r);
}
