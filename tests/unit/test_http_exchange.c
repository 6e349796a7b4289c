/*
 * tests/unit/test_http_exchange.c - the HTTP exchange of <fault/http.h> as
 * plugins and handlers use it, without a loop or plugins: headers (order,
 * case-insensitive lookup, replacement, removal), request changes (method
 * tokens, paths and the URL that follows them), whole bodies (not there
 * until the handler puts one; replaced only then), body watching, a
 * plugin's answer; and <fault/parse.h>'s schedule windows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include "check.h"

static fault_http_exchange *new_x(void)
{
    return fault_http_exchange_new(NULL, NULL, "POST", "http://example.test:8080/a/b?q=1",
                                   "example.test:8080", "/a/b?q=1");
}

static void test_headers(void)
{
    fault_http_exchange *x = new_x();
    CHECK(x != NULL);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_REQUEST, "Host", "example.test"), 0);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_REQUEST, "Accept", "a/b"), 0);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_REQUEST, "accept", "c/d"), 0);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_REQUEST), 3);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_RESPONSE), 0);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "ACCEPT"), "a/b");
    const char *n, *v;
    CHECK_EQ_INT(fault_http_header_at(x, FAULT_HTTP_REQUEST, 2, &n, &v), 0);
    CHECK_STR(n, "accept");
    CHECK_STR(v, "c/d");
    CHECK_EQ_INT(fault_http_header_at(x, FAULT_HTTP_REQUEST, 3, &n, &v), -ERANGE);
    /* set replaces every value of the name, keeping the others in order */
    CHECK_EQ_INT(fault_http_set_header(x, FAULT_HTTP_REQUEST, "Accept", "e/f"), 0);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_REQUEST), 2);
    CHECK_EQ_INT(fault_http_header_at(x, FAULT_HTTP_REQUEST, 0, &n, &v), 0);
    CHECK_STR(n, "Host");
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "accept"), "e/f");
    CHECK_EQ_INT(fault_http_set_header(x, FAULT_HTTP_REQUEST, "accept", NULL), 0);
    CHECK(fault_http_header(x, FAULT_HTTP_REQUEST, "accept") == NULL);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_REQUEST), 1);
    /* many headers: storage grows without losing earlier ones */
    char name[32], value[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "X-H%d", i);
        snprintf(value, sizeof value, "v%d", i);
        fault_http_add_header(x, FAULT_HTTP_RESPONSE, name, value);
    }
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_RESPONSE), 200);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_RESPONSE, "x-h0"), "v0");
    CHECK_STR(fault_http_header(x, FAULT_HTTP_RESPONSE, "x-h199"), "v199");
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "host"), "example.test");
    fault_http_exchange_free(x);
}

static void test_request_changes(void)
{
    fault_http_exchange *x = new_x();
    CHECK_STR(fault_http_method(x), "POST");
    CHECK_EQ_INT(fault_http_set_method(x, "PUT"), 0);
    CHECK_STR(fault_http_method(x), "PUT");
    CHECK_EQ_INT(fault_http_set_method(x, ""), -EINVAL);
    CHECK_EQ_INT(fault_http_set_method(x, "GET /x"), -EINVAL);
    CHECK_EQ_INT(fault_http_set_method(x, "A\r\nB"), -EINVAL);
    CHECK_STR(fault_http_method(x), "PUT");

    CHECK_EQ_INT(fault_http_set_path(x, "/new?x=2"), 0);
    CHECK_STR(fault_http_path(x), "/new?x=2");
    CHECK_STR(fault_http_url(x), "http://example.test:8080/new?x=2");
    CHECK_EQ_INT(fault_http_set_path(x, "relative"), -EINVAL);
    CHECK_EQ_INT(fault_http_set_path(x, "/a b"), -EINVAL);
    CHECK_EQ_INT(fault_http_set_path(x, "/a\nb"), -EINVAL);
    CHECK_EQ_INT(fault_http_set_path(x, NULL), -EINVAL);
    CHECK_STR(fault_http_path(x), "/new?x=2");
    fault_http_exchange_free(x);

    /* A URL without a path (CONNECT-like authority) gets the path added. */
    x = fault_http_exchange_new(NULL, NULL, "GET", "http://h:1", "h:1", "/");
    CHECK_EQ_INT(fault_http_set_path(x, "/p"), 0);
    CHECK_STR(fault_http_url(x), "http://h:1/p");
    fault_http_exchange_free(x);
}

static void test_bodies(void)
{
    fault_http_exchange *x = new_x();
    size_t len = 99;
    CHECK(fault_http_body(x, FAULT_HTTP_REQUEST, &len) == NULL);
    CHECK_EQ_INT(len, 0);
    /* a plugin cannot set a body that was not held */
    CHECK_EQ_INT(fault_http_set_body(x, FAULT_HTTP_REQUEST, "x", 1), -EPERM);
    CHECK_EQ_INT(fault_http_load_body(x, FAULT_HTTP_REQUEST, "hello", 5), 0);
    const uint8_t *b = fault_http_body(x, FAULT_HTTP_REQUEST, &len);
    CHECK(b != NULL && len == 5 && memcmp(b, "hello", 5) == 0);
    CHECK_EQ_INT(fault_http_set_body(x, FAULT_HTTP_REQUEST, "bonjour!", 8), 0);
    b = fault_http_body(x, FAULT_HTTP_REQUEST, &len);
    CHECK(b != NULL && len == 8 && memcmp(b, "bonjour!", 8) == 0);
    /* an empty body is a body */
    CHECK_EQ_INT(fault_http_set_body(x, FAULT_HTTP_REQUEST, NULL, 0), 0);
    CHECK(fault_http_body(x, FAULT_HTTP_REQUEST, &len) != NULL);
    CHECK_EQ_INT(len, 0);
    /* the response is separate */
    CHECK(fault_http_body(x, FAULT_HTTP_RESPONSE, &len) == NULL);
    CHECK_EQ_INT(fault_http_set_body(x, FAULT_HTTP_RESPONSE, "r", 1), -EPERM);
    /* nobody asked for bodies: nothing wanted */
    CHECK_EQ_INT(fault_http_wanted_body(x, FAULT_HTTP_REQUEST), 0);
    fault_http_exchange_free(x);
}

static void test_watch(void)
{
    fault_http_exchange *x = new_x();
    fault_plugin p;
    memset(&p, 0, sizeof p);
    p.index = 5;
    CHECK(!fault_http_is_body_watched(x, FAULT_DIR_EGRESS));
    CHECK(!fault_http_is_body_watched(x, FAULT_DIR_INGRESS));
    CHECK_EQ_INT(fault_http_watch_body(&p, x, FAULT_DIR_INGRESS), 0);
    CHECK(!fault_http_is_body_watched(x, FAULT_DIR_EGRESS));
    CHECK(fault_http_is_body_watched(x, FAULT_DIR_INGRESS));
    CHECK_EQ_INT(fault_http_watch_body(&p, x, FAULT_DIR_BOTH), -EINVAL);
    CHECK_EQ_INT(fault_http_watch_body(NULL, x, FAULT_DIR_EGRESS), -EINVAL);
    /* plugins far apart in load order have bits of their own (indexes
     * past 62 once shared one) */
    fault_plugin far;
    memset(&far, 0, sizeof far);
    far.index = FAULT__MAX_PLUGINS - 1;
    fault__pset ps;
    memset(&ps, 0, sizeof ps);
    CHECK(fault__pset_empty(&ps));
    p.index = 64;
    fault__pset_add(&ps, &p);
    CHECK(fault__pset_has(&ps, &p));
    CHECK(!fault__pset_has(&ps, &far));
    p.index = 63;
    CHECK(!fault__pset_has(&ps, &p));
    fault__pset_add(&ps, &far);
    CHECK(fault__pset_has(&ps, &far));
    CHECK(!fault__pset_has(&ps, &p));
    CHECK(!fault__pset_empty(&ps));
    CHECK_EQ_INT(fault_http_watch_body(&far, x, FAULT_DIR_EGRESS), 0);
    CHECK(fault_http_is_body_watched(x, FAULT_DIR_EGRESS));
    /* a body chain needs the exchange's stream */
    static const fault_chain_ops ops;
    CHECK(fault_http_body_chain_new(x, FAULT_DIR_INGRESS, &ops, NULL) == NULL);
    fault_http_exchange_free(x);
}

static void test_respond(void)
{
    fault_http_exchange *x = new_x();
    fault_http_add_header(x, FAULT_HTTP_RESPONSE, "X-Old", "1");
    static const char *const hv[] = {"Content-Type", "text/plain", "X-New", "2", NULL};
    CHECK_EQ_INT(fault_http_respond(x, 99, hv, "no", 2), -EINVAL);
    CHECK_EQ_INT(fault_http_respond(x, 503, hv, "busy", 4), 0);
    CHECK_EQ_INT(fault_http_status(x), 503);
    CHECK(fault_http_header(x, FAULT_HTTP_RESPONSE, "x-old") == NULL);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_RESPONSE, "x-new"), "2");
    const uint8_t *b;
    size_t len;
    fault_http_reply_body(x, &b, &len);
    CHECK(len == 4 && memcmp(b, "busy", 4) == 0);
    fault_http_exchange_free(x);
}

static void test_schedule_windows(void)
{
    fault_window *w;
    size_t n;
    char err[256];
    CHECK_EQ_INT(fault_schedule_windows("start:10%,duration:20%;start:50s,duration:10s", 100000000,
                                        &w, &n, err, sizeof err),
                 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_U64(w[0].start_us, 10000000);
        CHECK_EQ_U64(w[0].end_us, 30000000);
        CHECK_EQ_U64(w[1].start_us, 50000000);
        CHECK_EQ_U64(w[1].end_us, 60000000);
    }
    free(w);
    /* percentages need a run length */
    CHECK_EQ_INT(fault_schedule_windows("start:10%", 0, &w, &n, err, sizeof err), FAULT_ESYNTAX);
    CHECK(w == NULL && n == 0);
    CHECK_EQ_INT(fault_check_schedule("start:oops", err, sizeof err), FAULT_ESYNTAX);
    CHECK(err[0] != '\0');
    uint64_t us;
    CHECK_EQ_INT(fault_parse_duration("1m30s", &us, err, sizeof err), 0);
    CHECK_EQ_U64(us, 90000000);
    CHECK_EQ_INT(fault_check_mapping("9000=psql://db", err, sizeof err), 0);
    CHECK_EQ_INT(fault_check_mapping("9000=", err, sizeof err), FAULT_ESYNTAX);
}

/* The 1.1-1.2 names still work (plugins built against them call them). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void test_old_names(void)
{
    fault_http_exchange *x = new_x();
    CHECK_EQ_INT(fault_http_header_add(x, FAULT_HTTP_REQUEST, "A", "1"), 0);
    CHECK_EQ_INT(fault_http_header_set(x, FAULT_HTTP_REQUEST, "a", "2"), 0);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "A"), "2");
    CHECK_EQ_INT(fault_http_body_wanted(x, FAULT_HTTP_REQUEST), 0);
    CHECK_EQ_INT(fault_http_put_body(x, FAULT_HTTP_REQUEST, "xy", 2), 0);
    size_t len = 0;
    CHECK(fault_http_body(x, FAULT_HTTP_REQUEST, &len) != NULL);
    CHECK_EQ_INT(len, 2);
    CHECK(!fault_http_body_watched(x, FAULT_DIR_EGRESS));
    fault_http_exchange_free(x);
}
#pragma GCC diagnostic pop

/* One error convention: every code has its own text, and what libuv and
 * the resolver report is translated before it reaches a plugin. */
static void test_errors(void)
{
    const int codes[] = {
        FAULT_EOF,          FAULT_EPERM,         FAULT_ENOENT,      FAULT_EIO,
        FAULT_EAGAIN,       FAULT_ENOMEM,        FAULT_EACCES,      FAULT_EBUSY,
        FAULT_EEXIST,       FAULT_EINVAL,        FAULT_EMFILE,      FAULT_EPIPE,
        FAULT_ERANGE,       FAULT_EPROTO,        FAULT_EMSGSIZE,    FAULT_ENOTSUP,
        FAULT_EADDRINUSE,   FAULT_EADDRNOTAVAIL, FAULT_ENETUNREACH, FAULT_ECONNABORTED,
        FAULT_ECONNRESET,   FAULT_ENOTCONN,      FAULT_ETIMEDOUT,   FAULT_ECONNREFUSED,
        FAULT_EHOSTUNREACH, FAULT_ECANCELED,     FAULT_EUNKNOWN,    FAULT_EABI,
        FAULT_ESYNTAX,      FAULT_ETLS,          FAULT_ERESOLVE};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *t = fault_strerror(codes[i]);
        CHECK(t != NULL);
        if (codes[i] != FAULT_EUNKNOWN)
            CHECK(strcmp(t, "unknown error") != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(t, fault_strerror(codes[j])) != 0);
        CHECK_EQ_INT(fault__err(codes[i]), codes[i]);
    }
    CHECK_STR(fault_strerror(FAULT_EOF), "end of stream");
    CHECK_STR(fault_strerror(-99999), "unknown error");
    CHECK_EQ_INT(fault__err(UV_EOF), FAULT_EOF);
    CHECK_EQ_INT(fault__err(UV_EAI_NONAME), FAULT_ERESOLVE);
    CHECK_EQ_INT(fault__err(UV_ECONNREFUSED), FAULT_ECONNREFUSED);
    CHECK_EQ_INT(fault__err(UV_ENOBUFS), FAULT_ENOMEM);
    CHECK_EQ_INT(fault__err(UV_ESHUTDOWN), FAULT_EIO);
    CHECK_EQ_INT(fault__err(-EOPNOTSUPP), FAULT_ENOTSUP);
    CHECK_EQ_INT(fault__err(5), 5);
    char err[64];
    uint64_t us;
    CHECK_EQ_INT(fault_parse_duration(NULL, &us, err, sizeof err), FAULT_EINVAL);
    CHECK_EQ_INT(fault_parse_duration("12 parsecs", &us, err, sizeof err), FAULT_ESYNTAX);
}

/* <fault/secret.h>: names, and URLs with their secret values masked. */
static void test_secrets(void)
{
    char buf[256];
    CHECK(fault_secret_name("Authorization"));
    CHECK(fault_secret_name("X-AMZ-SECURITY-TOKEN"));
    CHECK(fault_secret_name("x_auth_token"));
    CHECK(fault_secret_name("my-service-api-key"));
    CHECK(!fault_secret_name("Content-Type"));
    CHECK(!fault_secret_name(NULL));
    CHECK_STR(fault_secret_header("Cookie", "a=b"), FAULT_SECRET_MASK);
    CHECK_STR(fault_secret_header("Accept", "a/b"), "a/b");
    CHECK_STR(fault_secret_url("http://h/p?api_key=1&page=2&Token=x#frag", buf, sizeof buf),
              "http://h/p?api_key=xxxxxx&page=2&Token=xxxxxx#frag");
    CHECK_STR(fault_secret_url("https://user:pw@h:1/p", buf, sizeof buf),
              "https://user:xxxxxx@h:1/p");
    CHECK_STR(fault_secret_url("/p?sig", buf, sizeof buf), "/p?sig");
    CHECK_STR(fault_secret_url("/p?a=1&&key=2", buf, sizeof buf), "/p?a=1&&key=xxxxxx");
    CHECK_STR(fault_secret_url(NULL, buf, sizeof buf), "");
    char tiny[8];
    CHECK_STR(fault_secret_url("http://h/p?key=1", tiny, sizeof tiny), "http://");
    fault_strv user = {(const char *const[]){"x-team-*"}, 1};
    fault__secrets_set(&user);
    CHECK(fault_secret_name("X-Team-Pass"));
    fault__secrets_set(NULL);
    CHECK(!fault_secret_name("X-Team-Pass"));
    /* A URL inside the query is not the URL's authority: the secret
     * before it is masked too (found by fuzz_secret). */
    CHECK_STR(fault_secret_url("/cb?token=abc&next=http://u:pw@h/", buf, sizeof buf),
              "/cb?token=xxxxxx&next=http://u:pw@h/");
    /* Stars: a name from traffic of 20,000 bytes against a pattern of many
     * stars that cannot match is answered at once (it took exponential
     * time), and a match through several stars still matches. */
    fault_strv stars = {(const char *const[]){"*a*a*a*a*a*a*a*a*a*a*b", "x*-*-*z"}, 2};
    fault__secrets_set(&stars);
    static char name[20001];
    memset(name, 'a', sizeof name - 1);
    uint64_t t0 = fault_now_us();
    CHECK(!fault_secret_name(name));
    CHECK(fault_now_us() - t0 < 2000000); /* about 0.2 s under ASan; was hours */
    CHECK(fault_secret_name("X-a-b-c-Z"));
    CHECK(!fault_secret_name("X-a-b-c-Y"));
    fault__secrets_set(NULL);
}

int main(void)
{
    test_secrets();
    test_old_names();
    test_errors();
    test_headers();
    test_request_changes();
    test_bodies();
    test_watch();
    test_respond();
    test_schedule_windows();
    return check_done();
}
