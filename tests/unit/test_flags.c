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
    CHECK_EQ_INT(f.initial_fetch_timeout_ms, 15000);
    CHECK_STR(f.xds_ca, "");
    CHECK_EQ_INT(f.max_downstream_connections, 0);
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

XG_TEST(max_downstream_connections)
{
    static const struct {
        const char *in;
        uint64_t n;
    } ok[] = {{"0", 0}, {"2", 2}, {"1000000000", 1000000000}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        xg_flags f;
        char *err = NULL;
        const char *args[] = {"--max-downstream-connections", ok[i].in, NULL};
        CHECK_EQ_INT(parse(&f, &err, args), 0);
        CHECK_EQ_INT(f.max_downstream_connections, ok[i].n);
        free(err);
    }
    expect_rejected("--max-downstream-connections", "-1", "--max-downstream-connections");
    expect_rejected("--max-downstream-connections", "abc", "--max-downstream-connections");
    expect_rejected("--max-downstream-connections", "1000000001", "--max-downstream-connections");
    expect_rejected("--max-downstream-connections", "", "--max-downstream-connections");
}

XG_TEST(unknown_flags_and_missing_values_name_the_flag)
{
    expect_rejected("--no-such-flag", NULL, "--no-such-flag");
    expect_rejected("-x", NULL, "-x");
    expect_rejected("--admin", NULL, "--admin");
    expect_rejected("--help=yes", NULL, "--help=yes");
    expect_rejected("stray", NULL, "stray");
}

XG_TEST(initial_fetch_timeout_durations)
{
    static const struct {
        const char *in;
        uint32_t ms;
    } ok[] = {{"15s", 15000}, {"1s", 1000},   {"0", 0},    {"0s", 0},     {"500ms", 500},
              {"1.5s", 1500}, {"2m", 120000}, {"3", 3000}, {"0.25", 250}, {"24h", 0}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]) - 1; i++) {
        xg_flags f;
        char *err = NULL;
        const char *args[] = {"--initial-fetch-timeout", ok[i].in, NULL};
        CHECK_EQ_INT(parse(&f, &err, args), 0);
        CHECK_EQ_INT(f.initial_fetch_timeout_ms, ok[i].ms);
        free(err);
    }
    expect_rejected("--initial-fetch-timeout", "24h", "--initial-fetch-timeout");
    expect_rejected("--initial-fetch-timeout", "-1s", "--initial-fetch-timeout");
    expect_rejected("--initial-fetch-timeout", "1.2.3s", "--initial-fetch-timeout");
    expect_rejected("--initial-fetch-timeout", "s", "--initial-fetch-timeout");
    expect_rejected("--initial-fetch-timeout", "10x", "--initial-fetch-timeout");
    expect_rejected("--initial-fetch-timeout", "", "--initial-fetch-timeout");
    expect_rejected("--initial-fetch-timeout", "90000s", "--initial-fetch-timeout");
}

#ifdef XG_TLS_OPENSSL
XG_TEST(xds_tls_flags_go_together)
{
    xg_flags f;
    char *err = NULL;
    const char *ok[] = {"--xds-ca", "/ca.pem", "--xds-cert", "/c.pem", "--xds-key", "/k.pem", NULL};
    CHECK_EQ_INT(parse(&f, &err, ok), 0);
    CHECK_STR(f.xds_ca, "/ca.pem");
    CHECK_STR(f.xds_key, "/k.pem");
    CHECK_STR(f.xds_server_name, "");
    free(err);
    err = NULL;
    const char *named[] = {"--xds-ca", "/ca.pem", "--xds-server-name", "cp.internal", NULL};
    CHECK_EQ_INT(parse(&f, &err, named), 0);
    CHECK_STR(f.xds_server_name, "cp.internal");
    free(err);
    err = NULL;
    const char *name_no_ca[] = {"--xds-server-name", "cp.internal", NULL};
    CHECK_EQ_INT(parse(&f, &err, name_no_ca), XG_EINVAL);
    CHECK(err && strstr(err, "--xds-server-name needs --xds-ca") != NULL);
    free(err);
    err = NULL;
    const char *no_key[] = {"--xds-ca", "/ca.pem", "--xds-cert", "/c.pem", NULL};
    CHECK_EQ_INT(parse(&f, &err, no_key), XG_EINVAL);
    CHECK(err && strstr(err, "--xds-key") != NULL);
    free(err);
    err = NULL;
    const char *no_ca[] = {"--xds-cert", "/c.pem", "--xds-key", "/k.pem", NULL};
    CHECK_EQ_INT(parse(&f, &err, no_ca), XG_EINVAL);
    CHECK(err && strstr(err, "--xds-ca") != NULL);
    free(err);
}
#else
XG_TEST(xds_tls_flags_need_the_openssl_flavour)
{
    expect_rejected("--xds-ca", "/ca.pem", "make TLS=openssl");
    expect_rejected("--xds-cert", "/c.pem", "--xds-cert");
    expect_rejected("--xds-key", "/k.pem", "--xds-key");
    expect_rejected("--xds-server-name", "cp.internal", "make TLS=openssl");
}
#endif

XG_TEST(too_long_node_id_is_rejected)
{
    char big[XG_NODE_STR_MAX + 10];
    memset(big, 'n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_rejected("--node-id", big, "--node-id");
}
