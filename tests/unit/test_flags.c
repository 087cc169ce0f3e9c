/* Unit tests for command-line parsing (src/flags.c): values, defaults, and a
 * message naming the flag for every rejection. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "flags.h"
#include "xg_test.h"

/* Parses a NULL-terminated argv; err_out receives what went to stderr (free it). */
static int parse(xg_flags *f, char **err_out, const char **args)
{
    char *argv[32] = {"xdsgate"};
    int argc = 1;
    while (args[argc - 1] != NULL && argc < 31) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    size_t len = 0;
    FILE *err = open_memstream(err_out, &len);
    xg_flags_defaults(f);
    int rc = xg_flags_parse(f, argc, argv, err);
    fclose(err);
    return rc;
}

XG_TEST(defaults)
{
    xg_flags f;
    char *err = NULL;
    const char *args[] = {NULL};
    CHECK_EQ_INT(parse(&f, &err, args), 0);
    CHECK_STR(f.admin_host, "127.0.0.1");
    CHECK_EQ_INT(f.admin_port, 9901);
    CHECK_STR(f.node_cluster, "xdsgate");
    CHECK(f.node_id[0] != '\0');
    CHECK(f.concurrency >= 1 && f.concurrency <= XG_CONCURRENCY_MAX);
    CHECK_EQ_INT(f.log_level, XG_LOG_INFO);
    CHECK_EQ_INT(f.xds_mode, XG_XDS_SOTW);
    CHECK(!f.has_xds_server && !f.ignore_unknown_fields && !f.help && !f.version);
    CHECK_STR(err, "");
    free(err);
}

XG_TEST(every_flag_sets_its_value)
{
    xg_flags f;
    char *err = NULL;
    const char *args[] = {"--xds-server",
                          "cp.example:18000",
                          "--node-id",
                          "n1",
                          "--node-cluster",
                          "edge",
                          "--admin",
                          "[::1]:9000",
                          "--concurrency",
                          "7",
                          "--log-level",
                          "debug",
                          "--xds-mode",
                          "delta",
                          "--ignore-unknown-fields",
                          NULL};
    CHECK_EQ_INT(parse(&f, &err, args), 0);
    CHECK(f.has_xds_server);
    CHECK_STR(f.xds_host, "cp.example");
    CHECK_EQ_INT(f.xds_port, 18000);
    CHECK_STR(f.node_id, "n1");
    CHECK_STR(f.node_cluster, "edge");
    CHECK_STR(f.admin_host, "::1");
    CHECK_EQ_INT(f.admin_port, 9000);
    CHECK_EQ_INT(f.concurrency, 7);
    CHECK_EQ_INT(f.log_level, XG_LOG_DEBUG);
    CHECK_EQ_INT(f.xds_mode, XG_XDS_DELTA);
    CHECK(f.ignore_unknown_fields);
    free(err);
}

XG_TEST(equals_form_and_help_version)
{
    xg_flags f;
    char *err = NULL;
    const char *args[] = {"--concurrency=256", "--help", "--version", NULL};
    CHECK_EQ_INT(parse(&f, &err, args), 0);
    CHECK_EQ_INT(f.concurrency, 256);
    CHECK(f.help && f.version);
    free(err);
}

static void expect_rejected(const char *flag, const char *value, const char *mention)
{
    xg_flags f;
    char *err = NULL;
    const char *args[] = {flag, value, NULL};
    CHECK_EQ_INT(parse(&f, &err, args), XG_EINVAL);
    if (!CHECK(err != NULL && strstr(err, mention) != NULL))
        fprintf(stderr, "  %s %s: stderr was: %s\n", flag, value ? value : "", err ? err : "(null)");
    free(err);
}

XG_TEST(bad_values_name_the_flag)
{
    expect_rejected("--concurrency", "0", "--concurrency");
    expect_rejected("--concurrency", "257", "--concurrency");
    expect_rejected("--concurrency", "-1", "--concurrency");
    expect_rejected("--concurrency", "4x", "--concurrency");
    expect_rejected("--concurrency", "", "--concurrency");
    expect_rejected("--admin", "127.0.0.1:0", "--admin");
    expect_rejected("--admin", "127.0.0.1:65536", "--admin");
    expect_rejected("--admin", "127.0.0.1", "--admin");
    expect_rejected("--admin", ":9901", "--admin");
    expect_rejected("--admin", "::1:9901", "--admin");
    expect_rejected("--xds-server", "host:port", "--xds-server");
    expect_rejected("--log-level", "loud", "--log-level");
    expect_rejected("--xds-mode", "incremental", "--xds-mode");
    expect_rejected("--node-id", "", "--node-id");
    expect_rejected("--node-cluster", "", "--node-cluster");
}

XG_TEST(unknown_flags_and_missing_values_name_the_flag)
{
    expect_rejected("--no-such-flag", NULL, "--no-such-flag");
    expect_rejected("-x", NULL, "-x");
    expect_rejected("--admin", NULL, "--admin");
    expect_rejected("--help=yes", NULL, "--help=yes");
    expect_rejected("stray", NULL, "stray");
}

XG_TEST(too_long_node_id_is_rejected)
{
    char big[XG_NODE_STR_MAX + 10];
    memset(big, 'n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_rejected("--node-id", big, "--node-id");
}
