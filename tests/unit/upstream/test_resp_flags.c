/* Unit tests for response flag names and formatting (src/upstream/resp_flags.c):
 * Envoy's short names, Envoy's order, "-" for none, truncation. */
#include "upstream/resp_flags.h"
#include "xg_test.h"

XG_TEST(names_and_order_follow_envoy)
{
    char out[128];
    CHECK_EQ_INT(xg_resp_flags_format(0, out, sizeof out), 1);
    CHECK_STR(out, "-");
    xg_resp_flags_format(XG_RF_URX | XG_RF_UF, out, sizeof out);
    CHECK_STR(out, "UF,URX");
    xg_resp_flags_format(XG_RF_DR | XG_RF_UH | XG_RF_NR | XG_RF_UPE, out, sizeof out);
    CHECK_STR(out, "UH,NR,UPE,DR");
    CHECK_STR(xg_resp_flag_name(XG_RF_UMSDR), "UMSDR");
    CHECK_STR(xg_resp_flag_name(XG_RF_UO), "UO");
    CHECK(xg_resp_flag_name(XG_RF_UF | XG_RF_UC) == NULL);
    CHECK(xg_resp_flag_name(1u << 30) == NULL);
}

XG_TEST(format_truncates_safely)
{
    char small[4];
    size_t need = xg_resp_flags_format(XG_RF_UF | XG_RF_URX, small, sizeof small);
    CHECK_EQ_INT(need, 6);
    CHECK_STR(small, "UF,");
}
