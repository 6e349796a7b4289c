/*
 * core/mapping.c - parses `--proxy` mappings such as "9090=https://example.com"
 * or "127.0.0.1:5432=psql://db:5432" into a fault_mapping: where the proxy
 * listens, which upstream it connects to, and whether that leg uses TLS.
 *
 * The grammar is the one in core/parse.h. Errors name the 1-based column of
 * the offending byte. Only the C library is used, so the fuzzer can build
 * this file on its own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* The longest name DNS can carry, in its dotted text form. */
#define MAX_HOSTNAME 253

typedef struct scheme_info {
    const char *name;
    uint16_t default_port; /* 0: the mapping must give a port */
    bool tls;
} scheme_info;

static const scheme_info schemes[] = {
    {"http", 80, false},   {"https", 443, true}, {"psql", 5432, false},
    {"psqls", 5432, true}, {"tls", 0, true},
};

static char *dup_range(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Finds c in text[from, to), or returns to. */
static size_t find_char(const char *text, size_t from, size_t to, char c)
{
    while (from < to && text[from] != c)
        from++;
    return from;
}

/*
 * A port: text[begin, end) must be 1 to 65535 in decimal. Digits are only
 * counted past five so that no length of input can overflow anything.
 */
static int parse_port(const char *text, size_t begin, size_t end, const char *what, uint16_t *port,
                      char *err, size_t errlen)
{
    char shown[16];
    if (begin == end)
        return fault__parse_fail(err, errlen, "expected %s port number at column %zu", what,
                                 begin + 1);
    unsigned long v = 0;
    for (size_t i = begin; i < end; i++) {
        if (!fault__parse_is_digit(text[i]))
            return fault__parse_fail(err, errlen, "unexpected %s in %s port at column %zu",
                                     fault__parse_show_byte(shown, (unsigned char)text[i]), what,
                                     i + 1);
        if (v <= 65535)
            v = v * 10 + (unsigned long)(text[i] - '0');
    }
    if (v < 1 || v > 65535)
        return fault__parse_fail(err, errlen, "port must be 1..65535 at column %zu", begin + 1);
    *port = (uint16_t)v;
    return 0;
}

/*
 * A host between brackets: text[begin, end) is what lies inside them. It
 * must be an IPv6 address, optionally with a "%zone" suffix for link-local
 * addresses, which inet_pton() itself does not accept.
 */
static int check_ipv6(const char *text, size_t begin, size_t end, char *err, size_t errlen)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[16];
    size_t zone = find_char(text, begin, end, '%');

    if (zone - begin == 0 || zone - begin >= sizeof buf)
        return fault__parse_fail(err, errlen, "invalid IPv6 address at column %zu", begin + 1);
    memcpy(buf, text + begin, zone - begin);
    buf[zone - begin] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return fault__parse_fail(err, errlen, "invalid IPv6 address at column %zu", begin + 1);
    if (zone < end) {
        if (zone + 1 == end)
            return fault__parse_fail(err, errlen, "empty IPv6 zone at column %zu", zone + 2);
        for (size_t i = zone + 1; i < end; i++) {
            char c = text[i];
            if (!fault__parse_is_alnum(c) && c != '-' && c != '_' && c != '.') {
                char shown[16];
                return fault__parse_fail(err, errlen, "unexpected %s in IPv6 zone at column %zu",
                                         fault__parse_show_byte(shown, (unsigned char)c), i + 1);
            }
        }
    }
    return 0;
}

/*
 * An unbracketed host: a DNS name (letters, digits, '-', '_', '.') or a
 * dotted IPv4 address. Names made only of digits and dots must be valid
 * IPv4, since no resolver would treat "1.2.3.400" as a name.
 */
static int check_hostname(const char *text, size_t begin, size_t end, char *err, size_t errlen)
{
    char shown[16];
    bool numeric = true;

    if (begin == end)
        return fault__parse_fail(err, errlen, "expected a host at column %zu", begin + 1);
    if (end - begin > MAX_HOSTNAME)
        return fault__parse_fail(err, errlen, "host name longer than %d characters at column %zu",
                                 MAX_HOSTNAME, begin + 1);
    for (size_t i = begin; i < end; i++) {
        char c = text[i];
        if (c == ':')
            return fault__parse_fail(err, errlen,
                                     "IPv6 addresses must be in brackets, e.g. [::1], "
                                     "at column %zu",
                                     begin + 1);
        if (!fault__parse_is_alnum(c) && c != '-' && c != '_' && c != '.')
            return fault__parse_fail(err, errlen, "unexpected %s in host at column %zu",
                                     fault__parse_show_byte(shown, (unsigned char)c), i + 1);
        /* Every label needs at least one character; only a final dot (a
         * fully qualified name) may end the host. */
        if (c == '.' && (i == begin || text[i - 1] == '.'))
            return fault__parse_fail(err, errlen, "empty label in host at column %zu", i + 1);
        if (c == '-' && (i == begin || text[i - 1] == '.'))
            return fault__parse_fail(err, errlen, "host label starts with '-' at column %zu",
                                     i + 1);
        if (!fault__parse_is_digit(c) && c != '.')
            numeric = false;
    }
    if (numeric) {
        char buf[MAX_HOSTNAME + 1];
        unsigned char addr[4];
        memcpy(buf, text + begin, end - begin);
        buf[end - begin] = '\0';
        if (inet_pton(AF_INET, buf, addr) != 1)
            return fault__parse_fail(err, errlen, "invalid IPv4 address at column %zu", begin + 1);
    }
    return 0;
}

/*
 * A "host:port" or "[v6]:port" in text[begin, end). On success sets the
 * host span (without brackets) and, when a ":port" follows, the port span;
 * *port_begin stays SIZE_MAX when there is no port. what names the part
 * ("listen", "upstream") in messages.
 */
static int split_host_port(const char *text, size_t begin, size_t end, const char *what,
                           size_t *host_begin, size_t *host_end, size_t *port_begin, char *err,
                           size_t errlen)
{
    char shown[16];
    *port_begin = SIZE_MAX;
    if (begin == end)
        return fault__parse_fail(err, errlen, "expected %s host at column %zu", what, begin + 1);

    size_t after;
    if (text[begin] == '[') {
        size_t close = find_char(text, begin + 1, end, ']');
        if (close == end)
            return fault__parse_fail(err, errlen, "missing ']' after IPv6 address at column %zu",
                                     end + 1);
        int rc = check_ipv6(text, begin + 1, close, err, errlen);
        if (rc < 0)
            return rc;
        *host_begin = begin + 1;
        *host_end = close;
        after = close + 1;
        if (after < end && text[after] != ':')
            return fault__parse_fail(err, errlen, "expected ':' after ']', got %s at column %zu",
                                     fault__parse_show_byte(shown, (unsigned char)text[after]),
                                     after + 1);
    } else {
        /* The first colon ends the host: any colon inside it would be an
         * unbracketed IPv6 address, which the port would make ambiguous. */
        after = find_char(text, begin, end, ':');
        if (after < end && find_char(text, after + 1, end, ':') < end)
            return fault__parse_fail(err, errlen,
                                     "IPv6 addresses must be in brackets, e.g. [::1], "
                                     "at column %zu",
                                     begin + 1);
        int rc = check_hostname(text, begin, after, err, errlen);
        if (rc < 0)
            return rc;
        *host_begin = begin;
        *host_end = after;
    }
    if (after < end)
        *port_begin = after + 1;
    return 0;
}

/* The listen part, text[0, end): "PORT", "ADDR:PORT" or "[V6]:PORT". */
static int parse_listen(const char *text, size_t end, fault_mapping *m, char *err, size_t errlen)
{
    size_t i = 0;
    int rc;

    /* A bare port is all digits; anything else must carry an address. */
    while (i < end && fault__parse_is_digit(text[i]))
        i++;
    if (i == end) {
        if (end == 0)
            return fault__parse_fail(err, errlen, "expected a listen port before '=' at column 1");
        rc = parse_port(text, 0, end, "a listen", &m->listen_port, err, errlen);
        if (rc < 0)
            return rc;
        /* No address: loopback only. Reaching the upstream from the
         * network is asked for with 0.0.0.0:PORT (or another address). */
        m->listen_host = dup_range("127.0.0.1", 9);
        return m->listen_host ? 0 : fault__parse_fail(err, errlen, "out of memory at column 1");
    }

    size_t hb, he, pb;
    rc = split_host_port(text, 0, end, "a listen", &hb, &he, &pb, err, errlen);
    if (rc < 0)
        return rc;
    if (pb == SIZE_MAX)
        return fault__parse_fail(
            err, errlen, "expected ':' and a listen port after the address at column %zu", end + 1);
    rc = parse_port(text, pb, end, "a listen", &m->listen_port, err, errlen);
    if (rc < 0)
        return rc;
    m->listen_host = dup_range(text + hb, he - hb);
    return m->listen_host ? 0 : fault__parse_fail(err, errlen, "out of memory at column 1");
}

/* The upstream part, text[begin, end). */
static int parse_upstream(const char *text, size_t begin, size_t end, fault_mapping *m, char *err,
                          size_t errlen)
{
    const scheme_info *sch = NULL;
    char other_scheme[33];
    scheme_info other = {NULL, 0, false}; /* a scheme of another plugin */
    size_t i = begin;
    int rc;

    if (begin == end)
        return fault__parse_fail(err, errlen, "expected an upstream after '=' at column %zu",
                                 begin + 1);

    /* A scheme is whatever precedes "://"; the search stops at the first
     * '/' or '[' so that neither a path nor an IPv6 literal is mistaken
     * for one. */
    size_t sep = begin;
    while (sep < end && text[sep] != ':' && text[sep] != '/' && text[sep] != '[')
        sep++;
    if (sep + 2 < end && text[sep] == ':' && text[sep + 1] == '/' && text[sep + 2] == '/') {
        for (size_t k = 0; k < sizeof schemes / sizeof schemes[0]; k++) {
            const char *name = schemes[k].name;
            size_t n = strlen(name);
            if (n != sep - begin)
                continue;
            size_t j = 0;
            while (j < n) {
                char c = text[begin + j];
                if (c >= 'A' && c <= 'Z')
                    c = (char)(c - 'A' + 'a');
                if (c != name[j])
                    break;
                j++;
            }
            if (j == n) {
                sch = &schemes[k];
                break;
            }
        }
        if (!sch) {
            /* A scheme fault does not know may belong to a third-party
             * protocol plugin (ABI 1.3): any RFC 3986 scheme is accepted
             * here, and the run refuses it if no plugin serves it. */
            size_t n = sep - begin;
            bool ok =
                n > 0 && n <= 32 && ((text[begin] | 0x20) >= 'a' && (text[begin] | 0x20) <= 'z');
            for (size_t j = begin; ok && j < sep; j++) {
                char c = text[j];
                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '+' || c == '-' || c == '.';
            }
            if (!ok)
                return fault__parse_fail(
                    err, errlen,
                    "invalid scheme '%.*s%s' (a letter, then letters, digits, '+', '-' "
                    "or '.') at column %zu",
                    (int)(n > 16 ? 16 : n), text + begin, n > 16 ? "..." : "", begin + 1);
            for (size_t j = 0; j < n; j++) {
                char c = text[begin + j];
                other_scheme[j] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            }
            other_scheme[n] = '\0';
            other.name = other_scheme;
            sch = &other;
        }
        i = sep + 3;
        /* A single trailing slash is harmless ("https://example.com/");
         * a path is not something a TCP-level mapping can honour. */
        if (end > i && text[end - 1] == '/')
            end--;
        size_t slash = find_char(text, i, end, '/');
        if (slash < end)
            return fault__parse_fail(err, errlen,
                                     "a mapping names a host, not a path: unexpected '/' "
                                     "at column %zu",
                                     slash + 1);
    } else if (sep + 1 < end && text[sep] == ':' && text[sep + 1] == '/') {
        /* "https:/host" or "https:" followed by one slash: a mistyped
         * scheme separator rather than a port. */
        return fault__parse_fail(err, errlen, "expected '//' after '%.*s:' at column %zu",
                                 (int)(sep - begin > 16 ? 16 : sep - begin), text + begin, sep + 2);
    }

    size_t hb, he, pb;
    rc = split_host_port(text, i, end, "an upstream", &hb, &he, &pb, err, errlen);
    if (rc < 0)
        return rc;
    if (pb != SIZE_MAX) {
        rc = parse_port(text, pb, end, "the upstream", &m->port, err, errlen);
        if (rc < 0)
            return rc;
    } else if (!sch) {
        return fault__parse_fail(
            err, errlen, "expected ':' and a port after the upstream host at column %zu", end + 1);
    } else if (sch->default_port == 0) {
        return fault__parse_fail(err, errlen,
                                 "scheme '%s' needs a port, e.g. %s://host:%s, at column %zu",
                                 sch->name, sch->name, sch == &other ? "PORT" : "443", end + 1);
    } else {
        m->port = sch->default_port;
    }

    m->host = dup_range(text + hb, he - hb);
    m->scheme = sch ? dup_range(sch->name, strlen(sch->name)) : dup_range("", 0);
    m->tls = sch && sch->tls;
    if (!m->host || !m->scheme)
        return fault__parse_fail(err, errlen, "out of memory at column %zu", begin + 1);
    return 0;
}

int fault__mapping_parse(const char *text, fault_mapping *out, char *err, size_t errlen)
{
    fault_mapping m;
    memset(&m, 0, sizeof m);
    memset(out, 0, sizeof *out);

    if (!text)
        return fault__parse_fail(err, errlen, "missing mapping at column 1");

    const size_t len = strlen(text);
    /* Neither side may contain '=', so the first one splits them. */
    const size_t eq = find_char(text, 0, len, '=');
    if (eq == len) {
        return fault__parse_fail(err, errlen,
                                 "expected '=' between the listen port and the upstream "
                                 "(e.g. 9090=localhost:8080) at column %zu",
                                 len + 1);
    }

    int rc = parse_listen(text, eq, &m, err, errlen);
    if (rc == 0)
        rc = parse_upstream(text, eq + 1, len, &m, err, errlen);
    if (rc == 0) {
        m.text = dup_range(text, len);
        if (!m.text)
            rc = fault__parse_fail(err, errlen, "out of memory at column 1");
    }
    if (rc < 0) {
        fault__mapping_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}

void fault__mapping_free(fault_mapping *m)
{
    if (!m)
        return;
    /* The strings are const for readers but owned by the mapping. */
    free((char *)m->text);
    free((char *)m->listen_host);
    free((char *)m->scheme);
    free((char *)m->host);
    memset(m, 0, sizeof *m);
}
