/*
 * plugins/dns-proxy/fuzz_dnsmsg.c - libFuzzer target for the DNS message
 * reader (msg.c): any bytes either parse or are refused, without reading
 * outside the input; what parses can be answered, the answer parses back
 * to the same question, and rewriting TTLs finds the same records.
 * Built and run by plugins/dns-proxy/fuzz.sh.
 */
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that AddressSanitizer sees any overread. */
    uint8_t *m = malloc(size ? size : 1);
    if (!m)
        return 0;
    memcpy(m, data, size);
    dnsmsg q;
    if (dnsmsg_parse(m, size, &q) == 0) {
        if (q.qname_len == 0 || q.qname_len > DNSMSG_MAX_NAME || q.qname[q.qname_len - 1] != 0 ||
            strlen(q.name) > 4 * DNSMSG_MAX_NAME)
            abort();
        uint64_t dg;
        if (dnsmsg_question_digest_of(m, size, &dg) != 0 || dg != dnsmsg_question_digest(&q))
            abort();
        uint8_t out[DNSMSG_REPLY_MAX];
        static const uint8_t addr[16] = {32, 1, 13, 184};
        size_t alen = q.qtype == DNS_TYPE_A ? 4 : 16;
        long n = dnsmsg_reply(&q, DNS_RCODE_NXDOMAIN, true, q.qtype & 2 ? NULL : addr, alen, 5, out,
                              sizeof out);
        dnsmsg r;
        if (n <= 0 || dnsmsg_parse(out, (size_t)n, &r) != 0 || r.id != q.id || r.qtype != q.qtype ||
            r.qclass != q.qclass || r.qname_len != q.qname_len ||
            memcmp(r.qname, q.qname, q.qname_len) != 0 || r.has_opt != q.has_opt ||
            !(r.flags & DNS_FLAG_TC) || (r.flags & 0xf) != DNS_RCODE_NXDOMAIN ||
            r.ancount != (q.qtype & 2 ? 0 : 1))
            abort();
        int records = (int)q.ancount + q.nscount + q.arcount - (q.has_opt ? 1 : 0);
        /* (Parsing again afterwards may fail: a pointer may land inside
         * a TTL field, whose bytes just changed.) */
        if (dnsmsg_set_ttls(m, size, 0) != records)
            abort();
    } else {
        uint64_t dg;
        (void)dnsmsg_question_digest_of(m, size, &dg); /* bounded too */
    }
    free(m);
    return 0;
}
