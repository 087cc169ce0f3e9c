/* Unit tests for src/cluster/dns_wire.c with crafted packets: queries as
 * sent, answers taken (A, AAAA, CNAME chains, TTLs, duplicates, the address
 * cap), answers that are not ours (id, question, not a response), and
 * malformed or hostile ones (compression loops and forward pointers,
 * truncation anywhere, bad record lengths, over-long names, odd label
 * bytes), plus a fixed-seed mutation run that must never crash. */
#include <stdlib.h>

#include "cluster/dns_packets.h"
#include "cluster/dns_wire.h"
#include "core/error.h"
#include "xg_test.h"

static pk p;
static xg_dns_reply r;

static int parse(const char *name, unsigned qtype)
{
    return xg_dns_reply_parse(p.b, p.n, 0x1234, name, (uint16_t)qtype, &r);
}

/* A NOERROR answer header and the question for name/qtype; answers follow. */
static void answer(const char *name, unsigned qtype, unsigned an)
{
    pk_hdr(&p, 0x1234, 0x8180, 1, an);
    pk_question(&p, name, qtype);
}

XG_TEST(query_bytes)
{
    uint8_t b[XG_DNS_QUERY_MAX];
    size_t n = 0;
    CHECK_EQ_INT(xg_dns_query_build(0xabcd, "svc.Test.", XG_DNS_T_AAAA, b, sizeof b, &n), 0);
    static const uint8_t want[] = {0xab, 0xcd, 0x01, 0x00, 0,   1,   0,   0,   0, 0, 0,  0, 3,
                                   's',  'v',  'c',  4,    'T', 'e', 's', 't', 0, 0, 28, 0, 1};
    CHECK_EQ_INT(n, sizeof want);
    CHECK(memcmp(b, want, sizeof want) == 0);
    char long_label[80], long_name[300];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    CHECK_EQ_INT(xg_dns_query_build(1, long_label, 1, b, sizeof b, &n), XG_EINVAL);
    for (int i = 0; i < 127; i++)
        memcpy(long_name + 2 * i, "a.", 2);
    long_name[254] = '\0'; /* 127 labels and a final dot: 253 characters, the most there may be */
    CHECK_EQ_INT(xg_dns_query_build(1, long_name, 1, b, sizeof b, &n), 0);
    CHECK_EQ_INT(n, 12 + 255 + 4);
    long_name[254] = 'a'; /* 128 labels: 255 characters */
    long_name[255] = '\0';
    CHECK_EQ_INT(xg_dns_query_build(1, long_name, 1, b, sizeof b, &n), XG_EINVAL);
    CHECK_EQ_INT(xg_dns_query_build(1, "a..b", 1, b, sizeof b, &n), XG_EINVAL);
    CHECK_EQ_INT(xg_dns_query_build(1, ".", 1, b, sizeof b, &n), XG_EINVAL);
    CHECK_EQ_INT(xg_dns_query_build(1, "", 1, b, sizeof b, &n), XG_EINVAL);
    CHECK_EQ_INT(xg_dns_query_build(1, "a.b", 1, b, 10, &n), XG_EINVAL);
}

XG_TEST(a_records_with_compression_and_the_smallest_ttl)
{
    answer("svc.test", 1, 3);
    pk_ptr(&p, 12);
    pk_a(&p, 30, 10, 0, 0, 1);
    pk_ptr(&p, 12);
    pk_a(&p, 7, 10, 0, 0, 2);
    pk_ptr(&p, 12);
    pk_a(&p, 30, 10, 0, 0, 1); /* a duplicate counts once */
    CHECK_EQ_INT(parse("SVC.test.", 1), 0);
    CHECK_EQ_INT(r.rcode, XG_DNS_NOERROR);
    CHECK_EQ_INT(r.n, 2);
    CHECK(memcmp(r.addr[0], "\x0a\x00\x00\x01", 4) == 0 && memcmp(r.addr[1], "\x0a\x00\x00\x02", 4) == 0);
    CHECK_EQ_INT(r.ttl, 7);
}

XG_TEST(aaaa_records_and_other_types_skipped)
{
    answer("v6.test", 28, 3);
    pk_ptr(&p, 12);
    pk_rr_head(&p, 16, 5, 3); /* a TXT record: skipped */
    pk_bytes(&p, "\x02hi", 3);
    pk_ptr(&p, 12);
    pk_aaaa(&p, 60, 1);
    pk_ptr(&p, 12);
    pk_a(&p, 1, 1, 2, 3, 4); /* not the type asked: ignored */
    CHECK_EQ_INT(parse("v6.test", 28), 0);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.addr[0][0], 0xfd);
    CHECK_EQ_INT(r.addr[0][15], 1);
    CHECK_EQ_INT(r.ttl, 60);
}

XG_TEST(cname_chain_followed_and_strangers_ignored)
{
    answer("www.test", 1, 4);
    pk_name(&p, "evil.test");
    pk_a(&p, 100, 6, 6, 6, 6); /* not reachable from the question */
    pk_name(&p, "web.test");
    pk_a(&p, 40, 10, 1, 1, 1); /* before the CNAME that leads to it */
    pk_ptr(&p, 12);
    pk_cname(&p, 20, "WEB.test");
    pk_name(&p, "www.test");
    pk_a(&p, 90, 10, 9, 9, 9); /* the question's own address too */
    CHECK_EQ_INT(parse("www.test", 1), 0);
    CHECK_EQ_INT(r.n, 2);
    CHECK(memcmp(r.addr[0], "\x0a\x01\x01\x01", 4) == 0);
    CHECK(memcmp(r.addr[1], "\x0a\x09\x09\x09", 4) == 0);
    CHECK_EQ_INT(r.ttl, 20); /* the CNAME's TTL bounds the answer */
}

XG_TEST(cname_loop_ends)
{
    answer("a.test", 1, 2);
    pk_name(&p, "a.test");
    pk_cname(&p, 5, "b.test");
    pk_name(&p, "b.test");
    pk_cname(&p, 5, "a.test");
    CHECK_EQ_INT(parse("a.test", 1), 0);
    CHECK_EQ_INT(r.n, 0);
    CHECK_EQ_INT(r.ttl, 0);
}

XG_TEST(not_ours)
{
    answer("svc.test", 1, 1);
    pk_ptr(&p, 12);
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(xg_dns_reply_parse(p.b, p.n, 0x1235, "svc.test", 1, &r), XG_ENOENT); /* id */
    CHECK_EQ_INT(parse("other.test", 1), XG_ENOENT);                                  /* question name */
    CHECK_EQ_INT(parse("svc.test", 28), XG_ENOENT);                                   /* question type */
    p.b[2] &= 0x7f;                                                                   /* QR clear: a query */
    CHECK_EQ_INT(parse("svc.test", 1), XG_ENOENT);
    p.b[2] |= 0x80 | 0x10; /* opcode 2 */
    CHECK_EQ_INT(parse("svc.test", 1), XG_ENOENT);
    pk_hdr(&p, 0x1234, 0x8180, 0, 1); /* NOERROR without the question */
    pk_name(&p, "svc.test");
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_ENOENT);
    CHECK_EQ_INT(xg_dns_reply_parse(p.b, 11, 0x1234, "svc.test", 1, &r), XG_ENOENT);
}

XG_TEST(rcodes_and_truncation)
{
    pk_hdr(&p, 0x1234, 0x8183, 1, 0);
    pk_question(&p, "nope.test", 1);
    CHECK_EQ_INT(parse("nope.test", 1), 0);
    CHECK_EQ_INT(r.rcode, XG_DNS_NXDOMAIN);
    CHECK_EQ_INT(r.n, 0);
    pk_hdr(&p, 0x1234, 0x8182, 0, 0); /* SERVFAIL may drop the question */
    CHECK_EQ_INT(parse("x.test", 1), 0);
    CHECK_EQ_INT(r.rcode, XG_DNS_SERVFAIL);
    answer("big.test", 1, 40); /* TC: the rest is not read at all */
    p.b[2] |= 0x02;
    CHECK_EQ_INT(parse("big.test", 1), 0);
    CHECK(r.truncated);
    CHECK_EQ_INT(r.n, 0);
}

XG_TEST(ttl_with_top_bit_is_zero)
{
    answer("t.test", 1, 1);
    pk_ptr(&p, 12);
    pk_a(&p, 0x80000005u, 1, 2, 3, 4);
    CHECK_EQ_INT(parse("t.test", 1), 0);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ttl, 0);
}

XG_TEST(compression_pointer_loops_and_forward_pointers)
{
    answer("svc.test", 1, 1);
    size_t at = p.n;
    pk_ptr(&p, (unsigned)at); /* onto itself */
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    answer("svc.test", 1, 1);
    pk_ptr(&p, (unsigned)p.n + 2); /* forwards */
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    answer("svc.test", 1, 1);
    pk_ptr(&p, 0x3fff); /* beyond the message */
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    /* a two-step loop: a label then a pointer back to the label's start */
    answer("svc.test", 1, 1);
    size_t lab = p.n;
    pk_u8(&p, 1);
    pk_u8(&p, 'x');
    pk_ptr(&p, (unsigned)lab);
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    /* a pointer in the question that is fine: back to an earlier name is the rule, not the exception */
    pk_hdr(&p, 0x1234, 0x8180, 1, 1);
    pk_question(&p, "svc.test", 1);
    pk_u8(&p, 3);
    pk_bytes(&p, "www", 3);
    pk_ptr(&p, 12); /* www.svc.test */
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), 0);
    CHECK_EQ_INT(r.n, 0); /* www.svc.test is not the question */
}

XG_TEST(truncated_anywhere_is_malformed_or_not_ours)
{
    answer("svc.test", 1, 2);
    pk_ptr(&p, 12);
    pk_a(&p, 5, 10, 0, 0, 1);
    pk_name(&p, "svc.test");
    pk_a(&p, 5, 10, 0, 0, 2);
    size_t full = p.n;
    for (size_t cut = 0; cut < full; cut++) {
        int rc = xg_dns_reply_parse(p.b, cut, 0x1234, "svc.test", 1, &r);
        if (!CHECK(rc == XG_EINVAL || rc == XG_ENOENT))
            fprintf(stderr, "cut at %zu: %d\n", cut, rc);
    }
    CHECK_EQ_INT(xg_dns_reply_parse(p.b, full, 0x1234, "svc.test", 1, &r), 0);
    CHECK_EQ_INT(r.n, 2);
}

XG_TEST(bad_record_lengths)
{
    answer("svc.test", 1, 1);
    pk_ptr(&p, 12);
    pk_rr_head(&p, 1, 5, 5); /* an A record of 5 bytes */
    pk_bytes(&p, "12345", 5);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    answer("svc.test", 28, 1);
    pk_ptr(&p, 12);
    pk_rr_head(&p, 28, 5, 4); /* an AAAA of 4 */
    pk_bytes(&p, "1234", 4);
    CHECK_EQ_INT(parse("svc.test", 28), XG_EINVAL);
    answer("svc.test", 1, 1);
    pk_ptr(&p, 12);
    pk_rr_head(&p, 1, 5, 400); /* rdlength beyond the message */
    pk_bytes(&p, "1234", 4);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    answer("svc.test", 1, 1); /* a CNAME whose name overruns its rdlength */
    pk_ptr(&p, 12);
    pk_rr_head(&p, 5, 5, 2);
    pk_name(&p, "x.test");
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    answer("svc.test", 1, 3); /* fewer records than announced */
    pk_ptr(&p, 12);
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
}

XG_TEST(hostile_names)
{
    answer("svc.test", 1, 1);
    for (int i = 0; i < 50; i++) /* 50 labels of 6: 350 bytes, over 255 */
        pk_bytes(&p,
                 "\x05"
                 "abcde",
                 6);
    pk_u8(&p, 0);
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    answer("svc.test", 1, 1); /* a label with a dot in it reads like two labels: refused */
    pk_bytes(&p,
             "\x07svc.tes"
             "\x00",
             9);
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    answer("svc.test", 1, 1); /* a NUL inside a label */
    pk_bytes(&p, "\x03s\x00c\x04test\x00", 10);
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
    answer("svc.test", 1, 1); /* the 0x40 extended label type */
    pk_bytes(&p, "\x41x\x00", 3);
    pk_a(&p, 5, 1, 1, 1, 1);
    CHECK_EQ_INT(parse("svc.test", 1), XG_EINVAL);
}

XG_TEST(address_cap)
{
    answer("many.test", 1, 300);
    for (int i = 0; i < 300; i++) {
        pk_ptr(&p, 12);
        pk_a(&p, 5, 10, 1, (uint8_t)(i >> 8), (uint8_t)i);
    }
    CHECK_EQ_INT(parse("many.test", 1), 0);
    CHECK_EQ_INT(r.n, XG_DNS_MAX_ADDRS);
}

XG_TEST(mutations_never_crash)
{
    static pk base;
    answer("www.svc.test", 1, 4);
    pk_ptr(&p, 12);
    pk_cname(&p, 5, "web.svc.test");
    pk_name(&p, "web.svc.test");
    pk_a(&p, 5, 10, 0, 0, 1);
    pk_u8(&p, 3);
    pk_bytes(&p, "web", 3);
    pk_ptr(&p, 16);
    pk_a(&p, 5, 10, 0, 0, 2);
    pk_ptr(&p, 12);
    pk_aaaa(&p, 5, 3);
    base = p;
    srand(12345);
    int ok = 0;
    for (int i = 0; i < 20000; i++) {
        p = base;
        int flips = 1 + rand() % 4;
        for (int f = 0; f < flips; f++)
            p.b[rand() % p.n] = (uint8_t)rand();
        if (rand() % 4 == 0)
            p.n = (size_t)(rand() % (int)p.n);
        int rc = xg_dns_reply_parse(p.b, p.n, 0x1234, "www.svc.test", 1, &r);
        CHECK(rc == 0 || rc == XG_EINVAL || rc == XG_ENOENT);
        CHECK(r.n <= XG_DNS_MAX_ADDRS);
        ok += rc == 0;
    }
    CHECK(ok > 0);
}

XG_TEST(name_equality)
{
    CHECK(xg_dns_name_eq("Svc.Test.", "svc.test"));
    CHECK(!xg_dns_name_eq("svc.test", "svc.tes"));
    CHECK(!xg_dns_name_eq("svc.test..", "svc.test"));
}
