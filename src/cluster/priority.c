/* Priority loads and panic mode (priority.h): Envoy's LoadBalancerBase
 * arithmetic on integer percentages, so that the same health mix gives the
 * same split as in Envoy. */
#include "cluster/priority.h"

static uint32_t min_u32(uint64_t a, uint32_t b)
{
    return a < b ? (uint32_t)a : b;
}

/* Hosts that count: those waiting for their first check do not. */
static uint32_t counted(const xg_host_set *s)
{
    return s->n - s->n_excluded;
}

/* The set's health (or degraded) availability, 0..100. */
static uint32_t avail(const xg_host_set *s, bool degraded)
{
    uint32_t c = counted(s);
    return c == 0 ? 0 : min_u32((uint64_t)s->overprovisioning * (degraded ? s->n_degraded : s->n_healthy) / c, 100);
}

/* Envoy's distributeLoad: as much of *total as each priority's availability
 * (normalised to norm) allows, highest priority first. Returns the first
 * priority with some availability, or -1. */
static int distribute(xg_host_set *sets, uint32_t n, bool degraded, uint32_t *total, uint32_t norm)
{
    int first = -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = avail(&sets[i], degraded);
        if (first < 0 && a > 0)
            first = (int)i;
        uint32_t load = min_u32((uint64_t)a * 100 / norm, *total);
        *(degraded ? &sets[i].load_degraded : &sets[i].load_healthy) = (uint8_t)load;
        *total -= load;
    }
    return first;
}

static void spread_by_health(xg_host_set *sets, uint32_t n, uint32_t norm)
{
    uint32_t total = 100;
    int first_h = distribute(sets, n, false, &total, norm);
    int first_d = distribute(sets, n, true, &total, norm);
    /* Rounding leftovers go to the first available priority. */
    if (total > 0 && first_h >= 0)
        sets[first_h].load_healthy += (uint8_t)total;
    else if (total > 0 && first_d >= 0)
        sets[first_d].load_degraded += (uint8_t)total;
}

/* Envoy's isHostSetInPanic: too few usable hosts (an empty set always). */
static bool in_panic(const xg_host_set *s, uint32_t threshold)
{
    uint32_t c = counted(s);
    double usable = c == 0 ? 0.0 : 100.0 * s->n_healthy / c + 100.0 * s->n_degraded / c;
    return usable < threshold;
}

/* Every priority in panic: shares follow host counts, whatever their health. */
static void spread_by_hosts(xg_host_set *sets, uint32_t n)
{
    uint64_t all = 0;
    for (uint32_t i = 0; i < n; i++)
        all += sets[i].n;
    uint32_t total = 100;
    int first = all == 0 ? 0 : -1;
    for (uint32_t i = 0; all > 0 && i < n; i++) {
        if (first < 0 && sets[i].n > 0)
            first = (int)i;
        sets[i].load_healthy = (uint8_t)(100 * (uint64_t)sets[i].n / all);
        sets[i].load_degraded = 0;
        total -= sets[i].load_healthy;
    }
    sets[first].load_healthy += (uint8_t)total;
}

void xg_prio_update(xg_host_set *sets, uint32_t n, uint32_t threshold)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sets[i].load_healthy = sets[i].load_degraded = 0;
        sets[i].panic = false;
        sum += avail(&sets[i], false) + avail(&sets[i], true);
    }
    uint32_t norm = min_u32(sum, 100);
    if (norm > 0)
        spread_by_health(sets, n, norm);
    if (threshold == 0 && norm == 0) {
        sets[0].load_healthy = 100; /* panic disabled: nothing to pick from */
        return;
    }
    bool all = true;
    for (uint32_t i = 0; i < n; i++) {
        /* Enough capacity overall: no priority panics, however few its hosts. */
        sets[i].panic = norm < 100 && in_panic(&sets[i], threshold);
        all = all && sets[i].panic;
    }
    if (all)
        spread_by_hosts(sets, n);
}

uint32_t xg_prio_choose(const xg_host_set *sets, uint32_t n, uint64_t h, bool *degraded)
{
    uint32_t v = (uint32_t)(h % 100) + 1, acc = 0;
    *degraded = false;
    for (uint32_t i = 0; i < n; i++)
        if (v <= (acc += sets[i].load_healthy))
            return i;
    *degraded = true;
    for (uint32_t i = 0; i < n; i++)
        if (v <= (acc += sets[i].load_degraded))
            return i;
    *degraded = false;
    return 0; /* the loads did not add up (an overprovisioning factor below 100): P0 */
}
