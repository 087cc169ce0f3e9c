/* Unit tests for the admin server (src/admin/): routing, /ready, keep-alive
 * and pipelining, and 400/413/431 for bad requests. The server runs on this
 * thread's loop; a client thread talks to it over loopback, then stops it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "core/error.h"
#include "xg_test.h"

typedef struct fixture fixture;
typedef void (*scenario_fn)(fixture *fx);

struct fixture {
    xg_loop loop;
    xg_admin *admin;
    uint16_t port;
    scenario_fn scenario;
};

/* Sends req, half-closes, and returns everything the server wrote until it
 * closed (the caller frees it). A half-close still gets the answers to every
 * complete request. */
static char *exchange(uint16_t port, const char *req, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return strdup("(connect failed)");
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close early on a bad request; read what it said */
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    xg_buf out;
    xg_buf_init(&out);
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        xg_buf_append(&out, buf, (size_t)n);
    close(fd);
    return xg_buf_steal(&out);
}

static char *get(fixture *fx, const char *req)
{
    return exchange(fx->port, req, strlen(req));
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void *client_main(void *arg)
{
    fixture *fx = arg;
    fx->scenario(fx);
    xg_loop_stop(&fx->loop);
    return NULL;
}

static void echo(const xg_admin_request *req, xg_admin_response *resp, void *data)
{
    resp->content_type = "text/x-echo";
    xg_buf_printf(&resp->body, "%s %s ?%s body=%zu tag=%s\n", req->method, req->path, req->query, req->body_len,
                  (const char *)data);
}

static void run(scenario_fn scenario, bool ready)
{
    fixture fx = {.scenario = scenario};
    pthread_t t;
    if (!CHECK_EQ_INT(xg_loop_init(&fx.loop, 0), 0))
        return;
    CHECK_EQ_INT(xg_admin_new(&fx.loop, &fx.admin), 0);
    CHECK_EQ_INT(xg_admin_route(fx.admin, "GET", "/echo", echo, "g"), 0);
    CHECK_EQ_INT(xg_admin_route(fx.admin, "POST", "/echo", echo, "p"), 0);
    CHECK_EQ_INT(xg_admin_route(fx.admin, "GET", "/echo", echo, "again"), XG_EEXIST);
    xg_admin_set_ready(fx.admin, ready);
    CHECK_EQ_INT(xg_admin_listen(fx.admin, "127.0.0.1", 0), 0);
    fx.port = xg_admin_port(fx.admin);
    CHECK(fx.port != 0);
    CHECK_EQ_INT(pthread_create(&t, NULL, client_main, &fx), 0);
    xg_loop_run(&fx.loop);
    pthread_join(t, NULL);
    xg_admin_free(fx.admin);
    xg_loop_dispose(&fx.loop);
}

static void not_ready_scenario(fixture *fx)
{
    char *r = get(fx, "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    CHECK(strstr(r, "\r\n\r\nnot ready\n") != NULL);
    CHECK(strstr(r, "content-length: 10\r\n") != NULL);
    free(r);
}

XG_TEST(ready_is_503_until_set)
{
    run(not_ready_scenario, false);
}

static void ready_scenario(fixture *fx)
{
    char *r = get(fx, "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(r, "\r\n\r\nready\n") != NULL);
    free(r);
}

XG_TEST(ready_is_200_once_set)
{
    run(ready_scenario, true);
}

static void routing_scenario(fixture *fx)
{
    char *r = get(fx, "GET /echo?a=1&b HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strstr(r, "HTTP/1.1 200 OK\r\n") == r);
    CHECK(strstr(r, "content-type: text/x-echo\r\n") != NULL);
    CHECK(strstr(r, "\r\n\r\nGET /echo ?a=1&b body=0 tag=g\n") != NULL);
    free(r);
    r = get(fx, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(strstr(r, "\r\n\r\nPOST /echo ? body=5 tag=p\n") != NULL);
    free(r);
    r = get(fx, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strstr(r, "HTTP/1.1 404 Not Found\r\n") == r);
    free(r);
    r = get(fx, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strstr(r, "HTTP/1.1 404 Not Found\r\n") == r);
    free(r);
    r = get(fx, "DELETE /ready HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strstr(r, "HTTP/1.1 405 Method Not Allowed\r\n") == r);
    CHECK(strstr(r, "allow: GET\r\n") != NULL);
    free(r);
    r = get(fx, "PUT /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strstr(r, "allow: GET, POST\r\n") != NULL);
    free(r);
    r = get(fx, "HEAD /ready HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strstr(r, "HTTP/1.1 503 ") == r);
    CHECK(strstr(r, "content-length: 10\r\n") != NULL);
    CHECK(strstr(r, "not ready") == NULL);
    free(r);
}

XG_TEST(routes_404_405_and_head)
{
    run(routing_scenario, false);
}

static void pipelining_scenario(fixture *fx)
{
    /* Three requests in one write: answered in order on one connection. */
    char *r = get(fx, "GET /echo?1 HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /echo?3 HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *a = strstr(r, "?1 body"), *b = strstr(r, "404 Not Found"), *c = strstr(r, "?3 body");
    CHECK(a != NULL && b != NULL && c != NULL && a < b && b < c);
    CHECK_EQ_INT(count(r, "connection: close"), 0);
    free(r);
    /* Connection: close ends the exchange: the request after it is not served. */
    r = get(fx, "GET /echo?1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                "GET /echo?2 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(count(r, "HTTP/1.1 "), 1);
    CHECK_EQ_INT(count(r, "connection: close\r\n"), 1);
    free(r);
    /* HTTP/1.0 without keep-alive closes after one answer too. */
    r = get(fx, "GET /echo HTTP/1.0\r\n\r\nGET /echo HTTP/1.0\r\n\r\n");
    CHECK_EQ_INT(count(r, "HTTP/1.1 200"), 1);
    free(r);
}

XG_TEST(keep_alive_and_pipelining)
{
    run(pipelining_scenario, false);
}

static void expect_status(fixture *fx, const char *req, size_t len, const char *status)
{
    char *r = exchange(fx->port, req, len);
    if (!CHECK(strncmp(r, status, strlen(status)) == 0))
        fprintf(stderr, "  expected %s, got: %.80s\n", status, r);
    CHECK(strstr(r, "connection: close\r\n") != NULL);
    free(r);
}

static void bad_requests_scenario(fixture *fx)
{
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /ready HTTP/9.9\r\n\r\n",
        "GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /ready HTTP/1.1\r\nBad Header: x\r\n\r\n",
        "GET /ready HTTP/1.1\r\nName : x\r\n\r\n",
        "GET /ready HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /ready HTTP/1.1\nHost: x\n\n",
        "GET /ready HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET /re\x01"
        "ady HTTP/1.1\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_status(fx, bad[i], strlen(bad[i]), "HTTP/1.1 400 Bad Request\r\n");
    /* the server is still up and serving */
    char *r = get(fx, "GET /ready HTTP/1.1\r\n\r\n");
    CHECK(strstr(r, "HTTP/1.1 503 ") == r);
    free(r);
}

XG_TEST(malformed_requests_get_400_and_close)
{
    run(bad_requests_scenario, false);
}

static void oversized_scenario(fixture *fx)
{
    size_t n = 80 * 1024;
    char *req = malloc(n + 64);
    int off = sprintf(req, "GET /ready HTTP/1.1\r\nX-Big: ");
    memset(req + off, 'a', n);
    strcpy(req + off + n, "\r\n\r\n");
    expect_status(fx, req, strlen(req), "HTTP/1.1 431 ");
    /* Many small headers add up to the same limit. */
    off = sprintf(req, "GET /ready HTTP/1.1\r\n");
    while ((size_t)off < n)
        off += sprintf(req + off, "A: b\r\n");
    strcpy(req + off, "\r\n");
    expect_status(fx, req, strlen(req), "HTTP/1.1 431 ");
    off = sprintf(req, "POST /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
    memset(req + off, 'b', n - (size_t)off);
    expect_status(fx, req, n, "HTTP/1.1 413 ");
    free(req);
}

XG_TEST(oversized_requests_get_431_or_413)
{
    run(oversized_scenario, false);
}
