/* Test helpers for the balancer unit tests (test_lb_*.c): stand-alone hosts
 * with real addresses (the hash-based policies hash "ip:port"), index
 * lookups and pick counting. Each test file is its own process. */
#ifndef XG_TEST_LB_UTIL_H
#define XG_TEST_LB_UTIL_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster/lb.h"
#include "cluster/lb_table.h"

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

/* Two workers' balancers of a hashed policy vt over hosts with the same
 * addresses and weights but their own host objects share one table: each
 * picks its own host at the same index for every key, a different weight
 * makes another table, and the last one to go frees them. 0 when all holds,
 * else the line of the first failed check. */
__attribute__((unused)) static int lu_check_shared_table(const xg_lb_vt *vt, const xg_lb_config *cfg)
{
    enum { N = 5, K = 2000 };
    xg_rng rng;
    xg_rng_seed(&rng, 11);
    xg_host *a[N], *b[N], *pa[K], *pb[K];
    lu_hosts(a, N);
    lu_hosts(b, N);
    int failed = 0;
    uint32_t live0 = xg_lb_table_live();
    xg_lb *la = lu_lb(vt, cfg, a, N, &rng), *lb = lu_lb(vt, cfg, b, N, &rng);
    if (la == NULL || lb == NULL || xg_lb_table_live() != live0 + 1)
        failed = __LINE__;
    lu_hash_picks(la, K, pa);
    lu_hash_picks(lb, K, pb);
    for (int k = 0; k < K && failed == 0; k++)
        if (lu_index(a, N, pa[k]) < 0 || lu_index(a, N, pa[k]) != lu_index(b, N, pb[k]))
            failed = __LINE__;
    b[2]->weight = 3;
    xg_lb *lc = lu_lb(vt, cfg, b, N, &rng);
    if (failed == 0 && (lc == NULL || xg_lb_table_live() != live0 + 2))
        failed = __LINE__;
    xg_lb_destroy(la);
    xg_lb_destroy(lc);
    if (failed == 0 && xg_lb_table_live() != live0 + 1)
        failed = __LINE__;
    lu_hash_picks(lb, K, pb); /* still valid after the other holder went */
    for (int k = 0; k < K && failed == 0; k++)
        if (lu_index(b, N, pb[k]) != lu_index(a, N, pa[k]))
            failed = __LINE__;
    xg_lb_destroy(lb);
    if (failed == 0 && xg_lb_table_live() != live0)
        failed = __LINE__;
    lu_free(a, N);
    lu_free(b, N);
    return failed;
}

#endif
