/* Unit tests for upstream TLS in the pools (src/upstream/upconn.c with
 * net/connect.h and net/tls_ctx.h), against blocking TLS servers written on
 * the TLS library directly: SNI from UpstreamTlsContext.sni, the ALPN offer
 * following the cluster's protocol choice (http/1.1; h2; AUTO offering both
 * and speaking what the server chose), connection reuse over TLS, a server
 * the trusted CA does not vouch for failing with UF, SAN matchers (and the
 * failure reason a request gets), auto_sni and auto_san_validation, client
 * certificates for servers that require one, session resumption and
 * max_session_keys, and tls_params' protocol versions. */
#include "config/matcher.h"
#include "net/tls_certs.h"
#include "upstream/h1_server.h"
#include "upstream/h2_server.h"
#include "upstream/upstream_util.h"
#include "xg_test.h"

static xg_validation_context vc;
static xg_tls_context up_tc;
static xg_upstream_proto want_proto;
/* Per-test knobs of tls_cluster (reset by have()). */
static xg_san_matcher *sans;
static size_t n_sans;
static xg_tls_certificate client_cert;
static bool with_client_cert, auto_sni, auto_san;
static uint32_t session_keys;
static uint16_t max_version;
static uint32_t max_requests;

static void tls_cluster(xg_cluster *c)
{
    vc = (xg_validation_context){.trusted_ca = file_ds("ca.pem"), .san_matchers = sans, .n_san_matchers = n_sans};
    up_tc = (xg_tls_context){.downstream = false,
                             .sni = "example.com",
                             .max_session_keys = session_keys,
                             .vc_kind = XG_VC_INLINE,
                             .vc = &vc,
                             .params = {.min_version = XG_TLS1_2, .max_version = max_version}};
    if (with_client_cert) {
        client_cert = cert("client");
        up_tc.certificates = &client_cert;
        up_tc.n_certificates = 1;
    }
    c->tls = &up_tc;
    c->http.protocol = want_proto;
    c->http.auto_sni = auto_sni;
    c->http.auto_san_validation = auto_san;
    c->http.max_requests_per_connection = max_requests;
}

static void get(tenv *e, rec *c, const char *path)
{
    rec_init(c, e, "GET", path);
    if (rec_start(c, true) == 0)
        tenv_run(e, rec_finished, c, 5);
}

static bool have(void)
{
    make_certs();
    sans = NULL;
    n_sans = 0;
    with_client_cert = auto_sni = auto_san = false;
    session_keys = 1;
    max_version = XG_TLS1_3;
    max_requests = 0;
    return have_certs;
}

XG_TEST(http1_over_tls_sends_sni_and_offers_http11)
{
    if (!CHECK(have()))
        return;
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("a.pem"), path("a.key"), "\x08http/1.1"));
    tenv e;
    tenv_init(&e);
    want_proto = XG_UPSTREAM_HTTP1;
    tenv_local(&e, s.port, tls_cluster);
    CHECK(e.rt->tls != NULL);
    rec a, b;
    get(&e, &a, "/ok");
    CHECK(a.ended && a.resp && a.resp->status == 200 && body_is(&a, "hello"));
    get(&e, &b, "/ok");
    CHECK(b.ended && body_is(&b, "hello"));
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    char got[128];
    ts_copy(got, sizeof got, "sni");
    CHECK_STR(got, "example.com");
    ts_copy(got, sizeof got, "alpn");
    CHECK_STR(got, "http/1.1");
    char head[4096];
    h1srv_last_head(&s, head, sizeof head);
    CHECK(strstr(head, "host: example.com\r\n") != NULL);
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(auto_speaks_h2_when_the_server_picks_it)
{
    if (!CHECK(have()))
        return;
    h2srv s;
    h2srv_start_tls(&s, 100, ts_ctx(path("a.pem"), path("a.key"), "\x02h2\x08http/1.1"));
    s.hold_target = 3;
    tenv e;
    tenv_init(&e);
    want_proto = XG_UPSTREAM_AUTO;
    tenv_local(&e, s.port, tls_cluster);
    rec r[3];
    for (int i = 0; i < 3; i++) {
        rec_init(&r[i], &e, "GET", "/hold");
        CHECK_EQ_INT(rec_start(&r[i], true), 0);
    }
    for (int i = 0; i < 3; i++) {
        tenv_run(&e, rec_finished, &r[i], 5);
        CHECK(r[i].ended && body_is(&r[i], "held"));
    }
    CHECK_EQ_INT(atomic_load(&s.conns), 1);
    CHECK_EQ_INT(tenv_pool(&e)->proto, XG_PROTO_HTTP2);
    char got[128];
    ts_copy(got, sizeof got, "alpn");
    CHECK_STR(got, "h2,http/1.1");
    char hd[2048];
    h2srv_last_headers(&s, hd, sizeof hd);
    CHECK(strstr(hd, ":scheme: https\n") != NULL);
    for (int i = 0; i < 3; i++)
        rec_dispose(&r[i]);
    tenv_dispose(&e);
    h2srv_stop(&s);
}

XG_TEST(auto_falls_back_to_http1)
{
    if (!CHECK(have()))
        return;
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("a.pem"), path("a.key"), "\x08http/1.1"));
    tenv e;
    tenv_init(&e);
    want_proto = XG_UPSTREAM_AUTO;
    tenv_local(&e, s.port, tls_cluster);
    rec a;
    get(&e, &a, "/ok");
    CHECK(a.ended && body_is(&a, "hello"));
    CHECK_EQ_INT(tenv_pool(&e)->proto, XG_PROTO_HTTP1);
    char got[128];
    ts_copy(got, sizeof got, "alpn");
    CHECK_STR(got, "h2,http/1.1");
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(untrusted_server_certificate_is_uf)
{
    if (!CHECK(have()))
        return;
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("rogue.pem"), path("rogue.key"), "\x08http/1.1"));
    tenv e;
    tenv_init(&e);
    want_proto = XG_UPSTREAM_HTTP1;
    tenv_local(&e, s.port, tls_cluster);
    rec a;
    get(&e, &a, "/ok");
    CHECK(a.reset && !a.ended);
    CHECK_EQ_INT(a.reason, XG_UPSTREAM_CONNECT_FAILURE);
    CHECK_EQ_INT(xg_upstream_reset_flag(a.reason), XG_RF_UF);
    CHECK_EQ_INT(atomic_load(&s.requests), 0);
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

/* --- SAN matchers and the failure reason --- */

static xg_string_matcher exact(const char *v)
{
    return (xg_string_matcher){.kind = XG_STRING_MATCH_EXACT, .value = v, .len = strlen(v)};
}

XG_TEST(san_matchers_pass_or_fail_with_the_reason)
{
    if (!CHECK(have()))
        return;
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("a.pem"), path("a.key"), "\x08http/1.1"));
    want_proto = XG_UPSTREAM_HTTP1;
    xg_string_matcher good = exact("www.example.com"), bad = exact("other.example.com");
    xg_string_matcher suffix = {.kind = XG_STRING_MATCH_SUFFIX, .value = ".example.com", .len = 12};
    xg_san_matcher m[] = {{XG_SAN_URI, &good}, {XG_SAN_DNS, &good}}; /* the URI one matches nothing: any one will do */
    sans = m;
    n_sans = 2;
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, tls_cluster);
    rec a;
    get(&e, &a, "/ok");
    CHECK(a.ended && body_is(&a, "hello"));
    CHECK(xg_upstream_request_failure(a.r) == NULL);
    rec_dispose(&a);
    tenv_dispose(&e);

    xg_san_matcher m2[] = {{XG_SAN_DNS, &bad}, {XG_SAN_EMAIL, &suffix}};
    sans = m2;
    tenv_init(&e);
    tenv_local(&e, s.port, tls_cluster);
    get(&e, &a, "/ok");
    CHECK(a.reset && !a.ended);
    CHECK_EQ_INT(a.reason, XG_UPSTREAM_CONNECT_FAILURE);
    CHECK_STR(xg_upstream_request_failure(a.r), "CERTIFICATE_VERIFY_FAILED: no subjectAltName matches");
    CHECK_EQ_INT(atomic_load(&s.requests), 1);
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(untrusted_chain_reason)
{
    if (!CHECK(have()))
        return;
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("rogue.pem"), path("rogue.key"), "\x08http/1.1"));
    want_proto = XG_UPSTREAM_HTTP1;
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, tls_cluster);
    rec a;
    get(&e, &a, "/ok");
    CHECK(a.reset && a.reason == XG_UPSTREAM_CONNECT_FAILURE);
    const char *why = xg_upstream_request_failure(a.r);
    CHECK(why != NULL && strncmp(why, "CERTIFICATE_VERIFY_FAILED: ", 27) == 0);
    CHECK(why != NULL && strstr(why, "issuer") != NULL); /* "unable to get local issuer certificate" */
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

/* --- auto_sni and auto_san_validation --- */

static void get_host(tenv *e, rec *c, const char *path, const char *authority)
{
    rec_init(c, e, "GET", path);
    xg_headers_set_pseudo(c->req, ":authority", 10, authority, strlen(authority));
    if (rec_start(c, true) == 0)
        tenv_run(e, rec_finished, c, 5);
}

XG_TEST(auto_sni_sends_the_host_and_keeps_a_pool_per_name)
{
    if (!CHECK(have()))
        return;
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("a.pem"), path("a.key"), "\x08http/1.1"));
    want_proto = XG_UPSTREAM_HTTP1;
    auto_sni = true;
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, tls_cluster);
    rec a, b, c, d;
    char got[128];
    get_host(&e, &a, "/ok", "www.example.com:8443");
    CHECK(a.ended && body_is(&a, "hello"));
    ts_copy(got, sizeof got, "sni");
    CHECK_STR(got, "www.example.com");
    get_host(&e, &b, "/ok", "Example.com");
    CHECK(b.ended);
    ts_copy(got, sizeof got, "sni");
    CHECK_STR(got, "Example.com");
    get_host(&e, &c, "/ok", "www.example.com");
    CHECK(c.ended);
    CHECK_EQ_INT(atomic_load(&s.conns), 2); /* www.example.com's connection was reused */
    get_host(&e, &d, "/ok", "127.0.0.1:443");
    CHECK(d.ended);
    ts_copy(got, sizeof got, "sni");
    CHECK_STR(got, "example.com"); /* an IP host: the context's sni */
    rec_dispose(&a);
    rec_dispose(&b);
    rec_dispose(&c);
    rec_dispose(&d);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(auto_san_validation_checks_the_host)
{
    if (!CHECK(have()))
        return;
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("b.pem"), path("b.key"), "\x08http/1.1")); /* *.wild.test */
    want_proto = XG_UPSTREAM_HTTP1;
    auto_sni = auto_san = true;
    xg_string_matcher never = exact("never.example");
    xg_san_matcher m[] = {{XG_SAN_DNS, &never}}; /* replaced by the host check */
    sans = m;
    n_sans = 1;
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, tls_cluster);
    rec a, b;
    get_host(&e, &a, "/ok", "api.wild.test");
    CHECK(a.ended && body_is(&a, "hello"));
    get_host(&e, &b, "/ok", "wild.test"); /* a wildcard covers one label, not the parent */
    CHECK(b.reset && b.reason == XG_UPSTREAM_CONNECT_FAILURE);
    CHECK_STR(xg_upstream_request_failure(b.r),
              "CERTIFICATE_VERIFY_FAILED: no DNS subjectAltName covers the requested host");
    rec_dispose(&a);
    rec_dispose(&b);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

/* --- client certificates --- */

static void mtls_case(bool with_cert, uint16_t version)
{
    h1srv s;
    SSL_CTX *ctx = ts_ctx(path("a.pem"), path("a.key"), "\x08http/1.1");
    ts_require_client_cert(ctx, path("ca.pem"));
    h1srv_start_tls(&s, ctx);
    want_proto = XG_UPSTREAM_HTTP1;
    with_client_cert = with_cert;
    max_version = version;
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, tls_cluster);
    rec a;
    get(&e, &a, "/ok");
    char got[128];
    if (with_cert) {
        CHECK(a.ended && body_is(&a, "hello"));
        ts_copy(got, sizeof got, "peer_cn");
        CHECK_STR(got, "client");
    } else {
        CHECK(a.reset && !a.ended);
        CHECK_EQ_INT(atomic_load(&s.requests), 0);
        if (version == XG_TLS1_2) { /* the handshake fails: UF, with the server's alert as the reason */
            CHECK_EQ_INT(a.reason, XG_UPSTREAM_CONNECT_FAILURE);
            const char *why = xg_upstream_request_failure(a.r);
            CHECK(why != NULL && strncmp(why, "alert from the upstream: ", 25) == 0);
        }
    }
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

XG_TEST(client_certificate_for_a_server_that_requires_one)
{
    if (!CHECK(have()))
        return;
    mtls_case(true, XG_TLS1_3);
    CHECK(have());
    mtls_case(false, XG_TLS1_3);
    CHECK(have());
    mtls_case(false, XG_TLS1_2);
}

/* --- sessions and versions --- */

static int resumptions(uint32_t keys, uint16_t version, int requests)
{
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("a.pem"), path("a.key"), "\x08http/1.1"));
    want_proto = XG_UPSTREAM_HTTP1;
    session_keys = keys;
    max_version = version;
    max_requests = 1; /* a new connection, and handshake, per request */
    pthread_mutex_lock(&ts_last.mu);
    int before = ts_last.resumed, hs = ts_last.handshakes;
    pthread_mutex_unlock(&ts_last.mu);
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, tls_cluster);
    for (int i = 0; i < requests; i++) {
        rec a;
        get(&e, &a, "/ok");
        CHECK(a.ended && body_is(&a, "hello"));
        rec_dispose(&a);
        tenv_spin(&e, 0.02);
    }
    pthread_mutex_lock(&ts_last.mu);
    int resumed = ts_last.resumed - before;
    CHECK_EQ_INT(ts_last.handshakes - hs, requests);
    pthread_mutex_unlock(&ts_last.mu);
    tenv_dispose(&e);
    h1srv_stop(&s);
    return resumed;
}

XG_TEST(sessions_resume_unless_max_session_keys_is_zero)
{
    if (!CHECK(have()))
        return;
    CHECK_EQ_INT(resumptions(1, XG_TLS1_3, 4), 3); /* every connection after the first */
    CHECK(have());
    CHECK_EQ_INT(resumptions(1, XG_TLS1_2, 4), 3);
    CHECK(have());
    CHECK_EQ_INT(resumptions(0, XG_TLS1_3, 3), 0);
    CHECK(have());
    CHECK_EQ_INT(resumptions(0, XG_TLS1_2, 3), 0);
}

XG_TEST(tls_params_versions_reach_the_handshake)
{
    if (!CHECK(have()))
        return;
    h1srv s;
    h1srv_start_tls(&s, ts_ctx(path("a.pem"), path("a.key"), "\x08http/1.1"));
    want_proto = XG_UPSTREAM_HTTP1;
    max_version = XG_TLS1_2;
    tenv e;
    tenv_init(&e);
    tenv_local(&e, s.port, tls_cluster);
    rec a;
    get(&e, &a, "/ok");
    CHECK(a.ended);
    char got[32];
    ts_copy(got, sizeof got, "version");
    CHECK_STR(got, "TLSv1.2");
    rec_dispose(&a);
    tenv_dispose(&e);
    h1srv_stop(&s);
}

/* --- the per-cluster cache of named clients --- */

XG_TEST(named_clients_are_shared_per_name_and_bounded)
{
    if (!CHECK(have()))
        return;
    tls_cluster(&(xg_cluster){0});
    xg_tls_build b = {.tc = &up_tc};
    xg_tls_client *base = NULL, *other = NULL, *c1, *c2, *c3, *x;
    char err[256];
    if (!CHECK(xg_tls_client_new(&b, &base, err, sizeof err) == 0) ||
        !CHECK(xg_tls_client_new(&b, &other, err, sizeof err) == 0))
        return;
    xg_tls_names *cache = NULL;
    CHECK_EQ_INT(xg_tls_names_get(&cache, base, "a.example", NULL, &c1), 0);
    CHECK_EQ_INT(xg_tls_names_get(&cache, base, "a.example", "a.example", &c2), 0);
    CHECK_EQ_INT(xg_tls_names_get(&cache, base, NULL, "a.example", &c3), 0);
    CHECK(c1 != c2 && c2 != c3 && c1 != c3);
    CHECK_STR(xg_tls_client_sni(c1), "a.example");
    CHECK_STR(xg_tls_client_sni(c3), "example.com"); /* no auto_sni: the context's sni */
    CHECK_EQ_INT(xg_tls_names_get(&cache, base, "a.example", "a.example", &x), 0);
    CHECK(x == c2);
    xg_tls_client_ref(c1); /* as a pool would */
    char name[32];
    for (int i = 0; i < 300; i++) { /* more than the cache keeps: the oldest go first */
        snprintf(name, sizeof name, "h%d.example", i);
        CHECK_EQ_INT(xg_tls_names_get(&cache, base, name, NULL, &x), 0);
    }
    CHECK_EQ_INT(xg_tls_names_get(&cache, base, "h299.example", NULL, &c2), 0);
    CHECK(c2 == x);
    CHECK_EQ_INT(xg_tls_names_get(&cache, base, "a.example", NULL, &x), 0);
    CHECK(x != c1);                                /* evicted, made again */
    CHECK_STR(xg_tls_client_sni(c1), "a.example"); /* the pool's reference keeps the old one alive */
    xg_tls_client_unref(c1);
    CHECK_EQ_INT(xg_tls_names_get(&cache, other, "a.example", NULL, &x), 0); /* a new cluster context: start over */
    CHECK_EQ_INT(xg_tls_names_get(&cache, other, "a.example", NULL, &c2), 0);
    CHECK(c2 == x);
    xg_tls_names_free(cache);
    xg_tls_client_unref(base);
    xg_tls_client_unref(other);
}
