/*
 * plugins/dns-proxy/msg.h - the DNS wire format, as much of it as a proxy
 * that fakes answers needs: a strict reader of a query's header, question
 * and EDNS(0) OPT record, a writer of short answers to that question, and
 * TTL rewriting in place. No libuv, no SDK state: fuzz_dnsmsg.c drives the
 * reader directly.
 */
#ifndef DNS_PROXY_MSG_H
#define DNS_PROXY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSMSG_HEADER   12
#define DNSMSG_MAX_NAME 255 /* wire form, RFC 1035 2.3.4 */

#define DNS_TYPE_A    1
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_OPT  41
#define DNS_CLASS_IN  1

#define DNS_RCODE_NOERROR  0
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_REFUSED  5

/* Header flag bits (second 16-bit word). */
#define DNS_FLAG_QR       0x8000u
#define DNS_FLAG_AA       0x0400u
#define DNS_FLAG_TC       0x0200u
#define DNS_FLAG_RD       0x0100u
#define DNS_FLAG_RA       0x0080u
#define DNS_FLAG_CD       0x0010u
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xfu)

typedef struct dnsmsg {
    uint16_t id, flags;
    uint16_t qdcount, ancount, nscount, arcount;
    /* The first question: its name in wire form exactly as the client
     * wrote it (case kept, for clients that randomise it), uncompressed;
     * the same name lower-cased in presentation form without the final
     * dot ("" for the root; odd bytes as \DDD); its type and class. */
    uint8_t qname[DNSMSG_MAX_NAME];
    size_t qname_len;
    char name[4 * DNSMSG_MAX_NAME + 1];
    uint16_t qtype, qclass;
    /* The OPT record of the additional section, if any. */
    bool has_opt;
    uint16_t opt_payload; /* the sender's UDP payload size (OPT class) */
    uint32_t opt_ttl;     /* extended rcode, version and flags (DO) */
} dnsmsg;

/* Reads a whole message: header, every question (the first is kept),
 * every record of the three other sections (names with compression
 * pointers that only go backwards, at most 255 bytes, labels of at most
 * 63; record data inside the message). Returns 0, or -1 when anything is
 * out of bounds or malformed, or when there is no question. Never reads
 * outside m[0..len). */
int dnsmsg_parse(const uint8_t *m, size_t len, dnsmsg *q);

/* Writes an answer to q into out: id, opcode, RD and CD copied; QR and RA
 * set; rcode; TC when tc; the question as the client wrote it; when addr
 * is not NULL, one record for the question's name with that address and
 * ttl (an A record for 4 bytes, AAAA for 16); an OPT record (payload
 * 1232, DO copied) when the query had one. Returns the length, or -1 when
 * cap is too small (DNSMSG_REPLY_MAX always suffices) or addr_len is
 * neither 4 nor 16. */
#define DNSMSG_REPLY_MAX 512
long dnsmsg_reply(const dnsmsg *q, unsigned rcode, bool tc, const uint8_t *addr, size_t addr_len,
                  uint32_t ttl, uint8_t *out, size_t cap);

/* Sets the TTL of every record of a message (not OPT, whose TTL field is
 * flags) to ttl, in place. Returns the number of records changed, or -1
 * for a malformed message (then left unchanged). */
int dnsmsg_set_ttls(uint8_t *m, size_t len, uint32_t ttl);

/* A 64-bit digest of a question (its name in wire form, case kept, then
 * type and class): of q's first question, or of the first question of the
 * message m[0..len), which returns -1 when it has none or it cannot be
 * read. Tells an answer from one to another query with the same ID. */
uint64_t dnsmsg_question_digest(const dnsmsg *q);
int dnsmsg_question_digest_of(const uint8_t *m, size_t len, uint64_t *digest);

/* "A", "AAAA", ..., or "TYPE<n>" into buf. */
const char *dnsmsg_type_name(uint16_t type, char *buf, size_t len);
/* Record type from "A", "aaaa", "TYPE65" or "65"; -1 if unknown. */
int dnsmsg_type_parse(const char *s);

#endif /* DNS_PROXY_MSG_H */
