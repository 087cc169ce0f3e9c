/* Unit tests for upstream TLS in the pools (src/upstream/upconn.c with
 * net/connect.h and net/tls_ctx.h), against blocking TLS servers written on
 * the TLS library directly: SNI from UpstreamTlsContext.sni, the ALPN offer
 * following the cluster's protocol choice (http/1.1; h2; AUTO offering both
 * and speaking what the server chose), connection reuse over TLS, and a
 * server the trusted CA does not vouch for failing with UF. */
#include "net/tls_certs.h"
#include "upstream/h1_server.h"
#include "upstream/h2_server.h"
#include "upstream/upstream_util.h"
#include "xg_test.h"

static xg_validation_context vc;
static xg_tls_context up_tc;
static xg_upstream_proto want_proto;

static void tls_cluster(xg_cluster *c)
{
    vc = (xg_validation_context){.trusted_ca = file_ds("ca.pem")};
    up_tc = (xg_tls_context){
        .downstream = false, .sni = "example.com", .max_session_keys = 1, .vc_kind = XG_VC_INLINE, .vc = &vc};
    c->tls = &up_tc;
    c->http.protocol = want_proto;
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
