/* DNS queries and the defensive parse of answers (dns_wire.h). Names are
 * compared as lowercase dotted text; a label holding a dot, a space or a
 * non-printable byte makes the message malformed rather than risk two
 * different names reading alike. Compression pointers must point strictly
 * before the place they were read from, so no pointer chain can loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/dns_wire.h"
#include "core/error.h"

#define HDR 12
#define MAX_RECORDS 512 /* answer records looked at; the rest are ignored */
#define MAX_CHAIN 16    /* CNAME hops followed */
#define NAME_BUF 256    /* a 255-byte wire name is at most 253 characters of text */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool xg_dns_name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 0 && a[la - 1] == '.')
        la--;
    if (lb > 0 && b[lb - 1] == '.')
        lb--;
    if (la != lb)
        return false;
    for (size_t i = 0; i < la; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* --- building --- */

int xg_dns_query_build(uint16_t id, const char *name, uint16_t qtype, uint8_t *buf, size_t cap, size_t *len)
{
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--;
    if (n == 0 || n > 253 || cap < HDR + n + 2 + 4)
        return XG_EINVAL;
    memset(buf, 0, HDR);
    put16(buf, id);
    buf[2] = 0x01; /* RD */
    put16(buf + 4, 1);
    size_t o = HDR;
    for (size_t i = 0; i < n;) {
        const char *dot = memchr(name + i, '.', n - i);
        size_t l = dot != NULL ? (size_t)(dot - (name + i)) : n - i;
        if (l == 0 || l > 63)
            return XG_EINVAL;
        buf[o++] = (uint8_t)l;
        memcpy(buf + o, name + i, l);
        o += l;
        i += l + 1;
        if (dot != NULL && i == n)
            return XG_EINVAL; /* "a..": an empty last label */
    }
    buf[o++] = 0;
    put16(buf + o, qtype);
    put16(buf + o + 2, 1); /* IN */
    *len = o + 4;
    return 0;
}

/* --- names --- */

static bool label_byte_ok(uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != '.';
}

/* Reads the name at *off into out (lowercase, dotted, no final dot; "" for
 * the root) and moves *off past it as written there. */
static int read_name(const uint8_t *m, size_t len, size_t *off, char out[NAME_BUF])
{
    size_t pos = *off, limit = *off, o = 0, wire = 1;
    bool jumped = false;
    for (;;) {
        if (pos >= len)
            return XG_EINVAL;
        uint8_t b = m[pos];
        if (b == 0) {
            if (!jumped)
                *off = pos + 1;
            out[o] = '\0';
            return 0;
        }
        if ((b & 0xC0) == 0xC0) {
            if (pos + 1 >= len)
                return XG_EINVAL;
            size_t to = (size_t)(b & 0x3F) << 8 | m[pos + 1];
            if (to >= limit)
                return XG_EINVAL; /* forwards or onto itself: could loop */
            if (!jumped)
                *off = pos + 2;
            jumped = true;
            pos = limit = to;
            continue;
        }
        if ((b & 0xC0) != 0 || pos + 1 + b > len)
            return XG_EINVAL;
        wire += 1u + b;
        if (wire > 255)
            return XG_EINVAL;
        if (o > 0)
            out[o++] = '.';
        for (size_t i = 0; i < b; i++) {
            uint8_t c = m[pos + 1 + i];
            if (!label_byte_ok(c))
                return XG_EINVAL;
            out[o++] = lower((char)c);
        }
        pos += 1u + b;
    }
}

/* The query name as read_name would print it. */
static void normalise(const char *name, char out[NAME_BUF])
{
    size_t n = strlen(name), o = 0;
    if (n > 0 && name[n - 1] == '.')
        n--;
    for (size_t i = 0; i < n && o + 1 < NAME_BUF; i++)
        out[o++] = lower(name[i]);
    out[o] = '\0';
}

/* --- records --- */

typedef struct rr {
    char owner[NAME_BUF];
    char target[NAME_BUF]; /* CNAME */
    uint16_t type;
    uint32_t ttl;
    size_t rdata;
    uint16_t rdlen;
} rr;

static uint32_t ttl_of(const uint8_t *p)
{
    uint32_t t = get32(p);
    return t > 0x7fffffffu ? 0 : t; /* RFC 2181 8: a TTL with the top bit set means 0 */
}

/* Reads one answer record at *off; *keep: it is an A, AAAA or CNAME of
 * class IN (others are skipped). */
static int read_rr(const uint8_t *m, size_t len, size_t *off, rr *r, bool *keep)
{
    int rc = read_name(m, len, off, r->owner);
    if (rc != 0 || *off + 10 > len)
        return XG_EINVAL;
    const uint8_t *p = m + *off;
    r->type = get16(p);
    uint16_t cls = get16(p + 2);
    r->ttl = ttl_of(p + 4);
    r->rdlen = get16(p + 8);
    r->rdata = *off + 10;
    if (r->rdata + r->rdlen > len)
        return XG_EINVAL;
    *off = r->rdata + r->rdlen;
    *keep = cls == 1 && (r->type == XG_DNS_T_A || r->type == XG_DNS_T_AAAA || r->type == XG_DNS_T_CNAME);
    if (!*keep)
        return 0;
    if ((r->type == XG_DNS_T_A && r->rdlen != 4) || (r->type == XG_DNS_T_AAAA && r->rdlen != 16))
        return XG_EINVAL;
    if (r->type == XG_DNS_T_CNAME) {
        size_t t = r->rdata;
        if (read_name(m, len, &t, r->target) != 0 || t != r->rdata + r->rdlen)
            return XG_EINVAL;
    }
    return 0;
}

static bool in_chain(char chain[][NAME_BUF], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(chain[i], name) == 0)
            return true;
    return false;
}

static void add_addr(xg_dns_reply *out, const uint8_t *a, size_t alen)
{
    if (out->n >= XG_DNS_MAX_ADDRS)
        return;
    for (uint32_t i = 0; i < out->n; i++)
        if (memcmp(out->addr[i], a, alen) == 0)
            return;
    memset(out->addr[out->n], 0, 16);
    memcpy(out->addr[out->n++], a, alen);
}

static void use_ttl(xg_dns_reply *out, bool *any, uint32_t ttl)
{
    if (!*any || ttl < out->ttl)
        out->ttl = ttl;
    *any = true;
}

/* The names the question reaches through CNAMEs (chain[0] is the question),
 * then the addresses of those names. */
static void collect(const uint8_t *m, rr *v, size_t n, const char *qname, uint16_t qtype, xg_dns_reply *out)
{
    char chain[MAX_CHAIN + 1][NAME_BUF];
    size_t nc = 1;
    bool any = false;
    snprintf(chain[0], NAME_BUF, "%s", qname);
    for (bool grew = true; grew && nc <= MAX_CHAIN;) {
        grew = false;
        for (size_t i = 0; i < n && nc <= MAX_CHAIN; i++) {
            if (v[i].type != XG_DNS_T_CNAME || strcmp(v[i].owner, chain[nc - 1]) != 0 ||
                in_chain(chain, nc, v[i].target))
                continue;
            snprintf(chain[nc++], NAME_BUF, "%s", v[i].target);
            use_ttl(out, &any, v[i].ttl);
            grew = true;
        }
    }
    size_t alen = qtype == XG_DNS_T_A ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        if (v[i].type == qtype && in_chain(chain, nc, v[i].owner)) {
            add_addr(out, m + v[i].rdata, alen);
            use_ttl(out, &any, v[i].ttl);
        }
    if (out->n == 0)
        out->ttl = 0;
}

static int read_answers(const uint8_t *m, size_t len, size_t off, size_t ancount, const char *qname, uint16_t qtype,
                        xg_dns_reply *out)
{
    size_t cap = ancount < MAX_RECORDS ? ancount : MAX_RECORDS;
    rr *v = cap > 0 ? malloc(cap * sizeof *v) : NULL;
    if (cap > 0 && v == NULL)
        return XG_ENOMEM;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < cap && rc == 0; i++) {
        bool keep = false;
        rc = read_rr(m, len, &off, &v[n], &keep);
        if (rc == 0 && keep)
            n++;
    }
    if (rc == 0)
        collect(m, v, n, qname, qtype, out);
    free(v);
    return rc;
}

/* The question must be ours; a server that drops it may only do so when
 * refusing or failing (then it carries nothing we would use). */
static int check_question(const uint8_t *m, size_t len, size_t *off, const char *qname, uint16_t qtype, int rcode,
                          uint16_t qdcount)
{
    if (qdcount == 0)
        return rcode == XG_DNS_NOERROR || rcode == XG_DNS_NXDOMAIN ? XG_ENOENT : 0;
    if (qdcount != 1)
        return XG_ENOENT;
    char got[NAME_BUF];
    if (read_name(m, len, off, got) != 0 || *off + 4 > len)
        return XG_EINVAL;
    bool same = strcmp(got, qname) == 0 && get16(m + *off) == qtype && get16(m + *off + 2) == 1;
    *off += 4;
    return same ? 0 : XG_ENOENT;
}

int xg_dns_reply_parse(const uint8_t *msg, size_t len, uint16_t id, const char *name, uint16_t qtype, xg_dns_reply *out)
{
    memset(out, 0, offsetof(xg_dns_reply, addr));
    out->ttl = 0;
    if (len < HDR || get16(msg) != id || (msg[2] & 0x80) == 0 || (msg[2] & 0x78) != 0)
        return XG_ENOENT; /* too short to be anything, not our id, not a response, or not a standard query */
    char qname[NAME_BUF];
    normalise(name, qname);
    out->rcode = msg[3] & 0x0F;
    out->truncated = (msg[2] & 0x02) != 0;
    size_t off = HDR;
    int rc = check_question(msg, len, &off, qname, qtype, out->rcode, get16(msg + 4));
    if (rc != 0 || out->truncated || out->rcode != XG_DNS_NOERROR)
        return rc;
    return read_answers(msg, len, off, get16(msg + 6), qname, qtype, out);
}
