/* TLS contexts end to end: a throwaway CA and certificates made with the
 * openssl CLI in a temp dir, then real handshakes between a server and a
 * client xg_conn over loopback in one loop: SNI certificate choice
 * (wildcards, default), ALPN (server order, HTTP/1-only listeners), protocol
 * versions, client certificates (required, verified, rejected, SAN
 * matchers), upstream verification, session resumption (and the session ID
 * context: what makes a session resumable elsewhere), rotation keeping old
 * connections, the files a context reads, and connect.c with TLS. Runs in
 * both TLS flavours. */
#include <stdio.h>
#include <stdlib.h>

#include "config/listener.h"
#include "config/matcher.h"
#include "config/secret.h"
#include "core/error.h"
#include "net/conn.h"
#include "net/connect.h"
#include "net/net_test.h"
#include "net/tls_ctx.h"
#include "xg_test.h"

#include "net/tls_certs.h"

static xg_tls_server *server(xg_tls_context *tc, bool http1_only)
{
    xg_tls_build b = {.tc = tc, .http1_only = http1_only};
    xg_tls_server *s = NULL;
    char err[256];
    int rc = xg_tls_server_new(&b, &s, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "server context: %s\n", err);
    return s;
}

static xg_tls_client *client(xg_tls_context *tc)
{
    xg_tls_build b = {.tc = tc};
    xg_tls_client *c = NULL;
    char err[256];
    if (xg_tls_client_new(&b, &c, err, sizeof(err)) != 0)
        fprintf(stderr, "client context: %s\n", err);
    return c;
}

/* --- one side of a handshake --- */

typedef struct side {
    xg_conn *c;
    bool hs, closed, got;
    xg_conn_reason why;
    char data[64];
    size_t len;
} side;

static void s_read(xg_conn *c, void *arg, size_t n)
{
    side *s = arg;
    size_t len;
    const char *p = xg_conn_input(c, &len);
    if (len > 0 && s->len + len < sizeof(s->data)) {
        memcpy(s->data + s->len, p, len);
        s->len += len;
        s->got = true;
    }
    xg_conn_consume(c, len);
}

static void s_hs(xg_conn *c, void *arg)
{
    ((side *)arg)->hs = true;
}

static void s_close(xg_conn *c, void *arg, xg_conn_reason r)
{
    side *s = arg;
    s->closed = true;
    s->why = r;
}

static const xg_conn_cbs side_cbs = {.on_read = s_read, .on_handshake = s_hs, .on_close = s_close};

typedef struct pair {
    xg_loop *loop;
    side srv, cli;
    bool done;
} pair;

static void watch_done(struct ev_loop *ev, ev_check *w, int revents)
{
    pair *p = w->data;
    p->done = (p->srv.hs && p->cli.hs) || p->srv.closed || p->cli.closed;
}

/* Connects a client conn (SNI, ALPN) to a server conn over loopback and runs
 * the handshake. True when both sides completed it. */
static bool handshake(pair *p, xg_loop *loop, xg_tls_server *srv, xg_tls_client *cli, const char *sni,
                      const char *alpn_wire)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    int a, b;
    if (!nt_tcp_pair(&a, &b))
        return false;
    nt_nonblock(b, true);
    xg_conn_new(loop, a, &p->srv.c);
    xg_conn_new(loop, b, &p->cli.c);
    xg_conn_use_tls_server(p->srv.c, srv);
    xg_conn_use_tls_client(p->cli.c, cli, sni, (const uint8_t *)alpn_wire, alpn_wire ? strlen(alpn_wire) : 0);
    xg_conn_set_owner(p->srv.c, &side_cbs, &p->srv);
    xg_conn_set_owner(p->cli.c, &side_cbs, &p->cli);
    xg_conn_start(p->srv.c, 5);
    xg_conn_start(p->cli.c, 5);
    ev_check chk;
    ev_check_init(&chk, watch_done);
    chk.data = p;
    ev_check_start(loop->ev, &chk);
    nt_run_until(loop, &p->done, 5);
    ev_check_stop(loop->ev, &chk);
    return p->srv.hs && p->cli.hs && !p->srv.closed && !p->cli.closed;
}

/* Server says something, the client reads it (TLS 1.3 tickets arrive on the way). */
static bool exchange(pair *p, const char *msg)
{
    p->cli.got = false;
    p->cli.len = 0;
    xg_conn_send(p->srv.c, msg, strlen(msg));
    xg_conn_flush(p->srv.c);
    nt_run_until(p->loop, &p->cli.got, 2);
    nt_run_for(p->loop, 0.01);
    return p->cli.len == strlen(msg) && memcmp(p->cli.data, msg, p->cli.len) == 0;
}

static void finish(pair *p)
{
    if (!p->srv.closed)
        xg_conn_close(p->srv.c, XG_CLOSE_FLUSH);
    if (!p->cli.closed)
        xg_conn_close(p->cli.c, XG_CLOSE_FLUSH);
    p->srv.closed = p->cli.closed = true;
    nt_run_for(p->loop, 0.02);
}

static const char *peer_subject(xg_conn *c, xg_tls_peer *peer)
{
    return xg_conn_peer_cert(c, peer) ? peer->subject : "";
}

static xg_tls_context server_tc(xg_tls_certificate *certs, size_t n)
{
    static const char *alpn[] = {"h2", "http/1.1"};
    return (xg_tls_context){.downstream = true,
                            .certificates = certs,
                            .n_certificates = n,
                            .alpn_protocols = alpn,
                            .n_alpn_protocols = 2,
                            .session_timeout_ms = -1,
                            .ticket_mode = XG_TICKETS_DEFAULT};
}

static xg_tls_context client_tc(void)
{
    return (xg_tls_context){.downstream = false, .max_session_keys = 1};
}

#define SETUP()                                                                                                        \
    make_certs();                                                                                                      \
    if (!CHECK(have_certs))                                                                                            \
        return;                                                                                                        \
    xg_loop loop;                                                                                                      \
    xg_loop_init(&loop, 0)

XG_TEST(sni_selects_certificate)
{
    SETUP();
    xg_tls_certificate certs[2] = {cert("a"), cert("b")};
    xg_tls_context stc = server_tc(certs, 2), ctc = client_tc();
    xg_tls_server *srv = server(&stc, false);
    xg_tls_client *cli = client(&ctc);
    if (!CHECK(srv != NULL && cli != NULL))
        return;
    CHECK_EQ_INT(xg_tls_server_cert_count(srv), 2);
    static const struct {
        const char *sni, *cn;
    } cases[] = {
        {"example.com", "CN=example.com"},   {"www.example.com", "CN=example.com"},
        {"foo.wild.test", "CN=wild"},        {"FOO.Wild.Test", "CN=wild"},
        {"a.b.wild.test", "CN=example.com"}, {"wild.test", "CN=example.com"},
        {"other.org", "CN=example.com"},     {NULL, "CN=example.com"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pair p;
        xg_tls_peer peer;
        CHECK(handshake(&p, &loop, srv, cli, cases[i].sni, NULL));
        if (!CHECK_STR(peer_subject(p.cli.c, &peer), cases[i].cn))
            fprintf(stderr, "  sni %s\n", cases[i].sni ? cases[i].sni : "(none)");
        if (cases[i].sni != NULL)
            CHECK_STR(xg_conn_sni(p.srv.c), cases[i].sni);
        CHECK(!peer.verified);
        finish(&p);
    }
    xg_tls_server_unref(srv);
    xg_tls_client_unref(cli);
    xg_loop_dispose(&loop);
}

static bool alpn_is(xg_conn *c, const char *want)
{
    size_t n;
    const char *p = xg_conn_alpn(c, &n);
    if (want == NULL)
        return p == NULL;
    return p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

XG_TEST(alpn_selection)
{
    SETUP();
    xg_tls_certificate certs[1] = {cert("a")};
    xg_tls_context stc = server_tc(certs, 1), ctc = client_tc();
    xg_tls_server *srv = server(&stc, false), *h1 = server(&stc, true);
    xg_tls_client *cli = client(&ctc);
    static const struct {
        bool http1_only;
        const char *offer, *want;
    } cases[] = {
        {false, "\x08http/1.1\x02h2", "h2"}, /* the server's order wins */
        {false, "\x08http/1.1", "http/1.1"},
        {false, "\x02h3", NULL},
        {false, NULL, NULL},
        {true, "\x02h2\x08http/1.1", "http/1.1"}, /* codec_type HTTP1: never h2 */
        {true, "\x02h2", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pair p;
        CHECK(handshake(&p, &loop, cases[i].http1_only ? h1 : srv, cli, "example.com", cases[i].offer));
        if (!CHECK(alpn_is(p.srv.c, cases[i].want) && alpn_is(p.cli.c, cases[i].want)))
            fprintf(stderr, "  case %zu\n", i);
        finish(&p);
    }
    xg_tls_server_unref(srv);
    xg_tls_server_unref(h1);
    xg_tls_client_unref(cli);
    xg_loop_dispose(&loop);
}

XG_TEST(protocol_versions)
{
    SETUP();
    xg_tls_certificate certs[1] = {cert("a")};
    xg_tls_context stc = server_tc(certs, 1), ctc = client_tc();
    stc.params.min_version = stc.params.max_version = XG_TLS1_2;
    xg_tls_server *s12 = server(&stc, false);
    stc.params.min_version = stc.params.max_version = XG_TLS1_3;
    xg_tls_server *s13 = server(&stc, false);
    xg_tls_client *cli = client(&ctc);
    ctc.params.max_version = XG_TLS1_2;
    xg_tls_client *cli12 = client(&ctc);
    pair p;
    CHECK(handshake(&p, &loop, s12, cli, "example.com", NULL));
    CHECK_STR(xg_conn_tls_version(p.srv.c), "TLSv1.2");
    CHECK(exchange(&p, "over 1.2"));
    finish(&p);
    CHECK(handshake(&p, &loop, s13, cli, "example.com", NULL));
    CHECK_STR(xg_conn_tls_version(p.cli.c), "TLSv1.3");
    finish(&p);
    CHECK(!handshake(&p, &loop, s13, cli12, "example.com", NULL));
    CHECK(p.srv.closed && p.srv.why == XG_CONN_TLS_ERROR);
    finish(&p);
    /* Bad parameters are refused when the context is built. */
    stc.params.min_version = XG_TLS1_3;
    stc.params.max_version = XG_TLS1_2;
    CHECK(server(&stc, false) == NULL);
    xg_tls_server_unref(s12);
    xg_tls_server_unref(s13);
    xg_tls_client_unref(cli);
    xg_tls_client_unref(cli12);
    xg_loop_dispose(&loop);
}

static xg_string_matcher exact(const char *v)
{
    return (xg_string_matcher){.kind = XG_STRING_MATCH_EXACT, .value = v, .len = strlen(v)};
}

XG_TEST(client_certificates)
{
    SETUP();
    xg_tls_certificate certs[1] = {cert("a")};
    xg_string_matcher good = exact("spiffe://client"), bad = exact("spiffe://other");
    xg_san_matcher sans_good[1] = {{XG_SAN_URI, &good}}, sans_bad[1] = {{XG_SAN_URI, &bad}};
    xg_validation_context vc = {.trusted_ca = file_ds("ca.pem")};
    xg_tls_context stc = server_tc(certs, 1);
    stc.require_client_certificate = true;
    stc.vc_kind = XG_VC_INLINE;
    stc.vc = &vc;
    xg_tls_server *plain_ca = server(&stc, false);
    vc.san_matchers = sans_good;
    vc.n_san_matchers = 1;
    xg_tls_server *san_ok = server(&stc, false);
    vc.san_matchers = sans_bad;
    xg_tls_server *san_bad = server(&stc, false);

    xg_tls_certificate ccert[1] = {cert("client")}, rcert[1] = {cert("rogue")};
    xg_tls_context ctc = client_tc();
    xg_tls_client *nocert = client(&ctc);
    ctc.certificates = ccert;
    ctc.n_certificates = 1;
    xg_tls_client *good_cli = client(&ctc);
    ctc.certificates = rcert;
    xg_tls_client *rogue = client(&ctc);
    if (!CHECK(plain_ca && san_ok && san_bad && nocert && good_cli && rogue))
        return;

    pair p;
    xg_tls_peer peer;
    CHECK(handshake(&p, &loop, plain_ca, good_cli, "example.com", NULL));
    CHECK_STR(peer_subject(p.srv.c, &peer), "CN=client");
    CHECK(peer.verified);
    CHECK_STR(peer.uri_san, "spiffe://client");
    CHECK_EQ_INT(strlen(peer.sha256), 64);
    finish(&p);
    CHECK(!handshake(&p, &loop, plain_ca, nocert, "example.com", NULL)); /* required */
    finish(&p);
    CHECK(!handshake(&p, &loop, plain_ca, rogue, "example.com", NULL)); /* untrusted CA */
    CHECK(p.srv.closed && p.srv.why == XG_CONN_TLS_ERROR);
    finish(&p);
    CHECK(handshake(&p, &loop, san_ok, good_cli, "example.com", NULL));
    finish(&p);
    CHECK(!handshake(&p, &loop, san_bad, good_cli, "example.com", NULL)); /* SAN mismatch */
    finish(&p);
    xg_tls_server *all[] = {plain_ca, san_ok, san_bad};
    for (size_t i = 0; i < 3; i++)
        xg_tls_server_unref(all[i]);
    xg_tls_client *cl[] = {nocert, good_cli, rogue};
    for (size_t i = 0; i < 3; i++)
        xg_tls_client_unref(cl[i]);
    xg_loop_dispose(&loop);
}

XG_TEST(upstream_verification)
{
    SETUP();
    xg_tls_certificate certs[2] = {cert("a"), cert("b")};
    xg_tls_context stc = server_tc(certs, 2);
    xg_tls_server *srv = server(&stc, false);
    xg_string_matcher www = exact("www.example.com"), nope = exact("nope.example.com"), wild = exact("x.wild.test");
    xg_san_matcher m_www[1] = {{XG_SAN_DNS, &www}}, m_nope[1] = {{XG_SAN_DNS, &nope}},
                   m_wild[1] = {{XG_SAN_DNS, &wild}};
    xg_validation_context vc = {.trusted_ca = file_ds("ca.pem")}, vc2 = {.trusted_ca = file_ds("ca2.pem")};
    xg_tls_context ctc = client_tc();
    ctc.vc_kind = XG_VC_INLINE;
    ctc.vc = &vc;
    xg_tls_client *ca_only = client(&ctc);
    vc.san_matchers = m_www;
    vc.n_san_matchers = 1;
    xg_tls_client *c_www = client(&ctc);
    vc.san_matchers = m_nope;
    xg_tls_client *c_nope = client(&ctc);
    vc.san_matchers = m_wild;
    xg_tls_client *c_wild = client(&ctc);
    ctc.vc = &vc2;
    xg_tls_client *wrong_ca = client(&ctc);
    if (!CHECK(srv && ca_only && c_www && c_nope && c_wild && wrong_ca))
        return;
    pair p;
    xg_tls_peer peer;
    CHECK(handshake(&p, &loop, srv, ca_only, "example.com", NULL));
    peer_subject(p.cli.c, &peer);
    CHECK(peer.verified);
    CHECK_STR(peer.dns_san, "example.com");
    finish(&p);
    CHECK(handshake(&p, &loop, srv, c_www, "example.com", NULL));
    finish(&p);
    CHECK(!handshake(&p, &loop, srv, c_nope, "example.com", NULL));
    CHECK(p.cli.closed && p.cli.why == XG_CONN_TLS_ERROR);
    finish(&p);
    /* An exact DNS matcher accepts a wildcard SAN that covers it (Envoy's rule). */
    CHECK(handshake(&p, &loop, srv, c_wild, "x.wild.test", NULL));
    finish(&p);
    CHECK(!handshake(&p, &loop, srv, wrong_ca, "example.com", NULL));
    finish(&p);
    xg_tls_server_unref(srv);
    xg_tls_client *cl[] = {ca_only, c_www, c_nope, c_wild, wrong_ca};
    for (size_t i = 0; i < 5; i++)
        xg_tls_client_unref(cl[i]);
    xg_loop_dispose(&loop);
}

static void resumption_case(xg_loop *loop, uint16_t version, xg_ticket_mode mode, bool want_resumed)
{
    xg_tls_certificate certs[1] = {cert("a")};
    xg_tls_context stc = server_tc(certs, 1), ctc = client_tc();
    stc.params.min_version = stc.params.max_version = version;
    stc.ticket_mode = mode;
    stc.disable_stateful_session_resumption = true;
    xg_tls_server *srv = server(&stc, false);
    xg_tls_client *cli = client(&ctc);
    pair p;
    CHECK(handshake(&p, loop, srv, cli, "example.com", NULL));
    CHECK(!xg_conn_tls_resumed(p.cli.c));
    CHECK(exchange(&p, "first"));
    finish(&p);
    CHECK(handshake(&p, loop, srv, cli, "example.com", NULL));
    if (!CHECK(xg_conn_tls_resumed(p.srv.c) == want_resumed && xg_conn_tls_resumed(p.cli.c) == want_resumed))
        fprintf(stderr, "  version %x mode %d\n", version, (int)mode);
    finish(&p);
    xg_tls_server_unref(srv);
    xg_tls_client_unref(cli);
}

XG_TEST(session_resumption)
{
    SETUP();
    resumption_case(&loop, XG_TLS1_3, XG_TICKETS_DEFAULT, true);
    resumption_case(&loop, XG_TLS1_2, XG_TICKETS_DEFAULT, true);
    resumption_case(&loop, XG_TLS1_3, XG_TICKETS_DISABLED, false);
    xg_loop_dispose(&loop);
}

XG_TEST(configured_ticket_keys_survive_rotation)
{
    SETUP();
    static const char key1[81] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    xg_datasource k = {.kind = XG_DS_INLINE, .value = key1, .len = 80};
    xg_ticket_keys keys = {.keys = &k, .n_keys = 1};
    xg_tls_certificate certs[1] = {cert("a")};
    xg_tls_context stc = server_tc(certs, 1), ctc = client_tc();
    stc.ticket_mode = XG_TICKETS_INLINE;
    stc.ticket_keys = &keys;
    xg_tls_server *s1 = server(&stc, false), *s2 = server(&stc, false);
    xg_tls_client *cli = client(&ctc);
    pair p;
    CHECK(handshake(&p, &loop, s1, cli, "example.com", NULL));
    CHECK(exchange(&p, "t"));
    finish(&p);
    /* A new context with the same keys (an SDS rotation) resumes the old session. */
    CHECK(handshake(&p, &loop, s2, cli, "example.com", NULL));
    CHECK(xg_conn_tls_resumed(p.srv.c));
    finish(&p);
    k.len = 79; /* keys are exactly 80 bytes */
    CHECK(server(&stc, false) == NULL);
    xg_tls_server_unref(s1);
    xg_tls_server_unref(s2);
    xg_tls_client_unref(cli);
    xg_loop_dispose(&loop);
}

/* A session from base, then a handshake on other offering it: resumed? */
static bool resumes_on(xg_loop *loop, xg_tls_server *base, xg_tls_server *other, xg_tls_client *cli, bool *ok)
{
    pair p;
    CHECK(handshake(&p, loop, base, cli, "example.com", NULL));
    CHECK(exchange(&p, "ticket"));
    finish(&p);
    *ok = handshake(&p, loop, other, cli, "example.com", NULL);
    bool resumed = *ok && xg_conn_tls_resumed(p.srv.c);
    finish(&p);
    return resumed;
}

/* A resumed session skips the client-certificate check, so every setting
 * that decides it is in the session ID context: after any of them changes
 * the client does a full handshake and its certificate is checked again. */
XG_TEST(session_id_covers_client_validation)
{
    SETUP();
    xg_tls_certificate certs[1] = {cert("a")}, ccert[1] = {cert("client")};
    xg_string_matcher other_uri = exact("spiffe://other");
    xg_san_matcher sans_bad[1] = {{XG_SAN_URI, &other_uri}};
    static uint8_t pin[1][32] = {{1, 2, 3}};
    xg_validation_context base_vc = {.trusted_ca = file_ds("ca.pem")};
    xg_tls_context stc = server_tc(certs, 1), ctc = client_tc();
    stc.require_client_certificate = true;
    stc.vc_kind = XG_VC_INLINE;
    stc.vc = &base_vc;
    ctc.certificates = ccert;
    ctc.n_certificates = 1;
    xg_tls_server *base = server(&stc, false), *same = server(&stc, false);
    xg_tls_client *cli = client(&ctc);
    if (!CHECK(base && same && cli))
        return;
    bool ok;
    CHECK(resumes_on(&loop, base, same, cli, &ok)); /* the control: an equal context resumes */
    static const struct {
        const char *what;
        bool passes; /* the client certificate meets the new rule */
    } cases[] = {
        {"verify_certificate_hash", false},
        {"verify_certificate_spki", false},
        {"SAN matcher", false},
        {"crl", true},
        {"only_verify_leaf_cert_crl", true},
        {"allow_expired_certificate", true},
        {"trust_chain_verification", true},
        {"max_verify_depth", true},
        {"require_client_certificate", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        xg_validation_context vc = base_vc;
        xg_tls_context t = stc;
        t.vc = &vc;
        switch (i) {
        case 0:
            vc.hash_pins = pin, vc.n_hash_pins = 1;
            break;
        case 1:
            vc.spki_pins = pin, vc.n_spki_pins = 1;
            break;
        case 2:
            vc.san_matchers = sans_bad, vc.n_san_matchers = 1;
            break;
        case 3:
            vc.crl = file_ds("ca.crl");
            break;
        case 4:
            vc.crl = file_ds("ca.crl"), vc.only_verify_leaf_cert_crl = true;
            break;
        case 5:
            vc.allow_expired_certificate = true;
            break;
        case 6:
            vc.trust_chain = XG_TRUST_ACCEPT_UNTRUSTED;
            break;
        case 7:
            vc.has_max_verify_depth = true, vc.max_verify_depth = 5;
            break;
        default:
            t.require_client_certificate = false;
        }
        xg_tls_server *srv = server(&t, false);
        if (!CHECK(srv != NULL))
            continue;
        bool resumed = resumes_on(&loop, base, srv, cli, &ok);
        if (!CHECK(!resumed) || !CHECK(ok == cases[i].passes))
            fprintf(stderr, "  %s: resumed %d, handshake %d\n", cases[i].what, resumed, ok);
        xg_tls_server_unref(srv);
    }
    xg_tls_server_unref(base);
    xg_tls_server_unref(same);
    xg_tls_client_unref(cli);
    xg_loop_dispose(&loop);
}

/* The server's identity in the session ID context is its certificates'
 * names, not their keys (as Envoy): a renewed certificate keeps sessions;
 * other names, or another filter chain's server_names, do not. */
XG_TEST(renewed_certificate_keeps_sessions)
{
    SETUP();
    xg_tls_certificate a[1] = {cert("a")}, a2[1] = {cert("a2")}, b[1] = {cert("b")};
    xg_tls_context t1 = server_tc(a, 1), t2 = server_tc(a2, 1), t3 = server_tc(b, 1), ctc = client_tc();
    xg_server_name names[1] = {{{"example.com", 11}, false}};
    xg_tls_build chain_b = {.tc = &t1, .server_names = names, .n_server_names = 1};
    xg_tls_server *s1 = server(&t1, false), *s2 = server(&t2, false), *s3 = server(&t3, false), *s4 = NULL;
    char err[256];
    CHECK_EQ_INT(xg_tls_server_new(&chain_b, &s4, err, sizeof(err)), 0);
    xg_tls_client *cli = client(&ctc);
    if (!CHECK(s1 && s2 && s3 && s4 && cli))
        return;
    bool ok;
    CHECK(resumes_on(&loop, s1, s2, cli, &ok));
    CHECK(!resumes_on(&loop, s1, s3, cli, &ok) && ok);
    CHECK(!resumes_on(&loop, s1, s4, cli, &ok) && ok);
    xg_tls_server *all[] = {s1, s2, s3, s4};
    for (size_t i = 0; i < 4; i++)
        xg_tls_server_unref(all[i]);
    xg_tls_client_unref(cli);
    xg_loop_dispose(&loop);
}

typedef struct seen_paths {
    const char *file[8];
    int n;
} seen_paths;

static void note_path(void *arg, const char *file)
{
    seen_paths *s = arg;
    if (s->n < 8)
        s->file[s->n++] = file;
}

static xg_res *one_secret(void *arg, const char *name)
{
    xg_res *r = arg;
    return strcmp(name, ((const xg_secret *)r->body)->name) == 0 ? r : NULL;
}

/* The files a context reads, for the file watch: inline certificates, SDS
 * ones (a missing secret is skipped), the validation context's CA and CRL;
 * inline and environment sources are not files. */
XG_TEST(build_paths_for_the_file_watch)
{
    SETUP();
    xg_tls_certificate certs[2] = {cert("a"), cert("b")};
    certs[1].private_key = (xg_datasource){.kind = XG_DS_INLINE, .value = "k", .len = 1};
    xg_validation_context vc = {.trusted_ca = file_ds("ca.pem"), .crl = file_ds("ca.crl")};
    xg_sds_ref refs[2] = {{.name = "sds"}, {.name = "missing"}};
    xg_tls_context stc = server_tc(certs, 2);
    stc.vc_kind = XG_VC_INLINE;
    stc.vc = &vc;
    stc.certificate_sds = refs;
    stc.n_certificate_sds = 2;
    xg_res *r = xg_res_new(XG_RES_SECRET, "sds");
    xg_secret *sec = xg_arena_calloc(&r->arena, 1, sizeof(*sec));
    *sec = (xg_secret){.name = "sds", .kind = XG_SECRET_TLS_CERTIFICATE};
    sec->tls_certificate = cert("a2");
    r->body = sec;
    xg_tls_build b = {.tc = &stc, .find = one_secret, .find_arg = r};
    seen_paths sp = {0};
    xg_tls_build_paths(&b, note_path, &sp);
    static const char *const want[] = {"a.pem", "a.key", "b.pem", "a2.pem", "a2.key", "ca.pem", "ca.crl"};
    if (CHECK_EQ_INT(sp.n, 7))
        for (int i = 0; i < 7; i++)
            CHECK_STR(sp.file[i], path(want[i]));
    xg_res_unref(r);
    xg_loop_dispose(&loop);
}

XG_TEST(rotation_keeps_established_connections)
{
    SETUP();
    xg_tls_certificate ca[1] = {cert("a")}, cb[1] = {cert("b")};
    xg_tls_context t1 = server_tc(ca, 1), t2 = server_tc(cb, 1), ctc = client_tc();
    xg_tls_server *s1 = server(&t1, false);
    xg_tls_client *cli = client(&ctc);
    pair old;
    CHECK(handshake(&old, &loop, s1, cli, "example.com", NULL));
    /* Rotate: the old context loses its last outside reference. */
    xg_tls_server *s2 = server(&t2, false);
    xg_tls_server_unref(s1);
    pair fresh;
    xg_tls_peer peer;
    CHECK(handshake(&fresh, &loop, s2, cli, "x.wild.test", NULL));
    CHECK_STR(peer_subject(fresh.cli.c, &peer), "CN=wild");
    CHECK(exchange(&old, "still here"));
    CHECK_STR(peer_subject(old.cli.c, &peer), "CN=example.com");
    finish(&old);
    finish(&fresh);
    xg_tls_server_unref(s2);
    xg_tls_client_unref(cli);
    xg_loop_dispose(&loop);
}

XG_TEST(bad_material_is_reported)
{
    SETUP();
    xg_tls_certificate mixed = {.certificate_chain = file_ds("a.pem"), .private_key = file_ds("b.key")};
    xg_tls_context stc = server_tc(&mixed, 1);
    xg_tls_build b = {.tc = &stc};
    xg_tls_server *s = NULL;
    char err[256];
    CHECK_EQ_INT(xg_tls_server_new(&b, &s, err, sizeof(err)), XG_EINVAL);
    if (!CHECK(strstr(err, "tls_certificates[0].private_key: does not match") != NULL))
        fprintf(stderr, "  got: %s\n", err);
    xg_tls_certificate missing = {.certificate_chain = file_ds("nope.pem"), .private_key = file_ds("a.key")};
    stc.certificates = &missing;
    CHECK_EQ_INT(xg_tls_server_new(&b, &s, err, sizeof(err)), XG_EINVAL);
    CHECK(strstr(err, "cannot read") != NULL);
    stc.n_certificates = 0;
    CHECK_EQ_INT(xg_tls_server_new(&b, &s, err, sizeof(err)), XG_EINVAL);
    xg_sds_ref sds = {.name = "missing"};
    stc.certificate_sds = &sds;
    stc.n_certificate_sds = 1;
    CHECK_EQ_INT(xg_tls_server_new(&b, &s, err, sizeof(err)), XG_ENOENT);
    CHECK(strstr(err, "'missing'") != NULL);
    xg_loop_dispose(&loop);
}

/* --- connect.c with TLS --- */

typedef struct acceptor {
    xg_loop *loop;
    int lfd;
    ev_io io;
    xg_tls_server *srv;
    side s;
} acceptor;

static void on_acc(struct ev_loop *ev, ev_io *w, int revents)
{
    acceptor *a = w->data;
    int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    xg_conn_new(a->loop, fd, &a->s.c);
    xg_conn_use_tls_server(a->s.c, a->srv);
    xg_conn_set_owner(a->s.c, &side_cbs, &a->s);
    xg_conn_start(a->s.c, 5);
    ev_io_stop(ev, w);
}

typedef struct result {
    bool done;
    int status;
    xg_conn *c;
} result;

static void on_connected(xg_conn *c, int status, void *arg)
{
    result *r = arg;
    r->done = true;
    r->status = status;
    r->c = c;
}

XG_TEST(connect_with_tls)
{
    SETUP();
    xg_tls_certificate certs[1] = {cert("a")};
    xg_tls_context stc = server_tc(certs, 1), ctc = client_tc();
    xg_validation_context vc = {.trusted_ca = file_ds("ca.pem")}, vc2 = {.trusted_ca = file_ds("ca2.pem")};
    ctc.vc_kind = XG_VC_INLINE;
    ctc.vc = &vc;
    acceptor a = {.loop = &loop, .lfd = nt_listen4(8), .srv = server(&stc, false)};
    xg_tls_client *cli = client(&ctc);
    ctc.vc = &vc2;
    xg_tls_client *bad = client(&ctc);
    nt_nonblock(a.lfd, true);
    ev_io_init(&a.io, on_acc, a.lfd, EV_READ);
    a.io.data = &a;
    struct sockaddr_in sa = nt_addr4(nt_port_of(a.lfd));
    for (int round = 0; round < 2; round++) {
        ev_io_start(loop.ev, &a.io);
        result r = {0};
        xg_connect *req;
        xg_connect_opts o = {.timeout = 5,
                             .tls = round == 0 ? cli : bad,
                             .sni = "example.com",
                             .alpn = (const uint8_t *)"\x02h2",
                             .alpn_len = 3};
        CHECK_EQ_INT(xg_connect_start(&loop, (struct sockaddr *)&sa, sizeof(sa), &o, on_connected, &r, &req), 0);
        CHECK(nt_run_until(&loop, &r.done, 5));
        if (round == 0) {
            CHECK_EQ_INT(r.status, 0);
            CHECK(r.c != NULL && alpn_is(r.c, "h2"));
            if (r.c != NULL)
                xg_conn_close(r.c, XG_CLOSE_ABORT);
        } else {
            CHECK_EQ_INT(r.status, -EPROTO);
            CHECK(r.c == NULL);
        }
        if (a.s.c != NULL && !a.s.closed)
            xg_conn_close(a.s.c, XG_CLOSE_ABORT);
        a.s = (side){0};
        nt_run_for(&loop, 0.02);
    }
    close(a.lfd);
    xg_tls_server_unref(a.srv);
    xg_tls_client_unref(cli);
    xg_tls_client_unref(bad);
    xg_loop_dispose(&loop);
}

XG_TEST(dns_match_rules)
{
    CHECK(xg_tls_dns_match("*.a.com", 7, "x.a.com", 7));
    CHECK(xg_tls_dns_match("*.a.com", 7, "X.A.COM", 7));
    CHECK(!xg_tls_dns_match("*.a.com", 7, "a.com", 5));
    CHECK(!xg_tls_dns_match("*.a.com", 7, "y.x.a.com", 9));
    CHECK(!xg_tls_dns_match("*.a.com", 7, ".a.com", 6));
    CHECK(xg_tls_dns_match("a.com", 5, "A.com", 5));
    CHECK(!xg_tls_dns_match("a.com", 5, "b.com", 5));
}
