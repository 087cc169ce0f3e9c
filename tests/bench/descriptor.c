/* Benchmark (make bench, not a test): what building rate-limit descriptors
 * (ratelimit/descriptor.h) costs a request, as a rate-limit filter calls it
 * once per request in the stream's arena (reset between requests, as a
 * recycled stream's is). Cases: a route without rate_limits; one rate
 * limit with a request header and a generic key (the usual "per client"
 * shape); three rate limits (header + generic key, remote address, a
 * percent-decoded query parameter). Prints nanoseconds per build. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ratelimit/descriptor.h"

#define N 5000000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const xg_rl_action per_client[] = {
    {.kind = XG_RL_REQUEST_HEADERS, .descriptor_key = "client", .header_name = {"x-client", 8}},
    {.kind = XG_RL_GENERIC_KEY, .descriptor_key = "generic_key", .descriptor_value = "api"},
};
static const xg_rl_action by_addr[] = {{.kind = XG_RL_REMOTE_ADDRESS, .descriptor_key = "remote_address"}};
static const xg_rl_action by_query[] = {
    {.kind = XG_RL_QUERY_PARAMETERS, .descriptor_key = "user", .query_name = {"user", 4}}};

static const xg_rate_limit one[] = {{.actions = per_client, .n_actions = 2}};
static const xg_rate_limit three[] = {
    {.actions = per_client, .n_actions = 2},
    {.actions = by_addr, .n_actions = 1},
    {.actions = by_query, .n_actions = 1},
};

static double run(const xg_rate_limit *rl, size_t n, const xg_headers *h, const struct sockaddr *remote,
                  xg_arena *a)
{
    xg_route_forward_cold cold = xg_route_forward_cold_default;
    cold.rate_limits = (xg_rate_limits){rl, n};
    xg_route route = {.action = XG_ROUTE_FORWARD, .cold = &xg_route_cold_default};
    route.forward.cluster_kind = XG_CLUSTER_NAME;
    route.forward.cluster = "backend";
    route.forward.cold = &cold;
    xg_rl_request r = {.route = &route, .headers = h, .remote = remote, .local_cluster = "edge", .arena = a};
    xg_rl_descriptors out;
    uint64_t entries = 0;
    double t0 = now_ns();
    for (long i = 0; i < N; i++) {
        if (xg_rl_descriptors_build_req(&r, 0, XG_VH_RL_OVERRIDE, &out) != 0)
            return -1;
        entries += out.n;
        xg_arena_reset(a);
    }
    double ns = (now_ns() - t0) / N;
    return entries == (uint64_t)N * (n == 0 ? 0 : n) ? ns : -1;
}

int main(void)
{
    xg_arena ha, a;
    xg_arena_init(&ha, 0);
    xg_arena_init(&a, 8192);
    xg_headers h;
    xg_headers_init(&h, &ha);
    xg_headers_set_pseudo(&h, ":method", 7, "GET", 3);
    xg_headers_set_pseudo(&h, ":path", 5, "/api/v1/items?page=2&user=al%69ce", 33);
    xg_headers_add_copy(&h, "user-agent", 10, "curl/8", 6);
    xg_headers_add_copy(&h, "accept", 6, "*/*", 3);
    xg_headers_add_copy(&h, "x-client", 8, "tenant-42", 9);
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
    printf("descriptor build, no rate_limits:                 %.1f ns\n", run(NULL, 0, &h, (void *)&in, &a));
    printf("descriptor build, 1 rate limit (header + key):    %.1f ns\n", run(one, 1, &h, (void *)&in, &a));
    printf("descriptor build, 3 rate limits (+ addr, query):  %.1f ns\n", run(three, 3, &h, (void *)&in, &a));
    xg_arena_dispose(&a);
    xg_arena_dispose(&ha);
    return 0;
}
