/*
 * tests/unit/test_http_storage.c - the HTTP exchange's storage: the
 * request line and headers of both messages (kept in a per-exchange arena),
 * lookups, replacement and removal, a plugin's answer replacing the
 * response headers, and pointers staying valid while the arena grows.
 * No plugin is loaded, so running the hooks only calls back CONTINUE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fault/http_handler.h>

#include "check.h"

static void test_request_line(void)
{
    fault_http_exchange *x = fault_http_exchange_new(
        NULL, NULL, "GET", "http://a.example:8080/p?q=1", "a.example:8080", "/p?q=1");
    CHECK(x != NULL);
    CHECK_STR(fault_http_method(x), "GET");
    CHECK_STR(fault_http_url(x), "http://a.example:8080/p?q=1");
    CHECK_STR(fault_http_host(x), "a.example:8080");
    CHECK_STR(fault_http_path(x), "/p?q=1");
    CHECK_EQ_INT(fault_http_status(x), 0);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_REQUEST), 0);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_RESPONSE), 0);
    fault_http_exchange_free(x);

    /* NULL strings read back empty. */
    x = fault_http_exchange_new(NULL, NULL, NULL, NULL, NULL, NULL);
    CHECK(x != NULL);
    CHECK_STR(fault_http_method(x), "");
    CHECK_STR(fault_http_url(x), "");
    CHECK_STR(fault_http_host(x), "");
    CHECK_STR(fault_http_path(x), "");
    fault_http_exchange_free(x);
    fault_http_exchange_free(NULL);
}

static void test_headers(void)
{
    fault_http_exchange *x = fault_http_exchange_new(NULL, NULL, "GET", "http://h/", "h", "/");
    const char *name, *value;
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_REQUEST, "Host", "h"), 0);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_REQUEST, "Accept", "a/b"), 0);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_REQUEST, "X-Twice", "1"), 0);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_REQUEST, "x-twice", "2"), 0);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_REQUEST, "Empty", ""), 0);
    CHECK(fault_http_add_header(x, FAULT_HTTP_REQUEST, NULL, "v") < 0);
    CHECK(fault_http_add_header(x, FAULT_HTTP_REQUEST, "n", NULL) < 0);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_REQUEST), 5);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_RESPONSE), 0);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "ACCEPT"), "a/b");
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "x-TWICE"), "1");
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "empty"), "");
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "missing"), NULL);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_RESPONSE, "accept"), NULL);
    CHECK_EQ_INT(fault_http_header_at(x, FAULT_HTTP_REQUEST, 3, &name, &value), 0);
    CHECK_STR(name, "x-twice");
    CHECK_STR(value, "2");
    CHECK(fault_http_header_at(x, FAULT_HTTP_REQUEST, 5, &name, &value) < 0);

    /* A pointer handed out stays valid while other headers change. */
    const char *accept = fault_http_header(x, FAULT_HTTP_REQUEST, "accept");

    /* set replaces every value of the name, appended last, in order. */
    CHECK_EQ_INT(fault_http_set_header(x, FAULT_HTTP_REQUEST, "X-TWICE", "3"), 0);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_REQUEST), 4);
    CHECK_EQ_INT(fault_http_header_at(x, FAULT_HTTP_REQUEST, 2, &name, &value), 0);
    CHECK_STR(name, "Empty");
    CHECK_EQ_INT(fault_http_header_at(x, FAULT_HTTP_REQUEST, 3, &name, &value), 0);
    CHECK_STR(name, "X-TWICE");
    CHECK_STR(value, "3");
    /* set of a new name adds it; NULL removes it. */
    CHECK_EQ_INT(fault_http_set_header(x, FAULT_HTTP_REQUEST, "New", "n"), 0);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "new"), "n");
    CHECK_EQ_INT(fault_http_set_header(x, FAULT_HTTP_REQUEST, "new", NULL), 0);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_REQUEST, "new"), NULL);
    CHECK_EQ_INT(fault_http_set_header(x, FAULT_HTTP_REQUEST, "absent", NULL), 0);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_REQUEST), 4);
    CHECK_STR(accept, "a/b");
    fault_http_exchange_free(x);
}

/* Many and long headers: the arena and the header tables grow past what
 * the exchange holds inline, and every earlier pointer still reads its
 * text. */
static void test_growth(void)
{
    enum { N = 300 };
    fault_http_exchange *x = fault_http_exchange_new(NULL, NULL, "POST", "http://h/", "h", "/");
    static const char *names[N], *values[N];
    char name[32], value[3000];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "X-H%d", i);
        size_t len = (size_t)(i * 37) % (sizeof value - 1);
        memset(value, 'a' + i % 26, len);
        value[len] = '\0';
        fault_http_msg m = i % 2 ? FAULT_HTTP_RESPONSE : FAULT_HTTP_REQUEST;
        CHECK_EQ_INT(fault_http_add_header(x, m, name, value), 0);
        fault_http_header_at(x, m, fault_http_header_count(x, m) - 1, &names[i], &values[i]);
    }
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_REQUEST), N / 2);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_RESPONSE), N / 2);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "X-H%d", i);
        size_t len = (size_t)(i * 37) % (sizeof value - 1);
        bool ok = strcmp(names[i], name) == 0 && strlen(values[i]) == len;
        for (size_t k = 0; ok && k < len; k++)
            ok = values[i][k] == 'a' + i % 26;
        fault_http_msg m = i % 2 ? FAULT_HTTP_RESPONSE : FAULT_HTTP_REQUEST;
        ok = ok && fault_http_header(x, m, name) == values[i];
        bad += !ok;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_STR(fault_http_method(x), "POST");
    fault_http_exchange_free(x);
}

static void on_done(fault_http_exchange *x, fault_http_action result, void *ud)
{
    (void)x;
    *(int *)ud = (int)result + 1;
}

static void test_respond(void)
{
    fault_http_exchange *x = fault_http_exchange_new(NULL, NULL, "GET", "http://h/", "h", "/");
    const uint8_t *body;
    size_t len;
    int done = 0;
    CHECK_EQ_INT(fault_http_run_request(x, on_done, &done), 0);
    CHECK_EQ_INT(done, FAULT_HTTP_CONTINUE + 1);
    fault_http_reply_body(x, &body, &len);
    CHECK(body == NULL);
    CHECK_EQ_INT(len, 0);

    CHECK_EQ_INT(fault_http_set_status(x, 200), 0);
    CHECK(fault_http_set_status(x, 99) < 0);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_RESPONSE, "Server", "up"), 0);
    CHECK_EQ_INT(fault_http_add_header(x, FAULT_HTTP_RESPONSE, "Date", "today"), 0);
    static const char *const hdrs[] = {"Content-Type", "text/plain", "Retry-After", "1", NULL};
    CHECK(fault_http_respond(x, 42, hdrs, "x", 1) < 0);
    CHECK_EQ_INT(fault_http_respond(x, 503, hdrs, "busy", 4), 0);
    CHECK_EQ_INT(fault_http_status(x), 503);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_RESPONSE), 2);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_RESPONSE, "server"), NULL);
    CHECK_STR(fault_http_header(x, FAULT_HTTP_RESPONSE, "retry-after"), "1");
    fault_http_reply_body(x, &body, &len);
    CHECK_EQ_INT(len, 4);
    CHECK(body && memcmp(body, "busy", 4) == 0);
    CHECK_EQ_INT(fault_http_respond(x, 204, NULL, NULL, 0), 0);
    CHECK_EQ_INT(fault_http_header_count(x, FAULT_HTTP_RESPONSE), 0);
    fault_http_reply_body(x, &body, &len);
    CHECK_EQ_INT(len, 0);
    fault_http_exchange_free(x);
}

int main(void)
{
    test_request_line();
    test_headers();
    test_growth();
    test_respond();
    return check_done();
}
