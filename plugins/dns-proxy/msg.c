/*
 * plugins/dns-proxy/msg.c - reading and writing DNS messages (RFC 1035,
 * RFC 6891 for OPT). Every read is checked against the message length
 * before it happens; names are followed through compression pointers only
 * backwards, below where the current run of labels started, so a chain of
 * pointers always ends (and never takes more than 127 jumps).
 */
#include "msg.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Reads the name at *off. On success *off is just past the name where it
 * sits (after its first pointer, if any) and, when wire is not NULL, the
 * uncompressed wire form is copied there (at most DNSMSG_MAX_NAME bytes)
 * with its length in *wire_len. */
static int read_name(const uint8_t *m, size_t len, size_t *off, uint8_t *wire, size_t *wire_len)
{
    size_t pos = *off, segment = *off, total = 0, after = 0;
    int jumps = 0;
    for (;;) {
        if (pos >= len)
            return -1;
        uint8_t c = m[pos];
        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= len)
                return -1;
            size_t target = (size_t)(c & 0x3f) << 8 | m[pos + 1];
            if (jumps == 0)
                after = pos + 2;
            /* Only backwards, below the start of this run of labels:
             * each jump lands strictly lower than the last, so the walk
             * ends. */
            if (target >= segment || ++jumps > 127)
                return -1;
            pos = segment = target;
            continue;
        }
        if (c & 0xc0) /* 0x40 and 0x80: extended label types, obsolete */
            return -1;
        if (total + 1u + c > DNSMSG_MAX_NAME)
            return -1;
        if (pos + 1u + c > len)
            return -1;
        if (wire)
            memcpy(wire + total, m + pos, 1u + c);
        total += 1u + c;
        pos += 1u + c;
        if (c == 0)
            break;
    }
    *off = jumps ? after : pos;
    if (wire_len)
        *wire_len = total;
    return 0;
}

/* Lower-cased presentation form of a wire name, without the final dot. */
static void present(const uint8_t *wire, size_t wire_len, char *out)
{
    size_t i = 0, j = 0;
    while (i < wire_len && wire[i]) {
        uint8_t n = wire[i++];
        if (j)
            out[j++] = '.';
        for (uint8_t k = 0; k < n; k++, i++) {
            uint8_t ch = wire[i];
            if (ch > 0x20 && ch < 0x7f && ch != '.' && ch != '\\') {
                out[j++] = (char)tolower(ch);
            } else {
                snprintf(out + j, 5, "\\%03u", ch);
                j += 4;
            }
        }
    }
    out[j] = '\0';
}

int dnsmsg_parse(const uint8_t *m, size_t len, dnsmsg *q)
{
    memset(q, 0, sizeof *q);
    if (!m || len < DNSMSG_HEADER)
        return -1;
    q->id = get16(m);
    q->flags = get16(m + 2);
    q->qdcount = get16(m + 4);
    q->ancount = get16(m + 6);
    q->nscount = get16(m + 8);
    q->arcount = get16(m + 10);
    if (q->qdcount == 0)
        return -1;
    size_t off = DNSMSG_HEADER;
    for (unsigned i = 0; i < q->qdcount; i++) {
        if (read_name(m, len, &off, i == 0 ? q->qname : NULL, i == 0 ? &q->qname_len : NULL) < 0)
            return -1;
        if (off + 4 > len)
            return -1;
        if (i == 0) {
            q->qtype = get16(m + off);
            q->qclass = get16(m + off + 2);
        }
        off += 4;
    }
    unsigned records = (unsigned)q->ancount + q->nscount + q->arcount;
    for (unsigned i = 0; i < records; i++) {
        size_t name_at = off;
        if (read_name(m, len, &off, NULL, NULL) < 0)
            return -1;
        if (off + 10 > len)
            return -1;
        uint16_t type = get16(m + off), rdlen = get16(m + off + 8);
        if (off + 10u + rdlen > len)
            return -1;
        if (type == DNS_TYPE_OPT) {
            /* One OPT, in the additional section, owned by the root. */
            if (i < (unsigned)q->ancount + q->nscount || q->has_opt || m[name_at] != 0)
                return -1;
            q->has_opt = true;
            q->opt_payload = get16(m + off + 2);
            q->opt_ttl = (uint32_t)get16(m + off + 4) << 16 | get16(m + off + 6);
        }
        off += 10u + rdlen;
    }
    present(q->qname, q->qname_len, q->name);
    return 0;
}

long dnsmsg_reply(const dnsmsg *q, unsigned rcode, bool tc, const uint8_t *addr, size_t addr_len,
                  uint32_t ttl, uint8_t *out, size_t cap)
{
    if (addr && addr_len != 4 && addr_len != 16)
        return -1;
    size_t need =
        DNSMSG_HEADER + q->qname_len + 4 + (addr ? 12 + addr_len : 0) + (q->has_opt ? 11 : 0);
    if (need > cap)
        return -1;
    uint16_t flags = (uint16_t)(DNS_FLAG_QR | (q->flags & (0xfu << 11)) | (q->flags & DNS_FLAG_RD) |
                                DNS_FLAG_RA | (q->flags & DNS_FLAG_CD) | (tc ? DNS_FLAG_TC : 0) |
                                (rcode & 0xfu));
    put16(out, q->id);
    put16(out + 2, flags);
    put16(out + 4, 1);
    put16(out + 6, addr ? 1 : 0);
    put16(out + 8, 0);
    put16(out + 10, q->has_opt ? 1 : 0);
    size_t off = DNSMSG_HEADER;
    memcpy(out + off, q->qname, q->qname_len);
    off += q->qname_len;
    put16(out + off, q->qtype);
    put16(out + off + 2, q->qclass);
    off += 4;
    if (addr) {
        put16(out + off, 0xc000 | DNSMSG_HEADER); /* the question's name */
        put16(out + off + 2, addr_len == 4 ? DNS_TYPE_A : DNS_TYPE_AAAA);
        put16(out + off + 4, DNS_CLASS_IN);
        put32(out + off + 6, ttl);
        put16(out + off + 10, (uint16_t)addr_len);
        memcpy(out + off + 12, addr, addr_len);
        off += 12 + addr_len;
    }
    if (q->has_opt) {
        out[off] = 0; /* root */
        put16(out + off + 1, DNS_TYPE_OPT);
        put16(out + off + 3, 1232);
        /* Extended rcode 0, version 0, the DO bit as the query had it. */
        put32(out + off + 5, q->opt_ttl & 0x8000u);
        put16(out + off + 9, 0);
        off += 11;
    }
    return (long)off;
}

int dnsmsg_set_ttls(uint8_t *m, size_t len, uint32_t ttl)
{
    /* Two passes: find every TTL first, then write them, so that a name
     * whose compression pointer lands inside a TTL field reads the same
     * bytes as the parser did. A record takes at least 11 bytes. */
    size_t at[65536 / 11 + 1];
    int n = 0;
    if (len < DNSMSG_HEADER || len > 65535)
        return -1;
    size_t off = DNSMSG_HEADER;
    for (unsigned i = 0; i < get16(m + 4); i++) {
        if (read_name(m, len, &off, NULL, NULL) < 0 || off + 4 > len)
            return -1;
        off += 4;
    }
    unsigned records = (unsigned)get16(m + 6) + get16(m + 8) + get16(m + 10);
    for (unsigned i = 0; i < records; i++) {
        if (read_name(m, len, &off, NULL, NULL) < 0 || off + 10 > len)
            return -1;
        uint16_t rdlen = get16(m + off + 8);
        if (off + 10u + rdlen > len)
            return -1;
        if (get16(m + off) != DNS_TYPE_OPT)
            at[n++] = off + 4;
        off += 10u + rdlen;
    }
    for (int i = 0; i < n; i++)
        put32(m + at[i], ttl);
    return n;
}

static uint64_t digest(const uint8_t *name, size_t len, uint16_t type, uint16_t klass)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ name[i]) * 1099511628211ull;
    h = (h ^ type) * 1099511628211ull;
    return (h ^ klass) * 1099511628211ull;
}

uint64_t dnsmsg_question_digest(const dnsmsg *q)
{
    return digest(q->qname, q->qname_len, q->qtype, q->qclass);
}

int dnsmsg_question_digest_of(const uint8_t *m, size_t len, uint64_t *out)
{
    uint8_t wire[DNSMSG_MAX_NAME];
    size_t wire_len, off = DNSMSG_HEADER;
    if (len < DNSMSG_HEADER || get16(m + 4) == 0 || read_name(m, len, &off, wire, &wire_len) < 0 ||
        off + 4 > len)
        return -1;
    *out = digest(wire, wire_len, get16(m + off), get16(m + off + 2));
    return 0;
}

static const struct {
    uint16_t type;
    const char *name;
} types[] = {{1, "A"},      {2, "NS"},     {5, "CNAME"}, {6, "SOA"},     {12, "PTR"},
             {15, "MX"},    {16, "TXT"},   {28, "AAAA"}, {33, "SRV"},    {35, "NAPTR"},
             {39, "DNAME"}, {41, "OPT"},   {43, "DS"},   {48, "DNSKEY"}, {52, "TLSA"},
             {64, "SVCB"},  {65, "HTTPS"}, {255, "ANY"}, {257, "CAA"}};

const char *dnsmsg_type_name(uint16_t type, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == type)
            return types[i].name;
    snprintf(buf, len, "TYPE%u", type);
    return buf;
}

int dnsmsg_type_parse(const char *s)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(types[i].name, s) == 0)
            return types[i].type;
    if (strncasecmp(s, "TYPE", 4) == 0)
        s += 4;
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end || v > 65535 ? -1 : (int)v;
}
