/* Unit tests for log level parsing and thresholds (src/core/log.c). */
#include "core/error.h"
#include "core/log.h"
#include "xg_test.h"

XG_TEST(parses_every_level_name)
{
    static const struct {
        const char *name;
        xg_log_level lvl;
    } cases[] = {
        {"trace", XG_LOG_TRACE},  {"debug", XG_LOG_DEBUG}, {"info", XG_LOG_INFO}, {"warn", XG_LOG_WARN},
        {"warning", XG_LOG_WARN}, {"error", XG_LOG_ERROR}, {"off", XG_LOG_OFF},   {"INFO", XG_LOG_INFO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        xg_log_level lvl = XG_LOG_OFF;
        CHECK_EQ_INT(xg_log_parse_level(cases[i].name, &lvl), 0);
        CHECK_EQ_INT(lvl, cases[i].lvl);
    }
}

XG_TEST(rejects_unknown_levels)
{
    const char *bad[] = {"", "verbose", "inf", "info ", "critical", "2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xg_log_level lvl = XG_LOG_DEBUG;
        CHECK_EQ_INT(xg_log_parse_level(bad[i], &lvl), XG_EINVAL);
        CHECK_EQ_INT(lvl, XG_LOG_DEBUG); /* untouched on failure */
    }
}

XG_TEST(threshold_filters_lower_levels)
{
    xg_log_set_level(XG_LOG_WARN);
    CHECK(!xg_log_enabled(XG_LOG_INFO));
    CHECK(xg_log_enabled(XG_LOG_WARN));
    CHECK(xg_log_enabled(XG_LOG_ERROR));
    xg_log_set_level(XG_LOG_OFF);
    CHECK(!xg_log_enabled(XG_LOG_ERROR));
    CHECK(!xg_log_enabled(XG_LOG_OFF));
    xg_log_set_level(XG_LOG_INFO);
}
