/* DNS messages for the cluster resolver (RFC 1035, RFC 3596): building the
 * query for one name and record type, and the defensive parse of a server's
 * answer to it. Answers are untrusted input: every length, offset and
 * compression pointer is checked, a reply that does not echo our id and
 * question is not ours, and only A/AAAA records reachable from the question
 * through CNAMEs are taken. Pure functions, any thread. */
#ifndef XG_CLUSTER_DNS_WIRE_H
#define XG_CLUSTER_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Addresses kept from one answer; more are ignored (a DNS name with more
 * addresses than this is cut, not rejected). */
#define XG_DNS_MAX_ADDRS 256
/* A query for a 253-byte name takes 12 + 255 + 4 bytes. */
#define XG_DNS_QUERY_MAX 300
/* UDP answers without EDNS are at most 512 bytes (RFC 1035 4.2.1). */
#define XG_DNS_UDP_MAX 512

enum {
    XG_DNS_T_A = 1,
    XG_DNS_T_CNAME = 5,
    XG_DNS_T_AAAA = 28,
};

enum {
    XG_DNS_NOERROR = 0,
    XG_DNS_FORMERR = 1,
    XG_DNS_SERVFAIL = 2,
    XG_DNS_NXDOMAIN = 3,
    XG_DNS_NOTIMP = 4,
    XG_DNS_REFUSED = 5,
};

/* What an answer says. With truncated set nothing else was read (ask again
 * over TCP); with an rcode other than NOERROR there are no addresses. */
typedef struct xg_dns_reply {
    int rcode;
    bool truncated;
    uint32_t n;                         /* addresses, each 4 (A) or 16 (AAAA) bytes of addr[i] */
    uint8_t addr[XG_DNS_MAX_ADDRS][16]; /* distinct, in answer order */
    uint32_t ttl;                       /* smallest TTL of the records used; 0 when there are none */
} xg_dns_reply;

/* Writes a recursive query (RD set, one question of class IN, no EDNS) for
 * name (dotted text, an optional final dot) and qtype into buf. 0 with *len
 * set, or XG_EINVAL for a name that is empty, has an empty label, a label
 * over 63 bytes or is over 253 bytes, or when cap is too small. */
int xg_dns_query_build(uint16_t id, const char *name, uint16_t qtype, uint8_t *buf, size_t cap, size_t *len);

/* Parses msg[0..len) as the answer to our query (id, name, qtype).
 * 0: it is ours (see out). XG_ENOENT: not an answer to this query (another
 * id or question, not a response): ignore it and keep waiting. XG_EINVAL:
 * malformed (bad lengths, compression pointers that do not point strictly
 * backwards, names over 255 bytes, A/AAAA with a wrong data length): treat
 * the server as failing for this try. */
int xg_dns_reply_parse(const uint8_t *msg, size_t len, uint16_t id, const char *name, uint16_t qtype,
                       xg_dns_reply *out);

/* True when a and b name the same domain: ASCII case-insensitive, a final
 * dot on either side ignored. */
bool xg_dns_name_eq(const char *a, const char *b);

#endif
