/* Unit tests for the connection manager's request handling (Envoy's
 * mutateRequestHeaders): x-forwarded-for with and without use_remote_address
 * and trusted hops, internal vs external and edge requests, x-request-id
 * generation and preservation, via, host port stripping, underscores, path
 * checks; and the local reply builder (gRPC mapping, HEAD). */
#include <arpa/inet.h>
#include <string.h>

#include "http/hcm_request.c"
#include "xg_test.h"

static xg_cidr loopback = {.family = AF_INET, .addr = {127}, .prefix_len = 8};

typedef struct fixture {
    xg_hconn hc;
    xg__hconn_addrs addrs; /* no conn: the addresses of one that went away */
    xg_hcm cfg;
    xg_filter_chain chain;
    xg_stream s;
} fixture;

static void v4(xg__hconn_addr *ss, const char *ip, uint16_t port)
{
    struct sockaddr_in *a = &ss->in4;
    memset(ss, 0, sizeof(*ss));
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, ip, &a->sin_addr);
}

static void setup(fixture *f, const char *peer)
{
    memset(f, 0, sizeof(*f));
    f->cfg.generate_request_id = true;
    f->cfg.via = "";
    f->cfg.internal_ranges = &loopback;
    f->cfg.n_internal_ranges = 1;
    v4(&f->addrs.peer, peer, 40000);
    v4(&f->addrs.local, "127.0.0.1", 8080);
    f->hc.gone = &f->addrs;
    f->chain.hcm = &f->cfg;
    f->hc.chain = &f->chain;
    f->s.hc = &f->hc;
    f->s.cfg = &f->cfg;
    f->s.random = 0x1234567890abcdefULL;
    xg_arena_init(&f->s.arena, 0);
    f->s.req = xg_headers_new(&f->s.arena);
    xg_headers_set_field(f->s.req, &f->s.req->method, "GET", 3);
    f->s.req->method_id = XG_METHOD_GET;
    xg_headers_set_field(f->s.req, &f->s.req->authority, "example.com:8080", 16);
    xg_headers_set_field(f->s.req, &f->s.req->path, "/a/b", 4);
}

static void teardown(fixture *f)
{
    xg_arena_dispose(&f->s.arena);
}

static const char *hdr(fixture *f, const char *name)
{
    const xg_header *h = xg_headers_get(f->s.req, name, strlen(name));
    static char buf[256];
    if (h == NULL)
        return NULL;
    snprintf(buf, sizeof(buf), "%.*s", (int)h->value_len, h->value);
    return buf;
}

static int prepare(fixture *f)
{
    const char *details = NULL;
    xg_hstr loc = {0};
    return xg__hcm_prepare_request(&f->s, &details, &loc);
}

XG_TEST(remote_address_appended_and_internal)
{
    fixture f;
    setup(&f, "127.0.0.5");
    f.cfg.use_remote_address = true;
    CHECK_EQ_INT(prepare(&f), 0);
    /* a loopback peer is replaced by the listener's address, as Envoy does */
    CHECK_STR(hdr(&f, "x-forwarded-for"), "127.0.0.1");
    CHECK_STR(hdr(&f, "x-forwarded-proto"), "http");
    CHECK_STR(hdr(&f, "x-envoy-internal"), "true");
    CHECK(f.s.internal && !f.s.edge);
    CHECK(hdr(&f, "x-request-id") != NULL && strlen(hdr(&f, "x-request-id")) == 36);
    CHECK_STR(f.s.req->scheme.s, "http");
    teardown(&f);
}

XG_TEST(external_client_with_xff_is_edge)
{
    fixture f;
    setup(&f, "203.0.113.7");
    f.cfg.use_remote_address = true;
    xg_headers_add_copy(f.s.req, "x-forwarded-for", 15, "10.0.0.1", 8);
    xg_headers_add_copy(f.s.req, "x-request-id", 12, "client-id", 9);
    xg_headers_add_copy(f.s.req, "x-envoy-internal", 16, "true", 4);
    CHECK_EQ_INT(prepare(&f), 0);
    CHECK_STR(hdr(&f, "x-forwarded-for"), "10.0.0.1,203.0.113.7");
    CHECK(!f.s.internal && f.s.edge);
    CHECK(hdr(&f, "x-envoy-internal") == NULL);
    CHECK_STR(hdr(&f, "x-envoy-external-address"), "203.0.113.7");
    CHECK(strcmp(hdr(&f, "x-request-id"), "client-id") != 0); /* edge: not trusted */
    teardown(&f);
}

/* Envoy's edge sanitising of the router's control headers; an internal
 * client keeps them (the router honours them). */
XG_TEST(edge_request_loses_router_control_headers)
{
    static const char *const control[] = {"x-envoy-retry-on", "x-envoy-max-retries", "x-envoy-upstream-rq-timeout-ms",
                                          "x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-retriable-status-codes"};
    const char *peers[] = {"203.0.113.7", "127.0.0.5"};
    for (int k = 0; k < 2; k++) {
        fixture f;
        setup(&f, peers[k]);
        f.cfg.use_remote_address = true;
        for (size_t i = 0; i < sizeof(control) / sizeof(control[0]); i++)
            xg_headers_add_copy(f.s.req, control[i], strlen(control[i]), "5", 1);
        xg_headers_add_copy(f.s.req, "x-envoy-other", 13, "kept", 4);
        CHECK_EQ_INT(prepare(&f), 0);
        CHECK(f.s.edge == (k == 0));
        for (size_t i = 0; i < sizeof(control) / sizeof(control[0]); i++)
            CHECK((hdr(&f, control[i]) == NULL) == (k == 0));
        CHECK_STR(hdr(&f, "x-envoy-other"), "kept");
        teardown(&f);
    }
}

XG_TEST(preserve_external_request_id)
{
    fixture f;
    setup(&f, "203.0.113.7");
    f.cfg.use_remote_address = true;
    f.cfg.preserve_external_request_id = true;
    xg_headers_add_copy(f.s.req, "x-request-id", 12, "client-id", 9);
    CHECK_EQ_INT(prepare(&f), 0);
    CHECK_STR(hdr(&f, "x-request-id"), "client-id");
    teardown(&f);
}

XG_TEST(trusted_hops_pick_the_client_from_xff)
{
    fixture f;
    setup(&f, "10.1.1.1");
    f.cfg.use_remote_address = true;
    f.cfg.xff_num_trusted_hops = 1;
    xg_headers_add_copy(f.s.req, "x-forwarded-for", 15, "198.51.100.9, 10.0.0.2", 22);
    xg_headers_add_copy(f.s.req, "x-forwarded-proto", 17, "https", 5);
    CHECK_EQ_INT(prepare(&f), 0);
    CHECK_STR(hdr(&f, "x-forwarded-for"), "198.51.100.9, 10.0.0.2,10.1.1.1");
    struct sockaddr_in *r = (struct sockaddr_in *)&f.s.remote;
    char ip[32];
    inet_ntop(AF_INET, &r->sin_addr, ip, sizeof(ip));
    CHECK_STR(ip, "10.0.0.2");
    CHECK_STR(hdr(&f, "x-forwarded-proto"), "https"); /* a trusted hop set it */
    teardown(&f);
}

XG_TEST(without_remote_address_xff_decides)
{
    fixture f;
    setup(&f, "203.0.113.7");
    xg_headers_add_copy(f.s.req, "x-forwarded-for", 15, "127.0.0.9", 9);
    CHECK_EQ_INT(prepare(&f), 0);
    CHECK_STR(hdr(&f, "x-forwarded-for"), "127.0.0.9"); /* nothing appended */
    CHECK(f.s.internal && !f.s.edge);
    teardown(&f);
    setup(&f, "127.0.0.1");
    CHECK_EQ_INT(prepare(&f), 0);
    CHECK(!f.s.internal); /* no XFF: external, even from loopback (Envoy's rule) */
    teardown(&f);
}

XG_TEST(via_and_host_port_stripping)
{
    fixture f;
    setup(&f, "127.0.0.1");
    f.cfg.via = "proxy-1";
    f.cfg.strip_matching_host_port = true;
    xg_headers_add_copy(f.s.req, "via", 3, "1.1 up", 6);
    CHECK_EQ_INT(prepare(&f), 0);
    CHECK_STR(hdr(&f, "via"), "1.1 up,proxy-1");
    CHECK(f.s.req->authority.len == 11 && memcmp(f.s.req->authority.s, "example.com", 11) == 0);
    teardown(&f);
}

XG_TEST(underscores_and_paths)
{
    fixture f;
    setup(&f, "127.0.0.1");
    f.cfg.headers_with_underscores = XG_UNDERSCORES_DROP_HEADER;
    f.cfg.normalize_path = true;
    xg_headers_add_copy(f.s.req, "x_a", 3, "1", 1);
    xg_headers_set_field(f.s.req, &f.s.req->path, "/a/../b", 7);
    CHECK_EQ_INT(prepare(&f), 0);
    CHECK(hdr(&f, "x_a") == NULL);
    CHECK(f.s.req->path.len == 2 && memcmp(f.s.req->path.s, "/b", 2) == 0);
    teardown(&f);
    setup(&f, "127.0.0.1");
    f.cfg.headers_with_underscores = XG_UNDERSCORES_REJECT_REQUEST;
    xg_headers_add_copy(f.s.req, "x_a", 3, "1", 1);
    CHECK_EQ_INT(prepare(&f), 400);
    teardown(&f);
    setup(&f, "127.0.0.1");
    f.s.req->authority = (xg_hstr){0};
    CHECK_EQ_INT(prepare(&f), 400);
    teardown(&f);
}

XG_TEST(uuid_is_version_4)
{
    fixture f;
    setup(&f, "127.0.0.1");
    char a[37], b[37];
    uuid4(&f.s, a);
    f.s.random++;
    uuid4(&f.s, b);
    CHECK(strlen(a) == 36 && a[8] == '-' && a[14] == '4' && strchr("89ab", a[19]) != NULL);
    CHECK(strcmp(a, b) != 0);
    teardown(&f);
}

XG_TEST(grpc_status_mapping)
{
    CHECK_EQ_INT(xg__http_to_grpc_status(404), 12);
    CHECK_EQ_INT(xg__http_to_grpc_status(503), 14);
    CHECK_EQ_INT(xg__http_to_grpc_status(504), 14);
    CHECK_EQ_INT(xg__http_to_grpc_status(400), 13);
    CHECK_EQ_INT(xg__http_to_grpc_status(418), 2);
}

XG_TEST(local_reply_plain_grpc_and_head)
{
    fixture f;
    setup(&f, "127.0.0.1");
    xg_headers *h;
    const char *body;
    size_t len;
    CHECK_EQ_INT(xg__local_reply_build(&f.s, 503, "no healthy upstream", &h, &body, &len), 0);
    CHECK(h->status == 503 && len == 19 && body != NULL);
    CHECK(xg_headers_get(h, "content-type", 12) != NULL);
    f.s.is_head = true;
    CHECK_EQ_INT(xg__local_reply_build(&f.s, 404, "gone", &h, &body, &len), 0);
    CHECK(h->status == 404 && len == 0 && body == NULL);
    f.s.is_head = false;
    f.s.is_grpc = true;
    CHECK_EQ_INT(xg__local_reply_build(&f.s, 503, "down", &h, &body, &len), 0);
    const xg_header *gs = xg_headers_get(h, "grpc-status", 11);
    CHECK(h->status == 200 && len == 0 && gs != NULL && gs->value_len == 2 && memcmp(gs->value, "14", 2) == 0);
    teardown(&f);
}
