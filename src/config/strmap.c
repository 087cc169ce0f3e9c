/* Open-addressing string map with linear probing (config/strmap.h). */
#include <string.h>

#include "config/matcher.h"
#include "config/strmap.h"
#include "core/error.h"

static inline unsigned char fold(unsigned char c, bool nocase)
{
    return (nocase && c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* FNV-1a, 64-bit: keys are short host names and paths. */
static uint64_t hash_of(const char *s, size_t len, bool nocase)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ fold((unsigned char)s[i], nocase)) * 0x100000001b3ULL;
    return h;
}

static bool key_eq(const xg_strmap *m, const xg_strmap_slot *s, const char *key, size_t len, uint64_t h)
{
    if (s->hash != h || s->len != len)
        return false;
    return m->nocase ? xg_ascii_eq_nocase(s->key, key, len) : memcmp(s->key, key, len) == 0;
}

const void *xg_strmap_get(const xg_strmap *m, const char *key, size_t len)
{
    if (m->n == 0)
        return NULL;
    uint64_t h = hash_of(key, len, m->nocase);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const xg_strmap_slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (key_eq(m, s, key, len, h))
            return s->value;
    }
}

int xg_strmap_build(xg_strmap *m, xg_arena *a, const char *const *keys, const size_t *lens, const void *const *values,
                    size_t n, bool nocase, size_t *dup)
{
    memset(m, 0, sizeof(*m));
    m->nocase = nocase;
    if (n == 0)
        return 0;
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    m->slots = xg_arena_calloc(a, cap, sizeof(*m->slots));
    if (m->slots == NULL)
        return XG_ENOMEM;
    m->mask = cap - 1;
    for (size_t k = 0; k < n; k++) {
        uint64_t h = hash_of(keys[k], lens[k], nocase);
        size_t i = h & m->mask;
        for (; m->slots[i].key != NULL; i = (i + 1) & m->mask) {
            if (key_eq(m, &m->slots[i], keys[k], lens[k], h)) {
                if (dup != NULL)
                    *dup = k;
                return XG_EEXIST;
            }
        }
        m->slots[i] = (xg_strmap_slot){.key = keys[k], .len = lens[k], .hash = h, .value = values[k]};
        m->n++;
    }
    return 0;
}
