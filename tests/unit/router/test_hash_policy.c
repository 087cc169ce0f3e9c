/* Unit tests for route hash_policy evaluation (src/router/hash_policy.c),
 * policies written as YAML and translated for real: each kind hashes
 * exactly what Envoy hashes (xxHash64 of the header value, the cookie, the
 * source IP without port, the query parameter), header values are sorted
 * before hashing and rewritten by regex_rewrite, several policies combine
 * by rotate-and-xor, terminal stops the walk once a hash exists, a missing
 * cookie with ttl is generated with Envoy's Set-Cookie shape and the same
 * hash the cookie gives when sent back. */
#include <arpa/inet.h>
#include <xxhash.h>

#include "router/hash_policy.h"
#include "router/router_test.h"

static const char *ROUTES = "virtual_hosts:\n"
                            "- name: v\n"
                            "  domains: ['*']\n"
                            "  routes:\n"
                            "  - match: { prefix: /h }\n"
                            "    name: h\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy: [{ header: { header_name: x-user } }]\n"
                            "  - match: { prefix: /rw }\n"
                            "    name: rw\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy:\n"
                            "      - header:\n"
                            "          header_name: x-user\n"
                            "          regex_rewrite: { pattern: { regex: '-.*' }, substitution: '' }\n"
                            "  - match: { prefix: /ck }\n"
                            "    name: ck\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy:\n"
                            "      - cookie:\n"
                            "          name: sticky\n"
                            "          ttl: 3600.5s\n"
                            "          path: /app\n"
                            "          attributes: [{ name: SameSite, value: Lax }, { name: Secure }]\n"
                            "  - match: { prefix: /session }\n"
                            "    name: session\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy: [{ cookie: { name: s, ttl: 0s } }]\n"
                            "  - match: { prefix: /nogen }\n"
                            "    name: nogen\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy: [{ cookie: { name: s } }]\n"
                            "  - match: { prefix: /ip }\n"
                            "    name: ip\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy: [{ connection_properties: { source_ip: true } }]\n"
                            "  - match: { prefix: /q }\n"
                            "    name: q\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy: [{ query_parameter: { name: user } }]\n"
                            "  - match: { prefix: /two }\n"
                            "    name: two\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy:\n"
                            "      - header: { header_name: x-a }\n"
                            "      - header: { header_name: x-b }\n"
                            "  - match: { prefix: /term }\n"
                            "    name: term\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy:\n"
                            "      - header: { header_name: x-a }\n"
                            "        terminal: true\n"
                            "      - header: { header_name: x-b }\n"
                            "  - match: { prefix: /auth }\n"
                            "    name: auth\n"
                            "    route:\n"
                            "      cluster: c\n"
                            "      hash_policy: [{ header: { header_name: ':authority' } }]\n";

static xg_res *routes;

static const xg_route_forward *fw(const char *name)
{
    const xg_route_config *rc = routes->body;
    const xg_vhost *vh = &rc->vhosts[0];
    for (size_t i = 0; i < vh->n_routes; i++)
        if (strcmp(vh->routes[i].name, name) == 0)
            return &vh->routes[i].forward;
    return NULL;
}

static struct sockaddr_in addr(const char *ip, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* Evaluates route name's policies for t, from 192.0.2.7:5555 to 10.0.0.1:8080. */
static xg_hash_result eval(const char *name, treq *t)
{
    struct sockaddr_in r = addr("192.0.2.7", 5555), l = addr("10.0.0.1", 8080);
    xg_hash_input in = {&t->h, (struct sockaddr *)&r, (struct sockaddr *)&l, &t->arena};
    xg_hash_result out;
    const xg_route_forward *f = fw(name);
    CHECK_EQ_INT(xg_hash_policy_eval(f->cold->hash_policies, f->cold->n_hash_policies, &in, &out), 0);
    return out;
}

static uint64_t xx(const char *s)
{
    return XXH64(s, strlen(s), 0);
}

static uint64_t rotl1(uint64_t h)
{
    return h << 1 | h >> 63;
}

XG_TEST(header_values_sorted_then_chained)
{
    routes = rc_load(ROUTES);
    if (!CHECK(routes != NULL))
        return;
    treq t;
    treq_init(&t, "GET", "x", "/h");
    treq_add(&t, "x-user", "alice");
    xg_hash_result r = eval("h", &t);
    CHECK(r.has_hash && r.hash == xx("alice"));
    CHECK_EQ_INT(r.n_set_cookies, 0);
    treq_add(&t, "x-user", "Aaron"); /* two values: sorted, chained through seeds */
    r = eval("h", &t);
    CHECK(r.hash == XXH64("alice", 5, XXH64("Aaron", 5, 0)));
    treq_dispose(&t);
    treq_init(&t, "GET", "x", "/h");
    r = eval("h", &t);
    CHECK(!r.has_hash);
    treq_dispose(&t);
}

XG_TEST(header_regex_rewrite_and_pseudo_header)
{
    treq t;
    treq_init(&t, "GET", "Example.COM", "/rw");
    treq_add(&t, "x-user", "alice-session-42");
    xg_hash_result r = eval("rw", &t);
    CHECK(r.has_hash && r.hash == xx("alice"));
    r = eval("auth", &t);
    CHECK(r.has_hash && r.hash == xx("Example.COM"));
    treq_dispose(&t);
}

XG_TEST(cookie_present_quoted_and_among_others)
{
    treq t;
    treq_init(&t, "GET", "x", "/ck");
    treq_add(&t, "cookie", "a=1; sticky=\"abc\"; b=2");
    xg_hash_result r = eval("ck", &t);
    CHECK(r.has_hash && r.hash == xx("abc"));
    CHECK_EQ_INT(r.n_set_cookies, 0);
    treq_dispose(&t);
    treq_init(&t, "GET", "x", "/ck");
    treq_add(&t, "cookie", "stickyx=no");
    treq_add(&t, "cookie", "  sticky=v2");
    r = eval("ck", &t);
    CHECK(r.hash == xx("v2"));
    CHECK(xg_hash_cookie_value(&t.h, "nope", 4, &(xg_hstr){0}) == false);
    treq_dispose(&t);
}

XG_TEST(missing_cookie_is_generated_and_pins)
{
    treq t;
    treq_init(&t, "GET", "x", "/ck");
    xg_hash_result r = eval("ck", &t);
    if (!CHECK(r.has_hash && r.n_set_cookies == 1))
        return;
    char want_val[17];
    const char *both = "192.0.2.7:555510.0.0.1:8080";
    snprintf(want_val, sizeof want_val, "%016llx", (unsigned long long)XXH64(both, strlen(both), 0));
    char want[256];
    snprintf(want, sizeof want, "sticky=\"%s\"; Max-Age=3600; Path=/app; SameSite=Lax; Secure; HttpOnly", want_val);
    CHECK_EQ_INT(r.set_cookies[0].len, strlen(want));
    CHECK(memcmp(r.set_cookies[0].s, want, strlen(want)) == 0);
    uint64_t h = r.hash;
    CHECK(h == xx(want_val));
    treq_dispose(&t);
    /* The client sends it back: same hash, nothing generated. */
    treq_init(&t, "GET", "x", "/ck");
    char back[64];
    snprintf(back, sizeof back, "sticky=\"%s\"", want_val);
    treq_add(&t, "cookie", back);
    r = eval("ck", &t);
    CHECK(r.hash == h && r.n_set_cookies == 0);
    treq_dispose(&t);
    /* An empty cookie counts as absent. */
    treq_init(&t, "GET", "x", "/ck");
    treq_add(&t, "cookie", "sticky=");
    r = eval("ck", &t);
    CHECK(r.n_set_cookies == 1 && r.hash == h);
    treq_dispose(&t);
}

XG_TEST(session_cookie_and_no_ttl)
{
    treq t;
    treq_init(&t, "GET", "x", "/session");
    xg_hash_result r = eval("session", &t);
    CHECK(r.has_hash && r.n_set_cookies == 1);
    CHECK(r.n_set_cookies == 1 && memmem(r.set_cookies[0].s, r.set_cookies[0].len, "Max-Age", 7) == NULL);
    r = eval("nogen", &t);
    CHECK(!r.has_hash && r.n_set_cookies == 0);
    treq_dispose(&t);
}

XG_TEST(source_ip_without_port)
{
    treq t;
    treq_init(&t, "GET", "x", "/ip");
    xg_hash_result r = eval("ip", &t);
    CHECK(r.has_hash && r.hash == xx("192.0.2.7"));
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(1)};
    inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
    xg_hash_input in = {&t.h, (struct sockaddr *)&v6, NULL, &t.arena};
    const xg_route_forward *f = fw("ip");
    CHECK_EQ_INT(xg_hash_policy_eval(f->cold->hash_policies, f->cold->n_hash_policies, &in, &r), 0);
    CHECK(r.has_hash && r.hash == xx("2001:db8::1"));
    in.remote = NULL;
    CHECK_EQ_INT(xg_hash_policy_eval(f->cold->hash_policies, f->cold->n_hash_policies, &in, &r), 0);
    CHECK(!r.has_hash);
    treq_dispose(&t);
}

XG_TEST(query_parameter_first_value_not_decoded)
{
    static const struct {
        const char *path;
        const char *value; /* NULL: no hash */
    } cases[] = {
        {"/q?user=bob", "bob"}, {"/q?a=1&user=bob&user=eve", "bob"},
        {"/q?user", ""},        {"/q?user=b%20b", "b%20b"},
        {"/q?users=bob", NULL}, {"/q", NULL},
        {"/q?x=1&user=", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        treq t;
        treq_init(&t, "GET", "x", cases[i].path);
        xg_hash_result r = eval("q", &t);
        if (!CHECK(r.has_hash == (cases[i].value != NULL)))
            fprintf(stderr, "  path %s\n", cases[i].path);
        if (cases[i].value != NULL)
            CHECK(r.hash == xx(cases[i].value));
        treq_dispose(&t);
    }
}

XG_TEST(policies_combine_and_terminal_stops)
{
    treq t;
    treq_init(&t, "GET", "x", "/two");
    treq_add(&t, "x-a", "1");
    treq_add(&t, "x-b", "2");
    xg_hash_result r = eval("two", &t);
    CHECK(r.hash == (rotl1(xx("1")) ^ xx("2")));
    r = eval("term", &t);
    CHECK(r.hash == xx("1")); /* x-a produced a hash: x-b is not consulted */
    treq_dispose(&t);
    treq_init(&t, "GET", "x", "/term");
    treq_add(&t, "x-b", "2");
    r = eval("term", &t);
    CHECK(r.has_hash && r.hash == xx("2")); /* terminal without a hash goes on */
    treq_dispose(&t);
    xg_res_unref(routes);
}
