/*
 * tests/unit/test_mapping.c - `--proxy` mappings: the examples of the
 * mapping reference, listen addresses (IPv4, IPv6, names), default ports per
 * scheme, and a catalogue of malformed mappings that must each fail with
 * the column of the mistake and leave nothing allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#include "check.h"

typedef struct expect {
    const char *listen_host;
    unsigned listen_port;
    const char *scheme;
    const char *host;
    unsigned port;
    bool tls;
} expect;

static void ok_at(const char *file, int line, const char *text, expect e)
{
    char err[256] = "";
    fault_mapping m;
    int rc = fault__mapping_parse(text, &m, err, sizeof err);
    check_count++;
    if (rc != 0) {
        check_report(file, line, "\"%s\" failed: %s", text, err);
        return;
    }
    check_count++;
    if (strcmp(m.listen_host, e.listen_host) != 0 || m.listen_port != e.listen_port ||
        strcmp(m.scheme, e.scheme) != 0 || strcmp(m.host, e.host) != 0 || m.port != e.port ||
        m.tls != e.tls || strcmp(m.text, text) != 0)
        check_report(file, line,
                     "\"%s\" gave listen %s port %u, scheme \"%s\", upstream %s port %u, tls %d; "
                     "expected listen %s port %u, scheme \"%s\", upstream %s port %u, tls %d",
                     text, m.listen_host, m.listen_port, m.scheme, m.host, m.port, m.tls,
                     e.listen_host, e.listen_port, e.scheme, e.host, e.port, e.tls);
    fault__mapping_free(&m);
    CHECK(m.text == NULL && m.host == NULL);
}

static void bad_at(const char *file, int line, const char *text, const char *fragment)
{
    char err[256] = "";
    fault_mapping m;
    memset(&m, 0xa5, sizeof m);
    int rc = fault__mapping_parse(text, &m, err, sizeof err);
    check_count++;
    if (rc != FAULT_ESYNTAX) {
        check_report(file, line, "\"%s\": rc %d, expected FAULT_ESYNTAX", text, rc);
        if (rc == 0)
            fault__mapping_free(&m);
        return;
    }
    if (!strstr(err, fragment))
        check_report(file, line, "\"%s\": error \"%s\" lacks \"%s\"", text, err, fragment);
    else if (!strstr(err, "at column "))
        check_report(file, line, "\"%s\": error \"%s\" names no column", text, err);
    /* A failed parse leaves an empty mapping that is safe to free. */
    CHECK(m.text == NULL && m.listen_host == NULL && m.scheme == NULL && m.host == NULL);
    fault__mapping_free(&m);
}

#define OK(text, ...)       ok_at(__FILE__, __LINE__, text, (expect){__VA_ARGS__})
#define BAD(text, fragment) bad_at(__FILE__, __LINE__, text, fragment)

static void test_reference_examples(void)
{
    OK("9090=https://www.google.com", "127.0.0.1", 9090, "https", "www.google.com", 443, true);
    OK("35432=psql://my-db.default.svc:5432", "127.0.0.1", 35432, "psql", "my-db.default.svc", 5432,
       false);
}

static void test_upstreams(void)
{
    OK("9098=localhost:8080", "127.0.0.1", 9098, "", "localhost", 8080, false);
    OK("9098=192.168.1.10:80", "127.0.0.1", 9098, "", "192.168.1.10", 80, false);
    OK("9098=[::1]:8080", "127.0.0.1", 9098, "", "::1", 8080, false);
    OK("9098=[2001:db8::42]:443", "127.0.0.1", 9098, "", "2001:db8::42", 443, false);
    OK("9098=[fe80::1%eth0]:80", "127.0.0.1", 9098, "", "fe80::1%eth0", 80, false);
    OK("9098=[::ffff:192.0.2.1]:80", "127.0.0.1", 9098, "", "::ffff:192.0.2.1", 80, false);
    OK("9098=my_service:80", "127.0.0.1", 9098, "", "my_service", 80, false);
    OK("9098=example.com.:80", "127.0.0.1", 9098, "", "example.com.", 80, false);
    OK("1=h:65535", "127.0.0.1", 1, "", "h", 65535, false);
    OK("65535=h:1", "127.0.0.1", 65535, "", "h", 1, false);
    OK("08080=h:00443", "127.0.0.1", 8080, "", "h", 443, false);

    /* Schemes: default ports, TLS, and case-insensitivity (the stored
     * scheme is lower case; the host keeps its spelling). */
    OK("9090=http://example.com", "127.0.0.1", 9090, "http", "example.com", 80, false);
    OK("9090=http://example.com:8080", "127.0.0.1", 9090, "http", "example.com", 8080, false);
    OK("9090=https://example.com", "127.0.0.1", 9090, "https", "example.com", 443, true);
    OK("9090=HTTPS://Example.COM", "127.0.0.1", 9090, "https", "Example.COM", 443, true);
    OK("9090=HtTp://example.com", "127.0.0.1", 9090, "http", "example.com", 80, false);
    OK("9090=https://example.com/", "127.0.0.1", 9090, "https", "example.com", 443, true);
    OK("5433=psql://db", "127.0.0.1", 5433, "psql", "db", 5432, false);
    OK("5433=psqls://db", "127.0.0.1", 5433, "psqls", "db", 5432, true);
    OK("5433=PSQLS://db:6543", "127.0.0.1", 5433, "psqls", "db", 6543, true);
    OK("9443=tls://example.com:443", "127.0.0.1", 9443, "tls", "example.com", 443, true);
    OK("9090=https://[2001:db8::1]", "127.0.0.1", 9090, "https", "2001:db8::1", 443, true);
    OK("9090=https://[2001:db8::1]:8443", "127.0.0.1", 9090, "https", "2001:db8::1", 8443, true);
}

static void test_listen(void)
{
    OK("127.0.0.1:9098=localhost:8080", "127.0.0.1", 9098, "", "localhost", 8080, false);
    OK("[::1]:9098=localhost:8080", "::1", 9098, "", "localhost", 8080, false);
    OK("[::]:9098=localhost:8080", "::", 9098, "", "localhost", 8080, false);
    OK("localhost:9098=localhost:8080", "localhost", 9098, "", "localhost", 8080, false);
    OK("0.0.0.0:80=https://example.com", "0.0.0.0", 80, "https", "example.com", 443, true);
    OK("[::1]:9098=[::1]:8080", "::1", 9098, "", "::1", 8080, false);
}

static void test_malformed(void)
{
    BAD("", "column 1");
    BAD("9090", "expected '=' between");
    BAD("9090", "at column 5");
    BAD("=localhost:80", "listen port before '=' at column 1");
    BAD("0=localhost:80", "port must be 1..65535 at column 1");
    BAD("65536=localhost:80", "port must be 1..65535 at column 1");
    BAD("99999999999999999999999=h:80", "port must be 1..65535 at column 1");
    BAD("9090=", "expected an upstream after '=' at column 6");
    BAD("9090=localhost", "at column 15");
    BAD("9090=localhost:", "expected the upstream port number at column 16");
    BAD("9090=localhost:0", "port must be 1..65535 at column 16");
    BAD("9090=localhost:99999999999999999999", "port must be 1..65535 at column 16");
    BAD("9090=localhost:80x", "unexpected 'x' in the upstream port at column 18");
    BAD("9090=localhost:-1", "unexpected '-' in the upstream port at column 16");
    BAD("9090=ftp://example.com", "scheme 'ftp' needs a port");
    BAD("9090=f_p://example.com:1", "invalid scheme 'f_p'");
    BAD("9090=f_p://example.com:1", "at column 6");
    /* A scheme of a third-party protocol plugin: any RFC 3986 scheme. */
    OK("127.0.0.1:9090=Echo-2.x+y://h:7", "127.0.0.1", 9090, "echo-2.x+y", "h", 7, false);
    BAD("9090=tls://example.com", "needs a port");
    BAD("9090=tls://example.com", "at column 23");
    BAD("9090=https://", "expected an upstream host at column 14");
    BAD("9090=https://example.com:", "at column 26");
    BAD("9090=https://example.com/path", "unexpected '/' at column 25");
    BAD("9090=https:/example.com", "expected '//' after 'https:' at column 12");
    BAD("9090=::1:80", "brackets");
    BAD("9090=::1:80", "at column 6");
    BAD("9090=[::1:80", "missing ']' after IPv6 address at column 13");
    BAD("9090=[::g]:80", "invalid IPv6 address at column 7");
    BAD("9090=[]:80", "invalid IPv6 address at column 7");
    BAD("9090=[1.2.3.4]:80", "invalid IPv6 address at column 7");
    BAD("9090=[fe80::1%]:80", "empty IPv6 zone at column 15");
    BAD("9090=[fe80::1%e/0]:80", "at column 16");
    BAD("9090=[::1]80", "expected ':' after ']', got '8' at column 11");
    BAD("9090=exa mple.com:80", "unexpected ' ' in host at column 9");
    BAD("9090=a=b:80", "unexpected '=' in host at column 7");
    BAD("9090=-bad.com:80", "starts with '-' at column 6");
    BAD("9090=a..b:80", "empty label in host at column 8");
    BAD("9090=.a:80", "empty label in host at column 6");
    BAD("9090=999.1.1.1:80", "invalid IPv4 address at column 6");
    BAD("9090=\x01:80", "byte 0x01 in host at column 6");
    BAD("9090=h\xc3\xa9:80", "byte 0xc3 in host at column 7");
    BAD("abc=localhost:80", "expected ':' and a listen port after the address at column 4");
    BAD("::1:9098=localhost:80", "brackets");
    BAD("::1:9098=localhost:80", "at column 1");
    BAD("999.1.1.1:9098=h:80", "invalid IPv4 address at column 1");
    BAD("localhost:=h:80", "expected a listen port number at column 11");
    BAD("[::1]:9098:1=h:80", "unexpected ':' in a listen port at column 11");
    BAD("[::1]=h:80", "at column 6");
    BAD(" 9090=h:80", "column 1");
    BAD("9090 =h:80", "column 5");

    /* Host names are limited to what DNS can carry. */
    char longhost[400];
    strcpy(longhost, "9090=");
    memset(longhost + 5, 'a', 260);
    strcpy(longhost + 265, ":80");
    BAD(longhost, "longer than 253 characters at column 6");

    /* No error buffer, or a tiny one, is fine. */
    fault_mapping m;
    CHECK_EQ_INT(fault__mapping_parse("9090", &m, NULL, 0), FAULT_ESYNTAX);
    char tiny[5];
    CHECK_EQ_INT(fault__mapping_parse("9090", &m, tiny, sizeof tiny), FAULT_ESYNTAX);
    CHECK_EQ_INT((int)strlen(tiny), 4);
    CHECK_EQ_INT(fault__mapping_parse(NULL, &m, tiny, sizeof tiny), FAULT_ESYNTAX);
    fault__mapping_free(NULL);
}

int main(void)
{
    test_reference_examples();
    test_upstreams();
    test_listen();
    test_malformed();
    return check_done();
}
