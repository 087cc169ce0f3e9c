/* A small, fast pseudo-random generator (xoshiro256**, seeded through
 * splitmix64) for load-balancing choices: random starting points, RANDOM and
 * LEAST_REQUEST picks, jitter. Not for anything secret. One per worker: no
 * locks, no shared state; tests seed it for repeatable sequences. */
#ifndef XG_CLUSTER_RNG_H
#define XG_CLUSTER_RNG_H

#include <stdint.h>

typedef struct xg_rng {
    uint64_t s[4];
} xg_rng;

static inline uint64_t xg__splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Any seed is fine, 0 included. */
static inline void xg_rng_seed(xg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = xg__splitmix64(&seed);
}

static inline uint64_t xg__rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t xg_rng_next(xg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = xg__rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = xg__rotl64(s[3], 45);
    return result;
}

/* Uniform in [0, n) for n >= 1 (Lemire's multiply-shift; the bias is below
 * 2^-32 for the host counts a balancer sees). */
static inline uint64_t xg_rng_below(xg_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)xg_rng_next(r) * n) >> 64);
}

#endif
