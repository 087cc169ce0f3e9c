/* Crafting DNS messages for the resolver tests: a byte buffer with helpers
 * for the header, names (plain labels or compression pointers) and
 * resource records, so each test writes exactly the bytes it means,
 * malformed ones included. Test code only. */
#ifndef XG_TEST_DNS_PACKETS_H
#define XG_TEST_DNS_PACKETS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct pk {
    uint8_t b[70000];
    size_t n;
} pk;

static inline void pk_u8(pk *p, unsigned v)
{
    p->b[p->n++] = (uint8_t)v;
}

static inline void pk_u16(pk *p, unsigned v)
{
    pk_u8(p, v >> 8);
    pk_u8(p, v);
}

static inline void pk_u32(pk *p, uint32_t v)
{
    pk_u16(p, v >> 16);
    pk_u16(p, v & 0xffff);
}

static inline void pk_bytes(pk *p, const void *v, size_t n)
{
    memcpy(p->b + p->n, v, n);
    p->n += n;
}

/* flags: the 16 bits after the id (0x8180: a response, RD and RA, NOERROR). */
static inline void pk_hdr(pk *p, unsigned id, unsigned flags, unsigned qd, unsigned an)
{
    p->n = 0;
    pk_u16(p, id);
    pk_u16(p, flags);
    pk_u16(p, qd);
    pk_u16(p, an);
    pk_u16(p, 0);
    pk_u16(p, 0);
}

/* Labels of a dotted name, then the root label when end_with_root. */
static inline void pk_labels(pk *p, const char *name, bool end_with_root)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        pk_u8(p, (unsigned)l);
        pk_bytes(p, name, l);
        name += l + (dot ? 1 : 0);
    }
    if (end_with_root)
        pk_u8(p, 0);
}

static inline void pk_name(pk *p, const char *name)
{
    pk_labels(p, name, true);
}

static inline void pk_ptr(pk *p, unsigned off)
{
    pk_u16(p, 0xC000 | off);
}

static inline void pk_question(pk *p, const char *name, unsigned qtype)
{
    pk_name(p, name);
    pk_u16(p, qtype);
    pk_u16(p, 1);
}

/* The fixed part of a record after its owner name. */
static inline void pk_rr_head(pk *p, unsigned type, uint32_t ttl, unsigned rdlen)
{
    pk_u16(p, type);
    pk_u16(p, 1);
    pk_u32(p, ttl);
    pk_u16(p, rdlen);
}

static inline void pk_a(pk *p, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    pk_rr_head(p, 1, ttl, 4);
    pk_u8(p, a);
    pk_u8(p, b);
    pk_u8(p, c);
    pk_u8(p, d);
}

static inline void pk_aaaa(pk *p, uint32_t ttl, uint8_t last)
{
    uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
    pk_rr_head(p, 28, ttl, 16);
    pk_bytes(p, v6, 16);
}

/* A CNAME record whose target is written plainly. */
static inline void pk_cname(pk *p, uint32_t ttl, const char *target)
{
    size_t at = p->n;
    pk_rr_head(p, 5, ttl, 0);
    size_t start = p->n;
    pk_name(p, target);
    unsigned len = (unsigned)(p->n - start);
    p->b[at + 8] = (uint8_t)(len >> 8);
    p->b[at + 9] = (uint8_t)len;
}

#endif
