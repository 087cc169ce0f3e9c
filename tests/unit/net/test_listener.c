/* Listeners: filter-chain selection (table-driven, Envoy's order and its
 * no-backtracking rule), the ClientHello parser (real hellos, prefixes,
 * fragmentation, garbage), per-worker SO_REUSEPORT sockets and their
 * adoption across sets, and end to end on one worker: plain and TLS chains
 * chosen by the tls_inspector (SNI, ALPN, raw_buffer), the global
 * connection limit and the connection_limit filter (shared by workers, kept
 * across updates, delay, disabled), the inspector timeout, and listener
 * updates (drain, removal). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "config/resource.h"
#include "core/error.h"
#include "net/listener.h"
#include "net/listener_int.h"
#include "net/net_test.h"
#include "net/tls_certs.h"
#include "xg_test.h"

/* --- selection --- */

static struct sockaddr_in sin4(const char *ip, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static xg_cidr cidr4(const char *ip, uint8_t len)
{
    xg_cidr c = {.family = AF_INET, .prefix_len = len};
    inet_pton(AF_INET, ip, c.addr);
    return c;
}

static xg_server_name sname(const char *s)
{
    bool wild = s[0] == '*';
    const char *n = wild ? s + 1 : s;
    return (xg_server_name){{n, strlen(n)}, wild};
}

typedef struct sel_case {
    const char *local, *peer;
    uint16_t lport, pport;
    const char *sni;
    xg_transport_proto tp;
    const char *alpn1, *alpn2;
    int want; /* chain index, -1 default chain, -2 none */
} sel_case;

static void run_cases(xg_filter_chain *chains, size_t n, bool with_default, const sel_case *cases, size_t nc)
{
    xg_filter_chain dflt = {.name = "default", .index = -1};
    for (size_t i = 0; i < n; i++)
        chains[i].index = (int)i;
    xg_listener l = {.name = "t", .chains = chains, .n_chains = n, .default_chain = with_default ? &dflt : NULL};
    for (size_t i = 0; i < nc; i++) {
        const sel_case *c = &cases[i];
        struct sockaddr_in lo = sin4(c->local ? c->local : "127.0.0.1", c->lport ? c->lport : 80);
        struct sockaddr_in pe = sin4(c->peer ? c->peer : "127.0.0.1", c->pport ? c->pport : 5555);
        xg_lstr alpn[2] = {{c->alpn1, c->alpn1 ? strlen(c->alpn1) : 0}, {c->alpn2, c->alpn2 ? strlen(c->alpn2) : 0}};
        xg_conn_facts f = {.local = (struct sockaddr *)&lo,
                           .peer = (struct sockaddr *)&pe,
                           .sni = c->sni,
                           .sni_len = c->sni ? strlen(c->sni) : 0,
                           .transport = c->tp ? c->tp : XG_TRANSPORT_RAW_BUFFER,
                           .alpn = alpn,
                           .n_alpn = c->alpn2   ? 2
                                     : c->alpn1 ? 1
                                                : 0};
        const xg_filter_chain *got = xg_listener_select(&l, &f);
        int gi = got == NULL ? -2 : got->index;
        if (!CHECK_EQ_INT(gi, c->want))
            fprintf(stderr, "  case %zu (sni %s)\n", i, c->sni ? c->sni : "-");
    }
}

XG_TEST(select_server_names)
{
    xg_server_name n0[] = {sname("example.com")}, n1[] = {sname("*.example.com")}, n2[] = {sname("*.b.example.com")};
    xg_filter_chain chains[4] = {
        {.match = {.server_names = n0, .n_server_names = 1}},
        {.match = {.server_names = n1, .n_server_names = 1}},
        {.match = {.server_names = n2, .n_server_names = 1}},
        {.match = {0}},
    };
    static const sel_case cases[] = {
        {.sni = "example.com", .want = 0},     {.sni = "EXAMPLE.com", .want = 0},
        {.sni = "a.example.com", .want = 1},   {.sni = "x.y.example.com", .want = 1}, /* any depth, as Envoy */
        {.sni = "x.b.example.com", .want = 2}, {.sni = "b.example.com", .want = 1},
        {.sni = "other.org", .want = 3},       {.sni = NULL, .want = 3},
        {.sni = "xexample.com", .want = 3},
    };
    run_cases(chains, 4, false, cases, sizeof(cases) / sizeof(cases[0]));
}

XG_TEST(select_port_has_no_backtracking)
{
    xg_server_name a[] = {sname("a.com")}, b[] = {sname("b.com")};
    xg_filter_chain chains[2] = {
        {.match = {.destination_port = 443, .server_names = a, .n_server_names = 1}},
        {.match = {.server_names = b, .n_server_names = 1}},
    };
    static const sel_case cases[] = {
        {.lport = 443, .sni = "a.com", .want = 0},
        {.lport = 443, .sni = "b.com", .want = -1}, /* port 443 chains only: no match, default chain */
        {.lport = 80, .sni = "b.com", .want = 1},
        {.lport = 80, .sni = "a.com", .want = -1},
    };
    run_cases(chains, 2, true, cases, sizeof(cases) / sizeof(cases[0]));
}

XG_TEST(select_prefix_ranges)
{
    xg_cidr r0[] = {cidr4("10.0.0.0", 8)}, r1[] = {cidr4("10.1.0.0", 16), cidr4("172.16.0.0", 12)};
    xg_filter_chain chains[3] = {
        {.match = {.prefix_ranges = r0, .n_prefix_ranges = 1}},
        {.match = {.prefix_ranges = r1, .n_prefix_ranges = 2}},
        {.match = {0}},
    };
    static const sel_case cases[] = {
        {.local = "10.1.2.3", .want = 1},
        {.local = "10.2.0.1", .want = 0},
        {.local = "172.20.0.1", .want = 1},
        {.local = "192.168.0.1", .want = 2},
    };
    run_cases(chains, 3, false, cases, sizeof(cases) / sizeof(cases[0]));
}

XG_TEST(select_transport_and_alpn)
{
    xg_lstr h2[] = {{"h2", 2}};
    xg_filter_chain chains[3] = {
        {.match = {.transport = XG_TRANSPORT_TLS, .alpn = h2, .n_alpn = 1}},
        {.match = {.transport = XG_TRANSPORT_TLS}},
        {.match = {.transport = XG_TRANSPORT_RAW_BUFFER}},
    };
    static const sel_case cases[] = {
        {.tp = XG_TRANSPORT_TLS, .alpn1 = "http/1.1", .alpn2 = "h2", .want = 0},
        {.tp = XG_TRANSPORT_TLS, .alpn1 = "http/1.1", .want = 1},
        {.tp = XG_TRANSPORT_TLS, .want = 1},
        {.tp = XG_TRANSPORT_RAW_BUFFER, .want = 2},
    };
    run_cases(chains, 3, false, cases, sizeof(cases) / sizeof(cases[0]));
}

XG_TEST(select_source_type_prefix_port)
{
    xg_filter_chain st[2] = {
        {.match = {.source_type = XG_SOURCE_SAME_IP_OR_LOOPBACK}},
        {.match = {.source_type = XG_SOURCE_EXTERNAL}},
    };
    static const sel_case st_cases[] = {
        {.peer = "127.0.0.1", .want = 0},
        {.peer = "8.8.8.8", .local = "10.0.0.1", .want = 1},
        {.peer = "10.0.0.1", .local = "10.0.0.1", .want = 0},
    };
    run_cases(st, 2, false, st_cases, sizeof(st_cases) / sizeof(st_cases[0]));

    xg_cidr p16[] = {cidr4("192.168.0.0", 16)}, p24[] = {cidr4("192.168.1.0", 24)};
    uint16_t ports[] = {1000};
    xg_filter_chain sp[3] = {
        {.match =
             {.source_prefix_ranges = p16, .n_source_prefix_ranges = 1, .source_ports = ports, .n_source_ports = 1}},
        {.match = {.source_prefix_ranges = p16, .n_source_prefix_ranges = 1}},
        {.match = {.source_prefix_ranges = p24, .n_source_prefix_ranges = 1}},
    };
    static const sel_case sp_cases[] = {
        {.peer = "192.168.1.5", .pport = 1000, .want = 2},
        {.peer = "192.168.2.5", .pport = 1000, .want = 0},
        {.peer = "192.168.2.5", .pport = 2000, .want = 1},
        {.peer = "10.0.0.1", .want = -2},
    };
    run_cases(sp, 3, false, sp_cases, sizeof(sp_cases) / sizeof(sp_cases[0]));
}

/* --- the ClientHello parser --- */

static size_t make_hello(uint8_t *out, size_t cap, const char *sni, const char *alpn_wire)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    SSL *ssl = SSL_new(ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    if (sni != NULL)
        SSL_set_tlsext_host_name(ssl, sni);
    if (alpn_wire != NULL)
        SSL_set_alpn_protos(ssl, (const uint8_t *)alpn_wire, (unsigned)strlen(alpn_wire));
    SSL_set_connect_state(ssl);
    SSL_do_handshake(ssl);
    int n = BIO_read(wb, out, (int)cap);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return n > 0 ? (size_t)n : 0;
}

XG_TEST(client_hello_parse)
{
    static uint8_t buf[8192];
    size_t n = make_hello(buf, sizeof(buf), "Foo.Example.COM", "\x02h2\x08http/1.1");
    if (!CHECK(n > 50))
        return;
    xg_client_hello h;
    CHECK_EQ_INT(xg_client_hello_parse(buf, n, &h), 1);
    CHECK(h.is_tls);
    CHECK_STR(h.sni, "foo.example.com");
    CHECK_EQ_INT(h.n_alpn, 2);
    CHECK(h.n_alpn == 2 && h.alpn[0].len == 2 && memcmp(h.alpn[0].s, "h2", 2) == 0);
    CHECK(h.n_alpn == 2 && h.alpn[1].len == 8 && memcmp(h.alpn[1].s, "http/1.1", 8) == 0);
    /* Every proper prefix asks for more. */
    bool all_more = true;
    for (size_t k = 0; k < n; k++)
        all_more &= xg_client_hello_parse(buf, k, &h) == 0;
    CHECK(all_more);
    /* The same hello split over two records. */
    static uint8_t two[8300];
    size_t body = n - 5, first = body / 2;
    memcpy(two, buf, 5);
    two[3] = (uint8_t)(first >> 8), two[4] = (uint8_t)first;
    memcpy(two + 5, buf + 5, first);
    memcpy(two + 5 + first, buf, 5);
    two[5 + first + 3] = (uint8_t)((body - first) >> 8), two[5 + first + 4] = (uint8_t)(body - first);
    memcpy(two + 10 + first, buf + 5 + first, body - first);
    CHECK_EQ_INT(xg_client_hello_parse(two, n + 5, &h), 1);
    CHECK_STR(h.sni, "foo.example.com");
    /* No SNI, no ALPN. */
    n = make_hello(buf, sizeof(buf), NULL, NULL);
    CHECK_EQ_INT(xg_client_hello_parse(buf, n, &h), 1);
    CHECK(h.is_tls && h.sni_len == 0 && h.n_alpn == 0);
}

XG_TEST(client_hello_rejects_garbage)
{
    xg_client_hello h;
    const char *get = "GET / HTTP/1.1\r\n";
    CHECK_EQ_INT(xg_client_hello_parse((const uint8_t *)get, strlen(get), &h), 1);
    CHECK(!h.is_tls);
    const uint8_t pri[] = "PRI * HTTP/2.0";
    CHECK_EQ_INT(xg_client_hello_parse(pri, sizeof(pri) - 1, &h), 1);
    CHECK(!h.is_tls);
    const uint8_t zero_len[] = {0x16, 3, 1, 0, 0};
    CHECK_EQ_INT(xg_client_hello_parse(zero_len, 5, &h), XG_EINVAL);
    const uint8_t not_hello[] = {0x16, 3, 1, 0, 4, 2, 0, 0, 0};
    CHECK_EQ_INT(xg_client_hello_parse(not_hello, sizeof(not_hello), &h), XG_EINVAL);
    /* A real hello with one length inflated: rejected, never over-read. */
    static uint8_t buf[8192];
    size_t n = make_hello(buf, sizeof(buf), "a.com", "\x02h2");
    buf[5 + 4 + 2 + 32] = 0xff; /* session id length */
    int rc = xg_client_hello_parse(buf, n, &h);
    CHECK(rc == XG_EINVAL || rc == 1);
    /* Random bytes behind a plausible header (ASan watches the reads). */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint8_t junk[600] = {0x16, 3, 1, 2, 0x50, 1, 0, 2, 0x4c};
        size_t len = 9 + (size_t)(rand() % 591);
        for (size_t k = 9; k < len; k++)
            junk[k] = (uint8_t)(rand() % 4 == 0 ? 0xff : rand());
        rc = xg_client_hello_parse(junk, len, &h);
        if (!CHECK(rc == 0 || rc == 1 || rc == XG_EINVAL))
            break;
    }
}

/* --- building listeners --- */

static xg_res *make_listener(const char *name, uint16_t port, xg_filter_chain *chains, size_t n, bool inspector)
{
    xg_res *r = xg_res_new(XG_RES_LISTENER, name);
    xg_listener *l = xg_arena_calloc(&r->arena, 1, sizeof(*l));
    xg_listener_addr *a = xg_arena_calloc(&r->arena, 1, sizeof(*a));
    struct sockaddr_in sa = nt_addr4(port);
    memcpy(&a->ss, &sa, sizeof(sa));
    a->len = sizeof(sa);
    snprintf(a->text, sizeof(a->text), "127.0.0.1:%u", port);
    xg_filter_chain *v = xg_arena_calloc(&r->arena, n, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = chains[i];
        v[i].index = (int)i;
    }
    *l = (xg_listener){.name = xg_arena_strdup(&r->arena, name),
                       .addrs = a,
                       .n_addrs = 1,
                       .chains = v,
                       .n_chains = n,
                       .tls_inspector = inspector,
                       .listener_filters_timeout_ms = 15000,
                       .enable_reuse_port = true,
                       .per_connection_buffer_limit_bytes = 32768};
    r->body = l;
    return r;
}

XG_TEST(sockets_per_worker_and_adoption)
{
    xg_listener_mgr *m;
    CHECK_EQ_INT(xg_listener_mgr_new(2, NULL, &m), 0);
    uint16_t port = nt_free_port();
    xg_filter_chain plain = {.name = "plain"};
    xg_res *r1 = make_listener("l1", port, &plain, 1, false);
    xg_listener_set *s1, *s2, *s3;
    char err[256];
    if (!CHECK_EQ_INT(xg_listener_mgr_build_from(m, &r1, 1, NULL, NULL, &s1, err, sizeof(err)), 0))
        return;
    xg__lsock *k1 = s1->v[0].socks[0];
    CHECK_EQ_INT(k1->n, 2);
    CHECK(k1->fds[0] != k1->fds[1]);
    CHECK_EQ_INT(nt_port_of(k1->fds[0]), port);
    CHECK_EQ_INT(nt_port_of(k1->fds[1]), port);
    /* A new Listener resource on the same address adopts the sockets. */
    xg_res *r2 = make_listener("l1", port, &plain, 1, false);
    CHECK_EQ_INT(xg_listener_mgr_build_from(m, &r2, 1, NULL, NULL, &s2, err, sizeof(err)), 0);
    CHECK(s2->v[0].socks[0] == k1);
    /* An address someone else holds is an error naming it. */
    int other = nt_listen4(1);
    xg_res *r3 = make_listener("busy", nt_port_of(other), &plain, 1, false);
    CHECK(xg_listener_mgr_build_from(m, &r3, 1, NULL, NULL, &s3, err, sizeof(err)) < 0);
    CHECK(strstr(err, "listener \"busy\": 127.0.0.1:") != NULL && strstr(err, "in use") != NULL);
    close(other);
    /* Two listeners on one address in one snapshot: refused. */
    xg_res *dup[2] = {r1, r2};
    CHECK_EQ_INT(xg_listener_mgr_build_from(m, dup, 2, NULL, NULL, &s3, err, sizeof(err)), XG_EEXIST);
    CHECK(strstr(err, "is already used by listener \"l1\"") != NULL);
    xg_listener_set_unref(s1);
    xg_listener_set_unref(s2);
    xg_res_unref(r1);
    xg_res_unref(r2);
    xg_res_unref(r3);
    xg_listener_mgr_free(m);
}

/* --- one worker, end to end --- */

typedef struct upper {
    xg_conn *c[8];
    const xg_filter_chain *chain[8];
    int n;
    bool got, drained, closed;
    char data[64];
    size_t len;
    xg_conn_reason why;
} upper;

static void up_read(xg_conn *c, void *arg, size_t n)
{
    upper *u = arg;
    size_t len;
    const char *p = xg_conn_input(c, &len);
    if (u->len + len < sizeof(u->data)) {
        memcpy(u->data + u->len, p, len);
        u->len += len;
    }
    xg_conn_consume(c, len);
    u->got = true;
}

static void up_drain(xg_conn *c, void *arg)
{
    ((upper *)arg)->drained = true;
}

static void up_close(xg_conn *c, void *arg, xg_conn_reason r)
{
    upper *u = arg;
    u->closed = true;
    u->why = r;
}

static const xg_conn_cbs up_cbs = {.on_read = up_read, .on_drain = up_drain, .on_close = up_close};

static void on_conn(xg_conn *c, const xg_filter_chain *chain, void *arg)
{
    upper *u = arg;
    if (u->n < 8) {
        u->c[u->n] = c;
        u->chain[u->n++] = chain;
    }
    xg_conn_set_owner(c, &up_cbs, u);
}

static bool got_n(upper *u, int n)
{
    return u->n >= n;
}

static int connect4(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = nt_addr4(port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void run_until_n(xg_loop *loop, upper *u, int n, double secs)
{
    double end = ev_time() + secs;
    while (!got_n(u, n) && ev_time() < end)
        nt_run_for(loop, 0.01);
}

typedef struct world {
    xg_loop loop;
    xg_listener_mgr *m;
    xg_listeners *ls;
    upper u;
    uint16_t port;
} world;

static bool world_init(world *w, const xg_listener_opts *o)
{
    memset(w, 0, sizeof(*w));
    w->port = nt_free_port();
    return xg_loop_init(&w->loop, 0) == 0 && xg_listener_mgr_new(1, o, &w->m) == 0 &&
           xg_listeners_new(&w->loop, 0, on_conn, &w->u, &w->ls) == 0;
}

static bool world_apply(world *w, xg_res **r, size_t n)
{
    xg_listener_set *s;
    char err[256];
    int rc = xg_listener_mgr_build_from(w->m, r, n, NULL, NULL, &s, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "build: %s\n", err);
        return false;
    }
    xg_listeners_apply(w->ls, s);
    xg_listener_set_unref(s);
    return true;
}

static void world_free(world *w)
{
    xg_listeners_free(w->ls);
    xg_listener_mgr_free(w->m);
    nt_run_for(&w->loop, 0.01);
    xg_loop_dispose(&w->loop);
}

XG_TEST(plain_accept_and_handoff)
{
    world w;
    if (!CHECK(world_init(&w, NULL)))
        return;
    xg_filter_chain plain = {.name = "plain"};
    xg_res *r = make_listener("web", w.port, &plain, 1, false);
    CHECK(world_apply(&w, &r, 1));
    int fd = connect4(w.port);
    CHECK(fd >= 0 && write(fd, "hello", 5) == 5);
    run_until_n(&w.loop, &w.u, 1, 2);
    if (!CHECK_EQ_INT(w.u.n, 1))
        return;
    CHECK(w.u.chain[0] != NULL && w.u.chain[0]->index == 0);
    CHECK(w.u.c[0]->chain == w.u.chain[0]);
    /* No setsockopt per connection: TCP_NODELAY comes from the listening socket. */
    int nodelay = 0;
    socklen_t nl = sizeof(nodelay);
    CHECK(getsockopt(w.u.c[0]->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nl) == 0 && nodelay == 1);
    nt_run_until(&w.loop, &w.u.got, 1);
    CHECK_EQ_INT(w.u.len, 5);
    CHECK_EQ_INT(xg_listeners_active(w.ls, "web"), 1);
    CHECK_EQ_INT(xg_listeners_stats(w.ls).handed_off, 1);
    close(fd);
    world_free(&w);
    xg_res_unref(r);
}

/* Two workers' tables on one loop (the kernel spreads connections over
 * their SO_REUSEPORT sockets): limits are shared by both. */
typedef struct world2 {
    world w;
    xg_listeners *ls2;
} world2;

static bool world2_init(world2 *d, const xg_listener_opts *o)
{
    memset(d, 0, sizeof(*d));
    world *w = &d->w;
    w->port = nt_free_port();
    return xg_loop_init(&w->loop, 0) == 0 && xg_listener_mgr_new(2, o, &w->m) == 0 &&
           xg_listeners_new(&w->loop, 0, on_conn, &w->u, &w->ls) == 0 &&
           xg_listeners_new(&w->loop, 1, on_conn, &w->u, &d->ls2) == 0;
}

static bool world2_apply(world2 *d, xg_res **r, size_t n)
{
    xg_listener_set *s;
    char err[256];
    if (xg_listener_mgr_build_from(d->w.m, r, n, NULL, NULL, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "build: %s\n", err);
        return false;
    }
    xg_listeners_apply(d->w.ls, s);
    xg_listeners_apply(d->ls2, s);
    xg_listener_set_unref(s);
    return true;
}

static void world2_free(world2 *d)
{
    xg_listeners_free(d->ls2);
    world_free(&d->w);
}

static uint64_t limited(world2 *d)
{
    return xg_listeners_stats(d->w.ls).limited + xg_listeners_stats(d->ls2).limited;
}

/* Connects n clients, one after the other, letting the loop accept each. */
static void connect_n(world *w, int *fds, int n, uint16_t port)
{
    for (int i = 0; i < n; i++) {
        fds[i] = connect4(port);
        nt_run_for(&w->loop, 0.03);
    }
}

/* True when the peer closed fd within secs (EOF or reset, nothing read). */
static bool closed_by_peer(int fd, double secs)
{
    char b[4];
    bool eof = false;
    return nt_read_some(fd, b, sizeof(b), secs, &eof) == 0 && eof;
}

static xg_conn_limit_cfg climit(uint64_t max, uint64_t delay_ms)
{
    return (xg_conn_limit_cfg){.stat_prefix = "lim", .max_connections = max, .delay_ms = delay_ms, .enabled = true};
}

/* --max-downstream-connections: one count for every listener and worker;
 * a listener with ignore_global_conn_limit is not counted. */
XG_TEST(global_connection_limit)
{
    world2 d;
    xg_listener_opts o;
    xg_listener_opts_init(&o);
    o.max_conns = 2;
    if (!CHECK(world2_init(&d, &o)))
        return;
    world *w = &d.w;
    uint16_t port2 = nt_free_port(), port3 = nt_free_port();
    xg_filter_chain plain = {.name = "plain"};
    xg_res *r[3] = {make_listener("a", w->port, &plain, 1, false), make_listener("b", port2, &plain, 1, false),
                    make_listener("free", port3, &plain, 1, false)};
    ((xg_listener *)r[2]->body)->ignore_global_conn_limit = true;
    CHECK(world2_apply(&d, r, 3));
    int fds[3];
    connect_n(w, fds, 1, w->port);
    connect_n(w, fds + 1, 2, port2);
    CHECK_EQ_INT(w->u.n, 2);
    CHECK_EQ_INT(xg_listeners_stats(w->ls).overflow + xg_listeners_stats(d.ls2).overflow, 1);
    CHECK(closed_by_peer(fds[2], 1));
    /* The exempt listener still takes connections. */
    int ex = connect4(port3);
    run_until_n(&w->loop, &w->u, 3, 1);
    CHECK_EQ_INT(w->u.n, 3);
    /* One leaves: room again. */
    xg_conn_close(w->u.c[0], XG_CLOSE_ABORT);
    nt_run_for(&w->loop, 0.03);
    int again = connect4(port2);
    run_until_n(&w->loop, &w->u, 4, 1);
    CHECK_EQ_INT(w->u.n, 4);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    close(again);
    close(ex);
    world2_free(&d);
    for (int i = 0; i < 3; i++)
        xg_res_unref(r[i]);
}

XG_TEST(connection_limit_filter_shared_by_workers)
{
    world2 d;
    if (!CHECK(world2_init(&d, NULL)))
        return;
    xg_conn_limit_cfg cl = climit(2, 0);
    xg_filter_chain chain = {.name = "limited", .conn_limit = &cl};
    xg_res *r = make_listener("lim", d.w.port, &chain, 1, false);
    CHECK(world2_apply(&d, &r, 1));
    int fds[4];
    connect_n(&d.w, fds, 4, d.w.port);
    CHECK_EQ_INT(d.w.u.n, 2);
    CHECK_EQ_INT(limited(&d), 2);
    int closed = 0;
    for (int i = 0; i < 4; i++)
        closed += closed_by_peer(fds[i], 0.2);
    CHECK_EQ_INT(closed, 2);
    /* An update that adds another listener keeps the count: still full. */
    xg_filter_chain other = {.name = "other"};
    xg_res *r2[2] = {r, make_listener("other", nt_free_port(), &other, 1, false)};
    CHECK(world2_apply(&d, r2, 2));
    int more = connect4(d.w.port);
    nt_run_for(&d.w.loop, 0.05);
    CHECK_EQ_INT(d.w.u.n, 2);
    CHECK(closed_by_peer(more, 1));
    close(more);
    /* A changed Listener resource with the same chain: the count carries over too. */
    xg_res *r3[2] = {make_listener("lim", d.w.port, &chain, 1, false), r2[1]};
    CHECK(world2_apply(&d, r3, 2));
    more = connect4(d.w.port);
    nt_run_for(&d.w.loop, 0.05);
    CHECK_EQ_INT(d.w.u.n, 2);
    CHECK(closed_by_peer(more, 1));
    close(more);
    /* One leaves: room for exactly one more. */
    xg_conn_close(d.w.u.c[0], XG_CLOSE_ABORT);
    nt_run_for(&d.w.loop, 0.05);
    int again[2];
    connect_n(&d.w, again, 2, d.w.port);
    run_until_n(&d.w.loop, &d.w.u, 3, 1);
    CHECK_EQ_INT(d.w.u.n, 3);
    CHECK_EQ_INT(closed_by_peer(again[0], 0.2) + closed_by_peer(again[1], 0.2), 1);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    close(again[0]);
    close(again[1]);
    world2_free(&d);
    xg_res_unref(r);
    xg_res_unref(r2[1]);
    xg_res_unref(r3[0]);
}

XG_TEST(connection_limit_filter_delay_and_disabled)
{
    world w;
    if (!CHECK(world_init(&w, NULL)))
        return;
    xg_conn_limit_cfg cl = climit(1, 2000);
    xg_filter_chain chain = {.name = "slow", .conn_limit = &cl};
    xg_res *r = make_listener("slow", w.port, &chain, 1, false);
    CHECK(world_apply(&w, &r, 1));
    int fds[2];
    connect_n(&w, fds, 2, w.port);
    CHECK_EQ_INT(w.u.n, 1);
    CHECK_EQ_INT(xg_listeners_stats(w.ls).limited, 1);
    /* Over the limit with a delay: held open (and not read) for the delay, then closed. */
    CHECK(write(fds[1], "GET / HTTP/1.1\r\n\r\n", 18) == 18);
    nt_run_for(&w.loop, 0.1);
    char b[4];
    bool eof = false;
    CHECK_EQ_INT(nt_read_some(fds[1], b, sizeof(b), 0.05, &eof), 0);
    CHECK(!eof);
    bool gone = false;
    double end = ev_time() + 5;
    while (!gone && ev_time() < end) {
        nt_run_for(&w.loop, 0.05);
        gone = nt_read_some(fds[1], b, sizeof(b), 0.01, &eof) == 0 && eof;
    }
    CHECK(gone);
    close(fds[0]);
    close(fds[1]);
    world_free(&w);
    xg_res_unref(r);
    /* runtime_enabled false: no limit. */
    if (!CHECK(world_init(&w, NULL)))
        return;
    cl.enabled = false;
    r = make_listener("off", w.port, &chain, 1, false);
    CHECK(world_apply(&w, &r, 1));
    connect_n(&w, fds, 2, w.port);
    CHECK_EQ_INT(w.u.n, 2);
    close(fds[0]);
    close(fds[1]);
    world_free(&w);
    xg_res_unref(r);
}

XG_TEST(inspector_timeout)
{
    world w;
    if (!CHECK(world_init(&w, NULL)))
        return;
    xg_filter_chain plain = {.name = "plain"};
    xg_res *r1 = make_listener("slow", w.port, &plain, 1, true);
    ((xg_listener *)r1->body)->listener_filters_timeout_ms = 100;
    CHECK(world_apply(&w, &r1, 1));
    int fd = connect4(w.port);
    nt_run_for(&w.loop, 0.25);
    CHECK_EQ_INT(w.u.n, 0);
    CHECK_EQ_INT(xg_listeners_stats(w.ls).inspector_timeout, 1);
    char b[4];
    bool eof = false;
    CHECK_EQ_INT(nt_read_some(fd, b, sizeof(b), 1, &eof), 0);
    CHECK(eof);
    close(fd);
    /* continue_on_listener_filters_timeout: on as raw_buffer. */
    ((xg_listener *)r1->body)->continue_on_listener_filters_timeout = true;
    fd = connect4(w.port);
    run_until_n(&w.loop, &w.u, 1, 1);
    CHECK_EQ_INT(w.u.n, 1);
    close(fd);
    world_free(&w);
    xg_res_unref(r1);
}

XG_TEST(update_drains_and_removal_closes)
{
    world w;
    xg_listener_opts o;
    xg_listener_opts_init(&o);
    o.drain_time = 0.2;
    if (!CHECK(world_init(&w, &o)))
        return;
    xg_filter_chain plain = {.name = "v1"}, plain2 = {.name = "v2"};
    xg_res *r1 = make_listener("web", w.port, &plain, 1, false), *r2 = make_listener("web", w.port, &plain2, 1, false);
    CHECK(world_apply(&w, &r1, 1));
    int a = connect4(w.port);
    run_until_n(&w.loop, &w.u, 1, 1);
    /* The same Listener again (e.g. only a secret changed): nothing drains. */
    CHECK(world_apply(&w, &r1, 1));
    nt_run_for(&w.loop, 0.02);
    CHECK(!w.u.drained);
    /* A changed Listener on the same address: the old connection drains, new ones get v2. */
    CHECK(world_apply(&w, &r2, 1));
    CHECK(w.u.drained);
    int b = connect4(w.port);
    run_until_n(&w.loop, &w.u, 2, 1);
    CHECK(w.u.n == 2 && strcmp(w.u.chain[1]->name, "v2") == 0);
    CHECK(!xg_listeners_idle(w.ls));
    CHECK(nt_run_until(&w.loop, &w.u.closed, 1)); /* drain time passed: killed */
    CHECK_EQ_INT(w.u.why, XG_CONN_DRAINED);
    nt_run_for(&w.loop, 0.02);
    CHECK(xg_listeners_idle(w.ls));
    /* Removed: the socket closes once nothing holds it. */
    CHECK(world_apply(&w, NULL, 0));
    nt_run_for(&w.loop, 0.02);
    CHECK(connect4(w.port) < 0);
    close(a);
    close(b);
    world_free(&w);
    xg_res_unref(r1);
    xg_res_unref(r2);
}

/* --- TLS chains through the inspector --- */

typedef struct cside {
    bool hs, closed;
} cside;

static void c_hs(xg_conn *c, void *arg)
{
    ((cside *)arg)->hs = true;
}

static void c_close(xg_conn *c, void *arg, xg_conn_reason r)
{
    ((cside *)arg)->closed = true;
}

static const xg_conn_cbs c_cbs = {.on_handshake = c_hs, .on_close = c_close};

/* A TLS client conn on the same loop; returns it once the server handed off
 * a connection (or NULL). */
static xg_conn *tls_client(world *w, xg_tls_client *cli, const char *sni, const char *alpn, cside *cs)
{
    int fd = connect4(w->port);
    nt_nonblock(fd, true);
    xg_conn *c;
    xg_conn_new(&w->loop, fd, &c);
    xg_conn_use_tls_client(c, cli, sni, (const uint8_t *)alpn, alpn ? strlen(alpn) : 0);
    xg_conn_set_owner(c, &c_cbs, cs);
    xg_conn_start(c, 5);
    int before = w->u.n;
    double end = ev_time() + 3;
    while ((w->u.n == before || !cs->hs) && !cs->closed && ev_time() < end)
        nt_run_for(&w->loop, 0.005);
    return c;
}

XG_TEST(tls_inspector_chooses_chains)
{
    make_certs();
    if (!CHECK(have_certs))
        return;
    world w;
    if (!CHECK(world_init(&w, NULL)))
        return;
    static const char *alpn[] = {"h2", "http/1.1"};
    xg_tls_certificate ca = cert("a"), cb = cert("b");
    xg_tls_context ta = {.downstream = true,
                         .certificates = &ca,
                         .n_certificates = 1,
                         .alpn_protocols = alpn,
                         .n_alpn_protocols = 2,
                         .session_timeout_ms = -1};
    xg_tls_context tb = ta;
    tb.certificates = &cb;
    xg_server_name n_a[] = {sname("example.com")}, n_b[] = {sname("*.wild.test")};
    xg_lstr h2[] = {{"h2", 2}};
    xg_filter_chain chains[4] = {
        {.name = "a-h2",
         .match = {.server_names = n_a, .n_server_names = 1, .transport = XG_TRANSPORT_TLS, .alpn = h2, .n_alpn = 1},
         .tls = &ta},
        {.name = "a", .match = {.server_names = n_a, .n_server_names = 1, .transport = XG_TRANSPORT_TLS}, .tls = &ta},
        {.name = "b", .match = {.server_names = n_b, .n_server_names = 1}, .tls = &tb},
        {.name = "plain", .match = {.transport = XG_TRANSPORT_RAW_BUFFER}},
    };
    xg_res *r = make_listener("tls", w.port, chains, 4, true);
    CHECK(world_apply(&w, &r, 1));
    xg_tls_context ctc = {.max_session_keys = 1};
    xg_tls_build bld = {.tc = &ctc};
    xg_tls_client *cli;
    char err[128];
    CHECK_EQ_INT(xg_tls_client_new(&bld, &cli, err, sizeof(err)), 0);
    static const struct {
        const char *sni, *alpn, *chain;
    } cases[] = {
        {"example.com", "\x08http/1.1\x02h2", "a-h2"},
        {"example.com", "\x08http/1.1", "a"},
        {"x.wild.test", NULL, "b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cside cs = {0};
        xg_conn *c = tls_client(&w, cli, cases[i].sni, cases[i].alpn, &cs);
        CHECK(cs.hs);
        if (CHECK_EQ_INT(w.u.n, (int)i + 1))
            CHECK_STR(w.u.chain[i]->name, cases[i].chain);
        if (!cs.closed)
            xg_conn_close(c, XG_CLOSE_ABORT);
    }
    /* Plaintext on the same port: the raw_buffer chain, first bytes intact. */
    int fd = connect4(w.port);
    CHECK(write(fd, "GET / HTTP/1.1\r\n", 16) == 16);
    run_until_n(&w.loop, &w.u, 4, 2);
    if (CHECK_EQ_INT(w.u.n, 4))
        CHECK_STR(w.u.chain[3]->name, "plain");
    nt_run_for(&w.loop, 0.02);
    CHECK(w.u.len == 16 && memcmp(w.u.data, "GET / HTTP/1.1\r\n", 16) == 0);
    /* A TLS client with an SNI no chain takes: closed. */
    cside cs = {0};
    xg_conn *c = tls_client(&w, cli, "nobody.org", NULL, &cs);
    CHECK(cs.closed && !cs.hs);
    CHECK_EQ_INT(xg_listeners_stats(w.ls).no_chain, 1);
    if (!cs.closed) /* after on_close the conn is gone */
        xg_conn_close(c, XG_CLOSE_ABORT);
    close(fd);
    xg_tls_client_unref(cli);
    world_free(&w);
    xg_res_unref(r);
}

XG_TEST(ipv6_listener)
{
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool v6 = probe >= 0 && bind(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    uint16_t port = v6 ? nt_port_of(probe) : 0;
    if (probe >= 0)
        close(probe);
    if (!v6) {
        fprintf(stderr, "no IPv6 loopback here; skipped\n");
        return;
    }
    world w;
    if (!CHECK(world_init(&w, NULL)))
        return;
    xg_filter_chain plain = {.name = "v6"};
    xg_res *r = make_listener("v6", port, &plain, 1, false);
    xg_listener_addr *a = (xg_listener_addr *)((xg_listener *)r->body)->addrs;
    sa.sin6_port = htons(port);
    memcpy(&a->ss, &sa, sizeof(sa));
    a->len = sizeof(sa);
    snprintf(a->text, sizeof(a->text), "[::1]:%u", port);
    CHECK(world_apply(&w, &r, 1));
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    run_until_n(&w.loop, &w.u, 1, 2);
    if (CHECK_EQ_INT(w.u.n, 1))
        CHECK_EQ_INT(((const struct sockaddr *)&w.u.c[0]->peer)->sa_family, AF_INET6);
    close(fd);
    world_free(&w);
    xg_res_unref(r);
}
