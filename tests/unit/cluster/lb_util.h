/* Test helpers for the balancer unit tests (test_lb_*.c): stand-alone hosts
 * with real addresses (the hash-based policies hash "ip:port"), index
 * lookups and pick counting. Each test file is its own process. */
#ifndef XG_TEST_LB_UTIL_H
#define XG_TEST_LB_UTIL_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster/lb.h"

/* A host ip:port of that weight, owned by the test (free()). */
__attribute__((unused)) static xg_host *lu_host(const char *ip, uint16_t port, uint32_t weight)
{
    xg_host *h = calloc(1, sizeof *h);
    struct sockaddr_in *in = (struct sockaddr_in *)&h->addr;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    h->addrlen = sizeof *in;
    snprintf(h->addr_str, sizeof h->addr_str, "%s:%u", ip, (unsigned)port);
    h->weight = weight;
    h->refs = 1;
    return h;
}

/* n hosts 10.0.<i/256>.<i%256>:8080 with weight 1 into hs. */
__attribute__((unused)) static void lu_hosts(xg_host **hs, int n)
{
    for (int i = 0; i < n; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.%d.%d", i / 256, i % 256);
        hs[i] = lu_host(ip, 8080, 1);
    }
}

__attribute__((unused)) static void lu_free(xg_host **hs, int n)
{
    for (int i = 0; i < n; i++)
        free(hs[i]);
}

__attribute__((unused)) static int lu_index(xg_host *const *hs, int n, const xg_host *h)
{
    for (int i = 0; i < n; i++)
        if (hs[i] == h)
            return i;
    return -1;
}

/* A balancer of vt over hs[0..n) with cfg (NULL: defaults) and no previous one. */
__attribute__((unused)) static xg_lb *lu_lb(const xg_lb_vt *vt, const xg_lb_config *cfg, xg_host **hs, int n,
                                            xg_rng *rng)
{
    static const xg_lb_config dflt = {.choice_count = 2,
                                      .active_request_bias = 1.0,
                                      .ring_min = 1024,
                                      .ring_max = 8388608,
                                      .maglev_table_size = 65537,
                                      .healthy_panic_threshold = 50};
    xg_lb_hosts in = {hs, NULL, (size_t)n};
    xg_lb *lb = NULL;
    if (vt->init(&lb, cfg != NULL ? cfg : &dflt, &in, NULL, rng) != 0)
        return NULL;
    return lb;
}

/* The picks of lb for keys 0..k-1 hashed (ctx.hash = splitmix of the key). */
__attribute__((unused)) static void lu_hash_picks(xg_lb *lb, int k, xg_host **out)
{
    for (int i = 0; i < k; i++) {
        uint64_t x = (uint64_t)i;
        xg_lb_ctx c = {.hash = xg__splitmix64(&x), .has_hash = true};
        out[i] = xg_lb_pick(lb, &c);
    }
}

/* Compares the picks of before and after (the same hosts but removed) for
 * keys 0..k-1: returns how many keys moved; *on_removed gets how many were
 * on removed before. Every key must have left removed. */
__attribute__((unused)) static int lu_moved(xg_lb *before, xg_lb *after, const xg_host *removed, int k, int *on_removed,
                                            int *still_on_removed)
{
    xg_host **a = malloc((size_t)k * sizeof *a), **b = malloc((size_t)k * sizeof *b);
    lu_hash_picks(before, k, a);
    lu_hash_picks(after, k, b);
    int moved = 0;
    *on_removed = *still_on_removed = 0;
    for (int i = 0; i < k; i++) {
        moved += a[i] != b[i];
        *on_removed += a[i] == removed;
        *still_on_removed += b[i] == removed;
    }
    free(a);
    free(b);
    return moved;
}

#endif
